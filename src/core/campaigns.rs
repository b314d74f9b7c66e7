//! Campaigns: named call flows with their outbound rules (trunk, caller id), their three-level
//! dispositions, the do-not-call list (blacklist) and the calls agents place for them.
//!
//! - [`Campaign`], [`DispositionRule`], [`DispositionAction`]: configuration (the facade turns
//!   its configuration section into these).
//! - [`BlacklistEntry`] and [`BlacklistEntry::blocks`]: the blacklist rule. **Architecture
//!   Invariant:** [`CampaignService::agent_call`] checks it before the originate job exists, so a
//!   blacklisted number is never dialed for that campaign and direction.
//! - [`resolve_disposition`]: the pure validation of a disposition (the order of its checks is
//!   the order of the errors clients see).
//! - [`CampaignStore`]: the storage port (blacklist, campaign calls, dispositions).
//! - [`CampaignService`]: the commands (agent call, disposition, blacklist changes), journaled
//!   with their [`Actor`].
//!
//! Every store method blocks (SQLite): the service calls them from `spawn_blocking`.

use std::fmt;
use std::sync::Arc;

use super::audit::{outcome_of, record_quietly, ActionJournal, Actor, EngineAction};
use super::directory::{QueueName, TrunkName};
use super::journal::UnixTime;
use super::originate::{
    CallData, CallerId, ChannelRole, Extension, OriginateId, OriginateRequest, PhoneNumber,
    RequestError,
};
use super::originate_service::{OriginateService, StartError};
use super::recordings::{Guid, Recording};
use super::sessions::AgentScope;
use crate::core::{off_runtime, PortError};

// ------------------------------------------------------------------ values

fn printable(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// A campaign's name, as clients spell it (`Ventas->`, `Soporte<-`): 1-64 printable characters,
/// not `*` (which means "every campaign" in the blacklist).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CampaignName(String);

impl CampaignName {
    /// Validates a name.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s != "*" && printable(s, 64)).then(|| Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CampaignName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which campaigns a blacklist entry covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CampaignScope {
    /// `*`: every campaign.
    All,
    /// One campaign.
    One(CampaignName),
}

impl CampaignScope {
    /// `*` or a campaign name.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "*" {
            Some(Self::All)
        } else {
            CampaignName::parse(s).map(Self::One)
        }
    }

    /// `*` or the name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::All => "*",
            Self::One(c) => c.as_str(),
        }
    }

    fn covers(&self, campaign: &CampaignName) -> bool {
        match self {
            Self::All => true,
            Self::One(c) => c == campaign,
        }
    }
}

/// The direction of a call, seen from the call center.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallDirection {
    /// A customer calls in.
    Inbound,
    /// The call center calls out.
    Outbound,
}

/// Which directions a blacklist entry covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DirectionScope {
    /// `I`: inbound calls only.
    Inbound,
    /// `O`: outbound calls only.
    Outbound,
    /// `I/O` (also `IO`, or no direction): both.
    Both,
}

impl DirectionScope {
    /// `I`, `O`, `I/O` or `IO` (any case; empty is both).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "I" => Some(Self::Inbound),
            "O" => Some(Self::Outbound),
            "" | "I/O" | "IO" | "O/I" => Some(Self::Both),
            _ => None,
        }
    }

    /// `I`, `O` or `IO` (the stored form).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "I",
            Self::Outbound => "O",
            Self::Both => "IO",
        }
    }

    fn covers(self, d: CallDirection) -> bool {
        matches!(
            (self, d),
            (Self::Both, _)
                | (Self::Inbound, CallDirection::Inbound)
                | (Self::Outbound, CallDirection::Outbound)
        )
    }
}

/// A calendar day `YYYY-MM-DD` (in the call center's time zone).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day(String);

impl Day {
    /// Validates `YYYY-MM-DD` (month 1-12, day 1-31).
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) {
            return None;
        }
        if !digits(5..7) || !digits(8..10) {
            return None;
        }
        let month: u32 = s[5..7].parse().ok()?;
        let day: u32 = s[8..10].parse().ok()?;
        ((1..=12).contains(&month) && (1..=31).contains(&day)).then(|| Self(s.to_owned()))
    }

    /// The day.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A date and time `YYYY-MM-DD HH:MM:SS` (a reschedule date).
pub fn is_date_time(s: &str) -> bool {
    let Some((day, time)) = s.split_once(' ') else {
        return false;
    };
    let t = time.as_bytes();
    let two = |i: usize| -> Option<u32> {
        let p = t.get(i..i + 2)?;
        p.iter()
            .all(u8::is_ascii_digit)
            .then(|| u32::from(p[0] - b'0') * 10 + u32::from(p[1] - b'0'))
    };
    Day::parse(day).is_some()
        && t.len() == 8
        && t[2] == b':'
        && t[5] == b':'
        && two(0).is_some_and(|h| h < 24)
        && two(3).is_some_and(|m| m < 60)
        && two(6).is_some_and(|s| s < 60)
}

