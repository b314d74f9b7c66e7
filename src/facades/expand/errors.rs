//! The one mapping from what went wrong to eXpand's answer codes, per operation.
//!
//! Handlers name the failure ([`Failure`]); [`answer`] turns it into the code the vendor
//! documents for that operation (or, where it documents none, the closest one, as
//! `docs/expand.md` lists).

use crate::core::agents::AgentError;
use crate::core::originate_service::StartError;
use crate::core::sms::SmsError;
use crate::facades::soap::SoapValue;

use super::wire;

/// What went wrong, in the facade's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The key is missing, wrong, revoked or for another API; or the caller's network may not
    /// use a keyless operation.
    BadKey,
    /// A parameter is missing or malformed.
    BadParams,
    /// The engine failed (store, PBX not connected).
    Unknown,
    /// The start date is not `YYYY-MM-DD HH:MM:SS`.
    BadStart,
    /// The end date is not `YYYY-MM-DD HH:MM:SS`.
    BadEnd,
    /// The end is not after the start, or the range is longer than allowed.
    BadRange,
    /// The range starts after now.
    FutureRange,
    /// No such queue.
    UnknownQueue,
    /// No such agent or user.
    UnknownAgent,
    /// Nothing matched.
    NoRecords,
    /// No extension was given (`getAgentLogin`).
    NoExtensions,
    /// An extension is malformed or unknown (`getAgentLogin`).
    BadExtension,
    /// Too many messages per second (`sendSms`).
    RateLimited,
    /// Not found / not done (the operations whose only failure answer is 0 or FALSE).
    Refused,
}

/// The operations, for [`answer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// originateCall (string: id or code).
    OriginateCall,
    /// originateCallStatus, originateCallCancel (int).
    OriginateInt,
    /// extensionPbx, cdrData, cdrCustom, statusQueues, queueData, agentData (string: XML or
    /// the getAgentTimes-style codes).
    Report,
    /// recordingPbx (an XML status document).
    Recording,
    /// loginAgent, logoutAgent, pauseAgent, unpauseAgent (boolean).
    AgentCommand,
    /// getAgentLoggedInfo.
    AgentLoggedInfo,
    /// getUserByAgent, getUserInfo.
    UserLookup,
    /// getAgentTimes.
    AgentTimes,
    /// agentSessionDetail.
    SessionDetail,
    /// getAgentLogin.
    AgentLogin,
    /// sendSms (int).
    SendSms,
    /// statusSms (string).
    StatusSms,
}

fn s(code: i64) -> SoapValue {
    SoapValue::Str(code.to_string())
}

/// The answer for `failure` in `op`.
pub fn answer(op: Op, failure: Failure) -> SoapValue {
    use Failure as F;
    match op {
        Op::OriginateCall => s(match failure {
            F::BadKey => -1,
            _ => 0,
        }),
        Op::OriginateInt => SoapValue::Int(match failure {
            F::BadKey => -1,
            _ => 0,
        }),
        Op::Recording => SoapValue::Str(wire::recording_xml(-1, "", None)),
        Op::AgentCommand => SoapValue::Bool(false),
        Op::AgentLoggedInfo => s(match failure {
            F::BadKey => -1,
            F::BadParams => -2,
            F::Refused | F::UnknownAgent | F::NoRecords => 0,
            _ => -3,
        }),
        Op::UserLookup => match failure {
            F::BadKey => s(-1),
            F::BadParams => s(-2),
            F::UnknownAgent | F::Refused | F::NoRecords => SoapValue::Str(String::new()),
            _ => s(-3),
        },
        Op::AgentTimes | Op::Report => s(match failure {
            F::BadKey => -1,
            F::BadParams | F::NoExtensions | F::BadExtension | F::RateLimited | F::Refused => -2,
            F::Unknown => -3,
            F::BadStart => -4,
            F::BadEnd => -5,
            F::UnknownQueue => -6,
            F::UnknownAgent => -7,
            F::BadRange => -8,
            F::FutureRange => -9,
            F::NoRecords => -10,
        }),
        Op::SessionDetail => s(match failure {
            F::BadKey => -1,
            F::BadStart => -3,
            F::BadEnd | F::BadRange | F::FutureRange => -4,
            F::UnknownQueue => -5,
            F::UnknownAgent => -6,
            _ => -2,
        }),
        Op::AgentLogin => s(match failure {
            F::BadKey => -1,
            F::BadParams => -2,
            F::NoExtensions => -4,
            F::BadExtension => -5,
            _ => -3,
        }),
        Op::SendSms => SoapValue::Int(match failure {
            F::BadKey => -1,
            F::RateLimited => -2,
            _ => 0,
        }),
        Op::StatusSms => match failure {
            F::BadKey => s(-1),
            _ => SoapValue::Str(String::new()),
        },
    }
}

