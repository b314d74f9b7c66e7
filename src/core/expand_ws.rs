//! eXpand's external webservices: the engine calling the customer's backend (CRM, ERP) during a
//! call, as eXpand's integration guide suggests them:
//!
//! - `string getCallerIDName(callerIdNum)` before an inbound call is queued: the name shown on
//!   the agent's phone and kept in the CDR;
//! - `string IVRCode(UniqueID, callerIdNum, IVRCode, IVRData)` from an IVR node: the text to
//!   append to the call's IVRData ([`IvrCodeClient`]);
//! - `bool pushAgentInfo(uniqueid, queuename, callerid, agentchan, ivrdata)` when an agent
//!   answers a queue call (fire and forget).
//!
//! The rules here: every call is bounded by the site's limit (a slow or dead backend gives no
//! data, never a held call), answers are cleaned before they reach the dialplan, a failure is
//! logged without the answer's text. The wire (REST or SOAP) is the [`WsBackend`] adapter's.

use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, warn};

use super::{BoxFuture, PortError};

/// The longest limit a site may set.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(10);

/// The limit when the site sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1500);

/// The most characters of a caller name kept.
pub const MAX_NAME_CHARS: usize = 40;

/// The most bytes of a caller name kept (so its base64 fits a FastAGI answer).
pub const MAX_NAME_BYTES: usize = 90;

/// The most characters of an IVRCode answer kept.
pub const MAX_IVR_DATA_CHARS: usize = 256;

/// The longest argument sent (a caller id, IVRData).
pub const MAX_ARG_CHARS: usize = 1024;

/// REST (JSON) or SOAP 1.1, as the seed allows either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsForm {
    /// `POST <url>/<operation>` with a JSON object of the arguments.
    Rest,
    /// `POST <url>` with a SOAP rpc envelope.
    Soap,
}

/// The client's settings (from `[expand_webservices]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsSettings {
    /// The backend's base URL.
    pub url: String,
    /// The form.
    pub form: WsForm,
    /// Each call's limit.
    pub timeout: Duration,
    /// The SOAP namespace.
    pub namespace: String,
}

/// One call: the operation and its arguments by name, in the seed's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsCall {
    /// `getCallerIDName`, `IVRCode` or `pushAgentInfo`.
    pub operation: &'static str,
    /// The arguments.
    pub args: Vec<(&'static str, String)>,
}

/// The port: one call to the backend, answering its returned value as text.
pub trait WsBackend: Send + Sync {
    /// Calls and returns the answer's value (already bounded by the adapter).
    fn call(&self, call: WsCall) -> BoxFuture<'_, Result<String, PortError>>;
}

/// What an IVR node asks: the text to append to IVRData, `None` when the backend gave none in
/// time.
pub trait IvrCodeClient: Send + Sync {
    /// `IVRCode(UniqueID, callerIdNum, IVRCode, IVRData)`.
    fn ivr_code<'a>(
        &'a self,
        unique_id: &'a str,
        caller_id_num: &'a str,
        ivr_code: &'a str,
        ivr_data: &'a str,
    ) -> BoxFuture<'a, Option<String>>;
}

/// A caller name fit for `CALLERID(name)`: letters (any script), digits, spaces, `.`, `-`,
/// `_`; runs of spaces joined, at most [`MAX_NAME_CHARS`] characters and [`MAX_NAME_BYTES`]
/// bytes; `None` when nothing is left.
pub fn clean_caller_name(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = 0;
    let mut space = false;
    for c in raw.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        let keep = c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_');
        if !keep {
            continue;
        }
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        let extra = usize::from(space) + c.len_utf8();
        if chars + usize::from(space) + 1 > MAX_NAME_CHARS || out.len() + extra > MAX_NAME_BYTES {
            break;
        }
        if space {
            out.push(' ');
            chars += 1;
            space = false;
        }
        out.push(c);
        chars += 1;
    }
    (!out.is_empty()).then_some(out)
}

/// IVRData text: control characters dropped, at most [`MAX_IVR_DATA_CHARS`].
pub fn clean_ivr_data(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .take(MAX_IVR_DATA_CHARS)
        .collect()
}

fn bounded(arg: &str) -> String {
    arg.chars()
        .filter(|c| !c.is_control())
        .take(MAX_ARG_CHARS)
        .collect()
}

/// The three webservices of a site.
#[derive(Clone)]
pub struct ExpandWebservices {
    backend: Arc<dyn WsBackend>,
    timeout: Duration,
}

impl ExpandWebservices {
    /// Calls `backend`, each call within `timeout` (at most [`MAX_TIMEOUT`]).
    pub fn new(backend: Arc<dyn WsBackend>, timeout: Duration) -> Self {
        Self {
            backend,
            timeout: timeout.min(MAX_TIMEOUT),
        }
    }

