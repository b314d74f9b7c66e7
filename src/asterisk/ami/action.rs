//! Typed AMI actions: one struct per action the engine sends, each validated when it is built.
//!
//! An action that exists is safe to send: no value holds CR, LF or NUL (which would let a value
//! inject further AMI lines), and channels, interfaces, queues, contexts and extensions are
//! restricted to the alphabet each needs, so dial-string tricks (`&`, `,`, `${...}`) cannot ride
//! in. The client adds the `ActionID`; an action never carries one itself.
//!
//! There are no actions of the classes the engine's AMI user does not have
//! (asterisk-config/manager.conf): no `Command` (`command`; versions come from
//! [`CoreSettings`]), no `DBPut`/`DBDel`, `PJSIPShowEndpoints`/`PJSIPShowContacts` (`system`;
//! endpoints are read with [`PjsipGetvar`]) and no `GetConfig` (`system` or `config`).

use std::time::Duration;

use crate::core::{ChannelName, Secret, UniqueId};

use super::message::AmiMessage;

/// Something that can be sent to Asterisk: it renders to an [`AmiMessage`] without `ActionID`.
pub trait Action {
    /// The message to send (the client inserts `ActionID` after the `Action` line).
    fn to_message(&self) -> AmiMessage;
}

/// An action whose response is followed by a list of events with the same `ActionID`, ended by
/// an event named `...Complete` (`EventList: Complete`). Use with `AmiClient::send_list`.
pub trait ListAction: Action {}

/// A field value that was refused when building an action.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The value contains CR, LF or NUL.
    #[error("field `{field}` contains CR, LF or NUL")]
    ControlCharacter {
        /// The AMI field name.
        field: &'static str,
    },
    /// The value is empty where a value is required.
    #[error("field `{field}` must not be empty")]
    Empty {
        /// The AMI field name.
        field: &'static str,
    },
    /// The value has a character outside the field's alphabet.
    #[error("field `{field}` contains {found:?}; allowed: {allowed}")]
    Forbidden {
        /// The AMI field name.
        field: &'static str,
        /// The first refused character.
        found: char,
        /// A description of the allowed alphabet.
        allowed: &'static str,
    },
    /// The value is longer than the field allows.
    #[error("field `{field}` is longer than {max} bytes")]
    TooLong {
        /// The AMI field name.
        field: &'static str,
        /// The maximum length in bytes.
        max: usize,
    },
    /// A numeric or structural constraint failed.
    #[error("field `{field}` is invalid: {reason}")]
    Invalid {
        /// The AMI field name.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// Longest identifier-like value (channel, interface, queue, ...).
const MAX_TOKEN: usize = 256;
/// Longest free-text value (caller id, reason, command, data, ...).
const MAX_TEXT: usize = 4096;

/// An allowed alphabet: ASCII letters and digits plus `extra`.
struct Alphabet {
    extra: &'static str,
    describe: &'static str,
}

const CHANNEL: Alphabet = Alphabet {
    extra: "/@._-+:;*#",
    describe: "letters, digits and / @ . _ - + : ; * #",
};
const INTERFACE: Alphabet = Alphabet {
    extra: "/@._-+:",
    describe: "letters, digits and / @ . _ - + :",
};
const EXTEN: Alphabet = Alphabet {
    extra: "*#+_.-",
    describe: "letters, digits and * # + _ . -",
};
const NAME: Alphabet = Alphabet {
    extra: "_-",
    describe: "letters, digits, _ and -",
};
const IDENT: Alphabet = Alphabet {
    extra: "_",
    describe: "letters, digits and _",
};
const UNIQUE_ID: Alphabet = Alphabet {
    extra: "._-",
    describe: "letters, digits and . _ -",
};
const URI: Alphabet = Alphabet {
    extra: ":@._-+/;=",
    describe: "letters, digits and : @ . _ - + / ; =",
};

fn check_control(field: &'static str, value: &str) -> Result<(), ActionError> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(ActionError::ControlCharacter { field });
    }
    Ok(())
}

/// Free text: anything but CR, LF and NUL, at most [`MAX_TEXT`] bytes. May be empty.
fn text(field: &'static str, value: &str) -> Result<String, ActionError> {
    check_control(field, value)?;
    if value.len() > MAX_TEXT {
        return Err(ActionError::TooLong {
            field,
            max: MAX_TEXT,
        });
    }
    Ok(value.to_owned())
}

/// Non-empty free text.
fn required_text(field: &'static str, value: &str) -> Result<String, ActionError> {
    let value = text(field, value)?;
    if value.is_empty() {
        return Err(ActionError::Empty { field });
    }
    Ok(value)
}

