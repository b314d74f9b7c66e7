//! [`ChannelNaming`]: the port through which the core and the facades name a phone's device and
//! read what a device or channel name says ([`ChannelKind`]: an endpoint's channel, a half of a
//! local channel), without knowing the PBX's channel technology. The Asterisk adapter's `naming`
//! module implements it; the composition root (`app`) injects it as `Arc<dyn ChannelNaming>`
//! (reports and call summaries get it in their context).

use super::directory::Extension;

/// What a channel's name says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind<'a> {
    /// A channel of a phone's or trunk's endpoint.
    Endpoint(&'a str),
    /// One half of a local channel that runs `exten` in `context`. The half that runs the
    /// dialplan at `exten@context` is `runs_dialplan`; the other faces whoever created it.
    Local {
        /// The extension the channel runs.
        exten: &'a str,
        /// Its context.
        context: &'a str,
        /// This half runs the dialplan.
        runs_dialplan: bool,
    },
    /// Any other channel.
    Other,
}

/// How the PBX names devices and channels.
pub trait ChannelNaming: Send + Sync {
    /// The device (and queue member interface) of an endpoint: a phone's extension or a
    /// trunk's name.
    fn device(&self, endpoint: &str) -> String;

    /// The endpoint a device or channel belongs to, if it is one of the phones' or trunks'
    /// technology.
    fn endpoint_of<'a>(&self, device_or_channel: &'a str) -> Option<&'a str>;

    /// The name of the technology phones and trunks use, as clients are shown it.
    fn technology(&self) -> &str;

    /// What a channel's name says about it.
    fn channel_kind<'a>(&self, channel: &'a str) -> ChannelKind<'a>;

    /// The endpoint a channel runs on, if it is an endpoint's channel.
    fn channel_endpoint<'a>(&self, channel: &'a str) -> Option<&'a str> {
        match self.channel_kind(channel) {
            ChannelKind::Endpoint(e) => Some(e),
            _ => None,
        }
    }

    /// The device of a phone's extension.
    fn extension_device(&self, extension: &Extension) -> String {
        self.device(extension.as_str())
    }

    /// The extension whose device (or queue member interface) `device` is, if it is one.
    fn extension_of(&self, device: &str) -> Option<Extension> {
        self.endpoint_of(device)
            .and_then(|e| Extension::new(e).ok())
    }
}

/// The lab PBX's names as the core's tests see them (`PJSIP/<endpoint>[-<suffix>]`,
/// `Local/<exten>@<context>[-<suffix>];<1|2>`), so that core rules are tested without an
/// adapter.
#[cfg(test)]
pub(crate) struct TestNaming;

#[cfg(test)]
impl ChannelNaming for TestNaming {
    fn device(&self, endpoint: &str) -> String {
        format!("PJSIP/{endpoint}")
    }

    fn endpoint_of<'a>(&self, device_or_channel: &'a str) -> Option<&'a str> {
        self.channel_endpoint(device_or_channel)
    }

    fn technology(&self) -> &str {
        "PJSIP"
    }

    fn channel_kind<'a>(&self, channel: &'a str) -> ChannelKind<'a> {
        if let Some(rest) = channel.strip_prefix("PJSIP/") {
            let name = rest.rsplit_once('-').map_or(rest, |(n, _)| n);
            return if name.is_empty() {
                ChannelKind::Other
            } else {
                ChannelKind::Endpoint(name)
            };
        }
        let Some((exten, rest)) = channel
            .strip_prefix("Local/")
            .and_then(|r| r.split_once('@'))
        else {
            return ChannelKind::Other;
        };
        let (at, half) = rest.rsplit_once(';').unwrap_or((rest, "1"));
        ChannelKind::Local {
            exten,
            context: at.rsplit_once('-').map_or(at, |(c, _)| c),
            runs_dialplan: half == "2",
        }
    }
}
