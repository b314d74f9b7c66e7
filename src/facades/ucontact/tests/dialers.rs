//! `Dialers/*`: the seed's examples as written, their effects in the dialer's store, the spool
//! never holding a destination twice, DispositionCall's dialer actions, hostile input. Uploads:
//! `dialer_uploads.rs`.

use super::*;
use crate::core::dialer::schedule::{ScheduleFilter, ScheduleStatus, ScheduledCall};
use crate::core::dialer::{CampaignId, ContactState, DialerCampaign, ZoneName};
use crate::core::directory::QueueName;

const DIALER_CAMPAIGNS: &str = r#"
[[campaigns.campaign]]
name = "Ventas->"
outbound = true
[[campaigns.campaign.disposition]]
l1 = "Otra vez"
action = "RESPOOL"
txtcode = "RP"
[[campaigns.campaign.disposition]]
l1 = "Otro numero"
action = "RESPOOLALTERNATIVE"
txtcode = "RA"
[[campaigns.campaign.disposition]]
l1 = "Luego"
action = "RESCHEDULE"
txtcode = "RS"
"#;

pub(super) async fn dialer_fixture() -> (Fixture, CampaignId) {
    let f = fixture_with(DIALER_CAMPAIGNS);
    let id = create_ventas(&f).await;
    (f, id)
}

/// Dialer campaign `Ventas->` on queue `q_ventas`, in Montevideo's zone.
pub(super) async fn create_ventas(f: &Fixture) -> CampaignId {
    f.services
        .dialer
        .create(DialerCampaign::new(
            CampaignName::parse("Ventas->").unwrap(),
            QueueName::new("q_ventas").unwrap(),
            ZoneName::parse("America/Montevideo").unwrap(),
        ))
        .await
        .unwrap()
}

/// `application/x-www-form-urlencoded` of one value (every byte but unreserved ones escaped).
pub(super) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) fn form(field: &str, json: &str) -> String {
    fields(&[(field, json)])
}

