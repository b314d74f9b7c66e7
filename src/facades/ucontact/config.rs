//! The `[ucontact]` section of the configuration: the uContact Integra REST API (`/Integra/resources/...`).

use serde::Deserialize;

/// `[ucontact]`. Optional; every field has a default.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UcontactConfig {}
