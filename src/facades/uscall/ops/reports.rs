//! The `ccenter*` reports (computed by `core::reports` over the journal; the agent reports,
//! queue figures and queue activity of today so far read the core's running day figures).

use super::super::*;
use crate::core::day_figures::{self, DayQueueLog};

impl UscallService {
    /// The filter, range and context of a report request.
    async fn report_request(
        &self,
        args: &Args<'_>,
    ) -> Result<(ReportFilter, TimeRange, ReportContext), UscallError> {
        let agents = list("agente", args.get("agente"), |a| agent_number("agente", a))?;
        let queues = list("filas", args.get("filas"), |q| queue_name("filas", q))?;
        let range = self.range(args.get("dataini"), args.get("datafin"))?;
        let directory = self.agents().await?;
        let mut ctx = self
            .services
            .report_context(UnixTime(UnixTime::now().0 + 1));
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
        Ok((filter, range, ctx))
    }

    /// The filter, range and records of a report request.
    pub(in crate::facades::uscall) async fn report_input(
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
        let (filter, range, ctx) = self.report_request(args).await?;
        let j = &self.services.journal;
        // The state at `dataini` and then the interval: agents logged in before it count.
        let cdrs = j.cdrs(range).await.map_err(internal)?;
        let log = j
            .report_records(range, Vec::new(), Vec::new())
            .await
            .map_err(internal)?;
        Ok((filter, range, cdrs, log, ctx))
    }

    /// Whether a report over `range` is answered from the core's running day figures: the
    /// range is today so far (from today's 00:00:00, not ended).
    fn is_today(&self, range: TimeRange) -> Result<bool, UscallError> {
        let now = UnixTime::now();
        let today =
            wire::date_range(None, None, &self.tz(), now).map_err(|_| UscallError::Internal)?;
        Ok(day_figures::serves(range, today.from, now))
    }

    /// Today's queue lines and figures so far when a request's range is today so far.
    async fn todays_queue_log(
        &self,
        range: TimeRange,
        ctx: &ReportContext,
    ) -> Result<Option<Arc<DayQueueLog>>, UscallError> {
        if !self.is_today(range)? {
            return Ok(None);
        }
        let day = self
            .services
            .day_queue_figures
            .day(&self.services.journal, range, ctx)
            .await
            .map_err(internal)?;
        Ok(Some(day))
    }

    /// The queue report of a request: from the core's running day figures when its range is
    /// today so far, else folded from the journal.
    async fn queue_reports(
        &self,
        args: &Args<'_>,
    ) -> Result<Vec<reports::QueueReport>, UscallError> {
        let (filter, range, ctx) = self.report_request(args).await?;
        if let Some(day) = self.todays_queue_log(range, &ctx).await? {
            return Ok(day.queue_report(&filter, &ctx));
        }
        let (filter, range, _, log, ctx) = self.report_input(args).await?;
        Ok(reports::queue_report(&log, range, &filter, &ctx))
    }

    /// The queue activity of a request: from the core's running day figures when its range is
    /// today so far, else folded from the journal.
    async fn queue_events(
        &self,
        args: &Args<'_>,
    ) -> Result<Vec<reports::QueueActivityEvent>, UscallError> {
        let (filter, range, ctx) = self.report_request(args).await?;
        if let Some(day) = self.todays_queue_log(range, &ctx).await? {
            return Ok(day.queue_activity(&filter, &ctx));
        }
        let (filter, range, _, log, ctx) = self.report_input(args).await?;
        Ok(reports::queue_activity(&log, range, &filter, &ctx))
    }

    /// The agent report of a request: from the core's running day figures when its range is
    /// today so far (from today's 00:00:00, not ended), else folded from the journal.
    pub(in crate::facades::uscall) async fn agent_reports(
        &self,
        args: &Args<'_>,
    ) -> Result<Vec<reports::AgentReport>, UscallError> {
        let (filter, range, ctx) = self.report_request(args).await?;
        if self.is_today(range)? {
            let figures = self
                .services
                .day_agent_figures
                .today(&self.services.journal, range, &filter, &ctx)
                .await
                .map_err(internal)?;
            return Ok(figures.reports.clone());
        }
        let (filter, range, cdrs, log, ctx) = self.report_input(args).await?;
        Ok(reports::agent_report(&log, &cdrs, range, &filter, &ctx))
    }

    pub(in crate::facades::uscall) async fn ccenter_agents(&self, args: &Args<'_>) -> Answer {
        let reports = self.agent_reports(args).await?;
        let names: BTreeMap<String, String> = self
            .agents()
            .await?
            .into_iter()
            .map(|a| (a.number.to_string(), a.full_name))
            .collect();
        Ok(Value::Array(
            reports
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

    pub(in crate::facades::uscall) async fn ccenter_cdr(&self, args: &Args<'_>) -> Answer {
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

    pub(in crate::facades::uscall) fn report_type(args: &Args<'_>) -> Result<bool, UscallError> {
        match args
            .get("report_type")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("resumo") => Ok(false),
            Some("detalhado") => Ok(true),
            Some(_) => Err(UscallError::invalid("report_type", reason::REPORT_MODE)),
        }
    }

    pub(in crate::facades::uscall) async fn ccenter_pauses(&self, args: &Args<'_>) -> Answer {
        let detailed = Self::report_type(args)?;
        let agents = self.agent_reports(args).await?;
        let names: BTreeMap<String, String> = self
            .pause_reasons()
            .await?
            .into_iter()
            .map(|r| (r.id.to_string(), r.name))
            .collect();
        let tz = self.tz();
        let mut rows = Vec::new();
        for r in agents {
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

    pub(in crate::facades::uscall) async fn ccenter_sessions(&self, args: &Args<'_>) -> Answer {
        let detailed = Self::report_type(args)?;
        let agents = self.agent_reports(args).await?;
        let tz = self.tz();
        let mut rows = Vec::new();
        for r in agents {
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

    pub(in crate::facades::uscall) async fn ccenter_metrics(&self, args: &Args<'_>) -> Answer {
        let name = args.required("report_name")?.to_ascii_lowercase();
        match name.as_str() {
            "agentes" => self.ccenter_agents(args).await,
            "filas" => {
                let queues = self.queue_reports(args).await?;
                Ok(Value::Array(
                    queues
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
                let events = self.queue_events(args).await?;
                let tz = self.tz();
                Ok(Value::Array(
                    events
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
            _ => Err(UscallError::invalid("report_name", reason::METRICS_NAME)),
        }
    }
}
