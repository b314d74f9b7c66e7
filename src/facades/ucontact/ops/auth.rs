//! Sessions: `auth/getUserToken` and `auth/EndSession` (throttled, hashed on the login guard's pool).

use super::super::*;

/// `auth/getUserToken`: through the login guard (`ucontact:<user>`, the client's address):
/// while either is locked out the answer is `0` without hashing; an unknown user is verified
/// against the dummy hash, so both cost the same.
pub(in crate::facades::ucontact) async fn get_user_token(
    uc: &Ucontact,
    form: &Form,
    client: Option<IpAddr>,
) -> Answer {
    let user = form.text("user");
    let password = Secret::new(form.get("password").unwrap_or("").to_owned());
    if user.is_empty() || password.expose().is_empty() || user.len() > 128 {
        return Answer::zero();
    }
    let principal = format!("ucontact:{user}");
    let attempt = if uc.services.logins.locked(&principal, client) {
        Attempt::Locked
    } else {
        let agent = uc.services.directory.find_agent(&user).await.ok().flatten();
        let stored = agent.as_ref().and_then(|a| a.password_hash.clone());
        let attempt = uc
            .services
            .logins
            .verify(&principal, client, stored, password)
            .await;
        match (attempt, agent) {
            (Attempt::Accepted, Some(agent)) => {
                let entry = EngineAction::now(
                    &Actor::new(api::UCONTACT, user.clone()),
                    "session.open",
                    user.clone(),
                    "",
                    "ok",
                );
                record_quietly(Some(&uc.services.actions), entry).await;
                let token = uc.sessions.open(&agent.username, agent.supervisor).await;
                return Answer::json(&json!([agent.username, token.expose()]));
            }
            (attempt, _) => attempt,
        }
    };
    let outcome = if attempt == Attempt::Locked {
        "error: locked out"
    } else {
        "error: refused"
    };
    let entry = EngineAction::now(
        &Actor::new(api::UCONTACT, user.clone()),
        "session.open",
        user.clone(),
        "",
        outcome,
    );
    record_quietly(Some(&uc.services.actions), entry).await;
    Answer::zero()
}

pub(in crate::facades::ucontact) async fn end_session(uc: &Ucontact, form: &Form) -> Answer {
    if uc
        .sessions
        .end(&form.text("user"), &form.text("token"))
        .await
    {
        Answer::one()
    } else {
        Answer::zero()
    }
}
