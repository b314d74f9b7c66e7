//! The `queue_log` source: Asterisk's append-only text file of queue activity
//! (`/var/log/asterisk/queue_log`, one event per line: `time|callid|queue|agent|EVENT|data...`).
//!
//! - [`parse_line`] is a pure parser of one line.
//! - [`AsteriskQueueLog`] is the core's [`QueueLogLayout`] port: which data field of each event
//!   is the hold time, the talk time, the ring time, the pause reason (the layouts below, from
//!   Asterisk's queue_log documentation). Nothing else in the engine reads a field by index.
//! - [`QueueLogFollower`] reads the file after a cursor ([`LogPosition`]: the file's identity,
//!   device + inode + birth time, and a byte offset), in batches of complete lines. The birth time
//!   tells a new file that reuses the inode of a deleted one from the file the cursor was in.
//!
//! Behaviour of the follower:
//! - Only complete lines are taken: a trailing line without its `\n` is left for a later read, so
//!   a line Asterisk is still writing is never cut in two. The cursor always sits at a line start.
//! - Blank lines are skipped; a malformed line (fewer than five fields, a time that is not a
//!   number, invalid UTF-8 that leaves no fields) is logged and skipped. Both still advance the
//!   cursor.
//! - Rotation by renaming: once everything written to the current file has been read, the
//!   follower looks at the path. If it names another file (another inode), the old file, still
//!   open, is read to its end once more (a trailing unterminated line is then taken as complete:
//!   its writer has moved on) and the follower switches to the new file at offset 0. If nothing
//!   exists at the path yet, the follower keeps reading the old file (Asterisk writes to it until
//!   it reopens the log).
//! - Truncation in place (`copytruncate`): if the file at the path is the current one but shorter
//!   than the offset, the follower starts it again at offset 0.
//! - Restart from a saved cursor: if the path still names the cursor's file, reading resumes at
//!   the offset. If the file was rotated while the engine was down, the follower looks for it by
//!   identity in the same directory (e.g. `queue_log.1`, `queue_log-20261122`), finishes it, then
//!   follows the path. Only if it is gone (deleted or compressed) can its tail be missed; that is
//!   logged as a warning.
//! - Very long lines (over [`MAX_READ`] bytes without a newline) are skipped as malformed.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use crate::core::queue_details::{QueueDetails, QueueLogLayout};
use crate::core::{FileId, LogPosition, QueueEvent, QueueLogRecord, UnixTime};

/// Largest number of bytes read per batch; also the longest line accepted.
pub const MAX_READ: usize = 1 << 20;

/// Why a line is not a `queue_log` record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueLogParseError {
    /// The line is empty (or only whitespace).
    #[error("empty line")]
    Empty,
    /// Fewer than the five fields `time|callid|queue|agent|event`.
    #[error("{0} field(s), at least 5 expected")]
    TooFewFields(usize),
    /// The first field is not a whole number of seconds.
    #[error("time `{0}` is not a number")]
    BadTime(String),
}

/// Parses one line (without its `\n`; a trailing `\r` is ignored) found at `position`.
///
/// `data` holds the fields after the event name: none for `...|QUEUESTART`, one empty field for
/// `...|REMOVEMEMBER|`.
pub fn parse_line(line: &str, position: LogPosition) -> Result<QueueLogRecord, QueueLogParseError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return Err(QueueLogParseError::Empty);
    }
    let mut fields = line.split('|');
    let mut next = || fields.next();
    let (Some(time), Some(callid), Some(queue), Some(agent), Some(event)) =
        (next(), next(), next(), next(), next())
    else {
        return Err(QueueLogParseError::TooFewFields(line.split('|').count()));
    };
    let time = time
        .trim()
        .parse::<i64>()
        .map_err(|_| QueueLogParseError::BadTime(time.to_owned()))?;
    Ok(QueueLogRecord {
        position,
        time: UnixTime(time),
        callid: callid.to_owned(),
        queue: queue.to_owned(),
        agent: agent.to_owned(),
        event: QueueEvent::parse(event),
        data: fields.map(str::to_owned).collect(),
    })
}

