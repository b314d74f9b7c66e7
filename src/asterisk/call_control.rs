//! [`AmiCallControl`]: the core's [`CallControl`] port over AMI, and the event follower that
//! turns Asterisk's events about originate jobs into [`PbxFact`]s.
//!
//! Every job channel gets a pre-assigned uniqueid derived from the job id (the scheme is
//! `core::originate::OriginateId::channel_uniqueid`, its one definition), so no early event can
//! be missed and no lookup table is needed to recognise a job's events:
//!
//! | mode | channel | uniqueid |
//! |---|---|---|
//! | click-to-call | `PJSIP/<source>` (rings first, then runs `Dial` in the dialplan) | `<id>-src` |
//! | outside source | `Local/<source>@<context>/n` half `;1` (answered when the number answers, then runs `Dial` towards the destination) | `<id>-src` |
//! | outside source | its half `;2` (dials the source number in the dialplan) | `<id>-srcdial` |
//! | direct | `Local/<destination>@<context>` half `;1` (goes to the target once answered) | `<id>-dst` |
//! | direct | its half `;2` (runs `Dial` in the dialplan) | `<id>-dial` |
//!
//! Click-to-call sends `Originate` with `Channel: PJSIP/<source>`, `Context: <context>` (default
//! `centralita-originate`), `Exten: <destination>`, so the destination is dialed by the dialplan
//! (recording, trunk choice, CDR `calldata`, `sub-dial-outcome`). A source that is an outside
//! number is called the same way as a destination: a `Local` channel into the same context
//! (`/n`, kept in the path so its events stay the job's), whose `;1` half, once the number
//! answered, enters `<context>,<destination>` like a phone that answered. Direct mode uses a `Local`
//! channel into the same context rather than `PJSIP/<number>@<trunk>`: the trunk, number
//! checks, recording and CDR call data stay in the dialplan, exactly as for click-to-call, and the
//! engine never builds a dial string. Channel variables: `DIAL_TIMEOUT` (seconds),
//! `CALLDATA` (`k=v,k=v`, or a bare value) and, when set, `DEST_CALLERID` (`"name" <number>`, for
//! the dialplan to present to the destination) and `TRUNK` (the trunk `outbound` dials through,
//! shadowing the dialplan's global of that name). In both click-to-call modes the source's caller
//! id number, in `CallerID` and in `DEST_CALLERID`, is the source itself unless the request gives
//! one: the CDR's `src` is the extension (or number) the call was placed from.
//!
//! Event mapping (uniqueid role → fact; drawn once per event by the event hub, in
//! [`event_facts`](super::event_facts)):
//! - `Newchannel` (any role) → `ChannelCreated(name)`
//! - `Newstate` 5 Ringing / 6 Up of the originated channel → source (or, direct, destination)
//!   ringing / answered
//! - `DialBegin` / `DialEnd` whose caller is the dialing channel → destination ringing /
//!   answered / `DialEnded(status)`
//! - `DialEnd` whose callee is the originated channel → source answered / failed (direct:
//!   destination)
//! - `OriginateResponse` (by uniqueid there, else by `ActionID` here): `Success` → answered;
//!   `Failure` with `Reason` 0 failed, 1 hung up, 3 no answer, 5 busy, 8 congestion → failed
//! - `Hangup` of the originated channel → `HungUp { cause }`
//!
//! A click-to-call whose source's device is `INUSE`, `BUSY`, `ONHOLD` or `RINGINUSE` is not
//! placed ("source in use"). The device states are read from the live state the
//! [`EventHub`] keeps them in (the engine's one copy, which the live state's readers see too):
//! the hub applies every `DeviceStateChange` in stream order, the entries of every
//! `DeviceStateList` among them, before any consumer reads the event.
//!
//! Missed events (the follower or the hub lagged on a bounded broadcast, or the connection was
//! lost) are made good once per episode, never by buffering more: when the follower and the
//! hub have drained their backlog and 100 ms went by without a new lag, the follower sends one
//! `DeviceStateList` from a separate task and keeps reading. The list's entries are applied
//! by the hub as they come through the event stream (Asterisk sends them as
//! `DeviceStateChange` events with the action's `ActionID`), so they and the live changes land
//! in wire order; when the follower reads the list's `DeviceStateListComplete` with no lag in
//! between, the device states are whole again and the originate service gets one `Resync`
//! (open jobs checked against `CoreShowChannels`). A reload that a new lag overtook is asked
//! again after a wait that doubles from 250 ms to 30 s: a reload cannot trigger a loop of
//! reloads, even when its own list overflows the follower. Asking only once drained matters:
//! right after a lag the receivers hold a full channel's backlog, so any event published
//! before they read on (the list's own entries first of all) overflows them again — which is
//! how reloading right on the lag, awaiting the list inline, looped.
//!
//! The follower never awaits the originate service: facts and the `Resync` go into its bounded
//! queue with `try_send`. A fact that does not fit is dropped and a `Resync` owed; the owed
//! `Resync` is sent as soon as there is room (tried on every event and every 20 ms), ahead of
//! any later fact, so a slow service never holds up the reading of AMI events.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};
use tracing::{debug, info, warn};