pub(super) fn fields(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(super) async fn scheduled(f: &Fixture, id: CampaignId) -> Vec<ScheduledCall> {
    let filter = ScheduleFilter {
        campaign: Some(id),
        ..ScheduleFilter::default()
    };
    f.services
        .dialer
        .schedule()
        .unwrap()
        .list(filter, 0, 100)
        .await
        .unwrap()
        .1
}

pub(super) fn n(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

fn local(s: &str) -> UnixTime {
    wire::parse_local(s, &TimeZone::get("America/Montevideo").unwrap()).unwrap()
}

const RESPOOL: &str = r#"{ "campaign": "Ventas->", "destination": "098344484", "dialerbase": "basetest", "status": 1, "data": "Par1=Val1:Par2=Val2", "alternatives": "098124484", "contact": 222, "retries": 0, "priority": 9999, "agentphone": "1001" }"#;

#[tokio::test]
async fn respool_spools_the_destination_once() {
    let (f, id) = dialer_fixture().await;
    let auth = login(&f.router, "ana").await;
    let body = form("callspool", RESPOOL);
    assert_eq!(
        post(&f.router, "Dialers/Respool", Some(&auth), &body).await,
        (StatusCode::OK, "1".to_owned())
    );
    let calls = scheduled(&f, id).await;
    assert_eq!(calls.len(), 1);
    let c = &calls[0].spec;
    assert_eq!(c.number, n("098344484"));
    assert_eq!(c.alternatives, vec![n("098124484")]);
    assert_eq!(c.agent.as_deref(), Some("1001"));
    assert_eq!(c.priority, 9999);
    assert_eq!(c.call_at, None, "a respool is undated");
    assert_eq!(c.data.get("Par2"), Some("Val2"));
    assert_eq!(calls[0].status, ScheduleStatus::Pending);

    // Never respool a destination already in the spool: 0, nothing changes.
    assert_eq!(
        post(&f.router, "Dialers/Respool", Some(&auth), &body).await,
        (StatusCode::OK, "0".to_owned())
    );
    assert_eq!(scheduled(&f, id).await, calls);

    // Priority 1 is kept for tasks "now": a respool asking for it gets 2.
    let p1 = RESPOOL
        .replace("098344484", "098000001")
        .replace("9999", "1");
    assert_eq!(
        said(&f.router, "Dialers/Respool", &auth, &form("callspool", &p1)).await,
        "1"
    );
    let calls = scheduled(&f, id).await;
    let added = calls.iter().find(|c| c.spec.number == n("098000001"));
    assert_eq!(added.unwrap().spec.priority, 2);

    // An unknown campaign: 0.
    let other = RESPOOL.replace("Ventas->", "Nadie->");
    assert_eq!(
        said(
            &f.router,
            "Dialers/Respool",
            &auth,
            &form("callspool", &other)
        )
        .await,
        "0"
    );
    // No session: 401.
    assert_eq!(
        post(&f.router, "Dialers/Respool", None, &body).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn schedule_dialer_call_is_dated_in_the_call_centers_zone() {
    let (f, id) = dialer_fixture().await;
    let auth = login(&f.router, "ana").await;
    let json = r#"{ "calldate" : "2015-10-11 15:00:00", "campaign" : "Ventas->", "destination" : "098344484", "alternatives" : "099124484:099121212", "agentphone" : "1001", "data" : "Par1=Val1:Par2=Val2" }"#;
    assert_eq!(
        post(
            &f.router,
            "Dialers/ScheduleDialerCall",
            Some(&auth),
            &form("callschedule", json)
        )
        .await,
        (StatusCode::OK, "1".to_owned())
    );
    let calls = scheduled(&f, id).await;
    assert_eq!(calls.len(), 1);
    let c = &calls[0].spec;
    assert_eq!(c.call_at, Some(local("2015-10-11 15:00:00")));
    assert_eq!(c.alternatives, vec![n("099124484"), n("099121212")]);
    assert_eq!(c.agent.as_deref(), Some("1001"));
    // Without a date, or with a malformed one: 0, nothing stored.
    for bad in [
        json.replace(r#""calldate" : "2015-10-11 15:00:00","#, ""),
        json.replace("2015-10-11 15:00:00", "11/10/2015")
            .replace("098344484", "098344485"),
    ] {
        assert_eq!(
            said(
                &f.router,
                "Dialers/ScheduleDialerCall",
                &auth,
                &form("callschedule", &bad)
            )
            .await,
            "0",
            "{bad}"
        );
    }
    assert_eq!(scheduled(&f, id).await.len(), 1);
}

#[tokio::test]
async fn dialer_task_modes_do_what_the_seed_says() {
    let (f, id) = dialer_fixture().await;
    let sup = login(&f.router, "sup").await;
    let task = |json: &str| form("call", json);
    // Priority 1, now: an undated scheduled call at priority 1.
    let now = r#"{"calldate" : null, "campaign" : "Ventas->", "destination": "12-345-678", "alternatives": "", "agent" : "", "data": "idcustomer=7:name=Seba", "source": "source", "bulk" : false, "automatic" : true }"#;
    assert_eq!(
        post(&f.router, "Dialers/DialerTask", Some(&sup), &task(now)).await,
        (StatusCode::OK, "1".to_owned())
    );
    let calls = scheduled(&f, id).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (
            calls[0].spec.number.clone(),
            calls[0].spec.priority,
            calls[0].spec.call_at
        ),
        (n("12345678"), 1, None)
    );
    assert_eq!(calls[0].spec.data.get("name"), Some("Seba"));

    // Bulk: a contact of the campaign, idempotent.
    for agent in ["Agente1", "1001"] {
        let bulk = format!(
            r#"{{"calldate" : null, "campaign" : "Ventas->", "destination": "12-345-679", "alternatives": "", "agent" : "{agent}", "data": "idcustomer=7", "source": "source", "bulk" : true, "automatic" : false }}"#
        );
        assert_eq!(
            said(&f.router, "Dialers/DialerTask", &sup, &task(&bulk)).await,
            "1"
        );
    }
    let contacts = f.services.dialer.store().contacts(id, None, 0, 10).unwrap();
    assert_eq!(contacts.len(), 1, "the second bulk task changed nothing");
    assert_eq!(contacts[0].spec.main, n("12345679"));
    assert_eq!(contacts[0].spec.agent.as_deref(), Some("Agente1"));
    assert_eq!(contacts[0].spec.data.get("idcustomer"), Some("7"));

    // Dated: a scheduled call at that date.
    let dated = r#"{"calldate" : "2015-10-11 15:00:00", "campaign" : "Ventas->", "destination": "12-345-670", "alternatives": "", "agent" : "Agente1", "data": "idcustomer=7", "source": "source", "bulk" : true, "automatic" : false }"#;
    assert_eq!(
        said(&f.router, "Dialers/DialerTask", &sup, &task(dated)).await,
        "1"
    );
    let calls = scheduled(&f, id).await;
    let d = calls
        .iter()
        .find(|c| c.spec.number == n("12345670"))
        .unwrap();
    assert_eq!(d.spec.call_at, Some(local("2015-10-11 15:00:00")));
    assert_eq!(d.spec.agent.as_deref(), Some("Agente1"));

    // Click to call: placed at once through the agent call path; with no PBX connected, the
    // documented 0, and nothing spooled.
    let manual = r#"{"calldate" : null, "campaign" : "Ventas->", "destination": "12-345-671", "alternatives": "", "agent" : "", "data": "idcustomer=7", "source": "source", "bulk" : false, "automatic" : false }"#;
    let ana = login(&f.router, "ana").await;
    assert_eq!(
        said(&f.router, "Dialers/DialerTask", &ana, &task(manual)).await,
        "0"
    );
    assert_eq!(scheduled(&f, id).await.len(), 2);
    assert_eq!(
        f.services
            .dialer
            .store()
            .contacts(id, None, 0, 10)
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn remove_contact_and_remove_schedule_cancel_what_they_name() {
    let (f, id) = dialer_fixture().await;
    let sup = login(&f.router, "sup").await;
    let ana = login(&f.router, "ana").await;
    let bulk = r#"{"campaign": "Ventas->", "destination": "098344484", "bulk": true}"#;
    assert_eq!(
        said(&f.router, "Dialers/DialerTask", &sup, &form("call", bulk)).await,
        "1"
    );
    assert_eq!(
        said(
            &f.router,
            "Dialers/Respool",
            &sup,
            &form("callspool", RESPOOL)
        )
        .await,
        "1"
    );
    let remove = fields(&[("campaign", "Ventas->"), ("number", "098344484")]);
    // A supervisor operation.
    assert_eq!(
        post(&f.router, "Dialers/RemoveContact", Some(&ana), &remove)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&f.router, "Dialers/RemoveContact", Some(&sup), &remove).await,
        (StatusCode::OK, "1".to_owned())
    );
    let contacts = f.services.dialer.store().contacts(id, None, 0, 10).unwrap();
    assert_eq!(contacts[0].state, ContactState::Canceled);
    let calls = scheduled(&f, id).await;
    assert_eq!(calls[0].status, ScheduleStatus::Canceled);

    // Dated calls within the range only.
    for date in ["2030-01-10 10:00:00", "2030-02-10 10:00:00"] {
        let json = format!(
            r#"{{"calldate": "{date}", "campaign": "Ventas->", "destination": "099111222", "bulk": true}}"#
        );
        // The second is refused: the destination is in the spool already.
        post(
            &f.router,
            "Dialers/DialerTask",
            Some(&sup),
            &form("call", &json),
        )
        .await;
    }
    let in_range = fields(&[
        ("campaign", "Ventas->"),
        ("destination", "099111222"),
        ("from", "2030-01-01 00:00:00"),
        ("to", "2030-01-31 23:59:59"),
    ]);
    assert_eq!(
        post(
            &f.router,
            "Dialers/RemoveScheduleDialerCall",
            Some(&sup),
            &in_range
        )
        .await,
        (StatusCode::OK, "1".to_owned())
    );
    let calls = scheduled(&f, id).await;
    let c = calls
        .iter()
        .find(|c| c.spec.number == n("099111222"))
        .unwrap();
    assert_eq!(c.status, ScheduleStatus::Canceled);
    // Now the destination can be spooled again, at the other date; outside the range it stays.
    let json = r#"{"calldate": "2030-02-10 10:00:00", "campaign": "Ventas->", "destination": "099111222", "bulk": true}"#;
    assert_eq!(
        said(&f.router, "Dialers/DialerTask", &sup, &form("call", json)).await,
        "1"
    );
    post(
        &f.router,
        "Dialers/RemoveScheduleDialerCall",
        Some(&sup),
        &in_range,
    )
    .await;
    let open: Vec<_> = scheduled(&f, id)
        .await
        .into_iter()
        .filter(|c| c.spec.number == n("099111222") && c.status == ScheduleStatus::Pending)
        .collect();
    assert_eq!(open.len(), 1);
    // Bad dates and unknown campaigns: 0.
    let remove_range = "Dialers/RemoveScheduleDialerCall";
    refused_all(
        &f.router,
        &sup,
        &[
            (
                remove_range,
                fields(&[
                    ("campaign", "Ventas->"),
                    ("destination", "099111222"),
                    ("from", "ayer"),
                    ("to", "hoy"),
                ]),
            ),
            (
                remove_range,
                fields(&[
                    ("campaign", "Nadie->"),
                    ("destination", "099111222"),
                    ("from", "2030-01-01 00:00:00"),
                    ("to", "2030-01-31 23:59:59"),
                ]),
            ),
            (
                "Dialers/RemoveContact",
                fields(&[("campaign", "Nadie->"), ("number", "098344484")]),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn dispositions_respool_respool_an_alternative_and_reschedule() {
    let (f, id) = dialer_fixture().await;
    let ana = login(&f.router, "ana").await;
    let sup = login(&f.router, "sup").await;
    let bulk = r#"{"campaign": "Ventas->", "destination": "098344484", "alternatives": "098124484:098124485", "data": "id=9", "bulk": true}"#;
    post(
        &f.router,
        "Dialers/DialerTask",
        Some(&sup),
        &form("call", bulk),
    )
    .await;
    // Ana's DispositionCall of the call from `callerid`.
    let dispose = async |l1: &str, callerid: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("campaign", "Ventas->"),
            ("agent", "ana"),
            ("callerid", callerid),
            ("guid", "7e4e7db9-f080-494e-b04b-7c8e47711558"),
            ("l1", l1),
        ];
        pairs.extend_from_slice(extra);
        post(
            &f.router,
            "api/DispositionCall",
            Some(&ana),
            &fields(&pairs),
        )
        .await
    };
    let (status, body) = dispose("Otro numero", "098344484", &[]).await;
    assert_eq!((status, body.contains("\"RA\"")), (StatusCode::OK, true));
    let calls = scheduled(&f, id).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].spec.number,
        n("098124484"),
        "the next alternative first"
    );
    assert_eq!(
        calls[0].spec.alternatives,
        vec![n("098124485"), n("098344484")]
    );
    assert_eq!(calls[0].spec.data.get("id"), Some("9"));
    let stored = f
        .services
        .campaigns
        .store()
        .dispositions_of("7e4e7db9-f080-494e-b04b-7c8e47711558")
        .unwrap();
    assert!(!stored.last().unwrap().pending_dialer, "applied");

    // RESPOOL of the same number: in the spool once (answered ok, nothing added).
    dispose("Otra vez", "098124484", &[]).await;
    assert_eq!(scheduled(&f, id).await.len(), 1);
    // RESPOOL of a number with no contact: spooled as is.
    let (status, _) = dispose("Otra vez", "5551234", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let calls = scheduled(&f, id).await;
    let c = calls
        .iter()
        .find(|c| c.spec.number == n("5551234"))
        .unwrap();
    assert_eq!((c.spec.call_at, c.spec.priority), (None, 9999));

    // RESCHEDULE: a dated call at the disposition's date in the call center's zone.
    dispose("Luego", "5559999", &[("schedule", "2030-02-26 13:45:00")]).await;
    let calls = scheduled(&f, id).await;
    let c = calls
        .iter()
        .find(|c| c.spec.number == n("5559999"))
        .unwrap();
    assert_eq!(c.spec.call_at, Some(local("2030-02-26 13:45:00")));

    // camptoreschedule names another dialer campaign: unknown, so the action stays pending.
    let (status, _) = dispose(
        "Luego",
        "5558888",
        &[
            ("schedule", "2030-02-26 13:45:00"),
            ("camptoreschedule", "Nadie->"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(scheduled(&f, id)
        .await
        .iter()
        .all(|c| c.spec.number != n("5558888")));
    let stored = f
        .services
        .campaigns
        .store()
        .dispositions_of("7e4e7db9-f080-494e-b04b-7c8e47711558")
        .unwrap();
    assert!(stored.last().unwrap().pending_dialer);
}

#[tokio::test]
async fn hostile_dialer_objects_are_refused_with_0() {
    let (f, id) = dialer_fixture().await;
    let auth = login(&f.router, "ana").await;
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let huge = format!(
        r#"{{"campaign": "Ventas->", "destination": "098344484", "data": "a={}"}}"#,
        "x".repeat(20_000)
    );
    let many: String = (0..100)
        .map(|i| format!(r#""k{i}": 1"#))
        .collect::<Vec<_>>()
        .join(",");
    let cases = [
        String::new(),
        "not json".to_owned(),
        deep,
        huge,
        format!("{{{many}}}"),
        r#"[{"campaign": "Ventas->", "destination": "098344484"}]"#.to_owned(),
        r#"{"campaign": {"a": 1}, "destination": "098344484"}"#.to_owned(),
        r#"{"campaign": "Ventas->", "destination": ["098344484"]}"#.to_owned(),
        r#"{"campaign": "Ventas->", "destination": "abc"}"#.to_owned(),
        r#"{"campaign": "Ventas->"}"#.to_owned(),
        r#"{"campaign": "Ventas->", "destination": "098344484", "priority": -1}"#.to_owned(),
        r#"{"campaign": "Ventas->", "destination": "098344484", "priority": "1e9"}"#.to_owned(),
        r#"{"campaign": "Ventas->", "destination": "098344484", "alternatives": "1:2:3:4:5:6:7:8:9:10:11"}"#.to_owned(),
        r#"{"campaign": "Ventas->", "destination": "098344484", "agentphone": "a\nb"}"#.to_owned(),
        r#"{"campaign": "Ventas->", "destination": "098344484", "data": "sin igual"}"#.to_owned(),
        r#"{"campaign": "Ventas->", "destination": "098344484", "bulk": "quizas"}"#.to_owned(),
    ];
    for case in &cases {
        for (op, field) in [
            ("Dialers/Respool", "callspool"),
            ("Dialers/ScheduleDialerCall", "callschedule"),
            ("Dialers/DialerTask", "call"),
        ] {
            assert_eq!(
                post(&f.router, op, Some(&auth), &form(field, case)).await,
                (StatusCode::OK, "0".to_owned()),
                "{op} {}",
                case.chars().take(80).collect::<String>()
            );
        }
    }
    assert!(scheduled(&f, id).await.is_empty());
}

/// Hands the campaign's next due scheduled call to a contact, as the runner does; the contact.
async fn hand_next(f: &Fixture, id: CampaignId) -> crate::core::dialer::Contact {
    let campaign = f.services.dialer.store().campaign(id).unwrap().unwrap();
    let (_, contact) = f
        .services
        .dialer
        .schedule()
        .unwrap()
        .spool_due(id, campaign, UnixTime::now())
        .await
        .unwrap()
        .expect("a call due");
    f.services
        .dialer
        .store()
        .contact(contact.expect("handed to a contact"))
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn respool_hands_the_call_to_the_named_contact_with_its_retries() {
    let (f, id) = dialer_fixture().await;
    let ana = login(&f.router, "ana").await;
    let sup = login(&f.router, "sup").await;
    let bulk = r#"{"campaign": "Ventas->", "destination": "098344484", "alternatives": "098124484", "data": "id=9", "bulk": true}"#;
    assert_eq!(
        said(&f.router, "Dialers/DialerTask", &sup, &form("call", bulk)).await,
        "1"
    );
    let contacts = f.services.dialer.store().contacts(id, None, 0, 10).unwrap();
    let record = contacts[0].id;

    // The seed: the alternative as the main number, the old main as its alternative, the
    // contact's record kept (`contact`), its attempts as `retries` says.
    let swapped = format!(
        r#"{{ "campaign": "Ventas->", "destination": "098124484", "dialerbase": "basetest", "status": 1, "data": "Par1=Val1", "alternatives": "098344484", "contact": {}, "retries": 2, "priority": 9999, "agentphone": "1001" }}"#,
        record.0
    );
    assert_eq!(
        said(
            &f.router,
            "Dialers/Respool",
            &ana,
            &form("callspool", &swapped)
        )
        .await,
        "1"
    );
    let calls = scheduled(&f, id).await;
    assert_eq!(
        (calls[0].spec.contact, calls[0].spec.retries),
        (Some(record), Some(2))
    );
    let handed = hand_next(&f, id).await;
    assert_eq!(handed.id, record, "the named contact, not a new one");
    assert_eq!(handed.spec.main, n("098124484"));
    assert_eq!(handed.spec.alternatives, vec![n("098344484")]);
    assert_eq!(handed.attempts, 2, "retries");
    assert_eq!(handed.state, ContactState::Pending);
    assert_eq!(
        f.services
            .dialer
            .store()
            .contacts(id, None, 0, 10)
            .unwrap()
            .len(),
        1
    );

    // A contact id the campaign does not have (the seed's 222): handed by its number, a new
    // contact counting `retries` attempts.
    let seed = RESPOOL
        .replace("098344484", "5551234")
        .replace("\"retries\": 0", "\"retries\": 1");
    assert_eq!(
        said(
            &f.router,
            "Dialers/Respool",
            &ana,
            &form("callspool", &seed)
        )
        .await,
        "1"
    );
    let c = scheduled(&f, id)
        .await
        .into_iter()
        .find(|c| c.spec.number == n("5551234"))
        .unwrap();
    assert_eq!((c.spec.contact, c.spec.retries), (None, Some(1)));
    let handed = hand_next(&f, id).await;
    assert_ne!(handed.id, record);
    assert_eq!(
        (handed.spec.main.clone(), handed.attempts),
        (n("5551234"), 1)
    );

    // Without `retries`, a contact keeps its own count.
    let again = format!(
        r#"{{ "campaign": "Ventas->", "destination": "098777777", "contact": {} }}"#,
        record.0
    );
    // The record's call is still in progress (handed, not dialed yet): its contact is named by
    // a new destination, handed when due.
    assert_eq!(
        said(
            &f.router,
            "Dialers/Respool",
            &ana,
            &form("callspool", &again)
        )
        .await,
        "1"
    );
    let handed = hand_next(&f, id).await;
    assert_eq!(handed.id, record);
    assert_eq!(
        (handed.spec.main.clone(), handed.attempts),
        (n("098777777"), 2)
    );
}

#[tokio::test]
async fn respool_record_fields_out_of_the_seed_s_meaning_are_refused_with_0() {
    let (f, id) = dialer_fixture().await;
    let ana = login(&f.router, "ana").await;
    let long = "b".repeat(129);
    for (field, value) in [
        ("\"status\": 1", "\"status\": 0"),
        ("\"status\": 1", "\"status\": 2"),
        ("\"status\": 1", "\"status\": \"uno\""),
        ("\"retries\": 0", "\"retries\": -1"),
        // The campaign's rules give a number at most 3 attempts: none would be left.
        ("\"retries\": 0", "\"retries\": 3"),
        ("\"retries\": 0", "\"retries\": 1.5"),
        ("\"contact\": 222", "\"contact\": 0"),
        ("\"contact\": 222", "\"contact\": \"x\""),
        (
            "\"dialerbase\": \"basetest\"",
            "\"dialerbase\": \"a\\u0007b\"",
        ),
        (
            "\"dialerbase\": \"basetest\"",
            &format!("\"dialerbase\": \"{long}\""),
        ),
        ("\"dialerbase\": \"basetest\"", "\"dialerbase\": {\"a\": 1}"),
    ] {
        let bad = RESPOOL.replace(field, value);
        assert_ne!(bad, RESPOOL, "{value}");
        assert_eq!(
            post(
                &f.router,
                "Dialers/Respool",
                Some(&ana),
                &form("callspool", &bad)
            )
            .await,
            (StatusCode::OK, "0".to_owned()),
            "{value}"
        );
    }
    assert!(scheduled(&f, id).await.is_empty());
    // At the bounds: accepted.
    let ok = RESPOOL
        .replace("\"retries\": 0", "\"retries\": \"2\"")
        .replace("basetest", &"b".repeat(128))
        .replace("\"status\": 1", "\"status\": \"1\"");
    assert_eq!(
        said(&f.router, "Dialers/Respool", &ana, &form("callspool", &ok)).await,
        "1"
    );
}
