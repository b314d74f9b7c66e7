//! A dialer campaign: who dials (queue, mode), how (trunk, caller id, ring timeout), when (the
//! schedule and the calling-hours floor, read in each contact's own time zone), what happens
//! after each outcome (retry rules) and its legal frame (abandon target, regime). Pure values and
//! their validation ([`DialerCampaign::validate`], [`CampaignError`]); the text forms the admin
//! CLI reads and the store keeps (`parse` / `as_text` on each part) are defined here once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;

use crate::core::campaigns::CampaignName;
use crate::core::directory::{QueueName, TrunkName};
use crate::core::originate::PhoneNumber;

/// A dialer campaign's id, chosen by the store (eXpand's integer campaign id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CampaignId(pub i64);

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An IANA time zone name that the engine's time zone database knows (`America/New_York`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneName(String);

impl ZoneName {
    /// Whether `name` is an IANA time zone name the system's database knows: at most 64
    /// characters of `[A-Za-z0-9_+-]` in `/`-separated parts. Absolute paths, `..` and POSIX
    /// TZ strings are refused: only names (the engine's own zone is checked by this too).
    pub fn is_known(name: &str) -> bool {
        let shaped = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('/')
            && name.split('/').all(|part| {
                !part.is_empty()
                    && part != "."
                    && part != ".."
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
            });
        shaped && TimeZone::get(name).is_ok()
    }

    /// A name the database knows ([`ZoneName::is_known`]).
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        if Self::is_known(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(CampaignError::BadZone(s.chars().take(64).collect()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The zone's rules (looked up again; the name was valid when parsed).
    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.0).unwrap_or(TimeZone::UTC)
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the dialer paces a campaign's calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialMode {
    /// The agent sees the contact and places the call.
    Preview,
    /// One call per free agent.
    Progressive,
    /// Calls ahead of free agents, from the pacing model, within the abandon target.
    Predictive,
    /// A fixed number of calls per free agent.
    Power {
        /// Calls per free agent.
        ratio: DialRatio,
    },
}

impl DialMode {
    /// `preview`, `progressive`, `predictive` or `power:<ratio>` (`power:1.5`).
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "preview" => Ok(Self::Preview),
            "progressive" => Ok(Self::Progressive),
            "predictive" => Ok(Self::Predictive),
            other => match other.strip_prefix("power:") {
                Some(r) => Ok(Self::Power {
                    ratio: DialRatio::parse(r)?,
                }),
                None => Err(CampaignError::BadMode(s.chars().take(32).collect())),
            },
        }
    }

    /// The text form [`Self::parse`] reads.
    pub fn as_text(&self) -> String {
        match self {
            Self::Preview => "preview".into(),
            Self::Progressive => "progressive".into(),
            Self::Predictive => "predictive".into(),
            Self::Power { ratio } => format!("power:{ratio}"),
        }
    }
}

/// Calls per free agent in power mode, in hundredths (1.00 to 10.00).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DialRatio(u16);

impl DialRatio {
    /// `1`, `1.5`, `2.25`: between 1 and 10, at most two decimals.
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        let bad = || CampaignError::BadRatio(s.chars().take(16).collect());
        let hundredths = parse_hundredths(s).ok_or_else(bad)?;
        (100..=1000)
            .contains(&hundredths)
            .then_some(Self(hundredths as u16))
            .ok_or_else(bad)
    }

    /// The ratio in hundredths.
    pub fn hundredths(self) -> u16 {
        self.0
    }
}

