//! A scripted fake AMI server on `127.0.0.1:0` for the fast test tier.
//!
//! It speaks the wire protocol with its own tiny parser (independent of the crate's codec):
//! greets with a banner, answers `Login` (user `centralita`, secret [`SECRET`]), `Ping` (unless
//! turned off) and `Logoff` by itself, and hands every other action to the test as an
//! [`Incoming`], which the test answers with raw bytes in whatever order and shape it wants.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub const USERNAME: &str = "centralita";
pub const SECRET: &str = "s3cret-Pa55";
pub const BANNER: &[u8] = b"Asterisk Call Manager/9.0.0\r\n";

#[derive(Default)]
struct Stats {
    connections: AtomicUsize,
    logins_ok: AtomicUsize,
    logins_failed: AtomicUsize,
    pings: AtomicUsize,
    logoffs: AtomicUsize,
}

/// The fake server. Dropping it stops accepting (open connections live until closed).
pub struct FakeAmi {
    pub addr: SocketAddr,
    actions: mpsc::UnboundedReceiver<Incoming>,
    stats: Arc<Stats>,
    answer_pings: Arc<AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAmi {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Writes to one client connection.
#[derive(Clone)]
pub struct Out(mpsc::UnboundedSender<Option<Vec<u8>>>);

impl Out {
    /// Writes raw bytes.
    pub fn raw(&self, bytes: impl Into<Vec<u8>>) {
        let _ = self.0.send(Some(bytes.into()));
    }

    /// Writes one message from fields (`Key: Value\r\n` ... `\r\n`).
    pub fn message(&self, fields: &[(&str, &str)]) {
        self.raw(render(fields));
    }

    /// Closes the connection (after everything queued so far is written).
    pub fn close(&self) {
        let _ = self.0.send(None);
    }
}

/// An action the fake did not answer by itself.
pub struct Incoming {
    /// 1 for the first accepted connection, 2 for the next, ...
    pub conn: usize,
    pub fields: Vec<(String, String)>,
    pub out: Out,
}

impl Incoming {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    pub fn action(&self) -> &str {
        self.get("Action").unwrap_or("")
    }

    pub fn action_id(&self) -> &str {
        self.get("ActionID").unwrap_or("")
    }

    /// Answers with `Response: <response>`, this action's `ActionID`, then `fields`.
    pub fn respond(&self, response: &str, fields: &[(&str, &str)]) {
        let mut all = vec![("Response", response), ("ActionID", self.action_id())];
        all.extend_from_slice(fields);
        self.out.message(&all);
    }
}

pub fn render(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

impl FakeAmi {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Starts on a given port (0: any), retrying for up to 2 s while the port is still held.
    pub async fn start_on(port: u16) -> Self {
        let listener = bind_retrying(port).await;
        let addr = listener.local_addr().expect("addr");
        let (tx, actions) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let answer_pings = Arc::new(AtomicBool::new(true));
        let accept = {
            let stats = stats.clone();
            let answer_pings = answer_pings.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let conn = stats.connections.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::spawn(serve(
                        conn,
                        stream,
                        tx.clone(),
                        stats.clone(),
                        answer_pings.clone(),
                    ));
                }
            })
        };
        Self {
            addr,
            actions,
            stats,
            answer_pings,
            accept,
        }
    }

    /// The next action not answered automatically; panics after 5 s.
    pub async fn next_action(&mut self) -> Incoming {
        tokio::time::timeout(Duration::from_secs(5), self.actions.recv())
            .await
            .expect("fake AMI: no action within 5 s")
            .expect("fake AMI: stopped")
    }

    /// Answers the next action, which must be the originate service's `DeviceStateList`, with
    /// `devices` idle (`NOT_INUSE`).
    pub async fn answer_device_state_list(&mut self, devices: &[&str]) {
        let list = self.next_action().await;
        assert_eq!(list.action(), "DeviceStateList");
        list.respond("Success", &[("EventList", "start")]);
        for dev in devices {
            list.out.message(&[
                ("Event", "DeviceStateChange"),
                ("ActionID", list.action_id()),
                ("Device", dev),
                ("State", "NOT_INUSE"),
            ]);
        }
        list.out.message(&[
            ("Event", "DeviceStateListComplete"),
            ("ActionID", list.action_id()),
            ("EventList", "Complete"),
        ]);
    }

