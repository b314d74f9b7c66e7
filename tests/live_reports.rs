//! Live tier: reports computed from what the real engine ingested from the lab (see
//! `vm/README.md`). Built only with `--features live-lab`; the lab must be up.
//!
//! What it proves: the real `centralita serve` binary (its own temporary store) ingests the
//! queue_log and CDRs of a short agent shift — agent 2007 (PJSIP/1007) joins q_soporte, pauses
//! for "almuerzo" about 3 s, answers one inbound call talking about 4 s, leaves — and
//! `core::reports` computed over the store's records for the test's interval gives: one closed
//! session as long as the real one, one "almuerzo" pause as long as the real one, the call
//! presented and answered with its talk time, one answered call in q_soporte's report, and the
//! call's queue activity in order ENTERQUEUE → CONNECT → COMPLETE*.
//!
//! It uses phone 1007 and queue q_soporte only; PJSIP/1007 is removed from q_soporte at the end
//! (also when the test fails) unless it was a member before.

mod live_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use centralita::asterisk::ami::action::{QueueAdd, QueuePause, QueueRemove};
use centralita::core::reports::{
    agent_report, queue_activity, queue_report, ReportContext, ReportFilter,
};
use centralita::core::{JournalStore, QueueEvent, TimeRange, UnixTime};
use centralita::store::SqliteJournal;
use live_support::*;

const QUEUE: &str = "q_soporte";
const DID: &str = "26002000";
const IFACE: &str = "PJSIP/1007";
const AGENT: &str = "2007";
const PAUSE_SECS: u64 = 3;
const TALK_SECS: i64 = 4;

/// Removes PJSIP/1007 from q_soporte when dropped, if the test added it.
struct Cleanup {
    remove: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.remove {
            return;
        }
        // Runs on its own runtime: Drop may run while the test's runtime unwinds.
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let client = connect().await;
                let _ = client.send(&QueueRemove::new(QUEUE, IFACE).unwrap()).await;
                let _ = client.logoff().await;
            });
        })
        .join()
        .ok();
    }
}

fn near(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} is not {expected} ± {tolerance}"
    );
}

// ------------------------------------------------------------------ the test

