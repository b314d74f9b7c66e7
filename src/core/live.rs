//! Live state: who is logged in to which queue, paused and why, ringing or talking since when;
//! callers waiting in each queue and its counters; device state, contact and current calls of
//! every extension and trunk.
//!
//! It is a pure model: [`LiveState::apply`] folds one [`LiveFact`] (what the adapter understood
//! from an Asterisk event) into the state, and [`LiveState::from_snapshot`] rebuilds it from a
//! [`LiveSnapshot`] (what the adapter read with list actions after a (re)connect). Every time in
//! it is a fact's own time, so the functions are deterministic and tested with data.
//!
//! Members are keyed by their *interface* (`PJSIP/1005`), as Asterisk keys them; the member name
//! (the agent's number when the engine or a feature code logged it in) is carried alongside, so
//! members added from outside the engine are tracked too.
//!
//! [`SharedLive`] is how the state is shared: its writers (the adapter's live follower for the
//! state, the adapter's event reader for device states, which a rebuild keeps: see
//! [`LiveState::reset_from_snapshot_keeping_device_states`]) change it under a lock, readers
//! either look at it under that lock or take [`SharedLive::snapshot`], an `Arc` copied once per
//! change (on the first read after it) and shared by every read until the next one, instead of a
//! deep copy per read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LockResult, Mutex, PoisonError, RwLock, RwLockReadGuard};

use super::directory::QueueName;
use super::ids::{ChannelName, UniqueId};
use super::journal::UnixTime;

/// A device's (or queue member's) state, as Asterisk's device state engine reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum DeviceStatus {
    /// Unknown.
    #[default]
    Unknown,
    /// Idle.
    NotInUse,
    /// On a call.
    InUse,
    /// Busy.
    Busy,
    /// Does not exist.
    Invalid,
    /// Not reachable (no contact).
    Unavailable,
    /// Ringing.
    Ringing,
    /// On a call and ringing for another.
    RingInUse,
    /// On hold.
    OnHold,
}

impl DeviceStatus {
    /// Whether the device is on a call.
    pub fn is_busy(self) -> bool {
        matches!(
            self,
            Self::InUse | Self::Busy | Self::OnHold | Self::RingInUse
        )
    }
}

/// A pause of one member in one queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    /// The reason given, if any.
    pub reason: Option<String>,
    /// When it started (Asterisk's `LastPause` when it reports one).
    pub since: UnixTime,
}

/// One member of one queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueMember {
    /// The member's interface (`PJSIP/1005`).
    pub interface: String,
    /// The member name (the agent's number for members logged in by the engine or `*45`).
    pub name: String,
    /// The interface whose device state drives the member's status.
    pub state_interface: String,
    /// The member's device status.
    pub status: DeviceStatus,
    /// Paused, and why, since when.
    pub pause: Option<Pause>,
    /// Calls answered by the member in this queue.
    pub calls_taken: u64,
    /// When the member logged in, if Asterisk reported it.
    pub logged_in_since: Option<UnixTime>,
    /// The member's penalty in the queue (Asterisk's `Penalty`).
    pub penalty: u32,
    /// When the member's last queue call ended (Asterisk's `LastCall`; `None`: never).
    pub last_call: Option<UnixTime>,
}

/// A caller waiting in a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingCaller {
    /// The caller's channel uniqueid.
    pub uniqueid: UniqueId,
    /// The caller's channel.
    pub channel: ChannelName,
    /// The caller id number.
    pub caller_id: String,
    /// Position in the queue (1 = next).
    pub position: u32,
    /// When the caller joined the queue.
    pub joined_at: UnixTime,
}

impl WaitingCaller {
    /// Seconds waited at `now`.
    pub fn wait(&self, now: UnixTime) -> i64 {
        (now.seconds() - self.joined_at.seconds()).max(0)
    }
}

/// One queue.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueLive {
    /// Members by interface.
    pub members: BTreeMap<String, QueueMember>,
    /// Callers waiting, by uniqueid.
    pub waiting: BTreeMap<UniqueId, WaitingCaller>,
    /// Calls answered and completed (Asterisk's `Completed`).
    pub completed: u64,
    /// Calls abandoned while waiting (Asterisk's `Abandoned`).
    pub abandoned: u64,
    /// Of the completed calls, those answered within the service level.
    pub completed_in_sl: u64,
    /// The service level threshold in seconds (0 if unknown).
    pub service_level_secs: u32,
    /// The queue's strategy as Asterisk names it (`rrmemory`, `leastrecent`...; empty if
    /// unknown).
    pub strategy: String,
    /// The queue's wrap-up time in seconds (its `wrapuptime` in queues.conf; `None` if
    /// unknown).
    pub wrapup_secs: Option<u32>,
}

impl QueueLive {
    fn empty() -> Self {
        Self {
            members: BTreeMap::new(),
            waiting: BTreeMap::new(),
            completed: 0,
            abandoned: 0,
            completed_in_sl: 0,
            service_level_secs: 0,
            strategy: String::new(),
            wrapup_secs: None,
        }
    }

    /// Percentage of completed calls answered within the service level (0 with no calls).
    pub fn service_level(&self) -> f64 {
        if self.completed == 0 {
            0.0
        } else {
            self.completed_in_sl as f64 * 100.0 / self.completed as f64
        }
    }
}

/// What an agent's phone is doing, as far as queues are concerned.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Activity {
    /// Free.
    #[default]
    Idle,
    /// Ringing for a queue call (queue and caller known when the engine saw `AgentCalled`).
    Ringing {
        /// The queue offering the call.
        queue: Option<QueueName>,
        /// The caller's uniqueid.
        caller: Option<UniqueId>,
    },
    /// On a call (a queue call, when the queue is known).
    Talking {
        /// The queue whose call it is.
        queue: Option<QueueName>,
        /// The caller's uniqueid.
        caller: Option<UniqueId>,
    },
    /// A queue call ended; the queue's wrap-up time runs.
    WrapUp {
        /// The queue whose call ended.
        queue: QueueName,
    },
}

/// An agent (a member interface, in however many queues).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentLive {
    /// The member name (the agent's number when logged in by the engine or `*45`).
    pub name: String,
    /// What the phone is doing.
    pub activity: Activity,
    /// Since when (`None` when rebuilt from a snapshot, which does not say).
    pub since: Option<UnixTime>,
    /// When the caller of its current queue call entered the queue (`AgentConnect`'s time less
    /// the caller's hold time); `None` when not on a queue call or not seen connecting.
    pub caller_joined: Option<UnixTime>,
    /// The last time it refused a queue call at once (the call rang it for less than
    /// [`REFUSED_RING_MS`] and was not answered: a reject, a busy or unreachable phone).
    pub last_refused: Option<UnixTime>,
}

