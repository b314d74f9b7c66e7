//! Agent login, logout, pause and unpause: the rules (is the agent known, are these its queues,
//! may this reason be used there) decided here, the side effects sent through the
//! [`QueueControl`] port (implemented over AMI in `asterisk::queue_control`).
//!
//! The outcome is not recorded here: Asterisk reports it as events, which the live follower folds
//! into [`LiveState`], so a pause made by the engine and one made by a phone's feature code look
//! the same.

use std::sync::Arc;

use super::audit::{outcome_of, record_quietly, ActionJournal, Actor, EngineAction};
use super::directory::{AgentNumber, Directory, Extension, PauseReasonId, QueueName};
use super::live::{EndpointKind, LiveSnapshot, SharedLive};
use super::naming::ChannelNaming;
use super::BoxFuture;

/// Why Asterisk (or the way to it) refused a queue action.
#[derive(Debug, thiserror::Error)]
pub enum QueueControlError {
    /// The interface is already a member of the queue.
    #[error("already a member of the queue")]
    AlreadyMember,
    /// The interface is not a member of the queue (or of any queue).
    #[error("not a member of the queue")]
    NotMember,
    /// The queue does not exist.
    #[error("no such queue")]
    NoSuchQueue,
    /// Asterisk refused for another reason.
    #[error("Asterisk refused: {0}")]
    Refused(String),
    /// Asterisk could not be reached (disconnected, timed out).
    #[error("Asterisk unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The port to Asterisk's queues.
pub trait QueueControl: Send + Sync {
    /// Adds `extension`'s phone to `queue` as member named `agent`, its state following the
    /// phone's device state.
    fn add_member<'a>(
        &'a self,
        queue: &'a QueueName,
        extension: &'a Extension,
        agent: &'a AgentNumber,
    ) -> BoxFuture<'a, Result<(), QueueControlError>>;

    /// Removes `extension`'s phone from `queue`.
    fn remove_member<'a>(
        &'a self,
        queue: &'a QueueName,
        extension: &'a Extension,
    ) -> BoxFuture<'a, Result<(), QueueControlError>>;

    /// Pauses (`paused`) or unpauses the phone in `queue`, or in every queue when `None`.
    fn set_paused<'a>(
        &'a self,
        queue: Option<&'a QueueName>,
        extension: &'a Extension,
        paused: bool,
        reason: Option<&'a PauseReasonId>,
    ) -> BoxFuture<'a, Result<(), QueueControlError>>;

    /// Reads everything live state is made of.
    fn snapshot(&self) -> BoxFuture<'_, Result<LiveSnapshot, QueueControlError>>;

    /// Whether the PBX has an endpoint (a configured phone or trunk) named `extension`, as it
    /// says now.
    fn endpoint_exists<'a>(
        &'a self,
        extension: &'a Extension,
    ) -> BoxFuture<'a, Result<bool, QueueControlError>>;

    /// Every queue membership named `agent` (the member name a login gives), as the PBX
    /// reports its queues now: `(queue, member interface)`.
    fn memberships<'a>(
        &'a self,
        agent: &'a AgentNumber,
    ) -> BoxFuture<'a, Result<Vec<(QueueName, String)>, QueueControlError>>;
}

