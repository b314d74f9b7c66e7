//! Bench `facades_load`: requests/s and latency of the three vendor facades under concurrent
//! load, each as a ratio to `GET /healthz` of the same run.
//!
//! Needs the lab up (`vm/lab up`); if its AMI does not answer, prints `lab not up: skipped` and
//! exits 0. Uses no phone and changes nothing in the lab: every request only reads.
//!
//! 1. The real `centralita serve` as a child process, with a temporary config (the lab's AMI,
//!    CDR database, queue_log and recordings; store and HTTP port 0 in a temporary folder); its
//!    address read from its log; `/healthz` waited to say `ok` (AMI up, ingestion running).
//! 2. API keys issued with `centralita admin credential create --api expand|uscall|ucontact`,
//!    plus `FACADES_LOAD_FRESH_KEYS` eXpand keys never used before.
//! 3. The load, from a second process (the bench re-executed with
//!    `CENTRALITA_BENCH_ROLE=facades-load`, one Tokio thread): `FACADES_LOAD_CONNECTIONS`
//!    keep-alive HTTP/1.1 connections, each sending its next request as soon as the answer
//!    arrived, for `FACADES_LOAD_SECONDS` per scenario after `FACADES_LOAD_WARMUP_MS` untimed,
//!    every scenario in turn, `FACADES_LOAD_ROUNDS` times (a ratio is taken within its round,
//!    the median of the rounds reported). Every answer is checked to be the scenario's success
//!    (errors counted):
//!    - `healthz`: `GET /healthz` → 200 `"status":"ok"` (the baseline);
//!    - `expand_originate_status`: eXpand `originateCallStatus(key, unknown id)` → `0`;
//!    - `expand_status_queues`: eXpand `statusQueues(key)` → the `<panel>` document;
//!    - `uscall_get_pauses`, `uscall_exten_status`, `uscall_agent_status`: USCall
//!      `getPauses(token)`, `extenStatus(token, "all", "")`, `agentStatus(token)` (every
//!      agent) → JSON with `"status":"ok"`;
//!    - `ucontact_queuesummary`: uContact `Supervisor/queuesummary` with `Bearer <key>` → the
//!      JSON array closed by `internalActionId`;
//!    - `uscall_ccenter_metrics_filas`: USCall `ccenterMetrics(token, "filas")` (every queue,
//!      today so far) → JSON with `"status":"ok"`;
//!    - `expand_queue_data`: eXpand `queueData("q_ventas", "", today 00:00:00, tomorrow
//!      00:00:00)` (no key: the client's network) → the `<queue_activity>` document.
//! 4. The first use of each fresh key (Argon2id verification, then cached) against the same
//!    key's following, cached calls (`originateCallStatus`), one connection, one at a time.
//! 5. `VmRSS`/`VmHWM` and threads of the engine from `/proc`: before the load process starts,
//!    after one request per scenario (the three keys' first use), after each scenario's first
//!    round, after the fresh keys' first use, and at the end.
//!
//! `cargo bench --bench facades_load`. Output: a table and `target/bench/facades_load.json`.

mod support;

use support::engine::{create_key, fail, threads, Engine};

use std::io::{Read, Write};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROLE_VAR: &str = "CENTRALITA_BENCH_ROLE";
const ROLE_LOAD: &str = "facades-load";
const EXPAND_PATH: &str = "/apiws/2/apiws.php";
const USCALL_PATH: &str = "/aplicativos/webservice/wsuscall.php";
const UCONTACT_QUEUESUMMARY: &str = "/Integra/resources/Supervisor/queuesummary";
/// A well-formed originate id no job has.
const UNKNOWN_JOB: &str = "0-bench0000";
/// Cached calls measured after each fresh key's first use.
const CACHED_SAMPLES: usize = 20;
/// The `--system` of the keys the bench issues.
const SYSTEM: &str = "bench facades_load";

// ---------------------------------------------------------------------------------------------
// Requests and their expected answers

