//! Listing dialer campaigns and contacts (filters, order, pages) and adding or editing one
//! contact: the queries and their bounds, the rule of what an edit does to a contact's state,
//! and the [`DialerListing`] port the store implements. Every order offered has an index
//! behind it in the store; `like` and `limit` are bounded here, once, for every API.

use super::campaign::{CampaignId, CampaignState, DialerCampaign};
use super::contact::{Attempt, Contact, ContactError, ContactId, ContactState, NewContact};
use super::zones::zone_for_number;
use super::DialerService;
use crate::core::journal::UnixTime;
use crate::core::originate::PhoneNumber;
use crate::core::{off_runtime, PortError};

/// Ascending or descending.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Smallest first (the default).
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

impl Direction {
    /// `asc` or `desc` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "asc" => Some(Self::Asc),
            "desc" => Some(Self::Desc),
            _ => None,
        }
    }
}

/// The order of a campaign list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CampaignOrder {
    /// By id (the natural order).
    #[default]
    Id,
    /// By name.
    Name,
}

/// Which campaigns, in which order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CampaignQuery {
    /// Only campaigns in this state.
    pub state: Option<CampaignState>,
    /// The order.
    pub order_by: CampaignOrder,
    /// Its direction.
    pub direction: Direction,
}

/// The order of a contact list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContactOrder {
    /// By id (the order they were added in).
    #[default]
    Id,
    /// By name.
    Name,
    /// By main number.
    Number,
    /// By when they were added.
    Added,
    /// By their last change of state.
    StateChanged,
}

/// Text a contact's name or number must contain: 1-[`Like::MAX`] printable characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Like(String);

impl Like {
    /// The longest text, in characters.
    pub const MAX: usize = 64;

    /// The text, trimmed; `None` when empty, longer than [`Like::MAX`] or with control
    /// characters.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        (!s.is_empty() && s.chars().count() <= Self::MAX && !s.chars().any(char::is_control))
            .then(|| Self(s.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `[from, to)`, either end open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interval {
    /// The first instant included.
    pub from: Option<UnixTime>,
    /// The first instant excluded.
    pub to: Option<UnixTime>,
}

/// Which contacts of a campaign, in which order, which page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactQuery {
    /// The campaign.
    pub campaign: CampaignId,
    /// Only contacts in one of these states (empty: any).
    pub states: Vec<ContactState>,
    /// Only contacts whose name or main number contains this (ASCII letters in any case).
    pub like: Option<Like>,
    /// Only contacts added in this interval.
    pub added: Interval,
    /// Only contacts whose state last changed in this interval.
    pub changed: Interval,
    /// The order.
    pub order_by: ContactOrder,
    /// Its direction.
    pub direction: Direction,
    /// How many matching contacts to skip.
    pub start: u64,
    /// The most to return (at most [`ContactQuery::MAX_LIMIT`]).
    pub limit: u32,
}

impl ContactQuery {
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: u32 = 100;
    /// The largest page.
    pub const MAX_LIMIT: u32 = 1000;

    /// Every contact of `campaign` by id, the first page.
    pub fn new(campaign: CampaignId) -> Self {
        Self {
            campaign,
            states: Vec::new(),
            like: None,
            added: Interval::default(),
            changed: Interval::default(),
            order_by: ContactOrder::Id,
            direction: Direction::Asc,
            start: 0,
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// The query with page size `limit`, capped at [`ContactQuery::MAX_LIMIT`].
    pub fn with_limit(mut self, limit: u64) -> Self {
        self.limit = u32::try_from(limit.min(u64::from(Self::MAX_LIMIT))).unwrap_or(0);
        self
    }

    /// Only contacts shown as `state`: a contact being dialed (InProgress) is still Pending to
    /// the vendors' APIs.
    pub fn shown_as(mut self, state: ContactState) -> Self {
        self.states = match state {
            ContactState::Pending | ContactState::InProgress => {
                vec![ContactState::Pending, ContactState::InProgress]
            }
            s => vec![s],
        };
        self
    }
}

/// A listed contact and its last attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedContact {
    /// The contact.
    pub contact: Contact,
    /// Its last attempt, if it had any.
    pub last: Option<Attempt>,
}

/// One page of a contact list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactPage {
    /// How many contacts match the filters (every page).
    pub total: u64,
    /// This page's contacts.
    pub rows: Vec<ListedContact>,
}

/// A contact's new data (eXpand's PUT: every field given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactEdit {
    /// The name.
    pub name: String,
    /// The main number.
    pub main: PhoneNumber,
    /// Extra information.
    pub info: Option<String>,
    /// Whether the contact is to be called.
    pub enabled: bool,
}

/// What an edit did, as the store reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditOutcome {
    /// Written.
    Edited,
    /// No such contact in the campaign.
    Unknown,
    /// Another contact of the campaign has the main number.
    NumberTaken,
    /// Refused by [`edited_state`]: the contact is being dialed.
    InProgress,
}

