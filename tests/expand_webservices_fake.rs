//! Fast tier: eXpand's external webservices, the engine calling a customer's backend on port 0
//! (axum) in both forms the integration guide allows: REST (a JSON POST per operation) and
//! SOAP (an rpc envelope), for `getCallerIDName`, `IVRCode` and `pushAgentInfo`; a backend
//! past the limit gives no data, within the limit and a margin; and the `callername` FastAGI
//! script answers the cleaned name as the dialplan reads it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use centralita::asterisk::fastagi::{self, CallerNameScript, FastAgiSettings, Scripts};
use centralita::core::expand_ws::{ExpandWebservices, IvrCodeClient, WsForm, WsSettings};
use centralita::expand_ws::HttpWsBackend;
use centralita::facades::soap::envelope;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What the backend received: the operation and its arguments by name.
type Calls = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

#[derive(Clone)]
struct Backend {
    calls: Calls,
    delay: Duration,
}

fn answer_of(op: &str, args: &[(String, String)]) -> String {
    let arg = |n: &str| {
        args.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    match op {
        // A name with what a dialplan must never see.
        "getCallerIDName" if arg("callerIdNum") == "099123456" => {
            "José  Pérez, \"VIP\" ${SHELL(id)}".into()
        }
        "getCallerIDName" => String::new(),
        "IVRCode" => format!("|{}={}", arg("IVRCode"), arg("callerIdNum")),
        "pushAgentInfo" => "true".into(),
        _ => "?".into(),
    }
}

async fn rest(
    State(b): State<Backend>,
    Path(op): Path<String>,
    body: Bytes,
) -> axum::Json<serde_json::Value> {
    tokio::time::sleep(b.delay).await;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let args: Vec<(String, String)> = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let answer = answer_of(&op, &args);
    b.calls.lock().unwrap().push((op.clone(), args));
    if op == "pushAgentInfo" {
        axum::Json(serde_json::json!({"result": true}))
    } else {
        axum::Json(serde_json::Value::String(answer))
    }
}

async fn soap(State(b): State<Backend>, headers: HeaderMap, body: Bytes) -> String {
    tokio::time::sleep(b.delay).await;
    let call = envelope::parse_request(&body).unwrap();
    let action = headers.get("soapaction").unwrap().to_str().unwrap();
    assert_eq!(action, format!("\"urn:crm#{}\"", call.operation));
    let args: Vec<(String, String)> = call
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect();
    let answer = answer_of(&call.operation, &args);
    b.calls.lock().unwrap().push((call.operation.clone(), args));
    let value = if call.operation == "pushAgentInfo" {
        envelope::SoapValue::Bool(true)
    } else {
        envelope::SoapValue::Str(answer)
    };
    envelope::response("urn:crm", &call.operation, &value)
}

async fn backend(delay: Duration) -> (Calls, String) {
    let b = Backend {
        calls: Calls::default(),
        delay,
    };
    let app = Router::new()
        .route("/ws/{op}", post(rest))
        .route("/soap", post(soap))
        .with_state(b.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (b.calls, base)
}

fn client(base: &str, form: WsForm, timeout: Duration) -> ExpandWebservices {
    let url = match form {
        WsForm::Rest => format!("{base}/ws"),
        WsForm::Soap => format!("{base}/soap"),
    };
    ExpandWebservices::new(
        Arc::new(HttpWsBackend::new(WsSettings {
            url,
            form,
            timeout,
            namespace: "urn:crm".into(),
        })),
        timeout,
    )
}

fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn the_three_webservices_in_both_forms() {
    for form in [WsForm::Rest, WsForm::Soap] {
        let (calls, base) = backend(Duration::ZERO).await;
        let ws = client(&base, form, Duration::from_millis(1500));
        assert_eq!(
            ws.caller_id_name("099123456").await.as_deref(),
            Some("José Pérez VIP SHELLid"),
            "{form:?}: the name, cleaned"
        );
        assert_eq!(
            ws.caller_id_name("098000000").await,
            None,
            "{form:?}: no name"
        );
        let ivr: &dyn IvrCodeClient = &ws;
        assert_eq!(
            ivr.ivr_code("1700000000.7", "099123456", "menu1", "opt=2")
                .await
                .as_deref(),
            Some("|menu1=099123456"),
            "{form:?}"
        );
        assert!(
            ws.push_agent_info(
                "1700000000.7",
                "q_cli",
                "José Pérez <099123456>",
                "PJSIP/1005",
                "opt=2"
            )
            .await,
            "{form:?}"
        );
        // A JSON object's members have no order; SOAP's parts keep the seed's.
        let normal = |mut calls: Vec<(String, Vec<(String, String)>)>| {
            if form == WsForm::Rest {
                calls.iter_mut().for_each(|(_, a)| a.sort());
            }
            calls
        };
        let calls = normal(calls.lock().unwrap().clone());
        assert_eq!(
            calls,
            normal(vec![
                (
                    "getCallerIDName".into(),
                    args(&[("callerIdNum", "099123456")])
                ),
                (
                    "getCallerIDName".into(),
                    args(&[("callerIdNum", "098000000")])
                ),
                (
                    "IVRCode".into(),
                    args(&[
                        ("UniqueID", "1700000000.7"),
                        ("callerIdNum", "099123456"),
                        ("IVRCode", "menu1"),
                        ("IVRData", "opt=2")
                    ])
                ),
                (
                    "pushAgentInfo".into(),
                    args(&[
                        ("uniqueid", "1700000000.7"),
                        ("queuename", "q_cli"),
                        ("callerid", "José Pérez <099123456>"),
                        ("agentchan", "PJSIP/1005"),
                        ("ivrdata", "opt=2")
                    ])
                ),
            ]),
            "{form:?}: the seed's names and order"
        );
    }
}

#[tokio::test]
async fn a_slow_backend_gives_no_data_within_the_limit() {
    let limit = Duration::from_millis(300);
    for form in [WsForm::Rest, WsForm::Soap] {
        let (_, base) = backend(Duration::from_secs(5)).await;
        let ws = client(&base, form, limit);
        let started = Instant::now();
        assert_eq!(ws.caller_id_name("099123456").await, None);
        assert_eq!(ws.ivr_code("1.1", "099", "c", "").await, None);
        assert!(!ws.push_agent_info("1.1", "q", "<099>", "PJSIP/1", "").await);
        // Three calls, each cut at the limit (the margin is for a loaded machine).
        assert!(
            started.elapsed() < limit * 3 + Duration::from_millis(1500),
            "{form:?}: {:?}",
            started.elapsed()
        );
    }
    // A backend that is not there at all: no data either.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    assert_eq!(
        client(&closed, WsForm::Rest, limit)
            .caller_id_name("099123456")
            .await,
        None
    );
}

/// Asks the FastAGI server as Asterisk does for `AGI(agi://.../callername,<number>)`; returns
/// the commands sent before the engine closed the connection.
async fn ask_callername(addr: std::net::SocketAddr, number: &str) -> Vec<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "agi_network: yes\nagi_network_script: callername\nagi_request: agi://127.0.0.1/callername\n\
         agi_channel: PJSIP/carrier-00000001\nagi_uniqueid: 1700000000.9\nagi_callerid: {number}\n\
         agi_context: to-queue\nagi_arg_1: {number}\n\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let (r, mut w) = s.into_split();
    let mut lines = BufReader::new(r).lines();
    let mut commands = Vec::new();
    while let Some(line) = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        commands.push(line);
        w.write_all(b"200 result=1\n").await.unwrap();
    }
    commands
}

