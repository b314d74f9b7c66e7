//! Recordings: convert, signed links, an agent session's tags and dispositions, agent calls without the PBX.

use super::*;

/// Catalogues a one-second 8 kHz WAV recording made on 2026-11-22 (Montevideo) and answers its
/// guid.
fn catalogued_recording(f: &Fixture) -> crate::core::recordings::Guid {
    catalogued_recording_of(f, None)
}

/// [`catalogued_recording`], of a call `agent` (an agent number) took.
fn catalogued_recording_of(f: &Fixture, agent: Option<&str>) -> crate::core::recordings::Guid {
    use crate::core::recordings::{Recording, RecordingFormat, RecordingId, SafeRelativePath};
    use crate::core::UniqueId;
    let dir = f.config.node[0].recordings_dir.join("20261122");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.join("pbx1-1.1.wav"), spec).unwrap();
    for i in 0..8000 {
        let s = (f64::from(i) * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0;
        w.write_sample(s as i16).unwrap();
    }
    w.finalize().unwrap();
    let guid = crate::core::recordings::Guid::derive("pbx1-1.1");
    let rec = Recording {
        id: RecordingId::parse("pbx1-1.1").unwrap(),
        relative_path: SafeRelativePath::parse("20261122/pbx1-1.1.wav").unwrap(),
        uniqueid: Some(UniqueId::new("pbx1-1.1")),
        linkedid: Some(UniqueId::new("pbx1-1.1")),
        guid: guid.clone(),
        idcti: None,
        cdr_rowid: None,
        answered: true,
        agent: agent.map(str::to_owned),
        queue: None,
        duration: Duration::from_secs(1),
        format: RecordingFormat::Wav,
        size: 16_044,
        tags: Vec::new(),
        // 2026-11-22 12:00 in Montevideo (UTC-3).
        created: UnixTime(1_795_359_600),
        imported_from: None,
    };
    f.services.recordings.store().upsert(&rec).unwrap();
    guid
}

#[tokio::test]
async fn convert_reads_the_portuguese_pasta() {
    // The Portuguese document names the day folder `pasta`; it used to be ignored, so a wrong
    // day was converted anyway.
    let f = fixture();
    let r = &f.router;
    let ana = login(r, "ana").await;
    // The call is ana's: her own session may convert it.
    let guid = catalogued_recording_of(&f, Some("2307"));
    for (body, want) in [
        (format!("guid={guid}&pasta=20261123"), "0"),
        (format!("guid={guid}&folder=20261123"), "0"),
        (format!("guid={guid}&pasta=20261122"), "1"),
        (format!("guid={guid}&folder=&pasta=20261122"), "1"),
        (format!("guid={guid}"), "1"),
    ] {
        let (status, answer) = post(r, "Supervisor/convert", Some(&ana), &body).await;
        assert_eq!((status, answer.as_str()), (StatusCode::OK, want), "{body}");
    }
}

#[tokio::test]
async fn agent_call_and_hangup_answer_0_when_the_pbx_is_not_connected() {
    // The fixture has no PBX: these answered HTTP 503 before; the document knows only `0`.
    let f = fixture();
    let r = &f.router;
    let ana = login(r, "ana").await;
    for (op, body) in [
        (
            "Agents/AgentCall",
            "callerid=&agent=ana&phone=1007&tech=SIP&context=x&outqueue=Cobranza-%3E&destination=5551234",
        ),
        (
            "Agents/AgentCallwithData",
            "agent=ana&phone=1007&outqueue=Cobranza-%3E&destination=5551234&data=a%3D1",
        ),
        ("Agents/HangupPhone", "phone=1007"),
        ("Agents/HungupPhone", "phone=1007"),
    ] {
        assert_eq!(
            post(r, op, Some(&ana), body).await,
            (StatusCode::OK, "0".to_owned()),
            "{op}"
        );
    }
}

async fn get_file(r: &Router, uri: &str, auth: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut req = Request::get(uri);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = r
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let mime = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap()
        .to_vec();
    (status, mime, body)
}

