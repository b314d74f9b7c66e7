//! Live tier: the eXpand REST dialer module (`/expandweb3/api/campaign/external/...`) and the
//! pending outgoing calls panel (`/expandweb3/api/external/outgoingcalls/call`) driven by real
//! clients against the real engine on the lab: Python `requests`
//! (`tests/clients/expand_rest/seed.py`, `outgoing_calls.py`) and curl, with the vendor
//! document's examples; the answers are checked, and so are their effects in the engine's
//! store (contacts, names, info, states; scheduled calls, their numbers, agents, dates and
//! statuses).

#![cfg(feature = "live-lab")]

mod live_support;

use std::process::Command;

use live_support::rest::{create_campaign, healthy_engine, query_rows};
use live_support::*;

const CAMPAIGN: &str = "rest_ventas";
/// The pending calls panel's queue, as the vendor's examples name it: a campaign left
/// Incomplete, so nothing on it is dialed.
const PANEL: &str = "tecnologia";

/// `curl -s -u <user:password> -X <method> [-d body] <url>`: (status, body).
fn curl(method: &str, url: &str, auth: Option<&str>, body: Option<&str>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-g", "-w", "\n%{http_code}", "-X", method]);
    if let Some(a) = auth {
        cmd.args(["-u", a]);
    }
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary", b]);
    }
    let out = cmd.arg(url).output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("JSON ({e}): {s}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dialer_module_through_python_requests_and_curl() {
    let scratch = Scratch::new("live-expand-rest");
    let engine = healthy_engine(scratch.path(), "expand-rest", "");
    let key = engine.api_key("expand-rest", "CRM REST");
    let (user, password) = key.split_once('.').expect("<id>.<secret>");
    let auth = format!("{user}:{password}");
    create_campaign(&engine, CAMPAIGN);
    // Left Incomplete: the dialer does not call its contacts while the clients edit them.
    let base = engine.base_url();
    let api = format!("{base}/expandweb3/api/campaign/external");

    // curl: the campaign's id from the list.
    let (code, body) = curl("GET", &format!("{api}/campaigns"), Some(&auth), None);
    assert_eq!(code, 200, "{body}");
    let list = json(&body);
    let campaign = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == CAMPAIGN)
        .expect("the campaign is listed")["id"]
        .as_i64()
        .unwrap();
    let (code, body) = curl("GET", &format!("{api}/campaigns"), None, None);
    assert_eq!(code, 401);
    assert_eq!(
        json(&body),
        serde_json::json!({"errrorCode": "Authentication_failure"})
    );
    let (code, body) = curl(
        "GET",
        &format!("{api}/campaigns?State=Incomplete&order_by=name&order=desc"),
        Some(&auth),
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert!(json(&body)
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == CAMPAIGN && c["state"] == "Incomplete"));
    let (code, body) = curl(
        "POST",
        &format!("{api}/campaigns/{campaign}/contacts"),
        Some(&auth),
        Some("{\"name\":"),
    );
    assert_eq!(code, 400);
    assert_eq!(
        json(&body),
        serde_json::json!({"errrorCode": "Unknown_data_format"})
    );
    let (code, body) = curl(
        "GET",
        &format!(
            "{api}/campaigns/{campaign}/contacts/activity?order_by=name&order_asc&state=Pending"
        ),
        Some(&auth),
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["recordsTotal"], 0);

    // Python requests: the whole module.
    let (ok, out, err) = run_client(
        &python(),
        &repo().join("tests/clients/expand_rest/seed.py"),
        &[&base, user, password, &campaign.to_string()],
    );
    eprintln!("seed.py:\n{out}{err}");
    assert!(ok, "seed.py failed: {err}");
    let s = json(out.lines().last().expect("a summary"));
    assert_eq!(s["no_auth"][0], 401);
    assert_eq!(s["no_auth"][1]["errrorCode"], "Authentication_failure");
    assert!(s["no_auth"][2].as_str().unwrap().starts_with("Basic"));
    assert_eq!(s["wrong_auth"], 401);
    assert_eq!(s["campaigns"][0], 200);
    assert!(s["active"]
        .as_array()
        .unwrap()
        .iter()
        .all(|st| st == "Active"));
    assert_eq!(s["campaign"]["name"], CAMPAIGN);
    assert_eq!(s["add"][0], 201);
    assert_eq!(s["add"][1]["name"], "Rodrigo");
    assert_eq!(s["add"][1]["state"], "Pending");
    assert_eq!(s["add"][1]["info"], "{\"plan\": \"ADSL\"}");
    assert_eq!(s["add2"], 201);
    assert_eq!(s["add_bad"][0], 400);
    assert_eq!(s["add_bad"][1]["errrorCode"], "Unknown_data_format");
    assert_eq!(s["get"][0], 200);
    assert_eq!(s["get"][1]["numcall"], "5558001");
    assert_eq!(s["get_missing"], 404);
    assert_eq!(s["put"][0], 200);
    assert_eq!(s["put"][1]["state"], "Canceled");
    assert_eq!(s["put"][1]["name"], "Rodrigo P");
    assert_eq!(s["put_enable"], "Pending");
    assert_eq!(s["list"][1], 2);
    assert_eq!(s["list"][2], serde_json::json!(["Ana", "Rodrigo P"]));
    assert_eq!(s["like"], serde_json::json!(["Rodrigo P"]));
    assert_eq!(s["activity"][1], 2);
    assert_eq!(s["activity_2019"], serde_json::json!([200, 0]));
    assert_eq!(s["unknown_campaign"], 404);

    // The store: both contacts, with the names and info the clients gave.
    let db = rusqlite::Connection::open(scratch.store()).unwrap();
    let rows: Vec<(String, String, Option<String>, String)> = query_rows(
        &db,
        "SELECT main, name, info, state FROM dialer_contact WHERE campaign_id = ?1 ORDER BY main",
        [campaign],
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, "5558001");
    assert_eq!(rows[0].1, "Rodrigo P");
    assert_eq!(rows[1].1, "Ana");
    assert!(rows.iter().all(|r| matches!(
        r.3.as_str(),
        "pending" | "in_progress" | "completed" | "rejected"
    )));

    // curl: disabling through PUT, then the activity export shows it Canceled.
    let id = json(
        &curl(
            "GET",
            &format!("{api}/campaigns/{campaign}/contacts?like=Ana"),
            Some(&auth),
            None,
        )
        .1,
    )["data"][0]["id"]
        .as_i64()
        .unwrap();
    let (code, body) = curl(
        "PUT",
        &format!("{api}/campaigns/{campaign}/contacts/{id}"),
        Some(&auth),
        Some("{\"name\":\"Ana\",\"numcall\":\"5558002\",\"enable\":\"false\"}"),
    );
    if code == 409 {
        // The dialer had claimed it meanwhile: being dialed, not disabled.
        assert_eq!(json(&body)["errrorCode"], "Contact_in_progress");
    } else {
        assert_eq!(code, 200, "{body}");
        let (_, body) = curl(
            "GET",
            &format!("{api}/campaigns/{campaign}/contacts/activity?State=Canceled"),
            Some(&auth),
            None,
        );
        assert_eq!(json(&body)["data"][0]["id"], id);
        let state: String = db
            .query_row(
                "SELECT state FROM dialer_contact WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(state, "canceled");
    }

    outgoing_calls(&engine, &scratch, &base, &auth);
}

