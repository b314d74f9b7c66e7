//! Fast tier: outbound webhooks against a receiving backend on port 0 (axum), over the real
//! SQLite outbox. The facts are journal queue_log lines as the ingestor stores them.
//!
//! Each delivery is signed (HMAC-SHA256 of the body, verifiable with the endpoint's secret)
//! and carries a stable event id; a 500 is retried and the event delivered once; a new service
//! over the same store (an engine restart) delivers the rest, in order, with no duplicate; a
//! fact queued twice is queued once; an endpoint that is down holds back only its own events;
//! an event past its limit is dead, counted, and sent again on demand.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use centralita::core::webhook_delivery::{TryOutcome, WebhookService};
use centralita::core::webhooks::{
    verify, DeliveryPolicy, Endpoint, EndpointName, EventKind, WebhookStore,
};
use centralita::core::Secret;
use centralita::store::SqliteWebhooks;
use centralita::webhooks_http::{encode_event, HttpWebhookSender};
use support::TempDir;

const SECRET: &str = "s3cret-of-the-crm-0123";

#[derive(Clone, Debug)]
struct Got {
    event_id: String,
    signature: String,
    timestamp: String,
    body: Vec<u8>,
    answered: u16,
}

#[derive(Clone, Default)]
struct Backend {
    got: Arc<Mutex<Vec<Got>>>,
    /// Statuses to answer, in turn; 200 once used up.
    script: Arc<Mutex<Vec<u16>>>,
}

impl Backend {
    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
    fn ids_delivered(&self) -> Vec<String> {
        self.got()
            .into_iter()
            .filter(|g| g.answered == 200)
            .map(|g| g.event_id)
            .collect()
    }
}

async fn hook(State(b): State<Backend>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    let status = {
        let mut s = b.script.lock().unwrap();
        if s.is_empty() {
            200
        } else {
            s.remove(0)
        }
    };
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    b.got.lock().unwrap().push(Got {
        event_id: h("x-centralita-event-id"),
        signature: h("x-centralita-signature"),
        timestamp: h("x-centralita-timestamp"),
        body: body.to_vec(),
        answered: status,
    });
    StatusCode::from_u16(status).unwrap()
}

async fn backend(script: Vec<u16>) -> (Backend, String) {
    let b = Backend {
        script: Arc::new(Mutex::new(script)),
        ..Default::default()
    };
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(b.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (b, url)
}

fn endpoint(name: &str, url: &str, events: Vec<EventKind>) -> Endpoint {
    Endpoint {
        name: EndpointName::new(name).unwrap(),
        url: url.to_owned(),
        secret: Secret::new(SECRET),
        events,
    }
}

fn policy() -> DeliveryPolicy {
    DeliveryPolicy {
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        dead_after: Duration::from_secs(86_400),
        timeout: Duration::from_secs(2),
    }
}

fn service(
    db: &std::path::Path,
    endpoints: Vec<Endpoint>,
    policy: DeliveryPolicy,
) -> WebhookService {
    WebhookService::new(
        Arc::new(SqliteWebhooks::open(db).unwrap()),
        Arc::new(HttpWebhookSender),
        endpoints,
        policy,
        Arc::new(encode_event),
    )
}

/// Appends queue_log lines as the journal's ingestor stores them; returns their ids.
fn append_lines(db: &std::path::Path, lines: &[(&str, &str, &str, &str, &str)]) -> Vec<i64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let next: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(byte_offset), 0) FROM queue_log",
            [],
            |r| r.get(0),
        )
        .unwrap();
    lines
        .iter()
        .enumerate()
        .map(|(i, (callid, queue, agent, event, data))| {
            conn.execute(
                "INSERT INTO queue_log (source, file_dev, file_ino, file_created_ns, byte_offset, \
                 time_epoch, callid, queue, agent, event, data) \
                 VALUES ('pbx1', 1, 1, 1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![
                    next + 100 * (i as i64 + 1),
                    centralita::core::UnixTime::now().seconds(),
                    callid,
                    queue,
                    agent,
                    event,
                    data
                ],
            )
            .unwrap();
            conn.last_insert_rowid()
        })
        .collect()
}

