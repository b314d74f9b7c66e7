//! The recordings service: every recorded call's file, tied to its call, found by any of its ids
//! and served in the format a facade asks for.
//!
//! - [`Recording`]: one catalogued file with the ids of its call (uniqueid, linkedid, uContact's
//!   [`Guid`], USCall's `idcti`), its CDR, agent, queue, duration, format, size and tags.
//! - [`SafeRelativePath`], [`RecordingId`]: the only ways a name reaches the file system. Paths are
//!   relative, made of `[A-Za-z0-9._-]` components that never start with `.`; at open time the
//!   file is canonicalized and must still lie under the recordings directory (a symlink pointing
//!   outside is "not found").
//! - [`RecordingStore`]: the catalogue's storage port; [`RecordingMedia`]: the port to the codecs
//!   (probe, transcode), implemented over `crate::media` outside `core`.
//! - [`Cataloguer`]: turns ingested CDRs that name a recording file into catalogue entries (its
//!   own durable cursor over the journal, so nothing is lost across restarts).
//! - [`RecordingsService`]: find, open as MP3 / Ogg / WAV 8 kHz (transcoded once into a disk cache
//!   keyed by the source's size and mtime), tags, and the [`SweepReport`].
//!
//! Every method here blocks (SQLite, files, codecs): async callers use `spawn_blocking`.
//!
//! **Architecture Invariant:** a name or id from a request is parsed into [`RecordingKey`] /
//! [`SafeRelativePath`] before anything touches the disk; anything else is [`RecordingError::NotFound`].

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::journal::{CdrRecord, Disposition, TimeRange, UnixTime};
use super::UniqueId;
use crate::core::PortError;

// ------------------------------------------------------------------ policy

/// Which calls Asterisk records (`sub-record` in `asterisk-config/extensions.conf` reads the
/// global variables of [`RecordingPolicy::globals`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordingPolicy {
    /// Every outbound (also originated) and queue call.
    Always,
    /// Queue calls of these queues; outbound calls only when their originate job asked
    /// (`RECORD=yes`).
    PerQueue(Vec<String>),
    /// Only calls whose originate job asked (`RECORD=yes`); no queue call.
    PerJob,
}

impl RecordingPolicy {
    /// The dialplan globals that carry the policy: `RECORD_POLICY` (`always`, `per_queue`,
    /// `per_job`) and `RECORD_QUEUES` (`,q1,q2,`; `,` when none).
    pub fn globals(&self) -> [(&'static str, String); 2] {
        let (name, queues) = match self {
            Self::Always => ("always", Vec::new()),
            Self::PerQueue(q) => ("per_queue", q.clone()),
            Self::PerJob => ("per_job", Vec::new()),
        };
        let mut list = String::from(",");
        for q in queues {
            list.push_str(&q);
            list.push(',');
        }
        [("RECORD_POLICY", name.to_owned()), ("RECORD_QUEUES", list)]
    }
}

// ------------------------------------------------------------------ ids and paths

/// Longest id or path component accepted.
const MAX_NAME: usize = 128;

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn is_safe_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_NAME && !s.starts_with('.') && s.chars().all(name_char)
}

/// A recording's stable id: the recorded file's stem (Asterisk's uniqueid for live calls, the
/// legacy file's stem for imported ones), `[A-Za-z0-9._-]`, 1-128 characters, not starting with
/// `.`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingId(String);

impl RecordingId {
    /// Validates an id; `None` if it has any other character (so it can never be a path).
    pub fn parse(s: &str) -> Option<Self> {
        is_safe_name(s).then(|| Self(s.to_owned()))
    }

