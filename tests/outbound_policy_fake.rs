//! Fast tier: the outbound policy through each facade (`Router::oneshot`) with the real
//! originate service over the scripted fake AMI. An international or premium-rate number is
//! answered with the vendor's refusal (eXpand `originateCall` `0`, USCall `regra_discagem`,
//! uContact `AgentCall` `0`), the fake receives no `Originate`, and the refusal is in the action
//! journal with its rule; an allowed national number does reach the fake, so the silence is the
//! policy's doing. A credential over its cap of calls in flight or its calls per minute is
//! refused the same way.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use centralita::app::open_services;
use centralita::asterisk::ami::{AmiClient, AmiSettings};
use centralita::asterisk::call_commands::AmiCallCommands;
use centralita::asterisk::call_control::spawn_originate_service;
use centralita::asterisk::events::EventHub;
use centralita::asterisk::queue_control::AmiQueueControl;
use centralita::config::Config;
use centralita::core::agents::AgentService;
use centralita::core::audit::{ActionFilter, EngineAction};
use centralita::core::directory::CredentialApi;
use centralita::core::live::{DeviceStatus, EndpointKind, EndpointLive};
use centralita::core::{Secret, TimeRange};
use centralita::facades::{PbxServices, Services};
use support::fake_ami::{FakeAmi, SECRET, USERNAME};

const OUTBOUND: &str = r#"
[dialing]
[[dialing.category]]
id = "livre"
name = "Qualquer número"
[[dialing.category.rule]]
pattern = "X."
[[dialing.category.rule]]
pattern = "+X."

[[campaigns.campaign]]
name = "Ventas->"
outbound = true

[[outbound.credential]]
principal = "capped"
max_concurrent = 1

[[outbound.credential]]
principal = "slow"
calls_per_minute = 1
"#;

struct Engine {
    _dir: support::TempDir,
    fake: FakeAmi,
    services: Arc<Services>,
    router: Router,
}

async fn engine(tag: &str) -> Engine {
    let scratch = support::TempDir::new(&format!("outbound-fake-{tag}"));
    let dir = scratch.path();
    let mut fake = FakeAmi::start().await;
    let text = format!(
        "[engine]\ntimezone = \"America/Montevideo\"\n[store]\npath = {:?}\n\
         [[node]]\nname = \"pbx1\"\ncdr_db = {:?}\nqueue_log = {:?}\nrecordings_dir = {:?}\n\
         [node.ami]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"{USERNAME}\"\nsecret = \"{SECRET}\"\n\
         {OUTBOUND}",
        dir.join("store.db"),
        dir.join("master.db"),
        dir.join("queue_log"),
        dir.join("monitor"),
        fake.addr.port(),
    );
    let config = Arc::new(Config::from_toml(&text).unwrap());
    let services = Arc::new(open_services(config.clone()).unwrap());

    let mut s = AmiSettings::new("127.0.0.1", fake.addr.port(), USERNAME, Secret::new(SECRET));
    s.action_timeout = Duration::from_secs(2);
    s.keepalive = Duration::ZERO;
    let client = AmiClient::connect(s).await.unwrap();
    let store = Arc::new(
        centralita::store::originate_jobs::SqliteOriginateStore::open(&config.store.path).unwrap(),
    );
    let answer = fake.answer_device_state_list(&[]);
    let hub = EventHub::start(&client);
    let (originate, ()) = tokio::join!(
        spawn_originate_service(
            &hub,
            store,
            &config.originate.context,
            config.originate_settings(),
        ),
        answer
    );
    let originate = originate
        .unwrap()
        .with_action_journal(services.actions.clone());
    // The phones idle, in the live state the originate service reads device states from.
    let live = hub.live();
    live.update(|live| {
        for phone in ["1001", "1002", "1003"] {
            live.endpoints.insert(
                phone.into(),
                EndpointLive {
                    kind: EndpointKind::Extension,
                    device_state: DeviceStatus::NotInUse,
                    contact_ip: None,
                    contact_status: None,
                    calls: BTreeMap::new(),
                },
            );
        }
    });
    services.attach_pbx(PbxServices {
        originate,
        agents: AgentService::new(
            services.directory.clone(),
            Arc::new(AmiQueueControl::new(client.clone())),
            live.clone(),
            services.naming.clone(),
        ),
        live,
        commands: Arc::new(AmiCallCommands::new(client)),
    });
    let router =
        centralita::facades::router(services.clone(), centralita::app::facade_sections(&config));
    Engine {
        _dir: scratch,
        fake,
        services,
        router,
    }
}

