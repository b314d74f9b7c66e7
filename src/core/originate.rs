//! Originate jobs: a request to place a call, stored before anything is sent to the PBX, and its
//! state as the PBX reports it.
//!
//! - [`OriginateRequest`]: what to call, validated when built ([`Extension`], [`PhoneNumber`],
//!   [`CallerId`], [`CallData`], [`DirectTarget`]).
//! - [`OriginateJob`] and [`JobState`]: the job and its state, whose values map 1:1 onto eXpand's
//!   `originateCallStatus` codes (see each variant).
//! - [`PbxFact`] and [`apply`]: the pure state machine; the adapter turns Asterisk events into
//!   facts, the service applies them.
//! - The ports: [`CallControl`] (the PBX side) and [`OriginateStore`] (persistence).
//!
//! **Architecture Invariant:** a job is written to the store before its call is sent, so its
//! status can be answered at any time, also after an engine restart. Nothing here knows AMI or
//! SQL.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::directory::TrunkName;
use super::ids::{ChannelName, UniqueId};
use super::journal::UnixTime;
use crate::core::PortError;

pub use super::BoxFuture;

// ---------------------------------------------------------------------------------------------
// Values

/// A value refused when building a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The value is empty or too long.
    #[error("`{field}` must be {min}-{max} characters long")]
    Length {
        /// The request field.
        field: &'static str,
        /// Shortest allowed length.
        min: usize,
        /// Longest allowed length.
        max: usize,
    },
    /// The value holds a character outside the field's alphabet.
    #[error("`{field}` contains {found:?}; allowed: {allowed}")]
    Forbidden {
        /// The request field.
        field: &'static str,
        /// The first refused character.
        found: char,
        /// The allowed alphabet.
        allowed: &'static str,
    },
    /// A numeric or structural constraint failed.
    #[error("`{field}` is invalid: {reason}")]
    Invalid {
        /// The request field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

fn check(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<(), RequestError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(RequestError::Length { field, min, max });
    }
    if let Some(found) = value.chars().find(|c| !ok(*c)) {
        return Err(RequestError::Forbidden {
            field,
            found,
            allowed,
        });
    }
    Ok(())
}

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_string!(
    /// The id of an originate job, chosen by the engine and handed to the caller at once:
    /// 1-64 characters of `[A-Za-z0-9-]` (e.g. `19a2b3c4d5e-5f0e1d2c`).
    OriginateId
);

impl OriginateId {
    /// Validates an id a client sent back.
    pub fn parse(value: &str) -> Result<Self, RequestError> {
        check("originate id", value, 1, 64, "letters, digits and -", |c| {
            c.is_ascii_alphanumeric() || c == '-'
        })?;
        Ok(Self(value.to_owned()))
    }

    /// A fresh id: the creation time in milliseconds and 32 random bits, both in hex. Unique
    /// across restarts and engine replicas (the store's primary key refuses the rare clash).
    pub fn generate() -> Self {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // RandomState is seeded from the OS once per process and varied per instance.
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(now.as_nanos());
        h.write_u32(std::process::id());
        let random = h.finish() as u32;
        Self(format!("{:x}-{random:08x}", now.as_millis()))
    }
}

/// Which channel of a job a pre-assigned uniqueid names. The engine gives every channel it
/// originates the uniqueid `<job id>-<role>` ([`OriginateId::channel_uniqueid`]), so events,
/// CDRs and the live state name the job they belong to; this is the scheme's one definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelRole {
    /// Click-to-call: the source phone's channel (also the one that dials the destination).
    Source,
    /// Direct: the originated half of the Local channel.
    DirectOriginated,
    /// Direct: the half of the Local channel that dials the destination.
    DirectDialing,
    /// Outside source: the half of the Local channel that dials the source number.
    SourceDialing,
}

impl ChannelRole {
    const ALL: [ChannelRole; 4] = [
        ChannelRole::Source,
        ChannelRole::DirectOriginated,
        ChannelRole::DirectDialing,
        ChannelRole::SourceDialing,
    ];

    fn suffix(self) -> &'static str {
        match self {
            ChannelRole::Source => "src",
            ChannelRole::DirectOriginated => "dst",
            ChannelRole::DirectDialing => "dial",
            ChannelRole::SourceDialing => "srcdial",
        }
    }

    /// The job id part and role of a uniqueid of the scheme, unvalidated (`None`: not one).
    pub fn split(uniqueid: &str) -> Option<(&str, ChannelRole)> {
        let (id, suffix) = uniqueid.rsplit_once('-')?;
        let role = Self::ALL.into_iter().find(|r| r.suffix() == suffix)?;
        (!id.is_empty()).then_some((id, role))
    }
}

impl OriginateId {
    /// The uniqueid the engine assigns to this job's channel of `role`: `<id>-<role>`.
    pub fn channel_uniqueid(&self, role: ChannelRole) -> UniqueId {
        UniqueId::new(format!("{self}-{}", role.suffix()))
    }

    /// The job and role a uniqueid names, if it is one the engine assigned.
    pub fn of_channel_uniqueid(uniqueid: &str) -> Option<(OriginateId, ChannelRole)> {
        let (id, role) = ChannelRole::split(uniqueid)?;
        Some((OriginateId::parse(id).ok()?, role))
    }
}

validated_string!(
    /// A phone extension that can be the source of a click-to-call: 2-10 digits.
    Extension
);

impl Extension {
    /// Validates an extension (digits only, 2-10).
    pub fn parse(value: &str) -> Result<Self, RequestError> {
        check("extension", value, 2, 10, "digits", |c| c.is_ascii_digit())?;
        Ok(Self(value.to_owned()))
    }
}

validated_string!(
    /// A number to dial: an extension or a public number, 2-32 digits with an optional leading
    /// `+`. Dialed through the dialplan (and the trunk it chooses), never as a raw dial string.
    PhoneNumber
);

impl PhoneNumber {
    /// Validates a number (`+` only first; no `,`, `&`, spaces or control characters).
    pub fn parse(value: &str) -> Result<Self, RequestError> {
        let digits = value.strip_prefix('+').unwrap_or(value);
        check("number", digits, 2, 32, "digits, and + first", |c| {
            c.is_ascii_digit()
        })?;
        Ok(Self(value.to_owned()))
    }
}

/// Where a direct-mode call is connected once the destination answers: a dialplan
/// context (`[A-Za-z0-9_-]`, 1-80) and extension (`[A-Za-z0-9*#+_.-]`, 1-80).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectTarget {
    context: String,
    exten: String,
}

impl DirectTarget {
    /// Validates both parts.
    pub fn new(context: &str, exten: &str) -> Result<Self, RequestError> {
        check("context", context, 1, 80, "letters, digits, _ and -", |c| {
            c.is_ascii_alphanumeric() || "_-".contains(c)
        })?;
        check(
            "exten",
            exten,
            1,
            80,
            "letters, digits and * # + _ . -",
            |c| c.is_ascii_alphanumeric() || "*#+_.-".contains(c),
        )?;
        Ok(Self {
            context: context.to_owned(),
            exten: exten.to_owned(),
        })
    }

