//! Text to speech: prompts rendered once per (engine, voice, rate, text) into a cache of files
//! Asterisk plays directly.
//!
//! - [`Speech`] is the port: an engine that renders cleaned text with a voice and a rate into a
//!   file (8 kHz mono 16-bit WAV). The adapter over `espeak-ng` is `crate::tts_espeak`.
//! - [`Voice`], [`SpeechRate`] and [`PromptText`] bound and validate everything before any work:
//!   a voice is one of the engine's names (`es`, `pt-br`, `en-us`, … or the aliases `pt-BR`,
//!   `en`), a rate is 80–450 words per minute, a text is at most [`MAX_TEXT_CHARS`] characters
//!   with control characters removed and white space collapsed.
//! - [`PromptCache`] keys each prompt by a hash of the four ([`prompt_key`]); the first request
//!   renders into a temporary file beside the cache entry and renames it into place, so a
//!   reader (Asterisk) never sees half a file; concurrent first requests for one key wait for the
//!   one render; the cache keeps at most `max_entries` files (the oldest are removed first).
//! - The play URI (`sound:<asterisk_dir>/<key>`) is built from the key only: the text never
//!   reaches the dialplan or ARI.
//!
//! First-play latency (`cargo bench --bench tts`, this machine, 2 shared cores): a prompt's first
//! play waits for its render, with `espeak-ng` a median of 64-91 ms for a short prompt (35
//! characters, es and pt-BR) and 220-310 ms for a long one (390 characters); every later play is
//! a cached lookup of 11-52 µs, 1 700 to 12 000 times faster. A flow that renders its prompts when
//! it is saved (or on its first call) keeps callers from waiting for the render.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use blake2::{Blake2s256, Digest};

use super::BoxFuture;

/// The longest prompt text accepted, in characters (after cleaning).
pub const MAX_TEXT_CHARS: usize = 2000;

/// Errors of text to speech. Messages name the input's problem, never the engine's internals.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("invalid voice")]
    InvalidVoice,
    #[error("invalid rate: {0} words per minute is outside 80-450")]
    InvalidRate(u32),
    #[error("empty text")]
    EmptyText,
    #[error("text longer than {MAX_TEXT_CHARS} characters")]
    TextTooLong,
    #[error("speech engine unavailable: {0}")]
    Unavailable(String),
    #[error("speech engine timed out")]
    Timeout,
    #[error("speech engine failed: {0}")]
    Engine(String),
    #[error("prompt cache I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// A voice of the engine, validated: lower-case `[a-z0-9-+]`, starting with a letter, 1-32
/// characters. `pt-BR` → `pt-br`, `en` → `en-us`, `es-419` is Latin American Spanish.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Voice(String);

