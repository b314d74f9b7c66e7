//! Fast-tier tests of the eXpand REST API through its router (`Router::oneshot`), with a real
//! store: authentication, every endpoint's status and body, the seed's examples, hostile input.
//! The pending outgoing calls panel is in [`outgoing_calls`].

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::config::Config;
use crate::core::campaigns::CampaignName;
use crate::core::dialer::campaign::CampaignState;
use crate::core::dialer::{CampaignId, DialerCampaign, ZoneName};
use crate::core::directory::QueueName;
use crate::test_support::TempDir;

mod lists;
pub(super) mod outgoing_calls;

struct Fixture {
    _dir: TempDir,
    router: Router,
    services: Arc<Services>,
    /// `Basic` credentials of an `expand-rest` key.
    auth: String,
    /// Those of a key for the SOAP API.
    soap_auth: String,
    campaign: CampaignId,
}

fn basic(key: &str) -> String {
    let (id, secret) = key.split_once('.').unwrap();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

async fn fixture() -> Fixture {
    let dir = TempDir::new("expand-rest");
    let p = dir.path();
    let text = format!(
        "[engine]\ntimezone = \"America/Montevideo\"\n[store]\npath = {:?}\n\
         [[node]]\nname = \"pbx1\"\ncdr_db = {:?}\nqueue_log = {:?}\nrecordings_dir = {:?}\n\
         [node.ami]\nhost = \"127.0.0.1\"\nusername = \"u\"\nsecret = \"s\"\n\
         [expand_rest]\nmax_body_bytes = 4096\n",
        p.join("store.db"),
        p.join("master.db"),
        p.join("queue_log"),
        p.join("monitor"),
    );
    let config = Arc::new(Config::from_toml(&text).unwrap());
    let services = Arc::new(crate::test_support::services(config.clone()));
    let store = services.directory.store();
    let key = store
        .create_credential("CRM", CredentialApi::ExpandRest)
        .unwrap()
        .key
        .expose()
        .to_owned();
    let soap = store
        .create_credential("SOAP", CredentialApi::Expand)
        .unwrap()
        .key
        .expose()
        .to_owned();
    let zone = ZoneName::parse("America/Montevideo").unwrap();
    let mut ventas = DialerCampaign::new(
        CampaignName::parse("ventas").unwrap(),
        QueueName::new("q_campanas").unwrap(),
        zone.clone(),
    );
    ventas.state = CampaignState::Active;
    let campaign = services.dialer.create(ventas).await.unwrap();
    let archivo = DialerCampaign::new(
        CampaignName::parse("archivo").unwrap(),
        QueueName::new("q_campanas").unwrap(),
        zone,
    );
    services.dialer.create(archivo).await.unwrap();
    let keys = Arc::new(KeyVerifier::new(
        services.directory.clone(),
        services.logins.clone(),
    ));
    let router = routes(services.clone(), keys, config.expand_rest.clone());
    Fixture {
        _dir: dir,
        router,
        services,
        auth: basic(&key),
        soap_auth: basic(&soap),
        campaign,
    }
}

impl Fixture {
    async fn call(&self, method: &str, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        self.call_as(Some(&self.auth), method, path, body).await
    }

    /// `GET path` with the fixture's key.
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, None).await
    }

    async fn call_as(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(Body::from(body.unwrap_or("").to_owned())).unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    fn contacts(&self) -> String {
        format!("{DIALER_BASE}/campaigns/{}/contacts", self.campaign.0)
    }
}

fn unknown_data_format() -> Value {
    json!({"errrorCode": "Unknown_data_format"})
}

