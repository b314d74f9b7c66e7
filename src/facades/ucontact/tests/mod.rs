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
[[campaigns.campaign]]
name = "Cobranza->"
queue = "q_cobranza"
outbound = true
trunk = "carrier"
[[campaigns.campaign.disposition]]
l1 = "Venta"
txtcode = "V01"
[[campaigns.campaign.disposition]]
l1 = "No llamar"
l2 = "Pidio"
action = "BLACKLIST"
txtcode = "NL"
[[campaigns.campaign.disposition]]
l1 = "Volver"
action = "RESCHEDULE"
txtcode = "RS"
"#;

struct Fixture {
    _dir: TempDir,
    config: Arc<Config>,
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
    let services = Arc::new(crate::test_support::services(config.clone()));
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
    let router = routes(services.clone(), keys, config.ucontact.clone());
    Fixture {
        _dir: dir,
        config,
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

/// The body of `op`'s answer to session `auth` (`1`, `0` or the JSON of a 200).
async fn said(router: &Router, op: &str, auth: &str, body: &str) -> String {
    post(router, op, Some(auth), body).await.1
}

/// Each `(operation, body)` answers `0`, the vendor's refusal, to session `auth`.
async fn refused_all(router: &Router, auth: &str, cases: &[(&str, String)]) {
    for (op, body) in cases {
        assert_eq!(said(router, op, auth, body).await, "0", "{op}: {body}");
    }
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

mod campaigns;
mod dialer_uploads;
mod dialers;
mod recordings;
mod records;
