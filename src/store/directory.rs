//! [`SqliteDirectory`]: the directory port ([`DirectoryStore`]) on the engine's SQLite file.
//!
//! It has its own connection (WAL lets it run beside the journal's writer) behind a mutex, so one
//! value can be shared (`Arc`) by the HTTP facades, the agent service and the admin command.
//! Passwords and API secrets arrive already hashed from the core; the clear values never reach
//! this module, except a presented key in [`DirectoryStore::verify_credential`], which is only
//! compared against its hash.
//!
//! The reads the facades make on every request (agents, pause reasons, whether a credential is
//! live) are also kept in an in-memory cache, which the port's `try_*` fast path answers from
//! without blocking. The cache is emptied by this value's own writes, and whenever SQLite's
//! `PRAGMA data_version` says another connection committed (another process, such as the admin
//! command line, or the journal's writer in this one), re-checked at most every
//! [`RECHECK_EVERY`]; a fast-path read that cannot take the connection at once to re-check, or
//! finds nothing cached, answers `None` and the caller reads the store.

use crate::core::PortError;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use crate::core::directory::{
    imported_key_bucket, split_key, valid_imported_key, Agent, AgentNumber, ApiCredential,
    CredentialApi, CredentialId, DirectoryStore, Extension, IssuedCredential, KeyCandidate,
    PasswordHash, PauseReason, PauseReasonId, QueueName,
};
use crate::core::{Secret, UnixTime};

use super::connection::SharedConnection;
use super::error::StoreError;

/// How long the cache trusts its last look at `PRAGMA data_version`.
pub const RECHECK_EVERY: Duration = Duration::from_millis(1);

/// The directory in the engine's SQLite file.
#[derive(Debug)]
pub struct SqliteDirectory {
    conn: SharedConnection,
    cache: Mutex<Cache>,
}

/// What the fast path answers from: reads of the file as it was at `data_version`.
#[derive(Debug, Default)]
struct Cache {
    /// The file's `PRAGMA data_version` the entries were read at.
    data_version: Option<i64>,
    /// When `data_version` was last compared with the file's.
    checked_at: Option<Instant>,
    agents: Option<Vec<Agent>>,
    reasons: Option<Vec<PauseReason>>,
    live: HashMap<CredentialId, bool>,
}

impl Cache {
    /// Empties the entries if the file changed since they were read (`version` is the file's
    /// `data_version` now).
    fn at_version(&mut self, version: i64) -> &mut Self {
        if self.data_version != Some(version) {
            self.agents = None;
            self.reasons = None;
            self.live.clear();
            self.data_version = Some(version);
        }
        self
    }

    fn clear(&mut self) {
        self.agents = None;
        self.reasons = None;
        self.live.clear();
    }
}

fn data_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

