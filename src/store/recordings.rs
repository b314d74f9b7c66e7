//! [`SqliteRecordings`]: the recordings catalogue ([`RecordingStore`]) on the engine's SQLite
//! file, beside the journal (WAL lets its connection work next to the ingestor's).
//!
//! The cataloguer's position in the journal (`cdr.id`, the engine's own row id) is kept in
//! `source_cursor` under the source `recordings`, written in the same transaction as the entries
//! it produced.

use std::path::Path;
use std::sync::MutexGuard;
use std::time::Duration;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row, TransactionBehavior};

use crate::core::recordings::{
    Guid, PendingCdrs, Recording, RecordingFormat, RecordingId, RecordingStore, SafeRelativePath,
    ValidKey,
};
use crate::core::PortError;
use crate::core::{CdrRecord, TimeRange, UniqueId, UnixTime};

use super::connection::SharedConnection;
use super::error::StoreError;
use super::sqlite::cdr_from_row;

/// The cataloguer's cursor name in `source_cursor`.
const CURSOR: &str = "recordings";

const COLUMNS: &str = "id, relative_path, uniqueid, linkedid, guid, idcti, cdr_rowid, answered, \
    agent, queue, duration_ms, format, size, created, imported_from";

const CDR_COLUMNS: &str = "source_rowid, clid, src, dst, dcontext, channel, dstchannel, lastapp, \
    lastdata, duration, billsec, disposition, amaflags, accountcode, uniqueid, linkedid, sequence, \
    peeraccount, userfield, start_epoch, answer_epoch, end_epoch, recordingfile, calldata";

/// The catalogue on one SQLite connection (behind a mutex: the port is shared).
#[derive(Debug)]
pub struct SqliteRecordings {
    conn: SharedConnection,
}

impl SqliteRecordings {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, true)?,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock()
    }

    fn tags(conn: &Connection, r: &mut Recording) -> rusqlite::Result<()> {
        let mut stmt =
            conn.prepare_cached("SELECT tag FROM recording_tag WHERE recording = ?1 ORDER BY tag")?;
        r.tags = stmt
            .query_map([r.id.as_str()], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    fn select(
        conn: &Connection,
        where_sql: &str,
        args: &[rusqlite::types::Value],
    ) -> Result<Vec<Recording>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM recording WHERE {where_sql}");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |row| Ok(from_row(row)))?;
        let mut out = Vec::new();
        for row in rows {
            let mut r = row??;
            Self::tags(conn, &mut r)?;
            out.push(r);
        }
        Ok(out)
    }

    fn upsert_on(conn: &Connection, r: &Recording) -> rusqlite::Result<()> {
        conn.prepare_cached(&format!(
            "INSERT INTO recording ({COLUMNS}) VALUES \
               (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
             ON CONFLICT (id) DO UPDATE SET relative_path = excluded.relative_path, \
               uniqueid = excluded.uniqueid, linkedid = excluded.linkedid, guid = excluded.guid, \
               idcti = excluded.idcti, cdr_rowid = excluded.cdr_rowid, \
               answered = excluded.answered, agent = excluded.agent, queue = excluded.queue, \
               duration_ms = excluded.duration_ms, format = excluded.format, \
               size = excluded.size, created = excluded.created, \
               imported_from = COALESCE(excluded.imported_from, recording.imported_from)"
        ))?
        .execute(params![
            r.id.as_str(),
            r.relative_path.as_str(),
            r.uniqueid.as_ref().map(UniqueId::as_str),
            r.linkedid.as_ref().map(UniqueId::as_str),
            r.guid.as_str(),
            r.idcti,
            r.cdr_rowid,
            i64::from(r.answered),
            r.agent,
            r.queue,
            i64::try_from(r.duration.as_millis()).unwrap_or(i64::MAX),
            r.format.as_str(),
            i64::try_from(r.size).unwrap_or(i64::MAX),
            r.created.seconds(),
            r.imported_from,
        ])?;
        Ok(())
    }
}

