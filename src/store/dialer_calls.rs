//! The dialer's calls on SQLite ([`DialerCallStore`]): `dialer_contact.job` and the
//! `dialer_evidence` ledger (one row per job: its primary key is the attempt, `job` is unique).

use rusqlite::{params, TransactionBehavior};

use crate::core::dialer::calls::{DialerCallStore, InFlight, LedgerCounts};
use crate::core::dialer::claim::AfterAttempt;
use crate::core::dialer::contact::{Attempt, ContactId};
use crate::core::dialer::evidence::Evidence;
use crate::core::dialer::CampaignId;
use crate::core::originate::{JobState, OriginateId};
use crate::core::{PortError, UnixTime};

use super::dialer::{
    attempt_row_at, contact_row, insert_attempt, settled_state, SqliteDialer, CONTACT_COLUMNS,
    CONTACT_COLUMN_COUNT,
};
use super::error::bad;

fn evidence_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Evidence> {
    let job: String = r.get(at)?;
    let state: String = r.get(at + 1)?;
    Ok(Evidence {
        job: OriginateId::parse(&job).map_err(|_| bad("job", &job))?,
        job_state: JobState::parse(&state).ok_or_else(|| bad("job state", &state))?,
        answered: r.get(at + 2)?,
        amd: r.get(at + 3)?,
        machine: r.get(at + 4)?,
        safe_harbor: r.get(at + 5)?,
        abandoned: r.get(at + 6)?,
        agent: r.get(at + 7)?,
        answered_ms: r.get(at + 8)?,
        greeting_end_ms: r.get(at + 9)?,
        connected_ms: r.get(at + 10)?,
    })
}

impl DialerCallStore for SqliteDialer {
    fn set_job(&self, contact: ContactId, job: &OriginateId) -> Result<bool, PortError> {
        self.conn.query(|conn| {
            let n = conn.execute(
                "UPDATE dialer_contact SET job = ?2 WHERE id = ?1 AND state = 'in_progress'",
                params![contact.0, job.as_str()],
            )?;
            Ok(n == 1)
        })
    }

    fn release(&self, contact: ContactId) -> Result<bool, PortError> {
        self.conn.query(|conn| {
            let n = conn.execute(
                "UPDATE dialer_contact SET state = 'pending' \
                 WHERE id = ?1 AND state = 'in_progress' AND job IS NULL",
                [contact.0],
            )?;
            Ok(n == 1)
        })
    }

    fn release_unplaced(&self, contact: ContactId, job: &OriginateId) -> Result<bool, PortError> {
        self.conn.query(|conn| {
            let n = conn.execute(
                "UPDATE dialer_contact SET state = 'pending', job = NULL \
                 WHERE id = ?1 AND state = 'in_progress' AND job = ?2",
                params![contact.0, job.as_str()],
            )?;
            Ok(n == 1)
        })
    }

