//! Bench `vendor_stack`: the engine's eXpand `originateCallStatus` and `statusQueues` against
//! the vendor's own stack serving the same operations — PHP 8.2 ext-soap `SoapServer` in WSDL
//! mode under php-fpm behind nginx, with a SQLite lookup — driven by the same load generator
//! (`wrk`) with the same envelopes, in alternating runs of one bench run; ratios printed.
//!
//! Needs `nginx`, `php-fpm8.2` (with soap and pdo_sqlite), the `php` CLI (with soap) and `wrk`
//! (Debian: `nginx-light`, `php8.2-fpm`, `php8.2-sqlite3`, `php8.2-soap`, `wrk`; the test
//! script's `ensure_vendor_stack` installs them); if any is missing it prints `skipped: <what is
//! missing>` and exits 0. Needs the lab up (`vm/lab up`) for the engine's AMI; if it does not
//! answer, prints `lab not up: skipped` and exits 0. Installs nothing; leaves nothing running.
//!
//! 1. The real `centralita serve` as facades_load starts it (temporary store, the lab's AMI,
//!    port 0); an eXpand key from `centralita admin credential create --api expand`.
//! 2. The envelopes, made once by PHP's `SoapClient` in WSDL mode on the engine's `?wsdl`
//!    (`envelopes.php`: `__getLastRequest` and the SOAPAction/Content-Type/User-Agent
//!    headers): `originateCallStatus(key, unknown id)` and `statusQueues(key)`.
//! 3. The vendor's stack in a temporary folder: `vendor.db` (SQLite, `schema.sql`) seeded with
//!    the same key (its secret's SHA-256), no originate job (as the engine's fresh store) and
//!    the panel the engine answered to `statusQueues` (agents, queues, members, calls); the
//!    engine's WSDL with its address set to the PHP server; `php-fpm.conf` (a static pool of
//!    `VENDOR_STACK_PHP_CHILDREN` workers on a Unix socket) and `nginx.conf` (127.0.0.1, a port
//!    free at run time) from this folder's templates; both started in the foreground as child
//!    processes, stopped at the end.
//! 4. Each server answers each envelope once before the runs and once after them, checked:
//!    `0` for the unknown job; the `<panel>` document, the PHP one equal to the engine's but
//!    for its `generated` time.
//! 5. `VENDOR_STACK_ROUNDS` rounds; in each, for each operation, one run on each server (the
//!    engine first in even rounds, PHP first in odd ones): `wrk -t VENDOR_STACK_WRK_THREADS -c
//!    VENDOR_STACK_CONNECTIONS -d VENDOR_STACK_SECONDS` with `post.lua` after an untimed
//!    `VENDOR_STACK_WARMUP_SECONDS` run. Per run: requests/s, latency percentiles, wrk's
//!    errors, and CPU from `/proc`: the server's process tree (utime+stime of the engine; of
//!    nginx's master and workers and php-fpm's master and workers), wrk's (the bench's reaped
//!    children), the machine's idle time (`/proc/stat`).
//! 6. Per operation: the median requests/s of each server, the ratio engine/PHP of the
//!    medians and the median of the rounds' ratios; the CPU figures' medians.
//!
//! `cargo bench --bench vendor_stack`. Output: a table and `target/bench/vendor_stack.json`.

#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::engine::{create_key, fail, get, Engine};

const EXPAND_PATH: &str = "/apiws/2/apiws.php";
/// A well-formed originate id no job has (the same as facades_load's).
const UNKNOWN_JOB: &str = "0-bench0000";
/// The two operations, in the order they run in a round.
const OPERATIONS: [&str; 2] = ["originateCallStatus", "statusQueues"];
/// This folder: the PHP server, its configuration templates, the wrk script.
const HERE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/vendor_stack");

// ---------------------------------------------------------------------------------------------
// What the bench needs on the machine

/// The programs the bench runs, found on the machine.
struct Tools {
    nginx: PathBuf,
    php_fpm: PathBuf,
    php: PathBuf,
    wrk: PathBuf,
}

/// A program in `PATH` or the usual `sbin` folders.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    names
        .iter()
        .find_map(|name| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()))
}

