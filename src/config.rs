//! The engine's configuration file (TOML): parsing, defaults and validation.
//!
//! Unknown keys are errors (`deny_unknown_fields`), so a typo never silently falls back to a
//! default. Secrets are held in [`Secret`] and never printed.
//!
//! ```toml
//! [ami]
//! host = "127.0.0.1"     # required: Asterisk host
//! port = 5038            # optional, default 5038
//! username = "centralita" # required: manager.conf user
//! secret = "..."         # required: manager.conf secret
//!
//! [store]                # optional section
//! path = "centralita.db" # the engine's SQLite file (relative: to the working directory)
//!
//! [asterisk]                                   # optional section: what Asterisk writes
//! cdr_db = "/var/log/asterisk/master.db"       # CDRs (cdr_sqlite3_custom), read-only
//! queue_log = "/var/log/asterisk/queue_log"    # queue activity
//! poll_interval_ms = 500                       # how often both are ingested (10-60000)
//!
//! [originate]                           # optional section: originate jobs
//! retention_seconds = 86400             # finished jobs stay answerable this long (60-31536000)
//! default_ring_timeout_seconds = 30     # ring timeout of a request that sets none (1-600)
//! context = "centralita-originate"      # dialplan context originated calls enter
//!
//! [http]                                # optional section: the HTTP server
//! bind = "127.0.0.1:8080"               # listen address
//! body_limit_bytes = 1048576            # larger request bodies get 413 (1024-67108864)
//! max_ingest_lag_seconds = 10           # /healthz says "degraded" past this ingestion lag
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
    /// How to reach Asterisk's manager interface.
    pub ami: AmiConfig,
    /// The engine's own store. Optional; every field has a default.
    #[serde(default)]
    pub store: StoreConfig,
    /// Where Asterisk writes its history (CDRs, queue_log). Optional; every field has a default.
    #[serde(default)]
    pub asterisk: AsteriskConfig,
    /// Originate jobs. Optional; every field has a default.
    #[serde(default)]
    pub originate: OriginateConfig,
    /// The HTTP server (health today, the facades later). Optional; every field has a default.
    #[serde(default)]
    pub http: HttpConfig,
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
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: default_http_bind(),
            body_limit_bytes: default_body_limit(),
            max_ingest_lag_seconds: default_max_ingest_lag(),
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

/// The `[store]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite file holding the journal. Default `centralita.db` (relative paths are relative
    /// to the working directory). Created and migrated on start.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: default_store_path(),
        }
    }
}

/// The `[asterisk]` section: the files Asterisk writes that the engine ingests.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsteriskConfig {
    /// Asterisk's CDR database (`cdr_sqlite3_custom`), opened read-only. Default
    /// `/var/log/asterisk/master.db`.
    #[serde(default = "default_cdr_db")]
    pub cdr_db: PathBuf,
    /// Asterisk's queue log. Default `/var/log/asterisk/queue_log`.
    #[serde(default = "default_queue_log")]
    pub queue_log: PathBuf,
    /// Milliseconds between ingestion polls (an AMI `Cdr` event also triggers one). Default 500;
    /// 10 to 60000.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
}

impl Default for AsteriskConfig {
    fn default() -> Self {
        Self {
            cdr_db: default_cdr_db(),
            queue_log: default_queue_log(),
            poll_interval_ms: default_poll_interval_ms(),
        }
    }
}

impl AsteriskConfig {
    /// Ingestion settings with this section's values and the ingestor's other defaults.
    pub fn ingest_settings(&self) -> IngestSettings {
        let mut s = IngestSettings::new(&self.cdr_db, &self.queue_log);
        s.poll_interval = Duration::from_millis(self.poll_interval_ms);
        s
    }
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

fn default_poll_interval_ms() -> u64 {
    500
}

/// The `[ami]` section.
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
        /// The dotted key, e.g. `ami.host`.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
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

