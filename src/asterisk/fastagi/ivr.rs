//! The `ivr` script: the dialplan's `from-carrier` asks, for every inbound call,
//! `AGI(agi://<engine>/ivr,<did>)` (the dialled number cut to digits). The engine answers
//! `SET VARIABLE IVR_ROUTE 1` when the DID is routed to a flow (`centralita admin ivr route`)
//! and its IVR application is registered with Asterisk (so the call will be taken), else
//! `IVR_ROUTE 0`; no answer (engine down, store unreadable): the DID's normal route.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::core::ivr::{Did, IvrService};
use crate::core::off_runtime;

use super::codec::{AgiRequest, VariableName};
use super::server::{Answer, Script, ScriptFuture};

/// The script's name: the path of its `agi://` URL.
pub const SCRIPT: &str = "ivr";

/// The channel variable answered: `1` (to the IVR) or `0`.
pub const ROUTE_VARIABLE: &str = "IVR_ROUTE";

/// Whether a DID goes to the IVR.
pub struct IvrRouteScript {
    ivr: IvrService,
    ready: Arc<AtomicBool>,
}

impl IvrRouteScript {
    /// Asks `ivr`'s routes; `ready` says whether the IVR application is registered.
    pub fn new(ivr: IvrService, ready: Arc<AtomicBool>) -> Self {
        Self { ivr, ready }
    }

    /// Whether calls to `did` go to the IVR now (`Err`: the routes could not be read).
    pub async fn routes(&self, did: &str) -> Result<bool, crate::core::PortError> {
        let Ok(did) = Did::new(did) else {
            return Ok(false);
        };
        if !self.ready.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let store = self.ivr.store().clone();
        off_runtime(move || Ok(store.routes()?.iter().any(|(d, _)| *d == did))).await
    }
}

impl Script for IvrRouteScript {
    fn answer<'a>(&'a self, request: &'a AgiRequest) -> ScriptFuture<'a> {
        Box::pin(async move {
            let Ok(routed) = self.routes(request.arg(1)).await else {
                return Answer::new();
            };
            VariableName::new(ROUTE_VARIABLE)
                .map(|v| (v, if routed { "1" } else { "0" }.to_owned()))
                .into_iter()
                .collect()
        })
    }
}
