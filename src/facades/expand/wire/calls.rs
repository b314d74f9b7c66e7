//! The extensions list, recordings and CDR documents.

use super::*;

/// One line of `extensionPbx`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionInfo {
    /// The extension.
    pub extension: String,
    /// Its channel (`PJSIP/1001`).
    pub channel: String,
    /// Its caller id name.
    pub callerid_name: String,
}

/// `extensionPbx`'s `<extensions>`.
pub fn extensions_xml(list: &[ExtensionInfo]) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "extensions", &[]);
    for e in list {
        empty(
            &mut out,
            1,
            "extensioninfo",
            &[
                ("extension", &e.extension),
                ("channel", &e.channel),
                ("calleridName", &e.callerid_name),
            ],
        );
    }
    end(&mut out, 0, "extensions");
    out
}

/// `recordingPbx`'s `<record>`: `status` -1, 0 or 1; the base64 MP3 with 1.
pub fn recording_xml(status: i32, uniqueid: &str, mp3_base64: Option<&str>) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "record", &[]);
    let st = status.to_string();
    match mp3_base64 {
        Some(b64) => with_text(
            &mut out,
            1,
            "recording",
            &[
                ("status", &st),
                ("uniqueid", uniqueid),
                ("encoding", "base64"),
            ],
            b64,
        ),
        None => empty(
            &mut out,
            1,
            "recording",
            &[("status", &st), ("uniqueid", uniqueid)],
        ),
    }
    end(&mut out, 0, "record");
    out
}

/// The text of a CDR field by name (see `config::CDR_FIELDS`; `calldata:<key>` is one
/// `callinfo` value).
pub fn cdr_field(cdr: &CdrRecord, field: &str) -> String {
    if let Some(key) = field.strip_prefix("calldata:") {
        return cdr
            .calldata
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default();
    }
    match field {
        "disposition" => cdr.disposition.as_str().to_owned(),
        "lastapp" => cdr.lastapp.clone(),
        "lastdata" => cdr.lastdata.clone(),
        "userfield" => cdr.userfield.clone(),
        "accountcode" => cdr.accountcode.clone(),
        "amaflags" => cdr.amaflags.clone(),
        "calldata" => cdr.calldata.clone(),
        "dstchannel" => cdr
            .dstchannel
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        "channel" => cdr.channel.as_str().to_owned(),
        "dcontext" => cdr.dcontext.clone(),
        "clid" => cdr.clid.clone(),
        "billsec" => cdr.billsec.as_secs().to_string(),
        "recordingfile" => cdr.recordingfile.clone(),
        _ => String::new(),
    }
}

/// `cdrData`'s `<cdr>`: one `<call>` per leg, plus the leg's `linkedid` and `callinfo` (the
/// `originateCall` data).
pub fn cdr_xml(cdrs: &[CdrRecord], tz: &TimeZone) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "cdr", &[]);
    for c in cdrs {
        let dstchannel = cdr_field(c, "dstchannel");
        empty(
            &mut out,
            1,
            "call",
            &[
                ("uniqueid", c.uniqueid.as_str()),
                ("src", &c.src),
                ("dst", &c.dst),
                ("dcontext", &c.dcontext),
                ("clid", &c.clid),
                ("channel", c.channel.as_str()),
                ("dstchannel", &dstchannel),
                ("lastapp", &c.lastapp),
                ("lastdata", &c.lastdata),
                ("calldate", &format_date(c.start, tz)),
                ("duration", &c.duration.as_secs().to_string()),
                ("billsec", &c.billsec.as_secs().to_string()),
                ("disposition", c.disposition.as_str()),
                ("linkedid", c.linkedid.as_str()),
                ("callinfo", &c.calldata),
            ],
        );
    }
    end(&mut out, 0, "cdr");
    out
}

/// `cdrCustom`'s `<cdr>`: `estado`/`observaciones` from the configured fields.
pub fn cdr_custom_xml(
    cdrs: &[CdrRecord],
    tz: &TimeZone,
    estado_field: &str,
    observaciones_field: &str,
) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "cdr", &[]);
    for c in cdrs {
        empty(
            &mut out,
            1,
            "call",
            &[
                ("id", &c.source_rowid.to_string()),
                ("uniqueid", c.uniqueid.as_str()),
                ("src", &c.src),
                ("dnis", &c.dst),
                ("context", &c.dcontext),
                ("calldate", &format_date(c.start, tz)),
                ("duration", &c.duration.as_secs().to_string()),
                ("estado", &cdr_field(c, estado_field)),
                ("observaciones", &cdr_field(c, observaciones_field)),
            ],
        );
    }
    end(&mut out, 0, "cdr");
    out
}
