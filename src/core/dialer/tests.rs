//! Pure rules of the dialer: validation, text forms, windows across daylight saving time,
//! retry rules, the dialable rule, uploadbase lines.

use super::campaign::*;
use super::claim::*;
use super::contact::*;
use super::import::{parse_line, LineError};
use crate::core::campaigns::{CampaignName, Day};
use crate::core::directory::QueueName;
use crate::core::journal::UnixTime;
use crate::core::originate::PhoneNumber;

fn zone(z: &str) -> ZoneName {
    ZoneName::parse(z).unwrap()
}

pub(crate) fn campaign(name: &str, z: &str) -> DialerCampaign {
    DialerCampaign::new(
        CampaignName::parse(name).unwrap(),
        QueueName::new("q_ventas").unwrap(),
        zone(z),
    )
}

/// The instant of a civil time in a zone.
pub(crate) fn at(local: &str, z: &str) -> UnixTime {
    let dt: jiff::civil::DateTime = local.parse().unwrap();
    UnixTime(
        dt.to_zoned(jiff::tz::TimeZone::get(z).unwrap())
            .unwrap()
            .timestamp()
            .as_second(),
    )
}

#[test]
fn ring_timeout_under_15_s_is_refused() {
    let mut c = campaign("Ventas->", "America/Montevideo");
    for (timeout, ok) in [
        (0, false),
        (14, false),
        (15, true),
        (25, true),
        (300, true),
        (301, false),
    ] {
        c.ring_timeout_s = timeout;
        assert_eq!(c.validate().is_ok(), ok, "{timeout}");
        if !ok {
            assert_eq!(c.validate(), Err(CampaignError::RingTimeout(timeout)));
        }
    }
}