/// A queue call that rang a member for less than this many milliseconds and was not answered
/// was refused at once (eXpand's `CONGESTION`: "el agente rechazó la llamada inmediatamente").
pub const REFUSED_RING_MS: u64 = 1000;

/// An endpoint's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointKind {
    /// A phone: the endpoint's name is all digits.
    Extension,
    /// Anything else (a carrier trunk).
    Trunk,
}

impl EndpointKind {
    /// Extensions are the numeric endpoints; every other endpoint is a trunk.
    pub fn classify(name: &str) -> Self {
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            Self::Extension
        } else {
            Self::Trunk
        }
    }
}

/// A call on an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallLive {
    /// The channel.
    pub channel: ChannelName,
    /// The other party as far as known (connected line, else the dialed extension).
    pub peer: String,
    /// When the channel appeared.
    pub since: UnixTime,
    /// The channel is placing a call the far end has not answered yet: a phone's own call in
    /// channel state Ring, or a `Dial` from it in progress (a click-to-call's source phone).
    pub dialing: bool,
    /// The call the channel belongs to (its `linkedid`), when reported.
    pub linkedid: Option<UniqueId>,
    /// The channel is up (answered).
    pub up: bool,
}

/// A PJSIP endpoint: an extension or a trunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointLive {
    /// Extension or trunk.
    pub kind: EndpointKind,
    /// Device state of `PJSIP/<name>`.
    pub device_state: DeviceStatus,
    /// The registered (or configured) contact's IP address.
    pub contact_ip: Option<String>,
    /// The contact's qualify status (`Reachable`, `Unreachable`, ...).
    pub contact_status: Option<String>,
    /// Its current channels by uniqueid.
    pub calls: BTreeMap<UniqueId, CallLive>,
}

impl EndpointLive {
    fn new(name: &str) -> Self {
        Self {
            kind: EndpointKind::classify(name),
            device_state: DeviceStatus::Unknown,
            contact_ip: None,
            contact_status: None,
            calls: BTreeMap::new(),
        }
    }

    /// The current call: the most recent channel.
    pub fn current_call(&self) -> Option<&CallLive> {
        self.calls.values().max_by_key(|c| c.since)
    }

    /// Whether one of its channels is placing a call not answered yet.
    pub fn dialing(&self) -> bool {
        self.calls.values().any(|c| c.dialing)
    }
}

/// One thing that happened, in core terms. The adapter maps Asterisk's events to these.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveFact {
    /// A member joined a queue (or an existing member was reported in full).
    MemberAdded {
        /// The queue.
        queue: QueueName,
        /// The member as reported.
        member: QueueMember,
    },
    /// A member left a queue.
    MemberRemoved {
        /// The queue.
        queue: QueueName,
        /// The member's interface.
        interface: String,
    },
    /// A member was paused in a queue.
    MemberPaused {
        /// The queue.
        queue: QueueName,
        /// The member's interface.
        interface: String,
        /// The reason given.
        reason: Option<String>,
        /// When.
        at: UnixTime,
    },
    /// A member was unpaused in a queue.
    MemberUnpaused {
        /// The queue.
        queue: QueueName,
        /// The member's interface.
        interface: String,
    },
    /// A member's figures as Asterisk reported them (`QueueMemberStatus`,
    /// `QueueMemberPenalty`): each `Some` replaces the member's value.
    MemberFigures {
        /// The queue.
        queue: QueueName,
        /// The member's interface.
        interface: String,
        /// Its penalty.
        penalty: Option<u32>,
        /// Calls it answered in the queue.
        calls_taken: Option<u64>,
        /// When its last queue call ended (`Some(None)`: never).
        last_call: Option<Option<UnixTime>>,
    },
    /// A member's device status changed.
    MemberStatus {
        /// The queue.
        queue: QueueName,
        /// The member's interface.
        interface: String,
        /// The new status.
        status: DeviceStatus,
        /// When.
        at: UnixTime,
    },
    /// A caller entered a queue.
    CallerJoined {
        /// The queue.
        queue: QueueName,
        /// The caller.
        caller: WaitingCaller,
    },
    /// A caller left a queue (answered, timed out, or went elsewhere).
    CallerLeft {
        /// The queue.
        queue: QueueName,
        /// The caller's uniqueid.
        uniqueid: UniqueId,
    },
    /// A caller hung up while waiting.
    CallerAbandoned {
        /// The queue.
        queue: QueueName,
        /// The caller's uniqueid.
        uniqueid: UniqueId,
    },
    /// A member is being rung for a caller.
    AgentCalled {
        /// The queue.
        queue: QueueName,
        /// The member's interface.
        interface: String,
        /// The caller's uniqueid.
        caller: UniqueId,
        /// When.
        at: UnixTime,
    },
    /// A member did not answer in time.
    AgentRingNoAnswer {
        /// The queue.
        queue: QueueName,
        /// The member's interface.
        interface: String,
        /// How long it rang, in milliseconds.
        ring_ms: u64,
        /// When.
        at: UnixTime,
    },
    /// A member answered a caller.
    AgentConnected {
        /// The queue.
        queue: QueueName,
        /// The member's interface.
        interface: String,
        /// The caller's uniqueid.
        caller: UniqueId,
        /// Seconds the caller waited in the queue.
        hold_secs: u64,
        /// When.
        at: UnixTime,
    },
    /// A member's call with a caller ended.
    AgentCompleted {
        /// The queue.
        queue: QueueName,
        /// The member's interface.
        interface: String,
        /// The caller's uniqueid.
        caller: UniqueId,
        /// Seconds the caller waited before being answered.
        hold_secs: u64,
        /// When.
        at: UnixTime,
    },
    /// A PJSIP endpoint's device state changed.
    DeviceState {
        /// The endpoint's name (`1005`, `carrier`).
        endpoint: String,
        /// The state.
        status: DeviceStatus,
    },
    /// A PJSIP contact's status changed.
    ContactStatus {
        /// The endpoint (AOR) name.
        endpoint: String,
        /// `Reachable`, `Unreachable`, `Created`, `Removed`, ...
        status: String,
        /// The contact's IP address, if known.
        ip: Option<String>,
    },
    /// A channel appeared on an endpoint.
    ChannelCreated {
        /// The endpoint's name.
        endpoint: String,
        /// The channel's uniqueid.
        uniqueid: UniqueId,
        /// The call.
        call: CallLive,
    },
    /// The other party of a channel on an endpoint became known (connected line).
    ChannelPeer {
        /// The endpoint's name.
        endpoint: String,
        /// The channel's uniqueid.
        uniqueid: UniqueId,
        /// The other party's number.
        peer: String,
    },
    /// A channel on an endpoint started (`true`) or stopped (`false`) placing a call that is
    /// not answered yet.
    ChannelDialing {
        /// The endpoint's name.
        endpoint: String,
        /// The channel's uniqueid.
        uniqueid: UniqueId,
        /// Whether it is dialing now.
        dialing: bool,
    },
    /// A channel on an endpoint was answered (its state became Up).
    ChannelUp {
        /// The endpoint's name.
        endpoint: String,
        /// The channel's uniqueid.
        uniqueid: UniqueId,
    },
    /// The number a queue caller dialed (the DID it came in on).
    CallerDid {
        /// The caller channel's uniqueid.
        uniqueid: UniqueId,
        /// The DID.
        did: String,
    },
    /// A channel that is not on a PJSIP endpoint (a Local channel) hung up.
    OtherChannelHungUp {
        /// The channel's uniqueid.
        uniqueid: UniqueId,
    },
    /// A channel on an endpoint hung up.
    ChannelHungUp {
        /// The endpoint's name.
        endpoint: String,
        /// The channel's uniqueid.
        uniqueid: UniqueId,
    },
}

