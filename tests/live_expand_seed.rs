//! Live tier: the examples of eXpand's own document (`seeds/000_…`, SOAP part), run as the
//! document writes them against the real engine and the lab, through PHP SoapClient, zeep, suds
//! and a raw envelope.
//!
//! - `originateCall(key, "701", "Juan Perez", "927126666", "Netgate", 20, info="01-43-1")`,
//!   then `originateCallStatus(key, id)`: PHP with the named argument `info:` (PHP 8), zeep and
//!   suds with the keyword as the WSDL names it (`callinfo=`: both refuse an unknown keyword),
//!   and a SOAPpy-style envelope (`v1`…`v6`, then `info`). Lab mapping: extension 701 does not
//!   exist in the lab, so phone **1001** stands for it; `927126666` is a number the lab's carrier
//!   answers ("anything else"), used as written.
//! - A job id finds its call: `cdrData(key, id)` and `recordingPbx(key, id)` with the job id;
//!   the CDR carries `src="1001"` (the source extension) and `callinfo="01-43-1"` verbatim.
//! - `src` "Extensión o número": an outside number (the carrier's `5551030`, a national lab
//!   number standing for any customer number) is called first through the trunk, then connected
//!   to phone 1002; a busy outside source (`5552000`) ends in 7.
//! - `statusQueues`: `intime` of a connected queue call, `laststatuschange` after a login and a
//!   pause, `warning="1"` for a pause past its reason's limit; `getAgentLogin`'s agent with the
//!   state attributes of the document's second example.
//!
//! Uses phones 1001, 1002 and 1004 and queue `q_ventas` (DID 26001000); every member it adds is
//! removed when it ends.

mod live_support;

use std::process::Command;
use std::time::Duration;

use centralita::asterisk::ami::action::CoreShowChannels;
use live_support::expand::*;
use live_support::*;
use serde_json::json;

const QUEUE: &str = "q_ventas";
const PHONES: [&str; 3] = ["PJSIP/1001", "PJSIP/1002", "PJSIP/1004"];

fn status(c: &mut SoapClient, key: &str, id: &str) -> i64 {
    c.call("originateCallStatus", json!([key, id]))
        .parse()
        .unwrap()
}

/// Polls the job until it is answered (2); panics if it ends first.
fn until_answered(c: &mut SoapClient, key: &str, id: &str) {
    poll(Duration::from_secs(30), "the job answered", || {
        let s = status(c, key, id);
        assert!(s == 1 || s == 2, "{} job {id} ended with {s}", c.name);
        (s == 2).then_some(())
    });
}

fn until_final(c: &mut SoapClient, key: &str, id: &str) -> i64 {
    poll(Duration::from_secs(60), "the job over", || {
        let s = status(c, key, id);
        (s >= 3 || s <= 0).then_some(s)
    })
}

