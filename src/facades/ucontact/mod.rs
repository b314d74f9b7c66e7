//! The uContact Integra REST API (`/Integra/resources/...`): form-urlencoded `POST`s answering
//! plain text or JSON, and the recording files at `/records/<guid>.mp3` and
//! `/records/<YYYYMMDD>/<guid>.mp3`.
//!
//! - `auth/getUserToken` / `auth/EndSession`: sessions of directory agents (username and Argon2
//!   password, `centralita admin agent add --password-stdin`), see [`session`].
//! - Every other call carries `Authorization: Basic <session token>` or `Authorization: Bearer
//!   <API key>` (`centralita admin credential create --api ucontact`). Supervisor operations
//!   (`Supervisor/*`, `admin/*`) need an agent with the supervisor flag, or an API key.
//! - `Dialers/*` go through the dialer's spool and upload jobs (`DialerService`): Respool,
//!   ScheduleDialerCall and DialerTask for any session (an agent's CTI does them);
//!   RemoveContact, RemoveScheduleDialerCall, uploadbase(+withtimezone) and the engine's
//!   uploadstatus need the supervisor flag or an API key.
//! - Calls, dispositions and the blacklist go through [`CampaignService`]; supervision reads
//!   the live state and today's queue report; recordings come from the catalogue.
//!
//! Operation names are matched without regard to case (`Agents/HungupPhone` is accepted for
//! `Agents/HangupPhone`, as the English documentation spells it).

pub mod config;
pub mod errors;
pub mod ops;
pub mod wire;

use ops::auth::{end_session, get_user_token};
use ops::calls::{agent_call, blacklist, disposition_call, hangup_phone};
use ops::dialers::{
    dialer_task, remove_contact, remove_schedule, respool, schedule_dialer_call, upload_base,
    upload_status,
};
use ops::recordings::{convert, get_records, record_flat, record_in_day, tag_record};
use ops::supervision::{campaign_status, queue_summary};
use ops::workflow::call_workflow;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, request::Parts, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use jiff::tz::TimeZone;
use serde_json::{json, Value};

use crate::core::audit::{api, record_quietly, Actor, EngineAction};
use crate::core::campaigns::{
    AgentCallRequest, CampaignCall, CampaignName, CampaignService, DispositionRequest,
};
use crate::core::directory::CredentialApi;
use crate::core::login_guard::Attempt;
use crate::core::originate::{Extension, PhoneNumber};
use crate::core::recordings::{Guid, RecordingKey, ServeFormat};
use crate::core::reports::QueueReport;
use crate::core::sessions::AgentScope;
use crate::core::{CdrRecord, JournalReader, PortError, Secret, TimeRange, UnixTime};
use crate::facades::auth::KeyVerifier;
use crate::facades::client_addr;
use crate::facades::Services;

use crate::core::session_tokens::{Principal, Sessions};
use config::UcontactConfig;
use errors::Answer;
use wire::Form;

/// The facade's state.
struct Ucontact {
    services: Arc<Services>,
    keys: Arc<KeyVerifier>,
    /// Its `[ucontact]` section.
    config: UcontactConfig,
    sessions: Arc<Sessions>,
    campaigns: CampaignService,
    tz: TimeZone,
}

/// The facade's routes over `services`, with its `[ucontact]` section.
pub fn routes(services: Arc<Services>, keys: Arc<KeyVerifier>, config: UcontactConfig) -> Router {
    let upload_limit = config.upload_body_limit();
    let state = Arc::new(Ucontact {
        config,
        sessions: services.sessions.clone(),
        campaigns: services.campaigns.clone(),
        tz: services.time_zone.clone(),
        keys,
        services,
    });
    answer_panics(
        Router::new()
            .route(
                "/Integra/resources/{*op}",
                post(integra).layer(axum::middleware::from_fn(
                    move |req: axum::extract::Request, next: axum::middleware::Next| {
                        upload_body_limit(req, next, upload_limit)
                    },
                )),
            )
            .route("/records/{file}", get(record_flat))
            .route("/records/{day}/{file}", get(record_in_day))
            .with_state(state),
    )
}

