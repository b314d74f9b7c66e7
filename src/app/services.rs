//! [`Services`]: what the facades reach the core through, opened over the store named by the
//! configuration; [`PbxServices`], the part that exists once AMI is up.

use std::sync::{Arc, OnceLock, RwLock};

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
use crate::recording_media::MediaCodecs;
use crate::store::{
    SqliteActionJournal, SqliteAgentDigests, SqliteCampaigns, SqliteDirectory, SqliteHangupCauses,
    SqliteInstallKeys, SqliteJournalReader, SqliteRecordings, SqliteSessions, SqliteSms,
    StoreError,
};

/// The directory the facades read (agents, pause reasons, credentials).
pub type Directory = SqliteDirectory;

/// The agent service over the SQLite directory and AMI queue control.
pub type Agents = AgentService;

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
    /// Notified after every blacklist change (the PBX's inbound copy follows it).
    pub blacklist_changes: Arc<tokio::sync::Notify>,
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
            blacklist_changes: Arc::new(tokio::sync::Notify::new()),
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
