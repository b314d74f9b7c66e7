//! Text messages (SMS) sent for API clients: a job per request with one or more recipients,
//! stored before anything is sent, each recipient sent through the PBX's message technology
//! (SIP MESSAGE to the carrier trunk) in the background.
//!
//! - [`SmsText`] and [`parse_recipients`]: the request, validated (1-160 characters on one line;
//!   1-[`MAX_RECIPIENTS`] numbers separated by spaces or commas).
//! - [`SmsStatus`]: a job's state: `PENDING` (stored, being sent), `SENT` (every recipient
//!   accepted by the PBX), `ERROR` (some recipient could not be sent; nothing more is tried),
//!   `DRAFT` (stored without recipients, not sent).
//! - [`RateLimiter`]: at most N messages (recipients) per second, over a sliding second.
//! - [`SmsService`]: the rules; ports [`SmsStore`] (persistence) and [`SmsGateway`] (the way
//!   out): [`PbxGateway`] sends through the PBX ([`CallCommands::send_message`], a message URI
//!   made from a template), an HTTP gateway adapter (`crate::sms_http`) through a provider;
//!   [`SmsRoute`] is which of them the configuration chose.
//!
//! Nothing here knows SQL, AMI or a wire format.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::audit::{outcome_of, record_quietly, ActionJournal, Actor, EngineAction};
use super::call_commands::CallCommands;
use super::journal::UnixTime;
use super::originate::PhoneNumber;
use crate::core::PortError;

/// Longest message, in characters.
pub const MAX_CHARS: usize = 160;
/// Most recipients of one job.
pub const MAX_RECIPIENTS: usize = 100;

/// The id of a job: a number greater than 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SmsId(i64);

impl SmsId {
    /// An id (must be > 0).
    pub fn new(id: i64) -> Option<Self> {
        (id > 0).then_some(Self(id))
    }

    /// Parses a client's id (decimal, > 0).
    pub fn parse(s: &str) -> Option<Self> {
        s.trim().parse::<i64>().ok().and_then(Self::new)
    }

    /// The number.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A job's (or a recipient's) state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsStatus {
    /// Stored; being sent.
    Pending,
    /// Accepted by the PBX for every recipient (delivery depends on the carrier).
    Sent,
    /// Some recipient could not be sent. Final.
    Error,
    /// Stored without recipients; not sent.
    Draft,
}

impl SmsStatus {
    /// The stable upper-case name (eXpand's `statusSms` answers).
    pub fn as_str(self) -> &'static str {
        match self {
            SmsStatus::Pending => "PENDING",
            SmsStatus::Sent => "SENT",
            SmsStatus::Error => "ERROR",
            SmsStatus::Draft => "DRAFT",
        }
    }

    /// The inverse of [`SmsStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Error, Self::Draft]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// A message text: 1-[`MAX_CHARS`] characters, no control characters (one line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsText(String);

