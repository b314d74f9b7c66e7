//! `centralita admin`: provisions the directory (agents, pause reasons, API credentials) from
//! commands or from a TOML file, and lists it. `main.rs` parses the arguments and calls [`run`].
//!
//! Clear passwords are read from standard input (never from the command line, which other users
//! can see) or from the import file, and hashed before they reach the store. A credential's key
//! is printed once, on creation.
//!
//! Import file (`admin import FILE.toml`; unknown keys are errors):
//!
//! ```toml
//! [[agent]]
//! number = "2005"              # required
//! full_name = "Ana López"      # required
//! username = "ana"             # default: the number
//! email = "ana@example.com"    # optional
//! profile = "agent"            # default "agent"
//! supervisor = false           # default false
//! password = "..."             # optional, hashed on import; absent: keep the stored one
//! queues = ["q_ventas"]        # default []
//! extension = "1005"           # optional default extension
//!
//! [[pause_reason]]
//! id = "almuerzo"              # required
//! name = "Almuerzo"            # required
//! max_seconds = 1800           # optional
//! queues = []                  # default []: every queue
//! ```

pub mod dialer;
pub mod ivr;
pub mod lists;
pub mod webhooks;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde::Deserialize;
use tracing::warn;

use crate::config::Config;
use crate::core::agent_digest::{digest_hash, AgentDigestStore};
use crate::core::audit::{ActionJournal, Actor, EngineAction};
use crate::core::directory::{
    valid_imported_key, Agent, AgentNumber, CredentialApi, CredentialId, DirectoryStore, Extension,
    HashError, IdError, PasswordHash, PauseReason, PauseReasonId, QueueName,
};
use crate::core::error_chain;
use crate::core::{PortError, Secret};
use crate::store::{SqliteActionJournal, SqliteAgentDigests, SqliteDirectory, StoreError};

/// `centralita admin --config FILE <what>`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Pause reasons.
    #[command(subcommand, name = "pause-reason")]
    PauseReason(PauseReasonCommand),
    /// API credentials of client systems.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Creates or updates the agents and pause reasons of a TOML file.
    Import {
        /// The TOML file.
        file: PathBuf,
    },
    /// Recordings: import a legacy folder, sweep the catalogue.
    #[command(subcommand)]
    Recordings(RecordingsCommand),
    /// The outbound dialer: campaigns, contact imports, why nothing is dialable.
    #[command(subcommand)]
    Dialer(dialer::DialerCommand),
    /// Key/value lists (eXpand's simple lists): add, remove, show, import a CSV.
    #[command(subcommand)]
    List(lists::ListCommand),
    /// IVR flows, DID routes to them, and calls' IVR events.
    #[command(subcommand)]
    Ivr(ivr::IvrAdminCommand),
    /// Outbound webhooks: the outbox per endpoint, dead deliveries sent again.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
}

