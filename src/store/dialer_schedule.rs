//! Scheduled calls on SQLite ([`ScheduleStore`] on [`SqliteDialer`]'s connection): table
//! `dialer_schedule`. A partial unique index on (campaign, number) over open calls (pending or
//! in progress) makes "never spool a destination twice" a property of the table; the next due
//! call is selected and marked in progress in one `IMMEDIATE` transaction.

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use crate::core::dialer::contact::{ContactData, ContactId, NewContact};
use crate::core::dialer::schedule::{
    Change, NewScheduledCall, ScheduleFilter, ScheduleId, ScheduleStatus, ScheduleStore,
    ScheduledCall, MAX_LIST_LIMIT,
};
use crate::core::dialer::CampaignId;
use crate::core::originate::PhoneNumber;
use crate::core::{PortError, UnixTime};

use super::dialer::{joined, SqliteDialer};
use super::error::bad;

const COLUMNS: &str = "id, campaign_id, number, alternatives, agent, call_at, expires_at, data, \
     priority, status, attempts, created_at, updated_at, for_contact, retries";

fn row(r: &Row<'_>) -> rusqlite::Result<ScheduledCall> {
    let number: String = r.get(2)?;
    let alternatives: String = r.get(3)?;
    let data: String = r.get(7)?;
    let status: String = r.get(9)?;
    Ok(ScheduledCall {
        id: ScheduleId(r.get(0)?),
        spec: NewScheduledCall {
            campaign: CampaignId(r.get(1)?),
            number: PhoneNumber::parse(&number).map_err(|_| bad("number", &number))?,
            alternatives: alternatives
                .split(':')
                .filter(|a| !a.is_empty())
                .map(|a| PhoneNumber::parse(a).map_err(|_| bad("alternative", a)))
                .collect::<Result<_, _>>()?,
            agent: r.get(4)?,
            call_at: r.get::<_, Option<i64>>(5)?.map(UnixTime),
            expires_at: r.get::<_, Option<i64>>(6)?.map(UnixTime),
            data: ContactData::parse(&data).map_err(|_| bad("data", &data))?,
            priority: r.get(8)?,
            contact: r.get::<_, Option<i64>>(13)?.map(ContactId),
            retries: r.get(14)?,
        },
        status: ScheduleStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        attempts: r.get(10)?,
        created_at: UnixTime(r.get(11)?),
        updated_at: UnixTime(r.get(12)?),
    })
}

fn alternatives(c: &NewScheduledCall) -> String {
    joined(&c.alternatives)
}

fn status_of(conn: &rusqlite::Connection, id: ScheduleId) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT status FROM dialer_schedule WHERE id = ?1")?
        .query_row([id.0], |r| r.get(0))
        .optional()
}

/// What an update that changed nothing found: no call, or a call in another status.
fn refused(conn: &rusqlite::Connection, id: ScheduleId) -> rusqlite::Result<Change> {
    Ok(match status_of(conn, id)? {
        None => Change::Unknown,
        Some(s) => Change::Refused(ScheduleStatus::parse(&s).ok_or_else(|| bad("status", &s))?),
    })
}