/// Why an agent operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// No agent with that number.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentNumber),
    /// The extension is not a phone agents may log in from: no such endpoint in the PBX, a
    /// trunk, or one of `[agents] non_agent_extensions`.
    #[error("{0} is not an agent phone of the PBX")]
    NotAPhone(Extension),
    /// The login named no extension and the agent has no default one.
    #[error("agent {0} has no default extension; name one")]
    NoExtension(AgentNumber),
    /// The agent belongs to no queue.
    #[error("agent {0} belongs to no queue")]
    NoQueues(AgentNumber),
    /// A queue named in the request is not one of the agent's.
    #[error("queue {queue} is not one of agent {agent}'s queues")]
    NotAgentsQueue {
        /// The agent.
        agent: AgentNumber,
        /// The queue.
        queue: QueueName,
    },
    /// No such pause reason.
    #[error("unknown pause reason {0}")]
    UnknownPauseReason(PauseReasonId),
    /// The pause reason may not be used in this queue.
    #[error("pause reason {reason} is not allowed in queue {queue}")]
    ReasonNotAllowed {
        /// The reason.
        reason: PauseReasonId,
        /// The queue.
        queue: QueueName,
    },
    /// The agent is not logged in (Asterisk knows no such member).
    #[error("agent {0} is not logged in")]
    NotLoggedIn(AgentNumber),
    /// The directory could not be read.
    #[error("directory unavailable")]
    Directory(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Asterisk refused or could not be reached.
    #[error("queue action failed")]
    Pbx(#[source] QueueControlError),
}

/// What a login did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginOutcome {
    /// The phone the agent is logged in from.
    pub extension: Extension,
    /// The queues it was added to (or already was in).
    pub queues: Vec<QueueName>,
}

/// The agent service: rules in front of [`QueueControl`].
#[derive(Clone)]
pub struct AgentService {
    directory: Directory,
    queues: Arc<dyn QueueControl>,
    live: Arc<SharedLive>,
    naming: Arc<dyn ChannelNaming>,
    actions: Option<Arc<dyn ActionJournal>>,
    non_agent: Arc<Vec<Extension>>,
}

impl AgentService {
    /// A service over a directory, the queue port and the shared live state (read to find the
    /// phone an agent is logged in from; `naming` reads a member interface's extension).
    pub fn new(
        directory: Directory,
        queues: Arc<dyn QueueControl>,
        live: Arc<SharedLive>,
        naming: Arc<dyn ChannelNaming>,
    ) -> Self {
        Self {
            directory,
            queues,
            live,
            naming,
            actions: None,
            non_agent: Arc::new(Vec::new()),
        }
    }

    /// Refuses logins from these extensions (phones that are not agents', e.g. a supervisor's:
    /// `[agents] non_agent_extensions`).
    pub fn with_non_agent_extensions(mut self, extensions: Vec<Extension>) -> Self {
        self.non_agent = Arc::new(extensions);
        self
    }

