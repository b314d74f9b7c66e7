//! [`open_connection`]: how every store of this module opens its connection to the engine's
//! SQLite file — busy timeout, pragmas, migrations and the schema version check, in one place.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
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
pub(crate) struct SharedConnection(Mutex<Connection>);

impl SharedConnection {
    /// Opens the store at `path` (creating and migrating it if needed) as
    /// [`OpenMode::Beside`].
    pub(crate) fn open_beside(path: &Path, foreign_keys: bool) -> Result<Self, StoreError> {
        open_connection(path, OpenMode::Beside { foreign_keys }).map(|c| Self(Mutex::new(c)))
    }

    /// The connection. A panic in another caller cannot leave it mid-transaction (an open
    /// transaction rolls back when dropped), so a poisoned lock is taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The connection if no other caller holds it.
    pub(crate) fn try_lock(&self) -> std::sync::TryLockResult<MutexGuard<'_, Connection>> {
        self.0.try_lock()
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
