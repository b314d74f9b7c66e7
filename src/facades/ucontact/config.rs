//! The `[ucontact]` section of the configuration: the uContact Integra REST API (`/Integra/resources/...`).
//!
//! ```toml
//! [ucontact]                          # optional
//! session_idle_seconds = 28800        # a session token unused this long ends (60-604800)
//! max_search_limit = 500              # most getrecords rows per page (1-10000)
//! max_report_days = 93                # longest getrecords calldatei-calldatef range, days (1-366)
//! max_bulk_items = 1000               # most objects in one addblackbulk/deleteblackbulk (1-10000)
//! record_link_seconds = 3600          # how long a signed recording link of getrecords works (60-604800)
//!
//! [[ucontact.campaign]]               # any number; campaigns are configuration
//! name = "Cobranza->"                 # required: 1-64 printable characters, not "*", unique
//! queue = "q_cobranza"                # optional: the Asterisk queue of its agents and figures (one campaign per queue)
//! outbound = true                     # default false: agents may place AgentCall for it
//! trunk = "carrier"                   # optional: the trunk its calls leave through (default: the dialplan's TRUNK)
//! callerid = "26003000"               # optional: the number customers see when the request sends none
//!
//! [[ucontact.campaign.disposition]]   # the campaign's dispositions, three levels
//! l1 = "Venta"                        # required
//! l2 = ""                             # default "": none
//! l3 = ""                             # default "": none
//! action = "NONE"                     # NONE | BLACKLIST | RESPOOL | RESPOOLALTERNATIVE | RESCHEDULE (default NONE)
//! txtcode = "V01"                     # default "": the code DispositionCall answers
//! ```

use serde::Deserialize;

use crate::core::campaigns::{Campaign, CampaignName, DispositionAction, DispositionRule};
use crate::core::directory::{QueueName, TrunkName};

/// Default `session_idle_seconds`: 8 hours.
pub const DEFAULT_SESSION_IDLE_SECONDS: u64 = 28_800;
/// Default `max_search_limit`.
pub const DEFAULT_MAX_SEARCH_LIMIT: usize = 500;

/// `[ucontact]`. Optional; every field has a default.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UcontactConfig {
    /// A session token unused for this long ends. Default 28800 (8 h); 60-604800.
    #[serde(default = "default_idle")]
    pub session_idle_seconds: u64,
    /// Most rows `Cdr/getrecords` answers per page. Default 500; 1-10000.
    #[serde(default = "default_max_search")]
    pub max_search_limit: usize,
    /// The longest `calldatei`-`calldatef` range of `Cdr/getrecords`, in days; a longer one is
    /// answered `0`. Default 93 (a quarter); 1-366.
    #[serde(default = "default_max_report_days")]
    pub max_report_days: u32,
    /// Most objects one `addblackbulk` / `deleteblackbulk` may carry; more are answered `0`
    /// before any is decoded. Default 1000; 1-10000.
    #[serde(default = "default_max_bulk_items")]
    pub max_bulk_items: usize,
    /// How long a signed recording link (getrecords' `record_url`) works after it was issued,
    /// in seconds. Default 3600; 60-604800.
    #[serde(default = "default_record_link_seconds")]
    pub record_link_seconds: u64,
    /// The campaigns. Default none.
    #[serde(default)]
    pub campaign: Vec<CampaignConfig>,
}

impl Default for UcontactConfig {
    fn default() -> Self {
        Self {
            session_idle_seconds: DEFAULT_SESSION_IDLE_SECONDS,
            max_search_limit: DEFAULT_MAX_SEARCH_LIMIT,
            max_report_days: DEFAULT_MAX_REPORT_DAYS,
            max_bulk_items: DEFAULT_MAX_BULK_ITEMS,
            record_link_seconds: DEFAULT_RECORD_LINK_SECONDS,
            campaign: Vec::new(),
        }
    }
}

fn default_idle() -> u64 {
    DEFAULT_SESSION_IDLE_SECONDS
}

fn default_max_search() -> usize {
    DEFAULT_MAX_SEARCH_LIMIT
}

