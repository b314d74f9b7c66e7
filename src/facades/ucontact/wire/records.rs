//! getrecords: the filter and the rows (trunk, flags, texts).

use super::json::{object, scalar};
use super::*;

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
