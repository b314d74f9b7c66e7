//! Why each channel ended: the Q.850 cause Asterisk gave in its `Hangup` event, kept by the
//! channel's uniqueid so that a call's CDR rows can say it (uContact's getrecords `causecode`).
//! The CDR itself carries no cause. Causes are known for the channels that ended while the
//! engine was connected to AMI; for the others there is none.

use std::collections::HashMap;

use super::{UniqueId, UnixTime};
use crate::core::PortError;

/// How long causes are kept, in days (longer than any report range).
pub const RETENTION_DAYS: i64 = 400;

/// One channel's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HangupCause {
    /// The channel's uniqueid.
    pub uniqueid: UniqueId,
    /// The Q.850 cause (16 normal clearing, 17 busy, 19 no answer, 21 rejected, ...).
    pub cause: u16,
    /// When it ended.
    pub at: UnixTime,
}

impl HangupCause {
    /// The cause an AMI `Hangup` event's `Uniqueid` and `Cause` fields give, if both are usable
    /// (a uniqueid of at most 150 printable ASCII characters, a cause 0-999).
    pub fn parse(uniqueid: &str, cause: &str, at: UnixTime) -> Option<Self> {
        Self::new(uniqueid, cause.trim().parse().ok()?, at)
    }

    /// The cause of channel `uniqueid`, if both are usable (as [`HangupCause::parse`]).
    pub fn new(uniqueid: &str, cause: u16, at: UnixTime) -> Option<Self> {
        let ok_id = !uniqueid.is_empty()
            && uniqueid.len() <= 150
            && uniqueid.bytes().all(|b| b.is_ascii_graphic());
        (ok_id && cause < 1000).then(|| Self {
            uniqueid: UniqueId::new(uniqueid),
            cause,
            at,
        })
    }
}

/// Where hangup causes are kept.
pub trait HangupCauseStore: Send + Sync {
    /// Records `causes` (a channel recorded again keeps the later cause) and forgets those
    /// older than [`RETENTION_DAYS`] before `now`.
    fn causes_put(&self, causes: &[HangupCause], now: UnixTime) -> Result<(), PortError>;
    /// The causes of those of `uniqueids` that are known.
    fn causes_of(&self, uniqueids: &[String]) -> Result<HashMap<String, u16>, PortError>;
}

/// Why each of `uniqueids` ended, as far as recorded (on the blocking pool).
pub async fn causes_of(
    store: &std::sync::Arc<dyn HangupCauseStore>,
    uniqueids: Vec<String>,
) -> Result<HashMap<String, u16>, PortError> {
    let store = store.clone();
    crate::core::off_runtime(move || store.causes_of(&uniqueids)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_a_hangup_event_says() {
        let at = UnixTime(5);
        assert_eq!(
            HangupCause::parse("1700000000.12", "16", at),
            Some(HangupCause {
                uniqueid: UniqueId::new("1700000000.12"),
                cause: 16,
                at
            })
        );
        for (id, cause) in [
            ("", "16"),
            ("a b", "16"),
            ("x", ""),
            ("x", "-1"),
            ("x", "1000"),
        ] {
            assert_eq!(HangupCause::parse(id, cause, at), None, "{id:?} {cause:?}");
        }
    }
}
