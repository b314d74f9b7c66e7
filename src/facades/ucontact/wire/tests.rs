//! Tests of the uContact wire formats.

use super::*;
use crate::core::live::Pause;

#[test]
fn forms_decode() {
    let f = Form::parse(b"user=ana+p%C3%A9rez&password=a%26b%3Dc&empty=&flag&bad=%zz%4");
    assert_eq!(f.get("user"), Some("ana pérez"));
    assert_eq!(f.get("password"), Some("a&b=c"));
    assert_eq!(f.get("empty"), Some(""));
    assert_eq!(f.get("flag"), Some(""));
    assert_eq!(f.get("bad"), Some("%zz%4"));
    assert_eq!(f.get("USER"), Some("ana pérez"));
    assert_eq!(f.get("nope"), None);
    assert!(Form::parse(b"").is_empty());
}

#[test]
fn forms_decode_escapes_to_bytes_before_utf8() {
    // Found by fuzz/fuzz_targets/ucontact_form.rs: a raw byte between escapes was replaced
    // before the escapes were decoded, so the value differed from what the client sent.
    let f = Form::parse(b"user=ana+p%C3\xda%A9rez&password=a%2");
    assert_eq!(f.get("user"), Some("ana p\u{FFFD}\u{6A9}rez"));
    assert_eq!(f.get("password"), Some("a%2"));
    assert_eq!(Form::parse(b"a=\xe2%82%AC").get("a"), Some("\u{20AC}"));
    // `%` with a sign is not an escape (`u8::from_str_radix` reads `+1` as 1).
    let f = Form::parse(b"a=%+1&b=%-1&c=% 1&d=%4&e=%");
    for (k, v) in [
        ("a", "% 1"),
        ("b", "%-1"),
        ("c", "% 1"),
        ("d", "%4"),
        ("e", "%"),
    ] {
        assert_eq!(f.get(k), Some(v), "{k}");
    }
    assert_eq!(Form::parse(b"%3D=%26&%zz=1").get("="), Some("&"));
    assert_eq!(Form::parse(b"%3D=%26&%zz=1").get("%zz"), Some("1"));
}

#[test]
fn times_in_the_zone() {
    let tz = TimeZone::get("America/Montevideo").unwrap();
    // 2026-11-22 04:00:00 UTC = 01:00:00 in Montevideo (UTC-3).
    let t = UnixTime(1_795_320_000);
    assert_eq!(render_time(t, &tz), "2026-11-22 01:00:00");
    assert_eq!(render_day_folder(t, &tz), "20261122");
    assert_eq!(parse_local("2026-11-22 01:00:00", &tz), Some(t));
    assert_eq!(parse_local("2026-11-22", &tz), Some(UnixTime(t.0 - 3600)));
    assert_eq!(parse_local("22/11/2026", &tz), None);
    assert_eq!(today(t, &tz).as_str(), "2026-11-22");
    assert_eq!(start_of_day(t, &tz), UnixTime(t.0 - 3600));
    assert_eq!(render_received(t, &tz), "Nov 22, 2026 1:00:00 AM");
    assert_eq!(hms(3725), "01:02:05");
}

