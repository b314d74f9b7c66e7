//! Putting a destination into a dialer campaign's spool, once for every vendor: a respool (an
//! undated scheduled call), a dated scheduled call, a dialer task in one of its modes, a
//! contact or its scheduled calls removed, and the dialer actions of a disposition (RESPOOL,
//! RESPOOLALTERNATIVE, RESCHEDULE).
//!
//! The campaign is named as clients spell it ([`CampaignName`]); an unknown one is refused
//! ([`SpoolError::UnknownCampaign`]). Every scheduled call passes
//! [`NewScheduledCall::validate`] and the spool's rule that a destination is never spooled
//! twice ([`SpoolError::AlreadySpooled`]).
//!
//! Priorities: a dialer task "now" gets [`NOW_PRIORITY`] (1, kept for it); a respool gets the
//! priority it names, at least [`MIN_RESPOOL_PRIORITY`] (uContact: "do not use 1, it is for
//! scheduled calls"), [`NewScheduledCall::DEFAULT_PRIORITY`] when it names none. A dated call
//! outranks every undated one once its date has come, whatever the priorities.

use super::contact::{ContactData, ContactError, ContactId, NewContact};
use super::listing::{ContactQuery, Like};
use super::schedule::{
    NewScheduledCall, Schedule, ScheduleError, ScheduleFilter, ScheduleId, ScheduleStatus,
};
use super::zones::zone_for_number;
use super::{CampaignId, DialerService};
use crate::core::audit::Actor;
use crate::core::campaigns::{
    resolve_disposition, CampaignName, CampaignService, Disposed, DispositionAction,
    DispositionError, DispositionRequest,
};
use crate::core::journal::UnixTime;
use crate::core::originate::PhoneNumber;
use crate::core::{off_runtime, PortError};

/// The priority of a dialer task "now" (uContact's `automatic`).
pub const NOW_PRIORITY: u32 = 1;
/// The lowest priority number a respool gets (1 is for tasks "now").
pub const MIN_RESPOOL_PRIORITY: u32 = 2;

/// A destination for a campaign's spool, as a client names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolCall {
    /// The dialer campaign.
    pub campaign: CampaignName,
    /// The number to call.
    pub number: PhoneNumber,
    /// Numbers to try after it, in order.
    pub alternatives: Vec<PhoneNumber>,
    /// The agent (name or phone) the call goes to.
    pub agent: Option<String>,
    /// Data for forms and flows.
    pub data: ContactData,
    /// The priority asked for (`None`: the default of the operation).
    pub priority: Option<u32>,
    /// The dialer record the call comes from (uContact's Respool object), if the client sent
    /// one.
    pub record: DialerRecord,
}

/// The fields of uContact's Respool object that describe the dialer record a call came from
/// (the seed: "NO CAMBIAR: campaña, status, contact, dialerbase"), and the attempts count the
/// client sets for the number. Checked by [`DialerRecord::check`] against the campaign.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DialerRecord {
    /// `contact`: the id of the campaign's contact the call is for. The call is handed to it
    /// when due, its main number becoming the call's destination (the seed: "change the main
    /// number for an alternative and reorder"), unless another contact of the campaign has
    /// that number, which then takes the call. An id the campaign has no contact of (the
    /// seed's example names contact 222 of any campaign) is not an error: the call is handed
    /// by its number, as without one.
    pub contact: Option<ContactId>,
    /// `retries`: the attempts the contact counts when handed the call ("0, since we start
    /// dialing a new number"): its retry rules and the number it dials next start from there.
    /// At least the campaign's most attempts is refused (the call would never be placed).
    pub retries: Option<u32>,
    /// `dialerbase`: the name of the list the record was loaded from. The engine keeps one
    /// list per campaign (contacts are not grouped in named bases): checked (printable, at most
    /// [`DialerRecord::MAX_BASE`] characters) and journaled with the call, not used otherwise.
    pub base: Option<String>,
    /// `status`: `1`, the record enabled to be dialed (the seed: "siempre 1"); any other
    /// value is refused.
    pub status: Option<i64>,
}

