//! ARI's REST resources the engine uses: channels (get, list, answer, hang up, continue in the
//! dialplan, redirect, variables, play, snoop, originate into the app, ring, progress), bridges
//! (mixing: create, add and remove a channel, destroy), playbacks (get, stop) and recordings
//! (record a channel, stop, get a stored one).
//!
//! Ids are newtypes checked at construction ([`ChannelId`], [`BridgeId`], [`PlaybackId`],
//! [`RecordingName`], [`AppName`]), so a hostile id cannot reach a URL; every other value put in
//! a URL goes through [`Query`], which percent-encodes it; media URIs are built by [`Media`] from
//! validated parts only. The wire answers ([`Channel`], [`Bridge`], [`Playback`],
//! [`LiveRecording`], [`StoredRecording`]) keep the fields the engine reads.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{AriClient, AriError};

/// The longest id, name or value accepted in a URL.
pub const MAX_ID: usize = 128;
/// The longest variable value sent.
pub const MAX_VALUE: usize = 1024;
/// The most variables or app arguments in one originate.
pub const MAX_ITEMS: usize = 32;

fn id_chars(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The id if it is 1 to 128 letters, digits, `.`, `_` or `-`.
            pub fn new(s: impl Into<String>) -> Option<Self> {
                let s = s.into();
                id_chars(&s).then_some(Self(s))
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = &'static str;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s).ok_or(concat!("invalid ", $what))
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// A channel's unique id (`1733628000.12`, or one the engine chose at originate).
    ChannelId,
    "channel id"
);
id_newtype!(
    /// A bridge's id.
    BridgeId,
    "bridge id"
);
id_newtype!(
    /// A playback's id (the engine chooses it, so events can be matched to the play).
    PlaybackId,
    "playback id"
);
id_newtype!(
    /// A recording's name (a file name without extension, no folders).
    RecordingName,
    "recording name"
);
id_newtype!(
    /// A Stasis application's name (`centralita-ivr`).
    AppName,
    "application name"
);

/// Percent-encodes `s` for a URL path segment or query value: only RFC 3986's unreserved
/// characters stay as they are (pure).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path with its query, every value percent-encoded.
#[derive(Debug, Default)]
pub struct Query {
    text: String,
    any: bool,
}

impl Query {
    /// `path` (built from validated ids only).
    pub fn path(path: String) -> Self {
        Self {
            text: path,
            any: false,
        }
    }

    /// Adds `key=value`.
    pub fn arg(mut self, key: &'static str, value: &str) -> Self {
        self.text.push(if self.any { '&' } else { '?' });
        self.any = true;
        self.text.push_str(key);
        self.text.push('=');
        self.text.push_str(&percent_encode(value));
        self
    }

    /// Adds `key=value` when there is a value.
    pub fn opt(self, key: &'static str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.arg(key, v),
            None => self,
        }
    }

    /// The path and query.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A channel variable's name: a letter or `_`, then letters, digits and `_` (at most 64); no
/// dialplan function (`CHANNEL(...)`, `SHELL(...)`) can be named.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarName(String);

impl VarName {
    /// The name if it is valid.
    pub fn new(s: impl Into<String>) -> Option<Self> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 64
            && !s.as_bytes()[0].is_ascii_digit()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        ok.then_some(Self(s))
    }

    /// The name's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A variable's value: at most [`MAX_VALUE`] bytes, no control characters.
fn check_value(v: &str) -> Result<(), AriError> {
    if v.len() > MAX_VALUE || v.chars().any(char::is_control) {
        return Err(AriError::Invalid("value"));
    }
    Ok(())
}

/// A dialplan context or extension (letters, digits, `_`, `-`, `+`, `*`, `#`; at most 80).
fn check_dialplan(v: &str, what: &'static str) -> Result<(), AriError> {
    let ok = !v.is_empty()
        && v.len() <= 80
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'*' | b'#'));
    ok.then_some(()).ok_or(AriError::Invalid(what))
}

/// An endpoint to dial (`PJSIP/1005`, `Local/26009000@from-carrier`): a technology of
/// letters, `/`, then letters, digits and `@ . _ - +`.
fn check_endpoint(v: &str) -> Result<(), AriError> {
    let Some((tech, resource)) = v.split_once('/') else {
        return Err(AriError::Invalid("endpoint"));
    };
    let ok = !tech.is_empty()
        && tech.len() <= 16
        && tech.bytes().all(|b| b.is_ascii_alphabetic())
        && !resource.is_empty()
        && resource.len() <= MAX_ID
        && resource
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'@' | b'.' | b'_' | b'-' | b'+'));
    ok.then_some(()).ok_or(AriError::Invalid("endpoint"))
}

