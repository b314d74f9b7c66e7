//! Fast tier: the live follower against the scripted fake AMI. It builds its state from the
//! snapshot lists (`QueueStatus`, `DeviceStateList`, `CoreShowChannels`) and each endpoint's
//! contact read with `Getvar` of res_pjsip's functions (`PJSIP_ENDPOINT(<name>,aors)`,
//! `PJSIP_AOR(<aor>,contact)`, `PJSIP_CONTACT(<id>,uri|status)`); then the fake drops the
//! connection, changes its snapshot while the engine is away (a member added, another paused, a
//! call up, a phone moved to another address) and accepts the reconnect: the follower's state
//! must equal the new snapshot (connection generation 2), so changes whose events were missed
//! while down are recovered.

mod support;

use std::time::Duration;

use centralita::asterisk::ami::{AmiClient, AmiMessage, AmiSettings, ConnectionState};
use centralita::asterisk::events::EventHub;
use centralita::asterisk::live_follower::LiveFollower;
use centralita::asterisk::queue_control::{build_snapshot, AmiQueueControl, EndpointFacts};
use centralita::core::live::DeviceStatus;
use centralita::core::live::LiveState;
use centralita::core::{Secret, UnixTime};
use support::fake_ami::{FakeAmi, Incoming, Out, SECRET, USERNAME};
use tokio::sync::mpsc;

type Fields = Vec<(&'static str, &'static str)>;

