//! The engine's configuration file (TOML): parsing, defaults and validation.
//!
//! Unknown keys are errors (`deny_unknown_fields`), so a typo never silently falls back to a
//! default. Secrets are held in [`Secret`] and never printed (`Debug` shows `***`).
//!
//! Asterisk-side settings live per node (`[[node]]`): today exactly one node is accepted; the list
//! shape lets a second one be added later without reshaping the file.
//!
//! ```toml
//! [engine]
//! timezone = "America/Montevideo"     # required: the call center's IANA time zone
//!
//! [store]                             # optional section
//! path = "centralita.db"              # default: the engine's SQLite file (relative: to the cwd)
//! read_connections = 4                # default; read connections of reports (1-64)
//!
//! [[node]]                            # exactly one, today
//! name = "pbx1"                       # required: [A-Za-z0-9_-], 1-32
//! cdr_db = "/var/log/asterisk/master.db"          # default; CDRs (cdr_sqlite3_custom), read-only
//! queue_log = "/var/log/asterisk/queue_log"       # default; queue activity
//! recordings_dir = "/var/spool/asterisk/monitor"  # default; where MixMonitor writes
//! poll_interval_ms = 500                          # default; ingestion period (10-60000)
//! queues_conf = "/etc/asterisk/queues.conf"       # default; read for the queues' wrap-up times
//!
//! [node.ami]
//! host = "127.0.0.1"                  # required
//! port = 5038                         # default 5038
//! username = "centralita"             # required: manager.conf user
//! secret = "..."                      # required: manager.conf secret; never logged
//!
//! [node.ari]                          # optional; lists every PJSIP endpoint for the live state
//! url = "http://127.0.0.1:8088/ari"   # required in the section: http:// base URL of ARI
//! username = "centralita"             # required: ari.conf user
//! secret = "..."                      # required: ari.conf password; never logged
//!
//! [agi]                               # optional section: the FastAGI server the dialplan asks
//! bind = "127.0.0.1:4573"             # default; the address to-queue's AGI() calls (4573: FastAGI's)
//! max_connections = 64                # default; more at once are closed unanswered (1-4096)
//!
//! [originate]                         # optional section: originate jobs
//! retention_seconds = 86400           # default; finished jobs stay answerable (60-31536000)
//! default_ring_timeout_seconds = 30   # default; ring timeout of a request that sets none (1-600)
//! context = "centralita-originate"    # default; dialplan context originated calls enter
//!
//! [outbound]                          # optional section: the outbound policy (toll fraud)
//! national = ["_NXXXXXX", "_NXXXXXXX", "_0ZXXXXXXX"]  # default; what every credential may dial
//! internal = ["_1XXX"]                # default; the PBX's extensions, allowed for everyone
//! international_prefixes = ["00", "+"]  # default; refused unless an allow list admits them
//! premium_prefixes = ["0900"]         # default; refused unless an allow list admits them
//! calls_per_minute = 30               # default; per credential, any 60 s (1-100000)
//! max_concurrent = 10                 # default; per credential, calls in flight (1-100000)
//! # [[outbound.credential]] principal = "<id|system|user>", api, allow, calls_per_minute, max_concurrent
//! # [[outbound.campaign]]   name = "<campaign>", allow = [...]
//!
//! [recordings]                        # optional section: recordings
//! policy = "always"                   # default; "always" | "per_queue" | "per_job"
//! queues = []                         # default; per_queue: the queues whose calls are recorded
//! cache_dir = "<recordings_dir>/.cache"   # default; transcoded copies (MP3, Ogg, WAV 8 kHz)
//!
//! [http]                              # optional section: the HTTP server
//! bind = "127.0.0.1:8080"             # default; listen address
//! body_limit_bytes = 1048576          # default; larger request bodies get 413 (1024-67108864)
//! max_ingest_lag_seconds = 10         # default; /healthz says "degraded" past this lag
//! header_read_timeout_seconds = 10    # default; headers not complete by then: closed (1-300)
//! body_read_timeout_seconds = 30      # default; body not whole by then: refused, closed (1-3600)
//! max_concurrent_requests = 512       # default; more at once get 503 Retry-After (1-65536)
//! trusted_proxies = []                # default; proxies whose X-Forwarded-For is believed
//!
//! [auth]                              # optional section: throttled authentication
//! max_failures_per_principal = 5      # default; failures of a user/agent/key that lock it out
//! max_failures_per_address = 50       # default; failures from one client address that lock it
//! window_seconds = 300                # default; the sliding window failures count in
//! lockout_seconds = 60                # default; first lock-out; each next one doubles
//! max_lockout_seconds = 3600          # default; the longest lock-out
//!
//! [agents]                            # optional section
//! non_agent_extensions = []           # default; phones agents may never log in from
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::asterisk::ami::AmiSettings;
use crate::asterisk::ingest::IngestSettings;
use crate::core::Secret;

/// Asterisk's default AMI port.
pub const DEFAULT_AMI_PORT: u16 = 5038;

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Engine-wide settings (the call center's time zone). Required.
    pub engine: EngineConfig,
    /// The engine's own store. Optional; every field has a default.
    #[serde(default)]
    pub store: StoreConfig,
    /// The Asterisk nodes the engine drives (`[[node]]`). Exactly one today.
    #[serde(default)]
    pub node: Vec<NodeConfig>,
    /// Originate jobs. Optional; every field has a default.
    #[serde(default)]
    pub originate: OriginateConfig,
    /// The outbound policy against toll fraud. Optional; every field has a default.
    #[serde(default)]
    pub outbound: OutboundConfig,
    /// The HTTP server (health today, the facades later). Optional; every field has a default.
    #[serde(default)]
    pub http: HttpConfig,
    /// The FastAGI server the dialplan asks (the inbound blacklist). Optional; every field has
    /// a default.
    #[serde(default)]
    pub agi: AgiConfig,
    /// Recordings: which calls are recorded, where transcodings are cached. Optional.
    #[serde(default)]
    pub recordings: RecordingsConfig,
    /// The eXpand SOAP facade. Optional.
    #[serde(default)]
    pub expand: crate::facades::expand::config::ExpandConfig,
    /// The USCall SOAP facade. Optional.
    #[serde(default)]
    pub uscall: crate::facades::uscall::config::UscallConfig,
    /// The uContact REST facade. Optional.
    #[serde(default)]
    pub ucontact: crate::facades::ucontact::config::UcontactConfig,
    /// Throttling of authentication (logins and API keys of every facade). Optional.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Which extensions may be agents' phones. Optional.
    #[serde(default)]
    pub agents: AgentsConfig,
}

