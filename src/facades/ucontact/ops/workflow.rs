//! `admin/CallWorkflow(context, extension, jsonparams)`: the data of `jsonparams` injected
//! into the call at the flow's `context` and `extension` as channel variables `WF_<name>` the
//! dialplan and flows read (the rules, which call and which names and values, are the core's:
//! [`crate::core::call_workflow`]). Answers `OK`; `0` when the input is refused or there is no
//! such call (nothing set), 503 `0` when the PBX is not connected. Journaled as
//! `call.workflow` with the channel and the variable names (never the values).

use super::super::errors::{self, Answer};
use super::super::wire::workflow_params;
use super::super::wire::Form;
use super::super::{actor, Ucontact};
use crate::core::audit::{outcome_of, record_quietly, EngineAction};
use crate::core::call_workflow::{inject, workflow_vars, WorkflowError, WorkflowPlace};
use crate::core::session_tokens::Principal;

pub(in crate::facades::ucontact) async fn call_workflow(
    uc: &Ucontact,
    who: &Principal,
    form: &Form,
) -> Answer {
    let context = form.text("context");
    let extension = form.text("extension");
    let result = async {
        let place = WorkflowPlace::parse(context.trim(), extension.trim())?;
        let params = workflow_params(&form.text("jsonparams"))
            .map_err(|_| WorkflowError::Invalid("jsonparams"))?;
        let vars = workflow_vars(&params)?;
        let Some(pbx) = uc.services.pbx() else {
            tracing::warn!("ucontact: CallWorkflow while the PBX is not connected");
            return Err(WorkflowError::Pbx(
                crate::core::call_commands::CallCommandError::Refused("not connected".into()),
            ));
        };
        let channel = inject(&*pbx.commands, &pbx.live, &place, &vars).await?;
        let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
        Ok((channel, names.join(",")))
    }
    .await;
    let (target, params) = match &result {
        Ok((channel, names)) => (channel.to_string(), format!("vars={names}")),
        Err(_) => (String::new(), String::new()),
    };
    let entry = EngineAction::now(
        &actor(who),
        "call.workflow",
        format!("{}@{}", journaled(&extension), journaled(&context)),
        format!("channel={target} {params}").trim().to_owned(),
        outcome_of(&result),
    );
    record_quietly(Some(&uc.services.actions), entry).await;
    match result {
        Ok(_) => Answer::text("OK"),
        Err(e) => {
            tracing::debug!(error = %crate::core::error_chain(&e), "ucontact: CallWorkflow refused");
            errors::call_workflow(&e, uc.services.pbx().is_some())
        }
    }
}

/// A request's text as the journal keeps it: at most 80 characters, no control characters.
fn journaled(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(80)
        .collect()
}