/// The state a contact in `current` takes when edited to `enabled`, `None` when the edit must
/// wait (a contact being dialed can keep its number and be called: anything else is refused).
/// Disabling cancels a Pending contact; enabling returns a Canceled one to Pending; Completed
/// and Rejected are final either way.
pub fn edited_state(
    current: ContactState,
    enabled: bool,
    number_changed: bool,
) -> Option<ContactState> {
    match (current, enabled) {
        (ContactState::InProgress, true) if !number_changed => Some(current),
        (ContactState::InProgress, _) => None,
        (ContactState::Pending, false) => Some(ContactState::Canceled),
        (ContactState::Canceled, true) => Some(ContactState::Pending),
        (s, _) => Some(s),
    }
}

/// Whether a contact in `state` is to be called (eXpand's `enable`).
pub fn enabled(state: ContactState) -> bool {
    state != ContactState::Canceled
}

/// Storage behind the listings and the edits of one contact.
pub trait DialerListing: Send + Sync {
    /// The campaigns matching `q`, in its order.
    fn campaign_list(
        &self,
        q: &CampaignQuery,
    ) -> Result<Vec<(CampaignId, DialerCampaign)>, PortError>;
    /// The page of contacts `q` asks for, with the count of every match.
    fn contact_page(&self, q: &ContactQuery) -> Result<ContactPage, PortError>;
    /// Adds one contact to `campaign` at `now`, Pending (Canceled unless `enabled`); `None`
    /// when the campaign already has its main number.
    fn add_contact(
        &self,
        campaign: CampaignId,
        contact: &NewContact,
        enabled: bool,
        now: UnixTime,
    ) -> Result<Option<ContactId>, PortError>;
    /// Applies `edit` to contact `id` of `campaign` at `now` in one transaction, its new state
    /// from [`edited_state`] (a contact returning to Pending is due at `now`).
    fn edit_contact(
        &self,
        campaign: CampaignId,
        id: ContactId,
        edit: &ContactEdit,
        now: UnixTime,
    ) -> Result<EditOutcome, PortError>;
}

/// Why a listing or a contact command failed.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    /// No campaign with that id.
    #[error("unknown dialer campaign {0}")]
    UnknownCampaign(CampaignId),
    /// No contact with that id in the campaign.
    #[error("unknown contact {0}")]
    UnknownContact(ContactId),
    /// Another contact of the campaign has the number.
    #[error("the campaign has a contact with that number")]
    NumberTaken,
    /// The contact is being dialed.
    #[error("contact {0} is being dialed")]
    InProgress(ContactId),
    /// The contact is invalid.
    #[error(transparent)]
    Invalid(#[from] ContactError),
    /// The service was built without a listing store.
    #[error("dialer listings are not available")]
    Unavailable,
    /// The store failed.
    #[error("dialer store unavailable")]
    Store(#[source] PortError),
}

/// A contact with its whole attempt history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactHistory {
    /// The contact.
    pub contact: Contact,
    /// Its attempts, oldest first.
    pub attempts: Vec<Attempt>,
}

/// What a new contact is made of (eXpand's POST).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactInput {
    /// The name.
    pub name: String,
    /// The main number.
    pub main: PhoneNumber,
    /// Extra information.
    pub info: Option<String>,
    /// Whether it is to be called.
    pub enabled: bool,
}

impl DialerService {
    fn listing(&self) -> Result<std::sync::Arc<dyn DialerListing>, ListingError> {
        self.listing.clone().ok_or(ListingError::Unavailable)
    }

    /// The campaigns matching `q`.
    pub async fn campaign_list(
        &self,
        q: CampaignQuery,
    ) -> Result<Vec<(CampaignId, DialerCampaign)>, ListingError> {
        let listing = self.listing()?;
        off_runtime(move || listing.campaign_list(&q))
            .await
            .map_err(ListingError::Store)
    }

    /// The campaign `id`.
    pub async fn campaign(&self, id: CampaignId) -> Result<DialerCampaign, ListingError> {
        let store = self.store.clone();
        off_runtime(move || store.campaign(id))
            .await
            .map_err(ListingError::Store)?
            .ok_or(ListingError::UnknownCampaign(id))
    }

