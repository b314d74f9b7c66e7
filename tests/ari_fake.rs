//! Fast tier: the ARI client against a fake ARI (axum on port 0). The Stasis session delivers
//! the stream's events in order and skips malformed frames; after the stream drops it
//! reconnects through refused attempts and its resync reports the channels it owned as
//! `Recovered` (still in the app) or `Gone`, including those passed in as owned before an
//! engine restart; REST calls send the method, path and query ARI documents, with hostile
//! values percent-encoded and refused ids never sent; a stream that stops answering pings is
//! replaced.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use centralita::asterisk::ari::app::{AppEvent, AriApp, AriAppSettings};
use centralita::asterisk::ari::events::AriEvent;
use centralita::asterisk::ari::rest::{
    AppName, BridgeId, ChannelId, HangupReason, Media, Originate, PlaybackId, Record,
    RecordingName, VarName,
};
use centralita::asterisk::ari::{AriClient, AriError};
use centralita::core::Secret;
use support::fake_ari::FakeAri;

const APP: &str = "centralita-ivr";

fn channel(id: &str, app_data: &str) -> String {
    format!(
        r#"{{"id":"{id}","name":"PJSIP/carrier-{id}","state":"Up","caller":{{"name":"","number":"5491100"}},"dialplan":{{"context":"centralita-ivr","exten":"26009000","priority":1,"app_name":"Stasis","app_data":"{app_data}"}}}}"#
    )
}

fn event(kind: &str, id: &str, rest: &str) -> String {
    format!(
        r#"{{"type":"{kind}","application":"{APP}","timestamp":"2026-12-08T02:00:00.000+0000"{rest},"channel":{}}}"#,
        channel(id, APP)
    )
}

fn client(fake: &FakeAri) -> AriClient {
    AriClient::new(&fake.base(), "centralita", Secret::new("pw-secret")).unwrap()
}

fn settings() -> AriAppSettings {
    let mut s = AriAppSettings::new(AppName::new(APP).unwrap());
    s.backoff_first = Duration::from_millis(20);
    s.backoff_cap = Duration::from_millis(200);
    s
}

async fn next(app: &mut AriApp) -> AppEvent {
    tokio::time::timeout(Duration::from_secs(10), app.recv())
        .await
        .expect("an event within 10 s")
        .expect("the session runs")
}

/// A short label of an event, to compare sequences.
fn label(e: &AppEvent) -> String {
    match e {
        AppEvent::Connected { generation } => format!("connected {generation}"),
        AppEvent::Disconnected { generation } => format!("disconnected {generation}"),
        AppEvent::Recovered(c) => format!("recovered {}", c.id),
        AppEvent::Gone(id) => format!("gone {id}"),
        AppEvent::Event(AriEvent::StasisStart { args, channel }) => {
            format!("start {} {}", channel.id, args.join(","))
        }
        AppEvent::Event(AriEvent::ChannelDtmfReceived { digit, channel, .. }) => {
            format!("dtmf {} {digit}", channel.id)
        }
        AppEvent::Event(AriEvent::StasisEnd { channel }) => format!("end {}", channel.id),
        AppEvent::Event(AriEvent::Other(t)) => format!("other {t}"),
        AppEvent::Event(other) => format!("{other:?}"),
    }
}

async fn labels(app: &mut AriApp, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(label(&next(app).await));
    }
    got
}

