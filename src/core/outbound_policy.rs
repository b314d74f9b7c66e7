//! The outbound policy against toll fraud: which numbers a credential (or a campaign) may have
//! the engine dial, how many calls it may start per minute and how many it may have in flight.
//!
//! [`OutboundPolicy::check`] is the pure rule; [`super::originate_service::OriginateService`]
//! applies it to every job before the job is stored, so no facade can place a call around it.
//! **Architecture Invariant:** a refused job is never stored and nothing is sent to the PBX.
//!
//! The destination rule, in order (the first that applies decides):
//!
//! 1. A number that starts with an **international prefix** (default `00` and `+`) or a
//!    **premium-rate prefix** (default `0900`) is refused unless the applicable *allow list*
//!    (the campaign's, else the credential's) has a pattern matching it. The site's national
//!    patterns never admit such a number, whatever they say.
//! 2. A number matching an **internal** pattern (default `_1XXX`, what the shipped dialplan's
//!    `centralita-originate` context sends to `[internal]`) is allowed for everyone: it rings a
//!    phone of the PBX and never reaches the trunk.
//! 3. Otherwise the number must match the applicable allow list: the campaign's (a call placed
//!    for a uContact campaign that has one), else the credential's, else the site's **national**
//!    patterns.
//!
//! Patterns are [`DialPattern`]s (Asterisk-style, `_NXXXXXX`), the same matcher as the dialing
//! rule sets. Then two limits, per credential (the API and principal of the [`Actor`]): at most
//! `max_concurrent` jobs in flight (stored and not yet final) and at most `calls_per_minute`
//! jobs started in any 60 s ([`RateWindow`]). Internal calls count towards both limits.
//! Refused attempts count towards neither.
//!
//! A credential's override ([`CredentialRule`]) is found by its principal: the credential id,
//! the credential's system name ([`Actor::system`]) or a uContact user name, optionally only for
//! one API. The first matching override wins.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::audit::Actor;
use super::dialing::{DialPattern, DialingError};

/// The window of [`OutboundLimits::calls_per_minute`].
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Largest accepted limit (calls per minute or in flight).
pub const MAX_LIMIT: u32 = 100_000;

/// Longest accepted prefix.
pub const MAX_PREFIX: usize = 16;

/// Why a call was refused. The `Display` text names the rule (it is what the action journal
/// records as the outcome).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The number starts with an international prefix and no allow list admits it.
    #[error(
        "international number {number} (prefix {prefix}) is not allowed (rule: international)"
    )]
    International {
        /// The number.
        number: String,
        /// The prefix it starts with.
        prefix: String,
    },
    /// The number starts with a premium-rate prefix and no allow list admits it.
    #[error("premium-rate number {number} (prefix {prefix}) is not allowed (rule: premium)")]
    Premium {
        /// The number.
        number: String,
        /// The prefix it starts with.
        prefix: String,
    },
    /// The number matches none of the allowed patterns.
    #[error("number {number} matches no allowed pattern of {list} (rule: destination)")]
    NotAllowed {
        /// The number.
        number: String,
        /// Which list was applied: `national`, `credential <key>` or `campaign <name>`.
        list: String,
    },
    /// The credential started its allowed number of calls in the last minute.
    #[error("more than {limit} calls per minute (rule: rate)")]
    Rate {
        /// The credential's calls per minute.
        limit: u32,
    },
    /// The credential has its allowed number of calls in flight.
    #[error("more than {limit} calls in flight (rule: concurrency)")]
    Concurrency {
        /// The credential's cap.
        limit: u32,
    },
}

impl Refusal {
    /// The rule's short name: `international`, `premium`, `destination`, `rate`, `concurrency`.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::International { .. } => "international",
            Self::Premium { .. } => "premium",
            Self::NotAllowed { .. } => "destination",
            Self::Rate { .. } => "rate",
            Self::Concurrency { .. } => "concurrency",
        }
    }

    /// Whether the number was refused (rather than a limit reached).
    pub fn is_destination(&self) -> bool {
        matches!(
            self,
            Self::International { .. } | Self::Premium { .. } | Self::NotAllowed { .. }
        )
    }
}

