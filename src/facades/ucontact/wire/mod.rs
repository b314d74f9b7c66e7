//! uContact's wire formats, pure: form-urlencoded bodies, the JSON objects clients send
//! (blacklist entries, the getrecords filter, call data) and the JSON answers (getrecords rows,
//! queuesummary, campaignstatus), and times in the call center's zone. By area: [`json`] (what
//! clients send), [`records`] (getrecords), [`queues`] (queue, campaign and agent answers); this
//! file holds forms, times and [`WireError`].

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

mod dialers;
mod json;
mod queues;
mod records;

pub use dialers::*;
pub use json::*;
pub use queues::*;
pub use records::*;

#[cfg(test)]
mod tests;