/// A non-empty token restricted to `alphabet`.
fn token(field: &'static str, value: &str, alphabet: &Alphabet) -> Result<String, ActionError> {
    check_control(field, value)?;
    if value.is_empty() {
        return Err(ActionError::Empty { field });
    }
    if value.len() > MAX_TOKEN {
        return Err(ActionError::TooLong {
            field,
            max: MAX_TOKEN,
        });
    }
    if let Some(found) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || alphabet.extra.contains(*c)))
    {
        return Err(ActionError::Forbidden {
            field,
            found,
            allowed: alphabet.describe,
        });
    }
    Ok(value.to_owned())
}

fn opt<T>(
    value: Option<&str>,
    f: impl FnOnce(&str) -> Result<T, ActionError>,
) -> Result<Option<T>, ActionError> {
    value.map(f).transpose()
}

fn action(name: &str) -> AmiMessage {
    AmiMessage::new().with("Action", name)
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

macro_rules! simple_action {
    ($(#[$doc:meta])* $name:ident, $wire:literal, list = $list:tt) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl Action for $name {
            fn to_message(&self) -> AmiMessage {
                action($wire)
            }
        }

        simple_action!(@list $name, $list);
    };
    (@list $name:ident, true) => {
        impl ListAction for $name {}
    };
    (@list $name:ident, false) => {};
}

// ---------------------------------------------------------------------------------------------
// Session

/// `Login`: authenticates the session (plain secret) and turns events on.
#[derive(Clone, Debug)]
pub struct Login {
    username: String,
    secret: Secret,
}

impl Login {
    /// Validates the username and secret (no CR/LF/NUL, non-empty).
    pub fn new(username: &str, secret: &Secret) -> Result<Self, ActionError> {
        let username = required_text("Username", username)?;
        required_text("Secret", secret.expose())?;
        Ok(Self {
            username,
            secret: secret.clone(),
        })
    }
}

impl Action for Login {
    fn to_message(&self) -> AmiMessage {
        action("Login")
            .with("Username", &self.username)
            .with("Secret", self.secret.expose())
            .with("Events", "on")
    }
}

simple_action!(
    /// `Logoff`: ends the session; Asterisk answers `Response: Goodbye` and closes.
    Logoff, "Logoff", list = false
);
simple_action!(
    /// `Ping`: keepalive; Asterisk answers `Ping: Pong`.
    Ping, "Ping", list = false
);
simple_action!(
    /// `CoreSettings`: versions and settings (`AsteriskVersion`, `AMIversion`, ...).
    CoreSettings, "CoreSettings", list = false
);
simple_action!(
    /// `CoreShowChannels`: lists active channels (`CoreShowChannel` events).
    CoreShowChannels, "CoreShowChannels", list = true
);
simple_action!(
    /// `DeviceStateList`: lists device states (`DeviceStateChange` events).
    DeviceStateList, "DeviceStateList", list = true
);

// ---------------------------------------------------------------------------------------------
// Calls

/// Where an originated channel goes once answered: a dialplan extension or an application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginateTarget(Target);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Extension {
        context: String,
        exten: String,
        priority: u32,
    },
    Application {
        application: String,
        data: Option<String>,
    },
}

impl OriginateTarget {
    /// Dialplan `context,exten,priority` (context `[A-Za-z0-9_-]`, exten `[0-9A-Za-z*#+_.-]`,
    /// priority ≥ 1).
    pub fn extension(context: &str, exten: &str, priority: u32) -> Result<Self, ActionError> {
        if priority == 0 {
            return Err(ActionError::Invalid {
                field: "Priority",
                reason: "must be at least 1",
            });
        }
        Ok(Self(Target::Extension {
            context: token("Context", context, &NAME)?,
            exten: token("Exten", exten, &EXTEN)?,
            priority,
        }))
    }

    /// An application (`[A-Za-z0-9_]`) with optional data (free text without CR/LF/NUL).
    pub fn application(application: &str, data: Option<&str>) -> Result<Self, ActionError> {
        Ok(Self(Target::Application {
            application: token("Application", application, &IDENT)?,
            data: opt(data, |d| text("Data", d))?,
        }))
    }
}

/// `Originate`: always sent with `Async: true`; the outcome arrives as an `OriginateResponse`
/// event with the same `ActionID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Originate {
    channel: String,
    target: OriginateTarget,
    timeout: Option<Duration>,
    caller_id: Option<String>,
    account: Option<String>,
    channel_id: Option<String>,
    other_channel_id: Option<String>,
    variables: Vec<(String, String)>,
}

impl Originate {
    /// The channel to dial (e.g. `PJSIP/1001`, `Local/1001@agents`; no `&`, `,`, spaces or `$`)
    /// and where it goes once answered.
    pub fn new(channel: &str, target: OriginateTarget) -> Result<Self, ActionError> {
        Ok(Self {
            channel: token("Channel", channel, &CHANNEL)?,
            target,
            timeout: None,
            caller_id: None,
            account: None,
            channel_id: None,
            other_channel_id: None,
            variables: Vec::new(),
        })
    }