use crate::core::live::{DeviceStatus, SharedLive};
use crate::core::originate::{
    BoxFuture, CallControl, CallControlError, CallerId, ChannelRole, Extension, OriginateId,
    OriginateJob, OriginateMode, OriginateStore, PbxFact, PbxUpdate,
};
use crate::core::originate_service::{OriginateService, OriginateSettings};
use crate::core::ChannelName;

use super::ami::action::{CoreShowChannels, DeviceStateList, Hangup, Originate, OriginateTarget};
use super::ami::{ActionError, AmiClient, AmiError, ConnectionState};
use super::event_facts::{names_a_job, originate_response_fact};
use super::events::{EventHub, EventReceiver, OriginateResponse, PbxEvent};
use super::naming;

/// The dialplan context originated calls go through unless configured otherwise.
pub const DEFAULT_CONTEXT: &str = "centralita-originate";

/// How long an `OriginateResponse` that matched no job yet is kept (its `ActionID` may be
/// registered a moment later).
const ORPHAN_TTL: Duration = Duration::from_secs(30);

/// Facts the follower may queue for the originate service before it falls behind: then the
/// facts that do not fit are dropped and one `Resync` follows as soon as there is room (the
/// service checks its open jobs against the PBX), instead of an unbounded queue. The follower
/// never waits for that room: it keeps reading events and tries the `Resync` again on the next
/// event or after [`RESYNC_RETRY`].
pub const UPDATE_CAPACITY: usize = 4096;

/// How soon a `Resync` owed to a service with a full queue is tried again when no event comes.
const RESYNC_RETRY: Duration = Duration::from_millis(20);

/// `"name" <number>`, `"name"` or `<number>`.
pub fn render_caller_id(cid: &CallerId) -> String {
    match (cid.name(), cid.number()) {
        (Some(name), Some(number)) => format!("\"{name}\" <{number}>"),
        (Some(name), None) => format!("\"{name}\""),
        (None, Some(number)) => format!("<{number}>"),
        (None, None) => String::new(),
    }
}

/// `cid` with `number` as its number when it has none (`<number>` when there is no `cid`).
fn with_number(cid: Option<&CallerId>, number: &str) -> String {
    match cid {
        Some(c) if c.number().is_some() => render_caller_id(c),
        Some(c) => CallerId::new(c.name(), Some(number))
            .map(|c| render_caller_id(&c))
            .unwrap_or_else(|_| render_caller_id(c)),
        None => format!("<{number}>"),
    }
}

/// The `Originate` action of a job.
pub fn originate_action(job: &OriginateJob, context: &str) -> Result<Originate, ActionError> {
    let req = &job.request;
    let dial_timeout = job.ring_timeout.as_secs().max(1);
    // The party a click-to-call is placed from (the CDR's `src`).
    let source = match &req.mode {
        OriginateMode::ClickToCall { source } => Some(source.as_str()),
        OriginateMode::OutsideSource { source } => Some(source.as_str()),
        OriginateMode::Direct { .. } => None,
    };
    let mut action = match &req.mode {
        OriginateMode::ClickToCall { source } => Originate::new(
            &naming::device(source.as_str()),
            OriginateTarget::extension(context, req.destination.as_str(), 1)?,
        )?
        .with_timeout(job.ring_timeout)
        .with_channel_id(&job.id.channel_uniqueid(ChannelRole::Source))?,
        OriginateMode::OutsideSource { source } => Originate::new(
            &format!("{}/n", naming::local_channel(source.as_str(), context)),
            OriginateTarget::extension(context, req.destination.as_str(), 1)?,
        )?
        // The dialplan's Dial towards the number times out first, so its outcome wins.
        .with_timeout(job.ring_timeout + Duration::from_secs(5))
        .with_channel_id(&job.id.channel_uniqueid(ChannelRole::Source))?
        .with_other_channel_id(&job.id.channel_uniqueid(ChannelRole::SourceDialing))?,
        OriginateMode::Direct { target } => Originate::new(
            &naming::local_channel(req.destination.as_str(), context),
            OriginateTarget::extension(target.context(), target.exten(), 1)?,
        )?
        // The dialplan's Dial times out first, so its precise outcome wins.
        .with_timeout(job.ring_timeout + Duration::from_secs(5))
        .with_channel_id(&job.id.channel_uniqueid(ChannelRole::DirectOriginated))?
        .with_other_channel_id(&job.id.channel_uniqueid(ChannelRole::DirectDialing))?,
    };
    match (&req.source_caller_id, source) {
        (cid, Some(source)) => {
            action = action.with_caller_id(&with_number(cid.as_ref(), source))?;
        }
        (Some(cid), None) => action = action.with_caller_id(&render_caller_id(cid))?,
        (None, None) => {}
    }
    action = action
        .with_variable("DIAL_TIMEOUT", &dial_timeout.to_string())?
        .with_variable("CALLDATA", &req.call_data.render())?
        .with_variable("ORIGINATE_ID", job.id.as_str())?;
    if let Some(cid) = &req.destination_caller_id {
        let shown = match source {
            Some(source) => with_number(Some(cid), source),
            None => render_caller_id(cid),
        };
        action = action.with_variable("DEST_CALLERID", &shown)?;
    }
    if let Some(record) = req.record {
        action = action.with_variable("RECORD", if record { "yes" } else { "no" })?;
    }
    if let Some(trunk) = &req.trunk {
        action = action.with_variable("TRUNK", trunk.as_str())?;
    }
    if let Some(leg) = &req.dialer {
        action = action
            .with_variable("DIALER_AMD", if leg.amd { "yes" } else { "no" })?
            .with_variable("DIALER_WAIT", &leg.wait_s.to_string())?
            .with_variable("DIALER_SAFE_HARBOR", &leg.safe_harbor)?;
        if let Some(agent) = &leg.agent {
            action = action.with_variable("DIALER_AGENT", agent.as_str())?;
        }
    }
    Ok(action)
}

