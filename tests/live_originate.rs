//! Live tier: originate jobs through [`OriginateService`] against the lab's real Asterisk, SIPp
//! phones 1001-1004 and the SIPp carrier (see `vm/README.md` for the carrier's numbers).
//!
//! What it proves: a click-to-call goes ringing → answered → hung up normally with the
//! pre-assigned uniqueid, and its CDR carries the call data; busy, no answer (the job's ring
//! timeout) and congestion end in their eXpand states; a source already on a call gives "source
//! off-hook"; a cancel while ringing leaves no channel behind; a job answered under one service
//! instance is still answered (and cancellable) under a new instance on the same store.
//!
//! Tests run in parallel; each phone is used by one test at a time (a lock per phone).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::CoreShowChannels;
use centralita::asterisk::ami::{AmiClient, AmiSettings};
use centralita::asterisk::call_control::spawn_originate_service;
use centralita::asterisk::events::EventHub;
use centralita::core::audit::Actor;
use centralita::core::originate::{
    CallData, CallerId, DirectTarget, Extension, JobState, OriginateId, OriginateRequest,
    PhoneNumber, Progress,
};
use centralita::core::originate_service::{OriginateService, OriginateSettings};
use centralita::core::Secret;
use centralita::store::originate_jobs::SqliteOriginateStore;
use tokio::sync::{broadcast, Mutex, MutexGuard};

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn cdr_db() -> PathBuf {
    PathBuf::from(env_or("LAB_ROOT", "/var/cache/centralita/lab-root"))
        .join("var/log/asterisk/master.db")
}

async fn connect() -> AmiClient {
    let port = env_or("LAB_AMI_PORT", "5038")
        .parse()
        .expect("LAB_AMI_PORT");
    let mut s = AmiSettings::new(
        env_or("LAB_AMI_HOST", "127.0.0.1"),
        port,
        env_or("LAB_AMI_USER", "centralita"),
        Secret::new(env_or("LAB_AMI_SECRET", "centralita-lab-ami")),
    );
    s.action_timeout = Duration::from_secs(10);
    AmiClient::connect(s)
        .await
        .expect("the lab's AMI must accept the engine's user: is the lab up? (vm/lab up)")
}

/// A store file of its own for each test.
fn store_path(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "centralita-live-originate-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("store.db")
}

async fn service_on(client: AmiClient, path: &std::path::Path) -> OriginateService {
    let store = Arc::new(SqliteOriginateStore::open(path).expect("store opens"));
    spawn_originate_service(
        &EventHub::start(&client),
        store,
        "centralita-originate",
        OriginateSettings::default(),
    )
    .await
    .expect("service starts")
}

/// One test at a time per phone (1001..=1004).
async fn phone(ext: &str) -> MutexGuard<'static, ()> {
    static LOCKS: OnceLock<[Mutex<()>; 4]> = OnceLock::new();
    let locks = LOCKS.get_or_init(Default::default);
    let i: usize = ext.parse::<usize>().unwrap() - 1001;
    locks[i].lock().await
}

fn c2c(source: &str, dest: &str) -> OriginateRequest {
    OriginateRequest::click_to_call(
        Extension::parse(source).unwrap(),
        PhoneNumber::parse(dest).unwrap(),
    )
    .with_ring_timeout(Duration::from_secs(20))
    .unwrap()
}

/// The states `id` went through until `until` holds (or a final state), within `within`.
async fn states_until(
    changes: &mut broadcast::Receiver<centralita::core::originate_service::JobChange>,
    id: &OriginateId,
    within: Duration,
    until: impl Fn(JobState) -> bool,
) -> Vec<JobState> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, changes.recv()).await {
            Err(_) => panic!("job {id}: timed out after {within:?}; states so far {seen:?}"),
            Ok(Ok(c)) if &c.id == id => {
                seen.push(c.state);
                if until(c.state) || c.state.is_final() {
                    return seen;
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("changes: {e}"),
        }
    }
}

