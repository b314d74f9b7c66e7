//! [`SqliteSessions`]: the core's [`SessionStore`] port on the engine's SQLite file (table
//! `api_session`, keyed by the token's hash).

use std::path::Path;

use rusqlite::{params, OptionalExtension};

use crate::core::sessions::{SessionRecord, SessionStore, TokenHash};
use crate::core::PortError;
use crate::core::UnixTime;

use super::connection::SharedConnection;
use super::error::{port, StoreError};

/// The API sessions in the engine's SQLite file.
#[derive(Debug)]
pub struct SqliteSessions {
    conn: SharedConnection,
}

impl SqliteSessions {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, false)?,
        })
    }
}

impl SessionStore for SqliteSessions {
    fn session_put(&self, s: &SessionRecord) -> Result<(), PortError> {
        self.conn
            .lock()
            .execute(
                "INSERT OR REPLACE INTO api_session (token_hash, username, supervisor, last_used) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    s.token_hash.as_str(),
                    s.user,
                    i64::from(s.supervisor),
                    s.last_used.seconds()
                ],
            )
            .map_err(port)?;
        Ok(())
    }

    fn session_get(&self, hash: &TokenHash) -> Result<Option<SessionRecord>, PortError> {
        let row: Option<(String, String, i64, i64)> = self
            .conn
            .lock()
            .query_row(
                "SELECT token_hash, username, supervisor, last_used FROM api_session \
                 WHERE token_hash = ?1",
                [hash.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(port)?;
        row.map(|(h, user, supervisor, last_used)| {
            let token_hash = TokenHash::from_stored(&h).ok_or_else(|| -> PortError {
                Box::new(StoreError::Corrupt("token hash".into()))
            })?;
            Ok(SessionRecord {
                token_hash,
                user,
                supervisor: supervisor != 0,
                last_used: UnixTime(last_used),
            })
        })
        .transpose()
    }

    fn session_touch(&self, hash: &TokenHash, at: UnixTime) -> Result<(), PortError> {
        self.conn
            .lock()
            .execute(
                "UPDATE api_session SET last_used = MAX(last_used, ?2) WHERE token_hash = ?1",
                params![hash.as_str(), at.seconds()],
            )
            .map_err(port)?;
        Ok(())
    }

    fn session_delete(&self, hash: &TokenHash) -> Result<bool, PortError> {
        let n = self
            .conn
            .lock()
            .execute(
                "DELETE FROM api_session WHERE token_hash = ?1",
                [hash.as_str()],
            )
            .map_err(port)?;
        Ok(n > 0)
    }

    fn session_purge(&self, before: UnixTime) -> Result<u64, PortError> {
        let n = self
            .conn
            .lock()
            .execute(
                "DELETE FROM api_session WHERE last_used < ?1",
                [before.seconds()],
            )
            .map_err(port)?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_touch_delete_purge() {
        let dir = crate::test_support::TempDir::new("sessions");
        let path = dir.path().join("s.db");
        let store = SqliteSessions::open(&path).unwrap();
        let h = TokenHash::of("token-1");
        let rec = SessionRecord {
            token_hash: h.clone(),
            user: "cob7".into(),
            supervisor: true,
            last_used: UnixTime(100),
        };
        store.session_put(&rec).unwrap();
        assert_eq!(store.session_get(&h).unwrap(), Some(rec.clone()));
        store.session_touch(&h, UnixTime(200)).unwrap();
        store.session_touch(&h, UnixTime(150)).unwrap();
        // Another handle (a restarted engine) sees it.
        let again = SqliteSessions::open(&path).unwrap();
        assert_eq!(
            again.session_get(&h).unwrap().unwrap().last_used,
            UnixTime(200)
        );
        assert_eq!(again.session_get(&TokenHash::of("other")).unwrap(), None);
        let h2 = TokenHash::of("token-2");
        store
            .session_put(&SessionRecord {
                token_hash: h2.clone(),
                last_used: UnixTime(50),
                ..rec
            })
            .unwrap();
        assert_eq!(store.session_purge(UnixTime(100)).unwrap(), 1);
        assert_eq!(store.session_get(&h2).unwrap(), None);
        assert!(store.session_delete(&h).unwrap());
        assert!(!store.session_delete(&h).unwrap());
    }
}