    /// The dialplan context.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The dialplan extension.
    pub fn exten(&self) -> &str {
        &self.exten
    }
}

/// A caller id shown to one party: an optional name (1-64 characters, no control characters and
/// none of `" < > \`) and an optional number (1-32 of `[0-9+*#]`); at least one of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerId {
    name: Option<String>,
    number: Option<String>,
}

impl CallerId {
    /// Validates a caller id.
    pub fn new(name: Option<&str>, number: Option<&str>) -> Result<Self, RequestError> {
        if name.is_none() && number.is_none() {
            return Err(RequestError::Invalid {
                field: "caller id",
                reason: "needs a name or a number",
            });
        }
        if let Some(name) = name {
            check(
                "caller id name",
                name,
                1,
                64,
                "printable characters except \" < > \\",
                |c| !c.is_control() && !"\"<>\\".contains(c),
            )?;
        }
        if let Some(number) = number {
            check("caller id number", number, 1, 32, "digits and + * #", |c| {
                c.is_ascii_digit() || "+*#".contains(c)
            })?;
        }
        Ok(Self {
            name: name.map(str::to_owned),
            number: number.map(str::to_owned),
        })
    }

    /// The name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The number, if any.
    pub fn number(&self) -> Option<&str> {
        self.number.as_deref()
    }
}

/// Free data attached to the call and its CDR (eXpand's `callinfo`): a `key=value` list, or one
/// bare value kept exactly as given (eXpand's own example sends `info="01-43-1"`).
///
/// - A list: keys are `[A-Za-z0-9_.-]` (1-64); values are up to 256 characters without control
///   characters, `,` or `=`; at most 32 pairs; its pairs are readable ([`CallData::pairs`]).
/// - A bare value: any text without control characters that is not such a list; it has no pairs.
///
/// Either way at most 1024 bytes in the rendered form, which is what the CDR's `calldata` holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallData {
    pairs: Vec<(String, String)>,
    /// The text as given, when it is not a `key=value` list.
    bare: Option<String>,
}

impl CallData {
    /// Most pairs.
    pub const MAX_PAIRS: usize = 32;
    /// Most bytes of the rendered form.
    pub const MAX_BYTES: usize = 1024;

    /// Validates the pairs (order kept; a repeated key is refused).
    pub fn new<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Result<Self, RequestError> {
        if pairs.len() > Self::MAX_PAIRS {
            return Err(RequestError::Invalid {
                field: "call data",
                reason: "at most 32 pairs",
            });
        }
        let mut out: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let (k, v) = (k.as_ref(), v.as_ref());
            check(
                "call data key",
                k,
                1,
                64,
                "letters, digits and _ . -",
                |c| c.is_ascii_alphanumeric() || "_.-".contains(c),
            )?;
            check(
                "call data value",
                v,
                0,
                256,
                "printable characters except , and =",
                |c| !c.is_control() && c != ',' && c != '=',
            )?;
            if out.iter().any(|(seen, _)| seen == k) {
                return Err(RequestError::Invalid {
                    field: "call data key",
                    reason: "repeated key",
                });
            }
            out.push((k.to_owned(), v.to_owned()));
        }
        let data = Self {
            pairs: out,
            bare: None,
        };
        if data.render().len() > Self::MAX_BYTES {
            return Err(RequestError::Invalid {
                field: "call data",
                reason: "longer than 1024 bytes",
            });
        }
        Ok(data)
    }

    /// One bare value, kept as given: 1-1024 bytes, no control characters.
    pub fn value(text: &str) -> Result<Self, RequestError> {
        if text.is_empty() || text.len() > Self::MAX_BYTES {
            return Err(RequestError::Length {
                field: "call data",
                min: 1,
                max: Self::MAX_BYTES,
            });
        }
        if let Some(found) = text.chars().find(|c| c.is_control()) {
            return Err(RequestError::Forbidden {
                field: "call data",
                found,
                allowed: "printable characters",
            });
        }
        Ok(Self {
            pairs: Vec::new(),
            bare: Some(text.to_owned()),
        })
    }

    /// Reads eXpand's `callinfo`: `k=v,k=v` is a list; any other text is one bare value, kept
    /// as given; empty text is no data. [`CallData::render`] gives the text back unchanged.
    pub fn parse(text: &str) -> Result<Self, RequestError> {
        if text.is_empty() {
            return Ok(Self::default());
        }
        // Bounded before it is split: a list holds no more bytes than the data may hold.
        if text.len() > Self::MAX_BYTES {
            return Err(RequestError::Invalid {
                field: "call data",
                reason: "too long",
            });
        }
        let pairs: Option<Vec<(&str, &str)>> =
            text.split(',').map(|item| item.split_once('=')).collect();
        if let Some(list) = pairs.and_then(|p| Self::new(&p).ok()) {
            if list.render() == text {
                return Ok(list);
            }
        }
        Self::value(text)
    }

    /// The pairs, in order (none for a bare value).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Whether there is no data.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.bare.is_none()
    }

    /// `k=v,k=v`, or the bare value as given (what the CDR's `calldata` field holds).
    pub fn render(&self) -> String {
        if let Some(text) = &self.bare {
            return text.clone();
        }
        let mut s = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(k);
            s.push('=');
            s.push_str(v);
        }
        s
    }
}

/// How the call is placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginateMode {
    /// Ring the source extension first; when it answers, dial the destination through the
    /// dialplan (and the trunk it chooses) and connect both.
    ClickToCall {
        /// The phone that rings first.
        source: Extension,
    },
    /// Call an outside number first, through the dialplan (and the trunk it chooses), like
    /// any dialed number; when it answers, dial the destination and connect both. eXpand's
    /// `src` is "Extensión o número": a source that is not a phone of the PBX is this.
    OutsideSource {
        /// The number called first.
        source: PhoneNumber,
    },
    /// Dial the destination; when it answers, connect it to a dialplan context/extension
    /// (an IVR, a queue, an agent's extension).
    Direct {
        /// Where the answered destination goes.
        target: DirectTarget,
    },
}

/// Longest accepted ring timeout.
pub const MAX_RING_TIMEOUT: Duration = Duration::from_secs(600);

