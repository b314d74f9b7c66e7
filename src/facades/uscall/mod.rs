//! The USCall SOAP webservice (`/aplicativos/webservice/wsuscall.php`, WSDL at `?wsdl`):
//! rpc operations with positional string parts (token first), each answering JSON text in the
//! SOAP `return` part (see [`wire`] for the shapes, [`errors`] for the error codes, and
//! `docs/uscall.md` for every operation).
//!
//! A wrong token, a missing or invalid parameter and every refusal are JSON answers
//! (`"status":"erro"`), never SOAP Faults; Faults are left to malformed envelopes and unknown
//! operations.

pub mod config;
pub mod errors;
pub mod ops;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use serde_json::{json, Value};

use crate::core::agent_digest::verify_digest;
use crate::core::audit::{api, outcome_of, record_quietly, Actor, EngineAction};
use crate::core::call_commands::SpyMode;
use crate::core::call_summary::{
    in_progress, merge_in_progress, originate_id_of, outbound_legs, summarize, CallRules,
    CallSummary, OriginatedCall,
};
use crate::core::directory::{
    Agent, AgentNumber, CredentialApi, Extension, PauseReason, PauseReasonId, QueueName, TrunkName,
};
use crate::core::journal::{CdrRecord, QueueLogRecord, TimeRange, UnixTime};
use crate::core::live::{EndpointKind, EndpointLive, LiveState};
use crate::core::login_guard::Attempt;
use crate::core::originate::{self, CallData, DirectTarget, OriginateRequest};
use crate::core::presence::{agent_presence, extension_presence};
use crate::core::recordings::{Fetched, RecordingKey};
use crate::core::reports::{self, ReportContext, ReportFilter};
use crate::core::Secret;
use crate::facades::auth::{KeyError, KeyVerifier};
use crate::facades::client_addr::Network;
use crate::facades::soap::{self, RequestContext, SoapCall, SoapError, SoapService, SoapValue};
use crate::facades::{PbxServices, Services};

use config::{QueueKind, UscallConfig};
use errors::{reason, Noun, UscallError};
use wire::METRICS_REPORTS;

/// Where the webservice answers.
pub const PATH: &str = "/aplicativos/webservice/wsuscall.php";

/// The namespace of the answers (the WSDL's `soap:body namespace`).
pub const NAMESPACE: &str = "urn:wsuscall";

const WSDL: &str = include_str!("../../../wsdl/uscall.wsdl");

/// How far back cdrSearch looks for an `idunico` when no dates are given.
const IDUNICO_LOOKBACK_SECS: i64 = 31 * 86_400;

/// Every operation with its parts, in order (token first), as the WSDL declares them.
pub const OPERATIONS: &[(&str, &[&str])] = &[
    ("getAgent", &["token"]),
    (
        "startCall",
        &["token", "tipo", "origem", "destino", "categoria", "idcti"],
    ),
    (
        "cdrSearch",
        &[
            "token", "dataini", "datafin", "origem", "destino", "idunico",
        ],
    ),
    ("audioDownload", &["token", "idunico", "formato"]),
    (
        "agentLogin",
        &["token", "agente", "ramal", "senhamd5", "filachave"],
    ),
    ("agentLogout", &["token", "agente"]),
    ("agentStatus", &["token", "agente"]),
    ("getPauses", &["token"]),
    ("startPause", &["token", "agente", "idpausa"]),
    ("endPause", &["token", "agente"]),
    ("hangupCall", &["token", "ramal", "agente"]),
    (
        "monitExten",
        &["token", "srcramal", "dstramal", "agente", "tipo"],
    ),
    ("getExtens", &["token", "ramal"]),
    ("extenStatus", &["token", "tipo", "ramal"]),
    ("getQueue", &["token", "fila"]),
    ("queueStatus", &["token", "fila"]),
    ("cdrTariff", &["token", "dataini", "datafin"]),
    ("listTrunk", &["token"]),
    ("listURA", &["token", "idura"]),
    (
        "cdrURA",
        &["token", "dataini", "datafin", "idura", "idunico"],
    ),
    (
        "ccenterAgents",
        &["token", "agente", "filas", "dataini", "datafin"],
    ),
    (
        "ccenterCdr",
        &["token", "dataini", "datafin", "agente", "filas"],
    ),
    (
        "ccenterPauses",
        &[
            "token",
            "report_type",
            "agente",
            "filas",
            "dataini",
            "datafin",
        ],
    ),
    (
        "ccenterSessions",
        &[
            "token",
            "report_type",
            "agente",
            "filas",
            "dataini",
            "datafin",
        ],
    ),
    (
        "ccenterMetrics",
        &[
            "token",
            "report_name",
            "agente",
            "filas",
            "dataini",
            "datafin",
        ],
    ),
    ("ccenterMetricsReports", &["token"]),
];

