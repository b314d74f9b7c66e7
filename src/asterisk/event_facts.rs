//! The one mapper from a typed [`PbxEvent`] to every fact the engine draws from it ([`facts`]):
//! the device state it reports (kept by the [`EventHub`](super::events::EventHub)), the live
//! facts ([`LiveFact`], folded into the live state by the live follower), the facts about
//! originate jobs (`(OriginateId, PbxFact)`, for the originate service) and the hangup cause
//! (recorded for getrecords). Pure: tested with data.
//!
//! Originate facts come from the uniqueids the engine assigns to a job's channels (see
//! [`call_control`](super::call_control) for the scheme and the event table):
//! `OriginateResponse` events are matched here by uniqueid only; the originate follower matches
//! the others by `ActionID`.

use crate::core::hangup_causes::HangupCause;
use crate::core::live::{CallLive, LiveFact, WaitingCaller};
use crate::core::originate::{ChannelRole, Failure, OriginateId, PbxFact};
use crate::core::{UniqueId, UnixTime};

use super::events::{ChannelRef, ChannelState, MemberRef, OriginateResponse, PbxEvent};
use super::naming;

/// Everything the engine draws from one event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// The device state of a PJSIP endpoint ([`LiveFact::DeviceState`]).
    pub device: Option<LiveFact>,
    /// Facts for the live state (device states aside).
    pub live: Vec<LiveFact>,
    /// Facts about originate jobs.
    pub originate: Vec<(OriginateId, PbxFact)>,
    /// The channel's hangup cause.
    pub cause: Option<HangupCause>,
}

/// Every fact `event` gives; `at` is when it was received.
pub fn facts(event: &PbxEvent, at: UnixTime) -> Facts {
    Facts {
        device: device_fact(event),
        live: live_facts(event, at),
        originate: originate_facts(event),
        cause: hangup_cause(event, at),
    }
}

/// The device state a `DeviceStateChange` of a PJSIP device reports.
pub fn device_fact(event: &PbxEvent) -> Option<LiveFact> {
    match event {
        PbxEvent::DeviceStateChange { device, state } => {
            naming::endpoint_of(device).map(|endpoint| LiveFact::DeviceState {
                endpoint: endpoint.to_owned(),
                status: *state,
            })
        }
        _ => None,
    }
}

/// The cause a `Hangup` reports, if usable.
pub fn hangup_cause(event: &PbxEvent, at: UnixTime) -> Option<HangupCause> {
    match event {
        PbxEvent::Hangup {
            channel,
            cause: Some(cause),
        } => HangupCause::new(channel.uniqueid.as_str(), *cause, at),
        _ => None,
    }
}

/// The DID a queue caller came in on: the caller channel's extension in `to-queue`.
fn caller_did(uniqueid: &UniqueId, exten: &str) -> Option<LiveFact> {
    (!exten.is_empty() && exten.bytes().all(|b| b.is_ascii_digit())).then(|| LiveFact::CallerDid {
        uniqueid: uniqueid.clone(),
        did: exten.to_owned(),
    })
}

/// A channel of a PJSIP endpoint starts or stops placing a call.
fn dialing(c: &ChannelRef, dialing: bool) -> Option<LiveFact> {
    naming::endpoint_of(c.channel.as_str()).map(|endpoint| LiveFact::ChannelDialing {
        endpoint: endpoint.to_owned(),
        uniqueid: c.uniqueid.clone(),
        dialing,
    })
}

