//! The uContact Integra REST API (`/Integra/resources/...`): form-urlencoded `POST`s answering
//! plain text or JSON, and the recording files at `/records/<guid>.mp3` and
//! `/records/<YYYYMMDD>/<guid>.mp3`.
//!
//! - `auth/getUserToken` / `auth/EndSession`: sessions of directory agents (username and Argon2
//!   password, `centralita admin agent add --password-stdin`), see [`session`].
//! - Every other call carries `Authorization: Basic <session token>` or `Authorization: Bearer
//!   <API key>` (`centralita admin credential create --api ucontact`). Supervisor operations
//!   (`Supervisor/*`, `admin/*`) need an agent with the supervisor flag, or an API key.
//! - Calls, dispositions and the blacklist go through [`CampaignService`]; supervision reads
//!   the live state and today's queue report; recordings come from the catalogue.
//!
//! Operation names are matched without regard to case (`Agents/HungupPhone` is accepted for
//! `Agents/HangupPhone`, as the English documentation spells it).

pub mod config;
pub mod errors;
pub mod wire;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

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
use crate::core::journal::report_records;
use crate::core::login_guard::Attempt;
use crate::core::originate::{Extension, PhoneNumber};
use crate::core::recordings::{Guid, RecordingKey, ServeFormat};
use crate::core::reports::{queue_report, QueueReport, ReportContext, ReportFilter};
use crate::core::sessions::AgentScope;
use crate::core::{CdrRecord, JournalReader, PortError, Secret, TimeRange, UnixTime};
use crate::facades::auth::KeyVerifier;
use crate::facades::client_addr;
use crate::facades::Services;

use crate::core::session_tokens::{Principal, Sessions};
use errors::Answer;
use wire::Form;

/// The facade's state.
struct Ucontact {
    services: Arc<Services>,
    keys: Arc<KeyVerifier>,
    sessions: Sessions,
    campaigns: CampaignService,
    tz: TimeZone,
    /// The day's queue reports as last computed ([`todays_reports`]).
    day_figures: std::sync::Mutex<Option<DayFigures>>,
}

/// Today's queue reports, computed at `at` for the day starting at `from`.
struct DayFigures {
    at: std::time::Instant,
    from: UnixTime,
    reports: Arc<BTreeMap<String, QueueReport>>,
}

/// How long the day's queue reports are reused: supervisor panels poll queuesummary and
/// campaignstatus every few seconds, each of which would otherwise recompute the whole day.
const DAY_FIGURES_TTL: Duration = Duration::from_secs(1);

