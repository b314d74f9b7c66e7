//! Upload jobs on SQLite ([`UploadStore`] on [`SqliteDialer`]'s connection): tables
//! `dialer_upload` (the job and its last checkpoint) and `dialer_upload_file` (the accepted file,
//! until the job finishes).
//!
//! The file is kept in the store rather than in a folder beside it: the job row and the file are
//! written in one transaction (`synchronous=FULL`: durable once committed), so there is never a
//! job without its file nor a file without its job, nothing else to configure, back up or sweep,
//! and a finished job's file goes in the transaction that ends it. Each batch of contacts and
//! the job's progress are one `IMMEDIATE` transaction, so a resumed job starts exactly where the
//! contacts it wrote end.

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use crate::core::campaigns::CampaignName;
use crate::core::dialer::contact::NewContact;
use crate::core::dialer::uploads::{
    FirstError, Upload, UploadError, UploadId, UploadJob, UploadProgress, UploadState, UploadStore,
};
use crate::core::dialer::{CampaignId, DialerCampaign, DialerStore, ZoneName};
use crate::core::{PortError, UnixTime};

use super::dialer::{insert_contacts_in, SqliteDialer};
use super::error::bad;

const COLUMNS: &str = "id, campaign_id, campaign, filename, zone, announced, username, bytes, \
     received_at, started_at, finished_at, state, offset_bytes, lines_read, imported, duplicates, \
     rejected, first_errors";

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn row(r: &Row<'_>) -> rusqlite::Result<UploadJob> {
    let campaign: String = r.get(2)?;
    let zone: Option<String> = r.get(4)?;
    let state: String = r.get(11)?;
    let errors: String = r.get(17)?;
    Ok(UploadJob {
        id: UploadId(r.get(0)?),
        campaign: (
            CampaignId(r.get(1)?),
            CampaignName::parse(&campaign).ok_or_else(|| bad("campaign", &campaign))?,
        ),
        filename: r.get(3)?,
        zone: match zone {
            Some(z) => Some(ZoneName::parse(&z).map_err(|_| bad("zone", &z))?),
            None => None,
        },
        announced: r.get::<_, Option<i64>>(5)?.map(count),
        username: r.get(6)?,
        bytes: count(r.get(7)?),
        received_at: UnixTime(r.get(8)?),
        started_at: r.get::<_, Option<i64>>(9)?.map(UnixTime),
        finished_at: r.get::<_, Option<i64>>(10)?.map(UnixTime),
        state: UploadState::parse(&state).ok_or_else(|| bad("upload state", &state))?,
        progress: UploadProgress {
            offset: count(r.get(12)?),
            read: count(r.get(13)?),
            imported: count(r.get(14)?),
            duplicates: count(r.get(15)?),
            rejected: count(r.get(16)?),
            first_errors: errors
                .lines()
                .filter_map(|l| {
                    let (line, reason) = l.split_once('\t')?;
                    Some(FirstError {
                        line: line.parse().ok()?,
                        reason: reason.to_owned(),
                    })
                })
                .collect(),
        },
    })
}

/// `line<TAB>reason` lines (a reason's own line breaks and tabs become spaces).
fn errors_text(errors: &[FirstError]) -> String {
    errors
        .iter()
        .map(|e| {
            let reason: String = e
                .reason
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            format!("{}\t{reason}\n", e.line)
        })
        .collect()
}

