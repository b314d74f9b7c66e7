//! Live tier: outbound webhooks of real lab calls, received by a backend in the test process.
//! A queue call's events (offered, answered, ended) arrive signed; then with the backend down
//! a call is made, the engine is stopped, another call is made while it is stopped, the engine
//! starts again and the backend comes back: every event of both calls arrives, each exactly
//! once (a third call's events arriving after them shows nothing more was coming).

#![cfg(feature = "live-lab")]

mod live_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use centralita::core::webhooks::verify;
use centralita::core::Secret;
use live_support::customer::Customer;
use live_support::expand::poll;
use live_support::rest::healthy_engine;
use live_support::*;

const QUEUE: &str = "q_ventas";
const DID: &str = "26001000";
const PHONE: &str = "1006";
const SECRET: &str = "lab-webhook-secret-0123456789";

fn extra(base: &str) -> String {
    format!(
        "[webhooks]\nfirst_retry_ms = 200\nmax_retry_seconds = 1\n\
         [[webhooks.endpoint]]\nname = \"crm\"\nurl = \"{base}/hook\"\nsecret = \"{SECRET}\"\n\
         events = [\"call.offered\", \"call.answered\", \"call.ended\"]\n"
    )
}

fn caller(tag: u32) -> String {
    format!("0996{:05}{tag}", std::process::id() % 100_000)
}

fn call_in(from: &str) {
    let out = lab(&[
        "call-in", "--did", DID, "--from", from, "--talk", "1", "--count", "1", "--wait",
    ]);
    assert!(
        out.status.success(),
        "vm/lab call-in failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The call's uniqueid, from its acknowledged `call.offered` (the caller's number).
fn offered(c: &Customer, from: &str) -> Option<String> {
    c.hooks().into_iter().find_map(|h| {
        (h.acknowledged && h.body["event"] == "call.offered" && h.body["data"]["caller"] == from)
            .then(|| h.body["data"]["uniqueid"].as_str().unwrap_or("").to_owned())
    })
}

/// Waits for the three events of the call from `from`, acknowledged; returns their kinds.
fn whole_call(c: &Customer, from: &str) -> Vec<String> {
    let uid = poll(Duration::from_secs(60), "call.offered", || offered(c, from));
    poll(Duration::from_secs(60), "the call's three events", || {
        let mut kinds: Vec<String> = c
            .acknowledged_for(&uid)
            .iter()
            .map(|h| h.body["event"].as_str().unwrap_or("").to_owned())
            .collect();
        kinds.sort();
        kinds.dedup();
        (kinds.len() == 3).then_some(kinds)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn call_events_arrive_signed_and_exactly_once_across_an_outage_and_a_restart() {
    let client = connect().await;
    let previous = queue_members(&client, QUEUE).await;
    set_queue_members(&client, QUEUE, &[format!("PJSIP/{PHONE}")]).await;
    let (customer, base) = Customer::start("").await;
    let scratch = Scratch::new("live-webhooks");
    let mut engine = healthy_engine(scratch.path(), "1", &extra(&base));

    // 1. A call's events, signed.
    let a = caller(1);
    call_in(&a);
    assert_eq!(
        whole_call(&customer, &a),
        vec!["call.answered", "call.ended", "call.offered"]
    );
    for h in customer.hooks() {
        assert!(verify(&Secret::new(SECRET), &h.raw, &h.signature), "{h:?}");
        assert_eq!(h.body["id"], h.event_id.as_str());
    }

    // 2. Backend down: a call; the engine stopped; a call while it is stopped.
    customer.hooks_down.store(true, Ordering::SeqCst);
    let b = caller(2);
    call_in(&b);
    poll(Duration::from_secs(30), "a refused delivery", || {
        customer
            .hooks()
            .iter()
            .any(|h| !h.acknowledged)
            .then_some(())
    });
    engine.terminate();
    let c = caller(3);
    call_in(&c);
    let mut engine = healthy_engine(scratch.path(), "2", &extra(&base));
    customer.hooks_down.store(false, Ordering::SeqCst);
    whole_call(&customer, &b);
    whole_call(&customer, &c);
    // A last call: once its events are in, anything queued before them has been delivered.
    let d = caller(4);
    call_in(&d);
    whole_call(&customer, &d);
    let mut ids: Vec<String> = customer
        .hooks()
        .into_iter()
        .filter(|h| h.acknowledged)
        .map(|h| h.event_id)
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "an event acknowledged twice");
    assert_eq!(all, 12, "four calls, three events each");
    engine.terminate();
    set_queue_members(&client, QUEUE, &previous).await;
}
