//! Tests of the interpreter (inputs in, commands out) and of the driver over fake ports.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::*;

fn flow() -> Arc<Flow> {
    Arc::new(crate::ivr_json::decode(include_str!("../../../docs/ivr_flow_example.json")).unwrap())
}

fn vars() -> Vec<(String, String)> {
    vec![
        ("CTI_INFO1".into(), "Ana\r\n".into()),
        ("CALLERID".into(), "5551234".into()),
        ("bad name".into(), "x".into()),
    ]
}

fn plays(cmds: &[IvrCommand]) -> Vec<(PlayId, Media, bool)> {
    cmds.iter()
        .filter_map(|c| match c {
            IvrCommand::Play {
                id,
                media,
                barge_in,
            } => Some((*id, media.clone(), *barge_in)),
            _ => None,
        })
        .collect()
}

fn timer(cmds: &[IvrCommand]) -> Option<(TimerId, Duration)> {
    cmds.iter().find_map(|c| match c {
        IvrCommand::StartTimer { id, after } => Some((*id, *after)),
        _ => None,
    })
}

fn events(cmds: &[IvrCommand]) -> Vec<&IvrEvent> {
    cmds.iter()
        .filter_map(|c| match c {
            IvrCommand::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn finished(cmds: &[IvrCommand]) -> Option<Outcome> {
    events(cmds).iter().find_map(|e| match e {
        IvrEvent::Finished { outcome, .. } => Some(outcome.clone()),
        _ => None,
    })
}

fn node(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

#[test]
fn the_prompt_speaks_the_variables_and_a_barge_in_digit_stops_it_and_counts() {
    let (mut s, out) = IvrSession::start(flow(), vars());
    let p = plays(&out);
    assert_eq!(p.len(), 1);
    assert_eq!(
        p[0].1,
        Media::Tts {
            text: "Olá Ana  . Digite 1 para vendas, 2 para suporte.".into(),
            voice: Some(Voice::new("pt-BR").unwrap()),
        }
    );
    assert!(p[0].2);
    assert!(!s.vars().contains_key("bad name"));
    let out = s.on(IvrInput::Digit('1'));
    assert_eq!(out[0], IvrCommand::StopPlayback);
    assert!(events(&out).contains(&&IvrEvent::Digits {
        node: node("menu"),
        digits: "1".into(),
        matched: Some("1".into()),
    }));
    // Digit 1 leads to the VIP branch: the list is asked about the caller.
    let check = out
        .iter()
        .find_map(|c| match c {
            IvrCommand::CheckList { id, list, key } => Some((*id, list.clone(), key.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(check.1.as_str(), "vip");
    assert_eq!(check.2, "5551234");
    // A stale answer is ignored; the right one routes.
    assert!(s
        .on(IvrInput::ListChecked {
            id: RequestId(999),
            member: Some(true)
        })
        .is_empty());
    let out = s.on(IvrInput::ListChecked {
        id: check.0,
        member: Some(true),
    });
    assert_eq!(
        out.last(),
        Some(&IvrCommand::Queue(QueueName::new("q_vip").unwrap()))
    );
    assert_eq!(
        finished(&out),
        Some(Outcome::Queue(QueueName::new("q_vip").unwrap()))
    );
    assert!(s.is_done());
    assert!(s.on(IvrInput::Digit('2')).is_empty());
}

#[test]
fn silence_replays_the_prompt_retries_times_then_takes_the_timeout_path() {
    let (mut s, out) = IvrSession::start(flow(), vars());
    let mut play = plays(&out)[0].0;
    for attempt in 1..=2u8 {
        let out = s.on(IvrInput::PromptFinished(play));
        let (t, after) = timer(&out).unwrap();
        assert_eq!(after, Duration::from_millis(5000));
        // A timer that is not the armed one changes nothing.
        assert!(s.on(IvrInput::Timer(TimerId(t.0 + 100))).is_empty());
        let out = s.on(IvrInput::Timer(t));
        assert_eq!(
            events(&out),
            vec![&IvrEvent::Retry {
                node: node("menu"),
                reason: RetryReason::Timeout,
                attempt,
            }]
        );
        play = plays(&out)[0].0;
    }
    let out = s.on(IvrInput::PromptFinished(play));
    let (t, _) = timer(&out).unwrap();
    let out = s.on(IvrInput::Timer(t));
    let p = plays(&out);
    assert_eq!(p[0].1, Media::File(SoundName::new("custom/tchau").unwrap()));
    assert!(events(&out).contains(&&IvrEvent::Left {
        node: node("menu"),
        to: node("tchau"),
    }));
    let out = s.on(IvrInput::PromptFinished(p[0].0));
    assert_eq!(out.last(), Some(&IvrCommand::Hangup));
    assert_eq!(finished(&out), Some(Outcome::Hangup));
}

#[test]
fn wrong_digits_are_retried_then_sent_to_the_invalid_node() {
    let (mut s, out) = IvrSession::start(flow(), vars());
    let mut play = plays(&out)[0].0;
    for attempt in 1..=3u8 {
        let _ = s.on(IvrInput::PromptFinished(play));
        let out = s.on(IvrInput::Digit('9'));
        assert!(events(&out).contains(&&IvrEvent::Digits {
            node: node("menu"),
            digits: "9".into(),
            matched: None,
        }));
        if attempt <= 2 {
            assert!(events(&out).contains(&&IvrEvent::Retry {
                node: node("menu"),
                reason: RetryReason::Invalid,
                attempt,
            }));
            play = plays(&out)[0].0;
        } else {
            assert_eq!(
                plays(&out)[0].1,
                Media::File(SoundName::new("custom/tchau").unwrap())
            );
        }
    }
}

fn gather_flow(barge_in: bool, max_digits: u8) -> Arc<Flow> {
    let text = format!(
        r##"{{"id":"f","name":"F","type":"dtmf","start":"g","nodes":[
        {{"id":"g","kind":"gather","prompt":{{"file":"digite","barge_in":{barge_in}}},
          "max_digits":{max_digits},"terminator":"#","store":"CONTA","next":"ok",
          "invalid":"fim","timeout":"fim"}},
        {{"id":"ok","kind":"set","vars":{{"MSG":"conta {{CONTA}}"}},"next":"fim"}},
        {{"id":"fim","kind":"hangup"}}]}}"##
    );
    Arc::new(crate::ivr_json::decode(&text).unwrap())
}

#[test]
fn digits_during_a_prompt_without_barge_in_are_dropped() {
    let (mut s, out) = IvrSession::start(gather_flow(false, 4), vec![]);
    assert!(s.on(IvrInput::Digit('5')).is_empty());
    let out = s.on(IvrInput::PromptFinished(plays(&out)[0].0));
    assert!(timer(&out).is_some());
    for d in ['1', '2'] {
        let out = s.on(IvrInput::Digit(d));
        assert_eq!(timer(&out).unwrap().1, Duration::from_millis(3000));
    }
    // The terminator ends the input and is not part of it; the input is kept in CONTA.
    let out = s.on(IvrInput::Digit('#'));
    assert!(events(&out).contains(&&IvrEvent::Digits {
        node: node("g"),
        digits: "12".into(),
        matched: Some("*".into()),
    }));
    assert!(out.contains(&IvrCommand::SetChannelVar {
        name: VarName::new("MSG").unwrap(),
        value: "conta 12".into(),
    }));
    assert_eq!(s.vars()["CONTA"], "12");
    assert_eq!(finished(&out), Some(Outcome::Hangup));
}

#[test]
fn the_input_ends_at_max_digits_or_when_the_inter_digit_wait_expires() {
    let (mut s, out) = IvrSession::start(gather_flow(true, 3), vec![]);
    let _ = out;
    for d in ['7', '8'] {
        let _ = s.on(IvrInput::Digit(d));
    }
    let out = s.on(IvrInput::Digit('9'));
    assert_eq!(s.vars()["CONTA"], "789");
    assert!(finished(&out).is_some());

    let (mut s, _) = IvrSession::start(gather_flow(true, 3), vec![]);
    let out = s.on(IvrInput::Digit('4'));
    let (t, _) = timer(&out).unwrap();
    let out = s.on(IvrInput::Timer(t));
    assert_eq!(s.vars()["CONTA"], "4");
    assert!(finished(&out).is_some());
}

#[test]
fn a_loop_is_hung_up_at_the_step_bound() {
    let text = r#"{"id":"loop","name":"L","type":"dtmf","start":"a","max_steps":25,"nodes":[
        {"id":"a","kind":"set","vars":{"X":"1"},"next":"b"},
        {"id":"b","kind":"branch","on":"var","var":"X","cases":{"1":"a"},"default":"a"}]}"#;
    let (s, out) = IvrSession::start(Arc::new(crate::ivr_json::decode(text).unwrap()), vec![]);
    assert_eq!(finished(&out), Some(Outcome::StepLimit));
    assert_eq!(out.last(), Some(&IvrCommand::Hangup));
    let entered = events(&out)
        .iter()
        .filter(|e| matches!(e, IvrEvent::Entered { .. }))
        .count();
    assert_eq!(entered, 25);
    assert!(s.is_done());
}

fn lookup_flow() -> Arc<Flow> {
    let text = r#"{"id":"l","name":"L","type":"dtmf","start":"q","nodes":[
        {"id":"q","kind":"http","backend":"crm","params":{"numero":"CALLERID"},
         "results":{"nome":"NOME"},"timeout_ms":1500,"next":"sim","on_error":"nao"},
        {"id":"sim","kind":"transfer","target":"1005"},
        {"id":"nao","kind":"hangup"}]}"#;
    Arc::new(crate::ivr_json::decode(text).unwrap())
}

#[test]
fn a_lookup_keeps_its_fields_or_takes_the_error_path_on_failure_or_timeout() {
    let start = || IvrSession::start(lookup_flow(), vec![("CALLERID".into(), "555".into())]);
    let (mut s, out) = start();
    let (id, params) = out
        .iter()
        .find_map(|c| match c {
            IvrCommand::Lookup { id, params, .. } => Some((*id, params.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(params, vec![("numero".into(), "555".into())]);
    assert_eq!(timer(&out).unwrap().1, Duration::from_millis(1500));
    let out = s.on(IvrInput::LookupDone {
        id,
        fields: vec![("nome".into(), "Ana".into()), ("extra".into(), "x".into())],
    });
    assert_eq!(s.vars()["NOME"], "Ana");
    assert!(!s.vars().contains_key("extra"));
    assert_eq!(out.last(), Some(&IvrCommand::Transfer("1005".into())));

    let (mut s, out) = start();
    let (t, _) = timer(&out).unwrap();
    let out = s.on(IvrInput::Timer(t));
    assert_eq!(out.last(), Some(&IvrCommand::Hangup));
    // The answer after the timeout is ignored.
    assert!(s
        .on(IvrInput::LookupDone {
            id: RequestId(1),
            fields: vec![]
        })
        .is_empty());

    let (mut s, out) = start();
    let id = out
        .iter()
        .find_map(|c| match c {
            IvrCommand::Lookup { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap();
    let out = s.on(IvrInput::LookupFailed { id });
    assert_eq!(finished(&out), Some(Outcome::Hangup));
}

#[test]
fn a_hang_up_ends_the_session_once() {
    let (mut s, _) = IvrSession::start(flow(), vars());
    let out = s.on(IvrInput::HungUp);
    assert_eq!(finished(&out), Some(Outcome::HungUp));
    assert!(s.on(IvrInput::HungUp).is_empty());
}

#[test]
fn substitution_is_bounded_and_leaves_unknown_braces() {
    let mut v = BTreeMap::new();
    v.insert("A".to_owned(), "x".repeat(600));
    assert_eq!(session::substitute("{A}{A}", &v).chars().count(), 1000);
    assert_eq!(session::substitute("{B} {a b} {", &v), " {a b} {");
}

// ------------------------------------------------------------------------- driver

/// A call whose caller answers each prompt as scripted: `Some(d)` presses `d` during it,
/// `None` lets it play out.
struct ScriptedCall {
    inputs: mpsc::Sender<IvrInput>,
    script: Mutex<VecDeque<Option<char>>>,
    did: Mutex<Vec<String>>,
}

impl IvrCall for ScriptedCall {
    fn play(&self, id: PlayId, media: &Media, _: bool) -> BoxFuture<'_, Result<(), PortError>> {
        let step = self.script.lock().unwrap().pop_front().flatten();
        self.did.lock().unwrap().push(format!("play {media:?}"));
        Box::pin(async move {
            let input = match step {
                Some(d) => IvrInput::Digit(d),
                None => IvrInput::PromptFinished(id),
            };
            self.inputs.send(input).await.map_err(|_| "gone".into())
        })
    }
    fn stop_playback(&self) -> BoxFuture<'_, Result<(), PortError>> {
        self.did.lock().unwrap().push("stop".into());
        Box::pin(async { Ok(()) })
    }
    fn set_var(&self, name: &VarName, value: &str) -> BoxFuture<'_, Result<(), PortError>> {
        self.did.lock().unwrap().push(format!("set {name}={value}"));
        Box::pin(async { Ok(()) })
    }
    fn queue(&self, queue: &QueueName) -> BoxFuture<'_, Result<(), PortError>> {
        self.did.lock().unwrap().push(format!("queue {queue}"));
        Box::pin(async { Ok(()) })
    }
    fn transfer(&self, target: &str) -> BoxFuture<'_, Result<(), PortError>> {
        self.did.lock().unwrap().push(format!("transfer {target}"));
        Box::pin(async { Ok(()) })
    }
    fn hangup(&self) -> BoxFuture<'_, Result<(), PortError>> {
        self.did.lock().unwrap().push("hangup".into());
        Box::pin(async { Ok(()) })
    }
}

struct Backends;

impl IvrLookup for Backends {
    fn lookup(
        &self,
        _: &BackendName,
        params: &[(String, String)],
    ) -> BoxFuture<'_, Result<Vec<(String, String)>, PortError>> {
        let known = params.iter().any(|(_, v)| v == "5551234");
        Box::pin(async move {
            if known {
                Ok(vec![("nome".into(), "Ana".into())])
            } else {
                // A dead backend: never answers; the node's timeout decides.
                std::future::pending().await
            }
        })
    }
}

struct Lists(bool);

impl ListLookup for Lists {
    fn contains(&self, _: &ListName, _: &str) -> BoxFuture<'_, Result<bool, PortError>> {
        let v = self.0;
        Box::pin(async move { Ok(v) })
    }
}