/// A `dialer_schedule` row: id, campaign, number, alternatives, agent, status, attempts.
type ScheduleRow = (i64, i64, String, String, Option<String>, String, i64);

/// The pending outgoing calls panel: Python `requests` with the document's examples, then curl;
/// the scheduled calls in the store.
fn outgoing_calls(engine: &Engine, scratch: &Scratch, base: &str, auth: &str) {
    create_campaign(engine, PANEL);
    for (number, user) in [("2091", "pperez"), ("2092", "daguirre")] {
        engine.add_agent(number, user, None, &["--queue", "q_campanas"]);
    }
    let (user, password) = auth.split_once(':').unwrap();
    let (ok, out, err) = run_client(
        &python(),
        &repo().join("tests/clients/expand_rest/outgoing_calls.py"),
        &[base, user, password],
    );
    eprintln!("outgoing_calls.py:\n{out}{err}");
    assert!(ok, "outgoing_calls.py failed: {err}");
    let s = json(out.lines().last().expect("a summary"));
    let (first, other) = (s["ids"][0].as_i64().unwrap(), s["ids"][1].as_i64().unwrap());
    assert_eq!(s["no_auth"][0], 401);
    assert_eq!(s["no_auth"][1]["errrorCode"], "Authentication_failure");
    assert!(s["no_auth"][2].as_str().unwrap().starts_with("Basic"));
    assert_eq!(s["wrong_auth"], 401);
    assert_eq!(s["add"][0], 201);
    assert_eq!(s["add"][1], serde_json::json!({ "callid": first }));
    assert_eq!(s["add2"][0], 201);
    assert_eq!(s["get"][0], 200);
    assert_eq!(
        s["get"][1],
        serde_json::json!({
            "id": first,
            "queue": "tecnologia",
            "phone": ["21232322", "099999999"],
            "contact": "Pedro",
            "subject": "Confirmacion contrato ADSL",
            "calldate": "2016-11-10 15:00",
            "expiration": 0,
            "agent": "pperez",
            "status": "PENDING",
            "link": { "nombre de link": "http://www.link.com" }
        })
    );
    assert_eq!(s["list"], serde_json::json!([200, [first, other]]));
    assert_eq!(s["by_phone"], serde_json::json!([other]));
    assert_eq!(s["by_dates"], serde_json::json!([other]));
    assert_eq!(s["by_agent"], serde_json::json!([first]));
    assert_eq!(s["by_headers"], serde_json::json!([other]));
    assert_eq!(s["other"]["calldate"], "2036-11-10 15:00");
    assert_eq!(s["other"]["expiration"], 3600);
    assert_eq!(
        s["other"]["link"],
        serde_json::json!({ "CRM": "http://crm.example/ticket?id=7;x=1" })
    );
    assert_eq!(s["put"], serde_json::json!([200, { "callid": first }]));
    // 2016-11-11 15:00 is past: the edited call reads as expired.
    assert_eq!(s["after_put"]["status"], "EXPIRED");
    assert_eq!(s["after_put"]["expiration"], 86_400);
    assert_eq!(s["delete"], serde_json::json!([200, "Ok"]));
    assert_eq!(s["canceled"], serde_json::json!([first]));
    let error = |code: u16, e: &str| serde_json::json!([code, { "errrorCode": e }]);
    assert_eq!(s["bad_date"], error(400, "Unknown_data_format"));
    assert_eq!(s["bad_queue"], error(400, "Invalid_queue"));
    assert_eq!(s["bad_agent"], error(400, "Invalid_agent"));
    assert_eq!(s["missing"], error(404, "Call_not_found"));
    assert_eq!(s["bad_filter"], error(400, "Unknown_data_format"));

    // curl: the document's create, filtered list, replace and delete.
    let api = format!("{base}/expandweb3/api/external/outgoingcalls/call");
    let body = "{\"queue\": \"tecnologia\", \"phone\": [\"5559001\"], \"contact\": \"Diego\", \
                \"subject\": \"Instalacion\", \"calldate\": \"2036-12-01 09:00\", \
                \"expiration\": 0, \"agent\": \"2092\", \"link\": {\"ficha\": \"http://crm/9\"}}";
    let (code, out) = curl("POST", &api, Some(auth), Some(body));
    assert_eq!(code, 201, "{out}");
    let third = json(&out)["callid"].as_i64().unwrap();
    let (code, out) = curl(
        "GET",
        &format!("{api}?queue=tecnologia&agent=daguirre&startdate=2036-12-01&enddate=2036-12-01"),
        Some(auth),
        None,
    );
    assert_eq!(code, 200, "{out}");
    let list = json(&out);
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(list["data"][0]["id"], third);
    assert_eq!(list["data"][0]["agent"], "daguirre");
    let edited = body.replace("2036-12-01 09:00", "2036-12-02 10:30");
    let (code, out) = curl("PUT", &format!("{api}/{third}"), Some(auth), Some(&edited));
    assert_eq!(code, 200, "{out}");
    assert_eq!(json(&out), serde_json::json!({ "callid": third }));
    let (code, out) = curl("GET", &format!("{api}/{third}"), Some(auth), None);
    assert_eq!(code, 200, "{out}");
    assert_eq!(json(&out)["calldate"], "2036-12-02 10:30");
    let (code, out) = curl("GET", &format!("{api}/{third}"), None, None);
    assert_eq!(code, 401, "{out}");
    let (code, out) = curl("DELETE", &format!("{api}/{third}"), Some(auth), None);
    assert_eq!((code, json(&out)), (200, serde_json::json!("Ok")));
    let (code, out) = curl("DELETE", &format!("{api}/{third}"), Some(auth), None);
    assert_eq!(code, 409, "{out}");
    assert_eq!(json(&out)["errrorCode"], "Call_not_pending");
    let (code, out) = curl("GET", &format!("{api}/424242"), Some(auth), None);
    assert_eq!(code, 404, "{out}");
    assert_eq!(json(&out)["errrorCode"], "Call_not_found");

    // The store: the three calls, with the numbers, agents and statuses the clients gave,
    // on the panel's campaign (left Incomplete: none was taken by the dialer).
    let db = rusqlite::Connection::open(scratch.store()).unwrap();
    let panel: i64 = db
        .query_row(
            "SELECT id FROM dialer_campaign WHERE name = ?1",
            [PANEL],
            |r| r.get(0),
        )
        .unwrap();
    let rows: Vec<ScheduleRow> = query_rows(
        &db,
        "SELECT id, campaign_id, number, alternatives, agent, status, attempts \
         FROM dialer_schedule ORDER BY id",
        [],
    );
    let want = |id: i64, number: &str, alt: &str, agent: &str, status: &str| {
        (
            id,
            panel,
            number.to_owned(),
            alt.to_owned(),
            Some(agent.to_owned()),
            status.to_owned(),
            0,
        )
    };
    assert_eq!(
        rows,
        vec![
            want(first, "21232322", "099999999", "pperez", "canceled"),
            want(other, "3344343", "0991878", "daguirre", "pending"),
            want(third, "5559001", "", "daguirre", "canceled"),
        ]
    );
}
