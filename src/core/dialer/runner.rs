//! The dialer at work: for every Active campaign, a few times a second, it counts the
//! campaign queue's agents, asks the pacing how many calls to start, claims that many
//! contacts and places their calls through the [`OriginateService`] (so every call passes the
//! outbound policy, is stored before it is sent and is followed through the PBX's events).
//! When a call's job ends, the attempt is resolved from the job's state and the call's
//! `queue_log` lines ([`evidence`](super::evidence)) and recorded with its evidence.
//!
//! Nothing is lost across a restart: a contact's job is stored with it while it is in
//! progress, and at start every in-progress contact is resolved from its job (final after the
//! originate service's resync) and the journal, exactly as it would have been live; one
//! claimed but never placed is returned to Pending without an attempt, and so is one whose
//! job ended without its Originate ever being sent (the job is marked sent in the store just
//! before the write: a job without the mark certainly dialed nothing). A call whose end was
//! not seen (its job [vanished](crate::core::originate::OriginateJob::vanished), a stored fact),
//! or whose answer and dial's end were missed (its job only saw a normal clearing:
//! [`end_is_guess`](crate::core::originate::OriginateJob::end_is_guess)), is resolved from its
//! trunk leg's CDR. The ledger's job key keeps an attempt from being
//! recorded twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::abandon::AbandonRule;
use super::calls::DialerCallStore;
use super::campaign::{CampaignId, DialerCampaign, Outcome, Regime};
use super::claim::{self, AfterAttempt, AgentFilter, Claimed};
use super::contact::Attempt;
use super::evidence::{evidence_of, is_complete, Evidence};
use super::pacing::{Figures, Observation, Pacer, PacingConfig, Snapshot};
use super::schedule::ScheduleService;
use super::DialerStore;
use crate::core::audit::{api, Actor};
use crate::core::journal::{Journal, UnixTime};
use crate::core::live::{Activity, DeviceStatus, SharedLive};
use crate::core::off_runtime;
use crate::core::originate::{
    AgentInterface, CallData, CallerId, ChannelRole, DialerLeg, DirectTarget, JobState,
    OriginateId, OriginateRequest,
};
use crate::core::originate_service::{Link, OriginateService, StartError};
use crate::core::outbound_policy::Refusal;

/// The dialplan context the answered side of a dialer call runs in.
pub const DIALER_CONTEXT: &str = "centralita-dialer";

/// How often each campaign is paced.
pub const TICK: Duration = Duration::from_millis(250);

/// How long an answered call's lines are waited for in the journal after its job ended.
const EVIDENCE_WAIT: Duration = Duration::from_secs(10);

/// How often each campaign's abandon rate over its regime's whole window is read from the
/// ledger (the pacing's budget check).
const WINDOW_EVERY: Duration = Duration::from_secs(10);

/// At start, each campaign's pacing learns again from its attempts of this many last seconds
/// ([`WARM_ATTEMPTS`] at most), so a restart does not send predictive back to a cold start.
const WARM_SECONDS: i64 = 24 * 3600;

/// The most attempts a campaign's pacing learns from at start.
const WARM_ATTEMPTS: u32 = 5000;

/// The pacing figures of every campaign the runner paces (for the APIs). Written by the runner
/// after each decision, read by anyone.
#[derive(Debug, Default)]
pub struct PacingBoard(std::sync::RwLock<HashMap<CampaignId, Figures>>);

impl PacingBoard {
    /// The figures of campaign `id` at its last decision (`None`: not paced since the start).
    pub fn get(&self, id: CampaignId) -> Option<Figures> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .copied()
    }

    fn set(&self, id: CampaignId, figures: Figures) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, figures);
    }
}

/// What the runner works with.
#[derive(Clone)]
pub struct RunnerParts {
    /// Campaigns and contacts.
    pub store: Arc<dyn DialerStore>,
    /// Calls in flight and the ledger.
    pub calls: Arc<dyn DialerCallStore>,
    /// The call center's zone (blacklist days).
    pub center: TimeZone,
    /// Places and follows the calls.
    pub originate: OriginateService,
    /// Agents and queues.
    pub live: Arc<SharedLive>,
    /// The queue_log lines of each call.
    pub journal: Journal,
    /// Where the pacing figures are published.
    pub board: Arc<PacingBoard>,
    /// The scheduled calls (callbacks and tasks), handed to contacts as they come due.
    pub schedule: Option<ScheduleService>,
    /// The agents' user names (a contact may name its agent by one).
    pub directory: Option<crate::core::directory::Directory>,
}

/// A running dialer; stops when dropped or [`Self::stop`]ped.
pub struct DialerRunner {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl DialerRunner {
    /// Starts the dialer: first the recovery of every in-progress contact, then pacing.
    pub fn spawn(parts: RunnerParts) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(parts, stopped));
        Self { stop, task }
    }

    /// Stops pacing (calls in flight go on in the PBX and are resolved at the next start).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

impl Drop for DialerRunner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One call placed and not resolved yet.
#[derive(Clone, Debug)]
struct Placed {
    claimed: Claimed,
    answered: bool,
    /// The one agent it goes to (a contact assigned to an agent): reserved until it ends.
    agent: Option<AgentInterface>,
}

/// The runner's own view of its calls, by job.
#[derive(Default)]
struct Book {
    calls: HashMap<OriginateId, Placed>,
    /// Campaigns not paced before this instant (a refused or failed start backs off).
    backoff: HashMap<CampaignId, tokio::time::Instant>,
    /// Each campaign's pacing: its model and controller, fed every resolved attempt.
    pacers: HashMap<CampaignId, Pacer>,
    /// When each campaign's window rate was last read from the ledger.
    window_read: HashMap<CampaignId, tokio::time::Instant>,
}

