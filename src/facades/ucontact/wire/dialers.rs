//! The JSON objects of `Dialers/*`: the Respool object (`callspool`), the schedule object
//! (`callschedule`) and the dialer task (`call`), read into one bounded [`DialerObject`].

use super::*;
use crate::core::campaigns::CampaignName;
use crate::core::dialer::contact::ContactData;

/// The longest JSON object of a `Dialers/*` operation, in bytes.
pub const MAX_DIALER_JSON: usize = 16 * 1024;
/// At most this many alternatives (the core's bound).
pub const MAX_ALTERNATIVES: usize = 10;

/// A Respool, schedule or task object, its fields checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialerObject {
    /// `campaign`.
    pub campaign: CampaignName,
    /// `destination`.
    pub destination: PhoneNumber,
    /// `alternatives`, `:`-separated.
    pub alternatives: Vec<PhoneNumber>,
    /// `agentphone` (Respool, schedule) or `agent` (task); `None` when empty.
    pub agent: Option<String>,
    /// `data`: `Par1=Val1:Par2=Val2`.
    pub data: ContactData,
    /// `priority`, when given.
    pub priority: Option<u32>,
    /// `calldate` (or `callDate`) as sent, `None` when null, absent or empty.
    pub calldate: Option<String>,
    /// `bulk` (task).
    pub bulk: bool,
    /// `automatic` (task).
    pub automatic: bool,
    /// `contact` (Respool): a contact id, when given.
    pub contact: Option<i64>,
    /// `retries` (Respool), when given.
    pub retries: Option<u32>,
    /// `dialerbase` (Respool), when not empty.
    pub dialerbase: Option<String>,
    /// `status` (Respool), when given.
    pub status: Option<i64>,
}

/// A whole number field (a JSON number or a string of digits); `None` when absent, null or
/// empty.
fn whole(v: Option<&Value>, name: &'static str) -> Result<Option<i64>, WireError> {
    let s = scalar(v)?;
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| WireError::Invalid(name))
}

/// A number as uContact's examples write it: `-`, `.`, spaces and parentheses are separators
/// (`12-345-678` is `12345678`).
pub fn dialer_number(s: &str) -> Result<PhoneNumber, WireError> {
    if s.len() > 64 {
        return Err(WireError::Invalid("number"));
    }
    let digits: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | ' ' | '(' | ')'))
        .collect();
    PhoneNumber::parse(&digits).map_err(|_| WireError::Invalid("number"))
}

/// `:`-separated numbers (empty: none), at most [`MAX_ALTERNATIVES`].
pub fn dialer_numbers(s: &str) -> Result<Vec<PhoneNumber>, WireError> {
    let parts: Vec<&str> = s
        .split(':')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .take(MAX_ALTERNATIVES + 1)
        .collect();
    if parts.len() > MAX_ALTERNATIVES {
        return Err(WireError::TooMany);
    }
    parts.into_iter().map(dialer_number).collect()
}

fn flag(v: Option<&Value>) -> Result<bool, WireError> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" | "false" | "0" => Ok(false),
            "true" | "1" => Ok(true),
            _ => Err(WireError::Invalid("flag")),
        },
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(WireError::Invalid("flag")),
        },
        Some(_) => Err(WireError::Json),
    }
}

/// A printable text of at most `max` characters.
fn bounded_text(s: String, max: usize, name: &'static str) -> Result<String, WireError> {
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(WireError::Invalid(name));
    }
    Ok(s)
}

