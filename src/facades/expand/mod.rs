//! The eXpand SOAP webservice: `/apiws/2/apiws.php` (and `?wsdl`), rpc/encoded as PHP's
//! SoapServer serves it. Every operation of the vendor's document, parameters in its order,
//! answers in its shapes (numbers, booleans, XML documents as strings), its error codes.
//!
//! - authentication: `authorizedKey`, a key issued with `centralita admin credential create
//!   --api expand` ([`KeyVerifier`]); `queueData` and `agentData`, documented without a key, are
//!   answered only to the configured client networks;
//! - commands go to the core services (originate jobs, agents, SMS), reports come from
//!   `core::reports`, live panels from the live state;
//! - [`wire`] encodes the answers, [`errors`] maps failures to codes.

pub mod config;
pub mod errors;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use base64::Engine as _;

use crate::core::audit::{api, Actor};
use crate::core::call_summary;
use crate::core::directory::{
    Agent, AgentNumber, CredentialApi, Extension as AgentExtension, PauseReason, PauseReasonId,
    QueueName,
};
use crate::core::live::{Activity, AgentView, EndpointKind, LiveState};
use crate::core::originate::{
    CallData, CallerId, JobState, OriginateId, OriginateRequest, PhoneNumber,
};
use crate::core::originate_service::CancelError;
use crate::core::recordings::{Fetched, RecordingKey, ServeFormat};
use crate::core::reports::{self, ReportContext, ReportFilter};
use crate::core::sms::{PbxGateway, SmsGateway, SmsId, SmsService, SmsSettings};
use crate::core::{CdrRecord, QueueEvent, QueueLogRecord, TimeRange, UnixTime};
use crate::facades::auth::KeyVerifier;
use crate::facades::soap::{self, RequestContext, SoapCall, SoapError, SoapService, SoapValue};
use crate::facades::Services;

use config::{ExpandConfig, Network};
use errors::{answer, Failure, Op};

/// Where the webservice answers.
pub const PATH: &str = "/apiws/2/apiws.php";

/// The namespace of the operations (the WSDL's `soap:body namespace`).
pub const NAMESPACE: &str = "urn:apiws";

/// Most extensions one `getAgentLogin` may ask for.
pub const MAX_EXTENSIONS: usize = 200;

/// Most queues one `pauseAgent` / `unpauseAgent` may name.
pub const MAX_QUEUES: usize = 64;

/// The WSDL, with the endpoint placeholder.
pub const WSDL: &str = include_str!("../../../wsdl/expand.wsdl");

/// The facade's routes.
pub fn routes(services: Arc<Services>, keys: Arc<KeyVerifier>) -> Router {
    soap::routes(PATH, Arc::new(ExpandService::new(services, keys)))
}

/// The webservice: what every operation reaches.
pub struct ExpandService {
    services: Arc<Services>,
    keys: Arc<KeyVerifier>,
    sms: SmsService,
    networks: Vec<Network>,
}

type Outcome = Result<SoapValue, Failure>;

/// Every operation's parts, in the documented order (the WSDL's `parameterOrder`).
pub const OPERATIONS: &[(&str, &[&str])] = &[
    (
        "originateCall",
        &[
            "authorizedKey",
            "src",
            "srcCallerID",
            "dst",
            "dstCallerID",
            "timeout",
            "callinfo",
        ],
    ),
    ("originateCallStatus", &["authorizedKey", "originatedID"]),
    ("originateCallCancel", &["authorizedKey", "originatedID"]),
    ("extensionPbx", &["authorizedKey"]),
    ("recordingPbx", &["authorizedKey", "uniqueId"]),
    ("cdrData", &["authorizedKey", "uniqueid", "inicio", "fin"]),
    ("cdrCustom", &["authorizedKey", "inicio", "fin"]),
    ("statusQueues", &["authorizedKey"]),
    ("queueData", &["Cola", "Agente", "FechaInicio", "FechaFin"]),
    ("agentData", &["Cola", "FechaInicio", "FechaFin"]),
    ("loginAgent", &["authorizedKey", "agent", "extension"]),
    ("logoutAgent", &["authorizedKey", "agent"]),
    (
        "pauseAgent",
        &["authorizedKey", "agent", "queues", "pauseDTMF"],
    ),
    ("unpauseAgent", &["authorizedKey", "agent", "queues"]),
    ("getAgentLoggedInfo", &["authorizedKey", "username"]),
    ("getUserByAgent", &["authorizedKey", "agent"]),
    ("getUserInfo", &["authorizedKey", "username"]),
    (
        "getAgentTimes",
        &["authorizedKey", "inicio", "fin", "agente", "cola"],
    ),
    (
        "agentSessionDetail",
        &["authorizedKey", "inicio", "fin", "userID", "cola"],
    ),
    ("getAgentLogin", &["authorizedKey", "extensions"]),
    (
        "sendSms",
        &["authorizedKey", "msgId", "msgData", "msgRecip"],
    ),
    ("statusSms", &["authorizedKey", "idSMS"]),
];

/// Other spellings of part names found in the vendor's document (`info` is how its
/// `originateCall` example names `callinfo`).
const ALIASES: &soap::parts::Aliases = &[("autorizedkey", "authorizedKey"), ("info", "callinfo")];

/// Argument `index` (named `name` in the WSDL) of the call, read by the SOAP facades' one rule
/// ([`soap::parts`]): by name in any case or by an alias, else by position when the part there
/// has a foreign name (`v1`, `v2`... followed by a named `info`). `None` when absent, nil or
/// empty (trimmed).
fn arg<'a>(call: &'a SoapCall, index: usize, name: &str) -> Option<&'a str> {
    soap::Parts::new(call, OPERATIONS, ALIASES).at(index, name)
}

fn config(services: &Services) -> &ExpandConfig {
    &services.config.expand
}

impl ExpandService {
    /// The service over `services`.
    pub fn new(services: Arc<Services>, keys: Arc<KeyVerifier>) -> Self {
        let c = config(&services);
        let sms = SmsService::new(
            services.sms.clone(),
            SmsSettings {
                from: (!c.sms_from.is_empty()).then(|| c.sms_from.clone()),
                max_per_second: c.sms_max_per_second,
            },
        )
        .with_action_journal(services.actions.clone());
        let networks = c.networks();
        Self {
            services,
            keys,
            sms,
            networks,
        }
    }

    fn tz(&self) -> jiff::tz::TimeZone {
        self.services.config.engine.time_zone()
    }