/// The facade's routes over `services`, with its `[uscall]` section.
pub fn routes(services: Arc<Services>, keys: Arc<KeyVerifier>, config: UscallConfig) -> Router {
    soap::routes(PATH, Arc::new(UscallService::new(services, keys, config)))
}

/// The operations over the engine's services.
pub struct UscallService {
    services: Arc<Services>,
    keys: Arc<KeyVerifier>,
    config: UscallConfig,
}

/// One call's parameters, read by the SOAP facades' one rule ([`soap::parts`]): by name in
/// any case (the document writes `Formato`, `Dataini`, `Datafin`), else by position.
struct Args<'a> {
    parts: soap::Parts<'a>,
}

impl<'a> Args<'a> {
    /// The value of `name` (trimmed; empty is absent).
    fn get(&self, name: &'static str) -> Option<&'a str> {
        self.parts.get(name)
    }

    fn required(&self, name: &'static str) -> Result<&'a str, UscallError> {
        self.get(name).ok_or(UscallError::Missing(name))
    }
}

type Answer = Result<Value, UscallError>;

fn agent_number(param: &'static str, v: &str) -> Result<AgentNumber, UscallError> {
    AgentNumber::new(v).map_err(|_| UscallError::invalid(param, reason::AGENT_NAME_CHARS))
}

fn extension(param: &'static str, v: &str) -> Result<Extension, UscallError> {
    if v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) || v.len() < 2 {
        return Err(UscallError::invalid(param, reason::EXTENSION_DIGITS));
    }
    Extension::new(v).map_err(|_| UscallError::invalid(param, reason::BAD_EXTENSION))
}

fn queue_name(param: &'static str, v: &str) -> Result<QueueName, UscallError> {
    QueueName::new(v).map_err(|_| UscallError::invalid(param, reason::TRUNK_NAME_CHARS))
}

/// Most items in a list parameter (`agente`, `filas`).
pub const MAX_LIST_ITEMS: usize = 200;

/// A comma-separated list of agents or queues named `param` (absent: all); more than
/// [`MAX_LIST_ITEMS`] is refused before any item is parsed.
fn list<T>(
    param: &'static str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, UscallError>,
) -> Result<Vec<T>, UscallError> {
    let Some(v) = value else {
        return Ok(Vec::new());
    };
    let items = || v.split(',').map(str::trim).filter(|s| !s.is_empty());
    if items().nth(MAX_LIST_ITEMS).is_some() {
        return Err(UscallError::invalid(
            param,
            reason::too_many_items(MAX_LIST_ITEMS),
        ));
    }
    items().map(&parse).collect()
}

fn idcti(v: &str) -> Result<String, UscallError> {
    let ok = v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(UscallError::invalid("idcti", reason::ID_CHARS))
    }
}

/// A store failure: logged, answered as [`UscallError::Internal`].
fn internal(e: crate::core::PortError) -> UscallError {
    tracing::warn!(error = %crate::core::error_chain(e.as_ref()), "uscall: store failure");
    UscallError::Internal
}

/// The other party of a live call, as far as known (`s`, the dialplan's start extension, is
/// not a party).
fn peer(p: &str) -> String {
    if p == "s" {
        String::new()
    } else {
        p.to_owned()
    }
}

impl UscallService {
    /// The service over `services`, with its `[uscall]` section; the dialing rules are the
    /// core's (`Services::dialing`).
    pub fn new(services: Arc<Services>, keys: Arc<KeyVerifier>, config: UscallConfig) -> Self {
        Self {
            services,
            keys,
            config,
        }
    }

    fn tz(&self) -> jiff::tz::TimeZone {
        self.services.time_zone.clone()
    }

