//! Live tier: eXpand's simple lists (`/expandweb3/api/external/lists/simple...`) against the
//! real engine, with the vendor document's examples as it writes them: Python `requests`
//! (`tests/clients/expand_lists/seed.py`) and curl, both sending the document's own
//! `Authorization: Basic ZXh0ZXJuYWxfdXNlcjoxZGVEOTljZjk=` (the key taken over with `admin
//! credential import`) to a list made with `admin list add`; the 409 of a duplicate key; a CSV
//! imported with `admin list import`; the elements checked in the engine's store.

#![cfg(feature = "live-lab")]

mod live_support;

use std::process::Command;

use serde_json::{json, Value};

use live_support::rest::healthy_engine;
use live_support::*;

const SEED_AUTH: &str = "Authorization: Basic ZXh0ZXJuYWxfdXNlcjoxZGVEOTljZjk=";

/// curl with the seed's headers: (status, body as JSON).
fn curl(method: &str, url: &str, body: Option<&str>) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-g", "-w", "\n%{http_code}", "-X", method])
        .args(["-H", SEED_AUTH, "-H", "Content-Type: application/json"]);
    if let Some(b) = body {
        cmd.args(["--data-binary", b]);
    }
    let out = cmd.arg(url).output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, "0"));
    let value = serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON ({e}): {body}"));
    (code.trim().parse().unwrap_or(0), value)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_examples_through_python_requests_and_curl() {
    let scratch = Scratch::new("live-expand-lists");
    let engine = healthy_engine(scratch.path(), "expand-lists", "");
    engine.admin(
        &[
            "credential",
            "import",
            "--system",
            "CRM",
            "--api",
            "expand-rest",
        ],
        "external_user.1deD99cf9\n",
    );
    let said = engine.admin(&["list", "add", "cartera"], "");
    assert!(said.contains("list cartera created"), "{said}");
    let base = engine.base_url();

    let script = repo().join("tests/clients/expand_lists/seed.py");
    let (ok, out, err) = run_client(&python(), &script, &[&base]);
    assert!(ok, "seed.py failed: {out}\n{err}");
    let got: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let id = got["lists"][1][0]["id"].as_i64().expect("the list's id");
    assert_eq!(
        got["lists"],
        json!([200, [{"id": id, "name": "cartera", "type": "simple", "elements": 0}]])
    );
    assert_eq!(got["elements_before"], json!([200, []]));
    assert_eq!(
        got["post"],
        json!([201, {"key": "27126666", "value": "112"}])
    );
    assert_eq!(
        got["post_again"],
        json!([409, {"errrorCode": "Duplicated_key"}])
    );
    assert_eq!(
        got["put"],
        json!([200, {"key": "27126666", "value": "valor nuevo"}])
    );
    assert_eq!(got["get"], got["put"]);
    assert_eq!(
        got["elements_after"],
        json!([200, [{"key": "27126666", "value": "valor nuevo"}]])
    );
    assert_eq!(got["one"][1]["elements"], 1);
    assert_eq!(got["no_auth"], 401);

    // curl, by the list's id, and a CSV imported beside.
    let lists = format!("{base}/expandweb3/api/external/lists/simple");
    let csv = scratch.path().join("cartera.csv");
    std::fs::write(&csv, "5679,Un elemento\n27126666;\"otro, valor\"\n").unwrap();
    let said = engine.admin(&["list", "import", "cartera", csv.to_str().unwrap()], "");
    assert!(
        said.contains("2 elements imported (1 new, 1 replaced)"),
        "{said}"
    );
    let (code, body) = curl("GET", &format!("{lists}/{id}/elements"), None);
    assert_eq!(
        (code, body),
        (
            200,
            json!([
                {"key": "27126666", "value": "otro, valor"},
                {"key": "5679", "value": "Un elemento"}
            ])
        )
    );
    let (code, body) = curl(
        "POST",
        &format!("{lists}/cartera/elements"),
        Some(r#"{"key": "5679", "value": "x"}"#),
    );
    assert_eq!((code, body), (409, json!({"errrorCode": "Duplicated_key"})));
    let (code, body) = curl("DELETE", &format!("{lists}/cartera/elements/5679"), None);
    assert_eq!(
        (code, body),
        (200, json!({"key": "5679", "value": "Un elemento"}))
    );
    let (code, body) = curl("GET", &format!("{lists}/cartera/elements/5679"), None);
    assert_eq!(
        (code, body),
        (404, json!({"errrorCode": "Element_not_found"}))
    );

    // What the store holds, read beside the engine.
    let db = rusqlite::Connection::open(scratch.store()).unwrap();
    let rows: Vec<(String, String)> = db
        .prepare(
            "SELECT e.key, e.value FROM key_list_element e JOIN key_list l ON l.id = e.list_id \
             WHERE l.name = 'cartera' ORDER BY e.key",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows, [("27126666".to_owned(), "otro, valor".to_owned())]);
}
