//! The core's [`DialerListing`] port on [`SqliteDialer`]: campaign and contact lists, one
//! contact added or edited.
//!
//! Every order a listing offers walks an index of `dialer_contact` within the campaign
//! (`dialer_contact_by_id`, `_by_name`, `_by_added`, `_by_change`, and the `UNIQUE (campaign_id,
//! main)` one for numbers), so a page is read without sorting the campaign; `like` is a bounded
//! `LIKE` with its wildcards escaped (the text is always a bound parameter). A page's last
//! attempts are read through the `UNIQUE (contact_id, number_of)` index.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension, TransactionBehavior};

use crate::core::dialer::listing::{
    edited_state, CampaignOrder, CampaignQuery, ContactEdit, ContactOrder, ContactPage,
    ContactQuery, DialerListing, Direction, EditOutcome, Interval, ListedContact,
};
use crate::core::dialer::{CampaignId, ContactId, ContactState, DialerCampaign, NewContact};
use crate::core::{PortError, UnixTime};

use super::dialer::{
    attempt_row_at, campaign_row, contact_row, joined, SqliteDialer, CAMPAIGN_COLUMNS,
    CONTACT_COLUMNS, CONTACT_COLUMN_COUNT,
};
use super::error::bad;

/// `s` as a `LIKE` pattern matching any text containing it (escape character `\`).
fn contains_pattern(s: &str) -> String {
    let mut p = String::with_capacity(s.len() + 2);
    p.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    }
}

/// The `WHERE` clause of `q` and its parameters.
fn contact_filter(q: &ContactQuery) -> (String, Vec<Value>) {
    let mut sql = String::from("c.campaign_id = ?");
    let mut values = vec![Value::Integer(q.campaign.0)];
    if !q.states.is_empty() {
        let marks = vec!["?"; q.states.len()].join(", ");
        sql.push_str(&format!(" AND c.state IN ({marks})"));
        values.extend(q.states.iter().map(|s| Value::Text(s.as_str().to_owned())));
    }
    if let Some(like) = &q.like {
        sql.push_str(" AND (c.name LIKE ? ESCAPE '\\' OR c.main LIKE ? ESCAPE '\\')");
        let p = contains_pattern(like.as_str());
        values.push(Value::Text(p.clone()));
        values.push(Value::Text(p));
    }
    let mut interval = |column: &str, i: &Interval| {
        if let Some(from) = i.from {
            sql.push_str(&format!(" AND c.{column} >= ?"));
            values.push(Value::Integer(from.seconds()));
        }
        if let Some(to) = i.to {
            sql.push_str(&format!(" AND c.{column} < ?"));
            values.push(Value::Integer(to.seconds()));
        }
    };
    interval("created_at", &q.added);
    interval("state_at", &q.changed);
    (sql, values)
}

/// The `ORDER BY` of `q` and the index it walks.
fn contact_order(q: &ContactQuery) -> (String, &'static str) {
    let d = direction(q.direction);
    let (columns, index) = match q.order_by {
        ContactOrder::Id => (vec!["c.id"], "dialer_contact_by_id"),
        ContactOrder::Name => (vec!["c.name", "c.id"], "dialer_contact_by_name"),
        ContactOrder::Number => (vec!["c.main"], "sqlite_autoindex_dialer_contact_1"),
        ContactOrder::Added => (vec!["c.created_at", "c.id"], "dialer_contact_by_added"),
        ContactOrder::StateChanged => (vec!["c.state_at", "c.id"], "dialer_contact_by_change"),
    };
    let order = columns
        .iter()
        .map(|c| format!("{c} {d}"))
        .collect::<Vec<_>>()
        .join(", ");
    (order, index)
}

