//! Data-driven tests of the report arithmetic: hand-written `queue_log` lines and CDRs, every
//! number asserted exactly. Times are seconds after `BASE`.

use std::sync::Arc;

use crate::core::naming::TestNaming;
use crate::core::queue_details::TestQueueLog;
use std::time::Duration;

use super::*;
use crate::core::ids::ChannelName;
use crate::core::journal::{FileId, LogPosition};

const BASE: i64 = 1_795_000_000;

fn t(s: i64) -> UnixTime {
    UnixTime(BASE + s)
}

fn range(from: i64, to: i64) -> TimeRange {
    TimeRange::new(t(from), t(to))
}

/// Parses lines `secs|callid|queue|agent|EVENT|data...` (time relative to `BASE`).
fn qlog(lines: &str) -> Vec<QueueLogRecord> {
    lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split('|').collect();
            QueueLogRecord {
                position: LogPosition {
                    file: FileId {
                        dev: 1,
                        ino: 1,
                        created_ns: 0,
                    },
                    offset: i as u64 * 100,
                },
                time: t(f[0].parse().unwrap()),
                callid: f[1].to_owned(),
                queue: f[2].to_owned(),
                agent: f[3].to_owned(),
                event: QueueEvent::parse(f[4]),
                data: f[5..].iter().map(|d| (*d).to_owned()).collect(),
            }
        })
        .collect()
}

/// One CDR leg (times from `BASE`), for the report tests and the day figures' tests.
#[allow(clippy::too_many_arguments)]
pub(in crate::core) fn leg(
    rowid: i64,
    linkedid: &str,
    sequence: i64,
    channel: &str,
    dstchannel: Option<&str>,
    dcontext: &str,
    dst: &str,
    (start, answer, end): (i64, Option<i64>, i64),
    disposition: Disposition,
) -> CdrRecord {
    CdrRecord {
        source_rowid: rowid,
        clid: String::new(),
        src: String::new(),
        dst: dst.to_owned(),
        dcontext: dcontext.to_owned(),
        channel: ChannelName::new(channel),
        dstchannel: dstchannel.map(ChannelName::new),
        lastapp: "Dial".to_owned(),
        lastdata: String::new(),
        duration: Duration::from_secs((end - start) as u64),
        billsec: Duration::from_secs(answer.map_or(0, |a| end - a) as u64),
        disposition,
        amaflags: "DOCUMENTATION".to_owned(),
        accountcode: String::new(),
        uniqueid: UniqueId::new(format!("{linkedid}-{rowid}")),
        linkedid: UniqueId::new(linkedid),
        sequence,
        peeraccount: String::new(),
        userfield: String::new(),
        start: t(start),
        answer: answer.map(t),
        end: t(end),
        recordingfile: String::new(),
        calldata: String::new(),
    }
}

fn ctx(now: i64) -> ReportContext {
    let mut c = ReportContext::new(t(now), Arc::new(TestNaming), Arc::new(TestQueueLog));
    c.interfaces.insert("PJSIP/1005".into(), "2005".into());
    c.extensions.insert("2005".into(), "1005".into());
    c.extensions.insert("2006".into(), "1006".into());
    c.service_levels.insert("q_ventas".into(), 20);
    c
}

fn all() -> ReportFilter {
    ReportFilter::default()
}

fn agents(names: &[&str]) -> ReportFilter {
    ReportFilter {
        agents: names.iter().map(|s| (*s).to_owned()).collect(),
        queues: Vec::new(),
    }
}

fn spans(s: &[Session]) -> Vec<(i64, i64, bool)> {
    s.iter()
        .map(|s| (s.start.0 - BASE, s.end.0 - BASE, s.open))
        .collect()
}

/// `(reason, count, seconds, [(start, end, open)])`, times relative to `BASE`.
type PauseView = (String, u64, i64, Vec<(i64, i64, bool)>);

fn pause_spans(r: &AgentReport) -> Vec<PauseView> {
    r.pauses
        .iter()
        .map(|p| {
            (
                p.reason.clone(),
                p.count,
                p.seconds,
                p.periods
                    .iter()
                    .map(|x| (x.start.0 - BASE, x.end.0 - BASE, x.open))
                    .collect(),
            )
        })
        .collect()
}

