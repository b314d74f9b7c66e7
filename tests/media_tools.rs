//! The media layer checked by the reference command-line tools: every MP3 we write decodes with
//! `lame --decode`, every Ogg passes `ogginfo`, every WAV is 8 kHz 16-bit mono (per `soxi`), and
//! GSM / WAV49 decode to PCM identical to `sox`'s own decode, and the GSM we write is read by `sox`.
//!
//! Fixtures are made at test time with `sox` in a temporary directory. The tools (Debian
//! packages `sox`, `lame`, `vorbis-tools`) are required: a missing tool fails the test with the
//! package to install, it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use centralita::media::{self, InputFormat, OutputFormat};

fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed; these tests need it: apt-get install {package}"
    );
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

struct Fixtures {
    dir: PathBuf,
}

impl Fixtures {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Inputs, made once: 5.01 s of speech-like 8 kHz audio (a 300–3000 Hz sweep modulated by pink
/// noise; 5.01 s is not a whole number of GSM frames), a 3 s 44.1 kHz stereo WAV, and the
/// speech-like audio as `.gsm` and as WAV49, both written by sox.
fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        require("sox", "sox");
        require("soxi", "sox");
        require("lame", "lame");
        require("ogginfo", "vorbis-tools");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("media_tools");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = Fixtures { dir };
        run(Command::new("sox")
            .args(["-n", "-r", "8000", "-c", "1", "-b", "16"])
            .arg(f.path("speech.wav"))
            .args([
                "synth",
                "5.01",
                "sine",
                "300-3000",
                "pinknoise",
                "amod",
                "0.3",
                "vol",
                "0.4",
            ]));
        run(Command::new("sox")
            .args(["-n", "-r", "44100", "-c", "2", "-b", "16"])
            .arg(f.path("stereo44k.wav"))
            .args([
                "synth",
                "3",
                "sine",
                "440",
                "sine",
                "1000-5000",
                "vol",
                "0.5",
            ]));
        run(Command::new("sox")
            .arg(f.path("speech.wav"))
            .arg(f.path("speech.gsm")));
        run(Command::new("sox")
            .arg(f.path("speech.wav"))
            .args(["-e", "gsm-full-rate"])
            .arg(f.path("speech49.wav")));
        f
    })
}

/// Every input fixture with the format our probe must report.
fn inputs() -> Vec<(PathBuf, InputFormat)> {
    let f = fixtures();
    vec![
        (f.path("speech.wav"), InputFormat::Wav),
        (f.path("stereo44k.wav"), InputFormat::Wav),
        (f.path("speech.gsm"), InputFormat::Gsm),
        (f.path("speech49.wav"), InputFormat::Wav49),
    ]
}

fn stem(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().replace('.', "_")
}

fn out_path(src: &Path, to: OutputFormat) -> PathBuf {
    fixtures().path(&format!("out_{}.{}", stem(src), to.extension()))
}

fn soxi(flag: &str, p: &Path) -> String {
    String::from_utf8(run(Command::new("soxi").arg(flag).arg(p)).stdout)
        .unwrap()
        .trim()
        .to_owned()
}

fn decode_all(p: &Path) -> Vec<i16> {
    let mut pcm = Vec::new();
    media::decode_to_pcm(p, &mut |b| {
        pcm.extend_from_slice(b);
        Ok(())
    })
    .unwrap();
    pcm
}

