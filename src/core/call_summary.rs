//! One line per customer call, derived from the journal: its kind (inbound, outbound, internal,
//! click-to-call), how it ended, who called whom, through which trunk and DID, how long it
//! waited and lasted, its recording and its integrator id; and the outbound legs of calls for
//! tariffing. Pure functions over [`Call`]s (CDR legs grouped by `linkedid`, see
//! [`super::reports::calls`]) and the call's `queue_log` records.
//!
//! Rules (the lab's dialplan names; a site with other contexts sets [`CallRules`]):
//! - **kind**: a call whose first leg is a `Local/...@<originate context>` channel is a
//!   click-to-call (an engine originate that dials a number and connects it to a dialplan
//!   target); else one whose first leg comes from a trunk is inbound; else one with a leg in an
//!   outbound context or bridged to a trunk is outbound; anything else is internal. Trunks are
//!   the PJSIP endpoints whose name is not all digits (as the live state classifies them).
//! - **status**: a transfer in `queue_log` (or a `Transfer` leg) is a transfer. A queue call is
//!   completed when an agent connected, abandoned when the caller hung up waiting, empty queue
//!   when it left for lack of members, no answer when it timed out. Otherwise the leg that
//!   dialed the far party decides by its disposition (answered → completed, busy, no answer,
//!   failed/congestion → unavailable); without such a leg, the first leg does.
//! - **wait**: a queue call's hold time (`CONNECT`); otherwise the dialing leg's duration minus
//!   its billable seconds; an unanswered call waited all its duration.

use super::journal::{CdrRecord, Disposition, QueueEvent, QueueLogRecord, UnixTime};
use super::live::EndpointKind;
use super::recordings::call_data_value;
use super::reports::Call;

/// Where a site's calls go, by dialplan context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRules {
    /// The context engine originates enter (`centralita-originate`).
    pub originate_context: String,
    /// Contexts whose legs dial out (`outbound`).
    pub outbound_contexts: Vec<String>,
}

impl Default for CallRules {
    fn default() -> Self {
        Self {
            originate_context: "centralita-originate".to_owned(),
            outbound_contexts: vec!["outbound".to_owned()],
        }
    }
}

/// What kind of call it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// From a trunk to the site.
    Inbound,
    /// From an extension out through a trunk.
    Outbound,
    /// Between extensions.
    Internal,
    /// A number dialed by the engine and connected to a dialplan target (a DID, a queue).
    ClickToCall,
}

/// How the call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallStatus {
    /// Answered and ended normally.
    Completed,
    /// Never answered.
    NoAnswer,
    /// Transferred.
    Transferred,
    /// The far end was busy.
    Busy,
    /// The caller hung up while waiting in a queue.
    Abandoned,
    /// The far end could not be reached (failure, congestion).
    Unavailable,
    /// The queue had no members to take it.
    EmptyQueue,
}

/// One customer call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSummary {
    /// The call's id (`linkedid`).
    pub linkedid: String,
    /// Every leg's uniqueid.
    pub uniqueids: Vec<String>,
    /// When it started.
    pub start: UnixTime,
    /// Its kind.
    pub kind: CallKind,
    /// How it ended.
    pub status: CallStatus,
    /// The number that called (first leg's `src`).
    pub source: String,
    /// The number called: the dialed number (outbound, internal, click-to-call) or the
    /// extension that answered, else the DID (inbound).
    pub destination: String,
    /// The DID an inbound (or click-to-call) call came to, if any.
    pub did: Option<String>,
    /// The trunk the call used, if any.
    pub trunk: Option<String>,
    /// Seconds before it was answered.
    pub wait_secs: i64,
    /// Seconds from start to end.
    pub duration_secs: i64,
    /// The recording file (relative to the recordings directory), if any.
    pub recording: Option<String>,
    /// The integrator's id (`idcti` call data), if any.
    pub idcti: Option<String>,
    /// The engine's originate job id (the CDR `userfield` of originated calls), if any.
    pub originate_id: Option<String>,
}

