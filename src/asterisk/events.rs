//! The AMI events the engine uses, as typed values ([`PbxEvent`]), and [`EventHub`]: the one
//! subscriber of the client's event stream, which parses every message once and hands the
//! result to every consumer.
//!
//! [`PbxEvent::parse`] is the only place that reads an event's fields: an event the engine does
//! not use is dropped after one comparison of its name; a used one becomes a variant with typed
//! fields (queue names, channel names, uniqueids, device states, causes), the defaults of
//! absent or malformed fields decided here once.
//!
//! The hub's task reads [`AmiClient::subscribe`], parses each message, turns the event into
//! every fact the engine draws from it ([`event_facts::facts`](super::event_facts::facts)) and
//! publishes one shared [`Received`] (event, time, facts) on a bounded broadcast to every
//! consumer (the live follower, the originate follower), and on a second one carrying only the
//! events with a hangup cause (the cause recorder: floods of other events cannot overrun it).
//! Before publishing it applies the event's device state to the shared live state
//! ([`EventHub::live`]), the engine's one copy of device states, so a consumer that reads an
//! event knows the device states include every event before it (a `DeviceStateList`'s closing
//! event comes after its entries were applied).
//!
//! Missed events are reported in band: when the hub lags behind the client, each consumer's
//! [`EventReceiver::recv`] reports `Lagged` at that point of the stream, exactly as when the
//! consumer lags behind the hub, and [`EventReceiver::is_empty`] is true only when neither the
//! consumer nor the hub has events waiting (a consumer that asks Asterisk for a list once
//! "drained" must not queue it behind a backlog anywhere). The hub ends once the client is
//! closed, after the events already received; then every receiver reports `Closed`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch};
use tracing::debug;

use crate::core::directory::QueueName;
use crate::core::live::{DeviceStatus, QueueMember, SharedLive};
use crate::core::{ChannelName, UniqueId, UnixTime};

use super::ami::{AmiClient, AmiEvent, AmiMessage, ConnectionState};
use super::event_facts::{self, Facts};
use super::queue_control::{device_state, member_from, member_status, peer_of, uri_host};

/// `ChannelState` of a channel, as far as the engine tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelState {
    /// `4` Ring: placing a call the far end has not answered yet.
    Ring,
    /// `5` Ringing: being rung.
    Ringing,
    /// `6` Up: answered.
    Up,
    /// Any other (or none).
    Other,
}

impl ChannelState {
    /// The state a `ChannelState` field gives.
    pub fn parse(code: &str) -> Self {
        match code {
            "4" => Self::Ring,
            "5" => Self::Ringing,
            "6" => Self::Up,
            _ => Self::Other,
        }
    }
}

/// A queue and one of its members, as queue events name them.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberRef {
    /// `Queue` (`None` when it is no valid queue name: the event gives no fact).
    pub queue: Option<QueueName>,
    /// `Interface` (`PJSIP/1005`; empty when absent).
    pub interface: String,
}

/// A channel as channel events name it (each field empty when absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRef {
    /// `Channel`.
    pub channel: ChannelName,
    /// `Uniqueid`.
    pub uniqueid: UniqueId,
}

/// An `OriginateResponse`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginateResponse {
    /// `Uniqueid` (Asterisk sends `<null>` when no channel was made).
    pub uniqueid: UniqueId,
    /// `ActionID` of the `Originate` it answers.
    pub action_id: Option<String>,
    /// `Response`: `Some(true)` for `Success`, `Some(false)` otherwise, `None` when absent.
    pub success: Option<bool>,
    /// `Reason` (`0` when absent).
    pub reason: String,
}

