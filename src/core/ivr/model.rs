//! The flow model: a [`Flow`] is a graph of [`Node`]s, validated once ([`Flow::validate`]) so
//! the interpreter never meets a dangling reference, an unbounded text or a name Asterisk could
//! misread.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::core::directory::QueueName;

/// Most nodes in a flow.
pub const MAX_NODES: usize = 200;
/// Most characters of a prompt's text (before and after its variables are substituted).
pub const MAX_TEXT_CHARS: usize = 1000;
/// Most digits a gather collects, and the longest digit string a case names.
pub const MAX_DIGITS: u8 = 32;
/// Most cases of a gather or a branch, variables of a set node, parameters or results of a
/// lookup.
pub const MAX_ITEMS: usize = 64;
/// Most characters of a variable's value.
pub const MAX_VALUE_CHARS: usize = 256;
/// Most variables a call carries.
pub const MAX_VARIABLES: usize = 128;
/// Most retries of a gather.
pub const MAX_RETRIES: u8 = 10;
/// The shortest and the longest timeout of a gather or a lookup.
pub const TIMEOUT_RANGE_MS: (u32, u32) = (100, 60_000);
/// The most steps (nodes entered) a flow may allow one call.
pub const MAX_STEPS: u32 = 1000;
/// Steps per call when a flow names none.
pub const DEFAULT_STEPS: u32 = 200;
/// Most characters of a flow's name and description.
pub const MAX_NAME_CHARS: usize = 200;

/// Why a flow or one of its values was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// A value outside its alphabet or length.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// What the value is.
        what: &'static str,
        /// The value (cut to 64 characters).
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// A node names a node the flow does not have.
    #[error("node {from} names unknown node {to}")]
    UnknownNode {
        /// The node that names it.
        from: String,
        /// The missing node.
        to: String,
    },
    /// Two nodes have the same id.
    #[error("duplicate node {0}")]
    DuplicateNode(String),
    /// A bound is exceeded.
    #[error("too many {what} (at most {max})")]
    TooMany {
        /// What.
        what: &'static str,
        /// The bound.
        max: usize,
    },
}

fn invalid(what: &'static str, value: &str, reason: &'static str) -> FlowError {
    FlowError::Invalid {
        what,
        value: value.chars().take(64).collect(),
        reason,
    }
}

fn check_name(
    what: &'static str,
    value: &str,
    max: usize,
    ok: impl Fn(char) -> bool,
) -> Result<(), FlowError> {
    if value.is_empty() || value.len() > max {
        return Err(invalid(what, value, "empty or too long"));
    }
    if !value.chars().all(ok) {
        return Err(invalid(what, value, "character outside the alphabet"));
    }
    Ok(())
}

macro_rules! ivr_name {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, $ok:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates a value.
            pub fn new(value: impl Into<String>) -> Result<Self, FlowError> {
                let value = value.into();
                check_name($what, &value, $max, $ok)?;
                Ok(Self(value))
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

ivr_name!(
    /// A flow's id (USCall's `idura`). `[A-Za-z0-9_-]`, ≤ 32.
    FlowId, "flow id", 32, word_char
);
ivr_name!(
    /// A node's id, unique in its flow (USCall's `fluxo`). `[A-Za-z0-9_-]`, ≤ 32.
    NodeId, "node id", 32, word_char
);
ivr_name!(
    /// A call variable (`CTI_INFO1`). `[A-Za-z0-9_]`, ≤ 32; the same name a channel variable
    /// gets.
    VarName, "variable", 32, |c: char| c.is_ascii_alphanumeric() || c == '_'
);
ivr_name!(
    /// An operator-configured lookup backend (never a URL). `[a-z0-9_-]`, ≤ 32.
    BackendName, "backend", 32, |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
);
ivr_name!(
    /// A key/value list a branch asks about. `[A-Za-z0-9_-]`, ≤ 64.
    ListName, "list", 64, word_char
);
ivr_name!(
    /// A TTS voice or language (`pt-BR`, `es`, `en-us+f3`). `[A-Za-z0-9_+-]`, ≤ 32.
    Voice, "voice", 32, |c: char| word_char(c) || c == '+'
);
ivr_name!(
    /// A sound file Asterisk plays, without extension, relative to its sounds directory:
    /// `[A-Za-z0-9_-]` segments joined by `/` (no `..`, no leading `/`), ≤ 128.
    SoundName, "sound", 128, |c: char| word_char(c) || c == '/'
);
ivr_name!(
    /// A field of a lookup's answer or a parameter's name. `[A-Za-z0-9_.-]`, ≤ 64.
    FieldName, "field", 64, |c: char| word_char(c) || c == '.'
);

impl SoundName {
    fn check_segments(&self) -> Result<(), FlowError> {
        if self.0.split('/').any(str::is_empty) {
            return Err(invalid("sound", &self.0, "empty path segment"));
        }
        Ok(())
    }
}

/// A flow's kind (USCall's `tipo_fluxo`): digits, or speech once a recognizer is plugged in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowKind {
    /// Keypad digits.
    Dtmf,
    /// Speech.
    Voz,
}

impl FlowKind {
    /// `dtmf` or `voz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dtmf => "dtmf",
            Self::Voz => "voz",
        }
    }

    /// Reads `dtmf` or `voz`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "dtmf" => Some(Self::Dtmf),
            "voz" => Some(Self::Voz),
            _ => None,
        }
    }
}