/// An outbound leg (an extension's call out through a trunk), for tariffing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundLeg {
    /// The call's id (`linkedid`).
    pub linkedid: String,
    /// The leg's uniqueid.
    pub uniqueid: String,
    /// When the leg started.
    pub start: UnixTime,
    /// The calling extension (the leg's endpoint), if it is one.
    pub extension: Option<String>,
    /// The calling channel.
    pub channel: String,
    /// The number dialed.
    pub number: String,
    /// The trunk.
    pub trunk: String,
    /// The trunk's channel.
    pub trunk_channel: String,
    /// How the leg ended.
    pub status: CallStatus,
    /// Total seconds.
    pub duration_secs: i64,
    /// Seconds after answer.
    pub billsec: i64,
}

/// The PJSIP endpoint of a channel name (`PJSIP/1004-0000001a` → `1004`).
pub fn endpoint_of(channel: &str) -> Option<&str> {
    let rest = channel.strip_prefix("PJSIP/")?;
    let end = rest.rfind('-').unwrap_or(rest.len());
    let name = &rest[..end];
    (!name.is_empty()).then_some(name)
}

fn is_trunk_channel(channel: &str) -> bool {
    endpoint_of(channel).is_some_and(|e| EndpointKind::classify(e) == EndpointKind::Trunk)
}

fn is_extension_channel(channel: &str) -> bool {
    endpoint_of(channel).is_some_and(|e| EndpointKind::classify(e) == EndpointKind::Extension)
}

fn status_of(d: &Disposition) -> CallStatus {
    match d {
        Disposition::Answered => CallStatus::Completed,
        Disposition::Busy => CallStatus::Busy,
        Disposition::NoAnswer => CallStatus::NoAnswer,
        Disposition::Failed | Disposition::Congestion => CallStatus::Unavailable,
        Disposition::Other(_) => CallStatus::NoAnswer,
    }
}

fn dst_channel(leg: &CdrRecord) -> &str {
    leg.dstchannel.as_ref().map_or("", |c| c.as_str())
}

/// The kind of `call`.
pub fn kind_of(call: &Call, rules: &CallRules) -> CallKind {
    let Some(first) = call.legs.first() else {
        return CallKind::Internal;
    };
    let channel = first.channel.as_str();
    if channel.starts_with("Local/") && channel.contains(&format!("@{}", rules.originate_context)) {
        return CallKind::ClickToCall;
    }
    if is_trunk_channel(channel) {
        return CallKind::Inbound;
    }
    let out = call
        .legs
        .iter()
        .any(|l| rules.outbound_contexts.contains(&l.dcontext) || is_trunk_channel(dst_channel(l)));
    if out {
        CallKind::Outbound
    } else {
        CallKind::Internal
    }
}

/// The leg that dialed the far party: bridged to a trunk for outbound and click-to-call
/// calls, to an extension otherwise (answered legs first).
fn dialing_leg(call: &Call, kind: CallKind) -> Option<&CdrRecord> {
    let wanted = |l: &&CdrRecord| match kind {
        CallKind::Outbound | CallKind::ClickToCall => is_trunk_channel(dst_channel(l)),
        CallKind::Internal | CallKind::Inbound => is_extension_channel(dst_channel(l)),
    };
    call.legs
        .iter()
        .filter(wanted)
        .find(|l| l.disposition == Disposition::Answered)
        .or_else(|| call.legs.iter().find(wanted))
}

