//! One day's agent report in a journal of many synthetic days: the report's input read from the
//! whole history before the day (every `queue_log` line from the beginning, the former way) versus
//! the state at the day's start (`JournalStore::queue_log_state`) plus the day's lines. Both
//! answers must be equal; the figure is the ratio of their times in the same run.
//!
//! The journal: `AGENT_REPORT_DAYS` (90) days of `AGENT_REPORT_AGENTS` (30) agents in three
//! queues, each agent logged in eight hours a day with two pauses and `AGENT_REPORT_CALLS` (40)
//! queue calls (enter, some ring-no-answer, connect, complete), a restart of Asterisk a week.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use centralita::core::journal::queue_log_matches;
use centralita::core::reports::{agent_report, AgentReport, ReportContext, ReportFilter};
use centralita::core::{
    FileId, JournalStore, LogPosition, QueueEvent, QueueLogRecord, SourceCursor, SourceId,
    TimeRange, UnixTime,
};
use centralita::store::SqliteJournal;

const DAY: i64 = 86_400;
const START: i64 = 1_780_000_000 - 1_780_000_000 % DAY;

struct Lines {
    out: Vec<QueueLogRecord>,
}

impl Lines {
    fn push(
        &mut self,
        time: i64,
        callid: &str,
        queue: &str,
        agent: &str,
        event: &str,
        data: &[&str],
    ) {
        let offset = self.out.len() as u64 * 80;
        self.out.push(QueueLogRecord {
            position: LogPosition {
                file: FileId {
                    dev: 1,
                    ino: 1,
                    created_ns: 0,
                },
                offset,
            },
            time: UnixTime(time),
            callid: callid.to_owned(),
            queue: queue.to_owned(),
            agent: agent.to_owned(),
            event: QueueEvent::parse(event),
            data: data.iter().map(|d| (*d).to_owned()).collect(),
        });
    }
}

fn history(days: i64, agents: usize, calls: usize) -> Vec<QueueLogRecord> {
    let queues = ["q_ventas", "q_soporte", "q_cobranza"];
    let mut l = Lines { out: Vec::new() };
    let mut seq = 0u64;
    for day in 0..days {
        let base = START + day * DAY;
        // Events of the day, then sorted by time (stable: the order they were made).
        let mut ev: Vec<(i64, String, String, String, String, Vec<String>)> = Vec::new();
        let mut add = |t: i64, c: &str, q: &str, a: &str, e: &str, d: &[&str]| {
            ev.push((
                t,
                c.to_owned(),
                q.to_owned(),
                a.to_owned(),
                e.to_owned(),
                d.iter().map(|s| (*s).to_owned()).collect(),
            ));
        };
        if day % 7 == 0 {
            add(base + 3 * 3600, "NONE", "NONE", "NONE", "QUEUESTART", &[""]);
        }
        for a in 0..agents {
            let agent = format!("{}", 2100 + a);
            let login = base + 8 * 3600 + (a as i64 % 10) * 60;
            let logout = login + 8 * 3600;
            let mine = [queues[a % 3], queues[(a + 1) % 3]];
            for q in mine {
                add(login, "MANAGER", q, &agent, "ADDMEMBER", &[""]);
                add(logout, "MANAGER", q, &agent, "REMOVEMEMBER", &[""]);
            }
            for (p, reason, len) in [(2 * 3600, "almuerzo", 1800), (6 * 3600, "bano", 300)] {
                for q in mine {
                    add(login + p, "NONE", q, &agent, "PAUSE", &[reason]);
                    add(login + p + len, "NONE", q, &agent, "UNPAUSE", &[""]);
                }
            }
            let slot = (8 * 3600 - 2400) / calls as i64;
            for c in 0..calls {
                seq += 1;
                let callid = format!("pbx1-{seq}.1");
                let q = mine[c % 2];
                let at = login + 60 + c as i64 * slot;
                let at = if (at - login) >= 2 * 3600 && (at - login) < 2 * 3600 + 1800 {
                    at + 1800
                } else {
                    at
                };
                add(
                    at,
                    &callid,
                    q,
                    "NONE",
                    "ENTERQUEUE",
                    &["", "099123456", "1"],
                );
                if c % 5 == 0 {
                    add(at + 15, &callid, q, &agent, "RINGNOANSWER", &["15000"]);
                }
                let talk = 60 + (seq % 240) as i64;
                add(at + 20, &callid, q, &agent, "CONNECT", &["20", "b", "5"]);
                let end = if c % 2 == 0 {
                    "COMPLETECALLER"
                } else {
                    "COMPLETEAGENT"
                };
                add(
                    at + 20 + talk,
                    &callid,
                    q,
                    &agent,
                    end,
                    &["20", &talk.to_string(), "1"],
                );
            }
        }
        ev.sort_by_key(|e| e.0);
        for (t, c, q, a, e, d) in ev {
            let d: Vec<&str> = d.iter().map(String::as_str).collect();
            l.push(t, &c, &q, &a, &e, &d);
        }
    }
    l.out
}

fn context(now: UnixTime) -> ReportContext {
    ReportContext::new(
        now,
        std::sync::Arc::new(centralita::asterisk::naming::AsteriskNaming),
        std::sync::Arc::new(centralita::asterisk::queue_log::AsteriskQueueLog),
    )
}

