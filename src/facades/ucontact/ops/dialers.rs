//! The dialer: `Dialers/Respool`, `ScheduleDialerCall`, `DialerTask`, `RemoveContact`,
//! `RemoveScheduleDialerCall`, `uploadbase`, `uploadbasewithtimezone` and the engine's
//! `uploadstatus`, over the core's spool ([`crate::core::dialer::spool`]) and upload jobs
//! ([`crate::core::dialer::uploads`]). Every refusal answers the documented `0`; a store
//! failure 503 `0` ([`errors::spool`]).

use base64::Engine as _;

use super::super::*;
use crate::core::dialer::contact::ContactId;
use crate::core::dialer::spool::{task_mode, DialerRecord, SpoolCall, SpoolError, TaskMode};
use crate::core::dialer::uploads::{Upload, UploadError};
use crate::core::dialer::ZoneName;

fn spool_call(o: wire::DialerObject) -> SpoolCall {
    SpoolCall {
        campaign: o.campaign,
        number: o.destination,
        alternatives: o.alternatives,
        agent: o.agent,
        data: o.data,
        priority: o.priority,
        record: DialerRecord {
            contact: o.contact.map(ContactId),
            retries: o.retries,
            base: o.dialerbase,
            status: o.status,
        },
    }
}

async fn audit<T>(
    uc: &Ucontact,
    who: &Principal,
    action: &str,
    target: &str,
    params: String,
    result: &Result<T, SpoolError>,
) {
    let entry = EngineAction::now(
        &actor(who),
        action,
        target,
        params,
        crate::core::audit::outcome_of(result),
    );
    record_quietly(Some(&uc.services.actions), entry).await;
}

/// A dialer object placed by `place` (given its call and the time now), journaled as
/// `action`: `1`, or the refusal's answer.
async fn spooled<T>(
    uc: &Ucontact,
    who: &Principal,
    action: &str,
    o: wire::DialerObject,
    place: impl AsyncFnOnce(SpoolCall, UnixTime) -> Result<T, SpoolError>,
) -> Answer {
    let (target, params) = (o.destination.to_string(), params_of(&o));
    let result = place(spool_call(o), UnixTime::now()).await;
    audit(uc, who, action, &target, params, &result).await;
    result.map_or_else(|e| errors::spool(&e), |_| Answer::one())
}

fn params_of(o: &wire::DialerObject) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    format!(
        "campaign={} alternatives={} agent={} priority={} calldate={} contact={} retries={} \
         dialerbase={} status={}",
        o.campaign,
        o.alternatives.len(),
        o.agent.as_deref().unwrap_or(""),
        opt(o.priority.map(|p| p.to_string())),
        o.calldate.as_deref().unwrap_or(""),
        opt(o.contact.map(|c| c.to_string())),
        opt(o.retries.map(|r| r.to_string())),
        o.dialerbase.as_deref().unwrap_or(""),
        opt(o.status.map(|s| s.to_string())),
    )
}

/// `Dialers/Respool` (`callspool`): the destination back into the campaign's spool, undated.
pub(in crate::facades::ucontact) async fn respool(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
) -> Answer {
    let Ok(o) = wire::dialer_object(form.get("callspool").unwrap_or("")) else {
        return Answer::zero();
    };
    spooled(uc, who, "dialer.respool", o, async |call, now| {
        uc.services.dialer.respool(call, now).await
    })
    .await
}

/// `Dialers/ScheduleDialerCall` (`callschedule`): a call at `calldate` in the call center's
/// zone.
pub(in crate::facades::ucontact) async fn schedule_dialer_call(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
) -> Answer {
    let Ok(o) = wire::dialer_object(form.get("callschedule").unwrap_or("")) else {
        return Answer::zero();
    };
    let Some(at) = o
        .calldate
        .as_deref()
        .and_then(|d| wire::parse_local(d, &uc.tz))
    else {
        return Answer::zero();
    };
    spooled(uc, who, "dialer.schedule", o, async |call, now| {
        uc.services.dialer.schedule_at(call, at, now).await
    })
    .await
}