impl UploadStore for SqliteDialer {
    fn accept(
        &self,
        upload: &Upload,
        now: UnixTime,
        max_unfinished: usize,
    ) -> Result<Result<UploadId, UploadError>, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let same: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM dialer_upload WHERE campaign = ?1 \
                     AND filename = ?2 AND state IN ('pending', 'running'))",
                )?
                .query_row(params![upload.campaign.1.as_str(), upload.filename], |r| {
                    r.get(0)
                })?;
            if same {
                return Ok(Err(UploadError::Running));
            }
            let unfinished: i64 = tx
                .prepare_cached(
                    "SELECT count(*) FROM dialer_upload WHERE state IN ('pending', 'running')",
                )?
                .query_row([], |r| r.get(0))?;
            if count(unfinished) >= max_unfinished as u64 {
                return Ok(Err(UploadError::Busy));
            }
            tx.prepare_cached(
                "INSERT INTO dialer_upload (campaign_id, campaign, filename, zone, announced, \
                 username, bytes, received_at, state) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending')",
            )?
            .execute(params![
                upload.campaign.0 .0,
                upload.campaign.1.as_str(),
                upload.filename,
                upload.zone.as_ref().map(ZoneName::as_str),
                upload.announced.map(signed),
                upload.username,
                signed(upload.base.len() as u64),
                now.seconds(),
            ])?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT INTO dialer_upload_file (upload_id, content) VALUES (?1, ?2)",
            )?
            .execute(params![id, upload.base])?;
            tx.commit()?;
            Ok(Ok(UploadId(id)))
        })
    }

    fn job_named(
        &self,
        campaign: &CampaignName,
        filename: &str,
    ) -> Result<Option<UploadJob>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM dialer_upload WHERE campaign = ?1 AND filename = ?2 \
                 ORDER BY id DESC LIMIT 1"
            ))?
            .query_row(params![campaign.as_str(), filename], row)
            .optional()
        })
    }

    fn job(&self, id: UploadId) -> Result<Option<UploadJob>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM dialer_upload WHERE id = ?1"
            ))?
            .query_row([id.0], row)
            .optional()
        })
    }

    fn unfinished(&self) -> Result<Vec<UploadJob>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM dialer_upload WHERE state IN ('pending', 'running') \
                 ORDER BY id"
            ))?
            .query_map([], row)?
            .collect()
        })
    }

    fn file(&self, id: UploadId) -> Result<Option<Vec<u8>>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached("SELECT content FROM dialer_upload_file WHERE upload_id = ?1")?
                .query_row([id.0], |r| r.get(0))
                .optional()
        })
    }

    fn start(&self, id: UploadId, now: UnixTime) -> Result<(), PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(
                "UPDATE dialer_upload SET state = 'running', \
                 started_at = coalesce(started_at, ?2) \
                 WHERE id = ?1 AND state IN ('pending', 'running')",
            )?
            .execute(params![id.0, now.seconds()])
            .map(drop)
        })
    }

    fn batch(
        &self,
        id: UploadId,
        campaign: CampaignId,
        contacts: &[NewContact],
        now: UnixTime,
        at: &UploadProgress,
    ) -> Result<Vec<bool>, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let added = insert_contacts_in(&tx, campaign, contacts, now)?;
            let new = added.iter().filter(|a| **a).count() as u64;
            tx.prepare_cached(
                "UPDATE dialer_upload SET offset_bytes = ?2, lines_read = ?3, imported = ?4, \
                 duplicates = ?5, rejected = ?6, first_errors = ?7 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                signed(at.offset),
                signed(at.read),
                signed(at.imported + new),
                signed(at.duplicates + (contacts.len() as u64 - new)),
                signed(at.rejected),
                errors_text(&at.first_errors),
            ])?;
            tx.commit()?;
            Ok(added)
        })
    }

    fn finish(&self, id: UploadId, failed: bool, now: UnixTime) -> Result<(), PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "UPDATE dialer_upload SET state = ?2, finished_at = ?3, \
                 started_at = coalesce(started_at, ?3) WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                if failed {
                    UploadState::Failed
                } else {
                    UploadState::Done
                }
                .as_str(),
                now.seconds()
            ])?;
            tx.prepare_cached("DELETE FROM dialer_upload_file WHERE upload_id = ?1")?
                .execute([id.0])?;
            tx.commit()
        })
    }

    fn upload_campaign(&self, id: CampaignId) -> Result<Option<DialerCampaign>, PortError> {
        DialerStore::campaign(self, id)
    }

    fn prune(&self, before: UnixTime) -> Result<u64, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "DELETE FROM dialer_upload_file WHERE upload_id IN (SELECT id FROM dialer_upload \
                 WHERE finished_at IS NOT NULL AND finished_at < ?1)",
            )?
            .execute([before.seconds()])?;
            let n = tx
                .prepare_cached(
                    "DELETE FROM dialer_upload WHERE finished_at IS NOT NULL AND finished_at < ?1",
                )?
                .execute([before.seconds()])?;
            tx.commit()?;
            Ok(n as u64)
        })
    }
}

#[cfg(test)]
#[path = "dialer_uploads_tests.rs"]
mod tests;
