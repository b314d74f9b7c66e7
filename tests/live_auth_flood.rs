//! Live tier: a flood of wrong passwords against uContact's `getUserToken` (Python `requests`,
//! 50 keep-alive connections, 500 wrong passwords for one user) on the real engine against the
//! lab.
//!
//! While it runs, `/healthz` and a call with an API key the engine has already verified keep
//! answering within their normal latency (below max(20 × their latency before the flood, 1 s));
//! the engine's peak memory (VmHWM) stays within the bound of the bounded hashing pool; the
//! user is locked out, so the right password is refused (`0`) while the lock-out lasts and
//! opens a session after it. Nothing of the passwords or the key reaches the engine's log.

#![cfg(feature = "live-lab")]

mod live_support;

use std::process::Command;
use std::time::{Duration, Instant};

use live_support::*;

const USER: &str = "floodana";
const PASSWORD: &str = "pw-flood-right";
const CONNECTIONS: usize = 50;
const PER_CONNECTION: usize = 10;
const LOCKOUT_SECONDS: u64 = 5;

/// A user locked out after 100 failures (so the flood does make the pool hash, about 100
/// times, 50 at a time asking), for a short while; the address limit out of the way (every
/// request comes from loopback).
fn extra() -> String {
    format!(
        "[auth]\nmax_failures_per_principal = 100\nmax_failures_per_address = 100000\n\
         window_seconds = 300\nlockout_seconds = {LOCKOUT_SECONDS}\n\
         max_lockout_seconds = {LOCKOUT_SECONDS}\n"
    )
}

/// VmHWM (peak resident memory) of process `pid`, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// `getUserToken` with curl: the answer body.
fn get_user_token(base: &str, user: &str, password: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-H",
            "Content-Type: application/x-www-form-urlencoded; charset=UTF-8",
            "--data-urlencode",
            &format!("user={user}"),
            "--data-urlencode",
            &format!("password={password}"),
            &format!("{base}/Integra/resources/auth/getUserToken"),
        ])
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "curl failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_flood_of_wrong_passwords_locks_the_user_out_and_the_engine_keeps_answering() {
    let scratch = Scratch::new("live-auth-flood");
    let engine = Engine::start_with(scratch.path(), "auth-flood", &extra());
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
            "2391",
            "--name",
            "Ana Flood",
            "--username",
            USER,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let key = engine.api_key("ucontact", "flood-probe");
    let base = engine.base_url();
    let pid = engine.child.id();

    // Warm: sessions open (the hashing pool has run), the key is verified and remembered.
    for _ in 0..3 {
        let answer = get_user_token(&base, USER, PASSWORD);
        assert!(answer.starts_with(&format!("[\"{USER}\"")), "{answer}");
    }
    let hwm_before = vm_hwm_kib(pid);

    let started = Instant::now();
    let (ok, out, err) = run_client(
        &python(),
        &repo().join("tests/clients/ucontact/flood.py"),
        &[
            &base,
            USER,
            &key,
            &CONNECTIONS.to_string(),
            &PER_CONNECTION.to_string(),
        ],
    );
    eprintln!("flood.py:\n{out}{err}");
    assert!(ok, "flood.py failed: {err}");
    let s: serde_json::Value =
        serde_json::from_str(out.lines().last().expect("a summary")).expect("JSON summary");

    // Every wrong password got uContact's refusal, nothing else (no 503, no 500).
    let answers = s["answers"].as_object().unwrap();
    assert_eq!(
        answers.keys().collect::<Vec<_>>(),
        ["200 0"],
        "only refusals: {answers:?}"
    );
    assert_eq!(
        answers["200 0"].as_u64(),
        Some((CONNECTIONS * PER_CONNECTION) as u64)
    );

    // Responsive all along.
    let secs = |k: &str| s[k].as_f64().unwrap();
    assert!(s["probes_during"].as_u64().unwrap() >= 1);
    for (during, before) in [
        ("during_healthz", "baseline_healthz"),
        ("during_key", "baseline_key"),
    ] {
        let bound = (20.0 * secs(before)).max(1.0);
        assert!(
            secs(during) < bound,
            "{during} {:.3}s over {bound:.3}s (before the flood {:.3}s)",
            secs(during),
            secs(before)
        );
    }

    // Memory: Argon2id (default parameters) takes 19 MiB per hash and the pool runs at most
    // one hash per core, so the flood may add at most (cores + 1) × 20 MiB (the pool, and the
    // allocator's slack around one block) plus 32 MiB for 50 connections' buffers. Without
    // the pool the 50 concurrent logins would hash at once: 50 × 19 MiB ≈ 950 MiB.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let hwm_after = vm_hwm_kib(pid);
    let bound_kib = (cores + 1) * 20 * 1024 + 32 * 1024;
    eprintln!("VmHWM before {hwm_before} KiB, after {hwm_after} KiB, bound +{bound_kib} KiB");
    assert!(
        hwm_after <= hwm_before + bound_kib,
        "VmHWM grew from {hwm_before} KiB to {hwm_after} KiB (bound +{bound_kib} KiB)"
    );

    // Locked out: the right password is refused.
    assert_eq!(
        get_user_token(&base, USER, PASSWORD),
        "0",
        "the right password while locked out"
    );
    // ... and accepted once the lock-out is over (polled; attempts while locked do not count).
    let deadline = Instant::now() + Duration::from_secs(LOCKOUT_SECONDS + 15);
    let mut refused = 1;
    loop {
        let answer = get_user_token(&base, USER, PASSWORD);
        if answer.starts_with(&format!("[\"{USER}\"")) {
            break;
        }
        assert_eq!(answer, "0");
        refused += 1;
        assert!(
            Instant::now() < deadline,
            "still refused {refused} times, {:?} after the flood began",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "flood {:.1}s; the right password refused {refused} times, accepted {:.1}s after the \
         flood began",
        secs("flood_seconds"),
        started.elapsed().as_secs_f64()
    );

    // No password, key or token in the log.
    let log = engine.log_text();
    for secret in [PASSWORD, "wrong-0-0", &key] {
        assert!(!log.contains(secret), "the log holds a secret");
    }
    let (_, secret_part) = key.split_once('.').unwrap();
    assert!(!log.contains(secret_part));
}