/// Reads a `Dialers/*` JSON object: `campaign` and `destination` required; `alternatives`,
/// `agentphone` / `agent`, `data`, `priority` (0-1000000), `calldate` / `callDate`, `bulk`,
/// `automatic` optional; the Respool object's record fields `contact` (a positive id),
/// `retries` (0 or more), `status` (a whole number) and `dialerbase` (text of at most 128
/// characters), optional, as read here and judged by the core
/// ([`crate::core::dialer::spool::DialerRecord`]); `source` (a task's) read as a scalar and
/// not used. Over [`MAX_DIALER_JSON`] bytes, more than [`MAX_JSON_MEMBERS`] members, a nested
/// value where a scalar is expected, or any field out of bounds: refused.
pub fn dialer_object(text: &str) -> Result<DialerObject, WireError> {
    if text.len() > MAX_DIALER_JSON {
        return Err(WireError::TooMany);
    }
    let v = bounded_json(text, MAX_JSON_MEMBERS)?;
    let o = object(&v)?;
    scalar(o.get("source"))?;
    let contact = whole(o.get("contact"), "contact")?;
    if contact.is_some_and(|c| c < 1) {
        return Err(WireError::Invalid("contact"));
    }
    let retries = whole(o.get("retries"), "retries")?
        .map(|r| u32::try_from(r).map_err(|_| WireError::Invalid("retries")))
        .transpose()?;
    let status = whole(o.get("status"), "status")?;
    let dialerbase = bounded_text(scalar(o.get("dialerbase"))?, 128, "dialerbase")?;
    let campaign = scalar(o.get("campaign"))?;
    if campaign.is_empty() {
        return Err(WireError::Missing("campaign"));
    }
    let campaign = CampaignName::parse(&campaign).ok_or(WireError::Invalid("campaign"))?;
    let destination = scalar(o.get("destination"))?;
    if destination.is_empty() {
        return Err(WireError::Missing("destination"));
    }
    let destination = dialer_number(&destination)?;
    let alternatives = dialer_numbers(&scalar(o.get("alternatives"))?)?;
    let agent = match scalar(o.get("agentphone"))? {
        a if a.is_empty() => scalar(o.get("agent"))?,
        a => a,
    };
    let agent = bounded_text(agent, 64, "agent")?;
    let data = bounded_text(scalar(o.get("data"))?, 8192, "data")?;
    let data = ContactData::parse(&data).map_err(|_| WireError::Invalid("data"))?;
    let priority = match scalar(o.get("priority"))? {
        p if p.is_empty() => None,
        p => Some(
            p.parse::<u32>()
                .ok()
                .filter(|p| *p <= 1_000_000)
                .ok_or(WireError::Invalid("priority"))?,
        ),
    };
    let calldate = match scalar(o.get("calldate"))? {
        d if d.is_empty() => scalar(o.get("callDate"))?,
        d => d,
    };
    let calldate = bounded_text(calldate, 32, "calldate")?;
    let alternatives = alternatives
        .into_iter()
        .filter(|a| a != &destination)
        .collect();
    Ok(DialerObject {
        campaign,
        destination,
        alternatives,
        agent: (!agent.is_empty()).then_some(agent),
        data,
        priority,
        calldate: (!calldate.is_empty()).then_some(calldate),
        bulk: flag(o.get("bulk"))?,
        automatic: flag(o.get("automatic"))?,
        contact,
        retries,
        dialerbase: (!dialerbase.is_empty()).then_some(dialerbase),
        status,
    })
}

/// `Dialers/uploadstatus`'s answer: `{"read", "imported", "duplicates", "rejected", "cant",
/// "username", "started" (in `tz`), "done", "failed"}` and the engine's `"state"`, `"received"`,
/// `"finished"` (in `tz`, `null` until then), `"bytes"`, `"bytes_done"` and `"errors"` (the
/// first rejected lines, `{"line", "reason"}`).
pub fn upload_status(job: &crate::core::dialer::uploads::UploadJob, tz: &TimeZone) -> Value {
    let p = &job.progress;
    json!({
        "read": p.read,
        "imported": p.imported,
        "duplicates": p.duplicates,
        "rejected": p.rejected,
        "cant": job.announced,
        "username": job.username,
        "started": render_time(job.started_at.unwrap_or(job.received_at), tz),
        "done": job.state.finished(),
        "failed": job.state == crate::core::dialer::uploads::UploadState::Failed,
        "state": job.state.as_str(),
        "received": render_time(job.received_at, tz),
        "finished": job.finished_at.map(|t| render_time(t, tz)),
        "bytes": job.bytes,
        "bytes_done": p.offset,
        "errors": p.first_errors.iter()
            .map(|e| json!({"line": e.line, "reason": e.reason}))
            .collect::<Vec<_>>(),
    })
}