impl Engine {
    fn key(&self, system: &str, api: CredentialApi) -> String {
        support::router::key(&self.services, system, api)
    }

    async fn post(&self, req: Request<Body>) -> (u16, String) {
        support::router::post(&self.router, req).await
    }

    /// The SOAP `return` of `op` at `path` (namespace `ns`).
    async fn soap(&self, path: &str, ns: &str, op: &str, parts: &[(&str, &str)]) -> String {
        support::router::soap(&self.router, path, ns, op, parts).await
    }

    async fn originate_call(&self, key: &str, src: &str, dst: &str) -> String {
        self.soap(
            "/apiws/2/apiws.php",
            "urn:apiws",
            "originateCall",
            &[
                ("authorizedKey", key),
                ("src", src),
                ("srcCallerID", "CRM"),
                ("dst", dst),
                ("dstCallerID", "Cliente"),
                ("timeout", "20"),
                ("callinfo", ""),
            ],
        )
        .await
    }

    async fn start_call(&self, token: &str, src: &str, dst: &str) -> serde_json::Value {
        let text = self
            .soap(
                "/aplicativos/webservice/wsuscall.php",
                "urn:wsuscall",
                "startCall",
                &[
                    ("token", token),
                    ("tipo", "outbound"),
                    ("origem", src),
                    ("destino", dst),
                    ("categoria", "livre"),
                ],
            )
            .await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    async fn agent_call(&self, key: &str, phone: &str, dst: &str) -> (u16, String) {
        let form = format!(
            "callerid=&agent=ana&phone={phone}&tech=SIP&context=x&outqueue=Ventas-%3E&destination={}",
            dst.replace('+', "%2B")
        );
        self.post(
            Request::post("/Integra/resources/Agents/AgentCall")
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=UTF-8",
                )
                .header("authorization", format!("Bearer {key}"))
                .body(Body::from(form))
                .unwrap(),
        )
        .await
    }

    /// No action reaches the fake AMI within a moment.
    async fn assert_no_action(&mut self, what: &str) {
        if let Some(a) = self.fake.try_next_action(Duration::from_millis(400)).await {
            panic!(
                "{what}: the fake AMI received {} {:?}",
                a.action(),
                a.fields
            );
        }
    }

    /// The next action is the `Originate` of `exten`; it is answered `Success` (the job stays
    /// in flight).
    async fn expect_originate(&mut self, exten: &str) {
        let a = tokio::time::timeout(Duration::from_secs(5), self.fake.next_action())
            .await
            .expect("an Originate");
        assert_eq!(a.action(), "Originate");
        assert_eq!(a.get("Exten"), Some(exten));
        a.respond("Success", &[("Message", "Originate successfully queued")]);
    }

    fn journal(&self, api: &str) -> Vec<EngineAction> {
        self.services
            .actions
            .list(
                TimeRange::all(),
                &ActionFilter {
                    api: Some(api.into()),
                    action: Some("originate.start".into()),
                    ..Default::default()
                },
            )
            .unwrap()
    }
}

/// The journal has a refused start of `number` by `rule`.
fn journaled(entries: &[EngineAction], number: &str, rule: &str) {
    assert!(
        entries
            .iter()
            .any(|e| e.params.contains(&format!("destination={number}"))
                && e.params.contains(&format!("rule={rule}"))
                && e.outcome
                    .starts_with("error: refused by the outbound policy")
                && e.outcome.contains(&format!("(rule: {rule})"))
                && !e.principal.is_empty()),
        "no refusal of {number} by {rule} in {entries:#?}"
    );
}

