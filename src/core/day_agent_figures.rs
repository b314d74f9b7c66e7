//! [`DayAgentFigures`]: today's agent reports (sessions, pauses, logged, paused, available and
//! talking time, calls presented / answered / missed, outbound and direct inbound calls) and
//! the day's outbound calls, kept up to date incrementally like the queue figures
//! ([`super::day_figures`]), so an agent panel polled every few seconds costs a read of the
//! last minute of the journal, not of the whole day.
//!
//! Rules (those of the queue figures, with the same constants):
//! - The input is that of every report over the day: the state lines before the day's start
//!   ([`JournalReader::queue_log_state`](super::journal::JournalReader::queue_log_state)),
//!   then the day's `queue_log` lines, and the CDR legs that started in the day (in the day's
//!   first minute, the state before the settled instant and the lines since). They are
//!   folded into an [`AgentTally`]: lines older than [`SETTLE_SECS`] and legs that *ended*
//!   more than [`SETTLE_SECS`] ago (a leg is stored when it ends, so a long call is never
//!   missed) are folded once and for all; younger ones are read again on each request and
//!   folded into a copy. Each answer therefore equals
//!   [`agent_report`](super::reports::agent_report) (and
//!   [`outbound_calls`](super::reports::outbound_calls)) over the day so far.
//! - A line or leg ingested more than [`SETTLE_SECS`] late would be missed by the running
//!   tally: it is rebuilt from the whole day every [`REBUILD_SECS`].
//! - A tally is kept per *shape*: the day's start, the queue filter and `persistentmembers`
//!   (what changes how lines are folded); up to [`SHAPES`] of them, the least recently used
//!   dropped first. A new day is a new shape. The agent filter and the agents' extensions are
//!   applied when answering, so every agent panel of a facade shares one tally.
//! - The interface → agent mapping ([`ReportContext::interfaces`], which follows agents logging
//!   in and out) changes how a line is folded only for a line whose agent field it maps
//!   differently. A tally remembers the agent fields of the lines folded into it; a request
//!   whose mapping differs from the tally's on none of them (the usual case: lines carry the
//!   member name, the mapping is keyed by interface) uses the tally as it is, under the new
//!   mapping; otherwise the tally is rebuilt from the whole day.
//! - Requests within the same second asking the same (shape, interface mapping, agents,
//!   extensions) get the answer computed for that second, for at most [`FRESH`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use tokio::sync::Mutex;

use super::day_figures::{FRESH, REBUILD_SECS, SETTLE_SECS};
use super::journal::{CdrRecord, Journal, QueueLogRecord, TimeRange, UnixTime};
use super::reports::{AgentReport, AgentTally, OutboundCall, ReportContext, ReportFilter};
use super::PortError;

/// How many tallies (shapes) are kept.
pub const SHAPES: usize = 8;

/// The day's agent figures.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentFigures {
    /// Per agent, as [`agent_report`](super::reports::agent_report) over the day so far.
    pub reports: Vec<AgentReport>,
    /// The day's outbound calls of the filter's agents (every queue), as
    /// [`outbound_calls`](super::reports::outbound_calls) gives them.
    pub outbound: Vec<OutboundCall>,
}

/// What changes how the day's lines are folded (besides the interface mapping, see the
/// module's rules).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shape {
    from: UnixTime,
    queues: Vec<String>,
    persistent_members: bool,
}

/// One request, as far as its answer depends on it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Asked {
    shape: Shape,
    interfaces: BTreeMap<String, String>,
    now: UnixTime,
    agents: Vec<String>,
    extensions: BTreeMap<String, String>,
}

struct Day {
    shape: Shape,
    /// The interface mapping the tally was folded with.
    interfaces: BTreeMap<String, String>,
    /// The agent fields of the lines folded into the tally.
    fields: BTreeSet<String>,
    /// Lines before this instant, and legs ended before it, are in `tally`.
    through: UnixTime,
    /// When the tally was (re)built from the whole day.
    built: UnixTime,
    /// When it last served a request (which tally to drop first).
    used: Instant,
    tally: AgentTally,
}

/// Today's agent figures, kept up to date (see the module's rules).
#[derive(Default)]
pub struct DayAgentFigures {
    days: Mutex<Vec<Day>>,
    /// The last answers: what was asked, when it was computed, the answer.
    last: std::sync::Mutex<VecDeque<(Asked, Instant, Arc<AgentFigures>)>>,
}

impl Day {
    /// Whether `interfaces` maps every agent field folded so far as the tally's mapping does.
    fn maps_alike(&self, interfaces: &BTreeMap<String, String>) -> bool {
        self.interfaces == *interfaces
            || self
                .fields
                .iter()
                .all(|f| self.interfaces.get(f) == interfaces.get(f))
    }

    fn folded(&mut self, lines: &[QueueLogRecord]) {
        for r in lines {
            if !self.fields.contains(&r.agent) {
                self.fields.insert(r.agent.clone());
            }
        }
    }
}

impl DayAgentFigures {
    /// Whether the figures answer a report over `range` asked at `now`
    /// ([`day_figures::serves`](super::day_figures::serves): the range is today so far).
    pub fn serves(range: TimeRange, day_start: UnixTime, now: UnixTime) -> bool {
        super::day_figures::serves(range, day_start, now)
    }

    /// No figures yet: the first request of each shape reads the day so far.
    pub fn new() -> Self {
        Self::default()
    }

