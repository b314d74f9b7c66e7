//! The HTTP server: router assembly, limits, request tracing and health. Facades plug their
//! routers in here; no business rule lives in this module.
//!
//! - [`router`]: the engine's router (`/healthz` and the facades), with the request body limit
//!   and tracing.
//! - [`run`]: serves a router on a bound listener until the shutdown future resolves.
//! - [`health`]: the `/healthz` report and the probe that feeds it.

pub mod health;

use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use health::{HealthProbe, HealthReport};

/// Limits applied to every request.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub body_limit: usize,
}

/// The engine's router: `/healthz` plus the facades' routes.
pub fn router(probe: Arc<dyn HealthProbe>, facades: Router, limits: HttpLimits) -> Router {
    Router::new()
        .merge(health::routes(probe))
        .merge(facades)
        .layer(DefaultBodyLimit::max(limits.body_limit))
        .layer(TraceLayer::new_for_http())
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
