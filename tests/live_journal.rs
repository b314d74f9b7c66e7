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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use centralita::asterisk::ami::action::{QueueAdd, QueueRemove, QueueStatus};
use centralita::asterisk::ami::{AmiClient, AmiError, AmiSettings};
use centralita::asterisk::queue_log::file_id;
use centralita::core::{
    FileId, JournalStore, QueueEvent, SourceCursor, SourceId, TimeRange, UnixTime,
};
use centralita::store::SqliteJournal;

const QUEUE: &str = "q_ventas";
const DID: &str = "26001000";
const PHONE: &str = "1006";
const CALLS: u32 = 3;

// ------------------------------------------------------------------ lab facts

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn lab_root() -> PathBuf {
    PathBuf::from(env_or("LAB_ROOT", "/var/cache/centralita/lab-root"))
}

fn cdr_db() -> PathBuf {
    lab_root().join("var/log/asterisk/master.db")
}

fn queue_log() -> PathBuf {
    lab_root().join("var/log/asterisk/queue_log")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ami_host() -> String {
    env_or("LAB_AMI_HOST", "127.0.0.1")
}

fn ami_port() -> u16 {
    env_or("LAB_AMI_PORT", "5038")
        .parse()
        .expect("LAB_AMI_PORT")
}

fn ami_user() -> String {
    env_or("LAB_AMI_USER", "centralita")
}

fn ami_secret() -> String {
    env_or("LAB_AMI_SECRET", "centralita-lab-ami")
}

async fn connect() -> AmiClient {
    let settings = AmiSettings::new(
        ami_host(),
        ami_port(),
        ami_user(),
        centralita::core::Secret::new(ami_secret()),
    );
    AmiClient::connect(settings)
        .await
        .expect("the lab's AMI must accept the engine's user: is the lab up? (vm/lab up)")
}

/// The queue's member interfaces (`PJSIP/...`).
async fn queue_members(client: &AmiClient, queue: &str) -> Vec<String> {
    let (_, list) = client
        .send_list(&QueueStatus::new(Some(queue), None).unwrap())
        .await
        .unwrap();
    list.iter()
        .filter(|e| e.event_name() == Some("QueueMember"))
        .map(|m| {
            let iface = m.get("StateInterface").unwrap_or("");
            if iface.is_empty() {
                m.get("Location").unwrap_or("").to_owned()
            } else {
                iface.to_owned()
            }
        })
        .collect()
}

/// Makes `members` (interfaces) exactly the queue's members.
async fn set_queue_members(client: &AmiClient, queue: &str, members: &[String]) {
    for iface in queue_members(client, queue).await {
        if !members.contains(&iface) {
            client
                .send(&QueueRemove::new(queue, &iface).unwrap())
                .await
                .unwrap();
        }
    }
    for iface in members {
        let name = iface.rsplit('/').next().unwrap_or(iface);
        let add = QueueAdd::new(queue, iface)
            .unwrap()
            .with_member_name(name)
            .unwrap()
            .with_state_interface(iface)
            .unwrap();
        match client.send(&add).await {
            Ok(_) => {}
            Err(AmiError::ActionFailed { message, .. }) if message.contains("Already") => {}
            Err(e) => panic!("QueueAdd {iface}: {e}"),
        }
    }
}

// ------------------------------------------------------------------ Asterisk's side

/// `(AcctId, uniqueid, sequence)` of Asterisk's CDR rows with `AcctId` in `(after, upto]`.
fn asterisk_cdrs(after: i64, upto: i64) -> Vec<(i64, String, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(cdr_db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("master.db opens");
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT AcctId, uniqueid, CAST(sequence AS INTEGER) FROM cdr \
             WHERE AcctId > ?1 AND AcctId <= ?2 ORDER BY AcctId",
        )
        .unwrap();
    stmt.query_map([after, upto], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn asterisk_max_acct_id() -> i64 {
    let conn = match rusqlite::Connection::open_with_flags(
        cdr_db(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) {
        Ok(c) => c,
        Err(_) => return 0,
    };
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    conn.query_row("SELECT coalesce(max(AcctId), 0) FROM cdr", [], |r| r.get(0))
        .unwrap_or(0)
}

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

// ------------------------------------------------------------------ the engine

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "centralita-live-journal-{}-{}",
            std::process::id(),
            now.as_micros()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Keep the engine's logs and store when the test failed.
        if std::thread::panicking() {
            eprintln!("engine logs and store kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("centralita.toml");
    let text = format!(
        "[engine]\ntimezone = \"America/Montevideo\"\n\n\
         [store]\npath = {:?}\n\n\
         [[node]]\nname = \"pbx1\"\ncdr_db = {:?}\nqueue_log = {:?}\npoll_interval_ms = 200\n\n\
         [node.ami]\nhost = {:?}\nport = {}\nusername = {:?}\nsecret = {:?}\n\n\
         [http]\nbind = \"127.0.0.1:0\"\n",
        dir.join("journal.db"),
        cdr_db(),
        queue_log(),
        ami_host(),
        ami_port(),
        ami_user(),
        ami_secret(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn start_engine(dir: &Path, config: &Path, run: &str) -> Child {
    let log = std::fs::File::create(dir.join(format!("engine-{run}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_centralita"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "info,centralita=debug")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("the engine starts")
}

/// `GET /healthz` of the engine of run `run`: its address is the one its log says it listens on.
fn healthz(dir: &Path, run: &str) -> (String, String) {
    let log = std::fs::read_to_string(dir.join(format!("engine-{run}.log"))).unwrap_or_default();
    let plain: String = strip_ansi(&log);
    let addr = plain
        .lines()
        .find_map(|l| l.split("HTTP listening addr=").nth(1))
        .map(|a| a.split_whitespace().next().unwrap_or("").to_string())
        .unwrap_or_else(|| {
            panic!(
                "the engine logs its HTTP address (logs in {})",
                dir.display()
            )
        });
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            &format!("http://{addr}/healthz"),
        ])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (code.to_string(), body.to_string())
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Polls the engine's store (read-only, beside the running engine) until `done` holds.
fn wait_store(
    dir: &Path,
    within: Duration,
    what: &str,
    done: impl Fn(&SqliteJournal) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(store) = SqliteJournal::open_read_only(&dir.join("journal.db")) {
            if done(&store) {
                return started.elapsed();
            }
        }
        if started.elapsed() > within {
            panic!(
                "timed out after {within:?} waiting for {what} (logs in {})",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

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
    let scratch = Scratch::new();
    let dir = scratch.0.clone();
    let started_at = UnixTime::now();

    let client = connect().await;
    let previous_members = queue_members(&client, QUEUE).await;
    set_queue_members(&client, QUEUE, &[format!("PJSIP/{PHONE}")]).await;

    let before_acct = asterisk_max_acct_id();
    let (log_file, before_size) = queue_log_state();

    let config = write_config(&dir);
    let mut engine = start_engine(&dir, &config, "1");
    // The first run catches up with the whole history so far.
    let backlog = wait_store(&dir, Duration::from_secs(30), "the backlog", |s| {
        caught_up(s, before_acct, log_file, before_size)
    });

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
        Command::new(repo().join("vm/lab"))
            .args(["call-in", "--did", DID, "--from", &from, "--talk", "2"])
            .args(["--count", &CALLS.to_string(), "--wait"])
            .output()
            .expect("vm/lab call-in runs")
    });

    // Kill -9 once the engine has stored the first call's entry into the queue.
    let first_caller = callers[0].clone();
    wait_store(&dir, Duration::from_secs(30), "the first ENTERQUEUE", |s| {
        s.queue_log(TimeRange::new(started_at, UnixTime::MAX))
            .unwrap_or_default()
            .iter()
            .any(|r| r.event == QueueEvent::EnterQueue && r.data.get(1) == Some(&first_caller))
    });
    assert!(
        !traffic.is_finished(),
        "the calls must still be in progress when the engine is killed"
    );
    engine.kill().expect("SIGKILL");
    let status = engine.wait().unwrap();
    assert!(!status.success(), "killed, not exited: {status:?}");
    let killed_at = t0.elapsed();

    std::thread::sleep(Duration::from_millis(1500));
    let mut engine = start_engine(&dir, &config, "2");

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
        &dir,
        Duration::from_secs(30),
        "the engine to catch up",
        |s| caught_up(s, after_acct, log_file, after_size),
    );

    // The restarted engine reports itself healthy: AMI connected, ingestion caught up.
    let (code, body) = healthz(&dir, "2");
    assert_eq!(code, "200", "/healthz after catching up: {body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    assert!(body.contains("\"ami_connected\":true"), "{body}");

    // Graceful stop: SIGTERM ends the engine with success.
    let term = Command::new("kill")
        .args(["-TERM", &engine.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = engine.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = engine.kill();
            panic!(
                "the engine did not stop on SIGTERM (logs in {})",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");

    set_queue_members(&client, QUEUE, &previous_members).await;
    client.logoff().await.unwrap();

    // ---- CDRs: exactly Asterisk's rows in (before_acct, after_acct], once each.
    let store = SqliteJournal::open_read_only(&dir.join("journal.db")).unwrap();
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
