//! Live tier: the outbound policy against the real lab, through the three facades with real
//! clients (PHP SoapClient for eXpand and USCall, curl for uContact).
//!
//! International numbers (`0059899123456`, `+5491155551234`) and a premium-rate one
//! (`09001234`) are refused with each vendor's code (eXpand `originateCall` `0`, USCall
//! `regra_discagem`, uContact `AgentCall` `0`); no phone gets a channel (AMI `CoreShowChannels`),
//! Asterisk writes no CDR row, the engine stores no job, and the action journal holds each
//! refusal with its rule. Allowed national numbers still ring. A credential capped at one call
//! in flight is refused a second one while the first rings; a credential allowed one call per
//! minute is refused its second.
//!
//! Uses phones 1001-1008 and the carrier numbers 5551NNN.

mod live_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::CoreShowChannels;
use centralita::asterisk::ami::AmiClient;
use centralita::core::audit::{ActionFilter, ActionJournal, EngineAction};
use centralita::core::TimeRange;
use centralita::store::SqliteActionJournal;
use live_support::*;
use serde_json::{json, Value};

const EXTRA: &str = r#"
[dialing]
[[dialing.category]]
id = "livre"
name = "Qualquer número"
trunk = "carrier"
[[dialing.category.rule]]
pattern = "X."
[[dialing.category.rule]]
pattern = "+X."

[[campaigns.campaign]]
name = "Politica->"
outbound = true
trunk = "carrier"

[[outbound.credential]]
principal = "policy-capped"
max_concurrent = 1

[[outbound.credential]]
principal = "policy-slow"
calls_per_minute = 1
"#;

const INTERNATIONAL: [&str; 2] = ["0059899123456", "+5491155551234"];
const PREMIUM: &str = "09001234";

/// eXpand's PHP SoapClient (`tests/clients/expand/client.php`, one JSON request per line).
struct Php {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Php {
    fn start(wsdl: &str) -> Self {
        let mut child = Command::new("php")
            .arg(repo().join("tests/clients/expand/client.php"))
            .arg(wsdl)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("php runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut php = Self {
            child,
            stdin,
            stdout,
        };
        assert_eq!(php.read()["type"], "ready");
        php
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("php: {e}: {line}"))
    }

