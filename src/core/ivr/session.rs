//! The interpreter: [`IvrSession`], a pure state machine over one call. [`IvrSession::start`]
//! and [`IvrSession::on`] take inputs (prompt finished, digit, timer, lookup answers, hang-up)
//! and answer the commands the runtime carries out (play, stop, timers, lookups, channel
//! variables, queue, transfer, hang up) and the events the IVR CDR journals. No I/O, no clock:
//! timers are commands the runtime arms and inputs when they fire.
//!
//! Rules: a digit during a prompt with barge-in stops it and counts as input (a digit during a
//! prompt without barge-in is dropped); a gather waits `first_digit_timeout_ms` for the first
//! digit once its prompt is over, `inter_digit_timeout_ms` for each next one; the input ends at
//! `max_digits`, at the terminator (not part of it) or when the inter-digit wait expires.
//! Silence or an input matching no case replays the prompt `retries` times, then goes to the
//! gather's `timeout` or `invalid` node. Every node entered counts a step; past the flow's
//! `max_steps` the call is hung up, so no loop spins.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::model::{
    millis, BackendName, BranchOn, Flow, ListName, Media, NodeId, NodeKind, Prompt, VarName,
    MAX_TEXT_CHARS, MAX_VALUE_CHARS, MAX_VARIABLES,
};
use crate::core::directory::QueueName;

/// A timer the session armed; a `Timer` input with another id is stale and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(pub u64);

/// A prompt the session started; `PromptFinished` of another one is stale and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlayId(pub u64);

/// A lookup or list check the session asked; an answer to another one is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// What happens on the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IvrInput {
    /// The prompt `PlayId` ended (played out or stopped).
    PromptFinished(PlayId),
    /// A keypad digit (`0-9`, `*`, `#`, `A-D`; others are ignored).
    Digit(char),
    /// The timer fired.
    Timer(TimerId),
    /// A lookup answered: its fields.
    LookupDone {
        /// The request.
        id: RequestId,
        /// Answer field → value.
        fields: Vec<(String, String)>,
    },
    /// A lookup failed.
    LookupFailed {
        /// The request.
        id: RequestId,
    },
    /// A list check answered (`None`: it failed; the branch takes its default).
    ListChecked {
        /// The request.
        id: RequestId,
        /// Whether the key is in the list.
        member: Option<bool>,
    },
    /// The caller hung up.
    HungUp,
}

/// How a call left the flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Into a queue.
    Queue(QueueName),
    /// To an extension or number.
    Transfer(String),
    /// The flow hung up.
    Hangup,
    /// The caller hung up.
    HungUp,
    /// The flow exceeded its step bound and was hung up.
    StepLimit,
}

impl Outcome {
    /// `fila`, `transferencia`, `desligada`, `abandono`, `limite`: the status USCall's cdrURA shows.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Queue(_) => "fila",
            Self::Transfer(_) => "transferencia",
            Self::Hangup => "desligada",
            Self::HungUp => "abandono",
            Self::StepLimit => "limite",
        }
    }

    /// Where the call went (`fila:q`, `destino:1005`), empty for a hang-up.
    pub fn destination(&self) -> String {
        match self {
            Self::Queue(q) => format!("fila:{q}"),
            Self::Transfer(t) => format!("destino:{t}"),
            Self::Hangup | Self::HungUp | Self::StepLimit => String::new(),
        }
    }
}

/// Why a gather replays its prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryReason {
    /// Nothing was entered.
    Timeout,
    /// The input matched no case.
    Invalid,
}

