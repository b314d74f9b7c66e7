//! The `centralita` command line: parses arguments, sets up logging and wires the pieces.
//! No protocol or business logic lives here.

use std::error::Error;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use centralita::app::{EngineHealth, PbxServices, Services};
use centralita::asterisk::call_commands::AmiCallCommands;
use centralita::asterisk::call_control::spawn_originate_service;
use centralita::asterisk::live_follower::LiveFollower;
use centralita::core::agents::AgentService;
use centralita::core::live::LiveState;
use centralita::facades;
use centralita::http;
use centralita::store::originate_jobs::SqliteOriginateStore;
use centralita::store::SqliteActionJournal;

use centralita::admin::{
    AdminCommand, AgentCommand, CredentialCommand, PauseReasonCommand, RecordingsCommand,
};
use centralita::asterisk::ami::action::CoreSettings;
use centralita::asterisk::ami::{AmiClient, AmiError, AmiSettings, ConnectionState};
use centralita::asterisk::ingest::{AfterPoll, IngestHandle};
use centralita::asterisk::recording_policy::spawn_publisher as spawn_policy_publisher;
use centralita::config::Config;
use centralita::core::audit::{ActionJournal, Actor, EngineAction};
use centralita::core::error_chain;
use centralita::core::recordings::Cataloguer;
use centralita::recording_media::MediaCodecs;
use centralita::store::SqliteJournal;
use centralita::store::SqliteRecordings;
use clap::{Parser, Subcommand};
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, error, info, warn};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "centralita", version, about = "Telephony engine over Asterisk")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect to Asterisk, ingest its CDRs and queue_log into the store, follow live state, run
    /// originate jobs and serve HTTP (`/healthz`) until Ctrl-C or SIGTERM.
    Serve {
        /// Path to the TOML configuration file.
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
    },
    /// Provision the directory: agents, pause reasons, API credentials (see `admin --help`).
    Admin {
        /// Path to the TOML configuration file (its `[store]` path is used; changes are
        /// journaled there as the engine's own actions, api `admin`).
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
        #[command(subcommand)]
        command: centralita::admin::AdminCommand,
    },
}

/// Big allocations (Argon2id works in 19 MiB per verification, on whichever blocking thread
/// runs it) are mapped and unmapped on their own, so memory goes back to the system after a
/// burst of key and password checks. glibc otherwise raises its mmap threshold after the first
/// such free and keeps later blocks in per-thread arenas for good.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_big_allocations_to_the_system() {
    extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    /// glibc's `M_MMAP_THRESHOLD`; setting it also turns off the dynamic threshold.
    const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
    // SAFETY: mallopt only tunes the allocator; called once, before any other thread exists.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_big_allocations_to_the_system() {}

