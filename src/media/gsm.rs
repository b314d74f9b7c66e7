//! GSM 06.10 full-rate decoding and encoding through Debian's `libgsm` (package `libgsm1-dev`,
//! header `/usr/include/gsm.h`), the library `sox` itself links: decoding through it gives PCM
//! identical to `sox`'s. The FFI is the five functions we need, written by hand; `GsmDecoder`
//! and `GsmWriter` own their state and free it on drop. The writer produces headerless `.gsm`
//! (33-byte frames of 160 samples at 8 kHz), the last frame padded with silence.
//!
//! Two framings: headerless `.gsm` files are 33-byte frames of 160 samples; WAV49 (Microsoft
//! GSM inside RIFF, format tag 0x0031) packs two frames into 65 bytes, decoded with
//! `GSM_OPT_WAV49` as one 33-byte and one 32-byte half, the way `sox` does.

use std::io::Read;
use std::os::raw::c_int;
use std::ptr::NonNull;

use super::{read_up_to, MediaError};

pub(crate) const GSM_FRAME_BYTES: usize = 33;
pub(crate) const GSM_FRAME_SAMPLES: usize = 160;
pub(crate) const GSM_RATE: u32 = 8000;
pub(crate) const WAV49_BLOCK_BYTES: usize = 65;
pub(crate) const WAV49_BLOCK_SAMPLES: usize = 2 * GSM_FRAME_SAMPLES;

const GSM_OPT_WAV49: c_int = 4;

#[repr(C)]
struct GsmState {
    _private: [u8; 0],
}

#[link(name = "gsm")]
extern "C" {
    fn gsm_create() -> *mut GsmState;
    fn gsm_destroy(g: *mut GsmState);
    fn gsm_option(g: *mut GsmState, opt: c_int, val: *mut c_int) -> c_int;
    fn gsm_decode(g: *mut GsmState, frame: *mut u8, out: *mut i16) -> c_int;
    fn gsm_encode(g: *mut GsmState, src: *mut i16, frame: *mut u8);
}

/// A headerless `.gsm` encoder of 8 kHz mono PCM, writing whole frames to `sink`.
pub(crate) struct GsmWriter<W: std::io::Write> {
    state: NonNull<GsmState>,
    pending: Vec<i16>,
    sink: W,
}

impl<W: std::io::Write> GsmWriter<W> {
    /// An encoder writing to `sink`.
    pub(crate) fn new(sink: W) -> Result<Self, MediaError> {
        // SAFETY: gsm_create has no preconditions; it returns NULL on allocation failure.
        let state = NonNull::new(unsafe { gsm_create() })
            .ok_or_else(|| MediaError::Encoder("gsm_create failed".into()))?;
        Ok(Self {
            state,
            pending: Vec::with_capacity(GSM_FRAME_SAMPLES),
            sink,
        })
    }

    fn frame(&mut self, pcm: &[i16; GSM_FRAME_SAMPLES]) -> Result<(), MediaError> {
        let mut samples = *pcm;
        let mut out = [0u8; GSM_FRAME_BYTES];
        // SAFETY: state is live; libgsm reads exactly 160 samples from `samples` and writes
        // exactly 33 bytes to `out`.
        unsafe { gsm_encode(self.state.as_ptr(), samples.as_mut_ptr(), out.as_mut_ptr()) };
        self.sink.write_all(&out)?;
        Ok(())
    }

    /// Encodes `pcm` (8 kHz mono), keeping a partial frame for the next call.
    pub(crate) fn write(&mut self, pcm: &[i16]) -> Result<(), MediaError> {
        let mut rest = pcm;
        if !self.pending.is_empty() {
            let take = (GSM_FRAME_SAMPLES - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() < GSM_FRAME_SAMPLES {
                return Ok(());
            }
            let frame: [i16; GSM_FRAME_SAMPLES] =
                self.pending[..].try_into().expect("one whole frame");
            self.pending.clear();
            self.frame(&frame)?;
        }
        let mut chunks = rest.chunks_exact(GSM_FRAME_SAMPLES);
        for chunk in &mut chunks {
            self.frame(chunk.try_into().expect("160 samples"))?;
        }
        self.pending.extend_from_slice(chunks.remainder());
        Ok(())
    }

    /// Writes the last partial frame, padded with silence, and flushes.
    pub(crate) fn finish(mut self) -> Result<(), MediaError> {
        if !self.pending.is_empty() {
            let mut frame = [0i16; GSM_FRAME_SAMPLES];
            frame[..self.pending.len()].copy_from_slice(&self.pending);
            self.pending.clear();
            self.frame(&frame)?;
        }
        self.sink.flush()?;
        Ok(())
    }
}

impl<W: std::io::Write> Drop for GsmWriter<W> {
    fn drop(&mut self) {
        // SAFETY: state came from gsm_create and is destroyed once.
        unsafe { gsm_destroy(self.state.as_ptr()) }
    }
}

/// One libgsm decoder state.
pub(crate) struct GsmDecoder {
    state: NonNull<GsmState>,
}

impl GsmDecoder {
    /// A decoder for plain 33-byte frames, or for WAV49 if `wav49`.
    pub(crate) fn new(wav49: bool) -> Result<Self, MediaError> {
        // SAFETY: gsm_create has no preconditions; it returns NULL on allocation failure.
        let state = NonNull::new(unsafe { gsm_create() })
            .ok_or_else(|| MediaError::Encoder("gsm_create failed".into()))?;
        let dec = Self { state };
        if wav49 {
            let mut one: c_int = 1;
            // SAFETY: state is live; gsm_option reads `*val` when val is non-null.
            unsafe { gsm_option(dec.state.as_ptr(), GSM_OPT_WAV49, &mut one) };
        }
        Ok(dec)
    }