/// What the IVR CDR records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IvrEvent {
    /// A node was entered.
    Entered {
        /// The node.
        node: NodeId,
        /// Its kind (`play`, `gather`, ...).
        kind: &'static str,
    },
    /// A node was left for another.
    Left {
        /// The node.
        node: NodeId,
        /// Where to.
        to: NodeId,
    },
    /// A gather's input ended.
    Digits {
        /// The gather.
        node: NodeId,
        /// What was entered (without the terminator).
        digits: String,
        /// The case it matched (`*` when any input is kept), `None`: none.
        matched: Option<String>,
    },
    /// A gather replays its prompt.
    Retry {
        /// The gather.
        node: NodeId,
        /// Why.
        reason: RetryReason,
        /// The retry's number (1 for the first).
        attempt: u8,
    },
    /// A lookup answered or failed.
    Lookup {
        /// The node.
        node: NodeId,
        /// The backend.
        backend: BackendName,
        /// Whether it answered in time.
        ok: bool,
        /// The fields kept (field, value).
        fields: Vec<(String, String)>,
    },
    /// A list was asked about a key.
    ListChecked {
        /// The node.
        node: NodeId,
        /// The list.
        list: ListName,
        /// The answer (`None`: the check failed).
        member: Option<bool>,
    },
    /// The call left the flow.
    Finished {
        /// The node it left from (none when the caller hung up before the first one).
        node: Option<NodeId>,
        /// How.
        outcome: Outcome,
    },
}

/// What the runtime does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IvrCommand {
    /// Plays a prompt (TTS text already substituted and bounded; the runtime renders it).
    Play {
        /// Its id, named again by `PromptFinished`.
        id: PlayId,
        /// What to play.
        media: Media,
        /// Whether a digit interrupts it.
        barge_in: bool,
    },
    /// Stops the prompt playing.
    StopPlayback,
    /// Arms a timer.
    StartTimer {
        /// Its id.
        id: TimerId,
        /// After how long it fires.
        after: Duration,
    },
    /// Disarms a timer.
    CancelTimer(TimerId),
    /// Asks a named backend.
    Lookup {
        /// The request.
        id: RequestId,
        /// The backend.
        backend: BackendName,
        /// Parameter name → value.
        params: Vec<(String, String)>,
    },
    /// Asks whether `key` is in `list`.
    CheckList {
        /// The request.
        id: RequestId,
        /// The list.
        list: ListName,
        /// The key.
        key: String,
    },
    /// Sets a channel variable.
    SetChannelVar {
        /// The variable.
        name: VarName,
        /// Its value (bounded, no control characters).
        value: String,
    },
    /// Sends the call into a queue.
    Queue(QueueName),
    /// Transfers the call (the runtime checks the outbound policy).
    Transfer(String),
    /// Hangs up.
    Hangup,
    /// Journals an event.
    Event(IvrEvent),
}

#[derive(Clone, Debug)]
enum State {
    Done,
    Playing {
        node: NodeId,
        play: PlayId,
        barge_in: bool,
    },
    Gathering {
        node: NodeId,
        attempt: u8,
        play: Option<PlayId>,
        barge_in: bool,
        digits: String,
        timer: Option<TimerId>,
    },
    Waiting {
        node: NodeId,
        request: RequestId,
        timer: Option<TimerId>,
    },
}

/// One call's walk through a flow.
#[derive(Debug)]
pub struct IvrSession {
    flow: Arc<Flow>,
    vars: BTreeMap<String, String>,
    state: State,
    steps: u32,
    counter: u64,
    pending: String,
    last_digits: String,
    current: Option<NodeId>,
}

/// A value fit for a variable: control characters become spaces, at most
/// [`MAX_VALUE_CHARS`] characters.
pub fn clean_value(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_VALUE_CHARS)
        .collect()
}

