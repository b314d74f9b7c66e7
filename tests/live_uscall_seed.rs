//! Live tier: the USCall document's own example works as written. Its PHP client
//!
//! ```php
//! $client = new SoapClient('https://172.20.0.31/aplicativos/webservice/wsuscall.php?wsdl', ...);
//! $result = $client->startCall('$1$gcNiVTZp$5IqX.EhuJyLNG7pBc5o4..', 'clicktocall',
//! '1139952800', '2800', '1');
//! var_dump($result);
//! ```
//!
//! runs verbatim (the document's script, with the server's address the only change: the
//! engine's plain-HTTP address instead of the vendor's `https://172.20.0.31`) against the engine
//! and the lab:
//! - the document's token is the site's: taken over with `centralita admin credential import`,
//!   the way a site moving off USCall keeps the token its integrations send;
//! - categoria `1` and the site's outbound policy allow the 10-digit São Paulo numbers (`11…`),
//!   dialed through the carrier; DDR `2800` is q_soporte's (the lab's dialplan routes it), where
//!   phone 1004 is the only member;
//! - `var_dump` prints the JSON string whose `status` is `ok`; the carrier is called at
//!   1139952800 and, once it answered, phone 1004 rings with the call; cdrSearch then shows the
//!   call as `Click to call` from 1139952800 on DDR 2800.
//!
//! Phone 1004 and queue q_soporte: the member is removed and the call hung up when it ends, also
//! when it fails.

#![cfg(feature = "live-lab")]

mod live_support;

use std::process::Command;
use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::{CoreShowChannels, Hangup, QueueRemove};
use centralita::core::ChannelName;
use serde_json::Value;

use live_support::{connect, repo, set_queue_members, wait_health, Engine, Scratch};

const QUEUE: &str = "q_soporte";
const PHONE: &str = "PJSIP/1004";
const TOKEN: &str = "$1$gcNiVTZp$5IqX.EhuJyLNG7pBc5o4..";

/// The document's example; `{URL}` is the only change.
const SEED_SCRIPT: &str = r#"<?php
ini_set("soap.wsdl_cache_enabled", 0);
$context = stream_context_create([
'ssl' => [
// set some SSL/TLS specific options
'verify_peer' => false,
'verify_peer_name' => false,
'allow_self_signed' => true ]
]);
$client = new SoapClient('{URL}', ['stream_context' => $context ]);
$result = $client->startCall('$1$gcNiVTZp$5IqX.EhuJyLNG7pBc5o4..', 'clicktocall',
'1139952800', '2800', '1');
var_dump($result);
?>
"#;

const CONFIG: &str = r#"
[dialing]
ddrs = ["2800"]

[[dialing.category]]
id = "1"
name = "São Paulo"
trunk = "carrier"
[[dialing.category.rule]]
pattern = "11XXXXXXXX"

[outbound]
national = ["_1ZXXXXXXXX"]
"#;

/// Removes the member and hangs up the test's channels, at the start and when dropped.
async fn clean_up() {
    let client = connect().await;
    let _ = client.send(&QueueRemove::new(QUEUE, PHONE).unwrap()).await;
    for c in channels().await {
        if c.starts_with(&format!("{PHONE}-")) || c.starts_with("PJSIP/carrier-") {
            let _ = client
                .send(&Hangup::new(&ChannelName::new(c)).unwrap())
                .await;
        }
    }
    let _ = client.logoff().await;
}

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        std::thread::spawn(|| tokio::runtime::Runtime::new().unwrap().block_on(clean_up()))
            .join()
            .ok();
    }
}

async fn channels() -> Vec<String> {
    let client = connect().await;
    let (_, list) = client.send_list(&CoreShowChannels).await.unwrap();
    let _ = client.logoff().await;
    list.iter()
        .filter_map(|e| e.get("Channel"))
        .map(str::to_owned)
        .collect()
}

fn php(args: &[&str]) -> String {
    let out = Command::new("php").args(args).output().expect("php runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "php {args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The JSON text inside `var_dump`'s `string(N) "..."`.
fn dumped_json(dump: &str) -> Value {
    let text = dump
        .trim()
        .strip_prefix("string(")
        .and_then(|r| r.split_once(") \""))
        .and_then(|(_, r)| r.strip_suffix('"'))
        .unwrap_or_else(|| panic!("var_dump of a string: {dump}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documents_startcall_example_places_its_clicktocall() {
    clean_up().await;
    let _guard = Guard;
    let scratch = Scratch::new("uscall-seed");
    let engine = Engine::start_with(scratch.path(), "uscall-seed", CONFIG);
    wait_health(
        &engine,
        Duration::from_secs(30),
        "the engine",
        |code, body| code == "200" && body.contains("\"ok\""),
    );
    let imported = engine.admin(
        &[
            "credential",
            "import",
            "--system",
            "USCall",
            "--api",
            "uscall",
        ],
        &format!("{TOKEN}\n"),
    );
    assert!(imported.contains("imported"), "{imported}");
    assert!(
        !imported.contains(TOKEN),
        "the key is never printed: {imported}"
    );
    let ami = connect().await;
    set_queue_members(&ami, QUEUE, &[PHONE.to_string()]).await;
    let _ = ami.logoff().await;

    let wsdl = format!(
        "{}/aplicativos/webservice/wsuscall.php?wsdl",
        engine.base_url()
    );
    let script = scratch.path().join("startcall.php");
    std::fs::write(&script, SEED_SCRIPT.replace("{URL}", &wsdl)).unwrap();
    let answer = dumped_json(&php(&[script.to_str().unwrap()]));
    assert_eq!(answer["status"], "ok", "{answer}");

    // The carrier is called first; once it answers, the DDR's queue rings phone 1004.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = channels().await;
        let carrier = now.iter().any(|c| c.starts_with("PJSIP/carrier-"));
        let phone = now.iter().any(|c| c.starts_with(&format!("{PHONE}-")));
        if carrier && phone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the carrier and then phone 1004 get the call: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    clean_up().await;

    // The call, as the document's cdrSearch shows it (through the same PHP client).
    let call = repo().join("tests/clients/uscall/call.php");
    let deadline = Instant::now() + Duration::from_secs(30);
    let row = loop {
        let out = php(&[
            call.to_str().unwrap(),
            &wsdl,
            "cdrSearch",
            TOKEN,
            "-",
            "-",
            "1139952800",
            "-",
            "-",
        ]);
        let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(v["status"], "ok", "{v}");
        let ended = v["retorno"].as_array().and_then(|rows| {
            rows.iter()
                .find(|r| !matches!(r["status"].as_str(), Some("CHAMANDO" | "ATENDIDO")))
                .cloned()
        });
        if let Some(row) = ended {
            break row;
        }
        assert!(Instant::now() < deadline, "the call's CDR row: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(row["tipo"], "Click to call", "{row}");
    assert_eq!(row["DDR"], "2800", "{row}");
    assert_eq!(row["origem"], "1139952800", "{row}");
}
