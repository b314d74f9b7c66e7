//! In-process tier: the whole engine as `centralita serve` builds it (`App::build` and
//! `App::run`, the real AMI client, originate service, agent service, live follower and call
//! commands) over a scripted PBX on the fake AMI (`support::scripted_pbx`). Each facade's
//! commands go from the HTTP request (the app's own router) down to the AMI action the PBX
//! receives, and back: the events the PBX sends (a call ringing and answered, a member paused)
//! come out in the facade's next answer. Refused input is proven refused by what the PBX did
//! not receive, with a well-formed request after it as the barrier that did reach it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use centralita::app::{AmiConnector, App, EngineHealth};
use centralita::config::Config;
use centralita::core::agent_digest::digest_hash;
use centralita::core::directory::{
    Agent, AgentNumber, CredentialApi, PauseReason, PauseReasonId, QueueName,
};
use centralita::core::md5::md5_hex;
use centralita::core::Secret;
use centralita::facades::Services;
use centralita::http::HealthProbe;
use support::fake_ami::{SECRET, USERNAME};
use support::scripted_pbx::{ScriptedPbx, Seen, QUEUE};
use tokio::sync::oneshot;

const FACADES: &str = r#"
[sms]
uri_template = "pjsip:carrier/sip:{number}@192.0.2.1"

[dialing]
ddrs = ["26002000"]
[[dialing.category]]
id = "livre"
name = "Qualquer número"
[[dialing.category.rule]]
pattern = "X."

[[campaigns.campaign]]
name = "Ventas->"
outbound = true

[[campaigns.campaign]]
name = "Troncal->"
outbound = true
trunk = "carrier"

[[campaigns.campaign]]
name = "Perdida->"
outbound = true
trunk = "nao_existe"
"#;

struct Engine {
    _dir: support::TempDir,
    pbx: ScriptedPbx,
    services: Arc<Services>,
    health: EngineHealth,
    router: Router,
    stop: Option<oneshot::Sender<()>>,
    run: Option<tokio::task::JoinHandle<()>>,
}

/// The engine, built and running over a scripted PBX, with agent `2001` ("ana", queue
/// `q_ventas`, USCall password "segredo") and the pause reason `almoco` in its directory.
async fn engine(tag: &str) -> Engine {
    engine_with(tag, "", |_| {}).await
}