    /// Logs a client in (2 s action timeout, no keepalive) and starts the originate service
    /// over it with `store`, `context` and `settings`, answering its `DeviceStateList` with
    /// `devices` idle; the service and the event hub.
    pub async fn originate_service(
        &mut self,
        store: Arc<dyn centralita::core::originate::OriginateStore>,
        context: &str,
        settings: centralita::core::originate_service::OriginateSettings,
        devices: &[&str],
    ) -> (
        centralita::core::originate_service::OriginateService,
        centralita::asterisk::events::EventHub,
    ) {
        use centralita::asterisk::ami::{AmiClient, AmiSettings};
        let mut s = AmiSettings::new(
            "127.0.0.1",
            self.addr.port(),
            USERNAME,
            centralita::core::Secret::new(SECRET),
        );
        s.action_timeout = Duration::from_secs(2);
        s.keepalive = Duration::ZERO;
        let client = AmiClient::connect(s).await.unwrap();
        let hub = centralita::asterisk::events::EventHub::start(&client);
        let (svc, ()) = tokio::join!(
            centralita::asterisk::call_control::spawn_originate_service(
                &hub, store, context, settings
            ),
            self.answer_device_state_list(devices)
        );
        (svc.unwrap(), hub)
    }

    /// Whether an action arrives within `wait` (for asserting that none does).
    pub async fn try_next_action(&mut self, wait: Duration) -> Option<Incoming> {
        tokio::time::timeout(wait, self.actions.recv())
            .await
            .ok()
            .flatten()
    }

    pub fn connections(&self) -> usize {
        self.stats.connections.load(Ordering::SeqCst)
    }
    pub fn logins_ok(&self) -> usize {
        self.stats.logins_ok.load(Ordering::SeqCst)
    }
    pub fn logins_failed(&self) -> usize {
        self.stats.logins_failed.load(Ordering::SeqCst)
    }
    pub fn pings(&self) -> usize {
        self.stats.pings.load(Ordering::SeqCst)
    }
    pub fn logoffs(&self) -> usize {
        self.stats.logoffs.load(Ordering::SeqCst)
    }
    pub fn set_answer_pings(&self, answer: bool) {
        self.answer_pings.store(answer, Ordering::SeqCst);
    }
}

/// Binds `127.0.0.1:port`, retrying for up to 2 s (a just-dropped listener may still hold it).
pub async fn bind_retrying(port: u16) -> TcpListener {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(e) if tokio::time::Instant::now() >= deadline => panic!("bind {port}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn writer(mut half: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Option<Vec<u8>>>) {
    while let Some(Some(bytes)) = rx.recv().await {
        if half.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = half.shutdown().await;
}

async fn serve(
    conn: usize,
    stream: TcpStream,
    actions: mpsc::UnboundedSender<Incoming>,
    stats: Arc<Stats>,
    answer_pings: Arc<AtomicBool>,
) {
    let (read, write) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let write_task = tokio::spawn(writer(write, rx));
    let out = Out(tx);
    out.raw(BANNER);

    let mut reader = BufReader::new(read);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if !text.is_empty() {
            let (k, v) = text.split_once(": ").unwrap_or((text, ""));
            fields.push((k.to_owned(), v.to_owned()));
            continue;
        }
        if fields.is_empty() {
            continue;
        }
        let incoming = Incoming {
            conn,
            fields: std::mem::take(&mut fields),
            out: out.clone(),
        };
        match incoming.action() {
            "Login" => {
                if incoming.get("Username") == Some(USERNAME)
                    && incoming.get("Secret") == Some(SECRET)
                {
                    stats.logins_ok.fetch_add(1, Ordering::SeqCst);
                    incoming.respond("Success", &[("Message", "Authentication accepted")]);
                    out.message(&[
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Status", "Fully Booted"),
                    ]);
                } else {
                    stats.logins_failed.fetch_add(1, Ordering::SeqCst);
                    incoming.respond("Error", &[("Message", "Authentication failed")]);
                    out.close();
                }
            }
            "Ping" => {
                stats.pings.fetch_add(1, Ordering::SeqCst);
                if answer_pings.load(Ordering::SeqCst) {
                    incoming.respond("Success", &[("Ping", "Pong"), ("Timestamp", "0.0")]);
                }
            }
            "Logoff" => {
                stats.logoffs.fetch_add(1, Ordering::SeqCst);
                incoming.respond("Goodbye", &[("Message", "Thanks for all the fish.")]);
                out.close();
            }
            _ => {
                if actions.send(incoming).is_err() {
                    break;
                }
            }
        }
    }
    drop(out);
    let _ = write_task.await;
}
