//! Data injected into a live call for the dialplan and flows to read (uContact's
//! `admin/CallWorkflow(context, extension, jsonparams)`), once for every vendor.
//!
//! Which call: `context` and `extension` name where the flow runs. The call is the channel the
//! PBX reports at that dialplan place (context and extension, as `CoreShowChannels` lists
//! them); when several calls are there, the newest one (the flow's latest entrant, the one a
//! workflow step that just ran is about). When none is, and `extension` is a phone of the PBX on
//! a call (an agent's phone talking to the customer), that phone's current channel. No call:
//! [`WorkflowError::NoCall`].
//!
//! What is set: each parameter as a channel variable named [`VAR_PREFIX`] + its name (names
//! `[A-Za-z0-9_]{1,32}`, so nothing a request sends can name a dialplan function, an inherited
//! `_`/`__` variable or one of the engine's own variables), its value with control characters
//! removed and at most [`MAX_VALUE`] bytes; at most [`MAX_PARAMS`] parameters. A request with
//! one bad name or one value too long sets nothing. Values are set verbatim, never evaluated:
//! the dialplan reads them as `${WF_name}` data.

use std::sync::PoisonError;

use super::call_commands::{CallCommandError, CallCommands, ChannelPlace};
use super::ids::ChannelName;
use super::live::SharedLive;

/// The prefix of every variable a workflow sets.
pub const VAR_PREFIX: &str = "WF_";
/// Most parameters one request sets.
pub const MAX_PARAMS: usize = 32;
/// Longest parameter name, in bytes.
pub const MAX_NAME: usize = 32;
/// Longest value, in bytes (after control characters are removed).
pub const MAX_VALUE: usize = 1024;

/// Why data was not injected.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The context or extension is not a dialplan name.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A parameter's name is outside `[A-Za-z0-9_]{1,32}`.
    #[error("invalid parameter name")]
    BadName,
    /// A value is too long.
    #[error("parameter value too long")]
    TooLong,
    /// More than [`MAX_PARAMS`] parameters, or none.
    #[error("1 to 32 parameters")]
    Count,
    /// No call at that place.
    #[error("no call at that context and extension")]
    NoCall,
    /// The PBX refused or could not be reached.
    #[error("the PBX failed")]
    Pbx(#[source] CallCommandError),
}

/// Where the flow runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowPlace {
    context: String,
    extension: String,
}

fn dialplan_name(s: &str, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= 80
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

impl WorkflowPlace {
    /// `context` in `[A-Za-z0-9_-]`, `extension` in `[A-Za-z0-9_+*#-]`, each 1 to 80 bytes.
    pub fn parse(context: &str, extension: &str) -> Result<Self, WorkflowError> {
        if !dialplan_name(context, b"_-") {
            return Err(WorkflowError::Invalid("context"));
        }
        if !dialplan_name(extension, b"_+*#-") {
            return Err(WorkflowError::Invalid("extension"));
        }
        Ok(Self {
            context: context.to_owned(),
            extension: extension.to_owned(),
        })
    }
}

/// One variable to set: its full name (prefixed) and value, both already safe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowVar {
    /// `WF_<name>`.
    pub name: String,
    /// The value, without control characters.
    pub value: String,
}

/// The variables of a request's parameters (name, value as text), by the rules above.
pub fn workflow_vars(params: &[(String, String)]) -> Result<Vec<WorkflowVar>, WorkflowError> {
    if params.is_empty() || params.len() > MAX_PARAMS {
        return Err(WorkflowError::Count);
    }
    params
        .iter()
        .map(|(name, value)| {
            let ok = !name.is_empty()
                && name.len() <= MAX_NAME
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(WorkflowError::BadName);
            }
            let value: String = value.chars().filter(|c| !c.is_control()).collect();
            if value.len() > MAX_VALUE {
                return Err(WorkflowError::TooLong);
            }
            Ok(WorkflowVar {
                name: format!("{VAR_PREFIX}{name}"),
                value,
            })
        })
        .collect()
}

/// The channel a workflow's data goes to: the newest channel at `place`, else the current
/// channel of the phone `place.extension` names.
pub fn pick_channel(
    place: &WorkflowPlace,
    channels: &[ChannelPlace],
    live: &SharedLive,
) -> Option<ChannelName> {
    let at_place = channels
        .iter()
        .filter(|c| c.context == place.context && c.extension == place.extension)
        .max_by(|a, b| newest(&a.uniqueid, &b.uniqueid));
    if let Some(c) = at_place {
        return Some(c.channel.clone());
    }
    let state = live.read().unwrap_or_else(PoisonError::into_inner);
    state
        .endpoints
        .get(&place.extension)
        .and_then(|e| e.current_call())
        .map(|c| c.channel.clone())
}