/// `Dialers/DialerTask` (`call`), in the mode [`task_mode`] reads from `calldate`, `bulk` and
/// `automatic`; the click-to-call mode places the call at once through the agent call path.
pub(in crate::facades::ucontact) async fn dialer_task(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
) -> Answer {
    let Ok(o) = wire::dialer_object(form.get("call").unwrap_or("")) else {
        return Answer::zero();
    };
    let at = match o.calldate.as_deref() {
        Some(d) => match wire::parse_local(d, &uc.tz) {
            Some(at) => Some(at),
            None => return Answer::zero(),
        },
        None => None,
    };
    let mode = task_mode(at, o.bulk, o.automatic);
    if mode == TaskMode::ClickToCall {
        return click_to_call(uc, who, o).await;
    }
    spooled(uc, who, "dialer.task", o, async |call, now| {
        uc.services.dialer.task(call, mode, now).await
    })
    .await
}

/// A DialerTask's click-to-call: the agent (`agent`, a user name or a phone; empty: the
/// session's own agent) is rung on its phone, then the destination, for the configured
/// campaign named `campaign` ([`CampaignService::agent_call`]: blacklist, call checks and
/// outbound policy). An agent's session places calls from its own phones only.
async fn click_to_call(uc: &Ucontact, who: &Principal, o: wire::DialerObject) -> Answer {
    let scope = uc.scope(who).await;
    let (agent, phone) = match (&o.agent, &scope) {
        (None, Some(scope)) => (
            scope.username.clone(),
            scope.phones.first().and_then(|p| Extension::parse(p).ok()),
        ),
        (None, None) => (String::new(), None),
        (Some(a), _) => {
            let found = uc.services.directory.find_agent(a).await.ok().flatten();
            let phone = match &found {
                Some(agent) => agent
                    .default_extension
                    .as_ref()
                    .and_then(|e| Extension::parse(e.as_str()).ok()),
                None => Extension::parse(a).ok(),
            };
            let name = found.map_or_else(|| a.clone(), |f| f.username);
            (name, phone)
        }
    };
    let Some(phone) = phone else {
        return Answer::zero();
    };
    if let Some(scope) = &scope {
        if !scope.owns_phone(phone.as_str()) {
            super::refused_phone(uc, who, "campaign.agent_call", phone.as_str()).await;
            return Answer::zero();
        }
    }
    let data = o.data.as_text();
    let Ok(variables) = wire::call_variables(&data) else {
        return Answer::zero();
    };
    let Some(pbx) = uc.services.pbx() else {
        tracing::warn!("ucontact: DialerTask click-to-call while the PBX is not connected");
        return Answer::zero();
    };
    let req = AgentCallRequest {
        campaign: o.campaign,
        agent,
        phone,
        destination: o.destination,
        caller_id: None,
        variables,
        data,
        form: String::new(),
    };
    let today = wire::today(UnixTime::now(), &uc.tz);
    match uc
        .campaigns
        .agent_call(&actor(who), &pbx.originate, req, &today)
        .await
    {
        Ok(_) => Answer::one(),
        Err(e) => errors::agent_call(&e),
    }
}

fn campaign_and_number(form: &Form, number_field: &str) -> Option<(CampaignName, PhoneNumber)> {
    let campaign = CampaignName::parse(&form.text("campaign"))?;
    let number = wire::dialer_number(&form.text(number_field)).ok()?;
    Some((campaign, number))
}

/// `Dialers/RemoveContact` (`campaign`, `number`): the contact canceled, and its open
/// scheduled calls.
pub(in crate::facades::ucontact) async fn remove_contact(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
) -> Answer {
    let Some((campaign, number)) = campaign_and_number(form, "number") else {
        return Answer::zero();
    };
    let target = number.to_string();
    let result = uc
        .services
        .dialer
        .remove_contact(&campaign, number, UnixTime::now())
        .await;
    let params = match &result {
        Ok(r) => format!(
            "campaign={campaign} contact={} scheduled={}",
            r.contact, r.scheduled
        ),
        Err(_) => format!("campaign={campaign}"),
    };
    audit(uc, who, "dialer.remove_contact", &target, params, &result).await;
    result.map_or_else(|e| errors::spool(&e), |_| Answer::one())
}