impl Voice {
    pub fn parse(s: &str) -> Result<Self, TtsError> {
        let lower = s.to_ascii_lowercase();
        let name = match lower.as_str() {
            "en" => "en-us".to_string(),
            "pt" => "pt-br".to_string(),
            "es-es" => "es".to_string(),
            "es-ar" | "es-mx" | "es-uy" => "es-419".to_string(),
            _ => lower,
        };
        let ok = !name.is_empty()
            && name.len() <= 32
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'+');
        if ok {
            Ok(Voice(name))
        } else {
            Err(TtsError::InvalidVoice)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Words per minute, 80-450 (espeak-ng's default is 175).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpeechRate(u32);

impl SpeechRate {
    pub const DEFAULT: SpeechRate = SpeechRate(160);

    pub fn new(wpm: u32) -> Result<Self, TtsError> {
        if (80..=450).contains(&wpm) {
            Ok(SpeechRate(wpm))
        } else {
            Err(TtsError::InvalidRate(wpm))
        }
    }

    pub fn wpm(self) -> u32 {
        self.0
    }
}

impl Default for SpeechRate {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Prompt text, cleaned: control characters (and Unicode format characters such as bidi
/// overrides) dropped, every run of white space one space, trimmed; 1 to [`MAX_TEXT_CHARS`]
/// characters. Input longer than four times the bound is refused before it is scanned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PromptText(String);

impl PromptText {
    pub fn parse(s: &str) -> Result<Self, TtsError> {
        if s.len() > MAX_TEXT_CHARS * 4 {
            return Err(TtsError::TextTooLong);
        }
        let mut out = String::with_capacity(s.len());
        let mut space = false;
        let mut chars = 0usize;
        for c in s.chars() {
            if c.is_whitespace() {
                space = !out.is_empty();
                continue;
            }
            if c.is_control() || is_format_char(c) {
                continue;
            }
            if space {
                out.push(' ');
                chars += 1;
                space = false;
            }
            out.push(c);
            chars += 1;
            if chars > MAX_TEXT_CHARS {
                return Err(TtsError::TextTooLong);
            }
        }
        if out.is_empty() {
            Err(TtsError::EmptyText)
        } else {
            Ok(PromptText(out))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_format_char(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The port: a speech engine.
pub trait Speech: Send + Sync {
    /// The engine's name and version as part of the cache key (a new engine renders anew).
    fn engine(&self) -> &str;
    /// Renders `text` into `dst` as an 8 kHz mono 16-bit WAV. `dst` is a temporary path the
    /// cache renames into place afterwards.
    fn render<'a>(
        &'a self,
        text: &'a PromptText,
        voice: &'a Voice,
        rate: SpeechRate,
        dst: &'a Path,
    ) -> BoxFuture<'a, Result<(), TtsError>>;
}

/// The cache key of a prompt: `tts-` and 32 hex digits of BLAKE2s over the length-prefixed
/// engine, voice, rate and text. Stable across releases (a test pins it).
pub fn prompt_key(engine: &str, voice: &Voice, rate: SpeechRate, text: &PromptText) -> String {
    let mut h = Blake2s256::new();
    for part in [
        engine.as_bytes(),
        voice.as_str().as_bytes(),
        rate.wpm().to_string().as_bytes(),
        text.as_str().as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let digest = h.finalize();
    let mut key = String::with_capacity(36);
    key.push_str("tts-");
    for b in &digest[..16] {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// A rendered prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// The cache key.
    pub key: String,
    /// The file, as the engine sees it.
    pub path: PathBuf,
    /// What Asterisk plays: `sound:<asterisk_dir>/<key>` (no extension).
    pub uri: String,
    /// Whether this request rendered it (false: served from the cache).
    pub rendered: bool,
}

/// Where the cache lives and how large it may grow.
#[derive(Clone, Debug)]
pub struct PromptCacheSettings {
    /// The directory as the engine sees it.
    pub dir: PathBuf,
    /// The same directory as Asterisk sees it (differs when Asterisk runs in a chroot or
    /// another host mounts it).
    pub asterisk_dir: PathBuf,
    /// At most this many prompts are kept; the oldest are removed first.
    pub max_entries: usize,
}

/// The prompt cache over a [`Speech`] engine.
pub struct PromptCache {
    speech: Arc<dyn Speech>,
    settings: PromptCacheSettings,
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl PromptCache {
    pub fn new(speech: Arc<dyn Speech>, settings: PromptCacheSettings) -> Self {
        PromptCache {
            speech,
            settings,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &PromptCacheSettings {
        &self.settings
    }

    /// The prompt for raw input: validated, then [`PromptCache::prompt`].
    pub async fn speak(&self, text: &str, voice: &str, rate: u32) -> Result<Prompt, TtsError> {
        let text = PromptText::parse(text)?;
        let voice = Voice::parse(voice)?;
        let rate = SpeechRate::new(rate)?;
        self.prompt(&text, &voice, rate).await
    }

    /// The prompt, rendered on the first request for its key and served from the cache after.
    pub async fn prompt(
        &self,
        text: &PromptText,
        voice: &Voice,
        rate: SpeechRate,
    ) -> Result<Prompt, TtsError> {
        let key = prompt_key(self.speech.engine(), voice, rate, text);
        let path = self.settings.dir.join(format!("{key}.wav"));
        let uri = format!("sound:{}", self.settings.asterisk_dir.join(&key).display());
        let found = |rendered| Prompt {
            key: key.clone(),
            path: path.clone(),
            uri: uri.clone(),
            rendered,
        };
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(found(false));
        }
        let gate = {
            let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let result = async {
            let _one = gate.lock().await;
            if tokio::fs::try_exists(&path).await.unwrap_or(false) {
                return Ok(found(false));
            }
            tokio::fs::create_dir_all(&self.settings.dir).await?;
            let tmp =
                self.settings
                    .dir
                    .join(format!(".{key}.{}-{}.tmp", std::process::id(), next_tmp()));
            let rendered = self.speech.render(text, voice, rate, &tmp).await;
            if let Err(e) = rendered {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
            tokio::fs::rename(&tmp, &path).await?;
            self.prune().await;
            Ok(found(true))
        }
        .await;
        let mut map = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if Arc::strong_count(&gate) <= 2 {
            map.remove(&key);
        }
        result
    }

    /// Removes the oldest prompts beyond `max_entries` (and stale temporaries).
    async fn prune(&self) {
        let dir = self.settings.dir.clone();
        let max = self.settings.max_entries;
        let _ = tokio::task::spawn_blocking(move || prune_dir(&dir, max)).await;
    }
}

fn next_tmp() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn prune_dir(dir: &Path, max: usize) -> std::io::Result<()> {
    let mut entries = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        let meta = e.metadata()?;
        let modified = meta.modified()?;
        if name.starts_with(".tts-") && name.ends_with(".tmp") {
            // a temporary older than a minute belongs to a render that died
            if modified
                .elapsed()
                .map(|d| d.as_secs() > 60)
                .unwrap_or(false)
            {
                let _ = std::fs::remove_file(e.path());
            }
            continue;
        }
        if name.starts_with("tts-") && name.ends_with(".wav") {
            entries.push((modified, e.path()));
        }
    }
    if entries.len() > max {
        entries.sort();
        let excess = entries.len() - max;
        for (_, p) in entries.into_iter().take(excess) {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
