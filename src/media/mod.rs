//! Media: decoding and encoding of call recordings, in process, with no audio device.
//!
//! What Asterisk writes (RIFF WAV: PCM, A-law, µ-law, and WAV49 = Microsoft GSM 06.10) and the
//! legacy headerless GSM 06.10 `.gsm` files are decoded to mono 16-bit PCM at the file's own
//! rate ([`decode_to_pcm`]), then encoded to MP3, Ogg Vorbis, WAV 8 kHz 16-bit mono or
//! headerless GSM 06.10 ([`transcode`]). Everything streams in blocks of at most one second of audio, so memory does
//! not grow with the length of a recording; the output is written to a temporary file beside
//! the destination and renamed into place, so a reader never sees half a file.
//!
//! Submodules, one per codec, each a thin layer over a library:
//! - `wav`: RIFF chunk parsing (pure), PCM reading with `hound`, G.711 A-law/µ-law tables,
//!   the 8 kHz WAV writer (`hound`).
//! - `gsm`: a hand-written FFI to Debian's `libgsm` (`libgsm1-dev`), the same library `sox`
//!   links, so our PCM is sample-identical to `sox`'s decode; both `.gsm` (33-byte frames) and
//!   WAV49 (65-byte blocks of two frames, `GSM_OPT_WAV49`); and the `.gsm` encoder.
//! - `mp3`: LAME through `mp3lame-encoder` (its `-sys` crate builds the vendored LAME source
//!   with `cc`, so no system LAME is needed; it exposes the LAME tag, which we write back so
//!   that decoders trim encoder delay and padding).
//! - `ogg`: Vorbis through `vorbis_rs` (maintained; vendors libogg and aoTuV libvorbis, so no
//!   system library is needed).
//! - `resample`: windowed-sinc (Kaiser) polyphase resampler with a proper low-pass, used to
//!   bring 11.025/16/44.1/48 kHz inputs to 8 kHz for [`OutputFormat::Wav8k`].
//!
//! Architecture Invariant: this module imports nothing from `core`, `asterisk`, `store` or the
//! facades; it knows files and samples only.

mod gsm;
mod mp3;
mod ogg;
mod resample;
mod wav;

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use resample::Resampler;

/// What a source file holds, as far as decoding is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// RIFF WAV with PCM (8/16/24/32-bit integer, 32-bit float), A-law or µ-law samples.
    Wav,
    /// Headerless GSM 06.10: 33-byte frames of 160 samples at 8 kHz.
    Gsm,
    /// RIFF WAV with format tag 0x0031 (Microsoft GSM 06.10, "WAV49"): 65-byte blocks.
    Wav49,
}

/// What [`transcode`] can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// MPEG-1/2/2.5 Layer III, mono, CBR (24 kbps at 8 kHz), with a LAME tag.
    Mp3,
    /// Ogg Vorbis, mono, quality-based VBR.
    Ogg,
    /// RIFF WAV, 8000 Hz, 16-bit signed PCM, mono.
    Wav8k,
    /// Headerless GSM 06.10 (`.gsm`), 8000 Hz mono: 33-byte frames of 160 samples.
    Gsm,
}

impl OutputFormat {
    /// All output formats, for iteration (benchmarks, tests).
    pub const ALL: [OutputFormat; 3] = [OutputFormat::Mp3, OutputFormat::Ogg, OutputFormat::Wav8k];

    /// File extension without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            OutputFormat::Mp3 => "mp3",
            OutputFormat::Ogg => "ogg",
            OutputFormat::Wav8k => "wav",
            OutputFormat::Gsm => "gsm",
        }
    }

    /// MIME type to serve the file with.
    pub fn mime(&self) -> &'static str {
        match self {
            OutputFormat::Mp3 => "audio/mpeg",
            OutputFormat::Ogg => "audio/ogg",
            OutputFormat::Wav8k => "audio/wav",
            OutputFormat::Gsm => "audio/x-gsm",
        }
    }

    /// Parses `"mp3"`, `"ogg"` or `"wav"`, case-insensitively (GSM is produced on request only,
    /// never chosen by name).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("mp3") {
            Some(OutputFormat::Mp3)
        } else if s.eq_ignore_ascii_case("ogg") {
            Some(OutputFormat::Ogg)
        } else if s.eq_ignore_ascii_case("wav") {
            Some(OutputFormat::Wav8k)
        } else {
            None
        }
    }
}

/// What [`probe`] learns from a file without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    pub format: InputFormat,
    pub sample_rate: u32,
    pub channels: u16,
    pub duration: Duration,
}

/// Outcome of one [`transcode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscodeStats {
    pub input: AudioInfo,
    pub output_bytes: u64,
    pub elapsed: Duration,
}

/// Errors of the media layer. Corrupt or truncated input is an error, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported audio: {0}")]
    Unsupported(String),
    #[error("corrupt audio: {0}")]
    Corrupt(String),
    #[error("encoder: {0}")]
    Encoder(String),
}

/// Identifies the file by content: a RIFF/WAVE header (format tag 0x0031 is WAV49), or, for a
/// file without one whose name ends in `.gsm`, headerless GSM 06.10.
pub fn probe(path: &Path) -> Result<AudioInfo, MediaError> {
    Ok(open(path)?.info)
}

