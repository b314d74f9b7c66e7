//! Live: chaos during a dialer campaign. A predictive campaign with AMD runs on the lab with six
//! agents (phones 1001-1006 in `q_campanas`) while, at seeded random moments, the engine is
//! SIGKILLed and started again and Asterisk is restarted. Every event is logged with its time
//! and the seed (`CENTRALITA_CHAOS_SEED`, default below; `CENTRALITA_CHAOS_SECONDS`, default
//! 600, the length of the chaos).
//!
//! Afterwards the campaign is stopped, its calls in flight end, and what a call center relies
//! on is checked against Asterisk's own CDRs: no contact left in progress, every attempt
//! recorded once with its evidence, every call Asterisk placed to the trunk for the campaign
//! belongs to exactly one recorded attempt (no attempt lost, none dialed twice), the ledger's
//! answered calls are exactly the trunk legs Asterisk says were answered, and every CDR of the
//! run is in the engine's journal exactly once.
#![cfg(feature = "live-lab")]

mod live_support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use centralita::core::campaigns::CampaignName;
use centralita::core::dialer::calls::DialerCallStore;
use centralita::core::dialer::{ContactState, DialerStore};
use centralita::store::SqliteDialer;
use live_support::dialer::*;
use live_support::*;

const CAMPAIGN: &str = "Caos";
const DEFAULT_SEED: u64 = 20_261_204;

/// xorshift64*: a small seeded generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One trunk leg Asterisk wrote for the campaign: its job (the CDR's userfield), number and
/// disposition.
#[derive(Debug)]
struct TrunkLeg {
    job: String,
    dst: String,
    disposition: String,
}

