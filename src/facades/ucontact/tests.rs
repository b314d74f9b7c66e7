//! `Router::oneshot` tests of the facade where no PBX is needed: sessions, refusals, every
//! documented DispositionCall message, the blacklist operations, recordings' authentication.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::*;
use crate::config::Config;
use crate::core::campaigns::CampaignScope;
use crate::core::directory::{Agent, AgentNumber, Extension as DirExtension, PasswordHash};
use crate::test_support::TempDir;

const CAMPAIGNS: &str = r#"
[ucontact]
[[ucontact.campaign]]
name = "Cobranza->"
queue = "q_cobranza"
outbound = true
trunk = "carrier"
[[ucontact.campaign.disposition]]
l1 = "Venta"
txtcode = "V01"
[[ucontact.campaign.disposition]]
l1 = "No llamar"
l2 = "Pidio"
action = "BLACKLIST"
txtcode = "NL"
[[ucontact.campaign.disposition]]
l1 = "Volver"
action = "RESCHEDULE"
txtcode = "RS"
"#;

struct Fixture {
    _dir: TempDir,
    services: Arc<Services>,
    router: Router,
}

fn fixture() -> Fixture {
    fixture_with("")
}

/// A fixture with `sections` added to the configuration.
fn fixture_with(sections: &str) -> Fixture {
    let dir = TempDir::new("ucontact");
    let text = format!(
        "[engine]\ntimezone = \"America/Montevideo\"\n[store]\npath = \"{}\"\n[[node]]\nname = \"pbx1\"\n\
         recordings_dir = \"{}\"\n[node.ami]\nhost = \"127.0.0.1\"\nusername = \"u\"\nsecret = \"s\"\n{CAMPAIGNS}\n{sections}\n",
        dir.path().join("s.db").display(),
        dir.path().join("rec").display(),
    );
    let config = Arc::new(Config::from_toml(&text).unwrap());
    let services = Arc::new(crate::test_support::services(config));
    for (number, user, supervisor) in [("2307", "ana", false), ("2308", "sup", true)] {
        let mut a = Agent::new(AgentNumber::new(number).unwrap());
        a.username = user.into();
        a.full_name = user.to_uppercase();
        a.supervisor = supervisor;
        a.password_hash = Some(PasswordHash::hash(&Secret::new(format!("pw-{user}"))).unwrap());
        a.default_extension =
            Some(DirExtension::new(if supervisor { "1008" } else { "1007" }).unwrap());
        services.directory.store().upsert_agent(&a).unwrap();
    }
    let keys = Arc::new(KeyVerifier::new(
        services.directory.clone(),
        services.logins.clone(),
    ));
    let router = routes(services.clone(), keys);
    Fixture {
        _dir: dir,
        services,
        router,
    }
}

