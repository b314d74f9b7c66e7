//! Fast tier: the IVR runtime against a fake ARI. A call to a routed DID is answered and its
//! flow's prompt played (with the runtime's own playback id); the playback's end and a digit
//! move the flow on to its queue (QUEUE set, the channel continued in `centralita-ivr-queue`);
//! a call to a DID with no flow is hung up as an unallocated number; a caller hanging up
//! mid-flow ends the session and it is journaled; every step is in the IVR CDR. After an engine
//! restart, a call the resync finds in the application (its flow state lost) is hung up.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use centralita::asterisk::ari::AriClient;
use centralita::asterisk::ivr_runtime::{IvrRuntime, IvrRuntimeParts, NoLookups};
use centralita::core::ivr::{
    Did, EventFilter, FlowId, IvrCallId, IvrService, IvrStore, ListLookup, ListName,
};
use centralita::core::outbound_policy::OutboundPolicy;
use centralita::core::{BoxFuture, PortError, Secret};
use centralita::store::SqliteIvr;
use support::fake_ari::FakeAri;

const FLOW: &str = r#"{"id":"menu_test","name":"Menu","type":"dtmf","start":"menu","version":1,
 "max_steps":20,"nodes":[
 {"id":"menu","kind":"gather","prompt":{"file":"custom/menu","barge_in":false},"max_digits":1,
  "first_digit_timeout_ms":5000,"inter_digit_timeout_ms":3000,"retries":0,
  "cases":{"1":"ventas"},"invalid":"fin","timeout":"fin"},
 {"id":"ventas","kind":"queue","queue":"q_ventas"},
 {"id":"fin","kind":"hangup"}]}"#;

struct NoLists;
impl ListLookup for NoLists {
    fn contains(&self, _: &ListName, _: &str) -> BoxFuture<'_, Result<bool, PortError>> {
        Box::pin(async { Ok(false) })
    }
}

fn channel(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","name":"PJSIP/carrier-{id}","state":"Ring","caller":{{"name":"","number":"5491100"}},"dialplan":{{"context":"centralita-ivr","exten":"26008000","priority":1,"app_name":"Stasis","app_data":"centralita-ivr,26008000"}}}}"#
    )
}

fn event(kind: &str, id: &str, rest: &str) -> String {
    format!(
        r#"{{"type":"{kind}","application":"centralita-ivr","timestamp":"2026-12-08T02:00:00.000+0000"{rest},"channel":{}}}"#,
        channel(id)
    )
}

fn playback_finished(playback: &str, channel: &str) -> String {
    format!(
        r#"{{"type":"PlaybackFinished","application":"centralita-ivr","playback":{{"id":"{playback}","media_uri":"sound:custom/menu","target_uri":"channel:{channel}","state":"done"}}}}"#
    )
}