    fn in_flight(&self, campaign: CampaignId) -> Result<Vec<InFlight>, PortError> {
        self.conn.query(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CONTACT_COLUMNS}, job FROM dialer_contact \
                 WHERE campaign_id = ?1 AND state = 'in_progress' ORDER BY id"
            ))?;
            let rows = stmt.query_map([campaign.0], |r| {
                let job: Option<String> = r.get(CONTACT_COLUMN_COUNT)?;
                Ok(InFlight {
                    contact: contact_row(r)?,
                    job: match job {
                        Some(j) => Some(OriginateId::parse(&j).map_err(|_| bad("job", &j))?),
                        None => None,
                    },
                })
            })?;
            rows.collect()
        })
    }

    fn finish_with_evidence(
        &self,
        a: &Attempt,
        next: AfterAttempt,
        campaign: CampaignId,
        e: &Evidence,
    ) -> Result<bool, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let recorded: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM dialer_evidence WHERE job = ?1)",
                [e.job.as_str()],
                |r| r.get(0),
            )?;
            if recorded {
                return Ok(false);
            }
            let (state, next_at) = settled_state(a, next);
            let n = tx.execute(
                "UPDATE dialer_contact SET state = ?2, next_at = ?3, attempts = attempts + 1, \
                 callback = 0, state_at = ?4, job = NULL \
                 WHERE id = ?1 AND state = 'in_progress'",
                params![
                    a.contact.0,
                    state.as_str(),
                    next_at.seconds(),
                    a.ended_at.seconds()
                ],
            )?;
            if n == 0 {
                return Ok(false);
            }
            // A scheduled call placed through this contact has been placed.
            tx.execute(
                "UPDATE dialer_schedule SET status = 'completed', updated_at = ?2 \
                 WHERE contact_id = ?1 AND status = 'in_progress'",
                params![a.contact.0, a.ended_at.seconds()],
            )?;
            insert_attempt(&tx, a)?;
            tx.execute(
                "INSERT INTO dialer_evidence (contact_id, number_of, campaign_id, job, ended_at, \
                 job_state, answered, amd, machine, safe_harbor, abandoned, agent, answered_ms, \
                 greeting_end_ms, connected_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    a.contact.0,
                    a.number_of,
                    campaign.0,
                    e.job.as_str(),
                    a.ended_at.seconds(),
                    e.job_state.as_str(),
                    e.answered,
                    e.amd,
                    e.machine,
                    e.safe_harbor,
                    e.abandoned,
                    e.agent,
                    e.answered_ms,
                    e.greeting_end_ms,
                    e.connected_ms
                ],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn ledger(&self, campaign: CampaignId, since: UnixTime) -> Result<LedgerCounts, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(
                "SELECT COALESCE(SUM(answered), 0), COALESCE(SUM(machine), 0), \
                 COALESCE(SUM(abandoned), 0), COUNT(*) FROM dialer_evidence \
                 WHERE campaign_id = ?1 AND ended_at >= ?2",
            )?
            .query_row(params![campaign.0, since.seconds()], |r| {
                let n =
                    |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
                Ok(LedgerCounts {
                    attempts: n(3)?,
                    answered: n(0)?,
                    machines: n(1)?,
                    abandoned: n(2)?,
                })
            })
        })
    }

    fn recent(
        &self,
        campaign: CampaignId,
        since: UnixTime,
        limit: u32,
    ) -> Result<Vec<(Attempt, Evidence)>, PortError> {
        self.conn.query(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT * FROM (SELECT a.contact_id, a.number_of, a.dialed, a.claimed_at, \
                 a.answered_at, a.ended_at, a.outcome, a.connect_latency_ms, \
                 e.job, e.job_state, e.answered, e.amd, e.machine, e.safe_harbor, e.abandoned, \
                 e.agent, e.answered_ms, e.greeting_end_ms, e.connected_ms, e.ended_at AS t \
                 FROM dialer_evidence e \
                 JOIN dialer_attempt a ON a.contact_id = e.contact_id AND a.number_of = e.number_of \
                 WHERE e.campaign_id = ?1 AND e.ended_at >= ?2 \
                 ORDER BY e.ended_at DESC, e.job DESC LIMIT ?3) ORDER BY t, job",
            )?;
            let rows = stmt.query_map(params![campaign.0, since.seconds(), limit], |r| {
                Ok((attempt_row_at(r, 0)?, evidence_row(r, 8)?))
            })?;
            rows.collect()
        })
    }

    fn evidence(
        &self,
        campaign: CampaignId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<(ContactId, u32, Evidence)>, PortError> {
        self.conn.query(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT contact_id, number_of, job, job_state, answered, amd, machine, \
                 safe_harbor, abandoned, agent, answered_ms, greeting_end_ms, connected_ms \
                 FROM dialer_evidence WHERE campaign_id = ?1 ORDER BY ended_at, job \
                 LIMIT ?2 OFFSET ?3",
            )?;
            let rows = stmt.query_map(
                params![
                    campaign.0,
                    i64::try_from(limit).unwrap_or(i64::MAX),
                    i64::try_from(offset).unwrap_or(i64::MAX)
                ],
                |r| Ok((ContactId(r.get(0)?), r.get(1)?, evidence_row(r, 2)?)),
            )?;
            rows.collect()
        })
    }
}
