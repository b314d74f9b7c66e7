//! The journal of what happened on the PBX: call detail records (CDRs) and queue activity
//! (`queue_log`), as Asterisk reported them, and the port [`JournalStore`] that keeps them.
//!
//! Records enter the journal only together with the position their source has reached (a
//! [`SourceCursor`]), in one transaction: after a crash at any moment the engine resumes from the
//! last committed cursor, so nothing is lost and nothing is counted twice. Each record also carries
//! its own position in its source ([`CdrRecord::source_rowid`], [`QueueLogRecord::position`]) so a
//! store can refuse a second copy of the same source row as a second line of defence.
//!
//! **Architecture Invariant:** times are UTC instants ([`UnixTime`]); nothing here knows SQLite,
//! Asterisk's text formats or any wire format.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::ids::{ChannelName, UniqueId};
use crate::core::{off_runtime, PortError};

/// A UTC instant in whole seconds since the Unix epoch (what Asterisk's CDR `*_epoch` columns and
/// `queue_log` timestamps hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The earliest representable instant (an open lower bound for ranges).
    pub const MIN: UnixTime = UnixTime(i64::MIN);
    /// The latest representable instant (an open upper bound for ranges).
    pub const MAX: UnixTime = UnixTime(i64::MAX);

    /// Seconds since the epoch.
    pub fn seconds(self) -> i64 {
        self.0
    }

    /// The current time, truncated to whole seconds.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }
}

impl From<SystemTime> for UnixTime {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => UnixTime(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Err(e) => UnixTime(-i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX)),
        }
    }
}

impl From<UnixTime> for SystemTime {
    fn from(t: UnixTime) -> Self {
        if t.0 >= 0 {
            UNIX_EPOCH + Duration::from_secs(t.0.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(t.0.unsigned_abs())
        }
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

/// A half-open interval of instants `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub from: UnixTime,
    /// Exclusive upper bound.
    pub to: UnixTime,
}

impl TimeRange {
    /// `[from, to)`.
    pub fn new(from: UnixTime, to: UnixTime) -> Self {
        Self { from, to }
    }

    /// Every instant.
    pub fn all() -> Self {
        Self::new(UnixTime::MIN, UnixTime::MAX)
    }

    /// Whether `t` lies in the range.
    pub fn contains(&self, t: UnixTime) -> bool {
        self.from <= t && t < self.to
    }
}

/// How a CDR ended, as Asterisk's `disposition` column says; unknown values are kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// `ANSWERED`
    Answered,
    /// `NO ANSWER`
    NoAnswer,
    /// `BUSY`
    Busy,
    /// `FAILED`
    Failed,
    /// `CONGESTION`
    Congestion,
    /// Any other value, verbatim.
    Other(String),
}

impl Disposition {
    /// Asterisk's spelling (the inverse of [`Disposition::parse`]).
    pub fn as_str(&self) -> &str {
        match self {
            Disposition::Answered => "ANSWERED",
            Disposition::NoAnswer => "NO ANSWER",
            Disposition::Busy => "BUSY",
            Disposition::Failed => "FAILED",
            Disposition::Congestion => "CONGESTION",
            Disposition::Other(s) => s,
        }
    }

    /// Reads Asterisk's spelling; never fails.
    pub fn parse(s: &str) -> Self {
        match s {
            "ANSWERED" => Disposition::Answered,
            "NO ANSWER" => Disposition::NoAnswer,
            "BUSY" => Disposition::Busy,
            "FAILED" => Disposition::Failed,
            "CONGESTION" => Disposition::Congestion,
            other => Disposition::Other(other.to_owned()),
        }
    }
}

/// One call detail record: one leg of a call (Asterisk writes several per call, linked by
/// `linkedid` and ordered by `sequence`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CdrRecord {
    /// The row's id in its source (Asterisk's `AcctId`): the cursor of the CDR source.
    pub source_rowid: i64,
    /// Caller id as `"name" <number>`.
    pub clid: String,
    /// Caller number.
    pub src: String,
    /// Dialled extension.
    pub dst: String,
    /// Dialplan context of `dst`.
    pub dcontext: String,
    /// The leg's channel.
    pub channel: ChannelName,
    /// The bridged peer channel, if any.
    pub dstchannel: Option<ChannelName>,
    /// Last dialplan application.
    pub lastapp: String,
    /// Its arguments.
    pub lastdata: String,
    /// Start to end.
    pub duration: Duration,
    /// Answer to end (zero if never answered).
    pub billsec: Duration,
    /// How it ended.
    pub disposition: Disposition,
    /// AMA flags (`DOCUMENTATION`, `BILLING`, `OMIT`).
    pub amaflags: String,
    /// Account code.
    pub accountcode: String,
    /// The channel's unique id.
    pub uniqueid: UniqueId,
    /// The unique id of the call's first channel: all legs of one call share it.
    pub linkedid: UniqueId,
    /// Asterisk's CDR sequence number (orders legs).
    pub sequence: i64,
    /// The peer's account code.
    pub peeraccount: String,
    /// Free text set by the dialplan.
    pub userfield: String,
    /// When the leg began.
    pub start: UnixTime,
    /// When it was answered; `None` if never.
    pub answer: Option<UnixTime>,
    /// When it ended.
    pub end: UnixTime,
    /// Recording file (relative to the recordings directory), empty if none.
    pub recordingfile: String,
    /// Free `key=value` call data set by the engine's originates, empty if none.
    pub calldata: String,
}

