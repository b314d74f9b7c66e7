//! Reports computed from the journal: one module that every facade's reports use.
//!
//! Everything here is a pure function over journal records ([`QueueLogRecord`], [`CdrRecord`])
//! and plain inputs; nothing reads a store or a clock, so every number is tested with data.
//!
//! - [`calls`] groups CDR legs by `linkedid` into [`Call`]s, legs in order.
//! - [`agent_report`] gives, per agent, sessions (login → logout), pauses per reason, logged,
//!   paused, available and talking seconds, calls presented / answered / missed / outbound and
//!   the average handling time. It is an [`AgentTally`] fed once; the tally can also be fed a
//!   batch at a time (lines as they are written, CDR legs as they end, into a [`CallTally`]),
//!   which is how the running day figures keep it.
//! - [`queue_report`] gives, per queue, calls offered / answered / abandoned / timed out, the
//!   service level, average wait and average talk ([`QueueTally`], fed once or in batches).
//! - [`queue_activity`] lists the queue events of the interval in the order they were written.
//! - [`outbound_calls`] lists the agents' outbound calls (the rule of **Outbound** below);
//!   [`during_sessions`] keeps those placed while logged in (e.g. to one queue).
//!
//! # Input
//!
//! `records` are `queue_log` records in the order Asterisk wrote them (what
//! [`JournalStore::queue_log`](super::JournalStore::queue_log) returns). They must start early
//! enough to hold the `ADDMEMBER` (and last `PAUSE`) of every agent logged in at the interval's
//! start: state is rebuilt by replaying them. Records at or after the effective end are ignored.
//! The whole history is not needed: [`state_records`] of the lines before the interval's start
//! ([`JournalStore::queue_log_state`](super::JournalStore::queue_log_state)), followed by the
//! records of the interval, give the same agent report.
//! `cdrs` only matter for outbound calls; pass those that started in the interval.
//!
//! # Rules
//!
//! - **Identity.** An agent is the `queue_log` agent field (with `log_membername_as_agent = yes`,
//!   the member name: the agent's number). A field found in [`ReportContext::interfaces`] (e.g.
//!   `PJSIP/1006`, written when a member was added without a name) is mapped to its agent.
//!   `NONE` and empty fields are no agent.
//! - **Effective end.** The interval `[from, to)` ends at `min(to, now)`: a session, pause or
//!   call still open then is reported `open` and counted up to that instant.
//! - **Sessions.** An agent is logged in while member of at least one queue (of the queue
//!   filter): `ADDMEMBER` opens membership of a queue, `REMOVEMEMBER` closes it. A session runs
//!   from the first queue joined to the last queue left; its `queues` are every queue it held.
//!   An agent logged in before the interval is logged in from the interval's start (sessions
//!   and pauses are clipped to the interval; such a session's `queues` and `inferred` flag are
//!   those of the membership held at the interval's start, then extended). A member event
//!   (`PAUSE`, `UNPAUSE`, `CONNECT`, `RINGNOANSWER`, `RINGCANCELED`) for a queue the agent is
//!   not known to be member of makes it a member from then on (its `ADDMEMBER` predates the
//!   records), and the session is flagged `inferred` — unless the records show the agent
//!   leaving that queue (`REMOVEMEMBER`, no `ADDMEMBER` since): Asterisk writes the `CONNECT`
//!   or `RINGNOANSWER` of a call that was ringing the member when it was removed after the
//!   `REMOVEMEMBER`, and that call does not make it a member again. A `QUEUESTART` without
//!   persistent members forgets who left (static members come back).
//! - **Pauses.** Asterisk writes one `PAUSE`/`UNPAUSE` per queue (`PAUSEALL`/`UNPAUSEALL` are
//!   summaries of those lines and are ignored so nothing counts twice). An agent is paused while
//!   paused in *every* queue it is member of (in any single queue it is still available for the
//!   others); the reason is that of the latest `PAUSE` line. A new reason without `UNPAUSE`
//!   (`log_unpause_on_reason_change = no`) ends one pause and starts the next. Leaving a queue
//!   ends its pause.
//! - **Asterisk restarts (`QUEUESTART`).** With persistent members
//!   ([`ReportContext::persistent_members`], queues.conf `persistentmembers = yes`, the
//!   default) Asterisk restores members *and their pause state and reason* from its database
//!   without writing `ADDMEMBER`/`PAUSE`, so a restart ends neither sessions nor pauses: they
//!   run on, and the downtime is counted as it was before (queue_log does not say when Asterisk
//!   stopped). Without persistent members every session and pause ends at the `QUEUESTART`.
//!   Calls never survive a restart: a call still talking ends at the `QUEUESTART`.
//! - **Calls of an agent.** `presented` counts `CONNECT` + `RINGNOANSWER` + `RINGCANCELED`
//!   (ringing cut short because the caller left) in the interval; `answered` counts `CONNECT`;
//!   `missed` counts `RINGNOANSWER`. A queue call is talked from its `CONNECT` to its
//!   `COMPLETECALLER`/`COMPLETEAGENT`/`*TRANSFER`. The average handling time is the mean of
//!   that span (whole, not clipped) over calls connected in the interval and ended before the
//!   effective end; `None` without such calls.
//! - **Outbound.** A call ([`calls`]) started in the interval is an outbound call of an agent
//!   when one of its legs runs on the agent's extension (`PJSIP/<ext>-…`, see
//!   [`ReportContext::extensions`]) and either its `dcontext` is an outbound context
//!   ([`ReportContext::outbound_contexts`]) or its `dst` is an external number (digits, optional
//!   leading `+`, at least [`EXTERNAL_NUMBER_MIN_DIGITS`] digits). It is answered when such a
//!   leg dialled a peer and ended `ANSWERED`; its talk (that leg's answer → end) adds to the
//!   agent's talking time.
//! - **Direct inbound.** A call started in the interval that is not an outbound call of the
//!   agent is a direct inbound call of the agent when one of its legs dialed the agent's
//!   extension (`dstchannel` `PJSIP/<ext>-…`) from another channel with an application other
//!   than `Queue` (a call to the extension, or transferred to it); answered when such a leg
//!   ended `ANSWERED`. Counted when it started during one of the agent's sessions of the report
//!   (so per queue with a queue filter), like the outbound calls of a queue's agents.
//! - **Time budget.** `logged` is the time in sessions, `paused` the time in pauses, `talking`
//!   the union of talk spans, and `available = logged − (logged ∩ (paused ∪ talking))`; all
//!   clipped to the interval, in whole seconds.
//! - **Queues.** [`queue_report`] counts, per queue and in the interval, `ENTERQUEUE` (offered),
//!   `CONNECT` (answered; wait = its holdtime field), `ABANDON`, `EXITWITHTIMEOUT`, and
//!   `EXITEMPTY`/`EXITWITHKEY` (other exits). Answered within the queue's service-level
//!   threshold means holdtime ≤ threshold; the service level is that count over
//!   answered + abandoned + timed out, in percent. The agent filter does not apply to it.
//!
//! **Architecture Invariant:** no I/O, no clock, no wire format: callers pass records and `now`.
//! Channel names and queue line fields are read through the PBX's ports in [`ReportContext`]
//! (`naming`, `queue_log`), never parsed here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::ids::UniqueId;
use super::journal::{CdrRecord, Disposition, QueueEvent, QueueLogRecord, TimeRange, UnixTime};
use super::naming::ChannelNaming;
use super::queue_details::{QueueDetails, QueueLogLayout};

