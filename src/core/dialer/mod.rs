//! The outbound dialer's data: campaigns, contacts, claiming, imports.
//!
//! - [`campaign`]: [`DialerCampaign`] and its parts (mode, schedule, calling-hours floor, retry
//!   rules, abandon target, regime, state), validated purely ([`CampaignError`]).
//! - [`contact`]: [`Contact`], [`NewContact`] (validated, [`ContactError`]), [`Attempt`].
//! - [`zones`]: a contact's IANA zone from its number.
//! - [`claim`]: the dialable rule ([`claim::classify`]), the per-zone windows, the retry rule,
//!   the "why is nothing dialable" breakdown.
//! - [`import`]: streaming, idempotent import of uploadbase files.
//! - [`calls`], [`evidence`], [`runner`]: the calls placed, what each did, the abandon ledger,
//!   and the runner that paces Active campaigns.
//! - [`abandon`]: the abandon rules over the ledger (regime window, AMD false positives
//!   estimated in the rate, no redial within 72 hours under the UK regime).
//! - [`pacing`]: how many calls to place ([`pacing::Pacer`]: preview, progressive, power, and
//!   predictive from a model with a controller on the observed abandon rate).
//! - [`simulator`]: the pure, seeded simulator that drives the real pacer.
//! - [`listing`]: campaign and contact lists (filters, orders, pages), adding and editing one
//!   contact ([`listing::DialerListing`], its own port).
//! - [`schedule`]: scheduled calls (callbacks, dialer tasks), the [`schedule::ScheduleStore`]
//!   port and [`schedule::ScheduleService`].
//! - [`spool`]: a destination put into a campaign's spool (respool, dated call, dialer task,
//!   removals, a disposition's dialer action), once for every vendor.
//! - [`uploads`]: contact bases kept durably and imported in the background, resumed after a
//!   restart, their progress followed by name ([`uploads::UploadStore`], its own port).
//! - [`DialerStore`]: the storage port; [`DialerService`]: the async commands over it.
//!
//! **Architecture Invariant:** a contact is claimed by one claimer at a time: the store marks
//! it InProgress in the transaction that selects it, and only an InProgress contact's attempt
//! can be recorded. The blacklist, schedule and zones are read at claim time, so a rule change
//! applies on the next claim.
//!
//! Every store method blocks (SQLite): the service calls them through [`off_runtime`].

pub mod abandon;
pub mod calls;
pub mod campaign;
pub mod claim;
pub mod contact;
pub mod evidence;
pub mod import;
pub mod listing;
pub mod pacing;
pub mod runner;
pub mod schedule;
pub mod simulator;
pub mod spool;
pub mod uploads;
pub mod zones;

#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;

use jiff::tz::TimeZone;

pub use campaign::{CampaignError, CampaignId, DialerCampaign, Outcome, ZoneName};
pub use claim::{AfterAttempt, AgentFilter, ClaimFilter, Claimed, WhyReport, ZoneWindows};
pub use contact::{Attempt, Contact, ContactError, ContactId, ContactState, NewContact};

use crate::core::campaigns::{CampaignName, Day};
use crate::core::journal::UnixTime;
use crate::core::{off_runtime, PortError};