    /// How long to wait for the channel to answer (sent in milliseconds).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Caller id, e.g. `"Sales" <1001>`.
    pub fn with_caller_id(mut self, caller_id: &str) -> Result<Self, ActionError> {
        self.caller_id = Some(text("CallerID", caller_id)?);
        Ok(self)
    }

    /// CDR account code.
    pub fn with_account(mut self, account: &str) -> Result<Self, ActionError> {
        self.account = Some(text("Account", account)?);
        Ok(self)
    }

    /// A channel variable, sent as its own `Variable: NAME=value` line. NAME is
    /// `[A-Za-z0-9_]` (leading `_`/`__` for inheritance). The value arrives in the channel
    /// exactly as given: Asterisk splits a `Variable:` value on `,` (honouring quotes, brackets,
    /// parentheses and backslashes), so each of `\ , " ( ) [ ]` is escaped with a backslash;
    /// without that, a comma in a caller's value would set a variable of the caller's choosing.
    /// `${...}` and `$[...]` need no escaping: Asterisk stores the value as text, and the
    /// dialplan only assigns such values or cuts them with `FILTER()` before parsing them
    /// (asterisk-config/README.md, "Outside data is never evaluated").
    pub fn with_variable(mut self, name: &str, value: &str) -> Result<Self, ActionError> {
        let name = token("Variable", name, &IDENT)?;
        let value = escape_variable_value(&text("Variable", value)?);
        self.variables.push((name, value));
        Ok(self)
    }

    /// Pre-assigns the uniqueid of the originated channel (`ChannelId`).
    pub fn with_channel_id(mut self, id: &UniqueId) -> Result<Self, ActionError> {
        self.channel_id = Some(token("ChannelId", id.as_str(), &UNIQUE_ID)?);
        Ok(self)
    }

    /// Pre-assigns the uniqueid of the second channel of a Local pair (`OtherChannelId`).
    pub fn with_other_channel_id(mut self, id: &UniqueId) -> Result<Self, ActionError> {
        self.other_channel_id = Some(token("OtherChannelId", id.as_str(), &UNIQUE_ID)?);
        Ok(self)
    }
}

impl Action for Originate {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("Originate").with("Channel", &self.channel);
        match &self.target.0 {
            Target::Extension {
                context,
                exten,
                priority,
            } => {
                m.push("Context", context);
                m.push("Exten", exten);
                m.push("Priority", priority.to_string());
            }
            Target::Application { application, data } => {
                m.push("Application", application);
                if let Some(data) = data {
                    m.push("Data", data);
                }
            }
        }
        if let Some(timeout) = self.timeout {
            m.push("Timeout", timeout.as_millis().to_string());
        }
        if let Some(caller_id) = &self.caller_id {
            m.push("CallerID", caller_id);
        }
        if let Some(account) = &self.account {
            m.push("Account", account);
        }
        m.push("Async", "true");
        if let Some(id) = &self.channel_id {
            m.push("ChannelId", id);
        }
        if let Some(id) = &self.other_channel_id {
            m.push("OtherChannelId", id);
        }
        for (name, value) in &self.variables {
            m.push("Variable", format!("{name}={value}"));
        }
        m
    }
}

/// `Hangup`: hangs up one channel (exact name; no regular expressions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hangup {
    channel: String,
    cause: Option<u16>,
}

impl Hangup {
    /// The channel to hang up, e.g. `PJSIP/1001-00000001`.
    pub fn new(channel: &ChannelName) -> Result<Self, ActionError> {
        Ok(Self {
            channel: token("Channel", channel.as_str(), &CHANNEL)?,
            cause: None,
        })
    }

    /// The Q.850 hangup cause to report.
    pub fn with_cause(mut self, cause: u16) -> Self {
        self.cause = Some(cause);
        self
    }
}

impl Action for Hangup {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("Hangup").with("Channel", &self.channel);
        if let Some(cause) = self.cause {
            m.push("Cause", cause.to_string());
        }
        m
    }
}

/// `Status`: lists channels (`Status` events), all or one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    channel: Option<String>,
}

impl Status {
    /// All channels, or only `channel`.
    pub fn new(channel: Option<&ChannelName>) -> Result<Self, ActionError> {
        Ok(Self {
            channel: opt(channel.map(ChannelName::as_str), |c| {
                token("Channel", c, &CHANNEL)
            })?,
        })
    }
}

impl Action for Status {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("Status");
        if let Some(channel) = &self.channel {
            m.push("Channel", channel);
        }
        m
    }
}
impl ListAction for Status {}

/// `Getvar`: reads a channel variable (or a global one when no channel is given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Getvar {
    channel: Option<String>,
    variable: String,
}