#[cfg(test)]
pub(in crate::core) mod tests;

/// The fewest digits a `dst` must have to count as an external (public) number.
pub const EXTERNAL_NUMBER_MIN_DIGITS: usize = 7;

// ------------------------------------------------------------------ inputs

/// Which agents and queues a report covers; an empty list means all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportFilter {
    /// Agent names (numbers); empty: every agent seen.
    pub agents: Vec<String>,
    /// Queue names; empty: every queue seen.
    pub queues: Vec<String>,
}

impl ReportFilter {
    fn agent_ok(&self, agent: &str) -> bool {
        self.agents.is_empty() || self.agents.iter().any(|a| a == agent)
    }

    fn queue_ok(&self, queue: &str) -> bool {
        self.queues.is_empty() || self.queues.iter().any(|q| q == queue)
    }
}

/// Facts about the site a report needs besides the records.
#[derive(Clone)]
pub struct ReportContext {
    /// The current instant: nothing is counted from it on (records are stamped in whole
    /// seconds, so pass the next whole second to include lines written in the current one).
    pub now: UnixTime,
    /// queues.conf `persistentmembers`: members (and pauses) survive an Asterisk restart.
    pub persistent_members: bool,
    /// Member interface (`PJSIP/1006`) → agent, for lines that carry the interface.
    pub interfaces: BTreeMap<String, String>,
    /// Agent → extension (`2006` → `1006`), for outbound calls from CDRs.
    pub extensions: BTreeMap<String, String>,
    /// Dialplan contexts whose calls are outbound (the lab's: `outbound`).
    pub outbound_contexts: Vec<String>,
    /// Queue → service-level threshold in seconds (queues.conf `servicelevel`).
    pub service_levels: BTreeMap<String, u32>,
    /// What a channel's name says (the endpoint of a CDR leg's channel).
    pub naming: Arc<dyn ChannelNaming>,
    /// What a queue line's fields mean (hold time, pause reason, ...).
    pub queue_log: Arc<dyn QueueLogLayout>,
}

impl std::fmt::Debug for ReportContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportContext")
            .field("now", &self.now)
            .field("persistent_members", &self.persistent_members)
            .field("interfaces", &self.interfaces)
            .field("extensions", &self.extensions)
            .field("outbound_contexts", &self.outbound_contexts)
            .field("service_levels", &self.service_levels)
            .finish_non_exhaustive()
    }
}

impl ReportContext {
    /// Persistent members, the `outbound` context, no mappings, no thresholds; the PBX's naming
    /// and queue line layout.
    pub fn new(
        now: UnixTime,
        naming: Arc<dyn ChannelNaming>,
        queue_log: Arc<dyn QueueLogLayout>,
    ) -> Self {
        Self {
            now,
            persistent_members: true,
            interfaces: BTreeMap::new(),
            extensions: BTreeMap::new(),
            outbound_contexts: vec!["outbound".to_owned()],
            service_levels: BTreeMap::new(),
            naming,
            queue_log,
        }
    }

    /// The typed details of a queue line.
    fn details(&self, r: &QueueLogRecord) -> QueueDetails {
        self.queue_log.details(&r.event, &r.data)
    }

    /// The agent a `queue_log` agent field names, if any.
    fn agent(&self, field: &str) -> Option<String> {
        if field.is_empty() || field == "NONE" {
            return None;
        }
        Some(
            self.interfaces
                .get(field)
                .cloned()
                .unwrap_or_else(|| field.to_owned()),
        )
    }