fn sox_decode(p: &Path) -> Vec<i16> {
    let out = run(Command::new("sox")
        .arg(p)
        .args(["-t", "raw", "-e", "signed", "-b", "16", "-L", "-"]));
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn close(a: Duration, b: Duration, tol: Duration) -> bool {
    a.abs_diff(b) <= tol
}

#[test]
fn probe_identifies_every_fixture() {
    for (p, format) in inputs() {
        let info = media::probe(&p).unwrap();
        assert_eq!(info.format, format, "{}", p.display());
        // soxi cannot tell a headerless .gsm file's length: count what sox decodes instead.
        let sox_secs: f64 = if format == InputFormat::Gsm {
            sox_decode(&p).len() as f64 / 8000.0
        } else {
            soxi("-D", &p).parse().unwrap()
        };
        assert!(
            close(
                info.duration,
                Duration::from_secs_f64(sox_secs),
                Duration::from_millis(1)
            ),
            "{}: ours {:?}, soxi {sox_secs}",
            p.display(),
            info.duration
        );
    }
}

#[test]
fn gsm_decodes_identically_to_sox() {
    let p = fixtures().path("speech.gsm");
    let ours = decode_all(&p);
    let theirs = sox_decode(&p);
    assert_eq!(ours.len(), theirs.len(), "sample count");
    assert!(ours == theirs, "PCM differs from sox's decode");
    assert!(ours.iter().any(|&s| s != 0), "decoded silence");
}

#[test]
fn wav49_decodes_identically_to_sox() {
    let p = fixtures().path("speech49.wav");
    let ours = decode_all(&p);
    let theirs = sox_decode(&p);
    assert_eq!(ours.len(), theirs.len(), "sample count");
    assert!(ours == theirs, "PCM differs from sox's decode");
    assert!(ours.iter().any(|&s| s != 0), "decoded silence");
}

#[test]
fn pcm_wav_decodes_identically_to_sox() {
    let p = fixtures().path("speech.wav");
    assert_eq!(decode_all(&p), sox_decode(&p));
}

#[test]
fn mp3_decodes_with_lame_and_keeps_its_length() {
    for (src, _) in inputs() {
        let dst = out_path(&src, OutputFormat::Mp3);
        let stats = media::transcode(&src, &dst, OutputFormat::Mp3).unwrap();
        assert_eq!(stats.output_bytes, std::fs::metadata(&dst).unwrap().len());
        let decoded = dst.with_extension("lame.wav");
        run(Command::new("lame")
            .arg("--quiet")
            .arg("--decode")
            .arg(&dst)
            .arg(&decoded));
        let info = media::probe(&decoded).unwrap();
        eprintln!(
            "{}: mp3 {:?}, source {:?}",
            src.display(),
            info.duration,
            stats.input.duration
        );
        assert!(
            close(
                info.duration,
                stats.input.duration,
                Duration::from_millis(100)
            ),
            "{}: mp3 decodes to {:?}, source is {:?}",
            src.display(),
            info.duration,
            stats.input.duration
        );
    }
}

#[test]
fn ogg_passes_ogginfo() {
    for (src, _) in inputs() {
        let dst = out_path(&src, OutputFormat::Ogg);
        let stats = media::transcode(&src, &dst, OutputFormat::Ogg).unwrap();
        let out = run(Command::new("ogginfo").arg(&dst));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Vorbis"), "{}: {text}", dst.display());
        assert!(!text.contains("WARNING"), "{}: {text}", dst.display());
        let secs: f64 = soxi("-D", &dst).parse().unwrap();
        eprintln!(
            "{}: ogg {secs} s, source {:?}",
            src.display(),
            stats.input.duration
        );
        assert!(
            close(
                Duration::from_secs_f64(secs),
                stats.input.duration,
                Duration::from_millis(100)
            ),
            "{}: ogg lasts {secs} s, source {:?}",
            src.display(),
            stats.input.duration
        );
    }
}

#[test]
fn wav8k_is_8khz_16bit_mono_with_the_same_duration() {
    for (src, _) in inputs() {
        let dst = out_path(&src, OutputFormat::Wav8k);
        let stats = media::transcode(&src, &dst, OutputFormat::Wav8k).unwrap();
        assert_eq!(soxi("-r", &dst), "8000");
        assert_eq!(soxi("-b", &dst), "16");
        assert_eq!(soxi("-c", &dst), "1");
        assert_eq!(soxi("-e", &dst), "Signed Integer PCM");
        let samples: u64 = soxi("-s", &dst).parse().unwrap();
        let expected = (stats.input.duration.as_nanos() * 8000).div_ceil(1_000_000_000) as u64;
        assert_eq!(samples, expected, "{}", src.display());
    }
    // 8 kHz mono input passes through unchanged; GSM output is its decode.
    for name in ["speech.wav", "speech.gsm", "speech49.wav"] {
        let src = fixtures().path(name);
        let dst = out_path(&src, OutputFormat::Wav8k);
        media::transcode(&src, &dst, OutputFormat::Wav8k).unwrap();
        assert_eq!(sox_decode(&dst), sox_decode(&src), "{name}");
    }
}

#[test]
fn stereo_44k_to_8k_keeps_the_voice_band_and_drops_the_rest() {
    // Left: 440 Hz; right: a 1–5 kHz sweep. After mixdown and low-pass, sox's own
    // `stat` of the result must show energy (the 440 Hz and the in-band sweep) and a clean
    // header; the sample-exact content is our resampler's, tested in its unit tests.
    let src = fixtures().path("stereo44k.wav");
    let dst = fixtures().path("stereo44k_check.wav");
    media::transcode(&src, &dst, OutputFormat::Wav8k).unwrap();
    let pcm = sox_decode(&dst);
    assert_eq!(pcm.len(), 24_000);
    let rms = (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt();
    assert!(rms > 3000.0, "rms {rms}");
}

#[test]
fn failed_transcode_leaves_no_file() {
    let f = fixtures();
    let bad = f.path("broken.wav");
    std::fs::write(&bad, b"RIFF\x10\0\0\0WAVEjunkjunkjunk").unwrap();
    for to in OutputFormat::ALL {
        let dst = f.path(&format!("broken_out.{}", to.extension()));
        assert!(media::transcode(&bad, &dst, to).is_err());
        assert!(!dst.exists());
    }
    // A destination in a missing directory is an I/O error, not a panic.
    let src = f.path("speech.wav");
    let err = media::transcode(&src, &f.path("no/such/dir/x.mp3"), OutputFormat::Mp3).unwrap_err();
    assert!(matches!(err, media::MediaError::Io(_)), "{err:?}");
}

#[test]
fn gsm_we_write_is_read_by_sox() {
    // uContact's `records/<guid>.gsm`: headless GSM 06.10 frames at 8 kHz, from 8 kHz speech
    // and from 44.1 kHz stereo (resampled).
    let f = fixtures();
    for (name, secs) in [("speech.wav", 5.01), ("stereo44k.wav", 3.0)] {
        let dst = f.path(&format!("{name}.out.gsm"));
        media::transcode(&f.path(name), &dst, OutputFormat::Gsm).unwrap();
        let len = std::fs::metadata(&dst).unwrap().len();
        assert_eq!(len % 33, 0, "{name}: whole frames");
        assert_eq!(soxi("-r", &dst), "8000", "{name}");
        let out = run(Command::new("sox").arg(&dst).args(["-n", "stat"]));
        let stat = String::from_utf8_lossy(&out.stderr);
        let value = |label: &str| -> f64 {
            stat.lines()
                .find(|l| l.starts_with(label))
                .and_then(|l| l.split_whitespace().last())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("sox stat {label}: {stat}"))
        };
        // Whole frames: up to one frame (20 ms) of padding.
        let got = value("Length (seconds)");
        assert!(got >= secs - 0.001 && got < secs + 0.021, "{name}: {got} s");
        let rms = value("RMS     amplitude");
        assert!(rms > 0.01, "{name}: not silent ({rms})");
    }
}
