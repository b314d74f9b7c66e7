//! Fast-tier tests of the facades together behind the engine's router (`http::router`, with the
//! default `[http]` limits): every list a request carries is bounded before it is parsed
//! (bodies just under `body_limit_bytes` full of items get the vendor's error), report ranges
//! are bounded per API, and a long report does not hold up other requests.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use crate::config::Config;
use crate::core::directory::{Agent, AgentNumber, CredentialApi, QueueName};
use crate::core::originate::PhoneNumber;
use crate::core::{
    CdrRecord, ChannelName, Disposition, SourceCursor, SourceId, UniqueId, UnixTime,
};
use crate::facades::soap::{self, parse_request};
use crate::facades::Services;
use crate::http::{self, HttpLimits};
use crate::test_support::TempDir;

struct Fixture {
    _dir: TempDir,
    services: Arc<Services>,
    app: Router,
    key: String,
}

const BODY_LIMIT: usize = 1 << 20;

fn services(dir: &TempDir, read_connections: usize) -> Services {
    let p = dir.path();
    let text = format!(
        "[engine]\ntimezone = \"America/Montevideo\"\n[store]\npath = {:?}\nread_connections = {read_connections}\n\
         [[node]]\nname = \"pbx1\"\ncdr_db = {:?}\nqueue_log = {:?}\nrecordings_dir = {:?}\n\
         [node.ami]\nhost = \"127.0.0.1\"\nusername = \"u\"\nsecret = \"s\"\n\
         [sms]\nuri_template = \"pjsip:carrier/sip:{{number}}@192.0.2.1\"\n\
         [[campaigns.campaign]]\nname = \"Ventas\"\nqueue = \"q_ventas\"\n",
        p.join("store.db"),
        p.join("master.db"),
        p.join("queue_log"),
        p.join("monitor"),
    );
    let config = Arc::new(Config::from_toml(&text).unwrap());
    crate::test_support::services(config)
}

fn fixture_over(dir: TempDir, services: Services) -> Fixture {
    let mut ana = Agent::new(AgentNumber::new("2101").unwrap());
    ana.username = "ana".into();
    ana.queues = vec![QueueName::new("q_ventas").unwrap()];
    services.directory.store().upsert_agent(&ana).unwrap();
    let key = services
        .directory
        .store()
        .create_credential("CRM", CredentialApi::Any)
        .unwrap()
        .key
        .expose()
        .to_owned();
    let services = Arc::new(services);
    let app = http::router(
        Arc::new(http::FixedHealth::healthy()),
        super::router(services.clone(), super::FacadeSections::default()),
        HttpLimits::with_body_limit(BODY_LIMIT),
    );
    Fixture {
        _dir: dir,
        services,
        app,
        key,
    }
}