/// A value of the policy that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A pattern does not parse.
    #[error(transparent)]
    Pattern(#[from] DialingError),
    /// A prefix is empty, too long, or not digits (or a lone `+`, or `+` and digits).
    #[error("invalid prefix {0:?}: 1-16 digits, optionally after a leading +")]
    Prefix(String),
    /// A limit is 0 or above [`MAX_LIMIT`].
    #[error("invalid limit {0}: must be 1-100000")]
    Limit(u32),
    /// A credential or campaign name is empty or too long.
    #[error("invalid name {0:?}: must be 1-128 characters")]
    Name(String),
}

/// The two limits of a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboundLimits {
    /// Jobs started in any 60 s.
    pub calls_per_minute: u32,
    /// Jobs in flight (stored, not final).
    pub max_concurrent: u32,
}

impl OutboundLimits {
    /// The site's default: 30 calls per minute, 10 in flight.
    pub const DEFAULT: Self = Self {
        calls_per_minute: 30,
        max_concurrent: 10,
    };

    fn validate(self) -> Result<Self, PolicyError> {
        for l in [self.calls_per_minute, self.max_concurrent] {
            if l == 0 || l > MAX_LIMIT {
                return Err(PolicyError::Limit(l));
            }
        }
        Ok(self)
    }
}

/// One credential's override of the site's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRule {
    /// The credential id, the credential's system name, or a uContact user name.
    pub principal: String,
    /// Only for this API (`expand`, `uscall`, `ucontact`); `None`: any.
    pub api: Option<String>,
    /// The numbers it may dial, replacing the national patterns; `None`: the national ones.
    pub allow: Option<Vec<DialPattern>>,
    /// Its calls per minute; `None`: the site's default.
    pub calls_per_minute: Option<u32>,
    /// Its cap of calls in flight; `None`: the site's default.
    pub max_concurrent: Option<u32>,
}

impl CredentialRule {
    fn applies_to(&self, actor: &Actor) -> bool {
        self.api.as_deref().is_none_or(|a| a == actor.api)
            && (self.principal == actor.principal
                || actor.system.as_deref() == Some(self.principal.as_str()))
    }
}

/// The numbers a campaign's calls may dial (replacing the credential's and the national ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignRule {
    /// The campaign's name.
    pub campaign: String,
    /// Its allowed patterns.
    pub allow: Vec<DialPattern>,
}

/// The whole policy (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundPolicy {
    national: Vec<DialPattern>,
    internal: Vec<DialPattern>,
    international_prefixes: Vec<String>,
    premium_prefixes: Vec<String>,
    limits: OutboundLimits,
    credentials: Vec<CredentialRule>,
    campaigns: Vec<CampaignRule>,
}

/// The site defaults' national patterns: 7 and 8 digits not starting with 0 or 1, and 9 digits
/// starting with one 0 (`5551030`, `26001000`, `099123456`).
pub const DEFAULT_NATIONAL: &[&str] = &["_NXXXXXX", "_NXXXXXXX", "_0ZXXXXXXX"];
/// The site defaults' internal patterns (the shipped dialplan's phones).
pub const DEFAULT_INTERNAL: &[&str] = &["_1XXX"];
/// The site defaults' international prefixes.
pub const DEFAULT_INTERNATIONAL: &[&str] = &["00", "+"];
/// The site defaults' premium-rate prefixes.
pub const DEFAULT_PREMIUM: &[&str] = &["0900"];

fn patterns(texts: &[&str]) -> Vec<DialPattern> {
    texts
        .iter()
        .map(|t| DialPattern::parse(t).expect("a built-in pattern parses"))
        .collect()
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            national: patterns(DEFAULT_NATIONAL),
            internal: patterns(DEFAULT_INTERNAL),
            international_prefixes: DEFAULT_INTERNATIONAL
                .iter()
                .map(|s| s.to_string())
                .collect(),
            premium_prefixes: DEFAULT_PREMIUM.iter().map(|s| s.to_string()).collect(),
            limits: OutboundLimits::DEFAULT,
            credentials: Vec::new(),
            campaigns: Vec::new(),
        }
    }
}

