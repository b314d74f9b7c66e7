//! The operations, one file per area: [`campaigns`] (list, one), [`contacts`] (add, get,
//! edit, list, activity), [`outgoing_calls`] (the pending outgoing calls panel: list, add,
//! get, edit, delete), [`lists`] (simple key/value lists: the lists, one list, elements
//! list, add, get, replace, delete).

pub mod campaigns;
pub mod contacts;
pub mod lists;
pub mod outgoing_calls;

use crate::core::audit::{record_quietly, Actor, EngineAction};

use super::Rest;

/// Journals an engine action (a write) with its outcome; a journal that fails is logged, not
/// answered.
async fn journal(
    r: &Rest,
    actor: &Actor,
    action: &str,
    target: String,
    params: String,
    outcome: String,
) {
    let entry = EngineAction::now(actor, action, target, params, outcome);
    record_quietly(Some(&r.services.actions), entry).await;
}
