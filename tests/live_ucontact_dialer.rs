//! Live tier: uContact's dialer operations (`Dialers/*`) driven by Python `requests`
//! (`tests/clients/ucontact/dialers.py`) against the real engine on the lab, with the seed's
//! examples: Respool, ScheduleDialerCall, DialerTask's four modes, RemoveContact,
//! RemoveScheduleDialerCall, uploadbase and uploadbasewithtimezone (followed with
//! `Dialers/uploadstatus`), a RESPOOL disposition. The answers are checked by the client, their
//! effects here in the engine's store (scheduled calls, contacts, zones, states).
//!
//! The dialer campaign is left Incomplete, so nothing is dialed: no agent has to answer, and
//! the test checks that no attempt and no originate job exist at the end. Under 60 s.

#![cfg(feature = "live-lab")]

mod live_support;

use live_support::rest::{create_campaign, healthy_engine, query_rows};
use live_support::*;

const CAMPAIGN: &str = "Ventas->";

const EXTRA: &str = r#"
[[campaigns.campaign]]
name = "Ventas->"
outbound = true
[[campaigns.campaign.disposition]]
l1 = "Otra vez"
action = "RESPOOL"
txtcode = "RP"
"#;

/// The scheduled calls of the campaign: (number, alternatives, agent, call_at, priority,
/// status, data), by id.
type Row = (
    String,
    String,
    Option<String>,
    Option<i64>,
    i64,
    String,
    String,
);

fn scheduled(db: &rusqlite::Connection) -> Vec<Row> {
    query_rows(
        db,
        "SELECT s.number, s.alternatives, s.agent, s.call_at, s.priority, s.status, s.data \
         FROM dialer_schedule s JOIN dialer_campaign c ON c.id = s.campaign_id \
         WHERE c.name = ?1 ORDER BY s.id",
        [CAMPAIGN],
    )
}

fn row<'a>(rows: &'a [Row], number: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.0 == number)
        .unwrap_or_else(|| panic!("a scheduled call to {number}: {rows:?}"))
}

