//! Recordings: `getrecords`, `TagRecord`, `convert` and the files behind signed links (`/records/...`).

use super::super::*;

/// An agent's session tags its own calls' recordings only.
pub(in crate::facades::ucontact) async fn tag_record(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
) -> Answer {
    let scope = uc.scope(who).await;
    let guid = form.text("guid");
    let data = form.text("data");
    let key = RecordingKey::Guid(guid.clone());
    let own = match &scope {
        None => true,
        Some(scope) => match uc.services.recordings.find_async(key.clone()).await {
            Ok(r) => uc.campaigns.owns_recording(&r, scope).await,
            Err(_) => false,
        },
    };
    let result = if own {
        uc.services
            .recordings
            .tag_async(key, data)
            .await
            .map_err(|e| e.to_string())
    } else {
        Err("not the agent's call".to_owned())
    };
    let outcome = match &result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("error: {e}"),
    };
    let entry = EngineAction::now(&actor(who), "recording.tag", guid, "", outcome);
    record_quietly(Some(&uc.services.actions), entry).await;
    // Documented as asynchronous with an empty answer.
    Answer::text("")
}

/// An agent's session converts its own calls' recordings only.
pub(in crate::facades::ucontact) async fn convert(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
) -> Answer {
    let scope = uc.scope(who).await;
    let guid = form.text("guid");
    // `folder` in the Spanish and English documents, `pasta` in the Portuguese one.
    let folder = ["folder", "pasta"]
        .iter()
        .map(|n| form.text(n))
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    let ok = convert_own(uc, RecordingKey::Guid(guid), &folder, scope.as_ref()).await;
    if ok {
        Answer::one()
    } else {
        Answer::zero()
    }
}

/// Whether the recording is a call of the agent of `scope`: the recording's agent, or the agent
/// of the campaign call with its guid.
/// The recording `key` names, if it is of `day` (when given) and, for an agent's session, the
/// agent's own call.
pub(in crate::facades::ucontact) async fn own_recording(
    uc: &Ucontact,
    key: RecordingKey,
    day: Option<&str>,
    scope: Option<&AgentScope>,
) -> Option<crate::core::recordings::Recording> {
    let r = uc.services.recordings.find_async(key).await.ok()?;
    if day.is_some_and(|d| !in_day(&r, d, &uc.tz)) {
        return None;
    }
    match scope {
        Some(s) if !uc.campaigns.owns_recording(&r, s).await => None,
        _ => Some(r),
    }
}

/// Converts the recording to MP3 (into the cache) if the caller may: `folder` is its day (when
/// given) and, for an agent's session, it is the agent's own call.
pub(in crate::facades::ucontact) async fn convert_own(
    uc: &Ucontact,
    key: RecordingKey,
    folder: &str,
    scope: Option<&AgentScope>,
) -> bool {
    let day = (!folder.is_empty()).then_some(folder);
    if own_recording(uc, key.clone(), day, scope).await.is_none() {
        return false;
    }
    uc.services
        .recordings
        .open_as_async(key, ServeFormat::Mp3)
        .await
        .is_ok()
}

/// The recording named by `guid` as `format` (MIME type and bytes), if the caller may hear it.
pub(in crate::facades::ucontact) async fn fetch_own(
    uc: &Ucontact,
    guid: &str,
    format: ServeFormat,
    day: Option<&str>,
    scope: Option<&AgentScope>,
) -> Option<(&'static str, Vec<u8>)> {
    let key = RecordingKey::Guid(guid.to_owned());
    // An agent's session hears its own calls only.
    own_recording(uc, key.clone(), day, scope).await?;
    let fetched = uc
        .services
        .recordings
        .fetch(vec![key], format, |_| true)
        .await
        .ok()?;
    Some((fetched.mime, fetched.bytes))
}

/// Whether `day` (`YYYYMMDD`) is the recording's day: its call date in the call center's zone,
/// or the day folder it is stored in.
pub(in crate::facades::ucontact) fn in_day(
    r: &crate::core::recordings::Recording,
    day: &str,
    tz: &TimeZone,
) -> bool {
    wire::render_day_folder(r.created, tz) == day || r.relative_path.day_folder() == Some(day)
}

pub(in crate::facades::ucontact) async fn record_flat(
    State(uc): State<Arc<Ucontact>>,
    Path(file): Path<String>,
    Query(link): Query<LinkQuery>,
    parts: Parts,
) -> Response {
    serve_record(&uc, &parts, &link, None, &file).await
}