fn fixture() -> Fixture {
    let dir = TempDir::new("facades-limits");
    let s = services(&dir, 4);
    fixture_over(dir, s)
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = to_bytes(resp.into_body(), 1 << 26).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn envelope(ns: &str, op: &str, parts: &[(&str, &str)]) -> String {
    let parts: String = parts
        .iter()
        .map(|(n, v)| format!("<{n}>{}</{n}>", soap::escape(v)))
        .collect();
    format!(
        "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <SOAP-ENV:Body><ns1:{op} xmlns:ns1=\"{ns}\">{parts}</ns1:{op}></SOAP-ENV:Body>\
         </SOAP-ENV:Envelope>"
    )
}

impl Fixture {
    /// An eXpand call: (HTTP status, the `return` value or the whole body).
    async fn expand_raw(&self, body: String) -> (StatusCode, String) {
        let (status, body) = send(
            &self.app,
            Request::post(super::expand::PATH)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
        if status != StatusCode::OK {
            return (status, body);
        }
        let answer = parse_request(body.as_bytes()).unwrap();
        (status, answer.params[0].1.clone().unwrap_or_default())
    }

    async fn expand(&self, op: &str, parts: &[(&str, &str)]) -> String {
        let mut all = vec![("authorizedKey", self.key.as_str())];
        all.extend_from_slice(parts);
        let (status, v) = self.expand_raw(envelope("urn:apiws", op, &all)).await;
        assert_eq!(status, StatusCode::OK, "{op}: {v}");
        v
    }

    async fn uscall(&self, op: &str, parts: &[(&str, &str)]) -> serde_json::Value {
        let mut all = vec![("token", self.key.as_str())];
        all.extend_from_slice(parts);
        let (status, body) = send(
            &self.app,
            Request::post(super::uscall::PATH)
                .body(Body::from(envelope("urn:wsuscall", op, &all)))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{op}: {body}");
        let answer = parse_request(body.as_bytes()).unwrap();
        serde_json::from_str(answer.params[0].1.as_deref().unwrap_or("")).unwrap()
    }

    /// A uContact call with a form body (already encoded).
    async fn integra(&self, op: &str, form: String) -> (StatusCode, String) {
        send(
            &self.app,
            Request::post(format!("/Integra/resources/{op}"))
                .header(header::AUTHORIZATION, format!("Bearer {}", self.key))
                .header(
                    header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded; charset=UTF-8",
                )
                .body(Body::from(form))
                .unwrap(),
        )
        .await
    }
}

/// `unit` repeated (numbered by `unit(i)`) with `sep` until just under `limit` bytes, counting
/// `overhead` bytes of the rest of the body.
fn fill(limit: usize, overhead: usize, sep: &str, unit: impl Fn(usize) -> String) -> String {
    let mut out = String::new();
    let mut i = 0;
    loop {
        let next = unit(i);
        if out.len() + sep.len() + next.len() + overhead >= limit - 16 {
            return out;
        }
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&next);
        i += 1;
    }
}

// ------------------------------------------------------------------ lists at the body limit

#[tokio::test]
async fn expand_lists_at_the_body_limit_get_the_documented_codes() {
    let f = fixture();
    let overhead = envelope("urn:apiws", "sendSms", &[("authorizedKey", &f.key)]).len() + 512;

    // sendSms: ~100000 distinct recipients; 0 ("No fue posible enviar el mensaje"), no job.
    let recipients = fill(BODY_LIMIT, overhead, " ", |i| format!("09{:07}", i));
    let v = f
        .expand(
            "sendSms",
            &[
                ("msgId", "0"),
                ("msgData", "hola"),
                ("msgRecip", &recipients),
            ],
        )
        .await;
    assert_eq!(v, "0");
    assert_eq!(f.expand("statusSms", &[("idSMS", "1")]).await, "");

    // getAgentLogin: -2 (bad parameters), before any extension is looked at.
    let extensions = fill(BODY_LIMIT, overhead, ",", |_| "1001".into());
    assert_eq!(
        f.expand("getAgentLogin", &[("extensions", &extensions)])
            .await,
        "-2"
    );

    // originateCall's callinfo: 0 (refused).
    let info = fill(BODY_LIMIT, overhead, ",", |i| format!("k{i}=v"));
    let v = f
        .expand(
            "originateCall",
            &[
                ("src", "1001"),
                ("srcCallerID", "Ana"),
                ("dst", "5551001"),
                ("dstCallerID", "x"),
                ("timeout", "20"),
                ("callinfo", &info),
            ],
        )
        .await;
    assert_eq!(v, "0", "refused as bad parameters");

    // A body full of parts: a Client Fault at the part past the cap.
    let parts = fill(BODY_LIMIT, overhead, "", |_| "<a>1</a>".into());
    let body = envelope("urn:apiws", "statusSms", &[])
        .replace("</ns1:statusSms>", &format!("{parts}</ns1:statusSms>"));
    assert!(body.len() < BODY_LIMIT);
    let (status, v) = f.expand_raw(body).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(v.contains("<faultcode>SOAP-ENV:Client</faultcode>"), "{v}");
    assert!(v.contains("too many parts"), "{v}");
}

#[tokio::test]
async fn uscall_lists_at_the_body_limit_are_parametro_invalido() {
    let f = fixture();
    let overhead = envelope("urn:wsuscall", "ccenterAgents", &[("token", &f.key)]).len() + 80;
    let agents = fill(BODY_LIMIT, overhead, ",", |_| "2101".into());
    let v = f.uscall("ccenterAgents", &[("agente", &agents)]).await;
    assert_eq!(v["status"], "erro", "{v}");
    assert_eq!(v["codigo"], "parametro_invalido", "{v}");
    assert!(v["retorno"].as_str().unwrap().contains("agente"), "{v}");
    let queues = fill(BODY_LIMIT, overhead, ",", |_| "q_ventas".into());
    let v = f.uscall("ccenterCdr", &[("filas", &queues)]).await;
    assert_eq!(v["codigo"], "parametro_invalido", "{v}");
    // One list within the cap is answered.
    let v = f.uscall("ccenterAgents", &[("agente", "2101,2101")]).await;
    assert_eq!(v["status"], "ok", "{v}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn ucontact_lists_at_the_body_limit_are_answered_0_and_nothing_is_stored() {
    let f = fixture();
    let entry = |i: usize| format!(r#"{{"phone":"09{:07}","campaign":"Ventas"}}"#, i);
    // addblackbulk: as many objects as fit (encoded) in the body: 0, none stored.
    let encoded_len = urlencode(&entry(0)).len() + 3;
    let n = (BODY_LIMIT - 64) / encoded_len;
    let json = format!("[{}]", (0..n).map(entry).collect::<Vec<_>>().join(","));
    let form = format!("black={}", urlencode(&json));
    assert!(form.len() < BODY_LIMIT, "{}", form.len());
    let (status, body) = f.integra("admin/addblackbulk", form).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "0"));
    // Just past the configured cap (1000 by default) is refused too; at the cap is stored.
    let past = format!("[{}]", (0..1001).map(entry).collect::<Vec<_>>().join(","));
    let (_, body) = f
        .integra("admin/addblackbulk", format!("black={}", urlencode(&past)))
        .await;
    assert_eq!(body, "0");
    let campaigns = f.services.campaigns.store().clone();
    let first = PhoneNumber::parse("090000000").unwrap();
    let stored = tokio::task::spawn_blocking({
        let c = campaigns.clone();
        let p = first.clone();
        move || c.blacklist_for(&p).unwrap().len()
    })
    .await
    .unwrap();
    assert_eq!(stored, 0, "nothing of a refused bulk is stored");
    let at_cap = format!("[{}]", (0..1000).map(entry).collect::<Vec<_>>().join(","));
    let (_, body) = f
        .integra(
            "admin/addblackbulk",
            format!("black={}", urlencode(&at_cap)),
        )
        .await;
    assert_eq!(body, "1");

    // deleteblackbulk: the same bound.
    let (_, body) = f
        .integra(
            "admin/deleteblackbulk",
            format!("black={}", urlencode(&json)),
        )
        .await;
    assert_eq!(body, "0");
    let stored =
        tokio::task::spawn_blocking(move || campaigns.blacklist_for(&first).unwrap().len())
            .await
            .unwrap();
    assert_eq!(stored, 1, "a refused delete deletes nothing");

    // getrecords: a filter object full of members.
    let members = fill(BODY_LIMIT / 3, 0, ",", |i| format!(r#""k{i}":"v""#));
    let (status, body) = f
        .integra(
            "cdr/getrecords",
            format!("filter={}", urlencode(&format!("{{{members}}}"))),
        )
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "0"));
    // A body full of fields.
    let fields = fill(BODY_LIMIT, 0, "&", |i| format!("f{i}=1"));
    let (status, body) = f.integra("cdr/getrecords", fields).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "0"));
    // A plain getrecords is answered.
    let (status, body) = f.integra("cdr/getrecords", "filter=%7B%7D".into()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "[]"));
}