    /// `[from, min(to, now))`.
    fn window(&self, range: TimeRange) -> Window {
        let end = range.to.min(self.now).max(range.from);
        Window {
            from: range.from,
            end,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Window {
    from: UnixTime,
    end: UnixTime,
}

impl Window {
    fn contains(self, t: UnixTime) -> bool {
        self.from <= t && t < self.end
    }

    /// `[start, end]` clipped; `None` if it does not touch the window. A span of zero length is
    /// kept when it lies in the window.
    fn clip(self, start: UnixTime, end: UnixTime) -> Option<(UnixTime, UnixTime)> {
        if start >= self.end || end < self.from || (end == self.from && start < self.from) {
            return None;
        }
        Some((start.max(self.from), end.min(self.end)))
    }
}

// ------------------------------------------------------------------ calls

/// One customer call: every CDR leg sharing a `linkedid`, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The `linkedid` all legs share.
    pub linkedid: UniqueId,
    /// The first leg's start.
    pub start: UnixTime,
    /// The last leg's end.
    pub end: UnixTime,
    /// The legs by start, then CDR sequence, then source row.
    pub legs: Vec<CdrRecord>,
}

/// Groups CDR legs by `linkedid` into calls ordered by start (then `linkedid`).
pub fn calls(cdrs: &[CdrRecord]) -> Vec<Call> {
    let mut groups: BTreeMap<&UniqueId, Vec<&CdrRecord>> = BTreeMap::new();
    for cdr in cdrs {
        groups.entry(&cdr.linkedid).or_default().push(cdr);
    }
    let mut out: Vec<Call> = groups
        .into_iter()
        .map(|(linkedid, mut legs)| {
            legs.sort_by_key(|l| (l.start, l.sequence, l.source_rowid));
            Call {
                linkedid: linkedid.clone(),
                start: legs.iter().map(|l| l.start).min().unwrap_or(UnixTime(0)),
                end: legs.iter().map(|l| l.end).max().unwrap_or(UnixTime(0)),
                legs: legs.into_iter().cloned().collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| (a.start, &a.linkedid).cmp(&(b.start, &b.linkedid)));
    out
}

// ------------------------------------------------------------------ agent report

/// One login → logout of an agent, clipped to the interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Start (the interval's start if the agent logged in before).
    pub start: UnixTime,
    /// End (the effective end if still open).
    pub end: UnixTime,
    /// Still logged in at the effective end.
    pub open: bool,
    /// Its start was inferred from a member event (no `ADDMEMBER` in the records).
    pub inferred: bool,
    /// Every queue held during the session, sorted.
    pub queues: Vec<String>,
}

impl Session {
    /// Length in seconds.
    pub fn seconds(&self) -> i64 {
        self.end.0 - self.start.0
    }
}

/// One pause, clipped to the interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PausePeriod {
    /// Start.
    pub start: UnixTime,
    /// End (the effective end if still open).
    pub end: UnixTime,
    /// Still paused at the effective end.
    pub open: bool,
}

impl PausePeriod {
    /// Length in seconds.
    pub fn seconds(&self) -> i64 {
        self.end.0 - self.start.0
    }
}

/// The pauses of one reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PauseSummary {
    /// The reason as written (empty when none was given).
    pub reason: String,
    /// How many pauses touch the interval.
    pub count: u64,
    /// Their total length in seconds.
    pub seconds: i64,
    /// Each pause, in order.
    pub periods: Vec<PausePeriod>,
}

/// What one agent did in the interval.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentReport {
    /// The agent (member name).
    pub agent: String,
    /// Sessions in order.
    pub sessions: Vec<Session>,
    /// Pauses per reason, by reason.
    pub pauses: Vec<PauseSummary>,
    /// Seconds logged in.
    pub logged_secs: i64,
    /// Seconds paused.
    pub paused_secs: i64,
    /// Seconds logged in, neither paused nor talking.
    pub available_secs: i64,
    /// Seconds talking (queue and outbound calls).
    pub talking_secs: i64,
    /// Queue calls offered to the agent.
    pub presented: u64,
    /// Queue calls answered.
    pub answered: u64,
    /// Queue calls rung without answer (`RINGNOANSWER`).
    pub missed: u64,
    /// Outbound calls placed.
    pub outbound: u64,
    /// Outbound calls answered by the far end.
    pub outbound_answered: u64,
    /// Average handling time of answered queue calls, in seconds.
    pub aht_secs: Option<f64>,
    /// Seconds talking on queue calls.
    pub queue_talking_secs: i64,
    /// Seconds talking on outbound calls.
    pub outbound_talking_secs: i64,
    /// Queue calls that ended in a transfer (`TRANSFER`, `BLINDTRANSFER`,
    /// `ATTENDEDTRANSFER`) in the interval.
    pub transferred: u64,
    /// The handling time of each answered queue call the average is taken over, in order.
    pub handled_secs: Vec<i64>,
    /// Direct inbound calls (the rule of **Direct inbound**) received during the report's
    /// sessions.
    pub direct_inbound: u64,
    /// Of those, the ones the agent answered.
    pub direct_inbound_answered: u64,
}

/// An agent's outbound calls: placed, answered, and the answered legs' talk spans.
#[derive(Clone, Debug, Default)]
struct Outbound {
    placed: u64,
    answered: u64,
    talks: Vec<Span>,
}

#[derive(Clone, Debug, Default)]
struct Member {
    inferred: bool,
    /// `(record index, reason)` of the queue's current pause.
    paused: Option<(usize, String)>,
}

#[derive(Clone, Debug, Default)]
struct AgentState {
    queues: BTreeMap<String, Member>,
    /// Queues the records show the agent leaving (`REMOVEMEMBER`, no `ADDMEMBER` since).
    left: BTreeSet<String>,
    session: Option<(UnixTime, BTreeSet<String>, bool)>,
    pause: Option<(UnixTime, String)>,
    sessions: Vec<(UnixTime, UnixTime, BTreeSet<String>, bool, bool)>,
    pauses: Vec<(UnixTime, UnixTime, String, bool)>,
    /// Open queue calls: callid → connect time.
    calls: BTreeMap<String, UnixTime>,
    /// `(connect, end, open)`.
    talks: Vec<(UnixTime, UnixTime, bool)>,
    /// Direct inbound calls: `(start, answered)`.
    direct: Vec<(UnixTime, bool)>,
    presented: u64,
    answered: u64,
    missed: u64,
    transferred: u64,
}

impl AgentState {
    fn join(&mut self, queue: &str, inferred: bool) {
        if inferred && self.left.contains(queue) {
            return;
        }
        self.left.remove(queue);
        self.queues
            .entry(queue.to_owned())
            .or_insert_with(|| Member {
                inferred,
                paused: None,
            });
    }

