//! Live tier: the uContact Integra facade driven by real clients (Python `requests`, curl)
//! against the real engine and the lab's Asterisk, with phone 1007 in queue `q_cobranza`.
//!
//! One integration: a session; `AgentCallwithData` rings the agent's phone and then the
//! carrier through the campaign's trunk; `campaignstatus` shows the agent busy; `HangupPhone`
//! ends the call; `DispositionCall` with a BLACKLIST disposition; a new `AgentCall` to that
//! number refused; `getrecords` finds the call's row and guid; the MP3 at
//! `records/<YYYYMMDD>/<guid>.mp3` decodes (`lame --decode`) and is not silent (`sox stat`);
//! the row's signed `record_url` opens the MP3 and the `.gsm` without `Authorization` and plays in
//! headless Chromium's `<audio src>`, a tampered or expired link fails there and answers 403;
//! `EndSession` invalidates the token. And the blacklist operations through curl, with the
//! direction rule.
//!
//! The inbound blacklist (curl, `inbound_blacklist.sh`), which the dialplan asks the engine
//! over FastAGI: callers of DID 26003000 (`vm/lab call-in`) listed for the campaign's inbound
//! calls or for every campaign are refused with cause 21 and never enter q_cobranza; callers
//! listed for outbound calls only, or until a past day, are answered; once the entries are
//! deleted the same caller is answered at once. Nothing of it is in AstDB (the engine's AMI
//! user cannot write there).
//!
//! campaignstatus through curl (`campaignstatus.sh`): the queue's strategy and wrap-up time, the
//! member's penalty and last queue call, the pause reason's name, a caller waiting as an ACD
//! call while the member is paused.
//!
//! Then the engine restarts (`session.sh`): a session opened before is still valid on the new
//! process, `EndSession` ends it there. While it is down, a caller the BLACKLIST disposition
//! listed is let into the queue (the dialplan fails open and logs that the blacklist was not
//! checked); once it is back, the same caller is refused again.

#![cfg(feature = "live-lab")]

mod live_support;

use std::process::Command;
use std::time::Duration;

use centralita::asterisk::ami::action::{DbGetTree, QueueAdd, QueuePause, QueueRemove};
use centralita::asterisk::ami::AmiClient;
use live_support::*;

const QUEUE: &str = "q_cobranza";
const PHONE: &str = "1007";
const CAMPAIGN: &str = "Cobranza->";

const EXTRA: &str = r#"
[[campaigns.campaign]]
name = "Cobranza->"
queue = "q_cobranza"
outbound = true
trunk = "carrier"
callerid = "26003000"
[[campaigns.campaign.disposition]]
l1 = "Promesa"
txtcode = "PP"
[[campaigns.campaign.disposition]]
l1 = "No llamar"
l2 = "Pidio"
action = "BLACKLIST"
txtcode = "NL"

[[campaigns.campaign]]
name = "Pruebas->"
outbound = true
trunk = "otro_carrier"
"#;

/// Removes the queue member the test added, also when the test fails.
struct Member;

impl Drop for Member {
    fn drop(&mut self) {
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let client = connect().await;
                let iface = format!("PJSIP/{PHONE}");
                let _ = client.send(&QueueRemove::new(QUEUE, &iface).unwrap()).await;
                let _ = client.logoff().await;
            })
        })
        .join()
        .ok();
    }
}

/// The callers of the inbound blacklist part: listed for the campaign's inbound calls, listed
/// for every campaign, listed for outbound calls only, listed until a past day.
const P_QUEUE: &str = "0985550301";
const P_ALL: &str = "0985550302";
const P_OUT: &str = "0985550303";
const P_EXPIRED: &str = "0985550304";

/// The AstDB keys under `blacklist` (`/blacklist/<family>/<number>`): none, since the engine
/// no longer keeps a copy of its blacklist there (`vm/lab` removes what an older run left).
async fn blacklist_keys(ami: &AmiClient) -> Vec<String> {
    let (_, events) = ami
        .send_list(&DbGetTree::new("blacklist", None).unwrap())
        .await
        .unwrap();
    events
        .iter()
        .filter_map(|e| e.get("Key").map(str::to_owned))
        .collect()
}

