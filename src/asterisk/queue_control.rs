//! [`AmiQueueControl`]: the core's [`QueueControl`] port over AMI (`QueueAdd`, `QueueRemove`,
//! `QueuePause`), and the live-state snapshot, read with the classes the engine's AMI user has
//! (`agent`, `call`, `reporting`; no `system`, no `config`):
//!
//! - queues and members: `QueueStatus`; channels: `CoreShowChannels`; device states:
//!   `DeviceStateList`;
//! - the endpoints: ARI's list of PJSIP endpoints when the node has `[node.ari]` (every one,
//!   reachable or not), plus the `PJSIP/<name>` devices of `DeviceStateList`;
//! - each endpoint's contact (address and qualify status): `Getvar` of res_pjsip's functions,
//!   `PJSIP_ENDPOINT(<name>,aors)` → `PJSIP_AOR(<aor>,contact)` →
//!   `PJSIP_CONTACT(<id>,uri|status)` (static and registered contacts alike);
//! - the queues' wrap-up times: the node's `queues.conf` file
//!   ([`queues_conf`](super::queues_conf)).
//!
//! [`QueueControl::endpoint_exists`] asks `PJSIP_ENDPOINT(<name>,dtmf_mode)` (never empty for
//! an endpoint that exists).
//!
//! Also the pure mapping of Asterisk's member fields, status numbers, device state names and
//! contact URIs into core terms, shared with the event parser ([`events`](super::events)).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use futures_util::StreamExt;

use crate::core::agents::{QueueControl, QueueControlError};
use crate::core::directory::{AgentNumber, Extension, PauseReasonId, QueueName};
use crate::core::live::{
    CallLive, DeviceStatus, EndpointSnapshot, LiveSnapshot, Pause, QueueMember, QueueSnapshot,
    WaitingCaller,
};
use crate::core::{BoxFuture, ChannelName, UniqueId, UnixTime};

use super::ami::action::{
    CoreShowChannels, DeviceStateList, PjsipGetvar, QueueAdd, QueuePause, QueueRemove, QueueStatus,
};
use super::ami::{ActionError, AmiClient, AmiError, AmiMessage};
use super::ari::AriClient;
use super::naming;

/// Endpoints whose contacts are read at once during a snapshot.
const CONTACT_READS_AT_ONCE: usize = 8;

/// The queue port over one AMI client (and, for the list of endpoints, the node's ARI).
#[derive(Clone, Debug)]
pub struct AmiQueueControl {
    client: AmiClient,
    ari: Option<AriClient>,
    queues_conf: Option<PathBuf>,
}

impl AmiQueueControl {
    /// Sends through `client`; endpoints from `DeviceStateList` only, wrap-up times unknown.
    pub fn new(client: AmiClient) -> Self {
        Self {
            client,
            ari: None,
            queues_conf: None,
        }
    }

    /// Lists the endpoints through `ari` too (every configured one, reachable or not).
    pub fn with_ari(mut self, ari: Option<AriClient>) -> Self {
        self.ari = ari;
        self
    }

    /// Reads the queues' wrap-up times from `path` (the node's `queues.conf`).
    pub fn with_queues_conf(mut self, path: impl Into<PathBuf>) -> Self {
        self.queues_conf = Some(path.into());
        self
    }

    /// The value of a PJSIP function (empty when its object does not exist).
    async fn pjsip(&self, read: Result<PjsipGetvar, ActionError>) -> Result<String, AmiError> {
        let answer = self.client.send(&read?).await?;
        Ok(answer.get("Value").unwrap_or("").trim().to_owned())
    }

    /// The endpoint's contacts as `(uri, status)`, in the order Asterisk lists them.
    async fn contacts(&self, endpoint: &str) -> Result<Vec<(String, String)>, AmiError> {
        let mut out = Vec::new();
        let aors = self.pjsip(PjsipGetvar::endpoint(endpoint, "aors")).await?;
        for aor in list_items(&aors) {
            let ids = self.pjsip(PjsipGetvar::aor(aor, "contact")).await?;
            for id in list_items(&ids) {
                let uri = self.pjsip(PjsipGetvar::contact(id, "uri")).await?;
                let status = self.pjsip(PjsipGetvar::contact(id, "status")).await?;
                if !uri.is_empty() {
                    out.push((uri, status));
                }
            }
        }
        Ok(out)
    }

