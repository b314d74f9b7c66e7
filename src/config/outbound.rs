//! The `[outbound]` section: the outbound policy (toll fraud).

use serde::Deserialize;

/// The `[outbound]` section: the outbound policy every originate job must pass
/// ([`crate::core::outbound_policy`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// Patterns of the numbers every credential may dial. Default `["_NXXXXXX", "_NXXXXXXX",
    /// "_0ZXXXXXXX"]`.
    #[serde(default = "default_national")]
    pub national: Vec<String>,
    /// Patterns of the PBX's own extensions, allowed for everyone. Default `["_1XXX"]`.
    #[serde(default = "default_internal")]
    pub internal: Vec<String>,
    /// Prefixes of international numbers, refused unless an allow list admits them. Default
    /// `["00", "+"]`.
    #[serde(default = "default_international")]
    pub international_prefixes: Vec<String>,
    /// Prefixes of premium-rate numbers, refused unless an allow list admits them. Default
    /// `["0900"]`.
    #[serde(default = "default_premium")]
    pub premium_prefixes: Vec<String>,
    /// Calls a credential may start in any 60 s. Default 30; 1-100000.
    #[serde(default = "default_calls_per_minute")]
    pub calls_per_minute: u32,
    /// Calls a credential may have in flight. Default 10; 1-100000.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
    /// Per-credential overrides (`[[outbound.credential]]`). Default none.
    #[serde(default)]
    pub credential: Vec<OutboundCredentialConfig>,
    /// Per-campaign allow lists (`[[outbound.campaign]]`). Default none.
    #[serde(default)]
    pub campaign: Vec<OutboundCampaignConfig>,
}

/// One `[[outbound.credential]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundCredentialConfig {
    /// The credential id, its system name, or a uContact user name. Required.
    pub principal: String,
    /// Only for this API: `expand`, `uscall`, `ucontact` or `dialer` (the engine's outbound
    /// dialer, principal `dialer`). Default: any.
    #[serde(default)]
    pub api: Option<String>,
    /// Patterns it may dial, replacing `national`. Default: `national`.
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    /// Its calls per minute. Default: `outbound.calls_per_minute`.
    #[serde(default)]
    pub calls_per_minute: Option<u32>,
    /// Its calls in flight. Default: `outbound.max_concurrent`.
    #[serde(default)]
    pub max_concurrent: Option<u32>,
}

/// One `[[outbound.campaign]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundCampaignConfig {
    /// The campaign's name (uContact `outqueue`). Required.
    pub name: String,
    /// Patterns its calls may dial, replacing the credential's and `national`. Required.
    pub allow: Vec<String>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            national: default_national(),
            internal: default_internal(),
            international_prefixes: default_international(),
            premium_prefixes: default_premium(),
            calls_per_minute: default_calls_per_minute(),
            max_concurrent: default_max_concurrent(),
            credential: Vec::new(),
            campaign: Vec::new(),
        }
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn default_national() -> Vec<String> {
    strings(crate::core::outbound_policy::DEFAULT_NATIONAL)
}

fn default_internal() -> Vec<String> {
    strings(crate::core::outbound_policy::DEFAULT_INTERNAL)
}

fn default_international() -> Vec<String> {
    strings(crate::core::outbound_policy::DEFAULT_INTERNATIONAL)
}

fn default_premium() -> Vec<String> {
    strings(crate::core::outbound_policy::DEFAULT_PREMIUM)
}

fn default_calls_per_minute() -> u32 {
    crate::core::outbound_policy::OutboundLimits::DEFAULT.calls_per_minute
}

fn default_max_concurrent() -> u32 {
    crate::core::outbound_policy::OutboundLimits::DEFAULT.max_concurrent
}

impl OutboundConfig {
    /// The policy, or the key that makes it unusable and why.
    pub fn policy(
        &self,
    ) -> Result<crate::core::outbound_policy::OutboundPolicy, (&'static str, &'static str)> {
        use crate::core::outbound_policy::{
            parse_patterns, parse_prefix, CampaignRule, CredentialRule, OutboundLimits,
            OutboundPolicy, MAX_LIMIT,
        };
        const PATTERN: &str =
            "each must be a dialing pattern (digits, + * #, X Z N, [sets], final . or !)";
        const PREFIX: &str = "each must be 1-16 digits, optionally after a leading +";
        const LIMIT: &str = "must be 1-100000";
        let limit_ok = |l: u32| (1..=MAX_LIMIT).contains(&l);
        let national =
            parse_patterns(&self.national).map_err(|_| ("outbound.national", PATTERN))?;
        let internal =
            parse_patterns(&self.internal).map_err(|_| ("outbound.internal", PATTERN))?;
        for p in &self.international_prefixes {
            parse_prefix(p).map_err(|_| ("outbound.international_prefixes", PREFIX))?;
        }
        for p in &self.premium_prefixes {
            parse_prefix(p).map_err(|_| ("outbound.premium_prefixes", PREFIX))?;
        }
        if !limit_ok(self.calls_per_minute) {
            return Err(("outbound.calls_per_minute", LIMIT));
        }
        if !limit_ok(self.max_concurrent) {
            return Err(("outbound.max_concurrent", LIMIT));
        }
        let mut credentials = Vec::new();
        for c in &self.credential {
            if c.principal.is_empty() || c.principal.chars().count() > 128 {
                return Err(("outbound.credential.principal", "must be 1-128 characters"));
            }
            if let Some(api) = &c.api {
                if !matches!(api.as_str(), "expand" | "uscall" | "ucontact" | "dialer") {
                    return Err((
                        "outbound.credential.api",
                        "must be expand, uscall, ucontact or dialer",
                    ));
                }
            }
            if c.calls_per_minute.is_some_and(|l| !limit_ok(l)) {
                return Err(("outbound.credential.calls_per_minute", LIMIT));
            }
            if c.max_concurrent.is_some_and(|l| !limit_ok(l)) {
                return Err(("outbound.credential.max_concurrent", LIMIT));
            }
            let allow = c
                .allow
                .as_deref()
                .map(parse_patterns)
                .transpose()
                .map_err(|_| ("outbound.credential.allow", PATTERN))?;
            credentials.push(CredentialRule {
                principal: c.principal.clone(),
                api: c.api.clone(),
                allow,
                calls_per_minute: c.calls_per_minute,
                max_concurrent: c.max_concurrent,
            });
        }
        let mut campaigns = Vec::new();
        for c in &self.campaign {
            if c.name.is_empty() || c.name.chars().count() > 128 {
                return Err(("outbound.campaign.name", "must be 1-128 characters"));
            }
            let allow =
                parse_patterns(&c.allow).map_err(|_| ("outbound.campaign.allow", PATTERN))?;
            campaigns.push(CampaignRule {
                campaign: c.name.clone(),
                allow,
            });
        }
        OutboundPolicy::new(
            national,
            internal,
            self.international_prefixes.clone(),
            self.premium_prefixes.clone(),
            OutboundLimits {
                calls_per_minute: self.calls_per_minute,
                max_concurrent: self.max_concurrent,
            },
            credentials,
            campaigns,
        )
        .map_err(|_| ("outbound", "invalid outbound policy"))
    }
}
