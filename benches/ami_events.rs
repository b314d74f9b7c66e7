//! Bench `ami_events`: event throughput of the AMI stack, and memory under an event storm.
//!
//! The bench re-executes itself as a second process (`CENTRALITA_BENCH_ROLE=fake-ami`) that acts
//! as a fake Asterisk: it greets every connection, accepts any login, and on each `storm N` line
//! on its stdin writes N pre-encoded, realistic events (Newchannel, Newstate, DialBegin, DialEnd,
//! Hangup, QueueMemberStatus; 17-25 fields each) to the connection accepted last, as fast as the
//! socket takes them, then prints `done`.
//!
//! Measured in this process:
//! 1. memory: `VmHWM`/`VmRSS` before and after two 200k-event storms while a subscriber that never
//!    reads holds its receiver (the broadcast channel is bounded, so memory must stay flat);
//! 2. baseline: the pure [`AmiCodec`] decoding the same bytes from memory (64 KiB chunks, as a
//!    socket would deliver them), no I/O;
//! 3. the real path: socket → client task (codec, dispatch) → broadcast → one subscriber that
//!    drains, a spawned task as the engine's own subscribers are, reading each event's name and
//!    `Uniqueid`; events/s, reported as a ratio of the codec's;
//!    Then three raw subscribers that each parse every event and draw its facts (how the
//!    engine's consumers read events before the hub), and the engine's path: the same socket
//!    through the [`EventHub`] (each message parsed once into a typed event, its facts drawn
//!    once) to three draining consumers; events/s, as ratios of both, events skipped by lagging
//!    consumers, and parses per message.
//! 4. panoramisk, the Python asyncio AMI client (`benches/ami_events/panoramisk_count.py`, run
//!    with the system `python3` and Debian's `python3-panoramisk`), logged in to the same fake
//!    on a second connection, counting the same storms in a callback registered for every
//!    event: events/s, and ours as a multiple of it (skipped, with the reason, without it).
//!
//! `cargo bench --bench ami_events` (env `AMI_EVENTS_N`, default 200000; `AMI_EVENTS_RUNS`,
//! default 3; `AMI_EVENTS_ONLY=client` stops after the client path, for profiling it).

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use centralita::asterisk::ami::action::Ping;
use centralita::asterisk::ami::{AmiClient, AmiCodec, AmiFrame, AmiSettings};
use centralita::asterisk::event_facts;
use centralita::asterisk::events::{EventHub, PbxEvent};
use centralita::core::{Secret, UnixTime};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::codec::Decoder;

const ROLE_VAR: &str = "CENTRALITA_BENCH_ROLE";
const ROLE_FAKE_AMI: &str = "fake-ami";
/// Events per pre-encoded block (the storm repeats the block).
const BLOCK_EVENTS: usize = 12_000;
/// Consumers of the event hub in its run (the engine's live and originate followers, and one
/// more).
const HUB_CONSUMERS: usize = 3;
/// Events of each memory storm.
const STORM_EVENTS: u64 = 200_000;

// ---------------------------------------------------------------------------------------------
// Events

fn channel_fields(out: &mut Vec<(String, String)>, prefix: &str, call: usize, ext: &str) {
    let state = if prefix.is_empty() { "6" } else { "5" };
    let desc = if prefix.is_empty() { "Up" } else { "Ringing" };
    let pairs = [
        ("Channel", format!("PJSIP/{ext}-{call:08x}")),
        ("ChannelState", state.to_string()),
        ("ChannelStateDesc", desc.to_string()),
        ("CallerIDNum", ext.to_string()),
        ("CallerIDName", format!("Agente {ext}")),
        ("ConnectedLineNum", "099123456".to_string()),
        ("ConnectedLineName", "<unknown>".to_string()),
        ("Language", "es".to_string()),
        ("AccountCode", String::new()),
        ("Context", "centralita-originate".to_string()),
        ("Exten", "5551001".to_string()),
        ("Priority", "1".to_string()),
        ("Uniqueid", format!("1700000000.{call}")),
        ("Linkedid", format!("1700000000.{}", call - call % 2)),
    ];
    for (k, v) in pairs {
        out.push((format!("{prefix}{k}"), v));
    }
}