/// Default `max_report_days`: a quarter, so monthly and quarterly exports work.
pub const DEFAULT_MAX_REPORT_DAYS: u32 = 93;
/// Default `max_bulk_items`.
pub const DEFAULT_MAX_BULK_ITEMS: usize = 1000;

fn default_max_report_days() -> u32 {
    DEFAULT_MAX_REPORT_DAYS
}

fn default_max_bulk_items() -> usize {
    DEFAULT_MAX_BULK_ITEMS
}

/// Default `record_link_seconds`: an hour.
pub const DEFAULT_RECORD_LINK_SECONDS: u64 = 3600;

fn default_record_link_seconds() -> u64 {
    DEFAULT_RECORD_LINK_SECONDS
}

/// `[[ucontact.campaign]]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CampaignConfig {
    /// The campaign's name as clients spell it. Required.
    pub name: String,
    /// Its Asterisk queue. Default none.
    #[serde(default)]
    pub queue: Option<String>,
    /// Whether agents may place calls for it. Default false.
    #[serde(default)]
    pub outbound: bool,
    /// The trunk its calls leave through. Default: the dialplan's.
    #[serde(default)]
    pub trunk: Option<String>,
    /// The caller id number customers see by default. Default: the dialplan's.
    #[serde(default)]
    pub callerid: Option<String>,
    /// Its dispositions. Default none.
    #[serde(default)]
    pub disposition: Vec<DispositionConfig>,
}

/// `[[ucontact.campaign.disposition]]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DispositionConfig {
    /// Level 1. Required.
    pub l1: String,
    /// Level 2. Default "".
    #[serde(default)]
    pub l2: String,
    /// Level 3. Default "".
    #[serde(default)]
    pub l3: String,
    /// The action. Default `NONE`.
    #[serde(default)]
    pub action: String,
    /// The answered code. Default "".
    #[serde(default)]
    pub txtcode: String,
}

fn level_ok(s: &str, required: bool) -> bool {
    (!required || !s.trim().is_empty())
        && s.trim() == s
        && s.chars().count() <= 64
        && !s.chars().any(char::is_control)
}

