//! The pending outgoing calls panel (`/expandweb3/api/external/outgoingcalls/call`) through
//! the router: the seed's examples as written, their effects on the dialer's scheduled calls,
//! the journal of actions, hostile input.

use super::*;
use crate::core::audit::{ActionFilter, EngineAction};
use crate::core::dialer::schedule::{ScheduleFilter, ScheduleId, ScheduleStatus, ScheduledCall};
use crate::core::directory::{Agent, AgentNumber};
use crate::core::journal::TimeRange;
use crate::core::UnixTime;

/// The seed's `POST` example, as written (the wire's tests read it too).
pub(in crate::facades::expand_rest) const SEED_POST: &str = r#"{
  "queue": "tecnologia",
  "phone": ["21232322","099999999"],
  "contact": "Pedro",
  "subject": "Confirmacion contrato ADSL",
  "calldate" : "2016-11-10 15:00",
  "expiration" : 0,
  "agent" : "pperez",
  "link": {
       "nombre de link": "http://www.link.com"
  }
}"#;

const SEED_PUT: &str = r#"{
  "queue": "tecnologia",
  "phone": ["21232322","099999999"],
  "contact": "Pedro",
  "subject": "Confirmacion contrato ADSL",
  "calldate" : "2016-11-10 15:00",
  "expiration" : 86400,
  "agent" : "pperez",
  "link": {
       "nombre de link": "http://www.link.com"
  }

}"#;

/// The fixture with the seed's queue (a campaign `tecnologia`, left Incomplete) and agents
/// `pperez` and `daguirre`; the campaign's id.
async fn panel() -> (Fixture, CampaignId) {
    let f = fixture().await;
    let zone = ZoneName::parse("America/Montevideo").unwrap();
    let tecnologia = DialerCampaign::new(
        CampaignName::parse("tecnologia").unwrap(),
        QueueName::new("q_tecnologia").unwrap(),
        zone,
    );
    let id = f.services.dialer.create(tecnologia).await.unwrap();
    let store = f.services.directory.store();
    for (number, user) in [("2001", "pperez"), ("2002", "daguirre")] {
        let mut a = Agent::new(AgentNumber::new(number).unwrap());
        a.username = user.to_owned();
        store.upsert_agent(&a).unwrap();
    }
    (f, id)
}

fn path(id: impl std::fmt::Display) -> String {
    format!("{OUTGOING_CALLS}/{id}")
}

async fn stored(f: &Fixture, id: i64) -> ScheduledCall {
    let s = f.services.dialer.schedule().unwrap();
    s.get(ScheduleId(id)).await.unwrap()
}

fn local(t: UnixTime) -> String {
    wire::format_date(t, &jiff::tz::TimeZone::get("America/Montevideo").unwrap())
}

fn actions(f: &Fixture, action: &str) -> Vec<EngineAction> {
    let filter = ActionFilter {
        action: Some(action.to_owned()),
        ..Default::default()
    };
    let range = TimeRange {
        from: UnixTime(0),
        to: UnixTime(i64::from(u32::MAX)),
    };
    f.services.actions.list(range, &filter).unwrap()
}

#[tokio::test]
async fn the_seeds_examples_create_read_update_and_delete_a_pending_call() {
    let (f, tecnologia) = panel().await;
    // Agregar una llamada.
    let (status, body) = f.call("POST", OUTGOING_CALLS, Some(SEED_POST)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["callid"].as_i64().unwrap();
    assert_eq!(body, json!({ "callid": id }));
    let c = stored(&f, id).await;
    assert_eq!(c.spec.campaign, tecnologia);
    assert_eq!(c.spec.number.as_str(), "21232322");
    let alternatives: Vec<&str> = c.spec.alternatives.iter().map(|p| p.as_str()).collect();
    assert_eq!(alternatives, ["099999999"]);
    assert_eq!(c.spec.agent.as_deref(), Some("pperez"));
    assert_eq!(local(c.spec.call_at.unwrap()), "2016-11-10 15:00:00");
    assert_eq!(c.spec.expires_at, None);
    assert_eq!(c.status, ScheduleStatus::Pending);

    // Obtener una llamada pendiente dado su ID: what was posted, with its id and status.
    let (status, body) = f.get(&path(id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut want: Value = serde_json::from_str(SEED_POST).unwrap();
    want["id"] = json!(id);
    want["status"] = json!("PENDING");
    assert_eq!(body, want);

    // Modificar datos de una llamada en base a su ID.
    let (status, body) = f.call("PUT", &path(id), Some(SEED_PUT)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "callid": id }));
    let c = stored(&f, id).await;
    assert_eq!(
        c.spec.expires_at.unwrap().seconds() - c.spec.call_at.unwrap().seconds(),
        86_400
    );
    // 2016-11-11 15:00 has passed: the call reads as EXPIRED, its expiration as given.
    let (_, body) = f.get(&path(id)).await;
    assert_eq!(body["status"], "EXPIRED");
    assert_eq!(body["expiration"], 86_400);
    assert_eq!(stored(&f, id).await.status, ScheduleStatus::Expired);

    // Eliminar una llamada pendiente dado su ID: "Ok", the call Canceled and still listed
    // under that status.
    let (status, body) = f.call("DELETE", &path(id), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!("Ok"));
    assert_eq!(stored(&f, id).await.status, ScheduleStatus::Canceled);
    let (_, list) = f.get(&format!("{OUTGOING_CALLS}?status=CANCELED")).await;
    assert_eq!(list["data"][0]["id"], id);
    assert_eq!(list["data"][0]["status"], "CANCELED");
    let (_, list) = f.get(&format!("{OUTGOING_CALLS}?status=PENDING")).await;
    assert_eq!(list["data"], json!([]));
    let (status, body) = f.call("DELETE", &path(id), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"errrorCode": "Call_not_pending"}));

    // Each change is journaled as an engine action of the key.
    for action in [
        "dialer.schedule_add",
        "dialer.schedule_edit",
        "dialer.schedule_discard",
    ] {
        let entries = actions(&f, action);
        assert!(!entries.is_empty(), "{action}");
        assert_eq!(entries[0].target, id.to_string(), "{action}");
        assert_eq!(entries[0].outcome, "ok", "{action}");
        assert_eq!(entries[0].api, "expand-rest", "{action}");
    }
    let add = &actions(&f, "dialer.schedule_add")[0];
    assert!(add.params.contains("phone=21232322"), "{}", add.params);
    let discards = actions(&f, "dialer.schedule_discard");
    assert!(discards[1].outcome.starts_with("error"), "{discards:?}");
}