/// What a prompt plays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Media {
    /// A sound file of the PBX.
    File(SoundName),
    /// Text for the TTS renderer, `{VARIABLE}` placeholders substituted at play time.
    Tts {
        /// The text (a template in a flow, substituted in a command).
        text: String,
        /// The voice; `None`: the renderer's default.
        voice: Option<Voice>,
    },
}

/// A prompt: what is played and whether a digit interrupts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// What is played.
    pub media: Media,
    /// A digit during the prompt stops it and counts as input.
    pub barge_in: bool,
}

/// A gather node's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gather {
    /// Played, and replayed on each retry.
    pub prompt: Prompt,
    /// Digits collected at most (1..=[`MAX_DIGITS`]).
    pub max_digits: u8,
    /// The key that ends the input early (`#` or `*`), not part of it.
    pub terminator: Option<char>,
    /// How long the first digit is waited for, once the prompt is over.
    pub first_digit_timeout_ms: u32,
    /// How long each next digit is waited for.
    pub inter_digit_timeout_ms: u32,
    /// How many times the prompt is replayed after a timeout or an invalid input.
    pub retries: u8,
    /// The input's destinations; empty: any input goes to `next`.
    pub cases: BTreeMap<String, NodeId>,
    /// Where any input goes when there are no cases.
    pub next: Option<NodeId>,
    /// The variable the input is kept in.
    pub store: Option<VarName>,
    /// Where a wrong input goes once the retries are spent.
    pub invalid: NodeId,
    /// Where silence goes once the retries are spent.
    pub timeout: NodeId,
}

/// What a branch node decides on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BranchOn {
    /// The last digits gathered.
    Digits,
    /// A variable's value.
    Var(VarName),
    /// Whether a variable's value is a key of a list (cases `yes` and `no`).
    List {
        /// The list.
        list: ListName,
        /// The variable holding the key.
        key: VarName,
    },
}

/// What a node does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// Plays a prompt, then goes on.
    Play {
        /// The prompt.
        prompt: Prompt,
        /// The next node.
        next: NodeId,
    },
    /// Plays a prompt and collects digits.
    Gather(Box<Gather>),
    /// Goes where a value says.
    Branch {
        /// What is compared.
        on: BranchOn,
        /// Value → node (for a list: `yes`, `no`).
        cases: BTreeMap<String, NodeId>,
        /// Where any other value goes.
        default: NodeId,
    },
    /// Asks a named backend; its answer's fields become variables.
    Http {
        /// The backend (configured by the operator).
        backend: BackendName,
        /// Parameter name → variable sent as its value.
        params: Vec<(FieldName, VarName)>,
        /// Answer field → variable it is kept in.
        results: Vec<(FieldName, VarName)>,
        /// How long the answer is waited for.
        timeout_ms: u32,
        /// Where the flow goes with the answer.
        next: NodeId,
        /// Where it goes without one (error or timeout).
        on_error: NodeId,
    },
    /// Sets variables (templates with `{VARIABLE}`), also as channel variables.
    Set {
        /// Variable → template.
        vars: Vec<(VarName, String)>,
        /// The next node.
        next: NodeId,
    },
    /// Leaves the flow into a queue.
    Queue {
        /// The queue.
        queue: QueueName,
    },
    /// Leaves the flow to an extension or a number (the runtime applies the outbound policy).
    Transfer {
        /// Digits, an optional leading `+`, 2..=20.
        target: String,
    },
    /// Hangs up.
    Hangup,
}