/// 2015-10-11 15:00:00 in the lab's zone (the engine's `[engine] timezone`).
fn seed_date() -> i64 {
    let tz = jiff::tz::TimeZone::get("America/Montevideo").unwrap();
    "2015-10-11T15:00:00"
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(tz)
        .unwrap()
        .timestamp()
        .as_second()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dialer_operations_through_python_requests() {
    let scratch = Scratch::new("live-ucontact-dialer");
    let engine = healthy_engine(scratch.path(), "ucontact-dialer", EXTRA);
    for (number, user, supervisor) in [("2331", "dial_ag", false), ("2332", "dial_sup", true)] {
        let more: &[&str] = if supervisor { &["--supervisor"] } else { &[] };
        engine.add_agent(number, user, Some(&format!("pw-{user}")), more);
    }
    // Left Incomplete: nothing of it is dialed.
    create_campaign(&engine, CAMPAIGN);

    let (ok, out, err) = run_client(
        &python(),
        &repo().join("tests/clients/ucontact/dialers.py"),
        &[
            &engine.base_url(),
            "dial_ag",
            "pw-dial_ag",
            "dial_sup",
            "pw-dial_sup",
            CAMPAIGN,
        ],
    );
    eprintln!("dialers.py:\n{out}{err}");
    assert!(ok, "dialers.py failed: {err}");
    let summary: serde_json::Value =
        serde_json::from_str(out.lines().last().expect("a summary")).unwrap();
    assert_eq!(summary["respool"], "1");
    assert_eq!(summary["respool_again"], "0");

    let db = rusqlite::Connection::open(scratch.store()).unwrap();
    let rows = scheduled(&db);
    let seed = seed_date();

    // Respool: undated, its priority, the alternative and the agent's phone; once.
    let r = row(&rows, "098344484");
    assert_eq!(
        (r.1.as_str(), r.2.as_deref(), r.3, r.4, r.5.as_str()),
        ("098124484", Some("1001"), None, 9999, "pending")
    );
    assert!(r.6.contains("Par2=Val2"), "{r:?}");
    assert_eq!(rows.iter().filter(|r| r.0 == "098344484").count(), 1);
    // ScheduleDialerCall: dated in the call center's zone.
    let r = row(&rows, "098344400");
    assert_eq!(
        (r.1.as_str(), r.3, r.5.as_str()),
        ("099124484:099121212", Some(seed), "pending")
    );
    // DialerTask now: undated, priority 1.
    let r = row(&rows, "12345678");
    assert_eq!((r.3, r.4, r.5.as_str()), (None, 1, "pending"));
    assert!(r.6.contains("name=Seba"), "{r:?}");
    // DialerTask dated, then removed by RemoveScheduleDialerCall.
    let r = row(&rows, "12345670");
    assert_eq!(
        (r.2.as_deref(), r.3, r.5.as_str()),
        (Some("Agente1"), Some(seed), "canceled")
    );
    // The click-to-call without an agent placed nothing and spooled nothing.
    assert!(rows.iter().all(|r| r.0 != "12345671"));
    // The RESPOOL disposition.
    let r = row(&rows, "5551234");
    assert_eq!((r.3, r.4, r.5.as_str()), (None, 9999, "pending"));

    // Contacts: the bulk task (once, then canceled by RemoveContact) and the uploads.
    let contacts: Vec<(String, String, String, Option<String>)> = {
        let mut st = db
            .prepare(
                "SELECT k.main, k.state, k.zone, k.agent FROM dialer_contact k \
                 JOIN dialer_campaign c ON c.id = k.campaign_id WHERE c.name = ?1 ORDER BY k.main",
            )
            .unwrap();
        st.query_map([CAMPAIGN], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    let contact = |main: &str| {
        contacts
            .iter()
            .find(|c| c.0 == main)
            .unwrap_or_else(|| panic!("a contact {main}: {contacts:?}"))
    };
    assert_eq!(contacts.len(), 4, "{contacts:?}");
    assert_eq!(contact("12345679").1, "canceled");
    assert_eq!(contact("12345679").3.as_deref(), Some("Agente1"));
    assert_eq!(contact("098344484").1, "pending");
    assert_eq!(contact("098344484").3.as_deref(), Some("1001"));
    assert_eq!(contact("098500001").1, "pending");
    assert_eq!(contact("098600001").2, "America/Bogota");

    // The uploads' jobs are stored, finished, with their counts; their files are gone.
    let jobs: Vec<(String, String, i64, i64, i64)> = {
        let mut st = db
            .prepare(
                "SELECT filename, state, imported, duplicates, rejected FROM dialer_upload \
                 WHERE campaign = ?1 ORDER BY id",
            )
            .unwrap();
        st.query_map([CAMPAIGN], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    let job = |f: &str, st: &str, i, d, r| (f.to_owned(), st.to_owned(), i, d, r);
    assert_eq!(
        jobs,
        vec![
            job("base1.txt", "done", 2, 1, 1),
            job("base1.txt", "done", 0, 3, 1),
            job("base2.txt", "done", 1, 0, 0),
        ]
    );
    let files: i64 = db
        .query_row("SELECT COUNT(*) FROM dialer_upload_file", [], |r| r.get(0))
        .unwrap();
    assert_eq!(files, 0, "a finished upload's file is deleted");

    // Nothing was dialed: no attempt, no originate job.
    let attempts: i64 = db
        .query_row("SELECT COUNT(*) FROM dialer_attempt", [], |r| r.get(0))
        .unwrap();
    let jobs: i64 = db
        .query_row("SELECT COUNT(*) FROM originate_job", [], |r| r.get(0))
        .unwrap();
    assert_eq!((attempts, jobs), (0, 0));
}