/// Commits a one-call change: done when it touched the call, else why not.
fn settle(tx: rusqlite::Transaction<'_>, id: ScheduleId, n: usize) -> rusqlite::Result<Change> {
    let change = if n == 1 {
        Change::Done
    } else {
        refused(&tx, id)?
    };
    tx.commit()?;
    Ok(change)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// The `WHERE` clause of a listing and its parameters.
fn filter_sql(f: &ScheduleFilter) -> (String, Vec<Box<dyn rusqlite::ToSql>>) {
    let mut clauses = Vec::new();
    let mut values: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if !f.statuses.is_empty() {
        let marks: Vec<String> = f
            .statuses
            .iter()
            .map(|s| {
                values.push(Box::new(s.as_str()));
                format!("?{}", values.len())
            })
            .collect();
        clauses.push(format!("status IN ({})", marks.join(", ")));
    }
    let mut eq = |col: &str, v: Box<dyn rusqlite::ToSql>, op: &str| {
        values.push(v);
        clauses.push(format!("{col} {op} ?{}", values.len()));
    };
    if let Some(c) = f.campaign {
        eq("campaign_id", Box::new(c.0), "=");
    }
    if let Some(a) = &f.agent {
        eq("agent", Box::new(a.clone()), "=");
    }
    if let Some(n) = &f.number {
        eq("number", Box::new(n.as_str().to_owned()), "=");
    }
    if let Some(t) = f.from {
        eq("call_at", Box::new(t.seconds()), ">=");
    }
    if let Some(t) = f.to {
        eq("call_at", Box::new(t.seconds()), "<=");
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, values)
}

impl ScheduleStore for SqliteDialer {
    fn schedule_create(
        &self,
        c: &NewScheduledCall,
        now: UnixTime,
    ) -> Result<Option<ScheduleId>, PortError> {
        self.conn.query(|conn| {
            // The partial unique index over open calls refuses a second open call for the
            // number; OR IGNORE makes that a quiet "not added".
            let n = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO dialer_schedule (campaign_id, number, alternatives, \
                     agent, call_at, expires_at, data, priority, status, attempts, created_at, \
                     updated_at, for_contact, retries) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?9, ?10, ?11)",
                )?
                .execute(params![
                    c.campaign.0,
                    c.number.as_str(),
                    alternatives(c),
                    c.agent,
                    c.call_at.map(|t| t.seconds()),
                    c.expires_at.map(|t| t.seconds()),
                    c.data.as_text(),
                    c.priority,
                    now.seconds(),
                    c.contact.map(|c| c.0),
                    c.retries
                ])?;
            Ok((n == 1).then(|| ScheduleId(conn.last_insert_rowid())))
        })
    }

    fn schedule_get(&self, id: ScheduleId) -> Result<Option<ScheduledCall>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM dialer_schedule WHERE id = ?1"
            ))?
            .query_row([id.0], row)
            .optional()
        })
    }

    fn schedule_list(
        &self,
        f: &ScheduleFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<ScheduledCall>), PortError> {
        let (clause, mut values) = filter_sql(f);
        self.conn.query(|conn| {
            let refs: Vec<&dyn rusqlite::ToSql> = values.iter().map(|b| b.as_ref()).collect();
            let total: i64 = conn
                .prepare_cached(&format!("SELECT COUNT(*) FROM dialer_schedule {clause}"))?
                .query_row(refs.as_slice(), |r| r.get(0))?;
            let k = values.len();
            values.push(Box::new(
                i64::try_from(limit.min(MAX_LIST_LIMIT)).unwrap_or(0),
            ));
            values.push(Box::new(i64::try_from(offset).unwrap_or(i64::MAX)));
            let refs: Vec<&dyn rusqlite::ToSql> = values.iter().map(|b| b.as_ref()).collect();
            let rows = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM dialer_schedule {clause} \
                     ORDER BY call_at IS NULL, call_at, id LIMIT ?{} OFFSET ?{}",
                    k + 1,
                    k + 2
                ))?
                .query_map(refs.as_slice(), row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((total.max(0) as u64, rows))
        })
    }

    fn schedule_update(
        &self,
        id: ScheduleId,
        c: &NewScheduledCall,
        now: UnixTime,
    ) -> Result<Change, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let result = tx.execute(
                "UPDATE dialer_schedule SET number = ?2, alternatives = ?3, agent = ?4, \
                 call_at = ?5, expires_at = ?6, data = ?7, priority = ?8, updated_at = ?9, \
                 campaign_id = ?10 WHERE id = ?1 AND status = 'pending'",
                params![
                    id.0,
                    c.number.as_str(),
                    alternatives(c),
                    c.agent,
                    c.call_at.map(|t| t.seconds()),
                    c.expires_at.map(|t| t.seconds()),
                    c.data.as_text(),
                    c.priority,
                    now.seconds(),
                    c.campaign.0
                ],
            );
            let change = match result {
                Ok(1) => Change::Done,
                Ok(_) => refused(&tx, id)?,
                Err(e) if is_unique_violation(&e) => Change::AlreadySpooled,
                Err(e) => return Err(e),
            };
            tx.commit()?;
            Ok(change)
        })
    }

    fn schedule_cancel(&self, id: ScheduleId, now: UnixTime) -> Result<Change, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE dialer_schedule SET status = 'canceled', updated_at = ?2 \
                 WHERE id = ?1 AND status = 'pending'",
                params![id.0, now.seconds()],
            )?;
            settle(tx, id, n)
        })
    }

    fn schedule_discard(&self, id: ScheduleId, now: UnixTime) -> Result<Change, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE dialer_schedule SET status = 'canceled', updated_at = ?2 \
                 WHERE id = ?1 AND status IN ('pending', 'expired')",
                params![id.0, now.seconds()],
            )?;
            settle(tx, id, n)
        })
    }

    fn schedule_cancel_range(
        &self,
        campaign: CampaignId,
        number: &PhoneNumber,
        from: UnixTime,
        to: UnixTime,
        now: UnixTime,
    ) -> Result<u64, PortError> {
        self.conn.query(|conn| {
            let n = conn.execute(
                "UPDATE dialer_schedule SET status = 'canceled', updated_at = ?5 \
                 WHERE campaign_id = ?1 AND number = ?2 AND status = 'pending' \
                 AND call_at BETWEEN ?3 AND ?4",
                params![
                    campaign.0,
                    number.as_str(),
                    from.seconds(),
                    to.seconds(),
                    now.seconds()
                ],
            )?;
            Ok(n as u64)
        })
    }

    fn schedule_expire(&self, now: UnixTime) -> Result<u64, PortError> {
        self.conn.query(|conn| {
            let n = conn.execute(
                "UPDATE dialer_schedule SET status = 'expired', updated_at = ?1 \
                 WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= ?1",
                [now.seconds()],
            )?;
            Ok(n as u64)
        })
    }

    fn schedule_next_due(
        &self,
        campaign: CampaignId,
        now: UnixTime,
    ) -> Result<Option<ScheduledCall>, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM dialer_schedule \
                     WHERE campaign_id = ?1 AND status = 'pending' \
                     AND (call_at IS NULL OR call_at <= ?2) \
                     AND (expires_at IS NULL OR expires_at > ?2) \
                     ORDER BY call_at IS NULL, priority, call_at, id LIMIT 1",
                )?
                .query_row(params![campaign.0, now.seconds()], |r| r.get(0))
                .optional()?;
            let Some(id) = found else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE dialer_schedule SET status = 'in_progress', updated_at = ?2 WHERE id = ?1",
                params![id, now.seconds()],
            )?;
            let call = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM dialer_schedule WHERE id = ?1"
                ))?
                .query_row([id], row)?;
            tx.commit()?;
            Ok(Some(call))
        })
    }

    fn schedule_finish(
        &self,
        id: ScheduleId,
        completed: bool,
        now: UnixTime,
    ) -> Result<Change, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = if completed {
                tx.execute(
                    "UPDATE dialer_schedule SET status = 'completed', updated_at = ?2 \
                     WHERE id = ?1 AND status = 'in_progress'",
                    params![id.0, now.seconds()],
                )?
            } else {
                tx.execute(
                    "UPDATE dialer_schedule SET status = 'pending', attempts = attempts + 1, \
                     updated_at = ?2 WHERE id = ?1 AND status = 'in_progress'",
                    params![id.0, now.seconds()],
                )?
            };
            settle(tx, id, n)
        })
    }

    fn schedule_spool(
        &self,
        id: ScheduleId,
        contact: &NewContact,
        now: UnixTime,
    ) -> Result<Option<ContactId>, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let call: Option<(i64, Option<i64>, Option<u32>)> = tx
                .query_row(
                    "SELECT campaign_id, for_contact, retries FROM dialer_schedule \
                     WHERE id = ?1 AND status = 'in_progress' AND contact_id IS NULL",
                    [id.0],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((campaign, for_contact, retries)) = call else {
                return Ok(None);
            };
            let alternatives = joined(&contact.alternatives);
            let by_number: Option<(i64, String)> = tx
                .query_row(
                    "SELECT id, state FROM dialer_contact WHERE campaign_id = ?1 AND main = ?2",
                    params![campaign, contact.main.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            // The contact the call names, when no other contact of the campaign has its number:
            // its main number becomes the call's.
            let named: Option<(i64, String)> = match (for_contact, &by_number) {
                (Some(_), Some(_)) | (None, _) => None,
                (Some(cid), None) => tx
                    .query_row(
                        "SELECT id, state FROM dialer_contact WHERE id = ?1 AND campaign_id = ?2",
                        params![cid, campaign],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?,
            };
            let existing = named.or(by_number);
            let contact_id = match existing {
                Some((_, state)) if state == "in_progress" => {
                    tx.execute(
                        "UPDATE dialer_schedule SET status = 'pending', updated_at = ?2 \
                         WHERE id = ?1",
                        params![id.0, now.seconds()],
                    )?;
                    tx.commit()?;
                    return Ok(None);
                }
                Some((cid, _)) => {
                    tx.execute(
                        "UPDATE dialer_contact SET state = 'pending', callback = 1, next_at = ?2, \
                         priority = ?3, \
                         alternatives = CASE WHEN ?4 = '' AND main = ?7 THEN alternatives \
                             ELSE ?4 END, \
                         data = CASE WHEN ?5 = '' THEN data ELSE ?5 END, \
                         agent = COALESCE(?6, agent), \
                         zone = CASE WHEN main = ?7 THEN zone ELSE ?8 END, main = ?7, \
                         attempts = COALESCE(?9, attempts), state_at = ?2 WHERE id = ?1",
                        params![
                            cid,
                            now.seconds(),
                            contact.priority,
                            alternatives,
                            contact.data.as_text(),
                            contact.agent,
                            contact.main.as_str(),
                            contact.zone.as_str(),
                            retries
                        ],
                    )?;
                    cid
                }
                None => {
                    tx.execute(
                        "INSERT INTO dialer_contact (campaign_id, main, alternatives, data, zone, \
                         priority, agent, callback, state, next_at, attempts, created_at, \
                         state_at, name, info) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, 'pending', ?8, ?11, ?8, ?8, ?9, ?10)",
                        params![
                            campaign,
                            contact.main.as_str(),
                            alternatives,
                            contact.data.as_text(),
                            contact.zone.as_str(),
                            contact.priority,
                            contact.agent,
                            now.seconds(),
                            contact.name,
                            contact.info,
                            retries.unwrap_or(0)
                        ],
                    )?;
                    tx.last_insert_rowid()
                }
            };
            tx.execute(
                "UPDATE dialer_schedule SET contact_id = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.0, contact_id, now.seconds()],
            )?;
            tx.commit()?;
            Ok(Some(ContactId(contact_id)))
        })
    }

    fn schedule_release_unspooled(&self, now: UnixTime) -> Result<u64, PortError> {
        self.conn.query(|conn| {
            let n = conn.execute(
                "UPDATE dialer_schedule SET status = 'pending', updated_at = ?1 \
                 WHERE status = 'in_progress' AND contact_id IS NULL",
                [now.seconds()],
            )?;
            Ok(n as u64)
        })
    }

    fn schedule_counts(
        &self,
        campaign: CampaignId,
    ) -> Result<Vec<(ScheduleStatus, u64)>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(
                "SELECT status, COUNT(*) FROM dialer_schedule WHERE campaign_id = ?1 \
                 GROUP BY status ORDER BY status",
            )?
            .query_map([campaign.0], |r| {
                let s: String = r.get(0)?;
                let n: i64 = r.get(1)?;
                Ok((
                    ScheduleStatus::parse(&s).ok_or_else(|| bad("status", &s))?,
                    n.max(0) as u64,
                ))
            })?
            .collect()
        })
    }
}

#[cfg(test)]
#[path = "dialer_schedule_tests.rs"]
mod tests;
