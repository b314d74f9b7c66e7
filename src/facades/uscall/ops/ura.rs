//! The dynamic IVRs (URAs): `listURA` (the stored flows and their prompts, timeouts, retries
//! and digit destinations) and `cdrURA` (the IVR CDR, one row per call with its events).

use super::super::*;
use crate::core::ivr::{
    EventFilter, Flow, FlowId, IvrCallId, IvrError, IvrRecord, Media, NodeId, NodeKind, Prompt,
};

fn ivr_internal(e: IvrError) -> UscallError {
    tracing::warn!(error = %crate::core::error_chain(&e), "uscall: IVR store failure");
    UscallError::Internal
}

fn ura_id(v: &str) -> Result<FlowId, UscallError> {
    FlowId::new(v).map_err(|_| UscallError::invalid("idura", reason::URA_ID_CHARS))
}

/// Where a node leads, as listURA shows it: a PBX entry (`fila:q_x`, `destino:1005`,
/// `desligar`) for a node that leaves the flow, else `fluxo:<id>`.
fn destino(flow: &Flow, id: &NodeId) -> String {
    match flow.node(id).map(|n| &n.kind) {
        Some(NodeKind::Queue { queue }) => format!("fila:{queue}"),
        Some(NodeKind::Transfer { target }) => format!("destino:{target}"),
        Some(NodeKind::Hangup) => "desligar".into(),
        _ => format!("fluxo:{id}"),
    }
}

fn audio(p: &Prompt) -> Value {
    match &p.media {
        Media::Tts { text, voice } => json!({
            "tipo": "texto",
            "texto": text,
            "voz": voice.as_ref().map_or("", |v| v.as_str()),
        }),
        Media::File(f) => json!({ "tipo": "arquivo", "arquivo": f.as_str() }),
    }
}

fn seconds(ms: u32) -> u32 {
    ms.div_ceil(1000)
}

/// The `fluxos` of a flow: its play and gather nodes, in the flow's order.
fn fluxos(flow: &Flow) -> Vec<Value> {
    flow.nodes
        .iter()
        .filter_map(|n| {
            let (prompt, timeout, retries, invalid, palavras) = match &n.kind {
                NodeKind::Play { prompt, next } => (
                    prompt,
                    0,
                    0,
                    String::new(),
                    vec![json!({ "palavra": "*", "destino": destino(flow, next) })],
                ),
                NodeKind::Gather(g) => {
                    let mut by_dest: Vec<(String, Vec<&str>)> = Vec::new();
                    for (digits, to) in &g.cases {
                        let d = destino(flow, to);
                        match by_dest.iter_mut().find(|(x, _)| *x == d) {
                            Some((_, words)) => words.push(digits),
                            None => by_dest.push((d, vec![digits])),
                        }
                    }
                    let mut palavras: Vec<Value> = by_dest
                        .into_iter()
                        .map(|(d, words)| json!({ "palavra": words.join(","), "destino": d }))
                        .collect();
                    if let Some(next) = &g.next {
                        palavras.push(json!({ "palavra": "*", "destino": destino(flow, next) }));
                    }
                    (
                        &g.prompt,
                        seconds(g.first_digit_timeout_ms),
                        g.retries,
                        destino(flow, &g.invalid),
                        palavras,
                    )
                }
                _ => return None,
            };
            Some(json!({
                "fluxo": n.id.as_str(),
                "descricao": n.description,
                "audio": audio(prompt),
                "Timeout": timeout,
                "repetir": retries,
                "destino_invalido": invalid,
                "tipo_fluxo": flow.kind.as_str(),
                "palavras": palavras,
            }))
        })
        .collect()
}

impl UscallService {
    pub(in crate::facades::uscall) async fn list_ura(&self, args: &Args<'_>) -> Answer {
        let only = args.get("idura").map(ura_id).transpose()?;
        let ivr = &self.services.ivr;
        let flows = match &only {
            Some(id) => vec![ivr
                .flow(id.clone())
                .await
                .map_err(ivr_internal)?
                .ok_or_else(|| UscallError::not_found(Noun::Ura, id))?],
            None => ivr.flows().await.map_err(ivr_internal)?,
        };
        Ok(Value::Array(
            flows
                .iter()
                .map(|f| {
                    json!({
                        "id": f.id.as_str(),
                        "nome": f.name,
                        "descricao": f.description,
                        "tipo_fluxo": f.kind.as_str(),
                        "versao": f.version,
                        "fluxos": fluxos(f),
                    })
                })
                .collect(),
        ))
    }

