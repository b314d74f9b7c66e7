//! getrecords (pages, filters, row shapes) and an agent session's own calls.

use super::*;

fn recorded_cdr(rowid: i64, start: i64, dst: &str, billsec: u64) -> CdrRecord {
    use crate::core::{ChannelName, Disposition, UniqueId};
    CdrRecord {
        source_rowid: rowid,
        clid: "\"\" <26003000>".into(),
        src: "1007".into(),
        dst: dst.into(),
        dcontext: "outbound".into(),
        channel: ChannelName::new(format!("PJSIP/1007-{rowid:08x}")),
        dstchannel: Some(ChannelName::new(format!("PJSIP/carrier-{rowid:08x}"))),
        lastapp: "Dial".into(),
        lastdata: format!("PJSIP/{dst}@carrier,30"),
        duration: Duration::from_secs(billsec + 2),
        billsec: Duration::from_secs(billsec),
        disposition: Disposition::Answered,
        amaflags: "DOCUMENTATION".into(),
        accountcode: String::new(),
        uniqueid: UniqueId::new(format!("pbx1-{start}.{rowid}")),
        linkedid: UniqueId::new(format!("pbx1-{start}.{rowid}")),
        sequence: rowid,
        peeraccount: String::new(),
        userfield: String::new(),
        start: UnixTime(start),
        answer: Some(UnixTime(start + 2)),
        end: UnixTime(start + 2 + billsec as i64),
        recordingfile: format!("20261122/pbx1-{start}.{rowid}.wav"),
        calldata: String::new(),
    }
}

