//! The live follower: a task that keeps a shared [`LiveState`] equal to what Asterisk reports.
//!
//! It subscribes to the AMI events, maps the few it needs to core [`LiveFact`]s (see
//! [`facts_from_event`]; every other event is dropped after one name comparison) and folds them
//! into the state. On start, on every new connection generation and whenever its subscription
//! lagged, it rebuilds the state from a snapshot ([`QueueControl::snapshot`]), so changes made
//! while it was not listening (a reconnect, a burst) are never lost. After a lag the snapshot
//! is read only once the backlog has been applied: right after `Lagged` the receiver holds a
//! full channel, and the snapshot's own list events (which fan out like any event) would
//! overrun it again, each rebuild setting off the next.
//!
//! Events queued while a snapshot is read are applied after it; most facts are idempotent, but
//! a call completed exactly during the snapshot may be counted twice in that queue's counters.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::core::agents::QueueControl;
use crate::core::directory::QueueName;
use crate::core::live::{CallLive, LiveFact, LiveState, SharedLive, WaitingCaller};
use crate::core::{ChannelName, UniqueId, UnixTime};

use super::ami::{AmiClient, AmiMessage, ConnectionState};
use super::naming;
use super::queue_control::{
    device_state, member_from, member_status, peer_of, uri_host, CHANNEL_STATE_RING,
    CHANNEL_STATE_UP,
};

/// The events the follower reads; anything else is dropped.
pub const FOLLOWED_EVENTS: &[&str] = &[
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "QueueMemberPause",
    "QueueMemberStatus",
    "QueueMemberPenalty",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "AgentRingNoAnswer",
    "DeviceStateChange",
    "ContactStatus",
    "Newchannel",
    "NewConnectedLine",
    "Newstate",
    "DialBegin",
    "DialEnd",
    "Hangup",
];

fn field<'a>(m: &'a AmiMessage, key: &str) -> &'a str {
    m.get(key).unwrap_or("")
}

/// The figures a `QueueMemberStatus` event reports beside the status (each only when present;
/// none: no fact).
fn member_figures(e: &AmiMessage, queue: QueueName) -> Option<LiveFact> {
    let penalty = e.get("Penalty").and_then(|v| v.trim().parse().ok());
    let calls_taken = e.get("CallsTaken").and_then(|v| v.trim().parse().ok());
    let last_call = e
        .get("LastCall")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|t| (t > 0).then_some(UnixTime(t)));
    (penalty.is_some() || calls_taken.is_some() || last_call.is_some()).then(|| {
        LiveFact::MemberFigures {
            queue,
            interface: field(e, "Interface").to_owned(),
            penalty,
            calls_taken,
            last_call,
        }
    })
}

