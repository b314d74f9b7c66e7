//! What one dialer call did, from what the PBX wrote down: the originate job's final state and
//! the call's `queue_log` lines (the dialplan's `centralita-dialer` context writes `DIALERAMD`,
//! `DIALERQUEUED`, `DIALERCONNECT`, `DIALERSAFE` and, for a call to one agent, `DIALERDONE`
//! with millisecond instants under the call's uniqueid). Pure: the same lines give the same [`Evidence`], whenever they are read, so an
//! attempt resolved after a restart is resolved exactly as it would have been live.

use super::campaign::{AbandonStart, AnswerHandling, Outcome};
use crate::core::journal::{QueueEvent, QueueLogRecord};
use crate::core::originate::{JobState, OriginateId};

/// The evidence of one finished attempt (a row of the abandon ledger).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The originate job that placed the call.
    pub job: OriginateId,
    /// Its final state.
    pub job_state: JobState,
    /// The customer's line answered (a person or a machine).
    pub answered: bool,
    /// AMD's `AMDSTATUS|AMDCAUSE` (`None`: no AMD ran).
    pub amd: Option<String>,
    /// AMD said MACHINE (the call was hung up).
    pub machine: bool,
    /// The person heard the safe-harbor message.
    pub safe_harbor: bool,
    /// Counted as abandoned: the safe-harbor message, or an agent connected later than the
    /// threshold.
    pub abandoned: bool,
    /// The agent (endpoint) the call was connected to.
    pub agent: Option<String>,
    /// Unix milliseconds of the answer.
    pub answered_ms: Option<i64>,
    /// Unix milliseconds of the greeting's end (AMD's verdict).
    pub greeting_end_ms: Option<i64>,
    /// Unix milliseconds of the connection to an agent.
    pub connected_ms: Option<i64>,
}

impl Evidence {
    /// The evidence of job `job` ended in `job_state` before anything else is known: not
    /// answered, no AMD, no agent, no times.
    pub fn of_job(job: OriginateId, job_state: JobState) -> Self {
        Self {
            job,
            job_state,
            answered: false,
            amd: None,
            machine: false,
            safe_harbor: false,
            abandoned: false,
            agent: None,
            answered_ms: None,
            greeting_end_ms: None,
            connected_ms: None,
        }
    }

    /// Milliseconds the person waited for an agent under `start` (`None`: never connected).
    pub fn connect_latency_ms(&self, start: AbandonStart) -> Option<i64> {
        let from = match start {
            AbandonStart::Answer => self.answered_ms,
            AbandonStart::GreetingEnd => self.greeting_end_ms.or(self.answered_ms),
        }?;
        Some((self.connected_ms? - from).max(0))
    }
}

/// Whether the call's lines hold its last word: the machine hung up on, the safe-harbor
/// message, the end of a connected call (Queue()'s, or `DIALERDONE` for a call to one agent). Until then an answered call may still be
/// written down (the journal reads `queue_log` a little after the PBX writes it).
pub fn is_complete(lines: &[QueueLogRecord]) -> bool {
    lines.iter().any(|l| match &l.event {
        QueueEvent::Other(e) if e == "DIALERSAFE" || e == "DIALERDONE" => true,
        QueueEvent::Other(e) if e == "DIALERAMD" => {
            matches!(
                l.data.first().map(String::as_str),
                Some("MACHINE" | "HANGUP")
            )
        }
        QueueEvent::CompleteAgent | QueueEvent::CompleteCaller | QueueEvent::Abandon => true,
        _ => false,
    })
}

fn ms(field: Option<&String>) -> Option<i64> {
    field.and_then(|f| f.trim().parse().ok())
}

