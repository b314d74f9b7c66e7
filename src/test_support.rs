//! Helpers for the crate's unit tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::core::directory::DirectoryStore;
use crate::core::{
    CdrRecord, JournalReader, JournalStore, PortError, QueueLogRecord, TimeRange, UnixTime,
};

/// A fresh directory under the system's temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "centralita-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PBX's channel naming (tests of the layers above the adapter name the port).
pub(crate) fn naming() -> Arc<dyn crate::core::naming::ChannelNaming> {
    Arc::new(crate::asterisk::naming::AsteriskNaming)
}

/// The SQLite directory of a fresh store in `dir` (tests of the layers above the store name
/// the port, not the adapter).
pub(crate) fn directory(dir: &TempDir) -> Arc<dyn DirectoryStore> {
    Arc::new(crate::store::SqliteDirectory::open(&dir.path().join("s.db")).unwrap())
}

/// The journal's writer over the store at `path` (what ingestion appends through).
pub(crate) fn journal_writer(path: &Path) -> Box<dyn JournalStore + Send> {
    Box::new(crate::store::SqliteJournal::open(path).unwrap())
}

/// Appends queue_log lines `(callid, agent, event, data)` of `queue` to the journal of the
/// store at `path`, as ingestion does: the `i`-th of `n` at `from + span * i / n`.
pub(crate) fn append_queue_lines(
    path: &Path,
    queue: &str,
    from: i64,
    span: i64,
    lines: Vec<(&str, &str, crate::core::QueueEvent, Vec<&str>)>,
) {
    use crate::core::journal::{FileId, LogPosition, SourceCursor, SourceId};
    let at = |offset| LogPosition {
        file: FileId {
            dev: 1,
            ino: 1,
            created_ns: 0,
        },
        offset,
    };
    let n = lines.len() as i64;
    let records: Vec<_> = lines
        .into_iter()
        .enumerate()
        .map(|(i, (callid, agent, event, data))| QueueLogRecord {
            position: at(i as u64 * 50),
            time: UnixTime(from + span * i as i64 / n),
            callid: callid.into(),
            queue: queue.into(),
            agent: agent.into(),
            event,
            data: data.into_iter().map(str::to_owned).collect(),
        })
        .collect();
    journal_writer(path)
        .append_queue_log(
            &SourceId::new("queue_log"),
            &records,
            SourceCursor::File(at(n as u64 * 50)),
        )
        .unwrap();
}

/// The facades' services over the stores named by `config` (as the engine opens them).
pub(crate) fn services(config: Arc<crate::config::Config>) -> crate::facades::Services {
    crate::app::open_services(config).unwrap()
}

/// The journal reader of the engine, except that the first long `cdrs` read takes its pooled
/// connection and then waits for the test's signal before reading: the report is "running"
/// (holding a read connection) exactly as long as the test wants.
pub(crate) struct HeldReport {
    pool: Arc<crate::store::SqliteJournalReader>,
    entered: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    release: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl JournalReader for HeldReport {
    fn cdrs(&self, range: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
        let hold = range.to.seconds() - range.from.seconds() > 30 * 86_400;
        let release = if hold {
            self.release.lock().unwrap().take()
        } else {
            None
        };
        match release {
            Some(release) => self.pool.read(|lent| {
                if let Some(tx) = self.entered.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                let _ = release.recv();
                lent.cdrs(range)
            }),
            None => self.pool.cdrs(range),
        }
    }
    fn cdrs_of_call(&self, id: &str) -> Result<Vec<CdrRecord>, PortError> {
        self.pool.cdrs_of_call(id)
    }
    fn queue_log(&self, range: TimeRange) -> Result<Vec<QueueLogRecord>, PortError> {
        self.pool.queue_log(range)
    }
    fn queue_log_matching(
        &self,
        range: TimeRange,
        queues: &[String],
        agents: &[String],
    ) -> Result<Vec<QueueLogRecord>, PortError> {
        self.pool.queue_log_matching(range, queues, agents)
    }
    fn queue_log_state(&self, before: UnixTime) -> Result<Vec<QueueLogRecord>, PortError> {
        self.pool.queue_log_state(before)
    }
}

/// A [`HeldReport`] over a pool of `connections` to the journal at `path`: `entered` fires when
/// the first long read holds its connection, which it keeps until `release` receives.
pub(crate) fn held_report(
    path: &Path,
    connections: usize,
    entered: tokio::sync::oneshot::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
) -> crate::core::Journal {
    crate::core::Journal::new(Arc::new(HeldReport {
        pool: Arc::new(crate::store::SqliteJournalReader::open(path, connections).unwrap()),
        entered: std::sync::Mutex::new(Some(entered)),
        release: std::sync::Mutex::new(Some(release)),
    }))
}