/// Checks a prefix: digits, or `+` optionally followed by digits; 1-16 characters.
pub fn parse_prefix(text: &str) -> Result<String, PolicyError> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if text.is_empty()
        || text.len() > MAX_PREFIX
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.is_empty() && text != "+")
    {
        return Err(PolicyError::Prefix(text.to_owned()));
    }
    Ok(text.to_owned())
}

/// Parses a list of patterns.
pub fn parse_patterns<S: AsRef<str>>(texts: &[S]) -> Result<Vec<DialPattern>, PolicyError> {
    texts
        .iter()
        .map(|t| DialPattern::parse(t.as_ref()).map_err(PolicyError::from))
        .collect()
}

fn check_name(name: &str) -> Result<(), PolicyError> {
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        return Err(PolicyError::Name(name.to_owned()));
    }
    Ok(())
}

impl OutboundPolicy {
    /// A policy; every prefix, limit and name is validated (patterns are parsed already).
    pub fn new(
        national: Vec<DialPattern>,
        internal: Vec<DialPattern>,
        international_prefixes: Vec<String>,
        premium_prefixes: Vec<String>,
        limits: OutboundLimits,
        credentials: Vec<CredentialRule>,
        campaigns: Vec<CampaignRule>,
    ) -> Result<Self, PolicyError> {
        for p in international_prefixes.iter().chain(&premium_prefixes) {
            parse_prefix(p)?;
        }
        limits.validate()?;
        for c in &credentials {
            check_name(&c.principal)?;
            for l in [c.calls_per_minute, c.max_concurrent].into_iter().flatten() {
                OutboundLimits {
                    calls_per_minute: l,
                    max_concurrent: l,
                }
                .validate()?;
            }
        }
        for c in &campaigns {
            check_name(&c.campaign)?;
        }
        Ok(Self {
            national,
            internal,
            international_prefixes,
            premium_prefixes,
            limits,
            credentials,
            campaigns,
        })
    }

    /// No destination rule and no limit beyond [`MAX_LIMIT`]: every number is allowed. For
    /// benches and tests that flood the service on purpose; never the engine's default.
    pub fn unrestricted() -> Self {
        let any = patterns(&["_X!", "_+X!"]);
        Self {
            national: any.clone(),
            internal: Vec::new(),
            international_prefixes: Vec::new(),
            premium_prefixes: Vec::new(),
            limits: OutboundLimits {
                calls_per_minute: MAX_LIMIT,
                max_concurrent: MAX_LIMIT,
            },
            credentials: Vec::new(),
            campaigns: Vec::new(),
        }
    }

    /// The override that applies to `actor`, if any.
    pub fn credential_rule(&self, actor: &Actor) -> Option<&CredentialRule> {
        self.credentials.iter().find(|c| c.applies_to(actor))
    }

    /// The limits of `actor`.
    pub fn limits(&self, actor: &Actor) -> OutboundLimits {
        let rule = self.credential_rule(actor);
        OutboundLimits {
            calls_per_minute: rule
                .and_then(|r| r.calls_per_minute)
                .unwrap_or(self.limits.calls_per_minute),
            max_concurrent: rule
                .and_then(|r| r.max_concurrent)
                .unwrap_or(self.limits.max_concurrent),
        }
    }

    /// The allow list for a call of `actor` for `campaign`, and its name: the campaign's, the
    /// credential's, or `None` (the national patterns).
    fn explicit_allow(
        &self,
        actor: &Actor,
        campaign: Option<&str>,
    ) -> Option<(&[DialPattern], String)> {
        if let Some(c) = campaign.and_then(|n| self.campaigns.iter().find(|c| c.campaign == n)) {
            return Some((&c.allow, format!("campaign {}", c.campaign)));
        }
        let rule = self.credential_rule(actor)?;
        let allow = rule.allow.as_deref()?;
        Some((allow, format!("credential {}", rule.principal)))
    }