/// One queue as a snapshot reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueSnapshot {
    /// The queue.
    pub name: QueueName,
    /// Members.
    pub members: Vec<QueueMember>,
    /// Callers waiting.
    pub waiting: Vec<WaitingCaller>,
    /// Asterisk's `Completed`.
    pub completed: u64,
    /// Asterisk's `Abandoned`.
    pub abandoned: u64,
    /// Asterisk's `ServiceLevel` (seconds).
    pub service_level_secs: u32,
    /// Asterisk's `ServicelevelPerf` (percent of completed calls answered within it).
    pub service_level_perf: f64,
    /// Asterisk's `Strategy` (empty if not reported).
    pub strategy: String,
    /// The queue's `wrapuptime` (the node's queues.conf, read from disk; `None` if unknown).
    pub wrapup_secs: Option<u32>,
}

/// One endpoint as a snapshot reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointSnapshot {
    /// Its name.
    pub name: String,
    /// Its device state.
    pub device_state: DeviceStatus,
    /// Its contact's IP, if any.
    pub contact_ip: Option<String>,
    /// Its contact's status.
    pub contact_status: Option<String>,
}

/// Everything a resync reads.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LiveSnapshot {
    /// Queues with members, callers and counters.
    pub queues: Vec<QueueSnapshot>,
    /// PJSIP endpoints.
    pub endpoints: Vec<EndpointSnapshot>,
    /// Current channels: `(endpoint, uniqueid, call)`.
    pub channels: Vec<(String, UniqueId, CallLive)>,
}

/// The whole live state.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LiveState {
    /// Queues by name.
    pub queues: BTreeMap<QueueName, QueueLive>,
    /// Agents (member interfaces in at least one queue) by interface.
    pub agents: BTreeMap<String, AgentLive>,
    /// PJSIP endpoints (extensions and trunks) by name.
    pub endpoints: BTreeMap<String, EndpointLive>,
    /// The DID each queue caller (by channel uniqueid) came in on, while its channel lives.
    /// Learnt from events only (empty after a snapshot).
    pub caller_dids: BTreeMap<UniqueId, String>,
}

/// The live state shared by its writer and its readers.
#[derive(Debug, Default)]
pub struct SharedLive {
    state: RwLock<LiveState>,
    /// Counts the changes; bumped under the write lock after each one.
    revision: AtomicU64,
    /// The last copy taken, with the revision it is a copy of.
    published: Mutex<Option<(u64, Arc<LiveState>)>>,
}

impl SharedLive {
    /// Shares `state`.
    pub fn new(state: LiveState) -> Self {
        Self {
            state: RwLock::new(state),
            revision: AtomicU64::new(0),
            published: Mutex::new(None),
        }
    }

    /// The state under its read lock (hold it briefly: the writer waits).
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, LiveState>> {
        self.state.read()
    }

    /// Changes the state with `change` under the write lock.
    pub fn update<R>(&self, change: impl FnOnce(&mut LiveState) -> R) -> R {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let out = change(&mut state);
        self.revision.fetch_add(1, Ordering::Release);
        out
    }

    /// The current state as a shared copy: the last one taken if nothing changed since, else a
    /// new copy (taken under the read lock, then shared by the reads that follow).
    pub fn snapshot(&self) -> Arc<LiveState> {
        let now = self.revision.load(Ordering::Acquire);
        {
            let published = self
                .published
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((revision, state)) = published.as_ref() {
                if *revision == now {
                    return state.clone();
                }
            }
        }
        let (revision, copy) = {
            let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
            (
                self.revision.load(Ordering::Acquire),
                Arc::new(state.clone()),
            )
        };
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if published.as_ref().is_none_or(|(r, _)| *r < revision) {
            *published = Some((revision, copy.clone()));
        }
        copy
    }
}

/// One agent as a client asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentView {
    /// The member interface (`PJSIP/1005`).
    pub interface: String,
    /// The member name.
    pub name: String,
    /// The queues it is logged in to, with its pause there.
    pub queues: BTreeMap<QueueName, Option<Pause>>,
    /// What the phone does.
    pub activity: Activity,
    /// Since when.
    pub since: Option<UnixTime>,
}

impl AgentView {
    /// Logged in to at least one queue.
    pub fn logged_in(&self) -> bool {
        !self.queues.is_empty()
    }

    /// The pause in force, if the agent is paused in every queue it is in (the earliest one).
    pub fn pause(&self) -> Option<&Pause> {
        if self.queues.is_empty() || self.queues.values().any(Option::is_none) {
            return None;
        }
        self.queues.values().flatten().min_by_key(|p| p.since)
    }

    /// Paused in at least one queue.
    pub fn paused_anywhere(&self) -> bool {
        self.queues.values().any(Option::is_some)
    }
}

