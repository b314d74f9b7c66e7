//! A Stasis application session ([`AriApp`]): one task owns the event stream, delivers its
//! events in order on a bounded channel, keeps it alive with pings, reconnects after a drop or
//! an Asterisk restart with a capped, jittered backoff, and after every (re)connect resyncs the
//! channels the app owns.
//!
//! **The WebSocket must be up before `StasisStart`.** Asterisk registers an application only
//! while a WebSocket subscribed to it is connected; a channel reaching `Stasis(app)` while none
//! is fails at once (`STASISSTATUS=FAILED`) and goes on in the dialplan, which for the
//! `centralita-ivr` context is a hangup. So the session connects as soon as it starts (the
//! user waits for [`AppEvent::Connected`] before routing calls to the app), reconnects
//! immediately after a drop (first retry after [`AriAppSettings::backoff_first`]), and a call
//! that arrives in the gap is refused by Asterisk rather than left waiting for an app that is
//! not there. Channels already in the app stay in it while the WebSocket is down (Asterisk keeps
//! them); their events in the gap are lost, which is what the resync is for.
//!
//! **Resync.** After every connect, once the stream is up (so no event after the snapshot is
//! missed), the session lists the channels (`GET /channels`) and reports, for each channel it
//! owns (entered the app through a `StasisStart` it delivered, marked with [`AriApp::own`], or
//! passed in at start as owned before a restart), [`AppEvent::Recovered`] with the channel if it
//! is still in the app, else [`AppEvent::Gone`] (and forgets it); a channel in the app it did
//! not know of is adopted and reported `Recovered`. The user decides what to do with each
//! (continue the flow or hang up). A channel entering the app during the resync may be reported
//! `Recovered` and then delivered as `StasisStart`.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::events::AriEvent;
use super::rest::{AppName, Channel, ChannelId};
use super::ws::{self, EventStream};
use super::{AriClient, AriError};

/// What the session delivers, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppEvent {
    /// The event stream is up (the `generation`-th connection, from 1); a resync follows.
    Connected {
        /// Connections made so far.
        generation: u64,
    },
    /// The event stream dropped; the session reconnects by itself.
    Disconnected {
        /// The connection that dropped.
        generation: u64,
    },
    /// A channel the app owns is still in it after a (re)connect.
    Recovered(Channel),
    /// A channel the app owned is no longer in it (hung up, or Asterisk restarted).
    Gone(ChannelId),
    /// An event of the stream.
    Event(AriEvent),
}

/// How the session connects and retries.
#[derive(Clone, Debug)]
pub struct AriAppSettings {
    /// The Stasis application.
    pub app: AppName,
    /// How often a ping is sent; a stream silent for two of these is dropped. Default 10 s.
    pub ping_every: Duration,
    /// The first retry's delay after a drop or a failed connect. Default 250 ms.
    pub backoff_first: Duration,
    /// The longest delay between retries. Default 10 s.
    pub backoff_cap: Duration,
    /// The longest a connect and handshake may take. Default 5 s.
    pub connect_timeout: Duration,
    /// Events held for a slow user before the stream is read no further. Default 1024.
    pub buffer: usize,
}

impl AriAppSettings {
    /// The defaults for `app`.
    pub fn new(app: AppName) -> Self {
        Self {
            app,
            ping_every: Duration::from_secs(10),
            backoff_first: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            buffer: 1024,
        }
    }
}