/// The facade's routes.
pub fn routes(services: Arc<Services>, keys: Arc<KeyVerifier>) -> Router {
    let cfg = &services.config.ucontact;
    let state = Arc::new(Ucontact {
        sessions: Sessions::new(Duration::from_secs(cfg.session_idle_seconds))
            .with_store(services.sessions.clone()),
        campaigns: CampaignService::new(
            services.campaigns.clone(),
            cfg.campaigns(),
            services.actions.clone(),
        )
        .with_changes(services.blacklist_changes.clone()),
        tz: services.config.engine.time_zone(),
        day_figures: std::sync::Mutex::new(None),
        keys,
        services,
    });
    answer_panics(
        Router::new()
            .route("/Integra/resources/{*op}", post(integra))
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
                    if let Some(ext) = crate::core::directory::Extension::from_interface(interface)
                    {
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
    let supervisor_only =
        (op.starts_with("supervisor/") && op != "supervisor/convert") || op.starts_with("admin/");
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
        "cdr/getrecords" => get_records(&uc, &who, &form, &crate::http::base_url(headers)).await,
        "supervisor/convert" => convert(&uc, &who, &form).await,
        "supervisor/queuesummary" => queue_summary(&uc).await,
        "supervisor/campaignstatus" => campaign_status(&uc, &form).await,
        _ => Answer::not_found(),
    };
    answer.into_response()
}

// ------------------------------------------------------------------ auth

/// `auth/getUserToken`: through the login guard (`ucontact:<user>`, the client's address):
/// while either is locked out the answer is `0` without hashing; an unknown user is verified
/// against the dummy hash, so both cost the same.
async fn get_user_token(uc: &Ucontact, form: &Form, client: Option<IpAddr>) -> Answer {
    let user = form.text("user");
    let password = Secret::new(form.get("password").unwrap_or("").to_owned());
    if user.is_empty() || password.expose().is_empty() || user.len() > 128 {
        return Answer::zero();
    }
    let principal = format!("ucontact:{user}");
    let attempt = if uc.services.logins.locked(&principal, client) {
        Attempt::Locked
    } else {
        let agent = uc.services.directory.find_agent(&user).await.ok().flatten();
        let stored = agent.as_ref().and_then(|a| a.password_hash.clone());
        let attempt = uc
            .services
            .logins
            .verify(&principal, client, stored, password)
            .await;
        match (attempt, agent) {
            (Attempt::Accepted, Some(agent)) => {
                let entry = EngineAction::now(
                    &Actor::new(api::UCONTACT, user.clone()),
                    "session.open",
                    user.clone(),
                    "",
                    "ok",
                );
                record_quietly(Some(&uc.services.actions), entry).await;
                let token = uc.sessions.open(&agent.username, agent.supervisor).await;
                return Answer::json(&json!([agent.username, token.expose()]));
            }
            (attempt, _) => attempt,
        }
    };
    let outcome = if attempt == Attempt::Locked {
        "error: locked out"
    } else {
        "error: refused"
    };
    let entry = EngineAction::now(
        &Actor::new(api::UCONTACT, user.clone()),
        "session.open",
        user.clone(),
        "",
        outcome,
    );
    record_quietly(Some(&uc.services.actions), entry).await;
    Answer::zero()
}

async fn end_session(uc: &Ucontact, form: &Form) -> Answer {
    if uc
        .sessions
        .end(&form.text("user"), &form.text("token"))
        .await
    {
        Answer::one()
    } else {
        Answer::zero()
    }
}

// ------------------------------------------------------------------ calls

async fn agent_call(uc: &Ucontact, who: &Principal, form: &Form, with_data: bool) -> Answer {
    let tech = form.text("tech");
    if !(tech.is_empty() || tech.eq_ignore_ascii_case("SIP") || tech.eq_ignore_ascii_case("PJSIP"))
    {
        return Answer::zero();
    }
    let (Ok(phone), Ok(destination), Some(campaign)) = (
        Extension::parse(&form.text("phone")),
        PhoneNumber::parse(&form.text("destination")),
        CampaignName::parse(&form.text("outqueue")),
    ) else {
        return Answer::zero();
    };
    let mut agent = form.text("agent");
    // An agent's session calls from its own phone, as itself.
    if let Some(scope) = uc.scope(who).await {
        if !scope.owns_phone(phone.as_str()) || !(agent.is_empty() || scope.is_self(&agent)) {
            let entry = EngineAction::now(
                &actor(who),
                "campaign.agent_call",
                phone.as_str(),
                "",
                "error: not the agent's phone",
            );
            record_quietly(Some(&uc.services.actions), entry).await;
            return Answer::zero();
        }
        if agent.is_empty() {
            agent = scope.username.clone();
        }
    }
    let data = if with_data {
        form.text("data")
    } else {
        String::new()
    };
    let form_name = if with_data {
        form.text("form")
    } else {
        String::new()
    };
    if agent.chars().count() > 128
        || data.len() > 8192
        || form_name.len() > 2048
        || agent.chars().any(char::is_control)
        || form_name.chars().any(char::is_control)
    {
        return Answer::zero();
    }
    let Ok(variables) = wire::call_variables(&data) else {
        return Answer::zero();
    };
    let callerid = form.text("callerid");
    let req = AgentCallRequest {
        campaign,
        agent,
        phone,
        destination,
        caller_id: (!callerid.is_empty()).then_some(callerid),
        variables,
        data,
        form: form_name,
    };
    // The documented failure answer is `0`, whatever failed (the PBX not connected included).
    let Some(pbx) = uc.services.pbx() else {
        tracing::warn!("ucontact: AgentCall while the PBX is not connected");
        return Answer::zero();
    };
    let today = wire::today(UnixTime::now(), &uc.tz);
    match uc
        .campaigns
        .agent_call(&actor(who), &pbx.originate, req, &today)
        .await
    {
        Ok(guid) => Answer::text(guid.to_string()),
        Err(e) => errors::agent_call(&e),
    }
}

async fn hangup_phone(uc: &Ucontact, who: &Principal, form: &Form) -> Answer {
    let Ok(phone) = Extension::parse(&form.text("phone")) else {
        return Answer::zero();
    };
    if let Some(scope) = uc.scope(who).await {
        if !scope.owns_phone(phone.as_str()) {
            let entry = EngineAction::now(
                &actor(who),
                "call.hangup",
                phone.as_str(),
                "",
                "error: not the agent's phone",
            );
            record_quietly(Some(&uc.services.actions), entry).await;
            return Answer::zero();
        }
    }
    let Some(pbx) = uc.services.pbx() else {
        tracing::warn!("ucontact: HangupPhone while the PBX is not connected");
        return Answer::zero();
    };
    let channels: Vec<_> = pbx
        .live
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .endpoints
        .get(phone.as_str())
        .map(|e| e.calls.values().map(|c| c.channel.clone()).collect())
        .unwrap_or_default();
    let mut hung = 0;
    for channel in &channels {
        if pbx.commands.hangup(channel).await.is_ok() {
            hung += 1;
        }
    }
    let outcome = if hung > 0 { "ok" } else { "error: no call" };
    let entry = EngineAction::now(
        &actor(who),
        "call.hangup",
        phone.as_str(),
        format!("channels={hung}"),
        outcome,
    );
    record_quietly(Some(&uc.services.actions), entry).await;
    if hung > 0 {
        Answer::one()
    } else {
        Answer::zero()
    }
}

// ------------------------------------------------------------------ dispositions, blacklist

/// An agent's session dispositions its own calls only (as the `agent` it sends); another
/// agent's name is refused with 403, like a supervisor operation.
async fn disposition_call(uc: &Ucontact, who: &Principal, form: &Form) -> Answer {
    let field = |n: &str| form.get(n).unwrap_or("").to_owned();
    if let Some(scope) = uc.scope(who).await {
        let agent = field("agent");
        if !agent.trim().is_empty() && !scope.is_self(agent.trim()) {
            return Answer::forbidden();
        }
    }
    let req = DispositionRequest {
        campaign: field("campaign"),
        agent: field("agent"),
        callerid: field("callerid"),
        guid: field("guid"),
        l1: field("l1"),
        l2: field("l2"),
        l3: field("l3"),
        d1: field("d1"),
        d2: field("d2"),
        comment: field("comment"),
        schedule: field("schedule"),
        camptoreschedule: field("camptoreschedule"),
        tag: field("tag"),
    };
    let tag = if req.tag.trim().is_empty() {
        format!("{}|{}|{}", req.l1.trim(), req.l2.trim(), req.l3.trim())
    } else {
        req.tag.trim().to_owned()
    };
    let guid = req.guid.trim().to_owned();
    match uc.campaigns.dispose(&actor(who), req).await {
        Ok(done) => {
            // The call's recording carries the disposition as a tag (when it is catalogued).
            let _ = uc
                .services
                .recordings
                .tag_async(RecordingKey::Guid(guid), tag)
                .await;
            Answer::json(&json!({"result": "ok", "txtcode": done.txtcode}))
        }
        Err(e) => errors::disposition(&e),
    }
}

async fn blacklist(uc: &Ucontact, who: &Principal, form: &Form, bulk: bool, add: bool) -> Answer {
    let text = form
        .any(&["black", "blacklist", "blacks", "data"])
        .or_else(|| form.single())
        .unwrap_or("");
    let max = uc.services.config.ucontact.max_bulk_items;
    let result = if add {
        match wire::json_list_max(text, bulk, max, wire::blacklist_entry) {
            Ok(entries) => uc.campaigns.blacklist_add(&actor(who), entries).await,
            Err(_) => return Answer::zero(),
        }
    } else {
        match wire::json_list_max(text, bulk, max, wire::blacklist_key) {
            Ok(keys) => uc
                .campaigns
                .blacklist_remove(&actor(who), keys)
                .await
                .map(|_| ()),
            Err(_) => return Answer::zero(),
        }
    };
    match result {
        Ok(()) => Answer::one(),
        Err(e) => errors::blacklist(&e),
    }
}

// ------------------------------------------------------------------ recordings

/// An agent's session tags its own calls' recordings only.
async fn tag_record(uc: &Ucontact, who: &Principal, form: &Form) -> Answer {
    let scope = uc.scope(who).await;
    let guid = form.text("guid");
    let data = form.text("data");
    let key = RecordingKey::Guid(guid.clone());
    let own = match &scope {
        None => true,
        Some(scope) => match uc.services.recordings.find_async(key.clone()).await {
            Ok(r) => uc.campaigns.owns_recording(&r, scope).await,
            Err(_) => false,
        },
    };
    let result = if own {
        uc.services
            .recordings
            .tag_async(key, data)
            .await
            .map_err(|e| e.to_string())
    } else {
        Err("not the agent's call".to_owned())
    };
    let outcome = match &result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("error: {e}"),
    };
    let entry = EngineAction::now(&actor(who), "recording.tag", guid, "", outcome);
    record_quietly(Some(&uc.services.actions), entry).await;
    // Documented as asynchronous with an empty answer.
    Answer::text("")
}

