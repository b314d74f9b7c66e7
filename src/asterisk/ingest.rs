//! CDR and `queue_log` ingestion: drains Asterisk's two history sources into the journal through
//! the core's [`JournalStore`] port, with durable cursors.
//!
//! - [`Ingestor`] is the synchronous worker: [`Ingestor::poll`] drains both sources in batches;
//!   every batch is appended together with its source's new cursor in one store transaction, so
//!   a crash at any moment neither loses nor duplicates a record. On a store failure the source is
//!   rewound to the last committed cursor and retried on the next poll.
//! - [`IngestHandle::spawn`] runs it on its own thread (SQLite and file reads block) every
//!   `poll_interval`, or earlier on [`IngestHandle::wake`] (e.g. on an AMI `Cdr` event). It does
//!   not depend on AMI: ingestion goes on while AMI is down.
//! - Shutdown ([`IngestHandle::shutdown`]) is checked between batches: the batch in flight is
//!   committed (or not at all), then the thread ends.
//! - Progress ([`IngestProgress`]: last record time per source, last complete poll, last error) is
//!   published on a watch channel, for health checks.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::core::{error_chain, JournalStore, LogPosition, SourceCursor, SourceId, UnixTime};

use super::cdr_source::{CdrSource, CdrSourceError};
use super::queue_log::QueueLogFollower;

/// Default time between polls.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Default records per batch (one store transaction each).
pub const DEFAULT_BATCH_SIZE: usize = 500;

/// What to ingest, and how often.
#[derive(Clone, Debug)]
pub struct IngestSettings {
    /// Asterisk's CDR database (`master.db`).
    pub cdr_db: PathBuf,
    /// Asterisk's `queue_log` file.
    pub queue_log: PathBuf,
    /// Time between polls. Default 500 ms.
    pub poll_interval: Duration,
    /// Records per batch. Default 500.
    pub batch_size: usize,
    /// The journal's name for the CDR source (its cursor's key). Default `cdr`.
    pub cdr_source: SourceId,
    /// The journal's name for the `queue_log` source. Default `queue_log`.
    pub queue_log_source: SourceId,
}

impl IngestSettings {
    /// Settings with the documented defaults.
    pub fn new(cdr_db: impl Into<PathBuf>, queue_log: impl Into<PathBuf>) -> Self {
        Self {
            cdr_db: cdr_db.into(),
            queue_log: queue_log.into(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            batch_size: DEFAULT_BATCH_SIZE,
            cdr_source: SourceId::new("cdr"),
            queue_log_source: SourceId::new("queue_log"),
        }
    }
}

/// How far one source has been ingested.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceProgress {
    /// The time of the newest record ingested since start (CDR: its end; queue_log: its time).
    pub last_record_time: Option<UnixTime>,
    /// Records stored since start.
    pub ingested: u64,
    /// Whether the last poll read this source to its end.
    pub caught_up: bool,
}

/// How far ingestion is, for health checks: `now - last_complete_poll` is how far behind it may
/// be; `last_record_time` is what it has seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestProgress {
    /// The CDR source.
    pub cdr: SourceProgress,
    /// The `queue_log` source.
    pub queue_log: SourceProgress,
    /// When a poll last drained both sources without error.
    pub last_complete_poll: Option<SystemTime>,
    /// The last error, cleared by a complete poll.
    pub last_error: Option<String>,
}

