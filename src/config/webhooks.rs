//! The `[webhooks]` section (outbound webhooks and their endpoints) and the
//! `[expand_webservices]` section (the customer's backend eXpand's dialplan calls: caller
//! names, IVR codes, agent popups).

use std::time::Duration;

use serde::Deserialize;

use super::deserialize_secret;
use crate::core::expand_ws::{WsForm, WsSettings, MAX_TIMEOUT};
use crate::core::webhooks::{url_is_acceptable, DeliveryPolicy, Endpoint, EndpointName, EventKind};
use crate::core::Secret;

/// `[webhooks]`: where the engine POSTs its events.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// A delivery not acknowledged (2xx) this many days after it was queued is dead (kept,
    /// counted by `webhooks status`, sent again by `webhooks retry`). Default 3; 1 to 60.
    #[serde(default = "default_dead_after_days")]
    pub dead_after_days: u64,
    /// One try's limit in milliseconds (connect, send, answer). Default 5000; 100 to 30000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The first retry's delay in milliseconds, doubled on each failure. Default 1000; 10 to
    /// 60000.
    #[serde(default = "default_first_retry_ms")]
    pub first_retry_ms: u64,
    /// The longest delay between two tries, in seconds. Default 300; 1 to 3600.
    #[serde(default = "default_max_retry_seconds")]
    pub max_retry_seconds: u64,
    /// The endpoints (`[[webhooks.endpoint]]`). Default none (no webhook is queued).
    #[serde(default)]
    pub endpoint: Vec<WebhookEndpointConfig>,
}

/// One `[[webhooks.endpoint]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointConfig {
    /// Its name (in the outbox and `webhooks status`): 1-64 of `[A-Za-z0-9_.-]`. Required.
    pub name: String,
    /// Where events are POSTed: `http://host[:port]/path`, no user information. Required.
    pub url: String,
    /// The HMAC-SHA256 key of `X-Centralita-Signature` (at least 16 characters). Required.
    #[serde(deserialize_with = "deserialize_secret")]
    pub secret: Secret,
    /// The events it takes (`call.offered`, `call.answered`, `call.ended`,
    /// `agent.logged_in`, `agent.logged_out`, `agent.paused`, `agent.unpaused`,
    /// `dialer.attempt`). Default: every one.
    #[serde(default)]
    pub events: Vec<String>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            dead_after_days: default_dead_after_days(),
            timeout_ms: default_timeout_ms(),
            first_retry_ms: default_first_retry_ms(),
            max_retry_seconds: default_max_retry_seconds(),
            endpoint: Vec::new(),
        }
    }
}

fn default_dead_after_days() -> u64 {
    3
}
fn default_timeout_ms() -> u64 {
    5000
}
fn default_first_retry_ms() -> u64 {
    1000
}
fn default_max_retry_seconds() -> u64 {
    300
}

impl WebhooksConfig {
    /// The delivery policy.
    pub fn policy(&self) -> DeliveryPolicy {
        DeliveryPolicy {
            first_backoff: Duration::from_millis(self.first_retry_ms),
            max_backoff: Duration::from_secs(self.max_retry_seconds),
            dead_after: Duration::from_secs(self.dead_after_days * 86_400),
            timeout: Duration::from_millis(self.timeout_ms),
        }
    }

    /// The endpoints (validation guarantees they are whole).
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.endpoint
            .iter()
            .filter_map(|e| {
                let events = if e.events.is_empty() {
                    EventKind::ALL.to_vec()
                } else {
                    e.events
                        .iter()
                        .filter_map(|n| EventKind::parse(n))
                        .collect()
                };
                Some(Endpoint {
                    name: EndpointName::new(&e.name)?,
                    url: e.url.clone(),
                    secret: e.secret.clone(),
                    events,
                })
            })
            .collect()
    }

    pub(super) fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if !(1..=60).contains(&self.dead_after_days) {
            return Err(("webhooks.dead_after_days", "must be 1-60"));
        }
        if !(100..=30_000).contains(&self.timeout_ms) {
            return Err(("webhooks.timeout_ms", "must be 100-30000"));
        }
        if !(10..=60_000).contains(&self.first_retry_ms) {
            return Err(("webhooks.first_retry_ms", "must be 10-60000"));
        }
        if !(1..=3600).contains(&self.max_retry_seconds) {
            return Err(("webhooks.max_retry_seconds", "must be 1-3600"));
        }
        if self.endpoint.len() > 32 {
            return Err(("webhooks.endpoint", "at most 32 endpoints"));
        }
        let mut names = std::collections::HashSet::new();
        for e in &self.endpoint {
            if EndpointName::new(&e.name).is_none() || !names.insert(e.name.as_str()) {
                return Err((
                    "webhooks.endpoint.name",
                    "each must be 1-64 of [A-Za-z0-9_.-], distinct",
                ));
            }
            url_is_acceptable(&e.url).map_err(|r| ("webhooks.endpoint.url", r))?;
            if e.secret.expose().len() < 16 || e.secret.expose().len() > 512 {
                return Err(("webhooks.endpoint.secret", "must be 16-512 characters"));
            }
            if e.events.iter().any(|n| EventKind::parse(n).is_none()) {
                return Err((
                    "webhooks.endpoint.events",
                    "each must be one of call.offered, call.answered, call.ended, agent.logged_in, agent.logged_out, agent.paused, agent.unpaused, dialer.attempt",
                ));
            }
        }
        Ok(())
    }
}

