//! A customer's backend in the test process (axum, port 0): eXpand's external webservices in
//! their REST form (`/ws/<operation>`, JSON) and a webhook receiver (`/hook`) that records each
//! delivery's event id, signature and body. Either can be made slow or down while it runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

/// One webhook delivery received.
#[derive(Clone, Debug)]
pub struct Hook {
    pub event_id: String,
    pub signature: String,
    pub body: serde_json::Value,
    pub raw: Vec<u8>,
    /// Whether it was acknowledged (200) or refused (503, while "down").
    pub acknowledged: bool,
}

#[derive(Clone, Default)]
pub struct Customer {
    /// `(operation, arguments)` of each webservice call, as they came.
    pub calls: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    pub hooks: Arc<Mutex<Vec<Hook>>>,
    /// The name `getCallerIDName` answers.
    pub name: Arc<Mutex<String>>,
    /// How long the webservices take to answer, in ms.
    pub ws_delay_ms: Arc<AtomicU64>,
    /// While set, webhooks are answered 503.
    pub hooks_down: Arc<AtomicBool>,
}

impl Customer {
    /// Starts it; returns it and its `http://host:port`.
    pub async fn start(name: &str) -> (Self, String) {
        let c = Customer::default();
        *c.name.lock().unwrap() = name.to_owned();
        let app = Router::new()
            .route("/ws/{op}", post(ws))
            .route("/hook", post(hook))
            .with_state(c.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (c, base)
    }

    pub fn calls_of(&self, op: &str) -> Vec<serde_json::Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, a)| a.clone())
            .collect()
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().unwrap().clone()
    }

    /// The acknowledged deliveries whose `data.uniqueid` is `uniqueid`.
    pub fn acknowledged_for(&self, uniqueid: &str) -> Vec<Hook> {
        self.hooks()
            .into_iter()
            .filter(|h| h.acknowledged && h.body["data"]["uniqueid"] == uniqueid)
            .collect()
    }
}

async fn ws(
    State(c): State<Customer>,
    Path(op): Path<String>,
    body: Bytes,
) -> axum::Json<serde_json::Value> {
    let args: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    c.calls.lock().unwrap().push((op.clone(), args));
    let delay = c.ws_delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    match op.as_str() {
        "getCallerIDName" => axum::Json(serde_json::Value::String(c.name.lock().unwrap().clone())),
        "pushAgentInfo" => axum::Json(serde_json::Value::Bool(true)),
        _ => axum::Json(serde_json::Value::String(String::new())),
    }
}

async fn hook(State(c): State<Customer>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let down = c.hooks_down.load(Ordering::SeqCst);
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    c.hooks.lock().unwrap().push(Hook {
        event_id: h("x-centralita-event-id"),
        signature: h("x-centralita-signature"),
        body: serde_json::from_slice(&body).unwrap_or_default(),
        raw: body.to_vec(),
        acknowledged: !down,
    });
    if down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}
