//! Fast tier: the IVR's named lookup backends against a customer's service on port 0 (axum):
//! fields mapped from a JSON answer; params reach the backend literally (percent-encoded in the
//! query, a form or JSON body), never in the path; the header token arrives; a slow backend
//! fails within its limit and a margin; a 500, a non-JSON, a non-object or an oversized answer
//! fail; eXpand's IVRCode appends its answer to IVRData; the list adapter; and a flow run by
//! `run_flow` branching on a looked-up field.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{any, post};
use axum::Router;
use centralita::core::directory::QueueName;
use centralita::core::ivr::backends::{BackendKind, BackendSettings, Method};
use centralita::core::ivr::{
    run_flow, BackendName, CallStart, IvrCall, IvrCallId, IvrCallInfo, IvrJournal, IvrLookup,
    IvrPorts, IvrRecord, ListLookup, ListName, Media, Outcome, PlayId, VarName,
};
use centralita::core::lists::{ListElement, ListKey, ListName as StoredListName, ListValue};
use centralita::core::lists::{ListStore, ListsService};
use centralita::core::{BoxFuture, PortError, Secret};
use centralita::ivr_http::HttpIvrLookup;
use centralita::store::SqliteLists;

/// What the backend saw: the path, the query's and the body's fields, the token header.
#[derive(Clone, Debug, Default)]
struct Seen {
    path: String,
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
    token: Option<String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn customer(
    State(log): State<Log>,
    uri: Uri,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let json = headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let fields: Vec<(String, String)> = if body.is_empty() {
        vec![]
    } else if json {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    } else {
        let uri: Uri = format!("/?{}", std::str::from_utf8(&body).unwrap())
            .parse()
            .unwrap();
        Query::<Vec<(String, String)>>::try_from_uri(&uri)
            .unwrap()
            .0
    };
    log.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        query: query.clone(),
        body: fields.clone(),
        token: headers
            .get("x-api-key")
            .map(|v| v.to_str().unwrap().to_owned()),
    });
    let numero = query
        .iter()
        .chain(fields.iter())
        .find(|(k, _)| k == "numero")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    match uri.path() {
        "/api/clientes" => axum::Json(serde_json::json!({
            "nome": "Ana\u{0}\r\nLópez", "nivel": if numero == "5551234" { "vip" } else { "normal" },
            "saldo": 12.5, "ativo": true, "nested": {"x": 1}, "bad name": "z",
        }))
        .into_response(),
        "/api/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            axum::Json(serde_json::json!({"nome": "late"})).into_response()
        }
        "/api/fail" => (StatusCode::INTERNAL_SERVER_ERROR, "{\"nome\":\"x\"}").into_response(),
        "/api/html" => "<html>nope</html>".into_response(),
        "/api/array" => axum::Json(serde_json::json!([{"nome": "x"}])).into_response(),
        "/api/big" => axum::Json(serde_json::json!({"nome": "x".repeat(4096)})).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn ivr_code(Path(op): Path<String>, body: Bytes) -> axum::Json<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let arg = |n: &str| v[n].as_str().unwrap_or("?").to_owned();
    assert_eq!(op, "IVRCode");
    axum::Json(serde_json::Value::String(format!(
        "|{}@{}={}",
        arg("IVRCode"),
        arg("UniqueID"),
        arg("callerIdNum")
    )))
}

async fn serve() -> (String, Log) {
    let log = Log::default();
    let app = Router::new()
        .route("/api/{*rest}", any(customer))
        .route("/ws/{op}", post(ivr_code))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), log)
}

fn http(name: &str, base: &str, path: &str, method: Method, timeout_ms: u64) -> BackendSettings {
    BackendSettings {
        name: BackendName::new(name).unwrap(),
        url: format!("{base}/api"),
        timeout: Duration::from_millis(timeout_ms),
        kind: BackendKind::Http {
            method,
            path: path.into(),
            max_answer: 1024,
            header: Some(("X-Api-Key".into(), Secret::new("tok-123"))),
        },
    }
}

fn backend(n: &str) -> BackendName {
    BackendName::new(n).unwrap()
}

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

const HOSTILE: &str = "../../etc?x=1&numero=0#frag %41+ñ\"'<>{CALLERID}";

