//! The AMI connection task and its cheap, cloneable handle [`AmiClient`].
//!
//! One task owns the TCP connection. Callers talk to it through an mpsc queue and get their
//! answer on a oneshot; events fan out on a bounded broadcast channel (a slow subscriber lags, it
//! never makes the engine buffer without bound), and on one bounded channel per
//! [`AmiClient::subscribe_events`] subscription that carries only the event names it asked for
//! (a consumer of rare events is not overrun by floods of others). A burst is handled in
//! batches of up to 128 messages: what is already read, or readable without waiting, is decoded
//! and dispatched, and the batch's events are then published together, so a subscriber that keeps up
//! is woken about once per batch rather than once per event; the task yields between batches, so subscribers on
//! its worker read before the next one can overrun them. Events that came before a response on
//! the wire are published before its caller is answered. The task:
//! - logs in (`Login`, events on) and refuses peers that do not greet as an AMI server, so the
//!   secret is never sent to something else;
//! - assigns each action a unique `ActionID` and routes the response (and, for list actions, the
//!   events up to `...Complete`) back to the caller; list events fan out to subscribers too, in
//!   wire order with the others, the closing one after the caller was answered;
//! - sends a `Ping` every `keepalive`; an unanswered one means the connection is dead;
//! - on connection loss fails pending actions with [`AmiError::Disconnected`], reconnects with
//!   exponential backoff and jitter, logs in again and publishes
//!   [`ConnectionState::Connected`] with a new generation so subscribers can resync.
//!
//! The secret never reaches a log: [`Secret`] and [`AmiMessage`] redact it in `Debug`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{self, Instant, Interval, MissedTickBehavior};
use tokio_util::codec::Framed;
use tracing::{debug, info, warn};

use crate::core::{ActionId, Secret};

use super::action::{Action, ListAction, Login, Logoff, Ping};
use super::codec::{self, AmiCodec, AmiFrame, DEFAULT_MAX_MESSAGE};
use super::error::AmiError;
use super::message::AmiMessage;

/// An event as subscribers receive it: one decoded message shared by all of them (a clone
/// counts a reference to the text it was decoded into, it copies nothing).
pub type AmiEvent = AmiMessage;

/// Largest number of events one list action may collect before it is failed.
const MAX_LIST_EVENTS: usize = 200_000;
/// Bytes read from the connection per system call, at most.
const READ_BUFFER: usize = 256 * 1024;
/// Most messages decoded and dispatched as one batch before the task yields.
const BATCH: usize = 128;
/// Depth of the request queue between handles and the task.
const REQUEST_QUEUE: usize = 1024;

/// How to reach and log in to Asterisk, and the client's timing. `Debug` hides the secret.
#[derive(Clone, Debug)]
pub struct AmiSettings {
    /// Asterisk host name or address.
    pub host: String,
    /// AMI TCP port (Asterisk's default: 5038).
    pub port: u16,
    /// `manager.conf` user.
    pub username: String,
    /// `manager.conf` secret.
    pub secret: Secret,
    /// How long an action may wait for its response (and a list for its last event); also bounds
    /// connect + banner + login. Default 10 s.
    pub action_timeout: Duration,
    /// Interval between keepalive `Ping`s; zero disables them. Default 20 s.
    pub keepalive: Duration,
    /// First reconnect delay, doubled after each failure. Default 200 ms.
    pub reconnect_min: Duration,
    /// Largest reconnect delay. Default 10 s.
    pub reconnect_max: Duration,
    /// Events buffered per subscriber before it lags. Default 4096.
    pub event_capacity: usize,
    /// Largest accepted AMI message in bytes. Default 1 MiB.
    pub max_message: usize,
}

impl AmiSettings {
    /// Settings with the documented defaults.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        username: impl Into<String>,
        secret: Secret,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            username: username.into(),
            secret,
            action_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(20),
            reconnect_min: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(10),
            event_capacity: 4096,
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The connection as seen by subscribers. After every `Connected` with a new generation, live
/// state must be rebuilt from a snapshot: events may have been missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Trying to (re)connect and log in.
    Connecting,
    /// Logged in; `generation` starts at 1 and grows with each successful reconnect.
    Connected {
        /// The session number.
        generation: u64,
    },
    /// The connection was lost; a reconnect is pending.
    Disconnected,
    /// `logoff` was called or every handle was dropped; the task has ended.
    Closed,
}

