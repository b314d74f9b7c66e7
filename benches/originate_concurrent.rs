//! Bench `originate_concurrent`: start latency of eXpand `originateCall` under 200 requests at
//! once, the engine built in process over the scripted fake AMI (`tests/support/fake_ami.rs`).
//!
//! The engine's parts are the ones `centralita serve` wires (`app::open_services` on a
//! temporary store on disk, `spawn_originate_service` over an `AmiClient` logged in to the fake,
//! the PBX services attached, `http::router` with the configuration's limits); requests go
//! through the router in process (no sockets on the HTTP side), from loopback, with one API key
//! (its Argon2id check paid once, before the timed rounds). The fake answers `DeviceStateList`
//! (nothing in use), `Originate` (`Success`) and every other action; it sends no call events,
//! so every job stays ringing.
//!
//! Each round: `ORIGINATE_CONCURRENT_N` tasks wait on a barrier, then each sends one
//! `originateCall(key, src, dst)` with its own source and destination (`2NNN` → `555RNNN`,
//! national numbers the default outbound policy allows; limits raised in the config so nothing
//! is refused); start latency is request → the answer with the job id. Baseline of the same
//! round: the same number of concurrent `originateCallStatus` of those jobs (the same SOAP
//! parse, key check and answer, but a read of the job instead of its store write).
//!
//! `cargo bench --bench originate_concurrent` (env `ORIGINATE_CONCURRENT_N`, default 200;
//! `ORIGINATE_CONCURRENT_ROUNDS`, default 3).

#[path = "../tests/support/fake_ami.rs"]
mod fake_ami;
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use centralita::asterisk::ami::{AmiClient, AmiSettings};
use centralita::asterisk::call_commands::AmiCallCommands;
use centralita::asterisk::call_control::spawn_originate_service;
use centralita::asterisk::events::EventHub;
use centralita::config::Config;
use centralita::core::agents::AgentService;
use centralita::core::directory::CredentialApi;
use centralita::core::Secret;
use centralita::facades::PbxServices;
use centralita::http::FixedHealth;
use centralita::store::originate_jobs::SqliteOriginateStore;
use fake_ami::{FakeAmi, SECRET, USERNAME};
use support::{ms, quantile};
use tower::ServiceExt;

const PATH: &str = centralita::facades::expand::PATH;

fn envelope(op: &str, parts: &[(&str, &str)]) -> String {
    let parts: String = parts
        .iter()
        .map(|(n, v)| format!("<{n} xsi:type=\"xsd:string\">{v}</{n}>"))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><SOAP-ENV:Envelope \
         xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><SOAP-ENV:Body>\
         <ns1:{op} xmlns:ns1=\"urn:apiws\">{parts}</ns1:{op}></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
}

/// Posts one envelope from loopback; the answer's `return`, and how long it took.
async fn post(router: &Router, body: String) -> (Option<String>, Duration) {
    let mut req = Request::post(PATH)
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(Body::from(body))
        .expect("request");
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    req.extensions_mut().insert(ConnectInfo(peer));
    let t = Instant::now();
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let bytes = to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let took = t.elapsed();
    (support::soap_return(&String::from_utf8_lossy(&bytes)), took)
}

/// Answers every action the engine sends the fake; counts `Originate`s.
async fn answer(mut fake: FakeAmi, originates: Arc<std::sync::atomic::AtomicU64>) {
    loop {
        let a = fake.next_action().await;
        match a.action() {
            "DeviceStateList" | "CoreShowChannels" | "QueueStatus" => {
                a.respond("Success", &[("EventList", "start")]);
                let complete = format!("{}Complete", a.action());
                a.out.message(&[
                    ("Event", complete.as_str()),
                    ("ActionID", a.action_id()),
                    ("EventList", "Complete"),
                    ("ListItems", "0"),
                ]);
            }
            "Originate" => {
                originates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                a.respond("Success", &[("Message", "Originate successfully queued")]);
            }
            _ => a.respond("Success", &[]),
        }
    }
}

struct Round {
    start: Vec<Duration>,
    status: Vec<Duration>,
    errors: u64,
    wall_start: Duration,
    wall_status: Duration,
}

