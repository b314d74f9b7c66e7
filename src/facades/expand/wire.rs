//! eXpand's formats: dates (`YYYY-MM-DD HH:MM:SS` in the call center's zone), durations
//! (`HHh MM' SS''`), argument lists, and the XML documents its operations answer, with the
//! element and attribute names of the vendor's examples (always well-formed, UTF-8). Pure: no
//! I/O, no clock.

use std::fmt::Write as _;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::core::journal::CdrRecord;
use crate::core::UnixTime;
use crate::facades::soap::escape;

/// The XML declaration every document starts with.
pub const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

// ------------------------------------------------------------------ values

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

// ------------------------------------------------------------------ documents

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

/// An agent of `statusQueues`' `<agents>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanelAgent {
    /// Agent number.
    pub number: String,
    /// Full name.
    pub name: String,
    /// `offline`, `waiting`, `ringing`, `busy`, `wrapup` or `busyout` (paused everywhere).
    pub status: String,
    /// Epoch seconds of the last change known (0: unknown).
    pub last_change: i64,
    /// Epoch seconds it last refused a queue call at once (0: never seen).
    pub last_congestion: i64,
    /// It needs attention (phone unreachable, pause past its reason's limit).
    pub warning: bool,
}

/// A member of one queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanelMember {
    /// Agent number (or the member name).
    pub agent: String,
    /// Paused in this queue.
    pub paused: bool,
    /// Its status (as for agents, without `offline`).
    pub status: String,
    /// The pause reason's name.
    pub pause_type: String,
}

/// A call in a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanelCall {
    /// `in`.
    pub kind: String,
    /// Caller number.
    pub callerid: String,
    /// Caller name.
    pub calleridname: String,
    /// Epoch seconds connected to an agent (empty while waiting).
    pub connecttime: String,
    /// Epoch seconds it entered the queue (empty when unknown).
    pub intime: String,
    /// The caller's uniqueid.
    pub uniqueid: String,
    /// The agent talking to it (`0` while waiting).
    pub agent: String,
}

/// A queue of `statusQueues`.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelQueue {
    /// Queue name.
    pub qname: String,
    /// Description.
    pub name: String,
    /// Callers who abandoned (since Asterisk's counters were reset).
    pub abandoned: u64,
    /// Calls completed.
    pub completed: u64,
    /// Abandoned (the same counter, as eXpand's panel shows both).
    pub counterabn: u64,
    /// Completed within the service level.
    pub counterans: u64,
    /// Calls being talked.
    pub numongoing: u64,
    /// Callers waiting.
    pub numwaiting: u64,
    /// Service level in percent.
    pub ratio: f64,
    /// Members.
    pub members: Vec<PanelMember>,
    /// Calls waiting or talking.
    pub calls: Vec<PanelCall>,
}

/// `statusQueues`' `<panel>`.
pub fn panel_xml(generated: f64, agents: &[PanelAgent], queues: &[PanelQueue]) -> String {
    let mut out = String::from(XML_DECL);
    start(
        &mut out,
        0,
        "panel",
        &[("generated", &format!("{generated:.2}"))],
    );
    start(&mut out, 1, "agents", &[]);
    for a in agents {
        with_text(
            &mut out,
            2,
            "agent",
            &[
                ("lastcongestion", &a.last_congestion.to_string()),
                ("laststatuschange", &a.last_change.to_string()),
                ("name", &a.name),
                ("status", &a.status),
                ("warning", if a.warning { "1" } else { "0" }),
            ],
            &a.number,
        );
    }
    end(&mut out, 1, "agents");
    start(&mut out, 1, "queues", &[]);
    for q in queues {
        start(
            &mut out,
            2,
            "queue",
            &[("qname", &q.qname), ("name", &q.name)],
        );
        start(&mut out, 3, "qstatus", &[]);
        for (name, value) in [
            ("abandoned", q.abandoned.to_string()),
            ("completed", q.completed.to_string()),
            ("counterabn", q.counterabn.to_string()),
            ("counterans", q.counterans.to_string()),
            ("numongoing", q.numongoing.to_string()),
            ("numwaiting", q.numwaiting.to_string()),
            ("ratio", decimal((q.ratio * 100.0).round() / 100.0)),
        ] {
            with_text(&mut out, 4, name, &[], &value);
        }
        end(&mut out, 3, "qstatus");
        start(&mut out, 3, "qagents", &[]);
        for m in &q.members {
            with_text(
                &mut out,
                4,
                "qagent",
                &[
                    ("logged", "true"),
                    ("paused", bool_text(m.paused)),
                    ("status", &m.status),
                    ("pausetype", &m.pause_type),
                ],
                &m.agent,
            );
        }
        end(&mut out, 3, "qagents");
        start(&mut out, 3, "qcalls", &[]);
        for c in &q.calls {
            with_text(
                &mut out,
                4,
                "call",
                &[
                    ("type", &c.kind),
                    ("callerid", &c.callerid),
                    ("calleridname", &c.calleridname),
                    ("connecttime", &c.connecttime),
                    ("intime", &c.intime),
                    ("uniqueid", &c.uniqueid),
                ],
                &c.agent,
            );
        }
        end(&mut out, 3, "qcalls");
        end(&mut out, 2, "queue");
    }
    end(&mut out, 1, "queues");
    end(&mut out, 0, "panel");
    out
}