fn from_row(row: &Row<'_>) -> Result<Recording, StoreError> {
    let text = |i: usize| -> Result<String, StoreError> { Ok(row.get::<_, String>(i)?) };
    let opt = |i: usize| -> Result<Option<String>, StoreError> { Ok(row.get(i)?) };
    let bad = |what: &str, v: &str| StoreError::Corrupt(format!("recording {what} `{v}`"));
    let id = text(0)?;
    let rel = text(1)?;
    let guid = text(4)?;
    let format = text(11)?;
    Ok(Recording {
        id: RecordingId::parse(&id).ok_or_else(|| bad("id", &id))?,
        relative_path: SafeRelativePath::parse(&rel).ok_or_else(|| bad("path", &rel))?,
        uniqueid: opt(2)?.map(UniqueId::new),
        linkedid: opt(3)?.map(UniqueId::new),
        guid: Guid::parse(&guid).ok_or_else(|| bad("guid", &guid))?,
        idcti: opt(5)?,
        cdr_rowid: row.get(6)?,
        answered: row.get::<_, i64>(7)? != 0,
        agent: opt(8)?,
        queue: opt(9)?,
        duration: Duration::from_millis(u64::try_from(row.get::<_, i64>(10)?).unwrap_or(0)),
        format: RecordingFormat::parse(&format).ok_or_else(|| bad("format", &format))?,
        size: u64::try_from(row.get::<_, i64>(12)?).unwrap_or(0),
        tags: Vec::new(),
        created: UnixTime(row.get(13)?),
        imported_from: opt(14)?,
    })
}

fn boxed(e: impl Into<StoreError>) -> PortError {
    Box::new(e.into())
}

impl RecordingStore for SqliteRecordings {
    fn upsert(&self, recording: &Recording) -> Result<(), PortError> {
        Self::upsert_on(&self.conn(), recording).map_err(boxed)
    }

    fn find_all(&self, key: &ValidKey) -> Result<Vec<Recording>, PortError> {
        let (column, value) = match key {
            ValidKey::Id(id) => ("id", id.as_str()),
            ValidKey::UniqueId(u) => ("uniqueid", u.as_str()),
            ValidKey::LinkedId(l) => ("linkedid", l.as_str()),
            ValidKey::Guid(g) => ("guid", g.as_str()),
            ValidKey::IdCti(i) => ("idcti", i.as_str()),
            ValidKey::Path(p) => ("relative_path", p.as_str()),
        };
        Self::select(
            &self.conn(),
            &format!("{column} = ?1 ORDER BY created, id"),
            &[value.to_owned().into()],
        )
        .map_err(boxed)
    }

    fn find_imported(&self, origin: &str) -> Result<Option<Recording>, PortError> {
        Ok(Self::select(
            &self.conn(),
            "imported_from = ?1",
            &[origin.to_owned().into()],
        )
        .map_err(boxed)?
        .into_iter()
        .next())
    }

    fn add_tag(&self, id: &RecordingId, tag: &str) -> Result<bool, PortError> {
        let conn = self.conn();
        let exists: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM recording WHERE id = ?1",
                [id.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(boxed)?;
        if exists.is_none() {
            return Ok(false);
        }
        conn.execute(
            "INSERT OR IGNORE INTO recording_tag (recording, tag) VALUES (?1, ?2)",
            params![id.as_str(), tag],
        )
        .map_err(boxed)?;
        Ok(true)
    }

    fn remove_tag(&self, id: &RecordingId, tag: &str) -> Result<bool, PortError> {
        let n = self
            .conn()
            .execute(
                "DELETE FROM recording_tag WHERE recording = ?1 AND tag = ?2",
                params![id.as_str(), tag],
            )
            .map_err(boxed)?;
        Ok(n > 0)
    }

    fn list(&self, range: TimeRange, limit: usize) -> Result<Vec<Recording>, PortError> {
        Self::select(
            &self.conn(),
            "created >= ?1 AND created < ?2 ORDER BY created, id LIMIT ?3",
            &[
                range.from.seconds().into(),
                range.to.seconds().into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        )
        .map_err(boxed)
    }

    fn pending_cdrs(&self, limit: usize) -> Result<PendingCdrs, PortError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(boxed)?;
        let after: i64 = tx
            .query_row(
                "SELECT last_rowid FROM source_cursor WHERE source = ?1",
                [CURSOR],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()
            .map_err(boxed)?
            .flatten()
            .unwrap_or(0);
        let limit_sql = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        // The window of journal rows this batch covers: at most `limit` rows after the cursor.
        let (upto, scanned): (Option<i64>, i64) = tx
            .query_row(
                "SELECT MAX(id), COUNT(*) FROM (SELECT id FROM cdr WHERE id > ?1 ORDER BY id \
                 LIMIT ?2)",
                params![after, limit_sql],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(boxed)?;
        let Some(upto) = upto else {
            return Ok(PendingCdrs {
                cdrs: Vec::new(),
                cursor: after,
                more: false,
            });
        };
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {CDR_COLUMNS} FROM cdr WHERE id > ?1 AND id <= ?2 AND recordingfile != '' \
                 ORDER BY id"
            ))
            .map_err(boxed)?;
        let cdrs = stmt
            .query_map(params![after, upto], cdr_from_row)
            .map_err(boxed)?
            .collect::<Result<Vec<CdrRecord>, _>>()
            .map_err(boxed)?;
        Ok(PendingCdrs {
            cdrs,
            cursor: upto,
            more: scanned >= limit_sql,
        })
    }

    fn catalogue(&self, entries: &[Recording], cursor: i64) -> Result<(), PortError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(boxed)?;
        for r in entries {
            Self::upsert_on(&tx, r).map_err(boxed)?;
        }
        tx.execute(
            "INSERT INTO source_cursor (source, kind, last_rowid, updated_at) \
             VALUES (?1, 'rowid', ?2, ?3) \
             ON CONFLICT (source) DO UPDATE SET last_rowid = excluded.last_rowid, \
               updated_at = excluded.updated_at",
            params![CURSOR, cursor, UnixTime::now().seconds()],
        )
        .map_err(boxed)?;
        tx.commit().map_err(boxed)
    }

