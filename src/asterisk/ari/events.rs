//! The events of ARI's WebSocket stream the IVR needs, typed; any other kept as
//! [`AriEvent::Other`] with its type. [`decode`] is pure and total: a frame that is not JSON,
//! too long, or carries an invalid id is an error to log and skip, never a panic.

use serde::Deserialize;

use super::rest::{Bridge, Channel, ChannelId, LiveRecording, Playback};

/// The longest frame decoded.
pub const MAX_FRAME: usize = 1 << 20;

/// One event of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AriEvent {
    /// A channel entered the app, with the app's arguments.
    StasisStart {
        /// The arguments (`Stasis(app,a,b)`: `["a","b"]`).
        args: Vec<String>,
        /// The channel.
        channel: Channel,
    },
    /// A channel left the app.
    StasisEnd {
        /// The channel.
        channel: Channel,
    },
    /// A DTMF digit was received.
    ChannelDtmfReceived {
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
        /// How long it was pressed.
        duration_ms: u32,
        /// The channel.
        channel: Channel,
    },
    /// A playback started.
    PlaybackStarted {
        /// The playback.
        playback: Playback,
    },
    /// A playback ended (done, stopped or failed: see its state).
    PlaybackFinished {
        /// The playback.
        playback: Playback,
    },
    /// A hangup was asked of a channel.
    ChannelHangupRequest {
        /// The cause (Q.850), if given.
        cause: Option<i32>,
        /// The channel.
        channel: Channel,
    },
    /// A channel is gone. With `subscribeAll=false` the app hears of it only while subscribed
    /// to the channel: a channel hung up in the app may have its `StasisEnd` first and then no
    /// `ChannelDestroyed` at all, so `StasisEnd` is the end of the app's channel.
    ChannelDestroyed {
        /// The cause (Q.850).
        cause: i32,
        /// Its text.
        cause_txt: String,
        /// The channel.
        channel: Channel,
    },
    /// A channel's state changed (see `channel.state`).
    ChannelStateChange {
        /// The channel.
        channel: Channel,
    },
    /// A channel variable was set.
    ChannelVarset {
        /// The variable.
        variable: String,
        /// Its new value.
        value: String,
        /// The channel (none for a global variable).
        channel: Option<ChannelId>,
    },
    /// A recording ended.
    RecordingFinished {
        /// The recording.
        recording: LiveRecording,
    },
    /// A recording failed.
    RecordingFailed {
        /// The recording.
        recording: LiveRecording,
    },
    /// A bridge was destroyed.
    BridgeDestroyed {
        /// The bridge.
        bridge: Bridge,
    },
    /// Any other event, by its type.
    Other(String),
}

impl AriEvent {
    /// The channel the event is about, if any.
    pub fn channel_id(&self) -> Option<&ChannelId> {
        match self {
            AriEvent::StasisStart { channel, .. }
            | AriEvent::StasisEnd { channel }
            | AriEvent::ChannelDtmfReceived { channel, .. }
            | AriEvent::ChannelHangupRequest { channel, .. }
            | AriEvent::ChannelDestroyed { channel, .. }
            | AriEvent::ChannelStateChange { channel } => Some(&channel.id),
            AriEvent::ChannelVarset { channel, .. } => channel.as_ref(),
            _ => None,
        }
    }
}