/// An agent's session converts its own calls' recordings only.
async fn convert(uc: &Ucontact, who: &Principal, form: &Form) -> Answer {
    let scope = uc.scope(who).await;
    let guid = form.text("guid");
    // `folder` in the Spanish and English documents, `pasta` in the Portuguese one.
    let folder = ["folder", "pasta"]
        .iter()
        .map(|n| form.text(n))
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    let ok = convert_own(uc, RecordingKey::Guid(guid), &folder, scope.as_ref()).await;
    if ok {
        Answer::one()
    } else {
        Answer::zero()
    }
}

/// Whether the recording is a call of the agent of `scope`: the recording's agent, or the agent
/// of the campaign call with its guid.
/// The recording `key` names, if it is of `day` (when given) and, for an agent's session, the
/// agent's own call.
async fn own_recording(
    uc: &Ucontact,
    key: RecordingKey,
    day: Option<&str>,
    scope: Option<&AgentScope>,
) -> Option<crate::core::recordings::Recording> {
    let r = uc.services.recordings.find_async(key).await.ok()?;
    if day.is_some_and(|d| !in_day(&r, d, &uc.tz)) {
        return None;
    }
    match scope {
        Some(s) if !uc.campaigns.owns_recording(&r, s).await => None,
        _ => Some(r),
    }
}