impl Book {
    fn pacer(&mut self, id: CampaignId, campaign: &DialerCampaign) -> &mut Pacer {
        let cfg = PacingConfig::of(campaign);
        let pacer = self.pacers.entry(id).or_insert_with(|| Pacer::new(cfg));
        if *pacer.config() != cfg {
            pacer.set_config(cfg);
        }
        pacer
    }
}

fn actor() -> Actor {
    Actor::new(api::DIALER, "dialer")
}

async fn run(parts: RunnerParts, mut stopped: watch::Receiver<bool>) {
    let mut changes = parts.originate.changes();
    let book = Arc::new(std::sync::Mutex::new(Book::default()));
    recover(&parts, &book).await;
    warm(&parts, &book).await;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut campaigns: Vec<(CampaignId, DialerCampaign)> = Vec::new();
    let mut loaded = tokio::time::Instant::now() - Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = tick.tick() => {
                if loaded.elapsed() >= Duration::from_secs(1) {
                    let store = parts.store.clone();
                    match off_runtime(move || store.campaigns()).await {
                        Ok(all) => campaigns = all,
                        Err(e) => warn!(error = %e, "dialer: campaigns not read"),
                    }
                    loaded = tokio::time::Instant::now();
                }
                for (id, c) in &campaigns {
                    if c.state == super::campaign::CampaignState::Active {
                        pace(&parts, &book, *id, c).await;
                    }
                }
            }
            change = changes.recv() => match change {
                Ok(change) => {
                    let ended = {
                        let mut b = lock(&book);
                        match b.calls.get_mut(&change.id) {
                            Some(p) if change.state.is_final() => Some(p.clone()),
                            Some(p) => {
                                p.answered |= change.state == JobState::Answered;
                                None
                            }
                            None => None,
                        }
                    };
                    if let Some(placed) = ended {
                        spawn_resolve(&parts, &book, change.id, placed);
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    // Missed changes: ask each open call's job directly.
                    warn!(missed = n, "dialer: job changes lagged; checking every call");
                    let open: Vec<(OriginateId, Placed)> =
                        lock(&book).calls.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    for (id, placed) in open {
                        if let Ok(job) = parts.originate.status(&id).await {
                            if job.state.is_final() {
                                spawn_resolve(&parts, &book, id, placed);
                            }
                        }
                    }
                }
                Err(RecvError::Closed) => return,
            },
        }
    }
}

fn lock(book: &std::sync::Mutex<Book>) -> std::sync::MutexGuard<'_, Book> {
    book.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Resolves or follows every contact left in progress by an earlier run.
async fn recover(parts: &RunnerParts, book: &Arc<std::sync::Mutex<Book>>) {
    if let Some(schedule) = &parts.schedule {
        let released = schedule.release_unspooled(UnixTime::now()).await;
        info!(
            ?released,
            "dialer: scheduled calls taken and not handed on released"
        );
    }
    let store = parts.store.clone();
    let campaigns = match off_runtime(move || store.campaigns()).await {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "dialer: recovery skipped, campaigns not read");
            return;
        }
    };
    for (id, _) in campaigns {
        let calls = parts.calls.clone();
        let in_flight = match off_runtime(move || calls.in_flight(id)).await {
            Ok(f) => f,
            Err(e) => {
                warn!(campaign = %id, error = %e, "dialer: in-progress contacts not read");
                continue;
            }
        };
        for f in in_flight {
            let claimed = Claimed {
                number: super::contact::pick_number(
                    campaign_order(parts, id).await,
                    &f.contact.spec,
                    f.contact.attempts,
                    &|_| false,
                )
                .clone(),
                at: f.contact.state_at,
                contact: f.contact,
            };
            match f.job {
                None => {
                    // Claimed, never placed: back to Pending, no attempt counted.
                    let (calls, contact) = (parts.calls.clone(), claimed.contact.id);
                    let released = off_runtime(move || calls.release(contact)).await;
                    info!(contact = %contact, ?released, "dialer: unplaced claim released");
                }
                Some(job) => {
                    let placed = Placed {
                        claimed,
                        answered: false,
                        agent: None,
                    };
                    match parts.originate.status(&job).await {
                        Ok(j) if j.state.is_final() => {
                            info!(job = %job, "dialer: resolving a call of an earlier run");
                            lock(book).calls.insert(job.clone(), placed.clone());
                            spawn_resolve(parts, book, job, placed);
                        }
                        Ok(j) => {
                            let mut placed = placed;
                            placed.answered = j.answered_at.is_some();
                            lock(book).calls.insert(job, placed);
                        }
                        Err(e) => {
                            warn!(job = %job, error = %e, "dialer: job of an in-progress contact unknown");
                        }
                    }
                }
            }
        }
    }
}

/// Feeds each campaign's pacing the attempts of its last [`WARM_SECONDS`] from the ledger, as
/// it learnt them live: the answer rate per hour, ring, handle and connect times, the rolling
/// abandon window.
async fn warm(parts: &RunnerParts, book: &Arc<std::sync::Mutex<Book>>) {
    let store = parts.store.clone();
    let Ok(campaigns) = off_runtime(move || store.campaigns()).await else {
        return;
    };
    let since = UnixTime(UnixTime::now().seconds() - WARM_SECONDS);
    for (id, campaign) in campaigns {
        let calls = parts.calls.clone();
        let recent = match off_runtime(move || calls.recent(id, since, WARM_ATTEMPTS)).await {
            Ok(r) => r,
            Err(e) => {
                warn!(campaign = %id, error = %e, "dialer: recent attempts not read");
                continue;
            }
        };
        if recent.is_empty() {
            continue;
        }
        let wrapup = wrapup_of(parts, &campaign);
        let mut b = lock(book);
        let pacer = b.pacer(id, &campaign);
        for (attempt, evidence) in &recent {
            learn(pacer, &campaign, attempt, evidence, wrapup, &parts.center);
        }
        info!(campaign = %id, attempts = recent.len(), "dialer: pacing learnt from the ledger");
    }
}

