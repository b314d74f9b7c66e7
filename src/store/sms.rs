//! [`SqliteSms`]: the core's [`SmsStore`] port on the engine's SQLite file (tables `sms_job` and
//! `sms_recipient`). Its own connection beside the others (WAL).

use std::path::Path;

use rusqlite::{params, OptionalExtension};

use crate::core::sms::{SmsId, SmsJob, SmsRecipient, SmsStatus, SmsStore};
use crate::core::PortError;
use crate::core::UnixTime;

use super::connection::SharedConnection;
use super::error::StoreError;

/// SMS jobs in the engine's SQLite file. `Sync`: one connection behind a mutex.
#[derive(Debug)]
pub struct SqliteSms {
    conn: SharedConnection,
}

fn status_of(s: &str) -> rusqlite::Result<SmsStatus> {
    SmsStatus::parse(s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown SMS status {s}").into(),
        )
    })
}

impl SqliteSms {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, true)?,
        })
    }
}

fn insert_recipients(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    recipients: &[String],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO sms_recipient (job, pos, number, status) VALUES (?1, ?2, ?3, 'PENDING')",
    )?;
    for (pos, number) in recipients.iter().enumerate() {
        stmt.execute(params![id, pos as i64, number])?;
    }
    Ok(())
}

impl SmsStore for SqliteSms {
    fn create(
        &self,
        text: &str,
        recipients: &[String],
        status: SmsStatus,
        at: UnixTime,
    ) -> Result<SmsId, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO sms_job (text, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                params![text, status.as_str(), at.seconds()],
            )?;
            let id = tx.last_insert_rowid();
            insert_recipients(&tx, id, recipients)?;
            tx.commit()?;
            Ok(id)
        })
        .and_then(|id| {
            SmsId::new(id).ok_or_else(|| PortError::from(format!("rowid {id}")))
        })
    }

    fn get(&self, id: SmsId) -> Result<Option<SmsJob>, PortError> {
        self.conn.query(|conn| {
            let job = conn
                .query_row(
                    "SELECT text, status, created_at FROM sms_job WHERE id = ?1",
                    [id.get()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    },
                )
                .optional()?;
            let Some((text, status, created)) = job else {
                return Ok(None);
            };
            let mut stmt = conn.prepare_cached(
                "SELECT number, status FROM sms_recipient WHERE job = ?1 ORDER BY pos",
            )?;
            let recipients = stmt
                .query_map([id.get()], |r| {
                    Ok(SmsRecipient {
                        number: r.get(0)?,
                        status: status_of(&r.get::<_, String>(1)?)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(SmsJob {
                id,
                text,
                recipients,
                status: status_of(&status)?,
                created_at: UnixTime(created),
            }))
        })
    }

    fn set_recipient(&self, id: SmsId, number: &str, status: SmsStatus) -> Result<(), PortError> {
        self.conn.query(|conn| {
            conn.execute(
                "UPDATE sms_recipient SET status = ?3 WHERE job = ?1 AND number = ?2",
                params![id.get(), number, status.as_str()],
            )?;
            Ok(())
        })
    }

    fn release_draft(
        &self,
        id: SmsId,
        text: &str,
        recipients: &[String],
    ) -> Result<bool, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction()?;
            let changed = tx.execute(
                "UPDATE sms_job SET text = ?2, status = 'PENDING', updated_at = ?3 \
                 WHERE id = ?1 AND status = 'DRAFT'",
                params![id.get(), text, UnixTime::now().seconds()],
            )?;
            if changed == 1 {
                tx.execute("DELETE FROM sms_recipient WHERE job = ?1", [id.get()])?;
                insert_recipients(&tx, id.get(), recipients)?;
            }
            tx.commit()?;
            Ok(changed == 1)
        })
    }

    fn set_status(&self, id: SmsId, status: SmsStatus) -> Result<(), PortError> {
        self.conn.query(|conn| {
            conn.execute(
                "UPDATE sms_job SET status = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.get(), status.as_str(), UnixTime::now().seconds()],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_and_recipients_round_trip() {
        let dir = crate::test_support::TempDir::new("sms");
        let store = SqliteSms::open(&dir.path().join("s.db")).unwrap();
        let nums = vec!["099111".to_owned(), "099222".to_owned()];
        let id = store
            .create("hola", &nums, SmsStatus::Pending, UnixTime(100))
            .unwrap();
        store.set_recipient(id, "099222", SmsStatus::Sent).unwrap();
        store.set_status(id, SmsStatus::Error).unwrap();
        let job = store.get(id).unwrap().unwrap();
        assert_eq!(job.text, "hola");
        assert_eq!(job.status, SmsStatus::Error);
        assert_eq!(job.created_at, UnixTime(100));
        assert_eq!(
            job.recipients
                .iter()
                .map(|r| (r.number.as_str(), r.status))
                .collect::<Vec<_>>(),
            [("099111", SmsStatus::Pending), ("099222", SmsStatus::Sent)]
        );
        assert!(!store.release_draft(id, "x", &nums).unwrap());
        let draft = store
            .create("b", &[], SmsStatus::Draft, UnixTime(1))
            .unwrap();
        assert_ne!(draft, id);
        assert!(store.release_draft(draft, "c", &nums[..1]).unwrap());
        let job = store.get(draft).unwrap().unwrap();
        assert_eq!((job.text.as_str(), job.status), ("c", SmsStatus::Pending));
        assert_eq!(job.recipients.len(), 1);
        assert_eq!(store.get(SmsId::new(999).unwrap()).unwrap(), None);
    }
}
