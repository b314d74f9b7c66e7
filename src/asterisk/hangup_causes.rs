//! Follows AMI `Hangup` events and keeps each channel's Q.850 cause through the core's
//! [`HangupCauseStore`] port (the CDR has no cause; getrecords' `causecode` reads these). Causes
//! of channels that ended while the engine was not connected are not known.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::core::hangup_causes::{HangupCause, HangupCauseStore};
use crate::core::UnixTime;

use super::ami::{AmiClient, AmiMessage};

/// The cause a `Hangup` event reports, if it is one and usable.
pub fn cause_of(event: &AmiMessage, now: UnixTime) -> Option<HangupCause> {
    if event.event_name() != Some("Hangup") {
        return None;
    }
    HangupCause::parse(event.get("Uniqueid")?, event.get("Cause")?, now)
}

/// Records the causes of every `Hangup` event `client` receives, until its events end.
pub fn spawn_recorder(client: &AmiClient, store: Arc<dyn HangupCauseStore>) -> JoinHandle<()> {
    let mut events = client.subscribe();
    tokio::spawn(async move {
        loop {
            let cause = match events.recv().await {
                Ok(e) => cause_of(&e, UnixTime::now()),
                Err(RecvError::Lagged(n)) => {
                    warn!(missed = n, "hangup causes: events missed");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let Some(cause) = cause else { continue };
            let store = store.clone();
            let written =
                tokio::task::spawn_blocking(move || store.causes_put(&[cause], UnixTime::now()))
                    .await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => warn!(error = %e, "hangup cause not stored"),
                Err(e) => warn!(error = %e, "hangup cause task failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hangup_events_give_their_cause() {
        let mut e = AmiMessage::new();
        for (k, v) in [
            ("Event", "Hangup"),
            ("Channel", "PJSIP/carrier-00000003"),
            ("Uniqueid", "1700000000.7"),
            ("Cause", "17"),
            ("Cause-txt", "User busy"),
        ] {
            e.push(k, v);
        }
        let c = cause_of(&e, UnixTime(9)).unwrap();
        assert_eq!((c.uniqueid.as_str(), c.cause), ("1700000000.7", 17));
        let mut other = AmiMessage::new();
        other.push("Event", "Newchannel");
        other.push("Uniqueid", "1");
        other.push("Cause", "0");
        assert_eq!(cause_of(&other, UnixTime(9)), None);
    }
}
