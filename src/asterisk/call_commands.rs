//! [`CallCommands`] over AMI: `Hangup`, an `Originate` of the supervisor's phone into the
//! dialplan's `supervisor` context (`*222`/`*223`/`*224` + extension run `ChanSpy` with `q s`,
//! `q s w`, `q s B`), and `MessageSend`; call forwards read from AstDB (family `CF`); the live
//! channels and their dialplan places (`CoreShowChannels`) and `Setvar` on one of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::core::call_commands::{
    CallCommandError, CallCommands, ChannelPlace, CommandFuture, SpyMode,
};
use crate::core::directory::Extension;
use crate::core::ids::{ChannelName, UniqueId};

use super::ami::action::{
    CoreShowChannels, Hangup, MessageSend, Originate, OriginateTarget, Setvar,
};
use super::ami::{ActionError, AmiClient, AmiError};

/// The dialplan context the supervisor's phone is sent to.
pub const SUPERVISOR_CONTEXT: &str = "supervisor";

/// How long the supervisor's phone rings before the spy attempt is given up.
const SPY_RING: Duration = Duration::from_secs(30);

/// The AMI implementation of [`CallCommands`].
#[derive(Clone)]
pub struct AmiCallCommands {
    client: AmiClient,
    seq: std::sync::Arc<AtomicU64>,
}

impl AmiCallCommands {
    /// Commands sent through `client`.
    pub fn new(client: AmiClient) -> Self {
        Self {
            client,
            seq: std::sync::Arc::new(AtomicU64::new(0)),
        }
    }

    fn next_spy_id(&self) -> UniqueId {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UniqueId::new(format!("spy-{}-{}-{n}", now.as_secs(), now.subsec_micros()))
    }
}

/// The feature code that starts `mode` on `target`'s calls.
pub fn spy_exten(target: &Extension, mode: SpyMode) -> String {
    let code = match mode {
        SpyMode::Listen => "*222",
        SpyMode::Whisper => "*223",
        SpyMode::Barge => "*224",
    };
    format!("{code}{}", target.as_str())
}

fn invalid(e: ActionError) -> CallCommandError {
    CallCommandError::Invalid(match e {
        ActionError::Invalid { field, .. } => field,
        _ => "value",
    })
}

fn ami_error(e: AmiError) -> CallCommandError {
    match e {
        AmiError::ActionFailed { message, .. } => CallCommandError::Refused(message),
        AmiError::InvalidAction(e) => invalid(e),
        other => CallCommandError::Unreachable(Box::new(other)),
    }
}

/// The channels of `CoreShowChannel` events with their dialplan places.
pub fn channel_places(events: &[super::ami::AmiMessage]) -> Vec<ChannelPlace> {
    events
        .iter()
        .filter(|e| {
            e.get("Event")
                .is_some_and(|n| n.eq_ignore_ascii_case("CoreShowChannel"))
        })
        .filter_map(|e| {
            Some(ChannelPlace {
                channel: ChannelName::new(e.get("Channel")?),
                context: e.get("Context").unwrap_or("").to_owned(),
                extension: e.get("Exten").unwrap_or("").to_owned(),
                uniqueid: e.get("Uniqueid").unwrap_or("").to_owned(),
            })
        })
        .collect()
}

impl CallCommands for AmiCallCommands {
    fn channels(&self) -> CommandFuture<'_, Vec<ChannelPlace>> {
        Box::pin(async move {
            let (_, events) = self
                .client
                .send_list(&CoreShowChannels)
                .await
                .map_err(ami_error)?;
            Ok(channel_places(&events))
        })
    }

    fn set_variable<'a>(
        &'a self,
        channel: &'a ChannelName,
        name: &'a str,
        value: &'a str,
    ) -> CommandFuture<'a, ()> {
        Box::pin(async move {
            let action = Setvar::new(Some(channel), name, value).map_err(invalid)?;
            self.client.send(&action).await.map_err(ami_error)?;
            Ok(())
        })
    }

    fn hangup<'a>(&'a self, channel: &'a ChannelName) -> CommandFuture<'a, ()> {
        Box::pin(async move {
            let action = Hangup::new(channel).map_err(invalid)?;
            self.client.send(&action).await.map_err(ami_error)?;
            Ok(())
        })
    }

    fn spy<'a>(
        &'a self,
        supervisor: &'a Extension,
        target: &'a Extension,
        mode: SpyMode,
    ) -> CommandFuture<'a, UniqueId> {
        Box::pin(async move {
            let id = self.next_spy_id();
            let exten = spy_exten(target, mode);
            let action = Originate::new(
                &super::naming::device(supervisor.as_str()),
                OriginateTarget::extension(SUPERVISOR_CONTEXT, &exten, 1).map_err(invalid)?,
            )
            .and_then(|o| o.with_channel_id(&id))
            .and_then(|o| o.with_caller_id(&format!("\"Monitor\" <{}>", target.as_str())))
            .map_err(invalid)?
            .with_timeout(SPY_RING);
            self.client.send(&action).await.map_err(ami_error)?;
            Ok(id)
        })
    }

    fn send_message<'a>(
        &'a self,
        to: &'a str,
        from: Option<&'a str>,
        body: &'a str,
    ) -> CommandFuture<'a, ()> {
        Box::pin(async move {
            let action = MessageSend::new(to, from, body).map_err(invalid)?;
            self.client.send(&action).await.map_err(ami_error)?;
            Ok(())
        })
    }

    fn forwards(&self) -> CommandFuture<'_, std::collections::BTreeMap<String, String>> {
        Box::pin(async move {
            super::astdb::read_forwards(&self.client)
                .await
                .map_err(ami_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spy_codes_follow_the_dialplan() {
        let ext = Extension::new("1005").unwrap();
        assert_eq!(spy_exten(&ext, SpyMode::Listen), "*2221005");
        assert_eq!(spy_exten(&ext, SpyMode::Whisper), "*2231005");
        assert_eq!(spy_exten(&ext, SpyMode::Barge), "*2241005");
    }
}
