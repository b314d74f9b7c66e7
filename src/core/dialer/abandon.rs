//! The abandon rules over the ledger: the window a campaign's rate is measured in (its
//! [`Regime`]), the rate itself with AMD's false positives estimated in it, and whether an
//! abandoned number may be dialed again. Pure: the ledger's counts
//! ([`LedgerCounts`](super::calls::LedgerCounts)) and the instants are passed in.
//!
//! **The rate** (Ofcom's definition, used for both regimes, the stricter reading of the FTC's):
//! abandoned calls over live calls, where AMD's machine verdicts that were really people are
//! estimated (a share of the machine verdicts) and counted as both live and abandoned, since
//! the person was hung up on:
//!
//! ```text
//! rate = (abandoned + share × machines) / (live + share × machines)
//! ```
//!
//! **Architecture Invariant:** the abandon threshold's start is the campaign's
//! [`AbandonStart`](super::campaign::AbandonStart), applied once when an attempt's evidence is
//! read ([`super::evidence::evidence_of`]); the ledger's `abandoned` flag already says it, and
//! nothing here re-derives it.

use super::calls::{window_start, LedgerCounts};
pub use super::campaign::FalsePositiveShare;
use super::campaign::{AbandonTarget, DialerCampaign, Regime};
use crate::core::journal::UnixTime;

/// Under the UK regime, an abandoned number is not dialed again within this many seconds
/// (Ofcom: 72 hours).
pub const UK_REDIAL_GAP_S: i64 = 72 * 3600;

/// May a number whose last call was abandoned at `last_abandoned_at` be dialed at `now`?
/// US: yes (the FTC sets no gap). UK: not within [`UK_REDIAL_GAP_S`] of the abandoned call.
pub fn may_redial(regime: Regime, last_abandoned_at: Option<UnixTime>, now: UnixTime) -> bool {
    match (regime, last_abandoned_at) {
        (Regime::Us, _) | (Regime::Uk, None) => true,
        (Regime::Uk, Some(at)) => now.seconds() - at.seconds() >= UK_REDIAL_GAP_S,
    }
}

/// The earliest instant a number abandoned at `abandoned_at` may be dialed again (US: at once).
pub fn redial_not_before(regime: Regime, abandoned_at: UnixTime) -> UnixTime {
    match regime {
        Regime::Us => abandoned_at,
        Regime::Uk => UnixTime(abandoned_at.seconds() + UK_REDIAL_GAP_S),
    }
}

/// The abandon rate of `counts` with `share` of the machine verdicts counted as people hung up
/// on (see the module's formula); `None` when nobody (estimated or not) answered.
pub fn rate(counts: &LedgerCounts, share: FalsePositiveShare) -> Option<f64> {
    let fp = counts.estimated_false_positives(share.fraction());
    let live = counts.live() as f64 + fp;
    (live > 0.0).then(|| ((counts.abandoned as f64 + fp) / live).min(1.0))
}

/// A campaign's abandon rule: its regime, target and AMD false-positive estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbandonRule {
    /// The window and the redial gap.
    pub regime: Regime,
    /// The rate not to exceed.
    pub target: AbandonTarget,
    /// AMD's machine verdicts estimated to be people (counted when the campaign runs AMD; its
    /// ledger has no machine verdicts otherwise).
    pub false_positives: FalsePositiveShare,
}

impl AbandonRule {
    /// The rule of `campaign`, with its AMD false-positive share.
    pub fn of(campaign: &DialerCampaign) -> Self {
        Self {
            regime: campaign.regime,
            target: campaign.abandon_target,
            false_positives: campaign.answer.amd_false_positives,
        }
    }

    /// The start of the window the rate is measured over at `now` (US 30 days, UK 24 hours).
    pub fn window_start(&self, now: UnixTime) -> UnixTime {
        window_start(self.regime, now)
    }

    /// [`may_redial`] under this rule's regime.
    pub fn may_redial(&self, last_abandoned_at: Option<UnixTime>, now: UnixTime) -> bool {
        may_redial(self.regime, last_abandoned_at, now)
    }

    /// The rate of the window's counts ([`rate`]).
    pub fn rate(&self, counts: &LedgerCounts) -> Option<f64> {
        rate(counts, self.false_positives)
    }

    /// The target as a fraction (3 % is 0.03).
    pub fn target_fraction(&self) -> f64 {
        f64::from(self.target.per_mille()) / 1000.0
    }

    /// Whether the window's counts are within the target (an empty window is).
    pub fn within(&self, counts: &LedgerCounts) -> bool {
        self.rate(counts)
            .is_none_or(|r| r <= self.target_fraction() + 1e-12)
    }

