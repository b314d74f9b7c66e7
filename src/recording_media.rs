//! [`MediaCodecs`]: the core's [`RecordingMedia`] port over the in-process codecs of
//! [`crate::media`] (probe, transcode). The only place that converts between the two layers'
//! format types, so `core` never imports `media` and `media` never imports `core`.

use std::path::Path;

use crate::core::recordings::{
    MediaFailure, ProbedAudio, RecordingFormat, RecordingMedia, ServeFormat,
};
use crate::media::{self, InputFormat, MediaError, OutputFormat};

/// The in-process codecs.
#[derive(Clone, Copy, Debug, Default)]
pub struct MediaCodecs;

fn failure(e: MediaError) -> MediaFailure {
    match e {
        MediaError::Unsupported(what) => MediaFailure::Unsupported(what),
        MediaError::Corrupt(what) => MediaFailure::Corrupt(what),
        other => MediaFailure::Other(other.to_string()),
    }
}

impl RecordingMedia for MediaCodecs {
    fn probe(&self, path: &Path) -> Result<ProbedAudio, MediaFailure> {
        let is_mp3 = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("mp3"));
        match media::probe(path) {
            Ok(info) => Ok(ProbedAudio {
                format: match info.format {
                    InputFormat::Wav => RecordingFormat::Wav,
                    InputFormat::Gsm => RecordingFormat::Gsm,
                    InputFormat::Wav49 => RecordingFormat::Wav49,
                },
                duration: info.duration,
            }),
            // The codecs do not decode MP3: such a file is served as is.
            Err(_) if is_mp3 => Err(MediaFailure::Unsupported("MP3 input".into())),
            Err(e) => Err(failure(e)),
        }
    }

    fn transcode(&self, src: &Path, dst: &Path, to: ServeFormat) -> Result<(), MediaFailure> {
        if src
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("mp3"))
        {
            return Err(MediaFailure::Unsupported(format!(
                "an MP3 recording is served only as MP3, not {}",
                to.extension()
            )));
        }
        let to = match to {
            ServeFormat::Mp3 => OutputFormat::Mp3,
            ServeFormat::Ogg => OutputFormat::Ogg,
            ServeFormat::Wav8k => OutputFormat::Wav8k,
            ServeFormat::Gsm => OutputFormat::Gsm,
        };
        media::transcode(src, dst, to).map(drop).map_err(failure)
    }
}
