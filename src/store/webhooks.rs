//! [`SqliteWebhooks`]: the core's [`WebhookStore`] port on the engine's SQLite file (tables
//! `webhook_outbox` and `webhook_cursor`). The facts are read from the journal's `queue_log`
//! and the dialer's `dialer_attempt`; the deliveries they make and the cursors past them are
//! written in one `IMMEDIATE` transaction, and `UNIQUE (endpoint, event_key)` with
//! `INSERT OR IGNORE` keeps a fact queued twice from being delivered twice. Facts from before
//! the first follow (`webhook_cursor.since`) are history and never queued, even when the
//! journal ingests them later (the backlog of a new store).

use std::path::Path;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use crate::core::webhooks::{
    dialer_attempt_event, queue_log_event, AttemptFact, Delivery, Endpoint, EndpointName,
    EndpointStatus, EventKey, WebhookEvent, WebhookStore,
};
use crate::core::{PortError, UnixTime};

use super::connection::SharedConnection;
use super::error::StoreError;

/// The outbox in the engine's SQLite file. `Sync`: one connection behind a mutex.
#[derive(Debug)]
pub struct SqliteWebhooks {
    conn: SharedConnection,
}

impl SqliteWebhooks {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, false)?,
        })
    }
}

const QUEUE_LOG: &str = "queue_log";
const DIALER_ATTEMPT: &str = "dialer_attempt";

/// The last fact taken from `source` and the instant before which facts are history.
fn cursor(
    tx: &rusqlite::Transaction<'_>,
    source: &str,
    table: &str,
    now: UnixTime,
) -> rusqlite::Result<(i64, i64)> {
    let stored: Option<(i64, i64)> = tx
        .query_row(
            "SELECT last_id, since FROM webhook_cursor WHERE source = ?1",
            [source],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match stored {
        Some(c) => Ok(c),
        None => {
            // First start: after the facts already there, and facts from before now that
            // the journal ingests later (its backlog) are history too: not sent.
            let last: i64 = tx.query_row(
                &format!("SELECT COALESCE(MAX(id), 0) FROM {table}"),
                [],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO webhook_cursor (source, last_id, since) VALUES (?1, ?2, ?3)",
                params![source, last, now.seconds()],
            )?;
            Ok((last, now.seconds()))
        }
    }
}

fn enqueue(
    tx: &rusqlite::Transaction<'_>,
    endpoints: &[Endpoint],
    event: &WebhookEvent,
    encode: &(dyn Fn(&WebhookEvent) -> Vec<u8> + Sync),
    now: UnixTime,
) -> rusqlite::Result<usize> {
    let wanting: Vec<&Endpoint> = endpoints.iter().filter(|e| e.wants(event.kind)).collect();
    if wanting.is_empty() {
        return Ok(0);
    }
    let body = encode(event);
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO webhook_outbox (endpoint, event_key, event, body, queued_at, state) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
    )?;
    let mut queued = 0;
    for e in wanting {
        queued += stmt.execute(params![
            e.name.as_str(),
            event.key.as_str(),
            event.kind.name(),
            body,
            now.seconds()
        ])?;
    }
    Ok(queued)
}

