//! [`open_connection`]: how every store of this module opens its connection to the engine's
//! SQLite file — busy timeout, pragmas, migrations and the schema version check, in one place.
//!
//! [`SharedConnection::write_grouped`] is the group commit of a store's writes: writes that
//! arrive while one is being committed are committed together in the next transaction (each in
//! its own savepoint, so one failing write leaves the others), so a burst of N writes costs a
//! few fsyncs instead of N. Each caller still returns only once its write is durable.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::error::StoreError;
use super::migrations::{latest_version, MIGRATIONS};

/// How long a statement waits for another connection's write lock before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// The journal's writer: creates the file if needed, switches it to WAL with
    /// `synchronous=FULL` and foreign keys on, and applies pending migrations. Idempotent.
    Migrate,
    /// A store's own read-write connection beside the journal's (WAL lets them work side by
    /// side): first opens the file as [`OpenMode::Migrate`] does (creating and migrating it,
    /// then closing that connection), then a connection with `synchronous=FULL` and, when asked,
    /// foreign keys on.
    Beside {
        /// `PRAGMA foreign_keys = ON` on the connection.
        foreign_keys: bool,
    },
    /// An existing file, for reading only; fails with [`StoreError::SchemaTooNew`] if the file is
    /// newer than this engine.
    ReadOnly,
}

/// A store's own connection beside the journal's, shared by the threads that call its port.
#[derive(Debug)]
pub(crate) struct SharedConnection {
    conn: Mutex<Connection>,
    group: Mutex<Group>,
    committed: Condvar,
    /// Transactions [`Self::write_grouped`] committed.
    commits: std::sync::atomic::AtomicU64,
}

/// A write waiting for its group's commit.
type Write = Box<dyn FnOnce(&Connection) -> Result<(), StoreError> + Send>;

/// Where a write's outcome is left for its caller.
type Outcome = Arc<Mutex<Option<Result<(), StoreError>>>>;

/// The writes waiting for the next commit, and whether a caller is committing.
#[derive(Default)]
struct Group {
    waiting: Vec<(Write, Outcome)>,
    committing: bool,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("waiting", &self.waiting.len())
            .field("committing", &self.committing)
            .finish()
    }
}

impl SharedConnection {
    /// Opens the store at `path` (creating and migrating it if needed) as
    /// [`OpenMode::Beside`].
    pub(crate) fn open_beside(path: &Path, foreign_keys: bool) -> Result<Self, StoreError> {
        open_connection(path, OpenMode::Beside { foreign_keys }).map(|c| Self {
            conn: Mutex::new(c),
            group: Mutex::new(Group::default()),
            committed: Condvar::new(),
            commits: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The connection. A panic in another caller cannot leave it mid-transaction (an open
    /// transaction rolls back when dropped), so a poisoned lock is taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the connection, its SQLite error as the ports' error.
    pub(crate) fn query<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, crate::core::PortError> {
        f(&mut self.lock()).map_err(super::error::port)
    }

    /// The connection if no other caller holds it.
    pub(crate) fn try_lock(&self) -> std::sync::TryLockResult<MutexGuard<'_, Connection>> {
        self.conn.try_lock()
    }

    fn group(&self) -> MutexGuard<'_, Group> {
        self.group.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `write` in a transaction shared with the writes that arrive meanwhile, and
    /// returns once that transaction is committed (or `write` failed; its savepoint is then
    /// rolled back and the others are committed). The first caller to find no commit running
    /// commits every waiting write, batch after batch, until none waits.
    pub(crate) fn write_grouped(
        &self,
        write: impl FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        let outcome: Outcome = Arc::new(Mutex::new(None));
        let mut group = self.group();
        group.waiting.push((Box::new(write), outcome.clone()));
        if group.committing {
            loop {
                if let Some(done) = outcome
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                {
                    return done;
                }
                group = self
                    .committed
                    .wait(group)
                    .unwrap_or_else(PoisonError::into_inner);
                // The committer may have stopped (its batch done) with writes still waiting:
                // the next one to wake commits them.
                if !group.committing && !group.waiting.is_empty() {
                    break;
                }
            }
        }
        group.committing = true;
        loop {
            let batch = std::mem::take(&mut group.waiting);
            drop(group);
            self.commit(batch);
            group = self.group();
            self.committed.notify_all();
            if group.waiting.is_empty() {
                group.committing = false;
                break;
            }
        }
        drop(group);
        let done = outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        done.unwrap_or_else(|| Err(StoreError::Corrupt("a grouped write was lost".into())))
    }

    /// Commits `batch` in one transaction, each write in its own savepoint, and leaves each
    /// write's outcome. A write that panics counts as failed.
    fn commit(&self, batch: Vec<(Write, Outcome)>) {
        let conn = self.lock();
        let mut outcomes = Vec::with_capacity(batch.len());
        let begun = conn.execute_batch("BEGIN IMMEDIATE");
        for (write, outcome) in batch {
            let result = match &begun {
                Err(e) => Err(StoreError::Corrupt(format!("cannot begin a write: {e}"))),
                Ok(()) => conn
                    .execute_batch("SAVEPOINT grouped_write")
                    .map_err(StoreError::from)
                    .and_then(|()| {
                        catch_unwind(AssertUnwindSafe(|| write(&conn)))
                            .unwrap_or_else(|_| Err(StoreError::Corrupt("a write panicked".into())))
                    })
                    .and_then(|()| {
                        conn.execute_batch("RELEASE grouped_write")
                            .map_err(StoreError::from)
                    })
                    .inspect_err(|_| {
                        let _ =
                            conn.execute_batch("ROLLBACK TO grouped_write; RELEASE grouped_write");
                    }),
            };
            outcomes.push((outcome, result));
        }
        if begun.is_ok() {
            self.commits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = conn.execute_batch("COMMIT") {
                let _ = conn.execute_batch("ROLLBACK");
                for (_, result) in &mut outcomes {
                    if result.is_ok() {
                        *result = Err(StoreError::Corrupt(format!("commit failed: {e}")));
                    }
                }
            }
        }
        drop(conn);
        for (outcome, result) in outcomes {
            *outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        }
    }
}

/// Opens a connection to the store at `path` as `mode` says.
pub(crate) fn open_connection(path: &Path, mode: OpenMode) -> Result<Connection, StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    match mode {
        OpenMode::Migrate => {
            let mut conn = Connection::open(path).map_err(open_err)?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
            let journal_mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(open_err)?;
            if !journal_mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::NotWal(journal_mode));
            }
            conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
                .map_err(open_err)?;
            migrate(&mut conn)?;
            Ok(conn)
        }
        OpenMode::Beside { foreign_keys } => {
            drop(open_connection(path, OpenMode::Migrate)?);
            let conn = Connection::open(path).map_err(open_err)?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
            let pragmas = if foreign_keys {
                "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
            } else {
                "PRAGMA synchronous = FULL;"
            };
            conn.execute_batch(pragmas).map_err(open_err)?;
            Ok(conn)
        }
        OpenMode::ReadOnly => {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(open_err)?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
            known_schema_version(&conn)?;
            Ok(conn)
        }
    }
}

