//! The JSON form of IVR flows: what `admin ivr add --file` reads, `admin ivr show` prints and
//! the store keeps. Unknown keys are refused; the text is bounded before it is parsed; a flow
//! read is validated ([`Flow::validate`]) before it is answered.
//!
//! ```json
//! {
//!   "id": "vendas", "name": "Vendas", "description": "Menu de vendas", "type": "dtmf",
//!   "start": "menu", "version": 1, "max_steps": 50,
//!   "nodes": [
//!     {"id": "menu", "kind": "gather", "description": "Menu principal",
//!      "prompt": {"tts": "Olá {CTI_INFO1}. Digite 1 para vendas, 2 para suporte.",
//!                 "voice": "pt-BR", "barge_in": true},
//!      "max_digits": 1, "terminator": "#", "first_digit_timeout_ms": 5000,
//!      "inter_digit_timeout_ms": 3000, "retries": 2,
//!      "cases": {"1": "vip", "2": "suporte"}, "invalid": "tchau", "timeout": "tchau"},
//!     {"id": "vip", "kind": "branch", "on": "list", "list": "vip", "var": "CALLERID",
//!      "cases": {"yes": "fila_vip"}, "default": "conta"},
//!     {"id": "conta", "kind": "http", "backend": "crm", "params": {"numero": "CALLERID"},
//!      "results": {"nome": "NOME"}, "timeout_ms": 2000, "next": "vendas", "on_error": "vendas"},
//!     {"id": "vendas", "kind": "queue", "queue": "q_ventas"},
//!     {"id": "fila_vip", "kind": "queue", "queue": "q_vip"},
//!     {"id": "suporte", "kind": "transfer", "target": "1005"},
//!     {"id": "tchau", "kind": "play", "prompt": {"file": "custom/tchau"}, "next": "fim"},
//!     {"id": "fim", "kind": "hangup"}
//!   ]
//! }
//! ```
//!
//! Defaults: `description` empty, `version` 1, `max_steps` 200, `barge_in` false, a gather's
//! `first_digit_timeout_ms` 5000, `inter_digit_timeout_ms` 3000, `retries` 2, a lookup's
//! `timeout_ms` 2000. A gather gives either `cases` (digits → node) or `next` (any input,
//! kept in `store` if named). A branch is `on` `digits` (the last input), `var` (the value of
//! `var`) or `list` (whether the value of `var` is a key of `list`: cases `yes`, `no`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::directory::QueueName;
use crate::core::ivr::model::DEFAULT_STEPS;
use crate::core::ivr::{
    BackendName, BranchOn, FieldName, Flow, FlowError, FlowId, FlowKind, Gather, ListName, Media,
    Node, NodeId, NodeKind, Prompt, SoundName, VarName, Voice,
};

/// The longest flow text read.
pub const MAX_JSON_BYTES: usize = 512 * 1024;

/// Why a flow's JSON was refused.
#[derive(Debug, thiserror::Error)]
pub enum FlowJsonError {
    /// Longer than [`MAX_JSON_BYTES`].
    #[error("flow text over {MAX_JSON_BYTES} bytes")]
    TooLong,
    /// Not the JSON form.
    #[error("flow JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// A value or reference is refused.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowJson {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "type")]
    kind: String,
    start: String,
    #[serde(default = "one")]
    version: u32,
    #[serde(default = "default_steps")]
    max_steps: u32,
    nodes: Vec<Value>,
}

fn one() -> u32 {
    1
}
fn default_steps() -> u32 {
    DEFAULT_STEPS
}
fn first_digit() -> u32 {
    5000
}
fn inter_digit() -> u32 {
    3000
}
fn two() -> u8 {
    2
}
fn lookup_timeout() -> u32 {
    2000
}
fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    voice: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    barge_in: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum KindJson {
    Play {
        prompt: PromptJson,
        next: String,
    },
    Gather {
        prompt: PromptJson,
        max_digits: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        terminator: Option<String>,
        #[serde(default = "first_digit")]
        first_digit_timeout_ms: u32,
        #[serde(default = "inter_digit")]
        inter_digit_timeout_ms: u32,
        #[serde(default = "two")]
        retries: u8,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        cases: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        store: Option<String>,
        invalid: String,
        timeout: String,
    },
    Branch {
        on: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        var: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list: Option<String>,
        #[serde(default)]
        cases: BTreeMap<String, String>,
        default: String,
    },
    Http {
        backend: String,
        #[serde(default)]
        params: BTreeMap<String, String>,
        #[serde(default)]
        results: BTreeMap<String, String>,
        #[serde(default = "lookup_timeout")]
        timeout_ms: u32,
        next: String,
        on_error: String,
    },
    Set {
        vars: BTreeMap<String, String>,
        next: String,
    },
    Queue {
        queue: String,
    },
    Transfer {
        target: String,
    },
    Hangup,
}

