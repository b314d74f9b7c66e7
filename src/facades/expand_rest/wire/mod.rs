//! eXpand REST's wire: the filters a request carries (query string, or headers of the same
//! names, as the vendor's document puts them "in the HEADER"), dates, the contact body, and
//! the JSON of campaigns, contacts and activity rows.
//!
//! - Filter names are matched in any case (`State` and `state`); values may be quoted
//!   (`saddtimestamp='2019-02-01'`, also with typographic quotes, as the vendor's examples
//!   write them); a bare `order_asc` / `order_desc` is `order=asc` / `order=desc`.
//! - Dates in: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` or ISO 8601 (`T`, optional offset or
//!   `Z`) in the call center's zone; an end date without a time covers that whole day. Dates
//!   out: `YYYY-MM-DD HH:MM:SS` in the call center's zone.

use std::collections::HashMap;

use axum::http::HeaderMap;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde_json::{json, Map, Value};

use crate::core::dialer::campaign::CampaignState;
use crate::core::dialer::listing::{
    enabled, CampaignOrder, CampaignQuery, ContactHistory, ContactOrder, ContactQuery, Direction,
    Interval, Like, ListedContact,
};
use crate::core::dialer::{Attempt, CampaignId, Contact, ContactId, ContactState, DialerCampaign};
use crate::core::originate::PhoneNumber;
use crate::core::UnixTime;

use super::errors::Failure;

pub mod lists;
pub mod outgoing_calls;

/// The filters of a request, by lowercase name (the query string first, then headers).
#[derive(Debug, Default)]
pub struct Filters(HashMap<String, String>);

/// The characters stripped around a filter's value.
const QUOTES: &[char] = &['\'', '"', '‘', '’', '“', '”', '‛', '‚'];

impl Filters {
    /// The filters of `query` (the raw query string) and `headers`, for the names in `names`.
    pub fn read(query: Option<&str>, headers: &HeaderMap, names: &[&str]) -> Self {
        let mut map = HashMap::new();
        let pairs: Vec<(String, String)> = query
            .and_then(|q| {
                axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
                    &format!("/?{q}").parse().ok()?,
                )
                .ok()
            })
            .map(|q| q.0)
            .unwrap_or_default();
        for (k, v) in pairs {
            let k = k.trim().to_ascii_lowercase();
            let (k, v) = match k.as_str() {
                "order_asc" if v.is_empty() => ("order".to_owned(), "asc".to_owned()),
                "order_desc" if v.is_empty() => ("order".to_owned(), "desc".to_owned()),
                _ => (k, v),
            };
            if names.contains(&k.as_str()) {
                map.entry(k).or_insert(v);
            }
        }
        for name in names {
            if map.contains_key(*name) {
                continue;
            }
            if let Some(v) = headers.get(*name).and_then(|v| v.to_str().ok()) {
                map.insert((*name).to_owned(), v.to_owned());
            }
        }
        Self(map)
    }

    /// The value of `name`, trimmed and unquoted; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|v| v.trim().trim_matches(QUOTES).trim())
            .filter(|v| !v.is_empty())
    }
}

/// The filters `GET /campaigns` reads.
pub const CAMPAIGN_FILTERS: &[&str] = &["state", "order", "order_by"];

/// The filters `GET /campaigns/<id>/contacts` reads.
pub const CONTACT_FILTERS: &[&str] = &["start", "limit", "order", "order_by", "like", "state"];

/// The filters `GET /campaigns/<id>/contacts/activity` reads.
pub const ACTIVITY_FILTERS: &[&str] = &[
    "state",
    "sstimestamp",
    "estimestamp",
    "saddtimestamp",
    "eaddtimestamp",
    "start",
    "limit",
    "order",
    "order_by",
    "like",
];

