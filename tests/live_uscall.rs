//! Live tier: the USCall webservice (`/aplicativos/webservice/wsuscall.php`) driven by real
//! clients against the lab: PHP SoapClient (positional arguments, `json_decode`, `retorno`) and
//! zeep, both building their proxies from the served WSDL (`tests/clients/uscall/`).
//!
//! Phones 1004, 1005, 1006 and the supervisor phone 1100, queue q_soporte (DID 26002000),
//! agents 2204 and 2205 only. Every member the test puts in q_soporte is removed at the end,
//! also when it fails; every call it places ends by itself (5551NNN talks NNN seconds).
//!
//! What it proves, every step through one client or the other:
//! - the WSDL is well-formed and both clients build their proxies from it; a wrong or revoked
//!   token is the documented JSON error;
//! - agentLogin checks the MD5 password and logs the agent in to its key queue (Asterisk shows
//!   the member); agentStatus says `ocioso`, `em pausa` with the pause's name after startPause,
//!   `ocupado` on a queue call with the queue, `nao logado` after agentLogout;
//! - startCall outbound rings the extension and the carrier, with the categoria's rewrite; a
//!   number against the categoria's rules is refused; monitExten `escuta` puts a ChanSpy channel
//!   of the supervisor's phone on the live call; the call is found by idcti in cdrSearch and
//!   cdrTariff, and its recording decodes as MP3, Ogg and WAV (8000 Hz, 16 bit, not silent);
//! - startCall clicktocall dials the number and connects it to the DDR's queue, where the agent
//!   takes it; cdrSearch shows it as `Click to call` with its DDR, `ATENDIDO` while the agent
//!   talks, then ended;
//! - calls in progress (`uscall_cdr_search_shows_calls_in_progress`): a startCall from 1004 to
//!   55510155 (rings 5 s, talks 15 s) is one cdrSearch row by its idcti, `CHAMANDO` then `ATENDIDO` (not in cdrTariff
//!   meanwhile), then exactly one `COMPLETADA` row of the same call (billed once);
//! - hangupCall ends a live call; queueStatus shows a caller waiting; extenStatus, getExtens,
//!   getQueue (nome and tipo from `[[uscall.queue]]`, else the queue's name and the directory),
//!   listTrunk, getPauses, getAgent answer from live state and the directory; not-found messages
//!   agree with their noun ("Pausa cafe não encontrada", "Fila ... não encontrada");
//! - parts named as the document spells them (`Token`, `Formato`, `Dataini`, `Datafin`, PHP
//!   SoapClient without the WSDL, `named.php`) are read: audioDownload answers MP3, cdrTariff
//!   is bounded by the dates;
//! - the report functions (ccenter*) answer from the journal with the session, pause and calls
//!   that happened; agentStatus gives the DDR of the agent's queue call;
//! - call forwarding (`uscall_follow_me_and_dialing`): a phone sets its forward with the feature
//!   code `*21<number>`, extenStatus shows it as `sigame`, a call to that extension (startCall
//!   from another phone) goes to the carrier number instead (AMI events and the CDR say so, the
//!   extension never rings), `*22` clears it; extenStatus says `discando` while a startCall's
//!   phone dials a number that never answers.
//!
//! The tests share the phones: they take `LAB` in turn.

#![cfg(feature = "live-lab")]

mod live_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::{
    CoreShowChannels, DbGet, Hangup, Originate, OriginateTarget, QueueRemove,
};
use centralita::core::md5::md5_hex;
use centralita::core::ChannelName;
use serde_json::Value;

use live_support::{
    astdb_del, asterisk_max_acct_id, cdr_db, connect, lab, python, queue_members, repo,
    wait_health, Engine, Scratch,
};

/// The tests of this file use the same phones: one at a time.
static LAB: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PATH: &str = "/aplicativos/webservice/wsuscall.php";
const QUEUE: &str = "q_soporte";
const PHONES: [&str; 4] = ["1004", "1005", "1006", "1100"];

/// Takes the test's phones out of q_soporte and hangs up the supervisor phone's channels (a
/// spy that outlived its call), at the start and when dropped.
async fn clean_up() {
    let client = connect().await;
    for p in PHONES {
        let _ = client
            .send(&QueueRemove::new(QUEUE, &format!("PJSIP/{p}")).unwrap())
            .await;
    }
    for (channel, _) in channels().await {
        if channel.starts_with("PJSIP/1100-") {
            let _ = client
                .send(&Hangup::new(&ChannelName::new(channel)).unwrap())
                .await;
        }
    }
    let _ = client.logoff().await;
}

struct QueueGuard;

impl Drop for QueueGuard {
    fn drop(&mut self) {
        let cleanup = clean_up();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(cleanup);
        })
        .join()
        .ok();
    }
}

#[derive(Clone, Copy, Debug)]
enum Client {
    Php,
    Zeep,
}

struct Ws {
    wsdl: String,
    token: String,
    scratch: PathBuf,
}

impl Ws {
    fn script(c: Client) -> (String, PathBuf) {
        let dir = repo().join("tests/clients/uscall");
        match c {
            Client::Php => ("php".into(), dir.join("call.php")),
            Client::Zeep => (python(), dir.join("call.py")),
        }
    }