/// Decodes `src` to mono 16-bit PCM at the file's own sample rate (stereo is averaged), calling
/// `out` with blocks of at most one second. Returns what [`probe`] returns.
pub fn decode_to_pcm(
    src: &Path,
    out: &mut dyn FnMut(&[i16]) -> Result<(), MediaError>,
) -> Result<AudioInfo, MediaError> {
    let opened = open(src)?;
    let info = opened.info;
    decode_opened(opened, out)?;
    Ok(info)
}

/// Decodes `src` and encodes it to `dst` in format `to`, streaming. `dst` is written through a
/// temporary file in the same directory and renamed into place only when complete.
pub fn transcode(src: &Path, dst: &Path, to: OutputFormat) -> Result<TranscodeStats, MediaError> {
    let started = Instant::now();
    let opened = open(src)?;
    let info = opened.info;
    let tmp = temp_path(dst);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut writer = BufWriter::with_capacity(64 * 1024, file);
        encode(opened, to, &mut writer)?;
        let file = writer
            .into_inner()
            .map_err(|e| MediaError::Io(e.into_error()))?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        drop(file);
        std::fs::rename(&tmp, dst)?;
        Ok::<u64, MediaError>(bytes)
    })();
    match result {
        Ok(output_bytes) => Ok(TranscodeStats {
            input: info,
            output_bytes,
            elapsed: started.elapsed(),
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A source file, probed and positioned for decoding.
struct Opened {
    info: AudioInfo,
    kind: SourceKind,
    file: File,
}

enum SourceKind {
    Wav(wav::WavHeader),
    Gsm { frames: u64 },
}

fn open(path: &Path) -> Result<Opened, MediaError> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut magic = [0u8; 12];
    let got = read_up_to(&mut file, &mut magic)?;
    file.rewind()?;
    if got >= 4 && (&magic[..4] == b"RIFF" || &magic[..4] == b"RIFX" || &magic[..4] == b"RF64") {
        let header = wav::parse_header(&mut file, file_len)?;
        let info = header.info()?;
        return Ok(Opened {
            info,
            kind: SourceKind::Wav(header),
            file,
        });
    }
    let is_gsm_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gsm"));
    if is_gsm_name {
        let frames = file_len / gsm::GSM_FRAME_BYTES as u64;
        let samples = frames * gsm::GSM_FRAME_SAMPLES as u64;
        return Ok(Opened {
            info: AudioInfo {
                format: InputFormat::Gsm,
                sample_rate: gsm::GSM_RATE,
                channels: 1,
                duration: duration_of(samples, gsm::GSM_RATE),
            },
            kind: SourceKind::Gsm { frames },
            file,
        });
    }
    if got < 12 {
        return Err(MediaError::Corrupt(format!(
            "{}: too short for an audio header ({file_len} bytes)",
            path.display()
        )));
    }
    Err(MediaError::Unsupported(format!(
        "{}: neither RIFF/WAVE nor a .gsm file",
        path.display()
    )))
}

fn decode_opened(
    opened: Opened,
    out: &mut dyn FnMut(&[i16]) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let Opened { info, kind, file } = opened;
    let block = block_len(info.sample_rate);
    match kind {
        SourceKind::Wav(header) => wav::decode(file, &header, block, out),
        SourceKind::Gsm { frames } => gsm::decode_raw(file, frames, block, out),
    }
}

/// Samples per decoded block: one second, bounded so odd rates cannot ask for huge buffers.
fn block_len(rate: u32) -> usize {
    (rate as usize).clamp(160, 48_000)
}

/// Decodes `opened` (at `rate` Hz) into `out` at 8 kHz, resampling when needed.
fn decode_at_8k(
    opened: Opened,
    rate: u32,
    out: &mut dyn FnMut(&[i16]) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let mut resampler = (rate != 8000).then(|| Resampler::new(rate, 8000));
    let mut buf = Vec::new();
    decode_opened(opened, &mut |pcm| match resampler.as_mut() {
        Some(r) => {
            buf.clear();
            r.process(pcm, &mut buf);
            out(&buf)
        }
        None => out(pcm),
    })?;
    if let Some(r) = resampler.as_mut() {
        buf.clear();
        r.finish(&mut buf);
        out(&buf)?;
    }
    Ok(())
}

fn encode<W: Write + Seek>(
    opened: Opened,
    to: OutputFormat,
    sink: &mut W,
) -> Result<(), MediaError> {
    let rate = opened.info.sample_rate;
    match to {
        OutputFormat::Wav8k => {
            let mut writer = wav::Wav8kWriter::new(sink)?;
            decode_at_8k(opened, rate, &mut |pcm| writer.write(pcm))?;
            writer.finish()
        }
        OutputFormat::Gsm => {
            let mut writer = gsm::GsmWriter::new(&mut *sink)?;
            decode_at_8k(opened, rate, &mut |pcm| writer.write(pcm))?;
            writer.finish()
        }
        OutputFormat::Mp3 => {
            let mut writer = mp3::Mp3Writer::new(rate)?;
            decode_opened(opened, &mut |pcm| writer.write(pcm, sink))?;
            writer.finish(sink)
        }
        OutputFormat::Ogg => {
            let mut writer = ogg::OggWriter::new(rate, &mut *sink)?;
            decode_opened(opened, &mut |pcm| writer.write(pcm))?;
            writer.finish()
        }
    }
}

fn temp_path(dst: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = dst
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_owned());
    dst.with_file_name(format!(".{name}.{}.{n}.part", std::process::id()))
}

fn read_up_to(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

pub(crate) fn duration_of(samples: u64, rate: u32) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    let nanos = u128::from(samples) * 1_000_000_000 / u128::from(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_format_names() {
        for (s, f, ext, mime) in [
            ("mp3", Some(OutputFormat::Mp3), "mp3", "audio/mpeg"),
            ("OGG", Some(OutputFormat::Ogg), "ogg", "audio/ogg"),
            ("Wav", Some(OutputFormat::Wav8k), "wav", "audio/wav"),
        ] {
            let parsed = OutputFormat::parse(s);
            assert_eq!(parsed, f, "{s}");
            let f = parsed.unwrap();
            assert_eq!(f.extension(), ext);
            assert_eq!(f.mime(), mime);
            assert_eq!(OutputFormat::parse(f.extension()), Some(f));
        }
        for bad in ["", "flac", "mp", "wav8k", "opus"] {
            assert_eq!(OutputFormat::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration_of(8000, 8000), Duration::from_secs(1));
        assert_eq!(duration_of(4, 8000), Duration::from_micros(500));
        assert_eq!(duration_of(1, 0), Duration::ZERO);
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("centralita-media-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn junk_and_truncated_inputs_are_errors_not_panics() {
        let dir = tmpdir("junk");
        let mut riff = b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0".to_vec();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty.wav", vec![]),
            ("short.wav", b"RIFF".to_vec()),
            ("text.wav", b"hello, this is not audio at all".to_vec()),
            ("trunc_fmt.wav", riff.clone()),
            ("nodata.wav", {
                riff.extend_from_slice(&[
                    1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0,
                ]);
                riff.clone()
            }),
            ("junk.bin", vec![0u8; 100]),
        ];
        for (name, bytes) in cases {
            let p = dir.join(name);
            std::fs::write(&p, &bytes).unwrap();
            assert!(probe(&p).is_err(), "{name} probed");
            assert!(
                decode_to_pcm(&p, &mut |_| Ok(())).is_err(),
                "{name} decoded"
            );
            let dst = dir.join(format!("{name}.mp3"));
            assert!(
                transcode(&p, &dst, OutputFormat::Mp3).is_err(),
                "{name} transcoded"
            );
            assert!(!dst.exists(), "{name}: no output after a failure");
        }
        // No temp files left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_gsm_is_zero_length_and_corrupt_gsm_is_an_error() {
        let dir = tmpdir("gsm");
        let empty = dir.join("empty.gsm");
        std::fs::write(&empty, b"").unwrap();
        let info = probe(&empty).unwrap();
        assert_eq!(
            (info.format, info.duration),
            (InputFormat::Gsm, Duration::ZERO)
        );
        // A frame whose magic nibble is not 0xD is rejected by libgsm.
        let bad = dir.join("bad.gsm");
        std::fs::write(&bad, [0u8; 66]).unwrap();
        assert!(matches!(
            decode_to_pcm(&bad, &mut |_| Ok(())),
            Err(MediaError::Corrupt(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn in_process_round_trip_to_every_format() {
        let dir = tmpdir("roundtrip");
        // 44.1 kHz stereo 16-bit, 2.5 s: a sweep-like tone on the left, silence on the right.
        let src = dir.join("in.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&src, spec).unwrap();
        let n = 44_100 * 5 / 2;
        for i in 0..n {
            let t = i as f64 / 44_100.0;
            let v = (0.4 * 32767.0 * (2.0 * std::f64::consts::PI * (300.0 + 200.0 * t) * t).sin())
                as i16;
            w.write_sample(v).unwrap();
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        let info = probe(&src).unwrap();
        assert_eq!(
            (info.format, info.sample_rate, info.channels),
            (InputFormat::Wav, 44_100, 2)
        );
        assert_eq!(info.duration, Duration::from_millis(2500));
        let mut total = 0usize;
        decode_to_pcm(&src, &mut |pcm| {
            assert!(pcm.len() <= 44_100);
            total += pcm.len();
            Ok(())
        })
        .unwrap();
        assert_eq!(total, n);
        for to in OutputFormat::ALL {
            let dst = dir.join(format!("out.{}", to.extension()));
            let stats = transcode(&src, &dst, to).unwrap();
            assert_eq!(stats.output_bytes, std::fs::metadata(&dst).unwrap().len());
            assert!(stats.output_bytes > 1000, "{to:?}");
        }
        let wav = probe(&dir.join("out.wav")).unwrap();
        assert_eq!((wav.sample_rate, wav.channels), (8000, 1));
        assert_eq!(wav.duration, Duration::from_millis(2500));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