/// The live facts of an event (device states aside: [`device_fact`]).
pub fn live_facts(event: &PbxEvent, now: UnixTime) -> Vec<LiveFact> {
    // A fact about a queue member, when the queue name is valid.
    let on = |m: &MemberRef,
              make: &dyn Fn(crate::core::directory::QueueName, String) -> LiveFact| {
        m.queue.clone().map(|q| make(q, m.interface.clone()))
    };
    let mut extra = None;
    let fact = match event {
        PbxEvent::QueueMemberAdded { queue, member } => queue
            .clone()
            .zip(member.clone())
            .map(|(queue, member)| LiveFact::MemberAdded { queue, member }),
        PbxEvent::QueueMemberRemoved(m) => on(m, &|queue, interface| LiveFact::MemberRemoved {
            queue,
            interface,
        }),
        PbxEvent::QueueMemberPause {
            member,
            paused,
            reason,
            last_pause,
        } => on(member, &|queue, interface| {
            if *paused {
                LiveFact::MemberPaused {
                    queue,
                    interface,
                    reason: reason.clone(),
                    at: last_pause.unwrap_or(now),
                }
            } else {
                LiveFact::MemberUnpaused { queue, interface }
            }
        }),
        PbxEvent::QueueMemberStatus {
            member,
            status,
            penalty,
            calls_taken,
            last_call,
        } => on(member, &|queue, interface| LiveFact::MemberStatus {
            queue,
            interface,
            status: *status,
            at: now,
        })
        .inspect(|_| {
            // The figures it reports beside the status (each only when present).
            if penalty.is_some() || calls_taken.is_some() || last_call.is_some() {
                extra = on(member, &|queue, interface| LiveFact::MemberFigures {
                    queue,
                    interface,
                    penalty: *penalty,
                    calls_taken: *calls_taken,
                    last_call: *last_call,
                });
            }
        }),
        PbxEvent::QueueMemberPenalty { member, penalty } => {
            on(member, &|queue, interface| LiveFact::MemberFigures {
                queue,
                interface,
                penalty: *penalty,
                calls_taken: None,
                last_call: None,
            })
        }
        PbxEvent::QueueCallerJoin {
            queue,
            caller,
            caller_id,
            position,
            exten,
        } => queue.clone().map(|queue| {
            extra = caller_did(&caller.uniqueid, exten);
            LiveFact::CallerJoined {
                queue,
                caller: WaitingCaller {
                    uniqueid: caller.uniqueid.clone(),
                    channel: caller.channel.clone(),
                    caller_id: caller_id.clone(),
                    position: *position,
                    joined_at: now,
                },
            }
        }),
        PbxEvent::QueueCallerLeave { queue, uniqueid } => {
            queue.clone().map(|queue| LiveFact::CallerLeft {
                queue,
                uniqueid: uniqueid.clone(),
            })
        }
        PbxEvent::QueueCallerAbandon { queue, uniqueid } => {
            queue.clone().map(|queue| LiveFact::CallerAbandoned {
                queue,
                uniqueid: uniqueid.clone(),
            })
        }
        PbxEvent::AgentCalled { member, caller } => {
            on(member, &|queue, interface| LiveFact::AgentCalled {
                queue,
                interface,
                caller: caller.clone(),
                at: now,
            })
        }
        PbxEvent::AgentRingNoAnswer { member, ring_ms } => {
            on(member, &|queue, interface| LiveFact::AgentRingNoAnswer {
                queue,
                interface,
                ring_ms: *ring_ms,
                at: now,
            })
        }
        PbxEvent::AgentConnect {
            member,
            caller,
            hold_secs,
            exten,
            ..
        } => on(member, &|queue, interface| LiveFact::AgentConnected {
            queue,
            interface,
            caller: caller.clone(),
            hold_secs: *hold_secs,
            at: now,
        })
        .inspect(|_| extra = caller_did(caller, exten)),
        PbxEvent::AgentComplete {
            member,
            caller,
            hold_secs,
        } => on(member, &|queue, interface| LiveFact::AgentCompleted {
            queue,
            interface,
            caller: caller.clone(),
            hold_secs: *hold_secs,
            at: now,
        }),
        PbxEvent::ContactStatus {
            endpoint,
            status,
            ip,
        } => (!endpoint.is_empty()).then(|| LiveFact::ContactStatus {
            endpoint: endpoint.clone(),
            status: status.clone(),
            ip: ip.clone(),
        }),
        PbxEvent::Newchannel {
            channel,
            state,
            peer,
            linkedid,
        } => {
            naming::endpoint_of(channel.channel.as_str()).map(|endpoint| LiveFact::ChannelCreated {
                endpoint: endpoint.to_owned(),
                uniqueid: channel.uniqueid.clone(),
                call: CallLive {
                    channel: channel.channel.clone(),
                    peer: peer.clone(),
                    since: now,
                    dialing: *state == ChannelState::Ring,
                    linkedid: linkedid.clone(),
                    up: *state == ChannelState::Up,
                },
            })
        }
        PbxEvent::Newstate { channel, state } => match state {
            ChannelState::Ring => dialing(channel, true),
            ChannelState::Up => {
                extra = naming::endpoint_of(channel.channel.as_str()).map(|endpoint| {
                    LiveFact::ChannelUp {
                        endpoint: endpoint.to_owned(),
                        uniqueid: channel.uniqueid.clone(),
                    }
                });
                dialing(channel, false)
            }
            _ => None,
        },
        // The calling side of a Dial (absent when Asterisk originates the dialed channel).
        PbxEvent::DialBegin { caller } => dialing(caller, true),
        PbxEvent::DialEnd { caller, .. } => dialing(caller, false),
        PbxEvent::NewConnectedLine { channel, connected } => {
            naming::endpoint_of(channel.channel.as_str())
                .filter(|_| !connected.is_empty() && connected != "<unknown>")
                .map(|endpoint| LiveFact::ChannelPeer {
                    endpoint: endpoint.to_owned(),
                    uniqueid: channel.uniqueid.clone(),
                    peer: connected.clone(),
                })
        }
        PbxEvent::Hangup { channel, .. } => match naming::endpoint_of(channel.channel.as_str()) {
            Some(endpoint) => Some(LiveFact::ChannelHungUp {
                endpoint: endpoint.to_owned(),
                uniqueid: channel.uniqueid.clone(),
            }),
            None => (!channel.uniqueid.as_str().is_empty()).then(|| LiveFact::OtherChannelHungUp {
                uniqueid: channel.uniqueid.clone(),
            }),
        },
        PbxEvent::DeviceStateChange { .. }
        | PbxEvent::DeviceStateListComplete { .. }
        | PbxEvent::OriginateResponse(_)
        | PbxEvent::Cdr => None,
    };
    fact.into_iter().chain(extra).collect()
}