/// What to play: each built from validated parts only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Media {
    /// `sound:<name>`: a sound file without extension, folders allowed (`digits/1`,
    /// `custom/welcome`), no `..`.
    Sound(String),
    /// `tone:<name>`: one of the indications (`ring`, `busy`, `congestion`, `dial`, ...).
    Tone(String),
    /// `digits:<digits>`: digits said one by one (`0`-`9`, `*`, `#`).
    Digits(String),
    /// `recording:<name>`: a stored recording.
    Recording(RecordingName),
    /// `sound:<path>`: a file the engine made (a TTS prompt of its cache), by its absolute path
    /// as Asterisk sees it, without extension; the same segments as [`Media::Sound`].
    Prompt(String),
}

/// Whether `path` is 1..=[`MAX_ID`] bytes of segments of letters, digits, `_ - .`, none empty,
/// `.` or `..`.
fn sound_segments(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_ID
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        })
}

impl Media {
    /// The media URI, or why a part is refused (pure).
    pub fn uri(&self) -> Result<String, AriError> {
        match self {
            Media::Sound(name) => {
                let ok = !name.starts_with('/') && sound_segments(name);
                ok.then(|| format!("sound:{name}"))
                    .ok_or(AriError::Invalid("sound"))
            }
            Media::Prompt(path) => {
                let ok = path
                    .strip_prefix('/')
                    .is_some_and(|rest| sound_segments(rest) && path.len() <= MAX_ID);
                ok.then(|| format!("sound:{path}"))
                    .ok_or(AriError::Invalid("prompt"))
            }
            Media::Tone(name) => {
                let ok = !name.is_empty()
                    && name.len() <= 32
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                ok.then(|| format!("tone:{name}"))
                    .ok_or(AriError::Invalid("tone"))
            }
            Media::Digits(d) => {
                let ok = !d.is_empty()
                    && d.len() <= 32
                    && d.bytes()
                        .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
                ok.then(|| format!("digits:{d}"))
                    .ok_or(AriError::Invalid("digits"))
            }
            Media::Recording(name) => Ok(format!("recording:{name}")),
        }
    }
}

/// Why a channel is hung up (ARI's `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HangupReason {
    /// Normal clearing (16).
    Normal,
    /// User busy (17).
    Busy,
    /// Congestion (34).
    Congestion,
    /// No answer (19).
    NoAnswer,
    /// Call rejected (21).
    Rejected,
    /// Unallocated number (1).
    Unallocated,
}

impl HangupReason {
    fn as_str(self) -> &'static str {
        match self {
            HangupReason::Normal => "normal",
            HangupReason::Busy => "busy",
            HangupReason::Congestion => "congestion",
            HangupReason::NoAnswer => "no_answer",
            HangupReason::Rejected => "rejected",
            HangupReason::Unallocated => "unallocated",
        }
    }
}

/// Which audio a snoop channel hears or speaks into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnoopDirection {
    /// Nothing.
    None,
    /// What the channel receives.
    In,
    /// What the channel sends.
    Out,
    /// Both.
    Both,
}

impl SnoopDirection {
    fn as_str(self) -> &'static str {
        match self {
            SnoopDirection::None => "none",
            SnoopDirection::In => "in",
            SnoopDirection::Out => "out",
            SnoopDirection::Both => "both",
        }
    }
}

/// A caller id as ARI shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CallerId {
    /// The name.
    #[serde(default)]
    pub name: String,
    /// The number.
    #[serde(default)]
    pub number: String,
}

/// Where a channel is in the dialplan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct DialplanCep {
    /// The context.
    #[serde(default)]
    pub context: String,
    /// The extension.
    #[serde(default)]
    pub exten: String,
    /// The priority.
    #[serde(default)]
    pub priority: i64,
    /// The application running (`Stasis` while in an app).
    #[serde(default)]
    pub app_name: String,
    /// Its arguments (`centralita-ivr,26009000`).
    #[serde(default)]
    pub app_data: String,
}

