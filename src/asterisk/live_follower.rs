//! The live follower: a task that keeps a shared [`LiveState`] equal to what Asterisk reports.
//!
//! It reads the [`EventHub`]'s events and folds their live facts (drawn once by the hub, see
//! [`event_facts`](super::event_facts)) into the hub's live state; device states are the hub's
//! own to apply. On start, on every new connection generation and whenever events were missed
//! (it or the hub lagged), it rebuilds the state from a snapshot ([`QueueControl::snapshot`]),
//! keeping the device states the hub applied in stream order, so changes made while it was not
//! listening (a reconnect, a burst) are never lost. After a lag the snapshot is read only once
//! the backlog has been applied: right after `Lagged` the receivers hold a full channel, and the
//! snapshot's own list events (which fan out like any event) would overrun them again, each
//! rebuild setting off the next.
//!
//! Events queued while a snapshot is read are applied after it; most facts are idempotent, but
//! a call completed exactly during the snapshot may be counted twice in that queue's counters.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::core::agents::QueueControl;
use crate::core::live::{LiveState, SharedLive};

use super::ami::ConnectionState;
use super::events::{EventHub, EventReceiver};

/// The handle of a running follower.
#[derive(Debug)]
pub struct LiveFollower {
    live: Arc<SharedLive>,
    resyncs: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl LiveFollower {
    /// Starts following `hub`'s events into its live state ([`EventHub::live`]), resyncing
    /// through `queues`.
    pub fn spawn<Q>(hub: &EventHub, queues: Q) -> Self
    where
        Q: QueueControl + 'static,
    {
        let (resync_tx, resyncs) = watch::channel(0);
        let live = hub.live();
        let events = hub.subscribe();
        let task = tokio::spawn(run(
            hub.client().connection_events(),
            events,
            queues,
            live.clone(),
            resync_tx,
        ));
        Self {
            live,
            resyncs,
            task,
        }
    }

    /// The state it keeps.
    pub fn live(&self) -> Arc<SharedLive> {
        self.live.clone()
    }

    /// A copy of the current state.
    pub fn state(&self) -> LiveState {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Counts completed resyncs (from snapshots); changes after each one.
    pub fn resyncs(&self) -> watch::Receiver<u64> {
        self.resyncs.clone()
    }

    /// Waits until at least `n` resyncs completed, up to `within`; `false` on timeout.
    pub async fn wait_resyncs(&self, n: u64, within: Duration) -> bool {
        let mut rx = self.resyncs.clone();
        tokio::time::timeout(within, rx.wait_for(|v| *v >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stops the task.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for LiveFollower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn resync<Q: QueueControl>(
    queues: &Q,
    live: &SharedLive,
    resyncs: &watch::Sender<u64>,
) -> bool {
    match queues.snapshot().await {
        Ok(snapshot) => {
            live.update(|s| s.reset_from_snapshot_keeping_device_states(&snapshot));
            resyncs.send_modify(|n| *n += 1);
            info!("live state rebuilt from snapshot");
            true
        }
        Err(e) => {
            warn!(error = %e, "live state snapshot failed");
            false
        }
    }
}

async fn run<Q: QueueControl>(
    mut state: watch::Receiver<ConnectionState>,
    mut events: EventReceiver,
    queues: Q,
    live: Arc<SharedLive>,
    resyncs: watch::Sender<u64>,
) {
    let mut synced_generation = None;
    let mut need_resync = true;
    loop {
        // Not behind a backlog (see the module doc).
        if need_resync && events.is_empty() {
            let current = *state.borrow_and_update();
            if let ConnectionState::Connected { generation } = current {
                if resync(&queues, &live, &resyncs).await {
                    synced_generation = Some(generation);
                    need_resync = false;
                }
            }
        }
        let retry = tokio::time::sleep(Duration::from_secs(1));
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let facts = &event.facts.live;
                    if !facts.is_empty() {
                        live.update(|s| {
                            for fact in facts {
                                debug!(?fact, "live fact");
                                s.apply(fact.clone());
                            }
                        });
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    warn!(missed = n, "live follower lagged; resyncing");
                    need_resync = true;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            changed = state.changed() => {
                if changed.is_err() {
                    break;
                }
                match *state.borrow() {
                    ConnectionState::Connected { generation }
                        if Some(generation) != synced_generation => need_resync = true,
                    ConnectionState::Closed => break,
                    _ => {}
                }
            }
            _ = retry, if need_resync => {}
        }
    }
    debug!("live follower ended");
}
