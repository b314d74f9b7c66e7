//! The Asterisk adapter: everything that speaks to Asterisk. Today the AMI client; later ARI,
//! CDR and queue_log ingestion.
//!
//! **Architecture Invariant:** only this module writes AMI; it depends on `core`, never the reverse.

pub mod ami;