impl SmsText {
    /// Validates a text.
    pub fn parse(text: &str) -> Result<Self, SmsError> {
        let n = text.chars().count();
        if n == 0 || n > MAX_CHARS {
            return Err(SmsError::Invalid("the text must be 1-160 characters"));
        }
        if text.chars().any(char::is_control) {
            return Err(SmsError::Invalid("the text must be one line"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Splits a recipient list (`"099123456, 099654321 098111222"`): numbers separated by spaces
/// and/or commas; each one a [`PhoneNumber`]. Empty text is no recipient; a repeated number is
/// kept once. More than [`MAX_RECIPIENTS`] items (repeats included) is refused before any is
/// parsed.
pub fn parse_recipients(text: &str) -> Result<Vec<PhoneNumber>, SmsError> {
    let items = || text.split([',', ' ', ';', '\t']).filter(|s| !s.is_empty());
    if items().nth(MAX_RECIPIENTS).is_some() {
        return Err(SmsError::Invalid("too many recipients"));
    }
    let mut out: Vec<PhoneNumber> = Vec::new();
    for item in items() {
        let n = PhoneNumber::parse(item)
            .map_err(|_| SmsError::Invalid("a recipient is not a number"))?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// One recipient of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsRecipient {
    /// The number.
    pub number: String,
    /// `Pending`, `Sent` or `Error`.
    pub status: SmsStatus,
}

/// A stored job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsJob {
    /// Its id.
    pub id: SmsId,
    /// The text.
    pub text: String,
    /// The recipients, in the order given.
    pub recipients: Vec<SmsRecipient>,
    /// The job's state.
    pub status: SmsStatus,
    /// When it was stored.
    pub created_at: UnixTime,
}

/// The port to the jobs' persistence.
pub trait SmsStore: Send + Sync {
    /// Stores a new job (recipients all `Pending`, or none for a draft); returns its id.
    fn create(
        &self,
        text: &str,
        recipients: &[String],
        status: SmsStatus,
        at: UnixTime,
    ) -> Result<SmsId, PortError>;

    /// The job, if stored.
    fn get(&self, id: SmsId) -> Result<Option<SmsJob>, PortError>;

    /// Sets one recipient's state.
    fn set_recipient(&self, id: SmsId, number: &str, status: SmsStatus) -> Result<(), PortError>;

    /// Replaces a draft's recipients (all `Pending`) and text, and marks it `Pending`.
    fn release_draft(
        &self,
        id: SmsId,
        text: &str,
        recipients: &[String],
    ) -> Result<bool, PortError>;

    /// Sets the job's state.
    fn set_status(&self, id: SmsId, status: SmsStatus) -> Result<(), PortError>;
}

/// Why a send was refused.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The text, a recipient or the draft id is unusable.
    #[error("invalid message: {0}")]
    Invalid(&'static str),
    /// More messages per second than configured.
    #[error("too many messages per second")]
    RateLimited,
    /// Sending is not configured, or the PBX is not connected.
    #[error("the message service is not available")]
    Unavailable,
    /// The store failed.
    #[error("store")]
    Store(#[source] PortError),
}

/// At most `limit` messages over any sliding second.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    sent: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    /// A limiter of `limit` messages per second.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Admits `n` messages at `now` if the last second's count plus `n` stays within the limit
    /// (and counts them); else admits none.
    pub fn admit(&self, n: u32, now: Instant) -> bool {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        while sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1))
        {
            sent.pop_front();
        }
        if sent.len() as u64 + u64::from(n) > u64::from(self.limit) {
            return false;
        }
        sent.extend(std::iter::repeat_n(now, n as usize));
        true
    }
}

/// How messages go out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsSettings {
    /// The sender shown to recipients, if any.
    pub from: Option<String>,
    /// Most messages per second.
    pub max_per_second: u32,
}

/// A boxed, sendable future (the gateway is used as `dyn SmsGateway`).
pub type GatewayFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// The way messages go out: one message to one number. `Err` carries why, for the log (no
/// secrets).
pub trait SmsGateway: Send + Sync {
    /// Sends `text` to `number`, from `from` if given.
    fn send<'a>(
        &'a self,
        number: &'a PhoneNumber,
        from: Option<&'a str>,
        text: &'a SmsText,
    ) -> GatewayFuture<'a>;
}

/// Messages through the PBX's message technology (SIP MESSAGE over a trunk): the URI is the
/// template with `{number}` replaced (e.g. `pjsip:carrier/sip:{number}@carrier.example:5060`).
pub struct PbxGateway {
    commands: Arc<dyn CallCommands>,
    uri_template: String,
}

impl PbxGateway {
    /// A gateway over the PBX's call commands.
    pub fn new(commands: Arc<dyn CallCommands>, uri_template: impl Into<String>) -> Self {
        Self {
            commands,
            uri_template: uri_template.into(),
        }
    }

