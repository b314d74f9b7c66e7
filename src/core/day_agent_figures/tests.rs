//! The running day figures against the whole fold over a synthetic two-day journal, at many
//! instants: the agent figures ([`agent_report`], [`outbound_calls`]), and the queue figures
//! and activity of [`DayQueueFigures`] ([`queue_report`], [`queue_activity`]) for several
//! filters and service-level thresholds.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Mutex as StdMutex;

use super::*;
use crate::core::day_figures::DayQueueFigures;
use crate::core::journal::{Disposition, FileId, JournalReader, LogPosition, QueueEvent};
use crate::core::naming::TestNaming;
use crate::core::queue_details::TestQueueLog;
use crate::core::reports::tests::leg;
use crate::core::reports::{
    agent_report, outbound_calls, queue_activity, queue_report, state_records,
};

const BASE: i64 = 1_795_000_000;
/// The test's day: two of them follow each other from `BASE`.
const DAY: i64 = 3000;

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as i64
    }
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.next(hi - lo + 1)
    }
}

/// The journal as ingested up to the clock: each line and leg becomes readable at its own
/// ingestion instant (written, plus a lag). Counts the lines and legs it hands out.
#[derive(Default)]
struct Ingested {
    lines: StdMutex<Vec<(i64, QueueLogRecord)>>,
    cdrs: StdMutex<Vec<(i64, CdrRecord)>>,
    clock: AtomicI64,
    read: AtomicUsize,
}

impl Ingested {
    fn lines_in(&self, range: TimeRange) -> Vec<QueueLogRecord> {
        let clock = self.clock.load(Ordering::SeqCst);
        let mut out: Vec<_> = self
            .lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, r)| *at <= clock && range.contains(r.time))
            .map(|(_, r)| r.clone())
            .collect();
        out.sort_by_key(|r| r.position.offset);
        out
    }
}

impl JournalReader for Ingested {
    fn cdrs(&self, range: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
        let clock = self.clock.load(Ordering::SeqCst);
        let mut out: Vec<_> = self
            .cdrs
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, c)| *at <= clock && range.contains(c.start))
            .map(|(_, c)| c.clone())
            .collect();
        out.sort_by_key(|c| (c.start, c.source_rowid));
        self.read.fetch_add(out.len(), Ordering::SeqCst);
        Ok(out)
    }
    fn cdrs_ended(&self, since: UnixTime, ended: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
        let clock = self.clock.load(Ordering::SeqCst);
        let mut out: Vec<_> = self
            .cdrs
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, c)| *at <= clock && c.start >= since && ended.contains(c.end))
            .map(|(_, c)| c.clone())
            .collect();
        out.sort_by_key(|c| (c.start, c.source_rowid));
        self.read.fetch_add(out.len(), Ordering::SeqCst);
        Ok(out)
    }
    fn cdrs_of_call(&self, _: &str) -> Result<Vec<CdrRecord>, PortError> {
        Ok(Vec::new())
    }
    fn queue_log(&self, range: TimeRange) -> Result<Vec<QueueLogRecord>, PortError> {
        let out = self.lines_in(range);
        self.read.fetch_add(out.len(), Ordering::SeqCst);
        Ok(out)
    }
    fn queue_log_matching(
        &self,
        range: TimeRange,
        _: &[String],
        _: &[String],
    ) -> Result<Vec<QueueLogRecord>, PortError> {
        self.queue_log(range)
    }
    fn queue_log_state(&self, before: UnixTime) -> Result<Vec<QueueLogRecord>, PortError> {
        let state = state_records(&self.lines_in(TimeRange::new(UnixTime::MIN, before)));
        self.read.fetch_add(state.len(), Ordering::SeqCst);
        Ok(state)
    }
}

struct Line {
    at: i64,
    callid: String,
    queue: String,
    agent: String,
    event: &'static str,
    data: Vec<String>,
}

const QUEUES: [&str; 2] = ["q_ventas", "q_soporte"];

