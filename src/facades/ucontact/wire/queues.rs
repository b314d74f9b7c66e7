//! Queue and campaign answers: member status codes and counts, queuesummary, campaignstatus, ACD calls, agents.

use super::*;

// ------------------------------------------------------------------ supervision

/// uContact's agent status codes (0-9) of a queue member.
pub fn status_code(member: &QueueMember, agent: Option<&AgentLive>) -> u8 {
    if matches!(agent.map(|a| &a.activity), Some(Activity::WrapUp { .. })) {
        return 9;
    }
    match member.status {
        DeviceStatus::Unknown => 0,
        DeviceStatus::NotInUse => 1,
        DeviceStatus::InUse => 2,
        DeviceStatus::Busy => 3,
        DeviceStatus::Invalid => 4,
        DeviceStatus::Unavailable => 5,
        DeviceStatus::Ringing => 6,
        DeviceStatus::RingInUse => 7,
        DeviceStatus::OnHold => 8,
    }
}

fn logged(m: &QueueMember) -> bool {
    !matches!(
        m.status,
        DeviceStatus::Unavailable | DeviceStatus::Invalid | DeviceStatus::Unknown
    )
}

fn busy(m: &QueueMember) -> bool {
    m.status.is_busy() || m.status == DeviceStatus::Ringing
}

/// Counts of a queue's members.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberCounts {
    /// Members.
    pub total: u64,
    /// Reachable members.
    pub logged: u64,
    /// Reachable, not paused, idle.
    pub available: u64,
    /// Paused, not on a call.
    pub paused: u64,
    /// On a call (or ringing), not paused.
    pub busy: u64,
    /// On a call and paused.
    pub busy_paused: u64,
    /// In wrap-up.
    pub wrapup: u64,
}

/// Counts the members of `q`.
pub fn member_counts(q: &QueueLive, agents: &BTreeMap<String, AgentLive>) -> MemberCounts {
    let mut c = MemberCounts::default();
    for m in q.members.values() {
        c.total += 1;
        if !logged(m) {
            continue;
        }
        c.logged += 1;
        let wrap = status_code(m, agents.get(&m.interface)) == 9;
        match (busy(m), m.pause.is_some()) {
            (true, true) => c.busy_paused += 1,
            (true, false) => c.busy += 1,
            (false, true) => c.paused += 1,
            (false, false) if wrap => {}
            (false, false) => c.available += 1,
        }
        if wrap {
            c.wrapup += 1;
        }
    }
    c
}

/// One queuesummary object.
pub fn queue_summary(
    name: &str,
    q: &QueueLive,
    agents: &BTreeMap<String, AgentLive>,
    report: Option<&QueueReport>,
    now: UnixTime,
    action_id: &str,
    received: &str,
) -> Value {
    let c = member_counts(q, agents);
    let longest = q.waiting.values().map(|w| w.wait(now)).max().unwrap_or(0);
    let avg = |f: Option<f64>| f.map_or(0, |v| v.round() as i64);
    json!({
        "queue": name,
        "loggedIn": c.logged,
        "available": c.available,
        "callers": q.waiting.len(),
        "holdTime": avg(report.and_then(|r| r.avg_wait_secs)),
        "talkTime": avg(report.and_then(|r| r.avg_talk_secs)),
        "longestHoldTime": longest,
        "internalActionId": action_id,
        "dateReceived": received,
    })
}

/// One campaign object of campaignstatus.
pub fn campaign_object(
    name: &str,
    q: &QueueLive,
    agents: &BTreeMap<String, AgentLive>,
    report: Option<&QueueReport>,
) -> Value {
    let c = member_counts(q, agents);
    let total_calls = q.completed + q.abandoned;
    let abandoned_level = (q.abandoned * 100 + total_calls / 2)
        .checked_div(total_calls)
        .unwrap_or(0);
    let (talked, hold) = match report {
        Some(r) => {
            let talk = r.avg_talk_secs.unwrap_or(0.0) * r.answered as f64;
            let wait = r.avg_wait_secs.unwrap_or(0.0) * r.answered as f64;
            (
                format!("{}-{}", hms(talk.round() as i64), r.answered),
                format!("{}-{}", hms(wait.round() as i64), r.answered),
            )
        }
        None => ("00:00:00-0".to_owned(), "00:00:00-0".to_owned()),
    };
    let sl2 = report.and_then(|r| r.service_level_pct).unwrap_or(0.0);
    json!({
        "campaign": name,
        "availables": c.available,
        "notavailables": c.total - c.logged,
        "paused": c.paused,
        "busy": c.busy,
        "busypaused": c.busy_paused,
        "totalagents": c.total,
        "logged": c.logged,
        "onwrapup": c.wrapup,
        "completed": q.completed,
        "abandoned": q.abandoned,
        "talked": talked,
        "hold": hold,
        "abandonedlevel": abandoned_level.to_string(),
        "totalcalls": total_calls,
        "acd": q.waiting.len(),
        "servicelevel": format!("{:.1}", q.service_level()),
        "servicelevel2": format!("{sl2:.1}"),
        "strategy": q.strategy,
        "slevelthreshold": q.service_level_secs.to_string(),
        "wrapup": q.wrapup_secs.unwrap_or(0),
    })
}

