//! Scheduled calls: callbacks and tasks a campaign places besides its contacts (uContact's
//! `ScheduleDialerCall`, `DialerTask`, a `RESCHEDULE` disposition; eXpand's pending outgoing
//! calls panel). A call has a number, an optional agent (a callback to that agent), an
//! optional date (undated: placed when the campaign is free), an optional expiration, data and
//! a priority; its status is one of eXpand's PENDING / COMPLETED / CANCELED / EXPIRED (plus
//! in progress, shown as PENDING).
//!
//! **Architecture Invariant:** a scheduled call is taken by one claimer at a time: the store
//! selects the next due call and marks it in progress in one transaction ([`ScheduleStore::schedule_next_due`]),
//! and only an in-progress call is finished. A dated call whose date has come outranks every
//! undated one; within each, the lower priority number goes first.
//!
//! **Architecture Invariant:** a destination is never spooled twice: creating a call for a
//! number the campaign already has an open (pending or in progress) call for is refused
//! ([`ScheduleError::AlreadySpooled`]), in the same transaction as the insert.

use std::fmt;

use super::campaign::{CampaignId, DialerCampaign};
use super::contact::{ContactData, ContactError, ContactId, NewContact};
use super::zones::zone_for_number;
use crate::core::journal::UnixTime;
use crate::core::originate::PhoneNumber;
use crate::core::PortError;

/// A scheduled call's id, chosen by the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleId(pub i64);

impl fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a scheduled call stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScheduleStatus {
    /// Waiting for its date (or, undated, for a free moment).
    Pending,
    /// Taken by a dialer, not finished yet (shown as PENDING by vendor APIs).
    InProgress,
    /// Placed and done.
    Completed,
    /// Removed by a user (logical delete).
    Canceled,
    /// Not placed before its expiration.
    Expired,
}

impl ScheduleStatus {
    /// Every status.
    pub const ALL: [ScheduleStatus; 5] = [
        Self::Pending,
        Self::InProgress,
        Self::Completed,
        Self::Canceled,
        Self::Expired,
    ];

    /// The stored form: `pending`, `in_progress`, `completed`, `canceled`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
        }
    }

    /// The stored form back.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// eXpand's name: `PENDING` (in progress too), `COMPLETED`, `CANCELED`, `EXPIRED`.
    pub fn vendor_name(self) -> &'static str {
        match self {
            Self::Pending | Self::InProgress => "PENDING",
            Self::Completed => "COMPLETED",
            Self::Canceled => "CANCELED",
            Self::Expired => "EXPIRED",
        }
    }

    /// eXpand's name back (any case): `PENDING` is pending and in progress.
    pub fn from_vendor(s: &str) -> Option<&'static [ScheduleStatus]> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "PENDING" => &[Self::Pending, Self::InProgress],
            "COMPLETED" => &[Self::Completed],
            "CANCELED" | "CANCELLED" => &[Self::Canceled],
            "EXPIRED" => &[Self::Expired],
            _ => return None,
        })
    }

    /// Open: pending or in progress (a destination spooled).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::InProgress)
    }
}

/// What a scheduled call is created (or replaced) with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewScheduledCall {
    /// Its campaign.
    pub campaign: CampaignId,
    /// The number to call.
    pub number: PhoneNumber,
    /// Numbers to try after it, in order.
    pub alternatives: Vec<PhoneNumber>,
    /// The agent (name or phone) the call goes to (`None`: any agent of the campaign).
    pub agent: Option<String>,
    /// When to place it (`None`: when the campaign is free, after every due dated call).
    pub call_at: Option<UnixTime>,
    /// Not placed after this instant (`None`: never expires).
    pub expires_at: Option<UnixTime>,
    /// Data for forms and flows (eXpand's link), bounded as a contact's.
    pub data: ContactData,
    /// Lower goes first (uContact: 1 for "now" tasks).
    pub priority: u32,
    /// The campaign's contact the call is for (uContact's respool `contact`): handed to it
    /// when due, its main number becoming this call's number, unless another contact of the
    /// campaign has that number (`None`: the contact with the number, or a new one).
    pub contact: Option<ContactId>,
    /// The attempts the contact counts when handed the call (uContact's `retries`: 0 for a
    /// number dialed afresh), so its retry rules and numbers start from there (`None`: its
    /// own count kept).
    pub retries: Option<u32>,
}

