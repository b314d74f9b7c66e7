//! The pacing simulator: the real [`Pacer`] driven over simulated time (1 s steps) by synthetic
//! traffic: who answers (people, machines, nobody; the rate may jump mid-run), ring times,
//! handle times and a number of agents. Pure and deterministic: its own small PRNG
//! ([`SplitMix64`]) from the scenario's seed, no clock, so one seed gives one [`SimReport`].
//!
//! Each second, in this order: calls whose ringing ends resolve (a person waits for an agent
//! from then on, `threshold_s` at most), agents whose call ends go into their wrap-up
//! (`wrapup_s`) and then free up, waiting people are given to free agents (oldest first) whose
//! phone rings `connect_s` before the connection (a connection later than the threshold is
//! abandoned, as the runner counts it), people who waited the threshold with no agent are
//! abandoned (the safe-harbor message), then the pacer is asked how many calls to place from a
//! [`Snapshot`] of the agents and calls, as the runner sees them (an agent in wrap-up is neither
//! free nor busy; one whose phone rings is busy for 0 s). The pacer is told every outcome as the
//! runner would tell it ([`Observation`], handle times with the wrap-up, connect latencies).

use std::collections::VecDeque;

use super::abandon::FalsePositiveShare;
use super::campaign::{AbandonTarget, DialMode};
use super::pacing::{
    Basis, Figures, Observation, Pacer, PacingConfig, Snapshot, DEFAULT_MIN_AGENTS,
};
use crate::core::journal::UnixTime;

/// A small seeded PRNG (splitmix64): the simulator's only source of chance.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `(0, 1)`.
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Exponential of mean `mean`.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.unit().ln()
    }
}

/// The traffic and agents of one simulated run.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The PRNG's seed.
    pub seed: u64,
    /// The dial mode under test.
    pub mode: DialMode,
    /// Ready agents.
    pub agents: u32,
    /// People answering per attempt.
    pub answer_rate: f64,
    /// Machines answering per attempt (AMD hangs up on them).
    pub machine_rate: f64,
    /// Of the unanswered attempts, those that fail fast (busy, congestion: 2-5 s).
    pub fast_fail_share: f64,
    /// Mean seconds from the call's start to an answer (at least 2 s).
    pub mean_ring_s: f64,
    /// Mean handle time (gamma of shape 2, at least 5 s).
    pub mean_handle_s: f64,
    /// Seconds an unanswered call rings.
    pub ring_timeout_s: u32,
    /// Seconds a person waits for an agent before the safe-harbor message.
    pub threshold_s: u8,
    /// The abandon target.
    pub target: AbandonTarget,
    /// Predictive's minimum of agents.
    pub min_agents: u32,
    /// The campaign runs AMD (machine verdicts carry the false-positive estimate).
    pub amd: bool,
    /// Simulated seconds.
    pub duration_s: u32,
    /// At this second the answer rate becomes this.
    pub jump: Option<(u32, f64)>,
    /// The hour of the day at the start (the pacer's hour of the answer rate).
    pub start_hour: u8,
    /// Seconds an agent's phone rings before a person given to it is connected.
    pub connect_s: u32,
    /// Seconds an agent stays unavailable after a call (the queue's wrap-up).
    pub wrapup_s: u32,
}

impl Scenario {
    /// A scenario with the defaults: no machines, 30 % of unanswered calls failing fast, ring
    /// 8 s to an answer, timeout 25 s, threshold 2 s, 3 % target, no AMD, two hours from 09:00,
    /// no jump, agents connected at once and without wrap-up.
    pub fn new(seed: u64, mode: DialMode, agents: u32, answer_rate: f64, handle_s: f64) -> Self {
        Self {
            seed,
            mode,
            agents,
            answer_rate,
            machine_rate: 0.0,
            fast_fail_share: 0.3,
            mean_ring_s: 8.0,
            mean_handle_s: handle_s,
            ring_timeout_s: 25,
            threshold_s: 2,
            target: AbandonTarget::default(),
            min_agents: DEFAULT_MIN_AGENTS,
            amd: false,
            duration_s: 7200,
            jump: None,
            start_hour: 9,
            connect_s: 0,
            wrapup_s: 0,
        }
    }

    /// The same scenario in another mode.
    pub fn with_mode(&self, mode: DialMode) -> Self {
        Self {
            mode,
            ..self.clone()
        }
    }

