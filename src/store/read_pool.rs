//! [`SqliteJournalReader`]: the journal reader port on a pool of query-only connections.
//!
//! WAL lets readers run beside the writer (the ingestor's own connection) and beside each
//! other, so every facade's reports and lookups share this pool instead of one connection
//! behind one lock: a 93-day export holds one connection while the others keep answering.
//! At most `size` connections are open; a caller past that waits for one to come back.
//! Connections are opened on demand (`PRAGMA query_only = ON`: a read connection can never
//! write) and kept for reuse.
//!
//! Panics: a connection whose caller panicked is closed rather than reused, and the pool's own
//! lock is taken over if poisoned, so a panic never disables reads.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OpenFlags};

use crate::core::{
    CdrRecord, JournalReader, JournalStore, PortError, QueueLogRecord, TimeRange, UnixTime,
};

use super::connection::{open_connection, OpenMode, BUSY_TIMEOUT};
use super::error::StoreError;
use super::sqlite::SqliteJournal;

/// Default number of read connections.
pub const DEFAULT_READ_CONNECTIONS: usize = 4;

#[derive(Debug, Default)]
struct Slots {
    idle: Vec<SqliteJournal>,
    /// Connections open, idle or lent.
    open: usize,
}

/// The journal reader over a pool of read connections to the store at one path.
#[derive(Debug)]
pub struct SqliteJournalReader {
    path: PathBuf,
    size: usize,
    slots: Mutex<Slots>,
    returned: Condvar,
}

/// A lent connection; back to the pool when dropped (closed instead if its user panicked).
struct Lent<'a> {
    pool: &'a SqliteJournalReader,
    journal: Option<SqliteJournal>,
}

impl std::ops::Deref for Lent<'_> {
    type Target = SqliteJournal;
    fn deref(&self) -> &SqliteJournal {
        self.journal.as_ref().expect("lent until dropped")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let journal = self.journal.take();
        let mut slots = self.pool.lock();
        match journal {
            Some(j) if !std::thread::panicking() => slots.idle.push(j),
            _ => slots.open -= 1,
        }
        drop(slots);
        self.pool.returned.notify_one();
    }
}