/// The wrap-up seconds of the campaign's queue (0 when unknown).
fn wrapup_of(parts: &RunnerParts, campaign: &DialerCampaign) -> u32 {
    parts
        .live
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .queues
        .get(&campaign.queue)
        .and_then(|q| q.wrapup_secs)
        .unwrap_or(0)
}

/// What one recorded attempt teaches `pacer` (live, and again from the ledger at start): the
/// hour it was placed in, its observations, and the connect latency of a call connected in
/// time.
fn learn(
    pacer: &mut Pacer,
    campaign: &DialerCampaign,
    attempt: &Attempt,
    evidence: &Evidence,
    wrapup: u32,
    center: &TimeZone,
) {
    pacer.set_hour(hour_at(attempt.claimed_at, center));
    for o in observations(
        &attempt.outcome,
        evidence,
        attempt.claimed_at,
        attempt.answered_at,
        attempt.ended_at,
    ) {
        pacer.observe(with_wrapup(o, wrapup), attempt.ended_at);
    }
    let latency = (!evidence.abandoned)
        .then(|| evidence.connect_latency_ms(campaign.answer.start))
        .flatten()
        .and_then(|l| u32::try_from(l).ok());
    if let Some(l) = latency {
        pacer.observe_connect_latency(l);
    }
}

async fn campaign_order(parts: &RunnerParts, id: CampaignId) -> super::campaign::AlternativesOrder {
    let store = parts.store.clone();
    off_runtime(move || store.campaign(id))
        .await
        .ok()
        .flatten()
        .map_or(super::campaign::AlternativesOrder::MainOnly, |c| {
            c.alternatives
        })
}

/// The campaign queue's agents and callers now: logged in and not paused, and of those the
/// free ones and each busy one's time on its call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agents {
    /// Logged in, reachable, not paused.
    pub ready: u32,
    /// Of those, idle and past their wrap-up.
    pub free: u32,
    /// Of those, each one on a call: seconds on it so far (0 when the start is unknown).
    pub busy_talk_s: Vec<u32>,
    /// Callers waiting in the queue for an agent.
    pub waiting: u32,
    /// The free ones: (interface, member name).
    pub free_members: Vec<(String, String)>,
}

/// The campaign's free agents for contacts assigned to an agent: those not reserved by a call
/// in flight to them, with the keys a contact may name each by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FreeAgents(Vec<(AgentInterface, Vec<String>)>);