fn bad(what: &'static str, value: &str, reason: &'static str) -> FlowError {
    FlowError::Invalid {
        what,
        value: value.chars().take(64).collect(),
        reason,
    }
}

fn prompt_from(p: PromptJson) -> Result<Prompt, FlowError> {
    let media = match (p.file, p.tts) {
        (Some(f), None) => {
            if p.voice.is_some() {
                return Err(bad("prompt", &f, "a file prompt has no voice"));
            }
            Media::File(SoundName::new(f)?)
        }
        (None, Some(text)) => Media::Tts {
            text,
            voice: p.voice.map(Voice::new).transpose()?,
        },
        _ => return Err(bad("prompt", "", "give either file or tts")),
    };
    Ok(Prompt {
        media,
        barge_in: p.barge_in,
    })
}

fn prompt_to(p: &Prompt) -> PromptJson {
    let (file, tts, voice) = match &p.media {
        Media::File(f) => (Some(f.to_string()), None, None),
        Media::Tts { text, voice } => (
            None,
            Some(text.clone()),
            voice.as_ref().map(|v| v.to_string()),
        ),
    };
    PromptJson {
        file,
        tts,
        voice,
        barge_in: p.barge_in,
    }
}

fn node_ids(m: BTreeMap<String, String>) -> Result<BTreeMap<String, NodeId>, FlowError> {
    m.into_iter()
        .map(|(k, v)| Ok((k, NodeId::new(v)?)))
        .collect()
}

fn pairs<A, B>(
    m: BTreeMap<String, String>,
    a: impl Fn(String) -> Result<A, FlowError>,
    b: impl Fn(String) -> Result<B, FlowError>,
) -> Result<Vec<(A, B)>, FlowError> {
    m.into_iter().map(|(k, v)| Ok((a(k)?, b(v)?))).collect()
}

fn kind_from(k: KindJson) -> Result<NodeKind, FlowError> {
    Ok(match k {
        KindJson::Play { prompt, next } => NodeKind::Play {
            prompt: prompt_from(prompt)?,
            next: NodeId::new(next)?,
        },
        KindJson::Gather {
            prompt,
            max_digits,
            terminator,
            first_digit_timeout_ms,
            inter_digit_timeout_ms,
            retries,
            cases,
            next,
            store,
            invalid,
            timeout,
        } => {
            let terminator = match terminator.as_deref() {
                None | Some("") => None,
                Some(t) if t.chars().count() == 1 => t.chars().next(),
                Some(t) => return Err(bad("terminator", t, "one key")),
            };
            NodeKind::Gather(Box::new(Gather {
                prompt: prompt_from(prompt)?,
                max_digits,
                terminator,
                first_digit_timeout_ms,
                inter_digit_timeout_ms,
                retries,
                cases: node_ids(cases)?,
                next: next.map(NodeId::new).transpose()?,
                store: store.map(VarName::new).transpose()?,
                invalid: NodeId::new(invalid)?,
                timeout: NodeId::new(timeout)?,
            }))
        }
        KindJson::Branch {
            on,
            var,
            list,
            cases,
            default,
        } => {
            let on = match (on.as_str(), var, list) {
                ("digits", None, None) => BranchOn::Digits,
                ("var", Some(v), None) => BranchOn::Var(VarName::new(v)?),
                ("list", Some(v), Some(l)) => BranchOn::List {
                    list: ListName::new(l)?,
                    key: VarName::new(v)?,
                },
                _ => {
                    return Err(bad(
                        "on",
                        &on,
                        "digits; var with var; list with list and var",
                    ))
                }
            };
            NodeKind::Branch {
                on,
                cases: node_ids(cases)?,
                default: NodeId::new(default)?,
            }
        }
        KindJson::Http {
            backend,
            params,
            results,
            timeout_ms,
            next,
            on_error,
        } => NodeKind::Http {
            backend: BackendName::new(backend)?,
            params: pairs(params, FieldName::new, VarName::new)?,
            results: pairs(results, FieldName::new, VarName::new)?,
            timeout_ms,
            next: NodeId::new(next)?,
            on_error: NodeId::new(on_error)?,
        },
        KindJson::Set { vars, next } => NodeKind::Set {
            vars: pairs(vars, VarName::new, Ok)?,
            next: NodeId::new(next)?,
        },
        KindJson::Queue { queue } => NodeKind::Queue {
            queue: QueueName::new(queue.as_str())
                .map_err(|_| bad("queue", &queue, "letters, digits, _ and -, at most 64"))?,
        },
        KindJson::Transfer { target } => NodeKind::Transfer { target },
        KindJson::Hangup => NodeKind::Hangup,
    })
}