/// Storage of dialer campaigns, contacts and attempts.
pub trait DialerStore: Send + Sync {
    /// Stores a new campaign; `None` when its name is taken.
    fn campaign_create(&self, c: &DialerCampaign) -> Result<Option<CampaignId>, PortError>;
    /// Replaces campaign `id`; `false` when there is none.
    fn campaign_update(&self, id: CampaignId, c: &DialerCampaign) -> Result<bool, PortError>;
    /// The campaign `id`.
    fn campaign(&self, id: CampaignId) -> Result<Option<DialerCampaign>, PortError>;
    /// The campaign named `name`.
    fn campaign_by_name(
        &self,
        name: &CampaignName,
    ) -> Result<Option<(CampaignId, DialerCampaign)>, PortError>;
    /// Every campaign, by id.
    fn campaigns(&self) -> Result<Vec<(CampaignId, DialerCampaign)>, PortError>;
    /// Adds contacts to campaign `id` in one transaction (Pending, due at their callback date
    /// or `now`); for each, whether it was added (`false`: the campaign already has its main
    /// number).
    fn insert_contacts(
        &self,
        id: CampaignId,
        contacts: &[NewContact],
        now: UnixTime,
    ) -> Result<Vec<bool>, PortError>;
    /// The contact `id`.
    fn contact(&self, id: ContactId) -> Result<Option<Contact>, PortError>;
    /// Contacts of a campaign (of one state, or all), by id, `offset`/`limit`.
    fn contacts(
        &self,
        id: CampaignId,
        state: Option<ContactState>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Contact>, PortError>;
    /// The distinct zones of a campaign's contacts.
    fn contact_zones(&self, id: CampaignId) -> Result<Vec<ZoneName>, PortError>;
    /// Claims the first dialable contact under `filter` (see [`claim`]) and marks it
    /// InProgress in the same transaction; its number is picked by
    /// [`contact::pick_number`] with blacklisted alternatives skipped.
    fn claim(
        &self,
        filter: &ClaimFilter,
        order: campaign::AlternativesOrder,
    ) -> Result<Option<Claimed>, PortError>;
    /// Records an attempt of an InProgress contact and applies `next` to it, in one
    /// transaction; `false` (nothing written) when the contact is not InProgress.
    fn finish_attempt(&self, attempt: &Attempt, next: AfterAttempt) -> Result<bool, PortError>;
    /// Returns the campaign's contacts claimed before `before` and never recorded (a dialer
    /// that stopped mid-attempt) to Pending, their attempts unchanged; how many.
    fn release_claims(&self, id: CampaignId, before: UnixTime) -> Result<u64, PortError>;
    /// Cancels the campaign's contact whose main number is `main` unless it is final already
    /// (Completed, Rejected, Canceled); whether one was canceled.
    fn cancel_contact(
        &self,
        id: CampaignId,
        main: &crate::core::originate::PhoneNumber,
        now: UnixTime,
    ) -> Result<bool, PortError>;
    /// The attempts of a contact, oldest first.
    fn attempts_of(&self, id: ContactId) -> Result<Vec<Attempt>, PortError>;
    /// The breakdown of [`claim::classify`] over every contact of the campaign.
    fn why(&self, filter: &ClaimFilter) -> Result<WhyReport, PortError>;
}

/// Why a dialer command failed.
#[derive(Debug, thiserror::Error)]
pub enum DialerError {
    /// No campaign with that id or name.
    #[error("unknown dialer campaign {0}")]
    UnknownCampaign(String),
    /// Another campaign has the name.
    #[error("a dialer campaign named {0} exists")]
    NameTaken(CampaignName),
    /// The campaign is invalid.
    #[error(transparent)]
    Invalid(#[from] CampaignError),
    /// The campaign is not Active: nothing is claimed.
    #[error("campaign is {}", .0.as_str())]
    NotActive(campaign::CampaignState),
    /// The contact is not claimed (its attempt was recorded, or it was never claimed).
    #[error("contact {0} is not in progress")]
    NotClaimed(ContactId),
    /// The store failed.
    #[error("dialer store unavailable")]
    Store(#[source] PortError),
}

/// The dialer campaign an agent works for now: the Active campaign on the queue of the call
/// it is on, else the first (by name) Active campaign on a queue it is logged in to.
pub fn campaign_of_agent<'a>(
    campaigns: &'a [(CampaignId, DialerCampaign)],
    call_queue: Option<&crate::core::directory::QueueName>,
    queues: &[&crate::core::directory::QueueName],
) -> Option<&'a CampaignName> {
    let active = |q: &crate::core::directory::QueueName| {
        campaigns
            .iter()
            .filter(|(_, c)| c.state == campaign::CampaignState::Active && &c.queue == q)
            .map(|(_, c)| &c.name)
            .min()
    };
    call_queue
        .and_then(active)
        .or_else(|| queues.iter().filter_map(|q| active(q)).min())
}

/// The call center's day at `now` in `center` (the blacklist's expiry days).
pub fn center_day(now: UnixTime, center: &TimeZone) -> Day {
    let date = claim::timestamp(now).to_zoned(center.clone()).date();
    Day::parse(&date.to_string()).unwrap_or_else(|| Day::parse("1970-01-01").expect("a day"))
}

/// The filter of campaign `id` at `now`: its zones evaluated once each.
pub fn filter_at(
    store: &dyn DialerStore,
    id: CampaignId,
    campaign: &DialerCampaign,
    now: UnixTime,
    center: &TimeZone,
) -> Result<ClaimFilter, PortError> {
    let zones = store.contact_zones(id)?;
    Ok(ClaimFilter {
        campaign: id,
        name: campaign.name.clone(),
        now,
        today: center_day(now, center),
        max_attempts: campaign.max_attempts(),
        zones: ZoneWindows::compute(campaign, &zones, now),
        agents: AgentFilter::Unknown,
    })
}

fn load(store: &dyn DialerStore, id: CampaignId) -> Result<DialerCampaign, DialerError> {
    store
        .campaign(id)
        .map_err(DialerError::Store)?
        .ok_or_else(|| DialerError::UnknownCampaign(id.to_string()))
}

/// Claims the next dialable contact of Active campaign `id` at `now`, none assigned to an agent
/// (blocks).
pub fn claim_next(
    store: &dyn DialerStore,
    id: CampaignId,
    now: UnixTime,
    center: &TimeZone,
) -> Result<Option<Claimed>, DialerError> {
    claim_next_with(store, id, now, center, AgentFilter::Unknown)
}

/// Claims the next dialable contact of Active campaign `id` at `now`, contacts assigned to the
/// agents `agents` says are free included (blocks).
pub fn claim_next_with(
    store: &dyn DialerStore,
    id: CampaignId,
    now: UnixTime,
    center: &TimeZone,
    agents: AgentFilter,
) -> Result<Option<Claimed>, DialerError> {
    let campaign = load(store, id)?;
    if campaign.state != campaign::CampaignState::Active {
        return Err(DialerError::NotActive(campaign.state));
    }
    let mut filter = filter_at(store, id, &campaign, now, center).map_err(DialerError::Store)?;
    filter.agents = agents;
    store
        .claim(&filter, campaign.alternatives)
        .map_err(DialerError::Store)
}

/// How a claimed attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptResult {
    /// Its outcome.
    pub outcome: Outcome,
    /// When it was answered.
    pub answered_at: Option<UnixTime>,
    /// Milliseconds from the answer to an agent's connection.
    pub connect_latency_ms: Option<u32>,
}