    /// An id made from any file stem: characters outside the alphabet become `_`, a leading `.`
    /// becomes `_`, and it is cut to 128 characters. `None` if nothing is left.
    pub fn sanitize(stem: &str) -> Option<Self> {
        let mut s: String = stem
            .chars()
            .map(|c| if name_char(c) { c } else { '_' })
            .take(MAX_NAME)
            .collect();
        if s.starts_with('.') {
            s.replace_range(0..1, "_");
        }
        Self::parse(&s)
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A path relative to the recordings directory that cannot leave it: 1-4 components of
/// `[A-Za-z0-9._-]`, none empty or starting with `.` (so no `..`, no hidden folders such as the
/// cache), no leading `/`, no backslash, NUL or `%`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SafeRelativePath(String);

impl SafeRelativePath {
    /// Most components (`YYYYMMDD/<id>.<ext>` needs two).
    pub const MAX_DEPTH: usize = 4;

    /// Validates a relative path.
    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > 512 {
            return None;
        }
        let parts: Vec<&str> = s.split('/').collect();
        (parts.len() <= Self::MAX_DEPTH && parts.iter().all(|p| is_safe_name(p)))
            .then(|| Self(s.to_owned()))
    }

    /// `YYYYMMDD/<id>.<ext>`.
    pub fn in_day_folder(day: &str, id: &RecordingId, extension: &str) -> Option<Self> {
        Self::parse(&format!("{day}/{id}.{extension}"))
    }

    /// The path text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first component when it is a day folder (`YYYYMMDD`).
    pub fn day_folder(&self) -> Option<&str> {
        let (first, _) = self.0.split_once('/')?;
        is_day(first).then_some(first)
    }

    /// The extension of the last component, lower case (empty if none).
    pub fn extension(&self) -> String {
        let name = self.0.rsplit('/').next().unwrap_or("");
        name.rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default()
    }

    /// The existing regular file this path names under `root`, after resolving symlinks; it must
    /// still lie under (the canonical) `root`. Anything else is [`RecordingError::NotFound`].
    pub fn resolve_under(&self, root: &Path) -> Result<PathBuf, RecordingError> {
        let root = root.canonicalize().map_err(|_| RecordingError::NotFound)?;
        let joined = root.join(&self.0);
        let real = joined
            .canonicalize()
            .map_err(|_| RecordingError::NotFound)?;
        if !real.starts_with(&root)
            || real.strip_prefix(&root).map_or(true, |r| {
                r.components().any(|c| !matches!(c, Component::Normal(_)))
            })
        {
            return Err(RecordingError::NotFound);
        }
        match real.metadata() {
            Ok(m) if m.is_file() => Ok(real),
            _ => Err(RecordingError::NotFound),
        }
    }
}

impl fmt::Display for SafeRelativePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` looks like a day folder name (`YYYYMMDD`, 8 digits).
pub fn is_day(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The UTC day of `t` as `YYYYMMDD`.
pub fn day_of(t: UnixTime) -> String {
    let days = t.seconds().div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}")
}

/// uContact's call id: a GUID-shaped (`8-4-4-4-12` lower-case hex) id. Live calls get one derived
/// from their linkedid ([`Guid::derive`], stable across restarts and re-imports).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(String);

impl Guid {
    /// Accepts `8-4-4-4-12` hex (any case; kept lower case).
    pub fn parse(s: &str) -> Option<Self> {
        let groups: Vec<&str> = s.split('-').collect();
        let shaped = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
        shaped.then(|| Self(s.to_ascii_lowercase()))
    }

    /// A stable GUID for `seed` (a linkedid): two FNV-1a 64-bit hashes with different offsets,
    /// shaped as an RFC 9562 version 8 (custom) UUID.
    pub fn derive(seed: &str) -> Self {
        let fnv = |basis: u64| {
            seed.bytes().fold(basis, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            })
        };
        let hi = fnv(0xcbf2_9ce4_8422_2325);
        let lo = fnv(0x6c62_272e_07bb_0142);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC variant
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ))
    }

    /// The GUID text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ------------------------------------------------------------------ formats

/// The format of a stored recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordingFormat {
    /// PCM WAV (what MixMonitor writes for `.wav`).
    Wav,
    /// Raw GSM 06.10 (`.gsm`).
    Gsm,
    /// GSM 06.10 in a WAV container (Asterisk's `WAV`/`wav49`).
    Wav49,
    /// MP3 (legacy imports; served as is, not decoded).
    Mp3,
}

impl RecordingFormat {
    /// The catalogue's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Gsm => "gsm",
            Self::Wav49 => "wav49",
            Self::Mp3 => "mp3",
        }
    }

    /// The inverse of [`RecordingFormat::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "wav" => Self::Wav,
            "gsm" => Self::Gsm,
            "wav49" => Self::Wav49,
            "mp3" => Self::Mp3,
            _ => return None,
        })
    }

    /// The format a file extension suggests (`wav` may turn out to be WAV49 when probed).
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "wav" => Some(Self::Wav),
            "gsm" => Some(Self::Gsm),
            "wav49" => Some(Self::Wav49),
            "mp3" => Some(Self::Mp3),
            _ => None,
        }
    }
}

/// The formats recordings are served in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServeFormat {
    /// MP3 (eXpand, uContact; USCall `mp3`).
    Mp3,
    /// Ogg Vorbis (USCall `ogg`).
    Ogg,
    /// WAV, 16-bit PCM, 8000 Hz, mono (USCall `wav`, its default).
    Wav8k,
    /// Headerless GSM 06.10 (uContact's `records/<guid>.gsm`); never chosen by name.
    Gsm,
}

impl ServeFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Mp3 => "mp3",
            Self::Ogg => "ogg",
            Self::Wav8k => "wav",
            Self::Gsm => "gsm",
        }
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Mp3 => "audio/mpeg",
            Self::Ogg => "audio/ogg",
            Self::Wav8k => "audio/wav",
            Self::Gsm => "audio/x-gsm",
        }
    }

    /// `mp3`, `ogg` or `wav` (case-insensitive); GSM is not a format clients name.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mp3" => Some(Self::Mp3),
            "ogg" => Some(Self::Ogg),
            "wav" => Some(Self::Wav8k),
            _ => None,
        }
    }
}

// ------------------------------------------------------------------ the catalogue entry

/// One catalogued recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    /// Its stable id.
    pub id: RecordingId,
    /// Where the file is, under the recordings directory (a day folder).
    pub relative_path: SafeRelativePath,
    /// The recorded channel's uniqueid (`None`: an imported file matched to no CDR).
    pub uniqueid: Option<UniqueId>,
    /// The call's linkedid.
    pub linkedid: Option<UniqueId>,
    /// uContact's id of the call.
    pub guid: Guid,
    /// USCall's `idcti`: the originate job's call data key `idcti`, if it had one.
    pub idcti: Option<String>,
    /// The tied CDR: Asterisk's `AcctId` (the CDR source's rowid).
    pub cdr_rowid: Option<i64>,
    /// Whether the tied CDR was answered.
    pub answered: bool,
    /// The agent (queue member name) who took the call, for queue calls.
    pub agent: Option<String>,
    /// The queue, for queue calls.
    pub queue: Option<String>,
    /// Audio length (zero when unknown, e.g. an MP3 import).
    pub duration: Duration,
    /// The stored file's format.
    pub format: RecordingFormat,
    /// The stored file's size in bytes, when catalogued.
    pub size: u64,
    /// Free text tags, sorted.
    pub tags: Vec<String>,
    /// When the call started (imports without a CDR: the day folder or the file's mtime).
    pub created: UnixTime,
    /// For imports: the file's path relative to the imported folder (the re-run key).
    pub imported_from: Option<String>,
}

