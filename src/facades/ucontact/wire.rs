//! uContact's wire formats, pure: form-urlencoded bodies, the JSON objects clients send
//! (blacklist entries, the getrecords filter, call data) and the JSON answers (getrecords rows,
//! queuesummary, campaignstatus), and times in the call center's zone.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use serde_json::{json, Map, Value};

use crate::core::campaigns::{BlacklistEntry, BlacklistKey, CampaignScope, Day, DirectionScope};
use crate::core::live::{Activity, AgentLive, DeviceStatus, QueueLive, QueueMember, WaitingCaller};
use crate::core::originate::{CallData, PhoneNumber};
use crate::core::reports::QueueReport;
use crate::core::{CdrRecord, UnixTime};

// ------------------------------------------------------------------ forms

/// A decoded `application/x-www-form-urlencoded` body: fields in order, repeated names kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

/// Most fields a request body may have ([`Form::parse_bounded`]); the documented operations
/// use at most 15.
pub const MAX_FORM_FIELDS: usize = 64;

impl Form {
    /// Decodes a body as the WHATWG `application/x-www-form-urlencoded` parser does: fields
    /// split on `&`, name and value on the first `=`; `+` is a space, `%` and two hex digits a
    /// byte (any other `%` is itself); the bytes are then read as UTF-8, invalid sequences
    /// replaced (U+FFFD).
    pub fn parse(body: &[u8]) -> Self {
        Self::parse_bounded(body, usize::MAX).unwrap_or_default()
    }

