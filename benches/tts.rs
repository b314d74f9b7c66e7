//! Text to speech: a prompt's first render (espeak-ng child process, 22.05 kHz → 8 kHz WAV,
//! atomic rename into the cache) against a cached lookup of the same prompt, for a short and a
//! long prompt in Spanish and Brazilian Portuguese, through `centralita::core::tts::PromptCache`
//! over `centralita::tts_espeak::EspeakNg`. Requires Debian's `espeak-ng`.
//!
//! The first render is what a prompt's first play adds before Asterisk can start it; a cached
//! lookup is what every later play adds. Figures: median of `TTS_RENDERS` distinct texts
//! (default 10) for the first render, median of `TTS_LOOKUPS` lookups (default 2000) for the
//! cache, and their ratio.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use centralita::core::tts::{PromptCache, PromptCacheSettings};
use centralita::tts_espeak::EspeakNg;

const SHORT_ES: &str = "Bienvenido. Para ventas, marque uno.";
const SHORT_PT: &str = "Bem-vindo. Para vendas, digite um.";
const LONG_ES: &str = "Gracias por llamar a nuestra central de atención. Su llamada es muy \
importante para nosotros. Para ventas y nuevos servicios, marque uno. Para soporte técnico, \
marque dos. Para consultas sobre su factura, pagos y cobranzas, marque tres. Para hablar con \
un operador, marque cero o permanezca en línea. Le recordamos que esta llamada puede ser \
grabada para mejorar la calidad de nuestro servicio.";
const LONG_PT: &str = "Obrigado por ligar para a nossa central de atendimento. Sua ligação é \
muito importante para nós. Para vendas e novos serviços, digite um. Para suporte técnico, \
digite dois. Para dúvidas sobre sua fatura, pagamentos e cobranças, digite três. Para falar com \
um atendente, digite zero ou aguarde na linha. Lembramos que esta ligação pode ser gravada \
para melhorar a qualidade do nosso serviço.";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let renders = support::env_num("TTS_RENDERS", 10) as usize;
    let lookups = support::env_num("TTS_LOOKUPS", 2000) as usize;
    let dir = support::target_dir().join("bench").join("tts-cache");
    let _ = std::fs::remove_dir_all(&dir);
    let engine = EspeakNg::detect(Path::new("espeak-ng"), Duration::from_secs(30))
        .expect("espeak-ng (Debian package espeak-ng) is required");
    let cache = Arc::new(PromptCache::new(
        Arc::new(engine),
        PromptCacheSettings {
            dir: dir.clone(),
            asterisk_dir: dir.clone(),
            max_entries: 100_000,
        },
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{:<10} {:>6} {:>8} {:>16} {:>16} {:>10}",
        "prompt", "voice", "chars", "first render ms", "cached lookup µs", "ratio"
    );
    for (name, voice, text) in [
        ("short", "es", SHORT_ES),
        ("short", "pt-BR", SHORT_PT),
        ("long", "es", LONG_ES),
        ("long", "pt-BR", LONG_PT),
    ] {
        let (first, cached) = rt.block_on(async {
            let mut first = Vec::new();
            for i in 0..renders {
                // a distinct text each time, so each one is a first render
                let t = format!("{text} {i}.");
                let s = Instant::now();
                let p = cache.speak(&t, voice, 160).await.expect("render");
                first.push(s.elapsed());
                assert!(p.rendered);
            }
            let mut cached = Vec::new();
            let t = format!("{text} 0.");
            for _ in 0..lookups {
                let s = Instant::now();
                let p = cache.speak(&t, voice, 160).await.expect("lookup");
                cached.push(s.elapsed());
                assert!(!p.rendered);
            }
            (median(first), median(cached))
        });
        println!(
            "{:<10} {:>6} {:>8} {:>16.1} {:>16.1} {:>9.0}x",
            name,
            voice,
            text.chars().count(),
            first.as_secs_f64() * 1e3,
            cached.as_secs_f64() * 1e6,
            first.as_secs_f64() / cached.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