impl fmt::Display for DialRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// `12`, `3.5`, `0.25` as hundredths (at most two decimals, at most 100000).
fn parse_hundredths(s: &str) -> Option<u32> {
    let (int, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 5 || frac.len() > 2 || !digits(int) || !digits(frac) {
        return None;
    }
    let frac = format!("{frac:0<2}");
    Some(int.parse::<u32>().ok()? * 100 + frac.parse::<u32>().ok()?)
}

/// A time of day, minutes after midnight (`00:00` to `24:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// `HH:MM`, `00:00` to `24:00`.
    pub fn parse(s: &str) -> Option<Self> {
        let (h, m) = s.trim().split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(Self(h * 60 + m))
    }

    /// From hours and minutes (`None` when out of range).
    pub fn hm(h: u16, m: u16) -> Option<Self> {
        (m < 60 && h * 60 + m <= 24 * 60).then_some(Self(h * 60 + m))
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A window of local time `[start, end)` within one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hours {
    /// The first minute inside.
    pub start: TimeOfDay,
    /// The first minute outside.
    pub end: TimeOfDay,
}

impl Hours {
    /// `HH:MM-HH:MM` with start before end.
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        let bad = || CampaignError::BadHours(s.chars().take(32).collect());
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let (start, end) = (
            TimeOfDay::parse(a).ok_or_else(bad)?,
            TimeOfDay::parse(b).ok_or_else(bad)?,
        );
        (start < end).then_some(Self { start, end }).ok_or_else(bad)
    }

    /// Whether the local time `t` lies inside.
    pub fn contains(&self, t: jiff::civil::Time) -> bool {
        let m = t.hour() as u16 * 60 + t.minute() as u16;
        self.start.0 <= m && m < self.end.0
    }

    /// The default calling-hours floor: 08:00-21:00 local.
    pub fn default_floor() -> Self {
        Self {
            start: TimeOfDay(8 * 60),
            end: TimeOfDay(21 * 60),
        }
    }
}

impl fmt::Display for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// A set of weekdays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weekdays(u8);

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

impl Weekdays {
    /// Monday to Friday.
    pub fn mon_fri() -> Self {
        Self(0b001_1111)
    }

    /// Every day.
    pub fn all() -> Self {
        Self(0b111_1111)
    }

    fn bit(d: Weekday) -> u8 {
        1 << (d.to_monday_zero_offset() as u8)
    }

    /// `mon,tue,sat`, ranges `mon-fri`, or `all` (lower or upper case); never empty.
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        let bad = || CampaignError::BadWeekdays(s.chars().take(32).collect());
        let index = |n: &str| DAY_NAMES.iter().position(|(name, _)| *name == n);
        let text = s.trim().to_ascii_lowercase();
        if text == "all" {
            return Ok(Self::all());
        }
        let mut bits = 0u8;
        for part in text.split(',').map(str::trim) {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (a, b) = (index(a).ok_or_else(bad)?, index(b).ok_or_else(bad)?);
            if a > b {
                return Err(bad());
            }
            for (_, d) in &DAY_NAMES[a..=b] {
                bits |= Self::bit(*d);
            }
        }
        (bits != 0).then_some(Self(bits)).ok_or_else(bad)
    }

    /// Whether `d` is in the set.
    pub fn contains(self, d: Weekday) -> bool {
        self.0 & Self::bit(d) != 0
    }

    /// `mon,tue,...` (the form [`Self::parse`] reads).
    pub fn as_text(self) -> String {
        DAY_NAMES
            .iter()
            .filter(|(_, d)| self.contains(*d))
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// When a campaign dials, in each contact's local time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The days it dials.
    pub weekdays: Weekdays,
    /// The hours it dials on those days.
    pub hours: Hours,
    /// Local dates it never dials.
    pub holidays: BTreeSet<Date>,
}

/// Parses `YYYY-MM-DD,YYYY-MM-DD` (empty: none).
pub fn parse_holidays(s: &str) -> Result<BTreeSet<Date>, CampaignError> {
    s.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            (d.len() == 10)
                .then(|| d.parse::<Date>().ok())
                .flatten()
                .ok_or_else(|| CampaignError::BadHoliday(d.chars().take(16).collect()))
        })
        .collect()
}

