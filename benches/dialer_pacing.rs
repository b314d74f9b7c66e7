//! Agent occupancy of predictive pacing against progressive and against a fixed power ratio
//! tuned to the same abandon rate, across scenarios of the pacing simulator
//! (`core::dialer::simulator`, the real `Pacer`); then the cost of one `calls_to_place`.
//!
//! For each scenario: predictive, progressive (no abandons: every call has a free agent) and
//! the power ratio (in steps of 0.05) with the most occupancy whose abandon rate is at most
//! predictive's — a fixed dial level tuned by hand after the fact, the best a fixed-ratio
//! dialer could do on that traffic. Ratios: predictive / progressive and predictive / power at
//! equal abandon rate. `DIALER_PACING_SECONDS` (7200) simulated seconds per run,
//! `DIALER_PACING_SEEDS` (3) seeds per scenario.

mod support;

use std::time::Instant;

use centralita::core::dialer::campaign::{DialMode, DialRatio};
use centralita::core::dialer::pacing::{Observation, Pacer, Snapshot};
use centralita::core::dialer::simulator::{run, Scenario, SimReport};
use centralita::core::UnixTime;

struct Case {
    name: &'static str,
    agents: u32,
    answer: f64,
    handle: f64,
    jump: Option<(u32, f64)>,
}

fn mean(rs: &[SimReport], f: impl Fn(&SimReport) -> f64) -> f64 {
    rs.iter().map(f).sum::<f64>() / rs.len() as f64
}

fn runs(base: &Scenario, mode: DialMode, seeds: u64) -> Vec<SimReport> {
    (0..seeds)
        .map(|i| {
            let mut s = base.with_mode(mode);
            s.seed = base.seed + i;
            run(&s)
        })
        .collect()
}