/// What the task answers for one action.
struct Reply {
    response: AmiMessage,
    events: Vec<AmiMessage>,
}

enum Request {
    Send {
        message: AmiMessage,
        list: bool,
        reply: oneshot::Sender<Result<Reply, AmiError>>,
    },
    Logoff {
        reply: oneshot::Sender<Result<(), AmiError>>,
    },
}

/// A cheap, cloneable handle to the AMI connection task.
#[derive(Clone, Debug)]
pub struct AmiClient {
    requests: mpsc::Sender<Request>,
    events: broadcast::Sender<AmiEvent>,
    filtered: Arc<Filtered>,
    event_capacity: usize,
    state: watch::Receiver<ConnectionState>,
    action_timeout: Duration,
}

/// The [`AmiClient::subscribe_events`] subscriptions: event names and their channel.
#[derive(Debug, Default)]
struct Filtered {
    subscriptions: RwLock<Vec<(Vec<String>, broadcast::Sender<AmiEvent>)>>,
}

impl Filtered {
    /// Sends each of `events` to the subscriptions that asked for its name; forgets those
    /// whose receivers are all gone. The list is read once for the batch.
    fn publish(&self, events: &[AmiEvent]) {
        let mut gone = false;
        {
            let subscriptions = self
                .subscriptions
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if subscriptions.is_empty() {
                return;
            }
            for event in events {
                let Some(name) = event.event_name() else {
                    continue;
                };
                for (names, tx) in subscriptions.iter() {
                    if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                        gone |= tx.send(event.clone()).is_err();
                    }
                }
            }
        }
        if gone {
            self.subscriptions
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|(_, tx)| tx.receiver_count() > 0);
        }
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Send { message, list, .. } => f
                .debug_struct("Send")
                .field("message", message)
                .field("list", list)
                .finish(),
            Request::Logoff { .. } => f.write_str("Logoff"),
        }
    }
}

impl AmiClient {
    /// Connects, reads the banner and logs in; fails with [`AmiError::LoginFailed`] on bad
    /// credentials. On success, spawns the task that owns the connection from then on.
    pub async fn connect(settings: AmiSettings) -> Result<Self, AmiError> {
        let mut ids = IdGen::default();
        let conn = establish(&settings, ids.next()).await?;
        let (requests_tx, requests_rx) = mpsc::channel(REQUEST_QUEUE);
        let (events_tx, _) = broadcast::channel(settings.event_capacity.max(1));
        let (state_tx, state_rx) = watch::channel(ConnectionState::Connected { generation: 1 });
        info!(addr = %settings.addr(), generation = 1, "AMI connected");
        let filtered = Arc::new(Filtered::default());
        let client = Self {
            requests: requests_tx,
            events: events_tx.clone(),
            filtered: filtered.clone(),
            event_capacity: settings.event_capacity.max(1),
            state: state_rx,
            action_timeout: settings.action_timeout,
        };
        let task = Task {
            settings,
            requests: requests_rx,
            events: events_tx,
            filtered,
            state: state_tx,
            ids,
            generation: 1,
        };
        tokio::spawn(task.run(conn));
        Ok(client)
    }

