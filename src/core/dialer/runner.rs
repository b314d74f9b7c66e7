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
//! claimed but never placed is returned to Pending without an attempt. The ledger's job key
//! keeps an attempt from being recorded twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::calls::{window_start, DialerCallStore};
use super::campaign::{CampaignId, DialMode, DialerCampaign, Outcome, Regime};
use super::claim::{self, AfterAttempt, Claimed};
use super::contact::Attempt;
use super::evidence::{evidence_of, is_complete};
use super::DialerStore;
use crate::core::audit::{api, Actor};
use crate::core::journal::{Journal, UnixTime};
use crate::core::live::{DeviceStatus, SharedLive};
use crate::core::off_runtime;
use crate::core::originate::{
    CallData, CallerId, ChannelRole, DialerLeg, DirectTarget, JobState, OriginateId,
    OriginateRequest,
};
use crate::core::originate_service::{OriginateService, StartError};
use crate::core::outbound_policy::Refusal;

/// The dialplan context the answered side of a dialer call runs in.
pub const DIALER_CONTEXT: &str = "centralita-dialer";

/// How often each campaign is paced.
pub const TICK: Duration = Duration::from_millis(250);

/// How long an answered call's lines are waited for in the journal after its job ended.
const EVIDENCE_WAIT: Duration = Duration::from_secs(10);

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
}

/// The runner's own view of its calls, by job.
#[derive(Default)]
struct Book {
    calls: HashMap<OriginateId, Placed>,
    /// Campaigns not paced before this instant (a refused or failed start backs off).
    backoff: HashMap<CampaignId, tokio::time::Instant>,
}

fn actor() -> Actor {
    Actor::new(api::DIALER, "dialer")
}

async fn run(parts: RunnerParts, mut stopped: watch::Receiver<bool>) {
    let mut changes = parts.originate.changes();
    let book = Arc::new(std::sync::Mutex::new(Book::default()));
    recover(&parts, &book).await;
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

/// The campaign queue's agents now: logged in and not paused, and of those the free ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Agents {
    /// Logged in, reachable, not paused.
    pub ready: u32,
    /// Of those, idle and past their wrap-up.
    pub free: u32,
    /// Of those, on a call.
    pub busy: u32,
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
    let mut a = Agents::default();
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
        } else if m.status.is_busy() {
            a.busy += 1;
        }
    }
    a
}

/// How many calls to start for a campaign: one per free agent not yet covered by a call in
/// flight (progressive), that times the ratio (power), none in preview (an agent asks for each
/// call). Predictive paces like progressive until the pacing model has data.
pub fn calls_to_start(mode: DialMode, agents: Agents, unconnected: u32) -> u32 {
    match mode {
        DialMode::Preview => 0,
        DialMode::Power { ratio } => {
            (u32::from(ratio.hundredths()) * agents.free / 100).saturating_sub(unconnected)
        }
        DialMode::Progressive | DialMode::Predictive => agents.free.saturating_sub(unconnected),
    }
}

async fn pace(
    parts: &RunnerParts,
    book: &Arc<std::sync::Mutex<Book>>,
    id: CampaignId,
    campaign: &DialerCampaign,
) {
    let now = UnixTime::now();
    let (mine, answered) = {
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
        (mine.len() as u32, answered)
    };
    let agents = agents_of(&parts.live, campaign, now);
    // An answered call is either with an agent (a busy agent) or still waiting for one.
    let unconnected = mine - answered.min(agents.busy);
    let want = calls_to_start(campaign.mode, agents, unconnected);
    for _ in 0..want {
        let (store, center) = (parts.store.clone(), parts.center.clone());
        let claimed = match off_runtime(move || {
            Ok(super::claim_next(
                store.as_ref(),
                id,
                UnixTime::now(),
                &center,
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
        if !place(parts, book, id, campaign, claimed).await {
            lock(book)
                .backoff
                .insert(id, tokio::time::Instant::now() + Duration::from_secs(2));
            return;
        }
    }
}

/// The originate request of a claimed contact.
fn request_for(campaign: &DialerCampaign, claimed: &Claimed) -> Option<OriginateRequest> {
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
) -> bool {
    let contact = claimed.contact.id;
    let Some(request) = request_for(campaign, &claimed) else {
        warn!(contact = %contact, "dialer: no valid call for the contact");
        reject_unplaceable(parts, id, claimed).await;
        return true;
    };
    match parts
        .originate
        .start_campaign_job(&actor(), campaign.name.as_str(), request)
        .await
    {
        Ok(job) => {
            lock(book).calls.insert(
                job.clone(),
                Placed {
                    claimed,
                    answered: false,
                },
            );
            let calls = parts.calls.clone();
            let j = job.clone();
            match off_runtime(move || calls.set_job(contact, &j)).await {
                Ok(true) => {}
                other => {
                    warn!(contact = %contact, job = %job, ?other, "dialer: job not kept with its contact")
                }
            }
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
        match resolve(&parts, &job, &placed).await {
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
    job: &OriginateId,
    placed: &Placed,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let status = parts.originate.status(job).await?;
    let callid = job
        .channel_uniqueid(ChannelRole::DirectOriginated)
        .as_str()
        .to_owned();
    let answered = status.answered_at.is_some() || placed.answered;
    let deadline = tokio::time::Instant::now() + EVIDENCE_WAIT;
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
    let (outcome, evidence) = evidence_of(job, status.state, answered, &lines, &campaign.answer);
    let now = UnixTime::now();
    let attempts = placed.claimed.contact.attempts + 1;
    let next = next_after(&campaign, attempts, &outcome, now);
    let attempt = Attempt {
        contact: placed.claimed.contact.id,
        number_of: attempts,
        dialed: placed.claimed.number.clone(),
        claimed_at: placed.claimed.at,
        answered_at: status.answered_at,
        ended_at: now,
        outcome: outcome.clone(),
        connect_latency_ms: evidence
            .connect_latency_ms(campaign.answer.start)
            .and_then(|l| u32::try_from(l).ok()),
    };
    let calls = parts.calls.clone();
    let recorded =
        off_runtime(move || calls.finish_with_evidence(&attempt, next, id, &evidence)).await?;
    info!(
        job = %job,
        contact = %placed.claimed.contact.id,
        outcome = %outcome.as_text(),
        recorded,
        "dialer: attempt"
    );
    Ok(recorded)
}

/// The campaign's abandon rate over its regime's window (`None`: no person answered yet).
pub fn abandon_rate(
    calls: &dyn DialerCallStore,
    id: CampaignId,
    regime: Regime,
    now: UnixTime,
) -> Result<Option<f64>, crate::core::PortError> {
    let c = calls.ledger(id, window_start(regime, now))?;
    Ok((c.live() > 0).then(|| c.abandoned as f64 / c.live() as f64))
}
