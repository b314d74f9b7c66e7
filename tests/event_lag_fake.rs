//! Fast tier: consumers of AMI events that fall behind the client's bounded broadcast
//! (`RecvError::Lagged`) make good what they missed, over the fake AMI. The originate follower
//! lists the device states again once per lag episode and resyncs the jobs (a phone freed
//! during a storm can place calls, one left in use is refused, a job whose end was missed is
//! settled), without a loop of reloads, and does the same after a reconnect; the live follower rebuilds its state from a snapshot
//! and then stops (a rebuild does not set off the next); the hangup cause recorder keeps every
//! cause of a burst far beyond the channel's capacity; a stalled originate service does not
//! hold up the follower, and gets the `Resync` it is owed once it drains its queue.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::Getvar;
use centralita::asterisk::ami::{AmiClient, AmiSettings};
use centralita::asterisk::call_control::{
    spawn_originate_service, AmiCallControl, UPDATE_CAPACITY,
};
use centralita::asterisk::events::EventHub;
use centralita::asterisk::hangup_causes::spawn_recorder;
use centralita::asterisk::live_follower::LiveFollower;
use centralita::asterisk::queue_control::AmiQueueControl;
use centralita::core::audit::Actor;
use centralita::core::hangup_causes::{HangupCause, HangupCauseStore};
use centralita::core::live::{DeviceStatus, SharedLive};
use centralita::core::originate::{
    CallControl, ChannelRole, Extension, JobState, OriginateId, OriginateRequest, OriginateStore,
    PbxUpdate, PhoneNumber,
};
use centralita::core::originate_service::{JobChange, OriginateService, OriginateSettings};
use centralita::core::{Secret, UnixTime};
use centralita::store::originate_jobs::SqliteOriginateStore;
use centralita::store::SqliteHangupCauses;
use support::fake_ami::{render, FakeAmi, SECRET, USERNAME};
use support::scripted_pbx::ScriptedPbx;
use tokio::sync::broadcast;

/// Noise events in the storm: far beyond any channel capacity used here.
const STORM: usize = 50_000;

fn settings(port: u16, event_capacity: usize) -> AmiSettings {
    let mut s = AmiSettings::new("127.0.0.1", port, USERNAME, Secret::new(SECRET));
    // Generous: a storm is parsed before the actions queued behind it are answered.
    s.action_timeout = Duration::from_secs(30);
    s.keepalive = Duration::ZERO;
    s.event_capacity = event_capacity;
    s
}

fn c2c(source: &str) -> OriginateRequest {
    OriginateRequest::click_to_call(
        Extension::parse(source).unwrap(),
        PhoneNumber::parse("5551004").unwrap(),
    )
}

/// The states of job `id` up to its final one (waiting up to 30 s).
async fn final_states(
    changes: &mut broadcast::Receiver<JobChange>,
    id: &OriginateId,
) -> Vec<JobState> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let c = tokio::time::timeout_at(deadline, changes.recv())
            .await
            .unwrap_or_else(|_| panic!("job {id}: no final state within 30 s; saw {seen:?}"))
            .expect("job changes");
        if &c.id == id {
            seen.push(c.state);
            if c.state.is_final() {
                return seen;
            }
        }
    }
}

fn device_change(device: &str, state: &str) -> Vec<u8> {
    render(&[
        ("Event", "DeviceStateChange"),
        ("Device", device),
        ("State", state),
    ])
}

/// `n` events of the kind a busy PBX sends all the time (dialplan steps, variables).
fn noise(n: usize, from: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 120);
    for i in from..from + n {
        let value = i.to_string();
        out.extend(if i % 2 == 0 {
            render(&[
                ("Event", "Newexten"),
                ("Channel", "PJSIP/1004-00000009"),
                ("Context", "internal"),
                ("Extension", "5551004"),
                ("Priority", "2"),
                ("Application", "NoOp"),
                ("AppData", &value),
                ("Uniqueid", "1700000000.9"),
            ])
        } else {
            render(&[
                ("Event", "VarSet"),
                ("Channel", "PJSIP/1004-00000009"),
                ("Variable", "N"),
                ("Value", &value),
                ("Uniqueid", "1700000000.9"),
            ])
        });
    }
    out
}

