//! The customer's backend for eXpand's external webservices: the [`WsBackend`] port over the
//! engine's HTTP client, in either form the integration guide allows.
//!
//! - **REST**: `POST <url>/<operation>` with `Content-Type: application/json` and a JSON
//!   object of the arguments by their seed names (`{"callerIdNum": "099123456"}`); the answer
//!   (2xx) is a JSON string, boolean or number, an object with `result` (or `return`), or plain
//!   text.
//! - **SOAP**: `POST <url>` with `SOAPAction: "<namespace>#<operation>"` and an rpc envelope
//!   (`<ns1:getCallerIDName><callerIdNum>...`); the answer's first part
//!   (`<ns1:getCallerIDNameResponse><return>...`) is the value; a Fault is a failure.
//!
//! Answers are read up to [`MAX_ANSWER`] bytes; the limit in time is the caller's.

use crate::core::expand_ws::{WsBackend, WsCall, WsForm, WsSettings};
use crate::core::{BoxFuture, PortError};
use crate::facades::soap::envelope;
use crate::http_client::{exchange, post_request, HttpUrl};

/// The most of an answer read.
pub const MAX_ANSWER: usize = 64 * 1024;

/// The backend over HTTP.
#[derive(Clone, Debug)]
pub struct HttpWsBackend {
    settings: WsSettings,
}

impl HttpWsBackend {
    /// A backend with these settings (validated by the configuration).
    pub fn new(settings: WsSettings) -> Self {
        Self { settings }
    }
}

/// The request of `call` (pure): its URL and bytes.
pub fn request_of(settings: &WsSettings, call: &WsCall) -> Result<(HttpUrl, Vec<u8>), PortError> {
    let base = HttpUrl::parse(&settings.url).ok_or("the webservices URL is not usable")?;
    match settings.form {
        WsForm::Rest => {
            let url = base
                .join(&format!("/{}", call.operation))
                .ok_or("the webservices URL is not usable")?;
            let mut doc = serde_json::Map::new();
            for (name, value) in &call.args {
                doc.insert((*name).to_owned(), serde_json::Value::String(value.clone()));
            }
            let body = serde_json::to_vec(&doc)?;
            let headers = [
                ("Content-Type", "application/json".to_owned()),
                ("Accept", "application/json, text/plain".to_owned()),
            ];
            let req = post_request(&url, &headers, &body);
            Ok((url, req))
        }
        WsForm::Soap => {
            let parts: Vec<(&str, &str)> =
                call.args.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let body = envelope::request(&settings.namespace, call.operation, &parts);
            let headers = [
                ("Content-Type", "text/xml; charset=utf-8".to_owned()),
                (
                    "SOAPAction",
                    format!("\"{}#{}\"", settings.namespace, call.operation),
                ),
            ];
            let req = post_request(&base, &headers, body.as_bytes());
            Ok((base, req))
        }
    }
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Null => Some(String::new()),
        serde_json::Value::Object(o) => ["result", "return", "name", "value"]
            .iter()
            .find_map(|k| o.get(*k))
            .and_then(scalar),
        serde_json::Value::Array(_) => None,
    }
}

/// The value of an answer's body (pure).
pub fn answer_value(form: WsForm, body: &[u8]) -> Result<String, PortError> {
    match form {
        WsForm::Rest => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => scalar(&v).ok_or_else(|| "the answer's JSON holds no value".into()),
            Err(_) => Ok(String::from_utf8_lossy(body).trim().to_owned()),
        },
        WsForm::Soap => {
            let call = envelope::parse_request(body)
                .map_err(|_| PortError::from("the answer is not a SOAP envelope"))?;
            if call.operation == "Fault" {
                return Err("the backend answered a SOAP Fault".into());
            }
            Ok(call
                .params
                .into_iter()
                .next()
                .and_then(|(_, v)| v)
                .unwrap_or_default())
        }
    }
}

impl WsBackend for HttpWsBackend {
    fn call(&self, call: WsCall) -> BoxFuture<'_, Result<String, PortError>> {
        Box::pin(async move {
            let (url, request) = request_of(&self.settings, &call)?;
            let answer = exchange(&url, &request, MAX_ANSWER, self.settings.timeout).await?;
            if !(200..300).contains(&answer.status) {
                return Err(format!("the backend answered {}", answer.status).into());
            }
            answer_value(self.settings.form, &answer.body)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_both_forms() {
        assert_eq!(answer_value(WsForm::Rest, b"\"Ana\"").unwrap(), "Ana");
        assert_eq!(answer_value(WsForm::Rest, b"Ana L\n").unwrap(), "Ana L");
        assert_eq!(
            answer_value(WsForm::Rest, br#"{"result": true}"#).unwrap(),
            "true"
        );
        assert!(answer_value(WsForm::Rest, b"[1]").is_err());
        let soap = envelope::response(
            "urn:x",
            "getCallerIDName",
            &envelope::SoapValue::Str("Ana & Co".into()),
        );
        assert_eq!(
            answer_value(WsForm::Soap, soap.as_bytes()).unwrap(),
            "Ana & Co"
        );
        let fault = envelope::fault(envelope::FaultCode::Server, "no");
        assert!(answer_value(WsForm::Soap, fault.as_bytes()).is_err());
    }
}