/// One blacklist (do-not-call) entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlacklistEntry {
    /// The blocked number.
    pub phone: PhoneNumber,
    /// The campaigns it applies to.
    pub campaign: CampaignScope,
    /// The directions it applies to.
    pub direction: DirectionScope,
    /// The last day it applies (inclusive); `None`: for ever.
    pub expire_date: Option<Day>,
    /// Who added it.
    pub username: String,
    /// Customer data.
    pub company: String,
    /// Customer data.
    pub job_title: String,
    /// Customer's name.
    pub name: String,
}

impl BlacklistEntry {
    /// Longest free text field.
    pub const MAX_TEXT: usize = 128;

    /// An entry for `phone` in `campaign`, both directions, no expiry, no data.
    pub fn new(phone: PhoneNumber, campaign: CampaignScope) -> Self {
        Self {
            phone,
            campaign,
            direction: DirectionScope::Both,
            expire_date: None,
            username: String::new(),
            company: String::new(),
            job_title: String::new(),
            name: String::new(),
        }
    }

    /// Whether the free text fields are acceptable (≤ 128 characters, no control characters).
    pub fn text_ok(&self) -> bool {
        [&self.username, &self.company, &self.job_title, &self.name]
            .iter()
            .all(|t| printable(t, Self::MAX_TEXT))
    }

    /// **The blacklist rule**: whether this entry forbids a call to `number` for `campaign` in
    /// direction `direction` on `today`.
    pub fn blocks(
        &self,
        campaign: &CampaignName,
        direction: CallDirection,
        number: &PhoneNumber,
        today: &Day,
    ) -> bool {
        self.campaign.covers(campaign) && self.in_force(direction, number, today)
    }

    /// The rule's part that does not depend on the campaign: the entry is for `number`, covers
    /// `direction` and has not expired on `today`.
    fn in_force(&self, direction: CallDirection, number: &PhoneNumber, today: &Day) -> bool {
        self.phone == *number
            && self.direction.covers(direction)
            && self.expire_date.as_ref().is_none_or(|last| today <= last)
    }
}

/// What identifies blacklist entries to remove: the phone and campaign, and optionally one
/// direction (`None`: every direction).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlacklistKey {
    /// The number.
    pub phone: PhoneNumber,
    /// The campaign scope (`*` removes only the `*` entries).
    pub campaign: CampaignScope,
    /// Only entries of this direction.
    pub direction: Option<DirectionScope>,
}

// ------------------------------------------------------------------ dispositions

/// What a disposition does besides being recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DispositionAction {
    /// Nothing.
    None,
    /// Blacklist the customer's number for the campaign (done at once).
    Blacklist,
    /// Put the number back in the dialer's pool (done by [`crate::core::dialer::spool::dispose`]
    /// when the dialer has the campaign; recorded as pending otherwise).
    Respool,
    /// Put the next alternative number in the dialer's pool (as `Respool`).
    RespoolAlternative,
    /// Schedule a call at `schedule` (as `Respool`).
    Reschedule,
}

impl DispositionAction {
    /// `NONE`, `BLACKLIST`, `RESPOOL`, `RESPOOLALTERNATIVE`, `RESCHEDULE` (any case; `SCHEDULE`
    /// is read as `RESCHEDULE`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "" | "NONE" => Self::None,
            "BLACKLIST" => Self::Blacklist,
            "RESPOOL" => Self::Respool,
            "RESPOOLALTERNATIVE" => Self::RespoolAlternative,
            "RESCHEDULE" | "SCHEDULE" => Self::Reschedule,
            _ => return None,
        })
    }

    /// The upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Blacklist => "BLACKLIST",
            Self::Respool => "RESPOOL",
            Self::RespoolAlternative => "RESPOOLALTERNATIVE",
            Self::Reschedule => "RESCHEDULE",
        }
    }

    /// Whether acting on it needs the dialer.
    pub fn needs_dialer(self) -> bool {
        matches!(
            self,
            Self::Respool | Self::RespoolAlternative | Self::Reschedule
        )
    }
}

/// One configured disposition: three levels (empty when unused), its action and its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispositionRule {
    /// Level 1 (required).
    pub l1: String,
    /// Level 2 (empty: none).
    pub l2: String,
    /// Level 3 (empty: none).
    pub l3: String,
    /// What it does.
    pub action: DispositionAction,
    /// The code answered on success (`txtcode`).
    pub txtcode: String,
}

/// A configured campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    /// Its name.
    pub name: CampaignName,
    /// The Asterisk queue whose agents and figures are the campaign's, if any.
    pub queue: Option<QueueName>,
    /// The trunk its outbound calls leave through (`None`: the dialplan's default trunk).
    pub trunk: Option<TrunkName>,
    /// The caller id number presented to customers when the request gives none.
    pub caller_id: Option<String>,
    /// Whether agents may place calls for it (`AgentCall`).
    pub outbound: bool,
    /// Its dispositions.
    pub dispositions: Vec<DispositionRule>,
}