/// Two days of four agents: sessions in one or both queues, queue calls answered (completed,
/// transferred) or not, pauses of 30-150 s (across the settle boundary), a restart of Asterisk;
/// agent 2001 logged in and paused before the first day; agent 2004's lines name its interface.
/// Callers enter the queues and wait 0-40 s for an agent, or leave without one.
/// CDRs: outbound calls of the agents' phones (answered or not, some with a second leg that
/// started first and ended last) and direct calls to them. Every line and leg is ingested
/// 0-40 s after it was written (`late` more for the lines it picks).
fn journal(seed: u64, late: impl Fn(&Line) -> i64) -> Ingested {
    let mut rng = Rng(seed);
    let mut lines: Vec<Line> = Vec::new();
    let mut push = |at: i64, callid: &str, queue: &str, agent: &str, event, data: &[&str]| {
        lines.push(Line {
            at,
            callid: callid.to_owned(),
            queue: queue.to_owned(),
            agent: agent.to_owned(),
            event,
            data: data.iter().map(|d| (*d).to_owned()).collect(),
        })
    };
    // Logged in and paused before the day, unpaused in it.
    for q in QUEUES {
        push(-500, "MANAGER", q, "2001", "ADDMEMBER", &[""]);
        push(-100, "MANAGER", q, "2001", "PAUSE", &["almuerzo"]);
        push(200, "MANAGER", q, "2001", "UNPAUSE", &[""]);
    }
    let mut call = 0;
    for n in 1..=4 {
        let agent = if n == 4 {
            "PJSIP/1004".to_owned()
        } else {
            format!("200{n}")
        };
        let mut t = if n == 1 { 300 } else { rng.between(-400, 200) };
        while t < 2 * DAY - 100 {
            let queues: Vec<&str> = match rng.next(3) {
                0 => vec![QUEUES[0]],
                1 => vec![QUEUES[1]],
                _ => QUEUES.to_vec(),
            };
            if n != 1 || t > 300 {
                for q in &queues {
                    push(t, "MANAGER", q, &agent, "ADDMEMBER", &[""]);
                }
            }
            let end = t + rng.between(400, 900);
            t += rng.between(5, 40);
            while t < end {
                let q = queues[rng.next(queues.len() as i64) as usize];
                match rng.next(5) {
                    0 | 1 => {
                        call += 1;
                        let id = format!("q{call}");
                        let talk = rng.between(10, 120);
                        let hold = rng.between(0, 40);
                        push(t - hold, &id, q, "NONE", "ENTERQUEUE", &["", "0981", "1"]);
                        let hold = hold.to_string();
                        push(t, &id, q, &agent, "CONNECT", &[&hold, "b", "3"]);
                        let how = match rng.next(4) {
                            0 => "COMPLETEAGENT",
                            1 => "TRANSFER",
                            _ => "COMPLETECALLER",
                        };
                        push(t + talk, &id, q, &agent, how, &["4", &talk.to_string()]);
                        t += talk;
                    }
                    2 => {
                        call += 1;
                        push(
                            t,
                            &format!("q{call}"),
                            q,
                            &agent,
                            "RINGNOANSWER",
                            &["15000"],
                        );
                    }
                    3 => {
                        let reason = ["almuerzo", "banho", ""][rng.next(3) as usize];
                        for q in &queues {
                            push(t, "MANAGER", q, &agent, "PAUSE", &[reason]);
                        }
                        t += rng.between(30, 150);
                        for q in &queues {
                            push(t, "MANAGER", q, &agent, "UNPAUSE", &[""]);
                        }
                    }
                    _ => {
                        // A caller who leaves without an agent.
                        call += 1;
                        let id = format!("q{call}");
                        let wait = rng.between(1, 60);
                        push(t, &id, q, "NONE", "ENTERQUEUE", &["", "0981", "1"]);
                        let how =
                            ["ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY"][rng.next(3) as usize];
                        push(
                            t + wait,
                            &id,
                            q,
                            "NONE",
                            how,
                            &["1", "1", &wait.to_string()],
                        );
                    }
                }
                t += rng.between(10, 70);
            }
            for q in &queues {
                push(t, "MANAGER", q, &agent, "REMOVEMEMBER", &[""]);
            }
            t += rng.between(50, 300);
        }
    }
    push(1700, "NONE", "NONE", "NONE", "QUEUESTART", &[""]);
    // Written in time order.
    lines.sort_by_key(|l| l.at);
    let ingested = Ingested::default();
    {
        let mut out = ingested.lines.lock().unwrap();
        for (i, l) in lines.iter().enumerate() {
            let record = QueueLogRecord {
                position: LogPosition {
                    file: FileId {
                        dev: 1,
                        ino: 1,
                        created_ns: 0,
                    },
                    offset: i as u64 * 100,
                },
                time: UnixTime(BASE + l.at),
                callid: l.callid.clone(),
                queue: l.queue.clone(),
                agent: l.agent.clone(),
                event: QueueEvent::parse(l.event),
                data: l.data.clone(),
            };
            out.push((BASE + l.at + rng.between(0, 40) + late(l), record));
        }
    }
    let mut cdrs = Vec::new();
    let mut row = 0;
    for n in 1..=4 {
        let mut t = rng.between(-300, 100);
        while t < 2 * DAY - 50 {
            row += 1;
            let linkedid = format!("L{row}");
            let long = rng.between(20, 400);
            if rng.next(3) == 0 {
                // Direct to the agent's phone.
                let answered = rng.next(2) == 0;
                cdrs.push(leg(
                    row,
                    &linkedid,
                    row,
                    &format!("PJSIP/1005-{row:08x}"),
                    Some(&format!("PJSIP/100{n}-{row:08x}")),
                    "internal",
                    &format!("100{n}"),
                    (t, answered.then_some(t + 4), t + long),
                    if answered {
                        Disposition::Answered
                    } else {
                        Disposition::NoAnswer
                    },
                ));
            } else {
                let answered = rng.next(3) != 0;
                cdrs.push(leg(
                    row,
                    &linkedid,
                    row,
                    &format!("PJSIP/100{n}-{row:08x}"),
                    Some(&format!("PJSIP/carrier-{row:08x}")),
                    "outbound",
                    &format!("5551{row:03}"),
                    (t, answered.then_some(t + 6), t + long),
                    if answered {
                        Disposition::Answered
                    } else {
                        Disposition::NoAnswer
                    },
                ));
                if rng.next(2) == 0 {
                    // A leg that started first and ends last.
                    row += 1;
                    cdrs.push(leg(
                        row,
                        &linkedid,
                        row,
                        &format!("Local/5551@outbound-{row:04x};2"),
                        None,
                        "outbound",
                        "5551",
                        (t - 1, None, t + long + 30),
                        Disposition::NoAnswer,
                    ));
                }
            }
            t += rng.between(40, 250);
        }
    }
    *ingested.cdrs.lock().unwrap() = cdrs
        .into_iter()
        .map(|c| (c.end.0 + rng.between(0, 40), c))
        .collect();
    ingested
}