async fn post(router: &Router, op: &str, auth: Option<&str>, body: &str) -> (StatusCode, String) {
    let mut req = Request::post(format!("/Integra/resources/{op}")).header(
        "content-type",
        "application/x-www-form-urlencoded; charset=UTF-8",
    );
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn login(router: &Router, user: &str) -> String {
    let (status, body) = post(
        router,
        "auth/getUserToken",
        None,
        &format!("user={user}&password=pw-{user}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items[0], user);
    format!("Basic {}", items.last().unwrap().as_str().unwrap())
}

#[tokio::test]
async fn sessions_open_authenticate_and_end() {
    let f = fixture();
    let r = &f.router;
    for bad in [
        "user=ana&password=wrong",
        "user=nobody&password=pw-ana",
        "user=ana",
        "",
    ] {
        assert_eq!(
            post(r, "auth/getUserToken", None, bad).await,
            (StatusCode::OK, "0".into()),
            "{bad}"
        );
    }
    let auth = login(r, "ana").await;
    let (status, body) = post(
        r,
        "Cdr/getrecords",
        Some(&auth),
        "lastrow=0&searchLimit=50&Random=1",
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "[]"));
    let token = auth.strip_prefix("Basic ").unwrap();
    // Another user cannot end it.
    assert_eq!(
        post(
            r,
            "auth/EndSession",
            None,
            &format!("user=sup&token={token}")
        )
        .await
        .1,
        "0"
    );
    assert_eq!(
        post(
            r,
            "auth/EndSession",
            None,
            &format!("user=ana&token={token}")
        )
        .await
        .1,
        "1"
    );
    let (status, _) = post(r, "Cdr/getrecords", Some(&auth), "lastrow=0").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(
            r,
            "auth/EndSession",
            None,
            &format!("user=ana&token={token}")
        )
        .await
        .1,
        "0"
    );
}

#[tokio::test]
async fn calls_without_or_with_a_wrong_token_are_refused() {
    let f = fixture();
    let r = &f.router;
    let expand_key = f
        .services
        .directory
        .store()
        .create_credential("CRM", CredentialApi::Expand)
        .unwrap();
    let ucontact_key = f
        .services
        .directory
        .store()
        .create_credential("CRM", CredentialApi::Ucontact)
        .unwrap();
    let expand_auth = format!("Bearer {}", expand_key.key.expose());
    let wrong = [
        None,
        Some("Basic nope"),
        Some("Basic "),
        Some("Bearer nope.nope"),
        Some(expand_auth.as_str()),
        Some("Digest abc"),
    ];
    let ops = [
        "Agents/AgentCall",
        "Agents/AgentCallwithData",
        "Agents/HangupPhone",
        "Agents/TagRecord",
        "api/DispositionCall",
        "admin/addblack",
        "admin/addblackbulk",
        "admin/deleteblack",
        "admin/deleteblackbulk",
        "Cdr/getrecords",
        "Supervisor/convert",
        "Supervisor/queuesummary",
        "Supervisor/campaignstatus",
    ];
    for op in ops {
        for auth in wrong {
            let (status, _) = post(r, op, auth, "phone=1007").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{op} {auth:?}");
        }
    }
    // An API key for uContact opens everything, supervisor operations included.
    let key = format!("Bearer {}", ucontact_key.key.expose());
    let (status, body) = post(r, "Supervisor/campaignstatus", Some(&key), "").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "0"),
        "no PBX yet"
    );
    // An agent without the supervisor flag cannot use supervisor operations.
    let ana = login(r, "ana").await;
    for op in [
        "Supervisor/campaignstatus",
        "Supervisor/queuesummary",
        "admin/addblack",
    ] {
        assert_eq!(
            post(r, op, Some(&ana), "").await.0,
            StatusCode::FORBIDDEN,
            "{op}"
        );
    }
    assert_eq!(
        post(r, "Nope/nothing", Some(&ana), "").await.0,
        StatusCode::NOT_FOUND
    );
    // Recording files.
    for path in [
        "/records/7e4e7db9-f080-494e-b04b-7c8e47711558.mp3",
        "/records/20160118/7e4e7db9-f080-494e-b04b-7c8e47711558.mp3",
    ] {
        let get = |auth: Option<&str>| {
            let mut req = Request::get(path);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            r.clone().oneshot(req.body(Body::empty()).unwrap())
        };
        assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            get(Some("Basic x")).await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            get(Some(&ana)).await.unwrap().status(),
            StatusCode::NOT_FOUND
        );
    }
    for path in [
        "/records/..%2F..%2Fetc%2Fpasswd.mp3",
        "/records/x/y.mp3",
        "/records/abc.gsm",
    ] {
        let req = Request::get(path).header("authorization", &ana);
        let resp = r
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn disposition_messages_are_the_documented_ones() {
    let f = fixture();
    let r = &f.router;
    let auth = login(r, "ana").await;
    let full = "campaign=Cobranza-%3E&agent=ana&callerid=5551234&guid=7e4e7db9-f080-494e-b04b-7c8e47711558&l1=Venta";
    let cases = [
        ("agent=ana&callerid=5551234&guid=g&l1=Venta", "Wrong parameters:  Empty campaign."),
        ("campaign=Cobranza-%3E&agent=ana&guid=g&l1=Venta", "Wrong parameters: Empty callerid"),
        ("campaign=Cobranza-%3E&agent=ana&callerid=1&l1=Venta", "Wrong parameters: Empty guid"),
        ("campaign=Cobranza-%3E&callerid=1&guid=g&l1=Venta", "Wrong parameters: Empty agent"),
        ("campaign=Cobranza-%3E&agent=ana&callerid=1&guid=g&l1=", "Wrong parameters: Empty value1"),
        (
            "campaign=Cobranza-%3E&agent=ana&callerid=1&guid=g&l1=Venta&l2=Mucha&l3=Plata",
            "Disposition not found for level1: Venta, level2: Mucha level3: Plata",
        ),
        (
            "campaign=Otra-%3E&agent=ana&callerid=1&guid=g&l1=Venta",
            "Disposition not found for level1: Venta, level2:  level3: ",
        ),
        ("campaign=Cobranza-%3E&agent=ana&callerid=1&guid=g&l1=Volver", "Wrong parameters: Empty schedule date."),
        (
            "campaign=Cobranza-%3E&agent=ana&callerid=1&guid=g&l1=Volver&schedule=26%2F02%2F2019",
            "The schedule date format is not well formed: El formato de la fecha tiene que ser yyyy-MM-dd HH:mm:ss",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(
            post(r, "api/DispositionCall", Some(&auth), body).await,
            (StatusCode::BAD_REQUEST, message.to_owned()),
            "{body}"
        );
    }
    let (status, body) = post(r, "api/DispositionCall", Some(&auth), full).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"result": "ok", "txtcode": "V01"})
    );
    let (status, body) = post(
        r,
        "api/DispositionCall",
        Some(&auth),
        "campaign=Cobranza-%3E&agent=ana&callerid=1&guid=g&l1=Volver&schedule=2030-02-26+13%3A45%3A00&comment=luego",
    )
    .await;
    assert_eq!((status, body.contains("\"RS\"")), (StatusCode::OK, true));
    let stored = f.services.campaigns.store().dispositions_of("g").unwrap();
    assert!(
        stored.last().unwrap().pending_dialer,
        "reschedule waits for the dialer"
    );

    // BLACKLIST blacklists the customer's number for the campaign.
    let phone = PhoneNumber::parse("5559876").unwrap();
    assert!(f
        .services
        .campaigns
        .store()
        .blacklist_for(&phone)
        .unwrap()
        .is_empty());
    let (status, body) = post(
        r,
        "api/DispositionCall",
        Some(&auth),
        "campaign=Cobranza-%3E&agent=ana&callerid=5559876&guid=g2&l1=No+llamar&l2=Pidio",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = f.services.campaigns.store().blacklist_for(&phone).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].campaign,
        CampaignScope::One(CampaignName::parse("Cobranza->").unwrap())
    );
    assert_eq!(entries[0].username, "ana");
}

