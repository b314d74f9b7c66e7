//! A campaign's contacts: `POST /campaigns/<id>/contacts` (add), `GET` and `PUT
//! /campaigns/<id>/contacts/<contact>`, `GET /campaigns/<id>/contacts` (the list:
//! `{recordsTotal, data}`) and `GET /campaigns/<id>/contacts/activity` (the dashboard's
//! activity export, each contact with its last attempt).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;

use crate::core::audit::outcome_of;
use crate::core::dialer::listing::{enabled, ContactEdit, ContactInput};
use crate::core::UnixTime;

use super::super::errors::{from_listing, json, Failure};
use super::super::wire::{self, Filters};
use super::super::{authed, Rest};
use super::journal;

/// `POST /campaigns/<id>/contacts`: 201 and the whole contact (with its id).
pub(crate) async fn add(
    State(r): State<Arc<Rest>>,
    Path(campaign): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    authed(&r, &parts, async |actor| {
        let id = wire::campaign_id(&campaign)?;
        let b = wire::contact_body(&body)?;
        let main = b.numcall.ok_or(Failure::BadInput("numcall"))?;
        let input = ContactInput {
            name: b.name.unwrap_or_default(),
            main,
            info: b.info.flatten(),
            enabled: b.enable.unwrap_or(true),
        };
        let params = format!("numcall={} enable={}", input.main.as_str(), input.enabled);
        let added = r
            .services
            .dialer
            .add_contact(id, input, UnixTime::now())
            .await;
        let target = match &added {
            Ok(h) => format!("{id}/{}", h.contact.id),
            Err(_) => id.to_string(),
        };
        journal(
            &r,
            &actor,
            "dialer.contact_add",
            target,
            params,
            outcome_of(&added),
        )
        .await;
        let h = added.map_err(from_listing)?;
        Ok(json(StatusCode::CREATED, &wire::contact_json(&h, r.tz())))
    })
    .await
}

/// `GET /campaigns/<id>/contacts/<contact>`: the contact, its state and attempt history.
pub(crate) async fn one(
    State(r): State<Arc<Rest>>,
    Path((campaign, contact)): Path<(String, String)>,
    parts: Parts,
) -> Response {
    authed(&r, &parts, async |_| {
        let (id, contact) = (wire::campaign_id(&campaign)?, wire::contact_id(&contact)?);
        let h = r
            .services
            .dialer
            .contact_history(id, contact)
            .await
            .map_err(from_listing)?;
        Ok(json(StatusCode::OK, &wire::contact_json(&h, r.tz())))
    })
    .await
}

/// `PUT /campaigns/<id>/contacts/<contact>`: 200 and the whole contact. Fields not given keep
/// their values.
pub(crate) async fn edit(
    State(r): State<Arc<Rest>>,
    Path((campaign, contact)): Path<(String, String)>,
    parts: Parts,
    body: Bytes,
) -> Response {
    authed(&r, &parts, async |actor| {
        let (id, contact) = (wire::campaign_id(&campaign)?, wire::contact_id(&contact)?);
        let b = wire::contact_body(&body)?;
        let dialer = &r.services.dialer;
        let current = dialer
            .contact_history(id, contact)
            .await
            .map_err(from_listing)?
            .contact;
        let edit = ContactEdit {
            name: b.name.unwrap_or(current.spec.name),
            main: b.numcall.unwrap_or(current.spec.main),
            info: b.info.unwrap_or(current.spec.info),
            enabled: b.enable.unwrap_or(enabled(current.state)),
        };
        let params = format!("numcall={} enable={}", edit.main.as_str(), edit.enabled);
        let edited = dialer
            .edit_contact(id, contact, edit, UnixTime::now())
            .await;
        journal(
            &r,
            &actor,
            "dialer.contact_edit",
            format!("{id}/{contact}"),
            params,
            outcome_of(&edited),
        )
        .await;
        let h = edited.map_err(from_listing)?;
        Ok(json(StatusCode::OK, &wire::contact_json(&h, r.tz())))
    })
    .await
}

/// `GET /campaigns/<id>/contacts`: `{recordsTotal, data}` (filters `start`, `limit`, `order`,
/// `order_by` = `numcall` | `name`, `like`, `state`).
pub(crate) async fn list(
    State(r): State<Arc<Rest>>,
    Path(campaign): Path<String>,
    RawQuery(query): RawQuery,
    parts: Parts,
) -> Response {
    page(
        r,
        campaign,
        query,
        parts,
        wire::CONTACT_FILTERS,
        wire::listed_json,
    )
    .await
}

/// `GET /campaigns/<id>/contacts/activity`: `{recordsTotal, data}`, each contact with its
/// last attempt (filters `State`, `sstimestamp`/`estimestamp`, `saddtimestamp`/`eaddtimestamp`,
/// `start`, `limit`, `order`, `order_by` = `name` | `numcall` | `timestampadd` |
/// `statetimestamp`).
pub(crate) async fn activity(
    State(r): State<Arc<Rest>>,
    Path(campaign): Path<String>,
    RawQuery(query): RawQuery,
    parts: Parts,
) -> Response {
    page(
        r,
        campaign,
        query,
        parts,
        wire::ACTIVITY_FILTERS,
        wire::activity_json,
    )
    .await
}

async fn page(
    r: Arc<Rest>,
    campaign: String,
    query: Option<String>,
    parts: Parts,
    names: &[&str],
    row: fn(&crate::core::dialer::listing::ListedContact, &jiff::tz::TimeZone) -> serde_json::Value,
) -> Response {
    authed(&r, &parts, async |_| {
        let id = wire::campaign_id(&campaign)?;
        let f = Filters::read(query.as_deref(), &parts.headers, names);
        let q = wire::contact_query(id, &f, r.tz())?;
        let p = r
            .services
            .dialer
            .contact_page(q)
            .await
            .map_err(from_listing)?;
        let data = p.rows.iter().map(|l| row(l, r.tz())).collect();
        Ok(json(StatusCode::OK, &wire::page_json(p.total, data)))
    })
    .await
}