fn ctx(now: i64) -> ReportContext {
    let mut c = ReportContext::new(
        UnixTime(BASE + now + 1),
        Arc::new(TestNaming),
        Arc::new(TestQueueLog),
    );
    c.interfaces.insert("PJSIP/1004".into(), "2004".into());
    for n in 1..=4 {
        c.extensions.insert(format!("200{n}"), format!("100{n}"));
    }
    c
}

/// What the whole fold answers at `now` over the day starting at `from`, from what is ingested.
fn whole(j: &Ingested, from: UnixTime, filter: &ReportFilter, ctx: &ReportContext) -> AgentFigures {
    let day = TimeRange::new(from, UnixTime(from.0 + DAY));
    let mut records = state_records(&j.lines_in(TimeRange::new(UnixTime::MIN, from)));
    records.extend(j.lines_in(day));
    let cdrs = j.cdrs(day).unwrap();
    let agents_only = ReportFilter {
        agents: filter.agents.clone(),
        queues: Vec::new(),
    };
    AgentFigures {
        reports: agent_report(&records, &cdrs, day, filter, ctx),
        outbound: outbound_calls(&cdrs, day, &agents_only, ctx),
    }
}

fn filters() -> [ReportFilter; 3] {
    [
        // USCall's agentStatus: some agents, every queue.
        ReportFilter {
            agents: vec!["2001".into(), "2002".into(), "2004".into()],
            queues: Vec::new(),
        },
        // eXpand's agentData: one queue, every agent.
        ReportFilter {
            agents: Vec::new(),
            queues: vec!["q_ventas".into()],
        },
        ReportFilter::default(),
    ]
}

