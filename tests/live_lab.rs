//! Live tier: the smoke test of the lab, through AMI, against the real Asterisk with SIPp phones
//! and the SIPp carrier (see `vm/README.md`). Built only with `--features live-lab`; the README's
//! test command brings the lab up and runs it.
//!
//! What it proves: the engine's AMI user logs in; an originate to a phone that answers is bridged
//! to a carrier number that answers; busy, no-answer, congestion and rejected numbers give their
//! outcomes; a supervisor listens in on a live call; ARI answers the engine's user; a `vm/lab call-in` call enters a queue and is answered by a logged-in member (and the
//! agent can hang up first); every one of these calls leaves a CDR row in the store Asterisk writes
//! for the engine, queue calls leave `queue_log` records, and recordings are not silent.
//!
//! Each test uses its own phones, so the tests run in parallel like real traffic.

mod live_support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use centralita::asterisk::ami::action::{
    CoreSettings, Originate, OriginateTarget, QueueAdd, QueueRemove, QueueStatus,
};
use centralita::asterisk::ami::{AmiClient, AmiError, AmiEvent, AmiMessage, AmiSettings};
use centralita::core::{Secret, UniqueId};
use live_support::{
    ami_host, ami_port, ami_secret, ami_user, cdr_db, env_or, lab, queue_log, recordings,
};
use tokio::sync::broadcast;

// ------------------------------------------------------------------ lab facts

fn settings(secret: &str) -> AmiSettings {
    let mut s = AmiSettings::new(ami_host(), ami_port(), ami_user(), Secret::new(secret));
    s.action_timeout = Duration::from_secs(10);
    s
}

async fn connect() -> AmiClient {
    AmiClient::connect(settings(&ami_secret()))
        .await
        .expect("the lab's AMI must accept the engine's user: is the lab up? (vm/lab up)")
}

/// A uniqueid no other run of these tests has used: Asterisk takes it as the channel's id.
fn fresh_id(tag: &str) -> UniqueId {
    static N: AtomicU32 = AtomicU32::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    UniqueId::new(format!(
        "smoke-{tag}-{}.{}-{}",
        now.as_secs(),
        now.subsec_micros(),
        N.fetch_add(1, Ordering::SeqCst)
    ))
}

// ------------------------------------------------------------------ event helpers

/// Waits for the first event that satisfies `pred`, skipping over lag.
async fn wait_event(
    rx: &mut broadcast::Receiver<AmiEvent>,
    within: Duration,
    what: &str,
    pred: impl Fn(&AmiMessage) -> bool,
) -> AmiEvent {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Err(_) => panic!("timed out after {within:?} waiting for {what}"),
            Ok(Ok(ev)) if pred(&ev) => return ev,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(e)) => panic!("event stream closed while waiting for {what}: {e}"),
        }
    }
}

fn is(ev: &AmiMessage, name: &str) -> bool {
    ev.event_name() == Some(name)
}

fn field<'a>(ev: &'a AmiMessage, key: &str) -> &'a str {
    ev.get(key).unwrap_or("")
}

/// Originates from `phone` into the engine's context towards `number` with a pre-assigned
/// uniqueid, so that no event of the call can be missed.
async fn originate(client: &AmiClient, phone: &str, number: &str, id: &UniqueId) -> AmiMessage {
    let action = Originate::new(
        &format!("PJSIP/{phone}"),
        OriginateTarget::extension("centralita-originate", number, 1).unwrap(),
    )
    .unwrap()
    .with_timeout(Duration::from_secs(20))
    .with_channel_id(id)
    .unwrap()
    .with_variable("DIAL_TIMEOUT", "5")
    .unwrap()
    .with_variable("CALLDATA", "test=smoke")
    .unwrap();
    client
        .send(&action)
        .await
        .expect("Originate must be queued")
}

// ------------------------------------------------------------------ store helpers

#[derive(Debug)]
struct CdrRow {
    src: String,
    dst: String,
    dstchannel: String,
    disposition: String,
    billsec: i64,
    uniqueid: String,
    linkedid: String,
    recordingfile: String,
    calldata: String,
}