    /// Every endpoint's name and, from ARI, its state.
    async fn endpoint_names(&self, devices: &[AmiMessage]) -> BTreeMap<String, DeviceStatus> {
        let mut names = BTreeMap::new();
        if let Some(ari) = &self.ari {
            match ari.pjsip_endpoints().await {
                Ok(list) => {
                    for e in list {
                        names.insert(e.resource, ari_state(&e.state));
                    }
                }
                Err(e) => tracing::warn!(
                    error = %crate::core::error_chain(&e),
                    "ARI endpoint list failed: only endpoints with a device state are known"
                ),
            }
        }
        for d in devices {
            if let Some(ep) = naming::endpoint_of(field(d, "Device")) {
                names.entry(ep.to_owned()).or_insert(DeviceStatus::Unknown);
            }
        }
        names
    }
}

/// The items of a comma-separated list (`aors`, `contact`), trimmed, empty ones left out.
pub fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// An endpoint's state as ARI names it: `offline` is unavailable, `online` reachable (and
/// idle until its device state says otherwise).
pub fn ari_state(state: &str) -> DeviceStatus {
    match state {
        "online" => DeviceStatus::NotInUse,
        "offline" => DeviceStatus::Unavailable,
        _ => DeviceStatus::Unknown,
    }
}

/// What a snapshot knows of one endpoint besides its device state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointFacts {
    /// The endpoint's name.
    pub name: String,
    /// Its state as the endpoint list says (device states win).
    pub state: DeviceStatus,
    /// Its contact: the first reachable one, else the first; `(uri, status)`.
    pub contact: Option<(String, String)>,
}