    /// The destination rule alone: whether `actor` may dial `number` (for `campaign`).
    pub fn check_destination(
        &self,
        actor: &Actor,
        campaign: Option<&str>,
        number: &str,
    ) -> Result<(), Refusal> {
        let explicit = self.explicit_allow(actor, campaign);
        let explicitly_allowed = explicit
            .as_ref()
            .is_some_and(|(allow, _)| allow.iter().any(|p| p.matches(number)));
        let starts = |prefixes: &[String]| {
            prefixes
                .iter()
                .filter(|p| number.starts_with(p.as_str()))
                .max_by_key(|p| p.len())
                .cloned()
        };
        if let Some(prefix) = starts(&self.international_prefixes) {
            if explicitly_allowed {
                return Ok(());
            }
            return Err(Refusal::International {
                number: number.to_owned(),
                prefix,
            });
        }
        if let Some(prefix) = starts(&self.premium_prefixes) {
            if explicitly_allowed {
                return Ok(());
            }
            return Err(Refusal::Premium {
                number: number.to_owned(),
                prefix,
            });
        }
        if explicitly_allowed || self.internal.iter().any(|p| p.matches(number)) {
            return Ok(());
        }
        match explicit {
            Some((_, list)) => Err(Refusal::NotAllowed {
                number: number.to_owned(),
                list,
            }),
            None if self.national.iter().any(|p| p.matches(number)) => Ok(()),
            None => Err(Refusal::NotAllowed {
                number: number.to_owned(),
                list: "national".to_owned(),
            }),
        }
    }

    /// The whole rule for one new job of `actor` dialing `numbers` (for `campaign`), with
    /// `in_flight` of its jobs not final and its `window` of recent starts. On success the start
    /// is noted in `window` at `now`.
    pub fn check(
        &self,
        actor: &Actor,
        campaign: Option<&str>,
        numbers: &[&str],
        in_flight: usize,
        window: &mut RateWindow,
        now: Instant,
    ) -> Result<(), Refusal> {
        for number in numbers {
            self.check_destination(actor, campaign, number)?;
        }
        let limits = self.limits(actor);
        if in_flight >= limits.max_concurrent as usize {
            return Err(Refusal::Concurrency {
                limit: limits.max_concurrent,
            });
        }
        if !window.admit(now, limits.calls_per_minute) {
            return Err(Refusal::Rate {
                limit: limits.calls_per_minute,
            });
        }
        Ok(())
    }
}

/// The starts of one credential in the last [`RATE_WINDOW`] (a sliding window).
#[derive(Clone, Debug, Default)]
pub struct RateWindow {
    starts: VecDeque<Instant>,
}

impl RateWindow {
    /// Forgets the starts older than the window before `now`; if fewer than `limit` remain,
    /// notes one at `now` and answers true.
    pub fn admit(&mut self, now: Instant, limit: u32) -> bool {
        while let Some(&first) = self.starts.front() {
            if now.saturating_duration_since(first) >= RATE_WINDOW {
                self.starts.pop_front();
            } else {
                break;
            }
        }
        if self.starts.len() >= limit as usize {
            return false;
        }
        self.starts.push_back(now);
        true
    }

    /// Whether no start lies within the window before `now` (the window can be dropped).
    pub fn is_idle(&self, now: Instant) -> bool {
        self.starts
            .back()
            .is_none_or(|&last| now.saturating_duration_since(last) >= RATE_WINDOW)
    }
}

