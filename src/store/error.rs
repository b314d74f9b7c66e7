//! `StoreError`: everything that can go wrong in the engine's own store.

use std::path::PathBuf;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or configured.
    #[error("cannot open the store {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// SQLite refused WAL mode (e.g. the file is on a filesystem without shared memory).
    #[error("the store cannot use WAL mode (journal_mode stays `{0}`)")]
    NotWal(String),
    /// The file was written by a newer engine.
    #[error("the store's schema version {found} is newer than this engine knows ({known})")]
    SchemaTooNew {
        /// `PRAGMA user_version` of the file.
        found: u32,
        /// The last migration this engine has.
        known: u32,
    },
    /// A migration failed (and was rolled back).
    #[error("migration to schema version {version} failed")]
    Migration {
        /// The version it would have produced.
        version: u32,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A query or a transaction failed.
    #[error("store query failed")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value does not make sense (e.g. an unknown cursor kind).
    #[error("corrupt value in the store: {0}")]
    Corrupt(String),
}

/// A SQLite error as the ports' error (the adapters' one conversion).
pub(super) fn port(e: rusqlite::Error) -> crate::core::PortError {
    Box::new(StoreError::Sqlite(e))
}

/// The error for a stored `what` whose text `value` does not parse.
pub(super) fn bad(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} {value:?} is invalid").into(),
    )
}
