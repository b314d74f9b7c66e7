//! Fast-tier tests of the eXpand webservice through its router (`Router::oneshot`), with a real
//! store and no PBX: WSDL, authentication, keyless operations by network, parameter errors with
//! the documented codes, faults.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::ops::calls::originate_request;
use super::ops::panel::{member_calls, panel_agent};
use super::*;
use crate::config::Config;
use crate::core::directory::{Agent, CredentialApi, QueueName};
use crate::core::originate::OriginateMode;
use crate::facades::soap::parse_request;
use crate::test_support::TempDir;

struct Fixture {
    dir: TempDir,
    router: Router,
    key: String,
}

/// Text messages through the PBX (a carrier that is never reached).
const SMS_THROUGH_PBX: &str = "[sms]\nuri_template = \"pjsip:carrier/sip:{number}@192.0.2.1\"\n";

fn fixture() -> Fixture {
    fixture_sections("", SMS_THROUGH_PBX)
}

/// A fixture whose `[expand]` section also holds `expand_lines`, with `sections` after it.
fn fixture_sections(expand_lines: &str, sections: &str) -> Fixture {
    let dir = TempDir::new("expand-facade");
    let p = dir.path();
    let text = format!(
        "[engine]\ntimezone = \"America/Montevideo\"\n[store]\npath = {:?}\n\
         [[node]]\nname = \"pbx1\"\ncdr_db = {:?}\nqueue_log = {:?}\nrecordings_dir = {:?}\n\
         [node.ami]\nhost = \"127.0.0.1\"\nusername = \"u\"\nsecret = \"s\"\n\
         [expand]\nclient_networks = [\"127.0.0.0/8\"]\n{expand_lines}\n\
         [expand.queue_descriptions]\nq_ventas = \"Ventas\"\n{sections}\n",
        p.join("store.db"),
        p.join("master.db"),
        p.join("queue_log"),
        p.join("monitor"),
    );
    let config = Arc::new(Config::from_toml(&text).unwrap());
    let services = Arc::new(crate::test_support::services(config.clone()));
    let mut ana = Agent::new(AgentNumber::new("2101").unwrap());
    ana.username = "ana".into();
    ana.full_name = "Ana Pérez".into();
    ana.email = Some("ana@example.com".into());
    ana.profile = "operador".into();
    ana.queues = vec![QueueName::new("q_ventas").unwrap()];
    services.directory.store().upsert_agent(&ana).unwrap();
    let key = services
        .directory
        .store()
        .create_credential("CRM", CredentialApi::Expand)
        .unwrap()
        .key
        .expose()
        .to_owned();
    let keys = Arc::new(KeyVerifier::new(
        services.directory.clone(),
        services.logins.clone(),
    ));
    let router =
        routes(services, keys, config.expand.clone()).layer(DefaultBodyLimit::max(64 * 1024));
    Fixture { dir, router, key }
}

