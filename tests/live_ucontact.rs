//! Live tier: the uContact Integra facade driven by real clients (Python `requests`, curl)
//! against the real engine and the lab's Asterisk, with phone 1007 in queue `q_cobranza`.
//!
//! One integration: a session; `AgentCallwithData` rings the agent's phone and then the
//! carrier through the campaign's trunk; `campaignstatus` shows the agent busy; `HangupPhone`
//! ends the call; `DispositionCall` with a BLACKLIST disposition; a new `AgentCall` to that
//! number refused; `getrecords` finds the call's row and guid; the MP3 at
//! `records/<YYYYMMDD>/<guid>.mp3` decodes (`lame --decode`) and is not silent (`sox stat`);
//! `EndSession` invalidates the token. And the blacklist operations through curl, with the
//! direction rule.

#![cfg(feature = "live-lab")]

mod live_support;

use std::process::Command;
use std::time::Duration;

use centralita::asterisk::ami::action::{QueueAdd, QueueRemove};
use live_support::*;

const QUEUE: &str = "q_cobranza";
const PHONE: &str = "1007";
const CAMPAIGN: &str = "Cobranza->";

const EXTRA: &str = r#"
[ucontact]
[[ucontact.campaign]]
name = "Cobranza->"
queue = "q_cobranza"
outbound = true
trunk = "carrier"
callerid = "26003000"
[[ucontact.campaign.disposition]]
l1 = "Promesa"
txtcode = "PP"
[[ucontact.campaign.disposition]]
l1 = "No llamar"
l2 = "Pidio"
action = "BLACKLIST"
txtcode = "NL"

[[ucontact.campaign]]
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

fn client(name: &str) -> std::path::PathBuf {
    repo().join("tests/clients/ucontact").join(name)
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
    let engine = Engine::start_with(scratch.path(), "ucontact", EXTRA);
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
        .unwrap();
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
    assert!(
        row["billsec"].as_u64().unwrap() >= 5,
        "the customer talked 6 s: {}",
        row["billsec"]
    );
    assert_eq!(s["found_by_tag"], true);

    // The other campaign's trunk (`TRUNK` on the call) is the one dialed: the lab has no such
    // endpoint, so the call fails there.
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

    assert_eq!(s["end_session"], "1");
    assert_eq!(s["after_end_status"], 401);
    let _ = ami.logoff().await;
}
