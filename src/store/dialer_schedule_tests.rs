//! Scheduled calls against a real SQLite file: the spool rule, due order (dated before
//! undated, then priority), expiry, range removal, listing filters, updates and finishing,
//! and two claimers never taking the same call.

use std::collections::HashSet;
use std::sync::Arc;

use super::*;
use crate::core::dialer::schedule::{Schedule, ScheduleError, ScheduleService};
use crate::core::dialer::tests::campaign;
use crate::core::dialer::DialerStore;
use crate::test_support::TempDir;

fn n(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

fn open(name: &str) -> (TempDir, SqliteDialer, CampaignId) {
    let dir = TempDir::new(name);
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let id = s
        .campaign_create(&campaign("Ventas->", "UTC"))
        .unwrap()
        .unwrap();
    (dir, s, id)
}

fn call(c: CampaignId, number: &str, at: Option<i64>, priority: u32) -> NewScheduledCall {
    let mut x = NewScheduledCall::new(c, n(number));
    x.call_at = at.map(UnixTime);
    x.priority = priority;
    x
}

#[test]
fn a_destination_is_never_spooled_twice_while_open() {
    let (_d, s, c) = open("sched-spool");
    let sch = Schedule(&s);
    let id = sch
        .create(&call(c, "099111111", None, 5), UnixTime(10))
        .unwrap();
    assert!(matches!(
        sch.create(&call(c, "099111111", Some(100), 1), UnixTime(11)),
        Err(ScheduleError::AlreadySpooled)
    ));
    // Another campaign may have it.
    let c2 = s
        .campaign_create(&campaign("Soporte<-", "UTC"))
        .unwrap()
        .unwrap();
    sch.create(&call(c2, "099111111", None, 5), UnixTime(12))
        .unwrap();
    // Once it is no longer open, it may be spooled again.
    sch.cancel(id, UnixTime(13)).unwrap();
    sch.create(&call(c, "099111111", None, 5), UnixTime(14))
        .unwrap();
}

#[test]
fn a_due_dated_call_outranks_undated_ones_then_priority_decides() {
    let (_d, s, c) = open("sched-order");
    let sch = Schedule(&s);
    let undated_1 = sch.create(&call(c, "0991", None, 1), UnixTime(0)).unwrap();
    let undated_9 = sch.create(&call(c, "0992", None, 9), UnixTime(0)).unwrap();
    let dated_late = sch
        .create(&call(c, "0993", Some(500), 9), UnixTime(0))
        .unwrap();
    let dated_9 = sch
        .create(&call(c, "0994", Some(100), 9), UnixTime(0))
        .unwrap();
    let dated_2 = sch
        .create(&call(c, "0995", Some(200), 2), UnixTime(0))
        .unwrap();
    let order: Vec<ScheduleId> =
        std::iter::from_fn(|| sch.next_due(c, UnixTime(300)).unwrap().map(|x| x.id)).collect();
    // The call dated 500 is not due at 300.
    assert_eq!(order, vec![dated_2, dated_9, undated_1, undated_9]);
    assert_eq!(sch.get(dated_late).unwrap().status, ScheduleStatus::Pending);
    assert_eq!(sch.get(dated_2).unwrap().status, ScheduleStatus::InProgress);
    assert_eq!(
        sch.next_due(c, UnixTime(500)).unwrap().map(|x| x.id),
        Some(dated_late)
    );
}

#[test]
fn expiry_finish_and_updates_follow_the_status() {
    let (_d, s, c) = open("sched-status");
    let sch = Schedule(&s);
    let mut x = call(c, "0991", Some(100), 5);
    x.expires_at = Some(UnixTime(200));
    let expiring = sch.create(&x, UnixTime(0)).unwrap();
    let other = sch.create(&call(c, "0992", None, 5), UnixTime(0)).unwrap();
    x.expires_at = Some(UnixTime(50));
    assert!(matches!(
        sch.create(&x, UnixTime(0)),
        Err(ScheduleError::ExpiresBeforeDate)
    ));
    assert_eq!(sch.expire(UnixTime(199)).unwrap(), 0);
    assert_eq!(sch.expire(UnixTime(200)).unwrap(), 1);
    assert_eq!(sch.get(expiring).unwrap().status, ScheduleStatus::Expired);
    assert!(matches!(
        sch.cancel(expiring, UnixTime(201)),
        Err(ScheduleError::WrongStatus(_, ScheduleStatus::Expired))
    ));
    // Update a pending call; then take it, fail it (back to pending), take it, complete it.
    let mut y = call(c, "0993", None, 3);
    y.agent = Some("1001".into());
    sch.update(other, &y, UnixTime(210)).unwrap();
    let got = sch.get(other).unwrap();
    assert_eq!((got.spec.number.as_str(), got.spec.priority), ("0993", 3));
    assert_eq!(got.updated_at, UnixTime(210));
    assert_eq!(sch.next_due(c, UnixTime(220)).unwrap().unwrap().id, other);
    assert!(matches!(
        sch.update(other, &y, UnixTime(221)),
        Err(ScheduleError::WrongStatus(_, ScheduleStatus::InProgress))
    ));
    sch.finish(other, false, UnixTime(230)).unwrap();
    assert_eq!(sch.get(other).unwrap().attempts, 1);
    assert_eq!(sch.next_due(c, UnixTime(240)).unwrap().unwrap().id, other);
    sch.finish(other, true, UnixTime(250)).unwrap();
    assert_eq!(sch.get(other).unwrap().status, ScheduleStatus::Completed);
    assert!(matches!(
        sch.finish(other, true, UnixTime(251)),
        Err(ScheduleError::WrongStatus(_, ScheduleStatus::Completed))
    ));
    assert!(matches!(
        sch.get(ScheduleId(999)),
        Err(ScheduleError::Unknown(ScheduleId(999)))
    ));
    // An update to a number another open call has is refused.
    let a = sch.create(&call(c, "0994", None, 5), UnixTime(0)).unwrap();
    sch.create(&call(c, "0995", None, 5), UnixTime(0)).unwrap();
    assert!(matches!(
        sch.update(a, &call(c, "0995", None, 5), UnixTime(260)),
        Err(ScheduleError::AlreadySpooled)
    ));
}

#[test]
fn a_panel_discards_pending_and_expired_calls_and_moves_calls_between_campaigns() {
    let (_d, s, c) = open("sched-discard");
    let sch = Schedule(&s);
    let mut x = call(c, "0991", Some(100), 5);
    x.expires_at = Some(UnixTime(200));
    let expiring = sch.create(&x, UnixTime(0)).unwrap();
    let pending = sch.create(&call(c, "0992", None, 5), UnixTime(0)).unwrap();
    let taken = sch.create(&call(c, "0993", None, 1), UnixTime(0)).unwrap();
    assert_eq!(sch.next_due(c, UnixTime(10)).unwrap().unwrap().id, taken);
    sch.expire(UnixTime(200)).unwrap();
    sch.discard(expiring, UnixTime(201)).unwrap();
    sch.discard(pending, UnixTime(202)).unwrap();
    for id in [expiring, pending] {
        let got = sch.get(id).unwrap();
        assert_eq!(got.status, ScheduleStatus::Canceled);
    }
    assert_eq!(sch.get(pending).unwrap().updated_at, UnixTime(202));
    for (id, status) in [
        (taken, ScheduleStatus::InProgress),
        (pending, ScheduleStatus::Canceled),
    ] {
        assert!(matches!(
            sch.discard(id, UnixTime(203)),
            Err(ScheduleError::WrongStatus(_, st)) if st == status
        ));
    }
    assert!(matches!(
        sch.discard(ScheduleId(999), UnixTime(203)),
        Err(ScheduleError::Unknown(_))
    ));
    // An update may name another campaign: the call moves there.
    let c2 = s
        .campaign_create(&campaign("Soporte<-", "UTC"))
        .unwrap()
        .unwrap();
    let moving = sch.create(&call(c, "0994", None, 5), UnixTime(0)).unwrap();
    sch.update(moving, &call(c2, "0994", None, 5), UnixTime(210))
        .unwrap();
    assert_eq!(sch.get(moving).unwrap().spec.campaign, c2);
    // Data that would not read back is refused before the store.
    let mut bad = call(c, "0995", None, 5);
    bad.data = ContactData(vec![("link".into(), "http://x".into())]);
    assert!(matches!(
        sch.create(&bad, UnixTime(0)),
        Err(ScheduleError::Invalid(_))
    ));
}

#[test]
fn remove_by_range_and_list_with_filters() {
    let (_d, s, c) = open("sched-list");
    let sch = Schedule(&s);
    for (num, at) in [("0991", 100), ("0992", 200), ("0993", 300)] {
        let mut x = call(c, num, Some(at), 5);
        x.agent = (num == "0992").then(|| "Agente1".to_owned());
        sch.create(&x, UnixTime(0)).unwrap();
    }
    sch.create(&call(c, "0994", None, 5), UnixTime(0)).unwrap();
    assert_eq!(
        sch.remove_range(c, &n("0992"), UnixTime(0), UnixTime(150), UnixTime(1))
            .unwrap(),
        0
    );
    assert_eq!(
        sch.remove_range(c, &n("0992"), UnixTime(150), UnixTime(250), UnixTime(1))
            .unwrap(),
        1
    );
    let all = sch.list(&ScheduleFilter::default(), 0, 100).unwrap();
    assert_eq!(all.0, 4);
    let numbers: Vec<&str> = all.1.iter().map(|x| x.spec.number.as_str()).collect();
    assert_eq!(numbers, ["0991", "0992", "0993", "0994"]);
    let pending = ScheduleFilter {
        statuses: ScheduleStatus::from_vendor("pending").unwrap().to_vec(),
        campaign: Some(c),
        from: Some(UnixTime(50)),
        to: Some(UnixTime(350)),
        ..ScheduleFilter::default()
    };
    let (total, page) = sch.list(&pending, 1, 1).unwrap();
    assert_eq!(total, 2);
    assert_eq!(page[0].spec.number.as_str(), "0993");
    let agent = ScheduleFilter {
        agent: Some("Agente1".into()),
        statuses: vec![ScheduleStatus::Canceled],
        ..ScheduleFilter::default()
    };
    assert_eq!(sch.list(&agent, 0, 10).unwrap().0, 1);
    let counts = s.schedule_counts(c).unwrap();
    assert!(counts.contains(&(ScheduleStatus::Pending, 3)));
    assert!(counts.contains(&(ScheduleStatus::Canceled, 1)));
}

#[test]
fn two_claimers_never_take_the_same_call() {
    let (_d, s, c) = open("sched-concurrent");
    let s = Arc::new(s);
    for i in 0..200 {
        Schedule(s.as_ref())
            .create(&call(c, &format!("0990{i:04}"), None, 5), UnixTime(0))
            .unwrap();
    }
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(x) = Schedule(s.as_ref()).next_due(c, UnixTime(10)).unwrap() {
                    got.push(x.id);
                }
                got
            })
        })
        .collect();
    let all: Vec<ScheduleId> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (200, 200));
}

