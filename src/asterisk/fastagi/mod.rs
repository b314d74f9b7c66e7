//! The engine's FastAGI server: what the dialplan asks the engine during a call.
//!
//! Asterisk connects for `AGI(agi://<address>/<script>,<args>)`; the engine answers with
//! `SET VARIABLE` commands of values it chose (never text from outside) and hangs up the
//! connection. Today one script: [`blacklist`] (the inbound blacklist, asked by `to-queue`).
//!
//! - [`codec`]: the wire format, pure (request, commands, replies).
//! - [`server`]: the listener and the connections, bounded (connections, bytes, time).
//! - [`blacklist`]: the `blacklist` script.
//!
//! **Architecture Invariant:** every failure (engine down, store unreadable, a request too
//! long or too slow) ends the connection without an answer, and the dialplan treats no answer
//! as "not listed": inbound calls are never stopped by the engine being away.

pub mod blacklist;
pub mod codec;
pub mod server;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;

pub use blacklist::BlacklistScript;
pub use server::{run, FastAgiSettings, Script, Scripts};

/// Binds `bind` and serves the `blacklist` script `script` there until the task is aborted;
/// nothing (`None`) when `script` has no campaign (no campaign, no blacklist to ask).
pub async fn spawn_blacklist(
    bind: SocketAddr,
    settings: FastAgiSettings,
    script: BlacklistScript,
) -> std::io::Result<Option<JoinHandle<()>>> {
    if !script.has_campaigns() {
        return Ok(None);
    }
    let listener = tokio::net::TcpListener::bind(bind).await?;
    tracing::info!(addr = %listener.local_addr()?, "FastAGI listening");
    let scripts = Scripts::new().with(blacklist::SCRIPT, Arc::new(script));
    let serve = run(listener, scripts, settings, std::future::pending());
    Ok(Some(tokio::spawn(serve)))
}