/// Converts the recording to MP3 (into the cache) if the caller may: `folder` is its day (when
/// given) and, for an agent's session, it is the agent's own call.
async fn convert_own(
    uc: &Ucontact,
    key: RecordingKey,
    folder: &str,
    scope: Option<&AgentScope>,
) -> bool {
    let day = (!folder.is_empty()).then_some(folder);
    if own_recording(uc, key.clone(), day, scope).await.is_none() {
        return false;
    }
    uc.services
        .recordings
        .open_as_async(key, ServeFormat::Mp3)
        .await
        .is_ok()
}

/// The recording named by `guid` as `format` (MIME type and bytes), if the caller may hear it.
async fn fetch_own(
    uc: &Ucontact,
    guid: &str,
    format: ServeFormat,
    day: Option<&str>,
    scope: Option<&AgentScope>,
) -> Option<(&'static str, Vec<u8>)> {
    let key = RecordingKey::Guid(guid.to_owned());
    // An agent's session hears its own calls only.
    own_recording(uc, key.clone(), day, scope).await?;
    let fetched = uc
        .services
        .recordings
        .fetch(vec![key], format, |_| true)
        .await
        .ok()?;
    Some((fetched.mime, fetched.bytes))
}

/// Whether `day` (`YYYYMMDD`) is the recording's day: its call date in the call center's zone,
/// or the day folder it is stored in.
fn in_day(r: &crate::core::recordings::Recording, day: &str, tz: &TimeZone) -> bool {
    wire::render_day_folder(r.created, tz) == day || r.relative_path.day_folder() == Some(day)
}