    async fn auth(&self, key: Option<&str>, ctx: &RequestContext) -> Result<Actor, Failure> {
        let key = key.ok_or(Failure::BadKey)?;
        match self
            .keys
            .verify(key, CredentialApi::Expand, ctx.client)
            .await
        {
            Ok(c) => Ok(Actor::new(api::EXPAND, c.id.as_str()).with_system(c.system)),
            Err(crate::facades::auth::KeyError::Refused) => Err(Failure::BadKey),
            Err(crate::facades::auth::KeyError::Store) => Err(Failure::Unknown),
        }
    }

    /// The keyless operations: the client (behind a trusted proxy, the address it forwarded
    /// for) must lie in a client network.
    fn network_allowed(&self, ctx: &RequestContext) -> Result<Actor, Failure> {
        match ctx.client {
            Some(ip) if self.networks.iter().any(|n| n.contains(ip)) => {
                Ok(Actor::new(api::EXPAND, format!("network:{ip}")))
            }
            // Without connection info (in-process tests) there is no peer to refuse.
            None if self
                .networks
                .iter()
                .any(|n| n.contains([127, 0, 0, 1].into())) =>
            {
                Ok(Actor::new(api::EXPAND, "network:local"))
            }
            _ => Err(Failure::BadKey),
        }
    }

    async fn agents(&self) -> Result<Vec<Agent>, Failure> {
        self.services
            .directory
            .agents()
            .await
            .map_err(|_| Failure::Unknown)
    }

    /// The agent a client names: by user name, else by number.
    async fn find_agent(&self, key: &str) -> Result<Option<Agent>, Failure> {
        self.services
            .directory
            .find_agent(key)
            .await
            .map_err(|_| Failure::Unknown)
    }

    async fn pause_reasons(&self) -> Result<Vec<PauseReason>, Failure> {
        self.services
            .directory
            .pause_reasons()
            .await
            .map_err(|_| Failure::Unknown)
    }

    async fn pause_names(&self) -> Result<BTreeMap<String, String>, Failure> {
        Ok(self
            .pause_reasons()
            .await?
            .into_iter()
            .map(|r| (r.id.as_str().to_owned(), r.name))
            .collect())
    }

    fn live(&self) -> Result<LiveState, Failure> {
        let pbx = self.services.pbx().ok_or(Failure::Unknown)?;
        let live = pbx.live.read().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(live)
    }

    /// Whether `queue` is known: to Asterisk, to an agent of the directory, or described in
    /// the configuration.
    async fn known_queue(&self, queue: &str) -> Result<bool, Failure> {
        if QueueName::new(queue).is_err() {
            return Ok(false);
        }
        if config(&self.services)
            .queue_descriptions
            .contains_key(queue)
        {
            return Ok(true);
        }
        if let Some(pbx) = self.services.pbx() {
            let live = pbx.live.read().unwrap_or_else(|e| e.into_inner());
            if live.queues.keys().any(|q| q.as_str() == queue) {
                return Ok(true);
            }
        }
        Ok(self
            .agents()
            .await?
            .iter()
            .any(|a| a.queues.iter().any(|q| q.as_str() == queue)))
    }

    /// `[from, to)` from the client's dates: codes for each way they can be wrong.
    fn range(&self, from: Option<&str>, to: Option<&str>) -> Result<TimeRange, Failure> {
        let tz = self.tz();
        let from = from
            .and_then(|f| wire::parse_date(f, &tz))
            .ok_or(Failure::BadStart)?;
        let to = to
            .and_then(|t| wire::parse_date(t, &tz))
            .ok_or(Failure::BadEnd)?;
        let max = i64::from(config(&self.services).max_report_days) * 86_400;
        if to <= from || to.0 - from.0 > max {
            return Err(Failure::BadRange);
        }
        if from > UnixTime::now() {
            return Err(Failure::FutureRange);
        }
        Ok(TimeRange::new(from, to))
    }

    /// The state lines at the range's start (who was logged in, paused or talking then) and the
    /// range's queue_log records, of `queues`, and the report context over the directory.
    async fn report_input(
        &self,
        range: TimeRange,
        queues: Vec<String>,
        with_cdrs: bool,
    ) -> Result<(Vec<QueueLogRecord>, Vec<CdrRecord>, ReportContext), Failure> {
        let agents = self.agents().await?;
        let journal = &self.services.journal;
        let records = journal
            .report_records(range, queues, Vec::new())
            .await
            .map_err(|_| Failure::Unknown)?;
        let cdrs = if with_cdrs {
            self.cdrs(range).await?
        } else {
            Vec::new()
        };
        let mut ctx = ReportContext::new(UnixTime(UnixTime::now().0 + 1));
        for a in &agents {
            if let Some(ext) = &a.default_extension {
                ctx.interfaces
                    .insert(format!("PJSIP/{}", ext.as_str()), a.number.as_str().into());
                ctx.extensions
                    .insert(a.number.as_str().into(), ext.as_str().into());
            }
        }
        Ok((records, cdrs, ctx))
    }

    // -------------------------------------------------------------- originate

    async fn originate_call(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        let actor = self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let pbx = self.services.pbx().ok_or(Failure::Unknown)?;
        let live = self.live()?;
        let request = originate_request(call, |src| {
            live.endpoints
                .get(src)
                .is_some_and(|e| e.kind == EndpointKind::Extension)
        })?;
        let id = pbx
            .originate
            .start_job(&actor, request)
            .await
            .map_err(|e| errors::originate_failure(&e))?;
        Ok(SoapValue::Str(id.to_string()))
    }

    async fn originate_status(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let id = OriginateId::parse(arg(call, 1, "originatedID").unwrap_or(""))
            .map_err(|_| Failure::Refused)?;
        let pbx = self.services.pbx().ok_or(Failure::Unknown)?;
        let job = pbx
            .originate
            .status(&id)
            .await
            .map_err(|_| Failure::Refused)?;
        Ok(SoapValue::Int(match job.state {
            JobState::Ringing => 1,
            JobState::Answered => 2,
            JobState::HungUp | JobState::Cancelled => 3,
            JobState::Busy => 4,
            JobState::NoAnswer => 5,
            JobState::Unavailable => 6,
            JobState::SourceOffHook => 7,
        }))
    }