/// An AMI event the engine uses, its fields typed.
#[derive(Clone, Debug, PartialEq)]
pub enum PbxEvent {
    /// `QueueMemberAdded`.
    QueueMemberAdded {
        /// `Queue`.
        queue: Option<QueueName>,
        /// The member as reported (`None` without an interface).
        member: Option<QueueMember>,
    },
    /// `QueueMemberRemoved`.
    QueueMemberRemoved(MemberRef),
    /// `QueueMemberPause`.
    QueueMemberPause {
        /// The member.
        member: MemberRef,
        /// `Paused: 1`.
        paused: bool,
        /// `PausedReason` (`None` when empty).
        reason: Option<String>,
        /// `LastPause` when positive.
        last_pause: Option<UnixTime>,
    },
    /// `QueueMemberStatus`.
    QueueMemberStatus {
        /// The member.
        member: MemberRef,
        /// `Status`.
        status: DeviceStatus,
        /// `Penalty`, when present and a number.
        penalty: Option<u32>,
        /// `CallsTaken`, when present and a number.
        calls_taken: Option<u64>,
        /// `LastCall`, when present and a number (`Some(None)`: never).
        last_call: Option<Option<UnixTime>>,
    },
    /// `QueueMemberPenalty`.
    QueueMemberPenalty {
        /// The member.
        member: MemberRef,
        /// `Penalty`, when a number.
        penalty: Option<u32>,
    },
    /// `QueueCallerJoin`.
    QueueCallerJoin {
        /// `Queue`.
        queue: Option<QueueName>,
        /// The caller's channel.
        caller: ChannelRef,
        /// `CallerIDNum`.
        caller_id: String,
        /// `Position` (0 when absent).
        position: u32,
        /// `Exten`: the extension the caller is in (its DID in `to-queue`).
        exten: String,
    },
    /// `QueueCallerLeave`.
    QueueCallerLeave {
        /// `Queue`.
        queue: Option<QueueName>,
        /// `Uniqueid`.
        uniqueid: UniqueId,
    },
    /// `QueueCallerAbandon`.
    QueueCallerAbandon {
        /// `Queue`.
        queue: Option<QueueName>,
        /// `Uniqueid`.
        uniqueid: UniqueId,
    },
    /// `AgentCalled`.
    AgentCalled {
        /// The member rung.
        member: MemberRef,
        /// The caller's `Uniqueid`.
        caller: UniqueId,
    },
    /// `AgentRingNoAnswer`.
    AgentRingNoAnswer {
        /// The member.
        member: MemberRef,
        /// `RingTime` in ms (`u64::MAX` when absent).
        ring_ms: u64,
    },
    /// `AgentConnect`.
    AgentConnect {
        /// The member that answered.
        member: MemberRef,
        /// The caller's `Uniqueid`.
        caller: UniqueId,
        /// `HoldTime` (0 when absent).
        hold_secs: u64,
        /// The caller channel's `Exten`.
        exten: String,
        /// The caller's `CallerIDNum` (empty when absent).
        caller_num: String,
        /// The caller's `CallerIDName` (empty when absent or `<unknown>`).
        caller_name: String,
        /// The caller's `IVRDATA` variable, when `manager.conf`'s `channelvars` names it
        /// (`ChanVariable(IVRDATA)`; empty otherwise).
        ivr_data: String,
    },
    /// `AgentComplete`.
    AgentComplete {
        /// The member.
        member: MemberRef,
        /// The caller's `Uniqueid`.
        caller: UniqueId,
        /// `HoldTime` (0 when absent).
        hold_secs: u64,
    },
    /// `DeviceStateChange` (also each entry of a `DeviceStateList`).
    DeviceStateChange {
        /// `Device` (`PJSIP/1005`, `Queue:q_soporte_avail`, ...).
        device: String,
        /// `State`.
        state: DeviceStatus,
    },
    /// `DeviceStateListComplete`: the end of a `DeviceStateList`.
    DeviceStateListComplete {
        /// The list's `ActionID`.
        action_id: Option<String>,
    },
    /// `ContactStatus`.
    ContactStatus {
        /// `EndpointName`, else `AOR` (empty when neither).
        endpoint: String,
        /// `ContactStatus`.
        status: String,
        /// The host of `URI`.
        ip: Option<String>,
    },
    /// `Newchannel`.
    Newchannel {
        /// The channel.
        channel: ChannelRef,
        /// `ChannelState`.
        state: ChannelState,
        /// The other party: `ConnectedLineNum`, else `Exten`.
        peer: String,
        /// `Linkedid` (`None` when empty).
        linkedid: Option<UniqueId>,
    },
    /// `Newstate`.
    Newstate {
        /// The channel.
        channel: ChannelRef,
        /// `ChannelState`.
        state: ChannelState,
    },
    /// `NewConnectedLine`.
    NewConnectedLine {
        /// The channel.
        channel: ChannelRef,
        /// `ConnectedLineNum`.
        connected: String,
    },
    /// `DialBegin`.
    DialBegin {
        /// The calling channel (empty when Asterisk dials an originated channel itself).
        caller: ChannelRef,
    },
    /// `DialEnd`.
    DialEnd {
        /// The calling channel (empty when Asterisk dialed an originated channel itself).
        caller: ChannelRef,
        /// `DestUniqueid`: the dialed channel.
        dest_uniqueid: UniqueId,
        /// `DialStatus` (`ANSWER`, `BUSY`, ...).
        status: String,
    },
    /// `Hangup`.
    Hangup {
        /// The channel.
        channel: ChannelRef,
        /// `Cause`, when a number.
        cause: Option<u16>,
    },
    /// `OriginateResponse`.
    OriginateResponse(OriginateResponse),
    /// `Cdr`: Asterisk wrote a CDR (the ingestor reads it from the CDR store).
    Cdr,
}

