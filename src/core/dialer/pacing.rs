//! Pacing: how many calls a campaign starts now. Pure: the runner feeds a [`Pacer`] what each
//! resolved attempt did ([`Pacer::observe`]) and asks it, each tick, how many calls to place
//! given the queue's agents and the calls in flight ([`Pacer::calls_to_place`] over a
//! [`Snapshot`]); every instant is passed in, nothing reads a clock.
//!
//! - **preview**: none (the agent asks for each call).
//! - **progressive**: one call per free agent not covered by a call in flight.
//! - **power**: the campaign's ratio times the free agents, less the calls in flight.
//! - **predictive**: from a model. Its parts: the rate at which people answer (per hour of the
//!   day, [`Pacer::set_hour`], blended with the last attempts), the ring-time and handle-time
//!   distributions (empirical, the last [`SAMPLES`] of each), and each busy agent's elapsed talk
//!   time read as a conditional estimate: P(the agent is free within the horizon | has talked
//!   `t` s already), the horizon being half the mean ring time to an answer plus the abandon
//!   threshold, less the time a free agent takes to be connected (the queue ringing the phone,
//!   the phone answering: the quickest observed connections, [`Pacer::observe_connect_latency`]).
//!   An agent's handle time includes its wrap-up. The agents free within the horizon are a sum
//!   of those chances (Poisson binomial) plus the free ones; the people answering are the waiting calls plus a binomial
//!   of the calls ringing and those to place. The number placed is the largest that keeps the
//!   expected overflow (people with no agent) per person answering at or under the budget:
//!   the abandon target, less the AMD false positives it must carry, scaled by a controller on
//!   the rolling observed abandon rate ([`Pacer::gain`]). The dial level (lines per ready
//!   agent) may go below 1 when busy agents are not expected to free in time.
//!
//! Predictive paces as progressive during a cold start (fewer than [`COLD_START_ATTEMPTS`]
//! attempts, [`COLD_START_CONNECTED`] handle times or [`COLD_START_ANSWERS`] answers seen),
//! with fewer ready agents than [`PacingConfig::min_agents`] (default [`DEFAULT_MIN_AGENTS`]),
//! and while the regime's window is over its target ([`Pacer::set_window`]). It never
//! places fewer calls than progressive would: progressive's calls each have a free agent.
//!
//! **The budget cap.** Whatever the model says, predictive never has more calls in flight
//! beyond the free agents than the abandoned calls the regime's window can still take
//! ([`Pacer::set_window`]'s headroom, kept up to date with every observation since): even if
//! every call in flight were answered at once and no busy agent freed, the window would stay
//! within its target. A model misled by a sudden change of the answer rate (a base sorted by
//! kind of number, a list of dead numbers followed by good ones) cannot overspend the budget.

use std::collections::VecDeque;

use super::abandon::FalsePositiveShare;
use super::campaign::{AbandonTarget, DialMode, DialerCampaign};
use crate::core::journal::UnixTime;

/// Below this many ready agents predictive paces as progressive (the default of
/// [`PacingConfig::min_agents`]): with few agents one long call moves the odds too much.
pub const DEFAULT_MIN_AGENTS: u32 = 4;

/// Attempts seen before predictive uses its model.
pub const COLD_START_ATTEMPTS: u64 = 30;

/// Handle times seen before predictive uses its model.
pub const COLD_START_CONNECTED: usize = 10;

/// People answering seen before predictive uses its model.
pub const COLD_START_ANSWERS: u64 = 5;

/// How many of the latest ring and handle times the model keeps.
pub const SAMPLES: usize = 512;

/// How many of the latest attempts the answer rate is read from (with the hour's rate as
/// prior).
const RECENT: usize = 60;

/// Weight, in attempts, of the hour's rate in the answer-rate estimate.
const HOUR_PRIOR: f64 = 20.0;

/// The controller's rolling window of live calls, seconds.
pub const ABANDON_WINDOW_S: i64 = 1800;

/// At most this many live calls are kept in the rolling window.
const WINDOW_CAP: usize = 4096;

/// The controller acts at most this often, seconds.
const CONTROL_EVERY_S: i64 = 5;

/// Live calls in the window before the controller acts.
const CONTROL_MIN_LIVE: f64 = 10.0;

/// The controller's gain bounds and start.
const GAIN_MIN: f64 = 0.05;
const GAIN_MAX: f64 = 1.25;
const GAIN_START: f64 = 0.8;

/// The share of the mean ring time counted in the horizon busy agents are expected to free
/// within (plus the threshold): people answer all along the ringing, earlier than the mean for
/// many, and an agent freeing after someone's threshold is of no use to them.
const HORIZON_RING_SHARE: f64 = 0.5;