    /// Moves session and pause to what the member states say, at `t`.
    fn settle(&mut self, t: UnixTime) {
        if self.queues.is_empty() {
            if let Some((start, queues, inferred)) = self.session.take() {
                self.sessions.push((start, t, queues, false, inferred));
            }
        } else {
            let inferred = self.queues.values().any(|m| m.inferred);
            let session = self
                .session
                .get_or_insert_with(|| (t, BTreeSet::new(), inferred));
            session.1.extend(self.queues.keys().cloned());
        }
        let reason = if self.queues.values().all(|m| m.paused.is_some()) {
            self.queues
                .values()
                .filter_map(|m| m.paused.as_ref())
                .max_by_key(|(i, _)| *i)
                .map(|(_, r)| r.clone())
        } else {
            None
        };
        if self.pause.as_ref().map(|(_, r)| r) != reason.as_ref() {
            if let Some((start, old)) = self.pause.take() {
                self.pauses.push((start, t, old, false));
            }
            self.pause = reason.map(|r| (t, r));
        }
    }

    /// At the interval's start: a session running then is described by the membership held
    /// then (its queues and whether that membership was inferred), not by what it held before.
    fn rebase(&mut self) {
        if let Some(session) = self.session.as_mut() {
            session.1 = self.queues.keys().cloned().collect();
            session.2 = self.queues.values().any(|m| m.inferred);
        }
    }

    fn end_call(&mut self, callid: &str, t: UnixTime) {
        if let Some(start) = self.calls.remove(callid) {
            self.talks.push((start, t, false));
        }
    }

    /// Closes what is still open at the effective end.
    fn finish(&mut self, end: UnixTime) {
        if let Some((start, queues, inferred)) = self.session.take() {
            self.sessions.push((start, end, queues, true, inferred));
        }
        if let Some((start, reason)) = self.pause.take() {
            self.pauses.push((start, end, reason, true));
        }
        for (_, start) in std::mem::take(&mut self.calls) {
            self.talks.push((start, end, true));
        }
    }
}

// ------------------------------------------------------------------ state at an instant

/// Events whose last line per member (agent field, queue) is part of the state at an instant.
pub const STATE_EVENTS: [QueueEvent; 7] = [
    QueueEvent::AddMember,
    QueueEvent::RemoveMember,
    QueueEvent::Pause,
    QueueEvent::Unpause,
    QueueEvent::RingNoAnswer,
    QueueEvent::RingCanceled,
    QueueEvent::QueueStart,
];

/// Events that end a connected queue call.
pub const CALL_END_EVENTS: [QueueEvent; 5] = [
    QueueEvent::CompleteAgent,
    QueueEvent::CompleteCaller,
    QueueEvent::Transfer,
    QueueEvent::BlindTransfer,
    QueueEvent::AttendedTransfer,
];

/// The lines of `before` (every record before an instant `t`, in the order they were written)
/// that establish who is member, paused and talking at `t`: what [`agent_report`] needs before
/// its interval's start, so that `state_records(lines before from)` followed by the records of
/// `[from, to)` gives the same agent report over `[from, to)` as the whole history does.
///
/// Per member (agent field, queue): the last line of each of [`STATE_EVENTS`]; its last
/// `CONNECT`, with the line that ended that call if one did (same callid, agent and queue,
/// before `t`); while a selected `CONNECT` is still open and not before the last
/// `QUEUESTART`, the member's previous `CONNECT` too (same rule). Returned in input order.
///
/// Exact for the logs Asterisk writes. Not carried: a call still open at `t` behind a later
/// call of the same member in the same queue that already ended (overlapping calls of one
/// member), and membership inferred from a member event followed by an `ADDMEMBER` with no
/// `REMOVEMEMBER` between (a line sequence Asterisk does not write).
pub fn state_records(before: &[QueueLogRecord]) -> Vec<QueueLogRecord> {
    let mut last: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    let mut connects: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, r) in before.iter().enumerate() {
        if STATE_EVENTS.contains(&r.event) {
            last.insert((&r.agent, &r.queue, r.event.as_str()), i);
        } else if r.event == QueueEvent::Connect {
            connects.entry((&r.agent, &r.queue)).or_default().push(i);
        }
    }
    let last_start = last
        .iter()
        .filter(|((_, _, e), _)| *e == QueueEvent::QueueStart.as_str())
        .map(|(_, i)| *i)
        .max();
    let mut keep: BTreeSet<usize> = last.values().copied().collect();
    for list in connects.values() {
        for &c in list.iter().rev() {
            keep.insert(c);
            let call = &before[c];
            let end = before[c + 1..].iter().position(|r| {
                CALL_END_EVENTS.contains(&r.event)
                    && r.callid == call.callid
                    && r.agent == call.agent
                    && r.queue == call.queue
            });
            if let Some(e) = end {
                keep.insert(c + 1 + e);
                break;
            }
            if last_start.is_some_and(|q| c < q) {
                break;
            }
        }
    }
    keep.into_iter().map(|i| before[i].clone()).collect()
}

/// Per agent, what it did in `range` (see the module's rules). Agents are those of the filter,
/// or else every agent with activity in the interval, sorted by name.
pub fn agent_report(
    records: &[QueueLogRecord],
    cdrs: &[CdrRecord],
    range: TimeRange,
    filter: &ReportFilter,
    ctx: &ReportContext,
) -> Vec<AgentReport> {
    let mut tally = AgentTally::new();
    tally.feed(records, range, filter, ctx);
    tally.feed_cdrs(cdrs, ctx);
    tally.report(range, filter, ctx)
}

/// An [`agent_report`] kept up to date: `queue_log` records fed in the order they were written,
/// a batch at a time (the first batch starting early enough, as `agent_report`'s records do),
/// and CDR legs fed in any order; [`AgentTally::report`] at any point equals `agent_report`
/// over every record and leg fed. It holds each agent's state, sessions, pauses and talk spans
/// and, per call, what its legs say of each endpoint ([`CallTally`]), never the records.
///
/// Every batch is fed with the same range start and queue filter; the report's filter may
/// name agents the feeding filter did not restrict to (an agent filter at feeding only saves
/// work: agents not fed are reported empty).
#[derive(Clone, Debug, Default)]
pub struct AgentTally {
    agents: BTreeMap<String, AgentState>,
    /// The interval's start was reached (the agents' sessions were rebased on it).
    rebased: bool,
    /// Records fed so far: orders pause lines across batches.
    fed: usize,
    calls: CallTally,
}

