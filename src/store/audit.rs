//! [`SqliteActionJournal`]: the core's [`ActionJournal`] port on the engine's SQLite file (table
//! `engine_action`, migration 4, indexed on time). It opens its own connection to the same file as
//! [`super::SqliteJournal`] (WAL lets both work side by side), applying pending migrations first.

use std::path::Path;

use rusqlite::{params_from_iter, types::Value, Connection};

use crate::core::audit::{ActionFilter, ActionJournal, EngineAction};
use crate::core::PortError;
use crate::core::{TimeRange, UnixTime};

use super::connection::SharedConnection;
use super::error::StoreError;

/// The journal of actions in the engine's SQLite file. `Sync`: one connection behind a mutex.
#[derive(Debug)]
pub struct SqliteActionJournal {
    conn: SharedConnection,
}

fn port(e: StoreError) -> PortError {
    PortError::from(e)
}

impl SqliteActionJournal {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, false)?,
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, PortError> {
        f(&self.conn.lock()).map_err(|e| port(StoreError::Sqlite(e)))
    }
}

impl ActionJournal for SqliteActionJournal {
    fn record(&self, a: &EngineAction) -> Result<(), PortError> {
        let a = a.clone();
        // Committed with the records that arrive meanwhile (group commit).
        self.conn
            .write_grouped(move |conn| {
                conn.prepare_cached(
                "INSERT INTO engine_action (at, api, principal, action, target, params, outcome) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(rusqlite::params![
                a.at.seconds(),
                a.api,
                a.principal,
                a.action,
                a.target,
                a.params,
                a.outcome
            ])?;
                Ok(())
            })
            .map_err(port)
    }

    fn list(
        &self,
        range: TimeRange,
        filter: &ActionFilter,
    ) -> Result<Vec<EngineAction>, PortError> {
        let mut sql = String::from(
            "SELECT at, api, principal, action, target, params, outcome FROM engine_action \
             WHERE at >= ?1 AND at < ?2",
        );
        let mut args = vec![
            Value::Integer(range.from.seconds()),
            Value::Integer(range.to.seconds()),
        ];
        for (column, want) in [
            ("api", &filter.api),
            ("principal", &filter.principal),
            ("action", &filter.action),
            ("target", &filter.target),
        ] {
            if let Some(want) = want {
                args.push(Value::Text(want.clone()));
                sql.push_str(&format!(" AND {column} = ?{}", args.len()));
            }
        }
        sql.push_str(" ORDER BY at, id");
        if let Some(limit) = filter.limit {
            args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
            sql.push_str(&format!(" LIMIT ?{}", args.len()));
        }
        self.with(|conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| {
                Ok(EngineAction {
                    at: UnixTime(r.get(0)?),
                    api: r.get(1)?,
                    principal: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    params: r.get(5)?,
                    outcome: r.get(6)?,
                })
            })?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::Actor;

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "centralita-audit-{name}-{}-{}",
            std::process::id(),
            UnixTime::now().seconds()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("store.db")
    }

    fn entry(at: i64, api: &str, action: &str, target: &str) -> EngineAction {
        let mut e = EngineAction::now(&Actor::new(api, "crm1"), action, target, "k=v", "ok");
        e.at = UnixTime(at);
        e
    }

    #[test]
    fn records_and_lists_with_filters_and_survives_reopen() {
        let path = temp_db("list");
        {
            let j = SqliteActionJournal::open(&path).unwrap();
            j.record(&entry(200, "expand", "agent.pause", "2005"))
                .unwrap();
            j.record(&entry(100, "uscall", "originate.start", "job-1"))
                .unwrap();
            j.record(&entry(200, "expand", "agent.unpause", "2005"))
                .unwrap();
            j.record(&entry(300, "admin", "credential.revoke", "k1"))
                .unwrap();
        }
        let j = SqliteActionJournal::open(&path).unwrap();
        let all = j.list(TimeRange::all(), &ActionFilter::default()).unwrap();
        let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
        // By time, then in recording order within a second.
        assert_eq!(
            actions,
            [
                "originate.start",
                "agent.pause",
                "agent.unpause",
                "credential.revoke"
            ]
        );
        assert_eq!(all[0], entry(100, "uscall", "originate.start", "job-1"));
        let f = ActionFilter {
            api: Some("expand".into()),
            target: Some("2005".into()),
            limit: Some(1),
            ..Default::default()
        };
        let one = j.list(TimeRange::all(), &f).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].action, "agent.pause");
        let range = TimeRange::new(UnixTime(150), UnixTime(300));
        assert_eq!(j.list(range, &ActionFilter::default()).unwrap().len(), 2);
        let f = ActionFilter {
            principal: Some("nobody".into()),
            ..Default::default()
        };
        assert!(j.list(TimeRange::all(), &f).unwrap().is_empty());
        // The time index is there.
        let conn = j.conn.lock();
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT * FROM engine_action WHERE at >= 1 AND at < 2",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("engine_action_at"), "{plan}");
        drop(conn);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