fn main() {
    let seconds = support::env_num("DIALER_PACING_SECONDS", 7200) as u32;
    let seeds = support::env_num("DIALER_PACING_SEEDS", 3);
    let cases = [
        Case {
            name: "a10_ans15_h120",
            agents: 10,
            answer: 0.15,
            handle: 120.0,
            jump: None,
        },
        Case {
            name: "a10_ans30_h60",
            agents: 10,
            answer: 0.30,
            handle: 60.0,
            jump: None,
        },
        Case {
            name: "a20_ans25_h180",
            agents: 20,
            answer: 0.25,
            handle: 180.0,
            jump: None,
        },
        Case {
            name: "a50_ans20_h300",
            agents: 50,
            answer: 0.20,
            handle: 300.0,
            jump: None,
        },
        Case {
            name: "a6_ans40_h90",
            agents: 6,
            answer: 0.40,
            handle: 90.0,
            jump: None,
        },
        Case {
            name: "a30_ans60_h30",
            agents: 30,
            answer: 0.60,
            handle: 30.0,
            jump: None,
        },
        Case {
            name: "a15_jump20to55",
            agents: 15,
            answer: 0.20,
            handle: 120.0,
            jump: Some((3600, 0.55)),
        },
    ];
    println!(
        "{:<16} {:>7} {:>7} {:>7} {:>7} {:>6} {:>8} {:>8} {:>7} {:>7}",
        "scenario",
        "occ_pr",
        "occ_pg",
        "occ_pw",
        "ratio_w",
        "aband%",
        "pw_ab%",
        "ratio_pg",
        "lvl_min",
        "lvl_max"
    );
    let mut rows = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let mut base = Scenario::new(
            1000 * k as u64 + 1,
            DialMode::Predictive,
            c.agents,
            c.answer,
            c.handle,
        );
        base.duration_s = seconds;
        base.jump = c.jump;
        let pred = runs(&base, DialMode::Predictive, seeds);
        let prog = runs(&base, DialMode::Progressive, seeds);
        let occ_pred = mean(&pred, |r| r.occupancy);
        let occ_prog = mean(&prog, |r| r.occupancy);
        let ab_pred = mean(&pred, |r| r.abandon_rate);
        // The best fixed ratio at no more abandons than predictive.
        let mut best: Option<(f64, f64, f64)> = None;
        let mut ratio = 100u16;
        while ratio <= 1000 {
            let mode = DialMode::Power {
                ratio: DialRatio::parse(&format!("{}.{:02}", ratio / 100, ratio % 100))
                    .expect("ratio"),
            };
            let pw = runs(&base, mode, seeds);
            let ab = mean(&pw, |r| r.abandon_rate);
            if ab > ab_pred + 1e-9 {
                break;
            }
            let occ = mean(&pw, |r| r.occupancy);
            if best.is_none_or(|(_, o, _)| occ > o) {
                best = Some((f64::from(ratio) / 100.0, occ, ab));
            }
            ratio += 5;
        }
        let (pw_ratio, occ_pw, ab_pw) = best.unwrap_or((1.0, occ_prog, 0.0));
        let lvl_min = pred
            .iter()
            .map(|r| r.min_dial_level)
            .fold(f64::INFINITY, f64::min);
        let lvl_max = pred.iter().map(|r| r.max_dial_level).fold(0.0, f64::max);
        println!(
            "{:<16} {:>7.3} {:>7.3} {:>7.3} {:>7.3} {:>6.2} {:>8.2} {:>8.3} {:>7.2} {:>7.2}",
            c.name,
            occ_pred,
            occ_prog,
            occ_pw,
            occ_pred / occ_pw,
            ab_pred * 100.0,
            ab_pw * 100.0,
            occ_pred / occ_prog,
            lvl_min,
            lvl_max
        );
        rows.push(serde_json::json!({
            "scenario": c.name,
            "agents": c.agents,
            "answer_rate": c.answer,
            "handle_s": c.handle,
            "occupancy_predictive": occ_pred,
            "occupancy_progressive": occ_prog,
            "occupancy_power_equal_abandon": occ_pw,
            "power_ratio_equal_abandon": pw_ratio,
            "abandon_rate_predictive": ab_pred,
            "abandon_rate_power": ab_pw,
            "abandon_rate_predictive_max": pred.iter().map(|r| r.abandon_rate).fold(0.0, f64::max),
            "predictive_to_progressive_ratio": occ_pred / occ_prog,
            "predictive_to_power_ratio": occ_pred / occ_pw,
            "dial_level_min": lvl_min,
            "dial_level_max": lvl_max,
        }));
    }

    // The cost of one decision: a warmed pacer, 50 agents (40 busy), 30 calls ringing.
    let mut pacer = Pacer::new(Scenario::new(1, DialMode::Predictive, 50, 0.2, 120.0).pacing());
    for i in 0..2000u32 {
        let now = UnixTime(i64::from(i));
        if i % 5 == 0 {
            pacer.observe(Observation::Answered { ring_s: 6 + i % 10 }, now);
            pacer.observe(
                Observation::Connected {
                    handle_s: 30 + i % 300,
                },
                now,
            );
        } else {
            pacer.observe(Observation::NotAnswered { ring_s: 25 }, now);
        }
    }
    let snapshot = Snapshot {
        free: 10,
        busy_talk_s: (0..40).map(|i| i * 7).collect(),
        ringing: 30,
        waiting: 1,
        now: UnixTime(2000),
    };
    let n: u32 = 20_000;
    let started = Instant::now();
    let mut placed = 0u64;
    for _ in 0..n {
        placed += u64::from(pacer.calls_to_place(std::hint::black_box(&snapshot)));
    }
    let per_call_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "calls_to_place: {per_call_us:.2} us per decision (50 agents, 40 busy, 30 ringing; {} calls each)",
        placed / u64::from(n)
    );
    support::write_json(
        "dialer_pacing",
        &serde_json::json!({
            "seconds": seconds,
            "seeds": seeds,
            "scenarios": rows,
            "calls_to_place_us": per_call_us,
        }),
    );
}
