//! Transcoding speed and memory for a one-hour recording: each input (8 kHz mono WAV as
//! Asterisk writes it, the same as headerless GSM and as WAV49) to each output (MP3, Ogg,
//! WAV 8 kHz), through `centralita::media::transcode`.
//!
//! Speed is audio seconds per wall-clock second (a multiple of real time). Memory is `VmHWM` of
//! a child process (this bench re-executed with `CENTRALITA_BENCH_ROLE=transcode`) that does one
//! transcode: its peak before transcoding (the process floor, the baseline) and after, so the
//! delta is what transcoding one hour cost. Streaming means the delta must not grow with length.
//!
//! The one-hour WAV is synthesised in process (syllable-like bursts of harmonics and noise);
//! the GSM and WAV49 copies are made with `sox` (Debian package `sox`, required).
//! Knob: `TRANSCODE_SECONDS` (default 3600).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use centralita::media::{self, OutputFormat};

const ROLE_VAR: &str = "CENTRALITA_BENCH_ROLE";

fn main() {
    if std::env::var(ROLE_VAR).as_deref() == Ok("transcode") {
        child();
        return;
    }
    let seconds = support::env_num("TRANSCODE_SECONDS", 3600);
    let dir = support::target_dir().join("bench").join("transcode-work");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work dir");

    let wav = dir.join("hour.wav");
    let t = Instant::now();
    synthesise(&wav, seconds);
    println!(
        "synthesised {seconds} s of 8 kHz mono in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let gsm = dir.join("hour.gsm");
    let wav49 = dir.join("hour49.wav");
    sox(&[wav.as_os_str(), gsm.as_os_str()]);
    sox(&[
        wav.as_os_str(),
        "-e".as_ref(),
        "gsm-full-rate".as_ref(),
        wav49.as_os_str(),
    ]);

    println!(
        "\n{:<8} {:<6} {:>10} {:>12} {:>10} {:>12} {:>12} {:>10}",
        "input", "output", "audio s", "wall s", "x real", "out MB", "floor MB", "peak +MB"
    );
    let mut rows = Vec::new();
    for (name, src) in [("wav", &wav), ("gsm", &gsm), ("wav49", &wav49)] {
        for to in OutputFormat::ALL {
            let dst = dir.join(format!("out-{name}.{}", to.extension()));
            let r = run_child(src, &dst, to);
            let _ = std::fs::remove_file(&dst);
            let audio = r["audio_s"].as_f64().unwrap_or(0.0);
            let wall = r["wall_s"].as_f64().unwrap_or(f64::NAN);
            let before = r["hwm_before_kb"].as_u64().unwrap_or(0);
            let after = r["hwm_after_kb"].as_u64().unwrap_or(0);
            let speed = audio / wall;
            println!(
                "{:<8} {:<6} {:>10.0} {:>12.2} {:>10.0} {:>12.2} {:>12.1} {:>10.1}",
                name,
                to.extension(),
                audio,
                wall,
                speed,
                r["output_bytes"].as_u64().unwrap_or(0) as f64 / 1e6,
                before as f64 / 1024.0,
                after.saturating_sub(before) as f64 / 1024.0
            );
            rows.push(serde_json::json!({
                "input": name,
                "output": to.extension(),
                "audio_s": audio,
                "wall_s": wall,
                "x_realtime": speed,
                "output_bytes": r["output_bytes"],
                "vm_hwm_before_kb": before,
                "vm_hwm_after_kb": after,
                "vm_hwm_delta_kb": after.saturating_sub(before),
            }));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    support::write_json(
        "transcode",
        &serde_json::json!({
            "bench": "transcode",
            "audio_seconds": seconds,
            "results": rows,
        }),
    );
}

/// One transcode in this process, reported as one JSON line on stdout.
fn child() {
    let src = PathBuf::from(std::env::var("TRANSCODE_SRC").expect("TRANSCODE_SRC"));
    let dst = PathBuf::from(std::env::var("TRANSCODE_DST").expect("TRANSCODE_DST"));
    let to =
        OutputFormat::parse(&std::env::var("TRANSCODE_TO").expect("TRANSCODE_TO")).expect("format");
    let (_, before) = support::memory_kb(None).expect("/proc/self/status");
    let stats = media::transcode(&src, &dst, to)
        .unwrap_or_else(|e| panic!("transcode {}: {e}", src.display()));
    let (_, after) = support::memory_kb(None).expect("/proc/self/status");
    println!(
        "{}",
        serde_json::json!({
            "audio_s": stats.input.duration.as_secs_f64(),
            "wall_s": stats.elapsed.as_secs_f64(),
            "output_bytes": stats.output_bytes,
            "hwm_before_kb": before,
            "hwm_after_kb": after,
        })
    );
}

fn run_child(src: &Path, dst: &Path, to: OutputFormat) -> serde_json::Value {
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .env(ROLE_VAR, "transcode")
        .env("TRANSCODE_SRC", src)
        .env("TRANSCODE_DST", dst)
        .env("TRANSCODE_TO", to.extension())
        .output()
        .expect("spawn child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("{}");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("child output {line:?}: {e}"))
}

fn sox(args: &[&std::ffi::OsStr]) {
    let t = Instant::now();
    let status = Command::new("sox")
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("sox is required (apt-get install sox): {e}"));
    assert!(status.success(), "sox {args:?} failed");
    println!(
        "sox {:?} in {:.1} s",
        args.last().unwrap_or(&"".as_ref()),
        t.elapsed().as_secs_f64()
    );
}

/// Speech-like test signal: 150–250 ms "syllables" of a voiced harmonic series (pitch 100–220 Hz,
/// harmonics up to 3.4 kHz) or noise, separated by short pauses; written one second at a time.
fn synthesise(path: &Path, seconds: u64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    let total = seconds * 8000;
    let mut n = 0u64;
    let mut phase = 0.0f64;
    while n < total {
        let len = (1200.0 + 800.0 * next()) as u64;
        let kind = next();
        let pitch = 100.0 + 120.0 * next();
        let amp = 3000.0 + 5000.0 * next();
        for i in 0..len.min(total - n) {
            let env = (std::f64::consts::PI * i as f64 / len as f64).sin();
            let v = if kind < 0.6 {
                phase += 2.0 * std::f64::consts::PI * pitch / 8000.0;
                let mut s = 0.0;
                let mut h = 1.0;
                while h * pitch < 3400.0 {
                    s += (phase * h).sin() / h;
                    h += 1.0;
                }
                s * amp * 0.5
            } else if kind < 0.85 {
                (next() - 0.5) * amp
            } else {
                (next() - 0.5) * 60.0
            };
            w.write_sample((v * env).clamp(-32768.0, 32767.0) as i16)
                .expect("write");
        }
        n += len.min(total - n);
    }
    w.finalize().expect("finalize wav");
}
