//! Bench `idle_memory`: resident memory of the real `centralita serve` at idle, against the
//! process floor of the same binary.
//!
//! - Engine: `centralita serve` with a temporary config pointing at the lab (AMI, CDR database,
//!   queue_log and recordings of `vm/lab`; store and HTTP on temporaries), left alone for
//!   `IDLE_SECONDS` (default 10), then `VmRSS`/`VmHWM` from `/proc/<pid>/status`, then SIGTERM.
//!   With the lab down it still runs (the engine retries AMI); the bench says so.
//! - Baseline, same run: `centralita --help`, stopped at its last write (its stdout is a pipe
//!   filled beforehand, so the write blocks) and read from `/proc` the same way.
//!
//! The binary is the one cargo builds for this bench (`CARGO_BIN_EXE_centralita`), else
//! `target/release/centralita`. `cargo bench --bench idle_memory`.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `VmRSS`/`VmHWM` of `centralita --help` at its last write.
fn help_floor(bin: &Path) -> Option<(u64, u64)> {
    let (mut reader, writer) = std::io::pipe().ok()?;
    let child_out = writer.try_clone().ok()?;
    // Fill the pipe byte by byte until a write blocks; then the child's first write blocks too.
    let stop = Arc::new(AtomicBool::new(false));
    let filler = {
        let stop = stop.clone();
        let mut writer = writer;
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if writer.write_all(b"x").is_err() {
                    return;
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut child = Command::new(bin)
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(child_out)
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(500));
    let memory = support::memory_kb(Some(child.id()));
    stop.store(true, Ordering::SeqCst);
    let mut sink = Vec::new();
    let drain = std::thread::spawn(move || reader.read_to_end(&mut sink).map(|_| sink.len()));
    let _ = child.wait();
    let _ = filler.join();
    let _ = drain.join();
    memory
}

fn mb(kb: u64) -> f64 {
    (kb as f64 / 1024.0 * 10.0).round() / 10.0
}

fn main() {
    let bin = support::binary();
    let idle = Duration::from_secs(support::env_num("IDLE_SECONDS", 10));
    let lab_up = support::lab_ami_answers();

    let floor = help_floor(&bin);

    let dir = std::env::temp_dir().join(format!("centralita-bench-idle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = support::write_config(&dir);
    let log_path = dir.join("engine.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut engine = Command::new(&bin)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("the engine starts");
    let pid = engine.id();
    let started = Instant::now();
    let mut exited = None;
    while started.elapsed() < idle {
        if let Ok(Some(status)) = engine.try_wait() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let memory = if exited.is_none() {
        support::memory_kb(Some(pid))
    } else {
        None
    };
    if exited.is_none() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let stop_started = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = engine.try_wait() {
            break Some(status);
        }
        if stop_started.elapsed() > Duration::from_secs(10) {
            let _ = engine.kill();
            break engine.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stop_time = stop_started.elapsed();
    let log_text = std::fs::read_to_string(&log_path).unwrap_or_default();

    let Some((rss, hwm)) = memory else {
        eprintln!(
            "the engine exited before {idle:?} ({exited:?}); its log ({}):\n{log_text}",
            log_path.display()
        );
        std::process::exit(1);
    };
    let _ = std::fs::remove_dir_all(&dir);
    let (floor_rss, floor_hwm) = floor.unwrap_or_default();
    let ratio = |a: u64, b: u64| (b > 0).then(|| (a as f64 / b as f64 * 100.0).round() / 100.0);

    println!(
        "idle_memory: {} serve, idle {:.0} s; lab {}",
        bin.display(),
        idle.as_secs_f64(),
        if lab_up {
            "up (AMI answered)"
        } else {
            "DOWN: the engine ran retrying AMI"
        }
    );
    println!("{:<36} {:>10} {:>10}", "process", "VmRSS MB", "VmHWM MB");
    println!(
        "{:<36} {:>10} {:>10}",
        "centralita --help (baseline)",
        mb(floor_rss),
        mb(floor_hwm)
    );
    println!(
        "{:<36} {:>10} {:>10}",
        "centralita serve, idle",
        mb(rss),
        mb(hwm)
    );
    let rss_ratio = ratio(rss, floor_rss);
    let hwm_ratio = ratio(hwm, floor_hwm);
    println!(
        "ratio serve/--help: VmRSS {} VmHWM {}",
        rss_ratio.map_or("-".into(), |r| format!("{r:.2}")),
        hwm_ratio.map_or("-".into(), |r| format!("{r:.2}"))
    );
    println!(
        "SIGTERM → exit in {:.0} ms ({})",
        support::ms(stop_time),
        status.map_or("unknown".into(), |s| s.to_string())
    );

    support::write_json(
        "idle_memory",
        &serde_json::json!({
            "bench": "idle_memory",
            "binary": bin.display().to_string(),
            "idle_s": idle.as_secs(),
            "lab_up": lab_up,
            "help_vm_rss_kb": floor_rss,
            "help_vm_hwm_kb": floor_hwm,
            "serve_vm_rss_kb": rss,
            "serve_vm_hwm_kb": hwm,
            "rss_ratio_serve_to_help": rss_ratio,
            "hwm_ratio_serve_to_help": hwm_ratio,
            "sigterm_exit_ms": support::ms(stop_time),
            "exit_status": status.map(|s| s.to_string()),
        }),
    );
}