/// Where a `queue_log` line sits: the file (by identity, not name, so rotation by renaming is
/// followed) and the byte offset of the line's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogPosition {
    /// The file.
    pub file: FileId,
    /// Byte offset in that file.
    pub offset: u64,
}

/// A file's identity on its host: device and inode numbers, and its birth time. Survives
/// renames. The birth time tells apart a new file that reuses a deleted file's inode (common after
/// a rotated log is deleted); it is 0 where the filesystem does not report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Birth time in nanoseconds since the Unix epoch; 0 if unknown.
    pub created_ns: u64,
}

/// A `queue_log` event name. Unknown names are kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QueueEvent {
    /// `ENTERQUEUE`: a caller entered the queue (data: url, caller id, position).
    EnterQueue,
    /// `CONNECT`: an agent answered (data: holdtime, bridged channel uniqueid, ringtime).
    Connect,
    /// `COMPLETEAGENT`: the agent hung up (data: holdtime, calltime, origposition).
    CompleteAgent,
    /// `COMPLETECALLER`: the caller hung up (data: holdtime, calltime, origposition).
    CompleteCaller,
    /// `ABANDON`: the caller gave up waiting (data: position, origposition, waittime).
    Abandon,
    /// `EXITWITHTIMEOUT`: the queue's timeout expired.
    ExitWithTimeout,
    /// `EXITWITHKEY`: the caller pressed a key to leave.
    ExitWithKey,
    /// `EXITEMPTY`: left because the queue had no members.
    ExitEmpty,
    /// `RINGNOANSWER`: a member rang without answering (data: ringtime ms).
    RingNoAnswer,
    /// `RINGCANCELED`: ringing a member was cancelled.
    RingCanceled,
    /// `ADDMEMBER`
    AddMember,
    /// `REMOVEMEMBER`
    RemoveMember,
    /// `PAUSE` (data: reason)
    Pause,
    /// `UNPAUSE`
    Unpause,
    /// `PAUSEALL`
    PauseAll,
    /// `UNPAUSEALL`
    UnpauseAll,
    /// `AGENTLOGIN`
    AgentLogin,
    /// `AGENTLOGOFF`
    AgentLogoff,
    /// `BLINDTRANSFER`
    BlindTransfer,
    /// `ATTENDEDTRANSFER`
    AttendedTransfer,
    /// `TRANSFER`
    Transfer,
    /// `QUEUESTART`: Asterisk's queue module started.
    QueueStart,
    /// `CONFIGRELOAD`
    ConfigReload,
    /// `SYSCOMPAT`
    SysCompat,
    /// Any other name, verbatim.
    Other(String),
}

const QUEUE_EVENTS: &[(QueueEvent, &str)] = &[
    (QueueEvent::EnterQueue, "ENTERQUEUE"),
    (QueueEvent::Connect, "CONNECT"),
    (QueueEvent::CompleteAgent, "COMPLETEAGENT"),
    (QueueEvent::CompleteCaller, "COMPLETECALLER"),
    (QueueEvent::Abandon, "ABANDON"),
    (QueueEvent::ExitWithTimeout, "EXITWITHTIMEOUT"),
    (QueueEvent::ExitWithKey, "EXITWITHKEY"),
    (QueueEvent::ExitEmpty, "EXITEMPTY"),
    (QueueEvent::RingNoAnswer, "RINGNOANSWER"),
    (QueueEvent::RingCanceled, "RINGCANCELED"),
    (QueueEvent::AddMember, "ADDMEMBER"),
    (QueueEvent::RemoveMember, "REMOVEMEMBER"),
    (QueueEvent::Pause, "PAUSE"),
    (QueueEvent::Unpause, "UNPAUSE"),
    (QueueEvent::PauseAll, "PAUSEALL"),
    (QueueEvent::UnpauseAll, "UNPAUSEALL"),
    (QueueEvent::AgentLogin, "AGENTLOGIN"),
    (QueueEvent::AgentLogoff, "AGENTLOGOFF"),
    (QueueEvent::BlindTransfer, "BLINDTRANSFER"),
    (QueueEvent::AttendedTransfer, "ATTENDEDTRANSFER"),
    (QueueEvent::Transfer, "TRANSFER"),
    (QueueEvent::QueueStart, "QUEUESTART"),
    (QueueEvent::ConfigReload, "CONFIGRELOAD"),
    (QueueEvent::SysCompat, "SYSCOMPAT"),
];