impl NewScheduledCall {
    /// At most this many alternatives.
    pub const MAX_ALTERNATIVES: usize = 10;
    /// The priority when none is given.
    pub const DEFAULT_PRIORITY: u32 = 9999;
    /// The highest priority number accepted.
    pub const MAX_PRIORITY: u32 = 1_000_000;
    /// The most `retries` a call may carry (a campaign's rules allow at most 100 attempts).
    pub const MAX_RETRIES: u32 = 100;

    /// A call to `number` for `campaign`: undated, never expiring, no agent, no data, the
    /// default priority.
    pub fn new(campaign: CampaignId, number: PhoneNumber) -> Self {
        Self {
            campaign,
            number,
            alternatives: Vec::new(),
            agent: None,
            call_at: None,
            expires_at: None,
            data: ContactData::default(),
            priority: Self::DEFAULT_PRIORITY,
            contact: None,
            retries: None,
        }
    }

    /// The bounds: at most 10 alternatives, none repeating the number; priority at most
    /// 1 000 000; agent 1-64 printable characters; expiration after the date; at most
    /// [`ContactData::MAX_PAIRS`] data pairs, each as [`ContactData::parse`] reads them (so
    /// the stored text reads back the same).
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.alternatives.len() > Self::MAX_ALTERNATIVES {
            return Err(ScheduleError::Invalid(ContactError::TooManyAlternatives));
        }
        if self.alternatives.contains(&self.number) {
            return Err(ScheduleError::Invalid(ContactError::AlternativeIsMain));
        }
        if self.priority > Self::MAX_PRIORITY {
            return Err(ScheduleError::Invalid(ContactError::BadPriority));
        }
        if self.retries.is_some_and(|r| r > Self::MAX_RETRIES) {
            return Err(ScheduleError::Invalid(ContactError::BadData(
                "retries over 100",
            )));
        }
        if let Some(a) = &self.agent {
            if a.is_empty() || a.chars().count() > 64 || a.chars().any(char::is_control) {
                return Err(ScheduleError::Invalid(ContactError::BadAgent));
            }
        }
        if self.data.0.len() > ContactData::MAX_PAIRS {
            return Err(ScheduleError::Invalid(ContactError::BadData(
                "too many pairs",
            )));
        }
        if ContactData::parse(&self.data.as_text()).as_ref() != Ok(&self.data) {
            return Err(ScheduleError::Invalid(ContactError::BadData(
                "a pair that does not read back",
            )));
        }
        if let (Some(at), Some(exp)) = (self.call_at, self.expires_at) {
            if exp <= at {
                return Err(ScheduleError::ExpiresBeforeDate);
            }
        }
        Ok(())
    }
}

/// A stored scheduled call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledCall {
    /// Its id.
    pub id: ScheduleId,
    /// What it was created with (or last updated to).
    pub spec: NewScheduledCall,
    /// Where it stands.
    pub status: ScheduleStatus,
    /// Times it was taken and finished without completing.
    pub attempts: u32,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it last changed.
    pub updated_at: UnixTime,
}

/// Which scheduled calls a listing shows (every field optional; all given must hold).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScheduleFilter {
    /// Only these statuses (empty: any).
    pub statuses: Vec<ScheduleStatus>,
    /// Only this campaign.
    pub campaign: Option<CampaignId>,
    /// Only calls for this agent.
    pub agent: Option<String>,
    /// Only this number.
    pub number: Option<PhoneNumber>,
    /// Only dated calls at or after this instant.
    pub from: Option<UnixTime>,
    /// Only dated calls at or before this instant.
    pub to: Option<UnixTime>,
}

