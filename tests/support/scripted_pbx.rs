//! A small scripted PBX over the fake AMI: it answers every action the engine sends the way
//! Asterisk 22 does for a site with phones 1001-1004 and 1100, the trunk `carrier` and the queue
//! `q_ventas` (queue members kept as the engine adds, pauses and removes them, with the events
//! Asterisk sends for each change), and records every action it received so a test can assert
//! what reached the PBX — and what did not. Events of calls are the test's to send
//! ([`ScriptedPbx::event`], [`ScriptedPbx::raw`]), as Asterisk would for the call it placed;
//! the device states `DeviceStateList` reports are the test's too
//! ([`ScriptedPbx::set_device_state`], every device `NOT_INUSE` until then).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::fake_ami::{FakeAmi, Incoming, Out};

/// The phones the scripted PBX has (PJSIP endpoints with a device state).
pub const PHONES: &[&str] = &["1001", "1002", "1003", "1004", "1100"];
/// Its queue.
pub const QUEUE: &str = "q_ventas";

/// One action the PBX received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub fields: Vec<(String, String)>,
}

impl Seen {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    pub fn action(&self) -> &str {
        self.get("Action").unwrap_or("")
    }

    /// Every `Variable` line (Originate sends one per variable).
    pub fn variables(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("Variable"))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Clone, Debug)]
struct Member {
    queue: String,
    interface: String,
    name: String,
    paused: bool,
    reason: String,
    login: String,
}

impl Member {
    /// The member's fields as Asterisk 22 sends them in `event` (`QueueMember` of a
    /// `QueueStatus` list names the member `Name` and its interface `Location`; the
    /// `QueueMember*` events say `MemberName` and `Interface`).
    fn message<'a>(&'a self, event: &'a str) -> Vec<(&'a str, &'a str)> {
        let listed = event == "QueueMember";
        vec![
            ("Event", event),
            ("Queue", &self.queue),
            (if listed { "Name" } else { "MemberName" }, &self.name),
            (
                if listed { "Location" } else { "Interface" },
                &self.interface,
            ),
            ("StateInterface", &self.interface),
            ("Membership", "dynamic"),
            ("Penalty", "0"),
            ("CallsTaken", "0"),
            ("LastCall", "0"),
            ("LastPause", "0"),
            ("LoginTime", &self.login),
            ("InCall", "0"),
            ("Status", "1"),
            ("Paused", if self.paused { "1" } else { "0" }),
            ("PausedReason", &self.reason),
            ("Wrapuptime", "0"),
        ]
    }
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    members: Vec<Member>,
    /// Device (`PJSIP/1001`) → the state `DeviceStateList` reports, when not `NOT_INUSE`.
    devices: HashMap<String, String>,
    /// What `CoreShowChannels` lists: channel, context, exten, uniqueid.
    channels: Vec<[String; 4]>,
    out: Option<Out>,
}

/// The scripted PBX; dropping it stops the fake server.
pub struct ScriptedPbx {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedPbx {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedPbx {
    pub async fn start() -> Self {
        let mut fake = FakeAmi::start().await;
        let addr = fake.addr;
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let task = {
            let state = state.clone();
            let changed = changed.clone();
            tokio::spawn(async move {
                // The fake stops with this task (it owns it).
                while let Some(action) = fake.try_next_action(Duration::from_secs(3600)).await {
                    answer(&state, &action);
                    changed.notify_waiters();
                }
            })
        };
        Self {
            addr,
            state,
            changed,
            task,
        }
    }

    /// Every action received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The actions named `name` received so far.
    pub fn named(&self, name: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.action().eq_ignore_ascii_case(name))
            .collect()
    }

    /// How many actions have been received so far (a mark for [`ScriptedPbx::since`]).
    pub fn mark(&self) -> usize {
        self.state.lock().unwrap().seen.len()
    }

    /// The actions received after `mark`, leaving out the periodic and read-only ones the
    /// engine sends by itself (snapshots, endpoint reads, keep-alives).
    pub fn commands_since(&self, mark: usize) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .skip(mark)
            .filter(|s| !is_read(s.action()))
            .collect()
    }

    /// Waits (up to 5 s) for an action named `name` after `mark` that satisfies `accept`.
    pub async fn wait_for(&self, mark: usize, name: &str, accept: impl Fn(&Seen) -> bool) -> Seen {
        let within = Duration::from_secs(5);
        match self.next_within(mark, name, accept, within).await {
            Some(s) => s,
            None => panic!(
                "no {name} reached the PBX within {within:?}; received: {:#?}",
                self.commands_since(mark)
            ),
        }
    }