#[tokio::test]
async fn the_list_filters_by_queue_phone_dates_agent_and_status() {
    let (f, _) = panel().await;
    let body = |queue: &str, phone: &str, date: &str, agent: &str| {
        format!(
            r#"{{"queue":"{queue}","phone":["{phone}"],"contact":"Diego","subject":"ADSL",
               "calldate":"{date}","agent":"{agent}","link":{{"crm":"http://crm/1?a=b;c"}}}}"#
        )
    };
    let far = "2036-11-10 15:00";
    for b in [
        body("tecnologia", "21232322", far, "pperez"),
        body("tecnologia", "3344343", "2036-11-12T09:30:15", "daguirre"),
        body("q_campanas", "5551234", far, "2001"),
    ] {
        let (status, res) = f
            .call("POST", &format!("{OUTGOING_CALLS}/"), Some(&b))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{res}");
    }
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["phone"][0].as_str().unwrap().to_owned())
            .collect()
    };
    for (query, want) in [
        ("", vec!["21232322", "5551234", "3344343"]),
        ("?queue=tecnologia", vec!["21232322", "3344343"]),
        ("?queue=q_campanas", vec!["5551234"]),
        ("?queue=nadie", vec![]),
        ("?phone=3344343", vec!["3344343"]),
        ("?agent=pperez", vec!["21232322", "5551234"]),
        ("?agent=2002", vec!["3344343"]),
        ("?startdate=2036-11-11&enddate=2036-11-12", vec!["3344343"]),
        ("?enddate=2036-11-10T15:00:00", vec!["21232322", "5551234"]),
        ("?status=pending&limit=1", vec!["21232322"]),
        ("?start=2", vec!["3344343"]),
        ("?status=COMPLETED", vec![]),
    ] {
        let (status, list) = f.get(&format!("{OUTGOING_CALLS}{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        assert_eq!(ids(&list), want, "{query}");
    }
    let (_, list) = f
        .get(&format!("{OUTGOING_CALLS}?status=pending&limit=1"))
        .await;
    assert_eq!(list["recordsTotal"], 3);
    let row = &list["data"][0];
    assert_eq!(row["queue"], "tecnologia");
    assert_eq!(row["link"], json!({"crm": "http://crm/1?a=b;c"}));
    assert_eq!(row["calldate"], "2036-11-10 15:00");
    assert_eq!(row["expiration"], 0);
    let (_, list) = f.get(&format!("{OUTGOING_CALLS}?phone=3344343")).await;
    assert_eq!(list["data"][0]["calldate"], "2036-11-12 09:30:15");
    assert_eq!(list["data"][0]["agent"], "daguirre");
    // Filters may come as headers, as the campaign endpoints read them.
    let req = Request::get(OUTGOING_CALLS)
        .header("authorization", &f.auth)
        .header("queue", "q_campanas")
        .body(Body::empty())
        .unwrap();
    let res = f.router.clone().oneshot(req).await.unwrap();
    let bytes = to_bytes(res.into_body(), 1 << 16).await.unwrap();
    let list: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(ids(&list), ["5551234"]);
}

#[tokio::test]
async fn wrong_input_gets_the_vendors_errors_and_changes_nothing() {
    let (f, _) = panel().await;
    // Credentials: 401 with the challenge, for every method.
    for (method, p) in [
        ("GET", OUTGOING_CALLS.to_owned()),
        ("POST", OUTGOING_CALLS.to_owned()),
        ("GET", path(1)),
        ("PUT", path(1)),
        ("DELETE", path(1)),
    ] {
        for auth in [None, Some(f.soap_auth.as_str())] {
            let (status, body) = f.call_as(auth, method, &p, Some(SEED_POST)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {p}");
            assert_eq!(body, json!({"errrorCode": "Authentication_failure"}));
        }
    }
    let with = |field: &str, value: &str| {
        let mut v: Value = serde_json::from_str(SEED_POST).unwrap();
        v[field] = serde_json::from_str(value).unwrap();
        v.to_string()
    };
    let long = format!("\"{}\"", "x".repeat(300));
    for (body, code) in [
        (
            with("calldate", "\"2016-11-31 15:00\""),
            "Unknown_data_format",
        ),
        (
            with("calldate", "\"10/11/2016 15:00\""),
            "Unknown_data_format",
        ),
        (with("calldate", "\"2016-11-10\""), "Unknown_data_format"),
        (with("calldate", "null"), "Unknown_data_format"),
        (with("expiration", "-5"), "Unknown_data_format"),
        (
            with("phone", "[\"21232322\",\"21232322\"]"),
            "Unknown_data_format",
        ),
        (
            with("phone", "[\"1\\r\\nAction: Logoff\"]"),
            "Unknown_data_format",
        ),
        (
            with("phone", &format!("[{}]", ["\"099\""; 12].join(","))),
            "Unknown_data_format",
        ),
        (with("contact", &long), "Unknown_data_format"),
        (with("subject", &long), "Unknown_data_format"),
        (
            with("link", &format!("{{\"crm\": {long}}}")),
            "Unknown_data_format",
        ),
        (with("queue", "\"nadie\""), "Invalid_queue"),
        (with("agent", "\"nadie\""), "Invalid_agent"),
        (
            "{\"queue\": tecnologia\"}".to_owned(),
            "Unknown_data_format",
        ),
        ("[1,2]".to_owned(), "Unknown_data_format"),
    ] {
        let (status, res) = f.call("POST", OUTGOING_CALLS, Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res, json!({ "errrorCode": code }), "{body}");
    }
    let s = f.services.dialer.schedule().unwrap();
    assert_eq!(s.list(ScheduleFilter::default(), 0, 10).await.unwrap().0, 0);
    // A second open call to the same number of the queue is a conflict.
    let (status, created) = f.call("POST", OUTGOING_CALLS, Some(SEED_POST)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = f.call("POST", OUTGOING_CALLS, Some(SEED_POST)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"errrorCode": "Duplicated_number"}));
    // Unknown ids: the 404 body; ids that are no ids: bad input.
    for method in ["GET", "PUT", "DELETE"] {
        let (status, body) = f.call(method, &path(999), Some(SEED_PUT)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(body, json!({"errrorCode": "Call_not_found"}));
        for bad in ["0", "-1", "abc", "99999999999999999999"] {
            let (status, body) = f.call(method, &path(bad), Some(SEED_PUT)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {bad}");
            assert_eq!(body, unknown_data_format());
        }
    }
    // A bad PUT leaves the call as it was.
    let id = created["callid"].as_i64().unwrap();
    let before = stored(&f, id).await;
    let (status, _) = f
        .call("PUT", &path(id), Some(&with("calldate", "\"ayer\"")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(stored(&f, id).await, before);
    // Filters out of bounds.
    for q in [
        "status=DONE",
        "phone=1;2",
        "startdate=ayer",
        "limit=x",
        "start=-1",
    ] {
        let (status, body) = f.get(&format!("{OUTGOING_CALLS}?{q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(body, unknown_data_format());
    }
    let (status, body) = f.call("PATCH", &path(id), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, json!({"errrorCode": "Method_not_allowed"}));
}

#[tokio::test]
async fn an_update_may_move_a_call_to_another_queue_and_agent() {
    let (f, tecnologia) = panel().await;
    let (_, created) = f.call("POST", OUTGOING_CALLS, Some(SEED_POST)).await;
    let id = created["callid"].as_i64().unwrap();
    let moved = SEED_PUT
        .replace("\"tecnologia\"", "\"ventas\"")
        .replace("pperez", "daguirre")
        .replace("2016-11-10 15:00", "2036-01-02 08:05");
    let (status, body) = f.call("PUT", &path(id), Some(&moved)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = stored(&f, id).await;
    assert_eq!(c.spec.campaign, f.campaign);
    assert_ne!(c.spec.campaign, tecnologia);
    assert_eq!(c.spec.agent.as_deref(), Some("daguirre"));
    assert_eq!(local(c.spec.call_at.unwrap()), "2036-01-02 08:05:00");
    let (_, body) = f.get(&path(id)).await;
    assert_eq!(body["queue"], "ventas");
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["expiration"], 86_400);
    // An agent left out: every agent of the queue sees it.
    let mut v: Value = serde_json::from_str(&moved).unwrap();
    v.as_object_mut().unwrap().remove("agent");
    let (status, _) = f.call("PUT", &path(id), Some(&v.to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored(&f, id).await.spec.agent, None);
    let (_, body) = f.get(&path(id)).await;
    assert_eq!(body["agent"], Value::Null);
}
