//! The live panel (statusQueues) and the queue activity documents.

use super::*;

/// An agent of `statusQueues`' `<agents>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanelAgent {
    /// Agent number.
    pub number: String,
    /// Full name.
    pub name: String,
    /// `offline`, `waiting`, `ringing`, `busy`, `wrapup` or `busyout` (paused everywhere).
    pub status: String,
    /// Epoch seconds of the last change known (0: unknown).
    pub last_change: i64,
    /// Epoch seconds it last refused a queue call at once (0: never seen).
    pub last_congestion: i64,
    /// It needs attention (phone unreachable, pause past its reason's limit).
    pub warning: bool,
}

/// A member of one queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanelMember {
    /// Agent number (or the member name).
    pub agent: String,
    /// Paused in this queue.
    pub paused: bool,
    /// Its status (as for agents, without `offline`).
    pub status: String,
    /// The pause reason's name.
    pub pause_type: String,
}

/// A call in a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanelCall {
    /// `in`.
    pub kind: String,
    /// Caller number.
    pub callerid: String,
    /// Caller name.
    pub calleridname: String,
    /// Epoch seconds connected to an agent (empty while waiting).
    pub connecttime: String,
    /// Epoch seconds it entered the queue (empty when unknown).
    pub intime: String,
    /// The caller's uniqueid.
    pub uniqueid: String,
    /// The agent talking to it (`0` while waiting).
    pub agent: String,
}

/// A queue of `statusQueues`.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelQueue {
    /// Queue name.
    pub qname: String,
    /// Description.
    pub name: String,
    /// Callers who abandoned (since Asterisk's counters were reset).
    pub abandoned: u64,
    /// Calls completed.
    pub completed: u64,
    /// Abandoned (the same counter, as eXpand's panel shows both).
    pub counterabn: u64,
    /// Completed within the service level.
    pub counterans: u64,
    /// Calls being talked.
    pub numongoing: u64,
    /// Callers waiting.
    pub numwaiting: u64,
    /// Service level in percent.
    pub ratio: f64,
    /// Members.
    pub members: Vec<PanelMember>,
    /// Calls waiting or talking.
    pub calls: Vec<PanelCall>,
}

/// `statusQueues`' `<panel>`.
pub fn panel_xml(generated: f64, agents: &[PanelAgent], queues: &[PanelQueue]) -> String {
    let mut out = String::from(XML_DECL);
    start(
        &mut out,
        0,
        "panel",
        &[("generated", &format!("{generated:.2}"))],
    );
    start(&mut out, 1, "agents", &[]);
    for a in agents {
        with_text(
            &mut out,
            2,
            "agent",
            &[
                ("lastcongestion", &a.last_congestion.to_string()),
                ("laststatuschange", &a.last_change.to_string()),
                ("name", &a.name),
                ("status", &a.status),
                ("warning", if a.warning { "1" } else { "0" }),
            ],
            &a.number,
        );
    }
    end(&mut out, 1, "agents");
    start(&mut out, 1, "queues", &[]);
    for q in queues {
        start(
            &mut out,
            2,
            "queue",
            &[("qname", &q.qname), ("name", &q.name)],
        );
        start(&mut out, 3, "qstatus", &[]);
        for (name, value) in [
            ("abandoned", q.abandoned.to_string()),
            ("completed", q.completed.to_string()),
            ("counterabn", q.counterabn.to_string()),
            ("counterans", q.counterans.to_string()),
            ("numongoing", q.numongoing.to_string()),
            ("numwaiting", q.numwaiting.to_string()),
            ("ratio", decimal((q.ratio * 100.0).round() / 100.0)),
        ] {
            with_text(&mut out, 4, name, &[], &value);
        }
        end(&mut out, 3, "qstatus");
        start(&mut out, 3, "qagents", &[]);
        for m in &q.members {
            with_text(
                &mut out,
                4,
                "qagent",
                &[
                    ("logged", "true"),
                    ("paused", bool_text(m.paused)),
                    ("status", &m.status),
                    ("pausetype", &m.pause_type),
                ],
                &m.agent,
            );
        }
        end(&mut out, 3, "qagents");
        start(&mut out, 3, "qcalls", &[]);
        for c in &q.calls {
            with_text(
                &mut out,
                4,
                "call",
                &[
                    ("type", &c.kind),
                    ("callerid", &c.callerid),
                    ("calleridname", &c.calleridname),
                    ("connecttime", &c.connecttime),
                    ("intime", &c.intime),
                    ("uniqueid", &c.uniqueid),
                ],
                &c.agent,
            );
        }
        end(&mut out, 3, "qcalls");
        end(&mut out, 2, "queue");
    }
    end(&mut out, 1, "queues");
    end(&mut out, 0, "panel");
    out
}

/// One `queueData` activity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    /// When.
    pub time: UnixTime,
    /// Queue.
    pub queue: String,
    /// Caller uniqueid or `NONE`.
    pub uniqueid: String,
    /// eXpand's action name.
    pub action: String,
    /// Caller id (`ENTERQUEUE`).
    pub callerid: String,
    /// Agent.
    pub agent: String,
    /// Wait seconds.
    pub waitsec: String,
    /// Talk seconds.
    pub talksec: String,
    /// Transfer or dial destination.
    pub dest: String,
    /// Pause reason.
    pub cause: String,
}

/// `queueData`'s `<queue_activity>`.
pub fn queue_activity_xml(list: &[Activity], tz: &TimeZone) -> String {
    let mut out = String::from(XML_DECL);
    start(&mut out, 0, "queue_activity", &[]);
    for a in list {
        empty(
            &mut out,
            1,
            "activity",
            &[
                ("date", &format_date(a.time, tz)),
                ("queue", &a.queue),
                ("uniqueid", &a.uniqueid),
                ("action", &a.action),
                ("callerid", &a.callerid),
                ("agent", &a.agent),
                ("waitsec", &a.waitsec),
                ("talksec", &a.talksec),
                ("dest", &a.dest),
                ("cause", &a.cause),
            ],
        );
    }
    end(&mut out, 0, "queue_activity");
    out
}
