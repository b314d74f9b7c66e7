//! The lab's carrier sends DTMF and records what it hears, against a TTS prompt rendered by the
//! engine's adapter (`espeak-ng`) into the cache Asterisk reads through its own path.
//!
//! One inbound call to the lab's DID 26009900 (`vm/asterisk/extensions-lab.conf`): Asterisk
//! answers, plays the prompt named by the carrier's `X-Lab-Prompt` (the cache entry, as Asterisk
//! sees it: the play URI without `sound:`), then `Read()`s digits ended by `#`, and writes
//! `prompt:<PLAYBACKSTATUS> dtmf:<digits>` into the call's CDR userfield. The carrier
//! (`vm/lab call-in --dtmf 12# --record`) sends the digits as SIP INFO after the prompt and
//! records the RTP it receives. Proven: the prompt file was found and played (`SUCCESS`), the
//! digits arrived as digits (`12`), and the recording is not silent and carries about as much
//! sound as the prompt has.
#![cfg(feature = "live-lab")]

mod live_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use centralita::config::TtsConfig;
use live_support::*;

/// Seconds of sound in a 16-bit mono WAV: 20 ms frames whose RMS is above 1 % of full scale.
fn audible_seconds(path: &Path) -> (f64, f64) {
    let mut r = hound::WavReader::open(path).expect("a WAV file");
    let spec = r.spec();
    assert_eq!(spec.channels, 1);
    let rate = spec.sample_rate as usize;
    let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let frame = rate / 50;
    let loud = samples
        .chunks(frame)
        .filter(|c| {
            let e: f64 = c.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum::<f64>();
            (e / c.len() as f64).sqrt() > 0.01
        })
        .count();
    (loud as f64 / 50.0, samples.len() as f64 / rate as f64)
}

fn sox_rms(path: &Path) -> f64 {
    let out = std::process::Command::new("sox")
        .arg(path)
        .args(["-n", "stat"])
        .output()
        .expect("sox");
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find(|l| l.starts_with("RMS     amplitude"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("sox stat: {text}"))
}

/// The userfield of the newest CDR of DID 26009900 with `AcctId > after`, polled until it comes.
fn userfield_after(after: i64, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(conn) = rusqlite::Connection::open_with_flags(
            cdr_db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) {
            conn.busy_timeout(Duration::from_secs(2)).unwrap();
            let row: Option<String> = conn
                .query_row(
                    "SELECT userfield FROM cdr WHERE AcctId > ?1 AND dst = '26009900' \
                     AND userfield LIKE 'prompt:%' ORDER BY AcctId DESC LIMIT 1",
                    [after],
                    |r| r.get(0),
                )
                .ok();
            if let Some(u) = row {
                return u;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no CDR of the DTMF call within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn carrier_dtmf_arrives_as_digits_and_the_tts_prompt_it_hears_is_recorded() {
    // the engine's TTS, configured as vm/centralita.lab.toml does
    let cfg: TtsConfig = toml::from_str(&format!(
        "cache_dir = {:?}\nasterisk_dir = \"/var/lib/asterisk/sounds/centralita-tts\"\n",
        lab_root().join("var/lib/asterisk/sounds/centralita-tts")
    ))
    .unwrap();
    cfg.validate().unwrap();
    let cache = centralita::app::tts::prompt_cache(&cfg).expect("espeak-ng runs");
    let text = format!(
        "Bienvenido a la central de pruebas. Marque uno y dos, y luego numeral. Llamada {}.",
        std::process::id()
    );
    let prompt = cache.speak(&text, "es", 160).await.expect("rendered");
    assert!(prompt.rendered, "a fresh text renders");
    let asterisk_path = prompt.uri.strip_prefix("sound:").unwrap().to_string();
    assert!(asterisk_path.starts_with("/var/lib/asterisk/sounds/centralita-tts/tts-"));
    let (prompt_audible, prompt_len) = audible_seconds(&prompt.path);
    assert!(prompt_len > 2.0, "the prompt lasts {prompt_len} s");

    let scratch = Scratch::new("lab-dtmf");
    let heard: PathBuf = scratch.path().join("heard.wav");
    let before = asterisk_max_acct_id();
    // the digits go after the prompt (Playback ignores digits; Read() takes them)
    let delay = format!("{:.1}", prompt_len + 1.0);
    let args = [
        "call-in",
        "--did",
        "26009900",
        "--hangup",
        "agent",
        "--dtmf",
        "12#",
        "--dtmf-delay",
        &delay,
        "--record",
        heard.to_str().unwrap(),
        "--prompt",
        &asterisk_path,
    ];
    let out = lab(&args);
    assert!(
        out.status.success(),
        "vm/lab call-in: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Asterisk found and played the file, and Read() got the digits (`#` ends it)
    let userfield = userfield_after(before, Duration::from_secs(15));
    assert_eq!(userfield, "prompt:SUCCESS dtmf:12");

    // what the carrier heard: the prompt, not silence, about as long as the prompt
    let rms = sox_rms(&heard);
    assert!(rms > 0.01, "recording RMS {rms}");
    let (heard_audible, heard_len) = audible_seconds(&heard);
    println!(
        "prompt {prompt_len:.2} s ({prompt_audible:.2} s of sound); heard {heard_len:.2} s \
         ({heard_audible:.2} s of sound), RMS {rms:.3}"
    );
    assert!(
        heard_len >= prompt_len,
        "recording {heard_len:.2} s, prompt {prompt_len:.2} s"
    );
    assert!(
        (heard_audible - prompt_audible).abs() <= 0.4,
        "sound heard {heard_audible:.2} s, sound in the prompt {prompt_audible:.2} s"
    );
    // served from the cache the second time: the same file, no render
    let again = cache.speak(&text, "es", 160).await.unwrap();
    assert!(!again.rendered);
    assert_eq!(again.path, prompt.path);
    let _ = std::fs::remove_dir_all(scratch.path());
}