/// A disposition request, fields as sent (absent fields are empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DispositionRequest {
    /// Campaign name.
    pub campaign: String,
    /// Agent name.
    pub agent: String,
    /// The customer's number.
    pub callerid: String,
    /// The call's guid.
    pub guid: String,
    /// Level 1.
    pub l1: String,
    /// Level 2.
    pub l2: String,
    /// Level 3.
    pub l3: String,
    /// Extra data.
    pub d1: String,
    /// Extra data.
    pub d2: String,
    /// Comment.
    pub comment: String,
    /// Reschedule date `YYYY-MM-DD HH:MM:SS`.
    pub schedule: String,
    /// The dialer to reschedule in.
    pub camptoreschedule: String,
    /// Tag for the call's recording (empty: `l1|l2|l3`).
    pub tag: String,
}

/// Why a disposition was refused. The messages are the ones clients are documented to get.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DispositionError {
    /// No campaign.
    #[error("Wrong parameters:  Empty campaign.")]
    EmptyCampaign,
    /// No customer number.
    #[error("Wrong parameters: Empty callerid")]
    EmptyCallerid,
    /// No guid.
    #[error("Wrong parameters: Empty guid")]
    EmptyGuid,
    /// No agent.
    #[error("Wrong parameters: Empty agent")]
    EmptyAgent,
    /// No level 1.
    #[error("Wrong parameters: Empty value1")]
    EmptyValue1,
    /// The campaign and levels name no configured disposition.
    #[error("Disposition not found for level1: {l1}, level2: {l2} level3: {l3}")]
    NotFound {
        /// Level 1 as sent.
        l1: String,
        /// Level 2 as sent.
        l2: String,
        /// Level 3 as sent.
        l3: String,
    },
    /// A reschedule without a date.
    #[error("Wrong parameters: Empty schedule date.")]
    EmptySchedule,
    /// A reschedule date that is not `YYYY-MM-DD HH:MM:SS`.
    #[error("The schedule date format is not well formed: El formato de la fecha tiene que ser yyyy-MM-dd HH:mm:ss")]
    BadSchedule,
    /// A field is too long or holds control characters.
    #[error("Wrong parameters: {0}")]
    BadField(&'static str),
    /// The store failed.
    #[error("the disposition could not be stored")]
    Store,
}

/// The campaign and rule a disposition request names, checked in the documented order:
/// campaign, callerid, guid, agent, level 1 present; the combination configured; for a
/// reschedule, the date present and well formed.
pub fn resolve_disposition<'a>(
    campaigns: &'a [Campaign],
    req: &DispositionRequest,
) -> Result<(&'a Campaign, &'a DispositionRule), DispositionError> {
    let empty = |s: &str| s.trim().is_empty();
    if empty(&req.campaign) {
        return Err(DispositionError::EmptyCampaign);
    }
    if empty(&req.callerid) {
        return Err(DispositionError::EmptyCallerid);
    }
    if empty(&req.guid) {
        return Err(DispositionError::EmptyGuid);
    }
    if empty(&req.agent) {
        return Err(DispositionError::EmptyAgent);
    }
    if empty(&req.l1) {
        return Err(DispositionError::EmptyValue1);
    }
    for (name, value, max) in [
        ("guid", &req.guid, 128),
        ("agent", &req.agent, 128),
        ("callerid", &req.callerid, 64),
        ("d1", &req.d1, 1024),
        ("d2", &req.d2, 1024),
        ("comment", &req.comment, 4096),
        ("camptoreschedule", &req.camptoreschedule, 64),
        ("tag", &req.tag, 64),
    ] {
        if !printable(value, max) {
            return Err(DispositionError::BadField(name));
        }
    }
    let found = campaigns
        .iter()
        .find(|c| c.name.as_str() == req.campaign.trim())
        .and_then(|c| {
            c.dispositions
                .iter()
                .find(|d| d.l1 == req.l1.trim() && d.l2 == req.l2.trim() && d.l3 == req.l3.trim())
                .map(|d| (c, d))
        });
    let Some((campaign, rule)) = found else {
        return Err(DispositionError::NotFound {
            l1: req.l1.clone(),
            l2: req.l2.clone(),
            l3: req.l3.clone(),
        });
    };
    if rule.action == DispositionAction::Reschedule {
        if empty(&req.schedule) {
            return Err(DispositionError::EmptySchedule);
        }
        if !is_date_time(req.schedule.trim()) {
            return Err(DispositionError::BadSchedule);
        }
    }
    Ok((campaign, rule))
}

/// What is stored of a disposition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispositionRecord {
    /// The request.
    pub request: DispositionRequest,
    /// The rule's action.
    pub action: DispositionAction,
    /// The rule's code.
    pub txtcode: String,
    /// Whether the action waits for the dialer.
    pub pending_dialer: bool,
    /// When.
    pub at: UnixTime,
}

// ------------------------------------------------------------------ calls