/// `router` with uContact's answer to a panicking handler: HTTP 503 `0`, as for any engine
/// failure ([`Answer::unavailable`]); the panic is logged, the client learns nothing of it.
pub fn answer_panics(router: Router) -> Router {
    router.layer(tower_http::catch_panic::CatchPanicLayer::custom(
        |panic: Box<dyn std::any::Any + Send + 'static>| {
            crate::http::limits::log_panic(&*panic, api::UCONTACT);
            Answer::unavailable().into_response()
        },
    ))
}

/// Whether `op` (lower case, no surrounding `/`) uploads a contact base.
fn is_upload(op: &str) -> bool {
    matches!(op, "dialers/uploadbase" | "dialers/uploadbasewithtimezone")
}

/// The two upload operations read bodies up to `limit` bytes
/// ([`UcontactConfig::upload_body_limit`]); every other request keeps the server's limit.
async fn upload_body_limit(
    req: axum::extract::Request,
    next: axum::middleware::Next,
    limit: usize,
) -> Response {
    use tower::{Layer, ServiceExt};
    let op = req
        .uri()
        .path()
        .strip_prefix("/Integra/resources/")
        .unwrap_or("")
        .trim_matches('/')
        .to_ascii_lowercase();
    if is_upload(&op) {
        match axum::extract::DefaultBodyLimit::max(limit)
            .layer(next)
            .oneshot(req)
            .await
        {
            Ok(r) => r,
            Err(never) => match never {},
        }
    } else {
        next.run(req).await
    }
}

fn actor(p: &Principal) -> Actor {
    Actor::new(api::UCONTACT, p.name.clone())
}

impl Ucontact {
    /// The client's address ([`client_addr`]).
    fn client(&self, parts: &Parts) -> Option<IpAddr> {
        client_addr::client_of(parts, &self.services.trusted_proxies)
    }

    /// Who the `Authorization` header authenticates, if anyone; `client` is the request's
    /// client address (failed keys are counted against it).
    async fn authenticate(&self, headers: &HeaderMap, client: Option<IpAddr>) -> Option<Principal> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
        let (scheme, credential) = value.split_once(' ')?;
        let credential = credential.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            self.sessions.check(credential).await
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let c = self
                .keys
                .verify(credential, CredentialApi::Ucontact, client)
                .await
                .ok()?;
            Some(Principal {
                name: c.id.as_str().to_owned(),
                supervisor: true,
            })
        } else {
            None
        }
    }

    /// What `who` may act on: `None` for supervisors and API keys (anything), else the agent's
    /// own phones and calls ([`AgentScope`]).
    async fn scope(&self, who: &Principal) -> Option<AgentScope> {
        if who.supervisor {
            return None;
        }
        let agent = self
            .services
            .directory
            .find_agent(&who.name)
            .await
            .ok()
            .flatten();
        let Some(agent) = agent else {
            return Some(AgentScope {
                username: who.name.clone(),
                number: String::new(),
                phones: Vec::new(),
            });
        };
        let mut phones: Vec<String> = agent
            .default_extension
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect();
        if let Some(pbx) = self.services.pbx() {
            let live = pbx.live.read().unwrap_or_else(PoisonError::into_inner);
            for (interface, a) in &live.agents {
                if a.name == agent.number.as_str() {
                    if let Some(ext) = self.services.naming.extension_of(interface) {
                        phones.push(ext.as_str().to_owned());
                    }
                }
            }
        }
        Some(AgentScope {
            username: who.name.clone(),
            number: agent.number.as_str().to_owned(),
            phones,
        })
    }

    fn now_local(&self) -> (UnixTime, String, String) {
        let now = UnixTime::now();
        let received = wire::render_received(now, &self.tz);
        (
            now,
            format!("{}_{}", now.seconds(), std::process::id()),
            received,
        )
    }

    async fn journal<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn JournalReader) -> Result<T, PortError> + Send + 'static,
    ) -> Option<T> {
        self.services.journal.read(f).await.ok()
    }
}

