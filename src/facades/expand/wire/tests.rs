//! Tests of the eXpand wire formats.

use super::*;
use crate::core::ids::ChannelName;
use crate::core::UniqueId;
use std::time::Duration;

fn tz() -> TimeZone {
    TimeZone::get("America/Montevideo").unwrap()
}

#[test]
fn dates_are_civil_times_in_the_zone() {
    // Montevideo is UTC-3.
    let t = parse_date("2026-11-22 01:02:03", &tz()).unwrap();
    assert_eq!(t, UnixTime(1_795_320_123));
    assert_eq!(format_date(t, &tz()), "2026-11-22 01:02:03");
    for bad in [
        "",
        "2026-11-22",
        "2026-13-01 00:00:00",
        "2026-11-22T01:02:03",
        "22/11/2026 01:02:03",
        "2026-11-22 25:00:00",
        "2026-02-30 00:00:00",
        "2026-11-22 01:02:03x",
    ] {
        assert_eq!(parse_date(bad, &tz()), None, "{bad}");
    }
}

#[test]
fn durations_lists_and_numbers() {
    assert_eq!(hms(25840), "07h 10' 40''");
    assert_eq!(hms(0), "00h 00' 00''");
    assert_eq!(hms(360_000), "100h 00' 00''");
    assert_eq!(split_list("q_a, q_b q_c,,"), ["q_a", "q_b", "q_c"]);
    assert!(split_list("").is_empty());
    assert_eq!(split_list_max("a b,c", 3).unwrap(), ["a", "b", "c"]);
    assert_eq!(split_list_max("a b,c,d", 3), None);
    assert_eq!(decimal(159.769230769), "159.769231");
    assert_eq!(decimal(12.0), "12");
    assert_eq!(decimal(f64::NAN), "0");
}

fn cdr() -> CdrRecord {
    CdrRecord {
        source_rowid: 7,
        clid: "\"Ana\" <1001>".into(),
        src: "1001".into(),
        dst: "5551020".into(),
        dcontext: "outbound".into(),
        channel: ChannelName::new("PJSIP/1001-00000001"),
        dstchannel: None,
        lastapp: "Dial".into(),
        lastdata: "PJSIP/5551020@carrier".into(),
        duration: Duration::from_secs(25),
        billsec: Duration::from_secs(20),
        disposition: crate::core::journal::Disposition::Answered,
        amaflags: "DOCUMENTATION".into(),
        accountcode: String::new(),
        uniqueid: UniqueId::new("1795320123.5"),
        linkedid: UniqueId::new("1795320123.5"),
        sequence: 1,
        peeraccount: String::new(),
        userfield: String::new(),
        start: UnixTime(1_795_320_123),
        answer: Some(UnixTime(1_795_320_128)),
        end: UnixTime(1_795_320_148),
        recordingfile: String::new(),
        calldata: "cliente=42,caso=7".into(),
    }
}

#[test]
fn cdr_documents_carry_the_documented_attributes() {
    let x = cdr_xml(&[cdr()], &tz());
    assert!(x.starts_with(XML_DECL));
    assert!(
        x.contains(
            "<call uniqueid=\"1795320123.5\" src=\"1001\" dst=\"5551020\" dcontext=\"outbound\" \
             clid=\"&quot;Ana&quot; &lt;1001&gt;\" channel=\"PJSIP/1001-00000001\" dstchannel=\"\" \
             lastapp=\"Dial\" lastdata=\"PJSIP/5551020@carrier\" calldate=\"2026-11-22 01:02:03\" \
             duration=\"25\" billsec=\"20\" disposition=\"ANSWERED\" linkedid=\"1795320123.5\" \
             callinfo=\"cliente=42,caso=7\"/>"
        ),
        "{x}"
    );
    let c = cdr_custom_xml(&[cdr()], &tz(), "disposition", "calldata:caso");
    assert!(
        c.contains(
            "<call id=\"7\" uniqueid=\"1795320123.5\" src=\"1001\" dnis=\"5551020\" \
             context=\"outbound\" calldate=\"2026-11-22 01:02:03\" duration=\"25\" \
             estado=\"ANSWERED\" observaciones=\"7\"/>"
        ),
        "{c}"
    );
    assert_eq!(cdr_field(&cdr(), "calldata:nope"), "");
    assert_eq!(cdr_field(&cdr(), "billsec"), "20");
}

