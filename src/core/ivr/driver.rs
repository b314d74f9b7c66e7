//! [`run_flow`]: runs one call through a flow. It feeds the call's inputs (from the runtime's
//! mpsc channel) and its own timers and lookup answers to the [`IvrSession`], carries each
//! command out through the ports, and journals each event (awaiting the store) before it
//! carries out the next command, so what the CDR says happened is never behind the call.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::cdr::{record_of, IvrCallId, IvrCallInfo};
use super::model::Flow;
use super::session::{IvrCommand, IvrEvent, IvrInput, IvrSession, Outcome, TimerId};
use super::{IvrCall, IvrJournal, IvrLookup, ListLookup};
use crate::core::journal::UnixTime;
use crate::core::{error_chain, off_runtime, PortError};

/// The ports a flow runs over.
#[derive(Clone)]
pub struct IvrPorts {
    /// The call.
    pub call: Arc<dyn IvrCall>,
    /// The named lookup backends.
    pub lookup: Arc<dyn IvrLookup>,
    /// The key/value lists.
    pub lists: Arc<dyn ListLookup>,
    /// The IVR CDR.
    pub journal: Arc<dyn IvrJournal>,
}

/// The call a flow runs on.
#[derive(Clone, Debug)]
pub struct CallStart {
    /// Its id in the IVR CDR.
    pub call: IvrCallId,
    /// What is known of it.
    pub info: IvrCallInfo,
    /// Its variables (`CTI_INFO1`, ...).
    pub vars: Vec<(String, String)>,
}

/// Why a run ended without an outcome.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The call's side effect failed (the call was hung up if it could be).
    #[error("call command failed")]
    Call(#[source] PortError),
    /// An event could not be journaled after retries (the call was hung up).
    #[error("IVR CDR not written")]
    Journal(#[source] PortError),
}

const JOURNAL_ATTEMPTS: usize = 3;

struct Run {
    flow: Arc<Flow>,
    start: CallStart,
    ports: IvrPorts,
    seq: u32,
    timers: HashMap<TimerId, JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
    own: mpsc::Sender<IvrInput>,
    outcome: Option<Outcome>,
}

impl Drop for Run {
    fn drop(&mut self) {
        for (_, t) in self.timers.drain() {
            t.abort();
        }
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Run {
    async fn journal(&mut self, event: &IvrEvent) -> Result<(), RunError> {
        self.seq += 1;
        let record = record_of(
            &self.start.call,
            self.seq,
            UnixTime::now(),
            &self.flow.id,
            &self.start.info,
            event,
        );
        let mut last = None;
        for _ in 0..JOURNAL_ATTEMPTS {
            let j = self.ports.journal.clone();
            let r = record.clone();
            match off_runtime(move || j.record(&r)).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %error_chain(e.as_ref()), "ivr: event not journaled, retrying");
                    last = Some(e);
                }
            }
        }
        Err(RunError::Journal(
            last.unwrap_or_else(|| PortError::from("journal")),
        ))
    }

    async fn execute(&mut self, commands: Vec<IvrCommand>) -> Result<(), RunError> {
        for c in commands {
            match c {
                IvrCommand::Event(e) => {
                    if let IvrEvent::Finished { outcome, .. } = &e {
                        self.outcome = Some(outcome.clone());
                    }
                    self.journal(&e).await?;
                }
                IvrCommand::Play {
                    id,
                    media,
                    barge_in,
                } => {
                    if let Err(e) = self.ports.call.play(id, &media, barge_in).await {
                        // A prompt that cannot be played is skipped, not waited for.
                        tracing::warn!(error = %error_chain(e.as_ref()), "ivr: prompt not played");
                        let _ = self.own.try_send(IvrInput::PromptFinished(id));
                    }
                }
                IvrCommand::StopPlayback => {
                    if let Err(e) = self.ports.call.stop_playback().await {
                        tracing::debug!(error = %error_chain(e.as_ref()), "ivr: stop playback");
                    }
                }
                IvrCommand::StartTimer { id, after } => {
                    let tx = self.own.clone();
                    self.timers.insert(
                        id,
                        tokio::spawn(async move {
                            tokio::time::sleep(after).await;
                            let _ = tx.send(IvrInput::Timer(id)).await;
                        }),
                    );
                }
                IvrCommand::CancelTimer(id) => {
                    if let Some(t) = self.timers.remove(&id) {
                        t.abort();
                    }
                }
                IvrCommand::Lookup {
                    id,
                    backend,
                    params,
                } => {
                    let tx = self.own.clone();
                    let lookup = self.ports.lookup.clone();
                    self.tasks.push(tokio::spawn(async move {
                        let input = match lookup.lookup(&backend, &params).await {
                            Ok(fields) => IvrInput::LookupDone { id, fields },
                            Err(e) => {
                                tracing::info!(error = %error_chain(e.as_ref()), %backend, "ivr: lookup failed");
                                IvrInput::LookupFailed { id }
                            }
                        };
                        let _ = tx.send(input).await;
                    }));
                }
                IvrCommand::CheckList { id, list, key } => {
                    let tx = self.own.clone();
                    let lists = self.ports.lists.clone();
                    self.tasks.push(tokio::spawn(async move {
                        let member = lists.contains(&list, &key).await.ok();
                        let _ = tx.send(IvrInput::ListChecked { id, member }).await;
                    }));
                }
                IvrCommand::SetChannelVar { name, value } => {
                    self.ports
                        .call
                        .set_var(&name, &value)
                        .await
                        .map_err(RunError::Call)?;
                }
                IvrCommand::Queue(q) => self.ports.call.queue(&q).await.map_err(RunError::Call)?,
                IvrCommand::Transfer(t) => {
                    self.ports.call.transfer(&t).await.map_err(RunError::Call)?;
                }
                IvrCommand::Hangup => self.ports.call.hangup().await.map_err(RunError::Call)?,
            }
        }
        Ok(())
    }
}

/// Runs `flow` on the call `start` names until it leaves the flow: its inputs arrive on
/// `inputs` (a closed channel is a hang-up). Answers how it left. On a failed side effect or an
/// event that could not be journaled the call is hung up and the error answered.
pub async fn run_flow(
    flow: Arc<Flow>,
    start: CallStart,
    ports: IvrPorts,
    mut inputs: mpsc::Receiver<IvrInput>,
) -> Result<Outcome, RunError> {
    let (own, mut own_rx) = mpsc::channel(16);
    let (mut session, first) = IvrSession::start(flow.clone(), start.vars.clone());
    let mut run = Run {
        flow,
        start,
        ports,
        seq: 0,
        timers: HashMap::new(),
        tasks: Vec::new(),
        own,
        outcome: None,
    };
    let mut result = run.execute(first).await;
    while result.is_ok() && !session.is_done() {
        let input = tokio::select! {
            i = inputs.recv() => i.unwrap_or(IvrInput::HungUp),
            Some(i) = own_rx.recv() => i,
        };
        if let IvrInput::Timer(id) = &input {
            run.timers.remove(id);
        }
        let commands = session.on(input);
        result = run.execute(commands).await;
    }
    match result {
        Ok(()) => Ok(run.outcome.clone().unwrap_or(Outcome::HungUp)),
        Err(e) => {
            if !matches!(run.outcome, Some(Outcome::HungUp)) {
                let _ = run.ports.call.hangup().await;
            }
            Err(e)
        }
    }
}
