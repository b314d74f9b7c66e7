//! A dialer contact (a person to call for a campaign: numbers, data, zone, priority, state) and
//! the history of its attempts. [`NewContact::validate`] is the one check of what enters a
//! campaign, whichever way it comes (import, API, CLI).

use std::fmt;

use super::campaign::{AlternativesOrder, CampaignId, Outcome, ZoneName};
use crate::core::journal::UnixTime;
use crate::core::originate::PhoneNumber;

/// A contact's id, chosen by the store (eXpand's integer contact id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(pub i64);

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a contact stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContactState {
    /// To be dialed (now or after its retry delay or callback date).
    Pending,
    /// Claimed by a dialer, its attempt not recorded yet (shown as Pending by vendor APIs).
    InProgress,
    /// Done: reached, or ended by a disposition.
    Completed,
    /// Every attempt the rules allow was made without reaching anyone.
    Rejected,
    /// Removed from dialing by a user.
    Canceled,
}

impl ContactState {
    /// Every state.
    pub const ALL: [ContactState; 5] = [
        Self::Pending,
        Self::InProgress,
        Self::Completed,
        Self::Rejected,
        Self::Canceled,
    ];

    /// `pending`, `in_progress`, `completed`, `rejected`, `canceled` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Canceled => "canceled",
        }
    }
}

/// A contact's data: `name=value` pairs for forms and the dialplan, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactData(pub Vec<(String, String)>);

impl ContactData {
    /// At most this many pairs.
    pub const MAX_PAIRS: usize = 64;

    /// uploadbase's `var=val:var=val` (empty: none). Names `[A-Za-z0-9_]` (1-64), values
    /// printable without `:` `;` (at most 256 characters).
    pub fn parse(s: &str) -> Result<Self, ContactError> {
        let mut pairs = Vec::new();
        for part in s.split(':').filter(|p| !p.trim().is_empty()) {
            if pairs.len() == Self::MAX_PAIRS {
                return Err(ContactError::BadData("too many pairs"));
            }
            let (k, v) = part
                .split_once('=')
                .ok_or(ContactError::BadData("a pair without ="))?;
            let k = k.trim();
            if k.is_empty()
                || k.len() > 64
                || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(ContactError::BadData("a name outside [A-Za-z0-9_]"));
            }
            if v.chars().count() > 256 || v.chars().any(|c| c.is_control() || c == ';') {
                return Err(ContactError::BadData(
                    "a value too long or with control characters",
                ));
            }
            pairs.push((k.to_owned(), v.to_owned()));
        }
        Ok(Self(pairs))
    }

    /// `var=val:var=val`.
    pub fn as_text(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a contact is created from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewContact {
    /// The main number (unique within its campaign).
    pub main: PhoneNumber,
    /// Other numbers, in order.
    pub alternatives: Vec<PhoneNumber>,
    /// Data for forms and flows.
    pub data: ContactData,
    /// Its zone (given, or derived from the main number).
    pub zone: ZoneName,
    /// Lower is dialed first.
    pub priority: u32,
    /// The agent (phone) a callback goes to.
    pub agent: Option<String>,
    /// A dated callback: dialed at that instant, before undated contacts.
    pub callback_at: Option<UnixTime>,
    /// The person's name (empty when not given).
    pub name: String,
    /// Extra information for the dialer's flows, as the client gave it (eXpand's `info`, JSON
    /// text checked by the facade).
    pub info: Option<String>,
}

impl NewContact {
    /// At most this many alternatives.
    pub const MAX_ALTERNATIVES: usize = 10;
    /// The priority when none is given.
    pub const DEFAULT_PRIORITY: u32 = 9999;
    /// The longest name, in characters.
    pub const MAX_NAME: usize = 128;
    /// The longest extra information, in bytes.
    pub const MAX_INFO: usize = 4096;

    /// A contact for `main` in `zone`, no alternatives, no data, the default priority.
    pub fn new(main: PhoneNumber, zone: ZoneName) -> Self {
        Self {
            main,
            alternatives: Vec::new(),
            data: ContactData::default(),
            zone,
            priority: Self::DEFAULT_PRIORITY,
            agent: None,
            callback_at: None,
            name: String::new(),
            info: None,
        }
    }

    /// The bounds the parts cannot check alone: at most 10 alternatives (none repeating the
    /// main number), priority at most 1 000 000, agent 1-64 printable characters, name at most
    /// [`Self::MAX_NAME`] printable characters, info at most [`Self::MAX_INFO`] bytes without NUL.
    pub fn validate(&self) -> Result<(), ContactError> {
        validate_profile(&self.name, self.info.as_deref())?;
        if self.alternatives.len() > Self::MAX_ALTERNATIVES {
            return Err(ContactError::TooManyAlternatives);
        }
        if self.alternatives.contains(&self.main) {
            return Err(ContactError::AlternativeIsMain);
        }
        if self.priority > 1_000_000 {
            return Err(ContactError::BadPriority);
        }
        if let Some(a) = &self.agent {
            if a.is_empty() || a.chars().count() > 64 || a.chars().any(char::is_control) {
                return Err(ContactError::BadAgent);
            }
        }
        Ok(())
    }
}

/// The check of a contact's name and extra information (see [`NewContact::validate`]).
pub fn validate_profile(name: &str, info: Option<&str>) -> Result<(), ContactError> {
    if name.chars().count() > NewContact::MAX_NAME || name.chars().any(char::is_control) {
        return Err(ContactError::BadName);
    }
    if info.is_some_and(|i| i.len() > NewContact::MAX_INFO || i.contains('\0')) {
        return Err(ContactError::BadInfo);
    }
    Ok(())
}

/// A stored contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// Its id.
    pub id: ContactId,
    /// Its campaign.
    pub campaign: CampaignId,
    /// What it was created with.
    pub spec: NewContact,
    /// Where it stands.
    pub state: ContactState,
    /// Not dialed before this instant (retry delay or callback date).
    pub next_at: UnixTime,
    /// Attempts made.
    pub attempts: u32,
    /// When it was added.
    pub created_at: UnixTime,
    /// When its state last changed.
    pub state_at: UnixTime,
}