/// A channel (the fields the engine reads).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Channel {
    /// The unique id.
    pub id: ChannelId,
    /// The name (`PJSIP/carrier-00000012`).
    #[serde(default)]
    pub name: String,
    /// `Down`, `Ring`, `Ringing`, `Up`, ...
    #[serde(default)]
    pub state: String,
    /// The caller.
    #[serde(default)]
    pub caller: CallerId,
    /// The connected party.
    #[serde(default)]
    pub connected: CallerId,
    /// Where it is in the dialplan.
    #[serde(default)]
    pub dialplan: DialplanCep,
}

impl Channel {
    /// Whether the channel is in the Stasis application `app` (its dialplan application is
    /// `Stasis` and the first argument is `app`).
    pub fn in_app(&self, app: &AppName) -> bool {
        self.dialplan.app_name.eq_ignore_ascii_case("Stasis")
            && self.dialplan.app_data.split(',').next() == Some(app.as_str())
    }
}

/// A bridge.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Bridge {
    /// The id.
    pub id: BridgeId,
    /// `mixing`, `holding`.
    #[serde(default)]
    pub bridge_type: String,
    /// The channels in it.
    #[serde(default)]
    pub channels: Vec<ChannelId>,
}

/// A playback.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Playback {
    /// The id.
    pub id: PlaybackId,
    /// What it plays.
    #[serde(default)]
    pub media_uri: String,
    /// Where (`channel:<id>`).
    #[serde(default)]
    pub target_uri: String,
    /// `queued`, `playing`, `done`, `failed`, ...
    #[serde(default)]
    pub state: String,
}

/// A recording in progress (or just ended).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LiveRecording {
    /// The name.
    pub name: RecordingName,
    /// The format (`wav`).
    #[serde(default)]
    pub format: String,
    /// `queued`, `recording`, `paused`, `done`, `failed`, `canceled`.
    #[serde(default)]
    pub state: String,
    /// Why it failed, if it did.
    #[serde(default)]
    pub cause: Option<String>,
    /// Seconds recorded, once done.
    #[serde(default)]
    pub duration: Option<i64>,
}

/// A stored recording.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct StoredRecording {
    /// The name.
    pub name: RecordingName,
    /// The format.
    #[serde(default)]
    pub format: String,
}

#[derive(Deserialize)]
struct Variable {
    value: String,
}

/// A call to place into the app (`POST /channels`).
#[derive(Clone, Debug)]
pub struct Originate {
    /// What to dial (`PJSIP/1005`, `Local/26009000@from-carrier`).
    pub endpoint: String,
    /// The app it enters once answered.
    pub app: AppName,
    /// The app's arguments (each at most 1024 bytes, no control characters, no `,`).
    pub app_args: Vec<String>,
    /// The id the channel gets (chosen by the engine so it is known before any event).
    pub channel_id: Option<ChannelId>,
    /// The caller id (`"Name" <number>` or a number).
    pub caller_id: Option<String>,
    /// Seconds it may ring.
    pub timeout_secs: Option<u32>,
    /// Channel variables set on it.
    pub variables: BTreeMap<VarName, String>,
}

/// How to record a channel (`POST /channels/{id}/record`).
#[derive(Clone, Debug)]
pub struct Record {
    /// The recording's name.
    pub name: RecordingName,
    /// `wav` (or `gsm`, `ulaw`, ...: letters and digits).
    pub format: String,
    /// The longest it may last (0: no limit).
    pub max_duration_secs: u32,
    /// Silence that ends it (0: none).
    pub max_silence_secs: u32,
    /// Beep before recording.
    pub beep: bool,
    /// The DTMF digit that ends it (`#`, `*`, `any`, `none`).
    pub terminate_on: &'static str,
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AriError> {
    Ok(serde_json::from_slice(body)?)
}

fn channel_path(id: &ChannelId, rest: &str) -> Query {
    Query::path(format!("/channels/{}{rest}", percent_encode(id.as_str())))
}

impl AriClient {
    /// Every channel Asterisk has (`GET /channels`).
    pub async fn channels(&self) -> Result<Vec<Channel>, AriError> {
        json(&self.call("GET", "/channels", None).await?.body)
    }

    /// One channel (`GET /channels/{id}`); `Status(404)` if it is gone.
    pub async fn channel(&self, id: &ChannelId) -> Result<Channel, AriError> {
        let q = channel_path(id, "");
        json(&self.call("GET", q.as_str(), None).await?.body)
    }

    /// Answers a channel.
    pub async fn answer(&self, id: &ChannelId) -> Result<(), AriError> {
        self.call("POST", channel_path(id, "/answer").as_str(), None)
            .await
            .map(drop)
    }

