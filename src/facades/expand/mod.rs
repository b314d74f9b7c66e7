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
pub mod ops;
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
use crate::core::naming::ChannelNaming;
use crate::core::originate::{
    CallData, CallerId, JobState, OriginateId, OriginateRequest, PhoneNumber,
};
use crate::core::originate_service::CancelError;
use crate::core::recordings::{Fetched, RecordingKey, ServeFormat};
use crate::core::reports::{self, ReportContext, ReportFilter};
use crate::core::sms::{SmsGateway, SmsId, SmsService};
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

/// The facade's routes over `services`, with its `[expand]` section.
pub fn routes(services: Arc<Services>, keys: Arc<KeyVerifier>, config: ExpandConfig) -> Router {
    soap::routes(PATH, Arc::new(ExpandService::new(services, keys, config)))
}

/// The webservice: what every operation reaches.
pub struct ExpandService {
    services: Arc<Services>,
    keys: Arc<KeyVerifier>,
    config: ExpandConfig,
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

impl ExpandService {
    /// The service over `services`, with its `[expand]` section.
    pub fn new(services: Arc<Services>, keys: Arc<KeyVerifier>, config: ExpandConfig) -> Self {
        let sms = services.sms.clone();
        let networks = config.networks();
        Self {
            services,
            keys,
            config,
            sms,
            networks,
        }
    }

    fn tz(&self) -> jiff::tz::TimeZone {
        self.services.time_zone.clone()
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

    /// The live state as a shared snapshot (no copy unless it changed since the last one).
    fn live(&self) -> Result<Arc<LiveState>, Failure> {
        let pbx = self.services.pbx().ok_or(Failure::Unknown)?;
        Ok(pbx.live.snapshot())
    }

    /// Whether `queue` is known: to Asterisk, to an agent of the directory, or described in
    /// the configuration.
    async fn known_queue(&self, queue: &str) -> Result<bool, Failure> {
        if QueueName::new(queue).is_err() {
            return Ok(false);
        }
        if self.config.queue_descriptions.contains_key(queue) {
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
        let max = i64::from(self.config.max_report_days) * 86_400;
        if to <= from || to.0 - from.0 > max {
            return Err(Failure::BadRange);
        }
        if from > UnixTime::now() {
            return Err(Failure::FutureRange);
        }
        Ok(TimeRange::new(from, to))
    }
}

fn user_info(agent: &Agent, view: &AgentView, naming: &dyn ChannelNaming) -> wire::UserInfo {
    wire::UserInfo {
        nombre: agent.full_name.clone(),
        email: agent.email.clone().unwrap_or_default(),
        perfil: agent.profile.clone(),
        supervisor: agent.supervisor,
        user: agent.username.clone(),
        number: agent.number.as_str().to_owned(),
        extension: naming
            .extension_of(&view.interface)
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
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