impl QueueEvent {
    /// Asterisk's spelling (the inverse of [`QueueEvent::parse`]).
    pub fn as_str(&self) -> &str {
        if let QueueEvent::Other(s) = self {
            return s;
        }
        QUEUE_EVENTS
            .iter()
            .find(|(e, _)| e == self)
            .map_or("", |(_, s)| s)
    }

    /// Reads Asterisk's spelling; never fails.
    pub fn parse(s: &str) -> Self {
        QUEUE_EVENTS
            .iter()
            .find(|(_, name)| *name == s)
            .map_or_else(|| QueueEvent::Other(s.to_owned()), |(e, _)| e.clone())
    }
}

/// One `queue_log` line: `time|callid|queue|agent|event|data1|data2|...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueLogRecord {
    /// Where the line sits in its file.
    pub position: LogPosition,
    /// When it happened.
    pub time: UnixTime,
    /// The caller channel's unique id, or `NONE` / `MANAGER` / ... for non-call events.
    pub callid: String,
    /// Queue name (`NONE` for global events).
    pub queue: String,
    /// Member name or interface (`NONE` when none).
    pub agent: String,
    /// What happened.
    pub event: QueueEvent,
    /// The event's data fields (may be empty; a trailing `|` gives one empty field).
    pub data: Vec<String>,
}

/// A stable name for one source of records (e.g. `cdr`, `queue_log`), under which its cursor is
/// kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(String);

impl SourceId {
    /// Wraps a name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How far a source has been read: everything before it is in the journal, nothing after it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceCursor {
    /// A table read in rowid order: the last rowid taken.
    Rowid(i64),
    /// An append-only text file: the file and the offset just after the last complete line taken.
    File(LogPosition),
}

/// What an append did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Records newly stored.
    pub inserted: u64,
    /// Records already present for the same source position, ignored (should stay zero: the
    /// cursor exists so that nothing is read twice).
    pub duplicates: u64,
}

/// The port to the journal's storage. Implementations must make each `append_*` atomic: either the
/// records and the new cursor are both stored, or neither is.
pub trait JournalStore {
    /// Stores CDRs read from `source` and sets its cursor to `cursor`, in one transaction.
    /// `records` may be empty (to move the cursor only).
    fn append_cdrs(
        &mut self,
        source: &SourceId,
        records: &[CdrRecord],
        cursor: SourceCursor,
    ) -> Result<AppendOutcome, PortError>;

    /// Stores `queue_log` records read from `source` and sets its cursor to `cursor`, in one
    /// transaction. `records` may be empty (e.g. only blank or malformed lines were consumed).
    fn append_queue_log(
        &mut self,
        source: &SourceId,
        records: &[QueueLogRecord],
        cursor: SourceCursor,
    ) -> Result<AppendOutcome, PortError>;

    /// The last committed cursor of `source`; `None` if it was never read.
    fn cursor(&self, source: &SourceId) -> Result<Option<SourceCursor>, PortError>;

    /// How many records of `source` were ever ignored as duplicates (see [`AppendOutcome`]).
    fn duplicates_ignored(&self, source: &SourceId) -> Result<u64, PortError>;

    /// Number of CDRs whose start lies in `range`.
    fn count_cdrs(&self, range: TimeRange) -> Result<u64, PortError>;

    /// CDRs whose start lies in `range`, by start time then source row.
    fn cdrs(&self, range: TimeRange) -> Result<Vec<CdrRecord>, PortError>;

    /// CDRs that started at or after `since` and ended in `ended`, by start time then source
    /// row: the legs written since a running figure last read (a leg is stored once it ended).
    fn cdrs_ended(&self, since: UnixTime, ended: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
        let mut records = self.cdrs(TimeRange::new(since, UnixTime::MAX))?;
        records.retain(|c| ended.contains(c.end));
        Ok(records)
    }