fn call_lines(
    n: usize,
) -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                (
                    "1700000000.1",
                    "q_ventas",
                    "NONE",
                    "ENTERQUEUE",
                    "|099123456|1",
                )
            } else {
                (
                    "1700000000.1",
                    "q_ventas",
                    "PJSIP/1005",
                    "CONNECT",
                    "3|1700000000.2|2",
                )
            }
        })
        .collect()
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn deliveries_are_signed_with_a_stable_event_id() {
    let dir = TempDir::new("webhooks-signed");
    let db = dir.path().join("c.db");
    let (b, url) = backend(vec![]).await;
    let s = service(
        &db,
        vec![endpoint("crm", &url, EventKind::ALL.to_vec())],
        policy(),
    );
    // History (a line from before the first follow, ingested after it) is not sent.
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(s.follow_once().await.unwrap(), 0);
    conn.execute(
        "INSERT INTO queue_log (source, file_dev, file_ino, file_created_ns, byte_offset, \
         time_epoch, callid, queue, agent, event, data) \
         VALUES ('pbx1', 1, 1, 1, 1, 1700000000, 'old.1', 'q_ventas', 'NONE', 'ENTERQUEUE', '|1|1')",
        [],
    )
    .unwrap();
    assert_eq!(s.follow_once().await.unwrap(), 0, "history is not sent");
    let ids = append_lines(
        &db,
        &[(
            "1700000000.1",
            "q_ventas",
            "NONE",
            "ENTERQUEUE",
            "|099123456|1",
        )],
    );
    assert_eq!(s.follow_once().await.unwrap(), 1);
    assert_eq!(s.try_once(0).await.unwrap(), TryOutcome::Delivered);
    let got = b.got();
    assert_eq!(got.len(), 1);
    let g = &got[0];
    assert!(
        verify(&Secret::new(SECRET), &g.body, &g.signature),
        "{}",
        g.signature
    );
    assert!(!verify(
        &Secret::new("another-secret-entirely"),
        &g.body,
        &g.signature
    ));
    assert_eq!(g.event_id, format!("queue_log-{}", ids[0]));
    assert!(g.timestamp.parse::<i64>().unwrap() > 1_700_000_000);
    let v: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
    assert_eq!(v["event"], "call.offered");
    assert_eq!(v["id"], g.event_id.as_str());
    assert_eq!(v["data"]["caller"], "099123456");
    assert_eq!(v["data"]["queue"], "q_ventas");
    assert_eq!(s.try_once(0).await.unwrap(), TryOutcome::Idle);
}

#[tokio::test]
async fn a_500_is_retried_and_the_event_delivered_once() {
    let dir = TempDir::new("webhooks-retry");
    let db = dir.path().join("c.db");
    let (b, url) = backend(vec![500, 503]).await;
    let s = service(
        &db,
        vec![endpoint("crm", &url, EventKind::ALL.to_vec())],
        policy(),
    );
    s.follow_once().await.unwrap();
    let tasks = s.spawn();
    let first = append_lines(&db, &call_lines(1))[0];
    until("the first event delivered", || b.ids_delivered().len() == 1).await;
    // A second event arriving proves the first is not sent again after its 2xx.
    let second = append_lines(&db, &call_lines(1))[0];
    until("the second event delivered", || {
        b.ids_delivered().len() == 2
    })
    .await;
    tasks.stop();
    let tries: Vec<(String, u16)> = b
        .got()
        .into_iter()
        .map(|g| (g.event_id, g.answered))
        .collect();
    let (k1, k2) = (format!("queue_log-{first}"), format!("queue_log-{second}"));
    assert_eq!(
        tries,
        vec![(k1.clone(), 500), (k1.clone(), 503), (k1, 200), (k2, 200)]
    );
    let bodies: Vec<Vec<u8>> = b.got().into_iter().take(3).map(|g| g.body).collect();
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "a retry sends the same body"
    );
    let status = SqliteWebhooks::open(&db).unwrap().status().unwrap();
    assert_eq!(
        (status[0].pending, status[0].delivered, status[0].dead),
        (0, 2, 0)
    );
}