    pub(in crate::facades::uscall) async fn cdr_ura(&self, args: &Args<'_>) -> Answer {
        let flow = args.get("idura").map(ura_id).transpose()?;
        let idunico = args.get("idunico");
        if idunico.is_some_and(|i| IvrCallId::new(i).is_err()) {
            return Err(UscallError::invalid("idunico", reason::ID_CHARS));
        }
        let (dataini, datafin) = (args.get("dataini"), args.get("datafin"));
        let range = if idunico.is_some() && dataini.is_none() && datafin.is_none() {
            let now = UnixTime::now();
            TimeRange::new(UnixTime(now.0 - IDUNICO_LOOKBACK_SECS), UnixTime(now.0 + 1))
        } else {
            self.range(dataini, datafin)?
        };
        let ivr = &self.services.ivr;
        if let Some(id) = &flow {
            if ivr.flow(id.clone()).await.map_err(ivr_internal)?.is_none() {
                return Err(UscallError::not_found(Noun::Ura, id));
            }
        }
        // An idunico that is the call's id selects it by the index; an idcti is matched below.
        let by_call = idunico.and_then(|i| IvrCallId::new(i).ok());
        let mut records = ivr
            .events(EventFilter {
                range: Some(range),
                flow: flow.clone(),
                call: by_call.clone(),
                limit: 0,
            })
            .await
            .map_err(ivr_internal)?;
        if records.is_empty() && by_call.is_some() {
            records = ivr
                .events(EventFilter {
                    range: Some(range),
                    flow,
                    call: None,
                    limit: 0,
                })
                .await
                .map_err(ivr_internal)?;
        }
        let mut calls: Vec<(IvrCallId, Vec<&IvrRecord>)> = Vec::new();
        for r in &records {
            match calls.iter_mut().find(|(c, _)| *c == r.call) {
                Some((_, rs)) => rs.push(r),
                None => calls.push((r.call.clone(), vec![r])),
            }
        }
        let tz = self.tz();
        let rows = calls
            .iter()
            .filter(|(c, rs)| {
                idunico.is_none_or(|i| c.as_str() == i || rs.iter().any(|r| r.info.idcti == i))
            })
            .map(|(c, rs)| {
                let (first, last) = (rs[0], rs[rs.len() - 1]);
                let digits = rs.iter().rev().find(|r| r.event == "digitos");
                let destino = rs
                    .iter()
                    .rev()
                    .find(|r| !r.destination.is_empty())
                    .map_or("", |r| r.destination.as_str());
                json!({
                    "datahora": wire::datetime(last.at, &tz),
                    "ura": last.flow.as_str(),
                    "bilheteunico": c.as_str(),
                    "idcti": last.info.idcti,
                    "ddr": last.info.ddr,
                    "origem": last.info.origem,
                    "destino": destino,
                    "tronco": last.info.tronco,
                    "duracao": wire::hms(last.at.0 - first.at.0),
                    "fluxo": last.node.as_ref().map_or("", |n| n.as_str()),
                    "palavra_origem": digits.map_or("", |r| r.digits.as_str()),
                    "palavra_dest": digits.map_or("", |r| r.matched.as_str()),
                    "evento": last.event,
                    "status": if last.status.is_empty() { "em_andamento" } else { last.status.as_str() },
                    "eventos": rs.iter().map(|r| json!({
                        "datahora": wire::datetime(r.at, &tz),
                        "fluxo": r.node.as_ref().map_or("", |n| n.as_str()),
                        "evento": r.event,
                        "palavra_origem": r.digits,
                        "palavra_dest": r.matched,
                        "destino": r.destination,
                        "status": r.status,
                        "detalhe": r.detail,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(Value::Array(rows))
    }
}