/// A journal keeping each (call, seq) once, as the store does.
#[derive(Default)]
struct Journal(Mutex<BTreeMap<(String, u32), IvrRecord>>);

impl IvrJournal for Journal {
    fn record(&self, r: &IvrRecord) -> Result<(), PortError> {
        self.0
            .lock()
            .unwrap()
            .entry((r.call.as_str().to_owned(), r.seq))
            .or_insert_with(|| r.clone());
        Ok(())
    }
}

async fn run(
    flow: Arc<Flow>,
    script: &[Option<char>],
    in_vip: bool,
    journal: Arc<Journal>,
    vars: Vec<(String, String)>,
) -> (Result<Outcome, RunError>, Vec<String>) {
    let (tx, rx) = mpsc::channel(8);
    let call = Arc::new(ScriptedCall {
        inputs: tx,
        script: Mutex::new(script.iter().copied().collect()),
        did: Mutex::new(Vec::new()),
    });
    let ports = IvrPorts {
        call: call.clone(),
        lookup: Arc::new(Backends),
        lists: Arc::new(Lists(in_vip)),
        journal,
    };
    let start = CallStart {
        call: IvrCallId::new("1700000000.42").unwrap(),
        info: IvrCallInfo {
            ddr: "26002000".into(),
            origem: "5551234".into(),
            ..IvrCallInfo::default()
        },
        vars,
    };
    let outcome = run_flow(flow, start, ports, rx).await;
    let did = call.did.lock().unwrap().clone();
    (outcome, did)
}