    /// How many more abandoned calls the window can take before the target is exceeded, if
    /// `more_live` more people answer (each of them counted live); negative when over.
    pub fn headroom(&self, counts: &LedgerCounts, more_live: u64) -> f64 {
        let fp = counts.estimated_false_positives(self.false_positives.fraction());
        let live = (counts.live() + more_live) as f64 + fp;
        self.target_fraction() * live - (counts.abandoned as f64 + fp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(attempts: u64, answered: u64, machines: u64, abandoned: u64) -> LedgerCounts {
        LedgerCounts {
            attempts,
            answered,
            machines,
            abandoned,
        }
    }

    fn rule(regime: Regime, target: &str) -> AbandonRule {
        AbandonRule {
            regime,
            target: AbandonTarget::parse(target).unwrap(),
            false_positives: FalsePositiveShare::DEFAULT,
        }
    }

    #[test]
    fn uk_numbers_wait_72_hours_us_numbers_do_not() {
        let at = UnixTime(1_000_000);
        let just_before = UnixTime(at.seconds() + UK_REDIAL_GAP_S - 1);
        let at_gap = UnixTime(at.seconds() + UK_REDIAL_GAP_S);
        assert!(!may_redial(Regime::Uk, Some(at), just_before));
        assert!(may_redial(Regime::Uk, Some(at), at_gap));
        assert!(may_redial(Regime::Uk, None, at));
        assert!(may_redial(Regime::Us, Some(at), at));
        assert_eq!(redial_not_before(Regime::Uk, at), at_gap);
        assert_eq!(redial_not_before(Regime::Us, at), at);
    }

    #[test]
    fn windows_are_the_regimes() {
        let now = UnixTime(100 * 86_400);
        assert_eq!(
            rule(Regime::Us, "3").window_start(now),
            UnixTime(70 * 86_400)
        );
        assert_eq!(
            rule(Regime::Uk, "3").window_start(now),
            UnixTime(99 * 86_400)
        );
    }

    #[test]
    fn machine_verdicts_count_as_abandoned_people_at_the_estimated_share() {
        // 1000 answered, 200 of them machines, 20 abandoned: without the estimate 20/800 = 2.5 %;
        // with 10 % of the machines people: (20 + 20) / (800 + 20) = 4.88 %.
        let c = counts(3000, 1000, 200, 20);
        let none = FalsePositiveShare::from_per_mille(0).unwrap();
        assert!((rate(&c, none).unwrap() - 0.025).abs() < 1e-9);
        let r = rate(&c, FalsePositiveShare::DEFAULT).unwrap();
        assert!((r - 40.0 / 820.0).abs() < 1e-9, "{r}");
        assert!(!rule(Regime::Us, "3").within(&c));
        assert!(rule(Regime::Us, "5").within(&c));
        // No AMD: no machine verdicts, the plain rate.
        let c = counts(3000, 1000, 0, 30);
        assert!((rate(&c, FalsePositiveShare::DEFAULT).unwrap() - 0.03).abs() < 1e-9);
        assert!(rule(Regime::Uk, "3").within(&c));
        assert_eq!(
            rate(&counts(10, 0, 0, 0), FalsePositiveShare::DEFAULT),
            None
        );
        assert!(rule(Regime::Uk, "3").within(&counts(10, 0, 0, 0)));
        assert_eq!(FalsePositiveShare::from_per_mille(1001), None);
    }

    #[test]
    fn the_rule_of_a_campaign_uses_its_own_false_positive_share() {
        use crate::core::campaigns::CampaignName;
        use crate::core::directory::QueueName;
        let mut c = DialerCampaign::new(
            CampaignName::parse("Ventas->").unwrap(),
            QueueName::new("q_ventas").unwrap(),
            super::super::campaign::ZoneName::parse("UTC").unwrap(),
        );
        assert_eq!(
            AbandonRule::of(&c).false_positives,
            FalsePositiveShare::DEFAULT
        );
        c.answer.amd = true;
        c.answer.amd_false_positives = FalsePositiveShare::parse("2%").unwrap();
        let r = AbandonRule::of(&c);
        assert_eq!(r.false_positives.per_mille(), 20);
        // 1000 answered, 200 machines, 20 abandoned: with 2 % of the machines people,
        // (20 + 4) / (800 + 4) = 2.99 %: within 3 %, where the default 10 % is 4.88 %: over.
        let window = counts(3000, 1000, 200, 20);
        assert!((r.rate(&window).unwrap() - 24.0 / 804.0).abs() < 1e-9);
        assert!(r.within(&window));
        assert!(!AbandonRule {
            false_positives: FalsePositiveShare::DEFAULT,
            ..r
        }
        .within(&window));
        assert!((r.headroom(&window, 0) - (0.03 * 804.0 - 24.0)).abs() < 1e-9);
    }

    #[test]
    fn headroom_says_how_many_more_abandons_fit() {
        let r = rule(Regime::Us, "3");
        let c = counts(1000, 100, 0, 1);
        assert!((r.headroom(&c, 0) - 2.0).abs() < 1e-9);
        assert!((r.headroom(&c, 100) - 5.0).abs() < 1e-9);
        assert!(r.headroom(&counts(1000, 100, 0, 4), 0) < 0.0);
    }
}