    /// [`Form::parse`] of a body with at most `max` fields; `None` when it has more, found
    /// before any field is decoded.
    pub fn parse_bounded(body: &[u8], max: usize) -> Option<Self> {
        let items = || body.split(|&b| b == b'&').filter(|item| !item.is_empty());
        if max < usize::MAX && items().nth(max).is_some() {
            return None;
        }
        Some(Self(
            items()
                .map(|item| {
                    let (k, v) = match item.iter().position(|&b| b == b'=') {
                        Some(i) => (&item[..i], &item[i + 1..]),
                        None => (item, &[][..]),
                    };
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        ))
    }

    /// The first value of `name` (exact name first, then case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_owned()
    }

    /// The first of `names` present.
    pub fn any(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.get(n))
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The only field's value, when there is exactly one.
    pub fn single(&self) -> Option<&str> {
        (self.0.len() == 1).then(|| self.0[0].1.as_str())
    }
}

fn percent_decode(b: &[u8]) -> String {
    let hex = |c: u8| char::from(c).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ------------------------------------------------------------------ times

/// `YYYY-MM-DD HH:MM:SS` of `t` in `tz`.
pub fn render_time(t: UnixTime, tz: &TimeZone) -> String {
    jiff::Timestamp::from_second(t.seconds())
        .map(|ts| {
            ts.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// `YYYYMMDD` of `t` in `tz` (the day folder of a recording's URL).
pub fn render_day_folder(t: UnixTime, tz: &TimeZone) -> String {
    jiff::Timestamp::from_second(t.seconds())
        .map(|ts| ts.to_zoned(tz.clone()).strftime("%Y%m%d").to_string())
        .unwrap_or_default()
}

/// Java's `DateFormat.MEDIUM` rendering (`Nov 2, 2018 11:31:42 AM`) of `t` in `tz`.
pub fn render_received(t: UnixTime, tz: &TimeZone) -> String {
    jiff::Timestamp::from_second(t.seconds())
        .map(|ts| {
            ts.to_zoned(tz.clone())
                .strftime("%b %-d, %Y %-I:%M:%S %p")
                .to_string()
        })
        .unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM:SS` (or `YYYY-MM-DD`, midnight) in `tz` as an instant.
pub fn parse_local(s: &str, tz: &TimeZone) -> Option<UnixTime> {
    let s = s.trim();
    let dt = if s.len() == 10 {
        jiff::civil::Date::strptime("%Y-%m-%d", s)
            .ok()?
            .to_datetime(jiff::civil::Time::midnight())
    } else {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s).ok()?
    };
    let z = dt.to_zoned(tz.clone()).ok()?;
    Some(UnixTime(z.timestamp().as_second()))
}

/// Today in `tz`.
pub fn today(now: UnixTime, tz: &TimeZone) -> Day {
    let s = jiff::Timestamp::from_second(now.seconds())
        .map(|ts| ts.to_zoned(tz.clone()).strftime("%Y-%m-%d").to_string())
        .unwrap_or_default();
    Day::parse(&s).unwrap_or_else(|| Day::parse("1970-01-01").expect("a valid day"))
}

/// The start of the day of `now` in `tz`.
pub fn start_of_day(now: UnixTime, tz: &TimeZone) -> UnixTime {
    jiff::Timestamp::from_second(now.seconds())
        .ok()
        .and_then(|ts| ts.to_zoned(tz.clone()).start_of_day().ok())
        .map_or(now, |z| UnixTime(z.timestamp().as_second()))
}

/// `HH:MM:SS` of a number of seconds (hours may exceed 24).
pub fn hms(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

// ------------------------------------------------------------------ JSON inputs

/// Why a JSON input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not JSON, or not the expected shape.
    #[error("malformed JSON")]
    Json,
    /// More items than allowed (in an array or an object).
    #[error("too many items")]
    TooMany,
    /// A required field is missing or empty.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A field has an unusable value.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// A JSON scalar as text (`"12"`, `12` → `12`; null or absent → empty).
fn scalar(v: Option<&Value>) -> Result<String, WireError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(_) => Err(WireError::Json),
    }
}

fn object(v: &Value) -> Result<&Map<String, Value>, WireError> {
    v.as_object().ok_or(WireError::Json)
}

/// A blacklist object: `phone` and `campaign` required, `direction` (`I`, `O`, `I/O`),
/// `expire_date` (`YYYY-MM-DD`), `username`, `company`, `job_title`, `name` optional.
pub fn blacklist_entry(v: &Value) -> Result<BlacklistEntry, WireError> {
    let o = object(v)?;
    let phone = scalar(o.get("phone"))?;
    if phone.is_empty() {
        return Err(WireError::Missing("phone"));
    }
    let campaign = scalar(o.get("campaign"))?;
    if campaign.is_empty() {
        return Err(WireError::Missing("campaign"));
    }
    let mut e = BlacklistEntry::new(
        PhoneNumber::parse(&phone).map_err(|_| WireError::Invalid("phone"))?,
        CampaignScope::parse(&campaign).ok_or(WireError::Invalid("campaign"))?,
    );
    e.direction = DirectionScope::parse(&scalar(o.get("direction"))?)
        .ok_or(WireError::Invalid("direction"))?;
    let expire = scalar(o.get("expire_date"))?;
    if !expire.is_empty() {
        // `2025-01-01` or `2025-01-01 00:00:00`: the day counts.
        let day = expire.get(..10).unwrap_or(&expire);
        e.expire_date = Some(Day::parse(day).ok_or(WireError::Invalid("expire_date"))?);
    }
    e.username = scalar(o.get("username"))?;
    e.company = scalar(o.get("company"))?;
    e.job_title = scalar(o.get("job_title"))?;
    e.name = scalar(o.get("name"))?;
    if !e.text_ok() {
        return Err(WireError::Invalid("text field"));
    }
    Ok(e)
}

/// A blacklist object naming entries to delete: `phone`, `campaign`, and `direction` when
/// given (absent: every direction).
pub fn blacklist_key(v: &Value) -> Result<BlacklistKey, WireError> {
    let o = object(v)?;
    let phone = scalar(o.get("phone"))?;
    let campaign = scalar(o.get("campaign"))?;
    if phone.is_empty() {
        return Err(WireError::Missing("phone"));
    }
    if campaign.is_empty() {
        return Err(WireError::Missing("campaign"));
    }
    let direction = scalar(o.get("direction"))?;
    Ok(BlacklistKey {
        phone: PhoneNumber::parse(&phone).map_err(|_| WireError::Invalid("phone"))?,
        campaign: CampaignScope::parse(&campaign).ok_or(WireError::Invalid("campaign"))?,
        direction: if direction.is_empty() {
            None
        } else {
            Some(DirectionScope::parse(&direction).ok_or(WireError::Invalid("direction"))?)
        },
    })
}

/// Parses one JSON object, or an array of at most 10000 of them, with `item`.
pub fn json_list<T>(
    text: &str,
    array: bool,
    item: impl Fn(&Value) -> Result<T, WireError>,
) -> Result<Vec<T>, WireError> {
    json_list_max(text, array, 10_000, item)
}

/// [`json_list`] with at most `max` objects in the array: one more is refused
/// ([`WireError::TooMany`]) as soon as the decoder reaches it, before the rest is read.
pub fn json_list_max<T>(
    text: &str,
    array: bool,
    max: usize,
    item: impl Fn(&Value) -> Result<T, WireError>,
) -> Result<Vec<T>, WireError> {
    let v = bounded_json(text, max)?;
    match (&v, array) {
        (Value::Array(items), true) if !items.is_empty() => items.iter().map(item).collect(),
        (Value::Object(_), false) => Ok(vec![item(&v)?]),
        _ => Err(WireError::Json),
    }
}

/// Most members of a JSON object, and items of an array below the top level, in any input.
pub const MAX_JSON_MEMBERS: usize = 64;

const TOO_MANY: &str = "centralita: too many JSON items";

/// Decodes JSON with bounded containers: the top-level array may have `top_items` items,
/// every object and nested array at most [`MAX_JSON_MEMBERS`] (nesting stops at serde_json's
/// 128 levels). Decoding stops at the first item past a bound ([`WireError::TooMany`]): a body
/// full of items is never built into a structure.
pub fn bounded_json(text: &str, top_items: usize) -> Result<Value, WireError> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Bounded { items: top_items }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            if e.to_string().starts_with(TOO_MANY) {
                WireError::TooMany
            } else {
                WireError::Json
            }
        })?;
    Ok(v)
}

/// A JSON value whose arrays hold at most `items` (objects: [`MAX_JSON_MEMBERS`] members).
#[derive(Clone, Copy)]
struct Bounded {
    items: usize,
}

impl Bounded {
    const NESTED: Self = Self {
        items: MAX_JSON_MEMBERS,
    };
}

impl<'de> serde::de::DeserializeSeed<'de> for Bounded {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Bounded {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while out.len() < self.items {
            match seq.next_element_seed(Self::NESTED)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
        match seq.next_element::<serde::de::IgnoredAny>()? {
            None => Ok(Value::Array(out)),
            Some(_) => Err(serde::de::Error::custom(TOO_MANY)),
        }
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut n = 0;
        while let Some(k) = map.next_key::<String>()? {
            n += 1;
            if n > MAX_JSON_MEMBERS {
                return Err(serde::de::Error::custom(TOO_MANY));
            }
            let v = map.next_value_seed(Self::NESTED)?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// The variables `AgentCallwithData`'s `data` gives the call: a flat JSON object (scalars
/// become text), or uContact's `Par1=Val1:Par2=Val2`; anything else gives none (the data is
/// still kept with the call). Invalid names or values are refused.
pub fn call_variables(data: &str) -> Result<CallData, WireError> {
    let data = data.trim();
    if data.is_empty() {
        return Ok(CallData::default());
    }
    let pairs: Vec<(String, String)> = if data.starts_with('{') {
        let v = bounded_json(data, MAX_JSON_MEMBERS)?;
        let o = object(&v)?;
        let mut pairs = Vec::new();
        for (k, v) in o {
            pairs.push((
                k.clone(),
                scalar(Some(v)).map_err(|_| WireError::Invalid("data"))?,
            ));
        }
        pairs
    } else if data.contains('=') {
        if data.split(':').nth(CallData::MAX_PAIRS).is_some() {
            return Err(WireError::TooMany);
        }
        data.split(':')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.trim().to_owned(), v.trim().to_owned())
            })
            .collect()
    } else {
        Vec::new()
    };
    CallData::new(&pairs).map_err(|_| WireError::Invalid("data"))
}

/// The getrecords filter object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordsFilter {
    /// `calldatei`: first instant.
    pub from: Option<UnixTime>,
    /// `calldatef`: last instant (inclusive).
    pub to: Option<UnixTime>,
    /// `agent`.
    pub agent: String,
    /// `campaign`.
    pub campaign: String,
    /// `source`.
    pub source: String,
    /// `destination`.
    pub destination: String,
    /// `data`: text in the call's data or tags.
    pub data: String,
    /// `mindur`: least billable seconds.
    pub mindur: Option<u64>,
    /// `exclude`: a number whose calls are left out.
    pub exclude: String,
}

/// Decodes the filter (`{}` or empty: no filter). Dates are `YYYY-MM-DD HH:MM:SS` in `tz`.
pub fn records_filter(text: &str, tz: &TimeZone) -> Result<RecordsFilter, WireError> {
    if text.trim().is_empty() {
        return Ok(RecordsFilter::default());
    }
    let v = bounded_json(text, MAX_JSON_MEMBERS)?;
    let o = object(&v)?;
    let date = |name: &'static str| -> Result<Option<UnixTime>, WireError> {
        let s = scalar(o.get(name))?;
        if s.is_empty() {
            return Ok(None);
        }
        parse_local(&s, tz)
            .map(Some)
            .ok_or(WireError::Invalid(name))
    };
    let mindur = scalar(o.get("mindur"))?;
    Ok(RecordsFilter {
        from: date("calldatei")?,
        to: date("calldatef")?,
        agent: scalar(o.get("agent"))?,
        campaign: scalar(o.get("campaign"))?,
        source: scalar(o.get("source"))?,
        destination: scalar(o.get("destination"))?,
        data: scalar(o.get("data"))?,
        mindur: if mindur.is_empty() {
            None
        } else {
            Some(mindur.parse().map_err(|_| WireError::Invalid("mindur"))?)
        },
        exclude: scalar(o.get("exclude"))?,
    })
}

// ------------------------------------------------------------------ getrecords rows

/// What a getrecords row says beyond its CDR.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowExtra {
    /// The call's guid.
    pub guid: String,
    /// The campaign (or queue) it belongs to.
    pub campaign: String,
    /// `inbound`, `outbound` or `internal`.
    pub direction: String,
    /// The trunk the call used, if any.
    pub carrier: String,
    /// The last disposition's comment, if any.
    pub note: Option<String>,
    /// The Q.850 cause the row's channel ended with, when the engine saw it end.
    pub causecode: Option<u16>,
    /// The recording's signed MP3 link (plays without `Authorization` until it expires).
    pub record_url: String,
    /// The same link for the `.gsm` file.
    pub record_url_gsm: String,
    /// When the links expire, in the call center's zone.
    pub record_url_expires: String,
}

fn amaflags(s: &str) -> i64 {
    match s.trim().to_ascii_uppercase().as_str() {
        "OMIT" => 1,
        "BILLING" => 2,
        "DOCUMENTATION" => 3,
        other => other.parse().unwrap_or(0),
    }
}

fn opt_text(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}

/// One getrecords row, shaped like the documented example.
pub fn record_row(cdr: &CdrRecord, extra: &RowExtra, tz: &TimeZone) -> Value {
    json!({
        "id": cdr.source_rowid,
        "calldate": render_time(cdr.start, tz),
        "clid": cdr.clid,
        "src": cdr.src,
        "dst": cdr.dst,
        "dcontext": cdr.dcontext,
        "channel": cdr.channel.as_str(),
        "dstchannel": cdr.dstchannel.as_ref().map_or("", |c| c.as_str()),
        "lastapp": cdr.lastapp,
        "lastdata": cdr.lastdata,
        "duration": cdr.duration.as_secs(),
        "billsec": cdr.billsec.as_secs(),
        "disposition": cdr.disposition.as_str(),
        "amaflags": amaflags(&cdr.amaflags),
        "accountcode": cdr.accountcode,
        "userfield": opt_text(&cdr.userfield),
        "uniqueid": cdr.uniqueid.as_str(),
        "type": "record",
        "guid": extra.guid,
        "causecode": extra.causecode.map_or(Value::Null, |c| Value::String(c.to_string())),
        "campaign": extra.campaign,
        "direction": extra.direction,
        "carrier": extra.carrier,
        "linkedid": cdr.linkedid.as_str(),
        "peeraccount": cdr.peeraccount,
        "sequence": cdr.sequence,
        "charged_balance": Value::Null,
        "real_balance": Value::Null,
        "note": extra.note,
        "contact": Value::Null,
        "finishtime": render_time(cdr.end, tz),
        "rating": 0,
        "dialerbase": Value::Null,
        "parandvalues": opt_text(&cdr.calldata),
        "alternatives": Value::Null,
        "quality": 0,
        "record_url": extra.record_url,
        "record_url_gsm": extra.record_url_gsm,
        "record_url_expires": extra.record_url_expires,
    })
}

/// The trunk a CDR went through: the endpoint of its channel or peer channel that is not a
/// phone (`PJSIP/carrier-00000012` → `carrier`).
pub fn carrier_of(cdr: &CdrRecord) -> String {
    let endpoint = |c: &str| -> Option<String> {
        let rest = c.split_once('/')?.1;
        let name = rest.rsplit_once('-').map_or(rest, |(n, _)| n);
        (!name.is_empty() && !name.bytes().all(|b| b.is_ascii_digit())).then(|| name.to_owned())
    };
    cdr.dstchannel
        .as_ref()
        .and_then(|c| endpoint(c.as_str()))
        .or_else(|| endpoint(cdr.channel.as_str()))
        .filter(|n| !n.starts_with("Local") && !n.contains('@'))
        .unwrap_or_default()
}

// ------------------------------------------------------------------ supervision

/// uContact's agent status codes (0-9) of a queue member.
pub fn status_code(member: &QueueMember, agent: Option<&AgentLive>) -> u8 {
    if matches!(agent.map(|a| &a.activity), Some(Activity::WrapUp { .. })) {
        return 9;
    }
    match member.status {
        DeviceStatus::Unknown => 0,
        DeviceStatus::NotInUse => 1,
        DeviceStatus::InUse => 2,
        DeviceStatus::Busy => 3,
        DeviceStatus::Invalid => 4,
        DeviceStatus::Unavailable => 5,
        DeviceStatus::Ringing => 6,
        DeviceStatus::RingInUse => 7,
        DeviceStatus::OnHold => 8,
    }
}

fn logged(m: &QueueMember) -> bool {
    !matches!(
        m.status,
        DeviceStatus::Unavailable | DeviceStatus::Invalid | DeviceStatus::Unknown
    )
}

fn busy(m: &QueueMember) -> bool {
    m.status.is_busy() || m.status == DeviceStatus::Ringing
}

/// Counts of a queue's members.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberCounts {
    /// Members.
    pub total: u64,
    /// Reachable members.
    pub logged: u64,
    /// Reachable, not paused, idle.
    pub available: u64,
    /// Paused, not on a call.
    pub paused: u64,
    /// On a call (or ringing), not paused.
    pub busy: u64,
    /// On a call and paused.
    pub busy_paused: u64,
    /// In wrap-up.
    pub wrapup: u64,
}

/// Counts the members of `q`.
pub fn member_counts(q: &QueueLive, agents: &BTreeMap<String, AgentLive>) -> MemberCounts {
    let mut c = MemberCounts::default();
    for m in q.members.values() {
        c.total += 1;
        if !logged(m) {
            continue;
        }
        c.logged += 1;
        let wrap = status_code(m, agents.get(&m.interface)) == 9;
        match (busy(m), m.pause.is_some()) {
            (true, true) => c.busy_paused += 1,
            (true, false) => c.busy += 1,
            (false, true) => c.paused += 1,
            (false, false) if wrap => {}
            (false, false) => c.available += 1,
        }
        if wrap {
            c.wrapup += 1;
        }
    }
    c
}

/// One queuesummary object.
pub fn queue_summary(
    name: &str,
    q: &QueueLive,
    agents: &BTreeMap<String, AgentLive>,
    report: Option<&QueueReport>,
    now: UnixTime,
    action_id: &str,
    received: &str,
) -> Value {
    let c = member_counts(q, agents);
    let longest = q.waiting.values().map(|w| w.wait(now)).max().unwrap_or(0);
    let avg = |f: Option<f64>| f.map_or(0, |v| v.round() as i64);
    json!({
        "queue": name,
        "loggedIn": c.logged,
        "available": c.available,
        "callers": q.waiting.len(),
        "holdTime": avg(report.and_then(|r| r.avg_wait_secs)),
        "talkTime": avg(report.and_then(|r| r.avg_talk_secs)),
        "longestHoldTime": longest,
        "internalActionId": action_id,
        "dateReceived": received,
    })
}

/// One campaign object of campaignstatus.
pub fn campaign_object(
    name: &str,
    q: &QueueLive,
    agents: &BTreeMap<String, AgentLive>,
    report: Option<&QueueReport>,
) -> Value {
    let c = member_counts(q, agents);
    let total_calls = q.completed + q.abandoned;
    let abandoned_level = (q.abandoned * 100 + total_calls / 2)
        .checked_div(total_calls)
        .unwrap_or(0);
    let (talked, hold) = match report {
        Some(r) => {
            let talk = r.avg_talk_secs.unwrap_or(0.0) * r.answered as f64;
            let wait = r.avg_wait_secs.unwrap_or(0.0) * r.answered as f64;
            (
                format!("{}-{}", hms(talk.round() as i64), r.answered),
                format!("{}-{}", hms(wait.round() as i64), r.answered),
            )
        }
        None => ("00:00:00-0".to_owned(), "00:00:00-0".to_owned()),
    };
    let sl2 = report.and_then(|r| r.service_level_pct).unwrap_or(0.0);
    json!({
        "campaign": name,
        "availables": c.available,
        "notavailables": c.total - c.logged,
        "paused": c.paused,
        "busy": c.busy,
        "busypaused": c.busy_paused,
        "totalagents": c.total,
        "logged": c.logged,
        "onwrapup": c.wrapup,
        "completed": q.completed,
        "abandoned": q.abandoned,
        "talked": talked,
        "hold": hold,
        "abandonedlevel": abandoned_level.to_string(),
        "totalcalls": total_calls,
        "acd": q.waiting.len(),
        "servicelevel": format!("{:.1}", q.service_level()),
        "servicelevel2": format!("{sl2:.1}"),
        "strategy": q.strategy,
        "slevelthreshold": q.service_level_secs.to_string(),
        "wrapup": q.wrapup_secs.unwrap_or(0),
    })
}

/// One ACD call object of campaignstatus: a caller waiting in the campaign's queue, keyed by
/// its channel, with the fields of Asterisk's `QueueEntry` (`wait` in seconds).
pub fn acd_call_object(
    campaign: &str,
    c: &WaitingCaller,
    now: UnixTime,
    action_id: &str,
    received: &str,
) -> Value {
    json!({
        "queue": campaign,
        "position": c.position,
        "channel": c.channel.as_str(),
        "uniqueId": c.uniqueid.as_str(),
        "callerIdNum": c.caller_id,
        "callerIdName": "",
        "wait": c.wait(now),
        "internalActionId": action_id,
        "dateReceived": received,
    })
}

/// One agent object of campaignstatus. `pause_name` is the display name of the member's pause
/// reason (the directory's, else the reason as Asterisk reported it).
#[allow(clippy::too_many_arguments)]
pub fn agent_object(
    campaign: &str,
    m: &QueueMember,
    agent: Option<&AgentLive>,
    display_name: &str,
    pause_name: &str,
    now: UnixTime,
    action_id: &str,
    received: &str,
) -> Value {
    let since = agent.and_then(|a| a.since).or(m.logged_in_since);
    let code = status_code(m, agent);
    json!({
        "queue": campaign,
        "location": m.interface,
        "membership": if m.logged_in_since.is_some() { "dynamic" } else { "" },
        "name": display_name,
        "penalty": m.penalty,
        "callsTaken": m.calls_taken,
        "lastCall": m.last_call.map_or(0, UnixTime::seconds),
        "status": code,
        "paused": m.pause.is_some(),
        "stateinterface": m.state_interface,
        "incall": u8::from(busy(m)),
        "pausedreason": pause_name,
        "internalActionId": action_id,
        "dateReceived": received,
        "server": hms(since.map_or(0, |s| now.seconds() - s.seconds())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::live::Pause;

    #[test]
    fn forms_decode() {
        let f = Form::parse(b"user=ana+p%C3%A9rez&password=a%26b%3Dc&empty=&flag&bad=%zz%4");
        assert_eq!(f.get("user"), Some("ana pérez"));
        assert_eq!(f.get("password"), Some("a&b=c"));
        assert_eq!(f.get("empty"), Some(""));
        assert_eq!(f.get("flag"), Some(""));
        assert_eq!(f.get("bad"), Some("%zz%4"));
        assert_eq!(f.get("USER"), Some("ana pérez"));
        assert_eq!(f.get("nope"), None);
        assert!(Form::parse(b"").is_empty());
    }

    #[test]
    fn forms_decode_escapes_to_bytes_before_utf8() {
        // Found by fuzz/fuzz_targets/ucontact_form.rs: a raw byte between escapes was replaced
        // before the escapes were decoded, so the value differed from what the client sent.
        let f = Form::parse(b"user=ana+p%C3\xda%A9rez&password=a%2");
        assert_eq!(f.get("user"), Some("ana p\u{FFFD}\u{6A9}rez"));
        assert_eq!(f.get("password"), Some("a%2"));
        assert_eq!(Form::parse(b"a=\xe2%82%AC").get("a"), Some("\u{20AC}"));
        // `%` with a sign is not an escape (`u8::from_str_radix` reads `+1` as 1).
        let f = Form::parse(b"a=%+1&b=%-1&c=% 1&d=%4&e=%");
        for (k, v) in [
            ("a", "% 1"),
            ("b", "%-1"),
            ("c", "% 1"),
            ("d", "%4"),
            ("e", "%"),
        ] {
            assert_eq!(f.get(k), Some(v), "{k}");
        }
        assert_eq!(Form::parse(b"%3D=%26&%zz=1").get("="), Some("&"));
        assert_eq!(Form::parse(b"%3D=%26&%zz=1").get("%zz"), Some("1"));
    }

    #[test]
    fn times_in_the_zone() {
        let tz = TimeZone::get("America/Montevideo").unwrap();
        // 2026-11-22 04:00:00 UTC = 01:00:00 in Montevideo (UTC-3).
        let t = UnixTime(1_795_320_000);
        assert_eq!(render_time(t, &tz), "2026-11-22 01:00:00");
        assert_eq!(render_day_folder(t, &tz), "20261122");
        assert_eq!(parse_local("2026-11-22 01:00:00", &tz), Some(t));
        assert_eq!(parse_local("2026-11-22", &tz), Some(UnixTime(t.0 - 3600)));
        assert_eq!(parse_local("22/11/2026", &tz), None);
        assert_eq!(today(t, &tz).as_str(), "2026-11-22");
        assert_eq!(start_of_day(t, &tz), UnixTime(t.0 - 3600));
        assert_eq!(render_received(t, &tz), "Nov 22, 2026 1:00:00 AM");
        assert_eq!(hms(3725), "01:02:05");
    }

    #[test]
    fn blacklist_objects() {
        let v: Value = serde_json::from_str(
            r#"{"phone": 5551234, "campaign":"*", "expire_date":"2025-01-01", "direction":"O","name":"Ana"}"#,
        )
        .unwrap();
        let e = blacklist_entry(&v).unwrap();
        assert_eq!(e.phone.as_str(), "5551234");
        assert_eq!(e.campaign, CampaignScope::All);
        assert_eq!(e.direction, DirectionScope::Outbound);
        assert_eq!(e.expire_date.unwrap().as_str(), "2025-01-01");
        for bad in [
            r#"{"campaign":"x"}"#,
            r#"{"phone":"123"}"#,
            r#"{"phone":"12a3","campaign":"x"}"#,
            r#"{"phone":"123","campaign":"x","direction":"Z"}"#,
            r#"{"phone":"123","campaign":"x","expire_date":"tomorrow"}"#,
            r#"{"phone":["1"],"campaign":"x"}"#,
            r#"[1]"#,
        ] {
            let v: Value = serde_json::from_str(bad).unwrap();
            assert!(blacklist_entry(&v).is_err(), "{bad}");
        }
        let list = json_list(
            r#"[{"phone":"123","campaign":"a"},{"phone":"456","campaign":"b","direction":"I"}]"#,
            true,
            blacklist_key,
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].direction, None);
        assert!(json_list("[]", true, blacklist_key).is_err());
        assert!(json_list(r#"{"phone":"1","campaign":"a"}"#, true, blacklist_key).is_err());
        assert!(json_list("nope", false, blacklist_key).is_err());
    }

    #[test]
    fn call_data_forms() {
        let d = call_variables(r#"{"idcliente": 7, "nombre": "Ana"}"#).unwrap();
        assert_eq!(d.render(), "idcliente=7,nombre=Ana");
        let d = call_variables("Par1=Val1:Par2=Val2").unwrap();
        assert_eq!(d.render(), "Par1=Val1,Par2=Val2");
        assert!(call_variables("just text").unwrap().is_empty());
        assert!(call_variables(r#"{"a b": 1}"#).is_err());
        assert!(call_variables(r#"{"a": "x,y"}"#).is_err());
        assert!(call_variables(r#"{"a": {"b": 1}}"#).is_err());
        assert!(call_variables("{broken").is_err());
    }

    #[test]
    fn filter_and_status_codes() {
        let tz = TimeZone::get("America/Montevideo").unwrap();
        let f = records_filter(
            r#"{"calldatei":"2026-11-22 00:00:00","calldatef":"2026-11-22 23:59:59","agent":"","mindur":"5","type":"record","cont":""}"#,
            &tz,
        )
        .unwrap();
        assert_eq!(f.mindur, Some(5));
        assert!(f.from.unwrap() < f.to.unwrap());
        assert!(records_filter(r#"{"calldatei":"ayer"}"#, &tz).is_err());
        assert!(records_filter(r#"{"mindur":"x"}"#, &tz).is_err());
        assert_eq!(records_filter("", &tz).unwrap(), RecordsFilter::default());

        let member = |status| QueueMember {
            interface: "PJSIP/1007".into(),
            name: "2307".into(),
            state_interface: "PJSIP/1007".into(),
            status,
            pause: None,
            calls_taken: 0,
            logged_in_since: None,
            penalty: 0,
            last_call: None,
        };
        let statuses = [
            (DeviceStatus::Unknown, 0),
            (DeviceStatus::NotInUse, 1),
            (DeviceStatus::InUse, 2),
            (DeviceStatus::Busy, 3),
            (DeviceStatus::Invalid, 4),
            (DeviceStatus::Unavailable, 5),
            (DeviceStatus::Ringing, 6),
            (DeviceStatus::RingInUse, 7),
            (DeviceStatus::OnHold, 8),
        ];
        for (s, code) in statuses {
            assert_eq!(status_code(&member(s), None), code, "{s:?}");
        }
        let wrap = AgentLive {
            name: "2307".into(),
            activity: Activity::WrapUp {
                queue: crate::core::directory::QueueName::new("q_cobranza").unwrap(),
            },
            since: None,
            caller_joined: None,
            last_refused: None,
        };
        assert_eq!(status_code(&member(DeviceStatus::NotInUse), Some(&wrap)), 9);

        let mut q = QueueLive {
            members: BTreeMap::new(),
            waiting: BTreeMap::new(),
            completed: 3,
            abandoned: 1,
            completed_in_sl: 3,
            service_level_secs: 20,
            strategy: "leastrecent".into(),
            wrapup_secs: Some(15),
        };
        let mut paused = member(DeviceStatus::NotInUse);
        paused.interface = "PJSIP/1008".into();
        paused.pause = Some(Pause {
            reason: Some("almuerzo".into()),
            since: UnixTime(0),
        });
        q.members
            .insert("PJSIP/1007".into(), member(DeviceStatus::InUse));
        q.members.insert("PJSIP/1008".into(), paused);
        let mut off = member(DeviceStatus::Unavailable);
        off.interface = "PJSIP/1009".into();
        q.members.insert("PJSIP/1009".into(), off);
        let v = campaign_object("Cobranza->", &q, &BTreeMap::new(), None);
        assert_eq!(v["busy"], 1);
        assert_eq!(v["paused"], 1);
        assert_eq!(v["availables"], 0);
        assert_eq!(v["logged"], 2);
        assert_eq!(v["notavailables"], 1);
        assert_eq!(v["totalagents"], 3);
        assert_eq!(v["totalcalls"], 4);
        assert_eq!(v["abandonedlevel"], "25");
        assert_eq!(v["servicelevel"], "100.0");
        assert_eq!(v["slevelthreshold"], "20");
        // The queue's real strategy and wrap-up time (they were null).
        assert_eq!(v["strategy"], "leastrecent");
        assert_eq!(v["wrapup"], 15);
        q.wrapup_secs = None;
        assert_eq!(
            campaign_object("Cobranza->", &q, &BTreeMap::new(), None)["wrapup"],
            0
        );

        // The agent object: real penalty and lastCall, the pause reason's name.
        let mut m = q.members["PJSIP/1008"].clone();
        m.penalty = 2;
        m.last_call = Some(UnixTime(1_795_359_000));
        let v = agent_object(
            "Cobranza->",
            &m,
            None,
            "Ana",
            "Almuerzo",
            UnixTime(1_795_359_600),
            "1_2",
            "Nov 22, 2026 12:00:00 PM",
        );
        assert_eq!(v["penalty"], 2);
        assert_eq!(v["lastCall"], 1_795_359_000);
        assert_eq!(v["pausedreason"], "Almuerzo");
        assert_eq!(v["paused"], true);

        // An ACD call object: a caller waiting, as Asterisk's QueueEntry reports it.
        let c = WaitingCaller {
            uniqueid: crate::core::UniqueId::new("1795359500.7"),
            channel: crate::core::ChannelName::new("PJSIP/carrier-00000007"),
            caller_id: "099123456".into(),
            position: 1,
            joined_at: UnixTime(1_795_359_590),
        };
        let v = acd_call_object("Cobranza->", &c, UnixTime(1_795_359_600), "1_2", "x");
        assert_eq!(
            v,
            json!({"queue": "Cobranza->", "position": 1, "channel": "PJSIP/carrier-00000007",
                   "uniqueId": "1795359500.7", "callerIdNum": "099123456", "callerIdName": "",
                   "wait": 10, "internalActionId": "1_2", "dateReceived": "x"})
        );
    }
}
