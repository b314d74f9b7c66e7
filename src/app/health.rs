//! [`EngineHealth`]: the `/healthz` probe over the AMI connection state, the last AMI event's
//! lag and the ingestor's progress.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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
    /// Lag of the last processed AMI event in microseconds; -1 before the first.
    event_lag_us: Arc<AtomicI64>,
}

impl EngineHealth {
    /// A probe over the ingestor's progress; `max_lag` is the largest healthy ingestion lag.
    pub fn new(ingest: watch::Receiver<IngestProgress>, max_lag: Duration) -> Self {
        Self {
            ami: Arc::new(Mutex::new(None)),
            ingest,
            max_lag,
            event_lag_us: Arc::new(AtomicI64::new(-1)),
        }
    }

    /// Notes that an AMI event with this `Timestamp` header (epoch seconds with microseconds,
    /// `timestampevents = yes` in manager.conf) was processed now.
    pub fn note_event(&self, timestamp: Option<&str>) {
        if let Some(lag) = timestamp.and_then(|t| event_lag(t, SystemTime::now())) {
            self.event_lag_us.store(
                lag.as_micros().min(i64::MAX as u128) as i64,
                Ordering::Relaxed,
            );
        }
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
            event_lag_seconds: match self.event_lag_us.load(Ordering::Relaxed) {
                us if us < 0 => None,
                us => Some(us as f64 / 1e6),
            },
        }
    }

    fn max_lag(&self) -> Duration {
        self.max_lag
    }
}

/// `now` minus an AMI `Timestamp` value; a timestamp from the future counts as no lag.
fn event_lag(timestamp: &str, now: SystemTime) -> Option<Duration> {
    let secs: f64 = timestamp.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs_f64(secs))?;
    Some(now.duration_since(at).unwrap_or_default())
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

    #[test]
    fn event_lag_from_ami_timestamps() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_312_520);
        let cases = [
            ("1795312517.500000", Some(Duration::from_millis(2500))),
            ("1795312520.000000", Some(Duration::ZERO)),
            ("1795312530.000000", Some(Duration::ZERO)),
            ("not a time", None),
            ("-5", None),
            ("", None),
        ];
        for (ts, want) in cases {
            let got = event_lag(ts, now);
            match (got, want) {
                (Some(g), Some(w)) => {
                    assert!(g.abs_diff(w) < Duration::from_millis(1), "{ts}: {g:?}")
                }
                (g, w) => assert_eq!(g, w, "{ts}"),
            }
        }
    }
}