/// A request to place a call. Every part is validated when built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginateRequest {
    /// Click-to-call or direct.
    pub mode: OriginateMode,
    /// The number dialed.
    pub destination: PhoneNumber,
    /// Caller id shown on the source side (the source phone in click-to-call, the connected
    /// context in direct mode). `None`: the PBX's default.
    pub source_caller_id: Option<CallerId>,
    /// Caller id presented to the destination. `None`: the PBX's default.
    pub destination_caller_id: Option<CallerId>,
    /// How long each party may ring; `None`: the service's default. 1 s to 600 s.
    pub ring_timeout: Option<Duration>,
    /// Data attached to the call and its CDR.
    pub call_data: CallData,
    /// Whether to record the call (`RECORD=yes|no` for the dialplan's `sub-record`); `None`:
    /// the configured recording policy decides alone.
    pub record: Option<bool>,
    /// The trunk the destination is dialed through (`TRUNK` for the dialplan); `None`: the
    /// dialplan's default. Like `record`, used when the call is sent and not kept in the store.
    pub trunk: Option<TrunkName>,
    /// The dialer's answer handling for the dialplan (`DIALER_*`), set only by the engine's
    /// dialer from a validated campaign; like `record`, not kept in the store.
    pub dialer: Option<DialerLeg>,
}

/// What the dialplan's `centralita-dialer` context does once the customer answers (set on the
/// call as `DIALER_AMD`, `DIALER_WAIT`, `DIALER_SAFE_HARBOR`, `DIALER_AGENT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialerLeg {
    /// Answering-machine detection first.
    pub amd: bool,
    /// Seconds a person may wait for an agent (1-10).
    pub wait_s: u8,
    /// The safe-harbor sound (a validated `SoundName`).
    pub safe_harbor: String,
    /// The one agent the call goes to (a contact assigned to an agent), by the queue member's
    /// interface; `None`: the campaign's queue.
    pub agent: Option<AgentInterface>,
}

/// A queue member's interface a dialer call is connected to directly (`PJSIP/1004`,
/// `Local/1004@agents/n`): a technology, `/`, then letters, digits and `-_.@/`, at most 80
/// characters; the dialplan cuts `DIALER_AGENT` to the same alphabet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentInterface(String);

impl AgentInterface {
    /// Validates an interface; `None` when it is not one.
    pub fn parse(s: &str) -> Option<Self> {
        let (tech, rest) = s.split_once('/')?;
        let ok = s.len() <= 80
            && !tech.is_empty()
            && tech.bytes().all(|b| b.is_ascii_alphabetic())
            && !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.@/".contains(&b));
        ok.then(|| Self(s.to_owned()))
    }

    /// The interface.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl OriginateRequest {
    /// A click-to-call from `source` to `destination`, with no caller ids, default timeout and
    /// no call data.
    pub fn click_to_call(source: Extension, destination: PhoneNumber) -> Self {
        Self {
            mode: OriginateMode::ClickToCall { source },
            destination,
            source_caller_id: None,
            destination_caller_id: None,
            ring_timeout: None,
            call_data: CallData::default(),
            record: None,
            trunk: None,
            dialer: None,
        }
    }

    /// A click-to-call from `source`, "an extension or a number": the phone of that name when
    /// `is_phone` says the PBX has one, else an outside number called first (validated as a
    /// number, so it is dialed through the dialplan like any destination).
    pub fn click_to_call_from(
        source: &str,
        destination: PhoneNumber,
        is_phone: impl Fn(&str) -> bool,
    ) -> Result<Self, RequestError> {
        let mode = if is_phone(source) {
            OriginateMode::ClickToCall {
                source: Extension::parse(source)?,
            }
        } else {
            OriginateMode::OutsideSource {
                source: PhoneNumber::parse(source)?,
            }
        };
        Ok(Self {
            mode,
            destination,
            source_caller_id: None,
            destination_caller_id: None,
            ring_timeout: None,
            call_data: CallData::default(),
            record: None,
            trunk: None,
            dialer: None,
        })
    }

    /// A direct call to `destination`, connected to `target` once answered.
    pub fn direct(destination: PhoneNumber, target: DirectTarget) -> Self {
        Self {
            mode: OriginateMode::Direct { target },
            destination,
            source_caller_id: None,
            destination_caller_id: None,
            ring_timeout: None,
            call_data: CallData::default(),
            record: None,
            trunk: None,
            dialer: None,
        }
    }

    /// Sets the ring timeout (1 s to 600 s, whole seconds).
    pub fn with_ring_timeout(mut self, timeout: Duration) -> Result<Self, RequestError> {
        if timeout < Duration::from_secs(1) || timeout > MAX_RING_TIMEOUT {
            return Err(RequestError::Invalid {
                field: "ring timeout",
                reason: "must be 1-600 seconds",
            });
        }
        self.ring_timeout = Some(Duration::from_secs(timeout.as_secs()));
        Ok(self)
    }

    /// Sets the call data.
    pub fn with_call_data(mut self, data: CallData) -> Self {
        self.call_data = data;
        self
    }

    /// Asks for the call to be recorded (or not), within the recording policy.
    pub fn with_record(mut self, record: bool) -> Self {
        self.record = Some(record);
        self
    }

    /// Sets the dialer's answer handling (the engine's dialer only).
    pub fn with_dialer(mut self, leg: DialerLeg) -> Self {
        self.dialer = Some(leg);
        self
    }

    /// Dials the destination through `trunk` instead of the dialplan's default trunk.
    pub fn with_trunk(mut self, trunk: TrunkName) -> Self {
        self.trunk = Some(trunk);
        self
    }

    /// Sets the caller ids of each party.
    pub fn with_caller_ids(mut self, source: Option<CallerId>, dest: Option<CallerId>) -> Self {
        self.source_caller_id = source;
        self.destination_caller_id = dest;
        self
    }
}

// ---------------------------------------------------------------------------------------------
// The job and its state machine

/// The state of a job. Each value is one of eXpand's `originateCallStatus` codes (its code 0,
/// "unknown job", is a lookup that finds nothing; `-1` is an authentication failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    /// eXpand **1 RINGING**: the call is being placed (stored, sent, the source or the destination
    /// ringing, the source answered and the destination being dialed).
    Ringing,
    /// eXpand **2 ANSWER**: the destination answered; the call is up.
    Answered,
    /// eXpand **3 HUNGUP**: the answered call ended normally. Final.
    HungUp,
    /// eXpand **4 BUSY**: the destination was busy. Final.
    Busy,
    /// eXpand **5 NO ANSWER**: nobody answered within the ring timeout (source or destination).
    /// Final.
    NoAnswer,
    /// eXpand **6 CONGESTION / NOTAVAILABLE**: the call could not be placed (congestion, channel
    /// unavailable, number rejected, the PBX refused or never got the request). Final.
    Unavailable,
    /// eXpand **7 OFFHOOK**: the source extension was in use (off hook, busy). Final.
    SourceOffHook,
    /// Cancelled by the client while ringing or up. eXpand has no code of its own for it (its
    /// `originateCallCancel` answers 1 OK); the closest status is **3 HUNGUP**. Final.
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 8] = [
        JobState::Ringing,
        JobState::Answered,
        JobState::HungUp,
        JobState::Busy,
        JobState::NoAnswer,
        JobState::Unavailable,
        JobState::SourceOffHook,
        JobState::Cancelled,
    ];

    /// Whether the job is over (nothing changes its state any more).
    pub fn is_final(self) -> bool {
        !matches!(self, JobState::Ringing | JobState::Answered)
    }

    /// A stable lower-case name (for storage and logs).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Ringing => "ringing",
            JobState::Answered => "answered",
            JobState::HungUp => "hungup",
            JobState::Busy => "busy",
            JobState::NoAnswer => "noanswer",
            JobState::Unavailable => "unavailable",
            JobState::SourceOffHook => "source_offhook",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The inverse of [`JobState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a ringing job got (detail under [`JobState::Ringing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Progress {
    /// Stored; the call is being sent.
    Created,
    /// The source phone rings (click-to-call).
    SourceRinging,
    /// The source answered; the destination is about to be dialed (click-to-call).
    SourceAnswered,
    /// The destination is being dialed.
    DestinationRinging,
}

impl Progress {
    /// A stable name (for storage).
    pub fn as_str(self) -> &'static str {
        match self {
            Progress::Created => "created",
            Progress::SourceRinging => "source_ringing",
            Progress::SourceAnswered => "source_answered",
            Progress::DestinationRinging => "destination_ringing",
        }
    }

    /// The inverse of [`Progress::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Progress::Created,
            Progress::SourceRinging,
            Progress::SourceAnswered,
            Progress::DestinationRinging,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// Why a leg was not answered, in PBX-neutral terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The party was busy.
    Busy,
    /// The party did not answer in time (or hung up / cancelled before answering).
    NoAnswer,
    /// The party refused the call.
    Rejected,
    /// The network or the trunk could not carry the call.
    Congestion,
    /// The channel could not be created (unknown, unreachable or unregistered endpoint).
    Unavailable,
}