/// Login at 100, two pauses (one written with the interface by a feature code), three queue
/// calls (c2 rings 2005 without answer and is answered by 2006), one outbound call, an
/// abandoned caller, logout.
const DAY: &str = "
    -100|NONE|NONE|NONE|QUEUESTART|
    100|MANAGER|q_ventas|2005|ADDMEMBER|
    100|MANAGER|q_ventas|2006|ADDMEMBER|
    200|c1|q_ventas|NONE|ENTERQUEUE||0991000001|1
    205|c1|q_ventas|2005|CONNECT|5|c1b|2
    265|c1|q_ventas|2005|COMPLETECALLER|5|60|1
    300|NONE|NONE|2005|PAUSEALL|almuerzo
    300|NONE|q_ventas|2005|PAUSE|almuerzo
    400|NONE|NONE|2005|UNPAUSEALL|
    400|NONE|q_ventas|2005|UNPAUSE|
    500|c2|q_ventas|NONE|ENTERQUEUE||0991000002|1
    515|c2|q_ventas|2005|RINGNOANSWER|15000
    518|c2|q_ventas|2006|CONNECT|18|c2b|3
    548|c2|q_ventas|2006|COMPLETEAGENT|18|30|1
    600|NONE|q_ventas|PJSIP/1005|PAUSE|baño
    660|NONE|q_ventas|PJSIP/1005|UNPAUSE|
    700|c3|q_ventas|NONE|ENTERQUEUE||0991000003|1
    730|c3|q_ventas|2005|CONNECT|30|c3b|1
    790|c3|q_ventas|2005|COMPLETEAGENT|30|60|1
    800|c4|q_ventas|NONE|ENTERQUEUE||0991000004|1
    850|c4|q_ventas|NONE|ABANDON|1|1|50
    900|MANAGER|q_ventas|2005|REMOVEMEMBER|
    950|MANAGER|q_ventas|2006|REMOVEMEMBER|
";

fn day_cdrs() -> Vec<CdrRecord> {
    vec![
        // 2005 dials out at 420; the far end answers 425 to 445 (two legs, one call).
        leg(
            10,
            "o1",
            1,
            "PJSIP/1005-00000001",
            Some("PJSIP/carrier-00000002"),
            "outbound",
            "5551020",
            (420, Some(425), 445),
            Disposition::Answered,
        ),
        leg(
            11,
            "o1",
            2,
            "PJSIP/1005-00000001",
            None,
            "outbound",
            "5551020",
            (445, Some(445), 445),
            Disposition::Answered,
        ),
        // An internal call 1005 → 1006 is not outbound.
        leg(
            12,
            "i1",
            3,
            "PJSIP/1005-00000003",
            Some("PJSIP/1006-00000004"),
            "phones",
            "1006",
            (450, Some(452), 455),
            Disposition::Answered,
        ),
        // 2006 dials a number the carrier never answers.
        leg(
            13,
            "o2",
            4,
            "PJSIP/1006-00000005",
            Some("PJSIP/carrier-00000006"),
            "outbound",
            "5553000",
            (560, None, 580),
            Disposition::NoAnswer,
        ),
    ]
}

#[test]
fn a_day_of_two_agents() {
    let records = qlog(DAY);
    let reports = agent_report(&records, &day_cdrs(), range(0, 1000), &all(), &ctx(2000));
    assert_eq!(
        reports.iter().map(|r| r.agent.as_str()).collect::<Vec<_>>(),
        ["2005", "2006"]
    );

    let a = &reports[0];
    assert_eq!(spans(&a.sessions), [(100, 900, false)]);
    assert_eq!(a.sessions[0].queues, ["q_ventas"]);
    assert!(!a.sessions[0].inferred);
    assert_eq!(
        pause_spans(a),
        [
            ("almuerzo".to_owned(), 1, 100, vec![(300, 400, false)]),
            ("baño".to_owned(), 1, 60, vec![(600, 660, false)]),
        ]
    );
    assert_eq!(a.logged_secs, 800);
    assert_eq!(a.paused_secs, 160);
    assert_eq!(a.talking_secs, 60 + 60 + 20);
    assert_eq!(a.available_secs, 800 - 160 - 140);
    assert_eq!(
        (a.presented, a.answered, a.missed),
        (3, 2, 1),
        "c1 and c3 answered, c2 missed"
    );
    assert_eq!((a.outbound, a.outbound_answered), (1, 1));
    assert_eq!(a.aht_secs, Some(60.0));
    assert_eq!((a.queue_talking_secs, a.outbound_talking_secs), (120, 20));
    assert_eq!(a.handled_secs, [60, 60]);
    assert_eq!(a.transferred, 0);

    let b = &reports[1];
    assert_eq!(spans(&b.sessions), [(100, 950, false)]);
    assert!(b.pauses.is_empty());
    assert_eq!((b.logged_secs, b.paused_secs, b.talking_secs), (850, 0, 30));
    assert_eq!(b.available_secs, 820);
    assert_eq!((b.presented, b.answered, b.missed), (1, 1, 0));
    assert_eq!((b.outbound, b.outbound_answered), (1, 0));
    assert_eq!(b.aht_secs, Some(30.0));
    assert_eq!((b.queue_talking_secs, b.outbound_talking_secs), (30, 0));
    assert_eq!(b.handled_secs, [30]);
}

