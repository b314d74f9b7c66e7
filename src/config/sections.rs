//! The engine's own sections: `[auth]`, `[agi]`, `[agents]`, `[recordings]`, `[http]`,
//! `[store]` and `[originate]`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{invalid, ConfigError};

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

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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

/// The `[agi]` section: the FastAGI server. It runs when `[campaigns]` configures campaigns
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

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
    pub fn proxies(&self) -> Vec<crate::net::Network> {
        self.trusted_proxies
            .iter()
            .filter_map(|s| crate::net::Network::parse(s))
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

fn default_retention_seconds() -> u64 {
    86_400
}

fn default_ring_timeout_seconds() -> u64 {
    30
}

fn default_originate_context() -> String {
    crate::asterisk::call_control::DEFAULT_CONTEXT.to_owned()
}

/// The `[tts]` section: offline text to speech (`crate::core::tts`, adapter
/// `crate::tts_espeak`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtsConfig {
    /// The engine's program. Default `espeak-ng` (on the PATH).
    #[serde(default = "default_tts_program")]
    pub program: PathBuf,
    /// The prompt cache, as the engine sees it. Default
    /// `/var/lib/asterisk/sounds/centralita-tts`.
    #[serde(default = "default_tts_cache_dir")]
    pub cache_dir: PathBuf,
    /// The same directory as Asterisk sees it (a chroot, a mount on another host). Default
    /// `cache_dir`.
    #[serde(default)]
    pub asterisk_dir: Option<PathBuf>,
    /// Prompts kept at most; the oldest are removed first. Default 5000 (1-1000000).
    #[serde(default = "default_tts_max_entries")]
    pub max_entries: usize,
    /// A render that takes longer is killed. Default 10000 ms (100-120000).
    #[serde(default = "default_tts_timeout_ms")]
    pub timeout_ms: u64,
    /// The voice of prompts that name none. Default `es`.
    #[serde(default = "default_tts_voice")]
    pub voice: String,
    /// Words per minute of prompts that name none. Default 160 (80-450).
    #[serde(default = "default_tts_rate")]
    pub rate: u32,
}

impl Default for TtsConfig {
    fn default() -> Self {
        TtsConfig {
            program: default_tts_program(),
            cache_dir: default_tts_cache_dir(),
            asterisk_dir: None,
            max_entries: default_tts_max_entries(),
            timeout_ms: default_tts_timeout_ms(),
            voice: default_tts_voice(),
            rate: default_tts_rate(),
        }
    }
}

fn default_tts_program() -> PathBuf {
    PathBuf::from("espeak-ng")
}
fn default_tts_cache_dir() -> PathBuf {
    PathBuf::from("/var/lib/asterisk/sounds/centralita-tts")
}
fn default_tts_max_entries() -> usize {
    5000
}
fn default_tts_timeout_ms() -> u64 {
    10_000
}
fn default_tts_voice() -> String {
    "es".to_string()
}
fn default_tts_rate() -> u32 {
    160
}

impl TtsConfig {
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        use crate::core::tts::{SpeechRate, Voice};
        if self.program.as_os_str().is_empty() {
            return Err(("tts.program", "must not be empty"));
        }
        if self.cache_dir.as_os_str().is_empty() || !self.cache_dir.is_absolute() {
            return Err(("tts.cache_dir", "must be an absolute path"));
        }
        if let Some(a) = &self.asterisk_dir {
            let ok = a.is_absolute()
                && a.to_str().is_some_and(|s| {
                    s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(&b))
                        && !s.contains("..")
                });
            if !ok {
                return Err((
                    "tts.asterisk_dir",
                    "must be an absolute path of [A-Za-z0-9/_.-]",
                ));
            }
        }
        if !(1..=1_000_000).contains(&self.max_entries) {
            return Err(("tts.max_entries", "must be 1-1000000"));
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            return Err(("tts.timeout_ms", "must be 100-120000"));
        }
        if Voice::parse(&self.voice).is_err() {
            return Err(("tts.voice", "must be a voice name such as es, pt-BR, en"));
        }
        if SpeechRate::new(self.rate).is_err() {
            return Err(("tts.rate", "must be 80-450"));
        }
        Ok(())
    }

    /// The prompt cache's settings.
    pub fn cache_settings(&self) -> crate::core::tts::PromptCacheSettings {
        crate::core::tts::PromptCacheSettings {
            dir: self.cache_dir.clone(),
            asterisk_dir: self
                .asterisk_dir
                .clone()
                .unwrap_or_else(|| self.cache_dir.clone()),
            max_entries: self.max_entries,
        }
    }
}
