//! Fast tier: the dialer's recovery at start over the scripted fake AMI
//! (`tests/support/fake_ami.rs`) and a temp store. An engine killed between keeping a call's
//! job with its contact and sending its `Originate` left a job never marked sent: the restart
//! closes the job as not placed (eXpand's 6, never vanished), returns the contact to Pending at
//! once with no attempt and no ledger row, and sends nothing. A job marked sent whose channel
//! is gone is resolved as before: vanished, from its trunk leg's CDR, one attempt. So is a
//! call whose answer was missed while the engine was down (its job saw only a normal clearing
//! and folded it into no answer): the ledger says answered, as Asterisk's CDR does.

mod support;

use std::sync::Arc;
use std::time::Duration;

use centralita::core::campaigns::CampaignName;
use centralita::core::dialer::calls::DialerCallStore;
use centralita::core::dialer::campaign::CampaignState;
use centralita::core::dialer::contact::ContactData;
use centralita::core::dialer::runner::{DialerRunner, PacingBoard, RunnerParts, DIALER_CONTEXT};
use centralita::core::dialer::{
    claim_next, CampaignId, ContactId, ContactState, DialerCampaign, DialerStore, NewContact,
    ZoneName,
};
use centralita::core::directory::QueueName;
use centralita::core::live::SharedLive;
use centralita::core::originate::{
    apply, ChannelRole, DirectTarget, JobState, OriginateId, OriginateJob, OriginateRequest,
    OriginateStore, PbxFact, PhoneNumber,
};
use centralita::core::originate_service::{OriginateService, OriginateSettings};
use centralita::core::{
    CdrRecord, ChannelName, Disposition, Journal, JournalStore, SourceCursor, SourceId, UniqueId,
    UnixTime,
};
use centralita::store::originate_jobs::SqliteOriginateStore;
use centralita::store::{SqliteDialer, SqliteJournal, SqliteJournalReader};
use support::fake_ami::FakeAmi;

const ZONE: &str = "America/Montevideo";

/// Monday 2026-03-09 12:00 in Montevideo: inside the campaign's hours.
const CLAIMED_AT: UnixTime = UnixTime(1_773_068_400);

fn contact(main: &str) -> NewContact {
    NewContact {
        main: PhoneNumber::parse(main).unwrap(),
        alternatives: Vec::new(),
        data: ContactData::default(),
        zone: ZoneName::parse(ZONE).unwrap(),
        priority: 1,
        agent: None,
        callback_at: None,
        name: String::new(),
        info: None,
    }
}

/// A campaign with two contacts claimed, then taken out of Active (the runner only recovers).
fn claimed_pair(dialer: &SqliteDialer) -> (CampaignId, [ContactId; 2]) {
    let mut c = DialerCampaign::new(
        CampaignName::parse("Salida->").unwrap(),
        QueueName::new("q_campanas").unwrap(),
        ZoneName::parse(ZONE).unwrap(),
    );
    c.state = CampaignState::Active;
    let id = dialer.campaign_create(&c).unwrap().unwrap();
    dialer
        .insert_contacts(id, &[contact("55510001"), contact("55510002")], CLAIMED_AT)
        .unwrap();
    let claim = || {
        claim_next(dialer, id, CLAIMED_AT, &jiff::tz::TimeZone::UTC)
            .unwrap()
            .expect("a dialable contact")
            .contact
            .id
    };
    let pair = [claim(), claim()];
    c.state = CampaignState::Incomplete;
    assert!(dialer.campaign_update(id, &c).unwrap());
    (id, pair)
}

/// A dialer call's job stored a minute ago (past the resync's grace).
fn job(number: &str) -> OriginateJob {
    let at = UnixTime(UnixTime::now().seconds() - 60);
    OriginateJob::new(
        OriginateId::generate(),
        OriginateRequest::direct(
            PhoneNumber::parse(number).unwrap(),
            DirectTarget::new(DIALER_CONTEXT, "q_campanas").unwrap(),
        ),
        Duration::from_secs(25),
        at,
    )
}