/// Asterisk uniqueids are `<epoch>.<sequence>`: compared as numbers, a later one is newer.
fn newest(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |s: &str| {
        let (secs, seq) = s.rsplit_once('.').unwrap_or((s, "0"));
        let secs = secs.rsplit('-').next().unwrap_or(secs);
        (
            secs.parse::<u64>().unwrap_or(0),
            seq.parse::<u64>().unwrap_or(0),
        )
    };
    key(a).cmp(&key(b))
}

/// Sets `vars` on the call at `place`; answers the channel they were set on.
pub async fn inject(
    commands: &dyn CallCommands,
    live: &SharedLive,
    place: &WorkflowPlace,
    vars: &[WorkflowVar],
) -> Result<ChannelName, WorkflowError> {
    let channels = commands.channels().await.map_err(WorkflowError::Pbx)?;
    let channel = pick_channel(place, &channels, live).ok_or(WorkflowError::NoCall)?;
    for v in vars {
        commands
            .set_variable(&channel, &v.name, &v.value)
            .await
            .map_err(WorkflowError::Pbx)?;
    }
    Ok(channel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: &str, v: &str) -> (String, String) {
        (n.to_owned(), v.to_owned())
    }

    #[test]
    fn names_are_prefixed_and_values_cleaned() {
        let vars = workflow_vars(&[
            p("cliente", "Ana\r\nAction: Hangup"),
            p("x_1", "${SHELL(id)}"),
        ])
        .unwrap();
        assert_eq!(vars[0].name, "WF_cliente");
        assert_eq!(vars[0].value, "AnaAction: Hangup");
        assert_eq!(
            vars[1].value, "${SHELL(id)}",
            "kept verbatim: never evaluated"
        );
        for bad in ["", "CDR(userfield)", "a b", "ñ", "a-b", &"n".repeat(33)] {
            assert!(
                matches!(workflow_vars(&[p(bad, "1")]), Err(WorkflowError::BadName)),
                "{bad:?}"
            );
        }
        assert!(matches!(
            workflow_vars(&[p("a", &"v".repeat(1025))]),
            Err(WorkflowError::TooLong)
        ));
        assert!(matches!(workflow_vars(&[]), Err(WorkflowError::Count)));
        let many: Vec<_> = (0..33).map(|i| p(&format!("v{i}"), "1")).collect();
        assert!(matches!(workflow_vars(&many), Err(WorkflowError::Count)));
    }

    #[test]
    fn places_are_dialplan_names() {
        assert!(WorkflowPlace::parse("from-carrier", "26001000").is_ok());
        assert!(WorkflowPlace::parse("agentes", "*21#").is_ok());
        for (c, e) in [
            ("", "1"),
            ("a,b", "1"),
            ("a", "1)"),
            ("a", "1\n"),
            ("a b", "1"),
        ] {
            assert!(WorkflowPlace::parse(c, e).is_err(), "{c:?} {e:?}");
        }
    }

    #[test]
    fn the_newest_channel_at_the_place_is_picked() {
        let ch = |name: &str, ctx: &str, ext: &str, id: &str| ChannelPlace {
            channel: ChannelName::new(name),
            context: ctx.into(),
            extension: ext.into(),
            uniqueid: id.into(),
        };
        let place = WorkflowPlace::parse("from-carrier", "26001000").unwrap();
        let live = SharedLive::default();
        let channels = [
            ch(
                "PJSIP/carrier-1",
                "from-carrier",
                "26001000",
                "1700000000.9",
            ),
            ch(
                "PJSIP/carrier-2",
                "from-carrier",
                "26001000",
                "1700000000.10",
            ),
            ch(
                "PJSIP/carrier-3",
                "from-carrier",
                "26002000",
                "1700000001.1",
            ),
        ];
        assert_eq!(
            pick_channel(&place, &channels, &live),
            Some(ChannelName::new("PJSIP/carrier-2"))
        );
        let elsewhere = WorkflowPlace::parse("from-carrier", "26009000").unwrap();
        assert_eq!(pick_channel(&elsewhere, &channels, &live), None);
    }
}
