//! Live: a dialer callback for one agent goes to that agent alone, on the lab.
//!
//! A progressive campaign on `q_campanas` with two agents, 1004 and 1005 (1005 paused). Its
//! contacts: one for anyone (5558005001, a person talking 5 s), and a dated callback for agent
//! 1005 scheduled through uContact's `Dialers/ScheduleDialerCall` with curl (the seed's object,
//! `agentphone` 1005; 5558006002, a person talking 6 s), due now. A due callback is placed
//! before anything else, so the first call being the other contact's, connected to 1004,
//! shows the callback waited for its agent; once 1005 is unpaused the callback is rung to 1005
//! only (Dial, not the queue) and connected to it. About 40 s.
#![cfg(feature = "live-lab")]

mod live_support;

use std::collections::HashSet;
use std::time::Duration;

use centralita::asterisk::ami::action::QueuePause;
use centralita::core::campaigns::CampaignName;
use centralita::core::dialer::calls::DialerCallStore;
use centralita::core::dialer::schedule::{Schedule, ScheduleStatus};
use centralita::core::dialer::{ContactState, DialerStore, Outcome};
use centralita::store::SqliteDialer;
use live_support::dialer::{write, zone_where, Members, EXTRA as DIALER_EXTRA, QUEUE};
use live_support::*;

const CAMPAIGN: &str = "Agente->";
const FOR_ANYONE: &str = "5558005001";
const FOR_1005: &str = "5558006002";

/// Polls `f` every 250 ms until it gives a value, at most `limit`.
fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let until = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < until, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The queue_log lines of Asterisk's file that name `event`, as `(callid, agent, data)`.
fn queue_log_lines(event: &str) -> Vec<(String, String, String)> {
    std::fs::read_to_string(queue_log())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(6, '|').collect();
            (f.len() >= 5 && f[4] == event).then(|| {
                (
                    f[1].to_owned(),
                    f[3].to_owned(),
                    f.get(5).unwrap_or(&"").to_string(),
                )
            })
        })
        .collect()
}