/// The number attempt `attempt` (0 for the first) dials, under `order`.
pub fn number_for_attempt(
    order: AlternativesOrder,
    contact: &NewContact,
    attempt: u32,
) -> &PhoneNumber {
    match order {
        AlternativesOrder::MainOnly => &contact.main,
        AlternativesOrder::Rotate => {
            let n = contact.alternatives.len() + 1;
            match (attempt as usize) % n {
                0 => &contact.main,
                i => &contact.alternatives[i - 1],
            }
        }
    }
}

/// The number attempt `attempt` dials when `blocked` numbers are skipped: the first number
/// from [`number_for_attempt`] on, in rotation order, that is not blocked (the main number when
/// every other one is).
pub fn pick_number<'a>(
    order: AlternativesOrder,
    contact: &'a NewContact,
    attempt: u32,
    blocked: &dyn Fn(&PhoneNumber) -> bool,
) -> &'a PhoneNumber {
    let n = contact.alternatives.len() as u32 + 1;
    (0..n)
        .map(|k| number_for_attempt(order, contact, attempt + k))
        .find(|p| !blocked(p))
        .unwrap_or(&contact.main)
}

/// One attempt to reach a contact: the evidence kept for retries and the abandon rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The contact.
    pub contact: ContactId,
    /// Which attempt (1 for the first).
    pub number_of: u32,
    /// The number dialed.
    pub dialed: PhoneNumber,
    /// When the contact was claimed for it.
    pub claimed_at: UnixTime,
    /// When the call was answered.
    pub answered_at: Option<UnixTime>,
    /// When it ended (when the outcome was recorded).
    pub ended_at: UnixTime,
    /// What it ended in.
    pub outcome: Outcome,
    /// Milliseconds from the answer to an agent's connection (`None`: no answer, or never
    /// connected).
    pub connect_latency_ms: Option<u32>,
}

/// Why a contact is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    /// The main number is not a number.
    #[error("invalid main number")]
    BadNumber,
    /// An alternative is not a number.
    #[error("invalid alternative number")]
    BadAlternative,
    /// Too many alternatives.
    #[error("more than 10 alternatives")]
    TooManyAlternatives,
    /// An alternative repeats the main number.
    #[error("an alternative repeats the main number")]
    AlternativeIsMain,
    /// The data is malformed.
    #[error("invalid data: {0}")]
    BadData(&'static str),
    /// The zone is unknown.
    #[error("unknown time zone")]
    BadZone,
    /// The priority is not a number or too large.
    #[error("invalid priority")]
    BadPriority,
    /// The agent is unusable.
    #[error("invalid agent")]
    BadAgent,
    /// The name is too long or has control characters.
    #[error("invalid name")]
    BadName,
    /// The extra information is too long.
    #[error("invalid extra information")]
    BadInfo,
}