async fn lookups(base: &str) -> HttpIvrLookup {
    HttpIvrLookup::new(&[
        http("crm", base, "/clientes", Method::Get, 1500),
        http("crm-form", base, "/clientes", Method::PostForm, 1500),
        http("crm-json", base, "/clientes", Method::PostJson, 1500),
        http("slow", base, "/slow", Method::Get, 300),
        http("fail", base, "/fail", Method::Get, 1500),
        http("html", base, "/html", Method::Get, 1500),
        http("array", base, "/array", Method::Get, 1500),
        http("big", base, "/big", Method::Get, 1500),
        BackendSettings {
            name: backend("codes"),
            url: format!("{base}/ws"),
            timeout: Duration::from_millis(1500),
            kind: BackendKind::ExpandIvrCode,
        },
    ])
    .unwrap()
}

#[tokio::test]
async fn answers_map_to_fields_and_params_arrive_literally_in_every_form() {
    let (base, log) = serve().await;
    let l = lookups(&base).await;
    for (name, in_query) in [("crm", true), ("crm-form", false), ("crm-json", false)] {
        let fields = l
            .lookup(
                &backend(name),
                &p(&[
                    ("numero", "5551234"),
                    ("nota", HOSTILE),
                    ("crlf", "a\r\nHost: evil"),
                ]),
            )
            .await
            .unwrap();
        assert_eq!(
            fields,
            p(&[
                ("ativo", "true"),
                ("nivel", "vip"),
                ("nome", "AnaLópez"),
                ("saldo", "12.5")
            ]),
            "{name}"
        );
        let seen = log.lock().unwrap().pop().unwrap();
        assert_eq!(
            seen.path, "/api/clientes",
            "{name}: nothing reaches the path"
        );
        assert_eq!(seen.token.as_deref(), Some("tok-123"));
        let want = p(&[
            ("numero", "5551234"),
            ("nota", HOSTILE),
            ("crlf", "aHost: evil"),
        ]);
        let (mut sent, other) = if in_query {
            (seen.query, seen.body)
        } else {
            (seen.body, seen.query)
        };
        let mut want = want;
        if name == "crm-json" {
            // A JSON object's members carry no order.
            sent.sort();
            want.sort();
        }
        assert_eq!(sent, want, "{name}");
        assert!(other.is_empty(), "{name}: {other:?}");
    }
}