fn dial_failure(status: &str) -> Option<Failure> {
    Some(match status {
        "BUSY" => Failure::Busy,
        "NOANSWER" | "CANCEL" => Failure::NoAnswer,
        "CONGESTION" => Failure::Congestion,
        "CHANUNAVAIL" | "DONTCALL" | "TORTURE" | "INVALIDARGS" => Failure::Unavailable,
        _ => return None,
    })
}

fn reason_failure(reason: &str) -> Failure {
    match reason {
        "1" | "3" => Failure::NoAnswer,
        "5" => Failure::Busy,
        "8" => Failure::Congestion,
        _ => Failure::Unavailable,
    }
}

/// The job and role of one of the engine's channel uniqueids.
fn own(uniqueid: &UniqueId) -> Option<(OriginateId, ChannelRole)> {
    OriginateId::of_channel_uniqueid(uniqueid.as_str())
}

/// Whether an `OriginateResponse` carries the uniqueid of one of the engine's job channels
/// (else the originate follower matches it by `ActionID`).
pub fn names_a_job(response: &OriginateResponse) -> bool {
    own(&response.uniqueid).is_some()
}

/// The fact an `OriginateResponse` gives for the job's originated channel of `role`.
pub fn originate_response_fact(response: &OriginateResponse, role: ChannelRole) -> Option<PbxFact> {
    let success = response.success?;
    let failure = || reason_failure(&response.reason);
    match (role, success) {
        (ChannelRole::Source, true) => Some(PbxFact::SourceAnswered),
        (ChannelRole::Source, false) => Some(PbxFact::SourceFailed(failure())),
        (ChannelRole::DirectOriginated, true) => Some(PbxFact::DestinationAnswered),
        (ChannelRole::DirectOriginated, false) => Some(PbxFact::DestinationFailed(failure())),
        (ChannelRole::DirectDialing | ChannelRole::SourceDialing, _) => None,
    }
}

