//! Live tier: recordings. The real `centralita serve` ingests and catalogues while a
//! click-to-call from phone 1001 to a carrier number that talks (the carrier sends a tone, the
//! phone talks back) is recorded by the lab's dialplan; then, through the library's
//! [`RecordingsService`] on the engine's store: the recording is catalogued, found by each of its
//! ids (id, uniqueid, linkedid, guid, idcti, path), served as MP3, Ogg and WAV 8 kHz that `lame`,
//! `ogginfo` and a header check accept and whose audio is not silent (`sox stat` RMS); traversal
//! attempts find nothing; the sweep reports nothing missing for that call.

mod live_support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::Getvar;
use centralita::asterisk::ami::action::Setvar;
use centralita::asterisk::ami::AmiClient;
use centralita::asterisk::call_control::spawn_originate_service;
use centralita::asterisk::events::EventHub;
use centralita::core::audit::Actor;
use centralita::core::originate::{CallData, Extension, JobState, OriginateRequest, PhoneNumber};
use centralita::core::originate_service::OriginateSettings;
use centralita::core::recordings::{
    Recording, RecordingError, RecordingKey, RecordingsService, ServeFormat,
};
use centralita::core::{TimeRange, UnixTime};
use centralita::recording_media::MediaCodecs;
use centralita::store::originate_jobs::SqliteOriginateStore;
use centralita::store::SqliteRecordings;
use live_support::{connect, lab, set_queue_members, Engine, Scratch};