impl NodeKind {
    /// The kind's name (`play`, `gather`, ...), as the JSON form spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Play { .. } => "play",
            Self::Gather(_) => "gather",
            Self::Branch { .. } => "branch",
            Self::Http { .. } => "http",
            Self::Set { .. } => "set",
            Self::Queue { .. } => "queue",
            Self::Transfer { .. } => "transfer",
            Self::Hangup => "hangup",
        }
    }

    /// The nodes this one can go to.
    pub fn targets(&self) -> Vec<&NodeId> {
        match self {
            Self::Play { next, .. } | Self::Set { next, .. } => vec![next],
            Self::Gather(g) => g
                .cases
                .values()
                .chain(g.next.iter())
                .chain([&g.invalid, &g.timeout])
                .collect(),
            Self::Branch { cases, default, .. } => cases.values().chain([default]).collect(),
            Self::Http { next, on_error, .. } => vec![next, on_error],
            Self::Queue { .. } | Self::Transfer { .. } | Self::Hangup => vec![],
        }
    }
}

/// One node of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Its id, unique in the flow.
    pub id: NodeId,
    /// A description for people (USCall's `descricao` of a `fluxo`).
    pub description: String,
    /// What it does.
    pub kind: NodeKind,
}

/// A flow: a graph of nodes entered at `start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Its id.
    pub id: FlowId,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Digits or speech.
    pub kind: FlowKind,
    /// The first node.
    pub start: NodeId,
    /// The version (bumped by whoever edits it; shown, not interpreted).
    pub version: u32,
    /// Most nodes one call may enter ([`DEFAULT_STEPS`] unless set; ≤ [`MAX_STEPS`]).
    pub max_steps: u32,
    /// The nodes, in the order they were written.
    pub nodes: Vec<Node>,
}