    /// Whether `extension` is a phone an agent may log in from: not a listed non-agent
    /// extension, named as phones are (digits; every other endpoint is a trunk), and an
    /// endpoint the PBX has now.
    pub async fn check_phone(&self, extension: &Extension) -> Result<(), AgentError> {
        let refused = || AgentError::NotAPhone(extension.clone());
        if self.non_agent.contains(extension)
            || EndpointKind::classify(extension.as_str()) != EndpointKind::Extension
        {
            return Err(refused());
        }
        match self.queues.endpoint_exists(extension).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(refused()),
            Err(e) => Err(AgentError::Pbx(e)),
        }
    }

    /// Journals every login, logout, pause and unpause in `journal` (who asked, what, the
    /// outcome).
    pub fn with_action_journal(mut self, journal: Arc<dyn ActionJournal>) -> Self {
        self.actions = Some(journal);
        self
    }

    async fn journal<T>(
        &self,
        actor: &Actor,
        action: &str,
        agent: &AgentNumber,
        params: String,
        result: &Result<T, AgentError>,
    ) {
        let entry = EngineAction::now(actor, action, agent.as_str(), params, outcome_of(result));
        record_quietly(self.actions.as_ref(), entry).await;
    }

    async fn agent(&self, number: &AgentNumber) -> Result<super::directory::Agent, AgentError> {
        self.directory
            .agent(number)
            .await
            .map_err(AgentError::Directory)?
            .ok_or_else(|| AgentError::UnknownAgent(number.clone()))
    }

    /// The phone the agent is logged in from: the live state's, else its default extension.
    fn current_extension(
        &self,
        agent: &super::directory::Agent,
    ) -> Result<(Extension, Vec<QueueName>), AgentError> {
        let view = self
            .live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .agent_by_name(agent.number.as_str());
        if let Some(view) = view {
            if let Some(ext) = self.naming.extension_of(&view.interface) {
                return Ok((ext, view.queues.keys().cloned().collect()));
            }
        }
        let ext = agent
            .default_extension
            .clone()
            .ok_or_else(|| AgentError::NoExtension(agent.number.clone()))?;
        Ok((ext, Vec::new()))
    }

    /// Logs the agent in to all its queues from `extension` (default: its default extension),
    /// for `actor` (journaled). Already being a member of a queue is fine.
    pub async fn login(
        &self,
        actor: &Actor,
        number: &AgentNumber,
        extension: Option<&Extension>,
    ) -> Result<LoginOutcome, AgentError> {
        self.login_to(actor, number, extension, None).await
    }

    /// [`AgentService::login`] to `queues` only (`None`: all the agent's queues); each must be
    /// one of the agent's.
    pub async fn login_to(
        &self,
        actor: &Actor,
        number: &AgentNumber,
        extension: Option<&Extension>,
        queues: Option<&[QueueName]>,
    ) -> Result<LoginOutcome, AgentError> {
        let result = self.login_inner(number, extension, queues).await;
        let params = match (&result, extension) {
            (Ok(out), _) => format!("extension={}", out.extension),
            (Err(_), Some(ext)) => format!("extension={ext}"),
            (Err(_), None) => String::new(),
        };
        self.journal(actor, "agent.login", number, params, &result)
            .await;
        result
    }

    async fn login_inner(
        &self,
        number: &AgentNumber,
        extension: Option<&Extension>,
        only: Option<&[QueueName]>,
    ) -> Result<LoginOutcome, AgentError> {
        let agent = self.agent(number).await?;
        let extension = extension
            .or(agent.default_extension.as_ref())
            .cloned()
            .ok_or_else(|| AgentError::NoExtension(number.clone()))?;
        if agent.queues.is_empty() {
            return Err(AgentError::NoQueues(number.clone()));
        }
        self.check_queues(&agent, only)?;
        self.check_phone(&extension).await?;
        let queues = only.map_or_else(|| agent.queues.clone(), <[QueueName]>::to_vec);
        for queue in &queues {
            match self.queues.add_member(queue, &extension, number).await {
                Ok(()) | Err(QueueControlError::AlreadyMember) => {}
                Err(e) => return Err(AgentError::Pbx(e)),
            }
        }
        Ok(LoginOutcome { extension, queues })
    }

    /// Logs the agent out of every queue it is a member of: each membership the PBX reports
    /// under the agent's name (from whatever phone), and its phone's in the agent's queues and
    /// in any other queue the live state shows it in; for `actor` (journaled). Not being a
    /// member of a queue is fine.
    pub async fn logout(&self, actor: &Actor, number: &AgentNumber) -> Result<(), AgentError> {
        let result = self.logout_inner(number).await;
        self.journal(actor, "agent.logout", number, String::new(), &result)
            .await;
        result
    }

    async fn logout_inner(&self, number: &AgentNumber) -> Result<(), AgentError> {
        let agent = self.agent(number).await?;
        let mut members: Vec<(QueueName, Extension)> = Vec::new();
        let mut add = |q: QueueName, e: Extension| {
            if !members.contains(&(q.clone(), e.clone())) {
                members.push((q, e));
            }
        };
        let named = self
            .queues
            .memberships(number)
            .await
            .map_err(AgentError::Pbx)?;
        for (queue, interface) in named {
            if let Some(ext) = self.naming.extension_of(&interface) {
                add(queue, ext);
            }
        }
        match self.current_extension(&agent) {
            Ok((extension, queues)) => {
                for q in queues.into_iter().chain(agent.queues.iter().cloned()) {
                    add(q, extension.clone());
                }
            }
            // No phone known besides the memberships found: nothing more to remove.
            Err(AgentError::NoExtension(_)) => {}
            Err(e) => return Err(e),
        }
        for (queue, extension) in &members {
            match self.queues.remove_member(queue, extension).await {
                Ok(()) | Err(QueueControlError::NotMember) => {}
                Err(e) => return Err(AgentError::Pbx(e)),
            }
        }
        Ok(())
    }

    /// Pauses the agent with `reason` in `queues` (`None`: every queue). The queues must be the
    /// agent's and the reason allowed in each of them (in each of the agent's queues when
    /// `None`). Journaled for `actor`.
    pub async fn pause(
        &self,
        actor: &Actor,
        number: &AgentNumber,
        reason: &PauseReasonId,
        queues: Option<&[QueueName]>,
    ) -> Result<(), AgentError> {
        let result = self.pause_inner(number, reason, queues).await;
        let params = format!("reason={reason} queues={}", queues_param(queues));
        self.journal(actor, "agent.pause", number, params, &result)
            .await;
        result
    }

    async fn pause_inner(
        &self,
        number: &AgentNumber,
        reason: &PauseReasonId,
        queues: Option<&[QueueName]>,
    ) -> Result<(), AgentError> {
        let agent = self.agent(number).await?;
        let pause_reason = self
            .directory
            .pause_reason(reason)
            .await
            .map_err(AgentError::Directory)?
            .ok_or_else(|| AgentError::UnknownPauseReason(reason.clone()))?;
        self.check_queues(&agent, queues)?;
        for queue in queues.unwrap_or(&agent.queues) {
            if !pause_reason.allowed_in(queue) {
                return Err(AgentError::ReasonNotAllowed {
                    reason: reason.clone(),
                    queue: queue.clone(),
                });
            }
        }
        self.set_paused(&agent, queues, true, Some(reason)).await
    }

    /// Pauses the agent without a reason in `queues` (`None`: every queue); the queues must be
    /// the agent's. Journaled for `actor`.
    pub async fn pause_without_reason(
        &self,
        actor: &Actor,
        number: &AgentNumber,
        queues: Option<&[QueueName]>,
    ) -> Result<(), AgentError> {
        let result = async {
            let agent = self.agent(number).await?;
            self.check_queues(&agent, queues)?;
            self.set_paused(&agent, queues, true, None).await
        }
        .await;
        let params = format!("reason= queues={}", queues_param(queues));
        self.journal(actor, "agent.pause", number, params, &result)
            .await;
        result
    }

    /// Unpauses the agent in `queues` (`None`: every queue), for `actor` (journaled).
    pub async fn unpause(
        &self,
        actor: &Actor,
        number: &AgentNumber,
        queues: Option<&[QueueName]>,
    ) -> Result<(), AgentError> {
        let result = self.unpause_inner(number, queues).await;
        let params = format!("queues={}", queues_param(queues));
        self.journal(actor, "agent.unpause", number, params, &result)
            .await;
        result
    }

    async fn unpause_inner(
        &self,
        number: &AgentNumber,
        queues: Option<&[QueueName]>,
    ) -> Result<(), AgentError> {
        let agent = self.agent(number).await?;
        self.check_queues(&agent, queues)?;
        self.set_paused(&agent, queues, false, None).await
    }

    fn check_queues(
        &self,
        agent: &super::directory::Agent,
        queues: Option<&[QueueName]>,
    ) -> Result<(), AgentError> {
        for queue in queues.unwrap_or_default() {
            if !agent.in_queue(queue) {
                return Err(AgentError::NotAgentsQueue {
                    agent: agent.number.clone(),
                    queue: queue.clone(),
                });
            }
        }
        Ok(())
    }

    async fn set_paused(
        &self,
        agent: &super::directory::Agent,
        queues: Option<&[QueueName]>,
        paused: bool,
        reason: Option<&PauseReasonId>,
    ) -> Result<(), AgentError> {
        let (extension, _) = self.current_extension(agent)?;
        let map = |e| match e {
            QueueControlError::NotMember => AgentError::NotLoggedIn(agent.number.clone()),
            e => AgentError::Pbx(e),
        };
        match queues {
            None => self
                .queues
                .set_paused(None, &extension, paused, reason)
                .await
                .map_err(map),
            Some(queues) => {
                for queue in queues {
                    self.queues
                        .set_paused(Some(queue), &extension, paused, reason)
                        .await
                        .map_err(map)?;
                }
                Ok(())
            }
        }
    }
}