    /// The legs of one call: CDRs whose `uniqueid` or `linkedid` is `id`, by start time then
    /// source row.
    fn cdrs_of_call(&self, id: &str) -> Result<Vec<CdrRecord>, PortError> {
        let mut records = self.cdrs(TimeRange::all())?;
        records.retain(|c| c.uniqueid.as_str() == id || c.linkedid.as_str() == id);
        Ok(records)
    }

    /// Number of `queue_log` records whose time lies in `range`.
    fn count_queue_log(&self, range: TimeRange) -> Result<u64, PortError>;

    /// `queue_log` records whose time lies in `range`, in the order they were written.
    fn queue_log(&self, range: TimeRange) -> Result<Vec<QueueLogRecord>, PortError>;

    /// `queue_log` records whose time lies in `range`, in the order they were written, of the
    /// given queues and agent fields (an empty list means all). Global lines (queue `NONE`, e.g.
    /// `QUEUESTART`) pass the queue list and lines naming no agent (agent `NONE`, e.g.
    /// `ENTERQUEUE`) pass the agent list, so reports over the result see restarts and callers.
    /// Agent fields are matched verbatim: pass interfaces too where lines may carry them.
    fn queue_log_matching(
        &self,
        range: TimeRange,
        queues: &[String],
        agents: &[String],
    ) -> Result<Vec<QueueLogRecord>, PortError> {
        let mut records = self.queue_log(range)?;
        records.retain(|r| queue_log_matches(r, queues, agents));
        Ok(records)
    }

    /// The `queue_log` lines of one call (their `callid`), in the order they were written.
    fn queue_log_of_call(&self, callid: &str) -> Result<Vec<QueueLogRecord>, PortError> {
        let mut records = self.queue_log(TimeRange::all())?;
        records.retain(|r| r.callid == callid);
        Ok(records)
    }

    /// The `queue_log` lines before `before` that establish who is member, paused and talking
    /// then ([`state_records`](super::reports::state_records) of every earlier line), in the
    /// order they were written. Reports over `[from, to)` take these (with `before = from`) and
    /// the records of the interval instead of the whole history. Implementations answer it
    /// without reading the history.
    fn queue_log_state(&self, before: UnixTime) -> Result<Vec<QueueLogRecord>, PortError> {
        let earlier = self.queue_log(TimeRange::new(UnixTime::MIN, before))?;
        Ok(super::reports::state_records(&earlier))
    }
}

/// The reads reports and lookups make of the journal, shared by every facade. Implementations
/// serve concurrent callers side by side (the SQLite one from a pool of read-only connections
/// beside the ingestor's writer), so a long report never waits for, nor blocks, another
/// request. The methods block: call them from a blocking task. Each means what the
/// [`JournalStore`] method of the same name means.
pub trait JournalReader: Send + Sync {
    /// See [`JournalStore::cdrs`].
    fn cdrs(&self, range: TimeRange) -> Result<Vec<CdrRecord>, PortError>;
    /// See [`JournalStore::cdrs_ended`].
    fn cdrs_ended(&self, since: UnixTime, ended: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
        let mut records = self.cdrs(TimeRange::new(since, UnixTime::MAX))?;
        records.retain(|c| ended.contains(c.end));
        Ok(records)
    }
    /// See [`JournalStore::cdrs_of_call`].
    fn cdrs_of_call(&self, id: &str) -> Result<Vec<CdrRecord>, PortError>;
    /// See [`JournalStore::queue_log`].
    fn queue_log(&self, range: TimeRange) -> Result<Vec<QueueLogRecord>, PortError>;
    /// See [`JournalStore::queue_log_matching`].
    fn queue_log_matching(
        &self,
        range: TimeRange,
        queues: &[String],
        agents: &[String],
    ) -> Result<Vec<QueueLogRecord>, PortError>;
    /// See [`JournalStore::queue_log_state`].
    fn queue_log_state(&self, before: UnixTime) -> Result<Vec<QueueLogRecord>, PortError>;
    /// See [`JournalStore::queue_log_of_call`].
    fn queue_log_of_call(&self, callid: &str) -> Result<Vec<QueueLogRecord>, PortError> {
        let mut records = self.queue_log(TimeRange::all())?;
        records.retain(|r| r.callid == callid);
        Ok(records)
    }
}

/// The filter of [`JournalStore::queue_log_matching`].
pub fn queue_log_matches(r: &QueueLogRecord, queues: &[String], agents: &[String]) -> bool {
    (queues.is_empty() || r.queue == "NONE" || queues.contains(&r.queue))
        && (agents.is_empty() || r.agent == "NONE" || agents.contains(&r.agent))
}