/// Waits (10 s at most) until the fake saw a request `METHOD uri`.
async fn saw(fake: &FakeAri, method: &str, uri: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if fake
            .requests()
            .iter()
            .any(|r| r.method == method && r.uri == uri)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {method} {uri}; saw {:#?}",
            fake.requests()
                .iter()
                .map(|r| format!("{} {}", r.method, r.uri))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The IVR CDR of `call` as `event node detail/digits status` lines, once it has a `fim`.
async fn journal(store: &Arc<SqliteIvr>, call: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = store
            .events(&EventFilter {
                call: Some(IvrCallId::new(call).unwrap()),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        let lines: Vec<String> = events
            .iter()
            .map(|e| {
                format!(
                    "{} {} {}{} {}",
                    e.event,
                    e.node.as_ref().map(|n| n.as_str()).unwrap_or("-"),
                    e.detail,
                    e.digits,
                    e.status
                )
                .trim()
                .to_owned()
            })
            .collect();
        if lines.iter().any(|l| l.starts_with("fim")) {
            return lines;
        }
        assert!(Instant::now() < deadline, "no end journaled: {lines:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The IVR runtime over the fake ARI, with `ivr`'s flows and routes, no TTS, no lookups, no
/// lists and the default outbound policy.
fn runtime_over(fake: &FakeAri, ivr: IvrService) -> IvrRuntime {
    IvrRuntime::spawn(IvrRuntimeParts {
        client: AriClient::new(&fake.base(), "centralita", Secret::new("pw")).unwrap(),
        ivr,
        tts: None,
        voice: "es".into(),
        rate: 160,
        lookup: Arc::new(NoLookups),
        lists: Arc::new(NoLists),
        policy: Arc::new(OutboundPolicy::default()),
    })
}

#[tokio::test]
async fn routed_calls_run_their_flow_over_ari() {
    let fake = FakeAri::start().await;
    fake.answer("GET /ari/channels", 200, "[]");
    fake.answer(
        "POST /ari/channels/1.1/play/1.1.p1",
        201,
        r#"{"id":"1.1.p1","media_uri":"sound:custom/menu","target_uri":"channel:1.1","state":"queued"}"#,
    );
    fake.answer(
        "POST /ari/channels/3.3/play/3.3.p1",
        201,
        r#"{"id":"3.3.p1","media_uri":"sound:custom/menu","target_uri":"channel:3.3","state":"queued"}"#,
    );
    let dir = support::TempDir::new("ivr-runtime");
    let store = Arc::new(SqliteIvr::open(&dir.path().join("ivr.db")).unwrap());
    let ivr = IvrService::new(store.clone());
    ivr.put_flow(centralita::ivr_json::decode(FLOW).unwrap())
        .await
        .unwrap();
    store
        .set_route(
            &Did::new("26008000").unwrap(),
            &FlowId::new("menu_test").unwrap(),
        )
        .unwrap();
    let runtime = runtime_over(&fake, ivr);
    // The application is registered once the stream is up and the resync asked.
    saw(&fake, "GET", "/ari/channels").await;
    let ready = runtime.ready();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "runtime never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A routed DID: answered, the prompt played as the runtime's playback.
    fake.push(&event("StasisStart", "1.1", r#","args":["26008000"]"#));
    saw(&fake, "POST", "/ari/channels/1.1/answer").await;
    saw(
        &fake,
        "POST",
        "/ari/channels/1.1/play/1.1.p1?media=sound%3Acustom%2Fmenu",
    )
    .await;
    // The prompt ends, the caller presses 1: the flow's queue.
    fake.push(&playback_finished("1.1.p1", "1.1"));
    fake.push(&event(
        "ChannelDtmfReceived",
        "1.1",
        r#","digit":"1","duration_ms":100"#,
    ));
    saw(
        &fake,
        "POST",
        "/ari/channels/1.1/variable?variable=QUEUE&value=q_ventas",
    )
    .await;
    saw(
        &fake,
        "POST",
        "/ari/channels/1.1/continue?context=centralita-ivr-queue&extension=26008000&priority=1",
    )
    .await;
    fake.push(&event("StasisEnd", "1.1", ""));
    let path = journal(&store, "1.1").await;
    assert!(
        path.iter().any(|l| l.starts_with("entrada menu gather")),
        "{path:?}"
    );
    assert!(
        path.iter()
            .any(|l| l.starts_with("digitos menu") && l.contains('1')),
        "{path:?}"
    );
    assert!(
        path.iter().any(|l| l.starts_with("entrada ventas queue")),
        "{path:?}"
    );
    assert!(path.last().unwrap().ends_with("fila"), "{path:?}");
    let first = store
        .events(&EventFilter {
            call: Some(IvrCallId::new("1.1").unwrap()),
            limit: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(first[0].info.ddr, "26008000");
    assert_eq!(first[0].info.origem, "5491100");

    // A DID with no flow: hung up, unallocated number; never answered.
    fake.push(&event("StasisStart", "2.2", r#","args":["26007000"]"#));
    saw(&fake, "DELETE", "/ari/channels/2.2?reason=unallocated").await;
    assert!(!fake
        .requests()
        .iter()
        .any(|r| r.uri == "/ari/channels/2.2/answer"));

    // The caller hangs up during the prompt: the session ends and says so.
    fake.push(&event("StasisStart", "3.3", r#","args":["26008000"]"#));
    saw(
        &fake,
        "POST",
        "/ari/channels/3.3/play/3.3.p1?media=sound%3Acustom%2Fmenu",
    )
    .await;
    fake.push(&event("StasisEnd", "3.3", ""));
    let path = journal(&store, "3.3").await;
    let last = path.last().unwrap();
    assert!(
        last.starts_with("fim") && !last.ends_with("fila"),
        "{path:?}"
    );
    assert!(
        !fake
            .requests()
            .iter()
            .any(|r| r.uri.starts_with("/ari/channels/3.3/continue")),
        "a hung-up call goes nowhere"
    );
    runtime.stop();
}

#[tokio::test]
async fn after_a_restart_calls_left_in_the_application_are_hung_up() {
    let fake = FakeAri::start().await;
    // A call still in the application, from before the engine restarted.
    fake.answer("GET /ari/channels", 200, &format!("[{}]", channel("9.9")));
    let dir = support::TempDir::new("ivr-runtime-restart");
    let store = Arc::new(SqliteIvr::open(&dir.path().join("ivr.db")).unwrap());
    let runtime = runtime_over(&fake, IvrService::new(store));
    saw(&fake, "DELETE", "/ari/channels/9.9?reason=normal").await;
    runtime.stop();
}