/// The core facts one AMI event stands for (none for events the follower ignores). `now` is
/// the time the event was received.
pub fn facts_from_event(e: &AmiMessage, now: UnixTime) -> Vec<LiveFact> {
    let Some(name) = e.event_name() else {
        return vec![];
    };
    if !FOLLOWED_EVENTS.contains(&name) {
        return vec![];
    }
    let queue = || QueueName::new(field(e, "Queue")).ok();
    let interface = || field(e, "Interface").to_owned();
    let uniqueid = || UniqueId::new(field(e, "Uniqueid"));
    // The DID a queue caller came in on: the caller channel's extension in `to-queue`.
    let did = || {
        let exten = field(e, "Exten");
        (!exten.is_empty() && exten.bytes().all(|b| b.is_ascii_digit())).then(|| {
            LiveFact::CallerDid {
                uniqueid: uniqueid(),
                did: exten.to_owned(),
            }
        })
    };
    // `Channel` is the calling side of a Dial, or the channel whose state changed.
    let dialing = |dialing: bool| {
        naming::endpoint_of(field(e, "Channel")).map(|endpoint| LiveFact::ChannelDialing {
            endpoint: endpoint.to_owned(),
            uniqueid: uniqueid(),
            dialing,
        })
    };
    let mut extra = None;
    let fact = match name {
        "QueueMemberAdded" => queue().and_then(|queue| {
            member_from(e, now).map(|member| LiveFact::MemberAdded { queue, member })
        }),
        "QueueMemberRemoved" => queue().map(|queue| LiveFact::MemberRemoved {
            queue,
            interface: interface(),
        }),
        "QueueMemberPause" => queue().map(|queue| {
            if field(e, "Paused") == "1" {
                LiveFact::MemberPaused {
                    queue,
                    interface: interface(),
                    reason: e
                        .get("PausedReason")
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                    at: field(e, "LastPause")
                        .parse::<i64>()
                        .ok()
                        .filter(|t| *t > 0)
                        .map_or(now, UnixTime),
                }
            } else {
                LiveFact::MemberUnpaused {
                    queue,
                    interface: interface(),
                }
            }
        }),
        "QueueMemberStatus" => queue().map(|queue| {
            extra = member_figures(e, queue.clone());
            LiveFact::MemberStatus {
                queue,
                interface: interface(),
                status: member_status(field(e, "Status")),
                at: now,
            }
        }),
        "QueueMemberPenalty" => queue().map(|queue| LiveFact::MemberFigures {
            queue,
            interface: interface(),
            penalty: field(e, "Penalty").parse().ok(),
            calls_taken: None,
            last_call: None,
        }),
        "QueueCallerJoin" => queue().map(|queue| {
            extra = did();
            LiveFact::CallerJoined {
                queue,
                caller: WaitingCaller {
                    uniqueid: uniqueid(),
                    channel: ChannelName::new(field(e, "Channel")),
                    caller_id: field(e, "CallerIDNum").to_owned(),
                    position: field(e, "Position").parse().unwrap_or(0),
                    joined_at: now,
                },
            }
        }),
        "QueueCallerLeave" => queue().map(|queue| LiveFact::CallerLeft {
            queue,
            uniqueid: uniqueid(),
        }),
        "QueueCallerAbandon" => queue().map(|queue| LiveFact::CallerAbandoned {
            queue,
            uniqueid: uniqueid(),
        }),
        "AgentCalled" => queue().map(|queue| LiveFact::AgentCalled {
            queue,
            interface: interface(),
            caller: uniqueid(),
            at: now,
        }),
        "AgentRingNoAnswer" => queue().map(|queue| LiveFact::AgentRingNoAnswer {
            queue,
            interface: interface(),
            ring_ms: field(e, "RingTime").parse().unwrap_or(u64::MAX),
            at: now,
        }),
        "AgentConnect" => queue().map(|queue| {
            extra = did();
            LiveFact::AgentConnected {
                queue,
                interface: interface(),
                caller: uniqueid(),
                hold_secs: field(e, "HoldTime").parse().unwrap_or(0),
                at: now,
            }
        }),
        "AgentComplete" => queue().map(|queue| LiveFact::AgentCompleted {
            queue,
            interface: interface(),
            caller: uniqueid(),
            hold_secs: field(e, "HoldTime").parse().unwrap_or(0),
            at: now,
        }),
        "DeviceStateChange" => {
            naming::endpoint_of(field(e, "Device")).map(|endpoint| LiveFact::DeviceState {
                endpoint: endpoint.to_owned(),
                status: device_state(field(e, "State")),
            })
        }
        "ContactStatus" => {
            let endpoint = e
                .get("EndpointName")
                .filter(|s| !s.is_empty())
                .or_else(|| e.get("AOR"))
                .unwrap_or("");
            (!endpoint.is_empty()).then(|| LiveFact::ContactStatus {
                endpoint: endpoint.to_owned(),
                status: field(e, "ContactStatus").to_owned(),
                ip: uri_host(field(e, "URI")),
            })
        }
        "Newchannel" => {
            let channel = field(e, "Channel");
            naming::endpoint_of(channel).map(|endpoint| LiveFact::ChannelCreated {
                endpoint: endpoint.to_owned(),
                uniqueid: uniqueid(),
                call: CallLive {
                    channel: ChannelName::new(channel),
                    peer: peer_of(e),
                    since: now,
                    dialing: field(e, "ChannelState") == CHANNEL_STATE_RING,
                    linkedid: e
                        .get("Linkedid")
                        .filter(|l| !l.is_empty())
                        .map(UniqueId::new),
                    up: field(e, "ChannelState") == CHANNEL_STATE_UP,
                },
            })
        }
        "Newstate" => match field(e, "ChannelState") {
            CHANNEL_STATE_RING => dialing(true),
            CHANNEL_STATE_UP => {
                extra =
                    naming::endpoint_of(field(e, "Channel")).map(|endpoint| LiveFact::ChannelUp {
                        endpoint: endpoint.to_owned(),
                        uniqueid: uniqueid(),
                    });
                dialing(false)
            }
            _ => None,
        },
        // The calling side of a Dial (absent when Asterisk originates the dialed channel).
        "DialBegin" => dialing(true),
        "DialEnd" => dialing(false),
        "NewConnectedLine" => {
            let peer = field(e, "ConnectedLineNum");
            naming::endpoint_of(field(e, "Channel"))
                .filter(|_| !peer.is_empty() && peer != "<unknown>")
                .map(|endpoint| LiveFact::ChannelPeer {
                    endpoint: endpoint.to_owned(),
                    uniqueid: uniqueid(),
                    peer: peer.to_owned(),
                })
        }
        "Hangup" => match naming::endpoint_of(field(e, "Channel")) {
            Some(endpoint) => Some(LiveFact::ChannelHungUp {
                endpoint: endpoint.to_owned(),
                uniqueid: uniqueid(),
            }),
            None => (!field(e, "Uniqueid").is_empty()).then(|| LiveFact::OtherChannelHungUp {
                uniqueid: uniqueid(),
            }),
        },
        _ => None,
    };
    fact.into_iter().chain(extra).collect()
}