fn map<A: ToString, B: ToString>(v: &[(A, B)]) -> BTreeMap<String, String> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn kind_to(k: &NodeKind) -> KindJson {
    let ids = |m: &BTreeMap<String, NodeId>| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    match k {
        NodeKind::Play { prompt, next } => KindJson::Play {
            prompt: prompt_to(prompt),
            next: next.to_string(),
        },
        NodeKind::Gather(g) => KindJson::Gather {
            prompt: prompt_to(&g.prompt),
            max_digits: g.max_digits,
            terminator: g.terminator.map(String::from),
            first_digit_timeout_ms: g.first_digit_timeout_ms,
            inter_digit_timeout_ms: g.inter_digit_timeout_ms,
            retries: g.retries,
            cases: ids(&g.cases),
            next: g.next.as_ref().map(ToString::to_string),
            store: g.store.as_ref().map(ToString::to_string),
            invalid: g.invalid.to_string(),
            timeout: g.timeout.to_string(),
        },
        NodeKind::Branch { on, cases, default } => {
            let (on, var, list) = match on {
                BranchOn::Digits => ("digits", None, None),
                BranchOn::Var(v) => ("var", Some(v.to_string()), None),
                BranchOn::List { list, key } => {
                    ("list", Some(key.to_string()), Some(list.to_string()))
                }
            };
            KindJson::Branch {
                on: on.into(),
                var,
                list,
                cases: ids(cases),
                default: default.to_string(),
            }
        }
        NodeKind::Http {
            backend,
            params,
            results,
            timeout_ms,
            next,
            on_error,
        } => KindJson::Http {
            backend: backend.to_string(),
            params: map(params),
            results: map(results),
            timeout_ms: *timeout_ms,
            next: next.to_string(),
            on_error: on_error.to_string(),
        },
        NodeKind::Set { vars, next } => KindJson::Set {
            vars: map(vars),
            next: next.to_string(),
        },
        NodeKind::Queue { queue } => KindJson::Queue {
            queue: queue.to_string(),
        },
        NodeKind::Transfer { target } => KindJson::Transfer {
            target: target.clone(),
        },
        NodeKind::Hangup => KindJson::Hangup,
    }
}

fn node_from(v: Value) -> Result<Node, FlowJsonError> {
    let Value::Object(mut obj) = v else {
        return Err(bad("node", "", "a node is an object").into());
    };
    let id = match obj.remove("id") {
        Some(Value::String(s)) => NodeId::new(s)?,
        _ => return Err(bad("node", "", "a node needs a string id").into()),
    };
    let description = match obj.remove("description") {
        None => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad("description", id.as_str(), "a string").into()),
    };
    let kind: KindJson = serde_json::from_value(Value::Object(obj))?;
    Ok(Node {
        id,
        description,
        kind: kind_from(kind)?,
    })
}