#[test]
fn documents_are_well_formed_and_escaped() {
    let docs = [
        extensions_xml(&[ExtensionInfo {
            extension: "1001".into(),
            channel: "PJSIP/1001".into(),
            callerid_name: "A & B <x>".into(),
        }]),
        recording_xml(1, "1.2", Some("SUQz")),
        recording_xml(0, "1.2", None),
        panel_xml(
            1.5,
            &[PanelAgent {
                number: "2101".into(),
                name: "Ana".into(),
                status: "busyout".into(),
                last_change: 0,
                last_congestion: 1275585158,
                warning: true,
            }],
            &[PanelQueue {
                qname: "q".into(),
                name: "Q".into(),
                abandoned: 1,
                completed: 2,
                counterabn: 1,
                counterans: 2,
                numongoing: 0,
                numwaiting: 1,
                ratio: 66.666,
                members: vec![PanelMember {
                    agent: "2101".into(),
                    paused: true,
                    status: "waiting".into(),
                    pause_type: "Almuerzo".into(),
                }],
                calls: vec![PanelCall {
                    kind: "in".into(),
                    callerid: "099".into(),
                    calleridname: String::new(),
                    connecttime: String::new(),
                    intime: "5".into(),
                    uniqueid: "5.1".into(),
                    agent: "0".into(),
                }],
            }],
        ),
        agent_totals_xml(&[AgentTotals {
            agente: "(2101) Ana".into(),
            average: 159.5,
            ..AgentTotals::default()
        }]),
        agent_logged_xml(&UserInfo::default()),
        user_info_xml(&UserInfo::default()),
        session_detail_xml(
            &[AgentDetail {
                user: "ana".into(),
                number: "2101".into(),
                queues: vec![QueueDetail {
                    queue: "q".into(),
                    logged: 100,
                    paused: 10,
                    pauses: vec![("Almuerzo".into(), 10)],
                    sessions: vec![QueueSession {
                        start: UnixTime(0),
                        end: UnixTime(100),
                        pauses: vec![SessionPause {
                            kind: "Almuerzo".into(),
                            start: UnixTime(5),
                            end: UnixTime(15),
                        }],
                    }],
                }],
            }],
            &tz(),
        ),
    ];
    for d in &docs {
        let mut r = quick_xml::Reader::from_str(d);
        let mut depth = 0i32;
        loop {
            match r.read_event().unwrap_or_else(|e| panic!("{e}: {d}")) {
                quick_xml::events::Event::Start(_) => depth += 1,
                quick_xml::events::Event::End(_) => depth -= 1,
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0, "{d}");
    }
    assert!(docs[0].contains("calleridName=\"A &amp; B &lt;x&gt;\""));
    assert!(docs[3].contains(
        "<agent lastcongestion=\"1275585158\" laststatuschange=\"0\" name=\"Ana\" \
         status=\"busyout\" warning=\"1\">2101</agent>"
    ));
    assert!(docs[3].contains("<ratio>66.67</ratio>"), "{}", docs[3]);
    assert!(docs[3].contains("pausetype=\"Almuerzo\">2101</qagent>"));
    assert!(docs[4].contains("promedio=\"00h 02' 40''\" promedioSeg=\"159.5\""));
    assert!(docs[7].contains(
        "<pause type=\"Almuerzo\" start=\"1969-12-31 21:00:05\" end=\"1969-12-31 21:00:15\" duration=\"10\"/>"
    ));
}
