//! eXpand's simple lists (`/expandweb3/api/external/lists/simple`): `GET` every list, `GET
//! /<list>` one list, and its elements: `GET /<list>/elements` (all, by key), `POST` (add; 409
//! when the key is there), `GET`, `PUT` and `DELETE /<list>/elements/<key>`. A list is named in
//! a path by its name or its id (the seed's examples use the name, `cartera`). Lists are made by
//! `centralita admin list add`; adds, changes and removals are journaled as engine actions.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::core::audit::outcome_of;

use super::super::errors::{from_lists, json};
use super::super::wire::lists as wire;
use super::super::wire::Filters;
use super::super::{authed, Rest};
use super::journal;

/// `GET /lists/simple`: every list.
pub(crate) async fn all(State(r): State<Arc<Rest>>, parts: Parts) -> Response {
    authed(&r, &parts, async |_| {
        let lists = r.services.lists.lists().await.map_err(from_lists)?;
        let data: Vec<Value> = lists.iter().map(wire::list_json).collect();
        Ok(json(StatusCode::OK, &Value::Array(data)))
    })
    .await
}

/// `GET /lists/simple/<list>`: one list.
pub(crate) async fn one(
    State(r): State<Arc<Rest>>,
    Path(list): Path<String>,
    parts: Parts,
) -> Response {
    authed(&r, &parts, async |_| {
        let l = r
            .services
            .lists
            .list(wire::list_ref(&list)?)
            .await
            .map_err(from_lists)?;
        Ok(json(StatusCode::OK, &wire::list_json(&l)))
    })
    .await
}

/// `GET /lists/simple/<list>/elements`: its elements by key (`start`, `limit`).
pub(crate) async fn elements(
    State(r): State<Arc<Rest>>,
    Path(list): Path<String>,
    RawQuery(query): RawQuery,
    parts: Parts,
) -> Response {
    authed(&r, &parts, async |_| {
        let which = wire::list_ref(&list)?;
        let f = Filters::read(query.as_deref(), &parts.headers, wire::ELEMENT_FILTERS);
        let (start, limit) = wire::page(&f)?;
        let (_, elements) = r
            .services
            .lists
            .elements(which, start, limit)
            .await
            .map_err(from_lists)?;
        let data: Vec<Value> = elements.iter().map(wire::element_json).collect();
        Ok(json(StatusCode::OK, &Value::Array(data)))
    })
    .await
}

/// `POST /lists/simple/<list>/elements`: 201 and the element; 409 when its key is there.
pub(crate) async fn add(
    State(r): State<Arc<Rest>>,
    Path(list): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    authed(&r, &parts, async |actor| {
        let which = wire::list_ref(&list)?;
        let e = wire::new_element(&body)?;
        let done = r.services.lists.insert(which, e.clone()).await;
        journal(
            &r,
            &actor,
            "list.element_add",
            format!("{list}/{}", e.key.as_str()),
            format!("value={}", e.value.as_str()),
            outcome_of(&done),
        )
        .await;
        done.map_err(from_lists)?;
        Ok(json(StatusCode::CREATED, &wire::element_json(&e)))
    })
    .await
}

/// `GET /lists/simple/<list>/elements/<key>`: the element.
pub(crate) async fn element(
    State(r): State<Arc<Rest>>,
    Path((list, key)): Path<(String, String)>,
    parts: Parts,
) -> Response {
    authed(&r, &parts, async |_| {
        let which = wire::list_ref(&list)?;
        let key = wire::path_key(&key)?;
        let e = r
            .services
            .lists
            .element(which, key)
            .await
            .map_err(from_lists)?;
        Ok(json(StatusCode::OK, &wire::element_json(&e)))
    })
    .await
}

/// `PUT /lists/simple/<list>/elements/<key>`: the new value; 200 and the element.
pub(crate) async fn update(
    State(r): State<Arc<Rest>>,
    Path((list, key)): Path<(String, String)>,
    parts: Parts,
    body: Bytes,
) -> Response {
    authed(&r, &parts, async |actor| {
        let which = wire::list_ref(&list)?;
        let e = wire::changed_element(wire::path_key(&key)?, &body)?;
        let done = r.services.lists.update(which, e.clone()).await;
        journal(
            &r,
            &actor,
            "list.element_update",
            format!("{list}/{}", e.key.as_str()),
            format!("value={}", e.value.as_str()),
            outcome_of(&done),
        )
        .await;
        done.map_err(from_lists)?;
        Ok(json(StatusCode::OK, &wire::element_json(&e)))
    })
    .await
}

/// `DELETE /lists/simple/<list>/elements/<key>`: 200 and the element removed.
pub(crate) async fn remove(
    State(r): State<Arc<Rest>>,
    Path((list, key)): Path<(String, String)>,
    parts: Parts,
) -> Response {
    authed(&r, &parts, async |actor| {
        let which = wire::list_ref(&list)?;
        let key = wire::path_key(&key)?;
        let done = r.services.lists.delete(which, key.clone()).await;
        journal(
            &r,
            &actor,
            "list.element_delete",
            format!("{list}/{}", key.as_str()),
            String::new(),
            outcome_of(&done),
        )
        .await;
        let e = done.map_err(from_lists)?;
        Ok(json(StatusCode::OK, &wire::element_json(&e)))
    })
    .await
}
