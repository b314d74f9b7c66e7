//! How Asterisk names devices and channels, in one place: the `PJSIP/<endpoint>` device of a
//! phone or trunk, the endpoint of a `PJSIP/<endpoint>-<8 hex digits>` channel, the dial
//! string of a number through a trunk and the `Local/<exten>@<context>` channels of
//! originates. [`AsteriskNaming`] is the core's [`ChannelNaming`] port over these.

use crate::core::naming::{ChannelKind, ChannelNaming};

/// The channel technology of phones and trunks.
pub const TECHNOLOGY: &str = "PJSIP";

/// The device of an endpoint (`1005` → `PJSIP/1005`).
pub fn device(endpoint: &str) -> String {
    format!("{TECHNOLOGY}/{endpoint}")
}

/// The endpoint of a PJSIP device or channel (`PJSIP/1005`, `PJSIP/1005-0000001a` → `1005`).
pub fn endpoint_of(device_or_channel: &str) -> Option<&str> {
    let rest = device_or_channel
        .strip_prefix(TECHNOLOGY)?
        .strip_prefix('/')?;
    // A channel name ends in `-<8 hex digits>`; a device has no such suffix.
    match rest.rsplit_once('-') {
        Some((ep, suffix))
            if suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Some(ep)
        }
        _ => Some(rest),
    }
}

/// What a channel name says: `PJSIP/<endpoint>-<8 hex digits>` is an endpoint's channel,
/// `Local/<exten>@<context>-<8 hex digits>;<1|2>` a half of a local channel (`;2` runs the
/// dialplan at `exten@context`).
pub fn channel_kind(channel: &str) -> ChannelKind<'_> {
    if let Some(endpoint) = endpoint_of(channel) {
        return ChannelKind::Endpoint(endpoint);
    }
    let Some((exten, rest)) = channel
        .strip_prefix("Local/")
        .and_then(|r| r.split_once('@'))
    else {
        return ChannelKind::Other;
    };
    let (named, half) = rest.rsplit_once(';').unwrap_or((rest, "1"));
    let context = match named.rsplit_once('-') {
        Some((context, suffix)) if suffix.bytes().all(|b| b.is_ascii_hexdigit()) => context,
        _ => named,
    };
    ChannelKind::Local {
        exten,
        context,
        runs_dialplan: half == "2",
    }
}

/// The `Local` channel that runs `exten` in `context` (`Local/<exten>@<context>`).
pub fn local_channel(exten: &str, context: &str) -> String {
    format!("Local/{exten}@{context}")
}

/// Asterisk's naming as the core's port.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsteriskNaming;

impl ChannelNaming for AsteriskNaming {
    fn device(&self, endpoint: &str) -> String {
        device(endpoint)
    }

    fn endpoint_of<'a>(&self, device_or_channel: &'a str) -> Option<&'a str> {
        endpoint_of(device_or_channel)
    }

    fn technology(&self) -> &str {
        TECHNOLOGY
    }

    fn channel_kind<'a>(&self, channel: &'a str) -> ChannelKind<'a> {
        channel_kind(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::directory::Extension;

    #[test]
    fn devices_and_channels() {
        assert_eq!(endpoint_of("PJSIP/1005"), Some("1005"));
        assert_eq!(endpoint_of("PJSIP/1005-0000001a"), Some("1005"));
        assert_eq!(endpoint_of("PJSIP/my-trunk"), Some("my-trunk"));
        assert_eq!(endpoint_of("Local/1@x-0000001a;1"), None);
        assert_eq!(
            channel_kind("PJSIP/my-trunk-0000001a"),
            ChannelKind::Endpoint("my-trunk")
        );
        assert_eq!(
            channel_kind("Local/5551004@centralita-originate-0000001a;2"),
            ChannelKind::Local {
                exten: "5551004",
                context: "centralita-originate",
                runs_dialplan: true
            }
        );
        assert_eq!(
            channel_kind("Local/5551004@centralita-originate-0000001a;1"),
            ChannelKind::Local {
                exten: "5551004",
                context: "centralita-originate",
                runs_dialplan: false
            }
        );
        assert_eq!(channel_kind("DAHDI/1-1"), ChannelKind::Other);
        assert_eq!(
            local_channel("5551004", "centralita-originate"),
            "Local/5551004@centralita-originate"
        );
    }

    #[test]
    fn extension_interface_round_trip() {
        let e = Extension::new("1005").unwrap();
        assert_eq!(AsteriskNaming.extension_device(&e), "PJSIP/1005");
        assert_eq!(AsteriskNaming.extension_of("PJSIP/1005"), Some(e));
        assert_eq!(AsteriskNaming.extension_of("SIP/1005"), None);
        assert_eq!(AsteriskNaming.extension_of("PJSIP/a&b"), None);
    }
}