/// Asterisk's layouts of the data fields, per event:
///
/// | event | fields |
/// |---|---|
/// | `ENTERQUEUE` | url, callerid, position |
/// | `CONNECT` | holdtime, bridged channel's uniqueid, ringtime |
/// | `RINGNOANSWER` | ringtime in milliseconds |
/// | `COMPLETECALLER`, `COMPLETEAGENT` | holdtime, calltime, original position |
/// | `TRANSFER`, `BLINDTRANSFER` | extension, context, holdtime, calltime, original position |
/// | `ATTENDEDTRANSFER` | method, method data (one or two fields: a bridge, an application, channels), holdtime, calltime, original position |
/// | `ABANDON` | position, original position, waittime |
/// | `PAUSE` | reason |
#[derive(Clone, Copy, Debug, Default)]
pub struct AsteriskQueueLog;

impl QueueLogLayout for AsteriskQueueLog {
    fn details(&self, event: &QueueEvent, data: &[String]) -> QueueDetails {
        let text = |i: usize| data.get(i).cloned().unwrap_or_default();
        let number = |i: usize| data.get(i).and_then(|v| v.trim().parse::<i64>().ok());
        match event {
            QueueEvent::EnterQueue => QueueDetails::EnterQueue { callerid: text(1) },
            QueueEvent::Connect => QueueDetails::Connect {
                holdtime: number(0),
                ringtime: number(2),
            },
            QueueEvent::RingNoAnswer => QueueDetails::RingNoAnswer { ring_ms: number(0) },
            QueueEvent::CompleteCaller | QueueEvent::CompleteAgent => QueueDetails::Complete {
                holdtime: number(0),
                talktime: number(1),
            },
            QueueEvent::Transfer | QueueEvent::BlindTransfer => QueueDetails::Transfer {
                destination: text(0),
                talktime: number(3),
            },
            // The method's data is one field or two: the calltime is second from the end.
            QueueEvent::AttendedTransfer => QueueDetails::Transfer {
                destination: text(1),
                talktime: data
                    .len()
                    .checked_sub(2)
                    .and_then(|i| data[i].trim().parse().ok()),
            },
            QueueEvent::Abandon => QueueDetails::Abandon {
                waittime: number(2),
            },
            QueueEvent::Pause => QueueDetails::Pause { reason: text(0) },
            _ => QueueDetails::None,
        }
    }
}

/// What one read produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueLogBatch {
    /// The records, in file order.
    pub records: Vec<QueueLogRecord>,
    /// Lines consumed but not returned (blank or malformed).
    pub skipped: usize,
    /// The cursor after this batch; `None` while no file has been found.
    pub cursor: Option<LogPosition>,
}

struct OpenLog {
    file: File,
    id: FileId,
    offset: u64,
}

/// Follows `queue_log` across appends, rotations and restarts. See the module documentation.
pub struct QueueLogFollower {
    path: PathBuf,
    current: Option<OpenLog>,
    /// The saved cursor to resume from, until a file is open.
    resume: Option<LogPosition>,
    waiting_logged: bool,
}

impl std::fmt::Debug for QueueLogFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueLogFollower")
            .field("path", &self.path)
            .field("position", &self.position())
            .finish()
    }
}

impl QueueLogFollower {
    /// A follower of `path` that resumes after `cursor` (or starts at the beginning of the file
    /// when `None`). Nothing is opened yet.
    pub fn new(path: impl Into<PathBuf>, cursor: Option<LogPosition>) -> Self {
        Self {
            path: path.into(),
            current: None,
            resume: cursor,
            waiting_logged: false,
        }
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current cursor, if any.
    pub fn position(&self) -> Option<LogPosition> {
        match &self.current {
            Some(c) => Some(LogPosition {
                file: c.id,
                offset: c.offset,
            }),
            None => self.resume,
        }
    }

    /// Reads up to `max_lines` complete lines after the cursor and moves the cursor past them.
    /// An empty batch whose cursor differs from the previous one means the follower switched
    /// files (rotation or truncation); the caller should persist that cursor too.
    pub fn read_batch(&mut self, max_lines: usize) -> io::Result<QueueLogBatch> {
        let max_lines = max_lines.max(1);
        if self.current.is_none() {
            self.open_initial()?;
        }
        let Some(current) = self.current.as_mut() else {
            return Ok(QueueLogBatch {
                cursor: self.resume,
                ..QueueLogBatch::default()
            });
        };
        let batch = read_lines(current, max_lines, false)?;
        if !batch.records.is_empty() || batch.skipped > 0 {
            return Ok(batch);
        }
        // Everything complete has been read: has the file been rotated or truncated?
        let at_path = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            // Renamed away and not recreated yet: Asterisk still writes to the old file.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(batch),
            Err(e) => return Err(e),
        };
        if file_id(&at_path) == current.id {
            if at_path.len() < current.offset {
                warn!(
                    path = %self.path.display(),
                    offset = current.offset,
                    len = at_path.len(),
                    "queue_log shrank (truncated in place): reading it again from the start"
                );
                current.offset = 0;
                return Ok(QueueLogBatch {
                    cursor: Some(position(current)),
                    ..QueueLogBatch::default()
                });
            }
            return Ok(batch);
        }
        // Rotated: finish the old file, taking a trailing unterminated line as complete.
        let tail = read_lines(current, max_lines, true)?;
        if !tail.records.is_empty() || tail.skipped > 0 {
            return Ok(tail);
        }
        match open(&self.path)? {
            Some(new) => {
                info!(path = %self.path.display(), "queue_log rotated: following the new file");
                self.current = Some(new);
                Ok(QueueLogBatch {
                    cursor: self.position(),
                    ..QueueLogBatch::default()
                })
            }
            None => Ok(batch),
        }
    }

