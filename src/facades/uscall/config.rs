//! The `[uscall]` section of the configuration: the USCall SOAP webservice
//! (`/aplicativos/webservice/wsuscall.php`).
//!
//! ```toml
//! [uscall]                                  # optional
//! ddr_context = "from-carrier"              # the dialplan context where DDRs (DIDs) are answered
//! ddrs = []                                 # DDRs startCall clicktocall may connect to; none: refused
//! max_report_days = 93                      # longest dataini-datafin range of a report (1-366)
//!
//! [[uscall.category]]                       # startCall's `categoria` (none: every startCall is refused)
//! id = "1"                                  # required: what clients send as categoria, 1-32 of [A-Za-z0-9_-]
//! name = "Nacional"                         # default: the id
//! trunk = "carrier"                         # optional: the trunk the category is meant for (see docs/uscall.md)
//! [[uscall.category.rule]]                  # at least one; the first matching rule wins
//! pattern = "0[5]551XXX"                    # required: Asterisk pattern letters (X Z N [..] . !)
//! strip = 1                                 # leading characters removed; default 0
//! prefix = ""                               # digits added in front; default ""
//!
//! [[uscall.queue]]                          # optional: how getQueue shows a queue
//! queue = "q_soporte"                       # required: the Asterisk queue
//! name = "Suporte técnico"                  # default: the queue's name
//! type = "callcenter"                       # callcenter | pbx; default: callcenter when an agent
//!                                           # of the directory is in the queue, else pbx
//! ```

use serde::Deserialize;

use crate::config::ConfigError;
use crate::core::dialing::{DialRule, DialingCategory};

/// `[uscall]`. Optional; every field has a default.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UscallConfig {
    /// The dialplan context a clicktocall's answered number is connected to, at the DDR.
    /// Default `from-carrier` (where the lab's and a site's inbound DIDs are handled).
    #[serde(default = "default_ddr_context")]
    pub ddr_context: String,
    /// The DDRs (DIDs) clicktocall may connect to. Default none: clicktocall is refused.
    #[serde(default)]
    pub ddrs: Vec<String>,
    /// The dialing rule sets (`categoria`). Default none.
    #[serde(default)]
    pub category: Vec<CategoryConfig>,
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

fn default_ddr_context() -> String {
    "from-carrier".to_owned()
}

impl Default for UscallConfig {
    fn default() -> Self {
        Self {
            ddr_context: default_ddr_context(),
            ddrs: Vec::new(),
            category: Vec::new(),
            max_report_days: DEFAULT_MAX_REPORT_DAYS,
            queue: Vec::new(),
        }
    }
}

/// `[[uscall.category]]`: one dialing rule set.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CategoryConfig {
    /// What clients send as `categoria`. Required.
    pub id: String,
    /// A display name. Default: the id.
    #[serde(default)]
    pub name: Option<String>,
    /// The trunk the category is meant for. Optional.
    #[serde(default)]
    pub trunk: Option<String>,
    /// The rules, first match wins. At least one.
    #[serde(default)]
    pub rule: Vec<RuleConfig>,
}

/// `[[uscall.category.rule]]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The numbers the rule accepts. Required.
    pub pattern: String,
    /// Leading characters removed. Default 0.
    #[serde(default)]
    pub strip: usize,
    /// Digits added in front. Default none.
    #[serde(default)]
    pub prefix: String,
}