/// The file's schema version (`PRAGMA user_version`).
pub(crate) fn schema_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("user_version {v}")))
}

/// The file's schema version, or [`StoreError::SchemaTooNew`] if this engine does not know it.
fn known_schema_version(conn: &Connection) -> Result<u32, StoreError> {
    let found = schema_version(conn)?;
    let known = latest_version();
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    Ok(found)
}

/// Applies the migrations the file lacks, each in its own transaction with its version bump.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = known_schema_version(conn)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut apply = || -> Result<(), rusqlite::Error> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another process may have migrated between our read and our lock.
            let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now < i64::from(version) {
                tx.execute_batch(sql)?;
                tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
            }
            tx.commit()
        };
        apply().map_err(|source| StoreError::Migration { version, source })?;
        tracing::info!(version, "store migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn concurrent_writes_share_commits_and_a_failing_one_leaves_the_others() {
        let dir = TempDir::new("group-commit");
        let path = dir.path().join("store.db");
        let shared = Arc::new(SharedConnection::open_beside(&path, false).unwrap());
        shared
            .lock()
            .execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .unwrap();
        // The connection held, as by a slow commit: the first writer takes its batch of one
        // and waits for it; the 63 others queue behind it.
        let held = shared.lock();
        let writers: Vec<_> = (0..64)
            .map(|i| {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    shared.write_grouped(move |c| {
                        // Writer 13 inserts a row that is already there: it fails alone.
                        let n = if i == 13 { 0 } else { i };
                        c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                        if i == 7 {
                            panic!("a write that panics");
                        }
                        Ok(())
                    })
                })
            })
            .collect();
        while shared.group().waiting.len() < 63 {
            std::thread::yield_now();
        }
        drop(held);
        let results: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        let failed: Vec<usize> = (0..64).filter(|&i| results[i].is_err()).collect();
        // 13 fails unless it ran before 0 (then 0 fails); 7 panicked.
        assert!(failed == [7, 13] || failed == [0, 7], "{failed:?}");
        let rows: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            rows, 62,
            "every other write is durable, the panicking one rolled back"
        );
        let commits = shared.commits.load(Ordering::Relaxed);
        assert_eq!(
            commits, 2,
            "the first write alone, then the 63 that queued behind it"
        );
        // A write after the burst still commits on its own.
        shared
            .write_grouped(|c| {
                c.execute("INSERT INTO t (n) VALUES (100)", [])?;
                Ok(())
            })
            .unwrap();
        assert_eq!(shared.commits.load(Ordering::Relaxed), commits + 1);
    }
}
