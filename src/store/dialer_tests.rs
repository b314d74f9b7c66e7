//! The dialer store against real SQLite files: claim order, windows across daylight saving
//! time, holidays, the blacklist at claim time, retry rules, concurrent claimers, imports and
//! the "why" breakdown against a brute-force count.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use jiff::tz::TimeZone;

use super::*;
use crate::core::campaigns::{
    BlacklistEntry, BlacklistKey, CallDirection, CampaignScope, CampaignStore, Day, DirectionScope,
};
use crate::core::dialer::campaign::{CampaignState, Hours, RetryRules, Weekdays};
use crate::core::dialer::claim::{classify, ZoneWindows};
use crate::core::dialer::import::{import_base, LineError};
use crate::core::dialer::tests::{at, campaign};
use crate::core::dialer::{
    claim_next, filter_at, record_attempt, why, AttemptResult, CampaignError, DialerError,
    DialerService,
};
use crate::store::SqliteCampaigns;
use crate::test_support::TempDir;

fn n(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

fn zone(z: &str) -> ZoneName {
    ZoneName::parse(z).unwrap()
}

/// An Active campaign dialing every day inside the default floor (08:00-21:00), in `z`.
fn active(store: &SqliteDialer, name: &str, z: &str) -> (CampaignId, DialerCampaign) {
    let mut c = campaign(name, z);
    c.schedule.weekdays = Weekdays::all();
    c.schedule.hours = Hours::parse("00:00-24:00").unwrap();
    c.state = CampaignState::Active;
    let id = store.campaign_create(&c).unwrap().unwrap();
    (id, c)
}

fn utc() -> TimeZone {
    TimeZone::UTC
}

fn claim(s: &SqliteDialer, id: CampaignId, now: UnixTime) -> Option<Claimed> {
    claim_next(s, id, now, &utc()).unwrap()
}

fn claimed_main(s: &SqliteDialer, id: CampaignId, now: UnixTime) -> Option<String> {
    claim(s, id, now).map(|c| c.contact.spec.main.as_str().to_owned())
}

fn add(s: &SqliteDialer, id: CampaignId, contacts: Vec<NewContact>, now: UnixTime) {
    assert!(s
        .insert_contacts(id, &contacts, now)
        .unwrap()
        .iter()
        .all(|a| *a));
}

#[test]
fn campaigns_round_trip_and_names_are_unique() {
    let dir = TempDir::new("dialer-campaigns");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let mut c = campaign("Ventas->", "America/Montevideo");
    c.mode = DialMode::parse("power:2.5").unwrap();
    c.trunk = Some(TrunkName::new("carrier").unwrap());
    c.caller_id = Some(n("+59829001234"));
    c.schedule.holidays = parse_holidays("2026-12-25,2027-01-01").unwrap();
    c.retry = RetryRules::parse("busy=600/5,disposition:LLAMAR=3600/2").unwrap();
    c.regime = Regime::Uk;
    let id = s.campaign_create(&c).unwrap().unwrap();
    assert_eq!(s.campaign(id).unwrap().unwrap(), c);
    assert_eq!(s.campaign_create(&c).unwrap(), None);
    c.state = CampaignState::Active;
    c.ring_timeout_s = 40;
    assert!(s.campaign_update(id, &c).unwrap());
    assert!(!s.campaign_update(CampaignId(99), &c).unwrap());
    assert_eq!(
        s.campaign_by_name(&c.name).unwrap().unwrap(),
        (id, c.clone())
    );
    let other = campaign("Soporte<-", "UTC");
    let id2 = s.campaign_create(&other).unwrap().unwrap();
    assert_eq!(s.campaigns().unwrap(), vec![(id, c), (id2, other)]);
}

#[tokio::test]
async fn the_service_validates_before_storing() {
    let dir = TempDir::new("dialer-service");
    let store = Arc::new(SqliteDialer::open(&dir.path().join("s.db")).unwrap());
    let service = DialerService::new(store, utc());
    let mut c = campaign("Ventas->", "UTC");
    c.ring_timeout_s = 10;
    assert!(matches!(
        service.create(c.clone()).await,
        Err(DialerError::Invalid(CampaignError::RingTimeout(10)))
    ));
    c.ring_timeout_s = 15;
    let id = service.create(c.clone()).await.unwrap();
    assert!(matches!(
        service.create(c.clone()).await,
        Err(DialerError::NameTaken(_))
    ));
    // Not Active: nothing is claimed.
    assert!(matches!(
        service.claim_next(id, UnixTime(0)).await,
        Err(DialerError::NotActive(CampaignState::Incomplete))
    ));
    c.state = CampaignState::Active;
    service.update(id, c).await.unwrap();
    assert_eq!(service.claim_next(id, UnixTime(0)).await.unwrap(), None);
    assert_eq!(service.why(id, UnixTime(0)).await.unwrap().total, 0);
}

#[test]
fn due_callbacks_first_then_priority_then_age() {
    let dir = TempDir::new("dialer-order");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let (id, _) = active(&s, "Ventas->", "UTC");
    let now = at("2026-03-09T10:00", "UTC");
    let mk = |num: &str, prio: u32, callback: Option<i64>| {
        let mut c = NewContact::new(n(num), zone("UTC"));
        c.priority = prio;
        c.callback_at = callback.map(|d| UnixTime(now.seconds() + d));
        c
    };
    add(
        &s,
        id,
        vec![
            mk("1001", 5, None),
            mk("1002", 1, None),
            mk("1003", 1, None),
            mk("1004", 9999, Some(-10)),
            mk("1005", 1, Some(3600)),
            mk("1006", 9999, Some(-5)),
        ],
        UnixTime(now.seconds() - 100),
    );
    let order: Vec<String> = std::iter::from_fn(|| claimed_main(&s, id, now)).collect();
    assert_eq!(order, ["1004", "1006", "1002", "1003", "1001"]);
    // The dated callback an hour later is claimed when due.
    assert_eq!(
        claimed_main(&s, id, UnixTime(now.seconds() + 3600)).as_deref(),
        Some("1005")
    );
    // A claimed contact is InProgress and not claimed again.
    let c = s
        .contacts(id, Some(ContactState::InProgress), 0, 100)
        .unwrap();
    assert_eq!(c.len(), 6);
}

#[test]
fn the_calling_hours_follow_the_contacts_zone_across_dst() {
    let dir = TempDir::new("dialer-dst");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let ny = "America/New_York";
    let (id, _) = active(&s, "Ventas->", "America/Montevideo");
    add(
        &s,
        id,
        vec![NewContact::new(n("+12125551234"), zone(ny))],
        UnixTime(0),
    );
    // 2026-03-08: New York's first day of EDT.
    assert_eq!(claim(&s, id, at("2026-03-08T07:59", ny)), None);
    let w = why(&s, id, at("2026-03-08T07:59", ny), &utc()).unwrap();
    assert_eq!((w.outside_hours, w.dialable), (1, 0));
    let c = claim(&s, id, at("2026-03-08T08:30", ny)).unwrap();
    assert_eq!(c.number.as_str(), "+12125551234");
    assert_eq!(c.contact.state, ContactState::InProgress);
}

#[test]
fn no_calls_on_a_holiday_of_the_contacts_zone() {
    let dir = TempDir::new("dialer-holiday");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let (id, mut c) = active(&s, "Ventas->", "UTC");
    c.schedule.holidays = parse_holidays("2026-12-25").unwrap();
    s.campaign_update(id, &c).unwrap();
    add(
        &s,
        id,
        vec![NewContact::new(
            n("+59898344484"),
            zone("America/Montevideo"),
        )],
        UnixTime(0),
    );
    let mvd = "America/Montevideo";
    assert_eq!(claim(&s, id, at("2026-12-25T10:00", mvd)), None);
    assert_eq!(
        why(&s, id, at("2026-12-25T10:00", mvd), &utc())
            .unwrap()
            .holiday,
        1
    );
    // 01:00 UTC on the 26th is still the 25th in Montevideo (UTC-3).
    assert_eq!(claim(&s, id, at("2026-12-26T01:00", "UTC")), None);
    assert!(claim(&s, id, at("2026-12-26T10:00", mvd)).is_some());
}

#[test]
fn the_blacklist_applies_at_claim_time() {
    let dir = TempDir::new("dialer-blacklist");
    let path = dir.path().join("s.db");
    let s = SqliteDialer::open(&path).unwrap();
    let bl = SqliteCampaigns::open(&path).unwrap();
    let (id, c) = active(&s, "Ventas->", "UTC");
    let now = at("2026-03-09T10:00", "UTC");
    let entry =
        |num: &str, scope: &str| BlacklistEntry::new(n(num), CampaignScope::parse(scope).unwrap());
    let mut expired = entry("1004", "*");
    expired.expire_date = Day::parse("2026-03-08");
    let mut inbound = entry("1005", "Ventas->");
    inbound.direction = DirectionScope::Inbound;
    bl.blacklist_add(
        &[
            entry("1001", "Ventas->"),
            entry("1002", "*"),
            entry("1003", "Soporte<-"),
            expired,
            inbound,
        ],
        now,
    )
    .unwrap();
    let contacts = ["1001", "1002", "1003", "1004", "1005"]
        .iter()
        .map(|m| NewContact::new(n(m), zone("UTC")))
        .collect();
    add(&s, id, contacts, now);
    assert_eq!(why(&s, id, now, &utc()).unwrap().blacklisted, 2);
    let got: Vec<String> = std::iter::from_fn(|| claimed_main(&s, id, now)).collect();
    assert_eq!(got, ["1003", "1004", "1005"]);
    // Lifting an entry applies on the next claim.
    bl.blacklist_remove(&[BlacklistKey {
        phone: n("1002"),
        campaign: CampaignScope::All,
        direction: None,
    }])
    .unwrap();
    assert_eq!(claimed_main(&s, id, now).as_deref(), Some("1002"));
    assert_eq!(claimed_main(&s, id, now), None);

    // A blacklisted alternative is skipped; a new entry applies on the next claim.
    let mut w = NewContact::new(n("2001"), zone("UTC"));
    w.alternatives = vec![n("2002"), n("2003")];
    add(&s, id, vec![w], now);
    bl.blacklist_add(&[entry("2002", "*")], now).unwrap();
    let first = claim(&s, id, now).unwrap();
    assert_eq!(first.number.as_str(), "2001");
    record_attempt(&s, &first, busy(), now).unwrap();
    let second = claim(&s, id, UnixTime(now.seconds() + 1800)).unwrap();
    assert_eq!(second.number.as_str(), "2003");
    record_attempt(&s, &second, busy(), now).unwrap();
    bl.blacklist_add(&[entry("2001", "Ventas->")], now).unwrap();
    assert_eq!(claim(&s, id, UnixTime(now.seconds() + 7200)), None);
    let _ = c;
}

fn busy() -> AttemptResult {
    AttemptResult {
        outcome: Outcome::Busy,
        answered_at: None,
        connect_latency_ms: None,
    }
}

#[test]
fn outcomes_apply_the_retry_rules() {
    let dir = TempDir::new("dialer-retry");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let (id, mut c) = active(&s, "Ventas->", "UTC");
    c.retry = RetryRules::parse("busy=600/2").unwrap();
    s.campaign_update(id, &c).unwrap();
    let t0 = at("2026-03-09T10:00", "UTC");
    let mut k = NewContact::new(n("1001"), zone("UTC"));
    k.alternatives = vec![n("1002")];
    add(&s, id, vec![k, NewContact::new(n("3001"), zone("UTC"))], t0);

    let first = claim(&s, id, t0).unwrap();
    assert_eq!(first.number.as_str(), "1001");
    let next = record_attempt(&s, &first, busy(), UnixTime(t0.seconds() + 30)).unwrap();
    assert_eq!(
        next,
        AfterAttempt::Retry {
            next_at: UnixTime(t0.seconds() + 630)
        }
    );
    // Recording twice is refused.
    assert!(matches!(
        record_attempt(&s, &first, busy(), t0),
        Err(DialerError::NotClaimed(_))
    ));
    // Before the delay only the other contact is dialable.
    assert_eq!(
        claimed_main(&s, id, UnixTime(t0.seconds() + 629)).as_deref(),
        Some("3001")
    );
    assert_eq!(claim(&s, id, UnixTime(t0.seconds() + 629)), None);
    let w = why(&s, id, UnixTime(t0.seconds() + 629), &utc()).unwrap();
    assert_eq!((w.not_due, w.state), (1, 1));
    let second = claim(&s, id, UnixTime(t0.seconds() + 630)).unwrap();
    assert_eq!(second.contact.id, first.contact.id);
    assert_eq!(second.number.as_str(), "1002");
    let answered = AttemptResult {
        outcome: Outcome::Busy,
        answered_at: None,
        connect_latency_ms: None,
    };
    let end = UnixTime(t0.seconds() + 700);
    assert_eq!(
        record_attempt(&s, &second, answered, end).unwrap(),
        AfterAttempt::Done(ContactState::Rejected)
    );
    let contact = s.contact(first.contact.id).unwrap().unwrap();
    assert_eq!(
        (contact.state, contact.attempts),
        (ContactState::Rejected, 2)
    );
    let attempts = s.attempts_of(first.contact.id).unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1].dialed.as_str(), "1002");
    assert_eq!(attempts[1].number_of, 2);
    assert_eq!(attempts[1].ended_at, end);

    // An answered call completes the contact, with its evidence.
    let (id2, _) = active(&s, "Otra->", "UTC");
    add(&s, id2, vec![NewContact::new(n("4001"), zone("UTC"))], t0);
    let c = claim(&s, id2, t0).unwrap();
    let result = AttemptResult {
        outcome: Outcome::Answered,
        answered_at: Some(UnixTime(t0.seconds() + 12)),
        connect_latency_ms: Some(850),
    };
    record_attempt(&s, &c, result, UnixTime(t0.seconds() + 90)).unwrap();
    assert_eq!(
        s.contact(c.contact.id).unwrap().unwrap().state,
        ContactState::Completed
    );
    let a = &s.attempts_of(c.contact.id).unwrap()[0];
    assert_eq!(
        (a.answered_at, a.connect_latency_ms),
        (Some(UnixTime(t0.seconds() + 12)), Some(850))
    );
}

