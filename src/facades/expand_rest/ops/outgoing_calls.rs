//! The agents' pending outgoing calls panel (`/expandweb3/api/external/outgoingcalls/call`),
//! over the dialer's scheduled calls: `GET` (the list, filtered), `POST` (create), `GET`,
//! `PUT` and `DELETE /call/<callid>` (read, replace, logical delete).
//!
//! A call's `queue` is resolved to a dialer campaign by the core
//! ([`panel_campaign`]), its `agent` to an agent of the directory
//! ([`Directory::find_agent`](crate::core::directory::Directory::find_agent)). Calls whose
//! expiration has come are expired before they are read, so the status shown is true. Creates,
//! edits and deletes are journaled as engine actions.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;

use crate::core::audit::outcome_of;
use crate::core::dialer::schedule::{
    panel_campaign, NewScheduledCall, ScheduleService, MAX_LIST_LIMIT,
};
use crate::core::dialer::{CampaignId, DialerCampaign};
use crate::core::UnixTime;

use super::super::errors::{from_dialer, from_directory, from_schedule, json as answer, Failure};
use super::super::wire::outgoing_calls::{self as wire, CallBody};
use super::super::wire::{page_json, Filters};
use super::super::{authed, Rest};
use super::journal;

fn schedule(r: &Rest) -> Result<&ScheduleService, Failure> {
    r.services.dialer.schedule().ok_or(Failure::Unavailable)
}

async fn campaigns(r: &Rest) -> Result<Vec<(CampaignId, DialerCampaign)>, Failure> {
    r.services.dialer.campaigns().await.map_err(from_dialer)
}

/// The agent a client names, as stored (its user name, else its number); `None` when unknown.
async fn agent(r: &Rest, name: &str) -> Result<Option<String>, Failure> {
    let found = r
        .services
        .directory
        .find_agent(name)
        .await
        .map_err(from_directory)?;
    Ok(found.map(|a| {
        if a.username.is_empty() {
            a.number.as_str().to_owned()
        } else {
            a.username
        }
    }))
}

/// The scheduled call a body asks for: its queue's campaign, its agent resolved.
async fn resolve(r: &Rest, b: &CallBody) -> Result<NewScheduledCall, Failure> {
    let all = campaigns(r).await?;
    let (campaign, _) = panel_campaign(&all, &b.queue).ok_or(Failure::InvalidQueue)?;
    let agent = match &b.agent {
        Some(name) => Some(agent(r, name).await?.ok_or(Failure::InvalidAgent)?),
        None => None,
    };
    wire::new_call(b, *campaign, agent)
}

fn params(b: &CallBody) -> String {
    format!(
        "queue={} phone={} calldate={} expiration={} agent={}",
        b.queue,
        b.phones.first().map(|p| p.as_str()).unwrap_or(""),
        b.calldate.seconds(),
        b.expiration,
        b.agent.as_deref().unwrap_or("")
    )
}

fn name_of(all: &[(CampaignId, DialerCampaign)], id: CampaignId) -> String {
    all.iter()
        .find(|(c, _)| *c == id)
        .map(|(_, c)| c.name.as_str().to_owned())
        .unwrap_or_default()
}

/// `POST /outgoingcalls/call`: 201 `{"callid": <id>}`.
pub(crate) async fn add(State(r): State<Arc<Rest>>, parts: Parts, body: Bytes) -> Response {
    authed(&r, &parts, async |actor| {
        let b = wire::call_body(&body, r.tz())?;
        let call = resolve(&r, &b).await?;
        let created = schedule(&r)?.create(call, UnixTime::now()).await;
        let target = created
            .as_ref()
            .map(|id| id.to_string())
            .unwrap_or_default();
        journal(
            &r,
            &actor,
            "dialer.schedule_add",
            target,
            params(&b),
            outcome_of(&created),
        )
        .await;
        let id = created.map_err(from_schedule)?;
        Ok(answer(StatusCode::CREATED, &wire::callid_json(id)))
    })
    .await
}

