//! Fast tier: the engine's FastAGI server and its `blacklist` script, asked over TCP (port 0)
//! the way Asterisk's `AGI(agi://.../blacklist,<queue>,<number>)` asks: the request's lines
//! as Asterisk 22 sends them, the engine's `SET VARIABLE`, Asterisk's `200 result=1`, the end
//! of the connection.
//!
//! Listed callers get `BL_LISTED 1` (for the campaign's queue, for every campaign), others
//! `0` (outbound-only, expired, another queue, not listed, not a number); a change of the
//! store is answered by the next call; a caller name longer than a line is allowed does not
//! keep the answer from coming. And every failure ends the connection without a command (the
//! dialplan then admits the caller): an unknown script, a request that never ends, one more
//! connection than allowed, a store that cannot be read. Without campaigns no server starts.

use std::sync::Arc;
use std::time::Duration;

use centralita::asterisk::fastagi::server::MAX_LINE;
use centralita::asterisk::fastagi::{self, blacklist, BlacklistScript, FastAgiSettings, Scripts};
use centralita::core::audit::MemoryActionJournal;
use centralita::core::campaigns::{
    BlacklistEntry, BlacklistKey, Campaign, CampaignCall, CampaignName, CampaignScope,
    CampaignService, CampaignStore, Day, DirectionScope, DispositionRecord,
};
use centralita::core::directory::QueueName;
use centralita::core::originate::PhoneNumber;
use centralita::core::recordings::Guid;
use centralita::core::{PortError, UnixTime};
use centralita::store::SqliteCampaigns;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The request Asterisk sends for `AGI(agi://127.0.0.1:4573/<script>,<args>)`, with
/// `caller_name` as the caller's name.
fn request(script: &str, args: &[&str], caller_name: &str) -> String {
    let mut r = format!(
        "agi_network: yes\nagi_network_script: {script}\n\
         agi_request: agi://127.0.0.1:4573/{script}\nagi_channel: PJSIP/carrier-00000012\n\
         agi_language: en\nagi_type: PJSIP\nagi_uniqueid: pbx1-1700000000.42\n\
         agi_version: 22.5.2\nagi_callerid: {number}\nagi_calleridname: {caller_name}\n\
         agi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\n\
         agi_dnid: 26003000\nagi_rdnis: unknown\nagi_context: to-queue\n\
         agi_extension: 26003000\nagi_priority: 5\nagi_enhanced: 0.0\nagi_accountcode: \n\
         agi_threadid: 140201\n",
        number = args.get(1).unwrap_or(&""),
    );
    for (i, a) in args.iter().enumerate() {
        r.push_str(&format!("agi_arg_{}: {a}\n", i + 1));
    }
    r.push('\n');
    r
}

/// Plays Asterisk for one request: sends it, answers each command `200 result=1` and returns
/// the commands the engine sent before it ended the connection.
async fn ask(addr: std::net::SocketAddr, text: &str) -> Vec<String> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    write.write_all(text.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(read);
    let mut commands = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            commands.push(line.trim_end().to_owned());
            let _ = write.write_all(b"200 result=1\n").await;
        }
    })
    .await;
    assert!(ended.is_ok(), "the engine ends the connection");
    commands
}

async fn listed(addr: std::net::SocketAddr, queue: &str, number: &str) -> Vec<String> {
    ask(
        addr,
        &request(blacklist::SCRIPT, &[queue, number], "Cliente"),
    )
    .await
}

/// Starts the server on port 0 with the blacklist script over `store`.
async fn server(
    store: Arc<dyn CampaignStore>,
    settings: FastAgiSettings,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let script = BlacklistScript::new(service(store, campaigns()), jiff::tz::TimeZone::UTC);
    let scripts = Scripts::new().with(blacklist::SCRIPT, Arc::new(script));
    let task = tokio::spawn(fastagi::run(
        listener,
        scripts,
        settings,
        std::future::pending(),
    ));
    (addr, task)
}

/// The campaigns' service over `store` (its action journal in memory).
fn service(store: Arc<dyn CampaignStore>, campaigns: Vec<Campaign>) -> CampaignService {
    CampaignService::new(store, campaigns, Arc::new(MemoryActionJournal::default()))
}

fn cobranza() -> CampaignName {
    CampaignName::parse("Cobranza->").unwrap()
}

fn campaigns() -> Vec<Campaign> {
    vec![Campaign {
        name: cobranza(),
        queue: Some(QueueName::new("q_cobranza").unwrap()),
        trunk: None,
        caller_id: None,
        outbound: true,
        dispositions: Vec::new(),
    }]
}

fn entry(phone: &str, scope: CampaignScope, direction: DirectionScope) -> BlacklistEntry {
    let mut e = BlacklistEntry::new(PhoneNumber::parse(phone).unwrap(), scope);
    e.direction = direction;
    e
}

const YES: &str = "SET VARIABLE BL_LISTED 1";
const NO: &str = "SET VARIABLE BL_LISTED 0";