impl Recording {
    /// The catalogue entry a CDR implies, if its `recordingfile` names a usable file (relative,
    /// or absolute under `recordings_dir`). `connect` is the queue and agent of the call's
    /// queue_log `CONNECT`, if any.
    pub fn from_cdr(
        cdr: &CdrRecord,
        recordings_dir: &Path,
        connect: Option<(String, String)>,
    ) -> Option<Self> {
        let file = cdr.recordingfile.trim();
        let rel = SafeRelativePath::parse(file).or_else(|| {
            let stripped = Path::new(file).strip_prefix(recordings_dir).ok()?;
            SafeRelativePath::parse(stripped.to_str()?)
        })?;
        let name = rel.as_str().rsplit('/').next()?;
        let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
        let id = RecordingId::parse(stem)?;
        let format = RecordingFormat::from_extension(&rel.extension())?;
        let (queue, agent) = connect.unzip();
        Some(Self {
            id,
            relative_path: rel,
            uniqueid: Some(cdr.uniqueid.clone()),
            linkedid: Some(cdr.linkedid.clone()),
            guid: Guid::derive(cdr.linkedid.as_str()),
            idcti: call_data_value(&cdr.calldata, "idcti"),
            cdr_rowid: Some(cdr.source_rowid),
            answered: cdr.disposition == Disposition::Answered,
            agent,
            queue,
            duration: cdr.billsec,
            format,
            size: 0,
            tags: Vec::new(),
            created: cdr.start,
            imported_from: None,
        })
    }

    /// `self` updated with a later CDR of the same recording (a channel writes several CDRs, one
    /// per dial attempt, all naming its file): the answered one wins; ids and tags are kept.
    pub fn merge_cdr(mut self, newer: &Recording) -> Self {
        let better = (newer.answered && !self.answered)
            || (newer.answered == self.answered && newer.duration > self.duration);
        if better || self.cdr_rowid.is_none() {
            self.cdr_rowid = newer.cdr_rowid;
            self.answered = newer.answered;
            self.duration = self.duration.max(newer.duration);
        }
        self.uniqueid = self.uniqueid.or_else(|| newer.uniqueid.clone());
        self.linkedid = self.linkedid.or_else(|| newer.linkedid.clone());
        self.idcti = self.idcti.or_else(|| newer.idcti.clone());
        self.queue = self.queue.or_else(|| newer.queue.clone());
        self.agent = self.agent.or_else(|| newer.agent.clone());
        self.created = self.created.min(newer.created);
        self
    }
}

/// The value of `key` in `k=v,k=v` call data (`None` if absent or empty).
pub fn call_data_value(calldata: &str, key: &str) -> Option<String> {
    calldata
        .split(',')
        .filter_map(|item| item.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// How a caller names a recording. Text that is not a valid value of its kind finds nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordingKey {
    /// The recording's id.
    Id(String),
    /// The recorded channel's uniqueid.
    UniqueId(String),
    /// The call's linkedid (the first recording of the call).
    LinkedId(String),
    /// uContact's guid.
    Guid(String),
    /// USCall's idcti.
    IdCti(String),
    /// A path relative to the recordings directory (`YYYYMMDD/<id>.<ext>`).
    Path(String),
}

/// A key checked for shape: what the store is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidKey {
    /// By id.
    Id(RecordingId),
    /// By uniqueid.
    UniqueId(String),
    /// By linkedid.
    LinkedId(String),
    /// By guid (lower case).
    Guid(Guid),
    /// By idcti.
    IdCti(String),
    /// By relative path.
    Path(SafeRelativePath),
}

impl RecordingKey {
    /// The key if its text has the shape of its kind.
    pub fn validate(&self) -> Option<ValidKey> {
        let plain = |s: &str| is_safe_name(s).then(|| s.to_owned());
        Some(match self {
            Self::Id(s) => ValidKey::Id(RecordingId::parse(s)?),
            Self::UniqueId(s) => ValidKey::UniqueId(plain(s)?),
            Self::LinkedId(s) => ValidKey::LinkedId(plain(s)?),
            Self::Guid(s) => ValidKey::Guid(Guid::parse(s)?),
            Self::IdCti(s) => {
                let ok = !s.is_empty()
                    && s.len() <= 256
                    && !s.chars().any(|c| c.is_control() || c == ',' || c == '=');
                ValidKey::IdCti(ok.then(|| s.clone())?)
            }
            Self::Path(s) => ValidKey::Path(SafeRelativePath::parse(s)?),
        })
    }
}

/// A tag: 1-64 characters, no control characters, trimmed.
pub fn valid_tag(tag: &str) -> Option<String> {
    let t = tag.trim();
    (!t.is_empty() && t.chars().count() <= 64 && !t.chars().any(char::is_control))
        .then(|| t.to_owned())
}

