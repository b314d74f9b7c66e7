//! [`SqliteOriginateStore`]: the core's [`OriginateStore`] port on the engine's SQLite file
//! (table `originate_job`, migration 2 or later). It opens its own connection to the same file
//! as [`super::SqliteJournal`] (WAL lets both work side by side) and applies pending migrations
//! through it first.
//!
//! Durability: `synchronous=FULL`, so a job stored before its call is sent is still there after
//! a crash; every insert and update is one statement, committed together with the writes that
//! arrive meanwhile (group commit: one fsync for a burst), and returns once durable.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::core::originate::{
    CallData, CallerId, DirectTarget, Extension, Failure, JobState, OriginateId, OriginateJob,
    OriginateMode, OriginateRequest, OriginateStore, PhoneNumber, Progress,
};
use crate::core::PortError;
use crate::core::{ChannelName, UnixTime};

use super::connection::SharedConnection;
use super::error::StoreError;

/// Originate jobs in the engine's SQLite file. `Sync`: one connection behind a mutex.
#[derive(Debug)]
pub struct SqliteOriginateStore {
    conn: SharedConnection,
}

impl SqliteOriginateStore {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, false)?,
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, PortError> {
        f(&self.conn.lock()).map_err(port)
    }

    /// A write, committed with those that arrive meanwhile (group commit).
    fn write(
        &self,
        f: impl FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), PortError> {
        self.conn.write_grouped(f).map_err(port)
    }
}

fn port(e: StoreError) -> PortError {
    PortError::from(e)
}

const COLUMNS: &str = "id, mode, source, context, exten, destination, src_cid_name, \
    src_cid_number, dst_cid_name, dst_cid_number, ring_timeout_s, call_data, state, progress, \
    dial_failure, hangup_cause, channels, created_at, updated_at, source_answered_at, \
    answered_at, ended_at, sent_at, vanished";

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn join_channels(channels: &[ChannelName]) -> String {
    // Channel names hold no spaces (the adapter's alphabet), so a space separates them.
    channels
        .iter()
        .map(ChannelName::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("originate_job.{what} = {value:?}"))
}

fn caller_id(name: Option<String>, number: Option<String>) -> Result<Option<CallerId>, StoreError> {
    if name.is_none() && number.is_none() {
        return Ok(None);
    }
    CallerId::new(name.as_deref(), number.as_deref())
        .map(Some)
        .map_err(|e| StoreError::Corrupt(format!("originate_job caller id: {e}")))
}

fn row_to_job(r: &Row<'_>) -> Result<Result<OriginateJob, StoreError>, rusqlite::Error> {
    let id: String = r.get(0)?;
    let mode: String = r.get(1)?;
    let source: Option<String> = r.get(2)?;
    let context: Option<String> = r.get(3)?;
    let exten: Option<String> = r.get(4)?;
    let destination: String = r.get(5)?;
    let cids: [Option<String>; 4] = [r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?];
    let ring: i64 = r.get(10)?;
    let call_data: String = r.get(11)?;
    let state: String = r.get(12)?;
    let progress: String = r.get(13)?;
    let dial_failure: Option<String> = r.get(14)?;
    let hangup_cause: Option<i64> = r.get(15)?;
    let channels: String = r.get(16)?;
    let times: [Option<i64>; 5] = [r.get(17)?, r.get(18)?, r.get(19)?, r.get(20)?, r.get(21)?];
    let sent_at: Option<i64> = r.get(22)?;
    let vanished: bool = r.get(23)?;
    let build = move || -> Result<OriginateJob, StoreError> {
        let bad = |what: &str, v: &str| corrupt(what, v);
        let mode = match (mode.as_str(), source, context, exten) {
            ("click_to_call", Some(source), _, _) => OriginateMode::ClickToCall {
                source: Extension::parse(&source).map_err(|_| bad("source", &source))?,
            },
            ("outside_source", Some(source), _, _) => OriginateMode::OutsideSource {
                source: PhoneNumber::parse(&source).map_err(|_| bad("source", &source))?,
            },
            ("direct", _, Some(context), Some(exten)) => OriginateMode::Direct {
                target: DirectTarget::new(&context, &exten)
                    .map_err(|_| bad("context", &context))?,
            },
            (other, ..) => return Err(bad("mode", other)),
        };
        let [sn, snum, dn, dnum] = cids;
        let request = OriginateRequest {
            mode,
            destination: PhoneNumber::parse(&destination)
                .map_err(|_| bad("destination", &destination))?,
            source_caller_id: caller_id(sn, snum)?,
            destination_caller_id: caller_id(dn, dnum)?,
            ring_timeout: Some(Duration::from_secs(ring.unsigned_abs())),
            call_data: CallData::parse(&call_data).map_err(|_| bad("call_data", &call_data))?,
            // Only read when the Originate is sent, before any restart: not stored.
            record: None,
            trunk: None,
            dialer: None,
        };
        let [created, updated, src_ans, ans, ended] = times;
        Ok(OriginateJob {
            id: OriginateId::parse(&id).map_err(|_| bad("id", &id))?,
            request,
            ring_timeout: Duration::from_secs(ring.unsigned_abs()),
            state: JobState::parse(&state).ok_or_else(|| bad("state", &state))?,
            progress: Progress::parse(&progress).ok_or_else(|| bad("progress", &progress))?,
            dial_failure: match dial_failure {
                Some(f) => Some(Failure::parse(&f).ok_or_else(|| bad("dial_failure", &f))?),
                None => None,
            },
            hangup_cause: hangup_cause.and_then(|c| u16::try_from(c).ok()),
            channels: channels
                .split(' ')
                .filter(|c| !c.is_empty())
                .map(ChannelName::new)
                .collect(),
            created_at: UnixTime(created.unwrap_or(0)),
            updated_at: UnixTime(updated.unwrap_or(0)),
            source_answered_at: src_ans.map(UnixTime),
            answered_at: ans.map(UnixTime),
            ended_at: ended.map(UnixTime),
            sent_at: sent_at.map(UnixTime),
            vanished,
        })
    };
    Ok(build())
}

