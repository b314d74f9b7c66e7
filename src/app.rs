//! Explicit wiring of the running engine's parts that more than one task reads: the health
//! probe over the AMI connection state and the ingestor's progress, and [`Services`], what the
//! facades reach the core through.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::asterisk::ami::ConnectionState;
use crate::asterisk::ingest::IngestProgress;
use crate::asterisk::queue_control::AmiQueueControl;
use crate::config::Config;
use crate::core::agents::AgentService;
use crate::core::audit::ActionJournal;
use crate::core::call_commands::CallCommands;
use crate::core::campaigns::CampaignStore;
use crate::core::hangup_causes::HangupCauseStore;
use crate::core::live::LiveState;
use crate::core::login_guard::{self, LoginGuard};
use crate::core::originate_service::OriginateService;
use crate::core::record_links::RecordLinks;
use crate::core::recordings::RecordingsService;
use crate::core::sms::SmsGateway;
use crate::core::JournalReader;
use crate::facades::client_addr::Network;
use crate::http::{HealthProbe, HealthReport};
use crate::recording_media::MediaCodecs;
use crate::store::{
    SqliteActionJournal, SqliteAgentDigests, SqliteCampaigns, SqliteDirectory, SqliteHangupCauses,
    SqliteInstallKeys, SqliteJournalReader, SqliteRecordings, SqliteSessions, SqliteSms,
    StoreError,
};

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

/// The directory the facades read (agents, pause reasons, credentials).
pub type Directory = SqliteDirectory;

/// The agent service over the SQLite directory and AMI queue control.
pub type Agents = AgentService<SqliteDirectory, AmiQueueControl>;

/// The services that need the PBX; they exist once AMI has connected for the first time (the
/// client reconnects by itself after that).
#[derive(Clone)]
pub struct PbxServices {
    /// Originate jobs.
    pub originate: OriginateService,
    /// Agent login, logout, pause, unpause.
    pub agents: Agents,
    /// Live state (agents, queues, endpoints), rebuilt after every reconnect.
    pub live: Arc<RwLock<LiveState>>,
    /// Hang up, spy, send messages.
    pub commands: Arc<dyn CallCommands>,
}

/// What the facades reach the core through. Built at start from the configuration; the PBX
/// part is attached once AMI is up ([`Services::pbx`] is `None` until then, and the facades
/// answer their vendor's "not available" code).
pub struct Services {
    /// The configuration the engine runs with.
    pub config: Arc<Config>,
    /// Agents, pause reasons, API credentials.
    pub directory: Arc<SqliteDirectory>,
    /// Reads of the journal of CDRs and queue activity (a pool of read connections beside
    /// the ingestor's writer).
    pub journal: Arc<dyn JournalReader>,
    /// The recordings catalogue and its media.
    pub recordings: RecordingsService,
    /// The journal of the engine's own actions.
    pub actions: Arc<dyn ActionJournal>,
    /// Campaign data: the blacklist, the calls placed for campaigns, dispositions.
    pub campaigns: Arc<dyn CampaignStore>,
    /// Hashes of the MD5 digests of agents' passwords (USCall's agentLogin).
    pub agent_digests: Arc<SqliteAgentDigests>,
    /// Text messages (SMS) sent for API clients.
    pub sms: Arc<SqliteSms>,
    /// The HTTP SMS provider, when `[expand] sms_gateway_url` is set.
    pub sms_http: Option<Arc<dyn SmsGateway>>,
    /// API sessions (uContact's getUserToken), by token hash.
    pub sessions: Arc<SqliteSessions>,
    /// Every password, digest and key check: the throttle (`[auth]`) and the bounded hashing
    /// pool.
    pub logins: Arc<LoginGuard>,
    /// The reverse proxies whose `X-Forwarded-For` names the client (`[http] trusted_proxies`).
    pub trusted_proxies: Vec<Network>,
    /// Signed, expiring links to recordings (the install's key, kept in the store).
    pub record_links: RecordLinks,
    /// Why channels ended (AMI `Hangup` causes), by uniqueid.
    pub hangup_causes: Arc<dyn HangupCauseStore>,
    pbx: OnceLock<PbxServices>,
}

impl Services {
    /// Opens the stores named by `config`.
    pub fn open(config: Arc<Config>) -> Result<Self, StoreError> {
        let path = &config.store.path;
        let node = config.primary_node();
        let recordings = RecordingsService::new(
            Arc::new(SqliteRecordings::open(path)?),
            Arc::new(MediaCodecs),
            &node.recordings_dir,
            config.recordings.cache_dir_for(&node.recordings_dir),
        );
        Ok(Self {
            directory: Arc::new(SqliteDirectory::open(path)?),
            journal: Arc::new(SqliteJournalReader::open(
                path,
                config.store.read_connections,
            )?),
            recordings,
            actions: Arc::new(SqliteActionJournal::open(path)?),
            campaigns: Arc::new(SqliteCampaigns::open(path)?),
            agent_digests: Arc::new(SqliteAgentDigests::open(path)?),
            sms: Arc::new(SqliteSms::open(path)?),
            sms_http: config.expand.sms_http_gateway().map(|g| Arc::new(g) as _),
            sessions: Arc::new(SqliteSessions::open(path)?),
            logins: Arc::new(LoginGuard::new(
                config.auth.throttle(),
                login_guard::default_permits(),
            )),
            trusted_proxies: config.http.proxies(),
            record_links: RecordLinks::new(
                SqliteInstallKeys::open(path)?.record_links_key()?,
                std::time::Duration::from_secs(config.ucontact.record_link_seconds),
            ),
            hangup_causes: Arc::new(SqliteHangupCauses::open(path)?),
            pbx: OnceLock::new(),
            config,
        })
    }

    /// Attaches the PBX services (once; later calls are ignored).
    pub fn attach_pbx(&self, pbx: PbxServices) {
        let _ = self.pbx.set(pbx);
    }

    /// The PBX services, once AMI has connected.
    pub fn pbx(&self) -> Option<&PbxServices> {
        self.pbx.get()
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