#[tokio::test]
async fn a_restart_delivers_the_rest_in_order_without_duplicates() {
    let dir = TempDir::new("webhooks-restart");
    let db = dir.path().join("c.db");
    let (b, url) = backend(vec![]).await;
    let eps = || vec![endpoint("crm", &url, EventKind::ALL.to_vec())];
    let first = service(&db, eps(), policy());
    first.follow_once().await.unwrap();
    let mut ids = append_lines(&db, &call_lines(6));
    assert_eq!(first.follow_once().await.unwrap(), 6);
    assert_eq!(
        first.follow_once().await.unwrap(),
        0,
        "a fact is queued once"
    );
    for _ in 0..2 {
        assert_eq!(first.try_once(0).await.unwrap(), TryOutcome::Delivered);
    }
    drop(first);
    // While the engine is stopped, more facts arrive; and a cursor set back (facts read
    // again) queues nothing twice.
    ids.extend(append_lines(&db, &call_lines(3)));
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE webhook_cursor SET last_id = 0 WHERE source = 'queue_log'",
            [],
        )
        .unwrap();
    let second = service(&db, eps(), policy());
    let tasks = second.spawn();
    until("every event delivered", || {
        b.ids_delivered().len() == ids.len()
    })
    .await;
    tasks.stop();
    let want: Vec<String> = ids.iter().map(|i| format!("queue_log-{i}")).collect();
    assert_eq!(
        b.ids_delivered(),
        want,
        "each once, in the order of the facts"
    );
    assert_eq!(b.got().len(), ids.len());
}

#[tokio::test]
async fn an_endpoint_down_holds_back_only_its_own_and_dead_ones_are_retried() {
    let dir = TempDir::new("webhooks-down");
    let db = dir.path().join("c.db");
    let (b, url) = backend(vec![]).await;
    // A port nobody listens on: bound, then closed.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let eps = vec![
        endpoint("down", &closed, EventKind::ALL.to_vec()),
        endpoint("crm", &url, vec![EventKind::CallOffered]),
    ];
    let s = service(&db, eps.clone(), policy());
    s.follow_once().await.unwrap();
    let tasks = s.spawn();
    // ENTERQUEUE, CONNECT, ENTERQUEUE, CONNECT: crm takes the two offers only.
    append_lines(&db, &call_lines(4));
    until("crm's two events", || b.ids_delivered().len() == 2).await;
    tasks.stop();
    let store = SqliteWebhooks::open(&db).unwrap();
    let status = store.status().unwrap();
    let of = |n: &str| status.iter().find(|s| s.endpoint == n).unwrap().clone();
    assert_eq!((of("crm").pending, of("crm").delivered), (0, 2));
    assert_eq!((of("down").pending, of("down").delivered), (4, 0));
    assert!(of("down").last_error.is_some());
    // Past its limit, a failed delivery is dead; `retry` makes it pending again.
    let dead_now = DeliveryPolicy {
        dead_after: Duration::ZERO,
        ..policy()
    };
    let s = service(&db, eps, dead_now);
    let outcome = loop {
        match s.try_once(0).await.unwrap() {
            TryOutcome::NotDue(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            other => break other,
        }
    };
    assert!(matches!(outcome, TryOutcome::Dead(_)), "{outcome:?}");
    let status_of_down = || {
        store
            .status()
            .unwrap()
            .into_iter()
            .find(|s| s.endpoint == "down")
            .unwrap()
    };
    let down = status_of_down();
    assert_eq!((down.pending, down.dead), (3, 1));
    assert_eq!(
        store
            .retry_dead(Some("down"), centralita::core::UnixTime::now())
            .unwrap(),
        1
    );
    let down = status_of_down();
    assert_eq!((down.pending, down.dead), (4, 0));
}