/// One `queueData` activity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    /// When.
    pub time: UnixTime,
    /// Queue.
    pub queue: String,
    /// Caller uniqueid or `NONE`.
    pub uniqueid: String,
    /// eXpand's action name.
    pub action: String,
    /// Caller id (`ENTERQUEUE`).
    pub callerid: String,
    /// Agent.
    pub agent: String,
    /// Wait seconds.
    pub waitsec: String,
    /// Talk seconds.
    pub talksec: String,
    /// Transfer or dial destination.
    pub dest: String,
    /// Pause reason.
    pub cause: String,
}

/// `queueData`'s `<queue_activity>`.
pub fn queue_activity_xml(list: &[Activity], tz: &TimeZone) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "queue_activity", &[]);
    for a in list {
        empty(
            &mut out,
            1,
            "activity",
            &[
                ("date", &format_date(a.time, tz)),
                ("queue", &a.queue),
                ("uniqueid", &a.uniqueid),
                ("action", &a.action),
                ("callerid", &a.callerid),
                ("agent", &a.agent),
                ("waitsec", &a.waitsec),
                ("talksec", &a.talksec),
                ("dest", &a.dest),
                ("cause", &a.cause),
            ],
        );
    }
    end(&mut out, 0, "queue_activity");
    out
}

/// One `agentData` line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentTotals {
    /// `(number) Full Name`.
    pub agente: String,
    /// Seconds logged in.
    pub logged: i64,
    /// Seconds paused.
    pub paused: i64,
    /// Average handling time of answered queue calls.
    pub average: f64,
    /// Seconds talking on queue calls.
    pub talked: i64,
    /// Seconds talking on outbound calls.
    pub talked_out: i64,
    /// Seconds available.
    pub available: i64,
    /// Queue calls answered.
    pub answered: u64,
    /// Queue calls missed.
    pub missed: u64,
    /// Queue calls presented.
    pub presented: u64,
    /// Outbound calls.
    pub outbound: u64,
    /// Inbound (queue) calls taken.
    pub inbound: u64,
    /// Inbound calls transferred.
    pub transferred: u64,
    /// Short answered calls.
    pub short: u64,
    /// Mean talk over answered queue and outbound calls.
    pub average_all: f64,
}

