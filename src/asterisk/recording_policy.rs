//! Publishes the recording policy to Asterisk as dialplan globals (`RECORD_POLICY`,
//! `RECORD_QUEUES`, see [`RecordingPolicy::globals`]) with AMI `Setvar` on every (re)connect,
//! so a restarted Asterisk or a reconnect never runs with a stale policy. `sub-record` in
//! `asterisk-config/extensions.conf` reads them; unset (before the first connect) it records.

use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::core::recordings::RecordingPolicy;

use super::ami::action::Setvar;
use super::ami::{AmiClient, AmiError, ConnectionState};

/// Sends the policy's globals once.
pub async fn publish(client: &AmiClient, policy: &RecordingPolicy) -> Result<(), AmiError> {
    for (name, value) in policy.globals() {
        let action = Setvar::new(None, name, &value).map_err(AmiError::from)?;
        client.send(&action).await?;
    }
    Ok(())
}

/// Publishes the policy now (if connected) and after every new connection, until the client
/// closes or the task is aborted.
pub fn spawn_publisher(client: AmiClient, policy: RecordingPolicy) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut state = client.connection_events();
        let mut published: Option<u64> = None;
        loop {
            let now = *state.borrow_and_update();
            match now {
                ConnectionState::Connected { generation } if published != Some(generation) => {
                    match publish(&client, &policy).await {
                        Ok(()) => {
                            info!(?policy, generation, "recording policy published");
                            published = Some(generation);
                        }
                        Err(e) => {
                            warn!(error = %e, "recording policy not published; retrying");
                            tokio::select! {
                                changed = state.changed() => if changed.is_err() { return },
                                () = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                            }
                            continue;
                        }
                    }
                }
                ConnectionState::Closed => return,
                _ => {}
            }
            if state.changed().await.is_err() {
                return;
            }
        }
    })
}
