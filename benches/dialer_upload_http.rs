//! Bench `dialer_upload_http`: uContact's `Dialers/uploadbase` of `DIALER_UPLOAD_CONTACTS`
//! (100 000) contacts end to end, against the in-process import of the same file.
//!
//! No lab needed, none touched: the engine's AMI is a local port nothing listens on (it keeps
//! retrying), its CDR database and queue_log absent; the upload operations need only the store.
//!
//! 1. The real `centralita serve` as a child process with a temporary config and store (HTTP on
//!    port 0); a dialer campaign created with
//!    `centralita admin dialer campaign create` and a uContact API key with `centralita admin
//!    credential create --api ucontact`, before it starts.
//! 2. From a second process (the bench re-executed with
//!    `CENTRALITA_BENCH_ROLE=dialer-upload-http`, told the address and key on its stdin): the
//!    uploadbase file (the lines of `dialer_import`: a number, three data pairs, an alternative,
//!    a priority) in base64, form-encoded, POSTed to `Dialers/uploadbase` with `Bearer <key>`
//!    (the key used once before, by an `uploadstatus` answered `0`, so its Argon2id verification
//!    is not timed);
//!    the time until the answer `1`; then `Dialers/uploadstatus` polled every
//!    `DIALER_UPLOAD_POLL_MS` (50) until `done`, every contact imported.
//! 3. `VmHWM` of the engine before the upload and after it finished.
//! 4. Baseline, same run: `import::import_base` of the same file into a temporary
//!    `SqliteDialer` in this process (as `dialer_import` does).
//!
//! `cargo bench --bench dialer_upload_http`. Output: a table and
//! `target/bench/dialer_upload_http.json`.

mod support;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use centralita::core::UnixTime;
use centralita::store::SqliteDialer;
use serde_json::{json, Value};
use support::dialer::{base, campaign, timed_import, QUEUE};
use support::engine::{admin, create_key, fail, get, Engine};

const ROLE_VAR: &str = "CENTRALITA_BENCH_ROLE";
const ROLE_CLIENT: &str = "dialer-upload-http";
const CAMPAIGN: &str = "subida_http";
const UPLOAD_PATH: &str = "/Integra/resources/Dialers/uploadbase";
const STATUS_PATH: &str = "/Integra/resources/Dialers/uploadstatus";
const FILENAME: &str = "base_100k.txt";

/// What the client process is told on its stdin.
#[derive(serde::Serialize, serde::Deserialize)]
struct Plan {
    addr: String,
    key: String,
    contacts: u64,
    poll_ms: u64,
}

/// `application/x-www-form-urlencoded` of one value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 16);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `POST path` with a form body and `Bearer key` on a fresh connection: `(status, body)`.
fn post(addr: &str, path: &str, key: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n\
         Authorization: Bearer {key}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    s.write_all(body.as_bytes())?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not HTTP");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(bad)?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    Ok((status, body.ok_or_else(bad)?))
}

/// The client: uploads, then polls the status; prints `result JSON`.
fn client_role() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).expect("plan");
    let plan: Plan = serde_json::from_str(&input).expect("plan");
    let file = base(plan.contacts, CAMPAIGN);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&file);
    let body = format!(
        "filename={}&fileb64={}&campaign={}&cant={}&username=bench",
        form_encode(FILENAME),
        form_encode(&b64),
        form_encode(CAMPAIGN),
        plan.contacts
    );
    let body_bytes = body.len();
    let status_body = format!(
        "campaign={}&filename={}",
        form_encode(CAMPAIGN),
        form_encode(FILENAME)
    );
    // The key's first use verifies it (Argon2id), then it is remembered: not part of the upload.
    let warm = Instant::now();
    let (code, text) = post(&plan.addr, STATUS_PATH, &plan.key, &status_body).expect("warm-up");
    if (code, text.trim()) != (200, "0") {
        eprintln!("uploadstatus before the upload answered HTTP {code}: {text}");
        std::process::exit(1);
    }
    let key_first_use = warm.elapsed();
    let started = Instant::now();
    let (status, answer) = post(&plan.addr, UPLOAD_PATH, &plan.key, &body).expect("uploadbase");
    let answered = started.elapsed();
    if (status, answer.trim()) != (200, "1") {
        eprintln!("uploadbase answered HTTP {status}: {answer}");
        std::process::exit(1);
    }
    drop(body);
    let mut polls = 0u64;
    let last: Value = loop {
        polls += 1;
        let (code, text) =
            post(&plan.addr, STATUS_PATH, &plan.key, &status_body).expect("uploadstatus");
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if code != 200 || v.is_null() {
            eprintln!("uploadstatus answered HTTP {code}: {text}");
            std::process::exit(1);
        }
        if v["done"] == true {
            break v;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            eprintln!("the upload did not finish within 30 minutes: {v}");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(plan.poll_ms));
    };
    let finished = started.elapsed();
    println!(
        "result {}",
        json!({
            "file_bytes": file.len(),
            "body_bytes": body_bytes,
            "key_first_use_s": key_first_use.as_secs_f64(),
            "answer_s": answered.as_secs_f64(),
            "done_s": finished.as_secs_f64(),
            "polls": polls,
            "status": last,
        })
    );
}

/// [`support::write_config`] with AMI on a local port nothing listens on and the node's CDR
/// database, queue_log and recordings in `dir` (absent): the engine retries AMI and ingests
/// nothing, whether the lab is up or not, and never touches it.
fn offline_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = support::write_config(dir);
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let text = std::fs::read_to_string(&path).expect("config");
    let text: String = text
        .lines()
        .map(|l| match l.split_once(" = ") {
            Some(("host", _)) => "host = \"127.0.0.1\"".to_owned(),
            Some(("port", _)) => format!("port = {free}"),
            Some(("cdr_db", _)) => format!("cdr_db = {:?}", dir.join("master.db")),
            Some(("queue_log", _)) => format!("queue_log = {:?}", dir.join("queue_log")),
            Some(("recordings_dir", _)) => format!("recordings_dir = {:?}", dir.join("rec")),
            _ => l.to_owned(),
        })
        .map(|l| l + "\n")
        .collect();
    std::fs::write(&path, text).expect("config written");
    path
}

