//! [`SqliteDialer`]: the core's [`DialerStore`] port on the engine's SQLite file (tables
//! `dialer_campaign`, `dialer_contact`, `dialer_attempt`; the `blacklist` read at claim time),
//! with its own connection beside the journal's.
//!
//! Claiming is one `BEGIN IMMEDIATE` transaction: the indexed select of the first dialable
//! contact and its update to `in_progress`, so two claimers (threads or processes on one file)
//! never get the same contact. The select walks `dialer_contact_claim` (campaign, state, zone,
//! callback, priority, id) once per open zone, so contacts of closed zones are never read; the
//! campaign's zones come from a skip scan of `dialer_contact_zone` (one seek per zone).

use std::path::Path;

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use crate::core::campaigns::{CallDirection, CampaignName};
use crate::core::dialer::campaign::{
    parse_holidays, AbandonStart, AbandonTarget, AlternativesOrder, AnswerHandling, CampaignState,
    DialMode, FalsePositiveShare, Hours, Regime, RetryRules, Schedule, SoundName, Weekdays,
};
use crate::core::dialer::claim::{AfterAttempt, ClaimFilter, Claimed, WhyReport};
use crate::core::dialer::contact::{pick_number, ContactData};
use crate::core::dialer::{
    Attempt, CampaignId, Contact, ContactId, ContactState, DialerCampaign, DialerStore, NewContact,
    Outcome, ZoneName,
};
use crate::core::directory::{QueueName, TrunkName};
use crate::core::originate::PhoneNumber;
use crate::core::PortError;
use crate::core::UnixTime;

use super::campaigns::blacklist_entries;
use super::connection::SharedConnection;
use super::error::{bad, StoreError};

/// The dialer tables in the engine's SQLite file. `Sync`: one connection behind a mutex.
#[derive(Debug)]
pub struct SqliteDialer {
    pub(super) conn: SharedConnection,
}

impl SqliteDialer {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            conn: SharedConnection::open_beside(path, true)?,
        })
    }
}

pub(super) const CAMPAIGN_COLUMNS: &str =
    "name, queue, mode, trunk, caller_id, weekdays, hours, holidays, \
     calling_floor, retry, alternatives, priority, ring_timeout_s, abandon_per_mille, regime, \
     state, default_zone, amd, abandon_threshold_s, abandon_start, safe_harbor, \
     amd_false_positives_per_mille";

pub(super) fn campaign_row(r: &Row<'_>, at: usize) -> rusqlite::Result<DialerCampaign> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(at + i) };
    let opt = |i: usize| -> rusqlite::Result<Option<String>> { r.get(at + i) };
    let name = text(0)?;
    let queue = text(1)?;
    let mode = text(2)?;
    let weekdays = text(5)?;
    let hours = text(6)?;
    let holidays = text(7)?;
    let floor = text(8)?;
    let retry = text(9)?;
    let alternatives = text(10)?;
    let regime = text(14)?;
    let state = text(15)?;
    let zone = text(16)?;
    Ok(DialerCampaign {
        name: CampaignName::parse(&name).ok_or_else(|| bad("campaign", &name))?,
        queue: QueueName::new(&queue).map_err(|_| bad("queue", &queue))?,
        mode: DialMode::parse(&mode).map_err(|_| bad("mode", &mode))?,
        trunk: match opt(3)? {
            Some(t) => Some(TrunkName::new(&t).map_err(|_| bad("trunk", &t))?),
            None => None,
        },
        caller_id: match opt(4)? {
            Some(c) => Some(PhoneNumber::parse(&c).map_err(|_| bad("caller id", &c))?),
            None => None,
        },
        schedule: Schedule {
            weekdays: Weekdays::parse(&weekdays).map_err(|_| bad("weekdays", &weekdays))?,
            hours: Hours::parse(&hours).map_err(|_| bad("hours", &hours))?,
            holidays: parse_holidays(&holidays).map_err(|_| bad("holidays", &holidays))?,
        },
        calling_floor: Hours::parse(&floor).map_err(|_| bad("floor", &floor))?,
        retry: RetryRules::parse(&retry).map_err(|_| bad("retry", &retry))?,
        alternatives: AlternativesOrder::parse(&alternatives)
            .map_err(|_| bad("alternatives", &alternatives))?,
        priority: r.get(at + 11)?,
        ring_timeout_s: r.get(at + 12)?,
        abandon_target: AbandonTarget::from_per_mille(r.get(at + 13)?)
            .map_err(|_| bad("abandon target", "?"))?,
        regime: Regime::parse(&regime).map_err(|_| bad("regime", &regime))?,
        state: CampaignState::parse(&state).map_err(|_| bad("state", &state))?,
        default_zone: ZoneName::parse(&zone).map_err(|_| bad("zone", &zone))?,
        answer: {
            let start = text(19)?;
            let sound = text(20)?;
            let fp: u16 = r.get(at + 21)?;
            AnswerHandling {
                amd: r.get(at + 17)?,
                amd_false_positives: FalsePositiveShare::from_per_mille(fp)
                    .ok_or_else(|| bad("AMD false positives", &fp.to_string()))?,
                threshold_s: r.get(at + 18)?,
                start: AbandonStart::parse(&start).map_err(|_| bad("abandon start", &start))?,
                safe_harbor: SoundName::parse(&sound).map_err(|_| bad("safe harbor", &sound))?,
            }
        },
    })
}

