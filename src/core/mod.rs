//! The domain layer: identifiers as newtypes and small value types shared by every other layer.
//!
//! **Architecture Invariant:** nothing here knows a wire format (no serde, no AMI, no HTTP).

pub mod ids;
pub mod secret;

pub use ids::{ActionId, ChannelName, UniqueId};
pub use secret::Secret;