/// The page query of `q` (for tests: its plan).
pub(super) fn contact_page_sql(q: &ContactQuery) -> (String, Vec<Value>) {
    let (filter, mut values) = contact_filter(q);
    let (order, index) = contact_order(q);
    let columns = CONTACT_COLUMNS
        .split(", ")
        .map(|c| format!("c.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    values.push(Value::Integer(i64::from(q.limit)));
    values.push(Value::Integer(i64::try_from(q.start).unwrap_or(i64::MAX)));
    (
        format!(
            "SELECT {columns}, a.contact_id, a.number_of, a.dialed, a.claimed_at, \
             a.answered_at, a.ended_at, a.outcome, a.connect_latency_ms \
             FROM dialer_contact c INDEXED BY {index} \
             LEFT JOIN dialer_attempt a ON a.contact_id = c.id AND a.number_of = c.attempts \
             WHERE {filter} ORDER BY {order} LIMIT ? OFFSET ?"
        ),
        values,
    )
}

impl DialerListing for SqliteDialer {
    fn campaign_list(
        &self,
        q: &CampaignQuery,
    ) -> Result<Vec<(CampaignId, DialerCampaign)>, PortError> {
        let order = match q.order_by {
            CampaignOrder::Id => format!("id {}", direction(q.direction)),
            CampaignOrder::Name => format!("name {d}, id {d}", d = direction(q.direction)),
        };
        self.conn.query(|conn| {
            conn.prepare_cached(&format!(
                "SELECT id, {CAMPAIGN_COLUMNS} FROM dialer_campaign \
                 WHERE (?1 IS NULL OR state = ?1) ORDER BY {order}"
            ))?
            .query_map([q.state.map(|s| s.as_str())], |r| {
                Ok((CampaignId(r.get(0)?), campaign_row(r, 1)?))
            })?
            .collect()
        })
    }

    fn contact_page(&self, q: &ContactQuery) -> Result<ContactPage, PortError> {
        let (filter, count_values) = contact_filter(q);
        let (sql, values) = contact_page_sql(q);
        self.conn.query(|conn| {
            let total: i64 = conn
                .prepare_cached(&format!(
                    "SELECT COUNT(*) FROM dialer_contact c WHERE {filter}"
                ))?
                .query_row(params_from_iter(count_values), |r| r.get(0))?;
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params_from_iter(values), |r| {
                    let contact = contact_row(r)?;
                    let has_attempt: Option<i64> = r.get(CONTACT_COLUMN_COUNT)?;
                    let last = match has_attempt {
                        Some(_) => Some(attempt_row_at(r, CONTACT_COLUMN_COUNT)?),
                        None => None,
                    };
                    Ok(ListedContact { contact, last })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ContactPage {
                total: u64::try_from(total).unwrap_or(0),
                rows,
            })
        })
    }

    fn add_contact(
        &self,
        campaign: CampaignId,
        contact: &NewContact,
        enabled: bool,
        now: UnixTime,
    ) -> Result<Option<ContactId>, PortError> {
        let state = if enabled {
            ContactState::Pending
        } else {
            ContactState::Canceled
        };
        self.conn.query(|conn| {
            let alternatives = joined(&contact.alternatives);
            let id = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO dialer_contact (campaign_id, main, alternatives, data, \
                     zone, priority, agent, callback, state, next_at, attempts, created_at, \
                     state_at, name, info) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11, ?11, ?12, ?13) \
                     RETURNING id",
                )?
                .query_row(
                    params![
                        campaign.0,
                        contact.main.as_str(),
                        alternatives,
                        contact.data.as_text(),
                        contact.zone.as_str(),
                        contact.priority,
                        contact.agent,
                        contact.callback_at.is_some(),
                        state.as_str(),
                        contact.callback_at.unwrap_or(now).seconds(),
                        now.seconds(),
                        contact.name,
                        contact.info,
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(id.map(ContactId))
        })
    }

    fn edit_contact(
        &self,
        campaign: CampaignId,
        id: ContactId,
        edit: &ContactEdit,
        now: UnixTime,
    ) -> Result<EditOutcome, PortError> {
        self.conn.query(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: Option<(String, String)> = tx
                .query_row(
                    "SELECT state, main FROM dialer_contact WHERE id = ?1 AND campaign_id = ?2",
                    params![id.0, campaign.0],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((state, main)) = current else {
                return Ok(EditOutcome::Unknown);
            };
            let state = ContactState::parse(&state).ok_or_else(|| bad("state", &state))?;
            let renumbered = main != edit.main.as_str();
            let Some(next) = edited_state(state, edit.enabled, renumbered) else {
                return Ok(EditOutcome::InProgress);
            };
            if renumbered {
                let taken = tx
                    .query_row(
                        "SELECT 1 FROM dialer_contact WHERE campaign_id = ?1 AND main = ?2",
                        params![campaign.0, edit.main.as_str()],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                if taken {
                    return Ok(EditOutcome::NumberTaken);
                }
            }
            let changed = next != state;
            tx.execute(
                "UPDATE dialer_contact SET name = ?2, main = ?3, info = ?4, state = ?5, \
                 state_at = CASE WHEN ?6 THEN ?7 ELSE state_at END, \
                 next_at = CASE WHEN ?6 AND ?5 = 'pending' THEN ?7 ELSE next_at END \
                 WHERE id = ?1",
                params![
                    id.0,
                    edit.name,
                    edit.main.as_str(),
                    edit.info,
                    next.as_str(),
                    changed,
                    now.seconds(),
                ],
            )?;
            tx.commit()?;
            Ok(EditOutcome::Edited)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dialer::campaign::CampaignState;
    use crate::core::dialer::listing::Like;
    use crate::core::dialer::tests::campaign;
    use crate::core::dialer::{Attempt, DialerStore, Outcome, ZoneName};
    use crate::core::originate::PhoneNumber;
    use crate::test_support::TempDir;

    fn contact(main: &str, name: &str) -> NewContact {
        let mut c = NewContact::new(
            PhoneNumber::parse(main).unwrap(),
            ZoneName::parse("UTC").unwrap(),
        );
        c.name = name.to_owned();
        c
    }

    #[test]
    fn every_order_walks_an_index_and_never_sorts() {
        let dir = TempDir::new("dialer-listing-plan");
        let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
        let orders = [
            ContactOrder::Id,
            ContactOrder::Name,
            ContactOrder::Number,
            ContactOrder::Added,
            ContactOrder::StateChanged,
        ];
        for order_by in orders {
            for direction in [Direction::Asc, Direction::Desc] {
                let mut q = ContactQuery::new(CampaignId(1)).shown_as(ContactState::Pending);
                q.order_by = order_by;
                q.direction = direction;
                q.like = Like::parse("ana");
                let (sql, values) = contact_page_sql(&q);
                let plan: Vec<String> = s
                    .conn
                    .query(|conn| {
                        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?
                            .query_map(params_from_iter(values), |r| r.get::<_, String>(3))?
                            .collect()
                    })
                    .unwrap();
                let plan = plan.join(" | ");
                assert!(!plan.contains("TEMP B-TREE"), "{order_by:?}: {plan}");
                assert!(plan.contains("USING"), "{order_by:?}: {plan}");
            }
        }
    }

    #[test]
    fn pages_count_filter_and_carry_the_last_attempt() {
        let dir = TempDir::new("dialer-listing");
        let s = SqliteDialer::open(&dir.path().join("s.db")).unwrap();
        let mut c = campaign("ventas", "UTC");
        c.state = CampaignState::Active;
        c.schedule.weekdays = crate::core::dialer::campaign::Weekdays::all();
        c.schedule.hours = crate::core::dialer::campaign::Hours::parse("00:00-24:00").unwrap();
        c.calling_floor = c.schedule.hours;
        let id = s.campaign_create(&c).unwrap().unwrap();
        let other = s
            .campaign_create(&campaign("otra", "UTC"))
            .unwrap()
            .unwrap();
        let now = UnixTime(1_700_000_000);
        let ana = s
            .add_contact(id, &contact("5551001", "Ana"), true, now)
            .unwrap()
            .unwrap();
        let bruno = s
            .add_contact(
                id,
                &contact("5551002", "Bruno"),
                false,
                UnixTime(now.0 + 10),
            )
            .unwrap()
            .unwrap();
        s.add_contact(other, &contact("5551001", "Ana"), true, now)
            .unwrap()
            .unwrap();
        assert_eq!(
            s.add_contact(id, &contact("5551001", "Otra"), true, now)
                .unwrap(),
            None
        );
        // An attempt of Ana.
        let claimed = crate::core::dialer::claim_next(&s, id, now, &jiff::tz::TimeZone::UTC)
            .unwrap()
            .unwrap();
        assert_eq!(claimed.contact.id, ana);
        crate::core::dialer::record_attempt(
            &s,
            &claimed,
            crate::core::dialer::AttemptResult {
                outcome: Outcome::Busy,
                answered_at: None,
                connect_latency_ms: None,
            },
            UnixTime(now.0 + 5),
        )
        .unwrap();

        let all = s.contact_page(&ContactQuery::new(id)).unwrap();
        assert_eq!(all.total, 2);
        let last: &Attempt = all.rows[0].last.as_ref().unwrap();
        assert_eq!((last.number_of, &last.outcome), (1, &Outcome::Busy));
        assert!(all.rows[1].last.is_none());
        assert_eq!(all.rows[1].contact.state, ContactState::Canceled);

        let mut q = ContactQuery::new(id).with_limit(1);
        q.order_by = ContactOrder::Name;
        q.direction = Direction::Desc;
        let p = s.contact_page(&q).unwrap();
        assert_eq!((p.total, p.rows.len()), (2, 1));
        assert_eq!(p.rows[0].contact.spec.name, "Bruno");

        let mut q = ContactQuery::new(id);
        q.added = Interval {
            from: Some(UnixTime(now.0 + 1)),
            to: None,
        };
        assert_eq!(s.contact_page(&q).unwrap().rows[0].contact.id, bruno);
        let q = ContactQuery::new(id).shown_as(ContactState::Canceled);
        assert_eq!(s.contact_page(&q).unwrap().total, 1);

        // Edits: renumbering onto a taken number, an unknown contact, a restore.
        let edit = |main: &str, enabled| ContactEdit {
            name: "Bruno B".into(),
            main: PhoneNumber::parse(main).unwrap(),
            info: Some("{}".into()),
            enabled,
        };
        let later = UnixTime(now.0 + 100);
        assert_eq!(
            s.edit_contact(id, bruno, &edit("5551001", true), later)
                .unwrap(),
            EditOutcome::NumberTaken
        );
        assert_eq!(
            s.edit_contact(other, bruno, &edit("5551009", true), later)
                .unwrap(),
            EditOutcome::Unknown
        );
        assert_eq!(
            s.edit_contact(id, bruno, &edit("5551009", true), later)
                .unwrap(),
            EditOutcome::Edited
        );
        let b = s.contact(bruno).unwrap().unwrap();
        assert_eq!(
            (
                b.state,
                b.state_at,
                b.next_at,
                b.spec.main.as_str(),
                b.spec.info.as_deref()
            ),
            (ContactState::Pending, later, later, "5551009", Some("{}"))
        );

        let list = s
            .campaign_list(&CampaignQuery {
                state: None,
                order_by: CampaignOrder::Name,
                direction: Direction::Asc,
            })
            .unwrap();
        assert_eq!(list[0].0, other);
        let active = s
            .campaign_list(&CampaignQuery {
                state: Some(CampaignState::Active),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].0, id);
    }
}
