//! One line per customer call, derived from the journal: its kind (inbound, outbound, internal,
//! click-to-call), how it ended, who called whom, through which trunk and DID, how long it
//! waited and lasted, its recording and its integrator id; and the outbound legs of calls for
//! tariffing. Pure functions over [`Call`]s (CDR legs grouped by `linkedid`, see
//! [`super::reports::calls`]) and the call's `queue_log` records.
//!
//! Rules (the lab's dialplan names; a site with other contexts sets [`CallRules`]):
//! - **kind**: a call whose first leg is a local channel in the originate context is a
//!   click-to-call (an engine originate that dials a number and connects it to a dialplan
//!   target); else one whose first leg comes from a trunk is inbound; else one with a leg in an
//!   outbound context or bridged to a trunk is outbound; anything else is internal. Trunks are
//!   the endpoints whose name is not all digits (as the live state classifies them). What a
//!   channel name says is read through [`CallRules::naming`], a queue line's fields through
//!   [`CallRules::queue_log`]; nothing here parses either.
//! - **status**: a transfer in `queue_log` (or a `Transfer` leg) is a transfer. A queue call is
//!   completed when an agent connected, abandoned when the caller hung up waiting, empty queue
//!   when it left for lack of members, no answer when it timed out. Otherwise the leg that
//!   dialed the far party decides by its disposition (answered → completed, busy, no answer,
//!   failed/congestion → unavailable); without such a leg, the first leg does.
//! - **in progress** ([`in_progress`]): the live state's channels grouped by `linkedid` (a
//!   channel without one is a call of its own) plus the queue callers whose channel is not on an
//!   endpoint; ringing while a channel of the call dials, is not answered yet, or a caller waits
//!   in a queue, else answered. [`merge_in_progress`] lets a call in progress replace the
//!   CDR legs already written for it, so a call is one row whether it ended or not.
//! - **wait**: a queue call's hold time (`CONNECT`); otherwise the dialing leg's duration minus
//!   its billable seconds; an unanswered call waited all its duration.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::journal::{CdrRecord, Disposition, QueueEvent, QueueLogRecord, UnixTime};
use super::live::{CallLive, EndpointKind, LiveState};
use super::naming::{ChannelKind, ChannelNaming};
use super::queue_details::QueueLogLayout;
use super::recordings::call_data_value;
use super::reports::Call;

/// Where a site's calls go, by dialplan context, and how the PBX names channels and lays out
/// its queue lines.
#[derive(Clone)]
pub struct CallRules {
    /// The context engine originates enter (`centralita-originate`).
    pub originate_context: String,
    /// Contexts whose legs dial out (`outbound`).
    pub outbound_contexts: Vec<String>,
    /// The context the answered side of a dialer call runs in (`centralita-dialer`).
    pub dialer_context: String,
    /// What a channel's name says (an endpoint's channel, a local channel).
    pub naming: Arc<dyn ChannelNaming>,
    /// What a queue line's fields mean.
    pub queue_log: Arc<dyn QueueLogLayout>,
}

impl CallRules {
    /// The lab's contexts (`centralita-originate`, `outbound`) with the PBX's naming and layout.
    pub fn new(naming: Arc<dyn ChannelNaming>, queue_log: Arc<dyn QueueLogLayout>) -> Self {
        Self {
            originate_context: "centralita-originate".to_owned(),
            outbound_contexts: vec!["outbound".to_owned()],
            dialer_context: crate::core::dialer::runner::DIALER_CONTEXT.to_owned(),
            naming,
            queue_log,
        }
    }

    /// The endpoint a channel runs on.
    fn endpoint<'a>(&self, channel: &'a str) -> Option<&'a str> {
        self.naming.channel_endpoint(channel)
    }

    fn is_trunk_channel(&self, channel: &str) -> bool {
        self.endpoint(channel)
            .is_some_and(|e| EndpointKind::classify(e) == EndpointKind::Trunk)
    }

    fn is_extension_channel(&self, channel: &str) -> bool {
        self.endpoint(channel)
            .is_some_and(|e| EndpointKind::classify(e) == EndpointKind::Extension)
    }
}

impl std::fmt::Debug for CallRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRules")
            .field("originate_context", &self.originate_context)
            .field("outbound_contexts", &self.outbound_contexts)
            .finish_non_exhaustive()
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
    /// A number dialed by the engine's dialer for a campaign, connected to its queue.
    Dialer,
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
    /// In progress, not answered yet: a phone or the far end rings, or the caller waits in a
    /// queue.
    Ringing,
    /// In progress and answered.
    Answered,
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

