//! What the SOAP facades share: the envelope codec ([`envelope`]), the one rule reading an
//! rpc call's parts by name or position ([`parts`]), WSDL serving and the HTTP handling of one
//! rpc endpoint ([`routes`]).
//!
//! An endpoint answers:
//! - `GET <path>?wsdl` (also `? wsdl`, `?WSDL`, `?wsdl=`): the WSDL, its `soap:address` set to
//!   the scheme (`X-Forwarded-Proto`), host and path the request came to;
//! - `POST <path>`: an rpc call, decoded and handed to the facade's [`SoapService`]; the answer
//!   is the single `return` part. Malformed envelopes and unknown operations get a Fault with
//!   HTTP 500, as PHP SoapServer does; nothing else does.
//!
//! Bodies larger than the HTTP limit are refused with 413 before they are read. An operation
//! that panics is answered with a `SOAP-ENV:Server` Fault ("Internal error") and logged.

pub mod envelope;
pub mod parts;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, request::Parts as RequestParts, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::facades::client_addr::{self, Network};

pub use envelope::{escape, fault, parse_request, response, FaultCode, SoapCall, SoapValue};
pub use parts::Parts;

/// The placeholder for the endpoint's URL in a WSDL file (the `location` of `soap:address`).
pub const ADDRESS_PLACEHOLDER: &str = "__ENDPOINT_URL__";

/// Where a request came from, for the facades that restrict operations to client networks and
/// throttle failed logins per address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// The TCP peer's address (`None` when the server was not started with connection info, as
    /// in `Router::oneshot` tests).
    pub peer: Option<IpAddr>,
    /// The client's address ([`client_addr::client_ip`]: the peer, or behind a trusted proxy
    /// the address it forwarded for).
    pub client: Option<IpAddr>,
}

impl RequestContext {
    fn from_parts(parts: &RequestParts, trusted: &[Network]) -> Self {
        Self {
            peer: client_addr::peer_of(parts),
            client: client_addr::client_of(parts, trusted),
        }
    }
}

/// Why an operation produced no answer: becomes a Fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SoapError {
    /// No such operation (`SOAP-ENV:Server`, "Procedure 'x' not present", as PHP says).
    UnknownOperation(String),
    /// The request is unusable in a way the vendor answers with a Fault (`SOAP-ENV:Client`).
    Client(String),
    /// The engine failed in a way the vendor has no code for; the text is shown to the client,
    /// so it must not carry internals.
    Server(String),
}

/// A facade's rpc operations.
pub trait SoapService: Send + Sync + 'static {
    /// The namespace of the response elements (the WSDL's `soap:body namespace`).
    fn namespace(&self) -> &str;

    /// The WSDL, with [`ADDRESS_PLACEHOLDER`] where the endpoint's URL goes.
    fn wsdl(&self) -> &str;

    /// The reverse proxies whose `X-Forwarded-For` names the client (`[http] trusted_proxies`).
    fn trusted_proxies(&self) -> &[Network] {
        &[]
    }

    /// Answers one call.
    fn call(
        &self,
        call: SoapCall,
        ctx: RequestContext,
    ) -> impl Future<Output = Result<SoapValue, SoapError>> + Send;
}

/// The router of one SOAP endpoint at `path`. A panicking operation is answered with a
/// `SOAP-ENV:Server` Fault (HTTP 500) that says nothing of it, and logged.
pub fn routes<S: SoapService>(path: &str, service: Arc<S>) -> Router {
    Router::new()
        .route(path, get(get_endpoint::<S>).post(post_endpoint::<S>))
        .with_state(service)
        .layer(CatchPanicLayer::custom(panic_fault))
}

/// The answer to a panicking operation.
fn panic_fault(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    crate::http::limits::log_panic(&*panic, "soap");
    xml(
        StatusCode::INTERNAL_SERVER_ERROR,
        fault(FaultCode::Server, "Internal error"),
    )
}

/// Whether the query asks for the WSDL (`wsdl`, ` wsdl`, `%20wsdl`, `WSDL`, `wsdl=...`).
pub fn wants_wsdl(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        let q = q.replace("%20", " ").replace('+', " ");
        q.split('&').any(|item| {
            let key = item.split('=').next().unwrap_or("");
            key.trim().eq_ignore_ascii_case("wsdl")
        })
    })
}

