//! Fast tier: `AmiClient` against the scripted fake AMI server (`tests/support/fake_ami.rs`):
//! login, correlation, timeouts, event lists, garbage on the wire, reconnects, keepalive and an
//! event storm.

mod support;

use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::{CoreShowChannels, Getvar, Ping, QueueStatus};
use centralita::asterisk::ami::{AmiClient, AmiError, AmiSettings, ConnectionState};
use centralita::core::Secret;
use support::fake_ami::{bind_retrying, render, FakeAmi, SECRET, USERNAME};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::watch;

fn settings(fake: &FakeAmi) -> AmiSettings {
    let mut s = AmiSettings::new("127.0.0.1", fake.addr.port(), USERNAME, Secret::new(SECRET));
    s.action_timeout = Duration::from_secs(2);
    s.keepalive = Duration::ZERO; // off unless a test turns it on
    s.reconnect_min = Duration::from_millis(20);
    s.reconnect_max = Duration::from_millis(200);
    s.event_capacity = 256;
    s
}

fn getvar(name: &str) -> Getvar {
    Getvar::new(None, name).expect("valid Getvar")
}

/// Waits until the state satisfies `pred`, or panics after 5 s.
async fn wait_state(
    rx: &mut watch::Receiver<ConnectionState>,
    pred: impl Fn(ConnectionState) -> bool,
) -> ConnectionState {
    let waited = tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| pred(*s))).await;
    let state = waited
        .expect("state not reached within 5 s")
        .expect("client task gone");
    *state
}

#[tokio::test]
async fn login_ok_and_bad_password() {
    let fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(&fake)).await.expect("login ok");
    assert_eq!(
        client.connection_state(),
        ConnectionState::Connected { generation: 1 }
    );
    assert_eq!(fake.logins_ok(), 1);

    let mut bad = settings(&fake);
    bad.secret = Secret::new("wrong-secret");
    let err = AmiClient::connect(bad)
        .await
        .expect_err("bad secret refused");
    match &err {
        AmiError::LoginFailed { message } => assert_eq!(message, "Authentication failed"),
        other => panic!("expected LoginFailed, got {other:?}"),
    }
    assert!(!format!("{err:?} {err}").contains("wrong-secret"));
    assert_eq!(fake.logins_failed(), 1);
}

#[tokio::test]
async fn refuses_a_peer_that_is_not_ami_and_keeps_the_secret() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .unwrap();
        let mut seen = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_millis(500), stream.read_to_end(&mut seen)).await;
        seen
    });
    let mut s = AmiSettings::new("127.0.0.1", port, USERNAME, Secret::new(SECRET));
    s.action_timeout = Duration::from_secs(2);
    let err = AmiClient::connect(s).await.expect_err("not AMI");
    assert!(matches!(err, AmiError::Protocol(_)), "{err:?}");
    let seen = server.await.unwrap();
    assert!(
        !String::from_utf8_lossy(&seen).contains(SECRET),
        "secret sent to a non-AMI peer"
    );
}

#[tokio::test]
async fn concurrent_actions_answered_out_of_order() {
    let mut fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(&fake)).await.unwrap();

    let (a, b) = (getvar("A"), getvar("B"));
    let answer = async {
        let first = fake.next_action().await;
        let second = fake.next_action().await;
        assert_ne!(first.action_id(), second.action_id(), "ActionIDs unique");
        // Answer in the reverse order of arrival.
        for action in [&second, &first] {
            let name = action.get("Variable").unwrap().to_owned();
            action.respond(
                "Success",
                &[("Variable", &name), ("Value", &format!("value-of-{name}"))],
            );
        }
    };
    let (ra, rb, ()) = tokio::join!(client.send(&a), client.send(&b), answer);
    assert_eq!(ra.unwrap().get("Value"), Some("value-of-A"));
    assert_eq!(rb.unwrap().get("Value"), Some("value-of-B"));
}

