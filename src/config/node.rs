//! The `[engine]` section and the Asterisk nodes (`[[node]]`, `[node.ami]`, `[node.ari]`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{deserialize_secret, invalid, one_line, ConfigError};
use crate::asterisk::ami::AmiSettings;
use crate::asterisk::ingest::IngestSettings;
use crate::core::Secret;

/// Asterisk's default AMI port.
pub const DEFAULT_AMI_PORT: u16 = 5038;

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

impl NodeConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