/// `[expand_webservices]`: the customer's backend, called by the engine (eXpand's "external
/// webservices"). Absent: none is called.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpandWebservicesConfig {
    /// The backend's base URL (`http://host[:port]/path`): REST calls go to
    /// `<url>/<operation>`, SOAP calls to `<url>` itself. Required.
    pub url: String,
    /// `rest` (JSON POSTs) or `soap` (SOAP 1.1 rpc). Default `rest`.
    #[serde(default = "default_form")]
    pub form: String,
    /// Each call's limit in milliseconds: past it the call goes on without the data. Default
    /// 1500; 100 to 10000.
    #[serde(default = "default_ws_timeout_ms")]
    pub timeout_ms: u64,
    /// The SOAP operations' namespace. Default `urn:expandws`.
    #[serde(default = "default_namespace")]
    pub soap_namespace: String,
}

fn default_form() -> String {
    "rest".to_owned()
}
fn default_ws_timeout_ms() -> u64 {
    1500
}
fn default_namespace() -> String {
    "urn:expandws".to_owned()
}

impl ExpandWebservicesConfig {
    /// The settings of the client.
    pub fn settings(&self) -> WsSettings {
        WsSettings {
            url: self.url.clone(),
            form: if self.form == "soap" {
                WsForm::Soap
            } else {
                WsForm::Rest
            },
            timeout: Duration::from_millis(self.timeout_ms),
            namespace: self.soap_namespace.clone(),
        }
    }

    pub(super) fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        url_is_acceptable(&self.url).map_err(|r| ("expand_webservices.url", r))?;
        if !matches!(self.form.as_str(), "rest" | "soap") {
            return Err(("expand_webservices.form", "must be \"rest\" or \"soap\""));
        }
        if !(100..=MAX_TIMEOUT.as_millis() as u64).contains(&self.timeout_ms) {
            return Err(("expand_webservices.timeout_ms", "must be 100-10000"));
        }
        if self.soap_namespace.is_empty()
            || self.soap_namespace.len() > 200
            || !self.soap_namespace.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err((
                "expand_webservices.soap_namespace",
                "must be 1-200 visible ASCII characters",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn endpoints_and_webservices_are_read_and_checked() {
        let ok = crate::config::tests::text(
            "",
            "[webhooks]\ndead_after_days = 2\n[[webhooks.endpoint]]\nname = \"crm\"\nurl = \"http://127.0.0.1:9/h\"\nsecret = \"0123456789abcdef\"\nevents = [\"call.offered\"]\n[expand_webservices]\nurl = \"http://127.0.0.1:9/ws\"\nform = \"soap\"\n",
        );
        let c = Config::from_toml(&ok).unwrap();
        let eps = c.webhooks.endpoints();
        assert_eq!(eps.len(), 1);
        assert_eq!(format!("{:?}", eps[0].secret), "***");
        assert!(c.expand_webservices.is_some());
        for bad in [
            ok.replace("http://127.0.0.1:9/h", "http://u:p@127.0.0.1:9/h"),
            ok.replace("0123456789abcdef", "short"),
            ok.replace("call.offered", "call.everything"),
            ok.replace("form = \"soap\"", "timeout_ms = 20000"),
            ok.replace("http://127.0.0.1:9/ws", "gopher://x/"),
        ] {
            assert!(Config::from_toml(&bad).is_err(), "{bad}");
        }
    }
}
