//! Outbound webhooks, the rules: which facts become events, which endpoints take which events,
//! how a delivery is signed, when it is tried again and when it is given up.
//!
//! Events are drawn from facts the engine has already made durable (a queue_log line of the
//! journal, a dialer attempt of the ledger), each keyed by its fact ([`EventKey`]), so queueing
//! the same fact twice queues nothing more and a restart picks up after the last fact queued.
//! The outbox (the [`WebhookStore`] port) keeps every delivery until a 2xx answer or until it is
//! older than the endpoint's limit ("dead", visible in `webhooks status`, retried on demand).
//!
//! **Architecture Invariant:** each endpoint gets its events in the order of their facts: only
//! the oldest undelivered one of an endpoint is tried; an endpoint that is down holds back only
//! its own.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{BoxFuture, PortError, Secret, UnixTime};

/// The kinds of event an endpoint can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A caller entered a queue.
    CallOffered,
    /// An agent answered a queue call.
    CallAnswered,
    /// A queue call ended (completed by either side, abandoned, or left the queue).
    CallEnded,
    /// An agent's phone joined a queue.
    AgentLoggedIn,
    /// An agent's phone left a queue.
    AgentLoggedOut,
    /// An agent paused.
    AgentPaused,
    /// An agent unpaused.
    AgentUnpaused,
    /// The dialer finished an attempt on a contact.
    DialerAttempt,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 8] = [
        EventKind::CallOffered,
        EventKind::CallAnswered,
        EventKind::CallEnded,
        EventKind::AgentLoggedIn,
        EventKind::AgentLoggedOut,
        EventKind::AgentPaused,
        EventKind::AgentUnpaused,
        EventKind::DialerAttempt,
    ];

    /// The event's name in the body and in the configuration (`call.offered`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::CallOffered => "call.offered",
            EventKind::CallAnswered => "call.answered",
            EventKind::CallEnded => "call.ended",
            EventKind::AgentLoggedIn => "agent.logged_in",
            EventKind::AgentLoggedOut => "agent.logged_out",
            EventKind::AgentPaused => "agent.paused",
            EventKind::AgentUnpaused => "agent.unpaused",
            EventKind::DialerAttempt => "dialer.attempt",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind a queue_log event makes, if any.
    pub fn of_queue_event(event: &str) -> Option<Self> {
        Some(match event {
            "ENTERQUEUE" => EventKind::CallOffered,
            "CONNECT" => EventKind::CallAnswered,
            "COMPLETECALLER" | "COMPLETEAGENT" | "ABANDON" | "EXITWITHTIMEOUT" | "EXITEMPTY"
            | "EXITWITHKEY" => EventKind::CallEnded,
            "ADDMEMBER" => EventKind::AgentLoggedIn,
            "REMOVEMEMBER" => EventKind::AgentLoggedOut,
            "PAUSE" | "PAUSEALL" => EventKind::AgentPaused,
            "UNPAUSE" | "UNPAUSEALL" => EventKind::AgentUnpaused,
            _ => return None,
        })
    }
}

/// An event's unique key, from the fact that produced it (`queue_log-<id>`,
/// `dialer_attempt-<id>`): the `X-Centralita-Event-Id` header, the same on every try.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(String);

impl EventKey {
    /// The key of a journal queue_log line.
    pub fn queue_log(id: i64) -> Self {
        Self(format!("queue_log-{id}"))
    }

    /// The key of a dialer attempt.
    pub fn dialer_attempt(id: i64) -> Self {
        Self(format!("dialer_attempt-{id}"))
    }

