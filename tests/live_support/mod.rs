//! Shared by the live tests that run the real `centralita serve` against the lab: the lab's
//! facts (from `vm/lab env`, with the lab's defaults), AMI helpers, a scratch folder, and the
//! engine as a child process with its own config, store and log.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use centralita::asterisk::ami::action::{QueueAdd, QueueRemove, QueueStatus};
use centralita::asterisk::ami::{AmiClient, AmiError, AmiSettings};
use centralita::store::SqliteJournal;

// ------------------------------------------------------------------ lab facts

pub fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

pub fn lab_root() -> PathBuf {
    PathBuf::from(env_or("LAB_ROOT", "/var/cache/centralita/lab-root"))
}

pub fn cdr_db() -> PathBuf {
    lab_root().join("var/log/asterisk/master.db")
}

pub fn queue_log() -> PathBuf {
    lab_root().join("var/log/asterisk/queue_log")
}

pub fn recordings() -> PathBuf {
    lab_root().join("var/spool/asterisk/monitor")
}

/// The lab's `queues.conf`, as `vm/lab` installs it.
pub fn queues_conf() -> PathBuf {
    lab_root().join("etc/asterisk/queues.conf")
}

pub fn ari_url() -> String {
    env_or("LAB_ARI_URL", "http://127.0.0.1:8088/ari")
}

pub fn ari_user() -> String {
    env_or("LAB_ARI_USER", "centralita")
}

