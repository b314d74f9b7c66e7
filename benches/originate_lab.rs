//! Bench `originate_lab`: how many originate jobs the engine sustains against the lab.
//!
//! Needs the lab up (`vm/lab up`); if its AMI does not answer, prints `lab not up: skipped` and
//! exits 0. Uses only phones 1001-1004 and the carrier number `5551001` (rings 1 s, answers,
//! talks 1 s, hangs up).
//!
//! 1. Baseline, no service: the raw `Originate` action the service would send (built by
//!    `originate_action`), through [`AmiClient::send`]: round trip to `Response: Success`, and
//!    the time until the carrier answered (`DialEnd ANSWER` of the pre-assigned uniqueid).
//! 2. The service (`spawn_originate_service` on a temporary store), in waves: one click-to-call
//!    per phone; once all are answered (the phones are in use), a burst of extra jobs on the same
//!    phones for at most `ORIGINATE_BURST_MS`, which end as "source off-hook" (counted apart);
//!    then every job is waited to its final state.
//!
//! Figures: accepted jobs/s in the burst (`start_job` returns), completed calls/s over the
//! service phase, `start_job` → Answered p50/p95 and its ratio to the raw Originate → answered,
//! and `start_job` latency against the raw Originate round trip.
//!
//! `cargo bench --bench originate_lab` (env `ORIGINATE_RAW_WAVES` 2, `ORIGINATE_WAVES` 5,
//! `ORIGINATE_BURST_MS` 400, `ORIGINATE_BURST_MAX` 200).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::DeviceStateList;
use centralita::asterisk::ami::{AmiClient, AmiMessage, AmiSettings};
use centralita::asterisk::call_control::{originate_action, spawn_originate_service};
use centralita::asterisk::events::EventHub;
use centralita::core::audit::Actor;
use centralita::core::journal::UnixTime;
use centralita::core::originate::{
    Extension, JobState, OriginateId, OriginateJob, OriginateRequest, PhoneNumber,
};
use centralita::core::originate_service::{JobChange, OriginateService, OriginateSettings};
use centralita::core::Secret;
use centralita::store::originate_jobs::SqliteOriginateStore;
use support::{ms, ms_opt, quantile};
use tokio::sync::broadcast;

const PHONES: [&str; 4] = ["1001", "1002", "1003", "1004"];
const DESTINATION: &str = "5551001";
const CONTEXT: &str = "centralita-originate";
/// Device states in which a phone is busy (as the engine's call control sees it).
const IN_USE: &[&str] = &["INUSE", "BUSY", "ONHOLD", "RINGINUSE"];

fn request(phone: &str) -> OriginateRequest {
    OriginateRequest::click_to_call(
        Extension::parse(phone).expect("extension"),
        PhoneNumber::parse(DESTINATION).expect("number"),
    )
    .with_ring_timeout(Duration::from_secs(20))
    .expect("ring timeout")
}

/// Device states of the lab phones, kept from `DeviceStateChange` events.
#[derive(Clone, Default)]
struct Devices(Arc<Mutex<HashMap<String, String>>>);

impl Devices {
    fn set(&self, ev: &AmiMessage) {
        if let (Some(device), Some(state)) = (ev.get("Device"), ev.get("State")) {
            if let Ok(mut map) = self.0.lock() {
                map.insert(device.to_string(), state.to_string());
            }
        }
    }

    async fn load(&self, client: &AmiClient) {
        if let Ok((_, events)) = client.send_list(&DeviceStateList).await {
            for ev in &events {
                self.set(ev);
            }
        }
    }

    fn follow(&self, client: &AmiClient) {
        let devices = self.clone();
        let mut events = client.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ev) if ev.event_name() == Some("DeviceStateChange") => devices.set(&ev),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    fn all(&self, busy: bool) -> bool {
        let map = self.0.lock().map(|m| m.clone()).unwrap_or_default();
        PHONES.iter().all(|p| {
            let state = map
                .get(&format!("PJSIP/{p}"))
                .map(String::as_str)
                .unwrap_or("UNKNOWN");
            IN_USE.contains(&state) == busy
        })
    }

