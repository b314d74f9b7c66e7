//! [`DayQueueFigures`]: today's queue lines and queue figures (offered, answered, abandoned,
//! service level, average wait and talk per queue) kept up to date incrementally, so a
//! supervisor panel or report that polls every few seconds costs a read of the last minute of
//! queue lines, not of the whole day.
//!
//! Rules:
//! - The figures are a [`QueueTally`] of the day's lines, of every queue, and the day's lines
//!   themselves: lines older than [`SETTLE_SECS`] are folded into the tally and appended to the
//!   kept list once and for all; younger ones (which ingestion may still be writing) are read
//!   again on each request, folded into a copy of the tally and kept beside the list. Each
//!   answer ([`DayQueueLog`]) therefore equals what the journal gives over the day so far:
//!   [`DayQueueLog::queue_report`] equals [`queue_report`](super::reports::queue_report) for any
//!   queue filter and service-level thresholds (the tally counts the answered waits per second),
//!   [`DayQueueLog::queue_activity`] equals [`queue_activity`](super::reports::queue_activity)
//!   for any queue and agent filter.
//! - A line ingested more than [`SETTLE_SECS`] after it was written (ingestion stopped for that
//!   long) would be missed by the running tally: the tally is rebuilt from the whole day every
//!   [`REBUILD_SECS`], which bounds how long such a gap can show.
//! - A new day (another `from`) starts a new tally.
//! - Requests within the same second (the journal's resolution) get the day as read for that
//!   second, for at most [`FRESH`]: panels polling at once share one read.
//! - [`serves`] is the one rule for whether a report is answered from the running figures
//!   (queue or agent, [`super::day_agent_figures`]): its range is today so far.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::journal::{Journal, QueueLogRecord, TimeRange, UnixTime};
use super::reports::{
    queue_activity, QueueActivityEvent, QueueReport, QueueTally, ReportContext, ReportFilter,
};
use super::PortError;

/// How old a line must be to be folded into the running tally for good.
pub const SETTLE_SECS: i64 = 60;

/// How often the running tally is rebuilt from the whole day.
pub const REBUILD_SECS: i64 = 300;

/// How long an answer serves the requests of the same second.
pub const FRESH: Duration = Duration::from_secs(1);

/// Whether the running day figures answer a report over `range` asked at `now`: the range is
/// today so far (it starts at the day's start, `day_start`, and has not ended). Any other range
/// is folded from the journal.
pub fn serves(range: TimeRange, day_start: UnixTime, now: UnixTime) -> bool {
    range.from == day_start && range.to > now
}

/// Per queue, the day's figures.
pub type Figures = Arc<BTreeMap<String, QueueReport>>;

/// The day's queue lines and figures up to one instant (see the module's rules).
#[derive(Debug)]
pub struct DayQueueLog {
    from: UnixTime,
    now: UnixTime,
    /// The settled lines, in the order they were written.
    settled: Arc<Vec<QueueLogRecord>>,
    /// The lines since, in order.
    young: Vec<QueueLogRecord>,
    /// Every line of both, of every queue.
    tally: QueueTally,
}

impl DayQueueLog {
    /// `[day start, now)`: what the figures cover.
    pub fn range(&self) -> TimeRange {
        TimeRange::new(self.from, self.now)
    }

    /// The day's lines so far, in the order they were written.
    pub fn lines(&self) -> impl Iterator<Item = &QueueLogRecord> {
        self.settled.iter().chain(self.young.iter())
    }

    /// Per queue of `filter` (the agent filter does not apply), as
    /// [`queue_report`](super::reports::queue_report) over the day so far; the service levels
    /// are `ctx`'s.
    pub fn queue_report(&self, filter: &ReportFilter, ctx: &ReportContext) -> Vec<QueueReport> {
        self.tally.report_for(filter, ctx)
    }

    /// The day's queue events so far for `filter`, as
    /// [`queue_activity`](super::reports::queue_activity) over the day so far.
    pub fn queue_activity(
        &self,
        filter: &ReportFilter,
        ctx: &ReportContext,
    ) -> Vec<QueueActivityEvent> {
        let range = self.range();
        let mut out = queue_activity(&self.settled, range, filter, ctx);
        out.extend(queue_activity(&self.young, range, filter, ctx));
        out
    }
}

