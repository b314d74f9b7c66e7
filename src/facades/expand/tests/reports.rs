//! Report operations: their parameters and the documented codes.

use super::*;

#[tokio::test]
async fn report_parameters_get_their_documented_codes() {
    let f = fixture();
    let k = f.key.as_str();
    let times = |from: &'static str, to: &'static str, agent: &'static str, queue: &'static str| {
        [
            ("authorizedKey", k.to_owned()),
            ("inicio", from.to_owned()),
            ("fin", to.to_owned()),
            ("agente", agent.to_owned()),
            ("cola", queue.to_owned()),
        ]
    };
    let call = |args: [(&'static str, String); 5]| {
        let f = &f;
        async move {
            let a: Vec<(&str, &str)> = args.iter().map(|(n, v)| (*n, v.as_str())).collect();
            f.call("getAgentTimes", &a).await
        }
    };
    let d1 = "2026-01-01 00:00:00";
    let d2 = "2026-01-02 00:00:00";
    assert_eq!(call(times("2026-01-01", d2, "", "")).await, "-4");
    assert_eq!(call(times(d1, "mañana", "", "")).await, "-5");
    assert_eq!(call(times(d1, "", "", "")).await, "-5");
    assert_eq!(call(times(d2, d1, "", "")).await, "-8");
    assert_eq!(
        call(times(d1, "2026-06-01 00:00:00", "", "")).await,
        "-8",
        "longer than max_report_days"
    );
    assert_eq!(
        call(times("2099-01-01 00:00:00", "2099-01-02 00:00:00", "", "")).await,
        "-9"
    );
    assert_eq!(call(times(d1, d2, "", "q_nada")).await, "-6");
    assert_eq!(call(times(d1, d2, "nadie", "")).await, "-7");
    assert_eq!(call(times(d1, d2, "a<b", "")).await, "-2");
    assert_eq!(call(times(d1, d2, "", "q ventas")).await, "-2");
    assert_eq!(call(times(d1, d2, "ana", "q_ventas")).await, "-10");

    let detail = |from: &str, to: &str, user: &str, queue: &str| {
        [
            ("authorizedKey", k.to_owned()),
            ("inicio", from.to_owned()),
            ("fin", to.to_owned()),
            ("userID", user.to_owned()),
            ("cola", queue.to_owned()),
        ]
    };
    let dcall = |args: [(&'static str, String); 5]| {
        let f = &f;
        async move {
            let a: Vec<(&str, &str)> = args.iter().map(|(n, v)| (*n, v.as_str())).collect();
            f.call("agentSessionDetail", &a).await
        }
    };
    assert_eq!(dcall(detail("x", d2, "", "")).await, "-3");
    assert_eq!(dcall(detail(d1, "x", "", "")).await, "-4");
    assert_eq!(dcall(detail(d2, d1, "", "")).await, "-4");
    assert_eq!(dcall(detail(d1, d2, "", "q_nada")).await, "-5");
    assert_eq!(dcall(detail(d1, d2, "nadie", "")).await, "-6");
    assert_eq!(dcall(detail(d1, d2, "a<b", "")).await, "-2");
    let empty = dcall(detail(d1, d2, "ana", "")).await;
    assert!(empty.contains("<agents>\n</agents>"), "{empty}");

    assert_eq!(
        f.call("getAgentLogin", &[("authorizedKey", k), ("extensions", "")])
            .await,
        "-4"
    );
    let many = vec!["1001"; MAX_EXTENSIONS + 1].join(",");
    assert_eq!(
        f.call(
            "getAgentLogin",
            &[("authorizedKey", k), ("extensions", &many)]
        )
        .await,
        "-2"
    );
    // Without the PBX the live state is unknown: "error desconocido".
    assert_eq!(
        f.call(
            "getAgentLogin",
            &[("authorizedKey", k), ("extensions", "1001")]
        )
        .await,
        "-3"
    );
    assert_eq!(
        f.call(
            "getAgentLoggedInfo",
            &[("authorizedKey", k), ("username", "ana")]
        )
        .await,
        "-3"
    );
    assert_eq!(
        f.call(
            "cdrCustom",
            &[("authorizedKey", k), ("inicio", d1), ("fin", "x")]
        )
        .await,
        "-5"
    );
    let none = f
        .call(
            "cdrData",
            &[
                ("authorizedKey", k),
                ("uniqueid", ""),
                ("inicio", d1),
                ("fin", d2),
            ],
        )
        .await;
    assert!(none.contains("<cdr>\n</cdr>"), "{none}");
}
