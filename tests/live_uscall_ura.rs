//! Live tier: USCall's dynamic IVRs through PHP SoapClient built from the served WSDL
//! (`tests/clients/uscall/call.php`). A flow is added with `centralita admin ivr add --file`
//! (the JSON form of `docs/ivr.md`) and routed to a DID, and `listURA` shows it with its
//! prompts, timeouts, retries and digit destinations; IVR CDR events written through the store
//! (as the runtime journals them, one replayed) are read back with `cdrURA` by date, by URA and
//! by idunico/idcti, and with `admin ivr events`.

#![cfg(feature = "live-lab")]

mod live_support;

use std::time::Duration;

use centralita::core::ivr::{FlowId, IvrCallId, IvrCallInfo, IvrJournal, IvrRecord, NodeId};
use centralita::core::UnixTime;
use centralita::store::SqliteIvr;
use serde_json::Value;

use live_support::{repo, uscall_php, wait_health, Engine, Scratch};

const PATH: &str = "/aplicativos/webservice/wsuscall.php";

fn record(call: &str, seq: u32, at: i64, node: &str, event: &str) -> IvrRecord {
    let info = IvrCallInfo {
        ddr: "2800".into(),
        origem: "1139952800".into(),
        tronco: "carrier".into(),
        idcti: "crm-4711".into(),
    };
    IvrRecord {
        node: Some(NodeId::new(node).unwrap()),
        event: event.into(),
        ..IvrRecord::new(
            IvrCallId::new(call).unwrap(),
            seq,
            UnixTime(at),
            FlowId::new("vendas").unwrap(),
            info,
        )
    }
}

#[test]
fn list_ura_and_cdr_ura_through_php_soapclient() {
    let scratch = Scratch::new("uscall-ura");
    let engine = Engine::start(scratch.path(), "1");
    wait_health(&engine, Duration::from_secs(30), "the engine", |code, _| {
        code == "200"
    });
    let flow_file = repo().join("docs/ivr_flow_example.json");
    let out = engine.admin(&["ivr", "add", "--file", flow_file.to_str().unwrap()], "");
    assert!(out.contains("flow vendas saved (8 nodes"), "{out}");
    engine.admin(&["ivr", "route", "2800", "vendas"], "");
    assert_eq!(engine.admin(&["ivr", "routes"], ""), "2800\tvendas\n");

    let wsdl = format!("{}{PATH}?wsdl", engine.base_url());
    let token = engine.api_key("uscall", "CRM");

    let v = uscall_php(&wsdl, "listURA", &[&token, "vendas"]);
    assert_eq!(v["status"], "ok", "{v}");
    let ura = &v["retorno"][0];
    assert_eq!(ura["id"], "vendas");
    assert_eq!(ura["nome"], "Vendas");
    let menu = &ura["fluxos"][0];
    assert_eq!(menu["fluxo"], "menu");
    assert_eq!(menu["audio"]["tipo"], "texto");
    assert!(menu["audio"]["texto"]
        .as_str()
        .unwrap()
        .contains("{CTI_INFO1}"));
    assert_eq!(menu["Timeout"], 5);
    assert_eq!(menu["repetir"], 2);
    assert_eq!(menu["destino_invalido"], "fluxo:tchau");
    assert_eq!(menu["tipo_fluxo"], "dtmf");
    assert_eq!(menu["palavras"][0]["palavra"], "1");
    assert_eq!(menu["palavras"][1]["destino"], "destino:1005");
    // All URAs with idura absent; the documented errors otherwise.
    let all = uscall_php(&wsdl, "listURA", &[&token, "-"]);
    assert_eq!(all["retorno"].as_array().unwrap().len(), 1);
    assert_eq!(
        uscall_php(&wsdl, "listURA", &[&token, "outra"])["codigo"],
        "nao_encontrado"
    );
    assert_eq!(
        uscall_php(&wsdl, "listURA", &["nope", "vendas"])["codigo"],
        "token_invalido"
    );

    // The IVR CDR as the runtime writes it (the last event replayed after a restart).
    let now = UnixTime::now().0;
    let journal = SqliteIvr::open(&scratch.store()).unwrap();
    let mut digits = record("1765000000.7", 2, now - 15, "menu", "digitos");
    digits.digits = "2".into();
    digits.matched = "2".into();
    let mut end = record("1765000000.7", 3, now - 12, "suporte", "fim");
    end.destination = "destino:1005".into();
    end.status = "transferencia".into();
    for r in [
        record("1765000000.7", 1, now - 20, "menu", "entrada"),
        digits,
        end.clone(),
        end,
    ] {
        journal.record(&r).unwrap();
    }

    for args in [
        vec![token.as_str(), "-", "-", "-", "-"],
        vec![token.as_str(), "-", "-", "vendas", "-"],
        vec![token.as_str(), "-", "-", "-", "1765000000.7"],
        vec![token.as_str(), "-", "-", "-", "crm-4711"],
    ] {
        let v = uscall_php(&wsdl, "cdrURA", &args);
        assert_eq!(v["status"], "ok", "{args:?}: {v}");
        let rows = v["retorno"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{args:?}: {v}");
        let row = &rows[0];
        assert_eq!(row["bilheteunico"], "1765000000.7");
        assert_eq!(row["ura"], "vendas");
        assert_eq!(row["ddr"], "2800");
        assert_eq!(row["origem"], "1139952800");
        assert_eq!(row["tronco"], "carrier");
        assert_eq!(row["idcti"], "crm-4711");
        assert_eq!(row["fluxo"], "suporte");
        assert_eq!(row["palavra_origem"], "2");
        assert_eq!(row["palavra_dest"], "2");
        assert_eq!(row["destino"], "destino:1005");
        assert_eq!(row["evento"], "fim");
        assert_eq!(row["status"], "transferencia");
        assert_eq!(row["duracao"], "00:00:08");
        assert_eq!(row["eventos"].as_array().unwrap().len(), 3);
    }
    let v = uscall_php(
        &wsdl,
        "cdrURA",
        &[
            &token,
            "2001-01-01 00:00:00",
            "2001-01-01 23:59:59",
            "-",
            "-",
        ],
    );
    assert_eq!(v["retorno"], Value::Array(vec![]));
    let v = uscall_php(&wsdl, "cdrURA", &[&token, "ontem", "-", "-", "-"]);
    assert_eq!(v["codigo"], "parametro_invalido");

    let events = engine.admin(&["ivr", "events", "--call", "1765000000.7"], "");
    let kinds: Vec<&str> = events
        .lines()
        .map(|l| l.split('\t').nth(4).unwrap())
        .collect();
    assert_eq!(kinds, ["entrada", "digitos", "fim"]);
}
