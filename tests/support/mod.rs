//! Shared helpers for the in-process integration tests.

pub mod fake_ami;
pub mod router;
pub mod scripted_pbx;