// ------------------------------------------------------------------ report ranges

#[tokio::test]
async fn report_ranges_take_a_quarter_and_refuse_longer_with_each_vendors_code() {
    let f = fixture();
    let day = |d: &str| format!("{d} 00:00:00");
    let (from, to_93, to_94) = (day("2026-01-01"), day("2026-04-04"), day("2026-04-05"));
    // eXpand: cdrCustom over 93 days answers (an empty list), 94 days is -8.
    let ok = f
        .expand("cdrCustom", &[("inicio", &from), ("fin", &to_93)])
        .await;
    assert!(ok.starts_with('<'), "{ok}");
    assert_eq!(
        f.expand("cdrCustom", &[("inicio", &from), ("fin", &to_94)])
            .await,
        "-8"
    );
    // USCall: ccenterCdr over 93 days answers, 94 days is parametro_invalido (datafin).
    let v = f
        .uscall("ccenterCdr", &[("dataini", &from), ("datafin", &to_93)])
        .await;
    assert_eq!(v["status"], "ok", "{v}");
    let v = f
        .uscall("ccenterCdr", &[("dataini", &from), ("datafin", &to_94)])
        .await;
    assert_eq!(v["codigo"], "parametro_invalido", "{v}");
    assert!(v["retorno"].as_str().unwrap().contains("93 dias"), "{v}");
    // uContact: getrecords over 93 days answers, 94 days is 0.
    let filter = |to: &str| {
        format!(
            "filter={}",
            urlencode(&format!(r#"{{"calldatei":"{from}","calldatef":"{to}"}}"#))
        )
    };
    let (_, body) = f.integra("cdr/getrecords", filter(&to_93)).await;
    assert_eq!(body, "[]");
    let (_, body) = f.integra("cdr/getrecords", filter(&to_94)).await;
    assert_eq!(body, "0");
}

// ------------------------------------------------------------------ long reports

fn synthetic_cdr(i: i64, start: i64) -> CdrRecord {
    CdrRecord {
        source_rowid: i,
        clid: "\"Ana\" <1001>".into(),
        src: "1001".into(),
        dst: format!("555{:04}", i % 10_000),
        dcontext: "outbound".into(),
        channel: ChannelName::new(format!("PJSIP/1001-{i:08x}")),
        dstchannel: Some(ChannelName::new(format!("PJSIP/carrier-{i:08x}"))),
        lastapp: "Dial".into(),
        lastdata: "PJSIP/5551001@carrier".into(),
        start: UnixTime(start),
        answer: Some(UnixTime(start + 5)),
        end: UnixTime(start + 65),
        duration: Duration::from_secs(65),
        billsec: Duration::from_secs(60),
        disposition: Disposition::Answered,
        amaflags: "DOCUMENTATION".into(),
        accountcode: String::new(),
        uniqueid: UniqueId::new(format!("1790000000.{i}")),
        linkedid: UniqueId::new(format!("1790000000.{i}")),
        sequence: i,
        peeraccount: String::new(),
        userfield: String::new(),
        recordingfile: String::new(),
        calldata: String::new(),
    }
}

/// A 93-day eXpand cdrCustom over 20000 calls, held mid-read: /healthz, originateCallStatus,
/// cdrData of one call (another journal read), uContact getrecords (another facade's journal
/// read) and a journal append all complete while it runs; then it completes with every call.
async fn a_long_report_does_not_hold_up_other_requests(read_connections: usize) {
    let dir = TempDir::new("facades-long-report");
    let mut services = services(&dir, read_connections);
    let path = dir.path().join("store.db");
    let now = UnixTime::now().seconds();
    let from = now - 93 * 86_400 + 3600;
    const CALLS: i64 = 20_000;
    let step = (now - from - 3600) / CALLS;
    let cdrs: Vec<CdrRecord> = (1..=CALLS)
        .map(|i| synthetic_cdr(i, from + i * step))
        .collect();
    let mut writer = crate::test_support::journal_writer(&path);
    writer
        .append_cdrs(&SourceId::new("cdr"), &cdrs, SourceCursor::Rowid(CALLS))
        .unwrap();
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = std_mpsc::channel();
    services.journal =
        crate::test_support::held_report(&path, read_connections, entered_tx, release_rx);
    let f = fixture_over(dir, services);
    let tz = f.services.time_zone.clone();
    let render = |t: i64| {
        jiff::Timestamp::from_second(t)
            .unwrap()
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let (inicio, fin) = (render(from - 3600), render(now));

    let report = tokio::spawn({
        let app = f.app.clone();
        let body = envelope(
            "urn:apiws",
            "cdrCustom",
            &[
                ("authorizedKey", &f.key),
                ("inicio", &inicio),
                ("fin", &fin),
            ],
        );
        async move {
            send(
                &app,
                Request::post(super::expand::PATH)
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
        }
    });
    entered_rx.await.expect("the report reached the journal");

    // While it runs:
    let (status, _) = send(
        &f.app,
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v = f
        .expand(
            "originateCallStatus",
            &[("originatedID", "19a2b3c4d5e-5f0e1d2c")],
        )
        .await;
    assert!(!v.is_empty());
    let one = f.expand("cdrData", &[("uniqueid", "1790000000.7")]).await;
    assert!(one.contains("1790000000.7"), "{one}");
    let (status, body) = f.integra("cdr/getrecords", "filter=%7B%7D".into()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "[]"));
    let later = synthetic_cdr(CALLS + 1, now - 10);
    tokio::task::spawn_blocking(move || {
        writer
            .append_cdrs(
                &SourceId::new("cdr"),
                &[later],
                SourceCursor::Rowid(CALLS + 1),
            )
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!report.is_finished(), "the report is still running");

    release_tx.send(()).unwrap();
    let (status, body) = report.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let xml = parse_request(body.as_bytes()).unwrap().params[0]
        .1
        .clone()
        .unwrap_or_default();
    assert_eq!(
        xml.matches("<call ").count() as i64,
        CALLS + 1,
        "every call, the new one too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_93_day_report_runs_while_other_requests_complete() {
    a_long_report_does_not_hold_up_other_requests(4).await;
}
