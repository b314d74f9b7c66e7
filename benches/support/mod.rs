//! Shared helpers of the bench targets: memory figures from `/proc`, percentiles, the JSON line
//! each bench writes to `target/bench/NAME.json`, the lab's AMI address, a SOAP answer's
//! `return`, the engine as a child process ([`engine`]) and the dialer benches' file ([`dialer`]).

#![allow(dead_code)]

pub mod dialer;
pub mod engine;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `VmRSS` and `VmHWM` (kB) of a process, from `/proc/<pid>/status` (`None` if unreadable).
pub fn memory_kb(pid: Option<u32>) -> Option<(u64, u64)> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The `q` quantile (0..=1) of `samples` by nearest rank; `None` when empty.
pub fn quantile(samples: &[Duration], q: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Milliseconds with three decimals, for tables and JSON.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `ms` of an optional duration (JSON `null` when absent).
pub fn ms_opt(d: Option<Duration>) -> Option<f64> {
    d.map(ms)
}

/// `s` with XML's five entities resolved.
pub fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The text of the SOAP answer's `return` part (entities resolved), if any.
pub fn soap_return(body: &str) -> Option<String> {
    let start = body.find("<return")?;
    let open_end = start + body[start..].find('>')?;
    if body[start..=open_end].ends_with("/>") {
        return Some(String::new());
    }
    let close = open_end + body[open_end..].find("</return>")?;
    Some(unescape_xml(&body[open_end + 1..close]))
}

/// The middle value of `values` (the lower one of an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get((v.len().max(1) - 1) / 2).copied().unwrap_or(0.0)
}

/// The crate's target folder (`CARGO_TARGET_DIR` if set at run time, else `<crate>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Writes `value` as one JSON line to `target/bench/<name>.json` and says where.
pub fn write_json(name: &str, value: &serde_json::Value) {
    let dir = target_dir().join("bench");
    let path = dir.join(format!("{name}.json"));
    let written =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, format!("{value}\n")));
    match written {
        Ok(()) => println!("\nwrote {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}

/// An environment variable, or `default`.
pub fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

/// A numeric environment variable, or `default`.
pub fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The lab's AMI (same variables as the live tests): host, port, user, secret.
pub fn lab_ami() -> (String, u16, String, String) {
    (
        env_or("LAB_AMI_HOST", "127.0.0.1"),
        env_or("LAB_AMI_PORT", "5038").parse().unwrap_or(5038),
        env_or("LAB_AMI_USER", "centralita"),
        env_or("LAB_AMI_SECRET", "centralita-lab-ami"),
    )
}

/// Whether something answers on the lab's AMI port with an AMI banner within 2 s.
pub fn lab_ami_answers() -> bool {
    use std::io::{BufRead, BufReader};
    use std::net::{TcpStream, ToSocketAddrs};
    let (host, port, _, _) = lab_ami();
    let Some(addr) = (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    else {
        return false;
    };
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("Asterisk Call Manager")
}

/// The engine binary: Cargo's, else `target/release/centralita` (exits 1 if missing).
pub fn binary() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_centralita").map(PathBuf::from) {
        if path.exists() {
            return path;
        }
    }
    let path = target_dir().join("release/centralita");
    if !path.exists() {
        eprintln!(
            "{} is missing: run `cargo build --release` first",
            path.display()
        );
        std::process::exit(1);
    }
    path
}

/// A path inside the lab's chroot (`LAB_ROOT`).
pub fn lab_path(rel: &str) -> PathBuf {
    PathBuf::from(env_or("LAB_ROOT", "/var/cache/centralita/lab-root")).join(rel)
}

/// The time zone of [`write_config`]'s engine.
pub const ENGINE_TIME_ZONE: &str = "America/Montevideo";

/// The config the live tests write (`tests/live_journal.rs`), for the lab: store in `dir`,
/// HTTP on a free port.
pub fn write_config(dir: &Path) -> PathBuf {
    let (host, port, user, secret) = lab_ami();
    let path = dir.join("centralita.toml");
    let text = format!(
        "[engine]\ntimezone = {ENGINE_TIME_ZONE:?}\n\n\
         [store]\npath = {:?}\n\n\
         [[node]]\nname = \"pbx1\"\ncdr_db = {:?}\nqueue_log = {:?}\nrecordings_dir = {:?}\n\
         poll_interval_ms = 500\n\n\
         [node.ami]\nhost = {host:?}\nport = {port}\nusername = {user:?}\nsecret = {secret:?}\n\n\
         [http]\nbind = \"127.0.0.1:0\"\n",
        dir.join("store.db"),
        lab_path("var/log/asterisk/master.db"),
        lab_path("var/log/asterisk/queue_log"),
        lab_path("var/spool/asterisk/monitor"),
    );
    std::fs::write(&path, text).expect("config written");
    path
}
