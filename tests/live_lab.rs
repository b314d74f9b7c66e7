//! Live tier: tests against the real Asterisk lab (see vm/README.md).
