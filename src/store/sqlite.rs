//! [`SqliteJournal`]: the journal port on one SQLite file.
//!
//! Durability: WAL mode with `synchronous=FULL`, so a committed append survives a crash of the
//! engine, of the OS or a power cut. Each append is one `BEGIN IMMEDIATE` transaction holding the
//! records and the source's new cursor; a crash before `COMMIT` leaves neither.
//!
//! Defence in depth: `cdr(source, source_rowid)` and `queue_log(source, file_dev, file_ino,
//! file_created_ns, byte_offset)` are UNIQUE and inserts use `INSERT OR IGNORE`, so re-reading a source row can
//! never store it twice; each ignored row is counted in `source_cursor.duplicates_ignored` (in the
//! same transaction) so that it is visible, since it means a cursor was not honoured.

use crate::core::PortError;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use crate::core::{
    AppendOutcome, CdrRecord, ChannelName, Disposition, FileId, JournalStore, LogPosition,
    QueueEvent, QueueLogRecord, SourceCursor, SourceId, TimeRange, UniqueId, UnixTime,
};

use crate::core::reports;

use super::connection::{open_connection, schema_version, OpenMode};
use super::error::StoreError;

/// The journal in one SQLite file. Not `Sync`: one owner (the ingestor) appends; readers (reports,
/// health) open their own connection, which WAL lets run beside the writer.
#[derive(Debug)]
pub struct SqliteJournal {
    conn: Connection,
}

impl SqliteJournal {
    /// Opens (creating if needed) the store at `path`, switches it to WAL with
    /// `synchronous=FULL` and applies pending migrations. Re-opening is idempotent.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_connection(path, OpenMode::Migrate)?;
        Ok(Self { conn })
    }

    /// Opens an existing store for reading only (reports, tests, health checks); appends fail.
    /// Fails with [`StoreError::SchemaTooNew`] if the file is newer than this engine.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let conn = open_connection(path, OpenMode::ReadOnly)?;
        Ok(Self { conn })
    }

    /// A journal over an open connection (the read pool's query-only ones).
    pub(crate) fn from_connection(conn: Connection) -> Self {
        Self { conn }
    }

    /// Its connection.
    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The file's schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        schema_version(&self.conn)
    }

    fn write_cursor(
        tx: &rusqlite::Transaction<'_>,
        source: &SourceId,
        cursor: SourceCursor,
        duplicates: u64,
    ) -> Result<(), rusqlite::Error> {
        let (kind, rowid, dev, ino, created, offset) = match cursor {
            SourceCursor::Rowid(r) => ("rowid", Some(r), None, None, None, None),
            SourceCursor::File(p) => (
                "file",
                None,
                Some(to_sql_u64(p.file.dev)),
                Some(to_sql_u64(p.file.ino)),
                Some(to_sql_u64(p.file.created_ns)),
                Some(to_sql_u64(p.offset)),
            ),
        };
        tx.execute(
            "INSERT INTO source_cursor \
               (source, kind, last_rowid, file_dev, file_ino, file_created_ns, byte_offset, \
                duplicates_ignored, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (source) DO UPDATE SET kind = excluded.kind, \
               last_rowid = excluded.last_rowid, file_dev = excluded.file_dev, \
               file_ino = excluded.file_ino, file_created_ns = excluded.file_created_ns, \
               byte_offset = excluded.byte_offset, \
               duplicates_ignored = duplicates_ignored + excluded.duplicates_ignored, \
               updated_at = excluded.updated_at",
            params![
                source.as_str(),
                kind,
                rowid,
                dev,
                ino,
                created,
                offset,
                to_sql_u64(duplicates),
                UnixTime::now().seconds(),
            ],
        )?;
        Ok(())
    }

    /// Runs `insert_all` and records `cursor` for `source` in one immediate transaction: the
    /// batch and the position it reached are committed together or not at all.
    fn append_with_cursor(
        &mut self,
        source: &SourceId,
        cursor: SourceCursor,
        insert_all: impl FnOnce(
            &rusqlite::Transaction<'_>,
            &mut AppendOutcome,
        ) -> Result<(), StoreError>,
    ) -> Result<AppendOutcome, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcome = AppendOutcome::default();
        insert_all(&tx, &mut outcome)?;
        Self::write_cursor(&tx, source, cursor, outcome.duplicates)?;
        tx.commit()?;
        Ok(outcome)
    }
}

