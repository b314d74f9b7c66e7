//! Agents: login, logout, pause and unpause (`agentLogin`, `agentCommand` operations), who is logged in, user lookups.

use super::super::*;

impl ExpandService {
    pub(in crate::facades::expand) async fn agent_command(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
        op: &str,
    ) -> Outcome {
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
    pub(in crate::facades::expand) async fn pause_limits(
        &self,
    ) -> Result<BTreeMap<String, u64>, Failure> {
        Ok(self
            .pause_reasons()
            .await?
            .into_iter()
            .filter_map(|r| Some((r.id.as_str().to_owned(), u64::from(r.max_seconds?))))
            .collect())
    }

    /// The pause reason `pauseDTMF` names: its id, else its name (any case).
    pub(in crate::facades::expand) async fn pause_reason_id(
        &self,
        text: &str,
    ) -> Result<PauseReasonId, Failure> {
        let reasons = self.pause_reasons().await?;
        reasons
            .iter()
            .find(|r| r.id.as_str() == text)
            .or_else(|| reasons.iter().find(|r| r.name.eq_ignore_ascii_case(text)))
            .map(|r| r.id.clone())
            .ok_or(Failure::Refused)
    }

    pub(in crate::facades::expand) async fn agent_logged_info(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let user = arg(call, 1, "username").ok_or(Failure::BadParams)?;
        let Some(agent) = self.find_agent(user).await? else {
            return Ok(SoapValue::Str("0".into()));
        };
        let live = self.live()?;
        match live.agent_by_name(agent.number.as_str()) {
            Some(view) if view.logged_in() => {
                let info = user_info(&agent, &view, &*self.services.naming);
                Ok(SoapValue::Str(wire::agent_logged_xml(&info)))
            }
            _ => Ok(SoapValue::Str("0".into())),
        }
    }

    pub(in crate::facades::expand) async fn user_by_agent(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
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

    pub(in crate::facades::expand) async fn user_info(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
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

    pub(in crate::facades::expand) async fn agent_login(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
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
        let c = &self.config;
        let mut out = Vec::new();
        for ext in list {
            let known = live
                .endpoints
                .get(&ext)
                .is_some_and(|e| e.kind == EndpointKind::Extension);
            if !known {
                return Err(Failure::BadExtension);
            }
            let interface = self.services.naming.device(&ext);
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
}