#[tokio::test(start_paused = true)]
async fn a_scripted_caller_is_routed_through_the_flow_and_every_event_is_journaled_in_order() {
    let journal = Arc::new(Journal::default());
    let (outcome, did) = run(flow(), &[Some('1')], false, journal.clone(), vars()).await;
    // Not VIP: the CRM lookup names the caller, then the sales queue.
    assert_eq!(
        outcome.unwrap(),
        Outcome::Queue(QueueName::new("q_ventas").unwrap())
    );
    assert_eq!(
        did[1..],
        [
            "stop".to_owned(),
            "set NOME=Ana".into(),
            "queue q_ventas".into()
        ]
    );
    let records: Vec<IvrRecord> = journal.0.lock().unwrap().values().cloned().collect();
    let seqs: Vec<u32> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=records.len() as u32).collect::<Vec<_>>());
    let path: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.node.as_ref().map_or("", |n| n.as_str()), r.event.as_str()))
        .collect();
    assert_eq!(
        path,
        [
            ("menu", "entrada"),
            ("menu", "digitos"),
            ("menu", "saida"),
            ("vip", "entrada"),
            ("vip", "lista"),
            ("vip", "saida"),
            ("conta", "entrada"),
            ("conta", "consulta"),
            ("conta", "saida"),
            ("vendas", "entrada"),
            ("vendas", "fim"),
        ]
    );
    assert_eq!(records[1].digits, "1");
    assert_eq!(records[7].detail, "crm ok nome=Ana");
    assert_eq!(records[10].status, "fila");
    assert_eq!(records[10].destination, "fila:q_ventas");
    assert!(records.iter().all(|r| r.info.ddr == "26002000"));
}