/// The `[auth]` section: failed logins and keys are counted per principal (user, agent, key
/// id) and per client address; reaching a limit within the window locks that one out, each
/// further lock-out within the window lasting twice as long up to `max_lockout_seconds`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Failures of one user, agent or key within the window that lock it out. Default 5;
    /// 1 to 1000000.
    #[serde(default = "default_max_failures_per_principal")]
    pub max_failures_per_principal: u32,
    /// Failures from one client address within the window that lock it out. Default 50;
    /// 1 to 1000000.
    #[serde(default = "default_max_failures_per_address")]
    pub max_failures_per_address: u32,
    /// The sliding window failures are counted in, seconds. Default 300; 1 to 86400.
    #[serde(default = "default_auth_window")]
    pub window_seconds: u64,
    /// The first lock-out, seconds. Default 60; 1 to 86400.
    #[serde(default = "default_lockout")]
    pub lockout_seconds: u64,
    /// The longest lock-out, seconds. Default 3600; `lockout_seconds` to 604800.
    #[serde(default = "default_max_lockout")]
    pub max_lockout_seconds: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            max_failures_per_principal: default_max_failures_per_principal(),
            max_failures_per_address: default_max_failures_per_address(),
            window_seconds: default_auth_window(),
            lockout_seconds: default_lockout(),
            max_lockout_seconds: default_max_lockout(),
        }
    }
}

impl AuthConfig {
    /// The throttle's settings.
    pub fn throttle(&self) -> crate::core::throttle::ThrottleSettings {
        crate::core::throttle::ThrottleSettings {
            max_failures_per_principal: self.max_failures_per_principal,
            max_failures_per_address: self.max_failures_per_address,
            window: Duration::from_secs(self.window_seconds),
            lockout: Duration::from_secs(self.lockout_seconds),
            max_lockout: Duration::from_secs(self.max_lockout_seconds),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=1_000_000).contains(&self.max_failures_per_principal) {
            return invalid("auth.max_failures_per_principal", "must be 1-1000000");
        }
        if !(1..=1_000_000).contains(&self.max_failures_per_address) {
            return invalid("auth.max_failures_per_address", "must be 1-1000000");
        }
        if !(1..=86_400).contains(&self.window_seconds) {
            return invalid("auth.window_seconds", "must be 1-86400");
        }
        if !(1..=86_400).contains(&self.lockout_seconds) {
            return invalid("auth.lockout_seconds", "must be 1-86400");
        }
        if !(self.lockout_seconds..=604_800).contains(&self.max_lockout_seconds) {
            return invalid("auth.max_lockout_seconds", "must be lockout_seconds-604800");
        }
        Ok(())
    }
}

fn default_max_failures_per_principal() -> u32 {
    5
}

fn default_max_failures_per_address() -> u32 {
    50
}

fn default_auth_window() -> u64 {
    300
}

fn default_lockout() -> u64 {
    60
}

fn default_max_lockout() -> u64 {
    3600
}

/// The `[agi]` section: the FastAGI server. It runs when `[ucontact]` configures campaigns
/// (their inbound blacklist is what `to-queue` asks it).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgiConfig {
    /// Address and port to listen on: the one `to-queue`'s `AGI(agi://...)` names in
    /// `extensions.conf`. Default `127.0.0.1:4573` (loopback, FastAGI's port).
    #[serde(default = "default_agi_bind")]
    pub bind: std::net::SocketAddr,
    /// Connections served at once; one more is closed unanswered (the call goes on). Default
    /// 64; 1 to 4096.
    #[serde(default = "default_agi_max_connections")]
    pub max_connections: usize,
}

impl Default for AgiConfig {
    fn default() -> Self {
        Self {
            bind: default_agi_bind(),
            max_connections: default_agi_max_connections(),
        }
    }
}

impl AgiConfig {
    /// The server's settings.
    pub fn settings(&self) -> crate::asterisk::fastagi::FastAgiSettings {
        crate::asterisk::fastagi::FastAgiSettings {
            max_connections: self.max_connections,
            ..Default::default()
        }
    }
}

fn default_agi_bind() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 4573))
}

fn default_agi_max_connections() -> usize {
    64
}

/// The `[agents]` section.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsConfig {
    /// Extensions that are phones of the PBX but never agents' phones (a supervisor's phone, a
    /// lobby phone): agent logins from them are refused. Default none.
    #[serde(default)]
    pub non_agent_extensions: Vec<String>,
}

impl AgentsConfig {
    /// The extensions, parsed (validation guarantees they parse).
    pub fn non_agent(&self) -> Vec<crate::core::directory::Extension> {
        self.non_agent_extensions
            .iter()
            .filter_map(|e| crate::core::directory::Extension::new(e.as_str()).ok())
            .collect()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.non_agent_extensions.len() > 10_000
            || self
                .non_agent_extensions
                .iter()
                .any(|e| crate::core::directory::Extension::new(e.as_str()).is_err())
        {
            return invalid(
                "agents.non_agent_extensions",
                "each must be an extension ([A-Za-z0-9_-], up to 32), at most 10000",
            );
        }
        Ok(())
    }
}

/// Which calls are recorded (see `asterisk-config/README.md`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RecordingPolicyName {
    /// Every outbound (also originated) and queue call.
    #[default]
    Always,
    /// Calls of the listed queues; outbound calls only when their originate job asks.
    PerQueue,
    /// Only calls whose originate job asks.
    PerJob,
}

/// The `[recordings]` section.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingsConfig {
    /// Default `always`.
    #[serde(default)]
    pub policy: RecordingPolicyName,
    /// For `per_queue`: the queues whose calls are recorded (`[A-Za-z0-9_-]`). Default none.
    #[serde(default)]
    pub queues: Vec<String>,
    /// Where transcoded copies are cached. Default `<recordings_dir>/.cache`.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
}

impl RecordingsConfig {
    /// The policy as the core knows it.
    pub fn policy(&self) -> crate::core::recordings::RecordingPolicy {
        use crate::core::recordings::RecordingPolicy;
        match self.policy {
            RecordingPolicyName::Always => RecordingPolicy::Always,
            RecordingPolicyName::PerQueue => RecordingPolicy::PerQueue(self.queues.clone()),
            RecordingPolicyName::PerJob => RecordingPolicy::PerJob,
        }
    }

    /// The transcoding cache of a node whose recordings are in `recordings_dir`.
    pub fn cache_dir_for(&self, recordings_dir: &Path) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| recordings_dir.join(".cache"))
    }
}

/// The `[engine]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// The call center's time zone, an IANA name (`America/Montevideo`). Required: the vendor
    /// APIs render times in it. Checked against the system's time zone database.
    pub timezone: String,
}