/// Records how `claimed` ended at `now` and applies the campaign's retry rules (blocks).
pub fn record_attempt(
    store: &dyn DialerStore,
    claimed: &Claimed,
    result: AttemptResult,
    now: UnixTime,
) -> Result<AfterAttempt, DialerError> {
    let campaign = load(store, claimed.contact.campaign)?;
    let attempts = claimed.contact.attempts + 1;
    let next = claim::after_attempt(&campaign, attempts, &result.outcome, now);
    let attempt = Attempt {
        contact: claimed.contact.id,
        number_of: attempts,
        dialed: claimed.number.clone(),
        claimed_at: claimed.at,
        answered_at: result.answered_at,
        ended_at: now,
        outcome: result.outcome,
        connect_latency_ms: result.connect_latency_ms,
    };
    match store.finish_attempt(&attempt, next) {
        Ok(true) => Ok(next),
        Ok(false) => Err(DialerError::NotClaimed(claimed.contact.id)),
        Err(e) => Err(DialerError::Store(e)),
    }
}

/// The "why is nothing dialable" breakdown of campaign `id` at `now` (blocks).
pub fn why(
    store: &dyn DialerStore,
    id: CampaignId,
    now: UnixTime,
    center: &TimeZone,
) -> Result<WhyReport, DialerError> {
    let campaign = load(store, id)?;
    let filter = filter_at(store, id, &campaign, now, center).map_err(DialerError::Store)?;
    store.why(&filter).map_err(DialerError::Store)
}