fn direction(f: &Filters) -> Result<Direction, Failure> {
    f.get("order")
        .map(|o| Direction::parse(o).ok_or(Failure::BadInput("order")))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// The campaign query of `f`.
pub fn campaign_query(f: &Filters) -> Result<CampaignQuery, Failure> {
    Ok(CampaignQuery {
        state: f
            .get("state")
            .map(|s| CampaignState::parse(s).map_err(|_| Failure::BadInput("State")))
            .transpose()?,
        order_by: match f.get("order_by").map(str::to_ascii_lowercase).as_deref() {
            None | Some("id") => CampaignOrder::Id,
            Some("name") => CampaignOrder::Name,
            Some(_) => return Err(Failure::BadInput("order_by")),
        },
        direction: direction(f)?,
    })
}

/// A contact state by the vendor's name: Pending, Completed, Rejected, Canceled (any case;
/// also `Cancelled`).
pub fn contact_state(s: &str) -> Option<ContactState> {
    match s.trim().to_ascii_lowercase().as_str() {
        "pending" => Some(ContactState::Pending),
        "completed" => Some(ContactState::Completed),
        "rejected" => Some(ContactState::Rejected),
        "canceled" | "cancelled" => Some(ContactState::Canceled),
        _ => None,
    }
}

/// The vendor's name of `s` (a contact being dialed is Pending).
pub fn state_name(s: ContactState) -> &'static str {
    match s {
        ContactState::Pending | ContactState::InProgress => "Pending",
        ContactState::Completed => "Completed",
        ContactState::Rejected => "Rejected",
        ContactState::Canceled => "Canceled",
    }
}

fn count(f: &Filters, name: &'static str) -> Result<Option<u64>, Failure> {
    f.get(name)
        .map(|v| v.parse::<u64>().map_err(|_| Failure::BadInput(name)))
        .transpose()
}

/// The contact query of `f` over `campaign`; dates in `tz`.
pub fn contact_query(
    campaign: CampaignId,
    f: &Filters,
    tz: &TimeZone,
) -> Result<ContactQuery, Failure> {
    let mut q = ContactQuery::new(campaign);
    if let Some(s) = f.get("state") {
        q = q.shown_as(contact_state(s).ok_or(Failure::BadInput("state"))?);
    }
    if let Some(l) = f.0.get("like").map(|l| l.trim()).filter(|l| !l.is_empty()) {
        q.like = Some(Like::parse(l).ok_or(Failure::BadInput("like"))?);
    }
    q.order_by = match f.get("order_by").map(str::to_ascii_lowercase).as_deref() {
        None | Some("id") => ContactOrder::Id,
        Some("name") => ContactOrder::Name,
        Some("numcall") => ContactOrder::Number,
        Some("timestampadd") => ContactOrder::Added,
        Some("statetimestamp") => ContactOrder::StateChanged,
        Some(_) => return Err(Failure::BadInput("order_by")),
    };
    q.direction = direction(f)?;
    q.start = count(f, "start")?.unwrap_or(0);
    if let Some(l) = count(f, "limit")? {
        q = q.with_limit(l);
    }
    let interval = |from: &'static str, to: &'static str| -> Result<Interval, Failure> {
        Ok(Interval {
            from: f
                .get(from)
                .map(|d| parse_date(d, tz, false).ok_or(Failure::BadInput(from)))
                .transpose()?,
            to: f
                .get(to)
                .map(|d| parse_date(d, tz, true).ok_or(Failure::BadInput(to)))
                .transpose()?,
        })
    };
    q.changed = interval("sstimestamp", "estimestamp")?;
    q.added = interval("saddtimestamp", "eaddtimestamp")?;
    Ok(q)
}

/// A date of a filter in `tz`; `end`: the first instant after it (a date alone covers its
/// whole day, a time its whole second).
pub fn parse_date(s: &str, tz: &TimeZone, end: bool) -> Option<UnixTime> {
    let s = s.trim();
    if s.len() > 40 {
        return None;
    }
    if s.len() == 10 {
        let d: Date = s.parse().ok()?;
        let d = if end { d.tomorrow().ok()? } else { d };
        let z = d.to_zoned(tz.clone()).ok()?;
        return Some(UnixTime(z.timestamp().as_second()));
    }
    let t = if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        ts.as_second()
    } else {
        let dt: DateTime = s.replacen(' ', "T", 1).parse().ok()?;
        dt.to_zoned(tz.clone()).ok()?.timestamp().as_second()
    };
    Some(UnixTime(if end { t.checked_add(1)? } else { t }))
}