    /// Hangs a channel up with `reason`.
    pub async fn hangup(&self, id: &ChannelId, reason: HangupReason) -> Result<(), AriError> {
        let q = channel_path(id, "").arg("reason", reason.as_str());
        self.call("DELETE", q.as_str(), None).await.map(drop)
    }

    /// Sends a channel out of the app, on in the dialplan at `context,extension,priority`.
    pub async fn continue_in_dialplan(
        &self,
        id: &ChannelId,
        context: &str,
        extension: &str,
        priority: u32,
    ) -> Result<(), AriError> {
        check_dialplan(context, "context")?;
        check_dialplan(extension, "extension")?;
        let q = channel_path(id, "/continue")
            .arg("context", context)
            .arg("extension", extension)
            .arg("priority", &priority.max(1).to_string());
        self.call("POST", q.as_str(), None).await.map(drop)
    }

    /// Redirects a channel to `endpoint` (`PJSIP/1005`).
    pub async fn redirect(&self, id: &ChannelId, endpoint: &str) -> Result<(), AriError> {
        check_endpoint(endpoint)?;
        let q = channel_path(id, "/redirect").arg("endpoint", endpoint);
        self.call("POST", q.as_str(), None).await.map(drop)
    }

    /// Sets a channel variable.
    pub async fn set_variable(
        &self,
        id: &ChannelId,
        name: &VarName,
        value: &str,
    ) -> Result<(), AriError> {
        check_value(value)?;
        let q = channel_path(id, "/variable")
            .arg("variable", name.as_str())
            .arg("value", value);
        self.call("POST", q.as_str(), None).await.map(drop)
    }

    /// Reads a channel variable (`Status(404)` if it is not set).
    pub async fn get_variable(&self, id: &ChannelId, name: &VarName) -> Result<String, AriError> {
        let q = channel_path(id, "/variable").arg("variable", name.as_str());
        let v: Variable = json(&self.call("GET", q.as_str(), None).await?.body)?;
        Ok(v.value)
    }

    /// Plays `media` on a channel as playback `playback` (its events carry that id).
    pub async fn play(
        &self,
        id: &ChannelId,
        playback: &PlaybackId,
        media: &Media,
    ) -> Result<Playback, AriError> {
        let uri = media.uri()?;
        let q = channel_path(id, &format!("/play/{}", percent_encode(playback.as_str())))
            .arg("media", &uri);
        json(&self.call("POST", q.as_str(), None).await?.body)
    }

    /// Starts a snoop channel on `id`, put into `app` with `app_args`.
    pub async fn snoop(
        &self,
        id: &ChannelId,
        app: &AppName,
        spy: SnoopDirection,
        whisper: SnoopDirection,
        snoop_id: Option<&ChannelId>,
        app_args: &str,
    ) -> Result<Channel, AriError> {
        check_value(app_args)?;
        let q = channel_path(id, "/snoop")
            .arg("app", app.as_str())
            .arg("spy", spy.as_str())
            .arg("whisper", whisper.as_str())
            .opt("snoopId", snoop_id.map(ChannelId::as_str))
            .opt("appArgs", (!app_args.is_empty()).then_some(app_args));
        json(&self.call("POST", q.as_str(), None).await?.body)
    }

    /// Places a call that enters the app once answered (`POST /channels`).
    pub async fn originate(&self, o: &Originate) -> Result<Channel, AriError> {
        check_endpoint(&o.endpoint)?;
        if o.app_args.len() > MAX_ITEMS || o.variables.len() > MAX_ITEMS {
            return Err(AriError::Invalid("too many items"));
        }
        for a in &o.app_args {
            check_value(a)?;
            if a.contains(',') {
                return Err(AriError::Invalid("app argument"));
            }
        }
        for v in o.variables.values() {
            check_value(v)?;
        }
        if let Some(c) = &o.caller_id {
            check_value(c)?;
        }
        let args = o.app_args.join(",");
        let timeout = o.timeout_secs.map(|t| t.to_string());
        let q = Query::path("/channels".to_owned())
            .arg("endpoint", &o.endpoint)
            .arg("app", o.app.as_str())
            .opt("appArgs", (!args.is_empty()).then_some(args.as_str()))
            .opt("channelId", o.channel_id.as_ref().map(ChannelId::as_str))
            .opt("callerId", o.caller_id.as_deref())
            .opt("timeout", timeout.as_deref());
        let vars: BTreeMap<&str, &str> = o
            .variables
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = serde_json::json!({ "variables": vars }).to_string();
        json(&self.call("POST", q.as_str(), Some(&body)).await?.body)
    }