/// The originate service over `client`, its jobs in a store in `dir`, resyncing without grace.
async fn originate_service(
    client: &AmiClient,
    dir: &support::TempDir,
) -> (Arc<SqliteOriginateStore>, OriginateService) {
    let store = Arc::new(SqliteOriginateStore::open(&dir.path().join("store.db")).unwrap());
    let svc = spawn_originate_service(
        &EventHub::start(client),
        store.clone(),
        "centralita-originate",
        OriginateSettings {
            resync_grace: Duration::ZERO,
            ..OriginateSettings::default()
        },
    )
    .await
    .unwrap();
    (store, svc)
}

#[tokio::test]
async fn after_a_storm_device_states_are_listed_again_once_and_jobs_resync() {
    let dir = support::TempDir::new("event-lag-storm");
    let pbx = ScriptedPbx::start().await;
    // A channel far smaller than the storm: the follower lags for sure.
    let client = AmiClient::connect(settings(pbx.addr.port(), 64))
        .await
        .unwrap();
    let (store, svc) = originate_service(&client, &dir).await;
    assert_eq!(
        pbx.named("DeviceStateList").len(),
        1,
        "listed once at start"
    );
    let mut changes = svc.changes();
    let actor = Actor::new("test", "lag");

    // A job ringing on 1003 whose end the storm hides.
    let hidden = ringing_job(&pbx, &svc, &store, &actor, "1003").await;

    // The storm: 1001 and 1002 go in use, then 1001 is free again half-way.
    pbx.set_device_state("PJSIP/1001", "NOT_INUSE");
    pbx.set_device_state("PJSIP/1002", "INUSE");
    let mut storm = device_change("PJSIP/1001", "INUSE");
    storm.extend(device_change("PJSIP/1002", "INUSE"));
    storm.extend(noise(STORM / 2, 0));
    storm.extend(device_change("PJSIP/1001", "NOT_INUSE"));
    storm.extend(noise(STORM / 2, STORM / 2));
    let lists_before = pbx.named("DeviceStateList").len();
    pbx.raw(storm);

    // The job's end was missed; the resync that follows the reload settles it.
    let states = final_states(&mut changes, &hidden).await;
    assert_eq!(states.last(), Some(&JobState::Unavailable), "{states:?}");
    let lists = pbx.named("DeviceStateList").len() - lists_before;
    eprintln!("storm of {STORM} events, channel 64: {lists} DeviceStateList sent after it");
    assert!(
        (1..=3).contains(&lists),
        "one reload per lag episode (plus one per reload a lag overtook): {lists}"
    );

    // Device states are the PBX's again: 1001 (freed during the storm) is rung...
    let mark = pbx.mark();
    let free = svc.start_job(&actor, c2c("1001")).await.unwrap();
    pbx.wait_for(mark, "Originate", |s| {
        s.get("Channel") == Some("PJSIP/1001")
    })
    .await;
    // ...and 1002 (left in use) is refused as off hook, without reaching the PBX.
    let busy = svc.start_job(&actor, c2c("1002")).await.unwrap();
    assert_eq!(
        final_states(&mut changes, &busy).await,
        vec![JobState::Ringing, JobState::SourceOffHook]
    );
    assert!(pbx
        .named("Originate")
        .iter()
        .all(|o| o.get("Channel") != Some("PJSIP/1002")));
    assert_ne!(
        store.get(&free).unwrap().unwrap().state,
        JobState::SourceOffHook
    );

    // Idle: no further reload (a reload that set off another would be seen at once).
    let idle = pbx.mark();
    let again = pbx
        .next_within(
            idle,
            "DeviceStateList",
            |_| true,
            Duration::from_millis(500),
        )
        .await;
    assert!(again.is_none(), "a reload while idle: {again:?}");

    // A second storm is a second episode: 1002 is freed during it.
    let hidden = ringing_job(&pbx, &svc, &store, &actor, "1004").await;
    let lists_before = pbx.named("DeviceStateList").len();
    pbx.set_device_state("PJSIP/1002", "NOT_INUSE");
    let mut storm = noise(STORM / 2, STORM);
    storm.extend(device_change("PJSIP/1002", "NOT_INUSE"));
    storm.extend(noise(STORM / 2, STORM + STORM / 2));
    pbx.raw(storm);
    let states = final_states(&mut changes, &hidden).await;
    assert_eq!(states.last(), Some(&JobState::Unavailable), "{states:?}");
    let lists = pbx.named("DeviceStateList").len() - lists_before;
    eprintln!("second storm: {lists} DeviceStateList sent after it");
    assert!((1..=3).contains(&lists), "second episode: {lists} reloads");
    let mark = pbx.mark();
    svc.start_job(&actor, c2c("1002")).await.unwrap();
    pbx.wait_for(mark, "Originate", |s| {
        s.get("Channel") == Some("PJSIP/1002")
    })
    .await;
}