impl Failure {
    /// A stable name (for storage).
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Busy => "busy",
            Failure::NoAnswer => "noanswer",
            Failure::Rejected => "rejected",
            Failure::Congestion => "congestion",
            Failure::Unavailable => "unavailable",
        }
    }

    /// The inverse of [`Failure::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Failure::Busy,
            Failure::NoAnswer,
            Failure::Rejected,
            Failure::Congestion,
            Failure::Unavailable,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }

    /// The failure a Q.850 hangup cause stands for, if it stands for one.
    pub fn from_cause(cause: u16) -> Option<Self> {
        Some(match cause {
            17 => Failure::Busy,
            18 | 19 => Failure::NoAnswer,
            21 => Failure::Rejected,
            34 | 38 | 41 | 42 | 44 | 47 => Failure::Congestion,
            1 | 2 | 3 | 20 | 22 | 27 | 28 | 29 | 31 | 58 | 66 | 88 | 102 | 111 | 127 => {
                Failure::Unavailable
            }
            _ => return None,
        })
    }
}

/// Something the PBX reported about one job (the adapter maps Asterisk's events onto these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PbxFact {
    /// A channel of the job exists under this name (kept so the job can be cancelled).
    ChannelCreated(ChannelName),
    /// The source phone rings (click-to-call).
    SourceRinging,
    /// The source phone answered (click-to-call).
    SourceAnswered,
    /// The source phone was not answered (click-to-call; final).
    SourceFailed(Failure),
    /// The source device is in use, so the call was not placed (final).
    SourceInUse,
    /// The destination is being dialed.
    DestinationRinging,
    /// The destination answered.
    DestinationAnswered,
    /// The dial towards the destination ended unanswered. Not final by itself: the hangup
    /// cause that follows is more precise (e.g. rejected vs not answered).
    DialEnded(Failure),
    /// The PBX gave up on the destination (direct mode: the originate failed; final).
    DestinationFailed(Failure),
    /// The job's main channel hung up with this Q.850 cause.
    HungUp {
        /// Q.850 cause (16 normal clearing, 17 busy, 19 no answer, 21 rejected, 34 congestion).
        cause: u16,
    },
    /// The call could not be sent, or the PBX refused it (final).
    NotSent,
    /// The job's Originate is about to be written to the PBX: noted in the job
    /// ([`OriginateJob::sent_at`]) and stored before the write, so a job without it was never
    /// sent. Ignored once the job is final.
    Sending,
    /// After a restart or reconnect, a job never sent ([`OriginateJob::sent_at`] unset): its
    /// call was not placed (final, not [vanished](OriginateJob::vanished)). Ignored by a job
    /// that has been sent meanwhile.
    NeverSent,
    /// After a restart or reconnect the job's channels are gone and how it ended is unknown
    /// (final, [vanished](OriginateJob::vanished)); also a send whose answer was lost with the
    /// connection (it may have reached the PBX).
    Vanished,
    /// The client cancelled the job (final).
    Cancelled,
}

/// One originate job: the request, its state and when things happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginateJob {
    /// The job's id.
    pub id: OriginateId,
    /// What was asked.
    pub request: OriginateRequest,
    /// The ring timeout actually used (the request's, or the service default).
    pub ring_timeout: Duration,
    /// The state (eXpand's status).
    pub state: JobState,
    /// How far a ringing job got.
    pub progress: Progress,
    /// What the dial towards the destination reported, until the hangup settles it.
    pub dial_failure: Option<Failure>,
    /// The Q.850 cause of the main channel's hangup, once known.
    pub hangup_cause: Option<u16>,
    /// The names of the job's channels in the PBX (to cancel it).
    pub channels: Vec<ChannelName>,
    /// When the job was stored.
    pub created_at: UnixTime,
    /// Last state change.
    pub updated_at: UnixTime,
    /// When the source answered (click-to-call).
    pub source_answered_at: Option<UnixTime>,
    /// When the destination answered.
    pub answered_at: Option<UnixTime>,
    /// When the job reached a final state.
    pub ended_at: Option<UnixTime>,
    /// When its Originate was handed to the PBX connection, stored just before the write
    /// ([`PbxFact::Sending`]). `None`: the call was certainly never sent (a stop between the
    /// store and the send, a refused link, a store that failed); `Some`: it may have been
    /// (the write itself may not have happened).
    pub sent_at: Option<UnixTime>,
    /// Whether the job's end was not seen ([`PbxFact::Vanished`]: a resync found none of its
    /// channels, or the connection was lost with its Originate's answer): its final state is a
    /// guess, and the call's CDR says what became of it.
    pub vanished: bool,
}

impl OriginateJob {
    /// A new job, ringing, created `at`; the request's ring timeout is set to `ring_timeout`.
    pub fn new(
        id: OriginateId,
        request: OriginateRequest,
        ring_timeout: Duration,
        at: UnixTime,
    ) -> Self {
        let mut request = request;
        request.ring_timeout = Some(ring_timeout);
        Self {
            id,
            request,
            ring_timeout,
            state: JobState::Ringing,
            progress: Progress::Created,
            dial_failure: None,
            hangup_cause: None,
            channels: Vec::new(),
            created_at: at,
            updated_at: at,
            source_answered_at: None,
            answered_at: None,
            ended_at: None,
            sent_at: None,
            vanished: false,
        }
    }