impl Getvar {
    /// `variable` is a plain variable name `[A-Za-z0-9_]` (dialplan functions are not allowed).
    pub fn new(channel: Option<&ChannelName>, variable: &str) -> Result<Self, ActionError> {
        Ok(Self {
            channel: opt(channel.map(ChannelName::as_str), |c| {
                token("Channel", c, &CHANNEL)
            })?,
            variable: token("Variable", variable, &IDENT)?,
        })
    }
}

impl Action for Getvar {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("Getvar");
        if let Some(channel) = &self.channel {
            m.push("Channel", channel);
        }
        m.with("Variable", &self.variable)
    }
}

/// `Getvar` of one of res_pjsip's dialplan functions on no channel: `PJSIP_ENDPOINT(name,field)`,
/// `PJSIP_AOR(name,field)` or `PJSIP_CONTACT(id,field)`. What the engine learns of endpoints
/// and their contacts without the `system` class (Asterisk registers `PJSIPShowEndpoints` and
/// `PJSIPShowContacts` with it; `Getvar` is `call` or `reporting`). Answered in the response's
/// `Value`; an object that does not exist reads as empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PjsipGetvar {
    variable: String,
}

/// A PJSIP object's name (endpoint, AOR) or a contact's id (`1005@@<hash>`, `1005;@<hash>`):
/// nothing that ends or splits a function's arguments.
const PJSIP_OBJECT: Alphabet = Alphabet {
    extra: "_-.+@;",
    describe: "letters, digits and _ - . + @ ;",
};

const PJSIP_FIELD: Alphabet = Alphabet {
    extra: "_",
    describe: "letters, digits and _",
};

impl PjsipGetvar {
    fn new(function: &str, object: &str, field: &str) -> Result<Self, ActionError> {
        let object = token("Variable", object, &PJSIP_OBJECT)?;
        let field = token("Variable", field, &PJSIP_FIELD)?;
        Ok(Self {
            variable: format!("{function}({object},{field})"),
        })
    }

    /// `PJSIP_ENDPOINT(<endpoint>,<field>)` (`aors`, `dtmf_mode`...).
    pub fn endpoint(endpoint: &str, field: &str) -> Result<Self, ActionError> {
        Self::new("PJSIP_ENDPOINT", endpoint, field)
    }

    /// `PJSIP_AOR(<aor>,<field>)` (`contact`: the ids of its contacts, static and registered).
    pub fn aor(aor: &str, field: &str) -> Result<Self, ActionError> {
        Self::new("PJSIP_AOR", aor, field)
    }

    /// `PJSIP_CONTACT(<contact id>,<field>)` (`uri`, `status`...).
    pub fn contact(id: &str, field: &str) -> Result<Self, ActionError> {
        Self::new("PJSIP_CONTACT", id, field)
    }
}

impl Action for PjsipGetvar {
    fn to_message(&self) -> AmiMessage {
        action("Getvar").with("Variable", &self.variable)
    }
}

/// `Setvar`: sets a channel variable (or a global one when no channel is given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setvar {
    channel: Option<String>,
    variable: String,
    value: String,
}

impl Setvar {
    /// `variable` is `[A-Za-z0-9_]`; `value` is free text without CR/LF/NUL.
    pub fn new(
        channel: Option<&ChannelName>,
        variable: &str,
        value: &str,
    ) -> Result<Self, ActionError> {
        Ok(Self {
            channel: opt(channel.map(ChannelName::as_str), |c| {
                token("Channel", c, &CHANNEL)
            })?,
            variable: token("Variable", variable, &IDENT)?,
            value: text("Value", value)?,
        })
    }
}

impl Action for Setvar {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("Setvar");
        if let Some(channel) = &self.channel {
            m.push("Channel", channel);
        }
        m.with("Variable", &self.variable)
            .with("Value", &self.value)
    }
}

const DB_KEY: Alphabet = Alphabet {
    extra: "_-.+*#/",
    describe: "letters, digits and _ - . + * # /",
};

/// An AstDB family and key (`CF` / `1005`, `CF/sub` / `5551234`): `[A-Za-z0-9_-.+*#/]`.
fn db_path(family: &str, key: Option<&str>) -> Result<(String, Option<String>), ActionError> {
    Ok((
        token("Family", family, &DB_KEY)?,
        opt(key, |k| token("Key", k, &DB_KEY))?,
    ))
}

/// `DBGet`: reads one AstDB value (answered as a `DBGetResponse` event: a list action).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbGet {
    family: String,
    key: String,
}

impl DbGet {
    /// The value at `family`/`key`.
    pub fn new(family: &str, key: &str) -> Result<Self, ActionError> {
        let (family, key) = db_path(family, Some(key))?;
        Ok(Self {
            family,
            key: key.unwrap_or_default(),
        })
    }
}

