//! The `[expand_rest]` section of the configuration: the eXpand REST API
//! (`/expandweb3/api/...`).
//!
//! ```toml
//! [expand_rest]                       # optional
//! realm = "eXpand"                    # the realm of the 401 answer's WWW-Authenticate (1-64 printable)
//! max_body_bytes = 65536              # largest JSON body accepted, larger is 413 (1024-1048576)
//! ```
//!
//! Campaigns and contacts are the engine's dialer (the store, `centralita admin dialer`), not
//! this section.

use serde::Deserialize;

/// Default `realm`.
pub const DEFAULT_REALM: &str = "eXpand";
/// Default `max_body_bytes`: 64 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// `[expand_rest]`. Optional; every field has a default.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExpandRestConfig {
    /// The realm named by `WWW-Authenticate: Basic realm="..."` on a 401. Default `eXpand`;
    /// 1-64 printable ASCII characters without `"` or `\`.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// The largest request body, in bytes; a larger one is answered 413. Default 65536;
    /// 1024-1048576.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

impl Default for ExpandRestConfig {
    fn default() -> Self {
        Self {
            realm: DEFAULT_REALM.to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

fn default_realm() -> String {
    DEFAULT_REALM.to_owned()
}

fn default_max_body() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

impl ExpandRestConfig {
    /// The field in error and why.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        let r = &self.realm;
        if r.is_empty()
            || r.len() > 64
            || !r
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            return Err((
                "expand_rest.realm",
                "must be 1-64 printable ASCII characters without \" or \\",
            ));
        }
        if !(1024..=1 << 20).contains(&self.max_body_bytes) {
            return Err(("expand_rest.max_body_bytes", "must be 1024-1048576"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_field() {
        assert!(ExpandRestConfig::default().validate().is_ok());
        let bad = ExpandRestConfig {
            realm: "a\"b".into(),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "expand_rest.realm");
        let bad = ExpandRestConfig {
            max_body_bytes: 10,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "expand_rest.max_body_bytes");
    }
}
