//! The simple lists (`/expandweb3/api/external/lists/simple...`): the seed's four example
//! requests replayed as the document writes them (its `Authorization` header included, the key
//! imported as the replaced product's), every status and body, the 409, hostile input.

use super::*;
use crate::core::lists::{ListName, ListRef};
use crate::core::Secret;

/// The seed's examples, verbatim (spaces and blank lines as the document shows them).
const SEED_GET_LISTS: &str = "GET /expandweb3/api/external/lists/simple HTTP/1.1 \n\
Host: cliente.expand \n\
Authorization: Basic ZXh0ZXJuYWxfdXNlcjoxZGVEOTljZjk= \n\
Content-Type: application/json \n\n";
const SEED_GET_ELEMENTS: &str =
    "GET /expandweb3/api/external/lists/simple/cartera/elements HTTP/1.1 \n\
Host: cliente.expand \n\
Authorization: Basic ZXh0ZXJuYWxfdXNlcjoxZGVEOTljZjk= \n\
Content-Type: application/json \n\n";
const SEED_POST: &str = "POST /expandweb3/api/external/lists/simple/cartera/elements HTTP/1.1 \n\
Host: cliente.expand \n\
Authorization: Basic ZXh0ZXJuYWxfdXNlcjoxZGVEOTljZjk= \n\
Content-Type: application/json \n\
\n\
{ \n\
    \"key\": \"27126666\", \n\
    \"value\": \"112\" \n\
} \n";
const SEED_PUT: &str =
    "PUT /expandweb3/api/external/lists/simple/cartera/elements/27126666 HTTP/1.1 \n\
Host: cliente.expand \n\
Authorization: Basic ZXh0ZXJuYWxfdXNlcjoxZGVEOTljZjk= \n\
Content-Type: application/json \n\
\n\
{ \n\
    \"value\": \"valor nuevo\" \n\
} \n";

/// The key the seed's `Authorization` header carries (`external_user:1deD99cf9`).
const SEED_KEY: &str = "external_user.1deD99cf9";

/// Sends a raw HTTP/1.1 request text through the router.
async fn replay(f: &Fixture, raw: &str) -> (StatusCode, Value) {
    let (head, body) = raw.split_once("\n\n").unwrap();
    let mut lines = head.lines();
    let mut start = lines.next().unwrap().split_whitespace();
    let (method, path) = (start.next().unwrap(), start.next().unwrap());
    let mut req = Request::builder().method(method).uri(path);
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        req = req.header(name.trim(), value.trim());
    }
    let req = req.body(Body::from(body.to_owned())).unwrap();
    let res = f.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = to_bytes(res.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn with_cartera() -> Fixture {
    let f = fixture().await;
    f.services
        .directory
        .store()
        .import_credential("CRM", CredentialApi::ExpandRest, Secret::new(SEED_KEY))
        .unwrap();
    f.services
        .lists
        .create_list(ListName::parse("cartera").unwrap())
        .await
        .unwrap();
    f
}

fn lists(p: &str) -> String {
    format!("{LISTS}{p}")
}

#[tokio::test]
async fn the_seed_examples_work_as_written() {
    let f = with_cartera().await;
    let (status, body) = replay(&f, SEED_GET_LISTS).await;
    assert_eq!(status, StatusCode::OK);
    let id = body[0]["id"].as_i64().unwrap();
    assert_eq!(
        body,
        json!([{"id": id, "name": "cartera", "type": "simple", "elements": 0}])
    );
    assert_eq!(
        replay(&f, SEED_GET_ELEMENTS).await,
        (StatusCode::OK, json!([]))
    );

    let (status, body) = replay(&f, SEED_POST).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body, json!({"key": "27126666", "value": "112"}));
    // The same request again: the key exists.
    assert_eq!(
        replay(&f, SEED_POST).await,
        (
            StatusCode::CONFLICT,
            json!({"errrorCode": "Duplicated_key"})
        )
    );
    assert_eq!(
        replay(&f, SEED_GET_ELEMENTS).await,
        (StatusCode::OK, json!([{"key": "27126666", "value": "112"}]))
    );

    let (status, body) = replay(&f, SEED_PUT).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"key": "27126666", "value": "valor nuevo"}));
    // What a flow's branch asks sees the change.
    assert_eq!(
        f.services
            .lists
            .contains("cartera", "27126666")
            .await
            .unwrap(),
        Some("valor nuevo".to_owned())
    );
    let (_, body) = replay(&f, SEED_GET_LISTS).await;
    assert_eq!(body[0]["elements"], 1);
}