#[derive(Default)]
struct Correlation {
    /// `ActionID` of a sent `Originate` → its job and originated channel's role.
    by_action: HashMap<String, (OriginateId, ChannelRole)>,
    /// `OriginateResponse` events that matched nothing yet.
    orphans: VecDeque<(Instant, OriginateResponse)>,
}

/// The state the adapter shares between the port and its follower task.
struct Shared {
    /// The live state whose device states the event hub keeps (the engine's one copy).
    live: Arc<SharedLive>,
    correlation: Mutex<Correlation>,
    updates: mpsc::Sender<PbxUpdate>,
    /// A fact was dropped because the service had `UPDATE_CAPACITY` queued: a `Resync` is owed.
    resync_owed: AtomicBool,
}

impl Shared {
    fn new(live: Arc<SharedLive>, updates: mpsc::Sender<PbxUpdate>) -> Self {
        Self {
            live,
            correlation: Mutex::new(Correlation::default()),
            updates,
            resync_owed: AtomicBool::new(false),
        }
    }

    /// Queues a fact for the service; `false` once the service is gone. A fact that does not
    /// fit is dropped and a `Resync` owed ([`Shared::settle`]). While one is owed it goes
    /// first: a fact is queued only behind the `Resync` that covers what was dropped before it.
    fn emit(&self, job: OriginateId, fact: PbxFact) -> bool {
        if !self.settle() {
            return false;
        }
        if self.resync_pending() {
            return true;
        }
        match self.updates.try_send(PbxUpdate::Fact { job, fact }) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.resync_owed.swap(true, Ordering::SeqCst) {
                    warn!("originate service behind the PBX's events; resync owed");
                }
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Sends the `Resync` owed, if there is room for it; never waits (the follower keeps
    /// reading events while the service is slow): without room it stays owed and is tried
    /// again on the next event or after [`RESYNC_RETRY`]. `false` once the service is gone.
    fn settle(&self) -> bool {
        if !self.resync_owed.swap(false, Ordering::SeqCst) {
            return true;
        }
        match self.updates.try_send(PbxUpdate::Resync) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.resync_owed.store(true, Ordering::SeqCst);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Whether a `Resync` is owed and not sent yet.
    fn resync_pending(&self) -> bool {
        self.resync_owed.load(Ordering::SeqCst)
    }

    /// Owes the service one `Resync` (sent by [`Shared::settle`]; several owed make one).
    fn owe_resync(&self) {
        self.resync_owed.store(true, Ordering::SeqCst);
    }

    /// An `OriginateResponse` that did not carry one of our uniqueids: match it by `ActionID`.
    fn on_unmatched_response(&self, ev: OriginateResponse) {
        let mut c = self
            .correlation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = ev.action_id.as_deref().and_then(|a| c.by_action.remove(a));
        match found {
            Some((id, role)) => {
                drop(c);
                if let Some(fact) = originate_response_fact(&ev, role) {
                    self.emit(id, fact);
                }
            }
            None => {
                let now = Instant::now();
                while c
                    .orphans
                    .front()
                    .is_some_and(|(t, _)| now.duration_since(*t) > ORPHAN_TTL)
                {
                    c.orphans.pop_front();
                }
                if c.orphans.len() < 1024 {
                    c.orphans.push_back((now, ev));
                }
            }
        }
    }

    /// Remembers an `Originate`'s `ActionID`, or settles an early response that used it.
    fn register_action(&self, action_id: &str, id: OriginateId, role: ChannelRole) {
        let mut c = self
            .correlation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(pos) = c
            .orphans
            .iter()
            .position(|(_, ev)| ev.action_id.as_deref() == Some(action_id))
        {
            if let Some((_, ev)) = c.orphans.remove(pos) {
                drop(c);
                if let Some(fact) = originate_response_fact(&ev, role) {
                    self.emit(id, fact);
                }
            }
            return;
        }
        // Bounded: entries are removed when their response arrives; drop stale ones wholesale.
        if c.by_action.len() > 10_000 {
            c.by_action.clear();
        }
        c.by_action.insert(action_id.to_owned(), (id, role));
    }
}

/// The [`CallControl`] port over an [`AmiClient`].
pub struct AmiCallControl {
    client: AmiClient,
    context: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AmiCallControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmiCallControl")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

fn control_error(e: AmiError) -> CallControlError {
    match e {
        AmiError::ActionFailed { action, message } => {
            CallControlError::Refused(format!("{action}: {message}"))
        }
        AmiError::InvalidAction(e) => CallControlError::Refused(e.to_string()),
        other => CallControlError::Unreachable(Box::new(other)),
    }
}

impl AmiCallControl {
    /// Subscribes to `hub`'s events, lists the device states (into the hub's live state), and
    /// spawns the follower that reports facts on the returned receiver. `context` is where
    /// originated calls enter the dialplan (`[A-Za-z0-9_-]`).
    pub async fn spawn(
        hub: &EventHub,
        context: &str,
    ) -> Result<(Arc<Self>, mpsc::Receiver<PbxUpdate>), ActionError> {
        OriginateTarget::extension(context, "s", 1)?;
        let client = hub.client().clone();
        let events = hub.subscribe();
        let conn = client.connection_events();
        let (tx, rx) = mpsc::channel(UPDATE_CAPACITY);
        let shared = Arc::new(Shared::new(hub.live(), tx));
        load_devices(hub).await;
        tokio::spawn(follow(client.clone(), shared.clone(), events, conn));
        let control = Arc::new(Self {
            client,
            context: context.to_owned(),
            shared,
        });
        Ok((control, rx))
    }
}

/// How long the start waits for the hub to apply the first device list it already received.
const LIST_APPLY_WAIT: Duration = Duration::from_secs(5);

/// Lists the device states once and waits until the hub applied them (their entries come
/// through the event stream like any `DeviceStateChange`).
async fn load_devices(hub: &EventHub) {
    match hub.client().send_list(&DeviceStateList).await {
        Ok((response, entries)) => {
            let applied = match response.action_id() {
                Some(id) => hub.device_list_applied(id, LIST_APPLY_WAIT).await,
                None => false,
            };
            debug!(devices = entries.len(), applied, "device states listed");
        }
        Err(error) => warn!(%error, "DeviceStateList failed; source-in-use checks rely on events"),
    }
}

/// How long the stream must go without a lag before the episode's reload is asked (a storm
/// lags the follower again and again; one reload after it, not one per breath in it).
const RELOAD_QUIET: Duration = Duration::from_millis(100);
/// Shortest wait before asking again for a reload whose list a new lag overtook.
const RELOAD_RETRY_MIN: Duration = Duration::from_millis(250);
/// Longest such wait (it doubles with each overtaken reload).
const RELOAD_RETRY_MAX: Duration = Duration::from_secs(30);

/// Where the follower's device-state reload stands (see [`follow`]).
#[derive(Debug, PartialEq, Eq)]
enum ReloadStep {
    /// No reload in flight.
    Idle,
    /// `DeviceStateList` sent; its reply (with its `ActionID`) not back yet.
    Asked,
    /// The reply is back; the list's closing event (this `ActionID`) not yet read off the
    /// event stream.
    Reading(String),
}

/// What a reply or a list end means for the follower.
#[derive(Debug, PartialEq, Eq)]
enum ReloadOutcome {
    /// Nothing to do yet.
    Pending,
    /// The device states are whole again (or could not be reloaded): resync the jobs once.
    Resync,
}

/// The follower's bookkeeping of lag episodes and device-state reloads: pure, so the rules
/// (at most one reload in flight, one reload and one resync per episode, a reload that a new
/// lag overtook asked again after a growing wait) are unit-tested without a PBX.
#[derive(Debug)]
struct Reload {
    /// Device states may be stale: a lag or a reconnect since the last completed reload.
    stale: bool,
    /// Lags and reconnects so far.
    gaps: u64,
    /// `gaps` when the reload in flight was asked: it is whole only if no gap followed.
    asked_at: u64,
    step: ReloadStep,
    /// Closing `ActionID`s read off the stream while the reply was not back (it can be
    /// overtaken by its own closing event); a few at most.
    ends_seen: Vec<String>,
    /// Wait before the next ask (zero unless the last reload was overtaken).
    retry: Duration,
    /// Not before this instant.
    not_before: Instant,
}

impl Reload {
    fn new(now: Instant) -> Self {
        Self {
            stale: false,
            gaps: 0,
            asked_at: 0,
            step: ReloadStep::Idle,
            ends_seen: Vec::new(),
            retry: Duration::ZERO,
            not_before: now,
        }
    }

    /// A lag or a reconnect: events were missed. A list being read is overtaken (some of it
    /// may be among the missed events); the episode's reload is asked once the stream drained.
    /// Returns whether this starts an episode (it was not stale).
    fn gap(&mut self, now: Instant) -> bool {
        self.gaps += 1;
        if matches!(self.step, ReloadStep::Reading(_)) {
            self.overtaken_at(now);
        }
        self.not_before = self.not_before.max(now + RELOAD_QUIET);
        !std::mem::replace(&mut self.stale, true)
    }

    /// Whether to send `DeviceStateList` now: stale, none in flight, the follower caught up
    /// with the stream (`drained`: no backlog the list would queue behind), [`RELOAD_QUIET`]
    /// since the last gap, and the wait after an overtaken reload is over.
    fn should_ask(&self, drained: bool, now: Instant) -> bool {
        self.stale && self.step == ReloadStep::Idle && drained && now >= self.not_before
    }

    /// When a stale follower that waits (for quiet, or after an overtaken reload) may ask
    /// (`None` when it is not waiting, or the wait is over).
    fn retry_at(&self, now: Instant) -> Option<Instant> {
        (self.stale && self.step == ReloadStep::Idle && self.not_before > now)
            .then_some(self.not_before)
    }

    fn asked(&mut self) {
        self.step = ReloadStep::Asked;
        self.asked_at = self.gaps;
        self.ends_seen.clear();
    }

    fn overtaken_at(&mut self, now: Instant) {
        self.step = ReloadStep::Idle;
        self.retry = (self.retry * 2).clamp(RELOAD_RETRY_MIN, RELOAD_RETRY_MAX);
        self.not_before = now + self.retry;
    }

    fn completed(&mut self) -> ReloadOutcome {
        self.step = ReloadStep::Idle;
        self.stale = false;
        self.retry = Duration::ZERO;
        ReloadOutcome::Resync
    }

    /// The reply of the reload in flight: its `ActionID`, or `None` if the action failed.
    fn replied(&mut self, action_id: Option<String>, now: Instant) -> ReloadOutcome {
        if self.step != ReloadStep::Asked {
            return ReloadOutcome::Pending;
        }
        match action_id {
            // Failed (disconnected, refused, timed out): the jobs are resynced anyway; the
            // devices follow events until the next lag or reconnect.
            None => self.completed(),
            Some(_) if self.gaps != self.asked_at => {
                self.overtaken_at(now);
                ReloadOutcome::Pending
            }
            Some(id) if self.ends_seen.contains(&id) => self.completed(),
            Some(id) => {
                self.step = ReloadStep::Reading(id);
                ReloadOutcome::Pending
            }
        }
    }

    /// A `DeviceStateList`'s closing event read off the stream, `action_id` its `ActionID`:
    /// when it is the reload's, every entry before it was applied in stream order.
    fn list_end(&mut self, action_id: &str) -> ReloadOutcome {
        match &self.step {
            ReloadStep::Asked => {
                if self.ends_seen.len() < 8 {
                    self.ends_seen.push(action_id.to_owned());
                }
                ReloadOutcome::Pending
            }
            ReloadStep::Reading(id) if id == action_id => self.completed(),
            _ => ReloadOutcome::Pending,
        }
    }
}

/// Sends `DeviceStateList` on its own task: the follower keeps reading the stream meanwhile
/// (the list's entries arrive there too). Resolves to the action's `ActionID`.
fn ask_devices(client: &AmiClient) -> tokio::task::JoinHandle<Option<String>> {
    let client = client.clone();
    tokio::spawn(async move {
        match client.send_list(&DeviceStateList).await {
            Ok((response, entries)) => {
                debug!(devices = entries.len(), "device states listed again");
                response.action_id().map(str::to_owned)
            }
            Err(error) => {
                warn!(%error, "DeviceStateList failed; source-in-use checks rely on events");
                None
            }
        }
    })
}

/// The follower: reports every event's originate facts until the service or the client goes
/// away.
///
/// Device states come from the event stream alone, in its order, applied by the hub:
/// `DeviceStateChange` events, and the entries of every `DeviceStateList` answer (Asterisk
/// sends them as `DeviceStateChange` events carrying the action's `ActionID`, and the client
/// fans them out like any event). A lag or a reconnect makes the states stale; once the
/// follower and the hub have drained their backlog and [`RELOAD_QUIET`] passed without a new
/// lag, it sends one `DeviceStateList` on a separate task and keeps reading, and when the
/// list's closing event is read with no lag in between, the states are whole again and the
/// originate service gets one `Resync`. A reload that a new lag overtook is asked again after
/// a wait that doubles (250 ms up to 30 s), so a lag caused by the list itself cannot turn
/// into a loop.
async fn follow(
    client: AmiClient,
    shared: Arc<Shared>,
    mut events: EventReceiver,
    mut conn: tokio::sync::watch::Receiver<ConnectionState>,
) {
    let mut generation = match *conn.borrow() {
        ConnectionState::Connected { generation } => generation,
        _ => 0,
    };
    let mut reload = Reload::new(Instant::now());
    let mut reply: Option<tokio::task::JoinHandle<Option<String>>> = None;
    let mut missed = 0u64;
    loop {
        let retry_at = reload.retry_at(Instant::now());
        let outcome = tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => {
                    if let PbxEvent::OriginateResponse(r) = &ev.event {
                        if !names_a_job(r) {
                            shared.on_unmatched_response(r.clone());
                            continue;
                        }
                    }
                    for (job, fact) in &ev.facts.originate {
                        if !shared.emit(job.clone(), fact.clone()) {
                            return;
                        }
                    }
                    match &ev.event {
                        PbxEvent::DeviceStateListComplete { action_id: Some(id) } => {
                            reload.list_end(id)
                        }
                        _ => ReloadOutcome::Pending,
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    missed += n;
                    if reload.gap(Instant::now()) {
                        warn!(missed = n, "originate follower lagged; devices and jobs resync");
                    }
                    ReloadOutcome::Pending
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            done = async { reply.as_mut().expect("guarded").await }, if reply.is_some() => {
                reply = None;
                reload.replied(done.ok().flatten(), Instant::now())
            }
            () = async {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            }, if retry_at.is_some() => ReloadOutcome::Pending,
            () = tokio::time::sleep(RESYNC_RETRY), if shared.resync_pending() => {
                ReloadOutcome::Pending
            }
            changed = conn.changed() => {
                if changed.is_err() {
                    return;
                }
                let state = *conn.borrow_and_update();
                match state {
                    ConnectionState::Connected { generation: g } if g != generation => {
                        generation = g;
                        reload.gap(Instant::now());
                    }
                    ConnectionState::Closed => return,
                    _ => {}
                }
                ReloadOutcome::Pending
            }
        };
        if outcome == ReloadOutcome::Resync {
            info!(
                missed,
                "lag or reconnect handled: device states listed again, jobs resync"
            );
            missed = 0;
            shared.owe_resync();
        }
        if reload.should_ask(events.is_empty(), Instant::now()) {
            reload.asked();
            reply = Some(ask_devices(&client));
        }
        if shared.updates.is_closed() || !shared.settle() {
            return;
        }
    }
}

impl CallControl for AmiCallControl {
    fn source_in_use<'a>(
        &'a self,
        source: &'a Extension,
    ) -> BoxFuture<'a, Result<bool, CallControlError>> {
        Box::pin(async move {
            let device = naming::device(source.as_str());
            let endpoint = naming::endpoint_of(&device).unwrap_or(source.as_str());
            let state = self
                .shared
                .live
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .endpoints
                .get(endpoint)
                .map(|e| e.device_state);
            Ok(state.is_some_and(DeviceStatus::is_busy))
        })
    }

    fn originate<'a>(
        &'a self,
        job: &'a OriginateJob,
    ) -> BoxFuture<'a, Result<(), CallControlError>> {
        Box::pin(async move {
            let action = originate_action(job, &self.context)
                .map_err(|e| CallControlError::Refused(e.to_string()))?;
            let response = self.client.send(&action).await.map_err(control_error)?;
            let role = match job.request.mode {
                OriginateMode::ClickToCall { .. } | OriginateMode::OutsideSource { .. } => {
                    ChannelRole::Source
                }
                OriginateMode::Direct { .. } => ChannelRole::DirectOriginated,
            };
            if let Some(action_id) = response.action_id() {
                self.shared.register_action(action_id, job.id.clone(), role);
            }
            Ok(())
        })
    }

    fn hangup<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<(), CallControlError>> {
        Box::pin(async move {
            let action = Hangup::new(channel)
                .map_err(|e| CallControlError::Refused(e.to_string()))?
                .with_cause(16);
            match self.client.send(&action).await {
                Ok(_) => Ok(()),
                Err(AmiError::ActionFailed { message, .. })
                    if message.to_ascii_lowercase().contains("no such channel") =>
                {
                    Ok(())
                }
                Err(e) => Err(control_error(e)),
            }
        })
    }

    fn live_jobs<'a>(
        &'a self,
        jobs: &'a [OriginateId],
    ) -> BoxFuture<'a, Result<Vec<OriginateId>, CallControlError>> {
        Box::pin(async move {
            let (_, channels) = self
                .client
                .send_list(&CoreShowChannels)
                .await
                .map_err(control_error)?;
            let live: HashSet<OriginateId> = channels
                .iter()
                .filter_map(|c| c.get("Uniqueid").and_then(OriginateId::of_channel_uniqueid))
                .map(|(id, _)| id)
                .collect();
            Ok(jobs.iter().filter(|j| live.contains(*j)).cloned().collect())
        })
    }
}