fn campaign_params(c: &DialerCampaign) -> [Box<dyn rusqlite::ToSql + '_>; 22] {
    [
        Box::new(c.name.as_str()),
        Box::new(c.queue.as_str()),
        Box::new(c.mode.as_text()),
        Box::new(c.trunk.as_ref().map(|t| t.as_str().to_owned())),
        Box::new(c.caller_id.as_ref().map(|n| n.as_str().to_owned())),
        Box::new(c.schedule.weekdays.as_text()),
        Box::new(c.schedule.hours.to_string()),
        Box::new(crate::core::dialer::campaign::holidays_text(
            &c.schedule.holidays,
        )),
        Box::new(c.calling_floor.to_string()),
        Box::new(c.retry.as_text()),
        Box::new(c.alternatives.as_text()),
        Box::new(c.priority),
        Box::new(c.ring_timeout_s),
        Box::new(c.abandon_target.per_mille()),
        Box::new(c.regime.as_text()),
        Box::new(c.state.as_str()),
        Box::new(c.default_zone.as_str()),
        Box::new(c.answer.amd),
        Box::new(c.answer.threshold_s),
        Box::new(c.answer.start.as_text()),
        Box::new(c.answer.safe_harbor.as_str()),
        Box::new(c.answer.amd_false_positives.per_mille()),
    ]
}

pub(super) const CONTACT_COLUMNS: &str =
    "id, campaign_id, main, alternatives, data, zone, priority, agent, \
     callback, state, next_at, attempts, created_at, state_at, name, info";

/// How many columns [`CONTACT_COLUMNS`] names (the index of the first column after them).
pub(super) const CONTACT_COLUMN_COUNT: usize = 16;

pub(super) fn contact_row(r: &Row<'_>) -> rusqlite::Result<Contact> {
    let text = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let main = text(2)?;
    let alternatives = text(3)?;
    let data = text(4)?;
    let zone = text(5)?;
    let state = text(9)?;
    let callback: bool = r.get(8)?;
    let next_at = UnixTime(r.get(10)?);
    Ok(Contact {
        id: ContactId(r.get(0)?),
        campaign: CampaignId(r.get(1)?),
        spec: NewContact {
            main: PhoneNumber::parse(&main).map_err(|_| bad("number", &main))?,
            alternatives: alternatives
                .split(':')
                .filter(|a| !a.is_empty())
                .map(|a| PhoneNumber::parse(a).map_err(|_| bad("alternative", a)))
                .collect::<Result<_, _>>()?,
            data: ContactData::parse(&data).map_err(|_| bad("data", &data))?,
            zone: ZoneName::parse(&zone).map_err(|_| bad("zone", &zone))?,
            priority: r.get(6)?,
            agent: r.get(7)?,
            callback_at: callback.then_some(next_at),
            name: r.get(14)?,
            info: r.get(15)?,
        },
        state: ContactState::parse(&state).ok_or_else(|| bad("state", &state))?,
        next_at,
        attempts: r.get(11)?,
        created_at: UnixTime(r.get(12)?),
        state_at: UnixTime(r.get(13)?),
    })
}

fn attempt_row(r: &Row<'_>) -> rusqlite::Result<Attempt> {
    attempt_row_at(r, 0)
}