impl DialerRecord {
    /// The longest `dialerbase` accepted.
    pub const MAX_BASE: usize = 128;

    /// The checks that need no store: `status` 1, `dialerbase` printable and bounded,
    /// `retries` within [`NewScheduledCall::MAX_RETRIES`].
    pub fn validate(&self) -> Result<(), SpoolError> {
        if self.status.is_some_and(|s| s != 1) {
            return Err(SpoolError::BadRecord("status is not 1"));
        }
        if let Some(b) = &self.base {
            if b.chars().count() > Self::MAX_BASE || b.chars().any(char::is_control) {
                return Err(SpoolError::BadRecord("dialerbase"));
            }
        }
        if self
            .retries
            .is_some_and(|r| r > NewScheduledCall::MAX_RETRIES)
        {
            return Err(SpoolError::BadRecord("retries over 100"));
        }
        Ok(())
    }

    /// [`Self::validate`], then against campaign `id` (whose most attempts is `max_attempts`):
    /// `retries` leaves the contact an attempt. The contact named, when it is the campaign's.
    fn check(
        &self,
        store: &dyn super::DialerStore,
        id: CampaignId,
        max_attempts: u32,
    ) -> Result<Result<Option<ContactId>, SpoolError>, PortError> {
        if let Err(e) = self.validate() {
            return Ok(Err(e));
        }
        if self.retries.is_some_and(|r| r >= max_attempts) {
            return Ok(Err(SpoolError::BadRecord(
                "retries leave the contact no attempt",
            )));
        }
        let contact = match self.contact {
            Some(c) => store
                .contact(c)?
                .filter(|found| found.campaign == id)
                .map(|found| found.id),
            None => None,
        };
        Ok(Ok(contact))
    }
}

/// What a dialer task does, from its three fields (uContact's `DialerTask`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskMode {
    /// `calldate` null, `automatic` true: an undated scheduled call at priority 1, placed as
    /// soon as the campaign is free.
    Now,
    /// `calldate` null, `bulk` false, `automatic` false: a click-to-call placed at once for the
    /// agent (the facade's agent call path, not the dialer).
    ClickToCall,
    /// `calldate` null, `bulk` true, `automatic` false: a contact added to the campaign's list
    /// (idempotent: a number the campaign has already changes nothing).
    Bulk,
    /// `calldate` given: a scheduled call at that instant, whatever `bulk` and `automatic` say.
    Dated(UnixTime),
}

/// The mode of a dialer task.
pub fn task_mode(call_at: Option<UnixTime>, bulk: bool, automatic: bool) -> TaskMode {
    match (call_at, bulk, automatic) {
        (Some(at), _, _) => TaskMode::Dated(at),
        (None, _, true) => TaskMode::Now,
        (None, true, false) => TaskMode::Bulk,
        (None, false, false) => TaskMode::ClickToCall,
    }
}

/// What a task did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskDone {
    /// A scheduled call was created.
    Scheduled(ScheduleId),
    /// A contact was added (`true`) or the campaign had its number already (`false`).
    Contact(bool),
}

/// What a removal did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Whether a contact was canceled.
    pub contact: bool,
    /// How many scheduled calls were canceled.
    pub scheduled: u64,
}

