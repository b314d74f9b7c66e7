//! Live tier: an upload accepted by uContact's `Dialers/uploadbase` survives a SIGKILL of the
//! engine right after its `1`: the job and its file are in the store at the kill, the restarted
//! engine resumes it, and `Dialers/uploadstatus` ends `done` with every contact of the file
//! imported once (none twice), the file deleted. Under 60 s.

#![cfg(feature = "live-lab")]

mod live_support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use base64::Engine as _;
use live_support::rest::{create_campaign, healthy_engine};
use live_support::*;

const CAMPAIGN: &str = "Subida->";
const LINES: u64 = 150_000;

/// `application/x-www-form-urlencoded` of one value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `POST /Integra/resources/<op>` with `Bearer key` and a form body: `(status, body)`.
fn post(addr: &str, op: &str, key: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST /Integra/resources/{op} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n\
         Authorization: Bearer {key}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, text.split_once("\r\n\r\n").unwrap().1.to_owned())
}

fn count(db: &rusqlite::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn an_upload_answered_1_survives_a_sigkill_and_is_resumed() {
    let scratch = Scratch::new("live-ucontact-upload-restart");
    let mut engine = healthy_engine(scratch.path(), "before-kill", "");
    create_campaign(&engine, CAMPAIGN);
    let key = engine.api_key("ucontact", "upload restart");
    let file: String = (0..LINES)
        .map(|k| {
            format!(
                "{CAMPAIGN};2{k:07};id={k}:n=Cliente {k};3{k:07};{};\n",
                k % 10 + 1
            )
        })
        .collect();
    let body = format!(
        "filename=grande.txt&fileb64={}&campaign={}&cant={LINES}&username=sup",
        enc(&base64::engine::general_purpose::STANDARD.encode(&file)),
        enc(CAMPAIGN)
    );
    let status = format!("campaign={}&filename=grande.txt", enc(CAMPAIGN));
    // The key's first use (Argon2id) before the upload, so the kill follows the answer closely.
    assert_eq!(
        post(&engine.addr(), "Dialers/uploadstatus", &key, &status),
        (200, "0".into())
    );
    assert_eq!(
        post(&engine.addr(), "Dialers/uploadbase", &key, &body),
        (200, "1".into())
    );
    engine.kill9();

    let db = rusqlite::Connection::open(scratch.store()).unwrap();
    let (state, lines): (String, i64) = db
        .query_row(
            "SELECT state, lines_read FROM dialer_upload WHERE filename = 'grande.txt'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    eprintln!("at the kill: {state}, {lines} lines done");
    let interrupted = state != "done";
    if interrupted {
        assert_eq!(
            count(&db, "SELECT count(*) FROM dialer_upload_file"),
            1,
            "the file is kept"
        );
    }

    let engine = healthy_engine(scratch.path(), "after-kill", "");
    let deadline = Instant::now() + Duration::from_secs(60);
    let v = loop {
        let (code, text) = post(&engine.addr(), "Dialers/uploadstatus", &key, &status);
        assert_eq!(code, 200, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if v["done"] == true {
            break v;
        }
        assert!(Instant::now() < deadline, "the upload never ended: {v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(v["failed"], false, "{v}");
    assert_eq!(
        (&v["read"], &v["imported"], &v["duplicates"]),
        (&LINES.into(), &LINES.into(), &0.into()),
        "{v}"
    );
    if interrupted {
        assert!(
            engine.log_text().contains("dialer: upload resumed"),
            "the restart resumed it"
        );
    }
    let contacts = count(
        &db,
        "SELECT count(*) FROM dialer_contact k JOIN dialer_campaign c ON c.id = k.campaign_id \
         WHERE c.name = 'Subida->'",
    );
    let distinct = count(&db, "SELECT count(DISTINCT main) FROM dialer_contact");
    assert_eq!((contacts, distinct), (LINES as i64, LINES as i64));
    assert_eq!(
        count(&db, "SELECT count(*) FROM dialer_upload_file"),
        0,
        "the file is deleted"
    );
}
