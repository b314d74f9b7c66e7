//! The pending outgoing calls panel's wire (`/expandweb3/api/external/outgoingcalls/call`):
//! the call body, the list's filters and the call's JSON.
//!
//! - A call's `contact`, `subject` and `link`s are kept in the scheduled call's data pairs
//!   (`contact=`, `subject=`, `link1=<name>=<url>` ... `link8=`), `%`, `:`, `;`, `=` and control
//!   characters escaped as `%XX`, so every text reads back as given.
//! - `calldate` in: `YYYY-MM-DD HH:MM[:SS]` or ISO 8601 (`T`, optional offset or `Z`) in the
//!   call center's zone; a date without a time is refused. Out: `YYYY-MM-DD HH:MM` (with
//!   `:SS` when the seconds are not zero), as the vendor's examples write it.
//! - `expiration`: seconds after `calldate` (0, null or absent: the call never expires).

use jiff::tz::TimeZone;
use serde_json::{json, Map, Value};

use crate::core::dialer::contact::ContactData;
use crate::core::dialer::schedule::{NewScheduledCall, ScheduleId};
use crate::core::dialer::schedule::{ScheduleFilter, ScheduleStatus, ScheduledCall};
use crate::core::originate::PhoneNumber;
use crate::core::UnixTime;

use super::super::errors::Failure;
use super::{parse_date, path_id, Filters};

/// The filters `GET /outgoingcalls/call` reads.
pub const OUTGOING_FILTERS: &[&str] = &[
    "queue",
    "phone",
    "startdate",
    "enddate",
    "agent",
    "status",
    "start",
    "limit",
];

/// A page's length when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 100;
/// The longest `contact`, in characters.
pub const MAX_CONTACT: usize = 128;
/// The longest `subject`, in characters.
pub const MAX_SUBJECT: usize = 200;
/// The most links a call has.
pub const MAX_LINKS: usize = 8;
/// The longest link name, in characters.
pub const MAX_LINK_NAME: usize = 64;
/// The longest `queue` or `agent`, in characters.
pub const MAX_NAME: usize = 64;
/// The longest `expiration`: ten years, in seconds.
pub const MAX_EXPIRATION: u64 = 10 * 366 * 86_400;
/// The longest data value the store keeps (escaped).
const MAX_VALUE: usize = 256;

/// A call as a `POST` or `PUT` body gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallBody {
    /// `queue`: the campaign (by name, or by its queue).
    pub queue: String,
    /// `phone`: the number, then its alternatives.
    pub phones: Vec<PhoneNumber>,
    /// `contact`.
    pub contact: String,
    /// `subject`.
    pub subject: String,
    /// `calldate`.
    pub calldate: UnixTime,
    /// `expiration` in seconds (0: never).
    pub expiration: u64,
    /// `agent` (`None`: every agent of the queue).
    pub agent: Option<String>,
    /// `link`: name and URL, in the body's order.
    pub links: Vec<(String, String)>,
}

fn text(v: Option<&Value>, name: &'static str, max: usize) -> Result<String, Failure> {
    let s = match v {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(Value::String(s)) => s.trim(),
        Some(_) => return Err(Failure::BadInput(name)),
    };
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(Failure::BadInput(name));
    }
    Ok(s.to_owned())
}

fn phone(v: &Value) -> Result<PhoneNumber, Failure> {
    let t = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => return Err(Failure::BadInput("phone")),
    };
    PhoneNumber::parse(&t).map_err(|_| Failure::BadInput("phone"))
}

/// `calldate`: a date and time (no date alone) in `tz`.
pub fn calldate(s: &str, tz: &TimeZone) -> Option<UnixTime> {
    let s = s.trim();
    if s.len() < 16 {
        return None;
    }
    parse_date(s, tz, false)
}