#[test]
fn concurrent_claimers_never_share_a_contact() {
    let dir = TempDir::new("dialer-concurrent");
    let path = dir.path().join("s.db");
    let s = SqliteDialer::open(&path).unwrap();
    let (id, _) = active(&s, "Ventas->", "UTC");
    let total = 300;
    let contacts = (0..total)
        .map(|i| NewContact::new(n(&format!("5{i:05}")), zone("UTC")))
        .collect();
    add(&s, id, contacts, UnixTime(0));
    let now = at("2026-03-09T10:00", "UTC");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Each claimer has its own connection to the file.
                let s = SqliteDialer::open(&path).unwrap();
                std::iter::from_fn(|| claim(&s, id, now).map(|c| c.contact.id)).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut busy_claimers = 0;
    for t in threads {
        let got = t.join().unwrap();
        busy_claimers += usize::from(!got.is_empty());
        all.extend(got);
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), total);
    assert_eq!(unique.len(), total);
    assert!(busy_claimers >= 2, "the claimers did not overlap");
}

fn import_file(
    s: &SqliteDialer,
    id: CampaignId,
    c: &DialerCampaign,
    path: &Path,
) -> crate::core::dialer::import::ImportReport {
    let mut file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut calls = 0;
    let report = import_base(s, id, c, &mut file, None, UnixTime(0), &mut |_| calls += 1).unwrap();
    assert!(calls >= 1);
    report
}