/// The CDR rows Asterisk wrote for a call (by uniqueid or linkedid), polled until `want` holds.
fn cdr_rows(id: &str, want: impl Fn(&[CdrRow]) -> bool) -> Vec<CdrRow> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rows = read_cdr_rows(id);
        if want(&rows) || Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn read_cdr_rows(id: &str) -> Vec<CdrRow> {
    let db = cdr_db();
    let conn = match rusqlite::Connection::open_with_flags(
        &db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) {
        Ok(c) => c,
        Err(_) => return vec![],
    };
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    let mut stmt = match conn.prepare(
        "SELECT src, dst, dstchannel, disposition, CAST(billsec AS INTEGER), uniqueid, linkedid, \
         recordingfile, calldata FROM cdr WHERE uniqueid = ?1 OR linkedid = ?1 ORDER BY AcctId",
    ) {
        Ok(s) => s,
        Err(_) => return vec![],
    };
    stmt.query_map([id], |r| {
        Ok(CdrRow {
            src: r.get(0)?,
            dst: r.get(1)?,
            dstchannel: r.get(2)?,
            disposition: r.get(3)?,
            billsec: r.get(4)?,
            uniqueid: r.get(5)?,
            linkedid: r.get(6)?,
            recordingfile: r.get(7)?,
            calldata: r.get(8)?,
        })
    })
    .unwrap()
    .filter_map(Result::ok)
    .collect()
}

/// queue_log lines (fields split on `|`) whose call id is `callid`.
fn queue_log_for(callid: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(queue_log())
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f.len() > 4 && f[1] == callid)
        .collect()
}

