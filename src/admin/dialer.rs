//! `centralita admin dialer ...`: dialer campaigns (create, update, show, list), contact
//! imports in the uploadbase format with progress, the "why is nothing dialable" breakdown and
//! contact listings. Rules and validation are the core's (`core::dialer`); this file turns
//! arguments into its types and its answers into lines.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use jiff::tz::TimeZone;

use super::AdminError;
use crate::core::campaigns::CampaignName;
use crate::core::dialer::campaign::{
    holidays_text, parse_holidays, AbandonStart, AbandonTarget, AlternativesOrder, CampaignState,
    DialMode, Hours, Regime, RetryRules, SoundName, Weekdays,
};
use crate::core::dialer::import::import_base;
use crate::core::dialer::{
    self, CampaignError, CampaignId, ContactState, DialerCampaign, DialerError, DialerStore,
    ZoneName,
};
use crate::core::directory::{QueueName, TrunkName};
use crate::core::originate::PhoneNumber;
use crate::core::UnixTime;
use crate::store::SqliteDialer;

/// `admin dialer <what>`.
#[derive(Debug, Subcommand)]
pub enum DialerCommand {
    /// Dialer campaigns.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Imports contacts from an uploadbase file
    /// (`campaña;número;var=val:var=val;alt:alt;prioridad;teléfono agente`); importing a file
    /// again adds nothing.
    Import {
        /// The campaign.
        campaign: String,
        /// The file.
        file: PathBuf,
        /// The zone of numbers that say none (default: the campaign's).
        #[arg(long)]
        zone: Option<String>,
    },
    /// How many contacts each filter excludes now, and how many are dialable.
    Why {
        /// The campaign.
        campaign: String,
        /// The instant (RFC 3339, `2026-03-09T10:00:00Z`; default: now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Lists a campaign's contacts.
    Contacts {
        /// The campaign.
        campaign: String,
        /// Only this state (pending, in_progress, completed, rejected, canceled).
        #[arg(long)]
        state: Option<String>,
        /// Skip this many.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
}

/// `admin dialer campaign <what>`.
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Creates a campaign (Incomplete unless `--state` says otherwise).
    Create {
        /// Its name.
        name: String,
        /// The settings.
        #[command(flatten)]
        settings: Box<CampaignSettings>,
    },
    /// Changes the given settings of a campaign.
    Update {
        /// Its name.
        name: String,
        /// The settings to change.
        #[command(flatten)]
        settings: Box<CampaignSettings>,
    },
    /// Shows a campaign.
    Show {
        /// Its name.
        name: String,
    },
    /// Lists the campaigns.
    List,
}

/// A campaign's settings as options; the absent ones keep their value (or the default).
#[derive(Debug, Args, Default)]
pub struct CampaignSettings {
    /// The queue whose agents take the calls (required on create).
    #[arg(long)]
    pub queue: Option<String>,
    /// preview, progressive, predictive or power:RATIO.
    #[arg(long)]
    pub mode: Option<String>,
    /// The trunk (`-`: the dialplan's default).
    #[arg(long)]
    pub trunk: Option<String>,
    /// The caller id number (`-`: the trunk's).
    #[arg(long)]
    pub caller_id: Option<String>,
    /// Weekdays: mon-fri, mon,wed,fri or all.
    #[arg(long)]
    pub days: Option<String>,
    /// Local hours: HH:MM-HH:MM.
    #[arg(long)]
    pub hours: Option<String>,
    /// The calling-hours floor: HH:MM-HH:MM (default 08:00-21:00).
    #[arg(long)]
    pub floor: Option<String>,
    /// Holidays: YYYY-MM-DD,... (empty: none).
    #[arg(long)]
    pub holidays: Option<String>,
    /// Retry rules OUTCOME=DELAY_S/MAX, comma separated, replacing all of them (outcomes:
    /// busy, no_answer, congestion, machine, disposition:CODE; empty: none).
    #[arg(long)]
    pub retry: Option<String>,
    /// main_only or rotate.
    #[arg(long)]
    pub alternatives: Option<String>,
    /// The campaign's priority (lower first).
    #[arg(long)]
    pub priority: Option<u32>,
    /// Ring timeout in seconds (at least 15).
    #[arg(long)]
    pub ring_timeout: Option<u32>,
    /// Abandon target in percent (default 3).
    #[arg(long)]
    pub abandon_target: Option<String>,
    /// us or uk.
    #[arg(long)]
    pub regime: Option<String>,
    /// Incomplete, Active, Finalized or Stored.
    #[arg(long)]
    pub state: Option<String>,
    /// The zone of national numbers (default on create: the call center's).
    #[arg(long)]
    pub zone: Option<String>,
    /// Answering-machine detection: on or off (default off).
    #[arg(long)]
    pub amd: Option<String>,
    /// Seconds an answered person may wait for an agent before the safe-harbor message (1-10,
    /// default 2).
    #[arg(long)]
    pub abandon_threshold: Option<u8>,
    /// Where the threshold counts from: answer or greeting_end (default greeting_end).
    #[arg(long)]
    pub abandon_start: Option<String>,
    /// The safe-harbor sound (Asterisk sound names joined with &; default im-sorry&goodbye).
    #[arg(long)]
    pub safe_harbor: Option<String>,
}

fn invalid(e: CampaignError) -> AdminError {
    AdminError::Dialer(Box::new(DialerError::Invalid(e)))
}

impl CampaignSettings {
    /// Applies the given settings to `c`.
    pub fn apply(&self, c: &mut DialerCampaign) -> Result<(), AdminError> {
        let none_or = |s: &str| (s != "-" && !s.is_empty()).then(|| s.to_owned());
        if let Some(q) = &self.queue {
            c.queue = QueueName::new(q)?;
        }
        if let Some(m) = &self.mode {
            c.mode = DialMode::parse(m).map_err(invalid)?;
        }
        if let Some(t) = &self.trunk {
            c.trunk = none_or(t).map(|t| TrunkName::new(&t)).transpose()?;
        }
        if let Some(n) = &self.caller_id {
            c.caller_id = none_or(n)
                .map(|n| PhoneNumber::parse(&n).map_err(|_| invalid(CampaignError::BadCallerId)))
                .transpose()?;
        }
        if let Some(d) = &self.days {
            c.schedule.weekdays = Weekdays::parse(d).map_err(invalid)?;
        }
        if let Some(h) = &self.hours {
            c.schedule.hours = Hours::parse(h).map_err(invalid)?;
        }
        if let Some(f) = &self.floor {
            c.calling_floor = Hours::parse(f).map_err(invalid)?;
        }
        if let Some(h) = &self.holidays {
            c.schedule.holidays = parse_holidays(h).map_err(invalid)?;
        }
        if let Some(r) = &self.retry {
            c.retry = RetryRules::parse(r).map_err(invalid)?;
        }
        if let Some(a) = &self.alternatives {
            c.alternatives = AlternativesOrder::parse(a).map_err(invalid)?;
        }
        if let Some(p) = self.priority {
            c.priority = p;
        }
        if let Some(t) = self.ring_timeout {
            c.ring_timeout_s = t;
        }
        if let Some(a) = &self.abandon_target {
            c.abandon_target = AbandonTarget::parse(a).map_err(invalid)?;
        }
        if let Some(r) = &self.regime {
            c.regime = Regime::parse(r).map_err(invalid)?;
        }
        if let Some(s) = &self.state {
            c.state = CampaignState::parse(s).map_err(invalid)?;
        }
        if let Some(z) = &self.zone {
            c.default_zone = ZoneName::parse(z).map_err(invalid)?;
        }
        if let Some(a) = &self.amd {
            c.answer.amd = match a.trim().to_ascii_lowercase().as_str() {
                "on" | "yes" | "true" => true,
                "off" | "no" | "false" => false,
                other => {
                    return Err(invalid(CampaignError::BadAnswerHandling(
                        other.chars().take(16).collect(),
                    )))
                }
            };
        }
        if let Some(t) = self.abandon_threshold {
            c.answer.threshold_s = t;
        }
        if let Some(st) = &self.abandon_start {
            c.answer.start = AbandonStart::parse(st).map_err(invalid)?;
        }
        if let Some(sh) = &self.safe_harbor {
            c.answer.safe_harbor = SoundName::parse(sh).map_err(invalid)?;
        }
        c.validate().map_err(invalid)
    }
}

fn name(s: &str) -> Result<CampaignName, AdminError> {
    CampaignName::parse(s).ok_or_else(|| invalid(CampaignError::BadName))
}

fn find(store: &SqliteDialer, s: &str) -> Result<(CampaignId, DialerCampaign), AdminError> {
    store
        .campaign_by_name(&name(s)?)?
        .ok_or_else(|| AdminError::NotFound(format!("dialer campaign {s}")))
}

fn show(out: &mut dyn Write, id: CampaignId, c: &DialerCampaign) -> std::io::Result<()> {
    let opt = |o: Option<&str>| o.unwrap_or("-").to_owned();
    for (k, v) in [
        ("id", id.to_string()),
        ("name", c.name.to_string()),
        ("state", c.state.as_str().to_owned()),
        ("queue", c.queue.to_string()),
        ("mode", c.mode.as_text()),
        ("trunk", opt(c.trunk.as_ref().map(|t| t.as_str()))),
        ("caller_id", opt(c.caller_id.as_ref().map(|n| n.as_str()))),
        ("days", c.schedule.weekdays.as_text()),
        ("hours", c.schedule.hours.to_string()),
        ("floor", c.calling_floor.to_string()),
        ("holidays", holidays_text(&c.schedule.holidays)),
        ("retry", c.retry.as_text()),
        ("alternatives", c.alternatives.as_text().to_owned()),
        ("priority", c.priority.to_string()),
        ("ring_timeout", format!("{} s", c.ring_timeout_s)),
        ("abandon_target", format!("{} %", c.abandon_target)),
        ("regime", c.regime.as_text().to_owned()),
        ("zone", c.default_zone.to_string()),
        ("amd", if c.answer.amd { "on" } else { "off" }.to_owned()),
        (
            "abandon",
            format!(
                "{} s from {}, safe harbor {}",
                c.answer.threshold_s,
                c.answer.start.as_text(),
                c.answer.safe_harbor.as_str()
            ),
        ),
    ] {
        writeln!(out, "{k:<15}{v}")?;
    }
    Ok(())
}

/// A one-line import progress (`\rread 12000, imported 11990, ...`), redrawn per batch.
fn progress_line(out: &mut dyn Write, r: &dialer::import::ImportReport) {
    let _ = write!(
        out,
        "\rread {}, imported {}, duplicates {}, rejected {}",
        r.read, r.imported, r.duplicates, r.rejected_count
    );
    let _ = out.flush();
}

/// Runs `admin dialer ...` against the store at `store_path`; `center` is the call center's
/// zone (`center_name` its name: new campaigns' default zone). Results on `out`, an import's
/// progress on `progress`.
pub fn run(
    store_path: &Path,
    center: &TimeZone,
    center_name: &str,
    command: DialerCommand,
    out: &mut dyn Write,
    progress: &mut dyn Write,
) -> Result<(), AdminError> {
    let store = SqliteDialer::open(store_path)?;
    let write = AdminError::Write;
    match command {
        DialerCommand::Campaign(CampaignCommand::Create { name: n, settings }) => {
            let queue = settings.queue.as_deref().ok_or(AdminError::Invalid {
                field: "queue",
                reason: "required",
            })?;
            let zone = ZoneName::parse(settings.zone.as_deref().unwrap_or(center_name))
                .map_err(invalid)?;
            let mut c = DialerCampaign::new(name(&n)?, QueueName::new(queue)?, zone);
            settings.apply(&mut c)?;
            let id = store.campaign_create(&c)?.ok_or_else(|| {
                AdminError::Dialer(Box::new(DialerError::NameTaken(c.name.clone())))
            })?;
            writeln!(out, "created dialer campaign {id} {}", c.name).map_err(write)?;
        }
        DialerCommand::Campaign(CampaignCommand::Update { name: n, settings }) => {
            let (id, mut c) = find(&store, &n)?;
            settings.apply(&mut c)?;
            if !store.campaign_update(id, &c)? {
                return Err(AdminError::NotFound(format!("dialer campaign {n}")));
            }
            writeln!(out, "updated dialer campaign {id} {}", c.name).map_err(write)?;
        }
        DialerCommand::Campaign(CampaignCommand::Show { name: n }) => {
            let (id, c) = find(&store, &n)?;
            show(out, id, &c).map_err(write)?;
        }
        DialerCommand::Campaign(CampaignCommand::List) => {
            for (id, c) in store.campaigns()? {
                writeln!(
                    out,
                    "{id}\t{}\t{}\t{}\t{}",
                    c.name,
                    c.state.as_str(),
                    c.mode.as_text(),
                    c.queue
                )
                .map_err(write)?;
            }
        }
        DialerCommand::Import {
            campaign,
            file,
            zone,
        } => {
            let (id, c) = find(&store, &campaign)?;
            let zone = zone
                .map(|z| ZoneName::parse(&z).map_err(invalid))
                .transpose()?;
            let f = std::fs::File::open(&file).map_err(|source| AdminError::Read {
                what: file.display().to_string(),
                source,
            })?;
            let mut input = std::io::BufReader::new(f);
            let report = import_base(
                &store,
                id,
                &c,
                &mut input,
                zone.as_ref(),
                UnixTime::now(),
                &mut |r| progress_line(progress, r),
            )
            .map_err(|e| AdminError::Import(Box::new(e)))?;
            let _ = writeln!(progress);
            writeln!(
                out,
                "read {} lines: imported {}, duplicates {}, rejected {}",
                report.read, report.imported, report.duplicates, report.rejected_count
            )
            .map_err(write)?;
            for r in &report.rejected {
                writeln!(out, "line {}: {}", r.line, r.reason).map_err(write)?;
            }
            if report.rejected_count > report.rejected.len() as u64 {
                writeln!(
                    out,
                    "({} more rejected lines not listed)",
                    report.rejected_count - report.rejected.len() as u64
                )
                .map_err(write)?;
            }
        }
        DialerCommand::Why { campaign, at } => {
            let (id, _) = find(&store, &campaign)?;
            let now = match at {
                Some(t) => UnixTime(
                    t.parse::<jiff::Timestamp>()
                        .map_err(|_| AdminError::Invalid {
                            field: "at",
                            reason: "not an RFC 3339 instant",
                        })?
                        .as_second(),
                ),
                None => UnixTime::now(),
            };
            let w = dialer::why(&store, id, now, center)
                .map_err(|e| AdminError::Dialer(Box::new(e)))?;
            for (k, v) in [
                ("contacts", w.total),
                ("not pending", w.state),
                ("attempts exhausted", w.attempts_exhausted),
                ("retry delay or callback not due", w.not_due),
                ("blacklisted", w.blacklisted),
                ("holiday in their zone", w.holiday),
                ("outside hours in their zone", w.outside_hours),
                ("for an agent (when free)", w.for_agent),
                ("dialable", w.dialable),
            ] {
                writeln!(out, "{k:<32}{v}").map_err(write)?;
            }
        }
        DialerCommand::Contacts {
            campaign,
            state,
            offset,
            limit,
        } => {
            let (id, _) = find(&store, &campaign)?;
            let state = state
                .map(|s| {
                    ContactState::parse(&s).ok_or(AdminError::Invalid {
                        field: "state",
                        reason: "pending, in_progress, completed, rejected or canceled",
                    })
                })
                .transpose()?;
            for c in store.contacts(id, state, offset, limit)? {
                let alternatives: Vec<&str> = c
                    .spec
                    .alternatives
                    .iter()
                    .map(PhoneNumber::as_str)
                    .collect();
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\tattempts={}\tpriority={}\t{}\t{}",
                    c.id,
                    c.spec.main,
                    c.state.as_str(),
                    c.spec.zone,
                    c.attempts,
                    c.spec.priority,
                    alternatives.join(":"),
                    c.spec.data.as_text()
                )
                .map_err(write)?;
            }
        }
    }
    Ok(())
}

