//! SMS: `sendSMS`, `statusSMS` (the core's SMS service through Asterisk or an HTTP provider).

use super::super::*;

impl ExpandService {
    pub(in crate::facades::expand) async fn send_sms(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        let actor = self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let draft = match arg(call, 1, "msgId").unwrap_or("0") {
            "0" => None,
            other => Some(SmsId::parse(other).ok_or(Failure::BadParams)?),
        };
        let id = self
            .sms
            .send(
                &actor,
                draft,
                arg(call, 2, "msgData"),
                arg(call, 3, "msgRecip").unwrap_or(""),
                self.sms_gateway(),
            )
            .await
            .map_err(|e| errors::sms_failure(&e))?;
        Ok(SoapValue::Int(id.get()))
    }

    /// The configured way out (`[sms]`): the HTTP gateway, else the PBX (once connected), else
    /// none.
    pub(in crate::facades::expand) fn sms_gateway(&self) -> Option<Arc<dyn SmsGateway>> {
        self.services
            .sms_route
            .gateway(self.services.pbx().map(|p| &p.commands))
    }

    pub(in crate::facades::expand) async fn status_sms(
        &self,
        call: &SoapCall,
        ctx: &RequestContext,
    ) -> Outcome {
        self.auth(arg(call, 0, "authorizedKey"), ctx).await?;
        let id = arg(call, 1, "idSMS")
            .and_then(SmsId::parse)
            .ok_or(Failure::Refused)?;
        let job = self.sms.job(id).await.map_err(|_| Failure::Unknown)?;
        Ok(SoapValue::Str(
            job.map(|j| j.status.as_str().to_owned())
                .unwrap_or_default(),
        ))
    }
}
