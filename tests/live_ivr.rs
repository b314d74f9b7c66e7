//! Live tier: the IVR runtime against the lab. A flow added with `admin ivr add` and routed to
//! the new DID 26008000 with `admin ivr route` (the dialplan asks the engine over FastAGI):
//! the caller hears its TTS prompt (es, no barge-in; the recording is loud for about the
//! prompt's length), presses 1 and reaches queue `q_ventas`, where agent 1001 answers
//! (queue_log ENTERQUEUE and CONNECT of the call's id); the IVR CDR shows play → gather(1) →
//! queue. A caller pressing 9 takes the other branch (a prompt, then the IVR hangs up) and the
//! CDR shows it.

#![cfg(feature = "live-lab")]

mod live_support;

use std::path::Path;
use std::time::{Duration, Instant};

use centralita::config::TtsConfig;
use centralita::core::ivr::{EventFilter, FlowId, IvrStore};
use centralita::store::SqliteIvr;
use live_support::*;

const DID: &str = "26008000";
const PROMPT: &str = "Bienvenido. Para ventas marque uno.";
const TTS: &str = "[tts]\ncache_dir = \"/var/cache/centralita/lab-root/var/lib/asterisk/sounds/centralita-tts\"\nasterisk_dir = \"/var/lib/asterisk/sounds/centralita-tts\"\n";

fn flow() -> String {
    format!(
        r#"{{"id":"ivr_live","name":"IVR live","type":"dtmf","start":"hola","version":1,"max_steps":20,
 "nodes":[
 {{"id":"hola","kind":"play","prompt":{{"tts":"{PROMPT}","voice":"es","barge_in":false}},"next":"menu"}},
 {{"id":"menu","kind":"gather","prompt":{{"file":"beep","barge_in":false}},"max_digits":1,
  "first_digit_timeout_ms":8000,"inter_digit_timeout_ms":3000,"retries":0,
  "cases":{{"1":"ventas"}},"invalid":"adios","timeout":"adios"}},
 {{"id":"ventas","kind":"queue","queue":"q_ventas"}},
 {{"id":"adios","kind":"play","prompt":{{"tts":"Adiós.","voice":"es","barge_in":false}},"next":"fin"}},
 {{"id":"fin","kind":"hangup"}}]}}"#
    )
}

/// Seconds of sound in the first `upto` seconds of a 16-bit mono WAV (20 ms frames above 1 % of
/// full scale), and its whole length.
fn audible_seconds(path: &Path, upto: f64) -> (f64, f64) {
    let mut r = hound::WavReader::open(path).expect("a WAV file");
    let rate = r.spec().sample_rate as usize;
    let all: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let samples = &all[..all.len().min((upto * rate as f64) as usize)];
    let loud = samples
        .chunks(rate / 50)
        .filter(|c| {
            let e: f64 = c.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum::<f64>();
            (e / c.len() as f64).sqrt() > 0.01
        })
        .count();
    (loud as f64 / 50.0, all.len() as f64 / rate as f64)
}

