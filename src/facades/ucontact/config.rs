//! The `[ucontact]` section of the configuration: the uContact Integra REST API (`/Integra/resources/...`).
//!
//! ```toml
//! [ucontact]                          # optional
//! session_idle_seconds = 28800        # a session token unused this long ends (60-604800)
//! max_search_limit = 500              # most getrecords rows per page (1-10000)
//! max_report_days = 93                # longest getrecords calldatei-calldatef range, days (1-366)
//! max_bulk_items = 1000               # most objects in one addblackbulk/deleteblackbulk (1-10000)
//! record_link_seconds = 3600          # how long a signed recording link of getrecords works (60-604800)
//! max_upload_bytes = 33554432         # largest decoded Dialers/uploadbase file (1024-41943040)
//! ```
//!
//! The two upload operations accept request bodies up to [`UcontactConfig::upload_body_limit`]
//! (one and a half times `max_upload_bytes`, plus 64 KiB: the base64 and form encodings of the
//! largest file), whatever `[http] body_limit_bytes` says; every other operation keeps it.
//!
//! Campaigns (`[[campaigns.campaign]]`) are the engine's `[campaigns]` section, not this one.

use serde::Deserialize;

/// Default `session_idle_seconds`: 8 hours.
pub const DEFAULT_SESSION_IDLE_SECONDS: u64 = 28_800;
/// Default `max_search_limit`.
pub const DEFAULT_MAX_SEARCH_LIMIT: usize = 500;

/// `[ucontact]`. Optional; every field has a default.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UcontactConfig {
    /// A session token unused for this long ends. Default 28800 (8 h); 60-604800.
    #[serde(default = "default_idle")]
    pub session_idle_seconds: u64,
    /// Most rows `Cdr/getrecords` answers per page. Default 500; 1-10000.
    #[serde(default = "default_max_search")]
    pub max_search_limit: usize,
    /// The longest `calldatei`-`calldatef` range of `Cdr/getrecords`, in days; a longer one is
    /// answered `0`. Default 93 (a quarter); 1-366.
    #[serde(default = "default_max_report_days")]
    pub max_report_days: u32,
    /// Most objects one `addblackbulk` / `deleteblackbulk` may carry; more are answered `0`
    /// before any is decoded. Default 1000; 1-10000.
    #[serde(default = "default_max_bulk_items")]
    pub max_bulk_items: usize,
    /// How long a signed recording link (getrecords' `record_url`) works after it was issued,
    /// in seconds. Default 3600; 60-604800.
    #[serde(default = "default_record_link_seconds")]
    pub record_link_seconds: u64,
    /// The largest file `Dialers/uploadbase` and `uploadbasewithtimezone` accept, decoded, in
    /// bytes; a larger one is answered `0` before it is decoded. Default 32 MiB; 1024-40 MiB.
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: usize,
}

impl Default for UcontactConfig {
    fn default() -> Self {
        Self {
            session_idle_seconds: DEFAULT_SESSION_IDLE_SECONDS,
            max_search_limit: DEFAULT_MAX_SEARCH_LIMIT,
            max_report_days: DEFAULT_MAX_REPORT_DAYS,
            max_bulk_items: DEFAULT_MAX_BULK_ITEMS,
            record_link_seconds: DEFAULT_RECORD_LINK_SECONDS,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
        }
    }
}

fn default_idle() -> u64 {
    DEFAULT_SESSION_IDLE_SECONDS
}

fn default_max_search() -> usize {
    DEFAULT_MAX_SEARCH_LIMIT
}

/// Default `max_report_days`: a quarter, so monthly and quarterly exports work.
pub const DEFAULT_MAX_REPORT_DAYS: u32 = 93;
/// Default `max_bulk_items`.
pub const DEFAULT_MAX_BULK_ITEMS: usize = 1000;

fn default_max_report_days() -> u32 {
    DEFAULT_MAX_REPORT_DAYS
}

fn default_max_bulk_items() -> usize {
    DEFAULT_MAX_BULK_ITEMS
}

/// Default `record_link_seconds`: an hour.
pub const DEFAULT_RECORD_LINK_SECONDS: u64 = 3600;

fn default_record_link_seconds() -> u64 {
    DEFAULT_RECORD_LINK_SECONDS
}

/// Default `max_upload_bytes`: 32 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 32 << 20;
/// The largest `max_upload_bytes`: 40 MiB (a body limit of 60 MiB and 64 KiB).
pub const MAX_UPLOAD_BYTES: usize = 40 << 20;

fn default_max_upload_bytes() -> usize {
    DEFAULT_MAX_UPLOAD_BYTES
}

impl UcontactConfig {
    /// The request body limit of the two upload operations: the base64 of
    /// `max_upload_bytes` (4/3) form-encoded (`+`, `/` and `=` as `%2B`, `%2F`, `%3D`) fits in
    /// one and a half times it, plus 64 KiB for the other fields.
    pub fn upload_body_limit(&self) -> usize {
        self.max_upload_bytes + self.max_upload_bytes / 2 + (64 << 10)
    }

    /// Checks every value; the error names the key and why.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if !(60..=604_800).contains(&self.session_idle_seconds) {
            return Err(("ucontact.session_idle_seconds", "must be 60-604800"));
        }
        if !(1..=10_000).contains(&self.max_search_limit) {
            return Err(("ucontact.max_search_limit", "must be 1-10000"));
        }
        if !(1..=366).contains(&self.max_report_days) {
            return Err(("ucontact.max_report_days", "must be 1-366"));
        }
        if !(1..=10_000).contains(&self.max_bulk_items) {
            return Err(("ucontact.max_bulk_items", "must be 1-10000"));
        }
        if !(60..=604_800).contains(&self.record_link_seconds) {
            return Err(("ucontact.record_link_seconds", "must be 60-604800"));
        }
        if !(1024..=MAX_UPLOAD_BYTES).contains(&self.max_upload_bytes) {
            return Err(("ucontact.max_upload_bytes", "must be 1024-41943040"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UcontactConfig, String> {
        #[derive(Deserialize)]
        struct W {
            ucontact: UcontactConfig,
        }
        let w: W = toml::from_str(text).map_err(|e| e.to_string())?;
        w.ucontact
            .validate()
            .map_err(|(f, r)| format!("{f}: {r}"))?;
        Ok(w.ucontact)
    }

    #[test]
    fn defaults_and_refusals() {
        let c = parse("[ucontact]\n").unwrap();
        assert_eq!(c, UcontactConfig::default());
        for bad in [
            "[ucontact]\nsession_idle_seconds = 5\n",
            "[ucontact]\nnope = 1\n",
            "[ucontact]\n[[ucontact.campaign]]\nname = \"a\"\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
