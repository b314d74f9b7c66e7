//! `Dialers/uploadbase` and `uploadbasewithtimezone`: imported in the background, progress
//! through `Dialers/uploadstatus`, bounded sizes, the body limit raised for them only.

use super::dialers::{create_ventas, dialer_fixture, fields, n};
use super::*;

async fn wait_done(f: &Fixture, auth: &str, campaign: &str, filename: &str) -> Value {
    let body = fields(&[("campaign", campaign), ("filename", filename)]);
    for _ in 0..500 {
        let (status, text) = post(&f.router, "Dialers/uploadstatus", Some(auth), &body).await;
        assert_eq!(status, StatusCode::OK);
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            if v["done"] == true {
                return v;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the upload never ended");
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn uploadbase_imports_in_the_background_and_reports_its_progress() {
    let (f, id) = dialer_fixture().await;
    let sup = login(&f.router, "sup").await;
    let file = "Ventas->;098344484;var1=val1:var2=val2;099124484:099111111;9999;1001\n\
                Ventas->;098344485\n\
                Ventas->;098344484\n\
                Otra->;098344486\n\
                Ventas->;no-number\n";
    let body = fields(&[
        ("filename", "base1.csv"),
        ("fileb64", &b64(file)),
        ("campaign", "Ventas->"),
        ("cant", "5"),
        ("username", "sup"),
    ]);
    assert_eq!(
        post(&f.router, "Dialers/uploadbase", Some(&sup), &body).await,
        (StatusCode::OK, "1".to_owned())
    );
    let v = wait_done(&f, &sup, "Ventas->", "base1.csv").await;
    assert_eq!(
        (
            &v["read"],
            &v["imported"],
            &v["duplicates"],
            &v["rejected"],
            &v["cant"],
            &v["failed"]
        ),
        (
            &json!(5),
            &json!(2),
            &json!(1),
            &json!(2),
            &json!(5),
            &json!(false)
        )
    );
    let contacts = f.services.dialer.store().contacts(id, None, 0, 10).unwrap();
    assert_eq!(contacts.len(), 2);
    let first = &contacts[0].spec;
    assert_eq!(first.alternatives, vec![n("099124484"), n("099111111")]);
    assert_eq!(first.agent.as_deref(), Some("1001"));
    assert_eq!(first.zone.as_str(), "America/Montevideo");

    // The same file again adds nothing.
    post(&f.router, "Dialers/uploadbase", Some(&sup), &body).await;
    let v = wait_done(&f, &sup, "Ventas->", "base1.csv").await;
    assert_eq!((&v["imported"], &v["duplicates"]), (&json!(0), &json!(3)));

    // With a time zone: contacts without their own zone get it; an unknown zone is 0.
    let tz_body = |zone: &str| {
        fields(&[
            ("filename", "base2.csv"),
            (
                "fileb64",
                &b64("Ventas->;5491155550000\nVentas->;098000111;;;;;Europe/Madrid\n"),
            ),
            ("campaign", "Ventas->"),
            ("cant", "2"),
            ("username", "sup"),
            ("timezone", zone),
        ])
    };
    assert_eq!(
        said(
            &f.router,
            "Dialers/uploadbasewithtimezone",
            &sup,
            &tz_body("Mars/Olympus")
        )
        .await,
        "0"
    );
    assert_eq!(
        said(
            &f.router,
            "Dialers/uploadbasewithtimezone",
            &sup,
            &tz_body("America/Bogota")
        )
        .await,
        "1"
    );
    let v = wait_done(&f, &sup, "Ventas->", "base2.csv").await;
    assert_eq!(v["imported"], json!(2));
    let contacts = f.services.dialer.store().contacts(id, None, 0, 10).unwrap();
    let zone_of = |num: &str| {
        contacts
            .iter()
            .find(|c| c.spec.main == n(num))
            .unwrap()
            .spec
            .zone
            .as_str()
            .to_owned()
    };
    assert_eq!(zone_of("098000111"), "Europe/Madrid");
    assert_eq!(zone_of("5491155550000"), "America/Bogota");

    // Refusals: an agent (403), an unknown campaign, bad base64, no job of that name (0).
    let ana = login(&f.router, "ana").await;
    assert_eq!(
        post(&f.router, "Dialers/uploadbase", Some(&ana), &body)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let unknown = body.replace("campaign=Ventas-%3E", "campaign=Nadie-%3E");
    let bad = fields(&[
        ("filename", "x"),
        ("fileb64", "%%%not base64"),
        ("campaign", "Ventas->"),
    ]);
    let never = fields(&[("campaign", "Ventas->"), ("filename", "nunca.csv")]);
    refused_all(
        &f.router,
        &sup,
        &[
            ("Dialers/uploadbase", unknown),
            ("Dialers/uploadbase", bad),
            ("Dialers/uploadstatus", never),
        ],
    )
    .await;
}

#[tokio::test]
async fn uploads_over_the_maximum_are_refused_before_decoding() {
    let f = fixture_with("[ucontact]\nmax_upload_bytes = 1024\n");
    create_ventas(&f).await;
    let sup = login(&f.router, "sup").await;
    let line = "Ventas->;098344484\n";
    let big = line.repeat(1024 / line.len() + 1);
    let body = |file: &str| {
        fields(&[
            ("filename", "b.csv"),
            ("fileb64", &b64(file)),
            ("campaign", "Ventas->"),
        ])
    };
    assert_eq!(
        said(&f.router, "Dialers/uploadbase", &sup, &body(&big)).await,
        "0"
    );
    assert_eq!(
        said(&f.router, "Dialers/uploadbase", &sup, &body(line)).await,
        "1"
    );
    // A `+` of the base64 a client did not form-encode arrives as a space: read as `+`.
    let raw = "filename=c.csv&campaign=Ventas-%3E&fileb64=VmVudGFzLT47MDk4MDAwMjI0O2E9Pj4+Cg==";
    assert_eq!(said(&f.router, "Dialers/uploadbase", &sup, raw).await, "1");
    let v = wait_done(&f, &sup, "Ventas->", "c.csv").await;
    assert_eq!(v["imported"], json!(1));
}

#[tokio::test]
async fn upload_bodies_past_the_server_limit_reach_only_the_upload_operations() {
    let (f, _) = dialer_fixture().await;
    let sup = login(&f.router, "sup").await;
    let app = crate::http::router(
        Arc::new(crate::http::FixedHealth::healthy()),
        f.router.clone(),
        crate::http::HttpLimits::with_body_limit(64 << 10),
    );
    let file: String = (0..8000)
        .map(|i| format!("Ventas->;0990{i:05}\n"))
        .collect();
    assert!(file.len() > 128 << 10);
    let send = |op: &str, body: String| {
        let req = Request::post(format!("/Integra/resources/{op}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", sup.clone())
            .body(Body::from(body))
            .unwrap();
        app.clone().oneshot(req)
    };
    let body = fields(&[
        ("filename", "grande.csv"),
        ("fileb64", &b64(&file)),
        ("campaign", "Ventas->"),
    ]);
    let resp = send("Dialers/UploadBase", body.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v = wait_done(&f, &sup, "Ventas->", "grande.csv").await;
    assert_eq!(v["imported"], json!(8000));
    // Any other operation keeps the server's limit.
    let resp = send("Dialers/Respool", body).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn uploadstatus_answers_after_a_restart_from_the_store() {
    let (f, _) = dialer_fixture().await;
    let sup = login(&f.router, "sup").await;
    let file = "Ventas->;098344484\nOtra->;098344486\nVentas->;098344485\n";
    let body = fields(&[
        ("filename", "base1.csv"),
        ("fileb64", &b64(file)),
        ("campaign", "Ventas->"),
        ("cant", "3"),
        ("username", "sup"),
    ]);
    assert_eq!(
        post(&f.router, "Dialers/uploadbase", Some(&sup), &body).await,
        (StatusCode::OK, "1".to_owned())
    );
    let before = wait_done(&f, &sup, "Ventas->", "base1.csv").await;

    // A new engine over the same store.
    let services = Arc::new(crate::test_support::services(f.config.clone()));
    let keys = Arc::new(KeyVerifier::new(
        services.directory.clone(),
        services.logins.clone(),
    ));
    let router = routes(services, keys, f.config.ucontact.clone());
    let sup = login(&router, "sup").await;
    let status = fields(&[("campaign", "Ventas->"), ("filename", "base1.csv")]);
    let (code, text) = post(&router, "Dialers/uploadstatus", Some(&sup), &status).await;
    assert_eq!(code, StatusCode::OK);
    let after: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(after, before);
    assert_eq!(
        (
            &after["state"],
            &after["imported"],
            &after["rejected"],
            &after["bytes_done"]
        ),
        (&json!("done"), &json!(2), &json!(1), &json!(file.len()))
    );
    assert_eq!(after["errors"][0]["line"], json!(2));
    assert!(after["finished"].is_string());
}