/// The delay before retry number `attempt` (0 first): `first * 2^attempt` capped at `cap`,
/// then scaled by `0.5 + 0.5 * jitter` (`jitter` in [0, 1]) so that many sessions do not
/// retry in step (pure).
pub fn backoff(attempt: u32, first: Duration, cap: Duration, jitter: f64) -> Duration {
    let full = first
        .saturating_mul(1u32 << attempt.min(20))
        .min(cap.max(first));
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// A number in [0, 1) that differs between calls (the std library's random hash keys).
fn jitter() -> f64 {
    let n = RandomState::new().hash_one(Instant::now());
    (n >> 11) as f64 / (1u64 << 53) as f64
}

/// The resync's report (pure): for each owned id, `Recovered` if a channel of that id is in
/// the app, else `Gone`; then every channel in the app not owned, `Recovered`. Returns the
/// report and the new owned set.
pub fn resync_report(
    app: &AppName,
    owned: &BTreeSet<ChannelId>,
    channels: Vec<Channel>,
) -> (Vec<AppEvent>, BTreeSet<ChannelId>) {
    let mut in_app: HashMap<ChannelId, Channel> = channels
        .into_iter()
        .filter(|c| c.in_app(app))
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut report = Vec::new();
    let mut now_owned = BTreeSet::new();
    for id in owned {
        match in_app.remove(id) {
            Some(c) => {
                now_owned.insert(id.clone());
                report.push(AppEvent::Recovered(c));
            }
            None => report.push(AppEvent::Gone(id.clone())),
        }
    }
    let mut adopted: Vec<Channel> = in_app.into_values().collect();
    adopted.sort_by(|a, b| a.id.cmp(&b.id));
    for c in adopted {
        now_owned.insert(c.id.clone());
        report.push(AppEvent::Recovered(c));
    }
    (report, now_owned)
}

type Owned = Arc<Mutex<BTreeSet<ChannelId>>>;

/// A running Stasis application. Dropping it stops the session.
#[derive(Debug)]
pub struct AriApp {
    client: AriClient,
    events: mpsc::Receiver<AppEvent>,
    owned: Owned,
    task: JoinHandle<()>,
}

impl AriApp {
    /// Starts the session of `settings.app` on `client`'s ARI; `owned_before` are the channels
    /// the app owned before a restart, reported `Recovered` or `Gone` after the first connect.
    /// Returns at once; [`AppEvent::Connected`] says when the app is registered.
    pub fn start(
        client: AriClient,
        settings: AriAppSettings,
        owned_before: impl IntoIterator<Item = ChannelId>,
    ) -> Self {
        let owned: Owned = Arc::new(Mutex::new(owned_before.into_iter().collect()));
        let (tx, events) = mpsc::channel(settings.buffer.max(1));
        let task = tokio::spawn(run(client.clone(), settings, owned.clone(), tx));
        Self {
            client,
            events,
            owned,
            task,
        }
    }

    /// The next event; `None` once the session is stopped.
    pub async fn recv(&mut self) -> Option<AppEvent> {
        self.events.recv().await
    }

    /// The REST client, to act on the app's channels.
    pub fn client(&self) -> &AriClient {
        &self.client
    }

    /// Marks a channel as the app's (one it originated, before its `StasisStart`).
    pub fn own(&self, id: ChannelId) {
        self.owned.lock().expect("owned set").insert(id);
    }

    /// The channels the app owns now.
    pub fn owned(&self) -> Vec<ChannelId> {
        self.owned
            .lock()
            .expect("owned set")
            .iter()
            .cloned()
            .collect()
    }

    /// Stops the session.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for AriApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(client: AriClient, s: AriAppSettings, owned: Owned, tx: mpsc::Sender<AppEvent>) {
    let mut generation = 0u64;
    let mut attempt = 0u32;
    loop {
        match ws::connect(&client, &s.app, s.connect_timeout).await {
            Err(e) => {
                tracing::warn!(app = %s.app, error = %e, attempt, "ARI event stream: connect failed");
            }
            Ok(stream) => {
                attempt = 0;
                generation += 1;
                tracing::info!(app = %s.app, generation, "ARI event stream up");
                if tx.send(AppEvent::Connected { generation }).await.is_err() {
                    return;
                }
                match session(&client, &s, &owned, &tx, stream).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(app = %s.app, generation, error = %e, "ARI event stream dropped")
                    }
                }
                if tx
                    .send(AppEvent::Disconnected { generation })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        tokio::time::sleep(backoff(attempt, s.backoff_first, s.backoff_cap, jitter())).await;
        attempt = attempt.saturating_add(1);
    }
}

/// One connection: the resync, then events until the stream fails (`Err`) or the user is
/// gone (`Ok`).
async fn session(
    client: &AriClient,
    s: &AriAppSettings,
    owned: &Owned,
    tx: &mpsc::Sender<AppEvent>,
    mut stream: EventStream,
) -> Result<(), AriError> {
    let channels = client.channels().await?;
    let before = owned.lock().expect("owned set").clone();
    let (report, now) = resync_report(&s.app, &before, channels);
    {
        // Ids marked owned while the list was read stay owned.
        let mut o = owned.lock().expect("owned set");
        let added: Vec<ChannelId> = o.difference(&before).cloned().collect();
        *o = now;
        o.extend(added);
    }
    for e in report {
        if tx.send(e).await.is_err() {
            return Ok(());
        }
    }
    let mut ping = tokio::time::interval(s.ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut last_seen = Instant::now();
    loop {
        tokio::select! {
            frame = stream.recv() => {
                last_seen = Instant::now();
                let Some(event) = frame? else { continue };
                track(owned, &event);
                if tx.send(AppEvent::Event(event)).await.is_err() {
                    stream.close().await;
                    return Ok(());
                }
                // Time spent waiting for a slow user is not silence of the stream.
                last_seen = Instant::now();
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > s.ping_every * 2 {
                    return Err(AriError::WebSocket("no answer to ping"));
                }
                stream.ping().await?;
            }
        }
    }
}

/// Keeps the owned set current: a `StasisStart` adds its channel, `StasisEnd` and
/// `ChannelDestroyed` remove it.
fn track(owned: &Owned, event: &AriEvent) {
    let mut o = owned.lock().expect("owned set");
    match event {
        AriEvent::StasisStart { channel, .. } => {
            o.insert(channel.id.clone());
        }
        AriEvent::StasisEnd { channel } | AriEvent::ChannelDestroyed { channel, .. } => {
            o.remove(&channel.id);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let first = Duration::from_millis(250);
        let cap = Duration::from_secs(10);
        let full: Vec<u128> = (0..8)
            .map(|a| backoff(a, first, cap, 1.0).as_millis())
            .collect();
        assert_eq!(full, [250, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
        assert_eq!(backoff(3, first, cap, 0.0).as_millis(), 1000);
        assert_eq!(backoff(u32::MAX, first, cap, 0.5).as_millis(), 7500);
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    fn ch(id: &str, app_data: &str) -> Channel {
        serde_json::from_str(&format!(
            r#"{{"id":"{id}","dialplan":{{"app_name":"Stasis","app_data":"{app_data}"}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn resync_reports_recovered_gone_and_adopted() {
        let app = AppName::new("centralita-ivr").unwrap();
        let id = |s: &str| ChannelId::new(s).unwrap();
        let owned: BTreeSet<ChannelId> = [id("1.1"), id("1.2"), id("1.3")].into();
        let channels = vec![
            ch("1.1", "centralita-ivr,26009000"),
            // Still there but in another app: no longer ours.
            ch("1.3", "other"),
            ch("1.9", "centralita-ivr"),
            ch("2.0", "other-app"),
        ];
        let (report, now) = resync_report(&app, &owned, channels);
        let got: Vec<String> = report
            .iter()
            .map(|e| match e {
                AppEvent::Recovered(c) => format!("recovered {}", c.id),
                AppEvent::Gone(i) => format!("gone {i}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            ["recovered 1.1", "gone 1.2", "gone 1.3", "recovered 1.9"]
        );
        assert_eq!(now, [id("1.1"), id("1.9")].into());
    }
}
