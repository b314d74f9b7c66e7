//! Extensions, queues and trunks: `getExtens`, `extenStatus`, `getQueue`, `queueStatus`, `listTrunk`.

use super::super::*;

impl UscallService {
    /// Extensions that are call-center phones: queue members now, or agents' default phones.
    pub(in crate::facades::uscall) fn callcenter_extensions(
        &self,
        live: &LiveState,
        agents: &[Agent],
    ) -> BTreeSet<String> {
        let mut set: BTreeSet<String> = live
            .queues
            .values()
            .flat_map(|q| q.members.keys())
            .filter_map(|i| self.services.naming.extension_of(i))
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

    pub(in crate::facades::uscall) async fn get_extens(&self, args: &Args<'_>) -> Answer {
        let only = args
            .get("ramal")
            .map(|r| extension("ramal", r))
            .transpose()?;
        let agents = self.agents().await?;
        let live = self.live()?;
        let cc = self.callcenter_extensions(&live, &agents);
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
                    .map_or_else(|| wire::extension_name(n), |a| a.full_name.clone());
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

    pub(in crate::facades::uscall) async fn exten_status(&self, args: &Args<'_>) -> Answer {
        let tipo = args.get("tipo").unwrap_or("all").to_ascii_lowercase();
        if !matches!(tipo.as_str(), "all" | "callcenter" | "pbx") {
            return Err(UscallError::invalid("tipo", reason::EXTENSION_LIST_TYPE));
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
        let cc = self.callcenter_extensions(&live, &agents);
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
                    "status": wire::extension_status(extension_presence(e)),
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

    pub(in crate::facades::uscall) fn queue_filter(
        &self,
        args: &Args<'_>,
    ) -> Result<Option<QueueName>, UscallError> {
        args.get("fila").map(|q| queue_name("fila", q)).transpose()
    }

    pub(in crate::facades::uscall) async fn get_queue(&self, args: &Args<'_>) -> Answer {
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
        let display = &self.config.queue;
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

    pub(in crate::facades::uscall) fn queue_status(&self, args: &Args<'_>) -> Answer {
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

    pub(in crate::facades::uscall) fn list_trunk(&self) -> Answer {
        let live = self.live()?;
        Ok(Value::Array(
            live.endpoints
                .iter()
                .filter(|(_, e)| e.kind == EndpointKind::Trunk)
                .map(|(n, _)| {
                    let naming = &self.services.naming;
                    json!({ "nome": n, "tipo": naming.technology(), "canal": naming.device(n) })
                })
                .collect(),
        ))
    }
}

pub(in crate::facades::uscall) fn endpoint_ip(e: &EndpointLive) -> String {
    e.contact_ip.clone().unwrap_or_default()
}

/// `nao_encontrado` ("Ramal <ext>") unless the PBX knows `ext` as an extension (not a trunk).
pub(in crate::facades::uscall) fn require_extension(
    live: &LiveState,
    ext: &str,
) -> Result<(), UscallError> {
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
