//! The Asterisk adapter: everything that speaks to Asterisk or reads what it writes.
//!
//! - [`ami`]: the AMI client.
//! - [`events`]: the AMI events the engine uses, typed ([`events::PbxEvent`]), and the
//!   [`events::EventHub`], the one reader of the client's events: it parses each message once,
//!   keeps the device states (in the live state, their one copy) and hands every consumer the
//!   same parsed event with its facts.
//! - [`event_facts`]: the one mapper from a typed event to every fact the engine draws from it
//!   (device state, live facts, originate facts, hangup cause).
//! - [`live_follower`], [`call_control`], [`hangup_causes`]: the hub's consumers (the live
//!   state, originate jobs, hangup causes).
//! - [`ari`]: what the engine reads from ARI (the PJSIP endpoints).
//! - [`ivr_runtime`]: the IVR runtime, inbound calls routed to a flow run it over ARI.
//! - [`cdr_source`]: reads CDRs from Asterisk's `master.db` (read-only) after a cursor.
//! - [`queue_log`]: parses and follows Asterisk's `queue_log` file across rotations.
//! - [`ingest`]: drains both into the journal through the core's `JournalStore` port.
//! - [`fastagi`]: the FastAGI server the dialplan asks (the inbound blacklist).
//! - [`naming`]: how Asterisk names devices and channels (`PJSIP/<endpoint>`, `Local/…@…`), the
//!   one place that spells them; the core's `ChannelNaming` port over it.
//!
//! **Architecture Invariant:** only this module writes AMI, answers AGI and reads Asterisk's
//! files; it depends on `core`, never the reverse.

pub mod ami;
pub mod ari;
pub mod astdb;
pub mod call_commands;
pub mod call_control;
pub mod cdr_source;
pub mod event_facts;
pub mod events;
pub mod fastagi;
pub mod hangup_causes;
pub mod ingest;
pub mod ivr_runtime;
pub mod live_follower;
pub mod naming;
pub mod queue_control;
pub mod queue_log;
pub mod queues_conf;
pub mod recording_policy;