impl fmt::Display for OutboundLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} calls/min, {} in flight",
            self.calls_per_minute, self.max_concurrent
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(texts: &[&str]) -> Vec<DialPattern> {
        parse_patterns(texts).unwrap()
    }

    fn crm() -> Actor {
        Actor::new("expand", "k1")
    }

    fn policy() -> OutboundPolicy {
        OutboundPolicy::new(
            p(DEFAULT_NATIONAL),
            p(DEFAULT_INTERNAL),
            vec!["00".into(), "+".into()],
            vec!["0900".into(), "0909".into()],
            OutboundLimits {
                calls_per_minute: 3,
                max_concurrent: 2,
            },
            vec![
                CredentialRule {
                    principal: "intl-crm".into(),
                    api: Some("uscall".into()),
                    allow: Some(p(&["_5551XXX", "_0054X.", "_+54X."])),
                    calls_per_minute: Some(100),
                    max_concurrent: None,
                },
                CredentialRule {
                    principal: "k-premium".into(),
                    api: None,
                    allow: Some(p(&["_0900XXXX"])),
                    calls_per_minute: None,
                    max_concurrent: Some(1),
                },
            ],
            vec![CampaignRule {
                campaign: "Argentina->".into(),
                allow: p(&["_0054X."]),
            }],
        )
        .unwrap()
    }

    #[test]
    fn national_internal_international_and_premium_by_default() {
        let pol = policy();
        let who = crm();
        let check = |n: &str| pol.check_destination(&who, None, n).map_err(|r| r.rule());
        for ok in [
            "5551030",
            "5552000",
            "5553000",
            "5554000",
            "5556000",
            "26001000",
            "099555001",
            "1001",
            "1100",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for (bad, rule) in [
            ("0059899123456", "international"),
            ("+5491155551234", "international"),
            ("+1", "international"),
            ("00", "international"),
            ("09001234", "premium"),
            ("090012345", "premium"),
            ("09091234", "premium"),
            // Not national: 6 or 10+ digits, a leading 1 outside the internal range.
            ("555103", "destination"),
            ("0985550301", "destination"),
            ("1234567", "destination"),
            ("10001", "destination"),
        ] {
            assert_eq!(check(bad), Err(rule), "{bad}");
        }
        assert_eq!(
            pol.check_destination(&who, None, "0054911").unwrap_err(),
            Refusal::International {
                number: "0054911".into(),
                prefix: "00".into()
            }
        );
    }

    #[test]
    fn national_patterns_never_admit_an_international_or_premium_number() {
        let pol = OutboundPolicy::new(
            p(&["_X."]),
            vec![],
            vec!["00".into()],
            vec!["0900".into()],
            OutboundLimits::DEFAULT,
            vec![],
            vec![],
        )
        .unwrap();
        let who = crm();
        assert_eq!(pol.check_destination(&who, None, "5551030"), Ok(()));
        assert_eq!(
            pol.check_destination(&who, None, "0054911")
                .map_err(|r| r.rule()),
            Err("international")
        );
        assert_eq!(
            pol.check_destination(&who, None, "09001234")
                .map_err(|r| r.rule()),
            Err("premium")
        );
    }

    #[test]
    fn credential_and_campaign_allow_lists_replace_the_national_ones() {
        let pol = policy();
        // Matched by system name, for its API only.
        let intl = Actor::new("uscall", "a1b2").with_system("intl-crm");
        let check = |a: &Actor, c: Option<&str>, n: &str| {
            pol.check_destination(a, c, n).map_err(|r| r.rule())
        };
        assert_eq!(check(&intl, None, "0054911555"), Ok(()));
        assert_eq!(check(&intl, None, "+5411"), Ok(()));
        assert_eq!(check(&intl, None, "5551030"), Ok(()));
        assert_eq!(check(&intl, None, "1001"), Ok(()), "internal stays allowed");
        // The national patterns do not apply any more: 5552000 is not in its list.
        assert_eq!(
            pol.check_destination(&intl, None, "5552000"),
            Err(Refusal::NotAllowed {
                number: "5552000".into(),
                list: "credential intl-crm".into()
            })
        );
        assert_eq!(check(&intl, None, "00598991"), Err("international"));
        // The same system name through another API gets the defaults.
        let other = Actor::new("expand", "a1b2").with_system("intl-crm");
        assert_eq!(check(&other, None, "0054911555"), Err("international"));
        // Matched by id; premium explicitly allowed.
        let premium = Actor::new("ucontact", "k-premium");
        assert_eq!(check(&premium, None, "09001234"), Ok(()));
        assert_eq!(check(&premium, None, "09011234"), Err("destination"));
        // A campaign's list wins over the credential's and the national ones.
        let agent = Actor::new("ucontact", "ana");
        assert_eq!(check(&agent, Some("Argentina->"), "0054911"), Ok(()));
        assert_eq!(
            check(&agent, Some("Argentina->"), "5551030"),
            Err("destination")
        );
        assert_eq!(
            check(&agent, Some("Ventas->"), "0054911"),
            Err("international")
        );
        assert_eq!(check(&agent, Some("Ventas->"), "5551030"), Ok(()));
    }

    #[test]
    fn concurrency_cap_counts_jobs_in_flight() {
        let pol = policy();
        let now = Instant::now();
        let mut w = RateWindow::default();
        let who = crm();
        assert_eq!(pol.check(&who, None, &["5551030"], 1, &mut w, now), Ok(()));
        assert_eq!(
            pol.check(&who, None, &["5551030"], 2, &mut w, now),
            Err(Refusal::Concurrency { limit: 2 })
        );
        // The credential override's cap of 1.
        let premium = Actor::new("expand", "k-premium");
        assert_eq!(
            pol.check(&premium, None, &["09001234"], 1, &mut w, now),
            Err(Refusal::Concurrency { limit: 1 })
        );
        // A refused destination is refused before any limit, and does not count.
        let mut fresh = RateWindow::default();
        assert_eq!(
            pol.check(&who, None, &["0054911"], 9, &mut fresh, now)
                .map_err(|r| r.rule()),
            Err("international")
        );
        assert!(fresh.is_idle(now));
    }

    #[test]
    fn rate_window_slides_with_the_injected_clock() {
        let pol = policy();
        let who = crm();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = RateWindow::default();
        for s in [0, 10, 20] {
            assert_eq!(
                pol.check(&who, None, &["5551030"], 0, &mut w, at(s)),
                Ok(())
            );
        }
        assert_eq!(
            pol.check(&who, None, &["5551030"], 0, &mut w, at(59)),
            Err(Refusal::Rate { limit: 3 })
        );
        // The refused attempt was not noted: at 60 s the first start has left the window.
        assert_eq!(
            pol.check(&who, None, &["5551030"], 0, &mut w, at(60)),
            Ok(())
        );
        assert_eq!(
            pol.check(&who, None, &["5551030"], 0, &mut w, at(69)),
            Err(Refusal::Rate { limit: 3 })
        );
        assert_eq!(
            pol.check(&who, None, &["5551030"], 0, &mut w, at(70)),
            Ok(())
        );
        assert!(!w.is_idle(at(129)));
        assert!(w.is_idle(at(130)));
        // The override's own rate.
        let intl = Actor::new("uscall", "x").with_system("intl-crm");
        let mut w = RateWindow::default();
        for _ in 0..100 {
            assert_eq!(pol.check(&intl, None, &["5551030"], 0, &mut w, t0), Ok(()));
        }
        assert_eq!(
            pol.check(&intl, None, &["5551030"], 0, &mut w, t0),
            Err(Refusal::Rate { limit: 100 })
        );
    }

    #[test]
    fn invalid_values_are_refused() {
        for bad in ["", "a", "0-0", "++1", "1+", &"1".repeat(17)] {
            assert!(parse_prefix(bad).is_err(), "{bad:?}");
        }
        for good in ["+", "00", "+598", "0900"] {
            assert_eq!(parse_prefix(good).as_deref(), Ok(good));
        }
        let build = |limits, name: &str| {
            OutboundPolicy::new(
                vec![],
                vec![],
                vec![],
                vec![],
                limits,
                vec![CredentialRule {
                    principal: name.into(),
                    api: None,
                    allow: None,
                    calls_per_minute: Some(0),
                    max_concurrent: None,
                }],
                vec![],
            )
        };
        let zero = OutboundLimits {
            calls_per_minute: 0,
            max_concurrent: 1,
        };
        assert_eq!(build(zero, "x"), Err(PolicyError::Limit(0)));
        assert_eq!(
            build(OutboundLimits::DEFAULT, ""),
            Err(PolicyError::Name(String::new()))
        );
        assert_eq!(
            build(OutboundLimits::DEFAULT, "x"),
            Err(PolicyError::Limit(0))
        );
        assert!(parse_patterns(&["_00X.", "9.1"]).is_err());
    }

    #[test]
    fn unrestricted_allows_everything() {
        let pol = OutboundPolicy::unrestricted();
        let mut w = RateWindow::default();
        let now = Instant::now();
        for n in ["0054911", "+5411", "09001234", "1001", "5551030"] {
            assert_eq!(
                pol.check(&crm(), None, &[n], 5000, &mut w, now),
                Ok(()),
                "{n}"
            );
        }
    }
}