/// The call of a request body: a JSON object with `queue`, `phone` (a list of numbers, or
/// one) and `calldate` required; `contact`, `subject`, `agent` (strings), `expiration`
/// (seconds, a number or digits), `link` (an object of names and URLs) optional. Member
/// names in any case; others ignored.
pub fn call_body(body: &[u8], tz: &TimeZone) -> Result<CallBody, Failure> {
    let v: Value = serde_json::from_slice(body).map_err(|_| Failure::BadInput("body"))?;
    let Value::Object(o) = v else {
        return Err(Failure::BadInput("body"));
    };
    let mut m: Map<String, Value> = Map::new();
    for (k, v) in o {
        m.entry(k.to_ascii_lowercase()).or_insert(v);
    }
    let queue = text(m.get("queue"), "queue", MAX_NAME)?;
    if queue.is_empty() {
        return Err(Failure::BadInput("queue"));
    }
    let phones = match m.get("phone") {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().map(phone).collect::<Result<_, _>>()?,
        Some(v @ (Value::String(_) | Value::Number(_))) => vec![phone(v)?],
        _ => return Err(Failure::BadInput("phone")),
    };
    let calldate = match m.get("calldate") {
        Some(Value::String(s)) => calldate(s, tz).ok_or(Failure::BadInput("calldate"))?,
        _ => return Err(Failure::BadInput("calldate")),
    };
    let expiration = match m.get("expiration") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_u64().ok_or(Failure::BadInput("expiration"))?,
        Some(Value::String(s)) if !s.trim().is_empty() => s
            .trim()
            .parse::<u64>()
            .map_err(|_| Failure::BadInput("expiration"))?,
        Some(_) => return Err(Failure::BadInput("expiration")),
    };
    if expiration > MAX_EXPIRATION {
        return Err(Failure::BadInput("expiration"));
    }
    let agent = Some(text(m.get("agent"), "agent", MAX_NAME)?).filter(|a| !a.is_empty());
    let links = match m.get("link") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(l)) if l.len() <= MAX_LINKS => l
            .iter()
            .map(|(name, url)| {
                let name = name.trim();
                if name.is_empty()
                    || name.chars().count() > MAX_LINK_NAME
                    || name.chars().any(char::is_control)
                {
                    return Err(Failure::BadInput("link"));
                }
                let url = text(Some(url), "link", MAX_VALUE)?;
                Ok((name.to_owned(), url))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Failure::BadInput("link")),
    };
    Ok(CallBody {
        queue,
        phones,
        contact: text(m.get("contact"), "contact", MAX_CONTACT)?,
        subject: text(m.get("subject"), "subject", MAX_SUBJECT)?,
        calldate,
        expiration,
        agent,
        links,
    })
}

/// `s` with `%`, `:`, `;`, `=` and control characters as `%XX`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || "%:;=".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// [`escape`] undone (a malformed escape is kept as it is).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |x: u8| (x as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

impl CallBody {
    /// The data pairs of `contact`, `subject` and the links (a value too long once escaped
    /// is bad input).
    pub fn data(&self) -> Result<ContactData, Failure> {
        let mut pairs = vec![
            ("contact".to_owned(), escape(&self.contact)),
            ("subject".to_owned(), escape(&self.subject)),
        ];
        for (i, (name, url)) in self.links.iter().enumerate() {
            pairs.push((
                format!("link{}", i + 1),
                format!("{}={}", escape(name), escape(url)),
            ));
        }
        if pairs.iter().any(|(_, v)| v.chars().count() > MAX_VALUE) {
            return Err(Failure::BadInput("link"));
        }
        Ok(ContactData(pairs))
    }

    /// When the call expires (`None`: never).
    pub fn expires_at(&self) -> Option<UnixTime> {
        let e = i64::try_from(self.expiration).ok().filter(|e| *e > 0)?;
        self.calldate.seconds().checked_add(e).map(UnixTime)
    }
}

/// The list's filter and page (`start`, `limit`) of `f`; `queue` and `agent` are given back
/// as the client wrote them, for the caller to resolve.
pub struct CallQuery {
    /// The filter, without campaign and agent.
    pub filter: ScheduleFilter,
    /// `queue`.
    pub queue: Option<String>,
    /// `agent`.
    pub agent: Option<String>,
    /// `start`.
    pub start: u64,
    /// `limit`.
    pub limit: u64,
}