fn mb(kb: u64) -> f64 {
    (kb as f64 / 1024.0 * 10.0).round() / 10.0
}

fn main() {
    if std::env::var(ROLE_VAR).as_deref() == Ok(ROLE_CLIENT) {
        client_role();
        return;
    }
    let contacts = support::env_num("DIALER_UPLOAD_CONTACTS", 100_000).max(1);
    let poll_ms = support::env_num("DIALER_UPLOAD_POLL_MS", 50).max(1);
    let bin = support::binary();
    let dir = std::env::temp_dir().join(format!("centralita-bench-upload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = offline_config(&dir);

    admin(
        &bin,
        &config,
        &["dialer", "campaign", "create", CAMPAIGN, "--queue", QUEUE],
    );
    let key = create_key(&bin, &config, "ucontact", "bench dialer_upload_http");

    let mut engine = Engine::start(&bin, &config, dir.join("engine.log"));
    let Some(addr) = engine.addr(Duration::from_secs(15)) else {
        fail(engine, "the engine logged no HTTP address");
    };
    // HTTP answers (healthz may say degraded: AMI is retried when the lab is down).
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&addr, "/healthz").is_none() {
        if Instant::now() > deadline {
            fail(engine, "/healthz did not answer within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let pid = engine.pid();
    let before = support::memory_kb(Some(pid)).unwrap_or_default();

    let exe = std::env::current_exe().expect("own path");
    let mut client = Command::new(exe)
        .env(ROLE_VAR, ROLE_CLIENT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the client process starts");
    let plan = Plan {
        addr: addr.clone(),
        key,
        contacts,
        poll_ms,
    };
    client
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&plan).expect("plan").as_bytes())
        .expect("plan sent");
    let mut out = String::new();
    client
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("client output");
    let status = client.wait().expect("the client ends");
    let result: Option<Value> = out
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .and_then(|j| serde_json::from_str(j).ok());
    let Some(result) = result.filter(|_| status.success()) else {
        fail(engine, &format!("the client failed ({status}): {out}"));
    };
    let after = support::memory_kb(Some(pid)).unwrap_or_default();
    let alive = engine.alive();
    drop(engine);
    let imported = result["status"]["imported"].as_u64().unwrap_or(0);
    if imported != contacts || result["status"]["failed"] != false {
        eprintln!("the upload did not import every contact: {result}");
        std::process::exit(1);
    }
    let answer_s = result["answer_s"].as_f64().unwrap_or(0.0);
    let done_s = result["done_s"].as_f64().unwrap_or(f64::NAN);
    let http_rate = contacts as f64 / done_s;

    // Baseline: the same file imported in this process.
    let store = SqliteDialer::open(&dir.join("baseline.db")).expect("baseline store");
    let (id, c) = campaign(&store, CAMPAIGN);
    let file = base(contacts, CAMPAIGN);
    let (report, in_process_s) = timed_import(&store, (id, &c), &file, UnixTime::now());
    assert_eq!(report.imported, contacts, "{report:?}");
    let in_process_rate = contacts as f64 / in_process_s;
    let ratio = http_rate / in_process_rate;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "dialer_upload_http: {contacts} contacts, file {:.1} MB, request body {:.1} MB; \
         the engine without AMI (retrying it)",
        result["file_bytes"].as_f64().unwrap_or(0.0) / 1e6,
        result["body_bytes"].as_f64().unwrap_or(0.0) / 1e6,
    );
    println!("{:<44} {:>12}", "figure", "value");
    println!(
        "{:<44} {:>10.0} ms",
        "uploadbase answered 1 after",
        answer_s * 1e3
    );
    println!(
        "{:<44} {:>10.2} s",
        "upload done (end to end) after", done_s
    );
    println!(
        "{:<44} {:>10.0} /s",
        "contacts/s end to end (HTTP)", http_rate
    );
    println!(
        "{:<44} {:>10.2} s",
        "in-process import_base (baseline)", in_process_s
    );
    println!(
        "{:<44} {:>10.0} /s",
        "contacts/s in process (baseline)", in_process_rate
    );
    println!("{:<44} {:>12.2}", "http_to_in_process_ratio", ratio);
    println!(
        "{:<44} {:>7.1} → {:.1} MB",
        "engine VmHWM before → after",
        mb(before.1),
        mb(after.1)
    );

    support::write_json(
        "dialer_upload_http",
        &json!({
            "bench": "dialer_upload_http",
            "contacts": contacts,
            "file_bytes": result["file_bytes"],
            "body_bytes": result["body_bytes"],
            "answer_ms": answer_s * 1e3,
            "key_first_use_ms": result["key_first_use_s"].as_f64().unwrap_or(0.0) * 1e3,
            "end_to_end_s": done_s,
            "http_contacts_per_s": http_rate,
            "in_process_s": in_process_s,
            "in_process_contacts_per_s": in_process_rate,
            "http_to_in_process_ratio": ratio,
            "polls": result["polls"],
            "engine_vm_rss_kb_before": before.0,
            "engine_vm_hwm_kb_before": before.1,
            "engine_vm_rss_kb_after": after.0,
            "engine_vm_hwm_kb_after": after.1,
            "engine_alive_after": alive,
            "status": result["status"],
        }),
    );
}
