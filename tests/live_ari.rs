//! Live tier: the ARI client against the lab's Asterisk. The Stasis application
//! `centralita-ivr` connects; a carrier call to DID 26009000 enters it (`from-carrier` →
//! `centralita-ivr` → `Stasis`), is answered, hears `sound:beep` to its `PlaybackFinished`, gets a
//! channel variable set and read back, and is hung up (`StasisEnd`, then ARI no longer knows it). A
//! second call is left in the app while the session stops (an engine restart): a new session
//! told the call was the app's reports it `Recovered`. Then Asterisk restarts: the session
//! reconnects by itself, the call is reported over (its `StasisEnd` or the resync's `Gone`), and
//! a new call's `StasisStart` arrives on the new stream.

#![cfg(feature = "live-lab")]

mod live_support;

use std::time::{Duration, Instant};

use centralita::asterisk::ari::app::{AppEvent, AriApp, AriAppSettings};
use centralita::asterisk::ari::events::AriEvent;
use centralita::asterisk::ari::rest::{
    AppName, ChannelId, HangupReason, Media, PlaybackId, VarName,
};
use centralita::asterisk::ari::AriClient;
use centralita::core::Secret;
use live_support::{ari_secret, ari_url, ari_user, lab};

const APP: &str = "centralita-ivr";
const DID: &str = "26009000";

/// The next event matching `pred` within `within` (others skipped); panics naming `what`.
async fn wait_for(
    app: &mut AriApp,
    within: Duration,
    what: &str,
    mut pred: impl FnMut(&AppEvent) -> bool,
) -> AppEvent {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, app.recv()).await {
            Ok(Some(e)) if pred(&e) => return e,
            Ok(Some(e)) => eprintln!("(skipped while waiting for {what}: {e:?})"),
            Ok(None) => panic!("the session stopped while waiting for {what}"),
            Err(_) => panic!("no {what} within {within:?}"),
        }
    }
}

