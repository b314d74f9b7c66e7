//! The webservice through its router, without a PBX: WSDL, tokens, Faults, and every
//! documented parameter's missing or invalid case.

use super::*;
use crate::config::Config;
use crate::core::agent_digest::digest_hash;
use crate::core::md5::md5_hex;
use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

struct Fixture {
    _dir: crate::test_support::TempDir,
    services: Arc<crate::facades::Services>,
    app: Router,
    token: String,
}

fn fixture() -> Fixture {
    let dir = crate::test_support::TempDir::new("uscall");
    let text = format!(
        "[engine]\ntimezone = \"America/Sao_Paulo\"\n[store]\npath = {:?}\n\
         [[node]]\nname = \"pbx1\"\nrecordings_dir = {:?}\n\
         [node.ami]\nhost = \"127.0.0.1\"\nusername = \"u\"\nsecret = \"s\"\n\
         [dialing]\nddrs = [\"26002000\"]\n\
         [[dialing.category]]\nid = \"1\"\n[[dialing.category.rule]]\npattern = \"5551XXX\"\n",
        dir.path().join("s.db"),
        dir.path().join("rec"),
    );
    let config = Arc::new(Config::from_toml(&text).unwrap());
    let services = Arc::new(crate::test_support::services(config.clone()));
    let mut agent = Agent::new(AgentNumber::new("2204").unwrap());
    agent.full_name = "Ana Souza".into();
    agent.username = "ana".into();
    agent.queues = vec![QueueName::new("q_soporte").unwrap()];
    services.directory.store().upsert_agent(&agent).unwrap();
    services
        .agent_digests
        .store()
        .set_digest(
            &agent.number,
            &digest_hash(&Secret::new("segredo")).unwrap(),
        )
        .unwrap();
    services
        .directory
        .store()
        .upsert_pause_reason(&PauseReason {
            id: PauseReasonId::new("almoco").unwrap(),
            name: "Almoço".into(),
            max_seconds: Some(3600),
            queues: vec![],
        })
        .unwrap();
    let token = services
        .directory
        .store()
        .create_credential("CRM", CredentialApi::Uscall)
        .unwrap()
        .key
        .expose()
        .to_owned();
    let keys = Arc::new(KeyVerifier::new(
        services.directory.clone(),
        services.logins.clone(),
    ));
    Fixture {
        app: routes(services.clone(), keys, config.uscall.clone()),
        services,
        token,
        _dir: dir,
    }
}

