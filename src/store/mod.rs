//! The store: the SQLite implementation of the core's storage ports (today the journal,
//! [`crate::core::JournalStore`]).
//!
//! - [`sqlite`]: [`SqliteJournal`], one connection to one SQLite file in WAL mode with
//!   `synchronous=FULL` (a committed batch survives a power cut).
//! - [`read_pool`]: [`SqliteJournalReader`], the journal reader port (reports, lookups) on a
//!   pool of query-only connections beside the writer.
//! - [`migrations`]: the schema, as an ordered list of migrations keyed on `PRAGMA user_version`.
//! - `connection`: how every store opens its connection (busy timeout, pragmas, migrations,
//!   schema version check).
//! - [`error`]: [`StoreError`], the error of this boundary.
//!
//! **Architecture Invariant:** only this module knows SQL and rusqlite's types for the engine's
//! own data; it converts to and from core types at its edge.

pub mod agent_digest;
pub mod audit;
pub mod campaigns;
mod connection;
pub mod dialer;
pub mod dialer_calls;
pub mod dialer_listing;
pub mod dialer_schedule;
pub mod dialer_uploads;
pub mod directory;
pub mod error;
pub mod hangup_causes;
pub mod install_keys;
pub mod ivr;
pub mod lists;
pub mod migrations;
pub mod originate_jobs;
pub mod read_pool;
pub mod recordings;
pub mod sessions;
pub mod sms;
pub mod sqlite;
pub mod webhooks;

pub use agent_digest::SqliteAgentDigests;
pub use audit::SqliteActionJournal;
pub use campaigns::SqliteCampaigns;
pub use dialer::SqliteDialer;
pub use directory::SqliteDirectory;
pub use error::StoreError;
pub use hangup_causes::SqliteHangupCauses;
pub use install_keys::SqliteInstallKeys;
pub use ivr::SqliteIvr;
pub use lists::SqliteLists;
pub use read_pool::SqliteJournalReader;
pub use recordings::SqliteRecordings;
pub use sessions::SqliteSessions;
pub use sms::SqliteSms;
pub use sqlite::SqliteJournal;
pub use webhooks::SqliteWebhooks;