    fn queue_connect(&self, callids: &[&str]) -> Result<Option<(String, String)>, PortError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT queue, agent FROM queue_log WHERE callid = ?1 AND event = 'CONNECT' \
                 ORDER BY time_epoch DESC, id DESC LIMIT 1",
            )
            .map_err(boxed)?;
        for id in callids {
            if let Some(found) = stmt
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(boxed)?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn fill_queue_agent(&self, since: UnixTime) -> Result<u64, PortError> {
        let n = self
            .conn()
            .execute(
                "UPDATE recording SET \
                   queue = (SELECT q.queue FROM queue_log q WHERE q.event = 'CONNECT' \
                            AND q.callid IN (recording.uniqueid, recording.linkedid) \
                            ORDER BY q.time_epoch DESC, q.id DESC LIMIT 1), \
                   agent = (SELECT q.agent FROM queue_log q WHERE q.event = 'CONNECT' \
                            AND q.callid IN (recording.uniqueid, recording.linkedid) \
                            ORDER BY q.time_epoch DESC, q.id DESC LIMIT 1) \
                 WHERE created >= ?1 AND queue IS NULL AND EXISTS \
                   (SELECT 1 FROM queue_log q WHERE q.event = 'CONNECT' \
                    AND q.callid IN (recording.uniqueid, recording.linkedid))",
                [since.seconds()],
            )
            .map_err(boxed)?;
        Ok(n as u64)
    }

    fn cdrs_of_uniqueid(&self, uniqueid: &str) -> Result<Vec<CdrRecord>, PortError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {CDR_COLUMNS} FROM cdr WHERE uniqueid = ?1 \
                 ORDER BY disposition = 'ANSWERED' DESC, billsec DESC, id"
            ))
            .map_err(boxed)?;
        let rows = stmt.query_map([uniqueid], cdr_from_row).map_err(boxed)?;
        rows.collect::<Result<_, _>>().map_err(boxed)
    }

    fn answered_calls_without_recording(&self, range: TimeRange) -> Result<Vec<String>, PortError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT DISTINCT c.linkedid FROM cdr c \
                 WHERE c.start_epoch >= ?1 AND c.start_epoch < ?2 \
                   AND c.disposition = 'ANSWERED' AND c.recordingfile != '' \
                   AND NOT EXISTS (SELECT 1 FROM recording r WHERE r.linkedid = c.linkedid) \
                 ORDER BY c.linkedid",
            )
            .map_err(boxed)?;
        let rows = stmt
            .query_map(params![range.from.seconds(), range.to.seconds()], |r| {
                r.get(0)
            })
            .map_err(boxed)?;
        rows.collect::<Result<_, _>>().map_err(boxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::core::recordings::{
        Cataloguer, MediaFailure, ProbedAudio, RecordingKey, RecordingMedia, RecordingsService,
        ServeFormat,
    };
    use crate::core::{
        ChannelName, Disposition, FileId, JournalStore, LogPosition, QueueEvent, QueueLogRecord,
        SourceCursor, SourceId,
    };
    use crate::store::SqliteJournal;
    use crate::test_support::TempDir;

    /// Media that knows every file as a 3-second WAV and "transcodes" by copying.
    struct FakeMedia;

    impl RecordingMedia for FakeMedia {
        fn probe(&self, path: &Path) -> Result<ProbedAudio, MediaFailure> {
            path.metadata()
                .map_err(|e| MediaFailure::Other(e.to_string()))?;
            Ok(ProbedAudio {
                format: RecordingFormat::Wav,
                duration: Duration::from_secs(3),
            })
        }
        fn transcode(&self, src: &Path, dst: &Path, _: ServeFormat) -> Result<(), MediaFailure> {
            std::fs::copy(src, dst)
                .map(drop)
                .map_err(|e| MediaFailure::Other(e.to_string()))
        }
    }

    fn cdr(rowid: i64, uniqueid: &str, linkedid: &str, file: &str, answered: bool) -> CdrRecord {
        CdrRecord {
            source_rowid: rowid,
            clid: String::new(),
            src: "099123456".into(),
            dst: "26001000".into(),
            dcontext: "to-queue".into(),
            channel: ChannelName::new("PJSIP/carrier-00000001"),
            dstchannel: Some(ChannelName::new("PJSIP/1007-00000002")),
            lastapp: "Queue".into(),
            lastdata: String::new(),
            duration: Duration::from_secs(9),
            billsec: Duration::from_secs(if answered { 6 } else { 0 }),
            disposition: if answered {
                Disposition::Answered
            } else {
                Disposition::NoAnswer
            },
            amaflags: String::new(),
            accountcode: String::new(),
            uniqueid: UniqueId::new(uniqueid),
            linkedid: UniqueId::new(linkedid),
            sequence: rowid,
            peeraccount: String::new(),
            userfield: String::new(),
            start: UnixTime(1_704_067_300),
            answer: None,
            end: UnixTime(1_704_067_309),
            recordingfile: file.into(),
            calldata: if file.is_empty() {
                String::new()
            } else {
                "idcti=CTI-9".into()
            },
        }
    }

    fn connect(offset: u64, callid: &str) -> QueueLogRecord {
        QueueLogRecord {
            position: LogPosition {
                file: FileId {
                    dev: 1,
                    ino: 2,
                    created_ns: 0,
                },
                offset,
            },
            time: UnixTime(1_704_067_302),
            callid: callid.into(),
            queue: "q_ventas".into(),
            agent: "1007".into(),
            event: QueueEvent::Connect,
            data: vec!["2".into(), "pbx1-2.0".into(), "1".into()],
        }
    }

    struct Fixture {
        dir: TempDir,
        journal: SqliteJournal,
        store: Arc<SqliteRecordings>,
    }

    impl Fixture {
        fn new(tag: &str) -> Self {
            let dir = TempDir::new(tag);
            let path = dir.path().join("store.db");
            let journal = SqliteJournal::open(&path).unwrap();
            let store = Arc::new(SqliteRecordings::open(&path).unwrap());
            std::fs::create_dir_all(dir.path().join("monitor/20240101")).unwrap();
            Self {
                dir,
                journal,
                store,
            }
        }
        fn root(&self) -> std::path::PathBuf {
            self.dir.path().join("monitor")
        }
        fn cataloguer(&self) -> Cataloguer {
            Cataloguer::new(self.store.clone(), Arc::new(FakeMedia), self.root())
        }
        fn service(&self) -> RecordingsService {
            RecordingsService::new(
                self.store.clone(),
                Arc::new(FakeMedia),
                self.root(),
                self.dir.path().join("cache"),
            )
        }
        fn cdrs(&mut self, records: &[CdrRecord]) {
            let last = records.last().unwrap().source_rowid;
            self.journal
                .append_cdrs(&SourceId::new("cdr"), records, SourceCursor::Rowid(last))
                .unwrap();
        }
    }

    #[test]
    fn catalogue_round_trip_from_the_journal() {
        let mut f = Fixture::new("rec-catalogue");
        std::fs::write(f.root().join("20240101/pbx1-1.0.wav"), b"RIFF....").unwrap();
        f.journal
            .append_queue_log(
                &SourceId::new("queue_log"),
                &[connect(0, "pbx1-1.0")],
                SourceCursor::File(connect(0, "x").position),
            )
            .unwrap();
        // Two attempts of the same channel (one unanswered), a CDR without a file, a file name
        // outside the recordings directory.
        f.cdrs(&[
            cdr(1, "pbx1-1.0", "pbx1-1.0", "20240101/pbx1-1.0.wav", false),
            cdr(2, "pbx1-1.0", "pbx1-1.0", "20240101/pbx1-1.0.wav", true),
            cdr(3, "pbx1-1.1", "pbx1-1.0", "", true),
            cdr(4, "pbx1-9.0", "pbx1-9.0", "../../etc/passwd", true),
        ]);
        assert_eq!(f.cataloguer().run_once().unwrap(), 1);
        // Idempotent: the cursor moved.
        assert_eq!(f.cataloguer().run_once().unwrap(), 0);
        let svc = f.service();
        let r = svc
            .find(&RecordingKey::UniqueId("pbx1-1.0".into()))
            .unwrap();
        assert_eq!(r.cdr_rowid, Some(2));
        assert!(r.answered);
        assert_eq!(r.queue.as_deref(), Some("q_ventas"));
        assert_eq!(r.agent.as_deref(), Some("1007"));
        assert_eq!(r.duration, Duration::from_secs(3));
        assert_eq!(r.size, 8);
        assert_eq!(r.idcti.as_deref(), Some("CTI-9"));
        for key in [
            RecordingKey::Id("pbx1-1.0".into()),
            RecordingKey::LinkedId("pbx1-1.0".into()),
            RecordingKey::Guid(r.guid.as_str().to_uppercase()),
            RecordingKey::IdCti("CTI-9".into()),
            RecordingKey::Path("20240101/pbx1-1.0.wav".into()),
        ] {
            assert_eq!(svc.find(&key).unwrap().id, r.id, "{key:?}");
        }
        // Tags survive a re-catalogue.
        svc.tag(&RecordingKey::Id("pbx1-1.0".into()), "venta")
            .unwrap();
        svc.tag(&RecordingKey::Id("pbx1-1.0".into()), "queja")
            .unwrap();
        f.store.upsert(&r).unwrap();
        let tagged = svc.find(&RecordingKey::Id("pbx1-1.0".into())).unwrap();
        assert_eq!(tagged.tags, ["queja", "venta"]);
        let untagged = svc
            .untag(&RecordingKey::Id("pbx1-1.0".into()), "queja")
            .unwrap();
        assert_eq!(untagged.tags, ["venta"]);
        assert!(matches!(
            svc.tag(&RecordingKey::Id("nope".into()), "x"),
            Err(crate::core::recordings::RecordingError::NotFound)
        ));
        // A re-opened store sees the same.
        let again = SqliteRecordings::open(&f.dir.path().join("store.db")).unwrap();
        assert_eq!(
            again
                .find_all(&ValidKey::Id(r.id.clone()))
                .unwrap()
                .remove(0),
            untagged
        );
    }

    #[test]
    fn queue_and_agent_filled_when_connect_comes_later() {
        let mut f = Fixture::new("rec-late-connect");
        f.cdrs(&[cdr(
            1,
            "pbx1-5.0",
            "pbx1-5.0",
            "20240101/pbx1-5.0.wav",
            true,
        )]);
        f.cataloguer().run_once().unwrap();
        let svc = f.service();
        let r = svc.find(&RecordingKey::Id("pbx1-5.0".into())).unwrap();
        assert_eq!(r.queue, None);
        f.journal
            .append_queue_log(
                &SourceId::new("queue_log"),
                &[connect(0, "pbx1-5.0")],
                SourceCursor::File(connect(0, "x").position),
            )
            .unwrap();
        assert_eq!(f.store.fill_queue_agent(UnixTime(0)).unwrap(), 1);
        let r = svc.find(&RecordingKey::Id("pbx1-5.0".into())).unwrap();
        assert_eq!(r.queue.as_deref(), Some("q_ventas"));
    }

    #[test]
    fn open_as_caches_by_source_size_and_mtime_and_refuses_escapes() {
        let mut f = Fixture::new("rec-open");
        let file = f.root().join("20240101/pbx1-1.0.wav");
        std::fs::write(&file, b"one").unwrap();
        f.cdrs(&[cdr(
            1,
            "pbx1-1.0",
            "pbx1-1.0",
            "20240101/pbx1-1.0.wav",
            true,
        )]);
        f.cataloguer().run_once().unwrap();
        let svc = f.service();
        let key = RecordingKey::Guid(Guid::derive("pbx1-1.0").as_str().into());
        let served = svc.open_as(&key, ServeFormat::Ogg).unwrap();
        assert_eq!(served.mime, "audio/ogg");
        assert_eq!(
            served.path,
            f.dir.path().join("cache/ogg/20240101/pbx1-1.0.ogg")
        );
        assert_eq!(std::fs::read(&served.path).unwrap(), b"one");
        std::fs::write(&file, b"two!").unwrap();
        let served = svc.open_as(&key, ServeFormat::Ogg).unwrap();
        assert_eq!(std::fs::read(&served.path).unwrap(), b"two!");

        // A catalogued path that is a symlink to a file outside the recordings directory.
        let outside = f.dir.path().join("secret.wav");
        std::fs::write(&outside, b"secret").unwrap();
        std::os::unix::fs::symlink(&outside, f.root().join("20240101/evil.wav")).unwrap();
        let mut evil = svc.find(&RecordingKey::Id("pbx1-1.0".into())).unwrap();
        evil.id = RecordingId::parse("evil").unwrap();
        evil.relative_path = SafeRelativePath::parse("20240101/evil.wav").unwrap();
        evil.uniqueid = Some(UniqueId::new("evil"));
        f.store.upsert(&evil).unwrap();
        use crate::core::recordings::RecordingError::NotFound;
        assert!(matches!(
            svc.open_as(&RecordingKey::Id("evil".into()), ServeFormat::Wav8k),
            Err(NotFound)
        ));
        for key in [
            RecordingKey::Id("../../etc/passwd".into()),
            RecordingKey::Path("/etc/passwd".into()),
            RecordingKey::Path("../secret.wav".into()),
            RecordingKey::Path("%2e%2e/secret.wav".into()),
            RecordingKey::Id("20240101/pbx1-1.0".into()),
            RecordingKey::UniqueId("pbx1-1.0\0".into()),
        ] {
            assert!(
                matches!(svc.open_as(&key, ServeFormat::Mp3), Err(NotFound)),
                "{key:?}"
            );
        }
        // A file gone from disk.
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(svc.open_as(&key, ServeFormat::Mp3), Err(NotFound)));
    }

    #[test]
    fn sweep_reports_each_kind_of_gap() {
        let mut f = Fixture::new("rec-sweep");
        std::fs::write(f.root().join("20240101/pbx1-1.0.wav"), b"x").unwrap();
        std::fs::write(f.root().join("20240101/stray.wav"), b"x").unwrap();
        f.cdrs(&[
            cdr(1, "pbx1-1.0", "pbx1-1.0", "20240101/pbx1-1.0.wav", true),
            cdr(2, "pbx1-2.0", "pbx1-2.0", "20240101/pbx1-2.0.wav", true),
        ]);
        f.cataloguer().run_once().unwrap();
        let svc = f.service();
        let range = TimeRange::new(UnixTime(1_704_067_200), UnixTime(1_704_153_600));
        let report = svc.sweep(range).unwrap();
        assert_eq!(
            report.missing_files,
            [RecordingId::parse("pbx1-2.0").unwrap()]
        );
        assert_eq!(report.files_not_catalogued, ["20240101/stray.wav"]);
        assert!(report.recordings_without_call.is_empty());
        assert!(report.answered_calls_without_recording.is_empty());
        // An answered call whose file was never catalogued (e.g. the cataloguer is behind), and
        // an imported recording tied to no call.
        f.cdrs(&[cdr(
            3,
            "pbx1-3.0",
            "pbx1-3.0",
            "20240101/pbx1-3.0.wav",
            true,
        )]);
        let mut orphan = svc.find(&RecordingKey::Id("pbx1-1.0".into())).unwrap();
        orphan.id = RecordingId::parse("stray").unwrap();
        orphan.relative_path = SafeRelativePath::parse("20240101/stray.wav").unwrap();
        orphan.cdr_rowid = None;
        orphan.uniqueid = None;
        orphan.linkedid = None;
        f.store.upsert(&orphan).unwrap();
        let report = svc.sweep(range).unwrap();
        assert_eq!(report.answered_calls_without_recording, ["pbx1-3.0"]);
        assert_eq!(
            report.recordings_without_call,
            [RecordingId::parse("stray").unwrap()]
        );
        assert!(report.files_not_catalogued.is_empty());
    }
}