    /// A key read back from the store.
    pub fn from_stored(key: String) -> Self {
        Self(key)
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One event, ready to encode: its key, kind, time and fields (name, value), in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Its key.
    pub key: EventKey,
    /// Its kind.
    pub kind: EventKind,
    /// When the fact happened.
    pub at: UnixTime,
    /// The fact's fields.
    pub fields: Vec<(&'static str, String)>,
}

/// The longest body queued; an event over it is queued with its fields cut (never dropped).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The longest URL accepted.
pub const MAX_URL_BYTES: usize = 2048;

/// An endpoint's name (the outbox's column): letters, digits, `_`, `-`, `.`, 1 to 64.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointName(String);

impl EndpointName {
    /// A checked name.
    pub fn new(name: &str) -> Option<Self> {
        let ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        ok.then(|| Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `url` may be an endpoint: `http://` with a host, no user information, visible ASCII,
/// at most [`MAX_URL_BYTES`]. (`https://` is refused until the engine has a TLS client: a
/// secret sent in clear would be no better than none.)
pub fn url_is_acceptable(url: &str) -> Result<(), &'static str> {
    if url.len() > MAX_URL_BYTES {
        return Err("longer than 2048 bytes");
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be visible ASCII, no spaces");
    }
    let rest = if url.starts_with("https://") {
        return Err("https:// needs a TLS client the engine does not have yet: use http:// on a trusted network or a local TLS relay");
    } else {
        url.strip_prefix("http://")
            .ok_or("must start with http://")?
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not carry user information (user:password@)");
    }
    if authority.is_empty() || authority.starts_with(':') {
        return Err("must name a host");
    }
    if url.contains('#') {
        return Err("must not carry a fragment");
    }
    Ok(())
}

/// One configured endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Its name.
    pub name: EndpointName,
    /// Where events are POSTed (checked by [`url_is_acceptable`]).
    pub url: String,
    /// The HMAC key.
    pub secret: Secret,
    /// The kinds it takes (all when the configuration names none).
    pub events: Vec<EventKind>,
}

impl Endpoint {
    /// Whether the endpoint takes `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.contains(&kind)
    }
}

/// How deliveries are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// The first retry's delay; each next one doubles, up to `max_backoff`.
    pub first_backoff: Duration,
    /// The longest delay between two tries.
    pub max_backoff: Duration,
    /// A delivery not acknowledged this long after it was queued is dead.
    pub dead_after: Duration,
    /// One try's limit (connect, send, answer).
    pub timeout: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            dead_after: Duration::from_secs(3 * 86_400),
            timeout: Duration::from_secs(5),
        }
    }
}

impl DeliveryPolicy {
    /// The delay before the next try after `failures` failed ones (1 or more): exponential,
    /// capped, with a jitter of up to a quarter more (`jitter` in 0..1, from the caller).
    pub fn backoff(&self, failures: u32, jitter: f64) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let base = self
            .first_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        base + base.mul_f64(jitter.clamp(0.0, 1.0) * 0.25)
    }

    /// Whether a delivery queued at `queued` is dead at `now`.
    pub fn is_dead(&self, queued: UnixTime, now: UnixTime) -> bool {
        now.seconds().saturating_sub(queued.seconds()) >= self.dead_after.as_secs() as i64
    }
}

/// The `X-Centralita-Signature` header's value: `sha256=` and the lowercase hex of
/// HMAC-SHA256(secret, body).
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `header` is the signature of `body` under `secret` (what a receiver checks),
/// compared in constant time.
pub fn verify(secret: &Secret, body: &[u8], header: &str) -> bool {
    super::secret::constant_time_eq(&signature(secret, body), header)
}

/// One queued delivery, as the outbox hands it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The outbox row.
    pub id: i64,
    /// The endpoint.
    pub endpoint: EndpointName,
    /// The event's key.
    pub key: EventKey,
    /// The encoded body.
    pub body: Vec<u8>,
    /// When it was queued.
    pub queued: UnixTime,
    /// Failed tries so far.
    pub failures: u32,
    /// Not before this instant (Unix milliseconds).
    pub next_at_ms: i64,
}

/// An endpoint's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointStatus {
    /// The endpoint.
    pub endpoint: String,
    /// Waiting for a 2xx.
    pub pending: u64,
    /// Acknowledged.
    pub delivered: u64,
    /// Given up.
    pub dead: u64,
    /// The last failure's text, if the oldest pending one failed.
    pub last_error: Option<String>,
}

