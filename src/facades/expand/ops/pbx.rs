//! The PBX: `extensionPbx`, `recordingPbx`, `cdrData`, `cdrCustom` (CDRs from the journal, recordings from the catalogue).

use super::super::*;

impl ExpandService {
    pub(in crate::facades::expand) async fn extension_pbx(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let live = self.live()?;
        let agents = self.agents().await?;
        let list: Vec<wire::ExtensionInfo> = live
            .endpoints
            .iter()
            .filter(|(_, e)| e.kind == EndpointKind::Extension)
            .map(|(name, _)| {
                let logged = live
                    .agent_by_interface(&self.services.naming.device(name))
                    .and_then(|v| agents.iter().find(|a| a.number.as_str() == v.name));
                let owner = agents.iter().find(|a| {
                    a.default_extension
                        .as_ref()
                        .is_some_and(|e| e.as_str() == name)
                });
                wire::ExtensionInfo {
                    extension: name.clone(),
                    channel: self.services.naming.device(name),
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
    pub(in crate::facades::expand) async fn cdrs_of(
        &self,
        id: &str,
    ) -> Result<Vec<CdrRecord>, Failure> {
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

    pub(in crate::facades::expand) async fn recording_pbx(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
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

    pub(in crate::facades::expand) async fn cdr_data(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
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

    pub(in crate::facades::expand) async fn cdrs(
        &self,
        range: TimeRange,
    ) -> Result<Vec<CdrRecord>, Failure> {
        self.services
            .journal
            .cdrs(range)
            .await
            .map_err(|_| Failure::Unknown)
    }

    pub(in crate::facades::expand) async fn cdr_custom(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let range = self.range(arg(call, 1, "inicio"), arg(call, 2, "fin"))?;
        let cdrs = self.cdrs(range).await?;
        let c = &self.config;
        Ok(SoapValue::Str(wire::cdr_custom_xml(
            &cdrs,
            &self.tz(),
            &c.cdr_custom_estado,
            &c.cdr_custom_observaciones,
        )))
    }
}