/// The campaign a pending calls panel's `queue` names (eXpand: each call belongs to a call
/// center's queue): the campaign with that name, else, of the campaigns on the queue of that
/// name, the first by name.
pub fn panel_campaign<'a>(
    campaigns: &'a [(CampaignId, super::DialerCampaign)],
    queue: &str,
) -> Option<&'a (CampaignId, super::DialerCampaign)> {
    campaigns
        .iter()
        .find(|(_, c)| c.name.as_str() == queue)
        .or_else(|| {
            campaigns
                .iter()
                .filter(|(_, c)| c.queue.as_str() == queue)
                .min_by(|a, b| a.1.name.cmp(&b.1.name))
        })
}

/// The longest page a listing returns.
pub const MAX_LIST_LIMIT: u64 = 1000;

/// Why a scheduled call command failed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A field is out of bounds.
    #[error(transparent)]
    Invalid(#[from] ContactError),
    /// The expiration is not after the date.
    #[error("the expiration is not after the call date")]
    ExpiresBeforeDate,
    /// The campaign already has an open call for the number.
    #[error("the destination is already in the spool")]
    AlreadySpooled,
    /// No scheduled call with that id.
    #[error("unknown scheduled call {0}")]
    Unknown(ScheduleId),
    /// The call is not pending (updates and cancels) or not in progress (finish).
    #[error("scheduled call {id} is {status}", id = .0, status = .1.vendor_name())]
    WrongStatus(ScheduleId, ScheduleStatus),
    /// The store failed.
    #[error("scheduled call store unavailable")]
    Store(#[source] PortError),
}

/// What an update or a finish found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Done.
    Done,
    /// No such call.
    Unknown,
    /// The call's status forbids it (its status).
    Refused(ScheduleStatus),
    /// Another open call of the campaign has the new number.
    AlreadySpooled,
}

/// Storage of scheduled calls. Every method blocks (SQLite).
pub trait ScheduleStore: Send + Sync {
    /// Stores a new Pending call at `now`, unless the campaign has an open call for its
    /// number (`None`), in one transaction.
    fn schedule_create(
        &self,
        call: &NewScheduledCall,
        now: UnixTime,
    ) -> Result<Option<ScheduleId>, PortError>;
    /// The call `id`.
    fn schedule_get(&self, id: ScheduleId) -> Result<Option<ScheduledCall>, PortError>;
    /// The calls under `filter` (by date, undated last, then id), `offset`/`limit` (at most
    /// [`MAX_LIST_LIMIT`]), and how many match in all.
    fn schedule_list(
        &self,
        filter: &ScheduleFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<ScheduledCall>), PortError>;
    /// Replaces Pending call `id`'s spec (its campaign too: a call may move to another
    /// campaign).
    fn schedule_update(
        &self,
        id: ScheduleId,
        call: &NewScheduledCall,
        now: UnixTime,
    ) -> Result<Change, PortError>;
    /// Cancels Pending call `id` (a logical delete).
    fn schedule_cancel(&self, id: ScheduleId, now: UnixTime) -> Result<Change, PortError>;
    /// Cancels Pending or Expired call `id` (a panel's discard).
    fn schedule_discard(&self, id: ScheduleId, now: UnixTime) -> Result<Change, PortError>;
    /// Cancels the campaign's Pending calls to `number` dated within `[from, to]`; how many.
    fn schedule_cancel_range(
        &self,
        campaign: CampaignId,
        number: &PhoneNumber,
        from: UnixTime,
        to: UnixTime,
        now: UnixTime,
    ) -> Result<u64, PortError>;
    /// Pending calls whose expiration has come become Expired; how many.
    fn schedule_expire(&self, now: UnixTime) -> Result<u64, PortError>;
    /// The campaign's next due call, marked InProgress in the same transaction: Pending, not
    /// expired, dated at or before `now` (first) or undated; lower priority number first,
    /// then the earlier date, then the lower id.
    fn schedule_next_due(
        &self,
        campaign: CampaignId,
        now: UnixTime,
    ) -> Result<Option<ScheduledCall>, PortError>;
    /// Finishes InProgress call `id`: Completed, or back to Pending with one more attempt.
    fn schedule_finish(
        &self,
        id: ScheduleId,
        completed: bool,
        now: UnixTime,
    ) -> Result<Change, PortError>;
    /// Hands InProgress call `id` (taken, not handed yet) to a contact of its campaign, in one
    /// transaction: `contact` is added, or the campaign's contact with that number (else the
    /// contact the call names, [`NewScheduledCall::contact`], its main number becoming the
    /// call's) becomes a due callback with the call's priority (and its alternatives, data and
    /// agent when the call has them; its attempts the call's `retries` when it names some); the call keeps that contact until the contact's next attempt is recorded,
    /// which completes it. `None`, the call back to Pending, when that contact is being dialed
    /// now or the call is not InProgress without a contact.
    fn schedule_spool(
        &self,
        id: ScheduleId,
        contact: &NewContact,
        now: UnixTime,
    ) -> Result<Option<ContactId>, PortError>;
    /// InProgress calls without a contact (taken and never handed on: a stop between the two
    /// steps) back to Pending; how many.
    fn schedule_release_unspooled(&self, now: UnixTime) -> Result<u64, PortError>;
    /// Counts of the campaign's calls by status.
    fn schedule_counts(
        &self,
        campaign: CampaignId,
    ) -> Result<Vec<(ScheduleStatus, u64)>, PortError>;
}

