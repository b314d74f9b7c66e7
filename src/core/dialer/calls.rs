//! The dialer's calls in the store: the originate job of each contact in progress, and the
//! evidence of every finished attempt (the abandon ledger), written with the attempt in one
//! transaction.
//!
//! **Architecture Invariant:** one ledger row per originate job (the job id is unique), so an
//! attempt resolved twice (live, then again after a restart) is recorded once.

use super::campaign::{CampaignId, Regime};
use super::claim::AfterAttempt;
use super::contact::{Attempt, Contact, ContactId};
use super::evidence::Evidence;
use crate::core::journal::UnixTime;
use crate::core::originate::OriginateId;
use crate::core::PortError;

/// A contact in progress: claimed, and the job placing its call if it was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    /// The contact (state InProgress).
    pub contact: Contact,
    /// Its call's job (`None`: claimed, the call not placed yet).
    pub job: Option<OriginateId>,
}

/// The ledger's counts over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerCounts {
    /// Every attempt recorded (answered or not): the denominator of the answer rate.
    pub attempts: u64,
    /// Attempts whose line answered.
    pub answered: u64,
    /// Of those, machines (AMD).
    pub machines: u64,
    /// Abandoned calls (safe-harbor message, or connected after the threshold).
    pub abandoned: u64,
}

impl LedgerCounts {
    /// Calls a person answered (answered, not a machine).
    pub fn live(self) -> u64 {
        self.answered.saturating_sub(self.machines)
    }

    /// The people among AMD's machine verdicts, estimated as `share` of them (0 to 1): hung
    /// up on as machines, they count as abandoned live calls (Ofcom). See
    /// [`super::abandon::rate`].
    pub fn estimated_false_positives(self, share: f64) -> f64 {
        self.machines as f64 * share.clamp(0.0, 1.0)
    }
}

/// The window a regime measures the abandon rate over, ending at `now`: 30 days (US, FTC) or
/// 24 hours (UK, Ofcom).
pub fn window_start(regime: Regime, now: UnixTime) -> UnixTime {
    let span = match regime {
        Regime::Us => 30 * 86_400,
        Regime::Uk => 86_400,
    };
    UnixTime(now.seconds() - span)
}

/// Storage of the dialer's calls.
pub trait DialerCallStore: Send + Sync {
    /// Records the job placing the call of InProgress contact `contact`; `false` when the
    /// contact is not in progress.
    fn set_job(&self, contact: ContactId, job: &OriginateId) -> Result<bool, PortError>;
    /// Returns InProgress contact `contact` whose call was never placed (no job) to Pending,
    /// its attempts unchanged; whether it was.
    fn release(&self, contact: ContactId) -> Result<bool, PortError>;
    /// Returns InProgress contact `contact` whose call's job `job` ended without its call ever
    /// being sent to Pending, its job cleared and its attempts unchanged (nothing was dialed:
    /// no attempt, no ledger row); whether it was.
    fn release_unplaced(&self, contact: ContactId, job: &OriginateId) -> Result<bool, PortError>;
    /// The campaign's contacts in progress.
    fn in_flight(&self, campaign: CampaignId) -> Result<Vec<InFlight>, PortError>;
    /// Records `attempt`, applies `next` and writes `evidence`, in one transaction; `false`
    /// (nothing written) when the contact is not in progress or the job is recorded already.
    fn finish_with_evidence(
        &self,
        attempt: &Attempt,
        next: AfterAttempt,
        campaign: CampaignId,
        evidence: &Evidence,
    ) -> Result<bool, PortError>;
    /// The ledger of the campaign since `since`.
    fn ledger(&self, campaign: CampaignId, since: UnixTime) -> Result<LedgerCounts, PortError>;
    /// The campaign's last `limit` attempts that ended at or after `since`, each with its
    /// evidence, oldest first (what the pacing learns from again after a restart).
    fn recent(
        &self,
        campaign: CampaignId,
        since: UnixTime,
        limit: u32,
    ) -> Result<Vec<(Attempt, Evidence)>, PortError>;
    /// The evidence rows of a campaign, oldest first (`limit` rows from `offset`).
    fn evidence(
        &self,
        campaign: CampaignId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(ContactId, u32, Evidence)>, PortError>;
}