// ------------------------------------------------------------------ ports

/// CDRs the cataloguer has not looked at yet, and the cursor that covers them.
#[derive(Clone, Debug, Default)]
pub struct PendingCdrs {
    /// CDRs naming a recording file, in journal order.
    pub cdrs: Vec<CdrRecord>,
    /// The journal position covering every CDR read (also those naming no file).
    pub cursor: i64,
    /// Whether more may follow (the batch was full).
    pub more: bool,
}

/// The catalogue's storage.
pub trait RecordingStore: Send + Sync {
    /// Creates or replaces an entry (its tags are left as they are).
    fn upsert(&self, recording: &Recording) -> Result<(), PortError>;
    /// Every entry the key names, oldest first, with tags.
    fn find_all(&self, key: &ValidKey) -> Result<Vec<Recording>, PortError>;
    /// The entry imported from `origin`, if any.
    fn find_imported(&self, origin: &str) -> Result<Option<Recording>, PortError>;
    /// Adds a tag; false if the recording does not exist.
    fn add_tag(&self, id: &RecordingId, tag: &str) -> Result<bool, PortError>;
    /// Removes a tag; false if it was not there.
    fn remove_tag(&self, id: &RecordingId, tag: &str) -> Result<bool, PortError>;
    /// Entries created in `range`, oldest first, at most `limit`.
    fn list(&self, range: TimeRange, limit: usize) -> Result<Vec<Recording>, PortError>;
    /// The next CDRs of the journal after the cataloguer's cursor (at most `limit` scanned).
    fn pending_cdrs(&self, limit: usize) -> Result<PendingCdrs, PortError>;
    /// Upserts `entries` and moves the cataloguer's cursor to `cursor`, in one transaction.
    fn catalogue(&self, entries: &[Recording], cursor: i64) -> Result<(), PortError>;
    /// Queue and agent of the queue_log `CONNECT` whose callid is one of `callids`.
    fn queue_connect(&self, callids: &[&str]) -> Result<Option<(String, String)>, PortError>;
    /// Fills queue and agent of entries created since `since` that lack them, from queue_log
    /// `CONNECT` lines ingested later; returns how many were filled.
    fn fill_queue_agent(&self, since: UnixTime) -> Result<u64, PortError>;
    /// The journal's CDRs of `uniqueid`, answered first.
    fn cdrs_of_uniqueid(&self, uniqueid: &str) -> Result<Vec<CdrRecord>, PortError>;
    /// Linkedids of calls that started in `range` with an answered CDR naming a recording file
    /// but no catalogued recording.
    fn answered_calls_without_recording(&self, range: TimeRange) -> Result<Vec<String>, PortError>;
}

/// What probing a file found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbedAudio {
    /// The format.
    pub format: RecordingFormat,
    /// The audio length.
    pub duration: Duration,
}

/// Why the codecs failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaFailure {
    /// The format (or this conversion) is not supported.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The file is damaged.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// Anything else (I/O, encoder).
    #[error("{0}")]
    Other(String),
}

/// The port to the codecs.
pub trait RecordingMedia: Send + Sync {
    /// Reads a file's header (and, where needed, its frames) for format and duration.
    fn probe(&self, path: &Path) -> Result<ProbedAudio, MediaFailure>;
    /// Writes `src` as `to` into `dst` (atomically: a temp file renamed).
    fn transcode(&self, src: &Path, dst: &Path, to: ServeFormat) -> Result<(), MediaFailure>;
}

// ------------------------------------------------------------------ errors