/// As [`engine`], with `node` appended to the node's section and `prepare` run on the scratch
/// directory before the engine starts.
async fn engine_with(tag: &str, node: &str, prepare: impl FnOnce(&std::path::Path)) -> Engine {
    let scratch = support::TempDir::new(&format!("app-fake-{tag}"));
    let dir = scratch.path();
    prepare(dir);
    let pbx = ScriptedPbx::start().await;
    let text = format!(
        "[engine]\ntimezone = \"America/Montevideo\"\n[store]\npath = {:?}\n\
         [http]\nbind = \"127.0.0.1:0\"\n[agi]\nbind = \"127.0.0.1:0\"\n\
         [[node]]\nname = \"pbx1\"\ncdr_db = {:?}\nqueue_log = {:?}\nrecordings_dir = {:?}\n{node}\n\
         [node.ami]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"{USERNAME}\"\nsecret = \"{SECRET}\"\n\
         {FACADES}",
        dir.join("store.db"),
        dir.join("master.db"),
        dir.join("queue_log"),
        dir.join("monitor"),
        pbx.addr.port(),
    );
    let config = Arc::new(Config::from_toml(&text).unwrap());
    let connector = Arc::new(AmiConnector::from_config(&config));
    let app = App::build(config, connector).unwrap();
    let services = app.services().clone();
    let health = app.health().clone();
    let router = app.router();

    let store = services.directory.store();
    let mut ana = Agent::new(AgentNumber::new("2001").unwrap());
    ana.username = "ana".into();
    ana.full_name = "Ana Pérez".into();
    ana.queues = vec![QueueName::new(QUEUE).unwrap()];
    store.upsert_agent(&ana).unwrap();
    store
        .upsert_pause_reason(&PauseReason {
            id: PauseReasonId::new("almoco").unwrap(),
            name: "Almuerzo".into(),
            max_seconds: None,
            queues: vec![],
        })
        .unwrap();
    services
        .agent_digests
        .store()
        .set_digest(&ana.number, &digest_hash(&Secret::new("segredo")).unwrap())
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        app.run(listener, async {
            let _ = stopped.await;
        })
        .await
        .expect("the engine runs until it is stopped");
    });
    // CoreSettings is sent once the PBX services are attached.
    pbx.wait_for(0, "CoreSettings", |_| true).await;
    // The live state's first snapshot (read by the follower on its own task) has the phones.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !services.pbx().is_some_and(|p| {
        let live = p.live.read().unwrap();
        ["1001", "1002", "1003", "1004", "1100"]
            .iter()
            .all(|e| live.endpoints.contains_key(*e))
    }) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the live state has the phones"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Engine {
        _dir: scratch,
        pbx,
        services,
        health,
        router,
        stop: Some(stop),
        run: Some(run),
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

    async fn expand(&self, op: &str, parts: &[(&str, &str)]) -> String {
        self.soap("/apiws/2/apiws.php", "urn:apiws", op, parts)
            .await
    }

    /// eXpand `originateCall(key, src, srcCallerID, dst, dstCallerID, timeout, callinfo)`.
    async fn originate_call(&self, key: &str, args: [&str; 6]) -> String {
        let names = [
            "src",
            "srcCallerID",
            "dst",
            "dstCallerID",
            "timeout",
            "callinfo",
        ];
        let mut parts = vec![("authorizedKey", key)];
        parts.extend(names.into_iter().zip(args));
        self.expand("originateCall", &parts).await
    }

    /// USCall `startCall(token, tipo, origem, destino, categoria)`.
    async fn start_call(
        &self,
        token: &str,
        tipo: &str,
        origem: &str,
        destino: &str,
        categoria: &str,
    ) -> serde_json::Value {
        self.uscall(
            "startCall",
            &[
                ("token", token),
                ("tipo", tipo),
                ("origem", origem),
                ("destino", destino),
                ("categoria", categoria),
            ],
        )
        .await
    }

    async fn uscall(&self, op: &str, parts: &[(&str, &str)]) -> serde_json::Value {
        let text = self
            .soap(
                "/aplicativos/webservice/wsuscall.php",
                "urn:wsuscall",
                op,
                parts,
            )
            .await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{op}: {e}: {text}"))
    }

    async fn ucontact(&self, op: &str, key: &str, form: &str) -> (u16, String) {
        self.post(
            Request::post(format!("/Integra/resources/{op}"))
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=UTF-8",
                )
                .header("authorization", format!("Bearer {key}"))
                .body(Body::from(form.to_owned()))
                .unwrap(),
        )
        .await
    }

    /// Polls `answer` (every 10 ms, up to 5 s) until `done` holds; its last value.
    async fn until<T: std::fmt::Debug, F: std::future::Future<Output = T>>(
        &self,
        what: &str,
        answer: impl Fn() -> F,
        done: impl Fn(&T) -> bool,
    ) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let value = answer().await;
            if done(&value) {
                return value;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("{what}: still {value:?} after 5 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A call of `phone` up on channel `channel` (uniqueid `uid`), as Asterisk reports it.
    fn call_up(&self, channel: &str, uid: &str, phone: &str) {
        self.pbx.event(&[
            ("Event", "Newchannel"),
            ("Channel", channel),
            ("ChannelState", "6"),
            ("ChannelStateDesc", "Up"),
            ("CallerIDNum", phone),
            ("CallerIDName", ""),
            ("ConnectedLineNum", "5559999"),
            ("ConnectedLineName", ""),
            ("Exten", "5559999"),
            ("Context", "from-internal"),
            ("Uniqueid", uid),
            ("Linkedid", uid),
        ]);
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.run.take().unwrap())
            .await
            .expect("the engine stops")
            .unwrap();
    }
}

/// Which actions after `mark` are named `name`.
fn named(seen: &[Seen], name: &str) -> usize {
    seen.iter()
        .filter(|s| s.action().eq_ignore_ascii_case(name))
        .count()
}