/// `admin recordings ...` (needs the whole configuration: see [`run_recordings`]).
#[derive(Debug, Subcommand)]
pub enum RecordingsCommand {
    /// Brings a legacy PBX's recordings folder (flat or `YYYYMMDD/` day folders; .wav, .gsm,
    /// .mp3) into the recordings directory and the catalogue, matched to CDRs by uniqueid.
    /// Re-running skips what an earlier run imported.
    Import {
        /// The legacy folder.
        dir: PathBuf,
        /// Report what would be imported; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Reports recordings without a call, answered calls without a recording, catalogued
    /// files that are gone and files nothing catalogues, for calls of the last DAYS days.
    Sweep {
        /// How many days back.
        #[arg(long, default_value_t = 1)]
        days: u32,
    },
}

/// `admin agent ...`.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Creates or replaces an agent.
    Add {
        /// The agent's number (its identity and queue member name).
        number: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// Login name (default: the number).
        #[arg(long)]
        username: Option<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Profile label.
        #[arg(long, default_value = "agent")]
        profile: String,
        /// May supervise.
        #[arg(long)]
        supervisor: bool,
        /// A queue the agent belongs to (repeat for several).
        #[arg(long = "queue")]
        queues: Vec<String>,
        /// Default extension.
        #[arg(long)]
        extension: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lists agents.
    List,
    /// Removes an agent.
    Remove {
        /// The agent's number.
        number: String,
    },
}

/// `admin pause-reason ...`.
#[derive(Debug, Subcommand)]
pub enum PauseReasonCommand {
    /// Creates or replaces a pause reason.
    Add {
        /// Its id (what Asterisk records as the reason).
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Longest allowed pause in seconds.
        #[arg(long)]
        max_seconds: Option<u32>,
        /// A queue it may be used in (repeat; none: every queue).
        #[arg(long = "queue")]
        queues: Vec<String>,
    },
    /// Lists pause reasons.
    List,
    /// Removes a pause reason.
    Remove {
        /// Its id.
        id: String,
    },
}

/// `admin credential ...`.
#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Issues a key for a client system; prints it once.
    Create {
        /// Which system it is for.
        #[arg(long)]
        system: String,
        /// The API it opens: `expand`, `uscall`, `ucontact`, `expand-rest` or `any`.
        #[arg(long, value_parser = parse_api)]
        api: CredentialApi,
    },
    /// Takes over a key the replaced product issued (read from standard input, one line), so
    /// the integrations that send it keep working unchanged; stored hashed.
    Import {
        /// Which system it is for.
        #[arg(long)]
        system: String,
        /// The API it opens: `expand`, `uscall`, `ucontact`, `expand-rest` or `any`.
        #[arg(long, value_parser = parse_api)]
        api: CredentialApi,
    },
    /// Lists credentials (never their keys).
    List,
    /// Revokes a credential.
    Revoke {
        /// Its id (the part of the key before the dot).
        id: String,
    },
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A value is not a valid identifier.
    #[error(transparent)]
    Id(#[from] IdError),
    /// The store could not be opened.
    #[error("store")]
    Store(#[from] StoreError),
    /// A store operation failed.
    #[error("store")]
    Port(#[from] PortError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// Reading input or the import file failed.
    #[error("cannot read {what}")]
    Read {
        /// What.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing output failed.
    #[error("cannot write output")]
    Write(#[source] std::io::Error),
    /// The import file is malformed.
    #[error("invalid import file")]
    Parse(#[from] toml::de::Error),
    /// Something to remove or revoke does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A recordings command failed.
    #[error("recordings")]
    Recordings(#[source] Box<crate::core::recordings::RecordingError>),
    /// A dialer command was refused.
    #[error(transparent)]
    Dialer(Box<crate::core::dialer::DialerError>),
    /// An IVR flow or value is refused.
    #[error(transparent)]
    Flow(Box<crate::core::ivr::FlowError>),
    /// An IVR flow file is refused.
    #[error(transparent)]
    FlowJson(Box<crate::ivr_json::FlowJsonError>),
    /// A contact import stopped.
    #[error("import")]
    Import(#[source] Box<crate::core::dialer::import::ImportError>),
    /// A value is unusable.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// The import file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportFile {
    /// Agents.
    #[serde(default)]
    pub agent: Vec<AgentEntry>,
    /// Pause reasons.
    #[serde(default)]
    pub pause_reason: Vec<PauseReasonEntry>,
}

/// One `[[agent]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    number: String,
    full_name: String,
    username: Option<String>,
    email: Option<String>,
    #[serde(default = "default_profile")]
    profile: String,
    #[serde(default)]
    supervisor: bool,
    password: Option<String>,
    #[serde(default)]
    queues: Vec<String>,
    extension: Option<String>,
}

/// One `[[pause_reason]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseReasonEntry {
    id: String,
    name: String,
    max_seconds: Option<u32>,
    #[serde(default)]
    queues: Vec<String>,
}

fn default_profile() -> String {
    "agent".to_owned()
}

fn queues(names: &[String]) -> Result<Vec<QueueName>, IdError> {
    names.iter().map(|q| QueueName::new(q.as_str())).collect()
}

fn parse_api(s: &str) -> Result<CredentialApi, String> {
    CredentialApi::parse(s)
        .ok_or_else(|| "expected expand, uscall, ucontact, expand-rest or any".to_owned())
}

fn one_line(field: &'static str, value: &str) -> Result<(), AdminError> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(AdminError::Invalid {
            field,
            reason: "must be one line",
        });
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn build_agent(
    store: &SqliteDirectory,
    number: &str,
    full_name: &str,
    username: Option<&str>,
    email: Option<&str>,
    profile: &str,
    supervisor: bool,
    password: Option<Secret>,
    queue_names: &[String],
    extension: Option<&str>,
) -> Result<Agent, AdminError> {
    let number = AgentNumber::new(number)?;
    for (field, v) in [("full_name", full_name), ("profile", profile)] {
        one_line(field, v)?;
    }
    let mut agent = Agent::new(number.clone());
    agent.full_name = full_name.to_owned();
    if let Some(u) = username {
        one_line("username", u)?;
        agent.username = u.to_owned();
    }
    if let Some(e) = email {
        one_line("email", e)?;
    }
    agent.email = email.map(str::to_owned);
    agent.profile = profile.to_owned();
    agent.supervisor = supervisor;
    agent.queues = queues(queue_names)?;
    agent.default_extension = extension.map(Extension::new).transpose()?;
    agent.password_hash = match password {
        Some(p) if p.is_empty() => {
            return Err(AdminError::Invalid {
                field: "password",
                reason: "must not be empty",
            })
        }
        Some(p) => Some(PasswordHash::hash(&p)?),
        None => store.agent(&number)?.and_then(|a| a.password_hash),
    };
    Ok(agent)
}

/// Imports a TOML file; returns how many agents and pause reasons were written.
pub fn import(store: &SqliteDirectory, path: &Path) -> Result<(usize, usize), AdminError> {
    let text = std::fs::read_to_string(path).map_err(|source| AdminError::Read {
        what: path.display().to_string(),
        source,
    })?;
    import_str(store, &text)
}

/// Imports TOML text (validated whole before anything is written).
pub fn import_str(store: &SqliteDirectory, text: &str) -> Result<(usize, usize), AdminError> {
    let file: ImportFile = toml::from_str(text)?;
    let mut agents = Vec::new();
    for a in &file.agent {
        agents.push(build_agent(
            store,
            &a.number,
            &a.full_name,
            a.username.as_deref(),
            a.email.as_deref(),
            &a.profile,
            a.supervisor,
            a.password.clone().map(Secret::new),
            &a.queues,
            a.extension.as_deref(),
        )?);
    }
    let mut reasons = Vec::new();
    for r in &file.pause_reason {
        one_line("name", &r.name)?;
        reasons.push(PauseReason {
            id: PauseReasonId::new(r.id.as_str())?,
            name: r.name.clone(),
            max_seconds: r.max_seconds,
            queues: queues(&r.queues)?,
        });
    }
    for a in &agents {
        store.upsert_agent(a)?;
    }
    for r in &reasons {
        store.upsert_pause_reason(r)?;
    }
    Ok((agents.len(), reasons.len()))
}

/// Sets the MD5 digest hash (USCall's `senhamd5`) of every agent of an import file that has a
/// password.
fn import_digests(digests: &SqliteAgentDigests, path: &Path) -> Result<(), AdminError> {
    let text = std::fs::read_to_string(path).map_err(|source| AdminError::Read {
        what: path.display().to_string(),
        source,
    })?;
    let file: ImportFile = toml::from_str(&text)?;
    for a in &file.agent {
        if let Some(p) = a.password.as_deref().filter(|p| !p.is_empty()) {
            let number = AgentNumber::new(a.number.as_str())?;
            digests.set_digest(&number, &digest_hash(&Secret::new(p))?)?;
        }
    }
    Ok(())
}

fn join(queues: &[QueueName]) -> String {
    queues
        .iter()
        .map(QueueName::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs one admin command against the store at `store_path`, reading a password from `input`
/// when asked to and writing human-readable results to `out`.
pub fn run(
    store_path: &Path,
    command: AdminCommand,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let store = SqliteDirectory::open(store_path)?;
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(AdminError::Write);
    match command {
        AdminCommand::Agent(AgentCommand::Add {
            number,
            name,
            username,
            email,
            profile,
            supervisor,
            queues,
            extension,
            password_stdin,
        }) => {
            let password = if password_stdin {
                let mut line = String::new();
                input
                    .read_line(&mut line)
                    .map_err(|source| AdminError::Read {
                        what: "the password from standard input".into(),
                        source,
                    })?;
                Some(Secret::new(line.trim_end_matches(['\r', '\n'])))
            } else {
                None
            };
            let digest = match &password {
                Some(p) if !p.is_empty() => Some(digest_hash(p)?),
                _ => None,
            };
            let agent = build_agent(
                &store,
                &number,
                &name,
                username.as_deref(),
                email.as_deref(),
                &profile,
                supervisor,
                password,
                &queues,
                extension.as_deref(),
            )?;
            store.upsert_agent(&agent)?;
            if let Some(digest) = digest {
                SqliteAgentDigests::open(store_path)?.set_digest(&agent.number, &digest)?;
            }
            w(out, format!("agent {} saved", agent.number))
        }
        AdminCommand::Agent(AgentCommand::List) => {
            w(out, "number\tusername\tfull_name\temail\tprofile\tsupervisor\tpassword\tqueues\textension".into())?;
            for a in store.agents()? {
                w(
                    out,
                    format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        a.number,
                        a.username,
                        a.full_name,
                        a.email.as_deref().unwrap_or("-"),
                        a.profile,
                        if a.supervisor { "yes" } else { "no" },
                        if a.password_hash.is_some() {
                            "set"
                        } else {
                            "-"
                        },
                        join(&a.queues),
                        a.default_extension.as_ref().map_or("-", Extension::as_str),
                    ),
                )?;
            }
            Ok(())
        }
        AdminCommand::Agent(AgentCommand::Remove { number }) => {
            let number = AgentNumber::new(number)?;
            if !store.remove_agent(&number)? {
                return Err(AdminError::NotFound(format!("agent {number}")));
            }
            SqliteAgentDigests::open(store_path)?.remove_digest(&number)?;
            w(out, format!("agent {number} removed"))
        }
        AdminCommand::PauseReason(PauseReasonCommand::Add {
            id,
            name,
            max_seconds,
            queues: q,
        }) => {
            one_line("name", &name)?;
            let reason = PauseReason {
                id: PauseReasonId::new(id)?,
                name,
                max_seconds,
                queues: queues(&q)?,
            };
            store.upsert_pause_reason(&reason)?;
            w(out, format!("pause reason {} saved", reason.id))
        }
        AdminCommand::PauseReason(PauseReasonCommand::List) => {
            w(out, "id\tname\tmax_seconds\tqueues".into())?;
            for r in store.pause_reasons()? {
                w(
                    out,
                    format!(
                        "{}\t{}\t{}\t{}",
                        r.id,
                        r.name,
                        r.max_seconds.map_or("-".into(), |s| s.to_string()),
                        if r.queues.is_empty() {
                            "*".into()
                        } else {
                            join(&r.queues)
                        }
                    ),
                )?;
            }
            Ok(())
        }
        AdminCommand::PauseReason(PauseReasonCommand::Remove { id }) => {
            let id = PauseReasonId::new(id)?;
            if !store.remove_pause_reason(&id)? {
                return Err(AdminError::NotFound(format!("pause reason {id}")));
            }
            w(out, format!("pause reason {id} removed"))
        }
        AdminCommand::Credential(CredentialCommand::Create { system, api }) => {
            one_line("system", &system)?;
            let issued = store.create_credential(&system, api)?;
            w(
                out,
                format!(
                    "credential {} created for {system:?} on the {} API",
                    issued.credential.id,
                    api.as_str()
                ),
            )?;
            w(out, "key (shown only now; store it safely):".into())?;
            w(out, issued.key.expose().to_owned())
        }
        AdminCommand::Credential(CredentialCommand::Import { system, api }) => {
            one_line("system", &system)?;
            let mut line = String::new();
            input
                .read_line(&mut line)
                .map_err(|source| AdminError::Read {
                    what: "the key from standard input".into(),
                    source,
                })?;
            let key = Secret::new(line.trim_end_matches(['\r', '\n']));
            if !valid_imported_key(&key) {
                return Err(AdminError::Invalid {
                    field: "key",
                    reason: "an imported key is 8 to 256 visible ASCII characters",
                });
            }
            let c = store.import_credential(&system, api, key)?;
            w(
                out,
                format!(
                    "credential {} imported for {system:?} on the {} API",
                    c.id,
                    api.as_str()
                ),
            )
        }
        AdminCommand::Credential(CredentialCommand::List) => {
            w(out, "id\tapi\tsystem\tcreated_at\trevoked_at".into())?;
            for c in store.credentials()? {
                w(
                    out,
                    format!(
                        "{}\t{}\t{}\t{}\t{}",
                        c.id,
                        c.api.as_str(),
                        c.system,
                        c.created_at.seconds(),
                        c.revoked_at.map_or("-".into(), |t| t.seconds().to_string())
                    ),
                )?;
            }
            Ok(())
        }
        AdminCommand::Credential(CredentialCommand::Revoke { id }) => {
            let id = CredentialId::new(id)?;
            if !store.revoke_credential(&id)? {
                return Err(AdminError::NotFound(format!("live credential {id}")));
            }
            w(out, format!("credential {id} revoked"))
        }
        AdminCommand::Recordings(_) => Err(AdminError::Invalid {
            field: "command",
            reason: "recordings commands run through run_recordings (they need the node's paths)",
        }),
        AdminCommand::List(cmd) => lists::run(store_path, cmd, out),
        AdminCommand::Dialer(_) => Err(AdminError::Invalid {
            field: "command",
            reason: "dialer commands run through dialer::run (they need the call center's zone)",
        }),
        AdminCommand::Ivr(cmd) => ivr::run(store_path, cmd, out),
        AdminCommand::Webhooks(cmd) => webhooks::run(store_path, cmd, out),
        AdminCommand::Import { file } => {
            let (agents, reasons) = import(&store, &file)?;
            import_digests(&SqliteAgentDigests::open(store_path)?, &file)?;
            w(
                out,
                format!("imported {agents} agents and {reasons} pause reasons"),
            )
        }
    }
}

/// Runs `admin recordings ...` with the configuration's store, recordings directory and cache:
/// results on `out`, the import's progress bar on `progress` (a terminal's stderr).
pub fn run_recordings(
    config: &crate::config::Config,
    command: RecordingsCommand,
    out: &mut dyn Write,
    progress: &mut dyn Write,
) -> Result<(), AdminError> {
    use std::sync::Arc;

    use crate::core::recordings::RecordingsService;
    use crate::core::{TimeRange, UnixTime};

    let node = config.primary_node();
    let store = Arc::new(crate::store::SqliteRecordings::open(&config.store.path)?);
    let service = RecordingsService::new(
        store,
        Arc::new(crate::recording_media::MediaCodecs),
        &node.recordings_dir,
        config.recordings.cache_dir_for(&node.recordings_dir),
    );
    let w = |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(AdminError::Write);
    let recording_err =
        |e: crate::core::recordings::RecordingError| AdminError::Recordings(Box::new(e));
    match command {
        RecordingsCommand::Import { dir, dry_run } => {
            let mut bar = ProgressBar::new(progress);
            let summary = service
                .import_dir(&dir, dry_run, &mut |done, total| bar.show(done, total))
                .map_err(recording_err)?;
            bar.finish();
            let verb = if dry_run { "would import" } else { "imported" };
            w(
                out,
                format!(
                    "{} files: {verb} {} ({} matched to a CDR, {} unmatched), {} already \
                     imported, {} skipped",
                    summary.files,
                    summary.imported,
                    summary.matched,
                    summary.unmatched,
                    summary.already,
                    summary.skipped.len()
                ),
            )?;
            for s in &summary.skipped {
                w(out, format!("skipped {}: {}", s.file, s.reason))?;
            }
        }
        RecordingsCommand::Sweep { days } => {
            let now = UnixTime::now().seconds();
            let range = TimeRange::new(UnixTime(now - i64::from(days) * 86_400), UnixTime(now + 1));
            let r = service.sweep(range).map_err(recording_err)?;
            for id in &r.recordings_without_call {
                w(out, format!("recording without a call: {id}"))?;
            }
            for call in &r.answered_calls_without_recording {
                w(out, format!("answered call without a recording: {call}"))?;
            }
            for id in &r.missing_files {
                w(out, format!("catalogued file missing: {id}"))?;
            }
            for f in &r.files_not_catalogued {
                w(out, format!("file not catalogued: {f}"))?;
            }
            if r.is_clean() {
                w(out, "nothing to report".into())?;
            }
        }
    }
    Ok(())
}

/// A one-line progress bar (`\r[#####     ] 523/1000 files`), redrawn at most every 100 ms.
struct ProgressBar<'a> {
    out: &'a mut dyn Write,
    last: Option<std::time::Instant>,
    drawn: bool,
}

impl<'a> ProgressBar<'a> {
    const WIDTH: u64 = 30;

    fn new(out: &'a mut dyn Write) -> Self {
        Self {
            out,
            last: None,
            drawn: false,
        }
    }

    fn show(&mut self, done: u64, total: u64) {
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_millis(100));
        if !due && done < total {
            return;
        }
        self.last = Some(std::time::Instant::now());
        let filled = (done * Self::WIDTH)
            .checked_div(total)
            .unwrap_or(Self::WIDTH);
        let bar: String = (0..Self::WIDTH)
            .map(|i| if i < filled { '#' } else { ' ' })
            .collect();
        let _ = write!(self.out, "\r[{bar}] {done}/{total} files");
        let _ = self.out.flush();
        self.drawn = true;
    }

    fn finish(&mut self) {
        if self.drawn {
            let _ = writeln!(self.out);
        }
    }
}

// ------------------------------------------------------------------- journaling

/// Runs `command` against the store of `config` (stdin, stdout and stderr of the process), then
/// journals it as the engine's own action (actor `admin` and the invoking OS user) when it
/// changes something, whatever its outcome.
pub fn run_journaled(config: &Config, command: AdminCommand) -> Result<(), AdminError> {
    let stdin = std::io::stdin();
    let what = admin_action(&command);
    let result = match command {
        AdminCommand::Recordings(cmd) => {
            run_recordings(config, cmd, &mut std::io::stdout(), &mut std::io::stderr())
        }
        AdminCommand::List(cmd) => lists::run(&config.store.path, cmd, &mut std::io::stdout()),
        AdminCommand::Dialer(cmd) => dialer::run(
            &config.store.path,
            &config.engine.time_zone(),
            &config.engine.timezone,
            cmd,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        ),
        AdminCommand::Ivr(cmd) => ivr::run(&config.store.path, cmd, &mut std::io::stdout()),
        command => run(
            &config.store.path,
            command,
            &mut stdin.lock(),
            &mut std::io::stdout(),
        ),
    };
    if let Some((action, target, params)) = what {
        let actor = Actor::admin(os_user());
        let outcome = crate::core::audit::outcome_of(&result);
        let entry = EngineAction::now(&actor, action, target, params, outcome);
        match SqliteActionJournal::open(&config.store.path) {
            Ok(journal) => {
                if let Err(e) = journal.record(&entry) {
                    warn!(error = %error_chain(e.as_ref()), "admin action not journaled");
                }
            }
            Err(e) => warn!(error = %error_chain(&e), "admin action not journaled"),
        }
    }
    result
}

/// Who runs the admin command line: the invoking user behind sudo, else the login user.
fn os_user() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The journal entry (action, target, params) of an admin command that changes something;
/// `None` for listings. Never a secret: a password read from stdin shows as `password=set`.
fn admin_action(command: &AdminCommand) -> Option<(&'static str, String, String)> {
    Some(match command {
        AdminCommand::Agent(AgentCommand::Add {
            number,
            profile,
            supervisor,
            queues,
            extension,
            password_stdin,
            ..
        }) => (
            "agent.add",
            number.clone(),
            format!(
                "profile={profile} supervisor={supervisor} queues={} extension={}{}",
                queues.join(","),
                extension.as_deref().unwrap_or("-"),
                if *password_stdin { " password=set" } else { "" }
            ),
        ),
        AdminCommand::Agent(AgentCommand::Remove { number }) => {
            ("agent.remove", number.clone(), String::new())
        }
        AdminCommand::PauseReason(PauseReasonCommand::Add {
            id,
            max_seconds,
            queues,
            ..
        }) => (
            "pause_reason.add",
            id.clone(),
            format!(
                "max_seconds={} queues={}",
                max_seconds.map_or("-".to_owned(), |s| s.to_string()),
                queues.join(",")
            ),
        ),
        AdminCommand::PauseReason(PauseReasonCommand::Remove { id }) => {
            ("pause_reason.remove", id.clone(), String::new())
        }
        AdminCommand::Credential(CredentialCommand::Create { system, api }) => (
            "credential.create",
            system.clone(),
            format!("api={}", api.as_str()),
        ),
        AdminCommand::Credential(CredentialCommand::Import { system, api }) => (
            "credential.import",
            system.clone(),
            format!("api={} key=set", api.as_str()),
        ),
        AdminCommand::Credential(CredentialCommand::Revoke { id }) => {
            ("credential.revoke", id.clone(), String::new())
        }
        AdminCommand::Import { file } => ("import", file.display().to_string(), String::new()),
        AdminCommand::Recordings(RecordingsCommand::Import {
            dir,
            dry_run: false,
        }) => (
            "recordings.import",
            dir.display().to_string(),
            String::new(),
        ),
        AdminCommand::Recordings(
            RecordingsCommand::Import { dry_run: true, .. } | RecordingsCommand::Sweep { .. },
        ) => return None,
        AdminCommand::Dialer(cmd) => return dialer::action(cmd),
        AdminCommand::List(cmd) => return lists::action(cmd),
        AdminCommand::Ivr(cmd) => return ivr::action(cmd),
        AdminCommand::Webhooks(webhooks::WebhooksCommand::Retry { endpoint }) => (
            "webhooks.retry",
            endpoint.clone().unwrap_or_else(|| "*".to_owned()),
            String::new(),
        ),
        AdminCommand::Webhooks(webhooks::WebhooksCommand::Status) => return None,
        AdminCommand::Agent(AgentCommand::List)
        | AdminCommand::PauseReason(PauseReasonCommand::List)
        | AdminCommand::Credential(CredentialCommand::List) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    const SAMPLE: &str = r#"
[[agent]]
number = "2005"
full_name = "Ana López"
username = "ana"
email = "ana@example.com"
supervisor = true
password = "pw-2005"
queues = ["q_ventas", "q_soporte"]
extension = "1005"

[[agent]]
number = "2006"
full_name = "Beto"
queues = ["q_soporte"]

[[pause_reason]]
id = "almuerzo"
name = "Almuerzo"
max_seconds = 1800

[[pause_reason]]
id = "capacitacion"
name = "Capacitación"
queues = ["q_ventas"]
"#;

    fn run_str(path: &Path, cmd: AdminCommand, input: &str) -> Result<String, AdminError> {
        let mut out = Vec::new();
        run(path, cmd, &mut input.as_bytes(), &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn import_sample_toml() {
        let dir = TempDir::new("admin-import");
        let path = dir.path().join("s.db");
        let file = dir.path().join("dir.toml");
        std::fs::write(&file, SAMPLE).unwrap();
        let out = run_str(&path, AdminCommand::Import { file: file.clone() }, "").unwrap();
        assert_eq!(out, "imported 2 agents and 2 pause reasons\n");

        let store = SqliteDirectory::open(&path).unwrap();
        let ana = store
            .agent(&AgentNumber::new("2005").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(ana.username, "ana");
        assert!(ana.supervisor);
        assert_eq!(ana.queues.len(), 2);
        assert!(ana
            .password_hash
            .as_ref()
            .unwrap()
            .verify(&Secret::new("pw-2005")));
        let beto = store
            .agent(&AgentNumber::new("2006").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            (beto.username.as_str(), beto.profile.as_str()),
            ("2006", "agent")
        );
        assert!(beto.password_hash.is_none());
        let reasons = store.pause_reasons().unwrap();
        assert_eq!(reasons.len(), 2);
        assert_eq!(reasons[0].max_seconds, Some(1800));
        drop(store);

        // Re-import without the password keeps the stored hash.
        std::fs::write(&file, SAMPLE.replace("password = \"pw-2005\"\n", "")).unwrap();
        run_str(&path, AdminCommand::Import { file: file.clone() }, "").unwrap();
        let store = SqliteDirectory::open(&path).unwrap();
        let ana = store
            .agent(&AgentNumber::new("2005").unwrap())
            .unwrap()
            .unwrap();
        assert!(ana.password_hash.unwrap().verify(&Secret::new("pw-2005")));

        let listed = run_str(&path, AdminCommand::Agent(AgentCommand::List), "").unwrap();
        assert!(
            listed.contains(
                "2005\tana\tAna López\tana@example.com\tagent\tyes\tset\tq_ventas,q_soporte\t1005"
            ),
            "{listed}"
        );
        assert!(!listed.contains("pw-2005"));
    }

    #[test]
    fn import_refuses_unknown_keys_and_bad_ids_without_writing() {
        let dir = TempDir::new("admin-import-bad");
        let store = SqliteDirectory::open(&dir.path().join("s.db")).unwrap();
        for bad in [
            "[[agent]]\nnumber = \"1\"\nfull_name = \"x\"\nqueue = [\"q\"]\n",
            "[[agents]]\nnumber = \"1\"\n",
            "[[agent]]\nnumber = \"1\"\nfull_name = \"x\"\nqueues = [\"q bad\"]\n",
            "[[pause_reason]]\nid = \"a,b\"\nname = \"x\"\n",
        ] {
            assert!(import_str(&store, bad).is_err(), "{bad}");
        }
        // A valid agent before an invalid one is not written either.
        let mixed = "[[agent]]\nnumber = \"1\"\nfull_name = \"x\"\n\
                     [[agent]]\nnumber = \"bad id\"\nfull_name = \"y\"\n";
        assert!(import_str(&store, mixed).is_err());
        assert!(store.agents().unwrap().is_empty());
    }

    #[test]
    fn commands_add_list_remove_and_credentials() {
        let dir = TempDir::new("admin-cmds");
        let path = dir.path().join("s.db");
        let add = AdminCommand::Agent(AgentCommand::Add {
            number: "2007".into(),
            name: "Carla".into(),
            username: None,
            email: None,
            profile: "agent".into(),
            supervisor: false,
            queues: vec!["q_ventas".into()],
            extension: Some("1007".into()),
            password_stdin: true,
        });
        assert_eq!(run_str(&path, add, "pw\n").unwrap(), "agent 2007 saved\n");
        let store = SqliteDirectory::open(&path).unwrap();
        let carla = store
            .agent(&AgentNumber::new("2007").unwrap())
            .unwrap()
            .unwrap();
        assert!(carla.password_hash.unwrap().verify(&Secret::new("pw")));
        // USCall's agentLogin digest is set with the password (MD5 itself is not stored).
        let digests = SqliteAgentDigests::open(&path).unwrap();
        let digest = digests.digest(&carla.number).unwrap().unwrap();
        assert!(crate::core::agent_digest::verify_digest(
            &digest,
            &Secret::new(crate::core::md5::md5_hex(b"pw"))
        ));

        let add_reason = AdminCommand::PauseReason(PauseReasonCommand::Add {
            id: "bano".into(),
            name: "Baño".into(),
            max_seconds: Some(300),
            queues: vec![],
        });
        run_str(&path, add_reason, "").unwrap();
        let listed = run_str(
            &path,
            AdminCommand::PauseReason(PauseReasonCommand::List),
            "",
        )
        .unwrap();
        assert!(listed.contains("bano\tBaño\t300\t*"), "{listed}");

        let created = run_str(
            &path,
            AdminCommand::Credential(CredentialCommand::Create {
                system: "CRM".into(),
                api: CredentialApi::Expand,
            }),
            "",
        )
        .unwrap();
        let key = created.lines().last().unwrap().to_owned();
        assert!(store
            .verify_credential(&Secret::new(key.clone()))
            .unwrap()
            .is_some());
        let id = key.split('.').next().unwrap().to_owned();
        let listed = run_str(&path, AdminCommand::Credential(CredentialCommand::List), "").unwrap();
        assert!(listed.contains(&id) && !listed.contains(&key), "{listed}");
        run_str(
            &path,
            AdminCommand::Credential(CredentialCommand::Revoke { id: id.clone() }),
            "",
        )
        .unwrap();
        assert!(store
            .verify_credential(&Secret::new(key))
            .unwrap()
            .is_none());
        assert!(matches!(
            run_str(
                &path,
                AdminCommand::Credential(CredentialCommand::Revoke { id }),
                ""
            ),
            Err(AdminError::NotFound(_))
        ));

        // A key another product issued, taken over as it is; never printed back.
        let legacy = "$1$gcNiVTZp$5IqX.EhuJyLNG7pBc5o4..";
        let import = |key: &str| {
            run_str(
                &path,
                AdminCommand::Credential(CredentialCommand::Import {
                    system: "USCall".into(),
                    api: CredentialApi::Uscall,
                }),
                key,
            )
        };
        let imported = import(&format!("{legacy}\n")).unwrap();
        assert!(imported.starts_with("credential imp"), "{imported}");
        assert!(!imported.contains(legacy), "{imported}");
        let c = store
            .verify_credential(&Secret::new(legacy))
            .unwrap()
            .expect("the imported key verifies");
        assert_eq!(c.api, CredentialApi::Uscall);
        for bad in ["", "short\n", "has a space\n"] {
            assert!(
                matches!(import(bad), Err(AdminError::Invalid { field: "key", .. })),
                "{bad:?}"
            );
        }

        run_str(
            &path,
            AdminCommand::Agent(AgentCommand::Remove {
                number: "2007".into(),
            }),
            "",
        )
        .unwrap();
        assert!(store.agents().unwrap().is_empty());
        assert!(digests.digest(&carla.number).unwrap().is_none());

        // An import with a password sets the digest too.
        let file = dir.path().join("dir.toml");
        std::fs::write(
            &file,
            "[[agent]]\nnumber = \"2008\"\nfull_name = \"D\"\npassword = \"pw8\"\n",
        )
        .unwrap();
        run_str(&path, AdminCommand::Import { file }, "").unwrap();
        let digest = digests
            .digest(&AgentNumber::new("2008").unwrap())
            .unwrap()
            .unwrap();
        assert!(crate::core::agent_digest::verify_digest(
            &digest,
            &Secret::new(crate::core::md5::md5_hex(b"pw8"))
        ));
    }
}