/// The contact shown for an endpoint: the first `Reachable` one, else the first.
pub fn pick_contact(contacts: Vec<(String, String)>) -> Option<(String, String)> {
    let reachable = contacts.iter().position(|(_, s)| s == "Reachable");
    contacts.into_iter().nth(reachable.unwrap_or(0))
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
            let iface = naming::device(extension.as_str());
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
            let action = QueueRemove::new(queue.as_str(), &naming::device(extension.as_str()))
                .map_err(refused)?;
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
                &naming::device(extension.as_str()),
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
            let dtmf_mode = self
                .pjsip(PjsipGetvar::endpoint(extension.as_str(), "dtmf_mode"))
                .await
                .map_err(map_error)?;
            Ok(!dtmf_mode.is_empty())
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
            let (_, channels) = self
                .client
                .send_list(&CoreShowChannels)
                .await
                .map_err(map_error)?;
            let names = self.endpoint_names(&devices).await;
            let endpoints: Vec<Result<EndpointFacts, AmiError>> =
                futures_util::stream::iter(names.into_iter().map(|(name, state)| async move {
                    let contact = pick_contact(self.contacts(&name).await?);
                    Ok(EndpointFacts {
                        name,
                        state,
                        contact,
                    })
                }))
                .buffered(CONTACT_READS_AT_ONCE)
                .collect()
                .await;
            let endpoints = endpoints
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_error)?;
            // QueueStatus does not say a queue's wrap-up time: queues.conf does. Without it (no
            // file, realtime queues) the wrap-up time is unknown, not an error.
            let wrapup = match &self.queues_conf {
                Some(path) => match super::queues_conf::read_wrapup_times(path).await {
                    Ok(times) => times,
                    Err(e) => {
                        tracing::warn!(
                            path = %path.display(),
                            error = %e,
                            "queues.conf not readable: wrap-up times unknown"
                        );
                        HashMap::new()
                    }
                },
                None => HashMap::new(),
            };
            Ok(build_snapshot(
                &queue_events,
                &devices,
                &endpoints,
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

/// Builds the core snapshot from the list actions' events, the endpoints and the queues'
/// wrap-up times.
pub fn build_snapshot(
    queue_events: &[AmiMessage],
    devices: &[AmiMessage],
    endpoints: &[EndpointFacts],
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
        .filter(|e| !e.name.is_empty())
        .map(|e| EndpointSnapshot {
            name: e.name.clone(),
            device_state: e.state,
            contact_ip: e.contact.as_ref().and_then(|(uri, _)| uri_host(uri)),
            contact_status: e
                .contact
                .as_ref()
                .map(|(_, status)| status.clone())
                .filter(|s| !s.is_empty()),
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
        if let Some(ep) = naming::endpoint_of(field(d, "Device")) {
            let i = ep_index(ep, &mut eps);
            eps[i].device_state = device_state(field(d, "State"));
        }
    }
    eps.sort_by(|a, b| a.name.cmp(&b.name));

    let channels = channels
        .iter()
        .filter(|c| c.event_name() == Some("CoreShowChannel"))
        .filter_map(|c| {
            let channel = field(c, "Channel");
            let ep = naming::endpoint_of(channel)?;
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
            AmiMessage::event(
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
            AmiMessage::event(
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
            AmiMessage::event(
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
            AmiMessage::event(
                "DeviceStateChange",
                &[("Device", "PJSIP/1005"), ("State", "INUSE")],
            ),
            AmiMessage::event(
                "DeviceStateChange",
                &[("Device", "Queue:q_soporte_avail"), ("State", "INUSE")],
            ),
        ];
        let endpoints = [
            EndpointFacts {
                name: "1005".into(),
                state: DeviceStatus::NotInUse,
                contact: Some(("sip:1005@127.0.1.5:5060".into(), "Reachable".into())),
            },
            EndpointFacts {
                name: "carrier".into(),
                state: DeviceStatus::NotInUse,
                contact: None,
            },
            EndpointFacts {
                name: "1009".into(),
                state: DeviceStatus::Unavailable,
                contact: Some(("sip:1009@10.0.0.9:5060".into(), "".into())),
            },
        ];
        let channels = [AmiMessage::event(
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
        let s = build_snapshot(&queue, &devices, &endpoints, &channels, &wrapup, now);
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
        assert_eq!(s.endpoints.len(), 3);
        let e = &s.endpoints[0];
        assert_eq!(e.name, "1005");
        assert_eq!(e.device_state, DeviceStatus::InUse, "DeviceStateList wins");
        assert_eq!(e.contact_ip.as_deref(), Some("127.0.1.5"));
        assert_eq!(e.contact_status.as_deref(), Some("Reachable"));
        // Known from the endpoint list only: its state and address, no status.
        let e = &s.endpoints[1];
        assert_eq!(e.name, "1009");
        assert_eq!(e.device_state, DeviceStatus::Unavailable);
        assert_eq!(
            (e.contact_ip.as_deref(), e.contact_status.as_deref()),
            (Some("10.0.0.9"), None)
        );
        let (ep, _, call) = &s.channels[0];
        assert_eq!(ep, "1005");
        assert_eq!(call.peer, "099123456");
        assert_eq!(call.since, UnixTime(1_700_000_135));
    }

    #[test]
    fn endpoint_lists_and_contacts() {
        assert_eq!(
            list_items(" 1005, ,1005-b ,").collect::<Vec<_>>(),
            vec!["1005", "1005-b"]
        );
        assert_eq!(list_items("").count(), 0);
        for (state, want) in [
            ("online", DeviceStatus::NotInUse),
            ("offline", DeviceStatus::Unavailable),
            ("unknown", DeviceStatus::Unknown),
        ] {
            assert_eq!(ari_state(state), want, "{state}");
        }
        let c = |uri: &str, status: &str| (uri.to_owned(), status.to_owned());
        assert_eq!(
            pick_contact(vec![c("sip:a@1", "Unreachable"), c("sip:a@2", "Reachable")]),
            Some(c("sip:a@2", "Reachable"))
        );
        assert_eq!(
            pick_contact(vec![c("sip:a@1", "Unknown"), c("sip:a@2", "Unreachable")]),
            Some(c("sip:a@1", "Unknown"))
        );
        assert_eq!(pick_contact(vec![]), None);
    }
}
