//! Claiming: which contact is dialed next, why others are not, and what an attempt's outcome
//! does to its contact. Pure rules; the store applies them in indexed queries
//! ([`super::DialerStore::claim`]) and the brute-force [`classify`] is their definition.
//!
//! A contact is **dialable** at `now` when it is Pending, has had fewer attempts than the
//! campaign allows, its `next_at` has come, its main number is not blacklisted for the campaign
//! (or `*`) outbound on the call center's day, and in its own zone it is neither a holiday nor
//! outside the schedule and the calling-hours floor. Of the dialable ones, due dated callbacks
//! come first, then lower priority values, then the oldest (lowest id).
//!
//! Zones vary per contact, so the time filter is computed once per zone present in the
//! campaign ([`ZoneWindows::compute`]): the query then only reads contacts of the open zones
//! (in the SQLite store, one walk of its claim index per open zone, in claim order).

use jiff::Timestamp;

use super::campaign::{CampaignId, DialerCampaign, Outcome, Window, ZoneName};
use super::contact::{Contact, ContactState};
use crate::core::campaigns::{CampaignName, Day};
use crate::core::journal::UnixTime;
use crate::core::originate::PhoneNumber;

/// The zones of a campaign's contacts split by their window at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneWindows {
    /// Zones where the campaign may call now.
    pub open: Vec<ZoneName>,
    /// Zones where it is a holiday now.
    pub holiday: Vec<ZoneName>,
    /// Zones outside the schedule or the floor now.
    pub closed: Vec<ZoneName>,
}

impl ZoneWindows {
    /// Each of `zones` evaluated once at `now` in its own local time.
    pub fn compute(campaign: &DialerCampaign, zones: &[ZoneName], now: UnixTime) -> Self {
        let ts = timestamp(now);
        let mut out = Self::default();
        for z in zones {
            match campaign.window_in(&z.zone(), ts) {
                Window::Open => out.open.push(z.clone()),
                Window::Holiday => out.holiday.push(z.clone()),
                Window::Closed => out.closed.push(z.clone()),
            }
        }
        out
    }

    /// The window of `zone` (a zone not evaluated counts as closed).
    pub fn of(&self, zone: &ZoneName) -> Window {
        if self.open.contains(zone) {
            Window::Open
        } else if self.holiday.contains(zone) {
            Window::Holiday
        } else {
            Window::Closed
        }
    }
}

/// An instant as a `jiff` timestamp (out of range: the epoch).
pub fn timestamp(t: UnixTime) -> Timestamp {
    Timestamp::from_second(t.seconds()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// What the store's claim query filters on: everything [`classify`] reads, precomputed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimFilter {
    /// The campaign.
    pub campaign: CampaignId,
    /// Its name (the blacklist's campaign).
    pub name: CampaignName,
    /// The instant.
    pub now: UnixTime,
    /// The call center's day at `now` (the blacklist's expiry dates are such days).
    pub today: Day,
    /// Contacts with this many attempts are not dialed.
    pub max_attempts: u32,
    /// The zones' windows at `now`.
    pub zones: ZoneWindows,
}

/// A contact claimed for one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// The contact (state InProgress).
    pub contact: Contact,
    /// The number this attempt dials.
    pub number: PhoneNumber,
    /// When it was claimed.
    pub at: UnixTime,
}

/// The first filter that excludes a contact (in this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exclusion {
    /// Not Pending (in progress, completed, rejected or canceled).
    State,
    /// As many attempts as the campaign allows.
    AttemptsExhausted,
    /// Its retry delay or callback date has not come.
    NotDue,
    /// Its main number is blacklisted.
    Blacklisted,
    /// A holiday in its zone.
    Holiday,
    /// Outside the schedule or the calling-hours floor in its zone.
    OutsideHours,
}

/// **The dialable rule**: why `contact` is not dialable under `filter` (`None`: it is).
/// `blacklisted`: whether its main number is blacklisted (`BlacklistEntry::blocks`, outbound,
/// for the campaign, on `filter.today`).
pub fn classify(contact: &Contact, filter: &ClaimFilter, blacklisted: bool) -> Option<Exclusion> {
    if contact.state != ContactState::Pending {
        Some(Exclusion::State)
    } else if contact.attempts >= filter.max_attempts {
        Some(Exclusion::AttemptsExhausted)
    } else if contact.next_at > filter.now {
        Some(Exclusion::NotDue)
    } else if blacklisted {
        Some(Exclusion::Blacklisted)
    } else {
        match filter.zones.of(&contact.spec.zone) {
            Window::Open => None,
            Window::Holiday => Some(Exclusion::Holiday),
            Window::Closed => Some(Exclusion::OutsideHours),
        }
    }
}

/// "Why is nothing dialable": how many contacts of a campaign each filter excludes first, and
/// how many are dialable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WhyReport {
    /// Every contact of the campaign.
    pub total: u64,
    /// Not Pending.
    pub state: u64,
    /// Attempts exhausted.
    pub attempts_exhausted: u64,
    /// Retry delay or callback date not come.
    pub not_due: u64,
    /// Main number blacklisted.
    pub blacklisted: u64,
    /// Holiday in their zone.
    pub holiday: u64,
    /// Outside hours in their zone.
    pub outside_hours: u64,
    /// Dialable now.
    pub dialable: u64,
}

impl WhyReport {
    /// Counts one contact.
    pub fn add(&mut self, e: Option<Exclusion>) {
        self.total += 1;
        *match e {
            None => &mut self.dialable,
            Some(Exclusion::State) => &mut self.state,
            Some(Exclusion::AttemptsExhausted) => &mut self.attempts_exhausted,
            Some(Exclusion::NotDue) => &mut self.not_due,
            Some(Exclusion::Blacklisted) => &mut self.blacklisted,
            Some(Exclusion::Holiday) => &mut self.holiday,
            Some(Exclusion::OutsideHours) => &mut self.outside_hours,
        } += 1;
    }
}

/// What becomes of a contact after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterAttempt {
    /// Pending again, not before `next_at`.
    Retry {
        /// The earliest next attempt.
        next_at: UnixTime,
    },
    /// Final.
    Done(ContactState),
}

/// **The retry rule**: after attempt number `attempts` (1 for the first) ended in `outcome` at
/// `now`. With a rule for the outcome: retried after its delay unless `attempts` reached its
/// maximum or the campaign's (then Rejected). Without one: `answered` and dispositions
/// complete the contact, failed calls reject it.
pub fn after_attempt(
    campaign: &DialerCampaign,
    attempts: u32,
    outcome: &Outcome,
    now: UnixTime,
) -> AfterAttempt {
    match campaign.retry.0.get(outcome) {
        Some(rule) if attempts < rule.max_attempts && attempts < campaign.max_attempts() => {
            AfterAttempt::Retry {
                next_at: UnixTime(now.seconds() + i64::from(rule.delay_s)),
            }
        }
        Some(_) => AfterAttempt::Done(ContactState::Rejected),
        None => match outcome {
            Outcome::Answered | Outcome::Disposition(_) => {
                AfterAttempt::Done(ContactState::Completed)
            }
            _ => AfterAttempt::Done(ContactState::Rejected),
        },
    }
}