#[test]
fn zones_must_be_known() {
    for ok in [
        "America/Montevideo",
        "UTC",
        "America/Argentina/Buenos_Aires",
        "Etc/GMT+3",
    ] {
        assert!(ZoneName::parse(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "Mars/Olympus",
        "../../etc/passwd",
        "America/New York",
        "x".repeat(65).as_str(),
    ] {
        assert!(
            matches!(ZoneName::parse(bad), Err(CampaignError::BadZone(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn parts_parse_and_print() {
    for (text, printed) in [
        ("preview", "preview"),
        ("Progressive", "progressive"),
        ("predictive", "predictive"),
        ("power:1.5", "power:1.50"),
        ("power:10", "power:10.00"),
    ] {
        let m = DialMode::parse(text).unwrap();
        assert_eq!(m.as_text(), printed);
        assert_eq!(DialMode::parse(&m.as_text()).unwrap(), m);
    }
    for bad in ["power", "power:0.5", "power:11", "power:1.555", "dial"] {
        assert!(DialMode::parse(bad).is_err(), "{bad}");
    }
    for (text, ok) in [
        ("08:00-21:00", true),
        ("9:00-20:30", true),
        ("00:00-24:00", true),
        ("21:00-08:00", false),
        ("08:00-08:00", false),
        ("08:60-09:00", false),
        ("25:00-26:00", false),
        ("0800-2100", false),
    ] {
        assert_eq!(Hours::parse(text).is_ok(), ok, "{text}");
    }
    assert_eq!(Weekdays::parse("mon-fri").unwrap(), Weekdays::mon_fri());
    assert_eq!(Weekdays::parse("all").unwrap(), Weekdays::all());
    assert_eq!(Weekdays::parse("sat,mon").unwrap().as_text(), "mon,sat");
    for bad in ["", "fri-mon", "lun", "mon,,tue"] {
        assert!(Weekdays::parse(bad).is_err(), "{bad:?}");
    }
    let rules =
        RetryRules::parse("busy=600/5,no_answer=1800/3,disposition:CALLBACK=3600/2").unwrap();
    assert_eq!(RetryRules::parse(&rules.as_text()).unwrap(), rules);
    assert_eq!(rules.most_attempts(), 5);
    for bad in [
        "busy",
        "busy=600",
        "ringing=60/2",
        "busy=x/2",
        "disposition:=60/2",
    ] {
        assert!(RetryRules::parse(bad).is_err(), "{bad}");
    }
    let mut c = campaign("Ventas->", "UTC");
    c.retry = RetryRules::parse("busy=600/0").unwrap();
    assert!(c.validate().is_err());
    assert_eq!(AbandonTarget::parse("3").unwrap(), AbandonTarget::default());
    assert_eq!(AbandonTarget::parse("2.5").unwrap().per_mille(), 25);
    for bad in ["0", "10.5", "2.55", "-1"] {
        assert!(AbandonTarget::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_holidays("2026-12-25, 2027-01-01").unwrap().len(), 2);
    assert!(parse_holidays("2026-13-01").is_err());
    assert!(parse_holidays("2026-2-1").is_err());
    assert_eq!(
        CampaignState::parse("active").unwrap(),
        CampaignState::Active
    );
    assert_eq!(Regime::parse("UK").unwrap(), Regime::Uk);
}

fn everyday(c: &mut DialerCampaign, hours: &str) {
    c.schedule.weekdays = Weekdays::all();
    c.schedule.hours = Hours::parse(hours).unwrap();
}

#[test]
fn the_window_follows_daylight_saving_time() {
    // 2026-03-08 is the day New York moves from EST (-5) to EDT (-4) at 02:00.
    let ny = "America/New_York";
    let mut c = campaign("Ventas->", ny);
    everyday(&mut c, "00:00-24:00");
    let zones = [zone(ny)];
    let open = |t: UnixTime| ZoneWindows::compute(&c, &zones, t).open.len() == 1;
    // The floor (08:00-21:00) in local time, after the change.
    assert!(open(at("2026-03-08T08:30", ny)));
    assert!(!open(at("2026-03-08T07:59", ny)));
    assert!(open(at("2026-03-08T20:59", ny)));
    assert!(!open(at("2026-03-08T21:00", ny)));
    // 08:30 EDT is 12:30 UTC; a stored offset of the day before (-5) would read 07:30 and
    // refuse it: the offset is not stored, it is computed at the instant.
    assert_eq!(
        at("2026-03-08T08:30", ny).seconds(),
        at("2026-03-08T12:30", "UTC").seconds()
    );
    assert!(!open(at("2026-03-07T12:30", "UTC")));
    // The schedule narrower than the floor wins, and the floor wins over a wider schedule.
    everyday(&mut c, "10:00-12:00");
    let open = |t: UnixTime| ZoneWindows::compute(&c, &zones, t).open.len() == 1;
    assert!(!open(at("2026-03-08T09:59", ny)));
    assert!(open(at("2026-03-08T10:00", ny)));
    assert!(!open(at("2026-03-08T12:00", ny)));
}

#[test]
fn weekdays_and_holidays_are_local() {
    let mvd = "America/Montevideo";
    let mut c = campaign("Ventas->", mvd);
    c.schedule.holidays = parse_holidays("2026-12-25").unwrap();
    let zones = [zone(mvd), zone("Pacific/Kiritimati")];
    // Thursday 2026-12-24 10:00 in Montevideo: open there; already the 25th in Kiritimati
    // (UTC+14).
    let w = ZoneWindows::compute(&c, &zones, at("2026-12-24T10:00", mvd));
    assert_eq!(w.open, vec![zone(mvd)]);
    assert_eq!(w.holiday, vec![zone("Pacific/Kiritimati")]);
    let w = ZoneWindows::compute(&c, &zones, at("2026-12-25T10:00", mvd));
    assert_eq!(w.holiday[0], zone(mvd));
    // Saturday: closed (Monday to Friday).
    let w = ZoneWindows::compute(&c, &[zone(mvd)], at("2026-12-26T10:00", mvd));
    assert_eq!(w.closed, vec![zone(mvd)]);
}

#[test]
fn retry_rules_by_outcome() {
    let mut c = campaign("Ventas->", "UTC");
    c.retry = RetryRules::parse("busy=600/3,machine=7200/2,disposition:LLAMAR=3600/4").unwrap();
    let now = UnixTime(1_000_000);
    let retry = |s: i64| AfterAttempt::Retry {
        next_at: UnixTime(1_000_000 + s),
    };
    for (attempts, outcome, expect) in [
        (1, Outcome::Busy, retry(600)),
        (2, Outcome::Busy, retry(600)),
        (3, Outcome::Busy, AfterAttempt::Done(ContactState::Rejected)),
        (1, Outcome::Machine, retry(7200)),
        (
            2,
            Outcome::Machine,
            AfterAttempt::Done(ContactState::Rejected),
        ),
        (
            1,
            Outcome::NoAnswer,
            AfterAttempt::Done(ContactState::Rejected),
        ),
        (
            1,
            Outcome::Answered,
            AfterAttempt::Done(ContactState::Completed),
        ),
        (
            1,
            Outcome::Disposition("VENTA".into()),
            AfterAttempt::Done(ContactState::Completed),
        ),
        (1, Outcome::Disposition("LLAMAR".into()), retry(3600)),
        (
            4,
            Outcome::Disposition("LLAMAR".into()),
            AfterAttempt::Done(ContactState::Rejected),
        ),
    ] {
        assert_eq!(
            after_attempt(&c, attempts, &outcome, now),
            expect,
            "{attempts} {outcome:?}"
        );
    }
}

fn contact(state: ContactState, attempts: u32, next_at: i64, z: &str) -> Contact {
    Contact {
        id: ContactId(1),
        campaign: CampaignId(1),
        spec: NewContact::new(PhoneNumber::parse("099123456").unwrap(), zone(z)),
        state,
        next_at: UnixTime(next_at),
        attempts,
        created_at: UnixTime(0),
        state_at: UnixTime(0),
    }
}

#[test]
fn the_first_failing_filter_names_the_exclusion() {
    let filter = ClaimFilter {
        campaign: CampaignId(1),
        name: CampaignName::parse("Ventas->").unwrap(),
        now: UnixTime(100),
        today: Day::parse("2026-03-09").unwrap(),
        max_attempts: 3,
        zones: ZoneWindows {
            open: vec![zone("UTC")],
            holiday: vec![zone("Europe/Madrid")],
            closed: vec![zone("Asia/Tokyo")],
        },
        agents: crate::core::dialer::AgentFilter::Free(vec!["1005".into()]),
    };
    use ContactState::*;
    use Exclusion::*;
    let for_agent = |agent: &str, zone: &str| {
        let mut c = contact(Pending, 0, 0, zone);
        c.spec.agent = Some(agent.into());
        c
    };
    for (c, bl, expect) in [
        (contact(Pending, 0, 100, "UTC"), false, None),
        (contact(Completed, 0, 0, "UTC"), false, Some(State)),
        (contact(InProgress, 0, 0, "UTC"), true, Some(State)),
        (
            contact(Pending, 3, 200, "UTC"),
            true,
            Some(AttemptsExhausted),
        ),
        (contact(Pending, 2, 101, "UTC"), true, Some(NotDue)),
        (
            contact(Pending, 2, 0, "Asia/Tokyo"),
            true,
            Some(Blacklisted),
        ),
        (
            contact(Pending, 2, 0, "Europe/Madrid"),
            false,
            Some(Holiday),
        ),
        (
            contact(Pending, 2, 0, "Asia/Tokyo"),
            false,
            Some(OutsideHours),
        ),
        // A zone not evaluated counts as closed.
        (
            contact(Pending, 0, 0, "Europe/London"),
            false,
            Some(OutsideHours),
        ),
        // Assigned to an agent: dialable while that agent is free, last of the filters.
        (for_agent("1005", "UTC"), false, None),
        (for_agent("1006", "UTC"), false, Some(ForAgent)),
        (for_agent("1006", "Asia/Tokyo"), false, Some(OutsideHours)),
        (for_agent("1006", "UTC"), true, Some(Blacklisted)),
    ] {
        assert_eq!(classify(&c, &filter, bl), expect, "{c:?} {bl}");
    }
}

#[test]
fn numbers_rotate_and_skip_blocked_ones() {
    let n = |s: &str| PhoneNumber::parse(s).unwrap();
    let mut c = NewContact::new(n("1001"), zone("UTC"));
    c.alternatives = vec![n("1002"), n("1003")];
    let rotate = AlternativesOrder::Rotate;
    let seq: Vec<&str> = (0..4)
        .map(|a| number_for_attempt(rotate, &c, a).as_str())
        .collect();
    assert_eq!(seq, ["1001", "1002", "1003", "1001"]);
    assert_eq!(
        number_for_attempt(AlternativesOrder::MainOnly, &c, 2).as_str(),
        "1001"
    );
    let blocked = |p: &PhoneNumber| p.as_str() == "1002";
    assert_eq!(pick_number(rotate, &c, 1, &blocked).as_str(), "1003");
    let all = |p: &PhoneNumber| p.as_str() != "1001";
    assert_eq!(pick_number(rotate, &c, 1, &all).as_str(), "1001");
}

#[test]
fn contacts_are_validated() {
    let n = |s: &str| PhoneNumber::parse(s).unwrap();
    let mut c = NewContact::new(n("1001"), zone("UTC"));
    assert!(c.validate().is_ok());
    c.alternatives = vec![n("1001")];
    assert_eq!(c.validate(), Err(ContactError::AlternativeIsMain));
    c.alternatives = (0..11).map(|i| n(&format!("20{i:02}"))).collect();
    assert_eq!(c.validate(), Err(ContactError::TooManyAlternatives));
    c.alternatives.clear();
    c.agent = Some("a\nb".into());
    assert_eq!(c.validate(), Err(ContactError::BadAgent));
    assert!(ContactData::parse("a=1:b=2").unwrap().get("b") == Some("2"));
    assert!(ContactData::parse("a b=1").is_err());
    assert!(ContactData::parse("a").is_err());
}

#[test]
fn uploadbase_lines() {
    let c = campaign("prueba1", "America/Montevideo");
    let mvd = zone("America/Montevideo");
    let got = parse_line(
        "prueba1;098344484;var1=val1:var2=val2;099124484:099111111;9999;1001",
        &c,
        &mvd,
    )
    .unwrap();
    assert_eq!(got.main.as_str(), "098344484");
    assert_eq!(got.alternatives.len(), 2);
    assert_eq!(got.data.get("var2"), Some("val2"));
    assert_eq!(got.priority, 9999);
    assert_eq!(got.agent.as_deref(), Some("1001"));
    assert_eq!(got.zone, mvd);
    // Only the number is required; the zone comes from an international number.
    let got = parse_line("prueba1;+12125551234", &c, &mvd).unwrap();
    assert_eq!(got.zone.as_str(), "America/New_York");
    assert_eq!(got.priority, NewContact::DEFAULT_PRIORITY);
    // A seventh field gives the zone.
    let got = parse_line("prueba1;098344484;;;;;Europe/Madrid", &c, &mvd).unwrap();
    assert_eq!(got.zone.as_str(), "Europe/Madrid");
    for (line, err) in [
        ("otra;098344484", LineError::OtherCampaign("otra".into())),
        ("prueba1;", LineError::MissingNumber),
        (
            "prueba1;09-834",
            LineError::Contact(ContactError::BadNumber),
        ),
        (
            "prueba1;098344484;;0991x",
            LineError::Contact(ContactError::BadAlternative),
        ),
        (
            "prueba1;098344484;;;alta",
            LineError::Contact(ContactError::BadPriority),
        ),
        (
            "prueba1;098344484;;;;;Mars/Base",
            LineError::Contact(ContactError::BadZone),
        ),
        (
            "prueba1;098344484;x",
            LineError::Contact(ContactError::BadData("a pair without =")),
        ),
        ("prueba1;1;2;3;4;5;6;7", LineError::TooManyFields),
    ] {
        assert_eq!(parse_line(line, &c, &mvd), Err(err), "{line}");
    }
}