/// What the fake's Asterisk holds: the events of each snapshot list.
#[derive(Clone)]
struct Pbx {
    queue_status: Vec<Fields>,
    devices: Vec<Fields>,
    /// Each endpoint's one contact: `(endpoint, uri, status)`.
    contacts: Vec<(&'static str, &'static str, &'static str)>,
    channels: Vec<Fields>,
}

fn member(iface: &'static str, name: &'static str, status: &'static str) -> Fields {
    vec![
        ("Event", "QueueMember"),
        ("Queue", "q_ventas"),
        ("Name", name),
        ("MemberName", name),
        ("Location", iface),
        ("StateInterface", iface),
        ("Membership", "dynamic"),
        ("CallsTaken", "0"),
        ("LastCall", "0"),
        ("LoginTime", "1700000000"),
        ("Status", status),
        ("Paused", "0"),
        ("PausedReason", ""),
    ]
}

fn device(dev: &'static str, state: &'static str) -> Fields {
    vec![
        ("Event", "DeviceStateChange"),
        ("Device", dev),
        ("State", state),
    ]
}

fn params(completed: &'static str) -> Fields {
    vec![
        ("Event", "QueueParams"),
        ("Queue", "q_ventas"),
        ("Completed", completed),
        ("Abandoned", "1"),
        ("ServiceLevel", "20"),
        ("ServicelevelPerf", "75.0"),
    ]
}

/// Before the outage: 2005 and 2006 logged in, idle; 1007 unreachable.
fn before() -> Pbx {
    Pbx {
        queue_status: vec![
            params("3"),
            member("PJSIP/1005", "2005", "1"),
            member("PJSIP/1006", "2006", "1"),
        ],
        devices: vec![
            device("PJSIP/1005", "NOT_INUSE"),
            device("PJSIP/1006", "NOT_INUSE"),
            device("PJSIP/1007", "UNAVAILABLE"),
        ],
        contacts: vec![
            ("1005", "sip:1005@127.0.1.5:5060", "Reachable"),
            ("1006", "sip:1006@127.0.1.6:5060", "Reachable"),
            ("1007", "sip:1007@127.0.1.7:5060", "Unreachable"),
        ],
        channels: vec![],
    }
}

/// After it: 2007 logged in from 1007, 2006 paused (almuerzo), 1005 on a call, one more call
/// completed. None of this was announced to the engine.
fn after() -> Pbx {
    let mut paused = member("PJSIP/1006", "2006", "1");
    for (k, v) in paused.iter_mut() {
        match *k {
            "Paused" => *v = "1",
            "PausedReason" => *v = "almuerzo",
            _ => {}
        }
    }
    paused.push(("LastPause", "1700000500"));
    Pbx {
        queue_status: vec![
            params("4"),
            member("PJSIP/1005", "2005", "2"),
            paused,
            member("PJSIP/1007", "2007", "1"),
        ],
        devices: vec![
            device("PJSIP/1005", "INUSE"),
            device("PJSIP/1006", "NOT_INUSE"),
            device("PJSIP/1007", "NOT_INUSE"),
        ],
        contacts: vec![
            ("1005", "sip:1005@127.0.1.5:5060", "Reachable"),
            ("1006", "sip:1006@127.0.1.6:5060", "Reachable"),
            ("1007", "sip:1007@10.0.0.7:5060", "Reachable"),
        ],
        channels: vec![vec![
            ("Event", "CoreShowChannel"),
            ("Channel", "PJSIP/1005-0000000a"),
            ("Uniqueid", "1700000400.10"),
            ("ConnectedLineNum", "099123456"),
            ("Exten", "s"),
            ("Duration", "00:01:40"),
        ]],
    }
}

fn messages(list: &[Fields]) -> Vec<AmiMessage> {
    list.iter()
        .map(|fields| {
            fields
                .iter()
                .fold(AmiMessage::new(), |m, (k, v)| m.with(*k, *v))
        })
        .collect()
}

/// Times a snapshot cannot know (and that depend on when it was read) set to zero.
fn normalized(state: &LiveState) -> LiveState {
    let mut s = state.comparable();
    for ep in s.endpoints.values_mut() {
        for call in ep.calls.values_mut() {
            call.since = UnixTime(0);
        }
    }
    s
}

/// The state the engine should hold for `pbx`.
fn expected(pbx: &Pbx) -> LiveState {
    let endpoints: Vec<EndpointFacts> = pbx
        .contacts
        .iter()
        .map(|(name, uri, status)| EndpointFacts {
            name: name.to_string(),
            state: DeviceStatus::Unknown,
            contact: Some((uri.to_string(), status.to_string())),
        })
        .collect();
    let snapshot = build_snapshot(
        &messages(&pbx.queue_status),
        &messages(&pbx.devices),
        &endpoints,
        &messages(&pbx.channels),
        // No queues.conf: wrap-up times unknown.
        &Default::default(),
        UnixTime::now(),
    );
    normalized(&LiveState::from_snapshot(&snapshot))
}

/// What Asterisk's res_pjsip functions read for `pbx` (each endpoint has an AOR of its name
/// with one static contact, `<name>@@hash`); empty for anything else, as Asterisk answers an
/// object that does not exist.
fn pjsip_function(pbx: &Pbx, variable: &str) -> String {
    let Some((function, args)) = variable.strip_suffix(')').and_then(|v| v.split_once('(')) else {
        return String::new();
    };
    let Some((object, field)) = args.split_once(',') else {
        return String::new();
    };
    let contact = |name: &str| pbx.contacts.iter().find(|(n, _, _)| *n == name);
    match (function, field) {
        ("PJSIP_ENDPOINT", "aors") if contact(object).is_some() => object.to_owned(),
        ("PJSIP_AOR", "contact") if contact(object).is_some() => format!("{object}@@0a1b2c"),
        ("PJSIP_CONTACT", "uri" | "status") => {
            let name = object.strip_suffix("@@0a1b2c").unwrap_or("");
            contact(name).map_or(String::new(), |(_, uri, status)| {
                if field == "uri" { uri } else { status }.to_string()
            })
        }
        _ => String::new(),
    }
}

/// Answers a list action with its events.
fn list(a: &Incoming, events: &[Fields], complete: &str) {
    a.respond(
        "Success",
        &[("EventList", "start"), ("Message", "Events will follow")],
    );
    for fields in events {
        let mut all = fields.clone();
        all.insert(1, ("ActionID", a.action_id()));
        a.out.message(&all);
    }
    a.out.message(&[
        ("Event", complete),
        ("ActionID", a.action_id()),
        ("EventList", "Complete"),
        ("ListItems", &events.len().to_string()),
    ]);
}

/// Serves every action: connection 1 sees `before`, later connections `after`. Sends the first
/// connection's writer to `conn1` so the test can drop it.
async fn serve(mut fake: FakeAmi, conn1: mpsc::UnboundedSender<Out>) {
    let mut sent = false;
    while let Some(a) = fake.try_next_action(Duration::from_secs(30)).await {
        if a.conn == 1 && !sent {
            let _ = conn1.send(a.out.clone());
            sent = true;
        }
        let pbx = if a.conn == 1 { before() } else { after() };
        match a.action() {
            "QueueStatus" => list(&a, &pbx.queue_status, "QueueStatusComplete"),
            "DeviceStateList" => list(&a, &pbx.devices, "DeviceStateListComplete"),
            "Getvar" => {
                let variable = a.get("Variable").unwrap_or("").to_owned();
                let value = pjsip_function(&pbx, &variable);
                a.respond("Success", &[("Variable", &variable), ("Value", &value)]);
            }
            "CoreShowChannels" => list(&a, &pbx.channels, "CoreShowChannelsComplete"),
            other => a.respond("Error", &[("Message", &format!("fake: no {other}"))]),
        }
    }
}

fn settings(fake: &FakeAmi) -> AmiSettings {
    let mut s = AmiSettings::new("127.0.0.1", fake.addr.port(), USERNAME, Secret::new(SECRET));
    s.action_timeout = Duration::from_secs(2);
    s.keepalive = Duration::ZERO;
    s.reconnect_min = Duration::from_millis(20);
    s.reconnect_max = Duration::from_millis(200);
    s
}

#[tokio::test]
async fn state_missed_while_disconnected_is_recovered_from_the_new_snapshot() {
    let fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(&fake)).await.unwrap();
    let (conn1_tx, mut conn1_rx) = mpsc::unbounded_channel();
    let server = tokio::spawn(serve(fake, conn1_tx));

