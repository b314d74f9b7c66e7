//! listURA and cdrURA over stored flows and IVR CDR events, through real SOAP envelopes.

use super::*;
use crate::core::ivr::{FlowId, IvrCallId, IvrCallInfo, IvrRecord, NodeId};

const FLOW: &str = include_str!("../../../../docs/ivr_flow_example.json");

fn store_flow(f: &Fixture) {
    let flow = crate::ivr_json::decode(FLOW).unwrap();
    f.services.ivr.store().put_flow(&flow).unwrap();
}

fn event(call: &str, seq: u32, at: i64, node: &str, event: &str) -> IvrRecord {
    let info = IvrCallInfo {
        ddr: "26002000".into(),
        origem: "5551234".into(),
        tronco: "carrier".into(),
        idcti: "crm-77".into(),
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

#[tokio::test]
async fn list_ura_shows_each_prompt_with_its_timeout_retries_and_destinations() {
    let f = fixture();
    let v = call(&f, "listURA", &[]).await;
    assert_eq!(v["retorno"], json!([]));
    store_flow(&f);
    for args in [&[][..], &[Some("vendas")][..]] {
        let v = call(&f, "listURA", args).await;
        assert_eq!(v["status"], "ok", "{v}");
        let ura = &v["retorno"][0];
        assert_eq!(ura["id"], "vendas");
        assert_eq!(ura["nome"], "Vendas");
        assert_eq!(ura["descricao"], "Menu de vendas");
        let menu = &ura["fluxos"][0];
        assert_eq!(menu["fluxo"], "menu");
        assert_eq!(menu["descricao"], "Menu principal");
        assert_eq!(menu["audio"]["tipo"], "texto");
        assert_eq!(
            menu["audio"]["texto"],
            "Olá {CTI_INFO1}. Digite 1 para vendas, 2 para suporte."
        );
        assert_eq!(menu["Timeout"], 5);
        assert_eq!(menu["repetir"], 2);
        assert_eq!(menu["destino_invalido"], "fluxo:tchau");
        assert_eq!(menu["tipo_fluxo"], "dtmf");
        assert_eq!(
            menu["palavras"],
            json!([
                {"palavra": "1", "destino": "fluxo:vip"},
                {"palavra": "2", "destino": "destino:1005"},
            ])
        );
        let tchau = &ura["fluxos"][1];
        assert_eq!(
            tchau["audio"],
            json!({"tipo": "arquivo", "arquivo": "custom/tchau"})
        );
        assert_eq!(
            tchau["palavras"],
            json!([{"palavra": "*", "destino": "desligar"}])
        );
        assert_eq!(ura["fluxos"].as_array().unwrap().len(), 2);
    }
    let v = call(&f, "listURA", &[Some("outra")]).await;
    assert_eq!(v["codigo"], "nao_encontrado");
    assert_eq!(v["retorno"], "URA outra não encontrada");
    let v = call(&f, "listURA", &[Some("../x")]).await;
    assert_eq!(v["codigo"], "parametro_invalido");
    let v = call_named(&f, "listURA", "token", &[("idura", Some("vendas"))]).await;
    assert_eq!(v["retorno"][0]["id"], "vendas");
}

#[tokio::test]
async fn cdr_ura_answers_one_row_per_call_with_its_path() {
    let f = fixture();
    store_flow(&f);
    let now = UnixTime::now().0;
    let journal = f.services.ivr.store();
    let mut digits = event("1700.1", 3, now - 20, "menu", "digitos");
    digits.digits = "1".into();
    digits.matched = "1".into();
    let mut left = event("1700.1", 4, now - 20, "menu", "saida");
    left.destination = "vip".into();
    let mut end = event("1700.1", 5, now - 10, "vendas", "fim");
    end.destination = "fila:q_ventas".into();
    end.status = "fila".into();
    for r in [
        event("1700.1", 1, now - 30, "menu", "entrada"),
        event("1700.1", 2, now - 30, "menu", "entrada"),
        digits,
        left,
        end.clone(),
        end,
    ] {
        journal.record(&r).unwrap();
    }
    let mut other = event("1700.2", 1, now - 5, "menu", "entrada");
    other.info.idcti = "crm-78".into();
    journal.record(&other).unwrap();

    let v = call(&f, "cdrURA", &[]).await;
    assert_eq!(v["status"], "ok", "{v}");
    let rows = v["retorno"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let row = &rows[0];
    assert_eq!(row["bilheteunico"], "1700.1");
    assert_eq!(row["ura"], "vendas");
    assert_eq!(row["ddr"], "26002000");
    assert_eq!(row["origem"], "5551234");
    assert_eq!(row["tronco"], "carrier");
    assert_eq!(row["idcti"], "crm-77");
    assert_eq!(row["destino"], "fila:q_ventas");
    assert_eq!(row["duracao"], "00:00:20");
    assert_eq!(row["fluxo"], "vendas");
    assert_eq!(row["palavra_origem"], "1");
    assert_eq!(row["palavra_dest"], "1");
    assert_eq!(row["evento"], "fim");
    assert_eq!(row["status"], "fila");
    // The replayed end is kept once.
    let eventos = row["eventos"].as_array().unwrap();
    assert_eq!(
        eventos
            .iter()
            .map(|e| e["evento"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["entrada", "entrada", "digitos", "saida", "fim"]
    );
    assert_eq!(rows[1]["status"], "em_andamento");

    for idunico in ["1700.2", "crm-78"] {
        let v = call(&f, "cdrURA", &[None, None, None, Some(idunico)]).await;
        let rows = v["retorno"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{idunico}");
        assert_eq!(rows[0]["bilheteunico"], "1700.2");
    }
    let v = call(&f, "cdrURA", &[None, None, Some("vendas"), None]).await;
    assert_eq!(v["retorno"].as_array().unwrap().len(), 2);
    let v = call(
        &f,
        "cdrURA",
        &[Some("2001-01-01 00:00:00"), Some("2001-01-01 23:59:59")],
    )
    .await;
    assert_eq!(v["retorno"], json!([]));
    let v = call(&f, "cdrURA", &[None, None, Some("outra"), None]).await;
    assert_eq!(v["codigo"], "nao_encontrado");
    let v = call(&f, "cdrURA", &[Some("ontem")]).await;
    assert_eq!(v["codigo"], "parametro_invalido");
    let v = call(&f, "cdrURA", &[None, None, None, Some("a b")]).await;
    assert_eq!(v["codigo"], "parametro_invalido");
}
