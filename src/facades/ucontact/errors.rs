//! The one mapping from core outcomes to uContact's answers: HTTP status, content type and body.
//!
//! - Operations documented as `TEXT` / `1` / `0` answer `0` (HTTP 200) on any refusal, as the
//!   vendor does.
//! - `api/DispositionCall` answers HTTP 400 with the documented message, verbatim.
//! - Missing or wrong credentials: HTTP 401 `Unauthorized`; a user without the supervisor flag on
//!   a supervisor operation: HTTP 403 `Forbidden`; an unknown operation: HTTP 404.
//! - `Agents/AgentCall`, `AgentCallwithData` and `HangupPhone` answer their documented `0` also
//!   when the PBX is not connected or a store fails (logged).
//! - `Dialers/*` answer `0` on any refusal (unknown campaign, a destination already in the
//!   spool, a field out of bounds) and 503 `0` when the store fails.
//! - Elsewhere, the engine not connected to the PBX yet, or a store failing: HTTP 503 `0` (no
//!   internals).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::core::call_commands::CallCommandError;
use crate::core::call_workflow::WorkflowError;
use crate::core::campaigns::{AgentCallError, BlacklistError, DispositionError};
use crate::core::dialer::spool::SpoolError;
use crate::core::originate_service::StartError;

/// An answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

impl Answer {
    /// 200, plain text.
    pub fn text(body: impl Into<String>) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: TEXT,
            body: body.into(),
        }
    }

    /// 200, JSON.
    pub fn json(value: &serde_json::Value) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: JSON,
            body: value.to_string(),
        }
    }

    /// 200 `1`.
    pub fn one() -> Self {
        Self::text("1")
    }

    /// 200 `0`: the documented error answer.
    pub fn zero() -> Self {
        Self::text("0")
    }

    /// 401: no or wrong session token or API key.
    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            content_type: TEXT,
            body: "Unauthorized".into(),
        }
    }

    /// 403: the user may not use this operation.
    pub fn forbidden() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            content_type: TEXT,
            body: "Forbidden".into(),
        }
    }

    /// 404: no such operation or file.
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            content_type: TEXT,
            body: "Not Found".into(),
        }
    }

    /// 503 `0`: the PBX is not connected yet, or a store failed.
    pub fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            content_type: TEXT,
            body: "0".into(),
        }
    }

    /// 400 with a message (DispositionCall).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            content_type: TEXT,
            body: message.into(),
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, self.content_type)],
            self.body,
        )
            .into_response()
    }
}

/// `admin/CallWorkflow`: `0` for refused input or no such call, 503 `0` when the PBX is not
/// connected or cannot be reached.
pub fn call_workflow(e: &WorkflowError, connected: bool) -> Answer {
    match e {
        WorkflowError::Pbx(CallCommandError::Unreachable(_)) => Answer::unavailable(),
        WorkflowError::Pbx(_) if !connected => Answer::unavailable(),
        _ => Answer::zero(),
    }
}

/// AgentCall's failure, whatever it is (a refusal, the outbound policy's or the call checks' —
/// a phone or trunk the PBX does not have —, a store failure): `0`,
/// the only failure answer the vendor documents; a store failure is logged.
pub fn agent_call(e: &AgentCallError) -> Answer {
    match e {
        AgentCallError::Store(_)
        | AgentCallError::Start(StartError::Store(_) | StartError::NotLinked(_)) => {
            tracing::warn!(error = %e, "ucontact: AgentCall failed in the store");
            Answer::zero()
        }
        AgentCallError::UnknownCampaign(_)
        | AgentCallError::Blacklisted(_)
        | AgentCallError::Request(_)
        | AgentCallError::Start(StartError::Refused(_) | StartError::Unplaceable(_)) => {
            Answer::zero()
        }
    }
}

/// DispositionCall's refusal: 400 with the documented message; a store failure: 503.
pub fn disposition(e: &DispositionError) -> Answer {
    match e {
        DispositionError::Store => Answer::unavailable(),
        other => Answer::bad_request(other.to_string()),
    }
}

/// A `Dialers/*` refusal (an unknown campaign, a destination already in the spool, a field out
/// of bounds): the documented `0`; a store failure (or scheduled calls missing): 503 `0`.
pub fn spool(e: &SpoolError) -> Answer {
    match e {
        SpoolError::Store(_) | SpoolError::Unavailable => {
            tracing::warn!(error = %e, "ucontact: dialer operation failed in the store");
            Answer::unavailable()
        }
        SpoolError::UnknownCampaign(_)
        | SpoolError::AlreadySpooled
        | SpoolError::Invalid(_)
        | SpoolError::NotADialerTask
        | SpoolError::NoAlternative
        | SpoolError::NoDate
        | SpoolError::BadRecord(_) => Answer::zero(),
    }
}

/// A blacklist change's refusal: `0`; a store failure: 503.
pub fn blacklist(e: &BlacklistError) -> Answer {
    match e {
        BlacklistError::Invalid => Answer::zero(),
        BlacklistError::Store(_) => Answer::unavailable(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::outbound_policy::Refusal;

    #[test]
    fn an_outbound_policy_refusal_answers_agent_call_0() {
        let refused = AgentCallError::Start(StartError::Refused(Refusal::Premium {
            number: "09001234".into(),
            prefix: "0900".into(),
        }));
        assert_eq!(agent_call(&refused), Answer::zero());
    }
}