/// Polls the job until `pred` holds.
async fn wait_job(
    svc: &OriginateService,
    id: &OriginateId,
    within: Duration,
    pred: impl Fn(&centralita::core::originate::OriginateJob) -> bool,
) -> centralita::core::originate::OriginateJob {
    let deadline = Instant::now() + within;
    loop {
        let job = svc.status(id).await.expect("status");
        if pred(&job) {
            return job;
        }
        if Instant::now() > deadline {
            panic!("job {id}: condition not reached within {within:?}: {job:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Uniqueids of Asterisk's channels that belong to job `id`.
async fn job_channels(client: &AmiClient, id: &OriginateId) -> Vec<String> {
    let (_, list) = client.send_list(&CoreShowChannels).await.unwrap();
    list.iter()
        .filter_map(|c| c.get("Uniqueid"))
        .filter(|u| u.starts_with(&format!("{id}-")))
        .map(str::to_string)
        .collect()
}

async fn wait_no_channels(client: &AmiClient, id: &OriginateId) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = job_channels(client, id).await;
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!("job {id}: channels still in Asterisk: {left:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (uniqueid, dst, disposition, calldata) of the CDR rows of a call, polled until one has `dst`.
fn cdr_rows(uniqueid: &str, dst: &str) -> Vec<(String, String, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rows: Vec<(String, String, String, String)> = rusqlite::Connection::open_with_flags(
            cdr_db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()
        .and_then(|conn| {
            conn.busy_timeout(Duration::from_secs(2)).ok()?;
            let mut stmt = conn
                .prepare(
                    "SELECT uniqueid, dst, disposition, calldata FROM cdr \
                     WHERE uniqueid = ?1 OR linkedid = ?1 ORDER BY AcctId",
                )
                .ok()?;
            let rows = stmt
                .query_map([uniqueid], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .ok()?
                .filter_map(Result::ok)
                .collect();
            Some(rows)
        })
        .unwrap_or_default();
        if rows.iter().any(|r| r.1 == dst) || Instant::now() > deadline {
            return rows;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[tokio::test]
async fn click_to_call_rings_answers_and_hangs_up_normally_with_call_data_in_the_cdr() {
    let _p = phone("1001").await;
    let client = connect().await;
    let svc = service_on(client.clone(), &store_path("answer")).await;
    let mut changes = svc.changes();
    let request = c2c("1001", "5551004")
        .with_caller_ids(
            Some(CallerId::new(Some("Juan Perez"), None).unwrap()),
            Some(CallerId::new(Some("Netgate"), Some("26001000")).unwrap()),
        )
        .with_call_data(CallData::new(&[("lead", "42"), ("info", "01-43-1")]).unwrap());
    let started = Instant::now();
    let id = svc
        .start_job(&Actor::engine(), request)
        .await
        .expect("job stored");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "id returned at once"
    );
    // Stored before anything else: its status is answerable at once.
    assert_eq!(svc.status(&id).await.unwrap().state, JobState::Ringing);

    let states = states_until(&mut changes, &id, Duration::from_secs(30), |_| false).await;
    assert_eq!(
        states,
        [JobState::Ringing, JobState::Answered, JobState::HungUp]
    );
    let job = svc.status(&id).await.unwrap();
    assert_eq!(job.hangup_cause, Some(16), "normal clearing: {job:?}");
    assert!(job.source_answered_at.is_some() && job.answered_at.is_some());
    assert!(
        job.channels
            .iter()
            .any(|c| c.as_str().starts_with("PJSIP/1001-")),
        "{job:?}"
    );

    let uniqueid = format!("{id}-src");
    let rows = cdr_rows(&uniqueid, "5551004");
    let row = rows
        .iter()
        .find(|r| r.1 == "5551004")
        .unwrap_or_else(|| panic!("a CDR row for {uniqueid}: {rows:?}"));
    assert_eq!(row.0, uniqueid, "the pre-assigned uniqueid is the CDR's");
    assert_eq!(row.2, "ANSWERED");
    assert_eq!(row.3, "lead=42,info=01-43-1", "call data in the CDR");
    svc.shutdown();
}

#[tokio::test]
async fn direct_mode_dials_the_number_first_then_connects_it_to_an_extension() {
    // Callback: the carrier number answers first, then the dialplan target (phone 1001) rings.
    let _p = phone("1001").await;
    let client = connect().await;
    let svc = service_on(client.clone(), &store_path("direct")).await;
    let mut changes = svc.changes();
    let mut events = client.subscribe();
    let request = OriginateRequest::direct(
        PhoneNumber::parse("5551004").unwrap(),
        DirectTarget::new("internal", "1001").unwrap(),
    )
    .with_ring_timeout(Duration::from_secs(20))
    .unwrap()
    .with_call_data(CallData::new(&[("mode", "callback")]).unwrap());
    let id = svc
        .start_job(&Actor::engine(), request)
        .await
        .expect("job stored");
    let states = states_until(&mut changes, &id, Duration::from_secs(30), |_| false).await;
    assert_eq!(
        states,
        [JobState::Ringing, JobState::Answered, JobState::HungUp],
        "direct job {id}"
    );
    // The extension was really connected: phone 1001's channel entered a bridge.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut bridged_phone = false;
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            Ok(Ok(e))
                if e.event_name() == Some("BridgeEnter")
                    && e.get("Channel").unwrap_or("").starts_with("PJSIP/1001-") =>
            {
                bridged_phone = true;
                break;
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            _ => {}
        }
    }
    // BridgeEnter may have passed before the subscription caught it; the CDR says it too.
    let rows = cdr_rows(&format!("{id}-dst"), "5551004");
    assert!(
        bridged_phone || !rows.is_empty(),
        "the number was dialed and the extension bridged: {rows:?}"
    );
    let row = rows
        .iter()
        .find(|r| r.1 == "5551004")
        .unwrap_or_else(|| panic!("a CDR row for the dialed number: {rows:?}"));
    assert_eq!(row.2, "ANSWERED");
    assert_eq!(row.3, "mode=callback", "call data in the CDR");
    svc.shutdown();
}

async fn check_outcome(source: &str, dest: &str, ring: Option<u64>, want: JobState) -> Duration {
    let _p = phone(source).await;
    let client = connect().await;
    let svc = service_on(client, &store_path("outcome")).await;
    let mut changes = svc.changes();
    let mut request = c2c(source, dest);
    if let Some(s) = ring {
        request = request.with_ring_timeout(Duration::from_secs(s)).unwrap();
    }
    let started = Instant::now();
    let id = svc.start_job(&Actor::engine(), request).await.unwrap();
    let states = states_until(&mut changes, &id, Duration::from_secs(40), |_| false).await;
    assert_eq!(states.last(), Some(&want), "{source} → {dest}: {states:?}");
    assert!(!states.contains(&JobState::Answered), "{states:?}");
    assert_eq!(svc.status(&id).await.unwrap().state, want);
    svc.shutdown();
    started.elapsed()
}

#[tokio::test]
async fn busy_number_gives_busy() {
    check_outcome("1002", "5552000", None, JobState::Busy).await;
}

#[tokio::test]
async fn unanswered_number_gives_no_answer_after_the_jobs_ring_timeout() {
    let took = check_outcome("1003", "5553000", Some(5), JobState::NoAnswer).await;
    // ~1.5 s of source ringing + 5 s of destination ringing.
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(15),
        "{took:?}"
    );
}

#[tokio::test]
async fn congested_number_gives_congestion() {
    check_outcome("1004", "5554000", None, JobState::Unavailable).await;
}

#[tokio::test]
async fn source_on_a_call_gives_source_off_hook_and_a_cancel_ends_the_call() {
    let _p = phone("1001").await;
    let client = connect().await;
    let svc = service_on(client.clone(), &store_path("inuse")).await;
    let mut changes = svc.changes();
    let long = svc
        .start_job(&Actor::engine(), c2c("1001", "5551000"))
        .await
        .unwrap();
    let states = states_until(&mut changes, &long, Duration::from_secs(20), |s| {
        s == JobState::Answered
    })
    .await;
    assert_eq!(states.last(), Some(&JobState::Answered), "{states:?}");
    // Device state changes reach AMI asynchronously.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let second = svc
        .start_job(&Actor::engine(), c2c("1001", "5551001"))
        .await
        .unwrap();
    let states = states_until(&mut changes, &second, Duration::from_secs(20), |_| false).await;
    assert_eq!(states.last(), Some(&JobState::SourceOffHook), "{states:?}");
    assert!(
        job_channels(&client, &second).await.is_empty(),
        "never rung"
    );

    // Cancel while up.
    let job = svc
        .cancel(&Actor::engine(), &long)
        .await
        .expect("cancel an answered job");
    assert_eq!(job.state, JobState::Cancelled);
    wait_no_channels(&client, &long).await;
    assert_eq!(svc.status(&long).await.unwrap().state, JobState::Cancelled);
    assert!(
        svc.cancel(&Actor::engine(), &long).await.is_err(),
        "a finished job cannot be cancelled"
    );
    svc.shutdown();
}

#[tokio::test]
async fn cancel_while_ringing_leaves_no_channel() {
    let _p = phone("1002").await;
    let client = connect().await;
    let svc = service_on(client.clone(), &store_path("cancel")).await;
    let id = svc
        .start_job(&Actor::engine(), c2c("1002", "5553000"))
        .await
        .unwrap();
    wait_job(&svc, &id, Duration::from_secs(15), |j| {
        j.progress == Progress::DestinationRinging
    })
    .await;
    assert_eq!(job_channels(&client, &id).await, [format!("{id}-src")]);
    let job = svc
        .cancel(&Actor::engine(), &id)
        .await
        .expect("cancel while ringing");
    assert_eq!(job.state, JobState::Cancelled);
    wait_no_channels(&client, &id).await;
    // Later events (the hangup) do not change the state.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(svc.status(&id).await.unwrap().state, JobState::Cancelled);
    svc.shutdown();
}

#[tokio::test]
async fn a_job_outlives_the_service_instance_that_started_it() {
    let _p = phone("1003").await;
    let path = store_path("restart");
    let first = service_on(connect().await, &path).await;
    let mut changes = first.changes();
    let id = first
        .start_job(&Actor::engine(), c2c("1003", "5551000"))
        .await
        .unwrap();
    states_until(&mut changes, &id, Duration::from_secs(20), |s| {
        s == JobState::Answered
    })
    .await;
    first.shutdown();
    drop(first);

    // A new engine on the same store: the job is there, answered (its call is still up).
    let client = connect().await;
    let second = service_on(client.clone(), &path).await;
    second.resync().await;
    let job = second.status(&id).await.expect("status after restart");
    assert_eq!(job.state, JobState::Answered, "{job:?}");
    // ... and can be cancelled: its channel names were stored.
    second
        .cancel(&Actor::engine(), &id)
        .await
        .expect("cancel after restart");
    wait_no_channels(&client, &id).await;
    assert_eq!(second.status(&id).await.unwrap().state, JobState::Cancelled);
    second.shutdown();
}
