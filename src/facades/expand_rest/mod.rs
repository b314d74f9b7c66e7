//! The eXpand REST API (`/expandweb3/api/...`): JSON over HTTP with HTTP Basic authentication,
//! the vendor's dialer module (`campaign/external/campaigns...`: campaigns, contacts, the
//! contact lists and the activity export), and the agents' pending outgoing calls panel
//! (`external/outgoingcalls/call`, over the dialer's scheduled calls); the simple key/value lists
//! (`external/lists/simple`, over [`crate::core::lists`]).
//!
//! - authentication: `Authorization: Basic` with a key issued by `centralita admin credential
//!   create --api expand-rest`: its id as the user name, its secret (the part after the `.`) as
//!   the password; checked by the [`KeyVerifier`] (Argon2, the login throttle); a missing or
//!   wrong one is 401 with a `WWW-Authenticate` challenge;
//! - campaigns and contacts are the core dialer's ([`crate::core::dialer`]); lists and orders
//!   are its [`listing`](crate::core::dialer::listing) queries;
//! - [`wire`] reads filters and bodies and writes the JSON, [`errors`] maps failures to the
//!   status and `{"errrorCode": ...}` body, once;
//! - [`ROUTES`] lists every method and path served (the OpenAPI document,
//!   `openapi/expand_rest.json`, lists exactly these).

pub mod config;
pub mod errors;
pub mod ops;
pub mod wire;

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use base64::Engine as _;

use crate::core::audit::{api, Actor};
use crate::core::directory::CredentialApi;
use crate::facades::auth::{KeyError, KeyVerifier};
use crate::facades::{client_addr, Services};

use config::ExpandRestConfig;
use errors::Failure;

/// The base of the dialer module's paths.
pub const DIALER_BASE: &str = "/expandweb3/api/campaign/external";

/// The pending outgoing calls panel's path.
pub const OUTGOING_CALLS: &str = "/expandweb3/api/external/outgoingcalls/call";

/// The simple lists' path.
pub const LISTS: &str = "/expandweb3/api/external/lists/simple";

/// Every method and path the facade serves (paths in OpenAPI's `{name}` form).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/expandweb3/api/campaign/external/campaigns"),
    (
        "get",
        "/expandweb3/api/campaign/external/campaigns/{campaign}",
    ),
    (
        "get",
        "/expandweb3/api/campaign/external/campaigns/{campaign}/contacts",
    ),
    (
        "post",
        "/expandweb3/api/campaign/external/campaigns/{campaign}/contacts",
    ),
    (
        "get",
        "/expandweb3/api/campaign/external/campaigns/{campaign}/contacts/activity",
    ),
    (
        "get",
        "/expandweb3/api/campaign/external/campaigns/{campaign}/contacts/{contact}",
    ),
    (
        "put",
        "/expandweb3/api/campaign/external/campaigns/{campaign}/contacts/{contact}",
    ),
    ("get", "/expandweb3/api/external/outgoingcalls/call"),
    ("post", "/expandweb3/api/external/outgoingcalls/call"),
    (
        "get",
        "/expandweb3/api/external/outgoingcalls/call/{callid}",
    ),
    (
        "put",
        "/expandweb3/api/external/outgoingcalls/call/{callid}",
    ),
    (
        "delete",
        "/expandweb3/api/external/outgoingcalls/call/{callid}",
    ),
    ("get", "/expandweb3/api/external/lists/simple"),
    ("get", "/expandweb3/api/external/lists/simple/{list}"),
    (
        "get",
        "/expandweb3/api/external/lists/simple/{list}/elements",
    ),
    (
        "post",
        "/expandweb3/api/external/lists/simple/{list}/elements",
    ),
    (
        "get",
        "/expandweb3/api/external/lists/simple/{list}/elements/{key}",
    ),
    (
        "put",
        "/expandweb3/api/external/lists/simple/{list}/elements/{key}",
    ),
    (
        "delete",
        "/expandweb3/api/external/lists/simple/{list}/elements/{key}",
    ),
];

/// The facade's state.
pub(crate) struct Rest {
    services: Arc<Services>,
    keys: Arc<KeyVerifier>,
    config: ExpandRestConfig,
}