#[tokio::test]
async fn action_error_is_action_failed() {
    let mut fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(&fake)).await.unwrap();
    let (result, ()) = tokio::join!(client.send(&getvar("X")), async {
        let a = fake.next_action().await;
        a.respond("Error", &[("Message", "No such channel")]);
    });
    match result {
        Err(AmiError::ActionFailed { action, message }) => {
            assert_eq!(action, "Getvar");
            assert_eq!(message, "No such channel");
        }
        other => panic!("expected ActionFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn action_timeout_then_late_answer_is_ignored() {
    let mut fake = FakeAmi::start().await;
    let mut s = settings(&fake);
    s.action_timeout = Duration::from_millis(300);
    let client = AmiClient::connect(s).await.unwrap();

    let started = Instant::now();
    let (result, unanswered) = tokio::join!(client.send(&getvar("SLOW")), fake.next_action());
    let elapsed = started.elapsed();
    match result {
        Err(AmiError::Timeout { action, after }) => {
            assert_eq!(action, "Getvar");
            assert_eq!(after, Duration::from_millis(300));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2));

    // The late answer must not be taken for the next action's.
    unanswered.respond("Success", &[("Value", "late")]);
    let (result, ()) = tokio::join!(client.send(&getvar("FAST")), async {
        let a = fake.next_action().await;
        a.respond("Success", &[("Value", "fresh")]);
    });
    assert_eq!(result.unwrap().get("Value"), Some("fresh"));
    assert_eq!(
        client.connection_state(),
        ConnectionState::Connected { generation: 1 }
    );
}

#[tokio::test]
async fn event_list_is_collected_up_to_complete() {
    let mut fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(&fake)).await.unwrap();
    let mut events = client.subscribe();

    let status = QueueStatus::new(Some("sales"), None).unwrap();
    let (result, ()) = tokio::join!(client.send_list(&status), async {
        let a = fake.next_action().await;
        assert_eq!(a.action(), "QueueStatus");
        assert_eq!(a.get("Queue"), Some("sales"));
        let id = a.action_id().to_owned();
        a.respond(
            "Success",
            &[
                ("EventList", "start"),
                ("Message", "Queue status will follow"),
            ],
        );
        for (i, name) in ["Ana", "Luis", "Marta"].iter().enumerate() {
            a.out.message(&[
                ("Event", "QueueMember"),
                ("ActionID", &id),
                ("Queue", "sales"),
                ("Name", name),
            ]);
            if i == 0 {
                // Unrelated traffic in the middle of the list.
                a.out
                    .message(&[("Event", "Newchannel"), ("Channel", "PJSIP/1001-1")]);
                a.out
                    .message(&[("Event", "QueueMember"), ("ActionID", "other-id")]);
            }
        }
        a.out.message(&[
            ("Event", "QueueStatusComplete"),
            ("ActionID", &id),
            ("EventList", "Complete"),
            ("ListItems", "3"),
        ]);
    });
    let (response, items) = result.expect("list collected");
    assert_eq!(response.get("EventList"), Some("start"));
    let names: Vec<_> = items.iter().map(|e| e.get("Name").unwrap_or("")).collect();
    assert_eq!(names, ["Ana", "Luis", "Marta"]);
    assert!(items.iter().all(|e| e.event_name() == Some("QueueMember")));

    // Subscribers see every event, list events included.
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e.event_name().unwrap_or("").to_owned());
    }
    assert!(seen.contains(&"Newchannel".to_owned()), "{seen:?}");
    assert_eq!(seen.iter().filter(|n| *n == "QueueMember").count(), 4);
}

#[tokio::test]
async fn list_action_error_is_action_failed() {
    let mut fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(&fake)).await.unwrap();
    let (result, ()) = tokio::join!(client.send_list(&CoreShowChannels), async {
        let a = fake.next_action().await;
        a.respond("Error", &[("Message", "Permission denied")]);
    });
    assert!(
        matches!(&result, Err(AmiError::ActionFailed { message, .. }) if message == "Permission denied"),
        "{result:?}"
    );
}