/// The Asterisk CDR rows since AcctId `after`: (dst, dstchannel).
fn cdrs_since(after: i64) -> Vec<(String, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(cdr_db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    let mut stmt = conn
        .prepare("SELECT dst, COALESCE(dstchannel, '') FROM cdr WHERE AcctId > ?1")
        .unwrap();
    stmt.query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `curl` a form POST to uContact's Integra API; the body.
fn curl_form(base: &str, op: &str, auth: Option<&str>, fields: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "--max-time", "20", "-X", "POST"]);
    if let Some(token) = auth {
        cmd.args(["-H", &format!("Authorization: Basic {token}")]);
    }
    for (k, v) in fields {
        cmd.args(["--data-urlencode", &format!("{k}={v}")]);
    }
    cmd.arg(format!("{base}/Integra/resources/{op}"));
    let out = cmd.output().expect("curl runs");
    assert!(
        out.status.success(),
        "curl {op}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn pause(iface: &str, paused: bool) {
    let ami = connect().await;
    ami.send(&QueuePause::new(Some(QUEUE), iface, paused, Some("test")).unwrap())
        .await
        .unwrap();
    ami.logoff().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callback_for_an_agent_waits_for_that_agent_and_rings_only_it() {
    let scratch = Scratch::new("dialer-agent");
    let engine = Engine::start_with(scratch.path(), "1", DIALER_EXTRA);
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
            "2341",
            "--name",
            "cb_ag",
            "--username",
            "cb_ag",
            "--password-stdin",
        ],
        "pw-cb_ag\n",
    );
    let open_zone = zone_where(true);
    engine.admin(
        &[
            "dialer",
            "campaign",
            "create",
            CAMPAIGN,
            "--queue",
            QUEUE,
            "--mode",
            "progressive",
            "--days",
            "all",
            "--hours",
            "08:00-21:00",
            "--ring-timeout",
            "15",
            "--zone",
            open_zone,
            // The routing is under test, not the lab's ring time: room to connect.
            "--abandon-threshold",
            "4",
        ],
        "",
    );

    // Two agents, 1005 paused.
    let members = {
        let ami = connect().await;
        set_queue_members(&ami, QUEUE, &["PJSIP/1004".into(), "PJSIP/1005".into()]).await;
        expand::phones_idle(&ami, &["1004", "1005"]).await;
        ami.logoff().await.ok();
        Members
    };
    pause("PJSIP/1005", true).await;
    let cdr_start = asterisk_max_acct_id();

    // The contact for anyone (CLI import) and the callback for 1005 (uContact, curl), due a
    // minute ago in the engine's zone.
    engine.admin(
        &[
            "dialer",
            "import",
            CAMPAIGN,
            &write(
                scratch.path(),
                "base.txt",
                &format!("{CAMPAIGN};{FOR_ANYONE};;;;\n"),
            ),
            "--zone",
            open_zone,
        ],
        "",
    );
    let token_json = curl_form(
        &engine.base_url(),
        "auth/getUserToken",
        None,
        &[("user", "cb_ag"), ("password", "pw-cb_ag")],
    );
    let token: serde_json::Value = serde_json::from_str(&token_json).expect("a token array");
    let token = token
        .as_array()
        .and_then(|a| a.last())
        .and_then(|t| t.as_str())
        .unwrap()
        .to_owned();
    let due = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_secs(60))
        .unwrap()
        .in_tz("America/Montevideo")
        .unwrap()
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    let schedule = serde_json::json!({
        "calldate": due,
        "campaign": CAMPAIGN,
        "destination": FOR_1005,
        "alternatives": "",
        "agentphone": "1005",
        "data": "Par1=Val1:Par2=Val2",
    });
    let answer = curl_form(
        &engine.base_url(),
        "Dialers/ScheduleDialerCall",
        Some(&token),
        &[("callschedule", &schedule.to_string())],
    );
    assert_eq!(answer.trim(), "1", "ScheduleDialerCall");

    engine.admin(
        &[
            "dialer", "campaign", "update", CAMPAIGN, "--state", "Active",
        ],
        "",
    );
    let store = SqliteDialer::open(&scratch.store()).unwrap();
    let name = CampaignName::parse(CAMPAIGN).unwrap();
    let id = store.campaign_by_name(&name).unwrap().unwrap().0;
    let contact = |number: &str| {
        store
            .contacts(id, None, 0, 10)
            .unwrap()
            .into_iter()
            .find(|c| c.spec.main.as_str() == number)
    };

    // First: the contact for anyone, connected to 1004; the callback, though due and first in
    // claim order, not dialed (1005 is paused).
    let first = wait_for(Duration::from_secs(60), "the first attempt", || {
        contact(FOR_ANYONE).filter(|c| c.attempts == 1)
    });
    assert_eq!(first.state, ContactState::Completed, "{first:?}");
    let waiting = contact(FOR_1005).expect("the callback handed to a contact");
    assert_eq!(
        (
            waiting.state,
            waiting.attempts,
            waiting.spec.agent.as_deref()
        ),
        (ContactState::Pending, 0, Some("1005")),
        "the callback waits for its agent"
    );
    assert!(
        !cdrs_since(cdr_start).iter().any(|(dst, _)| dst == FOR_1005),
        "the callback was dialed while its agent was paused"
    );
    let evidence = store.evidence(id, 0, 10).unwrap();
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    assert_eq!(evidence[0].2.agent.as_deref(), Some("1004"), "{evidence:?}");

    // 1005 free: the callback is rung to 1005 alone and connected to it.
    pause("PJSIP/1005", false).await;
    let done = wait_for(Duration::from_secs(60), "the callback's attempt", || {
        contact(FOR_1005).filter(|c| c.attempts == 1)
    });
    assert_eq!(done.state, ContactState::Completed, "{done:?}");
    let attempts = store.attempts_of(done.id).unwrap();
    assert_eq!(attempts[0].outcome, Outcome::Answered, "{attempts:?}");
    let evidence = store.evidence(id, 0, 10).unwrap();
    let e = &evidence
        .iter()
        .find(|(c, _, _)| *c == done.id)
        .expect("the callback's ledger row")
        .2;
    assert_eq!(e.agent.as_deref(), Some("1005"), "{e:?}");
    assert!(e.answered && !e.abandoned && !e.safe_harbor, "{e:?}");
    let call = e.job.to_string();
    let connects: HashSet<String> = queue_log_lines("DIALERCONNECT")
        .into_iter()
        .filter(|(callid, _, _)| call.starts_with(callid.as_str()) || callid.starts_with(&call))
        .map(|(_, agent, _)| agent)
        .collect();
    assert_eq!(
        connects,
        HashSet::from(["1005".to_owned()]),
        "DIALERCONNECT of {call}"
    );
    // Its last line, from the hangup handler of a call to one agent.
    assert!(
        queue_log_lines("DIALERDONE")
            .iter()
            .any(|(callid, _, data)| (call.starts_with(callid.as_str())
                || callid.starts_with(&call))
                && data.starts_with("ANSWER|")),
        "DIALERDONE of {call}"
    );
    // Asterisk rang 1005 for it and no other phone: no queue call, no 1004 leg after the first.
    let cdrs = cdrs_since(cdr_start);
    let to_agents: Vec<&(String, String)> = cdrs
        .iter()
        .filter(|(_, ch)| ch.starts_with("PJSIP/1004-") || ch.starts_with("PJSIP/1005-"))
        .collect();
    eprintln!("agent legs: {to_agents:?}");
    assert!(
        to_agents
            .iter()
            .any(|(_, ch)| ch.starts_with("PJSIP/1005-")),
        "a leg to 1005: {cdrs:?}"
    );
    assert_eq!(
        to_agents
            .iter()
            .filter(|(_, ch)| ch.starts_with("PJSIP/1004-"))
            .count(),
        1,
        "1004 took the first call only: {cdrs:?}"
    );
    let schedule = Schedule(&store);
    let (_, calls) = schedule.list(&Default::default(), 0, 10).unwrap();
    assert!(
        calls
            .iter()
            .any(|c| c.spec.number.as_str() == FOR_1005 && c.status == ScheduleStatus::Completed),
        "the scheduled call completed: {calls:?}"
    );
    drop(members);
}