    fn call(&mut self, op: &str, args: Value) -> String {
        writeln!(self.stdin, "{}", json!({"op": op, "args": args})).unwrap();
        self.stdin.flush().unwrap();
        let reply = self.read();
        assert_eq!(reply["ok"], true, "{op}: {reply}");
        match &reply["value"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    fn originate(&mut self, key: &str, src: &str, dst: &str) -> String {
        self.call(
            "originateCall",
            json!([key, src, "CRM", dst, "Cliente", 20, ""]),
        )
    }
}

impl Drop for Php {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// USCall `op(token, args...)` through PHP's SoapClient (`tests/clients/uscall/call.php`).
fn uscall(wsdl: &str, op: &str, token: &str, args: &[&str]) -> Value {
    let script = repo().join("tests/clients/uscall/call.php");
    let mut all = vec![wsdl, op, token];
    all.extend_from_slice(args);
    let (ok, out, err) = run_client("php", &script, &all);
    assert!(ok, "{op} {args:?}: {err}\n{out}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{op}: {e}: {out}"))
}

/// uContact `Agents/AgentCall` with curl and an API key: `(HTTP status, body)`.
fn agent_call(base: &str, key: &str, phone: &str, destination: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-X", "POST"])
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .args(["--data-urlencode", "callerid="])
        .args(["--data-urlencode", "agent=ana"])
        .args(["--data-urlencode", &format!("phone={phone}")])
        .args(["--data-urlencode", "tech=SIP"])
        .args(["--data-urlencode", "context=from-internal"])
        .args(["--data-urlencode", "outqueue=Politica->"])
        .args(["--data-urlencode", &format!("destination={destination}")])
        .arg(format!("{base}/Integra/resources/Agents/AgentCall"))
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (code.to_owned(), body.to_owned())
}

/// The channels of `phone` now.
async fn phone_channels(ami: &AmiClient, phone: &str) -> Vec<String> {
    let (_, list) = ami.send_list(&CoreShowChannels).await.unwrap();
    list.iter()
        .filter_map(|c| c.get("Channel"))
        .filter(|c| c.starts_with(&format!("PJSIP/{phone}-")))
        .map(str::to_owned)
        .collect()
}

/// For 2 s, none of `phones` has a channel (an Originate sent would ring it within a second).
async fn no_channel_for(ami: &AmiClient, phones: &[&str], what: &str) {
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        for p in phones {
            let chans = phone_channels(ami, p).await;
            assert!(chans.is_empty(), "{what}: phone {p} has channels {chans:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `phone` has a channel (the call rings it).
async fn rings(ami: &AmiClient, phone: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while phone_channels(ami, phone).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{what}: phone {phone} never rang"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn phones_idle(ami: &AmiClient) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut busy = Vec::new();
        for p in 1001..=1008 {
            busy.extend(phone_channels(ami, &p.to_string()).await);
        }
        if busy.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "phones still busy: {busy:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Jobs in the engine's store.
fn stored_jobs(scratch: &Scratch) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        scratch.store(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    conn.query_row("SELECT COUNT(*) FROM originate_job", [], |r| r.get(0))
        .unwrap()
}

fn starts(scratch: &Scratch, api: &str) -> Vec<EngineAction> {
    SqliteActionJournal::open(&scratch.store())
        .unwrap()
        .list(
            TimeRange::all(),
            &ActionFilter {
                api: Some(api.into()),
                action: Some("originate.start".into()),
                ..Default::default()
            },
        )
        .unwrap()
}

fn journaled(scratch: &Scratch, api: &str, number: &str, rule: &str) {
    let entries = starts(scratch, api);
    assert!(
        entries
            .iter()
            .any(|e| e.params.contains(&format!("destination={number}"))
                && e.params.contains(&format!("rule={rule}"))
                && e.outcome.contains(&format!("(rule: {rule})"))),
        "no {api} refusal of {number} by {rule}: {entries:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_policy_through_every_facade_on_the_lab() {
    let scratch = Scratch::new("outbound-policy");
    let engine = Engine::start_with(scratch.path(), "policy", EXTRA);
    let base = engine.base_url();
    wait_health(&engine, Duration::from_secs(20), "AMI up", |code, body| {
        code == "200" && body.contains("\"ami_connected\":true")
    });
    let ami = connect().await;
    phones_idle(&ami).await;
    let crm = engine.api_key("expand", "policy-crm");
    let dialer = engine.api_key("uscall", "policy-dialer");
    let portal = engine.api_key("ucontact", "policy-portal");
    let expand_wsdl = format!("{base}/apiws/2/apiws.php?wsdl");
    let uscall_wsdl = format!("{base}/aplicativos/webservice/wsuscall.php?wsdl");
    let mut php = Php::start(&expand_wsdl);

    // ---- refused: international and premium, through each facade
    let cdr_before = asterisk_max_acct_id();
    let jobs_before = stored_jobs(&scratch);
    let refused: Vec<(&str, &str)> = INTERNATIONAL
        .iter()
        .map(|n| (*n, "international"))
        .chain([(PREMIUM, "premium")])
        .collect();
    for (number, rule) in &refused {
        assert_eq!(php.originate(&crm, "1001", number), "0", "eXpand {number}");
        let v = uscall(
            &uscall_wsdl,
            "startCall",
            &dialer,
            &["outbound", "1002", number, "livre"],
        );
        assert_eq!(v["status"], "erro", "USCall {number}: {v}");
        assert_eq!(v["codigo"], "regra_discagem", "USCall {number}: {v}");
        assert_eq!(
            agent_call(&base, &portal, "1003", number),
            ("200".to_owned(), "0".to_owned()),
            "uContact {number}"
        );
        no_channel_for(&ami, &["1001", "1002", "1003"], number).await;
        for api in ["expand", "uscall", "ucontact"] {
            journaled(&scratch, api, number, rule);
        }
    }
    assert_eq!(stored_jobs(&scratch), jobs_before, "no job was stored");
    assert_eq!(
        asterisk_max_acct_id(),
        cdr_before,
        "Asterisk wrote no CDR row"
    );

    // ---- allowed national numbers still ring, through each facade
    let id = php.originate(&crm, "1001", "5551003");
    assert!(id.contains('-'), "eXpand job id: {id}");
    rings(&ami, "1001", "eXpand 5551003").await;
    let v = uscall(
        &uscall_wsdl,
        "startCall",
        &dialer,
        &["outbound", "1002", "5551003", "livre"],
    );
    assert_eq!(v["status"], "ok", "USCall 5551003: {v}");
    rings(&ami, "1002", "USCall 5551003").await;
    let (code, guid) = agent_call(&base, &portal, "1003", "5551003");
    assert_eq!(
        (code.as_str(), guid.len()),
        ("200", 36),
        "uContact guid: {guid}"
    );
    rings(&ami, "1003", "uContact 5551003").await;

    // ---- a credential capped at one call in flight
    let capped = engine.api_key("expand", "policy-capped");
    let first = php.originate(&capped, "1004", "5551010");
    assert!(first.contains('-'), "{first}");
    rings(&ami, "1004", "the capped credential's first call").await;
    assert_eq!(php.originate(&capped, "1005", "5551003"), "0");
    no_channel_for(&ami, &["1005"], "over the cap").await;
    journaled(&scratch, "expand", "5551003", "concurrency");

    // ---- a credential allowed one call per minute
    let slow = engine.api_key("uscall", "policy-slow");
    let v = uscall(
        &uscall_wsdl,
        "startCall",
        &slow,
        &["outbound", "1007", "5551002", "livre"],
    );
    assert_eq!(v["status"], "ok", "{v}");
    rings(&ami, "1007", "the slow credential's first call").await;
    let v = uscall(
        &uscall_wsdl,
        "startCall",
        &slow,
        &["outbound", "1008", "5551002", "livre"],
    );
    assert_eq!(v["codigo"], "nao_permitido", "{v}");
    no_channel_for(&ami, &["1008"], "over the rate").await;
    journaled(&scratch, "uscall", "5551002", "rate");

    phones_idle(&ami).await;
    let _ = ami.logoff().await;
}