/// `t` as `YYYY-MM-DD HH:MM:SS` in `tz`.
pub fn format_date(t: UnixTime, tz: &TimeZone) -> String {
    match jiff::Timestamp::from_second(t.seconds()) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => String::new(),
    }
}

/// An id in a path: a positive integer.
pub fn path_id(s: &str) -> Result<i64, Failure> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Failure::BadInput("id"))
}

/// A contact's fields as a request body gives them (`None`: not given).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ContactBody {
    /// `name`.
    pub name: Option<String>,
    /// `numcall`.
    pub numcall: Option<PhoneNumber>,
    /// `enable`.
    pub enable: Option<bool>,
    /// `info`: JSON text (`Some(None)`: given as null).
    pub info: Option<Option<String>>,
}

/// The contact of a request body: a JSON object with `name` (string), `numcall` (string or
/// number), `enable` (boolean, or `"true"`/`"false"`), `info` (a string holding JSON, or a
/// JSON object or array, kept as its text). Other members are ignored.
pub fn contact_body(body: &[u8]) -> Result<ContactBody, Failure> {
    let v: Value = serde_json::from_slice(body).map_err(|_| Failure::BadInput("body"))?;
    let Value::Object(o) = v else {
        return Err(Failure::BadInput("body"));
    };
    let mut c = ContactBody::default();
    if let Some(n) = o.get("name") {
        c.name = Some(match n {
            Value::String(s) => s.trim().to_owned(),
            Value::Null => String::new(),
            _ => return Err(Failure::BadInput("name")),
        });
    }
    if let Some(n) = o.get("numcall") {
        let text = match n {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) if n.is_u64() => n.to_string(),
            _ => return Err(Failure::BadInput("numcall")),
        };
        c.numcall = Some(PhoneNumber::parse(&text).map_err(|_| Failure::BadInput("numcall"))?);
    }
    if let Some(e) = o.get("enable") {
        c.enable = Some(match e {
            Value::Bool(b) => *b,
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => true,
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => false,
            Value::Number(n) if n.as_u64() == Some(1) => true,
            Value::Number(n) if n.as_u64() == Some(0) => false,
            _ => return Err(Failure::BadInput("enable")),
        });
    }
    if let Some(i) = o.get("info") {
        c.info = Some(match i {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => {
                serde_json::from_str::<Value>(s).map_err(|_| Failure::BadInput("info"))?;
                Some(s.clone())
            }
            Value::Object(_) | Value::Array(_) => Some(i.to_string()),
            _ => return Err(Failure::BadInput("info")),
        });
    }
    Ok(c)
}

fn attempt_json(a: &Attempt, tz: &TimeZone) -> Value {
    json!({
        "attempt": a.number_of,
        "numcall": a.dialed.as_str(),
        "timestamp": format_date(a.claimed_at, tz),
        "answertimestamp": a.answered_at.map(|t| format_date(t, tz)),
        "endtimestamp": format_date(a.ended_at, tz),
        "result": a.outcome.as_text(),
    })
}

