//! The engine's PBX side: the first AMI connection (through a [`PbxConnector`]), the services
//! that need it (originate jobs, agents, live state, call commands), the tasks that follow
//! Asterisk (live state, recording policy, hangup causes) and the AMI
//! event loop, until shutdown or until the client closes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};

use super::health::EngineHealth;
use super::AppError;
use crate::asterisk::ami::action::CoreSettings;
use crate::asterisk::ami::{AmiClient, AmiError, AmiSettings, ConnectionState};
use crate::asterisk::call_commands::AmiCallCommands;
use crate::asterisk::call_control::spawn_originate_service;
use crate::asterisk::events::{EventHub, PbxEvent};
use crate::asterisk::ingest::IngestHandle;
use crate::asterisk::live_follower::LiveFollower;
use crate::asterisk::recording_policy::spawn_publisher as spawn_policy_publisher;
use crate::config::Config;
use crate::core::agents::AgentService;
use crate::core::call_checks::CallChecks;
use crate::core::error_chain;
use crate::core::expand_ws::{caller_id_text, ExpandWebservices};
use crate::core::live::{LiveState, SharedLive};
use crate::facades::{PbxServices, Services};
use crate::store::originate_jobs::SqliteOriginateStore;
use crate::store::SqliteActionJournal;

/// A connection attempt's future.
pub type ConnectFuture<'a> = Pin<Box<dyn Future<Output = Result<AmiClient, AmiError>> + Send + 'a>>;

/// How the engine gets its first AMI connection (the client reconnects by itself after that).
pub trait PbxConnector: Send + Sync {
    /// Resolves to a logged-in client, or to an error the engine cannot recover from.
    fn connect(&self) -> ConnectFuture<'_>;
}

/// Connects to the node's AMI, retrying with backoff (500 ms doubling to 10 s) while Asterisk is
/// unreachable. Refused credentials are a configuration error: fatal.
pub struct AmiConnector {
    settings: AmiSettings,
}

impl AmiConnector {
    /// A connector over these settings.
    pub fn new(settings: AmiSettings) -> Self {
        Self { settings }
    }

    /// A connector to the primary node's AMI.
    pub fn from_config(config: &Config) -> Self {
        Self::new(config.primary_node().ami.settings())
    }
}

impl PbxConnector for AmiConnector {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                match AmiClient::connect(self.settings.clone()).await {
                    Ok(client) => return Ok(client),
                    Err(e @ AmiError::LoginFailed { .. }) => return Err(e),
                    Err(e) => {
                        warn!(error = %error_chain(&e), retry_in = ?delay, "AMI not reachable");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            }
        })
    }
}

/// Connects (retrying while Asterisk is unreachable), attaches the PBX services to `services`
/// and follows AMI's events (from the [`EventHub`]) until `shutdown` resolves or the client
/// closes. A `Cdr` event, or a lag that may have hidden one, wakes the ingestor.
pub async fn run(
    config: &Config,
    connector: &dyn PbxConnector,
    ingest: &IngestHandle,
    health: &EngineHealth,
    services: &Services,
    webservices: Option<&ExpandWebservices>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AppError> {
    tokio::pin!(shutdown);
    let client = tokio::select! {
        client = connector.connect() => client?,
        _ = shutdown.as_mut() => return Ok(()),
    };
    health.attach_ami(client.connection_events());
    let policy = spawn_policy_publisher(client.clone(), config.recordings.policy());
    // The live state (agents, queues, extensions), and the one reader of AMI's events: each
    // parsed once, device states kept in the live state, every consumer handed the result.
    let live = Arc::new(SharedLive::new(LiveState::default()));
    let hub = EventHub::start_with(&client, live.clone(), client.event_capacity());
    // Each channel's hangup cause (the CDR has none): getrecords' causecode.
    let causes =
        crate::asterisk::hangup_causes::spawn_recorder(&hub, services.hangup_causes.clone());
    // The health probe reads the hub's event lag; the ingestor is woken by `Cdr` events.
    health.attach_events(hub.clone());
    let mut events = hub.subscribe();
    let mut state = client.connection_events();

    // Rebuilt from snapshots on every reconnect.
    let follower = LiveFollower::spawn(&hub, config.primary_node().queue_control(client.clone()));
    // Originate jobs: stored before they are sent, followed through Asterisk's events.
    let originate = spawn_originate_service(
        &hub,
        Arc::new(SqliteOriginateStore::open(&config.store.path)?),
        &config.originate.context,
        config.originate_settings(),
    )
    .await?
    .with_action_journal(Arc::new(SqliteActionJournal::open(&config.store.path)?))
    .with_call_checks(CallChecks::new(live.clone(), config.dialing.ddrs.clone()));
    let agents = AgentService::new(
        services.directory.clone(),
        Arc::new(config.primary_node().queue_control(client.clone())),
        live.clone(),
        services.naming.clone(),
    )
    .with_action_journal(services.actions.clone())
    .with_non_agent_extensions(config.agents.non_agent());
    services.attach_pbx(PbxServices {
        originate: originate.clone(),
        agents,
        live: live.clone(),
        commands: Arc::new(AmiCallCommands::new(client.clone())),
    });
    // The outbound dialer: paces every Active campaign through the originate service.
    let dialer = services.dialer.calls().map(|calls| {
        crate::core::dialer::runner::DialerRunner::spawn(crate::core::dialer::runner::RunnerParts {
            store: services.dialer.store().clone(),
            calls: calls.clone(),
            center: services.dialer.center().clone(),
            originate: originate.clone(),
            live: live.clone(),
            journal: services.journal.clone(),
            board: services.dialer.pacing().clone(),
            schedule: services.dialer.schedule().cloned(),
            directory: Some(services.directory.clone()),
        })
    });
    match client.send(&CoreSettings).await {
        Ok(settings) => info!(
            "connected to Asterisk {}",
            settings
                .get("AsteriskVersion")
                .unwrap_or("(unknown version)")
        ),
        Err(e) => warn!(error = %e, "CoreSettings failed"),
    }

    loop {
        tokio::select! {
            _ = shutdown.as_mut() => break,
            event = events.recv() => match event {
                Ok(received) => {
                    if received.event == PbxEvent::Cdr {
                        ingest.wake();
                    }
                    // The customer's popup: told on its own task, never holding events back.
                    if let (Some(ws), PbxEvent::AgentConnect { member, caller, caller_num, caller_name, ivr_data, .. }) =
                        (webservices, &received.event)
                    {
                        ws.push_agent_info_detached(
                            caller.as_str().to_owned(),
                            member.queue.as_ref().map(|q| q.as_str().to_owned()).unwrap_or_default(),
                            caller_id_text(caller_name, caller_num),
                            member.interface.clone(),
                            ivr_data.clone(),
                        );
                    }
                    debug!(event = ?received.event, "AMI event");
                }
                Err(RecvError::Lagged(n)) => {
                    // A missed `Cdr` must not delay ingestion until its next poll.
                    warn!(missed = n, "event subscriber lagged; ingestion woken");
                    ingest.wake();
                }
                Err(RecvError::Closed) => break,
            },
            changed = state.changed() => {
                if changed.is_err() {
                    break;
                }
                let now = *state.borrow_and_update();
                info!(?now, "AMI connection state");
                if now == ConnectionState::Closed {
                    break;
                }
            }
        }
    }
    if let Some(d) = &dialer {
        d.stop();
    }
    originate.shutdown();
    follower.stop();
    policy.abort();
    causes.abort();
    client.logoff().await?;
    Ok(())
}