/// The PHP modules a PHP binary loads (`-m`), lower case.
fn php_modules(bin: &Path) -> Vec<String> {
    Command::new(bin)
        .arg("-m")
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

/// The tools, or what is missing (with the Debian package that brings it).
fn tools() -> Result<Tools, Vec<String>> {
    let mut missing = Vec::new();
    let nginx = find_program(&["nginx"]);
    if nginx.is_none() {
        missing.push("nginx (nginx-light)".to_string());
    }
    let php_fpm = find_program(&["php-fpm8.2", "php-fpm"]);
    match &php_fpm {
        None => missing.push("php-fpm8.2 (php8.2-fpm)".to_string()),
        Some(bin) => {
            let modules = php_modules(bin);
            for (module, package) in [("soap", "php8.2-soap"), ("pdo_sqlite", "php8.2-sqlite3")] {
                if !modules.iter().any(|m| m == module) {
                    missing.push(format!("php-fpm's {module} ({package})"));
                }
            }
        }
    }
    let php = find_program(&["php8.2", "php"]);
    match &php {
        None => missing.push("php (php8.2-cli)".to_string()),
        Some(bin) if !php_modules(bin).iter().any(|m| m == "soap") => {
            missing.push("php's soap (php8.2-soap)".to_string())
        }
        Some(_) => {}
    }
    let wrk = find_program(&["wrk"]);
    if wrk.is_none() {
        missing.push("wrk (wrk)".to_string());
    }
    match (nginx, php_fpm, php, wrk) {
        (Some(nginx), Some(php_fpm), Some(php), Some(wrk)) if missing.is_empty() => Ok(Tools {
            nginx,
            php_fpm,
            php,
            wrk,
        }),
        _ => Err(missing),
    }
}

// ---------------------------------------------------------------------------------------------
// CPU time from /proc

/// Clock ticks per second of `/proc`'s times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The fields of `/proc/<pid>/stat` after the command name (field 3, the state, is index 0).
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    Some(
        rest.split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// utime + stime of a process (all its threads), in ticks.
fn process_ticks(pid: u32) -> u64 {
    stat_fields(&pid.to_string()).map_or(0, |f| f[10] + f[11])
}

/// cutime + cstime of this process: the CPU of its reaped children (wrk), in ticks.
fn reaped_children_ticks() -> u64 {
    stat_fields("self").map_or(0, |f| f[12] + f[13])
}

/// `roots` and every process below them.
fn process_tree(roots: &[u32]) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let (Ok(pid), Some(f)) = (name.parse::<u32>(), stat_fields(&name)) {
                parent_of.push((pid, f[0] as u32));
            }
        }
    }
    let mut tree: Vec<u32> = roots.to_vec();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for (pid, ppid) in &parent_of {
            if *ppid == parent && !tree.contains(pid) {
                tree.push(*pid);
            }
        }
        i += 1;
    }
    tree
}

/// The machine's `(busy, idle, steal)` ticks over all cores, from `/proc/stat` (steal: time
/// the hypervisor ran something else on the machine's cores).
fn machine_ticks() -> (u64, u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    if v.len() < 8 {
        return (0, 0, 0);
    }
    let (idle, steal) = (v[3] + v[4], v[7]);
    (v.iter().sum::<u64>() - idle - steal, idle, steal)
}

/// CPU counters at one moment.
#[derive(Clone, Copy)]
struct CpuSample {
    at: Instant,
    server: u64,
    wrk: u64,
    machine_busy: u64,
    machine_idle: u64,
    machine_steal: u64,
}

fn cpu_sample(server: &[u32]) -> CpuSample {
    let (machine_busy, machine_idle, machine_steal) = machine_ticks();
    CpuSample {
        at: Instant::now(),
        server: server.iter().map(|p| process_ticks(*p)).sum(),
        wrk: reaped_children_ticks(),
        machine_busy,
        machine_idle,
        machine_steal,
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// One operation's request as both servers get it.
struct Envelope {
    op: &'static str,
    body_file: PathBuf,
    headers_file: PathBuf,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

fn read_envelope(dir: &Path, op: &'static str) -> Envelope {
    let body_file = dir.join(format!("{op}.xml"));
    let headers_file = dir.join(format!("{op}.headers"));
    let body = std::fs::read(&body_file).expect("an envelope");
    let headers = std::fs::read_to_string(&headers_file)
        .expect("its headers")
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Envelope {
        op,
        body_file,
        headers_file,
        body,
        headers,
    }
}

/// POSTs `envelope` to `addr` on a fresh connection: `(status, body)`.
fn post(addr: &str, envelope: &Envelope) -> Result<(u16, String), String> {
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = format!("POST {EXPAND_PATH} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in &envelope.headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        envelope.body.len()
    ));
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(&envelope.body);
    s.write_all(&bytes).map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no end of headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("bad status line")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    ))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16);
        match size {
            Ok(n) if n > 0 && rest.len() >= n => {
                out.push_str(&rest[..n]);
                body = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
            }
            _ => break,
        }
    }
    out
}