fn envelope(op: &str, parts: &[(&str, Option<&str>)]) -> String {
    let body: String = parts
        .iter()
        .map(|(n, v)| match v {
            Some(v) => format!("<{n} xsi:type=\"xsd:string\">{}</{n}>", soap::escape(v)),
            None => format!("<{n} xsi:nil=\"true\"/>"),
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\
         <SOAP-ENV:Body><ns1:{op} xmlns:ns1=\"urn:wsuscall\">{body}</ns1:{op}></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
}

async fn post(app: &Router, body: String) -> (StatusCode, String) {
    let resp = app
        .clone()
        .oneshot(Request::post(PATH).body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = to_bytes(resp.into_body(), 1 << 24).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// Calls `op` with `args` by position after the token (`None`: nil); returns the JSON answer.
async fn call(f: &Fixture, op: &str, args: &[Option<&str>]) -> Value {
    let names = OPERATIONS.iter().find(|(o, _)| *o == op).unwrap().1;
    let parts: Vec<(&str, Option<&str>)> = names[1..]
        .iter()
        .copied()
        .zip(args.iter().copied())
        .collect();
    call_named(f, op, names[0], &parts).await
}

#[tokio::test]
async fn the_wsdl_declares_every_operation_with_its_parts_in_order() {
    let f = fixture();
    let resp = f
        .app
        .clone()
        .oneshot(
            Request::get(format!("{PATH}?wsdl"))
                .header("Host", "pbx.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let wsdl =
        String::from_utf8(to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(wsdl.contains(&format!("location=\"http://pbx.example{PATH}\"")));
    for (op, parts) in OPERATIONS {
        let start = wsdl
            .find(&format!("<message name=\"{op}Request\">"))
            .unwrap_or_else(|| panic!("{op}"));
        let end = start + wsdl[start..].find("</message>").unwrap();
        let declared: Vec<&str> = wsdl[start..end]
            .split("<part name=\"")
            .skip(1)
            .map(|p| p.split('"').next().unwrap())
            .collect();
        assert_eq!(&declared, parts, "{op}");
        assert!(wsdl.contains(&format!(
            "<operation name=\"{op}\" parameterOrder=\"{}\">",
            parts.join(" ")
        )));
    }
    assert_eq!(wsdl.matches("<portType").count(), 1);
}

#[tokio::test]
async fn tokens_are_checked_and_faults_are_for_envelopes_only() {
    let f = fixture();
    for token in [None, Some("nope"), Some("abc.def")] {
        let (status, body) = post(&f.app, envelope("getPauses", &[("token", token)])).await;
        assert_eq!(status, StatusCode::OK);
        let text = crate::facades::soap::parse_request(body.as_bytes())
            .unwrap()
            .params[0]
            .1
            .clone()
            .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["codigo"], "token_invalido", "{token:?}");
        assert_eq!(v["retorno"], "Token inválido");
    }
    let (status, body) = post(
        &f.app,
        envelope("startCallura", &[("token", Some(&f.token))]),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("Procedure 'startCallura' not present"),
        "{body}"
    );
    let (status, body) = post(&f.app, "<not-soap/>".into()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("SOAP-ENV:Client"));
}

#[tokio::test]
async fn directory_operations_answer_without_a_pbx() {
    let f = fixture();
    let v = call(&f, "getAgent", &[]).await;
    assert_eq!(v["status"], "ok");
    assert_eq!(v["retorno"][0]["num"], "2204");
    assert_eq!(v["retorno"][0]["nome"], "Ana Souza");
    assert_eq!(v["retorno"][0]["filachave"], "q_soporte");
    assert!(v["retorno"][0]["senha"].is_null());
    let v = call(&f, "getPauses", &[]).await;
    assert_eq!(
        v["retorno"],
        json!([{"id": "almoco", "pause": "Almoço", "tempo": 3600, "filas": "ALL"}])
    );
    let v = call(&f, "ccenterMetricsReports", &[]).await;
    assert_eq!(
        v["retorno"].as_array().unwrap().len(),
        METRICS_REPORTS.len()
    );
    // No PBX yet: live operations say so.
    for op in [
        "agentStatus",
        "getQueue",
        "listTrunk",
        "extenStatus",
        "queueStatus",
    ] {
        let v = call(&f, op, &[]).await;
        assert_eq!(v["codigo"], "pbx_indisponivel", "{op}");
    }
    // The journal is empty: no calls today.
    let v = call(&f, "cdrSearch", &[]).await;
    assert_eq!(v["retorno"], json!([]));
    let v = call(&f, "cdrTariff", &[]).await;
    assert_eq!(v["retorno"], json!([]));
}

#[tokio::test]
async fn reports_answer_from_the_journal() {
    let f = fixture();
    for (op, args) in [
        ("ccenterAgents", vec![Some("2204"), Some("q_soporte")]),
        ("ccenterCdr", vec![None, None, Some("2204")]),
        ("ccenterPauses", vec![Some("detalhado")]),
        ("ccenterSessions", vec![Some("resumo"), Some("2204")]),
        (
            "ccenterMetrics",
            vec![Some("filas"), None, Some("q_soporte")],
        ),
        ("ccenterMetrics", vec![Some("atividade")]),
    ] {
        let v = call(&f, op, &args).await;
        assert_eq!(v["status"], "ok", "{op}: {v}");
        assert!(v["retorno"].is_array(), "{op}: {v}");
    }
    // A queue named in the filter is reported even without activity.
    let v = call(
        &f,
        "ccenterMetrics",
        &[Some("filas"), None, Some("q_soporte")],
    )
    .await;
    assert_eq!(v["retorno"][0]["fila"], "q_soporte");
    assert_eq!(v["retorno"][0]["oferecidas"], 0);
}

#[tokio::test]
async fn agent_login_digests_and_tokens_are_throttled() {
    let f = fixture();
    let right = md5_hex(b"segredo");
    let wrong = md5_hex(b"outra");
    let login = |digest: &str| {
        let digest = digest.to_owned();
        let f = &f;
        async move {
            call(
                f,
                "agentLogin",
                &[Some("2204"), Some("1005"), Some(&digest), None],
            )
            .await["codigo"]
                .clone()
        }
    };
    // The right digest gets past the password (and then finds no PBX in this test).
    assert_eq!(login(&right).await, "pbx_indisponivel");
    for _ in 0..5 {
        assert_eq!(login(&wrong).await, "senha_invalida");
    }
    // Locked out (default [auth]: 5 failures): the right digest is refused too.
    assert_eq!(login(&right).await, "senha_invalida");
    // An unknown agent is still told apart (getAgent lists the agents to any token holder).
    let unknown = call(
        &f,
        "agentLogin",
        &[Some("2999"), Some("1005"), Some(&right), None],
    )
    .await;
    assert_eq!(unknown["codigo"], "nao_encontrado");

    // Wrong tokens under the good token's id lock that id out; the token the engine has
    // already verified keeps working (the fast path).
    let (id, _) = f.token.split_once('.').unwrap();
    let names = OPERATIONS
        .iter()
        .find(|(o, _)| *o == "getPauses")
        .unwrap()
        .1;
    for i in 0..6 {
        let bad = format!("{id}.{i:064x}");
        let (_, body) = post(&f.app, envelope("getPauses", &[(names[0], Some(&bad))])).await;
        assert!(body.contains("token_invalido"), "{body}");
    }
    assert_eq!(call(&f, "getPauses", &[]).await["status"], "ok");
}

/// Sends `op` with the parts named as given (the token first, named `token_name`).
async fn call_named(
    f: &Fixture,
    op: &str,
    token_name: &str,
    parts: &[(&str, Option<&str>)],
) -> Value {
    let mut all = vec![(token_name, Some(f.token.as_str()))];
    all.extend_from_slice(parts);
    let (status, body) = post(&f.app, envelope(op, &all)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = crate::facades::soap::parse_request(body.as_bytes())
        .unwrap()
        .params[0]
        .1
        .clone()
        .unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn parts_named_as_the_document_spells_them_are_read() {
    // The document writes `Formato`, `Dataini` and `Datafin`; before, such parts were ignored
    // (a bad `Dataini` was not seen, a bad `Formato` neither).
    let f = fixture();
    let v = call_named(&f, "cdrTariff", "Token", &[("Dataini", Some("ontem"))]).await;
    assert_eq!(v["codigo"], "parametro_invalido", "{v}");
    assert!(v["retorno"].as_str().unwrap().contains("dataini"), "{v}");
    let v = call_named(
        &f,
        "cdrTariff",
        "token",
        &[("Dataini", None), ("Datafin", Some("2026-13-40 00:00:00"))],
    )
    .await;
    assert!(v["retorno"].as_str().unwrap().contains("datafin"), "{v}");
    let v = call_named(
        &f,
        "audioDownload",
        "token",
        &[("IDUNICO", Some("x")), ("Formato", Some("flac"))],
    )
    .await;
    assert_eq!(v["codigo"], "parametro_invalido", "{v}");
    assert!(v["retorno"].as_str().unwrap().contains("formato"), "{v}");
    // Positional parts with foreign names still work (the first is the token).
    let v = call_named(
        &f,
        "cdrTariff",
        "param0",
        &[
            ("param1", Some("2026-01-01 00:00:00")),
            ("param2", Some("nunca")),
        ],
    )
    .await;
    assert!(v["retorno"].as_str().unwrap().contains("datafin"), "{v}");
}

#[tokio::test]
async fn not_found_messages_are_correct_portuguese() {
    // They read "Pausa ... não encontrado" and "Categoria ... não encontrado" before.
    let f = fixture();
    for (op, args, want) in [
        (
            "startCall",
            vec![Some("outbound"), Some("1004"), Some("5551010"), Some("9")],
            "Categoria 9 não encontrada",
        ),
        (
            "startCall",
            vec![
                Some("clicktocall"),
                Some("5551010"),
                Some("26009999"),
                Some("1"),
            ],
            "DDR 26009999 não encontrado",
        ),
        (
            "audioDownload",
            vec![Some("nao-existe")],
            "Gravação não encontrada",
        ),
        (
            "agentStatus",
            vec![Some("2299")],
            "Agente 2299 não encontrado",
        ),
    ] {
        let v = call(&f, op, &args).await;
        assert_eq!(v["codigo"], "nao_encontrado", "{op}: {v}");
        assert_eq!(v["retorno"], want, "{op}: {v}");
    }
}

#[tokio::test]
async fn an_agent_is_found_by_user_name_as_in_every_facade() {
    // The core's one lookup: by user name, else by number. Before, USCall took numbers only
    // and answered `agentStatus("ana")` with "Agente ana não encontrado".
    let f = fixture();
    for (key, found) in [("ana", true), ("2204", true), ("zeca", false)] {
        let v = call(&f, "agentStatus", &[Some(key)]).await;
        assert_eq!(v["codigo"] == "nao_encontrado", !found, "{key}: {v}");
    }
}

#[tokio::test]
async fn an_agent_logged_in_before_dataini_counts_its_session_and_time() {
    // Before, USCall's reports read only the interval's lines: an agent logged in 6 s before
    // `dataini` and still logged in got `sessoes: 0` and no logged time.
    use crate::core::journal::QueueEvent;
    let f = fixture();
    let login = UnixTime::now().seconds() - 7200;
    let (from, to) = (login + 6, login + 6 + 600);
    // `<login>|MANAGER|q_soporte|2204|ADDMEMBER|` as the journal holds it.
    crate::test_support::append_queue_lines(
        &f._dir.path().join("s.db"),
        "q_soporte",
        login,
        0,
        vec![("MANAGER", "2204", QueueEvent::AddMember, vec![""])],
    );
    let tz = jiff::tz::TimeZone::get("America/Sao_Paulo").unwrap();
    let (ini, fin) = (
        wire::datetime(UnixTime(from), &tz),
        wire::datetime(UnixTime(to), &tz),
    );
    let v = call(
        &f,
        "ccenterSessions",
        &[Some("resumo"), Some("2204"), None, Some(&ini), Some(&fin)],
    )
    .await;
    assert_eq!(v["status"], "ok", "{v}");
    let row = &v["retorno"][0];
    assert_eq!(row["agente"], "2204", "{v}");
    assert_eq!(row["sessoes"], 1, "{v}");
    // Logged in for the whole interval; `datafin` is inclusive (its whole second counts).
    assert_eq!(row["duracao"], 601, "{v}");
    let v = call(
        &f,
        "ccenterAgents",
        &[Some("2204"), None, Some(&ini), Some(&fin)],
    )
    .await;
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["retorno"][0]["tempo_logado"], 601, "{v}");
}

#[tokio::test]
async fn queue_metrics_of_today_so_far_equal_those_folded_from_the_journal() {
    // Today so far (no dates) is answered from the running day figures; a range that ended is
    // folded from the journal. Over the same lines both say the same.
    use crate::core::journal::QueueEvent;
    let f = fixture();
    let tz = jiff::tz::TimeZone::get("America/Sao_Paulo").unwrap();
    let now = UnixTime::now().seconds();
    let today = wire::date_range(None, None, &tz, UnixTime(now))
        .unwrap()
        .from;
    let base = (now - 3000).max(today.seconds() + 1);
    let span = (now - 10 - base).max(0);
    let lines = [
        ("MANAGER", "2204", QueueEvent::AddMember, vec![""]),
        ("c1", "NONE", QueueEvent::EnterQueue, vec!["", "0981", "1"]),
        ("c1", "2204", QueueEvent::Connect, vec!["5", "c1.1", "2"]),
        (
            "c1",
            "2204",
            QueueEvent::CompleteCaller,
            vec!["5", "40", "1"],
        ),
        ("c2", "NONE", QueueEvent::EnterQueue, vec!["", "0982", "1"]),
        ("c2", "NONE", QueueEvent::Abandon, vec!["1", "1", "8"]),
        ("MANAGER", "2204", QueueEvent::Pause, vec!["almoco"]),
    ];
    crate::test_support::append_queue_lines(
        &f._dir.path().join("s.db"),
        "q_soporte",
        base,
        span,
        lines.to_vec(),
    );
    let ini = wire::datetime(today, &tz);
    let ended = wire::datetime(UnixTime(now - 2), &tz);
    for (report, agente, filas) in [
        ("filas", None, None),
        ("filas", None, Some("q_soporte,q_vendas")),
        ("atividade", None, None),
        ("atividade", Some("2204"), Some("q_soporte")),
    ] {
        let today = call(&f, "ccenterMetrics", &[Some(report), agente, filas]).await;
        let folded = call(
            &f,
            "ccenterMetrics",
            &[Some(report), agente, filas, Some(&ini), Some(&ended)],
        )
        .await;
        assert_eq!(today["status"], "ok", "{today}");
        assert_eq!(today, folded, "{report} {agente:?} {filas:?}");
    }
    let v = call(&f, "ccenterMetrics", &[Some("filas")]).await;
    let q = &v["retorno"][0];
    assert_eq!(
        (
            &q["fila"],
            &q["oferecidas"],
            &q["atendidas"],
            &q["abandonadas"]
        ),
        (&json!("q_soporte"), &json!(2), &json!(1), &json!(1)),
        "{v}"
    );
    let v = call(&f, "ccenterMetrics", &[Some("atividade"), Some("2204")]).await;
    assert_eq!(v["retorno"].as_array().unwrap().len(), 4, "{v}");
}

mod parameters;
mod ura;