    fn pbx(&self) -> Result<&PbxServices, UscallError> {
        self.services.pbx().ok_or(UscallError::PbxUnavailable)
    }

    /// The live state as a shared snapshot (no copy unless it changed since the last one).
    fn live(&self) -> Result<std::sync::Arc<LiveState>, UscallError> {
        Ok(self.pbx()?.live.snapshot())
    }

    fn call_rules(&self) -> CallRules {
        CallRules {
            originate_context: self.services.originate_context.clone(),
            ..CallRules::new(
                self.services.naming.clone(),
                self.services.queue_log.clone(),
            )
        }
    }

    /// Journals a call command done for `actor` (agent and originate commands journal
    /// themselves).
    async fn journal_action<T, E: std::error::Error>(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        params: String,
        result: &Result<T, E>,
    ) {
        let entry = EngineAction::now(actor, action, target, params, outcome_of(result));
        record_quietly(Some(&self.services.actions), entry).await;
    }

    async fn authenticate(
        &self,
        token: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Actor, UscallError> {
        let token = token.ok_or(UscallError::TokenInvalid)?;
        match self.keys.verify(token, CredentialApi::Uscall, client).await {
            Ok(c) => Ok(Actor::new(api::USCALL, c.id.as_str()).with_system(c.system)),
            Err(KeyError::Refused) => Err(UscallError::TokenInvalid),
            Err(KeyError::Store) => Err(UscallError::Internal),
        }
    }

    async fn agents(&self) -> Result<Vec<Agent>, UscallError> {
        self.services.directory.agents().await.map_err(internal)
    }

    /// The agent `agente` names: by user name, else by number (the core's one lookup).
    async fn agent(&self, number: &AgentNumber) -> Result<Agent, UscallError> {
        self.services
            .directory
            .find_agent(number.as_str())
            .await
            .map_err(internal)?
            .ok_or_else(|| UscallError::not_found(Noun::Agente, number))
    }

    async fn pause_reasons(&self) -> Result<Vec<PauseReason>, UscallError> {
        self.services
            .directory
            .pause_reasons()
            .await
            .map_err(internal)
    }

    async fn journal(
        &self,
        cdr_range: TimeRange,
        log_range: TimeRange,
    ) -> Result<(Vec<CdrRecord>, Vec<QueueLogRecord>), UscallError> {
        let j = &self.services.journal;
        let cdrs = j.cdrs(cdr_range).await.map_err(internal)?;
        let log = j.queue_log(log_range).await.map_err(internal)?;
        Ok((cdrs, log))
    }

    /// The calls that started in `range`, summarised.
    async fn summaries(&self, range: TimeRange) -> Result<Vec<CallSummary>, UscallError> {
        let log_range = TimeRange::new(range.from, UnixTime(range.to.0.saturating_add(6 * 3600)));
        let (cdrs, log) = self.journal(range, log_range).await?;
        let rules = self.call_rules();
        Ok(reports::calls(&cdrs)
            .iter()
            .filter(|c| range.contains(c.start))
            .map(|c| summarize(c, &log, &rules))
            .collect())
    }

    /// The calls in progress (none while the PBX is not connected), with what the engine's
    /// originate jobs know of the originated ones.
    async fn calls_in_progress(&self) -> Result<Vec<CallSummary>, UscallError> {
        let Some(pbx) = self.services.pbx() else {
            return Ok(Vec::new());
        };
        let live = self.live()?;
        let ids: BTreeSet<String> = live
            .endpoints
            .values()
            .flat_map(|e| e.calls.iter())
            .map(|(u, c)| c.linkedid.as_ref().unwrap_or(u).as_str())
            .chain(
                live.queues
                    .values()
                    .flat_map(|q| q.waiting.keys())
                    .map(|u| u.as_str()),
            )
            .filter_map(originate_id_of)
            .map(str::to_owned)
            .collect();
        let mut jobs = BTreeMap::new();
        for id in ids {
            let Ok(oid) = originate::OriginateId::parse(&id) else {
                continue;
            };
            let Ok(job) = pbx.originate.status(&oid).await else {
                continue;
            };
            let target = match &job.request.mode {
                originate::OriginateMode::Direct { target } => Some(target.exten().to_owned()),
                originate::OriginateMode::ClickToCall { .. }
                | originate::OriginateMode::OutsideSource { .. } => None,
            };
            let idcti = job
                .request
                .call_data
                .pairs()
                .iter()
                .find(|(k, _)| k == "idcti")
                .map(|(_, v)| v.clone());
            jobs.insert(
                id.clone(),
                OriginatedCall {
                    id,
                    number: job.request.destination.as_str().to_owned(),
                    target,
                    idcti,
                    answered_at: job.answered_at,
                },
            );
        }
        Ok(in_progress(&live, &jobs, UnixTime::now()))
    }

    fn range(
        &self,
        dataini: Option<&str>,
        datafin: Option<&str>,
    ) -> Result<TimeRange, UscallError> {
        let max_days = self.config.max_report_days;
        let range = wire::date_range(dataini, datafin, &self.tz(), UnixTime::now()).map_err(
            |e| match e {
                wire::RangeError::Start => UscallError::invalid("dataini", reason::DATE_FORMAT),
                wire::RangeError::End => UscallError::invalid("datafin", reason::DATE_FORMAT),
                wire::RangeError::Order => UscallError::invalid("datafin", reason::END_AFTER_START),
            },
        )?;
        if range.to.seconds() - range.from.seconds() > i64::from(max_days) * 86_400 + 1 {
            return Err(UscallError::invalid(
                "datafin",
                reason::period_too_long(max_days),
            ));
        }
        Ok(range)
    }

    async fn dispatch(&self, op: &str, args: &Args<'_>, client: Option<IpAddr>) -> Answer {
        let actor = self.authenticate(args.get("token"), client).await?;
        match op {
            "getAgent" => self.get_agent().await,
            "startCall" => self.start_call(&actor, args).await,
            "cdrSearch" => self.cdr_search(args).await,
            "audioDownload" => self.audio_download(args).await,
            "agentLogin" => self.agent_login(&actor, args, client).await,
            "agentLogout" => self.agent_logout(&actor, args).await,
            "agentStatus" => self.agent_status(args).await,
            "getPauses" => self.get_pauses().await,
            "startPause" => self.start_pause(&actor, args).await,
            "endPause" => self.end_pause(&actor, args).await,
            "hangupCall" => self.hangup_call(&actor, args).await,
            "monitExten" => self.monit_exten(&actor, args).await,
            "getExtens" => self.get_extens(args).await,
            "extenStatus" => self.exten_status(args).await,
            "getQueue" => self.get_queue(args).await,
            "queueStatus" => self.queue_status(args),
            "cdrTariff" => self.cdr_tariff(args).await,
            "listTrunk" => self.list_trunk(),
            "listURA" => self.list_ura(args).await,
            "cdrURA" => self.cdr_ura(args).await,
            "ccenterAgents" => self.ccenter_agents(args).await,
            "ccenterCdr" => self.ccenter_cdr(args).await,
            "ccenterPauses" => self.ccenter_pauses(args).await,
            "ccenterSessions" => self.ccenter_sessions(args).await,
            "ccenterMetrics" => self.ccenter_metrics(args).await,
            "ccenterMetricsReports" => Ok(Value::Array(
                METRICS_REPORTS
                    .iter()
                    .map(|(n, d)| json!({"nome": n, "descricao": d}))
                    .collect(),
            )),
            _ => Err(UscallError::Internal),
        }
    }
}

impl SoapService for UscallService {
    fn namespace(&self) -> &str {
        NAMESPACE
    }

    fn wsdl(&self) -> &str {
        WSDL
    }

    fn trusted_proxies(&self) -> &[Network] {
        &self.services.trusted_proxies
    }

    async fn call(&self, call: SoapCall, ctx: RequestContext) -> Result<SoapValue, SoapError> {
        let Some((op, _)) = OPERATIONS
            .iter()
            .find(|(op, _)| *op == call.operation.as_str())
        else {
            return Err(SoapError::UnknownOperation(call.operation.clone()));
        };
        let args = Args {
            parts: soap::Parts::new(&call, OPERATIONS, &[]),
        };
        let answer = match self.dispatch(op, &args, ctx.client).await {
            Ok(v) => wire::ok(v),
            Err(e) => e.to_json(),
        };
        Ok(SoapValue::Str(answer))
    }
}

#[cfg(test)]
mod tests;