fn contact_fields(c: &Contact, tz: &TimeZone) -> Map<String, Value> {
    let v = json!({
        "id": c.id.0,
        "campaign": c.campaign.0,
        "name": c.spec.name,
        "numcall": c.spec.main.as_str(),
        "enable": enabled(c.state),
        "info": c.spec.info,
        "state": state_name(c.state),
        "timestampadd": format_date(c.created_at, tz),
        "statetimestamp": format_date(c.state_at, tz),
        "attempts": c.attempts,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A contact with its attempt history (`history`, oldest first).
pub fn contact_json(h: &ContactHistory, tz: &TimeZone) -> Value {
    let mut m = contact_fields(&h.contact, tz);
    m.insert(
        "history".into(),
        Value::Array(h.attempts.iter().map(|a| attempt_json(a, tz)).collect()),
    );
    Value::Object(m)
}

/// A row of a contact list.
pub fn listed_json(l: &ListedContact, tz: &TimeZone) -> Value {
    Value::Object(contact_fields(&l.contact, tz))
}

/// A row of the activity export: the contact and its last attempt (`lastattempt`, null
/// before the first).
pub fn activity_json(l: &ListedContact, tz: &TimeZone) -> Value {
    let mut m = contact_fields(&l.contact, tz);
    m.insert(
        "lastattempt".into(),
        l.last
            .as_ref()
            .map(|a| attempt_json(a, tz))
            .unwrap_or(Value::Null),
    );
    Value::Object(m)
}

/// `{recordsTotal, data}`.
pub fn page_json(total: u64, data: Vec<Value>) -> Value {
    json!({ "recordsTotal": total, "data": data })
}

/// A campaign: name, dialing mode, schedule and operation hours, retry rules and the rest.
pub fn campaign_json(id: CampaignId, c: &DialerCampaign) -> Value {
    let retries: Vec<Value> = c
        .retry
        .0
        .iter()
        .map(|(outcome, rule)| {
            json!({
                "result": outcome.as_text(),
                "delay": rule.delay_s,
                "attempts": rule.max_attempts,
            })
        })
        .collect();
    json!({
        "id": id.0,
        "name": c.name.as_str(),
        "state": c.state.as_str(),
        "type": c.mode.as_text(),
        "queue": c.queue.as_str(),
        "trunk": c.trunk.as_ref().map(|t| t.as_str()),
        "callerid": c.caller_id.as_ref().map(|n| n.as_str()),
        "schedule": {
            "days": c.schedule.weekdays.as_text(),
            "hours": c.schedule.hours.to_string(),
            "holidays": c.schedule.holidays.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "timezone": c.default_zone.as_str(),
            "callinghours": c.calling_floor.to_string(),
        },
        "retries": retries,
        "alternatives": c.alternatives.as_text(),
        "priority": c.priority,
        "ringtimeout": c.ring_timeout_s,
        "abandonrate": f64::from(c.abandon_target.per_mille()) / 10.0,
        "regime": c.regime.as_text(),
        "amd": c.answer.amd,
        "amdfalsepositives": f64::from(c.answer.amd_false_positives.per_mille()) / 10.0,
    })
}

/// A contact id in a path.
pub fn contact_id(s: &str) -> Result<ContactId, Failure> {
    path_id(s).map(ContactId)
}

/// A campaign id in a path.
pub fn campaign_id(s: &str) -> Result<CampaignId, Failure> {
    path_id(s).map(CampaignId)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> TimeZone {
        TimeZone::get("America/Montevideo").unwrap()
    }

    #[test]
    fn a_campaign_shows_its_amd_false_positive_share() {
        use crate::core::campaigns::CampaignName;
        use crate::core::dialer::campaign::{FalsePositiveShare, ZoneName};
        use crate::core::directory::QueueName;
        let mut c = DialerCampaign::new(
            CampaignName::parse("Ventas->").unwrap(),
            QueueName::new("q_ventas").unwrap(),
            ZoneName::parse("UTC").unwrap(),
        );
        assert_eq!(campaign_json(CampaignId(1), &c)["amdfalsepositives"], 10.0);
        c.answer.amd = true;
        c.answer.amd_false_positives = FalsePositiveShare::parse("2.5%").unwrap();
        let v = campaign_json(CampaignId(1), &c);
        assert_eq!(
            (v["amd"].as_bool(), v["amdfalsepositives"].as_f64()),
            (Some(true), Some(2.5))
        );
    }

    #[test]
    fn dates_as_the_vendor_writes_them() {
        let tz = tz();
        let start = parse_date("2019-02-01", &tz, false).unwrap();
        assert_eq!(format_date(start, &tz), "2019-02-01 00:00:00");
        let end = parse_date("2019-02-28", &tz, true).unwrap();
        assert_eq!(format_date(end, &tz), "2019-03-01 00:00:00");
        let t = parse_date("2019-02-01 10:30", &tz, false).unwrap();
        assert_eq!(format_date(t, &tz), "2019-02-01 10:30:00");
        let t = parse_date("2019-02-01T10:30:05Z", &tz, false).unwrap();
        assert_eq!(format_date(t, &tz), "2019-02-01 07:30:05");
        for bad in [
            "",
            "2019-13-01",
            "yesterday",
            "2019-02-01 25:00",
            &"9".repeat(50),
        ] {
            assert!(parse_date(bad, &tz, false).is_none(), "{bad}");
        }
    }

    #[test]
    fn filters_from_the_seed_examples() {
        let h = HeaderMap::new();
        let f = Filters::read(
            Some("order_by=name&order_asc&state=Pending"),
            &h,
            ACTIVITY_FILTERS,
        );
        let q = contact_query(CampaignId(427), &f, &tz()).unwrap();
        assert_eq!(q.order_by, ContactOrder::Name);
        assert_eq!(q.direction, Direction::Asc);
        assert_eq!(
            q.states,
            vec![ContactState::Pending, ContactState::InProgress]
        );
        let f = Filters::read(
            Some("saddtimestamp='2019-02-01'&eaddtimestamp='2019-02-28’"),
            &h,
            ACTIVITY_FILTERS,
        );
        let q = contact_query(CampaignId(427), &f, &tz()).unwrap();
        assert_eq!(
            format_date(q.added.from.unwrap(), &tz()),
            "2019-02-01 00:00:00"
        );
        assert_eq!(
            format_date(q.added.to.unwrap(), &tz()),
            "2019-03-01 00:00:00"
        );
        // In headers, as the document says, when the query string does not have them.
        let mut h = HeaderMap::new();
        h.insert("State", "Active".parse().unwrap());
        h.insert("order_by", "name".parse().unwrap());
        let f = Filters::read(Some("order=desc"), &h, CAMPAIGN_FILTERS);
        let q = campaign_query(&f).unwrap();
        assert_eq!(q.state, Some(CampaignState::Active));
        assert_eq!(q.order_by, CampaignOrder::Name);
        assert_eq!(q.direction, Direction::Desc);
    }

    #[test]
    fn bad_filters_and_bodies_are_unknown_data_format() {
        let h = HeaderMap::new();
        for query in [
            "order=up",
            "order_by=phone",
            "state=Lost",
            "start=-1",
            "limit=x",
            "sstimestamp=ayer",
        ] {
            let f = Filters::read(Some(query), &h, ACTIVITY_FILTERS);
            assert!(contact_query(CampaignId(1), &f, &tz()).is_err(), "{query}");
        }
        let long = format!("like={}", "a".repeat(65));
        let f = Filters::read(Some(&long), &h, CONTACT_FILTERS);
        assert_eq!(
            contact_query(CampaignId(1), &f, &tz()).unwrap_err(),
            Failure::BadInput("like")
        );
        for body in [
            &b"not json"[..],
            b"[]",
            b"{\"numcall\": \"12;34\"}",
            b"{\"numcall\": true}",
            b"{\"enable\": \"maybe\"}",
            b"{\"info\": \"{not json\"}",
            b"{\"name\": 5}",
        ] {
            assert!(
                contact_body(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let c = contact_body(
            br#"{"name":"Rodrigo","numcall":"099123456","enable":"true","info":"{\"plan\":\"ADSL\"}"}"#,
        )
        .unwrap();
        assert_eq!(c.name.as_deref(), Some("Rodrigo"));
        assert_eq!(c.enable, Some(true));
        assert_eq!(c.info, Some(Some("{\"plan\":\"ADSL\"}".to_owned())));
        assert_eq!(path_id("427"), Ok(427));
        for bad in ["0", "-3", "+3", "4x", "", "99999999999999999999"] {
            assert!(path_id(bad).is_err(), "{bad}");
        }
    }
}