#[test]
fn blacklist_objects() {
    let v: Value = serde_json::from_str(
        r#"{"phone": 5551234, "campaign":"*", "expire_date":"2025-01-01", "direction":"O","name":"Ana"}"#,
    )
    .unwrap();
    let e = blacklist_entry(&v).unwrap();
    assert_eq!(e.phone.as_str(), "5551234");
    assert_eq!(e.campaign, CampaignScope::All);
    assert_eq!(e.direction, DirectionScope::Outbound);
    assert_eq!(e.expire_date.unwrap().as_str(), "2025-01-01");
    for bad in [
        r#"{"campaign":"x"}"#,
        r#"{"phone":"123"}"#,
        r#"{"phone":"12a3","campaign":"x"}"#,
        r#"{"phone":"123","campaign":"x","direction":"Z"}"#,
        r#"{"phone":"123","campaign":"x","expire_date":"tomorrow"}"#,
        r#"{"phone":["1"],"campaign":"x"}"#,
        r#"[1]"#,
    ] {
        let v: Value = serde_json::from_str(bad).unwrap();
        assert!(blacklist_entry(&v).is_err(), "{bad}");
    }
    let list = json_list(
        r#"[{"phone":"123","campaign":"a"},{"phone":"456","campaign":"b","direction":"I"}]"#,
        true,
        blacklist_key,
    )
    .unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].direction, None);
    assert!(json_list("[]", true, blacklist_key).is_err());
    assert!(json_list(r#"{"phone":"1","campaign":"a"}"#, true, blacklist_key).is_err());
    assert!(json_list("nope", false, blacklist_key).is_err());
}

#[test]
fn call_data_forms() {
    let d = call_variables(r#"{"idcliente": 7, "nombre": "Ana"}"#).unwrap();
    assert_eq!(d.render(), "idcliente=7,nombre=Ana");
    let d = call_variables("Par1=Val1:Par2=Val2").unwrap();
    assert_eq!(d.render(), "Par1=Val1,Par2=Val2");
    assert!(call_variables("just text").unwrap().is_empty());
    assert!(call_variables(r#"{"a b": 1}"#).is_err());
    assert!(call_variables(r#"{"a": "x,y"}"#).is_err());
    assert!(call_variables(r#"{"a": {"b": 1}}"#).is_err());
    assert!(call_variables("{broken").is_err());
}

#[test]
fn filter_and_status_codes() {
    let tz = TimeZone::get("America/Montevideo").unwrap();
    let f = records_filter(
        r#"{"calldatei":"2026-11-22 00:00:00","calldatef":"2026-11-22 23:59:59","agent":"","mindur":"5","type":"record","cont":""}"#,
        &tz,
    )
    .unwrap();
    assert_eq!(f.mindur, Some(5));
    assert!(f.from.unwrap() < f.to.unwrap());
    assert!(records_filter(r#"{"calldatei":"ayer"}"#, &tz).is_err());
    assert!(records_filter(r#"{"mindur":"x"}"#, &tz).is_err());
    assert_eq!(records_filter("", &tz).unwrap(), RecordsFilter::default());

    let member = |status| QueueMember {
        interface: "PJSIP/1007".into(),
        name: "2307".into(),
        state_interface: "PJSIP/1007".into(),
        status,
        pause: None,
        calls_taken: 0,
        logged_in_since: None,
        penalty: 0,
        last_call: None,
    };
    let statuses = [
        (DeviceStatus::Unknown, 0),
        (DeviceStatus::NotInUse, 1),
        (DeviceStatus::InUse, 2),
        (DeviceStatus::Busy, 3),
        (DeviceStatus::Invalid, 4),
        (DeviceStatus::Unavailable, 5),
        (DeviceStatus::Ringing, 6),
        (DeviceStatus::RingInUse, 7),
        (DeviceStatus::OnHold, 8),
    ];
    for (s, code) in statuses {
        assert_eq!(status_code(&member(s), None), code, "{s:?}");
    }
    let wrap = AgentLive {
        name: "2307".into(),
        activity: Activity::WrapUp {
            queue: crate::core::directory::QueueName::new("q_cobranza").unwrap(),
        },
        since: None,
        caller_joined: None,
        last_refused: None,
    };
    assert_eq!(status_code(&member(DeviceStatus::NotInUse), Some(&wrap)), 9);

    let mut q = QueueLive {
        members: BTreeMap::new(),
        waiting: BTreeMap::new(),
        completed: 3,
        abandoned: 1,
        completed_in_sl: 3,
        service_level_secs: 20,
        strategy: "leastrecent".into(),
        wrapup_secs: Some(15),
    };
    let mut paused = member(DeviceStatus::NotInUse);
    paused.interface = "PJSIP/1008".into();
    paused.pause = Some(Pause {
        reason: Some("almuerzo".into()),
        since: UnixTime(0),
    });
    q.members
        .insert("PJSIP/1007".into(), member(DeviceStatus::InUse));
    q.members.insert("PJSIP/1008".into(), paused);
    let mut off = member(DeviceStatus::Unavailable);
    off.interface = "PJSIP/1009".into();
    q.members.insert("PJSIP/1009".into(), off);
    let v = campaign_object("Cobranza->", &q, &BTreeMap::new(), None);
    assert_eq!(v["busy"], 1);
    assert_eq!(v["paused"], 1);
    assert_eq!(v["availables"], 0);
    assert_eq!(v["logged"], 2);
    assert_eq!(v["notavailables"], 1);
    assert_eq!(v["totalagents"], 3);
    assert_eq!(v["totalcalls"], 4);
    assert_eq!(v["abandonedlevel"], "25");
    assert_eq!(v["servicelevel"], "100.0");
    assert_eq!(v["slevelthreshold"], "20");
    // The queue's real strategy and wrap-up time (they were null).
    assert_eq!(v["strategy"], "leastrecent");
    assert_eq!(v["wrapup"], 15);
    q.wrapup_secs = None;
    assert_eq!(
        campaign_object("Cobranza->", &q, &BTreeMap::new(), None)["wrapup"],
        0
    );

    // The agent object: real penalty and lastCall, the pause reason's name.
    let mut m = q.members["PJSIP/1008"].clone();
    m.penalty = 2;
    m.last_call = Some(UnixTime(1_795_359_000));
    let v = agent_object(
        "Cobranza->",
        &m,
        None,
        "Ana",
        "Almuerzo",
        UnixTime(1_795_359_600),
        "1_2",
        "Nov 22, 2026 12:00:00 PM",
    );
    assert_eq!(v["penalty"], 2);
    assert_eq!(v["lastCall"], 1_795_359_000);
    assert_eq!(v["pausedreason"], "Almuerzo");
    assert_eq!(v["paused"], true);

    // An ACD call object: a caller waiting, as Asterisk's QueueEntry reports it.
    let c = WaitingCaller {
        uniqueid: crate::core::UniqueId::new("1795359500.7"),
        channel: crate::core::ChannelName::new("PJSIP/carrier-00000007"),
        caller_id: "099123456".into(),
        position: 1,
        joined_at: UnixTime(1_795_359_590),
    };
    let v = acd_call_object("Cobranza->", &c, UnixTime(1_795_359_600), "1_2", "x");
    assert_eq!(
        v,
        json!({"queue": "Cobranza->", "position": 1, "channel": "PJSIP/carrier-00000007",
               "uniqueId": "1795359500.7", "callerIdNum": "099123456", "callerIdName": "",
               "wait": 10, "internalActionId": "1_2", "dateReceived": "x"})
    );
}

#[test]
fn a_dialer_campaigns_figures_show_its_contacts_ledger_and_pacing() {
    use crate::core::campaigns::CampaignName;
    use crate::core::dialer::abandon::FalsePositiveShare;
    use crate::core::dialer::calls::LedgerCounts;
    use crate::core::dialer::claim::WhyReport;
    use crate::core::dialer::pacing::{Basis, Figures};
    use crate::core::dialer::{CampaignFigures, CampaignId, DialerCampaign, ZoneName};
    use crate::core::directory::QueueName;

    let mut campaign = DialerCampaign::new(
        CampaignName::parse("Salida").unwrap(),
        QueueName::new("q_campanas").unwrap(),
        ZoneName::parse("UTC").unwrap(),
    );
    campaign.answer.amd = true;
    campaign.answer.amd_false_positives = FalsePositiveShare::parse("2.5").unwrap();
    let figures = CampaignFigures {
        id: CampaignId(1),
        campaign,
        contacts: WhyReport {
            total: 330,
            dialable: 200,
            blacklisted: 10,
            outside_hours: 20,
            ..WhyReport::default()
        },
        window: LedgerCounts {
            attempts: 100,
            answered: 60,
            machines: 10,
            abandoned: 1,
        },
        abandon_rate: Some(0.0213),
        false_positives: FalsePositiveShare::parse("2.5").unwrap(),
        pacing: Some(Figures {
            dial_level: 1.375,
            answer_rate: 0.42,
            machine_rate: 0.1,
            mean_ring_s: 4.0,
            mean_handle_s: 60.0,
            abandon_rate: Some(0.02),
            gain: 1.0,
            basis: Basis::Predictive,
            amd: true,
            false_positives: FalsePositiveShare::parse("2.5").unwrap(),
        }),
    };
    let v = dialer_figures(std::slice::from_ref(&figures));
    let f = &v["Salida"];
    assert_eq!(f["state"], "Incomplete");
    assert_eq!(
        (f["contacts"].as_u64(), f["dialable"].as_u64()),
        (Some(330), Some(200))
    );
    assert_eq!(
        (f["blacklisted"].as_u64(), f["outsidehours"].as_u64()),
        (Some(10), Some(20))
    );
    assert_eq!(
        (
            f["attempts"].as_u64(),
            f["answered"].as_u64(),
            f["machines"].as_u64()
        ),
        (Some(100), Some(60), Some(10))
    );
    assert_eq!(f["abandoned"].as_u64(), Some(1));
    assert_eq!(f["abandonrate"], "2.13");
    assert_eq!(f["abandontarget"], "3.0");
    // The share of machine verdicts the rate counts as people, so the estimate can be checked.
    assert_eq!(f["amd"], 1);
    assert_eq!(f["amdfalsepositives"], "2.5");
    assert_eq!(f["diallevel"], "1.38");
    assert_eq!(f["answerrate"], "42.00");
    assert_eq!(f["pacing"], "predictive");
    // Before the runner's first decision, and with nobody answered yet.
    let cold = CampaignFigures {
        pacing: None,
        abandon_rate: None,
        ..figures
    };
    let v = dialer_figures(&[cold]);
    assert_eq!(v["Salida"]["pacing"], "");
    assert_eq!(v["Salida"]["abandonrate"], "0.00");
}