/// The hang-up cause of each carrier channel (the inbound caller's leg) in `events`, by the
/// caller's number.
fn carrier_causes(
    events: &mut tokio::sync::broadcast::Receiver<centralita::asterisk::ami::AmiEvent>,
) -> std::collections::BTreeMap<String, String> {
    let mut causes = std::collections::BTreeMap::new();
    while let Ok(e) = events.try_recv() {
        if e.event_name() == Some("Hangup")
            && e.get("Channel")
                .is_some_and(|c| c.starts_with("PJSIP/carrier-"))
        {
            causes.insert(
                e.get("CallerIDNum").unwrap_or("").to_owned(),
                e.get("Cause").unwrap_or("").to_owned(),
            );
        }
    }
    causes
}

/// Asterisk's log from byte `from` on.
fn asterisk_log_since(from: u64) -> String {
    let bytes = std::fs::read(lab_root().join("var/log/asterisk/messages")).unwrap_or_default();
    String::from_utf8_lossy(&bytes[(from as usize).min(bytes.len())..]).into_owned()
}

fn asterisk_log_len() -> u64 {
    std::fs::metadata(lab_root().join("var/log/asterisk/messages")).map_or(0, |m| m.len())
}

/// One inbound call to q_cobranza's DID from `from`, waited for; whether every call completed.
fn call_in(from: &str) -> bool {
    let out = lab(&[
        "call-in", "--did", "26003000", "--from", from, "--talk", "2",
    ]);
    eprintln!(
        "call-in from {from}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out.status.success()
}

/// The queue_log lines of q_cobranza from byte `offset` on with `event` and `caller`.
fn queue_log_has(offset: u64, event: &str, caller: &str) -> bool {
    let text = std::fs::read(queue_log()).unwrap();
    let tail = String::from_utf8_lossy(&text[offset as usize..]).into_owned();
    tail.lines().any(|l| {
        let f: Vec<&str> = l.split('|').collect();
        f.len() > 6 && f[2] == QUEUE && f[4] == event && f[6] == caller
    })
}

fn client(name: &str) -> std::path::PathBuf {
    repo().join("tests/clients/ucontact").join(name)
}

/// What headless Chromium's `<audio src>` made of `url` (`tests/clients/ucontact/html5_player.sh`).
fn html5_player(url: &str) -> String {
    let out = Command::new("sh")
        .arg(client("html5_player.sh"))
        .arg(url)
        .output()
        .expect("html5_player.sh runs");
    assert!(out.status.success(), "html5_player.sh: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_owned()
}

fn lines(out: &str) -> std::collections::BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_integration_through_python_requests_and_curl() {
    let scratch = Scratch::new("live-ucontact");
    let mut engine = Engine::start_with(scratch.path(), "ucontact", EXTRA);
    wait_health(
        &engine,
        Duration::from_secs(30),
        "the engine healthy",
        |code, _| code == "200",
    );
    engine.admin(
        &[
            "agent",
            "add",
            "2307",
            "--name",
            "Agente Siete",
            "--username",
            "cob7",
            "--queue",
            QUEUE,
            "--extension",
            PHONE,
            "--password-stdin",
        ],
        "pw-cob7\n",
    );
    engine.admin(
        &[
            "agent",
            "add",
            "2308",
            "--name",
            "Supervisora",
            "--username",
            "cobsup",
            "--queue",
            QUEUE,
            "--extension",
            "1008",
            "--supervisor",
            "--password-stdin",
        ],
        "pw-cobsup\n",
    );

    // The agent's phone in the campaign's queue (member name: the agent's number).
    let ami = connect().await;
    let _member = Member;
    let iface = format!("PJSIP/{PHONE}");
    let add = QueueAdd::new(QUEUE, &iface)
        .unwrap()
        .with_member_name("2307")
        .unwrap()
        .with_state_interface(&iface)
        .unwrap()
        .with_penalty(2);
    if let Err(e) = ami.send(&add).await {
        assert!(e.to_string().contains("Already"), "QueueAdd: {e}");
    }
    let base = engine.base_url();

    // curl: the blacklist operations and the direction rule.
    let (ok, out, err) = run_client(
        "sh",
        &client("blacklist.sh"),
        &[
            &base,
            "cobsup",
            "pw-cobsup",
            CAMPAIGN,
            PHONE,
            "5551991",
            "5552992",
        ],
    );
    eprintln!("blacklist.sh:\n{out}{err}");
    assert!(ok, "blacklist.sh failed: {err}");
    let got = lines(&out);
    assert_eq!(got["token_length"], "64");
    assert_eq!(got["addblack"], "1 200");
    assert_eq!(got["addblackbulk"], "1 200");
    assert_eq!(
        got["call_outbound_blacklisted"], "0",
        "blacklisted for outbound calls"
    );
    assert!(
        is_guid(&got["call_inbound_only_blacklisted"]),
        "an inbound-only entry does not stop an outbound call: {}",
        got["call_inbound_only_blacklisted"]
    );
    assert_eq!(got["addblack_bad"], "0 200");
    assert_eq!(got["deleteblack"], "1 200");
    assert_eq!(got["deleteblackbulk"], "1 200");
    assert_eq!(got["endsession"], "1");
    assert_eq!(got["after_end"], "Unauthorized 401");

    // Python requests: the whole integration.
    let mp3 = scratch.path().join("call.mp3");
    let (ok, out, err) = run_client(
        &python(),
        &client("integration.py"),
        &[
            &base,
            "cobsup",
            "pw-cobsup",
            "cob7",
            PHONE,
            CAMPAIGN,
            "5551006",
            mp3.to_str().unwrap(),
            "5551030",
            "Pruebas->",
        ],
    );
    eprintln!("integration.py:\n{out}{err}");
    assert!(ok, "integration.py failed: {err}");
    let s: serde_json::Value =
        serde_json::from_str(out.lines().last().expect("a summary")).expect("JSON summary");
    assert_eq!(s["no_token_status"], 401);
    assert_eq!(s["token_length"], 64);
    let guid = s["guid"].as_str().unwrap().to_owned();
    assert!(is_guid(&guid));
    // The lab's phones take one call at a time (`device_state_busy_at = 1`): BUSY, not INUSE.
    assert_eq!(s["agent_status"], 3, "BUSY while talking");
    assert!(s["campaign_busy"].as_u64().unwrap() >= 1);
    assert_eq!(s["agent_name"], "Agente Siete");
    assert_eq!(s["agent_incall"], 1);
    assert_eq!(s["campaignstatus_all_has_campaign"], true);
    assert_eq!(
        s["campaignstatus_all_has_agents"], false,
        "agents only with `queue`"
    );
    assert!(s["queuesummary_logged_in"].as_u64().unwrap() >= 1);
    assert_eq!(s["queuesummary_last_is_marker"], true);
    assert_eq!(s["hangup"], "1");
    assert_eq!(s["hangup_again"], "0", "nothing left to hang up");
    assert_eq!(s["disposition"]["result"], "ok");
    assert_eq!(s["disposition"]["txtcode"], "NL");
    assert_eq!(s["disposition_empty_l1"], "Wrong parameters: Empty value1");
    assert_eq!(s["call_blacklisted"], "0");

    // The row: the agent's phone rang first, then the carrier number through the trunk.
    let row = &s["row"];
    assert_eq!(row["guid"], guid.as_str());
    assert_eq!(row["type"], "record");
    assert_eq!(row["campaign"], CAMPAIGN);
    assert_eq!(row["direction"], "outbound");
    assert_eq!(row["carrier"], "carrier");
    assert_eq!(row["dst"], "5551006");
    assert_eq!(row["disposition"], "ANSWERED");
    assert!(
        row["channel"].as_str().unwrap().starts_with("PJSIP/1007-"),
        "{}",
        row["channel"]
    );
    assert!(row["dstchannel"]
        .as_str()
        .unwrap()
        .starts_with("PJSIP/carrier-"));
    let data = row["parandvalues"].as_str().unwrap_or("");
    assert!(
        data.contains("idcliente=77") && data.contains("origen=crm"),
        "the call's data reached the CDR: {data}"
    );
    assert_eq!(row["note"], "pidio no ser llamado");
    assert_eq!(
        row["causecode"], "16",
        "the agent's channel ended normally (Q.850 16)"
    );
    assert!(
        row["billsec"].as_u64().unwrap() >= 5,
        "the customer talked 6 s: {}",
        row["billsec"]
    );
    assert_eq!(s["found_by_tag"], true);

    // The other campaign's trunk (`TRUNK` on the call) is the one dialed: the lab's second
    // trunk to the carrier (vm/asterisk/pjsip-lab.conf). A trunk the PBX does not have is
    // refused before anything is sent (tests/app_fake_ami.rs).
    let other = &s["trunk_row"];
    assert_eq!(other["campaign"], "Pruebas->");
    assert!(
        other["lastdata"]
            .as_str()
            .unwrap()
            .starts_with("PJSIP/5551030@otro_carrier,"),
        "{}",
        other["lastdata"]
    );

    // The MP3 decodes and carries the call's audio.
    assert_eq!(s["mp3_content_type"], "audio/mpeg");
    assert_eq!(s["flat_same"], true);
    assert_eq!(s["mp3_no_token_status"], 401);
    assert_eq!(s["convert"], "1");
    let wav = scratch.path().join("call.wav");
    let out = Command::new("lame")
        .args(["--quiet", "--decode"])
        .arg(&mp3)
        .arg(&wav)
        .output()
        .unwrap();
    assert!(out.status.success(), "lame --decode: {:?}", out);
    let out = Command::new("sox")
        .arg(&wav)
        .args(["-n", "stat"])
        .output()
        .unwrap();
    let stat = String::from_utf8_lossy(&out.stderr);
    let rms: f64 = stat
        .lines()
        .find(|l| l.starts_with("RMS     amplitude"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("sox stat: {stat}"));
    assert!(rms > 0.05, "the recording is not silent: RMS {rms}");

    // The signed links: they open the recording without Authorization, as MP3 and GSM.
    assert_eq!(s["link_status"], 200);
    assert_eq!(s["link_same"], true, "the link serves the same MP3");
    assert_eq!(s["gsm_status"], 200);
    assert_eq!(s["gsm_content_type"], "audio/x-gsm");
    let gsm_bytes = s["gsm_bytes"].as_u64().unwrap();
    assert!(
        gsm_bytes > 0 && gsm_bytes.is_multiple_of(33),
        "whole GSM frames: {gsm_bytes}"
    );
    assert_eq!(s["gsm_day_link_status"], 200);
    assert_eq!(s["gsm_authorized_status"], 200);
    // An HTML5 player (headless Chromium, `<audio src>`) loads the link and can play it.
    let url = s["record_url"].as_str().unwrap().to_owned();
    let played = html5_player(&url);
    let duration: f64 = played
        .strip_prefix("canplaythrough duration=")
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("the player did not load {url}: {played}"));
    assert!(duration > 1.0, "the call lasted seconds: {duration}");
    // A tampered link (a later expiry) and an expired one (signed with the engine's own key,
    // issued two hours ago) fail in the player and answer 403.
    let (path, query) = url.split_once('?').unwrap();
    let expires: i64 = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("expires="))
        .unwrap()
        .parse()
        .unwrap();
    let tampered = url.replace(
        &format!("expires={expires}"),
        &format!("expires={}", expires + 86_400),
    );
    let key = centralita::store::SqliteInstallKeys::open(&scratch.store())
        .unwrap()
        .record_links_key()
        .unwrap();
    let links = centralita::core::record_links::RecordLinks::new(key, Duration::from_secs(3600));
    let guid_parsed = centralita::core::recordings::Guid::parse(&guid).unwrap();
    let old = links.issue(
        &guid_parsed,
        centralita::core::UnixTime(centralita::core::UnixTime::now().seconds() - 7200),
    );
    let expired = format!("{path}?{}", old.query());
    for (what, bad) in [("tampered", &tampered), ("expired", &expired)] {
        let played = html5_player(bad);
        assert!(
            played.starts_with("error code="),
            "the {what} link must not play: {played}"
        );
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", bad])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "403", "{what}");
    }

    assert_eq!(s["end_session"], "1");
    assert_eq!(s["after_end_status"], 401);

    // The inbound blacklist, asked of the engine by the dialplan (FastAGI).
    let numbers = [P_QUEUE, P_ALL, P_OUT, P_EXPIRED];
    let script = client("inbound_blacklist.sh");
    let (ok, out, err) = run_client(
        "sh",
        &script,
        &[
            &[&base, "cobsup", "pw-cobsup", CAMPAIGN, "add"][..],
            &numbers[..],
        ]
        .concat(),
    );
    eprintln!("inbound_blacklist.sh add:\n{out}{err}");
    assert!(ok, "inbound_blacklist.sh add failed: {err}");
    let got = lines(&out);
    assert_eq!(
        (got["addblack"].as_str(), got["addblackbulk"].as_str()),
        ("1 200", "1 200")
    );

    // Listed callers are refused (cause 21) before the queue, at once; the others are answered.
    let log_start = std::fs::metadata(queue_log()).map_or(0, |m| m.len());
    let mut events = ami.subscribe();
    assert!(
        !call_in(P_QUEUE),
        "the caller listed for the campaign is refused"
    );
    assert!(
        !call_in(P_ALL),
        "the caller listed for every campaign is refused"
    );
    assert!(
        call_in(P_OUT),
        "a caller listed for outbound calls only is answered"
    );
    assert!(
        call_in(P_EXPIRED),
        "a caller listed until a past day is answered"
    );
    let causes = carrier_causes(&mut events);
    assert_eq!(
        (causes.get(P_QUEUE), causes.get(P_ALL)),
        (Some(&"21".to_owned()), Some(&"21".to_owned())),
        "{causes:?}"
    );
    assert!(!queue_log_has(log_start, "ENTERQUEUE", P_QUEUE));
    assert!(!queue_log_has(log_start, "ENTERQUEUE", P_ALL));
    assert!(queue_log_has(log_start, "ENTERQUEUE", P_OUT));
    assert!(queue_log_has(log_start, "ENTERQUEUE", P_EXPIRED));
    let log = engine.log_text();
    for n in [P_QUEUE, P_ALL] {
        assert!(
            log.lines()
                .any(|l| l.contains("inbound caller blacklisted: refused") && l.contains(n)),
            "the engine logs the refusal of {n}"
        );
    }
    // The engine keeps nothing of it in AstDB.
    assert_eq!(blacklist_keys(&ami).await, Vec::<String>::new());

    // Deleted entries are no longer answered as listed: the caller is let in at once.
    let (ok, out, err) = run_client(
        "sh",
        &script,
        &[
            &[&base, "cobsup", "pw-cobsup", CAMPAIGN, "delete"][..],
            &numbers[..],
        ]
        .concat(),
    );
    eprintln!("inbound_blacklist.sh delete:\n{out}{err}");
    assert!(ok, "inbound_blacklist.sh delete failed: {err}");
    let got = lines(&out);
    assert_eq!(
        (got["deleteblack"].as_str(), got["deleteblackbulk"].as_str()),
        ("1 200", "1 200")
    );
    let log_start = std::fs::metadata(queue_log()).map_or(0, |m| m.len());
    assert!(call_in(P_QUEUE), "no longer listed: answered");
    assert!(queue_log_has(log_start, "ENTERQUEUE", P_QUEUE));

    // campaignstatus as a supervisor sees it (curl): the queue's strategy and wrap-up time
    // (`q_cobranza` uses the template's rrmemory and 10 s), the member's penalty and last call,
    // the pause reason by its name, and a caller waiting as an ACD call.
    engine.admin(
        &[
            "pause-reason",
            "add",
            "almuerzo",
            "--name",
            "Almuerzo largo",
        ],
        "",
    );
    let status = |what: &str, pred: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(40);
        loop {
            let (ok, out, err) = run_client(
                "sh",
                &client("campaignstatus.sh"),
                &[&base, "cobsup", "pw-cobsup", CAMPAIGN],
            );
            assert!(ok, "campaignstatus.sh failed: {err}");
            let v: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
            if pred(&v) {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {v}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    let v = status("the member's last queue call", &|v| {
        v[&iface]["lastCall"].as_i64().unwrap_or(0) > 0
    });
    assert_eq!(v[CAMPAIGN]["strategy"], "rrmemory", "{v}");
    assert_eq!(v[CAMPAIGN]["wrapup"], 10, "{v}");
    assert_eq!(v[&iface]["penalty"], 2, "{v}");
    let now = centralita::core::UnixTime::now().seconds();
    let last_call = v[&iface]["lastCall"].as_i64().unwrap();
    assert!(now - last_call < 120, "the call just answered: {last_call}");
    // Paused with a reason of the directory: no one answers, the caller waits.
    ami.send(&QueuePause::new(Some(QUEUE), &iface, true, Some("almuerzo")).unwrap())
        .await
        .unwrap();
    let waiting_caller = "0985550309";
    let records = |source: &str| -> Vec<serde_json::Value> {
        let (ok, out, err) = run_client(
            "sh",
            &client("getrecords.sh"),
            &[&base, "cobsup", "pw-cobsup", source],
        );
        assert!(ok, "getrecords.sh failed: {err}");
        let rows: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON rows");
        rows.as_array().unwrap().clone()
    };
    // Rows of earlier runs today: not this call's.
    let earlier: Vec<i64> = records(waiting_caller)
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    let caller = std::thread::spawn(move || call_in(waiting_caller));
    let v = status("the waiting caller as an ACD call", &|v| {
        v.as_object()
            .unwrap()
            .values()
            .any(|o| o["callerIdNum"] == waiting_caller)
    });
    assert_eq!(v[&iface]["pausedreason"], "Almuerzo largo", "{v}");
    assert_eq!(v[&iface]["paused"], true);
    let acd = v
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, o)| o["callerIdNum"] == waiting_caller)
        .unwrap();
    assert!(
        acd.0.starts_with("PJSIP/carrier-"),
        "keyed by its channel: {}",
        acd.0
    );
    assert_eq!(acd.1["channel"], acd.0.as_str());
    assert_eq!(acd.1["queue"], CAMPAIGN);
    assert_eq!(acd.1["position"], 1);
    assert!(acd.1["wait"].as_i64().is_some(), "{}", acd.1);
    assert_eq!(v[CAMPAIGN]["acd"], 1);
    // Unpaused, the member answers; the caller is no longer an ACD call.
    ami.send(&QueuePause::new(Some(QUEUE), &iface, false, None).unwrap())
        .await
        .unwrap();
    assert!(caller.join().unwrap(), "the waiting caller answered");
    status("no ACD call left", &|v| {
        !v.as_object()
            .unwrap()
            .values()
            .any(|o| o["callerIdNum"] == waiting_caller)
    });
    // The queue call's row (curl getrecords) says why its channel ended: the caller hung up
    // normally.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let queue_row = loop {
        let rows = records(waiting_caller);
        if let Some(r) = rows.iter().find(|r| {
            r["src"] == waiting_caller && !earlier.contains(&r["id"].as_i64().unwrap_or(0))
        }) {
            break r.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for the queue call's row: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(queue_row["direction"], "inbound", "{queue_row}");
    assert_eq!(queue_row["causecode"], "16", "{queue_row}");

    // A session survives a restart of the engine.
    let session = client("session.sh");
    let step = |base: &str, args: &[&str]| {
        let (ok, out, err) = run_client("sh", &session, &[&[base][..], args].concat());
        assert!(ok, "session.sh {args:?} failed: {err}");
        lines(&out)
    };
    let token = step(&base, &["open", "cobsup", "pw-cobsup"])["token"].clone();
    assert_eq!(token.len(), 64);
    assert_eq!(step(&base, &["use", &token])["queuesummary"], "200");
    assert!(
        engine.terminate().is_some_and(|s| s.success()),
        "the engine stops cleanly"
    );
    // While it is down, the caller the BLACKLIST disposition listed (5551006, both directions,
    // this campaign) is let into the queue: the dialplan fails open, and says so in its log.
    let log_start = std::fs::metadata(queue_log()).map_or(0, |m| m.len());
    let asterisk_start = asterisk_log_len();
    assert!(
        call_in("5551006"),
        "engine down: the listed caller is answered"
    );
    assert!(queue_log_has(log_start, "ENTERQUEUE", "5551006"));
    let warned = asterisk_log_since(asterisk_start);
    assert!(
        warned
            .lines()
            .any(|l| l.contains("Inbound blacklist not checked") && l.contains("5551006")),
        "Asterisk logs the unchecked caller: {warned}"
    );
    let engine = Engine::start_with(scratch.path(), "ucontact-restarted", EXTRA);
    wait_health(
        &engine,
        Duration::from_secs(30),
        "the restarted engine healthy",
        |code, _| code == "200",
    );
    let base = engine.base_url();
    // Back: the same caller is refused again.
    let log_start = std::fs::metadata(queue_log()).map_or(0, |m| m.len());
    let mut events = ami.subscribe();
    assert!(
        !call_in("5551006"),
        "engine back: the listed caller is refused"
    );
    assert_eq!(
        carrier_causes(&mut events)
            .get("5551006")
            .map(String::as_str),
        Some("21")
    );
    assert!(!queue_log_has(log_start, "ENTERQUEUE", "5551006"));
    assert_eq!(
        step(&base, &["use", &token])["queuesummary"],
        "200",
        "the session opened before the restart"
    );
    assert_eq!(
        step(&base, &["use", &"0".repeat(64)])["queuesummary"],
        "401"
    );
    assert_eq!(step(&base, &["end", "cob7", &token])["endsession"], "0");
    assert_eq!(step(&base, &["end", "cobsup", &token])["endsession"], "1");
    assert_eq!(step(&base, &["use", &token])["queuesummary"], "401");
    // The store holds the token's hash only.
    let db = rusqlite::Connection::open(scratch.store()).unwrap();
    let stored: Vec<String> = db
        .prepare("SELECT token_hash || username FROM api_session")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        stored.iter().all(|s| !s.contains(&token)),
        "no token stored in clear"
    );
    let _ = ami.logoff().await;
}