/// What a successful answer of a scenario looks like.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// 200, JSON `"status": "ok"`.
    Healthz,
    /// 200, SOAP `return` equal to this integer.
    SoapInt(i64),
    /// 200, SOAP `return` holding the live panel document.
    SoapPanel,
    /// 200, SOAP `return` holding USCall's JSON with `"status": "ok"`.
    SoapJsonOk,
    /// 200, uContact's JSON array ending with the `internalActionId` object.
    QueueSummary,
    /// 200, SOAP `return` holding eXpand's queue activity document.
    SoapQueueActivity,
}

struct Scenario {
    name: &'static str,
    request: Vec<u8>,
    expect: Expect,
}

fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

fn soap_request(addr: &str, path: &str, ns: &str, op: &str, parts: &[(&str, &str)]) -> Vec<u8> {
    let parts: String = parts
        .iter()
        .map(|(n, v)| format!("<{n} xsi:type=\"xsd:string\">{v}</{n}>"))
        .collect();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><SOAP-ENV:Envelope \
         xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><SOAP-ENV:Body>\
         <ns1:{op} xmlns:ns1=\"{ns}\">{parts}</ns1:{op}></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    );
    let action = format!("\"{ns}#{op}\"");
    http_request(
        addr,
        "POST",
        path,
        &[
            ("Content-Type", "text/xml; charset=utf-8"),
            ("SOAPAction", &action),
        ],
        &body,
    )
}

fn expand_status_request(addr: &str, key: &str) -> Vec<u8> {
    soap_request(
        addr,
        EXPAND_PATH,
        "urn:apiws",
        "originateCallStatus",
        &[("authorizedKey", key), ("originatedID", UNKNOWN_JOB)],
    )
}

/// What the load process is told (on its stdin, so that keys stay out of the environment).
#[derive(serde::Serialize, serde::Deserialize)]
struct Plan {
    addr: String,
    connections: usize,
    seconds: u64,
    warmup_ms: u64,
    rounds: u64,
    expand_key: String,
    uscall_key: String,
    ucontact_key: String,
    fresh_keys: Vec<String>,
    /// eXpand's range of today so far (`queueData`).
    today: (String, String),
}

fn scenarios(plan: &Plan) -> Vec<Scenario> {
    let addr = plan.addr.as_str();
    vec![
        Scenario {
            name: "healthz",
            request: http_request(addr, "GET", "/healthz", &[], ""),
            expect: Expect::Healthz,
        },
        Scenario {
            name: "expand_originate_status",
            request: expand_status_request(addr, &plan.expand_key),
            expect: Expect::SoapInt(0),
        },
        Scenario {
            name: "expand_status_queues",
            request: soap_request(
                addr,
                EXPAND_PATH,
                "urn:apiws",
                "statusQueues",
                &[("authorizedKey", &plan.expand_key)],
            ),
            expect: Expect::SoapPanel,
        },
        Scenario {
            name: "uscall_get_pauses",
            request: soap_request(
                addr,
                USCALL_PATH,
                "urn:wsuscall",
                "getPauses",
                &[("token", &plan.uscall_key)],
            ),
            expect: Expect::SoapJsonOk,
        },
        Scenario {
            name: "uscall_exten_status",
            request: soap_request(
                addr,
                USCALL_PATH,
                "urn:wsuscall",
                "extenStatus",
                &[("token", &plan.uscall_key), ("tipo", "all"), ("ramal", "")],
            ),
            expect: Expect::SoapJsonOk,
        },
        Scenario {
            name: "uscall_agent_status",
            request: soap_request(
                addr,
                USCALL_PATH,
                "urn:wsuscall",
                "agentStatus",
                &[("token", &plan.uscall_key)],
            ),
            expect: Expect::SoapJsonOk,
        },
        Scenario {
            name: "ucontact_queuesummary",
            request: http_request(
                addr,
                "POST",
                UCONTACT_QUEUESUMMARY,
                &[
                    (
                        "Content-Type",
                        "application/x-www-form-urlencoded; charset=UTF-8",
                    ),
                    ("Authorization", &format!("Bearer {}", plan.ucontact_key)),
                ],
                "",
            ),
            expect: Expect::QueueSummary,
        },
        Scenario {
            name: "uscall_ccenter_metrics_filas",
            request: soap_request(
                addr,
                USCALL_PATH,
                "urn:wsuscall",
                "ccenterMetrics",
                &[("token", &plan.uscall_key), ("report_name", "filas")],
            ),
            expect: Expect::SoapJsonOk,
        },
        Scenario {
            name: "expand_queue_data",
            request: soap_request(
                addr,
                EXPAND_PATH,
                "urn:apiws",
                "queueData",
                &[
                    ("Cola", "q_ventas"),
                    ("Agente", ""),
                    ("FechaInicio", &plan.today.0),
                    ("FechaFin", &plan.today.1),
                ],
            ),
            expect: Expect::SoapQueueActivity,
        },
    ]
}

