//! Records the Q.850 cause of every channel's `Hangup` event through the core's
//! [`HangupCauseStore`] port (the CDR has no cause; getrecords' `causecode` reads these). Causes
//! of channels that ended while the engine was not connected are not known.
//!
//! The recorder reads the [`EventHub`]'s subscription of its own that carries only the events
//! with a hangup cause ([`EventHub::subscribe_causes`], the cause drawn once by the hub), so
//! floods of other events cannot overrun it. It keeps reading while the store writes: the
//! causes read meanwhile wait in memory (at most [`MAX_PENDING`]) and go to the store in one
//! `causes_put` (one transaction) as soon as the write before them is done. A cause is lost
//! only when more than [`MAX_PENDING`] are waiting for a store that is down or slower than the
//! hangup rate, or when the recorder's task (or the hub's) is not scheduled for as long as a
//! channel's worth of events take to arrive (both counted in a warning), and a batch the store
//! refuses is lost with its error logged. Past hangups cannot be asked of Asterisk, so lost
//! causes stay unknown.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::core::hangup_causes::{HangupCause, HangupCauseStore};
use crate::core::UnixTime;

use super::events::EventHub;

/// Most causes waiting in memory for the store (a few MiB); beyond it new ones are dropped.
pub const MAX_PENDING: usize = 100_000;

type Write = JoinHandle<Result<(), crate::core::PortError>>;

/// Records the causes of every `Hangup` event `hub` reads, until its events end (then the
/// last causes are written and the task ends).
pub fn spawn_recorder(hub: &EventHub, store: Arc<dyn HangupCauseStore>) -> JoinHandle<()> {
    let mut events = hub.subscribe_causes();
    tokio::spawn(async move {
        let mut pending: Vec<HangupCause> = Vec::new();
        let mut writing: Option<Write> = None;
        let mut open = true;
        let mut dropped = 0u64;
        loop {
            if writing.is_none() && !pending.is_empty() {
                if dropped > 0 {
                    warn!(
                        lost = dropped,
                        waiting = MAX_PENDING,
                        "hangup causes lost: the store is behind"
                    );
                    dropped = 0;
                }
                let batch = std::mem::take(&mut pending);
                let store = store.clone();
                writing = Some(tokio::task::spawn_blocking(move || {
                    store.causes_put(&batch, UnixTime::now())
                }));
            }
            if !open && writing.is_none() {
                return;
            }
            tokio::select! {
                event = events.recv(), if open => match event {
                    Ok(e) => {
                        let Some(cause) = e.facts.cause.clone() else { continue };
                        if pending.len() < MAX_PENDING {
                            pending.push(cause);
                        } else {
                            dropped += 1;
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        warn!(lost = n, "hangup causes lost: recorder lagged");
                    }
                    Err(RecvError::Closed) => open = false,
                },
                written = async { writing.as_mut().expect("guarded").await }, if writing.is_some() => {
                    writing = None;
                    match written {
                        Ok(Ok(())) => debug!("hangup causes stored"),
                        Ok(Err(e)) => warn!(error = %e, "hangup causes not stored"),
                        Err(e) => warn!(error = %e, "hangup cause task failed"),
                    }
                }
            }
        }
    })
}