fn invalid(field: &'static str, reason: &'static str) -> ConfigError {
    ConfigError::Invalid { field, reason }
}

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl UscallConfig {
    /// Checks every value (called when the configuration is loaded).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=366).contains(&self.max_report_days) {
            return Err(invalid("uscall.max_report_days", "must be 1-366"));
        }
        if !is_name(&self.ddr_context, 80) {
            return Err(invalid(
                "uscall.ddr_context",
                "must be 1-80 of [A-Za-z0-9_-]",
            ));
        }
        if self
            .ddrs
            .iter()
            .any(|d| d.is_empty() || d.len() > 32 || !d.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid("uscall.ddrs", "each must be 1-32 digits"));
        }
        for (i, q) in self.queue.iter().enumerate() {
            if crate::core::directory::QueueName::new(&q.queue).is_err() {
                return Err(invalid(
                    "uscall.queue.queue",
                    "must be a queue name (1-64 of [A-Za-z0-9_-])",
                ));
            }
            if self.queue[..i].iter().any(|o| o.queue == q.queue) {
                return Err(invalid("uscall.queue.queue", "must be unique"));
            }
            if q.name.as_deref().is_some_and(|n| {
                n.trim().is_empty() || n.chars().count() > 128 || n.chars().any(char::is_control)
            }) {
                return Err(invalid(
                    "uscall.queue.name",
                    "must be one line of 1-128 characters",
                ));
            }
        }
        self.categories().map(|_| ())
    }

    /// The dialing categories, validated.
    pub fn categories(&self) -> Result<Vec<DialingCategory>, ConfigError> {
        let mut out: Vec<DialingCategory> = Vec::new();
        for c in &self.category {
            if !is_name(&c.id, 32) {
                return Err(invalid(
                    "uscall.category.id",
                    "must be 1-32 of [A-Za-z0-9_-]",
                ));
            }
            if out.iter().any(|o| o.id == c.id) {
                return Err(invalid("uscall.category.id", "must be unique"));
            }
            if c.trunk.as_deref().is_some_and(|t| !is_name(t, 64)) {
                return Err(invalid(
                    "uscall.category.trunk",
                    "must be 1-64 of [A-Za-z0-9_-]",
                ));
            }
            if c.name
                .as_deref()
                .is_some_and(|n| n.chars().any(char::is_control))
            {
                return Err(invalid("uscall.category.name", "must be one line"));
            }
            if c.rule.is_empty() {
                return Err(invalid(
                    "uscall.category.rule",
                    "every category needs a rule",
                ));
            }
            let rules = c
                .rule
                .iter()
                .map(|r| DialRule::new(&r.pattern, r.strip, &r.prefix))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    invalid(
                        "uscall.category.rule",
                        "pattern must use digits, + * #, X Z N, [sets], a final . or !; \
                         prefix digits with an optional leading +",
                    )
                })?;
            out.push(DialingCategory {
                id: c.id.clone(),
                name: c.name.clone().unwrap_or_else(|| c.id.clone()),
                rules,
                trunk: c.trunk.clone(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UscallConfig, String> {
        let c: UscallConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn defaults_and_a_full_section() {
        let c = parse("").unwrap();
        assert_eq!(c, UscallConfig::default());
        assert_eq!(c.ddr_context, "from-carrier");
        let c = parse(
            "ddrs = [\"26002000\"]\n[[category]]\nid = \"1\"\ntrunk = \"carrier\"\n\
             [[category.rule]]\npattern = \"0[5]551XXX\"\nstrip = 1\n\
             [[category.rule]]\npattern = \"5551XXX\"\n",
        )
        .unwrap();
        let cats = c.categories().unwrap();
        assert_eq!(cats[0].name, "1");
        let c = parse("[[queue]]\nqueue = \"q_soporte\"\nname = \"Suporte\"\ntype = \"pbx\"\n")
            .unwrap();
        assert_eq!(c.queue[0].name.as_deref(), Some("Suporte"));
        assert_eq!(c.queue[0].kind, Some(QueueKind::Pbx));
        assert_eq!(cats[0].apply("05551030").unwrap().as_str(), "5551030");
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            "unknown = 1",
            "ddr_context = \"a b\"",
            "ddrs = [\"26a\"]",
            "[[category]]\nid = \"1\"",
            "[[category]]\nid = \"a b\"\n[[category.rule]]\npattern = \"X\"",
            "[[category]]\nid = \"1\"\n[[category.rule]]\npattern = \"9.9\"",
            "[[category]]\nid = \"1\"\n[[category.rule]]\npattern = \"X\"\nprefix = \"&\"",
            "[[category]]\nid = \"1\"\ntrunk = \"a/b\"\n[[category.rule]]\npattern = \"X\"",
            "[[category]]\nid = \"1\"\n[[category.rule]]\npattern = \"X\"\n\
             [[category]]\nid = \"1\"\n[[category.rule]]\npattern = \"X\"",
            "[[category]]\nid = \"1\"\n[[category.rule]]\npattern = \"X\"\nextra = 1",
            "[[queue]]\nqueue = \"q x\"",
            "[[queue]]\nqueue = \"q\"\ntype = \"ivr\"",
            "[[queue]]\nqueue = \"q\"\nname = \"\"",
            "[[queue]]\nqueue = \"q\"\n[[queue]]\nqueue = \"q\"",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