/// A call an agent placed for a campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignCall {
    /// The call's guid (what the client got).
    pub guid: Guid,
    /// The originate job.
    pub originate_id: OriginateId,
    /// The campaign.
    pub campaign: CampaignName,
    /// The agent name given.
    pub agent: String,
    /// The agent's phone (rung first).
    pub phone: Extension,
    /// The customer's number.
    pub destination: PhoneNumber,
    /// The data given with the call, as sent.
    pub data: String,
    /// The form (name or URL) for the agent's popup.
    pub form: String,
    /// When it was placed.
    pub created: UnixTime,
}

/// The guid of a click-to-call job's call: derived from the call's linkedid, which is the
/// source channel's pre-assigned uniqueid `<job id>-src`, exactly as the recordings catalogue
/// derives it from the CDR ([`Guid::derive`]).
pub fn call_guid(id: &OriginateId) -> Guid {
    Guid::derive(id.channel_uniqueid(ChannelRole::Source).as_str())
}

/// A call to place for an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentCallRequest {
    /// The campaign (must be configured, outbound).
    pub campaign: CampaignName,
    /// The agent's name (kept with the call).
    pub agent: String,
    /// The agent's phone, rung first.
    pub phone: Extension,
    /// The customer's number.
    pub destination: PhoneNumber,
    /// Caller id number shown to the customer (`None`: the campaign's).
    pub caller_id: Option<String>,
    /// Variables for the call (reach the dialplan and the CDR).
    pub variables: CallData,
    /// The data as sent (kept with the call).
    pub data: String,
    /// The popup form (kept with the call).
    pub form: String,
}