#[tokio::test]
async fn the_service_runs_off_the_runtime() {
    let (_d, s, c) = open("sched-service");
    let service = ScheduleService::new(Arc::new(s));
    let id = service
        .create(call(c, "0991", Some(5), 1), UnixTime(0))
        .await
        .unwrap();
    assert_eq!(
        service.next_due(c, UnixTime(5)).await.unwrap().unwrap().id,
        id
    );
    service.finish(id, true, UnixTime(6)).await.unwrap();
    assert_eq!(
        service.get(id).await.unwrap().status,
        ScheduleStatus::Completed
    );
}

#[test]
fn a_due_call_is_placed_through_a_contact_first_and_completes_with_its_attempt() {
    use crate::core::dialer::calls::DialerCallStore;
    use crate::core::dialer::campaign::{CampaignState, Hours, Outcome, Weekdays};
    use crate::core::dialer::claim::AfterAttempt;
    use crate::core::dialer::contact::{Attempt, ContactState, NewContact};
    use crate::core::dialer::evidence::Evidence;
    use crate::core::originate::{JobState, OriginateId};

    let dir = TempDir::new("sched-place");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let mut c = campaign("Ventas->", "UTC");
    c.schedule.weekdays = Weekdays::all();
    c.schedule.hours = Hours::parse("00:00-24:00").unwrap();
    c.state = CampaignState::Active;
    let id = s.campaign_create(&c).unwrap().unwrap();
    let now = UnixTime(1_800_000_000 - 1_800_000_000 % 86_400 + 12 * 3600);
    let contact = |main: &str| {
        let mut x = NewContact::new(
            n(main),
            crate::core::dialer::campaign::ZoneName::parse("UTC").unwrap(),
        );
        x.priority = 1;
        x
    };
    // An ordinary contact at the best priority, and one that used up its attempts.
    s.insert_contacts(id, &[contact("099000001"), contact("099000002")], now)
        .unwrap();
    let done = crate::core::dialer::claim_next(&s, id, now, &jiff::tz::TimeZone::UTC)
        .unwrap()
        .unwrap();
    assert_eq!(done.contact.spec.main.as_str(), "099000001");
    let job = |j: &str| OriginateId::parse(j).unwrap();
    let evidence = |j: &str| Evidence::of_job(job(j), JobState::Busy);
    let attempt = |contact, number_of| Attempt {
        contact,
        number_of,
        dialed: n("099000001"),
        claimed_at: now,
        answered_at: None,
        ended_at: now,
        outcome: Outcome::Busy,
        connect_latency_ms: None,
    };
    assert!(s
        .finish_with_evidence(
            &attempt(done.contact.id, 1),
            AfterAttempt::Done(ContactState::Rejected),
            id,
            &evidence("job-a")
        )
        .unwrap());

    // A call back to the rejected number, and one to a number the campaign does not have.
    let sch = Schedule(&s);
    let back = sch
        .create(&call(id, "099000001", Some(now.0 - 60), 5), now)
        .unwrap();
    let fresh = sch.create(&call(id, "099000003", None, 7), now).unwrap();
    let (first, handed) = sch.spool_due(id, &c, now).unwrap().unwrap();
    assert_eq!((first.id, handed), (back, Some(done.contact.id)));
    let (second, new_contact) = sch.spool_due(id, &c, now).unwrap().unwrap();
    assert_eq!(second.id, fresh);
    let new_contact = new_contact.unwrap();
    assert!(sch.spool_due(id, &c, now).unwrap().is_none());

    // The claims take the callbacks before the ordinary contact, the rejected one included.
    let mut order = Vec::new();
    while let Some(cl) =
        crate::core::dialer::claim_next(&s, id, now, &jiff::tz::TimeZone::UTC).unwrap()
    {
        order.push(cl.contact.spec.main.as_str().to_owned());
        if cl.contact.id == new_contact {
            assert!(s
                .finish_with_evidence(
                    &attempt(new_contact, 1),
                    AfterAttempt::Done(ContactState::Rejected),
                    id,
                    &evidence("job-b")
                )
                .unwrap());
        }
    }
    assert_eq!(order, ["099000001", "099000003", "099000002"]);
    // Its attempt recorded, a scheduled call is completed; the other is still being placed.
    assert_eq!(sch.get(fresh).unwrap().status, ScheduleStatus::Completed);
    assert_eq!(sch.get(back).unwrap().status, ScheduleStatus::InProgress);
}

#[test]
fn a_call_taken_and_never_handed_on_goes_back_to_pending() {
    let (_d, s, c) = open("sched-unspooled");
    let sch = Schedule(&s);
    let id = sch
        .create(&call(c, "099111111", None, 5), UnixTime(10))
        .unwrap();
    assert_eq!(sch.next_due(c, UnixTime(20)).unwrap().unwrap().id, id);
    assert_eq!(sch.get(id).unwrap().status, ScheduleStatus::InProgress);
    assert_eq!(sch.release_unspooled(UnixTime(30)).unwrap(), 1);
    assert_eq!(sch.get(id).unwrap().status, ScheduleStatus::Pending);
}
