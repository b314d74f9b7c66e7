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
//! [tts]                               # optional section: offline text to speech (espeak-ng)
//! program = "espeak-ng"               # default; the engine (a path, or a name on the PATH)
//! cache_dir = "/var/lib/asterisk/sounds/centralita-tts"  # default; prompts, as the engine sees it
//! asterisk_dir = "<cache_dir>"        # default; the same directory as Asterisk sees it
//! max_entries = 5000                  # default; prompts kept, oldest removed first (1-1000000)
//! timeout_ms = 10000                  # default; a slower render is killed (100-120000)
//! voice = "es"                        # default; es, es-419, pt-BR, pt, en, or an engine voice
//! rate = 160                          # default; words per minute (80-450)
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
//!
//! [sms]                               # optional section: text messages (see `sms`)
//! [dialing]                           # optional section: categories and DDRs (see `dialing`)
//! [campaigns]                         # optional section: [[campaigns.campaign]] (see `campaigns`)
//! [ivr.backends.<name>]               # optional: the IVR's lookup backends (see `ivr`)
//!
//! [expand]                            # optional: eXpand's wire details (`facades::expand::config`)
//! [uscall]                            # optional: USCall's (`facades::uscall::config`)
//! [ucontact]                          # optional: uContact's (`facades::ucontact::config`)
//! [expand_rest]                       # optional: eXpand REST's (`facades::expand_rest::config`)
//! ```
//!
//! Core features (SMS, dialing, campaigns) have sections of their own, whichever API uses
//! them; a vendor's section holds only that API's wire details. Keys older files keep in a
//! vendor's section are still read, with a warning ([`legacy`]).
//!
//! Dependencies point one way: this module names the facades' section types (each facade
//! owns its section and its validation, which returns the key and why, never a
//! [`ConfigError`]); no facade names this module. The composition root (`app`) hands each
//! facade its own section and the core services it needs.

mod campaigns;
mod dialing;
mod ivr;
pub mod legacy;
mod node;
mod outbound;
mod sections;
mod sms;
#[cfg(test)]
mod tests;
mod webhooks;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use crate::core::Secret;

pub use campaigns::{CampaignConfig, CampaignsConfig, DispositionConfig};
pub use dialing::{CategoryConfig, DialingConfig, RuleConfig};
pub use ivr::{IvrBackendConfig, IvrConfig};
pub use node::{AmiConfig, AriConfig, EngineConfig, NodeConfig, DEFAULT_AMI_PORT};
pub use outbound::{OutboundCampaignConfig, OutboundConfig, OutboundCredentialConfig};
pub use sections::{
    AgentsConfig, AgiConfig, AuthConfig, HttpConfig, OriginateConfig, RecordingPolicyName,
    RecordingsConfig, StoreConfig, TtsConfig,
};
pub use sms::SmsConfig;
pub use webhooks::{ExpandWebservicesConfig, WebhookEndpointConfig, WebhooksConfig};

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
    /// Text messages (the core's SMS service). Optional; every field has a default.
    #[serde(default)]
    pub sms: SmsConfig,
    /// The campaigns. Optional; none by default.
    #[serde(default)]
    pub campaigns: CampaignsConfig,
    /// Dialing rules: categories and DDRs. Optional; every field has a default.
    #[serde(default)]
    pub dialing: DialingConfig,
    /// The eXpand SOAP facade. Optional.
    #[serde(default)]
    pub expand: crate::facades::expand::config::ExpandConfig,
    /// The USCall SOAP facade. Optional.
    #[serde(default)]
    pub uscall: crate::facades::uscall::config::UscallConfig,
    /// The uContact REST facade. Optional.
    #[serde(default)]
    pub ucontact: crate::facades::ucontact::config::UcontactConfig,
    /// The eXpand REST facade. Optional.
    #[serde(default)]
    pub expand_rest: crate::facades::expand_rest::config::ExpandRestConfig,
    /// Throttling of authentication (logins and API keys of every facade). Optional.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Which extensions may be agents' phones. Optional.
    #[serde(default)]
    pub agents: AgentsConfig,
    /// Offline text to speech: the engine and the prompt cache. Optional.
    #[serde(default)]
    pub tts: TtsConfig,
    /// Outbound webhooks (`[webhooks]`, `[[webhooks.endpoint]]`). Optional; none by default.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// The customer's backend eXpand's dialplan calls (`[expand_webservices]`). Optional;
    /// absent, none is called.
    #[serde(default)]
    pub expand_webservices: Option<ExpandWebservicesConfig>,
    /// The IVR's named lookup backends (`[ivr.backends.<name>]`). Optional; none by default.
    #[serde(default)]
    pub ivr: IvrConfig,
}

