//! The IVR runtime: inbound calls routed to a flow run it over ARI.
//!
//! One [`AriApp`] session of the Stasis application `centralita-ivr` (the dialplan's
//! `centralita-ivr` context hands it calls with the DID as the one argument). On a channel's
//! `StasisStart` the runtime finds the flow routed to the DID (none: the call is hung up with
//! cause 1, unallocated number), answers it and runs the flow with
//! [`run_flow`] over an [`AriCall`]: prompts played with their own [`PlaybackId`] (TTS through
//! the [`PromptCache`], files as `sound:<name>`), queues and transfers by continuing the channel
//! in the dialplan (`centralita-ivr-queue` with `QUEUE` set, `centralita-ivr-transfer` once the
//! outbound policy admits the number), the CDR id the channel's id. The call's ARI events feed
//! the flow: digits, finished playbacks, and `StasisEnd` (or `Gone` after a reconnect) as the
//! hang-up.
//!
//! **Architecture Invariant:** a call whose IVR state was lost (the engine restarted while it
//! was in the application) is hung up when the new session's resync reports it, never left in
//! silence; a channel still known (only the event stream dropped) goes on in its flow.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ari::app::{AppEvent, AriApp, AriAppSettings};
use super::ari::events::AriEvent;
use super::ari::rest::{self, AppName, Channel, ChannelId, HangupReason, PlaybackId};
use super::ari::{AriClient, AriError};
use crate::core::audit::Actor;
use crate::core::directory::QueueName;
use crate::core::error_chain;
use crate::core::ivr::{
    run_flow, BackendName, CallStart, Did, IvrCall, IvrCallId, IvrCallInfo, IvrInput, IvrJournal,
    IvrLookup, IvrPorts, IvrRecord, IvrService, ListLookup, Media, PlayId, VarName,
};
use crate::core::outbound_policy::OutboundPolicy;
use crate::core::tts::PromptCache;
use crate::core::{BoxFuture, PortError};

/// The Stasis application the dialplan's `centralita-ivr` context enters.
pub const APP: &str = "centralita-ivr";
/// The dialplan context that queues a call the flow sent to a queue (`QUEUE` set first).
pub const QUEUE_CONTEXT: &str = "centralita-ivr-queue";
/// The dialplan context that sends a call on to an extension or number.
pub const TRANSFER_CONTEXT: &str = "centralita-ivr-transfer";
/// The actor of the outbound policy for the IVR's transfers.
pub const POLICY_API: &str = "ivr";

/// What the runtime needs.
#[derive(Clone)]
pub struct IvrRuntimeParts {
    /// The node's ARI.
    pub client: AriClient,
    /// Flows, routes and the IVR CDR.
    pub ivr: IvrService,
    /// The TTS prompts (`None`: a TTS prompt is skipped).
    pub tts: Option<Arc<PromptCache>>,
    /// The TTS voice of a prompt that names none.
    pub voice: String,
    /// The TTS rate (words per minute).
    pub rate: u32,
    /// Named lookups.
    pub lookup: Arc<dyn IvrLookup>,
    /// Key/value lists.
    pub lists: Arc<dyn ListLookup>,
    /// The policy every transfer to a number passes.
    pub policy: Arc<OutboundPolicy>,
}

/// A running runtime: stop it with [`IvrRuntime::stop`] (or drop it).
pub struct IvrRuntime {
    task: JoinHandle<()>,
    ready: Arc<AtomicBool>,
}

impl IvrRuntime {
    /// Starts the session; calls are taken once the application is registered
    /// ([`IvrRuntime::ready`]).
    pub fn spawn(parts: IvrRuntimeParts) -> Self {
        let ready = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run(parts, ready.clone()));
        Self { task, ready }
    }

    /// Whether the application's event stream is up now (a call entering it is taken).
    pub fn ready(&self) -> Arc<AtomicBool> {
        self.ready.clone()
    }

    /// Stops the session; calls in it stay in Asterisk and are hung up by the next session.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for IvrRuntime {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every lookup fails (the flow takes its error path): the site configured no backend.