#[tokio::test]
async fn getrecords_pages_filters_and_shapes_rows() {
    use crate::core::campaigns::{call_guid, CampaignCall};
    use crate::core::originate::OriginateId;
    use crate::core::{SourceCursor, SourceId, UniqueId};
    let f = fixture();
    let r = &f.router;
    // A supervisor reads every call; an agent only its own (below).
    let ana = login(r, "sup").await;
    let agent_ana = login(r, "ana").await;
    let now = UnixTime::now().seconds();
    let base = now - 600;
    let mut cdrs: Vec<CdrRecord> = (1..=5)
        .map(|i| recorded_cdr(i, base + i * 60, &format!("555100{i}"), i as u64 * 2))
        .collect();
    // Not recorded: never listed.
    let mut plain = recorded_cdr(6, base + 30, "5559999", 9);
    plain.recordingfile = String::new();
    cdrs.push(plain);
    // The third is a campaign call placed with AgentCallwithData.
    let id = OriginateId::parse("19a2b3c4d5e-5f0e1d2c").unwrap();
    cdrs[2].userfield = id.to_string();
    cdrs[2].uniqueid = UniqueId::new(format!("{id}-src"));
    cdrs[2].linkedid = UniqueId::new(format!("{id}-src"));
    cdrs[2].calldata = "idcliente=9".into();
    crate::test_support::journal_writer(&f.config.store.path)
        .append_cdrs(&SourceId::new("cdr"), &cdrs, SourceCursor::Rowid(6))
        .unwrap();
    let call = CampaignCall {
        guid: call_guid(&id),
        originate_id: id.clone(),
        campaign: CampaignName::parse("Cobranza->").unwrap(),
        agent: "ana".into(),
        phone: Extension::parse("1007").unwrap(),
        destination: PhoneNumber::parse("5551003").unwrap(),
        data: "{\"idcliente\": 9}".into(),
        form: String::new(),
        created: UnixTime(base),
    };
    f.services.campaigns.store().call_insert(&call).unwrap();
    // The engine saw the campaign call's channel end with cause 16 (normal clearing).
    f.services
        .hangup_causes
        .causes_put(
            &[crate::core::hangup_causes::HangupCause {
                uniqueid: cdrs[2].uniqueid.clone(),
                cause: 16,
                at: UnixTime(base + 190),
            }],
            UnixTime::now(),
        )
        .unwrap();

    let tz = TimeZone::get("America/Montevideo").unwrap();
    let from = wire::render_time(UnixTime(base - 1), &tz);
    let to = wire::render_time(UnixTime(now), &tz);
    let query = |extra: &str, lastrow: usize, limit: usize| {
        let filter =
            format!(r#"{{"calldatei":"{from}","calldatef":"{to}","type":"record"{extra}}}"#);
        let body = format!(
            "lastrow={lastrow}&searchLimit={limit}&Random=1&filter={}",
            filter
                .replace('%', "%25")
                .replace('&', "%26")
                .replace('+', "%2B")
                .replace('"', "%22")
        );
        let r = r.clone();
        let ana = ana.clone();
        async move {
            let (status, body) = post(&r, "Cdr/getrecords", Some(&ana), &body).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
            rows.iter()
                .map(|row| row["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(query("", 0, 50).await, [1, 2, 3, 4, 5]);
    assert_eq!(query("", 0, 2).await, [1, 2]);
    assert_eq!(query("", 2, 2).await, [3, 4]);
    assert_eq!(query("", 4, 2).await, [5]);
    assert_eq!(query("", 5, 2).await, Vec::<i64>::new());
    assert_eq!(query(r#","campaign":"Cobranza->""#, 0, 50).await, [3]);
    assert_eq!(query(r#","agent":"ana""#, 0, 50).await, [3]);
    assert_eq!(query(r#","data":"idcliente=9""#, 0, 50).await, [3]);
    assert_eq!(query(r#","mindur":"6""#, 0, 50).await, [3, 4, 5]);
    assert_eq!(query(r#","destination":"5551004""#, 0, 50).await, [4]);
    assert_eq!(query(r#","exclude":"5551001""#, 0, 50).await, [2, 3, 4, 5]);
    assert_eq!(query(r#","source":"9999""#, 0, 50).await, Vec::<i64>::new());
    // The agent's own session: only the call it placed, whatever the filter says.
    let everything = format!(r#"{{"calldatei":"{from}","calldatef":"{to}"}}"#)
        .replace('"', "%22")
        .replace('+', "%2B");
    let (_, body) = post(
        r,
        "Cdr/getrecords",
        Some(&agent_ana),
        &format!("filter={everything}"),
    )
    .await;
    let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [3], "{body}");

    // The campaign call's row: its guid is the one AgentCall answered.
    let filter = format!(r#"{{"calldatei":"{from}","calldatef":"{to}","campaign":"Cobranza->"}}"#)
        .replace('"', "%22")
        .replace('&', "%26")
        .replace('+', "%2B");
    let (_, body) = post(r, "Cdr/getrecords", Some(&ana), &format!("filter={filter}")).await;
    let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
    let row = &rows[0];
    assert_eq!(row["guid"], call.guid.as_str());
    assert_eq!(row["campaign"], "Cobranza->");
    assert_eq!(row["direction"], "outbound");
    assert_eq!(row["carrier"], "carrier");
    assert_eq!(row["type"], "record");
    assert_eq!(row["amaflags"], 3);
    assert_eq!(row["parandvalues"], "idcliente=9");
    assert_eq!(row["causecode"], "16", "as uContact writes it: a string");
    assert_eq!(
        row["calldate"],
        wire::render_time(UnixTime(base + 180), &tz)
    );
    assert_eq!(
        row["finishtime"],
        wire::render_time(UnixTime(base + 188), &tz)
    );
    for key in [
        "id",
        "calldate",
        "clid",
        "src",
        "dst",
        "dcontext",
        "channel",
        "dstchannel",
        "lastapp",
        "lastdata",
        "duration",
        "billsec",
        "disposition",
        "amaflags",
        "accountcode",
        "userfield",
        "uniqueid",
        "type",
        "guid",
        "causecode",
        "campaign",
        "direction",
        "carrier",
        "linkedid",
        "peeraccount",
        "sequence",
        "charged_balance",
        "real_balance",
        "note",
        "contact",
        "finishtime",
        "rating",
        "dialerbase",
        "parandvalues",
        "alternatives",
        "quality",
        "record_url",
        "record_url_gsm",
        "record_url_expires",
    ] {
        assert!(row.get(key).is_some(), "{key} in {row}");
    }
    // The signed links, at the host the request came to (here none: `localhost`).
    let url = row["record_url"].as_str().unwrap();
    let prefix = format!("http://localhost/records/{}.mp3?expires=", call.guid);
    assert!(url.starts_with(&prefix), "{url}");
    assert!(url.contains("&sig="), "{url}");
    assert_eq!(
        row["record_url_gsm"].as_str().unwrap(),
        url.replace(".mp3?", ".gsm?")
    );
    // searchLimit is capped by the configuration; an empty range is an empty list.
    let filter = format!(r#"{{"calldatei":"{to}","calldatef":"{from}"}}"#).replace('"', "%22");
    assert_eq!(
        post(r, "Cdr/getrecords", Some(&ana), &format!("filter={filter}"))
            .await
            .1,
        "[]"
    );
    assert_eq!(
        post(r, "Cdr/getrecords", Some(&ana), "searchLimit=0")
            .await
            .1,
        "0"
    );
}

#[tokio::test]
async fn an_agent_session_calls_and_hangs_up_from_its_own_phone_only() {
    use crate::core::audit::ActionFilter;
    let f = fixture();
    let r = &f.router;
    let ana = login(r, "ana").await;
    let sup = login(r, "sup").await;
    let call = |phone: &str, agent: &str| {
        format!("callerid=&agent={agent}&phone={phone}&tech=SIP&context=&outqueue=Cobranza-%3E&destination=5551003")
    };
    // The refusals the rule journaled so far (without a PBX in this test every answer is `0`;
    // the journal tells the rule's refusals apart).
    let refused = || {
        f.services
            .actions
            .list(TimeRange::all(), &ActionFilter::default())
            .unwrap()
            .into_iter()
            .filter(|e| e.outcome == "error: not the agent's phone")
            .count()
    };
    // Another agent's phone, or the agent's phone in another agent's name: refused (`0`),
    // before anything reaches the PBX.
    for (i, body) in [call("1008", ""), call("1008", "ana"), call("1007", "sup")]
        .iter()
        .enumerate()
    {
        assert_eq!(
            post(r, "Agents/AgentCall", Some(&ana), body).await,
            (StatusCode::OK, "0".to_owned()),
            "{body}"
        );
        assert_eq!(refused(), i + 1, "{body}");
    }
    assert_eq!(
        post(r, "Agents/HangupPhone", Some(&ana), "phone=1008").await,
        (StatusCode::OK, "0".to_owned())
    );
    assert_eq!(refused(), 4);
    // Its own phone passes the rule (and then finds no PBX in this test).
    for body in [call("1007", ""), call("1007", "ana"), call("1007", "2307")] {
        post(r, "Agents/AgentCall", Some(&ana), &body).await;
    }
    post(r, "Agents/HangupPhone", Some(&ana), "phone=1007").await;
    // A supervisor acts for any phone.
    post(r, "Agents/AgentCall", Some(&sup), &call("1007", "ana")).await;
    post(r, "Agents/HangupPhone", Some(&sup), "phone=1007").await;
    assert_eq!(refused(), 4, "no other refusal by the rule");
}
