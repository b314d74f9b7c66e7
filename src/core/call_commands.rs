//! Commands on calls that are not originate jobs or queue membership: hang up a channel, put a
//! supervisor on a call (listen, whisper, barge) and send an out-of-call text message; and the
//! extensions' call forwards as the PBX holds them.
//!
//! [`CallCommands`] is the port; `asterisk::call_commands` implements it over AMI. Every value
//! crosses as a validated newtype or is validated again by the adapter's typed actions.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use super::directory::Extension;
use super::ids::{ChannelName, UniqueId};

/// How a supervisor joins a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpyMode {
    /// Listen only; nobody hears the supervisor.
    Listen,
    /// Listen and speak to the monitored extension only.
    Whisper,
    /// Listen and speak to both parties.
    Barge,
}

/// A live channel and where it is in the dialplan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelPlace {
    /// The channel.
    pub channel: ChannelName,
    /// Its dialplan context.
    pub context: String,
    /// Its extension.
    pub extension: String,
    /// Its uniqueid (`<epoch>.<sequence>`).
    pub uniqueid: String,
}

/// Why a call command failed.
#[derive(Debug, thiserror::Error)]
pub enum CallCommandError {
    /// A value cannot be sent to the PBX (outside its alphabet).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The PBX refused (e.g. no such channel).
    #[error("the PBX refused: {0}")]
    Refused(String),
    /// The PBX could not be reached.
    #[error("the PBX is unreachable")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A boxed future, so that the port can be used as `dyn CallCommands`.
pub type CommandFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, CallCommandError>> + Send + 'a>>;

/// The port to the PBX for call commands.
pub trait CallCommands: Send + Sync {
    /// Hangs up one channel (normal clearing).
    fn hangup<'a>(&'a self, channel: &'a ChannelName) -> CommandFuture<'a, ()>;

    /// Rings `supervisor`'s phone; when answered it joins the call of `target`'s phone in
    /// `mode`. Answers the supervisor channel's uniqueid (pre-assigned, so it can be followed
    /// and hung up).
    fn spy<'a>(
        &'a self,
        supervisor: &'a Extension,
        target: &'a Extension,
        mode: SpyMode,
    ) -> CommandFuture<'a, UniqueId>;

    /// Sends a text message to `to` (a URI of the PBX's message technology, e.g.
    /// `pjsip:carrier/sip:5551234@carrier`), from `from` if given.
    fn send_message<'a>(
        &'a self,
        to: &'a str,
        from: Option<&'a str>,
        body: &'a str,
    ) -> CommandFuture<'a, ()>;

    /// Every live channel with its dialplan place. A PBX adapter that cannot list them answers
    /// [`CallCommandError::Refused`].
    fn channels(&self) -> CommandFuture<'_, Vec<ChannelPlace>> {
        Box::pin(async {
            Err(CallCommandError::Refused(
                "listing channels is not supported".into(),
            ))
        })
    }

    /// Sets the channel variable `name` of `channel` to `value`, verbatim (never evaluated).
    fn set_variable<'a>(
        &'a self,
        _channel: &'a ChannelName,
        _name: &'a str,
        _value: &'a str,
    ) -> CommandFuture<'a, ()> {
        Box::pin(async {
            Err(CallCommandError::Refused(
                "setting variables is not supported".into(),
            ))
        })
    }

    /// The extensions whose calls the PBX forwards, with the number each goes to (extension →
    /// number). A PBX adapter without call forwarding answers [`CallCommandError::Refused`].
    fn forwards(&self) -> CommandFuture<'_, BTreeMap<String, String>> {
        Box::pin(async {
            Err(CallCommandError::Refused(
                "call forwarding is not supported".into(),
            ))
        })
    }
}
