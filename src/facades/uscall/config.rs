//! The `[uscall]` section of the configuration: the USCall SOAP webservice
//! (`/aplicativos/webservice/wsuscall.php`).
//!
//! ```toml
//! [uscall]                                  # optional
//! max_report_days = 93                      # longest dataini-datafin range of a report (1-366)
//!
//! [[uscall.queue]]                          # optional: how getQueue shows a queue
//! queue = "q_soporte"                       # required: the Asterisk queue
//! name = "Suporte técnico"                  # default: the queue's name
//! type = "callcenter"                       # callcenter | pbx; default: callcenter when an agent
//!                                           # of the directory is in the queue, else pbx
//! ```
//!
//! The dialing rules startCall applies (`categoria`, DDRs) are the engine's `[dialing]`
//! section, not this one.

use serde::Deserialize;

/// `[uscall]`. Optional; every field has a default.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UscallConfig {
    /// The longest `dataini`-`datafin` range a report or CDR search may span, in days; a
    /// longer one is `parametro_invalido` (`datafin`). Default 93 (a quarter); 1 to 366.
    #[serde(default = "default_max_report_days")]
    pub max_report_days: u32,
    /// How getQueue shows queues (display name and type). Default none: every queue by its
    /// own name, its type from the directory.
    #[serde(default)]
    pub queue: Vec<QueueDisplay>,
}

/// `[[uscall.queue]]`: getQueue's `nome` and `tipo` of one queue.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QueueDisplay {
    /// The Asterisk queue. Required.
    pub queue: String,
    /// The display name (`nome`). Default: the queue's name.
    #[serde(default)]
    pub name: Option<String>,
    /// `tipo`. Default: `callcenter` when a directory agent is in the queue, else `pbx`.
    #[serde(default, rename = "type")]
    pub kind: Option<QueueKind>,
}

/// USCall's queue types.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    /// A call-center queue (agents log in to it).
    Callcenter,
    /// A plain PBX queue (static members, no agents).
    Pbx,
}

impl QueueKind {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Callcenter => "callcenter",
            Self::Pbx => "pbx",
        }
    }
}

/// Default `max_report_days`: a quarter, so monthly and quarterly exports work.
pub const DEFAULT_MAX_REPORT_DAYS: u32 = 93;

fn default_max_report_days() -> u32 {
    DEFAULT_MAX_REPORT_DAYS
}

impl Default for UscallConfig {
    fn default() -> Self {
        Self {
            max_report_days: DEFAULT_MAX_REPORT_DAYS,
            queue: Vec::new(),
        }
    }
}

fn invalid(field: &'static str, reason: &'static str) -> Result<(), (&'static str, &'static str)> {
    Err((field, reason))
}

impl UscallConfig {
    /// Checks every value; the error names the key and why.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if !(1..=366).contains(&self.max_report_days) {
            return invalid("uscall.max_report_days", "must be 1-366");
        }
        for (i, q) in self.queue.iter().enumerate() {
            if crate::core::directory::QueueName::new(&q.queue).is_err() {
                return invalid(
                    "uscall.queue.queue",
                    "must be a queue name (1-64 of [A-Za-z0-9_-])",
                );
            }
            if self.queue[..i].iter().any(|o| o.queue == q.queue) {
                return invalid("uscall.queue.queue", "must be unique");
            }
            if q.name.as_deref().is_some_and(|n| {
                n.trim().is_empty() || n.chars().count() > 128 || n.chars().any(char::is_control)
            }) {
                return invalid("uscall.queue.name", "must be one line of 1-128 characters");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UscallConfig, String> {
        let c: UscallConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate().map_err(|(f, r)| format!("{f}: {r}"))?;
        Ok(c)
    }

    #[test]
    fn defaults_and_a_full_section() {
        let c = parse("").unwrap();
        assert_eq!(c, UscallConfig::default());
        let c = parse("[[queue]]\nqueue = \"q_soporte\"\nname = \"Suporte\"\ntype = \"pbx\"\n")
            .unwrap();
        assert_eq!(c.queue[0].name.as_deref(), Some("Suporte"));
        assert_eq!(c.queue[0].kind, Some(QueueKind::Pbx));
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "unknown = 1",
            "[[queue]]\nqueue = \"q x\"",
            "[[queue]]\nqueue = \"q\"\ntype = \"ivr\"",
            "[[queue]]\nqueue = \"q\"\nname = \"\"",
            "[[queue]]\nqueue = \"q\"\n[[queue]]\nqueue = \"q\"",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
