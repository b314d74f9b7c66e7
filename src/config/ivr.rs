//! `[ivr]`: the IVR's named lookup backends (`[ivr.backends.<name>]`).
//!
//! ```toml
//! [ivr.backends.crm]                  # a flow's http node says "backend": "crm"
//! kind = "http"                       # default; or "expand_ivrcode"
//! url = "http://10.0.0.9:8080/api"    # required: http:// base URL, no user information
//! method = "GET"                      # default; GET (params in the query) | POST
//! body = "form"                       # default; POST only: "form" | "json"
//! path = "/clientes/buscar"           # default "/"; fixed, appended to the URL's path
//! timeout_ms = 1500                   # default; 100-10000, connect included
//! max_answer_bytes = 16384            # default; 256-1048576
//! header = "X-Api-Key"                # optional; sent with `token` as its value
//! token = "..."                       # required with header; never logged
//! ```
//!
//! `kind = "expand_ivrcode"` takes `url` and `timeout_ms` only: eXpand's
//! `IVRCode(UniqueID, callerIdNum, IVRCode, IVRData)` posted as JSON to `<url>/IVRCode`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::deserialize_opt_secret;
use crate::core::ivr::backends::{
    BackendKind, BackendSettings, Method, DEFAULT_MAX_ANSWER, DEFAULT_TIMEOUT, MAX_ANSWER,
    MAX_TIMEOUT,
};
use crate::core::ivr::BackendName;
use crate::core::webhooks::url_is_acceptable;
use crate::core::Secret;
use crate::http_client::HttpUrl;

/// The most backends configured.
pub const MAX_BACKENDS: usize = 64;

/// `[ivr]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrConfig {
    /// The named backends (`[ivr.backends.<name>]`, names `[a-z0-9_-]`, ≤ 32). Default none.
    #[serde(default)]
    pub backends: BTreeMap<String, IvrBackendConfig>,
}

/// One `[ivr.backends.<name>]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrBackendConfig {
    /// `http` (default) or `expand_ivrcode`.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// The base URL: `http://host[:port][/prefix]`, no user information, no query.
    pub url: String,
    /// `GET` (default) or `POST`.
    #[serde(default = "default_method")]
    pub method: String,
    /// A POST's body: `form` (default) or `json`.
    #[serde(default = "default_body")]
    pub body: String,
    /// The fixed path after the URL's (default `/`): `[A-Za-z0-9/_.~-]`, no `..`.
    #[serde(default = "default_path")]
    pub path: String,
    /// Each request's limit in milliseconds (default 1500; 100-10000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The most bytes of an answer's body (default 16384; 256-1048576).
    #[serde(default = "default_max_answer")]
    pub max_answer_bytes: usize,
    /// An optional header's name (`[A-Za-z0-9-]`, ≤ 64) sent with `token`.
    #[serde(default)]
    pub header: Option<String>,
    /// The header's secret value.
    #[serde(default, deserialize_with = "deserialize_opt_secret")]
    pub token: Option<Secret>,
}

fn default_kind() -> String {
    "http".into()
}
fn default_method() -> String {
    "GET".into()
}
fn default_body() -> String {
    "form".into()
}
fn default_path() -> String {
    "/".into()
}
fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT.as_millis() as u64
}
fn default_max_answer() -> usize {
    DEFAULT_MAX_ANSWER
}

fn path_ok(p: &str) -> bool {
    p.starts_with('/')
        && p.len() <= 256
        && !p.contains("..")
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '~' | '-'))
}

