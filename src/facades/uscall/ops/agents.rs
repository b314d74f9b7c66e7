//! Agents: `getAgent`, `agentLogin`, `agentLogout`, `startPause`, `endPause`, `agentStatus`, `getPauses`.

use super::super::*;
use super::pbx::require_extension;

impl UscallService {
    pub(in crate::facades::uscall) async fn get_agent(&self) -> Answer {
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
    pub(in crate::facades::uscall) async fn agent_login(
        &self,
        actor: &Actor,
        args: &Args<'_>,
        client: Option<IpAddr>,
    ) -> Answer {
        let number = agent_number("agente", args.required("agente")?)?;
        let ext = extension("ramal", args.required("ramal")?)?;
        let md5 = args.required("senhamd5")?;
        if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(UscallError::invalid("senhamd5", reason::MD5_PASSWORD));
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
            None => agent
                .queues
                .first()
                .cloned()
                .ok_or_else(|| UscallError::NotAllowed(reason::no_key_queue(&number)))?,
        };
        let pbx = self.pbx()?;
        require_extension(&*self.live()?, ext.as_str())?;
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
    pub(in crate::facades::uscall) fn logged_queues(
        &self,
        number: &AgentNumber,
    ) -> Result<Vec<QueueName>, UscallError> {
        let live = self.live()?;
        let view = live
            .agent_by_name(number.as_str())
            .filter(|v| v.logged_in())
            .ok_or_else(|| UscallError::NotLoggedIn(number.to_string()))?;
        Ok(view.queues.keys().cloned().collect())
    }

    pub(in crate::facades::uscall) async fn agent_logout(
        &self,
        actor: &Actor,
        args: &Args<'_>,
    ) -> Answer {
        let number = agent_number("agente", args.required("agente")?)?;
        let number = self.agent(&number).await?.number;
        self.logged_queues(&number)?;
        self.pbx()?.agents.logout(actor, &number).await?;
        Ok(json!({ "agente": number.as_str() }))
    }

    pub(in crate::facades::uscall) async fn start_pause(
        &self,
        actor: &Actor,
        args: &Args<'_>,
    ) -> Answer {
        let number = agent_number("agente", args.required("agente")?)?;
        let reason = PauseReasonId::new(args.required("idpausa")?)
            .map_err(|_| UscallError::invalid("idpausa", reason::PAUSE_ID))?;
        let agent = self.agent(&number).await?;
        let number = agent.number.clone();
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
            return Err(UscallError::NotAllowed(reason::not_in_its_queues(&number)));
        }
        self.pbx()?
            .agents
            .pause(actor, &number, &reason, Some(&queues))
            .await?;
        Ok(json!({ "agente": number.as_str(), "idpausa": reason.as_str(), "pausa": found.name }))
    }

    pub(in crate::facades::uscall) async fn end_pause(
        &self,
        actor: &Actor,
        args: &Args<'_>,
    ) -> Answer {
        let number = agent_number("agente", args.required("agente")?)?;
        let agent = self.agent(&number).await?;
        let number = agent.number.clone();
        let live = self.live()?;
        let view = live
            .agent_by_name(number.as_str())
            .filter(|v| v.logged_in())
            .ok_or_else(|| UscallError::NotLoggedIn(number.to_string()))?;
        if !view.paused_anywhere() {
            return Err(UscallError::NotAllowed(reason::not_paused(&number)));
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

    pub(in crate::facades::uscall) async fn agent_status(&self, args: &Args<'_>) -> Answer {
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
        let mut ctx = self.services.report_context(UnixTime(now.0 + 1));
        for a in &agents {
            let ext = live
                .agent_by_name(a.number.as_str())
                .and_then(|v| self.services.naming.extension_of(&v.interface))
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
        // Today's running figures: the day so far, agents logged in before it included.
        let figures = self
            .services
            .day_agent_figures
            .today(&self.services.journal, today, &filter, &ctx)
            .await
            .map_err(internal)?;
        let report = &figures.reports;
        let campaigns = self.services.dialer.campaigns().await.map_err(|e| {
            tracing::warn!(error = %e, "uscall: dialer campaigns not read");
            UscallError::Internal
        })?;
        let mut out = Vec::new();
        for a in &agents {
            let view = live.agent_by_name(a.number.as_str());
            let ext = view
                .as_ref()
                .and_then(|v| self.services.naming.extension_of(&v.interface));
            let endpoint = ext.as_ref().and_then(|e| live.endpoints.get(e.as_str()));
            let presence = agent_presence(view.as_ref(), &*self.services.naming, endpoint);
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
                "status": wire::agent_status(presence),
                "pausa": pause_name,
                "campanha": view.as_ref().and_then(|v| {
                    let queues: Vec<_> = v.queues.keys().collect();
                    crate::core::dialer::campaign_of_agent(&campaigns, queue.as_ref(), &queues)
                        .map(|c| c.as_str().to_owned())
                }).unwrap_or_default(),
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

    pub(in crate::facades::uscall) async fn get_pauses(&self) -> Answer {
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
}
