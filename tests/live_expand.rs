//! Live tier: the eXpand webservice (`/apiws/2/apiws.php`) of the real engine, driven by three
//! real SOAP clients built from the served WSDL (PHP SoapClient, zeep, suds), against the lab:
//! originated calls followed through their status codes, busy and cancelled calls, CDRs with
//! the call's data, recordings as MP3, agents logged in, paused with a reason and reported, a
//! queue call on the live panel, SMS sent through the carrier trunk, and the documented error
//! codes.
//!
//! Uses phones 1001-1003 and queue `q_ventas` (DID 26001000) only; every member it adds is
//! removed when it ends, also when it fails.

mod live_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::CoreShowChannels;
use centralita::asterisk::ami::AmiClient;
use live_support::expand::*;
use live_support::*;
use serde_json::json;

const QUEUE: &str = "q_ventas";
const PHONES: [&str; 3] = ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"];

/// Polls `originateCallStatus` until the job is final; returns the codes seen, in order,
/// without repeats.
fn follow_job(c: &mut SoapClient, key: &str, id: &str) -> Vec<i64> {
    let mut seen: Vec<i64> = Vec::new();
    let started = Instant::now();
    loop {
        let code: i64 = c
            .call("originateCallStatus", json!([key, id]))
            .parse()
            .unwrap();
        if seen.last() != Some(&code) {
            seen.push(code);
        }
        if code >= 3 || code <= 0 {
            return seen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} job {id} never ended: {seen:?}",
            c.name
        );
        std::thread::sleep(Duration::from_millis(150));
    }
}

