//! The domain layer: identifiers as newtypes, small value types shared by every other layer, and
//! the journal of what happened (CDRs, queue activity) with its storage port.
//!
//! **Architecture Invariant:** nothing here knows a wire format (no serde, no AMI, no HTTP) nor a
//! storage engine (no rusqlite): adapters implement the ports declared here.

pub mod agent_digest;
pub mod agents;
pub mod audit;
pub mod call_checks;
pub mod call_commands;
pub mod call_summary;
pub mod call_workflow;
pub mod campaigns;
pub mod day_agent_figures;
pub mod day_figures;
pub mod dialer;
pub mod dialing;
pub mod directory;
pub mod expand_ws;
pub mod hangup_causes;
pub mod ids;
pub mod ivr;
pub mod journal;
pub mod lists;
pub mod live;
pub mod login_guard;
pub mod md5;
pub mod naming;
pub mod originate;
pub mod originate_service;
pub mod outbound_policy;
pub mod presence;
pub mod queue_details;
pub mod record_links;
pub mod recordings;
pub mod recordings_import;
pub mod reports;
pub mod secret;
pub mod session_tokens;
pub mod sessions;
pub mod sms;
pub mod throttle;
pub mod tts;
pub mod webhook_delivery;
pub mod webhooks;

pub use ids::{ActionId, ChannelName, UniqueId};
pub use journal::{
    AppendOutcome, CdrRecord, Disposition, FileId, Journal, JournalReader, JournalStore,
    LogPosition, QueueEvent, QueueLogRecord, SourceCursor, SourceId, TimeRange, UnixTime,
};
pub use secret::Secret;

/// The error of every port an adapter implements: the adapter's own error, boxed. The core
/// decides what a failure means for its callers (each service's error enum); the chain is for
/// logs, never for clients.
pub type PortError = Box<dyn std::error::Error + Send + Sync>;

/// Runs a blocking port call (the SQLite adapters block) on the runtime's blocking pool, so
/// core services expose async methods and no caller blocks a runtime thread. A panic in `f` is
/// a port error.
pub async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PortError> + Send + 'static,
) -> Result<T, PortError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| -> PortError { Box::new(e) })?
}

/// The future an async port method returns (ports are used as `Arc<dyn …>`).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// An error and its sources, joined with `: ` (for logs: one line, the whole cause).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
