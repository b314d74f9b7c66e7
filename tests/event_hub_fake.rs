//! Fast tier: the event hub over the fake AMI. Every message is parsed once, however many
//! consumers read the events (they all receive the same parsed event), and the originate
//! service's "source in use" check and the live state read one device state: the same after a
//! `DeviceStateChange` and after a reload (a reconnect lists the devices again).

mod support;

use std::sync::Arc;
use std::time::Duration;

use centralita::asterisk::ami::action::Getvar;
use centralita::asterisk::ami::{AmiClient, AmiSettings};
use centralita::asterisk::call_control::AmiCallControl;
use centralita::asterisk::events::{EventHub, PbxEvent};
use centralita::asterisk::live_follower::LiveFollower;
use centralita::asterisk::queue_control::AmiQueueControl;
use centralita::core::live::DeviceStatus;
use centralita::core::originate::{CallControl, Extension};
use centralita::core::Secret;
use support::fake_ami::{render, FakeAmi, SECRET, USERNAME};
use support::scripted_pbx::ScriptedPbx;

fn settings(port: u16) -> AmiSettings {
    let mut s = AmiSettings::new("127.0.0.1", port, USERNAME, Secret::new(SECRET));
    s.action_timeout = Duration::from_secs(10);
    s.keepalive = Duration::ZERO;
    s.reconnect_min = Duration::from_millis(20);
    s.reconnect_max = Duration::from_millis(200);
    s
}

/// Polls `check` every 10 ms for up to 5 s.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn each_message_is_parsed_once_whatever_the_number_of_consumers() {
    // Events of three calls (used ones and noise), 4 messages per call.
    const CALLS: usize = 500;
    const CONSUMERS: usize = 3;
    let mut fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(fake.addr.port()))
        .await
        .unwrap();
    // Whatever the fake sends on login has arrived.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // What the client broadcasts from the hub's start on, counted beside it.
    let mut raw = client.subscribe();
    let hub = EventHub::start(&client);
    let mut consumers: Vec<_> = (0..CONSUMERS).map(|_| hub.subscribe()).collect();
    let mut causes = hub.subscribe_causes();

    let mut burst = Vec::new();
    for i in 0..CALLS {
        let uniqueid = format!("1700000000.{i}");
        let channel = format!("PJSIP/1001-{i:08x}");
        burst.extend(render(&[
            ("Event", "Newstate"),
            ("Channel", &channel),
            ("ChannelState", "6"),
            ("Uniqueid", &uniqueid),
        ]));
        burst.extend(render(&[
            ("Event", "VarSet"),
            ("Channel", &channel),
            ("Variable", "X"),
            ("Value", "1"),
            ("Uniqueid", &uniqueid),
        ]));
        burst.extend(render(&[
            ("Event", "Newexten"),
            ("Channel", &channel),
            ("Application", "NoOp"),
            ("Uniqueid", &uniqueid),
        ]));
        burst.extend(render(&[
            ("Event", "Hangup"),
            ("Channel", &channel),
            ("Uniqueid", &uniqueid),
            ("Cause", "16"),
        ]));
    }
    let (answered, ()) = tokio::join!(client.send(&Getvar::new(None, "BURST").unwrap()), async {
        let a = fake.next_action().await;
        a.out.raw(burst);
        a.respond("Success", &[("Value", "after")]);
    });
    answered.unwrap();

    // Every consumer reads the used events: the same parsed value, shared.
    let mut first = Vec::new();
    for _ in 0..CALLS * 2 {
        first.push(consumers[0].recv().await.expect("an event"));
    }
    for rx in &mut consumers[1..] {
        for want in &first {
            let got = rx.recv().await.expect("an event");
            assert!(
                Arc::ptr_eq(&got, want),
                "one parse shared by every consumer"
            );
        }
    }
    for want in first.iter().filter(|e| e.facts.cause.is_some()) {
        let got = causes.recv().await.expect("a cause");
        assert!(Arc::ptr_eq(&got, want));
    }
    assert!(matches!(first[0].event, PbxEvent::Newstate { .. }));
    assert_eq!(
        first.iter().filter(|e| e.facts.cause.is_some()).count(),
        CALLS
    );
    for rx in consumers.iter().chain([&causes]) {
        assert!(rx.is_empty(), "noise is dropped by the hub");
    }
    let mut messages = 0u64;
    while raw.try_recv().is_ok() {
        messages += 1;
    }
    assert!(messages >= (CALLS * 4) as u64, "{messages} messages");
    let parsed = hub.messages_parsed();
    eprintln!("{messages} messages, {CONSUMERS} consumers + the cause channel: {parsed} parses");
    assert_eq!(parsed, messages, "one parse per message");
}

#[tokio::test]
async fn the_source_in_use_check_and_the_live_state_read_one_device_state() {
    let pbx = ScriptedPbx::start().await;
    let client = AmiClient::connect(settings(pbx.addr.port())).await.unwrap();
    let hub = EventHub::start(&client);
    let (control, _updates) = AmiCallControl::spawn(&hub, "centralita-originate")
        .await
        .unwrap();
    let follower = LiveFollower::spawn(&hub, AmiQueueControl::new(client.clone()));
    assert!(Arc::ptr_eq(&follower.live(), &hub.live()), "one live state");
    assert!(
        follower.wait_resyncs(1, Duration::from_secs(10)).await,
        "first snapshot"
    );
    let source = Extension::parse("1002").unwrap();
    let live_state = || {
        hub.live()
            .read()
            .unwrap()
            .endpoints
            .get("1002")
            .map(|e| e.device_state)
    };
    assert!(!control.source_in_use(&source).await.unwrap());
    assert_eq!(live_state(), Some(DeviceStatus::NotInUse));

    // A DeviceStateChange: both see the phone in use.
    pbx.set_device_state("PJSIP/1002", "INUSE");
    pbx.raw(render(&[
        ("Event", "DeviceStateChange"),
        ("Device", "PJSIP/1002"),
        ("State", "INUSE"),
    ]));
    eventually("in use", async || {
        control.source_in_use(&source).await.unwrap()
    })
    .await;
    assert_eq!(live_state(), Some(DeviceStatus::InUse));

    // Freed while the engine is away (no event reaches it): the reload after the reconnect
    // says so to both.
    let lists = pbx.named("DeviceStateList").len();
    pbx.set_device_state("PJSIP/1002", "NOT_INUSE");
    pbx.drop_connection();
    eventually("free again", async || {
        !control.source_in_use(&source).await.unwrap()
    })
    .await;
    assert_eq!(live_state(), Some(DeviceStatus::NotInUse));
    assert!(pbx.named("DeviceStateList").len() > lists, "listed again");
    // And it stays so (no stale copy written back).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!control.source_in_use(&source).await.unwrap());
    assert_eq!(live_state(), Some(DeviceStatus::NotInUse));
}