/// Why a frame was skipped.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Longer than [`MAX_FRAME`].
    #[error("ARI frame longer than {MAX_FRAME} bytes")]
    TooLong,
    /// Not the JSON of an event (or an id or field is invalid).
    #[error("ARI frame is not a valid event: {0}")]
    Json(#[from] serde_json::Error),
    /// A DTMF event's digit is not one digit.
    #[error("ARI DTMF digit invalid")]
    Digit,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct WithChannel {
    channel: Channel,
}

#[derive(Deserialize)]
struct Start {
    #[serde(default)]
    args: Vec<String>,
    channel: Channel,
}

#[derive(Deserialize)]
struct Dtmf {
    digit: String,
    #[serde(default)]
    duration_ms: u32,
    channel: Channel,
}

#[derive(Deserialize)]
struct WithPlayback {
    playback: Playback,
}

#[derive(Deserialize)]
struct HangupRequest {
    #[serde(default)]
    cause: Option<i32>,
    channel: Channel,
}

#[derive(Deserialize)]
struct Destroyed {
    #[serde(default)]
    cause: i32,
    #[serde(default)]
    cause_txt: String,
    channel: Channel,
}

#[derive(Deserialize)]
struct ChannelRef {
    id: ChannelId,
}

#[derive(Deserialize)]
struct Varset {
    variable: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    channel: Option<ChannelRef>,
}

#[derive(Deserialize)]
struct WithRecording {
    recording: LiveRecording,
}

#[derive(Deserialize)]
struct WithBridge {
    bridge: Bridge,
}

/// Decodes one text frame of the stream (pure).
pub fn decode(frame: &str) -> Result<AriEvent, DecodeError> {
    if frame.len() > MAX_FRAME {
        return Err(DecodeError::TooLong);
    }
    let head: Head = serde_json::from_str(frame)?;
    let f = frame;
    Ok(match head.kind.as_str() {
        "StasisStart" => {
            let e: Start = serde_json::from_str(f)?;
            AriEvent::StasisStart {
                args: e.args,
                channel: e.channel,
            }
        }
        "StasisEnd" => AriEvent::StasisEnd {
            channel: serde_json::from_str::<WithChannel>(f)?.channel,
        },
        "ChannelDtmfReceived" => {
            let e: Dtmf = serde_json::from_str(f)?;
            let mut chars = e.digit.chars();
            let digit = match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_digit() || "*#ABCDabcd".contains(c) => c,
                _ => return Err(DecodeError::Digit),
            };
            AriEvent::ChannelDtmfReceived {
                digit,
                duration_ms: e.duration_ms,
                channel: e.channel,
            }
        }
        "PlaybackStarted" => AriEvent::PlaybackStarted {
            playback: serde_json::from_str::<WithPlayback>(f)?.playback,
        },
        "PlaybackFinished" => AriEvent::PlaybackFinished {
            playback: serde_json::from_str::<WithPlayback>(f)?.playback,
        },
        "ChannelHangupRequest" => {
            let e: HangupRequest = serde_json::from_str(f)?;
            AriEvent::ChannelHangupRequest {
                cause: e.cause,
                channel: e.channel,
            }
        }
        "ChannelDestroyed" => {
            let e: Destroyed = serde_json::from_str(f)?;
            AriEvent::ChannelDestroyed {
                cause: e.cause,
                cause_txt: e.cause_txt,
                channel: e.channel,
            }
        }
        "ChannelStateChange" => AriEvent::ChannelStateChange {
            channel: serde_json::from_str::<WithChannel>(f)?.channel,
        },
        "ChannelVarset" => {
            let e: Varset = serde_json::from_str(f)?;
            AriEvent::ChannelVarset {
                variable: e.variable,
                value: e.value,
                channel: e.channel.map(|c| c.id),
            }
        }
        "RecordingFinished" => AriEvent::RecordingFinished {
            recording: serde_json::from_str::<WithRecording>(f)?.recording,
        },
        "RecordingFailed" => AriEvent::RecordingFailed {
            recording: serde_json::from_str::<WithRecording>(f)?.recording,
        },
        "BridgeDestroyed" => AriEvent::BridgeDestroyed {
            bridge: serde_json::from_str::<WithBridge>(f)?.bridge,
        },
        _ => AriEvent::Other(head.kind.chars().take(64).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CH: &str = r#"{"id":"1733628000.7","name":"PJSIP/carrier-00000003","state":"Ring","caller":{"name":"","number":"5491100"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"centralita-ivr","exten":"26009000","priority":1,"app_name":"Stasis","app_data":"centralita-ivr,26009000"},"creationtime":"2026-12-08T02:00:00.000+0000","language":"en"}"#;

    fn frame(kind: &str, rest: &str) -> String {
        format!(
            r#"{{"type":"{kind}","timestamp":"2026-12-08T02:00:00.100+0000","application":"centralita-ivr"{rest}}}"#
        )
    }

    #[test]
    fn the_events_the_ivr_needs_decode() {
        let start = decode(&frame(
            "StasisStart",
            &format!(r#","args":["26009000"],"channel":{CH}"#),
        ))
        .unwrap();
        let AriEvent::StasisStart { args, channel } = &start else {
            panic!("{start:?}")
        };
        assert_eq!(args, &["26009000"]);
        assert_eq!(channel.id.as_str(), "1733628000.7");
        assert_eq!(channel.caller.number, "5491100");
        assert_eq!(start.channel_id().unwrap().as_str(), "1733628000.7");

        let dtmf = decode(&frame(
            "ChannelDtmfReceived",
            &format!(r#","digit":"5","duration_ms":120,"channel":{CH}"#),
        ))
        .unwrap();
        assert!(matches!(
            dtmf,
            AriEvent::ChannelDtmfReceived {
                digit: '5',
                duration_ms: 120,
                ..
            }
        ));
        let pb = r#","playback":{"id":"pb-1","media_uri":"sound:beep","target_uri":"channel:1733628000.7","language":"en","state":"done"}"#;
        let AriEvent::PlaybackFinished { playback } =
            decode(&frame("PlaybackFinished", pb)).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (playback.id.as_str(), playback.state.as_str()),
            ("pb-1", "done")
        );
        assert!(matches!(
            decode(&frame("PlaybackStarted", pb)).unwrap(),
            AriEvent::PlaybackStarted { .. }
        ));
        let AriEvent::ChannelDestroyed {
            cause, cause_txt, ..
        } = decode(&frame(
            "ChannelDestroyed",
            &format!(r#","cause":16,"cause_txt":"Normal Clearing","channel":{CH}"#),
        ))
        .unwrap()
        else {
            panic!()
        };
        assert_eq!((cause, cause_txt.as_str()), (16, "Normal Clearing"));
        assert!(matches!(
            decode(&frame(
                "ChannelHangupRequest",
                &format!(r#","cause":16,"soft":false,"channel":{CH}"#)
            ))
            .unwrap(),
            AriEvent::ChannelHangupRequest {
                cause: Some(16),
                ..
            }
        ));
        let varset = decode(&frame(
            "ChannelVarset",
            &format!(r#","variable":"IVR_NODE","value":"menu","channel":{CH}"#),
        ))
        .unwrap();
        assert!(
            matches!(&varset, AriEvent::ChannelVarset { variable, value, channel: Some(_) } if variable == "IVR_NODE" && value == "menu")
        );
        assert!(matches!(
            decode(&frame("StasisEnd", &format!(r#","channel":{CH}"#))).unwrap(),
            AriEvent::StasisEnd { .. }
        ));
        assert!(matches!(
            decode(&frame("ChannelStateChange", &format!(r#","channel":{CH}"#))).unwrap(),
            AriEvent::ChannelStateChange { .. }
        ));
        let rec = r#","recording":{"name":"r1","format":"wav","state":"done","target_uri":"channel:1.2","duration":3}"#;
        assert!(matches!(
            decode(&frame("RecordingFinished", rec)).unwrap(),
            AriEvent::RecordingFinished { recording } if recording.duration == Some(3)
        ));
        assert!(matches!(
            decode(&frame("RecordingFailed", rec)).unwrap(),
            AriEvent::RecordingFailed { .. }
        ));
        assert!(matches!(
            decode(&frame(
                "BridgeDestroyed",
                r#","bridge":{"id":"b1","technology":"simple_bridge","bridge_type":"mixing","channels":[]}"#
            ))
            .unwrap(),
            AriEvent::BridgeDestroyed { .. }
        ));
        assert_eq!(
            decode(&frame("DeviceStateChanged", r#","device_state":{}"#)).unwrap(),
            AriEvent::Other("DeviceStateChanged".into())
        );
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let bad_channel = CH.replace("1733628000.7", "../x");
        for bad in [
            String::new(),
            "not json".into(),
            "[1,2]".into(),
            r#"{"no":"type"}"#.into(),
            r#"{"type":"StasisStart"}"#.into(),
            frame("StasisStart", &format!(r#","channel":{bad_channel}"#)),
            frame(
                "ChannelDtmfReceived",
                &format!(r#","digit":"55","channel":{CH}"#),
            ),
            frame(
                "ChannelDtmfReceived",
                &format!(r#","digit":"","channel":{CH}"#),
            ),
            format!("{{\"type\":\"Other\",\"x\":\"{}\"}}", "a".repeat(MAX_FRAME)),
        ] {
            assert!(decode(&bad).is_err(), "{}", &bad[..bad.len().min(80)]);
        }
        // Every prefix of a valid frame is decoded or refused, never a panic.
        let good = frame("StasisStart", &format!(r#","args":[],"channel":{CH}"#));
        for i in 0..good.len() {
            if good.is_char_boundary(i) {
                let _ = decode(&good[..i]);
            }
        }
    }
}