fn envelope(op: &str, params: &[(&str, &str)]) -> String {
    let parts: String = params
        .iter()
        .map(|(n, v)| format!("<{n} xsi:type=\"xsd:string\">{}</{n}>", soap::escape(v)))
        .collect();
    format!(
        "<?xml version=\"1.0\"?><SOAP-ENV:Envelope \
         xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><SOAP-ENV:Body>\
         <ns1:{op} xmlns:ns1=\"urn:apiws\">{parts}</ns1:{op}></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
}

impl Fixture {
    async fn post_from(&self, body: String, peer: Option<&str>) -> (StatusCode, String) {
        self.post_forwarded(body, peer, None).await
    }

    async fn post_forwarded(
        &self,
        body: String,
        peer: Option<&str>,
        forwarded_for: Option<&str>,
    ) -> (StatusCode, String) {
        let mut req = Request::post(PATH);
        if let Some(xff) = forwarded_for {
            req = req.header("X-Forwarded-For", xff);
        }
        let mut req = req.body(Body::from(body)).unwrap();
        if let Some(peer) = peer {
            let addr: SocketAddr = peer.parse().unwrap();
            req.extensions_mut().insert(ConnectInfo(addr));
        }
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = to_bytes(resp.into_body(), 1 << 22).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// The `return` value of an operation called from loopback.
    async fn call(&self, op: &str, params: &[(&str, &str)]) -> String {
        self.call_from(op, params, "127.0.0.1:40000").await
    }

    async fn call_from(&self, op: &str, params: &[(&str, &str)], peer: &str) -> String {
        let (status, body) = self.post_from(envelope(op, params), Some(peer)).await;
        assert_eq!(status, StatusCode::OK, "{op}: {body}");
        let answer = parse_request(body.as_bytes()).unwrap();
        assert_eq!(answer.operation, format!("{op}Response"));
        answer.params[0].1.clone().unwrap_or_default()
    }
}

#[tokio::test]
async fn serves_a_wsdl_with_every_documented_operation() {
    let f = fixture();
    let resp = f
        .router
        .clone()
        .oneshot(
            Request::get(format!("{PATH}?%20wsdl"))
                .header("Host", "pbx.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body =
        String::from_utf8(to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(body.contains("location=\"http://pbx.example/apiws/2/apiws.php\""));
    assert_eq!(OPERATIONS.len(), 22);
    for (op, parts) in OPERATIONS {
        assert!(
            body.contains(&format!(
                "<operation name=\"{op}\" parameterOrder=\"{}\">",
                parts.join(" ")
            )),
            "{op}"
        );
        for part in *parts {
            assert!(
                body.contains(&format!("<message name=\"{op}Request\">"))
                    && body.contains(&format!("<part name=\"{part}\"")),
                "{op} {part}"
            );
        }
    }
    assert!(body.contains(
        "parameterOrder=\"authorizedKey src srcCallerID dst dstCallerID timeout callinfo\""
    ));
}

#[tokio::test]
async fn a_wrong_key_answers_minus_one_in_each_shape() {
    let f = fixture();
    for key in ["", "nope", "abc.def"] {
        let k = [("authorizedKey", key)];
        assert_eq!(f.call("originateCall", &k).await, "-1");
        assert_eq!(f.call("originateCallStatus", &k).await, "-1");
        assert_eq!(f.call("originateCallCancel", &k).await, "-1");
        assert_eq!(f.call("extensionPbx", &k).await, "-1");
        assert_eq!(f.call("cdrData", &k).await, "-1");
        assert_eq!(f.call("cdrCustom", &k).await, "-1");
        assert_eq!(f.call("statusQueues", &k).await, "-1");
        assert_eq!(f.call("getAgentLoggedInfo", &k).await, "-1");
        assert_eq!(f.call("getUserByAgent", &k).await, "-1");
        assert_eq!(f.call("getUserInfo", &k).await, "-1");
        assert_eq!(f.call("getAgentTimes", &k).await, "-1");
        assert_eq!(f.call("agentSessionDetail", &k).await, "-1");
        assert_eq!(f.call("getAgentLogin", &k).await, "-1");
        assert_eq!(f.call("sendSms", &k).await, "-1");
        assert_eq!(f.call("statusSms", &k).await, "-1");
        for op in ["loginAgent", "logoutAgent", "pauseAgent", "unpauseAgent"] {
            assert_eq!(f.call(op, &k).await, "false", "{op}");
        }
        let rec = f.call("recordingPbx", &k).await;
        assert!(rec.contains("<recording status=\"-1\""), "{rec}");
    }
}

#[tokio::test]
async fn keyless_reports_answer_only_to_client_networks() {
    let f = fixture();
    let args = [
        ("Cola", "q_ventas"),
        ("Agente", ""),
        ("FechaInicio", "2026-01-01 00:00:00"),
        ("FechaFin", "2026-01-02 00:00:00"),
    ];
    assert_eq!(
        f.call_from("queueData", &args, "192.0.2.9:5000").await,
        "-1"
    );
    let ok = f.call_from("queueData", &args, "127.0.0.1:5000").await;
    assert!(ok.contains("<queue_activity>"), "{ok}");
    let args = [
        ("Cola", "q_ventas"),
        ("FechaInicio", "2026-01-01 00:00:00"),
        ("FechaFin", "2026-01-02 00:00:00"),
    ];
    assert_eq!(
        f.call_from("agentData", &args, "[2001:db8::1]:5000").await,
        "-1"
    );
    let ok = f.call("agentData", &args).await;
    assert!(ok.contains("<agents>"), "{ok}");
    let unknown = [
        ("Cola", "q_nada"),
        ("FechaInicio", "2026-01-01 00:00:00"),
        ("FechaFin", "2026-01-02 00:00:00"),
    ];
    assert_eq!(f.call("agentData", &unknown).await, "-6");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_keyless_reports_see_the_forwarded_client() {
    // The engine behind a reverse proxy on loopback: every request's peer is 127.0.0.1.
    let f = fixture_sections(
        "",
        &format!("{SMS_THROUGH_PBX}[http]\ntrusted_proxies = [\"127.0.0.1\"]"),
    );
    let args = [
        ("Cola", "q_ventas"),
        ("Agente", ""),
        ("FechaInicio", "2026-01-01 00:00:00"),
        ("FechaFin", "2026-01-02 00:00:00"),
    ];
    let ask = |peer: &'static str, xff: Option<&'static str>| {
        let body = envelope("queueData", &args);
        let f = &f;
        async move {
            let (status, body) = f.post_forwarded(body, Some(peer), xff).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            parse_request(body.as_bytes()).unwrap().params[0]
                .1
                .clone()
                .unwrap_or_default()
        }
    };
    // An outside client through the proxy: refused, though the peer is loopback.
    assert_eq!(ask("127.0.0.1:5000", Some("203.0.113.9")).await, "-1");
    // It cannot pass for a local client by sending its own header through the proxy.
    assert_eq!(
        ask("127.0.0.1:5000", Some("127.0.0.1, 203.0.113.9")).await,
        "-1"
    );
    // Nor directly: from an untrusted peer the header is ignored.
    assert_eq!(ask("192.0.2.9:5000", Some("127.0.0.1")).await, "-1");
    // A local client through the proxy, and the proxy's own requests, are allowed.
    assert!(ask("127.0.0.1:5000", Some("127.0.0.5"))
        .await
        .contains("<queue_activity>"));
    assert!(ask("127.0.0.1:5000", None)
        .await
        .contains("<queue_activity>"));
}

#[tokio::test]
async fn users_and_agents_are_looked_up() {
    let f = fixture();
    let k = f.key.as_str();
    assert_eq!(
        f.call("getUserByAgent", &[("authorizedKey", k), ("agent", "2101")])
            .await,
        "ana"
    );
    assert_eq!(
        f.call("getUserByAgent", &[("authorizedKey", k), ("agent", "2999")])
            .await,
        ""
    );
    assert_eq!(
        f.call("getUserByAgent", &[("authorizedKey", k), ("agent", "")])
            .await,
        "-2"
    );
    assert_eq!(
        f.call("getUserByAgent", &[("authorizedKey", k), ("agent", "a b")])
            .await,
        "-2"
    );
    let info = f
        .call("getUserInfo", &[("authorizedKey", k), ("username", "ana")])
        .await;
    assert!(
        info.contains(
            "<user nombre=\"Ana Pérez\" email=\"ana@example.com\" perfil=\"operador\" \
             supervisor=\"0\" agente=\"1\" nroAgente=\"2101\"/>"
        ),
        "{info}"
    );
    assert_eq!(
        f.call(
            "getUserInfo",
            &[("authorizedKey", k), ("username", "nadie")]
        )
        .await,
        ""
    );
    assert_eq!(
        f.call("getUserInfo", &[("authorizedKey", k), ("username", "")])
            .await,
        "-2"
    );
    assert_eq!(
        f.call(
            "getAgentLoggedInfo",
            &[("authorizedKey", k), ("username", "")]
        )
        .await,
        "-2"
    );
    assert_eq!(
        f.call(
            "getAgentLoggedInfo",
            &[("authorizedKey", k), ("username", "nadie")]
        )
        .await,
        "0"
    );
}

#[test]
fn arguments_by_name_or_by_position() {
    let call = |op: &str, params: &[(&str, Option<&str>)]| SoapCall {
        operation: op.into(),
        params: params
            .iter()
            .map(|(n, v)| (n.to_string(), v.map(str::to_owned)))
            .collect(),
    };
    // Named as in the WSDL: an omitted part is absent, not its neighbour.
    let c = call(
        "queueData",
        &[
            ("Cola", Some("q_ventas")),
            ("FechaInicio", Some("2026-01-01 00:00:00")),
            ("FechaFin", Some("2026-01-02 00:00:00")),
        ],
    );
    assert_eq!(arg(&c, 1, "Agente"), None);
    assert_eq!(arg(&c, 2, "FechaInicio"), Some("2026-01-01 00:00:00"));
    // Any case; the vendor's other spelling of the key.
    let c = call(
        "getAgentLoggedInfo",
        &[("AUTORIZEDKEY", Some("k.s")), ("UserName", Some(" ana "))],
    );
    assert_eq!(arg(&c, 0, "authorizedKey"), Some("k.s"));
    assert_eq!(arg(&c, 1, "username"), Some("ana"));
    // Foreign names: by position.
    let c = call(
        "getUserByAgent",
        &[("param0", Some("k.s")), ("numeroAgente", Some("2101"))],
    );
    assert_eq!(arg(&c, 1, "agent"), Some("2101"));
    let c = call(
        "getUserByAgent",
        &[("key", Some("k.s")), ("agent", Some(""))],
    );
    assert_eq!(arg(&c, 1, "agent"), None);
}

mod commands;
mod panel_calls;
mod reports;

#[tokio::test]
async fn reports_of_today_so_far_equal_those_folded_from_the_journal() {
    // A range from today's 00:00:00 that has not ended is answered from the running day
    // figures; one that ended is folded from the journal. Over the same lines (a session, a
    // queue call, a pause, all over) both say the same.
    let f = fixture();
    let tz = jiff::tz::TimeZone::get("America/Montevideo").unwrap();
    let now = UnixTime::now().0;
    let today = wire::start_of_day(UnixTime(now), &tz).unwrap();
    let base = (now - 3000).max(today.0 + 1);
    let span = (now - 10 - base).max(0);
    let lines = [
        ("MANAGER", "2101", QueueEvent::AddMember, vec![""]),
        ("c1", "NONE", QueueEvent::EnterQueue, vec!["", "0981", "1"]),
        ("c1", "2101", QueueEvent::Connect, vec!["5", "c1.1", "2"]),
        (
            "c1",
            "2101",
            QueueEvent::CompleteCaller,
            vec!["5", "40", "1"],
        ),
        ("c2", "NONE", QueueEvent::EnterQueue, vec!["", "0982", "1"]),
        ("c2", "NONE", QueueEvent::Abandon, vec!["1", "1", "8"]),
        ("MANAGER", "2101", QueueEvent::Pause, vec!["almuerzo"]),
        ("MANAGER", "2101", QueueEvent::Unpause, vec![""]),
        ("MANAGER", "2101", QueueEvent::RemoveMember, vec![""]),
    ];
    crate::test_support::append_queue_lines(
        &f.dir.path().join("store.db"),
        "q_ventas",
        base,
        span,
        lines.to_vec(),
    );
    let ini = wire::format_date(today, &tz);
    let open = wire::format_date(UnixTime(today.0 + 86_400), &tz);
    let ended = wire::format_date(UnixTime(now - 2), &tz);
    let key = f.key.clone();
    for agent in ["", "2101"] {
        let ask = |fin: &str| {
            vec![
                ("Cola", "q_ventas".to_owned()),
                ("Agente", agent.to_owned()),
                ("FechaInicio", ini.clone()),
                ("FechaFin", fin.to_owned()),
            ]
        };
        let today = f.call("queueData", &pairs(&ask(&open))).await;
        let folded = f.call("queueData", &pairs(&ask(&ended))).await;
        // A caller's own lines name no agent: only without an agent filter.
        assert_eq!(
            today.contains("action=\"ABANDON\""),
            agent.is_empty(),
            "{today}"
        );
        assert!(today.contains("action=\"PAUSE\""), "{today}");
        assert_eq!(today, folded, "queueData, agent {agent:?}");
    }
    for op in ["getAgentTimes", "agentSessionDetail"] {
        for (agent, queue) in [("", ""), ("2101", "q_ventas")] {
            let ask = |fin: &str| {
                vec![
                    ("authorizedKey", key.clone()),
                    ("inicio", ini.clone()),
                    ("fin", fin.to_owned()),
                    (
                        if op == "getAgentTimes" {
                            "agente"
                        } else {
                            "userID"
                        },
                        agent.to_owned(),
                    ),
                    ("cola", queue.to_owned()),
                ]
            };
            let today = f.call(op, &pairs(&ask(&open))).await;
            let folded = f.call(op, &pairs(&ask(&ended))).await;
            assert!(today.contains("2101"), "{op}: {today}");
            assert_eq!(today, folded, "{op}, agent {agent:?}, queue {queue:?}");
        }
    }
}

/// `(name, value)` pairs borrowed as the fixture's calls take them.
fn pairs<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
