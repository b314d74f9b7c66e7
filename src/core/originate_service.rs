//! [`OriginateService`]: starts originate jobs, answers their status, cancels them, and keeps
//! their state in step with what the PBX reports.
//!
//! The rule is in [`super::originate::apply`]; this service is the loop around it: it stores a
//! job before asking [`CallControl`] to place the call (and marks it sent in the store just
//! before the send, so a job without the mark was never sent and a resync closes it as not
//! placed without asking the PBX), applies every [`PbxUpdate`] the adapter
//! sends, writes each change to the [`OriginateStore`] and announces it on a broadcast channel,
//! resyncs open jobs with the PBX after a restart or reconnect, and purges finished jobs after
//! the retention period.
//!
//! It keeps the ids of the jobs the store may hold ([`JobIndex`]), so that the status of an id
//! no job has (a client polling a mistyped or purged id) is answered without the store.
//!
//! Locking: each open job has its own lock ([`Slot`]), held across its read-modify-write (store
//! write included); the map of open jobs and the policy's state are behind short synchronous
//! locks never held across an `await`. Independent jobs never wait for each other's store
//! writes or AMI round trips.
//!
//! **Architecture Invariant:** only this service writes the store's jobs (one engine per store):
//! every id it stores enters the index before the store, so an id the index lacks is not stored.
//!
//! **Architecture Invariant:** every job passes the [`OutboundPolicy`] (allowed destinations,
//! calls per minute, calls in flight per credential) before it is stored; a refused job is
//! journaled with the rule that refused it and nothing reaches the PBX. Calls in flight are
//! this engine's jobs that are stored and not final; the rate is kept in memory per engine.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::audit::{outcome_of, record_quietly, ActionJournal, Actor, EngineAction};
use super::call_checks::{CallCheckError, CallChecks};
use super::ids::ChannelName;
use super::journal::UnixTime;
use super::originate::{
    apply, CallControl, CallControlError, JobState, OriginateId, OriginateJob, OriginateMode,
    OriginateRequest, OriginateStore, PbxFact, PbxUpdate,
};
use super::outbound_policy::{OutboundPolicy, RateWindow, Refusal};
use super::PortError;

/// How the service runs.
#[derive(Clone, Debug)]
pub struct OriginateSettings {
    /// How long a finished job stays answerable. Default 24 h.
    pub retention: Duration,
    /// Ring timeout of a request that sets none. Default 30 s.
    pub default_ring_timeout: Duration,
    /// How often finished jobs past retention are purged. Default 60 s (at most the retention).
    pub purge_interval: Duration,
    /// A ringing job without a channel in the PBX is declared gone by a resync only when it is
    /// older than this (its call may still be on the way). Default 10 s.
    pub resync_grace: Duration,
    /// The outbound policy every job must pass. Default: [`OutboundPolicy::default`].
    pub policy: Arc<OutboundPolicy>,
}

impl Default for OriginateSettings {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(86_400),
            default_ring_timeout: Duration::from_secs(30),
            purge_interval: Duration::from_secs(60),
            resync_grace: Duration::from_secs(10),
            policy: Arc::new(OutboundPolicy::default()),
        }
    }
}

/// A change of a job's state, as announced by [`OriginateService::changes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobChange {
    /// The job.
    pub id: OriginateId,
    /// Its new state.
    pub state: JobState,
    /// When.
    pub at: UnixTime,
}

/// Why a job could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The job could not be stored, so nothing was sent.
    #[error("cannot store the originate job")]
    Store(#[source] PortError),
    /// The outbound policy refused the call: nothing was stored or sent.
    #[error("refused by the outbound policy: {0}")]
    Refused(Refusal),
    /// The call names a source phone, a trunk or a DDR the PBX does not have or the site does
    /// not allow ([`CallChecks`]): nothing was stored or sent.
    #[error("cannot be placed: {0}")]
    Unplaceable(CallCheckError),
    /// The job was stored but its caller could not keep it ([`OriginateService::start_campaign_job_linked`]):
    /// it ended unsent.
    #[error("originate job {0} not linked: nothing was sent")]
    NotLinked(OriginateId),
}

/// What a job is handed to before its call is sent ([`OriginateService::start_campaign_job_linked`]):
/// `true` to send it.
pub type Link = Box<
    dyn FnOnce(OriginateId) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
        + Send,
>;

