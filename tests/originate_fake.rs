//! Fast tier: the originate service and its AMI adapter against the scripted fake AMI
//! (`tests/support/fake_ami.rs`): the job is in the store before `Originate` reaches the wire,
//! events with the pre-assigned uniqueid drive its state, a source in use is never rung, and an
//! `OriginateResponse` that overtakes the action's response is still matched by `ActionID`.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use centralita::core::audit::{ActionFilter, ActionJournal, Actor};
use centralita::core::originate::{
    CallData, Extension, JobState, OriginateId, OriginateRequest, OriginateStore, PhoneNumber,
};
use centralita::core::originate_service::{JobChange, OriginateService, OriginateSettings};
use centralita::core::TimeRange;
use centralita::store::originate_jobs::SqliteOriginateStore;
use centralita::store::SqliteActionJournal;
use support::fake_ami::{FakeAmi, Incoming};
use tokio::sync::broadcast;

fn store_path(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "centralita-originate-fake-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("store.db")
}

/// Connects, starts the service and answers its `DeviceStateList` (1001 and 1002 idle).
async fn setup(fake: &mut FakeAmi, path: &std::path::Path) -> OriginateService {
    let store = Arc::new(SqliteOriginateStore::open(path).unwrap());
    fake.originate_service(
        store,
        "centralita-originate",
        OriginateSettings::default(),
        &["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"],
    )
    .await
    .0
}

fn event(o: &Incoming, fields: &[(&str, &str)]) {
    o.out.message(fields);
}

async fn final_states(
    changes: &mut broadcast::Receiver<JobChange>,
    id: &OriginateId,
) -> Vec<JobState> {
    let mut seen = Vec::new();
    loop {
        let c = tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await
            .unwrap_or_else(|_| panic!("no final state; saw {seen:?}"))
            .unwrap();
        if &c.id == id {
            seen.push(c.state);
            if c.state.is_final() {
                return seen;
            }
        }
    }
}

fn c2c(source: &str) -> OriginateRequest {
    OriginateRequest::click_to_call(
        Extension::parse(source).unwrap(),
        PhoneNumber::parse("5551004").unwrap(),
    )
    .with_call_data(CallData::new(&[("lead", "42"), ("camp", "7")]).unwrap())
}

#[tokio::test]
async fn job_is_stored_before_originate_and_events_drive_its_state() {
    let mut fake = FakeAmi::start().await;
    let path = store_path("events");
    let journal = Arc::new(SqliteActionJournal::open(&path).unwrap());
    let svc = setup(&mut fake, &path)
        .await
        .with_action_journal(journal.clone());
    let mut changes = svc.changes();
    let reader = SqliteOriginateStore::open(&path).unwrap();

    let crm = Actor::new("expand", "crm-7");
    let id = svc.start_job(&crm, c2c("1001")).await.unwrap();
    let o = fake.next_action().await;
    // The job is in the store while the Originate is still unanswered on the wire.
    let stored = reader
        .get(&id)
        .unwrap()
        .expect("stored before the action was sent");
    assert_eq!(stored.state, JobState::Ringing);
    assert_eq!(o.action(), "Originate");
    assert_eq!(o.get("Channel"), Some("PJSIP/1001"));
    assert_eq!(o.get("Context"), Some("centralita-originate"));
    assert_eq!(o.get("Exten"), Some("5551004"));
    assert_eq!(o.get("Timeout"), Some("30000"), "the default ring timeout");
    let uid = format!("{id}-src");
    assert_eq!(o.get("ChannelId"), Some(uid.as_str()));
    let vars: Vec<&str> = o
        .fields
        .iter()
        .filter(|(k, _)| k == "Variable")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(vars.contains(&"CALLDATA=lead=42\\,camp=7"), "{vars:?}");
    assert!(vars.contains(&"DIAL_TIMEOUT=30"), "{vars:?}");
    o.respond("Success", &[("Message", "Originate successfully queued")]);

    let chan = "PJSIP/1001-00000007";
    for fields in [
        vec![
            ("Event", "Newchannel"),
            ("Channel", chan),
            ("Uniqueid", &uid),
        ],
        vec![
            ("Event", "Newstate"),
            ("ChannelState", "5"),
            ("Uniqueid", &uid),
        ],
        vec![
            ("Event", "Newstate"),
            ("ChannelState", "6"),
            ("Uniqueid", &uid),
        ],
        vec![
            ("Event", "OriginateResponse"),
            ("ActionID", o.action_id()),
            ("Response", "Success"),
            ("Reason", "4"),
            ("Uniqueid", &uid),
        ],
        vec![
            ("Event", "DialBegin"),
            ("Uniqueid", &uid),
            ("DestUniqueid", "99.1"),
        ],
        vec![
            ("Event", "DialEnd"),
            ("Uniqueid", &uid),
            ("DestUniqueid", "99.1"),
            ("DialStatus", "ANSWER"),
        ],
        vec![("Event", "Hangup"), ("Uniqueid", &uid), ("Cause", "16")],
    ] {
        event(&o, &fields);
    }
    assert_eq!(
        final_states(&mut changes, &id).await,
        [JobState::Ringing, JobState::Answered, JobState::HungUp]
    );
    let job = reader.get(&id).unwrap().unwrap();
    assert_eq!(job.state, JobState::HungUp);
    assert_eq!(job.hangup_cause, Some(16));
    assert_eq!(job.channels[0].as_str(), chan);
    assert!(
        svc.cancel(&Actor::engine(), &id).await.is_err(),
        "a finished job cannot be cancelled"
    );
    // Both requests are in the journal of the engine's actions: who, what, outcome; no call data.
    let entries = journal
        .list(TimeRange::all(), &ActionFilter::default())
        .unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let (start, cancel) = (&entries[0], &entries[1]);
    assert_eq!(
        (
            start.api.as_str(),
            start.principal.as_str(),
            start.action.as_str()
        ),
        ("expand", "crm-7", "originate.start")
    );
    assert_eq!(start.target, id.to_string());
    assert_eq!(
        start.params,
        "mode=click_to_call source=1001 destination=5551004"
    );
    assert_eq!(start.outcome, "ok");
    assert_eq!(
        (cancel.api.as_str(), cancel.action.as_str()),
        ("engine", "originate.cancel")
    );
    assert!(cancel.outcome.starts_with("error: "), "{}", cancel.outcome);
}