/// Summarises `call`; `queue` holds the `queue_log` records of its callers (any order).
pub fn summarize(call: &Call, queue: &[QueueLogRecord], rules: &CallRules) -> CallSummary {
    let kind = kind_of(call, rules);
    let first = call.legs.first();
    let uniqueids: Vec<String> = call
        .legs
        .iter()
        .map(|l| l.uniqueid.as_str().to_owned())
        .collect();
    let mine: Vec<&QueueLogRecord> = queue
        .iter()
        .filter(|r| uniqueids.contains(&r.callid) || r.callid == call.linkedid.as_str())
        .collect();
    let has = |e: &QueueEvent| mine.iter().any(|r| &r.event == e);
    let dial = dialing_leg(call, kind);
    let transferred = has(&QueueEvent::Transfer)
        || has(&QueueEvent::BlindTransfer)
        || has(&QueueEvent::AttendedTransfer)
        || call.legs.iter().any(|l| l.lastapp == "Transfer");
    let connect = mine.iter().find(|r| r.event == QueueEvent::Connect);
    let status = if transferred {
        CallStatus::Transferred
    } else if connect.is_some() {
        CallStatus::Completed
    } else if has(&QueueEvent::Abandon) {
        CallStatus::Abandoned
    } else if has(&QueueEvent::ExitEmpty) {
        CallStatus::EmptyQueue
    } else if has(&QueueEvent::ExitWithTimeout) || has(&QueueEvent::ExitWithKey) {
        CallStatus::NoAnswer
    } else if let Some(leg) = dial {
        status_of(&leg.disposition)
    } else if kind == CallKind::Inbound && !mine.is_empty() {
        CallStatus::Abandoned
    } else {
        first.map_or(CallStatus::NoAnswer, |l| match status_of(&l.disposition) {
            // A leg answered by the dialplan alone (no one bridged) was not answered by a person.
            CallStatus::Completed if kind != CallKind::Inbound => CallStatus::NoAnswer,
            s => s,
        })
    };
    let duration_secs = (call.end.0 - call.start.0).max(0);
    let wait_secs = match (connect, dial) {
        (Some(c), _) => c
            .data
            .first()
            .and_then(|h| h.trim().parse::<i64>().ok())
            .unwrap_or(0),
        (None, Some(leg)) if leg.disposition == Disposition::Answered => {
            (leg.start.0 - call.start.0).max(0)
                + (leg.duration.as_secs() as i64 - leg.billsec.as_secs() as i64).max(0)
        }
        _ => duration_secs,
    }
    .min(duration_secs);
    let trunk = call
        .legs
        .iter()
        .flat_map(|l| [l.channel.as_str(), dst_channel(l)])
        .find(|c| is_trunk_channel(c))
        .and_then(endpoint_of)
        .map(str::to_owned);
    let did = match kind {
        CallKind::Inbound => first.map(|l| l.dst.clone()),
        CallKind::ClickToCall => call
            .legs
            .iter()
            .find(|l| {
                !l.channel.as_str().ends_with(";2") && l.channel.as_str().starts_with("Local/")
            })
            .map(|l| l.dst.clone()),
        _ => None,
    }
    .filter(|d| !d.is_empty() && d != "s");
    // The calling extension when the call began on one (its caller id may have been changed).
    let source = first.map_or_else(String::new, |l| {
        endpoint_of(l.channel.as_str())
            .filter(|e| {
                kind != CallKind::Inbound && EndpointKind::classify(e) == EndpointKind::Extension
            })
            .map_or_else(|| l.src.clone(), str::to_owned)
    });
    let destination = match kind {
        CallKind::Inbound => dial
            .filter(|l| l.disposition == Disposition::Answered)
            .and_then(|l| endpoint_of(dst_channel(l)))
            .map(str::to_owned)
            .or_else(|| did.clone())
            .unwrap_or_default(),
        CallKind::ClickToCall => did.clone().unwrap_or_default(),
        _ => dial
            .map(|l| l.dst.clone())
            .or_else(|| first.map(|l| l.dst.clone()))
            .unwrap_or_default(),
    };
    let source = if kind == CallKind::ClickToCall {
        // The dialed number is the party the call was placed to and came from.
        dial.map(|l| l.dst.clone()).unwrap_or(source)
    } else {
        source
    };
    CallSummary {
        linkedid: call.linkedid.as_str().to_owned(),
        uniqueids,
        start: call.start,
        kind,
        status,
        source,
        destination,
        did,
        trunk,
        wait_secs,
        duration_secs,
        recording: call
            .legs
            .iter()
            .map(|l| l.recordingfile.trim())
            .find(|f| !f.is_empty())
            .map(str::to_owned),
        idcti: call
            .legs
            .iter()
            .find_map(|l| call_data_value(&l.calldata, "idcti")),
        originate_id: call
            .legs
            .iter()
            .map(|l| l.userfield.trim())
            .find(|u| !u.is_empty())
            .map(str::to_owned),
    }
}