impl AgentTally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `records` (those after the ones fed before, in order); only those before the
    /// range's effective end count.
    pub fn feed(
        &mut self,
        records: &[QueueLogRecord],
        range: TimeRange,
        filter: &ReportFilter,
        ctx: &ReportContext,
    ) {
        let w = ctx.window(range);
        let agents = &mut self.agents;
        for r in records {
            let i = self.fed;
            self.fed += 1;
            if r.time >= w.end {
                continue;
            }
            if !self.rebased && r.time >= w.from {
                self.rebased = true;
                agents.values_mut().for_each(AgentState::rebase);
            }
            if r.event == QueueEvent::QueueStart {
                for st in agents.values_mut() {
                    for callid in st.calls.keys().cloned().collect::<Vec<_>>() {
                        st.end_call(&callid, r.time);
                    }
                    if !ctx.persistent_members {
                        st.queues.clear();
                        st.left.clear();
                        st.settle(r.time);
                    }
                }
                continue;
            }
            if r.queue == "NONE" || !filter.queue_ok(&r.queue) {
                continue;
            }
            let Some(agent) = ctx.agent(&r.agent) else {
                continue;
            };
            if !filter.agent_ok(&agent) {
                continue;
            }
            let st = agents.entry(agent).or_default();
            let inside = w.contains(r.time);
            match &r.event {
                QueueEvent::AddMember => st.join(&r.queue, false),
                QueueEvent::RemoveMember => {
                    st.queues.remove(&r.queue);
                    st.left.insert(r.queue.clone());
                }
                QueueEvent::Pause => {
                    st.join(&r.queue, true);
                    let reason = ctx.details(r).pause_reason().to_owned();
                    if let Some(m) = st.queues.get_mut(&r.queue) {
                        m.paused = Some((i, reason));
                    }
                }
                QueueEvent::Unpause => {
                    st.join(&r.queue, true);
                    if let Some(m) = st.queues.get_mut(&r.queue) {
                        m.paused = None;
                    }
                }
                QueueEvent::Connect => {
                    st.join(&r.queue, true);
                    st.calls.insert(r.callid.clone(), r.time);
                    if inside {
                        st.presented += 1;
                        st.answered += 1;
                    }
                }
                QueueEvent::RingNoAnswer => {
                    st.join(&r.queue, true);
                    if inside {
                        st.presented += 1;
                        st.missed += 1;
                    }
                }
                QueueEvent::RingCanceled => {
                    st.join(&r.queue, true);
                    if inside {
                        st.presented += 1;
                    }
                }
                QueueEvent::CompleteAgent | QueueEvent::CompleteCaller => {
                    st.end_call(&r.callid, r.time)
                }
                QueueEvent::Transfer | QueueEvent::BlindTransfer | QueueEvent::AttendedTransfer => {
                    if inside {
                        st.transferred += 1;
                    }
                    st.end_call(&r.callid, r.time)
                }
                _ => {}
            }
            st.settle(r.time);
        }
    }

    /// Feeds CDR legs (each once, in any order; those that started in the range).
    pub fn feed_cdrs(&mut self, cdrs: &[CdrRecord], ctx: &ReportContext) {
        self.calls.feed(cdrs, ctx);
    }

    /// The calls fed so far.
    pub fn calls(&self) -> &CallTally {
        &self.calls
    }

    /// The report of what was fed (see [`agent_report`]).
    pub fn report(
        &self,
        range: TimeRange,
        filter: &ReportFilter,
        ctx: &ReportContext,
    ) -> Vec<AgentReport> {
        let w = ctx.window(range);
        let mut agents: BTreeMap<String, AgentState> = if filter.agents.is_empty() {
            self.agents.clone()
        } else {
            self.agents
                .iter()
                .filter(|(name, _)| filter.agent_ok(name))
                .map(|(name, st)| (name.clone(), st.clone()))
                .collect()
        };
        if !self.rebased {
            agents.values_mut().for_each(AgentState::rebase);
        }

        // Outbound and direct inbound calls per agent, from the CDRs.
        let mut outbound: BTreeMap<String, Outbound> = BTreeMap::new();
        for (_, call) in self.calls.in_window(w) {
            for (agent, ext) in &ctx.extensions {
                if !filter.agent_ok(agent) {
                    continue;
                }
                let Some(facts) = call.endpoints.get(ext) else {
                    continue;
                };
                if facts.outbound.is_some() {
                    let entry = outbound.entry(agent.clone()).or_default();
                    entry.placed += 1;
                    if !facts.talks.is_empty() {
                        entry.answered += 1;
                    }
                    entry.talks.extend(facts.talks.iter().copied());
                } else if let Some(answered) = facts.direct {
                    if let Some(st) = agents.get_mut(agent) {
                        st.direct.push((call.start, answered));
                    }
                }
            }
        }

        let mut names: BTreeSet<String> = filter.agents.iter().cloned().collect();
        if filter.agents.is_empty() {
            for (name, st) in &mut agents {
                st.finish(w.end);
                let active = st.presented > 0
                    || st.sessions.iter().any(|s| w.clip(s.0, s.1).is_some())
                    || st.talks.iter().any(|t| w.clip(t.0, t.1).is_some());
                if active {
                    names.insert(name.clone());
                }
            }
            names.extend(outbound.keys().cloned());
        } else {
            for st in agents.values_mut() {
                st.finish(w.end);
            }
        }

        names
            .into_iter()
            .map(|name| {
                let st = agents.remove(&name).unwrap_or_default();
                let out = outbound.remove(&name).unwrap_or_default();
                build_agent(name, st, out, w)
            })
            .collect()
    }
}

/// Calls ([`calls`]) as far as the reports need them, kept up to date leg by leg: per call its
/// start and end, and per endpoint what its legs make of the call for that endpoint (an
/// outbound call from it, with the first such leg's `dst` and the answered legs' talk spans;
/// a direct inbound call to it, answered or not). The rules are those of **Outbound** and
/// **Direct inbound**; which agent sits at which endpoint is applied when reporting.
#[derive(Clone, Debug, Default)]
pub struct CallTally {
    calls: BTreeMap<UniqueId, CallFacts>,
}