/// The fields of event `i` of a storm: six kinds in turn, each call (six events) its own ids.
fn event_fields(i: usize) -> Vec<(String, String)> {
    let call = i / 6 + 1;
    let ext = format!("{}", 1001 + call % 8);
    let mut f: Vec<(String, String)> = Vec::with_capacity(32);
    fn push(f: &mut Vec<(String, String)>, k: &str, v: &str) {
        f.push((k.to_string(), v.to_string()));
    }
    match i % 6 {
        0 | 1 | 4 => {
            let name = ["Newchannel", "Newstate", "", "", "Hangup"][i % 6];
            push(&mut f, "Event", name);
            push(&mut f, "Privilege", "call,all");
            push(&mut f, "SystemName", "lab");
            channel_fields(&mut f, "", call, &ext);
            if i % 6 == 4 {
                push(&mut f, "Cause", "16");
                push(&mut f, "Cause-txt", "Normal Clearing");
            }
        }
        2 | 3 => {
            push(
                &mut f,
                "Event",
                if i % 6 == 2 { "DialBegin" } else { "DialEnd" },
            );
            push(&mut f, "Privilege", "call,all");
            channel_fields(&mut f, "", call, &ext);
            channel_fields(&mut f, "Dest", call + 1, "carrier");
            if i % 6 == 2 {
                push(&mut f, "DialString", "5551001@carrier");
            } else {
                push(&mut f, "DialStatus", "ANSWER");
            }
        }
        _ => {
            let calls = (call % 50).to_string();
            let interface = format!("PJSIP/{ext}");
            for (k, v) in [
                ("Event", "QueueMemberStatus"),
                ("Privilege", "agent,all"),
                ("Queue", "q_ventas"),
                ("MemberName", "Agente"),
                ("Interface", interface.as_str()),
                ("StateInterface", interface.as_str()),
                ("Membership", "dynamic"),
                ("Penalty", "0"),
                ("CallsTaken", calls.as_str()),
                ("LastCall", "1700000123"),
                ("LastPause", "0"),
                ("LoginTime", "1700000000"),
                ("InCall", "1"),
                ("Status", "2"),
                ("Paused", "0"),
                ("PausedReason", ""),
                ("Ringinuse", "0"),
                ("Wrapuptime", "0"),
            ] {
                push(&mut f, k, v);
            }
        }
    }
    f
}

fn encode_event(i: usize, out: &mut Vec<u8>) {
    for (k, v) in event_fields(i) {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// `BLOCK_EVENTS` events, encoded, with the byte offset where each one starts (plus the end).
fn encode_block() -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut offsets = Vec::with_capacity(BLOCK_EVENTS + 1);
    for i in 0..BLOCK_EVENTS {
        offsets.push(bytes.len());
        encode_event(i, &mut bytes);
    }
    offsets.push(bytes.len());
    (bytes, offsets)
}

/// The bytes of an `n`-event storm: the block repeated, then the first events of the block.
fn storm_chunks<'a>(
    block: &'a [u8],
    offsets: &[usize],
    n: u64,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let full = n / BLOCK_EVENTS as u64;
    let rest = (n % BLOCK_EVENTS as u64) as usize;
    let tail = &block[..offsets[rest]];
    (0..full).map(move |_| block).chain(std::iter::once(tail))
}

// ---------------------------------------------------------------------------------------------
// The fake AMI (second process)

fn fake_ami() {
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    let (block, offsets) = encode_block();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    println!("PORT {port}");
    std::io::stdout().flush().expect("stdout");
    // Storms go to the connection accepted last (the engine's client first, then panoramisk).
    let current: Arc<Mutex<Option<std::net::TcpStream>>> = Arc::new(Mutex::new(None));
    let accepted = current.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(sock) = sock else { continue };
            let _ = sock.set_nodelay(true);
            let writer = Arc::new(Mutex::new(sock.try_clone().expect("clone")));
            let _ = writer
                .lock()
                .expect("lock")
                .write_all(b"Asterisk Call Manager/11.0.0\r\n");
            *accepted.lock().expect("lock") = Some(sock.try_clone().expect("clone"));
            std::thread::spawn(move || answer_actions(sock, &writer));
        }
    });
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        match (
            words.next(),
            words.next().and_then(|n| n.parse::<u64>().ok()),
        ) {
            (Some("storm"), Some(n)) => {
                let mut guard = current.lock().expect("lock");
                let Some(w) = guard.as_mut() else { break };
                for chunk in storm_chunks(&block, &offsets, n) {
                    if w.write_all(chunk).is_err() {
                        std::process::exit(0);
                    }
                }
                drop(guard);
                println!("done");
                std::io::stdout().flush().expect("stdout");
            }
            _ => break,
        }
    }
    std::process::exit(0);
}