/// The former input: every line of the queues from the beginning to the range's end.
fn whole(j: &SqliteJournal, range: TimeRange, queues: &[String]) -> Vec<QueueLogRecord> {
    j.queue_log_matching(TimeRange::new(UnixTime::MIN, range.to), queues, &[])
        .unwrap()
}

/// The state at the range's start, then the range.
fn from_state(j: &SqliteJournal, range: TimeRange, queues: &[String]) -> Vec<QueueLogRecord> {
    let mut records = j.queue_log_state(range.from).unwrap();
    records.retain(|r| queue_log_matches(r, queues, &[]));
    records.extend(j.queue_log_matching(range, queues, &[]).unwrap());
    records
}

type Input = fn(&SqliteJournal, TimeRange, &[String]) -> Vec<QueueLogRecord>;

fn timed(
    j: &SqliteJournal,
    input: Input,
    range: TimeRange,
    filter: &ReportFilter,
    runs: u64,
) -> (Duration, usize, Vec<AgentReport>) {
    let ctx = context(UnixTime(START + 10_000 * DAY));
    let mut samples = Vec::new();
    let mut last = (0, Vec::new());
    for _ in 0..runs {
        let t0 = Instant::now();
        let records = input(j, range, &filter.queues);
        let report = agent_report(&records, &[], range, filter, &ctx);
        samples.push(t0.elapsed());
        last = (records.len(), report);
    }
    let p50 = support::quantile(&samples, 0.5).unwrap_or_default();
    (p50, last.0, last.1)
}

fn main() {
    let days = support::env_num("AGENT_REPORT_DAYS", 90) as i64;
    let agents = support::env_num("AGENT_REPORT_AGENTS", 30) as usize;
    let calls = support::env_num("AGENT_REPORT_CALLS", 40) as usize;
    let runs = support::env_num("AGENT_REPORT_RUNS", 5);

    let dir = std::env::temp_dir().join(format!("centralita-bench-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut j = SqliteJournal::open(&dir.join("j.db")).unwrap();
    let lines = history(days, agents, calls);
    let t0 = Instant::now();
    for chunk in lines.chunks(50_000) {
        let last = chunk.last().unwrap().position;
        let cursor = SourceCursor::File(LogPosition {
            file: last.file,
            offset: last.offset + 80,
        });
        j.append_queue_log(&SourceId::new("queue_log"), chunk, cursor)
            .unwrap();
    }
    let load = t0.elapsed();
    println!(
        "journal: {days} days, {} queue_log lines, loaded in {:.1} s",
        lines.len(),
        load.as_secs_f64()
    );

    let mut cases = BTreeMap::new();
    let mut table = Vec::new();
    for (name, day, filter) in [
        ("last_day_all", days - 1, ReportFilter::default()),
        ("middle_day_all", days / 2, ReportFilter::default()),
        (
            "last_day_one_agent_one_queue",
            days - 1,
            ReportFilter {
                agents: vec!["2101".into()],
                queues: vec!["q_soporte".into()],
            },
        ),
    ] {
        // The day in the middle of the agents' shift boundaries: sessions span its start.
        let from = UnixTime(START + day * DAY + 12 * 3600);
        let range = TimeRange::new(from, UnixTime(from.0 + DAY));
        let (old_t, old_n, old_r) = timed(&j, whole, range, &filter, runs);
        let (new_t, new_n, new_r) = timed(&j, from_state, range, &filter, runs);
        let equal = old_r == new_r;
        assert!(equal, "{name}: the two inputs give different reports");
        let ratio = old_t.as_secs_f64() / new_t.as_secs_f64().max(1e-9);
        table.push(format!(
            "{name:<30} whole {:>9.3} ms ({old_n:>7} lines)  state {:>8.3} ms ({new_n:>6} lines)  ratio {ratio:>7.1}  agents {}",
            support::ms(old_t),
            support::ms(new_t),
            new_r.len()
        ));
        cases.insert(
            name,
            serde_json::json!({
                "whole_history_ms": support::ms(old_t),
                "whole_history_lines": old_n,
                "state_ms": support::ms(new_t),
                "state_lines": new_n,
                "whole_to_state_ratio": ratio,
                "agents_reported": new_r.len(),
                "reports_equal": equal,
            }),
        );
    }
    // The state query alone, at the last day's start.
    let at = UnixTime(START + (days - 1) * DAY + 12 * 3600);
    let mut samples = Vec::new();
    let mut state_lines = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        state_lines = j.queue_log_state(at).unwrap().len();
        samples.push(t0.elapsed());
    }
    let state_only = support::quantile(&samples, 0.5).unwrap_or_default();
    table.push(format!(
        "queue_log_state alone          {:>9.3} ms ({state_lines} lines)",
        support::ms(state_only)
    ));
    for row in &table {
        println!("{row}");
    }
    support::write_json(
        "agent_report",
        &serde_json::json!({
            "days": days,
            "agents": agents,
            "calls_per_agent_day": calls,
            "queue_log_lines": lines.len(),
            "runs": runs,
            "queue_log_state_ms": support::ms(state_only),
            "queue_log_state_lines": state_lines,
            "cases": cases,
        }),
    );
    drop(j);
    let _ = std::fs::remove_dir_all(&dir);
}