#[tokio::test]
async fn the_running_figures_equal_the_whole_fold_at_every_instant_of_two_days() {
    let lines = Arc::new(journal(7, |_| 0));
    let journal = Journal::new(lines.clone());
    let figures = DayAgentFigures::new();
    let mut compared = 0;
    let mut busy = 0;
    let mut whole_day_reads = 0;
    let mut most = 0;
    for now in (1..2 * DAY).step_by(11) {
        lines.clock.store(BASE + now, Ordering::SeqCst);
        let from = UnixTime(BASE + now / DAY * DAY);
        let day = TimeRange::new(from, UnixTime(from.0 + DAY));
        for filter in filters() {
            let c = ctx(now);
            let before = lines.read.load(Ordering::SeqCst);
            let got = figures.today(&journal, day, &filter, &c).await.unwrap();
            let read = lines.read.load(Ordering::SeqCst) - before;
            let want = whole(&lines, from, &filter, &c);
            assert_eq!(*got, want, "at {now} for {filter:?}");
            compared += 1;
            if want.reports.iter().any(|r| r.logged_secs > 0) {
                busy += 1;
            }
            // Only a tally's rebuilds read the whole day so far (from 100 records on); any
            // other request reads the last minute or so (four agents and their phones).
            if read > 100 {
                whole_day_reads += 1;
            } else {
                most = most.max(read);
            }
        }
    }
    eprintln!("{whole_day_reads} whole-day reads; at most {most} records read otherwise");
    assert_eq!(compared, 3 * 546);
    assert!(most > 0);
    assert!(busy > compared / 2, "{busy} answers with logged time");
    // Two shapes (every queue; q_ventas), each rebuilt every REBUILD_SECS.
    let rebuilds = (2 * DAY / REBUILD_SECS) as usize * 2;
    assert!(
        whole_day_reads <= rebuilds,
        "{whole_day_reads} requests read the whole day"
    );
}

#[tokio::test]
async fn a_line_ingested_late_shows_once_the_tally_is_rebuilt() {
    // A queue call answered by 2002 at 1000 reaches the journal 200 s late.
    let late_at = std::sync::OnceLock::new();
    let lines = Arc::new(journal(11, |l| {
        if l.event == "CONNECT" && l.agent == "2002" && l.at > 1000 && late_at.get().is_none() {
            late_at.set(l.at).unwrap();
            200
        } else {
            0
        }
    }));
    let at = *late_at.get().expect("a CONNECT of 2002 after 1000");
    let journal = Journal::new(lines.clone());
    let figures = DayAgentFigures::new();
    let from = UnixTime(BASE);
    let day = TimeRange::new(from, UnixTime(BASE + DAY));
    let filter = ReportFilter::default();
    let mut differed = 0;
    for now in (at - 50..at + 300 + 2 * REBUILD_SECS).step_by(5) {
        lines.clock.store(BASE + now, Ordering::SeqCst);
        let c = ctx(now);
        let got = figures.today(&journal, day, &filter, &c).await.unwrap();
        let want = whole(&lines, from, &filter, &c);
        if *got != want {
            differed += 1;
            let answered = |f: &AgentFigures| {
                f.reports
                    .iter()
                    .find(|r| r.agent == "2002")
                    .map_or(0, |r| r.answered)
            };
            assert_eq!(
                answered(&got) + 1,
                answered(&want),
                "at {now}: only the late line"
            );
            assert!(now < at + 260 + REBUILD_SECS, "at {now}: not rebuilt yet");
        }
    }
    assert!(differed > 0, "the late line was missed until the rebuild");
}