fn field<'a>(m: &'a AmiMessage, key: &str) -> &'a str {
    m.get(key).unwrap_or("")
}

fn nonempty(m: &AmiMessage, key: &str) -> Option<String> {
    m.get(key).filter(|s| !s.is_empty()).map(str::to_owned)
}

impl PbxEvent {
    /// The event `m` is, if the engine uses it (else `None`, after one look at its name).
    /// `now` stands in for a pause start Asterisk did not report.
    pub fn parse(m: &AmiMessage, now: UnixTime) -> Option<Self> {
        let queue = || QueueName::new(field(m, "Queue")).ok();
        let member = || MemberRef {
            queue: queue(),
            interface: field(m, "Interface").to_owned(),
        };
        let uniqueid = || UniqueId::new(field(m, "Uniqueid"));
        let channel = || ChannelRef {
            channel: ChannelName::new(field(m, "Channel")),
            uniqueid: uniqueid(),
        };
        let hold_secs = || field(m, "HoldTime").parse().unwrap_or(0);
        let trimmed = |key: &str| m.get(key).and_then(|v| v.trim().parse::<i64>().ok());
        Some(match m.event_name()? {
            "QueueMemberAdded" => Self::QueueMemberAdded {
                queue: queue(),
                member: member_from(m, now),
            },
            "QueueMemberRemoved" => Self::QueueMemberRemoved(member()),
            "QueueMemberPause" => Self::QueueMemberPause {
                member: member(),
                paused: field(m, "Paused") == "1",
                reason: nonempty(m, "PausedReason"),
                last_pause: field(m, "LastPause")
                    .parse::<i64>()
                    .ok()
                    .filter(|t| *t > 0)
                    .map(UnixTime),
            },
            "QueueMemberStatus" => Self::QueueMemberStatus {
                member: member(),
                status: member_status(field(m, "Status")),
                penalty: m.get("Penalty").and_then(|v| v.trim().parse().ok()),
                calls_taken: m.get("CallsTaken").and_then(|v| v.trim().parse().ok()),
                last_call: trimmed("LastCall").map(|t| (t > 0).then_some(UnixTime(t))),
            },
            "QueueMemberPenalty" => Self::QueueMemberPenalty {
                member: member(),
                penalty: field(m, "Penalty").parse().ok(),
            },
            "QueueCallerJoin" => Self::QueueCallerJoin {
                queue: queue(),
                caller: channel(),
                caller_id: field(m, "CallerIDNum").to_owned(),
                position: field(m, "Position").parse().unwrap_or(0),
                exten: field(m, "Exten").to_owned(),
            },
            "QueueCallerLeave" => Self::QueueCallerLeave {
                queue: queue(),
                uniqueid: uniqueid(),
            },
            "QueueCallerAbandon" => Self::QueueCallerAbandon {
                queue: queue(),
                uniqueid: uniqueid(),
            },
            "AgentCalled" => Self::AgentCalled {
                member: member(),
                caller: uniqueid(),
            },
            "AgentRingNoAnswer" => Self::AgentRingNoAnswer {
                member: member(),
                ring_ms: field(m, "RingTime").parse().unwrap_or(u64::MAX),
            },
            "AgentConnect" => Self::AgentConnect {
                member: member(),
                caller: uniqueid(),
                hold_secs: hold_secs(),
                exten: field(m, "Exten").to_owned(),
                caller_num: field(m, "CallerIDNum").to_owned(),
                caller_name: match field(m, "CallerIDName") {
                    "<unknown>" => String::new(),
                    name => name.to_owned(),
                },
                ivr_data: field(m, "ChanVariable(IVRDATA)").to_owned(),
            },
            "AgentComplete" => Self::AgentComplete {
                member: member(),
                caller: uniqueid(),
                hold_secs: hold_secs(),
            },
            "DeviceStateChange" => Self::DeviceStateChange {
                device: field(m, "Device").to_owned(),
                state: device_state(field(m, "State")),
            },
            "DeviceStateListComplete" => Self::DeviceStateListComplete {
                action_id: m.action_id().map(str::to_owned),
            },
            "ContactStatus" => Self::ContactStatus {
                endpoint: m
                    .get("EndpointName")
                    .filter(|s| !s.is_empty())
                    .or_else(|| m.get("AOR"))
                    .unwrap_or("")
                    .to_owned(),
                status: field(m, "ContactStatus").to_owned(),
                ip: uri_host(field(m, "URI")),
            },
            "Newchannel" => Self::Newchannel {
                channel: channel(),
                state: ChannelState::parse(field(m, "ChannelState")),
                peer: peer_of(m),
                linkedid: m
                    .get("Linkedid")
                    .filter(|l| !l.is_empty())
                    .map(UniqueId::new),
            },
            "Newstate" => Self::Newstate {
                channel: channel(),
                state: ChannelState::parse(field(m, "ChannelState")),
            },
            "NewConnectedLine" => Self::NewConnectedLine {
                channel: channel(),
                connected: field(m, "ConnectedLineNum").to_owned(),
            },
            "DialBegin" => Self::DialBegin { caller: channel() },
            "DialEnd" => Self::DialEnd {
                caller: channel(),
                dest_uniqueid: UniqueId::new(field(m, "DestUniqueid")),
                status: field(m, "DialStatus").to_owned(),
            },
            "Hangup" => Self::Hangup {
                channel: channel(),
                cause: m.get("Cause").and_then(|c| c.trim().parse().ok()),
            },
            "OriginateResponse" => Self::OriginateResponse(OriginateResponse {
                uniqueid: uniqueid(),
                action_id: m.action_id().map(str::to_owned),
                success: m.get("Response").map(|r| r.eq_ignore_ascii_case("Success")),
                reason: m.get("Reason").unwrap_or("0").to_owned(),
            }),
            "Cdr" => Self::Cdr,
            _ => return None,
        })
    }
}

