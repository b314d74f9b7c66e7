//! The `[dialing]` section: the site's dialing rules (`core::dialing`): the categories a
//! call may be dialed by (USCall's `categoria`), and the DDRs a call may be connected to,
//! which the core checks for every call (`core::call_checks`).
//!
//! ```toml
//! [dialing]                                 # optional
//! ddr_context = "from-carrier"              # the dialplan context where DDRs (DIDs) are answered
//! ddrs = []                                 # DDRs a call may be connected to (USCall clicktocall); none: refused
//!
//! [[dialing.category]]                      # USCall startCall's `categoria` (none: every startCall is refused)
//! id = "1"                                  # required: what clients send as categoria, 1-32 of [A-Za-z0-9_-]
//! name = "Nacional"                         # default: the id
//! trunk = "carrier"                         # optional: the trunk the category is meant for (see docs/uscall.md)
//! [[dialing.category.rule]]                 # at least one; the first matching rule wins
//! pattern = "0[5]551XXX"                    # required: Asterisk pattern letters (X Z N [..] . !)
//! strip = 1                                 # leading characters removed; default 0
//! prefix = ""                               # digits added in front; default ""
//! ```
//!
//! Older files hold these keys in `[uscall]` (`ddr_context`, `ddrs`, `[[uscall.category]]`);
//! they are still read (see `legacy`).

use serde::Deserialize;

use crate::core::dialing::{DialRule, DialingCategory, DialingPlan};

/// `[dialing]`. Optional; every field has a default.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DialingConfig {
    /// The dialplan context a call connected to a DDR enters. Default `from-carrier` (where
    /// the lab's and a site's inbound DIDs are handled).
    #[serde(default = "default_ddr_context")]
    pub ddr_context: String,
    /// The DDRs (DIDs) calls may be connected to. Default none: such calls are refused.
    #[serde(default)]
    pub ddrs: Vec<String>,
    /// The dialing rule sets. Default none.
    #[serde(default)]
    pub category: Vec<CategoryConfig>,
}

impl Default for DialingConfig {
    fn default() -> Self {
        Self {
            ddr_context: default_ddr_context(),
            ddrs: Vec::new(),
            category: Vec::new(),
        }
    }
}

fn default_ddr_context() -> String {
    "from-carrier".to_owned()
}

/// `[[dialing.category]]`: one dialing rule set.
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

/// `[[dialing.category.rule]]`.
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

type Invalid = (&'static str, &'static str);

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl DialingConfig {
    /// Checks every value; the error names the key and why.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !is_name(&self.ddr_context, 80) {
            return Err(("dialing.ddr_context", "must be 1-80 of [A-Za-z0-9_-]"));
        }
        if self
            .ddrs
            .iter()
            .any(|d| d.is_empty() || d.len() > 32 || !d.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(("dialing.ddrs", "each must be 1-32 digits"));
        }
        self.categories().map(|_| ())
    }

    /// The site's dialing plan (values that fail validation are left out; a validated
    /// configuration has none).
    pub fn plan(&self) -> DialingPlan {
        DialingPlan {
            ddr_context: self.ddr_context.clone(),
            ddrs: self.ddrs.clone(),
            categories: self.categories().unwrap_or_default(),
        }
    }

    /// The dialing categories, validated.
    pub fn categories(&self) -> Result<Vec<DialingCategory>, Invalid> {
        let mut out: Vec<DialingCategory> = Vec::new();
        for c in &self.category {
            if !is_name(&c.id, 32) {
                return Err(("dialing.category.id", "must be 1-32 of [A-Za-z0-9_-]"));
            }
            if out.iter().any(|o| o.id == c.id) {
                return Err(("dialing.category.id", "must be unique"));
            }
            if c.trunk.as_deref().is_some_and(|t| !is_name(t, 64)) {
                return Err(("dialing.category.trunk", "must be 1-64 of [A-Za-z0-9_-]"));
            }
            if c.name
                .as_deref()
                .is_some_and(|n| n.chars().any(char::is_control))
            {
                return Err(("dialing.category.name", "must be one line"));
            }
            if c.rule.is_empty() {
                return Err(("dialing.category.rule", "every category needs a rule"));
            }
            let rules = c
                .rule
                .iter()
                .map(|r| DialRule::new(&r.pattern, r.strip, &r.prefix))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    (
                        "dialing.category.rule",
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

    fn parse(text: &str) -> Result<DialingConfig, String> {
        let c: DialingConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate().map_err(|(f, r)| format!("{f}: {r}"))?;
        Ok(c)
    }

    #[test]
    fn defaults_and_a_full_section() {
        let c = parse("").unwrap();
        assert_eq!(c, DialingConfig::default());
        assert_eq!(c.ddr_context, "from-carrier");
        let c = parse(
            "ddrs = [\"26002000\"]\n[[category]]\nid = \"1\"\ntrunk = \"carrier\"\n\
             [[category.rule]]\npattern = \"0[5]551XXX\"\nstrip = 1\n\
             [[category.rule]]\npattern = \"5551XXX\"\n",
        )
        .unwrap();
        let cats = c.categories().unwrap();
        assert_eq!(cats[0].name, "1");
        assert_eq!(cats[0].apply("05551030").unwrap().as_str(), "5551030");
        let plan = c.plan();
        assert_eq!(plan.ddrs, ["26002000"]);
        assert_eq!(plan.ddr_context, "from-carrier");
        assert_eq!(plan.category("1"), Some(&cats[0]));
        assert_eq!(plan.category("2"), None);
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
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