/// RMS amplitude of a recording as `sox ... -n stat` measures it, once the file is complete.
fn recording_rms(relative: &str) -> f64 {
    let path = recordings().join(relative);
    wait_file_settled(&path);
    let out = Command::new("sox")
        .arg(&path)
        .args(["-n", "stat"])
        .output()
        .expect("sox runs");
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find(|l| l.starts_with("RMS     amplitude:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("sox stat of {} gave no RMS: {text}", path.display()))
}

fn wait_file_settled(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = None;
    loop {
        let size = std::fs::metadata(path).map(|m| m.len()).ok();
        if size.is_some() && size == last {
            return;
        }
        if Instant::now() > deadline {
            panic!("recording {} never settled (size {size:?})", path.display());
        }
        last = size;
        std::thread::sleep(Duration::from_millis(400));
    }
}

const SILENCE_RMS: f64 = 0.02;

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn ami_login_accepts_the_engine_and_refuses_a_wrong_secret() {
    let client = connect().await;
    let settings_reply = client.send(&CoreSettings).await.unwrap();
    let version = settings_reply.get("AsteriskVersion").unwrap_or("");
    assert!(
        version.starts_with("22."),
        "the lab runs Asterisk 22, AMI says {version:?}"
    );
    client.logoff().await.unwrap();

    match AmiClient::connect(settings("not-the-secret")).await {
        Err(AmiError::LoginFailed { .. }) => {}
        Err(other) => panic!("a wrong secret must fail the login, got {other}"),
        Ok(_) => panic!("a wrong secret must not log in"),
    }
}

#[tokio::test]
async fn ari_answers_the_engine_user_only() {
    let url = format!(
        "{}/asterisk/info",
        env_or("LAB_ARI_URL", "http://127.0.0.1:8088/ari")
    );
    let user = env_or("LAB_ARI_USER", "centralita");
    let secret = env_or("LAB_ARI_SECRET", "centralita-lab-ari");
    let get = |auth: String| {
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "-u", &auth, &url])
            .output()
            .expect("curl runs");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let ok = get(format!("{user}:{secret}"));
    assert!(ok.ends_with("\n200"), "ARI with the engine's user: {ok}");
    assert!(
        ok.contains("\"version\":\"22."),
        "ARI reports Asterisk 22: {ok}"
    );
    let refused = get(format!("{user}:wrong"));
    assert!(
        refused.ends_with("\n401"),
        "ARI refuses a wrong password: {refused}"
    );
}

#[tokio::test]
async fn originate_to_answering_phone_is_bridged_to_answering_carrier_number() {
    let client = connect().await;
    let mut events = client.subscribe();
    let id = fresh_id("answer");
    // 5551006: the carrier answers and hangs up after 6 s of talk.
    originate(&client, "1001", "5551006", &id).await;
    let uid = id.as_str();

    let resp = wait_event(
        &mut events,
        Duration::from_secs(15),
        "OriginateResponse",
        |e| is(e, "OriginateResponse") && field(e, "Uniqueid") == uid,
    )
    .await;
    assert_eq!(field(&resp, "Response"), "Success");
    assert_eq!(field(&resp, "Reason"), "4", "4 = answered");

    let dial = wait_event(&mut events, Duration::from_secs(15), "DialEnd", |e| {
        is(e, "DialEnd") && field(e, "Uniqueid") == uid
    })
    .await;
    assert_eq!(field(&dial, "DialStatus"), "ANSWER");
    let carrier_channel = field(&dial, "DestChannel").to_string();
    assert!(
        carrier_channel.starts_with("PJSIP/carrier-"),
        "dialed through the trunk: {carrier_channel}"
    );

    // both legs enter the same bridge
    let first = wait_event(&mut events, Duration::from_secs(10), "BridgeEnter", |e| {
        is(e, "BridgeEnter")
            && (field(e, "Uniqueid") == uid || field(e, "Channel") == carrier_channel)
    })
    .await;
    let bridge = field(&first, "BridgeUniqueid").to_string();
    wait_event(
        &mut events,
        Duration::from_secs(10),
        "second BridgeEnter",
        |e| {
            is(e, "BridgeEnter")
                && field(e, "BridgeUniqueid") == bridge
                && field(e, "Channel") != field(&first, "Channel")
        },
    )
    .await;

    // the supervisor (1100) listens in: *222 + extension in the supervisor context
    let spy_id = fresh_id("spy");
    let spy = Originate::new(
        "PJSIP/1100",
        OriginateTarget::extension("supervisor", "*2221001", 1).unwrap(),
    )
    .unwrap()
    .with_timeout(Duration::from_secs(10))
    .with_channel_id(&spy_id)
    .unwrap();
    client.send(&spy).await.expect("spy originate queued");
    let spy_start = wait_event(&mut events, Duration::from_secs(10), "ChanSpyStart", |e| {
        is(e, "ChanSpyStart") && field(e, "SpyerUniqueid") == spy_id.as_str()
    })
    .await;
    assert_eq!(
        field(&spy_start, "SpyeeUniqueid"),
        uid,
        "the supervisor listens to the agent's call"
    );

    // the carrier hangs up after its talk time: normal clearing
    let hangup = wait_event(&mut events, Duration::from_secs(20), "Hangup", |e| {
        is(e, "Hangup") && field(e, "Uniqueid") == uid
    })
    .await;
    assert_eq!(field(&hangup, "Cause"), "16", "normal clearing");

    let rows = cdr_rows(uid, |r| r.iter().any(|r| r.dst == "5551006"));
    let row = rows
        .iter()
        .find(|r| r.dst == "5551006")
        .unwrap_or_else(|| panic!("a CDR row for the call, got {rows:?}"));
    assert_eq!(row.disposition, "ANSWERED");
    assert_eq!(row.src, "1001");
    assert!(row.dstchannel.starts_with("PJSIP/carrier-"), "{row:?}");
    assert!(
        (5..=10).contains(&row.billsec),
        "about 6 s of talk: {row:?}"
    );
    assert_eq!(row.calldata, "test=smoke", "call data reaches the CDR");
    assert!(
        row.recordingfile.ends_with(&format!("/{uid}.wav")),
        "recording named by uniqueid in a day folder: {row:?}"
    );
    let rms = recording_rms(&row.recordingfile);
    assert!(rms > SILENCE_RMS, "recording is not silent: RMS {rms}");
    client.logoff().await.unwrap();
}

/// Originates to a carrier number with a fixed failure and checks the outcome the engine will
/// map: DialEnd status, the hangup cause of the phone's channel, and the CDR disposition.
async fn check_failed_outcome(
    phone: &str,
    number: &str,
    dial_status: &str,
    cause: &str,
    disposition: &str,
) {
    let client = connect().await;
    let mut events = client.subscribe();
    let id = fresh_id("fail");
    originate(&client, phone, number, &id).await;
    let uid = id.as_str();
    let dial = wait_event(&mut events, Duration::from_secs(20), "DialEnd", |e| {
        is(e, "DialEnd") && field(e, "Uniqueid") == uid
    })
    .await;
    assert_eq!(field(&dial, "DialStatus"), dial_status, "{number}");
    let hangup = wait_event(&mut events, Duration::from_secs(10), "Hangup", |e| {
        is(e, "Hangup") && field(e, "Uniqueid") == uid
    })
    .await;
    assert_eq!(field(&hangup, "Cause"), cause, "{number}: hangup cause");
    let rows = cdr_rows(uid, |r| r.iter().any(|r| r.dst == number));
    let row = rows
        .iter()
        .find(|r| r.dst == number)
        .unwrap_or_else(|| panic!("a CDR row for {number}, got {rows:?}"));
    assert_eq!(row.disposition, disposition, "{number}: {row:?}");
    assert!(
        row.dstchannel.starts_with("PJSIP/carrier-"),
        "{number}: the attempt went to the trunk: {row:?}"
    );
    client.logoff().await.unwrap();
}

#[tokio::test]
async fn busy_number_gives_busy() {
    check_failed_outcome("1002", "5552000", "BUSY", "17", "BUSY").await;
}

#[tokio::test]
async fn unanswered_number_gives_no_answer_after_the_ring_timeout() {
    check_failed_outcome("1003", "5553000", "NOANSWER", "19", "NO ANSWER").await;
}

#[tokio::test]
async fn congested_number_gives_congestion() {
    check_failed_outcome("1004", "5554000", "CONGESTION", "34", "CONGESTION").await;
}

#[tokio::test]
async fn rejecting_number_gives_call_rejected() {
    check_failed_outcome("1005", "5556000", "NOANSWER", "21", "NO ANSWER").await;
}

/// Leaves exactly `members` logged in to `queue` (member name = extension).
/// Empties `queue` of its members when dropped, on a runtime of its own (also when the test
/// panics).
struct QueueMembersGuard(&'static str);

impl Drop for QueueMembersGuard {
    fn drop(&mut self) {
        let queue = self.0;
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let client = connect().await;
                set_queue_members(&client, queue, &[]).await;
                let _ = client.logoff().await;
            });
        })
        .join()
        .ok();
    }
}

