//! The live panel: `statusQueues`, `queueData`, `agentData` (live state, joined with today's
//! queue activity; `queueData` and `agentData` over today so far read the core's running day
//! figures, other ranges are folded from the journal).

use super::super::*;
use crate::core::day_figures;
use crate::core::queue_details::QueueDetails;

impl ExpandService {
    pub(in crate::facades::expand) async fn status_queues(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let live = self.live()?;
        let agents = self.agents().await?;
        let names = self.pause_names().await?;
        let limits = self.pause_limits().await?;
        let reason_name = |r: &Option<String>| {
            r.as_deref()
                .map(|r| names.get(r).cloned().unwrap_or_else(|| r.to_owned()))
                .unwrap_or_default()
        };
        let status_of = |a: &Activity| match a {
            Activity::Idle => "waiting",
            Activity::Ringing { .. } => "ringing",
            Activity::Talking { .. } => "busy",
            Activity::WrapUp { .. } => "wrapup",
        };
        // Agents: the directory's, then members the directory does not know.
        let mut panel_agents = Vec::new();
        let mut seen = BTreeSet::new();
        let view_of = |number: &str| live.agent_by_name(number);
        for a in &agents {
            seen.insert(a.number.as_str().to_owned());
            let view = view_of(a.number.as_str());
            panel_agents.push(panel_agent(
                a.number.as_str(),
                &a.full_name,
                view.as_ref(),
                &live,
                &*self.services.naming,
                &limits,
            ));
        }
        for (interface, a) in &live.agents {
            if seen.insert(a.name.clone()) {
                let view = live.agent_by_interface(interface);
                panel_agents.push(panel_agent(
                    &a.name,
                    &a.name,
                    view.as_ref(),
                    &live,
                    &*self.services.naming,
                    &limits,
                ));
            }
        }
        let c = &self.config;
        let mut queues = Vec::new();
        for (qname, q) in &live.queues {
            let mut members = Vec::new();
            let mut calls = Vec::new();
            let mut ongoing = 0;
            for (interface, m) in &q.members {
                let activity = live
                    .agents
                    .get(interface)
                    .map(|a| (a.activity.clone(), a.since));
                members.push(wire::PanelMember {
                    agent: m.name.clone(),
                    paused: m.pause.is_some(),
                    status: activity
                        .as_ref()
                        .map_or("waiting", |(a, _)| status_of(a))
                        .to_owned(),
                    pause_type: reason_name(&m.pause.as_ref().and_then(|p| p.reason.clone())),
                });
                let mine = member_calls(qname, &m.name, interface, &live, &*self.services.naming);
                ongoing += mine.len() as u64;
                calls.extend(mine);
            }
            for w in q.waiting.values() {
                calls.push(wire::PanelCall {
                    kind: "in".into(),
                    callerid: w.caller_id.clone(),
                    calleridname: String::new(),
                    connecttime: String::new(),
                    intime: w.joined_at.0.to_string(),
                    uniqueid: w.uniqueid.as_str().to_owned(),
                    agent: "0".into(),
                });
            }
            queues.push(wire::PanelQueue {
                qname: qname.as_str().to_owned(),
                name: c.queue_description(qname.as_str()).to_owned(),
                abandoned: q.abandoned,
                completed: q.completed,
                counterabn: q.abandoned,
                counterans: q.completed_in_sl,
                numongoing: ongoing,
                numwaiting: q.waiting.len() as u64,
                ratio: q.service_level(),
                members,
                calls,
            });
        }
        let generated = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Ok(SoapValue::Str(wire::panel_xml(
            generated,
            &panel_agents,
            &queues,
        )))
    }

