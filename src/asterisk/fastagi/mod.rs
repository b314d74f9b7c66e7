//! The engine's FastAGI server: what the dialplan asks the engine during a call.
//!
//! Asterisk connects for `AGI(agi://<address>/<script>,<args>)`; the engine answers with
//! `SET VARIABLE` commands of values it chose (never text from outside) and hangs up the
//! connection. Two scripts asked by `to-queue`: [`blacklist`] (the inbound blacklist) and
//! [`callername`] (the caller's name from the customer's backend); one by `from-carrier`:
//! [`ivr`] (whether a DID goes to the IVR).
//!
//! - [`codec`]: the wire format, pure (request, commands, replies).
//! - [`server`]: the listener and the connections, bounded (connections, bytes, time).
//! - [`blacklist`]: the `blacklist` script.
//! - [`callername`]: the `callername` script.
//! - [`ivr`]: the `ivr` script.
//!
//! **Architecture Invariant:** every failure (engine down, store unreadable, a request too
//! long or too slow) ends the connection without an answer, and the dialplan treats no answer
//! as "not listed": inbound calls are never stopped by the engine being away.

pub mod blacklist;
pub mod callername;
pub mod codec;
pub mod ivr;
pub mod server;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;

pub use blacklist::BlacklistScript;
pub use callername::CallerNameScript;
pub use ivr::IvrRouteScript;
pub use server::{run, FastAgiSettings, Script, Scripts};

/// Binds `bind` and serves the `blacklist` script `script` there until the task is aborted;
/// nothing (`None`) when `script` has no campaign (no campaign, no blacklist to ask).
pub async fn spawn_blacklist(
    bind: SocketAddr,
    settings: FastAgiSettings,
    script: BlacklistScript,
) -> std::io::Result<Option<JoinHandle<()>>> {
    spawn_scripts(bind, settings, script, None).await
}

/// Binds `bind` and serves the scripts there until the task is aborted: `blacklist` when it
/// has a campaign, `callername` when the site has a backend; nothing (`None`) when neither.
pub async fn spawn_scripts(
    bind: SocketAddr,
    settings: FastAgiSettings,
    blacklist: BlacklistScript,
    callername: Option<CallerNameScript>,
) -> std::io::Result<Option<JoinHandle<()>>> {
    spawn_scripts_with_ivr(bind, settings, blacklist, callername, None).await
}

/// [`spawn_scripts`], and `ivr` when the IVR runtime runs.
pub async fn spawn_scripts_with_ivr(
    bind: SocketAddr,
    settings: FastAgiSettings,
    blacklist: BlacklistScript,
    callername: Option<CallerNameScript>,
    ivr: Option<IvrRouteScript>,
) -> std::io::Result<Option<JoinHandle<()>>> {
    let mut scripts = Scripts::new();
    if let Some(i) = ivr {
        scripts = scripts.with(ivr::SCRIPT, Arc::new(i));
    }
    let any_ivr = !scripts.is_empty();
    let mut other = false;
    if blacklist.has_campaigns() {
        scripts = scripts.with(blacklist::SCRIPT, Arc::new(blacklist));
        other = true;
    }
    if let Some(c) = callername {
        scripts = scripts.with(callername::SCRIPT, Arc::new(c));
        other = true;
    }
    let any = any_ivr || other;
    if !any {
        return Ok(None);
    }
    let only_ivr = any_ivr && !other;
    let listener = match tokio::net::TcpListener::bind(bind).await {
        Ok(l) => l,
        // The IVR's DIDs then take their normal route, as with the engine away.
        Err(e) if only_ivr => {
            tracing::warn!(error = %e, "FastAGI not listening: routed DIDs take their normal route");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    tracing::info!(addr = %listener.local_addr()?, "FastAGI listening");
    let serve = run(listener, scripts, settings, std::future::pending());
    Ok(Some(tokio::spawn(serve)))
}