#[tokio::test]
async fn listed_callers_are_answered_1_and_others_0() {
    let dir = std::env::temp_dir().join(format!(
        "centralita-fastagi-{}-{}",
        std::process::id(),
        UnixTime::now().seconds()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteCampaigns::open(&dir.join("s.db")).unwrap());
    let one = || CampaignScope::One(cobranza());
    let mut expired = entry("5550666", one(), DirectionScope::Inbound);
    expired.expire_date = Day::parse("2020-01-31");
    store
        .blacklist_add(
            &[
                entry("5550555", one(), DirectionScope::Inbound),
                entry("+59899555777", CampaignScope::All, DirectionScope::Both),
                entry("5550444", one(), DirectionScope::Outbound),
                expired,
            ],
            UnixTime::now(),
        )
        .unwrap();
    let (addr, task) = server(store.clone(), FastAgiSettings::default()).await;

    for (queue, number, want, why) in [
        (
            "q_cobranza",
            "5550555",
            YES,
            "listed for the campaign's queue",
        ),
        (
            "q_cobranza",
            "+59899555777",
            YES,
            "listed for every campaign",
        ),
        ("q_ventas", "+59899555777", YES, "every campaign: any queue"),
        (
            "",
            "+59899555777",
            YES,
            "every campaign: also without a queue",
        ),
        (
            "q_ventas",
            "5550555",
            NO,
            "listed for another queue's campaign",
        ),
        (
            "q_cobranza",
            "5550444",
            NO,
            "listed for outbound calls only",
        ),
        ("q_cobranza", "5550666", NO, "listed until a past day"),
        ("q_cobranza", "5550999", NO, "not listed"),
        ("q_cobranza", "+", NO, "not a number"),
    ] {
        assert_eq!(listed(addr, queue, number).await, vec![want], "{why}");
    }

    // A change is answered by the next call: nothing to sync.
    store
        .blacklist_add(
            &[entry("5550999", one(), DirectionScope::Both)],
            UnixTime::now(),
        )
        .unwrap();
    assert_eq!(listed(addr, "q_cobranza", "5550999").await, vec![YES]);
    let removed = store
        .blacklist_remove(&[BlacklistKey {
            phone: PhoneNumber::parse("5550555").unwrap(),
            campaign: one(),
            direction: None,
        }])
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(listed(addr, "q_cobranza", "5550555").await, vec![NO]);

    // A caller's name longer than a request line may be is dropped; the answer still comes.
    let long_name = "x".repeat(MAX_LINE * 4);
    let text = request(blacklist::SCRIPT, &["q_cobranza", "5550999"], &long_name);
    assert_eq!(ask(addr, &text).await, vec![YES]);

    // An unknown script, or a request that is not FastAGI's: no command.
    assert!(
        ask(addr, &request("other", &["q_cobranza", "5550999"], "x"))
            .await
            .is_empty()
    );
    assert!(ask(addr, "agi_request: /x\n\n").await.is_empty());

    task.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_slow_request_and_one_connection_too_many_get_no_command() {
    let dir = std::env::temp_dir().join(format!(
        "centralita-fastagi-bounds-{}-{}",
        std::process::id(),
        UnixTime::now().seconds()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteCampaigns::open(&dir.join("s.db")).unwrap());
    store
        .blacklist_add(
            &[entry("5550555", CampaignScope::All, DirectionScope::Both)],
            UnixTime::now(),
        )
        .unwrap();
    let settings = FastAgiSettings {
        max_connections: 1,
        request_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let (addr, task) = server(store, settings).await;

    // A connection that sends half a request holds the only slot until its time is up.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"agi_network: yes\nagi_network_script: blacklist\n")
        .await
        .unwrap();
    // Meanwhile one more is closed at once, unanswered, while the slow one is still open.
    assert!(listed(addr, "q_cobranza", "5550555").await.is_empty());
    let mut buf = [0u8; 64];
    assert!(
        matches!(slow.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the slow request still holds its slot"
    );
    // The slow one is closed unanswered once its time is up.
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest))
        .await
        .expect("the slow request is closed")
        .unwrap();
    assert_eq!(n, 0, "no command: {:?}", String::from_utf8_lossy(&rest));
    // The slot is free again.
    assert_eq!(listed(addr, "q_cobranza", "5550555").await, vec![YES]);

    task.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A store that cannot be read.
struct Broken;

impl CampaignStore for Broken {
    fn blacklist_add(&self, _: &[BlacklistEntry], _: UnixTime) -> Result<(), PortError> {
        Err("disk gone".into())
    }
    fn blacklist_remove(&self, _: &[BlacklistKey]) -> Result<u64, PortError> {
        Err("disk gone".into())
    }
    fn blacklist_for(&self, _: &PhoneNumber) -> Result<Vec<BlacklistEntry>, PortError> {
        Err("disk gone".into())
    }
    fn blacklist_inbound(&self) -> Result<Vec<BlacklistEntry>, PortError> {
        Err("disk gone".into())
    }
    fn call_insert(&self, _: &CampaignCall) -> Result<(), PortError> {
        Err("disk gone".into())
    }
    fn call_by_guid(&self, _: &Guid) -> Result<Option<CampaignCall>, PortError> {
        Err("disk gone".into())
    }
    fn calls_by_originate(&self, _: &[String]) -> Result<Vec<CampaignCall>, PortError> {
        Err("disk gone".into())
    }
    fn disposition_insert(&self, _: &DispositionRecord) -> Result<(), PortError> {
        Err("disk gone".into())
    }
    fn dispositions_of(&self, _: &str) -> Result<Vec<DispositionRecord>, PortError> {
        Err("disk gone".into())
    }
}

#[tokio::test]
async fn an_unreadable_store_gets_no_command() {
    let (addr, task) = server(Arc::new(Broken), FastAgiSettings::default()).await;
    assert!(listed(addr, "q_cobranza", "5550555").await.is_empty());
    task.abort();
}

#[tokio::test]
async fn without_campaigns_no_server_is_started() {
    let script = BlacklistScript::new(
        service(Arc::new(Broken), Vec::new()),
        jiff::tz::TimeZone::UTC,
    );
    let bind = "127.0.0.1:0".parse().unwrap();
    let started = fastagi::spawn_blacklist(bind, FastAgiSettings::default(), script)
        .await
        .unwrap();
    assert!(started.is_none());
}