    /// The keyless reports' first check and argument: the client's network, then `Cola`, a
    /// queue the PBX knows.
    pub(in crate::facades::expand) async fn keyless_queue(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Result<String, Failure> {
        self.network_allowed(ctx)?;
        let queue = arg(call, 0, "Cola")
            .ok_or(Failure::UnknownQueue)?
            .to_owned();
        if !self.known_queue(&queue).await? {
            return Err(Failure::UnknownQueue);
        }
        Ok(queue)
    }

    pub(in crate::facades::expand) async fn queue_data(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        let queue = self.keyless_queue(call, ctx).await?;
        let agent = arg(call, 1, "Agente").map(str::to_owned);
        let range = self.range(arg(call, 2, "FechaInicio"), arg(call, 3, "FechaFin"))?;
        let agent_number = match &agent {
            Some(a) => Some(
                self.find_agent(a)
                    .await?
                    .ok_or(Failure::UnknownAgent)?
                    .number
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let names = self.pause_names().await?;
        let filter = ReportFilter {
            agents: agent_number.into_iter().collect(),
            queues: vec![queue.clone()],
        };
        let agents_only = ReportFilter {
            agents: filter.agents.clone(),
            queues: Vec::new(),
        };
        let (events, sessions, outbound) = if self.is_today(range) {
            let ctx = self.report_context().await?;
            let s = &self.services;
            let day = s
                .day_queue_figures
                .day(&s.journal, range, &ctx)
                .await
                .map_err(|_| Failure::Unknown)?;
            let figures = s
                .day_agent_figures
                .today(&s.journal, range, &filter, &ctx)
                .await
                .map_err(|_| Failure::Unknown)?;
            (
                day.queue_activity(&filter, &ctx),
                figures.reports.clone(),
                figures.outbound.clone(),
            )
        } else {
            let (records, cdrs, ctx) = self.report_input(range, vec![queue.clone()], true).await?;
            (
                reports::queue_activity(&records, range, &filter, &ctx),
                reports::agent_report(&records, &[], range, &filter, &ctx),
                reports::outbound_calls(&cdrs, range, &agents_only, &ctx),
            )
        };
        let mut list = Vec::new();
        for e in events {
            list.extend(activity_of(&e, &names));
        }
        // Outbound calls of agents logged in to this queue when they dialed.
        for call in reports::during_sessions(outbound, &sessions) {
            list.extend(dial_out(&queue, &call));
        }
        list.sort_by_key(|a| a.time);
        Ok(SoapValue::Str(wire::queue_activity_xml(&list, &self.tz())))
    }

    pub(in crate::facades::expand) async fn agent_data(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        let queue = self.keyless_queue(call, ctx).await?;
        let range = self.range(arg(call, 1, "FechaInicio"), arg(call, 2, "FechaFin"))?;
        let agents = self.agents().await?;
        let filter = ReportFilter {
            agents: Vec::new(),
            queues: vec![queue.clone()],
        };
        let (in_queue, outbound) = self.agent_figures(range, filter).await?;
        let short = i64::from(self.config.short_call_seconds);
        // Outbound calls count for the queue when placed while logged in to it.
        let outbound = reports::during_sessions(outbound, &in_queue);
        let list: Vec<wire::AgentTotals> = in_queue
            .into_iter()
            .filter(|r| !r.sessions.is_empty() || r.presented > 0)
            .map(|r| {
                let name = agents
                    .iter()
                    .find(|a| a.number.as_str() == r.agent)
                    .map_or_else(|| r.agent.clone(), |a| a.full_name.clone());
                let mine: Vec<&reports::OutboundCall> =
                    outbound.iter().filter(|c| c.agent == r.agent).collect();
                let out_talk: i64 = mine.iter().map(|c| c.talk_secs).sum();
                let out_answered = mine.iter().filter(|c| c.answered).count() as u64;
                let calls = r.answered + out_answered;
                wire::AgentTotals {
                    agente: format!("({}) {}", r.agent, name),
                    logged: r.logged_secs,
                    paused: r.paused_secs,
                    average: r.aht_secs.unwrap_or(0.0),
                    talked: r.queue_talking_secs,
                    talked_out: out_talk,
                    available: r.available_secs,
                    answered: r.answered,
                    missed: r.missed,
                    presented: r.presented,
                    outbound: mine.len() as u64,
                    inbound: r.direct_inbound,
                    transferred: r.transferred,
                    short: r.handled_secs.iter().filter(|s| **s < short).count() as u64,
                    average_all: if calls == 0 {
                        0.0
                    } else {
                        (r.queue_talking_secs + out_talk) as f64 / calls as f64
                    },
                }
            })
            .collect();
        Ok(SoapValue::Str(wire::agent_totals_xml(&list)))
    }
}

impl ExpandService {
    /// Whether a report over `range` is answered from the core's running day figures: the
    /// range is today so far (starts at today's 00:00:00 and has not ended).
    pub(in crate::facades::expand) fn is_today(&self, range: TimeRange) -> bool {
        let now = UnixTime::now();
        wire::start_of_day(now, &self.tz())
            .is_some_and(|day_start| day_figures::serves(range, day_start, now))
    }

    /// Per agent, what happened in `range` for `filter`, and the outbound calls of every agent
    /// in it: from the core's running day figures when the range is today so far, else folded
    /// from the journal.
    pub(in crate::facades::expand) async fn agent_figures(
        &self,
        range: TimeRange,
        filter: ReportFilter,
    ) -> Result<(Vec<reports::AgentReport>, Vec<reports::OutboundCall>), Failure> {
        if self.is_today(range) {
            let ctx = self.report_context().await?;
            let figures = self
                .services
                .day_agent_figures
                .today(&self.services.journal, range, &filter, &ctx)
                .await
                .map_err(|_| Failure::Unknown)?;
            return Ok((figures.reports.clone(), figures.outbound.clone()));
        }
        let (records, cdrs, ctx) = self
            .report_input(range, filter.queues.clone(), true)
            .await?;
        Ok((
            reports::agent_report(&records, &cdrs, range, &filter, &ctx),
            reports::outbound_calls(&cdrs, range, &ReportFilter::default(), &ctx),
        ))
    }
}

/// The calls in progress of one queue member for `statusQueues`: its queue call in `queue`
/// (`in`, with the caller's number from its phone's connected line), or else, when it is not
/// ringing or talking for a queue, its phone's calls to external numbers (`out`).
pub(in crate::facades::expand) fn member_calls(
    queue: &QueueName,
    member: &str,
    interface: &str,
    live: &LiveState,
    naming: &dyn ChannelNaming,
) -> Vec<wire::PanelCall> {
    let phone = naming
        .endpoint_of(interface)
        .and_then(|e| live.endpoints.get(e));
    let activity = live
        .agents
        .get(interface)
        .map(|a| (a.activity.clone(), a.since));
    // When the queue call's caller entered the queue (connected calls only).
    let joined = live
        .agents
        .get(interface)
        .and_then(|a| a.caller_joined)
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    let call =
        |kind: &str, callerid: String, connecttime: String, intime: String, uniqueid: String| {
            wire::PanelCall {
                kind: kind.into(),
                callerid,
                calleridname: String::new(),
                connecttime,
                intime,
                uniqueid,
                agent: member.to_owned(),
            }
        };
    match activity {
        Some((
            Activity::Talking {
                queue: Some(tq),
                caller,
            },
            since,
        )) => {
            if &tq != queue {
                return Vec::new();
            }
            vec![call(
                "in",
                phone
                    .and_then(|p| p.current_call())
                    .map(|c| c.peer.clone())
                    .filter(|p| is_party_number(p))
                    .unwrap_or_default(),
                since.map(|t| t.0.to_string()).unwrap_or_default(),
                joined,
                caller.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            )]
        }
        // Ringing for a queue: its channel is that call, not an outbound one.
        Some((Activity::Ringing { queue: Some(_), .. }, _)) => Vec::new(),
        _ => phone
            .map(|p| &p.calls)
            .into_iter()
            .flatten()
            .filter(|(_, c)| reports::is_external_number(&c.peer))
            .map(|(uniqueid, c)| {
                call(
                    "out",
                    c.peer.clone(),
                    c.since.0.to_string(),
                    // An outbound call starts when it is placed.
                    c.since.0.to_string(),
                    uniqueid.as_str().to_owned(),
                )
            })
            .collect(),
    }
}

/// A channel's other party worth showing as a caller id: digits (an extension or a number),
/// optionally with a leading `+`; not the dialplan's `s`.
pub(in crate::facades::expand) fn is_party_number(peer: &str) -> bool {
    let digits = peer.strip_prefix('+').unwrap_or(peer);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An agent of the panel: its status, when it last changed (activity, login or pause), when it
/// last refused a queue call at once, and whether it needs attention (the core's rule, with
/// `limits`: the pause reasons' longest durations).
pub(in crate::facades::expand) fn panel_agent(
    number: &str,
    name: &str,
    view: Option<&AgentView>,
    live: &LiveState,
    naming: &dyn ChannelNaming,
    limits: &BTreeMap<String, u64>,
) -> wire::PanelAgent {
    let status = match view {
        Some(v) if v.logged_in() => {
            if v.pause().is_some() {
                "busyout"
            } else {
                match v.activity {
                    Activity::Idle => "waiting",
                    Activity::Ringing { .. } => "ringing",
                    Activity::Talking { .. } => "busy",
                    Activity::WrapUp { .. } => "wrapup",
                }
            }
        }
        _ => "offline",
    };
    let agent = view.and_then(|v| live.agents.get(&v.interface));
    wire::PanelAgent {
        number: number.to_owned(),
        name: name.to_owned(),
        status: status.to_owned(),
        last_change: view
            .and_then(|v| live.last_status_change(&v.interface))
            .map_or(0, |t| t.0),
        last_congestion: agent.and_then(|a| a.last_refused).map_or(0, |t| t.0),
        warning: view.is_some_and(|v| {
            live.needs_attention(v, naming, UnixTime::now(), |r| {
                r.and_then(|r| limits.get(r)).copied()
            })
        }),
    }
}

/// eXpand's activities for one queue_log event (none for events it does not document).
/// `CONNECT` and `RINGNOANSWER` also yield the `RINGING` that preceded them (queue_log does
/// not log ringing; their ring time says when it began).
pub(in crate::facades::expand) fn activity_of(
    e: &reports::QueueActivityEvent,
    pause_names: &BTreeMap<String, String>,
) -> Vec<wire::Activity> {
    let secs = |v: &Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let base = wire::Activity {
        time: e.time,
        queue: e.queue.clone(),
        uniqueid: match e.event {
            QueueEvent::AddMember
            | QueueEvent::RemoveMember
            | QueueEvent::Pause
            | QueueEvent::Unpause => "NONE".into(),
            _ => e.callid.clone(),
        },
        action: String::new(),
        callerid: String::new(),
        agent: e.agent.clone().unwrap_or_default(),
        waitsec: String::new(),
        talksec: String::new(),
        dest: String::new(),
        cause: String::new(),
    };
    let ringing = |ring: i64| wire::Activity {
        time: UnixTime(e.time.0 - ring.max(0)),
        action: "RINGING".into(),
        ..base.clone()
    };
    let one = |action: &str, f: &dyn Fn(&mut wire::Activity)| {
        let mut a = wire::Activity {
            action: action.into(),
            ..base.clone()
        };
        f(&mut a);
        a
    };
    match (&e.event, &e.details) {
        (QueueEvent::EnterQueue, QueueDetails::EnterQueue { callerid }) => {
            vec![one("ENTERQUEUE", &|a| a.callerid = callerid.clone())]
        }
        (QueueEvent::Connect, QueueDetails::Connect { holdtime, ringtime }) => vec![
            ringing(ringtime.unwrap_or(0)),
            one("CONNECT", &|a| a.waitsec = secs(holdtime)),
        ],
        (QueueEvent::RingNoAnswer, QueueDetails::RingNoAnswer { ring_ms }) => vec![
            ringing(ring_ms.unwrap_or(0) / 1000),
            one("NOANSWER", &|_| {}),
        ],
        (QueueEvent::CompleteCaller, QueueDetails::Complete { talktime, .. }) => {
            vec![one("COMPLETECALLER", &|a| a.talksec = secs(talktime))]
        }
        (QueueEvent::CompleteAgent, QueueDetails::Complete { talktime, .. }) => {
            vec![one("COMPLETEAGENT", &|a| a.talksec = secs(talktime))]
        }
        (
            QueueEvent::Transfer | QueueEvent::BlindTransfer | QueueEvent::AttendedTransfer,
            QueueDetails::Transfer {
                destination,
                talktime,
            },
        ) => vec![one("COMPLETETRANSFER", &|a| {
            a.dest = destination.clone();
            a.talksec = secs(talktime);
        })],
        (QueueEvent::Abandon, QueueDetails::Abandon { waittime }) => {
            vec![one("ABANDON", &|a| a.waitsec = secs(waittime))]
        }
        (QueueEvent::AddMember, _) => vec![one("LOGIN", &|_| {})],
        (QueueEvent::RemoveMember, _) => vec![one("LOGOUT", &|_| {})],
        (QueueEvent::Pause, details) => vec![one("PAUSE", &|a| {
            let r = details.pause_reason();
            a.cause = pause_names.get(r).cloned().unwrap_or_else(|| r.to_owned());
        })],
        (QueueEvent::Unpause, _) => vec![one("UNPAUSE", &|_| {})],
        _ => Vec::new(),
    }
}

/// `DIALOUT` and `DIALOUTEND` of an agent's outbound call.
pub(in crate::facades::expand) fn dial_out(
    queue: &str,
    call: &reports::OutboundCall,
) -> [wire::Activity; 2] {
    let base = wire::Activity {
        time: call.start,
        queue: queue.to_owned(),
        uniqueid: call.linkedid.as_str().to_owned(),
        action: "DIALOUT".into(),
        callerid: String::new(),
        agent: call.agent.clone(),
        waitsec: String::new(),
        talksec: String::new(),
        dest: call.dst.clone(),
        cause: String::new(),
    };
    let end = wire::Activity {
        time: call.end,
        action: "DIALOUTEND".into(),
        talksec: call.talk_secs.to_string(),
        dest: String::new(),
        ..base.clone()
    };
    [base, end]
}
