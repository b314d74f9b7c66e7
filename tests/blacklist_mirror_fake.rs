//! Fast tier: the inbound blacklist mirror against the scripted fake AMI with a fake AstDB. The
//! mirror makes AstDB's `blacklist` tree equal to the stored inbound entries at connect (stale
//! keys removed, missing ones put, other families untouched), follows a change at once when
//! notified, and repairs AstDB after a reconnect (keys changed while the engine was away).

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use centralita::asterisk::ami::{AmiClient, AmiSettings};
use centralita::asterisk::astdb::spawn_blacklist_mirror;
use centralita::core::campaigns::{
    BlacklistEntry, Campaign, CampaignName, CampaignScope, CampaignStore, DirectionScope,
};
use centralita::core::directory::QueueName;
use centralita::core::originate::PhoneNumber;
use centralita::core::{Secret, UnixTime};
use centralita::store::SqliteCampaigns;
use support::fake_ami::{FakeAmi, Incoming, Out, SECRET, USERNAME};
use tokio::sync::{mpsc, Notify};

type AstDb = Arc<Mutex<BTreeMap<String, String>>>;

fn path(a: &Incoming) -> String {
    format!(
        "/{}/{}",
        a.get("Family").unwrap_or(""),
        a.get("Key").unwrap_or("")
    )
}

/// Serves the DB actions from `db`; sends each new connection's writer to `conns`.
async fn serve(mut fake: FakeAmi, db: AstDb, conns: mpsc::UnboundedSender<(usize, Out)>) {
    let mut seen = 0;
    while let Some(a) = fake.try_next_action(Duration::from_secs(30)).await {
        if a.conn > seen {
            seen = a.conn;
            let _ = conns.send((a.conn, a.out.clone()));
        }
        match a.action() {
            "DBGetTree" => {
                let prefix = format!("/{}/", a.get("Family").unwrap_or(""));
                let rows: Vec<(String, String)> = db
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                a.respond(
                    "Success",
                    &[("EventList", "start"), ("Message", "Result will follow")],
                );
                for (k, v) in &rows {
                    a.out.message(&[
                        ("Event", "DBGetTreeResponse"),
                        ("Key", k),
                        ("Val", v),
                        ("ActionID", a.action_id()),
                    ]);
                }
                a.out.message(&[
                    ("Event", "DBGetTreeComplete"),
                    ("ActionID", a.action_id()),
                    ("EventList", "Complete"),
                    ("ListItems", &rows.len().to_string()),
                ]);
            }
            "DBPut" => {
                db.lock()
                    .unwrap()
                    .insert(path(&a), a.get("Val").unwrap_or("").to_owned());
                a.respond("Success", &[("Message", "Updated database successfully")]);
            }
            "DBDel" => {
                if db.lock().unwrap().remove(&path(&a)).is_some() {
                    a.respond("Success", &[("Message", "Key deleted successfully")]);
                } else {
                    a.respond("Error", &[("Message", "Database entry does not exist")]);
                }
            }
            other => a.respond("Error", &[("Message", &format!("fake: no {other}"))]),
        }
    }
}

fn settings(fake: &FakeAmi) -> AmiSettings {
    let mut s = AmiSettings::new("127.0.0.1", fake.addr.port(), USERNAME, Secret::new(SECRET));
    s.action_timeout = Duration::from_secs(2);
    s.keepalive = Duration::ZERO;
    s.reconnect_min = Duration::from_millis(20);
    s.reconnect_max = Duration::from_millis(200);
    s
}

fn entry(phone: &str, scope: CampaignScope, direction: DirectionScope) -> BlacklistEntry {
    let mut e = BlacklistEntry::new(PhoneNumber::parse(phone).unwrap(), scope);
    e.direction = direction;
    e
}

fn keys(db: &AstDb) -> Vec<String> {
    db.lock().unwrap().keys().cloned().collect()
}

async fn until(db: &AstDb, want: &[&str], what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if keys(db) == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: AstDB holds {:?}, not {want:?}",
            keys(db)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_mirror_follows_the_store_at_connect_on_change_and_after_a_reconnect() {
    let dir = std::env::temp_dir().join(format!(
        "centralita-mirror-{}-{}",
        std::process::id(),
        UnixTime::now().seconds()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteCampaigns::open(&dir.join("s.db")).unwrap());
    let cobranza = CampaignName::parse("Cobranza->").unwrap();
    let campaigns = vec![Campaign {
        name: cobranza.clone(),
        queue: Some(QueueName::new("q_cobranza").unwrap()),
        trunk: None,
        caller_id: None,
        outbound: true,
        dispositions: Vec::new(),
    }];
    let one = || CampaignScope::One(cobranza.clone());
    store
        .blacklist_add(
            &[
                entry("5550555", one(), DirectionScope::Inbound),
                entry("5550777", CampaignScope::All, DirectionScope::Both),
                entry("5550444", one(), DirectionScope::Outbound),
            ],
            UnixTime::now(),
        )
        .unwrap();

    // AstDB starts with a stale key and a key outside the engine's tree.
    let db: AstDb = Arc::new(Mutex::new(BTreeMap::new()));
    db.lock()
        .unwrap()
        .insert("/blacklist/q_cobranza/5550111".into(), "1".into());
    db.lock()
        .unwrap()
        .insert("/CF/1005".into(), "5551010".into());

    let fake = FakeAmi::start().await;
    let client = AmiClient::connect(settings(&fake)).await.unwrap();
    let (conns_tx, mut conns) = mpsc::unbounded_channel();
    let server = tokio::spawn(serve(fake, db.clone(), conns_tx));
    let changes = Arc::new(Notify::new());
    let mirror = spawn_blacklist_mirror(
        client.clone(),
        store.clone(),
        campaigns,
        jiff::tz::TimeZone::UTC,
        changes.clone(),
    );

    until(
        &db,
        &[
            "/CF/1005",
            "/blacklist/all/5550777",
            "/blacklist/q_cobranza/5550555",
        ],
        "synced at connect",
    )
    .await;

    // A change, notified: followed at once.
    store
        .blacklist_add(
            &[entry("5550888", one(), DirectionScope::Both)],
            UnixTime::now(),
        )
        .unwrap();
    changes.notify_one();
    let full = [
        "/CF/1005",
        "/blacklist/all/5550777",
        "/blacklist/q_cobranza/5550555",
        "/blacklist/q_cobranza/5550888",
    ];
    until(&db, &full, "synced after the change").await;

    // The connection drops; AstDB changes while the engine is away; the reconnect repairs it.
    let (n, conn1) = conns.recv().await.unwrap();
    assert_eq!(n, 1);
    {
        let mut d = db.lock().unwrap();
        d.remove("/blacklist/q_cobranza/5550555");
        d.insert("/blacklist/all/5550000".into(), "1".into());
    }
    conn1.close();
    until(&db, &full, "repaired after the reconnect").await;
    let (n, _) = conns.recv().await.unwrap();
    assert_eq!(n, 2, "the repair came through the new connection");

    mirror.abort();
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