/// Reads and validates a flow.
pub fn decode(text: &str) -> Result<Flow, FlowJsonError> {
    if text.len() > MAX_JSON_BYTES {
        return Err(FlowJsonError::TooLong);
    }
    let f: FlowJson = serde_json::from_str(text)?;
    if f.nodes.len() > crate::core::ivr::model::MAX_NODES {
        return Err(FlowError::TooMany {
            what: "nodes",
            max: crate::core::ivr::model::MAX_NODES,
        }
        .into());
    }
    let flow = Flow {
        id: FlowId::new(f.id)?,
        name: f.name,
        description: f.description,
        kind: FlowKind::parse(&f.kind).ok_or_else(|| bad("type", &f.kind, "dtmf or voz"))?,
        start: NodeId::new(f.start)?,
        version: f.version,
        max_steps: f.max_steps,
        nodes: f
            .nodes
            .into_iter()
            .map(node_from)
            .collect::<Result<_, _>>()?,
    };
    flow.validate()?;
    Ok(flow)
}

/// The JSON form of `flow` (pretty-printed; [`decode`] reads it back as the same flow).
pub fn encode(flow: &Flow) -> String {
    let nodes = flow
        .nodes
        .iter()
        .map(|n| {
            let mut v = serde_json::to_value(kind_to(&n.kind)).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                let mut out = serde_json::Map::new();
                out.insert("id".into(), Value::String(n.id.to_string()));
                if !n.description.is_empty() {
                    out.insert("description".into(), Value::String(n.description.clone()));
                }
                out.append(o);
                return Value::Object(out);
            }
            v
        })
        .collect();
    let f = FlowJson {
        id: flow.id.to_string(),
        name: flow.name.clone(),
        description: flow.description.clone(),
        kind: flow.kind.as_str().into(),
        start: flow.start.to_string(),
        version: flow.version,
        max_steps: flow.max_steps,
        nodes,
    };
    serde_json::to_string_pretty(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the module's documentation.
    pub(crate) const EXAMPLE: &str = include_str!("../docs/ivr_flow_example.json");

    #[test]
    fn the_documented_example_reads_and_round_trips() {
        let flow = decode(EXAMPLE).unwrap();
        assert_eq!(flow.nodes.len(), 8);
        assert_eq!(flow.kind, FlowKind::Dtmf);
        assert_eq!(decode(&encode(&flow)).unwrap(), flow);
    }

    #[test]
    fn refused_forms() {
        let base: Value = serde_json::from_str(EXAMPLE).unwrap();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = base.clone();
            f(&mut v);
            decode(&v.to_string()).map(|_| ())
        };
        // unknown key, unknown node, bad queue, URL as backend, sound with .., bad kind
        assert!(with(&|v| v["colour"] = "red".into()).is_err());
        assert!(with(&|v| v["nodes"][0]["colour"] = "red".into()).is_err());
        assert!(matches!(
            with(&|v| v["nodes"][0]["cases"]["1"] = "nowhere".into()),
            Err(FlowJsonError::Flow(FlowError::UnknownNode { .. }))
        ));
        assert!(with(&|v| v["nodes"][3]["queue"] = "q;x".into()).is_err());
        assert!(with(&|v| v["nodes"][2]["backend"] = "http://evil/".into()).is_err());
        assert!(with(&|v| v["nodes"][6]["prompt"]["file"] = "../../etc/passwd".into()).is_err());
        assert!(with(&|v| v["nodes"][6]["prompt"]["file"] = "a//b".into()).is_err());
        assert!(with(&|v| v["nodes"][5]["target"] = "1005&PJSIP/x".into()).is_err());
        assert!(with(&|v| v["type"] = "video".into()).is_err());
        assert!(with(&|v| v["start"] = "nope".into()).is_err());
        assert!(with(&|v| v["max_steps"] = 5000.into()).is_err());
        assert!(with(&|v| v["nodes"][0]["prompt"]["tts"] = "x".repeat(1001).into()).is_err());
        assert!(with(&|v| v["nodes"][0]["prompt"]["tts"] = "oi {BAD NAME}".into()).is_err());
        assert!(with(&|v| v["nodes"][0]["max_digits"] = 0.into()).is_err());
        assert!(with(&|v| v["nodes"][0]["first_digit_timeout_ms"] = 10.into()).is_err());
        assert!(decode(&" ".repeat(MAX_JSON_BYTES + 1)).is_err());
        assert!(with(&|_| {}).is_ok());
    }
}