    fn run(&self, c: Client, token: &str, op: &str, args: &[&str], out: Option<&Path>) -> Value {
        let (program, script) = Self::script(c);
        let mut cmd = Command::new(&program);
        cmd.arg(&script)
            .arg(&self.wsdl)
            .arg(op)
            .arg(token)
            .args(args);
        if let Some(out) = out {
            cmd.env("OUT_FILE", out);
        }
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{c:?} {op} {args:?} failed: {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{c:?} {op}: {e}: {stdout}"))
    }

    /// `op(token, args...)` through `c`; `-` sends an absent value.
    fn call(&self, c: Client, op: &str, args: &[&str]) -> Value {
        self.run(c, &self.token, op, args, None)
    }

    /// Asserts an ok answer and returns `retorno`.
    fn ok(&self, c: Client, op: &str, args: &[&str]) -> Value {
        let v = self.call(c, op, args);
        assert_eq!(v["status"], "ok", "{c:?} {op} {args:?}: {v}");
        v["retorno"].clone()
    }

    /// Asserts an error answer with `code`.
    fn err(&self, c: Client, op: &str, args: &[&str], code: &str) {
        let v = self.call(c, op, args);
        assert_eq!(v["status"], "erro", "{c:?} {op} {args:?}: {v}");
        assert_eq!(v["codigo"], code, "{c:?} {op} {args:?}: {v}");
        assert!(v["retorno"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }

    /// Polls `op` until `pred` holds on its `retorno`.
    fn until(
        &self,
        c: Client,
        op: &str,
        args: &[&str],
        within: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let r = self.ok(c, op, args);
            if pred(&r) {
                return r;
            }
            assert!(
                started.elapsed() < within,
                "timed out waiting for {what}: last {op} {r}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn agent_status(&self, c: Client, agent: &str) -> Value {
        self.ok(c, "agentStatus", &[agent])[0].clone()
    }
}

/// Whether a cdrSearch row is an ended call (not `CHAMANDO` or `ATENDIDO`).
fn ended(row: &Value) -> bool {
    !matches!(row["status"].as_str(), Some("CHAMANDO" | "ATENDIDO") | None)
}

fn status_is(s: &'static str) -> impl Fn(&Value) -> bool {
    move |r: &Value| r[0]["status"] == s
}

async fn channels() -> Vec<(String, String)> {
    let client = connect().await;
    let (_, list) = client.send_list(&CoreShowChannels).await.unwrap();
    let _ = client.logoff().await;
    list.iter()
        .filter(|e| e.event_name() == Some("CoreShowChannel"))
        .map(|e| {
            (
                e.get("Channel").unwrap_or("").to_owned(),
                format!(
                    "{}({})",
                    e.get("Application").unwrap_or(""),
                    e.get("ApplicationData").unwrap_or("")
                ),
            )
        })
        .collect()
}

async fn until_channels(
    what: &str,
    within: Duration,
    pred: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let started = Instant::now();
    loop {
        let ch = channels().await;
        if pred(&ch) {
            return ch;
        }
        assert!(
            started.elapsed() < within,
            "timed out waiting for {what}: {ch:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The RMS amplitude `sox FILE -n stat` measures.
fn rms(file: &Path) -> f64 {
    let text = tool("sox", &[file.to_str().unwrap(), "-n", "stat"]);
    text.lines()
        .find(|l| l.starts_with("RMS     amplitude"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("sox stat: {text}"))
}

const CONFIG: &str = r#"
[dialing]
ddrs = ["26002000"]

[[dialing.category]]
id = "1"
name = "Lab"
trunk = "carrier"
[[dialing.category.rule]]
pattern = "0[5]551XXX"
strip = 1
[[dialing.category.rule]]
pattern = "5551XXX"
# The carrier's slow answer (5551NNNR: rings R seconds).
[[dialing.category.rule]]
pattern = "5551XXXX"

[[dialing.category]]
id = "sem-tronco"
trunk = "nao-existe"
[[dialing.category.rule]]
pattern = "X."

[[dialing.category]]
id = "ramais"
name = "Ramais"
[[dialing.category.rule]]
pattern = "10XX"

[[dialing.category]]
id = "sem-resposta"
name = "Nunca atende"
trunk = "carrier"
[[dialing.category.rule]]
pattern = "5553"

# getQueue's nome and tipo of q_soporte (q_ventas is left to the defaults).
[[uscall.queue]]
queue = "q_soporte"
name = "Suporte técnico"
type = "callcenter"

# The lab carrier's short "never answers" number is no national number: this site allows it.
[outbound]
national = ["_NXXXXXX", "_NXXXXXXX", "_0ZXXXXXXX", "5553"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uscall_webservice_through_php_and_zeep() {
    let _lab = LAB.lock().await;
    clean_up().await;
    let _guard = QueueGuard;
    // Reports below cover what happened from here on (the engine's zone is the lab config's).
    let since = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("America/Montevideo").unwrap())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    let scratch = Scratch::new("uscall");
    let engine = Engine::start_with(scratch.path(), "1", CONFIG);
    wait_health(&engine, Duration::from_secs(30), "the engine", |code, _| {
        code == "200"
    });
    engine.admin(
        &[
            "agent",
            "add",
            "2204",
            "--name",
            "Ana Souza",
            "--queue",
            QUEUE,
            "--extension",
            "1004",
            "--password-stdin",
        ],
        "segredo\n",
    );
    engine.admin(
        &[
            "agent",
            "add",
            "2205",
            "--name",
            "Beto Lima",
            "--queue",
            QUEUE,
            "--extension",
            "1005",
        ],
        "",
    );
    engine.admin(
        &[
            "pause-reason",
            "add",
            "almoco",
            "--name",
            "Almoço",
            "--max-seconds",
            "3600",
        ],
        "",
    );
    let ws = Ws {
        wsdl: format!("{}{PATH}?wsdl", engine.base_url()),
        token: engine.api_key("uscall", "CRM"),
        scratch: scratch.path().to_path_buf(),
    };
    use Client::{Php, Zeep};

    // The WSDL: well-formed, pointing at this engine.
    let wsdl_file = ws.scratch.join("uscall.wsdl");
    let out = Command::new("curl")
        .args(["-sf", "-o", wsdl_file.to_str().unwrap(), &ws.wsdl])
        .status()
        .unwrap();
    assert!(out.success());
    tool("xmllint", &["--noout", wsdl_file.to_str().unwrap()]);
    let wsdl_text = std::fs::read_to_string(&wsdl_file).unwrap();
    assert!(wsdl_text.contains(&format!("location=\"{}{PATH}\"", engine.base_url())));

    // Tokens.
    for c in [Php, Zeep] {
        let v = ws.run(c, "nada.disso", "getPauses", &[], None);
        assert_eq!(
            (v["status"].as_str(), v["codigo"].as_str()),
            (Some("erro"), Some("token_invalido"))
        );
    }
    let other = engine.api_key("expand", "Outro");
    let v = ws.run(Php, &other, "getAgent", &[], None);
    assert_eq!(
        v["codigo"], "token_invalido",
        "an eXpand key does not open USCall"
    );

    // Directory.
    let agents = ws.ok(Php, "getAgent", &[]);
    let ana = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["num"] == "2204")
        .unwrap()
        .clone();
    assert_eq!(
        (ana["nome"].as_str(), ana["filachave"].as_str()),
        (Some("Ana Souza"), Some(QUEUE))
    );
    assert!(ana["senha"].is_null(), "no password is ever disclosed");
    let pauses = ws.ok(Zeep, "getPauses", &[]);
    assert_eq!(pauses[0]["id"], "almoco");
    assert_eq!(
        (pauses[0]["tempo"].as_u64(), pauses[0]["filas"].as_str()),
        (Some(3600), Some("ALL"))
    );
    assert!(ws
        .ok(Zeep, "listTrunk", &[])
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["nome"] == "carrier" && t["canal"] == "PJSIP/carrier"));
    let q = ws.ok(Zeep, "getQueue", &[QUEUE]);
    assert_eq!(
        (
            q[0]["fila"].as_str(),
            q[0]["tipo"].as_str(),
            q[0]["nome"].as_str()
        ),
        (Some(QUEUE), Some("callcenter"), Some("Suporte técnico")),
        "as [[uscall.queue]] shows it"
    );
    // A queue not configured: its own name; no directory agent has it, so a PBX queue.
    let q = ws.ok(Php, "getQueue", &["q_ventas"]);
    assert_eq!(
        (q[0]["nome"].as_str(), q[0]["tipo"].as_str()),
        (Some("q_ventas"), Some("pbx"))
    );
    ws.err(Php, "getQueue", &["q_nao_existe"], "nao_encontrado");
    let v = ws.call(Php, "getQueue", &["q_nao_existe"]);
    assert_eq!(v["retorno"], "Fila q_nao_existe não encontrada");

    // agentLogin: the MD5 password, the key queue.
    let md5 = md5_hex(b"segredo");
    ws.err(
        Zeep,
        "agentLogin",
        &["2204", "1004", &md5_hex(b"errada")],
        "senha_invalida",
    );
    ws.err(
        Php,
        "agentLogin",
        &["2205", "1005", &md5_hex(b"x")],
        "senha_invalida",
    );
    ws.err(
        Php,
        "agentLogin",
        &["2204", "1004", &md5, "q_ventas"],
        "nao_permitido",
    );
    ws.err(
        Zeep,
        "agentLogin",
        &["2204", "-", &md5],
        "parametro_obrigatorio",
    );
    assert_eq!(ws.agent_status(Zeep, "2204")["status"], "nao logado");
    let login = ws.ok(Php, "agentLogin", &["2204", "1004", &md5, "-"]);
    assert_eq!(login["filas"], serde_json::json!([QUEUE]));
    let client = connect().await;
    assert!(queue_members(&client, QUEUE)
        .await
        .contains(&"PJSIP/1004".to_owned()));
    let st = ws.until(
        Zeep,
        "agentStatus",
        &["2204"],
        Duration::from_secs(10),
        "ocioso",
        status_is("ocioso"),
    )[0]
    .clone();
    assert_eq!(
        (st["ramal"].as_str(), st["filas"].as_str()),
        (Some("1004"), Some(QUEUE))
    );

    // Pauses.
    ws.err(Php, "startPause", &["2204", "cafe"], "nao_encontrado");
    let v = ws.call(Zeep, "startPause", &["2204", "cafe"]);
    assert_eq!(v["retorno"], "Pausa cafe não encontrada");
    ws.err(Php, "endPause", &["2204"], "nao_permitido");
    ws.ok(Zeep, "startPause", &["2204", "almoco"]);
    let st = ws.until(
        Php,
        "agentStatus",
        &["2204"],
        Duration::from_secs(10),
        "em pausa",
        status_is("em pausa"),
    )[0]
    .clone();
    assert_eq!(st["pausa"], "Almoço");
    // Long enough for the journal (whole seconds) to show a pause of some length.
    std::thread::sleep(Duration::from_secs(2));
    ws.ok(Php, "endPause", &["2204"]);
    ws.until(
        Zeep,
        "agentStatus",
        &["2204"],
        Duration::from_secs(10),
        "ocioso again",
        status_is("ocioso"),
    );

    // Extensions.
    let e = ws.ok(Zeep, "getExtens", &["1004"]);
    assert_eq!(
        (e[0]["tipo"].as_str(), e[0]["nome"].as_str()),
        (Some("callcenter"), Some("Ana Souza"))
    );
    assert_eq!(ws.ok(Php, "getExtens", &["1006"])[0]["tipo"], "pbx");
    ws.err(Php, "getExtens", &["1999"], "nao_encontrado");
    let cc = ws.ok(Php, "extenStatus", &["callcenter"]);
    let listed: Vec<&str> = cc
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["ramal"].as_str())
        .collect();
    assert!(
        listed.contains(&"1004") && !listed.contains(&"1006"),
        "{listed:?}"
    );
    let s = ws.ok(Zeep, "extenStatus", &["all", "1006"]);
    assert_eq!(
        (s[0]["status"].as_str(), s[0]["ip"].as_str()),
        (Some("disponível"), Some("127.0.1.6"))
    );

    // startCall outbound: refused numbers, then a real call with the categoria's rewrite.
    ws.err(
        Php,
        "startCall",
        &["outbound", "1005", "5552010", "1", "X"],
        "regra_discagem",
    );
    ws.err(
        Zeep,
        "startCall",
        &["outbound", "1005", "5551030;x", "1"],
        "regra_discagem",
    );
    ws.err(
        Php,
        "startCall",
        &["outbound", "1005", "5551030", "sem-tronco"],
        "nao_permitido",
    );
    ws.err(
        Zeep,
        "startCall",
        &["outbound", "1005", "5551030", "nada"],
        "nao_encontrado",
    );
    let idcti = format!("CTI-{}", std::process::id());
    let started = ws.ok(
        Php,
        "startCall",
        &["outbound", "1005", "05551030", "1", &idcti],
    );
    assert_eq!(
        (started["numero"].as_str(), started["idcti"].as_str()),
        (Some("5551030"), Some(idcti.as_str()))
    );
    until_channels("1005 and the carrier up", Duration::from_secs(20), |ch| {
        ch.iter()
            .any(|(c, app)| c.starts_with("PJSIP/1005-") && app.starts_with("Dial("))
            && ch.iter().any(|(c, _)| c.starts_with("PJSIP/carrier-"))
    })
    .await;
    ws.until(
        Zeep,
        "extenStatus",
        &["all", "1005"],
        Duration::from_secs(10),
        "1005 busy with the number dialed",
        |r| r[0]["status"] == "ocupado" && r[0]["numero"] == "5551030",
    );

    // monitExten escuta from the supervisor's phone.
    ws.err(Php, "monitExten", &["1100", "1006"], "sem_ligacao");
    ws.err(
        Zeep,
        "monitExten",
        &["1100", "2204", "yes", "escuta"],
        "sem_ligacao",
    );
    // Each kind of monitoring in turn: 1100's ChanSpy channel with its options, then hung up.
    // (ChanSpy's options: `w` whisper, `B` barge; other options such as `E` may come with them.)
    assert!(!channels()
        .await
        .iter()
        .any(|(c, _)| c.starts_with("PJSIP/1100-")));
    for (client, tipo, wanted) in [
        (Zeep, "escuta", ""),
        (Php, "monitor", "w"),
        (Zeep, "conf", "B"),
    ] {
        let mode_ok = |app: &str| {
            let options = app.rsplit(',').next().unwrap_or("").trim_end_matches(')');
            options.contains('q')
                && options.contains('s')
                && ["w", "B"]
                    .iter()
                    .all(|m| options.contains(m) == (*m == wanted))
        };
        let m = ws.ok(client, "monitExten", &["1100", "1005", "-", tipo]);
        assert_eq!(
            (m["tipo"].as_str(), m["dstramal"].as_str()),
            (Some(tipo), Some("1005"))
        );
        until_channels(
            &format!("1100 spying ({tipo})"),
            Duration::from_secs(15),
            |ch| {
                ch.iter().any(|(c, app)| {
                    c.starts_with("PJSIP/1100-")
                        && app.starts_with("ChanSpy(PJSIP/1005-")
                        && mode_ok(app)
                })
            },
        )
        .await;
        ws.ok(client, "hangupCall", &["1100"]);
        until_channels("1100 free", Duration::from_secs(10), |ch| {
            !ch.iter().any(|(c, _)| c.starts_with("PJSIP/1100-"))
        })
        .await;
    }

    // hangupCall ends a live call.
    ws.ok(Zeep, "startCall", &["outbound", "1006", "5551040", "1"]);
    ws.until(
        Php,
        "extenStatus",
        &["-", "1006"],
        Duration::from_secs(20),
        "1006 busy",
        status_is("ocupado"),
    );
    ws.err(Php, "hangupCall", &["2204", "yes"], "sem_ligacao");
    ws.ok(Php, "hangupCall", &["1006"]);
    ws.until(
        Zeep,
        "extenStatus",
        &["-", "1006"],
        Duration::from_secs(10),
        "1006 free again",
        status_is("disponível"),
    );

    // The outbound call ends by itself (30 s); then it is in the journal, found by idcti.
    let rows = ws.until(
        Php,
        "cdrSearch",
        &["-", "-", "-", "-", &idcti],
        Duration::from_secs(60),
        "the ended call by idcti",
        |r| r.as_array().is_some_and(|a| a.len() == 1 && ended(&a[0])),
    );
    let row = &rows[0];
    assert_eq!(row["tipo"], "Efetuada");
    assert_eq!(row["status"], "COMPLETADA");
    assert_eq!(
        (row["origem"].as_str(), row["destino"].as_str()),
        (Some("1005"), Some("5551030"))
    );
    assert_eq!(
        (row["tronco"].as_str(), row["idcti"].as_str()),
        (Some("carrier"), Some(idcti.as_str()))
    );
    assert!(
        row["Audio"].as_str().is_some_and(|a| a.ends_with(".wav")),
        "{row}"
    );
    let bilhete = row["bilheteunico"].as_str().unwrap().to_owned();
    let by_id = ws.ok(Zeep, "cdrSearch", &["-", "-", "1005", "-", &bilhete]);
    assert_eq!(by_id[0]["idcti"], idcti.as_str());
    let job = started["id"].as_str().unwrap();
    let by_job = ws.ok(Php, "cdrSearch", &["-", "-", "-", "-", job]);
    assert_eq!(
        by_job[0]["bilheteunico"],
        bilhete.as_str(),
        "found by startCall's id"
    );
    assert_eq!(
        ws.ok(Zeep, "cdrSearch", &["-", "-", "1999", "-", &bilhete]),
        serde_json::json!([])
    );
    let today = ws.ok(Php, "cdrSearch", &[]);
    assert!(today
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["bilheteunico"] == bilhete.as_str()));
    let tariff = ws.ok(Zeep, "cdrTariff", &[]);
    let t = tariff
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["idcall"] == bilhete.as_str())
        .expect("tariffed");
    assert_eq!(
        (
            t["numero"].as_str(),
            t["ramalnum"].as_str(),
            t["tronconome"].as_str()
        ),
        (Some("5551030"), Some("1005"), Some("carrier"))
    );
    assert_eq!(t["ramalnome"], "Beto Lima");
    assert!(t["durcall"].as_i64().unwrap() >= 15, "{t}");

    // audioDownload: the recording in the three formats, decoded by the clients and checked.
    let mp3 = ws.scratch.join("call.mp3");
    let v = ws.run(
        Zeep,
        &ws.token,
        "audioDownload",
        &[&idcti, "mp3"],
        Some(&mp3),
    );
    assert_eq!(v["retorno"]["Tipo"], "Efetuada", "{v}");
    assert!(v["retorno"]["Nomeaudio"]
        .as_str()
        .unwrap()
        .ends_with(".mp3"));
    let decoded = ws.scratch.join("call-mp3.wav");
    tool(
        "lame",
        &[
            "--quiet",
            "--decode",
            mp3.to_str().unwrap(),
            decoded.to_str().unwrap(),
        ],
    );
    assert!(rms(&decoded) > 0.01);
    let ogg = ws.scratch.join("call.ogg");
    let v = ws.run(
        Php,
        &ws.token,
        "audioDownload",
        &[&bilhete, "ogg"],
        Some(&ogg),
    );
    assert_eq!(
        (
            v["retorno"]["Origem"].as_str(),
            v["retorno"]["Destino"].as_str()
        ),
        (Some("1005"), Some("5551030"))
    );
    tool("ogginfo", &[ogg.to_str().unwrap()]);
    assert!(rms(&ogg) > 0.01);
    let wav = ws.scratch.join("call.wav");
    let v = ws.run(Php, &ws.token, "audioDownload", &[&idcti], Some(&wav));
    assert_eq!(v["retorno"]["Status"], "COMPLETADA");
    let info = tool("soxi", &[wav.to_str().unwrap()]);
    assert!(
        info.contains("Sample Rate    : 8000") && info.contains("Precision      : 16-bit"),
        "{info}"
    );
    assert!(rms(&wav) > 0.01);
    ws.err(
        Zeep,
        "audioDownload",
        &[&idcti, "flac"],
        "parametro_invalido",
    );
    ws.err(Php, "audioDownload", &["nao-existe"], "nao_encontrado");
    // Parts named as the document spells them (PHP SoapClient without the WSDL): `Formato`
    // chooses the format; `Dataini`/`Datafin` bound cdrTariff.
    let named = |op: &str, parts: &[String], out: Option<&Path>| -> Value {
        let mut cmd = Command::new("php");
        cmd.arg(repo().join("tests/clients/uscall/named.php"))
            .arg(format!("{}{PATH}", engine.base_url()))
            .arg(op)
            .arg(format!("Token={}", ws.token))
            .args(parts);
        if let Some(out) = out {
            cmd.env("OUT_FILE", out);
        }
        let o = cmd.output().expect("php runs");
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "named.php {op}: {:?}", o);
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{op}: {e}: {stdout}"))
    };
    let named_mp3 = ws.scratch.join("named.mp3");
    let v = named(
        "audioDownload",
        &[format!("idunico={idcti}"), "Formato=mp3".into()],
        Some(&named_mp3),
    );
    assert!(
        v["retorno"]["Nomeaudio"]
            .as_str()
            .is_some_and(|n| n.ends_with(".mp3")),
        "Formato=mp3 read: {v}"
    );
    let decoded = ws.scratch.join("named-mp3.wav");
    tool(
        "lame",
        &[
            "--quiet",
            "--decode",
            named_mp3.to_str().unwrap(),
            decoded.to_str().unwrap(),
        ],
    );
    let v = named(
        "audioDownload",
        &[format!("IdUnico={idcti}"), "Formato=flac".into()],
        None,
    );
    assert_eq!(v["codigo"], "parametro_invalido", "{v}");
    let v = named(
        "cdrTariff",
        &[format!("Dataini={since}"), "Datafin=-".into()],
        None,
    );
    assert_eq!(v["codigo"], "parametro_invalido", "Datafin read: {v}");
    let v = named("cdrTariff", &[format!("Dataini={since}")], None);
    assert!(
        v["retorno"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["idcall"] == bilhete.as_str())),
        "the call after Dataini: {v}"
    );
    let v = named(
        "cdrTariff",
        &[
            "Dataini=2020-01-01 00:00:00".into(),
            "Datafin=2020-01-02 00:00:00".into(),
        ],
        None,
    );
    assert_eq!(v["retorno"], serde_json::json!([]), "a past day: {v}");

    // clicktocall: the number, connected to the DDR of q_soporte, taken by agent 2204.
    ws.err(
        Php,
        "startCall",
        &["clicktocall", "5551012", "26001000", "1"],
        "nao_encontrado",
    );
    let c2c = format!("C2C-{}", std::process::id());
    ws.ok(
        Zeep,
        "startCall",
        &["clicktocall", "5551012", "26002000", "1", &c2c],
    );
    let st = ws.until(
        Php,
        "agentStatus",
        &["2204"],
        Duration::from_secs(30),
        "2204 on the queue call with the number dialed",
        |r| r[0]["status"] == "ocupado" && r[0]["numero"] == "5551012",
    )[0]
    .clone();
    assert_eq!(st["atendfila"], QUEUE);
    assert_eq!(st["ddr"], "26002000", "the DDR the call came in on: {st}");
    assert!(st["idcall"].as_str().is_some_and(|i| !i.is_empty()), "{st}");
    // In progress: one row, answered, already shaped like the ended one.
    let rows = ws.ok(Zeep, "cdrSearch", &["-", "-", "-", "-", &c2c]);
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(
        (
            rows[0]["status"].as_str(),
            rows[0]["tipo"].as_str(),
            rows[0]["DDR"].as_str(),
            rows[0]["origem"].as_str()
        ),
        (
            Some("ATENDIDO"),
            Some("Click to call"),
            Some("26002000"),
            Some("5551012")
        ),
        "{rows}"
    );
    assert_eq!(rows[0]["idcti"], c2c.as_str());
    let rows = ws.until(
        Zeep,
        "cdrSearch",
        &["-", "-", "-", "-", &c2c],
        Duration::from_secs(60),
        "the clicktocall ended",
        |r| r.as_array().is_some_and(|a| a.len() == 1 && ended(&a[0])),
    );
    assert_eq!(
        (rows[0]["tipo"].as_str(), rows[0]["DDR"].as_str()),
        (Some("Click to call"), Some("26002000"))
    );
    assert_eq!(
        (rows[0]["origem"].as_str(), rows[0]["status"].as_str()),
        (Some("5551012"), Some("COMPLETADA"))
    );

    // A caller waits while nobody is logged in; the agent logs in and takes the call.
    ws.until(
        Zeep,
        "agentStatus",
        &["2204"],
        Duration::from_secs(30),
        "2204 free (wrap-up over)",
        status_is("ocioso"),
    );
    ws.ok(Php, "agentLogout", &["2204"]);
    let st = ws.until(
        Zeep,
        "agentStatus",
        &["2204"],
        Duration::from_secs(10),
        "nao logado",
        status_is("nao logado"),
    )[0]
    .clone();
    let received = st["recebidas"].as_u64().unwrap();
    ws.err(Zeep, "agentLogout", &["2204"], "agente_nao_logado");
    let out = lab(&[
        "call-in",
        "--did",
        "26002000",
        "--from",
        "099555001",
        "--talk",
        "3",
        "--background",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let qs = ws.until(
        Zeep,
        "queueStatus",
        &[QUEUE],
        Duration::from_secs(20),
        "a caller waiting",
        |r| r[0]["status"] == "busy",
    )[0]
    .clone();
    assert_eq!(qs["espera"], 1);
    assert_eq!(qs["numeros"][0]["numero"], "099555001");
    ws.ok(Zeep, "agentLogin", &["2204", "1004", &md5.to_uppercase()]);
    ws.until(
        Php,
        "queueStatus",
        &[QUEUE],
        Duration::from_secs(30),
        "the caller taken",
        |r| r[0]["status"] == "ok",
    );
    ws.until(
        Php,
        "agentStatus",
        &["2204"],
        Duration::from_secs(40),
        "2204 answered the call",
        |r| r[0]["recebidas"].as_u64().unwrap_or(0) > received,
    );
    ws.until(
        Zeep,
        "agentStatus",
        &["2204"],
        Duration::from_secs(30),
        "the call over",
        |r| r[0]["status"] == "ocioso",
    );

    // Reports from the journal since the test began: two sessions, one pause, two queue calls.
    let a = ws.until(
        Php,
        "ccenterAgents",
        &["2204", QUEUE, &since],
        Duration::from_secs(20),
        "both calls reported",
        |a| a[0]["atendidas"] == 2,
    );
    assert_eq!(
        (a[0]["agente"].as_str(), a[0]["nome"].as_str()),
        (Some("2204"), Some("Ana Souza"))
    );
    assert_eq!(a[0]["sessoes"], 2, "{a}");
    assert!(a[0]["tempo_pausa"].as_i64().unwrap() >= 1, "{a}");
    let p = ws.ok(Zeep, "ccenterPauses", &["detalhado", "2204", "-", &since]);
    assert_eq!(p.as_array().unwrap().len(), 1, "{p}");
    assert_eq!(
        (p[0]["idpausa"].as_str(), p[0]["pausa"].as_str()),
        (Some("almoco"), Some("Almoço"))
    );
    let p = ws.ok(Php, "ccenterPauses", &["resumo", "2204", "-", &since]);
    assert_eq!(p[0]["quantidade"], 1, "{p}");
    let s = ws.ok(
        Zeep,
        "ccenterSessions",
        &["detalhado", "2204", QUEUE, &since],
    );
    assert_eq!(s.as_array().unwrap().len(), 2, "{s}");
    assert_eq!(s[0]["filas"], QUEUE);
    let s = ws.ok(Php, "ccenterSessions", &["resumo", "2204", QUEUE, &since]);
    assert_eq!(s[0]["sessoes"], 2, "{s}");
    let m = ws.ok(Php, "ccenterMetrics", &["filas", "-", QUEUE, &since]);
    assert!(m[0]["atendidas"].as_u64().unwrap() >= 2, "{m}");
    let has_pause = |act: &Value| {
        act.as_array()
            .unwrap()
            .iter()
            .any(|e| e["evento"] == "PAUSE")
    };
    let act = ws.ok(
        Zeep,
        "ccenterMetrics",
        &["atividade", "2204", QUEUE, &since],
    );
    assert!(has_pause(&act), "{act}");
    // Without dates the range is today so far, answered from the engine's running day
    // figures rather than folded from the journal: the same calls and pause are in it (unless
    // the day changed since the test began).
    let zone = jiff::tz::TimeZone::get("America/Montevideo").unwrap();
    let same_day = jiff::Zoned::now().with_time_zone(zone.clone()).date()
        == jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &since)
            .unwrap()
            .date();
    if same_day {
        let m = ws.ok(Zeep, "ccenterMetrics", &["filas", "-", QUEUE]);
        assert!(m[0]["atendidas"].as_u64().unwrap() >= 2, "{m}");
        let act = ws.ok(Php, "ccenterMetrics", &["atividade", "2204", QUEUE]);
        assert!(has_pause(&act), "{act}");
    }
    let reports = ws.ok(Zeep, "ccenterMetricsReports", &[]);
    assert_eq!(reports.as_array().unwrap().len(), 3);
    let cdr = ws.ok(Php, "ccenterCdr", &[&since, "-", "2204", QUEUE]);
    assert!(
        cdr.as_array()
            .unwrap()
            .iter()
            .any(|r| r["idcti"] == c2c.as_str() && r["agente"] == "2204"),
        "{cdr}"
    );
    ws.err(Zeep, "ccenterMetrics", &["vendas"], "parametro_invalido");

    // The last logout, and a revoked token stops working at once.
    ws.ok(Zeep, "agentLogout", &["2204"]);
    let id = ws.token.split('.').next().unwrap().to_owned();

    // Every command was journaled as this API and credential.
    let db = rusqlite::Connection::open(scratch.path().join("journal.db")).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT DISTINCT action FROM engine_action WHERE api = 'uscall' AND principal = ?1",
        )
        .unwrap();
    let actions: Vec<String> = stmt
        .query_map([&id], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for a in [
        "originate.start",
        "agent.login",
        "agent.pause",
        "agent.unpause",
        "agent.logout",
        "call.hangup",
        "call.spy",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} not journaled: {actions:?}"
        );
    }
    engine.admin(&["credential", "revoke", &id], "");
    let v = ws.call(Php, "getPauses", &[]);
    assert_eq!(v["codigo"], "token_invalido");
    let _ = client.logoff().await;
}

