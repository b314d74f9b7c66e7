//! [`SqliteHangupCauses`]: the core's [`HangupCauseStore`] port on the engine's SQLite file
//! (table `hangup_cause`, keyed by the channel's uniqueid).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::params;

use crate::core::hangup_causes::{HangupCause, HangupCauseStore, RETENTION_DAYS};
use crate::core::PortError;
use crate::core::UnixTime;

use super::connection::SharedConnection;
use super::error::{port, StoreError};

/// Most uniqueids one lookup binds (SQLite's default variable limit is far above it).
const LOOKUP_CHUNK: usize = 500;

/// The hangup causes in the engine's SQLite file.
#[derive(Debug)]
pub struct SqliteHangupCauses {
    conn: SharedConnection,
}

impl SqliteHangupCauses {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, false)?,
        })
    }
}

impl HangupCauseStore for SqliteHangupCauses {
    fn causes_put(&self, causes: &[HangupCause], now: UnixTime) -> Result<(), PortError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction().map_err(port)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO hangup_cause (uniqueid, cause, at) VALUES (?1, ?2, ?3)",
                )
                .map_err(port)?;
            for c in causes {
                put.execute(params![c.uniqueid.as_str(), c.cause, c.at.seconds()])
                    .map_err(port)?;
            }
        }
        tx.execute(
            "DELETE FROM hangup_cause WHERE at < ?1",
            [now.seconds() - RETENTION_DAYS * 86_400],
        )
        .map_err(port)?;
        tx.commit().map_err(port)
    }

    fn causes_of(&self, uniqueids: &[String]) -> Result<HashMap<String, u16>, PortError> {
        let conn = self.conn.lock();
        let mut out = HashMap::new();
        for chunk in uniqueids.chunks(LOOKUP_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut q = conn
                .prepare(&format!(
                    "SELECT uniqueid, cause FROM hangup_cause WHERE uniqueid IN ({marks})"
                ))
                .map_err(port)?;
            let rows = q
                .query_map(rusqlite::params_from_iter(chunk), |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(port)?;
            for row in rows {
                let (id, cause) = row.map_err(port)?;
                if let Ok(cause) = u16::try_from(cause) {
                    out.insert(id, cause);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::UniqueId;

    #[test]
    fn causes_are_kept_replaced_and_forgotten() {
        let dir = crate::test_support::TempDir::new("hangup-causes");
        let s = SqliteHangupCauses::open(&dir.path().join("s.db")).unwrap();
        let now = UnixTime(1_800_000_000);
        let c = |id: &str, cause, at| HangupCause {
            uniqueid: UniqueId::new(id),
            cause,
            at: UnixTime(at),
        };
        s.causes_put(&[c("a", 16, now.0), c("b", 17, now.0)], now)
            .unwrap();
        s.causes_put(&[c("a", 21, now.0 + 1)], now).unwrap();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = s.causes_of(&ids(&["a", "b", "c"])).unwrap();
        assert_eq!(got, HashMap::from([("a".into(), 21), ("b".into(), 17)]));
        // Past the retention: forgotten at the next put.
        s.causes_put(&[c("old", 16, now.0 - RETENTION_DAYS * 86_400 - 1)], now)
            .unwrap();
        assert!(s.causes_of(&ids(&["old"])).unwrap().is_empty());
        let many: Vec<String> = (0..1200).map(|i| format!("x{i}")).collect();
        assert!(s.causes_of(&many).unwrap().is_empty());
    }
}