/// One ACD call object of campaignstatus: a caller waiting in the campaign's queue, keyed by
/// its channel, with the fields of Asterisk's `QueueEntry` (`wait` in seconds).
pub fn acd_call_object(
    campaign: &str,
    c: &WaitingCaller,
    now: UnixTime,
    action_id: &str,
    received: &str,
) -> Value {
    json!({
        "queue": campaign,
        "position": c.position,
        "channel": c.channel.as_str(),
        "uniqueId": c.uniqueid.as_str(),
        "callerIdNum": c.caller_id,
        "callerIdName": "",
        "wait": c.wait(now),
        "internalActionId": action_id,
        "dateReceived": received,
    })
}

/// One agent object of campaignstatus. `pause_name` is the display name of the member's pause
/// reason (the directory's, else the reason as Asterisk reported it).
#[allow(clippy::too_many_arguments)]
pub fn agent_object(
    campaign: &str,
    m: &QueueMember,
    agent: Option<&AgentLive>,
    display_name: &str,
    pause_name: &str,
    now: UnixTime,
    action_id: &str,
    received: &str,
) -> Value {
    let since = agent.and_then(|a| a.since).or(m.logged_in_since);
    let code = status_code(m, agent);
    json!({
        "queue": campaign,
        "location": m.interface,
        "membership": if m.logged_in_since.is_some() { "dynamic" } else { "" },
        "name": display_name,
        "penalty": m.penalty,
        "callsTaken": m.calls_taken,
        "lastCall": m.last_call.map_or(0, UnixTime::seconds),
        "status": code,
        "paused": m.pause.is_some(),
        "stateinterface": m.state_interface,
        "incall": u8::from(busy(m)),
        "pausedreason": pause_name,
        "internalActionId": action_id,
        "dateReceived": received,
        "server": hms(since.map_or(0, |s| now.seconds() - s.seconds())),
    })
}

/// The dialer's figures of the campaigns working a queue, added to its campaignstatus object
/// under `dialer` (an extension: one object per dialer campaign, by name).
pub fn dialer_figures(figures: &[crate::core::dialer::CampaignFigures]) -> Value {
    let mut out = serde_json::Map::new();
    for f in figures {
        let c = &f.contacts;
        let pacing = f.pacing;
        out.insert(
            f.campaign.name.as_str().to_owned(),
            json!({
                "state": f.campaign.state.as_str(),
                "mode": f.campaign.mode.as_text(),
                "contacts": c.total,
                "dialable": c.dialable,
                "notpending": c.state,
                "exhausted": c.attempts_exhausted,
                "notdue": c.not_due,
                "blacklisted": c.blacklisted,
                "holiday": c.holiday,
                "outsidehours": c.outside_hours,
                "foragent": c.for_agent,
                "attempts": f.window.attempts,
                "answered": f.window.answered,
                "machines": f.window.machines,
                "abandoned": f.window.abandoned,
                "abandonrate": f.abandon_rate.map_or_else(|| "0.00".to_owned(), |r| format!("{:.2}", r * 100.0)),
                "abandontarget": format!("{:.1}", f64::from(f.campaign.abandon_target.per_mille()) / 10.0),
                "diallevel": pacing.map_or_else(|| "0.00".to_owned(), |p| format!("{:.2}", p.dial_level)),
                "answerrate": pacing.map_or_else(|| "0.00".to_owned(), |p| format!("{:.2}", p.answer_rate * 100.0)),
                "pacing": pacing.map_or("", |p| p.basis.as_str()),
            }),
        );
    }
    Value::Object(out)
}