async fn round(router: &Router, key: &str, r: u64, n: u64) -> Round {
    let barrier = Arc::new(tokio::sync::Barrier::new(n as usize));
    let mut tasks = Vec::new();
    let t0 = Instant::now();
    for i in 0..n {
        let router = router.clone();
        let barrier = barrier.clone();
        let src = format!("{}", 2000 + i);
        let dst = format!("555{}{:03}", r % 10, i % 1000);
        let body = envelope(
            "originateCall",
            &[
                ("authorizedKey", key),
                ("src", &src),
                ("srcCallerID", "Bench"),
                ("dst", &dst),
                ("dstCallerID", "Cliente"),
                ("timeout", "20"),
                ("callinfo", "lead=1"),
            ],
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            post(&router, body).await
        }));
    }
    let mut start = Vec::new();
    let mut ids = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (ret, took) = t.await.expect("task");
        start.push(took);
        match ret {
            // A job id has a `-`; a failure is a code (0, -1, ...).
            Some(id) if id.contains('-') && !id.starts_with('-') => ids.push(id),
            other => {
                errors += 1;
                eprintln!("originateCall answered {other:?}");
            }
        }
    }
    let wall_start = t0.elapsed();
    let barrier = Arc::new(tokio::sync::Barrier::new(ids.len().max(1)));
    let mut tasks = Vec::new();
    let t0 = Instant::now();
    for id in &ids {
        let router = router.clone();
        let barrier = barrier.clone();
        let body = envelope(
            "originateCallStatus",
            &[("authorizedKey", key), ("originatedID", id)],
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            post(&router, body).await
        }));
    }
    let mut status = Vec::new();
    for t in tasks {
        let (ret, took) = t.await.expect("task");
        status.push(took);
        if ret.as_deref() != Some("1") {
            errors += 1;
            eprintln!("originateCallStatus answered {ret:?} (ringing is 1)");
        }
    }
    Round {
        start,
        status,
        errors,
        wall_start,
        wall_status: t0.elapsed(),
    }
}

fn config_text(dir: &std::path::Path, ami_port: u16) -> String {
    format!(
        "[engine]\ntimezone = \"America/Montevideo\"\n[store]\npath = {:?}\n\
         [[node]]\nname = \"pbx1\"\ncdr_db = {:?}\nqueue_log = {:?}\nrecordings_dir = {:?}\n\
         [node.ami]\nhost = \"127.0.0.1\"\nport = {ami_port}\nusername = {USERNAME:?}\nsecret = {SECRET:?}\n\
         [outbound]\ncalls_per_minute = 100000\nmax_concurrent = 100000\n",
        dir.join("store.db"),
        dir.join("master.db"),
        dir.join("queue_log"),
        dir.join("monitor"),
    )
}