/// Why a recordings operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// No such recording, a malformed id, a path that would leave the recordings directory, or a
    /// file that is gone.
    #[error("recording not found")]
    NotFound,
    /// The recording cannot be served in that format (e.g. an imported MP3 as Ogg).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A tag is empty, too long or has control characters.
    #[error("invalid tag")]
    InvalidTag,
    /// The codecs failed on the file.
    #[error("media: {0}")]
    Media(#[source] MediaFailure),
    /// A file operation failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The catalogue failed.
    #[error("recordings catalogue")]
    Store(#[source] PortError),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RecordingError {
    let what = what.into();
    move |source| RecordingError::Io { what, source }
}

// ------------------------------------------------------------------ the cataloguer

/// How many journal CDRs one cataloguing transaction covers.
const CATALOGUE_BATCH: usize = 500;

/// Keeps the catalogue up with the journal: every CDR naming a recording file becomes (or
/// updates) an entry. Its cursor is stored with the entries, so a crash loses nothing and a
/// repeated batch is an idempotent upsert.
pub struct Cataloguer {
    store: Arc<dyn RecordingStore>,
    media: Arc<dyn RecordingMedia>,
    recordings_dir: PathBuf,
}

impl Cataloguer {
    /// A cataloguer over `store`, probing files under `recordings_dir`.
    pub fn new(
        store: Arc<dyn RecordingStore>,
        media: Arc<dyn RecordingMedia>,
        recordings_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            store,
            media,
            recordings_dir: recordings_dir.into(),
        }
    }

    /// Catalogues every pending CDR; returns how many entries were written.
    pub fn run_once(&self) -> Result<u64, RecordingError> {
        let mut written = 0u64;
        loop {
            let pending = self
                .store
                .pending_cdrs(CATALOGUE_BATCH)
                .map_err(RecordingError::Store)?;
            let mut entries: Vec<Recording> = Vec::new();
            for cdr in &pending.cdrs {
                let connect = self
                    .store
                    .queue_connect(&[cdr.uniqueid.as_str(), cdr.linkedid.as_str()])
                    .map_err(RecordingError::Store)?;
                let Some(candidate) = Recording::from_cdr(cdr, &self.recordings_dir, connect)
                else {
                    tracing::warn!(
                        uniqueid = %cdr.uniqueid,
                        recordingfile = %cdr.recordingfile,
                        "CDR names a recording file outside the recordings directory; not catalogued"
                    );
                    continue;
                };
                let merged = if let Some(i) = entries.iter().position(|e| e.id == candidate.id) {
                    let e = entries.remove(i);
                    e.merge_cdr(&candidate)
                } else {
                    match self
                        .store
                        .find_all(&ValidKey::Id(candidate.id.clone()))
                        .map_err(RecordingError::Store)?
                        .into_iter()
                        .next()
                    {
                        Some(existing) => existing.merge_cdr(&candidate),
                        None => candidate,
                    }
                };
                entries.push(self.with_file_facts(merged));
            }
            self.store
                .catalogue(&entries, pending.cursor)
                .map_err(RecordingError::Store)?;
            written += entries.len() as u64;
            if !pending.more {
                break;
            }
        }
        let day_ago = UnixTime(UnixTime::now().seconds() - 86_400);
        self.store
            .fill_queue_agent(day_ago)
            .map_err(RecordingError::Store)?;
        Ok(written)
    }

    /// Size, probed format and duration of the file, when it is there.
    fn with_file_facts(&self, mut r: Recording) -> Recording {
        let Ok(path) = r.relative_path.resolve_under(&self.recordings_dir) else {
            return r;
        };
        if let Ok(m) = path.metadata() {
            r.size = m.len();
        }
        if let Ok(p) = self.media.probe(&path) {
            r.format = p.format;
            if !p.duration.is_zero() {
                r.duration = p.duration;
            }
        }
        r
    }
}

// ------------------------------------------------------------------ the service

/// A recording ready to be sent: a file on disk (the source, or a cached transcoding).
#[derive(Clone, Debug)]
pub struct ServedFile {
    /// The recording.
    pub recording: Recording,
    /// The file to send.
    pub path: PathBuf,
    /// Its MIME type.
    pub mime: &'static str,
}

/// A recording read for a client ([`RecordingsService::fetch`]).
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The recording.
    pub recording: Recording,
    /// The MIME type of `bytes`.
    pub mime: &'static str,
    /// The file, in the asked format.
    pub bytes: Vec<u8>,
}

/// What the sweeper found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Catalogued recordings tied to no CDR (imports that matched no call).
    pub recordings_without_call: Vec<RecordingId>,
    /// Linkedids of answered calls whose dialplan started a recording (`recordingfile` set) that
    /// has no catalogue entry.
    pub answered_calls_without_recording: Vec<String>,
    /// Catalogued recordings whose file is gone (or unreachable).
    pub missing_files: Vec<RecordingId>,
    /// Files in the day folders of the range that nothing in the catalogue names.
    pub files_not_catalogued: Vec<String>,
}

impl SweepReport {
    /// Whether nothing was found.
    pub fn is_clean(&self) -> bool {
        *self == Self::default()
    }
}

/// The recordings service the facades share.
#[derive(Clone)]
pub struct RecordingsService {
    store: Arc<dyn RecordingStore>,
    media: Arc<dyn RecordingMedia>,
    root: PathBuf,
    cache: PathBuf,
}