    /// Opens the file to resume from (see the module documentation).
    fn open_initial(&mut self) -> io::Result<()> {
        let Some(resume) = self.resume else {
            self.current = open(&self.path)?;
            self.log_waiting();
            return Ok(());
        };
        if let Some(mut log) = open(&self.path)? {
            if log.id == resume.file {
                let len = log.file.metadata()?.len();
                if len < resume.offset {
                    warn!(
                        path = %self.path.display(),
                        offset = resume.offset,
                        len,
                        "queue_log is shorter than the saved cursor (truncated): reading it from the start"
                    );
                } else {
                    log.offset = resume.offset;
                }
                self.current = Some(log);
                return Ok(());
            }
            // The path names another file: ours was rotated while we were down.
            match find_by_id(&self.path, resume.file)? {
                Some((file, found)) => {
                    info!(
                        rotated = %found.display(),
                        "resuming queue_log in its rotated file, then following the new one"
                    );
                    self.current = Some(OpenLog {
                        file,
                        id: resume.file,
                        offset: resume.offset,
                    });
                }
                None => {
                    warn!(
                        path = %self.path.display(),
                        offset = resume.offset,
                        "the queue_log file of the saved cursor is gone: lines written to it after \
                         the cursor may be missing; starting the current file at offset 0"
                    );
                    self.current = Some(log);
                }
            }
            return Ok(());
        }
        // Nothing at the path: maybe only the rotated file exists.
        if let Some((file, _)) = find_by_id(&self.path, resume.file)? {
            self.current = Some(OpenLog {
                file,
                id: resume.file,
                offset: resume.offset,
            });
        }
        self.log_waiting();
        Ok(())
    }

    fn log_waiting(&mut self) {
        if self.current.is_none() && !self.waiting_logged {
            info!(path = %self.path.display(), "no queue_log yet: the file does not exist");
            self.waiting_logged = true;
        }
    }
}

/// A file's identity from its metadata: device, inode and birth time (0 where the filesystem
/// does not report one).
pub fn file_id(m: &std::fs::Metadata) -> FileId {
    let created_ns = m
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    FileId {
        dev: m.dev(),
        ino: m.ino(),
        created_ns,
    }
}

fn position(log: &OpenLog) -> LogPosition {
    LogPosition {
        file: log.id,
        offset: log.offset,
    }
}