#[tokio::test]
async fn expand_commands_reach_the_pbx_and_its_events_come_back() {
    let e = engine("expand").await;
    let key = e.key("CRM", CredentialApi::Expand);
    let k = key.as_str();

    // originateCall: the Originate Asterisk receives, then the job follows the PBX's events.
    let mark = e.pbx.mark();
    let id = e
        .originate_call(k, ["1001", "Ana", "5551010", "Cliente", "20", "lead=7"])
        .await;
    assert!(id.contains('-'), "a job id: {id}");
    let o = e.pbx.wait_for(mark, "Originate", |_| true).await;
    assert_eq!(o.get("Channel"), Some("PJSIP/1001"));
    assert_eq!(o.get("Exten"), Some("5551010"));
    assert!(o.variables().contains(&"CALLDATA=lead=7"), "{o:?}");
    let status = |id: String| {
        let key = key.clone();
        let e = &e;
        async move {
            e.expand(
                "originateCallStatus",
                &[("authorizedKey", &key), ("originatedID", &id)],
            )
            .await
        }
    };
    assert_eq!(
        status(id.clone()).await,
        "1",
        "RINGING until Asterisk says more"
    );
    let uid = o
        .get("ChannelId")
        .expect("the job names its channel")
        .to_owned();
    let chan = "PJSIP/1001-00000001";
    let action_id = o.get("ActionID").unwrap().to_owned();
    for fields in [
        vec![
            ("Event", "Newchannel"),
            ("Channel", chan),
            ("Uniqueid", &uid),
        ],
        vec![
            ("Event", "Newstate"),
            ("ChannelState", "6"),
            ("Uniqueid", &uid),
        ],
        vec![
            ("Event", "OriginateResponse"),
            ("ActionID", &action_id),
            ("Response", "Success"),
            ("Reason", "4"),
            ("Uniqueid", &uid),
        ],
        vec![
            ("Event", "DialBegin"),
            ("Uniqueid", &uid),
            ("DestUniqueid", "99.1"),
        ],
        vec![
            ("Event", "DialEnd"),
            ("Uniqueid", &uid),
            ("DestUniqueid", "99.1"),
            ("DialStatus", "ANSWER"),
        ],
    ] {
        e.pbx.event(&fields);
    }
    e.until("answered", || status(id.clone()), |s| s == "2")
        .await;
    e.pbx
        .event(&[("Event", "Hangup"), ("Uniqueid", &uid), ("Cause", "16")]);
    e.until("hung up", || status(id.clone()), |s| s == "3")
        .await;

    // originateCallCancel: the ringing job's channel is hung up in Asterisk.
    let mark = e.pbx.mark();
    let id2 = e
        .originate_call(k, ["1002", "Ana", "5551011", "Cliente", "20", ""])
        .await;
    let o2 = e.pbx.wait_for(mark, "Originate", |_| true).await;
    let uid2 = o2.get("ChannelId").unwrap().to_owned();
    e.pbx.event(&[
        ("Event", "Newchannel"),
        ("Channel", "PJSIP/1002-00000002"),
        ("Uniqueid", &uid2),
    ]);
    let cancel = e
        .until(
            "cancelled",
            || async {
                e.expand(
                    "originateCallCancel",
                    &[("authorizedKey", k), ("originatedID", &id2)],
                )
                .await
            },
            |c| c == "1",
        )
        .await;
    assert_eq!(cancel, "1");
    let hangup = e.pbx.wait_for(mark, "Hangup", |_| true).await;
    assert_eq!(hangup.get("Channel"), Some("PJSIP/1002-00000002"));

    // Malformed values are answered 0 and never reach the PBX: no Originate, although the
    // well-formed call after them does.
    let mark = e.pbx.mark();
    let long = "x".repeat(1025);
    for (src, dst, info) in [
        ("1001&x", "5551010", ""),
        ("1001", "555;1010", ""),
        ("1001", "5551010", long.as_str()),
        ("1001", "5551010\r\nAction: Command", ""),
    ] {
        let answer = e.originate_call(k, [src, "", dst, "", "", info]).await;
        assert_eq!(answer, "0", "{src} {dst}");
    }
    let barrier = e
        .originate_call(k, ["1003", "", "5551012", "", "", ""])
        .await;
    assert!(barrier.contains('-'), "{barrier}");
    e.pbx
        .wait_for(mark, "Originate", |o| o.get("Exten") == Some("5551012"))
        .await;
    let after = e.pbx.commands_since(mark);
    assert_eq!(
        named(&after, "Originate"),
        1,
        "only the barrier: {after:#?}"
    );
    assert_eq!(named(&after, "Command"), 0, "{after:#?}");

    // loginAgent, pauseAgent, unpauseAgent, logoutAgent: the queue member Asterisk keeps,
    // and getAgentLogin's state from the events that followed.
    let mark = e.pbx.mark();
    assert_eq!(
        e.expand(
            "loginAgent",
            &[
                ("authorizedKey", k),
                ("agent", "ana"),
                ("extension", "1004")
            ]
        )
        .await,
        "true"
    );
    let add = e.pbx.wait_for(mark, "QueueAdd", |_| true).await;
    assert_eq!(
        (
            add.get("Queue"),
            add.get("Interface"),
            add.get("MemberName")
        ),
        (Some(QUEUE), Some("PJSIP/1004"), Some("2001"))
    );
    let login_info = || async {
        e.expand(
            "getAgentLogin",
            &[("authorizedKey", k), ("extension", "1004")],
        )
        .await
    };
    e.until("logged in", login_info, |x| {
        x.contains("number=\"2001\"")
            && x.contains("is_logged=\"true\"")
            && !x.contains("logged_date=\"\"")
    })
    .await;
    assert_eq!(
        e.expand(
            "pauseAgent",
            &[
                ("authorizedKey", k),
                ("agent", "2001"),
                ("queues", ""),
                ("pauseDTMF", "almuerzo")
            ]
        )
        .await,
        "true"
    );
    let pause = e
        .pbx
        .wait_for(mark, "QueuePause", |p| p.get("Paused") == Some("true"))
        .await;
    assert_eq!(
        (pause.get("Interface"), pause.get("Reason")),
        (Some("PJSIP/1004"), Some("almoco")),
        "the reason found by its name is sent by its id"
    );
    e.until("paused", login_info, |x| {
        x.contains("is_paused=\"true\"") && x.contains("pause_type=\"Almuerzo\"")
    })
    .await;
    assert_eq!(
        e.expand(
            "unpauseAgent",
            &[("authorizedKey", k), ("agent", "ana"), ("queues", "")]
        )
        .await,
        "true"
    );
    e.pbx
        .wait_for(mark, "QueuePause", |p| p.get("Paused") == Some("false"))
        .await;
    e.until("unpaused", login_info, |x| {
        x.contains("is_paused=\"false\"")
    })
    .await;
    assert_eq!(
        e.expand("logoutAgent", &[("authorizedKey", k), ("agent", "ana")])
            .await,
        "true"
    );
    let remove = e.pbx.wait_for(mark, "QueueRemove", |_| true).await;
    assert_eq!(remove.get("Interface"), Some("PJSIP/1004"));
    assert!(e.pbx.members().is_empty(), "{:?}", e.pbx.members());

    // sendSms: bad input is answered 0 and sends nothing; a good message goes out as
    // MessageSend to the configured URI.
    let mark = e.pbx.mark();
    let long = "x".repeat(161);
    for (data, recip) in [
        (long.as_str(), "099123456"),
        ("hola", "099&1"),
        ("", "099123456"),
    ] {
        assert_eq!(
            e.expand(
                "sendSms",
                &[
                    ("authorizedKey", k),
                    ("msgId", "0"),
                    ("msgData", data),
                    ("msgRecip", recip)
                ]
            )
            .await,
            "0",
            "{data} {recip}"
        );
    }
    let sms = e
        .expand(
            "sendSms",
            &[
                ("authorizedKey", k),
                ("msgId", "0"),
                ("msgData", "hola"),
                ("msgRecip", "099123456"),
            ],
        )
        .await;
    assert!(sms.parse::<i64>().unwrap() > 0, "{sms}");
    let sent = e.pbx.wait_for(mark, "MessageSend", |_| true).await;
    assert_eq!(
        sent.get("To"),
        Some("pjsip:carrier/sip:099123456@192.0.2.1")
    );
    let after = e.pbx.commands_since(mark);
    assert_eq!(named(&after, "MessageSend"), 1, "{after:#?}");
    e.until(
        "sent",
        || async {
            e.expand("statusSms", &[("authorizedKey", k), ("idSMS", &sms)])
                .await
        },
        |s| s == "SENT",
    )
    .await;
    e.stop().await;
}

