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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ivr::{FlowId, IvrStore};
    use crate::store::SqliteIvr;
    use crate::test_support::TempDir;

    #[tokio::test]
    async fn a_did_goes_to_the_ivr_only_when_routed_and_registered() {
        let dir = TempDir::new("agi-ivr");
        let store = Arc::new(SqliteIvr::open(&dir.path().join("ivr.db")).unwrap());
        let ivr = IvrService::new(store.clone());
        let flow = crate::ivr_json::decode(
            r#"{"id":"f","name":"F","type":"dtmf","start":"fin","version":1,"max_steps":5,
                "nodes":[{"id":"fin","kind":"hangup"}]}"#,
        )
        .unwrap();
        ivr.put_flow(flow).await.unwrap();
        store
            .set_route(&Did::new("26008000").unwrap(), &FlowId::new("f").unwrap())
            .unwrap();
        let ready = Arc::new(AtomicBool::new(false));
        let script = IvrRouteScript::new(ivr, ready.clone());
        // Not registered: the normal route, even for a routed DID.
        assert!(!script.routes("26008000").await.unwrap());
        ready.store(true, Ordering::SeqCst);
        assert!(script.routes("26008000").await.unwrap());
        assert!(!script.routes("26001000").await.unwrap());
        // Not a DID: never routed.
        assert!(!script.routes("2600;8000").await.unwrap());
        assert!(!script.routes("").await.unwrap());
    }
}