/// `Dialers/RemoveScheduleDialerCall` (`campaign`, `destination`, `from`, `to` as
/// `YYYY-MM-DD hh:mm:ss` in the call center's zone).
pub(in crate::facades::ucontact) async fn remove_schedule(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
) -> Answer {
    let Some((campaign, number)) = campaign_and_number(form, "destination") else {
        return Answer::zero();
    };
    let (Some(from), Some(to)) = (
        wire::parse_local(&form.text("from"), &uc.tz),
        wire::parse_local(&form.text("to"), &uc.tz),
    ) else {
        return Answer::zero();
    };
    if to < from {
        return Answer::zero();
    }
    let target = number.to_string();
    let result = uc
        .services
        .dialer
        .remove_scheduled(&campaign, number, from, to, UnixTime::now())
        .await;
    let params = format!(
        "campaign={campaign} from={} to={} canceled={}",
        form.text("from"),
        form.text("to"),
        result.as_ref().map_or(0, |n| *n)
    );
    audit(uc, who, "dialer.remove_schedule", &target, params, &result).await;
    result.map_or_else(|e| errors::spool(&e), |_| Answer::one())
}

/// The longest upload file name.
const MAX_FILENAME: usize = 255;

/// `Dialers/uploadbase` and `uploadbasewithtimezone`: `filename`, `fileb64`, `campaign`,
/// `cant`, `username`[, `timezone`, an IANA zone]. Answers `1` once the job is started; the
/// import runs in the background (`Dialers/uploadstatus`).
pub(in crate::facades::ucontact) async fn upload_base(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
    with_zone: bool,
) -> Answer {
    let filename = form.text("filename");
    let username = form.text("username");
    let Some(campaign) = CampaignName::parse(&form.text("campaign")) else {
        return Answer::zero();
    };
    if filename.is_empty()
        || filename.chars().count() > MAX_FILENAME
        || filename.chars().any(char::is_control)
        || username.chars().count() > 128
        || username.chars().any(char::is_control)
    {
        return Answer::zero();
    }
    let cant = form.text("cant");
    let announced = match cant.as_str() {
        "" => None,
        c => match c.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return Answer::zero(),
        },
    };
    let zone = if with_zone {
        match ZoneName::parse(&form.text("timezone")) {
            Ok(z) => Some(z),
            Err(_) => return Answer::zero(),
        }
    } else {
        None
    };
    // Bounded before decoding: the base64 of a file over the maximum is refused unread. Line
    // breaks are dropped; a space is a `+` a client did not form-encode (base64 has no space).
    let b64: String = form
        .get("fileb64")
        .unwrap_or("")
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    if b64.is_empty() || b64.len() / 4 * 3 > uc.config.max_upload_bytes + 3 {
        return Answer::zero();
    }
    let Ok(base) = base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()) else {
        return Answer::zero();
    };
    if base.len() > uc.config.max_upload_bytes {
        return Answer::zero();
    }
    let id = match uc.services.dialer.campaign_named(&campaign).await {
        Ok(id) => id,
        Err(e) => return errors::spool(&e),
    };
    let params = format!(
        "campaign={campaign} bytes={} cant={cant} username={username} timezone={}",
        base.len(),
        zone.as_ref().map_or("", ZoneName::as_str)
    );
    let upload = Upload {
        campaign: (id, campaign),
        filename: filename.clone(),
        base,
        zone,
        announced,
        username: if username.is_empty() {
            who.name.clone()
        } else {
            username
        },
    };
    let result = uc
        .services
        .dialer
        .start_upload(upload, UnixTime::now())
        .await
        .map(drop);
    let entry = EngineAction::now(
        &actor(who),
        "dialer.upload",
        filename,
        params,
        crate::core::audit::outcome_of(&result),
    );
    record_quietly(Some(&uc.services.actions), entry).await;
    match result {
        Ok(()) => Answer::one(),
        Err(UploadError::Store(_) | UploadError::Unavailable) => Answer::unavailable(),
        Err(UploadError::Running | UploadError::Busy) => Answer::zero(),
    }
}

/// `Dialers/uploadstatus` (an engine extension): `campaign`, `filename` → the job's progress
/// as JSON, `0` when no such job is known.
pub(in crate::facades::ucontact) async fn upload_status(uc: &Ucontact, form: &Form) -> Answer {
    let Some(campaign) = CampaignName::parse(&form.text("campaign")) else {
        return Answer::zero();
    };
    let Some(jobs) = uc.services.dialer.uploads() else {
        return Answer::zero();
    };
    match jobs.status(&campaign, &form.text("filename")).await {
        Ok(Some(job)) => Answer::json(&wire::upload_status(&job, &uc.tz)),
        Ok(None) => Answer::zero(),
        Err(e) => {
            tracing::warn!(error = %e, "ucontact: upload status unreadable");
            Answer::unavailable()
        }
    }
}