/// Why an agent call was not placed.
#[derive(Debug, thiserror::Error)]
pub enum AgentCallError {
    /// No such campaign, or not an outbound one.
    #[error("unknown outbound campaign {0}")]
    UnknownCampaign(String),
    /// The number is blacklisted for this campaign and direction.
    #[error("the number is blacklisted for campaign {0}")]
    Blacklisted(CampaignName),
    /// A value is unusable.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The store failed.
    #[error("campaign store unavailable")]
    Store(#[source] PortError),
    /// The job could not be stored.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Why a blacklist change failed.
#[derive(Debug, thiserror::Error)]
pub enum BlacklistError {
    /// A text field is too long or holds control characters.
    #[error("invalid blacklist entry")]
    Invalid,
    /// The store failed.
    #[error("campaign store unavailable")]
    Store(#[source] PortError),
}

// ------------------------------------------------------------------ inbound calls

/// **The inbound blacklist as the PBX enforces it**: whether a call from `number` to `queue`
/// (the queue of the DID it called; `None` when the DID has none) is refused before the queue.
/// It is when one of `entries` is [in force](BlacklistEntry::blocks) for inbound calls from
/// `number` on `today` and covers every campaign (`*`) or a campaign bound to `queue`. An entry
/// of a campaign without a queue (or of an unknown campaign) has no inbound call to refuse.
pub fn refuses_inbound(
    entries: &[BlacklistEntry],
    campaigns: &[Campaign],
    queue: Option<&QueueName>,
    number: &PhoneNumber,
    today: &Day,
) -> bool {
    entries.iter().any(|e| {
        e.in_force(CallDirection::Inbound, number, today)
            && match &e.campaign {
                CampaignScope::All => true,
                CampaignScope::One(name) => queue.is_some_and(|q| {
                    campaigns
                        .iter()
                        .any(|c| &c.name == name && c.queue.as_ref() == Some(q))
                }),
            }
    })
}

// ------------------------------------------------------------------ port

/// Storage of the blacklist, campaign calls and dispositions.
pub trait CampaignStore: Send + Sync {
    /// Adds (or replaces, same phone, campaign and direction) entries, all or none.
    fn blacklist_add(&self, entries: &[BlacklistEntry], at: UnixTime) -> Result<(), PortError>;
    /// Removes the entries the keys name, all in one transaction; how many were removed.
    fn blacklist_remove(&self, keys: &[BlacklistKey]) -> Result<u64, PortError>;
    /// Every entry for `phone`.
    fn blacklist_for(&self, phone: &PhoneNumber) -> Result<Vec<BlacklistEntry>, PortError>;
    /// Every entry that covers inbound calls (direction `I` or `IO`), expired ones included.
    fn blacklist_inbound(&self) -> Result<Vec<BlacklistEntry>, PortError>;
    /// Stores a placed call.
    fn call_insert(&self, call: &CampaignCall) -> Result<(), PortError>;
    /// The call with this guid.
    fn call_by_guid(&self, guid: &Guid) -> Result<Option<CampaignCall>, PortError>;
    /// Calls whose originate ids are among `ids`.
    fn calls_by_originate(&self, ids: &[String]) -> Result<Vec<CampaignCall>, PortError>;
    /// Stores a disposition.
    fn disposition_insert(&self, d: &DispositionRecord) -> Result<(), PortError>;
    /// The dispositions of a call, oldest first.
    fn dispositions_of(&self, guid: &str) -> Result<Vec<DispositionRecord>, PortError>;
}

// ------------------------------------------------------------------ service

/// The campaign commands. Cheap to clone.
#[derive(Clone)]
pub struct CampaignService {
    store: Arc<dyn CampaignStore>,
    campaigns: Arc<Vec<Campaign>>,
    actions: Arc<dyn ActionJournal>,
}

/// A successful disposition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disposed {
    /// The rule's code.
    pub txtcode: String,
    /// The rule's action.
    pub action: DispositionAction,
    /// Whether the action waits for the dialer.
    pub pending_dialer: bool,
}

impl CampaignService {
    /// A service over `store` for the configured `campaigns`.
    pub fn new(
        store: Arc<dyn CampaignStore>,
        campaigns: Vec<Campaign>,
        actions: Arc<dyn ActionJournal>,
    ) -> Self {
        Self {
            store,
            campaigns: Arc::new(campaigns),
            actions,
        }
    }

    /// The configured campaigns.
    pub fn campaigns(&self) -> &[Campaign] {
        &self.campaigns
    }

    /// The campaign named `name`.
    pub fn campaign(&self, name: &str) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| c.name.as_str() == name)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn CampaignStore> {
        &self.store
    }

    /// The calls placed for campaigns under these originate ids.
    pub async fn calls_by_originate(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<CampaignCall>, PortError> {
        let store = self.store.clone();
        off_runtime(move || store.calls_by_originate(&ids)).await
    }

    /// The comment of the last disposition of each of `guids` that has a non-empty one.
    pub async fn last_comments(
        &self,
        guids: Vec<String>,
    ) -> Result<std::collections::HashMap<String, String>, PortError> {
        let store = self.store.clone();
        off_runtime(move || {
            let mut out = std::collections::HashMap::new();
            for g in guids {
                let last = store.dispositions_of(&g)?.pop().map(|d| d.request.comment);
                if let Some(c) = last.filter(|c| !c.is_empty()) {
                    out.insert(g, c);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Whether an agent's session owns `recording`: its call was the agent's (the recording's
    /// agent, or the agent of the campaign call it belongs to).
    pub async fn owns_recording(&self, recording: &Recording, scope: &AgentScope) -> bool {
        if recording.agent.as_deref().is_some_and(|a| scope.is_self(a)) {
            return true;
        }
        let (store, guid) = (self.store.clone(), recording.guid.clone());
        off_runtime(move || store.call_by_guid(&guid))
            .await
            .ok()
            .flatten()
            .is_some_and(|c| scope.is_self(&c.agent))
    }

    /// Whether a call to `number` for `campaign` in `direction` is allowed on `today`.
    pub async fn allowed(
        &self,
        campaign: &CampaignName,
        direction: CallDirection,
        number: &PhoneNumber,
        today: &Day,
    ) -> Result<bool, PortError> {
        let store = self.store.clone();
        let n = number.clone();
        let entries = off_runtime(move || store.blacklist_for(&n)).await?;
        Ok(!entries
            .iter()
            .any(|e| e.blocks(campaign, direction, number, today)))
    }

    /// Whether an inbound call from `number` to `queue` is refused on `today`
    /// ([`refuses_inbound`] over the number's stored entries and the configured campaigns).
    pub async fn refuses_inbound(
        &self,
        queue: Option<&QueueName>,
        number: &PhoneNumber,
        today: &Day,
    ) -> Result<bool, PortError> {
        let store = self.store.clone();
        let n = number.clone();
        let entries = off_runtime(move || store.blacklist_for(&n)).await?;
        Ok(refuses_inbound(
            &entries,
            &self.campaigns,
            queue,
            number,
            today,
        ))
    }

    /// Places a two-step call for an agent: checks the campaign and the blacklist (outbound),
    /// then starts a click-to-call job from the agent's phone through the campaign's trunk and
    /// stores the call. Returns its guid. Journaled as `campaign.agent_call`.
    pub async fn agent_call(
        &self,
        actor: &Actor,
        originate: &OriginateService,
        req: AgentCallRequest,
        today: &Day,
    ) -> Result<Guid, AgentCallError> {
        let params = format!(
            "campaign={} phone={} destination={}",
            req.campaign, req.phone, req.destination
        );
        let result = self.agent_call_inner(actor, originate, req, today).await;
        let target = result.as_ref().map_or(String::new(), ToString::to_string);
        let entry = EngineAction::now(
            actor,
            "campaign.agent_call",
            target,
            params,
            outcome_of(&result),
        );
        record_quietly(Some(&self.actions), entry).await;
        result
    }

    async fn agent_call_inner(
        &self,
        actor: &Actor,
        originate: &OriginateService,
        req: AgentCallRequest,
        today: &Day,
    ) -> Result<Guid, AgentCallError> {
        let campaign = self
            .campaign(req.campaign.as_str())
            .filter(|c| c.outbound)
            .ok_or_else(|| AgentCallError::UnknownCampaign(req.campaign.to_string()))?;
        if !self
            .allowed(
                &campaign.name,
                CallDirection::Outbound,
                &req.destination,
                today,
            )
            .await
            .map_err(AgentCallError::Store)?
        {
            return Err(AgentCallError::Blacklisted(campaign.name.clone()));
        }
        let number = req.caller_id.clone().or_else(|| campaign.caller_id.clone());
        let dest_cid = number
            .as_deref()
            .map(|n| CallerId::new(None, Some(n)))
            .transpose()?;
        let mut request =
            OriginateRequest::click_to_call(req.phone.clone(), req.destination.clone())
                .with_call_data(req.variables.clone())
                .with_caller_ids(None, dest_cid);
        if let Some(trunk) = &campaign.trunk {
            request = request.with_trunk(trunk.clone());
        }
        let id = originate
            .start_campaign_job(actor, campaign.name.as_str(), request)
            .await?;
        let guid = call_guid(&id);
        let call = CampaignCall {
            guid: guid.clone(),
            originate_id: id,
            campaign: campaign.name.clone(),
            agent: req.agent,
            phone: req.phone,
            destination: req.destination,
            data: req.data,
            form: req.form,
            created: UnixTime::now(),
        };
        let store = self.store.clone();
        off_runtime(move || store.call_insert(&call))
            .await
            .map_err(AgentCallError::Store)?;
        Ok(guid)
    }

    /// Records a disposition after [`resolve_disposition`]; a `BLACKLIST` rule blacklists the
    /// customer's number for the campaign (both directions) at once; dialer actions are stored
    /// as pending. Journaled as `campaign.disposition`.
    pub async fn dispose(
        &self,
        actor: &Actor,
        req: DispositionRequest,
    ) -> Result<Disposed, DispositionError> {
        self.dispose_done(actor, req, false).await
    }

    /// [`Self::dispose`] of a disposition whose dialer action was already applied when
    /// `dialer_done` (see [`crate::core::dialer::spool::dispose`]): then it is not pending.
    pub async fn dispose_done(
        &self,
        actor: &Actor,
        req: DispositionRequest,
        dialer_done: bool,
    ) -> Result<Disposed, DispositionError> {
        let params = format!(
            "campaign={} l1={} l2={} l3={}",
            req.campaign, req.l1, req.l2, req.l3
        );
        let target = req.guid.clone();
        let result = self.dispose_inner(actor, req, dialer_done).await;
        let entry = EngineAction::now(
            actor,
            "campaign.disposition",
            target,
            params,
            outcome_of(&result),
        );
        record_quietly(Some(&self.actions), entry).await;
        result
    }

    async fn dispose_inner(
        &self,
        actor: &Actor,
        req: DispositionRequest,
        dialer_done: bool,
    ) -> Result<Disposed, DispositionError> {
        let (campaign, rule) = resolve_disposition(&self.campaigns, &req)?;
        let blacklist = if rule.action == DispositionAction::Blacklist {
            let phone = PhoneNumber::parse(req.callerid.trim())
                .map_err(|_| DispositionError::BadField("callerid"))?;
            let mut entry = BlacklistEntry::new(phone, CampaignScope::One(campaign.name.clone()));
            entry.username = actor.principal.clone();
            Some(entry)
        } else {
            None
        };
        let record = DispositionRecord {
            action: rule.action,
            txtcode: rule.txtcode.clone(),
            pending_dialer: rule.action.needs_dialer() && !dialer_done,
            at: UnixTime::now(),
            request: req,
        };
        let done = Disposed {
            txtcode: record.txtcode.clone(),
            action: record.action,
            pending_dialer: record.pending_dialer,
        };
        let store = self.store.clone();
        off_runtime(move || {
            if let Some(entry) = blacklist {
                store.blacklist_add(&[entry], record.at)?;
            }
            store.disposition_insert(&record)
        })
        .await
        .map_err(|_| DispositionError::Store)?;
        Ok(done)
    }

    /// Adds blacklist entries (all or none). Journaled as `blacklist.add`.
    pub async fn blacklist_add(
        &self,
        actor: &Actor,
        entries: Vec<BlacklistEntry>,
    ) -> Result<(), BlacklistError> {
        let params = summary(entries.iter().map(|e| (&e.phone, &e.campaign)));
        let result = if entries.iter().all(BlacklistEntry::text_ok) {
            let store = self.store.clone();
            off_runtime(move || store.blacklist_add(&entries, UnixTime::now()))
                .await
                .map_err(BlacklistError::Store)
        } else {
            Err(BlacklistError::Invalid)
        };
        let entry = EngineAction::now(actor, "blacklist.add", "", params, outcome_of(&result));
        record_quietly(Some(&self.actions), entry).await;
        result
    }

    /// Removes blacklist entries; how many. Journaled as `blacklist.remove`.
    pub async fn blacklist_remove(
        &self,
        actor: &Actor,
        keys: Vec<BlacklistKey>,
    ) -> Result<u64, BlacklistError> {
        let params = summary(keys.iter().map(|k| (&k.phone, &k.campaign)));
        let store = self.store.clone();
        let result = off_runtime(move || store.blacklist_remove(&keys))
            .await
            .map_err(BlacklistError::Store);
        let entry = EngineAction::now(actor, "blacklist.remove", "", params, outcome_of(&result));
        record_quietly(Some(&self.actions), entry).await;
        result
    }
}

fn summary<'a>(items: impl Iterator<Item = (&'a PhoneNumber, &'a CampaignScope)>) -> String {
    let all: Vec<String> = items.map(|(p, c)| format!("{p}@{}", c.as_str())).collect();
    let shown = all.iter().take(10).cloned().collect::<Vec<_>>().join(" ");
    if all.len() > 10 {
        format!("{shown} (+{} more)", all.len() - 10)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    fn c(s: &str) -> CampaignName {
        CampaignName::parse(s).unwrap()
    }

    #[test]
    fn the_guid_is_the_one_the_catalogue_derives_from_the_cdr_linkedid() {
        let id = OriginateId::parse("19a2b3c4d5e-5f0e1d2c").unwrap();
        let linkedid = id.channel_uniqueid(ChannelRole::Source);
        assert_eq!(call_guid(&id), Guid::derive(linkedid.as_str()));
    }

    #[test]
    fn inbound_calls_refused_by_queue_direction_and_expiry() {
        let camp = |name: &str, queue: Option<&str>| Campaign {
            name: c(name),
            queue: queue.map(|q| QueueName::new(q).unwrap()),
            trunk: None,
            caller_id: None,
            outbound: true,
            dispositions: Vec::new(),
        };
        let campaigns = vec![
            camp("Cobranza->", Some("q_cobranza")),
            camp("Sin cola", None),
        ];
        let entry = |phone: &str, scope: CampaignScope, dir: DirectionScope, exp: Option<&str>| {
            let mut e = BlacklistEntry::new(n(phone), scope);
            e.direction = dir;
            e.expire_date = exp.map(|d| Day::parse(d).unwrap());
            e
        };
        let one = |name: &str| CampaignScope::One(c(name));
        let entries = vec![
            entry("111", one("Cobranza->"), DirectionScope::Inbound, None),
            entry(
                "222",
                one("Cobranza->"),
                DirectionScope::Both,
                Some("2026-11-22"),
            ),
            entry("333", one("Cobranza->"), DirectionScope::Outbound, None),
            entry(
                "444",
                one("Cobranza->"),
                DirectionScope::Inbound,
                Some("2026-11-21"),
            ),
            entry("555", CampaignScope::All, DirectionScope::Both, None),
            entry("666", one("Sin cola"), DirectionScope::Inbound, None),
            entry("777", one("Desconocida"), DirectionScope::Inbound, None),
        ];
        let cobranza = QueueName::new("q_cobranza").unwrap();
        let ventas = QueueName::new("q_ventas").unwrap();
        let today = Day::parse("2026-11-22").unwrap();
        let tomorrow = Day::parse("2026-11-23").unwrap();
        let refused = |number: &str, queue: Option<&QueueName>, day: &Day| {
            refuses_inbound(&entries, &campaigns, queue, &n(number), day)
        };
        for (number, queue, day, want) in [
            // The campaign's queue: inbound and both-way entries, until their last day.
            ("111", Some(&cobranza), &today, true),
            ("222", Some(&cobranza), &today, true),
            ("222", Some(&cobranza), &tomorrow, false),
            ("333", Some(&cobranza), &today, false),
            ("444", Some(&cobranza), &today, false),
            // Another queue, or none: only entries of every campaign.
            ("111", Some(&ventas), &today, false),
            ("111", None, &today, false),
            ("555", Some(&ventas), &today, true),
            ("555", None, &today, true),
            // Campaigns without a queue (or unknown ones) refuse nobody.
            ("666", Some(&cobranza), &today, false),
            ("777", Some(&cobranza), &today, false),
            // A number that is not listed.
            ("888", Some(&cobranza), &today, false),
        ] {
            assert_eq!(
                refused(number, queue, day),
                want,
                "{number} {queue:?} {day:?}"
            );
        }
    }

    #[test]
    fn blacklist_rule_by_campaign_direction_and_expiry() {
        let today = Day::parse("2026-11-22").unwrap();
        let mut e = BlacklistEntry::new(n("5551234"), CampaignScope::One(c("Ventas->")));
        let out = CallDirection::Outbound;
        assert!(e.blocks(&c("Ventas->"), out, &n("5551234"), &today));
        assert!(!e.blocks(&c("Otra->"), out, &n("5551234"), &today));
        assert!(!e.blocks(&c("Ventas->"), out, &n("5551235"), &today));
        e.direction = DirectionScope::Inbound;
        assert!(!e.blocks(&c("Ventas->"), out, &n("5551234"), &today));
        assert!(e.blocks(
            &c("Ventas->"),
            CallDirection::Inbound,
            &n("5551234"),
            &today
        ));
        e.direction = DirectionScope::Outbound;
        e.campaign = CampaignScope::All;
        assert!(e.blocks(&c("Otra->"), out, &n("5551234"), &today));
        e.expire_date = Day::parse("2026-11-22");
        assert!(e.blocks(&c("Otra->"), out, &n("5551234"), &today));
        e.expire_date = Day::parse("2026-11-21");
        assert!(!e.blocks(&c("Otra->"), out, &n("5551234"), &today));
    }

    #[test]
    fn values_parse() {
        for (s, d) in [
            ("I", Some(DirectionScope::Inbound)),
            ("o", Some(DirectionScope::Outbound)),
            ("I/O", Some(DirectionScope::Both)),
            ("", Some(DirectionScope::Both)),
            ("X", None),
        ] {
            assert_eq!(DirectionScope::parse(s), d, "{s}");
        }
        assert!(Day::parse("2025-01-01").is_some());
        for bad in ["2025-13-01", "2025-1-01", "2025/01/01", "", "2025-01-01 "] {
            assert!(Day::parse(bad).is_none(), "{bad}");
        }
        assert!(is_date_time("2019-02-26 13:45:00"));
        for bad in [
            "2019-02-26",
            "2019-02-26 24:00:00",
            "2019-02-26T13:45:00",
            "26/02/2019 13:45:00",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
        assert!(CampaignScope::parse("*") == Some(CampaignScope::All));
        assert!(CampaignName::parse("*").is_none());
        assert!(CampaignName::parse("a\nb").is_none());
    }

    fn campaigns() -> Vec<Campaign> {
        let rule = |l1: &str, l2: &str, l3: &str, action, code: &str| DispositionRule {
            l1: l1.into(),
            l2: l2.into(),
            l3: l3.into(),
            action,
            txtcode: code.into(),
        };
        vec![Campaign {
            name: c("Cobranza->"),
            queue: None,
            trunk: None,
            caller_id: None,
            outbound: true,
            dispositions: vec![
                rule("Venta", "", "", DispositionAction::None, "V1"),
                rule("No llamar", "Pidio", "", DispositionAction::Blacklist, "NL"),
                rule("Volver", "", "", DispositionAction::Reschedule, "RS"),
            ],
        }]
    }

    #[test]
    fn disposition_checks_in_the_documented_order() {
        let cs = campaigns();
        let full = DispositionRequest {
            campaign: "Cobranza->".into(),
            agent: "ana".into(),
            callerid: "5551234".into(),
            guid: "g".into(),
            l1: "Venta".into(),
            ..Default::default()
        };
        let cases: Vec<(DispositionRequest, Result<&str, DispositionError>)> = vec![
            (full.clone(), Ok("V1")),
            (
                DispositionRequest {
                    campaign: String::new(),
                    callerid: String::new(),
                    ..full.clone()
                },
                Err(DispositionError::EmptyCampaign),
            ),
            (
                DispositionRequest {
                    callerid: " ".into(),
                    guid: String::new(),
                    ..full.clone()
                },
                Err(DispositionError::EmptyCallerid),
            ),
            (
                DispositionRequest {
                    guid: String::new(),
                    ..full.clone()
                },
                Err(DispositionError::EmptyGuid),
            ),
            (
                DispositionRequest {
                    agent: String::new(),
                    ..full.clone()
                },
                Err(DispositionError::EmptyAgent),
            ),
            (
                DispositionRequest {
                    l1: String::new(),
                    ..full.clone()
                },
                Err(DispositionError::EmptyValue1),
            ),
            (
                DispositionRequest {
                    l1: "No llamar".into(),
                    ..full.clone()
                },
                Err(DispositionError::NotFound {
                    l1: "No llamar".into(),
                    l2: String::new(),
                    l3: String::new(),
                }),
            ),
            (
                DispositionRequest {
                    l1: "No llamar".into(),
                    l2: "Pidio".into(),
                    ..full.clone()
                },
                Ok("NL"),
            ),
            (
                DispositionRequest {
                    campaign: "Otra->".into(),
                    ..full.clone()
                },
                Err(DispositionError::NotFound {
                    l1: "Venta".into(),
                    l2: String::new(),
                    l3: String::new(),
                }),
            ),
            (
                DispositionRequest {
                    l1: "Volver".into(),
                    ..full.clone()
                },
                Err(DispositionError::EmptySchedule),
            ),
            (
                DispositionRequest {
                    l1: "Volver".into(),
                    schedule: "mañana".into(),
                    ..full.clone()
                },
                Err(DispositionError::BadSchedule),
            ),
            (
                DispositionRequest {
                    l1: "Volver".into(),
                    schedule: "2019-02-26 13:45:00".into(),
                    ..full.clone()
                },
                Ok("RS"),
            ),
        ];
        for (req, want) in cases {
            let got = resolve_disposition(&cs, &req).map(|(_, r)| r.txtcode.as_str());
            assert_eq!(got, want, "{req:?}");
        }
        assert_eq!(
            DispositionError::NotFound {
                l1: "a".into(),
                l2: "b".into(),
                l3: "c".into()
            }
            .to_string(),
            "Disposition not found for level1: a, level2: b level3: c"
        );
        assert_eq!(
            DispositionError::EmptyCampaign.to_string(),
            "Wrong parameters:  Empty campaign."
        );
    }
}