    /// Sends an action and returns its response. Fails with [`AmiError::ActionFailed`] on
    /// `Response: Error`, [`AmiError::Timeout`] after the action timeout, and
    /// [`AmiError::Disconnected`] if the connection drops first.
    ///
    /// The action is rendered immediately, so the returned future does not borrow it.
    pub fn send<A: Action + ?Sized>(
        &self,
        action: &A,
    ) -> impl Future<Output = Result<AmiMessage, AmiError>> + Send + '_ {
        let message = action.to_message();
        async move {
            self.request(message, false)
                .await
                .map(|reply| reply.response)
        }
    }

    /// Sends a list action and returns its response with the events that carry its `ActionID`,
    /// in order, up to but excluding the closing `...Complete` event.
    pub fn send_list<A: ListAction + ?Sized>(
        &self,
        action: &A,
    ) -> impl Future<Output = Result<(AmiMessage, Vec<AmiMessage>), AmiError>> + Send + '_ {
        let message = action.to_message();
        async move {
            self.request(message, true)
                .await
                .map(|reply| (reply.response, reply.events))
        }
    }

    /// Every event Asterisk sends, from now on. The channel is bounded: a receiver that falls
    /// behind gets `RecvError::Lagged` and must resync.
    pub fn subscribe(&self) -> broadcast::Receiver<AmiEvent> {
        self.events.subscribe()
    }

    /// Events a subscriber's channel holds before it lags ([`AmiSettings::event_capacity`]).
    pub fn event_capacity(&self) -> usize {
        self.event_capacity
    }

    /// The events named one of `names` (`Hangup`, ...), from now on, on a bounded channel of
    /// their own (as deep as [`AmiSettings::event_capacity`]): the receiver lags only when
    /// these events outrun it, however many others the connection carries.
    pub fn subscribe_events(&self, names: &[&str]) -> broadcast::Receiver<AmiEvent> {
        let (tx, rx) = broadcast::channel(self.event_capacity);
        self.filtered
            .subscriptions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((names.iter().map(|n| (*n).to_owned()).collect(), tx));
        rx
    }

    /// The connection state, to detect reconnects (a new `generation`) and resync.
    pub fn connection_events(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// The current connection state.
    pub fn connection_state(&self) -> ConnectionState {
        *self.state.borrow()
    }

    /// Sends `Logoff` and ends the task; later actions fail with [`AmiError::Closed`].
    /// Calling it again, or on a client that is already closed, is a no-op.
    pub async fn logoff(&self) -> Result<(), AmiError> {
        let (reply, rx) = oneshot::channel();
        if self.requests.send(Request::Logoff { reply }).await.is_err() {
            return Ok(());
        }
        match time::timeout(self.action_timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Ok(()),
            Err(_) => Err(AmiError::Timeout {
                action: "Logoff".into(),
                after: self.action_timeout,
            }),
        }
    }

    async fn request(&self, message: AmiMessage, list: bool) -> Result<Reply, AmiError> {
        let action = message.action_name().unwrap_or("?").to_owned();
        let (reply, rx) = oneshot::channel();
        let exchange = async {
            self.requests
                .send(Request::Send {
                    message,
                    list,
                    reply,
                })
                .await
                .map_err(|_| AmiError::Closed)?;
            // The task dropped the sender without answering: it has ended.
            rx.await.map_err(|_| AmiError::Closed)?
        };
        match time::timeout(self.action_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(AmiError::Timeout {
                action,
                after: self.action_timeout,
            }),
        }
    }
}

/// Per-session `ActionID`s: a counter, unique for the life of the client.
#[derive(Debug, Default)]
struct IdGen {
    last: u64,
}

impl IdGen {
    fn next(&mut self) -> ActionId {
        self.last += 1;
        ActionId::new(format!("centralita-{}", self.last))
    }
}

type Conn = Framed<TcpStream, AmiCodec>;

/// TCP connect, banner check, `Login`; all within the action timeout.
async fn establish(settings: &AmiSettings, login_id: ActionId) -> Result<Conn, AmiError> {
    let login = Login::new(&settings.username, &settings.secret)?;
    let handshake = async {
        let addr = settings.addr();
        let stream = TcpStream::connect((settings.host.as_str(), settings.port))
            .await
            .map_err(|source| AmiError::Connect { addr, source })?;
        // Latency over throughput: actions are small.
        let _ = stream.set_nodelay(true);
        // A storm of events is read 256 KiB (about five hundred events) per system call.
        let mut conn = Framed::with_capacity(
            stream,
            AmiCodec::with_max_message(settings.max_message),
            READ_BUFFER,
        );
        match conn.next().await {
            Some(Ok(AmiFrame::Banner(banner))) if banner.starts_with("Asterisk Call Manager") => {
                debug!(%banner, "AMI banner");
            }
            Some(Ok(frame)) => {
                return Err(AmiError::Protocol(format!(
                    "expected the `Asterisk Call Manager/...` banner, got {frame:?}"
                )))
            }
            Some(Err(e)) => return Err(e.into()),
            None => {
                return Err(AmiError::Protocol(
                    "connection closed before the banner".into(),
                ))
            }
        }
        let mut message = login.to_message();
        message.insert(1, "ActionID", login_id.as_str());
        conn.send(message).await?;
        loop {
            match conn.next().await {
                Some(Ok(AmiFrame::Message(m)))
                    if m.is_response() && m.action_id() == Some(login_id.as_str()) =>
                {
                    if m.is_success() {
                        return Ok(conn);
                    }
                    return Err(AmiError::LoginFailed {
                        message: m.message().unwrap_or("no message").to_owned(),
                    });
                }
                // Anything before the login response (there should be nothing) is ignored.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err(AmiError::Protocol("connection closed during login".into())),
            }
        }
    };
    time::timeout(settings.action_timeout, handshake)
        .await
        .map_err(|_| AmiError::Timeout {
            action: "Login".into(),
            after: settings.action_timeout,
        })?
}