#[tokio::test]
async fn a_slow_backend_fails_within_its_limit() {
    let (base, _) = serve().await;
    let l = lookups(&base).await;
    let t = Instant::now();
    assert!(l.lookup(&backend("slow"), &[]).await.is_err());
    assert!(
        t.elapsed() < Duration::from_millis(300 + 700),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn bad_answers_and_unknown_backends_fail() {
    let (base, _) = serve().await;
    let l = lookups(&base).await;
    for name in ["fail", "html", "array", "big", "nobody"] {
        assert!(l.lookup(&backend(name), &[]).await.is_err(), "{name}");
    }
    let dead =
        HttpIvrLookup::new(&[http("dead", "http://127.0.0.1:1", "/", Method::Get, 500)]).unwrap();
    assert!(dead.lookup(&backend("dead"), &[]).await.is_err());
}

#[tokio::test]
async fn ivr_code_appends_its_answer_to_ivr_data() {
    let (base, _) = serve().await;
    let l = lookups(&base).await;
    let fields = l
        .lookup(
            &backend("codes"),
            &p(&[
                ("UniqueID", "1700000000.42"),
                ("callerIdNum", "099123456"),
                ("IVRCode", "menu_vip"),
                ("IVRData", "|lang=pt"),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(
        fields,
        p(&[("IVRData", "|lang=pt|menu_vip@1700000000.42=099123456")])
    );
    let dead = HttpIvrLookup::new(&[BackendSettings {
        name: backend("codes"),
        url: "http://127.0.0.1:1/ws".into(),
        timeout: Duration::from_millis(300),
        kind: BackendKind::ExpandIvrCode,
    }])
    .unwrap();
    assert!(dead.lookup(&backend("codes"), &[]).await.is_err());
}

struct DownStore;

fn down<T>() -> Result<T, PortError> {
    Err("disk on fire".into())
}

impl ListStore for DownStore {
    fn lists(&self) -> Result<Vec<centralita::core::lists::KeyList>, PortError> {
        down()
    }
    fn list(
        &self,
        _: &centralita::core::lists::ListRef,
    ) -> Result<Option<centralita::core::lists::KeyList>, PortError> {
        down()
    }
    fn create_list(
        &self,
        _: &StoredListName,
        _: centralita::core::UnixTime,
    ) -> Result<centralita::core::lists::Written, PortError> {
        down()
    }
    fn remove_list(
        &self,
        _: &StoredListName,
    ) -> Result<centralita::core::lists::Written, PortError> {
        down()
    }
    fn elements(
        &self,
        _: centralita::core::lists::ListId,
        _: u64,
        _: u32,
    ) -> Result<Vec<ListElement>, PortError> {
        down()
    }
    fn element(
        &self,
        _: centralita::core::lists::ListId,
        _: &ListKey,
    ) -> Result<Option<ListElement>, PortError> {
        down()
    }
    fn insert(
        &self,
        _: centralita::core::lists::ListId,
        _: &ListElement,
    ) -> Result<centralita::core::lists::Written, PortError> {
        down()
    }
    fn update(
        &self,
        _: centralita::core::lists::ListId,
        _: &ListElement,
    ) -> Result<centralita::core::lists::Written, PortError> {
        down()
    }
    fn delete(
        &self,
        _: centralita::core::lists::ListId,
        _: &ListKey,
    ) -> Result<centralita::core::lists::Written, PortError> {
        down()
    }
    fn upsert_batch(
        &self,
        _: centralita::core::lists::ListId,
        _: &[ListElement],
    ) -> Result<u64, PortError> {
        down()
    }
    fn lookup(&self, _: &StoredListName, _: &ListKey) -> Result<Option<ListValue>, PortError> {
        down()
    }
}

#[tokio::test]
async fn lists_answer_membership_and_only_a_store_failure_fails() {
    let dir = support::TempDir::new("ivr-lookup-lists");
    let store = SqliteLists::open(&dir.path().join("c.db")).unwrap();
    let service = ListsService::new(Arc::new(store));
    let vip = StoredListName::parse("vip").unwrap();
    service.create_list(vip.clone()).await.unwrap();
    service
        .upsert_batch(
            vip,
            vec![ListElement {
                key: ListKey::parse("5551234").unwrap(),
                value: ListValue::parse("gold").unwrap(),
            }],
        )
        .await
        .unwrap();
    let lists: Arc<dyn ListLookup> = Arc::new(service);
    let list = |n: &str| ListName::new(n).unwrap();
    assert!(lists.contains(&list("vip"), "5551234").await.unwrap());
    assert!(!lists.contains(&list("vip"), "5550000").await.unwrap());
    assert!(!lists.contains(&list("nobody"), "5551234").await.unwrap());
    let long = "9".repeat(500);
    assert!(!lists.contains(&list("vip"), &long).await.unwrap());
    assert!(!lists.contains(&list("vip"), "").await.unwrap());
    let broken: Arc<dyn ListLookup> = Arc::new(ListsService::new(Arc::new(DownStore)));
    assert!(broken.contains(&list("vip"), "5551234").await.is_err());
}

/// A call that only records what the flow did.
#[derive(Default)]
struct Call(Mutex<Vec<String>>);

impl IvrCall for Call {
    fn play(&self, _: PlayId, m: &Media, _: bool) -> BoxFuture<'_, Result<(), PortError>> {
        self.0.lock().unwrap().push(format!("play {m:?}"));
        Box::pin(async { Ok(()) })
    }
    fn stop_playback(&self) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async { Ok(()) })
    }
    fn set_var(&self, n: &VarName, v: &str) -> BoxFuture<'_, Result<(), PortError>> {
        self.0
            .lock()
            .unwrap()
            .push(format!("set {}={v}", n.as_str()));
        Box::pin(async { Ok(()) })
    }
    fn queue(&self, q: &QueueName) -> BoxFuture<'_, Result<(), PortError>> {
        self.0.lock().unwrap().push(format!("queue {q:?}"));
        Box::pin(async { Ok(()) })
    }
    fn transfer(&self, _: &str) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async { Ok(()) })
    }
    fn hangup(&self) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async { Ok(()) })
    }
}

#[derive(Default)]
struct Journal(Mutex<HashMap<u32, IvrRecord>>);

impl IvrJournal for Journal {
    fn record(&self, r: &IvrRecord) -> Result<(), PortError> {
        self.0.lock().unwrap().insert(r.seq, r.clone());
        Ok(())
    }
}