/// Answers every action of one connection: Success (Goodbye for Logoff), with its ActionID,
/// until the client closes it.
fn answer_actions(sock: std::net::TcpStream, answers: &std::sync::Mutex<std::net::TcpStream>) {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(sock);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let l = line.trim_end();
        if !l.is_empty() {
            if let Some((k, v)) = l.split_once(':') {
                fields.push((k.trim().to_string(), v.trim().to_string()));
            }
            continue;
        }
        if fields.is_empty() {
            continue;
        }
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let logoff = get("Action").eq_ignore_ascii_case("Logoff");
        let response = if logoff { "Goodbye" } else { "Success" };
        let reply = format!(
            "Response: {response}\r\nActionID: {}\r\nMessage: ok\r\n\r\n",
            get("ActionID")
        );
        fields.clear();
        if let Ok(mut w) = answers.lock() {
            let _ = w.write_all(reply.as_bytes());
        }
        if logoff {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The bench (this process)

struct FakeAmiProcess {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    port: u16,
}

impl FakeAmiProcess {
    async fn spawn() -> Self {
        let exe = std::env::current_exe().expect("own path");
        let mut child = tokio::process::Command::new(exe)
            .env(ROLE_VAR, ROLE_FAKE_AMI)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the fake AMI process starts");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = stdout.next_line().await.expect("read").expect("a line");
        let port = first
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .expect("PORT n");
        Self {
            child,
            stdin,
            stdout,
            port,
        }
    }

    /// Asks for an `n`-event storm (returns at once).
    async fn storm(&mut self, n: u64) {
        self.stdin
            .write_all(format!("storm {n}\n").as_bytes())
            .await
            .expect("command");
        self.stdin.flush().await.expect("flush");
    }

    /// Waits until the fake has written the whole storm.
    async fn written(&mut self) {
        let line = self.stdout.next_line().await.expect("read");
        assert_eq!(line.as_deref(), Some("done"), "fake AMI: {line:?}");
    }
}

/// The system Python with panoramisk (`python3-panoramisk`, installed by `scripts/`).
const PYTHON: &str = "/usr/bin/python3";

/// panoramisk (`benches/ami_events/panoramisk_count.py`) logged in to `fake`, counting `runs`
/// storms of `n` events: events/s of each run (from the storm's request to the last event
/// dispatched), or why it was skipped.
async fn panoramisk_runs(fake: &mut FakeAmiProcess, n: u64, runs: u64) -> Result<Vec<f64>, String> {
    let ok = std::process::Command::new(PYTHON)
        .args(["-c", "import panoramisk"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(format!("{PYTHON} without panoramisk"));
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/ami_events/panoramisk_count.py"
    );
    let mut child = tokio::process::Command::new(PYTHON)
        .arg(script)
        .args([
            "127.0.0.1",
            &fake.port.to_string(),
            &n.to_string(),
            &runs.to_string(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{PYTHON}: {e}"))?;
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut eps = Vec::new();
    for _ in 0..runs {
        let line = lines.next_line().await.map_err(|e| e.to_string())?;
        if line.as_deref() != Some("ready") {
            return Err(format!("panoramisk script said {line:?}"));
        }
        let started = Instant::now();
        fake.storm(n).await;
        let line = lines.next_line().await.map_err(|e| e.to_string())?;
        let took = started.elapsed();
        fake.written().await;
        let got: u64 = line
            .as_deref()
            .and_then(|l| l.strip_prefix("done "))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("panoramisk script said {line:?}"))?;
        eps.push(got as f64 / took.as_secs_f64());
    }
    let _ = child.wait().await;
    Ok(eps)
}

/// Decodes `n` events' bytes with the pure codec, fed 64 KiB at a time; returns (events, time).
fn codec_run(block: &[u8], offsets: &[usize], n: u64) -> (u64, Duration) {
    const CHUNK: usize = 64 * 1024;
    let mut codec = AmiCodec::new().without_banner();
    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    let mut events = 0u64;
    let mut fields = 0usize;
    let started = Instant::now();
    for bytes in storm_chunks(block, offsets, n) {
        for chunk in bytes.chunks(CHUNK) {
            buf.extend_from_slice(chunk);
            while let Some(frame) = codec.decode(&mut buf).expect("decode") {
                if let AmiFrame::Message(m) = frame {
                    events += 1;
                    fields += m.fields().count();
                }
            }
        }
    }
    let took = started.elapsed();
    std::hint::black_box(fields);
    (events, took)
}

fn mb(kb: u64) -> f64 {
    (kb as f64 / 1024.0 * 10.0).round() / 10.0
}

#[tokio::main]
async fn main() {
    if std::env::var(ROLE_VAR).as_deref() == Ok(ROLE_FAKE_AMI) {
        fake_ami();
        return;
    }
    let n = support::env_num("AMI_EVENTS_N", 200_000);
    let runs = support::env_num("AMI_EVENTS_RUNS", 3).max(1);

    let mut fake = FakeAmiProcess::spawn().await;
    let mut settings = AmiSettings::new("127.0.0.1", fake.port, "bench", Secret::new("bench"));
    settings.keepalive = Duration::ZERO;
    settings.action_timeout = Duration::from_secs(60);
    let event_capacity = settings.event_capacity;
    let client = AmiClient::connect(settings)
        .await
        .expect("login to the fake AMI");

    // 1. Memory: a subscriber that never reads, two storms.
    let (rss0, hwm0) = support::memory_kb(None).unwrap_or_default();
    let idle = client.subscribe();
    let storms = support::env_num("AMI_EVENTS_STORMS", 3).max(1);
    let mut after = Vec::new();
    for _ in 0..storms {
        fake.storm(STORM_EVENTS).await;
        fake.written().await;
        // The answer to a Ping comes after every event written before it: all are processed.
        client.send(&Ping).await.expect("Ping after the storm");
        after.push(support::memory_kb(None).unwrap_or_default());
    }
    drop(idle);

    // 2. Baseline: the pure codec on the same bytes, from memory.
    let (block, offsets) = encode_block();
    let bytes_per_event = block.len() as f64 / BLOCK_EVENTS as f64;
    let mut codec_eps = Vec::new();
    for _ in 0..runs {
        let (events, took) = codec_run(&block, &offsets, n);
        assert_eq!(events, n, "the codec decodes every event");
        codec_eps.push(events as f64 / took.as_secs_f64());
    }

    // 3. The client: socket → task → broadcast → one draining subscriber.
    let mut client_eps = Vec::new();
    let mut lagged_total = 0u64;
    for _ in 0..runs {
        let mut sub = client.subscribe();
        // A spawned task, as the engine's own subscribers are (the followers, the hangup
        // recorder), reading each event's name and one field as they do.
        let counter = tokio::spawn(async move {
            let (mut got, mut lagged) = (0u64, 0u64);
            while got + lagged < n {
                match sub.recv().await {
                    Ok(ev) => {
                        std::hint::black_box((ev.event_name(), ev.get("Uniqueid")));
                        got += 1;
                    }
                    Err(RecvError::Lagged(k)) => lagged += k,
                    Err(RecvError::Closed) => panic!("client closed after {got} events"),
                }
            }
            (got, lagged)
        });
        let started = Instant::now();
        fake.storm(n).await;
        let (_got, lagged) = counter.await.expect("the subscriber task");
        let took = started.elapsed();
        fake.written().await;
        lagged_total += lagged;
        client_eps.push(n as f64 / took.as_secs_f64());
    }
    if std::env::var("AMI_EVENTS_ONLY").as_deref() == Ok("client") {
        // For profiling the client path alone.
        println!(
            "codec events/s: {:.0}; client events/s: {:.0}",
            support::median(&codec_eps),
            support::median(&client_eps)
        );
        return;
    }
    // 3b. As the engine read events before its hub: three raw subscribers, each parsing every
    // event and drawing its facts on its own.
    let mut own_eps = Vec::new();
    let mut own_lagged = 0u64;
    for _ in 0..runs {
        let consumers: Vec<_> = (0..HUB_CONSUMERS)
            .map(|_| {
                let mut rx = client.subscribe();
                tokio::spawn(async move {
                    let (mut got, mut lagged) = (0u64, 0u64);
                    while got + lagged < n {
                        match rx.recv().await {
                            Ok(ev) => {
                                let now = UnixTime::now();
                                let facts =
                                    PbxEvent::parse(&ev, now).map(|e| event_facts::facts(&e, now));
                                std::hint::black_box(&facts);
                                got += 1;
                            }
                            Err(RecvError::Lagged(k)) => lagged += k,
                            Err(RecvError::Closed) => panic!("client closed after {got} events"),
                        }
                    }
                    lagged
                })
            })
            .collect();
        let started = Instant::now();
        fake.storm(n).await;
        for c in consumers {
            own_lagged += c.await.expect("consumer");
        }
        let took = started.elapsed();
        fake.written().await;
        own_eps.push(n as f64 / took.as_secs_f64());
    }

    // 3c. The engine's path: socket → task → broadcast → EventHub (each message parsed once, its
    // facts drawn once) → three draining consumers, as many as the engine has on that channel.
    let hub = EventHub::start(&client);
    let mut hub_eps = Vec::new();
    let mut hub_lagged = 0u64;
    let mut parses = 0u64;
    let mut missed = 0u64;
    for _ in 0..runs {
        let (parsed_before, missed_before) = (hub.messages_parsed(), hub.messages_missed());
        let accounted_before = parsed_before + missed_before;
        let started = Instant::now();
        // A consumer that lagged over the hub's own report of missed messages cannot count
        // them: each reads until the hub has accounted for every message and it has nothing
        // left, and reports when it read its last event.
        let consumers: Vec<_> = (0..HUB_CONSUMERS)
            .map(|_| {
                let mut rx = hub.subscribe();
                let hub = hub.clone();
                tokio::spawn(async move {
                    let (mut got, mut lagged, mut last) = (0u64, 0u64, started);
                    loop {
                        let accounted = hub.messages_parsed() + hub.messages_missed();
                        if accounted - accounted_before >= n && rx.is_empty() {
                            break;
                        }
                        match tokio::time::timeout(Duration::from_millis(20), rx.recv()).await {
                            Ok(Ok(ev)) => {
                                std::hint::black_box(&ev);
                                got += 1;
                                last = Instant::now();
                            }
                            Ok(Err(RecvError::Lagged(k))) => lagged += k,
                            Ok(Err(RecvError::Closed)) => panic!("hub closed after {got} events"),
                            Err(_) => {}
                        }
                    }
                    (lagged, last)
                })
            })
            .collect();
        fake.storm(n).await;
        let mut took = Duration::ZERO;
        for c in consumers {
            let (lagged, last) = c.await.expect("consumer");
            hub_lagged += lagged;
            took = took.max(last - started);
        }
        fake.written().await;
        parses += hub.messages_parsed() - parsed_before;
        missed += hub.messages_missed() - missed_before;
        hub_eps.push(n as f64 / took.as_secs_f64());
    }
    drop(hub);
    // 4. panoramisk on its own connection to the same fake, the same storms.
    let pano = panoramisk_runs(&mut fake, n, runs).await;
    let _ = client.logoff().await;
    let _ = fake.child.kill().await;

    let codec = support::median(&codec_eps);
    let through = support::median(&client_eps);
    let ratio = through / codec;
    let hwm_first = after[0].1 as i64 - hwm0 as i64;
    let hwm_rest = after[after.len() - 1].1 as i64 - after[0].1 as i64;
    println!(
        "ami_events: {n} events per run, {runs} runs (median), {bytes_per_event:.0} bytes/event"
    );
    println!("{:<44} {:>14} {:>8}", "path", "events/s", "ratio");
    println!(
        "{:<44} {:>14.0} {:>8.3}",
        "codec from memory (baseline)", codec, 1.0
    );
    println!(
        "{:<44} {:>14.0} {:>8.3}",
        "socket → AmiClient → 1 draining subscriber", through, ratio
    );
    let own_through = support::median(&own_eps);
    println!(
        "{:<44} {:>14.0} {:>8.3}",
        format!("… → {HUB_CONSUMERS} subscribers, each parsing"),
        own_through,
        own_through / codec
    );
    println!("  (each parsing) lagged, events skipped, all runs: {own_lagged}");
    let hub_through = support::median(&hub_eps);
    println!(
        "{:<44} {:>14.0} {:>8.3}",
        format!("… → EventHub → {HUB_CONSUMERS} draining consumers"),
        hub_through,
        hub_through / codec
    );
    println!(
        "EventHub / 1 raw subscriber: {:.3}; EventHub / {HUB_CONSUMERS} each parsing: {:.3}; parses \
         per message read: {:.3}; missed by the hub: {missed}; consumers lagged (items skipped), all \
         runs: {hub_lagged}",
        hub_through / through,
        hub_through / own_through,
        parses as f64 / ((n * runs) as f64 - missed as f64)
    );
    let pano_eps = pano.as_ref().ok().map(|v| support::median(v));
    match (&pano, pano_eps) {
        (Ok(_), Some(eps)) => println!(
            "{:<44} {:>14.0} {:>8.3}",
            "socket → panoramisk (Python asyncio)",
            eps,
            eps / codec
        ),
        (Err(why), _) => println!("panoramisk: skipped ({why})"),
        _ => {}
    }
    let ours_to_pano = pano_eps.map(|p| through / p);
    if let Some(r) = ours_to_pano {
        println!("AmiClient / panoramisk: {r:.1}x");
    }
    println!("subscriber lagged (events skipped), all runs: {lagged_total}");
    println!();
    println!(
        "memory, non-reading subscriber (channel capacity {event_capacity}), {STORM_EVENTS} events per storm:"
    );
    println!("{:<24} {:>10} {:>10}", "", "VmRSS MB", "VmHWM MB");
    println!("{:<24} {:>10} {:>10}", "before", mb(rss0), mb(hwm0));
    for (i, (rss, hwm)) in after.iter().enumerate() {
        let label = format!("after storm {}", i + 1);
        println!("{label:<24} {:>10} {:>10}", mb(*rss), mb(*hwm));
    }
    println!(
        "VmHWM delta: storm 1 {:+.1} MB; storms 2..{} together {:+.1} MB",
        hwm_first as f64 / 1024.0,
        after.len(),
        hwm_rest as f64 / 1024.0
    );

    support::write_json(
        "ami_events",
        &serde_json::json!({
            "bench": "ami_events",
            "events_per_run": n,
            "runs": runs,
            "bytes_per_event": bytes_per_event.round(),
            "codec_events_per_s": codec.round(),
            "client_events_per_s": through.round(),
            "client_to_codec_ratio": (ratio * 1000.0).round() / 1000.0,
            "codec_runs": codec_eps.iter().map(|v| v.round()).collect::<Vec<_>>(),
            "client_runs": client_eps.iter().map(|v| v.round()).collect::<Vec<_>>(),
            "subscriber_lagged_events": lagged_total,
            "hub_consumers": HUB_CONSUMERS,
            "each_parsing_events_per_s": own_through.round(),
            "each_parsing_runs": own_eps.iter().map(|v| v.round()).collect::<Vec<_>>(),
            "each_parsing_lagged_events": own_lagged,
            "hub_to_each_parsing_ratio": (hub_through / own_through * 1000.0).round() / 1000.0,
            "hub_events_per_s": hub_through.round(),
            "hub_runs": hub_eps.iter().map(|v| v.round()).collect::<Vec<_>>(),
            "hub_to_client_ratio": (hub_through / through * 1000.0).round() / 1000.0,
            "hub_parses_per_message_read": parses as f64 / ((n * runs) as f64 - missed as f64),
            "hub_missed_messages": missed,
            "hub_consumers_lagged_events": hub_lagged,
            "panoramisk_events_per_s": pano_eps.map(f64::round),
            "panoramisk_runs": pano.as_ref().ok().map(|v| v.iter().map(|e| e.round()).collect::<Vec<_>>()),
            "panoramisk_skipped": pano.as_ref().err(),
            "client_to_panoramisk_ratio": ours_to_pano.map(|r| (r * 100.0).round() / 100.0),
            "storm_events": STORM_EVENTS,
            "event_capacity": event_capacity,
            "storms": storms,
            "vm_rss_kb_before_and_after_each_storm":
                std::iter::once(rss0).chain(after.iter().map(|m| m.0)).collect::<Vec<_>>(),
            "vm_hwm_kb_before_and_after_each_storm":
                std::iter::once(hwm0).chain(after.iter().map(|m| m.1)).collect::<Vec<_>>(),
            "vm_hwm_delta_first_storm_kb": hwm_first,
            "vm_hwm_delta_later_storms_kb": hwm_rest,
        }),
    );
}
