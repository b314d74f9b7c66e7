//! The CDR source: Asterisk's `master.db` (written by `cdr_sqlite3_custom`, see
//! `asterisk-config/cdr_sqlite3_custom.conf`), read-only, in `AcctId` order after a cursor.
//!
//! - The file is opened with `SQLITE_OPEN_READ_ONLY` and a busy timeout, so the engine never
//!   writes it and waits politely while Asterisk inserts. Each batch is one short read.
//! - Every column is text; each is mapped into [`CdrRecord`]. A bad value (e.g. a non-numeric
//!   `duration`) is logged and replaced by the best available value, never a panic and never a
//!   skipped row: the row still moves the cursor and keeps its ids.
//! - A missing file or a missing `cdr` table means "no CDR yet" (Asterisk creates both on its first
//!   CDR): an empty batch, logged once, not an error.
//! - If the file is replaced (another inode), the connection is reopened.
//!
//! FIXME: if a site moves master.db away, Asterisk starts again at `AcctId` 1 and rows below the
//! cursor are never read; detecting that needs a source fingerprint in the cursor.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Row};
use tracing::{info, warn};

use crate::core::{CdrRecord, ChannelName, Disposition, FileId, UniqueId, UnixTime};

/// How long a read waits for Asterisk's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The columns read, in order.
const COLUMNS: &str = "AcctId, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, \
    duration, billsec, disposition, amaflags, accountcode, uniqueid, linkedid, sequence, \
    peeraccount, userfield, start_epoch, answer_epoch, end_epoch, recordingfile, calldata";

/// Why a batch could not be read (the caller retries on its next poll).
#[derive(Debug, thiserror::Error)]
pub enum CdrSourceError {
    /// The file exists but could not be opened or queried.
    #[error("cannot read CDRs from {path}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

/// Reads Asterisk's CDR table in batches. Owns at most one read-only connection.
#[derive(Debug)]
pub struct CdrSource {
    path: PathBuf,
    conn: Option<(Connection, FileId)>,
    /// Whether "not there yet" was already logged (cleared once rows are seen).
    waiting_logged: bool,
}

impl CdrSource {
    /// A source reading `path` (Asterisk's `master.db`). Nothing is opened yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            conn: None,
            waiting_logged: false,
        }
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Up to `limit` CDRs with `AcctId > after`, in `AcctId` order. Empty if the file or the table
    /// does not exist yet.
    pub fn read_batch(
        &mut self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<CdrRecord>, CdrSourceError> {
        let Some(conn) = self.connection()? else {
            return Ok(Vec::new());
        };
        let sql = format!("SELECT {COLUMNS} FROM cdr WHERE AcctId > ?1 ORDER BY AcctId LIMIT ?2");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let result = conn.prepare_cached(&sql).and_then(|mut stmt| {
            stmt.query_map(rusqlite::params![after, limit], cdr_from_row)?
                .collect::<Result<Vec<_>, _>>()
        });
        match result {
            Ok(rows) => {
                if !rows.is_empty() {
                    self.waiting_logged = false;
                }
                Ok(rows)
            }
            Err(e) if is_missing_table(&e) => {
                self.log_waiting("its `cdr` table does not exist yet");
                // Asterisk may create it later; a fresh connection sees the new schema.
                self.conn = None;
                Ok(Vec::new())
            }
            Err(source) => {
                self.conn = None;
                Err(CdrSourceError::Sqlite {
                    path: self.path.clone(),
                    source,
                })
            }
        }
    }

    /// The open connection, (re)opened when needed; `None` if the file does not exist.
    fn connection(&mut self) -> Result<Option<&Connection>, CdrSourceError> {
        let id = match std::fs::metadata(&self.path) {
            Ok(m) => super::queue_log::file_id(&m),
            Err(_) => {
                self.conn = None;
                self.log_waiting("the file does not exist yet");
                return Ok(None);
            }
        };
        if self.conn.as_ref().is_some_and(|(_, open)| *open != id) {
            info!(path = %self.path.display(), "CDR database replaced: reopening");
            self.conn = None;
        }
        if self.conn.is_none() {
            let sqlite = |source| CdrSourceError::Sqlite {
                path: self.path.clone(),
                source,
            };
            let conn = Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(sqlite)?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
            self.conn = Some((conn, id));
        }
        Ok(self.conn.as_ref().map(|(c, _)| c))
    }

    fn log_waiting(&mut self, why: &str) {
        if !self.waiting_logged {
            info!(path = %self.path.display(), "no CDRs yet: {why}");
            self.waiting_logged = true;
        }
    }
}

fn is_missing_table(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.starts_with("no such table"))
}