async fn set_queue_members(client: &AmiClient, queue: &str, members: &[&str]) {
    let (_, list) = client
        .send_list(&QueueStatus::new(Some(queue), None).unwrap())
        .await
        .unwrap();
    for m in list.iter().filter(|e| is(e, "QueueMember")) {
        let iface = field(m, "StateInterface");
        let iface = if iface.is_empty() {
            field(m, "Location")
        } else {
            iface
        };
        if !members.iter().any(|x| iface == format!("PJSIP/{x}")) {
            client
                .send(&QueueRemove::new(queue, field(m, "Location")).unwrap())
                .await
                .unwrap();
        }
    }
    for m in members {
        let iface = format!("PJSIP/{m}");
        let add = QueueAdd::new(queue, &iface)
            .unwrap()
            .with_member_name(m)
            .unwrap()
            .with_state_interface(&iface)
            .unwrap();
        match client.send(&add).await {
            Ok(_) => {}
            // already a member (persistent members survive restarts)
            Err(AmiError::ActionFailed { message, .. }) if message.contains("Already") => {}
            Err(e) => panic!("QueueAdd {m}: {e}"),
        }
    }
}

fn call_in(did: &str, from: &str, talk: u32, hangup: &str) -> std::process::Output {
    lab(&[
        "call-in",
        "--did",
        did,
        "--from",
        from,
        "--talk",
        &talk.to_string(),
        "--hangup",
        hangup,
        "--count",
        "1",
        "--wait",
    ])
}