    /// Decodes one frame. libgsm reads 33 bytes (32 for the second half of a WAV49 block, in
    /// which case the caller pads) and writes exactly 160 samples.
    pub(crate) fn decode(
        &mut self,
        frame: &[u8; GSM_FRAME_BYTES],
        out: &mut [i16; GSM_FRAME_SAMPLES],
    ) -> Result<(), MediaError> {
        let mut copy = *frame;
        // SAFETY: state is live; `copy` holds the 33 bytes libgsm may read and `out` the 160
        // samples it writes.
        let rc = unsafe { gsm_decode(self.state.as_ptr(), copy.as_mut_ptr(), out.as_mut_ptr()) };
        if rc < 0 {
            return Err(MediaError::Corrupt(
                "invalid GSM 06.10 frame (bad magic)".into(),
            ));
        }
        Ok(())
    }
}

impl Drop for GsmDecoder {
    fn drop(&mut self) {
        // SAFETY: state came from gsm_create and is destroyed once.
        unsafe { gsm_destroy(self.state.as_ptr()) }
    }
}

/// Emits `pcm` in blocks of `block` samples, keeping the remainder.
struct Blocker<'a> {
    pcm: Vec<i16>,
    block: usize,
    out: &'a mut dyn FnMut(&[i16]) -> Result<(), MediaError>,
}

impl Blocker<'_> {
    fn push(&mut self, s: &[i16]) -> Result<(), MediaError> {
        self.pcm.extend_from_slice(s);
        if self.pcm.len() >= self.block {
            (self.out)(&self.pcm)?;
            self.pcm.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), MediaError> {
        if !self.pcm.is_empty() {
            (self.out)(&self.pcm)?;
            self.pcm.clear();
        }
        Ok(())
    }
}

/// Decodes `frames` 33-byte frames of a headerless `.gsm` file (a trailing partial frame is
/// ignored, as `sox` does).
pub(crate) fn decode_raw(
    file: impl Read,
    frames: u64,
    block: usize,
    out: &mut dyn FnMut(&[i16]) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    let mut dec = GsmDecoder::new(false)?;
    let block = block.max(GSM_FRAME_SAMPLES) / GSM_FRAME_SAMPLES * GSM_FRAME_SAMPLES;
    let mut blocker = Blocker {
        pcm: Vec::with_capacity(block),
        block,
        out,
    };
    let mut frame = [0u8; GSM_FRAME_BYTES];
    let mut pcm = [0i16; GSM_FRAME_SAMPLES];
    for _ in 0..frames {
        if read_up_to(&mut reader, &mut frame)? < GSM_FRAME_BYTES {
            break;
        }
        dec.decode(&frame, &mut pcm)?;
        blocker.push(&pcm)?;
    }
    blocker.finish()
}