/// A recording link's query: `expires` and `sig` (both absent for a request that
/// authenticates with `Authorization` instead).
#[derive(Debug, Default, serde::Deserialize)]
struct LinkQuery {
    expires: Option<String>,
    sig: Option<String>,
}

async fn record_flat(
    State(uc): State<Arc<Ucontact>>,
    Path(file): Path<String>,
    Query(link): Query<LinkQuery>,
    parts: Parts,
) -> Response {
    serve_record(&uc, &parts, &link, None, &file).await
}

async fn record_in_day(
    State(uc): State<Arc<Ucontact>>,
    Path((day, file)): Path<(String, String)>,
    Query(link): Query<LinkQuery>,
    parts: Parts,
) -> Response {
    serve_record(&uc, &parts, &link, Some(day), &file).await
}

/// The recording a file name asks for and in which format: `<guid>.mp3` or `<guid>.gsm`.
fn record_file(file: &str) -> Option<(Guid, ServeFormat)> {
    let (stem, ext) = file.rsplit_once('.')?;
    let format = match ext {
        "mp3" => ServeFormat::Mp3,
        "gsm" => ServeFormat::Gsm,
        _ => return None,
    };
    Some((Guid::parse(stem)?, format))
}

async fn serve_record(
    uc: &Ucontact,
    parts: &Parts,
    link: &LinkQuery,
    day: Option<String>,
    file: &str,
) -> Response {
    let wanted =
        record_file(file).filter(|_| day.as_deref().is_none_or(crate::core::recordings::is_day));
    // A signed link opens its recording without `Authorization` until it expires; a request
    // without one must authenticate as the API does.
    // What an authenticated agent's session may hear; a signed link was issued to whoever
    // could list the recording.
    let scope = match (&link.expires, &link.sig) {
        (None, None) => {
            let Some(who) = uc.authenticate(&parts.headers, uc.client(parts)).await else {
                return Answer::unauthorized().into_response();
            };
            uc.scope(&who).await
        }
        (expires, sig) => {
            let Some((guid, _)) = &wanted else {
                return Answer::forbidden().into_response();
            };
            let checked = uc.services.record_links.verify(
                guid,
                expires.as_deref().unwrap_or(""),
                sig.as_deref().unwrap_or(""),
                UnixTime::now(),
            );
            if let Err(e) = checked {
                tracing::info!(error = %e, "ucontact: recording link refused");
                return Answer::forbidden().into_response();
            }
            None
        }
    };
    let Some((guid, format)) = wanted else {
        return Answer::not_found().into_response();
    };
    let served = fetch_own(
        uc,
        &guid.to_string(),
        format,
        day.as_deref(),
        scope.as_ref(),
    )
    .await;
    match served {
        Some((mime, bytes)) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            bytes,
        )
            .into_response(),
        None => Answer::not_found().into_response(),
    }
}