/// The dialer's commands, async (each blocking store call on the blocking pool). Cheap to
/// clone.
#[derive(Clone)]
pub struct DialerService {
    store: Arc<dyn DialerStore>,
    calls: Option<Arc<dyn calls::DialerCallStore>>,
    listing: Option<Arc<dyn listing::DialerListing>>,
    schedule: Option<schedule::ScheduleService>,
    pacing: Arc<runner::PacingBoard>,
    uploads: Option<uploads::UploadJobs>,
    center: TimeZone,
}

impl DialerService {
    /// A service over `store`; `center` is the call center's zone (the blacklist's days).
    pub fn new(store: Arc<dyn DialerStore>, center: TimeZone) -> Self {
        Self {
            store,
            calls: None,
            listing: None,
            schedule: None,
            pacing: Arc::default(),
            uploads: None,
            center,
        }
    }

    /// The service with the store of the dialer's calls (the runner and the ledger).
    pub fn with_calls(mut self, calls: Arc<dyn calls::DialerCallStore>) -> Self {
        self.calls = Some(calls);
        self
    }

    /// The service with the store behind listings and contact edits.
    pub fn with_listing(mut self, listing: Arc<dyn listing::DialerListing>) -> Self {
        self.listing = Some(listing);
        self
    }

    /// The service with scheduled calls over `store`.
    pub fn with_schedule(mut self, store: Arc<dyn schedule::ScheduleStore>) -> Self {
        self.schedule = Some(schedule::ScheduleService::new(store));
        self
    }

    /// The scheduled calls, when the service has them.
    pub fn schedule(&self) -> Option<&schedule::ScheduleService> {
        self.schedule.as_ref()
    }

    /// The store of the dialer's calls, when the service has one.
    pub fn calls(&self) -> Option<&Arc<dyn calls::DialerCallStore>> {
        self.calls.as_ref()
    }

    /// The pacing figures the runner publishes for each campaign it paces.
    pub fn pacing(&self) -> &Arc<runner::PacingBoard> {
        &self.pacing
    }