#[test]
fn the_queue_of_the_day() {
    let mut c = ctx(2000);
    c.service_levels.insert("q_ventas".into(), 20);
    let q = queue_report(&qlog(DAY), range(0, 1000), &all(), &c);
    assert_eq!(q.len(), 1);
    let q = &q[0];
    assert_eq!(q.queue, "q_ventas");
    assert_eq!(
        (q.offered, q.answered, q.abandoned, q.timeout, q.other_exits),
        (4, 3, 1, 0, 0)
    );
    assert_eq!(q.service_level_secs, Some(20));
    assert_eq!(
        q.answered_within_sl, 2,
        "waits 5 and 18 are within 20 s, 30 is not"
    );
    assert_eq!(
        q.service_level_pct,
        Some(50.0),
        "2 of 3 answered + 1 abandoned"
    );
    assert_eq!(q.avg_wait_secs, Some(53.0 / 3.0));
    assert_eq!(q.avg_talk_secs, Some(50.0));

    // Without a threshold there is no service level; a filtered queue with no traffic is listed.
    let filter = ReportFilter {
        agents: Vec::new(),
        queues: vec!["q_soporte".into(), "q_ventas".into()],
    };
    let q = queue_report(
        &qlog(DAY),
        range(0, 1000),
        &filter,
        &ReportContext::new(t(2000), Arc::new(TestNaming), Arc::new(TestQueueLog)),
    );
    assert_eq!(q.len(), 2);
    assert_eq!((q[0].queue.as_str(), q[0].offered), ("q_soporte", 0));
    assert_eq!(q[0].avg_wait_secs, None);
    assert_eq!(q[1].service_level_secs, None);
    assert_eq!(q[1].service_level_pct, None);
    assert_eq!(q[1].answered_within_sl, 0);
}

#[test]
fn an_interval_clips_sessions_pauses_and_calls() {
    let reports = agent_report(
        &qlog(DAY),
        &day_cdrs(),
        range(250, 700),
        &agents(&["2005"]),
        &ctx(2000),
    );
    assert_eq!(reports.len(), 1);
    let a = &reports[0];
    // Logged in before the interval: from its start; still logged in at its end: open.
    assert_eq!(spans(&a.sessions), [(250, 700, true)]);
    assert_eq!(a.logged_secs, 450);
    assert_eq!(a.paused_secs, 160);
    // c1's last 15 s, and the outbound call's 20 s.
    assert_eq!(a.talking_secs, 35);
    assert_eq!(a.available_secs, 450 - 160 - 35);
    assert_eq!((a.presented, a.answered, a.missed), (1, 0, 1));
    assert_eq!((a.outbound, a.outbound_answered), (1, 1));
    assert_eq!(
        a.aht_secs, None,
        "no call connected in the interval ended in it"
    );

    // "now" inside the interval ends it: the pause in progress is open.
    let a = &agent_report(
        &qlog(DAY),
        &[],
        range(0, 1000),
        &agents(&["2005"]),
        &ctx(630),
    )[0];
    assert_eq!(spans(&a.sessions), [(100, 630, true)]);
    assert_eq!(
        pause_spans(a),
        [
            ("almuerzo".to_owned(), 1, 100, vec![(300, 400, false)]),
            ("baño".to_owned(), 1, 30, vec![(600, 630, true)]),
        ]
    );
    assert_eq!(a.logged_secs, 530);
    assert_eq!(a.talking_secs, 60);
    assert_eq!(a.available_secs, 530 - 130 - 60);

    // An interval with nothing of the agent still lists a filtered agent, empty.
    let a = &agent_report(
        &qlog(DAY),
        &[],
        range(960, 990),
        &agents(&["2005"]),
        &ctx(2000),
    )[0];
    assert!(a.sessions.is_empty() && a.pauses.is_empty());
    assert_eq!((a.logged_secs, a.presented, a.aht_secs), (0, 0, None));
    // ...and without a filter nobody is listed.
    assert!(agent_report(&qlog(DAY), &[], range(960, 990), &all(), &ctx(2000)).is_empty());
}

#[test]
fn a_pause_must_cover_every_queue_and_a_new_reason_starts_a_new_pause() {
    let records = qlog(
        "
        0|MANAGER|q_ventas|2005|ADDMEMBER|
        0|MANAGER|q_soporte|2005|ADDMEMBER|
        10|NONE|q_ventas|2005|PAUSE|almuerzo
        20|NONE|q_soporte|2005|PAUSE|almuerzo
        50|NONE|q_ventas|2005|PAUSE|baño
        50|NONE|q_soporte|2005|PAUSE|baño
        80|NONE|q_ventas|2005|UNPAUSE|
        90|MANAGER|q_soporte|2005|REMOVEMEMBER|
        100|MANAGER|q_ventas|2005|REMOVEMEMBER|
        ",
    );
    let a = &agent_report(&records, &[], range(0, 200), &all(), &ctx(500))[0];
    assert_eq!(spans(&a.sessions), [(0, 100, false)]);
    assert_eq!(a.sessions[0].queues, ["q_soporte", "q_ventas"]);
    // Paused in one queue only (10..20) the agent still takes calls from the other; leaving
    // q_soporte at 90 does not pause it (q_ventas was unpaused at 80).
    assert_eq!(
        pause_spans(a),
        [
            ("almuerzo".to_owned(), 1, 30, vec![(20, 50, false)]),
            ("baño".to_owned(), 1, 30, vec![(50, 80, false)]),
        ]
    );
    assert_eq!(
        (a.logged_secs, a.paused_secs, a.available_secs),
        (100, 60, 40)
    );

    // With a queue filter only that queue's membership and pauses count.
    let only_ventas = ReportFilter {
        agents: Vec::new(),
        queues: vec!["q_ventas".into()],
    };
    let a = &agent_report(&records, &[], range(0, 200), &only_ventas, &ctx(500))[0];
    assert_eq!(a.sessions[0].queues, ["q_ventas"]);
    assert_eq!(
        pause_spans(a),
        [
            ("almuerzo".to_owned(), 1, 40, vec![(10, 50, false)]),
            ("baño".to_owned(), 1, 30, vec![(50, 80, false)]),
        ]
    );
}