/// An action waiting for its response (and, for lists, its events).
struct Pending {
    action: String,
    list: bool,
    response: Option<AmiMessage>,
    events: Vec<AmiMessage>,
    /// The `...Complete` event arrived before the response.
    complete: bool,
    reply: oneshot::Sender<Result<Reply, AmiError>>,
}

/// Why a session ended.
enum Exit {
    /// Logoff requested or every handle dropped.
    Shutdown,
    /// The connection is gone; reconnect.
    Lost(String),
}

struct Task {
    settings: AmiSettings,
    requests: mpsc::Receiver<Request>,
    events: broadcast::Sender<AmiEvent>,
    filtered: Arc<Filtered>,
    state: watch::Sender<ConnectionState>,
    ids: IdGen,
    generation: u64,
}

impl Task {
    async fn run(mut self, mut conn: Conn) {
        loop {
            match self.serve(&mut conn).await {
                Exit::Shutdown => break,
                Exit::Lost(reason) => {
                    warn!(%reason, generation = self.generation, "AMI connection lost");
                    self.state.send_replace(ConnectionState::Disconnected);
                }
            }
            match self.reconnect().await {
                Some(next) => conn = next,
                None => break,
            }
        }
        self.state.send_replace(ConnectionState::Closed);
        info!("AMI client closed");
    }

    /// Reconnects with exponential backoff until logged in again, or `None` on shutdown.
    async fn reconnect(&mut self) -> Option<Conn> {
        let mut delay = self.settings.reconnect_min;
        loop {
            let wait = jittered(delay);
            debug!(?wait, "AMI reconnect backoff");
            while_down(&mut self.requests, time::sleep(wait)).await?;
            delay = (delay * 2).min(self.settings.reconnect_max);

            self.state.send_replace(ConnectionState::Connecting);
            let id = self.ids.next();
            match while_down(&mut self.requests, establish(&self.settings, id)).await? {
                Ok(conn) => {
                    self.generation += 1;
                    info!(addr = %self.settings.addr(), generation = self.generation, "AMI reconnected");
                    self.state.send_replace(ConnectionState::Connected {
                        generation: self.generation,
                    });
                    return Some(conn);
                }
                Err(error) => {
                    warn!(%error, "AMI reconnect failed");
                    self.state.send_replace(ConnectionState::Disconnected);
                }
            }
        }
    }

