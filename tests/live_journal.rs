//! Live tier: the loss-free journal against the real lab (see `vm/README.md`). Built only with
//! `--features live-lab`; the lab must be up.
//!
//! What it proves: the real `centralita serve` binary ingests Asterisk's CDRs (master.db) and
//! queue_log into its store; killed with SIGKILL while inbound queue calls are in progress and
//! started again, it ends with exactly Asterisk's rows — none lost, none twice — and its UNIQUE
//! safety net never had to fire.
//!
//! It uses phone 1006 only, as the sole member of q_ventas for the duration of the test (the
//! queue's previous members are put back at the end).

mod live_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use centralita::asterisk::queue_log::file_id;
use centralita::core::{
    FileId, JournalStore, QueueEvent, SourceCursor, SourceId, TimeRange, UnixTime,
};
use centralita::store::SqliteJournal;
use live_support::*;

const QUEUE: &str = "q_ventas";
const DID: &str = "26001000";
const PHONE: &str = "1006";
const CALLS: u32 = 3;

// ------------------------------------------------------------------ Asterisk's side

fn queue_log_state() -> (FileId, u64) {
    let m = std::fs::metadata(queue_log()).expect("the lab's queue_log exists");
    (file_id(&m), m.len())
}

/// The complete lines of queue_log from byte `from` to byte `to`, with their offsets.
fn queue_log_lines(from: u64, to: u64) -> Vec<(u64, String)> {
    let bytes = std::fs::read(queue_log()).unwrap();
    let slice = &bytes[from as usize..to as usize];
    let mut out = Vec::new();
    let mut offset = from;
    for line in slice.split_inclusive(|&b| b == b'\n') {
        if line.ends_with(b"\n") {
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            if !text.trim().is_empty() {
                out.push((offset, text));
            }
        }
        offset += line.len() as u64;
    }
    out
}

// ------------------------------------------------------------------ the engine's store

/// Whether the store's cursors have reached `acct_id` and `(file, offset)`.
fn caught_up(s: &SqliteJournal, acct_id: i64, file: FileId, offset: u64) -> bool {
    let cdr_done = acct_id == 0
        || matches!(s.cursor(&cdr()), Ok(Some(SourceCursor::Rowid(r))) if r >= acct_id);
    let qlog_done = matches!(
        s.cursor(&qlog()),
        Ok(Some(SourceCursor::File(p))) if p.file == file && p.offset >= offset
    );
    cdr_done && qlog_done
}

fn cdr() -> SourceId {
    SourceId::new("cdr")
}

fn qlog() -> SourceId {
    SourceId::new("queue_log")
}