/// The `queue_log` input of every report over `range`, for every facade: the state lines at its
/// start (who was logged in, paused or talking then, [`JournalReader::queue_log_state`]) and then
/// the interval's records, of `queues` and `agents` ([`queue_log_matches`]; empty: all). Without
/// the state lines an agent who logged in before the interval and is still logged in would count
/// no session and no logged time.
pub fn report_records(
    journal: &dyn JournalReader,
    range: TimeRange,
    queues: &[String],
    agents: &[String],
) -> Result<Vec<QueueLogRecord>, PortError> {
    let mut records = journal.queue_log_state(range.from)?;
    records.retain(|r| queue_log_matches(r, queues, agents));
    records.extend(journal.queue_log_matching(range, queues, agents)?);
    Ok(records)
}

/// The journal as the services and facades read it: async, each read on the blocking pool
/// (the reader serves concurrent reads side by side).
#[derive(Clone)]
pub struct Journal {
    reader: Arc<dyn JournalReader>,
}

impl Journal {
    /// The journal over `reader`.
    pub fn new(reader: Arc<dyn JournalReader>) -> Self {
        Self { reader }
    }

    /// CDRs that started in `range`, in start order.
    pub async fn cdrs(&self, range: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
        let reader = self.reader.clone();
        off_runtime(move || reader.cdrs(range)).await
    }

    /// CDRs that started at or after `since` and ended in `ended` ([`JournalStore::cdrs_ended`]).
    pub async fn cdrs_ended(
        &self,
        since: UnixTime,
        ended: TimeRange,
    ) -> Result<Vec<CdrRecord>, PortError> {
        let reader = self.reader.clone();
        off_runtime(move || reader.cdrs_ended(since, ended)).await
    }

    /// The CDRs of one call (its uniqueid or linkedid).
    pub async fn cdrs_of_call(&self, id: &str) -> Result<Vec<CdrRecord>, PortError> {
        let (reader, id) = (self.reader.clone(), id.to_owned());
        off_runtime(move || reader.cdrs_of_call(&id)).await
    }

    /// The queue_log records of `range`.
    pub async fn queue_log(&self, range: TimeRange) -> Result<Vec<QueueLogRecord>, PortError> {
        let reader = self.reader.clone();
        off_runtime(move || reader.queue_log(range)).await
    }

    /// The `queue_log` lines of one call.
    pub async fn queue_log_of_call(&self, callid: &str) -> Result<Vec<QueueLogRecord>, PortError> {
        let (reader, callid) = (self.reader.clone(), callid.to_owned());
        off_runtime(move || reader.queue_log_of_call(&callid)).await
    }

    /// The `queue_log` input of every report over `range` ([`report_records`]).
    pub async fn report_records(
        &self,
        range: TimeRange,
        queues: Vec<String>,
        agents: Vec<String>,
    ) -> Result<Vec<QueueLogRecord>, PortError> {
        let reader = self.reader.clone();
        off_runtime(move || report_records(&*reader, range, &queues, &agents)).await
    }

    /// Runs several reads of one request together on one blocking task.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn JournalReader) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, PortError> {
        let reader = self.reader.clone();
        off_runtime(move || f(&*reader)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_round_trips_and_keeps_unknown() {
        for s in [
            "ANSWERED",
            "NO ANSWER",
            "BUSY",
            "FAILED",
            "CONGESTION",
            "WEIRD",
        ] {
            assert_eq!(Disposition::parse(s).as_str(), s);
        }
        assert_eq!(
            Disposition::parse("nope"),
            Disposition::Other("nope".into())
        );
    }

    #[test]
    fn queue_event_round_trips_and_keeps_unknown() {
        for (event, name) in QUEUE_EVENTS {
            assert_eq!(QueueEvent::parse(name), *event);
            assert_eq!(event.as_str(), *name);
        }
        assert_eq!(QueueEvent::parse("NEWTHING").as_str(), "NEWTHING");
        // Case matters: Asterisk writes upper case; anything else is kept as is.
        assert_eq!(
            QueueEvent::parse("connect"),
            QueueEvent::Other("connect".into())
        );
    }

    #[test]
    fn unix_time_converts_both_ways() {
        let t = UnixTime(1_795_312_697);
        assert_eq!(UnixTime::from(SystemTime::from(t)), t);
        assert_eq!(UnixTime::from(SystemTime::from(UnixTime(-5))), UnixTime(-5));
        let r = TimeRange::new(UnixTime(10), UnixTime(20));
        assert!(r.contains(UnixTime(10)) && r.contains(UnixTime(19)));
        assert!(!r.contains(UnixTime(20)) && !r.contains(UnixTime(9)));
        assert!(TimeRange::all().contains(t));
    }
}