/// The holidays as `YYYY-MM-DD,...`.
pub fn holidays_text(h: &BTreeSet<Date>) -> String {
    h.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// What an attempt ended in, for the retry rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Answered and handled (a person reached an agent, no disposition asking otherwise).
    Answered,
    /// The line was busy.
    Busy,
    /// Nobody answered within the ring timeout.
    NoAnswer,
    /// The network could not place the call (congestion, unreachable).
    Congestion,
    /// An answering machine answered.
    Machine,
    /// A person answered and no agent took the call within the abandon threshold: they heard
    /// the safe-harbor message (an abandoned call).
    Abandoned,
    /// The agent's disposition (its code, as configured for the campaign).
    Disposition(String),
}

impl Outcome {
    /// `answered`, `busy`, `no_answer`, `congestion`, `machine` or `disposition:<code>`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "answered" => Self::Answered,
            "busy" => Self::Busy,
            "no_answer" => Self::NoAnswer,
            "congestion" => Self::Congestion,
            "machine" => Self::Machine,
            "abandoned" => Self::Abandoned,
            other => {
                let code = other.strip_prefix("disposition:")?;
                let ok = !code.is_empty()
                    && code.len() <= 64
                    && !code.chars().any(|c| c.is_control() || ",=/".contains(c));
                return ok.then(|| Self::Disposition(code.to_owned()));
            }
        })
    }

    /// The text form [`Self::parse`] reads.
    pub fn as_text(&self) -> String {
        match self {
            Self::Answered => "answered".into(),
            Self::Busy => "busy".into(),
            Self::NoAnswer => "no_answer".into(),
            Self::Congestion => "congestion".into(),
            Self::Machine => "machine".into(),
            Self::Abandoned => "abandoned".into(),
            Self::Disposition(c) => format!("disposition:{c}"),
        }
    }
}

/// What to do after an outcome: dial again after `delay_s`, unless the contact has had
/// `max_attempts` attempts (it is then Rejected).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryRule {
    /// Seconds before the next attempt.
    pub delay_s: u32,
    /// Attempts after which the contact is not dialed again.
    pub max_attempts: u32,
}

/// The retry rules of a campaign, by outcome. An outcome without a rule ends the contact:
/// `answered` and dispositions without a rule complete it; a failed call (busy, no answer,
/// congestion, machine) without a rule rejects it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RetryRules(pub BTreeMap<Outcome, RetryRule>);

impl RetryRules {
    /// Busy, no answer and congestion retried every 30 minutes, machine every 2 hours, an
    /// abandoned call after an hour (the UK regime holds it 72 hours), up to 3 attempts.
    pub fn defaults() -> Self {
        let r = |delay_s| RetryRule {
            delay_s,
            max_attempts: 3,
        };
        Self(BTreeMap::from([
            (Outcome::Busy, r(1800)),
            (Outcome::NoAnswer, r(1800)),
            (Outcome::Congestion, r(1800)),
            (Outcome::Machine, r(7200)),
            (Outcome::Abandoned, r(3600)),
        ]))
    }

    /// One rule `OUTCOME=DELAY_S/MAX` (`busy=600/5`, `disposition:CALLBACK=3600/2`).
    pub fn parse_rule(s: &str) -> Result<(Outcome, RetryRule), CampaignError> {
        let bad = || CampaignError::BadRetry(s.chars().take(64).collect());
        let (outcome, rule) = s.trim().rsplit_once('=').ok_or_else(bad)?;
        let (delay, max) = rule.split_once('/').ok_or_else(bad)?;
        Ok((
            Outcome::parse(outcome).ok_or_else(bad)?,
            RetryRule {
                delay_s: delay.trim().parse().map_err(|_| bad())?,
                max_attempts: max.trim().parse().map_err(|_| bad())?,
            },
        ))
    }

