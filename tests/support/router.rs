//! Requests to the engine's own router in process (`Router::oneshot`): a request's status and
//! body, an API key, and a SOAP operation's `return` part.

#![allow(dead_code)]

use axum::body::{to_bytes, Body};
use axum::http::Request;
use axum::Router;
use centralita::core::directory::CredentialApi;
use centralita::facades::Services;
use tower::ServiceExt;

/// The status and body of `req`.
pub async fn post(router: &Router, req: Request<Body>) -> (u16, String) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// A new API key of `system` for `api`.
pub fn key(services: &Services, system: &str, api: CredentialApi) -> String {
    services
        .directory
        .store()
        .create_credential(system, api)
        .unwrap()
        .key
        .expose()
        .to_owned()
}

/// The SOAP `return` of `op` at `path` (namespace `ns`), its parts escaped as text.
pub async fn soap(
    router: &Router,
    path: &str,
    ns: &str,
    op: &str,
    parts: &[(&str, &str)],
) -> String {
    let body: String = parts
        .iter()
        .map(|(n, v)| {
            format!(
                "<{n} xsi:type=\"xsd:string\">{}</{n}>",
                centralita::facades::soap::escape(v)
            )
        })
        .collect();
    let envelope = format!(
        "<?xml version=\"1.0\"?><SOAP-ENV:Envelope \
         xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><SOAP-ENV:Body>\
         <ns1:{op} xmlns:ns1=\"{ns}\">{body}</ns1:{op}></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    );
    let (status, text) = post(
        router,
        Request::post(path).body(Body::from(envelope)).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{op}: {text}");
    let answer = centralita::facades::soap::parse_request(text.as_bytes()).unwrap();
    answer.params[0].1.clone().unwrap_or_default()
}