/// Wires the originate service to Asterisk: an [`AmiCallControl`] on `hub` (entering the
/// dialplan at `context`) and an [`OriginateService`] on `store`.
pub async fn spawn_originate_service(
    hub: &EventHub,
    store: Arc<dyn OriginateStore>,
    context: &str,
    settings: OriginateSettings,
) -> Result<OriginateService, ActionError> {
    let (control, updates) = AmiCallControl::spawn(hub, context).await?;
    Ok(OriginateService::start(control, updates, store, settings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::originate::{CallData, DirectTarget, OriginateRequest, PhoneNumber};
    use crate::core::UnixTime;

    #[tokio::test]
    async fn facts_beyond_the_queue_are_dropped_and_one_resync_follows() {
        let (tx, mut rx) = mpsc::channel(2);
        let shared = Shared::new(Arc::new(SharedLive::default()), tx);
        let job = OriginateId::parse("t-1").unwrap();
        for _ in 0..5 {
            assert!(shared.emit(job.clone(), PbxFact::SourceRinging));
        }
        // Two queued, three dropped: one Resync owed, sent once there is room, never waited
        // for.
        assert!(shared.settle(), "no room: still owed, no wait");
        assert!(shared.resync_pending());
        for _ in 0..2 {
            assert!(matches!(rx.recv().await, Some(PbxUpdate::Fact { .. })));
        }
        // Room again: the next fact finds the Resync owed, which goes ahead of it.
        assert!(shared.emit(job.clone(), PbxFact::SourceAnswered));
        assert!(!shared.resync_pending());
        assert!(matches!(rx.recv().await, Some(PbxUpdate::Resync)));
        assert!(matches!(
            rx.recv().await,
            Some(PbxUpdate::Fact {
                fact: PbxFact::SourceAnswered,
                ..
            })
        ));
        assert!(rx.try_recv().is_err(), "one Resync only");
        assert!(shared.settle(), "nothing more owed");
        drop(rx);
        assert!(
            !shared.emit(job, PbxFact::SourceRinging),
            "the service is gone"
        );
    }

    fn id() -> OriginateId {
        OriginateId::parse("18f-abc").unwrap()
    }

    #[test]
    fn actions_for_both_modes() {
        let req = OriginateRequest::click_to_call(
            Extension::parse("1001").unwrap(),
            PhoneNumber::parse("5551004").unwrap(),
        )
        .with_caller_ids(
            Some(CallerId::new(Some("Juan Perez"), None).unwrap()),
            Some(CallerId::new(Some("Netgate"), Some("26001000")).unwrap()),
        )
        .with_call_data(CallData::new(&[("info", "01-43-1"), ("x", "(y)")]).unwrap());
        let job = OriginateJob::new(id(), req, Duration::from_secs(20), UnixTime(1));
        let m = originate_action(&job, DEFAULT_CONTEXT)
            .unwrap()
            .to_message();
        use crate::asterisk::ami::Action;
        let fields: Vec<(&str, &str)> = m.fields().collect();
        for want in [
            ("Channel", "PJSIP/1001"),
            ("Context", "centralita-originate"),
            ("Exten", "5551004"),
            ("Priority", "1"),
            ("Timeout", "20000"),
            // The source extension is the caller id number: the CDR's `src`.
            ("CallerID", "\"Juan Perez\" <1001>"),
            ("ChannelId", "18f-abc-src"),
            ("Variable", "DIAL_TIMEOUT=20"),
            ("Variable", "CALLDATA=info=01-43-1\\,x=\\(y\\)"),
            ("Variable", "DEST_CALLERID=\\\"Netgate\\\" <26001000>"),
        ] {
            assert!(fields.contains(&want), "{want:?} in {fields:?}");
        }
        assert!(m.get("OtherChannelId").is_none());
        assert!(!fields
            .iter()
            .any(|(k, v)| *k == "Variable" && v.starts_with("TRUNK=")));

        let req = OriginateRequest::direct(
            PhoneNumber::parse("5551004").unwrap(),
            DirectTarget::new("internal", "1001").unwrap(),
        )
        .with_trunk(crate::core::directory::TrunkName::new("carrier2").unwrap());
        let job = OriginateJob::new(id(), req, Duration::from_secs(10), UnixTime(1));
        let m = originate_action(&job, DEFAULT_CONTEXT)
            .unwrap()
            .to_message();
        assert_eq!(m.get("Channel"), Some("Local/5551004@centralita-originate"));
        assert_eq!(m.get("Context"), Some("internal"));
        assert_eq!(m.get("Exten"), Some("1001"));
        assert_eq!(m.get("Timeout"), Some("15000"));
        assert_eq!(m.get("ChannelId"), Some("18f-abc-dst"));
        assert_eq!(m.get("OtherChannelId"), Some("18f-abc-dial"));
        assert!(m
            .fields()
            .any(|(k, v)| k == "Variable" && v == "TRUNK=carrier2"));
        assert!(originate_action(&job, "bad,ctx").is_err());
    }

    #[test]
    fn a_dialer_call_for_one_agent_names_its_interface() {
        use crate::core::originate::{AgentInterface, DialerLeg};
        let leg = |agent: Option<&str>| DialerLeg {
            amd: true,
            wait_s: 2,
            safe_harbor: "centralita/safe-harbor".into(),
            agent: agent.map(|a| AgentInterface::parse(a).unwrap()),
        };
        let vars = |leg: DialerLeg| {
            let req = OriginateRequest::direct(
                PhoneNumber::parse("5558001").unwrap(),
                DirectTarget::new("centralita-dialer", "q_campanas").unwrap(),
            )
            .with_dialer(leg);
            let job = OriginateJob::new(id(), req, Duration::from_secs(15), UnixTime(1));
            let m = originate_action(&job, DEFAULT_CONTEXT)
                .unwrap()
                .to_message();
            use crate::asterisk::ami::Action;
            m.fields()
                .filter(|(k, _)| *k == "Variable")
                .map(|(_, v)| v.to_owned())
                .filter(|v| v.starts_with("DIALER_"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            vars(leg(Some("PJSIP/1005"))),
            [
                "DIALER_AMD=yes",
                "DIALER_WAIT=2",
                "DIALER_SAFE_HARBOR=centralita/safe-harbor",
                "DIALER_AGENT=PJSIP/1005"
            ]
        );
        assert_eq!(vars(leg(None)).len(), 3, "the queue: no DIALER_AGENT");
        // Only an interface's alphabet: nothing the dialplan could read as more.
        for bad in [
            "1005",
            "PJSIP/",
            "PJSIP/10,05",
            "PJSIP/1005)",
            "P1/x",
            "PJSIP/${X}",
        ] {
            assert_eq!(AgentInterface::parse(bad), None, "{bad}");
        }
        assert!(AgentInterface::parse("Local/1004@agents/n").is_some());
    }

    #[test]
    fn an_outside_source_is_called_first_through_a_local_channel() {
        // eXpand's example, its source an outside number: `originateCall(key, "5551234",
        // "Juan Perez", "927126666", "Netgate", 20, info="01-43-1")`.
        let req = OriginateRequest::click_to_call_from(
            "5551234",
            PhoneNumber::parse("927126666").unwrap(),
            |_| false,
        )
        .unwrap()
        .with_caller_ids(
            Some(CallerId::new(Some("Juan Perez"), None).unwrap()),
            Some(CallerId::new(Some("Netgate"), None).unwrap()),
        )
        .with_call_data(CallData::parse("01-43-1").unwrap());
        let job = OriginateJob::new(id(), req, Duration::from_secs(20), UnixTime(1));
        let m = originate_action(&job, DEFAULT_CONTEXT)
            .unwrap()
            .to_message();
        use crate::asterisk::ami::Action;
        let fields: Vec<(&str, &str)> = m.fields().collect();
        for want in [
            ("Channel", "Local/5551234@centralita-originate/n"),
            ("Context", "centralita-originate"),
            ("Exten", "927126666"),
            ("Timeout", "25000"),
            ("CallerID", "\"Juan Perez\" <5551234>"),
            ("ChannelId", "18f-abc-src"),
            ("OtherChannelId", "18f-abc-srcdial"),
            ("Variable", "CALLDATA=01-43-1"),
            ("Variable", "DEST_CALLERID=\\\"Netgate\\\" <5551234>"),
        ] {
            assert!(fields.contains(&want), "{want:?} in {fields:?}");
        }
        // Its events map to its facts: see `event_facts`.
    }

    #[test]
    fn one_reload_and_one_resync_per_lag_episode() {
        let t0 = Instant::now();
        let mut r = Reload::new(t0);
        assert!(!r.should_ask(true, t0), "nothing missed, nothing to reload");
        assert!(r.gap(t0), "a lag starts an episode");
        let t1 = t0 + Duration::from_millis(60);
        assert!(!r.gap(t1), "lags in a row are one episode");
        let quiet = t1 + RELOAD_QUIET;
        assert_eq!(
            r.retry_at(t1),
            Some(quiet),
            "asked once the stream is quiet"
        );
        assert!(!r.should_ask(true, quiet - Duration::from_millis(1)));
        assert!(!r.should_ask(false, quiet), "not behind a backlog");
        assert!(r.should_ask(true, quiet));
        r.asked();
        assert!(!r.should_ask(true, quiet), "one in flight at most");
        assert_eq!(r.retry_at(quiet), None);
        assert_eq!(r.replied(Some("c-7".into()), quiet), ReloadOutcome::Pending);
        assert_eq!(
            r.list_end("c-3"),
            ReloadOutcome::Pending,
            "another list's end"
        );
        assert_eq!(r.list_end("c-7"), ReloadOutcome::Resync);
        assert!(
            !r.should_ask(true, quiet + RELOAD_RETRY_MAX),
            "whole again: no reload"
        );
        assert_eq!(r.list_end("c-7"), ReloadOutcome::Pending, "one resync");
    }

    #[test]
    fn a_reload_overtaken_by_a_lag_is_asked_again_after_a_growing_wait() {
        let t0 = Instant::now();
        let mut r = Reload::new(t0);
        r.gap(t0);
        let mut now = t0 + RELOAD_QUIET;
        r.asked();
        // A lag while the reply is on its way: the list may be among the missed events.
        r.gap(now);
        assert_eq!(r.replied(Some("c-1".into()), now), ReloadOutcome::Pending);
        assert_eq!(r.retry_at(now), Some(now + RELOAD_RETRY_MIN));
        now += RELOAD_RETRY_MIN;
        assert!(r.should_ask(true, now));
        r.asked();
        assert_eq!(r.replied(Some("c-2".into()), now), ReloadOutcome::Pending);
        // A lag while its entries are read: overtaken too, and the wait doubles.
        r.gap(now);
        assert_eq!(r.list_end("c-2"), ReloadOutcome::Pending);
        assert_eq!(r.retry_at(now), Some(now + 2 * RELOAD_RETRY_MIN));
        // However often it happens, the wait stays within its bound.
        for _ in 0..20 {
            now = r.retry_at(now).unwrap();
            assert!(r.should_ask(true, now));
            r.asked();
            r.gap(now);
            assert_eq!(r.replied(Some("c-x".into()), now), ReloadOutcome::Pending);
        }
        assert_eq!(r.retry_at(now), Some(now + RELOAD_RETRY_MAX));
        now += RELOAD_RETRY_MAX;
        // The list's end can be read before its reply is back.
        r.asked();
        assert_eq!(r.list_end("c-9"), ReloadOutcome::Pending);
        assert_eq!(r.replied(Some("c-9".into()), now), ReloadOutcome::Resync);
        // The next episode starts without the wait (only the quiet period).
        r.gap(now);
        assert_eq!(r.retry_at(now), Some(now + RELOAD_QUIET));
        now += RELOAD_QUIET;
        r.asked();
        assert_eq!(
            r.replied(None, now),
            ReloadOutcome::Resync,
            "a failed list still resyncs the jobs once"
        );
        assert!(!r.should_ask(true, now + RELOAD_RETRY_MAX));
    }
}