/// The lines Asterisk 22 wrote on the lab when an agent left q_ventas while a call was being
/// connected to it: the call's `CONNECT` and `COMPLETECALLER` come after the `REMOVEMEMBER`.
/// Later the agent logs in to q_soporte only and pauses there.
const CONNECTED_AFTER_LEAVING: &str = "
    73|MANAGER|q_ventas|2204|ADDMEMBER|
    74|NONE|q_ventas|2204|PAUSE|almuerzo
    76|NONE|q_ventas|2204|UNPAUSE|
    76|MANAGER|q_ventas|2204|REMOVEMEMBER|
    76|c1|q_ventas|2204|CONNECT|2|c1b|1
    82|c1|q_ventas|2204|COMPLETECALLER|2|6|1
    358|MANAGER|q_soporte|2204|ADDMEMBER|
    359|NONE|q_soporte|2204|PAUSE|almoco
    361|NONE|q_soporte|2204|UNPAUSE|
    422|MANAGER|q_soporte|2204|REMOVEMEMBER|
";

#[test]
fn a_call_connected_after_leaving_a_queue_does_not_make_the_agent_a_member_again() {
    let records = qlog(CONNECTED_AFTER_LEAVING);
    let whole = agent_report(&records, &[], range(300, 500), &all(), &ctx(600));
    let cut = report_from_state(&records, 300, 500, &all(), &ctx(600));
    assert_eq!(cut, whole);
    let a = &whole[0];
    assert_eq!(spans(&a.sessions), [(358, 422, false)]);
    assert_eq!(a.sessions[0].queues, ["q_soporte"]);
    assert_eq!(
        pause_spans(a),
        [("almoco".to_owned(), 1, 2, vec![(359, 361, false)])],
        "paused in every queue the agent is member of"
    );
    // The call itself still counts for the agent, and its membership of q_ventas ended at 76.
    let a = &agent_report(&records, &[], range(0, 100), &all(), &ctx(600))[0];
    assert_eq!(spans(&a.sessions), [(73, 76, false)]);
    assert_eq!((a.answered, a.talking_secs), (1, 6));
}

/// Logged in at 100, a call from 110 that Asterisk's restart at 200 cuts, a pause from 150 that
/// ends at 260 after the restart; "now" is 300.
const RESTART: &str = "
    100|MANAGER|q_soporte|2007|ADDMEMBER|
    105|c9|q_soporte|NONE|ENTERQUEUE||0981000009|1
    110|c9|q_soporte|2007|CONNECT|5|c9b|1
    150|NONE|q_soporte|2007|PAUSE|reunion
    200|NONE|NONE|NONE|QUEUESTART|
    260|NONE|q_soporte|2007|UNPAUSE|
";

#[test]
fn a_session_stays_open_across_an_asterisk_restart_with_persistent_members() {
    let a = &agent_report(&qlog(RESTART), &[], range(0, 400), &all(), &ctx(300))[0];
    assert_eq!(spans(&a.sessions), [(100, 300, true)]);
    assert!(!a.sessions[0].inferred);
    assert_eq!(
        pause_spans(a),
        [("reunion".to_owned(), 1, 110, vec![(150, 260, false)])]
    );
    assert_eq!(a.talking_secs, 90, "the call ends with Asterisk at 200");
    assert_eq!(a.logged_secs, 200);
    assert_eq!(a.available_secs, 200 - 150, "busy 110..260");
    assert_eq!((a.presented, a.answered), (1, 1));
    assert_eq!(a.aht_secs, Some(90.0));
}

