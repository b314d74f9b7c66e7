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
use crate::core::dialing::DialingCategory;
use crate::core::directory::{
    Agent, AgentNumber, CredentialApi, Extension, PauseReason, PauseReasonId, QueueName, TrunkName,
};
use crate::core::journal::{CdrRecord, QueueLogRecord, TimeRange, UnixTime};
use crate::core::live::{EndpointKind, EndpointLive, LiveState};
use crate::core::login_guard::Attempt;
use crate::core::originate::{self, CallData, DirectTarget, OriginateRequest};
use crate::core::presence::{agent_presence, extension_presence, AgentPresence, ExtensionPresence};
use crate::core::recordings::{Fetched, RecordingKey};
use crate::core::reports::{self, ReportContext, ReportFilter};
use crate::core::Secret;
use crate::facades::auth::{KeyError, KeyVerifier};
use crate::facades::client_addr::Network;
use crate::facades::soap::{self, RequestContext, SoapCall, SoapError, SoapService, SoapValue};
use crate::facades::{PbxServices, Services};

use config::QueueKind;
use errors::{Noun, UscallError};

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

/// The reports ccenterMetrics answers, with their descriptions.
pub const METRICS_REPORTS: &[(&str, &str)] = &[
    (
        "filas",
        "Por fila: oferecidas, atendidas, abandonadas, tempo esgotado, nível de serviço, espera e conversação médias",
    ),
    (
        "agentes",
        "Por agente: tempos logado, em pausa, disponível e falando; ligações apresentadas, atendidas, perdidas e efetuadas",
    ),
    (
        "atividade",
        "Eventos das filas em ordem (entrada, atendimento, abandono, login, pausa...)",
    ),
];

/// The facade's routes.
pub fn routes(services: Arc<Services>, keys: Arc<KeyVerifier>) -> Router {
    soap::routes(PATH, Arc::new(UscallService::new(services, keys)))
}

/// The operations over the engine's services.
pub struct UscallService {
    services: Arc<Services>,
    keys: Arc<KeyVerifier>,
    categories: Vec<DialingCategory>,
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
    AgentNumber::new(v)
        .map_err(|_| UscallError::invalid(param, "use somente letras, dígitos, _ e - (até 32)"))
}

fn extension(param: &'static str, v: &str) -> Result<Extension, UscallError> {
    if v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) || v.len() < 2 {
        return Err(UscallError::invalid(
            param,
            "o ramal deve ter de 2 a 10 dígitos",
        ));
    }
    Extension::new(v).map_err(|_| UscallError::invalid(param, "ramal inválido"))
}

fn queue_name(param: &'static str, v: &str) -> Result<QueueName, UscallError> {
    QueueName::new(v)
        .map_err(|_| UscallError::invalid(param, "use somente letras, dígitos, _ e - (até 64)"))
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
            format!("no máximo {MAX_LIST_ITEMS} itens"),
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
        Err(UscallError::invalid(
            "idcti",
            "use até 64 letras, dígitos, _ . : e -",
        ))
    }
}