/// Today's and tomorrow's 00:00:00 in the engine's time zone (the config's), as eXpand's dates.
fn today_in_engine_zone() -> (String, String) {
    let tz = jiff::tz::TimeZone::get(support::ENGINE_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = jiff::Timestamp::now().to_zoned(tz).date();
    let tomorrow = today.tomorrow().unwrap_or(today);
    (format!("{today} 00:00:00"), format!("{tomorrow} 00:00:00"))
}

/// `Ok` when `(status, body)` is the success `expect` describes, else why not.
fn check(expect: Expect, status: u16, body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    let snippet = || text.chars().take(200).collect::<String>();
    if status != 200 {
        return Err(format!("HTTP {status}: {}", snippet()));
    }
    let ok = match expect {
        Expect::Healthz => serde_json::from_str::<Value>(&text).is_ok_and(|v| v["status"] == "ok"),
        Expect::SoapInt(n) => {
            support::soap_return(&text).is_some_and(|r| r.trim() == n.to_string())
        }
        Expect::SoapPanel => support::soap_return(&text).is_some_and(|r| {
            r.starts_with("<?xml") && r.contains("<panel") && r.contains("</panel>")
        }),
        Expect::SoapJsonOk => support::soap_return(&text)
            .is_some_and(|r| serde_json::from_str::<Value>(&r).is_ok_and(|v| v["status"] == "ok")),
        Expect::SoapQueueActivity => support::soap_return(&text)
            .is_some_and(|r| r.starts_with("<?xml") && r.contains("<queue_activity")),
        Expect::QueueSummary => serde_json::from_str::<Value>(&text).is_ok_and(|v| {
            v.as_array().is_some_and(|a| {
                a.len() >= 2
                    && a[0].get("queue").is_some()
                    && a.last()
                        .is_some_and(|l| l.get("internalActionId").is_some())
            })
        }),
    };
    if ok {
        Ok(())
    } else if let Some(r) = support::soap_return(&text) {
        let r: String = r.chars().take(200).collect();
        Err(format!("unexpected SOAP return: {r}"))
    } else {
        Err(format!("unexpected answer: {}", snippet()))
    }
}

// ---------------------------------------------------------------------------------------------
// A keep-alive HTTP/1.1 connection

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

fn io_err(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

impl Conn {
    async fn open(addr: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Reads until the buffer holds at least `n` bytes.
    async fn fill(&mut self, n: usize) -> std::io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        while self.buf.len() < n {
            let got = self.stream.read(&mut chunk).await?;
            if got == 0 {
                return Err(io_err("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..got]);
        }
        Ok(())
    }

    /// Reads until `needle` appears at or after `from`; returns its position.
    async fn find(&mut self, from: usize, needle: &[u8]) -> std::io::Result<usize> {
        loop {
            if let Some(p) = self.buf[from.min(self.buf.len())..]
                .windows(needle.len())
                .position(|w| w == needle)
            {
                return Ok(from + p);
            }
            let len = self.buf.len();
            self.fill(len + 1).await?;
        }
    }

    /// Sends `request` and reads one answer: `(status, body, server closes)`.
    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<(u16, Vec<u8>, bool)> {
        self.stream.write_all(request).await?;
        let head_end = self.find(0, b"\r\n\r\n").await?;
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| io_err("bad status line"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        for line in lines {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
            match k.as_str() {
                "content-length" => length = v.parse::<usize>().ok(),
                "transfer-encoding" => chunked = v.contains("chunked"),
                "connection" => close = v.contains("close"),
                _ => {}
            }
        }
        let mut pos = head_end + 4;
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let line_end = self.find(pos, b"\r\n").await?;
                let size_text = String::from_utf8_lossy(&self.buf[pos..line_end]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| io_err("bad chunk size"))?;
                pos = line_end + 2;
                self.fill(pos + size + 2).await?;
                body.extend_from_slice(&self.buf[pos..pos + size]);
                pos += size + 2;
                if size == 0 {
                    break;
                }
            }
            body
        } else {
            let length = length.unwrap_or(0);
            self.fill(pos + length).await?;
            let body = self.buf[pos..pos + length].to_vec();
            pos += length;
            body
        };
        self.buf.drain(..pos);
        Ok((status, body, close))
    }
}

// ---------------------------------------------------------------------------------------------
// The load process

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, why: String) {
        self.errors += 1;
        self.first_error.get_or_insert(why);
    }
}

/// One connection sending `request` back to back until `until`.
async fn drive(
    addr: String,
    request: std::sync::Arc<Vec<u8>>,
    expect: Expect,
    start: Instant,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    tokio::time::sleep_until(start.into()).await;
    let mut conn: Option<Conn> = None;
    while Instant::now() < until {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Conn::open(&addr).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tally.error(format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let sent = Instant::now();
        match c.exchange(&request).await {
            Ok((status, body, close)) => {
                tally.latencies.push(sent.elapsed());
                if let Err(why) = check(expect, status, &body) {
                    tally.error(why);
                }
                if close {
                    conn = None;
                }
            }
            Err(e) => {
                tally.error(format!("I/O: {e}"));
                conn = None;
            }
        }
    }
    tally
}

/// `connections` connections on `request` for `duration`: the merged tally and the wall time.
async fn load(
    addr: &str,
    request: &[u8],
    expect: Expect,
    connections: usize,
    duration: Duration,
) -> (Tally, Duration) {
    let request = std::sync::Arc::new(request.to_vec());
    let start = Instant::now() + Duration::from_millis(20);
    let until = start + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(drive(
                addr.to_string(),
                request.clone(),
                expect,
                start,
                until,
            ))
        })
        .collect();
    let mut all = Tally::default();
    for t in tasks {
        match t.await {
            Ok(t) => {
                all.latencies.extend(t.latencies);
                all.errors += t.errors;
                if all.first_error.is_none() {
                    all.first_error = t.first_error;
                }
            }
            Err(e) => all.error(format!("task: {e}")),
        }
    }
    (all, start.elapsed())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// What one scenario gathered over every round.
#[derive(Default)]
struct Gathered {
    tally: Tally,
    first_request: Option<String>,
    seconds: f64,
    requests_per_s: Vec<f64>,
}

async fn run_load(plan: Plan) -> Value {
    let duration = Duration::from_secs(plan.seconds);
    let warmup = Duration::from_millis(plan.warmup_ms);
    let list = scenarios(&plan);
    let mut gathered: Vec<Gathered> = list.iter().map(|_| Gathered::default()).collect();
    for (s, g) in list.iter().zip(gathered.iter_mut()) {
        // One request alone first: it shows a wrong answer plainly, and warms the key cache.
        let single = match Conn::open(&plan.addr).await {
            Ok(mut c) => match c.exchange(&s.request).await {
                Ok((status, body, _)) => check(s.expect, status, &body),
                Err(e) => Err(format!("I/O: {e}")),
            },
            Err(e) => Err(format!("connect: {e}")),
        };
        g.first_request = single.err();
    }
    println!("done first_requests");
    // Rounds of every scenario in turn, so that a slow moment of the machine weighs on the
    // baseline of its round too.
    for round in 0..plan.rounds {
        for (s, g) in list.iter().zip(gathered.iter_mut()) {
            if !warmup.is_zero() {
                load(&plan.addr, &s.request, s.expect, plan.connections, warmup).await;
            }
            let (tally, wall) =
                load(&plan.addr, &s.request, s.expect, plan.connections, duration).await;
            let answered = tally.latencies.len();
            g.requests_per_s
                .push(answered as f64 / wall.as_secs_f64().max(1e-9));
            g.seconds += wall.as_secs_f64();
            g.tally.latencies.extend(tally.latencies);
            g.tally.errors += tally.errors;
            if g.tally.first_error.is_none() {
                g.tally.first_error = tally.first_error;
            }
            if round == 0 {
                println!("done {}", s.name);
            }
        }
    }
    let baseline = gathered[0].requests_per_s.clone();
    let mut results = Vec::new();
    for (s, g) in list.iter().zip(gathered.iter()) {
        let q = |p| support::ms_opt(support::quantile(&g.tally.latencies, p));
        let ratios: Vec<f64> = g
            .requests_per_s
            .iter()
            .zip(baseline.iter())
            .filter(|(_, b)| **b > 0.0)
            .map(|(r, b)| round3(r / b))
            .collect();
        results.push(json!({
            "name": s.name,
            "first_request": g.first_request.clone().unwrap_or_else(|| "ok".into()),
            "answered": g.tally.latencies.len(),
            "errors": g.tally.errors,
            "first_error": g.tally.first_error,
            "seconds": round3(g.seconds),
            "requests_per_s": support::median(&g.requests_per_s).round(),
            "requests_per_s_rounds": g.requests_per_s.iter().map(|r| r.round()).collect::<Vec<_>>(),
            "ratio_to_healthz": (!ratios.is_empty()).then(|| support::median(&ratios)),
            "ratio_to_healthz_rounds": ratios,
            "p50_ms": q(0.50),
            "p95_ms": q(0.95),
            "p99_ms": q(0.99),
        }));
    }

    // First use of a key (Argon2id) against its cached calls.
    let mut first = Vec::new();
    let mut cached = Vec::new();
    let mut errors = 0u64;
    let mut first_error = None;
    for key in &plan.fresh_keys {
        let request = expand_status_request(&plan.addr, key);
        let mut conn = match Conn::open(&plan.addr).await {
            Ok(c) => c,
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(format!("connect: {e}"));
                continue;
            }
        };
        for i in 0..=CACHED_SAMPLES {
            let sent = Instant::now();
            match conn.exchange(&request).await {
                Ok((status, body, _)) => {
                    let took = sent.elapsed();
                    if let Err(why) = check(Expect::SoapInt(0), status, &body) {
                        errors += 1;
                        first_error.get_or_insert(why);
                    }
                    if i == 0 {
                        first.push(took);
                    } else {
                        cached.push(took);
                    }
                }
                Err(e) => {
                    errors += 1;
                    first_error.get_or_insert(format!("I/O: {e}"));
                    break;
                }
            }
        }
    }
    println!("done first_use");
    let first_p50 = support::quantile(&first, 0.5);
    let cached_p50 = support::quantile(&cached, 0.5);
    let ratio = match (first_p50, cached_p50) {
        (Some(a), Some(b)) if !b.is_zero() => Some(round3(a.as_secs_f64() / b.as_secs_f64())),
        _ => None,
    };
    json!({
        "scenarios": results,
        "first_use": {
            "keys": plan.fresh_keys.len(),
            "first_ms": first.iter().map(|d| support::ms(*d)).collect::<Vec<_>>(),
            "first_p50_ms": support::ms_opt(first_p50),
            "cached_samples": cached.len(),
            "cached_p50_ms": support::ms_opt(cached_p50),
            "cached_p95_ms": support::ms_opt(support::quantile(&cached, 0.95)),
            "first_to_cached_ratio": ratio,
            "errors": errors,
            "first_error": first_error,
        },
    })
}

fn load_role() {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .expect("the plan on stdin");
    let plan: Plan = serde_json::from_str(&input).expect("a plan");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let result = runtime.block_on(run_load(plan));
    println!("result {result}");
}

/// `(VmRSS, VmHWM)` in kB.
type Memory = (u64, u64);

fn mb(kb: u64) -> f64 {
    (kb as f64 / 1024.0 * 10.0).round() / 10.0
}

fn opt(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn main() {
    if std::env::var(ROLE_VAR).as_deref() == Ok(ROLE_LOAD) {
        load_role();
        return;
    }
    if !support::lab_ami_answers() {
        println!("lab not up: skipped");
        support::write_json(
            "facades_load",
            &json!({"bench": "facades_load", "skipped": "lab not up"}),
        );
        return;
    }
    let connections = support::env_num("FACADES_LOAD_CONNECTIONS", 16).max(1) as usize;
    let seconds = support::env_num("FACADES_LOAD_SECONDS", 3).max(1);
    let rounds = support::env_num("FACADES_LOAD_ROUNDS", 3).max(1);
    let warmup_ms = support::env_num("FACADES_LOAD_WARMUP_MS", 500);
    let fresh = support::env_num("FACADES_LOAD_FRESH_KEYS", 5) as usize;
    let bin = support::binary();

    let dir = std::env::temp_dir().join(format!("centralita-bench-facades-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = support::write_config(&dir);
    let (mut engine, addr) = Engine::start(&bin, &config, dir.join("engine.log")).ready();
    let pid = engine.pid();

    let plan = Plan {
        addr: addr.clone(),
        connections,
        seconds,
        warmup_ms,
        rounds,
        expand_key: create_key(&bin, &config, "expand", SYSTEM),
        uscall_key: create_key(&bin, &config, "uscall", SYSTEM),
        ucontact_key: create_key(&bin, &config, "ucontact", SYSTEM),
        fresh_keys: (0..fresh)
            .map(|_| create_key(&bin, &config, "expand", SYSTEM))
            .collect(),
        today: today_in_engine_zone(),
    };

    // Let ingestion and the first snapshots settle before the reference figure.
    std::thread::sleep(Duration::from_secs(1));
    let before = support::memory_kb(Some(pid));
    let threads_before = threads(pid);
    let exe = std::env::current_exe().expect("own path");
    let mut loader = Command::new(exe)
        .env(ROLE_VAR, ROLE_LOAD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the load process starts");
    loader
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&plan).expect("plan").as_bytes())
        .expect("plan sent");
    // `done NAME` after each scenario (the engine's memory is sampled then), `result JSON` last.
    let mut memory_after: Vec<(String, Option<Memory>, Option<u64>)> = Vec::new();
    let mut result: Option<Value> = None;
    let stdout = std::io::BufReader::new(loader.stdout.take().expect("stdout"));
    for line in std::io::BufRead::lines(stdout).map_while(Result::ok) {
        if let Some(name) = line.strip_prefix("done ") {
            memory_after.push((
                name.to_string(),
                support::memory_kb(Some(pid)),
                threads(pid),
            ));
        } else if let Some(json) = line.strip_prefix("result ") {
            result = serde_json::from_str(json).ok();
        }
    }
    let status = loader.wait().expect("the load process ends");
    let after = support::memory_kb(Some(pid));
    let threads_after = threads(pid);
    let engine_alive = engine.alive();
    let result = match result {
        Some(v) if status.success() => v,
        _ => fail(engine, &format!("the load process failed ({status})")),
    };
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);

    // The engine's memory after each scenario's first round.
    let mut scenarios = result["scenarios"].as_array().cloned().unwrap_or_default();
    for s in &mut scenarios {
        if let Some((_, memory, threads)) = memory_after
            .iter()
            .find(|(name, _, _)| s["name"].as_str() == Some(name))
        {
            s["engine_vm_rss_kb_after"] = json!(memory.map(|m| m.0));
            s["engine_vm_hwm_kb_after"] = json!(memory.map(|m| m.1));
            s["engine_threads_after"] = json!(threads);
        }
    }
    let mut first_use = result["first_use"].clone();
    if let Some((_, memory, threads)) = memory_after.iter().find(|(n, _, _)| n == "first_use") {
        first_use["engine_vm_rss_kb_after"] = json!(memory.map(|m| m.0));
        first_use["engine_vm_hwm_kb_after"] = json!(memory.map(|m| m.1));
        first_use["engine_threads_after"] = json!(threads);
    }
    let first_use = &first_use;
    let after_first_requests = memory_after
        .iter()
        .find(|(n, _, _)| n == "first_requests")
        .and_then(|(_, m, _)| *m);
    let total_errors: u64 = scenarios
        .iter()
        .map(|s| s["errors"].as_u64().unwrap_or(0))
        .sum::<u64>()
        + first_use["errors"].as_u64().unwrap_or(0);
    let first_request_failures: Vec<String> = scenarios
        .iter()
        .filter(|s| s["first_request"] != "ok")
        .map(|s| format!("{}: {}", opt(&s["name"]), opt(&s["first_request"])))
        .collect();

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "facades_load: {} serve on {addr}; {connections} keep-alive connections from a second process \
         (one thread); {rounds} rounds of {seconds} s per scenario; {cores} cores shared by engine and load",
        bin.display()
    );
    println!(
        "{:<26} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9}",
        "scenario",
        "answered",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "/healthz",
        "errors",
        "VmHWM MB"
    );
    for s in &scenarios {
        println!(
            "{:<26} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9}",
            opt(&s["name"]).trim_matches('"'),
            opt(&s["answered"]),
            opt(&s["requests_per_s"]),
            opt(&s["p50_ms"]),
            opt(&s["p95_ms"]),
            opt(&s["p99_ms"]),
            opt(&s["ratio_to_healthz"]),
            opt(&s["errors"]),
            s["engine_vm_hwm_kb_after"]
                .as_u64()
                .map_or("-".into(), |kb| mb(kb).to_string()),
        );
    }
    if let Some(base) = scenarios.first() {
        println!(
            "req/s and ratios: medians over the rounds; /healthz req/s per round {}",
            base["requests_per_s_rounds"]
        );
    }
    println!(
        "first use of a key (Argon2id), {} keys: p50 {} ms; cached calls p50 {} ms (p95 {} ms); \
         ratio first/cached {}; engine VmHWM after {} MB",
        opt(&first_use["keys"]),
        opt(&first_use["first_p50_ms"]),
        opt(&first_use["cached_p50_ms"]),
        opt(&first_use["cached_p95_ms"]),
        opt(&first_use["first_to_cached_ratio"]),
        first_use["engine_vm_hwm_kb_after"]
            .as_u64()
            .map_or("-".into(), |kb| mb(kb).to_string()),
    );
    let (rss0, hwm0) = before.unwrap_or_default();
    let (rss1, hwm1) = after.unwrap_or_default();
    println!(
        "engine before load: VmRSS {} MB VmHWM {} MB, {} threads; after: VmRSS {} MB VmHWM {} MB \
         (VmHWM +{} MB), {} threads",
        mb(rss0),
        mb(hwm0),
        threads_before.map_or("-".into(), |t| t.to_string()),
        mb(rss1),
        mb(hwm1),
        mb(hwm1.saturating_sub(hwm0)),
        threads_after.map_or("-".into(), |t| t.to_string()),
    );
    println!(
        "engine VmHWM after one request per scenario (the three keys' first use): {} MB",
        after_first_requests.map_or("-".into(), |m| mb(m.1).to_string())
    );
    if total_errors == 0 && first_request_failures.is_empty() && engine_alive {
        println!("every answer was the expected success");
    } else {
        println!(
            "RUN WITH ERRORS: {total_errors} unexpected answers{}{}",
            if engine_alive {
                ""
            } else {
                "; the engine died"
            },
            first_request_failures
                .iter()
                .map(|f| format!("; {f}"))
                .collect::<String>()
        );
        for s in &scenarios {
            if let Some(e) = s["first_error"].as_str() {
                println!("  {}: first error: {e}", opt(&s["name"]));
            }
        }
        if let Some(e) = first_use["first_error"].as_str() {
            println!("  first use: first error: {e}");
        }
    }

    support::write_json(
        "facades_load",
        &json!({
            "bench": "facades_load",
            "binary": bin.display().to_string(),
            "cores": cores,
            "connections": connections,
            "seconds_per_scenario_round": seconds,
            "rounds": rounds,
            "warmup_ms": warmup_ms,
            "scenarios": scenarios,
            "first_use": first_use,
            "engine_vm_rss_kb_before": before.map(|m| m.0),
            "engine_vm_hwm_kb_before": before.map(|m| m.1),
            "engine_vm_hwm_kb_after_first_requests": after_first_requests.map(|m| m.1),
            "engine_vm_rss_kb_after": after.map(|m| m.0),
            "engine_vm_hwm_kb_after": after.map(|m| m.1),
            "engine_vm_hwm_ratio_after_to_before": match (before, after) {
                (Some(b), Some(a)) if b.1 > 0 => Some(round3(a.1 as f64 / b.1 as f64)),
                _ => None,
            },
            "engine_threads_before": threads_before,
            "engine_threads_after": threads_after,
            "engine_alive_after_load": engine_alive,
            "errors": total_errors,
            "ok": total_errors == 0 && first_request_failures.is_empty() && engine_alive,
        }),
    );
}