/// `agentData`'s `<agents>`.
pub fn agent_totals_xml(list: &[AgentTotals]) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "agents", &[]);
    for a in list {
        empty(
            &mut out,
            1,
            "agent",
            &[
                ("agente", &a.agente),
                ("logueado", &hms(a.logged)),
                ("logueadoSeg", &a.logged.to_string()),
                ("pausado", &hms(a.paused)),
                ("pausadoSeg", &a.paused.to_string()),
                ("promedio", &hms(a.average.round() as i64)),
                ("promedioSeg", &decimal(a.average)),
                ("hablado", &hms(a.talked)),
                ("habladoSeg", &a.talked.to_string()),
                ("habladoSaliente", &hms(a.talked_out)),
                ("habladoSalienteSeg", &a.talked_out.to_string()),
                ("disponible", &hms(a.available)),
                ("disponibleSeg", &a.available.to_string()),
                ("atendidas", &a.answered.to_string()),
                ("perdidas", &a.missed.to_string()),
                ("presentadas", &a.presented.to_string()),
                ("salientes", &a.outbound.to_string()),
                ("entrantes", &a.inbound.to_string()),
                ("entrantesTransferidas", &a.transferred.to_string()),
                ("atendidasCortas", &a.short.to_string()),
                ("promedioEntranteYSaliente", &decimal(a.average_all)),
            ],
        );
    }
    end(&mut out, 0, "agents");
    out
}

/// A user as `getAgentLoggedInfo` and `getUserInfo` show it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// Full name.
    pub nombre: String,
    /// Email.
    pub email: String,
    /// Profile.
    pub perfil: String,
    /// Supervisor.
    pub supervisor: bool,
    /// User name.
    pub user: String,
    /// Agent number.
    pub number: String,
    /// The extension it is logged in from.
    pub extension: String,
}

/// `getAgentLoggedInfo`'s `<agentAgent>`.
pub fn agent_logged_xml(u: &UserInfo) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "agentAgent", &[]);
    empty(
        &mut out,
        1,
        "user",
        &[
            ("nombre", &u.nombre),
            ("email", &u.email),
            ("logueado", "1"),
            ("agente", &u.user),
            ("nroAgente", &u.number),
            ("extension", &u.extension),
        ],
    );
    end(&mut out, 0, "agentAgent");
    out
}

/// `getUserInfo`'s `<userInfo>` (every user of the directory is an agent).
pub fn user_info_xml(u: &UserInfo) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "userInfo", &[]);
    empty(
        &mut out,
        1,
        "user",
        &[
            ("nombre", &u.nombre),
            ("email", &u.email),
            ("perfil", &u.perfil),
            ("supervisor", if u.supervisor { "1" } else { "0" }),
            ("agente", "1"),
            ("nroAgente", &u.number),
        ],
    );
    end(&mut out, 0, "userInfo");
    out
}

/// One agent of `getAgentTimes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentTimes {
    /// Number.
    pub number: String,
    /// User name.
    pub user: String,
    /// Full name.
    pub name: String,
    /// Seconds logged in.
    pub logged: i64,
    /// Seconds paused.
    pub paused: i64,
    /// Its queues: name and description.
    pub queues: Vec<(String, String)>,
}

/// `getAgentTimes`' `<agents>`.
pub fn agent_times_xml(list: &[AgentTimes]) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "agents", &[]);
    for a in list {
        start(
            &mut out,
            1,
            "agent",
            &[
                ("agent", &a.number),
                ("user", &a.user),
                ("name", &a.name),
                ("loged", &a.logged.to_string()),
                ("paused", &a.paused.to_string()),
            ],
        );
        for (name, description) in &a.queues {
            empty(
                &mut out,
                2,
                "queueagent",
                &[("name", name), ("description", description)],
            );
        }
        end(&mut out, 1, "agent");
    }
    end(&mut out, 0, "agents");
    out
}

/// One pause of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPause {
    /// Reason name.
    pub kind: String,
    /// Start.
    pub start: UnixTime,
    /// End.
    pub end: UnixTime,
}

/// One session in one queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSession {
    /// Start.
    pub start: UnixTime,
    /// End (the report's end when still open).
    pub end: UnixTime,
    /// Its pauses.
    pub pauses: Vec<SessionPause>,
}

/// One queue of an agent's `agentSessionDetail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueDetail {
    /// Queue.
    pub queue: String,
    /// Seconds logged in.
    pub logged: i64,
    /// Seconds paused.
    pub paused: i64,
    /// Seconds per pause reason name.
    pub pauses: Vec<(String, i64)>,
    /// Sessions.
    pub sessions: Vec<QueueSession>,
}