/// Connects and starts the originate service: answers its `DeviceStateList`, then its
/// resync's `CoreShowChannels` with no channel at all.
async fn originate(fake: &mut FakeAmi, path: &std::path::Path) -> OriginateService {
    let store = Arc::new(SqliteOriginateStore::open(path).unwrap());
    let (svc, _hub) = fake
        .originate_service(
            store,
            "centralita-originate",
            OriginateSettings::default(),
            &[],
        )
        .await;
    let channels = fake.next_action().await;
    assert_eq!(
        channels.action(),
        "CoreShowChannels",
        "only the sent job is asked for"
    );
    channels.respond("Success", &[("EventList", "start")]);
    channels.out.message(&[
        ("Event", "CoreShowChannelsComplete"),
        ("ActionID", channels.action_id()),
        ("EventList", "Complete"),
        ("ListItems", "0"),
    ]);
    svc
}

/// The dialer runner over `dialer`'s store and the originate service `svc` (it only recovers:
/// the campaign is not Active).
fn runner(
    dialer: &Arc<SqliteDialer>,
    svc: &OriginateService,
    path: &std::path::Path,
) -> DialerRunner {
    DialerRunner::spawn(RunnerParts {
        store: dialer.clone(),
        calls: dialer.clone(),
        center: jiff::tz::TimeZone::UTC,
        originate: svc.clone(),
        live: Arc::new(SharedLive::default()),
        journal: Journal::new(Arc::new(SqliteJournalReader::open(path, 2).unwrap())),
        board: Arc::new(PacingBoard::default()),
        schedule: None,
        directory: None,
    })
}