#[tokio::test]
async fn signed_links_play_without_authorization_until_they_expire() {
    // Before, every recording file needed `Authorization`, which an `<audio src>` cannot send,
    // and `.gsm` was not served.
    let f = fixture();
    let r = &f.router;
    let guid = catalogued_recording(&f);
    let now = UnixTime::now();
    let link = f.services.record_links.issue(&guid, now);
    let q = link.query();
    for (uri, mime) in [
        (format!("/records/{guid}.mp3?{q}"), "audio/mpeg"),
        (format!("/records/20261122/{guid}.mp3?{q}"), "audio/mpeg"),
        (format!("/records/{guid}.gsm?{q}"), "audio/x-gsm"),
    ] {
        let (status, got, body) = get_file(r, &uri, None).await;
        assert_eq!((status, got.as_str()), (StatusCode::OK, mime), "{uri}");
        assert!(body.len() > 1000, "{uri}: {} bytes", body.len());
        if mime == "audio/x-gsm" {
            // One second: 50 frames of 33 bytes.
            assert_eq!(body.len(), 50 * 33);
        }
    }
    // A supervisor's session token opens `.gsm` too; an agent's own session only its own calls.
    let sup = login(r, "sup").await;
    let (status, mime, _) = get_file(r, &format!("/records/{guid}.gsm"), Some(&sup)).await;
    assert_eq!((status, mime.as_str()), (StatusCode::OK, "audio/x-gsm"));
    let ana = login(r, "ana").await;
    let (status, _, _) = get_file(r, &format!("/records/{guid}.gsm"), Some(&ana)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not ana's call");
    // Tampered, for another recording, expired, half a link: 403, whatever Authorization says.
    let other = crate::core::recordings::Guid::derive("pbx1-9.9");
    let expired = f
        .services
        .record_links
        .issue(&guid, UnixTime(now.seconds() - 7200));
    let mut sig = link.sig.clone().into_bytes();
    sig[0] = if sig[0] == b'a' { b'b' } else { b'a' };
    let sig = String::from_utf8(sig).unwrap();
    for uri in [
        format!(
            "/records/{guid}.mp3?expires={}&sig={sig}",
            link.expires.seconds()
        ),
        format!(
            "/records/{guid}.mp3?expires={}&sig={}",
            link.expires.seconds() + 3600,
            link.sig
        ),
        format!("/records/{other}.mp3?{q}"),
        format!("/records/{guid}.mp3?{}", expired.query()),
        format!("/records/{guid}.mp3?sig={}", link.sig),
        format!("/records/{guid}.mp3?expires={}", link.expires.seconds()),
        format!("/records/{guid}.wav?{q}"),
    ] {
        let (status, _, body) = get_file(r, &uri, Some(&ana)).await;
        assert_eq!(
            (status, String::from_utf8_lossy(&body).as_ref()),
            (StatusCode::FORBIDDEN, "Forbidden"),
            "{uri}"
        );
    }
    // A link for the right recording in the wrong day folder: not found.
    let (status, _, _) = get_file(r, &format!("/records/20261123/{guid}.mp3?{q}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_agent_session_converts_tags_and_dispositions_its_own_calls_only() {
    // Before, an agent's session converted and tagged any recording and dispositioned calls in
    // any agent's name.
    let f = fixture();
    let r = &f.router;
    let ana = login(r, "ana").await;
    let sup = login(r, "sup").await;
    // Not ana's call: her session may neither convert nor tag it; a supervisor may.
    let guid = catalogued_recording(&f);
    let body = format!("guid={guid}");
    assert_eq!(
        post(r, "Supervisor/convert", Some(&ana), &body).await,
        (StatusCode::OK, "0".to_owned())
    );
    assert_eq!(
        post(r, "Supervisor/convert", Some(&sup), &body).await,
        (StatusCode::OK, "1".to_owned())
    );
    let tags = || {
        f.services
            .recordings
            .find(&RecordingKey::Guid(guid.to_string()))
            .unwrap()
            .tags
    };
    post(
        r,
        "Agents/TagRecord",
        Some(&ana),
        &format!("phone=1007&guid={guid}&data=ana"),
    )
    .await;
    assert!(
        tags().is_empty(),
        "ana tagged another agent's call: {:?}",
        tags()
    );
    post(
        r,
        "Agents/TagRecord",
        Some(&sup),
        &format!("phone=1007&guid={guid}&data=sup"),
    )
    .await;
    assert_eq!(tags(), vec!["sup".to_owned()]);
    // In another agent's name: 403, nothing stored; in her own name (user or number): done.
    let disposition = |agent: &str| {
        format!("campaign=Cobranza-%3E&agent={agent}&callerid=5551003&guid=g-{agent}&l1=Venta")
    };
    assert_eq!(
        post(r, "api/DispositionCall", Some(&ana), &disposition("sup"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    for agent in ["ana", "2307"] {
        let (status, answer) =
            post(r, "api/DispositionCall", Some(&ana), &disposition(agent)).await;
        assert_eq!(status, StatusCode::OK, "{agent}: {answer}");
        assert!(answer.contains("V01"), "{agent}: {answer}");
    }
    assert_eq!(
        post(r, "api/DispositionCall", Some(&sup), &disposition("ana"))
            .await
            .0,
        StatusCode::OK
    );
}
