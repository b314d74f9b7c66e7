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
//! A contact **assigned to an agent** (a callback for an agent, a base's agent phone) goes to
//! that agent alone: it is dialable only while that agent is free in the campaign's queue (the
//! claimer says who is: [`AgentFilter`]), and its call is connected to that agent directly.
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
    /// Which contacts assigned to an agent may be claimed.
    pub agents: AgentFilter,
}

/// Which agents are free for the contacts assigned to them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AgentFilter {
    /// Not known (the admin CLI, which sees no live state): no contact assigned to an agent is
    /// claimed, and the breakdown counts them as waiting for their agent.
    #[default]
    Unknown,
    /// These agent keys are free now (each free agent's interface, member name and endpoint:
    /// [`agent_keys`]); contacts assigned to any other agent wait.
    Free(Vec<String>),
}

impl AgentFilter {
    /// Whether a contact assigned to `agent` may be dialed now.
    pub fn allows(&self, agent: &str) -> bool {
        match self {
            Self::Unknown => false,
            Self::Free(keys) => keys.iter().any(|k| k == agent),
        }
    }

    /// The free keys (none when unknown).
    pub fn keys(&self) -> &[String] {
        match self {
            Self::Unknown => &[],
            Self::Free(keys) => keys,
        }
    }
}

/// The names a contact's agent may be given by for a queue member: its interface
/// (`PJSIP/1004`), its member name, and the interface's last part (`1004`, the agent's phone).
pub fn agent_keys(interface: &str, member_name: &str) -> Vec<String> {
    let mut keys = vec![interface.to_owned()];
    let last = interface.rsplit('/').next().unwrap_or(interface);
    for k in [member_name, last] {
        if !k.is_empty() && !keys.iter().any(|x| x == k) {
            keys.push(k.to_owned());
        }
    }
    keys
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
    /// Dialable, but assigned to an agent who is not free (or not known to be).
    ForAgent,
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
            Window::Open => match contact.spec.agent.as_deref() {
                Some(a) if !a.is_empty() && !filter.agents.allows(a) => Some(Exclusion::ForAgent),
                _ => None,
            },
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
    /// Otherwise dialable, assigned to an agent not free now (or, where no live state is seen,
    /// assigned to any agent): dialed when that agent is free.
    pub for_agent: u64,
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
            Some(Exclusion::ForAgent) => &mut self.for_agent,
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