    /// Indicates ringing to a channel (`ring` true) or stops it.
    pub async fn ring(&self, id: &ChannelId, ring: bool) -> Result<(), AriError> {
        let method = if ring { "POST" } else { "DELETE" };
        self.call(method, channel_path(id, "/ring").as_str(), None)
            .await
            .map(drop)
    }

    /// Indicates progress (early media) to a channel.
    pub async fn progress(&self, id: &ChannelId) -> Result<(), AriError> {
        self.call("POST", channel_path(id, "/progress").as_str(), None)
            .await
            .map(drop)
    }

    /// Creates a mixing bridge (with the id the engine chose, if any).
    pub async fn create_bridge(&self, id: Option<&BridgeId>) -> Result<Bridge, AriError> {
        let q = Query::path("/bridges".to_owned())
            .arg("type", "mixing")
            .opt("bridgeId", id.map(BridgeId::as_str));
        json(&self.call("POST", q.as_str(), None).await?.body)
    }

    /// Every bridge Asterisk has (`GET /bridges`), to find the app's own after a reconnect.
    pub async fn bridges(&self) -> Result<Vec<Bridge>, AriError> {
        json(&self.call("GET", "/bridges", None).await?.body)
    }

    /// Adds a channel to a bridge.
    pub async fn add_to_bridge(&self, bridge: &BridgeId, ch: &ChannelId) -> Result<(), AriError> {
        let q = Query::path(format!(
            "/bridges/{}/addChannel",
            percent_encode(bridge.as_str())
        ))
        .arg("channel", ch.as_str());
        self.call("POST", q.as_str(), None).await.map(drop)
    }

    /// Removes a channel from a bridge.
    pub async fn remove_from_bridge(
        &self,
        bridge: &BridgeId,
        ch: &ChannelId,
    ) -> Result<(), AriError> {
        let q = Query::path(format!(
            "/bridges/{}/removeChannel",
            percent_encode(bridge.as_str())
        ))
        .arg("channel", ch.as_str());
        self.call("POST", q.as_str(), None).await.map(drop)
    }

    /// Destroys a bridge.
    pub async fn destroy_bridge(&self, bridge: &BridgeId) -> Result<(), AriError> {
        let q = Query::path(format!("/bridges/{}", percent_encode(bridge.as_str())));
        self.call("DELETE", q.as_str(), None).await.map(drop)
    }

    /// One playback (`Status(404)` once it is over).
    pub async fn playback(&self, id: &PlaybackId) -> Result<Playback, AriError> {
        let q = Query::path(format!("/playbacks/{}", percent_encode(id.as_str())));
        json(&self.call("GET", q.as_str(), None).await?.body)
    }

    /// Stops a playback.
    pub async fn stop_playback(&self, id: &PlaybackId) -> Result<(), AriError> {
        let q = Query::path(format!("/playbacks/{}", percent_encode(id.as_str())));
        self.call("DELETE", q.as_str(), None).await.map(drop)
    }

    /// Records a channel (an existing recording of that name is an error: `Status(409)`).
    pub async fn record(&self, id: &ChannelId, r: &Record) -> Result<LiveRecording, AriError> {
        let format_ok = !r.format.is_empty()
            && r.format.len() <= 8
            && r.format.bytes().all(|b| b.is_ascii_alphanumeric());
        if !format_ok {
            return Err(AriError::Invalid("format"));
        }
        if !matches!(r.terminate_on, "none" | "any" | "*" | "#") {
            return Err(AriError::Invalid("terminateOn"));
        }
        let q = channel_path(id, "/record")
            .arg("name", r.name.as_str())
            .arg("format", &r.format)
            .arg("maxDurationSeconds", &r.max_duration_secs.to_string())
            .arg("maxSilenceSeconds", &r.max_silence_secs.to_string())
            .arg("ifExists", "fail")
            .arg("beep", if r.beep { "true" } else { "false" })
            .arg("terminateOn", r.terminate_on);
        json(&self.call("POST", q.as_str(), None).await?.body)
    }