    /// Rules separated by `,` (empty: none).
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        s.split(',')
            .filter(|r| !r.trim().is_empty())
            .map(Self::parse_rule)
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map(Self)
    }

    /// The text form [`Self::parse`] reads.
    pub fn as_text(&self) -> String {
        self.0
            .iter()
            .map(|(o, r)| format!("{}={}/{}", o.as_text(), r.delay_s, r.max_attempts))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The largest `max_attempts` of any rule (at least 1: every contact gets a first try).
    pub fn most_attempts(&self) -> u32 {
        self.0
            .values()
            .map(|r| r.max_attempts)
            .max()
            .unwrap_or(1)
            .max(1)
    }
}

/// Which of a contact's numbers each attempt dials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlternativesOrder {
    /// Only the main number.
    MainOnly,
    /// The main number, then each alternative in turn, then the main number again.
    Rotate,
}

impl AlternativesOrder {
    /// `main_only` or `rotate`.
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        match s.trim() {
            "main_only" => Ok(Self::MainOnly),
            "rotate" => Ok(Self::Rotate),
            other => Err(CampaignError::BadAlternatives(
                other.chars().take(32).collect(),
            )),
        }
    }

    /// The text form.
    pub fn as_text(self) -> &'static str {
        match self {
            Self::MainOnly => "main_only",
            Self::Rotate => "rotate",
        }
    }
}

/// The legal frame the abandon rate is measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// FTC: abandon rate over rolling 30 days.
    Us,
    /// Ofcom: any 24 hours; an abandoned number not redialed within 72 hours.
    Uk,
}

impl Regime {
    /// `us` or `uk`.
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "us" => Ok(Self::Us),
            "uk" => Ok(Self::Uk),
            other => Err(CampaignError::BadRegime(other.chars().take(16).collect())),
        }
    }

    /// The text form.
    pub fn as_text(self) -> &'static str {
        match self {
            Self::Us => "us",
            Self::Uk => "uk",
        }
    }
}

/// A campaign's life cycle (eXpand's states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CampaignState {
    /// Being set up: not dialed.
    Incomplete,
    /// Dialed.
    Active,
    /// Done: not dialed, still reported.
    Finalized,
    /// Archived.
    Stored,
}

impl CampaignState {
    /// `Incomplete`, `Active`, `Finalized`, `Stored` (any case).
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "incomplete" => Ok(Self::Incomplete),
            "active" => Ok(Self::Active),
            "finalized" => Ok(Self::Finalized),
            "stored" => Ok(Self::Stored),
            other => Err(CampaignError::BadState(other.chars().take(16).collect())),
        }
    }

    /// eXpand's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incomplete => "Incomplete",
            Self::Active => "Active",
            Self::Finalized => "Finalized",
            Self::Stored => "Stored",
        }
    }
}

/// A percentage with at most one decimal (`3`, `2.5`, `2.5%`, `2.5 %`) as tenths of a percent
/// (the text form of [`AbandonTarget`] and [`FalsePositiveShare`]); `None` when it is not one
/// or is over 100 %.
pub fn parse_percent_tenths(s: &str) -> Option<u16> {
    let t = s.trim();
    let t = t.strip_suffix('%').map_or(t, str::trim_end);
    let h = parse_hundredths(t)?;
    (h % 10 == 0 && h <= 10_000).then_some((h / 10) as u16)
}

/// An abandon-rate target in tenths of a percent (default 30: 3 %).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AbandonTarget(u16);

impl AbandonTarget {
    /// `3`, `2.5`, `2.5%` (percent, [`parse_percent_tenths`]): above 0, at most 10 %.
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        let bad = || CampaignError::BadAbandonTarget(s.chars().take(16).collect());
        parse_percent_tenths(s)
            .filter(|p| (1..=100).contains(p))
            .map(Self)
            .ok_or_else(bad)
    }

    /// Tenths of a percent.
    pub fn per_mille(self) -> u16 {
        self.0
    }

    /// From tenths of a percent.
    pub fn from_per_mille(p: u16) -> Result<Self, CampaignError> {
        (1..=100)
            .contains(&p)
            .then_some(Self(p))
            .ok_or_else(|| CampaignError::BadAbandonTarget(p.to_string()))
    }
}

