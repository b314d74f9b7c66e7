//! The live panel's calls and agents (statusQueues), from live state built in the test.

use super::*;
use crate::core::ids::{ChannelName, UniqueId};
use crate::core::live::{CallLive, DeviceStatus, LiveFact, QueueMember};

fn queue() -> QueueName {
    QueueName::new("q_ventas").unwrap()
}

/// 2101 on PJSIP/1001, member of q_ventas.
fn state() -> LiveState {
    let mut s = LiveState::new();
    s.apply(LiveFact::MemberAdded {
        queue: queue(),
        member: QueueMember {
            interface: "PJSIP/1001".into(),
            name: "2101".into(),
            state_interface: "PJSIP/1001".into(),
            status: DeviceStatus::NotInUse,
            pause: None,
            calls_taken: 0,
            logged_in_since: Some(UnixTime(100)),
            penalty: 0,
            last_call: None,
        },
    });
    s
}

fn channel(s: &mut LiveState, uniqueid: &str, peer: &str, since: i64) {
    s.apply(LiveFact::ChannelCreated {
        endpoint: "1001".into(),
        uniqueid: UniqueId::new(uniqueid),
        call: CallLive {
            channel: ChannelName::new(format!("PJSIP/1001-{uniqueid}")),
            peer: "s".into(),
            since: UnixTime(since),
            dialing: false,
            linkedid: None,
            up: true,
        },
    });
    s.apply(LiveFact::ChannelPeer {
        endpoint: "1001".into(),
        uniqueid: UniqueId::new(uniqueid),
        peer: peer.into(),
    });
}

fn view(calls: &[wire::PanelCall]) -> Vec<(String, String, String, String, String)> {
    calls
        .iter()
        .map(|c| {
            (
                c.kind.clone(),
                c.callerid.clone(),
                c.connecttime.clone(),
                c.uniqueid.clone(),
                c.agent.clone(),
            )
        })
        .collect()
}

#[test]
fn an_outbound_call_from_the_members_phone_is_out_with_its_number() {
    let mut s = state();
    assert!(member_calls(
        &queue(),
        "2101",
        "PJSIP/1001",
        &s,
        &*crate::test_support::naming()
    )
    .is_empty());
    channel(&mut s, "u1", "5551012", 200);
    assert_eq!(
        view(&member_calls(
            &queue(),
            "2101",
            "PJSIP/1001",
            &s,
            &*crate::test_support::naming()
        )),
        [(
            "out".into(),
            "5551012".into(),
            "200".into(),
            "u1".into(),
            "2101".into()
        )]
    );
    // A call to another extension is not an outbound call.
    let mut s = state();
    channel(&mut s, "u2", "1002", 200);
    assert!(member_calls(
        &queue(),
        "2101",
        "PJSIP/1001",
        &s,
        &*crate::test_support::naming()
    )
    .is_empty());
}

#[test]
fn a_connected_queue_call_keeps_the_callers_number() {
    let mut s = state();
    s.apply(LiveFact::AgentConnected {
        queue: queue(),
        interface: "PJSIP/1001".into(),
        caller: UniqueId::new("c1"),
        hold_secs: 12,
        at: UnixTime(300),
    });
    channel(&mut s, "u3", "099555111", 295);
    assert_eq!(
        view(&member_calls(
            &queue(),
            "2101",
            "PJSIP/1001",
            &s,
            &*crate::test_support::naming()
        )),
        [(
            "in".into(),
            "099555111".into(),
            "300".into(),
            "c1".into(),
            "2101".into()
        )]
    );
    // It entered the queue 12 s before it was connected (the seed's `intime`).
    let calls = member_calls(
        &queue(),
        "2101",
        "PJSIP/1001",
        &s,
        &*crate::test_support::naming(),
    );
    assert_eq!(calls[0].intime, "288");
    // Listed only under its own queue; never also as an outbound call.
    let other = QueueName::new("q_soporte").unwrap();
    assert!(member_calls(
        &other,
        "2101",
        "PJSIP/1001",
        &s,
        &*crate::test_support::naming()
    )
    .is_empty());
    // An outbound call's intime is when it was placed, as the seed's `out` calls show.
    let mut s = state();
    channel(&mut s, "u1", "5551012", 200);
    assert_eq!(
        member_calls(
            &queue(),
            "2101",
            "PJSIP/1001",
            &s,
            &*crate::test_support::naming()
        )[0]
        .intime,
        "200"
    );
}

#[test]
fn the_panels_agent_says_its_last_change_refusal_and_warning() {
    let limits: BTreeMap<String, u64> = [("almuerzo".to_owned(), 60)].into();
    let agent = |s: &LiveState| {
        let v = s.agent_by_interface("PJSIP/1001");
        panel_agent(
            "2101",
            "Ana",
            v.as_ref(),
            s,
            &*crate::test_support::naming(),
            &limits,
        )
    };
    let mut s = state();
    // Logged in at 100: its last change, not 0.
    let a = agent(&s);
    assert_eq!(
        (a.last_change, a.last_congestion, a.warning),
        (100, 0, false)
    );
    // Paused at 400 for lunch: the pause is the last change.
    s.apply(LiveFact::MemberPaused {
        queue: queue(),
        interface: "PJSIP/1001".into(),
        reason: Some("almuerzo".into()),
        at: UnixTime(400),
    });
    let a = agent(&s);
    assert_eq!((a.status.as_str(), a.last_change), ("busyout", 400));
    // Past the reason's 60 s (now is long after 400): a warning.
    assert!(a.warning);
    // A queue call refused at once (rang 0.2 s) at 500: lastcongestion; a long ring is a
    // no-answer, not a refusal.
    let mut s = state();
    s.apply(LiveFact::AgentRingNoAnswer {
        queue: queue(),
        interface: "PJSIP/1001".into(),
        ring_ms: 200,
        at: UnixTime(500),
    });
    s.apply(LiveFact::AgentRingNoAnswer {
        queue: queue(),
        interface: "PJSIP/1001".into(),
        ring_ms: 15_000,
        at: UnixTime(600),
    });
    let a = agent(&s);
    assert_eq!((a.last_congestion, a.warning), (500, false));
    // Its phone unreachable while logged in: a warning.
    s.apply(LiveFact::ContactStatus {
        endpoint: "1001".into(),
        status: "Unreachable".into(),
        ip: None,
    });
    assert!(agent(&s).warning);
}
