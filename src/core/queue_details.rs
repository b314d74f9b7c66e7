//! [`QueueDetails`]: what the data fields of a queue activity line mean, typed, and
//! [`QueueLogLayout`], the port that reads them out of a journal record. The journal keeps each
//! line's fields as the PBX wrote them ([`QueueLogRecord::data`](super::QueueLogRecord)); which
//! field is a hold time or a pause reason is the PBX's layout, known to its adapter only
//! (Asterisk's `queue_log` module implements the port). Reports and call summaries read the
//! details through the port, never a field by its index.

use super::journal::QueueEvent;

/// The typed data of one queue activity line. Times are whole seconds unless named otherwise;
/// `None` where the line does not carry a usable number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueDetails {
    /// A caller entered the queue.
    EnterQueue {
        /// The caller id the caller entered with.
        callerid: String,
    },
    /// A member answered a caller.
    Connect {
        /// How long the caller waited.
        holdtime: Option<i64>,
        /// How long the member's phone rang.
        ringtime: Option<i64>,
    },
    /// A member's phone rang and was not answered.
    RingNoAnswer {
        /// How long it rang, in milliseconds.
        ring_ms: Option<i64>,
    },
    /// A connected call ended (`COMPLETECALLER`, `COMPLETEAGENT`).
    Complete {
        /// How long the caller had waited.
        holdtime: Option<i64>,
        /// How long the call was talked.
        talktime: Option<i64>,
    },
    /// A connected call was transferred.
    Transfer {
        /// Where to (an extension, a channel or a bridge).
        destination: String,
        /// How long the call was talked before.
        talktime: Option<i64>,
    },
    /// A caller hung up while waiting.
    Abandon {
        /// How long the caller waited.
        waittime: Option<i64>,
    },
    /// A member paused.
    Pause {
        /// The reason given (may be empty).
        reason: String,
    },
    /// Any other line: nothing in its fields is read.
    None,
}

impl QueueDetails {
    /// The caller's hold time of a `CONNECT` line.
    pub fn holdtime(&self) -> Option<i64> {
        match self {
            Self::Connect { holdtime, .. } | Self::Complete { holdtime, .. } => *holdtime,
            _ => None,
        }
    }

    /// The reason of a `PAUSE` line (empty for any other).
    pub fn pause_reason(&self) -> &str {
        match self {
            Self::Pause { reason } => reason,
            _ => "",
        }
    }
}

/// How the PBX lays out the data fields of its queue activity lines.
pub trait QueueLogLayout: Send + Sync {
    /// The typed details of a line of `event` with these data fields.
    fn details(&self, event: &QueueEvent, data: &[String]) -> QueueDetails;
}

/// The layout the core's tests write their lines in: Asterisk's, for the fields the core reads.
#[cfg(test)]
pub(crate) struct TestQueueLog;

#[cfg(test)]
impl QueueLogLayout for TestQueueLog {
    fn details(&self, event: &QueueEvent, data: &[String]) -> QueueDetails {
        let number = |i: usize| data.get(i).and_then(|v| v.trim().parse().ok());
        match event {
            QueueEvent::Connect => QueueDetails::Connect {
                holdtime: number(0),
                ringtime: number(2),
            },
            QueueEvent::Pause => QueueDetails::Pause {
                reason: data.first().cloned().unwrap_or_default(),
            },
            _ => QueueDetails::None,
        }
    }
}
