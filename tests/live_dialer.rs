//! Live: the outbound dialer runs a predictive campaign with answering-machine detection on
//! the lab, with six agents (phones 1001-1006 in queue `q_campanas`).
//!
//! The contacts are the lab carrier's dialer numbers (vm/README.md): people (5558), answering
//! machines (5557), busy (5552), no answer (5553), congestion (5554) and random outcomes (5559),
//! plus contacts in a zone where it is night now and blacklisted ones (global and for the
//! campaign, through uContact's `addblack` with a real HTTP client). The test waits until every
//! dialable contact ends and checks what a call center cares about: every contact in a
//! documented state, the retries as the rules say, blacklisted and out-of-hours numbers never
//! dialed (no CDR of Asterisk names them), machines detected, every answered person connected
//! to an agent or played the safe-harbor message, and the abandon rate within the target.
#![cfg(feature = "live-lab")]

mod live_support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use centralita::core::campaigns::CampaignName;
use centralita::core::dialer::abandon::AbandonRule;
use centralita::core::dialer::calls::DialerCallStore;
use centralita::core::dialer::{ContactState, DialerStore, Outcome};
use centralita::store::SqliteDialer;
use live_support::dialer::*;
use live_support::*;

const CAMPAIGN: &str = "Salida";

/// What each kind of number must end in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Person,
    Machine,
    Busy,
    NoAnswer,
    Congestion,
    Random,
}

fn base_line(number: &str, kind: Kind) -> String {
    format!("{CAMPAIGN};{number};kind={kind:?};;;\n")
}

