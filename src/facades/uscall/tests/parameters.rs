//! Every operation's parameters: the answer when missing and when invalid.

use super::*;

#[tokio::test]
async fn every_parameter_has_its_missing_and_invalid_answer() {
    let f = fixture();
    let md5 = md5_hex(b"segredo");
    let wrong = md5_hex(b"errada");
    let long = "9".repeat(129);
    let cases: Vec<(&str, Vec<Option<&str>>, &str)> = vec![
        // startCall(tipo, origem, destino, categoria, idcti)
        (
            "startCall",
            vec![None, Some("1004"), Some("5551010"), Some("1")],
            "parametro_obrigatorio",
        ),
        (
            "startCall",
            vec![Some("outbound"), None, Some("5551010"), Some("1")],
            "parametro_obrigatorio",
        ),
        (
            "startCall",
            vec![Some("outbound"), Some("1004"), None, Some("1")],
            "parametro_obrigatorio",
        ),
        (
            "startCall",
            vec![Some("outbound"), Some("1004"), Some("5551010"), None],
            "parametro_obrigatorio",
        ),
        (
            "startCall",
            vec![Some("fax"), Some("1004"), Some("5551010"), Some("1")],
            "parametro_invalido",
        ),
        (
            "startCall",
            vec![Some("outbound"), Some("1004"), Some("5551010"), Some("9")],
            "nao_encontrado",
        ),
        (
            "startCall",
            vec![Some("outbound"), Some("10a4"), Some("5551010"), Some("1")],
            "parametro_invalido",
        ),
        (
            "startCall",
            vec![Some("outbound"), Some("1004"), Some("5552010"), Some("1")],
            "regra_discagem",
        ),
        (
            "startCall",
            vec![Some("outbound"), Some("1004"), Some("5551010&x"), Some("1")],
            "regra_discagem",
        ),
        (
            "startCall",
            vec![Some("clicktocall"), Some("99"), Some("26002000"), Some("1")],
            "regra_discagem",
        ),
        (
            "startCall",
            vec![
                Some("clicktocall"),
                Some("5551010"),
                Some("26009999"),
                Some("1"),
            ],
            "nao_encontrado",
        ),
        (
            "startCall",
            vec![
                Some("clicktocall"),
                Some("5551010"),
                Some("2600x"),
                Some("1"),
            ],
            "parametro_invalido",
        ),
        (
            "startCall",
            vec![
                Some("outbound"),
                Some("1004"),
                Some("5551010"),
                Some("1"),
                Some("a,b=c"),
            ],
            "parametro_invalido",
        ),
        // cdrSearch(dataini, datafin, origem, destino, idunico)
        ("cdrSearch", vec![Some("ontem")], "parametro_invalido"),
        (
            "cdrSearch",
            vec![None, Some("2026-02-30 00:00:00")],
            "parametro_invalido",
        ),
        (
            "cdrSearch",
            vec![Some("2026-11-22 10:00:00"), Some("2026-11-22 09:00:00")],
            "parametro_invalido",
        ),
        (
            "cdrSearch",
            vec![None, None, None, None, Some(&long)],
            "parametro_invalido",
        ),
        ("audioDownload", vec![Some(&long)], "parametro_invalido"),
        (
            "cdrSearch",
            vec![None, None, Some(&long)],
            "parametro_invalido",
        ),
        (
            "cdrSearch",
            vec![None, None, None, Some(&long)],
            "parametro_invalido",
        ),
        (
            "monitExten",
            vec![Some("1100"), Some("10x4")],
            "parametro_invalido",
        ),
        (
            "monitExten",
            vec![Some("1100"), Some("22 04"), Some("yes")],
            "parametro_invalido",
        ),
        (
            "hangupCall",
            vec![Some("22/04"), Some("yes")],
            "parametro_invalido",
        ),
        ("ccenterCdr", vec![Some("x")], "parametro_invalido"),
        (
            "ccenterCdr",
            vec![None, None, Some("a b")],
            "parametro_invalido",
        ),
        (
            "ccenterCdr",
            vec![None, None, None, Some("q x")],
            "parametro_invalido",
        ),
        (
            "ccenterAgents",
            vec![None, None, None, Some("x")],
            "parametro_invalido",
        ),
        (
            "ccenterPauses",
            vec![None, Some("a b")],
            "parametro_invalido",
        ),
        (
            "ccenterPauses",
            vec![None, None, None, None, Some("x")],
            "parametro_invalido",
        ),
        (
            "ccenterSessions",
            vec![None, None, Some("q x")],
            "parametro_invalido",
        ),
        (
            "ccenterMetrics",
            vec![Some("filas"), Some("a b")],
            "parametro_invalido",
        ),
        (
            "ccenterMetrics",
            vec![Some("filas"), None, None, Some("x")],
            "parametro_invalido",
        ),
        // audioDownload(idunico, formato)
        ("audioDownload", vec![None], "parametro_obrigatorio"),
        (
            "audioDownload",
            vec![Some("x"), Some("flac")],
            "parametro_invalido",
        ),
        ("audioDownload", vec![Some("nao-existe")], "nao_encontrado"),
        // agentLogin(agente, ramal, senhamd5, filachave)
        (
            "agentLogin",
            vec![None, Some("1004"), Some(&md5)],
            "parametro_obrigatorio",
        ),
        (
            "agentLogin",
            vec![Some("2204"), None, Some(&md5)],
            "parametro_obrigatorio",
        ),
        (
            "agentLogin",
            vec![Some("2204"), Some("1004"), None],
            "parametro_obrigatorio",
        ),
        (
            "agentLogin",
            vec![Some("22 04"), Some("1004"), Some(&md5)],
            "parametro_invalido",
        ),
        (
            "agentLogin",
            vec![Some("2204"), Some("ramal"), Some(&md5)],
            "parametro_invalido",
        ),
        (
            "agentLogin",
            vec![Some("2204"), Some("1004"), Some("segredo")],
            "parametro_invalido",
        ),
        (
            "agentLogin",
            vec![Some("2204"), Some("1004"), Some(&md5), Some("fila x")],
            "parametro_invalido",
        ),
        (
            "agentLogin",
            vec![Some("2299"), Some("1004"), Some(&md5)],
            "nao_encontrado",
        ),
        (
            "agentLogin",
            vec![Some("2204"), Some("1004"), Some(&wrong)],
            "senha_invalida",
        ),
        // agentLogout(agente), agentStatus(agente)
        ("agentLogout", vec![None], "parametro_obrigatorio"),
        ("agentLogout", vec![Some("a/b")], "parametro_invalido"),
        ("agentLogout", vec![Some("2299")], "nao_encontrado"),
        ("agentStatus", vec![Some("a/b")], "parametro_invalido"),
        ("agentStatus", vec![Some("2299")], "nao_encontrado"),
        // startPause(agente, idpausa), endPause(agente)
        (
            "startPause",
            vec![None, Some("almoco")],
            "parametro_obrigatorio",
        ),
        (
            "startPause",
            vec![Some("2204"), None],
            "parametro_obrigatorio",
        ),
        (
            "startPause",
            vec![Some("2204"), Some("al moco")],
            "parametro_invalido",
        ),
        (
            "startPause",
            vec![Some("2204"), Some("cafe")],
            "nao_encontrado",
        ),
        ("endPause", vec![None], "parametro_obrigatorio"),
        ("endPause", vec![Some("2 2")], "parametro_invalido"),
        // hangupCall(ramal, agente)
        ("hangupCall", vec![None], "parametro_obrigatorio"),
        (
            "hangupCall",
            vec![Some("1004"), Some("talvez")],
            "parametro_invalido",
        ),
        ("hangupCall", vec![Some("PJSIP/1004")], "parametro_invalido"),
        // monitExten(srcramal, dstramal, agente, tipo)
        (
            "monitExten",
            vec![None, Some("1004")],
            "parametro_obrigatorio",
        ),
        (
            "monitExten",
            vec![Some("1100"), None],
            "parametro_obrigatorio",
        ),
        (
            "monitExten",
            vec![Some("1100"), Some("1004"), None, Some("grito")],
            "parametro_invalido",
        ),
        (
            "monitExten",
            vec![Some("1100"), Some("1004"), Some("x")],
            "parametro_invalido",
        ),
        (
            "monitExten",
            vec![Some("11;00"), Some("1004")],
            "parametro_invalido",
        ),
        // getExtens(ramal), extenStatus(tipo, ramal), getQueue(fila), queueStatus(fila)
        ("getExtens", vec![Some("1004'")], "parametro_invalido"),
        ("extenStatus", vec![Some("fax")], "parametro_invalido"),
        ("extenStatus", vec![None, Some("x")], "parametro_invalido"),
        ("getQueue", vec![Some("q soporte")], "parametro_invalido"),
        ("queueStatus", vec![Some("q;x")], "parametro_invalido"),
        // cdrTariff(dataini, datafin)
        (
            "cdrTariff",
            vec![Some("2026-11-22T00:00")],
            "parametro_invalido",
        ),
        (
            "cdrTariff",
            vec![None, Some("amanhã")],
            "parametro_invalido",
        ),
        // ccenter*
        ("ccenterAgents", vec![Some("a b")], "parametro_invalido"),
        (
            "ccenterAgents",
            vec![None, Some("q_soporte,q x")],
            "parametro_invalido",
        ),
        (
            "ccenterAgents",
            vec![None, None, Some("x")],
            "parametro_invalido",
        ),
        ("ccenterCdr", vec![None, Some("x")], "parametro_invalido"),
        ("ccenterPauses", vec![Some("tudo")], "parametro_invalido"),
        ("ccenterSessions", vec![Some("tudo")], "parametro_invalido"),
        (
            "ccenterSessions",
            vec![None, None, None, Some("x")],
            "parametro_invalido",
        ),
        ("ccenterMetrics", vec![None], "parametro_obrigatorio"),
        ("ccenterMetrics", vec![Some("vendas")], "parametro_invalido"),
    ];
    for (op, args, code) in cases {
        let v = call(&f, op, &args).await;
        assert_eq!(v["status"], "erro", "{op} {args:?}: {v}");
        assert_eq!(v["codigo"], code, "{op} {args:?}: {v}");
        assert!(!v["retorno"].as_str().unwrap_or("").is_empty());
    }
}