/// One used event as every consumer receives it: parsed once, its facts drawn once.
#[derive(Debug, PartialEq)]
pub struct Received {
    /// The event.
    pub event: PbxEvent,
    /// When the hub read it.
    pub at: UnixTime,
    /// Every fact the engine draws from it.
    pub facts: Facts,
}

#[derive(Clone, Debug)]
enum Item {
    Event(Arc<Received>),
    /// The hub lagged behind the client: this many messages were missed here.
    Missed(u64),
}

/// A consumer's end of the hub: like a broadcast receiver of [`Received`] events, where
/// `Lagged` also reports events the hub itself missed.
#[derive(Debug)]
pub struct EventReceiver {
    rx: broadcast::Receiver<Item>,
    hub: Arc<Inner>,
}

impl EventReceiver {
    /// The next event; `Err(Lagged(n))` where events were missed (by this receiver or by the
    /// hub), `Err(Closed)` once the hub ended and every event before was read.
    pub async fn recv(&mut self) -> Result<Arc<Received>, RecvError> {
        match self.rx.recv().await? {
            Item::Event(e) => Ok(e),
            Item::Missed(n) => Err(RecvError::Lagged(n)),
        }
    }

    /// Whether no event waits, neither here nor in the hub's own receiver.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty() && self.hub.backlog.load(Ordering::Acquire) == 0
    }
}

