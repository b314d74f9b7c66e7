//! [`SqliteInstallKeys`]: secret keys made once per install and kept in the engine's SQLite file
//! (table `install_key`), such as the recording links' MAC key. A key is created on first use
//! from the operating system's random source; every later open reads the same one. Keys are
//! never logged.

use std::path::Path;

use password_hash::rand_core::{OsRng, RngCore};
use rusqlite::params;

use crate::core::record_links::{LinkKey, KEY_BYTES};

use super::connection::SharedConnection;
use super::error::StoreError;

/// The name of the recording links' key.
pub const RECORD_LINKS: &str = "record_links";

/// The install's keys in the engine's SQLite file.
#[derive(Debug)]
pub struct SqliteInstallKeys {
    conn: SharedConnection,
}

impl SqliteInstallKeys {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, false)?,
        })
    }

    /// The key `name`, made now if the install has none yet (two engines racing on a new file
    /// both end with the one that was stored first).
    fn key(&self, name: &str) -> Result<[u8; KEY_BYTES], StoreError> {
        let mut fresh = [0u8; KEY_BYTES];
        OsRng.fill_bytes(&mut fresh);
        let conn = self.conn.lock();
        conn.execute(
            "INSERT OR IGNORE INTO install_key (name, key) VALUES (?1, ?2)",
            params![name, &fresh[..]],
        )?;
        let stored: Vec<u8> =
            conn.query_row("SELECT key FROM install_key WHERE name = ?1", [name], |r| {
                r.get(0)
            })?;
        <[u8; KEY_BYTES]>::try_from(stored.as_slice())
            .map_err(|_| StoreError::Corrupt(format!("install key {name}: wrong length")))
    }

    /// The recording links' key.
    pub fn record_links_key(&self) -> Result<LinkKey, StoreError> {
        self.key(RECORD_LINKS).map(LinkKey::from_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_and_kept() {
        let dir = crate::test_support::TempDir::new("install-keys");
        let path = dir.path().join("s.db");
        let a = SqliteInstallKeys::open(&path)
            .unwrap()
            .record_links_key()
            .unwrap();
        let b = SqliteInstallKeys::open(&path)
            .unwrap()
            .record_links_key()
            .unwrap();
        assert_eq!(a, b);
        let other = crate::test_support::TempDir::new("install-keys-2");
        let c = SqliteInstallKeys::open(&other.path().join("s.db"))
            .unwrap()
            .record_links_key()
            .unwrap();
        assert_ne!(a, c, "each install has its own key");
    }
}