impl EngineConfig {
    /// The configured time zone (validated at load; UTC only if the database lost it since).
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

/// One `[[node]]`: an Asterisk server and the files it writes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's name (`[A-Za-z0-9_-]`, 1-32), e.g. `pbx1`. Required.
    pub name: String,
    /// How to reach its manager interface. Required.
    pub ami: AmiConfig,
    /// How to reach its REST interface. Optional: with it, the live state lists every PJSIP
    /// endpoint (`GET /endpoints/PJSIP`), reachable or not; without it, the endpoints Asterisk
    /// holds a device state for.
    #[serde(default)]
    pub ari: Option<AriConfig>,
    /// Its CDR database (`cdr_sqlite3_custom`), opened read-only. Default
    /// `/var/log/asterisk/master.db`.
    #[serde(default = "default_cdr_db")]
    pub cdr_db: PathBuf,
    /// Its queue log. Default `/var/log/asterisk/queue_log`.
    #[serde(default = "default_queue_log")]
    pub queue_log: PathBuf,
    /// Where its recordings are written (MixMonitor). Default `/var/spool/asterisk/monitor`.
    #[serde(default = "default_recordings_dir")]
    pub recordings_dir: PathBuf,
    /// Milliseconds between ingestion polls (an AMI `Cdr` event also triggers one). Default 500;
    /// 10 to 60000.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Its `queues.conf`, read (never written) for the queues' wrap-up times, which AMI tells
    /// only with the `config` class. Default `/etc/asterisk/queues.conf`; unreadable: wrap-up
    /// times unknown.
    #[serde(default = "default_queues_conf")]
    pub queues_conf: PathBuf,
}

impl NodeConfig {
    /// The queue port and live-state snapshot over `client`, with this node's ARI (the list of
    /// endpoints) and `queues.conf` (wrap-up times).
    pub fn queue_control(
        &self,
        client: crate::asterisk::ami::AmiClient,
    ) -> crate::asterisk::queue_control::AmiQueueControl {
        crate::asterisk::queue_control::AmiQueueControl::new(client)
            .with_ari(self.ari.as_ref().and_then(|a| {
                crate::asterisk::ari::AriClient::new(&a.url, &a.username, a.secret.clone())
            }))
            .with_queues_conf(&self.queues_conf)
    }

    /// Ingestion settings with this node's values and the ingestor's other defaults.
    pub fn ingest_settings(&self) -> IngestSettings {
        let mut s = IngestSettings::new(&self.cdr_db, &self.queue_log);
        s.poll_interval = Duration::from_millis(self.poll_interval_ms);
        s
    }
}

/// The `[http]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address and port to listen on. Default `127.0.0.1:8080` (loopback: put a TLS proxy in
    /// front of any other address).
    #[serde(default = "default_http_bind")]
    pub bind: std::net::SocketAddr,
    /// Largest request body accepted, in bytes; larger ones get 413. Default 1048576 (1 MiB);
    /// 1024 to 67108864.
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    /// `/healthz` reports "degraded" when ingestion has not drained its sources for longer
    /// than this. Default 10 seconds.
    #[serde(default = "default_max_ingest_lag")]
    pub max_ingest_lag_seconds: u64,
    /// Seconds a connection may take to send a request's headers (also idle between keep-alive
    /// requests) before it is closed. Default 10; 1 to 300.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_seconds: u64,
    /// Seconds a request's body may take to arrive, from the end of its headers; past it the
    /// request is refused (400) and the connection closed. Default 30; 1 to 3600.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_seconds: u64,
    /// Most requests handled at once; more get 503 with `Retry-After: 1` at once. Default 512;
    /// 1 to 65536.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` is believed: the
    /// client of a request is its TCP peer, unless that peer is one of these, then the
    /// right-most address of `X-Forwarded-For` that is not. Default none.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

impl HttpConfig {
    /// The trusted proxies, parsed (validation guarantees they parse).
    pub fn proxies(&self) -> Vec<crate::facades::client_addr::Network> {
        self.trusted_proxies
            .iter()
            .filter_map(|s| crate::facades::client_addr::Network::parse(s))
            .collect()
    }

    /// The server's limits.
    pub fn limits(&self) -> crate::http::HttpLimits {
        crate::http::HttpLimits {
            body_limit: self.body_limit_bytes,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_seconds),
            body_read_timeout: Duration::from_secs(self.body_read_timeout_seconds),
            max_concurrent_requests: self.max_concurrent_requests,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: default_http_bind(),
            body_limit_bytes: default_body_limit(),
            max_ingest_lag_seconds: default_max_ingest_lag(),
            header_read_timeout_seconds: default_header_read_timeout(),
            body_read_timeout_seconds: default_body_read_timeout(),
            max_concurrent_requests: default_max_concurrent_requests(),
            trusted_proxies: Vec::new(),
        }
    }
}

fn default_http_bind() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_body_limit() -> usize {
    1 << 20
}

fn default_max_ingest_lag() -> u64 {
    10
}

fn default_header_read_timeout() -> u64 {
    10
}

fn default_body_read_timeout() -> u64 {
    30
}

fn default_max_concurrent_requests() -> usize {
    512
}

/// The `[store]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite file holding the journal. Default `centralita.db` (relative paths are relative
    /// to the working directory). Created and migrated on start.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// Most read connections reports and lookups use at once (beside the ingestor's writer;
    /// WAL lets them run side by side). Default 4; 1 to 64.
    #[serde(default = "default_read_connections")]
    pub read_connections: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: default_store_path(),
            read_connections: default_read_connections(),
        }
    }
}

fn default_read_connections() -> usize {
    crate::store::read_pool::DEFAULT_READ_CONNECTIONS
}

fn default_store_path() -> PathBuf {
    PathBuf::from("centralita.db")
}

fn default_cdr_db() -> PathBuf {
    PathBuf::from("/var/log/asterisk/master.db")
}

fn default_queue_log() -> PathBuf {
    PathBuf::from("/var/log/asterisk/queue_log")
}

fn default_queues_conf() -> PathBuf {
    PathBuf::from("/etc/asterisk/queues.conf")
}

fn default_recordings_dir() -> PathBuf {
    PathBuf::from("/var/spool/asterisk/monitor")
}

/// The `[originate]` section: originate jobs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginateConfig {
    /// Seconds a finished job stays answerable before it is purged. Default 86400 (24 h);
    /// 60 to 31536000.
    #[serde(default = "default_retention_seconds")]
    pub retention_seconds: u64,
    /// Ring timeout of a request that sets none, in seconds. Default 30; 1 to 600.
    #[serde(default = "default_ring_timeout_seconds")]
    pub default_ring_timeout_seconds: u64,
    /// The dialplan context originated calls enter (`[A-Za-z0-9_-]`). Default
    /// `centralita-originate` (see `asterisk-config/extensions.conf`).
    #[serde(default = "default_originate_context")]
    pub context: String,
}

impl Default for OriginateConfig {
    fn default() -> Self {
        Self {
            retention_seconds: default_retention_seconds(),
            default_ring_timeout_seconds: default_ring_timeout_seconds(),
            context: default_originate_context(),
        }
    }
}

impl OriginateConfig {
    /// Service settings with this section's values and the service's other defaults.
    pub fn service_settings(&self) -> crate::core::originate_service::OriginateSettings {
        crate::core::originate_service::OriginateSettings {
            retention: Duration::from_secs(self.retention_seconds),
            default_ring_timeout: Duration::from_secs(self.default_ring_timeout_seconds),
            ..Default::default()
        }
    }
}

