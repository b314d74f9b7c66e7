//! The text-to-speech engine of the composition root: the prompt cache over `espeak-ng`, as
//! `[tts]` configures it.

use std::sync::Arc;
use std::time::Duration;

use crate::config::TtsConfig;
use crate::core::tts::{PromptCache, TtsError};
use crate::tts_espeak::EspeakNg;

/// The prompt cache over `espeak-ng` (fails when the program cannot be run).
pub fn prompt_cache(config: &TtsConfig) -> Result<PromptCache, TtsError> {
    let engine = EspeakNg::detect(&config.program, Duration::from_millis(config.timeout_ms))?;
    Ok(PromptCache::new(Arc::new(engine), config.cache_settings()))
}
