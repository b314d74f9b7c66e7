//! The Integra operations, one file per area; `mod.rs` holds the routes, the dispatch table and the helpers they share.

pub mod auth;
pub mod calls;
pub mod dialers;
pub mod recordings;
pub mod supervision;
pub mod workflow;

use super::*;

/// Journals an agent's session asking for a phone that is not its own (the operation is
/// refused).
async fn refused_phone(uc: &Ucontact, who: &Principal, action: &str, phone: &str) {
    let entry = EngineAction::now(
        &actor(who),
        action,
        phone,
        "",
        "error: not the agent's phone",
    );
    record_quietly(Some(&uc.services.actions), entry).await;
}
