//! The `callername` script: the dialplan's `to-queue` asks, before a caller enters a queue,
//! `AGI(agi://<engine>/callername,<number>)` (the caller's number cut to digits and `+`). The
//! engine asks the customer's backend (`getCallerIDName`, within the site's limit) and answers
//! `SET VARIABLE CN_B64 <base64 of the cleaned name>`, which the dialplan decodes into
//! `CALLERID(name)`; no name, a failure or a backend past the limit: no answer (the call goes
//! on with the carrier's name).

use base64::Engine as _;
use tracing::debug;

use crate::core::expand_ws::ExpandWebservices;
use crate::core::originate::PhoneNumber;

use super::codec::{AgiRequest, VariableName};
use super::server::{Answer, Script, ScriptFuture};

/// The script's name: the path of its `agi://` URL.
pub const SCRIPT: &str = "callername";

/// The channel variable answered: the name, base64 (one token the dialplan cannot parse).
pub const NAME_VARIABLE: &str = "CN_B64";

/// The caller-name lookup.
pub struct CallerNameScript {
    webservices: ExpandWebservices,
}

impl CallerNameScript {
    /// Asks `webservices`.
    pub fn new(webservices: ExpandWebservices) -> Self {
        Self { webservices }
    }
}

impl Script for CallerNameScript {
    fn answer<'a>(&'a self, request: &'a AgiRequest) -> ScriptFuture<'a> {
        Box::pin(async move {
            let Ok(number) = PhoneNumber::parse(request.arg(1)) else {
                return Answer::new();
            };
            let Some(name) = self.webservices.caller_id_name(number.as_str()).await else {
                return Answer::new();
            };
            debug!(
                uniqueid = request.field("agi_uniqueid"),
                "caller name found by the customer's backend"
            );
            let encoded = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
            VariableName::new(NAME_VARIABLE)
                .map(|v| (v, encoded))
                .into_iter()
                .collect()
        })
    }
}