/// The facts an event gives about originate jobs.
pub fn originate_facts(event: &PbxEvent) -> Vec<(OriginateId, PbxFact)> {
    let mut out = Vec::new();
    match event {
        PbxEvent::Newchannel { channel, .. } => {
            if let Some((id, _)) = own(&channel.uniqueid) {
                out.push((id, PbxFact::ChannelCreated(channel.channel.clone())));
            }
        }
        PbxEvent::Newstate { channel, state } => {
            if let Some((id, role)) = own(&channel.uniqueid) {
                let fact = match (role, state) {
                    (ChannelRole::Source, ChannelState::Ringing) => Some(PbxFact::SourceRinging),
                    (ChannelRole::Source, ChannelState::Up) => Some(PbxFact::SourceAnswered),
                    (ChannelRole::DirectOriginated, ChannelState::Ringing) => {
                        Some(PbxFact::DestinationRinging)
                    }
                    (ChannelRole::DirectOriginated, ChannelState::Up) => {
                        Some(PbxFact::DestinationAnswered)
                    }
                    _ => None,
                };
                out.extend(fact.map(|f| (id, f)));
            }
        }
        PbxEvent::DialBegin { caller } => match own(&caller.uniqueid) {
            Some((id, ChannelRole::Source | ChannelRole::DirectDialing)) => {
                out.push((id, PbxFact::DestinationRinging));
            }
            // An outside source: its number is being dialed.
            Some((id, ChannelRole::SourceDialing)) => out.push((id, PbxFact::SourceRinging)),
            _ => {}
        },
        PbxEvent::DialEnd {
            caller,
            dest_uniqueid,
            status,
        } => {
            let status = status.as_str();
            match own(&caller.uniqueid) {
                Some((id, ChannelRole::SourceDialing)) => {
                    if status == "ANSWER" {
                        out.push((id, PbxFact::SourceAnswered));
                    } else if let Some(f) = dial_failure(status) {
                        out.push((id, PbxFact::SourceFailed(f)));
                    }
                }
                Some((id, ChannelRole::Source | ChannelRole::DirectDialing)) => {
                    if status == "ANSWER" {
                        out.push((id, PbxFact::DestinationAnswered));
                    } else if let Some(f) = dial_failure(status) {
                        out.push((id, PbxFact::DialEnded(f)));
                    }
                }
                _ => {
                    if let Some((id, role)) = own(dest_uniqueid) {
                        // The originate's own dial of its channel (no caller).
                        let fact = match (role, status, dial_failure(status)) {
                            (ChannelRole::Source, "ANSWER", _) => Some(PbxFact::SourceAnswered),
                            (ChannelRole::Source, _, Some(f)) => Some(PbxFact::SourceFailed(f)),
                            (ChannelRole::DirectOriginated, "ANSWER", _) => {
                                Some(PbxFact::DestinationAnswered)
                            }
                            (ChannelRole::DirectOriginated, _, Some(f)) => {
                                Some(PbxFact::DestinationFailed(f))
                            }
                            _ => None,
                        };
                        out.extend(fact.map(|f| (id, f)));
                    }
                }
            }
        }
        PbxEvent::Hangup { channel, cause } => {
            if let Some((id, ChannelRole::Source | ChannelRole::DirectOriginated)) =
                own(&channel.uniqueid)
            {
                out.push((
                    id,
                    PbxFact::HungUp {
                        cause: cause.unwrap_or(0),
                    },
                ));
            }
        }
        PbxEvent::OriginateResponse(response) => {
            if let Some((id, role)) = own(&response.uniqueid) {
                out.extend(originate_response_fact(response, role).map(|f| (id, f)));
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asterisk::ami::AmiMessage;
    use crate::core::directory::QueueName;
    use crate::core::live::DeviceStatus;
    use crate::core::ChannelName;

    /// A message without its own `Event` line first (fields given in order).
    fn msg(fields: &[(&str, &str)]) -> AmiMessage {
        let mut m = AmiMessage::new();
        for (k, v) in fields {
            m.push(*k, *v);
        }
        m
    }

    /// The live facts of a message, device states included (as the live state receives them).
    fn facts_from_event(e: &AmiMessage, now: UnixTime) -> Vec<LiveFact> {
        match PbxEvent::parse(e, now) {
            Some(event) => {
                let f = facts(&event, now);
                f.device.into_iter().chain(f.live).collect()
            }
            None => vec![],
        }
    }

    fn map_event(e: &AmiMessage) -> Vec<(OriginateId, PbxFact)> {
        PbxEvent::parse(e, UnixTime(0))
            .map(|event| facts(&event, UnixTime(0)).originate)
            .unwrap_or_default()
    }

    fn cause_of(e: &AmiMessage, now: UnixTime) -> Option<HangupCause> {
        PbxEvent::parse(e, now).and_then(|event| facts(&event, now).cause)
    }

    #[test]
    fn device_states_are_their_own_fact() {
        let e = AmiMessage::event(
            "DeviceStateChange",
            &[("Device", "PJSIP/1006"), ("State", "INUSE")],
        );
        let f = facts(&PbxEvent::parse(&e, UnixTime(1)).unwrap(), UnixTime(1));
        assert_eq!(
            f.device,
            Some(LiveFact::DeviceState {
                endpoint: "1006".into(),
                status: DeviceStatus::InUse,
            })
        );
        assert!(f.live.is_empty() && f.originate.is_empty() && f.cause.is_none());
    }

    // ------------------------------------------------------------------ live facts

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
                AmiMessage::event("Newstate", &with(&[("ChannelState", "4")])),
                vec![dialing(true)],
            ),
            (
                AmiMessage::event("Newstate", &with(&[("ChannelState", "6")])),
                vec![
                    dialing(false),
                    LiveFact::ChannelUp {
                        endpoint: "1004".into(),
                        uniqueid: UniqueId::new("u1"),
                    },
                ],
            ),
            (
                AmiMessage::event("Newstate", &with(&[("ChannelState", "5")])),
                vec![],
            ),
            (
                AmiMessage::event("DialBegin", &with(&[("DestChannel", "PJSIP/carrier-2")])),
                vec![dialing(true)],
            ),
            (
                AmiMessage::event("DialEnd", &with(&[("DialStatus", "ANSWER")])),
                vec![dialing(false)],
            ),
            // Asterisk's own dial of an originated channel has no calling channel.
            (
                AmiMessage::event("DialBegin", &[("DestChannel", "PJSIP/1004-3")]),
                vec![],
            ),
            (
                AmiMessage::event(
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
        let newchannel = AmiMessage::event(
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
                AmiMessage::event("Newexten", &[("Channel", "PJSIP/1005-00000001")]),
                vec![],
            ),
            (
                AmiMessage::event(
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
                AmiMessage::event(
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
                AmiMessage::event(
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
                AmiMessage::event(
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
                AmiMessage::event(
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
                AmiMessage::event(
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
                AmiMessage::event(
                    "DeviceStateChange",
                    &[("Device", "PJSIP/1006"), ("State", "RINGING")],
                ),
                vec![LiveFact::DeviceState {
                    endpoint: "1006".into(),
                    status: DeviceStatus::Ringing,
                }],
            ),
            (
                AmiMessage::event(
                    "DeviceStateChange",
                    &[("Device", "Queue:q_soporte_avail"), ("State", "INUSE")],
                ),
                vec![],
            ),
            (
                AmiMessage::event(
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
                AmiMessage::event(
                    "Hangup",
                    &[("Channel", "PJSIP/1006-0000000b"), ("Uniqueid", "u7")],
                ),
                vec![LiveFact::ChannelHungUp {
                    endpoint: "1006".into(),
                    uniqueid: UniqueId::new("u7"),
                }],
            ),
            (
                AmiMessage::event("Hangup", &[("Channel", "Local/x@y-00000001;1")]),
                vec![],
            ),
            (
                AmiMessage::event(
                    "Hangup",
                    &[("Channel", "Local/x@y-00000001;2"), ("Uniqueid", "u9")],
                ),
                vec![LiveFact::OtherChannelHungUp {
                    uniqueid: UniqueId::new("u9"),
                }],
            ),
            (
                AmiMessage::event(
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
                AmiMessage::event(
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

    // ------------------------------------------------------------------ originate facts

    fn id() -> OriginateId {
        OriginateId::parse("18f-abc").unwrap()
    }

    #[test]
    fn originate_events_map_to_facts() {
        let src = "18f-abc-src";
        let cases: Vec<(AmiMessage, Vec<PbxFact>)> = vec![
            (
                msg(&[
                    ("Event", "Newchannel"),
                    ("Channel", "PJSIP/1001-00000001"),
                    ("Uniqueid", src),
                ]),
                vec![PbxFact::ChannelCreated(ChannelName::new(
                    "PJSIP/1001-00000001",
                ))],
            ),
            (
                msg(&[
                    ("Event", "Newstate"),
                    ("ChannelState", "5"),
                    ("Uniqueid", src),
                ]),
                vec![PbxFact::SourceRinging],
            ),
            (
                msg(&[
                    ("Event", "Newstate"),
                    ("ChannelState", "6"),
                    ("Uniqueid", src),
                ]),
                vec![PbxFact::SourceAnswered],
            ),
            (
                msg(&[
                    ("Event", "DialBegin"),
                    ("Uniqueid", src),
                    ("DestUniqueid", "17.5"),
                ]),
                vec![PbxFact::DestinationRinging],
            ),
            (
                msg(&[
                    ("Event", "DialEnd"),
                    ("Uniqueid", src),
                    ("DialStatus", "ANSWER"),
                ]),
                vec![PbxFact::DestinationAnswered],
            ),
            (
                msg(&[
                    ("Event", "DialEnd"),
                    ("Uniqueid", src),
                    ("DialStatus", "BUSY"),
                ]),
                vec![PbxFact::DialEnded(Failure::Busy)],
            ),
            (
                msg(&[
                    ("Event", "DialEnd"),
                    ("DestUniqueid", src),
                    ("DialStatus", "BUSY"),
                ]),
                vec![PbxFact::SourceFailed(Failure::Busy)],
            ),
            (
                msg(&[("Event", "Hangup"), ("Uniqueid", src), ("Cause", "17")]),
                vec![PbxFact::HungUp { cause: 17 }],
            ),
            (
                msg(&[
                    ("Event", "Hangup"),
                    ("Uniqueid", "18f-abc-dial"),
                    ("Cause", "17"),
                ]),
                vec![],
            ),
            (
                msg(&[
                    ("Event", "OriginateResponse"),
                    ("Response", "Failure"),
                    ("Reason", "5"),
                    ("Uniqueid", src),
                ]),
                vec![PbxFact::SourceFailed(Failure::Busy)],
            ),
            (
                msg(&[
                    ("Event", "OriginateResponse"),
                    ("Response", "Failure"),
                    ("Reason", "3"),
                    ("Uniqueid", "18f-abc-dst"),
                ]),
                vec![PbxFact::DestinationFailed(Failure::NoAnswer)],
            ),
            (
                msg(&[
                    ("Event", "OriginateResponse"),
                    ("Response", "Success"),
                    ("Reason", "4"),
                    ("Uniqueid", src),
                ]),
                vec![PbxFact::SourceAnswered],
            ),
            (
                msg(&[
                    ("Event", "DialEnd"),
                    ("Uniqueid", "18f-abc-dial"),
                    ("DialStatus", "CONGESTION"),
                ]),
                vec![PbxFact::DialEnded(Failure::Congestion)],
            ),
            (
                msg(&[
                    ("Event", "Hangup"),
                    ("Uniqueid", "1700000000.1"),
                    ("Cause", "16"),
                ]),
                vec![],
            ),
        ];
        for (event, want) in cases {
            let got: Vec<PbxFact> = map_event(&event)
                .into_iter()
                .map(|(j, f)| {
                    assert_eq!(j, id());
                    f
                })
                .collect();
            assert_eq!(got, want, "{event:?}");
        }
    }

    #[test]
    fn an_outside_source_s_events_map_to_its_facts() {
        // Its events: the number's dial is the source's; the `;1` half dials the destination.
        let srcdial = "18f-abc-srcdial";
        let src = "18f-abc-src";
        let cases = [
            (
                msg(&[("Event", "DialBegin"), ("Uniqueid", srcdial)]),
                vec![PbxFact::SourceRinging],
            ),
            (
                msg(&[
                    ("Event", "DialEnd"),
                    ("Uniqueid", srcdial),
                    ("DialStatus", "BUSY"),
                ]),
                vec![PbxFact::SourceFailed(Failure::Busy)],
            ),
            (
                msg(&[
                    ("Event", "DialEnd"),
                    ("Uniqueid", srcdial),
                    ("DialStatus", "ANSWER"),
                ]),
                vec![PbxFact::SourceAnswered],
            ),
            (
                msg(&[("Event", "DialBegin"), ("Uniqueid", src)]),
                vec![PbxFact::DestinationRinging],
            ),
            (
                msg(&[
                    ("Event", "DialEnd"),
                    ("Uniqueid", src),
                    ("DialStatus", "ANSWER"),
                ]),
                vec![PbxFact::DestinationAnswered],
            ),
            (
                msg(&[("Event", "Hangup"), ("Uniqueid", srcdial), ("Cause", "16")]),
                vec![],
            ),
        ];
        for (event, want) in cases {
            let got: Vec<PbxFact> = map_event(&event).into_iter().map(|(_, f)| f).collect();
            assert_eq!(got, want, "{event:?}");
        }
    }

    #[test]
    fn an_originate_response_without_a_job_uniqueid_is_left_to_its_action_id() {
        let e = msg(&[
            ("Event", "OriginateResponse"),
            ("ActionID", "c-9"),
            ("Response", "Failure"),
            ("Reason", "5"),
            ("Uniqueid", "<null>"),
        ]);
        let Some(PbxEvent::OriginateResponse(r)) = PbxEvent::parse(&e, UnixTime(0)) else {
            panic!("an OriginateResponse");
        };
        assert!(!names_a_job(&r));
        assert!(map_event(&e).is_empty());
        assert_eq!(
            originate_response_fact(&r, ChannelRole::Source),
            Some(PbxFact::SourceFailed(Failure::Busy))
        );
    }

    // ------------------------------------------------------------------ hangup causes

    #[test]
    fn hangup_events_give_their_cause() {
        let e = msg(&[
            ("Event", "Hangup"),
            ("Channel", "PJSIP/carrier-00000003"),
            ("Uniqueid", "1700000000.7"),
            ("Cause", "17"),
            ("Cause-txt", "User busy"),
        ]);
        let c = cause_of(&e, UnixTime(9)).unwrap();
        assert_eq!((c.uniqueid.as_str(), c.cause), ("1700000000.7", 17));
        let other = msg(&[("Event", "Newchannel"), ("Uniqueid", "1"), ("Cause", "0")]);
        assert_eq!(cause_of(&other, UnixTime(9)), None);
    }
}