/// The most calls one decision places.
const MAX_PER_TICK: u32 = 1000;

/// What pacing reads of a campaign.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PacingConfig {
    /// The dial mode (and power's ratio).
    pub mode: DialMode,
    /// The abandon-rate target.
    pub target: AbandonTarget,
    /// Seconds a call rings before it counts as not answered.
    pub ring_timeout_s: u32,
    /// Seconds a person may wait for an agent.
    pub threshold_s: u8,
    /// Below this many ready agents predictive paces as progressive (default
    /// [`DEFAULT_MIN_AGENTS`]).
    pub min_agents: u32,
    /// The campaign runs AMD: its machine verdicts carry an estimate of people hung up on.
    pub amd: bool,
    /// The share of machine verdicts estimated to be people (the campaign's; default 10 %).
    pub false_positives: FalsePositiveShare,
}

impl PacingConfig {
    /// The pacing of `campaign` (its AMD false-positive share), with the default minimum of
    /// agents.
    pub fn of(campaign: &DialerCampaign) -> Self {
        Self {
            mode: campaign.mode,
            target: campaign.abandon_target,
            ring_timeout_s: campaign.ring_timeout_s,
            threshold_s: campaign.answer.threshold_s,
            min_agents: DEFAULT_MIN_AGENTS,
            amd: campaign.answer.amd,
            false_positives: campaign.answer.amd_false_positives,
        }
    }

    fn target_fraction(&self) -> f64 {
        f64::from(self.target.per_mille()) / 1000.0
    }
}

/// The campaign's agents and calls at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Ready agents free now (idle, past their wrap-up).
    pub free: u32,
    /// Each busy agent's elapsed talk time on its current call, seconds.
    pub busy_talk_s: Vec<u32>,
    /// The campaign's calls placed and not answered yet.
    pub ringing: u32,
    /// The campaign's calls a person answered that wait for an agent.
    pub waiting: u32,
    /// The instant.
    pub now: UnixTime,
}

impl Snapshot {
    /// Free and busy agents.
    pub fn ready(&self) -> u32 {
        self.free + self.busy_talk_s.len() as u32
    }

    /// Calls in flight: ringing and waiting.
    pub fn in_flight(&self) -> u32 {
        self.ringing + self.waiting
    }
}

/// What one attempt did, as the runner saw it. An attempt ends in one of `NotAnswered`,
/// `Machine` or `Answered`; an `Answered` one is followed by `Connected` or `Abandoned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// Busy, no answer or congestion after `ring_s` seconds.
    NotAnswered {
        /// Seconds from the call's start to its end.
        ring_s: u32,
    },
    /// AMD said machine (hung up) after `ring_s` seconds of ringing.
    Machine {
        /// Seconds from the call's start to the answer.
        ring_s: u32,
    },
    /// A person answered after `ring_s` seconds.
    Answered {
        /// Seconds from the call's start to the answer.
        ring_s: u32,
    },
    /// The person reached an agent within the threshold; the agent was busy `handle_s`.
    Connected {
        /// Seconds the agent spent on the call (talk, and wrap-up if the agent's busy time
        /// includes it).
        handle_s: u32,
    },
    /// The person reached no agent within the threshold (the safe-harbor message, or an agent
    /// later: then the agent's time on it).
    Abandoned {
        /// The agent's time on a call connected late.
        handle_s: Option<u32>,
    },
}

/// Why the last decision placed the calls it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Preview: none.
    Preview,
    /// Progressive mode.
    Progressive,
    /// Power mode.
    Power,
    /// Predictive, from the model.
    Predictive,
    /// Predictive paced as progressive: not enough observations yet.
    ColdStart,
    /// Predictive paced as progressive: fewer ready agents than the minimum.
    FewAgents,
    /// Predictive paced as progressive: the regime's window is over target, or the AMD
    /// estimate alone uses the budget.
    OverBudget,
    /// Predictive, held under the model by the abandoned calls the window can still take.
    BudgetCap,
}

impl Basis {
    /// The text form (for APIs).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preview => "preview",
            Self::Progressive => "progressive",
            Self::Power => "power",
            Self::Predictive => "predictive",
            Self::ColdStart => "cold_start",
            Self::FewAgents => "few_agents",
            Self::OverBudget => "over_budget",
            Self::BudgetCap => "budget_cap",
        }
    }
}