#[tokio::test]
async fn uscall_commands_reach_the_pbx_and_its_events_come_back() {
    let e = engine("uscall").await;
    let token = e.key("Discador", CredentialApi::Uscall);
    let t = token.as_str();

    // startCall
    let mark = e.pbx.mark();
    let v = e
        .start_call(t, "outbound", "1003", "5551020", "livre")
        .await;
    assert!(v["retorno"]["id"].is_string(), "{v}");
    let o = e.pbx.wait_for(mark, "Originate", |_| true).await;
    assert_eq!(
        (o.get("Channel"), o.get("Exten")),
        (Some("PJSIP/1003"), Some("5551020"))
    );
    // A source that is no phone of the PBX is refused before anything is sent.
    let mark = e.pbx.mark();
    let v = e
        .start_call(t, "outbound", "1999", "5551021", "livre")
        .await;
    assert_eq!(
        (v["codigo"].as_str(), v["retorno"].as_str()),
        (Some("nao_encontrado"), Some("Ramal 1999 não encontrado")),
        "{v}"
    );
    // A clicktocall to a DDR the site does not have, then one to its DDR.
    let ddr = |destino: &'static str| {
        let e = &e;
        async move {
            e.start_call(t, "clicktocall", "5551023", destino, "livre")
                .await
        }
    };
    let v = ddr("2600").await;
    assert_eq!(
        (v["codigo"].as_str(), v["retorno"].as_str()),
        (Some("nao_encontrado"), Some("DDR 2600 não encontrado")),
        "{v}"
    );
    let v = ddr("26002000").await;
    assert!(v["retorno"]["id"].is_string(), "{v}");
    e.pbx
        .wait_for(mark, "Originate", |o| {
            o.get("Channel") == Some("Local/5551023@centralita-originate")
                && o.get("Exten") == Some("26002000")
        })
        .await;
    let v = e
        .start_call(t, "outbound", "1002", "5551022", "livre")
        .await;
    assert!(v["retorno"]["id"].is_string(), "{v}");
    e.pbx
        .wait_for(mark, "Originate", |o| o.get("Exten") == Some("5551022"))
        .await;
    assert_eq!(
        named(&e.pbx.commands_since(mark), "Originate"),
        2,
        "the DDR's and 1002's calls only"
    );

    // agentLogin, startPause, endPause, agentLogout; agentStatus follows the PBX's events.
    let md5 = md5_hex(b"segredo");
    let mark = e.pbx.mark();
    let v = e
        .uscall(
            "agentLogin",
            &[
                ("token", t),
                ("agente", "2001"),
                ("ramal", "1004"),
                ("senhamd5", &md5),
            ],
        )
        .await;
    assert_eq!(v["retorno"]["filas"], serde_json::json!([QUEUE]), "{v}");
    let add = e.pbx.wait_for(mark, "QueueAdd", |_| true).await;
    assert_eq!(add.get("Interface"), Some("PJSIP/1004"));
    let status = || async {
        e.uscall("agentStatus", &[("token", t), ("agente", "2001")])
            .await
    };
    let st = |v: &serde_json::Value| v["retorno"][0]["status"].as_str().unwrap_or("").to_owned();
    e.until("ocioso", status, |v| st(v) == "ocioso").await;
    e.uscall(
        "startPause",
        &[("token", t), ("agente", "2001"), ("idpausa", "almoco")],
    )
    .await;
    let pause = e
        .pbx
        .wait_for(mark, "QueuePause", |p| p.get("Paused") == Some("true"))
        .await;
    assert_eq!(pause.get("Reason"), Some("almoco"));
    e.until("em pausa", status, |v| st(v) == "em pausa").await;
    e.uscall("endPause", &[("token", t), ("agente", "2001")])
        .await;
    e.pbx
        .wait_for(mark, "QueuePause", |p| p.get("Paused") == Some("false"))
        .await;
    e.until("ocioso again", status, |v| st(v) == "ocioso").await;
    e.uscall("agentLogout", &[("token", t), ("agente", "2001")])
        .await;
    let remove = e.pbx.wait_for(mark, "QueueRemove", |_| true).await;
    assert_eq!(remove.get("Interface"), Some("PJSIP/1004"));
    e.until("nao logado", status, |v| st(v) == "nao logado")
        .await;

    // hangupCall and monitExten act on the call the live state shows on the phone.
    e.call_up("PJSIP/1003-0000000a", "pbx1-1.10", "1003");
    let mark = e.pbx.mark();
    let spy = e
        .until(
            "the call is seen",
            || async {
                e.uscall(
                    "monitExten",
                    &[
                        ("token", t),
                        ("srcramal", "1100"),
                        ("dstramal", "1003"),
                        ("tipo", "escuta"),
                    ],
                )
                .await
            },
            |v| v["status"] != "erro",
        )
        .await;
    assert_eq!(spy["retorno"]["dstramal"], "1003", "{spy}");
    let o = e.pbx.wait_for(mark, "Originate", |_| true).await;
    assert_eq!(o.get("Channel"), Some("PJSIP/1100"));
    assert_eq!(
        o.get("Exten"),
        Some("*2221003"),
        "the listen feature code: {o:?}"
    );
    let v = e
        .uscall("hangupCall", &[("token", t), ("ramal", "1003")])
        .await;
    assert_eq!(v["retorno"]["ramal"], "1003", "{v}");
    let hangup = e.pbx.wait_for(mark, "Hangup", |_| true).await;
    assert_eq!(hangup.get("Channel"), Some("PJSIP/1003-0000000a"));
    e.stop().await;
}