fn deserialize_secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
    String::deserialize(deserializer).map(Secret::new)
}

fn deserialize_opt_secret<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Secret>, D::Error> {
    Option::<String>::deserialize(deserializer).map(|s| s.map(Secret::new))
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
    /// One setting is both in its former place and in its current one.
    #[error(
        "`{old}` and `{new}` are one setting: keep only `{new}` (`{old}` is its former place)"
    )]
    Duplicate {
        /// The former place, e.g. `expand.sms_from`.
        old: String,
        /// The current place, e.g. `sms.from`.
        new: String,
    },
}

fn invalid(field: &'static str, reason: &'static str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid { field, reason })
}

/// One non-empty line: no CR, LF or NUL (values that end up in AMI or HTTP headers).
fn one_line(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Whether `name` is an IANA time zone name the system's database knows (the core's one rule).
pub fn is_iana_zone(name: &str) -> bool {
    crate::core::dialer::ZoneName::is_known(name)
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
    /// Keys in their former places ([`legacy`]) are read in their new ones, each with a
    /// warning naming the new place.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let (config, moved) = Self::read(text)?;
        for m in moved {
            tracing::warn!(
                old = %m.old(),
                new = %m.new_place(),
                "configuration: `{}` has moved to `{}`; read from its old place, please move it",
                m.old(),
                m.new_place(),
            );
        }
        Ok(config)
    }

    /// The validated configuration and the keys read from their former places.
    fn read(text: &str) -> Result<(Self, Vec<legacy::Move>), ConfigError> {
        let mut file: toml::Table = text.parse()?;
        let moved = legacy::migrate(&mut file)?;
        // A current file is read from its text, so that errors point at its lines.
        let config: Config = if moved.is_empty() {
            toml::from_str(text)?
        } else {
            toml::Value::Table(file).try_into()?
        };
        config.validate()?;
        Ok((config, moved))
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
                .any(|n| crate::net::Network::parse(n).is_none())
        {
            return invalid(
                "http.trusted_proxies",
                "each must be an address or address/prefix, at most 1000",
            );
        }
        self.auth.validate()?;
        self.agents.validate()?;
        self.sms
            .validate()
            .map_err(|(field, reason)| ConfigError::Invalid { field, reason })?;
        self.expand
            .validate()
            .map_err(|(field, reason)| ConfigError::Invalid { field, reason })?;
        self.tts
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
        if let Err((field, reason)) = self.expand_rest.validate() {
            return invalid(field, reason);
        }
        if let Err((field, reason)) = self.campaigns.validate() {
            return invalid(field, reason);
        }
        if let Err((field, reason)) = self.dialing.validate() {
            return invalid(field, reason);
        }
        if let Err((field, reason)) = self.uscall.validate() {
            return invalid(field, reason);
        }
        if let Err((field, reason)) = self.webhooks.validate() {
            return invalid(field, reason);
        }
        if let Some(Err((field, reason))) = self.expand_webservices.as_ref().map(|w| w.validate()) {
            return invalid(field, reason);
        }
        if let Err((field, reason)) = self.ivr.validate() {
            return invalid(field, reason);
        }
        Ok(())
    }
}