/// `*` for every queue, else the names joined with `,`.
fn queues_param(queues: Option<&[QueueName]>) -> String {
    match queues {
        None => "*".to_owned(),
        Some(qs) => qs
            .iter()
            .map(QueueName::as_str)
            .collect::<Vec<_>>()
            .join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::directory::DirectoryStore;
    use crate::core::directory::{
        Agent, ApiCredential, CredentialId, IssuedCredential, PauseReason,
    };
    use crate::core::PortError;
    use crate::core::Secret;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    #[derive(Default)]
    struct FakeDirectory {
        agents: BTreeMap<String, Agent>,
        reasons: BTreeMap<String, PauseReason>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("fake")]
    struct FakeError;

    impl DirectoryStore for FakeDirectory {
        fn upsert_agent(&self, _: &Agent) -> Result<(), PortError> {
            Err(FakeError.into())
        }
        fn agent(&self, n: &AgentNumber) -> Result<Option<Agent>, PortError> {
            Ok(self.agents.get(n.as_str()).cloned())
        }
        fn agents(&self) -> Result<Vec<Agent>, PortError> {
            Ok(self.agents.values().cloned().collect())
        }
        fn remove_agent(&self, _: &AgentNumber) -> Result<bool, PortError> {
            Err(FakeError.into())
        }
        fn upsert_pause_reason(&self, _: &PauseReason) -> Result<(), PortError> {
            Err(FakeError.into())
        }
        fn pause_reason(&self, id: &PauseReasonId) -> Result<Option<PauseReason>, PortError> {
            Ok(self.reasons.get(id.as_str()).cloned())
        }
        fn pause_reasons(&self) -> Result<Vec<PauseReason>, PortError> {
            Ok(self.reasons.values().cloned().collect())
        }
        fn remove_pause_reason(&self, _: &PauseReasonId) -> Result<bool, PortError> {
            Err(FakeError.into())
        }
        fn create_credential(
            &self,
            _: &str,
            _: crate::core::directory::CredentialApi,
        ) -> Result<IssuedCredential, PortError> {
            Err(FakeError.into())
        }
        fn import_credential(
            &self,
            _: &str,
            _: crate::core::directory::CredentialApi,
            _: Secret,
        ) -> Result<crate::core::directory::ApiCredential, PortError> {
            Err(FakeError.into())
        }
        fn credential_live(&self, _: &CredentialId) -> Result<bool, PortError> {
            Err(FakeError.into())
        }
        fn verify_credential(&self, _: &Secret) -> Result<Option<ApiCredential>, PortError> {
            Err(FakeError.into())
        }
        fn key_candidates(
            &self,
            _: &Secret,
        ) -> Result<Vec<crate::core::directory::KeyCandidate>, PortError> {
            Err(FakeError.into())
        }
        fn revoke_credential(&self, _: &CredentialId) -> Result<bool, PortError> {
            Err(FakeError.into())
        }
        fn credentials(&self) -> Result<Vec<ApiCredential>, PortError> {
            Err(FakeError.into())
        }
    }

    /// Records the actions it is asked for; members it "has" decide AlreadyMember/NotMember.
    #[derive(Default)]
    struct FakeQueues {
        log: Mutex<Vec<String>>,
        members: Mutex<Vec<(String, String)>>,
        /// The PBX's endpoints.
        endpoints: Mutex<Vec<String>>,
        /// Memberships as QueueStatus reports them: (queue, interface, member name).
        named: Mutex<Vec<(String, String, String)>>,
    }

    impl QueueControl for FakeQueues {
        fn add_member<'a>(
            &'a self,
            q: &'a QueueName,
            e: &'a Extension,
            a: &'a AgentNumber,
        ) -> BoxFuture<'a, Result<(), QueueControlError>> {
            Box::pin(async move {
                self.log.lock().unwrap().push(format!("add {q} {e} {a}"));
                let mut m = self.members.lock().unwrap();
                let key = (q.to_string(), e.to_string());
                if m.contains(&key) {
                    return Err(QueueControlError::AlreadyMember);
                }
                m.push(key);
                Ok(())
            })
        }
        fn remove_member<'a>(
            &'a self,
            q: &'a QueueName,
            e: &'a Extension,
        ) -> BoxFuture<'a, Result<(), QueueControlError>> {
            Box::pin(async move {
                self.log.lock().unwrap().push(format!("remove {q} {e}"));
                let mut m = self.members.lock().unwrap();
                let key = (q.to_string(), e.to_string());
                let before = m.len();
                m.retain(|k| *k != key);
                if m.len() == before {
                    return Err(QueueControlError::NotMember);
                }
                Ok(())
            })
        }
        fn set_paused<'a>(
            &'a self,
            q: Option<&'a QueueName>,
            e: &'a Extension,
            paused: bool,
            r: Option<&'a PauseReasonId>,
        ) -> BoxFuture<'a, Result<(), QueueControlError>> {
            Box::pin(async move {
                self.log.lock().unwrap().push(format!(
                    "{} {} {e} {}",
                    if paused { "pause" } else { "unpause" },
                    q.map_or("*", QueueName::as_str),
                    r.map_or("-", PauseReasonId::as_str)
                ));
                if !self
                    .members
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|(_, x)| x == e.as_str())
                {
                    return Err(QueueControlError::NotMember);
                }
                Ok(())
            })
        }
        fn snapshot(&self) -> BoxFuture<'_, Result<LiveSnapshot, QueueControlError>> {
            Box::pin(async move { Ok(LiveSnapshot::default()) })
        }
        fn endpoint_exists<'a>(
            &'a self,
            e: &'a Extension,
        ) -> BoxFuture<'a, Result<bool, QueueControlError>> {
            Box::pin(async move {
                Ok(self
                    .endpoints
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|x| x == e.as_str()))
            })
        }
        fn memberships<'a>(
            &'a self,
            a: &'a AgentNumber,
        ) -> BoxFuture<'a, Result<Vec<(QueueName, String)>, QueueControlError>> {
            Box::pin(async move {
                Ok(self
                    .named
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(_, _, n)| n == a.as_str())
                    .map(|(q, i, _)| (QueueName::new(q.as_str()).unwrap(), i.clone()))
                    .collect())
            })
        }
    }

    fn q(s: &str) -> QueueName {
        QueueName::new(s).unwrap()
    }

    fn service() -> (AgentService, Arc<FakeQueues>) {
        let mut dir = FakeDirectory::default();
        let mut a = Agent::new(AgentNumber::new("2005").unwrap());
        a.queues = vec![q("q_ventas"), q("q_soporte")];
        a.default_extension = Some(Extension::new("1005").unwrap());
        dir.agents.insert("2005".into(), a);
        let mut b = Agent::new(AgentNumber::new("2009").unwrap());
        b.queues = vec![q("q_ventas")];
        dir.agents.insert("2009".into(), b);
        for (id, queues) in [("almuerzo", vec![]), ("ventas_only", vec![q("q_ventas")])] {
            dir.reasons.insert(
                id.into(),
                PauseReason {
                    id: PauseReasonId::new(id).unwrap(),
                    name: id.into(),
                    max_seconds: None,
                    queues,
                },
            );
        }
        let queues = Arc::new(FakeQueues::default());
        *queues.endpoints.lock().unwrap() = ["1005", "1006", "1100", "carrier"]
            .map(String::from)
            .to_vec();
        let svc = AgentService::new(
            Directory::new(Arc::new(dir)),
            queues.clone(),
            Arc::new(SharedLive::default()),
            crate::test_support::naming(),
        );
        (
            svc.with_non_agent_extensions(vec![Extension::new("1100").unwrap()]),
            queues,
        )
    }

    fn a() -> Actor {
        Actor::new("expand", "crm1")
    }

    fn n(s: &str) -> AgentNumber {
        AgentNumber::new(s).unwrap()
    }

    fn r(s: &str) -> PauseReasonId {
        PauseReasonId::new(s).unwrap()
    }

    #[tokio::test]
    async fn login_pause_unpause_logout_send_the_right_actions() {
        let (svc, fake) = service();
        let out = svc.login(&a(), &n("2005"), None).await.unwrap();
        assert_eq!(out.extension.as_str(), "1005");
        // A second login is fine (already a member).
        svc.login(&a(), &n("2005"), None).await.unwrap();
        svc.pause(&a(), &n("2005"), &r("almuerzo"), None)
            .await
            .unwrap();
        svc.pause(&a(), &n("2005"), &r("ventas_only"), Some(&[q("q_ventas")]))
            .await
            .unwrap();
        svc.unpause(&a(), &n("2005"), None).await.unwrap();
        svc.logout(&a(), &n("2005")).await.unwrap();
        assert_eq!(
            *fake.log.lock().unwrap(),
            vec![
                "add q_ventas 1005 2005",
                "add q_soporte 1005 2005",
                "add q_ventas 1005 2005",
                "add q_soporte 1005 2005",
                "pause * 1005 almuerzo",
                "pause q_ventas 1005 ventas_only",
                "unpause * 1005 -",
                "remove q_ventas 1005",
                "remove q_soporte 1005",
            ]
        );
    }

    #[tokio::test]
    async fn rules_refuse_before_any_action() {
        let (svc, fake) = service();
        let cases: Vec<(Result<(), AgentError>, &str)> = vec![
            (
                svc.login(&a(), &n("9999"), None).await.map(drop),
                "unknown agent 9999",
            ),
            (
                svc.login(&a(), &n("2009"), None).await.map(drop),
                "agent 2009 has no default extension; name one",
            ),
            (
                svc.pause(&a(), &n("2005"), &r("nope"), None).await,
                "unknown pause reason nope",
            ),
            (
                svc.pause(&a(), &n("2005"), &r("almuerzo"), Some(&[q("q_otro")]))
                    .await,
                "queue q_otro is not one of agent 2005's queues",
            ),
            (
                svc.pause(&a(), &n("2005"), &r("ventas_only"), None).await,
                "pause reason ventas_only is not allowed in queue q_soporte",
            ),
            (
                svc.unpause(&a(), &n("2005"), Some(&[q("q_otro")])).await,
                "queue q_otro is not one of agent 2005's queues",
            ),
        ];
        for (result, expected) in cases {
            assert_eq!(result.unwrap_err().to_string(), expected);
        }
        assert!(fake.log.lock().unwrap().is_empty(), "no action was sent");
        // Asterisk saying "not a member" means not logged in.
        let err = svc
            .pause(&a(), &n("2005"), &r("almuerzo"), None)
            .await
            .unwrap_err();
        assert!(matches!(err, AgentError::NotLoggedIn(_)), "{err}");
        // Logging out when not logged in is fine.
        svc.logout(&a(), &n("2005")).await.unwrap();
    }

    #[tokio::test]
    async fn login_only_from_a_phone_of_the_pbx() {
        let (svc, fake) = service();
        let ext = |s: &str| Extension::new(s).unwrap();
        for refused in ["1099", "carrier", "1100"] {
            let err = svc
                .login(&a(), &n("2005"), Some(&ext(refused)))
                .await
                .unwrap_err();
            assert!(matches!(err, AgentError::NotAPhone(_)), "{refused}: {err}");
        }
        assert!(fake.log.lock().unwrap().is_empty(), "no member was added");
        svc.login(&a(), &n("2005"), Some(&ext("1006")))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn one_logout_removes_every_membership_the_pbx_reports_for_the_agent() {
        let (svc, fake) = service();
        // Memberships under the agent's name from two phones, one of them in a queue that is
        // not the agent's (added from the CLI or by an older engine).
        *fake.named.lock().unwrap() = vec![
            ("q_ventas".into(), "PJSIP/1099".into(), "2005".into()),
            ("q_otra".into(), "PJSIP/1006".into(), "2005".into()),
            ("q_ventas".into(), "PJSIP/1008".into(), "2009".into()),
        ];
        *fake.members.lock().unwrap() = vec![
            ("q_ventas".into(), "1099".into()),
            ("q_otra".into(), "1006".into()),
            ("q_ventas".into(), "1008".into()),
        ];
        svc.logout(&a(), &n("2005")).await.unwrap();
        assert_eq!(
            *fake.members.lock().unwrap(),
            vec![("q_ventas".to_owned(), "1008".to_owned())],
            "only the other agent's membership is left"
        );
        let log = fake.log.lock().unwrap().clone();
        assert!(log.contains(&"remove q_ventas 1099".to_owned()), "{log:?}");
        assert!(log.contains(&"remove q_otra 1006".to_owned()), "{log:?}");
    }

    #[tokio::test]
    async fn every_operation_is_journaled_with_actor_and_outcome() {
        use crate::core::audit::{ActionFilter, ActionJournal, MemoryActionJournal};
        use crate::core::TimeRange;
        let (svc, _) = service();
        let journal = Arc::new(MemoryActionJournal::default());
        let svc = svc.with_action_journal(journal.clone());
        let crm = Actor::new("uscall", "key-1");
        svc.login(&crm, &n("2005"), None).await.unwrap();
        svc.pause(&crm, &n("2005"), &r("ventas_only"), Some(&[q("q_ventas")]))
            .await
            .unwrap();
        svc.unpause(&crm, &n("2005"), None).await.unwrap();
        svc.pause(&crm, &n("2005"), &r("nope"), None)
            .await
            .unwrap_err();
        svc.logout(&Actor::engine(), &n("2005")).await.unwrap();
        let got: Vec<(String, String, String, String, String, String)> = journal
            .list(TimeRange::all(), &ActionFilter::default())
            .unwrap()
            .into_iter()
            .map(|e| (e.api, e.principal, e.action, e.target, e.params, e.outcome))
            .collect();
        let row = |api: &str, who: &str, action: &str, params: &str, outcome: &str| {
            (
                api.to_owned(),
                who.to_owned(),
                action.to_owned(),
                "2005".to_owned(),
                params.to_owned(),
                outcome.to_owned(),
            )
        };
        assert_eq!(
            got,
            vec![
                row("uscall", "key-1", "agent.login", "extension=1005", "ok"),
                row(
                    "uscall",
                    "key-1",
                    "agent.pause",
                    "reason=ventas_only queues=q_ventas",
                    "ok"
                ),
                row("uscall", "key-1", "agent.unpause", "queues=*", "ok"),
                row(
                    "uscall",
                    "key-1",
                    "agent.pause",
                    "reason=nope queues=*",
                    "error: unknown pause reason nope"
                ),
                row("engine", "engine", "agent.logout", "", "ok"),
            ]
        );
    }
}