#[tokio::test(flavor = "multi_thread")]
async fn a_short_shift_is_reported_as_it_happened() {
    let t0 = Instant::now();
    let scratch = Scratch::new("live-reports");

    let client = connect().await;
    let before = queue_members(&client, QUEUE).await;
    assert!(
        !before.iter().any(|m| m == IFACE),
        "{IFACE} must not be in {QUEUE} before the test (members: {before:?})"
    );
    let _engine = Engine::start(scratch.path(), "1");
    // A little before the shift: Asterisk stamps lines in whole seconds, truncated.
    let from = UnixTime(UnixTime::now().0 - 2);

    // The shift: log in, pause for lunch, back, one call, log out.
    let _cleanup = Cleanup { remove: true };
    let add = QueueAdd::new(QUEUE, IFACE)
        .unwrap()
        .with_member_name(AGENT)
        .unwrap()
        .with_state_interface(IFACE)
        .unwrap();
    client.send(&add).await.expect("QueueAdd");
    let logged_in = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let pause = QueuePause::new(Some(QUEUE), IFACE, true, Some("almuerzo")).unwrap();
    client.send(&pause).await.expect("QueuePause");
    let paused = SystemTime::now();
    tokio::time::sleep(Duration::from_secs(PAUSE_SECS)).await;
    let unpause = QueuePause::new(Some(QUEUE), IFACE, false, None).unwrap();
    client.send(&unpause).await.expect("QueueUnpause");
    let pause_len = paused.elapsed().unwrap().as_secs_f64();

    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let caller = format!("0983{:06}", 100_000 + nanos % 800_000);
    let out = tokio::task::spawn_blocking({
        let caller = caller.clone();
        move || {
            lab(&[
                "call-in",
                "--did",
                DID,
                "--from",
                &caller,
                "--talk",
                &TALK_SECS.to_string(),
                "--count",
                "1",
                "--wait",
            ])
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "vm/lab call-in failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    client
        .send(&QueueRemove::new(QUEUE, IFACE).unwrap())
        .await
        .expect("QueueRemove");
    let session_len = logged_in.elapsed().unwrap().as_secs_f64();
    client.logoff().await.unwrap();

    // The engine has it all once it stored the REMOVEMEMBER and the call's CDR.
    let ingest = wait_store(
        &scratch.store(),
        Duration::from_secs(30),
        "the shift's records",
        |s| {
            let range = TimeRange::new(from, UnixTime::MAX);
            let removed = s.queue_log(range).unwrap_or_default().iter().any(|r| {
                r.event == QueueEvent::RemoveMember && r.queue == QUEUE && r.agent == AGENT
            });
            let cdr = s
                .cdrs(range)
                .unwrap_or_default()
                .iter()
                .any(|c| c.src == caller && c.dst == DID);
            removed && cdr
        },
    );

    let to = UnixTime(UnixTime::now().0 + 1);
    let range = TimeRange::new(from, to);
    let store = SqliteJournal::open_read_only(&scratch.store()).unwrap();
    let filter = ReportFilter {
        agents: vec![AGENT.into()],
        queues: vec![QUEUE.into()],
    };
    let records = store
        .queue_log_matching(
            TimeRange::new(UnixTime::MIN, to),
            &filter.queues,
            &filter.agents,
        )
        .unwrap();
    let cdrs = store.cdrs(range).unwrap();
    // `to` is "now" rounded up, so lines stamped with the current second are in.
    let mut ctx = ReportContext::new(
        to,
        std::sync::Arc::new(centralita::asterisk::naming::AsteriskNaming),
        std::sync::Arc::new(centralita::asterisk::queue_log::AsteriskQueueLog),
    );
    ctx.extensions = BTreeMap::from([(AGENT.to_owned(), "1007".to_owned())]);
    ctx.interfaces = BTreeMap::from([(IFACE.to_owned(), AGENT.to_owned())]);
    ctx.service_levels = BTreeMap::from([(QUEUE.to_owned(), 30)]);

    // ---- The agent.
    let reports = agent_report(&records, &cdrs, range, &filter, &ctx);
    assert_eq!(reports.len(), 1);
    let a = &reports[0];
    eprintln!("agent report: {a:#?}");
    assert_eq!(a.sessions.len(), 1, "one session: {:?}", a.sessions);
    let s = &a.sessions[0];
    assert!(!s.open && !s.inferred, "{s:?}");
    assert_eq!(s.queues, [QUEUE]);
    near(s.seconds() as f64, session_len, 2.0, "session length");
    near(a.logged_secs as f64, session_len, 2.0, "logged time");
    assert_eq!(a.pauses.len(), 1, "{:?}", a.pauses);
    assert_eq!(a.pauses[0].reason, "almuerzo");
    assert_eq!(a.pauses[0].count, 1);
    near(a.pauses[0].seconds as f64, pause_len, 1.5, "pause length");
    assert_eq!(a.paused_secs, a.pauses[0].seconds);
    assert_eq!(a.answered, 1);
    assert!(a.presented >= 1);
    assert_eq!(a.missed, a.presented - 1);
    assert_eq!(a.outbound, 0);
    near(a.talking_secs as f64, TALK_SECS as f64, 2.0, "talking time");
    assert_eq!(
        a.available_secs,
        a.logged_secs - a.paused_secs - a.talking_secs
    );
    near(
        a.aht_secs.unwrap(),
        TALK_SECS as f64,
        2.0,
        "average handling time",
    );

    // ---- The queue.
    let queues = queue_report(&records, range, &filter, &ctx);
    assert_eq!(queues.len(), 1);
    let q = &queues[0];
    eprintln!("queue report: {q:#?}");
    assert_eq!(q.queue, QUEUE);
    assert_eq!(
        (q.offered, q.answered, q.abandoned, q.timeout),
        (1, 1, 0, 0)
    );
    assert_eq!(q.answered_within_sl, 1, "the phone rings ~1.5 s");
    assert_eq!(q.service_level_pct, Some(100.0));
    near(
        q.avg_talk_secs.unwrap(),
        TALK_SECS as f64,
        2.0,
        "queue talk",
    );

    // ---- The call's queue activity, in order.
    let all_agents = ReportFilter {
        agents: Vec::new(),
        queues: vec![QUEUE.into()],
    };
    let activity = queue_activity(&records, range, &all_agents, &ctx);
    let enter = activity
        .iter()
        .find(|e| e.event == QueueEvent::EnterQueue && e.data.get(1) == Some(&caller))
        .expect("the caller's ENTERQUEUE");
    let call: Vec<&QueueEvent> = activity
        .iter()
        .filter(|e| e.callid == enter.callid)
        .map(|e| &e.event)
        .collect();
    assert_eq!(call.len(), 3, "{call:?}");
    assert_eq!(*call[0], QueueEvent::EnterQueue);
    assert_eq!(*call[1], QueueEvent::Connect);
    assert!(
        matches!(
            call[2],
            QueueEvent::CompleteCaller | QueueEvent::CompleteAgent
        ),
        "{call:?}"
    );
    let agent_lines: Vec<String> = queue_activity(&records, range, &filter, &ctx)
        .iter()
        .filter(|e| e.callid == "MANAGER" || e.callid == "NONE")
        .map(|e| e.event.as_str().to_owned())
        .collect();
    assert_eq!(
        agent_lines,
        ["ADDMEMBER", "PAUSE", "UNPAUSE", "REMOVEMEMBER"],
        "the agent's own lines"
    );

    eprintln!(
        "live_reports: ingested in {ingest:?}, total {:?}; session {session_len:.1} s, pause \
         {pause_len:.1} s",
        t0.elapsed()
    );
}
