//! Live tier: agents, queues and pauses against the lab's Asterisk (see `vm/README.md`).
//!
//! What it proves, with phones 1005 and 1006 only:
//! - the engine's login puts agent 2005's phone (PJSIP/1005, member name 2005) into both of its
//!   queues; pause with a reason, unpause and logout do what Asterisk's `QueueStatus` and
//!   `queue_log` show, and the live state follows through events;
//! - changes made outside the engine (Asterisk CLI) reach the live state through events;
//! - an inbound call to q_soporte walks the live state through waiting → ringing → talking →
//!   wrap-up, and the queue's completed counter grows;
//! - a new follower on a new AMI connection rebuilds, from snapshots alone, the state the first
//!   one followed from events.
//!
//! Everything the test adds to the queues is removed at the end, also when it fails.

mod live_support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use centralita::asterisk::ami::action::{QueueRemove, QueueStatus};
use centralita::asterisk::ami::{AmiClient, AmiMessage, AmiSettings};
use centralita::asterisk::events::EventHub;
use centralita::asterisk::live_follower::LiveFollower;
use centralita::core::agents::AgentService;
use centralita::core::audit::Actor;
use centralita::core::directory::{
    Agent, AgentNumber, DirectoryStore, Extension, PauseReason, PauseReasonId, QueueName,
};
use centralita::core::live::{Activity, LiveState, SharedLive};
use centralita::core::Secret;
use centralita::store::SqliteDirectory;
use live_support::queue_control;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn queue_log() -> PathBuf {
    PathBuf::from(env_or("LAB_ROOT", "/var/cache/centralita/lab-root"))
        .join("var/log/asterisk/queue_log")
}

async fn connect() -> AmiClient {
    let mut s = AmiSettings::new(
        env_or("LAB_AMI_HOST", "127.0.0.1"),
        env_or("LAB_AMI_PORT", "5038")
            .parse()
            .expect("LAB_AMI_PORT"),
        env_or("LAB_AMI_USER", "centralita"),
        Secret::new(env_or("LAB_AMI_SECRET", "centralita-lab-ami")),
    );
    s.action_timeout = Duration::from_secs(10);
    AmiClient::connect(s)
        .await
        .expect("the lab's AMI must accept the engine's user: is the lab up? (vm/lab up)")
}

fn lab(args: &[&str]) -> String {
    let out = Command::new(repo().join("vm/lab"))
        .args(args)
        .output()
        .expect("vm/lab runs");
    assert!(
        out.status.success(),
        "vm/lab {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `QueueMember` events of `queue`.
async fn members(client: &AmiClient, queue: &str) -> Vec<AmiMessage> {
    let (_, list) = client
        .send_list(&QueueStatus::new(Some(queue), None).unwrap())
        .await
        .unwrap();
    list.into_iter()
        .filter(|e| e.event_name() == Some("QueueMember"))
        .collect()
}

fn location(m: &AmiMessage) -> &str {
    m.get("Location").unwrap_or("")
}

/// Polls `f` until it returns `Some`, up to `within`.
async fn until<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn read(live: &Arc<SharedLive>) -> LiveState {
    live.read().unwrap().clone()
}

/// Removes what the test added; the queues' members before the test are kept.
struct Cleanup {
    added: Vec<(&'static str, &'static str)>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let added = std::mem::take(&mut self.added);
        let cleanup = async move {
            let client = connect().await;
            for (queue, iface) in added {
                let _ = client.send(&QueueRemove::new(queue, iface).unwrap()).await;
            }
            let _ = client.logoff().await;
        };
        // Runs on its own runtime: Drop may run while the test's runtime unwinds.
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(cleanup);
        })
        .join()
        .ok();
    }
}

/// The tests of this file compare whole live states: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn q(s: &str) -> QueueName {
    QueueName::new(s).unwrap()
}