/// The outbox and the facts it is fed from (blocking calls; run them off the runtime).
pub trait WebhookStore: Send + Sync {
    /// Reads the facts after its cursors (at most `limit` of each kind), turns them into
    /// events ([`queue_log_event`], [`dialer_attempt_event`]), encodes them with `encode`, queues each for the endpoints in `fan_out` that want it (an event already queued
    /// for an endpoint is not queued again) and moves the cursors, all in one transaction.
    /// Returns the number of deliveries queued. A store that has no cursors yet starts after
    /// its last facts (history is not sent).
    fn queue_new_facts(
        &self,
        endpoints: &[Endpoint],
        encode: &(dyn Fn(&WebhookEvent) -> Vec<u8> + Sync),
        limit: usize,
        now: UnixTime,
    ) -> Result<usize, PortError>;

    /// The oldest undelivered, not dead, delivery of `endpoint`.
    fn head(&self, endpoint: &EndpointName) -> Result<Option<Delivery>, PortError>;

    /// Marks a delivery acknowledged.
    fn delivered(&self, id: i64, now: UnixTime) -> Result<(), PortError>;

    /// Records a failed try: the next one not before `next_at_ms` (Unix milliseconds), or
    /// dead when `dead`.
    fn failed(&self, id: i64, error: &str, next_at_ms: i64, dead: bool) -> Result<(), PortError>;

    /// Each endpoint's figures.
    fn status(&self) -> Result<Vec<EndpointStatus>, PortError>;

    /// Makes dead deliveries (of `endpoint`, or every one) pending again, due now, with a fresh
    /// queued time; returns how many.
    fn retry_dead(&self, endpoint: Option<&str>, now: UnixTime) -> Result<usize, PortError>;
}

/// The event of a journal queue_log line, if its event is one ([`EventKind::of_queue_event`]).
#[allow(clippy::too_many_arguments)]
pub fn queue_log_event(
    id: i64,
    time: i64,
    callid: &str,
    queue: &str,
    agent: &str,
    event: &str,
    data: Option<&str>,
) -> Option<WebhookEvent> {
    let kind = EventKind::of_queue_event(event)?;
    let mut fields = vec![("queue_event", event.to_owned())];
    if !matches!(callid, "" | "NONE") {
        fields.push(("uniqueid", callid.to_owned()));
    }
    if !matches!(queue, "" | "NONE") {
        fields.push(("queue", queue.to_owned()));
    }
    if !matches!(agent, "" | "NONE") {
        fields.push(("agent", agent.to_owned()));
    }
    let data: Vec<&str> = data.map(|d| d.split('|').collect()).unwrap_or_default();
    let at = |i: usize| data.get(i).map(|s| s.to_string()).filter(|s| !s.is_empty());
    // The documented fields of each line (Asterisk's queue_log reference).
    let named: &[(usize, &'static str)] = match event {
        "ENTERQUEUE" => &[(1, "caller")],
        "CONNECT" => &[
            (0, "hold_seconds"),
            (1, "bridged_uniqueid"),
            (2, "ring_seconds"),
        ],
        "COMPLETECALLER" | "COMPLETEAGENT" => &[(0, "hold_seconds"), (1, "talk_seconds")],
        "ABANDON" | "EXITWITHTIMEOUT" | "EXITEMPTY" => &[(2, "wait_seconds")],
        "EXITWITHKEY" => &[(0, "key")],
        "PAUSE" | "PAUSEALL" => &[(0, "reason")],
        _ => &[],
    };
    for &(i, name) in named {
        if let Some(v) = at(i) {
            fields.push((name, v));
        }
    }
    if kind == EventKind::CallEnded {
        let reason = match event {
            "COMPLETECALLER" => "caller_hangup",
            "COMPLETEAGENT" => "agent_hangup",
            "ABANDON" => "abandoned",
            "EXITWITHTIMEOUT" => "timeout",
            "EXITEMPTY" => "queue_empty",
            _ => "key_pressed",
        };
        fields.push(("reason", reason.to_owned()));
    }
    Some(WebhookEvent {
        key: EventKey::queue_log(id),
        kind,
        at: UnixTime(time),
        fields,
    })
}

/// A dialer attempt as read from the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptFact {
    /// The attempt's row.
    pub id: i64,
    /// The campaign's name.
    pub campaign: String,
    /// The contact.
    pub contact_id: i64,
    /// Which attempt on that contact (1, 2, ...).
    pub number_of: i64,
    /// The number dialed.
    pub dialed: String,
    /// The outcome's name.
    pub outcome: String,
    /// When the contact was claimed.
    pub claimed_at: i64,
    /// When answered, if it was.
    pub answered_at: Option<i64>,
    /// When it ended.
    pub ended_at: i64,
}

