//! The `[campaigns]` section: the call center's campaigns (`core::campaigns`): their queues,
//! trunks, caller ids and dispositions, and the blacklist the dialplan asks about (FastAGI).
//! uContact's campaign operations serve them today; every API sees the same campaigns.
//!
//! ```toml
//! [[campaigns.campaign]]              # any number; campaigns are configuration
//! name = "Cobranza->"                 # required: 1-64 printable characters, not "*", unique
//! queue = "q_cobranza"                # optional: the Asterisk queue of its agents and figures (one campaign per queue)
//! outbound = true                     # default false: agents may place calls for it (uContact AgentCall)
//! trunk = "carrier"                   # optional: the trunk its calls leave through (default: the dialplan's TRUNK)
//! callerid = "26003000"               # optional: the number customers see when the request sends none
//!
//! [[campaigns.campaign.disposition]]  # the campaign's dispositions, three levels
//! l1 = "Venta"                        # required
//! l2 = ""                             # default "": none
//! l3 = ""                             # default "": none
//! action = "NONE"                     # NONE | BLACKLIST | RESPOOL | RESPOOLALTERNATIVE | RESCHEDULE (default NONE)
//! txtcode = "V01"                     # default "": the code DispositionCall answers
//! ```
//!
//! A `[campaigns]` table holding a `campaign` list (rather than top-level `[[campaign]]`
//! tables) keeps every top-level name a section of one concern, reads like `[dialing]`'s
//! `[[dialing.category]]`, and leaves room for settings of all campaigns beside the list.
//! Older files hold the list in `[ucontact]` (`[[ucontact.campaign]]`); it is still read (see
//! `legacy`).

use serde::Deserialize;

use crate::core::campaigns::{Campaign, CampaignName, DispositionAction, DispositionRule};
use crate::core::directory::{QueueName, TrunkName};

/// `[campaigns]`. Optional; no campaigns by default.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CampaignsConfig {
    /// The campaigns (`[[campaigns.campaign]]`). Default none.
    #[serde(default)]
    pub campaign: Vec<CampaignConfig>,
}

/// `[[campaigns.campaign]]`.
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

/// `[[campaigns.campaign.disposition]]`.
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

impl CampaignsConfig {
    /// Checks every value; the error names the key and why.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        let mut names = std::collections::BTreeSet::new();
        let mut queues = std::collections::BTreeSet::new();
        for c in &self.campaign {
            if CampaignName::parse(&c.name).is_none() {
                return Err((
                    "campaigns.campaign.name",
                    "must be 1-64 printable characters, not \"*\"",
                ));
            }
            if !names.insert(c.name.clone()) {
                return Err(("campaigns.campaign.name", "campaign names must be unique"));
            }
            if let Some(q) = &c.queue {
                if QueueName::new(q.clone()).is_err() {
                    return Err(("campaigns.campaign.queue", "must be 1-64 of [A-Za-z0-9_-]"));
                }
                if !queues.insert(q.clone()) {
                    return Err(("campaigns.campaign.queue", "one campaign per queue"));
                }
            }
            if c.trunk
                .as_ref()
                .is_some_and(|t| TrunkName::new(t.clone()).is_err())
            {
                return Err(("campaigns.campaign.trunk", "must be 1-64 of [A-Za-z0-9_-]"));
            }
            if c.callerid.as_ref().is_some_and(|n| {
                n.is_empty()
                    || n.len() > 32
                    || !n.chars().all(|ch| ch.is_ascii_digit() || ch == '+')
            }) {
                return Err((
                    "campaigns.campaign.callerid",
                    "must be 1-32 digits (+ allowed)",
                ));
            }
            let mut levels = std::collections::BTreeSet::new();
            for d in &c.disposition {
                if !level_ok(&d.l1, true) || !level_ok(&d.l2, false) || !level_ok(&d.l3, false) {
                    return Err((
                        "campaigns.campaign.disposition",
                        "l1 is required; levels are up to 64 printable characters, trimmed",
                    ));
                }
                if DispositionAction::parse(&d.action).is_none() {
                    return Err((
                        "campaigns.campaign.disposition.action",
                        "must be NONE, BLACKLIST, RESPOOL, RESPOOLALTERNATIVE or RESCHEDULE",
                    ));
                }
                if !level_ok(&d.txtcode, false) {
                    return Err((
                        "campaigns.campaign.disposition.txtcode",
                        "up to 64 printable characters",
                    ));
                }
                if !levels.insert((d.l1.clone(), d.l2.clone(), d.l3.clone())) {
                    return Err((
                        "campaigns.campaign.disposition",
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

    fn parse(text: &str) -> Result<CampaignsConfig, String> {
        #[derive(Deserialize)]
        struct W {
            campaigns: CampaignsConfig,
        }
        let w: W = toml::from_str(text).map_err(|e| e.to_string())?;
        w.campaigns
            .validate()
            .map_err(|(f, r)| format!("{f}: {r}"))?;
        Ok(w.campaigns)
    }

    #[test]
    fn defaults_campaigns_and_refusals() {
        let c = parse("[campaigns]\n").unwrap();
        assert_eq!(c, CampaignsConfig::default());
        let c = parse(
            "[[campaigns.campaign]]\nname = \"Cobranza->\"\nqueue = \"q_cobranza\"\n\
             outbound = true\ntrunk = \"carrier\"\ncallerid = \"26003000\"\n\
             [[campaigns.campaign.disposition]]\nl1 = \"No llamar\"\naction = \"blacklist\"\ntxtcode = \"NL\"\n",
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
            "[campaigns]\nnope = 1\n",
            "[[campaigns.campaign]]\nname = \"*\"\n",
            "[[campaigns.campaign]]\nname = \"a\"\n[[campaigns.campaign]]\nname = \"a\"\n",
            "[[campaigns.campaign]]\nname = \"a\"\ntrunk = \"x&y\"\n",
            "[[campaigns.campaign]]\nname = \"a\"\nqueue = \"q 1\"\n",
            "[[campaigns.campaign]]\nname = \"a\"\n[[campaigns.campaign.disposition]]\nl1 = \"x\"\naction = \"FLY\"\n",
            "[[campaigns.campaign]]\nname = \"a\"\n[[campaigns.campaign.disposition]]\nl1 = \"\"\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
