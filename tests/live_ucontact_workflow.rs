//! Live tier: uContact's `admin/CallWorkflow(context, extension, jsonparams)` on a real call
//! of the lab. Phone 1007 is originated into the engine's context towards carrier number
//! 5551030 (answers, talks 30 s); with curl, CallWorkflow names the flow's place
//! (`outbound`, `5551030`, where the engine's context sends it) and then the phone (`1007`): each time `OK`, and the
//! `WF_<name>` variables are read back from Asterisk with `Getvar` on the phone's channel,
//! verbatim (a `${...}` value is not evaluated). Hostile names answer `0` and set nothing.

#![cfg(feature = "live-lab")]

mod live_support;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use centralita::asterisk::ami::action::{Getvar, Hangup, Originate, OriginateTarget};
use centralita::asterisk::ami::AmiClient;
use centralita::core::ids::{ChannelName, UniqueId};

use live_support::rest::healthy_engine;
use live_support::*;

const PHONE: &str = "1007";

/// curl's form POST to `Integra/resources/<op>` with the API key: (status, body).
fn integra(base: &str, key: &str, op: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "-X", "POST"])
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .args([
            "-H",
            "Content-Type: application/x-www-form-urlencoded; charset=UTF-8",
        ]);
    for (k, v) in fields {
        cmd.args(["--data-urlencode", &format!("{k}={v}")]);
    }
    let out = cmd
        .arg(format!("{base}/Integra/resources/{op}"))
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

async fn getvar(client: &AmiClient, channel: &ChannelName, name: &str) -> String {
    let answer = client
        .send(&Getvar::new(Some(channel), name).unwrap())
        .await
        .expect("Getvar answers");
    answer.get("Value").unwrap_or("").to_owned()
}

/// The phone's channel of the call whose uniqueid is `id`, once Asterisk lists it up.
async fn phone_channel(client: &AmiClient, id: &UniqueId) -> ChannelName {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, events) = client
            .send_list(&centralita::asterisk::ami::action::CoreShowChannels)
            .await
            .expect("CoreShowChannels answers");
        let up = events.iter().find(|e| {
            e.get("Uniqueid") == Some(id.as_str())
                && e.get("ChannelStateDesc") == Some("Up")
                && e.get("Application") == Some("Dial")
        });
        if let Some(e) = up {
            return ChannelName::new(e.get("Channel").unwrap());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the phone's call is not up: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn call_workflow_sets_variables_readable_on_the_live_call() {
    let scratch = Scratch::new("live-ucontact-workflow");
    let engine = healthy_engine(scratch.path(), "ucontact-workflow", "");
    let key = engine.api_key("ucontact", "Portal");
    let base = engine.base_url();
    let client = connect().await;

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let id = UniqueId::new(format!("wf-{}.{}", now.as_secs(), now.subsec_micros()));
    let originate = Originate::new(
        &format!("PJSIP/{PHONE}"),
        OriginateTarget::extension("centralita-originate", "5551030", 1).unwrap(),
    )
    .unwrap()
    .with_timeout(Duration::from_secs(20))
    .with_channel_id(&id)
    .unwrap();
    client.send(&originate).await.expect("Originate queued");
    let channel = phone_channel(&client, &id).await;

    // The flow's place: the engine's context sends the phone's channel to `outbound`, where it
    // runs Dial at extension 5551030.
    let json = r#"{"cliente": "Ana Pérez", "deuda": 1520.5, "nota": "${SHELL(id)}"}"#;
    let workflow = |context: &str, extension: &str, json: &str| {
        integra(
            &base,
            &key,
            "admin/CallWorkflow",
            &[
                ("context", context),
                ("extension", extension),
                ("jsonparams", json),
            ],
        )
    };
    let answer = workflow("outbound", "5551030", json);
    assert_eq!(answer, (200, "OK".to_owned()));
    assert_eq!(getvar(&client, &channel, "WF_cliente").await, "Ana Pérez");
    assert_eq!(getvar(&client, &channel, "WF_deuda").await, "1520.5");
    assert_eq!(getvar(&client, &channel, "WF_nota").await, "${SHELL(id)}");

    // The agent's phone: no channel at agentes/1007, the phone's call is the one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = workflow("agentes", PHONE, r#"{"ticket": "T-77"}"#);
        if answer == (200, "OK".to_owned()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the engine never saw the phone's call: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(getvar(&client, &channel, "WF_ticket").await, "T-77");

    // Hostile names: 0, and nothing set on the channel.
    for json in [
        r#"{"CDR(userfield)": "x"}"#,
        r#"{"ok": "1", "SHELL(id)": "y"}"#,
    ] {
        let answer = workflow("outbound", "5551030", json);
        assert_eq!(answer, (200, "0".to_owned()), "{json}");
    }
    assert_eq!(getvar(&client, &channel, "WF_ok").await, "");

    let _ = client.send(&Hangup::new(&channel).unwrap()).await;
}