    let hub = EventHub::start(&client);
    let follower = LiveFollower::spawn(&hub, AmiQueueControl::new(client.clone()));
    assert!(
        follower.wait_resyncs(1, Duration::from_secs(5)).await,
        "first snapshot read"
    );
    assert_eq!(normalized(&follower.state()), expected(&before()));
    let s = follower.state();
    assert!(s.agent_by_name("2005").is_some_and(|a| a.logged_in()));
    assert!(s.agent_by_name("2006").is_some_and(|a| a.pause().is_none()));
    assert!(s.agent_by_name("2007").is_none());
    let e = &s.endpoints["1007"];
    assert_eq!(e.contact_ip.as_deref(), Some("127.0.1.7"));
    assert_eq!(e.contact_status.as_deref(), Some("Unreachable"));

    // Asterisk's side of the connection goes away; its state changes while the engine is out.
    let mut states = client.connection_events();
    let conn1 = conn1_rx.recv().await.expect("connection 1's writer");
    conn1.close();
    tokio::time::timeout(
        Duration::from_secs(5),
        states.wait_for(|s| matches!(s, ConnectionState::Connected { generation: 2 })),
    )
    .await
    .expect("reconnected within 5 s")
    .expect("client alive");
    assert!(
        follower.wait_resyncs(2, Duration::from_secs(5)).await,
        "snapshot read again after the reconnect"
    );

    let s = follower.state();
    assert_eq!(normalized(&s), expected(&after()));
    assert_ne!(expected(&after()), expected(&before()));
    let added = s.agent_by_name("2007").expect("member added while down");
    assert!(added.logged_in());
    let paused = s.agent_by_name("2006").unwrap();
    let pause = paused.pause().expect("paused while down");
    assert_eq!(pause.reason.as_deref(), Some("almuerzo"));
    assert_eq!(pause.since, UnixTime(1_700_000_500));
    let call = s.endpoints["1005"].current_call().expect("call up on 1005");
    assert_eq!(call.peer, "099123456");
    assert_eq!(s.queues.values().next().unwrap().completed, 4);
    let e = &s.endpoints["1007"];
    assert_eq!(
        e.contact_ip.as_deref(),
        Some("10.0.0.7"),
        "moved while down"
    );
    assert_eq!(e.contact_status.as_deref(), Some("Reachable"));

    follower.stop();
    server.abort();
}
