//! What the eXpand live tests share: the SOAP client processes of `tests/clients/expand/`,
//! a queue clean-up guard, polling, attribute lookup in the XML answers, and the phones' and
//! jobs' channels as Asterisk lists them.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use centralita::asterisk::ami::action::{CoreShowChannels, QueueRemove};
use centralita::asterisk::ami::AmiClient;
use serde_json::{json, Value};

use super::{connect, repo};

/// Removes `phones` from `queue` when dropped.
pub struct QueueGuard {
    pub queue: &'static str,
    pub phones: &'static [&'static str],
}

impl Drop for QueueGuard {
    fn drop(&mut self) {
        let (queue, phones) = (self.queue, self.phones);
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let client = connect().await;
                for iface in phones {
                    let _ = client.send(&QueueRemove::new(queue, iface).unwrap()).await;
                }
                let _ = client.logoff().await;
            })
        })
        .join()
        .ok();
    }
}

/// One SOAP client process speaking the line protocol of `tests/clients/expand/`.
pub struct SoapClient {
    pub name: &'static str,
    /// The client's first line: `{"type":"ready","value":<operations in the WSDL>}`.
    pub ready: Value,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl SoapClient {
    pub fn start(name: &'static str, program: &str, script: &str, wsdl: &str) -> Self {
        let script = repo().join("tests/clients/expand").join(script);
        let mut child = Command::new(program)
            .arg(&script)
            .arg(wsdl)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut c = Self {
            name,
            ready: Value::Null,
            child,
            stdin,
            stdout,
        };
        c.ready = c.read();
        assert_eq!(c.ready["type"], "ready", "{name}: {}", c.ready);
        c
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "{} exited", self.name);
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{}: {e}: {line}", self.name))
    }

    /// Calls `op` with positional `args`; the return value as text (`true`/`false` for
    /// booleans). Panics on a Fault.
    pub fn call(&mut self, op: &str, args: Value) -> String {
        self.call_kw(op, args, json!({}))
    }

    /// Calls `op` with positional `args` and keyword arguments `kwargs`.
    pub fn call_kw(&mut self, op: &str, args: Value, kwargs: Value) -> String {
        let reply = self.send(json!({"op": op, "args": args, "kwargs": kwargs}));
        assert_eq!(reply["ok"], true, "{} {op}: {reply}", self.name);
        match &reply["value"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// Calls `op` with positional `args`; the client's whole reply (Faults included).
    pub fn call_raw(&mut self, op: &str, args: Value) -> Value {
        self.send(json!({"op": op, "args": args}))
    }

    /// Calls `op` through a non-WSDL client (the request reaches the server whatever `op` is);
    /// the client's whole reply.
    pub fn call_without_wsdl(&mut self, op: &str, args: Value) -> Value {
        self.send(json!({"op": op, "args": args, "nowsdl": true}))
    }

    fn send(&mut self, request: Value) -> Value {
        writeln!(self.stdin, "{request}").unwrap();
        self.stdin.flush().unwrap();
        self.read()
    }
}

impl Drop for SoapClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of attribute `name` in the first element `<element ...>` of `xml` that holds
/// `marker`.
pub fn attr_in(xml: &str, element: &str, marker: &str, name: &str) -> Option<String> {
    let open = format!("<{element} ");
    xml.split(&open)
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap_or(""))
        .find(|tag| tag.contains(marker))
        .and_then(|tag| {
            let key = format!(" {name}=\"");
            format!(" {tag}")
                .split(&key)
                .nth(1)
                .and_then(|v| v.split('"').next())
                .map(str::to_owned)
        })
}

/// Calls `f` every 200 ms until it gives a value; panics after `within`.
pub fn poll<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(started.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An instant as eXpand writes dates (`YYYY-MM-DD HH:MM:SS`, the lab's time zone).
pub fn date(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::get("America/Montevideo").unwrap())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Waits until none of `phones` has a channel left: a job ends (status 3) when its first
/// channel hangs up, and the phone's own channel may still be going away.
pub async fn phones_idle(ami: &AmiClient, phones: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, list) = ami.send_list(&CoreShowChannels).await.unwrap();
        let busy: Vec<&str> = list
            .iter()
            .filter_map(|c| c.get("Channel"))
            .filter(|c| phones.iter().any(|p| c.starts_with(&format!("{p}-"))))
            .collect();
        if busy.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "phones still busy: {busy:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