/// The attempt whose columns (`contact_id, number_of, dialed, claimed_at, answered_at,
/// ended_at, outcome, connect_latency_ms`) start at column `at`.
pub(super) fn attempt_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<Attempt> {
    let dialed: String = r.get(at + 2)?;
    let outcome: String = r.get(at + 6)?;
    Ok(Attempt {
        contact: ContactId(r.get(at)?),
        number_of: r.get(at + 1)?,
        dialed: PhoneNumber::parse(&dialed).map_err(|_| bad("number", &dialed))?,
        claimed_at: UnixTime(r.get(at + 3)?),
        answered_at: r.get::<_, Option<i64>>(at + 4)?.map(UnixTime),
        ended_at: UnixTime(r.get(at + 5)?),
        outcome: Outcome::parse(&outcome).ok_or_else(|| bad("outcome", &outcome))?,
        connect_latency_ms: r.get(at + 7)?,
    })
}

/// A finished attempt's contact state and its next time: pending again at the retry's time,
/// or done at the attempt's end.
pub(super) fn settled_state(a: &Attempt, next: AfterAttempt) -> (ContactState, UnixTime) {
    match next {
        AfterAttempt::Retry { next_at } => (ContactState::Pending, next_at),
        AfterAttempt::Done(s) => (s, a.ended_at),
    }
}

/// Records a finished attempt in the contact's history.
pub(super) fn insert_attempt(conn: &rusqlite::Connection, a: &Attempt) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO dialer_attempt (contact_id, number_of, dialed, claimed_at, \
         answered_at, ended_at, outcome, connect_latency_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            a.contact.0,
            a.number_of,
            a.dialed.as_str(),
            a.claimed_at.seconds(),
            a.answered_at.map(|t| t.seconds()),
            a.ended_at.seconds(),
            a.outcome.as_text(),
            a.connect_latency_ms
        ],
    )?;
    Ok(())
}

/// Numbers as stored in one column: joined by `:`.
/// Adds `contacts` to campaign `id` within `tx` (Pending, due at their callback date or `now`);
/// for each, whether it was added (`false`: the campaign has its main number already).
pub(super) fn insert_contacts_in(
    tx: &rusqlite::Transaction<'_>,
    id: CampaignId,
    contacts: &[NewContact],
    now: UnixTime,
) -> rusqlite::Result<Vec<bool>> {
    let mut added = Vec::with_capacity(contacts.len());
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO dialer_contact (campaign_id, main, alternatives, data, \
         zone, priority, agent, callback, state, next_at, attempts, created_at, \
         state_at, name, info) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, 0, ?10, ?10, ?11, ?12)",
    )?;
    for c in contacts {
        let alternatives = joined(&c.alternatives);
        let n = stmt.execute(params![
            id.0,
            c.main.as_str(),
            alternatives,
            c.data.as_text(),
            c.zone.as_str(),
            c.priority,
            c.agent,
            c.callback_at.is_some(),
            c.callback_at.unwrap_or(now).seconds(),
            now.seconds(),
            c.name,
            c.info
        ])?;
        added.push(n == 1);
    }
    Ok(added)
}

pub(super) fn joined(numbers: &[PhoneNumber]) -> String {
    numbers
        .iter()
        .map(PhoneNumber::as_str)
        .collect::<Vec<_>>()
        .join(":")
}

fn agent_list(keys: &[String]) -> String {
    serde_json::to_string(keys).unwrap_or_else(|_| "[]".into())
}