impl JournalStore for SqliteJournal {
    fn append_cdrs(
        &mut self,
        source: &SourceId,
        records: &[CdrRecord],
        cursor: SourceCursor,
    ) -> Result<AppendOutcome, PortError> {
        Ok(self.append_with_cursor(source, cursor, |tx, outcome| {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO cdr (source, source_rowid, start_epoch, answer_epoch, \
                   end_epoch, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, \
                   duration, billsec, disposition, amaflags, accountcode, uniqueid, linkedid, \
                   sequence, peeraccount, userfield, recordingfile, calldata) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                   ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
            )?;
            for r in records {
                let n = insert.execute(params![
                    source.as_str(),
                    r.source_rowid,
                    r.start.seconds(),
                    r.answer.map(UnixTime::seconds),
                    r.end.seconds(),
                    r.clid,
                    r.src,
                    r.dst,
                    r.dcontext,
                    r.channel.as_str(),
                    r.dstchannel.as_ref().map(ChannelName::as_str),
                    r.lastapp,
                    r.lastdata,
                    to_sql_u64(r.duration.as_secs()),
                    to_sql_u64(r.billsec.as_secs()),
                    r.disposition.as_str(),
                    r.amaflags,
                    r.accountcode,
                    r.uniqueid.as_str(),
                    r.linkedid.as_str(),
                    r.sequence,
                    r.peeraccount,
                    r.userfield,
                    r.recordingfile,
                    r.calldata,
                ])?;
                count(outcome, n);
            }
            Ok(())
        })?)
    }

    fn append_queue_log(
        &mut self,
        source: &SourceId,
        records: &[QueueLogRecord],
        cursor: SourceCursor,
    ) -> Result<AppendOutcome, PortError> {
        Ok(self.append_with_cursor(source, cursor, |tx, outcome| {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO queue_log (source, file_dev, file_ino, file_created_ns, \
                   byte_offset, time_epoch, callid, queue, agent, event, data) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for r in records {
                let data = (!r.data.is_empty()).then(|| r.data.join("|"));
                let n = insert.execute(params![
                    source.as_str(),
                    to_sql_u64(r.position.file.dev),
                    to_sql_u64(r.position.file.ino),
                    to_sql_u64(r.position.file.created_ns),
                    to_sql_u64(r.position.offset),
                    r.time.seconds(),
                    r.callid,
                    r.queue,
                    r.agent,
                    r.event.as_str(),
                    data,
                ])?;
                count(outcome, n);
            }
            Ok(())
        })?)
    }

    fn cursor(&self, source: &SourceId) -> Result<Option<SourceCursor>, PortError> {
        type Raw = (
            String,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let raw: Option<Raw> = self
            .conn
            .query_row(
                "SELECT kind, last_rowid, file_dev, file_ino, file_created_ns, byte_offset \
                 FROM source_cursor WHERE source = ?1",
                [source.as_str()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        match raw {
            None => Ok(None),
            Some((kind, Some(rowid), ..)) if kind == "rowid" => {
                Ok(Some(SourceCursor::Rowid(rowid)))
            }
            Some((kind, _, Some(dev), Some(ino), Some(created), Some(offset)))
                if kind == "file" =>
            {
                Ok(Some(SourceCursor::File(LogPosition {
                    file: FileId {
                        dev: from_sql_u64(dev),
                        ino: from_sql_u64(ino),
                        created_ns: from_sql_u64(created),
                    },
                    offset: from_sql_u64(offset),
                })))
            }
            Some((kind, ..)) => Err(PortError::from(StoreError::Corrupt(format!(
                "cursor of source `{source}` has kind `{kind}` without its values"
            )))),
        }
    }

    fn duplicates_ignored(&self, source: &SourceId) -> Result<u64, PortError> {
        let n: Option<i64> = self
            .conn
            .query_row(
                "SELECT duplicates_ignored FROM source_cursor WHERE source = ?1",
                [source.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(n.map_or(0, from_sql_u64))
    }

    fn count_cdrs(&self, range: TimeRange) -> Result<u64, PortError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM cdr WHERE start_epoch >= ?1 AND start_epoch < ?2",
            [range.from.seconds(), range.to.seconds()],
            |r| r.get(0),
        )?;
        Ok(from_sql_u64(n))
    }

    fn cdrs(&self, range: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT source_rowid, clid, src, dst, dcontext, channel, dstchannel, lastapp, \
               lastdata, duration, billsec, disposition, amaflags, accountcode, uniqueid, \
               linkedid, sequence, peeraccount, userfield, start_epoch, answer_epoch, end_epoch, \
               recordingfile, calldata \
             FROM cdr WHERE start_epoch >= ?1 AND start_epoch < ?2 \
             ORDER BY start_epoch, source, source_rowid",
        )?;
        let rows = stmt.query_map([range.from.seconds(), range.to.seconds()], cdr_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn cdrs_ended(&self, since: UnixTime, ended: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
        // By the end index (`+` keeps the start index out): the few legs ended lately.
        let mut stmt = self.conn.prepare_cached(
            "SELECT source_rowid, clid, src, dst, dcontext, channel, dstchannel, lastapp, \
               lastdata, duration, billsec, disposition, amaflags, accountcode, uniqueid, \
               linkedid, sequence, peeraccount, userfield, start_epoch, answer_epoch, end_epoch, \
               recordingfile, calldata \
             FROM cdr WHERE end_epoch >= ?1 AND end_epoch < ?2 AND +start_epoch >= ?3 \
             ORDER BY start_epoch, source, source_rowid",
        )?;
        let rows = stmt.query_map(
            [ended.from.seconds(), ended.to.seconds(), since.seconds()],
            cdr_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn cdrs_of_call(&self, id: &str) -> Result<Vec<CdrRecord>, PortError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT source_rowid, clid, src, dst, dcontext, channel, dstchannel, lastapp, \
               lastdata, duration, billsec, disposition, amaflags, accountcode, uniqueid, \
               linkedid, sequence, peeraccount, userfield, start_epoch, answer_epoch, end_epoch, \
               recordingfile, calldata \
             FROM cdr WHERE uniqueid = ?1 OR linkedid = ?1 \
             ORDER BY start_epoch, source, source_rowid",
        )?;
        let rows = stmt.query_map([id], cdr_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count_queue_log(&self, range: TimeRange) -> Result<u64, PortError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM queue_log WHERE time_epoch >= ?1 AND time_epoch < ?2",
            [range.from.seconds(), range.to.seconds()],
            |r| r.get(0),
        )?;
        Ok(from_sql_u64(n))
    }

    fn queue_log(&self, range: TimeRange) -> Result<Vec<QueueLogRecord>, PortError> {
        self.queue_log_matching(range, &[], &[])
    }

    fn queue_log_matching(
        &self,
        range: TimeRange,
        queues: &[String],
        agents: &[String],
    ) -> Result<Vec<QueueLogRecord>, PortError> {
        // Placeholders ?3.. for the queues, then the agents; global lines always pass.
        let list = |first: usize, n: usize| -> String {
            (first..first + n)
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut sql = String::from(
            "SELECT file_dev, file_ino, file_created_ns, byte_offset, time_epoch, callid, queue, \
               agent, event, data FROM queue_log WHERE time_epoch >= ?1 AND time_epoch < ?2",
        );
        if !queues.is_empty() {
            sql += &format!(
                " AND (queue = 'NONE' OR queue IN ({}))",
                list(3, queues.len())
            );
        }
        if !agents.is_empty() {
            sql += &format!(
                " AND (agent = 'NONE' OR agent IN ({}))",
                list(3 + queues.len(), agents.len())
            );
        }
        sql += " ORDER BY time_epoch, id";
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut args: Vec<rusqlite::types::Value> =
            vec![range.from.seconds().into(), range.to.seconds().into()];
        args.extend(queues.iter().chain(agents).map(|v| v.clone().into()));
        let rows = stmt.query_map(rusqlite::params_from_iter(args), qlog_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One index seek (`queue_log_callid`).
    fn queue_log_of_call(&self, callid: &str) -> Result<Vec<QueueLogRecord>, PortError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT file_dev, file_ino, file_created_ns, byte_offset, time_epoch, callid, queue, \
               agent, event, data FROM queue_log WHERE callid = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([callid], qlog_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The same lines as the port's definition, found with index seeks per member
    /// (`queue_log_member_event_time`, `queue_log_callid`): the cost grows with the number of
    /// members ever seen, not with the history.
    fn queue_log_state(&self, before: UnixTime) -> Result<Vec<QueueLogRecord>, PortError> {
        let t = before.seconds();
        // Every (agent, queue) pair, one index seek each.
        let mut members: Vec<(String, String)> = Vec::new();
        {
            let mut first = self.conn.prepare_cached(
                "SELECT agent, queue FROM queue_log ORDER BY agent, queue LIMIT 1",
            )?;
            // Two plain seeks (a row-value `>` would walk the agent's lines).
            let mut next_queue = self.conn.prepare_cached(
                "SELECT agent, queue FROM queue_log WHERE agent = ?1 AND queue > ?2 \
                 ORDER BY agent, queue LIMIT 1",
            )?;
            let mut next_agent = self.conn.prepare_cached(
                "SELECT agent, queue FROM queue_log WHERE agent > ?1 ORDER BY agent, queue LIMIT 1",
            )?;
            let pair = |r: &Row<'_>| Ok((r.get(0)?, r.get(1)?));
            let mut key: Option<(String, String)> = first.query_row([], pair).optional()?;
            while let Some(k) = key {
                key = match next_queue.query_row(params![k.0, k.1], pair).optional()? {
                    Some(n) => Some(n),
                    None => next_agent.query_row([&k.0], pair).optional()?,
                };
                members.push(k);
            }
        }
        type Pos = (i64, i64);
        let mut last_line = self.conn.prepare_cached(
            "SELECT time_epoch, id, callid FROM queue_log INDEXED BY queue_log_member_event_time \
             WHERE agent = ?1 AND queue = ?2 AND event = ?3 AND (time_epoch, id) < (?4, ?5) \
             ORDER BY time_epoch DESC, id DESC LIMIT 1",
        )?;
        let mut keep: Vec<Pos> = Vec::new();
        let mut last_start: Option<Pos> = None;
        for (agent, queue) in &members {
            for event in &reports::STATE_EVENTS {
                let found: Option<Pos> = last_line
                    .query_row(params![agent, queue, event.as_str(), t, i64::MIN], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                if let Some(p) = found {
                    keep.push(p);
                    if *event == QueueEvent::QueueStart {
                        last_start = last_start.max(Some(p));
                    }
                }
            }
        }
        let ends = reports::CALL_END_EVENTS
            .iter()
            .map(|e| format!("'{}'", e.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut end_of = self.conn.prepare_cached(&format!(
            "SELECT time_epoch, id FROM queue_log INDEXED BY queue_log_callid \
             WHERE callid = ?1 AND agent = ?2 AND queue = ?3 AND event IN ({ends}) \
             AND (time_epoch, id) > (?4, ?5) AND time_epoch < ?6 \
             ORDER BY time_epoch, id LIMIT 1"
        ))?;
        for (agent, queue) in &members {
            let mut cursor: Pos = (t, i64::MIN);
            loop {
                let connect: Option<(i64, i64, String)> = last_line
                    .query_row(
                        params![
                            agent,
                            queue,
                            QueueEvent::Connect.as_str(),
                            cursor.0,
                            cursor.1
                        ],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let Some((time, id, callid)) = connect else {
                    break;
                };
                keep.push((time, id));
                let end: Option<Pos> = end_of
                    .query_row(params![callid, agent, queue, time, id, t], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                if let Some(e) = end {
                    keep.push(e);
                    break;
                }
                if last_start.is_some_and(|q| (time, id) < q) {
                    break;
                }
                cursor = (time, id);
            }
        }
        keep.sort_unstable();
        keep.dedup();
        let mut line = self.conn.prepare_cached(
            "SELECT file_dev, file_ino, file_created_ns, byte_offset, time_epoch, callid, queue, \
               agent, event, data FROM queue_log WHERE id = ?1",
        )?;
        keep.into_iter()
            .map(|(_, id)| Ok(line.query_row([id], qlog_from_row)?))
            .collect()
    }
}

fn qlog_from_row(r: &Row<'_>) -> rusqlite::Result<QueueLogRecord> {
    let data: Option<String> = r.get(9)?;
    Ok(QueueLogRecord {
        position: LogPosition {
            file: FileId {
                dev: from_sql_u64(r.get(0)?),
                ino: from_sql_u64(r.get(1)?),
                created_ns: from_sql_u64(r.get(2)?),
            },
            offset: from_sql_u64(r.get(3)?),
        },
        time: UnixTime(r.get(4)?),
        callid: r.get(5)?,
        queue: r.get(6)?,
        agent: r.get(7)?,
        event: QueueEvent::parse(&r.get::<_, String>(8)?),
        data: data.map_or_else(Vec::new, |d| d.split('|').map(str::to_owned).collect()),
    })
}

pub(crate) fn cdr_from_row(r: &Row<'_>) -> rusqlite::Result<CdrRecord> {
    let dstchannel: Option<String> = r.get(6)?;
    let answer: Option<i64> = r.get(20)?;
    Ok(CdrRecord {
        source_rowid: r.get(0)?,
        clid: r.get(1)?,
        src: r.get(2)?,
        dst: r.get(3)?,
        dcontext: r.get(4)?,
        channel: ChannelName::new(r.get::<_, String>(5)?),
        dstchannel: dstchannel.map(ChannelName::new),
        lastapp: r.get(7)?,
        lastdata: r.get(8)?,
        duration: Duration::from_secs(from_sql_u64(r.get(9)?)),
        billsec: Duration::from_secs(from_sql_u64(r.get(10)?)),
        disposition: Disposition::parse(&r.get::<_, String>(11)?),
        amaflags: r.get(12)?,
        accountcode: r.get(13)?,
        uniqueid: UniqueId::new(r.get::<_, String>(14)?),
        linkedid: UniqueId::new(r.get::<_, String>(15)?),
        sequence: r.get(16)?,
        peeraccount: r.get(17)?,
        userfield: r.get(18)?,
        start: UnixTime(r.get(19)?),
        answer: answer.map(UnixTime),
        end: UnixTime(r.get(21)?),
        recordingfile: r.get(22)?,
        calldata: r.get(23)?,
    })
}

fn count(outcome: &mut AppendOutcome, changed: usize) {
    if changed == 0 {
        outcome.duplicates += 1;
    } else {
        outcome.inserted += 1;
    }
}

/// Stores an unsigned value bit-for-bit in SQLite's signed integer.
fn to_sql_u64(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// The inverse of [`to_sql_u64`].
fn from_sql_u64(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::migrations::latest_version;
    use crate::test_support::TempDir;

    pub(crate) fn cdr(rowid: i64, start: i64) -> CdrRecord {
        CdrRecord {
            source_rowid: rowid,
            clid: "\"Agente 1\" <1001>".into(),
            src: "1001".into(),
            dst: "5551000".into(),
            dcontext: "outbound".into(),
            channel: ChannelName::new(format!("PJSIP/1001-{rowid:08x}")),
            dstchannel: (rowid % 2 == 0).then(|| ChannelName::new("PJSIP/carrier-1")),
            lastapp: "Dial".into(),
            lastdata: "PJSIP/5551000@carrier,30".into(),
            duration: Duration::from_secs(12),
            billsec: Duration::from_secs(10),
            disposition: if rowid % 3 == 0 {
                Disposition::Other("WEIRD".into())
            } else {
                Disposition::Answered
            },
            amaflags: "DOCUMENTATION".into(),
            accountcode: String::new(),
            uniqueid: UniqueId::new(format!("pbx1-{start}.{rowid}")),
            linkedid: UniqueId::new(format!("pbx1-{start}.{rowid}")),
            sequence: rowid + 100,
            peeraccount: String::new(),
            userfield: String::new(),
            start: UnixTime(start),
            answer: (rowid % 2 == 0).then_some(UnixTime(start + 2)),
            end: UnixTime(start + 12),
            recordingfile: format!("20261122/{rowid}.wav"),
            calldata: "k=v".into(),
        }
    }

    fn qlog(offset: u64, time: i64, data: &[&str]) -> QueueLogRecord {
        QueueLogRecord {
            position: LogPosition {
                file: FileId {
                    dev: u64::MAX - 1,
                    ino: 42,
                    created_ns: 1_795_312_000_123_456_789,
                },
                offset,
            },
            time: UnixTime(time),
            callid: "pbx1-1.1".into(),
            queue: "q_ventas".into(),
            agent: "1004".into(),
            event: QueueEvent::Connect,
            data: data.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn cdr_source() -> SourceId {
        SourceId::new("cdr")
    }

    #[test]
    fn migrates_an_empty_file_and_reopens_idempotently() {
        let dir = TempDir::new("store-migrate");
        let path = dir.path().join("j.db");
        {
            let s = SqliteJournal::open(&path).unwrap();
            assert_eq!(s.schema_version().unwrap(), latest_version());
            let mode: String = s
                .conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
            let sync: i64 = s
                .conn
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap();
            assert_eq!(sync, 2, "synchronous=FULL");
        }
        let mut s = SqliteJournal::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), latest_version());
        s.append_cdrs(&cdr_source(), &[cdr(1, 100)], SourceCursor::Rowid(1))
            .unwrap();
        drop(s);
        let s = SqliteJournal::open(&path).unwrap();
        assert_eq!(s.count_cdrs(TimeRange::all()).unwrap(), 1);
        let indexes: Vec<String> = s
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            indexes,
            [
                "call_disposition_guid",
                "campaign_call_created",
                "cdr_end",
                "cdr_linkedid",
                "cdr_start",
                "cdr_uniqueid",
                "dialer_contact_by_added",
                "dialer_contact_by_change",
                "dialer_contact_by_id",
                "dialer_contact_by_name",
                "dialer_contact_callback_due",
                "dialer_contact_claim",
                "dialer_contact_zone",
                "dialer_evidence_ledger",
                "dialer_schedule_contact",
                "dialer_schedule_date",
                "dialer_schedule_due",
                "dialer_schedule_expiry",
                "dialer_schedule_open",
                "dialer_upload_by_name",
                "dialer_upload_finished",
                "dialer_upload_unfinished",
                "engine_action_at",
                "hangup_cause_at",
                "ivr_event_by_flow",
                "ivr_event_by_time",
                "ivr_route_by_flow",
                "queue_log_callid",
                "queue_log_member_event_time",
                "queue_log_queue_time",
                "queue_log_time",
                "recording_created",
                "recording_guid",
                "recording_idcti",
                "recording_linkedid",
                "recording_uniqueid",
                "webhook_outbox_pending"
            ]
        );
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = TempDir::new("store-newer");
        let path = dir.path().join("j.db");
        drop(SqliteJournal::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(c);
        assert!(matches!(
            SqliteJournal::open(&path),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
        assert!(matches!(
            SqliteJournal::open_read_only(&path),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }

    #[test]
    fn records_round_trip_and_range_queries_filter_by_time() {
        let dir = TempDir::new("store-roundtrip");
        let mut s = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
        let cdrs: Vec<_> = (1..=6).map(|i| cdr(i, 1000 + i * 10)).collect();
        let out = s
            .append_cdrs(&cdr_source(), &cdrs, SourceCursor::Rowid(6))
            .unwrap();
        assert_eq!(
            out,
            AppendOutcome {
                inserted: 6,
                duplicates: 0
            }
        );
        assert_eq!(s.cdrs(TimeRange::all()).unwrap(), cdrs);
        let r = TimeRange::new(UnixTime(1020), UnixTime(1050));
        assert_eq!(s.count_cdrs(r).unwrap(), 3);
        let got: Vec<i64> = s.cdrs(r).unwrap().iter().map(|c| c.source_rowid).collect();
        assert_eq!(got, [2, 3, 4]);
        // By end (start + 12): started at 1030 or later, ended in [1040, 1062).
        let ended = TimeRange::new(UnixTime(1040), UnixTime(1062));
        let got: Vec<i64> = s
            .cdrs_ended(UnixTime(1030), ended)
            .unwrap()
            .iter()
            .map(|c| c.source_rowid)
            .collect();
        assert_eq!(got, [3, 4]);

        let src = SourceId::new("queue_log");
        let q = vec![
            qlog(0, 500, &[]),
            qlog(40, 501, &[""]),
            qlog(80, 502, &["1", "pbx1-1.2", "1"]),
        ];
        let pos = LogPosition {
            file: q[0].position.file,
            offset: 120,
        };
        s.append_queue_log(&src, &q, SourceCursor::File(pos))
            .unwrap();
        assert_eq!(s.queue_log(TimeRange::all()).unwrap(), q);
        assert_eq!(
            s.count_queue_log(TimeRange::new(UnixTime(501), UnixTime(600)))
                .unwrap(),
            2
        );
        assert_eq!(s.cursor(&src).unwrap(), Some(SourceCursor::File(pos)));
        assert_eq!(s.cursor(&SourceId::new("nope")).unwrap(), None);
    }

    #[test]
    fn queue_log_state_in_sql_equals_the_ports_definition() {
        // A pseudo-random history: members joining, leaving, pausing, calls connected and
        // ended (some never), restarts, several lines in the same second.
        let dir = TempDir::new("store-qlog-state");
        let mut s = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let agents = ["2001", "2002", "2003", "PJSIP/1004"];
        let queues = ["q_ventas", "q_soporte"];
        let mut q = Vec::new();
        let mut time = 1_000;
        let mut open: Vec<(String, &str, &str)> = Vec::new();
        for i in 0..3_000u64 {
            time += i64::try_from(next(3)).unwrap();
            let agent = agents[usize::try_from(next(4)).unwrap()];
            let queue = queues[usize::try_from(next(2)).unwrap()];
            let (callid, queue, agent, event) = match next(20) {
                0 => ("NONE".to_owned(), "NONE", "NONE", QueueEvent::QueueStart),
                1..=3 => ("MANAGER".to_owned(), queue, agent, QueueEvent::AddMember),
                4..=5 => ("MANAGER".to_owned(), queue, agent, QueueEvent::RemoveMember),
                6..=7 => ("NONE".to_owned(), queue, agent, QueueEvent::Pause),
                8..=9 => ("NONE".to_owned(), queue, agent, QueueEvent::Unpause),
                10 => ("NONE".to_owned(), queue, agent, QueueEvent::RingNoAnswer),
                11..=13 => {
                    let callid = format!("c{i}");
                    open.push((callid.clone(), queue, agent));
                    (callid, queue, agent, QueueEvent::Connect)
                }
                14..=17 if !open.is_empty() => {
                    let k = usize::try_from(next(open.len() as u64)).unwrap();
                    let (callid, queue, agent) = open.swap_remove(k);
                    let event = [
                        QueueEvent::CompleteAgent,
                        QueueEvent::CompleteCaller,
                        QueueEvent::BlindTransfer,
                    ][usize::try_from(next(3)).unwrap()]
                    .clone();
                    (callid, queue, agent, event)
                }
                _ => (format!("c{i}"), queue, "NONE", QueueEvent::EnterQueue),
            };
            q.push(QueueLogRecord {
                callid,
                queue: queue.into(),
                agent: agent.into(),
                event,
                ..qlog(i * 100, time, &["x"])
            });
        }
        let pos = LogPosition {
            file: q[0].position.file,
            offset: 3_000 * 100,
        };
        s.append_queue_log(&SourceId::new("queue_log"), &q, SourceCursor::File(pos))
            .unwrap();
        let mut checked = 0;
        for t in (900..time + 2).step_by(37) {
            let sql = s.queue_log_state(UnixTime(t)).unwrap();
            let earlier = s
                .queue_log(TimeRange::new(UnixTime::MIN, UnixTime(t)))
                .unwrap();
            assert_eq!(sql, crate::core::reports::state_records(&earlier), "at {t}");
            checked += usize::from(!sql.is_empty());
        }
        assert!(checked > 50, "{checked} instants with state");
    }

    #[test]
    fn queue_log_matching_filters_queues_and_agents_and_keeps_global_lines() {
        let dir = TempDir::new("store-qlog-matching");
        let mut s = SqliteJournal::open(&dir.path().join("j.db")).unwrap();
        let line = |offset: u64, time: i64, queue: &str, agent: &str| QueueLogRecord {
            queue: queue.into(),
            agent: agent.into(),
            ..qlog(offset, time, &[])
        };
        let q = vec![
            line(0, 100, "NONE", "NONE"),
            line(10, 101, "q_ventas", "2005"),
            line(20, 102, "q_soporte", "2005"),
            line(30, 103, "q_ventas", "NONE"),
            line(40, 104, "q_ventas", "PJSIP/1006"),
            line(50, 105, "q_ventas", "2007"),
        ];
        let pos = LogPosition {
            file: q[0].position.file,
            offset: 60,
        };
        s.append_queue_log(&SourceId::new("queue_log"), &q, SourceCursor::File(pos))
            .unwrap();
        let offsets = |queues: &[&str], agents: &[&str], range: TimeRange| -> Vec<u64> {
            let queues: Vec<String> = queues.iter().map(|x| (*x).to_owned()).collect();
            let agents: Vec<String> = agents.iter().map(|x| (*x).to_owned()).collect();
            let got = s.queue_log_matching(range, &queues, &agents).unwrap();
            // The port's default (in-memory) filter agrees with the SQL.
            let mut want = s.queue_log(range).unwrap();
            want.retain(|r| crate::core::journal::queue_log_matches(r, &queues, &agents));
            assert_eq!(got, want);
            got.iter().map(|r| r.position.offset).collect()
        };
        let all = TimeRange::all();
        assert_eq!(offsets(&[], &[], all), [0, 10, 20, 30, 40, 50]);
        assert_eq!(offsets(&["q_ventas"], &[], all), [0, 10, 30, 40, 50]);
        assert_eq!(
            offsets(&[], &["2005", "PJSIP/1006"], all),
            [0, 10, 20, 30, 40]
        );
        assert_eq!(offsets(&["q_ventas"], &["2005"], all), [0, 10, 30]);
        let late = TimeRange::new(UnixTime(101), UnixTime(104));
        assert_eq!(
            offsets(&["q_ventas", "q_soporte"], &["2005"], late),
            [10, 20, 30]
        );
    }

    #[test]
    fn a_batch_and_its_cursor_commit_together_or_not_at_all() {
        let dir = TempDir::new("store-atomic");
        let path = dir.path().join("j.db");
        let src = cdr_source();
        let all: Vec<_> = (1..=10).map(|i| cdr(i, 2000 + i)).collect();

        let mut s = SqliteJournal::open(&path).unwrap();
        s.append_cdrs(&src, &all[..4], SourceCursor::Rowid(4))
            .unwrap();
        // A crash in the middle of the next batch: take an image of the files (database and
        // WAL) while its transaction is open, as a power cut would leave them.
        let crashed = dir.path().join("crashed.db");
        {
            let tx = s
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            for r in &all[4..7] {
                tx.execute(
                    "INSERT INTO cdr (source, source_rowid, start_epoch, end_epoch, clid, src, \
                     dst, dcontext, channel, lastapp, lastdata, duration, billsec, disposition, \
                     amaflags, accountcode, uniqueid, linkedid, sequence, peeraccount, userfield, \
                     recordingfile, calldata) VALUES ('cdr', ?1, 0, 0, '', '', '', '', '', '', \
                     '', 0, 0, '', '', '', '', '', 0, '', '', '', '')",
                    [r.source_rowid],
                )
                .unwrap();
            }
            tx.execute(
                "UPDATE source_cursor SET last_rowid = 7 WHERE source = 'cdr'",
                [],
            )
            .unwrap();
            tx.cache_flush().unwrap(); // push the uncommitted pages into the WAL file
            std::fs::copy(&path, &crashed).unwrap();
            std::fs::copy(
                dir.path().join("j.db-wal"),
                dir.path().join("crashed.db-wal"),
            )
            .unwrap();
        }
        drop(s);
        let path = crashed;

        // Restart: resume from the committed cursor.
        let mut s = SqliteJournal::open(&path).unwrap();
        let cursor = s.cursor(&src).unwrap();
        assert_eq!(cursor, Some(SourceCursor::Rowid(4)));
        let Some(SourceCursor::Rowid(last)) = cursor else {
            unreachable!()
        };
        let rest: Vec<_> = all
            .iter()
            .filter(|c| c.source_rowid > last)
            .cloned()
            .collect();
        let out = s.append_cdrs(&src, &rest, SourceCursor::Rowid(10)).unwrap();
        assert_eq!(out.inserted, 6);
        assert_eq!(
            s.cdrs(TimeRange::all()).unwrap(),
            all,
            "no loss, no duplicate"
        );
        assert_eq!(s.duplicates_ignored(&src).unwrap(), 0);

        // Defence in depth: replaying a batch stores nothing and is counted.
        let out = s
            .append_cdrs(&src, &all[2..5], SourceCursor::Rowid(10))
            .unwrap();
        assert_eq!(
            out,
            AppendOutcome {
                inserted: 0,
                duplicates: 3
            }
        );
        assert_eq!(s.count_cdrs(TimeRange::all()).unwrap(), 10);
        assert_eq!(s.duplicates_ignored(&src).unwrap(), 3);
    }

    #[test]
    fn a_failed_append_leaves_the_cursor_where_it_was() {
        let dir = TempDir::new("store-fail");
        let path = dir.path().join("j.db");
        let src = cdr_source();
        let mut s = SqliteJournal::open(&path).unwrap();
        s.append_cdrs(&src, &[cdr(1, 10)], SourceCursor::Rowid(1))
            .unwrap();
        // Make the insert fail halfway through the batch.
        s.conn
            .execute_batch(
                "CREATE TRIGGER boom BEFORE INSERT ON cdr WHEN NEW.source_rowid = 3 \
                 BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
            )
            .unwrap();
        let err = s.append_cdrs(&src, &[cdr(2, 20), cdr(3, 30)], SourceCursor::Rowid(3));
        assert!(err.is_err());
        assert_eq!(s.cursor(&src).unwrap(), Some(SourceCursor::Rowid(1)));
        assert_eq!(
            s.count_cdrs(TimeRange::all()).unwrap(),
            1,
            "row 2 rolled back"
        );
    }

    #[test]
    fn read_only_handle_reads_beside_the_writer() {
        let dir = TempDir::new("store-ro");
        let path = dir.path().join("j.db");
        let mut w = SqliteJournal::open(&path).unwrap();
        w.append_cdrs(&cdr_source(), &[cdr(1, 10)], SourceCursor::Rowid(1))
            .unwrap();
        let mut r = SqliteJournal::open_read_only(&path).unwrap();
        assert_eq!(r.count_cdrs(TimeRange::all()).unwrap(), 1);
        w.append_cdrs(&cdr_source(), &[cdr(2, 20)], SourceCursor::Rowid(2))
            .unwrap();
        assert_eq!(r.count_cdrs(TimeRange::all()).unwrap(), 2);
        assert!(r
            .append_cdrs(&cdr_source(), &[cdr(3, 30)], SourceCursor::Rowid(3))
            .is_err());
    }
}