/// Opens `path` at offset 0; `None` if it does not exist.
fn open(path: &Path) -> io::Result<Option<OpenLog>> {
    match File::open(path) {
        Ok(file) => {
            let id = file_id(&file.metadata()?);
            Ok(Some(OpenLog {
                file,
                id,
                offset: 0,
            }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Looks in `path`'s directory for a regular file with identity `id`.
fn find_by_id(path: &Path, id: FileId) -> io::Result<Option<(File, PathBuf)>> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        let candidate = entry.path();
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if meta.is_file() && file_id(&meta) == id {
            let file = File::open(&candidate)?;
            // Check again on the open file: the name may have changed hands meanwhile.
            if file_id(&file.metadata()?) == id {
                return Ok(Some((file, candidate)));
            }
        }
    }
    Ok(None)
}

/// Reads up to `max_lines` complete lines from `log` at its offset and advances it. With `last`,
/// a trailing unterminated line at end of file counts as complete.
fn read_lines(log: &mut OpenLog, max_lines: usize, last: bool) -> io::Result<QueueLogBatch> {
    let mut buf = vec![0u8; MAX_READ];
    let mut filled = 0;
    while filled < buf.len() {
        let n = log
            .file
            .read_at(&mut buf[filled..], log.offset + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let buf = &buf[..filled];

    let mut batch = QueueLogBatch::default();
    let mut consumed = 0usize;
    let mut lines = 0usize;
    while lines < max_lines && consumed < buf.len() {
        let rest = &buf[consumed..];
        let (line, advance) = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => (&rest[..nl], nl + 1),
            None if last || rest.len() == MAX_READ => (rest, rest.len()),
            None => break, // a partial line: wait for its newline
        };
        let at = LogPosition {
            file: log.id,
            offset: log.offset + consumed as u64,
        };
        if advance == MAX_READ && line.len() == MAX_READ {
            warn!(
                offset = at.offset,
                "queue_log line longer than {MAX_READ} bytes: skipped"
            );
            batch.skipped += 1;
        } else {
            let text = String::from_utf8_lossy(line);
            match parse_line(&text, at) {
                Ok(record) => batch.records.push(record),
                Err(QueueLogParseError::Empty) => batch.skipped += 1,
                Err(error) => {
                    warn!(offset = at.offset, %error, line = %text, "malformed queue_log line skipped");
                    batch.skipped += 1;
                }
            }
        }
        consumed += advance;
        lines += 1;
    }
    log.offset += consumed as u64;
    batch.cursor = Some(position(log));
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::test_support::TempDir;

    const AT: LogPosition = LogPosition {
        file: FileId {
            dev: 1,
            ino: 2,
            created_ns: 3,
        },
        offset: 3,
    };

    /// `check(line, expected)`: the expected value is `time callid queue agent EVENT [data,...]`
    /// or the error's text.
    fn check(line: &str, expected: &str) {
        let got = match parse_line(line, AT) {
            Ok(r) => {
                assert_eq!(r.position, AT);
                format!(
                    "{} {} {} {} {} {:?}",
                    r.time.0,
                    r.callid,
                    r.queue,
                    r.agent,
                    r.event.as_str(),
                    r.data
                )
            }
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected, "line {line:?}");
    }

    #[test]
    fn parses_lines() {
        let cases = [
            (
                "1795312697|pbx1-1795312696.6|q_ventas|1004|CONNECT|1|pbx1-1795312696.7|1",
                r#"1795312697 pbx1-1795312696.6 q_ventas 1004 CONNECT ["1", "pbx1-1795312696.7", "1"]"#,
            ),
            (
                "1795312696|pbx1-1795312696.6|q_ventas|NONE|ENTERQUEUE||0977000001|1",
                r#"1795312696 pbx1-1795312696.6 q_ventas NONE ENTERQUEUE ["", "0977000001", "1"]"#,
            ),
            (
                "1795313174|MANAGER|q_soporte|1008|REMOVEMEMBER|",
                r#"1795313174 MANAGER q_soporte 1008 REMOVEMEMBER [""]"#,
            ),
            (
                "1795313216|NONE|NONE|NONE|QUEUESTART",
                "1795313216 NONE NONE NONE QUEUESTART []",
            ),
            (
                "1795313216|NONE|NONE|NONE|QUEUESTART\r",
                "1795313216 NONE NONE NONE QUEUESTART []",
            ),
            (
                "1|c|q|PJSIP/1001|PAUSE|Almuerzo|extra",
                r#"1 c q PJSIP/1001 PAUSE ["Almuerzo", "extra"]"#,
            ),
            ("1|c|q|a|NEWEVENT|x", r#"1 c q a NEWEVENT ["x"]"#),
            ("", "empty line"),
            ("   ", "empty line"),
            ("1|c|q|a", "4 field(s), at least 5 expected"),
            ("garbage", "1 field(s), at least 5 expected"),
            ("abc|c|q|a|CONNECT", "time `abc` is not a number"),
            ("1.5|c|q|a|CONNECT", "time `1.5` is not a number"),
        ];
        for (line, expected) in cases {
            check(line, expected);
        }
    }

    struct Log {
        _dir: TempDir,
        path: PathBuf,
    }

    impl Log {
        fn new(tag: &str) -> Self {
            let dir = TempDir::new(tag);
            let path = dir.path().join("queue_log");
            Self { _dir: dir, path }
        }

        fn append(&self, text: &str) {
            append(&self.path, text);
        }

        fn rotate(&self, to: &str) -> PathBuf {
            let rotated = self.path.with_file_name(to);
            std::fs::rename(&self.path, &rotated).unwrap();
            rotated
        }
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn line(n: u32) -> String {
        format!(
            "{}|call-{n}|q_ventas|1006|CONNECT|1|x|{n}\n",
            1_795_312_000 + n
        )
    }

    /// Reads until nothing changes; returns the call ids in order and the final cursor.
    fn drain(f: &mut QueueLogFollower, max_lines: usize) -> (Vec<String>, Option<LogPosition>) {
        let mut ids = Vec::new();
        for _ in 0..1000 {
            let before = f.position();
            let b = f.read_batch(max_lines).unwrap();
            ids.extend(b.records.into_iter().map(|r| r.callid));
            if b.cursor == before && b.skipped == 0 {
                return (ids, f.position());
            }
        }
        panic!("the follower never settled");
    }

    fn calls(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
        range.map(|n| format!("call-{n}")).collect()
    }

    #[test]
    fn waits_for_the_file_then_takes_only_complete_lines() {
        let log = Log::new("qlog-partial");
        let mut f = QueueLogFollower::new(&log.path, None);
        let b = f.read_batch(10).unwrap();
        assert_eq!(
            b,
            QueueLogBatch::default(),
            "no file yet: nothing, no cursor"
        );

        log.append(&line(1));
        log.append("1795312002|call-2|q_ventas|10");
        let b = f.read_batch(10).unwrap();
        assert_eq!(b.records.len(), 1);
        assert_eq!(b.records[0].position.offset, 0);
        let after_first = line(1).len() as u64;
        assert_eq!(b.cursor.unwrap().offset, after_first);
        assert!(
            f.read_batch(10).unwrap().records.is_empty(),
            "partial line waits"
        );

        log.append("06|CONNECT|1|x|2\n");
        let b = f.read_batch(10).unwrap();
        assert_eq!(b.records.len(), 1);
        assert_eq!(b.records[0].callid, "call-2");
        assert_eq!(b.records[0].agent, "1006");
        assert_eq!(b.records[0].position.offset, after_first);
        assert_eq!(
            b.cursor.unwrap().offset,
            std::fs::metadata(&log.path).unwrap().len()
        );
    }

    #[test]
    fn batches_skip_bad_lines_and_respect_the_limit() {
        let log = Log::new("qlog-batch");
        for n in 1..=5 {
            log.append(&line(n));
            if n == 2 {
                log.append("\nnot a record\n");
            }
        }
        let mut f = QueueLogFollower::new(&log.path, None);
        let b = f.read_batch(3).unwrap();
        assert_eq!(b.records.len(), 2);
        assert_eq!(b.skipped, 1, "the blank line");
        let b = f.read_batch(3).unwrap();
        assert_eq!(b.records.len(), 2);
        assert_eq!(b.skipped, 1, "the malformed line");
        let (rest, _) = drain(&mut f, 3);
        assert_eq!(rest, calls(5..=5));
    }

    #[test]
    fn follows_a_rotation_by_renaming_without_loss() {
        let log = Log::new("qlog-rotate");
        log.append(&line(1));
        let mut f = QueueLogFollower::new(&log.path, None);
        let (mut seen, _) = drain(&mut f, 2);

        // Renamed; Asterisk still writes to the old file until it reopens the log.
        log.append(&line(2));
        let old = log.rotate("queue_log.1");
        append(&old, &line(3));
        seen.extend(drain(&mut f, 2).0);
        // Reopened: new file at the path; the old one gets a last line, unterminated.
        log.append(&line(5));
        append(&old, "1795312004|call-4|q_ventas|1006|CONNECT|1|x|4");
        log.append(&line(6));
        let (more, cursor) = drain(&mut f, 2);
        seen.extend(more);
        assert_eq!(seen, calls(1..=6), "old file finished, then the new one");
        let new_id = file_id(&std::fs::metadata(&log.path).unwrap());
        assert_eq!(
            cursor,
            Some(LogPosition {
                file: new_id,
                offset: (line(5).len() + line(6).len()) as u64
            })
        );
    }

    #[test]
    fn restarts_from_a_saved_cursor_even_after_a_rotation_while_down() {
        let log = Log::new("qlog-restart");
        log.append(&line(1));
        log.append(&line(2));
        let mut f = QueueLogFollower::new(&log.path, None);
        let (seen, cursor) = drain(&mut f, 10);
        assert_eq!(seen, calls(1..=2));
        drop(f);

        // Same file, more lines: resume at the offset.
        log.append(&line(3));
        let mut f = QueueLogFollower::new(&log.path, cursor);
        let (seen, cursor) = drain(&mut f, 10);
        assert_eq!(seen, calls(3..=3));
        drop(f);

        // Down while the file got more lines and was rotated: finish it by identity, then the new.
        log.append(&line(4));
        log.rotate("queue_log-20261122");
        log.append(&line(5));
        let mut f = QueueLogFollower::new(&log.path, cursor);
        let (seen, cursor) = drain(&mut f, 10);
        assert_eq!(seen, calls(4..=5));
        drop(f);

        // Down while the old file was rotated and deleted: the new file from its start.
        log.append(&line(6));
        let gone = log.rotate("queue_log.old");
        std::fs::remove_file(gone).unwrap();
        log.append(&line(7));
        let mut f = QueueLogFollower::new(&log.path, cursor);
        assert_eq!(
            drain(&mut f, 10).0,
            calls(7..=7),
            "line 6 is lost with its file"
        );
    }

    #[test]
    fn a_truncated_file_is_read_again_from_the_start() {
        let log = Log::new("qlog-truncate");
        log.append(&line(1));
        log.append(&line(2));
        let mut f = QueueLogFollower::new(&log.path, None);
        let (_, cursor) = drain(&mut f, 10);
        // copytruncate: same inode, emptied, then written again.
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&log.path)
            .unwrap();
        log.append(&line(3));
        assert_eq!(drain(&mut f, 10).0, calls(3..=3));
        // Same on restart with a cursor beyond the end.
        let mut f = QueueLogFollower::new(&log.path, cursor);
        assert_eq!(drain(&mut f, 10).0, calls(3..=3));
    }

    #[test]
    fn the_layout_reads_each_events_fields() {
        let d = |line: &str| {
            let r = parse_line(line, AT).unwrap();
            AsteriskQueueLog.details(&r.event, &r.data)
        };
        assert_eq!(
            d("1|c1|q|NONE|ENTERQUEUE||0981000001|1"),
            QueueDetails::EnterQueue {
                callerid: "0981000001".into()
            }
        );
        assert_eq!(
            d("1|c1|q|2005|CONNECT|12|c1b|3"),
            QueueDetails::Connect {
                holdtime: Some(12),
                ringtime: Some(3)
            }
        );
        assert_eq!(
            d("1|c1|q|2005|RINGNOANSWER|15000"),
            QueueDetails::RingNoAnswer {
                ring_ms: Some(15000)
            }
        );
        assert_eq!(
            d("1|c1|q|2005|COMPLETECALLER|12|40|1"),
            QueueDetails::Complete {
                holdtime: Some(12),
                talktime: Some(40)
            }
        );
        assert_eq!(
            d("1|c1|q|2005|BLINDTRANSFER|1006|phones|12|40|1"),
            QueueDetails::Transfer {
                destination: "1006".into(),
                talktime: Some(40)
            }
        );
        assert_eq!(
            d("1|c1|q|2005|ATTENDEDTRANSFER|LINK|PJSIP/1006-1|PJSIP/1007-2|12|40|1"),
            QueueDetails::Transfer {
                destination: "PJSIP/1006-1".into(),
                talktime: Some(40)
            }
        );
        assert_eq!(
            d("1|c1|q|NONE|ABANDON|1|1|25"),
            QueueDetails::Abandon { waittime: Some(25) }
        );
        assert_eq!(
            d("1|NONE|q|2005|PAUSE|almuerzo"),
            QueueDetails::Pause {
                reason: "almuerzo".into()
            }
        );
        assert_eq!(
            d("1|NONE|q|2005|PAUSE"),
            QueueDetails::Pause {
                reason: String::new()
            }
        );
        assert_eq!(
            d("1|c1|q|2005|CONNECT|x"),
            QueueDetails::Connect {
                holdtime: None,
                ringtime: None
            }
        );
        assert_eq!(d("1|NONE|NONE|NONE|QUEUESTART|"), QueueDetails::None);
    }
}