#[tokio::test]
async fn garbage_and_non_utf8_do_not_kill_the_client() {
    let mut fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(&fake)).await.unwrap();
    let mut events = client.subscribe();

    let (result, ()) = tokio::join!(client.send(&getvar("X")), async {
        let a = fake.next_action().await;
        a.out
            .raw(&b"\xff\xfe\xfd\r\nthis line has no colon\r\n\r\n"[..]);
        a.out.raw(&b"\r\n\n\r\n"[..]);
        a.out
            .raw(&b"Response: Success\r\nMessage: no ActionID here\r\n\r\n"[..]);
        a.out
            .raw(&b"Event: Weird\r\nCallerIDName: Jos\xe9 \xc3\x28\r\n\r\n"[..]);
        a.respond("Success", &[("Value", "still-alive")]);
    });
    assert_eq!(result.unwrap().get("Value"), Some("still-alive"));

    let weird = loop {
        let e = events.try_recv().expect("the Weird event was broadcast");
        if e.event_name() == Some("Weird") {
            break e;
        }
    };
    assert_eq!(weird.get("CallerIDName"), Some("Jos\u{FFFD} \u{FFFD}("));
    assert_eq!(
        client.connection_state(),
        ConnectionState::Connected { generation: 1 }
    );
    assert_eq!(fake.connections(), 1, "no reconnect was needed");
}

#[tokio::test]
async fn drop_mid_action_fails_pending_and_reconnects() {
    let mut fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(&fake)).await.unwrap();
    let mut state = client.connection_events();

    let (result, ()) = tokio::join!(client.send(&getvar("X")), async {
        let a = fake.next_action().await;
        assert_eq!(a.conn, 1);
        a.out.close();
    });
    assert!(matches!(result, Err(AmiError::Disconnected)), "{result:?}");

    let now = wait_state(
        &mut state,
        |s| matches!(s, ConnectionState::Connected { generation } if generation >= 2),
    )
    .await;
    assert_eq!(now, ConnectionState::Connected { generation: 2 });
    assert_eq!(fake.logins_ok(), 2, "logged in again");

    let (result, ()) = tokio::join!(client.send(&getvar("Y")), async {
        let a = fake.next_action().await;
        assert_eq!(a.conn, 2, "sent on the new connection");
        a.respond("Success", &[("Value", "after-reconnect")]);
    });
    assert_eq!(result.unwrap().get("Value"), Some("after-reconnect"));
}

#[tokio::test]
async fn reconnect_backs_off_and_fails_fast_while_down() {
    let mut fake = FakeAmi::start().await;
    let port = fake.addr.port();
    let mut s = settings(&fake);
    s.reconnect_min = Duration::from_millis(50);
    s.reconnect_max = Duration::from_millis(200);
    let client = AmiClient::connect(s).await.unwrap();
    let mut state = client.connection_events();

    // Kill the session and the server.
    let (result, ()) = tokio::join!(client.send(&getvar("X")), async {
        fake.next_action().await.out.close();
    });
    assert!(matches!(result, Err(AmiError::Disconnected)), "{result:?}");
    drop(fake);

    // A server that accepts and hangs up at once: every attempt fails; count them for 1 s.
    let listener = bind_retrying(port).await;
    let attempts = tokio::spawn(async move {
        let mut n = 0u32;
        let window = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(window);
        loop {
            tokio::select! {
                _ = &mut window => break n,
                accepted = listener.accept() => if accepted.is_ok() { n += 1 },
            }
        }
    });

    // While down, actions fail at once instead of waiting for the timeout.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let during = client.send(&getvar("DOWN")).await;
    assert!(matches!(during, Err(AmiError::Disconnected)), "{during:?}");
    assert!(started.elapsed() < Duration::from_millis(500));

    // Backoff 50, 100, 200, 200, ... ms (jittered to half or more): a handful of attempts in
    // one second, not a busy loop.
    let n = attempts.await.unwrap();
    assert!((2..=20).contains(&n), "{n} attempts in 1 s");
    assert_ne!(
        client.connection_state(),
        ConnectionState::Connected { generation: 1 }
    );

    // The server comes back on the same port: the client logs in again.
    let fake = FakeAmi::start_on(port).await;
    let now = wait_state(&mut state, |s| {
        matches!(s, ConnectionState::Connected { .. })
    })
    .await;
    assert_eq!(now, ConnectionState::Connected { generation: 2 });
    assert_eq!(fake.logins_ok(), 1);
}