/// The senders the hub publishes on.
#[derive(Clone, Debug)]
struct Outputs {
    all: broadcast::Sender<Item>,
    causes: broadcast::Sender<Item>,
}

#[derive(Debug)]
struct Inner {
    client: AmiClient,
    live: Arc<SharedLive>,
    /// For new subscriptions; `None` once the hub ended.
    outputs: Mutex<Option<Outputs>>,
    /// Messages waiting in the hub's receiver after its last read.
    backlog: AtomicUsize,
    /// Messages parsed so far.
    parsed: AtomicU64,
    /// Messages the hub missed (it lagged behind the client) so far.
    missed: AtomicU64,
    /// How late the last message with a `Timestamp` was read, in microseconds; -1 before one.
    lag_us: AtomicI64,
    /// `ActionID`s of the last `DeviceStateList`s whose closing event was applied.
    lists: watch::Sender<VecDeque<String>>,
}

/// How many closing `ActionID`s of device lists the hub remembers.
const LISTS_KEPT: usize = 16;

/// The one subscriber of an [`AmiClient`]'s events (see the module doc). Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventHub {
    inner: Arc<Inner>,
}

impl EventHub {
    /// Starts the hub on `client`'s events, device states kept in a new live state, each
    /// consumer's channel as deep as the client's ([`AmiClient::event_capacity`]).
    pub fn start(client: &AmiClient) -> Self {
        Self::start_with(
            client,
            Arc::new(SharedLive::default()),
            client.event_capacity(),
        )
    }

    /// Starts the hub on `client`'s events, device states kept in `live`, each consumer's
    /// channel `capacity` deep.
    pub fn start_with(client: &AmiClient, live: Arc<SharedLive>, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let outputs = Outputs {
            all: broadcast::channel(capacity).0,
            causes: broadcast::channel(capacity).0,
        };
        let inner = Arc::new(Inner {
            client: client.clone(),
            live,
            outputs: Mutex::new(Some(outputs.clone())),
            backlog: AtomicUsize::new(0),
            parsed: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            lag_us: AtomicI64::new(-1),
            lists: watch::channel(VecDeque::new()).0,
        });
        let events = client.subscribe();
        let state = client.connection_events();
        tokio::spawn(pump(inner.clone(), events, state, outputs));
        Self { inner }
    }

    /// The client the events come from (to send actions).
    pub fn client(&self) -> &AmiClient {
        &self.inner.client
    }

    /// The live state the device states are kept in.
    pub fn live(&self) -> Arc<SharedLive> {
        self.inner.live.clone()
    }

    /// Every used event from now on.
    pub fn subscribe(&self) -> EventReceiver {
        self.receiver(|o| &o.all)
    }

