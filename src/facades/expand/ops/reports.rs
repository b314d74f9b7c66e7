//! Reports: `agentTimes`, `sessionDetail` (computed by `core::reports` over the journal; over
//! today so far, from the core's running day agent figures).

use super::super::*;
use crate::core::day_agent_figures::SHAPES;

/// Where a report's agent figures come from.
enum AgentSource {
    /// The core's running day figures (the range is today so far).
    Today,
    /// Folded from these records in this context.
    Fold(Vec<QueueLogRecord>, ReportContext),
}

impl ExpandService {
    /// The state lines at the range's start (who was logged in, paused or talking then) and the
    /// range's queue_log records, of `queues`, and the report context over the directory.
    pub(in crate::facades::expand) async fn report_input(
        &self,
        range: TimeRange,
        queues: Vec<String>,
        with_cdrs: bool,
    ) -> Result<(Vec<QueueLogRecord>, Vec<CdrRecord>, ReportContext), Failure> {
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
        Ok((records, cdrs, self.report_context().await?))
    }

    /// The context of a report made now: the directory's agents at their default extensions.
    pub(in crate::facades::expand) async fn report_context(
        &self,
    ) -> Result<ReportContext, Failure> {
        let agents = self.agents().await?;
        let mut ctx = self
            .services
            .report_context(UnixTime(UnixTime::now().0 + 1));
        for a in &agents {
            if let Some(ext) = &a.default_extension {
                ctx.interfaces.insert(
                    self.services.naming.extension_device(ext),
                    a.number.as_str().into(),
                );
                ctx.extensions
                    .insert(a.number.as_str().into(), ext.as_str().into());
            }
        }
        Ok(ctx)
    }

    /// The source of the agent figures of a report over `range` of `queue` (or every queue).
    async fn agent_source(
        &self,
        range: TimeRange,
        queue: Option<&String>,
    ) -> Result<AgentSource, Failure> {
        if self.is_today(range) {
            return Ok(AgentSource::Today);
        }
        let (records, _, ctx) = self
            .report_input(range, queue.into_iter().cloned().collect(), false)
            .await?;
        Ok(AgentSource::Fold(records, ctx))
    }

    /// Per agent, its sessions and pauses in `range` for `filter` (see
    /// [`reports::agent_report`]; the calls' figures are those of the queue lines only when
    /// folded).
    async fn agent_sessions(
        &self,
        source: &AgentSource,
        range: TimeRange,
        filter: &ReportFilter,
    ) -> Result<Vec<reports::AgentReport>, Failure> {
        match source {
            AgentSource::Today => Ok(self.agent_figures(range, filter.clone()).await?.0),
            AgentSource::Fold(records, ctx) => {
                Ok(reports::agent_report(records, &[], range, filter, ctx))
            }
        }
    }

    /// The agent and queue filters of a report: unknown ones are errors.
    pub(in crate::facades::expand) async fn report_filter(
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

    pub(in crate::facades::expand) async fn agent_times(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let range = self.range(arg(call, 1, "inicio"), arg(call, 2, "fin"))?;
        let (agent, queue) = self
            .report_filter(arg(call, 3, "agente"), arg(call, 4, "cola"))
            .await?;
        let agents = self.agents().await?;
        let source = self.agent_source(range, queue.as_ref()).await?;
        let filter = ReportFilter {
            agents: agent.iter().map(|a| a.number.as_str().to_owned()).collect(),
            queues: queue.iter().cloned().collect(),
        };
        let c = &self.config;
        let list: Vec<wire::AgentTimes> = self
            .agent_sessions(&source, range, &filter)
            .await?
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

    pub(in crate::facades::expand) async fn session_detail(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
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
        let mut source = self.agent_source(range, queue.as_ref()).await?;
        let agent_filter: Vec<String> =
            agent.iter().map(|a| a.number.as_str().to_owned()).collect();
        let overall = self
            .agent_sessions(
                &source,
                range,
                &ReportFilter {
                    agents: agent_filter.clone(),
                    queues: queue.iter().cloned().collect(),
                },
            )
            .await?;
        // Each queue's details are a report filtered to it: from the running figures (one
        // tally per queue) while the queues leave room for the other panels' tallies, else
        // folded from one read of the day.
        let detail_queues: BTreeSet<&String> = overall
            .iter()
            .flat_map(|r| r.sessions.iter().flat_map(|s| s.queues.iter()))
            .filter(|q| queue.as_ref().is_none_or(|f| f == *q))
            .collect();
        if matches!(source, AgentSource::Today) && detail_queues.len() > SHAPES / 2 {
            let (records, _, ctx) = self
                .report_input(range, queue.iter().cloned().collect(), false)
                .await?;
            source = AgentSource::Fold(records, ctx);
        }
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
                let Some(qr) = self
                    .agent_sessions(&source, range, &filter)
                    .await?
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
}