#[tokio::test]
async fn expand_originate_call_refuses_international_and_premium_without_sending_anything() {
    let mut e = engine("expand").await;
    let key = e.key("CRM", CredentialApi::Expand);
    for (number, rule) in [
        ("0059899123456", "international"),
        ("+5491155551234", "international"),
        ("09001234", "premium"),
        ("12345678901", "destination"),
    ] {
        assert_eq!(
            e.originate_call(&key, "1001", number).await,
            "0",
            "{number}"
        );
        e.assert_no_action(number).await;
        journaled(&e.journal("expand"), number, rule);
    }
    // An allowed national number and an internal extension are placed.
    let id = e.originate_call(&key, "1001", "5551030").await;
    assert!(id.contains('-'), "a job id: {id}");
    e.expect_originate("5551030").await;
    let id = e.originate_call(&key, "1002", "1003").await;
    assert!(id.contains('-'), "a job id: {id}");
    e.expect_originate("1003").await;
}

#[tokio::test]
async fn uscall_start_call_refuses_with_regra_discagem_without_sending_anything() {
    let mut e = engine("uscall").await;
    let token = e.key("Discador", CredentialApi::Uscall);
    for (number, rule) in [
        ("0054911555", "international"),
        ("+5411", "international"),
        ("09009999", "premium"),
    ] {
        let v = e.start_call(&token, "1001", number).await;
        assert_eq!(v["status"], "erro", "{number}: {v}");
        assert_eq!(v["codigo"], "regra_discagem", "{number}: {v}");
        assert!(
            v["retorno"].as_str().unwrap().contains(number),
            "the message names the number: {v}"
        );
        e.assert_no_action(number).await;
        journaled(&e.journal("uscall"), number, rule);
    }
    let v = e.start_call(&token, "1001", "5551030").await;
    assert!(v["retorno"]["id"].is_string(), "{v}");
    e.expect_originate("5551030").await;
}

#[tokio::test]
async fn ucontact_agent_call_refuses_with_0_without_sending_anything() {
    let mut e = engine("ucontact").await;
    let key = e.key("Portal", CredentialApi::Ucontact);
    for (number, rule) in [("0059829001234", "international"), ("09001234", "premium")] {
        assert_eq!(
            e.agent_call(&key, "1001", number).await,
            (200, "0".to_owned()),
            "{number}"
        );
        e.assert_no_action(number).await;
        journaled(&e.journal("ucontact"), number, rule);
    }
    let (status, guid) = e.agent_call(&key, "1001", "099555001").await;
    assert_eq!(status, 200);
    assert_eq!(guid.len(), 36, "a guid: {guid}");
    e.expect_originate("099555001").await;
}

#[tokio::test]
async fn a_credential_over_its_cap_or_its_rate_is_refused_without_sending_anything() {
    let mut e = engine("limits").await;
    // Found by system name: max_concurrent = 1.
    let capped = e.key("capped", CredentialApi::Expand);
    assert!(e
        .originate_call(&capped, "1001", "5551030")
        .await
        .contains('-'));
    e.expect_originate("5551030").await;
    // The first job is still ringing (in flight): the second is refused.
    assert_eq!(e.originate_call(&capped, "1002", "5551031").await, "0");
    e.assert_no_action("over the cap").await;
    journaled(&e.journal("expand"), "5551031", "concurrency");
    // Another credential is not affected.
    let other = e.key("CRM", CredentialApi::Expand);
    assert!(e
        .originate_call(&other, "1002", "5551032")
        .await
        .contains('-'));
    e.expect_originate("5551032").await;

    // calls_per_minute = 1, through USCall: the second start within the minute is refused.
    let slow = e.key("slow", CredentialApi::Uscall);
    let v = e.start_call(&slow, "1003", "5551040").await;
    assert!(v["retorno"]["id"].is_string(), "{v}");
    e.expect_originate("5551040").await;
    let v = e.start_call(&slow, "1003", "5551041").await;
    assert_eq!(v["codigo"], "nao_permitido", "{v}");
    assert!(v["retorno"].as_str().unwrap().contains("por minuto"), "{v}");
    e.assert_no_action("over the rate").await;
    journaled(&e.journal("uscall"), "5551041", "rate");
}
