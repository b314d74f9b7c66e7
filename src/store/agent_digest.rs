//! [`SqliteAgentDigests`]: the core's [`AgentDigestStore`] port on the engine's SQLite file
//! (table `agent_password_digest`): one Argon2id hash of the MD5 digest of each agent's
//! password, for the USCall facade's `agentLogin`.

use crate::core::PortError;
use std::path::Path;

use rusqlite::{params, OptionalExtension};

use crate::core::agent_digest::AgentDigestStore;
use crate::core::directory::{AgentNumber, PasswordHash};

use super::connection::SharedConnection;
use super::error::StoreError;

/// The digest hashes in the engine's SQLite file.
#[derive(Debug)]
pub struct SqliteAgentDigests {
    conn: SharedConnection,
}

impl SqliteAgentDigests {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, false)?,
        })
    }
}

impl AgentDigestStore for SqliteAgentDigests {
    fn set_digest(&self, agent: &AgentNumber, hash: &PasswordHash) -> Result<(), PortError> {
        self.conn.lock().execute(
            "INSERT INTO agent_password_digest (agent, hash) VALUES (?1, ?2) \
             ON CONFLICT (agent) DO UPDATE SET hash = excluded.hash",
            params![agent.as_str(), hash.as_phc()],
        )?;
        Ok(())
    }

    fn digest(&self, agent: &AgentNumber) -> Result<Option<PasswordHash>, PortError> {
        let phc: Option<String> = self
            .conn
            .lock()
            .query_row(
                "SELECT hash FROM agent_password_digest WHERE agent = ?1",
                [agent.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(phc
            .map(|p| {
                PasswordHash::from_phc(p)
                    .map_err(|e| StoreError::Corrupt(format!("digest hash: {e}")))
            })
            .transpose()?)
    }

    fn remove_digest(&self, agent: &AgentNumber) -> Result<bool, PortError> {
        let n = self.conn.lock().execute(
            "DELETE FROM agent_password_digest WHERE agent = ?1",
            [agent.as_str()],
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent_digest::{digest_hash, verify_digest};
    use crate::core::md5::md5_hex;
    use crate::core::Secret;

    #[test]
    fn set_replace_read_remove() {
        let dir = crate::test_support::TempDir::new("digests");
        let store = SqliteAgentDigests::open(&dir.path().join("s.db")).unwrap();
        let a = AgentNumber::new("2204").unwrap();
        assert_eq!(store.digest(&a).unwrap(), None);
        store
            .set_digest(&a, &digest_hash(&Secret::new("uno")).unwrap())
            .unwrap();
        store
            .set_digest(&a, &digest_hash(&Secret::new("dos")).unwrap())
            .unwrap();
        let h = store.digest(&a).unwrap().unwrap();
        assert!(verify_digest(&h, &Secret::new(md5_hex(b"dos"))));
        assert!(!verify_digest(&h, &Secret::new(md5_hex(b"uno"))));
        assert!(store.remove_digest(&a).unwrap());
        assert!(!store.remove_digest(&a).unwrap());
    }
}
