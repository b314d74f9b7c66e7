//! The IVR CDR: [`IvrRecord`], one journaled event of a call in a flow, keyed by the call's id
//! (`idunico`) and a sequence number that starts at 1 and grows by one per event. A replay of
//! the same call after a restart writes the same keys, which the store keeps once.

use std::fmt;

use super::model::{FlowError, FlowId, NodeId};
use super::session::{IvrEvent, RetryReason};
use crate::core::journal::UnixTime;

/// A call's id in the IVR CDR (Asterisk's uniqueid or the integrator's id):
/// `[A-Za-z0-9_.:-]`, 1..=64.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IvrCallId(String);

impl IvrCallId {
    /// Validates an id.
    pub fn new(s: &str) -> Result<Self, FlowError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(FlowError::Invalid {
                what: "call id",
                value: s.chars().take(64).collect(),
                reason: "letters, digits, _ . : -, at most 64",
            })
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IvrCallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is known of the call when it enters the flow (kept with each of its events).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IvrCallInfo {
    /// The DID it came in on (empty for an outbound call).
    pub ddr: String,
    /// The caller (or the number called, for an outbound call).
    pub origem: String,
    /// The trunk.
    pub tronco: String,
    /// The integrator's id (`idcti`), if any.
    pub idcti: String,
}

/// One event of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvrRecord {
    /// The call.
    pub call: IvrCallId,
    /// Its sequence number in the call (1, 2, ...).
    pub seq: u32,
    /// When.
    pub at: UnixTime,
    /// The flow.
    pub flow: FlowId,
    /// The node it happened at.
    pub node: Option<NodeId>,
    /// What: `entrada`, `saida`, `digitos`, `repeticao`, `consulta`, `lista`, `fim`.
    pub event: String,
    /// The digits the caller entered (`palavra_origem`).
    pub digits: String,
    /// The case they matched (`palavra_dest`).
    pub matched: String,
    /// Where the call went from here (a node, `fila:q`, `destino:n`).
    pub destination: String,
    /// The call's status once it left the flow (`fila`, `transferencia`, `desligada`,
    /// `abandono`, `limite`), empty before.
    pub status: String,
    /// More about it (node kind, retry reason, lookup answer).
    pub detail: String,
    /// The call.
    pub info: IvrCallInfo,
}

impl IvrRecord {
    /// The `seq`-th record of `call` in `flow`, at `at`, of the call `info`, with nothing else
    /// said yet (no node, event, digits, match, destination, status or detail).
    pub fn new(call: IvrCallId, seq: u32, at: UnixTime, flow: FlowId, info: IvrCallInfo) -> Self {
        Self {
            call,
            seq,
            at,
            flow,
            node: None,
            event: String::new(),
            digits: String::new(),
            matched: String::new(),
            destination: String::new(),
            status: String::new(),
            detail: String::new(),
            info,
        }
    }
}

/// The record of `event`, the `seq`-th of `call` in `flow`, at `at`.
pub fn record_of(
    call: &IvrCallId,
    seq: u32,
    at: UnixTime,
    flow: &FlowId,
    info: &IvrCallInfo,
    event: &IvrEvent,
) -> IvrRecord {
    let mut r = IvrRecord::new(call.clone(), seq, at, flow.clone(), info.clone());
    match event {
        IvrEvent::Entered { node, kind } => {
            r.node = Some(node.clone());
            r.event = "entrada".into();
            r.detail = (*kind).to_owned();
        }
        IvrEvent::Left { node, to } => {
            r.node = Some(node.clone());
            r.event = "saida".into();
            r.destination = to.to_string();
        }
        IvrEvent::Digits {
            node,
            digits,
            matched,
        } => {
            r.node = Some(node.clone());
            r.event = "digitos".into();
            r.digits.clone_from(digits);
            r.matched = matched.clone().unwrap_or_default();
            if matched.is_none() {
                r.detail = "invalido".into();
            }
        }
        IvrEvent::Retry {
            node,
            reason,
            attempt,
        } => {
            r.node = Some(node.clone());
            r.event = "repeticao".into();
            r.detail = format!(
                "{} {attempt}",
                match reason {
                    RetryReason::Timeout => "timeout",
                    RetryReason::Invalid => "invalido",
                }
            );
        }
        IvrEvent::Lookup {
            node,
            backend,
            ok,
            fields,
        } => {
            r.node = Some(node.clone());
            r.event = "consulta".into();
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            r.detail = format!(
                "{backend} {} {}",
                if *ok { "ok" } else { "erro" },
                fields.join("&")
            )
            .trim_end()
            .to_owned();
        }
        IvrEvent::ListChecked { node, list, member } => {
            r.node = Some(node.clone());
            r.event = "lista".into();
            r.detail = format!(
                "{list} {}",
                match member {
                    Some(true) => "sim",
                    Some(false) => "nao",
                    None => "erro",
                }
            );
        }
        IvrEvent::Finished { node, outcome } => {
            r.node = node.clone();
            r.event = "fim".into();
            r.destination = outcome.destination();
            r.status = outcome.status().to_owned();
        }
    }
    r
}
