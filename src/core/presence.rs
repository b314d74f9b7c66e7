//! What an agent or an extension is doing right now, in the terms call-center panels use,
//! decided from the live state alone: pure functions with their rules in one place.
//!
//! Agent ([`agent_presence`]), first rule that applies:
//! 1. no queue membership → not logged in;
//! 2. the member interface is not a PJSIP extension, or the PBX says the device does not exist
//!    → login error;
//! 3. the phone is unreachable (no contact) → extension down;
//! 4. paused in every queue it is in → paused;
//! 5. ringing → ringing; on a call → busy;
//! 6. idle (also during wrap-up) with the device idle → idle;
//! 7. anything else (device state unknown) → unknown.
//!
//! Extension ([`extension_presence`]): dialing (one of its channels places a call the far end
//! has not answered), ringing, busy (on a call or on hold), unavailable (unreachable, invalid
//! or unknown), else available.

use super::live::{Activity, AgentView, DeviceStatus, EndpointLive};
use super::naming::ChannelNaming;

/// An agent's presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentPresence {
    /// Not a member of any queue.
    NotLoggedIn,
    /// Logged in on something that is not a usable extension.
    LoginError,
    /// Logged in, but the phone is unreachable.
    ExtensionDown,
    /// Paused in every queue.
    Paused,
    /// The phone rings.
    Ringing,
    /// On a call.
    Busy,
    /// Free.
    Idle,
    /// The device state is not known.
    Unknown,
}

/// An extension's presence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionPresence {
    /// Free.
    Available,
    /// Unreachable, invalid or unknown.
    Unavailable,
    /// On a call.
    Busy,
    /// Ringing.
    Ringing,
    /// Placing a call the far end has not answered yet.
    Dialing,
}

/// The presence of the agent `view` (`None`: not a member anywhere), whose phone's endpoint is
/// `endpoint` (`None`: the PBX reports no such endpoint); `naming` reads the extension of its
/// interface.
pub fn agent_presence(
    view: Option<&AgentView>,
    naming: &dyn ChannelNaming,
    endpoint: Option<&EndpointLive>,
) -> AgentPresence {
    let Some(view) = view.filter(|v| v.logged_in()) else {
        return AgentPresence::NotLoggedIn;
    };
    if naming.extension_of(&view.interface).is_none() {
        return AgentPresence::LoginError;
    }
    let device = endpoint.map_or(DeviceStatus::Invalid, |e| e.device_state);
    match device {
        DeviceStatus::Invalid => return AgentPresence::LoginError,
        DeviceStatus::Unavailable => return AgentPresence::ExtensionDown,
        _ => {}
    }
    if view.pause().is_some() {
        return AgentPresence::Paused;
    }
    match (&view.activity, device) {
        (Activity::Ringing { .. }, _) | (_, DeviceStatus::Ringing) => AgentPresence::Ringing,
        (Activity::Talking { .. }, _) => AgentPresence::Busy,
        (_, d) if d.is_busy() => AgentPresence::Busy,
        (_, DeviceStatus::NotInUse) => AgentPresence::Idle,
        _ => AgentPresence::Unknown,
    }
}