impl Action for DbGet {
    fn to_message(&self) -> AmiMessage {
        action("DBGet")
            .with("Family", &self.family)
            .with("Key", &self.key)
    }
}
impl ListAction for DbGet {}

/// `DBGetTree`: reads every AstDB value under a family (or one key of it), as `DBGetTreeResponse`
/// events (a list action).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbGetTree {
    family: String,
    key: Option<String>,
}

impl DbGetTree {
    /// Everything under `family` (and `key`, if given).
    pub fn new(family: &str, key: Option<&str>) -> Result<Self, ActionError> {
        let (family, key) = db_path(family, key)?;
        Ok(Self { family, key })
    }
}

impl Action for DbGetTree {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("DBGetTree").with("Family", &self.family);
        if let Some(key) = &self.key {
            m.push("Key", key);
        }
        m
    }
}
impl ListAction for DbGetTree {}

/// `MessageSend`: sends an out-of-call text message (e.g. SIP MESSAGE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageSend {
    to: String,
    from: Option<String>,
    body: String,
}

impl MessageSend {
    /// `to` is a URI such as `pjsip:1001` (letters, digits and `:@._-+/;=`); `from` and `body`
    /// are free text on one line.
    pub fn new(to: &str, from: Option<&str>, body: &str) -> Result<Self, ActionError> {
        Ok(Self {
            to: token("To", to, &URI)?,
            from: opt(from, |f| text("From", f))?,
            body: text("Body", body)?,
        })
    }
}

impl Action for MessageSend {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("MessageSend").with("To", &self.to);
        if let Some(from) = &self.from {
            m.push("From", from);
        }
        m.with("Body", &self.body)
    }
}

// ---------------------------------------------------------------------------------------------
// Queues

/// `QueueAdd`: adds a member (interface) to a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueAdd {
    queue: String,
    interface: String,
    member_name: Option<String>,
    state_interface: Option<String>,
    penalty: Option<u32>,
    paused: bool,
    reason: Option<String>,
}

impl QueueAdd {
    /// Queue `[A-Za-z0-9_-]`; interface such as `PJSIP/1001` or `Local/1001@agents/n`.
    pub fn new(queue: &str, interface: &str) -> Result<Self, ActionError> {
        Ok(Self {
            queue: token("Queue", queue, &NAME)?,
            interface: token("Interface", interface, &INTERFACE)?,
            member_name: None,
            state_interface: None,
            penalty: None,
            paused: false,
            reason: None,
        })
    }

    /// The member's display name.
    pub fn with_member_name(mut self, name: &str) -> Result<Self, ActionError> {
        self.member_name = Some(text("MemberName", name)?);
        Ok(self)
    }

    /// The device whose state drives the member's status (e.g. `PJSIP/1001`, `Custom:agent1`).
    pub fn with_state_interface(mut self, interface: &str) -> Result<Self, ActionError> {
        self.state_interface = Some(token("StateInterface", interface, &INTERFACE)?);
        Ok(self)
    }

    /// The member's penalty.
    pub fn with_penalty(mut self, penalty: u32) -> Self {
        self.penalty = Some(penalty);
        self
    }

    /// Adds the member paused, with an optional reason.
    pub fn with_paused(mut self, paused: bool, reason: Option<&str>) -> Result<Self, ActionError> {
        self.paused = paused;
        self.reason = opt(reason, |r| text("Reason", r))?;
        Ok(self)
    }
}

impl Action for QueueAdd {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("QueueAdd")
            .with("Queue", &self.queue)
            .with("Interface", &self.interface);
        if let Some(penalty) = self.penalty {
            m.push("Penalty", penalty.to_string());
        }
        m.push("Paused", yes_no(self.paused));
        if let Some(reason) = &self.reason {
            m.push("Reason", reason);
        }
        if let Some(name) = &self.member_name {
            m.push("MemberName", name);
        }
        if let Some(state) = &self.state_interface {
            m.push("StateInterface", state);
        }
        m
    }
}

/// `QueueRemove`: removes a member from a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueRemove {
    queue: String,
    interface: String,
}

impl QueueRemove {
    /// Queue `[A-Za-z0-9_-]`; interface as in [`QueueAdd::new`].
    pub fn new(queue: &str, interface: &str) -> Result<Self, ActionError> {
        Ok(Self {
            queue: token("Queue", queue, &NAME)?,
            interface: token("Interface", interface, &INTERFACE)?,
        })
    }
}

impl Action for QueueRemove {
    fn to_message(&self) -> AmiMessage {
        action("QueueRemove")
            .with("Queue", &self.queue)
            .with("Interface", &self.interface)
    }
}

/// `QueuePause`: pauses or unpauses a member in one queue, or in all its queues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuePause {
    queue: Option<String>,
    interface: String,
    paused: bool,
    reason: Option<String>,
}