/// The pacer's figures, for the APIs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// Lines in flight per ready agent at the last decision.
    pub dial_level: f64,
    /// People answering per attempt (the hour's rate blended with the latest attempts).
    pub answer_rate: f64,
    /// Machines per attempt.
    pub machine_rate: f64,
    /// Mean seconds from the call's start to an answer.
    pub mean_ring_s: f64,
    /// Mean handle time, seconds.
    pub mean_handle_s: f64,
    /// The rolling observed abandon rate, AMD false positives estimated in (`None`: nobody
    /// answered in the window).
    pub abandon_rate: Option<f64>,
    /// The controller's gain on the abandon budget.
    pub gain: f64,
    /// Why the last decision placed what it did.
    pub basis: Basis,
    /// The campaign runs AMD (its machine verdicts carry the false-positive estimate).
    pub amd: bool,
    /// The share of machine verdicts estimated to be people that `abandon_rate` and the
    /// budget counted (the campaign's).
    pub false_positives: FalsePositiveShare,
}

/// A bounded ring of the latest samples.
#[derive(Clone, Debug)]
struct Samples {
    buf: Vec<u32>,
    next: usize,
}

impl Samples {
    fn new() -> Self {
        Self {
            buf: Vec::with_capacity(SAMPLES),
            next: 0,
        }
    }

    fn push(&mut self, v: u32) {
        if self.buf.len() < SAMPLES {
            self.buf.push(v);
        } else {
            self.buf[self.next] = v;
            self.next = (self.next + 1) % SAMPLES;
        }
    }

    fn len(&self) -> usize {
        self.buf.len()
    }

    fn mean(&self) -> Option<f64> {
        (!self.buf.is_empty())
            .then(|| self.buf.iter().map(|&v| f64::from(v)).sum::<f64>() / self.buf.len() as f64)
    }
}

