//! Calls: `startCall` (through the dialing categories), `cdrSearch`, `audioDownload`, `cdrTariff`,
//! `hangupCall`, `monitExten`.

use super::super::*;
use super::pbx::require_extension;
use crate::core::call_checks;

impl UscallService {
    pub(in crate::facades::uscall) async fn start_call(
        &self,
        actor: &Actor,
        args: &Args<'_>,
    ) -> Answer {
        let tipo = args.required("tipo")?.to_ascii_lowercase();
        let origem = args.required("origem")?;
        let destino = args.required("destino")?;
        let categoria = args.required("categoria")?;
        let idcti = args.get("idcti").map(idcti).transpose()?;
        if !matches!(tipo.as_str(), "outbound" | "clicktocall" | "clicktocal") {
            return Err(UscallError::invalid("tipo", reason::CALL_TYPE));
        }
        let dialing = &self.services.dialing;
        let category = dialing
            .category(categoria)
            .ok_or_else(|| UscallError::not_found(Noun::Categoria, categoria))?;
        let request = if tipo == "outbound" {
            let ext = originate::Extension::parse(origem)
                .map_err(|_| UscallError::invalid("origem", reason::EXTENSION_DIGITS))?;
            let number = category.apply(destino)?;
            // That the phone exists is the core's check of every call (`core::call_checks`).
            OriginateRequest::click_to_call(ext, number)
        } else {
            let number = category.apply(origem)?;
            if !destino.bytes().all(|b| b.is_ascii_digit()) {
                return Err(UscallError::invalid("destino", reason::DDR_DIGITS));
            }
            // The core checks it again for every call; asked here too, it is answered with
            // the documented code even while the PBX is not connected.
            if !call_checks::ddr_allowed(&dialing.ddrs, destino) {
                return Err(UscallError::not_found(Noun::Ddr, destino));
            }
            let target = DirectTarget::new(&dialing.ddr_context, destino)
                .map_err(|_| UscallError::invalid("destino", reason::BAD_DDR))?;
            OriginateRequest::direct(number, target)
        };
        // The categoria's trunk existing is checked by the core for every call
        // (`core::call_checks`), like the source phone and the DDR.
        let mut request = request;
        if let Some(trunk) = &category.trunk {
            let trunk = TrunkName::new(trunk.as_str())
                .map_err(|_| UscallError::NotAllowed(reason::categoria_trunk_invalid(categoria)))?;
            request = request.with_trunk(trunk);
        }
        if tipo != "outbound" {
            // The DDR's side (the queue, the agent's phone) sees the number dialed as the caller.
            let shown = originate::CallerId::new(None, Some(request.destination.as_str()))
                .map_err(|_| UscallError::invalid("origem", reason::BAD_NUMBER))?;
            request = request.with_caller_ids(Some(shown), None);
        }
        if let Some(id) = &idcti {
            let data = CallData::new(&[("idcti", id.as_str())])
                .map_err(|_| UscallError::invalid("idcti", reason::BAD_VALUE))?;
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

    pub(in crate::facades::uscall) fn call_json(&self, s: &CallSummary) -> Value {
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

    pub(in crate::facades::uscall) async fn cdr_search(&self, args: &Args<'_>) -> Answer {
        let idunico = args.get("idunico");
        if idunico.is_some_and(|i| i.len() > 128 || i.chars().any(char::is_control)) {
            return Err(UscallError::invalid("idunico", reason::BAD_VALUE));
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
                return Err(UscallError::invalid(param, reason::AT_MOST_64_CHARS));
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

    pub(in crate::facades::uscall) async fn audio_download(&self, args: &Args<'_>) -> Answer {
        let id = args.required("idunico")?.to_owned();
        if id.len() > 128 || id.chars().any(char::is_control) {
            return Err(UscallError::invalid("idunico", reason::BAD_VALUE));
        }
        let format = wire::audio_format(args.get("formato"))
            .ok_or_else(|| UscallError::invalid("formato", reason::RECORDING_FORMAT))?;
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

    pub(in crate::facades::uscall) async fn cdr_tariff(&self, args: &Args<'_>) -> Answer {
        let range = self.range(args.get("dataini"), args.get("datafin"))?;
        let (cdrs, _) = self
            .journal(range, TimeRange::new(range.from, range.from))
            .await?;
        let agents = self.agents().await?;
        let tz = self.tz();
        let calls: Vec<_> = reports::calls(&cdrs);
        Ok(Value::Array(
            outbound_legs(&calls, &self.call_rules())
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

    pub(in crate::facades::uscall) async fn hangup_call(
        &self,
        actor: &Actor,
        args: &Args<'_>,
    ) -> Answer {
        let ramal = args.required("ramal")?;
        let is_agent = wire::flag(args.get("agente"))
            .ok_or_else(|| UscallError::invalid("agente", reason::AGENT_FLAG))?;
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
    pub(in crate::facades::uscall) fn target(
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
            let ext = self
                .services
                .naming
                .extension_of(&view.interface)
                .ok_or_else(|| UscallError::NotLoggedIn(number.to_string()))?;
            Ok((ext, reason::agent_subject(&number)))
        } else {
            let ext = extension(param, value)?;
            require_extension(&*self.live()?, ext.as_str())?;
            Ok((ext.clone(), reason::extension_subject(&ext)))
        }
    }

    pub(in crate::facades::uscall) async fn monit_exten(
        &self,
        actor: &Actor,
        args: &Args<'_>,
    ) -> Answer {
        let src = extension("srcramal", args.required("srcramal")?)?;
        let dst = args.required("dstramal")?;
        let is_agent = wire::flag(args.get("agente"))
            .ok_or_else(|| UscallError::invalid("agente", reason::AGENT_FLAG))?;
        let tipo = args.get("tipo").unwrap_or("escuta").to_ascii_lowercase();
        let mode = match tipo.as_str() {
            "escuta" => SpyMode::Listen,
            "monitor" => SpyMode::Whisper,
            "conf" => SpyMode::Barge,
            _ => return Err(UscallError::invalid("tipo", reason::SPY_TYPE)),
        };
        let (target, who) = self.target(dst, is_agent, "dstramal")?;
        let live = self.live()?;
        require_extension(&live, src.as_str())?;
        if src == target {
            return Err(UscallError::invalid("srcramal", reason::OTHER_EXTENSION));
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
}