impl SqliteDirectory {
    /// Stores a credential's row (its hash, never its key).
    fn insert_credential(&self, issued: &IssuedCredential) -> Result<(), StoreError> {
        let c = &issued.credential;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO api_credential (id, system, secret_hash, created_at, api) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                c.id.as_str(),
                c.system,
                issued.hash.as_phc(),
                c.created_at.seconds(),
                c.api.as_str()
            ],
        )?;
        self.wrote();
        Ok(())
    }

    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, true)?,
            cache: Mutex::default(),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock()
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores what `conn` just read into the cache (called with the connection still held, so
    /// no write of this value can come between the read and its caching).
    fn remember(&self, conn: &Connection, put: impl FnOnce(&mut Cache)) {
        if let Ok(version) = data_version(conn) {
            put(self.cache().at_version(version));
        }
    }

    /// Empties the cache after a write of this value (with the connection still held).
    fn wrote(&self) {
        self.cache().clear();
    }

    /// The cache, if it is known to be current: re-checked against the file's `data_version`
    /// when the last check is older than [`RECHECK_EVERY`] and the connection is free at once;
    /// `None` if the check was due and could not be made without waiting.
    fn current_cache<T>(&self, read: impl FnOnce(&Cache) -> Option<T>) -> Option<T> {
        let mut cache = self.cache();
        let fresh = cache
            .checked_at
            .is_some_and(|at| at.elapsed() < RECHECK_EVERY);
        if !fresh {
            let conn = match self.conn.try_lock() {
                Ok(conn) => conn,
                Err(TryLockError::WouldBlock) => return None,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
            };
            let version = data_version(&conn).ok()?;
            drop(conn);
            cache.at_version(version).checked_at = Some(Instant::now());
        }
        read(&cache)
    }

    fn queues_of(conn: &Connection, sql: &str, key: &str) -> Result<Vec<QueueName>, StoreError> {
        let mut stmt = conn.prepare_cached(sql)?;
        let names = stmt
            .query_map([key], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        names
            .into_iter()
            .map(|q| QueueName::new(q).map_err(|e| corrupt("queue", e)))
            .collect()
    }

    fn agent_from_row(conn: &Connection, r: &Row<'_>) -> Result<Agent, StoreError> {
        let number: String = r.get(0)?;
        let hash: Option<String> = r.get(6)?;
        let ext: Option<String> = r.get(7)?;
        let queues = Self::queues_of(
            conn,
            "SELECT queue FROM agent_queue WHERE agent = ?1 ORDER BY position",
            &number,
        )?;
        Ok(Agent {
            number: AgentNumber::new(number).map_err(|e| corrupt("agent", e))?,
            username: r.get(1)?,
            full_name: r.get(2)?,
            email: r.get(3)?,
            profile: r.get(4)?,
            supervisor: r.get::<_, i64>(5)? != 0,
            password_hash: hash
                .map(PasswordHash::from_phc)
                .transpose()
                .map_err(|e| corrupt("password hash", e))?,
            queues,
            default_extension: ext
                .map(Extension::new)
                .transpose()
                .map_err(|e| corrupt("extension", e))?,
        })
    }

    fn select_agents(&self, one: Option<&AgentNumber>) -> Result<Vec<Agent>, StoreError> {
        let conn = self.conn();
        let sql = "SELECT number, username, full_name, email, profile, supervisor, \
                   password_hash, default_extension FROM agent \
                   WHERE ?1 IS NULL OR number = ?1 ORDER BY number";
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query([one.map(AgentNumber::as_str)])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Self::agent_from_row(&conn, r)?);
        }
        drop(rows);
        drop(stmt);
        if one.is_none() {
            self.remember(&conn, |c| c.agents = Some(out.clone()));
        }
        Ok(out)
    }

    fn select_reasons(&self, one: Option<&PauseReasonId>) -> Result<Vec<PauseReason>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, max_seconds FROM pause_reason WHERE ?1 IS NULL OR id = ?1 \
             ORDER BY id",
        )?;
        let rows = stmt
            .query_map([one.map(PauseReasonId::as_str)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let reasons = rows
            .into_iter()
            .map(|(id, name, max)| {
                let queues = Self::queues_of(
                    &conn,
                    "SELECT queue FROM pause_reason_queue WHERE reason = ?1 ORDER BY queue",
                    &id,
                )?;
                Ok(PauseReason {
                    id: PauseReasonId::new(id).map_err(|e| corrupt("pause reason", e))?,
                    name,
                    max_seconds: max
                        .map(u32::try_from)
                        .transpose()
                        .map_err(|e| corrupt("max_seconds", e))?,
                    queues,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        drop(stmt);
        if one.is_none() {
            self.remember(&conn, |c| c.reasons = Some(reasons.clone()));
        }
        Ok(reasons)
    }
}

type CredentialRow = (String, String, i64, Option<i64>, String);

fn credential_from_row(r: &Row<'_>) -> rusqlite::Result<CredentialRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn credential(
    (id, system, created, revoked, api): CredentialRow,
) -> Result<ApiCredential, StoreError> {
    Ok(ApiCredential {
        id: CredentialId::new(id).map_err(|e| corrupt("credential id", e))?,
        system,
        api: CredentialApi::parse(&api).ok_or_else(|| corrupt("credential api", api))?,
        created_at: UnixTime(created),
        revoked_at: revoked.map(UnixTime),
    })
}

impl DirectoryStore for SqliteDirectory {
    fn upsert_agent(&self, agent: &Agent) -> Result<(), PortError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO agent (number, username, full_name, email, profile, supervisor, \
             password_hash, default_extension) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (number) DO UPDATE SET username = excluded.username, \
             full_name = excluded.full_name, email = excluded.email, profile = excluded.profile, \
             supervisor = excluded.supervisor, password_hash = excluded.password_hash, \
             default_extension = excluded.default_extension",
            params![
                agent.number.as_str(),
                agent.username,
                agent.full_name,
                agent.email,
                agent.profile,
                i64::from(agent.supervisor),
                agent.password_hash.as_ref().map(PasswordHash::as_phc),
                agent.default_extension.as_ref().map(Extension::as_str),
            ],
        )?;
        tx.execute(
            "DELETE FROM agent_queue WHERE agent = ?1",
            [agent.number.as_str()],
        )?;
        for (i, q) in agent.queues.iter().enumerate() {
            tx.execute(
                "INSERT OR IGNORE INTO agent_queue (agent, queue, position) VALUES (?1, ?2, ?3)",
                params![agent.number.as_str(), q.as_str(), i as i64],
            )?;
        }
        tx.commit()?;
        self.wrote();
        Ok(())
    }

    fn agent(&self, number: &AgentNumber) -> Result<Option<Agent>, PortError> {
        Ok(self.select_agents(Some(number))?.into_iter().next())
    }

    fn agents(&self) -> Result<Vec<Agent>, PortError> {
        Ok(self.select_agents(None)?)
    }

    fn remove_agent(&self, number: &AgentNumber) -> Result<bool, PortError> {
        let conn = self.conn();
        let n = conn.execute("DELETE FROM agent WHERE number = ?1", [number.as_str()])?;
        self.wrote();
        Ok(n > 0)
    }

    fn upsert_pause_reason(&self, reason: &PauseReason) -> Result<(), PortError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO pause_reason (id, name, max_seconds) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             max_seconds = excluded.max_seconds",
            params![reason.id.as_str(), reason.name, reason.max_seconds],
        )?;
        tx.execute(
            "DELETE FROM pause_reason_queue WHERE reason = ?1",
            [reason.id.as_str()],
        )?;
        for q in &reason.queues {
            tx.execute(
                "INSERT OR IGNORE INTO pause_reason_queue (reason, queue) VALUES (?1, ?2)",
                params![reason.id.as_str(), q.as_str()],
            )?;
        }
        tx.commit()?;
        self.wrote();
        Ok(())
    }

    fn pause_reason(&self, id: &PauseReasonId) -> Result<Option<PauseReason>, PortError> {
        Ok(self.select_reasons(Some(id))?.into_iter().next())
    }

    fn pause_reasons(&self) -> Result<Vec<PauseReason>, PortError> {
        Ok(self.select_reasons(None)?)
    }

    fn remove_pause_reason(&self, id: &PauseReasonId) -> Result<bool, PortError> {
        let conn = self.conn();
        let n = conn.execute("DELETE FROM pause_reason WHERE id = ?1", [id.as_str()])?;
        self.wrote();
        Ok(n > 0)
    }

    fn create_credential(
        &self,
        system: &str,
        api: CredentialApi,
    ) -> Result<IssuedCredential, PortError> {
        let issued = IssuedCredential::issue(system, api, UnixTime::now())
            .map_err(|e| corrupt("credential", e))?;
        self.insert_credential(&issued)?;
        Ok(issued)
    }

    fn import_credential(
        &self,
        system: &str,
        api: CredentialApi,
        key: Secret,
    ) -> Result<ApiCredential, PortError> {
        let issued = IssuedCredential::import(system, api, key, UnixTime::now())
            .map_err(|e| corrupt("imported credential", e))?;
        self.insert_credential(&issued)?;
        Ok(issued.credential)
    }

    fn credential_live(&self, id: &CredentialId) -> Result<bool, PortError> {
        let conn = self.conn();
        let live = conn
            .query_row(
                "SELECT 1 FROM api_credential WHERE id = ?1 AND revoked_at IS NULL",
                [id.as_str()],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        self.remember(&conn, |c| {
            c.live.insert(id.clone(), live);
        });
        Ok(live)
    }

    fn try_agents(&self) -> Option<Vec<Agent>> {
        self.current_cache(|c| c.agents.clone())
    }

    fn try_pause_reasons(&self) -> Option<Vec<PauseReason>> {
        self.current_cache(|c| c.reasons.clone())
    }

    fn try_credential_live(&self, id: &CredentialId) -> Option<bool> {
        self.current_cache(|c| c.live.get(id).copied())
    }

    fn verify_credential(&self, key: &Secret) -> Result<Option<ApiCredential>, PortError> {
        Ok(self
            .key_candidates(key)?
            .into_iter()
            .find(|c| c.hash.verify(&c.presented(key)))
            .map(|c| c.credential))
    }

    fn key_candidates(&self, key: &Secret) -> Result<Vec<KeyCandidate>, PortError> {
        const COLUMNS: &str = "SELECT id, system, created_at, revoked_at, api, secret_hash \
                               FROM api_credential";
        let candidate = |(row, hash): (CredentialRow, String), whole_key| {
            Ok::<_, PortError>(KeyCandidate {
                credential: credential(row)?,
                hash: PasswordHash::from_phc(hash).map_err(|e| corrupt("credential hash", e))?,
                whole_key,
            })
        };
        // An issued key `<id>.<secret>`: its row, checked against the secret part.
        if let Some((id, _)) = split_key(key) {
            let row = self
                .conn()
                .query_row(
                    &format!("{COLUMNS} WHERE id = ?1 AND revoked_at IS NULL"),
                    [id.as_str()],
                    |r| Ok((credential_from_row(r)?, r.get::<_, String>(5)?)),
                )
                .optional()?;
            if let Some(row) = row {
                return Ok(vec![candidate(row, false)?]);
            }
        }
        // An imported key: the few rows of its bucket, each checked against the whole key.
        if !valid_imported_key(key) {
            return Ok(Vec::new());
        }
        let rows = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(&format!(
                "{COLUMNS} WHERE id >= ?1 AND id < ?2 AND revoked_at IS NULL"
            ))?;
            let bucket = imported_key_bucket(key);
            let rows = stmt
                .query_map(params![bucket, format!("{bucket}~")], |r| {
                    Ok((credential_from_row(r)?, r.get::<_, String>(5)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        rows.into_iter().map(|row| candidate(row, true)).collect()
    }

    fn revoke_credential(&self, id: &CredentialId) -> Result<bool, PortError> {
        let conn = self.conn();
        let n = conn.execute(
            "UPDATE api_credential SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id.as_str(), UnixTime::now().seconds()],
        )?;
        self.wrote();
        Ok(n > 0)
    }

    fn credentials(&self) -> Result<Vec<ApiCredential>, PortError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, system, created_at, revoked_at, api FROM api_credential \
             ORDER BY created_at, id",
        )?;
        let rows = stmt
            .query_map([], credential_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows.into_iter().map(credential).collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    fn q(s: &str) -> QueueName {
        QueueName::new(s).unwrap()
    }

    fn sample_agent() -> Agent {
        let mut a = Agent::new(AgentNumber::new("2005").unwrap());
        a.username = "ana".into();
        a.full_name = "Ana López".into();
        a.email = Some("ana@example.com".into());
        a.supervisor = true;
        a.password_hash = Some(PasswordHash::hash(&Secret::new("s3cret-pw")).unwrap());
        a.queues = vec![q("q_ventas"), q("q_soporte")];
        a.default_extension = Some(Extension::new("1005").unwrap());
        a
    }

    #[test]
    fn agents_round_trip_and_password_is_stored_hashed() {
        let dir = TempDir::new("directory-agents");
        let path = dir.path().join("store.db");
        let store = SqliteDirectory::open(&path).unwrap();
        let a = sample_agent();
        store.upsert_agent(&a).unwrap();
        assert_eq!(store.agent(&a.number).unwrap(), Some(a.clone()));
        let got = store.agent(&a.number).unwrap().unwrap();
        assert!(got.password_hash.unwrap().verify(&Secret::new("s3cret-pw")));

        // Update replaces the queues, keeps one row.
        let mut b = a.clone();
        b.queues = vec![q("q_soporte")];
        b.email = None;
        store.upsert_agent(&b).unwrap();
        assert_eq!(store.agents().unwrap(), vec![b.clone()]);

        // The clear password is nowhere in the file.
        drop(store);
        let bytes = std::fs::read(&path).unwrap();
        let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
        let hay = [bytes, wal].concat();
        assert!(!hay.windows(9).any(|w| w == b"s3cret-pw"));

        let store = SqliteDirectory::open(&path).unwrap();
        assert!(store.remove_agent(&b.number).unwrap());
        assert!(!store.remove_agent(&b.number).unwrap());
        assert!(store.agents().unwrap().is_empty());
    }

    #[test]
    fn fast_path_answers_from_reads_and_forgets_on_writes_here_and_elsewhere() {
        let dir = TempDir::new("directory-cache");
        let path = dir.path().join("s.db");
        let store = SqliteDirectory::open(&path).unwrap();
        let other = SqliteDirectory::open(&path).unwrap();
        let a = sample_agent();
        store.upsert_agent(&a).unwrap();
        let issued = store
            .create_credential("CRM", CredentialApi::Expand)
            .unwrap();
        let id = issued.credential.id.clone();

        // Nothing read yet: nothing to answer from.
        assert_eq!(store.try_agents(), None);
        assert_eq!(store.try_pause_reasons(), None);
        assert_eq!(store.try_credential_live(&id), None);

        // Read once: answered without the store until something changes.
        assert_eq!(store.agents().unwrap(), vec![a.clone()]);
        assert!(store.pause_reasons().unwrap().is_empty());
        assert!(store.credential_live(&id).unwrap());
        assert_eq!(store.try_agents(), Some(vec![a.clone()]));
        assert_eq!(store.try_pause_reasons(), Some(Vec::new()));
        assert_eq!(store.try_credential_live(&id), Some(true));

        // Its own write empties it at once.
        let mut b = a.clone();
        b.full_name = "Ana María López".into();
        store.upsert_agent(&b).unwrap();
        assert_eq!(store.try_agents(), None);
        assert_eq!(store.agents().unwrap(), vec![b.clone()]);
        assert_eq!(store.try_agents(), Some(vec![b.clone()]));

        // Another connection's write (the admin command line's) is seen once the check is due.
        assert!(other.revoke_credential(&id).unwrap());
        std::thread::sleep(RECHECK_EVERY * 2);
        assert_eq!(store.try_credential_live(&id), None);
        assert_eq!(store.try_agents(), None);
        assert!(!store.credential_live(&id).unwrap());
        assert_eq!(store.try_credential_live(&id), Some(false));
    }

    #[test]
    fn pause_reasons_round_trip() {
        let dir = TempDir::new("directory-reasons");
        let store = SqliteDirectory::open(&dir.path().join("s.db")).unwrap();
        let r = PauseReason {
            id: PauseReasonId::new("almuerzo").unwrap(),
            name: "Almuerzo".into(),
            max_seconds: Some(1800),
            queues: vec![q("q_soporte"), q("q_ventas")],
        };
        let s = PauseReason {
            id: PauseReasonId::new("bano").unwrap(),
            name: "Baño".into(),
            max_seconds: None,
            queues: vec![],
        };
        store.upsert_pause_reason(&r).unwrap();
        store.upsert_pause_reason(&s).unwrap();
        assert_eq!(store.pause_reasons().unwrap(), vec![r.clone(), s.clone()]);
        assert_eq!(store.pause_reason(&r.id).unwrap(), Some(r.clone()));
        assert!(store.remove_pause_reason(&r.id).unwrap());
        assert_eq!(store.pause_reason(&r.id).unwrap(), None);
    }

    #[test]
    fn credentials_verify_list_and_revoke() {
        let dir = TempDir::new("directory-creds");
        let path = dir.path().join("s.db");
        let store = SqliteDirectory::open(&path).unwrap();
        let issued = store
            .create_credential("CRM Ventas", CredentialApi::Expand)
            .unwrap();
        let other = store
            .create_credential("Dialer", CredentialApi::Any)
            .unwrap();
        let id = issued.credential.id.clone();

        assert_eq!(
            store.verify_credential(&issued.key).unwrap(),
            Some(issued.credential.clone())
        );
        // Wrong secret with the right id, garbage, the other key's secret under this id.
        let (_, other_secret) = split_key(&other.key).unwrap();
        for bad in [
            format!("{id}.deadbeef"),
            "garbage".to_owned(),
            format!("{id}.{}", other_secret.expose()),
        ] {
            assert_eq!(store.verify_credential(&Secret::new(bad)).unwrap(), None);
        }
        let listed = store.credentials().unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|c| c.revoked_at.is_none()));

        // The secret is stored only hashed.
        let (_, secret) = split_key(&issued.key).unwrap();
        drop(store);
        let hay = [
            std::fs::read(&path).unwrap(),
            std::fs::read(path.with_extension("db-wal")).unwrap_or_default(),
        ]
        .concat();
        let s = secret.expose().as_bytes();
        assert!(!hay.windows(s.len()).any(|w| w == s));

        let store = SqliteDirectory::open(&path).unwrap();
        assert!(store.revoke_credential(&id).unwrap());
        assert!(!store.revoke_credential(&id).unwrap());
        assert_eq!(store.verify_credential(&issued.key).unwrap(), None);
        assert!(store.verify_credential(&other.key).unwrap().is_some());
        let revoked = store
            .credentials()
            .unwrap()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap();
        assert!(revoked.revoked_at.is_some());
    }
}