/// The list query of `f`; dates in `tz` (`enddate` without a time covers its whole day).
pub fn call_query(f: &Filters, tz: &TimeZone) -> Result<CallQuery, Failure> {
    let bounded = |name: &'static str| -> Result<Option<String>, Failure> {
        f.get(name)
            .map(|v| {
                if v.chars().count() > MAX_NAME || v.chars().any(char::is_control) {
                    Err(Failure::BadInput(name))
                } else {
                    Ok(v.to_owned())
                }
            })
            .transpose()
    };
    let count = |name: &'static str| -> Result<Option<u64>, Failure> {
        f.get(name)
            .map(|v| v.parse::<u64>().map_err(|_| Failure::BadInput(name)))
            .transpose()
    };
    let mut filter = ScheduleFilter::default();
    if let Some(s) = f.get("status") {
        filter.statuses = ScheduleStatus::from_vendor(s)
            .ok_or(Failure::BadInput("status"))?
            .to_vec();
    }
    if let Some(p) = f.get("phone") {
        filter.number = Some(PhoneNumber::parse(p).map_err(|_| Failure::BadInput("phone"))?);
    }
    if let Some(d) = f.get("startdate") {
        filter.from = Some(parse_date(d, tz, false).ok_or(Failure::BadInput("startdate"))?);
    }
    if let Some(d) = f.get("enddate") {
        let end = parse_date(d, tz, true).ok_or(Failure::BadInput("enddate"))?;
        filter.to = Some(UnixTime(end.seconds() - 1));
    }
    Ok(CallQuery {
        filter,
        queue: bounded("queue")?,
        agent: bounded("agent")?,
        start: count("start")?.unwrap_or(0),
        limit: count("limit")?.unwrap_or(DEFAULT_LIMIT),
    })
}

/// `t` as the panel writes dates: `YYYY-MM-DD HH:MM` (`:SS` when not zero) in `tz`.
pub fn format_calldate(t: UnixTime, tz: &TimeZone) -> String {
    match jiff::Timestamp::from_second(t.seconds()) {
        Ok(ts) => {
            let z = ts.to_zoned(tz.clone());
            let f = if z.second() == 0 {
                "%Y-%m-%d %H:%M"
            } else {
                "%Y-%m-%d %H:%M:%S"
            };
            z.strftime(f).to_string()
        }
        Err(_) => String::new(),
    }
}

/// A call: `id`, `queue` (its campaign's name), `phone`, `contact`, `subject`, `calldate`
/// (null when undated), `expiration`, `agent` (null: any), `status`, `link`.
pub fn call_json(c: &ScheduledCall, queue: &str, tz: &TimeZone) -> Value {
    let s = &c.spec;
    let pair = |k: &str| {
        s.data
            .0
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| unescape(v))
            .unwrap_or_default()
    };
    let mut link = Map::new();
    for i in 1..=MAX_LINKS {
        let key = format!("link{i}");
        if let Some((_, v)) = s.data.0.iter().find(|(n, _)| *n == key) {
            let (name, url) = v.split_once('=').unwrap_or((v, ""));
            link.insert(unescape(name), Value::String(unescape(url)));
        }
    }
    let phones: Vec<&str> = std::iter::once(&s.number)
        .chain(&s.alternatives)
        .map(PhoneNumber::as_str)
        .collect();
    let expiration = match (s.call_at, s.expires_at) {
        (Some(at), Some(exp)) => exp.seconds().saturating_sub(at.seconds()).max(0),
        _ => 0,
    };
    json!({
        "id": c.id.0,
        "queue": queue,
        "phone": phones,
        "contact": pair("contact"),
        "subject": pair("subject"),
        "calldate": s.call_at.map(|t| format_calldate(t, tz)),
        "expiration": expiration,
        "agent": s.agent,
        "status": c.status.vendor_name(),
        "link": link,
    })
}

/// `{"callid": <id>}`.
pub fn callid_json(id: ScheduleId) -> Value {
    json!({ "callid": id.0 })
}

/// `"Ok"`, a delete's answer.
pub fn ok_json() -> Value {
    Value::String("Ok".to_owned())
}

/// A call id in a path.
pub fn call_id(s: &str) -> Result<ScheduleId, Failure> {
    path_id(s).map(ScheduleId)
}