const FLOW: &str = r#"{
  "id": "conta", "name": "Conta", "description": "", "type": "dtmf", "start": "crm",
  "nodes": [
    {"id": "crm", "kind": "http", "backend": "crm", "params": {"numero": "CALLERID"},
     "results": {"nivel": "NIVEL", "nome": "NOME"}, "timeout_ms": 2000,
     "next": "qual", "on_error": "fila"},
    {"id": "qual", "kind": "branch", "on": "var", "var": "NIVEL",
     "cases": {"vip": "fila_vip"}, "default": "fila"},
    {"id": "fila_vip", "kind": "queue", "queue": "q_vip"},
    {"id": "fila", "kind": "queue", "queue": "q_ventas"}
  ]
}"#;

/// The IVRCode node of docs/ivr.md, then a branch on what it appended.
const IVR_CODE_FLOW: &str = r#"{
  "id": "codigos", "name": "Codigos", "description": "", "type": "dtmf", "start": "codigo",
  "nodes": [
    {"id": "codigo", "kind": "http", "backend": "codes",
     "params": {"UniqueID": "UNIQUEID", "callerIdNum": "CALLERID", "IVRCode": "NODO", "IVRData": "IVRData"},
     "results": {"IVRData": "IVRData"}, "next": "menu", "on_error": "menu"},
    {"id": "menu", "kind": "branch", "on": "var", "var": "IVRData",
     "cases": {"|lang=pt|menu_vip@1700000000.7=5551234": "fila_vip"}, "default": "fila"},
    {"id": "fila_vip", "kind": "queue", "queue": "q_vip"},
    {"id": "fila", "kind": "queue", "queue": "q_ventas"}
  ]
}"#;

async fn run(lookup: Arc<dyn IvrLookup>, caller: &str) -> (Outcome, Vec<String>) {
    run_with(lookup, FLOW, &[("CALLERID", caller)]).await
}

async fn run_with(
    lookup: Arc<dyn IvrLookup>,
    flow: &str,
    vars: &[(&str, &str)],
) -> (Outcome, Vec<String>) {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let call = Arc::new(Call::default());
    let dir = support::TempDir::new(&format!("ivr-lookup-run-{n}"));
    let lists = ListsService::new(Arc::new(
        SqliteLists::open(&dir.path().join("c.db")).unwrap(),
    ));
    let ports = IvrPorts {
        call: call.clone(),
        lookup,
        lists: Arc::new(lists),
        journal: Arc::new(Journal::default()),
    };
    let (_tx, rx) = tokio::sync::mpsc::channel(4);
    let start = CallStart {
        call: IvrCallId::new("1700000000.7").unwrap(),
        info: IvrCallInfo::default(),
        vars: p(vars),
    };
    let flow = Arc::new(centralita::ivr_json::decode(flow).unwrap());
    let outcome = run_flow(flow, start, ports, rx).await.unwrap();
    let did = call.0.lock().unwrap().clone();
    (outcome, did)
}

#[tokio::test]
async fn a_flow_branches_on_the_looked_up_field() {
    let (base, _) = serve().await;
    let l: Arc<dyn IvrLookup> = Arc::new(lookups(&base).await);
    let (outcome, did) = run(l.clone(), "5551234").await;
    assert_eq!(outcome, Outcome::Queue(QueueName::new("q_vip").unwrap()));
    assert!(did.contains(&"set NOME=AnaLópez".to_owned()), "{did:?}");
    let (outcome, _) = run(l, "5550000").await;
    assert_eq!(outcome, Outcome::Queue(QueueName::new("q_ventas").unwrap()));
    let dead: Arc<dyn IvrLookup> = Arc::new(
        HttpIvrLookup::new(&[http("crm", "http://127.0.0.1:1", "/", Method::Get, 300)]).unwrap(),
    );
    let (outcome, did) = run(dead, "5551234").await;
    assert_eq!(outcome, Outcome::Queue(QueueName::new("q_ventas").unwrap()));
    assert!(!did.iter().any(|d| d.starts_with("set NIVEL")), "{did:?}");
}

#[tokio::test]
async fn a_flow_appends_to_ivr_data_through_ivr_code() {
    let (base, _) = serve().await;
    let l: Arc<dyn IvrLookup> = Arc::new(lookups(&base).await);
    let vars = [
        ("CALLERID", "5551234"),
        ("UNIQUEID", "1700000000.7"),
        ("NODO", "menu_vip"),
        ("IVRData", "|lang=pt"),
    ];
    let (outcome, did) = run_with(l, IVR_CODE_FLOW, &vars).await;
    assert_eq!(outcome, Outcome::Queue(QueueName::new("q_vip").unwrap()));
    assert!(
        did.contains(&"set IVRData=|lang=pt|menu_vip@1700000000.7=5551234".to_owned()),
        "{did:?}"
    );
}
