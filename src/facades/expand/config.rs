//! The `[expand]` section of the configuration: the eXpand SOAP webservice (`/apiws/2/apiws.php`).
//!
//! ```toml
//! [expand]                                   # optional; every key has a default
//! client_networks = ["127.0.0.0/8", "::1/128"]   # who may call queueData and agentData (no key)
//! max_report_days = 93                       # longest date range of a report (1-366)
//! short_call_seconds = 10                    # agentData: answered calls shorter than this are "cortas"
//! cdr_custom_estado = "disposition"          # cdrCustom's ESTADO: a CDR field (see `CdrField`)
//! cdr_custom_observaciones = "calldata"      # cdrCustom's OBSERVACIONES: a CDR field
//!
//! [expand.queue_descriptions]                # queue → description shown in answers (default: the name)
//! q_ventas = "Ventas"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

pub use crate::net::Network;

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
            cdr_custom_estado: "disposition".into(),
            cdr_custom_observaciones: "calldata".into(),
            queue_descriptions: BTreeMap::new(),
        }
    }
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
            bad(|c| c.cdr_custom_estado = "password".into()),
            "expand.cdr_custom_estado"
        );
        let ok = ExpandConfig {
            cdr_custom_observaciones: "calldata:cliente".into(),
            ..ExpandConfig::default()
        };
        assert_eq!(ok.validate(), Ok(()));
    }
}