#[tokio::test]
async fn source_in_use_is_not_rung_and_an_early_response_is_matched_by_action_id() {
    let mut fake = FakeAmi::start().await;
    let path = store_path("inuse");
    let svc = setup(&mut fake, &path).await;
    let mut changes = svc.changes();

    // Make 1002 busy through an event, as Asterisk reports a phone on a call.
    let first = svc.start_job(&Actor::engine(), c2c("1001")).await.unwrap();
    let o = fake.next_action().await;
    event(
        &o,
        &[
            ("Event", "DeviceStateChange"),
            ("Device", "PJSIP/1002"),
            ("State", "INUSE"),
        ],
    );
    // The OriginateResponse overtakes the action's response and carries no uniqueid of ours.
    event(
        &o,
        &[
            ("Event", "OriginateResponse"),
            ("ActionID", o.action_id()),
            ("Response", "Failure"),
            ("Reason", "5"),
            ("Uniqueid", "<null>"),
        ],
    );
    o.respond("Success", &[("Message", "Originate successfully queued")]);
    assert_eq!(
        final_states(&mut changes, &first).await,
        [JobState::Ringing, JobState::SourceOffHook],
        "source busy is eXpand's OFFHOOK"
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = svc.start_job(&Actor::engine(), c2c("1002")).await.unwrap();
    assert_eq!(
        final_states(&mut changes, &second).await,
        [JobState::Ringing, JobState::SourceOffHook]
    );
    if let Some(a) = fake.try_next_action(Duration::from_millis(300)).await {
        panic!("no action expected for a source in use, got {:?}", a.fields);
    }
    // Unknown ids are eXpand's 0.
    assert!(svc
        .status(&OriginateId::parse("nope").unwrap())
        .await
        .is_err());
}

#[tokio::test]
async fn status_comes_from_the_index_of_stored_ids_kept_in_step_with_starts_and_purges() {
    use centralita::core::originate::{apply, OriginateJob, PbxFact};
    use centralita::core::originate_service::StatusError;
    use centralita::core::UnixTime;

    let mut fake = FakeAmi::start().await;
    let path = store_path("index");
    // Jobs a previous engine left: one finished now, one long past the retention period.
    let store = SqliteOriginateStore::open(&path).unwrap();
    let finished = |id: &str, at: UnixTime| {
        let job = OriginateJob::new(
            OriginateId::parse(id).unwrap(),
            c2c("1001"),
            Duration::from_secs(30),
            at,
        );
        store.insert(&job).unwrap();
        store
            .update(&apply(job.clone(), &PbxFact::NotSent, at))
            .unwrap();
        job.id
    };
    let recent = finished("recent-1", UnixTime::now());
    let ancient = finished("ancient-1", UnixTime(100));

    let svc = setup(&mut fake, &path).await;
    // Read at start: the previous engine's job is answered.
    assert!(svc.status(&recent).await.unwrap().state.is_final());
    // A job written behind the service's back (the invariant rules it out) is not seen: an id
    // the index lacks is answered without the store.
    let behind = OriginateJob::new(
        OriginateId::parse("behind-1").unwrap(),
        c2c("1002"),
        Duration::from_secs(30),
        UnixTime::now(),
    );
    store.insert(&behind).unwrap();
    assert!(matches!(
        svc.status(&behind.id).await,
        Err(StatusError::NotFound(_))
    ));
    // A job this service starts is answered at once.
    let started = svc.start_job(&Actor::engine(), c2c("1003")).await.unwrap();
    assert_eq!(svc.status(&started).await.unwrap().state, JobState::Ringing);
    let _ = fake.next_action().await;
    // Purged (by the service's own purge at start, or now): gone from the store and unknown.
    svc.purge_now().await.unwrap();
    assert!(store.get(&ancient).unwrap().is_none());
    assert!(matches!(
        svc.status(&ancient).await,
        Err(StatusError::NotFound(_))
    ));
    assert!(svc.status(&recent).await.is_ok());
}

#[tokio::test]
async fn a_linked_job_is_handed_on_before_its_call_is_sent_and_a_refused_link_sends_nothing() {
    use centralita::core::originate_service::{Link, StartError};
    let mut fake = FakeAmi::start().await;
    let path = store_path("linked");
    let svc = setup(&mut fake, &path).await;
    let reader = Arc::new(SqliteOriginateStore::open(&path).unwrap());

    // Refused: the job ends unsent, and no Originate reaches the PBX.
    let seen = Arc::new(std::sync::Mutex::new(None));
    let (s, r) = (seen.clone(), reader.clone());
    let refuse: Link = Box::new(move |id| {
        Box::pin(async move {
            let stored = r.get(&id).unwrap().map(|j| j.state);
            *s.lock().unwrap() = Some((id, stored));
            false
        })
    });
    let err = svc
        .start_campaign_job_linked(&Actor::engine(), "Salida", c2c("1001"), refuse)
        .await
        .unwrap_err();
    let (id, stored) = seen.lock().unwrap().clone().expect("the link was called");
    assert!(
        matches!(err, StartError::NotLinked(ref j) if *j == id),
        "{err}"
    );
    assert_eq!(stored, Some(JobState::Ringing), "stored before the link");
    assert!(
        fake.try_next_action(Duration::from_millis(300))
            .await
            .is_none(),
        "nothing sent for a refused link"
    );
    let refused = svc.status(&id).await.unwrap();
    assert_eq!(refused.state, JobState::Unavailable);
    assert!(refused.never_placed() && !refused.vanished, "{refused:?}");

    // Accepted: the link runs before the Originate is sent, and the job is marked sent in the
    // store before the Originate reaches the wire.
    let linked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let l = linked.clone();
    let r = reader.clone();
    let accept: Link = Box::new(move |id| {
        Box::pin(async move {
            let job = r.get(&id).unwrap().unwrap();
            assert!(job.sent_at.is_none(), "not marked sent before the link");
            l.store(true, std::sync::atomic::Ordering::SeqCst);
            true
        })
    });
    let id = svc
        .start_campaign_job_linked(&Actor::engine(), "Salida", c2c("1001"), accept)
        .await
        .unwrap();
    let o = fake.next_action().await;
    assert_eq!(o.action(), "Originate");
    assert!(linked.load(std::sync::atomic::Ordering::SeqCst));
    let stored = reader.get(&id).unwrap().unwrap();
    assert!(
        stored.sent_at.is_some(),
        "marked sent in the store before the write: {stored:?}"
    );
}

#[tokio::test]
async fn a_send_whose_answer_is_lost_with_the_connection_ends_vanished_not_unsent() {
    let mut fake = FakeAmi::start().await;
    let path = store_path("lost");
    let svc = setup(&mut fake, &path).await;
    let mut changes = svc.changes();
    let id = svc.start_job(&Actor::engine(), c2c("1001")).await.unwrap();
    let o = fake.next_action().await;
    assert_eq!(o.action(), "Originate");
    // The Originate reached the PBX; the connection drops before its answer.
    o.out.close();
    assert_eq!(
        final_states(&mut changes, &id).await.last(),
        Some(&JobState::Unavailable)
    );
    let job = svc.status(&id).await.unwrap();
    assert!(job.vanished, "its end was not seen: {job:?}");
    assert!(job.sent_at.is_some() && !job.never_placed(), "{job:?}");
}