impl LiveState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state a snapshot describes. Activity comes from member status (its `since` is
    /// unknown); the count of completed calls within the service level from Asterisk's
    /// percentage.
    pub fn from_snapshot(snapshot: &LiveSnapshot) -> Self {
        let mut state = Self::new();
        for q in &snapshot.queues {
            let mut live = QueueLive::empty();
            live.completed = q.completed;
            live.abandoned = q.abandoned;
            live.service_level_secs = q.service_level_secs;
            live.strategy = q.strategy.clone();
            live.wrapup_secs = q.wrapup_secs;
            live.completed_in_sl = (q.service_level_perf * q.completed as f64 / 100.0)
                .round()
                .max(0.0) as u64;
            for m in &q.members {
                live.members.insert(m.interface.clone(), m.clone());
                let activity = match m.status {
                    DeviceStatus::Ringing => Activity::Ringing {
                        queue: None,
                        caller: None,
                    },
                    s if s.is_busy() => Activity::Talking {
                        queue: None,
                        caller: None,
                    },
                    _ => Activity::Idle,
                };
                state
                    .agents
                    .entry(m.interface.clone())
                    .or_insert(AgentLive {
                        name: m.name.clone(),
                        activity,
                        since: None,
                        caller_joined: None,
                        last_refused: None,
                    });
            }
            for c in &q.waiting {
                live.waiting.insert(c.uniqueid.clone(), c.clone());
            }
            state.queues.insert(q.name.clone(), live);
        }
        for e in &snapshot.endpoints {
            let mut live = EndpointLive::new(&e.name);
            live.device_state = e.device_state;
            live.contact_ip = e.contact_ip.clone();
            live.contact_status = e.contact_status.clone();
            state.endpoints.insert(e.name.clone(), live);
        }
        for (endpoint, uniqueid, call) in &snapshot.channels {
            state
                .endpoints
                .entry(endpoint.clone())
                .or_insert_with(|| EndpointLive::new(endpoint))
                .calls
                .insert(uniqueid.clone(), call.clone());
        }
        state
    }

    /// Replaces the whole state with the one `snapshot` describes.
    pub fn reset_from_snapshot(&mut self, snapshot: &LiveSnapshot) {
        *self = Self::from_snapshot(snapshot);
    }

    /// Replaces the state with the one `snapshot` describes, except the device states already
    /// known of the endpoints it lists: those have a writer of their own, which applies every
    /// device state change in the order the PBX reported them (the snapshot's own device list
    /// among them), so a change applied while the snapshot was being read is not undone.
    pub fn reset_from_snapshot_keeping_device_states(&mut self, snapshot: &LiveSnapshot) {
        let known: Vec<(String, DeviceStatus)> = self
            .endpoints
            .iter()
            .filter(|(_, e)| e.device_state != DeviceStatus::Unknown)
            .map(|(name, e)| (name.clone(), e.device_state))
            .collect();
        *self = Self::from_snapshot(snapshot);
        for (name, status) in known {
            if let Some(e) = self.endpoints.get_mut(&name) {
                e.device_state = status;
            }
        }
    }

    /// A copy without the times a snapshot cannot know (activity `since`, callers' join
    /// times) and the channel facts that may legitimately differ (dialing, linkedid), to compare a state followed from events with one rebuilt from a snapshot.
    pub fn comparable(&self) -> Self {
        let mut s = self.clone();
        for a in s.agents.values_mut() {
            a.since = None;
        }
        for e in s.endpoints.values_mut() {
            for c in e.calls.values_mut() {
                c.dialing = false;
                // A bridge may change a channel's linkedid later; only a snapshot sees that.
                c.linkedid = None;
            }
        }
        s.caller_dids.clear();
        for q in s.queues.values_mut() {
            for c in q.waiting.values_mut() {
                c.joined_at = UnixTime(0);
            }
        }
        s
    }

    /// The agent whose member interface is `interface`.
    pub fn agent_by_interface(&self, interface: &str) -> Option<AgentView> {
        let agent = self.agents.get(interface)?;
        let queues = self
            .queues
            .iter()
            .filter_map(|(name, q)| {
                q.members
                    .get(interface)
                    .map(|m| (name.clone(), m.pause.clone()))
            })
            .collect();
        Some(AgentView {
            interface: interface.to_owned(),
            name: agent.name.clone(),
            queues,
            activity: agent.activity.clone(),
            since: agent.since,
        })
    }

    /// The last change of an agent's status: its phone's activity, a login to a queue or a
    /// pause (or its end, when Asterisk reports it), whichever is latest. `None` when unknown.
    pub fn last_status_change(&self, interface: &str) -> Option<UnixTime> {
        let activity = self.agents.get(interface).and_then(|a| a.since);
        let members = self
            .queues
            .values()
            .filter_map(|q| q.members.get(interface))
            .flat_map(|m| [m.logged_in_since, m.pause.as_ref().map(|p| p.since)]);
        std::iter::once(activity).chain(members).flatten().max()
    }

    /// Whether a logged-in agent needs a supervisor's attention (eXpand's panel `warning`):
    /// its phone cannot take the calls offered (its contact unreachable, its device unavailable
    /// or invalid), or its pause has lasted longer than `max_pause_secs` (its reason's limit)
    /// at `now`. An agent logged out needs none.
    pub fn needs_attention(
        &self,
        view: &AgentView,
        naming: &dyn super::naming::ChannelNaming,
        now: UnixTime,
        max_pause_secs: impl Fn(Option<&str>) -> Option<u64>,
    ) -> bool {
        if !view.logged_in() {
            return false;
        }
        let phone = naming
            .endpoint_of(&view.interface)
            .and_then(|e| self.endpoints.get(e));
        let unreachable = phone.is_some_and(|p| {
            p.contact_status.as_deref() == Some("Unreachable")
                || matches!(
                    p.device_state,
                    DeviceStatus::Unavailable | DeviceStatus::Invalid
                )
        });
        let overdue = view.pause().is_some_and(|p| {
            max_pause_secs(p.reason.as_deref())
                .is_some_and(|max| now.0 - p.since.0 > i64::try_from(max).unwrap_or(i64::MAX))
        });
        unreachable || overdue
    }

    /// The agent whose member name is `name` (the agent's number).
    pub fn agent_by_name(&self, name: &str) -> Option<AgentView> {
        let (interface, _) = self.agents.iter().find(|(_, a)| a.name == name)?;
        self.agent_by_interface(interface)
    }

    /// Folds one fact into the state.
    pub fn apply(&mut self, fact: LiveFact) {
        match fact {
            LiveFact::MemberAdded { queue, member } => {
                let interface = member.interface.clone();
                let status = member.status;
                let name = member.name.clone();
                self.queue_mut(&queue)
                    .members
                    .insert(interface.clone(), member);
                let agent = self.agents.entry(interface).or_insert(AgentLive {
                    name,
                    activity: Activity::Idle,
                    since: None,
                    caller_joined: None,
                    last_refused: None,
                });
                if status.is_busy() && agent.activity == Activity::Idle {
                    agent.activity = Activity::Talking {
                        queue: None,
                        caller: None,
                    };
                }
            }
            LiveFact::MemberRemoved { queue, interface } => {
                if let Some(q) = self.queues.get_mut(&queue) {
                    q.members.remove(&interface);
                }
                if !self
                    .queues
                    .values()
                    .any(|q| q.members.contains_key(&interface))
                {
                    self.agents.remove(&interface);
                }
            }
            LiveFact::MemberPaused {
                queue,
                interface,
                reason,
                at,
            } => {
                if let Some(m) = self.member_mut(&queue, &interface) {
                    // A new reason restarts the pause; the same one keeps its start.
                    let keep = m.pause.as_ref().is_some_and(|p| p.reason == reason);
                    if !keep {
                        m.pause = Some(Pause { reason, since: at });
                    }
                }
            }
            LiveFact::MemberUnpaused { queue, interface } => {
                if let Some(m) = self.member_mut(&queue, &interface) {
                    m.pause = None;
                }
            }
            LiveFact::MemberFigures {
                queue,
                interface,
                penalty,
                calls_taken,
                last_call,
            } => {
                if let Some(m) = self.member_mut(&queue, &interface) {
                    if let Some(p) = penalty {
                        m.penalty = p;
                    }
                    if let Some(c) = calls_taken {
                        m.calls_taken = c;
                    }
                    if let Some(l) = last_call {
                        m.last_call = l;
                    }
                }
            }
            LiveFact::MemberStatus {
                queue,
                interface,
                status,
                at,
            } => {
                if let Some(m) = self.member_mut(&queue, &interface) {
                    m.status = status;
                }
                if let Some(agent) = self.agents.get_mut(&interface) {
                    let next = match (&agent.activity, status) {
                        (Activity::Idle | Activity::WrapUp { .. }, DeviceStatus::Ringing) => {
                            Some(Activity::Ringing {
                                queue: None,
                                caller: None,
                            })
                        }
                        (Activity::Idle | Activity::WrapUp { .. }, s) if s.is_busy() => {
                            Some(Activity::Talking {
                                queue: None,
                                caller: None,
                            })
                        }
                        (Activity::Ringing { .. } | Activity::Talking { .. }, s)
                            if !s.is_busy() && s != DeviceStatus::Ringing =>
                        {
                            Some(Activity::Idle)
                        }
                        // A ringing phone may report BUSY (device_state_busy_at); only a
                        // ring the engine did not see offered becomes a call here. An offered
                        // one waits for AgentConnect / AgentRingNoAnswer.
                        (Activity::Ringing { queue: None, .. }, s) if s.is_busy() => {
                            Some(Activity::Talking {
                                queue: None,
                                caller: None,
                            })
                        }
                        _ => None,
                    };
                    if let Some(next) = next {
                        agent.activity = next;
                        agent.since = Some(at);
                    }
                }
            }
            LiveFact::CallerJoined { queue, caller } => {
                self.queue_mut(&queue)
                    .waiting
                    .insert(caller.uniqueid.clone(), caller);
            }
            LiveFact::CallerLeft { queue, uniqueid } => {
                if let Some(q) = self.queues.get_mut(&queue) {
                    q.waiting.remove(&uniqueid);
                }
            }
            LiveFact::CallerAbandoned { queue, uniqueid } => {
                let q = self.queue_mut(&queue);
                q.waiting.remove(&uniqueid);
                q.abandoned += 1;
            }
            LiveFact::AgentCalled {
                queue,
                interface,
                caller,
                at,
            } => self.set_activity(
                &interface,
                Activity::Ringing {
                    queue: Some(queue),
                    caller: Some(caller),
                },
                at,
            ),
            LiveFact::AgentRingNoAnswer {
                interface,
                ring_ms,
                at,
                ..
            } => {
                if let Some(agent) = self.agents.get_mut(&interface) {
                    if ring_ms < REFUSED_RING_MS {
                        agent.last_refused = Some(at);
                    }
                    if matches!(agent.activity, Activity::Ringing { .. }) {
                        agent.activity = Activity::Idle;
                        agent.since = Some(at);
                    }
                }
            }
            LiveFact::AgentConnected {
                queue,
                interface,
                caller,
                hold_secs,
                at,
            } => {
                if let Some(m) = self.member_mut(&queue, &interface) {
                    m.calls_taken += 1;
                }
                self.set_activity(
                    &interface,
                    Activity::Talking {
                        queue: Some(queue),
                        caller: Some(caller),
                    },
                    at,
                );
                if let Some(agent) = self.agents.get_mut(&interface) {
                    let held = i64::try_from(hold_secs).unwrap_or(0);
                    agent.caller_joined = Some(UnixTime(at.0.saturating_sub(held)));
                }
            }
            LiveFact::AgentCompleted {
                queue,
                interface,
                hold_secs,
                at,
                ..
            } => {
                let q = self.queue_mut(&queue);
                q.completed += 1;
                if hold_secs <= u64::from(q.service_level_secs) {
                    q.completed_in_sl += 1;
                }
                self.set_activity(&interface, Activity::WrapUp { queue }, at);
            }
            LiveFact::DeviceState { endpoint, status } => {
                self.endpoint_mut(&endpoint).device_state = status;
            }
            LiveFact::ContactStatus {
                endpoint,
                status,
                ip,
            } => {
                let e = self.endpoint_mut(&endpoint);
                if status == "Removed" {
                    e.contact_ip = None;
                } else if ip.is_some() {
                    e.contact_ip = ip;
                }
                e.contact_status = Some(status);
            }
            LiveFact::ChannelCreated {
                endpoint,
                uniqueid,
                call,
            } => {
                self.endpoint_mut(&endpoint).calls.insert(uniqueid, call);
            }
            LiveFact::ChannelPeer {
                endpoint,
                uniqueid,
                peer,
            } => {
                if let Some(call) = self
                    .endpoints
                    .get_mut(&endpoint)
                    .and_then(|e| e.calls.get_mut(&uniqueid))
                {
                    call.peer = peer;
                }
            }
            LiveFact::ChannelDialing {
                endpoint,
                uniqueid,
                dialing,
            } => {
                if let Some(call) = self
                    .endpoints
                    .get_mut(&endpoint)
                    .and_then(|e| e.calls.get_mut(&uniqueid))
                {
                    call.dialing = dialing;
                }
            }
            LiveFact::ChannelUp { endpoint, uniqueid } => {
                if let Some(call) = self
                    .endpoints
                    .get_mut(&endpoint)
                    .and_then(|e| e.calls.get_mut(&uniqueid))
                {
                    call.up = true;
                }
            }
            LiveFact::CallerDid { uniqueid, did } => {
                self.caller_dids.insert(uniqueid, did);
            }
            LiveFact::OtherChannelHungUp { uniqueid } => {
                self.caller_dids.remove(&uniqueid);
            }
            LiveFact::ChannelHungUp { endpoint, uniqueid } => {
                if let Some(e) = self.endpoints.get_mut(&endpoint) {
                    e.calls.remove(&uniqueid);
                }
                self.caller_dids.remove(&uniqueid);
            }
        }
    }

    fn queue_mut(&mut self, queue: &QueueName) -> &mut QueueLive {
        self.queues
            .entry(queue.clone())
            .or_insert_with(QueueLive::empty)
    }

    fn member_mut(&mut self, queue: &QueueName, interface: &str) -> Option<&mut QueueMember> {
        self.queues.get_mut(queue)?.members.get_mut(interface)
    }

    fn endpoint_mut(&mut self, endpoint: &str) -> &mut EndpointLive {
        self.endpoints
            .entry(endpoint.to_owned())
            .or_insert_with(|| EndpointLive::new(endpoint))
    }

    fn set_activity(&mut self, interface: &str, activity: Activity, at: UnixTime) {
        if let Some(agent) = self.agents.get_mut(interface) {
            agent.activity = activity;
            agent.since = Some(at);
            agent.caller_joined = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_snapshot_is_copied_once_per_change() {
        let shared = SharedLive::default();
        let first = shared.snapshot();
        assert!(Arc::ptr_eq(&first, &shared.snapshot()));
        shared.update(|s| {
            s.caller_dids
                .insert(UniqueId::new("1700000000.1"), "5551000".into());
        });
        let second = shared.snapshot();
        assert!(!Arc::ptr_eq(&first, &second));
        assert_eq!(second.caller_dids.len(), 1);
        assert!(first.caller_dids.is_empty());
        assert!(Arc::ptr_eq(&second, &shared.snapshot()));
        assert_eq!(*shared.read().unwrap(), *second);
    }

    fn q(name: &str) -> QueueName {
        QueueName::new(name).unwrap()
    }

    fn member(iface: &str, name: &str) -> QueueMember {
        QueueMember {
            interface: iface.into(),
            name: name.into(),
            state_interface: iface.into(),
            status: DeviceStatus::NotInUse,
            pause: None,
            calls_taken: 0,
            logged_in_since: Some(UnixTime(100)),
            penalty: 0,
            last_call: None,
        }
    }

    fn caller(id: &str, at: i64) -> WaitingCaller {
        WaitingCaller {
            uniqueid: UniqueId::new(id),
            channel: ChannelName::new(format!("PJSIP/carrier-{id}")),
            caller_id: "099123456".into(),
            position: 1,
            joined_at: UnixTime(at),
        }
    }

    fn run(facts: Vec<LiveFact>) -> LiveState {
        let mut s = LiveState::new();
        for f in facts {
            s.apply(f);
        }
        s
    }

    fn added(queue: &str, iface: &str, name: &str) -> LiveFact {
        LiveFact::MemberAdded {
            queue: q(queue),
            member: member(iface, name),
        }
    }

    #[test]
    fn member_figures_replace_what_they_carry() {
        let p = "PJSIP/1005";
        let figures = |penalty, calls_taken, last_call| LiveFact::MemberFigures {
            queue: q("q_ventas"),
            interface: p.into(),
            penalty,
            calls_taken,
            last_call,
        };
        let s = run(vec![
            added("q_ventas", p, "2005"),
            figures(Some(2), Some(4), Some(Some(UnixTime(900)))),
            figures(Some(3), None, None),
        ]);
        let m = &s.queues[&q("q_ventas")].members[p];
        assert_eq!(
            (m.penalty, m.calls_taken, m.last_call),
            (3, 4, Some(UnixTime(900)))
        );
        // An unknown member or queue changes nothing.
        let mut other = s.clone();
        other.apply(LiveFact::MemberFigures {
            queue: q("q_otra"),
            interface: p.into(),
            penalty: Some(9),
            calls_taken: None,
            last_call: None,
        });
        assert_eq!(other.queues[&q("q_ventas")], s.queues[&q("q_ventas")]);
    }

    #[test]
    fn login_pause_unpause_logout() {
        let p = "PJSIP/1005";
        // (facts, expected: logged-in queues, paused-everywhere reason)
        // (facts, queues logged in to, reason of a pause in every queue)
        type Case = (
            Vec<LiveFact>,
            Vec<&'static str>,
            Option<Option<&'static str>>,
        );
        let cases: Vec<Case> = vec![
            (vec![added("q_ventas", p, "2005")], vec!["q_ventas"], None),
            (
                vec![added("q_ventas", p, "2005"), added("q_soporte", p, "2005")],
                vec!["q_soporte", "q_ventas"],
                None,
            ),
            (
                vec![
                    added("q_ventas", p, "2005"),
                    added("q_soporte", p, "2005"),
                    LiveFact::MemberPaused {
                        queue: q("q_ventas"),
                        interface: p.into(),
                        reason: Some("almuerzo".into()),
                        at: UnixTime(200),
                    },
                ],
                vec!["q_soporte", "q_ventas"],
                None, // paused in one queue only
            ),
            (
                vec![
                    added("q_ventas", p, "2005"),
                    LiveFact::MemberPaused {
                        queue: q("q_ventas"),
                        interface: p.into(),
                        reason: Some("almuerzo".into()),
                        at: UnixTime(200),
                    },
                ],
                vec!["q_ventas"],
                Some(Some("almuerzo")),
            ),
            (
                vec![
                    added("q_ventas", p, "2005"),
                    LiveFact::MemberPaused {
                        queue: q("q_ventas"),
                        interface: p.into(),
                        reason: None,
                        at: UnixTime(200),
                    },
                    LiveFact::MemberUnpaused {
                        queue: q("q_ventas"),
                        interface: p.into(),
                    },
                ],
                vec!["q_ventas"],
                None,
            ),
        ];
        for (i, (facts, queues, pause)) in cases.into_iter().enumerate() {
            let s = run(facts);
            let a = s.agent_by_name("2005").expect("agent known");
            let got: Vec<&str> = a.queues.keys().map(QueueName::as_str).collect();
            assert_eq!(got, queues, "case {i}");
            assert_eq!(
                a.pause().map(|p| p.reason.as_deref()),
                pause,
                "case {i}: pause"
            );
        }
        // Logout from every queue forgets the agent.
        let s = run(vec![
            added("q_ventas", p, "2005"),
            added("q_soporte", p, "2005"),
            LiveFact::MemberRemoved {
                queue: q("q_ventas"),
                interface: p.into(),
            },
        ]);
        assert!(s.agent_by_name("2005").unwrap().logged_in());
        let mut s = s;
        s.apply(LiveFact::MemberRemoved {
            queue: q("q_soporte"),
            interface: p.into(),
        });
        assert!(s.agent_by_name("2005").is_none());
    }

    #[test]
    fn pause_since_kept_for_same_reason_and_restarted_for_a_new_one() {
        let p = "PJSIP/1005";
        let pause = |reason: &str, at| LiveFact::MemberPaused {
            queue: q("q_ventas"),
            interface: p.into(),
            reason: Some(reason.into()),
            at: UnixTime(at),
        };
        let s = run(vec![
            added("q_ventas", p, "2005"),
            pause("almuerzo", 10),
            pause("almuerzo", 20),
        ]);
        assert_eq!(
            s.agent_by_name("2005").unwrap().pause().unwrap().since,
            UnixTime(10)
        );
        let s = run(vec![
            added("q_ventas", p, "2005"),
            pause("almuerzo", 10),
            pause("bano", 20),
        ]);
        let a = s.agent_by_name("2005").unwrap();
        assert_eq!(a.pause().unwrap().since, UnixTime(20));
        assert_eq!(a.pause().unwrap().reason.as_deref(), Some("bano"));
    }

    #[test]
    fn queue_call_walks_waiting_ringing_talking_wrapup() {
        let p = "PJSIP/1006";
        let sop = || q("q_soporte");
        let id = || UniqueId::new("c1");
        let steps: Vec<(LiveFact, usize, Activity, u64)> = vec![
            (
                LiveFact::CallerJoined {
                    queue: sop(),
                    caller: caller("c1", 10),
                },
                1,
                Activity::Idle,
                0,
            ),
            (
                LiveFact::AgentCalled {
                    queue: sop(),
                    interface: p.into(),
                    caller: id(),
                    at: UnixTime(11),
                },
                1,
                Activity::Ringing {
                    queue: Some(sop()),
                    caller: Some(id()),
                },
                0,
            ),
            (
                // The lab's phones report BUSY while ringing (device_state_busy_at = 1).
                LiveFact::MemberStatus {
                    queue: sop(),
                    interface: p.into(),
                    status: DeviceStatus::Busy,
                    at: UnixTime(11),
                },
                1,
                Activity::Ringing {
                    queue: Some(sop()),
                    caller: Some(id()),
                },
                0,
            ),
            (
                LiveFact::CallerLeft {
                    queue: sop(),
                    uniqueid: id(),
                },
                0,
                Activity::Ringing {
                    queue: Some(sop()),
                    caller: Some(id()),
                },
                0,
            ),
            (
                LiveFact::AgentConnected {
                    queue: sop(),
                    interface: p.into(),
                    caller: id(),
                    hold_secs: 0,
                    at: UnixTime(13),
                },
                0,
                Activity::Talking {
                    queue: Some(sop()),
                    caller: Some(id()),
                },
                0,
            ),
            (
                LiveFact::MemberStatus {
                    queue: sop(),
                    interface: p.into(),
                    status: DeviceStatus::InUse,
                    at: UnixTime(13),
                },
                0,
                Activity::Talking {
                    queue: Some(sop()),
                    caller: Some(id()),
                },
                0,
            ),
            (
                LiveFact::AgentCompleted {
                    queue: sop(),
                    interface: p.into(),
                    caller: id(),
                    hold_secs: 3,
                    at: UnixTime(16),
                },
                0,
                Activity::WrapUp { queue: sop() },
                1,
            ),
            (
                LiveFact::MemberStatus {
                    queue: sop(),
                    interface: p.into(),
                    status: DeviceStatus::NotInUse,
                    at: UnixTime(16),
                },
                0,
                Activity::WrapUp { queue: sop() },
                1,
            ),
        ];
        let mut s = run(vec![added("q_soporte", p, "1006")]);
        s.queues.get_mut(&sop()).unwrap().service_level_secs = 30;
        for (i, (fact, waiting, activity, completed)) in steps.into_iter().enumerate() {
            s.apply(fact);
            let qs = &s.queues[&sop()];
            assert_eq!(qs.waiting.len(), waiting, "step {i}: waiting");
            assert_eq!(qs.completed, completed, "step {i}: completed");
            assert_eq!(
                s.agent_by_interface(p).unwrap().activity,
                activity,
                "step {i}"
            );
        }
        let qs = &s.queues[&sop()];
        assert_eq!(qs.members[p].calls_taken, 1);
        assert_eq!(qs.service_level(), 100.0);
        assert_eq!(s.agent_by_interface(p).unwrap().since, Some(UnixTime(16)));
    }

    #[test]
    fn abandon_and_ring_no_answer() {
        let p = "PJSIP/1006";
        let s = run(vec![
            added("q_soporte", p, "1006"),
            LiveFact::CallerJoined {
                queue: q("q_soporte"),
                caller: caller("c1", 10),
            },
            LiveFact::AgentCalled {
                queue: q("q_soporte"),
                interface: p.into(),
                caller: UniqueId::new("c1"),
                at: UnixTime(11),
            },
            LiveFact::AgentRingNoAnswer {
                queue: q("q_soporte"),
                interface: p.into(),
                ring_ms: 15000,
                at: UnixTime(26),
            },
            LiveFact::CallerAbandoned {
                queue: q("q_soporte"),
                uniqueid: UniqueId::new("c1"),
            },
        ]);
        let qs = &s.queues[&q("q_soporte")];
        assert_eq!((qs.waiting.len(), qs.abandoned, qs.completed), (0, 1, 0));
        assert_eq!(s.agent_by_interface(p).unwrap().activity, Activity::Idle);
        assert_eq!(caller("c1", 10).wait(UnixTime(25)), 15);
    }

    #[test]
    fn dialing_follows_channel_state_and_dials() {
        let u = || UniqueId::new("u1");
        let created = |dialing| LiveFact::ChannelCreated {
            endpoint: "1004".into(),
            uniqueid: u(),
            call: CallLive {
                channel: ChannelName::new("PJSIP/1004-1"),
                peer: "5553".into(),
                since: UnixTime(1),
                dialing,
                linkedid: None,
                up: false,
            },
        };
        let dialing = |d| LiveFact::ChannelDialing {
            endpoint: "1004".into(),
            uniqueid: u(),
            dialing: d,
        };
        // A phone's own call: created in state Ring, answered by the far end.
        let mut s = run(vec![created(true)]);
        assert!(s.endpoints["1004"].dialing());
        s.apply(dialing(false));
        assert!(!s.endpoints["1004"].dialing());
        // A click-to-call's source phone: answered first, then its Dial runs until answered.
        let mut s = run(vec![created(false), dialing(true)]);
        assert!(s.endpoints["1004"].dialing());
        s.apply(LiveFact::ChannelHungUp {
            endpoint: "1004".into(),
            uniqueid: u(),
        });
        assert!(!s.endpoints["1004"].dialing());
        // A dial fact for an unknown channel creates nothing.
        let s = run(vec![dialing(true)]);
        assert!(s.endpoints.is_empty());
    }

    #[test]
    fn caller_dids_live_while_the_caller_channel_does() {
        let mut s = run(vec![LiveFact::CallerDid {
            uniqueid: UniqueId::new("c1"),
            did: "26002000".into(),
        }]);
        assert_eq!(s.caller_dids[&UniqueId::new("c1")], "26002000");
        s.apply(LiveFact::ChannelHungUp {
            endpoint: "carrier".into(),
            uniqueid: UniqueId::new("c1"),
        });
        assert!(s.caller_dids.is_empty());
    }

    #[test]
    fn extensions_and_trunks() {
        let call = |ch: &str, at| CallLive {
            channel: ChannelName::new(ch),
            peer: "5551006".into(),
            since: UnixTime(at),
            dialing: false,
            linkedid: None,
            up: false,
        };
        let s = run(vec![
            LiveFact::DeviceState {
                endpoint: "1005".into(),
                status: DeviceStatus::InUse,
            },
            LiveFact::ContactStatus {
                endpoint: "1005".into(),
                status: "Reachable".into(),
                ip: Some("127.0.1.5".into()),
            },
            LiveFact::ChannelCreated {
                endpoint: "1005".into(),
                uniqueid: UniqueId::new("u1"),
                call: call("PJSIP/1005-1", 5),
            },
            LiveFact::ChannelCreated {
                endpoint: "carrier".into(),
                uniqueid: UniqueId::new("u2"),
                call: call("PJSIP/carrier-2", 6),
            },
            LiveFact::ChannelHungUp {
                endpoint: "carrier".into(),
                uniqueid: UniqueId::new("u2"),
            },
            LiveFact::ChannelPeer {
                endpoint: "1005".into(),
                uniqueid: UniqueId::new("u1"),
                peer: "5551020".into(),
            },
            // A peer for a channel that is gone changes nothing.
            LiveFact::ChannelPeer {
                endpoint: "carrier".into(),
                uniqueid: UniqueId::new("u2"),
                peer: "1005".into(),
            },
        ]);
        let e = &s.endpoints["1005"];
        assert_eq!(e.current_call().unwrap().peer, "5551020");
        assert_eq!(e.kind, EndpointKind::Extension);
        assert_eq!(e.device_state, DeviceStatus::InUse);
        assert_eq!(e.contact_ip.as_deref(), Some("127.0.1.5"));
        assert_eq!(e.current_call().unwrap().channel.as_str(), "PJSIP/1005-1");
        let t = &s.endpoints["carrier"];
        assert_eq!(t.kind, EndpointKind::Trunk);
        assert!(t.current_call().is_none());
        let mut s = s;
        s.apply(LiveFact::ContactStatus {
            endpoint: "1005".into(),
            status: "Removed".into(),
            ip: None,
        });
        assert_eq!(s.endpoints["1005"].contact_ip, None);
    }

    #[test]
    fn snapshot_rebuilds_what_events_built() {
        let p = "PJSIP/1005";
        let mut m = member(p, "2005");
        m.pause = Some(Pause {
            reason: Some("almuerzo".into()),
            since: UnixTime(200),
        });
        let followed = run(vec![
            LiveFact::MemberAdded {
                queue: q("q_ventas"),
                member: member(p, "2005"),
            },
            LiveFact::MemberPaused {
                queue: q("q_ventas"),
                interface: p.into(),
                reason: Some("almuerzo".into()),
                at: UnixTime(200),
            },
            LiveFact::DeviceState {
                endpoint: "1005".into(),
                status: DeviceStatus::NotInUse,
            },
        ]);
        let snapshot = LiveSnapshot {
            queues: vec![QueueSnapshot {
                name: q("q_ventas"),
                members: vec![m],
                waiting: vec![],
                completed: 0,
                abandoned: 0,
                service_level_secs: 0,
                service_level_perf: 0.0,
                strategy: String::new(),
                wrapup_secs: None,
            }],
            endpoints: vec![EndpointSnapshot {
                name: "1005".into(),
                device_state: DeviceStatus::NotInUse,
                contact_ip: None,
                contact_status: None,
            }],
            channels: vec![],
        };
        let mut rebuilt = run(vec![added("q_other", "PJSIP/9", "x")]);
        rebuilt.reset_from_snapshot(&snapshot);
        assert_eq!(rebuilt.comparable(), followed.comparable());
        // Counters and service level survive the round trip through a percentage.
        let snap = LiveSnapshot {
            queues: vec![QueueSnapshot {
                name: q("q"),
                members: vec![],
                waiting: vec![caller("c9", 50)],
                completed: 7,
                abandoned: 2,
                service_level_secs: 20,
                service_level_perf: 71.4,
                strategy: "leastrecent".into(),
                wrapup_secs: Some(15),
            }],
            ..LiveSnapshot::default()
        };
        let s = LiveState::from_snapshot(&snap);
        let qs = &s.queues[&q("q")];
        assert_eq!((qs.completed, qs.abandoned, qs.completed_in_sl), (7, 2, 5));
        assert_eq!(
            (qs.strategy.as_str(), qs.wrapup_secs),
            ("leastrecent", Some(15))
        );
        assert_eq!(qs.waiting.len(), 1);
    }

    #[test]
    fn a_rebuild_keeps_the_device_states_already_known() {
        let endpoint = |name: &str, state| EndpointSnapshot {
            name: name.into(),
            device_state: state,
            contact_ip: None,
            contact_status: None,
        };
        let snapshot = LiveSnapshot {
            queues: vec![],
            endpoints: vec![
                endpoint("1005", DeviceStatus::NotInUse),
                endpoint("1006", DeviceStatus::NotInUse),
                endpoint("1007", DeviceStatus::Unavailable),
            ],
            channels: vec![],
        };
        let mut s = LiveState::new();
        // Applied while the snapshot was read: newer than the snapshot's device list.
        for (endpoint, status) in [
            ("1005", DeviceStatus::InUse),
            ("1007", DeviceStatus::Unknown),
            ("1099", DeviceStatus::Ringing),
        ] {
            s.apply(LiveFact::DeviceState {
                endpoint: endpoint.into(),
                status,
            });
        }
        s.reset_from_snapshot_keeping_device_states(&snapshot);
        let state = |name: &str| s.endpoints.get(name).map(|e| e.device_state);
        assert_eq!(state("1005"), Some(DeviceStatus::InUse), "kept");
        assert_eq!(
            state("1006"),
            Some(DeviceStatus::NotInUse),
            "the snapshot's"
        );
        assert_eq!(
            state("1007"),
            Some(DeviceStatus::Unavailable),
            "unknown is not kept"
        );
        assert_eq!(state("1099"), None, "only the snapshot's endpoints");
        let mut plain = LiveState::new();
        plain.reset_from_snapshot(&snapshot);
        assert_eq!(plain.endpoints["1005"].device_state, DeviceStatus::NotInUse);
    }
}
