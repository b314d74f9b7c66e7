//! The [`Speech`] adapter over `espeak-ng` (Debian's `espeak-ng`: Spanish `es`/`es-419`,
//! Brazilian and European Portuguese `pt-br`/`pt`, English `en-us`/`en-gb`, and the other
//! voices of `espeak-ng --voices`).
//!
//! The engine runs as a child process with arguments only (never a shell): the voice and the
//! rate are validated newtypes, the text goes on its standard input (`--stdin`, plain text: no
//! SSML), its 22.05 kHz WAV goes to a temporary file that [`crate::media::transcode`] brings to
//! 8 kHz mono 16-bit WAV, the format Asterisk plays without transcoding. A render that outlives
//! the timeout is killed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::core::tts::{PromptText, Speech, SpeechRate, TtsError, Voice};
use crate::core::BoxFuture;
use crate::media::{transcode, OutputFormat};

/// `espeak-ng` as a [`Speech`] engine.
pub struct EspeakNg {
    program: PathBuf,
    timeout: Duration,
    engine: String,
}

impl EspeakNg {
    /// Finds the program (`espeak-ng` on the PATH, or a path) and its version (part of every
    /// cache key, so an upgrade renders anew).
    pub fn detect(program: &Path, timeout: Duration) -> Result<Self, TtsError> {
        let out = std::process::Command::new(program)
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| TtsError::Unavailable(format!("{}: {e}", program.display())))?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "eSpeak NG text-to-speech: 1.51  Data at: ..."
        let version = text
            .split_whitespace()
            .skip_while(|w| *w != "text-to-speech:")
            .nth(1)
            .unwrap_or("unknown")
            .to_string();
        if !out.status.success() {
            return Err(TtsError::Unavailable(format!(
                "{} --version failed",
                program.display()
            )));
        }
        Ok(EspeakNg {
            program: program.to_path_buf(),
            timeout,
            engine: format!("espeak-ng {version}"),
        })
    }

    async fn run(
        &self,
        text: &PromptText,
        voice: &Voice,
        rate: SpeechRate,
        raw: &Path,
    ) -> Result<(), TtsError> {
        let mut child = tokio::process::Command::new(&self.program)
            .arg("-v")
            .arg(voice.as_str())
            .arg("-s")
            .arg(rate.wpm().to_string())
            .arg("-w")
            .arg(raw)
            .arg("--stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TtsError::Unavailable(e.to_string()))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let body = text.as_str().as_bytes().to_vec();
        let work = async move {
            stdin.write_all(&body).await?;
            stdin.shutdown().await?;
            drop(stdin);
            child.wait_with_output().await
        };
        let out = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| TtsError::Timeout)?
            .map_err(|e| TtsError::Engine(e.to_string()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || stderr.contains("does not exist") {
            if stderr.contains("does not exist") {
                return Err(TtsError::InvalidVoice);
            }
            return Err(TtsError::Engine(format!("exit status {}", out.status)));
        }
        Ok(())
    }
}

impl Speech for EspeakNg {
    fn engine(&self) -> &str {
        &self.engine
    }

    fn render<'a>(
        &'a self,
        text: &'a PromptText,
        voice: &'a Voice,
        rate: SpeechRate,
        dst: &'a Path,
    ) -> BoxFuture<'a, Result<(), TtsError>> {
        Box::pin(async move {
            let mut raw = dst.as_os_str().to_owned();
            raw.push(".22k.wav");
            let raw = PathBuf::from(raw);
            let result = async {
                self.run(text, voice, rate, &raw).await?;
                let (src, out) = (raw.clone(), dst.to_path_buf());
                tokio::task::spawn_blocking(move || transcode(&src, &out, OutputFormat::Wav8k))
                    .await
                    .map_err(|e| TtsError::Engine(e.to_string()))?
                    .map_err(|e| TtsError::Engine(e.to_string()))?;
                Ok(())
            }
            .await;
            let _ = tokio::fs::remove_file(&raw).await;
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tts::{PromptCache, PromptCacheSettings};
    use std::sync::Arc;

    fn espeak() -> EspeakNg {
        EspeakNg::detect(Path::new("espeak-ng"), Duration::from_secs(20))
            .expect("espeak-ng is installed by scripts/common.sh")
    }

    fn probe(path: &Path) -> crate::media::AudioInfo {
        crate::media::probe(path).expect("a WAV file")
    }

    #[tokio::test]
    async fn renders_spanish_and_portuguese_as_8k_mono_wav_of_plausible_length() {
        let dir = std::env::temp_dir().join(format!("centralita-tts-{}", std::process::id()));
        let cache = PromptCache::new(
            Arc::new(espeak()),
            PromptCacheSettings {
                dir: dir.clone(),
                asterisk_dir: PathBuf::from("/var/lib/asterisk/sounds/tts"),
                max_entries: 10,
            },
        );
        let es = "Bienvenido a la central. Para ventas marque uno, para soporte marque dos.";
        let pt = "Bem-vindo. Para vendas, digite um; para suporte, digite dois.";
        for (text, voice) in [(es, "es"), (pt, "pt-BR")] {
            let p = cache.speak(text, voice, 160).await.expect("rendered");
            assert!(p.rendered);
            assert!(p.uri.starts_with("sound:/var/lib/asterisk/sounds/tts/tts-"));
            assert!(!p.uri.ends_with(".wav"));
            let info = probe(&p.path);
            assert_eq!(info.sample_rate, 8000);
            assert_eq!(info.channels, 1);
            // about 12 words at 160 words per minute: several seconds, not a blip, not minutes
            let secs = info.duration.as_secs_f64();
            assert!((2.0..12.0).contains(&secs), "{voice}: {secs} s");
            // sox agrees it is speech, not silence
            let out = std::process::Command::new("sox")
                .arg(&p.path)
                .args(["-n", "stat"])
                .output()
                .expect("sox");
            let stat = String::from_utf8_lossy(&out.stderr);
            let rms: f64 = stat
                .lines()
                .find(|l| l.starts_with("RMS     amplitude"))
                .and_then(|l| l.split(':').nth(1))
                .and_then(|v| v.trim().parse().ok())
                .expect("sox stat RMS");
            assert!(rms > 0.02, "{voice}: RMS {rms}");
        }
        let again = cache.speak(es, "es", 160).await.unwrap();
        assert!(!again.rendered);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn an_unknown_voice_is_an_error_not_a_file() {
        let dir = std::env::temp_dir().join(format!("centralita-tts-bad-{}", std::process::id()));
        let e = espeak();
        let text = PromptText::parse("hola").unwrap();
        let voice = Voice::parse("zz-nonexistent").unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let dst = dir.join("x.wav");
        let r = e.render(&text, &voice, SpeechRate::DEFAULT, &dst).await;
        assert!(r.is_err(), "{r:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