impl SqliteJournalReader {
    /// A pool of at most `size` (at least 1) read connections to the store at `path`, which is
    /// created and migrated if needed. One connection is opened now, so a bad path fails here.
    pub fn open(path: &Path, size: usize) -> Result<Self, StoreError> {
        drop(open_connection(path, OpenMode::Migrate)?);
        let pool = Self {
            path: path.to_owned(),
            size: size.max(1),
            slots: Mutex::new(Slots::default()),
            returned: Condvar::new(),
        };
        let first = pool.connect()?;
        let mut slots = pool.lock();
        slots.idle.push(first);
        slots.open = 1;
        drop(slots);
        Ok(pool)
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self) -> Result<SqliteJournal, StoreError> {
        let open_err = |source| StoreError::Open {
            path: self.path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.execute_batch("PRAGMA query_only = ON;")
            .map_err(open_err)?;
        Ok(SqliteJournal::from_connection(conn))
    }

    /// A connection: an idle one, a new one while fewer than `size` are open, else the first
    /// one given back.
    fn lend(&self) -> Result<Lent<'_>, StoreError> {
        let mut slots = self.lock();
        loop {
            if let Some(j) = slots.idle.pop() {
                return Ok(Lent {
                    pool: self,
                    journal: Some(j),
                });
            }
            if slots.open < self.size {
                slots.open += 1;
                drop(slots);
                return match self.connect() {
                    Ok(j) => Ok(Lent {
                        pool: self,
                        journal: Some(j),
                    }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            slots = self
                .returned
                .wait(slots)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Runs `f` on a lent connection.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&SqliteJournal) -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        let lent = self.lend().map_err(PortError::from)?;
        f(&lent)
    }

    /// How many connections are open (idle or lent).
    pub fn open_connections(&self) -> usize {
        self.lock().open
    }
}

impl JournalReader for SqliteJournalReader {
    fn cdrs(&self, range: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
        self.read(|j| j.cdrs(range))
    }

    fn cdrs_ended(&self, since: UnixTime, ended: TimeRange) -> Result<Vec<CdrRecord>, PortError> {
        self.read(|j| j.cdrs_ended(since, ended))
    }

    fn cdrs_of_call(&self, id: &str) -> Result<Vec<CdrRecord>, PortError> {
        self.read(|j| j.cdrs_of_call(id))
    }

    fn queue_log(&self, range: TimeRange) -> Result<Vec<QueueLogRecord>, PortError> {
        self.read(|j| j.queue_log(range))
    }

    fn queue_log_matching(
        &self,
        range: TimeRange,
        queues: &[String],
        agents: &[String],
    ) -> Result<Vec<QueueLogRecord>, PortError> {
        self.read(|j| j.queue_log_matching(range, queues, agents))
    }

    fn queue_log_state(&self, before: UnixTime) -> Result<Vec<QueueLogRecord>, PortError> {
        self.read(|j| j.queue_log_state(before))
    }

    fn queue_log_of_call(&self, callid: &str) -> Result<Vec<QueueLogRecord>, PortError> {
        self.read(|j| j.queue_log_of_call(callid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{SourceCursor, SourceId};
    use crate::test_support::TempDir;
    use std::sync::Arc;

    fn seeded(dir: &TempDir) -> PathBuf {
        let path = dir.path().join("j.db");
        let mut w = SqliteJournal::open(&path).unwrap();
        let cdrs: Vec<CdrRecord> = (1..=3)
            .map(|i| crate::store::sqlite::tests::cdr(i, 1_000 + i))
            .collect();
        w.append_cdrs(&SourceId::new("cdr"), &cdrs, SourceCursor::Rowid(3))
            .unwrap();
        path
    }

    #[test]
    fn readers_run_side_by_side_up_to_the_size_and_cannot_write() {
        let dir = TempDir::new("read-pool");
        let path = seeded(&dir);
        let pool = Arc::new(SqliteJournalReader::open(&path, 2).unwrap());
        // Two lent at once: both open, both read.
        let a = pool.lend().unwrap();
        let b = pool.lend().unwrap();
        assert_eq!(pool.open_connections(), 2);
        assert_eq!(a.cdrs(TimeRange::all()).unwrap().len(), 3);
        assert_eq!(b.cdrs(TimeRange::all()).unwrap().len(), 3);
        // A third caller waits for one to come back.
        let (tx, rx) = std::sync::mpsc::channel();
        let p = pool.clone();
        let waiter = std::thread::spawn(move || {
            tx.send(p.cdrs(TimeRange::all()).unwrap().len()).unwrap();
        });
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_err());
        drop(a);
        assert_eq!(rx.recv().unwrap(), 3);
        waiter.join().unwrap();
        drop(b);
        assert_eq!(pool.open_connections(), 2);
        // query_only: a read connection refuses writes.
        let err = pool
            .read(|j| {
                Ok(j.connection()
                    .execute_batch("DELETE FROM cdr")
                    .map_err(StoreError::from)?)
            })
            .unwrap_err();
        assert!(
            crate::core::error_chain(err.as_ref()).contains("readonly"),
            "{}",
            crate::core::error_chain(err.as_ref())
        );
        assert_eq!(pool.cdrs(TimeRange::all()).unwrap().len(), 3);
    }

    #[test]
    fn a_panic_while_holding_a_connection_does_not_disable_reads() {
        let dir = TempDir::new("read-pool");
        let path = seeded(&dir);
        let pool = Arc::new(SqliteJournalReader::open(&path, 1).unwrap());
        let p = pool.clone();
        let panicked = std::thread::spawn(move || {
            let _lent = p.lend().unwrap();
            // The pool's lock is poisoned too (held while the thread unwinds).
            let _slots = p.lock();
            panic!("a report panicked");
        })
        .join();
        assert!(panicked.is_err());
        assert!(pool.slots.is_poisoned());
        // The only connection was closed, not leaked: the pool opens a fresh one.
        assert_eq!(pool.cdrs(TimeRange::all()).unwrap().len(), 3);
        assert_eq!(pool.open_connections(), 1);
    }
}
