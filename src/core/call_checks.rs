//! What every call the engine places must name, whichever facade asks: a source phone the PBX
//! has, a trunk the PBX has, and — for a call connected to a DDR — a DDR the site allows.
//!
//! The originate service runs [`CallChecks::check`] before the outbound policy and before a
//! job is stored, so a refused call leaves no job and sends nothing. What the PBX has comes
//! from the live state (the endpoints Asterisk reports, each a phone or a trunk).

use std::sync::Arc;

use super::directory::TrunkName;
use super::live::{EndpointKind, SharedLive};
use super::originate::{Extension, OriginateMode, OriginateRequest};

/// Why a call cannot be placed as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallCheckError {
    /// The source extension is not a phone of the PBX.
    #[error("extension {0} is not a phone of the PBX")]
    UnknownSource(Extension),
    /// The trunk is not a trunk of the PBX.
    #[error("trunk {0} does not exist in the PBX")]
    UnknownTrunk(TrunkName),
    /// The DDR the answered call goes to is not one the site allows.
    #[error("DDR {0} is not allowed")]
    DdrNotAllowed(String),
}

/// Whether `ddr` is one of the site's `ddrs` (the rule [`CallChecks::check`] applies; a
/// facade may ask it before the PBX is connected, to answer its own code).
pub fn ddr_allowed(ddrs: &[String], ddr: &str) -> bool {
    ddrs.iter().any(|d| d == ddr)
}

/// The checks, over the live state and the site's DDRs.
#[derive(Clone)]
pub struct CallChecks {
    live: Arc<SharedLive>,
    ddrs: Arc<Vec<String>>,
}

impl CallChecks {
    /// Checks against `live`; calls connected to a DDR (direct mode) may go to `ddrs` only.
    pub fn new(live: Arc<SharedLive>, ddrs: Vec<String>) -> Self {
        Self {
            live,
            ddrs: Arc::new(ddrs),
        }
    }

    /// Whether `request` names what the PBX has and the site allows.
    pub fn check(&self, request: &OriginateRequest) -> Result<(), CallCheckError> {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        let has = |name: &str, kind: EndpointKind| {
            live.endpoints.get(name).is_some_and(|e| e.kind == kind)
        };
        match &request.mode {
            OriginateMode::ClickToCall { source } => {
                if !has(source.as_str(), EndpointKind::Extension) {
                    return Err(CallCheckError::UnknownSource(source.clone()));
                }
            }
            // The dialer's own calls go to its context with the campaign's queue (validated
            // there); no client can set a dialer leg.
            OriginateMode::Direct { target }
                if request.dialer.is_some()
                    && target.context() == crate::core::dialer::runner::DIALER_CONTEXT => {}
            OriginateMode::Direct { target } => {
                if !ddr_allowed(&self.ddrs, target.exten()) {
                    return Err(CallCheckError::DdrNotAllowed(target.exten().to_owned()));
                }
            }
            OriginateMode::OutsideSource { .. } => {}
        }
        if let Some(trunk) = &request.trunk {
            if !has(trunk.as_str(), EndpointKind::Trunk) {
                return Err(CallCheckError::UnknownTrunk(trunk.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::core::live::{DeviceStatus, EndpointLive, LiveState};
    use crate::core::originate::{DirectTarget, PhoneNumber};

    fn checks() -> CallChecks {
        let mut live = LiveState::default();
        for (name, kind) in [
            ("1001", EndpointKind::Extension),
            ("carrier", EndpointKind::Trunk),
        ] {
            live.endpoints.insert(
                name.into(),
                EndpointLive {
                    kind,
                    device_state: DeviceStatus::NotInUse,
                    contact_ip: None,
                    contact_status: None,
                    calls: BTreeMap::new(),
                },
            );
        }
        CallChecks::new(Arc::new(SharedLive::new(live)), vec!["26002000".into()])
    }

    fn number() -> PhoneNumber {
        PhoneNumber::parse("5551030").unwrap()
    }

    #[test]
    fn sources_trunks_and_ddrs_must_exist() {
        let c = checks();
        let from =
            |ext: &str| OriginateRequest::click_to_call(Extension::parse(ext).unwrap(), number());
        assert_eq!(c.check(&from("1001")), Ok(()));
        assert_eq!(
            c.check(&from("1099")),
            Err(CallCheckError::UnknownSource(
                Extension::parse("1099").unwrap()
            ))
        );
        let trunk = |t: &str| from("1001").with_trunk(TrunkName::new(t).unwrap());
        assert_eq!(c.check(&trunk("carrier")), Ok(()));
        // A phone is no trunk, and a trunk the PBX does not have is refused.
        for t in ["1001", "nao-existe"] {
            assert_eq!(
                c.check(&trunk(t)),
                Err(CallCheckError::UnknownTrunk(TrunkName::new(t).unwrap()))
            );
        }
        let direct = |ddr: &str| {
            OriginateRequest::direct(number(), DirectTarget::new("from-ddr", ddr).unwrap())
        };
        assert_eq!(c.check(&direct("26002000")), Ok(()));
        assert_eq!(
            c.check(&direct("2600")),
            Err(CallCheckError::DdrNotAllowed("2600".into()))
        );
        // An outside source is not a phone: nothing to check but its trunk.
        let outside = OriginateRequest::click_to_call_from("5551234", number(), |_| false).unwrap();
        assert_eq!(c.check(&outside), Ok(()));
    }
}