    /// Runs one logged-in session until it is lost or shut down.
    async fn serve(&mut self, conn: &mut Conn) -> Exit {
        let mut pending: HashMap<ActionId, Pending> = HashMap::new();
        let mut keepalive = keepalive_interval(self.settings.keepalive);
        let mut ping: Option<(ActionId, Instant)> = None;
        let mut outbox: Vec<AmiEvent> = Vec::with_capacity(BATCH);
        let timeout = self.settings.action_timeout;

        let exit = loop {
            let ping_deadline = ping.as_ref().map(|(_, deadline)| *deadline);
            tokio::select! {
                request = self.requests.recv() => match request {
                    None => {
                        let _ = self.logoff(conn).await;
                        break Exit::Shutdown;
                    }
                    Some(Request::Logoff { reply }) => {
                        let _ = reply.send(self.logoff(conn).await);
                        break Exit::Shutdown;
                    }
                    Some(Request::Send { mut message, list, reply }) => {
                        if reply.is_closed() {
                            continue; // the caller already timed out
                        }
                        if let Err(e) = codec::check_message(&message) {
                            let _ = reply.send(Err(e.into()));
                            continue;
                        }
                        let id = self.ids.next();
                        let action = message.action_name().unwrap_or("?").to_owned();
                        message.insert(1, "ActionID", id.as_str());
                        if let Err(reason) = write(conn, message, timeout).await {
                            let _ = reply.send(Err(AmiError::Disconnected));
                            break Exit::Lost(reason);
                        }
                        pending.insert(id, Pending {
                            action,
                            list,
                            response: None,
                            events: Vec::new(),
                            complete: false,
                            reply,
                        });
                    }
                },
                frame = conn.next() => {
                    // A burst is taken as one batch: what is already read (or readable without
                    // waiting) is decoded and dispatched, up to `BATCH` messages, and its
                    // events are published together. Subscribers are woken once per batch,
                    // not once per event. Then the task yields, so subscribers on this worker
                    // read before the next batch can overrun them.
                    let mut frame = frame;
                    let mut taken = 0;
                    let lost = loop {
                        match frame {
                            Some(Ok(AmiFrame::Message(message))) => {
                                self.dispatch(message, &mut pending, &mut ping, &mut outbox);
                            }
                            Some(Ok(AmiFrame::Banner(line))) => {
                                debug!(%line, "unexpected second banner");
                            }
                            Some(Err(e)) => break Some(format!("read failed: {e}")),
                            None => break Some("closed by Asterisk".to_owned()),
                        }
                        taken += 1;
                        if taken >= BATCH {
                            break None;
                        }
                        match conn.next().now_or_never() {
                            Some(next) => frame = next,
                            None => break None,
                        }
                    };
                    self.publish(&mut outbox);
                    if let Some(reason) = lost {
                        break Exit::Lost(reason);
                    }
                    if taken >= BATCH {
                        tokio::task::yield_now().await;
                    }
                }
                _ = tick(&mut keepalive) => {
                    // Forget actions whose callers gave up (timed out).
                    pending.retain(|_, p| !p.reply.is_closed());
                    if ping.is_none() {
                        let id = self.ids.next();
                        let mut message = Ping.to_message();
                        message.insert(1, "ActionID", id.as_str());
                        if let Err(reason) = write(conn, message, timeout).await {
                            break Exit::Lost(reason);
                        }
                        ping = Some((id, Instant::now() + timeout));
                    }
                }
                _ = time::sleep_until(ping_deadline.unwrap_or_else(Instant::now)),
                    if ping_deadline.is_some() =>
                {
                    break Exit::Lost(format!("keepalive Ping unanswered after {timeout:?}"));
                }
            }
        };

        for (_, p) in pending.drain() {
            let error = match exit {
                Exit::Shutdown => AmiError::Closed,
                Exit::Lost(_) => AmiError::Disconnected,
            };
            let _ = p.reply.send(Err(error));
        }
        exit
    }

    /// Publishes the events of a batch, in wire order, to every subscriber. No subscriber is
    /// fine; a slow one lags (bounded channels). Subscribers share the one decoded event.
    fn publish(&self, outbox: &mut Vec<AmiEvent>) {
        self.filtered.publish(outbox);
        for event in outbox.drain(..) {
            let _ = self.events.send(event);
        }
    }

    /// Routes one incoming message: responses and list events to their caller, every event to
    /// the subscribers (through `outbox`, published at the end of the batch). Events before a
    /// response are published before its caller is answered, as they were before it on the
    /// wire.
    fn dispatch(
        &self,
        message: AmiMessage,
        pending: &mut HashMap<ActionId, Pending>,
        ping: &mut Option<(ActionId, Instant)>,
        outbox: &mut Vec<AmiEvent>,
    ) {
        if message.is_response() {
            self.publish(outbox);
            let Some(id) = message.action_id() else {
                debug!(?message, "AMI response without ActionID");
                return;
            };
            if ping
                .as_ref()
                .is_some_and(|(ping_id, _)| ping_id.as_str() == id)
            {
                *ping = None;
                return;
            }
            let Some(entry) = pending.get_mut(id) else {
                debug!(action_id = id, "AMI response for no pending action (late?)");
                return;
            };
            if !message.is_success() {
                if let Some(p) = pending.remove(id) {
                    let error = AmiError::ActionFailed {
                        action: p.action,
                        message: message.message().unwrap_or("no message").to_owned(),
                    };
                    let _ = p.reply.send(Err(error));
                }
                return;
            }
            if entry.list && !entry.complete {
                entry.response = Some(message);
            } else if let Some(p) = pending.remove(id) {
                let _ = p.reply.send(Ok(Reply {
                    response: message,
                    events: p.events,
                }));
            }
            return;
        }

        if !message.is_event() {
            debug!(?message, "AMI message that is neither response nor event");
            return;
        }
        // An event belongs to a list action only while one is pending (rare during a storm):
        // otherwise its fields are not searched for an `ActionID`.
        let listing = pending.values().any(|p| p.list);
        if let Some(id) = listing.then(|| message.action_id()).flatten() {
            if let Some(entry) = pending.get_mut(id).filter(|p| p.list) {
                if is_list_end(&message) {
                    if entry.response.is_some() {
                        self.publish(outbox);
                        if let Some(p) = pending.remove(id) {
                            let _ = p.reply.send(Ok(Reply {
                                response: p.response.unwrap_or_default(),
                                events: p.events,
                            }));
                        }
                    } else {
                        entry.complete = true;
                    }
                } else if entry.events.len() >= MAX_LIST_EVENTS {
                    if let Some(p) = pending.remove(id) {
                        let _ = p.reply.send(Err(AmiError::Protocol(format!(
                            "`{}` returned more than {MAX_LIST_EVENTS} events",
                            p.action
                        ))));
                    }
                } else {
                    entry.events.push(message.clone());
                }
            }
        }
        outbox.push(message);
    }