/// The Asterisk CDR destinations (dst) since AcctId `after`.
fn dialed_since(after: i64) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(cdr_db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    let mut stmt = conn
        .prepare("SELECT dst FROM cdr WHERE AcctId > ?1")
        .unwrap();
    stmt.query_map([after], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_predictive_campaign_with_amd_on_the_lab() {
    let scratch = Scratch::new("dialer");
    let engine = Engine::start_with(scratch.path(), "1", EXTRA);
    wait_health(
        &engine,
        Duration::from_secs(30),
        "the engine healthy",
        |code, _| code == "200",
    );
    let cdr_start = asterisk_max_acct_id();
    let _members = agents_in_queue().await;

    // The campaign: predictive, AMD on, every day, the default 08:00-21:00 floor; retries
    // quick enough for a test.
    create_predictive_campaign(
        &engine,
        CAMPAIGN,
        "busy=10/2,no_answer=10/2,machine=10/2,abandoned=20/2",
    );

    // The base: 300 dialable contacts in a zone open now, 20 in one closed now, 10 blacklisted.
    let mut kinds: BTreeMap<String, Kind> = BTreeMap::new();
    let mut open_base = String::new();
    let mut add = |base: &mut String, number: String, kind: Kind| {
        base.push_str(&base_line(&number, kind));
        kinds.insert(number, kind);
    };
    for i in 0..120 {
        // A person talking 5-7 s (from the answer: AMD takes about 1.5 s of it).
        add(
            &mut open_base,
            format!("5558{:03}{:03}", 5 + i % 3, i),
            Kind::Person,
        );
    }
    for i in 0..40 {
        add(&mut open_base, format!("5557002{i:03}"), Kind::Machine);
    }
    for i in 0..40 {
        add(&mut open_base, format!("555200{i:03}"), Kind::Busy);
    }
    for i in 0..25 {
        add(&mut open_base, format!("555300{i:03}"), Kind::NoAnswer);
    }
    for i in 0..15 {
        add(&mut open_base, format!("555400{i:03}"), Kind::Congestion);
    }
    for i in 0..60 {
        // 50 % a person (6 s), 20 % busy, 10 % a machine, 20 % no answer.
        add(&mut open_base, format!("555952106{i:03}"), Kind::Random);
    }
    let mut closed_base = String::new();
    let mut closed = Vec::new();
    for i in 0..20 {
        let n = format!("5558002{:03}", 500 + i);
        closed_base.push_str(&base_line(&n, Kind::Person));
        closed.push(n);
    }
    let blacklisted: Vec<String> = (0..10).map(|i| format!("5558002{:03}", 900 + i)).collect();
    for n in &blacklisted {
        open_base.push_str(&base_line(n, Kind::Person));
    }
    let (open_zone, closed_zone) = (zone_where(true), zone_where(false));
    eprintln!("open zone {open_zone}, closed zone {closed_zone}");
    let out = engine.admin(
        &[
            "dialer",
            "import",
            CAMPAIGN,
            &write(scratch.path(), "open.txt", &open_base),
            "--zone",
            open_zone,
        ],
        "",
    );
    eprintln!("import: {out}");
    engine.admin(
        &[
            "dialer",
            "import",
            CAMPAIGN,
            &write(scratch.path(), "closed.txt", &closed_base),
            "--zone",
            closed_zone,
        ],
        "",
    );

    // Blacklist through uContact's API (requests): half for every campaign, half for this one.
    engine.admin(
        &[
            "agent",
            "add",
            "2390",
            "--name",
            "Supervisora",
            "--username",
            "dialsup",
            "--queue",
            QUEUE,
            "--extension",
            "1008",
            "--supervisor",
            "--password-stdin",
        ],
        "pw-dialsup\n",
    );
    let script = write(
        scratch.path(),
        "blacklist.py",
        r#"
import json, sys, requests
base, user, password, campaign = sys.argv[1:5]
numbers = sys.argv[5:]
api = base + "/Integra/resources"
token = requests.post(api + "/auth/getUserToken", data={"user": user, "password": password}).json()[-1]
h = {"Authorization": "Basic " + token}
for i, n in enumerate(numbers):
    c = "*" if i % 2 == 0 else campaign
    r = requests.post(api + "/admin/addblack", headers=h, data={"black": json.dumps(
        {"phone": n, "campaign": c, "direction": "O", "expire_date": "2099-12-31"})})
    print(n, c, r.status_code, r.text)
"#,
    );
    let mut args: Vec<&str> = vec![&script, "placeholder", "dialsup", "pw-dialsup", CAMPAIGN];
    let base = engine.base_url();
    args[1] = &base;
    for n in &blacklisted {
        args.push(n);
    }
    let (ok, out, err) = run_client(&python(), Path::new(args[0]), &args[1..]);
    eprintln!("blacklist.py:\n{out}{err}");
    assert!(ok, "blacklist.py failed: {err}");
    assert_eq!(
        out.lines().filter(|l| l.ends_with(" 200 1")).count(),
        10,
        "{out}"
    );

    // Two scheduled calls to people not in the base, due now: a uContact DialerTask "priority
    // 1, now" (requests) and an eXpand panel call dated a minute ago (requests, HTTP Basic).
    // The dialer places them before every contact of the base.
    let (task_number, panel_number) = ("55580079990", "55580079991");
    kinds.insert(task_number.to_owned(), Kind::Person);
    kinds.insert(panel_number.to_owned(), Kind::Person);
    let rest_key = engine.api_key("expand-rest", "CRM");
    let (rest_user, rest_password) = rest_key.split_once('.').expect("<id>.<secret>");
    let calldate = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_secs(60))
        .unwrap()
        .in_tz("America/Montevideo")
        .unwrap()
        .strftime("%Y-%m-%d %H:%M")
        .to_string();
    let script = write(
        scratch.path(),
        "scheduled.py",
        r#"
import json, sys, requests
base, user, password, campaign, task, rest_user, rest_password, panel, calldate = sys.argv[1:10]
api = base + "/Integra/resources"
token = requests.post(api + "/auth/getUserToken", data={"user": user, "password": password}).json()[-1]
h = {"Authorization": "Basic " + token}
call = {"calldate": None, "campaign": campaign, "destination": task, "alternatives": "",
        "agent": "", "data": "origen=tarea", "source": "crm", "bulk": False, "automatic": True}
r = requests.post(api + "/Dialers/DialerTask", headers=h, data={"call": json.dumps(call)})
print("task", r.status_code, r.text)
r = requests.post(base + "/expandweb3/api/external/outgoingcalls/call", auth=(rest_user, rest_password),
                  json={"queue": campaign, "phone": [panel], "contact": "Pedro", "subject": "Devolver llamada",
                        "calldate": calldate, "expiration": 0})
print("panel", r.status_code, r.text)
"#,
    );
    let (ok, out, err) = run_client(
        &python(),
        Path::new(&script),
        &[
            &base,
            "dialsup",
            "pw-dialsup",
            CAMPAIGN,
            task_number,
            rest_user,
            rest_password,
            panel_number,
            &calldate,
        ],
    );
    eprintln!("scheduled.py:\n{out}{err}");
    assert!(ok, "scheduled.py failed: {err}");
    assert!(out.contains("task 200 1"), "{out}");
    assert!(out.contains("panel 201 {\"callid\":"), "{out}");

    // Agent 1001 (phone 1001, member name 1001) in the directory, for USCall's agentStatus.
    engine.admin(
        &[
            "agent",
            "add",
            "1001",
            "--name",
            "Agente Campanas",
            "--queue",
            QUEUE,
            "--extension",
            "1001",
        ],
        "",
    );
    let uscall = Uscall {
        wsdl: format!(
            "{}/aplicativos/webservice/wsuscall.php?wsdl",
            engine.base_url()
        ),
        token: engine.api_key("uscall", "CRM"),
    };
    let idle = uscall.ok("agentStatus", &["1001"]);
    assert_eq!(idle[0]["campanha"], "", "no campaign is Active yet: {idle}");

    // Go.
    let started = Instant::now();
    set_campaign_state(&engine, CAMPAIGN, "Active");
    // USCall's agentStatus (PHP SoapClient) names the campaign the agent works for.
    let working = uscall.ok("agentStatus", &["1001"]);
    assert_eq!(working[0]["campanha"], CAMPAIGN, "{working}");

    let store = SqliteDialer::open(&scratch.path().join("journal.db")).unwrap();
    let (id, campaign) = store
        .campaign_by_name(&CampaignName::parse(CAMPAIGN).unwrap())
        .unwrap()
        .unwrap();
    let dialable: HashSet<&String> = kinds.keys().collect();
    let deadline = Instant::now() + Duration::from_secs(900);
    let contacts = loop {
        let all = store.contacts(id, None, 0, 10_000).unwrap();
        let open = all
            .iter()
            .filter(|c| dialable.contains(&c.spec.main.as_str().to_owned()))
            .filter(|c| matches!(c.state, ContactState::Pending | ContactState::InProgress))
            .count();
        if open == 0 {
            break all;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let attempted: u32 = all.iter().map(|c| c.attempts).sum();
            assert!(
                attempted > 0,
                "nothing attempted in 60 s; log {}",
                engine.log.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{open} contacts still open after {:?}; log {}",
            started.elapsed(),
            engine.log.display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("campaign done in {:?}", started.elapsed());

    // Every dialable contact ended as its number says; retries as the rules say.
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for c in &contacts {
        let number = c.spec.main.as_str().to_owned();
        let attempts = store.attempts_of(c.id).unwrap();
        assert_eq!(attempts.len() as u32, c.attempts, "{number}");
        let outcomes: Vec<Outcome> = attempts.iter().map(|a| a.outcome.clone()).collect();
        let Some(kind) = kinds.get(&number) else {
            // Out of hours or blacklisted: never attempted.
            assert_eq!(c.state, ContactState::Pending, "{number}");
            assert_eq!(c.attempts, 0, "{number} was attempted");
            continue;
        };
        *counts.entry(format!("{kind:?} {:?}", c.state)).or_default() += 1;
        match kind {
            Kind::Person => {
                // Answered by an agent (or, rarely, abandoned and then reached).
                assert_eq!(c.state, ContactState::Completed, "{number}: {outcomes:?}");
                assert_eq!(outcomes.last(), Some(&Outcome::Answered), "{number}");
            }
            Kind::Machine => {
                assert_eq!(c.state, ContactState::Rejected, "{number}");
                assert_eq!(
                    outcomes,
                    vec![Outcome::Machine, Outcome::Machine],
                    "{number}"
                );
            }
            Kind::Busy => {
                // Busy twice; the carrier may answer 503 under load (congestion: no retry).
                assert_eq!(c.state, ContactState::Rejected, "{number}");
                assert!(
                    outcomes == [Outcome::Busy, Outcome::Busy]
                        || outcomes.last() == Some(&Outcome::Congestion)
                            && outcomes[..outcomes.len() - 1]
                                .iter()
                                .all(|o| *o == Outcome::Busy),
                    "{number}: {outcomes:?}"
                );
            }
            Kind::NoAnswer => {
                assert_eq!(c.state, ContactState::Rejected, "{number}");
                assert_eq!(
                    outcomes,
                    vec![Outcome::NoAnswer, Outcome::NoAnswer],
                    "{number}"
                );
            }
            Kind::Congestion => {
                // No rule for congestion: the first failure ends the contact.
                assert_eq!(c.state, ContactState::Rejected, "{number}");
                assert_eq!(outcomes, vec![Outcome::Congestion], "{number}");
            }
            Kind::Random => {
                assert!(
                    matches!(c.state, ContactState::Completed | ContactState::Rejected),
                    "{number}: {:?}",
                    c.state
                );
                assert!(!outcomes.is_empty() && outcomes.len() <= 2, "{number}");
                if c.state == ContactState::Completed {
                    assert_eq!(outcomes.last(), Some(&Outcome::Answered), "{number}");
                }
            }
        }
    }
    eprintln!("end states: {counts:?}");

    // The scheduled calls were placed first, and are COMPLETED.
    let first_claim = contacts
        .iter()
        .flat_map(|c| store.attempts_of(c.id).unwrap())
        .map(|a| a.claimed_at)
        .min()
        .expect("attempts");
    for number in [task_number, panel_number] {
        let c = contacts
            .iter()
            .find(|c| c.spec.main.as_str() == number)
            .unwrap_or_else(|| panic!("{number} became a contact of the campaign"));
        let first = &store.attempts_of(c.id).unwrap()[0];
        assert!(
            first.claimed_at.seconds() <= first_claim.seconds() + 1,
            "{number} claimed at {:?}, the first claim at {first_claim:?}",
            first.claimed_at
        );
    }
    let schedule = centralita::core::dialer::schedule::Schedule(&store);
    let (_, calls) = schedule
        .list(&Default::default(), 0, 100)
        .expect("scheduled calls");
    for number in [task_number, panel_number] {
        let call = calls
            .iter()
            .find(|s| s.spec.number.as_str() == number)
            .unwrap_or_else(|| panic!("a scheduled call to {number}"));
        assert_eq!(
            call.status,
            centralita::core::dialer::schedule::ScheduleStatus::Completed,
            "{number}"
        );
    }

    // Nothing out of hours or blacklisted reached Asterisk.
    let dialed: HashSet<String> = dialed_since(cdr_start).into_iter().collect();
    for n in closed.iter().chain(&blacklisted) {
        assert!(!dialed.contains(n), "{n} was dialed");
    }

    // The ledger: one row per attempt; answered people reached an agent or the safe harbor.
    let evidence = store.evidence(id, 0, 10_000).unwrap();
    let attempts: u32 = contacts.iter().map(|c| c.attempts).sum();
    assert_eq!(
        evidence.len() as u32,
        attempts,
        "one ledger row per attempt"
    );
    let jobs: HashSet<String> = evidence.iter().map(|(_, _, e)| e.job.to_string()).collect();
    assert_eq!(jobs.len(), evidence.len(), "one job per attempt");
    let (mut live, mut abandoned, mut machines) = (0u32, 0u32, 0u32);
    for (contact, n, e) in &evidence {
        if e.machine {
            machines += 1;
            assert!(
                e.agent.is_none() && !e.safe_harbor,
                "machine {contact}/{n} queued"
            );
            continue;
        }
        let reached = e.agent.is_some();
        if e.answered && (reached || e.safe_harbor) {
            live += 1;
            assert!(reached != e.safe_harbor, "{contact}/{n}: {e:?}");
        }
        if e.abandoned {
            abandoned += 1;
        }
    }
    // The rate as the engine estimates it (Ofcom): the campaign's share of the machine
    // verdicts counted as people hung up on.
    let share = campaign.answer.amd_false_positives;
    assert_eq!(
        share.per_mille(),
        20,
        "the campaign's AMD false-positive share"
    );
    let fp = f64::from(machines) * share.fraction();
    let rate = (f64::from(abandoned) + fp) / (f64::from(live) + fp).max(1.0);
    eprintln!(
        "attempts {attempts}, live {live}, abandoned {abandoned}, machines {machines}, \
         false positives {share} % ({fp:.1} people), estimated rate {:.2} %",
        rate * 100.0
    );
    assert!(
        machines >= 80,
        "every machine number detected twice: {machines}"
    );
    assert!(live >= 120, "people reached: {live}");
    assert!(
        rate <= f64::from(campaign.abandon_target.per_mille()) / 1000.0,
        "abandon rate {:.2} % over the target",
        rate * 100.0
    );
    let ledger = store.ledger(id, centralita::core::UnixTime(0)).unwrap();
    assert_eq!(ledger.abandoned, u64::from(abandoned));

    // uContact's campaignstatus (curl, a supervisor's session) shows the dialer's figures of the
    // campaign's queue: its contacts and its ledger.
    let (ok, out, err) = run_client(
        "sh",
        &repo().join("tests/clients/ucontact/campaignstatus.sh"),
        &[&base, "dialsup", "pw-dialsup", QUEUE],
    );
    assert!(ok, "campaignstatus.sh: {err}");
    let status: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let dialer = status
        .as_object()
        .and_then(|o| o.values().find_map(|v| v.get("dialer")))
        .unwrap_or_else(|| panic!("a dialer object: {out}"));
    let figures = &dialer[CAMPAIGN];
    assert_eq!(figures["state"], "Active", "{figures}");
    assert_eq!(
        figures["contacts"].as_u64(),
        Some(contacts.len() as u64),
        "{figures}"
    );
    assert_eq!(
        figures["attempts"].as_u64(),
        Some(ledger.attempts),
        "{figures}"
    );
    assert_eq!(
        figures["answered"].as_u64(),
        Some(ledger.answered),
        "{figures}"
    );
    assert_eq!(
        figures["machines"].as_u64(),
        Some(ledger.machines),
        "{figures}"
    );
    assert_eq!(
        figures["abandoned"].as_u64(),
        Some(ledger.abandoned),
        "{figures}"
    );
    assert_eq!(
        figures["blacklisted"].as_u64(),
        Some(blacklisted.len() as u64),
        "{figures}"
    );
    // The share the estimate counts, and the estimate itself over the same ledger.
    assert_eq!(figures["amdfalsepositives"], "2.0", "{figures}");
    let estimated = AbandonRule::of(&campaign).rate(&ledger).unwrap_or(0.0);
    assert_eq!(
        figures["abandonrate"],
        format!("{:.2}", estimated * 100.0),
        "{figures}"
    );
    eprintln!("campaignstatus dialer figures: {figures}");

    // USCall's cdrSearch (PHP SoapClient): a person the dialer reached is a `Discador` call.
    let person = contacts
        .iter()
        .find(|c| {
            c.state == ContactState::Completed
                && kinds.get(c.spec.main.as_str()) == Some(&Kind::Person)
        })
        .expect("a person completed");
    let number = person.spec.main.as_str();
    let rows = wait_for(Duration::from_secs(30), || {
        let rows = uscall.ok("cdrSearch", &["-", "-", number, "-", "-"]);
        rows.as_array()
            .is_some_and(|r| r.iter().any(|row| row["status"] == "COMPLETADA"))
            .then_some(rows)
    });
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["status"] == "COMPLETADA")
        .unwrap();
    assert_eq!(row["tipo"], "Discador", "{row}");
    assert_eq!(row["origem"], number, "{row}");
}

/// USCall's webservice through PHP SoapClient (`tests/clients/uscall/call.php`).
struct Uscall {
    wsdl: String,
    token: String,
}

impl Uscall {
    /// `op(token, args...)`; asserts an ok answer and returns `retorno`.
    fn ok(&self, op: &str, args: &[&str]) -> serde_json::Value {
        let script = repo().join("tests/clients/uscall/call.php");
        let mut all: Vec<&str> = vec![&self.wsdl, op, &self.token];
        all.extend_from_slice(args);
        let (ok, out, err) = run_client("php", &script, &all);
        assert!(ok, "php {op} {args:?}: {err}");
        let v: serde_json::Value =
            serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{op}: {e}: {out}"));
        assert_eq!(v["status"], "ok", "{op} {args:?}: {v}");
        v["retorno"].clone()
    }
}

/// Polls `f` until it answers, at most `limit`.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}
