//! The Asterisk Manager Interface (AMI) client.
//!
//! - [`message`]: the `AmiMessage` value (ordered key/value pairs).
//! - [`codec`]: the pure byte codec (banner, `\r\n\r\n` framing, command output).
//! - [`action`]: one validated struct per action the engine sends.
//! - [`client`]: the task owning the TCP connection and the cheap [`AmiClient`] handle.
//! - [`error`]: [`AmiError`], the error of this boundary.
//!
//! **Architecture Invariant:** no AMI text is built outside [`action`]; every value is validated
//! when the action is constructed, and the encoder refuses CR/LF as a second line of defence.

pub mod action;
pub mod client;
pub mod codec;
pub mod error;
pub mod message;

pub use action::{Action, ActionError, ListAction};
pub use client::{AmiClient, AmiEvent, AmiSettings, ConnectionState};
pub use codec::{AmiCodec, AmiFrame, CodecError};
pub use error::AmiError;
pub use message::AmiMessage;