#[derive(Clone, Debug)]
struct CallFacts {
    /// The first leg's start.
    start: UnixTime,
    /// The last leg's end.
    end: UnixTime,
    /// Endpoint (extension) → what the legs say of it.
    endpoints: BTreeMap<String, EndpointFacts>,
}

#[derive(Clone, Debug, Default)]
struct EndpointFacts {
    /// The first outbound leg from the endpoint (by start, CDR sequence, source row): that
    /// order and its `dst`.
    outbound: Option<((UnixTime, i64, i64), String)>,
    /// Answered outbound legs' talk spans (answer → end).
    talks: Vec<Span>,
    /// A leg rang the endpoint directly; whether such a leg was answered.
    direct: Option<bool>,
}

impl CallTally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds CDR legs (each once, in any order).
    pub fn feed(&mut self, cdrs: &[CdrRecord], ctx: &ReportContext) {
        for l in cdrs {
            let call = self
                .calls
                .entry(l.linkedid.clone())
                .or_insert_with(|| CallFacts {
                    start: l.start,
                    end: l.end,
                    endpoints: BTreeMap::new(),
                });
            call.start = call.start.min(l.start);
            call.end = call.end.max(l.end);
            let from = ctx.naming.channel_endpoint(l.channel.as_str());
            if let Some(ext) = from {
                if ctx.outbound_contexts.contains(&l.dcontext) || is_external_number(&l.dst) {
                    let facts = call.endpoints.entry(ext.to_owned()).or_default();
                    let key = (l.start, l.sequence, l.source_rowid);
                    if facts.outbound.as_ref().is_none_or(|(k, _)| key < *k) {
                        facts.outbound = Some((key, l.dst.clone()));
                    }
                    if l.dstchannel.is_some() && l.disposition == Disposition::Answered {
                        if let Some(a) = l.answer {
                            facts.talks.push((a, l.end));
                        }
                    }
                }
            }
            let to = l
                .dstchannel
                .as_ref()
                .and_then(|d| ctx.naming.channel_endpoint(d.as_str()));
            if let Some(ext) = to {
                if l.lastapp != "Queue" && from != Some(ext) {
                    let facts = call.endpoints.entry(ext.to_owned()).or_default();
                    let answered = l.disposition == Disposition::Answered;
                    facts.direct = Some(facts.direct.unwrap_or(false) || answered);
                }
            }
        }
    }

    /// The calls started in the window, by start then `linkedid`.
    fn in_window(&self, w: Window) -> Vec<(&UniqueId, &CallFacts)> {
        let mut out: Vec<_> = self
            .calls
            .iter()
            .filter(|(_, c)| w.contains(c.start))
            .collect();
        out.sort_by(|a, b| (a.1.start, a.0).cmp(&(b.1.start, b.0)));
        out
    }

    /// The outbound calls fed, as [`outbound_calls`] gives them.
    pub fn outbound_calls(
        &self,
        range: TimeRange,
        filter: &ReportFilter,
        ctx: &ReportContext,
    ) -> Vec<OutboundCall> {
        let w = ctx.window(range);
        let mut out = Vec::new();
        for (linkedid, call) in self.in_window(w) {
            for (agent, ext) in &ctx.extensions {
                if !filter.agent_ok(agent) {
                    continue;
                }
                let Some(facts) = call.endpoints.get(ext) else {
                    continue;
                };
                let Some((_, dst)) = &facts.outbound else {
                    continue;
                };
                out.push(OutboundCall {
                    agent: agent.clone(),
                    linkedid: linkedid.clone(),
                    dst: dst.clone(),
                    start: call.start,
                    end: call.end,
                    answered: !facts.talks.is_empty(),
                    talk_secs: measure(&union(facts.talks.clone())),
                });
            }
        }
        out
    }
}

fn build_agent(agent: String, st: AgentState, outbound: Outbound, w: Window) -> AgentReport {
    let sessions: Vec<Session> = st
        .sessions
        .iter()
        .filter_map(|(s, e, queues, open, inferred)| {
            w.clip(*s, *e).map(|(start, end)| Session {
                start,
                end,
                open: *open,
                inferred: *inferred,
                queues: queues.iter().cloned().collect(),
            })
        })
        .collect();
    let mut by_reason: BTreeMap<String, PauseSummary> = BTreeMap::new();
    let mut paused_spans = Vec::new();
    for (s, e, reason, open) in &st.pauses {
        if let Some((start, end)) = w.clip(*s, *e) {
            paused_spans.push((start, end));
            let sum = by_reason
                .entry(reason.clone())
                .or_insert_with(|| PauseSummary {
                    reason: reason.clone(),
                    count: 0,
                    seconds: 0,
                    periods: Vec::new(),
                });
            sum.count += 1;
            sum.seconds += end.0 - start.0;
            sum.periods.push(PausePeriod {
                start,
                end,
                open: *open,
            });
        }
    }
    let logged_spans: Vec<_> = sessions.iter().map(|s| (s.start, s.end)).collect();
    let queue_talks: Vec<_> = st.talks.iter().filter_map(|t| w.clip(t.0, t.1)).collect();
    let outbound_talks: Vec<_> = outbound
        .talks
        .iter()
        .filter_map(|(s, e)| w.clip(*s, *e))
        .collect();
    let talk_spans: Vec<_> = queue_talks
        .iter()
        .chain(outbound_talks.iter())
        .copied()
        .collect();
    let logged = union(logged_spans);
    let busy = union(
        paused_spans
            .iter()
            .copied()
            .chain(talk_spans.iter().copied())
            .collect(),
    );
    let handled: Vec<i64> = st
        .talks
        .iter()
        .filter(|(s, _, open)| !open && w.contains(*s))
        .map(|(s, e, _)| e.0 - s.0)
        .collect();
    let direct: Vec<bool> = st
        .direct
        .iter()
        .filter(|(start, _)| {
            sessions
                .iter()
                .any(|s| s.start <= *start && *start <= s.end)
        })
        .map(|(_, answered)| *answered)
        .collect();
    AgentReport {
        agent,
        direct_inbound: direct.len() as u64,
        direct_inbound_answered: direct.iter().filter(|a| **a).count() as u64,
        logged_secs: measure(&logged),
        paused_secs: measure(&union(paused_spans)),
        available_secs: measure(&logged) - overlap(&logged, &busy),
        talking_secs: measure(&union(talk_spans)),
        sessions,
        pauses: by_reason.into_values().collect(),
        presented: st.presented,
        answered: st.answered,
        missed: st.missed,
        outbound: outbound.placed,
        outbound_answered: outbound.answered,
        aht_secs: mean(&handled),
        queue_talking_secs: measure(&union(queue_talks)),
        outbound_talking_secs: measure(&union(outbound_talks)),
        transferred: st.transferred,
        handled_secs: handled,
    }
}