/// Why a job's status could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// No such job (never existed, or purged after the retention period).
    #[error("no originate job {0}")]
    NotFound(OriginateId),
    /// The store failed.
    #[error("cannot read the originate job")]
    Store(#[source] PortError),
}

/// Why a job could not be cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// No such job.
    #[error("no originate job {0}")]
    NotFound(OriginateId),
    /// The job already ended.
    #[error("originate job {id} already ended ({state})")]
    Finished {
        /// The job.
        id: OriginateId,
        /// Its final state.
        state: JobState,
    },
    /// The store failed (nothing was hung up).
    #[error("cannot update the originate job")]
    Store(#[source] PortError),
    /// The job is marked cancelled but hanging up one of its channels failed.
    #[error("originate job cancelled, but hanging up its call failed")]
    Control(#[source] CallControlError),
}

/// The originate service: a cheap, cloneable handle. Its background tasks stop once every handle
/// is dropped (or at [`OriginateService::shutdown`]).
#[derive(Clone)]
pub struct OriginateService {
    inner: Arc<Inner>,
}

struct Inner {
    control: Arc<dyn CallControl>,
    store: Arc<dyn OriginateStore>,
    settings: OriginateSettings,
    /// Open jobs of this instance (a cache: the store is the truth), each behind its own lock,
    /// which serialises every read-modify-write of that job. The map's lock is only held to
    /// find, add or remove a slot.
    open: std::sync::Mutex<HashMap<OriginateId, Slot>>,
    changes: broadcast::Sender<JobChange>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    /// Where starts and cancels are journaled (none: not journaled).
    actions: std::sync::OnceLock<Arc<dyn ActionJournal>>,
    /// What every call must name that the PBX has (none: not checked).
    checks: std::sync::OnceLock<CallChecks>,
    /// Who started each job that is starting or open, and each credential's recent starts.
    policy_state: std::sync::Mutex<PolicyState>,
    /// The ids the store may hold.
    index: std::sync::Mutex<JobIndex>,
}

/// The ids of the jobs the store may hold: the store's own, read once at start, and every id
/// this service stores (entered before the store insert). Purged ids leave it, and so does an
/// id the store turns out not to have. If the store could not list its ids it is not `ready`
/// and every lookup asks the store. One id per job within the retention period: its size
/// follows the store's.
#[derive(Debug, Default)]
struct JobIndex {
    ready: bool,
    ids: HashSet<OriginateId>,
}

/// One job's lock. `None` until the job is read from the store (a slot made for a fact or a
/// cancel of a job not in the cache); a final job leaves the map.
type Slot = Arc<tokio::sync::Mutex<Option<OriginateJob>>>;

/// The state the outbound policy's limits need.
#[derive(Default)]
struct PolicyState {
    /// The credential (`api:principal`) of each job this engine started that is not final:
    /// entered when the job passes the policy (before its store insert), left when it fails to
    /// be stored or reaches a final state.
    owners: HashMap<OriginateId, String>,
    /// Jobs that passed the policy and are being stored (not yet in `open`).
    starting: HashSet<OriginateId>,
    /// Each credential's starts in the last minute.
    windows: HashMap<String, RateWindow>,
}

impl PolicyState {
    /// A start whose store insert failed: `id` no longer counts; `next` (its retry's id) takes
    /// its place.
    fn rekey(&mut self, id: &OriginateId, next: Option<OriginateId>) {
        let key = self.owners.remove(id);
        self.starting.remove(id);
        if let (Some(key), Some(next)) = (key, next) {
            self.owners.insert(next.clone(), key);
            self.starting.insert(next);
        }
    }
}

/// The key of a credential's limits.
fn credential_key(actor: &Actor) -> String {
    format!("{}:{}", actor.api, actor.principal)
}

impl std::fmt::Debug for OriginateService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginateService")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl OriginateService {
    /// Starts the service: reads the store's job ids (the index), applies `updates` from the
    /// adapter, purges old jobs, and resyncs the store's open jobs with the PBX (a previous
    /// engine may have left some).
    pub fn start(
        control: Arc<dyn CallControl>,
        updates: mpsc::Receiver<PbxUpdate>,
        store: Arc<dyn OriginateStore>,
        settings: OriginateSettings,
    ) -> Self {
        let (changes, _) = broadcast::channel(1024);
        // One read of the store's ids, before any job can start (a blocking read, once).
        let index = match store.ids() {
            Ok(ids) => JobIndex {
                ready: true,
                ids: ids.into_iter().collect(),
            },
            Err(error) => {
                warn!(%error, "originate job ids unreadable: every status asks the store");
                JobIndex::default()
            }
        };
        let inner = Arc::new(Inner {
            control,
            store,
            settings,
            open: std::sync::Mutex::new(HashMap::new()),
            changes,
            tasks: std::sync::Mutex::new(Vec::new()),
            actions: std::sync::OnceLock::new(),
            checks: std::sync::OnceLock::new(),
            policy_state: std::sync::Mutex::new(PolicyState::default()),
            index: std::sync::Mutex::new(index),
        });
        let follow = tokio::spawn(follow(Arc::downgrade(&inner), updates));
        let purge = tokio::spawn(purge(Arc::downgrade(&inner)));
        let resync = {
            let inner = inner.clone();
            tokio::spawn(async move { inner.resync().await })
        };
        inner
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend([follow, purge, resync]);
        Self { inner }
    }

    /// Journals every start and cancel from now on in `journal` (who asked, what, the outcome).
    /// Only the first journal given is kept.
    pub fn with_action_journal(self, journal: Arc<dyn ActionJournal>) -> Self {
        let _ = self.inner.actions.set(journal);
        self
    }

    /// Checks every job with `checks` (source phone, trunk, DDR) before the outbound policy;
    /// a job that fails them is neither stored nor sent.
    pub fn with_call_checks(self, checks: CallChecks) -> Self {
        let _ = self.inner.checks.set(checks);
        self
    }

    /// Checks the job against the outbound policy for `actor`, stores it, then places its call
    /// in the background; returns the job's id at once. Everything after the store (source in
    /// use, the PBX refusing) shows in the job's state. The start is journaled (target: the job
    /// id; a refusal: the rule that refused it).
    pub async fn start_job(
        &self,
        actor: &Actor,
        request: OriginateRequest,
    ) -> Result<OriginateId, StartError> {
        self.start_job_for(actor, None, request, None).await
    }

    /// [`Self::start_job`] for a call placed for `campaign` (its allowed destinations apply).
    pub async fn start_campaign_job(
        &self,
        actor: &Actor,
        campaign: &str,
        request: OriginateRequest,
    ) -> Result<OriginateId, StartError> {
        self.start_job_for(actor, Some(campaign), request, None)
            .await
    }

    /// [`Self::start_campaign_job`] whose job, once stored and before anything is sent to the
    /// PBX, is handed to `link`: the call is placed only if `link` answers `true` (the dialer
    /// keeps the job with its contact first, so a stop at any moment leaves either a job its
    /// contact knows or a call never placed). A refused link ends the job unsent
    /// ([`StartError::NotLinked`]).
    pub async fn start_campaign_job_linked(
        &self,
        actor: &Actor,
        campaign: &str,
        request: OriginateRequest,
        link: Link,
    ) -> Result<OriginateId, StartError> {
        self.start_job_for(actor, Some(campaign), request, Some(link))
            .await
    }

    async fn start_job_for(
        &self,
        actor: &Actor,
        campaign: Option<&str>,
        request: OriginateRequest,
        link: Option<Link>,
    ) -> Result<OriginateId, StartError> {
        let mut params = request_params(&request);
        if let Some(c) = campaign {
            params.push_str(&format!(" campaign={c}"));
        }
        let checked = match self.inner.checks.get() {
            Some(checks) => checks.check(&request).map_err(StartError::Unplaceable),
            None => Ok(()),
        };
        let result = match checked {
            Ok(()) => self.start_job_inner(actor, campaign, request, link).await,
            Err(e) => Err(e),
        };
        if let Err(StartError::Refused(refusal)) = &result {
            warn!(
                api = %actor.api,
                principal = %actor.principal,
                rule = refusal.rule(),
                %refusal,
                "originate refused by the outbound policy"
            );
            params.push_str(&format!(" rule={}", refusal.rule()));
        }
        let target = result.as_ref().map_or(String::new(), ToString::to_string);
        let entry = EngineAction::now(
            actor,
            "originate.start",
            target,
            params,
            outcome_of(&result),
        );
        record_quietly(self.inner.actions.get(), entry).await;
        result
    }

    async fn start_job_inner(
        &self,
        actor: &Actor,
        campaign: Option<&str>,
        request: OriginateRequest,
        link: Option<Link>,
    ) -> Result<OriginateId, StartError> {
        let ring = request
            .ring_timeout
            .unwrap_or(self.inner.settings.default_ring_timeout);
        let now = UnixTime::now();
        let key = credential_key(actor);
        // The policy's verdict and the job's place in its limits in one step: two starts of one
        // credential cannot both pass the cap, and a job that passed counts from then on.
        let mut id = OriginateId::generate();
        self.inner
            .admit(actor, campaign, &key, &request, &id)
            .map_err(StartError::Refused)?;
        let mut attempt = 0;
        let job = loop {
            let job = OriginateJob::new(id.clone(), request.clone(), ring, now);
            self.inner.index().ids.insert(job.id.clone());
            let copy = job.clone();
            // No engine-wide lock across the store write: other jobs start meanwhile.
            match self.inner.blocking(move |s| s.insert(&copy)).await {
                Ok(()) => break job,
                // One retry with a new id covers the (astronomically rare) id clash.
                Err(e) => {
                    let retry = attempt == 0;
                    let next = OriginateId::generate();
                    self.inner.policy().rekey(&id, retry.then(|| next.clone()));
                    if !retry {
                        return Err(StartError::Store(e));
                    }
                    attempt += 1;
                    id = next;
                }
            }
        };
        self.inner.open().insert(
            job.id.clone(),
            Arc::new(tokio::sync::Mutex::new(Some(job.clone()))),
        );
        self.inner.policy().starting.remove(&job.id);
        let id = job.id.clone();
        debug!(job = %id, "originate job stored");
        let _ = self.inner.changes.send(JobChange {
            id: id.clone(),
            state: job.state,
            at: now,
        });
        if let Some(link) = link {
            if !link(id.clone()).await {
                warn!(job = %id, "originate job not linked: nothing sent");
                self.inner.on_fact(&id, PbxFact::NotSent).await;
                return Err(StartError::NotLinked(id));
            }
        }
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.dispatch(job).await });
        Ok(id)
    }

    /// The job as it stands (also after a restart, until purged).
    pub async fn status(&self, id: &OriginateId) -> Result<OriginateJob, StatusError> {
        if !self.inner.may_be_stored(id) {
            return Err(StatusError::NotFound(id.clone()));
        }
        let slot = self.inner.open().get(id).cloned();
        if let Some(slot) = slot {
            if let Some(job) = slot.lock().await.as_ref() {
                return Ok(job.clone());
            }
        }
        let id2 = id.clone();
        let found = self
            .inner
            .blocking(move |s| s.get(&id2))
            .await
            .map_err(StatusError::Store)?;
        match found {
            Some(job) => Ok(job),
            None => {
                // Not stored (any more), unless a start is storing it right now (its id enters
                // the index before the insert, and `starting` until it is in `open`).
                let starting = self.inner.policy().starting.contains(id);
                if !starting {
                    self.inner.index().ids.remove(id);
                }
                Err(StatusError::NotFound(id.clone()))
            }
        }
    }

    /// Cancels a ringing or answered job for `actor`: marks it cancelled, then hangs up its
    /// channels (a channel that appears later is hung up as soon as the PBX reports it). The
    /// cancel is journaled, refused or not.
    pub async fn cancel(
        &self,
        actor: &Actor,
        id: &OriginateId,
    ) -> Result<OriginateJob, CancelError> {
        let result = self.cancel_inner(id).await;
        let entry = EngineAction::now(
            actor,
            "originate.cancel",
            id.to_string(),
            "",
            outcome_of(&result),
        );
        record_quietly(self.inner.actions.get(), entry).await;
        result
    }

    async fn cancel_inner(&self, id: &OriginateId) -> Result<OriginateJob, CancelError> {
        let job = {
            let (slot, mut guard) = self.inner.lock_job(id).await;
            let job = match self
                .inner
                .load(&slot, &mut guard, id)
                .await
                .map_err(CancelError::Store)?
            {
                Some(job) => job,
                None => return Err(CancelError::NotFound(id.clone())),
            };
            if job.state.is_final() {
                return Err(CancelError::Finished {
                    id: id.clone(),
                    state: job.state,
                });
            }
            let next = apply(job, &PbxFact::Cancelled, UnixTime::now());
            self.inner
                .save(&slot, &mut guard, &next)
                .await
                .map_err(CancelError::Store)?;
            next
        };
        self.inner.announce(&job);
        info!(job = %id, channels = job.channels.len(), "originate job cancelled");
        for channel in &job.channels {
            self.inner
                .control
                .hangup(channel)
                .await
                .map_err(CancelError::Control)?;
        }
        Ok(job)
    }

    /// Every state change from now on (bounded: a slow receiver lags).
    pub fn changes(&self) -> broadcast::Receiver<JobChange> {
        self.inner.changes.subscribe()
    }

    /// Purges finished jobs past retention now; returns how many.
    pub async fn purge_now(&self) -> Result<u64, PortError> {
        self.inner.purge_once().await
    }

    /// Checks open jobs against the PBX now (what a reconnect triggers).
    pub async fn resync(&self) {
        self.inner.resync().await;
    }

    /// Stops the background tasks (facts are no longer applied). Jobs stay in the store.
    pub fn shutdown(&self) {
        let mut tasks = self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for task in tasks.drain(..) {
            task.abort();
        }
    }
}