    /// The pacing configuration the run uses.
    pub fn pacing(&self) -> PacingConfig {
        PacingConfig {
            mode: self.mode,
            target: self.target,
            ring_timeout_s: self.ring_timeout_s,
            threshold_s: self.threshold_s,
            min_agents: self.min_agents,
            amd: self.amd,
            false_positives: FalsePositiveShare::DEFAULT,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct SimReport {
    /// Calls placed.
    pub placed: u64,
    /// Calls a person answered.
    pub answered: u64,
    /// Calls a machine answered.
    pub machines: u64,
    /// People connected to an agent within the threshold.
    pub connected: u64,
    /// People who reached no agent within the threshold.
    pub abandoned: u64,
    /// Agent-seconds on calls over agent-seconds logged in.
    pub occupancy: f64,
    /// Abandoned over answered by a person (0 when nobody answered).
    pub abandon_rate: f64,
    /// The lowest dial level of the pacer's model decisions (`Basis::Predictive`; 0 if none).
    pub min_dial_level: f64,
    /// The highest dial level of any decision.
    pub max_dial_level: f64,
    /// Decisions taken from the model.
    pub model_decisions: u64,
    /// Decisions paced as progressive below the minimum of agents.
    pub few_agent_decisions: u64,
    /// The pacer's figures at the end.
    pub figures: Figures,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Person,
    Machine,
    Nobody,
}

#[derive(Clone, Copy, Debug)]
struct Ringing {
    ends_at: u32,
    ring_s: u32,
    answer: Answer,
}

#[derive(Clone, Copy, Debug, Default)]
struct Agent {
    /// (start, end) of the current call.
    call: Option<(u32, u32)>,
    /// A person given to it: (connection instant, the person's answer, their deadline).
    ringing: Option<(u32, u32, u32)>,
    /// Unavailable until then (wrap-up).
    wrapped_at: u32,
    /// What the current call tells the pacer when it ends: the handle time with the wrap-up,
    /// and the connect latency (ms) of one connected in time (`None`: connected late).
    outcome: Option<(u32, Option<u32>)>,
}

impl Agent {
    fn free(&self, t: u32) -> bool {
        self.call.is_none() && self.ringing.is_none() && self.wrapped_at <= t
    }
}

/// Runs `scenario` to its end.
pub fn run(scenario: &Scenario) -> SimReport {
    let s = scenario;
    let mut rng = SplitMix64::new(s.seed);
    let mut pacer = Pacer::new(s.pacing());
    let base = 1_780_000_000i64;
    let mut ringing: Vec<Ringing> = Vec::new();
    let mut waiting: VecDeque<u32> = VecDeque::new();
    let mut agents = vec![Agent::default(); s.agents as usize];
    let mut r = SimReport {
        placed: 0,
        answered: 0,
        machines: 0,
        connected: 0,
        abandoned: 0,
        occupancy: 0.0,
        abandon_rate: 0.0,
        min_dial_level: f64::INFINITY,
        max_dial_level: 0.0,
        model_decisions: 0,
        few_agent_decisions: 0,
        figures: pacer.figures(),
    };
    let (mut busy_s, mut logged_s) = (0u64, 0u64);
    for t in 0..s.duration_s {
        let now = UnixTime(base + i64::from(t));
        pacer.set_hour(((u32::from(s.start_hour) + t / 3600) % 24) as u8);
        // Ringing ends.
        let mut i = 0;
        while i < ringing.len() {
            if ringing[i].ends_at > t {
                i += 1;
                continue;
            }
            let c = ringing.swap_remove(i);
            match c.answer {
                Answer::Nobody => pacer.observe(Observation::NotAnswered { ring_s: c.ring_s }, now),
                Answer::Machine => {
                    r.machines += 1;
                    pacer.observe(Observation::Machine { ring_s: c.ring_s }, now);
                }
                Answer::Person => {
                    r.answered += 1;
                    pacer.observe(Observation::Answered { ring_s: c.ring_s }, now);
                    waiting.push_back(t + u32::from(s.threshold_s));
                }
            }
        }
        // Calls end (the agent wraps up); late connections were counted when they connected.
        for a in agents.iter_mut() {
            if let Some((start, end)) = a.call {
                if end <= t {
                    a.call = None;
                    a.wrapped_at = t + s.wrapup_s;
                    let (handle_s, latency) = a.outcome.take().unwrap_or((end - start, Some(0)));
                    match latency {
                        Some(ms) => {
                            pacer.observe(Observation::Connected { handle_s }, now);
                            if s.connect_s > 0 {
                                pacer.observe_connect_latency(ms);
                            }
                        }
                        None => pacer.observe(
                            Observation::Abandoned {
                                handle_s: Some(handle_s),
                            },
                            now,
                        ),
                    }
                }
            }
        }
        // Waiting people to free agents, oldest first; their phones ring `connect_s`.
        for a in agents.iter_mut() {
            if waiting.is_empty() {
                break;
            }
            if a.free(t) {
                let deadline = waiting.pop_front().unwrap_or(t);
                let answered = deadline.saturating_sub(u32::from(s.threshold_s));
                a.ringing = Some((t + s.connect_s, answered, deadline));
            }
        }
        // Phones answered: connected, in time or late (abandoned).
        for a in agents.iter_mut() {
            let Some((at, answered, deadline)) = a.ringing else {
                continue;
            };
            if at > t {
                continue;
            }
            a.ringing = None;
            let handle = (rng.exp(s.mean_handle_s / 2.0) + rng.exp(s.mean_handle_s / 2.0))
                .max(5.0)
                .round() as u32;
            a.call = Some((t, t + handle));
            let late = t > deadline;
            if late {
                r.abandoned += 1;
            } else {
                r.connected += 1;
            }
            a.outcome = Some((
                handle + s.wrapup_s,
                (!late).then_some((t - answered) * 1000),
            ));
        }
        // Waited the threshold: abandoned.
        while waiting.front().is_some_and(|&deadline| deadline <= t) {
            waiting.pop_front();
            r.abandoned += 1;
            pacer.observe(Observation::Abandoned { handle_s: None }, now);
        }
        // Pace.
        let snapshot = Snapshot {
            free: agents.iter().filter(|a| a.free(t)).count() as u32,
            busy_talk_s: agents
                .iter()
                .filter_map(|a| match (a.call, a.ringing) {
                    (Some((start, _)), _) => Some(t - start),
                    (None, Some(_)) => Some(0),
                    (None, None) => None,
                })
                .collect(),
            ringing: ringing.len() as u32,
            waiting: waiting.len() as u32,
            now,
        };
        let n = pacer.calls_to_place(&snapshot);
        let level = pacer.dial_level();
        match pacer.figures().basis {
            Basis::Predictive => {
                r.model_decisions += 1;
                r.min_dial_level = r.min_dial_level.min(level);
            }
            Basis::FewAgents => r.few_agent_decisions += 1,
            _ => {}
        }
        r.max_dial_level = r.max_dial_level.max(level);
        let answer_rate = match s.jump {
            Some((at, rate)) if t >= at => rate,
            _ => s.answer_rate,
        };
        for _ in 0..n {
            r.placed += 1;
            let u = rng.unit();
            let answer = if u < answer_rate {
                Answer::Person
            } else if u < answer_rate + s.machine_rate {
                Answer::Machine
            } else {
                Answer::Nobody
            };
            let ring_s = match answer {
                Answer::Person | Answer::Machine => (2.0 + rng.exp((s.mean_ring_s - 2.0).max(0.1)))
                    .min(f64::from(s.ring_timeout_s) - 1.0)
                    .round() as u32,
                Answer::Nobody if rng.unit() < s.fast_fail_share => 2 + (rng.next_u64() % 4) as u32,
                Answer::Nobody => s.ring_timeout_s,
            };
            ringing.push(Ringing {
                ends_at: t + ring_s.max(1),
                ring_s,
                answer,
            });
        }
        busy_s += agents.iter().filter(|a| a.call.is_some()).count() as u64;
        logged_s += u64::from(s.agents);
    }
    r.occupancy = if logged_s == 0 {
        0.0
    } else {
        busy_s as f64 / logged_s as f64
    };
    r.abandon_rate = if r.answered == 0 {
        0.0
    } else {
        r.abandoned as f64 / r.answered as f64
    };
    if r.model_decisions == 0 {
        r.min_dial_level = 0.0;
    }
    r.figures = pacer.figures();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_seeded_and_uniform_enough() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mean: f64 = (0..10_000).map(|_| a.unit()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        let e: f64 = (0..10_000).map(|_| a.exp(10.0)).sum::<f64>() / 10_000.0;
        assert!((e - 10.0).abs() < 0.5, "{e}");
    }

    #[test]
    fn progressive_never_abandons_and_a_run_is_reproducible() {
        let mut s = Scenario::new(1, DialMode::Progressive, 5, 0.3, 60.0);
        s.duration_s = 1800;
        let r = run(&s);
        assert!(r.placed > 0 && r.connected > 0);
        assert_eq!(r.abandoned, 0);
        assert_eq!(run(&s), r);
    }
}