    /// Stops a live recording and keeps it.
    pub async fn stop_recording(&self, name: &RecordingName) -> Result<(), AriError> {
        let q = Query::path(format!(
            "/recordings/live/{}/stop",
            percent_encode(name.as_str())
        ));
        self.call("POST", q.as_str(), None).await.map(drop)
    }

    /// A stored recording.
    pub async fn stored_recording(
        &self,
        name: &RecordingName,
    ) -> Result<StoredRecording, AriError> {
        let q = Query::path(format!(
            "/recordings/stored/{}",
            percent_encode(name.as_str())
        ));
        json(&self.call("GET", q.as_str(), None).await?.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_what_could_change_a_url() {
        assert!(ChannelId::new("1733628000.12").is_some());
        assert!(ChannelId::new("ivr-ab_01").is_some());
        for bad in [
            "",
            "a/b",
            "a b",
            "a?b",
            "a#b",
            "a%2F",
            "..\u{0}",
            &"x".repeat(129),
        ] {
            assert!(ChannelId::new(bad).is_none(), "{bad:?}");
        }
        let e: Result<ChannelId, _> = serde_json::from_str("\"a/../b\"");
        assert!(e.is_err());
        assert!(VarName::new("CTI_INFO1").is_some());
        for bad in ["", "1X", "A(B)", "A B", "A=B"] {
            assert!(VarName::new(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(
            percent_encode("a b&c=d/é?#%"),
            "a%20b%26c%3Dd%2F%C3%A9%3F%23%25"
        );
        let q = Query::path("/channels/1.2/variable".into())
            .arg("variable", "X")
            .arg("value", "1&x=2");
        assert_eq!(
            q.as_str(),
            "/channels/1.2/variable?variable=X&value=1%26x%3D2"
        );
    }

    #[test]
    fn media_uris_come_from_validated_parts() {
        let ok = [
            (Media::Sound("beep".into()), "sound:beep"),
            (Media::Sound("digits/1".into()), "sound:digits/1"),
            (Media::Tone("ring".into()), "tone:ring"),
            (Media::Digits("12*#".into()), "digits:12*#"),
            (
                Media::Recording(RecordingName::new("r1").unwrap()),
                "recording:r1",
            ),
            (
                Media::Prompt("/var/lib/asterisk/sounds/centralita-tts/tts-ab12".into()),
                "sound:/var/lib/asterisk/sounds/centralita-tts/tts-ab12",
            ),
        ];
        for (m, uri) in ok {
            assert_eq!(m.uri().unwrap(), uri);
        }
        for bad in [
            Media::Sound("../etc/passwd".into()),
            Media::Sound("/etc/passwd".into()),
            Media::Sound("a,b".into()),
            Media::Sound("".into()),
            Media::Sound("a//b".into()),
            Media::Prompt("relative/tts".into()),
            Media::Prompt("/var/../etc/passwd".into()),
            Media::Prompt("/".into()),
            Media::Prompt("/a,b".into()),
            Media::Tone("ring,x".into()),
            Media::Tone("1!".into()),
            Media::Digits("12a".into()),
            Media::Digits("".into()),
        ] {
            assert!(matches!(bad.uri(), Err(AriError::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn dialplan_values_and_endpoints_are_checked() {
        assert!(check_dialplan("centralita-ivr", "context").is_ok());
        assert!(check_dialplan("a,b", "context").is_err());
        assert!(check_dialplan("${X}", "extension").is_err());
        assert!(check_endpoint("PJSIP/1005").is_ok());
        assert!(check_endpoint("Local/26009000@from-carrier").is_ok());
        for bad in ["1005", "PJSIP/", "PJSIP/a&b", "PJ SIP/1", "PJSIP/a/b"] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
        assert!(check_value("hola, qué tal").is_ok());
        assert!(check_value("a\nb").is_err());
        assert!(check_value(&"x".repeat(MAX_VALUE + 1)).is_err());
    }

    #[test]
    fn a_channel_in_the_app_is_recognised() {
        let ch: Channel = serde_json::from_str(
            r#"{"id":"1.2","name":"PJSIP/carrier-1","state":"Up","caller":{"name":"","number":"1"},
            "dialplan":{"context":"centralita-ivr","exten":"26009000","priority":1,
            "app_name":"Stasis","app_data":"centralita-ivr,26009000"}}"#,
        )
        .unwrap();
        assert!(ch.in_app(&AppName::new("centralita-ivr").unwrap()));
        assert!(!ch.in_app(&AppName::new("centralita").unwrap()));
    }
}