impl QueuePause {
    /// `queue: None` applies to every queue the interface belongs to.
    pub fn new(
        queue: Option<&str>,
        interface: &str,
        paused: bool,
        reason: Option<&str>,
    ) -> Result<Self, ActionError> {
        Ok(Self {
            queue: opt(queue, |q| token("Queue", q, &NAME))?,
            interface: token("Interface", interface, &INTERFACE)?,
            paused,
            reason: opt(reason, |r| text("Reason", r))?,
        })
    }
}

impl Action for QueuePause {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("QueuePause").with("Interface", &self.interface);
        m.push("Paused", yes_no(self.paused));
        if let Some(queue) = &self.queue {
            m.push("Queue", queue);
        }
        if let Some(reason) = &self.reason {
            m.push("Reason", reason);
        }
        m
    }
}

/// `QueueStatus`: `QueueParams`, `QueueMember` and `QueueEntry` events, then
/// `QueueStatusComplete`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStatus {
    queue: Option<String>,
    member: Option<String>,
}

impl QueueStatus {
    /// Optionally restricted to one queue and/or one member interface.
    pub fn new(queue: Option<&str>, member: Option<&str>) -> Result<Self, ActionError> {
        Ok(Self {
            queue: opt(queue, |q| token("Queue", q, &NAME))?,
            member: opt(member, |m| token("Member", m, &INTERFACE))?,
        })
    }
}

impl Action for QueueStatus {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("QueueStatus");
        if let Some(queue) = &self.queue {
            m.push("Queue", queue);
        }
        if let Some(member) = &self.member {
            m.push("Member", member);
        }
        m
    }
}
impl ListAction for QueueStatus {}

/// `QueueSummary`: one `QueueSummary` event per queue, then `QueueSummaryComplete`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueSummary {
    queue: Option<String>,
}

impl QueueSummary {
    /// All queues, or only `queue`.
    pub fn new(queue: Option<&str>) -> Result<Self, ActionError> {
        Ok(Self {
            queue: opt(queue, |q| token("Queue", q, &NAME))?,
        })
    }
}

impl Action for QueueSummary {
    fn to_message(&self) -> AmiMessage {
        let mut m = action("QueueSummary");
        if let Some(queue) = &self.queue {
            m.push("Queue", queue);
        }
        m
    }
}
impl ListAction for QueueSummary {}

// ---------------------------------------------------------------------------------------------
// Fallback

/// Any other action, for diagnostics and lab helpers. Still validated: action name and keys are
/// `[A-Za-z0-9_-]`, values have no CR/LF/NUL, and `ActionID` is reserved to the client. Usable
/// with both `send` and `send_list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAction {
    message: AmiMessage,
}

impl RawAction {
    /// Builds `Action: name` followed by `fields` in order.
    pub fn new(name: &str, fields: &[(&str, &str)]) -> Result<Self, ActionError> {
        let mut message = action(&token("Action", name, &NAME)?);
        for (key, value) in fields {
            let key = token("RawAction key", key, &NAME)?;
            if key.eq_ignore_ascii_case("ActionID") || key.eq_ignore_ascii_case("Action") {
                return Err(ActionError::Invalid {
                    field: "RawAction key",
                    reason: "Action and ActionID are set by the client",
                });
            }
            message.push(key, text("RawAction value", value)?);
        }
        Ok(Self { message })
    }
}

impl Action for RawAction {
    fn to_message(&self) -> AmiMessage {
        self.message.clone()
    }
}
impl ListAction for RawAction {}