#[tokio::test]
async fn a_reconnect_lists_device_states_again_and_resyncs_jobs() {
    let dir = support::TempDir::new("event-lag-reconnect");
    let pbx = ScriptedPbx::start().await;
    let mut s = settings(pbx.addr.port(), 4096);
    s.reconnect_min = Duration::from_millis(20);
    s.reconnect_max = Duration::from_millis(200);
    let client = AmiClient::connect(s).await.unwrap();
    let (store, svc) = originate_service(&client, &dir).await;
    let mut changes = svc.changes();
    let actor = Actor::new("test", "reconnect");
    let hidden = ringing_job(&pbx, &svc, &store, &actor, "1003").await;

    // While the engine is away, 1001 goes in use and the job's call ends.
    let lists_before = pbx.named("DeviceStateList").len();
    pbx.set_device_state("PJSIP/1001", "INUSE");
    pbx.drop_connection();
    let states = final_states(&mut changes, &hidden).await;
    assert_eq!(states.last(), Some(&JobState::Unavailable), "{states:?}");
    assert_eq!(pbx.named("DeviceStateList").len() - lists_before, 1);
    let busy = svc.start_job(&actor, c2c("1001")).await.unwrap();
    assert_eq!(
        final_states(&mut changes, &busy).await,
        vec![JobState::Ringing, JobState::SourceOffHook]
    );
}