impl CallSummary {
    /// Whether `id` names this call: its `linkedid`, one of its legs' uniqueids, the
    /// integrator's id (`idcti` call data) or the engine's originate job id. Every facade's
    /// "find a call by its id" is this one rule.
    pub fn is_named_by(&self, id: &str) -> bool {
        named_by(
            id,
            &self.linkedid,
            self.uniqueids.iter().map(String::as_str),
            self.idcti.as_deref(),
            self.originate_id.as_deref(),
        )
    }
}

/// The one rule of a call's ids: its `linkedid`, a leg's uniqueid, the `idcti`, the job id.
fn named_by<'a>(
    id: &str,
    linkedid: &str,
    mut uniqueids: impl Iterator<Item = &'a str>,
    idcti: Option<&str>,
    originate_id: Option<&str>,
) -> bool {
    linkedid == id || uniqueids.any(|u| u == id) || idcti == Some(id) || originate_id == Some(id)
}

/// The integrator's id of a call: the first `idcti` in its legs' call data.
fn idcti_of(call: &Call) -> Option<String> {
    call.legs
        .iter()
        .find_map(|l| call_data_value(&l.calldata, "idcti"))
}

/// The engine's originate job id of a call: the first non-empty `userfield` of its legs.
fn job_id_of(call: &Call) -> Option<&str> {
    call.legs
        .iter()
        .map(|l| l.userfield.trim())
        .find(|u| !u.is_empty())
}

/// The call of `calls` that `id` names (the rule of [`CallSummary::is_named_by`]).
pub fn call_named_by<'a>(calls: &'a [Call], id: &str) -> Option<&'a Call> {
    calls.iter().find(|c| {
        named_by(
            id,
            c.linkedid.as_str(),
            c.legs.iter().map(|l| l.uniqueid.as_str()),
            idcti_of(c).as_deref(),
            job_id_of(c),
        )
    })
}

/// The trunk a CDR leg went through: the endpoint of its peer channel, else of its channel,
/// that is a trunk (`PJSIP/carrier-00000012` → `carrier`).
pub fn trunk_of<'a>(leg: &'a CdrRecord, naming: &dyn ChannelNaming) -> Option<&'a str> {
    [
        leg.dstchannel.as_ref().map(|c| c.as_str()),
        Some(leg.channel.as_str()),
    ]
    .into_iter()
    .flatten()
    .filter_map(|c| naming.channel_endpoint(c))
    .find(|e| EndpointKind::classify(e) == EndpointKind::Trunk)
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
    if call.legs.iter().any(|l| l.dcontext == rules.dialer_context) {
        return CallKind::Dialer;
    }
    if matches!(rules.naming.channel_kind(channel),
        ChannelKind::Local { context, .. } if context == rules.originate_context)
    {
        return CallKind::ClickToCall;
    }
    if rules.is_trunk_channel(channel) {
        return CallKind::Inbound;
    }
    let out = call.legs.iter().any(|l| {
        rules.outbound_contexts.contains(&l.dcontext) || rules.is_trunk_channel(dst_channel(l))
    });
    if out {
        CallKind::Outbound
    } else {
        CallKind::Internal
    }
}

