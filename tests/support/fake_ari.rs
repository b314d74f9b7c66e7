//! A fake ARI on `127.0.0.1:0` (axum): REST requests recorded (method, path and query, body)
//! and answered from a table; the app's event stream (`/ari/events`) as a WebSocket the test
//! feeds frames into, drops, or refuses for a number of attempts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::mpsc;

/// One REST request as the fake saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent (percent-encoding kept).
    pub uri: String,
    pub body: String,
    pub authorization: String,
}

enum Cmd {
    Text(String),
    Drop,
    Stall,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Seen>>,
    answers: Mutex<HashMap<String, (u16, String)>>,
    refuse: AtomicUsize,
    attempts: AtomicUsize,
    upgrades: Mutex<Vec<Seen>>,
    current: Mutex<Option<mpsc::UnboundedSender<Cmd>>>,
}

pub struct FakeAri {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeAri {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/ari/events", get(events))
            .fallback(rest)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, shared }
    }

    /// `http://127.0.0.1:<port>/ari`.
    pub fn base(&self) -> String {
        format!("http://{}/ari", self.addr)
    }

    /// Answers `method path` (path without query, e.g. `GET /ari/channels`) with `status` and
    /// `body` from now on.
    pub fn answer(&self, method_path: &str, status: u16, body: &str) {
        self.shared
            .answers
            .lock()
            .unwrap()
            .insert(method_path.to_owned(), (status, body.to_owned()));
    }

    /// The REST requests so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The WebSocket upgrade requests so far (refused ones included).
    pub fn upgrades(&self) -> Vec<Seen> {
        self.shared.upgrades.lock().unwrap().clone()
    }

    /// Upgrade attempts so far.
    pub fn attempts(&self) -> usize {
        self.shared.attempts.load(Ordering::SeqCst)
    }

    /// Refuses the next `n` upgrades with 503.
    pub fn refuse_next(&self, n: usize) {
        self.shared.refuse.store(n, Ordering::SeqCst);
    }

    /// Sends a text frame on the current stream.
    pub fn push(&self, frame: &str) {
        let cur = self.shared.current.lock().unwrap();
        cur.as_ref()
            .expect("a stream is connected")
            .send(Cmd::Text(frame.to_owned()))
            .unwrap();
    }

    /// Stops reading the current stream (so pings go unanswered) while keeping it open.
    pub fn stall_stream(&self) {
        let cur = self.shared.current.lock().unwrap();
        cur.as_ref()
            .expect("a stream is connected")
            .send(Cmd::Stall)
            .unwrap();
    }

    /// Drops the current stream (no close frame).
    pub fn drop_stream(&self) {
        if let Some(tx) = self.shared.current.lock().unwrap().take() {
            let _ = tx.send(Cmd::Drop);
        }
    }
}

fn seen(method: &str, uri: &Uri, headers: &HeaderMap, body: String) -> Seen {
    Seen {
        method: method.to_owned(),
        uri: uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        body,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
    }
}

async fn events(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    shared.attempts.fetch_add(1, Ordering::SeqCst);
    shared
        .upgrades
        .lock()
        .unwrap()
        .push(seen("GET", &uri, &headers, String::new()));
    let refused = shared
        .refuse
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if refused {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let (tx, rx) = mpsc::unbounded_channel();
    *shared.current.lock().unwrap() = Some(tx);
    ws.on_upgrade(move |socket| stream(socket, rx))
}

async fn stream(mut socket: WebSocket, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Cmd::Text(t)) => {
                    if socket.send(Message::Text(t.into())).await.is_err() {
                        return;
                    }
                }
                Some(Cmd::Drop) | None => return,
                Some(Cmd::Stall) => {
                    // Keep the socket, read nothing: no pong goes back.
                    while let Some(cmd) = rx.recv().await {
                        if matches!(cmd, Cmd::Drop) {
                            return;
                        }
                    }
                    return;
                }
            },
            got = socket.recv() => {
                if !matches!(got, Some(Ok(_))) {
                    return;
                }
            }
        }
    }
}

async fn rest(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().as_str().to_owned();
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let body = to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    shared.requests.lock().unwrap().push(seen(
        &method,
        &uri,
        &headers,
        String::from_utf8_lossy(&body).into_owned(),
    ));
    let key = format!("{method} {}", uri.path());
    let answer = shared.answers.lock().unwrap().get(&key).cloned();
    let (status, body) = answer.unwrap_or(if method == "GET" {
        (404, r#"{"message":"Not found"}"#.to_owned())
    } else {
        (204, String::new())
    });
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}
