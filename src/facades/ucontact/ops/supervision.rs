//! Supervision: `Supervisor/queuesummary` and `campaignstatus` from live state and today's figures.

use super::super::*;

/// Today's queue reports (for averages and totals), by queue, from the core's running day
/// figures; `None` when the journal cannot be read (the caller answers 503).
pub(in crate::facades::ucontact) async fn todays_reports(
    uc: &Ucontact,
    now: UnixTime,
) -> Option<Arc<BTreeMap<String, QueueReport>>> {
    let from = wire::start_of_day(now, &uc.tz);
    let ctx = uc.services.report_context(UnixTime(now.seconds() + 1));
    uc.services
        .day_queue_figures
        .today(&uc.services.journal, from, &ctx)
        .await
        .ok()
}

pub(in crate::facades::ucontact) fn campaign_name_of(uc: &Ucontact, queue: &str) -> String {
    uc.campaigns
        .campaigns()
        .iter()
        .find(|c| c.queue.as_ref().is_some_and(|q| q.as_str() == queue))
        .map_or_else(|| queue.to_owned(), |c| c.name.to_string())
}

pub(in crate::facades::ucontact) async fn queue_summary(uc: &Ucontact) -> Answer {
    let Some(pbx) = uc.services.pbx() else {
        return Answer::unavailable();
    };
    let (now, action_id, received) = uc.now_local();
    let Some(reports) = todays_reports(uc, now).await else {
        return Answer::unavailable();
    };
    let live = pbx.live.read().unwrap_or_else(PoisonError::into_inner);
    let mut out: Vec<Value> = live
        .queues
        .iter()
        .map(|(name, q)| {
            wire::queue_summary(
                &campaign_name_of(uc, name.as_str()),
                q,
                &live.agents,
                reports.get(name.as_str()),
                now,
                &action_id,
                &received,
            )
        })
        .collect();
    out.push(json!({"internalActionId": action_id, "dateReceived": received}));
    Answer::json(&Value::Array(out))
}

pub(in crate::facades::ucontact) async fn campaign_status(uc: &Ucontact, form: &Form) -> Answer {
    let Some(pbx) = uc.services.pbx() else {
        return Answer::unavailable();
    };
    let wanted = form.text("queue");
    let (now, action_id, received) = uc.now_local();
    let Some(reports) = todays_reports(uc, now).await else {
        return Answer::unavailable();
    };
    let directory = &uc.services.directory;
    let (Ok(names), Ok(reasons)) = (directory.agents().await, directory.pause_reasons().await)
    else {
        return Answer::unavailable();
    };
    let names: BTreeMap<String, String> = names
        .into_iter()
        .map(|a| (a.number.to_string(), a.full_name))
        .collect();
    let reasons: BTreeMap<String, String> = reasons
        .into_iter()
        .map(|r| (r.id.as_str().to_owned(), r.name))
        .collect();
    // The dialer's figures of each queue shown (read before the live state is locked).
    let mut dialer = BTreeMap::new();
    let queues: Vec<_> = pbx
        .live
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .queues
        .keys()
        .filter(|queue| {
            let name = campaign_name_of(uc, queue.as_str());
            wanted.is_empty() || wanted == name || wanted == queue.as_str()
        })
        .cloned()
        .collect();
    for queue in queues {
        match uc
            .services
            .dialer
            .figures_of_queue(&queue, UnixTime::now())
            .await
        {
            Ok(f) if !f.is_empty() => {
                dialer.insert(queue, wire::dialer_figures(&f));
            }
            Ok(_) => {}
            Err(_) => return Answer::unavailable(),
        }
    }
    let live = pbx.live.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = serde_json::Map::new();
    for (queue, q) in &live.queues {
        let name = campaign_name_of(uc, queue.as_str());
        if !wanted.is_empty() && wanted != name && wanted != queue.as_str() {
            continue;
        }
        let mut object = wire::campaign_object(&name, q, &live.agents, reports.get(queue.as_str()));
        if let (Some(d), Value::Object(o)) = (dialer.remove(queue), &mut object) {
            o.insert("dialer".into(), d);
        }
        out.insert(name.clone(), object);
        if wanted.is_empty() {
            continue;
        }
        for m in q.members.values() {
            let display = names
                .get(&m.name)
                .filter(|n| !n.is_empty())
                .cloned()
                .unwrap_or_else(|| m.name.clone());
            let reason = m.pause.as_ref().and_then(|p| p.reason.as_deref());
            let pause_name = reason
                .map(|r| {
                    reasons
                        .get(r)
                        .filter(|n| !n.is_empty())
                        .map_or(r, String::as_str)
                })
                .unwrap_or("");
            out.insert(
                m.interface.clone(),
                wire::agent_object(
                    &name,
                    m,
                    live.agents.get(&m.interface),
                    &display,
                    pause_name,
                    now,
                    &action_id,
                    &received,
                ),
            );
        }
        // The ACD calls: the callers waiting in the campaign's queue, in order.
        let mut waiting: Vec<_> = q.waiting.values().collect();
        waiting.sort_by_key(|c| c.position);
        for c in waiting {
            out.insert(
                c.channel.as_str().to_owned(),
                wire::acd_call_object(&name, c, now, &action_id, &received),
            );
        }
    }
    Answer::json(&Value::Object(out))
}
