//! `AmiError`: everything that can go wrong between the engine and Asterisk's AMI.

use std::time::Duration;

use super::action::ActionError;
use super::codec::CodecError;

/// An AMI failure, as seen by a caller of `AmiClient`.
#[derive(Debug, thiserror::Error)]
pub enum AmiError {
    /// TCP connect failed.
    #[error("cannot connect to AMI at {addr}")]
    Connect {
        /// `host:port` that was tried.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The peer did not speak AMI (no banner, or an unexpected first frame).
    #[error("AMI protocol error: {0}")]
    Protocol(String),
    /// The stream could not be decoded or encoded (oversize message, I/O).
    #[error("AMI stream error")]
    Codec(#[from] CodecError),
    /// The settings could not form a valid action (e.g. a username with a newline).
    #[error("invalid AMI action")]
    InvalidAction(#[from] ActionError),
    /// Asterisk refused the credentials.
    #[error("AMI login refused: {message}")]
    LoginFailed {
        /// Asterisk's `Message` (e.g. `Authentication failed`).
        message: String,
    },
    /// No response within the action timeout.
    #[error("AMI action `{action}` got no response within {after:?}")]
    Timeout {
        /// The action name.
        action: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// Asterisk answered `Response: Error`.
    #[error("AMI action `{action}` failed: {message}")]
    ActionFailed {
        /// The action name.
        action: String,
        /// Asterisk's `Message`.
        message: String,
    },
    /// The connection was lost before the action completed (or while reconnecting).
    #[error("AMI connection lost")]
    Disconnected,
    /// The client was shut down (`logoff`), so nothing more can be sent.
    #[error("AMI client closed")]
    Closed,
}