#[tokio::test]
async fn the_callername_script_answers_the_cleaned_name_in_base64() {
    let (_, base) = backend(Duration::ZERO).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = CallerNameScript::new(client(&base, WsForm::Soap, Duration::from_millis(1500)));
    let scripts = Scripts::new().with(fastagi::callername::SCRIPT, Arc::new(script));
    tokio::spawn(fastagi::run(
        listener,
        scripts,
        FastAgiSettings::default(),
        std::future::pending(),
    ));
    let commands = ask_callername(addr, "099123456").await;
    assert_eq!(commands.len(), 1, "{commands:?}");
    let b64 = commands[0]
        .strip_prefix("SET VARIABLE CN_B64 ")
        .expect("the name variable");
    let name = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(String::from_utf8(name).unwrap(), "José Pérez VIP SHELLid");
    assert!(
        ask_callername(addr, "098000000").await.is_empty(),
        "no name, no answer"
    );
    assert!(ask_callername(addr, "not a number").await.is_empty());

    // A slow backend: the script answers nothing, within the limit.
    let (_, slow) = backend(Duration::from_secs(5)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = CallerNameScript::new(client(&slow, WsForm::Rest, Duration::from_millis(300)));
    tokio::spawn(fastagi::run(
        listener,
        Scripts::new().with(fastagi::callername::SCRIPT, Arc::new(script)),
        FastAgiSettings::default(),
        std::future::pending(),
    ));
    let started = Instant::now();
    assert!(ask_callername(addr, "099123456").await.is_empty());
    assert!(started.elapsed() < Duration::from_millis(300 + 1500));
}