/// The event of a dialer attempt.
pub fn dialer_attempt_event(a: &AttemptFact) -> WebhookEvent {
    let mut fields = vec![
        ("campaign", a.campaign.clone()),
        ("contact_id", a.contact_id.to_string()),
        ("attempt", a.number_of.to_string()),
        ("dialed", a.dialed.clone()),
        ("outcome", a.outcome.clone()),
        ("claimed_at", a.claimed_at.to_string()),
    ];
    if let Some(t) = a.answered_at {
        fields.push(("answered_at", t.to_string()));
    }
    fields.push(("ended_at", a.ended_at.to_string()));
    WebhookEvent {
        key: EventKey::dialer_attempt(a.id),
        kind: EventKind::DialerAttempt,
        at: UnixTime(a.ended_at),
        fields,
    }
}

/// One POST of a delivery.
pub struct Post<'a> {
    /// Where.
    pub url: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// `(name, value)` headers to add.
    pub headers: Vec<(&'static str, String)>,
    /// The try's limit.
    pub timeout: Duration,
}

/// Sends POSTs: the answer's status code, or why there was none.
pub trait WebhookSender: Send + Sync {
    /// POSTs and returns the status code.
    fn post<'a>(&'a self, post: Post<'a>) -> BoxFuture<'a, Result<u16, String>>;
}

/// The headers of a delivery at `now`.
pub fn headers(
    endpoint: &Endpoint,
    delivery: &Delivery,
    now: UnixTime,
) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", "application/json".to_owned()),
        (
            "X-Centralita-Signature",
            signature(&endpoint.secret, &delivery.body),
        ),
        ("X-Centralita-Event-Id", delivery.key.as_str().to_owned()),
        ("X-Centralita-Timestamp", now.seconds().to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231 test case 2.
        let s = signature(&Secret::new("Jefe"), b"what do ya want for nothing?");
        assert_eq!(
            s,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify(
            &Secret::new("Jefe"),
            b"what do ya want for nothing?",
            &s
        ));
        assert!(!verify(&Secret::new("Jefe"), b"what do ya want?", &s));
    }

    #[test]
    fn backoff_doubles_capped_with_bounded_jitter() {
        let p = DeliveryPolicy {
            first_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            ..Default::default()
        };
        assert_eq!(p.backoff(1, 0.0), Duration::from_secs(2));
        assert_eq!(p.backoff(2, 0.0), Duration::from_secs(4));
        assert_eq!(p.backoff(5, 0.0), Duration::from_secs(32));
        assert_eq!(p.backoff(6, 0.0), Duration::from_secs(60));
        assert_eq!(p.backoff(1000, 0.0), Duration::from_secs(60));
        assert_eq!(p.backoff(6, 1.0), Duration::from_secs(75));
        assert!(p.is_dead(UnixTime(0), UnixTime(3 * 86_400)));
        assert!(!p.is_dead(UnixTime(1), UnixTime(3 * 86_400)));
    }

    #[test]
    fn hostile_urls_are_refused() {
        assert!(url_is_acceptable("http://crm.example:8080/hooks?x=1").is_ok());
        for bad in [
            "ftp://x/",
            "http://user:pw@crm/",
            "http://@crm/",
            "http:///x",
            "http://:80/x",
            "http://crm/a b",
            "http://crm/\r\nX-Evil: 1",
            "https://crm/",
            "file:///etc/passwd",
            "http://crm/#frag",
        ] {
            assert!(url_is_acceptable(bad).is_err(), "{bad}");
        }
        assert!(url_is_acceptable(&format!("http://crm/{}", "a".repeat(3000))).is_err());
    }

    #[test]
    fn queue_events_map_to_kinds() {
        assert_eq!(
            EventKind::of_queue_event("ENTERQUEUE"),
            Some(EventKind::CallOffered)
        );
        assert_eq!(
            EventKind::of_queue_event("ABANDON"),
            Some(EventKind::CallEnded)
        );
        assert_eq!(EventKind::of_queue_event("RINGNOANSWER"), None);
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.name()), Some(k));
        }
    }
}