    /// The page of contacts `q` asks for (its campaign must exist).
    pub async fn contact_page(&self, q: ContactQuery) -> Result<ContactPage, ListingError> {
        self.campaign(q.campaign).await?;
        let listing = self.listing()?;
        off_runtime(move || listing.contact_page(&q))
            .await
            .map_err(ListingError::Store)
    }

    /// Contact `id` of `campaign` with its attempts.
    pub async fn contact_history(
        &self,
        campaign: CampaignId,
        id: ContactId,
    ) -> Result<ContactHistory, ListingError> {
        let store = self.store.clone();
        let found = off_runtime(move || {
            let Some(contact) = store.contact(id)?.filter(|c| c.campaign == campaign) else {
                return Ok(None);
            };
            let attempts = store.attempts_of(id)?;
            Ok(Some(ContactHistory { contact, attempts }))
        })
        .await
        .map_err(ListingError::Store)?;
        match found {
            Some(h) => Ok(h),
            None => {
                // Which of the two is unknown.
                self.campaign(campaign).await?;
                Err(ListingError::UnknownContact(id))
            }
        }
    }

    /// Adds a contact to `campaign` at `now` (its zone from its number, the campaign's
    /// default otherwise) and returns it.
    pub async fn add_contact(
        &self,
        campaign: CampaignId,
        input: ContactInput,
        now: UnixTime,
    ) -> Result<ContactHistory, ListingError> {
        let c = self.campaign(campaign).await?;
        let mut contact = NewContact::new(
            input.main.clone(),
            zone_for_number(&input.main, &c.default_zone),
        );
        contact.name = input.name;
        contact.info = input.info;
        contact.validate()?;
        let listing = self.listing()?;
        let enabled = input.enabled;
        let id = off_runtime(move || listing.add_contact(campaign, &contact, enabled, now))
            .await
            .map_err(ListingError::Store)?
            .ok_or(ListingError::NumberTaken)?;
        self.contact_history(campaign, id).await
    }

    /// Applies `edit` to contact `id` of `campaign` at `now` and returns it.
    pub async fn edit_contact(
        &self,
        campaign: CampaignId,
        id: ContactId,
        edit: ContactEdit,
        now: UnixTime,
    ) -> Result<ContactHistory, ListingError> {
        super::contact::validate_profile(&edit.name, edit.info.as_deref())?;
        let listing = self.listing()?;
        let outcome = off_runtime(move || listing.edit_contact(campaign, id, &edit, now))
            .await
            .map_err(ListingError::Store)?;
        match outcome {
            EditOutcome::Edited => self.contact_history(campaign, id).await,
            EditOutcome::Unknown => {
                self.campaign(campaign).await?;
                Err(ListingError::UnknownContact(id))
            }
            EditOutcome::NumberTaken => Err(ListingError::NumberTaken),
            EditOutcome::InProgress => Err(ListingError::InProgress(id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_cancel_and_restore_but_never_touch_a_call_in_progress_or_a_final_state() {
        use ContactState::*;
        let cases = [
            (Pending, false, false, Some(Canceled)),
            (Pending, true, true, Some(Pending)),
            (Canceled, true, false, Some(Pending)),
            (Canceled, false, true, Some(Canceled)),
            (Completed, false, false, Some(Completed)),
            (Rejected, true, false, Some(Rejected)),
            (InProgress, true, false, Some(InProgress)),
            (InProgress, true, true, None),
            (InProgress, false, false, None),
        ];
        for (current, enable, renumber, expected) in cases {
            assert_eq!(
                edited_state(current, enable, renumber),
                expected,
                "{current:?} enable={enable} renumber={renumber}"
            );
        }
        assert!(!enabled(Canceled));
        assert!(enabled(InProgress));
    }

    #[test]
    fn like_and_limit_are_bounded() {
        assert_eq!(Like::parse("  Rodrigo ").unwrap().as_str(), "Rodrigo");
        assert!(Like::parse("").is_none());
        assert!(Like::parse(&"x".repeat(Like::MAX + 1)).is_none());
        assert!(Like::parse("a\nb").is_none());
        assert!(Like::parse(&"ñ".repeat(Like::MAX)).is_some());
        let q = ContactQuery::new(CampaignId(1)).with_limit(u64::MAX);
        assert_eq!(q.limit, ContactQuery::MAX_LIMIT);
        assert_eq!(
            ContactQuery::new(CampaignId(1))
                .shown_as(ContactState::Pending)
                .states,
            vec![ContactState::Pending, ContactState::InProgress]
        );
        assert_eq!(Direction::parse("DESC"), Some(Direction::Desc));
        assert_eq!(Direction::parse("up"), None);
    }
}
