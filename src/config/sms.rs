//! The `[sms]` section: text messages (the core's SMS service, `core::sms`), whichever API
//! asks for them (eXpand's `sendSms` today).
//!
//! ```toml
//! [sms]                           # optional; every key has a default
//! uri_template = ""               # e.g. "pjsip:carrier/sip:{number}@203.0.113.5:5060"; empty: through the PBX off
//! from = ""                       # the sender of messages (empty: the trunk's default)
//! max_per_second = 5              # more messages (recipients) per second are refused (1-1000)
//! gateway_url = ""                # e.g. "http://127.0.0.1:9000/send": through an HTTP provider instead
//! gateway_token = ""              # sent as `Authorization: Bearer <token>`; never logged
//! ```
//!
//! Older files hold these keys in `[expand]` as `sms_*`; they are still read (see `legacy`).

use serde::Deserialize;

use super::deserialize_secret;
use crate::core::sms::{SmsGateway, SmsRoute, SmsSettings};
use crate::core::Secret;
use crate::sms_http::{HttpSmsGateway, HttpUrl};

/// `[sms]`. Optional; every field has a default. Neither `uri_template` nor `gateway_url`
/// set (the default): sending is disabled (eXpand's `sendSms` answers 0).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// The message URI of an SMS sent through the PBX: `{number}` is replaced by the
    /// recipient. Default empty: not through the PBX.
    pub uri_template: String,
    /// The sender (`From`) of messages; empty (the default): the PBX's or provider's default.
    pub from: String,
    /// Most messages (recipients) per second; more are refused (eXpand `-2`). 1-1000, default 5.
    pub max_per_second: u32,
    /// An HTTP SMS provider (`http://host[:port]/path`): one form POST per message (`to`,
    /// `text`, `from`). Empty (the default): messages go through the PBX (`uri_template`).
    /// Setting both is refused.
    pub gateway_url: String,
    /// The provider's bearer token; empty (the default): none. Never logged.
    #[serde(deserialize_with = "deserialize_secret")]
    pub gateway_token: Secret,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            uri_template: String::new(),
            from: String::new(),
            max_per_second: 5,
            gateway_url: String::new(),
            gateway_token: Secret::new(String::new()),
        }
    }
}

impl SmsConfig {
    /// The SMS service's settings.
    pub fn settings(&self) -> SmsSettings {
        SmsSettings {
            from: (!self.from.is_empty()).then(|| self.from.clone()),
            max_per_second: self.max_per_second,
        }
    }

    /// The HTTP SMS provider, if configured (validation guarantees the URL parses).
    pub fn http_gateway(&self) -> Option<HttpSmsGateway> {
        let url = HttpUrl::parse(&self.gateway_url)?;
        let token = &self.gateway_token;
        let token = (!token.expose().is_empty()).then(|| token.clone());
        Some(HttpSmsGateway::new(url, token))
    }

    /// Which way messages leave: the provider, else the PBX with the template, else none.
    pub fn route(&self) -> SmsRoute {
        if let Some(http) = self.http_gateway() {
            return SmsRoute::Gateway(std::sync::Arc::new(http) as std::sync::Arc<dyn SmsGateway>);
        }
        if self.uri_template.is_empty() {
            SmsRoute::Off
        } else {
            SmsRoute::Pbx(self.uri_template.clone())
        }
    }

    /// Checks every value; the error names the key and why.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if !(1..=1000).contains(&self.max_per_second) {
            return Err(("sms.max_per_second", "must be 1-1000"));
        }
        let t = &self.uri_template;
        if !t.is_empty()
            && (!t.contains("{number}")
                || t.len() > 200
                || !t
                    .replace("{number}", "0")
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":@._-+/;=".contains(c)))
        {
            return Err((
                "sms.uri_template",
                "must hold {number} and only letters, digits and :@._-+/;=",
            ));
        }
        if !self.gateway_url.is_empty() {
            if HttpUrl::parse(&self.gateway_url).is_none() {
                return Err((
                    "sms.gateway_url",
                    "must be http://host[:port]/path (visible ASCII)",
                ));
            }
            if !self.uri_template.is_empty() {
                return Err((
                    "sms.gateway_url",
                    "set either gateway_url or uri_template, not both",
                ));
            }
        }
        let token = self.gateway_token.expose();
        if token.len() > 512 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err((
                "sms.gateway_token",
                "must be at most 512 visible ASCII characters",
            ));
        }
        if self.from.len() > 128 || self.from.chars().any(char::is_control) {
            return Err(("sms.from", "must be one line of at most 128 bytes"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_validated() {
        assert_eq!(SmsConfig::default().validate(), Ok(()));
        assert!(matches!(SmsConfig::default().route(), SmsRoute::Off));
        let bad = |f: fn(&mut SmsConfig)| {
            let mut c = SmsConfig::default();
            f(&mut c);
            c.validate().unwrap_err().0
        };
        assert_eq!(
            bad(|c| c.uri_template = "pjsip:carrier/sip:5551@x".into()),
            "sms.uri_template"
        );
        assert_eq!(
            bad(|c| c.uri_template = "pjsip:c/sip:{number}@x&y".into()),
            "sms.uri_template"
        );
        let mut ok = SmsConfig {
            uri_template: "pjsip:carrier/sip:{number}@127.0.0.2:5060".into(),
            ..SmsConfig::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        assert!(matches!(ok.route(), SmsRoute::Pbx(t) if t.contains("{number}")));
        ok.max_per_second = 0;
        assert!(ok.validate().is_err());
        let both = SmsConfig {
            uri_template: "pjsip:carrier/sip:{number}@127.0.0.2".into(),
            gateway_url: "http://127.0.0.1:9000/send".into(),
            ..SmsConfig::default()
        };
        assert_eq!(both.validate().unwrap_err().0, "sms.gateway_url");
        let http = SmsConfig {
            gateway_url: "http://127.0.0.1:9000/send".into(),
            gateway_token: Secret::new("abc"),
            from: "Centralita".into(),
            ..SmsConfig::default()
        };
        assert_eq!(http.validate(), Ok(()));
        assert!(http.http_gateway().is_some());
        assert!(matches!(http.route(), SmsRoute::Gateway(_)));
        assert_eq!(http.settings().from.as_deref(), Some("Centralita"));
        assert!(
            !format!("{http:?}").contains("abc"),
            "the token is never shown"
        );
        assert_eq!(
            bad(|c| c.gateway_url = "https://x/".into()),
            "sms.gateway_url"
        );
        assert_eq!(
            bad(|c| c.gateway_token = Secret::new("a b")),
            "sms.gateway_token"
        );
        assert_eq!(bad(|c| c.from = "a\nb".into()), "sms.from");
    }
}