/// Today's queue lines and figures, kept up to date (see the module's rules).
#[derive(Default)]
pub struct DayQueueFigures {
    day: Mutex<Option<Day>>,
    /// The last answer, with when it was computed.
    last: std::sync::Mutex<Option<(Instant, Arc<DayQueueLog>)>>,
}

struct Day {
    /// The day's start.
    from: UnixTime,
    /// Lines before this instant are in `tally` and `lines`.
    through: UnixTime,
    /// When the tally was (re)built from the whole day.
    built: UnixTime,
    tally: QueueTally,
    lines: Arc<Vec<QueueLogRecord>>,
}

impl DayQueueFigures {
    /// No figures yet: the first request reads the day so far.
    pub fn new() -> Self {
        Self::default()
    }

    /// The day read for `from` up to `now`, if there is one and it is fresh.
    fn fresh(&self, from: UnixTime, now: UnixTime) -> Option<Arc<DayQueueLog>> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.as_ref()
            .filter(|(computed, d)| d.from == from && d.now == now && computed.elapsed() < FRESH)
            .map(|(_, d)| d.clone())
    }

    /// Per queue, what happened from `from` (the day's start) up to `ctx.now`, with `ctx`'s
    /// service levels.
    pub async fn today(
        &self,
        journal: &Journal,
        from: UnixTime,
        ctx: &ReportContext,
    ) -> Result<Figures, PortError> {
        let day = self
            .day(journal, TimeRange::new(from, UnixTime::MAX), ctx)
            .await?;
        Ok(Arc::new(
            day.tally
                .report(ctx)
                .into_iter()
                .map(|r| (r.queue.clone(), r))
                .collect(),
        ))
    }

    /// The day `day` (its start is the day's start) so far: up to `ctx.now`, or `day`'s end if
    /// sooner.
    pub async fn day(
        &self,
        journal: &Journal,
        day: TimeRange,
        ctx: &ReportContext,
    ) -> Result<Arc<DayQueueLog>, PortError> {
        let from = day.from;
        // The effective end, as every report takes it.
        let now = ctx.now.min(day.to).max(from);
        if let Some(d) = self.fresh(from, now) {
            return Ok(d);
        }
        let all = ReportFilter::default();
        let mut day = self.day.lock().await;
        // Another request of this second may have computed it while this one waited.
        if let Some(d) = self.fresh(from, now) {
            return Ok(d);
        }
        let stale = day.as_ref().is_none_or(|d| {
            d.from != from || now.0 - d.built.0 >= REBUILD_SECS || now.0 < d.through.0
        });
        if stale {
            *day = Some(Day {
                from,
                through: from,
                built: now,
                tally: QueueTally::new(&all),
                lines: Arc::new(Vec::new()),
            });
        }
        let d = day.as_mut().expect("set above");
        let mut ctx = ctx.clone();
        ctx.now = now;
        let settled = UnixTime((now.0 - SETTLE_SECS).max(from.0));
        if settled > d.through {
            let range = TimeRange::new(d.through, settled);
            let lines = journal.queue_log(range).await?;
            d.tally
                .feed(&lines, TimeRange::new(from, settled), &all, &ctx);
            // The last answer shares the kept list: let it go so the list grows in place.
            self.last
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            Arc::make_mut(&mut d.lines).extend(lines);
            d.through = settled;
        }
        let young = journal.queue_log(TimeRange::new(d.through, now)).await?;
        let mut tally = d.tally.clone();
        let settled_lines = d.lines.clone();
        drop(day);
        tally.feed(&young, TimeRange::new(from, now), &all, &ctx);
        let answer = Arc::new(DayQueueLog {
            from,
            now,
            settled: settled_lines,
            young,
            tally,
        });
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), answer.clone()));
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex as StdMutex};

    use super::*;
    use crate::core::journal::{
        CdrRecord, FileId, JournalReader, LogPosition, QueueEvent, QueueLogRecord,
    };
    use crate::core::naming::TestNaming;
    use crate::core::queue_details::TestQueueLog;
    use crate::core::reports::queue_report;

    const BASE: i64 = 1_795_000_000;

    /// The journal's queue lines as ingested so far; counts the lines it hands out.
    #[derive(Default)]
    struct Lines {
        lines: StdMutex<Vec<QueueLogRecord>>,
        read: AtomicUsize,
    }

    impl JournalReader for Lines {
        fn cdrs(&self, _: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
            Ok(Vec::new())
        }
        fn cdrs_of_call(&self, _: &str) -> Result<Vec<CdrRecord>, PortError> {
            Ok(Vec::new())
        }
        fn queue_log(&self, range: TimeRange) -> Result<Vec<QueueLogRecord>, PortError> {
            let mut out: Vec<_> = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .filter(|r| range.contains(r.time))
                .cloned()
                .collect();
            out.sort_by_key(|r| (r.time, r.position.offset));
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
        fn queue_log_state(&self, _: UnixTime) -> Result<Vec<QueueLogRecord>, PortError> {
            Ok(Vec::new())
        }
    }

    fn line(
        n: u64,
        at: i64,
        callid: &str,
        queue: &str,
        event: &str,
        data: &[&str],
    ) -> QueueLogRecord {
        QueueLogRecord {
            position: LogPosition {
                file: FileId {
                    dev: 1,
                    ino: 1,
                    created_ns: 0,
                },
                offset: n * 100,
            },
            time: UnixTime(BASE + at),
            callid: callid.to_owned(),
            queue: queue.to_owned(),
            agent: if event == "ENTERQUEUE" || event == "ABANDON" {
                "NONE"
            } else {
                "2005"
            }
            .to_owned(),
            event: QueueEvent::parse(event),
            data: data.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    /// A call every 7 s for 2000 s in two queues: answered after 3 s and talked 40 s, or
    /// (every fifth) abandoned after 10 s.
    fn day() -> Vec<QueueLogRecord> {
        let mut out = Vec::new();
        let mut n = 0;
        let mut push = |at, callid: &str, queue, event, data: &[&str]| {
            n += 1;
            out.push(line(n, at, callid, queue, event, data));
        };
        for (i, at) in (0..2000).step_by(7).enumerate() {
            let callid = format!("c{i}");
            let queue = if i % 2 == 0 { "q_ventas" } else { "q_soporte" };
            push(at, &callid, queue, "ENTERQUEUE", &["", "0981", "1"]);
            if i % 5 == 4 {
                push(at + 10, &callid, queue, "ABANDON", &["1", "1", "10"]);
            } else {
                push(at + 3, &callid, queue, "CONNECT", &["3", "b", "2"]);
                push(at + 43, &callid, queue, "COMPLETECALLER", &["3", "40", "1"]);
            }
        }
        out
    }

    fn ctx(now: i64) -> ReportContext {
        let mut c = ReportContext::new(
            UnixTime(BASE + now),
            Arc::new(TestNaming),
            Arc::new(TestQueueLog),
        );
        c.service_levels.insert("q_ventas".into(), 20);
        c
    }

    fn as_map(reports: Vec<QueueReport>) -> Figures {
        Arc::new(reports.into_iter().map(|r| (r.queue.clone(), r)).collect())
    }

    #[tokio::test]
    async fn the_running_figures_equal_the_days_report_and_read_only_the_last_minute() {
        let all = day();
        let lines = Arc::new(Lines::default());
        let journal = Journal::new(lines.clone());
        let figures = DayQueueFigures::new();
        let from = UnixTime(BASE);
        let mut compared = 0;
        let mut most_read = 0;
        let mut whole_day_reads = 0;
        for now in (1..2100).step_by(13) {
            // Ingested so far: the lines written before `now`.
            *lines.lines.lock().unwrap() = all
                .iter()
                .filter(|r| r.time.0 < BASE + now)
                .cloned()
                .collect();
            let before = lines.read.load(Ordering::SeqCst);
            let got = figures.today(&journal, from, &ctx(now)).await.unwrap();
            let read = lines.read.load(Ordering::SeqCst) - before;
            let want = queue_report(
                &all,
                TimeRange::new(from, UnixTime(BASE + now)),
                &ReportFilter::default(),
                &ctx(now),
            );
            assert_eq!(got, as_map(want), "now {now}");
            compared += 1;
            // Only the first request and the rebuilds (every REBUILD_SECS) read the whole day
            // so far; any other reads the lines of its last SETTLE_SECS and the newly settled
            // ones: a call has at most 3 lines and one starts every 7 s.
            let per_minute = (SETTLE_SECS as usize + 13) / 7 * 3 + 3;
            if read > per_minute {
                whole_day_reads += 1;
            } else {
                most_read = most_read.max(read);
            }
        }
        assert_eq!(compared, 162);
        let rebuilds = 2100 / REBUILD_SECS as usize;
        assert!(
            (1..=1 + rebuilds).contains(&whole_day_reads),
            "{whole_day_reads} requests read the whole day"
        );
        assert!(most_read > 0);
    }

    #[tokio::test]
    async fn a_line_ingested_late_shows_once_the_tally_is_rebuilt() {
        let all = day();
        let lines = Arc::new(Lines::default());
        let journal = Journal::new(lines.clone());
        let figures = DayQueueFigures::new();
        let from = UnixTime(BASE);
        let until = |t: i64| -> Vec<QueueLogRecord> {
            all.iter()
                .filter(|r| r.time.0 < BASE + t)
                .cloned()
                .collect()
        };
        // At 1000 the line of the call entered at 700 (c100) is missing: ingestion had not
        // written it; it arrives at 1100, long settled.
        let late = |r: &QueueLogRecord| r.callid == "c100" && r.event == QueueEvent::EnterQueue;
        *lines.lines.lock().unwrap() = until(1000).into_iter().filter(|r| !late(r)).collect();
        let offered = |got: &Figures| got.values().map(|r| r.offered).sum::<u64>();
        let got = figures.today(&journal, from, &ctx(1000)).await.unwrap();
        let on_time = offered(&got);
        *lines.lines.lock().unwrap() = until(1100);
        let got = figures.today(&journal, from, &ctx(1100)).await.unwrap();
        let want = queue_report(
            &until(1100),
            TimeRange::new(from, UnixTime(BASE + 1100)),
            &ReportFilter::default(),
            &ctx(1100),
        );
        assert_eq!(
            offered(&got) + 1,
            offered(&as_map(want)),
            "missed until the rebuild"
        );
        assert!(offered(&got) > on_time);
        *lines.lines.lock().unwrap() = until(1000 + REBUILD_SECS);
        let t = 1000 + REBUILD_SECS;
        let got = figures.today(&journal, from, &ctx(t)).await.unwrap();
        let want = queue_report(
            &until(t),
            TimeRange::new(from, UnixTime(BASE + t)),
            &ReportFilter::default(),
            &ctx(t),
        );
        assert_eq!(got, as_map(want));
    }

    #[tokio::test]
    async fn requests_of_the_same_second_share_one_read() {
        let lines = Arc::new(Lines::default());
        *lines.lines.lock().unwrap() = day();
        let journal = Journal::new(lines.clone());
        let figures = DayQueueFigures::new();
        let today = TimeRange::new(UnixTime(BASE), UnixTime::MAX);
        let first = figures.day(&journal, today, &ctx(900)).await.unwrap();
        let read = lines.read.load(Ordering::SeqCst);
        let again = figures.day(&journal, today, &ctx(900)).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        figures
            .today(&journal, UnixTime(BASE), &ctx(900))
            .await
            .unwrap();
        assert_eq!(
            lines.read.load(Ordering::SeqCst),
            read,
            "nothing read again"
        );
        let next = figures.day(&journal, today, &ctx(901)).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &next));
        assert!(
            lines.read.load(Ordering::SeqCst) > read,
            "the next second is read"
        );
    }
}