/// The legs of `calls` that went out through a trunk, in order.
pub fn outbound_legs(calls: &[Call]) -> Vec<OutboundLeg> {
    let mut out = Vec::new();
    for call in calls {
        for leg in &call.legs {
            let dst = dst_channel(leg);
            if !is_trunk_channel(dst) || is_trunk_channel(leg.channel.as_str()) {
                continue;
            }
            out.push(OutboundLeg {
                linkedid: call.linkedid.as_str().to_owned(),
                uniqueid: leg.uniqueid.as_str().to_owned(),
                start: leg.start,
                extension: endpoint_of(leg.channel.as_str())
                    .filter(|e| EndpointKind::classify(e) == EndpointKind::Extension)
                    .map(str::to_owned),
                channel: leg.channel.as_str().to_owned(),
                number: leg.dst.clone(),
                trunk: endpoint_of(dst).unwrap_or_default().to_owned(),
                trunk_channel: dst.to_owned(),
                status: status_of(&leg.disposition),
                duration_secs: leg.duration.as_secs() as i64,
                billsec: leg.billsec.as_secs() as i64,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::journal::{FileId, LogPosition};
    use crate::core::reports::calls;
    use crate::core::{ChannelName, UniqueId};
    use std::time::Duration;

    #[allow(clippy::too_many_arguments)]
    fn leg(
        row: i64,
        linkedid: &str,
        uniqueid: &str,
        channel: &str,
        dstchannel: Option<&str>,
        src: &str,
        dst: &str,
        dcontext: &str,
        start: i64,
        duration: u64,
        billsec: u64,
        disposition: Disposition,
    ) -> CdrRecord {
        CdrRecord {
            source_rowid: row,
            clid: String::new(),
            src: src.into(),
            dst: dst.into(),
            dcontext: dcontext.into(),
            channel: ChannelName::new(channel),
            dstchannel: dstchannel.map(ChannelName::new),
            lastapp: "Dial".into(),
            lastdata: String::new(),
            duration: Duration::from_secs(duration),
            billsec: Duration::from_secs(billsec),
            disposition,
            amaflags: "DOCUMENTATION".into(),
            accountcode: String::new(),
            uniqueid: UniqueId::new(uniqueid),
            linkedid: UniqueId::new(linkedid),
            sequence: row,
            peeraccount: String::new(),
            userfield: String::new(),
            start: UnixTime(start),
            answer: None,
            end: UnixTime(start + duration as i64),
            recordingfile: String::new(),
            calldata: String::new(),
        }
    }

    fn qlog(callid: &str, event: QueueEvent, data: &[&str]) -> QueueLogRecord {
        QueueLogRecord {
            position: LogPosition {
                file: FileId {
                    dev: 0,
                    ino: 0,
                    created_ns: 0,
                },
                offset: 0,
            },
            time: UnixTime(0),
            callid: callid.into(),
            queue: "q_soporte".into(),
            agent: "2204".into(),
            event,
            data: data.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn originated_outbound_call_answered_by_the_carrier() {
        let mut a = leg(
            1,
            "j1-src",
            "j1-src",
            "PJSIP/1004-00000001",
            Some("PJSIP/carrier-00000002"),
            "1004",
            "5551030",
            "outbound",
            100,
            40,
            30,
            Disposition::Answered,
        );
        a.calldata = "idcti=ABC".into();
        a.recordingfile = "20261122/j1-src.wav".into();
        let c = calls(&[a]);
        let s = summarize(&c[0], &[], &CallRules::default());
        assert_eq!(s.kind, CallKind::Outbound);
        assert_eq!(s.status, CallStatus::Completed);
        assert_eq!(
            (s.source.as_str(), s.destination.as_str()),
            ("1004", "5551030")
        );
        assert_eq!(s.trunk.as_deref(), Some("carrier"));
        assert_eq!((s.wait_secs, s.duration_secs), (10, 40));
        assert_eq!(s.idcti.as_deref(), Some("ABC"));
        assert_eq!(s.recording.as_deref(), Some("20261122/j1-src.wav"));
        let legs = outbound_legs(&c);
        assert_eq!(legs.len(), 1);
        assert_eq!(legs[0].extension.as_deref(), Some("1004"));
        assert_eq!((legs[0].trunk.as_str(), legs[0].billsec), ("carrier", 30));
    }

    #[test]
    fn outbound_failures_map_to_their_statuses() {
        for (d, want) in [
            (Disposition::Busy, CallStatus::Busy),
            (Disposition::NoAnswer, CallStatus::NoAnswer),
            (Disposition::Congestion, CallStatus::Unavailable),
            (Disposition::Failed, CallStatus::Unavailable),
        ] {
            let l = leg(
                1,
                "x",
                "x",
                "PJSIP/1005-1",
                Some("PJSIP/carrier-2"),
                "1005",
                "5552000",
                "outbound",
                0,
                5,
                0,
                d.clone(),
            );
            let s = summarize(&calls(&[l])[0], &[], &CallRules::default());
            assert_eq!(s.status, want, "{d:?}");
            assert_eq!(s.wait_secs, 5);
        }
    }

    #[test]
    fn inbound_queue_calls() {
        let caller = leg(
            1,
            "in1",
            "in1",
            "PJSIP/carrier-1",
            Some("PJSIP/1004-2"),
            "099123456",
            "26002000",
            "from-carrier",
            0,
            30,
            30,
            Disposition::Answered,
        );
        let c = calls(std::slice::from_ref(&caller));
        let q = [
            qlog("in1", QueueEvent::EnterQueue, &["", "099123456", "1"]),
            qlog("in1", QueueEvent::Connect, &["7", "in1-agent", "2"]),
            qlog("other", QueueEvent::Abandon, &[]),
        ];
        let s = summarize(&c[0], &q, &CallRules::default());
        assert_eq!(s.kind, CallKind::Inbound);
        assert_eq!(s.status, CallStatus::Completed);
        assert_eq!(s.did.as_deref(), Some("26002000"));
        assert_eq!(s.destination, "1004");
        assert_eq!(s.wait_secs, 7);

        let mut lonely = caller.clone();
        lonely.dstchannel = None;
        let c = calls(&[lonely]);
        for (event, want) in [
            (QueueEvent::Abandon, CallStatus::Abandoned),
            (QueueEvent::ExitEmpty, CallStatus::EmptyQueue),
            (QueueEvent::ExitWithTimeout, CallStatus::NoAnswer),
            (QueueEvent::BlindTransfer, CallStatus::Transferred),
        ] {
            let q = [qlog("in1", event.clone(), &[])];
            let s = summarize(&c[0], &q, &CallRules::default());
            assert_eq!(s.status, want, "{event:?}");
            assert_eq!(s.destination, "26002000");
        }
    }

    #[test]
    fn click_to_call_to_a_did_and_internal_calls() {
        let l1 = leg(
            1,
            "j2-dst",
            "j2-dst",
            "Local/5551008@centralita-originate-00000001;1",
            None,
            "",
            "26002000",
            "from-carrier",
            0,
            20,
            18,
            Disposition::Answered,
        );
        let l2 = leg(
            2,
            "j2-dst",
            "j2-dial",
            "Local/5551008@centralita-originate-00000001;2",
            Some("PJSIP/carrier-3"),
            "",
            "5551008",
            "outbound",
            0,
            20,
            18,
            Disposition::Answered,
        );
        let s = summarize(&calls(&[l1, l2])[0], &[], &CallRules::default());
        assert_eq!(s.kind, CallKind::ClickToCall);
        assert_eq!(s.status, CallStatus::Completed);
        assert_eq!(s.source, "5551008");
        assert_eq!(s.destination, "26002000");
        assert_eq!(s.did.as_deref(), Some("26002000"));

        let internal = leg(
            1,
            "i1",
            "i1",
            "PJSIP/1004-1",
            Some("PJSIP/1005-2"),
            "1004",
            "1005",
            "internal",
            0,
            10,
            8,
            Disposition::Answered,
        );
        let s = summarize(&calls(&[internal])[0], &[], &CallRules::default());
        assert_eq!(s.kind, CallKind::Internal);
        assert_eq!(s.destination, "1005");
        assert_eq!(s.trunk, None);
        assert!(outbound_legs(&calls(&[])).is_empty());
    }

    #[test]
    fn endpoints_of_channels() {
        assert_eq!(endpoint_of("PJSIP/1004-0000001a"), Some("1004"));
        assert_eq!(endpoint_of("PJSIP/carrier-00000002"), Some("carrier"));
        assert_eq!(endpoint_of("PJSIP/my-trunk-00000002"), Some("my-trunk"));
        assert_eq!(endpoint_of("Local/1@x-1;1"), None);
        assert_eq!(endpoint_of("PJSIP/"), None);
    }
}