/// Whether `s` is a transfer target: digits with an optional leading `+`, 2..=20 characters.
pub fn valid_transfer_target(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (2..=20).contains(&s.len()) && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is a digit string a gather can match: `0-9`, `*`, `#`, 1..=[`MAX_DIGITS`].
pub fn valid_digits(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= usize::from(MAX_DIGITS)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

fn check_text(what: &'static str, text: &str, max: usize) -> Result<(), FlowError> {
    if text.chars().count() > max {
        return Err(invalid(what, text, "too long"));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(what, text, "control characters"));
    }
    Ok(())
}

fn check_template(text: &str) -> Result<(), FlowError> {
    check_text("text", text, MAX_TEXT_CHARS)?;
    for name in placeholders(text) {
        VarName::new(name)?;
    }
    Ok(())
}

/// The `{NAME}` placeholders of a template (a `{` without a closing `}` is text).
pub fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

fn check_prompt(p: &Prompt) -> Result<(), FlowError> {
    match &p.media {
        Media::File(s) => s.check_segments(),
        Media::Tts { text, .. } => {
            if text.trim().is_empty() {
                return Err(invalid("text", text, "empty"));
            }
            check_template(text)
        }
    }
}

fn check_timeout(what: &'static str, ms: u32) -> Result<(), FlowError> {
    if (TIMEOUT_RANGE_MS.0..=TIMEOUT_RANGE_MS.1).contains(&ms) {
        Ok(())
    } else {
        Err(invalid(what, &ms.to_string(), "outside 100..=60000 ms"))
    }
}

fn bounded<T>(what: &'static str, items: &[T]) -> Result<(), FlowError> {
    if items.len() > MAX_ITEMS {
        return Err(FlowError::TooMany {
            what,
            max: MAX_ITEMS,
        });
    }
    Ok(())
}

impl Flow {
    /// The node `id`.
    pub fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.iter().find(|n| &n.id == id)
    }

    /// Checks every bound and reference: sizes, alphabets, timeouts, every node named exists,
    /// the start exists, the step bound.
    pub fn validate(&self) -> Result<(), FlowError> {
        check_text("name", &self.name, MAX_NAME_CHARS)?;
        if self.name.trim().is_empty() {
            return Err(invalid("name", &self.name, "empty"));
        }
        check_text("description", &self.description, MAX_NAME_CHARS)?;
        if self.nodes.len() > MAX_NODES {
            return Err(FlowError::TooMany {
                what: "nodes",
                max: MAX_NODES,
            });
        }
        if !(1..=MAX_STEPS).contains(&self.max_steps) {
            return Err(invalid(
                "max_steps",
                &self.max_steps.to_string(),
                "outside 1..=1000",
            ));
        }
        let mut ids = BTreeSet::new();
        for n in &self.nodes {
            if !ids.insert(&n.id) {
                return Err(FlowError::DuplicateNode(n.id.to_string()));
            }
        }
        if !ids.contains(&self.start) {
            return Err(FlowError::UnknownNode {
                from: "start".into(),
                to: self.start.to_string(),
            });
        }
        for n in &self.nodes {
            check_text("node description", &n.description, MAX_NAME_CHARS)?;
            for t in n.kind.targets() {
                if !ids.contains(t) {
                    return Err(FlowError::UnknownNode {
                        from: n.id.to_string(),
                        to: t.to_string(),
                    });
                }
            }
            self.check_node(&n.kind)?;
        }
        Ok(())
    }

    fn check_node(&self, kind: &NodeKind) -> Result<(), FlowError> {
        match kind {
            NodeKind::Play { prompt, .. } => check_prompt(prompt),
            NodeKind::Gather(g) => {
                check_prompt(&g.prompt)?;
                if g.max_digits == 0 || g.max_digits > MAX_DIGITS {
                    return Err(invalid(
                        "max_digits",
                        &g.max_digits.to_string(),
                        "outside 1..=32",
                    ));
                }
                if let Some(t) = g.terminator {
                    if t != '#' && t != '*' {
                        return Err(invalid("terminator", &t.to_string(), "use # or *"));
                    }
                }
                check_timeout("first_digit_timeout_ms", g.first_digit_timeout_ms)?;
                check_timeout("inter_digit_timeout_ms", g.inter_digit_timeout_ms)?;
                if g.retries > MAX_RETRIES {
                    return Err(invalid("retries", &g.retries.to_string(), "at most 10"));
                }
                bounded("cases", &g.cases.keys().collect::<Vec<_>>())?;
                for d in g.cases.keys() {
                    if !valid_digits(d) || d.len() > usize::from(g.max_digits) {
                        return Err(invalid("case", d, "digits 0-9 * #, at most max_digits"));
                    }
                }
                if g.cases.is_empty() == g.next.is_none() {
                    return Err(invalid(
                        "gather",
                        "",
                        "give either cases or next (any input)",
                    ));
                }
                Ok(())
            }
            NodeKind::Branch { on, cases, .. } => {
                bounded("cases", &cases.keys().collect::<Vec<_>>())?;
                for c in cases.keys() {
                    check_text("case", c, MAX_VALUE_CHARS)?;
                    if let BranchOn::List { .. } = on {
                        if c != "yes" && c != "no" {
                            return Err(invalid("case", c, "a list branch has yes and no"));
                        }
                    }
                }
                Ok(())
            }
            NodeKind::Http {
                params,
                results,
                timeout_ms,
                ..
            } => {
                bounded("params", params)?;
                bounded("results", results)?;
                check_timeout("timeout_ms", *timeout_ms)
            }
            NodeKind::Set { vars, .. } => {
                bounded("vars", vars)?;
                for (_, t) in vars {
                    check_template(t)?;
                }
                Ok(())
            }
            NodeKind::Queue { .. } | NodeKind::Hangup => Ok(()),
            NodeKind::Transfer { target } => {
                if valid_transfer_target(target) {
                    Ok(())
                } else {
                    Err(invalid(
                        "target",
                        target,
                        "digits, optional leading +, 2..=20",
                    ))
                }
            }
        }
    }
}

/// A gather's or a lookup's timeout as a duration.
pub fn millis(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}
