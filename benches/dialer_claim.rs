//! Claiming from a campaign of `DIALER_CLAIM_CONTACTS` (1 000 000) contacts through the real
//! SQLite store (`SqliteDialer`, a temporary file under `target/bench/`): p50/p99 of
//! `DIALER_CLAIM_N` (2000) claims (`core::dialer::claim_next`: the campaign read, its zones,
//! the indexed claim and its update), against a full-scan baseline in the same run (every
//! contact row read and `claim::classify` applied in Rust, the best kept), and the claim
//! query's `EXPLAIN QUERY PLAN`.
//!
//! The contacts: four zones (New York, London, Montevideo open at 15:00 UTC; Tokyo closed),
//! priorities 1-10, one in twenty a dated callback an hour ahead (not due).

mod support;

use std::time::{Duration, Instant};

use centralita::core::campaigns::CampaignName;
use centralita::core::dialer::campaign::{CampaignState, Hours, Weekdays};
use centralita::core::dialer::claim::classify;
use centralita::core::dialer::{
    claim_next, filter_at, DialerCampaign, DialerStore, NewContact, ZoneName,
};
use centralita::core::directory::QueueName;
use centralita::core::originate::PhoneNumber;
use centralita::core::UnixTime;
use centralita::store::SqliteDialer;
use jiff::tz::TimeZone;

const ZONES: [&str; 4] = [
    "America/New_York",
    "Europe/London",
    "America/Montevideo",
    "Asia/Tokyo",
];

fn main() {
    let total = support::env_num("DIALER_CLAIM_CONTACTS", 1_000_000);
    let claims = support::env_num("DIALER_CLAIM_N", 2000) as usize;
    let scans = support::env_num("DIALER_CLAIM_SCANS", 3) as usize;
    let dir = support::target_dir()
        .join("bench")
        .join(format!("dialer_claim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let path = dir.join("engine.db");
    let store = SqliteDialer::open(&path).expect("store");
    let zone = |z: &str| ZoneName::parse(z).expect("zone");
    let mut c = DialerCampaign::new(
        CampaignName::parse("bench").expect("name"),
        QueueName::new("q_campanas").expect("queue"),
        zone("America/Montevideo"),
    );
    c.schedule.weekdays = Weekdays::all();
    c.schedule.hours = Hours::parse("00:00-24:00").expect("hours");
    c.state = CampaignState::Active;
    let id = store.campaign_create(&c).expect("create").expect("new");
    // 2026-12-02 15:00 UTC, a Wednesday.
    let now = UnixTime(1_796_223_600);

    let started = Instant::now();
    let batch = 10_000u64;
    let mut i = 0u64;
    while i < total {
        let contacts: Vec<NewContact> = (i..(i + batch).min(total))
            .map(|k| {
                let main = PhoneNumber::parse(&format!("2{:09}", k)).expect("number");
                let mut nc = NewContact::new(main, zone(ZONES[(k % 4) as usize]));
                nc.priority = (k % 10) as u32 + 1;
                if k % 20 == 0 {
                    nc.callback_at = Some(UnixTime(now.seconds() + 3600));
                }
                nc
            })
            .collect();
        store.insert_contacts(id, &contacts, now).expect("insert");
        i += batch;
    }
    let insert_s = started.elapsed().as_secs_f64();
    println!(
        "inserted {total} contacts in {insert_s:.1} s ({:.0}/s)",
        total as f64 / insert_s
    );

    // The claim query's plan (the same statement the store prepares for one open zone).
    let conn = rusqlite::Connection::open(&path).expect("plan connection");
    let plan_sql = format!(
        "EXPLAIN QUERY PLAN {}",
        centralita::store::dialer::claim_sql(1)
    );
    let mut stmt = conn.prepare(&plan_sql).expect("plan");
    let plan: Vec<String> = stmt
        .query_map(
            rusqlite::named_params! {
                ":campaign": id.0,
                ":now": now.seconds(),
                ":max": 3,
                ":today": "2026-12-02",
                ":agents": "[]",
                ":today": "2026-12-02",
                ":z0": ZONES[0],
            },
            |r| r.get::<_, String>(3),
        )
        .expect("plan rows")
        .map(|r| r.expect("plan row"))
        .collect();
    drop(stmt);
    drop(conn);
    for line in &plan {
        println!("plan: {line}");
    }
    let scans_table = plan
        .iter()
        .any(|l| l.starts_with("SCAN c") || l.contains("SCAN dialer_contact"));

    // Claims through the real path.
    let utc = TimeZone::UTC;
    let mut times = Vec::with_capacity(claims);
    for _ in 0..claims {
        let t = Instant::now();
        let got = claim_next(&store, id, now, &utc).expect("claim");
        times.push(t.elapsed());
        assert!(got.is_some(), "a contact to claim");
    }
    let p50 = support::quantile(&times, 0.5).unwrap_or_default();
    let p99 = support::quantile(&times, 0.99).unwrap_or_default();

    // The baseline: every row read and classified in Rust.
    let filter = filter_at(&store, id, &c, now, &utc).expect("filter");
    let mut scan_times: Vec<Duration> = Vec::new();
    let mut scan_pick = None;
    for _ in 0..scans {
        let t = Instant::now();
        let mut best: Option<(bool, u32, i64)> = None;
        let mut offset = 0;
        loop {
            let page = store.contacts(id, None, offset, 50_000).expect("contacts");
            if page.is_empty() {
                break;
            }
            offset += page.len() as u64;
            for contact in &page {
                if classify(contact, &filter, false).is_none() {
                    let rank = (
                        contact.spec.callback_at.is_none(),
                        contact.spec.priority,
                        contact.id.0,
                    );
                    if best.is_none_or(|b| rank < b) {
                        best = Some(rank);
                    }
                }
            }
        }
        scan_times.push(t.elapsed());
        scan_pick = best.map(|b| b.2);
    }
    let scan_p50 = support::quantile(&scan_times, 0.5).unwrap_or_default();
    // The scan's pick must be what the store claims next.
    let next = claim_next(&store, id, now, &utc)
        .expect("claim")
        .map(|c| c.contact.id.0);
    let same = next == scan_pick;
    let ratio = scan_p50.as_secs_f64() / p50.as_secs_f64().max(1e-9);
    println!(
        "claim_next: p50 {:.3} ms, p99 {:.3} ms over {claims} claims; full scan p50 {:.1} ms \
         ({scans} scans); scan / claim p50 = {ratio:.0}x; same pick: {same}; plan scans the \
         table: {scans_table}",
        support::ms(p50),
        support::ms(p99),
        support::ms(scan_p50)
    );
    support::write_json(
        "dialer_claim",
        &serde_json::json!({
            "contacts": total,
            "insert_s": insert_s,
            "claims": claims,
            "claim_p50_ms": support::ms(p50),
            "claim_p99_ms": support::ms(p99),
            "full_scan_p50_ms": support::ms(scan_p50),
            "scan_to_claim_p50_ratio": ratio,
            "same_pick": same,
            "plan": plan,
            "plan_scans_table": scans_table,
        }),
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        same,
        "the full scan and the store disagree on the next contact"
    );
}