    async fn originate_cancel(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        let actor = self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let id = OriginateId::parse(arg(call, 1, "originatedID").unwrap_or(""))
            .map_err(|_| Failure::Refused)?;
        let pbx = self.services.pbx().ok_or(Failure::Unknown)?;
        match pbx.originate.cancel(&actor, &id).await {
            Ok(_) => Ok(SoapValue::Int(1)),
            // Marked cancelled, but a hangup failed: the channel is gone or going.
            Err(CancelError::Control(_)) => Ok(SoapValue::Int(1)),
            Err(_) => Err(Failure::Refused),
        }
    }

    // -------------------------------------------------------------- PBX

    async fn extension_pbx(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let live = self.live()?;
        let agents = self.agents().await?;
        let list: Vec<wire::ExtensionInfo> = live
            .endpoints
            .iter()
            .filter(|(_, e)| e.kind == EndpointKind::Extension)
            .map(|(name, _)| {
                let logged = live
                    .agent_by_interface(&format!("PJSIP/{name}"))
                    .and_then(|v| agents.iter().find(|a| a.number.as_str() == v.name));
                let owner = agents.iter().find(|a| {
                    a.default_extension
                        .as_ref()
                        .is_some_and(|e| e.as_str() == name)
                });
                wire::ExtensionInfo {
                    extension: name.clone(),
                    channel: format!("PJSIP/{name}"),
                    callerid_name: logged
                        .or(owner)
                        .map_or_else(|| name.clone(), |a| a.full_name.clone()),
                }
            })
            .collect();
        Ok(SoapValue::Str(wire::extensions_xml(&list)))
    }

