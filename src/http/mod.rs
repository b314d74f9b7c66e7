//! The HTTP server: router assembly, limits, request tracing and health. Facades plug their
//! routers in here; no business rule lives in this module.
//!
//! - [`router`]: the engine's router (`/healthz` and the facades), with the request body limit,
//!   the concurrency limit, the panic answer and tracing.
//! - [`run`]: serves a router on a bound listener until the shutdown future resolves, with the
//!   header and body read timeouts (HTTP/1.1; hyper's connection builder, since `axum::serve`
//!   has no header timeout).
//! - [`limits`]: the layers behind those limits.
//! - [`health`]: the `/healthz` report and the probe that feeds it.

pub mod health;
pub mod limits;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use health::{FixedHealth, HealthProbe, HealthReport};

/// Limits applied to every request and connection (`[http]` in the configuration).
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub body_limit: usize,
    /// How long a connection may take to send a request's headers (also while idle between
    /// keep-alive requests); past it the connection is closed.
    pub header_read_timeout: Duration,
    /// How long a request's body may take to arrive, from the end of its headers; past it
    /// the request is answered 408 and the connection closed.
    pub body_read_timeout: Duration,
    /// Most requests handled at once; more are answered 503 at once (load shedding).
    pub max_concurrent_requests: usize,
}

impl HttpLimits {
    /// The defaults of `[http]`, with `body_limit` bytes.
    pub fn with_body_limit(body_limit: usize) -> Self {
        Self {
            body_limit,
            ..Self::default()
        }
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            body_limit: 1 << 20,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_concurrent_requests: 512,
        }
    }
}

/// The engine's router: `/healthz` plus the facades' routes. A handler that panics is answered
/// 500 with a short JSON error (facades answer their own vendor's shape first, see
/// [`limits::panic_answer`]) and logged.
pub fn router(probe: Arc<dyn HealthProbe>, facades: Router, limits: HttpLimits) -> Router {
    Router::new()
        .merge(health::routes(probe))
        .merge(facades)
        .layer(DefaultBodyLimit::max(limits.body_limit))
        .layer(CatchPanicLayer::custom(limits::json_panic))
        .layer(limits::ConcurrencyCapLayer::new(
            limits.max_concurrent_requests,
        ))
        .layer(TraceLayer::new_for_http())
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes in-flight requests.
///
/// Each connection is HTTP/1.1 with keep-alive; a connection that does not complete a request's
/// headers within `limits.header_read_timeout` is closed, and a request body is cut off after
/// `limits.body_read_timeout`. Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: the listener itself is fine; back off.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.as_mut() => break,
        };
        let _ = stream.set_nodelay(true);
        let body_timeout = limits.body_read_timeout;
        let service =
            router
                .clone()
                .map_request(move |req: axum::http::Request<hyper::body::Incoming>| {
                    let mut req = req.map(|body| limits::DeadlineBody::new(body, body_timeout));
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req
                });
        let conn =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The scheme and host a client reached the engine at, for URLs given back to it (a WSDL's
/// `soap:address`, a recording link): `X-Forwarded-Proto` (`http`/`https`) and `Host`, which must
/// look like a host name or address with an optional port (else `localhost`).
pub fn base_url(headers: &axum::http::HeaderMap) -> String {
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}