/// `base`: the scheme and host the client reached the engine at, for the rows' recording links.
/// An agent's session reads its own calls only.
async fn get_records(uc: &Ucontact, who: &Principal, form: &Form, base: &str) -> Answer {
    let scope = uc.scope(who).await;
    let Ok(filter) = wire::records_filter(form.get("filter").unwrap_or(""), &uc.tz) else {
        return Answer::zero();
    };
    let lastrow: usize = match form.text("lastrow").as_str() {
        "" => 0,
        s => match s.parse() {
            Ok(n) => n,
            Err(_) => return Answer::zero(),
        },
    };
    let max = uc.services.config.ucontact.max_search_limit;
    let limit: usize = match form.text("searchLimit").as_str() {
        "" => 50.min(max),
        s => match s.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(max),
            _ => return Answer::zero(),
        },
    };
    let now = UnixTime::now();
    let from = filter
        .from
        .unwrap_or_else(|| wire::start_of_day(now, &uc.tz));
    let to = filter
        .to
        .map_or(UnixTime(now.seconds() + 1), |t| UnixTime(t.seconds() + 1));
    if to <= from {
        return Answer::json(&json!([]));
    }
    let max_days = uc.services.config.ucontact.max_report_days;
    if to.seconds() - from.seconds() > i64::from(max_days) * 86_400 + 1 {
        return Answer::zero();
    }
    let range = TimeRange { from, to };
    let Some(cdrs) = uc.journal(move |j| j.cdrs(range)).await else {
        return Answer::unavailable();
    };
    let recorded: Vec<CdrRecord> = cdrs
        .into_iter()
        .filter(|c| !c.recordingfile.trim().is_empty())
        .collect();
    // What the campaign store and the catalogue know of these calls.
    let ids: Vec<String> = recorded
        .iter()
        .map(|c| c.userfield.clone())
        .filter(|u| !u.is_empty())
        .collect();
    let calls: HashMap<String, CampaignCall> = match uc.campaigns.calls_by_originate(ids).await {
        Ok(calls) => calls
            .into_iter()
            .map(|c| (c.originate_id.to_string(), c))
            .collect(),
        Err(_) => return Answer::unavailable(),
    };
    // Why each row's channel ended, as Asterisk's Hangup events said (the CDR has no cause).
    let uniqueids: Vec<String> = recorded
        .iter()
        .map(|c| c.uniqueid.as_str().to_owned())
        .collect();
    let causes =
        match crate::core::hangup_causes::causes_of(&uc.services.hangup_causes, uniqueids).await {
            Ok(causes) => causes,
            Err(e) => {
                tracing::warn!(error = %e, "ucontact: hangup causes unreadable");
                HashMap::new()
            }
        };
    // The catalogue's recording of each row's channel, and the guids' last comments.
    let recs = uc
        .services
        .recordings
        .find_many(
            recorded
                .iter()
                .map(|c| RecordingKey::UniqueId(c.uniqueid.as_str().to_owned()))
                .collect(),
        )
        .await;
    let guids: Vec<Guid> = recorded
        .iter()
        .zip(&recs)
        .map(|(cdr, rec)| {
            rec.as_ref()
                .map(|r| r.guid.clone())
                .unwrap_or_else(|| Guid::derive(cdr.linkedid.as_str()))
        })
        .collect();
    let notes = uc
        .campaigns
        .last_comments(guids.iter().map(|g| g.as_str().to_owned()).collect())
        .await
        .unwrap_or_default();
    let campaign_of_queue: BTreeMap<String, String> = uc
        .campaigns
        .campaigns()
        .iter()
        .filter_map(|c| Some((c.queue.as_ref()?.to_string(), c.name.to_string())))
        .collect();
    let outbound_context = uc.services.config.originate.context.clone();
    let tz = uc.tz.clone();
    let links = uc.services.record_links.clone();
    let base = base.to_owned();
    let rows = {
        let mut rows = Vec::new();
        let mut matched = 0usize;
        for ((cdr, rec), guid) in recorded.iter().zip(recs).zip(guids) {
            let call = calls.get(&cdr.userfield);
            let queue = rec.as_ref().and_then(|r| r.queue.clone());
            let campaign = call
                .map(|c| c.campaign.to_string())
                .or_else(|| {
                    queue
                        .as_ref()
                        .map(|q| campaign_of_queue.get(q).cloned().unwrap_or(q.clone()))
                })
                .unwrap_or_default();
            let agents: Vec<String> = [
                call.map(|c| c.agent.clone()),
                rec.as_ref().and_then(|r| r.agent.clone()),
            ]
            .into_iter()
            .flatten()
            .collect();
            let tags = rec.as_ref().map(|r| r.tags.join(" ")).unwrap_or_default();
            let f = &filter;
            let mine = scope
                .as_ref()
                .is_none_or(|s| agents.iter().any(|a| s.is_self(a)));
            let keep = mine
                && (f.agent.is_empty() || agents.iter().any(|a| a == &f.agent))
                && (f.campaign.is_empty() || campaign == f.campaign)
                && (f.source.is_empty() || cdr.src.contains(&f.source))
                && (f.destination.is_empty() || cdr.dst.contains(&f.destination))
                && (f.data.is_empty()
                    || cdr.calldata.contains(&f.data)
                    || tags.contains(&f.data)
                    || call.is_some_and(|c| c.data.contains(&f.data)))
                && f.mindur.is_none_or(|m| cdr.billsec.as_secs() >= m)
                && (f.exclude.is_empty() || (cdr.src != f.exclude && cdr.dst != f.exclude));
            if !keep {
                continue;
            }
            matched += 1;
            if matched <= lastrow {
                continue;
            }
            if rows.len() >= limit {
                break;
            }
            let direction =
                if call.is_some() || cdr.dcontext == outbound_context || cdr.dcontext == "outbound"
                {
                    "outbound"
                } else if queue.is_some() {
                    "inbound"
                } else {
                    "internal"
                };
            let note = notes.get(guid.as_str()).cloned();
            let link = links.issue(&guid, now);
            let extra = wire::RowExtra {
                causecode: causes.get(cdr.uniqueid.as_str()).copied(),
                record_url: format!("{base}/records/{guid}.mp3?{}", link.query()),
                record_url_gsm: format!("{base}/records/{guid}.gsm?{}", link.query()),
                record_url_expires: wire::render_time(link.expires, &tz),
                guid: guid.to_string(),
                campaign,
                direction: direction.to_owned(),
                carrier: wire::carrier_of(cdr),
                note,
            };
            rows.push(wire::record_row(cdr, &extra, &tz));
        }
        rows
    };
    Answer::json(&Value::Array(rows))
}

