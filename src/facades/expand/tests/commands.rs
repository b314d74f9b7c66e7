//! SMS, originate and PBX commands: the codes without a PBX (what reaches the PBX is
//! `tests/app_fake_ami.rs`'s), the seed's originate example, faults, the HTTP SMS gateway and a failing store.

use super::*;

#[tokio::test]
async fn without_the_pbx_sms_are_refused_and_drafts_kept() {
    let f = fixture();
    let k = f.key.as_str();
    let send = |data: &str, recip: &str| {
        vec![
            ("authorizedKey", k.to_owned()),
            ("msgId", "0".to_owned()),
            ("msgData", data.to_owned()),
            ("msgRecip", recip.to_owned()),
        ]
    };
    // Bad input (too long, a recipient out of its alphabet, no text) is refused before anything
    // is sent: without a PBX every send answers 0, so tests/app_fake_ami.rs shows it, by the
    // MessageSend the PBX never receives.
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
    // That malformed values are refused before the PBX is asked cannot be seen here (without a
    // PBX every originateCall answers 0): tests/app_fake_ami.rs shows no Originate reaches it.
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
    let f = fixture_sections(
        "",
        &format!(
            "[sms]\ngateway_url = \"http://127.0.0.1:{port}/sms/send\"\n\
             gateway_token = \"s3cret\"\nfrom = \"Centralita\"\n"
        ),
    );
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