#[tokio::test]
async fn one_list_by_name_or_id_and_element_crud() {
    let f = with_cartera().await;
    let l = f
        .services
        .lists
        .list(ListRef::Name(ListName::parse("cartera").unwrap()))
        .await
        .unwrap();
    let by_name = f.get(&lists("/cartera")).await;
    assert_eq!(by_name.0, StatusCode::OK);
    assert_eq!(by_name.1["name"], "cartera");
    assert_eq!(f.get(&lists(&format!("/{}", l.id.0))).await, by_name);
    let (status, body) = f
        .call(
            "POST",
            &lists(&format!("/{}/elements", l.id.0)),
            Some(r#"{"key": "5679", "value": "Un elemento"}"#),
        )
        .await;
    assert_eq!(
        (status, body["value"].clone()),
        (StatusCode::CREATED, json!("Un elemento"))
    );
    assert_eq!(
        f.get(&lists("/cartera/elements/5679")).await,
        (
            StatusCode::OK,
            json!({"key": "5679", "value": "Un elemento"})
        )
    );
    assert_eq!(
        f.call("DELETE", &lists("/cartera/elements/5679"), None)
            .await,
        (
            StatusCode::OK,
            json!({"key": "5679", "value": "Un elemento"})
        )
    );
    assert_eq!(
        f.get(&lists("/cartera/elements/5679")).await,
        (
            StatusCode::NOT_FOUND,
            json!({"errrorCode": "Element_not_found"})
        )
    );
    assert_eq!(
        f.call(
            "PUT",
            &lists("/cartera/elements/5679"),
            Some(r#"{"value": "x"}"#)
        )
        .await,
        (
            StatusCode::NOT_FOUND,
            json!({"errrorCode": "Element_not_found"})
        )
    );
    for path in ["/nada", "/nada/elements", "/999/elements"] {
        assert_eq!(
            f.get(&lists(path)).await,
            (
                StatusCode::NOT_FOUND,
                json!({"errrorCode": "List_not_found"})
            ),
            "{path}"
        );
    }
    // Each write is in the action journal with who asked.
    for action in ["list.element_add", "list.element_delete"] {
        let filter = crate::core::audit::ActionFilter {
            action: Some(action.to_owned()),
            ..Default::default()
        };
        let range = crate::core::TimeRange {
            from: crate::core::UnixTime(0),
            to: crate::core::UnixTime(i64::from(u32::MAX)),
        };
        let found = f.services.actions.list(range, &filter).unwrap();
        assert_eq!(found.len(), 1, "{action}");
        assert!(found[0].target.ends_with("/5679"), "{}", found[0].target);
        assert_eq!(found[0].outcome, "ok");
    }
}

#[tokio::test]
async fn hostile_or_malformed_input_is_refused_and_nothing_is_written() {
    let f = with_cartera().await;
    let path = lists("/cartera/elements");
    let post = |body: &'static str| f.call("POST", &path, Some(body));
    for body in [
        r#"{"key": "a b", "value": "x"}"#,
        r#"{"key": "${SHELL(id)}", "value": "x"}"#,
        r#"{"key": "1", "value": "a\r\nAction: Originate"}"#,
        r#"{"value": "x"}"#,
        r#"{"key": "1"}"#,
        r#"["1", "x"]"#,
        "{",
    ] {
        assert_eq!(
            post(body).await,
            (StatusCode::BAD_REQUEST, unknown_data_format()),
            "{body}"
        );
    }
    let long = format!(r#"{{"key": "1", "value": "{}"}}"#, "v".repeat(5000));
    let (status, _) = f
        .call("POST", &lists("/cartera/elements"), Some(&long))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        f.get(&lists("/cartera/elements")).await,
        (StatusCode::OK, json!([]))
    );
    // Without credentials, or with the SOAP API's key: 401.
    let (status, _) = f.call_as(None, "GET", &lists(""), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = f.call_as(Some(&f.soap_auth), "GET", &lists(""), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A method the path does not serve.
    let (status, _) = f.call("DELETE", &lists("/cartera"), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