/// One agent of `agentSessionDetail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentDetail {
    /// User name.
    pub user: String,
    /// Number.
    pub number: String,
    /// Per queue.
    pub queues: Vec<QueueDetail>,
}

/// `agentSessionDetail`'s `<agents>`.
pub fn session_detail_xml(list: &[AgentDetail], tz: &TimeZone) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "agents", &[]);
    for a in list {
        start(
            &mut out,
            1,
            "agent",
            &[("userID", &a.user), ("agentID", &a.number)],
        );
        for q in &a.queues {
            start(
                &mut out,
                2,
                "queue",
                &[
                    ("queuename", &q.queue),
                    ("logged", &q.logged.to_string()),
                    ("paused", &q.paused.to_string()),
                ],
            );
            start(&mut out, 3, "pauses", &[]);
            for (kind, secs) in &q.pauses {
                empty(
                    &mut out,
                    4,
                    "pause",
                    &[("type", kind), ("duration", &secs.to_string())],
                );
            }
            end(&mut out, 3, "pauses");
            start(&mut out, 3, "sessions", &[]);
            for s in &q.sessions {
                start(
                    &mut out,
                    4,
                    "session",
                    &[
                        ("start", &format_date(s.start, tz)),
                        ("end", &format_date(s.end, tz)),
                        ("duration", &(s.end.0 - s.start.0).to_string()),
                    ],
                );
                for p in &s.pauses {
                    empty(
                        &mut out,
                        5,
                        "pause",
                        &[
                            ("type", &p.kind),
                            ("start", &format_date(p.start, tz)),
                            ("end", &format_date(p.end, tz)),
                            ("duration", &(p.end.0 - p.start.0).to_string()),
                        ],
                    );
                }
                end(&mut out, 4, "session");
            }
            end(&mut out, 3, "sessions");
            end(&mut out, 2, "queue");
        }
        end(&mut out, 1, "agent");
    }
    end(&mut out, 0, "agents");
    out
}

/// A queue of an extension in `getAgentLogin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginQueue {
    /// Queue.
    pub name: String,
    /// Description.
    pub description: String,
    /// Since when the member is logged in (`None`: unknown).
    pub logged_at: Option<UnixTime>,
    /// Paused there.
    pub paused: bool,
    /// The pause reason's name.
    pub pause_type: String,
}

/// The agent of an extension in `getAgentLogin`, with its state (the vendor's second example).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginAgent {
    /// Agent number.
    pub number: String,
    /// User name.
    pub user: String,
    /// Full name.
    pub name: String,
    /// Logged in to some queue.
    pub logged: bool,
    /// Since when (its earliest login in force; `None`: unknown).
    pub logged_at: Option<UnixTime>,
    /// Paused (in every queue it is in).
    pub paused: bool,
    /// That pause's reason name.
    pub pause_type: String,
}

/// One extension of `getAgentLogin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionLogin {
    /// The extension.
    pub number: String,
    /// The agent logged in from it.
    pub agent: Option<LoginAgent>,
    /// The agent's queues.
    pub queues: Vec<LoginQueue>,
}