impl Default for AbandonTarget {
    fn default() -> Self {
        Self(30)
    }
}

impl fmt::Display for AbandonTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

/// The share of AMD's machine verdicts that were people, in tenths of a percent (default 100:
/// 10 %, the low end of the 10-15 % false-positive share reported for tuned AMD; a site sets its
/// own from a sample of machine verdicts listened to). The abandon rate counts this share of the
/// machine verdicts as people hung up on ([`super::abandon::rate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FalsePositiveShare(u16);

impl FalsePositiveShare {
    /// The default: 10 %.
    pub const DEFAULT: Self = Self(100);

    /// `2`, `2.5`, `2.5%` (percent, [`parse_percent_tenths`]): 0 to 100 %.
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        parse_percent_tenths(s)
            .and_then(Self::from_per_mille)
            .ok_or_else(|| CampaignError::BadFalsePositives(s.chars().take(16).collect()))
    }

    /// From tenths of a percent (0 to 1000); `None` above 1000.
    pub fn from_per_mille(p: u16) -> Option<Self> {
        (p <= 1000).then_some(Self(p))
    }

    /// Tenths of a percent.
    pub fn per_mille(self) -> u16 {
        self.0
    }

    /// The share, 0 to 1.
    pub fn fraction(self) -> f64 {
        f64::from(self.0) / 1000.0
    }
}

impl Default for FalsePositiveShare {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for FalsePositiveShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

/// Where the abandon threshold is counted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbandonStart {
    /// From the answer.
    Answer,
    /// From the end of the person's greeting (AMD's verdict; the answer when AMD is off): the
    /// FTC's and Ofcom's start point.
    GreetingEnd,
}

impl AbandonStart {
    /// `answer` or `greeting_end`.
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "answer" => Ok(Self::Answer),
            "greeting_end" => Ok(Self::GreetingEnd),
            other => Err(CampaignError::BadAnswerHandling(
                other.chars().take(16).collect(),
            )),
        }
    }

    /// The text form.
    pub fn as_text(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::GreetingEnd => "greeting_end",
        }
    }
}

/// A sound the PBX plays (Asterisk's `Playback`): names of files in its sounds folder,
/// `[A-Za-z0-9_/-]`, joined with `&`; no `..`; at most 200 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoundName(String);

