//! The IVR's named lookup backends over the engine's HTTP client: the [`IvrLookup`] port.
//!
//! - **`http`**: `GET <url><path>?name=value&...` or `POST <url><path>` with a form or JSON
//!   body of the params; the answer (2xx, at most the backend's `max_answer` bytes) is a JSON
//!   object whose scalar members become the fields (`core::ivr::backends::fields_of_answer`).
//! - **`expand_ivrcode`**: eXpand's `IVRCode(UniqueID, callerIdNum, IVRCode, IVRData)` through
//!   [`ExpandWebservices`] (REST form: a JSON POST to `<url>/IVRCode`); the params of those
//!   names are its arguments and its string answer, appended to the `IVRData` param, is the
//!   field `IVRData`.
//!
//! Only the configured host is contacted: the flow names a backend, its params only ever go
//! percent-encoded in the query or in the body. The client speaks plain `http://` (no TLS),
//! so backends are `http://` on the operator's network. The header token is never logged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::core::expand_ws::{ExpandWebservices, IvrCodeClient, WsForm, WsSettings};
use crate::core::ivr::backends::{
    appended_ivr_data, bounded_params, fields_of_answer, BackendKind, BackendSettings, Method,
};
use crate::core::ivr::{BackendName, IvrLookup};
use crate::core::{BoxFuture, PortError, Secret};
use crate::expand_ws::HttpWsBackend;
use crate::http_client::{exchange, post_request, HttpUrl};
use crate::sms_http::form_encode;

/// Room for an answer's status line and headers beyond its body's bound.
const HEAD_ROOM: usize = 16 * 1024;

/// One backend, ready.
enum Backend {
    Http {
        url: HttpUrl,
        method: Method,
        timeout: Duration,
        max_answer: usize,
        header: Option<(String, Secret)>,
    },
    IvrCode(Arc<dyn IvrCodeClient>),
}

/// The named backends.
pub struct HttpIvrLookup {
    backends: BTreeMap<BackendName, Backend>,
}

/// A backend whose settings do not make a usable URL.
#[derive(Debug, thiserror::Error)]
#[error("ivr backend {0}: the URL and path do not make a usable http:// URL")]
pub struct BadBackend(pub BackendName);

impl HttpIvrLookup {
    /// The backends of `settings` (from `[ivr.backends.*]`, validated there).
    pub fn new(settings: &[BackendSettings]) -> Result<Self, BadBackend> {
        let mut backends = BTreeMap::new();
        for s in settings {
            let bad = || BadBackend(s.name.clone());
            let base = HttpUrl::parse(&s.url).ok_or_else(bad)?;
            let backend = match &s.kind {
                BackendKind::Http {
                    method,
                    path,
                    max_answer,
                    header,
                } => Backend::Http {
                    url: base.join(path).ok_or_else(bad)?,
                    method: *method,
                    timeout: s.timeout,
                    max_answer: *max_answer,
                    header: header.clone(),
                },
                BackendKind::ExpandIvrCode => {
                    let ws = HttpWsBackend::new(WsSettings {
                        url: s.url.clone(),
                        form: WsForm::Rest,
                        timeout: s.timeout,
                        namespace: "urn:centralita".into(),
                    });
                    Backend::IvrCode(Arc::new(ExpandWebservices::new(Arc::new(ws), s.timeout)))
                }
            };
            backends.insert(s.name.clone(), backend);
        }
        Ok(Self { backends })
    }

    /// The backends' names.
    pub fn names(&self) -> Vec<&BackendName> {
        self.backends.keys().collect()
    }
}

