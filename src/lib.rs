//! `centralita`: a telephony engine between a live Asterisk PBX and the call-center client APIs
//! already in use.
//!
//! Layers (dependency arrows point inward): `asterisk` (adapter: AMI, CDR and queue_log
//! ingestion) → `core` (domain identifiers, the journal and its port) ← `store` (SQLite) ←
//! `config` (the operator's TOML file). See `README.md` for the map and the invariants.

pub mod admin;
pub mod app;
pub mod asterisk;
pub mod config;
pub mod core;
pub mod expand_ws;
pub mod facades;
pub mod http;
pub mod http_client;
pub mod ivr_http;
pub mod ivr_json;
pub mod media;
pub mod net;
pub mod recording_media;
pub mod sms_http;
pub mod store;
pub mod tts_espeak;
pub mod webhooks_http;

#[cfg(test)]
pub(crate) mod test_support;