fn change(id: ScheduleId, c: Change) -> Result<(), ScheduleError> {
    match c {
        Change::Done => Ok(()),
        Change::Unknown => Err(ScheduleError::Unknown(id)),
        Change::Refused(s) => Err(ScheduleError::WrongStatus(id, s)),
        Change::AlreadySpooled => Err(ScheduleError::AlreadySpooled),
    }
}

/// The scheduled call commands over a [`ScheduleStore`] (blocking; the async
/// [`super::DialerService`] methods run them off the runtime).
pub struct Schedule<'a>(pub &'a dyn ScheduleStore);

impl Schedule<'_> {
    /// Validates and stores a new call.
    pub fn create(
        &self,
        call: &NewScheduledCall,
        now: UnixTime,
    ) -> Result<ScheduleId, ScheduleError> {
        call.validate()?;
        self.0
            .schedule_create(call, now)
            .map_err(ScheduleError::Store)?
            .ok_or(ScheduleError::AlreadySpooled)
    }

    /// The call `id`.
    pub fn get(&self, id: ScheduleId) -> Result<ScheduledCall, ScheduleError> {
        self.0
            .schedule_get(id)
            .map_err(ScheduleError::Store)?
            .ok_or(ScheduleError::Unknown(id))
    }

    /// A page of calls under `filter` and the total matching (`limit` capped at
    /// [`MAX_LIST_LIMIT`]).
    pub fn list(
        &self,
        filter: &ScheduleFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<ScheduledCall>), ScheduleError> {
        self.0
            .schedule_list(filter, offset, limit.min(MAX_LIST_LIMIT))
            .map_err(ScheduleError::Store)
    }

    /// Validates and replaces Pending call `id`.
    pub fn update(
        &self,
        id: ScheduleId,
        call: &NewScheduledCall,
        now: UnixTime,
    ) -> Result<(), ScheduleError> {
        call.validate()?;
        change(
            id,
            self.0
                .schedule_update(id, call, now)
                .map_err(ScheduleError::Store)?,
        )
    }

    /// Cancels Pending call `id`.
    pub fn cancel(&self, id: ScheduleId, now: UnixTime) -> Result<(), ScheduleError> {
        change(
            id,
            self.0
                .schedule_cancel(id, now)
                .map_err(ScheduleError::Store)?,
        )
    }

    /// Discards call `id` from a pending calls panel (eXpand's logical delete): a Pending
    /// call, or an Expired one (still shown to agents until discarded), becomes Canceled;
    /// a call in progress, Completed or already Canceled is refused.
    pub fn discard(&self, id: ScheduleId, now: UnixTime) -> Result<(), ScheduleError> {
        change(
            id,
            self.0
                .schedule_discard(id, now)
                .map_err(ScheduleError::Store)?,
        )
    }

    /// Cancels the campaign's Pending calls to `number` dated within `[from, to]`.
    pub fn remove_range(
        &self,
        campaign: CampaignId,
        number: &PhoneNumber,
        from: UnixTime,
        to: UnixTime,
        now: UnixTime,
    ) -> Result<u64, ScheduleError> {
        self.0
            .schedule_cancel_range(campaign, number, from, to, now)
            .map_err(ScheduleError::Store)
    }

    /// Expires Pending calls past their expiration.
    pub fn expire(&self, now: UnixTime) -> Result<u64, ScheduleError> {
        self.0.schedule_expire(now).map_err(ScheduleError::Store)
    }

    /// Takes the campaign's next due call (see [`ScheduleStore::schedule_next_due`]), expiring the
    /// ones past their expiration first.
    pub fn next_due(
        &self,
        campaign: CampaignId,
        now: UnixTime,
    ) -> Result<Option<ScheduledCall>, ScheduleError> {
        self.expire(now)?;
        self.0
            .schedule_next_due(campaign, now)
            .map_err(ScheduleError::Store)
    }

    /// Takes `campaign`'s next due call (see [`Self::next_due`]) and hands it to a contact of the
    /// campaign, a due callback the next claim takes first ([`ScheduleStore::schedule_spool`]):
    /// so a scheduled call is placed, retried, kept off the blacklist and within calling hours
    /// by the same rules and recovery as every contact. `None` when no call is due; the call
    /// and `None` when it could not be handed on now (its number is being dialed).
    pub fn spool_due(
        &self,
        id: CampaignId,
        campaign: &DialerCampaign,
        now: UnixTime,
    ) -> Result<Option<(ScheduledCall, Option<ContactId>)>, ScheduleError> {
        let Some(call) = self.next_due(id, now)? else {
            return Ok(None);
        };
        let contact = NewContact {
            main: call.spec.number.clone(),
            alternatives: call.spec.alternatives.clone(),
            data: call.spec.data.clone(),
            zone: zone_for_number(&call.spec.number, &campaign.default_zone),
            priority: call.spec.priority,
            agent: call.spec.agent.clone(),
            callback_at: Some(now),
            name: String::new(),
            info: None,
        };
        let handed = self
            .0
            .schedule_spool(call.id, &contact, now)
            .map_err(ScheduleError::Store)?;
        Ok(Some((call, handed)))
    }

    /// Calls taken and never handed to a contact back to Pending (at the dialer's start).
    pub fn release_unspooled(&self, now: UnixTime) -> Result<u64, ScheduleError> {
        self.0
            .schedule_release_unspooled(now)
            .map_err(ScheduleError::Store)
    }

    /// Finishes InProgress call `id`.
    pub fn finish(
        &self,
        id: ScheduleId,
        completed: bool,
        now: UnixTime,
    ) -> Result<(), ScheduleError> {
        change(
            id,
            self.0
                .schedule_finish(id, completed, now)
                .map_err(ScheduleError::Store)?,
        )
    }
}