/// Reads one row; every column is read as text whatever its storage class.
fn cdr_from_row(r: &Row<'_>) -> rusqlite::Result<CdrRecord> {
    let acct_id: i64 = r.get(0)?;
    let text = |i: usize| -> rusqlite::Result<String> {
        use rusqlite::types::ValueRef;
        Ok(match r.get_ref(i)? {
            ValueRef::Null => String::new(),
            ValueRef::Integer(n) => n.to_string(),
            ValueRef::Real(f) => f.to_string(),
            ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
        })
    };
    let raw = RawCdr {
        acct_id,
        clid: text(1)?,
        src: text(2)?,
        dst: text(3)?,
        dcontext: text(4)?,
        channel: text(5)?,
        dstchannel: text(6)?,
        lastapp: text(7)?,
        lastdata: text(8)?,
        duration: text(9)?,
        billsec: text(10)?,
        disposition: text(11)?,
        amaflags: text(12)?,
        accountcode: text(13)?,
        uniqueid: text(14)?,
        linkedid: text(15)?,
        sequence: text(16)?,
        peeraccount: text(17)?,
        userfield: text(18)?,
        start_epoch: text(19)?,
        answer_epoch: text(20)?,
        end_epoch: text(21)?,
        recordingfile: text(22)?,
        calldata: text(23)?,
    };
    Ok(raw.into_record())
}

/// One row of Asterisk's `cdr` table as text.
#[derive(Debug, Default)]
pub struct RawCdr {
    /// `AcctId`
    pub acct_id: i64,
    /// `clid`
    pub clid: String,
    /// `src`
    pub src: String,
    /// `dst`
    pub dst: String,
    /// `dcontext`
    pub dcontext: String,
    /// `channel`
    pub channel: String,
    /// `dstchannel`
    pub dstchannel: String,
    /// `lastapp`
    pub lastapp: String,
    /// `lastdata`
    pub lastdata: String,
    /// `duration` (seconds)
    pub duration: String,
    /// `billsec` (seconds)
    pub billsec: String,
    /// `disposition`
    pub disposition: String,
    /// `amaflags`
    pub amaflags: String,
    /// `accountcode`
    pub accountcode: String,
    /// `uniqueid`
    pub uniqueid: String,
    /// `linkedid`
    pub linkedid: String,
    /// `sequence`
    pub sequence: String,
    /// `peeraccount`
    pub peeraccount: String,
    /// `userfield`
    pub userfield: String,
    /// `start_epoch`
    pub start_epoch: String,
    /// `answer_epoch` (0 if never answered)
    pub answer_epoch: String,
    /// `end_epoch`
    pub end_epoch: String,
    /// `recordingfile`
    pub recordingfile: String,
    /// `calldata`
    pub calldata: String,
}