#[tokio::test(start_paused = true)]
async fn a_silent_caller_hears_the_retries_then_the_goodbye_and_a_dead_backend_times_out() {
    let journal = Arc::new(Journal::default());
    let (outcome, did) = run(
        flow(),
        &[None, None, None, None],
        false,
        journal.clone(),
        vars(),
    )
    .await;
    assert_eq!(outcome.unwrap(), Outcome::Hangup);
    assert_eq!(did.iter().filter(|d| d.starts_with("play Tts")).count(), 3);
    assert_eq!(did.last().unwrap(), "hangup");
    let retries = journal
        .0
        .lock()
        .unwrap()
        .values()
        .filter(|r| r.event == "repeticao")
        .count();
    assert_eq!(retries, 2);

    // An unknown caller: the backend never answers, the node's timeout takes the error path
    // (which here is the same queue) and the lookup is journaled as failed.
    let journal = Arc::new(Journal::default());
    let vars = vec![("CALLERID".into(), "999".into())];
    let (outcome, _) = run(flow(), &[Some('1')], false, journal.clone(), vars).await;
    assert_eq!(
        outcome.unwrap(),
        Outcome::Queue(QueueName::new("q_ventas").unwrap())
    );
    assert!(journal
        .0
        .lock()
        .unwrap()
        .values()
        .any(|r| r.event == "consulta" && r.detail == "crm erro"));
}

#[tokio::test(start_paused = true)]
async fn a_closed_input_channel_is_a_hang_up() {
    let (tx, rx) = mpsc::channel(1);
    drop(tx);
    let (call_tx, _keep) = mpsc::channel(8);
    let call = Arc::new(ScriptedCall {
        inputs: call_tx,
        script: Mutex::new(VecDeque::from([Some('x')])),
        did: Mutex::new(Vec::new()),
    });
    let journal = Arc::new(Journal::default());
    let ports = IvrPorts {
        call,
        lookup: Arc::new(Backends),
        lists: Arc::new(Lists(true)),
        journal: journal.clone(),
    };
    let start = CallStart {
        call: IvrCallId::new("c1").unwrap(),
        info: IvrCallInfo::default(),
        vars: vec![],
    };
    assert_eq!(
        run_flow(flow(), start, ports, rx).await.unwrap(),
        Outcome::HungUp
    );
    assert!(journal
        .0
        .lock()
        .unwrap()
        .values()
        .any(|r| r.status == "abandono"));
}
