//! Shared helpers for the in-process integration tests.

pub mod fake_ami;
pub mod scripted_pbx;