/// A `Variable:` value as Asterisk's manager must receive it to set exactly this value.
fn escape_variable_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '"' | '(' | ')' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::asterisk::ami::codec::AmiCodec;
    use bytes::BytesMut;
    use tokio_util::codec::Encoder;

    fn wire(action: &impl Action) -> String {
        let mut buf = BytesMut::new();
        AmiCodec::new()
            .encode(&action.to_message(), &mut buf)
            .expect("valid action encodes");
        String::from_utf8(buf.to_vec()).expect("utf-8")
    }

    #[test]
    fn astdb_reads_keep_to_their_alphabet() {
        assert_eq!(
            DbGetTree::new("CF", None)
                .unwrap()
                .to_message()
                .get("Family"),
            Some("CF")
        );
        for bad in ["a b", "x\r\nAction: Command", "", "a&b", "$(x)", "a,b"] {
            assert!(DbGet::new(bad, "k").is_err(), "{bad:?}");
            assert!(DbGetTree::new("CF", Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pjsip_functions_are_read_with_getvar() {
        assert_eq!(
            wire(&PjsipGetvar::endpoint("1005", "aors").unwrap()),
            "Action: Getvar\r\nVariable: PJSIP_ENDPOINT(1005,aors)\r\n\r\n"
        );
        assert_eq!(
            PjsipGetvar::contact("1005;@0a1b", "uri")
                .unwrap()
                .to_message()
                .get("Variable"),
            Some("PJSIP_CONTACT(1005;@0a1b,uri)")
        );
        assert_eq!(
            PjsipGetvar::aor("my.trunk", "contact")
                .unwrap()
                .to_message()
                .get("Variable"),
            Some("PJSIP_AOR(my.trunk,contact)")
        );
        // Nothing that closes the function, adds an argument or substitutes.
        for bad in [
            "1005)",
            "1005,uri",
            "${SHELL(x)}",
            "a b",
            "",
            "x\r\nAction: Command",
        ] {
            assert!(PjsipGetvar::endpoint(bad, "aors").is_err(), "{bad:?}");
            assert!(PjsipGetvar::contact(bad, "uri").is_err(), "{bad:?}");
        }
        assert!(PjsipGetvar::endpoint("1005", "aors)").is_err());
        assert!(PjsipGetvar::endpoint("1005", "a-b").is_err());
    }

    fn target() -> OriginateTarget {
        OriginateTarget::extension("from-internal", "1002", 1).unwrap()
    }

    #[test]
    fn valid_originate_encodes_to_expected_lines() {
        let o = Originate::new("PJSIP/1001", target())
            .unwrap()
            .with_timeout(Duration::from_secs(30))
            .with_caller_id("\"Sales\" <1001>")
            .unwrap()
            .with_account("camp-7")
            .unwrap()
            .with_channel_id(&UniqueId::new("job-42.1"))
            .unwrap()
            .with_other_channel_id(&UniqueId::new("job-42.2"))
            .unwrap()
            .with_variable("JOB", "42")
            .unwrap()
            .with_variable("__LIST", "a,b,c")
            .unwrap();
        assert_eq!(
            wire(&o),
            "Action: Originate\r\n\
             Channel: PJSIP/1001\r\n\
             Context: from-internal\r\n\
             Exten: 1002\r\n\
             Priority: 1\r\n\
             Timeout: 30000\r\n\
             CallerID: \"Sales\" <1001>\r\n\
             Account: camp-7\r\n\
             Async: true\r\n\
             ChannelId: job-42.1\r\n\
             OtherChannelId: job-42.2\r\n\
             Variable: JOB=42\r\n\
             Variable: __LIST=a\\,b\\,c\r\n\
             \r\n"
        );
    }

    #[test]
    fn originate_to_application() {
        let t = OriginateTarget::application("Playback", Some("hello-world")).unwrap();
        let o = Originate::new("Local/1001@agents", t).unwrap();
        assert_eq!(
            wire(&o),
            "Action: Originate\r\nChannel: Local/1001@agents\r\nApplication: Playback\r\n\
             Data: hello-world\r\nAsync: true\r\n\r\n"
        );
    }

    #[test]
    fn crlf_and_nul_injection_rejected_everywhere() {
        for bad in ["x\r\nAction: Logoff", "x\nAction: Logoff", "x\rY", "x\0"] {
            let control =
                |r: Result<_, ActionError>| matches!(r, Err(ActionError::ControlCharacter { .. }));
            assert!(
                control(RawAction::new("Ping", &[("Note", bad)]).map(drop)),
                "RawAction {bad:?}"
            );
            assert!(control(Originate::new(bad, target()).map(drop)));
            assert!(control(OriginateTarget::extension(bad, "1", 1).map(drop)));
            assert!(control(OriginateTarget::extension("ctx", bad, 1).map(drop)));
            assert!(control(
                OriginateTarget::application("Playback", Some(bad)).map(drop)
            ));
            let o = || Originate::new("PJSIP/1001", target()).unwrap();
            assert!(control(o().with_caller_id(bad).map(drop)));
            assert!(control(o().with_account(bad).map(drop)));
            assert!(control(o().with_variable("A", bad).map(drop)));
            assert!(control(o().with_variable(bad, "v").map(drop)));
            assert!(control(Hangup::new(&ChannelName::new(bad)).map(drop)));
            assert!(control(QueueAdd::new("q", bad).map(drop)));
            assert!(control(
                QueueAdd::new("q", "PJSIP/1")
                    .unwrap()
                    .with_member_name(bad)
                    .map(drop)
            ));
            assert!(control(
                QueuePause::new(None, "PJSIP/1", true, Some(bad)).map(drop)
            ));
            assert!(control(Setvar::new(None, "X", bad).map(drop)));
            assert!(control(MessageSend::new("pjsip:1001", None, bad).map(drop)));
            assert!(control(Login::new(bad, &Secret::new("s")).map(drop)));
            assert!(control(Login::new("u", &Secret::new(bad)).map(drop)));
            assert!(control(RawAction::new("Ping", &[("X", bad)]).map(drop)));
        }
    }

    #[test]
    fn dial_string_tricks_rejected() {
        for bad in [
            "PJSIP/1001&PJSIP/1002",
            "PJSIP/1001,30",
            "PJSIP/${EVIL}",
            "PJSIP/1001 x",
        ] {
            let err = Originate::new(bad, target()).unwrap_err();
            assert!(
                matches!(
                    err,
                    ActionError::Forbidden {
                        field: "Channel",
                        ..
                    }
                ),
                "{bad}: {err:?}"
            );
            assert!(Hangup::new(&ChannelName::new(bad)).is_err(), "{bad}");
            assert!(QueueAdd::new("sales", bad).is_err(), "{bad}");
            assert!(QueuePause::new(None, bad, true, None).is_err(), "{bad}");
        }
        assert_eq!(
            Originate::new("PJSIP/a&b", target()).unwrap_err(),
            ActionError::Forbidden {
                field: "Channel",
                found: '&',
                allowed: CHANNEL.describe
            }
        );
    }

    #[test]
    fn alphabets_per_field() {
        // Accepted.
        assert!(OriginateTarget::extension("from-internal_2", "*72#+1_.-X", 1).is_ok());
        assert!(Hangup::new(&ChannelName::new("Local/1001@agents-00000002;1")).is_ok());
        assert!(QueueAdd::new("sales-1", "Local/1001@agents/n")
            .unwrap()
            .with_state_interface("Custom:agent1001")
            .is_ok());
        assert!(
            MessageSend::new("pjsip:1001", Some("\"Bot\" <sip:bot@x>"), "hola, qué tal").is_ok()
        );
        // Refused.
        let forbidden =
            |r: Result<(), ActionError>| matches!(r, Err(ActionError::Forbidden { .. }));
        assert!(forbidden(
            OriginateTarget::extension("ctx.bad", "1", 1).map(drop)
        ));
        assert!(forbidden(
            OriginateTarget::extension("ctx", "1,2", 1).map(drop)
        ));
        assert!(forbidden(QueueAdd::new("sales/1", "PJSIP/1").map(drop)));
        assert!(forbidden(Getvar::new(None, "SHELL(id)").map(drop)));
        assert!(forbidden(
            OriginateTarget::application("System(rm)", None).map(drop)
        ));
        assert!(forbidden(
            Originate::new("PJSIP/1", target())
                .unwrap()
                .with_variable("A=B", "c")
                .map(drop)
        ));
        // Empty and numeric constraints.
        assert_eq!(
            QueueRemove::new("", "PJSIP/1").unwrap_err(),
            ActionError::Empty { field: "Queue" }
        );
        assert!(matches!(
            OriginateTarget::extension("ctx", "1", 0),
            Err(ActionError::Invalid {
                field: "Priority",
                ..
            })
        ));
        assert!(matches!(
            RawAction::new("Ping", &[("Note", &"x".repeat(MAX_TEXT + 1))]),
            Err(ActionError::TooLong { .. })
        ));
    }

    #[test]
    fn queue_actions_encode() {
        let add = QueueAdd::new("sales", "PJSIP/1001")
            .unwrap()
            .with_member_name("Ana López")
            .unwrap()
            .with_state_interface("PJSIP/1001")
            .unwrap()
            .with_penalty(2)
            .with_paused(true, Some("login"))
            .unwrap();
        assert_eq!(
            wire(&add),
            "Action: QueueAdd\r\nQueue: sales\r\nInterface: PJSIP/1001\r\nPenalty: 2\r\n\
             Paused: true\r\nReason: login\r\nMemberName: Ana López\r\n\
             StateInterface: PJSIP/1001\r\n\r\n"
        );
        let pause = QueuePause::new(None, "PJSIP/1001", false, None).unwrap();
        assert_eq!(
            wire(&pause),
            "Action: QueuePause\r\nInterface: PJSIP/1001\r\nPaused: false\r\n\r\n"
        );
        let status = QueueStatus::new(Some("sales"), None).unwrap();
        assert_eq!(wire(&status), "Action: QueueStatus\r\nQueue: sales\r\n\r\n");
    }

    #[test]
    fn login_debug_hides_secret() {
        let login = Login::new("centralita", &Secret::new("hunter2")).unwrap();
        assert!(!format!("{login:?}").contains("hunter2"));
        assert!(!format!("{:?}", login.to_message()).contains("hunter2"));
        assert!(wire(&login).contains("Secret: hunter2\r\n"));
    }

    #[test]
    fn raw_action_reserves_action_id() {
        assert!(RawAction::new("Ping", &[("ActionID", "x")]).is_err());
        assert_eq!(
            wire(&RawAction::new("QueueReload", &[("Queue", "sales")]).unwrap()),
            "Action: QueueReload\r\nQueue: sales\r\n\r\n"
        );
    }
}