impl UcontactConfig {
    /// Checks every value; the error names the key and why.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if !(60..=604_800).contains(&self.session_idle_seconds) {
            return Err(("ucontact.session_idle_seconds", "must be 60-604800"));
        }
        if !(1..=10_000).contains(&self.max_search_limit) {
            return Err(("ucontact.max_search_limit", "must be 1-10000"));
        }
        if !(1..=366).contains(&self.max_report_days) {
            return Err(("ucontact.max_report_days", "must be 1-366"));
        }
        if !(1..=10_000).contains(&self.max_bulk_items) {
            return Err(("ucontact.max_bulk_items", "must be 1-10000"));
        }
        if !(60..=604_800).contains(&self.record_link_seconds) {
            return Err(("ucontact.record_link_seconds", "must be 60-604800"));
        }
        let mut names = std::collections::BTreeSet::new();
        let mut queues = std::collections::BTreeSet::new();
        for c in &self.campaign {
            if CampaignName::parse(&c.name).is_none() {
                return Err((
                    "ucontact.campaign.name",
                    "must be 1-64 printable characters, not \"*\"",
                ));
            }
            if !names.insert(c.name.clone()) {
                return Err(("ucontact.campaign.name", "campaign names must be unique"));
            }
            if let Some(q) = &c.queue {
                if QueueName::new(q.clone()).is_err() {
                    return Err(("ucontact.campaign.queue", "must be 1-64 of [A-Za-z0-9_-]"));
                }
                if !queues.insert(q.clone()) {
                    return Err(("ucontact.campaign.queue", "one campaign per queue"));
                }
            }
            if c.trunk
                .as_ref()
                .is_some_and(|t| TrunkName::new(t.clone()).is_err())
            {
                return Err(("ucontact.campaign.trunk", "must be 1-64 of [A-Za-z0-9_-]"));
            }
            if c.callerid.as_ref().is_some_and(|n| {
                n.is_empty()
                    || n.len() > 32
                    || !n.chars().all(|ch| ch.is_ascii_digit() || ch == '+')
            }) {
                return Err((
                    "ucontact.campaign.callerid",
                    "must be 1-32 digits (+ allowed)",
                ));
            }
            let mut levels = std::collections::BTreeSet::new();
            for d in &c.disposition {
                if !level_ok(&d.l1, true) || !level_ok(&d.l2, false) || !level_ok(&d.l3, false) {
                    return Err((
                        "ucontact.campaign.disposition",
                        "l1 is required; levels are up to 64 printable characters, trimmed",
                    ));
                }
                if DispositionAction::parse(&d.action).is_none() {
                    return Err((
                        "ucontact.campaign.disposition.action",
                        "must be NONE, BLACKLIST, RESPOOL, RESPOOLALTERNATIVE or RESCHEDULE",
                    ));
                }
                if !level_ok(&d.txtcode, false) {
                    return Err((
                        "ucontact.campaign.disposition.txtcode",
                        "up to 64 printable characters",
                    ));
                }
                if !levels.insert((d.l1.clone(), d.l2.clone(), d.l3.clone())) {
                    return Err((
                        "ucontact.campaign.disposition",
                        "each l1/l2/l3 combination once per campaign",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The campaigns as the core knows them (values that fail validation are left out; a
    /// validated configuration has none).
    pub fn campaigns(&self) -> Vec<Campaign> {
        self.campaign
            .iter()
            .filter_map(|c| {
                Some(Campaign {
                    name: CampaignName::parse(&c.name)?,
                    queue: c.queue.clone().and_then(|q| QueueName::new(q).ok()),
                    trunk: c.trunk.clone().and_then(|t| TrunkName::new(t).ok()),
                    caller_id: c.callerid.clone(),
                    outbound: c.outbound,
                    dispositions: c
                        .disposition
                        .iter()
                        .filter_map(|d| {
                            Some(DispositionRule {
                                l1: d.l1.clone(),
                                l2: d.l2.clone(),
                                l3: d.l3.clone(),
                                action: DispositionAction::parse(&d.action)?,
                                txtcode: d.txtcode.clone(),
                            })
                        })
                        .collect(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UcontactConfig, String> {
        #[derive(Deserialize)]
        struct W {
            ucontact: UcontactConfig,
        }
        let w: W = toml::from_str(text).map_err(|e| e.to_string())?;
        w.ucontact
            .validate()
            .map_err(|(f, r)| format!("{f}: {r}"))?;
        Ok(w.ucontact)
    }

    #[test]
    fn defaults_campaigns_and_refusals() {
        let c = parse("[ucontact]\n").unwrap();
        assert_eq!(c, UcontactConfig::default());
        let c = parse(
            "[ucontact]\n[[ucontact.campaign]]\nname = \"Cobranza->\"\nqueue = \"q_cobranza\"\n\
             outbound = true\ntrunk = \"carrier\"\ncallerid = \"26003000\"\n\
             [[ucontact.campaign.disposition]]\nl1 = \"No llamar\"\naction = \"blacklist\"\ntxtcode = \"NL\"\n",
        )
        .unwrap();
        let camps = c.campaigns();
        assert_eq!(camps.len(), 1);
        assert_eq!(camps[0].trunk.as_ref().unwrap().as_str(), "carrier");
        assert_eq!(
            camps[0].dispositions[0].action,
            DispositionAction::Blacklist
        );
        for bad in [
            "[ucontact]\nsession_idle_seconds = 5\n",
            "[ucontact]\nnope = 1\n",
            "[ucontact]\n[[ucontact.campaign]]\nname = \"*\"\n",
            "[ucontact]\n[[ucontact.campaign]]\nname = \"a\"\n[[ucontact.campaign]]\nname = \"a\"\n",
            "[ucontact]\n[[ucontact.campaign]]\nname = \"a\"\ntrunk = \"x&y\"\n",
            "[ucontact]\n[[ucontact.campaign]]\nname = \"a\"\nqueue = \"q 1\"\n",
            "[ucontact]\n[[ucontact.campaign]]\nname = \"a\"\n[[ucontact.campaign.disposition]]\nl1 = \"x\"\naction = \"FLY\"\n",
            "[ucontact]\n[[ucontact.campaign]]\nname = \"a\"\n[[ucontact.campaign.disposition]]\nl1 = \"\"\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
