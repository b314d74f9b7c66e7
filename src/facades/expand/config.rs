//! The `[expand]` section of the configuration: the eXpand SOAP webservice (`/apiws/2/apiws.php`).
//!
//! ```toml
//! [expand]                                   # optional; every key has a default
//! client_networks = ["127.0.0.0/8", "::1/128"]   # who may call queueData and agentData (no key)
//! max_report_days = 93                       # longest date range of a report (1-366)
//! short_call_seconds = 10                    # agentData: answered calls shorter than this are "cortas"
//! sms_uri_template = ""                      # e.g. "pjsip:carrier/sip:{number}@203.0.113.5:5060"; empty: SMS off
//! sms_from = ""                              # the sender of messages (empty: the trunk's default)
//! sms_max_per_second = 5                     # sendSms answers -2 past this many messages per second (1-1000)
//! sms_gateway_url = ""                       # e.g. "http://127.0.0.1:9000/send": SMS through an HTTP provider instead
//! sms_gateway_token = ""                     # sent as `Authorization: Bearer <token>`; never logged
//! cdr_custom_estado = "disposition"          # cdrCustom's ESTADO: a CDR field (see `CdrField`)
//! cdr_custom_observaciones = "calldata"      # cdrCustom's OBSERVACIONES: a CDR field
//!
//! [expand.queue_descriptions]                # queue → description shown in answers (default: the name)
//! q_ventas = "Ventas"
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::core::Secret;
pub use crate::facades::client_addr::Network;
use crate::sms_http::{HttpSmsGateway, HttpUrl};

/// `[expand]`. Optional; every field has a default.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExpandConfig {
    /// Networks (CIDR, or a single address) allowed to call `queueData` and `agentData`, which
    /// the vendor documents without a key. Default: loopback only.
    pub client_networks: Vec<String>,
    /// Longest date range a report accepts, in days (1-366); longer is the operation's
    /// bad-range code (`-8`, agentSessionDetail `-4`). Default 93 (a quarter).
    pub max_report_days: u32,
    /// `agentData`'s `atendidasCortas`: answered queue calls handled in fewer seconds than
    /// this. Default 10.
    pub short_call_seconds: u32,
    /// The message URI of an SMS: `{number}` is replaced by the recipient. Empty (the default):
    /// sending is disabled and `sendSms` answers 0.
    pub sms_uri_template: String,
    /// The sender (`From`) of messages; empty (the default): the PBX's default.
    pub sms_from: String,
    /// Most messages (recipients) per second; more answers `-2`. 1-1000, default 5.
    pub sms_max_per_second: u32,
    /// An HTTP SMS provider (`http://host[:port]/path`): one form POST per message (`to`,
    /// `text`, `from`). Empty (the default): messages go through the PBX
    /// (`sms_uri_template`). Setting both is refused.
    pub sms_gateway_url: String,
    /// The provider's bearer token; empty (the default): none. Never logged.
    #[serde(deserialize_with = "deserialize_secret")]
    pub sms_gateway_token: Secret,
    /// The CDR field `cdrCustom` reports as `estado`. Default `disposition`.
    pub cdr_custom_estado: String,
    /// The CDR field `cdrCustom` reports as `observaciones`. Default `calldata`.
    pub cdr_custom_observaciones: String,
    /// Queue descriptions (queue name → text); a queue without one is described by its name.
    pub queue_descriptions: BTreeMap<String, String>,
}

impl Default for ExpandConfig {
    fn default() -> Self {
        Self {
            client_networks: vec!["127.0.0.0/8".into(), "::1/128".into()],
            max_report_days: 93,
            short_call_seconds: 10,
            sms_uri_template: String::new(),
            sms_from: String::new(),
            sms_max_per_second: 5,
            sms_gateway_url: String::new(),
            sms_gateway_token: Secret::new(String::new()),
            cdr_custom_estado: "disposition".into(),
            cdr_custom_observaciones: "calldata".into(),
            queue_descriptions: BTreeMap::new(),
        }
    }
}

fn deserialize_secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
    String::deserialize(deserializer).map(Secret::new)
}

/// The CDR fields `cdrCustom` can map: a column, or `calldata:<key>` for one `callinfo` key.
pub const CDR_FIELDS: &[&str] = &[
    "disposition",
    "lastapp",
    "lastdata",
    "userfield",
    "accountcode",
    "amaflags",
    "calldata",
    "dstchannel",
    "channel",
    "dcontext",
    "clid",
    "billsec",
    "recordingfile",
];

/// Whether `field` names a CDR field `cdrCustom` can report.
pub fn is_cdr_field(field: &str) -> bool {
    CDR_FIELDS.contains(&field)
        || field.strip_prefix("calldata:").is_some_and(|k| {
            !k.is_empty()
                && k.len() <= 64
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        })
}

impl ExpandConfig {
    /// The client networks, parsed (validation guarantees they parse).
    pub fn networks(&self) -> Vec<Network> {
        self.client_networks
            .iter()
            .filter_map(|s| Network::parse(s))
            .collect()
    }

    /// The HTTP SMS provider, if configured (validation guarantees the URL parses).
    pub fn sms_http_gateway(&self) -> Option<HttpSmsGateway> {
        let url = HttpUrl::parse(&self.sms_gateway_url)?;
        let token = &self.sms_gateway_token;
        let token = (!token.expose().is_empty()).then(|| token.clone());
        Some(HttpSmsGateway::new(url, token))
    }