async fn job_channels(ami: &AmiClient, id: &str) -> Vec<String> {
    let (_, list) = ami.send_list(&CoreShowChannels).await.unwrap();
    list.iter()
        .filter_map(|c| c.get("Uniqueid"))
        .filter(|u| u.starts_with(&format!("{id}-")))
        .map(str::to_owned)
        .collect()
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (code.to_owned(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_webservice_against_the_lab() {
    let scratch = Scratch::new("expand");
    let ami = connect().await;
    set_queue_members(&ami, QUEUE, &[]).await;
    let _guard = QueueGuard {
        queue: QUEUE,
        phones: &PHONES,
    };

    let engine = Engine::start_with(
        scratch.path(),
        "expand",
        "[originate]\nretention_seconds = 600\n\n\
         [sms]\nuri_template = \"pjsip:carrier/sip:{number}@127.0.0.2:5060\"\n\
         max_per_second = 3\n\n[expand.queue_descriptions]\nq_ventas = \"Ventas\"\n",
    );
    wait_health(&engine, Duration::from_secs(20), "the engine", |c, _| {
        c == "200"
    });
    for (number, name, user, ext) in [
        ("2101", "Ana Expand", "ana_x", "1001"),
        ("2102", "Beto Expand", "beto_x", "1002"),
        ("2103", "Carla Expand", "carla_x", "1003"),
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
                "--email",
                &format!("{user}@example.com"),
                "--queue",
                QUEUE,
                "--extension",
                ext,
            ],
            "",
        );
    }
    engine.admin(
        &["pause-reason", "add", "almuerzo", "--name", "Almuerzo"],
        "",
    );
    let key = engine.api_key("expand", "CRM de prueba");
    let key = key.as_str();
    let base = engine.base_url();
    let wsdl_url = format!("{base}/apiws/2/apiws.php?wsdl");
    // Reports cover this run only (a previous run's last events are seconds older).
    let started = jiff::Timestamp::now();
    let from = date(started);
    let to = date(started + jiff::SignedDuration::from_secs(6 * 3600));

    // ---------------------------------------------------------------- the WSDL
    let wsdl_file = scratch.path().join("expand.wsdl");
    let (code, body) = curl(&[&format!("{base}/apiws/2/apiws.php?%20wsdl")]);
    assert_eq!(code, "200");
    std::fs::write(&wsdl_file, &body).unwrap();
    let lint = Command::new("xmllint")
        .arg("--noout")
        .arg(&wsdl_file)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    assert!(body.contains(&format!("location=\"{base}/apiws/2/apiws.php\"")));

    let py = python();
    let mut php = SoapClient::start("php", "php", "client.php", &wsdl_url);
    let mut zeep = SoapClient::start("zeep", &py, "client_zeep.py", &wsdl_url);
    let mut suds = SoapClient::start("suds", &py, "client_suds.py", &wsdl_url);
    for c in [&php, &zeep, &suds] {
        assert_eq!(
            c.ready["value"], 22,
            "{} sees every operation of the WSDL",
            c.name
        );
    }

    // ---------------------------------------------------------------- a wrong key
    for c in [&mut php, &mut zeep, &mut suds] {
        assert_eq!(c.call("originateCallStatus", json!(["nope", "x"])), "-1");
        assert_eq!(
            c.call(
                "originateCall",
                json!(["nope", "1001", "", "5551003", "", 20, ""])
            ),
            "-1"
        );
        assert_eq!(
            c.call("sendSms", json!(["nope", 0, "hola", "5559000"])),
            "-1"
        );
        assert_eq!(
            c.call("loginAgent", json!(["nope", "ana_x", "1001"])),
            "false"
        );
        assert_eq!(c.call("statusQueues", json!(["nope"])), "-1");
    }

    // ---------------------------------------------------------------- originate 1 → 2 → 3
    let mut jobs = Vec::new();
    for c in [&mut php, &mut zeep, &mut suds] {
        let info = format!("cliente=42,caso={}", c.name);
        phones_idle(&ami, &PHONES).await;
        let id = c.call(
            "originateCall",
            json!([key, "1001", "Ana Expand", "5551003", "Cliente", 20, info]),
        );
        assert!(id.len() > 8 && !id.starts_with('-'), "{}: {id}", c.name);
        let seen = follow_job(c, key, &id);
        assert_eq!(seen, [1, 2, 3], "{} job {id}", c.name);
        jobs.push((c.name, id));
    }
    // Kept after the end.
    assert_eq!(
        php.call("originateCallStatus", json!([key, jobs[2].1])),
        "3"
    );
    assert_eq!(
        php.call("originateCallStatus", json!([key, "19abc-0"])),
        "0"
    );

    // A busy number ends in 4.
    phones_idle(&ami, &PHONES).await;
    let busy = php.call(
        "originateCall",
        json!([key, "1001", "Ana", "5552000", "", 20, "caso=busy"]),
    );
    assert_eq!(*follow_job(&mut php, key, &busy).last().unwrap(), 4);

    // No answer within the timeout: 5; congestion: 6.
    phones_idle(&ami, &PHONES).await;
    let noanswer = suds.call(
        "originateCall",
        json!([key, "1001", "Ana", "5553000", "", 4, "caso=noanswer"]),
    );
    assert_eq!(*follow_job(&mut suds, key, &noanswer).last().unwrap(), 5);
    phones_idle(&ami, &PHONES).await;
    let congestion = suds.call(
        "originateCall",
        json!([key, "1001", "Ana", "5554000", "", 20, "caso=congestion"]),
    );
    assert_eq!(*follow_job(&mut suds, key, &congestion).last().unwrap(), 6);

    // The source phone already on a call: 7.
    phones_idle(&ami, &PHONES).await;
    let talking = php.call(
        "originateCall",
        json!([key, "1002", "Beto", "5551006", "", 20, "caso=talking"]),
    );
    poll(Duration::from_secs(20), "the first call up", || {
        (php.call("originateCallStatus", json!([key, talking])) == "2").then_some(())
    });
    let offhook = zeep.call(
        "originateCall",
        json!([key, "1002", "Beto", "5551003", "", 20, "caso=offhook"]),
    );
    assert_eq!(*follow_job(&mut zeep, key, &offhook).last().unwrap(), 7);
    assert_eq!(*follow_job(&mut php, key, &talking).last().unwrap(), 3);

    // Cancel while ringing: 1, then the job's channels leave Asterisk.
    phones_idle(&ami, &PHONES).await;
    let ringing = zeep.call(
        "originateCall",
        json!([key, "1001", "Ana", "5553000", "", 30, "caso=cancel"]),
    );
    assert_eq!(zeep.call("originateCallStatus", json!([key, ringing])), "1");
    let chans = job_channels(&ami, &ringing).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut chans = chans;
    while chans.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        chans = job_channels(&ami, &ringing).await;
    }
    assert!(!chans.is_empty(), "the cancelled job had channels");
    assert_eq!(zeep.call("originateCallCancel", json!([key, ringing])), "1");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = job_channels(&ami, &ringing).await;
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "channels left: {left:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(suds.call("originateCallCancel", json!([key, ringing])), "0");
    assert_eq!(suds.call("originateCallCancel", json!([key, "nope"])), "0");
    assert_eq!(
        suds.call("originateCallCancel", json!(["nope", ringing])),
        "-1"
    );

    // ---------------------------------------------------------------- CDRs with the call data
    let cdrs = poll(Duration::from_secs(30), "the CDRs of the jobs", || {
        let x = suds.call("cdrData", json!([key, "", from, to]));
        let all = ["php", "zeep", "suds", "busy"]
            .iter()
            .all(|c| x.contains(&format!("caso={c}\"")))
            // The cancelled job's source leg (pre-assigned uniqueid `<job>-src`).
            && x.contains(&format!("uniqueid=\"{ringing}-src\""));
        all.then_some(x)
    });
    let uid = attr_in(&cdrs, "call", "caso=php\"", "uniqueid").unwrap();
    assert_eq!(
        attr_in(&cdrs, "call", "caso=php\"", "disposition").unwrap(),
        "ANSWERED"
    );
    let one = php.call("cdrData", json!([key, uid, "", ""]));
    assert!(one.contains(&format!("uniqueid=\"{uid}\"")), "{one}");
    assert!(one.contains("callinfo=\"cliente=42,caso=php\""), "{one}");
    let custom = zeep.call("cdrCustom", json!([key, from, to]));
    assert!(
        custom.contains("observaciones=\"cliente=42,caso=zeep\""),
        "{custom}"
    );
    assert!(custom.contains("estado=\"ANSWERED\""), "{custom}");
    assert_eq!(zeep.call("cdrCustom", json!([key, "ayer", to])), "-4");

    // ---------------------------------------------------------------- recordings as MP3
    let rec = poll(Duration::from_secs(30), "the recording", || {
        let x = php.call("recordingPbx", json!([key, uid]));
        x.contains("status=\"1\"").then_some(x)
    });
    let b64 = rec
        .split("encoding=\"base64\">")
        .nth(1)
        .and_then(|r| r.split("</recording>").next())
        .unwrap();
    let mp3 = scratch.path().join("rec.mp3");
    let bytes = base64_decode(b64);
    std::fs::write(&mp3, &bytes).unwrap();
    let wav = scratch.path().join("rec.wav");
    let dec = Command::new("lame")
        .args(["--quiet", "--decode"])
        .arg(&mp3)
        .arg(&wav)
        .status()
        .unwrap();
    assert!(dec.success(), "the MP3 decodes");
    assert!(rms(&wav) > 0.05, "the recording is not silence");
    // The cancelled job's source never answered: a call, but nothing recorded.
    let cancel_uid = format!("{ringing}-src");
    let none = zeep.call("recordingPbx", json!([key, cancel_uid]));
    assert!(none.contains("status=\"0\""), "{none}");
    let unknown = suds.call("recordingPbx", json!([key, "1.23"]));
    assert!(unknown.contains("status=\"-1\""), "{unknown}");

    // ---------------------------------------------------------------- directory
    assert_eq!(suds.call("getUserByAgent", json!([key, "2101"])), "ana_x");
    assert_eq!(suds.call("getUserByAgent", json!([key, "2999"])), "");
    let info = php.call("getUserInfo", json!([key, "beto_x"]));
    assert!(
        info.contains("nombre=\"Beto Expand\" email=\"beto_x@example.com\""),
        "{info}"
    );
    let exts = zeep.call("extensionPbx", json!([key]));
    assert!(
        exts.contains(
            "<extensioninfo extension=\"1001\" channel=\"PJSIP/1001\" calleridName=\"Ana Expand\"/>"
        ),
        "{exts}"
    );

    // ---------------------------------------------------------------- agents
    assert_eq!(
        php.call("loginAgent", json!([key, "ana_x", "1001"])),
        "true"
    );
    assert_eq!(
        zeep.call("loginAgent", json!([key, "beto_x", "1002"])),
        "true"
    );
    assert_eq!(
        suds.call("loginAgent", json!([key, "nadie", "1003"])),
        "false"
    );
    let members = queue_members(&ami, QUEUE).await;
    assert!(members.contains(&"PJSIP/1001".to_owned()), "{members:?}");
    assert!(members.contains(&"PJSIP/1002".to_owned()), "{members:?}");
    let logged = poll(Duration::from_secs(10), "ana logged in", || {
        let x = zeep.call("getAgentLoggedInfo", json!([key, "ana_x"]));
        x.contains("<agentAgent>").then_some(x)
    });
    assert!(
        logged.contains("agente=\"ana_x\" nroAgente=\"2101\" extension=\"1001\""),
        "{logged}"
    );
    assert_eq!(
        zeep.call("getAgentLoggedInfo", json!([key, "carla_x"])),
        "0"
    );
    assert_eq!(zeep.call("getAgentLoggedInfo", json!([key, ""])), "-2");
    let login = suds.call("getAgentLogin", json!([key, "1001,1003"]));
    assert!(
        login.contains("<agent number=\"2101\" user=\"ana_x\" name=\"Ana Expand\" is_logged=\"true\" logged_date=\""),
        "{login}"
    );
    assert!(login.contains("<queue name=\"q_ventas\" description=\"Ventas\" is_logged=\"true\""));
    assert_eq!(suds.call("getAgentLogin", json!([key, "1001,12ab"])), "-5");
    assert_eq!(suds.call("getAgentLogin", json!([key, ""])), "-4");

    // Ana dials out while logged in: an outbound call of the queue's agent, on the panel as
    // type="out" with the number while it is up, then in the reports.
    let dialed_at = jiff::Timestamp::now().as_second();
    phones_idle(&ami, &PHONES).await;
    let out_job = suds.call(
        "originateCall",
        json!([key, "1001", "Ana", "5551012", "", 20, "caso=saliente"]),
    );
    let panel = poll(
        Duration::from_secs(30),
        "ana's outbound call on the panel",
        || {
            let x = php.call("statusQueues", json!([key]));
            x.contains("callerid=\"5551012\"").then_some(x)
        },
    );
    let out_call = |x: &str, name: &str| attr_in(x, "call", "type=\"out\"", name);
    assert_eq!(
        out_call(&panel, "callerid").as_deref(),
        Some("5551012"),
        "{panel}"
    );
    assert!(panel.contains(">2101</call>"), "{panel}");
    assert!(panel.contains("<numongoing>1</numongoing>"), "{panel}");
    let connect: i64 = out_call(&panel, "connecttime").unwrap().parse().unwrap();
    let now = jiff::Timestamp::now().as_second();
    assert!(
        (dialed_at - 1..=now).contains(&connect),
        "connecttime {connect}, dialed at {dialed_at}, now {now}: {panel}"
    );
    // While up, its duration (now - connecttime) grows; zeep sees the same call.
    std::thread::sleep(Duration::from_secs(2));
    let later = zeep.call("statusQueues", json!([key]));
    assert_eq!(
        out_call(&later, "connecttime"),
        Some(connect.to_string()),
        "{later}"
    );
    assert!(jiff::Timestamp::now().as_second() - connect >= 2);
    assert_eq!(follow_job(&mut suds, key, &out_job).last(), Some(&3));
    poll(
        Duration::from_secs(10),
        "the outbound call off the panel",
        || {
            let x = php.call("statusQueues", json!([key]));
            (!x.contains("type=\"out\"") && x.contains("<numongoing>0</numongoing>")).then_some(())
        },
    );

    // A pause with a reason, on the panel, then in the reports with its duration.
    let paused_at = Instant::now();
    assert_eq!(
        zeep.call("pauseAgent", json!([key, "ana_x", "", "almuerzo"])),
        "true"
    );
    poll(Duration::from_secs(10), "the pause on the panel", || {
        let x = php.call("statusQueues", json!([key]));
        (x.contains("paused=\"true\" status=\"waiting\" pausetype=\"Almuerzo\">2101</qagent>")
            && x.contains("status=\"busyout\" warning=\"0\">2101</agent>"))
        .then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        suds.call("unpauseAgent", json!([key, "ana_x", QUEUE])),
        "true"
    );
    let pause_secs = paused_at.elapsed().as_secs_f64();
    poll(Duration::from_secs(10), "the pause over", || {
        let x = php.call("statusQueues", json!([key]));
        x.contains("paused=\"false\" status=\"waiting\" pausetype=\"\">2101</qagent>")
            .then_some(())
    });
    assert_eq!(
        php.call("pauseAgent", json!([key, "ana_x", "q_nada", "almuerzo"])),
        "false"
    );
    assert_eq!(
        php.call("pauseAgent", json!([key, "ana_x", "", "no-such-reason"])),
        "false"
    );

    // A queue call answered by beto (ana is logged out first so that beto takes it).
    assert_eq!(php.call("logoutAgent", json!([key, "ana_x"])), "true");
    let members = queue_members(&ami, QUEUE).await;
    assert!(!members.contains(&"PJSIP/1001".to_owned()), "{members:?}");
    let out = lab(&[
        "call-in",
        "--did",
        "26001000",
        "--from",
        "099555111",
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
        let x = zeep.call("statusQueues", json!([key]));
        (x.contains(">2102</call>") && x.contains("status=\"busy\" warning=\"0\">2102</agent>"))
            .then_some(x)
    });
    assert!(panel.contains("<numongoing>1</numongoing>"), "{panel}");
    let queue_call = attr_in(&panel, "call", "type=\"in\"", "uniqueid").unwrap();
    // The caller id of the connected call is kept.
    assert_eq!(
        attr_in(&panel, "call", "type=\"in\"", "callerid").as_deref(),
        Some("099555111"),
        "{panel}"
    );
    poll(Duration::from_secs(30), "the call over", || {
        let x = zeep.call("statusQueues", json!([key]));
        x.contains("<numongoing>0</numongoing>").then_some(())
    });
    // beto's queue call is answered (`atendidas`), not a direct inbound call (`entrantes`).
    let before_direct = poll(
        Duration::from_secs(30),
        "beto's queue call in agentData",
        || {
            let x = php.call("agentData", json!([QUEUE, from, to]));
            (attr_in(&x, "agent", "(2102) Beto Expand", "atendidas").as_deref() == Some("1"))
                .then_some(x)
        },
    );
    assert_eq!(
        attr_in(&before_direct, "agent", "(2102) Beto Expand", "entrantes").as_deref(),
        Some("0"),
        "{before_direct}"
    );
    // A direct call to beto's extension while logged in (1003 dials 1002): not a queue call,
    // counted in agentData's `entrantes`.
    phones_idle(&ami, &PHONES).await;
    let direct = php.call(
        "originateCall",
        json!([key, "1003", "", "1002", "", 20, "caso=directa"]),
    );
    poll(Duration::from_secs(20), "the direct call answered", || {
        (php.call("originateCallStatus", json!([key, direct])) == "2").then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(php.call("originateCallCancel", json!([key, direct])), "1");
    assert!(follow_job(&mut php, key, &direct).last().unwrap() >= &3);
    assert_eq!(suds.call("logoutAgent", json!([key, "beto_x"])), "true");

    // Reports, once the queue_log lines are ingested.
    let detail = poll(Duration::from_secs(30), "the session report", || {
        let x = php.call("agentSessionDetail", json!([key, from, to, "ana_x", QUEUE]));
        x.contains("<session ").then_some(x)
    });
    let d: f64 = attr_in(&detail, "pause", "type=\"Almuerzo\" start=", "duration")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (d - pause_secs).abs() <= 2.0,
        "pause of {d} s reported, {pause_secs:.1} s measured: {detail}"
    );
    assert!(
        detail.contains("<agent userID=\"ana_x\" agentID=\"2101\">"),
        "{detail}"
    );
    assert!(detail.contains(&format!("<pause type=\"Almuerzo\" duration=\"{d}\"/>")));
    assert_eq!(
        php.call("agentSessionDetail", json!([key, from, to, "nadie", ""])),
        "-6"
    );
    assert_eq!(
        php.call("agentSessionDetail", json!([key, "x", to, "", ""])),
        "-3"
    );
    assert_eq!(
        php.call("agentSessionDetail", json!([key, from, to, "", "q_nada"])),
        "-5"
    );

    let times = zeep.call("getAgentTimes", json!([key, from, to, "ana_x", ""]));
    let paused: f64 = attr_in(&times, "agent", "user=\"ana_x\"", "paused")
        .unwrap()
        .parse()
        .unwrap();
    assert!((paused - d).abs() <= 1.0, "{times}");
    assert!(times.contains("<queueagent name=\"q_ventas\" description=\"Ventas\"/>"));
    assert_eq!(
        zeep.call("getAgentTimes", json!([key, "x", to, "", ""])),
        "-4"
    );
    assert_eq!(
        zeep.call("getAgentTimes", json!([key, from, "x", "", ""])),
        "-5"
    );
    assert_eq!(
        zeep.call("getAgentTimes", json!([key, from, to, "", "q_nada"])),
        "-6"
    );
    assert_eq!(
        zeep.call("getAgentTimes", json!([key, from, to, "nadie", ""])),
        "-7"
    );
    assert_eq!(
        zeep.call("getAgentTimes", json!([key, to, from, "", ""])),
        "-8"
    );
    assert_eq!(
        zeep.call(
            "getAgentTimes",
            json!([key, "2099-01-01 00:00:00", "2099-01-02 00:00:00", "", ""])
        ),
        "-9"
    );
    assert_eq!(
        suds.call(
            "getAgentTimes",
            json!([
                key,
                "2020-01-01 00:00:00",
                "2020-01-02 00:00:00",
                "carla_x",
                ""
            ])
        ),
        "-10"
    );

    let activity = poll(Duration::from_secs(30), "the queue activity", || {
        let x = suds.call("queueData", json!([QUEUE, "", from, to]));
        let done = format!("uniqueid=\"{queue_call}\" action=\"COMPLETECALLER\"");
        x.contains(&done).then_some(x)
    });
    for action in ["LOGIN", "PAUSE", "UNPAUSE", "LOGOUT"] {
        // Other tests' agents may log in and out in the same window: look for ours.
        assert!(
            ["2101", "2102"].iter().any(|agent| attr_in(
                &activity,
                "activity",
                &format!("action=\"{action}\" callerid=\"\" agent=\"{agent}\""),
                "agent"
            )
            .is_some()),
            "{action}: {activity}"
        );
    }
    assert_eq!(
        attr_in(&activity, "activity", "action=\"PAUSE\"", "cause").unwrap(),
        "Almuerzo"
    );
    assert_eq!(
        attr_in(&activity, "activity", "action=\"ENTERQUEUE\"", "callerid").unwrap(),
        "099555111"
    );
    for action in ["ENTERQUEUE", "RINGING", "CONNECT", "COMPLETECALLER"] {
        let marker = format!("uniqueid=\"{queue_call}\" action=\"{action}\"");
        let agent = attr_in(&activity, "activity", &marker, "agent");
        let want = if action == "ENTERQUEUE" { "" } else { "2102" };
        assert_eq!(agent.as_deref(), Some(want), "{action}: {activity}");
    }
    // Today so far (today's 00:00:00 to tomorrow's) is answered from the engine's running day
    // figures rather than folded from the journal: the same queue call, the same agent (unless
    // the day changed since the test began).
    let zone = jiff::tz::TimeZone::get("America/Montevideo").unwrap();
    let day = started.to_zoned(zone.clone()).start_of_day().unwrap();
    let next_day = day.tomorrow().unwrap();
    if jiff::Timestamp::now() < next_day.timestamp() {
        let (day_from, day_to) = (date(day.timestamp()), date(next_day.timestamp()));
        let today = suds.call("queueData", json!([QUEUE, "", day_from, day_to]));
        for action in ["ENTERQUEUE", "RINGING", "CONNECT", "COMPLETECALLER"] {
            let marker = format!("uniqueid=\"{queue_call}\" action=\"{action}\"");
            let agent = attr_in(&today, "activity", &marker, "agent");
            let want = if action == "ENTERQUEUE" { "" } else { "2102" };
            assert_eq!(agent.as_deref(), Some(want), "today, {action}: {today}");
        }
    }
    let dialout = poll(Duration::from_secs(30), "ana's outbound call", || {
        let x = suds.call("queueData", json!([QUEUE, "2101", from, to]));
        x.contains("action=\"DIALOUTEND\"").then_some(x)
    });
    assert_eq!(
        attr_in(&dialout, "activity", "action=\"DIALOUT\"", "dest").as_deref(),
        Some("5551012"),
        "{dialout}"
    );
    let out_talk: i64 = attr_in(&dialout, "activity", "action=\"DIALOUTEND\"", "talksec")
        .unwrap()
        .parse()
        .unwrap();
    assert!((10..=14).contains(&out_talk), "{dialout}");
    let only_ana = php.call("queueData", json!([QUEUE, "2101", from, to]));
    assert!(!only_ana.contains("agent=\"2102\""), "{only_ana}");
    assert_eq!(php.call("queueData", json!(["q_nada", "", from, to])), "-6");

    let totals = php.call("agentData", json!([QUEUE, from, to]));
    let beto = |name: &str| attr_in(&totals, "agent", "(2102) Beto Expand", name).unwrap();
    assert_eq!(beto("atendidas"), "1", "{totals}");
    assert_eq!(beto("presentadas"), "1");
    let direct_seen = poll(Duration::from_secs(30), "beto's direct call", || {
        let x = php.call("agentData", json!([QUEUE, from, to]));
        (attr_in(&x, "agent", "(2102) Beto Expand", "entrantes").as_deref() == Some("1"))
            .then_some(x)
    });
    assert_eq!(
        attr_in(&direct_seen, "agent", "(2101) Ana Expand", "entrantes").as_deref(),
        Some("0"),
        "{direct_seen}"
    );
    let talked: i64 = beto("habladoSeg").parse().unwrap();
    assert!((5..=8).contains(&talked), "{totals}");
    let ana_paused: f64 = attr_in(&totals, "agent", "(2101) Ana Expand", "pausadoSeg")
        .unwrap()
        .parse()
        .unwrap();
    assert!((ana_paused - d).abs() <= 1.0, "{totals}");
    let ana = |name: &str| attr_in(&totals, "agent", "(2101) Ana Expand", name).unwrap();
    assert_eq!(ana("salientes"), "1", "{totals}");
    assert_eq!(ana("habladoSalienteSeg"), out_talk.to_string(), "{totals}");

    // Every read-only operation through every client.
    for c in [&mut php, &mut zeep, &mut suds] {
        let n = c.name;
        assert!(
            c.call("extensionPbx", json!([key]))
                .contains("extension=\"1002\""),
            "{n}"
        );
        assert!(
            c.call("statusQueues", json!([key]))
                .contains("<queue qname=\"q_ventas\" name=\"Ventas\">"),
            "{n}"
        );
        assert!(
            c.call("getUserInfo", json!([key, "carla_x"]))
                .contains("nroAgente=\"2103\""),
            "{n}"
        );
        assert_eq!(
            c.call("getUserByAgent", json!([key, "2102"])),
            "beto_x",
            "{n}"
        );
        assert!(
            c.call("getAgentTimes", json!([key, from, to, "", QUEUE]))
                .contains("user=\"beto_x\""),
            "{n}"
        );
        assert!(
            c.call("agentSessionDetail", json!([key, from, to, "", ""]))
                .contains("agentID=\"2102\""),
            "{n}"
        );
        assert!(
            c.call("agentData", json!([QUEUE, from, to]))
                .contains("(2102) Beto Expand"),
            "{n}"
        );
        assert!(
            c.call("queueData", json!([QUEUE, "2102", from, to]))
                .contains("action=\"CONNECT\""),
            "{n}"
        );
        assert!(
            c.call("cdrData", json!([key, "", from, to]))
                .contains("callinfo=\"caso=busy\""),
            "{n}"
        );
        assert!(
            c.call("cdrCustom", json!([key, from, to]))
                .contains("estado=\"BUSY\""),
            "{n}"
        );
        assert!(
            c.call("getAgentLogin", json!([key, "1002"]))
                .contains("<extension number=\"1002\" channelType=\"PJSIP\""),
            "{n}"
        );
        assert_eq!(
            c.call("getAgentLoggedInfo", json!([key, "beto_x"])),
            "0",
            "{n}"
        );
        assert_eq!(
            c.call("getAgentTimes", json!([key, from, to, "a<b", ""])),
            "-2",
            "{n}"
        );
    }

    // ---------------------------------------------------------------- SMS
    let mut ids = Vec::new();
    for (c, recip) in [
        (&mut php, "5559001"),
        (&mut zeep, "5559002,5559003"),
        (&mut suds, "5559004 5559005"),
    ] {
        let id = c.call(
            "sendSms",
            json!([key, 0, format!("hola desde {}", c.name), recip]),
        );
        assert!(id.parse::<i64>().unwrap() > 0, "{}: {id}", c.name);
        ids.push(id);
        // One second between sends keeps within 3 messages per second.
        std::thread::sleep(Duration::from_millis(1100));
    }
    for (c, id) in [&mut php, &mut zeep, &mut suds].into_iter().zip(&ids) {
        let status = poll(Duration::from_secs(10), "the SMS sent", || {
            let s = c.call("statusSms", json!([key, id]));
            (s != "PENDING").then_some(s)
        });
        assert_eq!(status, "SENT", "{} sms {id}", c.name);
    }
    assert_eq!(
        php.call("sendSms", json!([key, 0, "x".repeat(161), "5559006"])),
        "0"
    );
    assert_eq!(
        zeep.call(
            "sendSms",
            json!([key, 0, "hola", "5559006,5559007,5559008,5559009"])
        ),
        "-2"
    );
    let draft = suds.call("sendSms", json!([key, 0, "borrador", ""]));
    assert_eq!(suds.call("statusSms", json!([key, draft])), "DRAFT");
    assert_eq!(suds.call("statusSms", json!([key, "999999"])), "");

    // ---------------------------------------------------------------- faults and limits
    let endpoint = format!("{base}/apiws/2/apiws.php");
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: text/xml",
        "--data",
        "<nope",
        &endpoint,
    ]);
    assert_eq!(code, "500");
    assert!(
        body.contains("<faultcode>SOAP-ENV:Client</faultcode>"),
        "{body}"
    );
    let big = scratch.path().join("big.xml");
    std::fs::write(&big, vec![b' '; 2 << 20]).unwrap();
    let (code, _) = curl(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", big.display()),
        &endpoint,
    ]);
    assert_eq!(code, "413");
    // Through the WSDL PHP refuses an unknown operation itself; without it the request reaches
    // the engine, whose Fault PHP decodes.
    let fault = php.call_without_wsdl("noSuchOperation", json!([]));
    assert_eq!(fault["ok"], false, "{fault}");
    assert!(
        fault["fault"].as_str().unwrap_or("").ends_with("Server"),
        "{fault}"
    );
    assert!(
        fault["error"]
            .as_str()
            .unwrap_or("")
            .contains("Procedure 'noSuchOperation' not present"),
        "the engine's Fault: {fault}"
    );

    let log = engine.log_text();
    assert!(!log.contains(key), "the key is never logged");
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .expect("valid base64")
}

/// RMS amplitude of a WAV file (`sox FILE -n stat`).
fn rms(wav: &Path) -> f64 {
    let out = Command::new("sox")
        .arg(wav)
        .args(["-n", "stat"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find(|l| l.starts_with("RMS     amplitude"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}
