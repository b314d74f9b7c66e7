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

fn fixture() -> Fixture {
    fixture_with("sms_uri_template = \"pjsip:carrier/sip:{number}@192.0.2.1\"")
}

/// A fixture whose `[expand]` section also holds `expand_lines`.
fn fixture_with(expand_lines: &str) -> Fixture {
    fixture_sections(expand_lines, "")
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
    let services = Arc::new(crate::test_support::services(config));
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
    let router = routes(services, keys).layer(DefaultBodyLimit::max(64 * 1024));
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
        "sms_uri_template = \"pjsip:carrier/sip:{number}@192.0.2.1\"",
        "[http]\ntrusted_proxies = [\"127.0.0.1\"]",
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

#[tokio::test]
async fn report_parameters_get_their_documented_codes() {
    let f = fixture();
    let k = f.key.as_str();
    let times = |from: &'static str, to: &'static str, agent: &'static str, queue: &'static str| {
        [
            ("authorizedKey", k.to_owned()),
            ("inicio", from.to_owned()),
            ("fin", to.to_owned()),
            ("agente", agent.to_owned()),
            ("cola", queue.to_owned()),
        ]
    };
    let call = |args: [(&'static str, String); 5]| {
        let f = &f;
        async move {
            let a: Vec<(&str, &str)> = args.iter().map(|(n, v)| (*n, v.as_str())).collect();
            f.call("getAgentTimes", &a).await
        }
    };
    let d1 = "2026-01-01 00:00:00";
    let d2 = "2026-01-02 00:00:00";
    assert_eq!(call(times("2026-01-01", d2, "", "")).await, "-4");
    assert_eq!(call(times(d1, "mañana", "", "")).await, "-5");
    assert_eq!(call(times(d1, "", "", "")).await, "-5");
    assert_eq!(call(times(d2, d1, "", "")).await, "-8");
    assert_eq!(
        call(times(d1, "2026-06-01 00:00:00", "", "")).await,
        "-8",
        "longer than max_report_days"
    );
    assert_eq!(
        call(times("2099-01-01 00:00:00", "2099-01-02 00:00:00", "", "")).await,
        "-9"
    );
    assert_eq!(call(times(d1, d2, "", "q_nada")).await, "-6");
    assert_eq!(call(times(d1, d2, "nadie", "")).await, "-7");
    assert_eq!(call(times(d1, d2, "a<b", "")).await, "-2");
    assert_eq!(call(times(d1, d2, "", "q ventas")).await, "-2");
    assert_eq!(call(times(d1, d2, "ana", "q_ventas")).await, "-10");

    let detail = |from: &str, to: &str, user: &str, queue: &str| {
        [
            ("authorizedKey", k.to_owned()),
            ("inicio", from.to_owned()),
            ("fin", to.to_owned()),
            ("userID", user.to_owned()),
            ("cola", queue.to_owned()),
        ]
    };
    let dcall = |args: [(&'static str, String); 5]| {
        let f = &f;
        async move {
            let a: Vec<(&str, &str)> = args.iter().map(|(n, v)| (*n, v.as_str())).collect();
            f.call("agentSessionDetail", &a).await
        }
    };
    assert_eq!(dcall(detail("x", d2, "", "")).await, "-3");
    assert_eq!(dcall(detail(d1, "x", "", "")).await, "-4");
    assert_eq!(dcall(detail(d2, d1, "", "")).await, "-4");
    assert_eq!(dcall(detail(d1, d2, "", "q_nada")).await, "-5");
    assert_eq!(dcall(detail(d1, d2, "nadie", "")).await, "-6");
    assert_eq!(dcall(detail(d1, d2, "a<b", "")).await, "-2");
    let empty = dcall(detail(d1, d2, "ana", "")).await;
    assert!(empty.contains("<agents>\n</agents>"), "{empty}");

    assert_eq!(
        f.call("getAgentLogin", &[("authorizedKey", k), ("extensions", "")])
            .await,
        "-4"
    );
    let many = vec!["1001"; MAX_EXTENSIONS + 1].join(",");
    assert_eq!(
        f.call(
            "getAgentLogin",
            &[("authorizedKey", k), ("extensions", &many)]
        )
        .await,
        "-2"
    );
    // Without the PBX the live state is unknown: "error desconocido".
    assert_eq!(
        f.call(
            "getAgentLogin",
            &[("authorizedKey", k), ("extensions", "1001")]
        )
        .await,
        "-3"
    );
    assert_eq!(
        f.call(
            "getAgentLoggedInfo",
            &[("authorizedKey", k), ("username", "ana")]
        )
        .await,
        "-3"
    );
    assert_eq!(
        f.call(
            "cdrCustom",
            &[("authorizedKey", k), ("inicio", d1), ("fin", "x")]
        )
        .await,
        "-5"
    );
    let none = f
        .call(
            "cdrData",
            &[
                ("authorizedKey", k),
                ("uniqueid", ""),
                ("inicio", d1),
                ("fin", d2),
            ],
        )
        .await;
    assert!(none.contains("<cdr>\n</cdr>"), "{none}");
}

#[tokio::test]
async fn sms_input_is_checked_before_anything_is_sent() {
    let f = fixture();
    let k = f.key.as_str();
    let long = "x".repeat(161);
    let send = |data: &str, recip: &str| {
        vec![
            ("authorizedKey", k.to_owned()),
            ("msgId", "0".to_owned()),
            ("msgData", data.to_owned()),
            ("msgRecip", recip.to_owned()),
        ]
    };
    for args in [
        send(&long, "099123456"),
        send("hola", "099&1"),
        send("", "099123456"),
    ] {
        let a: Vec<(&str, &str)> = args.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(f.call("sendSms", &a).await, "0");
    }
    // No PBX: nothing can be sent.
    let a = send("hola", "099123456");
    let a: Vec<(&str, &str)> = a.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(f.call("sendSms", &a).await, "0");
    // A draft needs no PBX.
    let a = send("borrador", "");
    let a: Vec<(&str, &str)> = a.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let id = f.call("sendSms", &a).await;
    assert!(id.parse::<i64>().unwrap() > 0, "{id}");
    assert_eq!(
        f.call("statusSms", &[("authorizedKey", k), ("idSMS", &id)])
            .await,
        "DRAFT"
    );
    assert_eq!(
        f.call("statusSms", &[("authorizedKey", k), ("idSMS", "999999")])
            .await,
        ""
    );
    assert_eq!(
        f.call("statusSms", &[("authorizedKey", k), ("idSMS", "x")])
            .await,
        ""
    );
}

#[tokio::test]
async fn without_the_pbx_commands_fail_with_their_codes() {
    let f = fixture();
    let k = f.key.as_str();
    assert_eq!(
        f.call(
            "originateCall",
            &[
                ("authorizedKey", k),
                ("src", "1001"),
                ("srcCallerID", "Ana"),
                ("dst", "5551010"),
                ("dstCallerID", "Cliente"),
                ("timeout", "20"),
                ("callinfo", "a=1"),
            ]
        )
        .await,
        "0"
    );
    // Malformed values are refused before the PBX is asked.
    let long = "x".repeat(1025);
    for (src, dst, info) in [
        ("1001&x", "5551010", ""),
        ("1001", "555;1010", ""),
        ("1001", "5551010", long.as_str()),
    ] {
        assert_eq!(
            f.call(
                "originateCall",
                &[
                    ("authorizedKey", k),
                    ("src", src),
                    ("srcCallerID", ""),
                    ("dst", dst),
                    ("dstCallerID", ""),
                    ("timeout", ""),
                    ("callinfo", info),
                ]
            )
            .await,
            "0"
        );
    }
    assert_eq!(
        f.call(
            "originateCallStatus",
            &[("authorizedKey", k), ("originatedID", "x;y")]
        )
        .await,
        "0"
    );
    assert_eq!(
        f.call(
            "loginAgent",
            &[
                ("authorizedKey", k),
                ("agent", "nadie"),
                ("extension", "1001")
            ]
        )
        .await,
        "false"
    );
}

/// The envelope of eXpand's own `originateCall` example, `originateCall(key, "701", "Juan
/// Perez", "927126666", "Netgate", 20, info="01-43-1")`: positional parts with the keyword part
/// named `info` (as SOAPpy sends keyword arguments: `v1`...`v6`, then `info`).
fn seed_originate_envelope(key: &str) -> String {
    envelope(
        "originateCall",
        &[
            ("v1", key),
            ("v2", "701"),
            ("v3", "Juan Perez"),
            ("v4", "927126666"),
            ("v5", "Netgate"),
            ("v6", "20"),
            ("info", "01-43-1"),
        ],
    )
}

#[test]
fn the_seed_originate_example_asks_for_its_call() {
    let key = "319a67432f51ed53938542b809320dd2";
    // Its parts as the WSDL names them (PHP SoapClient, zeep, suds), `info` by its name, and
    // positional with `info` named.
    let named = |info: &str| {
        envelope(
            "originateCall",
            &[
                ("authorizedKey", key),
                ("src", "701"),
                ("srcCallerID", "Juan Perez"),
                ("dst", "927126666"),
                ("dstCallerID", "Netgate"),
                ("timeout", "20"),
                (info, "01-43-1"),
            ],
        )
    };
    for body in [
        named("callinfo"),
        named("info"),
        seed_originate_envelope(key),
    ] {
        let call = parse_request(body.as_bytes()).unwrap();
        assert_eq!(arg(&call, 0, "authorizedKey"), Some(key));
        // 701 is a phone of this PBX: it rings first.
        let req = originate_request(&call, |s| s == "701").unwrap();
        assert_eq!(
            req.mode,
            OriginateMode::ClickToCall {
                source: crate::core::originate::Extension::parse("701").unwrap()
            },
            "{body}"
        );
        assert_eq!(req.destination.as_str(), "927126666");
        assert_eq!(req.call_data.render(), "01-43-1", "stored as given");
        assert_eq!(req.ring_timeout, Some(Duration::from_secs(20)));
        assert_eq!(
            req.source_caller_id.as_ref().and_then(|c| c.name()),
            Some("Juan Perez")
        );
        assert_eq!(
            req.destination_caller_id.as_ref().and_then(|c| c.name()),
            Some("Netgate")
        );
        // "Extensión o número": where 701 is no phone, it is a number called first.
        let req = originate_request(&call, |_| false).unwrap();
        assert_eq!(
            req.mode,
            OriginateMode::OutsideSource {
                source: PhoneNumber::parse("701").unwrap()
            }
        );
    }
    // A named client that leaves `callinfo` out has none (the part after `timeout` is not
    // read by position when it bears one of our names).
    let call = parse_request(
        envelope(
            "originateCall",
            &[
                ("authorizedKey", key),
                ("src", "701"),
                ("dst", "927126666"),
                ("timeout", "20"),
            ],
        )
        .as_bytes(),
    )
    .unwrap();
    let req = originate_request(&call, |_| true).unwrap();
    assert!(req.call_data.is_empty());
    assert!(req.source_caller_id.is_none());
    // Hostile values are refused, never dialed: a source that is neither a phone nor a number.
    for src in ["1001&Local/x", "${SHELL(id)}", "PJSIP/1001"] {
        let call = parse_request(
            envelope(
                "originateCall",
                &[("authorizedKey", key), ("src", src), ("dst", "927126666")],
            )
            .as_bytes(),
        )
        .unwrap();
        assert!(matches!(
            originate_request(&call, |_| false),
            Err(Failure::BadParams)
        ));
    }
}

#[tokio::test]
async fn malformed_envelopes_and_unknown_operations_are_faults() {
    let f = fixture();
    let (status, body) = f.post_from("<nope".into(), None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("<faultcode>SOAP-ENV:Client</faultcode>"),
        "{body}"
    );
    let (status, body) = f.post_from(envelope("dropDatabase", &[]), None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("Procedure 'dropDatabase' not present"),
        "{body}"
    );
    let (status, _) = f
        .post_from(" ".repeat(128 * 1024), Some("127.0.0.1:1"))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn sms_go_out_through_the_http_gateway_when_configured() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // The provider takes every message but the one to 0990000000.
    let provider = tokio::spawn(async move {
        let mut bodies = Vec::new();
        for _ in 0..3 {
            let (mut s, _) = listener.accept().await.unwrap();
            let (head, body) = crate::sms_http::read_request(&mut s).await;
            assert!(head.contains("Authorization: Bearer s3cret"), "{head}");
            bodies.push(body);
            let status = if bodies.last().is_some_and(|b| b.contains("0990000000")) {
                "500 No"
            } else {
                "200 OK"
            };
            s.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                .await
                .unwrap();
        }
        bodies
    });
    let f = fixture_with(&format!(
        "sms_gateway_url = \"http://127.0.0.1:{port}/sms/send\"\nsms_gateway_token = \"s3cret\"\nsms_from = \"Centralita\""
    ));
    let k = f.key.as_str();
    let id = f
        .call(
            "sendSms",
            &[
                ("authorizedKey", k),
                ("msgId", "0"),
                ("msgData", "Su turno: 10:30"),
                ("msgRecip", "099111222 099333444"),
            ],
        )
        .await;
    let mut status = String::new();
    for _ in 0..100 {
        status = f
            .call("statusSms", &[("authorizedKey", k), ("idSMS", &id)])
            .await;
        if status != "PENDING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "SENT");
    let failed = f
        .call(
            "sendSms",
            &[
                ("authorizedKey", k),
                ("msgId", "0"),
                ("msgData", "x"),
                ("msgRecip", "0990000000"),
            ],
        )
        .await;
    for _ in 0..100 {
        status = f
            .call("statusSms", &[("authorizedKey", k), ("idSMS", &failed)])
            .await;
        if status != "PENDING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "ERROR");
    let bodies = provider.await.unwrap();
    assert_eq!(
        bodies,
        [
            "to=099111222&text=Su%20turno%3A%2010%3A30&from=Centralita",
            "to=099333444&text=Su%20turno%3A%2010%3A30&from=Centralita",
            "to=0990000000&text=x&from=Centralita",
        ]
    );
}

#[tokio::test]
async fn a_failing_store_is_an_unknown_error_without_internals() {
    let f = fixture();
    let k = f.key.clone();
    let k = k.as_str();
    // The directory's agents become unreadable (keys still verify).
    let conn = rusqlite::Connection::open(f.dir.path().join("store.db")).unwrap();
    conn.execute_batch("ALTER TABLE agent RENAME TO agent_gone")
        .unwrap();
    let d1 = "2026-01-01 00:00:00";
    let d2 = "2026-01-02 00:00:00";
    assert_eq!(
        f.call("getUserByAgent", &[("authorizedKey", k), ("agent", "2101")])
            .await,
        "-3"
    );
    assert_eq!(
        f.call("getUserInfo", &[("authorizedKey", k), ("username", "ana")])
            .await,
        "-3"
    );
    assert_eq!(
        f.call(
            "getAgentTimes",
            &[
                ("authorizedKey", k),
                ("inicio", d1),
                ("fin", d2),
                ("agente", "ana"),
                ("cola", "")
            ]
        )
        .await,
        "-3"
    );
    assert_eq!(
        f.call(
            "agentSessionDetail",
            &[
                ("authorizedKey", k),
                ("inicio", d1),
                ("fin", d2),
                ("userID", "ana"),
                ("cola", "")
            ]
        )
        .await,
        "-2"
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

mod panel_calls {
    use super::*;
    use crate::core::ids::{ChannelName, UniqueId};
    use crate::core::live::{CallLive, DeviceStatus, LiveFact, QueueMember};

    fn queue() -> QueueName {
        QueueName::new("q_ventas").unwrap()
    }

    /// 2101 on PJSIP/1001, member of q_ventas.
    fn state() -> LiveState {
        let mut s = LiveState::new();
        s.apply(LiveFact::MemberAdded {
            queue: queue(),
            member: QueueMember {
                interface: "PJSIP/1001".into(),
                name: "2101".into(),
                state_interface: "PJSIP/1001".into(),
                status: DeviceStatus::NotInUse,
                pause: None,
                calls_taken: 0,
                logged_in_since: Some(UnixTime(100)),
                penalty: 0,
                last_call: None,
            },
        });
        s
    }

    fn channel(s: &mut LiveState, uniqueid: &str, peer: &str, since: i64) {
        s.apply(LiveFact::ChannelCreated {
            endpoint: "1001".into(),
            uniqueid: UniqueId::new(uniqueid),
            call: CallLive {
                channel: ChannelName::new(format!("PJSIP/1001-{uniqueid}")),
                peer: "s".into(),
                since: UnixTime(since),
                dialing: false,
                linkedid: None,
                up: true,
            },
        });
        s.apply(LiveFact::ChannelPeer {
            endpoint: "1001".into(),
            uniqueid: UniqueId::new(uniqueid),
            peer: peer.into(),
        });
    }

    fn view(calls: &[wire::PanelCall]) -> Vec<(String, String, String, String, String)> {
        calls
            .iter()
            .map(|c| {
                (
                    c.kind.clone(),
                    c.callerid.clone(),
                    c.connecttime.clone(),
                    c.uniqueid.clone(),
                    c.agent.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn an_outbound_call_from_the_members_phone_is_out_with_its_number() {
        let mut s = state();
        assert!(member_calls(
            &queue(),
            "2101",
            "PJSIP/1001",
            &s,
            &*crate::test_support::naming()
        )
        .is_empty());
        channel(&mut s, "u1", "5551012", 200);
        assert_eq!(
            view(&member_calls(
                &queue(),
                "2101",
                "PJSIP/1001",
                &s,
                &*crate::test_support::naming()
            )),
            [(
                "out".into(),
                "5551012".into(),
                "200".into(),
                "u1".into(),
                "2101".into()
            )]
        );
        // A call to another extension is not an outbound call.
        let mut s = state();
        channel(&mut s, "u2", "1002", 200);
        assert!(member_calls(
            &queue(),
            "2101",
            "PJSIP/1001",
            &s,
            &*crate::test_support::naming()
        )
        .is_empty());
    }

    #[test]
    fn a_connected_queue_call_keeps_the_callers_number() {
        let mut s = state();
        s.apply(LiveFact::AgentConnected {
            queue: queue(),
            interface: "PJSIP/1001".into(),
            caller: UniqueId::new("c1"),
            hold_secs: 12,
            at: UnixTime(300),
        });
        channel(&mut s, "u3", "099555111", 295);
        assert_eq!(
            view(&member_calls(
                &queue(),
                "2101",
                "PJSIP/1001",
                &s,
                &*crate::test_support::naming()
            )),
            [(
                "in".into(),
                "099555111".into(),
                "300".into(),
                "c1".into(),
                "2101".into()
            )]
        );
        // It entered the queue 12 s before it was connected (the seed's `intime`).
        let calls = member_calls(
            &queue(),
            "2101",
            "PJSIP/1001",
            &s,
            &*crate::test_support::naming(),
        );
        assert_eq!(calls[0].intime, "288");
        // Listed only under its own queue; never also as an outbound call.
        let other = QueueName::new("q_soporte").unwrap();
        assert!(member_calls(
            &other,
            "2101",
            "PJSIP/1001",
            &s,
            &*crate::test_support::naming()
        )
        .is_empty());
        // An outbound call's intime is when it was placed, as the seed's `out` calls show.
        let mut s = state();
        channel(&mut s, "u1", "5551012", 200);
        assert_eq!(
            member_calls(
                &queue(),
                "2101",
                "PJSIP/1001",
                &s,
                &*crate::test_support::naming()
            )[0]
            .intime,
            "200"
        );
    }

    #[test]
    fn the_panels_agent_says_its_last_change_refusal_and_warning() {
        let limits: BTreeMap<String, u64> = [("almuerzo".to_owned(), 60)].into();
        let agent = |s: &LiveState| {
            let v = s.agent_by_interface("PJSIP/1001");
            panel_agent(
                "2101",
                "Ana",
                v.as_ref(),
                s,
                &*crate::test_support::naming(),
                &limits,
            )
        };
        let mut s = state();
        // Logged in at 100: its last change, not 0.
        let a = agent(&s);
        assert_eq!(
            (a.last_change, a.last_congestion, a.warning),
            (100, 0, false)
        );
        // Paused at 400 for lunch: the pause is the last change.
        s.apply(LiveFact::MemberPaused {
            queue: queue(),
            interface: "PJSIP/1001".into(),
            reason: Some("almuerzo".into()),
            at: UnixTime(400),
        });
        let a = agent(&s);
        assert_eq!((a.status.as_str(), a.last_change), ("busyout", 400));
        // Past the reason's 60 s (now is long after 400): a warning.
        assert!(a.warning);
        // A queue call refused at once (rang 0.2 s) at 500: lastcongestion; a long ring is a
        // no-answer, not a refusal.
        let mut s = state();
        s.apply(LiveFact::AgentRingNoAnswer {
            queue: queue(),
            interface: "PJSIP/1001".into(),
            ring_ms: 200,
            at: UnixTime(500),
        });
        s.apply(LiveFact::AgentRingNoAnswer {
            queue: queue(),
            interface: "PJSIP/1001".into(),
            ring_ms: 15_000,
            at: UnixTime(600),
        });
        let a = agent(&s);
        assert_eq!((a.last_congestion, a.warning), (500, false));
        // Its phone unreachable while logged in: a warning.
        s.apply(LiveFact::ContactStatus {
            endpoint: "1001".into(),
            status: "Unreachable".into(),
            ip: None,
        });
        assert!(agent(&s).warning);
    }
}