/// `GET /outgoingcalls/call/<callid>`: the call.
pub(crate) async fn one(
    State(r): State<Arc<Rest>>,
    Path(callid): Path<String>,
    parts: Parts,
) -> Response {
    authed(&r, &parts, async |_| {
        let id = wire::call_id(&callid)?;
        let s = schedule(&r)?;
        s.expire(UnixTime::now()).await.map_err(from_schedule)?;
        let call = s.get(id).await.map_err(from_schedule)?;
        let all = campaigns(&r).await?;
        let queue = name_of(&all, call.spec.campaign);
        Ok(answer(
            StatusCode::OK,
            &wire::call_json(&call, &queue, r.tz()),
        ))
    })
    .await
}

/// `PUT /outgoingcalls/call/<callid>`: every field replaced; 200 `{"callid": <id>}`. Only a
/// pending call is edited.
pub(crate) async fn edit(
    State(r): State<Arc<Rest>>,
    Path(callid): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    authed(&r, &parts, async |actor| {
        let id = wire::call_id(&callid)?;
        let b = wire::call_body(&body, r.tz())?;
        let s = schedule(&r)?;
        s.get(id).await.map_err(from_schedule)?;
        let call = resolve(&r, &b).await?;
        let now = UnixTime::now();
        s.expire(now).await.map_err(from_schedule)?;
        let edited = s.update(id, call, now).await;
        journal(
            &r,
            &actor,
            "dialer.schedule_edit",
            id.to_string(),
            params(&b),
            outcome_of(&edited),
        )
        .await;
        edited.map_err(from_schedule)?;
        Ok(answer(StatusCode::OK, &wire::callid_json(id)))
    })
    .await
}

/// `DELETE /outgoingcalls/call/<callid>`: 200 `"Ok"`; the call is Canceled (still listed
/// with `status=CANCELED`), not shown to agents any more.
pub(crate) async fn remove(
    State(r): State<Arc<Rest>>,
    Path(callid): Path<String>,
    parts: Parts,
) -> Response {
    authed(&r, &parts, async |actor| {
        let id = wire::call_id(&callid)?;
        let discarded = schedule(&r)?.discard(id, UnixTime::now()).await;
        journal(
            &r,
            &actor,
            "dialer.schedule_discard",
            id.to_string(),
            String::new(),
            outcome_of(&discarded),
        )
        .await;
        discarded.map_err(from_schedule)?;
        Ok(answer(StatusCode::OK, &wire::ok_json()))
    })
    .await
}

/// `GET /outgoingcalls/call`: `{recordsTotal, data}` (filters `queue`, `phone`,
/// `startdate`/`enddate`, `agent`, `status`; `start`, `limit` (default 100, at most
/// [`MAX_LIST_LIMIT`])).
pub(crate) async fn list(
    State(r): State<Arc<Rest>>,
    RawQuery(query): RawQuery,
    parts: Parts,
) -> Response {
    authed(&r, &parts, async |_| {
        let f = Filters::read(query.as_deref(), &parts.headers, wire::OUTGOING_FILTERS);
        let q = wire::call_query(&f, r.tz())?;
        let all = campaigns(&r).await?;
        let mut filter = q.filter;
        if let Some(queue) = &q.queue {
            match panel_campaign(&all, queue) {
                Some((id, _)) => filter.campaign = Some(*id),
                None => return Ok(answer(StatusCode::OK, &page_json(0, Vec::new()))),
            }
        }
        if let Some(name) = &q.agent {
            filter.agent = Some(agent(&r, name).await?.unwrap_or_else(|| name.clone()));
        }
        let s = schedule(&r)?;
        s.expire(UnixTime::now()).await.map_err(from_schedule)?;
        let (total, calls) = s
            .list(filter, q.start, q.limit.min(MAX_LIST_LIMIT))
            .await
            .map_err(from_schedule)?;
        let names: HashMap<CampaignId, &str> =
            all.iter().map(|(id, c)| (*id, c.name.as_str())).collect();
        let data = calls
            .iter()
            .map(|c| {
                let queue = names.get(&c.spec.campaign).copied().unwrap_or("");
                wire::call_json(c, queue, r.tz())
            })
            .collect();
        Ok(answer(StatusCode::OK, &page_json(total, data)))
    })
    .await
}