/// One inbound call through `vm/lab call-in` into q_soporte; returns the caller's uniqueid.
async fn inbound_call_answered_by_member(
    client: &AmiClient,
    from: &str,
    hangup: &str,
) -> (String, String) {
    let mut events = client.subscribe();
    let from_owned = from.to_string();
    let hangup_owned = hangup.to_string();
    let run =
        tokio::task::spawn_blocking(move || call_in("26002000", &from_owned, 3, &hangup_owned));

    let join = wait_event(
        &mut events,
        Duration::from_secs(15),
        "QueueCallerJoin",
        |e| is(e, "QueueCallerJoin") && field(e, "CallerIDNum") == from,
    )
    .await;
    assert_eq!(field(&join, "Queue"), "q_soporte");
    let callid = field(&join, "Uniqueid").to_string();

    let connect = wait_event(&mut events, Duration::from_secs(40), "AgentConnect", |e| {
        is(e, "AgentConnect") && field(e, "Uniqueid") == callid
    })
    .await;
    let member = field(&connect, "MemberName").to_string();
    assert!(
        member == "1007" || member == "1008",
        "answered by a logged-in member of q_soporte, not {member:?}"
    );
    let complete = wait_event(&mut events, Duration::from_secs(20), "AgentComplete", |e| {
        is(e, "AgentComplete") && field(e, "Uniqueid") == callid
    })
    .await;
    let expected_reason = if hangup == "agent" { "agent" } else { "caller" };
    assert_eq!(field(&complete, "Reason"), expected_reason);

    let out = run.await.unwrap();
    assert!(
        out.status.success(),
        "call-in reports the call completed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (callid, member)
}

#[tokio::test]
async fn call_in_enters_queue_and_is_answered_by_a_logged_in_member() {
    let client = connect().await;
    set_queue_members(&client, "q_soporte", &["1007", "1008"]).await;
    // Members left in q_soporte would take the next tests' calls: removed even if this fails.
    let _members = QueueMembersGuard("q_soporte");

    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000;
    let caller_a = format!("0981{stamp:06}");
    let caller_b = format!("0982{stamp:06}");

    // caller hangs up first, then (on the other member) the agent hangs up first
    let (call_a, member_a) = inbound_call_answered_by_member(&client, &caller_a, "caller").await;
    let (call_b, _) = inbound_call_answered_by_member(&client, &caller_b, "agent").await;

    for (callid, caller, member, end) in [
        (&call_a, &caller_a, Some(&member_a), "COMPLETECALLER"),
        (&call_b, &caller_b, None, "COMPLETEAGENT"),
    ] {
        // queue_log: ENTERQUEUE (with the caller id) -> CONNECT -> COMPLETE*, in that order
        let lines = queue_log_for(callid);
        let kinds: Vec<&str> = lines.iter().map(|f| f[4].as_str()).collect();
        let pos = |k: &str| kinds.iter().position(|x| *x == k);
        let (enter, conn, done) = (pos("ENTERQUEUE"), pos("CONNECT"), pos(end));
        assert!(
            enter.is_some() && conn.is_some() && done.is_some() && enter < conn && conn < done,
            "queue_log for {callid}: {kinds:?}"
        );
        let enter_line = &lines[enter.unwrap()];
        assert_eq!(enter_line[2], "q_soporte");
        assert!(enter_line.iter().any(|f| f == caller), "{enter_line:?}");
        if let Some(m) = member {
            assert_eq!(&lines[conn.unwrap()][3], m, "CONNECT names the member");
        }

        // CDR: the caller's leg, answered, with its recording; the recording is not silent
        let rows = cdr_rows(callid, |r| {
            r.iter()
                .any(|r| r.uniqueid == *callid && r.disposition == "ANSWERED")
        });
        let row = rows
            .iter()
            .find(|r| r.uniqueid == *callid && r.disposition == "ANSWERED")
            .unwrap_or_else(|| panic!("an answered CDR row for {callid}: {rows:?}"));
        assert_eq!(row.src, *caller);
        assert_eq!(row.dst, "26002000", "the DID is the destination");
        assert!(row.linkedid == *callid, "{row:?}");
        assert!(row.billsec >= 2, "{row:?}");
        let rms = recording_rms(&row.recordingfile);
        assert!(
            rms > SILENCE_RMS,
            "queue call recording is not silent: RMS {rms}"
        );
    }
    set_queue_members(&client, "q_soporte", &[]).await;
    client.logoff().await.unwrap();
}