/// `getAgentLogin`'s `<extensions>`.
pub fn agent_login_xml(list: &[ExtensionLogin], tz: &TimeZone) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "extensions", &[]);
    for e in list {
        start(
            &mut out,
            1,
            "extension",
            &[
                ("number", &e.number),
                ("channelType", "PJSIP"),
                ("channelId", &e.number),
            ],
        );
        if let Some(a) = &e.agent {
            let date = a.logged_at.map(|t| format_date(t, tz)).unwrap_or_default();
            empty(
                &mut out,
                2,
                "agent",
                &[
                    ("number", &a.number),
                    ("user", &a.user),
                    ("name", &a.name),
                    ("is_logged", bool_text(a.logged)),
                    ("logged_date", &date),
                    ("is_paused", bool_text(a.paused)),
                    ("pause_type", &a.pause_type),
                ],
            );
        }
        for q in &e.queues {
            let date = q.logged_at.map(|t| format_date(t, tz)).unwrap_or_default();
            empty(
                &mut out,
                2,
                "queue",
                &[
                    ("name", &q.name),
                    ("description", &q.description),
                    ("is_logged", "true"),
                    ("logged_date", &date),
                    ("is_paused", bool_text(q.paused)),
                    ("pause_type", &q.pause_type),
                ],
            );
        }
        end(&mut out, 1, "extension");
    }
    end(&mut out, 0, "extensions");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::ChannelName;
    use crate::core::UniqueId;
    use std::time::Duration;

    fn tz() -> TimeZone {
        TimeZone::get("America/Montevideo").unwrap()
    }

    #[test]
    fn dates_are_civil_times_in_the_zone() {
        // Montevideo is UTC-3.
        let t = parse_date("2026-11-22 01:02:03", &tz()).unwrap();
        assert_eq!(t, UnixTime(1_795_320_123));
        assert_eq!(format_date(t, &tz()), "2026-11-22 01:02:03");
        for bad in [
            "",
            "2026-11-22",
            "2026-13-01 00:00:00",
            "2026-11-22T01:02:03",
            "22/11/2026 01:02:03",
            "2026-11-22 25:00:00",
            "2026-02-30 00:00:00",
            "2026-11-22 01:02:03x",
        ] {
            assert_eq!(parse_date(bad, &tz()), None, "{bad}");
        }
    }

    #[test]
    fn durations_lists_and_numbers() {
        assert_eq!(hms(25840), "07h 10' 40''");
        assert_eq!(hms(0), "00h 00' 00''");
        assert_eq!(hms(360_000), "100h 00' 00''");
        assert_eq!(split_list("q_a, q_b q_c,,"), ["q_a", "q_b", "q_c"]);
        assert!(split_list("").is_empty());
        assert_eq!(split_list_max("a b,c", 3).unwrap(), ["a", "b", "c"]);
        assert_eq!(split_list_max("a b,c,d", 3), None);
        assert_eq!(decimal(159.769230769), "159.769231");
        assert_eq!(decimal(12.0), "12");
        assert_eq!(decimal(f64::NAN), "0");
    }

    fn cdr() -> CdrRecord {
        CdrRecord {
            source_rowid: 7,
            clid: "\"Ana\" <1001>".into(),
            src: "1001".into(),
            dst: "5551020".into(),
            dcontext: "outbound".into(),
            channel: ChannelName::new("PJSIP/1001-00000001"),
            dstchannel: None,
            lastapp: "Dial".into(),
            lastdata: "PJSIP/5551020@carrier".into(),
            duration: Duration::from_secs(25),
            billsec: Duration::from_secs(20),
            disposition: crate::core::journal::Disposition::Answered,
            amaflags: "DOCUMENTATION".into(),
            accountcode: String::new(),
            uniqueid: UniqueId::new("1795320123.5"),
            linkedid: UniqueId::new("1795320123.5"),
            sequence: 1,
            peeraccount: String::new(),
            userfield: String::new(),
            start: UnixTime(1_795_320_123),
            answer: Some(UnixTime(1_795_320_128)),
            end: UnixTime(1_795_320_148),
            recordingfile: String::new(),
            calldata: "cliente=42,caso=7".into(),
        }
    }

    #[test]
    fn cdr_documents_carry_the_documented_attributes() {
        let x = cdr_xml(&[cdr()], &tz());
        assert!(x.starts_with(XML_DECL));
        assert!(
            x.contains(
                "<call uniqueid=\"1795320123.5\" src=\"1001\" dst=\"5551020\" dcontext=\"outbound\" \
                 clid=\"&quot;Ana&quot; &lt;1001&gt;\" channel=\"PJSIP/1001-00000001\" dstchannel=\"\" \
                 lastapp=\"Dial\" lastdata=\"PJSIP/5551020@carrier\" calldate=\"2026-11-22 01:02:03\" \
                 duration=\"25\" billsec=\"20\" disposition=\"ANSWERED\" linkedid=\"1795320123.5\" \
                 callinfo=\"cliente=42,caso=7\"/>"
            ),
            "{x}"
        );
        let c = cdr_custom_xml(&[cdr()], &tz(), "disposition", "calldata:caso");
        assert!(
            c.contains(
                "<call id=\"7\" uniqueid=\"1795320123.5\" src=\"1001\" dnis=\"5551020\" \
                 context=\"outbound\" calldate=\"2026-11-22 01:02:03\" duration=\"25\" \
                 estado=\"ANSWERED\" observaciones=\"7\"/>"
            ),
            "{c}"
        );
        assert_eq!(cdr_field(&cdr(), "calldata:nope"), "");
        assert_eq!(cdr_field(&cdr(), "billsec"), "20");
    }

    #[test]
    fn documents_are_well_formed_and_escaped() {
        let docs = [
            extensions_xml(&[ExtensionInfo {
                extension: "1001".into(),
                channel: "PJSIP/1001".into(),
                callerid_name: "A & B <x>".into(),
            }]),
            recording_xml(1, "1.2", Some("SUQz")),
            recording_xml(0, "1.2", None),
            panel_xml(
                1.5,
                &[PanelAgent {
                    number: "2101".into(),
                    name: "Ana".into(),
                    status: "busyout".into(),
                    last_change: 0,
                    last_congestion: 1275585158,
                    warning: true,
                }],
                &[PanelQueue {
                    qname: "q".into(),
                    name: "Q".into(),
                    abandoned: 1,
                    completed: 2,
                    counterabn: 1,
                    counterans: 2,
                    numongoing: 0,
                    numwaiting: 1,
                    ratio: 66.666,
                    members: vec![PanelMember {
                        agent: "2101".into(),
                        paused: true,
                        status: "waiting".into(),
                        pause_type: "Almuerzo".into(),
                    }],
                    calls: vec![PanelCall {
                        kind: "in".into(),
                        callerid: "099".into(),
                        calleridname: String::new(),
                        connecttime: String::new(),
                        intime: "5".into(),
                        uniqueid: "5.1".into(),
                        agent: "0".into(),
                    }],
                }],
            ),
            agent_totals_xml(&[AgentTotals {
                agente: "(2101) Ana".into(),
                average: 159.5,
                ..AgentTotals::default()
            }]),
            agent_logged_xml(&UserInfo::default()),
            user_info_xml(&UserInfo::default()),
            session_detail_xml(
                &[AgentDetail {
                    user: "ana".into(),
                    number: "2101".into(),
                    queues: vec![QueueDetail {
                        queue: "q".into(),
                        logged: 100,
                        paused: 10,
                        pauses: vec![("Almuerzo".into(), 10)],
                        sessions: vec![QueueSession {
                            start: UnixTime(0),
                            end: UnixTime(100),
                            pauses: vec![SessionPause {
                                kind: "Almuerzo".into(),
                                start: UnixTime(5),
                                end: UnixTime(15),
                            }],
                        }],
                    }],
                }],
                &tz(),
            ),
        ];
        for d in &docs {
            let mut r = quick_xml::Reader::from_str(d);
            let mut depth = 0i32;
            loop {
                match r.read_event().unwrap_or_else(|e| panic!("{e}: {d}")) {
                    quick_xml::events::Event::Start(_) => depth += 1,
                    quick_xml::events::Event::End(_) => depth -= 1,
                    quick_xml::events::Event::Eof => break,
                    _ => {}
                }
            }
            assert_eq!(depth, 0, "{d}");
        }
        assert!(docs[0].contains("calleridName=\"A &amp; B &lt;x&gt;\""));
        assert!(docs[3].contains(
            "<agent lastcongestion=\"1275585158\" laststatuschange=\"0\" name=\"Ana\" \
             status=\"busyout\" warning=\"1\">2101</agent>"
        ));
        assert!(docs[3].contains("<ratio>66.67</ratio>"), "{}", docs[3]);
        assert!(docs[3].contains("pausetype=\"Almuerzo\">2101</qagent>"));
        assert!(docs[4].contains("promedio=\"00h 02' 40''\" promedioSeg=\"159.5\""));
        assert!(docs[7].contains(
            "<pause type=\"Almuerzo\" start=\"1969-12-31 21:00:05\" end=\"1969-12-31 21:00:15\" duration=\"10\"/>"
        ));
    }
}