impl OriginateStore for SqliteOriginateStore {
    fn insert(&self, job: &OriginateJob) -> Result<(), PortError> {
        let job = job.clone();
        self.write(move |conn| {
            let req = &job.request;
            let (mode, source, context, exten) = match &req.mode {
                OriginateMode::ClickToCall { source } => {
                    ("click_to_call", Some(source.as_str()), None, None)
                }
                OriginateMode::OutsideSource { source } => {
                    ("outside_source", Some(source.as_str()), None, None)
                }
                OriginateMode::Direct { target } => {
                    ("direct", None, Some(target.context()), Some(target.exten()))
                }
            };
            let cid = |c: &Option<CallerId>| {
                (
                    c.as_ref().and_then(|c| c.name().map(str::to_owned)),
                    c.as_ref().and_then(|c| c.number().map(str::to_owned)),
                )
            };
            let (sn, snum) = cid(&req.source_caller_id);
            let (dn, dnum) = cid(&req.destination_caller_id);
            conn.execute(
                &format!(
                    "INSERT INTO originate_job ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, \
                     ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)"
                ),
                params![
                    job.id.as_str(),
                    mode,
                    source,
                    context,
                    exten,
                    req.destination.as_str(),
                    sn,
                    snum,
                    dn,
                    dnum,
                    secs(job.ring_timeout),
                    req.call_data.render(),
                    job.state.as_str(),
                    job.progress.as_str(),
                    job.dial_failure.map(Failure::as_str),
                    job.hangup_cause.map(i64::from),
                    join_channels(&job.channels),
                    job.created_at.seconds(),
                    job.updated_at.seconds(),
                    job.source_answered_at.map(UnixTime::seconds),
                    job.answered_at.map(UnixTime::seconds),
                    job.ended_at.map(UnixTime::seconds),
                    job.sent_at.map(UnixTime::seconds),
                    job.vanished,
                ],
            )?;
            Ok(())
        })
    }