/// The panel with its `generated` time blanked, for comparing two servers' answers.
fn without_generated(panel: &str) -> String {
    match panel.find("generated=\"") {
        Some(at) => {
            let from = at + "generated=\"".len();
            let to = from + panel[from..].find('"').unwrap_or(0);
            format!("{}{}", &panel[..from], &panel[to..])
        }
        None => panel.to_string(),
    }
}

/// Checks one server's answer to `op`: `Ok(the returned text)` or why it is wrong.
fn check(op: &str, answer: Result<(u16, String), String>) -> Result<String, String> {
    let (status, body) = answer?;
    let snippet = || body.chars().take(200).collect::<String>();
    if status != 200 {
        return Err(format!("HTTP {status}: {}", snippet()));
    }
    let r = support::soap_return(&body).ok_or_else(|| format!("no return: {}", snippet()))?;
    let ok = match op {
        "originateCallStatus" => r.trim() == "0",
        _ => r.starts_with("<?xml") && r.contains("<panel") && r.contains("</panel>"),
    };
    if ok {
        Ok(r)
    } else {
        Err(format!(
            "unexpected return: {}",
            r.chars().take(200).collect::<String>()
        ))
    }
}

/// Both servers' answers to every envelope, checked (the PHP panel against the engine's).
fn check_both(engine: &str, php: &str, envelopes: &[Envelope]) -> Vec<String> {
    let mut problems = Vec::new();
    for e in envelopes {
        let a = check(e.op, post(engine, e));
        let b = check(e.op, post(php, e));
        match (&a, &b) {
            (Ok(a), Ok(b))
                if e.op == "statusQueues" && without_generated(a) != without_generated(b) =>
            {
                problems.push(format!("{}: the PHP panel differs from the engine's", e.op))
            }
            _ => {}
        }
        if let Err(why) = a {
            problems.push(format!("engine {}: {why}", e.op));
        }
        if let Err(why) = b {
            problems.push(format!("php {}: {why}", e.op));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// The vendor's SQLite file

/// An element of the panel: name, attributes, text, children.
#[derive(Default, Debug)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, k: &str) -> &str {
        self.attrs.get(k).map_or("", String::as_str)
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all<'a>(&'a self, path: &'a [&str]) -> Box<dyn Iterator<Item = &'a Node> + 'a> {
        match path.split_first() {
            None => Box::new(std::iter::once(self)),
            Some((first, rest)) => Box::new(
                self.children
                    .iter()
                    .filter(move |c| c.name == *first)
                    .flat_map(move |c| c.all(rest)),
            ),
        }
    }
}

fn parse_xml(text: &str) -> Result<Node, String> {
    use quick_xml::events::{BytesStart, Event};
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let node_of = |e: &BytesStart| -> Result<Node, String> {
        let mut node = Node {
            name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
            ..Node::default()
        };
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let value = a.unescape_value().map_err(|e| e.to_string())?;
            node.attrs.insert(
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                value.into_owned(),
            );
        }
        Ok(node)
    };
    let mut stack = vec![Node::default()];
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => stack.push(node_of(&e)?),
            Event::Empty(e) => {
                let node = node_of(&e)?;
                stack.last_mut().expect("a parent").children.push(node);
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                stack.last_mut().expect("a node").text.push_str(&text);
            }
            Event::End(_) => {
                let node = stack.pop().expect("an open element");
                stack.last_mut().ok_or("unbalanced")?.children.push(node);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack
        .pop()
        .and_then(|root| root.children.into_iter().next())
        .ok_or_else(|| "no element".to_string())
}

/// PHP's `hash('sha256', text)` (what apiws.php compares), `text` on PHP's stdin.
fn sha256_hex(php: &Path, text: &str) -> Result<String, String> {
    let mut child = Command::new(php)
        .args(["-r", "echo hash('sha256', stream_get_contents(STDIN));"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("php: {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .map_err(|e| format!("php: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("php: {e}"))?;
    let hex = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || hex.len() != 64 {
        return Err(format!("php hash failed: {hex}"));
    }
    Ok(hex)
}

/// Creates `path` from `schema.sql` and seeds it: the key, the panel's rows. Returns the counts.
fn seed(php: &Path, path: &Path, key: &str, panel: &str) -> Result<Value, String> {
    let root = parse_xml(panel)?;
    if root.name != "panel" {
        return Err(format!(
            "the engine's statusQueues is no <panel>: <{}>",
            root.name
        ));
    }
    let schema = std::fs::read_to_string(Path::new(HERE).join("schema.sql"))
        .map_err(|e| format!("schema.sql: {e}"))?;
    let mut db = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    let err = |e: rusqlite::Error| e.to_string();
    db.execute_batch(&schema).map_err(err)?;
    let (id, secret) = key.split_once('.').ok_or("the key has no id")?;
    let secret_sha256 = sha256_hex(php, secret)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let tx = db.transaction().map_err(err)?;
    tx.execute(
        "INSERT INTO api_key VALUES (?1, ?2, 'expand', ?3, NULL)",
        rusqlite::params![id, secret_sha256, now],
    )
    .map_err(err)?;
    let (mut agents, mut queues, mut members, mut calls) = (0i64, 0i64, 0i64, 0i64);
    for a in root.all(&["agents", "agent"]) {
        tx.execute(
            "INSERT INTO agent VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                a.text,
                a.attr("name"),
                a.attr("status"),
                a.attr("laststatuschange").parse::<i64>().unwrap_or(0),
                a.attr("lastcongestion").parse::<i64>().unwrap_or(0),
                a.attr("warning").parse::<i64>().unwrap_or(0),
                agents
            ],
        )
        .map_err(err)?;
        agents += 1;
    }
    for q in root.all(&["queues", "queue"]) {
        let status = |k: &str| {
            q.child("qstatus")
                .and_then(|s| s.child(k))
                .map_or(String::new(), |n| n.text.clone())
        };
        let int = |k: &str| status(k).parse::<i64>().unwrap_or(0);
        tx.execute(
            "INSERT INTO queue VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            rusqlite::params![
                q.attr("qname"),
                q.attr("name"),
                int("abandoned"),
                int("completed"),
                int("counterabn"),
                int("counterans"),
                int("numongoing"),
                int("numwaiting"),
                status("ratio"),
                queues
            ],
        )
        .map_err(err)?;
        queues += 1;
        for m in q.all(&["qagents", "qagent"]) {
            tx.execute(
                "INSERT INTO queue_member VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    q.attr("qname"),
                    m.text,
                    i64::from(m.attr("paused") == "true"),
                    m.attr("status"),
                    m.attr("pausetype"),
                    members
                ],
            )
            .map_err(err)?;
            members += 1;
        }
        for c in q.all(&["qcalls", "call"]) {
            tx.execute(
                "INSERT INTO queue_call VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![
                    q.attr("qname"),
                    c.attr("type"),
                    c.attr("callerid"),
                    c.attr("calleridname"),
                    c.attr("connecttime"),
                    c.attr("intime"),
                    c.attr("uniqueid"),
                    c.text,
                    calls
                ],
            )
            .map_err(err)?;
            calls += 1;
        }
    }
    tx.commit().map_err(err)?;
    Ok(json!({"agents": agents, "queues": queues, "members": members, "calls": calls}))
}