impl RawCdr {
    /// Maps the text into a record. Never fails: a bad number is logged and replaced (a bad
    /// duration by 0 or the span between the times, a bad start by the end or answer time, a bad
    /// answer by "never answered").
    pub fn into_record(self) -> CdrRecord {
        let id = self.acct_id;
        let int = |field: &str, value: &str| -> Option<i64> {
            let v = value.trim();
            match v.parse::<i64>() {
                Ok(n) => Some(n),
                // Some backends write `12.0`.
                Err(_) => match v.parse::<f64>() {
                    Ok(f) if f.is_finite() => Some(f as i64),
                    _ => {
                        warn!(acct_id = id, field, value, "CDR value is not a number");
                        None
                    }
                },
            }
        };
        let end = int("end_epoch", &self.end_epoch).map(UnixTime);
        let answer = int("answer_epoch", &self.answer_epoch)
            .filter(|&n| n > 0)
            .map(UnixTime);
        let start = int("start_epoch", &self.start_epoch).map(UnixTime);
        let start = start.or(answer).or(end).unwrap_or(UnixTime(0));
        let end = end.or(answer).unwrap_or(start);
        let secs = |field: &str, value: &str, fallback: i64| -> Duration {
            let n = int(field, value).unwrap_or(fallback);
            Duration::from_secs(u64::try_from(n).unwrap_or(0))
        };
        let duration = secs("duration", &self.duration, end.0 - start.0);
        let billsec = secs("billsec", &self.billsec, answer.map_or(0, |a| end.0 - a.0));
        let sequence = int("sequence", &self.sequence).unwrap_or(0);
        if self.uniqueid.is_empty() {
            warn!(acct_id = id, "CDR without uniqueid");
        }
        let linkedid = if self.linkedid.is_empty() {
            self.uniqueid.clone()
        } else {
            self.linkedid
        };
        CdrRecord {
            source_rowid: id,
            clid: self.clid,
            src: self.src,
            dst: self.dst,
            dcontext: self.dcontext,
            channel: ChannelName::new(self.channel),
            dstchannel: (!self.dstchannel.is_empty()).then(|| ChannelName::new(self.dstchannel)),
            lastapp: self.lastapp,
            lastdata: self.lastdata,
            duration,
            billsec,
            disposition: Disposition::parse(self.disposition.trim()),
            amaflags: self.amaflags,
            accountcode: self.accountcode,
            uniqueid: UniqueId::new(self.uniqueid),
            linkedid: UniqueId::new(linkedid),
            sequence,
            peeraccount: self.peeraccount,
            userfield: self.userfield,
            start,
            answer,
            end,
            recordingfile: self.recordingfile,
            calldata: self.calldata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    /// Asterisk's table, as `cdr_sqlite3_custom` creates it.
    const ASTERISK_SCHEMA: &str = "CREATE TABLE cdr (AcctId INTEGER PRIMARY KEY, clid,src,dst,\
        dcontext,channel,dstchannel,lastapp,lastdata,duration,billsec,disposition,amaflags,\
        accountcode,uniqueid,linkedid,sequence,peeraccount,userfield,start_epoch,answer_epoch,\
        end_epoch,recordingfile,calldata)";

    fn insert(c: &Connection, uniqueid: &str, duration: &str, start: &str, answer: &str) {
        c.execute(
            "INSERT INTO cdr (clid,src,dst,dcontext,channel,dstchannel,lastapp,lastdata,duration,\
             billsec,disposition,amaflags,accountcode,uniqueid,linkedid,sequence,peeraccount,\
             userfield,start_epoch,answer_epoch,end_epoch,recordingfile,calldata) VALUES \
             ('\"0977\" <0977>','0977','26001000','to-queue','PJSIP/carrier-00000001',\
             'PJSIP/1006-00000002','Queue','q_ventas,,,,3600',?2,'3','ANSWERED','DOCUMENTATION',\
             '',?1,?1,'7','','',?3,?4,'1795312700','20261122/x.wav','')",
            rusqlite::params![uniqueid, duration, start, answer],
        )
        .unwrap();
    }

    #[test]
    fn missing_file_then_missing_table_then_rows() {
        let dir = TempDir::new("cdr-source");
        let path = dir.path().join("master.db");
        let mut source = CdrSource::new(&path);
        assert!(source.read_batch(0, 10).unwrap().is_empty());
        assert!(!path.exists(), "a read-only source never creates the file");

        let writer = Connection::open(&path).unwrap();
        writer.execute_batch("CREATE TABLE other (x)").unwrap();
        assert!(source.read_batch(0, 10).unwrap().is_empty());

        writer.execute_batch(ASTERISK_SCHEMA).unwrap();
        insert(&writer, "pbx1-1.1", "10", "1795312690", "1795312697");
        insert(&writer, "pbx1-1.2", "20", "1795312680", "0");
        insert(&writer, "pbx1-1.3", "30", "1795312670", "1795312699");
        let all = source.read_batch(0, 10).unwrap();
        assert_eq!(
            all.iter().map(|c| c.source_rowid).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        let first = &all[0];
        assert_eq!(first.uniqueid.as_str(), "pbx1-1.1");
        assert_eq!(first.linkedid.as_str(), "pbx1-1.1");
        assert_eq!(first.sequence, 7);
        assert_eq!(first.start, UnixTime(1_795_312_690));
        assert_eq!(first.answer, Some(UnixTime(1_795_312_697)));
        assert_eq!(first.end, UnixTime(1_795_312_700));
        assert_eq!(first.duration, Duration::from_secs(10));
        assert_eq!(first.billsec, Duration::from_secs(3));
        assert_eq!(first.disposition, Disposition::Answered);
        assert_eq!(
            first.dstchannel.as_ref().map(ChannelName::as_str),
            Some("PJSIP/1006-00000002")
        );
        assert_eq!(all[1].answer, None, "answer_epoch 0 means never answered");

        // After a cursor, with a limit.
        let batch = source.read_batch(1, 1).unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].source_rowid, 2);
        assert!(source.read_batch(3, 10).unwrap().is_empty());
    }

    #[test]
    fn bad_values_are_kept_as_best_as_possible() {
        let dir = TempDir::new("cdr-bad");
        let path = dir.path().join("master.db");
        let writer = Connection::open(&path).unwrap();
        writer.execute_batch(ASTERISK_SCHEMA).unwrap();
        insert(&writer, "pbx1-2.1", "ten", "garbage", "1795312697");
        // Integers stored as integers (another backend) and NULLs are read as well.
        writer
            .execute(
                "INSERT INTO cdr (uniqueid, duration, start_epoch, end_epoch, disposition) \
                 VALUES ('pbx1-2.2', 5, 1795312600, 1795312605, NULL)",
                [],
            )
            .unwrap();
        let rows = CdrSource::new(&path).read_batch(0, 10).unwrap();
        assert_eq!(rows.len(), 2);
        let bad = &rows[0];
        assert_eq!(
            bad.start,
            UnixTime(1_795_312_697),
            "start falls back to answer"
        );
        assert_eq!(
            bad.duration,
            Duration::from_secs(3),
            "duration from the times"
        );
        let sparse = &rows[1];
        assert_eq!(sparse.uniqueid.as_str(), "pbx1-2.2");
        assert_eq!(sparse.duration, Duration::from_secs(5));
        assert_eq!(sparse.start, UnixTime(1_795_312_600));
        assert_eq!(sparse.answer, None);
        assert_eq!(sparse.sequence, 0);
        assert_eq!(sparse.disposition, Disposition::Other(String::new()));
        assert_eq!(sparse.linkedid.as_str(), "pbx1-2.2");
    }

    #[test]
    fn a_replaced_file_is_reopened() {
        let dir = TempDir::new("cdr-replaced");
        let path = dir.path().join("master.db");
        let w = Connection::open(&path).unwrap();
        w.execute_batch(ASTERISK_SCHEMA).unwrap();
        insert(&w, "old", "1", "1", "1");
        drop(w);
        let mut source = CdrSource::new(&path);
        assert_eq!(
            source.read_batch(0, 10).unwrap()[0].uniqueid.as_str(),
            "old"
        );

        let other = dir.path().join("new.db");
        let w = Connection::open(&other).unwrap();
        w.execute_batch(ASTERISK_SCHEMA).unwrap();
        insert(&w, "new", "1", "1", "1");
        drop(w);
        std::fs::rename(&other, &path).unwrap();
        assert_eq!(
            source.read_batch(0, 10).unwrap()[0].uniqueid.as_str(),
            "new"
        );
    }
}