/// One outbound call of an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundCall {
    /// The agent.
    pub agent: String,
    /// The call (`linkedid`).
    pub linkedid: UniqueId,
    /// The number dialed (the first outbound leg's `dst`).
    pub dst: String,
    /// The call's start.
    pub start: UnixTime,
    /// The call's end.
    pub end: UnixTime,
    /// Whether the far end answered.
    pub answered: bool,
    /// Talk seconds (answered legs, answer → end, whole).
    pub talk_secs: i64,
}

/// The outbound calls (same rule as [`agent_report`]'s) started in `range` by the agents of
/// `filter` with an extension in `ctx`, by start then agent.
pub fn outbound_calls(
    cdrs: &[CdrRecord],
    range: TimeRange,
    filter: &ReportFilter,
    ctx: &ReportContext,
) -> Vec<OutboundCall> {
    let mut tally = CallTally::new();
    tally.feed(cdrs, ctx);
    tally.outbound_calls(range, filter, ctx)
}

/// The calls placed while their agent was logged in: a session of the agent's report in
/// `reports` (e.g. a report filtered to one queue) covers the call's start.
pub fn during_sessions(calls: Vec<OutboundCall>, reports: &[AgentReport]) -> Vec<OutboundCall> {
    calls
        .into_iter()
        .filter(|c| {
            reports.iter().any(|r| {
                r.agent == c.agent
                    && r.sessions
                        .iter()
                        .any(|s| s.start <= c.start && c.start <= s.end)
            })
        })
        .collect()
}

/// Whether `dst` is an external (public) number: digits, optional leading `+`, at least
/// [`EXTERNAL_NUMBER_MIN_DIGITS`] digits.
pub fn is_external_number(dst: &str) -> bool {
    let digits = dst.strip_prefix('+').unwrap_or(dst);
    digits.len() >= EXTERNAL_NUMBER_MIN_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())
}

type Span = (UnixTime, UnixTime);

/// Sorted, disjoint spans covering the same instants.
fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut out: Vec<Span> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn measure(spans: &[Span]) -> i64 {
    spans.iter().map(|(s, e)| e.0 - s.0).sum()
}

/// Seconds shared by two sorted, disjoint span lists.
fn overlap(a: &[Span], b: &[Span]) -> i64 {
    let mut total = 0;
    for (s1, e1) in a {
        for (s2, e2) in b {
            let s = (*s1).max(*s2);
            let e = (*e1).min(*e2);
            if e > s {
                total += e.0 - s.0;
            }
        }
    }
    total
}

fn mean(values: &[i64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<i64>() as f64 / values.len() as f64)
    }
}

// ------------------------------------------------------------------ queue report

/// What one queue did in the interval.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueReport {
    /// The queue.
    pub queue: String,
    /// Callers who entered (`ENTERQUEUE`).
    pub offered: u64,
    /// Callers connected to an agent (`CONNECT`).
    pub answered: u64,
    /// Callers who hung up waiting (`ABANDON`).
    pub abandoned: u64,
    /// Callers who reached the queue's timeout (`EXITWITHTIMEOUT`).
    pub timeout: u64,
    /// Callers who left otherwise (`EXITEMPTY`, `EXITWITHKEY`).
    pub other_exits: u64,
    /// The service-level threshold used, if the queue has one.
    pub service_level_secs: Option<u32>,
    /// Answered with a wait ≤ the threshold (0 without a threshold).
    pub answered_within_sl: u64,
    /// `answered_within_sl` / (answered + abandoned + timeout) × 100; `None` without a
    /// threshold or without such calls.
    pub service_level_pct: Option<f64>,
    /// Mean wait of answered callers, in seconds.
    pub avg_wait_secs: Option<f64>,
    /// Mean talk (connect → end) of answered calls that ended, in seconds.
    pub avg_talk_secs: Option<f64>,
}

/// Per queue, what happened in `range`. Queues are those of the filter, or else every queue
/// with a record in the interval, sorted. The agent filter does not apply.
pub fn queue_report(
    records: &[QueueLogRecord],
    range: TimeRange,
    filter: &ReportFilter,
    ctx: &ReportContext,
) -> Vec<QueueReport> {
    let mut tally = QueueTally::new(filter);
    tally.feed(records, range, filter, ctx);
    tally.report(ctx)
}

/// A [`queue_report`] kept up to date: records fed in the order they were written, a batch at
/// a time; [`QueueTally::report`] at any point equals `queue_report` over every record fed.
/// It holds counters, the answered callers' waits counted per whole second (so the service
/// level is answered for whatever threshold the report's context gives) and the callers still
/// waiting or talking, never the records. Fed with every queue, [`QueueTally::report_for`]
/// answers any queue filter.
#[derive(Clone, Debug, Default)]
pub struct QueueTally {
    queues: BTreeMap<String, QueueAcc>,
}

#[derive(Clone, Debug, Default)]
struct QueueAcc {
    offered: u64,
    answered: u64,
    abandoned: u64,
    timeout: u64,
    other: u64,
    /// Answered callers per wait, in seconds.
    waits_at: BTreeMap<i64, u64>,
    wait_sum: i64,
    waits: u64,
    talk_sum: i64,
    talks: u64,
    /// Callers waiting: callid → `ENTERQUEUE` time.
    entered: BTreeMap<String, UnixTime>,
    /// Callers talking: callid → `CONNECT` time.
    connected: BTreeMap<String, UnixTime>,
}