/// Why a poll stopped early. The worker logs it and retries on the next poll.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The store failed (the batch was not committed).
    #[error("journal store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Asterisk's CDR database could not be read.
    #[error(transparent)]
    Cdr(#[from] CdrSourceError),
    /// The `queue_log` file could not be read.
    #[error("cannot read queue_log {path}")]
    QueueLog {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The store holds a cursor of the wrong kind for a source.
    #[error("the journal's cursor for `{source_id}` is {found:?}, not a {expected} cursor")]
    CursorKind {
        /// The source.
        source_id: SourceId,
        /// The cursor found.
        found: SourceCursor,
        /// The kind expected.
        expected: &'static str,
    },
}

fn store_err(e: crate::core::PortError) -> IngestError {
    IngestError::Store(e)
}

/// The synchronous ingestion worker over a store `S`.
#[derive(Debug)]
pub struct Ingestor<S> {
    store: S,
    settings: IngestSettings,
    cdr: CdrSource,
    /// The last committed CDR cursor (`AcctId`).
    cdr_cursor: i64,
    queue_log: QueueLogFollower,
    /// The last committed queue_log cursor.
    queue_log_cursor: Option<LogPosition>,
    progress: IngestProgress,
}

impl<S: JournalStore> Ingestor<S> {
    /// A worker resuming from the cursors committed in `store`.
    pub fn new(store: S, settings: IngestSettings) -> Result<Self, IngestError> {
        let cdr_cursor = match store.cursor(&settings.cdr_source).map_err(store_err)? {
            None => 0,
            Some(SourceCursor::Rowid(r)) => r,
            Some(found) => {
                return Err(IngestError::CursorKind {
                    source_id: settings.cdr_source.clone(),
                    found,
                    expected: "rowid",
                })
            }
        };
        let queue_log_cursor = match store
            .cursor(&settings.queue_log_source)
            .map_err(store_err)?
        {
            None => None,
            Some(SourceCursor::File(p)) => Some(p),
            Some(found) => {
                return Err(IngestError::CursorKind {
                    source_id: settings.queue_log_source.clone(),
                    found,
                    expected: "file",
                })
            }
        };
        info!(
            cdr_db = %settings.cdr_db.display(),
            cdr_after = cdr_cursor,
            queue_log = %settings.queue_log.display(),
            queue_log_at = ?queue_log_cursor,
            "ingestion resumes"
        );
        Ok(Self {
            cdr: CdrSource::new(&settings.cdr_db),
            queue_log: QueueLogFollower::new(&settings.queue_log, queue_log_cursor),
            store,
            settings,
            cdr_cursor,
            queue_log_cursor,
            progress: IngestProgress::default(),
        })
    }

    /// The progress so far.
    pub fn progress(&self) -> &IngestProgress {
        &self.progress
    }

    /// The store (e.g. to query it in tests).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Drains both sources, batch by batch, until each is read to its end or `stop` is set. Both
    /// sources are tried even if the first fails; the first error is returned.
    pub fn poll(&mut self, stop: &AtomicBool) -> Result<(), IngestError> {
        let cdr = self.drain_cdrs(stop);
        let queue_log = self.drain_queue_log(stop);
        self.progress.cdr.caught_up = matches!(cdr, Ok(true));
        self.progress.queue_log.caught_up = matches!(queue_log, Ok(true));
        match cdr.and(queue_log) {
            Ok(done) => {
                if done {
                    self.progress.last_complete_poll = Some(SystemTime::now());
                    self.progress.last_error = None;
                }
                Ok(())
            }
            Err(e) => {
                self.progress.last_error = Some(error_chain(&e));
                Err(e)
            }
        }
    }

    /// Returns whether the source was read to its end.
    fn drain_cdrs(&mut self, stop: &AtomicBool) -> Result<bool, IngestError> {
        let limit = self.settings.batch_size.max(1);
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            let batch = self.cdr.read_batch(self.cdr_cursor, limit)?;
            let Some(last) = batch.last() else {
                return Ok(true);
            };
            let cursor = last.source_rowid;
            let outcome = self
                .store
                .append_cdrs(
                    &self.settings.cdr_source,
                    &batch,
                    SourceCursor::Rowid(cursor),
                )
                .map_err(store_err)?;
            self.cdr_cursor = cursor;
            if outcome.duplicates > 0 {
                warn!(
                    duplicates = outcome.duplicates,
                    "CDRs already in the journal were offered again"
                );
            }
            let p = &mut self.progress.cdr;
            p.ingested += outcome.inserted;
            p.last_record_time = batch.iter().map(|c| c.end).chain(p.last_record_time).max();
            debug!(rows = batch.len(), after = cursor, "CDR batch ingested");
            if batch.len() < limit {
                return Ok(true);
            }
        }
    }

    /// Returns whether the source was read to its end.
    fn drain_queue_log(&mut self, stop: &AtomicBool) -> Result<bool, IngestError> {
        let limit = self.settings.batch_size.max(1);
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            let batch =
                self.queue_log
                    .read_batch(limit)
                    .map_err(|source| IngestError::QueueLog {
                        path: self.settings.queue_log.clone(),
                        source,
                    })?;
            let Some(cursor) = batch.cursor.filter(|c| Some(*c) != self.queue_log_cursor) else {
                return Ok(true);
            };
            let appended = self.store.append_queue_log(
                &self.settings.queue_log_source,
                &batch.records,
                SourceCursor::File(cursor),
            );
            let outcome = match appended {
                Ok(o) => o,
                Err(e) => {
                    // The follower is ahead of the committed cursor: rewind it.
                    self.queue_log =
                        QueueLogFollower::new(&self.settings.queue_log, self.queue_log_cursor);
                    return Err(store_err(e));
                }
            };
            self.queue_log_cursor = Some(cursor);
            if outcome.duplicates > 0 {
                warn!(
                    duplicates = outcome.duplicates,
                    "queue_log records already in the journal were offered again"
                );
            }
            let p = &mut self.progress.queue_log;
            p.ingested += outcome.inserted;
            p.last_record_time = batch
                .records
                .iter()
                .map(|r| r.time)
                .chain(p.last_record_time)
                .max();
            debug!(
                records = batch.records.len(),
                offset = cursor.offset,
                "queue_log batch ingested"
            );
        }
    }
}