#[test]
fn without_persistent_members_a_restart_ends_sessions_and_pauses() {
    let mut c = ctx(300);
    c.persistent_members = false;
    let a = &agent_report(&qlog(RESTART), &[], range(0, 400), &all(), &c)[0];
    // The UNPAUSE at 260 shows the member is back (added outside the records): inferred.
    assert_eq!(spans(&a.sessions), [(100, 200, false), (260, 300, true)]);
    assert_eq!(
        a.sessions.iter().map(|s| s.inferred).collect::<Vec<_>>(),
        [false, true]
    );
    assert_eq!(
        pause_spans(a),
        [("reunion".to_owned(), 1, 50, vec![(150, 200, false)])]
    );
    assert_eq!(
        (a.logged_secs, a.paused_secs, a.talking_secs),
        (140, 50, 90)
    );
    assert_eq!(a.available_secs, 140 - 90);
}

#[test]
fn abandoned_and_timed_out_callers() {
    let records = qlog(
        "
        0|a1|q_soporte|NONE|ENTERQUEUE||0981|1
        0|a2|q_soporte|NONE|ENTERQUEUE||0982|2
        0|a3|q_soporte|NONE|ENTERQUEUE||0983|3
        12|a1|q_soporte|NONE|ABANDON|1|1|12
        40|a2|q_soporte|2008|CONNECT|40|a2b|3
        45|a3|q_soporte|NONE|EXITWITHTIMEOUT|1|3|45
        100|a2|q_soporte|2008|COMPLETECALLER|40|60|2
        ",
    );
    let mut c = ctx(1000);
    c.service_levels.insert("q_soporte".into(), 30);
    let q = &queue_report(&records, range(0, 200), &all(), &c)[0];
    assert_eq!(
        (q.offered, q.answered, q.abandoned, q.timeout),
        (3, 1, 1, 1)
    );
    assert_eq!(q.answered_within_sl, 0);
    assert_eq!(q.service_level_pct, Some(0.0));
    assert_eq!((q.avg_wait_secs, q.avg_talk_secs), (Some(40.0), Some(60.0)));

    // The agent who answered: presented once, answered once; a member event without ADDMEMBER
    // makes it a member from then on (inferred).
    let a = &agent_report(&records, &[], range(0, 200), &all(), &c)[0];
    assert_eq!(a.agent, "2008");
    assert_eq!(spans(&a.sessions), [(40, 200, true)]);
    assert!(a.sessions[0].inferred);
    assert_eq!((a.presented, a.answered, a.talking_secs), (1, 1, 60));
}

#[test]
fn activity_in_order_with_filters() {
    let records = qlog(DAY);
    let names = |evs: &[QueueActivityEvent]| -> Vec<String> {
        evs.iter()
            .map(|e| format!("{}:{}", e.time.0 - BASE, e.event.as_str()))
            .collect()
    };
    let evs = queue_activity(&records, range(200, 300), &all(), &ctx(2000));
    assert_eq!(
        names(&evs),
        ["200:ENTERQUEUE", "205:CONNECT", "265:COMPLETECALLER"]
    );
    assert_eq!(evs[1].agent.as_deref(), Some("2005"));
    assert_eq!(evs[1].data, ["5", "c1b", "2"]);
    assert_eq!(evs[0].agent, None);

    // Agent filter: lines naming 2005 (the interface line mapped to it), nothing else.
    let evs = queue_activity(&records, range(500, 700), &agents(&["2005"]), &ctx(2000));
    assert_eq!(
        names(&evs),
        ["515:RINGNOANSWER", "600:PAUSE", "660:UNPAUSE"]
    );
    assert!(evs.iter().all(|e| e.agent.as_deref() == Some("2005")));

    // Global lines pass a queue filter; "now" ends the interval.
    let filter = ReportFilter {
        agents: Vec::new(),
        queues: vec!["q_soporte".into()],
    };
    let evs = queue_activity(&records, range(-200, 1000), &filter, &ctx(350));
    assert_eq!(names(&evs), ["-100:QUEUESTART", "300:PAUSEALL"]);
}

#[test]
fn legs_are_grouped_by_linkedid_in_order() {
    let l = |rowid, linkedid, seq, start, end| {
        leg(
            rowid,
            linkedid,
            seq,
            "PJSIP/carrier-1",
            None,
            "to-queue",
            "26001000",
            (start, None, end),
            Disposition::NoAnswer,
        )
    };
    let cdrs = vec![
        l(3, "L1", 5, 10, 40),
        l(4, "L2", 1, 5, 8),
        l(1, "L1", 4, 10, 20),
        l(2, "L1", 6, 12, 30),
        l(5, "L3", 2, 5, 6),
    ];
    let calls = calls(&cdrs);
    assert_eq!(
        calls
            .iter()
            .map(|c| (
                c.linkedid.as_str(),
                c.start.0 - BASE,
                c.end.0 - BASE,
                c.legs.iter().map(|l| l.source_rowid).collect::<Vec<_>>()
            ))
            .collect::<Vec<_>>(),
        [
            ("L2", 5, 8, vec![4]),
            ("L3", 5, 6, vec![5]),
            ("L1", 10, 40, vec![1, 3, 2]),
        ]
    );
    assert!(super::calls(&[]).is_empty());
}