pub fn ari_secret() -> String {
    env_or("LAB_ARI_SECRET", "centralita-lab-ari")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// USCall `op` through PHP's SoapClient (`tests/clients/uscall/call.php WSDL OP ARGS...`, the
/// token first among `args`): the decoded JSON answer.
pub fn uscall_php(wsdl: &str, op: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new("php")
        .arg(repo().join("tests/clients/uscall/call.php"))
        .args([wsdl, op])
        .args(args)
        .output()
        .expect("php runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "php {op} {args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{op}: {e}: {stdout}"))
}

pub fn ami_host() -> String {
    env_or("LAB_AMI_HOST", "127.0.0.1")
}

pub fn ami_port() -> u16 {
    env_or("LAB_AMI_PORT", "5038")
        .parse()
        .expect("LAB_AMI_PORT")
}

pub fn ami_user() -> String {
    env_or("LAB_AMI_USER", "centralita")
}

pub fn ami_secret() -> String {
    env_or("LAB_AMI_SECRET", "centralita-lab-ami")
}

pub async fn connect() -> AmiClient {
    let settings = AmiSettings::new(
        ami_host(),
        ami_port(),
        ami_user(),
        centralita::core::Secret::new(ami_secret()),
    );
    AmiClient::connect(settings)
        .await
        .expect("the lab's AMI must accept the engine's user: is the lab up? (vm/lab up)")
}

/// The queue port and snapshot over `client` as the engine builds it for the lab's node: the
/// endpoints listed by ARI, the wrap-up times from the lab's `queues.conf`.
pub fn queue_control(client: &AmiClient) -> centralita::asterisk::queue_control::AmiQueueControl {
    centralita::asterisk::queue_control::AmiQueueControl::new(client.clone())
        .with_ari(centralita::asterisk::ari::AriClient::new(
            &ari_url(),
            &ari_user(),
            centralita::core::Secret::new(ari_secret()),
        ))
        .with_queues_conf(queues_conf())
}

/// Runs `vm/lab ARGS...` and returns its output.
pub fn lab(args: &[&str]) -> std::process::Output {
    Command::new(repo().join("vm/lab"))
        .args(args)
        .output()
        .expect("vm/lab runs")
}

/// Puts an AstDB value as the operator does, with the CLI (`vm/lab cli database put`): the
/// engine's AMI user cannot write AstDB (no `system` class).
pub fn astdb_put(family: &str, key: &str, value: &str) {
    let out = lab(&["cli", &format!("database put {family} {key} {value}")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Updated database successfully"),
        "database put {family} {key} {value}: {text}"
    );
}

/// Removes an AstDB value with the CLI (nothing if there is none).
pub fn astdb_del(family: &str, key: &str) {
    let _ = lab(&["cli", &format!("database del {family} {key}")]);
}

// ------------------------------------------------------------------ queues

/// The queue's member interfaces (`PJSIP/...`).
pub async fn queue_members(client: &AmiClient, queue: &str) -> Vec<String> {
    let (_, list) = client
        .send_list(&QueueStatus::new(Some(queue), None).unwrap())
        .await
        .unwrap();
    list.iter()
        .filter(|e| e.event_name() == Some("QueueMember"))
        .map(|m| {
            let iface = m.get("StateInterface").unwrap_or("");
            if iface.is_empty() {
                m.get("Location").unwrap_or("").to_owned()
            } else {
                iface.to_owned()
            }
        })
        .collect()
}

/// Makes `members` (interfaces) exactly the queue's members; member name = the extension.
pub async fn set_queue_members(client: &AmiClient, queue: &str, members: &[String]) {
    for iface in queue_members(client, queue).await {
        if !members.contains(&iface) {
            client
                .send(&QueueRemove::new(queue, &iface).unwrap())
                .await
                .unwrap();
        }
    }
    for iface in members {
        let name = iface.rsplit('/').next().unwrap_or(iface);
        let add = QueueAdd::new(queue, iface)
            .unwrap()
            .with_member_name(name)
            .unwrap()
            .with_state_interface(iface)
            .unwrap();
        match client.send(&add).await {
            Ok(_) => {}
            Err(AmiError::ActionFailed { message, .. }) if message.contains("Already") => {}
            Err(e) => panic!("QueueAdd {iface}: {e}"),
        }
    }
}

// ------------------------------------------------------------------ Asterisk's CDR file

/// The highest `AcctId` in Asterisk's CDR file (0 when empty or absent).
pub fn asterisk_max_acct_id() -> i64 {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(cdr_db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    conn.query_row("SELECT COALESCE(MAX(AcctId), 0) FROM cdr", [], |r| r.get(0))
        .unwrap_or(0)
}

/// `(AcctId, uniqueid, sequence)` of Asterisk's CDR rows with `AcctId` in `(after, upto]`;
/// panics on a row it cannot read.
pub fn asterisk_cdrs(after: i64, upto: i64) -> Vec<(i64, String, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(cdr_db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("master.db opens");
    conn.busy_timeout(Duration::from_secs(2)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT AcctId, uniqueid, CAST(sequence AS INTEGER) FROM cdr \
             WHERE AcctId > ?1 AND AcctId <= ?2 ORDER BY AcctId",
        )
        .unwrap();
    stmt.query_map([after, upto], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

// ------------------------------------------------------------------ the engine

/// A scratch folder for one test's config, store and logs; kept when the test fails.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "centralita-{tag}-{}-{}",
            std::process::id(),
            now.as_micros()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The engine's store in this folder.
    pub fn store(&self) -> PathBuf {
        self.0.join("journal.db")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("engine logs and store kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Writes the engine's config for the lab into `dir` (store in `dir`, HTTP on a free port; the
/// FastAGI server, which runs when campaigns are configured, on its default 127.0.0.1:4573,
/// the address the lab's dialplan asks).
pub fn write_config(dir: &Path) -> PathBuf {
    write_config_with(dir, "")
}

/// [`write_config`] plus `extra` TOML sections appended.
pub fn write_config_with(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("centralita.toml");
    let text = format!(
        "[engine]\ntimezone = \"America/Montevideo\"\n\n\
         [store]\npath = {:?}\n\n\
         [[node]]\nname = \"pbx1\"\ncdr_db = {:?}\nqueue_log = {:?}\nrecordings_dir = {:?}\n\
         queues_conf = {:?}\npoll_interval_ms = 200\n\n\
         [node.ami]\nhost = {:?}\nport = {}\nusername = {:?}\nsecret = {:?}\n\n\
         [node.ari]\nurl = {:?}\nusername = {:?}\nsecret = {:?}\n\n\
         [http]\nbind = \"127.0.0.1:0\"\n\n{}",
        dir.join("journal.db"),
        cdr_db(),
        queue_log(),
        recordings(),
        queues_conf(),
        ami_host(),
        ami_port(),
        ami_user(),
        ami_secret(),
        ari_url(),
        ari_user(),
        ari_secret(),
        extra,
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `centralita serve` as a child process, logging to `engine-<run>.log`; stopped with SIGTERM
/// (then SIGKILL) when dropped.
pub struct Engine {
    pub child: Child,
    pub log: PathBuf,
    /// The config file it runs with (for `centralita admin --config`).
    pub config: PathBuf,
}

impl Engine {
    pub fn start(dir: &Path, run: &str) -> Self {
        Self::start_with(dir, run, "")
    }

    /// [`Engine::start`] with `extra` TOML sections in its config.
    pub fn start_with(dir: &Path, run: &str, extra: &str) -> Self {
        let config = write_config_with(dir, extra);
        let log = dir.join(format!("engine-{run}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_centralita"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info,centralita=debug")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("the engine starts");
        Self { child, log, config }
    }

    /// `centralita admin --config <this engine's config> <args>`, with `stdin` fed; panics
    /// unless it succeeds. Returns its stdout.
    pub fn admin(&self, args: &[&str], stdin: &str) -> String {
        admin(&self.config, args, stdin)
    }

    /// Adds directory agent `number` named and logging in as `user` with `password`.
    pub fn add_agent_user(&self, number: &str, user: &str, password: &str) {
        self.add_agent(number, user, Some(password), &[]);
    }

    /// Adds directory agent `number` named and logging in as `user` (with `password`, if any),
    /// with the `more` options of `centralita admin agent add`.
    pub fn add_agent(&self, number: &str, user: &str, password: Option<&str>, more: &[&str]) {
        let mut args = vec!["agent", "add", number, "--name", user, "--username", user];
        if password.is_some() {
            args.push("--password-stdin");
        }
        args.extend_from_slice(more);
        let stdin = password.map(|p| format!("{p}\n")).unwrap_or_default();
        self.admin(&args, &stdin);
    }

    /// Issues an API key for `api` (`expand`, `uscall`, `ucontact`) and returns it.
    pub fn api_key(&self, api: &str, system: &str) -> String {
        let out = self.admin(
            &["credential", "create", "--system", system, "--api", api],
            "",
        );
        out.lines()
            .last()
            .expect("the key is printed")
            .trim()
            .to_owned()
    }

    /// The `host:port` the engine's HTTP server listens on (from its log).
    pub fn addr(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .log_text()
                .lines()
                .find_map(|l| l.split("HTTP listening addr=").nth(1))
                .map(|a| a.split_whitespace().next().unwrap_or("").to_string());
            match found {
                Some(a) => return a,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                None => panic!("the engine logs its HTTP address ({})", self.log.display()),
            }
        }
    }

    /// `http://host:port` of the engine.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The engine's log without terminal colours.
    pub fn log_text(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// SIGKILL: the engine gets no chance to clean up.
    pub fn kill9(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap()
    }

    /// SIGTERM, waiting up to 10 s for the exit (none sent if the engine has already exited).
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = self.sigterm();
        self.wait_exit(Duration::from_secs(10))
    }

    /// Sends SIGTERM with `kill`; returns `kill`'s own status.
    pub fn sigterm(&self) -> std::io::Result<ExitStatus> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
    }

    /// Waits up to `within` for the engine to exit.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// `GET /healthz` on the address the engine logged: `(status code, body)`.
    pub fn healthz(&self) -> (String, String) {
        let addr = self.addr();
        let out = Command::new("curl")
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                &format!("http://{addr}/healthz"),
            ])
            .output()
            .expect("curl runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
        (code.to_string(), body.to_string())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.terminate().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Polls the engine's store (read-only, beside the running engine) until `done` holds;
/// returns how long it took.
pub fn wait_store(
    store: &Path,
    within: Duration,
    what: &str,
    done: impl Fn(&SqliteJournal) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(s) = SqliteJournal::open_read_only(store) {
            if done(&s) {
                return started.elapsed();
            }
        }
        if started.elapsed() > within {
            panic!(
                "timed out after {within:?} waiting for {what} (store {})",
                store.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `pred` holds for `/healthz` of `engine`; returns the last `(code, body)`.
pub fn wait_health(
    engine: &Engine,
    within: Duration,
    what: &str,
    pred: impl Fn(&str, &str) -> bool,
) -> (String, String) {
    let started = Instant::now();
    loop {
        let (code, body) = engine.healthz();
        if pred(&code, &body) {
            return (code, body);
        }
        if started.elapsed() > within {
            panic!("timed out after {within:?} waiting for {what}: last /healthz {code} {body}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `centralita admin --config <config> <args>` with `stdin` fed; panics unless it succeeds.
/// Returns its stdout.
pub fn admin(config: &Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_centralita"))
        .args(["admin", "--config"])
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("centralita admin runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Python interpreter of the clients' virtualenv (zeep, suds, requests), set up by
/// `scripts/common.sh` (`CENTRALITA_PY`).
pub fn python() -> String {
    env_or(
        "CENTRALITA_PY",
        "/var/cache/centralita/clients-venv/bin/python",
    )
}

/// Runs a client script (`php` or [`python`]) with `args`; returns (exit success, stdout,
/// stderr).
pub fn run_client(program: &str, script: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program)
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
pub mod customer;
pub mod dialer;
pub mod expand;
pub mod rest;

/// Asserts the engine's journal at `store` holds exactly the CDR rows Asterisk wrote with
/// AcctId in `(after, upto]`, each once (waiting up to `within` for the last to be ingested).
pub fn assert_cdrs_journaled_once(store: &Path, after: i64, upto: i64, within: Duration) {
    use centralita::core::{JournalStore, TimeRange};
    let expected: std::collections::BTreeSet<(String, i64)> = asterisk_cdrs(after, upto)
        .into_iter()
        .map(|(_, uid, seq)| (uid, seq))
        .collect();
    assert!(!expected.is_empty(), "Asterisk wrote CDRs");
    let rows_in_window = |s: &SqliteJournal| {
        s.cdrs(TimeRange::all())
            .unwrap()
            .into_iter()
            .filter(|c| c.source_rowid > after && c.source_rowid <= upto)
            .map(|c| (c.uniqueid.as_str().to_string(), c.sequence))
            .collect::<Vec<_>>()
    };
    wait_store(store, within, "the CDRs in the journal", |s| {
        rows_in_window(s).len() >= expected.len()
    });
    let journal = SqliteJournal::open_read_only(store).unwrap();
    let got = rows_in_window(&journal);
    let got_set: std::collections::BTreeSet<(String, i64)> = got.iter().cloned().collect();
    assert_eq!(got.len(), got_set.len(), "no CDR journaled twice");
    assert_eq!(
        got_set, expected,
        "the journal holds exactly Asterisk's CDRs"
    );
}

/// Restarts Asterisk (`vm/lab restart-asterisk`; phones and carrier stay up) and waits, at most
/// `within`, until `engine` is healthy on an AMI connection newer than the one it had; the
/// `/healthz` body then.
pub fn restart_asterisk_and_wait(engine: &Engine, within: Duration) -> String {
    let before = ami_generation(&engine.healthz().1);
    let out = lab(&["restart-asterisk"]);
    assert!(
        out.status.success(),
        "vm/lab restart-asterisk: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_health(
        engine,
        within,
        "the engine back on a new AMI connection",
        |code, body| {
            code == "200"
                && body.contains("\"ami_connected\":true")
                && ami_generation(body) > before
        },
    )
    .1
}

/// The `ami_generation` a `/healthz` body reports (0 when absent).
pub fn ami_generation(body: &str) -> u64 {
    body.split("\"ami_generation\":")
        .nth(1)
        .and_then(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}