    fn validate(&self) -> Result<(), ConfigError> {
        let ami = &self.ami;
        let one_line =
            |s: &str| !s.is_empty() && !s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0));
        if ami.host.trim().is_empty() {
            return Err(ConfigError::Invalid {
                field: "ami.host",
                reason: "must not be empty",
            });
        }
        if ami.port == 0 {
            return Err(ConfigError::Invalid {
                field: "ami.port",
                reason: "must be 1-65535",
            });
        }
        if !one_line(&ami.username) {
            return Err(ConfigError::Invalid {
                field: "ami.username",
                reason: "must be one non-empty line",
            });
        }
        if !one_line(ami.secret.expose()) {
            return Err(ConfigError::Invalid {
                field: "ami.secret",
                reason: "must be one non-empty line",
            });
        }
        if !(1024..=64 << 20).contains(&self.http.body_limit_bytes) {
            return Err(ConfigError::Invalid {
                field: "http.body_limit_bytes",
                reason: "must be 1024-67108864",
            });
        }
        if self.http.max_ingest_lag_seconds == 0 {
            return Err(ConfigError::Invalid {
                field: "http.max_ingest_lag_seconds",
                reason: "must be at least 1",
            });
        }
        let no_path = |p: &Path| p.as_os_str().is_empty();
        if no_path(&self.store.path) {
            return Err(ConfigError::Invalid {
                field: "store.path",
                reason: "must not be empty",
            });
        }
        if no_path(&self.asterisk.cdr_db) {
            return Err(ConfigError::Invalid {
                field: "asterisk.cdr_db",
                reason: "must not be empty",
            });
        }
        if no_path(&self.asterisk.queue_log) {
            return Err(ConfigError::Invalid {
                field: "asterisk.queue_log",
                reason: "must not be empty",
            });
        }
        let o = &self.originate;
        if !(60..=31_536_000).contains(&o.retention_seconds) {
            return Err(ConfigError::Invalid {
                field: "originate.retention_seconds",
                reason: "must be 60-31536000",
            });
        }
        if !(1..=600).contains(&o.default_ring_timeout_seconds) {
            return Err(ConfigError::Invalid {
                field: "originate.default_ring_timeout_seconds",
                reason: "must be 1-600",
            });
        }
        if o.context.is_empty()
            || o.context.len() > 80
            || !o
                .context
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError::Invalid {
                field: "originate.context",
                reason: "must be 1-80 of [A-Za-z0-9_-]",
            });
        }
        if !(10..=60_000).contains(&self.asterisk.poll_interval_ms) {
            return Err(ConfigError::Invalid {
                field: "asterisk.poll_interval_ms",
                reason: "must be 10-60000",
            });
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

    #[test]
    fn parses_with_default_port() {
        let c = Config::from_toml(
            "[ami]\nhost = \"10.0.0.5\"\nusername = \"centralita\"\nsecret = \"hunter2\"\n",
        )
        .unwrap();
        assert_eq!(c.ami.port, 5038);
        assert_eq!(c.ami.secret.expose(), "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.store.path, Path::new("centralita.db"));
        assert_eq!(c.asterisk.cdr_db, Path::new("/var/log/asterisk/master.db"));
        assert_eq!(
            c.asterisk.queue_log,
            Path::new("/var/log/asterisk/queue_log")
        );
        assert_eq!(
            c.asterisk.ingest_settings().poll_interval,
            Duration::from_millis(500)
        );
    }

    const AMI: &str = "[ami]\nhost = \"h\"\nusername = \"u\"\nsecret = \"s\"\n";

    #[test]
    fn parses_store_and_asterisk_sections() {
        let c = Config::from_toml(&format!(
            "{AMI}[store]\npath = \"/tmp/j.db\"\n[asterisk]\ncdr_db = \"/lab/master.db\"\n\
             queue_log = \"/lab/queue_log\"\npoll_interval_ms = 200\n"
        ))
        .unwrap();
        assert_eq!(c.store.path, Path::new("/tmp/j.db"));
        let s = c.asterisk.ingest_settings();
        assert_eq!(s.cdr_db, Path::new("/lab/master.db"));
        assert_eq!(s.queue_log, Path::new("/lab/queue_log"));
        assert_eq!(s.poll_interval, Duration::from_millis(200));
        // A section with only some keys keeps the other defaults.
        let c = Config::from_toml(&format!("{AMI}[asterisk]\npoll_interval_ms = 50\n")).unwrap();
        assert_eq!(c.asterisk.cdr_db, Path::new("/var/log/asterisk/master.db"));
    }

    #[test]
    fn rejects_bad_store_and_asterisk_values() {
        let typo = format!("{AMI}[asterisk]\nqueuelog = \"/x\"\n");
        assert!(matches!(
            Config::from_toml(&typo),
            Err(ConfigError::Parse(_))
        ));
        let typo = format!("{AMI}[store]\nfile = \"/x\"\n");
        assert!(matches!(
            Config::from_toml(&typo),
            Err(ConfigError::Parse(_))
        ));
        for (text, field) in [
            ("[store]\npath = \"\"\n", "store.path"),
            ("[asterisk]\ncdr_db = \"\"\n", "asterisk.cdr_db"),
            ("[asterisk]\nqueue_log = \"\"\n", "asterisk.queue_log"),
            (
                "[asterisk]\npoll_interval_ms = 0\n",
                "asterisk.poll_interval_ms",
            ),
            (
                "[asterisk]\npoll_interval_ms = 600000\n",
                "asterisk.poll_interval_ms",
            ),
        ] {
            match Config::from_toml(&format!("{AMI}{text}")) {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn originate_section_defaults_values_and_limits() {
        let c = Config::from_toml(AMI).unwrap();
        assert_eq!(c.originate.retention_seconds, 86_400);
        assert_eq!(c.originate.default_ring_timeout_seconds, 30);
        assert_eq!(c.originate.context, "centralita-originate");
        let s = c.originate.service_settings();
        assert_eq!(s.retention, Duration::from_secs(86_400));
        assert_eq!(s.default_ring_timeout, Duration::from_secs(30));
        let c = Config::from_toml(&format!(
            "{AMI}[originate]\nretention_seconds = 60\ndefault_ring_timeout_seconds = 5\n\
             context = \"my-ctx\"\n"
        ))
        .unwrap();
        assert_eq!(c.originate.retention_seconds, 60);
        assert_eq!(c.originate.context, "my-ctx");
        assert!(matches!(
            Config::from_toml(&format!("{AMI}[originate]\nretention = 5\n")),
            Err(ConfigError::Parse(_))
        ));
        for (text, field) in [
            ("retention_seconds = 59", "originate.retention_seconds"),
            (
                "default_ring_timeout_seconds = 0",
                "originate.default_ring_timeout_seconds",
            ),
            (
                "default_ring_timeout_seconds = 601",
                "originate.default_ring_timeout_seconds",
            ),
            ("context = \"a,b\"", "originate.context"),
            ("context = \"\"", "originate.context"),
        ] {
            match Config::from_toml(&format!("{AMI}[originate]\n{text}\n")) {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_unknown_missing_and_invalid() {
        let unknown = "[ami]\nhost = \"h\"\nusername = \"u\"\nsecret = \"s\"\nsecrte = \"x\"\n";
        assert!(matches!(
            Config::from_toml(unknown),
            Err(ConfigError::Parse(_))
        ));
        let missing = "[ami]\nhost = \"h\"\nusername = \"u\"\n";
        assert!(matches!(
            Config::from_toml(missing),
            Err(ConfigError::Parse(_))
        ));
        let bad = "[ami]\nhost = \"h\"\nusername = \"u\\r\\nAction: Logoff\"\nsecret = \"s\"\n";
        assert!(matches!(
            Config::from_toml(bad),
            Err(ConfigError::Invalid {
                field: "ami.username",
                ..
            })
        ));
        let empty_host = "[ami]\nhost = \" \"\nusername = \"u\"\nsecret = \"s\"\n";
        assert!(matches!(
            Config::from_toml(empty_host),
            Err(ConfigError::Invalid {
                field: "ami.host",
                ..
            })
        ));
    }
}