fn main() -> ExitCode {
    return_big_allocations_to_the_system();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => serve(config).await,
        Command::Admin { config, command } => admin(config, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{}", error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn admin(
    config_path: PathBuf,
    command: centralita::admin::AdminCommand,
) -> Result<(), Box<dyn Error>> {
    let config = Config::load(&config_path)?;
    let stdin = std::io::stdin();
    let what = admin_action(&command);
    let result = match command {
        AdminCommand::Recordings(cmd) => centralita::admin::run_recordings(
            &config,
            cmd,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        ),
        command => centralita::admin::run(
            &config.store.path,
            command,
            &mut stdin.lock(),
            &mut std::io::stdout(),
        ),
    };
    if let Some((action, target, params)) = what {
        let actor = Actor::admin(os_user());
        let outcome = centralita::core::audit::outcome_of(&result);
        let entry = EngineAction::now(&actor, action, target, params, outcome);
        match SqliteActionJournal::open(&config.store.path) {
            Ok(journal) => {
                if let Err(e) = journal.record(&entry) {
                    warn!(error = %error_chain(&e), "admin action not journaled");
                }
            }
            Err(e) => warn!(error = %error_chain(&e), "admin action not journaled"),
        }
    }
    result?;
    Ok(())
}

/// Who runs the admin command line: the invoking user behind sudo, else the login user.
fn os_user() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The journal entry (action, target, params) of an admin command that changes something;
/// `None` for listings. Never a secret: a password read from stdin shows as `password=set`.
fn admin_action(command: &AdminCommand) -> Option<(&'static str, String, String)> {
    Some(match command {
        AdminCommand::Agent(AgentCommand::Add {
            number,
            profile,
            supervisor,
            queues,
            extension,
            password_stdin,
            ..
        }) => (
            "agent.add",
            number.clone(),
            format!(
                "profile={profile} supervisor={supervisor} queues={} extension={}{}",
                queues.join(","),
                extension.as_deref().unwrap_or("-"),
                if *password_stdin { " password=set" } else { "" }
            ),
        ),
        AdminCommand::Agent(AgentCommand::Remove { number }) => {
            ("agent.remove", number.clone(), String::new())
        }
        AdminCommand::PauseReason(PauseReasonCommand::Add {
            id,
            max_seconds,
            queues,
            ..
        }) => (
            "pause_reason.add",
            id.clone(),
            format!(
                "max_seconds={} queues={}",
                max_seconds.map_or("-".to_owned(), |s| s.to_string()),
                queues.join(",")
            ),
        ),
        AdminCommand::PauseReason(PauseReasonCommand::Remove { id }) => {
            ("pause_reason.remove", id.clone(), String::new())
        }
        AdminCommand::Credential(CredentialCommand::Create { system, api }) => (
            "credential.create",
            system.clone(),
            format!("api={}", api.as_str()),
        ),
        AdminCommand::Credential(CredentialCommand::Import { system, api }) => (
            "credential.import",
            system.clone(),
            format!("api={} key=set", api.as_str()),
        ),
        AdminCommand::Credential(CredentialCommand::Revoke { id }) => {
            ("credential.revoke", id.clone(), String::new())
        }
        AdminCommand::Import { file } => ("import", file.display().to_string(), String::new()),
        AdminCommand::Recordings(RecordingsCommand::Import {
            dir,
            dry_run: false,
        }) => (
            "recordings.import",
            dir.display().to_string(),
            String::new(),
        ),
        AdminCommand::Recordings(
            RecordingsCommand::Import { dry_run: true, .. } | RecordingsCommand::Sweep { .. },
        ) => return None,
        AdminCommand::Agent(AgentCommand::List)
        | AdminCommand::PauseReason(PauseReasonCommand::List)
        | AdminCommand::Credential(CredentialCommand::List) => return None,
    })
}

async fn serve(config_path: PathBuf) -> Result<(), Box<dyn Error>> {
    let config = Arc::new(Config::load(&config_path)?);
    let node = config.primary_node();
    // Never the secrets: `Secret` has no Display and its Debug prints ***.
    info!(
        node = %node.name,
        ami = %format!("{}:{}", node.ami.host, node.ami.port),
        ami_user = %node.ami.username,
        ari = node.ari.as_ref().map_or("(none)", |a| a.url.as_str()),
        timezone = %config.engine.timezone,
        "configuration loaded"
    );
    // History first: ingestion runs whether or not AMI is up.
    let store = SqliteJournal::open(&config.store.path)?;
    info!(path = %config.store.path.display(), "store open");
    // The recordings catalogue follows the journal on the ingestion thread.
    let cataloguer = Cataloguer::new(
        Arc::new(SqliteRecordings::open(&config.store.path)?),
        Arc::new(MediaCodecs),
        &node.recordings_dir,
    );
    let catalogue: AfterPoll =
        Box::new(move || cataloguer.run_once().map(drop).map_err(|e| error_chain(&e)));
    let ingest = IngestHandle::spawn_with_hook(store, node.ingest_settings(), Some(catalogue))?;

    let health = EngineHealth::new(
        ingest.progress(),
        Duration::from_secs(config.http.max_ingest_lag_seconds),
    );
    // The facades' view of the core; the PBX part is attached once AMI is up.
    let services = Arc::new(Services::open(config.clone())?);
    let listener = tokio::net::TcpListener::bind(config.http.bind).await?;
    info!(addr = %listener.local_addr()?, "HTTP listening");
    let router = http::router(
        Arc::new(health.clone()),
        facades::router(services.clone()),
        config.http.limits(),
    );
    let (http_stop, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http_task = tokio::spawn(http::run(listener, router, config.http.limits(), async {
        let _ = http_stopped.await;
    }));
    // The dialplan asks the engine whether an inbound caller is blacklisted (FastAGI); only
    // with campaigns, which own the blacklist.
    let agi = centralita::asterisk::fastagi::spawn_blacklist(
        config.agi.bind,
        config.agi.settings(),
        centralita::asterisk::fastagi::BlacklistScript::new(
            services.campaigns.clone(),
            config.ucontact.campaigns(),
            config.engine.time_zone(),
        ),
    )
    .await?;

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let result = run_ami(&config, &ingest, &health, &services, &mut shutdown).await;
    info!("shutting down");
    let _ = http_stop.send(());
    if let Ok(Err(e)) = http_task.await {
        warn!(error = %e, "HTTP server ended with an error");
    }
    if let Some(agi) = agi {
        agi.abort();
    }
    ingest.shutdown().await;
    result
}

/// Connects to AMI (retrying while Asterisk is unreachable) and follows its events until
/// shutdown. An AMI `Cdr` event wakes the ingestor.
async fn run_ami(
    config: &Config,
    ingest: &IngestHandle,
    health: &EngineHealth,
    services: &Services,
    shutdown: &mut Pin<&mut impl Future<Output = ()>>,
) -> Result<(), Box<dyn Error>> {
    let client = tokio::select! {
        client = connect_until_up(config.primary_node().ami.settings()) => client?,
        _ = shutdown.as_mut() => return Ok(()),
    };
    health.attach_ami(client.connection_events());
    let policy = spawn_policy_publisher(client.clone(), config.recordings.policy());
    // Each channel's hangup cause (the CDR has none): getrecords' causecode.
    let causes = centralita::asterisk::hangup_causes::spawn_recorder(
        &client,
        services.hangup_causes.clone(),
    );
    let mut events = client.subscribe();
    let mut state = client.connection_events();

    // Live state (agents, queues, extensions), rebuilt from snapshots on every reconnect.
    let live = Arc::new(RwLock::new(LiveState::default()));
    let follower = LiveFollower::spawn(
        client.clone(),
        config.primary_node().queue_control(client.clone()),
        live.clone(),
    );
    // Originate jobs: stored before they are sent, followed through Asterisk's events.
    let originate = spawn_originate_service(
        client.clone(),
        Arc::new(SqliteOriginateStore::open(&config.store.path)?),
        &config.originate.context,
        config.originate_settings(),
    )
    .await?
    .with_action_journal(Arc::new(SqliteActionJournal::open(&config.store.path)?));
    let agents = AgentService::new(
        services.directory.clone(),
        Arc::new(config.primary_node().queue_control(client.clone())),
        live.clone(),
    )
    .with_action_journal(services.actions.clone())
    .with_non_agent_extensions(config.agents.non_agent());
    services.attach_pbx(PbxServices {
        originate: originate.clone(),
        agents,
        live: live.clone(),
        commands: Arc::new(AmiCallCommands::new(client.clone())),
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
                Ok(event) => {
                    health.note_event(event.get("Timestamp"));
                    let name = event.event_name().unwrap_or("?");
                    if name == "Cdr" {
                        ingest.wake();
                    }
                    debug!(event = name, "AMI event");
                }
                Err(RecvError::Lagged(n)) => warn!(missed = n, "event subscriber lagged"),
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
    originate.shutdown();
    follower.stop();
    policy.abort();
    causes.abort();
    client.logoff().await?;
    Ok(())
}

/// The first AMI connection, retried with backoff while Asterisk is unreachable (the client
/// reconnects by itself after that). Refused credentials are a configuration error: fatal.
async fn connect_until_up(settings: AmiSettings) -> Result<AmiClient, AmiError> {
    let mut delay = Duration::from_millis(500);
    loop {
        match AmiClient::connect(settings.clone()).await {
            Ok(client) => return Ok(client),
            Err(e @ AmiError::LoginFailed { .. }) => return Err(e),
            Err(e) => {
                warn!(error = %error_chain(&e), retry_in = ?delay, "AMI not reachable");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
