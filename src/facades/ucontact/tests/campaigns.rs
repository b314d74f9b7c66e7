//! Campaign operations: dispositions with the documented messages, the blacklist, bad input.

use super::*;

#[tokio::test]
async fn disposition_messages_are_the_documented_ones() {
    let f = fixture();
    let r = &f.router;
    let auth = login(r, "ana").await;
    let full = "campaign=Cobranza-%3E&agent=ana&callerid=5551234&guid=7e4e7db9-f080-494e-b04b-7c8e47711558&l1=Venta";
    let cases = [
        ("agent=ana&callerid=5551234&guid=g&l1=Venta", "Wrong parameters:  Empty campaign."),
        ("campaign=Cobranza-%3E&agent=ana&guid=g&l1=Venta", "Wrong parameters: Empty callerid"),
        ("campaign=Cobranza-%3E&agent=ana&callerid=1&l1=Venta", "Wrong parameters: Empty guid"),
        ("campaign=Cobranza-%3E&callerid=1&guid=g&l1=Venta", "Wrong parameters: Empty agent"),
        ("campaign=Cobranza-%3E&agent=ana&callerid=1&guid=g&l1=", "Wrong parameters: Empty value1"),
        (
            "campaign=Cobranza-%3E&agent=ana&callerid=1&guid=g&l1=Venta&l2=Mucha&l3=Plata",
            "Disposition not found for level1: Venta, level2: Mucha level3: Plata",
        ),
        (
            "campaign=Otra-%3E&agent=ana&callerid=1&guid=g&l1=Venta",
            "Disposition not found for level1: Venta, level2:  level3: ",
        ),
        ("campaign=Cobranza-%3E&agent=ana&callerid=1&guid=g&l1=Volver", "Wrong parameters: Empty schedule date."),
        (
            "campaign=Cobranza-%3E&agent=ana&callerid=1&guid=g&l1=Volver&schedule=26%2F02%2F2019",
            "The schedule date format is not well formed: El formato de la fecha tiene que ser yyyy-MM-dd HH:mm:ss",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(
            post(r, "api/DispositionCall", Some(&auth), body).await,
            (StatusCode::BAD_REQUEST, message.to_owned()),
            "{body}"
        );
    }
    let (status, body) = post(r, "api/DispositionCall", Some(&auth), full).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"result": "ok", "txtcode": "V01"})
    );
    let (status, body) = post(
        r,
        "api/DispositionCall",
        Some(&auth),
        "campaign=Cobranza-%3E&agent=ana&callerid=1&guid=g&l1=Volver&schedule=2030-02-26+13%3A45%3A00&comment=luego",
    )
    .await;
    assert_eq!((status, body.contains("\"RS\"")), (StatusCode::OK, true));
    let stored = f.services.campaigns.store().dispositions_of("g").unwrap();
    assert!(
        stored.last().unwrap().pending_dialer,
        "reschedule waits for the dialer"
    );

    // BLACKLIST blacklists the customer's number for the campaign.
    let phone = PhoneNumber::parse("5559876").unwrap();
    assert!(f
        .services
        .campaigns
        .store()
        .blacklist_for(&phone)
        .unwrap()
        .is_empty());
    let (status, body) = post(
        r,
        "api/DispositionCall",
        Some(&auth),
        "campaign=Cobranza-%3E&agent=ana&callerid=5559876&guid=g2&l1=No+llamar&l2=Pidio",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = f.services.campaigns.store().blacklist_for(&phone).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].campaign,
        CampaignScope::One(CampaignName::parse("Cobranza->").unwrap())
    );
    assert_eq!(entries[0].username, "ana");
}

#[tokio::test]
async fn blacklist_operations() {
    let f = fixture();
    let r = &f.router;
    let sup = login(r, "sup").await;
    let store = f.services.campaigns.store().clone();
    let count = |p: &str| {
        store
            .blacklist_for(&PhoneNumber::parse(p).unwrap())
            .unwrap()
            .len()
    };
    let enc = |json: &str| {
        json.replace('%', "%25")
            .replace('&', "%26")
            .replace('+', "%2B")
            .replace('=', "%3D")
    };
    let one = r#"{"phone":"5551111","campaign":"*","username":"sup","expire_date":"2030-01-01","direction":"O"}"#;
    assert_eq!(
        post(
            r,
            "admin/addblack",
            Some(&sup),
            &format!("black={}", enc(one))
        )
        .await
        .1,
        "1"
    );
    assert_eq!(count("5551111"), 1);
    let bulk = r#"[{"phone":"5552221","campaign":"Cobranza->"},{"phone":"5552222","campaign":"Cobranza->","direction":"I/O"}]"#;
    assert_eq!(
        post(
            r,
            "admin/addblackbulk",
            Some(&sup),
            &format!("black={}", enc(bulk))
        )
        .await
        .1,
        "1"
    );
    assert_eq!((count("5552221"), count("5552222")), (1, 1));
    // A bad item refuses the whole bulk.
    let bad_bulk = r#"[{"phone":"5553331","campaign":"x"},{"phone":"12a","campaign":"x"}]"#;
    assert_eq!(
        post(
            r,
            "admin/addblackbulk",
            Some(&sup),
            &format!("black={}", enc(bad_bulk))
        )
        .await
        .1,
        "0"
    );
    assert_eq!(count("5553331"), 0);
    for bad in [
        "black=nope",
        "black=%7B%7D",
        "black=%7B%22phone%22%3A%221%22%7D",
        "",
        "black=%5B%5D",
    ] {
        assert_eq!(
            post(r, "admin/addblack", Some(&sup), bad).await.1,
            "0",
            "{bad}"
        );
    }
    // Bulk endpoints want an array; single ones an object.
    assert_eq!(
        post(
            r,
            "admin/addblackbulk",
            Some(&sup),
            &format!("black={}", enc(one))
        )
        .await
        .1,
        "0"
    );
    assert_eq!(
        post(
            r,
            "admin/deleteblack",
            Some(&sup),
            &format!("black={}", enc(r#"{"phone":"5551111","campaign":"*"}"#))
        )
        .await
        .1,
        "1"
    );
    assert_eq!(count("5551111"), 0);
    assert_eq!(
        post(
            r,
            "admin/deleteblackbulk",
            Some(&sup),
            &format!("black={}", enc(bulk))
        )
        .await
        .1,
        "1"
    );
    assert_eq!((count("5552221"), count("5552222")), (0, 0));
}

#[tokio::test]
async fn bad_input_gets_the_documented_answer() {
    let f = fixture();
    let r = &f.router;
    let ana = login(r, "ana").await;
    // AgentCall, AgentCallwithData and HangupPhone refuse bad input before the PBX is asked;
    // without a PBX they answer 0 whatever they are given, so tests/app_fake_ami.rs shows it by
    // the actions the PBX never receives.
    assert_eq!(
        post(r, "Cdr/getrecords", Some(&ana), "filter=%7Bbroken")
            .await
            .1,
        "0"
    );
    assert_eq!(
        post(r, "Cdr/getrecords", Some(&ana), "searchLimit=x")
            .await
            .1,
        "0"
    );
    assert_eq!(
        post(r, "Supervisor/convert", Some(&ana), "guid=../../etc/passwd")
            .await
            .1,
        "0"
    );
    assert_eq!(
        post(r, "Agents/TagRecord", Some(&ana), "guid=nope&data=x").await,
        (StatusCode::OK, String::new())
    );
}