#[tokio::test]
async fn ucontact_commands_reach_the_pbx() {
    let e = engine("ucontact").await;
    let key = e.key("Portal", CredentialApi::Ucontact);

    // AgentCall: the Originate from the agent's phone to the destination.
    let mark = e.pbx.mark();
    let (status, guid) = e
        .ucontact(
            "Agents/AgentCall",
            &key,
            "callerid=&agent=ana&phone=1001&tech=SIP&context=x&outqueue=Ventas-%3E&destination=5551030",
        )
        .await;
    assert_eq!((status, guid.len()), (200, 36), "a guid: {guid}");
    let o = e.pbx.wait_for(mark, "Originate", |_| true).await;
    assert_eq!(
        (o.get("Channel"), o.get("Exten")),
        (Some("PJSIP/1001"), Some("5551030"))
    );

    // DialerTask's click-to-call (calldate null, bulk and automatic false): the same call, at
    // once, from the phone the task names.
    let mark = e.pbx.mark();
    let task = r#"{"calldate": null, "campaign": "Ventas->", "destination": "555-1034", "alternatives": "", "agent": "1100", "data": "idcustomer=7", "source": "source", "bulk": false, "automatic": false}"#;
    let body: String = format!(
        "call={}",
        task.bytes()
            .map(|b| format!("%{b:02X}"))
            .collect::<String>()
    );
    let answer = e.ucontact("Dialers/DialerTask", &key, &body).await;
    assert_eq!(answer, (200, "1".to_owned()));
    let o = e.pbx.wait_for(mark, "Originate", |_| true).await;
    assert_eq!(
        (o.get("Channel"), o.get("Exten")),
        (Some("PJSIP/1100"), Some("5551034"))
    );

    // Bad input is 0 and sends nothing; the good call after it does.
    let mark = e.pbx.mark();
    for body in [
        "phone=1001&destination=5551234&outqueue=Nope-%3E",
        "phone=10%0D%0A01&destination=5551234&outqueue=Ventas-%3E",
        "phone=1001&destination=555%261234&outqueue=Ventas-%3E",
        "phone=1001&destination=5551234&outqueue=",
        "phone=1001&destination=5551234&outqueue=Ventas-%3E&tech=IAX2",
        // Not a phone of the PBX: the core's check of every call.
        "phone=1099&destination=5551234&outqueue=Ventas-%3E",
    ] {
        let answer = e.ucontact("Agents/AgentCall", &key, body).await;
        assert_eq!(answer, (200, "0".to_owned()), "{body}");
    }
    let answer = e
        .ucontact(
            "Agents/AgentCallwithData",
            &key,
            "phone=1001&destination=5551234&outqueue=Ventas-%3E&data=%7B%22a%22%3A%22x%2Cy%22%7D",
        )
        .await;
    assert_eq!(answer, (200, "0".to_owned()), "data with a comma");
    let answer = e.ucontact("Agents/HangupPhone", &key, "phone=abc").await;
    assert_eq!(answer, (200, "0".to_owned()), "not a phone");
    let (_, guid) = e
        .ucontact(
            "Agents/AgentCall",
            &key,
            "phone=1002&destination=5551031&outqueue=Ventas-%3E",
        )
        .await;
    assert_eq!(guid.len(), 36, "{guid}");
    e.pbx
        .wait_for(mark, "Originate", |o| o.get("Exten") == Some("5551031"))
        .await;
    let after = e.pbx.commands_since(mark);
    assert_eq!(
        named(&after, "Originate"),
        1,
        "only the barrier: {after:#?}"
    );
    assert_eq!(named(&after, "Hangup"), 0, "{after:#?}");

    // A campaign's trunk: one the PBX has is the call's TRUNK; one it does not have is
    // refused (0) before anything is sent.
    let mark = e.pbx.mark();
    let (_, answer) = e
        .ucontact(
            "Agents/AgentCall",
            &key,
            "phone=1003&destination=5551032&outqueue=Perdida-%3E",
        )
        .await;
    assert_eq!(answer, "0");
    let (_, guid) = e
        .ucontact(
            "Agents/AgentCall",
            &key,
            "phone=1003&destination=5551033&outqueue=Troncal-%3E",
        )
        .await;
    assert_eq!(guid.len(), 36, "{guid}");
    let o = e
        .pbx
        .wait_for(mark, "Originate", |o| o.get("Exten") == Some("5551033"))
        .await;
    assert!(o.variables().contains(&"TRUNK=carrier"), "{o:?}");
    assert_eq!(named(&e.pbx.commands_since(mark), "Originate"), 1);

    // HangupPhone: the phone's call, as the live state has it, is hung up in Asterisk.
    e.call_up("PJSIP/1004-0000000b", "pbx1-1.11", "1004");
    let mark = e.pbx.mark();
    e.until(
        "hung up",
        || async { e.ucontact("Agents/HangupPhone", &key, "phone=1004").await },
        |(_, a)| a == "1",
    )
    .await;
    let hangup = e.pbx.wait_for(mark, "Hangup", |_| true).await;
    assert_eq!(hangup.get("Channel"), Some("PJSIP/1004-0000000b"));
    e.stop().await;
}