/// The journal's parameters of a request: mode, parties and timeout; call data and caller ids
/// are left out (they may carry customer data).
fn request_params(request: &OriginateRequest) -> String {
    let mode = match &request.mode {
        OriginateMode::ClickToCall { source } => format!("mode=click_to_call source={source}"),
        OriginateMode::OutsideSource { source } => format!("mode=outside_source source={source}"),
        OriginateMode::Direct { target } => format!(
            "mode=direct context={} exten={}",
            target.context(),
            target.exten()
        ),
    };
    let mut params = format!("{mode} destination={}", request.destination);
    if let Some(ring) = request.ring_timeout {
        params.push_str(&format!(" ring_timeout_s={}", ring.as_secs()));
    }
    params
}

/// The numbers a job makes the PBX dial through the dialplan: today its destination (a
/// click-to-call's source is a phone of the PBX, rung as `PJSIP/<source>`, never the trunk).
fn dialed_numbers(request: &OriginateRequest) -> Vec<&str> {
    vec![request.destination.as_str()]
}

impl Inner {
    /// The outbound policy's verdict on a new job `id` of `actor` (`key`); a job that passes
    /// is noted in the credential's rate window, and counts among its calls in flight (as
    /// starting) from now on.
    fn admit(
        &self,
        actor: &Actor,
        campaign: Option<&str>,
        key: &str,
        request: &OriginateRequest,
        id: &OriginateId,
    ) -> Result<(), Refusal> {
        let now = std::time::Instant::now();
        let mut state = self.policy();
        state.windows.retain(|k, w| k == key || !w.is_idle(now));
        let in_flight = state.owners.values().filter(|k| *k == key).count();
        let window = state.windows.entry(key.to_owned()).or_default();
        self.settings.policy.check(
            actor,
            campaign,
            &dialed_numbers(request),
            in_flight,
            window,
            now,
        )?;
        state.owners.insert(id.clone(), key.to_owned());
        state.starting.insert(id.clone());
        Ok(())
    }