/// The leg that dialed the far party: bridged to a trunk for outbound and click-to-call
/// calls, to an extension otherwise (answered legs first).
fn dialing_leg<'a>(call: &'a Call, kind: CallKind, rules: &CallRules) -> Option<&'a CdrRecord> {
    let wanted = |l: &&CdrRecord| match kind {
        CallKind::Outbound | CallKind::ClickToCall | CallKind::Dialer => {
            rules.is_trunk_channel(dst_channel(l))
        }
        CallKind::Internal | CallKind::Inbound => rules.is_extension_channel(dst_channel(l)),
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
    let dial = dialing_leg(call, kind, rules);
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
    } else if has(&QueueEvent::ExitEmpty) || has(&QueueEvent::Other("JOINEMPTY".to_owned())) {
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
        (Some(c), _) => rules
            .queue_log
            .details(&c.event, &c.data)
            .holdtime()
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
        .find(|c| rules.is_trunk_channel(c))
        .and_then(|c| rules.endpoint(c))
        .map(str::to_owned);
    let did = match kind {
        CallKind::Inbound => first.map(|l| l.dst.clone()),
        CallKind::ClickToCall | CallKind::Dialer => call
            .legs
            .iter()
            .find(|l| {
                matches!(
                    rules.naming.channel_kind(l.channel.as_str()),
                    ChannelKind::Local {
                        runs_dialplan: false,
                        ..
                    }
                )
            })
            .map(|l| l.dst.clone()),
        _ => None,
    }
    .filter(|d| !d.is_empty() && d != "s");
    // The calling extension when the call began on one (its caller id may have been changed).
    let source = first.map_or_else(String::new, |l| {
        rules
            .endpoint(l.channel.as_str())
            .filter(|e| {
                kind != CallKind::Inbound && EndpointKind::classify(e) == EndpointKind::Extension
            })
            .map_or_else(|| l.src.clone(), str::to_owned)
    });
    let destination = match kind {
        CallKind::Inbound => dial
            .filter(|l| l.disposition == Disposition::Answered)
            .and_then(|l| rules.endpoint(dst_channel(l)))
            .map(str::to_owned)
            .or_else(|| did.clone())
            .unwrap_or_default(),
        CallKind::ClickToCall | CallKind::Dialer => did.clone().unwrap_or_default(),
        _ => dial
            .map(|l| l.dst.clone())
            .or_else(|| first.map(|l| l.dst.clone()))
            .unwrap_or_default(),
    };
    let source = if matches!(kind, CallKind::ClickToCall | CallKind::Dialer) {
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
        idcti: idcti_of(call),
        originate_id: job_id_of(call).map(str::to_owned),
    }
}

/// The legs of `calls` that went out through a trunk, in order.
pub fn outbound_legs(calls: &[Call], rules: &CallRules) -> Vec<OutboundLeg> {
    let mut out = Vec::new();
    for call in calls {
        for leg in &call.legs {
            let dst = dst_channel(leg);
            if !rules.is_trunk_channel(dst) || rules.is_trunk_channel(leg.channel.as_str()) {
                continue;
            }
            out.push(OutboundLeg {
                linkedid: call.linkedid.as_str().to_owned(),
                uniqueid: leg.uniqueid.as_str().to_owned(),
                start: leg.start,
                extension: rules
                    .endpoint(leg.channel.as_str())
                    .filter(|e| EndpointKind::classify(e) == EndpointKind::Extension)
                    .map(str::to_owned),
                channel: leg.channel.as_str().to_owned(),
                number: leg.dst.clone(),
                trunk: rules.endpoint(dst).unwrap_or_default().to_owned(),
                trunk_channel: dst.to_owned(),
                status: status_of(&leg.disposition),
                duration_secs: leg.duration.as_secs() as i64,
                billsec: leg.billsec.as_secs() as i64,
            });
        }
    }
    out
}

/// An engine originate, as far as a call in progress needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginatedCall {
    /// The job's id.
    pub id: String,
    /// The number dialed.
    pub number: String,
    /// The dialplan target it connects to (direct mode: a DID), if any.
    pub target: Option<String>,
    /// The integrator's id (`idcti` call data), if any.
    pub idcti: Option<String>,
    /// When the destination answered, if it did.
    pub answered_at: Option<UnixTime>,
}

/// The originate job a call's `linkedid` names: the engine's originated channels are named
/// `<job>-src` (click-to-call; `<job>-srcdial` dials an outside source), `<job>-dst` and
/// `<job>-dial` (direct).
pub fn originate_id_of(linkedid: &str) -> Option<&str> {
    super::originate::ChannelRole::split(linkedid).map(|(id, _)| id)
}

struct LiveLeg<'a> {
    endpoint: &'a str,
    kind: EndpointKind,
    uniqueid: &'a str,
    call: &'a CallLive,
}

