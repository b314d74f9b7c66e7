//! MP3 encoding with LAME, through `mp3lame-encoder` (its `mp3lame-sys` builds the vendored
//! LAME source, so no system library is needed; the wrapper is small and exposes the LAME tag).
//!
//! Mono CBR: 24 kbps at 8–12 kHz (MPEG-2.5), 32 kbps at 16–24 kHz (MPEG-2), 64 kbps above
//! (MPEG-1). A LAME (Xing) tag is written back over LAME's placeholder first frame when the
//! stream is complete, as the `lame` command does, so decoders know the exact length and trim
//! the encoder delay and padding.

use std::io::{Seek, SeekFrom, Write};

use mp3lame_encoder::{Bitrate, Builder, Encoder, FlushGap, Mode, MonoPcm, Quality};

use super::MediaError;

pub(crate) struct Mp3Writer {
    encoder: Encoder,
    buf: Vec<u8>,
}

fn enc_err(what: &str, e: impl std::fmt::Debug) -> MediaError {
    MediaError::Encoder(format!("LAME {what}: {e:?}"))
}

/// The bitrate used for a mono stream at `rate` Hz.
pub(crate) fn bitrate_for(rate: u32) -> Bitrate {
    match rate {
        0..=12_000 => Bitrate::Kbps24,
        12_001..=24_000 => Bitrate::Kbps32,
        _ => Bitrate::Kbps64,
    }
}

impl Mp3Writer {
    pub(crate) fn new(rate: u32) -> Result<Self, MediaError> {
        let mut b = Builder::new().ok_or_else(|| MediaError::Encoder("lame_init failed".into()))?;
        b.set_num_channels(1).map_err(|e| enc_err("channels", e))?;
        b.set_sample_rate(rate)
            .map_err(|e| enc_err("sample rate", e))?;
        b.set_brate(bitrate_for(rate))
            .map_err(|e| enc_err("bitrate", e))?;
        b.set_mode(Mode::Mono).map_err(|e| enc_err("mode", e))?;
        b.set_quality(Quality::Good)
            .map_err(|e| enc_err("quality", e))?;
        b.set_to_write_vbr_tag(true)
            .map_err(|e| enc_err("tag", e))?;
        let encoder = b.build().map_err(|e| enc_err("init", e))?;
        Ok(Self {
            encoder,
            buf: Vec::new(),
        })
    }

    pub(crate) fn write<W: Write>(&mut self, pcm: &[i16], sink: &mut W) -> Result<(), MediaError> {
        self.buf.clear();
        self.buf
            .reserve(mp3lame_encoder::max_required_buffer_size(pcm.len()));
        self.encoder
            .encode_to_vec(MonoPcm(pcm), &mut self.buf)
            .map_err(|e| enc_err("encode", e))?;
        sink.write_all(&self.buf)?;
        Ok(())
    }

    pub(crate) fn finish<W: Write + Seek>(mut self, sink: &mut W) -> Result<(), MediaError> {
        self.buf.clear();
        self.buf
            .reserve(mp3lame_encoder::max_required_buffer_size(0));
        self.encoder
            .flush_to_vec::<FlushGap>(&mut self.buf)
            .map_err(|e| enc_err("flush", e))?;
        sink.write_all(&self.buf)?;
        let size = self.encoder.lame_tag_size();
        if size > 0 {
            self.buf.clear();
            self.buf.reserve(size);
            if self.encoder.lame_tag_encode_to_vec(&mut self.buf).is_some() {
                sink.seek(SeekFrom::Start(0))?;
                sink.write_all(&self.buf)?;
                sink.seek(SeekFrom::End(0))?;
            }
        }
        sink.flush()?;
        Ok(())
    }
}