async fn integra(
    State(uc): State<Arc<Ucontact>>,
    Path(op): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let client = uc.client(&parts);
    let headers = &parts.headers;
    // Bounded before anything is decoded: more fields than any operation has is refused.
    let Some(form) = Form::parse_bounded(&body, wire::MAX_FORM_FIELDS) else {
        return Answer::zero().into_response();
    };
    let op = op.trim_matches('/').to_ascii_lowercase();
    match op.as_str() {
        "auth/getusertoken" => return get_user_token(&uc, &form, client).await.into_response(),
        "auth/endsession" => return end_session(&uc, &form).await.into_response(),
        _ => {}
    }
    let Some(who) = uc.authenticate(headers, client).await else {
        return Answer::unauthorized().into_response();
    };
    let supervisor_only = (op.starts_with("supervisor/") && op != "supervisor/convert")
        || op.starts_with("admin/")
        || is_upload(&op)
        || matches!(
            op.as_str(),
            "dialers/removecontact" | "dialers/removescheduledialercall" | "dialers/uploadstatus"
        );
    if supervisor_only && !who.supervisor {
        return Answer::forbidden().into_response();
    }
    let answer = match op.as_str() {
        "agents/agentcall" => agent_call(&uc, &who, &form, false).await,
        "agents/agentcallwithdata" => agent_call(&uc, &who, &form, true).await,
        "agents/hangupphone" | "agents/hungupphone" => hangup_phone(&uc, &who, &form).await,
        "agents/tagrecord" => tag_record(&uc, &who, &form).await,
        "api/dispositioncall" => disposition_call(&uc, &who, &form).await,
        "admin/addblack" => blacklist(&uc, &who, &form, false, true).await,
        "admin/addblackbulk" => blacklist(&uc, &who, &form, true, true).await,
        "admin/deleteblack" => blacklist(&uc, &who, &form, false, false).await,
        "admin/deleteblackbulk" => blacklist(&uc, &who, &form, true, false).await,
        "admin/callworkflow" => call_workflow(&uc, &who, &form).await,
        "cdr/getrecords" => get_records(&uc, &who, &form, &crate::http::base_url(headers)).await,
        "supervisor/convert" => convert(&uc, &who, &form).await,
        "supervisor/queuesummary" => queue_summary(&uc).await,
        "supervisor/campaignstatus" => campaign_status(&uc, &form).await,
        "dialers/respool" => respool(&uc, &who, &form).await,
        "dialers/scheduledialercall" => schedule_dialer_call(&uc, &who, &form).await,
        "dialers/dialertask" => dialer_task(&uc, &who, &form).await,
        "dialers/removecontact" => remove_contact(&uc, &who, &form).await,
        "dialers/removescheduledialercall" => remove_schedule(&uc, &who, &form).await,
        "dialers/uploadbase" => upload_base(&uc, &who, &form, false).await,
        "dialers/uploadbasewithtimezone" => upload_base(&uc, &who, &form, true).await,
        "dialers/uploadstatus" => upload_status(&uc, &form).await,
        _ => Answer::not_found(),
    };
    answer.into_response()
}

// ------------------------------------------------------------------ auth

// ------------------------------------------------------------------ calls

// ------------------------------------------------------------------ dispositions, blacklist

// ------------------------------------------------------------------ recordings

/// A recording link's query: `expires` and `sig` (both absent for a request that
/// authenticates with `Authorization` instead).
#[derive(Debug, Default, serde::Deserialize)]
struct LinkQuery {
    expires: Option<String>,
    sig: Option<String>,
}

// ------------------------------------------------------------------ supervision

#[cfg(test)]
mod tests;
