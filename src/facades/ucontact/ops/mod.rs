//! The Integra operations, one file per area; `mod.rs` holds the routes, the dispatch table and the helpers they share.

pub mod auth;
pub mod calls;
pub mod dialers;
pub mod recordings;
pub mod supervision;