/// The attempt's outcome and evidence from the job's final state and the call's lines.
pub fn evidence_of(
    job: &OriginateId,
    state: JobState,
    answered_at_job: bool,
    lines: &[QueueLogRecord],
    handling: &AnswerHandling,
) -> (Outcome, Evidence) {
    let mut e = Evidence::of_job(job.clone(), state);
    e.answered = answered_at_job;
    let mut connected = false;
    for l in lines {
        match &l.event {
            QueueEvent::Other(name) => match name.as_str() {
                "DIALERAMD" => {
                    let status = l.data.first().cloned().unwrap_or_default();
                    let cause = l.data.get(1).cloned().unwrap_or_default();
                    e.machine = status == "MACHINE";
                    e.amd = Some(format!("{status}|{cause}"));
                    e.answered_ms = e.answered_ms.or(ms(l.data.get(2)));
                    e.greeting_end_ms = ms(l.data.get(3));
                    e.answered = true;
                }
                "DIALERQUEUED" => {
                    e.answered_ms = e.answered_ms.or(ms(l.data.first()));
                    e.answered = true;
                }
                "DIALERCONNECT" => {
                    e.connected_ms = ms(l.data.first());
                    if l.agent != "NONE" && !l.agent.is_empty() {
                        e.agent = Some(l.agent.clone());
                    }
                    connected = true;
                }
                "DIALERSAFE" => e.safe_harbor = true,
                _ => {}
            },
            QueueEvent::Connect => {
                connected = true;
                if e.agent.is_none() && l.agent != "NONE" {
                    e.agent = Some(l.agent.clone());
                }
            }
            _ => {}
        }
    }
    let threshold_ms = i64::from(handling.threshold_s) * 1000;
    let late = e
        .connect_latency_ms(handling.start)
        .is_some_and(|w| w > threshold_ms);
    e.abandoned = e.safe_harbor || (connected && late);
    let outcome = if e.machine {
        Outcome::Machine
    } else if connected {
        Outcome::Answered
    } else if e.safe_harbor {
        Outcome::Abandoned
    } else {
        match state {
            JobState::Busy => Outcome::Busy,
            JobState::Unavailable | JobState::SourceOffHook => Outcome::Congestion,
            // Answered and hung up before reaching the queue (during AMD, or at once), or never
            // answered: nobody was reached.
            _ => Outcome::NoAnswer,
        }
    };
    (outcome, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::journal::{FileId, LogPosition, UnixTime};

    fn line(event: &str, agent: &str, data: &[&str]) -> QueueLogRecord {
        QueueLogRecord {
            position: LogPosition {
                file: FileId {
                    dev: 1,
                    ino: 1,
                    created_ns: 0,
                },
                offset: 0,
            },
            time: UnixTime(1),
            callid: "c".into(),
            queue: "q".into(),
            agent: agent.into(),
            event: QueueEvent::parse(event),
            data: data.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn id() -> OriginateId {
        OriginateId::parse("job-1").unwrap()
    }

    #[test]
    fn a_person_connected_in_time_is_answered_and_not_abandoned() {
        let lines = [
            line(
                "DIALERAMD",
                "NONE",
                &["HUMAN", "HUMAN-800-800", "1000", "2500"],
            ),
            line("DIALERQUEUED", "NONE", &["1000", "2500"]),
            line("ENTERQUEUE", "NONE", &["", "5558005", "1"]),
            line("DIALERCONNECT", "1001", &["4000"]),
            line("CONNECT", "1001", &["1", "x", "1"]),
            line("COMPLETECALLER", "1001", &["1", "5", "1"]),
        ];
        assert!(is_complete(&lines));
        let h = AnswerHandling::default();
        let (o, e) = evidence_of(&id(), JobState::HungUp, true, &lines, &h);
        assert_eq!(o, Outcome::Answered);
        assert!(!e.abandoned && !e.machine && !e.safe_harbor);
        assert_eq!(e.agent.as_deref(), Some("1001"));
        assert_eq!(e.connect_latency_ms(AbandonStart::GreetingEnd), Some(1500));
        assert_eq!(e.connect_latency_ms(AbandonStart::Answer), Some(3000));
        // Counted from the answer, the same call waited 3 s: abandoned in the ledger.
        let from_answer = AnswerHandling {
            start: AbandonStart::Answer,
            ..AnswerHandling::default()
        };
        let (o, e) = evidence_of(&id(), JobState::HungUp, true, &lines, &from_answer);
        assert_eq!(o, Outcome::Answered);
        assert!(e.abandoned);
    }

    #[test]
    fn machine_safe_harbor_and_unanswered_calls() {
        let h = AnswerHandling::default();
        let machine = [line(
            "DIALERAMD",
            "NONE",
            &["MACHINE", "LONGGREETING-1500-1500", "1", "2"],
        )];
        assert!(is_complete(&machine));
        let (o, e) = evidence_of(&id(), JobState::HungUp, true, &machine, &h);
        assert_eq!((o, e.machine, e.abandoned), (Outcome::Machine, true, false));

        let safe = [
            line("DIALERQUEUED", "NONE", &["1000", "1000"]),
            line("EXITWITHTIMEOUT", "NONE", &["1", "1", "2"]),
            line("DIALERSAFE", "NONE", &["TIMEOUT", "3000"]),
        ];
        let (o, e) = evidence_of(&id(), JobState::HungUp, true, &safe, &h);
        assert_eq!(
            (o, e.safe_harbor, e.abandoned),
            (Outcome::Abandoned, true, true)
        );

        let queued_only = [line("DIALERQUEUED", "NONE", &["1000", "1000"])];
        assert!(!is_complete(&queued_only));
        for (state, want) in [
            (JobState::Busy, Outcome::Busy),
            (JobState::NoAnswer, Outcome::NoAnswer),
            (JobState::Unavailable, Outcome::Congestion),
        ] {
            let (o, e) = evidence_of(&id(), state, false, &[], &h);
            assert_eq!(o, want);
            assert!(!e.answered && !e.abandoned);
        }
    }
}