/// An agent command's failure.
pub fn agent_failure(e: &AgentError) -> Failure {
    match e {
        AgentError::UnknownAgent(_) => Failure::UnknownAgent,
        AgentError::Directory(_) | AgentError::Pbx(_) => Failure::Unknown,
        _ => Failure::Refused,
    }
}

/// An originate's failure: a refusal of the outbound policy or of the call checks (a source
/// phone or trunk the PBX does not have) is `Refused` (originateCall answers `0`, the only
/// failure code the vendor documents besides `-1`), a store failure `Unknown`.
pub fn originate_failure(e: &StartError) -> Failure {
    match e {
        StartError::Refused(_) | StartError::Unplaceable(_) => Failure::Refused,
        StartError::Store(_) | StartError::NotLinked(_) => Failure::Unknown,
    }
}

/// A send's failure.
pub fn sms_failure(e: &SmsError) -> Failure {
    match e {
        SmsError::RateLimited => Failure::RateLimited,
        SmsError::Invalid(_) => Failure::BadParams,
        SmsError::Unavailable | SmsError::Store(_) => Failure::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbound_policy_refusal_answers_originate_call_0() {
        use crate::core::outbound_policy::Refusal;
        let refused = StartError::Refused(Refusal::Rate { limit: 1 });
        assert_eq!(originate_failure(&refused), Failure::Refused);
        assert_eq!(
            answer(Op::OriginateCall, originate_failure(&refused)),
            SoapValue::Str("0".into())
        );
    }

    #[test]
    fn codes_per_operation() {
        assert_eq!(
            answer(Op::AgentTimes, Failure::NoRecords),
            SoapValue::Str("-10".into())
        );
        assert_eq!(
            answer(Op::AgentTimes, Failure::FutureRange),
            SoapValue::Str("-9".into())
        );
        assert_eq!(
            answer(Op::SessionDetail, Failure::UnknownAgent),
            SoapValue::Str("-6".into())
        );
        assert_eq!(
            answer(Op::SessionDetail, Failure::BadStart),
            SoapValue::Str("-3".into())
        );
        assert_eq!(
            answer(Op::AgentLogin, Failure::BadExtension),
            SoapValue::Str("-5".into())
        );
        assert_eq!(
            answer(Op::SendSms, Failure::RateLimited),
            SoapValue::Int(-2)
        );
        assert_eq!(answer(Op::SendSms, Failure::BadParams), SoapValue::Int(0));
        assert_eq!(
            answer(Op::OriginateInt, Failure::BadKey),
            SoapValue::Int(-1)
        );
        assert_eq!(
            answer(Op::AgentCommand, Failure::BadKey),
            SoapValue::Bool(false)
        );
        assert_eq!(
            answer(Op::UserLookup, Failure::UnknownAgent),
            SoapValue::Str(String::new())
        );
        assert_eq!(
            answer(Op::StatusSms, Failure::Refused),
            SoapValue::Str(String::new())
        );
        match answer(Op::Recording, Failure::BadKey) {
            SoapValue::Str(x) => assert!(x.contains("status=\"-1\""), "{x}"),
            other => panic!("{other:?}"),
        }
    }
}
