//! [`EngineHealth`]: the `/healthz` probe over the AMI connection state, the last AMI event's
//! lag and the ingestor's progress.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::asterisk::ami::ConnectionState;
use crate::asterisk::events::EventHub;
use crate::asterisk::ingest::IngestProgress;
use crate::http::{HealthProbe, HealthReport};

/// [`HealthProbe`] over the live parts of the engine. The AMI side is attached once the first
/// connection exists (until then AMI counts as disconnected).
#[derive(Clone)]
pub struct EngineHealth {
    ami: Arc<Mutex<Option<watch::Receiver<ConnectionState>>>>,
    ingest: watch::Receiver<IngestProgress>,
    max_lag: Duration,
    /// The reader of AMI's events (their lag), once attached.
    events: Arc<Mutex<Option<EventHub>>>,
}

impl EngineHealth {
    /// A probe over the ingestor's progress; `max_lag` is the largest healthy ingestion lag.
    pub fn new(ingest: watch::Receiver<IngestProgress>, max_lag: Duration) -> Self {
        Self {
            ami: Arc::new(Mutex::new(None)),
            ingest,
            max_lag,
            events: Arc::new(Mutex::new(None)),
        }
    }

    /// Attaches the reader of AMI's events: the probe reports its last event's lag.
    pub fn attach_events(&self, hub: EventHub) {
        *self.events.lock().unwrap_or_else(PoisonError::into_inner) = Some(hub);
    }

    /// Attaches the AMI client's connection state.
    pub fn attach_ami(&self, state: watch::Receiver<ConnectionState>) {
        *self.ami.lock().unwrap_or_else(PoisonError::into_inner) = Some(state);
    }
}

impl HealthProbe for EngineHealth {
    fn report(&self) -> HealthReport {
        let state = self
            .ami
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|rx| *rx.borrow());
        let (ami_connected, ami_generation) = match state {
            Some(ConnectionState::Connected { generation }) => (true, generation),
            _ => (false, 0),
        };
        let progress = self.ingest.borrow();
        let ingest_lag_seconds = progress.last_complete_poll.map(|at| {
            SystemTime::now()
                .duration_since(at)
                .unwrap_or_default()
                .as_secs_f64()
        });
        HealthReport {
            ami_connected,
            ami_generation,
            ingest_lag_seconds,
            ingest_error: progress.last_error.clone(),
            event_lag_seconds: self
                .events
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .and_then(EventHub::event_lag)
                .map(|lag| lag.as_secs_f64()),
        }
    }

    fn max_lag(&self) -> Duration {
        self.max_lag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_holding_the_ami_slot_does_not_blind_the_health_probe() {
        let (_progress, ingest) = watch::channel(IngestProgress::default());
        let health = EngineHealth::new(ingest, Duration::from_secs(10));
        let (_state, rx) = watch::channel(ConnectionState::Connected { generation: 3 });
        health.attach_ami(rx);
        let h = health.clone();
        let panicked = std::thread::spawn(move || {
            let _slot = h.ami.lock().unwrap();
            panic!("a panic while holding the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(health.ami.is_poisoned());
        let report = health.report();
        assert!(report.ami_connected, "{report:?}");
        assert_eq!(report.ami_generation, 3);
        // And the slot can still be set.
        let (_state2, rx2) = watch::channel(ConnectionState::Connected { generation: 4 });
        health.attach_ami(rx2);
        assert_eq!(health.report().ami_generation, 4);
    }
}