// ---------------------------------------------------------------------------------------------
// The vendor's stack: php-fpm and nginx

/// A server process of the PHP stack, in the foreground; SIGTERM (then SIGKILL for what is
/// left of its tree) when dropped.
struct Daemon {
    name: &'static str,
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let tree = process_tree(&[self.child.id()]);
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            eprintln!("{} did not stop on SIGTERM: killed", self.name);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Workers outlive a master that was killed: end those of this tree that still run.
        for pid in tree.iter().skip(1) {
            if Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// A port free on 127.0.0.1 now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A template of this folder with its placeholders filled, written to `dir`.
fn write_template(name: &str, dir: &Path, values: &[(&str, String)]) -> PathBuf {
    let mut text = std::fs::read_to_string(Path::new(HERE).join(name)).expect("a template");
    for (k, v) in values {
        text = text.replace(k, v);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("config written");
    path
}

/// php-fpm and nginx (in that order; dropped in the reverse order).
struct PhpStack {
    nginx: Daemon,
    fpm: Daemon,
    addr: String,
}

impl PhpStack {
    fn pids(&self) -> Vec<u32> {
        process_tree(&[self.nginx.child.id(), self.fpm.child.id()])
    }
}

fn start_php_stack(tools: &Tools, dir: &Path, children: u64) -> Result<PhpStack, String> {
    let port = free_port();
    let values = [
        ("@DIR@", dir.display().to_string()),
        ("@PORT@", port.to_string()),
        ("@SRC@", HERE.to_string()),
        ("@CHILDREN@", children.to_string()),
    ];
    let fpm_conf = write_template("php-fpm.conf", dir, &values);
    let nginx_conf = write_template("nginx.conf", dir, &values);
    let out =
        |name: &str| std::fs::File::create(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let fpm_out = out("php-fpm.out")?;
    let fpm = Daemon {
        name: "php-fpm",
        child: Command::new(&tools.php_fpm)
            .args(["-F", "-R", "-y"])
            .arg(&fpm_conf)
            .stdin(Stdio::null())
            .stdout(fpm_out.try_clone().map_err(|e| e.to_string())?)
            .stderr(fpm_out)
            .spawn()
            .map_err(|e| format!("php-fpm: {e}"))?,
    };
    let socket = dir.join("php-fpm.sock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        if Instant::now() > deadline {
            return Err(format!(
                "php-fpm made no socket within 10 s: {}",
                std::fs::read_to_string(dir.join("php-fpm.out")).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let nginx_out = out("nginx.out")?;
    let nginx = Daemon {
        name: "nginx",
        child: Command::new(&tools.nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&nginx_conf)
            .arg("-e")
            .arg(dir.join("nginx-error.log"))
            .stdin(Stdio::null())
            .stdout(nginx_out.try_clone().map_err(|e| e.to_string())?)
            .stderr(nginx_out)
            .spawn()
            .map_err(|e| format!("nginx: {e}"))?,
    };
    let mut stack = PhpStack {
        nginx,
        fpm,
        addr: format!("127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&stack.addr).is_err() {
        if Instant::now() > deadline || !matches!(stack.nginx.child.try_wait(), Ok(None)) {
            return Err(format!(
                "nginx does not answer on {}: {}",
                stack.addr,
                std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(stack)
}

// ---------------------------------------------------------------------------------------------
// Runs

struct Knobs {
    rounds: u64,
    seconds: u64,
    warmup_seconds: u64,
    connections: u64,
    wrk_threads: u64,
}

/// One wrk run on one server: its figures.
fn wrk_run(
    tools: &Tools,
    knobs: &Knobs,
    addr: &str,
    envelope: &Envelope,
    seconds: u64,
    server: &[u32],
    ticks: f64,
) -> Result<Value, String> {
    let before = cpu_sample(server);
    let out = Command::new(&tools.wrk)
        .arg(format!("-t{}", knobs.wrk_threads.min(knobs.connections)))
        .arg(format!("-c{}", knobs.connections))
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(Path::new(HERE).join("post.lua"))
        .arg(format!("http://{addr}{EXPAND_PATH}"))
        .env("VENDOR_STACK_BODY", &envelope.body_file)
        .env("VENDOR_STACK_HEADERS", &envelope.headers_file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let after = cpu_sample(server);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("wrk-json "))
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| {
            format!(
                "wrk printed no summary: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let wall = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let secs = |t: u64| t as f64 / ticks;
    let server_s = secs(after.server.saturating_sub(before.server));
    let wrk_s = secs(after.wrk.saturating_sub(before.wrk));
    let busy = secs(after.machine_busy.saturating_sub(before.machine_busy));
    let idle = secs(after.machine_idle.saturating_sub(before.machine_idle));
    let steal = secs(after.machine_steal.saturating_sub(before.machine_steal));
    let requests = summary["requests"].as_u64().unwrap_or(0);
    let duration_s = summary["duration_us"].as_f64().unwrap_or(0.0) / 1e6;
    let errors: u64 = [
        "connect_errors",
        "read_errors",
        "write_errors",
        "status_errors",
        "timeouts",
    ]
    .iter()
    .map(|k| summary[k].as_u64().unwrap_or(0))
    .sum();
    let pct = |x: f64| (1000.0 * x / (wall * cores)).round() / 10.0;
    Ok(json!({
        "requests": requests,
        "requests_per_s": (requests as f64 / duration_s.max(1e-9)).round(),
        "errors": errors,
        "p50_ms": summary["p50_us"].as_f64().map(|u| u / 1e3),
        "p95_ms": summary["p95_us"].as_f64().map(|u| u / 1e3),
        "p99_ms": summary["p99_us"].as_f64().map(|u| u / 1e3),
        "server_cpu_cores": ((server_s / wall) * 100.0).round() / 100.0,
        "server_busy_pct": pct(server_s),
        "wrk_busy_pct": pct(wrk_s),
        "other_busy_pct": pct((busy - server_s - wrk_s).max(0.0)),
        "machine_idle_pct": pct(idle),
        "machine_steal_pct": pct(steal),
        // Of the CPU the load generator left, the share the server took (100: CPU-bound).
        "server_share_of_available_pct": if server_s + idle > 0.0 {
            (1000.0 * server_s / (server_s + idle)).round() / 10.0
        } else {
            0.0
        },
    }))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The median of one figure over runs.
fn median_of(runs: &[Value], key: &str) -> f64 {
    let v: Vec<f64> = runs.iter().filter_map(|r| r[key].as_f64()).collect();
    support::median(&v)
}

fn skip(why: &str) -> ! {
    println!("{why}");
    support::write_json(
        "vendor_stack",
        &json!({"bench": "vendor_stack", "skipped": why}),
    );
    std::process::exit(0);
}

fn main() {
    let tools = match tools() {
        Ok(t) => t,
        Err(missing) => skip(&format!("skipped: {}", missing.join(", "))),
    };
    if !support::lab_ami_answers() {
        skip("lab not up: skipped");
    }
    let knobs = Knobs {
        rounds: support::env_num("VENDOR_STACK_ROUNDS", 5).max(1),
        seconds: support::env_num("VENDOR_STACK_SECONDS", 3).max(1),
        warmup_seconds: support::env_num("VENDOR_STACK_WARMUP_SECONDS", 1),
        connections: support::env_num("VENDOR_STACK_CONNECTIONS", 16).max(1),
        wrk_threads: support::env_num("VENDOR_STACK_WRK_THREADS", 1).max(1),
    };
    let php_children = support::env_num("VENDOR_STACK_PHP_CHILDREN", 4).max(1);
    let bin = support::binary();
    let ticks = clock_ticks();

    let dir = std::env::temp_dir().join(format!(
        "centralita-bench-vendor-stack-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");

    // 1. The engine and its key.
    let config = support::write_config(&dir);
    let (mut engine, engine_addr) = Engine::start(&bin, &config, dir.join("engine.log")).ready();
    let key = create_key(&bin, &config, "expand", "bench vendor_stack");

    // 2. The envelopes, from PHP's SoapClient on the engine's WSDL.
    let wsdl_url = format!("http://{engine_addr}{EXPAND_PATH}?wsdl");
    let made = Command::new(&tools.php)
        .arg(Path::new(HERE).join("envelopes.php"))
        .args([&wsdl_url, &key, UNKNOWN_JOB])
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("php runs");
    if !made.status.success() {
        let why = format!(
            "envelopes.php failed: {}{}",
            String::from_utf8_lossy(&made.stdout),
            String::from_utf8_lossy(&made.stderr)
        );
        fail(engine, &why);
    }
    let envelopes: Vec<Envelope> = OPERATIONS
        .iter()
        .map(|op| read_envelope(&dir, op))
        .collect();

    // 3. The vendor's stack: its data, its WSDL, php-fpm and nginx.
    let panel = std::fs::read_to_string(dir.join("statusQueues.result")).unwrap_or_default();
    let seeded = match seed(&tools.php, &dir.join("vendor.db"), &key, &panel) {
        Ok(counts) => counts,
        Err(why) => fail(engine, &format!("seeding vendor.db: {why}")),
    };
    let Some((200, engine_wsdl)) = get(&engine_addr, &format!("{EXPAND_PATH}?wsdl")) else {
        fail(engine, "the engine serves no WSDL");
    };
    let stack = match start_php_stack(&tools, &dir, php_children) {
        Ok(s) => s,
        Err(why) => fail(engine, &why),
    };
    std::fs::write(
        dir.join("apiws.wsdl"),
        engine_wsdl.replace(
            &format!("http://{engine_addr}{EXPAND_PATH}"),
            &format!("http://{}{EXPAND_PATH}", stack.addr),
        ),
    )
    .expect("the WSDL written");

    // 4. One answer of each, checked.
    let problems_before = check_both(&engine_addr, &stack.addr, &envelopes);
    if !problems_before.is_empty() {
        drop(stack);
        fail(engine, &problems_before.join("; "));
    }
    let engine_pids = [engine.pid()];
    let php_pids = stack.pids();
    let php_addr = stack.addr.clone();

    // 5. Alternating runs.
    let mut runs: BTreeMap<(&str, &str), Vec<Value>> = BTreeMap::new();
    for round in 0..knobs.rounds {
        for e in &envelopes {
            let mut order = [
                ("engine", engine_addr.as_str(), &engine_pids[..]),
                ("php", php_addr.as_str(), &php_pids[..]),
            ];
            if round % 2 == 1 {
                order.reverse();
            }
            for (server, addr, pids) in order {
                if knobs.warmup_seconds > 0 {
                    let _ = wrk_run(&tools, &knobs, addr, e, knobs.warmup_seconds, pids, ticks);
                }
                match wrk_run(&tools, &knobs, addr, e, knobs.seconds, pids, ticks) {
                    Ok(mut r) => {
                        r["round"] = json!(round);
                        eprintln!(
                            "round {round} {:<20} {server:<6} {:>6} req/s  server {:>5} %  wrk {:>5} %  \
                             other {:>5} %  idle {:>5} %  steal {:>5} %",
                            e.op,
                            r["requests_per_s"],
                            r["server_busy_pct"],
                            r["wrk_busy_pct"],
                            r["other_busy_pct"],
                            r["machine_idle_pct"],
                            r["machine_steal_pct"]
                        );
                        runs.entry((e.op, server)).or_default().push(r);
                    }
                    Err(why) => {
                        drop(stack);
                        fail(engine, &why);
                    }
                }
            }
        }
    }
    let problems_after = check_both(&engine_addr, &stack.addr, &envelopes);
    let engine_alive = engine.alive();
    drop(stack);
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);

    // 6. Figures.
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut operations = Vec::new();
    let mut total_errors = 0u64;
    println!(
        "vendor_stack: {} serve against PHP {} SoapServer (php-fpm, {php_children} static \
         workers, behind nginx; SQLite); wrk -t{} -c{} -d{}s (+{} s warm-up), {} alternating \
         rounds; {cores} cores shared by the server and wrk",
        bin.display(),
        php_version(&tools.php),
        knobs.wrk_threads.min(knobs.connections),
        knobs.connections,
        knobs.seconds,
        knobs.warmup_seconds,
        knobs.rounds,
    );
    println!(
        "{:<20} {:<7} {:>8} {:>7} {:>7} {:>7} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "operation",
        "server",
        "req/s",
        "p50 ms",
        "p99 ms",
        "busy %",
        "of avail",
        "wrk %",
        "other%",
        "idle %",
        "steal%",
        "errors"
    );
    for op in OPERATIONS {
        let mut per_server = serde_json::Map::new();
        for server in ["engine", "php"] {
            let rs = runs.get(&(op, server)).cloned().unwrap_or_default();
            let errors: u64 = rs.iter().map(|r| r["errors"].as_u64().unwrap_or(0)).sum();
            total_errors += errors;
            let summary = json!({
                "requests_per_s": median_of(&rs, "requests_per_s"),
                "requests_per_s_rounds": rs.iter().map(|r| r["requests_per_s"].clone()).collect::<Vec<_>>(),
                "p50_ms": median_of(&rs, "p50_ms"),
                "p99_ms": median_of(&rs, "p99_ms"),
                "server_cpu_cores": median_of(&rs, "server_cpu_cores"),
                "server_busy_pct": median_of(&rs, "server_busy_pct"),
                "server_share_of_available_pct": median_of(&rs, "server_share_of_available_pct"),
                "wrk_busy_pct": median_of(&rs, "wrk_busy_pct"),
                "other_busy_pct": median_of(&rs, "other_busy_pct"),
                "machine_idle_pct": median_of(&rs, "machine_idle_pct"),
                "machine_steal_pct": median_of(&rs, "machine_steal_pct"),
                "errors": errors,
                "runs": rs,
            });
            let f = |k: &str, d: usize| {
                summary[k]
                    .as_f64()
                    .map_or("-".to_string(), |x| format!("{x:.d$}"))
            };
            println!(
                "{:<20} {:<7} {:>8} {:>7} {:>7} {:>7} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6}",
                op,
                server,
                f("requests_per_s", 0),
                f("p50_ms", 2),
                f("p99_ms", 2),
                f("server_busy_pct", 1),
                f("server_share_of_available_pct", 1),
                f("wrk_busy_pct", 1),
                f("other_busy_pct", 1),
                f("machine_idle_pct", 1),
                f("machine_steal_pct", 1),
                errors
            );
            per_server.insert(server.to_string(), summary);
        }
        let rps = |s: &str, r: &Value| r[s]["requests_per_s"].as_f64().unwrap_or(0.0);
        let engine_rps = rps("engine", &Value::Object(per_server.clone()));
        let php_rps = rps("php", &Value::Object(per_server.clone()));
        let engine_rounds = runs.get(&(op, "engine")).cloned().unwrap_or_default();
        let php_rounds = runs.get(&(op, "php")).cloned().unwrap_or_default();
        let round_ratios: Vec<f64> = engine_rounds
            .iter()
            .zip(php_rounds.iter())
            .filter_map(|(a, b)| {
                let (a, b) = (a["requests_per_s"].as_f64()?, b["requests_per_s"].as_f64()?);
                (b > 0.0).then(|| round3(a / b))
            })
            .collect();
        let ratio = (php_rps > 0.0).then(|| round3(engine_rps / php_rps));
        operations.push(json!({
            "operation": op,
            "engine": per_server["engine"],
            "php": per_server["php"],
            "ratio_engine_to_php": ratio,
            "ratio_engine_to_php_rounds": round_ratios,
            "median_of_round_ratios": (!round_ratios.is_empty()).then(|| support::median(&round_ratios)),
        }));
    }
    for o in &operations {
        println!(
            "{}: engine/PHP {}× (medians), median of the rounds' ratios {}×, rounds {}",
            o["operation"].as_str().unwrap_or(""),
            o["ratio_engine_to_php"],
            o["median_of_round_ratios"],
            o["ratio_engine_to_php_rounds"]
        );
    }
    println!(
        "busy %: the server's process tree's CPU time over the run's wall time and all cores \
         (wrk %: the load generator's; other %: every other process; steal %: the hypervisor's); \
         of avail: the server's share of the CPU nothing else took (server / (server + idle)), \
         100 when it is CPU-bound; seeded from the engine's panel: {seeded}"
    );
    let problems: Vec<String> = problems_after
        .into_iter()
        .chain((!engine_alive).then(|| "the engine died".to_string()))
        .collect();
    let ok = total_errors == 0 && problems.is_empty();
    if ok {
        println!("every checked answer was the expected one; no wrk errors");
    } else {
        println!(
            "RUN WITH ERRORS: {total_errors} wrk errors{}",
            problems
                .iter()
                .map(|p| format!("; {p}"))
                .collect::<String>()
        );
    }
    support::write_json(
        "vendor_stack",
        &json!({
            "bench": "vendor_stack",
            "binary": bin.display().to_string(),
            "php": php_version(&tools.php),
            "php_children": php_children,
            "cores": cores,
            "connections": knobs.connections,
            "wrk_threads": knobs.wrk_threads.min(knobs.connections),
            "seconds_per_run": knobs.seconds,
            "warmup_seconds": knobs.warmup_seconds,
            "rounds": knobs.rounds,
            "seeded": seeded,
            "operations": operations,
            "errors": total_errors,
            "problems": problems,
            "ok": ok,
        }),
    );
}

/// `PHP_VERSION` of the CLI.
fn php_version(php: &Path) -> String {
    Command::new(php)
        .args(["-r", "echo PHP_VERSION;"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