#[tokio::test]
async fn blacklist_operations() {
    let f = fixture();
    let r = &f.router;
    let sup = login(r, "sup").await;
    let store = f.services.campaigns.store().clone();
    let count = |p: &str| {
        store
            .blacklist_for(&PhoneNumber::parse(p).unwrap())
            .unwrap()
            .len()
    };
    let enc = |json: &str| {
        json.replace('%', "%25")
            .replace('&', "%26")
            .replace('+', "%2B")
            .replace('=', "%3D")
    };
    let one = r#"{"phone":"5551111","campaign":"*","username":"sup","expire_date":"2030-01-01","direction":"O"}"#;
    assert_eq!(
        post(
            r,
            "admin/addblack",
            Some(&sup),
            &format!("black={}", enc(one))
        )
        .await
        .1,
        "1"
    );
    assert_eq!(count("5551111"), 1);
    let bulk = r#"[{"phone":"5552221","campaign":"Cobranza->"},{"phone":"5552222","campaign":"Cobranza->","direction":"I/O"}]"#;
    assert_eq!(
        post(
            r,
            "admin/addblackbulk",
            Some(&sup),
            &format!("black={}", enc(bulk))
        )
        .await
        .1,
        "1"
    );
    assert_eq!((count("5552221"), count("5552222")), (1, 1));
    // A bad item refuses the whole bulk.
    let bad_bulk = r#"[{"phone":"5553331","campaign":"x"},{"phone":"12a","campaign":"x"}]"#;
    assert_eq!(
        post(
            r,
            "admin/addblackbulk",
            Some(&sup),
            &format!("black={}", enc(bad_bulk))
        )
        .await
        .1,
        "0"
    );
    assert_eq!(count("5553331"), 0);
    for bad in [
        "black=nope",
        "black=%7B%7D",
        "black=%7B%22phone%22%3A%221%22%7D",
        "",
        "black=%5B%5D",
    ] {
        assert_eq!(
            post(r, "admin/addblack", Some(&sup), bad).await.1,
            "0",
            "{bad}"
        );
    }
    // Bulk endpoints want an array; single ones an object.
    assert_eq!(
        post(
            r,
            "admin/addblackbulk",
            Some(&sup),
            &format!("black={}", enc(one))
        )
        .await
        .1,
        "0"
    );
    assert_eq!(
        post(
            r,
            "admin/deleteblack",
            Some(&sup),
            &format!("black={}", enc(r#"{"phone":"5551111","campaign":"*"}"#))
        )
        .await
        .1,
        "1"
    );
    assert_eq!(count("5551111"), 0);
    assert_eq!(
        post(
            r,
            "admin/deleteblackbulk",
            Some(&sup),
            &format!("black={}", enc(bulk))
        )
        .await
        .1,
        "1"
    );
    assert_eq!((count("5552221"), count("5552222")), (0, 0));
}

#[tokio::test]
async fn bad_input_gets_the_documented_answer() {
    let f = fixture();
    let r = &f.router;
    let ana = login(r, "ana").await;
    for body in [
        "phone=1007&destination=5551234&outqueue=Nope-%3E",
        "phone=10%0D%0A07&destination=5551234&outqueue=Cobranza-%3E",
        "phone=1007&destination=555%261234&outqueue=Cobranza-%3E",
        "phone=1007&destination=5551234&outqueue=",
        "phone=1007&destination=5551234&outqueue=Cobranza-%3E&tech=IAX2",
    ] {
        let (status, answer) = post(r, "Agents/AgentCall", Some(&ana), body).await;
        assert_eq!((status, answer.as_str()), (StatusCode::OK, "0"), "{body}");
    }
    let (status, answer) = post(
        r,
        "Agents/AgentCallwithData",
        Some(&ana),
        "phone=1007&destination=5551234&outqueue=Cobranza-%3E&data=%7B%22a%22%3A%22x%2Cy%22%7D",
    )
    .await;
    assert_eq!((status, answer.as_str()), (StatusCode::OK, "0"));
    assert_eq!(
        post(r, "Agents/HangupPhone", Some(&ana), "phone=abc")
            .await
            .1,
        "0"
    );
    assert_eq!(
        post(r, "Cdr/getrecords", Some(&ana), "filter=%7Bbroken")
            .await
            .1,
        "0"
    );
    assert_eq!(
        post(r, "Cdr/getrecords", Some(&ana), "searchLimit=x")
            .await
            .1,
        "0"
    );
    assert_eq!(
        post(r, "Supervisor/convert", Some(&ana), "guid=../../etc/passwd")
            .await
            .1,
        "0"
    );
    assert_eq!(
        post(r, "Agents/TagRecord", Some(&ana), "guid=nope&data=x").await,
        (StatusCode::OK, String::new())
    );
}

fn recorded_cdr(rowid: i64, start: i64, dst: &str, billsec: u64) -> CdrRecord {
    use crate::core::{ChannelName, Disposition, UniqueId};
    CdrRecord {
        source_rowid: rowid,
        clid: "\"\" <26003000>".into(),
        src: "1007".into(),
        dst: dst.into(),
        dcontext: "outbound".into(),
        channel: ChannelName::new(format!("PJSIP/1007-{rowid:08x}")),
        dstchannel: Some(ChannelName::new(format!("PJSIP/carrier-{rowid:08x}"))),
        lastapp: "Dial".into(),
        lastdata: format!("PJSIP/{dst}@carrier,30"),
        duration: Duration::from_secs(billsec + 2),
        billsec: Duration::from_secs(billsec),
        disposition: Disposition::Answered,
        amaflags: "DOCUMENTATION".into(),
        accountcode: String::new(),
        uniqueid: UniqueId::new(format!("pbx1-{start}.{rowid}")),
        linkedid: UniqueId::new(format!("pbx1-{start}.{rowid}")),
        sequence: rowid,
        peeraccount: String::new(),
        userfield: String::new(),
        start: UnixTime(start),
        answer: Some(UnixTime(start + 2)),
        end: UnixTime(start + 2 + billsec as i64),
        recordingfile: format!("20261122/pbx1-{start}.{rowid}.wav"),
        calldata: String::new(),
    }
}

#[tokio::test]
async fn getrecords_pages_filters_and_shapes_rows() {
    use crate::core::campaigns::{call_guid, CampaignCall};
    use crate::core::originate::OriginateId;
    use crate::core::{SourceCursor, SourceId, UniqueId};
    let f = fixture();
    let r = &f.router;
    // A supervisor reads every call; an agent only its own (below).
    let ana = login(r, "sup").await;
    let agent_ana = login(r, "ana").await;
    let now = UnixTime::now().seconds();
    let base = now - 600;
    let mut cdrs: Vec<CdrRecord> = (1..=5)
        .map(|i| recorded_cdr(i, base + i * 60, &format!("555100{i}"), i as u64 * 2))
        .collect();
    // Not recorded: never listed.
    let mut plain = recorded_cdr(6, base + 30, "5559999", 9);
    plain.recordingfile = String::new();
    cdrs.push(plain);
    // The third is a campaign call placed with AgentCallwithData.
    let id = OriginateId::parse("19a2b3c4d5e-5f0e1d2c").unwrap();
    cdrs[2].userfield = id.to_string();
    cdrs[2].uniqueid = UniqueId::new(format!("{id}-src"));
    cdrs[2].linkedid = UniqueId::new(format!("{id}-src"));
    cdrs[2].calldata = "idcliente=9".into();
    crate::test_support::journal_writer(&f.services.config.store.path)
        .append_cdrs(&SourceId::new("cdr"), &cdrs, SourceCursor::Rowid(6))
        .unwrap();
    let call = CampaignCall {
        guid: call_guid(&id),
        originate_id: id.clone(),
        campaign: CampaignName::parse("Cobranza->").unwrap(),
        agent: "ana".into(),
        phone: Extension::parse("1007").unwrap(),
        destination: PhoneNumber::parse("5551003").unwrap(),
        data: "{\"idcliente\": 9}".into(),
        form: String::new(),
        created: UnixTime(base),
    };
    f.services.campaigns.store().call_insert(&call).unwrap();
    // The engine saw the campaign call's channel end with cause 16 (normal clearing).
    f.services
        .hangup_causes
        .causes_put(
            &[crate::core::hangup_causes::HangupCause {
                uniqueid: cdrs[2].uniqueid.clone(),
                cause: 16,
                at: UnixTime(base + 190),
            }],
            UnixTime::now(),
        )
        .unwrap();

    let tz = TimeZone::get("America/Montevideo").unwrap();
    let from = wire::render_time(UnixTime(base - 1), &tz);
    let to = wire::render_time(UnixTime(now), &tz);
    let query = |extra: &str, lastrow: usize, limit: usize| {
        let filter =
            format!(r#"{{"calldatei":"{from}","calldatef":"{to}","type":"record"{extra}}}"#);
        let body = format!(
            "lastrow={lastrow}&searchLimit={limit}&Random=1&filter={}",
            filter
                .replace('%', "%25")
                .replace('&', "%26")
                .replace('+', "%2B")
                .replace('"', "%22")
        );
        let r = r.clone();
        let ana = ana.clone();
        async move {
            let (status, body) = post(&r, "Cdr/getrecords", Some(&ana), &body).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
            rows.iter()
                .map(|row| row["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(query("", 0, 50).await, [1, 2, 3, 4, 5]);
    assert_eq!(query("", 0, 2).await, [1, 2]);
    assert_eq!(query("", 2, 2).await, [3, 4]);
    assert_eq!(query("", 4, 2).await, [5]);
    assert_eq!(query("", 5, 2).await, Vec::<i64>::new());
    assert_eq!(query(r#","campaign":"Cobranza->""#, 0, 50).await, [3]);
    assert_eq!(query(r#","agent":"ana""#, 0, 50).await, [3]);
    assert_eq!(query(r#","data":"idcliente=9""#, 0, 50).await, [3]);
    assert_eq!(query(r#","mindur":"6""#, 0, 50).await, [3, 4, 5]);
    assert_eq!(query(r#","destination":"5551004""#, 0, 50).await, [4]);
    assert_eq!(query(r#","exclude":"5551001""#, 0, 50).await, [2, 3, 4, 5]);
    assert_eq!(query(r#","source":"9999""#, 0, 50).await, Vec::<i64>::new());
    // The agent's own session: only the call it placed, whatever the filter says.
    let everything = format!(r#"{{"calldatei":"{from}","calldatef":"{to}"}}"#)
        .replace('"', "%22")
        .replace('+', "%2B");
    let (_, body) = post(
        r,
        "Cdr/getrecords",
        Some(&agent_ana),
        &format!("filter={everything}"),
    )
    .await;
    let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [3], "{body}");

    // The campaign call's row: its guid is the one AgentCall answered.
    let filter = format!(r#"{{"calldatei":"{from}","calldatef":"{to}","campaign":"Cobranza->"}}"#)
        .replace('"', "%22")
        .replace('&', "%26")
        .replace('+', "%2B");
    let (_, body) = post(r, "Cdr/getrecords", Some(&ana), &format!("filter={filter}")).await;
    let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
    let row = &rows[0];
    assert_eq!(row["guid"], call.guid.as_str());
    assert_eq!(row["campaign"], "Cobranza->");
    assert_eq!(row["direction"], "outbound");
    assert_eq!(row["carrier"], "carrier");
    assert_eq!(row["type"], "record");
    assert_eq!(row["amaflags"], 3);
    assert_eq!(row["parandvalues"], "idcliente=9");
    assert_eq!(row["causecode"], "16", "as uContact writes it: a string");
    assert_eq!(
        row["calldate"],
        wire::render_time(UnixTime(base + 180), &tz)
    );
    assert_eq!(
        row["finishtime"],
        wire::render_time(UnixTime(base + 188), &tz)
    );
    for key in [
        "id",
        "calldate",
        "clid",
        "src",
        "dst",
        "dcontext",
        "channel",
        "dstchannel",
        "lastapp",
        "lastdata",
        "duration",
        "billsec",
        "disposition",
        "amaflags",
        "accountcode",
        "userfield",
        "uniqueid",
        "type",
        "guid",
        "causecode",
        "campaign",
        "direction",
        "carrier",
        "linkedid",
        "peeraccount",
        "sequence",
        "charged_balance",
        "real_balance",
        "note",
        "contact",
        "finishtime",
        "rating",
        "dialerbase",
        "parandvalues",
        "alternatives",
        "quality",
        "record_url",
        "record_url_gsm",
        "record_url_expires",
    ] {
        assert!(row.get(key).is_some(), "{key} in {row}");
    }
    // The signed links, at the host the request came to (here none: `localhost`).
    let url = row["record_url"].as_str().unwrap();
    let prefix = format!("http://localhost/records/{}.mp3?expires=", call.guid);
    assert!(url.starts_with(&prefix), "{url}");
    assert!(url.contains("&sig="), "{url}");
    assert_eq!(
        row["record_url_gsm"].as_str().unwrap(),
        url.replace(".mp3?", ".gsm?")
    );
    // searchLimit is capped by the configuration; an empty range is an empty list.
    let filter = format!(r#"{{"calldatei":"{to}","calldatef":"{from}"}}"#).replace('"', "%22");
    assert_eq!(
        post(r, "Cdr/getrecords", Some(&ana), &format!("filter={filter}"))
            .await
            .1,
        "[]"
    );
    assert_eq!(
        post(r, "Cdr/getrecords", Some(&ana), "searchLimit=0")
            .await
            .1,
        "0"
    );
}

#[tokio::test]
async fn an_agent_session_calls_and_hangs_up_from_its_own_phone_only() {
    use crate::core::audit::ActionFilter;
    let f = fixture();
    let r = &f.router;
    let ana = login(r, "ana").await;
    let sup = login(r, "sup").await;
    let call = |phone: &str, agent: &str| {
        format!("callerid=&agent={agent}&phone={phone}&tech=SIP&context=&outqueue=Cobranza-%3E&destination=5551003")
    };
    // The refusals the rule journaled so far (without a PBX in this test every answer is `0`;
    // the journal tells the rule's refusals apart).
    let refused = || {
        f.services
            .actions
            .list(TimeRange::all(), &ActionFilter::default())
            .unwrap()
            .into_iter()
            .filter(|e| e.outcome == "error: not the agent's phone")
            .count()
    };
    // Another agent's phone, or the agent's phone in another agent's name: refused (`0`),
    // before anything reaches the PBX.
    for (i, body) in [call("1008", ""), call("1008", "ana"), call("1007", "sup")]
        .iter()
        .enumerate()
    {
        assert_eq!(
            post(r, "Agents/AgentCall", Some(&ana), body).await,
            (StatusCode::OK, "0".to_owned()),
            "{body}"
        );
        assert_eq!(refused(), i + 1, "{body}");
    }
    assert_eq!(
        post(r, "Agents/HangupPhone", Some(&ana), "phone=1008").await,
        (StatusCode::OK, "0".to_owned())
    );
    assert_eq!(refused(), 4);
    // Its own phone passes the rule (and then finds no PBX in this test).
    for body in [call("1007", ""), call("1007", "ana"), call("1007", "2307")] {
        post(r, "Agents/AgentCall", Some(&ana), &body).await;
    }
    post(r, "Agents/HangupPhone", Some(&ana), "phone=1007").await;
    // A supervisor acts for any phone.
    post(r, "Agents/AgentCall", Some(&sup), &call("1007", "ana")).await;
    post(r, "Agents/HangupPhone", Some(&sup), "phone=1007").await;
    assert_eq!(refused(), 4, "no other refusal by the rule");
}

#[tokio::test]
async fn get_user_token_locks_a_user_out_after_its_failures_and_lets_it_in_after() {
    let f = fixture_with(
        "[auth]\nmax_failures_per_principal = 3\nmax_failures_per_address = 1000\n\
         lockout_seconds = 1\nmax_lockout_seconds = 1",
    );
    let r = &f.router;
    let token = |user: &str, pw: &str| {
        let body = format!("user={user}&password={pw}");
        async move { post(r, "auth/getUserToken", None, &body).await }
    };
    for _ in 0..3 {
        assert_eq!(
            token("ana", "wrong").await,
            (StatusCode::OK, "0".to_owned())
        );
    }
    // Locked out: the right password gets the documented refusal.
    assert_eq!(
        token("ana", "pw-ana").await,
        (StatusCode::OK, "0".to_owned())
    );
    // Another user is not affected; an unknown user is refused like a wrong password.
    assert!(token("sup", "pw-sup").await.1.starts_with('['));
    assert_eq!(token("nobody", "x").await, (StatusCode::OK, "0".to_owned()));
    // After the lock-out the right password opens a session.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, body) = token("ana", "pw-ana").await;
        if body.starts_with('[') {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still locked out");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn failures_count_per_client_address_behind_a_trusted_proxy() {
    let f = fixture_with(
        "[http]\ntrusted_proxies = [\"127.0.0.1\"]\n\
         [auth]\nmax_failures_per_principal = 1000\nmax_failures_per_address = 4\n",
    );
    let from = |xff: &'static str, user: &'static str, pw: &'static str| {
        let r = f.router.clone();
        async move {
            let mut req = Request::post("/Integra/resources/auth/getUserToken")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-forwarded-for", xff)
                .body(Body::from(format!("user={user}&password={pw}")))
                .unwrap();
            let peer: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            let resp = r.oneshot(req).await.unwrap();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            String::from_utf8_lossy(&body).into_owned()
        }
    };
    // One client behind the proxy guesses at several users: its address is locked out.
    for user in ["ana", "sup", "nobody", "ana"] {
        assert_eq!(from("198.51.100.1", user, "guess").await, "0");
    }
    assert_eq!(from("198.51.100.1", "sup", "pw-sup").await, "0");
    // Another client behind the same proxy is not: addresses are the clients', not the proxy's.
    assert!(from("198.51.100.2", "sup", "pw-sup").await.starts_with('['));
}

/// Catalogues a one-second 8 kHz WAV recording made on 2026-11-22 (Montevideo) and answers its
/// guid.
fn catalogued_recording(f: &Fixture) -> crate::core::recordings::Guid {
    catalogued_recording_of(f, None)
}

/// [`catalogued_recording`], of a call `agent` (an agent number) took.
fn catalogued_recording_of(f: &Fixture, agent: Option<&str>) -> crate::core::recordings::Guid {
    use crate::core::recordings::{Recording, RecordingFormat, RecordingId, SafeRelativePath};
    use crate::core::UniqueId;
    let dir = f.services.config.node[0].recordings_dir.join("20261122");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.join("pbx1-1.1.wav"), spec).unwrap();
    for i in 0..8000 {
        let s = (f64::from(i) * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0;
        w.write_sample(s as i16).unwrap();
    }
    w.finalize().unwrap();
    let guid = crate::core::recordings::Guid::derive("pbx1-1.1");
    let rec = Recording {
        id: RecordingId::parse("pbx1-1.1").unwrap(),
        relative_path: SafeRelativePath::parse("20261122/pbx1-1.1.wav").unwrap(),
        uniqueid: Some(UniqueId::new("pbx1-1.1")),
        linkedid: Some(UniqueId::new("pbx1-1.1")),
        guid: guid.clone(),
        idcti: None,
        cdr_rowid: None,
        answered: true,
        agent: agent.map(str::to_owned),
        queue: None,
        duration: Duration::from_secs(1),
        format: RecordingFormat::Wav,
        size: 16_044,
        tags: Vec::new(),
        // 2026-11-22 12:00 in Montevideo (UTC-3).
        created: UnixTime(1_795_359_600),
        imported_from: None,
    };
    f.services.recordings.store().upsert(&rec).unwrap();
    guid
}

#[tokio::test]
async fn convert_reads_the_portuguese_pasta() {
    // The Portuguese document names the day folder `pasta`; it used to be ignored, so a wrong
    // day was converted anyway.
    let f = fixture();
    let r = &f.router;
    let ana = login(r, "ana").await;
    // The call is ana's: her own session may convert it.
    let guid = catalogued_recording_of(&f, Some("2307"));
    for (body, want) in [
        (format!("guid={guid}&pasta=20261123"), "0"),
        (format!("guid={guid}&folder=20261123"), "0"),
        (format!("guid={guid}&pasta=20261122"), "1"),
        (format!("guid={guid}&folder=&pasta=20261122"), "1"),
        (format!("guid={guid}"), "1"),
    ] {
        let (status, answer) = post(r, "Supervisor/convert", Some(&ana), &body).await;
        assert_eq!((status, answer.as_str()), (StatusCode::OK, want), "{body}");
    }
}

#[tokio::test]
async fn agent_call_and_hangup_answer_0_when_the_pbx_is_not_connected() {
    // The fixture has no PBX: these answered HTTP 503 before; the document knows only `0`.
    let f = fixture();
    let r = &f.router;
    let ana = login(r, "ana").await;
    for (op, body) in [
        (
            "Agents/AgentCall",
            "callerid=&agent=ana&phone=1007&tech=SIP&context=x&outqueue=Cobranza-%3E&destination=5551234",
        ),
        (
            "Agents/AgentCallwithData",
            "agent=ana&phone=1007&outqueue=Cobranza-%3E&destination=5551234&data=a%3D1",
        ),
        ("Agents/HangupPhone", "phone=1007"),
        ("Agents/HungupPhone", "phone=1007"),
    ] {
        assert_eq!(
            post(r, op, Some(&ana), body).await,
            (StatusCode::OK, "0".to_owned()),
            "{op}"
        );
    }
}

async fn get_file(r: &Router, uri: &str, auth: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::get(uri);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = r
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let mime = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap()
        .to_vec();
    (status, mime, body)
}

#[tokio::test]
async fn signed_links_play_without_authorization_until_they_expire() {
    // Before, every recording file needed `Authorization`, which an `<audio src>` cannot send,
    // and `.gsm` was not served.
    let f = fixture();
    let r = &f.router;
    let guid = catalogued_recording(&f);
    let now = UnixTime::now();
    let link = f.services.record_links.issue(&guid, now);
    let q = link.query();
    for (uri, mime) in [
        (format!("/records/{guid}.mp3?{q}"), "audio/mpeg"),
        (format!("/records/20261122/{guid}.mp3?{q}"), "audio/mpeg"),
        (format!("/records/{guid}.gsm?{q}"), "audio/x-gsm"),
    ] {
        let (status, got, body) = get_file(r, &uri, None).await;
        assert_eq!((status, got.as_str()), (StatusCode::OK, mime), "{uri}");
        assert!(body.len() > 1000, "{uri}: {} bytes", body.len());
        if mime == "audio/x-gsm" {
            // One second: 50 frames of 33 bytes.
            assert_eq!(body.len(), 50 * 33);
        }
    }
    // A supervisor's session token opens `.gsm` too; an agent's own session only its own calls.
    let sup = login(r, "sup").await;
    let (status, mime, _) = get_file(r, &format!("/records/{guid}.gsm"), Some(&sup)).await;
    assert_eq!((status, mime.as_str()), (StatusCode::OK, "audio/x-gsm"));
    let ana = login(r, "ana").await;
    let (status, _, _) = get_file(r, &format!("/records/{guid}.gsm"), Some(&ana)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not ana's call");
    // Tampered, for another recording, expired, half a link: 403, whatever Authorization says.
    let other = crate::core::recordings::Guid::derive("pbx1-9.9");
    let expired = f
        .services
        .record_links
        .issue(&guid, UnixTime(now.seconds() - 7200));
    let mut sig = link.sig.clone().into_bytes();
    sig[0] = if sig[0] == b'a' { b'b' } else { b'a' };
    let sig = String::from_utf8(sig).unwrap();
    for uri in [
        format!(
            "/records/{guid}.mp3?expires={}&sig={sig}",
            link.expires.seconds()
        ),
        format!(
            "/records/{guid}.mp3?expires={}&sig={}",
            link.expires.seconds() + 3600,
            link.sig
        ),
        format!("/records/{other}.mp3?{q}"),
        format!("/records/{guid}.mp3?{}", expired.query()),
        format!("/records/{guid}.mp3?sig={}", link.sig),
        format!("/records/{guid}.mp3?expires={}", link.expires.seconds()),
        format!("/records/{guid}.wav?{q}"),
    ] {
        let (status, _, body) = get_file(r, &uri, Some(&ana)).await;
        assert_eq!(
            (status, String::from_utf8_lossy(&body).as_ref()),
            (StatusCode::FORBIDDEN, "Forbidden"),
            "{uri}"
        );
    }
    // A link for the right recording in the wrong day folder: not found.
    let (status, _, _) = get_file(r, &format!("/records/20261123/{guid}.mp3?{q}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_agent_session_converts_tags_and_dispositions_its_own_calls_only() {
    // Before, an agent's session converted and tagged any recording and dispositioned calls in
    // any agent's name.
    let f = fixture();
    let r = &f.router;
    let ana = login(r, "ana").await;
    let sup = login(r, "sup").await;
    // Not ana's call: her session may neither convert nor tag it; a supervisor may.
    let guid = catalogued_recording(&f);
    let body = format!("guid={guid}");
    assert_eq!(
        post(r, "Supervisor/convert", Some(&ana), &body).await,
        (StatusCode::OK, "0".to_owned())
    );
    assert_eq!(
        post(r, "Supervisor/convert", Some(&sup), &body).await,
        (StatusCode::OK, "1".to_owned())
    );
    let tags = || {
        f.services
            .recordings
            .find(&RecordingKey::Guid(guid.to_string()))
            .unwrap()
            .tags
    };
    post(
        r,
        "Agents/TagRecord",
        Some(&ana),
        &format!("phone=1007&guid={guid}&data=ana"),
    )
    .await;
    assert!(
        tags().is_empty(),
        "ana tagged another agent's call: {:?}",
        tags()
    );
    post(
        r,
        "Agents/TagRecord",
        Some(&sup),
        &format!("phone=1007&guid={guid}&data=sup"),
    )
    .await;
    assert_eq!(tags(), vec!["sup".to_owned()]);
    // In another agent's name: 403, nothing stored; in her own name (user or number): done.
    let disposition = |agent: &str| {
        format!("campaign=Cobranza-%3E&agent={agent}&callerid=5551003&guid=g-{agent}&l1=Venta")
    };
    assert_eq!(
        post(r, "api/DispositionCall", Some(&ana), &disposition("sup"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    for agent in ["ana", "2307"] {
        let (status, answer) =
            post(r, "api/DispositionCall", Some(&ana), &disposition(agent)).await;
        assert_eq!(status, StatusCode::OK, "{agent}: {answer}");
        assert!(answer.contains("V01"), "{agent}: {answer}");
    }
    assert_eq!(
        post(r, "api/DispositionCall", Some(&sup), &disposition("ana"))
            .await
            .0,
        StatusCode::OK
    );
}