    fn update(&self, job: &OriginateJob) -> Result<(), PortError> {
        let job = job.clone();
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE originate_job SET state = ?2, progress = ?3, dial_failure = ?4, \
                   hangup_cause = ?5, channels = ?6, updated_at = ?7, source_answered_at = ?8, \
                   answered_at = ?9, ended_at = ?10, sent_at = ?11, vanished = ?12 WHERE id = ?1",
                params![
                    job.id.as_str(),
                    job.state.as_str(),
                    job.progress.as_str(),
                    job.dial_failure.map(Failure::as_str),
                    job.hangup_cause.map(i64::from),
                    join_channels(&job.channels),
                    job.updated_at.seconds(),
                    job.source_answered_at.map(UnixTime::seconds),
                    job.answered_at.map(UnixTime::seconds),
                    job.ended_at.map(UnixTime::seconds),
                    job.sent_at.map(UnixTime::seconds),
                    job.vanished,
                ],
            )?;
            if n == 0 {
                return Err(StoreError::Corrupt(format!(
                    "originate job {} to update is not stored",
                    job.id
                )));
            }
            Ok(())
        })
    }

    fn get(&self, id: &OriginateId) -> Result<Option<OriginateJob>, PortError> {
        self.with(|conn| {
            let found = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM originate_job WHERE id = ?1"
                ))?
                .query_row([id.as_str()], row_to_job)
                .optional()?;
            found.transpose()
        })
    }

    fn ids(&self) -> Result<Vec<OriginateId>, PortError> {
        self.with(|conn| {
            let mut stmt = conn.prepare("SELECT id FROM originate_job")?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            ids.into_iter()
                .map(|id| OriginateId::parse(&id).map_err(|_| corrupt("id", &id)))
                .collect()
        })
    }

    fn open_jobs(&self) -> Result<Vec<OriginateJob>, PortError> {
        self.with(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM originate_job WHERE ended_at IS NULL ORDER BY created_at"
            ))?;
            let rows = stmt.query_map([], row_to_job)?;
            let mut jobs = Vec::new();
            for row in rows {
                jobs.push(row??);
            }
            Ok(jobs)
        })
    }

    fn purge_finished(&self, before: UnixTime) -> Result<Vec<OriginateId>, PortError> {
        self.with(|conn| {
            let mut stmt = conn.prepare(
                "DELETE FROM originate_job WHERE ended_at IS NOT NULL AND ended_at < ?1 \
                 RETURNING id",
            )?;
            let ids = stmt
                .query_map([before.seconds()], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            ids.into_iter()
                .map(|id| OriginateId::parse(&id).map_err(|_| corrupt("id", &id)))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::originate::{apply, PbxFact};
    use crate::test_support::TempDir;

    fn job(id: &str, at: i64) -> OriginateJob {
        let req = OriginateRequest::click_to_call(
            Extension::parse("1001").unwrap(),
            PhoneNumber::parse("5551004").unwrap(),
        )
        .with_caller_ids(
            Some(CallerId::new(Some("Juan Pérez"), None).unwrap()),
            Some(CallerId::new(Some("Netgate"), Some("099123456")).unwrap()),
        )
        .with_call_data(CallData::new(&[("info", "01-43-1"), ("c", "7")]).unwrap());
        OriginateJob::new(
            OriginateId::parse(id).unwrap(),
            req,
            Duration::from_secs(20),
            UnixTime(at),
        )
    }

    #[test]
    fn an_outside_source_and_a_bare_call_data_round_trip() {
        let dir = TempDir::new("orig-store-outside");
        let store = SqliteOriginateStore::open(&dir.path().join("s.db")).unwrap();
        let req = OriginateRequest::click_to_call_from(
            "5551234",
            PhoneNumber::parse("927126666").unwrap(),
            |_| false,
        )
        .unwrap()
        .with_call_data(CallData::parse("01-43-1").unwrap());
        let j = OriginateJob::new(
            OriginateId::parse("o-1").unwrap(),
            req,
            Duration::from_secs(20),
            UnixTime(100),
        );
        store.insert(&j).unwrap();
        let back = store.get(&j.id).unwrap().unwrap();
        assert_eq!(back, j);
        assert_eq!(back.request.call_data.render(), "01-43-1");
    }

    #[test]
    fn insert_update_get_round_trip_and_survive_reopen() {
        let dir = TempDir::new("orig-store");
        let path = dir.path().join("s.db");
        let store = SqliteOriginateStore::open(&path).unwrap();
        let j = job("a-1", 100);
        store.insert(&j).unwrap();
        assert!(store.insert(&j).is_err(), "duplicate id refused");
        assert_eq!(store.get(&j.id).unwrap().as_ref(), Some(&j));

        let mut j2 = apply(
            j.clone(),
            &PbxFact::ChannelCreated(ChannelName::new("PJSIP/1001-00000001")),
            UnixTime(101),
        );
        for f in [
            PbxFact::Sending,
            PbxFact::SourceAnswered,
            PbxFact::DialEnded(Failure::Busy),
            PbxFact::DestinationAnswered,
        ] {
            j2 = apply(j2, &f, UnixTime(102));
        }
        store.update(&j2).unwrap();
        drop(store);

        let store = SqliteOriginateStore::open(&path).unwrap();
        assert_eq!(store.get(&j.id).unwrap(), Some(j2.clone()));
        assert_eq!(store.open_jobs().unwrap(), vec![j2.clone()]);

        let direct = OriginateJob::new(
            OriginateId::parse("b-2").unwrap(),
            OriginateRequest::direct(
                PhoneNumber::parse("+5551").unwrap(),
                DirectTarget::new("agents", "1001").unwrap(),
            ),
            Duration::from_secs(5),
            UnixTime(100),
        );
        store.insert(&direct).unwrap();
        let direct_done = apply(direct.clone(), &PbxFact::NotSent, UnixTime(150));
        store.update(&direct_done).unwrap();
        assert_eq!(store.get(&direct.id).unwrap(), Some(direct_done));
        assert!(store.get(&direct.id).unwrap().unwrap().never_placed());
        let gone = apply(j2.clone(), &PbxFact::Vanished, UnixTime(103));
        store.update(&gone).unwrap();
        let back = store.get(&j.id).unwrap().unwrap();
        assert!(
            back.vanished && back.sent_at == Some(UnixTime(102)),
            "{back:?}"
        );
        store.update(&j2).unwrap();

        // Retention: only finished jobs that ended before the cutoff go.
        let mut ids = store.ids().unwrap();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        assert_eq!(ids, vec![j.id.clone(), direct.id.clone()]);
        assert_eq!(store.purge_finished(UnixTime(150)).unwrap(), vec![]);
        assert_eq!(
            store.purge_finished(UnixTime(151)).unwrap(),
            vec![direct.id.clone()]
        );
        assert_eq!(store.ids().unwrap(), vec![j.id.clone()]);
        assert!(store.get(&direct.id).unwrap().is_none());
        assert!(store.get(&j.id).unwrap().is_some(), "open job kept");
        assert!(store
            .get(&OriginateId::parse("nope").unwrap())
            .unwrap()
            .is_none());
    }

    #[test]
    fn jobs_stored_before_the_sent_mark_are_taken_as_sent_and_vanished_as_a_resync_ended_them() {
        let dir = TempDir::new("orig-store-sent-migration");
        let path = dir.path().join("s.db");
        let before = crate::store::migrations::MIGRATIONS
            .iter()
            .position(|m| m.contains("ADD COLUMN sent_at"))
            .unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            for m in &crate::store::migrations::MIGRATIONS[..before] {
                conn.execute_batch(m).unwrap();
            }
            conn.execute_batch(&format!("PRAGMA user_version = {before}"))
                .unwrap();
            let row = |id: &str, state: &str, failure: &str, cause: &str, ended: &str| {
                conn.execute_batch(&format!(
                    "INSERT INTO originate_job (id, mode, context, exten, destination, \
                     ring_timeout_s, call_data, state, progress, dial_failure, hangup_cause, \
                     channels, created_at, updated_at, ended_at) VALUES ('{id}', 'direct', \
                     'agents', '1001', '5551004', 30, '', '{state}', 'created', {failure}, \
                     {cause}, '', 100, 100, {ended})"
                ))
                .unwrap();
            };
            row("open-1", "ringing", "NULL", "NULL", "NULL");
            row("gone-1", "unavailable", "NULL", "NULL", "120");
            row("gone-2", "hungup", "NULL", "NULL", "120");
            row("seen-1", "busy", "'busy'", "17", "120");
            row("seen-2", "unavailable", "NULL", "34", "120");
        }
        let store = SqliteOriginateStore::open(&path).unwrap();
        let get = |id: &str| {
            store
                .get(&OriginateId::parse(id).unwrap())
                .unwrap()
                .unwrap()
        };
        for (id, vanished) in [
            ("open-1", false),
            ("gone-1", true),
            ("gone-2", true),
            ("seen-1", false),
            ("seen-2", false),
        ] {
            let job = get(id);
            assert_eq!(job.sent_at, Some(UnixTime(100)), "{id}: taken as sent");
            assert_eq!(job.vanished, vanished, "{id}");
            assert!(!job.never_placed(), "{id}");
        }
    }
}
