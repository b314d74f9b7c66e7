//! The `[expand]` section of the configuration: the eXpand SOAP webservice (`/apiws/2/apiws.php`).

use serde::Deserialize;

/// `[expand]`. Optional; every field has a default.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExpandConfig {}