    /// Whether the job ended without its call ever being sent: final and never marked sent
    /// ([`Self::sent_at`]). Nothing was dialed.
    pub fn never_placed(&self) -> bool {
        self.state.is_final() && self.sent_at.is_none()
    }

    /// Whether a direct job's final state is a guess the call's CDR should settle: it
    /// [vanished](Self::vanished), or it was sent and ended unanswered with neither a dial
    /// status nor a hangup cause saying why. A call followed to its end always shows its dial's
    /// end (answer, busy, no answer, congestion); a job that only saw its channel clear
    /// normally missed its answer and its dial's end (the engine was down, or its connection
    /// lost, meanwhile).
    pub fn end_is_guess(&self) -> bool {
        self.vanished
            || (self.state.is_final()
                && self.sent_at.is_some()
                && self.answered_at.is_none()
                && self.dial_failure.is_none()
                && matches!(self.state, JobState::NoAnswer | JobState::Unavailable)
                && self
                    .hangup_cause
                    .is_some_and(|c| Failure::from_cause(c).is_none()))
    }

    /// Whether the source is still to answer (click-to-call, from a phone or an outside
    /// number, before the source answered).
    fn in_source_phase(&self) -> bool {
        matches!(
            self.request.mode,
            OriginateMode::ClickToCall { .. } | OriginateMode::OutsideSource { .. }
        ) && self.source_answered_at.is_none()
    }

    fn finish(mut self, state: JobState, at: UnixTime) -> Self {
        self.state = state;
        self.updated_at = at;
        self.ended_at = Some(at);
        self
    }

    fn advance(mut self, progress: Progress, at: UnixTime) -> Self {
        if self.state == JobState::Ringing && progress > self.progress {
            self.progress = progress;
            self.updated_at = at;
        }
        self
    }
}

/// The final state a source-leg failure gives (click-to-call, before the source answered).
fn source_failure_state(f: Failure) -> JobState {
    match f {
        Failure::Busy => JobState::SourceOffHook,
        Failure::NoAnswer | Failure::Rejected => JobState::NoAnswer,
        Failure::Congestion | Failure::Unavailable => JobState::Unavailable,
    }
}

/// The final state a destination failure gives. eXpand counts a rejected call as 6.
fn destination_failure_state(f: Failure) -> JobState {
    match f {
        Failure::Busy => JobState::Busy,
        Failure::NoAnswer => JobState::NoAnswer,
        Failure::Rejected | Failure::Congestion | Failure::Unavailable => JobState::Unavailable,
    }
}

/// The state machine: the job after `fact`, observed `at`. Pure. A final job only keeps learning
/// channel names; its state never changes again.
pub fn apply(job: OriginateJob, fact: &PbxFact, at: UnixTime) -> OriginateJob {
    if let PbxFact::ChannelCreated(name) = fact {
        let mut job = job;
        if !job.channels.contains(name) {
            job.channels.push(name.clone());
        }
        return job;
    }
    if job.state.is_final() {
        return job;
    }
    match fact {
        PbxFact::ChannelCreated(_) => job,
        PbxFact::SourceRinging => job.advance(Progress::SourceRinging, at),
        PbxFact::SourceAnswered => {
            if !job.in_source_phase() || job.state != JobState::Ringing {
                return job;
            }
            let mut job = job.advance(Progress::SourceAnswered, at);
            job.source_answered_at = Some(at);
            job.updated_at = at;
            job
        }
        PbxFact::SourceFailed(f) => {
            if job.in_source_phase() {
                job.finish(source_failure_state(*f), at)
            } else {
                job
            }
        }
        PbxFact::SourceInUse => {
            if job.in_source_phase() {
                job.finish(JobState::SourceOffHook, at)
            } else {
                job
            }
        }
        PbxFact::DestinationRinging => job.advance(Progress::DestinationRinging, at),
        PbxFact::DestinationAnswered => {
            if job.state != JobState::Ringing {
                return job;
            }
            let mut job = job.advance(Progress::DestinationRinging, at);
            job.state = JobState::Answered;
            job.answered_at = Some(at);
            job.updated_at = at;
            job
        }
        PbxFact::DialEnded(f) => {
            if job.state != JobState::Ringing || job.dial_failure == Some(*f) {
                return job;
            }
            let mut job = job;
            job.dial_failure = Some(*f);
            job.updated_at = at;
            job
        }
        PbxFact::DestinationFailed(f) => {
            if job.state != JobState::Ringing || job.in_source_phase() {
                return job;
            }
            if *f == Failure::Unavailable && !job.channels.is_empty() {
                // Asterisk answers an originate whose channel exists with the unspecific
                // reason 0 when that channel's far side hung up (a Local channel whose dial
                // timed out): the dial's own status or the channel's hangup cause, both on
                // their way, say what happened.
                let mut job = job;
                job.dial_failure.get_or_insert(Failure::Unavailable);
                job.updated_at = at;
                return job;
            }
            job.finish(destination_failure_state(*f), at)
        }
        PbxFact::HungUp { cause } => {
            let mut job = job;
            job.hangup_cause = Some(*cause);
            let state = match job.state {
                JobState::Answered => JobState::HungUp,
                _ if job.in_source_phase() => {
                    source_failure_state(Failure::from_cause(*cause).unwrap_or(Failure::NoAnswer))
                }
                _ => destination_failure_state(
                    Failure::from_cause(*cause)
                        .or(job.dial_failure)
                        .unwrap_or(Failure::NoAnswer),
                ),
            };
            job.finish(state, at)
        }
        PbxFact::NotSent => job.finish(JobState::Unavailable, at),
        PbxFact::Sending => {
            if job.sent_at.is_some() {
                return job;
            }
            let mut job = job;
            job.sent_at = Some(at);
            job.updated_at = at;
            job
        }
        PbxFact::NeverSent => {
            if job.sent_at.is_some() {
                return job;
            }
            job.finish(JobState::Unavailable, at)
        }
        PbxFact::Vanished => {
            let state = if job.state == JobState::Answered {
                JobState::HungUp
            } else {
                JobState::Unavailable
            };
            let mut job = job.finish(state, at);
            job.vanished = true;
            job
        }
        PbxFact::Cancelled => job.finish(JobState::Cancelled, at),
    }
}

// ---------------------------------------------------------------------------------------------
// Ports

/// A failure of the PBX side.
#[derive(Debug, thiserror::Error)]
pub enum CallControlError {
    /// The PBX refused the request (e.g. an invalid channel, a failed action).
    #[error("the PBX refused the request: {0}")]
    Refused(String),
    /// The PBX could not be reached (connection lost, timeout).
    #[error("the PBX is unreachable")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The PBX side of originate jobs. Implemented by the Asterisk adapter; what the PBX then reports
/// arrives as [`PbxUpdate`]s on the channel the adapter hands to the service.
pub trait CallControl: Send + Sync {
    /// Whether the source extension's device is in use (so a click-to-call must not ring it).
    fn source_in_use<'a>(
        &'a self,
        source: &'a Extension,
    ) -> BoxFuture<'a, Result<bool, CallControlError>>;