/// The `[outbound]` section: the outbound policy every originate job must pass
/// ([`crate::core::outbound_policy`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// Patterns of the numbers every credential may dial. Default `["_NXXXXXX", "_NXXXXXXX",
    /// "_0ZXXXXXXX"]`.
    #[serde(default = "default_national")]
    pub national: Vec<String>,
    /// Patterns of the PBX's own extensions, allowed for everyone. Default `["_1XXX"]`.
    #[serde(default = "default_internal")]
    pub internal: Vec<String>,
    /// Prefixes of international numbers, refused unless an allow list admits them. Default
    /// `["00", "+"]`.
    #[serde(default = "default_international")]
    pub international_prefixes: Vec<String>,
    /// Prefixes of premium-rate numbers, refused unless an allow list admits them. Default
    /// `["0900"]`.
    #[serde(default = "default_premium")]
    pub premium_prefixes: Vec<String>,
    /// Calls a credential may start in any 60 s. Default 30; 1-100000.
    #[serde(default = "default_calls_per_minute")]
    pub calls_per_minute: u32,
    /// Calls a credential may have in flight. Default 10; 1-100000.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
    /// Per-credential overrides (`[[outbound.credential]]`). Default none.
    #[serde(default)]
    pub credential: Vec<OutboundCredentialConfig>,
    /// Per-campaign allow lists (`[[outbound.campaign]]`). Default none.
    #[serde(default)]
    pub campaign: Vec<OutboundCampaignConfig>,
}

/// One `[[outbound.credential]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundCredentialConfig {
    /// The credential id, its system name, or a uContact user name. Required.
    pub principal: String,
    /// Only for this API: `expand`, `uscall` or `ucontact`. Default: any.
    #[serde(default)]
    pub api: Option<String>,
    /// Patterns it may dial, replacing `national`. Default: `national`.
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    /// Its calls per minute. Default: `outbound.calls_per_minute`.
    #[serde(default)]
    pub calls_per_minute: Option<u32>,
    /// Its calls in flight. Default: `outbound.max_concurrent`.
    #[serde(default)]
    pub max_concurrent: Option<u32>,
}

/// One `[[outbound.campaign]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundCampaignConfig {
    /// The campaign's name (uContact `outqueue`). Required.
    pub name: String,
    /// Patterns its calls may dial, replacing the credential's and `national`. Required.
    pub allow: Vec<String>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            national: default_national(),
            internal: default_internal(),
            international_prefixes: default_international(),
            premium_prefixes: default_premium(),
            calls_per_minute: default_calls_per_minute(),
            max_concurrent: default_max_concurrent(),
            credential: Vec::new(),
            campaign: Vec::new(),
        }
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn default_national() -> Vec<String> {
    strings(crate::core::outbound_policy::DEFAULT_NATIONAL)
}

fn default_internal() -> Vec<String> {
    strings(crate::core::outbound_policy::DEFAULT_INTERNAL)
}

fn default_international() -> Vec<String> {
    strings(crate::core::outbound_policy::DEFAULT_INTERNATIONAL)
}

fn default_premium() -> Vec<String> {
    strings(crate::core::outbound_policy::DEFAULT_PREMIUM)
}

fn default_calls_per_minute() -> u32 {
    crate::core::outbound_policy::OutboundLimits::DEFAULT.calls_per_minute
}

fn default_max_concurrent() -> u32 {
    crate::core::outbound_policy::OutboundLimits::DEFAULT.max_concurrent
}

impl OutboundConfig {
    /// The policy, or the key that makes it unusable and why.
    pub fn policy(
        &self,
    ) -> Result<crate::core::outbound_policy::OutboundPolicy, (&'static str, &'static str)> {
        use crate::core::outbound_policy::{
            parse_patterns, parse_prefix, CampaignRule, CredentialRule, OutboundLimits,
            OutboundPolicy, MAX_LIMIT,
        };
        const PATTERN: &str =
            "each must be a dialing pattern (digits, + * #, X Z N, [sets], final . or !)";
        const PREFIX: &str = "each must be 1-16 digits, optionally after a leading +";
        const LIMIT: &str = "must be 1-100000";
        let limit_ok = |l: u32| (1..=MAX_LIMIT).contains(&l);
        let national =
            parse_patterns(&self.national).map_err(|_| ("outbound.national", PATTERN))?;
        let internal =
            parse_patterns(&self.internal).map_err(|_| ("outbound.internal", PATTERN))?;
        for p in &self.international_prefixes {
            parse_prefix(p).map_err(|_| ("outbound.international_prefixes", PREFIX))?;
        }
        for p in &self.premium_prefixes {
            parse_prefix(p).map_err(|_| ("outbound.premium_prefixes", PREFIX))?;
        }
        if !limit_ok(self.calls_per_minute) {
            return Err(("outbound.calls_per_minute", LIMIT));
        }
        if !limit_ok(self.max_concurrent) {
            return Err(("outbound.max_concurrent", LIMIT));
        }
        let mut credentials = Vec::new();
        for c in &self.credential {
            if c.principal.is_empty() || c.principal.chars().count() > 128 {
                return Err(("outbound.credential.principal", "must be 1-128 characters"));
            }
            if let Some(api) = &c.api {
                if !matches!(api.as_str(), "expand" | "uscall" | "ucontact") {
                    return Err((
                        "outbound.credential.api",
                        "must be expand, uscall or ucontact",
                    ));
                }
            }
            if c.calls_per_minute.is_some_and(|l| !limit_ok(l)) {
                return Err(("outbound.credential.calls_per_minute", LIMIT));
            }
            if c.max_concurrent.is_some_and(|l| !limit_ok(l)) {
                return Err(("outbound.credential.max_concurrent", LIMIT));
            }
            let allow = c
                .allow
                .as_deref()
                .map(parse_patterns)
                .transpose()
                .map_err(|_| ("outbound.credential.allow", PATTERN))?;
            credentials.push(CredentialRule {
                principal: c.principal.clone(),
                api: c.api.clone(),
                allow,
                calls_per_minute: c.calls_per_minute,
                max_concurrent: c.max_concurrent,
            });
        }
        let mut campaigns = Vec::new();
        for c in &self.campaign {
            if c.name.is_empty() || c.name.chars().count() > 128 {
                return Err(("outbound.campaign.name", "must be 1-128 characters"));
            }
            let allow =
                parse_patterns(&c.allow).map_err(|_| ("outbound.campaign.allow", PATTERN))?;
            campaigns.push(CampaignRule {
                campaign: c.name.clone(),
                allow,
            });
        }
        OutboundPolicy::new(
            national,
            internal,
            self.international_prefixes.clone(),
            self.premium_prefixes.clone(),
            OutboundLimits {
                calls_per_minute: self.calls_per_minute,
                max_concurrent: self.max_concurrent,
            },
            credentials,
            campaigns,
        )
        .map_err(|_| ("outbound", "invalid outbound policy"))
    }
}