/// The facade's routes over `services`, with its `[expand_rest]` section.
pub fn routes(services: Arc<Services>, keys: Arc<KeyVerifier>, config: ExpandRestConfig) -> Router {
    let limit = config.max_body_bytes;
    let state = Arc::new(Rest {
        services,
        keys,
        config,
    });
    let c = |p: &str| format!("{DIALER_BASE}/campaigns{p}");
    let router = Router::new()
        .route(
            &c(""),
            get(ops::campaigns::list).fallback(method_not_allowed),
        )
        .route(
            &c("/"),
            get(ops::campaigns::list).fallback(method_not_allowed),
        )
        .route(
            &c("/{campaign}"),
            get(ops::campaigns::one).fallback(method_not_allowed),
        )
        .route(
            &c("/{campaign}/contacts"),
            get(ops::contacts::list)
                .post(ops::contacts::add)
                .fallback(method_not_allowed),
        )
        .route(
            &c("/{campaign}/contacts/"),
            get(ops::contacts::list)
                .post(ops::contacts::add)
                .fallback(method_not_allowed),
        )
        .route(
            &c("/{campaign}/contacts/activity"),
            get(ops::contacts::activity).fallback(method_not_allowed),
        )
        .route(
            &c("/{campaign}/contacts/{contact}"),
            get(ops::contacts::one)
                .put(ops::contacts::edit)
                .fallback(method_not_allowed),
        )
        .route(
            OUTGOING_CALLS,
            get(ops::outgoing_calls::list)
                .post(ops::outgoing_calls::add)
                .fallback(method_not_allowed),
        )
        .route(
            &format!("{OUTGOING_CALLS}/"),
            get(ops::outgoing_calls::list)
                .post(ops::outgoing_calls::add)
                .fallback(method_not_allowed),
        )
        .route(
            &format!("{OUTGOING_CALLS}/{{callid}}"),
            get(ops::outgoing_calls::one)
                .put(ops::outgoing_calls::edit)
                .delete(ops::outgoing_calls::remove)
                .fallback(method_not_allowed),
        )
        .route(LISTS, get(ops::lists::all).fallback(method_not_allowed))
        .route(
            &format!("{LISTS}/"),
            get(ops::lists::all).fallback(method_not_allowed),
        )
        .route(
            &format!("{LISTS}/{{list}}"),
            get(ops::lists::one).fallback(method_not_allowed),
        )
        .route(
            &format!("{LISTS}/{{list}}/elements"),
            get(ops::lists::elements)
                .post(ops::lists::add)
                .fallback(method_not_allowed),
        )
        .route(
            &format!("{LISTS}/{{list}}/elements/"),
            get(ops::lists::elements)
                .post(ops::lists::add)
                .fallback(method_not_allowed),
        )
        .route(
            &format!("{LISTS}/{{list}}/elements/{{key}}"),
            get(ops::lists::element)
                .put(ops::lists::update)
                .delete(ops::lists::remove)
                .fallback(method_not_allowed),
        )
        .route("/expandweb3/api/{*rest}", any(not_found))
        .with_state(state)
        .layer(DefaultBodyLimit::max(limit));
    answer_panics(router)
}

/// `router` with the facade's answer to a panicking handler: 503 `Service_unavailable`; the
/// panic is logged, the client learns nothing of it.
fn answer_panics(router: Router) -> Router {
    router.layer(tower_http::catch_panic::CatchPanicLayer::custom(
        |panic: Box<dyn std::any::Any + Send + 'static>| {
            crate::http::limits::log_panic(&*panic, api::EXPAND_REST);
            Failure::Unavailable.into_response()
        },
    ))
}

async fn method_not_allowed() -> Response {
    Failure::MethodNotAllowed.into_response()
}

async fn not_found() -> Response {
    Failure::NotFound.into_response()
}

/// The user name and password of an `Authorization: Basic` header.
pub fn basic_credentials(parts: &Parts) -> Option<(String, String)> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 1024 {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

impl Rest {
    fn client(&self, parts: &Parts) -> Option<IpAddr> {
        client_addr::client_of(parts, &self.services.trusted_proxies)
    }

    /// Who the request's HTTP Basic credentials authenticate, or the 401 (503 when the store
    /// cannot be read).
    pub(crate) async fn auth(&self, parts: &Parts) -> Result<Actor, Response> {
        let refused = || errors::unauthorized(&self.config.realm);
        let (user, password) = basic_credentials(parts).ok_or_else(refused)?;
        if user.is_empty() || password.is_empty() || user.contains('.') {
            return Err(refused());
        }
        let key = format!("{user}.{password}");
        match self
            .keys
            .verify(&key, CredentialApi::ExpandRest, self.client(parts))
            .await
        {
            Ok(c) => Ok(Actor::new(api::EXPAND_REST, c.id.as_str()).with_system(c.system)),
            Err(KeyError::Refused) => Err(refused()),
            Err(KeyError::Store) => Err(Failure::Unavailable.into_response()),
        }
    }

    fn tz(&self) -> &jiff::tz::TimeZone {
        &self.services.time_zone
    }
}

/// A handler's outcome as its answer.
fn done(r: Result<Response, Failure>) -> Response {
    r.unwrap_or_else(|f| {
        tracing::debug!(failure = %f, "eXpand REST answer");
        f.into_response()
    })
}

/// A handler's answer: the 401 when the request's credentials are refused, else its work's
/// outcome, the work given the authenticated actor.
pub(crate) async fn authed(
    r: &Rest,
    parts: &Parts,
    work: impl AsyncFnOnce(Actor) -> Result<Response, Failure>,
) -> Response {
    match r.auth(parts).await {
        Ok(actor) => done(work(actor).await),
        Err(refused) => refused,
    }
}

#[cfg(test)]
mod tests;