/// Decodes `blocks` 65-byte WAV49 blocks (a trailing partial block is ignored).
pub(crate) fn decode_wav49(
    mut reader: impl Read,
    blocks: u64,
    block: usize,
    out: &mut dyn FnMut(&[i16]) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let mut dec = GsmDecoder::new(true)?;
    let block = block.max(WAV49_BLOCK_SAMPLES) / WAV49_BLOCK_SAMPLES * WAV49_BLOCK_SAMPLES;
    let mut blocker = Blocker {
        pcm: Vec::with_capacity(block),
        block,
        out,
    };
    let mut raw = [0u8; WAV49_BLOCK_BYTES];
    let mut first = [0u8; GSM_FRAME_BYTES];
    let mut second = [0u8; GSM_FRAME_BYTES];
    let mut pcm = [0i16; WAV49_BLOCK_SAMPLES];
    for _ in 0..blocks {
        if read_up_to(&mut reader, &mut raw)? < WAV49_BLOCK_BYTES {
            break;
        }
        first.copy_from_slice(&raw[..GSM_FRAME_BYTES]);
        second[..WAV49_BLOCK_BYTES - GSM_FRAME_BYTES].copy_from_slice(&raw[GSM_FRAME_BYTES..]);
        let (a, b) = pcm.split_at_mut(GSM_FRAME_SAMPLES);
        dec.decode(&first, a.try_into().expect("160 samples"))?;
        dec.decode(&second, b.try_into().expect("160 samples"))?;
        blocker.push(&pcm)?;
    }
    blocker.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(
        f: impl FnOnce(&mut dyn FnMut(&[i16]) -> Result<(), MediaError>) -> Result<(), MediaError>,
    ) -> Result<(Vec<usize>, usize), MediaError> {
        let mut sizes = Vec::new();
        let mut total = 0;
        f(&mut |pcm| {
            sizes.push(pcm.len());
            total += pcm.len();
            Ok(())
        })?;
        Ok((sizes, total))
    }

    /// A valid plain frame: magic nibble 0xD, everything else zero.
    fn silent_frame() -> [u8; 33] {
        let mut f = [0u8; 33];
        f[0] = 0xD0;
        f
    }

    #[test]
    fn frame_geometry() {
        assert_eq!(GSM_FRAME_BYTES * 2 - 1, WAV49_BLOCK_BYTES);
        assert_eq!(WAV49_BLOCK_SAMPLES, 320);
        // (frames in the file, trailing junk bytes, block) → (blocks emitted, samples)
        for (frames, junk, block, sizes) in [
            (0usize, 0usize, 8000usize, vec![]),
            (1, 0, 8000, vec![160]),
            (50, 0, 8000, vec![8000]),
            (51, 32, 8000, vec![8000, 160]),
            (3, 5, 100, vec![160, 160, 160]),
        ] {
            let mut bytes: Vec<u8> = (0..frames).flat_map(|_| silent_frame()).collect();
            bytes.extend(std::iter::repeat_n(0xD0, junk));
            let n = (bytes.len() / GSM_FRAME_BYTES) as u64;
            let (got, total) = collect(|out| decode_raw(&bytes[..], n, block, out)).unwrap();
            assert_eq!(got, sizes, "{frames} frames");
            assert_eq!(total, frames * 160);
        }
    }

    #[test]
    fn bad_magic_is_corrupt() {
        let bytes = [0u8; 33];
        let r = collect(|out| decode_raw(&bytes[..], 1, 8000, out));
        assert!(matches!(r, Err(MediaError::Corrupt(_))), "{r:?}");
    }

    #[test]
    fn encoded_frames_decode_back_to_the_tone() {
        let tone: Vec<i16> = (0..8000)
            .map(|i| {
                ((f64::from(i) * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0) as i16
            })
            .collect();
        let mut bytes = Vec::new();
        let mut w = GsmWriter::new(&mut bytes).unwrap();
        // Odd block sizes: frames straddle the calls.
        for chunk in tone.chunks(333) {
            w.write(chunk).unwrap();
        }
        w.finish().unwrap();
        // 8000 samples: 50 whole frames exactly.
        assert_eq!(bytes.len(), 50 * GSM_FRAME_BYTES);
        let mut decoded = Vec::new();
        decode_raw(&bytes[..], 50, 8000, &mut |pcm| {
            decoded.extend_from_slice(pcm);
            Ok(())
        })
        .unwrap();
        assert_eq!(decoded.len(), 8000);
        let rms = |s: &[i16]| {
            (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
        };
        let (a, b) = (rms(&tone[800..]), rms(&decoded[800..]));
        assert!((b / a - 1.0).abs() < 0.35, "rms {a} vs {b}");
        // A partial frame is padded to a whole one.
        let mut bytes = Vec::new();
        let mut w = GsmWriter::new(&mut bytes).unwrap();
        w.write(&tone[..161]).unwrap();
        w.finish().unwrap();
        assert_eq!(bytes.len(), 2 * GSM_FRAME_BYTES);
    }

    #[test]
    fn wav49_decodes_whole_blocks_only() {
        let bytes = vec![0u8; WAV49_BLOCK_BYTES * 3 + 10];
        for (blocks, total) in [(3u64, 960usize), (0, 0), (1, 320), (5, 960)] {
            let (_, got) = collect(|out| decode_wav49(&bytes[..], blocks, 8000, out)).unwrap();
            assert_eq!(got, total, "{blocks} blocks");
        }
    }
}
