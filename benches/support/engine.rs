//! The real `centralita serve` as a bench's child process: started on a config
//! ([`super::write_config`]), its HTTP address read from its log, `/healthz` awaited, API keys
//! issued with `centralita admin credential create`, stopped (SIGTERM, then SIGKILL) when
//! dropped.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The engine as a child process; SIGTERM (then SIGKILL) when dropped.
pub struct Engine {
    pub child: Child,
    pub log: PathBuf,
}

impl Engine {
    /// `bin serve --config config`, its output to `log` (`RUST_LOG=info`, no colours).
    pub fn start(bin: &Path, config: &Path, log: PathBuf) -> Engine {
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(bin)
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("the engine starts");
        Engine { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_text(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// `host:port` from the engine's `HTTP listening addr=...` line.
    pub fn addr(&mut self, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let text = self.log_text();
            let found = text
                .lines()
                .find_map(|l| l.split("HTTP listening addr=").nth(1))
                .and_then(|a| a.split_whitespace().next())
                .map(str::to_string);
            if found.is_some() {
                return found;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// The HTTP address once `/healthz` says `ok` (AMI up, ingestion running); the bench
    /// stops with the engine's log if either takes too long.
    pub fn ready(mut self) -> (Engine, String) {
        let Some(addr) = self.addr(Duration::from_secs(15)) else {
            fail(self, "the engine logged no HTTP address");
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match get(&addr, "/healthz") {
                Some((200, body)) if body.contains("\"ok\"") => break,
                last if Instant::now() > deadline => {
                    fail(self, &format!("/healthz not ok within 60 s: {last:?}"))
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
        (self, addr)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prints why the bench stops, with the engine's log, and exits 1 (the engine is stopped).
pub fn fail(engine: Engine, why: &str) -> ! {
    eprintln!(
        "{why}; the engine's log ({}):\n{}",
        engine.log.display(),
        engine.log_text()
    );
    drop(engine);
    std::process::exit(1);
}

/// `GET path` on a fresh connection: `(status, body)`.
pub fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// The `Threads:` count of a process, from `/proc/<pid>/status`.
pub fn threads(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// `centralita admin --config CONFIG ARGS...`: what it prints (exits 1 if it fails).
pub fn admin(bin: &Path, config: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(["admin", "--config"])
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("centralita admin runs");
    if !out.status.success() {
        eprintln!(
            "centralita admin {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(1);
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `centralita admin --config CONFIG credential create --system SYSTEM --api API`: the key it
/// prints (exits 1 if it fails).
pub fn create_key(bin: &Path, config: &Path, api: &str, system: &str) -> String {
    admin(
        bin,
        config,
        &["credential", "create", "--system", system, "--api", api],
    )
    .lines()
    .last()
    .unwrap_or("")
    .trim()
    .to_string()
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
