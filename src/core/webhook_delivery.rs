//! [`WebhookService`]: the outbox at work. One task follows the facts (the journal's queue_log
//! lines, the dialer's attempts) into the outbox; one task per endpoint delivers that
//! endpoint's oldest pending event, signed, and only then the next, retrying with capped
//! exponential backoff and jitter until a 2xx or until the event is dead
//! ([`DeliveryPolicy::dead_after`]). Endpoints never wait for each other.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::webhooks::{
    headers, DeliveryPolicy, Endpoint, Post, WebhookEvent, WebhookSender, WebhookStore,
};
use super::{off_runtime, PortError, UnixTime};

/// Turns an event into its body (the adapter's wire format).
pub type Encoder = Arc<dyn Fn(&WebhookEvent) -> Vec<u8> + Send + Sync>;

/// How often the facts are looked at when nothing wakes the follower.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// Facts read per transaction.
const BATCH: usize = 500;

/// What one delivery try did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TryOutcome {
    /// Nothing pending.
    Idle,
    /// The head is not due before this many milliseconds.
    NotDue(u64),
    /// Acknowledged with a 2xx.
    Delivered,
    /// Failed; tried again later.
    Failed(String),
    /// Failed and past its limit: dead.
    Dead(String),
}

/// The webhooks' service (cheap to clone).
#[derive(Clone)]
pub struct WebhookService {
    store: Arc<dyn WebhookStore>,
    sender: Arc<dyn WebhookSender>,
    endpoints: Arc<Vec<Endpoint>>,
    policy: DeliveryPolicy,
    encode: Encoder,
    wake: Arc<Notify>,
}

/// The running tasks; dropping it does not stop them, [`WebhookTasks::stop`] does.
pub struct WebhookTasks {
    tasks: Vec<JoinHandle<()>>,
}

impl WebhookTasks {
    /// Stops every task (an unfinished try is abandoned; it stays pending in the outbox).
    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A jitter in 0..1 from the clock's nanoseconds (no randomness source needed for spreading).
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

impl WebhookService {
    /// A service over these parts.
    pub fn new(
        store: Arc<dyn WebhookStore>,
        sender: Arc<dyn WebhookSender>,
        endpoints: Vec<Endpoint>,
        policy: DeliveryPolicy,
        encode: Encoder,
    ) -> Self {
        Self {
            store,
            sender,
            endpoints: Arc::new(endpoints),
            policy,
            encode,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The configured endpoints.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Queues the events of facts not yet queued; returns the deliveries queued.
    pub async fn follow_once(&self) -> Result<usize, PortError> {
        let (store, endpoints, encode) = (
            self.store.clone(),
            self.endpoints.clone(),
            self.encode.clone(),
        );
        let mut total = 0;
        loop {
            let (store, endpoints, encode) = (store.clone(), endpoints.clone(), encode.clone());
            let n = off_runtime(move || {
                store.queue_new_facts(&endpoints, &*encode, BATCH, UnixTime::now())
            })
            .await?;
            total += n;
            // A full batch may have more behind it; a batch of no deliveries may also be
            // facts nobody wants, so read until a batch queues nothing.
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Tries the oldest pending delivery of `endpoint` (its index) if it is due.
    pub async fn try_once(&self, endpoint: usize) -> Result<TryOutcome, PortError> {
        let ep = self
            .endpoints
            .get(endpoint)
            .ok_or("no such endpoint")?
            .clone();
        let store = self.store.clone();
        let name = ep.name.clone();
        let Some(d) = off_runtime(move || store.head(&name)).await? else {
            return Ok(TryOutcome::Idle);
        };
        let wait = d.next_at_ms - now_ms();
        if wait > 0 {
            return Ok(TryOutcome::NotDue(wait as u64));
        }
        let now = UnixTime::now();
        let result = self
            .sender
            .post(Post {
                url: &ep.url,
                body: &d.body,
                headers: headers(&ep, &d, now),
                timeout: self.policy.timeout,
            })
            .await;
        let store = self.store.clone();
        let outcome = match result {
            Ok(status) if (200..300).contains(&status) => {
                off_runtime(move || store.delivered(d.id, now)).await?;
                debug!(
                    endpoint = ep.name.as_str(),
                    event = d.key.as_str(),
                    "webhook delivered"
                );
                TryOutcome::Delivered
            }
            other => {
                let error = match other {
                    Ok(status) => format!("answered {status}"),
                    Err(e) => e,
                };
                let dead = self.policy.is_dead(d.queued, now);
                let next =
                    now_ms() + self.policy.backoff(d.failures + 1, jitter()).as_millis() as i64;
                let text = error.clone();
                off_runtime(move || store.failed(d.id, &text, next, dead)).await?;
                if dead {
                    warn!(
                        endpoint = ep.name.as_str(),
                        event = d.key.as_str(),
                        error = %error,
                        "webhook dead: not acknowledged within its limit"
                    );
                    TryOutcome::Dead(error)
                } else {
                    debug!(endpoint = ep.name.as_str(), event = d.key.as_str(), error = %error, "webhook try failed");
                    TryOutcome::Failed(error)
                }
            }
        };
        Ok(outcome)
    }

    /// Starts the follower and one delivery task per endpoint.
    pub fn spawn(&self) -> WebhookTasks {
        let mut tasks = Vec::new();
        let follower = self.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match follower.follow_once().await {
                    Ok(0) => {}
                    Ok(_) => follower.wake.notify_waiters(),
                    Err(e) => warn!(error = %e, "webhooks: facts not read"),
                }
                tokio::time::sleep(FOLLOW_EVERY).await;
            }
        }));
        for i in 0..self.endpoints.len() {
            let s = self.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let wait = match s.try_once(i).await {
                        Ok(TryOutcome::Delivered) => continue,
                        Ok(TryOutcome::Dead(_)) => continue,
                        Ok(TryOutcome::Failed(_)) => Duration::ZERO,
                        Ok(TryOutcome::NotDue(ms)) => Duration::from_millis(ms),
                        Ok(TryOutcome::Idle) => Duration::from_secs(5),
                        Err(e) => {
                            warn!(error = %e, "webhooks: outbox not readable");
                            Duration::from_secs(1)
                        }
                    };
                    if !wait.is_zero() {
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = s.wake.notified() => {}
                        }
                    }
                }
            }));
        }
        info!(endpoints = self.endpoints.len(), "webhooks: delivering");
        WebhookTasks { tasks }
    }
}