    /// The events that carry a hangup cause, from now on, on a channel of their own.
    pub fn subscribe_causes(&self) -> EventReceiver {
        self.receiver(|o| &o.causes)
    }

    fn receiver(&self, pick: impl Fn(&Outputs) -> &broadcast::Sender<Item>) -> EventReceiver {
        let outputs = self
            .inner
            .outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Once the hub ended: a receiver that reports `Closed`.
        let rx = match outputs.as_ref() {
            Some(o) => pick(o).subscribe(),
            None => broadcast::channel(1).1,
        };
        EventReceiver {
            rx,
            hub: self.inner.clone(),
        }
    }

    /// How many messages the hub has parsed: one per message the client received, whatever
    /// the number of consumers.
    pub fn messages_parsed(&self) -> u64 {
        self.inner.parsed.load(Ordering::Relaxed)
    }

    /// How many messages the hub missed so far (it lagged behind the client; each consumer was
    /// told).
    pub fn messages_missed(&self) -> u64 {
        self.inner.missed.load(Ordering::Relaxed)
    }

    /// How long after Asterisk sent it (its `Timestamp` header, `timestampevents = yes` in
    /// `manager.conf`) the last timestamped message was read: `None` before the first.
    pub fn event_lag(&self) -> Option<Duration> {
        u64::try_from(self.inner.lag_us.load(Ordering::Relaxed))
            .ok()
            .map(Duration::from_micros)
    }

    /// Waits until the entries of the `DeviceStateList` whose `ActionID` is `action_id` are
    /// applied to the device states (its closing event was read), up to `within`; `false` on
    /// timeout (the hub lagged over it, or the list never ended).
    pub async fn device_list_applied(&self, action_id: &str, within: Duration) -> bool {
        let mut rx = self.inner.lists.subscribe();
        tokio::time::timeout(
            within,
            rx.wait_for(|ids| ids.iter().any(|i| i == action_id)),
        )
        .await
        .is_ok_and(|r| r.is_ok())
    }
}

impl Inner {
    /// Parses one message and publishes what it is (see the module doc).
    fn handle(&self, message: &AmiMessage, out: &Outputs) {
        self.parsed.fetch_add(1, Ordering::Relaxed);
        if let Some(lag) = message
            .get("Timestamp")
            .and_then(|t| event_lag(t, SystemTime::now()))
        {
            let us = i64::try_from(lag.as_micros()).unwrap_or(i64::MAX);
            self.lag_us.store(us, Ordering::Relaxed);
        }
        let at = UnixTime::now();
        let Some(event) = PbxEvent::parse(message, at) else {
            return;
        };
        let facts = event_facts::facts(&event, at);
        if let Some(fact) = &facts.device {
            self.live.update(|s| s.apply(fact.clone()));
        }
        if let PbxEvent::DeviceStateListComplete {
            action_id: Some(id),
        } = &event
        {
            self.lists.send_modify(|ids| {
                if ids.len() == LISTS_KEPT {
                    ids.pop_front();
                }
                ids.push_back(id.clone());
            });
        }
        let cause = facts.cause.is_some();
        let item = Item::Event(Arc::new(Received { event, at, facts }));
        if cause {
            let _ = out.causes.send(item.clone());
        }
        let _ = out.all.send(item);
    }

    fn missed(&self, n: u64, out: &Outputs) {
        self.missed.fetch_add(n, Ordering::Relaxed);
        let _ = out.causes.send(Item::Missed(n));
        let _ = out.all.send(Item::Missed(n));
    }
}

/// `now` minus an AMI `Timestamp` value (epoch seconds with microseconds); a timestamp from the
/// future counts as no lag.
fn event_lag(timestamp: &str, now: SystemTime) -> Option<Duration> {
    let secs: f64 = timestamp.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs_f64(secs))?;
    Some(now.duration_since(at).unwrap_or_default())
}