    /// Each call's limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn call(&self, call: WsCall) -> Option<String> {
        let operation = call.operation;
        match tokio::time::timeout(self.timeout, self.backend.call(call)).await {
            Ok(Ok(answer)) => Some(answer),
            Ok(Err(e)) => {
                warn!(operation, error = %e, "customer webservice failed: the call goes on without its data");
                None
            }
            Err(_) => {
                warn!(
                    operation,
                    limit_ms = self.timeout.as_millis() as u64,
                    "customer webservice too slow: the call goes on without its data"
                );
                None
            }
        }
    }

    /// `getCallerIDName(callerIdNum)`: the cleaned name, `None` for none, a failure or a
    /// backend past the limit.
    pub async fn caller_id_name(&self, caller_id_num: &str) -> Option<String> {
        let answer = self
            .call(WsCall {
                operation: "getCallerIDName",
                args: vec![("callerIdNum", bounded(caller_id_num))],
            })
            .await?;
        clean_caller_name(&answer)
    }

    /// `IVRCode(UniqueID, callerIdNum, IVRCode, IVRData)`: the text to append to IVRData.
    pub async fn ivr_code_text(
        &self,
        unique_id: &str,
        caller_id_num: &str,
        ivr_code: &str,
        ivr_data: &str,
    ) -> Option<String> {
        let answer = self
            .call(WsCall {
                operation: "IVRCode",
                args: vec![
                    ("UniqueID", bounded(unique_id)),
                    ("callerIdNum", bounded(caller_id_num)),
                    ("IVRCode", bounded(ivr_code)),
                    ("IVRData", bounded(ivr_data)),
                ],
            })
            .await?;
        Some(clean_ivr_data(&answer))
    }

    /// `pushAgentInfo(uniqueid, queuename, callerid, agentchan, ivrdata)`: whether the backend
    /// answered `true` in time.
    pub async fn push_agent_info(
        &self,
        unique_id: &str,
        queue_name: &str,
        caller_id: &str,
        agent_chan: &str,
        ivr_data: &str,
    ) -> bool {
        let answer = self
            .call(WsCall {
                operation: "pushAgentInfo",
                args: vec![
                    ("uniqueid", bounded(unique_id)),
                    ("queuename", bounded(queue_name)),
                    ("callerid", bounded(caller_id)),
                    ("agentchan", bounded(agent_chan)),
                    ("ivrdata", bounded(ivr_data)),
                ],
            })
            .await;
        let ok = answer.is_some_and(|a| matches!(a.trim(), "true" | "1" | "TRUE" | "True"));
        debug!(uniqueid = unique_id, ok, "pushAgentInfo");
        ok
    }

    /// Starts `pushAgentInfo` on its own task (never holding the caller back).
    pub fn push_agent_info_detached(
        &self,
        unique_id: String,
        queue_name: String,
        caller_id: String,
        agent_chan: String,
        ivr_data: String,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
            this.push_agent_info(&unique_id, &queue_name, &caller_id, &agent_chan, &ivr_data)
                .await;
        });
    }
}

impl IvrCodeClient for ExpandWebservices {
    fn ivr_code<'a>(
        &'a self,
        unique_id: &'a str,
        caller_id_num: &'a str,
        ivr_code: &'a str,
        ivr_data: &'a str,
    ) -> BoxFuture<'a, Option<String>> {
        Box::pin(self.ivr_code_text(unique_id, caller_id_num, ivr_code, ivr_data))
    }
}

/// `Nombre <Número>`, the `callerid` pushAgentInfo carries.
pub fn caller_id_text(name: &str, number: &str) -> String {
    if name.is_empty() || name == number {
        format!("<{number}>")
    } else {
        format!("{name} <{number}>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_names_are_cleaned_and_bounded() {
        let check = |raw: &str, want: Option<&str>| {
            assert_eq!(clean_caller_name(raw).as_deref(), want, "{raw:?}");
        };
        check("José  Pérez", Some("José Pérez"));
        check("  Ana\t\nLópez ", Some("Ana López"));
        check("${SHELL(rm -rf /)}", Some("SHELLrm -rf"));
        check("a,b;c\"d'e|f&g", Some("abcdefg"));
        check("\"\"<>", None);
        check("", None);
        let long = clean_caller_name(&"ñ".repeat(100)).unwrap();
        assert!(long.chars().count() <= MAX_NAME_CHARS && long.len() <= MAX_NAME_BYTES);
        assert_eq!(caller_id_text("Ana", "099"), "Ana <099>");
        assert_eq!(caller_id_text("", "099"), "<099>");
    }
}
