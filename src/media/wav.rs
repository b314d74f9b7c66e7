//! RIFF/WAVE: the chunk walker (pure over any `Read + Seek`), sample decoding for PCM,
//! IEEE float, A-law and µ-law, the hand-off of WAV49 data to `gsm`, and the 8 kHz writer.
//!
//! Writing uses `hound`. Reading walks the chunks itself because `hound` rejects the format
//! tags Asterisk also writes (0x0031 GSM, 0x0006 A-law, 0x0007 µ-law) and because a recording
//! whose header was never finalised (data size 0 or 0xFFFFFFFF after a crash) or that was cut
//! short must still decode up to its last whole frame.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use super::{duration_of, gsm, read_up_to, AudioInfo, InputFormat, MediaError};

pub(crate) const TAG_PCM: u16 = 0x0001;
pub(crate) const TAG_FLOAT: u16 = 0x0003;
pub(crate) const TAG_ALAW: u16 = 0x0006;
pub(crate) const TAG_MULAW: u16 = 0x0007;
pub(crate) const TAG_GSM610: u16 = 0x0031;
const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// What the `fmt ` and `data` chunks say, with the data extent checked against the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WavHeader {
    /// Format tag, with WAVE_FORMAT_EXTENSIBLE resolved to its sub-format.
    pub format_tag: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub block_align: u16,
    pub bits_per_sample: u16,
    pub data_offset: u64,
    /// Bytes of sample data actually present (a too-large or unset declared size is clamped).
    pub data_len: u64,
}

