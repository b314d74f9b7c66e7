//! Explicit wiring of the running engine's parts that more than one task reads: today the health
//! probe over the AMI connection state and the ingestor's progress.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::asterisk::ami::ConnectionState;
use crate::asterisk::ingest::IngestProgress;
use crate::http::{HealthProbe, HealthReport};

/// [`HealthProbe`] over the live parts of the engine. The AMI side is attached once the first
/// connection exists (until then AMI counts as disconnected).
#[derive(Clone)]
pub struct EngineHealth {
    ami: Arc<Mutex<Option<watch::Receiver<ConnectionState>>>>,
    ingest: watch::Receiver<IngestProgress>,
    max_lag: Duration,
}

impl EngineHealth {
    /// A probe over the ingestor's progress; `max_lag` is the largest healthy ingestion lag.
    pub fn new(ingest: watch::Receiver<IngestProgress>, max_lag: Duration) -> Self {
        Self {
            ami: Arc::new(Mutex::new(None)),
            ingest,
            max_lag,
        }
    }

    /// Attaches the AMI client's connection state.
    pub fn attach_ami(&self, state: watch::Receiver<ConnectionState>) {
        if let Ok(mut slot) = self.ami.lock() {
            *slot = Some(state);
        }
    }
}

impl HealthProbe for EngineHealth {
    fn report(&self) -> HealthReport {
        let state = self
            .ami
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(|rx| *rx.borrow()));
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
        }
    }

    fn max_lag(&self) -> Duration {
        self.max_lag
    }
}