/// The handle of a running follower.
#[derive(Debug)]
pub struct LiveFollower {
    live: Arc<SharedLive>,
    resyncs: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl LiveFollower {
    /// Starts following `client`'s events into `live`, resyncing through `queues`.
    pub fn spawn<Q>(client: AmiClient, queues: Q, live: Arc<SharedLive>) -> Self
    where
        Q: QueueControl + 'static,
    {
        let (resync_tx, resyncs) = watch::channel(0);
        let task = tokio::spawn(run(client, queues, live.clone(), resync_tx));
        Self {
            live,
            resyncs,
            task,
        }
    }

    /// The state it keeps.
    pub fn live(&self) -> Arc<SharedLive> {
        self.live.clone()
    }

    /// A copy of the current state.
    pub fn state(&self) -> LiveState {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Counts completed resyncs (from snapshots); changes after each one.
    pub fn resyncs(&self) -> watch::Receiver<u64> {
        self.resyncs.clone()
    }

    /// Waits until at least `n` resyncs completed, up to `within`; `false` on timeout.
    pub async fn wait_resyncs(&self, n: u64, within: Duration) -> bool {
        let mut rx = self.resyncs.clone();
        tokio::time::timeout(within, rx.wait_for(|v| *v >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stops the task.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for LiveFollower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn resync<Q: QueueControl>(
    queues: &Q,
    live: &SharedLive,
    resyncs: &watch::Sender<u64>,
) -> bool {
    match queues.snapshot().await {
        Ok(snapshot) => {
            live.update(|s| s.reset_from_snapshot(&snapshot));
            resyncs.send_modify(|n| *n += 1);
            info!("live state rebuilt from snapshot");
            true
        }
        Err(e) => {
            warn!(error = %e, "live state snapshot failed");
            false
        }
    }
}

async fn run<Q: QueueControl>(
    client: AmiClient,
    queues: Q,
    live: Arc<SharedLive>,
    resyncs: watch::Sender<u64>,
) {
    let mut events = client.subscribe();
    let mut state = client.connection_events();
    let mut synced_generation = None;
    let mut need_resync = true;
    loop {
        // Not behind a backlog (see the module doc).
        if need_resync && events.is_empty() {
            let current = *state.borrow_and_update();
            if let ConnectionState::Connected { generation } = current {
                if resync(&queues, &live, &resyncs).await {
                    synced_generation = Some(generation);
                    need_resync = false;
                }
            }
        }
        let retry = tokio::time::sleep(Duration::from_secs(1));
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let facts = facts_from_event(&event, UnixTime::now());
                    if !facts.is_empty() {
                        live.update(|s| {
                            for fact in facts {
                                debug!(?fact, "live fact");
                                s.apply(fact);
                            }
                        });
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    warn!(missed = n, "live follower lagged; resyncing");
                    need_resync = true;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            changed = state.changed() => {
                if changed.is_err() {
                    break;
                }
                match *state.borrow() {
                    ConnectionState::Connected { generation }
                        if Some(generation) != synced_generation => need_resync = true,
                    ConnectionState::Closed => break,
                    _ => {}
                }
            }
            _ = retry, if need_resync => {}
        }
    }
    debug!("live follower ended");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::live::DeviceStatus;

    fn ev(name: &str, fields: &[(&str, &str)]) -> AmiMessage {
        let mut m = AmiMessage::new().with("Event", name);
        for (k, v) in fields {
            m.push(*k, *v);
        }
        m
    }

    #[test]
    fn dial_and_did_events_map_to_facts() {
        let now = UnixTime(500);
        let dialing = |d| LiveFact::ChannelDialing {
            endpoint: "1004".into(),
            uniqueid: UniqueId::new("u1"),
            dialing: d,
        };
        let ch = [("Channel", "PJSIP/1004-00000001"), ("Uniqueid", "u1")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut f = ch.to_vec();
            f.extend_from_slice(extra);
            f
        };
        let cases: Vec<(AmiMessage, Vec<LiveFact>)> = vec![
            (
                ev("Newstate", &with(&[("ChannelState", "4")])),
                vec![dialing(true)],
            ),
            (
                ev("Newstate", &with(&[("ChannelState", "6")])),
                vec![
                    dialing(false),
                    LiveFact::ChannelUp {
                        endpoint: "1004".into(),
                        uniqueid: UniqueId::new("u1"),
                    },
                ],
            ),
            (ev("Newstate", &with(&[("ChannelState", "5")])), vec![]),
            (
                ev("DialBegin", &with(&[("DestChannel", "PJSIP/carrier-2")])),
                vec![dialing(true)],
            ),
            (
                ev("DialEnd", &with(&[("DialStatus", "ANSWER")])),
                vec![dialing(false)],
            ),
            // Asterisk's own dial of an originated channel has no calling channel.
            (ev("DialBegin", &[("DestChannel", "PJSIP/1004-3")]), vec![]),
            (
                ev(
                    "AgentConnect",
                    &[
                        ("Queue", "q_soporte"),
                        ("Interface", "PJSIP/1005"),
                        ("Channel", "PJSIP/carrier-7"),
                        ("Uniqueid", "c1"),
                        ("Exten", "26002000"),
                        ("HoldTime", "7"),
                    ],
                ),
                vec![
                    LiveFact::AgentConnected {
                        queue: QueueName::new("q_soporte").unwrap(),
                        interface: "PJSIP/1005".into(),
                        caller: UniqueId::new("c1"),
                        hold_secs: 7,
                        at: now,
                    },
                    LiveFact::CallerDid {
                        uniqueid: UniqueId::new("c1"),
                        did: "26002000".into(),
                    },
                ],
            ),
        ];
        for (e, want) in cases {
            assert_eq!(facts_from_event(&e, now), want, "{e:?}");
        }
        let newchannel = ev(
            "Newchannel",
            &with(&[("ChannelState", "4"), ("Exten", "5553"), ("Linkedid", "l1")]),
        );
        match facts_from_event(&newchannel, now).as_slice() {
            [LiveFact::ChannelCreated { call, .. }] => {
                assert!(call.dialing && !call.up);
                assert_eq!(call.linkedid, Some(UniqueId::new("l1")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_map_to_facts() {
        let now = UnixTime(500);
        let q = || QueueName::new("q_soporte").unwrap();
        let cases: Vec<(AmiMessage, Vec<LiveFact>)> = vec![
            (
                ev("Newexten", &[("Channel", "PJSIP/1005-00000001")]),
                vec![],
            ),
            (
                ev(
                    "QueueMemberPause",
                    &[
                        ("Queue", "q_soporte"),
                        ("Interface", "PJSIP/1006"),
                        ("Paused", "1"),
                        ("PausedReason", "cli"),
                        ("LastPause", "490"),
                    ],
                ),
                vec![LiveFact::MemberPaused {
                    queue: q(),
                    interface: "PJSIP/1006".into(),
                    reason: Some("cli".into()),
                    at: UnixTime(490),
                }],
            ),
            (
                ev(
                    "QueueMemberPause",
                    &[
                        ("Queue", "q_soporte"),
                        ("Interface", "PJSIP/1006"),
                        ("Paused", "0"),
                    ],
                ),
                vec![LiveFact::MemberUnpaused {
                    queue: q(),
                    interface: "PJSIP/1006".into(),
                }],
            ),
            (
                ev(
                    "QueueMemberStatus",
                    &[
                        ("Queue", "q_soporte"),
                        ("Interface", "PJSIP/1006"),
                        ("Status", "6"),
                    ],
                ),
                vec![LiveFact::MemberStatus {
                    queue: q(),
                    interface: "PJSIP/1006".into(),
                    status: DeviceStatus::Ringing,
                    at: now,
                }],
            ),
            (
                // As Asterisk 22 sends it after a call: its figures too.
                ev(
                    "QueueMemberStatus",
                    &[
                        ("Queue", "q_soporte"),
                        ("Interface", "PJSIP/1006"),
                        ("Status", "1"),
                        ("Penalty", "2"),
                        ("CallsTaken", "4"),
                        ("LastCall", "1700000400"),
                    ],
                ),
                vec![
                    LiveFact::MemberStatus {
                        queue: q(),
                        interface: "PJSIP/1006".into(),
                        status: DeviceStatus::NotInUse,
                        at: now,
                    },
                    LiveFact::MemberFigures {
                        queue: q(),
                        interface: "PJSIP/1006".into(),
                        penalty: Some(2),
                        calls_taken: Some(4),
                        last_call: Some(Some(UnixTime(1_700_000_400))),
                    },
                ],
            ),
            (
                ev(
                    "QueueMemberPenalty",
                    &[
                        ("Queue", "q_soporte"),
                        ("Interface", "PJSIP/1006"),
                        ("Penalty", "5"),
                    ],
                ),
                vec![LiveFact::MemberFigures {
                    queue: q(),
                    interface: "PJSIP/1006".into(),
                    penalty: Some(5),
                    calls_taken: None,
                    last_call: None,
                }],
            ),
            (
                ev(
                    "AgentComplete",
                    &[
                        ("Queue", "q_soporte"),
                        ("Interface", "PJSIP/1006"),
                        ("Uniqueid", "c1"),
                        ("HoldTime", "4"),
                    ],
                ),
                vec![LiveFact::AgentCompleted {
                    queue: q(),
                    interface: "PJSIP/1006".into(),
                    caller: UniqueId::new("c1"),
                    hold_secs: 4,
                    at: now,
                }],
            ),
            (
                ev(
                    "DeviceStateChange",
                    &[("Device", "PJSIP/1006"), ("State", "RINGING")],
                ),
                vec![LiveFact::DeviceState {
                    endpoint: "1006".into(),
                    status: DeviceStatus::Ringing,
                }],
            ),
            (
                ev(
                    "DeviceStateChange",
                    &[("Device", "Queue:q_soporte_avail"), ("State", "INUSE")],
                ),
                vec![],
            ),
            (
                ev(
                    "ContactStatus",
                    &[
                        ("URI", "sip:1006@127.0.1.6:5060"),
                        ("ContactStatus", "Reachable"),
                        ("AOR", "1006"),
                        ("EndpointName", "1006"),
                    ],
                ),
                vec![LiveFact::ContactStatus {
                    endpoint: "1006".into(),
                    status: "Reachable".into(),
                    ip: Some("127.0.1.6".into()),
                }],
            ),
            (
                ev(
                    "Hangup",
                    &[("Channel", "PJSIP/1006-0000000b"), ("Uniqueid", "u7")],
                ),
                vec![LiveFact::ChannelHungUp {
                    endpoint: "1006".into(),
                    uniqueid: UniqueId::new("u7"),
                }],
            ),
            (ev("Hangup", &[("Channel", "Local/x@y-00000001;1")]), vec![]),
            (
                ev(
                    "Hangup",
                    &[("Channel", "Local/x@y-00000001;2"), ("Uniqueid", "u9")],
                ),
                vec![LiveFact::OtherChannelHungUp {
                    uniqueid: UniqueId::new("u9"),
                }],
            ),
            (
                ev(
                    "NewConnectedLine",
                    &[
                        ("Channel", "PJSIP/1006-00000078"),
                        ("Uniqueid", "u8"),
                        ("ConnectedLineNum", "5551004"),
                    ],
                ),
                vec![LiveFact::ChannelPeer {
                    endpoint: "1006".into(),
                    uniqueid: UniqueId::new("u8"),
                    peer: "5551004".into(),
                }],
            ),
            (
                ev(
                    "NewConnectedLine",
                    &[
                        ("Channel", "PJSIP/1006-00000078"),
                        ("Uniqueid", "u8"),
                        ("ConnectedLineNum", "<unknown>"),
                    ],
                ),
                vec![],
            ),
        ];
        for (i, (event, facts)) in cases.into_iter().enumerate() {
            assert_eq!(facts_from_event(&event, now), facts, "case {i}");
        }
    }
}