    /// Waits until every phone is busy (`true`) or free (`false`); false after `within`.
    async fn wait_all(&self, busy: bool, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while !self.all(busy) {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

/// One raw originate: round trip of the action and time until the destination answered.
struct RawCall {
    rtt: Duration,
    answered: Option<Duration>,
}

/// A wave of raw `Originate`s, one per phone, without the service.
async fn raw_wave(client: &AmiClient) -> Vec<RawCall> {
    let mut events = client.subscribe();
    let mut sent = Vec::new();
    for phone in PHONES {
        let job = OriginateJob::new(
            OriginateId::generate(),
            request(phone),
            Duration::from_secs(20),
            UnixTime::now(),
        );
        let action = originate_action(&job, CONTEXT).expect("action");
        let client = client.clone();
        sent.push((
            format!("{}-src", job.id),
            tokio::spawn(async move {
                let t0 = Instant::now();
                let result = client.send(&action).await;
                (t0, t0.elapsed(), result.is_ok())
            }),
        ));
    }
    let mut started = HashMap::new();
    let mut calls = HashMap::new();
    for (uid, task) in sent {
        let (t0, rtt, ok) = task.await.expect("send task");
        if ok {
            started.insert(uid.clone(), t0);
            calls.insert(
                uid,
                RawCall {
                    rtt,
                    answered: None,
                },
            );
        }
    }
    // Until every call hung up (or 20 s).
    let mut open = started.len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while open > 0 {
        let ev = match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => break,
            Ok(Err(broadcast::error::RecvError::Closed)) => break,
            Ok(Err(_)) => continue,
            Ok(Ok(ev)) => ev,
        };
        let Some(uid) = ev.get("Uniqueid") else {
            continue;
        };
        let (Some(t0), Some(call)) = (started.get(uid), calls.get_mut(uid)) else {
            continue;
        };
        match ev.event_name() {
            Some("DialEnd") if ev.get("DialStatus") == Some("ANSWER") => {
                call.answered.get_or_insert(t0.elapsed());
            }
            Some("Hangup") => open -= 1,
            _ => {}
        }
    }
    calls.into_values().collect()
}

/// What the service phase records about one job.
#[derive(Default)]
struct JobTimes {
    started: Option<Instant>,
    answered: Option<Duration>,
    done: Option<JobState>,
}

/// Applies the changes received so far to `jobs`.
fn drain_changes(
    rx: &mut broadcast::Receiver<JobChange>,
    jobs: &mut HashMap<OriginateId, JobTimes>,
) {
    loop {
        match rx.try_recv() {
            Ok(change) => {
                let t = jobs.entry(change.id).or_default();
                if change.state == JobState::Answered {
                    if let Some(s) = t.started {
                        t.answered.get_or_insert(s.elapsed());
                    }
                }
                if change.state.is_final() {
                    t.done = Some(change.state);
                }
            }
            Err(broadcast::error::TryRecvError::Lagged(n)) => {
                eprintln!("warning: missed {n} job changes");
            }
            Err(_) => return,
        }
    }
}

/// Waits until `pred` holds for every job in `ids` (changes applied as they come).
async fn wait_jobs(
    rx: &mut broadcast::Receiver<JobChange>,
    jobs: &mut HashMap<OriginateId, JobTimes>,
    ids: &[OriginateId],
    within: Duration,
    pred: impl Fn(&JobTimes) -> bool,
) -> bool {
    let deadline = Instant::now() + within;
    loop {
        drain_changes(rx, jobs);
        if ids.iter().all(|id| jobs.get(id).is_some_and(&pred)) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn start(
    svc: &OriginateService,
    phone: &str,
    jobs: &mut HashMap<OriginateId, JobTimes>,
    accept: &mut Vec<Duration>,
) -> OriginateId {
    let t0 = Instant::now();
    let id = svc
        .start_job(&Actor::engine(), request(phone))
        .await
        .expect("job stored");
    accept.push(t0.elapsed());
    jobs.entry(id.clone()).or_default().started = Some(t0);
    id
}

fn p(samples: &[Duration], q: f64) -> String {
    quantile(samples, q)
        .map(|d| format!("{:.1}", ms(d)))
        .unwrap_or_else(|| "-".into())
}

fn ratio(a: Option<Duration>, b: Option<Duration>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if !b.is_zero() => {
            Some((a.as_secs_f64() / b.as_secs_f64() * 1000.0).round() / 1000.0)
        }
        _ => None,
    }
}

#[tokio::main]
async fn main() {
    if !support::lab_ami_answers() {
        println!("lab not up: skipped");
        support::write_json(
            "originate_lab",
            &serde_json::json!({"bench": "originate_lab", "skipped": "lab not up"}),
        );
        return;
    }
    let raw_waves = support::env_num("ORIGINATE_RAW_WAVES", 2);
    let waves = support::env_num("ORIGINATE_WAVES", 5);
    let burst_for = Duration::from_millis(support::env_num("ORIGINATE_BURST_MS", 400));
    let burst_max = support::env_num("ORIGINATE_BURST_MAX", 200) as usize;
    let bench_started = Instant::now();

    let (host, port, user, secret) = support::lab_ami();
    let client = AmiClient::connect(AmiSettings::new(host, port, user, Secret::new(secret)))
        .await
        .expect("login to the lab's AMI");
    let devices = Devices::default();
    devices.follow(&client);
    devices.load(&client).await;
    if !devices.wait_all(false, Duration::from_secs(10)).await {
        println!("phones 1001-1004 are not all free after 10 s: skipped");
        return;
    }

    // 1. Baseline: raw Originate, no service.
    let mut raw = Vec::new();
    for _ in 0..raw_waves {
        raw.extend(raw_wave(&client).await);
        devices.wait_all(false, Duration::from_secs(10)).await;
    }
    let raw_rtt: Vec<Duration> = raw.iter().map(|c| c.rtt).collect();
    let raw_answer: Vec<Duration> = raw.iter().filter_map(|c| c.answered).collect();

    // 2. The service, in waves.
    let dir =
        std::env::temp_dir().join(format!("centralita-bench-originate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = Arc::new(SqliteOriginateStore::open(&dir.join("store.db")).expect("store opens"));
    // The burst floods one principal on purpose: the outbound policy's limits would refuse it.
    let settings = OriginateSettings {
        policy: Arc::new(centralita::core::outbound_policy::OutboundPolicy::unrestricted()),
        ..OriginateSettings::default()
    };
    let svc = spawn_originate_service(&EventHub::start(&client), store, CONTEXT, settings)
        .await
        .expect("service starts");
    let mut rx = svc.changes();
    let mut jobs: HashMap<OriginateId, JobTimes> = HashMap::new();
    let mut accept_first = Vec::new();
    let mut accept_burst = Vec::new();
    let mut burst_jobs = 0usize;
    let mut burst_time = Duration::ZERO;
    let mut primaries = Vec::new();
    let mut bursts = Vec::new();
    let mut incomplete = 0usize;
    let phase_started = Instant::now();
    for _ in 0..waves {
        if !devices.wait_all(false, Duration::from_secs(10)).await {
            eprintln!("warning: phones still busy after 10 s");
        }
        let mut wave = Vec::new();
        for phone in PHONES {
            wave.push(start(&svc, phone, &mut jobs, &mut accept_first).await);
        }
        primaries.extend(wave.iter().cloned());
        let answered = wait_jobs(&mut rx, &mut jobs, &wave, Duration::from_secs(20), |t| {
            t.answered.is_some() || t.done.is_some()
        })
        .await;
        // The burst only while every phone is on its call.
        if answered && devices.wait_all(true, Duration::from_millis(500)).await {
            let t0 = Instant::now();
            let mut n = 0usize;
            while t0.elapsed() < burst_for && n < burst_max {
                let id = start(&svc, PHONES[n % PHONES.len()], &mut jobs, &mut accept_burst).await;
                bursts.push(id.clone());
                wave.push(id);
                n += 1;
            }
            burst_time += t0.elapsed();
            burst_jobs += n;
        }
        if !wait_jobs(&mut rx, &mut jobs, &wave, Duration::from_secs(30), |t| {
            t.done.is_some()
        })
        .await
        {
            incomplete += wave
                .iter()
                .filter(|id| jobs.get(*id).is_none_or(|t| t.done.is_none()))
                .count();
        }
    }
    let phase = phase_started.elapsed();
    svc.shutdown();
    let _ = client.logoff().await;
    let _ = std::fs::remove_dir_all(&dir);

    // Figures.
    let mut states: BTreeMap<&'static str, usize> = BTreeMap::new();
    for t in jobs.values() {
        *states
            .entry(t.done.map(JobState::as_str).unwrap_or("not final"))
            .or_default() += 1;
    }
    let count = |ids: &[OriginateId], s: JobState| {
        ids.iter()
            .filter(|id| jobs.get(*id).and_then(|t| t.done) == Some(s))
            .count()
    };
    let calls_completed = count(&primaries, JobState::HungUp);
    let off_hook = count(&bursts, JobState::SourceOffHook);
    let finals = jobs.values().filter(|t| t.done.is_some()).count();
    let svc_answer: Vec<Duration> = primaries
        .iter()
        .filter_map(|id| jobs.get(id).and_then(|t| t.answered))
        .collect();
    let accepted_per_s = burst_jobs as f64 / burst_time.as_secs_f64().max(1e-9);
    let calls_per_s = calls_completed as f64 / phase.as_secs_f64();
    let finals_per_s = finals as f64 / phase.as_secs_f64();
    let mut accept_all = accept_first.clone();
    accept_all.extend(accept_burst.iter().copied());

    println!(
        "originate_lab: phones 1001-1004 → {DESTINATION}; {raw_waves} raw waves, {waves} service waves, {:.1} s in all",
        bench_started.elapsed().as_secs_f64()
    );
    println!();
    println!(
        "{:<46} {:>6} {:>9} {:>9}",
        "latency (ms)", "n", "p50", "p95"
    );
    let row = |name: &str, s: &[Duration]| {
        println!(
            "{name:<46} {:>6} {:>9} {:>9}",
            s.len(),
            p(s, 0.5),
            p(s, 0.95)
        );
    };
    row("raw Originate round trip (baseline)", &raw_rtt);
    row("service start_job (returns after the store)", &accept_all);
    row("raw Originate → answered (baseline)", &raw_answer);
    row("service start_job → Answered", &svc_answer);
    let answer_ratio = ratio(quantile(&svc_answer, 0.5), quantile(&raw_answer, 0.5));
    let answer_ratio95 = ratio(quantile(&svc_answer, 0.95), quantile(&raw_answer, 0.95));
    let accept_ratio = ratio(quantile(&accept_all, 0.5), quantile(&raw_rtt, 0.5));
    println!();
    println!(
        "ratio service/raw, time to answered: p50 {} p95 {}",
        answer_ratio.map_or("-".into(), |r| format!("{r:.3}")),
        answer_ratio95.map_or("-".into(), |r| format!("{r:.3}"))
    );
    println!(
        "ratio start_job / raw Originate round trip (p50): {}",
        accept_ratio.map_or("-".into(), |r| format!("{r:.3}"))
    );
    println!();
    println!("{:<46} {:>10}", "throughput", "per s");
    println!(
        "{:<46} {:>10.1}",
        format!(
            "accepted jobs (burst: {burst_jobs} in {:.0} ms)",
            ms(burst_time)
        ),
        accepted_per_s
    );
    println!(
        "{:<46} {:>10.2}",
        format!("completed calls (hungup: {calls_completed})"),
        calls_per_s
    );
    println!(
        "{:<46} {:>10.2}",
        format!("jobs reaching a final state ({finals})"),
        finals_per_s
    );
    println!();
    println!(
        "final states: {states:?}; burst jobs ending source off-hook: {off_hook}/{}",
        bursts.len()
    );
    if incomplete > 0 {
        println!("warning: {incomplete} jobs not final when their wave timed out");
    }

    support::write_json(
        "originate_lab",
        &serde_json::json!({
            "bench": "originate_lab",
            "destination": DESTINATION,
            "raw_waves": raw_waves,
            "waves": waves,
            "raw_originate_rtt_ms": {"n": raw_rtt.len(), "p50": ms_opt(quantile(&raw_rtt, 0.5)), "p95": ms_opt(quantile(&raw_rtt, 0.95))},
            "start_job_ms": {"n": accept_all.len(), "p50": ms_opt(quantile(&accept_all, 0.5)), "p95": ms_opt(quantile(&accept_all, 0.95))},
            "raw_originate_to_answered_ms": {"n": raw_answer.len(), "p50": ms_opt(quantile(&raw_answer, 0.5)), "p95": ms_opt(quantile(&raw_answer, 0.95))},
            "start_job_to_answered_ms": {"n": svc_answer.len(), "p50": ms_opt(quantile(&svc_answer, 0.5)), "p95": ms_opt(quantile(&svc_answer, 0.95))},
            "answered_ratio_service_to_raw_p50": answer_ratio,
            "answered_ratio_service_to_raw_p95": answer_ratio95,
            "start_job_to_raw_rtt_ratio_p50": accept_ratio,
            "accepted_jobs_per_s": accepted_per_s.round(),
            "burst_jobs": burst_jobs,
            "burst_ms": ms(burst_time),
            "completed_calls": calls_completed,
            "completed_calls_per_s": (calls_per_s * 100.0).round() / 100.0,
            "final_jobs_per_s": (finals_per_s * 100.0).round() / 100.0,
            "service_phase_s": (phase.as_secs_f64() * 10.0).round() / 10.0,
            "burst_source_offhook": off_hook,
            "final_states": states,
            "not_final": incomplete,
        }),
    );
}
