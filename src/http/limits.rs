//! The layers behind `[http]`'s limits, each cheap on the request path (no allocation beyond
//! one boxed future, no lock):
//!
//! - [`ConcurrencyCapLayer`]: at most N requests in handlers at once; one more is answered 503
//!   with `Retry-After: 1` at once (load shedding: a flood queues nowhere);
//! - [`DeadlineBody`]: a request body must arrive whole within a deadline counted from the end
//!   of its headers (a body that trickles is cut off, whatever its pace);
//! - [`json_panic`] and [`log_panic`]: what a panicking handler answers. The panic is logged
//!   with its message; the answer carries no internals. Facades install their own vendor's
//!   shape (SOAP Fault, uContact's `0`) with [`log_panic`] around their routes; this JSON one
//!   answers everything else.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

// ------------------------------------------------------------------ concurrency

/// Caps the requests in handlers at once (see the module docs).
#[derive(Clone, Debug)]
pub struct ConcurrencyCapLayer {
    permits: Arc<Semaphore>,
}

impl ConcurrencyCapLayer {
    /// At most `max` requests at once (at least one).
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS))),
        }
    }
}

impl<S> Layer<S> for ConcurrencyCapLayer {
    type Service = ConcurrencyCap<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyCap {
            inner,
            permits: self.permits.clone(),
        }
    }
}

/// The service of [`ConcurrencyCapLayer`].
#[derive(Clone, Debug)]
pub struct ConcurrencyCap<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

/// The answer past the cap.
pub fn overloaded() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        "server busy",
    )
        .into_response()
}

impl<S, B> Service<Request<B>> for ConcurrencyCap<S>
where
    S: Service<Request<B>, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let fut = self.inner.call(req);
                Box::pin(async move {
                    let out = fut.await;
                    drop(permit);
                    out
                })
            }
            Err(_) => Box::pin(std::future::ready(Ok(overloaded()))),
        }
    }
}

// ------------------------------------------------------------------ body deadline

/// The request body did not arrive within its deadline.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// A request body that fails with [`BodyTimeout`] once its deadline has passed.
#[derive(Debug)]
pub struct DeadlineBody<B> {
    inner: B,
    timeout: Duration,
    deadline: Instant,
    /// Armed on the first poll that finds no data ready (most bodies never need it).
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> DeadlineBody<B> {
    /// `inner`, which must be whole within `timeout` from now.
    pub fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: Instant::now() + timeout,
            sleep: None,
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => return Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {}
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

// ------------------------------------------------------------------ panics

/// The panic's message, for the log.
pub fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else {
        "(no message)"
    }
}

/// Logs a handler's panic (its message; the client sees none of it).
pub fn log_panic(panic: &(dyn Any + Send), api: &'static str) {
    tracing::error!(
        api,
        panic = panic_message(panic),
        "request handler panicked"
    );
}

/// The answer to a panicking handler outside the facades: 500 with a short JSON error.
pub fn json_panic(panic: Box<dyn Any + Send + 'static>) -> Response {
    log_panic(&*panic, "http");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"internal error"}"#,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body as AxumBody};
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    #[test]
    fn panic_messages_of_both_payload_types() {
        let s: Box<dyn Any + Send> = Box::new("static text");
        assert_eq!(panic_message(&*s), "static text");
        let s: Box<dyn Any + Send> = Box::new(format!("formatted {}", 1));
        assert_eq!(panic_message(&*s), "formatted 1");
        let s: Box<dyn Any + Send> = Box::new(7u8);
        assert_eq!(panic_message(&*s), "(no message)");
    }

    #[tokio::test]
    async fn past_the_cap_requests_are_shed_and_the_permit_comes_back() {
        let (entered_tx, mut entered_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let release = Arc::new(tokio::sync::Notify::new());
        let r = release.clone();
        let app = Router::new()
            .route(
                "/slow",
                get(move || {
                    let entered = entered_tx.clone();
                    let r = r.clone();
                    async move {
                        let _ = entered.send(());
                        r.notified().await;
                        "done"
                    }
                }),
            )
            .route("/fast", get(|| async { "fast" }))
            .layer(ConcurrencyCapLayer::new(1));
        let req = |p: &str| Request::get(p).body(AxumBody::empty()).unwrap();
        let slow = tokio::spawn(app.clone().oneshot(req("/slow")));
        entered_rx.recv().await.unwrap();
        // The one permit is held by /slow: the next request is shed at once.
        let shed = app.clone().oneshot(req("/fast")).await.unwrap();
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()[header::RETRY_AFTER], "1");
        release.notify_one();
        let done = slow.await.unwrap().unwrap();
        assert_eq!(to_bytes(done.into_body(), 64).await.unwrap(), "done");
        // Its permit is back.
        let ok = app.oneshot(req("/fast")).await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
    }
}
