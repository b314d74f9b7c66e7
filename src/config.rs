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
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use crate::asterisk::ami::AmiSettings;
use crate::core::Secret;

/// Asterisk's default AMI port.
pub const DEFAULT_AMI_PORT: u16 = 5038;

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How to reach Asterisk's manager interface.
    pub ami: AmiConfig,
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