/// Removes the forwards of the test's phones (AstDB `CF/<ext>`, with the CLI: the engine's
/// AMI user cannot write AstDB), at the start and when dropped.
fn clear_forwards() {
    for p in PHONES {
        astdb_del("CF", p);
    }
}

struct ForwardGuard;

impl Drop for ForwardGuard {
    fn drop(&mut self) {
        clear_forwards();
    }
}

/// `phone` dials `code`: its channel (answered by the phone) runs the code in the phones'
/// dialplan context, as when the user keys it in.
async fn dial_code(client: &centralita::asterisk::ami::AmiClient, phone: &str, code: &str) {
    let action = Originate::new(
        &format!("PJSIP/{phone}"),
        OriginateTarget::extension("phones", code, 1).unwrap(),
    )
    .unwrap()
    .with_timeout(Duration::from_secs(15));
    client.send(&action).await.unwrap();
}

/// `(channel, dstchannel, dst, disposition)` of Asterisk's CDR rows after `after`.
fn cdr_rows_after(after: i64) -> Vec<(String, String, String, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(cdr_db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT channel, dstchannel, dst, disposition FROM cdr WHERE AcctId > ?1 \
             ORDER BY AcctId",
        )
        .unwrap();
    stmt.query_map([after], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uscall_follow_me_and_dialing() {
    let _lab = LAB.lock().await;
    clean_up().await;
    clear_forwards();
    let _guard = QueueGuard;
    let _forwards = ForwardGuard;
    let scratch = Scratch::new("uscall-sigame");
    let engine = Engine::start_with(scratch.path(), "1", CONFIG);
    wait_health(&engine, Duration::from_secs(30), "the engine", |code, _| {
        code == "200"
    });
    let ws = Ws {
        wsdl: format!("{}{PATH}?wsdl", engine.base_url()),
        token: engine.api_key("uscall", "PABX"),
        scratch: scratch.path().to_path_buf(),
    };
    use Client::{Php, Zeep};
    let client = connect().await;

    // No forward yet.
    for p in ["1005", "1006"] {
        assert_eq!(ws.ok(Php, "extenStatus", &["all", p])[0]["sigame"], "");
    }

    // 1006 forwards itself to 5551005 with *21.
    dial_code(&client, "1006", "*215551005").await;
    let s = ws.until(
        Zeep,
        "extenStatus",
        &["all", "1006"],
        Duration::from_secs(20),
        "1006 forwarded",
        |r| r[0]["sigame"] == "5551005",
    );
    assert_eq!(s.as_array().unwrap().len(), 1);
    let all = ws.ok(Php, "extenStatus", &[]);
    for r in all.as_array().unwrap() {
        if r["ramal"] == "1004" || r["ramal"] == "1005" {
            assert_eq!(r["sigame"], "", "only 1006 is forwarded: {r}");
        }
    }
    // The 1006 channel that ran the code is gone before the next call.
    until_channels("1006 free", Duration::from_secs(15), |ch| {
        !ch.iter().any(|(c, _)| c.starts_with("PJSIP/1006-"))
    })
    .await;

    // 1005 calls 1006: the call goes out to 5551005 through the carrier; 1006 never rings.
    let mut events = client.subscribe();
    let before = asterisk_max_acct_id();
    let idcti = format!("FWD-{}", std::process::id());
    ws.ok(
        Php,
        "startCall",
        &["outbound", "1005", "1006", "ramais", &idcti],
    );
    let started = Instant::now();
    let mut dialed: Vec<(String, String, String)> = Vec::new();
    while started.elapsed() < Duration::from_secs(40) {
        let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(500), events.recv()).await
        else {
            continue;
        };
        if e.event_name() == Some("DialBegin") {
            dialed.push((
                e.get("Channel").unwrap_or("").to_owned(),
                e.get("DestChannel").unwrap_or("").to_owned(),
                e.get("DialString").unwrap_or("").to_owned(),
            ));
        }
        if dialed
            .iter()
            .any(|(_, d, s)| d.starts_with("PJSIP/carrier-") && s == "5551005@carrier")
        {
            break;
        }
    }
    assert!(
        dialed.iter().any(|(c, d, s)| c.starts_with("PJSIP/1005-")
            && d.starts_with("PJSIP/carrier-")
            && s == "5551005@carrier"),
        "1005's call dialed the forward number through the carrier: {dialed:?}"
    );
    // The carrier talks 5 s and hangs up; then the CDR has the forwarded leg.
    let rows = {
        let started = Instant::now();
        loop {
            let rows = cdr_rows_after(before);
            if rows
                .iter()
                .any(|(c, d, _, _)| c.starts_with("PJSIP/1005-") && d.starts_with("PJSIP/carrier-"))
            {
                break rows;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no CDR of the forwarded call: {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let leg = rows
        .iter()
        .find(|(c, d, _, _)| c.starts_with("PJSIP/1005-") && d.starts_with("PJSIP/carrier-"))
        .unwrap();
    assert_eq!(
        (leg.2.as_str(), leg.3.as_str()),
        ("5551005", "ANSWERED"),
        "{rows:?}"
    );
    assert!(
        !dialed.iter().any(|(_, d, _)| d.starts_with("PJSIP/1006-"))
            && !rows
                .iter()
                .any(|(c, d, _, _)| c.starts_with("PJSIP/1006-") || d.starts_with("PJSIP/1006-")),
        "1006 rang: {dialed:?} {rows:?}"
    );

    // *22 clears the forward.
    dial_code(&client, "1006", "*22").await;
    ws.until(
        Php,
        "extenStatus",
        &["all", "1006"],
        Duration::from_secs(20),
        "1006 not forwarded",
        |r| r[0]["sigame"] == "",
    );
    assert!(
        client
            .send_list(&DbGet::new("CF", "1006").unwrap())
            .await
            .is_err(),
        "CF/1006 is gone from AstDB"
    );

    // discando: 1005 answers a startCall and dials 5553, which never answers.
    until_channels("1005 free", Duration::from_secs(20), |ch| {
        !ch.iter().any(|(c, _)| c.starts_with("PJSIP/1005-"))
    })
    .await;
    ws.ok(
        Zeep,
        "startCall",
        &["outbound", "1005", "5553", "sem-resposta"],
    );
    until_channels("the carrier ringing 5553", Duration::from_secs(20), |ch| {
        ch.iter()
            .any(|(c, app)| c.starts_with("PJSIP/1005-") && app.starts_with("Dial("))
            && ch.iter().any(|(c, _)| c.starts_with("PJSIP/carrier-"))
    })
    .await;
    ws.until(
        Php,
        "extenStatus",
        &["all", "1005"],
        Duration::from_secs(10),
        "1005 dialing",
        status_is("discando"),
    );
    ws.ok(Php, "hangupCall", &["1005"]);
    ws.until(
        Zeep,
        "extenStatus",
        &["all", "1005"],
        Duration::from_secs(15),
        "1005 free",
        status_is("disponível"),
    );
    let _ = client.logoff().await;
}

/// A call from 1004 to the carrier's 55510155 (rings 5 s, so a client polling through a fresh
/// process each time sees the ringing phase; talks 15 s), placed by startCall with an idcti:
/// cdrSearch by that idcti shows it `CHAMANDO` while 1004 and then the carrier ring, `ATENDIDO`
/// once the carrier answered (one row all along, not in cdrTariff), then exactly one
/// `COMPLETADA` row once it ended (in cdrTariff). The clients alternate (PHP, zeep).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uscall_cdr_search_shows_calls_in_progress() {
    let _lab = LAB.lock().await;
    clean_up().await;
    let _guard = QueueGuard;
    let scratch = Scratch::new("uscall-andamento");
    let engine = Engine::start_with(scratch.path(), "1", CONFIG);
    wait_health(&engine, Duration::from_secs(30), "the engine", |code, _| {
        code == "200"
    });
    let ws = Ws {
        wsdl: format!("{}{PATH}?wsdl", engine.base_url()),
        token: engine.api_key("uscall", "PABX"),
        scratch: scratch.path().to_path_buf(),
    };
    use Client::{Php, Zeep};
    // 1004 is free (a previous call of this file may still be ending).
    ws.until(
        Zeep,
        "extenStatus",
        &["all", "1004"],
        Duration::from_secs(30),
        "1004 free",
        status_is("disponível"),
    );
    let idcti = format!("AND-{}", std::process::id());
    let by_idcti = ["-", "-", "-", "-", idcti.as_str()];
    assert_eq!(ws.ok(Php, "cdrSearch", &by_idcti), serde_json::json!([]));
    ws.ok(
        Php,
        "startCall",
        &["outbound", "1004", "55510155", "1", &idcti],
    );

    // Every answer has at most one row for the call; the statuses seen, in order.
    let mut seen: Vec<String> = Vec::new();
    let mut answered_row = None;
    let started = Instant::now();
    let mut turn = 0;
    loop {
        let client = if turn % 2 == 0 { Php } else { Zeep };
        turn += 1;
        let rows = ws.ok(client, "cdrSearch", &by_idcti);
        let rows = rows.as_array().unwrap().clone();
        assert!(rows.len() <= 1, "one row per call: {rows:?}");
        if let Some(row) = rows.first() {
            let status = row["status"].as_str().unwrap().to_owned();
            if seen.last() != Some(&status) {
                seen.push(status.clone());
            }
            if status == "ATENDIDO" && answered_row.is_none() {
                // While it is up, cdrTariff bills nothing of it.
                let bilhete = row["bilheteunico"].as_str().unwrap().to_owned();
                let tariff = ws.ok(Zeep, "cdrTariff", &[]);
                assert!(
                    !tariff
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t["idcall"] == bilhete.as_str()),
                    "a call in progress is not tariffed: {tariff}"
                );
                answered_row = Some(row.clone());
            }
            if ended(row) {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the call did not end: seen {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        seen,
        ["CHAMANDO", "ATENDIDO", "COMPLETADA"],
        "the statuses cdrSearch showed, in order"
    );
    let live = answered_row.unwrap();
    assert_eq!(
        (
            live["tipo"].as_str(),
            live["origem"].as_str(),
            live["destino"].as_str(),
            live["tronco"].as_str(),
            live["idcti"].as_str()
        ),
        (
            Some("Efetuada"),
            Some("1004"),
            Some("55510155"),
            Some("carrier"),
            Some(idcti.as_str())
        ),
        "{live}"
    );

    // Ended: exactly one row, the same call, billed once.
    let rows = ws.ok(Php, "cdrSearch", &by_idcti);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let done = &rows[0];
    assert_eq!(done["status"], "COMPLETADA");
    assert_eq!(done["bilheteunico"], live["bilheteunico"]);
    assert_eq!(
        (done["origem"].as_str(), done["destino"].as_str()),
        (Some("1004"), Some("55510155"))
    );
    let today = ws.ok(Zeep, "cdrSearch", &["-", "-", "1004"]);
    assert_eq!(
        today
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["bilheteunico"] == done["bilheteunico"])
            .count(),
        1,
        "one row for the call among today's: {today}"
    );
    let tariff = ws.ok(Zeep, "cdrTariff", &[]);
    let billed: Vec<&Value> = tariff
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["idcall"] == done["bilheteunico"])
        .collect();
    assert_eq!(billed.len(), 1, "{tariff}");
    assert!(billed[0]["durcall"].as_i64().unwrap() >= 10, "{tariff}");
}
