//! The IVR: flows of nodes (play, gather, branch, lookup, set, queue, transfer, hang up) run
//! over one call at a time, and the IVR CDR, the journal of what each call did in its flow.
//!
//! - [`model`]: [`Flow`], its nodes and [`Flow::validate`] (every bound and reference).
//! - [`session`]: [`IvrSession`], the pure interpreter (inputs in, commands out).
//! - [`driver`]: [`run_flow`], the async loop that carries the commands out through the
//!   [`IvrCall`] port, runs the timers, asks [`IvrLookup`] and [`ListLookup`], and journals every
//!   event through [`IvrJournal`] before the next command is carried out. A runtime over ARI
//!   only implements [`IvrCall`] and feeds the call's inputs.
//! - [`backends`]: the operator's named lookup backends' settings and the rules their
//!   params and answers go through (the wire is `crate::ivr_http`'s).
//! - [`cdr`]: [`IvrRecord`], one journaled event with its call id and sequence number
//!   (unique together: a replay after a restart writes nothing twice).
//!
//! The JSON form of flows (import, export, storage) is the edge's: `crate::ivr_json`.
//!
//! **Architecture Invariant:** a lookup names a backend the operator configured
//! ([`BackendName`]), never a URL; nothing from a flow or a caller chooses where the engine
//! connects.

pub mod backends;
pub mod cdr;
pub mod driver;
pub mod model;
pub mod session;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::core::journal::TimeRange;
use crate::core::{off_runtime, BoxFuture, PortError};

pub use cdr::{record_of, IvrCallId, IvrCallInfo, IvrRecord};
pub use driver::{run_flow, CallStart, IvrPorts, RunError};
pub use model::{
    BackendName, BranchOn, FieldName, Flow, FlowError, FlowId, FlowKind, Gather, ListName, Media,
    Node, NodeId, NodeKind, Prompt, SoundName, VarName, Voice,
};
pub use session::{
    IvrCommand, IvrEvent, IvrInput, IvrSession, Outcome, PlayId, RequestId, RetryReason, TimerId,
};

use crate::core::directory::QueueName;

/// One call's side effects, as the runtime (ARI) carries them out.
pub trait IvrCall: Send + Sync {
    /// Starts playing `media`; the runtime later feeds `PromptFinished(id)`.
    fn play(
        &self,
        id: PlayId,
        media: &Media,
        barge_in: bool,
    ) -> BoxFuture<'_, Result<(), PortError>>;
    /// Stops the prompt playing.
    fn stop_playback(&self) -> BoxFuture<'_, Result<(), PortError>>;
    /// Sets a channel variable.
    fn set_var(&self, name: &VarName, value: &str) -> BoxFuture<'_, Result<(), PortError>>;
    /// Sends the call into a queue.
    fn queue(&self, queue: &QueueName) -> BoxFuture<'_, Result<(), PortError>>;
    /// Transfers the call to an extension or number (the runtime checks the outbound policy).
    fn transfer(&self, target: &str) -> BoxFuture<'_, Result<(), PortError>>;
    /// Hangs up.
    fn hangup(&self) -> BoxFuture<'_, Result<(), PortError>>;
}

/// The operator's named lookup backends.
pub trait IvrLookup: Send + Sync {
    /// Asks `backend` with `params`; answers the fields of its answer.
    fn lookup(
        &self,
        backend: &BackendName,
        params: &[(String, String)],
    ) -> BoxFuture<'_, Result<Vec<(String, String)>, PortError>>;
}

/// Key/value lists a branch asks about (e.g. a VIP list).
pub trait ListLookup: Send + Sync {
    /// Whether `key` is a key of `list`.
    fn contains(&self, list: &ListName, key: &str) -> BoxFuture<'_, Result<bool, PortError>>;
}

/// Where IVR events are journaled: writing the same (call, seq) again changes nothing.
pub trait IvrJournal: Send + Sync {
    /// Writes `record` durably (ignored when its call and seq are already there).
    fn record(&self, record: &IvrRecord) -> Result<(), PortError>;
}

/// What an IVR CDR query selects.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Events in this interval.
    pub range: Option<TimeRange>,
    /// Events of calls in this flow.
    pub flow: Option<FlowId>,
    /// The events of one call.
    pub call: Option<IvrCallId>,
    /// Most events answered.
    pub limit: usize,
}

/// Flows, DID routes and the IVR CDR, stored.
pub trait IvrStore: IvrJournal {
    /// Creates or replaces a flow (validated by the caller).
    fn put_flow(&self, flow: &Flow) -> Result<(), PortError>;
    /// The flow `id`.
    fn flow(&self, id: &FlowId) -> Result<Option<Flow>, PortError>;
    /// Every flow, by id.
    fn flows(&self) -> Result<Vec<Flow>, PortError>;
    /// Removes a flow and its routes; whether it existed.
    fn remove_flow(&self, id: &FlowId) -> Result<bool, PortError>;
    /// Routes calls to `did` to `flow`.
    fn set_route(&self, did: &Did, flow: &FlowId) -> Result<(), PortError>;
    /// Every route (DID, flow), by DID.
    fn routes(&self) -> Result<Vec<(Did, FlowId)>, PortError>;
    /// Journaled events, by time then call and sequence.
    fn events(&self, filter: &EventFilter) -> Result<Vec<IvrRecord>, PortError>;
}

/// A DID routed to a flow: digits with an optional leading `+`, 2..=20.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Did(String);

impl Did {
    /// Validates a DID.
    pub fn new(s: &str) -> Result<Self, FlowError> {
        if model::valid_transfer_target(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(FlowError::Invalid {
                what: "did",
                value: s.chars().take(64).collect(),
                reason: "digits, optional leading +, 2..=20",
            })
        }
    }

    /// The DID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why an IVR store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IvrError {
    /// The flow is invalid.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// A route names a flow that does not exist.
    #[error("unknown flow {0}")]
    UnknownFlow(FlowId),
    /// The store failed.
    #[error("store")]
    Store(#[source] PortError),
}

/// The IVR's stored data for the APIs: async over the blocking store.
#[derive(Clone)]
pub struct IvrService {
    store: Arc<dyn IvrStore>,
}

impl IvrService {
    /// The service over `store`.
    pub fn new(store: Arc<dyn IvrStore>) -> Self {
        Self { store }
    }

    /// The store (for the runtime's journal and the admin commands).
    pub fn store(&self) -> &Arc<dyn IvrStore> {
        &self.store
    }

    /// Validates and stores a flow.
    pub async fn put_flow(&self, flow: Flow) -> Result<(), IvrError> {
        flow.validate()?;
        let s = self.store.clone();
        off_runtime(move || s.put_flow(&flow))
            .await
            .map_err(IvrError::Store)
    }

    /// The flow `id`.
    pub async fn flow(&self, id: FlowId) -> Result<Option<Flow>, IvrError> {
        let s = self.store.clone();
        off_runtime(move || s.flow(&id))
            .await
            .map_err(IvrError::Store)
    }

    /// Every flow.
    pub async fn flows(&self) -> Result<Vec<Flow>, IvrError> {
        let s = self.store.clone();
        off_runtime(move || s.flows())
            .await
            .map_err(IvrError::Store)
    }

    /// Journaled events.
    pub async fn events(&self, filter: EventFilter) -> Result<Vec<IvrRecord>, IvrError> {
        let s = self.store.clone();
        off_runtime(move || s.events(&filter))
            .await
            .map_err(IvrError::Store)
    }
}