    /// The URI a message to `number` is sent to.
    pub fn uri_for(&self, number: &PhoneNumber) -> String {
        self.uri_template.replace("{number}", number.as_str())
    }
}

impl SmsGateway for PbxGateway {
    fn send<'a>(
        &'a self,
        number: &'a PhoneNumber,
        from: Option<&'a str>,
        text: &'a SmsText,
    ) -> GatewayFuture<'a> {
        Box::pin(async move {
            let uri = self.uri_for(number);
            self.commands
                .send_message(&uri, from, text.as_str())
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Which way messages leave, as configured: through an HTTP provider, through the PBX with a
/// message URI template (once the PBX is connected), or not at all.
#[derive(Clone, Default)]
pub enum SmsRoute {
    /// Sending is disabled.
    #[default]
    Off,
    /// Through the PBX: the message URI template (`{number}` becomes the recipient).
    Pbx(String),
    /// Through a provider.
    Gateway(Arc<dyn SmsGateway>),
}

impl SmsRoute {
    /// The gateway to send through now: the provider, or the PBX over `pbx` (its call
    /// commands, once connected). `None`: sending is off, or the PBX is not connected yet.
    pub fn gateway(&self, pbx: Option<&Arc<dyn CallCommands>>) -> Option<Arc<dyn SmsGateway>> {
        match self {
            Self::Off => None,
            Self::Gateway(gateway) => Some(gateway.clone()),
            Self::Pbx(template) => Some(Arc::new(PbxGateway::new(pbx?.clone(), template.clone()))),
        }
    }
}

/// The SMS service: a cheap, cloneable handle.
#[derive(Clone)]
pub struct SmsService {
    store: Arc<dyn SmsStore>,
    settings: Arc<SmsSettings>,
    limiter: Arc<RateLimiter>,
    actions: Option<Arc<dyn ActionJournal>>,
}

impl SmsService {
    /// A service over `store`.
    pub fn new(store: Arc<dyn SmsStore>, settings: SmsSettings) -> Self {
        Self {
            store,
            limiter: Arc::new(RateLimiter::new(settings.max_per_second)),
            settings: Arc::new(settings),
            actions: None,
        }
    }

    /// Journals every send in `journal`.
    pub fn with_action_journal(mut self, journal: Arc<dyn ActionJournal>) -> Self {
        self.actions = Some(journal);
        self
    }

    /// Stores a job and sends it through `gateway` in the background, for `actor` (journaled;
    /// the text is not). `draft`: a stored draft to send (its text is replaced by `text` when
    /// given). Without recipients the job is stored as a draft and nothing is sent. No
    /// gateway (sending not configured, or its PBX not connected): [`SmsError::Unavailable`].
    pub async fn send(
        &self,
        actor: &Actor,
        draft: Option<SmsId>,
        text: Option<&str>,
        recipients: &str,
        gateway: Option<Arc<dyn SmsGateway>>,
    ) -> Result<SmsId, SmsError> {
        let result = self.send_inner(draft, text, recipients, gateway).await;
        let target = result.as_ref().map_or(String::new(), |id| id.0.to_string());
        let params = format!(
            "recipients={}",
            parse_recipients(recipients).map_or(0, |r| r.len())
        );
        let entry = EngineAction::now(actor, "sms.send", target, params, outcome_of(&result));
        record_quietly(self.actions.as_ref(), entry).await;
        result
    }

    async fn send_inner(
        &self,
        draft: Option<SmsId>,
        text: Option<&str>,
        recipients: &str,
        gateway: Option<Arc<dyn SmsGateway>>,
    ) -> Result<SmsId, SmsError> {
        let numbers = parse_recipients(recipients)?;
        let stored_draft = match draft {
            Some(id) => {
                let job = self.blocking(move |s| s.get(id)).await?;
                match job {
                    Some(job) if job.status == SmsStatus::Draft => Some(job),
                    _ => return Err(SmsError::Invalid("no such draft")),
                }
            }
            None => None,
        };
        let text = match (text, &stored_draft) {
            (Some(t), _) => SmsText::parse(t)?,
            (None, Some(d)) => SmsText::parse(&d.text)?,
            (None, None) => return Err(SmsError::Invalid("the text is missing")),
        };
        let list: Vec<String> = numbers.iter().map(|n| n.as_str().to_owned()).collect();
        if numbers.is_empty() {
            // A draft: stored, not sent.
            let t = text.as_str().to_owned();
            return match stored_draft {
                Some(d) => Ok(d.id),
                None => {
                    self.blocking(move |s| s.create(&t, &[], SmsStatus::Draft, UnixTime::now()))
                        .await
                }
            };
        }
        let gateway = gateway.ok_or(SmsError::Unavailable)?;
        if !self.limiter.admit(list.len() as u32, Instant::now()) {
            return Err(SmsError::RateLimited);
        }
        let t = text.as_str().to_owned();
        let l = list.clone();
        let id = match stored_draft {
            Some(d) => {
                let id = d.id;
                self.blocking(move |s| s.release_draft(id, &t, &l)).await?;
                id
            }
            None => {
                self.blocking(move |s| s.create(&t, &l, SmsStatus::Pending, UnixTime::now()))
                    .await?
            }
        };
        let service = self.clone();
        tokio::spawn(async move { service.deliver(id, text, numbers, gateway).await });
        Ok(id)
    }

    async fn deliver(
        &self,
        id: SmsId,
        text: SmsText,
        numbers: Vec<PhoneNumber>,
        gateway: Arc<dyn SmsGateway>,
    ) {
        let mut all_sent = true;
        for number in &numbers {
            let sent = gateway
                .send(number, self.settings.from.as_deref(), &text)
                .await;
            let status = match &sent {
                Ok(()) => SmsStatus::Sent,
                Err(e) => {
                    tracing::warn!(sms = id.0, error = %e, "SMS not sent");
                    all_sent = false;
                    SmsStatus::Error
                }
            };
            let n = number.as_str().to_owned();
            if let Err(e) = self
                .blocking(move |s| s.set_recipient(id, &n, status))
                .await
            {
                tracing::warn!(sms = id.0, error = %e, "SMS state not stored");
            }
        }
        let status = if all_sent {
            SmsStatus::Sent
        } else {
            SmsStatus::Error
        };
        if let Err(e) = self.blocking(move |s| s.set_status(id, status)).await {
            tracing::warn!(sms = id.0, error = %e, "SMS state not stored");
        }
    }

    /// The job, if stored.
    pub async fn job(&self, id: SmsId) -> Result<Option<SmsJob>, SmsError> {
        self.blocking(move |s| s.get(id)).await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn SmsStore) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, SmsError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| SmsError::Store(PortError::from(e)))?
            .map_err(SmsError::Store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::call_commands::{CallCommandError, CommandFuture, SpyMode};
    use crate::core::directory::Extension;
    use crate::core::ids::{ChannelName, UniqueId};
    use std::collections::BTreeMap;

    #[test]
    fn texts_and_recipients_are_validated() {
        assert!(SmsText::parse(&"a".repeat(160)).is_ok());
        assert!(SmsText::parse(&"á".repeat(160)).is_ok());
        assert!(SmsText::parse(&"a".repeat(161)).is_err());
        assert!(SmsText::parse("").is_err());
        assert!(SmsText::parse("two\nlines").is_err());
        let r = parse_recipients(" 099123456, 099654321 099123456,+59898111222 ").unwrap();
        let r: Vec<&str> = r.iter().map(PhoneNumber::as_str).collect();
        assert_eq!(r, ["099123456", "099654321", "+59898111222"]);
        assert!(parse_recipients("").unwrap().is_empty());
        // The count is checked before any item is parsed: past the cap, a bad item after it
        // does not matter.
        let at_cap = vec!["099123456"; MAX_RECIPIENTS].join(",");
        assert_eq!(parse_recipients(&at_cap).unwrap().len(), 1);
        let past_cap = format!("{at_cap},099123456,not-a-number");
        assert!(
            matches!(
                parse_recipients(&past_cap),
                Err(SmsError::Invalid("too many recipients"))
            ),
            "refused by the count, not by the bad item"
        );
        for bad in ["abc", "0991&2", "1", "099\r\n1"] {
            assert!(parse_recipients(bad).is_err(), "{bad}");
        }
        assert_eq!(SmsId::parse("12").map(SmsId::get), Some(12));
        for bad in ["0", "-3", "x", ""] {
            assert_eq!(SmsId::parse(bad), None, "{bad}");
        }
        for s in ["PENDING", "SENT", "ERROR", "DRAFT"] {
            assert_eq!(SmsStatus::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn the_limiter_counts_messages_over_a_sliding_second() {
        let l = RateLimiter::new(3);
        let t0 = Instant::now();
        assert!(l.admit(2, t0));
        assert!(!l.admit(2, t0 + Duration::from_millis(500)));
        assert!(l.admit(1, t0 + Duration::from_millis(500)));
        assert!(!l.admit(1, t0 + Duration::from_millis(900)));
        // The first two left the window.
        assert!(l.admit(2, t0 + Duration::from_millis(1000)));
        assert!(!l.admit(4, t0 + Duration::from_secs(10)));
    }

    #[derive(Default)]
    struct MemStore {
        jobs: Mutex<BTreeMap<i64, SmsJob>>,
    }

    impl SmsStore for MemStore {
        fn create(
            &self,
            text: &str,
            recipients: &[String],
            status: SmsStatus,
            at: UnixTime,
        ) -> Result<SmsId, PortError> {
            let mut jobs = self.jobs.lock().unwrap();
            let id = SmsId(jobs.len() as i64 + 1);
            jobs.insert(
                id.0,
                SmsJob {
                    id,
                    text: text.into(),
                    recipients: recipients
                        .iter()
                        .map(|n| SmsRecipient {
                            number: n.clone(),
                            status: SmsStatus::Pending,
                        })
                        .collect(),
                    status,
                    created_at: at,
                },
            );
            Ok(id)
        }
        fn get(&self, id: SmsId) -> Result<Option<SmsJob>, PortError> {
            Ok(self.jobs.lock().unwrap().get(&id.0).cloned())
        }
        fn set_recipient(
            &self,
            id: SmsId,
            number: &str,
            status: SmsStatus,
        ) -> Result<(), PortError> {
            let mut jobs = self.jobs.lock().unwrap();
            for r in &mut jobs.get_mut(&id.0).unwrap().recipients {
                if r.number == number {
                    r.status = status;
                }
            }
            Ok(())
        }
        fn release_draft(
            &self,
            id: SmsId,
            text: &str,
            recipients: &[String],
        ) -> Result<bool, PortError> {
            let mut jobs = self.jobs.lock().unwrap();
            let job = jobs.get_mut(&id.0).unwrap();
            job.text = text.into();
            job.status = SmsStatus::Pending;
            job.recipients = recipients
                .iter()
                .map(|n| SmsRecipient {
                    number: n.clone(),
                    status: SmsStatus::Pending,
                })
                .collect();
            Ok(true)
        }
        fn set_status(&self, id: SmsId, status: SmsStatus) -> Result<(), PortError> {
            self.jobs.lock().unwrap().get_mut(&id.0).unwrap().status = status;
            Ok(())
        }
    }

    /// Accepts every number except those starting with `000`.
    #[derive(Default)]
    struct Pbx {
        sent: Mutex<Vec<String>>,
    }

    impl CallCommands for Pbx {
        fn hangup<'a>(&'a self, _: &'a ChannelName) -> CommandFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
        fn spy<'a>(
            &'a self,
            _: &'a Extension,
            _: &'a Extension,
            _: SpyMode,
        ) -> CommandFuture<'a, UniqueId> {
            Box::pin(async { Err(CallCommandError::Invalid("spy")) })
        }
        fn send_message<'a>(
            &'a self,
            to: &'a str,
            _: Option<&'a str>,
            body: &'a str,
        ) -> CommandFuture<'a, ()> {
            Box::pin(async move {
                if to.contains(":000") {
                    return Err(CallCommandError::Refused("no route".into()));
                }
                self.sent.lock().unwrap().push(format!("{to} {body}"));
                Ok(())
            })
        }
    }

    async fn settle(service: &SmsService, id: SmsId) -> SmsJob {
        for _ in 0..200 {
            let job = service.job(id).await.unwrap().unwrap();
            if job.status != SmsStatus::Pending {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the job stays pending");
    }

    #[tokio::test]
    async fn sends_drafts_limits_and_reports_errors() {
        let service = SmsService::new(
            Arc::new(MemStore::default()),
            SmsSettings {
                from: None,
                max_per_second: 3,
            },
        );
        let pbx = Arc::new(Pbx::default());
        let gateway: Arc<dyn SmsGateway> = Arc::new(PbxGateway::new(
            pbx.clone(),
            "pjsip:carrier/sip:{number}@10.0.0.1",
        ));
        let cmds = || Some(gateway.clone());
        let actor = Actor::new("expand", "c1");
        let id = service
            .send(&actor, None, Some("hola"), "099111222,099333444", cmds())
            .await
            .unwrap();
        assert_eq!(settle(&service, id).await.status, SmsStatus::Sent);
        assert_eq!(
            pbx.sent.lock().unwrap().clone(),
            [
                "pjsip:carrier/sip:099111222@10.0.0.1 hola",
                "pjsip:carrier/sip:099333444@10.0.0.1 hola"
            ]
        );
        // Two more than the limit within the same second.
        assert!(matches!(
            service
                .send(&actor, None, Some("x"), "099000001 099000002", cmds())
                .await,
            Err(SmsError::RateLimited)
        ));
        // A draft: stored, not sent, then sent later.
        let draft = service
            .send(&actor, None, Some("borrador"), "", cmds())
            .await
            .unwrap();
        assert_eq!(
            service.job(draft).await.unwrap().unwrap().status,
            SmsStatus::Draft
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let again = service
            .send(&actor, Some(draft), None, "0001234", cmds())
            .await
            .unwrap();
        assert_eq!(again, draft);
        let job = settle(&service, draft).await;
        assert_eq!(job.status, SmsStatus::Error);
        assert_eq!(job.recipients[0].status, SmsStatus::Error);
        // Not a draft any more.
        assert!(matches!(
            service.send(&actor, Some(draft), None, "099", cmds()).await,
            Err(SmsError::Invalid(_))
        ));
        assert!(matches!(
            service
                .send(&actor, None, Some(&"x".repeat(161)), "099123", cmds())
                .await,
            Err(SmsError::Invalid(_))
        ));
        assert!(matches!(
            service.send(&actor, None, Some("x"), "099123", None).await,
            Err(SmsError::Unavailable)
        ));
    }
}