/// The calls in progress in `live` at `now`, as rows like the ended ones: one per call
/// (`linkedid`), status [`CallStatus::Ringing`] or [`CallStatus::Answered`], duration up to
/// `now`. `jobs` are the engine originates known by id (see [`originate_id_of`]): they give an
/// originated call its number, DID, integrator id and answer time. Ordered by start.
pub fn in_progress(
    live: &LiveState,
    jobs: &BTreeMap<String, OriginatedCall>,
    now: UnixTime,
) -> Vec<CallSummary> {
    let mut groups: BTreeMap<&str, Vec<LiveLeg<'_>>> = BTreeMap::new();
    for (name, endpoint) in &live.endpoints {
        for (uniqueid, call) in &endpoint.calls {
            let key = call.linkedid.as_ref().unwrap_or(uniqueid).as_str();
            groups.entry(key).or_default().push(LiveLeg {
                endpoint: name,
                kind: endpoint.kind,
                uniqueid: uniqueid.as_str(),
                call,
            });
        }
    }
    let waiting: BTreeMap<&str, &super::live::WaitingCaller> = live
        .queues
        .values()
        .flat_map(|q| q.waiting.values())
        .map(|w| (w.uniqueid.as_str(), w))
        .collect();
    let mut out: Vec<CallSummary> = groups
        .into_iter()
        .map(|(linkedid, mut legs)| {
            legs.sort_by_key(|l| (l.call.since, l.uniqueid != linkedid, l.uniqueid));
            let job = originate_id_of(linkedid).and_then(|id| jobs.get(id));
            let waiter = legs
                .iter()
                .map(|l| l.uniqueid)
                .chain([linkedid])
                .find_map(|u| waiting.get(u))
                .copied();
            summarize_live(linkedid, &legs, waiter, job, live, now)
        })
        .collect();
    // Queue callers on channels that are not on an endpoint (a Local channel) are calls too.
    let seen: Vec<&str> = out
        .iter()
        .flat_map(|s| s.uniqueids.iter().map(String::as_str))
        .collect();
    let lonely: Vec<CallSummary> = waiting
        .values()
        .filter(|w| !seen.contains(&w.uniqueid.as_str()))
        .map(|w| {
            let did = live.caller_dids.get(&w.uniqueid).cloned();
            CallSummary {
                linkedid: w.uniqueid.as_str().to_owned(),
                uniqueids: vec![w.uniqueid.as_str().to_owned()],
                start: w.joined_at,
                kind: CallKind::Inbound,
                status: CallStatus::Ringing,
                source: w.caller_id.clone(),
                destination: did.clone().unwrap_or_default(),
                did,
                trunk: None,
                wait_secs: w.wait(now),
                duration_secs: w.wait(now),
                recording: None,
                idcti: None,
                originate_id: None,
            }
        })
        .collect();
    out.extend(lonely);
    out.sort_by(|a, b| (a.start, &a.linkedid).cmp(&(b.start, &b.linkedid)));
    out
}

/// A party's number as a channel reports it (`s`, the dialplan's start extension, is none).
fn party(p: &str) -> Option<&str> {
    (!p.is_empty() && p != "s").then_some(p)
}