    /// Sends `Logoff` and waits (bounded) for `Goodbye` or the close.
    async fn logoff(&mut self, conn: &mut Conn) -> Result<(), AmiError> {
        let timeout = self.settings.action_timeout;
        let id = self.ids.next();
        let mut message = Logoff.to_message();
        message.insert(1, "ActionID", id.as_str());
        if write(conn, message, timeout).await.is_err() {
            return Ok(()); // already gone: nothing left to close
        }
        let goodbye = async {
            while let Some(frame) = conn.next().await {
                match frame {
                    Ok(AmiFrame::Message(m))
                        if m.is_response() && m.action_id() == Some(id.as_str()) =>
                    {
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        };
        time::timeout(timeout, goodbye)
            .await
            .map_err(|_| AmiError::Timeout {
                action: "Logoff".into(),
                after: timeout,
            })
    }
}

/// Whether an event closes an event list.
fn is_list_end(event: &AmiMessage) -> bool {
    event
        .get("EventList")
        .is_some_and(|v| v.eq_ignore_ascii_case("Complete"))
        || event.event_name().is_some_and(|n| n.ends_with("Complete"))
}

/// Writes one message; a failure or a stall past `timeout` means the connection is dead.
async fn write(conn: &mut Conn, message: AmiMessage, timeout: Duration) -> Result<(), String> {
    match time::timeout(timeout, conn.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("write failed: {e}")),
        Err(_) => Err(format!("write stalled for {timeout:?}")),
    }
}

fn keepalive_interval(period: Duration) -> Option<Interval> {
    if period.is_zero() {
        return None;
    }
    let mut interval = time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    Some(interval)
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Runs `fut` while the connection is down, answering requests meanwhile: actions fail with
/// [`AmiError::Disconnected`]; `Logoff` or dropping every handle returns `None` (shut down).
async fn while_down<F: Future>(
    requests: &mut mpsc::Receiver<Request>,
    fut: F,
) -> Option<F::Output> {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return Some(out),
            request = requests.recv() => match request {
                None => return None,
                Some(Request::Logoff { reply }) => {
                    let _ = reply.send(Ok(()));
                    return None;
                }
                Some(Request::Send { reply, .. }) => {
                    let _ = reply.send(Err(AmiError::Disconnected));
                }
            },
        }
    }
}

/// "Equal jitter": a delay in `[delay/2, delay)`, drawn from the clock's sub-second nanos.
fn jittered(delay: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let half = delay / 2;
    half + half.mul_f64(f64::from(nanos % 1000) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_range() {
        for ms in [0u64, 1, 200, 10_000] {
            let d = Duration::from_millis(ms);
            let j = jittered(d);
            assert!(j >= d / 2 && j <= d, "{ms}: {j:?}");
        }
    }

    #[test]
    fn list_end_detection() {
        let ev = |name: &str| AmiMessage::new().with("Event", name);
        assert!(is_list_end(&ev("QueueStatusComplete")));
        assert!(is_list_end(&ev("EndpointListComplete")));
        assert!(is_list_end(&ev("Whatever").with("EventList", "Complete")));
        assert!(!is_list_end(&ev("QueueMember")));
    }

    #[test]
    fn settings_debug_hides_secret() {
        let s = AmiSettings::new("127.0.0.1", 5038, "centralita", Secret::new("hunter2"));
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn action_ids_are_unique() {
        let mut ids = IdGen::default();
        let a = ids.next();
        let b = ids.next();
        assert_ne!(a, b);
    }
}