fn default_retention_seconds() -> u64 {
    86_400
}

fn default_ring_timeout_seconds() -> u64 {
    30
}

fn default_originate_context() -> String {
    crate::asterisk::call_control::DEFAULT_CONTEXT.to_owned()
}

fn default_poll_interval_ms() -> u64 {
    500
}

/// A node's `[node.ami]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmiConfig {
    /// Asterisk host name or address. Required.
    pub host: String,
    /// AMI TCP port. Default 5038.
    #[serde(default = "default_ami_port")]
    pub port: u16,
    /// `manager.conf` user. Required.
    pub username: String,
    /// `manager.conf` secret. Required; never logged.
    #[serde(deserialize_with = "deserialize_secret")]
    pub secret: Secret,
}

/// A node's `[node.ari]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AriConfig {
    /// ARI's base URL, `http://` (e.g. `http://127.0.0.1:8088/ari`). Required.
    pub url: String,
    /// `ari.conf` user. Required.
    pub username: String,
    /// `ari.conf` password. Required; never logged.
    #[serde(deserialize_with = "deserialize_secret")]
    pub secret: Secret,
}

fn default_ami_port() -> u16 {
    DEFAULT_AMI_PORT
}

fn deserialize_secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
    String::deserialize(deserializer).map(Secret::new)
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The path tried.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown / missing keys.
    #[error("invalid config: {0}")]
    Parse(#[from] toml::de::Error),
    /// A value is present but unusable.
    #[error("invalid config value `{field}`: {reason}")]
    Invalid {
        /// The dotted key, e.g. `node.ami.host`.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

fn invalid(field: &'static str, reason: &'static str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid { field, reason })
}

/// One non-empty line: no CR, LF or NUL (values that end up in AMI or HTTP headers).
fn one_line(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Whether `name` is an IANA time zone name the system's database knows. Absolute paths,
/// `..` and POSIX TZ strings are refused: only names.
pub fn is_iana_zone(name: &str) -> bool {
    let shaped = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('/')
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        });
    shaped && jiff::tz::TimeZone::get(name).is_ok()
}

impl Config {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses and validates configuration text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// The originate service's settings: `[originate]` and the `[outbound]` policy
    /// (validation guarantees the policy is usable).
    pub fn originate_settings(&self) -> crate::core::originate_service::OriginateSettings {
        let mut settings = self.originate.service_settings();
        if let Ok(policy) = self.outbound.policy() {
            settings.policy = std::sync::Arc::new(policy);
        }
        settings
    }

    /// The node the engine drives (validation guarantees exactly one).
    pub fn primary_node(&self) -> &NodeConfig {
        &self.node[0]
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !is_iana_zone(&self.engine.timezone) {
            return invalid(
                "engine.timezone",
                "must be an IANA time zone name known to the system (e.g. America/Montevideo)",
            );
        }
        match self.node.len() {
            0 => return invalid("node", "one [[node]] is required"),
            1 => {}
            _ => return invalid("node", "only one node is supported yet"),
        }
        for node in &self.node {
            node.validate()?;
        }
        if !(1024..=64 << 20).contains(&self.http.body_limit_bytes) {
            return invalid("http.body_limit_bytes", "must be 1024-67108864");
        }
        if self.http.max_ingest_lag_seconds == 0 {
            return invalid("http.max_ingest_lag_seconds", "must be at least 1");
        }
        if !(1..=300).contains(&self.http.header_read_timeout_seconds) {
            return invalid("http.header_read_timeout_seconds", "must be 1-300");
        }
        if !(1..=3600).contains(&self.http.body_read_timeout_seconds) {
            return invalid("http.body_read_timeout_seconds", "must be 1-3600");
        }
        if !(1..=65_536).contains(&self.http.max_concurrent_requests) {
            return invalid("http.max_concurrent_requests", "must be 1-65536");
        }
        if !(1..=4096).contains(&self.agi.max_connections) {
            return invalid("agi.max_connections", "must be 1-4096");
        }
        if self.http.trusted_proxies.len() > 1000
            || self
                .http
                .trusted_proxies
                .iter()
                .any(|n| crate::facades::client_addr::Network::parse(n).is_none())
        {
            return invalid(
                "http.trusted_proxies",
                "each must be an address or address/prefix, at most 1000",
            );
        }
        self.auth.validate()?;
        self.agents.validate()?;
        self.expand
            .validate()
            .map_err(|(field, reason)| ConfigError::Invalid { field, reason })?;
        if self.store.path.as_os_str().is_empty() {
            return invalid("store.path", "must not be empty");
        }
        if !(1..=64).contains(&self.store.read_connections) {
            return invalid("store.read_connections", "must be 1-64");
        }
        let o = &self.originate;
        if !(60..=31_536_000).contains(&o.retention_seconds) {
            return invalid("originate.retention_seconds", "must be 60-31536000");
        }
        if !(1..=600).contains(&o.default_ring_timeout_seconds) {
            return invalid("originate.default_ring_timeout_seconds", "must be 1-600");
        }
        if o.context.is_empty()
            || o.context.len() > 80
            || !o
                .context
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return invalid("originate.context", "must be 1-80 of [A-Za-z0-9_-]");
        }
        if let Err((field, reason)) = self.outbound.policy() {
            return invalid(field, reason);
        }
        let r = &self.recordings;
        if r.queues.iter().any(|q| {
            q.is_empty()
                || q.len() > 80
                || !q
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }) {
            return invalid("recordings.queues", "each must be 1-80 of [A-Za-z0-9_-]");
        }
        if !r.queues.is_empty() && r.policy != RecordingPolicyName::PerQueue {
            return invalid("recordings.queues", "only with policy = \"per_queue\"");
        }
        if r.cache_dir
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return invalid("recordings.cache_dir", "must not be empty");
        }
        if let Err((field, reason)) = self.ucontact.validate() {
            return invalid(field, reason);
        }
        self.uscall.validate()?;
        Ok(())
    }
}

impl NodeConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty()
            || self.name.len() > 32
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return invalid("node.name", "must be 1-32 of [A-Za-z0-9_-]");
        }
        let ami = &self.ami;
        if ami.host.trim().is_empty() || !one_line(&ami.host) {
            return invalid("node.ami.host", "must not be empty");
        }
        if ami.port == 0 {
            return invalid("node.ami.port", "must be 1-65535");
        }
        if !one_line(&ami.username) {
            return invalid("node.ami.username", "must be one non-empty line");
        }
        if !one_line(ami.secret.expose()) {
            return invalid("node.ami.secret", "must be one non-empty line");
        }
        if let Some(ari) = &self.ari {
            let base = crate::http_client::HttpUrl::parse(&ari.url);
            if base.and_then(|b| b.join("/endpoints/PJSIP")).is_none() {
                return invalid(
                    "node.ari.url",
                    "must be an http:// URL (ARI on the PBX's loopback or private network)",
                );
            }
            if !one_line(&ari.username) || ari.username.contains(':') {
                return invalid(
                    "node.ari.username",
                    "must be one non-empty line without ':'",
                );
            }
            if !one_line(ari.secret.expose()) {
                return invalid("node.ari.secret", "must be one non-empty line");
            }
        }
        let no_path = |p: &Path| p.as_os_str().is_empty();
        if no_path(&self.cdr_db) {
            return invalid("node.cdr_db", "must not be empty");
        }
        if no_path(&self.queue_log) {
            return invalid("node.queue_log", "must not be empty");
        }
        if no_path(&self.queues_conf) {
            return invalid("node.queues_conf", "must not be empty");
        }
        if no_path(&self.recordings_dir) {
            return invalid("node.recordings_dir", "must not be empty");
        }
        if !(10..=60_000).contains(&self.poll_interval_ms) {
            return invalid("node.poll_interval_ms", "must be 10-60000");
        }
        Ok(())
    }
}