    /// The CDR legs of the call `id` names: a uniqueid or linkedid of the journal, else the job
    /// id `originateCall` answered (while the job is kept, `[originate] retention_seconds`),
    /// found by the core's one rule ([`call_summary::call_named_by`]) among the CDRs of the
    /// job's own time window. Empty when none.
    async fn cdrs_of(&self, id: &str) -> Result<Vec<CdrRecord>, Failure> {
        if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
            return Ok(Vec::new());
        }
        let direct = self
            .services
            .journal
            .cdrs_of_call(id)
            .await
            .map_err(|_| Failure::Unknown)?;
        if !direct.is_empty() {
            return Ok(direct);
        }
        let (Ok(job_id), Some(pbx)) = (OriginateId::parse(id), self.services.pbx()) else {
            return Ok(Vec::new());
        };
        let Ok(job) = pbx.originate.status(&job_id).await else {
            return Ok(Vec::new());
        };
        let end = job.ended_at.unwrap_or_else(UnixTime::now);
        let range = TimeRange::new(UnixTime(job.created_at.0 - 60), UnixTime(end.0 + 60));
        let cdrs = self.cdrs(range).await?;
        let calls = reports::calls(&cdrs);
        Ok(call_summary::call_named_by(&calls, id)
            .map(|c| c.legs.clone())
            .unwrap_or_default())
    }

    async fn recording_pbx(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let uniqueid = arg(call, 1, "uniqueId").unwrap_or("").to_owned();
        let legs = self.cdrs_of(&uniqueid).await?;
        let mut keys = vec![
            RecordingKey::UniqueId(uniqueid.clone()),
            RecordingKey::LinkedId(uniqueid.clone()),
        ];
        if let Some(leg) = legs.first() {
            keys.push(RecordingKey::LinkedId(leg.linkedid.as_str().to_owned()));
        }
        let found = self
            .services
            .recordings
            .fetch(keys, ServeFormat::Mp3, |_| true)
            .await;
        if let Ok(Fetched { bytes: mp3, .. }) = found {
            let b64 = base64::engine::general_purpose::STANDARD.encode(mp3);
            return Ok(SoapValue::Str(wire::recording_xml(
                1,
                &uniqueid,
                Some(&b64),
            )));
        }
        let status = if legs.is_empty() { -1 } else { 0 };
        Ok(SoapValue::Str(wire::recording_xml(status, &uniqueid, None)))
    }

    async fn cdr_data(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let cdrs = match arg(call, 1, "uniqueid") {
            Some(id) => self.cdrs_of(id).await?,
            None => {
                let range = self.range(arg(call, 2, "inicio"), arg(call, 3, "fin"))?;
                self.cdrs(range).await?
            }
        };
        Ok(SoapValue::Str(wire::cdr_xml(&cdrs, &self.tz())))
    }

    async fn cdrs(&self, range: TimeRange) -> Result<Vec<CdrRecord>, Failure> {
        self.services
            .journal
            .cdrs(range)
            .await
            .map_err(|_| Failure::Unknown)
    }

    async fn cdr_custom(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let range = self.range(arg(call, 1, "inicio"), arg(call, 2, "fin"))?;
        let cdrs = self.cdrs(range).await?;
        let c = config(&self.services);
        Ok(SoapValue::Str(wire::cdr_custom_xml(
            &cdrs,
            &self.tz(),
            &c.cdr_custom_estado,
            &c.cdr_custom_observaciones,
        )))
    }

    // -------------------------------------------------------------- callcenter

    async fn status_queues(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let live = self.live()?;
        let agents = self.agents().await?;
        let names = self.pause_names().await?;
        let limits = self.pause_limits().await?;
        let reason_name = |r: &Option<String>| {
            r.as_deref()
                .map(|r| names.get(r).cloned().unwrap_or_else(|| r.to_owned()))
                .unwrap_or_default()
        };
        let status_of = |a: &Activity| match a {
            Activity::Idle => "waiting",
            Activity::Ringing { .. } => "ringing",
            Activity::Talking { .. } => "busy",
            Activity::WrapUp { .. } => "wrapup",
        };
        // Agents: the directory's, then members the directory does not know.
        let mut panel_agents = Vec::new();
        let mut seen = BTreeSet::new();
        let view_of = |number: &str| live.agent_by_name(number);
        for a in &agents {
            seen.insert(a.number.as_str().to_owned());
            let view = view_of(a.number.as_str());
            panel_agents.push(panel_agent(
                a.number.as_str(),
                &a.full_name,
                view.as_ref(),
                &live,
                &limits,
            ));
        }
        for (interface, a) in &live.agents {
            if seen.insert(a.name.clone()) {
                let view = live.agent_by_interface(interface);
                panel_agents.push(panel_agent(&a.name, &a.name, view.as_ref(), &live, &limits));
            }
        }
        let c = config(&self.services);
        let mut queues = Vec::new();
        for (qname, q) in &live.queues {
            let mut members = Vec::new();
            let mut calls = Vec::new();
            let mut ongoing = 0;
            for (interface, m) in &q.members {
                let activity = live
                    .agents
                    .get(interface)
                    .map(|a| (a.activity.clone(), a.since));
                members.push(wire::PanelMember {
                    agent: m.name.clone(),
                    paused: m.pause.is_some(),
                    status: activity
                        .as_ref()
                        .map_or("waiting", |(a, _)| status_of(a))
                        .to_owned(),
                    pause_type: reason_name(&m.pause.as_ref().and_then(|p| p.reason.clone())),
                });
                let mine = member_calls(qname, &m.name, interface, &live);
                ongoing += mine.len() as u64;
                calls.extend(mine);
            }
            for w in q.waiting.values() {
                calls.push(wire::PanelCall {
                    kind: "in".into(),
                    callerid: w.caller_id.clone(),
                    calleridname: String::new(),
                    connecttime: String::new(),
                    intime: w.joined_at.0.to_string(),
                    uniqueid: w.uniqueid.as_str().to_owned(),
                    agent: "0".into(),
                });
            }
            queues.push(wire::PanelQueue {
                qname: qname.as_str().to_owned(),
                name: c.queue_description(qname.as_str()).to_owned(),
                abandoned: q.abandoned,
                completed: q.completed,
                counterabn: q.abandoned,
                counterans: q.completed_in_sl,
                numongoing: ongoing,
                numwaiting: q.waiting.len() as u64,
                ratio: q.service_level(),
                members,
                calls,
            });
        }
        let generated = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Ok(SoapValue::Str(wire::panel_xml(
            generated,
            &panel_agents,
            &queues,
        )))
    }

    /// The keyless reports' first check and argument: the client's network, then `Cola`, a
    /// queue the PBX knows.
    async fn keyless_queue(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Result<String, Failure> {
        self.network_allowed(ctx)?;
        let queue = arg(call, 0, "Cola")
            .ok_or(Failure::UnknownQueue)?
            .to_owned();
        if !self.known_queue(&queue).await? {
            return Err(Failure::UnknownQueue);
        }
        Ok(queue)
    }

    async fn queue_data(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        let queue = self.keyless_queue(call, ctx).await?;
        let agent = arg(call, 1, "Agente").map(str::to_owned);
        let range = self.range(arg(call, 2, "FechaInicio"), arg(call, 3, "FechaFin"))?;
        let agent_number = match &agent {
            Some(a) => Some(
                self.find_agent(a)
                    .await?
                    .ok_or(Failure::UnknownAgent)?
                    .number
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let names = self.pause_names().await?;
        let (records, cdrs, ctx) = self.report_input(range, vec![queue.clone()], true).await?;
        let filter = ReportFilter {
            agents: agent_number.into_iter().collect(),
            queues: vec![queue.clone()],
        };
        let events = reports::queue_activity(&records, range, &filter, &ctx);
        let mut list = Vec::new();
        for e in events {
            list.extend(activity_of(&e, &names));
        }
        // Outbound calls of agents logged in to this queue when they dialed.
        let sessions = reports::agent_report(&records, &[], range, &filter, &ctx);
        let agents_only = ReportFilter {
            agents: filter.agents.clone(),
            queues: Vec::new(),
        };
        let outbound = reports::outbound_calls(&cdrs, range, &agents_only, &ctx);
        for call in reports::during_sessions(outbound, &sessions) {
            list.extend(dial_out(&queue, &call));
        }
        list.sort_by_key(|a| a.time);
        Ok(SoapValue::Str(wire::queue_activity_xml(&list, &self.tz())))
    }

    async fn agent_data(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        let queue = self.keyless_queue(call, ctx).await?;
        let range = self.range(arg(call, 1, "FechaInicio"), arg(call, 2, "FechaFin"))?;
        let agents = self.agents().await?;
        let (records, cdrs, ctx) = self.report_input(range, vec![queue.clone()], true).await?;
        let filter = ReportFilter {
            agents: Vec::new(),
            queues: vec![queue],
        };
        let short = i64::from(config(&self.services).short_call_seconds);
        let in_queue = reports::agent_report(&records, &cdrs, range, &filter, &ctx);
        // Outbound calls count for the queue when placed while logged in to it.
        let outbound = reports::during_sessions(
            reports::outbound_calls(&cdrs, range, &ReportFilter::default(), &ctx),
            &in_queue,
        );
        let list: Vec<wire::AgentTotals> = in_queue
            .into_iter()
            .filter(|r| !r.sessions.is_empty() || r.presented > 0)
            .map(|r| {
                let name = agents
                    .iter()
                    .find(|a| a.number.as_str() == r.agent)
                    .map_or_else(|| r.agent.clone(), |a| a.full_name.clone());
                let mine: Vec<&reports::OutboundCall> =
                    outbound.iter().filter(|c| c.agent == r.agent).collect();
                let out_talk: i64 = mine.iter().map(|c| c.talk_secs).sum();
                let out_answered = mine.iter().filter(|c| c.answered).count() as u64;
                let calls = r.answered + out_answered;
                wire::AgentTotals {
                    agente: format!("({}) {}", r.agent, name),
                    logged: r.logged_secs,
                    paused: r.paused_secs,
                    average: r.aht_secs.unwrap_or(0.0),
                    talked: r.queue_talking_secs,
                    talked_out: out_talk,
                    available: r.available_secs,
                    answered: r.answered,
                    missed: r.missed,
                    presented: r.presented,
                    outbound: mine.len() as u64,
                    inbound: r.direct_inbound,
                    transferred: r.transferred,
                    short: r.handled_secs.iter().filter(|s| **s < short).count() as u64,
                    average_all: if calls == 0 {
                        0.0
                    } else {
                        (r.queue_talking_secs + out_talk) as f64 / calls as f64
                    },
                }
            })
            .collect();
        Ok(SoapValue::Str(wire::agent_totals_xml(&list)))
    }

    async fn agent_command(&self, call: &SoapCall, ctx: &RequestContext, op: &str) -> Outcome {
        let actor = self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let key = arg(call, 1, "agent").ok_or(Failure::BadParams)?;
        let agent = self.find_agent(key).await?.ok_or(Failure::UnknownAgent)?;
        let pbx = self.services.pbx().ok_or(Failure::Unknown)?;
        let queues = |text: Option<&str>| -> Result<Option<Vec<QueueName>>, Failure> {
            let list =
                wire::split_list_max(text.unwrap_or(""), MAX_QUEUES).ok_or(Failure::BadParams)?;
            if list.is_empty() {
                return Ok(None);
            }
            list.iter()
                .map(|q| QueueName::new(q.as_str()).map_err(|_| Failure::BadParams))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        };
        let n = &agent.number;
        let result = match op {
            "loginAgent" => {
                let ext = match arg(call, 2, "extension") {
                    Some(e) => Some(AgentExtension::new(e).map_err(|_| Failure::BadParams)?),
                    None => None,
                };
                pbx.agents.login(&actor, n, ext.as_ref()).await.map(drop)
            }
            "logoutAgent" => pbx.agents.logout(&actor, n).await,
            "pauseAgent" => {
                let qs = queues(arg(call, 2, "queues"))?;
                match arg(call, 3, "pauseDTMF") {
                    Some(reason) => {
                        let id = self.pause_reason_id(reason).await?;
                        pbx.agents.pause(&actor, n, &id, qs.as_deref()).await
                    }
                    None => {
                        pbx.agents
                            .pause_without_reason(&actor, n, qs.as_deref())
                            .await
                    }
                }
            }
            _ => {
                let qs = queues(arg(call, 2, "queues"))?;
                pbx.agents.unpause(&actor, n, qs.as_deref()).await
            }
        };
        result.map_err(|e| errors::agent_failure(&e))?;
        Ok(SoapValue::Bool(true))
    }

    /// The longest duration of each pause reason that has one (seconds, by reason id).
    async fn pause_limits(&self) -> Result<BTreeMap<String, u64>, Failure> {
        Ok(self
            .pause_reasons()
            .await?
            .into_iter()
            .filter_map(|r| Some((r.id.as_str().to_owned(), u64::from(r.max_seconds?))))
            .collect())
    }

    /// The pause reason `pauseDTMF` names: its id, else its name (any case).
    async fn pause_reason_id(&self, text: &str) -> Result<PauseReasonId, Failure> {
        let reasons = self.pause_reasons().await?;
        reasons
            .iter()
            .find(|r| r.id.as_str() == text)
            .or_else(|| reasons.iter().find(|r| r.name.eq_ignore_ascii_case(text)))
            .map(|r| r.id.clone())
            .ok_or(Failure::Refused)
    }

    async fn agent_logged_info(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let user = arg(call, 1, "username").ok_or(Failure::BadParams)?;
        let Some(agent) = self.find_agent(user).await? else {
            return Ok(SoapValue::Str("0".into()));
        };
        let live = self.live()?;
        match live.agent_by_name(agent.number.as_str()) {
            Some(view) if view.logged_in() => {
                let info = user_info(&agent, &view);
                Ok(SoapValue::Str(wire::agent_logged_xml(&info)))
            }
            _ => Ok(SoapValue::Str("0".into())),
        }
    }

    async fn user_by_agent(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let number = arg(call, 1, "agent").ok_or(Failure::BadParams)?;
        let number = AgentNumber::new(number).map_err(|_| Failure::BadParams)?;
        let agent = self
            .services
            .directory
            .agent(&number)
            .await
            .map_err(|_| Failure::Unknown)?;
        Ok(SoapValue::Str(
            agent.map(|a| a.username).unwrap_or_default(),
        ))
    }

    async fn user_info(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let user = arg(call, 1, "username").ok_or(Failure::BadParams)?;
        let agents = self.agents().await?;
        match agents.iter().find(|a| a.username == user) {
            Some(a) => {
                let info = wire::UserInfo {
                    nombre: a.full_name.clone(),
                    email: a.email.clone().unwrap_or_default(),
                    perfil: a.profile.clone(),
                    supervisor: a.supervisor,
                    user: a.username.clone(),
                    number: a.number.as_str().to_owned(),
                    extension: String::new(),
                };
                Ok(SoapValue::Str(wire::user_info_xml(&info)))
            }
            None => Ok(SoapValue::Str(String::new())),
        }
    }

    /// The agent and queue filters of a report: unknown ones are errors.
    async fn report_filter(
        &self,
        agent: Option<&str>,
        queue: Option<&str>,
    ) -> Result<(Option<Agent>, Option<String>), Failure> {
        let well_formed =
            |s: &str| s.len() <= 64 && s.chars().all(|c| c.is_alphanumeric() || "_-.@".contains(c));
        if agent.is_some_and(|a| !well_formed(a))
            || queue.is_some_and(|q| QueueName::new(q).is_err())
        {
            return Err(Failure::BadParams);
        }
        let agent = match agent {
            Some(a) => Some(self.find_agent(a).await?.ok_or(Failure::UnknownAgent)?),
            None => None,
        };
        if let Some(q) = queue {
            if !self.known_queue(q).await? {
                return Err(Failure::UnknownQueue);
            }
        }
        Ok((agent, queue.map(str::to_owned)))
    }

    async fn agent_times(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let range = self.range(arg(call, 1, "inicio"), arg(call, 2, "fin"))?;
        let (agent, queue) = self
            .report_filter(arg(call, 3, "agente"), arg(call, 4, "cola"))
            .await?;
        let agents = self.agents().await?;
        let (records, _, ctx) = self
            .report_input(range, queue.iter().cloned().collect(), false)
            .await?;
        let filter = ReportFilter {
            agents: agent.iter().map(|a| a.number.as_str().to_owned()).collect(),
            queues: queue.iter().cloned().collect(),
        };
        let c = config(&self.services);
        let list: Vec<wire::AgentTimes> =
            reports::agent_report(&records, &[], range, &filter, &ctx)
                .into_iter()
                .filter(|r| !r.sessions.is_empty())
                .map(|r| {
                    let dir = agents.iter().find(|a| a.number.as_str() == r.agent);
                    let mut qs: BTreeSet<String> = dir
                        .map(|a| a.queues.iter().map(|q| q.as_str().to_owned()).collect())
                        .unwrap_or_default();
                    qs.extend(r.sessions.iter().flat_map(|s| s.queues.iter().cloned()));
                    wire::AgentTimes {
                        number: r.agent.clone(),
                        user: dir.map_or_else(|| r.agent.clone(), |a| a.username.clone()),
                        name: dir.map_or_else(|| r.agent.clone(), |a| a.full_name.clone()),
                        logged: r.logged_secs,
                        paused: r.paused_secs,
                        queues: qs
                            .into_iter()
                            .map(|q| {
                                let d = c.queue_description(&q).to_owned();
                                (q, d)
                            })
                            .collect(),
                    }
                })
                .collect();
        if list.is_empty() {
            return Err(Failure::NoRecords);
        }
        Ok(SoapValue::Str(wire::agent_times_xml(&list)))
    }

    async fn session_detail(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let tz = self.tz();
        // A bad range or one after now is a bad end date here (the vendor lists no code).
        let range = self.range(arg(call, 1, "inicio"), arg(call, 2, "fin"))?;
        let (agent, queue) = self
            .report_filter(arg(call, 3, "userID"), arg(call, 4, "cola"))
            .await?;
        let agents = self.agents().await?;
        let names = self.pause_names().await?;
        let name_of = |r: &str| names.get(r).cloned().unwrap_or_else(|| r.to_owned());
        let (records, _, ctx) = self
            .report_input(range, queue.iter().cloned().collect(), false)
            .await?;
        let agent_filter: Vec<String> =
            agent.iter().map(|a| a.number.as_str().to_owned()).collect();
        let overall = reports::agent_report(
            &records,
            &[],
            range,
            &ReportFilter {
                agents: agent_filter.clone(),
                queues: queue.iter().cloned().collect(),
            },
            &ctx,
        );
        let mut list = Vec::new();
        for r in overall.into_iter().filter(|r| !r.sessions.is_empty()) {
            let queues: BTreeSet<String> = r
                .sessions
                .iter()
                .flat_map(|s| s.queues.iter().cloned())
                .filter(|q| queue.as_ref().is_none_or(|f| f == q))
                .collect();
            let mut details = Vec::new();
            for q in queues {
                let filter = ReportFilter {
                    agents: vec![r.agent.clone()],
                    queues: vec![q.clone()],
                };
                let Some(qr) = reports::agent_report(&records, &[], range, &filter, &ctx)
                    .into_iter()
                    .next()
                else {
                    continue;
                };
                let sessions = qr
                    .sessions
                    .iter()
                    .map(|s| wire::QueueSession {
                        start: s.start,
                        end: s.end,
                        pauses: qr
                            .pauses
                            .iter()
                            .flat_map(|p| {
                                p.periods
                                    .iter()
                                    .filter(|pp| pp.start >= s.start && pp.start <= s.end)
                                    .map(|pp| wire::SessionPause {
                                        kind: name_of(&p.reason),
                                        start: pp.start,
                                        end: pp.end,
                                    })
                            })
                            .collect::<Vec<_>>(),
                    })
                    .map(|mut s| {
                        s.pauses.sort_by_key(|p| p.start);
                        s
                    })
                    .collect();
                details.push(wire::QueueDetail {
                    queue: q,
                    logged: qr.logged_secs,
                    paused: qr.paused_secs,
                    pauses: qr
                        .pauses
                        .iter()
                        .map(|p| (name_of(&p.reason), p.seconds))
                        .collect(),
                    sessions,
                });
            }
            let user = agents
                .iter()
                .find(|a| a.number.as_str() == r.agent)
                .map_or_else(|| r.agent.clone(), |a| a.username.clone());
            list.push(wire::AgentDetail {
                user,
                number: r.agent,
                queues: details,
            });
        }
        Ok(SoapValue::Str(wire::session_detail_xml(&list, &tz)))
    }

    async fn agent_login(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let list = wire::split_list_max(
            arg(call, 1, "extensions").ok_or(Failure::NoExtensions)?,
            MAX_EXTENSIONS,
        )
        .ok_or(Failure::BadParams)?;
        if list.is_empty() {
            return Err(Failure::NoExtensions);
        }
        let live = self.live()?;
        let agents = self.agents().await?;
        let names = self.pause_names().await?;
        let c = config(&self.services);
        let mut out = Vec::new();
        for ext in list {
            let known = live
                .endpoints
                .get(&ext)
                .is_some_and(|e| e.kind == EndpointKind::Extension);
            if !known {
                return Err(Failure::BadExtension);
            }
            let interface = format!("PJSIP/{ext}");
            let view = live.agent_by_interface(&interface);
            let reason_name = |p: &crate::core::live::Pause| {
                p.reason
                    .as_deref()
                    .map(|r| names.get(r).cloned().unwrap_or_else(|| r.to_owned()))
                    .unwrap_or_default()
            };
            let member_of =
                |q: &QueueName| live.queues.get(q).and_then(|ql| ql.members.get(&interface));
            let agent = view.as_ref().map(|v| {
                let dir = agents.iter().find(|a| a.number.as_str() == v.name);
                wire::LoginAgent {
                    number: v.name.clone(),
                    user: dir.map_or_else(|| v.name.clone(), |a| a.username.clone()),
                    name: dir.map_or_else(|| v.name.clone(), |a| a.full_name.clone()),
                    logged: v.logged_in(),
                    logged_at: v
                        .queues
                        .keys()
                        .filter_map(|q| member_of(q).and_then(|m| m.logged_in_since))
                        .min(),
                    paused: v.pause().is_some(),
                    pause_type: v.pause().map(reason_name).unwrap_or_default(),
                }
            });
            let queues = view
                .iter()
                .flat_map(|v| v.queues.iter())
                .map(|(q, pause)| wire::LoginQueue {
                    name: q.as_str().to_owned(),
                    description: c.queue_description(q.as_str()).to_owned(),
                    logged_at: member_of(q).and_then(|m| m.logged_in_since),
                    paused: pause.is_some(),
                    pause_type: pause.as_ref().map(reason_name).unwrap_or_default(),
                })
                .collect();
            out.push(wire::ExtensionLogin {
                number: ext,
                agent,
                queues,
            });
        }
        Ok(SoapValue::Str(wire::agent_login_xml(&out, &self.tz())))
    }

    // -------------------------------------------------------------- SMS

    async fn send_sms(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        let actor = self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let draft = match arg(call, 1, "msgId").unwrap_or("0") {
            "0" => None,
            other => Some(SmsId::parse(other).ok_or(Failure::BadParams)?),
        };
        let id = self
            .sms
            .send(
                &actor,
                draft,
                arg(call, 2, "msgData"),
                arg(call, 3, "msgRecip").unwrap_or(""),
                self.sms_gateway(),
            )
            .await
            .map_err(|e| errors::sms_failure(&e))?;
        Ok(SoapValue::Int(id.get()))
    }

    /// The configured way out: the HTTP gateway, else the PBX (once connected), else none.
    fn sms_gateway(&self) -> Option<Arc<dyn SmsGateway>> {
        if let Some(http) = &self.services.sms_http {
            return Some(http.clone());
        }
        let template = &config(&self.services).sms_uri_template;
        if template.is_empty() {
            return None;
        }
        let pbx = self.services.pbx()?;
        Some(Arc::new(PbxGateway::new(
            pbx.commands.clone(),
            template.clone(),
        )))
    }

    async fn status_sms(&self, call: &SoapCall, ctx: &RequestContext) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let id = arg(call, 1, "idSMS")
            .and_then(SmsId::parse)
            .ok_or(Failure::Refused)?;
        let job = self.sms.job(id).await.map_err(|_| Failure::Unknown)?;
        Ok(SoapValue::Str(
            job.map(|j| j.status.as_str().to_owned())
                .unwrap_or_default(),
        ))
    }
}

/// The request an `originateCall` asks for. `src` is "an extension or a number": a phone of
/// the PBX (`is_phone`) rings first, any other number is called first (the core decides, see
/// [`OriginateRequest::click_to_call_from`]); `callinfo` (or `info`) is a `k=v` list or a bare
/// value, stored as given.
fn originate_request(
    call: &SoapCall,
    is_phone: impl Fn(&str) -> bool,
) -> Result<OriginateRequest, Failure> {
    let dst =
        PhoneNumber::parse(arg(call, 3, "dst").unwrap_or("")).map_err(|_| Failure::BadParams)?;
    let caller = |i, n| {
        arg(call, i, n)
            .map(|name| CallerId::new(Some(name), None))
            .transpose()
            .map_err(|_| Failure::BadParams)
    };
    let src_cid = caller(2, "srcCallerID")?;
    let dst_cid = caller(4, "dstCallerID")?;
    let data =
        CallData::parse(arg(call, 6, "callinfo").unwrap_or("")).map_err(|_| Failure::BadParams)?;
    let mut request =
        OriginateRequest::click_to_call_from(arg(call, 1, "src").unwrap_or(""), dst, is_phone)
            .map_err(|_| Failure::BadParams)?
            .with_caller_ids(src_cid, dst_cid)
            .with_call_data(data);
    if let Some(t) = arg(call, 5, "timeout") {
        let secs: u64 = t.parse().map_err(|_| Failure::BadParams)?;
        request = request
            .with_ring_timeout(Duration::from_secs(secs))
            .map_err(|_| Failure::BadParams)?;
    }
    Ok(request)
}

/// The calls in progress of one queue member for `statusQueues`: its queue call in `queue`
/// (`in`, with the caller's number from its phone's connected line), or else, when it is not
/// ringing or talking for a queue, its phone's calls to external numbers (`out`).
fn member_calls(
    queue: &QueueName,
    member: &str,
    interface: &str,
    live: &LiveState,
) -> Vec<wire::PanelCall> {
    let phone = interface
        .strip_prefix("PJSIP/")
        .and_then(|e| live.endpoints.get(e));
    let activity = live
        .agents
        .get(interface)
        .map(|a| (a.activity.clone(), a.since));
    // When the queue call's caller entered the queue (connected calls only).
    let joined = live
        .agents
        .get(interface)
        .and_then(|a| a.caller_joined)
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    let call =
        |kind: &str, callerid: String, connecttime: String, intime: String, uniqueid: String| {
            wire::PanelCall {
                kind: kind.into(),
                callerid,
                calleridname: String::new(),
                connecttime,
                intime,
                uniqueid,
                agent: member.to_owned(),
            }
        };
    match activity {
        Some((
            Activity::Talking {
                queue: Some(tq),
                caller,
            },
            since,
        )) => {
            if &tq != queue {
                return Vec::new();
            }
            vec![call(
                "in",
                phone
                    .and_then(|p| p.current_call())
                    .map(|c| c.peer.clone())
                    .filter(|p| is_party_number(p))
                    .unwrap_or_default(),
                since.map(|t| t.0.to_string()).unwrap_or_default(),
                joined,
                caller.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            )]
        }
        // Ringing for a queue: its channel is that call, not an outbound one.
        Some((Activity::Ringing { queue: Some(_), .. }, _)) => Vec::new(),
        _ => phone
            .map(|p| &p.calls)
            .into_iter()
            .flatten()
            .filter(|(_, c)| reports::is_external_number(&c.peer))
            .map(|(uniqueid, c)| {
                call(
                    "out",
                    c.peer.clone(),
                    c.since.0.to_string(),
                    // An outbound call starts when it is placed.
                    c.since.0.to_string(),
                    uniqueid.as_str().to_owned(),
                )
            })
            .collect(),
    }
}

/// A channel's other party worth showing as a caller id: digits (an extension or a number),
/// optionally with a leading `+`; not the dialplan's `s`.
fn is_party_number(peer: &str) -> bool {
    let digits = peer.strip_prefix('+').unwrap_or(peer);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An agent of the panel: its status, when it last changed (activity, login or pause), when it
/// last refused a queue call at once, and whether it needs attention (the core's rule, with
/// `limits`: the pause reasons' longest durations).
fn panel_agent(
    number: &str,
    name: &str,
    view: Option<&AgentView>,
    live: &LiveState,
    limits: &BTreeMap<String, u64>,
) -> wire::PanelAgent {
    let status = match view {
        Some(v) if v.logged_in() => {
            if v.pause().is_some() {
                "busyout"
            } else {
                match v.activity {
                    Activity::Idle => "waiting",
                    Activity::Ringing { .. } => "ringing",
                    Activity::Talking { .. } => "busy",
                    Activity::WrapUp { .. } => "wrapup",
                }
            }
        }
        _ => "offline",
    };
    let agent = view.and_then(|v| live.agents.get(&v.interface));
    wire::PanelAgent {
        number: number.to_owned(),
        name: name.to_owned(),
        status: status.to_owned(),
        last_change: view
            .and_then(|v| live.last_status_change(&v.interface))
            .map_or(0, |t| t.0),
        last_congestion: agent.and_then(|a| a.last_refused).map_or(0, |t| t.0),
        warning: view.is_some_and(|v| {
            live.needs_attention(v, UnixTime::now(), |r| {
                r.and_then(|r| limits.get(r)).copied()
            })
        }),
    }
}

fn user_info(agent: &Agent, view: &AgentView) -> wire::UserInfo {
    wire::UserInfo {
        nombre: agent.full_name.clone(),
        email: agent.email.clone().unwrap_or_default(),
        perfil: agent.profile.clone(),
        supervisor: agent.supervisor,
        user: agent.username.clone(),
        number: agent.number.as_str().to_owned(),
        extension: AgentExtension::from_interface(&view.interface)
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
    }
}

/// `DIALOUT` and `DIALOUTEND` of an agent's outbound call.
fn dial_out(queue: &str, call: &reports::OutboundCall) -> [wire::Activity; 2] {
    let base = wire::Activity {
        time: call.start,
        queue: queue.to_owned(),
        uniqueid: call.linkedid.as_str().to_owned(),
        action: "DIALOUT".into(),
        callerid: String::new(),
        agent: call.agent.clone(),
        waitsec: String::new(),
        talksec: String::new(),
        dest: call.dst.clone(),
        cause: String::new(),
    };
    let end = wire::Activity {
        time: call.end,
        action: "DIALOUTEND".into(),
        talksec: call.talk_secs.to_string(),
        dest: String::new(),
        ..base.clone()
    };
    [base, end]
}

/// eXpand's activities for one queue_log event (none for events it does not document).
/// `CONNECT` and `RINGNOANSWER` also yield the `RINGING` that preceded them (queue_log does
/// not log ringing; their ring time says when it began).
fn activity_of(
    e: &reports::QueueActivityEvent,
    pause_names: &BTreeMap<String, String>,
) -> Vec<wire::Activity> {
    let data = |i: usize| e.data.get(i).cloned().unwrap_or_default();
    let base = wire::Activity {
        time: e.time,
        queue: e.queue.clone(),
        uniqueid: match e.event {
            QueueEvent::AddMember
            | QueueEvent::RemoveMember
            | QueueEvent::Pause
            | QueueEvent::Unpause => "NONE".into(),
            _ => e.callid.clone(),
        },
        action: String::new(),
        callerid: String::new(),
        agent: e.agent.clone().unwrap_or_default(),
        waitsec: String::new(),
        talksec: String::new(),
        dest: String::new(),
        cause: String::new(),
    };
    let ringing = |ring: i64| wire::Activity {
        time: UnixTime(e.time.0 - ring.max(0)),
        action: "RINGING".into(),
        ..base.clone()
    };
    let one = |action: &str, f: &dyn Fn(&mut wire::Activity)| {
        let mut a = wire::Activity {
            action: action.into(),
            ..base.clone()
        };
        f(&mut a);
        a
    };
    match &e.event {
        QueueEvent::EnterQueue => vec![one("ENTERQUEUE", &|a| a.callerid = data(1))],
        QueueEvent::Connect => {
            let ring = data(2).trim().parse::<i64>().unwrap_or(0);
            vec![ringing(ring), one("CONNECT", &|a| a.waitsec = data(0))]
        }
        QueueEvent::RingNoAnswer => {
            let ring_ms = data(0).trim().parse::<i64>().unwrap_or(0);
            vec![ringing(ring_ms / 1000), one("NOANSWER", &|_| {})]
        }
        QueueEvent::CompleteCaller => vec![one("COMPLETECALLER", &|a| a.talksec = data(1))],
        QueueEvent::CompleteAgent => vec![one("COMPLETEAGENT", &|a| a.talksec = data(1))],
        QueueEvent::Transfer | QueueEvent::BlindTransfer => vec![one("COMPLETETRANSFER", &|a| {
            a.dest = data(0);
            a.talksec = data(3);
        })],
        QueueEvent::AttendedTransfer => vec![one("COMPLETETRANSFER", &|a| {
            a.dest = data(1);
            a.talksec = e.data.iter().rev().nth(1).cloned().unwrap_or_default();
        })],
        QueueEvent::Abandon => vec![one("ABANDON", &|a| a.waitsec = data(2))],
        QueueEvent::AddMember => vec![one("LOGIN", &|_| {})],
        QueueEvent::RemoveMember => vec![one("LOGOUT", &|_| {})],
        QueueEvent::Pause => vec![one("PAUSE", &|a| {
            let r = data(0);
            a.cause = pause_names.get(&r).cloned().unwrap_or(r);
        })],
        QueueEvent::Unpause => vec![one("UNPAUSE", &|_| {})],
        _ => Vec::new(),
    }
}

impl SoapService for ExpandService {
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
        let (op, outcome) = match call.operation.as_str() {
            "originateCall" => (Op::OriginateCall, self.originate_call(&call, &ctx).await),
            "originateCallStatus" => (Op::OriginateInt, self.originate_status(&call, &ctx).await),
            "originateCallCancel" => (Op::OriginateInt, self.originate_cancel(&call, &ctx).await),
            "extensionPbx" => (Op::Report, self.extension_pbx(&call, &ctx).await),
            "recordingPbx" => (Op::Recording, self.recording_pbx(&call, &ctx).await),
            "cdrData" => (Op::Report, self.cdr_data(&call, &ctx).await),
            "cdrCustom" => (Op::Report, self.cdr_custom(&call, &ctx).await),
            "statusQueues" => (Op::Report, self.status_queues(&call, &ctx).await),
            "queueData" => (Op::Report, self.queue_data(&call, &ctx).await),
            "agentData" => (Op::Report, self.agent_data(&call, &ctx).await),
            op @ ("loginAgent" | "logoutAgent" | "pauseAgent" | "unpauseAgent") => {
                (Op::AgentCommand, self.agent_command(&call, &ctx, op).await)
            }
            "getAgentLoggedInfo" => (
                Op::AgentLoggedInfo,
                self.agent_logged_info(&call, &ctx).await,
            ),
            "getUserByAgent" => (Op::UserLookup, self.user_by_agent(&call, &ctx).await),
            "getUserInfo" => (Op::UserLookup, self.user_info(&call, &ctx).await),
            "getAgentTimes" => (Op::AgentTimes, self.agent_times(&call, &ctx).await),
            "agentSessionDetail" => (Op::SessionDetail, self.session_detail(&call, &ctx).await),
            "getAgentLogin" => (Op::AgentLogin, self.agent_login(&call, &ctx).await),
            "sendSms" => (Op::SendSms, self.send_sms(&call, &ctx).await),
            "statusSms" => (Op::StatusSms, self.status_sms(&call, &ctx).await),
            other => return Err(SoapError::UnknownOperation(other.to_owned())),
        };
        Ok(match outcome {
            Ok(v) => v,
            Err(f) => {
                tracing::debug!(operation = %call.operation, failure = ?f, "eXpand answer code");
                answer(op, f)
            }
        })
    }
}

#[cfg(test)]
mod tests;