/// The scheduled call commands, async (each store call on the blocking pool). Cheap to clone.
#[derive(Clone)]
pub struct ScheduleService {
    store: std::sync::Arc<dyn ScheduleStore>,
}

impl ScheduleService {
    /// A service over `store`.
    pub fn new(store: std::sync::Arc<dyn ScheduleStore>) -> Self {
        Self { store }
    }

    /// The store (for blocking callers, through [`Schedule`]).
    pub fn store(&self) -> &std::sync::Arc<dyn ScheduleStore> {
        &self.store
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(Schedule<'_>) -> Result<T, ScheduleError> + Send + 'static,
    ) -> Result<T, ScheduleError> {
        let store = self.store.clone();
        crate::core::off_runtime(move || Ok(f(Schedule(store.as_ref()))))
            .await
            .map_err(ScheduleError::Store)?
    }

    /// [`Schedule::create`].
    pub async fn create(
        &self,
        call: NewScheduledCall,
        now: UnixTime,
    ) -> Result<ScheduleId, ScheduleError> {
        self.run(move |s| s.create(&call, now)).await
    }

    /// [`Schedule::get`].
    pub async fn get(&self, id: ScheduleId) -> Result<ScheduledCall, ScheduleError> {
        self.run(move |s| s.get(id)).await
    }

    /// [`Schedule::list`].
    pub async fn list(
        &self,
        filter: ScheduleFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<ScheduledCall>), ScheduleError> {
        self.run(move |s| s.list(&filter, offset, limit)).await
    }

    /// [`Schedule::update`].
    pub async fn update(
        &self,
        id: ScheduleId,
        call: NewScheduledCall,
        now: UnixTime,
    ) -> Result<(), ScheduleError> {
        self.run(move |s| s.update(id, &call, now)).await
    }

    /// [`Schedule::cancel`].
    pub async fn cancel(&self, id: ScheduleId, now: UnixTime) -> Result<(), ScheduleError> {
        self.run(move |s| s.cancel(id, now)).await
    }

    /// [`Schedule::discard`].
    pub async fn discard(&self, id: ScheduleId, now: UnixTime) -> Result<(), ScheduleError> {
        self.run(move |s| s.discard(id, now)).await
    }

    /// [`Schedule::remove_range`].
    pub async fn remove_range(
        &self,
        campaign: CampaignId,
        number: PhoneNumber,
        from: UnixTime,
        to: UnixTime,
        now: UnixTime,
    ) -> Result<u64, ScheduleError> {
        self.run(move |s| s.remove_range(campaign, &number, from, to, now))
            .await
    }

    /// [`Schedule::expire`].
    pub async fn expire(&self, now: UnixTime) -> Result<u64, ScheduleError> {
        self.run(move |s| s.expire(now)).await
    }

    /// [`Schedule::next_due`].
    pub async fn next_due(
        &self,
        campaign: CampaignId,
        now: UnixTime,
    ) -> Result<Option<ScheduledCall>, ScheduleError> {
        self.run(move |s| s.next_due(campaign, now)).await
    }

    /// [`Schedule::spool_due`].
    pub async fn spool_due(
        &self,
        id: CampaignId,
        campaign: DialerCampaign,
        now: UnixTime,
    ) -> Result<Option<(ScheduledCall, Option<ContactId>)>, ScheduleError> {
        self.run(move |s| s.spool_due(id, &campaign, now)).await
    }

    /// [`Schedule::release_unspooled`].
    pub async fn release_unspooled(&self, now: UnixTime) -> Result<u64, ScheduleError> {
        self.run(move |s| s.release_unspooled(now)).await
    }

    /// [`Schedule::finish`].
    pub async fn finish(
        &self,
        id: ScheduleId,
        completed: bool,
        now: UnixTime,
    ) -> Result<(), ScheduleError> {
        self.run(move |s| s.finish(id, completed, now)).await
    }

    /// Counts of the campaign's calls by status.
    pub async fn counts(
        &self,
        campaign: CampaignId,
    ) -> Result<Vec<(ScheduleStatus, u64)>, ScheduleError> {
        let store = self.store.clone();
        crate::core::off_runtime(move || store.schedule_counts(campaign))
            .await
            .map_err(ScheduleError::Store)
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