/// uContact's `admin/CallWorkflow`: each JSON parameter is one `Setvar` of `WF_<name>` on the
/// call at the flow's context and extension (the newest one there), else on the phone's call
/// the extension names; hostile names or values too long set nothing at all; no call is `0`.
#[tokio::test]
async fn ucontact_call_workflow_sets_the_variables_on_the_call() {
    let e = engine("ucontact-workflow").await;
    let key = e.key("Portal", CredentialApi::Ucontact);
    e.pbx.set_channels(&[
        (
            "PJSIP/carrier-00000001",
            "from-carrier",
            "26001000",
            "1765000000.7",
        ),
        (
            "PJSIP/carrier-00000003",
            "from-carrier",
            "26001000",
            "1765000000.12",
        ),
        (
            "PJSIP/carrier-00000002",
            "from-carrier",
            "26002000",
            "1765000001.1",
        ),
    ]);
    let form = |context: &str, exten: &str, json: &str| {
        let enc: String = json.bytes().map(|b| format!("%{b:02X}")).collect();
        format!("context={context}&extension={exten}&jsonparams={enc}")
    };
    let setvars = |mark| {
        let seen = e.pbx.commands_since(mark);
        seen.iter()
            .filter(|s| s.action().eq_ignore_ascii_case("Setvar"))
            .map(|s| {
                format!(
                    "{} {}={}",
                    s.get("Channel").unwrap_or(""),
                    s.get("Variable").unwrap_or(""),
                    s.get("Value").unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
    };

    // The flow's call: the newest channel at from-carrier/26001000.
    let mark = e.pbx.mark();
    let answer = e
        .ucontact(
            "admin/CallWorkflow",
            &key,
            &form(
                "from-carrier",
                "26001000",
                r#"{"cliente": "Ana Pérez", "deuda": 1520.5, "vip": true, "nota": "a\r\nAction: Hangup"}"#,
            ),
        )
        .await;
    assert_eq!(answer, (200, "OK".to_owned()));
    let mut sent = setvars(mark);
    sent.sort();
    assert_eq!(
        sent,
        [
            "PJSIP/carrier-00000003 WF_cliente=Ana Pérez",
            "PJSIP/carrier-00000003 WF_deuda=1520.5",
            "PJSIP/carrier-00000003 WF_nota=aAction: Hangup",
            "PJSIP/carrier-00000003 WF_vip=true",
        ]
    );

    // No channel at the place, but the extension is a phone on a call: that phone's channel.
    e.call_up("PJSIP/1002-0000000c", "pbx1-1.12", "1002");
    let mark = e.pbx.mark();
    e.until(
        "set on the phone's call",
        || async {
            e.ucontact(
                "admin/CallWorkflow",
                &key,
                &form("agentes", "1002", r#"{"ticket": "T-77"}"#),
            )
            .await
        },
        |(_, a)| a == "OK",
    )
    .await;
    assert_eq!(setvars(mark), ["PJSIP/1002-0000000c WF_ticket=T-77"]);

    // Hostile or unusable input, or no call: `0` and not one Setvar.
    let mark = e.pbx.mark();
    let long = format!(r#"{{"a": "{}"}}"#, "v".repeat(1025));
    for body in [
        form("from-carrier", "26001000", r#"{"CDR(userfield)": "x"}"#),
        form(
            "from-carrier",
            "26001000",
            r#"{"ok": "1", "__INHERIT x": "y"}"#,
        ),
        form(
            "from-carrier",
            "26001000",
            r#"{"ok": "1", "SHELL(id)": "y"}"#,
        ),
        form("from-carrier", "26001000", &long),
        form("from-carrier", "26001000", "{}"),
        form("from-carrier", "26001000", "not json"),
        form("from-carrier", "26001000", r#"["a", "b"]"#),
        form("from-carrier,x", "26001000", r#"{"a": "1"}"#),
        form("from-carrier", "2600%0D%0A1000", r#"{"a": "1"}"#),
        form("from-carrier", "26009999", r#"{"a": "1"}"#),
    ] {
        let answer = e.ucontact("admin/CallWorkflow", &key, &body).await;
        assert_eq!(answer, (200, "0".to_owned()), "{body}");
    }
    assert!(setvars(mark).is_empty(), "{:?}", setvars(mark));
    e.stop().await;
}

/// Asterisk's CDR table as `cdr_sqlite3_custom` creates it, in `dir/master.db`.
fn asterisk_cdr_db(dir: &std::path::Path) {
    let c = rusqlite::Connection::open(dir.join("master.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE cdr (AcctId INTEGER PRIMARY KEY, clid,src,dst,dcontext,channel,\
         dstchannel,lastapp,lastdata,duration,billsec,disposition,amaflags,accountcode,uniqueid,\
         linkedid,sequence,peeraccount,userfield,start_epoch,answer_epoch,end_epoch,\
         recordingfile,calldata)",
    )
    .unwrap();
}

#[tokio::test]
async fn a_cdr_event_wakes_ingestion_and_the_event_lag_reaches_healthz() {
    // Polls a minute apart: a CDR stored within seconds was fetched because of the event.
    let e = engine_with("cdr-wake", "poll_interval_ms = 60000", asterisk_cdr_db).await;
    e.until(
        "ingestion's first poll",
        || async { e.health.report().ingest_lag_seconds },
        Option::is_some,
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    rusqlite::Connection::open(e._dir.path().join("master.db"))
        .unwrap()
        .execute(
            "INSERT INTO cdr (clid,src,dst,dcontext,channel,dstchannel,lastapp,lastdata,duration,\
             billsec,disposition,amaflags,accountcode,uniqueid,linkedid,sequence,peeraccount,\
             userfield,start_epoch,answer_epoch,end_epoch,recordingfile,calldata) VALUES \
             ('\"1001\" <1001>','1001','5559999','from-internal','PJSIP/1001-00000001',\
             'PJSIP/carrier-00000002','Dial','PJSIP/5559999@carrier','12','10','ANSWERED',\
             'DOCUMENTATION','','1795000000.7','1795000000.7','7','','',?1,?2,?3,'','')",
            rusqlite::params![now - 12, now - 10, now],
        )
        .unwrap();
    // Asterisk's `Cdr` event, 2.5 s after its `Timestamp` (a busy PBX).
    let sent_at = format!("{:.6}", now as f64 - 2.5);
    e.pbx.event(&[
        ("Event", "Cdr"),
        ("Timestamp", &sent_at),
        ("UniqueID", "1795000000.7"),
    ]);
    let cdrs = e
        .until(
            "the CDR ingested after the event",
            || async {
                e.services
                    .journal
                    .cdrs(centralita::core::TimeRange::all())
                    .await
                    .unwrap()
            },
            |cdrs| !cdrs.is_empty(),
        )
        .await;
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].uniqueid.as_str(), "1795000000.7");
    let lag = e
        .health
        .report()
        .event_lag_seconds
        .expect("/healthz reports the last event's lag");
    assert!((2.5..60.0).contains(&lag), "event lag {lag} s");
    e.stop().await;
}