pub struct NoLookups;

impl IvrLookup for NoLookups {
    fn lookup(
        &self,
        backend: &BackendName,
        _params: &[(String, String)],
    ) -> BoxFuture<'_, Result<Vec<(String, String)>, PortError>> {
        let msg = format!("no lookup backend {backend}");
        Box::pin(async move { Err(PortError::from(msg)) })
    }
}

type Plays = Arc<Mutex<HashMap<PlaybackId, PlayId>>>;

struct Live {
    inputs: mpsc::Sender<IvrInput>,
    plays: Plays,
}

type Calls = Arc<Mutex<HashMap<ChannelId, Live>>>;

async fn run(parts: IvrRuntimeParts, ready: Arc<AtomicBool>) {
    let app_name = AppName::new(APP).expect("valid app name");
    let mut app = AriApp::start(parts.client.clone(), AriAppSettings::new(app_name), []);
    let calls: Calls = Arc::default();
    while let Some(event) = app.recv().await {
        match event {
            AppEvent::Connected { .. } => ready.store(true, Ordering::SeqCst),
            AppEvent::Disconnected { .. } => ready.store(false, Ordering::SeqCst),
            AppEvent::Recovered(channel) => {
                let known = calls.lock().expect("calls").contains_key(&channel.id);
                if !known {
                    tracing::warn!(channel = %channel.id, "ivr: call in the application with no flow state, hung up");
                    let client = parts.client.clone();
                    tokio::spawn(async move {
                        let _ = client.hangup(&channel.id, HangupReason::Normal).await;
                    });
                }
            }
            AppEvent::Gone(id) => end(&calls, &id),
            AppEvent::Event(e) => on_event(&parts, &calls, e),
        }
    }
}

fn send(calls: &Calls, id: &ChannelId, input: IvrInput) {
    if let Some(live) = calls.lock().expect("calls").get(id) {
        if live.inputs.try_send(input).is_err() {
            tracing::warn!(channel = %id, "ivr: input dropped (flow busy)");
        }
    }
}

fn end(calls: &Calls, id: &ChannelId) {
    if let Some(live) = calls.lock().expect("calls").remove(id) {
        let _ = live.inputs.try_send(IvrInput::HungUp);
    }
}

fn on_event(parts: &IvrRuntimeParts, calls: &Calls, event: AriEvent) {
    match event {
        AriEvent::StasisStart { args, channel } => {
            if calls.lock().expect("calls").contains_key(&channel.id) {
                return;
            }
            let (tx, rx) = mpsc::channel(64);
            let plays: Plays = Arc::default();
            calls.lock().expect("calls").insert(
                channel.id.clone(),
                Live {
                    inputs: tx,
                    plays: plays.clone(),
                },
            );
            let did = args.first().cloned().unwrap_or_default();
            let (parts, calls) = (parts.clone(), calls.clone());
            tokio::spawn(async move {
                let id = channel.id.clone();
                start_call(parts, channel, did, plays, rx).await;
                calls.lock().expect("calls").remove(&id);
            });
        }
        AriEvent::StasisEnd { channel } => end(calls, &channel.id),
        AriEvent::ChannelDtmfReceived { digit, channel, .. } => {
            send(calls, &channel.id, IvrInput::Digit(digit))
        }
        AriEvent::PlaybackFinished { playback } => {
            let Some(ch) = playback
                .target_uri
                .strip_prefix("channel:")
                .and_then(ChannelId::new)
            else {
                return;
            };
            let play = calls
                .lock()
                .expect("calls")
                .get(&ch)
                .and_then(|l| l.plays.lock().expect("plays").remove(&playback.id));
            if let Some(play) = play {
                send(calls, &ch, IvrInput::PromptFinished(play));
            }
        }
        _ => {}
    }
}

