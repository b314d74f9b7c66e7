//! [`ChannelNaming`]: the port through which the core and the facades name a phone's device and
//! read the endpoint a device or channel belongs to, without knowing the PBX's channel
//! technology. The Asterisk adapter's `naming` module implements it; the composition root
//! (`app`) injects it as `Arc<dyn ChannelNaming>`.

use super::directory::Extension;

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