#[test]
fn span_arithmetic() {
    let s = |a: i64, b: i64| (UnixTime(a), UnixTime(b));
    let u = union(vec![s(5, 10), s(0, 3), s(2, 4), s(10, 12)]);
    assert_eq!(u, [s(0, 4), s(5, 12)]);
    assert_eq!(measure(&u), 11);
    assert_eq!(overlap(&u, &[s(3, 6), s(11, 20)]), 1 + 1 + 1);
    assert!(is_external_number("5551020") && is_external_number("+59899123456"));
    assert!(!is_external_number("1006") && !is_external_number("*45") && !is_external_number(""));
}

#[test]
fn transfers_end_the_call_and_are_counted() {
    let records = qlog(
        "
    0|MANAGER|q_ventas|2005|ADDMEMBER|
    10|c1|q_ventas|NONE|ENTERQUEUE||099|1
    12|c1|q_ventas|2005|CONNECT|2|c1b|1
    40|c1|q_ventas|2005|BLINDTRANSFER|1234|from-internal|2|28|1
    50|MANAGER|q_ventas|2005|REMOVEMEMBER|
",
    );
    let r = agent_report(&records, &[], range(0, 100), &all(), &ctx(200));
    assert_eq!(r[0].transferred, 1);
    assert_eq!(r[0].handled_secs, [28]);
    assert_eq!(r[0].queue_talking_secs, 28);
    // Outside the interval it is not counted.
    let r = agent_report(&records, &[], range(45, 100), &all(), &ctx(200));
    assert_eq!(r[0].transferred, 0);
}

#[test]
fn outbound_calls_of_the_agents() {
    let calls = outbound_calls(&day_cdrs(), range(0, 1000), &all(), &ctx(2000));
    assert_eq!(
        calls
            .iter()
            .map(|c| (
                c.agent.as_str(),
                c.linkedid.as_str(),
                c.dst.as_str(),
                c.start.0 - BASE,
                c.end.0 - BASE,
                c.answered,
                c.talk_secs
            ))
            .collect::<Vec<_>>(),
        [
            ("2005", "o1", "5551020", 420, 445, true, 20),
            ("2006", "o2", "5553000", 560, 580, false, 0),
        ]
    );
    let only = outbound_calls(&day_cdrs(), range(0, 500), &agents(&["2006"]), &ctx(2000));
    assert!(only.is_empty());
    // 2005 was logged in 100-900, 2006 100-950: both calls were placed in a session; with the
    // sessions of an interval that ends at 500, 2006's call (560) is not.
    let reports = agent_report(&qlog(DAY), &[], range(0, 1000), &all(), &ctx(2000));
    assert_eq!(during_sessions(calls.clone(), &reports).len(), 2);
    let early = agent_report(&qlog(DAY), &[], range(0, 500), &all(), &ctx(2000));
    let kept = during_sessions(calls, &early);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].agent, "2005");
}

// ------------------------------------------------------------------ state at the start

/// Agents in every situation at the interval's start: 2005 in two queues, paused with a reason
/// change (feature-code lines carry its interface), on a queue call across an Asterisk restart;
/// 2006 logged out early; 2007 a static member (no `ADDMEMBER`) paused for long; 2008 left one
/// of its two queues; 2009 talking on a call that a restart cut; 2010 transferred a call; 2011
/// logged in, then a static member of a second queue, then left and rejoined the first.
const HISTORY: &str = "
    0|NONE|NONE|NONE|QUEUESTART|
    10|MANAGER|q_ventas|2005|ADDMEMBER|
    12|MANAGER|q_soporte|2005|ADDMEMBER|
    20|MANAGER|q_ventas|2006|ADDMEMBER|
    25|MANAGER|q_ventas|2008|ADDMEMBER|
    26|MANAGER|q_soporte|2008|ADDMEMBER|
    30|MANAGER|q_ventas|2009|ADDMEMBER|
    31|MANAGER|q_ventas|2010|ADDMEMBER|
    33|MANAGER|q_ventas|2011|ADDMEMBER|
    34|NONE|q_soporte|2011|PAUSE|
    40|NONE|q_soporte|2007|PAUSE|reunion
    50|c1|q_ventas|NONE|ENTERQUEUE||0981|1
    52|c1|q_ventas|2005|CONNECT|2|c1b|1
    60|c0|q_ventas|2009|CONNECT|1|c0b|1
    80|c1|q_ventas|2005|COMPLETECALLER|2|28|1
    90|MANAGER|q_ventas|2006|REMOVEMEMBER|
    95|NONE|q_ventas|2008|RINGNOANSWER|2000
    100|NONE|q_ventas|PJSIP/1005|PAUSE|almuerzo
    100|NONE|q_soporte|PJSIP/1005|PAUSE|almuerzo
    110|MANAGER|q_soporte|2008|REMOVEMEMBER|
    130|NONE|q_ventas|2005|PAUSE|capacitacion
    130|NONE|q_soporte|2005|PAUSE|capacitacion
    140|MANAGER|q_ventas|2011|REMOVEMEMBER|
    145|MANAGER|q_ventas|2011|ADDMEMBER|
    150|NONE|NONE|NONE|QUEUESTART|
    160|NONE|q_ventas|2005|UNPAUSE|
    160|NONE|q_soporte|2005|UNPAUSE|
    170|c2|q_ventas|NONE|ENTERQUEUE||0982|1
    172|c2|q_ventas|2005|CONNECT|2|c2b|1
    175|c3|q_ventas|NONE|ENTERQUEUE||0983|1
    177|c3|q_ventas|2010|CONNECT|2|c3b|1
    190|c3|q_ventas|2010|BLINDTRANSFER|2020|from-internal|2|13|1
    200|c4|q_ventas|NONE|ENTERQUEUE||0984|1
    203|c4|q_ventas|2008|CONNECT|3|c4b|1
    250|c2|q_ventas|2005|COMPLETEAGENT|2|78|1
    260|c4|q_ventas|2008|COMPLETECALLER|3|57|1
    270|NONE|q_soporte|2007|UNPAUSE|
    280|MANAGER|q_soporte|2005|REMOVEMEMBER|
    300|MANAGER|q_ventas|2005|REMOVEMEMBER|
    310|MANAGER|q_ventas|2006|ADDMEMBER|
    320|NONE|q_ventas|2006|PAUSE|
    330|MANAGER|q_ventas|2006|REMOVEMEMBER|
