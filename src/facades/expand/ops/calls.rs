//! Calls: `originateCall`, `originateCallStatus`, `originateCallCancel` (originate jobs of the core).

use super::super::*;

impl ExpandService {
    pub(in crate::facades::expand) async fn originate_call(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        let actor = self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let pbx = self.services.pbx().ok_or(Failure::Unknown)?;
        let live = self.live()?;
        let request = originate_request(call, |src| {
            live.endpoints
                .get(src)
                .is_some_and(|e| e.kind == EndpointKind::Extension)
        })?;
        let id = pbx
            .originate
            .start_job(&actor, request)
            .await
            .map_err(|e| errors::originate_failure(&e))?;
        Ok(SoapValue::Str(id.to_string()))
    }

    pub(in crate::facades::expand) async fn originate_status(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let id = OriginateId::parse(arg(call, 1, "originatedID").unwrap_or(""))
            .map_err(|_| Failure::Refused)?;
        let pbx = self.services.pbx().ok_or(Failure::Unknown)?;
        let job = pbx
            .originate
            .status(&id)
            .await
            .map_err(|_| Failure::Refused)?;
        Ok(SoapValue::Int(match job.state {
            JobState::Ringing => 1,
            JobState::Answered => 2,
            JobState::HungUp | JobState::Cancelled => 3,
            JobState::Busy => 4,
            JobState::NoAnswer => 5,
            JobState::Unavailable => 6,
            JobState::SourceOffHook => 7,
        }))
    }

    pub(in crate::facades::expand) async fn originate_cancel(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        let actor = self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let id = OriginateId::parse(arg(call, 1, "originatedID").unwrap_or(""))
            .map_err(|_| Failure::Refused)?;
        let pbx = self.services.pbx().ok_or(Failure::Unknown)?;
        match pbx.originate.cancel(&actor, &id).await {
            Ok(_) => Ok(SoapValue::Int(1)),
            // Marked cancelled, but a hangup failed: the channel is gone or going.
            Err(CancelError::Control(_)) => Ok(SoapValue::Int(1)),
            Err(_) => Err(Failure::Refused),
        }
    }
}

/// The request an `originateCall` asks for. `src` is "an extension or a number": a phone of
/// the PBX (`is_phone`) rings first, any other number is called first (the core decides, see
/// [`OriginateRequest::click_to_call_from`]); `callinfo` (or `info`) is a `k=v` list or a bare
/// value, stored as given.
pub(in crate::facades::expand) fn originate_request(
    call: &SoapCall,
    is_phone: impl Fn(&str) -> bool,
) -> Result<OriginateRequest, Failure> {
    let dst =
        PhoneNumber::parse(arg(call, 3, "dst").unwrap_or("")).map_err(|_| Failure::BadParams)?;
    let caller = |i, n| {
        arg(call, i, n)
            .map(|name| CallerId::new(Some(name), None))
            .transpose()
            .map_err(|_| Failure::BadParams)
    };
    let src_cid = caller(2, "srcCallerID")?;
    let dst_cid = caller(4, "dstCallerID")?;
    let data =
        CallData::parse(arg(call, 6, "callinfo").unwrap_or("")).map_err(|_| Failure::BadParams)?;
    let mut request =
        OriginateRequest::click_to_call_from(arg(call, 1, "src").unwrap_or(""), dst, is_phone)
            .map_err(|_| Failure::BadParams)?
            .with_caller_ids(src_cid, dst_cid)
            .with_call_data(data);
    if let Some(t) = arg(call, 5, "timeout") {
        let secs: u64 = t.parse().map_err(|_| Failure::BadParams)?;
        request = request
            .with_ring_timeout(Duration::from_secs(secs))
            .map_err(|_| Failure::BadParams)?;
    }
    Ok(request)
}