#[tokio::test]
async fn requests_of_the_same_second_share_one_answer() {
    let lines = Arc::new(journal(3, |_| 0));
    lines.clock.store(BASE + 900, Ordering::SeqCst);
    let journal = Journal::new(lines.clone());
    let figures = DayAgentFigures::new();
    let day = TimeRange::new(UnixTime(BASE), UnixTime(BASE + DAY));
    let [some, queue, _] = filters();
    let first = figures
        .today(&journal, day, &some, &ctx(900))
        .await
        .unwrap();
    let read = lines.read.load(Ordering::SeqCst);
    let again = figures
        .today(&journal, day, &some, &ctx(900))
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(
        lines.read.load(Ordering::SeqCst),
        read,
        "nothing read again"
    );
    // Another filter is another answer; another second is read again.
    let other = figures
        .today(&journal, day, &queue, &ctx(900))
        .await
        .unwrap();
    assert!(!Arc::ptr_eq(&first, &other));
    let read = lines.read.load(Ordering::SeqCst);
    let next = figures
        .today(&journal, day, &some, &ctx(901))
        .await
        .unwrap();
    assert!(!Arc::ptr_eq(&first, &next));
    assert!(
        lines.read.load(Ordering::SeqCst) > read,
        "the next second is read"
    );
}

#[test]
fn the_figures_serve_only_today_so_far() {
    let day = UnixTime(BASE);
    let now = UnixTime(BASE + 100);
    let serves =
        |from, to| DayAgentFigures::serves(TimeRange::new(UnixTime(from), UnixTime(to)), day, now);
    assert!(serves(BASE, BASE + DAY));
    assert!(serves(BASE, BASE + 101));
    assert!(!serves(BASE, BASE + 100), "a range that ended now");
    assert!(!serves(BASE, BASE + 50), "a range that ended earlier today");
    assert!(
        !serves(BASE + 1, BASE + DAY),
        "a range from another instant"
    );
    assert!(!serves(BASE - DAY, BASE + DAY), "a range from yesterday");
}

/// The day's records as every report reads them: the state lines before `from`, then the day's.
fn records(j: &Ingested, from: UnixTime) -> Vec<QueueLogRecord> {
    let mut records = state_records(&j.lines_in(TimeRange::new(UnixTime::MIN, from)));
    records.extend(j.lines_in(TimeRange::new(from, UnixTime(from.0 + DAY))));
    records
}

/// Queue and agent filters with service-level thresholds, as the facades ask.
fn queue_requests(now: i64) -> Vec<(ReportFilter, ReportContext)> {
    let with = |levels: &[(&str, u32)]| {
        let mut c = ctx(now);
        for (q, t) in levels {
            c.service_levels.insert((*q).to_owned(), *t);
        }
        c
    };
    let filter = |agents: &[&str], queues: &[&str]| ReportFilter {
        agents: agents.iter().map(|a| (*a).to_owned()).collect(),
        queues: queues.iter().map(|q| (*q).to_owned()).collect(),
    };
    vec![
        (ReportFilter::default(), with(&[])),
        (ReportFilter::default(), with(&[("q_ventas", 20)])),
        (
            filter(&[], &["q_ventas"]),
            with(&[("q_ventas", 5), ("q_soporte", 30)]),
        ),
        // A queue without lines is reported empty; the threshold 0 counts waits of 0 s.
        (
            filter(&[], &["q_soporte", "q_nueva", "q_soporte"]),
            with(&[("q_soporte", 0), ("q_nueva", 10)]),
        ),
        // eXpand's queueData: one queue, one agent (2004 named by its interface).
        (filter(&["2004"], &["q_soporte"]), with(&[])),
        (filter(&["2001", "2003"], &[]), with(&[("q_soporte", 12)])),
    ]
}