fn encoded(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(n, v)| format!("{}={}", form_encode(n), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The request of an `http` backend (pure): the URL it goes to and its bytes. Params are
/// bounded and percent-encoded; `None` if the query does not make a URL.
pub fn request_of(
    url: &HttpUrl,
    method: Method,
    header: Option<&(String, Secret)>,
    params: &[(String, String)],
) -> Option<(HttpUrl, Vec<u8>)> {
    let params = bounded_params(params);
    let mut headers = vec![("Accept", "application/json".to_owned())];
    if let Some((name, token)) = header {
        headers.push((name.as_str(), token.expose().to_owned()));
    }
    match method {
        Method::Get => {
            let target = if params.is_empty() {
                url.path().to_owned()
            } else {
                format!("{}?{}", url.path(), encoded(&params))
            };
            let mut head = format!(
                "GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: centralita\r\n",
                host = url.host_header(),
            );
            for (name, value) in &headers {
                if !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
            }
            head.push_str("Connection: close\r\n\r\n");
            Some((url.clone(), head.into_bytes()))
        }
        Method::PostForm | Method::PostJson => {
            let (content_type, body) = if method == Method::PostJson {
                let doc: serde_json::Map<String, serde_json::Value> = params
                    .into_iter()
                    .map(|(n, v)| (n, serde_json::Value::String(v)))
                    .collect();
                ("application/json", serde_json::to_vec(&doc).ok()?)
            } else {
                (
                    "application/x-www-form-urlencoded",
                    encoded(&params).into_bytes(),
                )
            };
            headers.push(("Content-Type", content_type.to_owned()));
            Some((url.clone(), post_request(url, &headers, &body)))
        }
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

impl IvrLookup for HttpIvrLookup {
    fn lookup(
        &self,
        backend: &BackendName,
        params: &[(String, String)],
    ) -> BoxFuture<'_, Result<Vec<(String, String)>, PortError>> {
        let params = params.to_vec();
        let found = self.backends.get(backend);
        Box::pin(async move {
            match found.ok_or("no such backend")? {
                Backend::Http {
                    url,
                    method,
                    timeout,
                    max_answer,
                    header,
                } => {
                    let (url, request) = request_of(url, *method, header.as_ref(), &params)
                        .ok_or("the params do not make a URL")?;
                    let answer = exchange(&url, &request, max_answer + HEAD_ROOM, *timeout).await?;
                    if !(200..300).contains(&answer.status) {
                        return Err(format!("the backend answered {}", answer.status).into());
                    }
                    if answer.body.len() > *max_answer {
                        return Err(format!("the answer is longer than {max_answer} bytes").into());
                    }
                    fields_of_answer(&answer.body)
                        .ok_or_else(|| "the answer is not a JSON object".into())
                }
                Backend::IvrCode(client) => {
                    let params = bounded_params(&params);
                    let current = param(&params, "IVRData");
                    let text = client
                        .ivr_code(
                            param(&params, "UniqueID"),
                            param(&params, "callerIdNum"),
                            param(&params, "IVRCode"),
                            current,
                        )
                        .await
                        .ok_or("IVRCode gave no answer")?;
                    Ok(vec![(
                        "IVRData".to_owned(),
                        appended_ivr_data(current, &text),
                    )])
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_requests_keep_the_path_and_encode_the_query() {
        let url = HttpUrl::parse("http://10.0.0.9:8080")
            .unwrap()
            .join("/")
            .unwrap();
        let (to, req) = request_of(
            &url,
            Method::Get,
            Some(&("X-Api-Key".into(), Secret::new("t"))),
            &[("n".into(), "a b/../?&#\r\nX: y".into())],
        )
        .unwrap();
        assert_eq!(to.socket_host(), ("10.0.0.9", 8080));
        let req = String::from_utf8(req).unwrap();
        assert!(
            req.starts_with(
                "GET /?n=a%20b%2F..%2F%3F%26%23X%3A%20y HTTP/1.1\r\nHost: 10.0.0.9:8080\r\n"
            ),
            "{req}"
        );
        assert!(req.contains("X-Api-Key: t\r\n"));
        assert!(req.ends_with("Connection: close\r\n\r\n"));
    }
}