/// Work run on the ingestion thread after every poll; `Err` carries a loggable text.
pub type AfterPoll = Box<dyn FnMut() -> Result<(), String> + Send>;

/// The running ingestion thread. Dropping the handle asks the thread to stop without waiting.
#[derive(Debug)]
pub struct IngestHandle {
    wake: mpsc::Sender<()>,
    stop: Arc<AtomicBool>,
    progress: watch::Receiver<IngestProgress>,
    thread: Option<JoinHandle<()>>,
}

impl IngestHandle {
    /// Starts ingesting from the cursors committed in `store`, on a thread of its own.
    pub fn spawn<S>(store: S, settings: IngestSettings) -> Result<Self, IngestError>
    where
        S: JournalStore + Send + 'static,
    {
        Self::spawn_with_hook(store, settings, None)
    }

    /// As [`IngestHandle::spawn`], running `after_poll` on the ingestion thread after every poll
    /// (e.g. the recordings cataloguer, which follows the journal with its own durable cursor).
    /// Its errors are logged once per distinct text and retried on the next poll.
    pub fn spawn_with_hook<S>(
        store: S,
        settings: IngestSettings,
        mut after_poll: Option<AfterPoll>,
    ) -> Result<Self, IngestError>
    where
        S: JournalStore + Send + 'static,
    {
        let mut ingestor = Ingestor::new(store, settings)?;
        let (wake_tx, wake_rx) = mpsc::channel::<()>();
        let stop = Arc::new(AtomicBool::new(false));
        let (progress_tx, progress_rx) = watch::channel(IngestProgress::default());
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ingest".into())
            .spawn(move || {
                let interval = ingestor.settings.poll_interval;
                let mut last_error: Option<String> = None;
                let mut hook_error: Option<String> = None;
                while !thread_stop.load(Ordering::Relaxed) {
                    match ingestor.poll(&thread_stop) {
                        Ok(()) => {
                            if last_error.take().is_some() {
                                info!("ingestion recovered");
                            }
                        }
                        Err(e) => {
                            // Log each distinct failure once, not every poll.
                            let text = error_chain(&e);
                            if last_error.as_deref() != Some(text.as_str()) {
                                warn!(error = %text, "ingestion failed; retrying every poll");
                            }
                            last_error = Some(text);
                        }
                    }
                    if let Some(hook) = after_poll.as_mut() {
                        match hook() {
                            Ok(()) => hook_error = None,
                            Err(text) => {
                                if hook_error.as_deref() != Some(text.as_str()) {
                                    warn!(error = %text, "after-poll hook failed; retrying every poll");
                                }
                                hook_error = Some(text);
                            }
                        }
                    }
                    progress_tx.send_replace(ingestor.progress().clone());
                    match wake_rx.recv_timeout(interval) {
                        Ok(()) => while wake_rx.try_recv().is_ok() {},
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                info!("ingestion stopped");
            })
            .map_err(|e| IngestError::Store(Box::new(e)))?;
        Ok(Self {
            wake: wake_tx,
            stop,
            progress: progress_rx,
            thread: Some(thread),
        })
    }

    /// Polls now instead of at the next interval (e.g. Asterisk just announced a CDR).
    pub fn wake(&self) {
        let _ = self.wake.send(());
    }

    /// The progress, updated after every poll.
    pub fn progress(&self) -> watch::Receiver<IngestProgress> {
        self.progress.clone()
    }

    /// Stops after the batch in flight is committed (or abandoned) and waits for the thread.
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.wake.send(());
        if let Some(thread) = self.thread.take() {
            if tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_or(true, |r| r.is_err())
            {
                warn!("the ingestion thread panicked");
            }
        }
    }
}

impl Drop for IngestHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.wake.send(());
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use rusqlite::Connection;

    use super::*;
    use crate::core::TimeRange;
    use crate::store::SqliteJournal;
    use crate::test_support::TempDir;

