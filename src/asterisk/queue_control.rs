//! [`AmiQueueControl`]: the core's [`QueueControl`] port over AMI (`QueueAdd`, `QueueRemove`,
//! `QueuePause`), and the live-state snapshot read with list actions (`QueueStatus`,
//! `DeviceStateList`, `PJSIPShowEndpoints`, `PJSIPShowContacts`, `CoreShowChannels`).
//!
//! Also the pure mapping of Asterisk's member fields, status numbers, device state names and
//! contact URIs into core terms, shared with the live follower.

use std::collections::HashMap;

use crate::core::agents::{QueueControl, QueueControlError};
use crate::core::directory::{AgentNumber, Extension, PauseReasonId, QueueName};
use crate::core::live::{
    CallLive, DeviceStatus, EndpointSnapshot, LiveSnapshot, Pause, QueueMember, QueueSnapshot,
    WaitingCaller,
};
use crate::core::{BoxFuture, ChannelName, UniqueId, UnixTime};

use super::ami::action::{
    CoreShowChannels, DeviceStateList, GetConfig, PJSIPShowContacts, PJSIPShowEndpoints, QueueAdd,
    QueuePause, QueueRemove, QueueStatus,
};
use super::ami::{ActionError, AmiClient, AmiError, AmiMessage};

/// The queue port over one AMI client.
#[derive(Clone, Debug)]
pub struct AmiQueueControl {
    client: AmiClient,
}

impl AmiQueueControl {
    /// Sends through `client`.
    pub fn new(client: AmiClient) -> Self {
        Self { client }
    }
}

fn refused(e: ActionError) -> QueueControlError {
    QueueControlError::Refused(e.to_string())
}

/// Maps an AMI failure of a queue action to the port's error.
fn map_error(e: AmiError) -> QueueControlError {
    match e {
        AmiError::ActionFailed { message, .. } => {
            let m = message.to_ascii_lowercase();
            if m.contains("already there") {
                QueueControlError::AlreadyMember
            } else if m.contains("not there") || m.contains("interface not found") {
                QueueControlError::NotMember
            } else if m.contains("no such queue") {
                QueueControlError::NoSuchQueue
            } else {
                QueueControlError::Refused(message)
            }
        }
        other => QueueControlError::Unavailable(Box::new(other)),
    }
}

