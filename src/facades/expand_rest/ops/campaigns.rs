//! `GET /campaigns` (filters `State`, `order`, `order_by`) and `GET /campaigns/<id>`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::super::errors::{from_listing, json};
use super::super::wire::{self, Filters};
use super::super::{authed, Rest};

/// `GET /campaigns`: a JSON list of campaigns.
pub(crate) async fn list(
    State(r): State<Arc<Rest>>,
    RawQuery(query): RawQuery,
    parts: Parts,
) -> Response {
    authed(&r, &parts, async |_| {
        let f = Filters::read(query.as_deref(), &parts.headers, wire::CAMPAIGN_FILTERS);
        let q = wire::campaign_query(&f)?;
        let list = r
            .services
            .dialer
            .campaign_list(q)
            .await
            .map_err(from_listing)?;
        let data: Vec<Value> = list
            .iter()
            .map(|(id, c)| wire::campaign_json(*id, c))
            .collect();
        Ok(json(StatusCode::OK, &Value::Array(data)))
    })
    .await
}

/// `GET /campaigns/<id>`: one campaign.
pub(crate) async fn one(
    State(r): State<Arc<Rest>>,
    Path(campaign): Path<String>,
    parts: Parts,
) -> Response {
    authed(&r, &parts, async |_| {
        let id = wire::campaign_id(&campaign)?;
        let c = r.services.dialer.campaign(id).await.map_err(from_listing)?;
        Ok(json(StatusCode::OK, &wire::campaign_json(id, &c)))
    })
    .await
}
