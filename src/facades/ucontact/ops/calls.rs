//! Calls and campaign data: `Agents/AgentCall`, `AgentCallwithData`, `HangupPhone`, `DispositionCall`,
//! the blacklist operations.

use super::super::*;

pub(in crate::facades::ucontact) async fn agent_call(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
    with_data: bool,
) -> Answer {
    let tech = form.text("tech");
    if !(tech.is_empty() || tech.eq_ignore_ascii_case("SIP") || tech.eq_ignore_ascii_case("PJSIP"))
    {
        return Answer::zero();
    }
    let (Ok(phone), Ok(destination), Some(campaign)) = (
        Extension::parse(&form.text("phone")),
        PhoneNumber::parse(&form.text("destination")),
        CampaignName::parse(&form.text("outqueue")),
    ) else {
        return Answer::zero();
    };
    let mut agent = form.text("agent");
    // An agent's session calls from its own phone, as itself.
    if let Some(scope) = uc.scope(who).await {
        if !scope.owns_phone(phone.as_str()) || !(agent.is_empty() || scope.is_self(&agent)) {
            super::refused_phone(uc, who, "campaign.agent_call", phone.as_str()).await;
            return Answer::zero();
        }
        if agent.is_empty() {
            agent = scope.username.clone();
        }
    }
    let data = if with_data {
        form.text("data")
    } else {
        String::new()
    };
    let form_name = if with_data {
        form.text("form")
    } else {
        String::new()
    };
    if agent.chars().count() > 128
        || data.len() > 8192
        || form_name.len() > 2048
        || agent.chars().any(char::is_control)
        || form_name.chars().any(char::is_control)
    {
        return Answer::zero();
    }
    let Ok(variables) = wire::call_variables(&data) else {
        return Answer::zero();
    };
    let callerid = form.text("callerid");
    let req = AgentCallRequest {
        campaign,
        agent,
        phone,
        destination,
        caller_id: (!callerid.is_empty()).then_some(callerid),
        variables,
        data,
        form: form_name,
    };
    // The documented failure answer is `0`, whatever failed (the PBX not connected included).
    let Some(pbx) = uc.services.pbx() else {
        tracing::warn!("ucontact: AgentCall while the PBX is not connected");
        return Answer::zero();
    };
    let today = wire::today(UnixTime::now(), &uc.tz);
    match uc
        .campaigns
        .agent_call(&actor(who), &pbx.originate, req, &today)
        .await
    {
        Ok(guid) => Answer::text(guid.to_string()),
        Err(e) => errors::agent_call(&e),
    }
}

pub(in crate::facades::ucontact) async fn hangup_phone(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
) -> Answer {
    let Ok(phone) = Extension::parse(&form.text("phone")) else {
        return Answer::zero();
    };
    if let Some(scope) = uc.scope(who).await {
        if !scope.owns_phone(phone.as_str()) {
            super::refused_phone(uc, who, "call.hangup", phone.as_str()).await;
            return Answer::zero();
        }
    }
    let Some(pbx) = uc.services.pbx() else {
        tracing::warn!("ucontact: HangupPhone while the PBX is not connected");
        return Answer::zero();
    };
    let channels: Vec<_> = pbx
        .live
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .endpoints
        .get(phone.as_str())
        .map(|e| e.calls.values().map(|c| c.channel.clone()).collect())
        .unwrap_or_default();
    let mut hung = 0;
    for channel in &channels {
        if pbx.commands.hangup(channel).await.is_ok() {
            hung += 1;
        }
    }
    let outcome = if hung > 0 { "ok" } else { "error: no call" };
    let entry = EngineAction::now(
        &actor(who),
        "call.hangup",
        phone.as_str(),
        format!("channels={hung}"),
        outcome,
    );
    record_quietly(Some(&uc.services.actions), entry).await;
    if hung > 0 {
        Answer::one()
    } else {
        Answer::zero()
    }
}

/// An agent's session dispositions its own calls only (as the `agent` it sends); another
/// agent's name is refused with 403, like a supervisor operation.
pub(in crate::facades::ucontact) async fn disposition_call(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
) -> Answer {
    let field = |n: &str| form.get(n).unwrap_or("").to_owned();
    if let Some(scope) = uc.scope(who).await {
        let agent = field("agent");
        if !agent.trim().is_empty() && !scope.is_self(agent.trim()) {
            return Answer::forbidden();
        }
    }
    let req = DispositionRequest {
        campaign: field("campaign"),
        agent: field("agent"),
        callerid: field("callerid"),
        guid: field("guid"),
        l1: field("l1"),
        l2: field("l2"),
        l3: field("l3"),
        d1: field("d1"),
        d2: field("d2"),
        comment: field("comment"),
        schedule: field("schedule"),
        camptoreschedule: field("camptoreschedule"),
        tag: field("tag"),
    };
    let tag = if req.tag.trim().is_empty() {
        format!("{}|{}|{}", req.l1.trim(), req.l2.trim(), req.l3.trim())
    } else {
        req.tag.trim().to_owned()
    };
    let guid = req.guid.trim().to_owned();
    let disposed =
        crate::core::dialer::spool::dispose(&uc.campaigns, &uc.services.dialer, &actor(who), req)
            .await;
    match disposed {
        Ok(done) => {
            // The call's recording carries the disposition as a tag (when it is catalogued).
            let _ = uc
                .services
                .recordings
                .tag_async(RecordingKey::Guid(guid), tag)
                .await;
            Answer::json(&json!({"result": "ok", "txtcode": done.txtcode}))
        }
        Err(e) => errors::disposition(&e),
    }
}

pub(in crate::facades::ucontact) async fn blacklist(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
    bulk: bool,
    add: bool,
) -> Answer {
    let text = form
        .any(&["black", "blacklist", "blacks", "data"])
        .or_else(|| form.single())
        .unwrap_or("");
    let max = uc.config.max_bulk_items;
    let result = if add {
        match wire::json_list_max(text, bulk, max, wire::blacklist_entry) {
            Ok(entries) => uc.campaigns.blacklist_add(&actor(who), entries).await,
            Err(_) => return Answer::zero(),
        }
    } else {
        match wire::json_list_max(text, bulk, max, wire::blacklist_key) {
            Ok(keys) => uc
                .campaigns
                .blacklist_remove(&actor(who), keys)
                .await
                .map(|_| ()),
            Err(_) => return Answer::zero(),
        }
    };
    match result {
        Ok(()) => Answer::one(),
        Err(e) => errors::blacklist(&e),
    }
}