/// P(done within `h` more seconds | lasted `t` already) from sorted samples; memoryless with
/// the mean when fewer than 8 samples lasted longer than `t`.
fn conditional_within(sorted: &[u32], mean: f64, t: u32, h: f64) -> f64 {
    let gt = sorted.len() - sorted.partition_point(|&v| v <= t);
    if gt >= 8 {
        let limit = f64::from(t) + h;
        let upto = sorted.partition_point(|&v| f64::from(v) <= limit);
        let within = upto.saturating_sub(sorted.len() - gt);
        within as f64 / gt as f64
    } else {
        1.0 - (-h / mean.max(1.0)).exp()
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Rate {
    attempts: f64,
    answers: f64,
}

impl Rate {
    fn add(&mut self, answered: bool) {
        self.attempts += 1.0;
        self.answers += f64::from(u8::from(answered));
        if self.attempts > 2000.0 {
            self.attempts /= 2.0;
            self.answers /= 2.0;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Person,
    Machine,
    Nobody,
}

/// The pacing of one campaign: its model and controller.
#[derive(Clone, Debug)]
pub struct Pacer {
    cfg: PacingConfig,
    hour: usize,
    hours: [Rate; 24],
    recent: VecDeque<Kind>,
    ring: Samples,
    handle: Samples,
    /// Milliseconds from the abandon clock's start to the agent's connection, of calls
    /// connected in time.
    connect: Samples,
    attempts: u64,
    answers: u64,
    /// (instant, live weight, abandoned weight) of the window's live calls.
    window: VecDeque<(i64, f64, f64)>,
    window_live: f64,
    window_abandoned: f64,
    gain: f64,
    last_control: Option<i64>,
    over_budget: bool,
    /// Abandoned calls the regime's window can still take (the last ledger read's headroom,
    /// plus what was observed since).
    headroom: f64,
    dial_level: f64,
    basis: Basis,
}

impl Pacer {
    /// A pacer with no observations (predictive starts cold).
    pub fn new(cfg: PacingConfig) -> Self {
        Self {
            cfg,
            hour: 0,
            hours: [Rate::default(); 24],
            recent: VecDeque::with_capacity(RECENT),
            ring: Samples::new(),
            handle: Samples::new(),
            connect: Samples::new(),
            attempts: 0,
            answers: 0,
            window: VecDeque::new(),
            window_live: 0.0,
            window_abandoned: 0.0,
            gain: GAIN_START,
            last_control: None,
            over_budget: false,
            headroom: 0.0,
            dial_level: 0.0,
            basis: Basis::ColdStart,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PacingConfig {
        &self.cfg
    }

    /// Replaces the configuration (a campaign edited), keeping what was learnt (the rolling
    /// window's machine verdicts keep the false-positive share they were counted with until
    /// they leave it).
    pub fn set_config(&mut self, cfg: PacingConfig) {
        self.cfg = cfg;
    }

    /// The hour of the day (0-23, the call center's) the next observations and decisions
    /// belong to.
    pub fn set_hour(&mut self, hour: u8) {
        self.hour = usize::from(hour % 24);
    }

    /// The regime's whole window from the ledger: its abandon rate
    /// ([`super::abandon::AbandonRule::rate`]; above the target, predictive paces as
    /// progressive until it is back under) and how many more abandoned calls it can take
    /// ([`super::abandon::AbandonRule::headroom`]; the budget cap). Until the first read the
    /// headroom is what this pacer observed (from 0).
    pub fn set_window(&mut self, rate: Option<f64>, headroom: f64) {
        self.over_budget = rate.is_some_and(|r| r > self.cfg.target_fraction());
        self.headroom = headroom;
    }

    /// Abandoned calls the window can still take (see [`Self::set_window`]).
    pub fn headroom(&self) -> f64 {
        self.headroom
    }

    /// The controller's gain on the abandon budget (1: the model's estimate trusted as is).
    pub fn gain(&self) -> f64 {
        self.gain
    }

    /// Lines in flight per ready agent at the last decision.
    pub fn dial_level(&self) -> f64 {
        self.dial_level
    }

    fn attempt(&mut self, kind: Kind) {
        self.attempts += 1;
        self.hours[self.hour].add(kind == Kind::Person);
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(kind);
    }

    fn live(&mut self, now: UnixTime, live: f64, abandoned: f64) {
        if self.window.len() == WINDOW_CAP {
            if let Some((_, l, a)) = self.window.pop_front() {
                self.window_live -= l;
                self.window_abandoned -= a;
            }
        }
        self.window.push_back((now.seconds(), live, abandoned));
        self.window_live += live;
        self.window_abandoned += abandoned;
    }

    fn expire(&mut self, now: UnixTime) {
        while let Some(&(t, l, a)) = self.window.front() {
            if t > now.seconds() - ABANDON_WINDOW_S {
                break;
            }
            self.window.pop_front();
            self.window_live -= l;
            self.window_abandoned -= a;
        }
        if self.window.is_empty() {
            self.window_live = 0.0;
            self.window_abandoned = 0.0;
        }
    }

    /// Learns from what an attempt did at `now`.
    pub fn observe(&mut self, obs: Observation, now: UnixTime) {
        match obs {
            Observation::NotAnswered { .. } => self.attempt(Kind::Nobody),
            Observation::Machine { ring_s } => {
                self.attempt(Kind::Machine);
                self.ring.push(ring_s);
                if self.cfg.amd {
                    let fp = self.cfg.false_positives.fraction();
                    self.live(now, fp, fp);
                    self.headroom += fp * (self.cfg.target_fraction() - 1.0);
                }
            }
            Observation::Answered { ring_s } => {
                self.attempt(Kind::Person);
                self.answers += 1;
                self.ring.push(ring_s);
            }
            Observation::Connected { handle_s } => {
                self.handle.push(handle_s);
                self.live(now, 1.0, 0.0);
                self.headroom += self.cfg.target_fraction();
            }
            Observation::Abandoned { handle_s } => {
                if let Some(h) = handle_s {
                    self.handle.push(h);
                }
                self.live(now, 1.0, 1.0);
                self.headroom += self.cfg.target_fraction() - 1.0;
            }
        }
        self.expire(now);
    }

    /// Learns how long a person waited for an agent who was free for them: milliseconds from
    /// the abandon clock's start (the answer or the greeting's end) to the connection, of a call
    /// connected in time. The quickest of these (the queue ringing a free agent's phone and the
    /// phone answering) is time an agent freeing within the horizon does not have.
    pub fn observe_connect_latency(&mut self, ms: u32) {
        self.connect.push(ms);
    }

    /// The time it takes to connect a person to a free agent, seconds: the fifth of the
    /// observed connect latencies (0 before any).
    fn connect_time(&self) -> f64 {
        if self.connect.buf.is_empty() {
            return 0.0;
        }
        let mut sorted = self.connect.buf.clone();
        sorted.sort_unstable();
        f64::from(sorted[sorted.len() / 5]) / 1000.0
    }

    /// The rolling observed abandon rate (AMD false positives estimated in).
    pub fn observed_abandon_rate(&self) -> Option<f64> {
        (self.window_live > 1e-9).then(|| (self.window_abandoned / self.window_live).min(1.0))
    }

    fn shares(&self) -> (f64, f64) {
        let (mut people, mut machines) = (0.0, 0.0);
        for k in &self.recent {
            match k {
                Kind::Person => people += 1.0,
                Kind::Machine => machines += 1.0,
                Kind::Nobody => {}
            }
        }
        let n = self.recent.len() as f64;
        let all = self.hours.iter().fold(Rate::default(), |mut a, r| {
            a.attempts += r.attempts;
            a.answers += r.answers;
            a
        });
        let hour = self.hours[self.hour];
        let prior = if hour.attempts >= HOUR_PRIOR {
            hour.answers / hour.attempts
        } else if all.attempts > 0.0 {
            all.answers / all.attempts
        } else {
            0.3
        };
        let answer = (people + HOUR_PRIOR * prior) / (n + HOUR_PRIOR);
        let machine = if n > 0.0 { machines / n } else { 0.0 };
        (answer.clamp(0.01, 1.0), machine)
    }

    /// The model's figures now.
    pub fn figures(&self) -> Figures {
        let (answer_rate, machine_rate) = self.shares();
        Figures {
            dial_level: self.dial_level,
            answer_rate,
            machine_rate,
            mean_ring_s: self.mean_ring(),
            mean_handle_s: self.handle.mean().unwrap_or(0.0),
            abandon_rate: self.observed_abandon_rate(),
            gain: self.gain,
            basis: self.basis,
            amd: self.cfg.amd,
            false_positives: self.cfg.false_positives,
        }
    }

    fn mean_ring(&self) -> f64 {
        self.ring
            .mean()
            .unwrap_or(f64::from(self.cfg.ring_timeout_s) / 3.0)
    }

    /// The controller: the rolling rate against the target scales the gain, at most every
    /// few seconds.
    fn control(&mut self, now: UnixTime) {
        self.expire(now);
        if self
            .last_control
            .is_some_and(|t| now.seconds() - t < CONTROL_EVERY_S)
        {
            return;
        }
        self.last_control = Some(now.seconds());
        if self.window_live < CONTROL_MIN_LIVE {
            return;
        }
        let target = self.cfg.target_fraction();
        let rate = self.window_abandoned / self.window_live;
        let factor = if rate > target {
            0.8
        } else if rate > 0.8 * target {
            0.97
        } else if rate < 0.4 * target {
            1.04
        } else {
            1.01
        };
        self.gain = (self.gain * factor).clamp(GAIN_MIN, GAIN_MAX);
    }

    /// How many calls to place now.
    pub fn calls_to_place(&mut self, s: &Snapshot) -> u32 {
        self.control(s.now);
        let in_flight = s.in_flight();
        let progressive = s.free.saturating_sub(in_flight);
        let (n, basis) = match self.cfg.mode {
            DialMode::Preview => (0, Basis::Preview),
            DialMode::Progressive => (progressive, Basis::Progressive),
            DialMode::Power { ratio } => (
                (u32::from(ratio.hundredths()) * s.free / 100).saturating_sub(in_flight),
                Basis::Power,
            ),
            DialMode::Predictive => {
                if s.ready() < self.cfg.min_agents {
                    (progressive, Basis::FewAgents)
                } else if self.attempts < COLD_START_ATTEMPTS
                    || self.handle.len() < COLD_START_CONNECTED
                    || self.answers < COLD_START_ANSWERS
                {
                    (progressive, Basis::ColdStart)
                } else if self.over_budget {
                    (progressive, Basis::OverBudget)
                } else {
                    match self.predictive(s) {
                        Some(n) => {
                            // The budget cap: calls in flight beyond the free agents at most
                            // the abandoned calls the window can still take.
                            let room = self.headroom.max(0.0).floor().min(f64::from(MAX_PER_TICK));
                            let cap =
                                (f64::from(s.free) + room - f64::from(in_flight)).max(0.0) as u32;
                            let n = n.max(progressive);
                            if n > cap.max(progressive) {
                                (cap.max(progressive), Basis::BudgetCap)
                            } else {
                                (n, Basis::Predictive)
                            }
                        }
                        None => (progressive, Basis::OverBudget),
                    }
                }
            }
        };
        let n = n.min(MAX_PER_TICK);
        self.basis = basis;
        self.dial_level = f64::from(in_flight + n) / f64::from(s.ready().max(1));
        n
    }

    /// The model's count (`None`: no budget left once AMD's false positives are counted).
    fn predictive(&self, s: &Snapshot) -> Option<u32> {
        let (p, m) = self.shares();
        let e = if self.cfg.amd {
            self.cfg.false_positives.fraction()
        } else {
            0.0
        };
        let t = self.cfg.target_fraction();
        // Overflow allowed per person answering, once the estimated false positives are paid.
        let budget = (t * (p + e * m) - e * m) / p;
        if budget <= 0.0 {
            return None;
        }
        let tau = self.gain * budget;
        let horizon = (HORIZON_RING_SHARE * self.mean_ring() + f64::from(self.cfg.threshold_s)
            - self.connect_time())
        .max(0.0);
        let mut sorted = self.handle.buf.clone();
        sorted.sort_unstable();
        let mean_handle = self.handle.mean().unwrap_or(120.0);
        // Agents free within the horizon: the free ones plus a Poisson binomial of the busy.
        let mut agents = vec![1.0f64];
        for &talk in &s.busy_talk_s {
            let q = conditional_within(&sorted, mean_handle, talk, horizon).clamp(0.0, 1.0);
            let mut next = vec![0.0; agents.len() + 1];
            for (k, &pk) in agents.iter().enumerate() {
                next[k] += pk * (1.0 - q);
                next[k + 1] += pk * q;
            }
            agents = next;
        }
        let ready = f64::from(s.ready());
        let n_max = ((ready / p).ceil() * 2.0 + 10.0).min(f64::from(MAX_PER_TICK)) as u32;
        let size = (s.waiting + s.ringing + n_max) as usize + 1;
        // g[x] = E[max(0, x - Y)] for Y = free + busy agents freeing.
        let mut g = vec![0.0f64; size + 1];
        let mut cdf = 0.0;
        for x in 0..size {
            let y = x as i64 - i64::from(s.free);
            if y >= 0 {
                cdf += agents.get(y as usize).copied().unwrap_or(0.0);
            }
            g[x + 1] = g[x] + cdf.min(1.0);
        }
        let overflow = |n: u32| -> f64 {
            let lines = s.ringing + n;
            let answers = f64::from(s.waiting) + f64::from(lines) * p;
            if answers <= 0.0 {
                return 0.0;
            }
            let expected: f64 = binomial(lines, p)
                .iter()
                .enumerate()
                .map(|(x, &px)| px * g[s.waiting as usize + x])
                .sum();
            expected / answers
        };
        let (mut lo, mut hi) = (0u32, n_max);
        if overflow(0) > tau {
            return Some(0);
        }
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if overflow(mid) <= tau {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo)
    }
}

/// The binomial distribution of `n` trials of chance `p` (computed from its mode outwards,
/// so large `n` does not underflow).
fn binomial(n: u32, p: f64) -> Vec<f64> {
    let n_us = n as usize;
    let mut out = vec![0.0; n_us + 1];
    if p >= 1.0 {
        out[n_us] = 1.0;
        return out;
    }
    if p <= 0.0 {
        out[0] = 1.0;
        return out;
    }
    let mode = ((f64::from(n) + 1.0) * p).floor().min(f64::from(n)) as usize;
    out[mode] = 1.0;
    let odds = p / (1.0 - p);
    for k in mode..n_us {
        out[k + 1] = out[k] * (n_us - k) as f64 / (k + 1) as f64 * odds;
        if out[k + 1] < 1e-300 {
            break;
        }
    }
    for k in (1..=mode).rev() {
        out[k - 1] = out[k] * k as f64 / (n_us - k + 1) as f64 / odds;
        if out[k - 1] < 1e-300 {
            break;
        }
    }
    let total: f64 = out.iter().sum();
    out.iter_mut().for_each(|v| *v /= total);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dialer::campaign::DialRatio;

    fn cfg(mode: DialMode) -> PacingConfig {
        PacingConfig {
            mode,
            target: AbandonTarget::default(),
            ring_timeout_s: 25,
            threshold_s: 2,
            min_agents: DEFAULT_MIN_AGENTS,
            amd: false,
            false_positives: FalsePositiveShare::DEFAULT,
        }
    }

    fn snap(free: u32, busy: &[u32], ringing: u32) -> Snapshot {
        Snapshot {
            free,
            busy_talk_s: busy.to_vec(),
            ringing,
            waiting: 0,
            now: UnixTime(1000),
        }
    }

    /// A pacer that has seen `n` attempts with answer share `p`, ring 10 s, handle 120 s.
    fn warmed(mode: DialMode, p: f64, n: u32) -> Pacer {
        let mut pacer = Pacer::new(cfg(mode));
        let mut acc = 0.0;
        for i in 0..n {
            let now = UnixTime(i64::from(i));
            acc += p;
            if acc >= 1.0 {
                acc -= 1.0;
                pacer.observe(Observation::Answered { ring_s: 10 }, now);
                pacer.observe(
                    Observation::Connected {
                        handle_s: 60 + (i % 120),
                    },
                    now,
                );
            } else {
                pacer.observe(Observation::NotAnswered { ring_s: 25 }, now);
            }
        }
        pacer
    }

    #[test]
    fn binomial_sums_to_one_and_has_its_mean() {
        for (n, p) in [(0, 0.3), (1, 0.5), (40, 0.2), (1000, 0.5), (900, 0.05)] {
            let b = binomial(n, p);
            let total: f64 = b.iter().sum();
            let mean: f64 = b.iter().enumerate().map(|(k, v)| k as f64 * v).sum();
            assert!((total - 1.0).abs() < 1e-9);
            assert!((mean - f64::from(n) * p).abs() < 1e-6, "{n} {p} {mean}");
        }
    }

    #[test]
    fn conditional_estimate_reads_elapsed_talk_time() {
        let sorted: Vec<u32> = (1..=100).map(|v| v * 3).collect(); // 3..300 s
                                                                   // Talked 0 s: 10 of 100 calls end within 30 s.
        assert!((conditional_within(&sorted, 150.0, 0, 30.0) - 0.1).abs() < 1e-9);
        // Talked 270 s: of the 10 longer calls, all end within 30 s more.
        assert!((conditional_within(&sorted, 150.0, 270, 30.0) - 1.0).abs() < 1e-9);
        // Longer than almost every sample: memoryless from the mean.
        let q = conditional_within(&sorted, 150.0, 299, 30.0);
        assert!((q - (1.0 - (-30.0f64 / 150.0).exp())).abs() < 1e-9);
    }

    #[test]
    fn fixed_modes() {
        let mut p = Pacer::new(cfg(DialMode::Preview));
        assert_eq!(p.calls_to_place(&snap(5, &[], 0)), 0);
        let mut p = Pacer::new(cfg(DialMode::Progressive));
        assert_eq!(p.calls_to_place(&snap(5, &[10], 2)), 3);
        assert_eq!(p.calls_to_place(&snap(1, &[10], 2)), 0);
        let ratio = DialRatio::parse("2.5").unwrap();
        let mut p = Pacer::new(cfg(DialMode::Power { ratio }));
        assert_eq!(p.calls_to_place(&snap(4, &[10], 3)), 7);
        assert_eq!(p.figures().basis, Basis::Power);
    }

    #[test]
    fn predictive_starts_cold_and_falls_back_below_the_minimum() {
        let mut p = Pacer::new(cfg(DialMode::Predictive));
        assert_eq!(p.calls_to_place(&snap(5, &[30; 5], 0)), 5);
        assert_eq!(p.figures().basis, Basis::ColdStart);
        let mut p = warmed(DialMode::Predictive, 0.3, 300);
        // A window with room for the model (the budget cap is below).
        p.set_window(None, 100.0);
        assert_eq!(p.calls_to_place(&snap(2, &[30], 0)), 2);
        assert_eq!(p.figures().basis, Basis::FewAgents);
        let n = p.calls_to_place(&snap(5, &[30; 5], 0));
        assert_eq!(p.figures().basis, Basis::Predictive);
        assert!(n > 5, "{n}");
        p.set_window(Some(0.031), 100.0);
        assert_eq!(p.calls_to_place(&snap(5, &[30; 5], 0)), 5);
        assert_eq!(p.figures().basis, Basis::OverBudget);
        p.set_window(Some(0.02), 100.0);
        assert!(p.calls_to_place(&snap(5, &[30; 5], 0)) > 5);
    }

    #[test]
    fn predictive_never_has_more_calls_beyond_the_free_agents_than_the_window_can_abandon() {
        // A low answer rate: the model would dial many lines for 5 free agents.
        let mut p = warmed(DialMode::Predictive, 0.1, 300);
        p.set_window(Some(0.0), 100.0);
        let unbounded = p.calls_to_place(&snap(5, &[30; 5], 0));
        assert!(unbounded > 12, "{unbounded}");
        assert_eq!(p.figures().basis, Basis::Predictive);
        // Room for 3.4 abandoned calls: 5 free + 3 in flight at most, 2 of them ringing.
        p.set_window(Some(0.0), 3.4);
        assert_eq!(p.calls_to_place(&snap(5, &[30; 5], 2)), 6);
        assert_eq!(p.figures().basis, Basis::BudgetCap);
        // Each abandoned call spends one (less the target it earns), each connected one earns
        // the target: 3.4 - 0.97 = 2.43, then + 0.03 × 20 = 3.03.
        p.observe(Observation::Abandoned { handle_s: None }, UnixTime(10_000));
        assert!((p.headroom() - 2.43).abs() < 1e-9, "{}", p.headroom());
        assert_eq!(p.calls_to_place(&snap(5, &[30; 5], 0)), 7);
        for _ in 0..20 {
            p.observe(Observation::Connected { handle_s: 60 }, UnixTime(10_001));
        }
        assert_eq!(p.calls_to_place(&snap(5, &[30; 5], 0)), 8);
        // No room: never fewer than progressive, never more.
        p.set_window(Some(0.0), 0.5);
        assert_eq!(p.calls_to_place(&snap(5, &[30; 5], 1)), 4);
        assert_eq!(p.figures().basis, Basis::BudgetCap);
    }

    #[test]
    fn predictive_dials_more_at_low_answer_rates_and_below_one_line_per_agent_at_high() {
        let mut low = warmed(DialMode::Predictive, 0.15, 400);
        let mut high = warmed(DialMode::Predictive, 0.9, 400);
        let s = snap(4, &[5; 16], 0);
        let n_low = low.calls_to_place(&s);
        let n_high = high.calls_to_place(&s);
        assert!(n_low > n_high, "{n_low} {n_high}");
        assert!(high.dial_level() < 1.0, "{}", high.dial_level());
        assert!(low.figures().answer_rate < 0.3);
        assert!(high.figures().answer_rate > 0.7);
        // Agents near the end of their calls (long talk) free sooner than fresh ones.
        let fresh = high.calls_to_place(&snap(0, &[1; 20], 0));
        let ending = high.calls_to_place(&snap(0, &[170; 20], 0));
        assert!(ending > fresh, "{fresh} {ending}");
    }

    #[test]
    fn slow_connections_leave_busy_agents_less_time_to_free() {
        // Agents near the end of their calls: some free within the horizon.
        let s = snap(0, &[170; 20], 0);
        let mut quick = warmed(DialMode::Predictive, 0.9, 400);
        let mut slow = quick.clone();
        for _ in 0..50 {
            quick.observe_connect_latency(100);
            slow.observe_connect_latency(6000);
        }
        let (n_quick, n_slow) = (quick.calls_to_place(&s), slow.calls_to_place(&s));
        assert!(n_slow < n_quick, "{n_slow} {n_quick}");
    }

    #[test]
    fn the_controller_lowers_the_gain_when_abandons_exceed_the_target() {
        let mut p = warmed(DialMode::Predictive, 0.3, 300);
        let g0 = p.gain();
        for i in 0..40 {
            let now = UnixTime(1000 + i * 6);
            p.observe(Observation::Abandoned { handle_s: None }, now);
            p.calls_to_place(&Snapshot {
                now,
                ..snap(5, &[30; 5], 0)
            });
        }
        assert!(p.gain() < g0 * 0.5, "{} {}", p.gain(), g0);
        assert!(p.figures().abandon_rate.unwrap() > 0.03);
    }

    /// 300 seconds of one person (connected 90 s), one machine and one no-answer in turn.
    fn as_many_machines_as_people(p: &mut Pacer) {
        for i in 0..300 {
            let now = UnixTime(i);
            match i % 3 {
                0 => {
                    p.observe(Observation::Answered { ring_s: 8 }, now);
                    p.observe(Observation::Connected { handle_s: 90 }, now);
                }
                1 => p.observe(Observation::Machine { ring_s: 8 }, now),
                _ => p.observe(Observation::NotAnswered { ring_s: 25 }, now),
            }
        }
    }

    #[test]
    fn amd_false_positives_use_the_budget() {
        let mut c = cfg(DialMode::Predictive);
        c.amd = true;
        let mut p = Pacer::new(c);
        // As many machines as people: 10 % of them alone is 9 % abandoned.
        as_many_machines_as_people(&mut p);
        assert_eq!(p.calls_to_place(&snap(5, &[30; 5], 0)), 5);
        assert_eq!(p.figures().basis, Basis::OverBudget);
        assert!(p.figures().abandon_rate.unwrap() > 0.05);
        assert!(p.figures().amd);
        assert_eq!(p.figures().false_positives, FalsePositiveShare::DEFAULT);
    }

    #[test]
    fn the_campaign_s_false_positive_share_is_the_one_counted_and_shown() {
        use crate::core::campaigns::CampaignName;
        use crate::core::dialer::campaign::ZoneName;
        use crate::core::directory::QueueName;
        let mut campaign = DialerCampaign::new(
            CampaignName::parse("Ventas->").unwrap(),
            QueueName::new("q_ventas").unwrap(),
            ZoneName::parse("UTC").unwrap(),
        );
        campaign.mode = DialMode::Predictive;
        campaign.answer.amd = true;
        campaign.answer.amd_false_positives = FalsePositiveShare::parse("2%").unwrap();
        let c = PacingConfig::of(&campaign);
        assert_eq!(c.false_positives.per_mille(), 20);
        let mut p = Pacer::new(c);
        // As many machines as people: 2 % of them is 1.96 % abandoned, under 3 %.
        as_many_machines_as_people(&mut p);
        let rate = p.figures().abandon_rate.unwrap();
        assert!((rate - 2.0 / 102.0).abs() < 1e-9, "{rate}");
        p.calls_to_place(&snap(5, &[30; 5], 0));
        assert_ne!(p.figures().basis, Basis::OverBudget);
        assert_eq!(p.figures().false_positives.per_mille(), 20);
    }
}
