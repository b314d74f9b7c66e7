//! Live tier: Asterisk restarts under a running engine. The engine notices AMI drop, reconnects
//! (new connection generation), rebuilds live state from snapshots, reports itself healthy
//! again, and the CDRs of a call made after the restart reach its store exactly once.

mod live_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use live_support::*;

const QUEUE: &str = "q_ventas";
const MEMBER: &str = "PJSIP/1008";

#[tokio::test(flavor = "multi_thread")]
async fn asterisk_restart_is_survived_with_state_resynced_and_nothing_lost() {
    let scratch = Scratch::new("live-restart");
    let client = connect().await;
    let previous = queue_members(&client, QUEUE).await;
    set_queue_members(&client, QUEUE, &[MEMBER.to_string()]).await;
    client.logoff().await.unwrap();
    let before_acct = asterisk_max_acct_id();

    let engine = Engine::start(scratch.path(), "1");
    wait_health(
        &engine,
        Duration::from_secs(20),
        "a healthy engine",
        |code, body| code == "200" && ami_generation(body) == 1,
    );

    // Asterisk goes away and comes back (phones and carrier stay up).
    let body = restart_asterisk_and_wait(&engine, Duration::from_secs(60));
    assert!(ami_generation(&body) >= 2, "{body}");
    assert!(body.contains("\"ami_connected\":true"), "{body}");
    let log = engine.log_text();
    assert!(
        log.contains("Disconnected"),
        "the engine saw AMI drop (log {})",
        engine.log.display()
    );
    assert!(
        log.matches("live state rebuilt from snapshot").count() >= 2,
        "live state was rebuilt after the reconnect (log {})",
        engine.log.display()
    );

    // The persistent member survived; a call after the restart is answered by it and its
    // CDRs reach the engine's store exactly once.
    let client = connect().await;
    assert!(
        queue_members(&client, QUEUE)
            .await
            .contains(&MEMBER.to_string()),
        "the queue member survives Asterisk's restart"
    );
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000;
    let caller = format!("0966{stamp:06}");
    let out = lab(&[
        "call-in", "--did", "26001000", "--from", &caller, "--talk", "2", "--wait",
    ]);
    assert!(
        out.status.success(),
        "call-in after the restart: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Asterisk writes the CDR rows as the legs end.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut after_acct = asterisk_max_acct_id();
    while after_acct == before_acct && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        after_acct = asterisk_max_acct_id();
    }
    assert_cdrs_journaled_once(
        &scratch.store(),
        before_acct,
        after_acct,
        Duration::from_secs(30),
    );

    // Event processing keeps up: the last AMI event was handled within a second of its time.
    let (code, body) = engine.healthz();
    assert_eq!(code, "200", "{body}");
    let lag: f64 = body
        .split("\"event_lag_seconds\":")
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("/healthz reports the event lag: {body}"));
    assert!(lag < 1.0, "event lag {lag} s: {body}");

    set_queue_members(&client, QUEUE, &previous).await;
    client.logoff().await.unwrap();
    drop(engine);
}