impl WebhookStore for SqliteWebhooks {
    fn queue_new_facts(
        &self,
        endpoints: &[Endpoint],
        encode: &(dyn Fn(&WebhookEvent) -> Vec<u8> + Sync),
        limit: usize,
        now: UnixTime,
    ) -> Result<usize, PortError> {
        let limit = limit.clamp(1, 10_000) as i64;
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut queued = 0;
            let (from, since) = cursor(&tx, QUEUE_LOG, "queue_log", now)?;
            let mut last = from;
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, time_epoch, callid, queue, agent, event, data FROM queue_log \
                     WHERE id > ?1 ORDER BY id LIMIT ?2",
                )?;
                let mut rows = stmt.query(params![from, limit])?;
                while let Some(r) = rows.next()? {
                    let id: i64 = r.get(0)?;
                    last = id;
                    let (callid, queue, agent, event): (String, String, String, String) =
                        (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
                    let data: Option<String> = r.get(6)?;
                    let time: i64 = r.get(1)?;
                    if time < since {
                        continue;
                    }
                    if let Some(ev) =
                        queue_log_event(id, time, &callid, &queue, &agent, &event, data.as_deref())
                    {
                        queued += enqueue(&tx, endpoints, &ev, encode, now)?;
                    }
                }
            }
            if last != from {
                tx.execute(
                    "UPDATE webhook_cursor SET last_id = ?2 WHERE source = ?1",
                    params![QUEUE_LOG, last],
                )?;
            }
            let (from, since) = cursor(&tx, DIALER_ATTEMPT, "dialer_attempt", now)?;
            let mut last = from;
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT a.id, COALESCE(c.name, ''), a.contact_id, a.number_of, a.dialed, \
                     a.outcome, a.claimed_at, a.answered_at, a.ended_at \
                     FROM dialer_attempt a LEFT JOIN dialer_contact t ON t.id = a.contact_id \
                     LEFT JOIN dialer_campaign c ON c.id = t.campaign_id \
                     WHERE a.id > ?1 ORDER BY a.id LIMIT ?2",
                )?;
                let mut rows = stmt.query(params![from, limit])?;
                while let Some(r) = rows.next()? {
                    let fact = AttemptFact {
                        id: r.get(0)?,
                        campaign: r.get(1)?,
                        contact_id: r.get(2)?,
                        number_of: r.get(3)?,
                        dialed: r.get(4)?,
                        outcome: r.get(5)?,
                        claimed_at: r.get(6)?,
                        answered_at: r.get(7)?,
                        ended_at: r.get(8)?,
                    };
                    last = fact.id;
                    if fact.ended_at < since {
                        continue;
                    }
                    queued += enqueue(&tx, endpoints, &dialer_attempt_event(&fact), encode, now)?;
                }
            }
            if last != from {
                tx.execute(
                    "UPDATE webhook_cursor SET last_id = ?2 WHERE source = ?1",
                    params![DIALER_ATTEMPT, last],
                )?;
            }
            tx.commit()?;
            Ok(queued)
        })
    }

    fn head(&self, endpoint: &EndpointName) -> Result<Option<Delivery>, PortError> {
        self.conn.query(|conn| {
            conn.query_row(
                "SELECT id, event_key, body, queued_at, failures, next_at_ms FROM webhook_outbox \
                 WHERE endpoint = ?1 AND state = 'pending' ORDER BY id LIMIT 1",
                [endpoint.as_str()],
                |r| {
                    Ok(Delivery {
                        id: r.get(0)?,
                        endpoint: endpoint.clone(),
                        key: EventKey::from_stored(r.get(1)?),
                        body: r.get(2)?,
                        queued: UnixTime(r.get(3)?),
                        failures: r.get::<_, i64>(4)?.clamp(0, u32::MAX as i64) as u32,
                        next_at_ms: r.get(5)?,
                    })
                },
            )
            .optional()
        })
    }

    fn delivered(&self, id: i64, now: UnixTime) -> Result<(), PortError> {
        self.conn.query(|conn| {
            conn.execute(
                "UPDATE webhook_outbox SET state = 'delivered', delivered_at = ?2, \
                 last_error = NULL WHERE id = ?1",
                params![id, now.seconds()],
            )
            .map(drop)
        })
    }

    fn failed(&self, id: i64, error: &str, next_at_ms: i64, dead: bool) -> Result<(), PortError> {
        let error: String = error.chars().take(300).collect();
        self.conn.query(|conn| {
            conn.execute(
                "UPDATE webhook_outbox SET failures = failures + 1, last_error = ?2, \
                 next_at_ms = ?3, state = CASE WHEN ?4 THEN 'dead' ELSE state END WHERE id = ?1",
                params![id, error, next_at_ms, dead],
            )
            .map(drop)
        })
    }

    fn status(&self) -> Result<Vec<EndpointStatus>, PortError> {
        self.conn.query(|conn| {
            let mut stmt = conn.prepare(
                "SELECT endpoint, \
                 SUM(state = 'pending'), SUM(state = 'delivered'), SUM(state = 'dead'), \
                 (SELECT last_error FROM webhook_outbox h WHERE h.endpoint = o.endpoint \
                  AND h.state = 'pending' ORDER BY h.id LIMIT 1) \
                 FROM webhook_outbox o GROUP BY endpoint ORDER BY endpoint",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(EndpointStatus {
                    endpoint: r.get(0)?,
                    pending: r.get::<_, i64>(1)? as u64,
                    delivered: r.get::<_, i64>(2)? as u64,
                    dead: r.get::<_, i64>(3)? as u64,
                    last_error: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    fn retry_dead(&self, endpoint: Option<&str>, now: UnixTime) -> Result<usize, PortError> {
        self.conn.query(|conn| {
            conn.execute(
                "UPDATE webhook_outbox SET state = 'pending', failures = 0, next_at_ms = 0, \
                 queued_at = ?2 WHERE state = 'dead' AND (?1 IS NULL OR endpoint = ?1)",
                params![endpoint, now.seconds()],
            )
        })
    }
}