async fn pump(
    inner: Arc<Inner>,
    mut events: broadcast::Receiver<AmiEvent>,
    mut state: watch::Receiver<ConnectionState>,
    out: Outputs,
) {
    loop {
        tokio::select! {
            biased;
            event = events.recv() => match event {
                Ok(message) => {
                    inner.backlog.store(events.len(), Ordering::Release);
                    inner.handle(&message, &out);
                }
                Err(RecvError::Lagged(n)) => inner.missed(n, &out),
                Err(RecvError::Closed) => break,
            },
            changed = state.changed() => {
                if changed.is_err() || *state.borrow_and_update() == ConnectionState::Closed {
                    // The client ended: what it received before is still read.
                    loop {
                        match events.try_recv() {
                            Ok(message) => inner.handle(&message, &out),
                            Err(TryRecvError::Lagged(n)) => inner.missed(n, &out),
                            Err(_) => break,
                        }
                    }
                    break;
                }
            }
        }
    }
    inner.backlog.store(0, Ordering::Release);
    inner
        .outputs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    debug!("event hub ended");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_events_are_dropped_and_used_ones_typed() {
        let now = UnixTime(5);
        for name in ["Newexten", "VarSet", "RTCPSent", "hangup"] {
            assert_eq!(
                PbxEvent::parse(&AmiMessage::event(name, &[("Uniqueid", "u")]), now),
                None
            );
        }
        assert_eq!(PbxEvent::parse(&AmiMessage::new(), now), None, "no name");
        assert_eq!(
            PbxEvent::parse(
                &AmiMessage::event(
                    "Hangup",
                    &[
                        ("Channel", "PJSIP/1001-00000001"),
                        ("Uniqueid", "1700000000.1"),
                        ("Cause", "17")
                    ]
                ),
                now
            ),
            Some(PbxEvent::Hangup {
                channel: ChannelRef {
                    channel: ChannelName::new("PJSIP/1001-00000001"),
                    uniqueid: UniqueId::new("1700000000.1"),
                },
                cause: Some(17),
            })
        );
        assert_eq!(
            PbxEvent::parse(
                &AmiMessage::event(
                    "OriginateResponse",
                    &[("ActionID", "c-3"), ("Response", "Failure")]
                ),
                now
            ),
            Some(PbxEvent::OriginateResponse(OriginateResponse {
                uniqueid: UniqueId::new(""),
                action_id: Some("c-3".into()),
                success: Some(false),
                reason: "0".into(),
            }))
        );
        assert_eq!(
            PbxEvent::parse(
                &AmiMessage::event(
                    "DeviceStateChange",
                    &[("Device", "PJSIP/1002"), ("State", "RINGINUSE")]
                ),
                now
            ),
            Some(PbxEvent::DeviceStateChange {
                device: "PJSIP/1002".into(),
                state: DeviceStatus::RingInUse,
            })
        );
        for (code, state) in [
            ("4", ChannelState::Ring),
            ("5", ChannelState::Ringing),
            ("6", ChannelState::Up),
            ("0", ChannelState::Other),
            ("", ChannelState::Other),
        ] {
            assert_eq!(ChannelState::parse(code), state);
        }
    }

    #[test]
    fn event_lag_from_ami_timestamps() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_312_520);
        let cases = [
            ("1795312517.500000", Some(Duration::from_millis(2500))),
            ("1795312520.000000", Some(Duration::ZERO)),
            ("1795312530.000000", Some(Duration::ZERO)),
            ("not a time", None),
            ("-5", None),
            ("", None),
        ];
        for (ts, want) in cases {
            let got = event_lag(ts, now);
            match (got, want) {
                (Some(g), Some(w)) => {
                    assert!(g.abs_diff(w) < Duration::from_millis(1), "{ts}: {g:?}")
                }
                (g, w) => assert_eq!(g, w, "{ts}"),
            }
        }
    }
}