impl QueueTally {
    /// An empty tally; the filter's queues are reported even without records.
    pub fn new(filter: &ReportFilter) -> Self {
        Self {
            queues: filter
                .queues
                .iter()
                .map(|q| (q.clone(), QueueAcc::default()))
                .collect(),
        }
    }

    /// Feeds `records` (those after the ones fed before, in order); only those in `range`
    /// (up to its effective end) count.
    pub fn feed(
        &mut self,
        records: &[QueueLogRecord],
        range: TimeRange,
        filter: &ReportFilter,
        ctx: &ReportContext,
    ) {
        let w = ctx.window(range);
        for r in records {
            // A call is counted by the events in the interval; one connected before it is not.
            if !w.contains(r.time) || r.queue == "NONE" || !filter.queue_ok(&r.queue) {
                continue;
            }
            let a = self.queues.entry(r.queue.clone()).or_default();
            match r.event {
                QueueEvent::EnterQueue => {
                    a.entered.insert(r.callid.clone(), r.time);
                    a.offered += 1;
                }
                QueueEvent::Connect => {
                    let entered = a.entered.remove(&r.callid);
                    a.connected.insert(r.callid.clone(), r.time);
                    a.answered += 1;
                    let wait = ctx
                        .details(r)
                        .holdtime()
                        .or_else(|| entered.map(|t| r.time.0 - t.0))
                        .unwrap_or(0);
                    a.wait_sum += wait;
                    a.waits += 1;
                    *a.waits_at.entry(wait).or_default() += 1;
                }
                QueueEvent::CompleteAgent
                | QueueEvent::CompleteCaller
                | QueueEvent::Transfer
                | QueueEvent::BlindTransfer
                | QueueEvent::AttendedTransfer => {
                    if let Some(start) = a.connected.remove(&r.callid) {
                        a.talk_sum += r.time.0 - start.0;
                        a.talks += 1;
                    }
                }
                QueueEvent::Abandon => {
                    a.entered.remove(&r.callid);
                    a.abandoned += 1;
                }
                QueueEvent::ExitWithTimeout => {
                    a.entered.remove(&r.callid);
                    a.timeout += 1;
                }
                QueueEvent::ExitEmpty | QueueEvent::ExitWithKey => {
                    a.entered.remove(&r.callid);
                    a.other += 1;
                }
                _ => {}
            }
        }
    }

    /// The report of what was fed, per queue, sorted; each queue's service level with its
    /// threshold in `ctx`.
    pub fn report(&self, ctx: &ReportContext) -> Vec<QueueReport> {
        self.queues
            .iter()
            .map(|(queue, a)| queue_figures(queue, a, ctx))
            .collect()
    }

    /// The report of `filter`'s queues (every queue fed when it names none), as
    /// [`queue_report`] with that filter gives it, provided every queue was fed.
    pub fn report_for(&self, filter: &ReportFilter, ctx: &ReportContext) -> Vec<QueueReport> {
        if filter.queues.is_empty() {
            return self.report(ctx);
        }
        let empty = QueueAcc::default();
        let wanted: BTreeSet<&String> = filter.queues.iter().collect();
        wanted
            .into_iter()
            .map(|q| queue_figures(q, self.queues.get(q).unwrap_or(&empty), ctx))
            .collect()
    }
}

fn queue_figures(queue: &str, a: &QueueAcc, ctx: &ReportContext) -> QueueReport {
    let mean = |sum: i64, n: u64| (n > 0).then(|| sum as f64 / n as f64);
    let threshold = ctx.service_levels.get(queue).copied();
    let within = threshold.map_or(0, |t| {
        a.waits_at
            .range(..=i64::from(t))
            .map(|(_, n)| n)
            .sum::<u64>()
    });
    let ended = a.answered + a.abandoned + a.timeout;
    QueueReport {
        service_level_pct: threshold
            .filter(|_| ended > 0)
            .map(|_| within as f64 * 100.0 / ended as f64),
        queue: queue.to_owned(),
        offered: a.offered,
        answered: a.answered,
        abandoned: a.abandoned,
        timeout: a.timeout,
        other_exits: a.other,
        service_level_secs: threshold,
        answered_within_sl: within,
        avg_wait_secs: mean(a.wait_sum, a.waits),
        avg_talk_secs: mean(a.talk_sum, a.talks),
    }
}

// ------------------------------------------------------------------ activity

/// One queue event, as written, with the agent resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueActivityEvent {
    /// When.
    pub time: UnixTime,
    /// The caller's unique id, or `NONE`/`MANAGER`/... for non-call events.
    pub callid: String,
    /// The queue (`NONE` for global events).
    pub queue: String,
    /// The agent, if the line names one (interfaces mapped to agents).
    pub agent: Option<String>,
    /// What happened.
    pub event: QueueEvent,
    /// The event's data fields, as the PBX wrote them.
    pub data: Vec<String>,
    /// What they mean.
    pub details: QueueDetails,
}

/// The queue events in `range`, in the order they were written. Global events (queue `NONE`,
/// e.g. `QUEUESTART`) pass the queue filter; with an agent filter only lines naming one of its
/// agents pass, and `QUEUESTART`.
pub fn queue_activity(
    records: &[QueueLogRecord],
    range: TimeRange,
    filter: &ReportFilter,
    ctx: &ReportContext,
) -> Vec<QueueActivityEvent> {
    let w = ctx.window(range);
    records
        .iter()
        .filter(|r| w.contains(r.time))
        .filter(|r| r.queue == "NONE" || filter.queue_ok(&r.queue))
        .filter_map(|r| {
            let agent = ctx.agent(&r.agent);
            let pass = r.event == QueueEvent::QueueStart
                || filter.agents.is_empty()
                || agent.as_deref().is_some_and(|a| filter.agent_ok(a));
            pass.then(|| QueueActivityEvent {
                time: r.time,
                callid: r.callid.clone(),
                queue: r.queue.clone(),
                agent,
                event: r.event.clone(),
                data: r.data.clone(),
                details: ctx.details(r),
            })
        })
        .collect()
}