/// The tests of this file change the lab's recording policy: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs one originate job through the library's service (its own job store in `scratch`) and
/// returns its id once it reached a final state, which must be "hung up normally".
async fn run_job(
    client: &AmiClient,
    scratch: &Scratch,
    request: OriginateRequest,
) -> centralita::core::originate::OriginateId {
    let originate = spawn_originate_service(
        &EventHub::start(client),
        Arc::new(SqliteOriginateStore::open(&scratch.path().join("jobs.db")).unwrap()),
        "centralita-originate",
        OriginateSettings::default(),
    )
    .await
    .expect("originate service starts");
    let id = originate
        .start_job(&Actor::engine(), request)
        .await
        .expect("job stored");
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let job = originate.status(&id).await.unwrap();
        if job.state.is_final() {
            assert_eq!(job.state, JobState::HungUp, "{job:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the call never ended: {job:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    originate.shutdown();
    id
}

/// Waits until the engine has published `policy` as the dialplan's RECORD_POLICY.
async fn wait_policy(client: &AmiClient, policy: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = client
            .send(&Getvar::new(None, "RECORD_POLICY").unwrap())
            .await
            .expect("Getvar");
        if got.get("Value") == Some(policy) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "RECORD_POLICY never became {policy}: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn service(scratch: &Scratch) -> RecordingsService {
    RecordingsService::new(
        Arc::new(SqliteRecordings::open(&scratch.store()).expect("the engine's store opens")),
        Arc::new(MediaCodecs),
        live_support::recordings(),
        scratch.path().join("cache"),
    )
}

fn wait_catalogued(svc: &RecordingsService, key: &RecordingKey, within: Duration) -> Recording {
    let started = Instant::now();
    loop {
        match svc.find(key) {
            Ok(r) if r.answered && r.size > 0 => return r,
            Ok(_) | Err(RecordingError::NotFound) => {}
            Err(e) => panic!("find: {e:?}"),
        }
        assert!(
            started.elapsed() < within,
            "no catalogued recording for {key:?} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `sox FILE -n stat`'s "RMS amplitude".
fn rms(path: &Path) -> f64 {
    let out = Command::new("sox")
        .arg(path)
        .args(["-n", "stat"])
        .output()
        .expect("sox runs");
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    text.lines()
        .find(|l| l.starts_with("RMS     amplitude"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("sox stat of {}: {text}", path.display()))
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_call_is_catalogued_found_by_each_id_and_served_in_every_format() {
    let _serial = SERIAL.lock().await;
    let scratch = Scratch::new("live-recordings");
    let _engine = Engine::start(scratch.path(), "1");
    let started_at = UnixTime::now();

    // A click-to-call 1001 -> 5551006 (the carrier answers, talks 6 s, hangs up), asking to be
    // recorded, with USCall's idcti in its call data.
    let idcti = format!("ABC123-{}", std::process::id());
    let client = connect().await;
    // The engine published its (default) recording policy as dialplan globals.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let policy = client
            .send(&Getvar::new(None, "RECORD_POLICY").unwrap())
            .await
            .expect("Getvar");
        if policy.get("Value") == Some("always") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "RECORD_POLICY never published: {policy:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let request = OriginateRequest::click_to_call(
        Extension::parse("1001").unwrap(),
        PhoneNumber::parse("5551006").unwrap(),
    )
    .with_ring_timeout(Duration::from_secs(20))
    .unwrap()
    .with_call_data(CallData::new(&[("idcti", idcti.as_str())]).unwrap())
    .with_record(true);
    let id = run_job(&client, &scratch, request).await;

    // Catalogued by the engine from the CDR, within a few polls.
    let svc = service(&scratch);
    let by_idcti = RecordingKey::IdCti(idcti.clone());
    let blocking = svc.clone();
    let rec = tokio::task::spawn_blocking(move || {
        wait_catalogued(&blocking, &by_idcti, Duration::from_secs(30))
    })
    .await
    .unwrap();
    let uniqueid = format!("{id}-src");
    assert_eq!(rec.id.as_str(), uniqueid);
    assert_eq!(
        rec.uniqueid.as_ref().map(|u| u.as_str()),
        Some(uniqueid.as_str())
    );
    let linkedid = rec.linkedid.clone().expect("linkedid").as_str().to_owned();
    assert!(rec.relative_path.day_folder().is_some(), "{rec:?}");
    assert_eq!(rec.idcti.as_deref(), Some(idcti.as_str()));
    assert!(rec.cdr_rowid.is_some());
    assert!(
        rec.duration >= Duration::from_secs(3),
        "about 6 s of talk: {rec:?}"
    );

    tokio::task::spawn_blocking(move || {
        for key in [
            RecordingKey::Id(uniqueid.clone()),
            RecordingKey::UniqueId(uniqueid.clone()),
            RecordingKey::LinkedId(linkedid.clone()),
            RecordingKey::Guid(rec.guid.as_str().to_owned()),
            RecordingKey::Guid(rec.guid.as_str().to_uppercase()),
            RecordingKey::IdCti(idcti.clone()),
            RecordingKey::Path(rec.relative_path.as_str().to_owned()),
        ] {
            assert_eq!(svc.find(&key).expect("found").id, rec.id, "{key:?}");
        }

        // Served in each format.
        let key = RecordingKey::Guid(rec.guid.as_str().to_owned());
        let mp3 = svc.open_as(&key, ServeFormat::Mp3).expect("mp3");
        assert_eq!(mp3.mime, "audio/mpeg");
        let decoded = scratch.path().join("decoded.wav");
        let lame = Command::new("lame")
            .args(["--quiet", "--decode"])
            .arg(&mp3.path)
            .arg(&decoded)
            .status()
            .expect("lame runs");
        assert!(lame.success(), "lame --decode {}", mp3.path.display());
        assert!(rms(&decoded) > 0.02, "decoded MP3 not silent");

        let ogg = svc.open_as(&key, ServeFormat::Ogg).expect("ogg");
        assert_eq!(ogg.mime, "audio/ogg");
        let ogginfo = Command::new("ogginfo")
            .arg(&ogg.path)
            .output()
            .expect("ogginfo runs");
        assert!(
            ogginfo.status.success(),
            "ogginfo: {}",
            String::from_utf8_lossy(&ogginfo.stdout)
        );

        let wav = svc.open_as(&key, ServeFormat::Wav8k).expect("wav");
        assert_eq!(wav.mime, "audio/wav");
        let bytes = std::fs::read(&wav.path).unwrap();
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
        assert_eq!(&bytes[12..16], b"fmt ");
        assert_eq!(le16(&bytes, 20), 1, "PCM");
        assert_eq!(le16(&bytes, 22), 1, "mono");
        assert_eq!(le32(&bytes, 24), 8000, "8000 Hz");
        assert_eq!(le16(&bytes, 34), 16, "16-bit");
        let level = rms(&wav.path);
        assert!(level > 0.02, "recording is silent: RMS {level}");
        // Cached: a second request answers the same file without transcoding again.
        let again = svc.open_as(&key, ServeFormat::Wav8k).unwrap();
        assert_eq!(again.path, wav.path);
        assert!(wav.path.starts_with(scratch.path().join("cache")));

        // Bad ids and traversal attempts find nothing.
        let rel = rec.relative_path.as_str().to_owned();
        for key in [
            RecordingKey::Id("../../etc/passwd".into()),
            RecordingKey::Id("/etc/passwd".into()),
            RecordingKey::Id(format!("{}/{}", &rel[..8], rec.id)),
            RecordingKey::Path("../../../../etc/passwd".into()),
            RecordingKey::Path("/etc/passwd".into()),
            RecordingKey::Path(format!("{}/../../../../etc/passwd", &rel[..8])),
            RecordingKey::Path("%2e%2e/%2e%2e/etc/passwd".into()),
            RecordingKey::Guid("00000000-0000-0000-0000-000000000000".into()),
            RecordingKey::UniqueId("nope".into()),
        ] {
            for format in [ServeFormat::Mp3, ServeFormat::Wav8k] {
                assert!(
                    matches!(svc.open_as(&key, format), Err(RecordingError::NotFound)),
                    "{key:?}"
                );
            }
        }

        // The sweep finds nothing missing for this call.
        let range = TimeRange::new(
            UnixTime(started_at.seconds() - 5),
            UnixTime(UnixTime::now().seconds() + 5),
        );
        let report = svc.sweep(range).expect("sweep");
        assert!(!report.missing_files.contains(&rec.id), "{report:?}");
        assert!(
            !report.recordings_without_call.contains(&rec.id),
            "{report:?}"
        );
        assert!(
            !report
                .answered_calls_without_recording
                .contains(&rec.linkedid.as_ref().unwrap().as_str().to_owned()),
            "{report:?}"
        );
        assert!(!report.files_not_catalogued.contains(&rel), "{report:?}");
    })
    .await
    .unwrap();
}

/// Puts the lab's default recording policy back when dropped (dialplan globals outlive the
/// engine that set them) and takes the test's member out of q_soporte, even if the test failed.
struct RestorePolicy;

impl Drop for RestorePolicy {
    fn drop(&mut self) {
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let client = connect().await;
                for (name, value) in [("RECORD_POLICY", "always"), ("RECORD_QUEUES", "")] {
                    let _ = client.send(&Setvar::new(None, name, value).unwrap()).await;
                }
                let _ = client
                    .send(
                        &centralita::asterisk::ami::action::QueueRemove::new(
                            "q_soporte",
                            "PJSIP/1007",
                        )
                        .unwrap(),
                    )
                    .await;
                let _ = client.logoff().await;
            });
        })
        .join()
        .ok();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn per_queue_policy_records_listed_queues_with_queue_and_agent_and_skips_unasked_jobs() {
    let _serial = SERIAL.lock().await;
    let _restore = RestorePolicy;
    let scratch = Scratch::new("live-recordings-policy");
    let _engine = Engine::start_with(
        scratch.path(),
        "1",
        "[recordings]\npolicy = \"per_queue\"\nqueues = [\"q_soporte\"]\n",
    );
    let client = connect().await;
    wait_policy(&client, "per_queue").await;
    set_queue_members(&client, "q_soporte", &["PJSIP/1007".to_string()]).await;

    // A queue call into q_soporte (listed): recorded, catalogued with its queue and agent.
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000;
    let caller = format!("0955{stamp:06}");
    let out = lab(&[
        "call-in", "--did", "26002000", "--from", &caller, "--talk", "3", "--wait",
    ]);
    assert!(
        out.status.success(),
        "call-in: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svc = service(&scratch);
    // The caller's answered CDR names the recording's uniqueid.
    let call_uid = {
        let store = scratch.store();
        let caller = caller.clone();
        tokio::task::spawn_blocking(move || {
            use centralita::core::JournalStore;
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let hit = centralita::store::SqliteJournal::open_read_only(&store)
                    .ok()
                    .and_then(|s| s.cdrs(TimeRange::all()).ok())
                    .unwrap_or_default()
                    .into_iter()
                    .find(|c| c.src == caller && !c.recordingfile.is_empty());
                if let Some(c) = hit {
                    return c.uniqueid.as_str().to_owned();
                }
                assert!(
                    Instant::now() < deadline,
                    "no recorded CDR for caller {caller}"
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        })
        .await
        .unwrap()
    };
    let found = {
        let svc = svc.clone();
        let key = RecordingKey::UniqueId(call_uid.clone());
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let rec = wait_catalogued(&svc, &key, Duration::from_secs(30));
                // queue and agent come from queue_log, which may be ingested a poll later
                if rec.queue.is_some() && rec.agent.is_some() {
                    return rec;
                }
                assert!(
                    Instant::now() < deadline,
                    "queue/agent never filled: {rec:?}"
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        })
        .await
        .unwrap()
    };
    assert_eq!(found.queue.as_deref(), Some("q_soporte"), "{found:?}");
    assert_eq!(found.agent.as_deref(), Some("1007"), "{found:?}");

    // A click-to-call that did not ask to be recorded: under per_queue, no recording.
    let request = OriginateRequest::click_to_call(
        Extension::parse("1002").unwrap(),
        PhoneNumber::parse("5551003").unwrap(),
    )
    .with_ring_timeout(Duration::from_secs(20))
    .unwrap();
    let id = run_job(&client, &scratch, request).await;
    let uniqueid = format!("{id}-src");
    // Its CDR is ingested (the call happened) but names no recording, and none is catalogued.
    let cdr_rows = {
        let store = scratch.store();
        let uid = uniqueid.clone();
        tokio::task::spawn_blocking(move || {
            use centralita::core::JournalStore;
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let rows: Vec<_> = centralita::store::SqliteJournal::open_read_only(&store)
                    .ok()
                    .and_then(|s| s.cdrs(TimeRange::all()).ok())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| c.uniqueid.as_str() == uid)
                    .collect();
                if rows.iter().any(|c| c.dst == "5551003") {
                    return rows;
                }
                assert!(
                    Instant::now() < deadline,
                    "the job's CDR was never ingested"
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        })
        .await
        .unwrap()
    };
    assert!(
        cdr_rows.iter().all(|c| c.recordingfile.is_empty()),
        "not recorded under per_queue without RECORD=yes: {cdr_rows:?}"
    );
    assert!(matches!(
        svc.find(&RecordingKey::UniqueId(uniqueid)),
        Err(RecordingError::NotFound)
    ));

    set_queue_members(&client, "q_soporte", &[]).await;
    client.logoff().await.unwrap();
}