/// The URL a client reached `path` at ([`crate::http::base_url`] and `path`).
pub fn endpoint_url(headers: &HeaderMap, path: &str) -> String {
    format!("{}{path}", crate::http::base_url(headers))
}

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn get_endpoint<S: SoapService>(
    State(service): State<Arc<S>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if wants_wsdl(&uri) {
        let url = endpoint_url(&headers, uri.path());
        let body = service.wsdl().replace(ADDRESS_PLACEHOLDER, &escape(&url));
        return xml(StatusCode::OK, body);
    }
    // PHP SoapServer answers a plain GET with a Fault.
    xml(
        StatusCode::INTERNAL_SERVER_ERROR,
        fault(
            FaultCode::Client,
            "Bad Request. Can't find HTTP_RAW_POST_DATA",
        ),
    )
}

async fn post_endpoint<S: SoapService>(
    State(service): State<Arc<S>>,
    parts: RequestParts,
    body: Bytes,
) -> Response {
    let call = match parse_request(&body) {
        Ok(call) => call,
        Err(e) => {
            return xml(
                StatusCode::INTERNAL_SERVER_ERROR,
                fault(FaultCode::Client, &e.to_string()),
            )
        }
    };
    let operation = call.operation.clone();
    let ctx = RequestContext::from_parts(&parts, service.trusted_proxies());
    match service.call(call, ctx).await {
        Ok(value) => xml(
            StatusCode::OK,
            response(service.namespace(), &operation, &value),
        ),
        Err(SoapError::UnknownOperation(op)) => xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            fault(
                FaultCode::Server,
                &format!("Procedure '{}' not present", op),
            ),
        ),
        Err(SoapError::Client(msg)) => xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            fault(FaultCode::Client, &msg),
        ),
        Err(SoapError::Server(msg)) => xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            fault(FaultCode::Server, &msg),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::extract::DefaultBodyLimit;
    use axum::http::Request;
    use tower::ServiceExt;

    struct Echo;
    impl SoapService for Echo {
        fn namespace(&self) -> &str {
            "urn:echo"
        }
        fn wsdl(&self) -> &str {
            "<definitions><soap:address location=\"__ENDPOINT_URL__\"/></definitions>"
        }
        async fn call(&self, call: SoapCall, _ctx: RequestContext) -> Result<SoapValue, SoapError> {
            match call.operation.as_str() {
                "echo" => {
                    let text = Parts::new(&call, &[("echo", &["text"])], &[]).get("text");
                    Ok(SoapValue::Str(text.unwrap_or("").to_owned()))
                }
                op => Err(SoapError::UnknownOperation(op.to_owned())),
            }
        }
    }

    fn app() -> Router {
        routes("/ws/echo.php", Arc::new(Echo)).layer(DefaultBodyLimit::max(1024))
    }

    async fn send(req: Request<Body>) -> (StatusCode, String) {
        let resp = app().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn serves_the_wsdl_at_the_requested_host_with_any_spelling_of_the_query() {
        for q in ["wsdl", "%20wsdl", "WSDL", "wsdl=1", "x=1&wsdl"] {
            let (status, body) = send(
                Request::get(format!("/ws/echo.php?{q}"))
                    .header("Host", "pbx.example:8080")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{q}");
            assert!(
                body.contains("location=\"http://pbx.example:8080/ws/echo.php\""),
                "{body}"
            );
        }
        let (_, body) = send(
            Request::get("/ws/echo.php?wsdl")
                .header("Host", "evil\"><x")
                .header("X-Forwarded-Proto", "https")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert!(
            body.contains("location=\"https://localhost/ws/echo.php\""),
            "{body}"
        );
        let (status, body) = send(Request::get("/ws/echo.php").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("<faultcode>SOAP-ENV:Client</faultcode>"));
    }

    #[tokio::test]
    async fn answers_calls_faults_and_refuses_oversized_bodies() {
        let env = |op: &str| {
            format!("<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\"><e:Body><m:{op} xmlns:m=\"urn:echo\"><text>hola</text></m:{op}></e:Body></e:Envelope>")
        };
        let (status, body) = send(
            Request::post("/ws/echo.php")
                .body(Body::from(env("echo")))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("<ns1:echoResponse><return xsi:type=\"xsd:string\">hola</return>"),
            "{body}"
        );

        let (status, body) = send(
            Request::post("/ws/echo.php")
                .body(Body::from(env("nope")))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("Procedure 'nope' not present"), "{body}");

        let (status, body) = send(
            Request::post("/ws/echo.php")
                .body(Body::from("<<<"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            body.contains("<faultcode>SOAP-ENV:Client</faultcode>"),
            "{body}"
        );

        let (status, _) = send(
            Request::post("/ws/echo.php")
                .body(Body::from(vec![b' '; 4096]))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