impl FreeAgents {
    /// The free members of `agents` but those in `reserved`, each with its [`claim::agent_keys`]
    /// and the user name `users` (number, user name) gives its member name, the agent's number
    /// (a member whose interface is not a valid [`AgentInterface`] is left out).
    pub fn of(agents: &Agents, reserved: &[AgentInterface], users: &[(String, String)]) -> Self {
        Self(
            agents
                .free_members
                .iter()
                .filter_map(|(iface, name)| {
                    let a = AgentInterface::parse(iface)?;
                    let mut keys = claim::agent_keys(iface, name);
                    if let Some((_, user)) = users.iter().find(|(n, u)| n == name && !u.is_empty())
                    {
                        if !keys.contains(user) {
                            keys.push(user.clone());
                        }
                    }
                    (!reserved.contains(&a)).then_some((a, keys))
                })
                .collect(),
        )
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// None free.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The claim's filter: every key of every free agent.
    pub fn filter(&self) -> AgentFilter {
        AgentFilter::Free(self.0.iter().flat_map(|(_, k)| k.iter().cloned()).collect())
    }

    /// Takes the agent `key` names (it is reserved for the call just claimed).
    pub fn take(&mut self, key: &str) -> Option<AgentInterface> {
        let i = self
            .0
            .iter()
            .position(|(_, k)| k.iter().any(|x| x == key))?;
        Some(self.0.remove(i).0)
    }
}

/// Counts the agents of `campaign`'s queue in `live` at `now`.
pub fn agents_of(live: &SharedLive, campaign: &DialerCampaign, now: UnixTime) -> Agents {
    let state = live
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(queue) = state.queues.get(&campaign.queue) else {
        return Agents::default();
    };
    let wrapup = i64::from(queue.wrapup_secs.unwrap_or(0));
    let mut a = Agents {
        waiting: queue.waiting.len() as u32,
        ..Agents::default()
    };
    for m in queue.members.values() {
        if m.pause.is_some()
            || matches!(m.status, DeviceStatus::Unavailable | DeviceStatus::Invalid)
        {
            continue;
        }
        a.ready += 1;
        let wrapped = m
            .last_call
            .is_none_or(|t| now.seconds() - t.seconds() > wrapup);
        if m.status == DeviceStatus::NotInUse && wrapped {
            a.free += 1;
            a.free_members.push((m.interface.clone(), m.name.clone()));
        } else if m.status.is_busy() {
            let talk = state
                .agents
                .get(&m.interface)
                .filter(|g| matches!(g.activity, Activity::Talking { .. }))
                .and_then(|g| g.since)
                .map_or(0, |t| {
                    u32::try_from((now.seconds() - t.seconds()).max(0)).unwrap_or(u32::MAX)
                });
            a.busy_talk_s.push(talk);
        }
    }
    a
}

/// What the pacing sees of a campaign: its agents, and its calls in flight (`placed` of them,
/// `answered` of those). A person who answered waits in the queue or is still being told from a
/// machine; an answered call beyond the busy agents is counted as waiting.
pub fn snapshot_of(agents: &Agents, placed: u32, answered: u32, now: UnixTime) -> Snapshot {
    let busy = agents.busy_talk_s.len() as u32;
    let waiting = agents.waiting.max(answered.saturating_sub(busy));
    Snapshot {
        free: agents.free,
        busy_talk_s: agents.busy_talk_s.clone(),
        ringing: placed.saturating_sub(answered),
        waiting,
        now,
    }
}

/// The call center's hour of the day at `now` (the pacing's answer rate is kept per hour).
fn hour_at(now: UnixTime, center: &TimeZone) -> u8 {
    claim::timestamp(now)
        .to_zoned(center.clone())
        .hour()
        .clamp(0, 23) as u8
}

async fn pace(
    parts: &RunnerParts,
    book: &Arc<std::sync::Mutex<Book>>,
    id: CampaignId,
    campaign: &DialerCampaign,
) {
    let now = UnixTime::now();
    let (mine, answered, read_window, reserved) = {
        let b = lock(book);
        if b.backoff
            .get(&id)
            .is_some_and(|t| *t > tokio::time::Instant::now())
        {
            return;
        }
        let mine: Vec<&Placed> = b
            .calls
            .values()
            .filter(|p| p.claimed.contact.campaign == id)
            .collect();
        let answered = mine.iter().filter(|p| p.answered).count() as u32;
        let read_window = b
            .window_read
            .get(&id)
            .is_none_or(|t| t.elapsed() >= WINDOW_EVERY);
        let reserved: Vec<AgentInterface> = mine.iter().filter_map(|p| p.agent.clone()).collect();
        (mine.len() as u32, answered, read_window, reserved)
    };
    if read_window {
        // The regime's whole window from the ledger, AMD false positives estimated in: over
        // target, predictive paces as progressive until it is back under.
        let (calls, rule) = (parts.calls.clone(), AbandonRule::of(campaign));
        let since = rule.window_start(now);
        let window = off_runtime(move || calls.ledger(id, since)).await;
        let mut b = lock(book);
        b.window_read.insert(id, tokio::time::Instant::now());
        match window {
            Ok(counts) => b
                .pacer(id, campaign)
                .set_window(rule.rate(&counts), rule.headroom(&counts, 0)),
            Err(e) => warn!(campaign = %id, error = %e, "dialer: abandon window not read"),
        }
    }
    let mut agents = agents_of(&parts.live, campaign, now);
    // The directory's user names of the free agents (a contact may name its agent so).
    let users: Vec<(String, String)> = match (&parts.directory, agents.free_members.is_empty()) {
        (Some(d), false) => d
            .agents()
            .await
            .map(|all| {
                all.into_iter()
                    .map(|a| (a.number.as_str().to_owned(), a.username))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    // An agent a call in flight was placed for is not free for another.
    let mut free = FreeAgents::of(&agents, &reserved, &users);
    agents.free = agents
        .free
        .saturating_sub((agents.free_members.len() - free.len()) as u32);
    let snapshot = snapshot_of(&agents, mine, answered, now);
    let want = {
        let mut b = lock(book);
        let pacer = b.pacer(id, campaign);
        pacer.set_hour(hour_at(now, &parts.center));
        let want = pacer.calls_to_place(&snapshot);
        parts.board.set(id, pacer.figures());
        want
    };
    if want > 0 {
        spool_due(parts, id, campaign, want).await;
    }
    for _ in 0..want {
        let (store, center, agents) = (parts.store.clone(), parts.center.clone(), free.filter());
        let claimed = match off_runtime(move || {
            Ok(super::claim_next_with(
                store.as_ref(),
                id,
                UnixTime::now(),
                &center,
                agents,
            ))
        })
        .await
        {
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                debug!(campaign = %id, error = %e, "dialer: nothing claimed");
                return;
            }
            Err(e) => {
                warn!(campaign = %id, error = %e, "dialer: claim failed");
                return;
            }
        };
        // A contact assigned to an agent takes that agent (the claim only gave a free one).
        let agent = claimed
            .contact
            .spec
            .agent
            .as_deref()
            .filter(|a| !a.is_empty())
            .and_then(|a| free.take(a));
        if !place(parts, book, id, campaign, claimed, agent).await {
            lock(book)
                .backoff
                .insert(id, tokio::time::Instant::now() + Duration::from_secs(2));
            return;
        }
    }
}

/// Hands up to `n` of the campaign's due scheduled calls to its contacts, as due callbacks the
/// claims that follow take first.
async fn spool_due(parts: &RunnerParts, id: CampaignId, campaign: &DialerCampaign, n: u32) {
    let Some(schedule) = &parts.schedule else {
        return;
    };
    for _ in 0..n {
        match schedule
            .spool_due(id, campaign.clone(), UnixTime::now())
            .await
        {
            Ok(Some((call, contact))) => {
                info!(campaign = %id, call = %call.id, ?contact, "dialer: scheduled call due");
            }
            Ok(None) => return,
            Err(e) => {
                warn!(campaign = %id, error = %e, "dialer: scheduled calls not read");
                return;
            }
        }
    }
}

/// The originate request of a claimed contact (to `agent` alone when it has one).
fn request_for(
    campaign: &DialerCampaign,
    claimed: &Claimed,
    agent: Option<AgentInterface>,
) -> Option<OriginateRequest> {
    let target = DirectTarget::new(DIALER_CONTEXT, campaign.queue.as_str()).ok()?;
    let mut pairs: Vec<(String, String)> = vec![
        ("dialer_campaign".into(), campaign.name.as_str().to_owned()),
        ("dialer_contact".into(), claimed.contact.id.to_string()),
    ];
    pairs.extend(claimed.contact.spec.data.0.iter().cloned());
    let data = CallData::new(&pairs)
        .or_else(|_| CallData::new(&pairs[..2]))
        .ok()?;
    let mut req = OriginateRequest::direct(claimed.number.clone(), target)
        .with_ring_timeout(Duration::from_secs(u64::from(campaign.ring_timeout_s)))
        .ok()?
        .with_call_data(data)
        .with_dialer(DialerLeg {
            amd: campaign.answer.amd,
            wait_s: campaign.answer.threshold_s,
            safe_harbor: campaign.answer.safe_harbor.as_str().to_owned(),
            agent,
        });
    if let Some(t) = &campaign.trunk {
        req = req.with_trunk(t.clone());
    }
    if let Some(cid) = &campaign.caller_id {
        if let Ok(cid) = CallerId::new(None, Some(cid.as_str())) {
            req = req.with_caller_ids(None, Some(cid));
        }
    }
    Some(req)
}

/// Places the call of `claimed`; `false` when it could not be (the campaign backs off).
async fn place(
    parts: &RunnerParts,
    book: &Arc<std::sync::Mutex<Book>>,
    id: CampaignId,
    campaign: &DialerCampaign,
    claimed: Claimed,
    agent: Option<AgentInterface>,
) -> bool {
    let contact = claimed.contact.id;
    let Some(request) = request_for(campaign, &claimed, agent.clone()) else {
        warn!(contact = %contact, "dialer: no valid call for the contact");
        reject_unplaceable(parts, id, claimed).await;
        return true;
    };
    // The job is kept with its contact before its call is sent: a stop at any moment leaves a
    // contact whose job is known (resolved at the next start) or a call never placed.
    let calls = parts.calls.clone();
    let link: Link = Box::new(move |job: OriginateId| {
        Box::pin(async move {
            match off_runtime(move || calls.set_job(contact, &job)).await {
                Ok(true) => true,
                other => {
                    warn!(contact = %contact, ?other, "dialer: job not kept with its contact");
                    false
                }
            }
        })
    });
    match parts
        .originate
        .start_campaign_job_linked(&actor(), campaign.name.as_str(), request, link)
        .await
    {
        Ok(job) => {
            lock(book).calls.insert(
                job.clone(),
                Placed {
                    claimed,
                    answered: false,
                    agent,
                },
            );
            debug!(contact = %contact, job = %job, "dialer: call placed");
            true
        }
        Err(StartError::Refused(
            r @ (Refusal::International { .. }
            | Refusal::Premium { .. }
            | Refusal::NotAllowed { .. }),
        )) => {
            // The number may never be dialed: the contact ends, nothing was dialed.
            warn!(contact = %contact, refusal = %r, "dialer: number refused by the outbound policy");
            reject_unplaceable(parts, id, claimed).await;
            true
        }
        Err(e) => {
            // A limit or the store: the contact waits for the next claim, no attempt counted.
            debug!(contact = %contact, error = %e, "dialer: call not started");
            let calls = parts.calls.clone();
            let _ = off_runtime(move || calls.release(contact)).await;
            false
        }
    }
}

/// Ends a contact whose number cannot be dialed (an attempt that dialed nothing).
async fn reject_unplaceable(parts: &RunnerParts, id: CampaignId, claimed: Claimed) {
    let store = parts.store.clone();
    let now = UnixTime::now();
    let attempt = Attempt {
        contact: claimed.contact.id,
        number_of: claimed.contact.attempts + 1,
        dialed: claimed.number.clone(),
        claimed_at: claimed.at,
        answered_at: None,
        ended_at: now,
        outcome: Outcome::Congestion,
        connect_latency_ms: None,
    };
    let done = off_runtime(move || {
        store.finish_attempt(
            &attempt,
            AfterAttempt::Done(super::contact::ContactState::Rejected),
        )
    })
    .await;
    debug!(campaign = %id, ?done, "dialer: unplaceable contact rejected");
}

fn spawn_resolve(
    parts: &RunnerParts,
    book: &Arc<std::sync::Mutex<Book>>,
    job: OriginateId,
    placed: Placed,
) {
    let (parts, book) = (parts.clone(), book.clone());
    tokio::spawn(async move {
        match resolve(&parts, &book, &job, &placed).await {
            Ok(recorded) => debug!(job = %job, recorded, "dialer: attempt resolved"),
            Err(e) => {
                warn!(job = %job, error = %e, "dialer: attempt not recorded (resolved again at the next start)")
            }
        }
        lock(&book).calls.remove(&job);
    });
}

/// The next step after `outcome` under the campaign's rules and regime: an abandoned number
/// is not redialed within 72 hours under the UK regime.
pub fn next_after(
    campaign: &DialerCampaign,
    attempts: u32,
    outcome: &Outcome,
    now: UnixTime,
) -> AfterAttempt {
    let next = claim::after_attempt(campaign, attempts, outcome, now);
    match (campaign.regime, outcome, next) {
        (Regime::Uk, Outcome::Abandoned, AfterAttempt::Retry { next_at }) => AfterAttempt::Retry {
            next_at: UnixTime(next_at.seconds().max(now.seconds() + 72 * 3600)),
        },
        (_, _, next) => next,
    }
}

async fn resolve(
    parts: &RunnerParts,
    book: &std::sync::Mutex<Book>,
    job: &OriginateId,
    placed: &Placed,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let status = parts.originate.status(job).await?;
    if status.never_placed() {
        // Its Originate never reached the PBX (the engine stopped between the link and the
        // send, or the send was refused before it): nothing was dialed, so no attempt is
        // counted and the contact is dialable again at once.
        let (calls, contact, j) = (parts.calls.clone(), placed.claimed.contact.id, job.clone());
        let released = off_runtime(move || calls.release_unplaced(contact, &j)).await?;
        info!(job = %job, contact = %contact, released, "dialer: a call never sent released");
        return Ok(false);
    }
    let callid = job
        .channel_uniqueid(ChannelRole::DirectOriginated)
        .as_str()
        .to_owned();
    let mut answered = status.answered_at.is_some() || placed.answered;
    let mut state = status.state;
    let mut answered_at = status.answered_at;
    let deadline = tokio::time::Instant::now() + EVIDENCE_WAIT;
    if status.end_is_guess() {
        // The call ended, or was answered, while nobody watched (the engine or the PBX was
        // down, or the connection or the send's answer was lost): the trunk leg's CDR says
        // what became of it.
        if let Some(leg) = trunk_leg(parts, &callid, deadline).await {
            let (a, s) = outcome_of_leg(&leg, state);
            answered |= a;
            state = s;
            answered_at = answered_at.or(leg.answer);
            info!(job = %job, disposition = ?leg.disposition, "dialer: an unwatched call resolved from its CDR");
        }
    }
    let lines = loop {
        let lines = parts.journal.queue_log_of_call(&callid).await?;
        if !answered || is_complete(&lines) || tokio::time::Instant::now() >= deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let id = placed.claimed.contact.campaign;
    let store = parts.store.clone();
    let campaign = off_runtime(move || store.campaign(id))
        .await?
        .ok_or("campaign gone")?;
    let (outcome, evidence) = evidence_of(job, state, answered, &lines, &campaign.answer);
    let now = UnixTime::now();
    let attempts = placed.claimed.contact.attempts + 1;
    let next = next_after(&campaign, attempts, &outcome, now);
    let attempt = Attempt {
        contact: placed.claimed.contact.id,
        number_of: attempts,
        dialed: placed.claimed.number.clone(),
        claimed_at: placed.claimed.at,
        answered_at,
        // When the call ended (its job's end), not when its lines were all read.
        ended_at: status
            .ended_at
            .map_or(now, |e| UnixTime(e.seconds().min(now.seconds()))),
        outcome: outcome.clone(),
        connect_latency_ms: evidence
            .connect_latency_ms(campaign.answer.start)
            .and_then(|l| u32::try_from(l).ok()),
    };
    let calls = parts.calls.clone();
    let recorded = {
        let (evidence, attempt) = (evidence.clone(), attempt.clone());
        off_runtime(move || calls.finish_with_evidence(&attempt, next, id, &evidence)).await?
    };
    if recorded {
        // An agent is busy with a call until its wrap-up ends.
        let wrapup = wrapup_of(parts, &campaign);
        let mut b = lock(book);
        let pacer = b.pacer(id, &campaign);
        // The hour the call was placed in (the decisions' hour is set again at the next one).
        learn(pacer, &campaign, &attempt, &evidence, wrapup, &parts.center);
    }
    info!(
        job = %job,
        contact = %placed.claimed.contact.id,
        outcome = %outcome.as_text(),
        recorded,
        "dialer: attempt"
    );
    Ok(recorded)
}

/// The CDR of the call's trunk leg (the dial out of the Local channel), waited for in the
/// journal until `deadline`.
async fn trunk_leg(
    parts: &RunnerParts,
    callid: &str,
    deadline: tokio::time::Instant,
) -> Option<crate::core::CdrRecord> {
    loop {
        if let Ok(cdrs) = parts.journal.cdrs_of_call(callid).await {
            if let Some(leg) = cdrs
                .into_iter()
                .filter(|c| {
                    c.lastapp.eq_ignore_ascii_case("Dial")
                        && c.dstchannel
                            .as_ref()
                            .is_some_and(|d| !d.as_str().is_empty())
                })
                .max_by_key(|c| c.source_rowid)
            {
                return Some(leg);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What a trunk leg's CDR says of a call whose job's state is a guess: whether the line
/// answered, and the state to read the attempt from.
pub fn outcome_of_leg(leg: &crate::core::CdrRecord, guessed: JobState) -> (bool, JobState) {
    use crate::core::journal::Disposition;
    match leg.disposition {
        Disposition::Answered => (true, JobState::HungUp),
        Disposition::Busy => (false, JobState::Busy),
        Disposition::NoAnswer => (false, JobState::NoAnswer),
        Disposition::Failed | Disposition::Congestion => (false, JobState::Unavailable),
        Disposition::Other(_) => (leg.answer.is_some(), guessed),
    }
}

/// `o` with the agent's wrap-up added to its handle time.
fn with_wrapup(o: Observation, wrapup_s: u32) -> Observation {
    match o {
        Observation::Connected { handle_s } => Observation::Connected {
            handle_s: handle_s.saturating_add(wrapup_s),
        },
        Observation::Abandoned { handle_s: Some(h) } => Observation::Abandoned {
            handle_s: Some(h.saturating_add(wrapup_s)),
        },
        other => other,
    }
}

/// What an attempt tells the pacing: how long it rang, whether a person answered, and then
/// whether they reached an agent in time and how long the agent spent on the call.
pub fn observations(
    outcome: &Outcome,
    evidence: &Evidence,
    claimed_at: UnixTime,
    answered_at: Option<UnixTime>,
    ended_at: UnixTime,
) -> Vec<Observation> {
    let secs = |from: UnixTime, to: UnixTime| u32::try_from((to.0 - from.0).max(0)).unwrap_or(0);
    let ring_s = secs(claimed_at, answered_at.unwrap_or(ended_at));
    let handle_s = evidence
        .connected_ms
        .map(|c| u32::try_from(((ended_at.0 * 1000 - c) / 1000).max(0)).unwrap_or(u32::MAX));
    match outcome {
        Outcome::Machine => vec![Observation::Machine { ring_s }],
        Outcome::Abandoned => vec![
            Observation::Answered { ring_s },
            Observation::Abandoned { handle_s: None },
        ],
        Outcome::Answered | Outcome::Disposition(_) if evidence.abandoned => vec![
            Observation::Answered { ring_s },
            Observation::Abandoned { handle_s },
        ],
        Outcome::Answered | Outcome::Disposition(_) => vec![
            Observation::Answered { ring_s },
            Observation::Connected {
                handle_s: handle_s.unwrap_or(secs(answered_at.unwrap_or(claimed_at), ended_at)),
            },
        ],
        Outcome::Busy | Outcome::NoAnswer | Outcome::Congestion => {
            vec![Observation::NotAnswered { ring_s }]
        }
    }
}

/// The campaign's abandon rate over its regime's window, its own share of AMD's machine
/// verdicts counted as people hung up on ([`AbandonRule::of`]; `None`: nobody answered yet).
pub fn abandon_rate(
    calls: &dyn DialerCallStore,
    id: CampaignId,
    campaign: &DialerCampaign,
    now: UnixTime,
) -> Result<Option<f64>, crate::core::PortError> {
    let rule = AbandonRule::of(campaign);
    Ok(rule.rate(&calls.ledger(id, rule.window_start(now))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(connected_ms: Option<i64>, abandoned: bool) -> Evidence {
        let mut e = Evidence::of_job(
            OriginateId::parse("1a24269de88-f23cbb0e").expect("an id"),
            JobState::HungUp,
        );
        e.answered = true;
        e.abandoned = abandoned;
        e.answered_ms = Some(105_000);
        e.connected_ms = connected_ms;
        e
    }

    #[test]
    fn a_connected_call_tells_its_ring_and_handle_times() {
        let e = evidence(Some(106_000), false);
        let obs = observations(
            &Outcome::Answered,
            &e,
            UnixTime(100),
            Some(UnixTime(105)),
            UnixTime(166),
        );
        assert_eq!(
            obs,
            vec![
                Observation::Answered { ring_s: 5 },
                Observation::Connected { handle_s: 60 }
            ]
        );
    }

    #[test]
    fn a_late_connection_and_the_safe_harbor_message_are_abandoned() {
        let late = observations(
            &Outcome::Answered,
            &evidence(Some(110_000), true),
            UnixTime(100),
            Some(UnixTime(105)),
            UnixTime(140),
        );
        assert_eq!(late[1], Observation::Abandoned { handle_s: Some(30) });
        let safe = observations(
            &Outcome::Abandoned,
            &evidence(None, true),
            UnixTime(100),
            Some(UnixTime(105)),
            UnixTime(112),
        );
        assert_eq!(
            safe,
            vec![
                Observation::Answered { ring_s: 5 },
                Observation::Abandoned { handle_s: None }
            ]
        );
    }

    #[test]
    fn unanswered_calls_and_machines_tell_how_long_they_rang() {
        let e = evidence(None, false);
        for outcome in [Outcome::Busy, Outcome::NoAnswer, Outcome::Congestion] {
            assert_eq!(
                observations(&outcome, &e, UnixTime(100), None, UnixTime(115)),
                vec![Observation::NotAnswered { ring_s: 15 }]
            );
        }
        assert_eq!(
            observations(
                &Outcome::Machine,
                &e,
                UnixTime(100),
                Some(UnixTime(102)),
                UnixTime(110)
            ),
            vec![Observation::Machine { ring_s: 2 }]
        );
    }

    /// A ledger that always holds the same counts, and remembers the window asked for.
    struct FixedLedger(
        super::super::calls::LedgerCounts,
        std::sync::Mutex<Vec<UnixTime>>,
    );

    impl DialerCallStore for FixedLedger {
        fn set_job(
            &self,
            _: super::super::contact::ContactId,
            _: &OriginateId,
        ) -> Result<bool, crate::core::PortError> {
            Ok(false)
        }
        fn release(
            &self,
            _: super::super::contact::ContactId,
        ) -> Result<bool, crate::core::PortError> {
            Ok(false)
        }
        fn release_unplaced(
            &self,
            _: super::super::contact::ContactId,
            _: &OriginateId,
        ) -> Result<bool, crate::core::PortError> {
            Ok(false)
        }
        fn recent(
            &self,
            _: CampaignId,
            _: UnixTime,
            _: u32,
        ) -> Result<Vec<(Attempt, Evidence)>, crate::core::PortError> {
            Ok(Vec::new())
        }
        fn in_flight(
            &self,
            _: CampaignId,
        ) -> Result<Vec<super::super::calls::InFlight>, crate::core::PortError> {
            Ok(Vec::new())
        }
        fn finish_with_evidence(
            &self,
            _: &Attempt,
            _: AfterAttempt,
            _: CampaignId,
            _: &Evidence,
        ) -> Result<bool, crate::core::PortError> {
            Ok(false)
        }
        fn ledger(
            &self,
            _: CampaignId,
            since: UnixTime,
        ) -> Result<super::super::calls::LedgerCounts, crate::core::PortError> {
            self.1
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(since);
            Ok(self.0)
        }
        fn evidence(
            &self,
            _: CampaignId,
            _: u64,
            _: u64,
        ) -> Result<Vec<(super::super::contact::ContactId, u32, Evidence)>, crate::core::PortError>
        {
            Ok(Vec::new())
        }
    }

    fn amd_campaign(share: &str) -> DialerCampaign {
        let mut c = DialerCampaign::new(
            crate::core::campaigns::CampaignName::parse("Ventas->").expect("a name"),
            crate::core::directory::QueueName::new("q_ventas").expect("a queue"),
            super::super::campaign::ZoneName::parse("UTC").expect("a zone"),
        );
        c.mode = super::super::campaign::DialMode::Predictive;
        c.regime = Regime::Uk;
        c.answer.amd = true;
        c.answer.amd_false_positives =
            super::super::abandon::FalsePositiveShare::parse(share).expect("a share");
        c
    }

    #[test]
    fn the_window_rate_counts_the_campaign_s_own_false_positive_share() {
        // 500 answered, 100 of them machines, 8 abandoned.
        let ledger = FixedLedger(
            super::super::calls::LedgerCounts {
                attempts: 1500,
                answered: 500,
                machines: 100,
                abandoned: 8,
            },
            std::sync::Mutex::default(),
        );
        let now = UnixTime(10 * 86_400);
        let tuned = abandon_rate(&ledger, CampaignId(1), &amd_campaign("2%"), now)
            .expect("a ledger")
            .expect("people answered");
        // (8 + 2) / (400 + 2): 2.49 %, within 3 %.
        assert!((tuned - 10.0 / 402.0).abs() < 1e-9, "{tuned}");
        let default = abandon_rate(&ledger, CampaignId(1), &amd_campaign("10"), now)
            .expect("a ledger")
            .expect("people answered");
        // (8 + 10) / (400 + 10): 4.39 %, over 3 %.
        assert!((default - 18.0 / 410.0).abs() < 1e-9, "{default}");
        // The UK regime's window: the last 24 hours.
        assert_eq!(
            *ledger.1.lock().expect("the calls"),
            vec![UnixTime(9 * 86_400); 2]
        );
    }

    #[test]
    fn the_runner_paces_with_the_campaign_s_share_and_follows_an_edit() {
        let mut book = Book::default();
        let mut c = amd_campaign("2.5%");
        let pacer = book.pacer(CampaignId(7), &c);
        assert_eq!(pacer.config().false_positives.per_mille(), 25);
        assert_eq!(pacer.figures().false_positives.per_mille(), 25);
        assert!(pacer.figures().amd);
        // The campaign edited: the next decision uses the new share.
        c.answer.amd_false_positives =
            super::super::abandon::FalsePositiveShare::parse("0").expect("a share");
        let pacer = book.pacer(CampaignId(7), &c);
        assert_eq!(pacer.config().false_positives.per_mille(), 0);
        assert_eq!(pacer.figures().false_positives.per_mille(), 0);
    }

    #[test]
    fn the_ledger_teaches_a_new_pacer_what_the_old_one_knew() {
        use crate::core::dialer::contact::ContactId;
        use crate::core::dialer::tests::campaign;
        let mut c = campaign("Ventas->", "UTC");
        c.mode = super::super::campaign::DialMode::Predictive;
        let cfg = PacingConfig::of(&c);
        let utc = TimeZone::UTC;
        // 60 attempts: one in three a person connected for 60 s, the rest no answer.
        let history: Vec<(Attempt, Evidence)> = (0..60)
            .map(|i| {
                let t = 1_800_000_000 + i * 30;
                let person = i % 3 == 0;
                let mut e = evidence(person.then_some(t * 1000 + 6_000), false);
                e.answered = person;
                let a = Attempt {
                    contact: ContactId(i),
                    number_of: 1,
                    dialed: crate::core::originate::PhoneNumber::parse("5558001").unwrap(),
                    claimed_at: UnixTime(t),
                    answered_at: person.then_some(UnixTime(t + 5)),
                    ended_at: UnixTime(t + if person { 66 } else { 15 }),
                    outcome: if person {
                        Outcome::Answered
                    } else {
                        Outcome::NoAnswer
                    },
                    connect_latency_ms: None,
                };
                (a, e)
            })
            .collect();
        let mut warm = Pacer::new(cfg);
        for (a, e) in &history {
            learn(&mut warm, &c, a, e, 2, &utc);
        }
        let cold = Pacer::new(cfg);
        let (w, k) = (warm.figures(), cold.figures());
        assert!((w.answer_rate - 1.0 / 3.0).abs() < 0.05, "{w:?}");
        assert!((w.mean_handle_s - 62.0).abs() < 1.0, "{w:?}");
        assert_eq!(k.mean_handle_s, 0.0, "{k:?}");
        // Past the cold start: predictive decides from the model at once.
        let s = Snapshot {
            free: 2,
            busy_talk_s: vec![10, 20, 30, 40],
            ringing: 0,
            waiting: 0,
            now: UnixTime(1_800_002_000),
        };
        warm.calls_to_place(&s);
        assert_ne!(warm.figures().basis, super::super::pacing::Basis::ColdStart);
    }

    #[test]
    fn an_agent_a_call_is_placed_for_is_taken_from_the_free_ones() {
        let agents = Agents {
            ready: 3,
            free: 3,
            free_members: vec![
                ("PJSIP/1004".into(), "1004".into()),
                ("PJSIP/1005".into(), "Ana".into()),
                ("bad interface".into(), "x".into()),
            ],
            ..Agents::default()
        };
        let reserved = [AgentInterface::parse("PJSIP/1004").unwrap()];
        // Member 1004 is directory agent 1004, user name pperez.
        let users = [("1004".to_owned(), "pperez".to_owned())];
        let mut free = FreeAgents::of(&agents, &reserved, &users);
        assert_eq!(free.len(), 1);
        assert_eq!(
            free.filter(),
            AgentFilter::Free(vec!["PJSIP/1005".into(), "Ana".into(), "1005".into()])
        );
        let mut unreserved = FreeAgents::of(&agents, &[], &users);
        assert_eq!(
            unreserved.take("pperez"),
            AgentInterface::parse("PJSIP/1004"),
            "named by the directory's user name of member 1004"
        );
        assert_eq!(free.take("1004"), None, "reserved");
        assert_eq!(free.take("Ana"), AgentInterface::parse("PJSIP/1005"));
        assert!(free.is_empty());
        assert_eq!(free.filter(), AgentFilter::Free(Vec::new()));
    }

    #[test]
    fn answered_calls_beyond_the_busy_agents_wait() {
        let agents = Agents {
            ready: 4,
            free: 1,
            busy_talk_s: vec![30, 90, 5],
            waiting: 0,
            free_members: Vec::new(),
        };
        // 6 placed, 4 answered: 3 with the busy agents, 1 waiting, 2 ringing.
        let s = snapshot_of(&agents, 6, 4, UnixTime(1000));
        assert_eq!((s.ringing, s.waiting, s.free), (2, 1, 1));
        assert_eq!(s.busy_talk_s, vec![30, 90, 5]);
        // The queue's own count of waiting callers wins when it is higher.
        let queued = Agents {
            waiting: 3,
            ..agents
        };
        assert_eq!(snapshot_of(&queued, 6, 4, UnixTime(1000)).waiting, 3);
    }
}
