//! Scheduled calls' pure rules: statuses and their vendor names, bounds, the campaign a
//! panel's queue names.

use super::*;

fn call() -> NewScheduledCall {
    NewScheduledCall::new(CampaignId(1), PhoneNumber::parse("099123456").unwrap())
}

#[test]
fn statuses_map_to_expands_names_and_back() {
    for s in ScheduleStatus::ALL {
        assert_eq!(ScheduleStatus::parse(s.as_str()), Some(s));
        assert!(ScheduleStatus::from_vendor(s.vendor_name())
            .unwrap()
            .contains(&s));
    }
    assert_eq!(ScheduleStatus::InProgress.vendor_name(), "PENDING");
    assert_eq!(ScheduleStatus::from_vendor("done"), None);
}

#[test]
fn a_panels_queue_names_a_campaign_by_name_then_by_queue() {
    use crate::core::campaigns::CampaignName;
    use crate::core::directory::QueueName;
    let c = |id: i64, name: &str, queue: &str| {
        let zone = super::super::ZoneName::parse("UTC").unwrap();
        let c = super::super::DialerCampaign::new(
            CampaignName::parse(name).unwrap(),
            QueueName::new(queue).unwrap(),
            zone,
        );
        (CampaignId(id), c)
    };
    let all = [
        c(1, "ventas", "q_campanas"),
        c(2, "archivo", "q_campanas"),
        c(3, "q_soporte", "q_tecnologia"),
    ];
    let found = |q: &str| panel_campaign(&all, q).map(|(id, _)| id.0);
    assert_eq!(found("ventas"), Some(1));
    assert_eq!(found("q_campanas"), Some(2));
    assert_eq!(found("q_soporte"), Some(3));
    assert_eq!(found("q_tecnologia"), Some(3));
    assert_eq!(found("tecnologia"), None);
}

#[test]
fn bounds_are_checked() {
    assert!(call().validate().is_ok());
    let mut c = call();
    c.alternatives = vec![c.number.clone()];
    assert!(matches!(
        c.validate(),
        Err(ScheduleError::Invalid(ContactError::AlternativeIsMain))
    ));
    let mut c = call();
    c.alternatives = (0..11)
        .map(|i| PhoneNumber::parse(&format!("0990{i:02}")).unwrap())
        .collect();
    assert!(c.validate().is_err());
    let mut c = call();
    c.priority = NewScheduledCall::MAX_PRIORITY + 1;
    assert!(c.validate().is_err());
    let mut c = call();
    c.agent = Some("a\nb".into());
    assert!(c.validate().is_err());
    let mut c = call();
    c.call_at = Some(UnixTime(10));
    c.expires_at = Some(UnixTime(10));
    assert!(matches!(
        c.validate(),
        Err(ScheduleError::ExpiresBeforeDate)
    ));
}