    /// The call center's zone.
    pub fn center(&self) -> &TimeZone {
        &self.center
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn DialerStore> {
        &self.store
    }

    /// Validates and stores a new campaign.
    pub async fn create(&self, c: DialerCampaign) -> Result<CampaignId, DialerError> {
        c.validate()?;
        let store = self.store.clone();
        let name = c.name.clone();
        off_runtime(move || store.campaign_create(&c))
            .await
            .map_err(DialerError::Store)?
            .ok_or(DialerError::NameTaken(name))
    }

    /// Validates and replaces campaign `id`.
    pub async fn update(&self, id: CampaignId, c: DialerCampaign) -> Result<(), DialerError> {
        c.validate()?;
        let store = self.store.clone();
        off_runtime(move || store.campaign_update(id, &c))
            .await
            .map_err(DialerError::Store)?
            .then_some(())
            .ok_or_else(|| DialerError::UnknownCampaign(id.to_string()))
    }

    /// Every campaign.
    pub async fn campaigns(&self) -> Result<Vec<(CampaignId, DialerCampaign)>, DialerError> {
        let store = self.store.clone();
        off_runtime(move || store.campaigns())
            .await
            .map_err(DialerError::Store)
    }

    /// Claims the next dialable contact of campaign `id` at `now`.
    pub async fn claim_next(
        &self,
        id: CampaignId,
        now: UnixTime,
    ) -> Result<Option<Claimed>, DialerError> {
        let (store, center) = (self.store.clone(), self.center.clone());
        off_runtime(move || Ok(claim_next(store.as_ref(), id, now, &center)))
            .await
            .map_err(DialerError::Store)?
    }

    /// Records how a claimed attempt ended at `now`.
    pub async fn record_attempt(
        &self,
        claimed: Claimed,
        result: AttemptResult,
        now: UnixTime,
    ) -> Result<AfterAttempt, DialerError> {
        let store = self.store.clone();
        off_runtime(move || Ok(record_attempt(store.as_ref(), &claimed, result, now)))
            .await
            .map_err(DialerError::Store)?
    }

    /// Imports an uploadbase file held in memory into campaign `id` (see [`import`]).
    pub async fn import(
        &self,
        id: CampaignId,
        base: Vec<u8>,
        zone: Option<ZoneName>,
        now: UnixTime,
    ) -> Result<import::ImportReport, DialerError> {
        let store = self.store.clone();
        off_runtime(move || {
            let Some(campaign) = store.campaign(id)? else {
                return Ok(Err(DialerError::UnknownCampaign(id.to_string())));
            };
            let mut input = std::io::Cursor::new(base);
            Ok(import::import_base(
                store.as_ref(),
                id,
                &campaign,
                &mut input,
                zone.as_ref(),
                now,
                &mut |_| {},
            )
            .map_err(|e| match e {
                import::ImportError::Store(e) => DialerError::Store(e),
                // Reading memory does not fail; kept as a store failure if it ever does.
                import::ImportError::Read(e) => DialerError::Store(Box::new(e)),
            }))
        })
        .await
        .map_err(DialerError::Store)?
    }

    /// Returns contacts claimed before `before` and never recorded to Pending.
    pub async fn release_claims(
        &self,
        id: CampaignId,
        before: UnixTime,
    ) -> Result<u64, DialerError> {
        let store = self.store.clone();
        off_runtime(move || store.release_claims(id, before))
            .await
            .map_err(DialerError::Store)
    }

    /// The "why is nothing dialable" breakdown at `now`.
    pub async fn why(&self, id: CampaignId, now: UnixTime) -> Result<WhyReport, DialerError> {
        let (store, center) = (self.store.clone(), self.center.clone());
        off_runtime(move || Ok(why(store.as_ref(), id, now, &center)))
            .await
            .map_err(DialerError::Store)?
    }

    /// The figures of every campaign working `queue` (the supervision APIs), by name.
    pub async fn figures_of_queue(
        &self,
        queue: &crate::core::directory::QueueName,
        now: UnixTime,
    ) -> Result<Vec<CampaignFigures>, DialerError> {
        let (store, center, calls) = (self.store.clone(), self.center.clone(), self.calls.clone());
        let queue = queue.clone();
        let mut figures = off_runtime(move || {
            let mut out = Vec::new();
            for (id, campaign) in store.campaigns()? {
                if campaign.queue != queue {
                    continue;
                }
                let contacts = why(store.as_ref(), id, now, &center).map_err(PortError::from)?;
                let rule = abandon::AbandonRule::of(&campaign);
                let window = match &calls {
                    Some(calls) => calls.ledger(id, rule.window_start(now))?,
                    None => calls::LedgerCounts::default(),
                };
                out.push(CampaignFigures {
                    id,
                    abandon_rate: rule.rate(&window),
                    false_positives: rule.false_positives,
                    campaign,
                    contacts,
                    window,
                    pacing: None,
                });
            }
            Ok(out)
        })
        .await
        .map_err(DialerError::Store)?;
        for f in &mut figures {
            f.pacing = self.pacing.get(f.id);
        }
        Ok(figures)
    }
}

/// A campaign at work, as the supervision APIs show it.
#[derive(Clone, Debug, PartialEq)]
pub struct CampaignFigures {
    /// Its id.
    pub id: CampaignId,
    /// The campaign.
    pub campaign: DialerCampaign,
    /// Its contacts by what keeps them from being dialed now.
    pub contacts: WhyReport,
    /// The abandon ledger over the regime's window.
    pub window: calls::LedgerCounts,
    /// The window's abandon rate, AMD false positives estimated in (`None`: nobody answered).
    pub abandon_rate: Option<f64>,
    /// The share of the window's machine verdicts counted as people in `abandon_rate` (the
    /// campaign's).
    pub false_positives: abandon::FalsePositiveShare,
    /// The pacing's last decision (`None`: not paced since the engine started).
    pub pacing: Option<pacing::Figures>,
}
