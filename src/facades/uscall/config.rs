//! The `[uscall]` section of the configuration: the USCall SOAP webservice (`/aplicativos/webservice/wsuscall.php`).

use serde::Deserialize;

/// `[uscall]`. Optional; every field has a default.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UscallConfig {}