#[tokio::test]
async fn keepalive_pings_and_detects_a_dead_connection() {
    let fake = FakeAmi::start().await;
    let mut s = settings(&fake);
    s.keepalive = Duration::from_millis(100);
    s.action_timeout = Duration::from_millis(300);
    let client = AmiClient::connect(s).await.unwrap();
    let mut state = client.connection_events();

    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(fake.pings() >= 2, "pings sent: {}", fake.pings());
    assert_eq!(
        client.connection_state(),
        ConnectionState::Connected { generation: 1 },
        "answered pings keep the connection"
    );

    fake.set_answer_pings(false);
    wait_state(&mut state, |s| s == ConnectionState::Disconnected).await;
    fake.set_answer_pings(true);
    let now = wait_state(&mut state, |s| {
        matches!(s, ConnectionState::Connected { .. })
    })
    .await;
    assert_eq!(now, ConnectionState::Connected { generation: 2 });
    assert_eq!(fake.connections(), 2);
}

#[tokio::test]
async fn event_storm_is_bounded_and_client_stays_responsive() {
    const STORM: usize = 50_000;
    let mut fake = FakeAmi::start().await;
    let mut s = settings(&fake);
    // The storm is read before the action's response behind it: a bound for a loaded machine.
    s.action_timeout = Duration::from_secs(30);
    let client = AmiClient::connect(s).await.unwrap();
    let mut lazy = client.subscribe(); // never reads during the storm
    let mut eager = client.subscribe();
    let counter = tokio::spawn(async move {
        let (mut received, mut lagged) = (0u64, 0u64);
        loop {
            match eager.recv().await {
                Ok(e) => {
                    received += 1;
                    if e.event_name() == Some("StormEnd") {
                        break;
                    }
                }
                Err(RecvError::Lagged(n)) => lagged += n,
                Err(RecvError::Closed) => break,
            }
        }
        (received, lagged)
    });

    // Trigger: the test answers its first action with the storm, then the response.
    let (result, ()) = tokio::join!(client.send(&getvar("STORM")), async {
        let a = fake.next_action().await;
        let mut storm = Vec::with_capacity(STORM * 80);
        for i in 0..STORM {
            storm.extend(render(&[
                ("Event", "VarSet"),
                ("Channel", "PJSIP/1001-00000001"),
                ("Variable", "N"),
                ("Value", &i.to_string()),
            ]));
        }
        storm.extend(render(&[("Event", "StormEnd")]));
        a.out.raw(storm);
        a.respond("Success", &[("Value", "after-storm")]);
    });
    assert_eq!(result.unwrap().get("Value"), Some("after-storm"));

    // The client still answers, on the same connection.
    let pong = client.send(&Ping).await.expect("ping after storm");
    assert_eq!(pong.get("Ping"), Some("Pong"));
    assert_eq!(fake.connections(), 1);

    // The idle subscriber was skipped forward: it is told it lagged, and what is still
    // buffered for it is at most the channel capacity (the newest events).
    match lazy.try_recv() {
        Err(TryRecvError::Lagged(n)) => assert!(n as usize >= STORM - 256, "lagged {n}"),
        other => panic!("expected Lagged, got {other:?}"),
    }
    let mut buffered = Vec::new();
    while let Ok(e) = lazy.try_recv() {
        buffered.push(e);
    }
    assert!(
        !buffered.is_empty() && buffered.len() <= 256,
        "buffered {}",
        buffered.len()
    );
    assert_eq!(
        buffered.last().and_then(|e| e.event_name()),
        Some("StormEnd")
    );

    // The active subscriber saw or was told about every event (plus the login's FullyBooted,
    // which may arrive before it subscribed).
    let (received, lagged) = tokio::time::timeout(Duration::from_secs(10), counter)
        .await
        .expect("counter finished")
        .unwrap();
    let total = received + lagged;
    assert!(
        (STORM as u64 + 1..=STORM as u64 + 2).contains(&total),
        "received {received} + lagged {lagged}"
    );
}

#[tokio::test]
async fn logoff_closes_the_client() {
    let fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(&fake)).await.unwrap();
    client.logoff().await.expect("logoff");
    let mut state = client.connection_events();
    wait_state(&mut state, |s| s == ConnectionState::Closed).await;
    assert_eq!(fake.logoffs(), 1);
    let after = client.send(&getvar("X")).await;
    assert!(matches!(after, Err(AmiError::Closed)), "{after:?}");
    client.logoff().await.expect("second logoff is a no-op");
}
