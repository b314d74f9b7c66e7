//! The USCall functions, one file per area; `mod.rs` holds the dispatch table and the helpers they share.

pub mod agents;
pub mod calls;
pub mod pbx;
pub mod reports;
pub mod ura;