/// Comparable view: wrap-up (only events know it) counts as idle; endpoints by device state
/// and contact address.
fn normalize(s: &LiveState) -> (LiveState, Vec<(String, String)>) {
    let mut c = s.comparable();
    for a in c.agents.values_mut() {
        if matches!(a.activity, Activity::WrapUp { .. }) {
            a.activity = Activity::Idle;
        }
    }
    let eps = c
        .endpoints
        .iter()
        .filter(|(_, e)| e.contact_ip.is_some())
        .map(|(n, e)| {
            (
                n.clone(),
                format!("{:?} {:?}", e.device_state, e.contact_ip),
            )
        })
        .collect();
    c.endpoints.clear();
    (c, eps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_queues_pauses_and_live_state_follow_asterisk() {
    let _serial = SERIAL.lock().await;
    let t0 = Instant::now();
    let client = connect().await;
    let ventas = q("q_ventas");
    let soporte = q("q_soporte");

    // What was there before: only what the test adds is removed afterwards.
    let mut before = BTreeSet::new();
    for queue in ["q_ventas", "q_soporte"] {
        for m in members(&client, queue).await {
            before.insert((queue, location(&m).to_owned()));
        }
    }
    for (queue, iface) in [
        ("q_ventas", "PJSIP/1005"),
        ("q_soporte", "PJSIP/1005"),
        ("q_soporte", "PJSIP/1006"),
    ] {
        assert!(
            !before.contains(&(queue, iface.to_owned())),
            "{iface} must not be in {queue} before the test (left over from another run?)"
        );
    }
    let _cleanup = Cleanup {
        added: vec![
            ("q_ventas", "PJSIP/1005"),
            ("q_soporte", "PJSIP/1005"),
            ("q_soporte", "PJSIP/1006"),
        ],
    };

    // Directory in a temp store.
    let dir = std::env::temp_dir().join(format!("centralita-live-agents-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteDirectory::open(&dir.join("store.db")).unwrap());
    let number = AgentNumber::new("2005").unwrap();
    let mut agent = Agent::new(number.clone());
    agent.full_name = "Agente 2005".into();
    agent.queues = vec![ventas.clone(), soporte.clone()];
    agent.default_extension = Some(Extension::new("1005").unwrap());
    store.upsert_agent(&agent).unwrap();
    let almuerzo = PauseReasonId::new("almuerzo").unwrap();
    store
        .upsert_pause_reason(&PauseReason {
            id: almuerzo.clone(),
            name: "Almuerzo".into(),
            max_seconds: Some(3600),
            queues: vec![],
        })
        .unwrap();

    // Follower and service.
    use centralita::core::agents::QueueControl;
    let snap = queue_control(&client)
        .snapshot()
        .await
        .unwrap_or_else(|e| panic!("snapshot: {e} ({:?})", std::error::Error::source(&e)));
    // Every phone of the lab and the carrier, with its contact's address and status (read
    // without the `system` class: ARI's list, res_pjsip's functions through Getvar).
    for (name, ip) in [
        ("1001", "127.0.1.1"),
        ("1005", "127.0.1.5"),
        ("1008", "127.0.1.8"),
        ("1100", "127.0.1.100"),
        ("carrier", "127.0.0.2"),
    ] {
        let e = snap
            .endpoints
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} in the snapshot: {:?}", snap.endpoints));
        assert_eq!(e.contact_ip.as_deref(), Some(ip), "{e:?}");
        assert_eq!(e.contact_status.as_deref(), Some("Reachable"), "{e:?}");
    }
    // The wrap-up times of queues.conf (q_soporte's own, q_ventas' from the template).
    let wrapup = |q: &str| {
        snap.queues
            .iter()
            .find(|s| s.name.as_str() == q)
            .and_then(|s| s.wrapup_secs)
    };
    assert_eq!(
        (wrapup("q_soporte"), wrapup("q_ventas")),
        (Some(15), Some(10))
    );
    let hub = EventHub::start(&client);
    let live = hub.live();
    let follower = LiveFollower::spawn(&hub, queue_control(&client));
    assert!(
        follower.wait_resyncs(1, Duration::from_secs(10)).await,
        "first snapshot"
    );
    let service = AgentService::new(
        centralita::core::directory::Directory::new(store.clone()),
        Arc::new(queue_control(&client)),
        live.clone(),
        Arc::new(centralita::asterisk::naming::AsteriskNaming),
    );
    eprintln!("[{:?}] follower synced", t0.elapsed());

    // ---- login
    let out = service
        .login(&Actor::engine(), &number, None)
        .await
        .unwrap();
    assert_eq!(out.extension.as_str(), "1005");
    for queue in ["q_ventas", "q_soporte"] {
        let ms = members(&client, queue).await;
        let m = ms
            .iter()
            .find(|m| location(m) == "PJSIP/1005")
            .unwrap_or_else(|| panic!("PJSIP/1005 in {queue}: {ms:?}"));
        assert_eq!(m.get("Name").or(m.get("MemberName")), Some("2005"));
        assert_eq!(m.get("StateInterface"), Some("PJSIP/1005"));
    }
    let view = until(
        Duration::from_secs(5),
        "live: 2005 logged in to both",
        || {
            read(&live)
                .agent_by_name("2005")
                .filter(|a| a.queues.len() == 2)
        },
    )
    .await;
    assert_eq!(view.interface, "PJSIP/1005");
    assert!(view.logged_in() && view.pause().is_none());

    // ---- pause 2 s with a reason, unpause
    let paused_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    service
        .pause(&Actor::engine(), &number, &almuerzo, None)
        .await
        .unwrap();
    for queue in ["q_ventas", "q_soporte"] {
        let ms = members(&client, queue).await;
        let m = ms.iter().find(|m| location(m) == "PJSIP/1005").unwrap();
        assert_eq!(m.get("Paused"), Some("1"), "{queue}");
        assert_eq!(m.get("PausedReason"), Some("almuerzo"), "{queue}");
    }
    let view = until(Duration::from_secs(5), "live: 2005 paused", || {
        read(&live)
            .agent_by_name("2005")
            .filter(|a| a.pause().is_some())
    })
    .await;
    let pause = view.pause().unwrap();
    assert_eq!(pause.reason.as_deref(), Some("almuerzo"));
    assert!(
        (pause.since.seconds() - paused_at).abs() <= 2,
        "pause since {:?}, paused at {paused_at}",
        pause.since
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    service
        .unpause(&Actor::engine(), &number, None)
        .await
        .unwrap();
    until(Duration::from_secs(5), "live: 2005 unpaused", || {
        read(&live)
            .agent_by_name("2005")
            .filter(|a| !a.paused_anywhere())
    })
    .await;

    // queue_log: PAUSE (reason almuerzo) then UNPAUSE, about 2 s apart, in each queue.
    let lines = until(Duration::from_secs(5), "queue_log PAUSE/UNPAUSE", || {
        let text = std::fs::read_to_string(queue_log()).unwrap_or_default();
        let mine: Vec<Vec<String>> = text
            .lines()
            .map(|l| l.split('|').map(str::to_owned).collect::<Vec<_>>())
            .filter(|f| {
                f.len() >= 5
                    && f[3] == "2005"
                    && f[0].parse::<i64>().is_ok_and(|t| t >= paused_at - 1)
            })
            .collect();
        // PAUSE carries the reason; Asterisk writes UNPAUSE with the (empty) unpause reason.
        let has = |ev: &str| {
            mine.iter()
                .filter(|f| {
                    f[4] == ev
                        && (ev == "UNPAUSE" || f.get(5).map(String::as_str) == Some("almuerzo"))
                })
                .count()
                >= 2
        };
        (has("PAUSE") && has("UNPAUSE")).then_some(mine)
    })
    .await;
    for queue in ["q_ventas", "q_soporte"] {
        let t = |ev: &str| {
            lines
                .iter()
                .find(|f| f[2] == queue && f[4] == ev)
                .map(|f| f[0].parse::<i64>().unwrap())
                .unwrap_or_else(|| panic!("{ev} in {queue}: {lines:?}"))
        };
        let d = t("UNPAUSE") - t("PAUSE");
        assert!(
            (1..=4).contains(&d),
            "{queue}: paused {d} s, expected about 2: {lines:?}"
        );
    }
    eprintln!("[{:?}] login/pause/unpause ok", t0.elapsed());

    // ---- logout
    service.logout(&Actor::engine(), &number).await.unwrap();
    for queue in ["q_ventas", "q_soporte"] {
        assert!(
            !members(&client, queue)
                .await
                .iter()
                .any(|m| location(m) == "PJSIP/1005"),
            "{queue} without PJSIP/1005 after logout"
        );
    }
    until(Duration::from_secs(5), "live: 2005 logged out", || {
        read(&live).agent_by_name("2005").is_none().then_some(())
    })
    .await;

    // ---- changes from outside the engine: the Asterisk CLI
    lab(&["cli", "queue add member PJSIP/1006 to q_soporte"]);
    until(
        Duration::from_secs(5),
        "live: PJSIP/1006 in q_soporte",
        || {
            read(&live)
                .agent_by_interface("PJSIP/1006")
                .filter(|a| a.queues.contains_key(&soporte))
        },
    )
    .await;
    lab(&[
        "cli",
        "queue pause member PJSIP/1006 queue q_soporte reason cli",
    ]);
    let view = until(
        Duration::from_secs(5),
        "live: PJSIP/1006 paused (cli)",
        || {
            read(&live)
                .agent_by_interface("PJSIP/1006")
                .filter(|a| a.pause().is_some())
        },
    )
    .await;
    assert_eq!(view.pause().unwrap().reason.as_deref(), Some("cli"));

    // ---- resync: a new follower on a new connection rebuilds the same state from snapshots
    let followed = read(&live);
    let client2 = connect().await;
    let hub2 = EventHub::start(&client2);
    let live2 = hub2.live();
    let follower2 = LiveFollower::spawn(&hub2, queue_control(&client2));
    assert!(follower2.wait_resyncs(1, Duration::from_secs(10)).await);
    let rebuilt = read(&live2);
    let (a, a_eps) = normalize(&followed);
    let (b, b_eps) = normalize(&rebuilt);
    assert_eq!(a.queues, b.queues, "queues rebuilt from snapshot");
    assert_eq!(a.agents, b.agents, "agents rebuilt from snapshot");
    assert_eq!(a_eps, b_eps, "extensions and trunks rebuilt from snapshot");
    assert!(
        b_eps
            .iter()
            .any(|(n, e)| n == "1006" && e.contains("127.0.1.6")),
        "extension 1006 with its contact address: {b_eps:?}"
    );
    assert!(
        b_eps.iter().any(|(n, _)| n == "carrier"),
        "the carrier trunk: {b_eps:?}"
    );
    follower2.stop();
    client2.logoff().await.unwrap();
    eprintln!("[{:?}] outside changes and resync ok", t0.elapsed());

    // ---- an inbound call to q_soporte answered by 1006
    lab(&["cli", "queue unpause member PJSIP/1006 queue q_soporte"]);
    until(Duration::from_secs(5), "live: PJSIP/1006 unpaused", || {
        read(&live)
            .agent_by_interface("PJSIP/1006")
            .filter(|a| !a.paused_anywhere())
    })
    .await;
    let completed_before = read(&live).queues[&soporte].completed;
    let call = tokio::task::spawn_blocking(|| {
        lab(&["call-in", "--did", "26002000", "--talk", "3", "--wait"])
    });
    let mut seen_waiting = false;
    let mut seen = Vec::<&'static str>::new();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let s = read(&live);
        let qs = &s.queues[&soporte];
        if !qs.waiting.is_empty() {
            seen_waiting = true;
        }
        let step = match s.agent_by_interface("PJSIP/1006").map(|a| a.activity) {
            Some(Activity::Ringing { .. }) => "ringing",
            Some(Activity::Talking { .. }) => "talking",
            Some(Activity::WrapUp { .. }) => "wrapup",
            _ => "idle",
        };
        if seen.last() != Some(&step) {
            seen.push(step);
        }
        if qs.completed > completed_before && step != "talking" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "call never completed; saw {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    call.await.unwrap();
    assert!(seen_waiting, "a waiting caller was seen");
    let pos = |s: &str| seen.iter().position(|x| *x == s);
    assert!(
        pos("ringing").is_some()
            && pos("talking").is_some()
            && pos("ringing") < pos("talking")
            && matches!(seen.last(), Some(&"wrapup") | Some(&"idle")),
        "activity walk: {seen:?}"
    );
    let s = read(&live);
    assert_eq!(s.queues[&soporte].completed, completed_before + 1);
    assert!(s.queues[&soporte].waiting.is_empty());
    eprintln!("[{:?}] queue call walk {seen:?}", t0.elapsed());

    follower.stop();
    client.logoff().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Dials a feature code from phone `ext`: Asterisk rings the phone, it answers, and the code
/// runs on the phone's own channel in the `phones` context — the same dialplan path as the
/// phone dialing it.
async fn dial_feature_code(client: &AmiClient, ext: &str, code: &str) {
    use centralita::asterisk::ami::action::{Originate, OriginateTarget};
    let action = Originate::new(
        &format!("PJSIP/{ext}"),
        OriginateTarget::extension("phones", code, 1).unwrap(),
    )
    .unwrap()
    .with_timeout(Duration::from_secs(10));
    client
        .send(&action)
        .await
        .expect("feature code call queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_codes_dialed_on_a_phone_show_in_the_live_state() {
    let _serial = SERIAL.lock().await;
    const EXT: &str = "1008";
    const IFACE: &str = "PJSIP/1008";
    let client = connect().await;
    let _cleanup = Cleanup {
        added: vec![("q_ventas", IFACE), ("q_soporte", IFACE)],
    };
    let hub = EventHub::start(&client);
    let live = hub.live();
    let follower = LiveFollower::spawn(&hub, queue_control(&client));
    assert!(
        follower.wait_resyncs(1, Duration::from_secs(10)).await,
        "first snapshot"
    );

    // *45: log in to every queue
    dial_feature_code(&client, EXT, "*45").await;
    let view = until(Duration::from_secs(15), "*45 logs 1008 in", || {
        read(&live).agent_by_interface(IFACE).filter(|a| {
            a.queues.contains_key(&q("q_ventas")) && a.queues.contains_key(&q("q_soporte"))
        })
    })
    .await;
    assert!(
        view.queues.values().all(Option::is_none),
        "not paused: {view:?}"
    );

    // *47: pause with the code's reason, in every queue
    dial_feature_code(&client, EXT, "*47").await;
    let view = until(Duration::from_secs(15), "*47 pauses 1008", || {
        read(&live)
            .agent_by_interface(IFACE)
            .filter(|a| a.queues.values().all(Option::is_some))
    })
    .await;
    for (queue, pause) in &view.queues {
        assert_eq!(
            pause.as_ref().and_then(|p| p.reason.as_deref()),
            Some("telefono"),
            "{queue}: {view:?}"
        );
    }

    // *48: unpause; *46: log out
    dial_feature_code(&client, EXT, "*48").await;
    until(Duration::from_secs(15), "*48 unpauses 1008", || {
        read(&live)
            .agent_by_interface(IFACE)
            .filter(|a| a.queues.values().all(Option::is_none))
    })
    .await;
    dial_feature_code(&client, EXT, "*46").await;
    until(Duration::from_secs(15), "*46 logs 1008 out", || {
        let state = read(&live);
        match state.agent_by_interface(IFACE) {
            None => Some(()),
            Some(a) if a.queues.is_empty() => Some(()),
            Some(_) => None,
        }
    })
    .await;
    // Asterisk agrees: 1008 is in no queue.
    for queue in ["q_ventas", "q_soporte"] {
        assert!(
            !members(&client, queue)
                .await
                .iter()
                .any(|m| location(m) == IFACE),
            "{queue} has no member {IFACE}"
        );
    }
    follower.stop();
    client.logoff().await.unwrap();
}