impl QueueControl for AmiQueueControl {
    fn add_member<'a>(
        &'a self,
        queue: &'a QueueName,
        extension: &'a Extension,
        agent: &'a AgentNumber,
    ) -> BoxFuture<'a, Result<(), QueueControlError>> {
        Box::pin(async move {
            let iface = extension.interface();
            let action = QueueAdd::new(queue.as_str(), &iface)
                .and_then(|a| a.with_member_name(agent.as_str()))
                .and_then(|a| a.with_state_interface(&iface))
                .map_err(refused)?;
            self.client.send(&action).await.map_err(map_error)?;
            Ok(())
        })
    }

    fn remove_member<'a>(
        &'a self,
        queue: &'a QueueName,
        extension: &'a Extension,
    ) -> BoxFuture<'a, Result<(), QueueControlError>> {
        Box::pin(async move {
            let action =
                QueueRemove::new(queue.as_str(), &extension.interface()).map_err(refused)?;
            self.client.send(&action).await.map_err(map_error)?;
            Ok(())
        })
    }

    fn set_paused<'a>(
        &'a self,
        queue: Option<&'a QueueName>,
        extension: &'a Extension,
        paused: bool,
        reason: Option<&'a PauseReasonId>,
    ) -> BoxFuture<'a, Result<(), QueueControlError>> {
        Box::pin(async move {
            let action = QueuePause::new(
                queue.map(QueueName::as_str),
                &extension.interface(),
                paused,
                reason.map(PauseReasonId::as_str),
            )
            .map_err(refused)?;
            self.client.send(&action).await.map_err(map_error)?;
            Ok(())
        })
    }

    fn endpoint_exists<'a>(
        &'a self,
        extension: &'a Extension,
    ) -> BoxFuture<'a, Result<bool, QueueControlError>> {
        Box::pin(async move {
            let (_, endpoints) = self
                .client
                .send_list(&PJSIPShowEndpoints)
                .await
                .map_err(map_error)?;
            Ok(endpoints.iter().any(|e| {
                e.event_name() == Some("EndpointList")
                    && e.get("ObjectName") == Some(extension.as_str())
            }))
        })
    }

    fn memberships<'a>(
        &'a self,
        agent: &'a AgentNumber,
    ) -> BoxFuture<'a, Result<Vec<(QueueName, String)>, QueueControlError>> {
        Box::pin(async move {
            let status = QueueStatus::new(None, None).map_err(refused)?;
            let (_, events) = self.client.send_list(&status).await.map_err(map_error)?;
            Ok(members_named(&events, agent.as_str()))
        })
    }

    fn snapshot(&self) -> BoxFuture<'_, Result<LiveSnapshot, QueueControlError>> {
        Box::pin(async move {
            let now = UnixTime::now();
            let status = QueueStatus::new(None, None).map_err(refused)?;
            let (_, queue_events) = self.client.send_list(&status).await.map_err(map_error)?;
            let (_, devices) = self
                .client
                .send_list(&DeviceStateList)
                .await
                .map_err(map_error)?;
            let (_, endpoints) = self
                .client
                .send_list(&PJSIPShowEndpoints)
                .await
                .map_err(map_error)?;
            // With no dynamic contact, Asterisk answers "No Contacts found" (an error).
            let contacts = match self.client.send_list(&PJSIPShowContacts).await {
                Ok((_, contacts)) => contacts,
                Err(AmiError::ActionFailed { message, .. }) if message.contains("found") => vec![],
                Err(e) => return Err(map_error(e)),
            };
            let (_, channels) = self
                .client
                .send_list(&CoreShowChannels)
                .await
                .map_err(map_error)?;
            // QueueStatus does not say a queue's wrap-up time: queues.conf does. Without it (a
            // refused GetConfig, realtime queues) the wrap-up time is unknown, not an error.
            let getconfig = GetConfig::new("queues.conf").map_err(refused)?;
            let wrapup = match self.client.send(&getconfig).await {
                Ok(config) => wrapup_times(&config),
                Err(e) => {
                    tracing::warn!(error = %e, "GetConfig queues.conf failed: wrap-up times unknown");
                    HashMap::new()
                }
            };
            Ok(build_snapshot(
                &queue_events,
                &devices,
                &endpoints,
                &contacts,
                &channels,
                &wrapup,
                now,
            ))
        })
    }
}

// ------------------------------------------------------------------------------ pure mapping

/// Asterisk's queue member `Status` number.
pub fn member_status(code: &str) -> DeviceStatus {
    match code.trim() {
        "1" => DeviceStatus::NotInUse,
        "2" => DeviceStatus::InUse,
        "3" => DeviceStatus::Busy,
        "4" => DeviceStatus::Invalid,
        "5" => DeviceStatus::Unavailable,
        "6" => DeviceStatus::Ringing,
        "7" => DeviceStatus::RingInUse,
        "8" => DeviceStatus::OnHold,
        _ => DeviceStatus::Unknown,
    }
}

/// A device state name as `DeviceStateChange` (`NOT_INUSE`) or `EndpointList` (`Not in use`)
/// spell it.
pub fn device_state(name: &str) -> DeviceStatus {
    let n: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase();
    match n.as_str() {
        "NOTINUSE" => DeviceStatus::NotInUse,
        "INUSE" => DeviceStatus::InUse,
        "BUSY" => DeviceStatus::Busy,
        "INVALID" => DeviceStatus::Invalid,
        "UNAVAILABLE" => DeviceStatus::Unavailable,
        "RINGING" => DeviceStatus::Ringing,
        "RINGINUSE" => DeviceStatus::RingInUse,
        "ONHOLD" => DeviceStatus::OnHold,
        _ => DeviceStatus::Unknown,
    }
}

/// The host of a SIP URI (`sip:1005@127.0.1.5:5060;ob` → `127.0.1.5`).
pub fn uri_host(uri: &str) -> Option<String> {
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .unwrap_or(uri);
    let rest = rest.split(';').next().unwrap_or(rest);
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else {
        host_port.split(':').next().unwrap_or(host_port)
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// The endpoint of a PJSIP device or channel (`PJSIP/1005`, `PJSIP/1005-0000001a` → `1005`).
pub fn pjsip_endpoint(device_or_channel: &str) -> Option<&str> {
    let rest = device_or_channel.strip_prefix("PJSIP/")?;
    // A channel name ends in `-<8 hex digits>`; a device has no such suffix.
    match rest.rsplit_once('-') {
        Some((ep, suffix))
            if suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Some(ep)
        }
        _ => Some(rest),
    }
}

fn field<'a>(m: &'a AmiMessage, key: &str) -> &'a str {
    m.get(key).unwrap_or("")
}