fn summarize_live(
    linkedid: &str,
    legs: &[LiveLeg<'_>],
    waiter: Option<&super::live::WaitingCaller>,
    job: Option<&OriginatedCall>,
    live: &LiveState,
    now: UnixTime,
) -> CallSummary {
    let first = &legs[0];
    let start = first.call.since;
    let trunk_leg = legs.iter().find(|l| l.kind == EndpointKind::Trunk);
    let extensions: Vec<&LiveLeg<'_>> = legs
        .iter()
        .filter(|l| l.kind == EndpointKind::Extension)
        .collect();
    let direct = job.is_some_and(|j| j.target.is_some());
    let kind = if direct {
        CallKind::ClickToCall
    } else if first.kind == EndpointKind::Trunk {
        CallKind::Inbound
    } else if trunk_leg.is_some() || job.is_some_and(|j| !live.endpoints.contains_key(&j.number)) {
        // An engine originate from a phone to a number that is no extension goes out.
        CallKind::Outbound
    } else {
        CallKind::Internal
    };
    // An engine originate rings until its destination answered, also in the moment between
    // its source phone answering and the dial to the number starting.
    let ringing = waiter.is_some()
        || legs.iter().any(|l| l.call.dialing || !l.call.up)
        || job.is_some_and(|j| j.answered_at.is_none());
    let status = if ringing {
        CallStatus::Ringing
    } else {
        CallStatus::Answered
    };
    let did = match kind {
        CallKind::ClickToCall => job.and_then(|j| j.target.clone()),
        CallKind::Inbound => live
            .caller_dids
            .get(&super::UniqueId::new(first.uniqueid))
            .cloned()
            .or_else(|| {
                // Until someone answers, the trunk channel's party is the number it dialed.
                extensions
                    .is_empty()
                    .then(|| party(&first.call.peer).map(str::to_owned))
                    .flatten()
            }),
        _ => None,
    };
    let (source, destination) = match kind {
        CallKind::ClickToCall | CallKind::Dialer => (
            job.map(|j| j.number.clone()).unwrap_or_default(),
            did.clone().unwrap_or_default(),
        ),
        CallKind::Inbound => (
            waiter
                .map(|w| w.caller_id.clone())
                .or_else(|| {
                    extensions
                        .first()
                        .and_then(|e| party(&e.call.peer))
                        .map(str::to_owned)
                })
                .unwrap_or_default(),
            extensions
                .first()
                .map(|e| e.endpoint.to_owned())
                .or_else(|| did.clone())
                .unwrap_or_default(),
        ),
        CallKind::Outbound => (
            first.endpoint.to_owned(),
            job.map(|j| j.number.clone())
                .or_else(|| party(&first.call.peer).map(str::to_owned))
                .unwrap_or_default(),
        ),
        CallKind::Internal => (
            first.endpoint.to_owned(),
            job.map(|j| j.number.clone())
                .or_else(|| {
                    extensions
                        .iter()
                        .find(|e| e.endpoint != first.endpoint)
                        .map(|e| e.endpoint.to_owned())
                        .or_else(|| party(&first.call.peer).map(str::to_owned))
                })
                .unwrap_or_default(),
        ),
    };
    let duration_secs = (now.0 - start.0).max(0);
    let wait_secs = match (status, job.and_then(|j| j.answered_at)) {
        (CallStatus::Ringing, _) => duration_secs,
        (_, Some(at)) => (at.0 - start.0).max(0),
        // Answered: up to when its last party's channel appeared.
        _ => legs
            .iter()
            .map(|l| (l.call.since.0 - start.0).max(0))
            .max()
            .unwrap_or(0),
    }
    .min(duration_secs);
    let mut uniqueids: Vec<String> = legs.iter().map(|l| l.uniqueid.to_owned()).collect();
    if !uniqueids.iter().any(|u| u == linkedid) {
        uniqueids.push(linkedid.to_owned());
    }
    CallSummary {
        linkedid: linkedid.to_owned(),
        uniqueids,
        start,
        kind,
        status,
        source,
        destination,
        did,
        trunk: trunk_leg.map(|l| l.endpoint.to_owned()),
        wait_secs,
        duration_secs,
        recording: None,
        idcti: job.and_then(|j| j.idcti.clone()),
        originate_id: job.map(|j| j.id.clone()),
    }
}

/// The ended calls and the calls in progress as one list ordered by start: a call in progress
/// replaces whatever CDR legs were already written for it (a call is one row).
pub fn merge_in_progress(ended: Vec<CallSummary>, live: Vec<CallSummary>) -> Vec<CallSummary> {
    let mut out: Vec<CallSummary> = ended
        .into_iter()
        .filter(|e| !live.iter().any(|l| l.linkedid == e.linkedid))
        .collect();
    out.extend(live);
    out.sort_by(|a, b| (a.start, &a.linkedid).cmp(&(b.start, &b.linkedid)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::journal::{FileId, LogPosition};
    use crate::core::reports::calls;
    use crate::core::{ChannelName, UniqueId};
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn rules() -> CallRules {
        CallRules::new(
            Arc::new(crate::core::naming::TestNaming),
            Arc::new(crate::core::queue_details::TestQueueLog),
        )
    }

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
        let s = summarize(&c[0], &[], &rules());
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
        let legs = outbound_legs(&c, &rules());
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
            let s = summarize(&calls(&[l])[0], &[], &rules());
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
        let s = summarize(&c[0], &q, &rules());
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
            let s = summarize(&c[0], &q, &rules());
            assert_eq!(s.status, want, "{event:?}");
            assert_eq!(s.destination, "26002000");
        }
    }

    #[test]
    fn a_dialer_call_is_of_its_own_kind() {
        // The customer's side (;1) runs centralita-dialer and reaches an agent; ;2 dials out.
        let l1 = leg(
            1,
            "d1-dst",
            "d1-dst",
            "Local/5558004017@centralita-originate-0000001d;1",
            Some("PJSIP/1003-00000002"),
            "",
            "q_campanas",
            "centralita-dialer",
            0,
            12,
            9,
            Disposition::Answered,
        );
        let l2 = leg(
            2,
            "d1-dst",
            "d1-dial",
            "Local/5558004017@centralita-originate-0000001d;2",
            Some("PJSIP/carrier-3"),
            "",
            "5558004017",
            "outbound",
            0,
            12,
            11,
            Disposition::Answered,
        );
        let s = summarize(&calls(&[l1, l2])[0], &[], &rules());
        assert_eq!(s.kind, CallKind::Dialer);
        assert_eq!(s.status, CallStatus::Completed);
        assert_eq!(s.source, "5558004017");
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
        let s = summarize(&calls(&[l1, l2])[0], &[], &rules());
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
        let s = summarize(&calls(&[internal])[0], &[], &rules());
        assert_eq!(s.kind, CallKind::Internal);
        assert_eq!(s.destination, "1005");
        assert_eq!(s.trunk, None);
        assert!(outbound_legs(&calls(&[]), &rules()).is_empty());
    }

    #[test]
    fn a_call_is_found_by_any_of_its_ids_and_its_originate_job() {
        let mut a = leg(
            1,
            "job9-srcdial",
            "job9-srcdial",
            "Local/5551234@centralita-originate-00000001;2",
            Some("PJSIP/carrier-00000001"),
            "5551234",
            "5551234",
            "centralita-originate",
            100,
            30,
            28,
            Disposition::Answered,
        );
        a.userfield = "job9".into();
        let mut b = leg(
            2,
            "1700000000.5",
            "1700000000.5",
            "PJSIP/1001-00000002",
            None,
            "1001",
            "5551004",
            "centralita-originate",
            200,
            10,
            8,
            Disposition::Answered,
        );
        b.calldata = "idcti=CRM-7".into();
        let calls = calls(&[a, b]);
        let linked = |id: &str| call_named_by(&calls, id).map(|c| c.linkedid.as_str().to_owned());
        assert_eq!(linked("job9").as_deref(), Some("job9-srcdial"));
        assert_eq!(linked("job9-srcdial").as_deref(), Some("job9-srcdial"));
        assert_eq!(linked("CRM-7").as_deref(), Some("1700000000.5"));
        assert_eq!(linked("1700000000.5").as_deref(), Some("1700000000.5"));
        for none in ["job", "job9-", "", "1001"] {
            assert_eq!(linked(none), None, "{none:?}");
        }
    }

    fn channel(
        live: &mut LiveState,
        endpoint: &str,
        uniqueid: &str,
        linkedid: &str,
        peer: &str,
        since: i64,
    ) {
        live.apply(crate::core::live::LiveFact::ChannelCreated {
            endpoint: endpoint.into(),
            uniqueid: UniqueId::new(uniqueid),
            call: CallLive {
                channel: ChannelName::new(format!("PJSIP/{endpoint}-{uniqueid}")),
                peer: peer.into(),
                since: UnixTime(since),
                dialing: false,
                linkedid: Some(UniqueId::new(linkedid)),
                up: false,
            },
        });
    }

    fn dialing(live: &mut LiveState, endpoint: &str, uniqueid: &str, dialing: bool) {
        live.apply(crate::core::live::LiveFact::ChannelDialing {
            endpoint: endpoint.into(),
            uniqueid: UniqueId::new(uniqueid),
            dialing,
        });
    }

    fn up(live: &mut LiveState, endpoint: &str, uniqueid: &str) {
        live.apply(crate::core::live::LiveFact::ChannelUp {
            endpoint: endpoint.into(),
            uniqueid: UniqueId::new(uniqueid),
        });
    }

    #[test]
    fn an_originated_outbound_call_rings_then_is_answered_as_one_row() {
        let jobs: BTreeMap<String, OriginatedCall> = [(
            "j1".to_owned(),
            OriginatedCall {
                id: "j1".into(),
                number: "5551030".into(),
                target: None,
                idcti: Some("CTI-1".into()),
                answered_at: Some(UnixTime(112)),
            },
        )]
        .into();
        let mut live = LiveState::new();
        assert!(in_progress(&live, &jobs, UnixTime(100)).is_empty());
        // The source phone rings.
        channel(&mut live, "1004", "j1-src", "j1-src", "s", 100);
        let rows = in_progress(&live, &jobs, UnixTime(103));
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.status, CallStatus::Ringing);
        assert_eq!(r.kind, CallKind::Outbound);
        assert_eq!((r.linkedid.as_str(), r.source.as_str()), ("j1-src", "1004"));
        assert_eq!(r.destination, "5551030");
        assert_eq!(r.idcti.as_deref(), Some("CTI-1"));
        assert_eq!(r.originate_id.as_deref(), Some("j1"));
        assert_eq!((r.wait_secs, r.duration_secs), (3, 3));
        // It answers and dials the carrier.
        up(&mut live, "1004", "j1-src");
        dialing(&mut live, "1004", "j1-src", true);
        channel(&mut live, "carrier", "c1", "j1-src", "1004", 105);
        let rows = in_progress(&live, &jobs, UnixTime(106));
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.status, CallStatus::Ringing);
        assert_eq!(r.kind, CallKind::Outbound);
        assert_eq!(r.destination, "5551030");
        assert_eq!(r.trunk.as_deref(), Some("carrier"));
        assert_eq!(r.uniqueids, vec!["j1-src".to_owned(), "c1".to_owned()]);
        // The carrier answers.
        up(&mut live, "carrier", "c1");
        dialing(&mut live, "1004", "j1-src", false);
        let rows = in_progress(&live, &jobs, UnixTime(130));
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.status, CallStatus::Answered);
        assert_eq!((r.wait_secs, r.duration_secs), (12, 30));
        assert_eq!(r.start, UnixTime(100));
    }

    #[test]
    fn an_originate_whose_source_answered_rings_until_the_number_answers() {
        let mut job = OriginatedCall {
            id: "j2".into(),
            number: "5551015".into(),
            target: None,
            idcti: None,
            answered_at: None,
        };
        let mut live = LiveState::new();
        // The source phone answered; the dial to the number has not begun.
        channel(&mut live, "1004", "j2-src", "j2-src", "s", 100);
        up(&mut live, "1004", "j2-src");
        let jobs: BTreeMap<String, OriginatedCall> = [("j2".to_owned(), job.clone())].into();
        assert_eq!(
            in_progress(&live, &jobs, UnixTime(102))[0].status,
            CallStatus::Ringing
        );
        job.answered_at = Some(UnixTime(103));
        let jobs: BTreeMap<String, OriginatedCall> = [("j2".to_owned(), job)].into();
        assert_eq!(
            in_progress(&live, &jobs, UnixTime(104))[0].status,
            CallStatus::Answered
        );
    }

    #[test]
    fn phones_calls_and_queue_callers_in_progress() {
        let none = BTreeMap::new();
        let mut live = LiveState::new();
        // 1005 calls 1006: both channels carry the caller's linkedid.
        channel(&mut live, "1005", "a", "a", "1006", 10);
        dialing(&mut live, "1005", "a", true);
        channel(&mut live, "1006", "b", "a", "1005", 11);
        // An inbound caller waits in q_soporte.
        channel(&mut live, "carrier", "in", "in", "26002000", 20);
        up(&mut live, "carrier", "in");
        live.apply(crate::core::live::LiveFact::CallerJoined {
            queue: crate::core::directory::QueueName::new("q_soporte").unwrap(),
            caller: crate::core::live::WaitingCaller {
                uniqueid: UniqueId::new("in"),
                channel: ChannelName::new("PJSIP/carrier-in"),
                caller_id: "099123456".into(),
                position: 1,
                joined_at: UnixTime(21),
            },
        });
        let rows = in_progress(&live, &none, UnixTime(30));
        assert_eq!(rows.len(), 2);
        let (internal, inbound) = (&rows[0], &rows[1]);
        assert_eq!(internal.kind, CallKind::Internal);
        assert_eq!(internal.status, CallStatus::Ringing);
        assert_eq!(
            (internal.source.as_str(), internal.destination.as_str()),
            ("1005", "1006")
        );
        assert_eq!(inbound.kind, CallKind::Inbound);
        assert_eq!(inbound.status, CallStatus::Ringing);
        assert_eq!(inbound.source, "099123456");
        assert_eq!(inbound.did.as_deref(), Some("26002000"));
        assert_eq!(inbound.destination, "26002000");
        // 1006 answers; 1004 takes the queue call.
        up(&mut live, "1005", "a");
        up(&mut live, "1006", "b");
        dialing(&mut live, "1005", "a", false);
        live.apply(crate::core::live::LiveFact::CallerLeft {
            queue: crate::core::directory::QueueName::new("q_soporte").unwrap(),
            uniqueid: UniqueId::new("in"),
        });
        channel(&mut live, "1004", "ag", "in", "099123456", 25);
        up(&mut live, "1004", "ag");
        live.apply(crate::core::live::LiveFact::CallerDid {
            uniqueid: UniqueId::new("in"),
            did: "26002000".into(),
        });
        let rows = in_progress(&live, &none, UnixTime(40));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].status, CallStatus::Answered);
        assert_eq!(rows[0].wait_secs, 1);
        let inbound = &rows[1];
        assert_eq!(inbound.status, CallStatus::Answered);
        assert_eq!(
            (inbound.source.as_str(), inbound.destination.as_str()),
            ("099123456", "1004")
        );
        assert_eq!(inbound.did.as_deref(), Some("26002000"));
        assert_eq!((inbound.wait_secs, inbound.duration_secs), (5, 20));
        // The call ends: its row goes.
        for (ep, u) in [("carrier", "in"), ("1004", "ag")] {
            live.apply(crate::core::live::LiveFact::ChannelHungUp {
                endpoint: ep.into(),
                uniqueid: UniqueId::new(u),
            });
        }
        assert_eq!(in_progress(&live, &none, UnixTime(41)).len(), 1);
    }

    #[test]
    fn a_direct_originate_waiting_in_a_queue_is_a_click_to_call_ringing() {
        let jobs: BTreeMap<String, OriginatedCall> = [(
            "j2".to_owned(),
            OriginatedCall {
                id: "j2".into(),
                number: "5551008".into(),
                target: Some("26002000".into()),
                idcti: None,
                answered_at: Some(UnixTime(3)),
            },
        )]
        .into();
        let mut live = LiveState::new();
        channel(&mut live, "carrier", "j2-dial", "j2-dst", "", 1);
        up(&mut live, "carrier", "j2-dial");
        live.apply(crate::core::live::LiveFact::CallerJoined {
            queue: crate::core::directory::QueueName::new("q_soporte").unwrap(),
            caller: crate::core::live::WaitingCaller {
                uniqueid: UniqueId::new("j2-dst"),
                channel: ChannelName::new("Local/5551008@centralita-originate-1;1"),
                caller_id: "5551008".into(),
                position: 1,
                joined_at: UnixTime(4),
            },
        });
        let rows = in_progress(&live, &jobs, UnixTime(10));
        assert_eq!(rows.len(), 1, "{rows:?}");
        let r = &rows[0];
        assert_eq!(r.kind, CallKind::ClickToCall);
        assert_eq!(r.status, CallStatus::Ringing);
        assert_eq!(
            (r.source.as_str(), r.destination.as_str()),
            ("5551008", "26002000")
        );
        assert_eq!(r.originate_id.as_deref(), Some("j2"));
        assert!(r.uniqueids.contains(&"j2-dst".to_owned()));
    }

    #[test]
    fn a_call_in_progress_replaces_its_written_legs() {
        let row = |linkedid: &str, start, status| CallSummary {
            linkedid: linkedid.into(),
            uniqueids: vec![linkedid.into()],
            start: UnixTime(start),
            kind: CallKind::Inbound,
            status,
            source: String::new(),
            destination: String::new(),
            did: None,
            trunk: None,
            wait_secs: 0,
            duration_secs: 0,
            recording: None,
            idcti: None,
            originate_id: None,
        };
        let ended = vec![
            row("x", 5, CallStatus::Completed),
            row("y", 1, CallStatus::NoAnswer),
        ];
        let live = vec![
            row("y", 1, CallStatus::Answered),
            row("z", 3, CallStatus::Ringing),
        ];
        let merged = merge_in_progress(ended, live);
        let got: Vec<(&str, CallStatus)> = merged
            .iter()
            .map(|s| (s.linkedid.as_str(), s.status))
            .collect();
        assert_eq!(
            got,
            vec![
                ("y", CallStatus::Answered),
                ("z", CallStatus::Ringing),
                ("x", CallStatus::Completed)
            ]
        );
        assert_eq!(originate_id_of("18f-abc-src"), Some("18f-abc"));
        assert_eq!(originate_id_of("18f-abc-dial"), Some("18f-abc"));
        assert_eq!(originate_id_of("1700000000.12"), None);
        assert_eq!(originate_id_of("-src"), None);
    }

    #[test]
    fn a_queue_joined_empty_and_an_unavailable_phone() {
        let caller = leg(
            1,
            "in2",
            "in2",
            "PJSIP/carrier-1",
            None,
            "099",
            "26002000",
            "from-carrier",
            0,
            3,
            3,
            Disposition::Answered,
        );
        let c = calls(&[caller]);
        let q = [qlog("in2", QueueEvent::Other("JOINEMPTY".into()), &[])];
        let s = summarize(&c[0], &q, &rules());
        assert_eq!(s.status, CallStatus::EmptyQueue);
        // A dial to a phone that is not registered: Asterisk's CHANUNAVAIL is a FAILED CDR.
        let l = leg(
            1,
            "u1",
            "u1",
            "PJSIP/1004-1",
            Some("PJSIP/1006-2"),
            "1004",
            "1006",
            "internal",
            0,
            0,
            0,
            Disposition::Failed,
        );
        let s = summarize(&calls(&[l])[0], &[], &rules());
        assert_eq!(s.status, CallStatus::Unavailable);
    }
}