/// Why a spool command failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// No dialer campaign with that name.
    #[error("unknown dialer campaign {0}")]
    UnknownCampaign(String),
    /// The destination already has an open scheduled call in the campaign.
    #[error("the destination is already in the spool")]
    AlreadySpooled,
    /// A field is out of bounds.
    #[error(transparent)]
    Invalid(#[from] ContactError),
    /// A task mode this command does not do (a click-to-call is placed by the agent call path).
    #[error("not a dialer task")]
    NotADialerTask,
    /// RESPOOLALTERNATIVE for a destination without another number.
    #[error("no alternative number")]
    NoAlternative,
    /// RESCHEDULE without a date.
    #[error("no reschedule date")]
    NoDate,
    /// The dialer record's fields do not hold (`status`, `dialerbase`, `retries`).
    #[error("invalid dialer record: {0}")]
    BadRecord(&'static str),

    /// The scheduled calls are not part of this engine's dialer.
    #[error("scheduled calls unavailable")]
    Unavailable,
    /// The store failed.
    #[error("dialer store unavailable")]
    Store(#[source] PortError),
}

impl From<ScheduleError> for SpoolError {
    fn from(e: ScheduleError) -> Self {
        match e {
            ScheduleError::AlreadySpooled => Self::AlreadySpooled,
            ScheduleError::Invalid(c) => Self::Invalid(c),
            ScheduleError::ExpiresBeforeDate => {
                Self::Invalid(ContactError::BadData("expiration before the date"))
            }
            ScheduleError::Store(e) => Self::Store(e),
            ScheduleError::Unknown(_) | ScheduleError::WrongStatus(..) => Self::Unavailable,
        }
    }
}

/// The numbers of a destination reordered for RESPOOLALTERNATIVE: the number after `dialed`
/// (in `main` then `alternatives` order, wrapping) first, then the ones after it, `dialed`
/// last. `None` when there is no other number. `dialed` not among them counts as `main`.
pub fn next_alternative_first(
    main: &PhoneNumber,
    alternatives: &[PhoneNumber],
    dialed: &PhoneNumber,
) -> Option<(PhoneNumber, Vec<PhoneNumber>)> {
    let mut all: Vec<PhoneNumber> = std::iter::once(main.clone())
        .chain(alternatives.iter().filter(|a| *a != main).cloned())
        .collect();
    all.dedup();
    if all.len() < 2 {
        return None;
    }
    let at = all.iter().position(|n| n == dialed).unwrap_or(0);
    all.rotate_left(at + 1);
    let first = all.remove(0);
    Some((first, all))
}

/// `YYYY-MM-DD HH:MM:SS` in `zone` as an instant (the later one in a repeated hour).
pub fn local_instant(s: &str, zone: &jiff::tz::TimeZone) -> Option<UnixTime> {
    let dt = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s.trim()).ok()?;
    let z = dt.to_zoned(zone.clone()).ok()?;
    Some(UnixTime(z.timestamp().as_second()))
}

/// A disposition with its dialer action: after [`resolve_disposition`], a RESPOOL,
/// RESPOOLALTERNATIVE or RESCHEDULE rule is applied through
/// [`DialerService::after_disposition`] in the dialer campaign named by `camptoreschedule`
/// (else by the disposition's campaign), RESCHEDULE's date read in the call center's zone;
/// then the disposition is recorded ([`CampaignService::dispose_done`]), pending only when
/// its action could not be applied (no such dialer campaign, no other number; logged). The
/// answer is the disposition's: a dialer refusal does not refuse it.
pub async fn dispose(
    campaigns: &CampaignService,
    dialer: &DialerService,
    actor: &Actor,
    req: DispositionRequest,
) -> Result<Disposed, DispositionError> {
    let action = match resolve_disposition(campaigns.campaigns(), &req) {
        Ok((_, rule)) => rule.action,
        Err(e) => return Err(e),
    };
    let mut done = false;
    if action.needs_dialer() {
        let name = match req.camptoreschedule.trim() {
            "" => req.campaign.trim(),
            other => other,
        };
        let at = local_instant(&req.schedule, dialer.center());
        let result = match (
            CampaignName::parse(name),
            PhoneNumber::parse(req.callerid.trim()),
        ) {
            (Some(name), Ok(number)) => {
                dialer
                    .after_disposition(action, &name, &number, None, at, UnixTime::now())
                    .await
            }
            _ => Err(SpoolError::UnknownCampaign(name.chars().take(64).collect())),
        };
        match result {
            Ok(_) | Err(SpoolError::AlreadySpooled) => done = true,
            Err(e) => tracing::info!(
                error = %e,
                action = action.as_str(),
                "disposition: dialer action not applied, recorded as pending"
            ),
        }
    }
    campaigns.dispose_done(actor, req, done).await
}

impl DialerService {
    fn schedule_store(
        &self,
    ) -> Result<std::sync::Arc<dyn super::schedule::ScheduleStore>, SpoolError> {
        self.schedule()
            .map(|s| s.store().clone())
            .ok_or(SpoolError::Unavailable)
    }

    /// The id of the dialer campaign named `name`.
    pub async fn campaign_named(&self, name: &CampaignName) -> Result<CampaignId, SpoolError> {
        let store = self.store().clone();
        let n = name.clone();
        off_runtime(move || store.campaign_by_name(&n))
            .await
            .map_err(SpoolError::Store)?
            .map(|(id, _)| id)
            .ok_or_else(|| SpoolError::UnknownCampaign(name.to_string()))
    }

    /// The campaign named `name` and its record checked ([`DialerRecord::check`]), with the
    /// campaign's contact the record names.
    async fn campaign_with_record(
        &self,
        name: &CampaignName,
        record: &DialerRecord,
    ) -> Result<(CampaignId, Option<ContactId>), SpoolError> {
        let store = self.store().clone();
        let (n, record) = (name.clone(), record.clone());
        off_runtime(move || {
            let Some((id, campaign)) = store.campaign_by_name(&n)? else {
                return Ok(Err(SpoolError::UnknownCampaign(n.to_string())));
            };
            Ok(record
                .check(store.as_ref(), id, campaign.max_attempts())?
                .map(|contact| (id, contact)))
        })
        .await
        .map_err(SpoolError::Store)?
    }

    async fn spool_create(
        &self,
        call: SpoolCall,
        call_at: Option<UnixTime>,
        priority: u32,
        now: UnixTime,
    ) -> Result<ScheduleId, SpoolError> {
        let (id, contact) = self
            .campaign_with_record(&call.campaign, &call.record)
            .await?;
        let store = self.schedule_store()?;
        let spec = NewScheduledCall {
            campaign: id,
            number: call.number,
            alternatives: call.alternatives,
            agent: call.agent,
            call_at,
            expires_at: None,
            data: call.data,
            priority,
            contact,
            retries: call.record.retries,
        };
        off_runtime(move || Ok(Schedule(store.as_ref()).create(&spec, now)))
            .await
            .map_err(SpoolError::Store)?
            .map_err(SpoolError::from)
    }

    /// Puts `call` back into its campaign's spool, undated (uContact's `Respool`), with the
    /// record it names ([`DialerRecord`]: the contact it is handed to and the attempts that
    /// contact counts then).
    pub async fn respool(&self, call: SpoolCall, now: UnixTime) -> Result<ScheduleId, SpoolError> {
        let priority = call
            .priority
            .unwrap_or(NewScheduledCall::DEFAULT_PRIORITY)
            .max(MIN_RESPOOL_PRIORITY);
        self.spool_create(call, None, priority, now).await
    }

    /// A scheduled call at `at` (uContact's `ScheduleDialerCall`).
    pub async fn schedule_at(
        &self,
        call: SpoolCall,
        at: UnixTime,
        now: UnixTime,
    ) -> Result<ScheduleId, SpoolError> {
        let priority = call.priority.unwrap_or(NewScheduledCall::DEFAULT_PRIORITY);
        self.spool_create(call, Some(at), priority, now).await
    }

    /// A dialer task in `mode` (every mode but [`TaskMode::ClickToCall`], refused with
    /// [`SpoolError::NotADialerTask`]).
    pub async fn task(
        &self,
        call: SpoolCall,
        mode: TaskMode,
        now: UnixTime,
    ) -> Result<TaskDone, SpoolError> {
        match mode {
            TaskMode::Now => self
                .spool_create(call, None, NOW_PRIORITY, now)
                .await
                .map(TaskDone::Scheduled),
            TaskMode::Dated(at) => self
                .schedule_at(call, at, now)
                .await
                .map(TaskDone::Scheduled),
            TaskMode::Bulk => self
                .add_contact_once(call, now)
                .await
                .map(TaskDone::Contact),
            TaskMode::ClickToCall => Err(SpoolError::NotADialerTask),
        }
    }

    /// Adds `call` as a contact of its campaign (zone from its number, the campaign's default
    /// otherwise); `false` when the campaign has the number already.
    async fn add_contact_once(&self, call: SpoolCall, now: UnixTime) -> Result<bool, SpoolError> {
        let store = self.store().clone();
        let name = call.campaign.clone();
        off_runtime(move || {
            let Some((id, campaign)) = store.campaign_by_name(&name)? else {
                return Ok(Err(SpoolError::UnknownCampaign(name.to_string())));
            };
            // A new contact: a record it came from means nothing to it, but is checked.
            if let Err(e) = call.record.validate() {
                return Ok(Err(e));
            }
            let mut c = NewContact::new(
                call.number.clone(),
                zone_for_number(&call.number, &campaign.default_zone),
            );
            c.alternatives = call.alternatives;
            c.data = call.data;
            c.agent = call.agent;
            if let Some(p) = call.priority {
                c.priority = p;
            }
            if let Err(e) = c.validate() {
                return Ok(Err(SpoolError::Invalid(e)));
            }
            let added = store.insert_contacts(id, &[c], now)?;
            Ok(Ok(added.first().copied().unwrap_or(false)))
        })
        .await
        .map_err(SpoolError::Store)?
    }

    /// Cancels the campaign's contact whose main number is `number` and every open (pending)
    /// scheduled call to it, dated or not (uContact's `RemoveContact`).
    pub async fn remove_contact(
        &self,
        campaign: &CampaignName,
        number: PhoneNumber,
        now: UnixTime,
    ) -> Result<Removed, SpoolError> {
        let id = self.campaign_named(campaign).await?;
        let store = self.store().clone();
        let schedule = self.schedule().map(|s| s.store().clone());
        off_runtime(move || {
            let contact = store.cancel_contact(id, &number, now)?;
            let mut scheduled = 0;
            if let Some(schedule) = schedule {
                let filter = ScheduleFilter {
                    statuses: vec![ScheduleStatus::Pending],
                    campaign: Some(id),
                    number: Some(number.clone()),
                    ..ScheduleFilter::default()
                };
                // Each pass cancels what it lists, so the next one starts over; bounded.
                for _ in 0..100 {
                    let (_, page) = schedule.schedule_list(&filter, 0, 1000)?;
                    if page.is_empty() {
                        break;
                    }
                    for call in page {
                        if schedule.schedule_cancel(call.id, now)? == super::schedule::Change::Done
                        {
                            scheduled += 1;
                        }
                    }
                }
            }
            Ok(Removed { contact, scheduled })
        })
        .await
        .map_err(SpoolError::Store)
    }

    /// Cancels the campaign's pending calls to `number` dated within `[from, to]`
    /// (uContact's `RemoveScheduleDialerCall`); how many.
    pub async fn remove_scheduled(
        &self,
        campaign: &CampaignName,
        number: PhoneNumber,
        from: UnixTime,
        to: UnixTime,
        now: UnixTime,
    ) -> Result<u64, SpoolError> {
        let id = self.campaign_named(campaign).await?;
        let store = self.schedule_store()?;
        off_runtime(move || Ok(Schedule(store.as_ref()).remove_range(id, &number, from, to, now)))
            .await
            .map_err(SpoolError::Store)?
            .map_err(SpoolError::from)
    }

    /// The dialer side of a disposition: RESPOOL spools `callerid` again (with the contact's
    /// alternatives and data when the campaign has a contact with that main number);
    /// RESPOOLALTERNATIVE spools the contact's next number first
    /// ([`next_alternative_first`]); RESCHEDULE schedules `callerid` at `at`. `campaign` is
    /// the dialer campaign (the disposition's `camptoreschedule`, else its campaign). Other
    /// actions do nothing (`None`).
    pub async fn after_disposition(
        &self,
        action: DispositionAction,
        campaign: &CampaignName,
        callerid: &PhoneNumber,
        agent: Option<String>,
        at: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<Option<ScheduleId>, SpoolError> {
        if !action.needs_dialer() {
            return Ok(None);
        }
        let id = self.campaign_named(campaign).await?;
        let contact = self.contact_with_main(id, callerid.clone()).await?;
        let (mut number, mut alternatives, data) = match &contact {
            Some(c) => (c.main.clone(), c.alternatives.clone(), c.data.clone()),
            None => (callerid.clone(), Vec::new(), ContactData::default()),
        };
        if action == DispositionAction::RespoolAlternative {
            let (first, rest) = next_alternative_first(&number, &alternatives, callerid)
                .ok_or(SpoolError::NoAlternative)?;
            number = first;
            alternatives = rest;
        } else if let Some(i) = alternatives.iter().position(|a| a == callerid) {
            // RESPOOL and RESCHEDULE call the number the disposition names first.
            alternatives.remove(i);
            alternatives.insert(0, number);
            number = callerid.clone();
        }
        let call = SpoolCall {
            campaign: campaign.clone(),
            number,
            alternatives,
            agent,
            data,
            priority: None,
            record: DialerRecord::default(),
        };
        let done = match action {
            DispositionAction::Reschedule => {
                self.schedule_at(call, at.ok_or(SpoolError::NoDate)?, now)
                    .await?
            }
            _ => self.respool(call, now).await?,
        };
        Ok(Some(done))
    }

    /// The campaign's contact whose main number is `number`, if any.
    async fn contact_with_main(
        &self,
        id: CampaignId,
        number: PhoneNumber,
    ) -> Result<Option<NewContact>, SpoolError> {
        let Some(like) = Like::parse(number.as_str()) else {
            return Ok(None);
        };
        let mut q = ContactQuery::new(id).with_limit(ContactQuery::MAX_LIMIT.into());
        q.like = Some(like);
        let Ok(page) = self.contact_page(q).await else {
            return Ok(None);
        };
        Ok(page
            .rows
            .into_iter()
            .find(|r| r.contact.spec.main == number)
            .map(|r| r.contact.spec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    #[test]
    fn a_dialer_record_is_enabled_with_a_bounded_base_and_retries() {
        let ok = DialerRecord {
            contact: Some(ContactId(222)),
            retries: Some(0),
            base: Some("basetest".into()),
            status: Some(1),
        };
        assert!(ok.validate().is_ok());
        assert!(DialerRecord::default().validate().is_ok());
        for bad in [
            DialerRecord {
                status: Some(0),
                ..ok.clone()
            },
            DialerRecord {
                base: Some("a\nb".into()),
                ..ok.clone()
            },
            DialerRecord {
                base: Some("b".repeat(DialerRecord::MAX_BASE + 1)),
                ..ok.clone()
            },
            DialerRecord {
                retries: Some(NewScheduledCall::MAX_RETRIES + 1),
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(SpoolError::BadRecord(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn task_modes_follow_the_seed() {
        let at = UnixTime(100);
        assert_eq!(task_mode(None, false, true), TaskMode::Now);
        assert_eq!(task_mode(None, false, false), TaskMode::ClickToCall);
        assert_eq!(task_mode(None, true, false), TaskMode::Bulk);
        assert_eq!(task_mode(Some(at), true, false), TaskMode::Dated(at));
        assert_eq!(task_mode(Some(at), false, true), TaskMode::Dated(at));
    }

    #[test]
    fn the_next_alternative_comes_first_and_the_dialed_number_last() {
        let (main, alts) = (n("0991"), vec![n("0992"), n("0993")]);
        assert_eq!(
            next_alternative_first(&main, &alts, &main),
            Some((n("0992"), vec![n("0993"), n("0991")]))
        );
        assert_eq!(
            next_alternative_first(&main, &alts, &n("0992")),
            Some((n("0993"), vec![n("0991"), n("0992")]))
        );
        assert_eq!(
            next_alternative_first(&main, &alts, &n("0993")),
            Some((n("0991"), vec![n("0992"), n("0993")]))
        );
        assert_eq!(next_alternative_first(&main, &[], &main), None);
    }
}
