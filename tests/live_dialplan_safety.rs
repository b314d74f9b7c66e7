//! Live tier: nothing from outside is evaluated by the dialplan, and the engine's AMI user has
//! only the classes it uses.
//!
//! - The carrier's address sends an inbound call to a queue's DID with a hostile
//!   `X-Hangup-After` header (the quote-breaking `" = "x" & "1):System(touch ...`, an expression
//!   calling `SHELL(...)`, a `${SHELL(...)}` substitution); a member answers and the call talks.
//!   No marker file appears (in the Asterisk chroot or on the host), the header's text never
//!   reaches an application in Asterisk's log, and Asterisk logs no expression error. The lab's
//!   own use of the header (the agent's phone hangs up after `X-Hangup-After: 2`) still works.
//! - Each facade passes hostile text (`${SHELL(touch ...)}`, `$[1+1]`) as call data: eXpand
//!   `originateCall` callinfo and caller id names (PHP SoapClient) and uContact
//!   `AgentCallwithData` data (curl) place the call, no marker appears, and Asterisk's CDR
//!   (`calldata`) holds the values verbatim (`$[1+1]` is not `2`). USCall `startCall` documents
//!   idcti as `[A-Za-z0-9_.:-]{1,64}`: the hostile values are refused (`parametro_invalido`) and
//!   no channel is created; a valid idcti arrives verbatim. eXpand refuses `"quoted",a,b` as a
//!   caller id name (`0`, malformed) and no channel is created.
//! - The engine's AMI user has no `command`, `system` or `config` class: Asterisk answers
//!   `Permission denied` to `Command`, `DBPut`, `DBDel`, `DBDelTree`, `PJSIPShowEndpoints`,
//!   `GetConfig` and `UpdateConfig` from it, and nothing is written (AstDB, `queues.conf`);
//!   what the engine uses answers (`CoreSettings`, `DBGetTree`, `Getvar` of `PJSIP_ENDPOINT`).
//! - A call forward (AstDB `CF/<ext>`, set from a phone with `*21`) never dials an international
//!   (`00…`, `+…`) or premium-rate (`0900…`) number: a call to the forwarded extension rings the
//!   phone and no channel to the carrier appears. A national forward number is dialed through the
//!   carrier.
//!
//! Phones 1001, 1005, 1006 and 1007; queue `q_soporte` (DID 26002000) and the uContact campaign
//! on `q_cobranza`. Every member it adds is removed when it ends, also when it fails.

mod live_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::{
    CoreSettings, CoreShowChannels, DbGetTree, PjsipGetvar, QueueRemove, RawAction,
};
use centralita::asterisk::ami::{AmiClient, AmiError};
use live_support::*;
use serde_json::{json, Value};

/// One test at a time: they share phones and the Asterisk log.
static LAB: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const INBOUND_QUEUE: &str = "q_soporte";
const INBOUND_DID: &str = "26002000";
const INBOUND_PHONE: &str = "PJSIP/1006";

/// Removes `(queue, interface)` members when dropped.
struct Members(Vec<(&'static str, &'static str)>);

impl Drop for Members {
    fn drop(&mut self) {
        let members = std::mem::take(&mut self.0);
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let client = connect().await;
                for (queue, iface) in members {
                    let _ = client.send(&QueueRemove::new(queue, iface).unwrap()).await;
                }
                let _ = client.logoff().await;
            })
        })
        .join()
        .ok();
    }
}

/// A marker file name unique to this run; the paths where a command run by Asterisk (inside
/// its chroot) or by anything on the host would create it.
struct Marker {
    name: String,
}

impl Marker {
    fn new(tag: &str) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros();
        Self {
            name: format!("cdp-{tag}-{}", now % 1_000_000_000),
        }
    }

    /// `/tmp/<name>` as the command inside the payload names it.
    fn path(&self) -> String {
        format!("/tmp/{}", self.name)
    }

    fn places(&self) -> [PathBuf; 2] {
        [
            lab_root().join("tmp").join(&self.name),
            PathBuf::from("/tmp").join(&self.name),
        ]
    }

    fn assert_absent(&self, what: &str) {
        for p in self.places() {
            assert!(
                !p.exists(),
                "{what}: {} exists: outside text was executed",
                p.display()
            );
        }
    }
}