impl AmiConfig {
    /// Client settings with this section's values and the client's default timings.
    pub fn settings(&self) -> AmiSettings {
        AmiSettings::new(
            self.host.clone(),
            self.port,
            self.username.clone(),
            self.secret.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal valid file: `node_keys` go into the `[[node]]` table, `rest` after it.
    fn text(node_keys: &str, rest: &str) -> String {
        format!(
            "[engine]\ntimezone = \"America/Montevideo\"\n\n[[node]]\nname = \"pbx1\"\n{node_keys}\n\
             [node.ami]\nhost = \"10.0.0.5\"\nusername = \"centralita\"\nsecret = \"hunter2\"\n\n{rest}"
        )
    }

    fn parse(node_keys: &str, rest: &str) -> Result<Config, ConfigError> {
        Config::from_toml(&text(node_keys, rest))
    }

    fn invalid_field(result: Result<Config, ConfigError>) -> &'static str {
        match result {
            Err(ConfigError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid value, got {other:?}"),
        }
    }

    #[test]
    fn outbound_section_defaults_overrides_and_validation() {
        use crate::core::audit::Actor;
        let c = parse("", "").unwrap();
        assert_eq!(c.outbound.calls_per_minute, 30);
        assert_eq!(c.outbound.max_concurrent, 10);
        assert_eq!(
            c.originate_settings().policy.as_ref(),
            &c.outbound.policy().unwrap()
        );
        let c = parse(
            "",
            "[outbound]\nnational = [\"_5551XXX\"]\npremium_prefixes = [\"0900\", \"0909\"]\n\
             calls_per_minute = 5\n\
             [[outbound.credential]]\nprincipal = \"crm-intl\"\napi = \"expand\"\n\
             allow = [\"_00X.\"]\nmax_concurrent = 2\n\
             [[outbound.campaign]]\nname = \"Ventas->\"\nallow = [\"_5552XXX\"]\n",
        )
        .unwrap();
        let policy = c.originate_settings().policy;
        let crm = Actor::new("expand", "id1").with_system("crm-intl");
        assert_eq!(policy.check_destination(&crm, None, "0054911"), Ok(()));
        assert_eq!(policy.limits(&crm).max_concurrent, 2);
        assert_eq!(policy.limits(&crm).calls_per_minute, 5);
        let other = Actor::new("uscall", "id2");
        assert!(policy.check_destination(&other, None, "0054911").is_err());
        assert!(policy.check_destination(&other, None, "5552000").is_err());
        assert_eq!(
            policy.check_destination(&other, Some("Ventas->"), "5552000"),
            Ok(())
        );
        assert!(policy.check_destination(&other, None, "09091234").is_err());
        for (rest, field) in [
            ("[outbound]\nnational = [\"5.5\"]", "outbound.national"),
            ("[outbound]\ninternal = [\"\"]", "outbound.internal"),
            (
                "[outbound]\ninternational_prefixes = [\"0x\"]",
                "outbound.international_prefixes",
            ),
            (
                "[outbound]\npremium_prefixes = [\"\"]",
                "outbound.premium_prefixes",
            ),
            (
                "[outbound]\ncalls_per_minute = 0",
                "outbound.calls_per_minute",
            ),
            (
                "[outbound]\nmax_concurrent = 100001",
                "outbound.max_concurrent",
            ),
            (
                "[[outbound.credential]]\nprincipal = \"\"",
                "outbound.credential.principal",
            ),
            (
                "[[outbound.credential]]\nprincipal = \"x\"\napi = \"sip\"",
                "outbound.credential.api",
            ),
            (
                "[[outbound.credential]]\nprincipal = \"x\"\nallow = [\"a\"]",
                "outbound.credential.allow",
            ),
            (
                "[[outbound.credential]]\nprincipal = \"x\"\nmax_concurrent = 0",
                "outbound.credential.max_concurrent",
            ),
            (
                "[[outbound.campaign]]\nname = \"c\"\nallow = [\"[\"]",
                "outbound.campaign.allow",
            ),
        ] {
            assert_eq!(invalid_field(parse("", rest)), field, "{rest}");
        }
        assert!(matches!(
            parse("", "[outbound]\nnationals = []"),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn every_default() {
        let c = parse("", "").unwrap();
        assert_eq!(c.engine.timezone, "America/Montevideo");
        assert_eq!(c.engine.time_zone().iana_name(), Some("America/Montevideo"));
        assert_eq!(c.store.path, Path::new("centralita.db"));
        let n = c.primary_node();
        assert_eq!(n.name, "pbx1");
        assert_eq!(n.ami.host, "10.0.0.5");
        assert_eq!(n.ami.port, 5038);
        assert_eq!(n.ami.username, "centralita");
        assert_eq!(n.ami.secret.expose(), "hunter2");
        assert!(n.ari.is_none());
        assert_eq!(n.cdr_db, Path::new("/var/log/asterisk/master.db"));
        assert_eq!(n.queue_log, Path::new("/var/log/asterisk/queue_log"));
        assert_eq!(n.queues_conf, Path::new("/etc/asterisk/queues.conf"));
        assert_eq!(n.recordings_dir, Path::new("/var/spool/asterisk/monitor"));
        assert_eq!(n.poll_interval_ms, 500);
        assert_eq!(
            n.ingest_settings().poll_interval,
            Duration::from_millis(500)
        );
        assert_eq!(c.originate.retention_seconds, 86_400);
        assert_eq!(c.originate.default_ring_timeout_seconds, 30);
        assert_eq!(c.originate.context, "centralita-originate");
        let s = c.originate.service_settings();
        assert_eq!(s.retention, Duration::from_secs(86_400));
        assert_eq!(s.default_ring_timeout, Duration::from_secs(30));
        assert_eq!(c.http.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.agi.bind.to_string(), "127.0.0.1:4573");
        assert_eq!(c.agi.max_connections, 64);
        assert_eq!(c.http.body_limit_bytes, 1_048_576);
        assert_eq!(c.http.max_ingest_lag_seconds, 10);
        let ami = n.ami.settings();
        assert_eq!((ami.host.as_str(), ami.port), ("10.0.0.5", 5038));
        assert_eq!(c.recordings.policy, RecordingPolicyName::Always);
        assert!(c.recordings.queues.is_empty());
        assert_eq!(
            c.recordings.cache_dir_for(&n.recordings_dir),
            Path::new("/var/spool/asterisk/monitor/.cache")
        );
    }

    #[test]
    fn recordings_section() {
        let c = parse(
            "",
            "[recordings]\npolicy = \"per_queue\"\nqueues = [\"q_ventas\"]\n\
             cache_dir = \"/srv/cache\"\n",
        )
        .unwrap();
        assert_eq!(
            c.recordings.policy(),
            crate::core::recordings::RecordingPolicy::PerQueue(vec!["q_ventas".into()])
        );
        assert_eq!(
            c.recordings.cache_dir_for(Path::new("/x")),
            Path::new("/srv/cache")
        );
        let c = parse("", "[recordings]\npolicy = \"per_job\"\n").unwrap();
        assert_eq!(c.recordings.policy, RecordingPolicyName::PerJob);
        assert!(matches!(
            parse("", "[recordings]\npolicy = \"sometimes\"\n"),
            Err(ConfigError::Parse(_))
        ));
        for rest in [
            "[recordings]\nqueues = [\"q_ventas\"]\n",
            "[recordings]\npolicy = \"per_queue\"\nqueues = [\"a,b\"]\n",
        ] {
            assert_eq!(
                invalid_field(parse("", rest)),
                "recordings.queues",
                "{rest}"
            );
        }
        assert_eq!(
            invalid_field(parse("", "[recordings]\ncache_dir = \"\"\n")),
            "recordings.cache_dir"
        );
    }

    #[test]
    fn every_value_is_read() {
        let c = parse(
            "cdr_db = \"/lab/master.db\"\nqueue_log = \"/lab/queue_log\"\n\
             recordings_dir = \"/lab/monitor\"\npoll_interval_ms = 200\n",
            "[node.ari]\nurl = \"http://127.0.0.1:8088/ari\"\nusername = \"centralita\"\n\
             secret = \"ari-pw\"\n\n[store]\npath = \"/tmp/j.db\"\n\n\
             [originate]\nretention_seconds = 60\ndefault_ring_timeout_seconds = 5\n\
             context = \"my-ctx\"\n\n[http]\nbind = \"0.0.0.0:9000\"\nbody_limit_bytes = 2048\n\
             max_ingest_lag_seconds = 3\n",
        )
        .unwrap();
        let n = c.primary_node();
        let s = n.ingest_settings();
        assert_eq!(s.cdr_db, Path::new("/lab/master.db"));
        assert_eq!(s.queue_log, Path::new("/lab/queue_log"));
        assert_eq!(s.poll_interval, Duration::from_millis(200));
        assert_eq!(n.recordings_dir, Path::new("/lab/monitor"));
        let ari = n.ari.as_ref().unwrap();
        assert_eq!(ari.url, "http://127.0.0.1:8088/ari");
        assert_eq!(ari.username, "centralita");
        assert_eq!(ari.secret.expose(), "ari-pw");
        assert_eq!(c.store.path, Path::new("/tmp/j.db"));
        assert_eq!(c.originate.retention_seconds, 60);
        assert_eq!(c.originate.default_ring_timeout_seconds, 5);
        assert_eq!(c.originate.context, "my-ctx");
        assert_eq!(c.http.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(c.http.body_limit_bytes, 2048);
        assert_eq!(c.http.max_ingest_lag_seconds, 3);
    }

    #[test]
    fn secrets_never_in_debug_output() {
        let c = parse(
            "",
            "[node.ari]\nurl = \"http://pbx/ari\"\nusername = \"u\"\nsecret = \"ari-s3cr3t\"\n",
        )
        .unwrap();
        let debug = format!("{c:?} {:#?}", c.primary_node());
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("ari-s3cr3t"), "{debug}");
        assert!(debug.contains("***"));
    }

    #[test]
    fn unknown_keys_and_sections_rejected() {
        for (node_keys, rest) in [
            ("queuelog = \"/x\"", ""),
            ("", "[store]\nfile = \"/x\"\n"),
            ("", "[originate]\nretention = 5\n"),
            ("", "[http]\nlimit = 5\n"),
            (
                "",
                "[node.ari]\nurl = \"http://h/ari\"\nusername = \"u\"\nsecret = \"s\"\nx = 1\n",
            ),
            ("", "[ami]\nhost = \"h\"\n"),
            ("", "[asterisk]\ncdr_db = \"/x\"\n"),
        ] {
            assert!(
                matches!(parse(node_keys, rest), Err(ConfigError::Parse(_))),
                "{node_keys} {rest}"
            );
        }
        let typo = text("", "").replace("secret = \"hunter2\"", "secret = \"s\"\nsecrte = \"x\"");
        assert!(matches!(
            Config::from_toml(&typo),
            Err(ConfigError::Parse(_))
        ));
        let typo = text("", "").replace("[engine]", "[engine]\ntz = \"UTC\"");
        assert!(matches!(
            Config::from_toml(&typo),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn missing_required_keys_rejected() {
        for key in [
            "timezone = \"America/Montevideo\"\n",
            "name = \"pbx1\"\n",
            "host = \"10.0.0.5\"\n",
            "username = \"centralita\"\n",
            "secret = \"hunter2\"\n",
        ] {
            let t = text("", "").replacen(key, "", 1);
            assert!(
                matches!(Config::from_toml(&t), Err(ConfigError::Parse(_))),
                "{key}"
            );
        }
        // An ARI section must be complete.
        assert!(matches!(
            parse("", "[node.ari]\nurl = \"http://h/ari\"\nusername = \"u\"\n"),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn timezone_must_be_an_iana_name() {
        for tz in [
            "America/Montevideo",
            "UTC",
            "Europe/Madrid",
            "America/Argentina/Buenos_Aires",
        ] {
            let t = text("", "").replace("America/Montevideo", tz);
            assert_eq!(Config::from_toml(&t).unwrap().engine.timezone, tz);
        }
        for tz in [
            "",
            "Mars/Olympus_Mons",
            "America/Montevideo ",
            "/usr/share/zoneinfo/UTC",
            "../../etc/passwd",
            "EST5EDT,M3.2.0,M11.1.0",
            "America/",
        ] {
            let t = text("", "").replace("America/Montevideo", tz);
            assert_eq!(
                invalid_field(Config::from_toml(&t)),
                "engine.timezone",
                "{tz:?}"
            );
        }
    }

    #[test]
    fn exactly_one_node() {
        let base = text("", "");
        let second = "\n[[node]]\nname = \"pbx2\"\n[node.ami]\nhost = \"h2\"\nusername = \"u\"\nsecret = \"s\"\n";
        match Config::from_toml(&format!("{base}{second}")) {
            Err(ConfigError::Invalid { field, reason }) => {
                assert_eq!(field, "node");
                assert_eq!(reason, "only one node is supported yet");
            }
            other => panic!("{other:?}"),
        }
        let none = "[engine]\ntimezone = \"UTC\"\n";
        assert_eq!(invalid_field(Config::from_toml(none)), "node");
    }

    #[test]
    fn auth_agents_and_proxies() {
        let c = Config::from_toml(&text("", "")).unwrap();
        assert_eq!(
            c.auth.throttle(),
            crate::core::throttle::ThrottleSettings::default()
        );
        assert!(c.agents.non_agent().is_empty() && c.http.proxies().is_empty());
        let c = Config::from_toml(&text(
            "",
            "[auth]\nmax_failures_per_principal = 3\nlockout_seconds = 2\n\
             [agents]\nnon_agent_extensions = [\"1100\"]\n\
             [http]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n",
        ))
        .unwrap();
        let t = c.auth.throttle();
        assert_eq!(
            (t.max_failures_per_principal, t.lockout),
            (3, Duration::from_secs(2))
        );
        assert_eq!(c.agents.non_agent()[0].as_str(), "1100");
        assert_eq!(c.http.proxies().len(), 2);
    }

    #[test]
    fn bad_values_rejected() {
        let node_cases = [
            ("name = \"pbx 1\"", "node.name"),
            ("cdr_db = \"\"", "node.cdr_db"),
            ("queue_log = \"\"", "node.queue_log"),
            ("recordings_dir = \"\"", "node.recordings_dir"),
            ("poll_interval_ms = 0", "node.poll_interval_ms"),
            ("poll_interval_ms = 600000", "node.poll_interval_ms"),
        ];
        for (keys, field) in node_cases {
            // `name` is already set: replace it rather than repeating it.
            let t = if keys.starts_with("name") {
                text("", "").replace("name = \"pbx1\"", keys)
            } else {
                text(keys, "")
            };
            assert_eq!(invalid_field(Config::from_toml(&t)), field, "{keys}");
        }
        let rest_cases = [
            (
                "[auth]\nmax_failures_per_principal = 0\n",
                "auth.max_failures_per_principal",
            ),
            (
                "[auth]\nmax_failures_per_address = 0\n",
                "auth.max_failures_per_address",
            ),
            ("[auth]\nwindow_seconds = 0\n", "auth.window_seconds"),
            ("[auth]\nlockout_seconds = 0\n", "auth.lockout_seconds"),
            (
                "[auth]\nlockout_seconds = 120\nmax_lockout_seconds = 60\n",
                "auth.max_lockout_seconds",
            ),
            (
                "[agents]\nnon_agent_extensions = [\"PJSIP/1100\"]\n",
                "agents.non_agent_extensions",
            ),
            (
                "[http]\ntrusted_proxies = [\"proxy\"]\n",
                "http.trusted_proxies",
            ),
            ("[store]\npath = \"\"\n", "store.path"),
            (
                "[originate]\nretention_seconds = 59\n",
                "originate.retention_seconds",
            ),
            (
                "[originate]\ndefault_ring_timeout_seconds = 0\n",
                "originate.default_ring_timeout_seconds",
            ),
            (
                "[originate]\ndefault_ring_timeout_seconds = 601\n",
                "originate.default_ring_timeout_seconds",
            ),
            ("[originate]\ncontext = \"a,b\"\n", "originate.context"),
            ("[originate]\ncontext = \"\"\n", "originate.context"),
            ("[http]\nbody_limit_bytes = 10\n", "http.body_limit_bytes"),
            (
                "[http]\nmax_ingest_lag_seconds = 0\n",
                "http.max_ingest_lag_seconds",
            ),
            (
                "[node.ari]\nurl = \"ftp://h/ari\"\nusername = \"u\"\nsecret = \"s\"\n",
                "node.ari.url",
            ),
            (
                "[node.ari]\nurl = \"https://h/ari\"\nusername = \"u\"\nsecret = \"s\"\n",
                "node.ari.url",
            ),
            ("[agi]\nmax_connections = 0\n", "agi.max_connections"),
            ("[agi]\nmax_connections = 4097\n", "agi.max_connections"),
            (
                "[node.ari]\nurl = \"http://\"\nusername = \"u\"\nsecret = \"s\"\n",
                "node.ari.url",
            ),
            (
                "[node.ari]\nurl = \"http://h/ari\"\nusername = \"a:b\"\nsecret = \"s\"\n",
                "node.ari.username",
            ),
            (
                "[node.ari]\nurl = \"http://h/ari\"\nusername = \"u\"\nsecret = \"\"\n",
                "node.ari.secret",
            ),
        ];
        for (rest, field) in rest_cases {
            assert_eq!(invalid_field(parse("", rest)), field, "{rest}");
        }
        assert_eq!(
            invalid_field(parse("queues_conf = \"\"", "")),
            "node.queues_conf"
        );
        let ami_cases = [
            ("host = \"10.0.0.5\"", "host = \" \"", "node.ami.host"),
            (
                "username = \"centralita\"",
                "username = \"u\\r\\nAction: Logoff\"",
                "node.ami.username",
            ),
            ("secret = \"hunter2\"", "secret = \"\"", "node.ami.secret"),
        ];
        for (from, to, field) in ami_cases {
            let t = text("", "").replacen(from, to, 1);
            assert_eq!(invalid_field(Config::from_toml(&t)), field, "{to}");
        }
        let t = text("", "").replace("host = \"10.0.0.5\"", "host = \"h\"\nport = 0");
        assert_eq!(invalid_field(Config::from_toml(&t)), "node.ami.port");
    }

    #[test]
    fn the_lab_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/centralita.lab.toml");
        let c = Config::load(&path).unwrap();
        let n = c.primary_node();
        assert_eq!(n.name, "pbx1");
        assert_eq!(n.ami.port, 5038);
        assert!(n.ari.is_some());
        assert_eq!(
            n.queues_conf,
            Path::new("/var/cache/centralita/lab-root/etc/asterisk/queues.conf")
        );
        assert_eq!(c.agi.bind.to_string(), "127.0.0.1:4573");
        assert_eq!(c.engine.timezone, "America/Montevideo");
        // Its outbound policy admits every number the lab and its tests dial, and refuses
        // international and premium-rate ones.
        let policy = c.outbound.policy().unwrap();
        let who = crate::core::audit::Actor::new("expand", "k");
        for n in [
            "5551000",
            "5551030",
            "5552000",
            "5553000",
            "5554000",
            "5556000",
            "26001000",
            "26002000",
            "26003000",
            "099555001",
            "099555111",
            "1001",
            "1008",
            "1100",
        ] {
            assert_eq!(policy.check_destination(&who, None, n), Ok(()), "{n}");
        }
        for n in ["0059899123456", "+5491155551234", "09001234"] {
            assert!(policy.check_destination(&who, None, n).is_err(), "{n}");
        }
    }
}