/// The IVR CDR of the newest call of the flow not in `seen`, as `event node digits status`
/// lines, once it has its `fim` (20 s at most).
fn new_call(store: &Path, seen: &[String]) -> (String, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = SqliteIvr::open(store).unwrap();
        let events = s
            .events(&EventFilter {
                flow: Some(FlowId::new("ivr_live").unwrap()),
                limit: 1000,
                ..Default::default()
            })
            .unwrap();
        if let Some(call) = events
            .iter()
            .map(|e| e.call.as_str().to_owned())
            .find(|c| !seen.contains(c))
        {
            let lines: Vec<String> = events
                .iter()
                .filter(|e| e.call.as_str() == call)
                .map(|e| {
                    format!(
                        "{} {} {} {}",
                        e.event,
                        e.node.as_ref().map(|n| n.as_str()).unwrap_or("-"),
                        e.digits,
                        e.status
                    )
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                })
                .collect();
            if lines.iter().any(|l| l.starts_with("fim")) {
                return (call, lines);
            }
        }
        assert!(Instant::now() < deadline, "no finished IVR call in the CDR");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn queue_log_has(call: &str, event: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(queue_log()).unwrap_or_default();
        if text.lines().any(|l| {
            let f: Vec<&str> = l.split('|').collect();
            f.len() > 4 && f[1] == call && f[2] == "q_ventas" && f[4] == event
        }) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_did_runs_its_flow_to_the_queue_and_the_other_branch() {
    let scratch = Scratch::new("live-ivr");
    let engine = Engine::start_with(scratch.path(), "ivr", TTS);
    engine.addr();
    let flow_file = scratch.path().join("flow.json");
    std::fs::write(&flow_file, flow()).unwrap();
    engine.admin(&["ivr", "add", "--file", flow_file.to_str().unwrap()], "");
    engine.admin(&["ivr", "route", DID, "ivr_live"], "");
    // The IVR takes calls once its application is registered.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !engine.log_text().contains("ARI event stream up") {
        assert!(
            Instant::now() < deadline,
            "the IVR's application never registered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Agent 1001 in q_ventas, unpaused.
    let client = connect().await;
    let before = queue_members(&client, "q_ventas").await;
    set_queue_members(&client, "q_ventas", &["PJSIP/1001".to_owned()]).await;
    lab(&["cli", "queue unpause member PJSIP/1001 queue q_ventas"]);

    // The prompt as the engine renders it (same text, voice and rate: the same cached file).
    let tts: TtsConfig = toml::from_str(TTS.trim_start_matches("[tts]\n")).unwrap();
    tts.validate().unwrap();
    let cache = centralita::app::tts::prompt_cache(&tts).expect("espeak-ng runs");
    let prompt = cache.speak(PROMPT, "es", tts.rate).await.unwrap();
    let (prompt_audible, prompt_len) = audible_seconds(&prompt.path, 60.0);
    assert!(prompt_len > 1.5, "the prompt lasts {prompt_len} s");

    // Case 1: the caller waits for the prompt and presses 1.
    let heard = scratch.path().join("heard.wav");
    let delay = format!("{:.1}", prompt_len + 1.5);
    let args = [
        "call-in",
        "--did",
        DID,
        "--dtmf",
        "1",
        "--dtmf-delay",
        &delay,
        "--record",
        heard.to_str().unwrap(),
        "--talk",
        "5",
    ];
    // (the engine is another process: blocking here holds nothing up)
    let out = lab(&args);
    let (call, path) = new_call(&scratch.store(), &[]);
    eprintln!(
        "call {call}: {path:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "vm/lab call-in: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Before the digit (and so before the agent's tone): the prompt, played on the answer.
    let (heard_audible, heard_len) = audible_seconds(&heard, prompt_len + 1.0);
    eprintln!(
        "prompt {prompt_audible:.2}/{prompt_len:.2} s; heard {heard_audible:.2}/{heard_len:.2} s"
    );
    assert!(
        heard_audible >= prompt_audible * 0.8,
        "the caller heard {heard_audible:.2} s of sound, the prompt has {prompt_audible:.2} s"
    );
    let order = |prefix: &str| {
        path.iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {path:?}"))
    };
    assert!(order("entrada hola") < order("entrada menu"));
    assert!(order("entrada menu") < order("digitos menu 1"));
    assert!(order("digitos menu 1") < order("entrada ventas"));
    assert!(path.last().unwrap().ends_with("fila"), "{path:?}");
    assert!(
        queue_log_has(&call, "ENTERQUEUE", Duration::from_secs(10)),
        "ENTERQUEUE of {call}"
    );
    assert!(
        queue_log_has(&call, "CONNECT", Duration::from_secs(10)),
        "CONNECT of {call} to an agent"
    );

    // Case 2: 9, the other branch: a goodbye, then the IVR hangs up.
    let out = lab(&[
        "call-in",
        "--did",
        DID,
        "--dtmf",
        "9",
        "--dtmf-delay",
        &delay,
        "--talk",
        "3",
    ]);
    let (call2, path2) = new_call(&scratch.store(), std::slice::from_ref(&call));
    eprintln!(
        "call {call2}: {path2:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at = |prefix: &str| {
        path2
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {path2:?}"))
    };
    assert!(at("digitos menu 9") < at("entrada adios"));
    assert!(at("entrada adios") < at("entrada fin"));
    assert!(path2.last().unwrap().ends_with("desligada"), "{path2:?}");
    assert!(!path2.iter().any(|l| l.contains("ventas")), "{path2:?}");
    assert!(!queue_log_has(
        &call2,
        "ENTERQUEUE",
        Duration::from_millis(500)
    ));

    set_queue_members(&client, "q_ventas", &before).await;
    client.logoff().await.unwrap();
}