#[tokio::test]
async fn a_stalled_originate_service_does_not_hold_up_the_follower() {
    let pbx = ScriptedPbx::start().await;
    // A broadcast far larger than the flood: the follower never lags on it.
    let client = AmiClient::connect(settings(pbx.addr.port(), 65_536))
        .await
        .unwrap();
    // The service never reads its queue while the flood comes. The hub's channels as deep as
    // the client's.
    let hub = EventHub::start_with(&client, Arc::new(SharedLive::default()), 65_536);
    let (control, mut updates) = AmiCallControl::spawn(&hub, "centralita-originate")
        .await
        .unwrap();
    let mut others = client.subscribe();
    let job = OriginateId::parse("t-1").unwrap();
    let uniqueid = job.channel_uniqueid(ChannelRole::Source);
    let flood = UPDATE_CAPACITY + 500;
    let mut bytes = Vec::new();
    for _ in 0..flood {
        bytes.extend(render(&[
            ("Event", "Newstate"),
            ("Channel", "PJSIP/1003-00000001"),
            ("ChannelState", "5"),
            ("Uniqueid", uniqueid.as_str()),
        ]));
    }
    bytes.extend(device_change("PJSIP/1001", "INUSE"));
    pbx.raw(bytes);

    // The follower read past the facts that did not fit: the device change after them is
    // applied while the service's queue is still full...
    let source = Extension::parse("1001").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !control.source_in_use(&source).await.unwrap() {
        assert!(
            Instant::now() < deadline,
            "the follower is stuck behind the stalled service"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...and the other consumers got every event.
    let mut seen = 0;
    while let Ok(ev) = others.try_recv() {
        if ev.event_name() == Some("Newstate") {
            seen += 1;
        }
    }
    assert_eq!(seen, flood);

    // Once the service drains its queue, the Resync owed for the dropped facts arrives
    // (no further event needed), once.
    for _ in 0..UPDATE_CAPACITY {
        assert!(matches!(updates.recv().await, Some(PbxUpdate::Fact { .. })));
    }
    let next = tokio::time::timeout(Duration::from_secs(2), updates.recv())
        .await
        .expect("the owed Resync arrives once there is room");
    assert!(matches!(next, Some(PbxUpdate::Resync)), "{next:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(updates.try_recv().is_err(), "one Resync only");
}

/// A job ringing on `source` whose end will never be reported (the scripted PBX lists no
/// channels, so a resync settles it as gone); old enough for a resync to look at it.
async fn ringing_job(
    pbx: &ScriptedPbx,
    svc: &OriginateService,
    store: &SqliteOriginateStore,
    actor: &Actor,
    source: &str,
) -> OriginateId {
    let mark = pbx.mark();
    let id = svc.start_job(actor, c2c(source)).await.unwrap();
    let channel = format!("PJSIP/{source}");
    pbx.wait_for(mark, "Originate", |s| {
        s.get("Channel") == Some(channel.as_str())
    })
    .await;
    // A resync leaves alone the jobs of the current second (they may be on their way).
    let created = store.get(&id).unwrap().unwrap().created_at;
    while UnixTime::now() <= created {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    id
}

#[tokio::test]
async fn after_a_storm_the_live_state_is_rebuilt_and_the_rebuilds_stop() {
    let pbx = ScriptedPbx::start().await;
    let client = AmiClient::connect(settings(pbx.addr.port(), 64))
        .await
        .unwrap();
    let hub = EventHub::start(&client);
    let live = hub.live();
    let follower = LiveFollower::spawn(&hub, AmiQueueControl::new(client.clone()));
    assert!(
        follower.wait_resyncs(1, Duration::from_secs(30)).await,
        "first snapshot"
    );
    let before = *follower.resyncs().borrow();

    // 1001 goes in use at the start of a storm whose events overrun the follower.
    pbx.set_device_state("PJSIP/1001", "INUSE");
    let mut storm = device_change("PJSIP/1001", "INUSE");
    storm.extend(noise(STORM, 0));
    pbx.raw(storm);
    // An action answered after the storm: once back, the client has fanned the storm out.
    let barrier = client
        .send(&Getvar::new(None, "AFTER_STORM").unwrap())
        .await;
    assert!(barrier.is_ok(), "{barrier:?}");
    assert!(
        follower
            .wait_resyncs(before + 1, Duration::from_secs(30))
            .await,
        "rebuilt after the storm"
    );
    // The rebuilds stop: a rebuild must not set off the next one.
    let mut quiet = false;
    for _ in 0..5 {
        let n = *follower.resyncs().borrow();
        if !follower.wait_resyncs(n + 1, Duration::from_secs(1)).await {
            quiet = true;
            break;
        }
    }
    let rebuilds = *follower.resyncs().borrow() - before;
    eprintln!("live follower: {rebuilds} rebuilds after a storm of {STORM} events, channel 64");
    assert!(quiet, "rebuilds go on while idle: {rebuilds} so far");
    assert!(rebuilds <= 5, "{rebuilds} rebuilds");
    let state = live
        .read()
        .unwrap()
        .endpoints
        .get("1001")
        .map(|e| e.device_state);
    assert_eq!(state, Some(DeviceStatus::InUse));
}

#[tokio::test]
async fn every_cause_of_a_hangup_burst_far_beyond_the_channel_is_stored() {
    // Hangups, each among the other events a call ends with: 4 events per hangup.
    const HANGUPS: usize = 50_000;
    const CAPACITY: usize = 4096;
    let dir = support::TempDir::new("event-lag-hangups");
    let mut fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(fake.addr.port(), CAPACITY))
        .await
        .unwrap();
    let store = Arc::new(SqliteHangupCauses::open(&dir.path().join("store.db")).unwrap());
    let recorder = spawn_recorder(&EventHub::start(&client), store.clone());

    let mut burst = Vec::with_capacity(HANGUPS * 400);
    for i in 0..HANGUPS {
        let uniqueid = format!("1700000000.{i}");
        let channel = format!("PJSIP/carrier-{i:08x}");
        let cause = (16 + i % 4).to_string();
        burst.extend(render(&[
            ("Event", "SoftHangupRequest"),
            ("Channel", &channel),
            ("Uniqueid", &uniqueid),
            ("Cause", &cause),
        ]));
        burst.extend(render(&[
            ("Event", "VarSet"),
            ("Channel", &channel),
            ("Variable", "HANGUPCAUSE"),
            ("Value", &cause),
            ("Uniqueid", &uniqueid),
        ]));
        burst.extend(render(&[
            ("Event", "HangupRequest"),
            ("Channel", &channel),
            ("Uniqueid", &uniqueid),
            ("Cause", &cause),
        ]));
        burst.extend(render(&[
            ("Event", "Hangup"),
            ("Channel", &channel),
            ("Uniqueid", &uniqueid),
            ("Cause", &cause),
            ("Cause-txt", "Normal Clearing"),
        ]));
    }
    let started = Instant::now();
    // The burst answers the first action, before its response: once the response is back,
    // every event of the burst was read and fanned out.
    let (answered, ()) = tokio::join!(client.send(&Getvar::new(None, "BURST").unwrap()), async {
        let a = fake.next_action().await;
        a.out.raw(burst);
        a.respond("Success", &[("Value", "after")]);
    });
    assert_eq!(answered.unwrap().get("Value"), Some("after"));
    let read = started.elapsed();
    // Closing the client ends the recorder's subscription: it writes what it holds and ends.
    client.logoff().await.unwrap();
    drop(client);
    tokio::time::timeout(Duration::from_secs(60), recorder)
        .await
        .expect("the recorder ends within 60 s of its events")
        .unwrap();
    let stored_in = started.elapsed();

    let ids: Vec<String> = (0..HANGUPS).map(|i| format!("1700000000.{i}")).collect();
    let stored = store.causes_of(&ids).unwrap();
    eprintln!(
        "hangup burst: {HANGUPS} hangups in {} events, channel {CAPACITY}: {} causes stored; \
         burst read in {read:?}, stored in {stored_in:?} ({:.0} hangups/s)",
        HANGUPS * 4,
        stored.len(),
        stored.len() as f64 / stored_in.as_secs_f64()
    );
    assert_eq!(stored.len(), HANGUPS, "every cause stored");
    assert_eq!(stored.get("1700000000.1"), Some(&17));
    assert_eq!(stored.get("1700000000.49999"), Some(&19));

    // What the store sustains: one transaction per cause (as each event was written before)
    // against batches of what the recorder had waiting.
    let now = UnixTime::now();
    let causes = |tag: &str, n: usize| -> Vec<HangupCause> {
        (0..n)
            .map(|i| HangupCause::parse(&format!("{tag}.{i}"), "16", now).unwrap())
            .collect()
    };
    let singles = causes("single", 500);
    let t = Instant::now();
    for c in &singles {
        store.causes_put(std::slice::from_ref(c), now).unwrap();
    }
    let single_rate = singles.len() as f64 / t.elapsed().as_secs_f64();
    let batched = causes("batch", HANGUPS);
    let t = Instant::now();
    for chunk in batched.chunks(CAPACITY) {
        store.causes_put(chunk, now).unwrap();
    }
    let batch_rate = batched.len() as f64 / t.elapsed().as_secs_f64();
    eprintln!(
        "store: {single_rate:.0} causes/s one per transaction, {batch_rate:.0} causes/s in \
         batches of {CAPACITY} ({:.0}x)",
        batch_rate / single_rate
    );
}

#[tokio::test]
async fn a_job_too_young_for_a_resync_is_checked_again_once_the_grace_has_passed() {
    let dir = support::TempDir::new("event-lag-young");
    let pbx = ScriptedPbx::start().await;
    let client = AmiClient::connect(settings(pbx.addr.port(), 1024))
        .await
        .unwrap();
    let store = Arc::new(SqliteOriginateStore::open(&dir.path().join("store.db")).unwrap());
    let svc = spawn_originate_service(
        &EventHub::start(&client),
        store.clone(),
        "centralita-originate",
        OriginateSettings {
            resync_grace: Duration::from_secs(1),
            ..OriginateSettings::default()
        },
    )
    .await
    .unwrap();
    let mut changes = svc.changes();
    let mark = pbx.mark();
    let id = svc
        .start_job(&Actor::new("test", "young"), c2c("1003"))
        .await
        .unwrap();
    pbx.wait_for(mark, "Originate", |s| {
        s.get("Channel") == Some("PJSIP/1003")
    })
    .await;
    // A reconnect's resync comes at once: the job may still be on its way, it is left alone.
    svc.resync().await;
    assert_eq!(svc.status(&id).await.unwrap().state, JobState::Ringing);
    // Its call ended while nobody watched (the scripted PBX lists no channel of it): once the
    // grace has passed it is checked again and settled as gone.
    let states = final_states(&mut changes, &id).await;
    assert_eq!(states.last(), Some(&JobState::Unavailable), "{states:?}");
}