/// The flow routed to `did` (none when it is not a DID or not routed).
async fn routed_flow(
    ivr: &IvrService,
    did: &str,
) -> Result<Option<crate::core::ivr::Flow>, PortError> {
    let Ok(did) = Did::new(did) else {
        return Ok(None);
    };
    let store = ivr.store().clone();
    let route = crate::core::off_runtime(move || {
        Ok::<_, PortError>(
            store
                .routes()?
                .into_iter()
                .find(|(d, _)| *d == did)
                .map(|(_, f)| f),
        )
    })
    .await?;
    match route {
        Some(flow) => ivr
            .flow(flow)
            .await
            .map_err(|e| PortError::from(error_chain(&e))),
        None => Ok(None),
    }
}

async fn start_call(
    parts: IvrRuntimeParts,
    channel: Channel,
    did: String,
    plays: Plays,
    inputs: mpsc::Receiver<IvrInput>,
) {
    let id = channel.id.clone();
    let flow = match routed_flow(&parts.ivr, &did).await {
        Ok(Some(f)) => f,
        Ok(None) => {
            tracing::info!(channel = %id, did = %did, "ivr: no flow routed to the DID, hung up (unallocated)");
            let _ = parts.client.hangup(&id, HangupReason::Unallocated).await;
            return;
        }
        Err(e) => {
            tracing::warn!(channel = %id, error = %error_chain(e.as_ref()), "ivr: routes not read, hung up");
            let _ = parts.client.hangup(&id, HangupReason::Congestion).await;
            return;
        }
    };
    let Ok(call_id) = IvrCallId::new(id.as_str()) else {
        let _ = parts.client.hangup(&id, HangupReason::Normal).await;
        return;
    };
    if let Err(e) = parts.client.answer(&id).await {
        tracing::info!(channel = %id, error = %e, "ivr: call not answered (gone?)");
        return;
    }
    let call = AriCall {
        client: parts.client.clone(),
        channel: id.clone(),
        did: did.clone(),
        plays,
        current: Mutex::new(None),
        tts: parts.tts.clone(),
        voice: parts.voice.clone(),
        rate: parts.rate,
        policy: parts.policy.clone(),
    };
    let start = CallStart {
        call: call_id,
        info: IvrCallInfo {
            ddr: did,
            origem: channel
                .caller
                .number
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .take(32)
                .collect(),
            tronco: String::new(),
            idcti: String::new(),
        },
        vars: Vec::new(),
    };
    let ports = IvrPorts {
        call: Arc::new(call),
        lookup: parts.lookup.clone(),
        lists: parts.lists.clone(),
        journal: Arc::new(StoreJournal(parts.ivr.clone())),
    };
    match run_flow(Arc::new(flow), start, ports, inputs).await {
        Ok(outcome) => tracing::info!(channel = %id, ?outcome, "ivr: call left its flow"),
        Err(e) => {
            tracing::warn!(channel = %id, error = %error_chain(&e), "ivr: flow stopped, call hung up")
        }
    }
}

/// The IVR store as the flow's journal.
struct StoreJournal(IvrService);

impl IvrJournal for StoreJournal {
    fn record(&self, record: &IvrRecord) -> Result<(), PortError> {
        self.0.store().record(record)
    }
}

/// One call's side effects over ARI.
pub struct AriCall {
    client: AriClient,
    channel: ChannelId,
    did: String,
    plays: Plays,
    current: Mutex<Option<PlaybackId>>,
    tts: Option<Arc<PromptCache>>,
    voice: String,
    rate: u32,
    policy: Arc<OutboundPolicy>,
}

fn port(e: AriError) -> PortError {
    PortError::from(e.to_string())
}