/// The scheduled call of `b` for `campaign`, with `agent` resolved.
pub fn new_call(
    b: &CallBody,
    campaign: crate::core::dialer::CampaignId,
    agent: Option<String>,
) -> Result<NewScheduledCall, Failure> {
    let mut phones = b.phones.iter().cloned();
    let number = phones.next().ok_or(Failure::BadInput("phone"))?;
    let mut c = NewScheduledCall::new(campaign, number);
    c.alternatives = phones.collect();
    c.agent = agent;
    c.call_at = Some(b.calldate);
    c.expires_at = b.expires_at();
    c.data = b.data()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facades::expand_rest::tests::outgoing_calls::SEED_POST as SEED;
    use axum::http::HeaderMap;

    fn tz() -> TimeZone {
        TimeZone::get("America/Montevideo").unwrap()
    }

    #[test]
    fn the_seed_body_reads_and_writes_back_the_same() {
        let b = call_body(SEED.as_bytes(), &tz()).unwrap();
        assert_eq!(b.queue, "tecnologia");
        assert_eq!(b.phones.len(), 2);
        assert_eq!(b.expires_at(), None);
        assert_eq!(format_calldate(b.calldate, &tz()), "2016-11-10 15:00");
        let c = new_call(&b, crate::core::dialer::CampaignId(3), b.agent.clone()).unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(ContactData::parse(&c.data.as_text()).unwrap(), c.data);
        let stored = ScheduledCall {
            id: ScheduleId(1),
            spec: c,
            status: ScheduleStatus::Pending,
            attempts: 0,
            created_at: UnixTime(0),
            updated_at: UnixTime(0),
        };
        let mut want: Value = serde_json::from_str(SEED).unwrap();
        want["id"] = json!(1);
        want["status"] = json!("PENDING");
        assert_eq!(call_json(&stored, "tecnologia", &tz()), want);
    }

    #[test]
    fn texts_with_separators_read_back() {
        for s in ["a:b;c=d%e", "100%", "%zz", "%4", "ñandú: sí"] {
            assert_eq!(unescape(&escape(s)), s, "{s}");
        }
        assert_eq!(unescape("%zz%"), "%zz%");
    }

    #[test]
    fn bad_bodies_and_filters_are_unknown_data_format() {
        let tz = tz();
        for body in [
            "{\"queue\": tecnologia\"}",
            "[]",
            r#"{"phone":["1234"],"calldate":"2016-11-10 15:00"}"#,
            r#"{"queue":"q","calldate":"2016-11-10 15:00"}"#,
            r#"{"queue":"q","phone":[],"calldate":"2016-11-10 15:00"}"#,
            r#"{"queue":"q","phone":["12;34"],"calldate":"2016-11-10 15:00"}"#,
            r#"{"queue":"q","phone":["1234"]}"#,
            r#"{"queue":"q","phone":["1234"],"calldate":"2016-11-10"}"#,
            r#"{"queue":"q","phone":["1234"],"calldate":"2016-13-10 15:00"}"#,
            r#"{"queue":"q","phone":["1234"],"calldate":"mañana a las 3"}"#,
            r#"{"queue":"q","phone":["1234"],"calldate":"2016-11-10 15:00","expiration":-1}"#,
            r#"{"queue":"q","phone":["1234"],"calldate":"2016-11-10 15:00","expiration":1e99}"#,
            r#"{"queue":"q","phone":["1234"],"calldate":"2016-11-10 15:00","link":"x"}"#,
            r#"{"queue":"q","phone":["1234"],"calldate":"2016-11-10 15:00","agent":5}"#,
            r#"{"queue":"q","phone":["1234"],"calldate":"2016-11-10 15:00","contact":"a\nb"}"#,
        ] {
            assert!(call_body(body.as_bytes(), &tz).is_err(), "{body}");
        }
        let long = format!(
            r#"{{"queue":"q","phone":["1234"],"calldate":"2016-11-10 15:00","link":{{"x":"{}"}}}}"#,
            ":".repeat(200)
        );
        let b = call_body(long.as_bytes(), &tz).unwrap();
        assert_eq!(b.data(), Err(Failure::BadInput("link")));
        let h = HeaderMap::new();
        for q in [
            "status=DONE",
            "phone=12a",
            "startdate=ayer",
            "enddate=2016-02-30",
            "limit=-1",
            "start=x",
        ] {
            let f = Filters::read(Some(q), &h, OUTGOING_FILTERS);
            assert!(call_query(&f, &tz).is_err(), "{q}");
        }
        let f = Filters::read(
            Some("status=canceled&startdate=2016-11-10&enddate=2016-11-10&phone=21232322"),
            &h,
            OUTGOING_FILTERS,
        );
        let q = call_query(&f, &tz).unwrap();
        assert_eq!(q.filter.statuses, vec![ScheduleStatus::Canceled]);
        assert_eq!(
            q.filter.to.unwrap().seconds() - q.filter.from.unwrap().seconds(),
            86_399
        );
        assert_eq!(q.limit, DEFAULT_LIMIT);
    }
}