/// The presence of an extension's endpoint.
pub fn extension_presence(endpoint: &EndpointLive) -> ExtensionPresence {
    if endpoint.dialing() {
        return ExtensionPresence::Dialing;
    }
    match endpoint.device_state {
        DeviceStatus::Ringing | DeviceStatus::RingInUse => ExtensionPresence::Ringing,
        d if d.is_busy() => ExtensionPresence::Busy,
        DeviceStatus::NotInUse => ExtensionPresence::Available,
        _ => ExtensionPresence::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::directory::QueueName;
    use crate::core::live::{EndpointKind, Pause};
    use crate::core::UnixTime;
    use std::collections::BTreeMap;

    fn view(interface: &str, paused: bool, activity: Activity) -> AgentView {
        let mut queues = BTreeMap::new();
        queues.insert(
            QueueName::new("q_soporte").unwrap(),
            paused.then(|| Pause {
                reason: Some("almoco".into()),
                since: UnixTime(1),
            }),
        );
        AgentView {
            interface: interface.into(),
            name: "2204".into(),
            queues,
            activity,
            since: None,
        }
    }

    fn endpoint(state: DeviceStatus) -> EndpointLive {
        EndpointLive {
            kind: EndpointKind::Extension,
            device_state: state,
            contact_ip: Some("127.0.1.4".into()),
            contact_status: None,
            calls: BTreeMap::new(),
        }
    }

    #[test]
    fn agent_presence_rules_in_order() {
        use AgentPresence::*;
        let idle = Activity::Idle;
        let talking = Activity::Talking {
            queue: None,
            caller: None,
        };
        let ringing = Activity::Ringing {
            queue: None,
            caller: None,
        };
        let ok = "PJSIP/1004";
        let e = |s| Some(endpoint(s));
        let cases: Vec<(Option<AgentView>, Option<EndpointLive>, AgentPresence)> = vec![
            (None, e(DeviceStatus::NotInUse), NotLoggedIn),
            (
                Some(view("Local/1004@x", false, idle.clone())),
                e(DeviceStatus::NotInUse),
                LoginError,
            ),
            (Some(view(ok, false, idle.clone())), None, LoginError),
            (
                Some(view(ok, false, idle.clone())),
                e(DeviceStatus::Invalid),
                LoginError,
            ),
            (
                Some(view(ok, true, idle.clone())),
                e(DeviceStatus::Unavailable),
                ExtensionDown,
            ),
            (
                Some(view(ok, true, talking.clone())),
                e(DeviceStatus::InUse),
                Paused,
            ),
            (
                Some(view(ok, false, ringing)),
                e(DeviceStatus::NotInUse),
                Ringing,
            ),
            (
                Some(view(ok, false, idle.clone())),
                e(DeviceStatus::Ringing),
                Ringing,
            ),
            (
                Some(view(ok, false, talking)),
                e(DeviceStatus::NotInUse),
                Busy,
            ),
            (
                Some(view(ok, false, idle.clone())),
                e(DeviceStatus::OnHold),
                Busy,
            ),
            (
                Some(view(ok, false, idle.clone())),
                e(DeviceStatus::NotInUse),
                Idle,
            ),
            (
                Some(view(
                    ok,
                    false,
                    Activity::WrapUp {
                        queue: QueueName::new("q").unwrap(),
                    },
                )),
                e(DeviceStatus::NotInUse),
                Idle,
            ),
            (
                Some(view(ok, false, idle)),
                e(DeviceStatus::Unknown),
                Unknown,
            ),
        ];
        for (v, ep, want) in cases {
            assert_eq!(
                agent_presence(v.as_ref(), &*crate::test_support::naming(), ep.as_ref()),
                want,
                "{v:?} {ep:?}"
            );
        }
    }

    #[test]
    fn extension_presence_from_device_state() {
        use ExtensionPresence::*;
        for (s, want) in [
            (DeviceStatus::NotInUse, Available),
            (DeviceStatus::InUse, Busy),
            (DeviceStatus::Busy, Busy),
            (DeviceStatus::OnHold, Busy),
            (DeviceStatus::Ringing, Ringing),
            (DeviceStatus::RingInUse, Ringing),
            (DeviceStatus::Unavailable, Unavailable),
            (DeviceStatus::Invalid, Unavailable),
            (DeviceStatus::Unknown, Unavailable),
        ] {
            assert_eq!(extension_presence(&endpoint(s)), want, "{s:?}");
        }
    }

    #[test]
    fn a_dialing_channel_wins_over_the_device_state() {
        use crate::core::ids::{ChannelName, UniqueId};
        use crate::core::live::CallLive;
        let mut e = endpoint(DeviceStatus::InUse);
        let call = |dialing| CallLive {
            channel: ChannelName::new("PJSIP/1004-1"),
            peer: "5553".into(),
            since: UnixTime(1),
            dialing,
            linkedid: None,
            up: false,
        };
        e.calls.insert(UniqueId::new("u1"), call(false));
        assert_eq!(extension_presence(&e), ExtensionPresence::Busy);
        e.calls.insert(UniqueId::new("u1"), call(true));
        assert_eq!(extension_presence(&e), ExtensionPresence::Dialing);
        e.device_state = DeviceStatus::RingInUse;
        assert_eq!(extension_presence(&e), ExtensionPresence::Dialing);
    }
}
