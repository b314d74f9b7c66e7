//! Ogg Vorbis encoding through `vorbis_rs`: maintained high-level bindings that vendor libogg
//! and the aoTuV-tuned libvorbis (no system library needed). Mono, quality-based VBR at
//! quality 0.3 (about 16 kbps at 8 kHz), fed in blocks of at most 4096 samples as libvorbis
//! recommends.

use std::io::Write;
use std::num::{NonZeroU32, NonZeroU8};

use vorbis_rs::{VorbisBitrateManagementStrategy, VorbisEncoder, VorbisEncoderBuilder};

use super::MediaError;

const QUALITY: f32 = 0.3;
const BLOCK: usize = 4096;

pub(crate) struct OggWriter<W: Write> {
    encoder: VorbisEncoder<W>,
    buf: Vec<f32>,
}

fn enc_err(e: vorbis_rs::VorbisError) -> MediaError {
    MediaError::Encoder(format!("Vorbis: {e}"))
}

/// A stream serial that differs between files, without a random-number dependency.
fn serial() -> i32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    (nanos ^ std::process::id().rotate_left(16)) as i32
}

impl<W: Write> OggWriter<W> {
    pub(crate) fn new(rate: u32, sink: W) -> Result<Self, MediaError> {
        let rate =
            NonZeroU32::new(rate).ok_or_else(|| MediaError::Unsupported("sample rate 0".into()))?;
        let mut builder =
            VorbisEncoderBuilder::new_with_serial(rate, NonZeroU8::MIN, sink, serial());
        builder.bitrate_management_strategy(VorbisBitrateManagementStrategy::QualityVbr {
            target_quality: QUALITY,
        });
        let encoder = builder.build().map_err(enc_err)?;
        Ok(Self {
            encoder,
            buf: Vec::with_capacity(BLOCK),
        })
    }

    pub(crate) fn write(&mut self, pcm: &[i16]) -> Result<(), MediaError> {
        for chunk in pcm.chunks(BLOCK) {
            self.buf.clear();
            self.buf
                .extend(chunk.iter().map(|&s| f32::from(s) / 32768.0));
            self.encoder
                .encode_audio_block([&self.buf])
                .map_err(enc_err)?;
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<(), MediaError> {
        let mut sink = self.encoder.finish().map_err(enc_err)?;
        sink.flush()?;
        Ok(())
    }
}