    /// The answer computed for `asked`, if there is one and it is fresh.
    fn fresh(&self, asked: &Asked) -> Option<Arc<AgentFigures>> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.iter()
            .find(|(a, computed, _)| a == asked && computed.elapsed() < FRESH)
            .map(|(_, _, figures)| figures.clone())
    }

    fn remember(&self, asked: Asked, figures: Arc<AgentFigures>) {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.retain(|(a, computed, _)| a != &asked && computed.elapsed() < FRESH);
        if last.len() >= SHAPES {
            last.pop_front();
        }
        last.push_back((asked, Instant::now(), figures));
    }

    /// Per agent, what happened in `day` (its start is the day's start) up to `ctx.now`, for
    /// `filter` (its agents, in its queues; empty lists: all).
    pub async fn today(
        &self,
        journal: &Journal,
        day: TimeRange,
        filter: &ReportFilter,
        ctx: &ReportContext,
    ) -> Result<Arc<AgentFigures>, PortError> {
        let from = day.from;
        let mut ctx = ctx.clone();
        // The effective end, as every report takes it.
        ctx.now = ctx.now.min(day.to).max(from);
        let now = ctx.now;
        let mut queues = filter.queues.clone();
        queues.sort();
        queues.dedup();
        let shape = Shape {
            from,
            queues,
            persistent_members: ctx.persistent_members,
        };
        let asked = Asked {
            shape: shape.clone(),
            interfaces: ctx.interfaces.clone(),
            now,
            agents: filter.agents.clone(),
            extensions: ctx.extensions.clone(),
        };
        if let Some(figures) = self.fresh(&asked) {
            return Ok(figures);
        }
        let feeding = ReportFilter {
            agents: Vec::new(),
            queues: shape.queues.clone(),
        };
        let mut days = self.days.lock().await;
        // Another request of this second may have computed it while this one waited.
        if let Some(figures) = self.fresh(&asked) {
            return Ok(figures);
        }
        let found = days.iter().position(|d| d.shape == shape);
        let stale = found.is_none_or(|i| {
            let d = &days[i];
            now.0 - d.built.0 >= REBUILD_SECS
                || now.0 < d.through.0
                || !d.maps_alike(&ctx.interfaces)
        });
        // Lines before this instant are all ingested (the settle rule): folded for good.
        let settled = UnixTime(now.0 - SETTLE_SECS);
        let i = if stale {
            // The state lines open the tally, then the lines follow: the state at the day's
            // start, or at the settled instant when the day began less than a minute ago (the
            // last lines before the day may still be on their way).
            let base = settled.min(from);
            let state = journal.read(move |r| r.queue_log_state(base)).await?;
            let mut tally = AgentTally::new();
            tally.feed(&state, TimeRange::new(from, from), &feeding, &ctx);
            let mut fresh_day = Day {
                shape: shape.clone(),
                interfaces: ctx.interfaces.clone(),
                fields: BTreeSet::new(),
                through: base,
                built: now,
                used: Instant::now(),
                tally,
            };
            fresh_day.folded(&state);
            match found {
                Some(i) => {
                    days[i] = fresh_day;
                    i
                }
                None => {
                    if days.len() >= SHAPES {
                        let oldest = (0..days.len())
                            .min_by_key(|&i| days[i].used)
                            .expect("not empty");
                        days.swap_remove(oldest);
                    }
                    days.push(fresh_day);
                    days.len() - 1
                }
            }
        } else {
            found.expect("not stale")
        };
        let d = &mut days[i];
        d.used = Instant::now();
        if d.interfaces != ctx.interfaces {
            // Maps every folded line alike (else it was rebuilt): the tally goes on under the
            // request's mapping.
            d.interfaces = ctx.interfaces.clone();
        }
        let through = d.through;
        let (settled_part, young) = journal
            .read(move |r| {
                let settled_part = if settled > through {
                    let range = TimeRange::new(through, settled);
                    Some((r.queue_log(range)?, r.cdrs_ended(from, range)?))
                } else {
                    None
                };
                let young_from = through.max(settled);
                let young: (Vec<QueueLogRecord>, Vec<CdrRecord>) = (
                    r.queue_log(TimeRange::new(young_from, now))?,
                    r.cdrs_ended(from, TimeRange::new(young_from, UnixTime::MAX))?,
                );
                Ok((settled_part, young))
            })
            .await?;
        if let Some((lines, cdrs)) = settled_part {
            d.tally
                .feed(&lines, TimeRange::new(from, settled), &feeding, &ctx);
            d.folded(&lines);
            d.tally.feed_cdrs(&cdrs, &ctx);
            d.through = settled;
        }
        let mut tally = d.tally.clone();
        drop(days);
        let (lines, cdrs) = young;
        let range = TimeRange::new(from, now);
        tally.feed(&lines, range, &feeding, &ctx);
        tally.feed_cdrs(&cdrs, &ctx);
        let agents_only = ReportFilter {
            agents: filter.agents.clone(),
            queues: Vec::new(),
        };
        let figures = Arc::new(AgentFigures {
            reports: tally.report(range, filter, &ctx),
            outbound: tally.calls().outbound_calls(range, &agents_only, &ctx),
        });
        self.remember(asked, figures.clone());
        Ok(figures)
    }
}

#[cfg(test)]
mod tests;
