//! eXpand's formats: dates (`YYYY-MM-DD HH:MM:SS` in the call center's zone), durations
//! (`HHh MM' SS''`), argument lists, and the XML documents its operations answer, with the
//! element and attribute names of the vendor's examples (always well-formed, UTF-8). Pure: no
//! I/O, no clock. The documents live by area: [`calls`] (extensions, recordings, CDRs), [`panel`]
//! (statusQueues, queue activity), [`agents`] (totals, user info, times, sessions, logins); this
//! file holds the values and the writer they share.

use std::fmt::Write as _;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::core::journal::CdrRecord;
use crate::core::UnixTime;
use crate::facades::soap::escape;

/// The XML declaration every document starts with.
pub const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

// ------------------------------------------------------------------ values

/// 00:00:00 of the day of `now` in `tz` (where the running day figures start).
pub fn start_of_day(now: UnixTime, tz: &TimeZone) -> Option<UnixTime> {
    jiff::Timestamp::from_second(now.0)
        .ok()
        .and_then(|ts| ts.to_zoned(tz.clone()).start_of_day().ok())
        .map(|z| UnixTime(z.timestamp().as_second()))
}

/// Parses `YYYY-MM-DD HH:MM:SS` as a civil time in `tz`.
pub fn parse_date(text: &str, tz: &TimeZone) -> Option<UnixTime> {
    let text = text.trim();
    let b = text.as_bytes();
    let shaped = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    let dt: DateTime = text.replace(' ', "T").parse().ok()?;
    let zoned = dt.to_zoned(tz.clone()).ok()?;
    Some(UnixTime(zoned.timestamp().as_second()))
}

/// `YYYY-MM-DD HH:MM:SS` of `t` in `tz`.
pub fn format_date(t: UnixTime, tz: &TimeZone) -> String {
    match jiff::Timestamp::from_second(t.0) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => String::new(),
    }
}

/// `HHh MM' SS''` (hours may exceed 99).
pub fn hms(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}h {:02}' {:02}''", s / 3600, s / 60 % 60, s % 60)
}

/// A list argument (`"q_a, q_b q_c"`): items separated by commas and/or spaces.
pub fn split_list(text: &str) -> Vec<String> {
    items(text).map(str::to_owned).collect()
}

fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split([',', ' ', ';', '\t']).filter(|s| !s.is_empty())
}

/// [`split_list`] of at most `max` items; `None` when there are more, found before any item
/// is copied.
pub fn split_list_max(text: &str, max: usize) -> Option<Vec<String>> {
    if items(text).nth(max).is_some() {
        return None;
    }
    Some(split_list(text))
}

/// A number for an attribute: integers without decimals, others with up to 6.
pub fn decimal(x: f64) -> String {
    if !x.is_finite() {
        return "0".into();
    }
    if x.fract() == 0.0 {
        return format!("{}", x as i64);
    }
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

// ------------------------------------------------------------------ a tiny writer

/// Appends `<name a="v" ...` (attributes escaped) to `out`; the caller closes it.
fn open(out: &mut String, indent: usize, name: &str, attrs: &[(&str, &str)]) {
    out.push_str(&"  ".repeat(indent));
    out.push('<');
    out.push_str(name);
    for (k, v) in attrs {
        let _ = write!(out, " {k}=\"{}\"", escape(v));
    }
}

fn empty(out: &mut String, indent: usize, name: &str, attrs: &[(&str, &str)]) {
    open(out, indent, name, attrs);
    out.push_str("/>\n");
}

fn with_text(out: &mut String, indent: usize, name: &str, attrs: &[(&str, &str)], text: &str) {
    open(out, indent, name, attrs);
    let _ = writeln!(out, ">{}</{name}>", escape(text));
}

fn start(out: &mut String, indent: usize, name: &str, attrs: &[(&str, &str)]) {
    open(out, indent, name, attrs);
    out.push_str(">\n");
}

fn end(out: &mut String, indent: usize, name: &str) {
    let _ = writeln!(out, "{}</{name}>", "  ".repeat(indent));
}

mod agents;
mod calls;
mod panel;

pub use agents::*;
pub use calls::*;
pub use panel::*;

#[cfg(test)]
mod tests;