    /// Sends the call of a stored job. Returns once the PBX accepted it; progress follows as
    /// facts.
    fn originate<'a>(
        &'a self,
        job: &'a OriginateJob,
    ) -> BoxFuture<'a, Result<(), CallControlError>>;

    /// Hangs up one channel of a job. A channel that is already gone is not an error.
    fn hangup<'a>(
        &'a self,
        channel: &'a ChannelName,
    ) -> BoxFuture<'a, Result<(), CallControlError>>;

    /// Of `jobs`, those that still have a channel in the PBX (resync after a restart or a
    /// reconnect).
    fn live_jobs<'a>(
        &'a self,
        jobs: &'a [OriginateId],
    ) -> BoxFuture<'a, Result<Vec<OriginateId>, CallControlError>>;
}

/// What the adapter reports to the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PbxUpdate {
    /// A fact about one job.
    Fact {
        /// The job.
        job: OriginateId,
        /// What happened.
        fact: PbxFact,
    },
    /// Events may have been missed (reconnect, lag): check the open jobs against the PBX.
    Resync,
}

/// Persistence of originate jobs. Blocking (the service calls it off the async threads).
pub trait OriginateStore: Send + Sync {
    /// Stores a new job; fails if its id exists.
    fn insert(&self, job: &OriginateJob) -> Result<(), PortError>;
    /// Stores the job's current state, progress, channels and timestamps.
    fn update(&self, job: &OriginateJob) -> Result<(), PortError>;
    /// The job, if stored (and not purged).
    fn get(&self, id: &OriginateId) -> Result<Option<OriginateJob>, PortError>;
    /// Jobs not in a final state (to resync after a restart).
    fn open_jobs(&self) -> Result<Vec<OriginateJob>, PortError>;
    /// The id of every stored job.
    fn ids(&self) -> Result<Vec<OriginateId>, PortError>;
    /// Deletes final jobs that ended before `before`; returns their ids.
    fn purge_finished(&self, before: UnixTime) -> Result<Vec<OriginateId>, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobState::{Answered, Busy, NoAnswer, Ringing, SourceOffHook, Unavailable};
    use PbxFact::*;
    const HUNG_UP: JobState = JobState::HungUp;
    const CANCELLED: JobState = JobState::Cancelled;

    #[test]
    fn uniqueids_round_trip() {
        let id = || OriginateId::parse("18f-abc").unwrap();
        for role in [
            ChannelRole::Source,
            ChannelRole::DirectOriginated,
            ChannelRole::DirectDialing,
        ] {
            let uid = id().channel_uniqueid(role);
            assert_eq!(
                OriginateId::of_channel_uniqueid(uid.as_str()),
                Some((id(), role))
            );
        }
        assert_eq!(OriginateId::of_channel_uniqueid("1700000000.42"), None);
        assert_eq!(OriginateId::of_channel_uniqueid("a.b-src"), None);
        assert_eq!(OriginateId::of_channel_uniqueid("-src"), None);
    }

    fn c2c() -> OriginateJob {
        let req = OriginateRequest::click_to_call(
            Extension::parse("1001").unwrap(),
            PhoneNumber::parse("5551004").unwrap(),
        );
        OriginateJob::new(
            OriginateId::parse("t-1").unwrap(),
            req,
            Duration::from_secs(30),
            UnixTime(100),
        )
    }

    fn direct() -> OriginateJob {
        let req = OriginateRequest::direct(
            PhoneNumber::parse("5551004").unwrap(),
            DirectTarget::new("agents", "1001").unwrap(),
        );
        OriginateJob::new(
            OriginateId::parse("t-2").unwrap(),
            req,
            Duration::from_secs(30),
            UnixTime(100),
        )
    }

    /// Applies `facts` one per second and returns the state after each.
    fn run(job: OriginateJob, facts: &[PbxFact]) -> (OriginateJob, Vec<JobState>) {
        let mut job = job;
        let mut states = Vec::new();
        for (i, f) in facts.iter().enumerate() {
            job = apply(job, f, UnixTime(101 + i as i64));
            states.push(job.state);
        }
        (job, states)
    }

    #[test]
    fn a_job_is_marked_sent_before_its_write_and_one_never_sent_ends_not_placed() {
        // Never sent (a stop between the store and the send): not placed, not vanished.
        let (job, states) = run(direct(), &[NeverSent]);
        assert_eq!(states, vec![Unavailable]);
        assert!(job.never_placed() && !job.vanished && job.sent_at.is_none());
        // Sent: a late "never sent" is ignored (the call may ring); no channel found says
        // vanished, and the job was placed.
        let (job, states) = run(direct(), &[Sending, NeverSent, Sending]);
        assert_eq!(states, vec![Ringing, Ringing, Ringing]);
        assert_eq!(job.sent_at, Some(UnixTime(101)), "the first mark is kept");
        let job = apply(job, &Vanished, UnixTime(110));
        assert_eq!(job.state, Unavailable);
        assert!(job.vanished && !job.never_placed());
        // An end that was seen is not vanished; a mark after the end changes nothing.
        let (job, states) = run(
            direct(),
            &[Sending, DestinationRinging, HungUp { cause: 17 }, Sending],
        );
        assert_eq!(states, vec![Ringing, Ringing, Busy, Busy]);
        assert!(!job.vanished && !job.never_placed());
        // Refused before the send (a refused link): never placed.
        let (job, _) = run(direct(), &[NotSent]);
        assert!(job.never_placed() && !job.vanished);
    }

    #[test]
    fn a_direct_job_that_only_saw_a_normal_clearing_has_a_guessed_end() {
        use PbxFact::*;
        let sent = || apply(direct(), &Sending, UnixTime(1));
        let end = |facts: &[PbxFact]| run(sent(), facts).0;
        // Its answer and its dial's end were missed (the engine was down meanwhile).
        let missed = end(&[DestinationRinging, HungUp { cause: 16 }]);
        assert_eq!(missed.state, JobState::NoAnswer);
        assert!(missed.end_is_guess(), "{missed:?}");
        assert!(end(&[HungUp { cause: 0 }]).end_is_guess());
        // Followed to its end: the dial status or the cause says what happened.
        for facts in [
            vec![DialEnded(Failure::NoAnswer), HungUp { cause: 16 }],
            vec![DialEnded(Failure::Busy), HungUp { cause: 16 }],
            vec![HungUp { cause: 17 }],
            vec![HungUp { cause: 19 }],
            vec![DestinationAnswered, HungUp { cause: 16 }],
            vec![DestinationFailed(Failure::NoAnswer)],
            vec![NotSent],
            vec![Cancelled],
        ] {
            let job = end(&facts);
            assert!(
                job.state.is_final() && !job.end_is_guess(),
                "{facts:?}: {job:?}"
            );
        }
        // Never sent: nothing to settle; vanished: always a guess.
        assert!(!run(direct(), &[HungUp { cause: 16 }]).0.end_is_guess());
        assert!(end(&[DestinationAnswered, Vanished]).end_is_guess());
    }