/// `nao_encontrado` ("Ramal <ext>") unless the PBX knows `ext` as an extension (not a trunk).
fn require_extension(live: &LiveState, ext: &str) -> Result<(), UscallError> {
    if live
        .endpoints
        .get(ext)
        .is_some_and(|e| e.kind == EndpointKind::Extension)
    {
        Ok(())
    } else {
        Err(UscallError::not_found(Noun::Ramal, ext))
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

fn endpoint_ip(e: &EndpointLive) -> String {
    e.contact_ip.clone().unwrap_or_default()
}

impl UscallService {
    /// The service; the dialing categories come from the (validated) configuration.
    pub fn new(services: Arc<Services>, keys: Arc<KeyVerifier>) -> Self {
        let categories = services.config.uscall.categories().unwrap_or_default();
        Self {
            services,
            keys,
            categories,
        }
    }

    fn tz(&self) -> jiff::tz::TimeZone {
        self.services.config.engine.time_zone()
    }

    fn pbx(&self) -> Result<&PbxServices, UscallError> {
        self.services.pbx().ok_or(UscallError::PbxUnavailable)
    }

    fn live(&self) -> Result<LiveState, UscallError> {
        let pbx = self.pbx()?;
        let state = pbx
            .live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(state.clone())
    }

    fn call_rules(&self) -> CallRules {
        CallRules {
            originate_context: self.services.config.originate.context.clone(),
            ..CallRules::default()
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

    async fn agent(&self, number: &AgentNumber) -> Result<Agent, UscallError> {
        self.services
            .directory
            .agent(number)
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
        let max_days = self.services.config.uscall.max_report_days;
        let range = wire::date_range(dataini, datafin, &self.tz(), UnixTime::now()).map_err(
            |e| match e {
                wire::RangeError::Start => {
                    UscallError::invalid("dataini", "use o formato YYYY-MM-DD HH:MM:SS")
                }
                wire::RangeError::End => {
                    UscallError::invalid("datafin", "use o formato YYYY-MM-DD HH:MM:SS")
                }
                wire::RangeError::Order => {
                    UscallError::invalid("datafin", "deve ser posterior a dataini")
                }
            },
        )?;
        if range.to.seconds() - range.from.seconds() > i64::from(max_days) * 86_400 + 1 {
            return Err(UscallError::invalid(
                "datafin",
                format!("o período não pode passar de {max_days} dias"),
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

    // ------------------------------------------------------------------ agents

    async fn get_agent(&self) -> Answer {
        let agents = self.agents().await?;
        Ok(Value::Array(
            agents
                .iter()
                .map(|a| {
                    json!({
                        "num": a.number.as_str(),
                        "nome": a.full_name,
                        "senha": Value::Null,
                        "filachave": a.queues.first().map_or("", QueueName::as_str),
                    })
                })
                .collect(),
        ))
    }

    /// agentLogin: the digest is checked through the login guard (`uscall:<agente>` and the
    /// client's address): while locked out the answer is `senha_invalida` without hashing, and
    /// an unknown agent costs the same hashing as a known one before `nao_encontrado`.
    async fn agent_login(&self, actor: &Actor, args: &Args<'_>, client: Option<IpAddr>) -> Answer {
        let number = agent_number("agente", args.required("agente")?)?;
        let ext = extension("ramal", args.required("ramal")?)?;
        let md5 = args.required("senhamd5")?;
        if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(UscallError::invalid(
                "senhamd5",
                "informe o MD5 da senha (32 dígitos hexadecimais)",
            ));
        }
        let key_queue = args
            .get("filachave")
            .map(|q| queue_name("filachave", q))
            .transpose()?;
        let principal = format!("uscall:{number}");
        let guard = &self.services.logins;
        if guard.locked(&principal, client) {
            return Err(UscallError::WrongPassword);
        }
        let agent = self
            .services
            .directory
            .agent(&number)
            .await
            .map_err(internal)?;
        let digest = match &agent {
            Some(_) => self
                .services
                .agent_digests
                .digest(&number)
                .await
                .map_err(internal)?,
            None => None,
        };
        let presented = Secret::new(md5.to_owned());
        let attempt = guard
            .verify_with(&principal, client, digest, move |h| {
                verify_digest(h, &presented)
            })
            .await;
        let agent = match (attempt, agent) {
            (Attempt::Accepted, Some(agent)) => agent,
            (Attempt::Refused, None) => return Err(UscallError::not_found(Noun::Agente, &number)),
            _ => return Err(UscallError::WrongPassword),
        };
        let queue = match key_queue {
            Some(q) => q,
            None => agent.queues.first().cloned().ok_or_else(|| {
                UscallError::NotAllowed(format!("o agente {number} não tem fila chave"))
            })?,
        };
        let pbx = self.pbx()?;
        require_extension(&self.live()?, ext.as_str())?;
        let out = pbx
            .agents
            .login_to(
                actor,
                &number,
                Some(&ext),
                Some(std::slice::from_ref(&queue)),
            )
            .await?;
        Ok(json!({
            "agente": number.as_str(),
            "ramal": out.extension.as_str(),
            "filas": out.queues.iter().map(QueueName::as_str).collect::<Vec<_>>(),
        }))
    }

    /// The agent's live queues (those it is logged in to), or why it has none.
    fn logged_queues(&self, number: &AgentNumber) -> Result<Vec<QueueName>, UscallError> {
        let live = self.live()?;
        let view = live
            .agent_by_name(number.as_str())
            .filter(|v| v.logged_in())
            .ok_or_else(|| UscallError::NotLoggedIn(number.to_string()))?;
        Ok(view.queues.keys().cloned().collect())
    }

    async fn agent_logout(&self, actor: &Actor, args: &Args<'_>) -> Answer {
        let number = agent_number("agente", args.required("agente")?)?;
        self.agent(&number).await?;
        self.logged_queues(&number)?;
        self.pbx()?.agents.logout(actor, &number).await?;
        Ok(json!({ "agente": number.as_str() }))
    }

    async fn start_pause(&self, actor: &Actor, args: &Args<'_>) -> Answer {
        let number = agent_number("agente", args.required("agente")?)?;
        let reason = PauseReasonId::new(args.required("idpausa")?)
            .map_err(|_| UscallError::invalid("idpausa", "use o id de getPauses"))?;
        let agent = self.agent(&number).await?;
        let reasons = self.pause_reasons().await?;
        let found = reasons
            .iter()
            .find(|r| r.id == reason)
            .ok_or_else(|| UscallError::not_found(Noun::Pausa, &reason))?;
        let queues: Vec<QueueName> = self
            .logged_queues(&number)?
            .into_iter()
            .filter(|q| agent.in_queue(q))
            .collect();
        if queues.is_empty() {
            return Err(UscallError::NotAllowed(format!(
                "o agente {number} não está logado em nenhuma de suas filas"
            )));
        }
        self.pbx()?
            .agents
            .pause(actor, &number, &reason, Some(&queues))
            .await?;
        Ok(json!({ "agente": number.as_str(), "idpausa": reason.as_str(), "pausa": found.name }))
    }

    async fn end_pause(&self, actor: &Actor, args: &Args<'_>) -> Answer {
        let number = agent_number("agente", args.required("agente")?)?;
        let agent = self.agent(&number).await?;
        let live = self.live()?;
        let view = live
            .agent_by_name(number.as_str())
            .filter(|v| v.logged_in())
            .ok_or_else(|| UscallError::NotLoggedIn(number.to_string()))?;
        if !view.paused_anywhere() {
            return Err(UscallError::NotAllowed(format!(
                "o agente {number} não está em pausa"
            )));
        }
        let queues: Vec<QueueName> = view
            .queues
            .keys()
            .filter(|q| agent.in_queue(q))
            .cloned()
            .collect();
        self.pbx()?
            .agents
            .unpause(actor, &number, Some(&queues))
            .await?;
        Ok(json!({ "agente": number.as_str() }))
    }

    async fn agent_status(&self, args: &Args<'_>) -> Answer {
        let only = args
            .get("agente")
            .map(|a| agent_number("agente", a))
            .transpose()?;
        let agents = match &only {
            Some(n) => vec![self.agent(n).await?],
            None => self.agents().await?,
        };
        let reasons = self.pause_reasons().await?;
        let live = self.live()?;
        let tz = self.tz();
        let now = UnixTime::now();
        let today = wire::date_range(None, None, &tz, now).map_err(|_| UscallError::Internal)?;
        let (cdrs, log) = self.journal(today, today).await?;
        let mut ctx = ReportContext::new(UnixTime(now.0 + 1));
        for a in &agents {
            let ext = live
                .agent_by_name(a.number.as_str())
                .and_then(|v| Extension::from_interface(&v.interface))
                .or_else(|| a.default_extension.clone());
            if let Some(ext) = ext {
                ctx.extensions
                    .insert(a.number.to_string(), ext.as_str().to_owned());
            }
        }
        let filter = ReportFilter {
            agents: agents.iter().map(|a| a.number.to_string()).collect(),
            queues: Vec::new(),
        };
        let report = reports::agent_report(&log, &cdrs, today, &filter, &ctx);
        let mut out = Vec::new();
        for a in &agents {
            let view = live.agent_by_name(a.number.as_str());
            let ext = view
                .as_ref()
                .and_then(|v| Extension::from_interface(&v.interface));
            let endpoint = ext.as_ref().and_then(|e| live.endpoints.get(e.as_str()));
            let presence = agent_presence(view.as_ref(), endpoint);
            let pause = view.as_ref().and_then(|v| v.pause().cloned());
            let pause_name = pause
                .as_ref()
                .and_then(|p| p.reason.as_deref())
                .map(|r| {
                    reasons
                        .iter()
                        .find(|x| x.id.as_str() == r)
                        .map_or(r.to_owned(), |x| x.name.clone())
                })
                .unwrap_or_default();
            let call = endpoint.and_then(EndpointLive::current_call);
            let (queue, caller) = match view.as_ref().map(|v| &v.activity) {
                Some(crate::core::live::Activity::Talking { queue, caller })
                | Some(crate::core::live::Activity::Ringing { queue, caller }) => {
                    (queue.clone(), caller.clone())
                }
                _ => (None, None),
            };
            let atendfila = match (&queue, call) {
                (Some(q), _) => q.as_str().to_owned(),
                (None, Some(_)) => "Ativo".to_owned(),
                (None, None) => String::new(),
            };
            let r = report.iter().find(|r| r.agent == a.number.as_str());
            out.push(json!({
                "num": a.number.as_str(),
                "status": match presence {
                    AgentPresence::Paused => "em pausa",
                    AgentPresence::Busy => "ocupado",
                    AgentPresence::Ringing => "tocando",
                    AgentPresence::Idle => "ocioso",
                    AgentPresence::ExtensionDown => "ramal inoperante",
                    AgentPresence::Unknown => "desconhecido",
                    AgentPresence::LoginError => "erro login",
                    AgentPresence::NotLoggedIn => "nao logado",
                },
                "pausa": pause_name,
                "campanha": "",
                "ramal": ext.as_ref().map_or("", Extension::as_str),
                "numero": call.map_or(String::new(), |c| peer(&c.peer)),
                "tempo": call.map_or(String::new(), |c| wire::hms(now.0 - c.since.0)),
                "filas": view.as_ref().map_or(String::new(), |v| {
                    v.queues.keys().map(QueueName::as_str).collect::<Vec<_>>().join(",")
                }),
                "recebidas": r.map_or(0, |r| r.answered),
                "efetuadas": r.map_or(0, |r| r.outbound),
                "atendfila": atendfila,
                "idcall": caller.as_ref().map_or("", |c| c.as_str()),
                "ddr": caller
                    .as_ref()
                    .and_then(|c| live.caller_dids.get(c))
                    .map_or("", String::as_str),
            }));
        }
        Ok(Value::Array(out))
    }

    async fn get_pauses(&self) -> Answer {
        let reasons = self.pause_reasons().await?;
        Ok(Value::Array(
            reasons
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id.as_str(),
                        "pause": r.name,
                        "tempo": r.max_seconds.unwrap_or(0),
                        "filas": if r.queues.is_empty() {
                            "ALL".to_owned()
                        } else {
                            r.queues.iter().map(QueueName::as_str).collect::<Vec<_>>().join(",")
                        },
                    })
                })
                .collect(),
        ))
    }

    // ------------------------------------------------------------------ calls

    async fn start_call(&self, actor: &Actor, args: &Args<'_>) -> Answer {
        let tipo = args.required("tipo")?.to_ascii_lowercase();
        let origem = args.required("origem")?;
        let destino = args.required("destino")?;
        let categoria = args.required("categoria")?;
        let idcti = args.get("idcti").map(idcti).transpose()?;
        if !matches!(tipo.as_str(), "outbound" | "clicktocall" | "clicktocal") {
            return Err(UscallError::invalid("tipo", "use outbound ou clicktocall"));
        }
        let category = self
            .categories
            .iter()
            .find(|c| c.id == categoria)
            .ok_or_else(|| UscallError::not_found(Noun::Categoria, categoria))?;
        let request = if tipo == "outbound" {
            let ext = originate::Extension::parse(origem).map_err(|_| {
                UscallError::invalid("origem", "o ramal deve ter de 2 a 10 dígitos")
            })?;
            let number = category.apply(destino)?;
            require_extension(&self.live()?, ext.as_str())?;
            OriginateRequest::click_to_call(ext, number)
        } else {
            let number = category.apply(origem)?;
            let cfg = &self.services.config.uscall;
            if !destino.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UscallError::invalid(
                    "destino",
                    "o DDR deve ter somente dígitos",
                ));
            }
            if !cfg.ddrs.iter().any(|d| d == destino) {
                return Err(UscallError::not_found(Noun::Ddr, destino));
            }
            let target = DirectTarget::new(&cfg.ddr_context, destino)
                .map_err(|_| UscallError::invalid("destino", "DDR inválido"))?;
            OriginateRequest::direct(number, target)
        };
        if let Some(trunk) = &category.trunk {
            let live = self.live()?;
            if !live
                .endpoints
                .get(trunk)
                .is_some_and(|e| e.kind == EndpointKind::Trunk)
            {
                return Err(UscallError::NotAllowed(format!(
                    "o tronco {trunk} da categoria {categoria} não existe no PBX"
                )));
            }
        }
        let mut request = request;
        if let Some(trunk) = &category.trunk {
            let trunk = TrunkName::new(trunk.as_str()).map_err(|_| {
                UscallError::NotAllowed(format!("o tronco da categoria {categoria} é inválido"))
            })?;
            request = request.with_trunk(trunk);
        }
        if tipo != "outbound" {
            // The DDR's side (the queue, the agent's phone) sees the number dialed as the caller.
            let shown = originate::CallerId::new(None, Some(request.destination.as_str()))
                .map_err(|_| UscallError::invalid("origem", "número inválido"))?;
            request = request.with_caller_ids(Some(shown), None);
        }
        if let Some(id) = &idcti {
            let data = CallData::new(&[("idcti", id.as_str())])
                .map_err(|_| UscallError::invalid("idcti", "valor inválido"))?;
            request = request.with_call_data(data);
        }
        let number = request.destination.as_str().to_owned();
        let job = self
            .pbx()?
            .originate
            .start_job(actor, request)
            .await
            .map_err(UscallError::from)?;
        Ok(json!({
            "id": job.as_str(),
            "tipo": if tipo == "outbound" { "outbound" } else { "clicktocall" },
            "numero": number,
            "categoria": category.id,
            "idcti": idcti,
        }))
    }

    fn call_json(&self, s: &CallSummary) -> Value {
        let tz = self.tz();
        json!({
            "bilheteunico": s.linkedid,
            "Audio": s.recording.as_deref().map_or("", |r| r.rsplit('/').next().unwrap_or(r)),
            "datahora": wire::datetime(s.start, &tz),
            "tipo": wire::tipo(s.kind),
            "DDR": s.did.clone().unwrap_or_default(),
            "origem": s.source,
            "destino": s.destination,
            "tronco": s.trunk.clone().unwrap_or_default(),
            "espera": wire::hms(s.wait_secs),
            "duracao": wire::hms(s.duration_secs),
            "status": wire::status(s.status),
            "idcti": s.idcti.clone().unwrap_or_default(),
        })
    }

    async fn cdr_search(&self, args: &Args<'_>) -> Answer {
        let idunico = args.get("idunico");
        if idunico.is_some_and(|i| i.len() > 128 || i.chars().any(char::is_control)) {
            return Err(UscallError::invalid("idunico", "valor inválido"));
        }
        let (dataini, datafin) = (args.get("dataini"), args.get("datafin"));
        let range = if idunico.is_some() && dataini.is_none() && datafin.is_none() {
            let now = UnixTime::now();
            TimeRange::new(UnixTime(now.0 - IDUNICO_LOOKBACK_SECS), UnixTime(now.0 + 1))
        } else {
            self.range(dataini, datafin)?
        };
        let origem = args.get("origem");
        let destino = args.get("destino");
        for (param, v) in [("origem", origem), ("destino", destino)] {
            if v.is_some_and(|n| n.len() > 64 || n.chars().any(char::is_control)) {
                return Err(UscallError::invalid(param, "até 64 caracteres"));
            }
        }
        let ended = self.summaries(range).await?;
        let live: Vec<CallSummary> = self
            .calls_in_progress()
            .await?
            .into_iter()
            .filter(|s| range.contains(s.start))
            .collect();
        let rows: Vec<Value> = merge_in_progress(ended, live)
            .iter()
            .filter(|s| origem.is_none_or(|o| s.source == o))
            .filter(|s| destino.is_none_or(|d| s.destination == d || s.did.as_deref() == Some(d)))
            .filter(|s| idunico.is_none_or(|i| s.is_named_by(i)))
            .map(|s| self.call_json(s))
            .collect();
        Ok(Value::Array(rows))
    }

    async fn audio_download(&self, args: &Args<'_>) -> Answer {
        let id = args.required("idunico")?.to_owned();
        if id.len() > 128 || id.chars().any(char::is_control) {
            return Err(UscallError::invalid("idunico", "valor inválido"));
        }
        let format = wire::audio_format(args.get("formato"))
            .ok_or_else(|| UscallError::invalid("formato", "use mp3, ogg ou wav"))?;
        let keys = vec![
            RecordingKey::IdCti(id.clone()),
            RecordingKey::LinkedId(id.clone()),
            RecordingKey::UniqueId(id.clone()),
        ];
        let Fetched {
            recording, bytes, ..
        } = self
            .services
            .recordings
            .fetch(keys, format, |_| true)
            .await?;
        let start = recording.created;
        let summary = match &recording.linkedid {
            Some(linkedid) => {
                let range = TimeRange::new(UnixTime(start.0 - 3600), UnixTime(start.0 + 86_400));
                self.summaries(range)
                    .await?
                    .into_iter()
                    .find(|s| s.linkedid == linkedid.as_str())
            }
            None => None,
        };
        let name = recording
            .relative_path
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let ext = format.extension();
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        Ok(json!({
            "Nomeaudio": format!("{stem}.{ext}"),
            "Data": wire::datetime(summary.as_ref().map_or(start, |s| s.start), &self.tz()),
            "Tipo": summary.as_ref().map_or("", |s| wire::tipo(s.kind)),
            "Status": summary.as_ref().map_or("", |s| wire::status(s.status)),
            "Origem": summary.as_ref().map_or("", |s| s.source.as_str()),
            "Destino": summary.as_ref().map_or("", |s| s.destination.as_str()),
            "formato": ext,
            "arquivo_base_64": wire::base64(&bytes),
        }))
    }

    async fn cdr_tariff(&self, args: &Args<'_>) -> Answer {
        let range = self.range(args.get("dataini"), args.get("datafin"))?;
        let (cdrs, _) = self
            .journal(range, TimeRange::new(range.from, range.from))
            .await?;
        let agents = self.agents().await?;
        let tz = self.tz();
        let calls: Vec<_> = reports::calls(&cdrs);
        Ok(Value::Array(
            outbound_legs(&calls)
                .iter()
                .filter(|l| range.contains(l.start))
                .map(|l| {
                    let ext = l.extension.clone().unwrap_or_default();
                    let name = agents
                        .iter()
                        .find(|a| {
                            a.default_extension
                                .as_ref()
                                .is_some_and(|e| e.as_str() == ext)
                        })
                        .map_or_else(|| ext.clone(), |a| a.full_name.clone());
                    json!({
                        "datahorario": wire::datetime(l.start, &tz),
                        "ramalnum": ext,
                        "ramalnome": name,
                        "ramalcanal": l.channel,
                        "numero": l.number,
                        "tronconome": l.trunk,
                        "truncocanal": l.trunk_channel,
                        "statuscall": wire::status(l.status),
                        "durtotal": l.duration_secs,
                        "durcall": l.billsec,
                        "idcall": l.linkedid,
                    })
                })
                .collect(),
        ))
    }

    async fn hangup_call(&self, actor: &Actor, args: &Args<'_>) -> Answer {
        let ramal = args.required("ramal")?;
        let is_agent = wire::flag(args.get("agente"))
            .ok_or_else(|| UscallError::invalid("agente", "use yes para agente"))?;
        let (ext, who) = self.target(ramal, is_agent, "ramal")?;
        let live = self.live()?;
        let channel = live
            .endpoints
            .get(ext.as_str())
            .and_then(EndpointLive::current_call)
            .map(|c| c.channel.clone())
            .ok_or_else(|| UscallError::NoCall(who.clone()))?;
        let result = self.pbx()?.commands.hangup(&channel).await;
        self.journal_action(actor, "call.hangup", ext.as_str(), String::new(), &result)
            .await;
        result?;
        Ok(json!({ "ramal": ext.as_str() }))
    }

    /// The extension `value` names: itself, or the one agent `value` is logged in from.
    fn target(
        &self,
        value: &str,
        is_agent: bool,
        param: &'static str,
    ) -> Result<(Extension, String), UscallError> {
        if is_agent {
            let number = agent_number(param, value)?;
            let live = self.live()?;
            let view = live
                .agent_by_name(number.as_str())
                .filter(|v| v.logged_in())
                .ok_or_else(|| UscallError::NotLoggedIn(number.to_string()))?;
            let ext = Extension::from_interface(&view.interface)
                .ok_or_else(|| UscallError::NotLoggedIn(number.to_string()))?;
            Ok((ext, format!("O agente {number}")))
        } else {
            let ext = extension(param, value)?;
            require_extension(&self.live()?, ext.as_str())?;
            Ok((ext.clone(), format!("O ramal {ext}")))
        }
    }

    async fn monit_exten(&self, actor: &Actor, args: &Args<'_>) -> Answer {
        let src = extension("srcramal", args.required("srcramal")?)?;
        let dst = args.required("dstramal")?;
        let is_agent = wire::flag(args.get("agente"))
            .ok_or_else(|| UscallError::invalid("agente", "use yes para agente"))?;
        let tipo = args.get("tipo").unwrap_or("escuta").to_ascii_lowercase();
        let mode = match tipo.as_str() {
            "escuta" => SpyMode::Listen,
            "monitor" => SpyMode::Whisper,
            "conf" => SpyMode::Barge,
            _ => return Err(UscallError::invalid("tipo", "use escuta, monitor ou conf")),
        };
        let (target, who) = self.target(dst, is_agent, "dstramal")?;
        let live = self.live()?;
        require_extension(&live, src.as_str())?;
        if src == target {
            return Err(UscallError::invalid(
                "srcramal",
                "deve ser outro ramal que dstramal",
            ));
        }
        if live
            .endpoints
            .get(target.as_str())
            .and_then(EndpointLive::current_call)
            .is_none()
        {
            return Err(UscallError::NoCall(who));
        }
        let result = self.pbx()?.commands.spy(&src, &target, mode).await;
        let params = format!("supervisor={src} mode={tipo}");
        self.journal_action(actor, "call.spy", target.as_str(), params, &result)
            .await;
        let id = result?;
        Ok(json!({
            "srcramal": src.as_str(),
            "dstramal": target.as_str(),
            "tipo": tipo,
            "id": id.as_str(),
        }))
    }

    // ------------------------------------------------------------------ extensions, queues, trunks

    /// Extensions that are call-center phones: queue members now, or agents' default phones.
    fn callcenter_extensions(live: &LiveState, agents: &[Agent]) -> BTreeSet<String> {
        let mut set: BTreeSet<String> = live
            .queues
            .values()
            .flat_map(|q| q.members.keys())
            .filter_map(|i| Extension::from_interface(i))
            .map(|e| e.as_str().to_owned())
            .collect();
        set.extend(
            agents
                .iter()
                .filter_map(|a| a.default_extension.as_ref())
                .map(|e| e.as_str().to_owned()),
        );
        set
    }

    async fn get_extens(&self, args: &Args<'_>) -> Answer {
        let only = args
            .get("ramal")
            .map(|r| extension("ramal", r))
            .transpose()?;
        let agents = self.agents().await?;
        let live = self.live()?;
        let cc = Self::callcenter_extensions(&live, &agents);
        let rows: Vec<Value> = live
            .endpoints
            .iter()
            .filter(|(_, e)| e.kind == EndpointKind::Extension)
            .filter(|(n, _)| only.as_ref().is_none_or(|o| o.as_str() == n.as_str()))
            .map(|(n, _)| {
                let name = agents
                    .iter()
                    .find(|a| {
                        a.default_extension
                            .as_ref()
                            .is_some_and(|e| e.as_str() == n)
                    })
                    .map_or_else(|| format!("Ramal {n}"), |a| a.full_name.clone());
                json!({
                    "num": n,
                    "tipo": if cc.contains(n) { "callcenter" } else { "pbx" },
                    "nome": name,
                })
            })
            .collect();
        if let (Some(o), true) = (&only, rows.is_empty()) {
            return Err(UscallError::not_found(Noun::Ramal, o));
        }
        Ok(Value::Array(rows))
    }

    async fn exten_status(&self, args: &Args<'_>) -> Answer {
        let tipo = args.get("tipo").unwrap_or("all").to_ascii_lowercase();
        if !matches!(tipo.as_str(), "all" | "callcenter" | "pbx") {
            return Err(UscallError::invalid("tipo", "use callcenter, pbx ou all"));
        }
        let only = args
            .get("ramal")
            .map(|r| extension("ramal", r))
            .transpose()?;
        let agents = self.agents().await?;
        let forwards = self.pbx()?.commands.forwards().await.map_err(|e| {
            tracing::warn!(error = %e, "uscall: call forwards not readable");
            UscallError::PbxUnavailable
        })?;
        let live = self.live()?;
        let cc = Self::callcenter_extensions(&live, &agents);
        let now = UnixTime::now();
        let rows: Vec<Value> = live
            .endpoints
            .iter()
            .filter(|(_, e)| e.kind == EndpointKind::Extension)
            .filter(|(n, _)| only.as_ref().is_none_or(|o| o.as_str() == n.as_str()))
            .filter(|(n, _)| match tipo.as_str() {
                "callcenter" => cc.contains(*n),
                "pbx" => !cc.contains(*n),
                _ => true,
            })
            .map(|(n, e)| {
                let call = e.current_call();
                json!({
                    "ramal": n,
                    "status": match extension_presence(e) {
                        ExtensionPresence::Available => "disponível",
                        ExtensionPresence::Unavailable => "indisponível",
                        ExtensionPresence::Busy => "ocupado",
                        ExtensionPresence::Ringing => "tocando",
                        ExtensionPresence::Dialing => "discando",
                    },
                    "sigame": forwards.get(n.as_str()).map_or("", String::as_str),
                    "ip": endpoint_ip(e),
                    "numero": call.map_or(String::new(), |c| peer(&c.peer)),
                    "tempo": call.map_or(String::new(), |c| wire::hms(now.0 - c.since.0)),
                })
            })
            .collect();
        if let (Some(o), true) = (&only, rows.is_empty()) {
            return Err(UscallError::not_found(Noun::Ramal, o));
        }
        Ok(Value::Array(rows))
    }

    fn queue_filter(&self, args: &Args<'_>) -> Result<Option<QueueName>, UscallError> {
        args.get("fila").map(|q| queue_name("fila", q)).transpose()
    }

    async fn get_queue(&self, args: &Args<'_>) -> Answer {
        let only = self.queue_filter(args)?;
        let queues: Vec<QueueName> = {
            let live = self.live()?;
            if let Some(q) = &only {
                if !live.queues.contains_key(q) {
                    return Err(UscallError::not_found(Noun::Fila, q));
                }
            }
            live.queues
                .keys()
                .filter(|q| only.as_ref().is_none_or(|o| o == *q))
                .cloned()
                .collect()
        };
        let agents = self.agents().await?;
        let display = &self.services.config.uscall.queue;
        Ok(Value::Array(
            queues
                .iter()
                .map(|q| {
                    let shown = display.iter().find(|d| d.queue == q.as_str());
                    let name = shown
                        .and_then(|d| d.name.clone())
                        .unwrap_or_else(|| q.to_string());
                    let kind = shown.and_then(|d| d.kind).unwrap_or_else(|| {
                        if agents.iter().any(|a| a.queues.contains(q)) {
                            QueueKind::Callcenter
                        } else {
                            QueueKind::Pbx
                        }
                    });
                    json!({ "fila": q.as_str(), "tipo": kind.as_str(), "nome": name })
                })
                .collect(),
        ))
    }

    fn queue_status(&self, args: &Args<'_>) -> Answer {
        let only = self.queue_filter(args)?;
        let live = self.live()?;
        if let Some(q) = &only {
            if !live.queues.contains_key(q) {
                return Err(UscallError::not_found(Noun::Fila, q));
            }
        }
        let now = UnixTime::now();
        Ok(Value::Array(
            live.queues
                .iter()
                .filter(|(q, _)| only.as_ref().is_none_or(|o| o == *q))
                .map(|(q, state)| {
                    let mut waiting: Vec<_> = state.waiting.values().collect();
                    waiting.sort_by_key(|w| w.position);
                    json!({
                        "fila": q.as_str(),
                        "status": if waiting.is_empty() { "ok" } else { "busy" },
                        "espera": waiting.len(),
                        "numeros": waiting
                            .iter()
                            .map(|w| json!({ "numero": w.caller_id, "tempo": wire::hms(w.wait(now)) }))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect(),
        ))
    }

    fn list_trunk(&self) -> Answer {
        let live = self.live()?;
        Ok(Value::Array(
            live.endpoints
                .iter()
                .filter(|(_, e)| e.kind == EndpointKind::Trunk)
                .map(|(n, _)| json!({ "nome": n, "tipo": "PJSIP", "canal": format!("PJSIP/{n}") }))
                .collect(),
        ))
    }

    // ------------------------------------------------------------------ reports

    /// The filter, range and records of a report request.
    async fn report_input(
        &self,
        args: &Args<'_>,
    ) -> Result<
        (
            ReportFilter,
            TimeRange,
            Vec<CdrRecord>,
            Vec<QueueLogRecord>,
            ReportContext,
        ),
        UscallError,
    > {
        let agents = list("agente", args.get("agente"), |a| agent_number("agente", a))?;
        let queues = list("filas", args.get("filas"), |q| queue_name("filas", q))?;
        let range = self.range(args.get("dataini"), args.get("datafin"))?;
        let j = &self.services.journal;
        // The state at `dataini` and then the interval: agents logged in before it count.
        let cdrs = j.cdrs(range).await.map_err(internal)?;
        let log = j
            .report_records(range, Vec::new(), Vec::new())
            .await
            .map_err(internal)?;
        let directory = self.agents().await?;
        let mut ctx = ReportContext::new(UnixTime(UnixTime::now().0 + 1));
        for a in &directory {
            if let Some(ext) = &a.default_extension {
                ctx.extensions
                    .insert(a.number.to_string(), ext.as_str().to_owned());
            }
        }
        if let Ok(live) = self.live() {
            for (q, state) in &live.queues {
                if state.service_level_secs > 0 {
                    ctx.service_levels
                        .insert(q.as_str().to_owned(), state.service_level_secs);
                }
                for (interface, m) in &state.members {
                    ctx.interfaces.insert(interface.clone(), m.name.clone());
                }
            }
        }
        let filter = ReportFilter {
            agents: agents.iter().map(ToString::to_string).collect(),
            queues: queues.iter().map(ToString::to_string).collect(),
        };
        Ok((filter, range, cdrs, log, ctx))
    }

    async fn ccenter_agents(&self, args: &Args<'_>) -> Answer {
        let (filter, range, cdrs, log, ctx) = self.report_input(args).await?;
        let names: BTreeMap<String, String> = self
            .agents()
            .await?
            .into_iter()
            .map(|a| (a.number.to_string(), a.full_name))
            .collect();
        Ok(Value::Array(
            reports::agent_report(&log, &cdrs, range, &filter, &ctx)
                .iter()
                .map(|r| {
                    json!({
                        "agente": r.agent,
                        "nome": names.get(&r.agent).cloned().unwrap_or_default(),
                        "sessoes": r.sessions.len(),
                        "tempo_logado": r.logged_secs,
                        "tempo_pausa": r.paused_secs,
                        "tempo_disponivel": r.available_secs,
                        "tempo_falando": r.talking_secs,
                        "apresentadas": r.presented,
                        "atendidas": r.answered,
                        "perdidas": r.missed,
                        "efetuadas": r.outbound,
                        "efetuadas_atendidas": r.outbound_answered,
                        "tma": r.aht_secs.map(|s| s.round() as i64),
                    })
                })
                .collect(),
        ))
    }

    async fn ccenter_cdr(&self, args: &Args<'_>) -> Answer {
        let (filter, range, cdrs, log, _) = self.report_input(args).await?;
        let rules = self.call_rules();
        let filtered = !filter.agents.is_empty() || !filter.queues.is_empty();
        let rows = reports::calls(&cdrs)
            .iter()
            .filter(|c| range.contains(c.start))
            .map(|c| (summarize(c, &log, &rules), c))
            .filter(|(s, _)| {
                if !filtered {
                    return true;
                }
                log.iter().any(|r| {
                    s.uniqueids.contains(&r.callid)
                        && (filter.queues.is_empty() || filter.queues.contains(&r.queue))
                        && (filter.agents.is_empty() || filter.agents.contains(&r.agent))
                })
            })
            .map(|(s, c)| {
                let mut row = self.call_json(&s);
                let connect = log.iter().find(|r| {
                    s.uniqueids.contains(&r.callid)
                        && r.event == crate::core::journal::QueueEvent::Connect
                });
                row["fila"] = json!(connect.map_or("", |r| r.queue.as_str()));
                row["agente"] = json!(connect.map_or("", |r| r.agent.as_str()));
                row["pernas"] = json!(c.legs.len());
                row
            })
            .collect();
        Ok(Value::Array(rows))
    }

    fn report_type(args: &Args<'_>) -> Result<bool, UscallError> {
        match args
            .get("report_type")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("resumo") => Ok(false),
            Some("detalhado") => Ok(true),
            Some(_) => Err(UscallError::invalid(
                "report_type",
                "use resumo ou detalhado",
            )),
        }
    }

    async fn ccenter_pauses(&self, args: &Args<'_>) -> Answer {
        let detailed = Self::report_type(args)?;
        let (filter, range, cdrs, log, ctx) = self.report_input(args).await?;
        let names: BTreeMap<String, String> = self
            .pause_reasons()
            .await?
            .into_iter()
            .map(|r| (r.id.to_string(), r.name))
            .collect();
        let tz = self.tz();
        let mut rows = Vec::new();
        for r in reports::agent_report(&log, &cdrs, range, &filter, &ctx) {
            for p in &r.pauses {
                let name = names
                    .get(&p.reason)
                    .cloned()
                    .unwrap_or_else(|| p.reason.clone());
                if detailed {
                    for period in &p.periods {
                        rows.push(json!({
                            "agente": r.agent,
                            "idpausa": p.reason,
                            "pausa": name,
                            "inicio": wire::datetime(period.start, &tz),
                            "fim": if period.open { String::new() } else { wire::datetime(period.end, &tz) },
                            "duracao": period.seconds(),
                        }));
                    }
                } else {
                    rows.push(json!({
                        "agente": r.agent,
                        "idpausa": p.reason,
                        "pausa": name,
                        "quantidade": p.count,
                        "duracao": p.seconds,
                    }));
                }
            }
        }
        Ok(Value::Array(rows))
    }

    async fn ccenter_sessions(&self, args: &Args<'_>) -> Answer {
        let detailed = Self::report_type(args)?;
        let (filter, range, cdrs, log, ctx) = self.report_input(args).await?;
        let tz = self.tz();
        let mut rows = Vec::new();
        for r in reports::agent_report(&log, &cdrs, range, &filter, &ctx) {
            if detailed {
                for s in &r.sessions {
                    rows.push(json!({
                        "agente": r.agent,
                        "inicio": wire::datetime(s.start, &tz),
                        "fim": if s.open { String::new() } else { wire::datetime(s.end, &tz) },
                        "duracao": s.seconds(),
                        "filas": s.queues.join(","),
                    }));
                }
            } else {
                rows.push(json!({
                    "agente": r.agent,
                    "sessoes": r.sessions.len(),
                    "duracao": r.logged_secs,
                }));
            }
        }
        Ok(Value::Array(rows))
    }

    async fn ccenter_metrics(&self, args: &Args<'_>) -> Answer {
        let name = args.required("report_name")?.to_ascii_lowercase();
        match name.as_str() {
            "agentes" => self.ccenter_agents(args).await,
            "filas" => {
                let (filter, range, _, log, ctx) = self.report_input(args).await?;
                Ok(Value::Array(
                    reports::queue_report(&log, range, &filter, &ctx)
                        .iter()
                        .map(|q| {
                            json!({
                                "fila": q.queue,
                                "oferecidas": q.offered,
                                "atendidas": q.answered,
                                "abandonadas": q.abandoned,
                                "tempo_esgotado": q.timeout,
                                "outras_saidas": q.other_exits,
                                "nivel_servico_segundos": q.service_level_secs,
                                "atendidas_no_nivel": q.answered_within_sl,
                                "nivel_servico": q.service_level_pct.map(|p| (p * 100.0).round() / 100.0),
                                "espera_media": q.avg_wait_secs.map(|s| s.round() as i64),
                                "conversacao_media": q.avg_talk_secs.map(|s| s.round() as i64),
                            })
                        })
                        .collect(),
                ))
            }
            "atividade" => {
                let (filter, range, _, log, ctx) = self.report_input(args).await?;
                let tz = self.tz();
                Ok(Value::Array(
                    reports::queue_activity(&log, range, &filter, &ctx)
                        .iter()
                        .map(|e| {
                            json!({
                                "datahora": wire::datetime(e.time, &tz),
                                "idcall": e.callid,
                                "fila": e.queue,
                                "agente": e.agent.clone().unwrap_or_default(),
                                "evento": e.event.as_str(),
                                "dados": e.data,
                            })
                        })
                        .collect(),
                ))
            }
            _ => Err(UscallError::invalid(
                "report_name",
                "use um nome de ccenterMetricsReports (filas, agentes, atividade)",
            )),
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