fn json_list(zones: &[ZoneName]) -> String {
    serde_json::to_string(&zones.iter().map(ZoneName::as_str).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

/// The blacklist condition on `c.main` (parameters: `:name`, `:today`), the same rule as
/// `BlacklistEntry::blocks` for outbound calls.
const BLACKLISTED: &str = "EXISTS (SELECT 1 FROM blacklist b WHERE b.phone = c.main \
     AND b.campaign IN (:name, '*') AND b.direction IN ('O', 'IO') \
     AND (b.expire_date IS NULL OR b.expire_date >= :today))";

/// A contact without an agent, or whose agent is one of the free ones (parameter `:agents`, a
/// JSON list of agent keys), the rule of `AgentFilter::allows`.
const AGENT_FREE: &str = "(c.agent IS NULL OR c.agent = '' \
     OR c.agent IN (SELECT value FROM json_each(:agents)))";

/// The conditions every claimed contact meets besides its zone (parameters `:campaign`,
/// `:now`, `:max`, `:name`, `:today`, `:agents`).
fn dialable_sql() -> String {
    format!(
        "c.campaign_id = :campaign AND c.state = 'pending' \
         AND c.next_at <= :now AND (c.attempts < :max OR c.callback = 1) AND NOT {BLACKLISTED} \
         AND {AGENT_FREE}"
    )
}

/// At most this many zones are walked by one query (two terms each; SQLite bounds a compound
/// select at 500 terms); more open zones are walked in several queries and the best of their
/// finds taken.
const MAX_ZONE_WALKS: usize = 64;

/// The claim query for `zones` open zones (at most [`MAX_ZONE_WALKS`]; parameters `:z0`,
/// `:z1`, ...; public for plans and benches): in each zone the first due callback (found by
/// due time in `dialer_contact_callback_due`) and the first other dialable contact (a walk of
/// `dialer_contact_claim` from (campaign, pending, zone, not a callback) in claim order), then
/// the first of those: its id, callback flag and priority.
pub fn claim_sql(zones: usize) -> String {
    let walks = (0..zones)
        .map(|i| {
            // Due callbacks through their own partial index (by due time, so callbacks not due
            // yet are never walked), then the first other contact in claim order.
            format!(
                "SELECT * FROM (SELECT c.id, c.callback, c.priority FROM dialer_contact c \
                 INDEXED BY dialer_contact_callback_due \
                 WHERE {d} AND c.zone = :z{i} AND c.callback = 1 \
                 ORDER BY c.priority, c.id LIMIT 1) \
                 UNION ALL \
                 SELECT * FROM (SELECT c.id, c.callback, c.priority FROM dialer_contact c \
                 WHERE {d} AND c.zone = :z{i} AND c.callback = 0 \
                 ORDER BY c.priority, c.id LIMIT 1)",
                d = dialable_sql()
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    format!(
        "SELECT id, callback, priority FROM ({walks}) \
         ORDER BY callback DESC, priority, id LIMIT 1"
    )
}

impl DialerStore for SqliteDialer {
    fn campaign_create(&self, c: &DialerCampaign) -> Result<Option<CampaignId>, PortError> {
        self.conn.query(|conn| {
            let p = campaign_params(c);
            let refs: Vec<&dyn rusqlite::ToSql> = p.iter().map(|b| b.as_ref()).collect();
            let n = conn
                .prepare_cached(&format!(
                    "INSERT OR IGNORE INTO dialer_campaign ({CAMPAIGN_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                      ?18, ?19, ?20, ?21, ?22)"
                ))?
                .execute(refs.as_slice())?;
            Ok((n == 1).then(|| CampaignId(conn.last_insert_rowid())))
        })
    }

    fn campaign_update(&self, id: CampaignId, c: &DialerCampaign) -> Result<bool, PortError> {
        self.conn.query(|conn| {
            let p = campaign_params(c);
            let mut refs: Vec<&dyn rusqlite::ToSql> = p.iter().map(|b| b.as_ref()).collect();
            refs.push(&id.0);
            let sets = CAMPAIGN_COLUMNS
                .split(", ")
                .enumerate()
                .map(|(i, col)| format!("{} = ?{}", col.trim(), i + 1))
                .collect::<Vec<_>>()
                .join(", ");
            let n = conn
                .prepare_cached(&format!("UPDATE dialer_campaign SET {sets} WHERE id = ?23"))?
                .execute(refs.as_slice())?;
            Ok(n == 1)
        })
    }

    fn campaign(&self, id: CampaignId) -> Result<Option<DialerCampaign>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM dialer_campaign WHERE id = ?1"
            ))?
            .query_row([id.0], |r| campaign_row(r, 0))
            .optional()
        })
    }

    fn campaign_by_name(
        &self,
        name: &CampaignName,
    ) -> Result<Option<(CampaignId, DialerCampaign)>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT id, {CAMPAIGN_COLUMNS} FROM dialer_campaign WHERE name = ?1"
            ))?
            .query_row([name.as_str()], |r| {
                Ok((CampaignId(r.get(0)?), campaign_row(r, 1)?))
            })
            .optional()
        })
    }

    fn campaigns(&self) -> Result<Vec<(CampaignId, DialerCampaign)>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT id, {CAMPAIGN_COLUMNS} FROM dialer_campaign ORDER BY id"
            ))?
            .query_map([], |r| Ok((CampaignId(r.get(0)?), campaign_row(r, 1)?)))?
            .collect()
        })
    }

    fn insert_contacts(
        &self,
        id: CampaignId,
        contacts: &[NewContact],
        now: UnixTime,
    ) -> Result<Vec<bool>, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let added = insert_contacts_in(&tx, id, contacts, now)?;
            tx.commit()?;
            Ok(added)
        })
    }

    fn contact(&self, id: ContactId) -> Result<Option<Contact>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {CONTACT_COLUMNS} FROM dialer_contact WHERE id = ?1"
            ))?
            .query_row([id.0], contact_row)
            .optional()
        })
    }

    fn contacts(
        &self,
        id: CampaignId,
        state: Option<ContactState>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Contact>, PortError> {
        let (offset, limit) = (
            i64::try_from(offset).unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX),
        );
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT {CONTACT_COLUMNS} FROM dialer_contact WHERE campaign_id = ?1 \
                 AND (?2 IS NULL OR state = ?2) ORDER BY id LIMIT ?3 OFFSET ?4"
            ))?
            .query_map(
                params![id.0, state.map(ContactState::as_str), limit, offset],
                contact_row,
            )?
            .collect()
        })
    }

    fn contact_zones(&self, id: CampaignId) -> Result<Vec<ZoneName>, PortError> {
        self.conn.query(|conn| {
            // One index seek per distinct zone (a skip scan of `dialer_contact_zone`), not a
            // read of every contact.
            conn.prepare_cached(
                "WITH RECURSIVE z (zone) AS ( \
                   SELECT MIN(zone) FROM dialer_contact WHERE campaign_id = ?1 \
                   UNION ALL \
                   SELECT (SELECT MIN(zone) FROM dialer_contact \
                           WHERE campaign_id = ?1 AND zone > z.zone) \
                   FROM z WHERE z.zone IS NOT NULL) \
                 SELECT zone FROM z WHERE zone IS NOT NULL",
            )?
            .query_map([id.0], |r| {
                let z: String = r.get(0)?;
                ZoneName::parse(&z).map_err(|_| bad("zone", &z))
            })?
            .collect()
        })
    }

    fn claim(
        &self,
        f: &ClaimFilter,
        order: AlternativesOrder,
    ) -> Result<Option<Claimed>, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (campaign, now, max) = (f.campaign.0, f.now.seconds(), f.max_attempts);
            let (name, today) = (f.name.as_str(), f.today.as_str());
            let agents = agent_list(f.agents.keys());
            // The best find of each chunk of open zones, in claim order: (callback, priority,
            // id) with callbacks first.
            let mut best: Option<(bool, u32, i64)> = None;
            for chunk in f.zones.open.chunks(MAX_ZONE_WALKS) {
                let names: Vec<String> = (0..chunk.len()).map(|i| format!(":z{i}")).collect();
                let zones: Vec<&str> = chunk.iter().map(ZoneName::as_str).collect();
                let mut bound: Vec<(&str, &dyn rusqlite::ToSql)> = vec![
                    (":campaign", &campaign),
                    (":now", &now),
                    (":max", &max),
                    (":name", &name),
                    (":today", &today),
                    (":agents", &agents),
                ];
                for (n, z) in names.iter().zip(&zones) {
                    bound.push((n.as_str(), z));
                }
                let find: Option<(i64, bool, u32)> = tx
                    .prepare_cached(&claim_sql(chunk.len()))?
                    .query_row(bound.as_slice(), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                if let Some((id, callback, priority)) = find {
                    let rank = (!callback, priority, id);
                    if best.is_none_or(|(c, p, i)| rank < (!c, p, i)) {
                        best = Some((callback, priority, id));
                    }
                }
            }
            let found = best.map(|(_, _, id)| id);
            let Some(id) = found else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE dialer_contact SET state = 'in_progress', state_at = ?2 \
                 WHERE id = ?1 AND state = 'pending'",
                params![id, f.now.seconds()],
            )?;
            let contact = tx
                .prepare_cached(&format!(
                    "SELECT {CONTACT_COLUMNS} FROM dialer_contact WHERE id = ?1"
                ))?
                .query_row([id], contact_row)?;
            // Alternatives go by the blacklist's own rule (the main number was checked by the
            // claim query, which needs the rule in SQL to stay indexed).
            let mut blocked = Vec::new();
            for a in &contact.spec.alternatives {
                let entries = blacklist_entries(&tx, a)?;
                if entries
                    .iter()
                    .any(|e| e.blocks(&f.name, CallDirection::Outbound, a, &f.today))
                {
                    blocked.push(a.clone());
                }
            }
            tx.commit()?;
            let number = pick_number(order, &contact.spec, contact.attempts, &|p| {
                blocked.contains(p)
            })
            .clone();
            Ok(Some(Claimed {
                contact,
                number,
                at: f.now,
            }))
        })
    }

    fn finish_attempt(&self, a: &Attempt, next: AfterAttempt) -> Result<bool, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (state, next_at) = settled_state(a, next);
            let n = tx.execute(
                "UPDATE dialer_contact SET state = ?2, next_at = ?3, attempts = attempts + 1, \
                 callback = 0, state_at = ?4 WHERE id = ?1 AND state = 'in_progress'",
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
            insert_attempt(&tx, a)?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn release_claims(&self, id: CampaignId, before: UnixTime) -> Result<u64, PortError> {
        self.conn.query(|conn| {
            let n = conn.execute(
                "UPDATE dialer_contact SET state = 'pending' \
                 WHERE campaign_id = ?1 AND state = 'in_progress' AND state_at < ?2",
                params![id.0, before.seconds()],
            )?;
            Ok(n as u64)
        })
    }

    fn cancel_contact(
        &self,
        id: CampaignId,
        main: &PhoneNumber,
        now: UnixTime,
    ) -> Result<bool, PortError> {
        self.conn.query(|conn| {
            let n = conn.execute(
                "UPDATE dialer_contact SET state = 'canceled', state_at = ?3 \
                 WHERE campaign_id = ?1 AND main = ?2 AND state IN ('pending', 'in_progress')",
                params![id.0, main.as_str(), now.seconds()],
            )?;
            Ok(n == 1)
        })
    }

    fn attempts_of(&self, id: ContactId) -> Result<Vec<Attempt>, PortError> {
        self.conn.query(|conn| {
            conn.prepare_cached(
                "SELECT contact_id, number_of, dialed, claimed_at, answered_at, ended_at, \
                 outcome, connect_latency_ms FROM dialer_attempt WHERE contact_id = ?1 \
                 ORDER BY number_of",
            )?
            .query_map([id.0], attempt_row)?
            .collect()
        })
    }

    fn why(&self, f: &ClaimFilter) -> Result<WhyReport, PortError> {
        self.conn.query(|conn| {
            let mut report = WhyReport::default();
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT CASE \
                   WHEN c.state != 'pending' THEN 0 \
                   WHEN c.attempts >= :max AND c.callback = 0 THEN 1 \
                   WHEN c.next_at > :now THEN 2 \
                   WHEN {BLACKLISTED} THEN 3 \
                   WHEN c.zone IN (SELECT value FROM json_each(:holiday)) THEN 4 \
                   WHEN c.zone NOT IN (SELECT value FROM json_each(:open)) THEN 5 \
                   WHEN NOT {AGENT_FREE} THEN 7 \
                   ELSE 6 END AS k, COUNT(*) \
                 FROM dialer_contact c WHERE c.campaign_id = :campaign GROUP BY k"
            ))?;
            let rows = stmt.query_map(
                rusqlite::named_params! {
                    ":campaign": f.campaign.0,
                    ":now": f.now.seconds(),
                    ":max": f.max_attempts,
                    ":open": json_list(&f.zones.open),
                    ":holiday": json_list(&f.zones.holiday),
                    ":name": f.name.as_str(),
                    ":today": f.today.as_str(),
                    ":agents": agent_list(f.agents.keys()),
                },
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )?;
            for row in rows {
                let (k, n) = row?;
                let n = n as u64;
                report.total += n;
                *match k {
                    0 => &mut report.state,
                    1 => &mut report.attempts_exhausted,
                    2 => &mut report.not_due,
                    3 => &mut report.blacklisted,
                    4 => &mut report.holiday,
                    5 => &mut report.outside_hours,
                    7 => &mut report.for_agent,
                    _ => &mut report.dialable,
                } += n;
            }
            Ok(report)
        })
    }
}

#[cfg(test)]
#[path = "dialer_tests.rs"]
mod tests;