    /// The description of `queue`.
    pub fn queue_description<'a>(&'a self, queue: &'a str) -> &'a str {
        self.queue_descriptions
            .get(queue)
            .map_or(queue, String::as_str)
    }

    /// Checks every value; the error names the key and why.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self
            .client_networks
            .iter()
            .any(|n| Network::parse(n).is_none())
        {
            return Err((
                "expand.client_networks",
                "each must be an address or address/prefix",
            ));
        }
        if !(1..=366).contains(&self.max_report_days) {
            return Err(("expand.max_report_days", "must be 1-366"));
        }
        if self.short_call_seconds > 3600 {
            return Err(("expand.short_call_seconds", "must be 0-3600"));
        }
        if !(1..=1000).contains(&self.sms_max_per_second) {
            return Err(("expand.sms_max_per_second", "must be 1-1000"));
        }
        let t = &self.sms_uri_template;
        if !t.is_empty()
            && (!t.contains("{number}")
                || t.len() > 200
                || !t
                    .replace("{number}", "0")
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":@._-+/;=".contains(c)))
        {
            return Err((
                "expand.sms_uri_template",
                "must hold {number} and only letters, digits and :@._-+/;=",
            ));
        }
        if !self.sms_gateway_url.is_empty() {
            if HttpUrl::parse(&self.sms_gateway_url).is_none() {
                return Err((
                    "expand.sms_gateway_url",
                    "must be http://host[:port]/path (visible ASCII)",
                ));
            }
            if !self.sms_uri_template.is_empty() {
                return Err((
                    "expand.sms_gateway_url",
                    "set either sms_gateway_url or sms_uri_template, not both",
                ));
            }
        }
        let token = self.sms_gateway_token.expose();
        if token.len() > 512 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err((
                "expand.sms_gateway_token",
                "must be at most 512 visible ASCII characters",
            ));
        }
        if self.sms_from.len() > 128 || self.sms_from.chars().any(char::is_control) {
            return Err(("expand.sms_from", "must be one line of at most 128 bytes"));
        }
        if !is_cdr_field(&self.cdr_custom_estado) {
            return Err(("expand.cdr_custom_estado", "must be a CDR field"));
        }
        if !is_cdr_field(&self.cdr_custom_observaciones) {
            return Err(("expand.cdr_custom_observaciones", "must be a CDR field"));
        }
        if self
            .queue_descriptions
            .values()
            .any(|d| d.len() > 200 || d.chars().any(char::is_control))
        {
            return Err((
                "expand.queue_descriptions",
                "each must be one line of at most 200 bytes",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_match_their_addresses() {
        let lo = Network::parse("127.0.0.0/8").unwrap();
        assert!(lo.contains("127.1.2.3".parse().unwrap()));
        assert!(lo.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!lo.contains("10.0.0.1".parse().unwrap()));
        let one = Network::parse("192.0.2.7").unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Network::parse("::1/128")
            .unwrap()
            .contains("::1".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "x/8", "10.0.0.0/"] {
            assert!(Network::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn values_are_validated() {
        assert_eq!(ExpandConfig::default().validate(), Ok(()));
        let bad = |f: fn(&mut ExpandConfig)| {
            let mut c = ExpandConfig::default();
            f(&mut c);
            c.validate().unwrap_err().0
        };
        assert_eq!(
            bad(|c| c.client_networks = vec!["nope".into()]),
            "expand.client_networks"
        );
        assert_eq!(bad(|c| c.max_report_days = 0), "expand.max_report_days");
        assert_eq!(
            bad(|c| c.sms_uri_template = "pjsip:carrier/sip:5551@x".into()),
            "expand.sms_uri_template"
        );
        assert_eq!(
            bad(|c| c.sms_uri_template = "pjsip:c/sip:{number}@x&y".into()),
            "expand.sms_uri_template"
        );
        assert_eq!(
            bad(|c| c.cdr_custom_estado = "password".into()),
            "expand.cdr_custom_estado"
        );
        let mut ok = ExpandConfig {
            sms_uri_template: "pjsip:carrier/sip:{number}@127.0.0.2:5060".into(),
            cdr_custom_observaciones: "calldata:cliente".into(),
            ..ExpandConfig::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        ok.sms_max_per_second = 0;
        assert!(ok.validate().is_err());
        let both = ExpandConfig {
            sms_uri_template: "pjsip:carrier/sip:{number}@127.0.0.2".into(),
            sms_gateway_url: "http://127.0.0.1:9000/send".into(),
            ..ExpandConfig::default()
        };
        assert_eq!(both.validate().unwrap_err().0, "expand.sms_gateway_url");
        let http = ExpandConfig {
            sms_gateway_url: "http://127.0.0.1:9000/send".into(),
            sms_gateway_token: Secret::new("abc"),
            ..ExpandConfig::default()
        };
        assert_eq!(http.validate(), Ok(()));
        assert!(http.sms_http_gateway().is_some());
        assert!(
            !format!("{http:?}").contains("abc"),
            "the token is never shown"
        );
        assert_eq!(
            bad(|c| c.sms_gateway_url = "https://x/".into()),
            "expand.sms_gateway_url"
        );
        assert_eq!(
            bad(|c| c.sms_gateway_token = Secret::new("a b")),
            "expand.sms_gateway_token"
        );
    }
}