fn epoch(m: &AmiMessage, key: &str) -> Option<UnixTime> {
    m.get(key)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v > 0)
        .map(UnixTime)
}

/// A member as a `QueueMember` list event or a `QueueMember*` event reports it. `now` stands in
/// for a pause start Asterisk did not report.
pub fn member_from(m: &AmiMessage, now: UnixTime) -> Option<QueueMember> {
    let interface = m
        .get("Interface")
        .or_else(|| m.get("Location"))
        .filter(|s| !s.is_empty())?
        .to_owned();
    let paused = field(m, "Paused") == "1";
    let reason = m
        .get("PausedReason")
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Some(QueueMember {
        // `QueueMemberAdded`/`QueueMemberStatus` say MemberName, QueueStatus's `QueueMember` Name.
        name: m
            .get("MemberName")
            .filter(|s| !s.is_empty())
            .or_else(|| m.get("Name").filter(|s| !s.is_empty()))
            .unwrap_or(&interface)
            .to_owned(),
        state_interface: m
            .get("StateInterface")
            .filter(|s| !s.is_empty())
            .unwrap_or(&interface)
            .to_owned(),
        status: member_status(field(m, "Status")),
        pause: paused.then(|| Pause {
            reason,
            since: epoch(m, "LastPause").unwrap_or(now),
        }),
        calls_taken: field(m, "CallsTaken").parse().unwrap_or(0),
        logged_in_since: epoch(m, "LoginTime"),
        penalty: field(m, "Penalty").parse().unwrap_or(0),
        last_call: epoch(m, "LastCall"),
        interface,
    })
}

/// `HH:MM:SS` (CoreShowChannel's `Duration`) in seconds.
fn hms(s: &str) -> i64 {
    s.split(':')
        .map(|p| p.trim().parse::<i64>().unwrap_or(0))
        .fold(0, |acc, v| acc * 60 + v)
}

/// The other party of a channel: its connected line, else the extension it dialed.
/// `ChannelState` of a channel that is placing a call not answered yet (Asterisk's `Ring`).
pub const CHANNEL_STATE_RING: &str = "4";

/// `ChannelState` of an answered channel (`Up`).
pub const CHANNEL_STATE_UP: &str = "6";

pub fn peer_of(m: &AmiMessage) -> String {
    let connected = field(m, "ConnectedLineNum");
    if !connected.is_empty() && connected != "<unknown>" {
        connected.to_owned()
    } else {
        field(m, "Exten").to_owned()
    }
}

/// The `(queue, interface)` of every `QueueMember` event (QueueStatus) whose member name is
/// `name`.
pub fn members_named(events: &[AmiMessage], name: &str) -> Vec<(QueueName, String)> {
    events
        .iter()
        .filter(|e| e.event_name() == Some("QueueMember"))
        .filter_map(|e| {
            let queue = QueueName::new(field(e, "Queue")).ok()?;
            let m = member_from(e, UnixTime(0))?;
            (m.name == name).then_some((queue, m.interface))
        })
        .collect()
}

/// Builds the core snapshot from the list actions' events.
/// The `wrapuptime` of every category of a `GetConfig` answer for queues.conf (0 for a
/// category without one, Asterisk's default; the last value wins, as app_queue applies them in
/// order, so a queue's own value overrides its template's).
pub fn wrapup_times(config: &AmiMessage) -> HashMap<String, u32> {
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut out: HashMap<String, u32> = HashMap::new();
    for (key, value) in config.fields() {
        if let Some(index) = key.strip_prefix("Category-") {
            names.insert(index, value);
            out.entry(value.to_owned()).or_insert(0);
        } else if let Some(rest) = key.strip_prefix("Line-") {
            let Some((index, _)) = rest.split_once('-') else {
                continue;
            };
            let Some((k, v)) = value.split_once('=') else {
                continue;
            };
            if !k.trim().eq_ignore_ascii_case("wrapuptime") {
                continue;
            }
            if let (Some(name), Ok(secs)) = (names.get(index), v.trim().parse::<u32>()) {
                out.insert((*name).to_owned(), secs);
            }
        }
    }
    out
}