fn asterisk_log() -> PathBuf {
    lab_root().join("var/log/asterisk/messages")
}

fn log_len() -> u64 {
    std::fs::metadata(asterisk_log())
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Asterisk's log from byte `from` on.
fn log_since(from: u64) -> String {
    let bytes = std::fs::read(asterisk_log()).unwrap_or_default();
    String::from_utf8_lossy(&bytes[(from as usize).min(bytes.len())..]).into_owned()
}

/// Expression errors Asterisk logs when `$[...]` text does not parse.
fn expression_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            (l.contains("ERROR[") || l.contains("WARNING["))
                && (l.contains("ast_expr")
                    || l.contains("syntax error")
                    || l.contains("Can't find trailing parenthesis")
                    || l.contains("ExecIf"))
        })
        .collect()
}

async fn channels(ami: &AmiClient) -> Vec<String> {
    let (_, list) = ami.send_list(&CoreShowChannels).await.unwrap();
    list.iter()
        .filter_map(|c| c.get("Channel"))
        .map(str::to_owned)
        .collect()
}

/// Watches for `within` that no channel of `phone` (`PJSIP/1001`) appears.
async fn assert_no_channel(ami: &AmiClient, phone: &str, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let found: Vec<String> = channels(ami)
            .await
            .into_iter()
            .filter(|c| c.starts_with(&format!("{phone}-")))
            .collect();
        assert!(found.is_empty(), "{what}: a call was placed: {found:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `phone` has no channel (the previous call is gone).
async fn phone_idle(ami: &AmiClient, phone: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let busy = channels(ami)
            .await
            .into_iter()
            .any(|c| c.starts_with(&format!("{phone}-")));
        if !busy {
            return;
        }
        assert!(Instant::now() < deadline, "{phone} still has a channel");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `(clid, calldata, userfield)` of Asterisk's CDR rows whose calldata holds `tag`.
fn cdr_rows_with(tag: &str) -> Vec<(String, String, String)> {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(cdr_db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return vec![];
    };
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT COALESCE(clid, ''), COALESCE(calldata, ''), COALESCE(userfield, '') \
             FROM cdr WHERE instr(calldata, ?1) > 0 ORDER BY AcctId",
        )
        .unwrap();
    stmt.query_map([tag], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Polls Asterisk's CDR file until a row's calldata holds `tag`.
fn wait_cdr(tag: &str, what: &str) -> Vec<(String, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let rows = cdr_rows_with(tag);
        if !rows.is_empty() {
            return rows;
        }
        assert!(Instant::now() < deadline, "no CDR row for {what} ({tag})");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The `k=v` items of a calldata value (the values here hold no comma).
fn items(calldata: &str) -> BTreeMap<String, String> {
    calldata
        .split(',')
        .filter_map(|i| i.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

// ------------------------------------------------------------------ 1. the carrier's header

/// The lab's inbound scenario (`vm/sipp/call-in.xml`) with the carrier's extra header line given
/// by `-key hangup_header`; `ending` is the side that hangs up (`CALLER` or `AGENT`, the markers
/// of the scenario).
fn inbound_scenario(dir: &std::path::Path, ending: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("vm/sipp/call-in.xml")).unwrap();
    let drop = if ending == "CALLER" {
        "AGENT"
    } else {
        "CALLER"
    };
    let (head, rest) = text.split_once(&format!("<!--{drop}-->")).unwrap();
    let (_, tail) = rest.split_once(&format!("<!--/{drop}-->")).unwrap();
    let state = env_or("LAB_STATE", "/run/centralita-lab");
    let xml = format!("{head}{tail}").replace("@AUDIO@", &format!("{state}/audio/carrier.ulaw"));
    let path = dir.join(format!("call-in-{ending}.xml"));
    std::fs::write(&path, xml).unwrap();
    path
}

/// One inbound call from the carrier's address (its own port) to `did`, carrying `header`,
/// talking `talk_ms` after the answer; whether SIPp saw it answered and ended.
fn carrier_call(
    dir: &std::path::Path,
    ending: &str,
    did: &str,
    from: &str,
    header: &str,
    talk_ms: u64,
) -> bool {
    let scenario = inbound_scenario(dir, ending);
    let csv = dir.join("callers.csv");
    std::fs::write(&csv, format!("SEQUENTIAL\n{from};\n")).unwrap();
    let carrier = env_or("LAB_CARRIER_IP", "127.0.0.2");
    let port = 40000 + (std::process::id() % 10000);
    let out = Command::new("sipp")
        .current_dir(dir)
        .args(["-sf", scenario.to_str().unwrap()])
        .args(["-inf", csv.to_str().unwrap()])
        .args(["-i", &carrier, "-p", &port.to_string(), "-mi", &carrier])
        .args(["-key", "did", did, "-key", "hangup_header", header])
        .args(["-d", &talk_ms.to_string(), "-m", "1", "-l", "1"])
        .args([
            "-nostdin",
            "-aa",
            "-recv_timeout",
            "60000",
            "-timeout",
            "90s",
        ])
        .arg(format!("{}:5060", ami_host()))
        .stdin(Stdio::null())
        .output()
        .expect("sipp runs");
    if !out.status.success() {
        eprintln!(
            "sipp: {}\n{}",
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_carrier_header_is_never_evaluated() {
    let _lab = LAB.lock().await;
    let scratch = Scratch::new("dialplan-header");
    let ami = connect().await;
    let _members = Members(vec![(INBOUND_QUEUE, INBOUND_PHONE)]);
    set_queue_members(&ami, INBOUND_QUEUE, &[INBOUND_PHONE.to_owned()]).await;

    let quote = Marker::new("quote");
    let expr = Marker::new("expr");
    let subst = Marker::new("subst");
    let payloads = [
        // Breaks out of the quoted string of $["${HANGUP_AFTER}" != ""] (which then is false)
        // and out of the Set( of ExecIf's true branch into a false branch of its own.
        (
            &quote,
            format!(r#"" = "x" & "1):System(touch {}"#, quote.path()),
        ),
        // Makes the expression call a dialplan function.
        (&expr, format!(r#"" | SHELL("touch {}") | ""#, expr.path())),
        // A substitution: must stay text.
        (&subst, format!("${{SHELL(touch {})}}", subst.path())),
    ];
    for (i, (marker, payload)) in payloads.iter().enumerate() {
        phone_idle(&ami, INBOUND_PHONE).await;
        let from = format!("09855504{i:02}");
        let before = log_len();
        let header = format!("X-Hangup-After: {payload}");
        // The lab's phones honour the header's digits (at least 1 s here): the caller hangs up
        // first, after 0.5 s of talk.
        let answered = carrier_call(scratch.path(), "CALLER", INBOUND_DID, &from, &header, 500);
        // Give a command started by the dialplan time to leave its trace.
        std::thread::sleep(Duration::from_secs(1));
        marker.assert_absent(&format!("header {payload:?}"));
        let log = log_since(before);
        assert!(
            log.contains(&format!("to DID {INBOUND_DID}")),
            "the call reached to-queue: {log}"
        );
        let leaked: Vec<&str> = log.lines().filter(|l| l.contains(&marker.name)).collect();
        assert!(
            leaked.is_empty(),
            "the header's text reached an application: {leaked:#?}"
        );
        let errors = expression_errors(&log);
        assert!(errors.is_empty(), "expression errors: {errors:#?}");
        assert!(
            answered,
            "the call with header {payload:?} was answered by the member and ended"
        );
    }

    // The lab's own header still works, digits only: the agent's phone hangs up first (the
    // carrier's side waits for its BYE), as `vm/lab call-in --hangup agent` does.
    phone_idle(&ami, INBOUND_PHONE).await;
    assert!(
        carrier_call(
            scratch.path(),
            "AGENT",
            INBOUND_DID,
            "098555050",
            "X-Hangup-After: 2",
            0
        ),
        "the member's phone hung up after the lab header's 2 s"
    );
    let _ = ami.logoff().await;
}

// ------------------------------------------------------------------ 2. the facades

/// The eXpand PHP SoapClient of `tests/clients/expand/client.php` (one JSON line per call).
struct ExpandPhp {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl ExpandPhp {
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
        let mut c = Self {
            child,
            stdin,
            stdout,
        };
        assert_eq!(c.read()["type"], "ready");
        c
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("php: {e}: {line}"))
    }

    /// The return value as text; panics on a Fault.
    fn call(&mut self, op: &str, args: Value) -> String {
        writeln!(self.stdin, "{}", json!({"op": op, "args": args})).unwrap();
        self.stdin.flush().unwrap();
        let reply = self.read();
        assert_eq!(reply["ok"], true, "php {op}: {reply}");
        match &reply["value"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl Drop for ExpandPhp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// USCall through `tests/clients/uscall/call.php`: the decoded JSON answer.
fn uscall(wsdl: &str, token: &str, op: &str, args: &[&str]) -> Value {
    let mut all = vec![token];
    all.extend_from_slice(args);
    live_support::uscall_php(wsdl, op, &all)
}

/// A form POST to uContact's API with curl: `(HTTP code, body)`.
fn ucontact(base: &str, op: &str, token: Option<&str>, form: &[(&str, &str)]) -> (String, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "-X", "POST"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Basic {t}")]);
    }
    for (k, v) in form {
        cmd.args(["--data-urlencode", &format!("{k}={v}")]);
    }
    cmd.arg(format!("{base}/Integra/resources/{op}"));
    let out = cmd.output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (code.to_owned(), body.to_owned())
}

const FACADES: &str = r#"
[originate]
retention_seconds = 600

[dialing]
ddrs = ["26002000"]

[[dialing.category]]
id = "1"
name = "Lab"
trunk = "carrier"
[[dialing.category.rule]]
pattern = "5551XXX"

[[campaigns.campaign]]
name = "Cobranza->"
queue = "q_cobranza"
outbound = true
trunk = "carrier"
callerid = "26003000"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_call_data_through_every_facade_arrives_verbatim() {
    let _lab = LAB.lock().await;
    let scratch = Scratch::new("dialplan-facades");
    let ami = connect().await;
    let _members = Members(vec![("q_cobranza", "PJSIP/1007")]);
    set_queue_members(&ami, "q_cobranza", &["PJSIP/1007".to_owned()]).await;

    let engine = Engine::start_with(scratch.path(), "facades", FACADES);
    wait_health(&engine, Duration::from_secs(30), "the engine", |c, _| {
        c == "200"
    });
    engine.admin(
        &[
            "agent",
            "add",
            "2407",
            "--name",
            "Agente Safety",
            "--username",
            "safe7",
            "--queue",
            "q_cobranza",
            "--extension",
            "1007",
            "--password-stdin",
        ],
        "pw-safe7\n",
    );
    let base = engine.base_url();
    let expand_key = engine.api_key("expand", "CRM");
    let uscall_token = engine.api_key("uscall", "CRM");
    let uscall_wsdl = format!("{base}/aplicativos/webservice/wsuscall.php?wsdl");

    // Unique to this run: finds this run's CDR rows.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros()
        % 1_000_000_000_000;
    let m_expand = Marker::new("expand");
    let m_expand_cid = Marker::new("xcid");
    let m_uscall = Marker::new("uscall");
    let m_ucontact = Marker::new("ucontact");
    let shell = |m: &Marker| format!("${{SHELL(touch {})}}", m.path());
    let sum = "$[1+1]";

    // eXpand originateCall: caller id names and callinfo.
    let mut php = ExpandPhp::start(&format!("{base}/apiws/2/apiws.php?wsdl"));
    let expand_tag = format!("xp{run}");
    let callinfo = format!("t={expand_tag},a={},b={sum}", shell(&m_expand));
    phone_idle(&ami, "PJSIP/1001").await;
    let job = php.call(
        "originateCall",
        json!([
            expand_key,
            "1001",
            sum,
            "5551003",
            shell(&m_expand_cid),
            20,
            callinfo
        ]),
    );
    assert!(
        job.len() > 8 && !job.starts_with('-'),
        "originateCall: {job}"
    );

    // USCall startCall: idcti is documented as at most 64 letters, digits and `_ . : -`: the
    // hostile values are refused with `parametro_invalido` and no call is placed.
    for idcti in [
        shell(&m_uscall),
        sum.to_owned(),
        "\"quoted\",a,b".to_owned(),
    ] {
        phone_idle(&ami, "PJSIP/1005").await;
        let v = uscall(
            &uscall_wsdl,
            &uscall_token,
            "startCall",
            &["outbound", "1005", "5551003", "1", &idcti],
        );
        assert_eq!(
            (v["status"].as_str(), v["codigo"].as_str()),
            (Some("erro"), Some("parametro_invalido")),
            "startCall idcti {idcti:?}: {v}"
        );
        assert_no_channel(&ami, "PJSIP/1005", Duration::from_secs(2), "USCall refusal").await;
    }
    // A valid idcti still places the call (the refusals above are about the value).
    let uscall_tag = format!("us{run}");
    let started = uscall(
        &uscall_wsdl,
        &uscall_token,
        "startCall",
        &["outbound", "1005", "5551003", "1", &uscall_tag],
    );
    assert_eq!(started["status"], "ok", "startCall: {started}");

    // uContact AgentCallwithData: the data object.
    let (code, session) = ucontact(
        &base,
        "auth/getUserToken",
        None,
        &[("user", "safe7"), ("password", "pw-safe7")],
    );
    assert_eq!(code, "200", "getUserToken: {session}");
    let session: Value = serde_json::from_str(&session).unwrap();
    let token = session
        .as_array()
        .and_then(|a| a.last())
        .and_then(Value::as_str)
        .expect("a token")
        .to_owned();
    let ucontact_tag = format!("uc{run}");
    let data = json!({"a": shell(&m_ucontact), "b": sum, "t": ucontact_tag}).to_string();
    phone_idle(&ami, "PJSIP/1007").await;
    let (code, guid) = ucontact(
        &base,
        "Agents/AgentCallwithData",
        Some(&token),
        &[
            ("callerid", "26003000"),
            ("agent", "2407"),
            ("phone", "1007"),
            ("tech", "SIP"),
            ("context", "from-internal"),
            ("outqueue", "Cobranza->"),
            ("destination", "5551004"),
            ("data", &data),
        ],
    );
    assert_eq!(code, "200", "AgentCallwithData: {guid}");
    assert_eq!(guid.len(), 36, "AgentCallwithData answers a GUID: {guid}");

    // Asterisk's CDR holds each value as it was sent.
    let rows = wait_cdr(&expand_tag, "eXpand originateCall");
    for (clid, calldata, _) in &rows {
        assert_eq!(
            calldata,
            &format!("t={expand_tag},a={},b={sum}", shell(&m_expand)),
            "eXpand callinfo verbatim"
        );
        assert!(
            !clid.contains("\"2\""),
            "a caller id name evaluated: {clid}"
        );
    }
    assert!(
        rows.iter().any(|(_, _, userfield)| userfield == &job),
        "the CDR carries the job id: {rows:?}"
    );
    let clids: Vec<&str> = rows.iter().map(|(c, _, _)| c.as_str()).collect();
    assert!(
        clids
            .iter()
            .any(|c| c.contains(&shell(&m_expand_cid)) || c.contains(sum)),
        "a caller id name arrives verbatim in the CDR's clid: {clids:?}"
    );

    let rows = wait_cdr(&uscall_tag, "USCall startCall");
    for (_, calldata, _) in &rows {
        assert_eq!(
            calldata,
            &format!("idcti={uscall_tag}"),
            "USCall idcti verbatim"
        );
    }

    let rows = wait_cdr(&ucontact_tag, "uContact AgentCallwithData");
    for (_, calldata, _) in &rows {
        let got = items(calldata);
        assert_eq!(got.get("a"), Some(&shell(&m_ucontact)), "{calldata}");
        assert_eq!(got.get("b").map(String::as_str), Some(sum), "{calldata}");
        assert_eq!(got.get("t"), Some(&ucontact_tag), "{calldata}");
    }
    for m in [&m_expand, &m_expand_cid, &m_uscall, &m_ucontact] {
        m.assert_absent("a facade's value");
    }

    // Text a facade documents as invalid is refused before any call is placed.
    phone_idle(&ami, "PJSIP/1001").await;
    let refused = php.call(
        "originateCall",
        json!([
            expand_key,
            "1001",
            "\"quoted\",a,b",
            "5551003",
            "",
            20,
            "t=x"
        ]),
    );
    // docs/expand.md: `0` when a parameter is malformed.
    assert_eq!(
        refused, "0",
        "a caller id name with quotes is refused as malformed"
    );
    assert_no_channel(&ami, "PJSIP/1001", Duration::from_secs(3), "eXpand refusal").await;
    for phone in ["PJSIP/1001", "PJSIP/1005", "PJSIP/1007"] {
        phone_idle(&ami, phone).await;
    }
    let _ = ami.logoff().await;
}

// ------------------------------------------------------------------ 3. AMI privileges

/// Sends `action` (name and fields) as the engine's AMI user; panics unless Asterisk refuses it
/// for permissions.
async fn assert_permission_denied(ami: &AmiClient, action: &str, fields: &[(&str, &str)]) {
    let raw = RawAction::new(action, fields).unwrap();
    match ami.send(&raw).await {
        Err(AmiError::ActionFailed { message, .. }) => assert!(
            message.to_ascii_lowercase().contains("permission denied"),
            "{action} {fields:?} refused for permissions: {message}"
        ),
        other => panic!("{action} {fields:?} must be refused, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_ami_user_has_no_system_config_or_command_class() {
    let _lab = LAB.lock().await;
    let ami = connect().await;
    let queues_conf = lab_root().join("etc/asterisk/queues.conf");
    let before = std::fs::read(&queues_conf).unwrap();
    // `command`: CLI commands.
    for command in ["core show version", "database show"] {
        assert_permission_denied(&ami, "Command", &[("Command", command)]).await;
    }
    // `system`: writing AstDB (which the dialplan trusts), listing PJSIP objects.
    assert_permission_denied(
        &ami,
        "DBPut",
        &[
            ("Family", "blacklist/all"),
            ("Key", "5550000"),
            ("Val", "1"),
        ],
    )
    .await;
    assert_permission_denied(&ami, "DBDel", &[("Family", "CF"), ("Key", "1007")]).await;
    assert_permission_denied(&ami, "DBDelTree", &[("Family", "CF")]).await;
    assert_permission_denied(&ami, "PJSIPShowEndpoints", &[]).await;
    // `config`: reading and rewriting configuration files.
    assert_permission_denied(&ami, "GetConfig", &[("Filename", "manager.conf")]).await;
    assert_permission_denied(
        &ami,
        "UpdateConfig",
        &[
            ("SrcFilename", "queues.conf"),
            ("DstFilename", "queues.conf"),
            ("Action-000000", "Append"),
            ("Cat-000000", "q_ventas"),
            ("Var-000000", "wrapuptime"),
            ("Value-000000", "99"),
        ],
    )
    .await;
    // Nothing was written: no such AstDB key, queues.conf as it was.
    let (_, found) = ami
        .send_list(&DbGetTree::new("blacklist", None).unwrap())
        .await
        .unwrap();
    assert!(
        !found
            .iter()
            .any(|e| e.get("Key").is_some_and(|k| k.contains("5550000"))),
        "{found:?}"
    );
    assert_eq!(
        std::fs::read(&queues_conf).unwrap(),
        before,
        "queues.conf untouched"
    );
    // What the engine does use still answers: the version, AstDB reads, PJSIP functions.
    let settings = ami.send(&CoreSettings).await.expect("CoreSettings answers");
    let version = settings.get("AsteriskVersion").unwrap_or("");
    assert!(version.starts_with("22"), "AsteriskVersion {version:?}");
    let aors = ami
        .send(&PjsipGetvar::endpoint("1007", "aors").unwrap())
        .await
        .expect("Getvar of PJSIP_ENDPOINT answers");
    assert_eq!(aors.get("Value"), Some("1007"));
    let _ = ami.logoff().await;
}

/// Removes the test phone's call forward when dropped.
struct ForwardOf(&'static str);

impl Drop for ForwardOf {
    fn drop(&mut self) {
        let ext = self.0;
        astdb_del("CF", ext);
    }
}

/// Hangs up every channel whose name starts with one of `prefixes`.
async fn hang_up(ami: &AmiClient, prefixes: &[&str]) {
    for c in channels(ami).await {
        if prefixes.iter().any(|p| c.starts_with(p)) {
            let _ = ami
                .send(&RawAction::new("Hangup", &[("Channel", &c)]).unwrap())
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_forward_never_dials_international_or_premium_numbers() {
    let _lab = LAB.lock().await;
    const EXT: &str = "1007";
    let ami = connect().await;
    let _forward = ForwardOf(EXT);
    phone_idle(&ami, &format!("PJSIP/{EXT}")).await;
    // Refused forward numbers: the phone rings instead, nothing goes to the carrier. Then a
    // national one, which the carrier receives (the forward works at all).
    for (number, dials_out) in [
        ("00441234567", false),
        ("0900123456", false),
        ("090012345", false),
        ("5551003", true),
    ] {
        astdb_put("CF", EXT, number);
        ami.send(
            &RawAction::new(
                "Originate",
                &[
                    ("Channel", &format!("Local/{EXT}@internal")),
                    ("Application", "Wait"),
                    ("Data", "15"),
                    ("Async", "true"),
                ],
            )
            .unwrap(),
        )
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let (phone, carrier) = loop {
            let now = channels(&ami).await;
            let phone = now.iter().any(|c| c.starts_with(&format!("PJSIP/{EXT}-")));
            let carrier = now.iter().any(|c| c.starts_with("PJSIP/carrier-"));
            if phone || carrier {
                // Give the other leg the same chance to show up before judging.
                tokio::time::sleep(Duration::from_millis(500)).await;
                let now = channels(&ami).await;
                break (
                    now.iter().any(|c| c.starts_with(&format!("PJSIP/{EXT}-"))),
                    now.iter().any(|c| c.starts_with("PJSIP/carrier-")),
                );
            }
            assert!(
                Instant::now() < deadline,
                "forward to {number}: neither the phone nor the carrier got a call"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if dials_out {
            assert!(carrier, "forward to {number} is dialed through the carrier");
            assert!(!phone, "forward to {number}: the phone is not rung");
        } else {
            assert!(!carrier, "forward to {number} must never reach the carrier");
            assert!(
                phone,
                "forward to {number} refused: the phone rings instead"
            );
        }
        hang_up(
            &ami,
            &[
                &format!("Local/{EXT}@internal"),
                &format!("PJSIP/{EXT}-"),
                "PJSIP/carrier-",
            ],
        )
        .await;
        phone_idle(&ami, &format!("PJSIP/{EXT}")).await;
        phone_idle(&ami, "PJSIP/carrier").await;
    }
    let _ = ami.logoff().await;
}