/// The extension a transfer target continues at in `centralita-ivr-transfer` (which sends the
/// phones, `_1XXX`, to `internal` and every other number to `outbound`): digits with an
/// optional leading `+`, at most 20 (pure).
pub fn transfer_extension(target: &str) -> Option<&str> {
    let ok = !target.is_empty()
        && target.len() <= 20
        && target
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'+'));
    ok.then_some(target)
}

impl AriCall {
    async fn media(&self, media: &Media) -> Result<rest::Media, PortError> {
        match media {
            Media::File(name) => Ok(rest::Media::Sound(name.as_str().to_owned())),
            Media::Tts { text, voice } => {
                let cache = self.tts.as_ref().ok_or("no TTS configured")?;
                let voice = voice
                    .as_ref()
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_else(|| self.voice.clone());
                let prompt = cache
                    .speak(text, &voice, self.rate)
                    .await
                    .map_err(|e| PortError::from(e.to_string()))?;
                let path = prompt
                    .uri
                    .strip_prefix("sound:")
                    .ok_or("prompt URI")?
                    .to_owned();
                Ok(rest::Media::Prompt(path))
            }
        }
    }
}

impl IvrCall for AriCall {
    fn play(
        &self,
        id: PlayId,
        media: &Media,
        _barge_in: bool,
    ) -> BoxFuture<'_, Result<(), PortError>> {
        let media = media.clone();
        Box::pin(async move {
            let m = self.media(&media).await?;
            // Unique: the channel's id is, and the play's id is within the call.
            let pb = PlaybackId::new(format!("{}.p{}", self.channel, id.0)).ok_or("playback id")?;
            self.plays.lock().expect("plays").insert(pb.clone(), id);
            *self.current.lock().expect("current") = Some(pb.clone());
            if let Err(e) = self.client.play(&self.channel, &pb, &m).await {
                self.plays.lock().expect("plays").remove(&pb);
                return Err(port(e));
            }
            Ok(())
        })
    }

    fn stop_playback(&self) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            let pb = self.current.lock().expect("current").take();
            match pb {
                Some(pb) => match self.client.stop_playback(&pb).await {
                    Err(e) if !e.is_not_found() => Err(port(e)),
                    _ => Ok(()),
                },
                None => Ok(()),
            }
        })
    }

    fn set_var(&self, name: &VarName, value: &str) -> BoxFuture<'_, Result<(), PortError>> {
        let (name, value) = (name.as_str().to_owned(), value.to_owned());
        Box::pin(async move {
            let name = rest::VarName::new(name).ok_or("variable name")?;
            self.client
                .set_variable(&self.channel, &name, &value)
                .await
                .map_err(port)
        })
    }

    fn queue(&self, queue: &QueueName) -> BoxFuture<'_, Result<(), PortError>> {
        let queue = queue.as_str().to_owned();
        Box::pin(async move {
            let var = rest::VarName::new("QUEUE").ok_or("variable name")?;
            self.client
                .set_variable(&self.channel, &var, &queue)
                .await
                .map_err(port)?;
            self.client
                .continue_in_dialplan(&self.channel, QUEUE_CONTEXT, &self.did, 1)
                .await
                .map_err(port)
        })
    }

    fn transfer(&self, target: &str) -> BoxFuture<'_, Result<(), PortError>> {
        let target = target.to_owned();
        Box::pin(async move {
            let exten = transfer_extension(&target).ok_or("transfer target")?;
            self.policy
                .check_destination(&Actor::new(POLICY_API, POLICY_API), None, exten)
                .map_err(|r| PortError::from(format!("outbound policy: {r}")))?;
            self.client
                .continue_in_dialplan(&self.channel, TRANSFER_CONTEXT, exten, 1)
                .await
                .map_err(port)
        })
    }

    fn hangup(&self) -> BoxFuture<'_, Result<(), PortError>> {
        Box::pin(async move {
            match self
                .client
                .hangup(&self.channel, HangupReason::Normal)
                .await
            {
                Err(e) if !e.is_not_found() => Err(port(e)),
                _ => Ok(()),
            }
        })
    }
}