pub(in crate::facades::ucontact) async fn record_in_day(
    State(uc): State<Arc<Ucontact>>,
    Path((day, file)): Path<(String, String)>,
    Query(link): Query<LinkQuery>,
    parts: Parts,
) -> Response {
    serve_record(&uc, &parts, &link, Some(day), &file).await
}

/// The recording a file name asks for and in which format: `<guid>.mp3` or `<guid>.gsm`.
pub(in crate::facades::ucontact) fn record_file(file: &str) -> Option<(Guid, ServeFormat)> {
    let (stem, ext) = file.rsplit_once('.')?;
    let format = match ext {
        "mp3" => ServeFormat::Mp3,
        "gsm" => ServeFormat::Gsm,
        _ => return None,
    };
    Some((Guid::parse(stem)?, format))
}

pub(in crate::facades::ucontact) async fn serve_record(
    uc: &Ucontact,
    parts: &Parts,
    link: &LinkQuery,
    day: Option<String>,
    file: &str,
) -> Response {
    let wanted =
        record_file(file).filter(|_| day.as_deref().is_none_or(crate::core::recordings::is_day));
    // A signed link opens its recording without `Authorization` until it expires; a request
    // without one must authenticate as the API does.
    // What an authenticated agent's session may hear; a signed link was issued to whoever
    // could list the recording.
    let scope = match (&link.expires, &link.sig) {
        (None, None) => {
            let Some(who) = uc.authenticate(&parts.headers, uc.client(parts)).await else {
                return Answer::unauthorized().into_response();
            };
            uc.scope(&who).await
        }
        (expires, sig) => {
            let Some((guid, _)) = &wanted else {
                return Answer::forbidden().into_response();
            };
            let checked = uc.services.record_links.verify(
                guid,
                expires.as_deref().unwrap_or(""),
                sig.as_deref().unwrap_or(""),
                UnixTime::now(),
            );
            if let Err(e) = checked {
                tracing::info!(error = %e, "ucontact: recording link refused");
                return Answer::forbidden().into_response();
            }
            None
        }
    };
    let Some((guid, format)) = wanted else {
        return Answer::not_found().into_response();
    };
    let served = fetch_own(
        uc,
        &guid.to_string(),
        format,
        day.as_deref(),
        scope.as_ref(),
    )
    .await;
    match served {
        Some((mime, bytes)) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            bytes,
        )
            .into_response(),
        None => Answer::not_found().into_response(),
    }
}