fn header_ok(h: &str) -> bool {
    !h.is_empty() && h.len() <= 64 && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl IvrConfig {
    /// The backends' settings (validation guarantees they are whole).
    pub fn backends(&self) -> Vec<BackendSettings> {
        self.backends
            .iter()
            .filter_map(|(name, b)| {
                let kind = if b.kind == "expand_ivrcode" {
                    BackendKind::ExpandIvrCode
                } else {
                    BackendKind::Http {
                        method: match (b.method.as_str(), b.body.as_str()) {
                            ("GET", _) => Method::Get,
                            (_, "json") => Method::PostJson,
                            _ => Method::PostForm,
                        },
                        path: b.path.clone(),
                        max_answer: b.max_answer_bytes,
                        header: b.header.clone().zip(b.token.clone()),
                    }
                };
                Some(BackendSettings {
                    name: BackendName::new(name).ok()?,
                    url: b.url.clone(),
                    timeout: Duration::from_millis(b.timeout_ms),
                    kind,
                })
            })
            .collect()
    }

    pub(super) fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.backends.len() > MAX_BACKENDS {
            return Err(("ivr.backends", "at most 64 backends"));
        }
        for (name, b) in &self.backends {
            if BackendName::new(name).is_err() {
                return Err(("ivr.backends", "names must be 1-32 of [a-z0-9_-]"));
            }
            if !matches!(b.kind.as_str(), "http" | "expand_ivrcode") {
                return Err((
                    "ivr.backends.kind",
                    "must be \"http\" or \"expand_ivrcode\"",
                ));
            }
            url_is_acceptable(&b.url).map_err(|r| ("ivr.backends.url", r))?;
            if b.url.contains(['?', '#']) || HttpUrl::parse(&b.url).is_none() {
                return Err((
                    "ivr.backends.url",
                    "must be http://host[:port][/path], no query",
                ));
            }
            if !(100..=MAX_TIMEOUT.as_millis() as u64).contains(&b.timeout_ms) {
                return Err(("ivr.backends.timeout_ms", "must be 100-10000"));
            }
            if !matches!(b.method.as_str(), "GET" | "POST") {
                return Err(("ivr.backends.method", "must be \"GET\" or \"POST\""));
            }
            if !matches!(b.body.as_str(), "form" | "json") {
                return Err(("ivr.backends.body", "must be \"form\" or \"json\""));
            }
            if !path_ok(&b.path) {
                return Err((
                    "ivr.backends.path",
                    "must start with / and hold only [A-Za-z0-9/_.~-], no ..",
                ));
            }
            if !(256..=MAX_ANSWER).contains(&b.max_answer_bytes) {
                return Err(("ivr.backends.max_answer_bytes", "must be 256-1048576"));
            }
            match (&b.header, &b.token) {
                (None, None) => {}
                (Some(h), Some(t)) if header_ok(h) && !t.expose().is_empty() => {
                    if t.expose().bytes().any(|c| c.is_ascii_control()) {
                        return Err(("ivr.backends.token", "must hold no control characters"));
                    }
                }
                (Some(_), Some(_)) => {
                    return Err((
                        "ivr.backends.header",
                        "must be 1-64 of [A-Za-z0-9-], with a non-empty token",
                    ))
                }
                _ => return Err(("ivr.backends.header", "header and token go together")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::core::ivr::backends::{BackendKind, Method};

    #[test]
    fn backends_are_read_and_checked() {
        let ok = crate::config::tests::text(
            "",
            "[ivr.backends.crm]\nurl = \"http://127.0.0.1:9/api\"\nmethod = \"POST\"\nbody = \"json\"\npath = \"/clientes\"\nheader = \"X-Api-Key\"\ntoken = \"s3cret\"\n[ivr.backends.codes]\nkind = \"expand_ivrcode\"\nurl = \"http://127.0.0.1:9/ws\"\n",
        );
        let c = Config::from_toml(&ok).unwrap();
        let b = c.ivr.backends();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].name.as_str(), "codes");
        assert_eq!(b[0].kind, BackendKind::ExpandIvrCode);
        assert_eq!(b[1].timeout.as_millis(), 1500);
        let BackendKind::Http { method, header, .. } = &b[1].kind else {
            panic!("{:?}", b[1].kind)
        };
        assert_eq!(*method, Method::PostJson);
        assert!(!format!("{header:?}").contains("s3cret"));
        for bad in [
            ok.replace("http://127.0.0.1:9/api", "http://u:p@127.0.0.1:9/api"),
            ok.replace("http://127.0.0.1:9/api", "https://127.0.0.1:9/api"),
            ok.replace("http://127.0.0.1:9/api", "http://127.0.0.1:9/api?x=1"),
            ok.replace("/clientes", "/../x"),
            ok.replace("/clientes", "/c/{CALLERID}"),
            ok.replace("[ivr.backends.crm]", "[ivr.backends.CRM]"),
            ok.replace("method = \"POST\"", "method = \"PUT\""),
            ok.replace("token = \"s3cret\"", ""),
            ok.replace("X-Api-Key", "X-Api-Key\r\nHost"),
            ok.replace("kind = \"expand_ivrcode\"", "kind = \"ftp\""),
            format!("{ok}timeout_ms = 20000\n"),
            format!("{ok}max_answer_bytes = 10\n"),
        ] {
            assert!(Config::from_toml(&bad).is_err(), "{bad}");
        }
    }
}
