//! Live tier: agent login is exact, through the real engine against the lab.
//!
//! eXpand `loginAgent` (PHP SoapClient, zeep) and USCall `agentLogin` (PHP SoapClient) accept
//! only phones of the PBX: an extension with no PJSIP endpoint (`1099`), the trunk (`carrier`)
//! and the supervisor's phone (`1100`, listed in `[agents] non_agent_extensions`) are refused
//! with each vendor's code (`false`; `nao_encontrado`) and leave no member in any queue, as
//! Asterisk's `QueueStatus` shows. One `logoutAgent` removes every membership Asterisk reports
//! under the agent's name, also one the engine did not make (an `(Invalid)` `PJSIP/1099` left
//! in another queue).
//!
//! Uses phone 1004 and queues q_soporte, q_cobranza and q_ventas; every member it may leave is
//! removed when it ends, also when it fails.

mod live_support;

use std::time::Duration;

use centralita::asterisk::ami::action::{QueueAdd, QueueRemove, QueueStatus};
use centralita::asterisk::ami::AmiClient;
use centralita::asterisk::queue_control::members_named;
use centralita::core::md5::md5_hex;
use live_support::expand::*;
use live_support::*;
use serde_json::{json, Value};

const AGENT: &str = "2191";
const USER: &str = "lia_x";
const PASSWORD: &str = "pw-lia";
const QUEUES: [&str; 3] = ["q_soporte", "q_cobranza", "q_ventas"];
const IFACES: [&str; 4] = ["PJSIP/1004", "PJSIP/1099", "PJSIP/1100", "PJSIP/carrier"];

/// Removes every interface this test may add from every queue it uses.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let client = connect().await;
                remove_all(&client).await;
                let _ = client.logoff().await;
            })
        })
        .join()
        .ok();
    }
}

async fn remove_all(client: &AmiClient) {
    for q in QUEUES {
        for i in IFACES {
            let _ = client.send(&QueueRemove::new(q, i).unwrap()).await;
        }
    }
}

/// `(queue, interface)` of every membership named `name`, as Asterisk reports its queues now.
async fn memberships(ami: &AmiClient, name: &str) -> Vec<(String, String)> {
    let (_, events) = ami
        .send_list(&QueueStatus::new(None, None).unwrap())
        .await
        .unwrap();
    members_named(&events, name)
        .into_iter()
        .map(|(q, i)| (q.to_string(), i))
        .collect()
}

/// Every member interface of the test's queues.
async fn all_members(ami: &AmiClient) -> Vec<String> {
    let mut all = Vec::new();
    for q in QUEUES {
        all.extend(queue_members(ami, q).await);
    }
    all
}

/// USCall `op(token, args...)` through PHP SoapClient: the decoded JSON answer.
fn uscall(wsdl: &str, token: &str, op: &str, args: &[&str]) -> Value {
    let mut all = vec![token];
    all.extend_from_slice(args);
    live_support::uscall_php(wsdl, op, &all)
}

#[tokio::test(flavor = "multi_thread")]
async fn login_refuses_what_is_not_a_phone_and_one_logout_removes_every_membership() {
    let ami = connect().await;
    remove_all(&ami).await;
    let _cleanup = Cleanup;
    let scratch = Scratch::new("live-agent-login");
    let engine = Engine::start_with(
        scratch.path(),
        "agent-login",
        "[agents]\nnon_agent_extensions = [\"1100\"]\n",
    );
    wait_health(
        &engine,
        Duration::from_secs(30),
        "the engine healthy",
        |code, _| code == "200",
    );
    engine.admin(
        &[
            "agent",
            "add",
            AGENT,
            "--name",
            "Lia Exacta",
            "--username",
            USER,
            "--queue",
            "q_soporte",
            "--queue",
            "q_cobranza",
            "--extension",
            "1004",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let key = engine.api_key("expand", "crm-login");
    let token = engine.api_key("uscall", "crm-uscall");
    let base = engine.base_url();
    let wsdl = format!("{base}/apiws/2/apiws.php?wsdl");
    let mut php = SoapClient::start("php", "php", "client.php", &wsdl);
    let mut zeep = SoapClient::start("zeep", &python(), "client_zeep.py", &wsdl);

    // Not phones of the PBX: refused, nothing added anywhere.
    for (use_zeep, ext) in [
        (false, "1099"),
        (true, "carrier"),
        (false, "1100"),
        (true, "1099"),
    ] {
        let client = if use_zeep { &mut zeep } else { &mut php };
        assert_eq!(
            client.call("loginAgent", json!([key, USER, ext])),
            "false",
            "{} loginAgent from {ext}",
            client.name
        );
    }
    let uscall_wsdl = format!("{base}/aplicativos/webservice/wsuscall.php?wsdl");
    let digest = md5_hex(PASSWORD.as_bytes());
    for ramal in ["1099", "1100"] {
        let v = uscall(&uscall_wsdl, &token, "agentLogin", &[AGENT, ramal, &digest]);
        assert_eq!(v["status"], "erro", "agentLogin from {ramal}: {v}");
        assert_eq!(
            v["codigo"], "nao_encontrado",
            "agentLogin from {ramal}: {v}"
        );
    }
    let members = all_members(&ami).await;
    for iface in ["PJSIP/1099", "PJSIP/1100", "PJSIP/carrier"] {
        assert!(
            !members.contains(&iface.to_owned()),
            "{iface} in {members:?}"
        );
    }
    assert_eq!(memberships(&ami, AGENT).await, vec![]);

    // A phone of the PBX: logged in to the agent's queues.
    assert_eq!(php.call("loginAgent", json!([key, USER, "1004"])), "true");
    let mut got = memberships(&ami, AGENT).await;
    got.sort();
    assert_eq!(
        got,
        [
            ("q_cobranza".to_owned(), "PJSIP/1004".to_owned()),
            ("q_soporte".to_owned(), "PJSIP/1004".to_owned()),
        ]
    );

    // A membership under the agent's name the engine did not make (what an older engine's
    // login from 1099 left behind), in a queue that is not the agent's.
    let add = QueueAdd::new("q_ventas", "PJSIP/1099")
        .unwrap()
        .with_member_name(AGENT)
        .unwrap()
        .with_state_interface("PJSIP/1099")
        .unwrap();
    ami.send(&add).await.unwrap();
    assert_eq!(memberships(&ami, AGENT).await.len(), 3);

    // One logout: no membership of the agent is left.
    assert_eq!(php.call("logoutAgent", json!([key, USER])), "true");
    assert_eq!(memberships(&ami, AGENT).await, vec![]);
    let members = all_members(&ami).await;
    assert!(
        !members
            .iter()
            .any(|m| m == "PJSIP/1004" || m == "PJSIP/1099"),
        "{members:?}"
    );

    // USCall's agentLogin from the agent's phone still works, and its logout too.
    let v = uscall(
        &uscall_wsdl,
        &token,
        "agentLogin",
        &[AGENT, "1004", &digest],
    );
    assert_eq!(v["status"], "ok", "{v}");
    poll(
        Duration::from_secs(10),
        "the login in the live state",
        || {
            let v = uscall(&uscall_wsdl, &token, "agentLogout", &[AGENT]);
            (v["status"] == "ok").then_some(())
        },
    );
    assert_eq!(memberships(&ami, AGENT).await, vec![]);
    let _ = ami.logoff().await;
}
