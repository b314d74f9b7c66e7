use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A fake engine: counts renders, takes a while (so concurrent first requests overlap), writes
/// the text as the file's content.
struct Counting {
    renders: AtomicUsize,
    fail: bool,
}

impl Speech for Counting {
    fn engine(&self) -> &str {
        "fake 1"
    }

    fn render<'a>(
        &'a self,
        text: &'a PromptText,
        _voice: &'a Voice,
        _rate: SpeechRate,
        dst: &'a Path,
    ) -> BoxFuture<'a, Result<(), TtsError>> {
        Box::pin(async move {
            self.renders.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.fail {
                tokio::fs::write(dst, b"partial").await?;
                return Err(TtsError::Engine("boom".into()));
            }
            tokio::fs::write(dst, text.as_str()).await?;
            Ok(())
        })
    }
}

fn cache(dir: &Path, max: usize, fail: bool) -> (Arc<Counting>, Arc<PromptCache>) {
    let fake = Arc::new(Counting {
        renders: AtomicUsize::new(0),
        fail,
    });
    let c = PromptCache::new(
        fake.clone(),
        PromptCacheSettings {
            dir: dir.to_path_buf(),
            asterisk_dir: PathBuf::from("/var/lib/asterisk/sounds/centralita-tts"),
            max_entries: max,
        },
    );
    (fake, Arc::new(c))
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("centralita-tts-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn the_cache_key_is_stable_and_depends_on_every_part() {
    let t = PromptText::parse("Hola, bienvenido").unwrap();
    let es = Voice::parse("es").unwrap();
    let r = SpeechRate::new(160).unwrap();
    let k = prompt_key("espeak-ng 1.51", &es, r, &t);
    // pinned: a change here re-renders every cached prompt of every site
    assert_eq!(k, "tts-d701569202115b49d00660ef7a7c2ec8");
    assert_eq!(k, prompt_key("espeak-ng 1.51", &es, r, &t));
    let pt = Voice::parse("pt-BR").unwrap();
    let others = [
        prompt_key("espeak-ng 1.52", &es, r, &t),
        prompt_key("espeak-ng 1.51", &pt, r, &t),
        prompt_key("espeak-ng 1.51", &es, SpeechRate::new(161).unwrap(), &t),
        prompt_key(
            "espeak-ng 1.51",
            &es,
            r,
            &PromptText::parse("Hola, bienvenida").unwrap(),
        ),
    ];
    for o in others {
        assert_ne!(o, k);
    }
    // length-prefixed: moving a boundary changes the key
    let a = prompt_key("ab", &Voice::parse("c").unwrap(), r, &t);
    let b = prompt_key("a", &Voice::parse("bc").unwrap(), r, &t);
    assert_ne!(a, b);
}

#[test]
fn text_is_cleaned_and_bounded() {
    let t = PromptText::parse("  Hola\u{0}\u{7}\r\n\t  mundo\u{202E}\u{1b}[31m  ").unwrap();
    assert_eq!(t.as_str(), "Hola mundo[31m");
    assert!(matches!(
        PromptText::parse(" \n\t\u{0}"),
        Err(TtsError::EmptyText)
    ));
    assert!(PromptText::parse(&"a".repeat(MAX_TEXT_CHARS)).is_ok());
    assert!(matches!(
        PromptText::parse(&"a".repeat(MAX_TEXT_CHARS + 1)),
        Err(TtsError::TextTooLong)
    ));
    // white space does not count twice, and multi-byte text is counted in characters
    assert!(PromptText::parse(&"ñ ".repeat(MAX_TEXT_CHARS / 2)).is_ok());
    assert!(matches!(
        PromptText::parse(&" ".repeat(MAX_TEXT_CHARS * 5)),
        Err(TtsError::TextTooLong)
    ));
}

#[test]
fn voices_and_rates_are_validated() {
    assert_eq!(Voice::parse("pt-BR").unwrap().as_str(), "pt-br");
    assert_eq!(Voice::parse("en").unwrap().as_str(), "en-us");
    assert_eq!(Voice::parse("es").unwrap().as_str(), "es");
    assert_eq!(Voice::parse("es-MX").unwrap().as_str(), "es-419");
    assert_eq!(Voice::parse("en-us+f3").unwrap().as_str(), "en-us+f3");
    for bad in [
        "",
        "-es",
        "es;rm",
        "es es",
        "../es",
        "es\n",
        "1es",
        &"a".repeat(33),
    ] {
        assert!(Voice::parse(bad).is_err(), "{bad:?}");
    }
    assert!(SpeechRate::new(79).is_err());
    assert!(SpeechRate::new(451).is_err());
    assert_eq!(SpeechRate::new(80).unwrap().wpm(), 80);
}

#[tokio::test]
async fn concurrent_first_requests_render_once() {
    let dir = tempdir("once");
    let (fake, c) = cache(&dir, 100, false);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.speak("Su llamada es importante", "es", 160).await
        }));
    }
    let mut prompts = Vec::new();
    for t in tasks {
        prompts.push(t.await.unwrap().unwrap());
    }
    assert_eq!(fake.renders.load(Ordering::SeqCst), 1);
    assert_eq!(prompts.iter().filter(|p| p.rendered).count(), 1);
    assert!(prompts.iter().all(|p| p.path == prompts[0].path));
    assert_eq!(
        std::fs::read_to_string(&prompts[0].path).unwrap(),
        "Su llamada es importante"
    );
    assert_eq!(
        prompts[0].uri,
        format!(
            "sound:/var/lib/asterisk/sounds/centralita-tts/{}",
            prompts[0].key
        )
    );
    // served from the cache afterwards, and the in-flight table is empty again
    let p = c
        .speak("Su   llamada es importante ", "es", 160)
        .await
        .unwrap();
    assert!(!p.rendered);
    assert_eq!(fake.renders.load(Ordering::SeqCst), 1);
    assert!(c.in_flight.lock().unwrap().is_empty());
    // only the finished file, no temporaries
    assert_eq!(files(&dir), vec![format!("{}.wav", p.key)]);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_failed_render_leaves_no_file_and_is_retried() {
    let dir = tempdir("fail");
    let (fake, c) = cache(&dir, 100, true);
    assert!(c.speak("hola", "es", 160).await.is_err());
    assert!(c.speak("hola", "es", 160).await.is_err());
    assert_eq!(fake.renders.load(Ordering::SeqCst), 2);
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_cache_keeps_at_most_max_entries_dropping_the_oldest() {
    let dir = tempdir("prune");
    let (_fake, c) = cache(&dir, 3, false);
    let mut keys = Vec::new();
    for i in 0..5 {
        let p = c.speak(&format!("mensaje {i}"), "es", 160).await.unwrap();
        keys.push(p.key);
        // distinct modification times, so "oldest" is well defined
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = files(&dir);
    let want: Vec<String> = keys[2..].iter().map(|k| format!("{k}.wav")).collect();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(left, want_sorted);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn invalid_input_is_refused_before_any_render() {
    let dir = tempdir("invalid");
    let (fake, c) = cache(&dir, 3, false);
    assert!(matches!(
        c.speak("hola", "es;x", 160).await,
        Err(TtsError::InvalidVoice)
    ));
    assert!(matches!(
        c.speak("hola", "es", 10).await,
        Err(TtsError::InvalidRate(10))
    ));
    assert!(matches!(
        c.speak("\u{0}", "es", 160).await,
        Err(TtsError::EmptyText)
    ));
    assert_eq!(fake.renders.load(Ordering::SeqCst), 0);
    let _ = std::fs::remove_dir_all(dir);
}