    fn policy(&self) -> std::sync::MutexGuard<'_, PolicyState> {
        self.policy_state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<OriginateId, Slot>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The job's slot (made, empty, if the job is not in the cache) and its lock.
    async fn lock_job(
        &self,
        id: &OriginateId,
    ) -> (Slot, tokio::sync::OwnedMutexGuard<Option<OriginateJob>>) {
        let slot = self.open().entry(id.clone()).or_default().clone();
        let guard = slot.clone().lock_owned().await;
        (slot, guard)
    }

    /// Removes `slot` from the map if it is still the job's.
    fn drop_slot(&self, id: &OriginateId, slot: &Slot) {
        let mut open = self.open();
        if open.get(id).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            open.remove(id);
        }
    }

    /// Runs a store call off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn OriginateStore) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, PortError> {
        let store = self.store.clone();
        super::off_runtime(move || f(&*store)).await
    }

    fn index(&self) -> std::sync::MutexGuard<'_, JobIndex> {
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the store may hold a job with this id (always, until the index is ready).
    fn may_be_stored(&self, id: &OriginateId) -> bool {
        let index = self.index();
        !index.ready || index.ids.contains(id)
    }

    /// The job from its slot, or the store (then kept in the slot if open; an unknown or final
    /// job's slot leaves the map). Called with the slot's lock held.
    async fn load(
        &self,
        slot: &Slot,
        guard: &mut Option<OriginateJob>,
        id: &OriginateId,
    ) -> Result<Option<OriginateJob>, PortError> {
        if let Some(job) = guard.as_ref() {
            return Ok(Some(job.clone()));
        }
        let id2 = id.clone();
        let found = self.blocking(move |s| s.get(&id2)).await;
        match &found {
            Ok(Some(job)) if !job.state.is_final() => *guard = Some(job.clone()),
            _ => self.drop_slot(id, slot),
        }
        found
    }

    /// Writes the job and refreshes its slot (a final job leaves the map and the policy's calls
    /// in flight). Called with the slot's lock held.
    async fn save(
        &self,
        slot: &Slot,
        guard: &mut Option<OriginateJob>,
        job: &OriginateJob,
    ) -> Result<(), PortError> {
        let copy = job.clone();
        self.blocking(move |s| s.update(&copy)).await?;
        *guard = Some(job.clone());
        if job.state.is_final() {
            self.drop_slot(&job.id, slot);
            self.policy().owners.remove(&job.id);
        }
        Ok(())
    }

    fn announce(&self, job: &OriginateJob) {
        let _ = self.changes.send(JobChange {
            id: job.id.clone(),
            state: job.state,
            at: job.updated_at,
        });
    }

    /// Applies one fact; unknown jobs (another engine's, or purged) are ignored.
    async fn on_fact(self: &Arc<Self>, id: &OriginateId, fact: PbxFact) {
        let (before, after) = {
            let (slot, mut guard) = self.lock_job(id).await;
            let job = match self.load(&slot, &mut guard, id).await {
                Ok(Some(job)) => job,
                Ok(None) => return,
                Err(error) => {
                    warn!(job = %id, %error, "originate job unreadable; fact dropped");
                    return;
                }
            };
            let next = apply(job.clone(), &fact, UnixTime::now());
            if next == job {
                return;
            }
            if let Err(error) = self.save(&slot, &mut guard, &next).await {
                warn!(job = %id, %error, "originate job state not stored");
                return;
            }
            (job, next)
        };
        debug!(job = %id, ?fact, state = %after.state, "originate fact");
        if after.state != before.state {
            self.announce(&after);
        }
        // A channel reported after the job was cancelled: hang it up too.
        if let (JobState::Cancelled, PbxFact::ChannelCreated(name)) = (after.state, &fact) {
            self.hangup_quietly(name).await;
        }
    }

    async fn hangup_quietly(&self, channel: &ChannelName) {
        if let Err(error) = self.control.hangup(channel).await {
            warn!(%channel, %error, "hangup of a cancelled job's channel failed");
        }
    }

    /// Places the call of a stored job.
    async fn dispatch(self: Arc<Self>, job: OriginateJob) {
        if let OriginateMode::ClickToCall { source } = &job.request.mode {
            match self.control.source_in_use(source).await {
                Ok(true) => {
                    info!(job = %job.id, %source, "originate source in use");
                    self.on_fact(&job.id, PbxFact::SourceInUse).await;
                    return;
                }
                Ok(false) => {}
                Err(error) => warn!(job = %job.id, %error, "source device state unknown"),
            }
        }
        // Marked sent, durably, before the write, under the job's lock: a job without the
        // mark was never sent (a resync closes it as not placed), and one cancelled or closed
        // before it is not sent.
        let slot = self.open().get(&job.id).cloned();
        let Some(slot) = slot else { return };
        let job = {
            let mut guard = slot.clone().lock_owned().await;
            let Some(current) = guard.as_ref().filter(|j| !j.state.is_final()).cloned() else {
                return;
            };
            let marked = apply(current, &PbxFact::Sending, UnixTime::now());
            if let Err(error) = self.save(&slot, &mut guard, &marked).await {
                drop(guard);
                warn!(job = %job.id, %error, "originate job not marked sent: nothing sent");
                self.on_fact(&job.id, PbxFact::NotSent).await;
                return;
            }
            // The request as asked (the store keeps no recording or trunk choice).
            OriginateJob {
                request: job.request,
                ..marked
            }
        };
        match self.control.originate(&job).await {
            Ok(()) => {}
            Err(error @ CallControlError::Refused(_)) => {
                warn!(job = %job.id, %error, "originate refused");
                self.on_fact(&job.id, PbxFact::NotSent).await;
            }
            Err(error @ CallControlError::Unreachable(_)) => {
                // The action may have reached the PBX before the connection was lost: the end
                // of this call is not seen, and its CDR will say what became of it.
                warn!(job = %job.id, %error, "originate sent, its answer lost");
                self.on_fact(&job.id, PbxFact::Vanished).await;
            }
        }
    }

    /// Open jobs without a channel in the PBX ended while nobody watched. Jobs younger than
    /// the grace may still be on their way to the PBX: they are checked once more when the
    /// grace has passed (a job placed just before a stop may have ended while nobody
    /// watched too, and no event will ever say so).
    async fn resync(self: &Arc<Self>) {
        let grace = i64::try_from(self.settings.resync_grace.as_secs()).unwrap_or(i64::MAX);
        let cutoff = UnixTime(UnixTime::now().seconds().saturating_sub(grace));
        let (open, young): (Vec<OriginateJob>, Vec<OriginateJob>) =
            match self.blocking(|s| s.open_jobs()).await {
                Ok(jobs) => jobs.into_iter().partition(|j| j.created_at < cutoff),
                Err(error) => {
                    warn!(%error, "originate resync: open jobs unreadable");
                    return;
                }
            };
        if !young.is_empty() {
            let ids: Vec<OriginateId> = young.into_iter().map(|j| j.id).collect();
            let inner = Arc::downgrade(self);
            let wait = self.settings.resync_grace + Duration::from_secs(1);
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let Some(inner) = inner.upgrade() else { return };
                let mut open = Vec::new();
                for id in ids {
                    let id2 = id.clone();
                    if let Ok(Some(job)) = inner.blocking(move |s| s.get(&id2)).await {
                        if !job.state.is_final() {
                            open.push(job);
                        }
                    }
                }
                inner.resync_jobs(open).await;
            });
        }
        self.resync_jobs(open).await;
    }

    /// Ends the jobs of `open` that were never sent (not placed: nothing to ask the PBX) and
    /// those sent that have no channel in the PBX (vanished).
    async fn resync_jobs(self: &Arc<Self>, open: Vec<OriginateJob>) {
        let (open, unsent): (Vec<OriginateJob>, Vec<OriginateJob>) =
            open.into_iter().partition(|j| j.sent_at.is_some());
        for job in &unsent {
            // Ignored if the job was marked sent meanwhile (its fact is applied under its lock).
            self.on_fact(&job.id, PbxFact::NeverSent).await;
        }
        if !unsent.is_empty() {
            info!(unsent = unsent.len(), "originate jobs never sent closed");
        }
        if open.is_empty() {
            return;
        }
        let ids: Vec<OriginateId> = open.iter().map(|j| j.id.clone()).collect();
        let live = match self.control.live_jobs(&ids).await {
            Ok(live) => live,
            Err(error) => {
                warn!(%error, "originate resync: PBX channels unknown");
                return;
            }
        };
        let mut vanished = 0;
        for job in open {
            // A live job is left alone (it is read from the store when its events come).
            if !live.contains(&job.id) {
                vanished += 1;
                self.on_fact(&job.id, PbxFact::Vanished).await;
            }
        }
        info!(vanished, "originate jobs resynced");
    }

    async fn purge_once(&self) -> Result<u64, PortError> {
        let keep = i64::try_from(self.settings.retention.as_secs()).unwrap_or(i64::MAX);
        let before = UnixTime(UnixTime::now().seconds().saturating_sub(keep));
        let ids = self.blocking(move |s| s.purge_finished(before)).await?;
        let purged = ids.len() as u64;
        {
            let mut index = self.index();
            for id in &ids {
                index.ids.remove(id);
            }
        }
        if purged > 0 {
            info!(purged, "finished originate jobs purged");
        }
        Ok(purged)
    }
}

async fn follow(inner: Weak<Inner>, mut updates: mpsc::Receiver<PbxUpdate>) {
    while let Some(update) = updates.recv().await {
        let Some(inner) = inner.upgrade() else { break };
        match update {
            PbxUpdate::Fact { job, fact } => inner.on_fact(&job, fact).await,
            PbxUpdate::Resync => inner.resync().await,
        }
    }
}

async fn purge(inner: Weak<Inner>) {
    let period = match inner.upgrade() {
        Some(i) => i
            .settings
            .purge_interval
            .min(i.settings.retention)
            .max(Duration::from_secs(1)),
        None => return,
    };
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { break };
        if let Err(error) = inner.purge_once().await {
            warn!(%error, "purge of finished originate jobs failed");
        }
    }
}