#[tokio::test]
async fn missing_wrong_or_foreign_credentials_are_401_with_a_challenge() {
    let f = fixture().await;
    let path = format!("{DIALER_BASE}/campaigns");
    let wrong = basic("nokey.nosecret");
    let garbage = "Basic !!!not-base64".to_owned();
    let bearer = "Bearer abc.def".to_owned();
    for auth in [
        None,
        Some(&wrong),
        Some(&f.soap_auth),
        Some(&garbage),
        Some(&bearer),
    ] {
        let req = Request::get(&path);
        let req = match auth {
            Some(a) => req.header("authorization", a.as_str()),
            None => req,
        };
        let res = f
            .router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=\"eXpand\""));
        let body = to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"errrorCode": "Authentication_failure"})
        );
    }
    let (status, _) = f.get(&path).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn campaigns_are_listed_filtered_ordered_and_read_one_by_one() {
    let f = fixture().await;
    let base = format!("{DIALER_BASE}/campaigns");
    let (status, list) = f.get(&base).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ventas", "archivo"]);
    let (_, list) = f.get(&format!("{base}?order_by=name&order=asc")).await;
    assert_eq!(list[0]["name"], "archivo");
    let (_, list) = f.get(&format!("{base}?State=Active")).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["state"], "Active");
    let (_, list) = f.get(&format!("{base}?State=Incomplete")).await;
    assert_eq!(list[0]["name"], "archivo");
    let (_, list) = f.get(&format!("{base}?State=Stored")).await;
    assert_eq!(list, json!([]));
    for bad in ["?State=Lost", "?order=up", "?order_by=phone"] {
        let (status, body) = f.get(&format!("{base}{bad}")).await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, unknown_data_format()),
            "{bad}"
        );
    }
    let (status, one) = f.get(&format!("{base}/{}", f.campaign.0)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["name"], "ventas");
    assert_eq!(one["type"], "progressive");
    assert!(one["retries"].as_array().unwrap().len() > 1);
    assert_eq!(one["schedule"]["timezone"], "America/Montevideo");
    let (status, body) = f.get(&format!("{base}/999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"errrorCode": "Campaign_not_found"}));
    for bad in [
        "abc",
        "-1",
        "0",
        "1%27%20OR%201=1",
        "99999999999999999999999",
    ] {
        let (status, body) = f.get(&format!("{base}/{bad}")).await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, unknown_data_format()),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_contact_is_added_read_edited_disabled_and_enabled() {
    let f = fixture().await;
    let (status, c) = f
        .call(
            "POST",
            &f.contacts(),
            Some(r#"{"name":"Rodrigo Pérez","numcall":"099123456","enable":"true","info":"{\"plan\":\"ADSL\"}"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = c["id"].as_i64().unwrap();
    assert_eq!(c["name"], "Rodrigo Pérez");
    assert_eq!(c["numcall"], "099123456");
    assert_eq!(c["enable"], true);
    assert_eq!(c["state"], "Pending");
    assert_eq!(c["info"], "{\"plan\":\"ADSL\"}");
    assert_eq!(c["history"], json!([]));
    // The store has it, in the core's terms.
    let stored = f
        .services
        .dialer
        .store()
        .contact(crate::core::dialer::ContactId(id))
        .unwrap()
        .unwrap();
    assert_eq!(stored.spec.name, "Rodrigo Pérez");
    assert_eq!(stored.state, crate::core::dialer::ContactState::Pending);

    let one = format!("{}/{id}", f.contacts());
    let (status, got) = f.get(&one).await;
    assert_eq!((status, &got), (StatusCode::OK, &c));

    // The same number again: a conflict.
    let (status, body) = f
        .call(
            "POST",
            &f.contacts(),
            Some(r#"{"name":"Otro","numcall":"099123456"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"errrorCode": "Duplicated_number"}));

    // Disabled: canceled, not dialed; enabled again: pending.
    let (status, e) = f
        .call("PUT", &one, Some(r#"{"name":"Rodrigo","enable":false}"#))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&e["name"], &e["enable"], &e["state"], &e["numcall"]),
        (
            &json!("Rodrigo"),
            &json!(false),
            &json!("Canceled"),
            &json!("099123456")
        )
    );
    let (_, e) = f
        .call(
            "PUT",
            &one,
            Some(r#"{"enable":true,"numcall":"099765432","info":null}"#),
        )
        .await;
    assert_eq!(
        (&e["enable"], &e["state"], &e["numcall"], &e["info"]),
        (
            &json!(true),
            &json!("Pending"),
            &json!("099765432"),
            &Value::Null
        )
    );

    let (status, body) = f
        .call("PUT", &format!("{}/424242", f.contacts()), Some("{}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"errrorCode": "Contact_not_found"}));
    let (status, _) = f
        .get(&format!("{DIALER_BASE}/campaigns/77/contacts/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = f
        .call(
            "POST",
            &format!("{DIALER_BASE}/campaigns/77/contacts"),
            Some(r#"{"numcall":"1234"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"errrorCode": "Campaign_not_found"}));
}

#[tokio::test]
async fn hostile_bodies_are_unknown_data_format_or_too_large() {
    let f = fixture().await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases = [
        "",
        "garbage",
        "{\"numcall\":",
        "[1,2,3]",
        "{\"name\":\"Ana\"}",
        "{\"numcall\":\"123\\r\\nAction: Originate\"}",
        "{\"numcall\":\"12&34\"}",
        "{\"numcall\":\"123\",\"name\":\"a\\u0000b\"}",
        "{\"numcall\":\"123\",\"enable\":\"sí\"}",
        "{\"numcall\":\"123\",\"info\":\"no es json\"}",
        &deep[..2000],
    ];
    for body in cases {
        let (status, answer) = f.call("POST", &f.contacts(), Some(body)).await;
        assert_eq!(
            (status, answer),
            (StatusCode::BAD_REQUEST, unknown_data_format()),
            "{body:.60}"
        );
    }
    let name = "x".repeat(200);
    let (status, _) = f
        .call(
            "POST",
            &f.contacts(),
            Some(&format!("{{\"numcall\":\"123\",\"name\":\"{name}\"}}")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let huge = format!(
        "{{\"numcall\":\"123\",\"info\":\"{}\"}}",
        "a".repeat(10_000)
    );
    let (status, _) = f.call("POST", &f.contacts(), Some(&huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing was added.
    let (_, page) = f.get(&f.contacts()).await;
    assert_eq!(page["recordsTotal"], 0);
}

#[tokio::test]
async fn the_contact_list_pages_filters_orders_and_is_not_injectable() {
    let f = fixture().await;
    for (name, num) in [
        ("Rodrigo", "099000003"),
        ("Ana", "099000001"),
        ("Bruno", "099000002"),
        ("50% off_", "099000004"),
    ] {
        let (status, _) = f
            .call(
                "POST",
                &f.contacts(),
                Some(&json!({"name": name, "numcall": num, "enable": true}).to_string()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let names = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |q: &str| format!("{}?{q}", f.contacts());
    let (status, page) = f.get(&list("order_by=name&order=asc")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["recordsTotal"], 4);
    assert_eq!(names(&page), ["50% off_", "Ana", "Bruno", "Rodrigo"]);
    let (_, page) = f
        .get(&list("order_by=numcall&order=desc&start=1&limit=2"))
        .await;
    assert_eq!(page["recordsTotal"], 4);
    assert_eq!(names(&page), ["Rodrigo", "Bruno"]);
    let (_, page) = f.get(&list("like=Rodrigo")).await;
    assert_eq!(names(&page), ["Rodrigo"]);
    let (_, page) = f.get(&list("like=rodr")).await;
    assert_eq!(names(&page), ["Rodrigo"]);
    let (_, page) = f.get(&list("like=000002")).await;
    assert_eq!(names(&page), ["Bruno"]);
    // Wildcards are text; SQL is text.
    let (_, page) = f.get(&list("like=%25")).await;
    assert_eq!(names(&page), ["50% off_"]);
    let (_, page) = f.get(&list("like=_")).await;
    assert_eq!(names(&page), ["50% off_"]);
    for injection in [
        "%27%20OR%201%3D1%20--",
        "%22%29%3B%20DROP%20TABLE%20dialer_contact%3B%20--",
        "%5C",
    ] {
        let (status, page) = f.get(&list(&format!("like={injection}"))).await;
        assert_eq!(status, StatusCode::OK, "{injection}");
        assert_eq!(page["recordsTotal"], 0, "{injection}");
    }
    let (_, page) = f.get(&list("state=Pending")).await;
    assert_eq!(page["recordsTotal"], 4);
    let (_, page) = f.get(&list("state=Completed")).await;
    assert_eq!(page, json!({"recordsTotal": 0, "data": []}));
    let (_, page) = f.get(&list("limit=1000000")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 4);
    for bad in [
        format!("like={}", "a".repeat(65)),
        "limit=-1".into(),
        "start=x".into(),
        "state=Lost".into(),
        "order_by=1;DROP".into(),
    ] {
        let (status, body) = f.get(&list(&bad)).await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, unknown_data_format()),
            "{bad}"
        );
    }
    let (status, body) = f
        .get(&format!("{DIALER_BASE}/campaigns/999/contacts"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"errrorCode": "Campaign_not_found"}));
}

#[tokio::test]
async fn the_activity_export_answers_the_seed_examples() {
    let f = fixture().await;
    for (name, num) in [("Bruno", "099000002"), ("Ana", "099000001")] {
        f.call(
            "POST",
            &f.contacts(),
            Some(&json!({"name": name, "numcall": num}).to_string()),
        )
        .await;
    }
    let activity = format!("{}/activity", f.contacts());
    // The seed's first example, as written.
    let (status, page) = f
        .get(&format!("{activity}?order_by=name&order_asc&state=Pending"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["recordsTotal"], 2);
    assert_eq!(page["data"][0]["name"], "Ana");
    assert_eq!(page["data"][0]["lastattempt"], Value::Null);
    // The second: added in February 2019 (none), quotes as the seed writes them.
    let (status, page) = f
        .get(&format!(
            "{activity}?saddtimestamp='2019-02-01'&eaddtimestamp=%272019-02-28%E2%80%99"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["recordsTotal"], 0);
    let today = wire::format_date(crate::core::UnixTime::now(), &f.services.time_zone);
    let day = &today[..10];
    let (_, page) = f
        .get(&format!(
            "{activity}?saddtimestamp={day}&eaddtimestamp={day}&order_by=timestampadd&order=desc"
        ))
        .await;
    assert_eq!(page["recordsTotal"], 2);
    let (_, page) = f
        .get(&format!(
            "{activity}?State=Pending&sstimestamp={day}&order_by=statetimestamp"
        ))
        .await;
    assert_eq!(page["recordsTotal"], 2);
    let (status, body) = f.get(&format!("{activity}?sstimestamp=ayer")).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, unknown_data_format())
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let f = fixture().await;
    let (status, body) = f.get("/expandweb3/api/campaign/external/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"errrorCode": "Not_found"}));
    let (status, body) = f
        .call("DELETE", &format!("{DIALER_BASE}/campaigns/1"), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, json!({"errrorCode": "Method_not_allowed"}));
}

/// The OpenAPI document lists exactly the routes served, each with its methods.
#[test]
fn the_openapi_document_lists_exactly_the_routes_served() {
    let doc: Value =
        serde_json::from_str(include_str!("../../../../openapi/expand_rest.json")).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.push((method.clone(), path.clone()));
            }
        }
    }
    let mut served: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
}

/// Every route in [`ROUTES`] is routed (not the catch-all 404).
#[tokio::test]
async fn every_listed_route_is_served() {
    let f = fixture().await;
    for (method, path) in ROUTES {
        let path = path
            .replace("{campaign}", &f.campaign.0.to_string())
            .replace("{contact}", "1")
            .replace("{callid}", "1");
        let (status, body) = f
            .call(
                &method.to_ascii_uppercase(),
                &path,
                Some("{\"numcall\":\"5550001\"}"),
            )
            .await;
        assert_ne!(body, json!({"errrorCode": "Not_found"}), "{method} {path}");
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
}