impl SoundName {
    /// Validates `s`.
    pub fn parse(s: &str) -> Result<Self, CampaignError> {
        let s = s.trim();
        let ok = !s.is_empty()
            && s.len() <= 200
            && !s.contains("..")
            && s.split('&').all(|part| {
                !part.is_empty()
                    && !part.starts_with('/')
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_/-".contains(c))
            });
        ok.then(|| Self(s.to_owned()))
            .ok_or_else(|| CampaignError::BadAnswerHandling(s.chars().take(32).collect()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What happens when a call is answered: answering-machine detection, and how long a person
/// may wait for an agent before hearing the safe-harbor message (an abandoned call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerHandling {
    /// Asterisk's `AMD()` first; a machine is hung up on (outcome `machine`).
    pub amd: bool,
    /// The share of AMD's machine verdicts estimated to be people, counted in the abandon
    /// rate as people hung up on (default 10 %; a site measures its own).
    pub amd_false_positives: FalsePositiveShare,
    /// Seconds a person may wait for an agent (1-10, default 2: the FTC's and Ofcom's).
    pub threshold_s: u8,
    /// Where the threshold is counted from.
    pub start: AbandonStart,
    /// What a person no agent took in time hears (default `im-sorry&goodbye`; a site records
    /// its own message naming the company and a number to call back).
    pub safe_harbor: SoundName,
}

impl Default for AnswerHandling {
    fn default() -> Self {
        Self {
            amd: false,
            amd_false_positives: FalsePositiveShare::DEFAULT,
            threshold_s: 2,
            start: AbandonStart::GreetingEnd,
            safe_harbor: SoundName("im-sorry&goodbye".into()),
        }
    }
}

/// A dialer campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialerCampaign {
    /// Its name (the same names as the campaigns of the blacklist and dispositions).
    pub name: CampaignName,
    /// The queue whose agents take its calls.
    pub queue: QueueName,
    /// How calls are paced.
    pub mode: DialMode,
    /// The trunk calls leave through (`None`: the dialplan's default).
    pub trunk: Option<TrunkName>,
    /// The caller id number presented (`None`: the trunk's).
    pub caller_id: Option<PhoneNumber>,
    /// When it dials, in the contact's local time.
    pub schedule: Schedule,
    /// Local hours outside which nobody is ever called, whatever the schedule (08:00-21:00).
    pub calling_floor: Hours,
    /// What happens after each outcome.
    pub retry: RetryRules,
    /// Which number each attempt dials.
    pub alternatives: AlternativesOrder,
    /// The campaign's priority among campaigns sharing agents (lower first).
    pub priority: u32,
    /// Seconds a call rings before it counts as not answered (at least 15).
    pub ring_timeout_s: u32,
    /// The abandon-rate target.
    pub abandon_target: AbandonTarget,
    /// The regime the abandon rate is measured in.
    pub regime: Regime,
    /// Its state.
    pub state: CampaignState,
    /// The zone of contacts whose number says none (national numbers) and no zone is given.
    pub default_zone: ZoneName,
    /// AMD, the abandon threshold and the safe-harbor message.
    pub answer: AnswerHandling,
}

/// The smallest ring timeout a campaign may have.
pub const MIN_RING_TIMEOUT_S: u32 = 15;

impl DialerCampaign {
    /// A campaign with the defaults: progressive, Monday to Friday 09:00-20:00, the 08:00-21:00
    /// floor, [`RetryRules::defaults`], rotating alternatives, priority 1, ring timeout 25 s,
    /// 3 % abandon target, US regime, Incomplete.
    pub fn new(name: CampaignName, queue: QueueName, default_zone: ZoneName) -> Self {
        Self {
            name,
            queue,
            mode: DialMode::Progressive,
            trunk: None,
            caller_id: None,
            schedule: Schedule {
                weekdays: Weekdays::mon_fri(),
                hours: Hours {
                    start: TimeOfDay(9 * 60),
                    end: TimeOfDay(20 * 60),
                },
                holidays: BTreeSet::new(),
            },
            calling_floor: Hours::default_floor(),
            retry: RetryRules::defaults(),
            alternatives: AlternativesOrder::Rotate,
            priority: 1,
            ring_timeout_s: 25,
            abandon_target: AbandonTarget::default(),
            regime: Regime::Us,
            state: CampaignState::Incomplete,
            default_zone,
            answer: AnswerHandling::default(),
        }
    }

    /// The rules parts cannot check alone: ring timeout at least 15 s (at most 300), retry
    /// delays at most 30 days and max attempts 1-100, priority at most 1 000 000.
    pub fn validate(&self) -> Result<(), CampaignError> {
        if self.ring_timeout_s < MIN_RING_TIMEOUT_S || self.ring_timeout_s > 300 {
            return Err(CampaignError::RingTimeout(self.ring_timeout_s));
        }
        for (o, r) in &self.retry.0 {
            if r.delay_s > 30 * 86_400 || r.max_attempts == 0 || r.max_attempts > 100 {
                return Err(CampaignError::BadRetry(o.as_text()));
            }
        }
        if self.priority > 1_000_000 {
            return Err(CampaignError::BadPriority(self.priority));
        }
        if !(1..=10).contains(&self.answer.threshold_s) {
            return Err(CampaignError::BadAnswerHandling(format!(
                "threshold {} s",
                self.answer.threshold_s
            )));
        }
        Ok(())
    }

    /// The most attempts any contact of the campaign may get.
    pub fn max_attempts(&self) -> u32 {
        self.retry.most_attempts()
    }

    /// Whether the campaign may call someone whose local time is `local`: a scheduled weekday,
    /// inside the schedule's hours and the floor, not a holiday.
    pub fn window_at(&self, local: DateTime) -> Window {
        if self.schedule.holidays.contains(&local.date()) {
            return Window::Holiday;
        }
        let t = local.time();
        if self.schedule.weekdays.contains(local.weekday())
            && self.schedule.hours.contains(t)
            && self.calling_floor.contains(t)
        {
            Window::Open
        } else {
            Window::Closed
        }
    }

    /// [`Self::window_at`] for someone in `zone` at the instant `now` (local time computed
    /// now, from the zone's rules: daylight saving time is exact).
    pub fn window_in(&self, zone: &TimeZone, now: jiff::Timestamp) -> Window {
        self.window_at(now.to_zoned(zone.clone()).datetime())
    }
}

/// Whether a campaign may call in a zone at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// It may.
    Open,
    /// Outside the schedule's days or hours, or the calling-hours floor.
    Closed,
    /// A holiday there.
    Holiday,
}

/// Why a campaign (or one of its parts) is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CampaignError {
    /// The ring timeout is under 15 s (or over 300 s).
    #[error("ring timeout {0} s: at least 15 s and at most 300 s")]
    RingTimeout(u32),
    /// Not a zone the time zone database knows.
    #[error("unknown time zone {0:?}")]
    BadZone(String),
    /// Not a dial mode.
    #[error("unknown dial mode {0:?} (preview, progressive, predictive, power:RATIO)")]
    BadMode(String),
    /// Not a power ratio.
    #[error("invalid power ratio {0:?} (1 to 10)")]
    BadRatio(String),
    /// Not a window of hours.
    #[error("invalid hours {0:?} (HH:MM-HH:MM, start before end)")]
    BadHours(String),
    /// Not a set of weekdays.
    #[error("invalid weekdays {0:?} (mon,tue or mon-fri or all)")]
    BadWeekdays(String),
    /// Not a date.
    #[error("invalid holiday {0:?} (YYYY-MM-DD)")]
    BadHoliday(String),
    /// Not a retry rule.
    #[error("invalid retry rule {0:?} (OUTCOME=DELAY_S/MAX, max 1-100, delay at most 30 days)")]
    BadRetry(String),
    /// Not an alternatives order.
    #[error("invalid alternatives order {0:?} (main_only, rotate)")]
    BadAlternatives(String),
    /// Not a regime.
    #[error("invalid regime {0:?} (us, uk)")]
    BadRegime(String),
    /// Not a campaign state.
    #[error("invalid campaign state {0:?} (Incomplete, Active, Finalized, Stored)")]
    BadState(String),
    /// Not an abandon target.
    #[error("invalid abandon target {0:?} (percent, above 0, at most 10, one decimal)")]
    BadAbandonTarget(String),
    /// Not an AMD false-positive share.
    #[error("invalid AMD false-positive share {0:?} (percent, 0 to 100, one decimal: 2.5%)")]
    BadFalsePositives(String),
    /// The priority is too large.
    #[error("invalid priority {0}")]
    BadPriority(u32),
    /// Not a campaign name.
    #[error("invalid campaign name")]
    BadName,
    /// Not a number.
    #[error("invalid caller id number")]
    BadCallerId,
    /// A bad part of the answer handling (threshold 1-10 s, start `answer|greeting_end`, a
    /// sound name).
    #[error("invalid answer handling {0:?}")]
    BadAnswerHandling(String),
}