#[test]
fn imports_are_idempotent_and_report_rejected_lines() {
    let dir = TempDir::new("dialer-import");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let (id, c) = active(&s, "prueba1", "America/Montevideo");
    let mut text = String::from(
        "\u{feff}prueba1;098344484;var1=val1:var2=val2;099124484:099111111;9999;1001\r\n",
    );
    text.push_str("prueba1;098344484;otra=vez\n"); // line 2: duplicate of line 1
    text.push_str("otra;099000001\n"); // line 3: another campaign
    text.push('\n'); // line 4: blank
    text.push_str("prueba1;09x\n"); // line 5: bad number
    for i in 0..2500 {
        text.push_str(&format!("prueba1;+5989{i:07};i={i}\n"));
    }
    text.push_str(&format!("prueba1;{}\n", "1".repeat(9000))); // too long
    text.push_str("prueba1;+12125550000;;;;;America/Chicago"); // no final newline
    let path = dir.path().join("base.txt");
    std::fs::write(&path, &text).unwrap();

    let first = import_file(&s, id, &c, &path);
    assert_eq!(first.read, 2507);
    assert_eq!(first.imported, 2502);
    assert_eq!(first.duplicates, 1);
    assert_eq!(first.rejected_count, 3);
    let lines: Vec<(u64, &LineError)> =
        first.rejected.iter().map(|r| (r.line, &r.reason)).collect();
    assert_eq!(lines[0], (3, &LineError::OtherCampaign("otra".into())));
    assert_eq!(lines[1].0, 5);
    assert_eq!(lines[2], (2506, &LineError::TooLong));

    let second = import_file(&s, id, &c, &path);
    assert_eq!(
        (second.imported, second.duplicates, second.rejected_count),
        (0, 2503, 3)
    );
    assert_eq!(s.contacts(id, None, 0, u64::MAX).unwrap().len(), 2502);
    let c1 = &s.contacts(id, None, 0, 1).unwrap()[0];
    assert_eq!(c1.spec.zone.as_str(), "America/Montevideo");
    assert_eq!(c1.spec.agent.as_deref(), Some("1001"));
    assert_eq!(c1.spec.alternatives.len(), 2);
    let zones: Vec<String> = s
        .contact_zones(id)
        .unwrap()
        .iter()
        .map(|z| z.to_string())
        .collect();
    assert_eq!(zones, ["America/Chicago", "America/Montevideo"]);

    // uploadbasewithtimezone: the given zone for numbers that say none.
    let path2 = dir.path().join("base2.txt");
    std::fs::write(&path2, "prueba1;099777777\n").unwrap();
    let mut f = std::io::BufReader::new(std::fs::File::open(&path2).unwrap());
    let madrid = zone("Europe/Madrid");
    import_base(&s, id, &c, &mut f, Some(&madrid), UnixTime(0), &mut |_| {}).unwrap();
    let last = s.contacts(id, None, 2502, 1).unwrap();
    assert_eq!(last[0].spec.zone, madrid);
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn the_why_breakdown_equals_a_brute_force_count() {
    let dir = TempDir::new("dialer-why");
    let path = dir.path().join("s.db");
    let s = SqliteDialer::open(&path).unwrap();
    let bl = SqliteCampaigns::open(&path).unwrap();
    let (id, mut c) = active(&s, "Ventas->", "UTC");
    c.schedule.weekdays = Weekdays::mon_fri();
    c.schedule.hours = Hours::parse("09:00-20:00").unwrap();
    c.schedule.holidays = parse_holidays("2026-03-11").unwrap();
    c.retry = RetryRules::parse("busy=600/3,no_answer=900/4").unwrap();
    s.campaign_update(id, &c).unwrap();
    // Tuesday 2026-03-10 14:00 UTC: already the 11th, a holiday, in Sydney; open or closed
    // elsewhere by local hour (New York already on EDT).
    let zones = [
        "UTC",
        "America/Montevideo",
        "America/New_York",
        "America/Los_Angeles",
        "Pacific/Honolulu",
        "Europe/Madrid",
        "Asia/Tokyo",
        "Australia/Sydney",
    ];
    let now = at("2026-03-10T14:00", "UTC");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let total = 3000;
    let contacts: Vec<NewContact> = (0..total)
        .map(|i| NewContact::new(n(&format!("7{i:06}")), zone(zones[rng.below(8) as usize])))
        .collect();
    add(&s, id, contacts, UnixTime(now.seconds() - 86_400));
    // Scramble states, attempts and next attempt times.
    let raw = rusqlite::Connection::open(&path).unwrap();
    let states = [
        "pending",
        "pending",
        "pending",
        "in_progress",
        "completed",
        "rejected",
        "canceled",
    ];
    for i in 1..=total as i64 {
        raw.execute(
            "UPDATE dialer_contact SET state = ?2, attempts = ?3, next_at = ?4 WHERE id = ?1",
            rusqlite::params![
                i,
                states[rng.below(states.len() as u64) as usize],
                rng.below(5) as i64,
                now.seconds() - 3600 + rng.below(7200) as i64
            ],
        )
        .unwrap();
    }
    // Blacklist one number in twenty, in every kind of entry.
    let mut entries = Vec::new();
    for i in 0..total {
        if rng.below(20) != 0 {
            continue;
        }
        let scope = ["Ventas->", "*", "Soporte<-"][rng.below(3) as usize];
        let mut e =
            BlacklistEntry::new(n(&format!("7{i:06}")), CampaignScope::parse(scope).unwrap());
        e.direction = [
            DirectionScope::Both,
            DirectionScope::Outbound,
            DirectionScope::Inbound,
        ][rng.below(3) as usize];
        e.expire_date = [None, Day::parse("2026-03-09"), Day::parse("2026-03-10")]
            [rng.below(3) as usize]
            .clone();
        entries.push(e);
    }
    bl.blacklist_add(&entries, now).unwrap();

    let center = TimeZone::get("America/Montevideo").unwrap();
    let got = why(&s, id, now, &center).unwrap();
    let filter = filter_at(&s, id, &c, now, &center).unwrap();
    assert_eq!(filter.today.as_str(), "2026-03-10");
    let mut expect = WhyReport::default();
    for k in s.contacts(id, None, 0, u64::MAX).unwrap() {
        let blacklisted = entries.iter().any(|e| {
            e.blocks(
                &c.name,
                CallDirection::Outbound,
                &k.spec.main,
                &filter.today,
            )
        });
        expect.add(classify(&k, &filter, blacklisted));
    }
    assert_eq!(got, expect);
    assert_eq!(got.total, total as u64);
    for (what, count) in [
        ("state", got.state),
        ("attempts", got.attempts_exhausted),
        ("not due", got.not_due),
        ("blacklisted", got.blacklisted),
        ("holiday", got.holiday),
        ("outside hours", got.outside_hours),
        ("dialable", got.dialable),
    ] {
        assert!(
            count > 0,
            "no contact {what}: the campaign does not exercise every filter"
        );
    }
    // Claiming takes exactly the dialable ones.
    let mut claimed = 0;
    while claim_next(&s, id, now, &center).unwrap().is_some() {
        claimed += 1;
    }
    assert_eq!(claimed, got.dialable);
    let _ = ZoneWindows::default();
}

#[test]
fn the_claim_query_walks_the_claim_index_per_open_zone() {
    let dir = TempDir::new("dialer-plan");
    let path = dir.path().join("s.db");
    let _s = SqliteDialer::open(&path).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let names: Vec<String> = (0..3).map(|i| format!(":z{i}")).collect();
    let mut bound: Vec<(&str, &dyn rusqlite::ToSql)> = vec![
        (":campaign", &1),
        (":now", &0),
        (":max", &3),
        (":name", &"x"),
        (":today", &"2026-01-01"),
        (":agents", &"[]"),
    ];
    for name in &names {
        bound.push((name.as_str(), &"UTC"));
    }
    let plan = raw
        .prepare(&format!("EXPLAIN QUERY PLAN {}", claim_sql(3)))
        .unwrap()
        .query_map(bound.as_slice(), |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .join("\n");
    // Per open zone: its due callbacks found by due time (callbacks not due yet are never
    // read), and one walk of the other contacts in claim order.
    let callbacks = plan
        .matches(
            "USING INDEX dialer_contact_callback_due (campaign_id=? AND state=? AND zone=? AND next_at<?)",
        )
        .count();
    assert_eq!(callbacks, 3, "{plan}");
    let walks = plan
        .matches(
            "USING INDEX dialer_contact_claim (campaign_id=? AND state=? AND zone=? AND callback=?)",
        )
        .count();
    assert_eq!(walks, 3, "{plan}");
    assert!(!plan.contains("SCAN c"), "{plan}");
}

#[test]
fn many_open_zones_claim_in_the_same_order() {
    let dir = TempDir::new("dialer-many-zones");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let (id, c) = active(&s, "Ventas->", "UTC");
    let now = at("2026-03-09T10:00", "UTC");
    // More open zones than one query walks (taken from the zone database: those open now).
    let known: Vec<ZoneName> = jiff::tz::db()
        .available()
        .filter_map(|z| ZoneName::parse(z.as_str()).ok())
        .collect();
    let mut zones = ZoneWindows::compute(&c, &known, now).open;
    zones.truncate(MAX_ZONE_WALKS + 10);
    assert!(zones.len() > MAX_ZONE_WALKS);
    let contacts: Vec<NewContact> = zones
        .iter()
        .enumerate()
        .map(|(i, z)| {
            let mut c = NewContact::new(n(&format!("6{i:05}")), z.clone());
            c.priority = (zones.len() - i) as u32;
            c
        })
        .collect();
    add(&s, id, contacts, now);
    let got: Vec<String> = std::iter::from_fn(|| claimed_main(&s, id, now)).collect();
    let expect: Vec<String> = (0..zones.len()).rev().map(|i| format!("6{i:05}")).collect();
    assert_eq!(got, expect);
}

#[tokio::test]
async fn stale_claims_are_released_and_contacts_canceled() {
    let dir = TempDir::new("dialer-release");
    let store = Arc::new(SqliteDialer::open(&dir.path().join("s.db")).unwrap());
    let (id, _) = active(&store, "Ventas->", "UTC");
    let service = DialerService::new(store.clone(), utc());
    let t0 = at("2026-03-09T10:00", "UTC");
    let report = service
        .import(
            id,
            b"Ventas->;1001\nVentas->;1002\nVentas->;1003\n".to_vec(),
            None,
            t0,
        )
        .await
        .unwrap();
    assert_eq!(report.imported, 3);
    let first = service.claim_next(id, t0).await.unwrap().unwrap();
    assert_eq!(first.contact.spec.main.as_str(), "1001");
    // A claim older than the cut is released, with no attempt counted; a newer one is not.
    let later = UnixTime(t0.seconds() + 600);
    let second = service.claim_next(id, later).await.unwrap().unwrap();
    assert_eq!(
        service
            .release_claims(id, UnixTime(t0.seconds() + 1))
            .await
            .unwrap(),
        1
    );
    let back = store.contact(first.contact.id).unwrap().unwrap();
    assert_eq!((back.state, back.attempts), (ContactState::Pending, 0));
    assert_eq!(
        store.contact(second.contact.id).unwrap().unwrap().state,
        ContactState::InProgress
    );
    // Canceling: a pending contact is never claimed again; a final one stays as it is.
    assert!(store.cancel_contact(id, &n("1001"), later).unwrap());
    assert!(!store.cancel_contact(id, &n("1001"), later).unwrap());
    assert!(!store.cancel_contact(id, &n("9999"), later).unwrap());
    let third = service.claim_next(id, later).await.unwrap().unwrap();
    assert_eq!(third.contact.spec.main.as_str(), "1003");
    assert_eq!(service.claim_next(id, later).await.unwrap(), None);
    // The recorded attempt of a canceled contact is refused.
    assert!(store.cancel_contact(id, &n("1003"), later).unwrap());
    assert!(matches!(
        service.record_attempt(third, busy(), later).await,
        Err(DialerError::NotClaimed(_))
    ));
    assert!(matches!(
        service.import(CampaignId(42), Vec::new(), None, t0).await,
        Err(DialerError::UnknownCampaign(_))
    ));
}

#[test]
fn the_zones_of_a_campaign_are_its_own() {
    let dir = TempDir::new("dialer-zones");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let (a, _) = active(&s, "A->", "UTC");
    let (b, _) = active(&s, "B->", "UTC");
    let mk = |num: &str, z: &str| NewContact::new(n(num), zone(z));
    add(
        &s,
        a,
        vec![
            mk("1001", "Europe/Madrid"),
            mk("1002", "America/Montevideo"),
            mk("1003", "Europe/Madrid"),
        ],
        UnixTime(0),
    );
    add(
        &s,
        b,
        vec![mk("1001", "Asia/Tokyo"), mk("2002", "UTC")],
        UnixTime(0),
    );
    let names = |id| -> Vec<String> {
        s.contact_zones(id)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(names(a), ["America/Montevideo", "Europe/Madrid"]);
    assert_eq!(names(b), ["Asia/Tokyo", "UTC"]);
    assert!(names(CampaignId(99)).is_empty());
}

#[test]
fn a_contact_for_an_agent_is_claimed_only_while_that_agent_is_free() {
    use crate::core::dialer::{claim_next_with, AgentFilter};
    let dir = TempDir::new("dialer-agent");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let (id, _) = active(&s, "Ventas->", "UTC");
    let mut callback = NewContact::new(n("5558001"), zone("UTC"));
    callback.agent = Some("1005".into());
    callback.callback_at = Some(UnixTime(10));
    let mut assigned = NewContact::new(n("5558002"), zone("UTC"));
    assigned.agent = Some("PJSIP/1006".into());
    assigned.priority = 1;
    let plain = NewContact::new(n("5558003"), zone("UTC"));
    add(&s, id, vec![callback, assigned, plain], UnixTime(0));
    let now = at("2026-03-09T12:00", "UTC");
    let free = |keys: &[&str]| AgentFilter::Free(keys.iter().map(|k| (*k).to_owned()).collect());
    let main = |c: Option<Claimed>| c.map(|c| c.contact.spec.main.as_str().to_owned());

    // Nobody assigned is free: the breakdown says two wait for their agent, and the claim
    // passes over the due callback and the better priority to the contact for anyone.
    let w = why(&s, id, now, &utc()).unwrap();
    assert_eq!((w.for_agent, w.dialable, w.total), (2, 1, 3));
    let f = filter_at(&s, id, &s.campaign(id).unwrap().unwrap(), now, &utc()).unwrap();
    assert_eq!(f.agents, AgentFilter::Unknown);
    let only_others = claim_next_with(&s, id, now, &utc(), free(&["PJSIP/1004", "1004"]));
    assert_eq!(main(only_others.unwrap()), Some("5558003".into()));
    assert_eq!(
        main(claim_next_with(&s, id, now, &utc(), free(&["1004"])).unwrap()),
        None
    );
    // 1005 free (named by its phone): its due callback comes first; then 1006, named by its
    // interface.
    let both = free(&["PJSIP/1005", "1005", "PJSIP/1006", "1006"]);
    assert_eq!(
        main(claim_next_with(&s, id, now, &utc(), both.clone()).unwrap()),
        Some("5558001".into())
    );
    assert_eq!(
        main(claim_next_with(&s, id, now, &utc(), both.clone()).unwrap()),
        Some("5558002".into())
    );
    assert_eq!(
        main(claim_next_with(&s, id, now, &utc(), both).unwrap()),
        None
    );
    // The plain claim (no live state) never takes a contact for an agent.
    assert_eq!(claim(&s, id, now), None);
}

#[test]
fn the_recent_attempts_come_with_their_evidence_oldest_first() {
    use crate::core::dialer::calls::DialerCallStore;
    use crate::core::dialer::evidence::Evidence;
    use crate::core::originate::{JobState, OriginateId};
    let dir = TempDir::new("dialer-recent");
    let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
    let (id, _) = active(&s, "Ventas->", "UTC");
    let now = at("2026-03-09T12:00", "UTC");
    let mains: Vec<String> = (0..4).map(|i| format!("55580010{i}")).collect();
    add(
        &s,
        id,
        mains
            .iter()
            .map(|m| NewContact::new(n(m), zone("UTC")))
            .collect(),
        UnixTime(0),
    );
    for (i, _) in mains.iter().enumerate() {
        let c = claim(&s, id, now).unwrap();
        let ended = UnixTime(now.seconds() + 10 * i as i64);
        let mut e = Evidence::of_job(
            OriginateId::parse(&format!("job-{i}")).unwrap(),
            JobState::HungUp,
        );
        e.answered = i % 2 == 0;
        let a = Attempt {
            contact: c.contact.id,
            number_of: 1,
            dialed: c.number.clone(),
            claimed_at: now,
            answered_at: e.answered.then_some(now),
            ended_at: ended,
            outcome: if e.answered {
                Outcome::Answered
            } else {
                Outcome::NoAnswer
            },
            connect_latency_ms: None,
        };
        assert!(s
            .finish_with_evidence(&a, AfterAttempt::Done(ContactState::Completed), id, &e)
            .unwrap());
    }
    // The last three of those ended since `now + 5`: the last two, oldest first.
    let got = s.recent(id, UnixTime(now.seconds() + 5), 2).unwrap();
    let jobs: Vec<String> = got.iter().map(|(_, e)| e.job.to_string()).collect();
    assert_eq!(jobs, ["job-2", "job-3"]);
    assert_eq!(got[0].0.outcome, Outcome::Answered);
    assert_eq!(got[1].0.outcome, Outcome::NoAnswer);
    assert_eq!(got[1].0.ended_at, UnixTime(now.seconds() + 30));
    assert!(s
        .recent(id, UnixTime(now.seconds() + 31), 10)
        .unwrap()
        .is_empty());
}