    /// The first action named `name` after `mark` that satisfies `accept`, waiting for it up to
    /// `within`; `None` if none came.
    pub async fn next_within(
        &self,
        mark: usize,
        name: &str,
        accept: impl Fn(&Seen) -> bool,
        within: Duration,
    ) -> Option<Seen> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            if let Some(s) = self
                .seen()
                .into_iter()
                .skip(mark)
                .find(|s| s.action().eq_ignore_ascii_case(name) && accept(s))
            {
                return Some(s);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The state `DeviceStateList` reports for `device` (`PJSIP/1001`) from now on; the test
    /// sends the matching `DeviceStateChange` itself, when it wants one.
    pub fn set_device_state(&self, device: &str, state: &str) {
        self.state
            .lock()
            .unwrap()
            .devices
            .insert(device.to_owned(), state.to_owned());
    }

    /// Closes the engine's connection (after what was written before); the engine reconnects
    /// to the same PBX.
    /// The channels `CoreShowChannels` lists from now on: (channel, context, exten, uniqueid).
    pub fn set_channels(&self, channels: &[(&str, &str, &str, &str)]) {
        self.state.lock().unwrap().channels = channels
            .iter()
            .map(|(c, x, e, u)| [(*c).into(), (*x).into(), (*e).into(), (*u).into()])
            .collect();
    }

    pub fn drop_connection(&self) {
        let out = self.state.lock().unwrap().out.clone();
        out.expect("the engine is connected").close();
    }

    /// Writes raw bytes (many events at once, say) on the engine's connection.
    pub fn raw(&self, bytes: Vec<u8>) {
        let out = self.state.lock().unwrap().out.clone();
        out.expect("the engine is connected").raw(bytes);
    }

    /// Sends an event on the engine's connection, as Asterisk would.
    pub fn event(&self, fields: &[(&str, &str)]) {
        let out = self.state.lock().unwrap().out.clone();
        out.expect("the engine is connected").message(fields);
    }

    /// The queue's members as `(interface, member name, paused)`.
    pub fn members(&self) -> Vec<(String, String, bool)> {
        self.state
            .lock()
            .unwrap()
            .members
            .iter()
            .map(|m| (m.interface.clone(), m.name.clone(), m.paused))
            .collect()
    }
}

/// Actions that only read (snapshots, endpoint reads, settings) or keep the connection alive.
fn is_read(action: &str) -> bool {
    matches!(
        action.to_ascii_lowercase().as_str(),
        "queuestatus"
            | "devicestatelist"
            | "coreshowchannels"
            | "getvar"
            | "coresettings"
            | "corestatus"
            | "dbget"
            | "dbgettree"
            | "ping"
            | "events"
    )
}

fn endpoint_of(interface: &str) -> Option<&str> {
    interface
        .strip_prefix("PJSIP/")
        .filter(|e| PHONES.contains(e) || *e == "carrier")
}

fn answer(state: &Mutex<State>, a: &Incoming) {
    let mut st = state.lock().unwrap();
    st.out = Some(a.out.clone());
    st.seen.push(Seen {
        fields: a.fields.clone(),
    });
    let id = a.action_id().to_owned();
    let event = |fields: &[(&str, &str)]| {
        let mut all = fields.to_vec();
        all.push(("ActionID", id.as_str()));
        a.out.message(&all);
    };
    match a.action().to_ascii_lowercase().as_str() {
        "devicestatelist" => {
            a.respond("Success", &[("EventList", "start")]);
            for phone in PHONES.iter().copied().chain(["carrier"]) {
                let device = format!("PJSIP/{phone}");
                let state = st.devices.get(&device).map_or("NOT_INUSE", String::as_str);
                event(&[
                    ("Event", "DeviceStateChange"),
                    ("Device", &device),
                    ("State", state),
                ]);
            }
            event(&[
                ("Event", "DeviceStateListComplete"),
                ("EventList", "Complete"),
                ("ListItems", "6"),
            ]);
        }
        "queuestatus" => {
            a.respond(
                "Success",
                &[
                    ("EventList", "start"),
                    ("Message", "Queue status will follow"),
                ],
            );
            event(&[
                ("Event", "QueueParams"),
                ("Queue", QUEUE),
                ("Max", "0"),
                ("Strategy", "rrmemory"),
                ("Calls", "0"),
                ("Holdtime", "0"),
                ("TalkTime", "0"),
                ("Completed", "0"),
                ("Abandoned", "0"),
                ("ServiceLevel", "0"),
                ("ServicelevelPerf", "0.0"),
                ("ServicelevelPerf2", "0.0"),
                ("Weight", "0"),
            ]);
            for m in &st.members {
                event(&m.message("QueueMember"));
            }
            event(&[
                ("Event", "QueueStatusComplete"),
                ("EventList", "Complete"),
                ("ListItems", "1"),
            ]);
        }
        "coreshowchannels" => {
            a.respond(
                "Success",
                &[("EventList", "start"), ("Message", "Channels will follow")],
            );
            for [channel, context, exten, uniqueid] in &st.channels {
                event(&[
                    ("Event", "CoreShowChannel"),
                    ("Channel", channel),
                    ("ChannelState", "6"),
                    ("ChannelStateDesc", "Up"),
                    ("Context", context),
                    ("Exten", exten),
                    ("Priority", "3"),
                    ("Uniqueid", uniqueid),
                    ("Linkedid", uniqueid),
                    ("Application", "Queue"),
                ]);
            }
            let items = st.channels.len().to_string();
            event(&[
                ("Event", "CoreShowChannelsComplete"),
                ("EventList", "Complete"),
                ("ListItems", &items),
            ]);
        }
        "getvar" => {
            // PJSIP_ENDPOINT(<endpoint>,dtmf_mode) says whether the endpoint exists; no contacts.
            let variable = a.get("Variable").unwrap_or("");
            let value = variable
                .strip_prefix("PJSIP_ENDPOINT(")
                .and_then(|rest| rest.strip_suffix(",dtmf_mode)"))
                .filter(|e| PHONES.contains(e) || *e == "carrier")
                .map_or("", |_| "rfc4733");
            a.respond("Success", &[("Variable", variable), ("Value", value)]);
        }
        "coresettings" => a.respond(
            "Success",
            &[("AMIversion", "9.0.0"), ("AsteriskVersion", "22.0.0")],
        ),
        "queueadd" => {
            let queue = a.get("Queue").unwrap_or("").to_owned();
            let interface = a.get("Interface").unwrap_or("").to_owned();
            let name = a.get("MemberName").unwrap_or(&interface).to_owned();
            if queue != QUEUE || endpoint_of(&interface).is_none() {
                a.respond(
                    "Error",
                    &[("Message", "Unable to add interface to queue: No such queue")],
                );
            } else if st
                .members
                .iter()
                .any(|m| m.queue == queue && m.interface == interface)
            {
                a.respond(
                    "Error",
                    &[("Message", "Unable to add interface: Already there")],
                );
            } else {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
                    .to_string();
                let member = Member {
                    queue: queue.clone(),
                    interface: interface.clone(),
                    name: name.clone(),
                    paused: false,
                    reason: String::new(),
                    login: now.clone(),
                };
                a.respond("Success", &[("Message", "Added interface to queue")]);
                a.out.message(&member.message("QueueMemberAdded"));
                st.members.push(member);
            }
        }
        "queueremove" => {
            let queue = a.get("Queue").unwrap_or("").to_owned();
            let interface = a.get("Interface").unwrap_or("").to_owned();
            match st
                .members
                .iter()
                .position(|m| m.queue == queue && m.interface == interface)
            {
                Some(i) => {
                    let m = st.members.remove(i);
                    a.respond("Success", &[("Message", "Removed interface from queue")]);
                    a.out.message(&m.message("QueueMemberRemoved"));
                }
                None => a.respond(
                    "Error",
                    &[("Message", "Unable to remove interface: Not there")],
                ),
            }
        }
        "queuepause" => {
            let interface = a.get("Interface").unwrap_or("").to_owned();
            let paused = a
                .get("Paused")
                .is_some_and(|p| p.eq_ignore_ascii_case("true"));
            let reason = a.get("Reason").unwrap_or("").to_owned();
            let only = a.get("Queue").map(str::to_owned);
            let mut changed = Vec::new();
            for m in st
                .members
                .iter_mut()
                .filter(|m| m.interface == interface && only.as_ref().is_none_or(|q| *q == m.queue))
            {
                m.paused = paused;
                m.reason = if paused {
                    reason.clone()
                } else {
                    String::new()
                };
                changed.push(m.clone());
            }
            if changed.is_empty() {
                a.respond("Error", &[("Message", "Interface not found")]);
            } else {
                a.respond("Success", &[("Message", "Interface paused successfully")]);
                for m in changed {
                    a.out.message(&m.message("QueueMemberPause"));
                }
            }
        }
        "originate" => a.respond("Success", &[("Message", "Originate successfully queued")]),
        "hangup" => a.respond("Success", &[("Message", "Channel Hungup")]),
        "messagesend" => a.respond("Success", &[("Message", "Message successfully sent")]),
        "dbgettree" => {
            a.respond("Success", &[("EventList", "start")]);
            event(&[
                ("Event", "DBGetTreeComplete"),
                ("EventList", "Complete"),
                ("ListItems", "0"),
            ]);
        }
        "dbget" => a.respond("Error", &[("Message", "Database entry not found")]),
        _ => a.respond("Success", &[]),
    }
}