// ------------------------------------------------------------------ the test

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_traffic_the_engine_ends_with_exactly_asterisks_cdrs_and_queue_log() {
    let t0 = Instant::now();
    let scratch = Scratch::new("live-journal");
    let started_at = UnixTime::now();

    let client = connect().await;
    let previous_members = queue_members(&client, QUEUE).await;
    set_queue_members(&client, QUEUE, &[format!("PJSIP/{PHONE}")]).await;

    let before_acct = asterisk_max_acct_id();
    let (log_file, before_size) = queue_log_state();

    let mut engine = Engine::start(scratch.path(), "1");
    // The first run catches up with the whole history so far.
    let backlog = wait_store(
        &scratch.store(),
        Duration::from_secs(30),
        "the backlog",
        |s| caught_up(s, before_acct, log_file, before_size),
    );

    // Inbound traffic: CALLS simultaneous calls, answered one after the other by the only member.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let first = 100_000 + nanos % 800_000;
    let callers: Vec<String> = (0..CALLS)
        .map(|i| format!("0977{:06}", first + i))
        .collect();
    let from = callers[0].clone();
    let traffic = std::thread::spawn(move || {
        lab(&[
            "call-in",
            "--did",
            DID,
            "--from",
            &from,
            "--talk",
            "2",
            "--count",
            &CALLS.to_string(),
            "--wait",
        ])
    });

    // Kill -9 once the engine has stored the first call's entry into the queue.
    let first_caller = callers[0].clone();
    wait_store(
        &scratch.store(),
        Duration::from_secs(30),
        "the first ENTERQUEUE",
        |s| {
            s.queue_log(TimeRange::new(started_at, UnixTime::MAX))
                .unwrap_or_default()
                .iter()
                .any(|r| r.event == QueueEvent::EnterQueue && r.data.get(1) == Some(&first_caller))
        },
    );
    assert!(
        !traffic.is_finished(),
        "the calls must still be in progress when the engine is killed"
    );
    let status = engine.kill9();
    assert!(!status.success(), "killed, not exited: {status:?}");
    let killed_at = t0.elapsed();

    std::thread::sleep(Duration::from_millis(1500));
    let mut engine = Engine::start(scratch.path(), "2");

    let out = traffic.join().unwrap();
    assert!(
        out.status.success(),
        "vm/lab call-in failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let traffic_done = t0.elapsed();

    // Asterisk has written everything of the calls once each caller has COMPLETE* in queue_log
    // and their CDRs; then the engine must catch up with a snapshot of both.
    let settle = Instant::now();
    let (after_acct, after_size) = loop {
        let acct = asterisk_max_acct_id();
        let (file, size) = queue_log_state();
        assert_eq!(file, log_file, "queue_log was rotated during the test");
        let lines = queue_log_lines(before_size, size);
        let complete = lines
            .iter()
            .filter(|(_, l)| l.contains("|COMPLETE"))
            .count();
        if complete >= CALLS as usize || settle.elapsed() > Duration::from_secs(30) {
            std::thread::sleep(Duration::from_secs(1)); // the last CDRs follow the hangup
            break (asterisk_max_acct_id().max(acct), queue_log_state().1);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let catch_up = wait_store(
        &scratch.store(),
        Duration::from_secs(30),
        "the engine to catch up",
        |s| caught_up(s, after_acct, log_file, after_size),
    );

    // The restarted engine reports itself healthy: AMI connected, ingestion caught up.
    let (code, body) = engine.healthz();
    assert_eq!(code, "200", "/healthz after catching up: {body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    assert!(body.contains("\"ami_connected\":true"), "{body}");

    // Graceful stop: SIGTERM ends the engine with success.
    let term = engine.sigterm().unwrap();
    assert!(term.success());
    let Some(status) = engine.wait_exit(Duration::from_secs(15)) else {
        let _ = engine.child.kill();
        panic!(
            "the engine did not stop on SIGTERM (logs in {})",
            scratch.path().display()
        );
    };
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");

    set_queue_members(&client, QUEUE, &previous_members).await;
    client.logoff().await.unwrap();

    // ---- CDRs: exactly Asterisk's rows in (before_acct, after_acct], once each.
    let store = SqliteJournal::open_read_only(&scratch.store()).unwrap();
    let all = store.cdrs(TimeRange::all()).unwrap();
    assert_eq!(
        store.count_cdrs(TimeRange::all()).unwrap(),
        all.len() as u64
    );
    let mut ours: Vec<(i64, String, i64)> = all
        .iter()
        .filter(|c| c.source_rowid > before_acct && c.source_rowid <= after_acct)
        .map(|c| (c.source_rowid, c.uniqueid.as_str().to_owned(), c.sequence))
        .collect();
    ours.sort();
    let theirs = asterisk_cdrs(before_acct, after_acct);
    assert!(
        theirs.len() >= CALLS as usize,
        "each call leaves a CDR: {theirs:?}"
    );
    assert_eq!(ours, theirs, "the store's CDRs are exactly Asterisk's");
    let distinct: BTreeSet<_> = all.iter().map(|c| c.source_rowid).collect();
    assert_eq!(distinct.len(), all.len(), "no CDR twice");
    let uid_seq: BTreeSet<_> = all
        .iter()
        .map(|c| (c.uniqueid.as_str(), c.sequence))
        .collect();
    assert_eq!(uid_seq.len(), all.len(), "no (uniqueid, sequence) twice");
    assert_eq!(
        all.len() as i64,
        asterisk_cdrs(0, after_acct).len() as i64,
        "the whole history up to the end is there too"
    );
    for caller in &callers {
        assert!(
            all.iter()
                .any(|c| c.source_rowid > before_acct && &c.src == caller && c.dst == DID),
            "a CDR for caller {caller}"
        );
    }

    // ---- queue_log: exactly the file's lines after the recorded offset, once each.
    let stored: Vec<_> = store
        .queue_log(TimeRange::new(UnixTime(started_at.0 - 5), UnixTime::MAX))
        .unwrap()
        .into_iter()
        .filter(|r| r.position.file == log_file && r.position.offset >= before_size)
        .collect();
    let stored_lines: Vec<(u64, String)> = stored
        .iter()
        .map(|r| {
            let mut fields = vec![
                r.time.0.to_string(),
                r.callid.clone(),
                r.queue.clone(),
                r.agent.clone(),
                r.event.as_str().to_owned(),
            ];
            fields.extend(r.data.iter().cloned());
            (r.position.offset, fields.join("|"))
        })
        .collect();
    let file_lines = queue_log_lines(before_size, after_size);
    assert_eq!(
        stored_lines, file_lines,
        "the store's queue_log is exactly the file's lines"
    );
    let positions: BTreeSet<_> = store
        .queue_log(TimeRange::all())
        .unwrap()
        .iter()
        .map(|r| r.position)
        .collect();
    assert_eq!(
        positions.len() as u64,
        store.count_queue_log(TimeRange::all()).unwrap(),
        "no queue_log line twice"
    );
    for caller in &callers {
        let callid = stored
            .iter()
            .find(|r| {
                r.event == QueueEvent::EnterQueue
                    && r.queue == QUEUE
                    && r.data.get(1) == Some(caller)
            })
            .unwrap_or_else(|| panic!("ENTERQUEUE of {caller}"))
            .callid
            .clone();
        let count = |want: &dyn Fn(&QueueEvent) -> bool| {
            stored
                .iter()
                .filter(|r| r.callid == callid && want(&r.event))
                .count()
        };
        assert_eq!(count(&|e| *e == QueueEvent::EnterQueue), 1, "{caller}");
        assert_eq!(count(&|e| *e == QueueEvent::Connect), 1, "{caller}");
        assert_eq!(
            count(&|e| matches!(e, QueueEvent::CompleteCaller | QueueEvent::CompleteAgent)),
            1,
            "{caller}"
        );
        let connect = stored
            .iter()
            .find(|r| r.callid == callid && r.event == QueueEvent::Connect)
            .unwrap();
        assert_eq!(connect.agent, PHONE, "answered by the only member");
    }

    // ---- The safety net never fired: every record was offered once.
    assert_eq!(store.duplicates_ignored(&cdr()).unwrap(), 0);
    assert_eq!(store.duplicates_ignored(&qlog()).unwrap(), 0);

    eprintln!(
        "live_journal: backlog {backlog:?}, killed at {killed_at:?}, traffic done at \
         {traffic_done:?}, caught up in {catch_up:?}, total {:?}; {} new CDRs, {} new queue_log lines",
        t0.elapsed(),
        theirs.len(),
        file_lines.len()
    );
}