    #[test]
    fn click_to_call_paths() {
        let name = || ChannelCreated(ChannelName::new("PJSIP/1001-00000001"));
        let cases: &[(&str, Vec<PbxFact>, Vec<JobState>)] = &[
            (
                "answered then hung up normally",
                vec![
                    name(),
                    SourceRinging,
                    SourceAnswered,
                    DestinationRinging,
                    DestinationAnswered,
                    HungUp { cause: 16 },
                ],
                vec![Ringing, Ringing, Ringing, Ringing, Answered, HUNG_UP],
            ),
            (
                "destination busy (dial status, then cause 17)",
                vec![
                    SourceAnswered,
                    DestinationRinging,
                    DialEnded(Failure::Busy),
                    HungUp { cause: 17 },
                ],
                vec![Ringing, Ringing, Ringing, Busy],
            ),
            (
                "destination no answer",
                vec![
                    SourceAnswered,
                    DestinationRinging,
                    DialEnded(Failure::NoAnswer),
                    HungUp { cause: 19 },
                ],
                vec![Ringing, Ringing, Ringing, NoAnswer],
            ),
            (
                "destination congestion",
                vec![
                    SourceAnswered,
                    DialEnded(Failure::Congestion),
                    HungUp { cause: 34 },
                ],
                vec![Ringing, Ringing, Unavailable],
            ),
            (
                "destination rejected: NOANSWER dial status, cause 21 wins",
                vec![
                    SourceAnswered,
                    DialEnded(Failure::NoAnswer),
                    HungUp { cause: 21 },
                ],
                vec![Ringing, Ringing, Unavailable],
            ),
            (
                "uninformative cause falls back to the dial status",
                vec![
                    SourceAnswered,
                    DialEnded(Failure::Busy),
                    HungUp { cause: 16 },
                ],
                vec![Ringing, Ringing, Busy],
            ),
            (
                "source does not answer",
                vec![SourceRinging, SourceFailed(Failure::NoAnswer)],
                vec![Ringing, NoAnswer],
            ),
            (
                "source busy is off-hook",
                vec![SourceFailed(Failure::Busy)],
                vec![SourceOffHook],
            ),
            (
                "source in use (device state)",
                vec![SourceInUse, SourceRinging, HungUp { cause: 16 }],
                vec![SourceOffHook, SourceOffHook, SourceOffHook],
            ),
            (
                "source hangs up while ringing: cause decides",
                vec![SourceRinging, HungUp { cause: 17 }],
                vec![Ringing, SourceOffHook],
            ),
            (
                "source unreachable",
                vec![SourceFailed(Failure::Unavailable)],
                vec![Unavailable],
            ),
            (
                "cancel while ringing, later facts ignored",
                vec![
                    SourceRinging,
                    Cancelled,
                    SourceAnswered,
                    HungUp { cause: 16 },
                ],
                vec![Ringing, CANCELLED, CANCELLED, CANCELLED],
            ),
            (
                "cancel while up",
                vec![
                    SourceAnswered,
                    DestinationAnswered,
                    Cancelled,
                    HungUp { cause: 16 },
                ],
                vec![Ringing, Answered, CANCELLED, CANCELLED],
            ),
            (
                "not sent",
                vec![NotSent, SourceAnswered],
                vec![Unavailable, Unavailable],
            ),
            (
                "vanished while up / ringing",
                vec![SourceAnswered, DestinationAnswered, Vanished],
                vec![Ringing, Answered, HUNG_UP],
            ),
            ("vanished while ringing", vec![Vanished], vec![Unavailable]),
            (
                "a late source failure after the source answered is ignored",
                vec![
                    SourceAnswered,
                    SourceFailed(Failure::Busy),
                    DestinationAnswered,
                ],
                vec![Ringing, Ringing, Answered],
            ),
        ];
        for (what, facts, want) in cases {
            let (_, got) = run(c2c(), facts);
            assert_eq!(&got, want, "{what}");
        }
    }

    #[test]
    fn direct_paths() {
        let cases: &[(&str, Vec<PbxFact>, Vec<JobState>)] = &[
            (
                "answered, hung up",
                vec![
                    DestinationRinging,
                    DestinationAnswered,
                    HungUp { cause: 16 },
                ],
                vec![Ringing, Answered, HUNG_UP],
            ),
            (
                "busy from the originate",
                vec![DestinationRinging, DestinationFailed(Failure::Busy)],
                vec![Ringing, Busy],
            ),
            (
                "no answer",
                vec![DestinationFailed(Failure::NoAnswer)],
                vec![NoAnswer],
            ),
            (
                "congestion",
                vec![DestinationFailed(Failure::Congestion)],
                vec![Unavailable],
            ),
            (
                "hangup cause while ringing",
                vec![DialEnded(Failure::Busy), HungUp { cause: 17 }],
                vec![Ringing, Busy],
            ),
            (
                "unavailable with no channel",
                vec![DestinationFailed(Failure::Unavailable)],
                vec![Unavailable],
            ),
            (
                "a channel's unspecific failure waits for the dial's status",
                vec![
                    ChannelCreated(ChannelName::new("Local/555300000@x-1;1")),
                    DestinationFailed(Failure::Unavailable),
                    DialEnded(Failure::NoAnswer),
                    DestinationFailed(Failure::NoAnswer),
                ],
                vec![Ringing, Ringing, Ringing, NoAnswer],
            ),
            (
                "a channel's unspecific failure waits for its hangup cause",
                vec![
                    ChannelCreated(ChannelName::new("Local/555300000@x-1;1")),
                    DestinationFailed(Failure::Unavailable),
                    HungUp { cause: 19 },
                ],
                vec![Ringing, Ringing, NoAnswer],
            ),
            (
                "a channel that could not be reached stays unavailable",
                vec![
                    ChannelCreated(ChannelName::new("Local/555300000@x-1;1")),
                    DestinationFailed(Failure::Unavailable),
                    HungUp { cause: 16 },
                ],
                vec![Ringing, Ringing, Unavailable],
            ),
            (
                "source facts do not apply to a direct job",
                vec![
                    SourceInUse,
                    SourceFailed(Failure::Busy),
                    DestinationAnswered,
                ],
                vec![Ringing, Ringing, Answered],
            ),
        ];
        for (what, facts, want) in cases {
            let (_, got) = run(direct(), facts);
            assert_eq!(&got, want, "{what}");
        }
    }