impl fmt::Debug for RecordingsService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingsService")
            .field("root", &self.root)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl RecordingsService {
    /// The service over the catalogue `store`, the files under `recordings_dir` and a transcoding
    /// cache in `cache_dir`.
    pub fn new(
        store: Arc<dyn RecordingStore>,
        media: Arc<dyn RecordingMedia>,
        recordings_dir: impl Into<PathBuf>,
        cache_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            store,
            media,
            root: recordings_dir.into(),
            cache: cache_dir.into(),
        }
    }

    /// The recordings directory.
    pub fn recordings_dir(&self) -> &Path {
        &self.root
    }

    /// The catalogue port.
    pub fn store(&self) -> &Arc<dyn RecordingStore> {
        &self.store
    }

    /// The codecs port.
    pub fn media(&self) -> &Arc<dyn RecordingMedia> {
        &self.media
    }

    /// The recording `key` names (the oldest, when a call has several).
    pub fn find(&self, key: &RecordingKey) -> Result<Recording, RecordingError> {
        self.find_all(key)?
            .into_iter()
            .next()
            .ok_or(RecordingError::NotFound)
    }

    /// Every recording `key` names, oldest first (a malformed key names none).
    pub fn find_all(&self, key: &RecordingKey) -> Result<Vec<Recording>, RecordingError> {
        let Some(key) = key.validate() else {
            return Ok(Vec::new());
        };
        self.store.find_all(&key).map_err(RecordingError::Store)
    }

    /// The recording and its source file (checked to lie under the recordings directory).
    pub fn open_source(&self, key: &RecordingKey) -> Result<ServedFile, RecordingError> {
        let recording = self.find(key)?;
        let path = recording.relative_path.resolve_under(&self.root)?;
        let mime = match recording.format {
            RecordingFormat::Mp3 => "audio/mpeg",
            RecordingFormat::Gsm => "audio/x-gsm",
            RecordingFormat::Wav | RecordingFormat::Wav49 => "audio/wav",
        };
        Ok(ServedFile {
            recording,
            path,
            mime,
        })
    }

    /// The recording as `format`: a cached transcoding
    /// (`<cache>/<ext>/<YYYYMMDD>/<id>.<ext>`), made again when the source's size or mtime
    /// changed. A GSM source is served as is for GSM; an MP3 source is served as is for MP3 and is [`RecordingError::Unsupported`] for
    /// the others unless the codecs can decode it.
    pub fn open_as(
        &self,
        key: &RecordingKey,
        format: ServeFormat,
    ) -> Result<ServedFile, RecordingError> {
        let source = self.open_source(key)?;
        let as_is = matches!(
            (source.recording.format, format),
            (RecordingFormat::Mp3, ServeFormat::Mp3) | (RecordingFormat::Gsm, ServeFormat::Gsm)
        );
        if as_is {
            return Ok(ServedFile {
                mime: format.mime(),
                ..source
            });
        }
        let r = &source.recording;
        let day = r
            .relative_path
            .day_folder()
            .map_or_else(|| day_of(r.created), str::to_owned);
        let dir = self.cache.join(format.extension()).join(&day);
        let cached = dir.join(format!("{}.{}", r.id, format.extension()));
        let key_file = dir.join(format!("{}.{}.key", r.id, format.extension()));
        let meta = source
            .path
            .metadata()
            .map_err(|_| RecordingError::NotFound)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let stamp = format!("{} {}", meta.len(), mtime);
        let fresh =
            std::fs::read_to_string(&key_file).is_ok_and(|k| k == stamp) && cached.is_file();
        if !fresh {
            std::fs::create_dir_all(&dir).map_err(io_err(format!(
                "cannot create the cache folder {}",
                dir.display()
            )))?;
            self.media
                .transcode(&source.path, &cached, format)
                .map_err(|e| match e {
                    MediaFailure::Unsupported(what) => RecordingError::Unsupported(what),
                    other => RecordingError::Media(other),
                })?;
            let tmp = dir.join(format!(".{}.{}.key.tmp", r.id, format.extension()));
            std::fs::write(&tmp, &stamp)
                .and_then(|()| std::fs::rename(&tmp, &key_file))
                .map_err(io_err("cannot write the cache key"))?;
        }
        Ok(ServedFile {
            recording: source.recording,
            path: cached,
            mime: format.mime(),
        })
    }

    /// The one recording lookup of every facade: the first of `keys` that names a recording
    /// `allow` accepts (the caller's scope: day, own calls), read as `format`. Runs on the
    /// blocking pool (catalogue reads, transcoding, the file read).
    pub async fn fetch(
        &self,
        keys: Vec<RecordingKey>,
        format: ServeFormat,
        allow: impl FnOnce(&Recording) -> bool + Send + 'static,
    ) -> Result<Fetched, RecordingError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let key = keys
                .into_iter()
                .find(|k| this.find(k).is_ok())
                .ok_or(RecordingError::NotFound)?;
            if !allow(&this.find(&key)?) {
                return Err(RecordingError::NotFound);
            }
            let served = this.open_as(&key, format)?;
            let bytes = std::fs::read(&served.path).map_err(|_| RecordingError::NotFound)?;
            Ok(Fetched {
                recording: served.recording,
                mime: served.mime,
                bytes,
            })
        })
        .await
        .map_err(|e| RecordingError::Store(Box::new(e)))?
    }

    /// [`RecordingsService::find`] on the blocking pool.
    pub async fn find_async(&self, key: RecordingKey) -> Result<Recording, RecordingError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.find(&key))
            .await
            .map_err(|e| RecordingError::Store(Box::new(e)))?
    }

    /// The recording each of `keys` names (`None` where none), in one blocking task.
    pub async fn find_many(&self, keys: Vec<RecordingKey>) -> Vec<Option<Recording>> {
        let this = self.clone();
        let n = keys.len();
        tokio::task::spawn_blocking(move || keys.iter().map(|k| this.find(k).ok()).collect())
            .await
            .unwrap_or_else(|_| vec![None; n])
    }

    /// [`RecordingsService::open_as`] (transcoding into the cache when needed) on the blocking
    /// pool.
    pub async fn open_as_async(
        &self,
        key: RecordingKey,
        format: ServeFormat,
    ) -> Result<ServedFile, RecordingError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.open_as(&key, format))
            .await
            .map_err(|e| RecordingError::Store(Box::new(e)))?
    }

    /// [`RecordingsService::tag`] on the blocking pool.
    pub async fn tag_async(
        &self,
        key: RecordingKey,
        tag: String,
    ) -> Result<Recording, RecordingError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.tag(&key, &tag))
            .await
            .map_err(|e| RecordingError::Store(Box::new(e)))?
    }

    /// Adds a tag.
    pub fn tag(&self, key: &RecordingKey, tag: &str) -> Result<Recording, RecordingError> {
        let tag = valid_tag(tag).ok_or(RecordingError::InvalidTag)?;
        let r = self.find(key)?;
        if !self
            .store
            .add_tag(&r.id, &tag)
            .map_err(RecordingError::Store)?
        {
            return Err(RecordingError::NotFound);
        }
        self.find(&RecordingKey::Id(r.id.as_str().to_owned()))
    }

    /// Removes a tag (absent: nothing happens).
    pub fn untag(&self, key: &RecordingKey, tag: &str) -> Result<Recording, RecordingError> {
        let tag = valid_tag(tag).ok_or(RecordingError::InvalidTag)?;
        let r = self.find(key)?;
        self.store
            .remove_tag(&r.id, &tag)
            .map_err(RecordingError::Store)?;
        self.find(&RecordingKey::Id(r.id.as_str().to_owned()))
    }

    /// Recordings created in `range`, oldest first, at most `limit`.
    pub fn list(&self, range: TimeRange, limit: usize) -> Result<Vec<Recording>, RecordingError> {
        self.store.list(range, limit).map_err(RecordingError::Store)
    }

    /// Checks the catalogue against the journal and the disk for calls in `range`; day folders
    /// are scanned only for the UTC days the range covers (ranges longer than 366 days skip the
    /// disk scan).
    pub fn sweep(&self, range: TimeRange) -> Result<SweepReport, RecordingError> {
        let mut report = SweepReport::default();
        let listed = self
            .store
            .list(range, usize::MAX)
            .map_err(RecordingError::Store)?;
        let mut known: BTreeSet<String> = BTreeSet::new();
        for r in &listed {
            known.insert(r.relative_path.as_str().to_owned());
            if r.cdr_rowid.is_none() {
                report.recordings_without_call.push(r.id.clone());
            }
            if r.relative_path.resolve_under(&self.root).is_err() {
                report.missing_files.push(r.id.clone());
            }
        }
        report.answered_calls_without_recording = self
            .store
            .answered_calls_without_recording(range)
            .map_err(RecordingError::Store)?;
        let (from, to) = (range.from.seconds(), range.to.seconds());
        if to > from && (to - from) / 86_400 <= 366 {
            let mut days = BTreeSet::new();
            let mut t = from - from.rem_euclid(86_400);
            while t < to {
                days.insert(day_of(UnixTime(t)));
                t += 86_400;
            }
            for day in days {
                let Ok(entries) = std::fs::read_dir(self.root.join(&day)) else {
                    continue;
                };
                for e in entries.flatten() {
                    let name = e.file_name();
                    let Some(rel) = name
                        .to_str()
                        .and_then(|n| SafeRelativePath::parse(&format!("{day}/{n}")))
                    else {
                        continue;
                    };
                    if known.contains(rel.as_str()) {
                        continue;
                    }
                    let found = self
                        .store
                        .find_all(&ValidKey::Path(rel.clone()))
                        .map_err(RecordingError::Store)?;
                    if found.is_empty() {
                        report.files_not_catalogued.push(rel.as_str().to_owned());
                    }
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ChannelName;

    #[test]
    fn safe_relative_paths() {
        for ok in ["20240101/pbx1-1700000000.12.wav", "a.wav", "a/b/c/d"] {
            assert!(SafeRelativePath::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "/etc/passwd",
            "a/../../b",
            "..",
            ".",
            "./a",
            "a//b",
            "a/",
            "%2e%2e/etc/passwd",
            "%2e%2e",
            "a\0b",
            "a\\..\\b",
            "..\\x",
            ".cache/mp3/x.mp3",
            "a/b/c/d/e",
            "C:/x",
            "a b.wav",
        ] {
            assert!(SafeRelativePath::parse(bad).is_none(), "{bad:?}");
        }
        let p = SafeRelativePath::parse("20240131/x.WAV").unwrap();
        assert_eq!(p.day_folder(), Some("20240131"));
        assert_eq!(p.extension(), "wav");
        assert_eq!(SafeRelativePath::parse("x.wav").unwrap().day_folder(), None);
    }

    #[test]
    fn ids_refuse_path_characters_and_sanitize_stems() {
        for bad in [
            "",
            "a/b",
            "../x",
            ".hidden",
            "a\\b",
            "a\0",
            "x y",
            &"a".repeat(129),
        ] {
            assert!(RecordingId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(RecordingId::parse("pbx1-1700000000.12").is_some());
        assert_eq!(
            RecordingId::sanitize("..call 1/ñ").unwrap().as_str(),
            "_.call_1__"
        );
        assert!(RecordingId::sanitize("").is_none());
    }

    #[test]
    fn keys_of_the_wrong_shape_find_nothing() {
        for key in [
            RecordingKey::Id("../../etc/passwd".into()),
            RecordingKey::Id("/etc/passwd".into()),
            RecordingKey::Id("a/b".into()),
            RecordingKey::UniqueId("x/../y".into()),
            RecordingKey::Guid("not-a-guid".into()),
            RecordingKey::Path("/etc/passwd".into()),
            RecordingKey::Path("../../etc/passwd".into()),
            RecordingKey::IdCti("a,b".into()),
            RecordingKey::IdCti(String::new()),
        ] {
            assert!(key.validate().is_none(), "{key:?}");
        }
        assert_eq!(
            RecordingKey::Guid("ABCDEF01-2345-6789-abcd-ef0123456789".into()).validate(),
            Some(ValidKey::Guid(Guid(
                "abcdef01-2345-6789-abcd-ef0123456789".into()
            )))
        );
    }

    #[test]
    fn guid_derivation_is_stable_and_guid_shaped() {
        let a = Guid::derive("pbx1-1700000000.12");
        assert_eq!(a, Guid::derive("pbx1-1700000000.12"));
        assert_ne!(a, Guid::derive("pbx1-1700000000.13"));
        assert!(Guid::parse(a.as_str()).is_some());
        assert_eq!(&a.as_str()[14..15], "8");
        // Pinned: a change here would break every stored uContact id.
        assert_eq!(a.as_str(), Guid::derive("pbx1-1700000000.12").as_str());
        assert_eq!(
            Guid::derive("").as_str(),
            "cbf29ce4-8422-8325-ac62-272e07bb0142"
        );
    }

    #[test]
    fn days_of_instants() {
        assert_eq!(day_of(UnixTime(0)), "19700101");
        assert_eq!(day_of(UnixTime(951_782_400)), "20000229");
        assert_eq!(day_of(UnixTime(1_704_067_199)), "20231231");
        assert_eq!(day_of(UnixTime(1_704_067_200)), "20240101");
        assert_eq!(day_of(UnixTime(-1)), "19691231");
    }

    pub(crate) fn cdr(rowid: i64, uniqueid: &str, file: &str, answered: bool) -> CdrRecord {
        CdrRecord {
            source_rowid: rowid,
            clid: String::new(),
            src: "1001".into(),
            dst: "5551005".into(),
            dcontext: "outbound".into(),
            channel: ChannelName::new("PJSIP/1001-00000001"),
            dstchannel: None,
            lastapp: "Dial".into(),
            lastdata: String::new(),
            duration: Duration::from_secs(9),
            billsec: Duration::from_secs(if answered { 5 } else { 0 }),
            disposition: if answered {
                Disposition::Answered
            } else {
                Disposition::NoAnswer
            },
            amaflags: String::new(),
            accountcode: String::new(),
            uniqueid: UniqueId::new(uniqueid),
            linkedid: UniqueId::new(uniqueid),
            sequence: rowid,
            peeraccount: String::new(),
            userfield: String::new(),
            start: UnixTime(1_704_067_200),
            answer: None,
            end: UnixTime(1_704_067_209),
            recordingfile: file.into(),
            calldata: "info=x,idcti=ABC123".into(),
        }
    }

    #[test]
    fn a_cdr_names_its_recording() {
        let root = Path::new("/var/spool/asterisk/monitor");
        let c = cdr(7, "pbx1-1.2", "20240101/pbx1-1.2.wav", true);
        let r = Recording::from_cdr(&c, root, Some(("q_ventas".into(), "1007".into()))).unwrap();
        assert_eq!(r.id.as_str(), "pbx1-1.2");
        assert_eq!(r.relative_path.as_str(), "20240101/pbx1-1.2.wav");
        assert_eq!(r.idcti.as_deref(), Some("ABC123"));
        assert_eq!(r.guid, Guid::derive("pbx1-1.2"));
        assert_eq!(r.queue.as_deref(), Some("q_ventas"));
        assert_eq!(r.agent.as_deref(), Some("1007"));
        assert_eq!((r.cdr_rowid, r.answered), (Some(7), true));
        // An absolute path under the recordings directory is accepted, anything else is not.
        let abs = cdr(8, "u", "/var/spool/asterisk/monitor/20240101/u.wav", true);
        assert_eq!(
            Recording::from_cdr(&abs, root, None)
                .unwrap()
                .relative_path
                .as_str(),
            "20240101/u.wav"
        );
        for bad in ["", "/etc/passwd", "../../x.wav", "20240101/x.txt"] {
            assert!(
                Recording::from_cdr(&cdr(9, "u", bad, true), root, None).is_none(),
                "{bad}"
            );
        }
        // The answered CDR of the same file wins over an unanswered attempt.
        let unanswered = Recording::from_cdr(&cdr(1, "u", "d/u.wav", false), root, None).unwrap();
        let answered = Recording::from_cdr(&cdr(2, "u", "d/u.wav", true), root, None).unwrap();
        assert_eq!(unanswered.clone().merge_cdr(&answered).cdr_rowid, Some(2));
        assert_eq!(answered.clone().merge_cdr(&unanswered).cdr_rowid, Some(2));
    }

    #[test]
    fn policy_globals() {
        assert_eq!(
            RecordingPolicy::Always.globals(),
            [
                ("RECORD_POLICY", "always".into()),
                ("RECORD_QUEUES", ",".into())
            ]
        );
        assert_eq!(
            RecordingPolicy::PerQueue(vec!["q_ventas".into(), "q_soporte".into()]).globals(),
            [
                ("RECORD_POLICY", "per_queue".into()),
                ("RECORD_QUEUES", ",q_ventas,q_soporte,".into())
            ]
        );
        assert_eq!(RecordingPolicy::PerJob.globals()[0].1, "per_job");
    }

    #[test]
    fn call_data_values() {
        assert_eq!(
            call_data_value("a=1,idcti=X9", "idcti").as_deref(),
            Some("X9")
        );
        assert_eq!(call_data_value("idcti=", "idcti"), None);
        assert_eq!(call_data_value("", "idcti"), None);
    }

    #[test]
    fn tags_are_checked() {
        assert_eq!(valid_tag(" venta ").as_deref(), Some("venta"));
        assert!(valid_tag("").is_none());
        assert!(valid_tag("a\nb").is_none());
        assert!(valid_tag(&"x".repeat(65)).is_none());
    }
}