/// The journal entry (action, target, params) of a dialer command that changes something.
pub fn action(command: &DialerCommand) -> Option<(&'static str, String, String)> {
    let settings = |s: &CampaignSettings| {
        [
            ("queue", &s.queue),
            ("mode", &s.mode),
            ("state", &s.state),
            ("zone", &s.zone),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
    };
    Some(match command {
        DialerCommand::Campaign(CampaignCommand::Create { name, settings: s }) => {
            ("dialer.campaign.create", name.clone(), settings(s))
        }
        DialerCommand::Campaign(CampaignCommand::Update { name, settings: s }) => {
            ("dialer.campaign.update", name.clone(), settings(s))
        }
        DialerCommand::Import { campaign, file, .. } => (
            "dialer.import",
            campaign.clone(),
            format!("file={}", file.display()),
        ),
        DialerCommand::Campaign(CampaignCommand::Show { .. } | CampaignCommand::List)
        | DialerCommand::Why { .. }
        | DialerCommand::Contacts { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: DialerCommand,
    }

    fn run_args(path: &Path, args: &[&str]) -> Result<(String, String), AdminError> {
        let cli = Cli::try_parse_from(std::iter::once("dialer").chain(args.iter().copied()))
            .expect("arguments");
        let (mut out, mut progress) = (Vec::new(), Vec::new());
        run(
            path,
            &TimeZone::UTC,
            "America/Montevideo",
            cli.command,
            &mut out,
            &mut progress,
        )?;
        Ok((
            String::from_utf8(out).unwrap(),
            String::from_utf8(progress).unwrap(),
        ))
    }

    #[test]
    fn campaigns_imports_why_and_contacts() {
        let dir = TempDir::new("admin-dialer");
        let path = dir.path().join("s.db");
        let (out, _) = run_args(
            &path,
            &[
                "campaign",
                "create",
                "prueba1",
                "--queue",
                "q_ventas",
                "--mode",
                "power:1.5",
            ],
        )
        .unwrap();
        assert_eq!(out, "created dialer campaign 1 prueba1\n");
        // The ring timeout is checked on save.
        let err = run_args(
            &path,
            &["campaign", "update", "prueba1", "--ring-timeout", "10"],
        );
        assert!(err.unwrap_err().to_string().contains("ring timeout 10 s"));
        let err = run_args(
            &path,
            &[
                "campaign",
                "create",
                "x",
                "--queue",
                "q",
                "--zone",
                "Mars/Base",
            ],
        );
        assert!(err.is_err());
        run_args(
            &path,
            &[
                "campaign",
                "update",
                "prueba1",
                "--state",
                "active",
                "--days",
                "all",
                "--hours",
                "00:00-24:00",
                "--retry",
                "busy=600/4",
                "--trunk",
                "carrier",
            ],
        )
        .unwrap();
        let (out, _) = run_args(&path, &["campaign", "show", "prueba1"]).unwrap();
        for line in [
            "state          Active",
            "mode           power:1.50",
            "zone           America/Montevideo",
            "retry          busy=600/4",
            "trunk          carrier",
            "floor          08:00-21:00",
        ] {
            assert!(out.contains(line), "{line}\n{out}");
        }
        let (out, _) = run_args(&path, &["campaign", "list"]).unwrap();
        assert_eq!(out, "1\tprueba1\tActive\tpower:1.50\tq_ventas\n");

        let file = dir.path().join("base.txt");
        std::fs::write(
            &file,
            "prueba1;098344484;var1=val1;099124484;5;1001\nprueba1;099000002\nprueba1;bad\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let (out, progress) = run_args(&path, &["import", "prueba1", f]).unwrap();
        assert_eq!(
            out,
            "read 3 lines: imported 2, duplicates 0, rejected 1\nline 3: invalid main number\n"
        );
        assert!(progress.contains("imported 2"), "{progress}");
        let (out, _) = run_args(&path, &["import", "prueba1", f]).unwrap();
        assert!(out.starts_with("read 3 lines: imported 0, duplicates 2, rejected 1"));

        // Thursday 2027-03-04 15:00 UTC is 12:00 in Montevideo: both dialable, the first by
        // its agent (1001) alone.
        let (out, _) =
            run_args(&path, &["why", "prueba1", "--at", "2027-03-04T15:00:00Z"]).unwrap();
        assert!(out.contains("contacts                        2"), "{out}");
        assert!(out.contains("for an agent (when free)        1"), "{out}");
        assert!(out.contains("dialable                        1"), "{out}");
        // 03:00 in Montevideo: both outside hours.
        let (out, _) =
            run_args(&path, &["why", "prueba1", "--at", "2027-03-04T06:00:00Z"]).unwrap();
        assert!(out.contains("outside hours in their zone     2"), "{out}");

        let (out, _) = run_args(&path, &["contacts", "prueba1", "--state", "pending"]).unwrap();
        assert_eq!(out.lines().count(), 2);
        assert!(out.starts_with(
            "1\t098344484\tpending\tAmerica/Montevideo\tattempts=0\tpriority=5\t099124484\tvar1=val1\n"
        ));
        assert!(run_args(&path, &["contacts", "nope"]).is_err());
    }
}