    const ASTERISK_SCHEMA: &str = "CREATE TABLE cdr (AcctId INTEGER PRIMARY KEY, clid,src,dst,\
        dcontext,channel,dstchannel,lastapp,lastdata,duration,billsec,disposition,amaflags,\
        accountcode,uniqueid,linkedid,sequence,peeraccount,userfield,start_epoch,answer_epoch,\
        end_epoch,recordingfile,calldata)";

    struct Lab {
        dir: TempDir,
        master: Connection,
    }

    impl Lab {
        fn new(tag: &str) -> Self {
            let dir = TempDir::new(tag);
            let master = Connection::open(dir.path().join("master.db")).unwrap();
            master.execute_batch(ASTERISK_SCHEMA).unwrap();
            Self { dir, master }
        }

        fn settings(&self) -> IngestSettings {
            let mut s = IngestSettings::new(
                self.dir.path().join("master.db"),
                self.dir.path().join("queue_log"),
            );
            s.batch_size = 3;
            s
        }

        fn journal(&self) -> SqliteJournal {
            SqliteJournal::open(&self.dir.path().join("journal.db")).unwrap()
        }

        fn call(&self, n: i64) {
            let id = format!("pbx1-{n}.0");
            self.master
                .execute(
                    "INSERT INTO cdr (uniqueid, linkedid, sequence, channel, disposition, \
                     duration, billsec, start_epoch, answer_epoch, end_epoch) VALUES \
                     (?1, ?1, ?2, 'PJSIP/carrier-1', 'ANSWERED', '5', '3', ?3, ?4, ?5)",
                    rusqlite::params![id, n, 1000 + n, 1002 + n, 1005 + n],
                )
                .unwrap();
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join("queue_log"))
                .unwrap();
            write!(
                f,
                "{}|{id}|q_ventas|NONE|ENTERQUEUE||0977{n:06}|1\n{}|{id}|q_ventas|1006|CONNECT|2|x|1\n",
                1000 + n,
                1002 + n
            )
            .unwrap();
        }
    }

    fn stored(j: &SqliteJournal) -> (Vec<i64>, Vec<(String, String)>) {
        let cdrs = j
            .cdrs(TimeRange::all())
            .unwrap()
            .into_iter()
            .map(|c| c.source_rowid)
            .collect();
        let ql = j
            .queue_log(TimeRange::all())
            .unwrap()
            .into_iter()
            .map(|r| (r.callid, r.event.as_str().to_owned()))
            .collect();
        (cdrs, ql)
    }

    #[test]
    fn ingests_both_sources_and_resumes_after_a_crash_without_loss_or_duplicate() {
        let lab = Lab::new("ingest-crash");
        let never = AtomicBool::new(false);
        for n in 1..=4 {
            lab.call(n);
        }
        let mut ing = Ingestor::new(lab.journal(), lab.settings()).unwrap();
        ing.poll(&never).unwrap();
        assert_eq!(ing.progress().cdr.ingested, 4);
        assert_eq!(ing.progress().queue_log.ingested, 8);
        assert_eq!(ing.progress().cdr.last_record_time, Some(UnixTime(1009)));
        assert!(ing.progress().cdr.caught_up && ing.progress().queue_log.caught_up);
        assert!(ing.progress().last_complete_poll.is_some());

        // More traffic; the engine is "killed" after its first batch of each source.
        for n in 5..=9 {
            lab.call(n);
        }
        ing.one_batch_then_die();

        let mut ing = Ingestor::new(lab.journal(), lab.settings()).unwrap();
        ing.poll(&never).unwrap();
        let (cdrs, ql) = stored(ing.store());
        assert_eq!(cdrs, (1..=9).collect::<Vec<_>>());
        assert_eq!(ql.len(), 18);
        let mut distinct = ql.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 18, "no queue_log record twice");
        assert_eq!(
            ing.store()
                .duplicates_ignored(&SourceId::new("cdr"))
                .unwrap(),
            0
        );
        assert_eq!(
            ing.store()
                .duplicates_ignored(&SourceId::new("queue_log"))
                .unwrap(),
            0
        );
    }

    #[test]
    fn a_stop_request_ends_the_poll_between_batches() {
        let lab = Lab::new("ingest-stop");
        for n in 1..=7 {
            lab.call(n);
        }
        let mut ing = Ingestor::new(lab.journal(), lab.settings()).unwrap();
        ing.poll(&AtomicBool::new(true)).unwrap();
        assert_eq!(stored(ing.store()).0.len(), 0);
        assert!(!ing.progress().cdr.caught_up);
        assert!(ing.progress().last_complete_poll.is_none());
    }

    #[test]
    fn missing_sources_are_not_errors_and_are_picked_up_later() {
        let dir = TempDir::new("ingest-missing");
        let settings =
            IngestSettings::new(dir.path().join("master.db"), dir.path().join("queue_log"));
        let journal = SqliteJournal::open(&dir.path().join("journal.db")).unwrap();
        let mut ing = Ingestor::new(journal, settings).unwrap();
        let never = AtomicBool::new(false);
        ing.poll(&never).unwrap();
        ing.poll(&never).unwrap();
        assert_eq!(ing.progress().last_error, None);

        let master = Connection::open(dir.path().join("master.db")).unwrap();
        master.execute_batch(ASTERISK_SCHEMA).unwrap();
        master
            .execute(
                "INSERT INTO cdr (uniqueid, start_epoch) VALUES ('a', '5')",
                [],
            )
            .unwrap();
        std::fs::write(dir.path().join("queue_log"), "5|a|q|NONE|ENTERQUEUE||1|1\n").unwrap();
        ing.poll(&never).unwrap();
        assert_eq!(ing.store().count_cdrs(TimeRange::all()).unwrap(), 1);
        assert_eq!(ing.store().count_queue_log(TimeRange::all()).unwrap(), 1);
    }

    #[test]
    fn a_store_failure_rewinds_to_the_committed_cursor() {
        let lab = Lab::new("ingest-storefail");
        lab.call(1);
        let mut ing = Ingestor::new(lab.journal(), lab.settings()).unwrap();
        let never = AtomicBool::new(false);
        ing.poll(&never).unwrap();
        lab.call(2);
        // Block the journal's writes from another connection.
        let blocker = Connection::open(lab.dir.path().join("journal.db")).unwrap();
        blocker
            .execute_batch("CREATE TRIGGER no_q BEFORE INSERT ON queue_log BEGIN SELECT RAISE(ABORT, 'full'); END;\
                            CREATE TRIGGER no_c BEFORE INSERT ON cdr BEGIN SELECT RAISE(ABORT, 'full'); END;")
            .unwrap();
        assert!(ing.poll(&never).is_err());
        assert!(ing
            .progress()
            .last_error
            .as_deref()
            .unwrap()
            .contains("full"));
        blocker
            .execute_batch("DROP TRIGGER no_q; DROP TRIGGER no_c;")
            .unwrap();
        ing.poll(&never).unwrap();
        let (cdrs, ql) = stored(ing.store());
        assert_eq!(cdrs, [1, 2]);
        assert_eq!(
            ql.len(),
            4,
            "the queue_log lines read during the failure are not lost"
        );
        assert_eq!(ing.progress().last_error, None);
    }

    #[tokio::test]
    async fn the_thread_polls_wakes_and_shuts_down() {
        let lab = Lab::new("ingest-thread");
        lab.call(1);
        let mut settings = lab.settings();
        settings.poll_interval = Duration::from_secs(3600);
        let handle = IngestHandle::spawn(lab.journal(), settings).unwrap();
        let mut progress = handle.progress();
        tokio::time::timeout(
            Duration::from_secs(10),
            progress.wait_for(|p| p.cdr.ingested == 1),
        )
        .await
        .expect("first poll")
        .unwrap();
        lab.call(2);
        handle.wake();
        tokio::time::timeout(
            Duration::from_secs(10),
            progress.wait_for(|p| p.cdr.ingested == 2 && p.queue_log.ingested == 4),
        )
        .await
        .expect("woken poll, long before the hour-long interval")
        .unwrap();
        tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
            .await
            .expect("shutdown");
        assert_eq!(stored(&lab.journal()).0, [1, 2]);
    }

    impl<S: JournalStore> Ingestor<S> {
        /// Commits exactly one batch of each source and reads one more queue_log batch without
        /// committing it, as if the process died right then.
        fn one_batch_then_die(mut self) {
            let limit = self.settings.batch_size;
            let rows = self.cdr.read_batch(self.cdr_cursor, limit).unwrap();
            let last = rows.last().unwrap().source_rowid;
            self.store
                .append_cdrs(&self.settings.cdr_source, &rows, SourceCursor::Rowid(last))
                .unwrap();
            let b = self.queue_log.read_batch(limit).unwrap();
            self.store
                .append_queue_log(
                    &self.settings.queue_log_source,
                    &b.records,
                    SourceCursor::File(b.cursor.unwrap()),
                )
                .unwrap();
            let _lost_with_the_process = self.queue_log.read_batch(limit).unwrap();
        }
    }
}
