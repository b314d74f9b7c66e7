//! Live tier: eXpand's external webservices called by the engine against a customer's backend
//! in the test process, on a real lab call. A call into a queue's DID is named by
//! `getCallerIDName` before it is queued (the name, cleaned of a `${SHELL(...)}` that is never
//! evaluated, is in the CDR's clid; the agent's leg shows it), `pushAgentInfo` arrives when the agent answers with the seed's fields; then a
//! backend slower than the limit: the call is queued without a name, no later than the limit
//! and a margin after it came in.

#![cfg(feature = "live-lab")]

mod live_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use live_support::customer::Customer;
use live_support::expand::poll;
use live_support::rest::healthy_engine;
use live_support::*;

const QUEUE: &str = "q_ventas";
const DID: &str = "26001000";
const PHONE: &str = "1006";

fn extra(base: &str, timeout_ms: u64) -> String {
    format!("[expand_webservices]\nurl = \"{base}/ws\"\ntimeout_ms = {timeout_ms}\n")
}

/// The caller's number for this run (digits only, distinct per run).
fn caller(tag: u32) -> String {
    format!("0997{:05}{tag}", std::process::id() % 100_000)
}

fn call_in(from: &str) {
    let out = lab(&[
        "call-in", "--did", DID, "--from", from, "--talk", "2", "--count", "1", "--wait",
    ]);
    assert!(
        out.status.success(),
        "vm/lab call-in failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `(clid, uniqueid, start)` of the engine's journal CDR of the inbound leg from `from`.
fn inbound_cdr(store: &std::path::Path, from: &str) -> Option<(String, String, i64)> {
    let conn = rusqlite::Connection::open(store).ok()?;
    conn.busy_timeout(Duration::from_secs(2)).ok()?;
    conn.query_row(
        "SELECT clid, uniqueid, start_epoch FROM cdr WHERE src = ?1 AND dcontext = 'to-queue' \
         ORDER BY id LIMIT 1",
        [from],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .ok()
}

/// The ENTERQUEUE time of `uniqueid` in the engine's journal.
fn entered_queue(store: &std::path::Path, uniqueid: &str) -> Option<i64> {
    let conn = rusqlite::Connection::open(store).ok()?;
    conn.query_row(
        "SELECT time_epoch FROM queue_log WHERE callid = ?1 AND event = 'ENTERQUEUE'",
        [uniqueid],
        |r| r.get(0),
    )
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbound_calls_are_named_and_pushed_and_a_slow_backend_does_not_hold_them() {
    let client = connect().await;
    let previous = queue_members(&client, QUEUE).await;
    set_queue_members(&client, QUEUE, &[format!("PJSIP/{PHONE}")]).await;
    // A name with a substitution the dialplan must never evaluate: only its cleaned text
    // reaches Asterisk.
    let marker = format!("/tmp/cn{}", std::process::id());
    let _ = std::fs::remove_file(&marker);
    let (customer, base) = Customer::start(&format!("Ana  López ${{SHELL(touch {marker})}}")).await;

    // 1. The name from getCallerIDName, on the CDR; pushAgentInfo on the agent's answer.
    let scratch = Scratch::new("live-expand-ws");
    let mut engine = healthy_engine(scratch.path(), "1", &extra(&base, 1500));
    poll(Duration::from_secs(10), "FastAGI listening", || {
        engine
            .log_text()
            .contains("FastAGI listening")
            .then_some(())
    });
    let from = caller(1);
    call_in(&from);
    let (clid, uniqueid, _) = poll(Duration::from_secs(30), "the call's CDR", || {
        inbound_cdr(&scratch.store(), &from)
    });
    let shown = format!("Ana López SHELLtouch tmpcn{}", std::process::id());
    assert_eq!(clid, format!("\"{shown}\" <{from}>"));
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the name was evaluated"
    );
    assert_eq!(
        customer.calls_of("getCallerIDName"),
        vec![serde_json::json!({ "callerIdNum": from })]
    );
    let push = poll(Duration::from_secs(10), "pushAgentInfo", || {
        customer.calls_of("pushAgentInfo").into_iter().next()
    });
    assert_eq!(
        push,
        serde_json::json!({
            "uniqueid": uniqueid,
            "queuename": QUEUE,
            "callerid": format!("{shown} <{from}>"),
            "agentchan": format!("PJSIP/{PHONE}"),
            "ivrdata": "",
        })
    );
    engine.terminate();

    // 2. A backend slower than the limit: no name, and the call is queued within the limit.
    customer.ws_delay_ms.store(5000, Ordering::SeqCst);
    let scratch = Scratch::new("live-expand-ws-slow");
    let mut engine = healthy_engine(scratch.path(), "2", &extra(&base, 1000));
    poll(Duration::from_secs(10), "FastAGI listening", || {
        engine
            .log_text()
            .contains("FastAGI listening")
            .then_some(())
    });
    let from = caller(2);
    call_in(&from);
    let (clid, uniqueid, start) = poll(Duration::from_secs(30), "the call's CDR", || {
        inbound_cdr(&scratch.store(), &from)
    });
    assert!(!clid.contains("Ana"), "{clid}");
    let entered = poll(Duration::from_secs(10), "ENTERQUEUE", || {
        entered_queue(&scratch.store(), &uniqueid)
    });
    // Seconds resolution: the limit (1 s) and a margin of 2 s.
    assert!(
        entered - start <= 3,
        "queued {} s after it came in",
        entered - start
    );
    engine.terminate();
    set_queue_members(&client, QUEUE, &previous).await;
}