/// The contact once it is no longer in progress (or as it is after `within`).
async fn settled(
    dialer: &SqliteDialer,
    contact: ContactId,
    within: Duration,
) -> centralita::core::dialer::Contact {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let c = dialer.contact(contact).unwrap().unwrap();
        if c.state != ContactState::InProgress || tokio::time::Instant::now() >= deadline {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_call_never_sent_before_a_kill_is_released_and_a_sent_one_is_resolved() {
    let dir = support::TempDir::new("dialer-restart-unsent");
    let path = dir.path().join("store.db");
    let dialer = Arc::new(SqliteDialer::open(&path).unwrap());
    let (campaign, [unsent_contact, sent_contact]) = claimed_pair(&dialer);

    // The killed engine's two calls: each job kept with its contact; only the second one was
    // marked sent (its Originate may have reached the PBX).
    let jobs = SqliteOriginateStore::open(&path).unwrap();
    let unsent = job("55510001");
    let sent = apply(job("55510002"), &PbxFact::Sending, unsent.created_at);
    for (j, c) in [(&unsent, unsent_contact), (&sent, sent_contact)] {
        jobs.insert(j).unwrap();
        assert!(dialer.set_job(c, &j.id).unwrap());
    }

    let mut fake = FakeAmi::start().await;
    let svc = originate(&mut fake, &path).await;
    let _runner = runner(&dialer, &svc, &path);

    // The unsent call: released at once, nothing dialed, nothing counted.
    let released = settled(&dialer, unsent_contact, Duration::from_secs(5)).await;
    assert_eq!(released.state, ContactState::Pending, "{released:?}");
    assert_eq!(released.attempts, 0, "no attempt counted");
    assert!(
        released.next_at <= UnixTime::now(),
        "dialable at once: {released:?}"
    );
    assert!(dialer.attempts_of(unsent_contact).unwrap().is_empty());
    let job = svc.status(&unsent.id).await.unwrap();
    assert_eq!(job.state, JobState::Unavailable, "eXpand's 6: not placed");
    assert!(job.never_placed() && !job.vanished, "{job:?}");
    let in_flight = dialer.in_flight(campaign).unwrap();
    assert!(
        in_flight.iter().all(|f| f.contact.id != unsent_contact),
        "{in_flight:?}"
    );

    // The sent call: vanished, resolved from its CDR (none: a congestion attempt, as before).
    let resolved = settled(&dialer, sent_contact, Duration::from_secs(20)).await;
    assert_eq!(resolved.attempts, 1, "{resolved:?}");
    let job = svc.status(&sent.id).await.unwrap();
    assert!(job.vanished && !job.never_placed(), "{job:?}");
    let ledger = dialer.evidence(campaign, 0, 10).unwrap();
    assert_eq!(
        ledger.len(),
        1,
        "one ledger row, the sent call's: {ledger:?}"
    );
    assert_eq!(ledger[0].2.job, sent.id);

    assert!(
        fake.try_next_action(Duration::from_millis(300))
            .await
            .is_none(),
        "no Originate sent at the restart"
    );
}

/// Connects and starts the originate service with no open job (its resync asks nothing).
async fn originate_nothing_open(fake: &mut FakeAmi, path: &std::path::Path) -> OriginateService {
    let store = Arc::new(SqliteOriginateStore::open(path).unwrap());
    let (svc, _hub) = fake
        .originate_service(
            store,
            "centralita-originate",
            OriginateSettings::default(),
            &[],
        )
        .await;
    svc
}

/// The trunk leg's CDR of a dialer call: the Local channel's dial of the carrier.
fn trunk_leg(callid: &str, disposition: Disposition) -> CdrRecord {
    let start = UnixTime::now().seconds() - 50;
    let answered = disposition == Disposition::Answered;
    CdrRecord {
        source_rowid: 7,
        clid: String::new(),
        src: "5550000".into(),
        dst: "55510001".into(),
        dcontext: "centralita-dialer".into(),
        channel: ChannelName::new("Local/q_campanas@centralita-dialer-00000001;2"),
        dstchannel: Some(ChannelName::new("PJSIP/carrier-00000002")),
        lastapp: "Dial".into(),
        lastdata: "PJSIP/55510001@carrier,25".into(),
        duration: std::time::Duration::from_secs(20),
        billsec: std::time::Duration::from_secs(if answered { 12 } else { 0 }),
        disposition,
        amaflags: String::new(),
        accountcode: String::new(),
        uniqueid: UniqueId::new(format!("{callid}-leg")),
        linkedid: UniqueId::new(callid),
        sequence: 2,
        peeraccount: String::new(),
        userfield: String::new(),
        start: UnixTime(start),
        answer: answered.then_some(UnixTime(start + 8)),
        end: UnixTime(start + 20),
        recordingfile: String::new(),
        calldata: String::new(),
    }
}

#[tokio::test]
async fn a_call_whose_answer_was_missed_is_resolved_from_its_trunk_leg() {
    let dir = support::TempDir::new("dialer-restart-missed");
    let path = dir.path().join("store.db");
    let dialer = Arc::new(SqliteDialer::open(&path).unwrap());
    let (campaign, [missed_contact, _]) = claimed_pair(&dialer);

    // The engine was down while the call was answered: back up, it saw only the Local
    // channel clear normally (cause 16), with no dial status, and folded that into no answer.
    let jobs = SqliteOriginateStore::open(&path).unwrap();
    let fresh = job("55510001");
    let mut missed = apply(fresh, &PbxFact::Sending, UnixTime::now());
    for fact in [PbxFact::DestinationRinging, PbxFact::HungUp { cause: 16 }] {
        missed = apply(missed, &fact, UnixTime::now());
    }
    assert_eq!(missed.state, JobState::NoAnswer);
    jobs.insert(&missed).unwrap();
    assert!(dialer.set_job(missed_contact, &missed.id).unwrap());
    // Asterisk's CDR of the trunk leg says the line answered.
    let callid = missed
        .id
        .channel_uniqueid(ChannelRole::DirectOriginated)
        .as_str()
        .to_owned();
    SqliteJournal::open(&path)
        .unwrap()
        .append_cdrs(
            &SourceId::new("cdr"),
            &[trunk_leg(&callid, Disposition::Answered)],
            SourceCursor::Rowid(7),
        )
        .unwrap();

    let mut fake = FakeAmi::start().await;
    let svc = originate_nothing_open(&mut fake, &path).await;
    let _runner = runner(&dialer, &svc, &path);

    let resolved = settled(&dialer, missed_contact, Duration::from_secs(20)).await;
    assert_eq!(resolved.attempts, 1, "{resolved:?}");
    let ledger = dialer.evidence(campaign, 0, 10).unwrap();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    let evidence = &ledger[0].2;
    assert_eq!(evidence.job, missed.id);
    assert!(
        evidence.answered,
        "the ledger says answered, as the CDR: {evidence:?}"
    );
    let attempts = dialer.attempts_of(missed_contact).unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert!(
        attempts[0].answered_at.is_some(),
        "the answer time is the CDR's: {attempts:?}"
    );
}