fn main() {
    let n = support::env_num("ORIGINATE_CONCURRENT_N", 200).max(1);
    let rounds = support::env_num("ORIGINATE_CONCURRENT_ROUNDS", 3).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // On disk (the target folder), not tmpfs: the store's fsyncs are part of what is measured.
    let dir = support::target_dir()
        .join("bench")
        .join(format!("originate_concurrent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench folder");
    let result = rt.block_on(async {
        let fake = FakeAmi::start().await;
        let port = fake.addr.port();
        let originates = Arc::new(std::sync::atomic::AtomicU64::new(0));
        tokio::spawn(answer(fake, originates.clone()));
        let config = Arc::new(Config::from_toml(&config_text(&dir, port)).expect("config"));
        let services = Arc::new(centralita::app::open_services(config.clone()).expect("store"));
        let mut s = AmiSettings::new("127.0.0.1", port, USERNAME, Secret::new(SECRET));
        s.keepalive = Duration::ZERO;
        let client = AmiClient::connect(s).await.expect("AMI login");
        let hub = EventHub::start(&client);
        let originate = spawn_originate_service(
            &hub,
            Arc::new(SqliteOriginateStore::open(&config.store.path).expect("store")),
            &config.originate.context,
            config.originate_settings(),
        )
        .await
        .expect("originate service");
        let live = hub.live();
        let agents = AgentService::new(
            services.directory.clone(),
            Arc::new(config.primary_node().queue_control(client.clone())),
            live.clone(),
            services.naming.clone(),
        );
        services.attach_pbx(PbxServices {
            originate,
            agents,
            live,
            commands: Arc::new(AmiCallCommands::new(client.clone())),
        });
        let key = services
            .directory
            .store()
            .create_credential("bench", CredentialApi::Expand)
            .expect("credential")
            .key
            .expose()
            .to_owned();
        let router = centralita::http::router(
            Arc::new(FixedHealth::healthy()),
            centralita::facades::router(
                services.clone(),
                centralita::app::facade_sections(&config),
            ),
            config.http.limits(),
        );
        // The key's first use (Argon2id) and a warm-up job, untimed.
        let (ret, _) = post(
            &router,
            envelope(
                "originateCallStatus",
                &[("authorizedKey", &key), ("originatedID", "warm-up")],
            ),
        )
        .await;
        assert_eq!(ret.as_deref(), Some("0"), "the key works");
        let mut all = Vec::new();
        for r in 0..rounds {
            all.push(round(&router, &key, r + 1, n).await);
        }
        // Every job reached the fake (dispatch runs behind the answers).
        let expected: u64 = all.iter().map(|r| r.status.len() as u64).sum();
        let deadline = Instant::now() + Duration::from_secs(30);
        while originates.load(std::sync::atomic::Ordering::Relaxed) < expected
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sent = originates.load(std::sync::atomic::Ordering::Relaxed);
        (all, sent, expected)
    });
    let (rounds_done, sent, expected) = result;
    let _ = std::fs::remove_dir_all(&dir);

    let start: Vec<Duration> = rounds_done.iter().flat_map(|r| r.start.clone()).collect();
    let status: Vec<Duration> = rounds_done.iter().flat_map(|r| r.status.clone()).collect();
    let errors: u64 = rounds_done.iter().map(|r| r.errors).sum();
    let q = |v: &[Duration], p: f64| quantile(v, p).unwrap_or_default();
    println!(
        "originate_concurrent: {n} concurrent requests, {rounds} rounds (in process, fake AMI)"
    );
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>10}",
        "", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for (name, v) in [("originateCall", &start), ("originateCallStatus", &status)] {
        println!(
            "{:<22} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            name,
            ms(q(v, 0.5)),
            ms(q(v, 0.95)),
            ms(q(v, 0.99)),
            ms(q(v, 1.0)),
        );
    }
    let ratio = ms(q(&start, 0.99)) / ms(q(&status, 0.99)).max(1e-6);
    println!("start p99 / status p99: {ratio:.2}");
    for (i, r) in rounds_done.iter().enumerate() {
        println!(
            "round {}: all {n} starts answered in {:.1} ms, all statuses in {:.1} ms",
            i + 1,
            ms(r.wall_start),
            ms(r.wall_status)
        );
    }
    println!("Originate actions at the fake: {sent} of {expected}; errors: {errors}");
    if errors > 0 || sent < expected {
        println!("RUN WITH ERRORS");
    }
    support::write_json(
        "originate_concurrent",
        &serde_json::json!({
            "bench": "originate_concurrent",
            "concurrent": n,
            "rounds": rounds,
            "start_p50_ms": ms(q(&start, 0.5)),
            "start_p95_ms": ms(q(&start, 0.95)),
            "start_p99_ms": ms(q(&start, 0.99)),
            "start_max_ms": ms(q(&start, 1.0)),
            "status_p50_ms": ms(q(&status, 0.5)),
            "status_p95_ms": ms(q(&status, 0.95)),
            "status_p99_ms": ms(q(&status, 0.99)),
            "start_to_status_p99_ratio": ratio,
            "round_start_wall_ms": rounds_done.iter().map(|r| ms(r.wall_start)).collect::<Vec<_>>(),
            "round_status_wall_ms": rounds_done.iter().map(|r| ms(r.wall_status)).collect::<Vec<_>>(),
            "originates_sent": sent,
            "errors": errors,
            "ok": errors == 0 && sent >= expected,
        }),
    );
}