/// `base`: the scheme and host the client reached the engine at, for the rows' recording links.
/// An agent's session reads its own calls only.
pub(in crate::facades::ucontact) async fn get_records(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
    base: &str,
) -> Answer {
    let scope = uc.scope(who).await;
    let Ok(filter) = wire::records_filter(form.get("filter").unwrap_or(""), &uc.tz) else {
        return Answer::zero();
    };
    let lastrow: usize = match form.text("lastrow").as_str() {
        "" => 0,
        s => match s.parse() {
            Ok(n) => n,
            Err(_) => return Answer::zero(),
        },
    };
    let max = uc.config.max_search_limit;
    let limit: usize = match form.text("searchLimit").as_str() {
        "" => 50.min(max),
        s => match s.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(max),
            _ => return Answer::zero(),
        },
    };
    let now = UnixTime::now();
    let from = filter
        .from
        .unwrap_or_else(|| wire::start_of_day(now, &uc.tz));
    let to = filter
        .to
        .map_or(UnixTime(now.seconds() + 1), |t| UnixTime(t.seconds() + 1));
    if to <= from {
        return Answer::json(&json!([]));
    }
    let max_days = uc.config.max_report_days;
    if to.seconds() - from.seconds() > i64::from(max_days) * 86_400 + 1 {
        return Answer::zero();
    }
    let range = TimeRange { from, to };
    let Some(cdrs) = uc.journal(move |j| j.cdrs(range)).await else {
        return Answer::unavailable();
    };
    let recorded: Vec<CdrRecord> = cdrs
        .into_iter()
        .filter(|c| !c.recordingfile.trim().is_empty())
        .collect();
    // What the campaign store and the catalogue know of these calls.
    let ids: Vec<String> = recorded
        .iter()
        .map(|c| c.userfield.clone())
        .filter(|u| !u.is_empty())
        .collect();
    let calls: HashMap<String, CampaignCall> = match uc.campaigns.calls_by_originate(ids).await {
        Ok(calls) => calls
            .into_iter()
            .map(|c| (c.originate_id.to_string(), c))
            .collect(),
        Err(_) => return Answer::unavailable(),
    };
    // Why each row's channel ended, as Asterisk's Hangup events said (the CDR has no cause).
    let uniqueids: Vec<String> = recorded
        .iter()
        .map(|c| c.uniqueid.as_str().to_owned())
        .collect();
    let causes =
        match crate::core::hangup_causes::causes_of(&uc.services.hangup_causes, uniqueids).await {
            Ok(causes) => causes,
            Err(e) => {
                tracing::warn!(error = %e, "ucontact: hangup causes unreadable");
                HashMap::new()
            }
        };
    // The catalogue's recording of each row's channel, and the guids' last comments.
    let recs = uc
        .services
        .recordings
        .find_many(
            recorded
                .iter()
                .map(|c| RecordingKey::UniqueId(c.uniqueid.as_str().to_owned()))
                .collect(),
        )
        .await;
    let guids: Vec<Guid> = recorded
        .iter()
        .zip(&recs)
        .map(|(cdr, rec)| {
            rec.as_ref()
                .map(|r| r.guid.clone())
                .unwrap_or_else(|| Guid::derive(cdr.linkedid.as_str()))
        })
        .collect();
    let notes = uc
        .campaigns
        .last_comments(guids.iter().map(|g| g.as_str().to_owned()).collect())
        .await
        .unwrap_or_default();
    let campaign_of_queue: BTreeMap<String, String> = uc
        .campaigns
        .campaigns()
        .iter()
        .filter_map(|c| Some((c.queue.as_ref()?.to_string(), c.name.to_string())))
        .collect();
    let outbound_context = uc.services.originate_context.clone();
    let tz = uc.tz.clone();
    let links = uc.services.record_links.clone();
    let naming = uc.services.naming.clone();
    let base = base.to_owned();
    let rows = {
        let mut rows = Vec::new();
        let mut matched = 0usize;
        for ((cdr, rec), guid) in recorded.iter().zip(recs).zip(guids) {
            let call = calls.get(&cdr.userfield);
            let queue = rec.as_ref().and_then(|r| r.queue.clone());
            let campaign = call
                .map(|c| c.campaign.to_string())
                .or_else(|| {
                    queue
                        .as_ref()
                        .map(|q| campaign_of_queue.get(q).cloned().unwrap_or(q.clone()))
                })
                .unwrap_or_default();
            let agents: Vec<String> = [
                call.map(|c| c.agent.clone()),
                rec.as_ref().and_then(|r| r.agent.clone()),
            ]
            .into_iter()
            .flatten()
            .collect();
            let tags = rec.as_ref().map(|r| r.tags.join(" ")).unwrap_or_default();
            let f = &filter;
            let mine = scope
                .as_ref()
                .is_none_or(|s| agents.iter().any(|a| s.is_self(a)));
            let keep = mine
                && (f.agent.is_empty() || agents.iter().any(|a| a == &f.agent))
                && (f.campaign.is_empty() || campaign == f.campaign)
                && (f.source.is_empty() || cdr.src.contains(&f.source))
                && (f.destination.is_empty() || cdr.dst.contains(&f.destination))
                && (f.data.is_empty()
                    || cdr.calldata.contains(&f.data)
                    || tags.contains(&f.data)
                    || call.is_some_and(|c| c.data.contains(&f.data)))
                && f.mindur.is_none_or(|m| cdr.billsec.as_secs() >= m)
                && (f.exclude.is_empty() || (cdr.src != f.exclude && cdr.dst != f.exclude));
            if !keep {
                continue;
            }
            matched += 1;
            if matched <= lastrow {
                continue;
            }
            if rows.len() >= limit {
                break;
            }
            let direction =
                if call.is_some() || cdr.dcontext == outbound_context || cdr.dcontext == "outbound"
                {
                    "outbound"
                } else if queue.is_some() {
                    "inbound"
                } else {
                    "internal"
                };
            let note = notes.get(guid.as_str()).cloned();
            let link = links.issue(&guid, now);
            let extra = wire::RowExtra {
                causecode: causes.get(cdr.uniqueid.as_str()).copied(),
                record_url: format!("{base}/records/{guid}.mp3?{}", link.query()),
                record_url_gsm: format!("{base}/records/{guid}.gsm?{}", link.query()),
                record_url_expires: wire::render_time(link.expires, &tz),
                guid: guid.to_string(),
                campaign,
                direction: direction.to_owned(),
                carrier: crate::core::call_summary::trunk_of(cdr, &*naming)
                    .unwrap_or_default()
                    .to_owned(),
                note,
            };
            rows.push(wire::record_row(cdr, &extra, &tz));
        }
        rows
    };
    Answer::json(&Value::Array(rows))
}