/// The trunk legs of the campaign's calls since AcctId `after`.
fn trunk_legs(after: i64) -> Vec<TrunkLeg> {
    let conn =
        rusqlite::Connection::open_with_flags(cdr_db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT userfield, dst, disposition FROM cdr WHERE AcctId > ?1 \
             AND dstchannel LIKE 'PJSIP/carrier-%' AND calldata LIKE ?2",
        )
        .unwrap();
    stmt.query_map(
        rusqlite::params![after, format!("%dialer_campaign={CAMPAIGN},%")],
        |r| {
            Ok(TrunkLeg {
                job: r.get(0)?,
                dst: r.get(1)?,
                disposition: r.get(2)?,
            })
        },
    )
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn healthy(engine: &Engine, within: Duration, what: &str) -> u64 {
    let (_, body) = wait_health(engine, within, what, |code, body| {
        code == "200" && body.contains("\"ami_connected\":true")
    });
    ami_generation(&body)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_campaign_survives_engine_kills_and_asterisk_restarts() {
    let seed = env_u64("CENTRALITA_CHAOS_SEED", DEFAULT_SEED);
    let chaos = Duration::from_secs(env_u64("CENTRALITA_CHAOS_SECONDS", 600));
    let mut rng = Rng(seed.max(1));
    eprintln!("chaos seed {seed}, {chaos:?}");

    let scratch = Scratch::new("dialer-chaos");
    let mut run = 1u32;
    let mut engine = Engine::start_with(scratch.path(), &run.to_string(), EXTRA);
    healthy(&engine, Duration::from_secs(30), "the engine healthy");
    let cdr_start = asterisk_max_acct_id();
    let _members = agents_in_queue().await;
    create_predictive_campaign(
        &engine,
        CAMPAIGN,
        "busy=10/3,no_answer=10/2,machine=10/2,abandoned=20/2,congestion=10/3",
    );
    // More contacts than the chaos leaves time for, the carrier's kinds of number interleaved
    // (the claim takes them in file order): people talking 12-20 s, answering machines, busy,
    // no answer, and random outcomes (50 % a person talking 15 s, 20 % busy, 10 % a machine,
    // 20 % no answer).
    let mut base = String::new();
    for i in 0..400 {
        base.push_str(&format!("{CAMPAIGN};5558{:03}{i:04};;;;\n", 12 + i % 9));
        let other = match i % 4 {
            0 => format!("5557010{i:04}"),
            1 => format!("5552{i:03}"),
            2 if i < 160 => format!("5553{i:03}"),
            _ => format!("555952115{i:04}"),
        };
        base.push_str(&format!("{CAMPAIGN};{other};;;;\n"));
    }
    let out = engine.admin(
        &[
            "dialer",
            "import",
            CAMPAIGN,
            &write(scratch.path(), "base.txt", &base),
            "--zone",
            zone_where(true),
        ],
        "",
    );
    eprintln!("import: {out}");
    set_campaign_state(&engine, CAMPAIGN, "Active");

    // The chaos: every 25-70 s, the engine SIGKILLed (and started again after 0-3 s) or,
    // one time in three, Asterisk restarted.
    let started = Instant::now();
    let mut events = Vec::new();
    loop {
        let wait = Duration::from_secs(rng.range(25, 70));
        if started.elapsed() + wait >= chaos {
            break;
        }
        std::thread::sleep(wait);
        let at = started.elapsed().as_secs();
        if rng.range(0, 3) < 2 {
            let pause = Duration::from_millis(rng.range(0, 3000));
            engine.kill9();
            std::thread::sleep(pause);
            run += 1;
            engine = Engine::start_with(scratch.path(), &run.to_string(), EXTRA);
            healthy(&engine, Duration::from_secs(60), "the engine back");
            events.push(format!(
                "+{at}s engine SIGKILLed, started again after {pause:?} (run {run})"
            ));
        } else {
            let body = restart_asterisk_and_wait(&engine, Duration::from_secs(90));
            events.push(format!(
                "+{at}s Asterisk restarted (AMI generation {})",
                ami_generation(&body)
            ));
        }
        eprintln!("chaos {}", events.last().unwrap());
    }
    if started.elapsed() < chaos {
        std::thread::sleep(chaos - started.elapsed());
    }
    assert!(events.len() >= 5, "enough chaos: {events:?}");

    // Stop the campaign; its calls in flight end and are resolved.
    engine.admin(
        &[
            "dialer",
            "campaign",
            "update",
            CAMPAIGN,
            "--state",
            "Finalized",
        ],
        "",
    );
    let store = SqliteDialer::open(&scratch.store()).unwrap();
    let (id, _) = store
        .campaign_by_name(&CampaignName::parse(CAMPAIGN).unwrap())
        .unwrap()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let contacts = loop {
        let all = store.contacts(id, None, 0, 10_000).unwrap();
        let busy = all
            .iter()
            .filter(|c| c.state == ContactState::InProgress)
            .count();
        if busy == 0 {
            break all;
        }
        assert!(
            Instant::now() < deadline,
            "{busy} contacts still in progress after the campaign stopped"
        );
        std::thread::sleep(Duration::from_millis(500));
    };

    // Every contact's attempts are recorded once, each with its evidence row.
    let mut attempts = 0usize;
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut dialed_of: HashMap<String, u32> = HashMap::new();
    for c in &contacts {
        let history = store.attempts_of(c.id).unwrap();
        assert_eq!(history.len() as u32, c.attempts, "{}", c.spec.main.as_str());
        for (i, a) in history.iter().enumerate() {
            assert_eq!(a.number_of as usize, i + 1, "{}", c.spec.main.as_str());
        }
        attempts += history.len();
        *by_state.entry(format!("{:?}", c.state)).or_default() += 1;
        dialed_of.insert(c.spec.main.as_str().to_owned(), c.attempts);
    }
    let evidence = store.evidence(id, 0, 100_000).unwrap();
    assert_eq!(evidence.len(), attempts, "one evidence row per attempt");
    let jobs: BTreeSet<String> = evidence.iter().map(|(_, _, e)| e.job.to_string()).collect();
    assert_eq!(jobs.len(), evidence.len(), "one job per attempt");
    eprintln!(
        "contacts {by_state:?}, attempts {attempts}, chaos events:\n  {}",
        events.join("\n  ")
    );
    assert!(
        attempts >= 100,
        "the campaign worked through the chaos: {attempts} attempts"
    );

    // Asterisk's trunk legs: each belongs to one recorded attempt, no job dialed twice, and no
    // number dialed more often than its contact's attempts say.
    let legs = trunk_legs(cdr_start);
    assert!(!legs.is_empty(), "Asterisk dialed the campaign's numbers");
    let mut legs_of_job: HashMap<&str, usize> = HashMap::new();
    let mut legs_of_number: HashMap<&str, u32> = HashMap::new();
    for l in &legs {
        assert!(
            jobs.contains(&l.job),
            "Asterisk dialed {} for job {} with no attempt recorded",
            l.dst,
            l.job
        );
        *legs_of_job.entry(&l.job).or_default() += 1;
        *legs_of_number.entry(&l.dst).or_default() += 1;
    }
    for (job, n) in &legs_of_job {
        assert_eq!(*n, 1, "job {job} dialed the trunk {n} times");
    }
    for (number, n) in &legs_of_number {
        let recorded = dialed_of.get(*number).copied().unwrap_or(0);
        assert!(
            *n <= recorded,
            "{number} dialed {n} times for {recorded} attempts"
        );
    }
    // A call never sent (the engine killed between keeping its job with its contact and
    // sending its Originate) is released, never counted, and never reached the trunk: no
    // ledger row's job lacks the sent mark, and no trunk leg belongs to a job without it.
    let conn = rusqlite::Connection::open_with_flags(
        scratch.store(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    let counted_unsent: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM dialer_evidence e JOIN originate_job o ON o.id = e.job \
             WHERE o.sent_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(counted_unsent, 0, "attempts counted for calls never sent");
    let unsent: BTreeSet<String> = conn
        .prepare("SELECT id FROM originate_job WHERE sent_at IS NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for l in &legs {
        assert!(
            !unsent.contains(&l.job),
            "Asterisk dialed {} for job {}, not marked sent",
            l.dst,
            l.job
        );
    }
    eprintln!("{} jobs closed never sent (released)", unsent.len());

    // The ledger's answered calls are the trunk legs Asterisk says answered.
    let answered_cdr: BTreeSet<&str> = legs
        .iter()
        .filter(|l| l.disposition == "ANSWERED")
        .map(|l| l.job.as_str())
        .collect();
    let answered_ledger: BTreeSet<String> = evidence
        .iter()
        .filter(|(_, _, e)| e.answered)
        .map(|(_, _, e)| e.job.to_string())
        .collect();
    let answered_ledger: BTreeSet<&str> = answered_ledger.iter().map(String::as_str).collect();
    assert_eq!(
        answered_ledger, answered_cdr,
        "answered in the ledger and in the CDRs"
    );
    let ledger = store.ledger(id, centralita::core::UnixTime(0)).unwrap();
    assert_eq!(ledger.answered as usize, answered_cdr.len());
    assert_eq!(
        ledger.abandoned as usize,
        evidence.iter().filter(|(_, _, e)| e.abandoned).count()
    );

    // Every CDR Asterisk wrote during the run is in the journal, once.
    assert_cdrs_journaled_once(
        &scratch.store(),
        cdr_start,
        asterisk_max_acct_id(),
        Duration::from_secs(60),
    );
    engine.terminate();
}
