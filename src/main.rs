//! The `centralita` command line: parses arguments, sets up logging, and hands over to the
//! composition root ([`centralita::app::App`]) or the admin commands. No protocol or business
//! logic lives here.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use centralita::admin::AdminCommand;
use centralita::app::{AmiConnector, App};
use centralita::config::Config;
use centralita::core::error_chain;
use clap::{Parser, Subcommand};
use tracing::{error, info, warn};
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
        command: AdminCommand,
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
    let result =
        match cli.command {
            Command::Serve { config } => serve(config).await,
            Command::Admin { config, command } => Config::load(&config)
                .map_err(Into::into)
                .and_then(|config| {
                    centralita::admin::run_journaled(&config, command).map_err(Into::into)
                }),
        };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{}", error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
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
    let connector = Arc::new(AmiConnector::from_config(&config));
    let app = App::build(config.clone(), connector)?;
    let listener = tokio::net::TcpListener::bind(config.http.bind).await?;
    app.run(listener, shutdown_signal()).await?;
    Ok(())
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