/// Polls until ARI no longer knows channel `id` (at most 10 s).
async fn wait_gone(client: &AriClient, id: &ChannelId) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client.channel(id).await {
            Err(e) if e.is_not_found() => return,
            other => assert!(Instant::now() < deadline, "{id} still there: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A carrier call to the IVR's DID, in the background; talks `talk` seconds if left alone.
fn call_in(from: &str, talk: u32) {
    let out = lab(&[
        "call-in",
        "--did",
        DID,
        "--from",
        from,
        "--talk",
        &talk.to_string(),
        "--background",
    ]);
    assert!(
        out.status.success(),
        "vm/lab call-in: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `StasisStart` of the call from `from`: its channel id.
async fn stasis_start(app: &mut AriApp, from: &str) -> ChannelId {
    let e = wait_for(app, Duration::from_secs(30), "StasisStart", |e| {
        matches!(e, AppEvent::Event(AriEvent::StasisStart { channel, .. }) if channel.caller.number == from)
    })
    .await;
    let AppEvent::Event(AriEvent::StasisStart { args, channel }) = e else {
        unreachable!()
    };
    assert_eq!(
        args,
        [DID],
        "the dialplan passes the DID as the app's argument"
    );
    assert!(channel.in_app(&AppName::new(APP).unwrap()), "{channel:?}");
    channel.id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stasis_app_answers_plays_sets_variables_and_survives_an_asterisk_restart() {
    let client = AriClient::new(&ari_url(), &ari_user(), Secret::new(ari_secret())).unwrap();
    let mut settings = AriAppSettings::new(AppName::new(APP).unwrap());
    settings.ping_every = Duration::from_secs(5);
    settings.backoff_cap = Duration::from_secs(2);
    let mut app = AriApp::start(client.clone(), settings, []);
    wait_for(
        &mut app,
        Duration::from_secs(15),
        "the first connect",
        |e| matches!(e, AppEvent::Connected { generation: 1 }),
    )
    .await;

    // A call through the DID into the app.
    let pid = std::process::id();
    let from = format!("0991{:05}", pid % 100_000);
    call_in(&from, 20);
    let ch = stasis_start(&mut app, &from).await;
    client.answer(&ch).await.unwrap();
    wait_for(&mut app, Duration::from_secs(10), "the channel up", |e| {
        matches!(e, AppEvent::Event(AriEvent::ChannelStateChange { channel }) if channel.id == ch && channel.state == "Up")
    })
    .await;

    let pb = PlaybackId::new(format!("live-ari-{pid}")).unwrap();
    let started = client
        .play(&ch, &pb, &Media::Sound("beep".into()))
        .await
        .unwrap();
    assert_eq!(started.id, pb);
    let finished = wait_for(&mut app, Duration::from_secs(15), "PlaybackFinished", |e| {
        matches!(e, AppEvent::Event(AriEvent::PlaybackFinished { playback }) if playback.id == pb)
    })
    .await;
    let AppEvent::Event(AriEvent::PlaybackFinished { playback }) = finished else {
        unreachable!()
    };
    assert_eq!(playback.state, "done", "{playback:?}");
    assert_eq!(playback.media_uri, "sound:beep");

    let var = VarName::new("IVR_NODE").unwrap();
    client
        .set_variable(&ch, &var, "menú 1 & más")
        .await
        .unwrap();
    wait_for(&mut app, Duration::from_secs(10), "ChannelVarset", |e| {
        matches!(e, AppEvent::Event(AriEvent::ChannelVarset { variable, value, .. }) if variable == "IVR_NODE" && value == "menú 1 & más")
    })
    .await;
    assert_eq!(
        client.get_variable(&ch, &var).await.unwrap(),
        "menú 1 & más"
    );

    client.hangup(&ch, HangupReason::Normal).await.unwrap();
    wait_for(
        &mut app,
        Duration::from_secs(10),
        "StasisEnd",
        |e| matches!(e, AppEvent::Event(AriEvent::StasisEnd { channel }) if channel.id == ch),
    )
    .await;
    // ChannelDestroyed reaches the app only if it comes before StasisEnd ends the app's
    // subscription to the channel; the channel's absence is what counts.
    wait_gone(&client, &ch).await;
    assert!(!app.owned().contains(&ch));

    // A call left in the app while the session is stopped (an engine restart): the next
    // session, told the channel was the app's, recovers it.
    let from2 = format!("0992{:05}", pid % 100_000);
    call_in(&from2, 20);
    let kept = stasis_start(&mut app, &from2).await;
    client.answer(&kept).await.unwrap();
    assert!(app.owned().contains(&kept));
    drop(app);
    let mut settings = AriAppSettings::new(AppName::new(APP).unwrap());
    settings.ping_every = Duration::from_secs(5);
    settings.backoff_cap = Duration::from_secs(2);
    let mut app = AriApp::start(client.clone(), settings, [kept.clone()]);
    wait_for(&mut app, Duration::from_secs(15), "the new session", |e| {
        matches!(e, AppEvent::Connected { generation: 1 })
    })
    .await;
    let recovered = wait_for(&mut app, Duration::from_secs(10), "the resync", |e| {
        matches!(e, AppEvent::Recovered(_) | AppEvent::Gone(_))
    })
    .await;
    let AppEvent::Recovered(channel) = recovered else {
        panic!("{recovered:?}")
    };
    assert_eq!(
        (channel.id.clone(), channel.state.as_str()),
        (kept.clone(), "Up")
    );

    // Asterisk restarts under the session: the call ends, the session reconnects by itself.
    // Whether the call's StasisEnd still came out before the stream dropped or not, the user
    // learns it is over: from that event, or from the resync's Gone.
    let out = lab(&["restart-asterisk"]);
    assert!(
        out.status.success(),
        "vm/lab restart-asterisk: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut saw_end = false;
    wait_for(&mut app, Duration::from_secs(90), "a new connection", |e| {
        if matches!(e, AppEvent::Event(AriEvent::StasisEnd { channel }) if channel.id == kept) {
            saw_end = true;
        }
        matches!(e, AppEvent::Connected { generation } if *generation > 1)
    })
    .await;
    if !saw_end {
        let gone = wait_for(&mut app, Duration::from_secs(10), "the resync", |e| {
            matches!(e, AppEvent::Recovered(_) | AppEvent::Gone(_))
        })
        .await;
        assert_eq!(
            gone,
            AppEvent::Gone(kept.clone()),
            "the restart ended the call"
        );
    }
    assert!(!app.owned().contains(&kept));

    // The app is registered again: a new call enters it.
    let from3 = format!("0993{:05}", pid % 100_000);
    call_in(&from3, 20);
    let ch3 = stasis_start(&mut app, &from3).await;
    client.hangup(&ch3, HangupReason::Normal).await.unwrap();
    wait_for(
        &mut app,
        Duration::from_secs(10),
        "StasisEnd",
        |e| matches!(e, AppEvent::Event(AriEvent::StasisEnd { channel }) if channel.id == ch3),
    )
    .await;
    wait_gone(&client, &ch3).await;
}