/// POSTs a raw SOAP envelope; the `return` text.
fn raw_call(endpoint: &str, body: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-X", "POST", "-H", "Content-Type: text/xml", "--data"])
        .arg(body)
        .arg(endpoint)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split("<return")
        .nth(1)
        .and_then(|r| r.split_once('>'))
        .and_then(|(_, r)| r.split("</return>").next())
        .unwrap_or_else(|| panic!("no return in {text}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documents_examples_against_the_lab() {
    let scratch = Scratch::new("expand-seed");
    let ami = connect().await;
    set_queue_members(&ami, QUEUE, &[]).await;
    let _guard = QueueGuard {
        queue: QUEUE,
        phones: &PHONES,
    };
    let engine = Engine::start_with(
        scratch.path(),
        "expand-seed",
        "[originate]\nretention_seconds = 600\n\n\
         [outbound]\nnational = [\"_NXXXXXX\", \"_NXXXXXXX\", \"_NXXXXXXXX\"]\n\n\
         [expand.queue_descriptions]\nq_ventas = \"Callcenter Ventas\"\n",
    );
    wait_health(&engine, Duration::from_secs(20), "the engine", |c, _| {
        c == "200"
    });
    for (number, name, user, ext) in [
        ("2201", "Juan Perez", "jperez", "1001"),
        ("2204", "Dario", "darioj", "1004"),
    ] {
        engine.admin(
            &[
                "agent",
                "add",
                number,
                "--name",
                name,
                "--username",
                user,
                "--queue",
                QUEUE,
                "--extension",
                ext,
            ],
            "",
        );
    }
    engine.admin(
        &[
            "pause-reason",
            "add",
            "almuerzo",
            "--name",
            "Almuerzo",
            "--max-seconds",
            "1",
        ],
        "",
    );
    let key = engine.api_key("expand", "CRM del ejemplo");
    let key = key.as_str();
    let base = engine.base_url();
    let wsdl = format!("{base}/apiws/2/apiws.php?wsdl");
    let endpoint = format!("{base}/apiws/2/apiws.php");
    let from = date(jiff::Timestamp::now());
    let to = date(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(6 * 3600));
    let py = python();
    let mut php = SoapClient::start("php", "php", "client.php", &wsdl);
    let mut zeep = SoapClient::start("zeep", &py, "client_zeep.py", &wsdl);
    let mut suds = SoapClient::start("suds", &py, "client_suds.py", &wsdl);

    // ------------------------------------------------ originateCall(..., info="01-43-1")
    // 701 → lab phone 1001; 927126666 as written.
    let seed_args = json!([key, "1001", "Juan Perez", "927126666", "Netgate", 20]);
    let mut jobs = Vec::new();
    for (c, kw) in [
        (&mut php, "info"),
        (&mut zeep, "callinfo"),
        (&mut suds, "callinfo"),
    ] {
        phones_idle(&ami, &PHONES).await;
        let id = c.call_kw("originateCall", seed_args.clone(), json!({kw: "01-43-1"}));
        assert!(id.len() > 8 && !id.starts_with('-'), "{}: {id}", c.name);
        // originateCallStatus(key, id): ringing, then answered.
        until_answered(c, key, &id);
        assert_eq!(c.call("originateCallCancel", json!([key, id])), "1");
        assert_eq!(until_final(c, key, &id), 3, "{} job {id}", c.name);
        jobs.push(id);
    }
    // The same call as SOAPpy sends it: positional parts v1..v6, the keyword part `info`.
    phones_idle(&ami, &PHONES).await;
    let soappy = raw_call(
        &endpoint,
        &format!(
            "<?xml version=\"1.0\"?><SOAP-ENV:Envelope \
             xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:xsd=\"http://www.w3.org/1999/XMLSchema\" \
             xmlns:xsi=\"http://www.w3.org/1999/XMLSchema-instance\"><SOAP-ENV:Body>\
             <ns1:originateCall xmlns:ns1=\"urn:apiws\">\
             <v1 xsi:type=\"xsd:string\">{key}</v1><v2 xsi:type=\"xsd:string\">1001</v2>\
             <v3 xsi:type=\"xsd:string\">Juan Perez</v3><v4 xsi:type=\"xsd:string\">927126666</v4>\
             <v5 xsi:type=\"xsd:string\">Netgate</v5><v6 xsi:type=\"xsd:int\">20</v6>\
             <info xsi:type=\"xsd:string\">01-43-1</info>\
             </ns1:originateCall></SOAP-ENV:Body></SOAP-ENV:Envelope>"
        ),
    );
    assert!(soappy.len() > 8 && !soappy.starts_with('-'), "{soappy}");
    until_answered(&mut php, key, &soappy);
    assert_eq!(php.call("originateCallCancel", json!([key, soappy])), "1");
    jobs.push(soappy);

    // ------------------------------------------------ a job id finds its call
    for id in &jobs {
        let cdr = poll(Duration::from_secs(30), "the job's CDR by its id", || {
            let x = suds.call("cdrData", json!([key, id, "", ""]));
            x.contains("<call ").then_some(x)
        });
        // The source extension in `src`, the call data verbatim.
        let leg = "dst=\"927126666\"";
        assert_eq!(
            attr_in(&cdr, "call", leg, "src").as_deref(),
            Some("1001"),
            "{cdr}"
        );
        assert_eq!(
            attr_in(&cdr, "call", leg, "callinfo").as_deref(),
            Some("01-43-1"),
            "{cdr}"
        );
        assert_eq!(
            attr_in(&cdr, "call", leg, "disposition").as_deref(),
            Some("ANSWERED"),
            "{cdr}"
        );
        let rec = poll(
            Duration::from_secs(30),
            "the job's recording by its id",
            || {
                let x = php.call("recordingPbx", json!([key, id]));
                x.contains("status=\"1\"").then_some(x)
            },
        );
        assert!(
            rec.contains(&format!("uniqueid=\"{id}\" encoding=\"base64\">")),
            "{}",
            &rec[..rec.len().min(300)]
        );
    }
    // A CRM filtering the period's CDRs by src finds the click-to-calls.
    let period = zeep.call("cdrData", json!([key, "", from, to]));
    let from_1001 = period
        .split("<call ")
        .filter(|c| c.contains("src=\"1001\"") && c.contains("callinfo=\"01-43-1\""))
        .count();
    assert!(from_1001 >= 4, "{period}");
    // Unknown ids stay unknown.
    assert!(php
        .call("recordingPbx", json!([key, "19abc-00000000"]))
        .contains("status=\"-1\""));
    assert_eq!(
        php.call("cdrData", json!([key, "19abc-00000000", "", ""]))
            .matches("<call ")
            .count(),
        0
    );

    // ------------------------------------------------ src: an outside number first
    phones_idle(&ami, &PHONES).await;
    let outside = php.call(
        "originateCall",
        json!([
            key,
            "5551030",
            "Cliente",
            "1002",
            "Agente",
            20,
            "caso=externo"
        ]),
    );
    until_answered(&mut php, key, &outside);
    // The number was called through the trunk, then connected to phone 1002.
    let (_, chans) = ami.send_list(&CoreShowChannels).await.unwrap();
    let names: Vec<&str> = chans.iter().filter_map(|c| c.get("Channel")).collect();
    assert!(
        names.iter().any(|n| n.starts_with("PJSIP/carrier-")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.starts_with("PJSIP/1002-")),
        "{names:?}"
    );
    assert_eq!(php.call("originateCallCancel", json!([key, outside])), "1");
    assert_eq!(until_final(&mut php, key, &outside), 3);
    // Each leg's CDR row is written when that leg ends: wait for both (the trunk's and 1002's).
    let cdr = poll(
        Duration::from_secs(30),
        "the outside job's CDR rows",
        || {
            let x = zeep.call("cdrData", json!([key, outside, "", ""]));
            (x.contains("dstchannel=\"PJSIP/1002-") && x.contains("dst=\"5551030\"")).then_some(x)
        },
    );
    assert!(
        cdr.contains("dst=\"5551030\"") && cdr.contains("src=\"5551030\""),
        "{cdr}"
    );
    assert!(cdr.contains("callinfo=\"caso=externo\""), "{cdr}");
    // A busy outside source: 7, as a source that is off hook.
    phones_idle(&ami, &PHONES).await;
    let busy = suds.call(
        "originateCall",
        json!([key, "5552000", "Cliente", "1002", "", 20, ""]),
    );
    assert_eq!(until_final(&mut suds, key, &busy), 7);

    // ------------------------------------------------ statusQueues and getAgentLogin
    phones_idle(&ami, &PHONES).await;
    let before_login = jiff::Timestamp::now().as_second();
    assert_eq!(
        php.call("loginAgent", json!([key, "darioj", "1004"])),
        "true"
    );
    let panel = poll(Duration::from_secs(10), "dario logged in", || {
        let x = zeep.call("statusQueues", json!([key]));
        x.contains("status=\"waiting\" warning=\"0\">2204</agent>")
            .then_some(x)
    });
    let changed: i64 = attr_in(&panel, "agent", "name=\"Dario\"", "laststatuschange")
        .unwrap()
        .parse()
        .unwrap();
    assert!(changed >= before_login - 1, "{panel}");
    let login = suds.call("getAgentLogin", json!([key, "1004"]));
    assert!(
        login.contains(
            "<agent number=\"2204\" user=\"darioj\" name=\"Dario\" is_logged=\"true\" logged_date=\""
        ) && login.contains("is_paused=\"false\" pause_type=\"\"/>"),
        "{login}"
    );
    assert!(
        login.contains(
            "<queue name=\"q_ventas\" description=\"Callcenter Ventas\" is_logged=\"true\""
        ),
        "{login}"
    );

    // A queue call answered by dario: intime is when the caller entered the queue.
    let out = lab(&[
        "call-in",
        "--did",
        "26001000",
        "--from",
        "099555222",
        "--talk",
        "6",
        "--background",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let panel = poll(Duration::from_secs(20), "the call on the panel", || {
        let x = php.call("statusQueues", json!([key]));
        x.contains(">2204</call>").then_some(x)
    });
    let connect: i64 = attr_in(&panel, "call", "callerid=\"099555222\"", "connecttime")
        .unwrap()
        .parse()
        .unwrap();
    let intime: i64 = attr_in(&panel, "call", "callerid=\"099555222\"", "intime")
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("intime: {e}: {panel}"));
    assert!(
        intime <= connect && connect - intime <= 10 && intime >= before_login,
        "intime {intime}, connecttime {connect}: {panel}"
    );
    poll(Duration::from_secs(30), "the call over", || {
        let x = zeep.call("statusQueues", json!([key]));
        (!x.contains(">2204</call>")).then_some(())
    });

    // A pause: its start is the last change; past its reason's 1 s, a warning.
    let before_pause = jiff::Timestamp::now().as_second();
    assert_eq!(
        zeep.call("pauseAgent", json!([key, "darioj", "", "almuerzo"])),
        "true"
    );
    let panel = poll(Duration::from_secs(10), "the overdue pause", || {
        let x = php.call("statusQueues", json!([key]));
        x.contains("status=\"busyout\" warning=\"1\">2204</agent>")
            .then_some(x)
    });
    let changed: i64 = attr_in(&panel, "agent", "name=\"Dario\"", "laststatuschange")
        .unwrap()
        .parse()
        .unwrap();
    assert!(changed >= before_pause - 1, "{panel}");
    let login = suds.call("getAgentLogin", json!([key, "1004"]));
    assert!(
        login.contains("is_paused=\"true\" pause_type=\"Almuerzo\"/>"),
        "{login}"
    );
    assert_eq!(
        suds.call("unpauseAgent", json!([key, "darioj", ""])),
        "true"
    );
    assert_eq!(suds.call("logoutAgent", json!([key, "darioj"])), "true");
    assert!(!engine.log_text().contains(key), "the key is never logged");
}