fn corrupt(msg: impl Into<String>) -> MediaError {
    MediaError::Corrupt(msg.into())
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Walks the RIFF chunks from the start of `r` (of total length `file_len`) up to `data`.
pub(crate) fn parse_header<R: Read + Seek>(
    r: &mut R,
    file_len: u64,
) -> Result<WavHeader, MediaError> {
    r.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 12];
    if read_up_to(r, &mut head)? < 12 {
        return Err(corrupt("truncated RIFF header"));
    }
    match &head[..4] {
        b"RIFF" => {}
        b"RIFX" | b"RF64" => {
            return Err(MediaError::Unsupported(format!(
                "{} container",
                String::from_utf8_lossy(&head[..4])
            )))
        }
        _ => return Err(corrupt("not a RIFF file")),
    }
    if &head[8..12] != b"WAVE" {
        return Err(MediaError::Unsupported("RIFF file that is not WAVE".into()));
    }
    let mut pos = 12u64;
    let mut fmt: Option<Vec<u8>> = None;
    loop {
        let mut ch = [0u8; 8];
        r.seek(SeekFrom::Start(pos))?;
        if read_up_to(r, &mut ch)? < 8 {
            return Err(corrupt(if fmt.is_none() {
                "no fmt chunk"
            } else {
                "no data chunk"
            }));
        }
        let size = u64::from(u32_at(&ch, 4));
        let body = pos + 8;
        match &ch[..4] {
            b"fmt " => {
                if !(16..=1024).contains(&size) {
                    return Err(corrupt(format!("fmt chunk of {size} bytes")));
                }
                let mut b = vec![0u8; size as usize];
                if read_up_to(r, &mut b)? < b.len() {
                    return Err(corrupt("truncated fmt chunk"));
                }
                fmt = Some(b);
            }
            b"data" => {
                let fmt = fmt.ok_or_else(|| corrupt("data chunk before fmt chunk"))?;
                let present = file_len.saturating_sub(body);
                let data_len = if size == 0 || size == u64::from(u32::MAX) || size > present {
                    present
                } else {
                    size
                };
                return header_from_fmt(&fmt, body, data_len);
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        pos = body + size + (size & 1);
        if pos >= file_len {
            return Err(corrupt(if fmt.is_none() {
                "no fmt chunk"
            } else {
                "no data chunk"
            }));
        }
    }
}

fn header_from_fmt(fmt: &[u8], data_offset: u64, data_len: u64) -> Result<WavHeader, MediaError> {
    let mut format_tag = u16_at(fmt, 0);
    if format_tag == TAG_EXTENSIBLE {
        if fmt.len() < 40 {
            return Err(corrupt("WAVE_FORMAT_EXTENSIBLE without its sub-format"));
        }
        format_tag = u16_at(fmt, 24);
    }
    Ok(WavHeader {
        format_tag,
        channels: u16_at(fmt, 2),
        sample_rate: u32_at(fmt, 4),
        block_align: u16_at(fmt, 12),
        bits_per_sample: u16_at(fmt, 14),
        data_offset,
        data_len,
    })
}

impl WavHeader {
    /// Bytes per sample of one channel, for the sample formats decoded here.
    fn sample_bytes(&self) -> Result<usize, MediaError> {
        let ok = match (self.format_tag, self.bits_per_sample) {
            (TAG_PCM, 8 | 16 | 24 | 32) | (TAG_FLOAT, 32) | (TAG_ALAW | TAG_MULAW, 8) => true,
            (TAG_PCM | TAG_FLOAT | TAG_ALAW | TAG_MULAW, _) => false,
            (tag, _) => {
                return Err(MediaError::Unsupported(format!(
                    "WAV format tag 0x{tag:04x}"
                )))
            }
        };
        if !ok {
            return Err(MediaError::Unsupported(format!(
                "{}-bit samples with format tag 0x{:04x}",
                self.bits_per_sample, self.format_tag
            )));
        }
        Ok(usize::from(self.bits_per_sample / 8))
    }

    /// Checks the header and says what it holds.
    pub(crate) fn info(&self) -> Result<AudioInfo, MediaError> {
        if self.channels == 0 || self.channels > 8 {
            return Err(corrupt(format!("{} channels", self.channels)));
        }
        if self.sample_rate == 0 || self.sample_rate > 384_000 {
            return Err(corrupt(format!("sample rate {}", self.sample_rate)));
        }
        if self.format_tag == TAG_GSM610 {
            if self.channels != 1 {
                return Err(MediaError::Unsupported(
                    "GSM 06.10 WAV with more than one channel".into(),
                ));
            }
            if usize::from(self.block_align) != gsm::WAV49_BLOCK_BYTES {
                return Err(corrupt(format!("WAV49 block align {}", self.block_align)));
            }
            return Ok(AudioInfo {
                format: InputFormat::Wav49,
                sample_rate: self.sample_rate,
                channels: 1,
                duration: duration_of(self.wav49_samples(), self.sample_rate),
            });
        }
        let bytes = self.sample_bytes()?;
        if usize::from(self.block_align) != bytes * usize::from(self.channels) {
            return Err(corrupt(format!(
                "block align {} for {} channels of {} bits",
                self.block_align, self.channels, self.bits_per_sample
            )));
        }
        Ok(AudioInfo {
            format: InputFormat::Wav,
            sample_rate: self.sample_rate,
            channels: self.channels,
            duration: duration_of(
                self.data_len / u64::from(self.block_align),
                self.sample_rate,
            ),
        })
    }

    /// WAV49 samples: every whole 65-byte block. The `fact` chunk is not consulted: `sox` (our
    /// reference) writes the true count there but decodes whole blocks, and so do we, so that
    /// our PCM is identical to its; the difference is under 320 samples of encoder padding.
    pub(crate) fn wav49_samples(&self) -> u64 {
        self.data_len / gsm::WAV49_BLOCK_BYTES as u64 * gsm::WAV49_BLOCK_SAMPLES as u64
    }
}

/// Decodes the data chunk of `file` to mono i16 blocks of `block` samples.
pub(crate) fn decode(
    mut file: File,
    h: &WavHeader,
    block: usize,
    out: &mut dyn FnMut(&[i16]) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    h.info()?;
    file.seek(SeekFrom::Start(h.data_offset))?;
    let reader = BufReader::with_capacity(64 * 1024, file);
    if h.format_tag == TAG_GSM610 {
        let blocks = h.data_len / gsm::WAV49_BLOCK_BYTES as u64;
        return gsm::decode_wav49(reader, blocks, block, out);
    }
    let mut reader = reader.take(h.data_len);
    let bytes = h.sample_bytes()?;
    let channels = usize::from(h.channels);
    let frame = bytes * channels;
    let mut raw = vec![0u8; frame * block];
    let mut pcm = Vec::with_capacity(block);
    loop {
        let got = read_up_to(&mut reader, &mut raw)?;
        let whole = got / frame;
        if whole == 0 {
            return Ok(());
        }
        pcm.clear();
        for f in raw[..whole * frame].chunks_exact(frame) {
            let mut sum = 0i32;
            for s in f.chunks_exact(bytes) {
                sum += sample_to_i16(h.format_tag, s);
            }
            pcm.push((sum / channels as i32) as i16);
        }
        out(&pcm)?;
        if got < raw.len() {
            return Ok(());
        }
    }
}

/// One little-endian sample of `s.len()` bytes, scaled to the 16-bit range.
fn sample_to_i16(tag: u16, s: &[u8]) -> i32 {
    match (tag, s.len()) {
        (TAG_ALAW, _) => i32::from(alaw_to_linear(s[0])),
        (TAG_MULAW, _) => i32::from(ulaw_to_linear(s[0])),
        (TAG_FLOAT, _) => {
            let v = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            if v.is_nan() {
                0
            } else {
                (v * 32768.0).round().clamp(-32768.0, 32767.0) as i32
            }
        }
        (_, 1) => (i32::from(s[0]) - 128) << 8,
        (_, 2) => i32::from(i16::from_le_bytes([s[0], s[1]])),
        (_, 3) => i32::from(i16::from_le_bytes([s[1], s[2]])),
        _ => i32::from(i16::from_le_bytes([s[2], s[3]])),
    }
}

/// G.711 A-law to 16-bit linear (ITU-T G.711, as in Sun's reference `g711.c`).
pub(crate) fn alaw_to_linear(a: u8) -> i16 {
    let a = a ^ 0x55;
    let mut t = i32::from(a & 0x0f) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// G.711 µ-law to 16-bit linear.
pub(crate) fn ulaw_to_linear(u: u8) -> i16 {
    const BIAS: i32 = 0x84;
    let u = !u;
    let t = ((i32::from(u & 0x0f) << 3) + BIAS) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { BIAS - t } else { t - BIAS }) as i16
}

/// Writes RIFF WAV 8000 Hz 16-bit mono through `hound` (which fixes the sizes on `finish`).
pub(crate) struct Wav8kWriter<'a, W: Write + Seek> {
    inner: hound::WavWriter<&'a mut W>,
}

fn hound_err(e: hound::Error) -> MediaError {
    match e {
        hound::Error::IoError(e) => MediaError::Io(e),
        other => MediaError::Encoder(other.to_string()),
    }
}

impl<'a, W: Write + Seek> Wav8kWriter<'a, W> {
    pub(crate) fn new(sink: &'a mut W) -> Result<Self, MediaError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        Ok(Self {
            inner: hound::WavWriter::new(sink, spec).map_err(hound_err)?,
        })
    }

    pub(crate) fn write(&mut self, pcm: &[i16]) -> Result<(), MediaError> {
        let mut w = self.inner.get_i16_writer(pcm.len() as u32);
        for &s in pcm {
            w.write_sample(s);
        }
        w.flush().map_err(hound_err)
    }

    pub(crate) fn finish(self) -> Result<(), MediaError> {
        self.inner.finalize().map_err(hound_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// The `fmt ` fields a test file varies.
    #[derive(Clone, Copy)]
    struct Fmt {
        tag: u16,
        ch: u16,
        rate: u32,
        bits: u16,
        align: u16,
    }

    const fn fmt(tag: u16, ch: u16, rate: u32, bits: u16, align: u16) -> Fmt {
        Fmt {
            tag,
            ch,
            rate,
            bits,
            align,
        }
    }

    /// A WAV file: `fmt `, the `extra` chunks, then `data` (declared as `declared` if given).
    fn wav(f: Fmt, extra: &[(&[u8; 4], &[u8])], data: &[u8], declared: Option<u32>) -> Vec<u8> {
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&f.tag.to_le_bytes());
        fmt.extend_from_slice(&f.ch.to_le_bytes());
        fmt.extend_from_slice(&f.rate.to_le_bytes());
        fmt.extend_from_slice(&(f.rate * u32::from(f.align)).to_le_bytes());
        fmt.extend_from_slice(&f.align.to_le_bytes());
        fmt.extend_from_slice(&f.bits.to_le_bytes());
        let mut body = b"WAVE".to_vec();
        let mut chunk = |id: &[u8; 4], b: &[u8], size: u32| {
            body.extend_from_slice(id);
            body.extend_from_slice(&size.to_le_bytes());
            body.extend_from_slice(b);
            if b.len() % 2 == 1 {
                body.push(0);
            }
        };
        chunk(b"fmt ", &fmt, fmt.len() as u32);
        for (id, b) in extra {
            chunk(id, b, b.len() as u32);
        }
        chunk(b"data", data, declared.unwrap_or(data.len() as u32));
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn parse(bytes: &[u8]) -> Result<WavHeader, MediaError> {
        parse_header(&mut Cursor::new(bytes), bytes.len() as u64)
    }

    struct Case {
        fmt: Fmt,
        data_bytes: usize,
        extra: Vec<(&'static [u8; 4], &'static [u8])>,
        declared: Option<u32>,
        format: InputFormat,
        ms: u64,
    }

    fn case(fmt: Fmt, data_bytes: usize, format: InputFormat, ms: u64) -> Case {
        Case {
            fmt,
            data_bytes,
            extra: vec![],
            declared: None,
            format,
            ms,
        }
    }

    #[test]
    fn headers_and_durations() {
        use InputFormat::{Wav, Wav49};
        const LIST: &[u8] = b"INFOISFT\x04\0\0\0abc\0";
        let pcm8k = fmt(TAG_PCM, 1, 8000, 16, 2);
        let gsm = fmt(TAG_GSM610, 1, 8000, 0, 65);
        let cases = vec![
            case(pcm8k, 16_000, Wav, 1000),
            case(fmt(TAG_PCM, 2, 44_100, 16, 4), 44_100 * 2, Wav, 500),
            Case {
                extra: vec![(b"LIST", LIST)],
                ..case(fmt(TAG_PCM, 1, 11_025, 8, 1), 22_050, Wav, 2000)
            },
            case(fmt(TAG_PCM, 1, 22_050, 24, 3), 22_050 * 3, Wav, 1000),
            case(fmt(TAG_PCM, 1, 7_350, 16, 2), 7_350 * 2, Wav, 1000),
            case(fmt(TAG_FLOAT, 1, 48_000, 32, 4), 48_000, Wav, 250),
            case(fmt(TAG_ALAW, 1, 8000, 8, 1), 4000, Wav, 500),
            Case {
                extra: vec![(b"fact", &[0x40, 0x1f, 0, 0])],
                ..case(fmt(TAG_MULAW, 1, 8000, 8, 1), 4000, Wav, 500)
            },
            // Unset or too-large data size (recording never finalised): whatever is present.
            Case {
                declared: Some(0),
                ..case(pcm8k, 8000, Wav, 500)
            },
            Case {
                declared: Some(u32::MAX),
                ..case(pcm8k, 8000, Wav, 500)
            },
            Case {
                declared: Some(1_000_000),
                ..case(pcm8k, 8000, Wav, 500)
            },
            // WAV49: whole blocks, whatever `fact` says (as sox decodes).
            Case {
                extra: vec![(b"fact", &[0x58, 0x02, 0, 0])],
                ..case(gsm, 130, Wav49, 80)
            },
            Case {
                extra: vec![(b"fact", &[0x0f, 0x27, 0, 0])],
                ..case(gsm, 130, Wav49, 80)
            },
            case(gsm, 131, Wav49, 80),
        ];
        for (i, c) in cases.into_iter().enumerate() {
            let bytes = wav(c.fmt, &c.extra, &vec![0u8; c.data_bytes], c.declared);
            let h = parse(&bytes).unwrap_or_else(|e| panic!("case {i}: {e}"));
            let info = h.info().unwrap_or_else(|e| panic!("case {i}: {e}"));
            assert_eq!(info.format, c.format, "case {i}");
            assert_eq!(
                (info.sample_rate, info.channels),
                (c.fmt.rate, c.fmt.ch),
                "case {i}"
            );
            assert_eq!(
                info.duration,
                std::time::Duration::from_millis(c.ms),
                "case {i}"
            );
        }
    }

    #[test]
    fn extensible_resolves_to_sub_format() {
        let mut fmt = vec![0u8; 40];
        fmt[0..2].copy_from_slice(&TAG_EXTENSIBLE.to_le_bytes());
        fmt[2..4].copy_from_slice(&2u16.to_le_bytes());
        fmt[4..8].copy_from_slice(&16_000u32.to_le_bytes());
        fmt[12..14].copy_from_slice(&4u16.to_le_bytes());
        fmt[14..16].copy_from_slice(&16u16.to_le_bytes());
        fmt[24..26].copy_from_slice(&TAG_PCM.to_le_bytes());
        let h = header_from_fmt(&fmt, 0, 64_000).unwrap();
        assert_eq!(h.format_tag, TAG_PCM);
        assert_eq!(
            h.info().unwrap().duration,
            std::time::Duration::from_secs(1)
        );
        assert!(header_from_fmt(&fmt[..20], 0, 0).is_err());
    }

    #[test]
    fn bad_headers_are_errors() {
        let good = wav(fmt(TAG_PCM, 1, 8000, 16, 2), &[], &[0; 16], None);
        // Every prefix of a valid file is an error or a shorter valid file, never a panic.
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]).and_then(|h| h.info());
        }
        assert!(parse(&good[..40]).is_err(), "no data chunk");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"RIFX\0\0\0\0WAVE".to_vec(), "big-endian"),
            (b"RIFF\0\0\0\0AVI ".to_vec(), "not WAVE"),
            (
                wav(fmt(0x0055, 1, 8000, 16, 2), &[], &[0; 4], None),
                "MP3-in-WAV tag",
            ),
            (
                wav(fmt(TAG_PCM, 0, 8000, 16, 2), &[], &[0; 4], None),
                "zero channels",
            ),
            (
                wav(fmt(TAG_PCM, 1, 0, 16, 2), &[], &[0; 4], None),
                "zero rate",
            ),
            (
                wav(fmt(TAG_PCM, 1, 8000, 12, 2), &[], &[0; 4], None),
                "12-bit",
            ),
            (
                wav(fmt(TAG_PCM, 2, 8000, 16, 2), &[], &[0; 4], None),
                "block align",
            ),
            (
                wav(fmt(TAG_GSM610, 2, 8000, 0, 65), &[], &[0; 4], None),
                "stereo GSM",
            ),
            (
                wav(fmt(TAG_GSM610, 1, 8000, 0, 33), &[], &[0; 4], None),
                "GSM align",
            ),
        ];
        for (bytes, what) in cases {
            assert!(parse(&bytes).and_then(|h| h.info()).is_err(), "{what}");
        }
    }

    #[test]
    fn g711_reference_values() {
        for (a, lin) in [
            (0xD5u8, 8i16),
            (0x55, -8),
            (0xAA, 32256),
            (0x2A, -32256),
            (0x80, 5504),
        ] {
            assert_eq!(alaw_to_linear(a), lin, "A-law {a:#x}");
        }
        for (u, lin) in [
            (0xFFu8, 0i16),
            (0x7F, 0),
            (0x80, 32124),
            (0x00, -32124),
            (0xF0, 120),
        ] {
            assert_eq!(ulaw_to_linear(u), lin, "µ-law {u:#x}");
        }
    }

    #[test]
    fn sample_scaling() {
        for (tag, bytes, v) in [
            (TAG_PCM, vec![0x80u8], 0),
            (TAG_PCM, vec![0xFF], 127 << 8),
            (TAG_PCM, vec![0x00], -128 << 8),
            (TAG_PCM, vec![0x34, 0x12], 0x1234),
            (TAG_PCM, vec![0x56, 0x34, 0x12], 0x1234),
            (TAG_PCM, vec![0x78, 0x56, 0x34, 0x12], 0x1234),
            (TAG_FLOAT, 0.5f32.to_le_bytes().to_vec(), 16384),
            (TAG_FLOAT, 2.0f32.to_le_bytes().to_vec(), 32767),
            (TAG_FLOAT, f32::NAN.to_le_bytes().to_vec(), 0),
        ] {
            assert_eq!(sample_to_i16(tag, &bytes), v, "{tag} {bytes:?}");
        }
    }
}