#[tokio::test]
async fn events_arrive_in_order_and_malformed_frames_are_skipped() {
    let fake = FakeAri::start().await;
    fake.answer("GET /ari/channels", 200, "[]");
    let mut app = AriApp::start(client(&fake), settings(), []);
    assert_eq!(labels(&mut app, 1).await, ["connected 1"]);
    let up = &fake.upgrades()[0];
    assert_eq!(up.uri, "/ari/events?app=centralita-ivr&subscribeAll=false");
    assert_eq!(up.authorization, "Basic Y2VudHJhbGl0YTpwdy1zZWNyZXQ=");

    fake.push(&event("StasisStart", "1.1", r#","args":["26009000"]"#));
    fake.push("this is not json");
    fake.push(r#"{"type":"StasisStart","channel":{"id":"../../etc"}}"#);
    fake.push(&event("ChannelDtmfReceived", "1.1", r#","digit":"12""#));
    fake.push(&event(
        "ChannelDtmfReceived",
        "1.1",
        r#","digit":"5","duration_ms":90"#,
    ));
    fake.push(
        r#"{"type":"DeviceStateChanged","device_state":{"name":"PJSIP/1005","state":"INUSE"}}"#,
    );
    fake.push(&event("StasisEnd", "1.1", ""));
    assert_eq!(
        labels(&mut app, 4).await,
        [
            "start 1.1 26009000",
            "dtmf 1.1 5",
            "other DeviceStateChanged",
            "end 1.1"
        ]
    );
    assert!(app.owned().is_empty(), "StasisEnd ends ownership");
}

#[tokio::test]
async fn after_a_drop_the_session_reconnects_and_resyncs() {
    let fake = FakeAri::start().await;
    fake.answer("GET /ari/channels", 200, "[]");
    let before_restart = ChannelId::new("9.1").unwrap();
    let mut app = AriApp::start(client(&fake), settings(), [before_restart]);
    // The channel owned before an engine restart is not there any more.
    assert_eq!(labels(&mut app, 2).await, ["connected 1", "gone 9.1"]);

    fake.push(&event("StasisStart", "1.1", r#","args":[]"#));
    fake.push(&event("StasisStart", "1.2", r#","args":[]"#));
    assert_eq!(labels(&mut app, 2).await, ["start 1.1 ", "start 1.2 "]);

    // While the stream is down: 1.2 hangs up, 1.1 stays in the app, 1.3 enters it (its
    // StasisStart missed), 1.4 belongs to another app; two reconnects are refused.
    fake.answer(
        "GET /ari/channels",
        200,
        &format!(
            "[{},{},{}]",
            channel("1.1", "centralita-ivr,26009000"),
            channel("1.3", APP),
            channel("1.4", "other-app")
        ),
    );
    fake.refuse_next(2);
    fake.drop_stream();
    assert_eq!(
        labels(&mut app, 4).await,
        ["disconnected 1", "connected 2", "recovered 1.1", "gone 1.2"]
    );
    assert_eq!(labels(&mut app, 1).await, ["recovered 1.3"]);
    assert_eq!(fake.attempts(), 4, "1 connect, 2 refused, 1 accepted");
    let owned: Vec<String> = app.owned().iter().map(|c| c.to_string()).collect();
    assert_eq!(owned, ["1.1", "1.3"]);

    // The new stream delivers.
    fake.push(&event("StasisEnd", "1.1", ""));
    assert_eq!(labels(&mut app, 1).await, ["end 1.1"]);
}

#[tokio::test]
async fn a_stream_that_stops_answering_pings_is_replaced() {
    let fake = FakeAri::start().await;
    fake.answer("GET /ari/channels", 200, "[]");
    let mut s = settings();
    s.ping_every = Duration::from_millis(250);
    let mut app = AriApp::start(client(&fake), s, []);
    assert_eq!(labels(&mut app, 1).await, ["connected 1"]);
    // Pings are answered: the stream stays up while events flow.
    fake.push(&event("StasisStart", "1.1", r#","args":[]"#));
    assert_eq!(labels(&mut app, 1).await, ["start 1.1 "]);
    fake.stall_stream();
    // The TCP connection stays open; only the missing pongs tell.
    assert_eq!(
        labels(&mut app, 3).await,
        ["disconnected 1", "connected 2", "gone 1.1"]
    );
    assert_eq!(fake.attempts(), 2);
}

#[tokio::test]
async fn rest_calls_send_the_documented_requests() {
    let fake = FakeAri::start().await;
    let c = client(&fake);
    let ch = ChannelId::new("1733628000.7").unwrap();
    fake.answer(
        "GET /ari/channels/1733628000.7",
        200,
        &channel("1733628000.7", APP),
    );
    fake.answer(
        "GET /ari/channels/1733628000.7/variable",
        200,
        r#"{"value":"menu"}"#,
    );
    fake.answer(
        "POST /ari/channels/1733628000.7/play/pb-1",
        201,
        r#"{"id":"pb-1","media_uri":"sound:beep","target_uri":"channel:1733628000.7","state":"queued"}"#,
    );
    fake.answer("POST /ari/channels", 200, &channel("ivr-out-1", APP));
    fake.answer(
        "POST /ari/bridges",
        200,
        r#"{"id":"b1","bridge_type":"mixing","channels":[]}"#,
    );
    fake.answer(
        "GET /ari/bridges",
        200,
        r#"[{"id":"b1","bridge_type":"mixing","channels":["1733628000.7"]}]"#,
    );
    fake.answer(
        "POST /ari/channels/1733628000.7/record",
        201,
        r#"{"name":"rec-1","format":"wav","state":"queued"}"#,
    );

    assert_eq!(c.channel(&ch).await.unwrap().id, ch);
    c.answer(&ch).await.unwrap();
    let var = VarName::new("IVR_NODE").unwrap();
    c.set_variable(&ch, &var, "1&variable=X y/../?#%")
        .await
        .unwrap();
    assert_eq!(c.get_variable(&ch, &var).await.unwrap(), "menu");
    let pb = PlaybackId::new("pb-1").unwrap();
    let played = c
        .play(&ch, &pb, &Media::Sound("digits/1".into()))
        .await
        .unwrap();
    assert_eq!(played.id, pb);
    c.continue_in_dialplan(&ch, "to-queue", "26002000", 1)
        .await
        .unwrap();
    c.hangup(&ch, HangupReason::Busy).await.unwrap();
    let mut variables = BTreeMap::new();
    variables.insert(VarName::new("CTI_INFO1").unwrap(), "José & co".to_owned());
    let out = c
        .originate(&Originate {
            endpoint: "Local/26009000@from-carrier".into(),
            app: AppName::new(APP).unwrap(),
            app_args: vec!["outbound".into(), "7".into()],
            channel_id: Some(ChannelId::new("ivr-out-1").unwrap()),
            caller_id: None,
            timeout_secs: Some(30),
            variables,
        })
        .await
        .unwrap();
    assert_eq!(out.id.as_str(), "ivr-out-1");
    let bridge = c
        .create_bridge(Some(&BridgeId::new("b1").unwrap()))
        .await
        .unwrap();
    c.add_to_bridge(&bridge.id, &ch).await.unwrap();
    let listed = c.bridges().await.unwrap();
    assert_eq!(listed[0].channels, std::slice::from_ref(&ch));
    c.remove_from_bridge(&bridge.id, &ch).await.unwrap();
    c.destroy_bridge(&bridge.id).await.unwrap();
    c.stop_playback(&pb).await.unwrap();
    let rec = Record {
        name: RecordingName::new("rec-1").unwrap(),
        format: "wav".into(),
        max_duration_secs: 60,
        max_silence_secs: 0,
        beep: true,
        terminate_on: "#",
    };
    assert_eq!(c.record(&ch, &rec).await.unwrap().name.as_str(), "rec-1");
    c.stop_recording(&rec.name).await.unwrap();
    // Gone resources are 404s.
    let gone = c.playback(&pb).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");

    // Refused before anything is sent.
    let n = fake.requests().len();
    for bad in [
        c.play(&ch, &pb, &Media::Sound("../../etc/passwd".into()))
            .await,
        c.play(&ch, &pb, &Media::Tone("ring&x".into())).await,
    ] {
        assert!(matches!(bad, Err(AriError::Invalid(_))), "{bad:?}");
    }
    assert!(matches!(
        c.continue_in_dialplan(&ch, "a,b", "1", 1).await,
        Err(AriError::Invalid("context"))
    ));
    assert!(matches!(
        c.set_variable(&ch, &var, "a\r\nb").await,
        Err(AriError::Invalid("value"))
    ));
    assert_eq!(fake.requests().len(), n, "nothing sent for refused values");

    let got: Vec<(String, String)> = fake
        .requests()
        .into_iter()
        .map(|r| (r.method, r.uri))
        .collect();
    let want = [
        ("GET", "/ari/channels/1733628000.7"),
        ("POST", "/ari/channels/1733628000.7/answer"),
        (
            "POST",
            "/ari/channels/1733628000.7/variable?variable=IVR_NODE&value=1%26variable%3DX%20y%2F..%2F%3F%23%25",
        ),
        ("GET", "/ari/channels/1733628000.7/variable?variable=IVR_NODE"),
        ("POST", "/ari/channels/1733628000.7/play/pb-1?media=sound%3Adigits%2F1"),
        (
            "POST",
            "/ari/channels/1733628000.7/continue?context=to-queue&extension=26002000&priority=1",
        ),
        ("DELETE", "/ari/channels/1733628000.7?reason=busy"),
        (
            "POST",
            "/ari/channels?endpoint=Local%2F26009000%40from-carrier&app=centralita-ivr&appArgs=outbound%2C7&channelId=ivr-out-1&timeout=30",
        ),
        ("POST", "/ari/bridges?type=mixing&bridgeId=b1"),
        ("POST", "/ari/bridges/b1/addChannel?channel=1733628000.7"),
        ("GET", "/ari/bridges"),
        ("POST", "/ari/bridges/b1/removeChannel?channel=1733628000.7"),
        ("DELETE", "/ari/bridges/b1"),
        ("DELETE", "/ari/playbacks/pb-1"),
        (
            "POST",
            "/ari/channels/1733628000.7/record?name=rec-1&format=wav&maxDurationSeconds=60&maxSilenceSeconds=0&ifExists=fail&beep=true&terminateOn=%23",
        ),
        ("POST", "/ari/recordings/live/rec-1/stop"),
        ("GET", "/ari/playbacks/pb-1"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(m, u)| (m.to_string(), u.to_string()))
        .collect();
    assert_eq!(got, want);
    let reqs = fake.requests();
    let originate = &reqs[7];
    let body: serde_json::Value = serde_json::from_str(&originate.body).unwrap();
    assert_eq!(body["variables"]["CTI_INFO1"], "José & co");
    assert!(reqs
        .iter()
        .all(|r| r.authorization == "Basic Y2VudHJhbGl0YTpwdy1zZWNyZXQ="));
    // The error never carries the password.
    let e = format!("{gone} {gone:?} {c:?}");
    assert!(!e.contains("pw-secret"), "{e}");
}