    #[test]
    fn timestamps_progress_and_channels() {
        let (job, _) = run(
            c2c(),
            &[
                ChannelCreated(ChannelName::new("PJSIP/1001-1")),
                SourceRinging,
                SourceAnswered,
                DestinationRinging,
                DestinationAnswered,
                HungUp { cause: 16 },
                ChannelCreated(ChannelName::new("PJSIP/1001-1")),
                ChannelCreated(ChannelName::new("PJSIP/x-2")),
            ],
        );
        assert_eq!(job.source_answered_at, Some(UnixTime(103)));
        assert_eq!(job.answered_at, Some(UnixTime(105)));
        assert_eq!(job.ended_at, Some(UnixTime(106)));
        assert_eq!(job.updated_at, UnixTime(106));
        assert_eq!(job.hangup_cause, Some(16));
        assert_eq!(job.progress, Progress::DestinationRinging);
        assert_eq!(
            job.channels,
            [
                ChannelName::new("PJSIP/1001-1"),
                ChannelName::new("PJSIP/x-2")
            ]
        );
        // A repeated fact changes nothing (so nothing is written).
        let j = apply(c2c(), &SourceRinging, UnixTime(101));
        assert_eq!(apply(j.clone(), &SourceRinging, UnixTime(150)), j);
    }

    #[test]
    fn names_round_trip() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        assert!(JobState::Cancelled.is_final() && !JobState::Answered.is_final());
        assert_eq!(
            Progress::parse("source_answered"),
            Some(Progress::SourceAnswered)
        );
        assert_eq!(Failure::parse("rejected"), Some(Failure::Rejected));
        assert_eq!(Failure::from_cause(16), None);
    }

    #[test]
    fn validation_refuses_injection() {
        for bad in [
            "1001\r\n",
            "10&01",
            "10,01",
            "10 01",
            "1",
            "12345678901",
            "10a1",
        ] {
            assert!(Extension::parse(bad).is_err(), "extension {bad:?}");
        }
        assert!(Extension::parse("1001").is_ok());
        for bad in [
            "555\r\n1", "555&1", "555,1", "+", "55+51", "5", "555 1", "${X}",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "number {bad:?}");
        }
        assert!(PhoneNumber::parse("+59899123456").is_ok());
        for (k, v) in [
            ("a\r\nb", "v"),
            ("a,b", "v"),
            ("a&b", "v"),
            ("a=b", "v"),
            ("", "v"),
            ("k", "x,y"),
            ("k", "x\ny"),
            ("k", "a=b"),
        ] {
            assert!(CallData::new(&[(k, v)]).is_err(), "call data {k:?}={v:?}");
        }
        assert!(CallData::new(&[("a", "1"), ("a", "2")]).is_err());
        let data =
            CallData::new(&[("campaign", "7"), ("lead.id", "01-43-1"), ("note", "")]).unwrap();
        assert_eq!(data.render(), "campaign=7,lead.id=01-43-1,note=");
        assert_eq!(CallData::parse(&data.render()).unwrap(), data);
        // eXpand's example: a bare value, kept as given (also text that is no valid list).
        for bare in [
            "01-43-1",
            "novalue",
            "a=1,a=2",
            "nota=a=b",
            "${SHELL(id)}",
            "$[1+1]",
        ] {
            let data = CallData::parse(bare).unwrap();
            assert_eq!(data.render(), bare);
            assert!(data.pairs().is_empty(), "{bare}");
            assert_eq!(CallData::parse(&data.render()).unwrap(), data);
        }
        for bad in ["a\r\nb", "x\0", &"x".repeat(1025)] {
            assert!(CallData::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(CallData::parse("a=1,b=2").unwrap().pairs().len(), 2);
        assert!(CallData::new(
            &vec![("k", "v"); 33]
                .iter()
                .enumerate()
                .map(|(i, _)| (format!("k{i}"), "v"))
                .collect::<Vec<_>>()
        )
        .is_err());
        for (name, number) in [
            (Some("a\"b"), None),
            (Some("<x>"), None),
            (Some("a\rb"), None),
            (None, Some("12,3")),
            (None, Some("12a")),
            (None, None),
        ] {
            assert!(CallerId::new(name, number).is_err(), "{name:?} {number:?}");
        }
        assert!(CallerId::new(Some("Juan Pérez"), Some("+5982")).is_ok());
        assert!(DirectTarget::new("ctx,1", "s").is_err());
        assert!(DirectTarget::new("ctx", "s\n").is_err());
        assert!(OriginateId::parse("abc-123").is_ok());
        for bad in ["", "a/b", "a.b", "a b", &"x".repeat(65)] {
            assert!(OriginateId::parse(bad).is_err(), "{bad:?}");
        }
        let req = OriginateRequest::click_to_call(
            Extension::parse("1001").unwrap(),
            PhoneNumber::parse("5551004").unwrap(),
        );
        assert!(req.clone().with_ring_timeout(Duration::ZERO).is_err());
        assert!(req
            .clone()
            .with_ring_timeout(Duration::from_secs(601))
            .is_err());
        assert_eq!(
            req.with_ring_timeout(Duration::from_millis(5500))
                .unwrap()
                .ring_timeout,
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn a_source_that_is_no_phone_is_an_outside_number_called_first() {
        let dst = || PhoneNumber::parse("927126666").unwrap();
        let phones = |s: &str| s == "1001";
        let req = OriginateRequest::click_to_call_from("1001", dst(), phones).unwrap();
        assert_eq!(
            req.mode,
            OriginateMode::ClickToCall {
                source: Extension::parse("1001").unwrap()
            }
        );
        let req = OriginateRequest::click_to_call_from("5551234", dst(), phones).unwrap();
        assert_eq!(
            req.mode,
            OriginateMode::OutsideSource {
                source: PhoneNumber::parse("5551234").unwrap()
            }
        );
        // Not a phone and not a number: refused, never dialed.
        for bad in ["", "1001&x", "${X}", "555 1", "PJSIP/1001"] {
            assert!(
                OriginateRequest::click_to_call_from(bad, dst(), phones).is_err(),
                "{bad:?}"
            );
        }
        // Its source phase ends like a click-to-call's: busy number first is 7, a rejected
        // one 5; answered, then the destination answers and hangs up: 1 → 2 → 3.
        let job = |req: OriginateRequest| {
            OriginateJob::new(
                OriginateId::parse("t-3").unwrap(),
                req,
                Duration::from_secs(30),
                UnixTime(100),
            )
        };
        let outside = || OriginateRequest::click_to_call_from("5551234", dst(), phones).unwrap();
        let (_, states) = run(
            job(outside()),
            &[SourceRinging, SourceFailed(Failure::Busy)],
        );
        assert_eq!(states, [Ringing, SourceOffHook]);
        let (_, states) = run(job(outside()), &[HungUp { cause: 21 }]);
        assert_eq!(states, [NoAnswer]);
        let (_, states) = run(
            job(outside()),
            &[
                SourceRinging,
                SourceAnswered,
                DestinationRinging,
                DestinationAnswered,
                HungUp { cause: 16 },
            ],
        );
        assert_eq!(states, [Ringing, Ringing, Ringing, Answered, HUNG_UP]);
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = OriginateId::generate();
        let b = OriginateId::generate();
        assert_ne!(a, b);
        assert_eq!(OriginateId::parse(a.as_str()).unwrap(), a);
    }
}