";

/// The report over `[from, to)` from [`state_records`] of the lines before `from` and the lines
/// of the interval.
fn report_from_state(
    records: &[QueueLogRecord],
    from: i64,
    to: i64,
    filter: &ReportFilter,
    c: &ReportContext,
) -> Vec<AgentReport> {
    let (before, rest): (Vec<_>, Vec<_>) = records.iter().cloned().partition(|r| r.time < t(from));
    let mut input = state_records(&before);
    input.extend(rest.into_iter().filter(|r| r.time < t(to)));
    agent_report(&input, &[], range(from, to), filter, c)
}

#[test]
fn a_report_from_the_state_at_its_start_equals_the_report_over_the_whole_history() {
    let records = qlog(HISTORY);
    let filters = [
        all(),
        agents(&["2005"]),
        ReportFilter {
            agents: Vec::new(),
            queues: vec!["q_soporte".into()],
        },
    ];
    let mut compared = 0;
    for persistent in [true, false] {
        for now in [200, 400] {
            let mut c = ctx(now);
            c.persistent_members = persistent;
            for filter in &filters {
                for from in (0..=340).step_by(5) {
                    for to in [from + 1, from + 40, 1000] {
                        let whole = agent_report(&records, &[], range(from, to), filter, &c);
                        let cut = report_from_state(&records, from, to, filter, &c);
                        assert_eq!(
                            cut, whole,
                            "from {from} to {to} now {now} persistent {persistent} {filter:?}"
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, 2 * 2 * 3 * 69 * 3);
}

#[test]
fn the_state_at_an_instant_is_a_few_lines_per_member() {
    let records = qlog(HISTORY);
    let before: Vec<_> = records
        .iter()
        .filter(|r| r.time < t(200))
        .cloned()
        .collect();
    let state = state_records(&before);
    let lines = |v: &[QueueLogRecord]| -> Vec<String> {
        v.iter()
            .map(|r| {
                format!(
                    "{}|{}|{}|{}",
                    r.time.0 - BASE,
                    r.queue,
                    r.agent,
                    r.event.as_str()
                )
            })
            .collect()
    };
    assert_eq!(
        lines(&state),
        [
            "10|q_ventas|2005|ADDMEMBER",
            "12|q_soporte|2005|ADDMEMBER",
            "20|q_ventas|2006|ADDMEMBER",
            "25|q_ventas|2008|ADDMEMBER",
            "26|q_soporte|2008|ADDMEMBER",
            "30|q_ventas|2009|ADDMEMBER",
            "31|q_ventas|2010|ADDMEMBER",
            "34|q_soporte|2011|PAUSE",
            "40|q_soporte|2007|PAUSE",
            // 2005's c2 (172) is open at 200, so its previous call c1 is carried too, ended.
            "52|q_ventas|2005|CONNECT",
            // 2009's call c0 has no end line: carried; the restart at 150 ends it.
            "60|q_ventas|2009|CONNECT",
            "80|q_ventas|2005|COMPLETECALLER",
            "90|q_ventas|2006|REMOVEMEMBER",
            "95|q_ventas|2008|RINGNOANSWER",
            "100|q_ventas|PJSIP/1005|PAUSE",
            "100|q_soporte|PJSIP/1005|PAUSE",
            "110|q_soporte|2008|REMOVEMEMBER",
            "130|q_ventas|2005|PAUSE",
            "130|q_soporte|2005|PAUSE",
            "140|q_ventas|2011|REMOVEMEMBER",
            "145|q_ventas|2011|ADDMEMBER",
            "150|NONE|NONE|QUEUESTART",
            "160|q_ventas|2005|UNPAUSE",
            "160|q_soporte|2005|UNPAUSE",
            // 2005 talks on c2 (open at 200); 2010's c3 was ended by a transfer.
            "172|q_ventas|2005|CONNECT",
            "177|q_ventas|2010|CONNECT",
            "190|q_ventas|2010|BLINDTRANSFER",
        ]
    );
}

#[test]
fn state_at_the_start_named_cases() {
    let records = qlog(HISTORY);
    let c = ctx(1000);
    let report = report_from_state(&records, 200, 400, &all(), &c);
    let find = |a: &str| report.iter().find(|r| r.agent == a);
    // A session and a call spanning the start: counted from the start, the call's talk too
    // (not presented again, not in the average).
    let a = find("2005").unwrap();
    assert_eq!(spans(&a.sessions), [(200, 300, false)]);
    assert_eq!(a.sessions[0].queues, ["q_soporte", "q_ventas"]);
    assert_eq!((a.presented, a.talking_secs, a.aht_secs), (0, 50, None));
    // A pause spanning the start (static member, inferred).
    let s = find("2007").unwrap();
    assert_eq!(
        pause_spans(s),
        [("reunion".to_owned(), 1, 70, vec![(200, 270, false)])]
    );
    assert!(s.sessions[0].inferred);
    // 2008 left q_soporte before the start: its session holds q_ventas only.
    let e = find("2008").unwrap();
    assert_eq!(e.sessions[0].queues, ["q_ventas"]);
    assert_eq!((e.presented, e.answered, e.talking_secs), (1, 1, 57));
    // 2009's call was cut by the restart before the start: logged in, not talking.
    let n = find("2009").unwrap();
    assert_eq!((n.logged_secs, n.talking_secs), (200, 0));
    // 2006 logged out before the start and came back at 310.
    let l = find("2006").unwrap();
    assert_eq!(spans(&l.sessions), [(310, 330, false)]);
}

#[test]
fn direct_inbound_calls_are_those_dialed_to_the_extension_outside_queues() {
    let records = qlog(
        "
        0|MANAGER|q_ventas|2005|ADDMEMBER|
        100|q1|q_ventas|NONE|ENTERQUEUE||0981|1
        102|q1|q_ventas|2005|CONNECT|2|q1b|1
        150|q1|q_ventas|2005|COMPLETECALLER|2|48|1
        500|MANAGER|q_ventas|2005|REMOVEMEMBER|
        ",
    );
    let cdrs = vec![
        // A queue call: not direct.
        CdrRecord {
            lastapp: "Queue".into(),
            ..leg(
                1,
                "q1",
                1,
                "PJSIP/carrier-1",
                Some("PJSIP/1005-2"),
                "to-queue",
                "26001000",
                (100, Some(102), 150),
                Disposition::Answered,
            )
        },
        // 1006 calls 1005: answered.
        leg(
            2,
            "d1",
            2,
            "PJSIP/1006-3",
            Some("PJSIP/1005-4"),
            "phones",
            "1005",
            (200, Some(203), 230),
            Disposition::Answered,
        ),
        // A caller from the carrier dialed to 1005 directly, not answered.
        leg(
            3,
            "d2",
            3,
            "PJSIP/carrier-5",
            Some("PJSIP/1005-6"),
            "from-carrier",
            "1005",
            (300, None, 320),
            Disposition::NoAnswer,
        ),
        // 1005 calls out: outbound, not inbound.
        leg(
            4,
            "o1",
            4,
            "PJSIP/1005-7",
            Some("PJSIP/carrier-8"),
            "outbound",
            "5551002",
            (400, Some(405), 410),
            Disposition::Answered,
        ),
        // After the logout: not counted for the session.
        leg(
            5,
            "d3",
            5,
            "PJSIP/1006-9",
            Some("PJSIP/1005-10"),
            "phones",
            "1005",
            (600, Some(601), 610),
            Disposition::Answered,
        ),
    ];
    let a = &agent_report(
        &records,
        &cdrs,
        range(0, 1000),
        &agents(&["2005"]),
        &ctx(1000),
    )[0];
    assert_eq!((a.presented, a.answered), (1, 1));
    assert_eq!((a.direct_inbound, a.direct_inbound_answered), (2, 1));
    assert_eq!((a.outbound, a.outbound_answered), (1, 1));
    // Another queue's report has no session of 2005: nothing counted for it.
    let other = ReportFilter {
        agents: vec!["2005".into()],
        queues: vec!["q_soporte".into()],
    };
    let b = &agent_report(&records, &cdrs, range(0, 1000), &other, &ctx(1000))[0];
    assert_eq!(b.direct_inbound, 0);
}