#[tokio::test]
async fn the_running_queue_figures_and_activity_equal_the_whole_fold_at_every_instant() {
    let lines = Arc::new(journal(5, |_| 0));
    let journal = Journal::new(lines.clone());
    let figures = DayQueueFigures::new();
    let mut compared = 0;
    let mut whole_day_reads = 0;
    let mut most = 0;
    let mut answered = 0;
    let mut events = 0;
    for now in (1..2 * DAY).step_by(11) {
        lines.clock.store(BASE + now, Ordering::SeqCst);
        let from = UnixTime(BASE + now / DAY * DAY);
        let day = TimeRange::new(from, UnixTime(from.0 + DAY));
        let all = records(&lines, from);
        let before = lines.read.load(Ordering::SeqCst);
        for (filter, c) in queue_requests(now) {
            let got = figures.day(&journal, day, &c).await.unwrap();
            let want = queue_report(&all, day, &filter, &c);
            assert_eq!(
                got.queue_report(&filter, &c),
                want,
                "at {now} for {filter:?}"
            );
            let want_activity = queue_activity(&all, day, &filter, &c);
            assert_eq!(
                got.queue_activity(&filter, &c),
                want_activity,
                "at {now} for {filter:?}"
            );
            answered += want.iter().map(|q| q.answered_within_sl).sum::<u64>();
            events += want_activity.len();
            compared += 1;
        }
        // One read per instant: the requests of one second share it.
        let read = lines.read.load(Ordering::SeqCst) - before;
        if read > 100 {
            whole_day_reads += 1;
        } else {
            most = most.max(read);
        }
    }
    eprintln!("{whole_day_reads} whole-day reads; at most {most} lines read otherwise");
    assert_eq!(compared, 6 * 546);
    assert!(answered > 0 && events > 0);
    assert!(most > 0);
    let rebuilds = (2 * DAY / REBUILD_SECS) as usize + 2;
    assert!(
        whole_day_reads <= rebuilds,
        "{whole_day_reads} requests read the whole day"
    );
}

#[tokio::test]
async fn a_login_during_the_day_does_not_read_the_day_again() {
    let lines = Arc::new(journal(9, |_| 0));
    let journal = Journal::new(lines.clone());
    let figures = DayAgentFigures::new();
    let from = UnixTime(BASE);
    let day = TimeRange::new(from, UnixTime(BASE + DAY));
    let filter = ReportFilter::default();
    // The live members' interfaces, as USCall maps them: agents logging in and out.
    let members = |now: i64| {
        let mut c = ctx(now);
        for n in 1..=3 {
            if (now / 70 + n) % 3 != 0 {
                c.interfaces
                    .insert(format!("PJSIP/100{n}"), format!("200{n}"));
            }
        }
        c
    };
    let mut whole_day_reads = 0;
    let mut changes = 0;
    let mut last = None;
    for now in (400..1400).step_by(7) {
        lines.clock.store(BASE + now, Ordering::SeqCst);
        let c = members(now);
        if last.as_ref().is_some_and(|l| *l != c.interfaces) {
            changes += 1;
        }
        last = Some(c.interfaces.clone());
        let before = lines.read.load(Ordering::SeqCst);
        let got = figures.today(&journal, day, &filter, &c).await.unwrap();
        if lines.read.load(Ordering::SeqCst) - before > 100 {
            whole_day_reads += 1;
        }
        assert_eq!(*got, whole(&lines, from, &filter, &c), "at {now}");
    }
    assert!(changes > 10, "{changes} logins and logouts");
    // The first request and the rebuilds every REBUILD_SECS only.
    assert!(
        whole_day_reads <= 1 + 1000 / REBUILD_SECS as usize,
        "{whole_day_reads} requests read the whole day"
    );
    // A mapping that names a folded line's agent otherwise does rebuild the tally.
    let now = 1400;
    lines.clock.store(BASE + now, Ordering::SeqCst);
    let mut c = members(now);
    c.interfaces.insert("PJSIP/1004".into(), "2044".into());
    let before = lines.read.load(Ordering::SeqCst);
    let got = figures.today(&journal, day, &filter, &c).await.unwrap();
    assert!(lines.read.load(Ordering::SeqCst) - before > 100, "rebuilt");
    assert_eq!(*got, whole(&lines, from, &filter, &c));
    assert!(got.reports.iter().any(|r| r.agent == "2044"));
}