/// `template` with each `{NAME}` replaced by the variable's value (empty when unset), at most
/// [`MAX_TEXT_CHARS`] characters.
pub fn substitute(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if VarName::new(&after[..close]).is_ok() => {
                if let Some(v) = vars.get(&after[..close]) {
                    out.push_str(v);
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_TEXT_CHARS)
        .collect()
}

fn is_key(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D')
}

impl IvrSession {
    /// Starts `flow` with the call's variables (cleaned and bounded: at most
    /// [`MAX_VARIABLES`], names that are not [`VarName`]s dropped); answers the first commands.
    pub fn start(flow: Arc<Flow>, vars: Vec<(String, String)>) -> (Self, Vec<IvrCommand>) {
        let vars = vars
            .into_iter()
            .filter(|(k, _)| VarName::new(k.as_str()).is_ok())
            .take(MAX_VARIABLES)
            .map(|(k, v)| (k, clean_value(&v)))
            .collect();
        let start = flow.start.clone();
        let mut s = Self {
            flow,
            vars,
            state: State::Done,
            steps: 0,
            counter: 0,
            pending: String::new(),
            last_digits: String::new(),
            current: None,
        };
        let mut out = Vec::new();
        s.goto(start, &mut out);
        (s, out)
    }

    /// Whether the call has left the flow.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The call's variables.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Feeds one input; answers the commands it leads to (none once done).
    pub fn on(&mut self, input: IvrInput) -> Vec<IvrCommand> {
        let mut out = Vec::new();
        match input {
            IvrInput::HungUp => self.hung_up(&mut out),
            IvrInput::PromptFinished(id) => self.prompt_finished(id, &mut out),
            IvrInput::Digit(c) if is_key(c) => self.digit(c, &mut out),
            IvrInput::Digit(_) => {}
            IvrInput::Timer(id) => self.timer(id, &mut out),
            IvrInput::LookupDone { id, fields } => self.lookup_answer(id, Some(fields), &mut out),
            IvrInput::LookupFailed { id } => self.lookup_answer(id, None, &mut out),
            IvrInput::ListChecked { id, member } => self.list_answer(id, member, &mut out),
        }
        out
    }

    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn arm(&mut self, after: Duration, out: &mut Vec<IvrCommand>) -> TimerId {
        let id = TimerId(self.next_id());
        out.push(IvrCommand::StartTimer { id, after });
        id
    }

    fn finish(&mut self, outcome: Outcome, out: &mut Vec<IvrCommand>) {
        match &self.state {
            State::Gathering { timer: Some(t), .. } | State::Waiting { timer: Some(t), .. } => {
                out.push(IvrCommand::CancelTimer(*t));
            }
            _ => {}
        }
        self.state = State::Done;
        out.push(IvrCommand::Event(IvrEvent::Finished {
            node: self.current.clone(),
            outcome,
        }));
    }

    fn hung_up(&mut self, out: &mut Vec<IvrCommand>) {
        if !self.is_done() {
            self.finish(Outcome::HungUp, out);
        }
    }

    /// Leaves the current node for `to` and runs nodes until one waits for input.
    fn goto(&mut self, to: NodeId, out: &mut Vec<IvrCommand>) {
        let mut to = to;
        loop {
            if let Some(from) = self.current.take() {
                out.push(IvrCommand::Event(IvrEvent::Left {
                    node: from,
                    to: to.clone(),
                }));
            }
            self.steps += 1;
            if self.steps > self.flow.max_steps {
                self.finish(Outcome::StepLimit, out);
                out.push(IvrCommand::Hangup);
                return;
            }
            let flow = self.flow.clone();
            let Some(node) = flow.node(&to) else {
                // Unreachable for a validated flow; hang up rather than spin.
                self.finish(Outcome::Hangup, out);
                out.push(IvrCommand::Hangup);
                return;
            };
            self.current = Some(node.id.clone());
            out.push(IvrCommand::Event(IvrEvent::Entered {
                node: node.id.clone(),
                kind: node.kind.name(),
            }));
            match &node.kind {
                NodeKind::Play { prompt, next } => {
                    if !self.pending.is_empty() {
                        // Already interrupted by a digit: skip to the next node.
                        to = next.clone();
                        continue;
                    }
                    let play = self.play(prompt, out);
                    self.state = State::Playing {
                        node: node.id.clone(),
                        play,
                        barge_in: prompt.barge_in,
                    };
                    return;
                }
                NodeKind::Gather(g) => {
                    self.state = State::Gathering {
                        node: node.id.clone(),
                        attempt: 0,
                        play: None,
                        barge_in: g.prompt.barge_in,
                        digits: String::new(),
                        timer: None,
                    };
                    if self.pending.is_empty() {
                        let play = self.play(&g.prompt, out);
                        if let State::Gathering { play: p, .. } = &mut self.state {
                            *p = Some(play);
                        }
                    } else {
                        let pending = std::mem::take(&mut self.pending);
                        for c in pending.chars() {
                            if !matches!(&self.state, State::Gathering { node: n, .. } if n == &node.id)
                            {
                                break;
                            }
                            self.gather_digit(c, out);
                        }
                        if let State::Gathering {
                            node: n,
                            timer: None,
                            ..
                        } = &self.state
                        {
                            if n == &node.id {
                                let t = self.arm(millis(g.inter_digit_timeout_ms), out);
                                self.set_timer(Some(t));
                            }
                        }
                    }
                    return;
                }
                NodeKind::Branch { on, cases, default } => match on {
                    BranchOn::Digits => {
                        to = cases.get(&self.last_digits).unwrap_or(default).clone();
                    }
                    BranchOn::Var(v) => {
                        let value = self.vars.get(v.as_str()).map_or("", String::as_str);
                        to = cases.get(value).unwrap_or(default).clone();
                    }
                    BranchOn::List { list, key } => {
                        let request = RequestId(self.next_id());
                        out.push(IvrCommand::CheckList {
                            id: request,
                            list: list.clone(),
                            key: self.vars.get(key.as_str()).cloned().unwrap_or_default(),
                        });
                        self.state = State::Waiting {
                            node: node.id.clone(),
                            request,
                            timer: None,
                        };
                        return;
                    }
                },
                NodeKind::Http {
                    backend,
                    params,
                    timeout_ms,
                    ..
                } => {
                    let request = RequestId(self.next_id());
                    out.push(IvrCommand::Lookup {
                        id: request,
                        backend: backend.clone(),
                        params: params
                            .iter()
                            .map(|(p, v)| {
                                (
                                    p.as_str().to_owned(),
                                    self.vars.get(v.as_str()).cloned().unwrap_or_default(),
                                )
                            })
                            .collect(),
                    });
                    let timer = self.arm(millis(*timeout_ms), out);
                    self.state = State::Waiting {
                        node: node.id.clone(),
                        request,
                        timer: Some(timer),
                    };
                    return;
                }
                NodeKind::Set { vars, next } => {
                    for (name, template) in vars {
                        let value = clean_value(&substitute(template, &self.vars));
                        self.set_var(name, value, out);
                    }
                    to = next.clone();
                }
                NodeKind::Queue { queue } => {
                    self.finish(Outcome::Queue(queue.clone()), out);
                    out.push(IvrCommand::Queue(queue.clone()));
                    return;
                }
                NodeKind::Transfer { target } => {
                    self.finish(Outcome::Transfer(target.clone()), out);
                    out.push(IvrCommand::Transfer(target.clone()));
                    return;
                }
                NodeKind::Hangup => {
                    self.finish(Outcome::Hangup, out);
                    out.push(IvrCommand::Hangup);
                    return;
                }
            }
        }
    }

    fn set_var(&mut self, name: &VarName, value: String, out: &mut Vec<IvrCommand>) {
        if self.vars.len() >= MAX_VARIABLES && !self.vars.contains_key(name.as_str()) {
            return;
        }
        self.vars.insert(name.as_str().to_owned(), value.clone());
        out.push(IvrCommand::SetChannelVar {
            name: name.clone(),
            value,
        });
    }

    fn play(&mut self, prompt: &Prompt, out: &mut Vec<IvrCommand>) -> PlayId {
        let id = PlayId(self.next_id());
        let media = match &prompt.media {
            Media::File(f) => Media::File(f.clone()),
            Media::Tts { text, voice } => Media::Tts {
                text: substitute(text, &self.vars),
                voice: voice.clone(),
            },
        };
        out.push(IvrCommand::Play {
            id,
            media,
            barge_in: prompt.barge_in,
        });
        id
    }

    fn set_timer(&mut self, t: Option<TimerId>) {
        if let State::Gathering { timer, .. } = &mut self.state {
            *timer = t;
        }
    }

    fn gather_settings(&self, node: &NodeId) -> Option<super::model::Gather> {
        match self.flow.node(node).map(|n| &n.kind) {
            Some(NodeKind::Gather(g)) => Some((**g).clone()),
            _ => None,
        }
    }

    fn prompt_finished(&mut self, id: PlayId, out: &mut Vec<IvrCommand>) {
        match self.state.clone() {
            State::Playing { node, play, .. } if play == id => {
                if let Some(NodeKind::Play { next, .. }) = self.flow.node(&node).map(|n| &n.kind) {
                    let next = next.clone();
                    self.goto(next, out);
                }
            }
            State::Gathering {
                node,
                play: Some(play),
                ..
            } if play == id => {
                let Some(g) = self.gather_settings(&node) else {
                    return;
                };
                if let State::Gathering { play, .. } = &mut self.state {
                    *play = None;
                }
                let t = self.arm(millis(g.first_digit_timeout_ms), out);
                self.set_timer(Some(t));
            }
            _ => {}
        }
    }

    fn digit(&mut self, c: char, out: &mut Vec<IvrCommand>) {
        match self.state.clone() {
            State::Playing {
                node,
                barge_in: true,
                ..
            } => {
                out.push(IvrCommand::StopPlayback);
                self.pending.push(c);
                if let Some(NodeKind::Play { next, .. }) = self.flow.node(&node).map(|n| &n.kind) {
                    let next = next.clone();
                    self.goto(next, out);
                }
            }
            State::Gathering {
                play: Some(_),
                barge_in: true,
                ..
            } => {
                out.push(IvrCommand::StopPlayback);
                if let State::Gathering { play, .. } = &mut self.state {
                    *play = None;
                }
                self.gather_digit(c, out);
            }
            State::Gathering { play: None, .. } => self.gather_digit(c, out),
            _ => {}
        }
    }

    /// A digit counted as a gather's input (its prompt over or interrupted).
    fn gather_digit(&mut self, c: char, out: &mut Vec<IvrCommand>) {
        let State::Gathering {
            node,
            digits,
            timer,
            ..
        } = self.state.clone()
        else {
            return;
        };
        let Some(g) = self.gather_settings(&node) else {
            return;
        };
        if let Some(t) = timer {
            out.push(IvrCommand::CancelTimer(t));
            self.set_timer(None);
        }
        if g.terminator == Some(c) {
            self.input_ended(digits, out);
            return;
        }
        let mut digits = digits;
        digits.push(c);
        if digits.len() >= usize::from(g.max_digits) {
            self.input_ended(digits, out);
            return;
        }
        if let State::Gathering { digits: d, .. } = &mut self.state {
            d.clone_from(&digits);
        }
        let t = self.arm(millis(g.inter_digit_timeout_ms), out);
        self.set_timer(Some(t));
    }

    fn timer(&mut self, id: TimerId, out: &mut Vec<IvrCommand>) {
        match self.state.clone() {
            State::Gathering {
                timer: Some(t),
                digits,
                ..
            } if t == id => {
                self.set_timer(None);
                if digits.is_empty() {
                    self.retry_or(RetryReason::Timeout, out);
                } else {
                    self.input_ended(digits, out);
                }
            }
            State::Waiting {
                request,
                timer: Some(t),
                ..
            } if t == id => {
                if let State::Waiting { timer, .. } = &mut self.state {
                    *timer = None;
                }
                self.lookup_answer(request, None, out);
            }
            _ => {}
        }
    }

    fn input_ended(&mut self, digits: String, out: &mut Vec<IvrCommand>) {
        let State::Gathering { node, .. } = self.state.clone() else {
            return;
        };
        let Some(g) = self.gather_settings(&node) else {
            return;
        };
        if digits.is_empty() {
            self.retry_or(RetryReason::Timeout, out);
            return;
        }
        self.last_digits.clone_from(&digits);
        if let Some(var) = &g.store {
            self.set_var(var, digits.clone(), out);
        }
        let (matched, to) = if g.cases.is_empty() {
            (Some("*".to_owned()), g.next.clone())
        } else {
            match g.cases.get(&digits) {
                Some(to) => (Some(digits.clone()), Some(to.clone())),
                None => (None, None),
            }
        };
        out.push(IvrCommand::Event(IvrEvent::Digits {
            node: node.clone(),
            digits,
            matched,
        }));
        match to {
            Some(to) => self.goto(to, out),
            None => self.retry_or(RetryReason::Invalid, out),
        }
    }

    fn retry_or(&mut self, reason: RetryReason, out: &mut Vec<IvrCommand>) {
        let State::Gathering { node, attempt, .. } = self.state.clone() else {
            return;
        };
        let Some(g) = self.gather_settings(&node) else {
            return;
        };
        if attempt < g.retries {
            let attempt = attempt + 1;
            out.push(IvrCommand::Event(IvrEvent::Retry {
                node: node.clone(),
                reason,
                attempt,
            }));
            let play = self.play(&g.prompt, out);
            self.state = State::Gathering {
                node,
                attempt,
                play: Some(play),
                barge_in: g.prompt.barge_in,
                digits: String::new(),
                timer: None,
            };
        } else {
            let to = match reason {
                RetryReason::Timeout => g.timeout,
                RetryReason::Invalid => g.invalid,
            };
            self.goto(to, out);
        }
    }

    fn lookup_answer(
        &mut self,
        id: RequestId,
        fields: Option<Vec<(String, String)>>,
        out: &mut Vec<IvrCommand>,
    ) {
        let State::Waiting {
            node,
            request,
            timer,
        } = self.state.clone()
        else {
            return;
        };
        if request != id {
            return;
        }
        let Some(NodeKind::Http {
            backend,
            results,
            next,
            on_error,
            ..
        }) = self.flow.node(&node).map(|n| n.kind.clone())
        else {
            return;
        };
        if let Some(t) = timer {
            out.push(IvrCommand::CancelTimer(t));
        }
        self.state = State::Done;
        let mut kept = Vec::new();
        if let Some(fields) = &fields {
            for (field, var) in &results {
                if let Some((_, v)) = fields.iter().find(|(f, _)| f == field.as_str()) {
                    let v = clean_value(v);
                    kept.push((field.as_str().to_owned(), v.clone()));
                    self.set_var(var, v, out);
                }
            }
        }
        out.push(IvrCommand::Event(IvrEvent::Lookup {
            node,
            backend,
            ok: fields.is_some(),
            fields: kept,
        }));
        self.goto(if fields.is_some() { next } else { on_error }, out);
    }

    fn list_answer(&mut self, id: RequestId, member: Option<bool>, out: &mut Vec<IvrCommand>) {
        let State::Waiting { node, request, .. } = self.state.clone() else {
            return;
        };
        if request != id {
            return;
        }
        let Some(NodeKind::Branch {
            on: BranchOn::List { list, .. },
            cases,
            default,
        }) = self.flow.node(&node).map(|n| n.kind.clone())
        else {
            return;
        };
        self.state = State::Done;
        out.push(IvrCommand::Event(IvrEvent::ListChecked {
            node,
            list,
            member,
        }));
        let key = match member {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        let to = cases.get(key).unwrap_or(&default).clone();
        self.goto(to, out);
    }
}