/// Builds the core snapshot from the list actions' events and the queues' wrap-up times.
pub fn build_snapshot(
    queue_events: &[AmiMessage],
    devices: &[AmiMessage],
    endpoints: &[AmiMessage],
    contacts: &[AmiMessage],
    channels: &[AmiMessage],
    wrapup: &HashMap<String, u32>,
    now: UnixTime,
) -> LiveSnapshot {
    let mut queues: Vec<QueueSnapshot> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for e in queue_events {
        let Ok(name) = QueueName::new(field(e, "Queue")) else {
            continue;
        };
        let i = *index.entry(name.to_string()).or_insert_with(|| {
            queues.push(QueueSnapshot {
                name: name.clone(),
                members: vec![],
                waiting: vec![],
                completed: 0,
                abandoned: 0,
                service_level_secs: 0,
                service_level_perf: 0.0,
                strategy: String::new(),
                wrapup_secs: wrapup.get(name.as_str()).copied(),
            });
            queues.len() - 1
        });
        let q = &mut queues[i];
        match e.event_name() {
            Some("QueueParams") => {
                q.completed = field(e, "Completed").parse().unwrap_or(0);
                q.abandoned = field(e, "Abandoned").parse().unwrap_or(0);
                q.service_level_secs = field(e, "ServiceLevel").parse().unwrap_or(0);
                q.service_level_perf = field(e, "ServicelevelPerf").parse().unwrap_or(0.0);
                q.strategy = field(e, "Strategy").to_owned();
            }
            Some("QueueMember") => q.members.extend(member_from(e, now)),
            Some("QueueEntry") => {
                let wait: i64 = field(e, "Wait").parse().unwrap_or(0);
                q.waiting.push(WaitingCaller {
                    uniqueid: UniqueId::new(field(e, "Uniqueid")),
                    channel: ChannelName::new(field(e, "Channel")),
                    caller_id: field(e, "CallerIDNum").to_owned(),
                    position: field(e, "Position").parse().unwrap_or(0),
                    joined_at: UnixTime(now.seconds() - wait),
                });
            }
            _ => {}
        }
    }

    let mut eps: Vec<EndpointSnapshot> = endpoints
        .iter()
        .filter(|e| e.event_name() == Some("EndpointList"))
        .filter_map(|e| {
            let name = e.get("ObjectName").filter(|s| !s.is_empty())?;
            // `Contacts: 1005/sip:1005@127.0.1.5:5060,` (static and registered contacts).
            let contact_ip = field(e, "Contacts")
                .split(',')
                .filter_map(|c| c.split_once('/').map(|(_, uri)| uri))
                .find_map(uri_host);
            Some(EndpointSnapshot {
                name: name.to_owned(),
                device_state: device_state(field(e, "DeviceState")),
                contact_ip,
                contact_status: None,
            })
        })
        .collect();
    let mut by_name: HashMap<String, usize> = eps
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.clone(), i))
        .collect();
    let mut ep_index = |name: &str, eps: &mut Vec<EndpointSnapshot>| -> usize {
        *by_name.entry(name.to_owned()).or_insert_with(|| {
            eps.push(EndpointSnapshot {
                name: name.to_owned(),
                device_state: DeviceStatus::Unknown,
                contact_ip: None,
                contact_status: None,
            });
            eps.len() - 1
        })
    };
    // DeviceStateList is the fresher device state.
    for d in devices {
        if let Some(ep) = pjsip_endpoint(field(d, "Device")) {
            let i = ep_index(ep, &mut eps);
            eps[i].device_state = device_state(field(d, "State"));
        }
    }
    for c in contacts
        .iter()
        .filter(|c| c.event_name() == Some("ContactList"))
    {
        let name = c
            .get("Endpoint")
            .filter(|s| !s.is_empty())
            .or_else(|| c.get("Aor"))
            .unwrap_or("");
        if name.is_empty() {
            continue;
        }
        let i = ep_index(name, &mut eps);
        eps[i].contact_ip = uri_host(field(c, "Uri"));
        eps[i].contact_status = c.get("Status").filter(|s| !s.is_empty()).map(str::to_owned);
    }
    eps.sort_by(|a, b| a.name.cmp(&b.name));

    let channels = channels
        .iter()
        .filter(|c| c.event_name() == Some("CoreShowChannel"))
        .filter_map(|c| {
            let channel = field(c, "Channel");
            let ep = pjsip_endpoint(channel)?;
            Some((
                ep.to_owned(),
                UniqueId::new(field(c, "Uniqueid")),
                CallLive {
                    channel: ChannelName::new(channel),
                    peer: peer_of(c),
                    since: UnixTime(now.seconds() - hms(field(c, "Duration"))),
                    dialing: field(c, "ChannelState") == CHANNEL_STATE_RING,
                    linkedid: c
                        .get("Linkedid")
                        .filter(|l| !l.is_empty())
                        .map(UniqueId::new),
                    up: field(c, "ChannelState") == CHANNEL_STATE_UP,
                },
            ))
        })
        .collect();

    LiveSnapshot {
        queues,
        endpoints: eps,
        channels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, fields: &[(&str, &str)]) -> AmiMessage {
        let mut m = AmiMessage::new().with("Event", name);
        for (k, v) in fields {
            m.push(*k, *v);
        }
        m
    }

    #[test]
    fn names_and_numbers_map() {
        for (code, s) in [
            ("1", DeviceStatus::NotInUse),
            ("2", DeviceStatus::InUse),
            ("6", DeviceStatus::Ringing),
            ("x", DeviceStatus::Unknown),
        ] {
            assert_eq!(member_status(code), s);
        }
        for (name, s) in [
            ("NOT_INUSE", DeviceStatus::NotInUse),
            ("Not in use", DeviceStatus::NotInUse),
            ("Ring+Inuse", DeviceStatus::RingInUse),
            ("UNAVAILABLE", DeviceStatus::Unavailable),
            ("On Hold", DeviceStatus::OnHold),
        ] {
            assert_eq!(device_state(name), s, "{name}");
        }
        for (uri, host) in [
            ("sip:1005@127.0.1.5:5060", Some("127.0.1.5")),
            ("sip:127.0.0.2:5060", Some("127.0.0.2")),
            ("sip:1005@[::1]:5060;ob", Some("::1")),
            ("", None),
        ] {
            assert_eq!(uri_host(uri).as_deref(), host, "{uri}");
        }
        assert_eq!(pjsip_endpoint("PJSIP/1005"), Some("1005"));
        assert_eq!(pjsip_endpoint("PJSIP/1005-0000001a"), Some("1005"));
        assert_eq!(pjsip_endpoint("PJSIP/my-trunk"), Some("my-trunk"));
        assert_eq!(pjsip_endpoint("Local/1@x-0000001a;1"), None);
    }

    #[test]
    fn ami_errors_map_to_port_errors() {
        let failed = |m: &str| AmiError::ActionFailed {
            action: "X".into(),
            message: m.into(),
        };
        assert!(matches!(
            map_error(failed("Unable to add interface: Already there")),
            QueueControlError::AlreadyMember
        ));
        assert!(matches!(
            map_error(failed("Unable to remove interface: Not there")),
            QueueControlError::NotMember
        ));
        assert!(matches!(
            map_error(failed("Interface not found")),
            QueueControlError::NotMember
        ));
        assert!(matches!(
            map_error(failed("Unable to add interface to queue: No such queue")),
            QueueControlError::NoSuchQueue
        ));
        assert!(matches!(
            map_error(AmiError::Disconnected),
            QueueControlError::Unavailable(_)
        ));
    }

    #[test]
    fn snapshot_from_list_events() {
        let queue = [
            ev(
                "QueueParams",
                &[
                    ("Queue", "q_soporte"),
                    ("Completed", "4"),
                    ("Abandoned", "1"),
                    ("ServiceLevel", "30"),
                    ("ServicelevelPerf", "75.0"),
                    ("Strategy", "leastrecent"),
                ],
            ),
            ev(
                "QueueMember",
                &[
                    ("Queue", "q_soporte"),
                    // As Asterisk 22 sends it: Name, not MemberName.
                    ("Name", "2005"),
                    ("Location", "PJSIP/1005"),
                    ("StateInterface", "PJSIP/1005"),
                    ("CallsTaken", "2"),
                    ("LastCall", "1700000050"),
                    ("Penalty", "3"),
                    ("LastPause", "1700000000"),
                    ("LoginTime", "1699999000"),
                    ("Status", "1"),
                    ("Paused", "1"),
                    ("PausedReason", "almuerzo"),
                ],
            ),
            ev(
                "QueueEntry",
                &[
                    ("Queue", "q_soporte"),
                    ("Position", "1"),
                    ("Channel", "PJSIP/carrier-00000001"),
                    ("Uniqueid", "1700000100.5"),
                    ("CallerIDNum", "099123456"),
                    ("Wait", "7"),
                ],
            ),
        ];
        let devices = [
            ev(
                "DeviceStateChange",
                &[("Device", "PJSIP/1005"), ("State", "INUSE")],
            ),
            ev(
                "DeviceStateChange",
                &[("Device", "Queue:q_soporte_avail"), ("State", "INUSE")],
            ),
        ];
        let endpoints = [
            ev(
                "EndpointList",
                &[
                    ("ObjectName", "1005"),
                    ("DeviceState", "Not in use"),
                    ("Contacts", "1005/sip:1005@127.0.1.5:5060,"),
                ],
            ),
            ev(
                "EndpointList",
                &[("ObjectName", "carrier"), ("DeviceState", "Not in use")],
            ),
        ];
        let contacts = [ev(
            "ContactList",
            &[
                ("Aor", "1005"),
                ("Endpoint", "1005"),
                ("Uri", "sip:1005@127.0.1.5:5060"),
                ("Status", "Reachable"),
            ],
        )];
        let channels = [ev(
            "CoreShowChannel",
            &[
                ("Channel", "PJSIP/1005-0000000a"),
                ("Uniqueid", "1700000100.6"),
                ("ConnectedLineNum", "099123456"),
                ("Exten", "s"),
                ("Duration", "00:01:05"),
            ],
        )];
        let now = UnixTime(1_700_000_200);
        let wrapup = HashMap::from([("q_soporte".to_owned(), 15)]);
        let s = build_snapshot(
            &queue, &devices, &endpoints, &contacts, &channels, &wrapup, now,
        );
        let q = &s.queues[0];
        assert_eq!((q.completed, q.abandoned, q.service_level_secs), (4, 1, 30));
        assert_eq!(
            (q.strategy.as_str(), q.wrapup_secs),
            ("leastrecent", Some(15))
        );
        let m = &q.members[0];
        assert_eq!(m.interface, "PJSIP/1005");
        assert_eq!(m.name, "2005");
        assert_eq!(
            m.pause,
            Some(Pause {
                reason: Some("almuerzo".into()),
                since: UnixTime(1_700_000_000)
            })
        );
        assert_eq!(m.logged_in_since, Some(UnixTime(1_699_999_000)));
        assert_eq!((m.penalty, m.last_call), (3, Some(UnixTime(1_700_000_050))));
        assert_eq!(q.waiting[0].joined_at, UnixTime(1_700_000_193));
        assert_eq!(s.endpoints.len(), 2);
        let e = &s.endpoints[0];
        assert_eq!(e.name, "1005");
        assert_eq!(e.device_state, DeviceStatus::InUse, "DeviceStateList wins");
        assert_eq!(e.contact_ip.as_deref(), Some("127.0.1.5"));
        assert_eq!(e.contact_status.as_deref(), Some("Reachable"));
        let (ep, _, call) = &s.channels[0];
        assert_eq!(ep, "1005");
        assert_eq!(call.peer, "099123456");
        assert_eq!(call.since, UnixTime(1_700_000_135));
    }

    #[test]
    fn wrapup_times_from_getconfig() {
        // As Asterisk 22 answers GetConfig for the lab's queues.conf: a template's variables
        // come first in the queues that use it.
        let mut m = AmiMessage::new();
        for (k, v) in [
            ("Response", "Success"),
            ("Category-000000", "general"),
            ("Line-000000-000000", "persistentmembers=yes"),
            ("Category-000001", "queue-template"),
            ("Templates-000001", ""),
            ("Line-000001-000000", "strategy=rrmemory"),
            ("Line-000001-000001", "wrapuptime=10"),
            ("Category-000002", "q_soporte"),
            ("Line-000002-000000", "strategy=rrmemory"),
            ("Line-000002-000001", "wrapuptime=10"),
            ("Line-000002-000002", "strategy=leastrecent"),
            ("Line-000002-000003", "wrapuptime = 15"),
            ("Category-000003", "q_plain"),
            ("Line-000003-000000", "strategy=ringall"),
            ("Category-000004", "q_bad"),
            ("Line-000004-000000", "wrapuptime=x"),
        ] {
            m.push(k, v);
        }
        let w = wrapup_times(&m);
        assert_eq!(w.get("q_soporte"), Some(&15));
        assert_eq!(w.get("queue-template"), Some(&10));
        assert_eq!(w.get("q_plain"), Some(&0));
        assert_eq!(w.get("q_bad"), Some(&0));
        assert_eq!(w.get("q_missing"), None);
    }
}
