//! The `centralita` command line: parses arguments, sets up logging and wires the pieces.
//! No protocol or business logic lives here.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use centralita::asterisk::ami::action::CoreSettings;
use centralita::asterisk::ami::{AmiClient, ConnectionState};
use centralita::config::Config;
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
    /// Connect to Asterisk and run until Ctrl-C or SIGTERM.
    Serve {
        /// Path to the TOML configuration file.
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => serve(config).await,
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
    let config = Config::load(&config_path)?;
    let client = AmiClient::connect(config.ami.settings()).await?;
    let mut events = client.subscribe();
    let mut state = client.connection_events();
    let settings = client.send(&CoreSettings).await?;
    info!(
        "connected to Asterisk {}",
        settings
            .get("AsteriskVersion")
            .unwrap_or("(unknown version)")
    );

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            event = events.recv() => match event {
                Ok(event) => debug!(event = event.event_name().unwrap_or("?"), "AMI event"),
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
    info!("shutting down");
    client.logoff().await?;
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

fn error_chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