// ------------------------------------------------------------------ supervision

/// Today's queue reports (for averages and totals), by queue: at most [`DAY_FIGURES_TTL`] old;
/// `None` when the journal cannot be read (the caller answers 503).
async fn todays_reports(
    uc: &Ucontact,
    now: UnixTime,
) -> Option<Arc<BTreeMap<String, QueueReport>>> {
    let from = wire::start_of_day(now, &uc.tz);
    {
        let cached = uc
            .day_figures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = cached.as_ref() {
            if f.from == from && f.at.elapsed() < DAY_FIGURES_TTL {
                return Some(f.reports.clone());
            }
        }
    }
    let range = TimeRange {
        from,
        to: UnixTime(now.seconds() + 1),
    };
    let records = uc
        .journal(move |j| report_records(j, range, &[], &[]))
        .await?;
    let ctx = ReportContext::new(UnixTime(now.seconds() + 1));
    let reports: Arc<BTreeMap<String, QueueReport>> = Arc::new(
        queue_report(&records, range, &ReportFilter::default(), &ctx)
            .into_iter()
            .map(|r| (r.queue.clone(), r))
            .collect(),
    );
    *uc.day_figures
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(DayFigures {
        at: std::time::Instant::now(),
        from,
        reports: reports.clone(),
    });
    Some(reports)
}

fn campaign_name_of(uc: &Ucontact, queue: &str) -> String {
    uc.campaigns
        .campaigns()
        .iter()
        .find(|c| c.queue.as_ref().is_some_and(|q| q.as_str() == queue))
        .map_or_else(|| queue.to_owned(), |c| c.name.to_string())
}

async fn queue_summary(uc: &Ucontact) -> Answer {
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

async fn campaign_status(uc: &Ucontact, form: &Form) -> Answer {
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
    let live = pbx.live.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = serde_json::Map::new();
    for (queue, q) in &live.queues {
        let name = campaign_name_of(uc, queue.as_str());
        if !wanted.is_empty() && wanted != name && wanted != queue.as_str() {
            continue;
        }
        out.insert(
            name.clone(),
            wire::campaign_object(&name, q, &live.agents, reports.get(queue.as_str())),
        );
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

#[cfg(test)]
mod tests;
