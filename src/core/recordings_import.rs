//! Import of a legacy PBX's recordings folder into the catalogue.
//!
//! The folder is flat or made of day folders (`YYYYMMDD/`); `.wav` (PCM or WAV49), `.gsm` and
//! `.mp3` files are taken, anything else is skipped with its reason. Each file is hard-linked (or,
//! across file systems, copied through a temporary file) into the recordings directory's day
//! folder under its stable id, probed for format and duration, matched to a CDR by its stem
//! (= Asterisk's uniqueid, as MixMonitor names files) and catalogued. The catalogue remembers
//! each file's path relative to the imported folder, so a re-run skips what is already there.
//! A stem that is a GUID becomes the recording's guid (uContact's `records/<guid>.mp3`).

use std::path::{Path, PathBuf};

use super::recordings::{
    day_of, is_day, Guid, MediaFailure, Recording, RecordingError, RecordingFormat, RecordingId,
    RecordingKey, RecordingsService, SafeRelativePath, ValidKey,
};
use super::UnixTime;

/// Why a file was not imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The file, relative to the imported folder.
    pub file: String,
    /// Why.
    pub reason: String,
}

/// What an import did (or, dry, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Files seen (candidates and skipped ones).
    pub files: u64,
    /// Files newly catalogued.
    pub imported: u64,
    /// Of those, matched to a CDR by uniqueid.
    pub matched: u64,
    /// Of those, matched to none.
    pub unmatched: u64,
    /// Files catalogued by an earlier run.
    pub already: u64,
    /// Files left out, with the reason.
    pub skipped: Vec<Skipped>,
}

/// One candidate file.
struct Candidate {
    /// Relative to the imported folder (`name` or `YYYYMMDD/name`).
    origin: String,
    path: PathBuf,
    day: Option<String>,
    stem: String,
    ext: String,
}

/// Lists the files of a flat or day-folder tree; returns candidates and skips.
fn walk(dir: &Path, summary: &mut ImportSummary) -> Result<Vec<Candidate>, RecordingError> {
    let read = |d: &Path| -> Result<Vec<std::fs::DirEntry>, RecordingError> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .map_err(|source| RecordingError::Io {
                what: format!("cannot read {}", d.display()),
                source,
            })?
            .collect::<Result<_, _>>()
            .map_err(|source| RecordingError::Io {
                what: format!("cannot read {}", d.display()),
                source,
            })?;
        v.sort_by_key(std::fs::DirEntry::file_name);
        Ok(v)
    };
    let mut out = Vec::new();
    let skip = |summary: &mut ImportSummary, file: String, reason: &str| {
        summary.files += 1;
        summary.skipped.push(Skipped {
            file,
            reason: reason.to_owned(),
        });
    };
    for top in read(dir)? {
        let name = top.file_name().to_string_lossy().into_owned();
        let Ok(ft) = top.file_type() else { continue };
        if ft.is_dir() {
            if !is_day(&name) {
                skip(summary, format!("{name}/"), "not a day folder (YYYYMMDD)");
                continue;
            }
            for e in read(&top.path())? {
                let inner = e.file_name().to_string_lossy().into_owned();
                let origin = format!("{name}/{inner}");
                match e.file_type() {
                    Ok(t) if t.is_file() => {
                        out.push(candidate(origin, e.path(), Some(name.clone()), &inner));
                    }
                    Ok(t) if t.is_dir() => skip(summary, format!("{origin}/"), "nested folder"),
                    _ => skip(summary, origin, "not a regular file"),
                }
            }
        } else if ft.is_file() {
            out.push(candidate(name.clone(), top.path(), None, &name));
        } else {
            skip(summary, name, "not a regular file");
        }
    }
    Ok(out)
}

fn candidate(origin: String, path: PathBuf, day: Option<String>, name: &str) -> Candidate {
    let (stem, ext) = name.rsplit_once('.').map_or((name, ""), |(s, e)| (s, e));
    Candidate {
        origin,
        path,
        day,
        stem: stem.to_owned(),
        ext: ext.to_ascii_lowercase(),
    }
}

/// A short stable hash of `text` (FNV-1a, 8 hex digits), to tell apart equal stems.
fn short_hash(text: &str) -> String {
    let h = text.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{h:08x}")
}

/// Links or copies `src` to `dst` (creating its folder); an existing `dst` of the same size is
/// taken as an earlier, interrupted run's copy.
fn place(src: &Path, dst: &Path) -> Result<(), RecordingError> {
    let io = |what: String| move |source| RecordingError::Io { what, source };
    let src_len = src
        .metadata()
        .map_err(io(format!("cannot read {}", src.display())))?
        .len();
    if let Ok(m) = dst.metadata() {
        if m.len() == src_len {
            return Ok(());
        }
        return Err(RecordingError::Io {
            what: format!("{} exists with another content", dst.display()),
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        });
    }
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)
            .map_err(io(format!("cannot create {}", parent.display())))?;
    }
    if std::fs::hard_link(src, dst).is_ok() {
        return Ok(());
    }
    let name = dst
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = dst.with_file_name(format!(".{name}.import.tmp"));
    std::fs::copy(src, &tmp)
        .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, dst))
        .map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            RecordingError::Io {
                what: format!("cannot copy {} to {}", src.display(), dst.display()),
                source,
            }
        })
}

impl RecordingsService {
    /// Imports the recordings under `dir` (see the module documentation). `dry_run` changes
    /// nothing and reports what would happen. `progress(done, total)` is called after each file.
    pub fn import_dir(
        &self,
        dir: &Path,
        dry_run: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ImportSummary, RecordingError> {
        let mut summary = ImportSummary::default();
        let candidates = walk(dir, &mut summary)?;
        let total = candidates.len() as u64;
        for (done, c) in candidates.into_iter().enumerate() {
            summary.files += 1;
            if let Err(reason) = self.import_one(&c, dry_run, &mut summary) {
                summary.skipped.push(Skipped {
                    file: c.origin.clone(),
                    reason,
                });
            }
            progress(done as u64 + 1, total);
        }
        Ok(summary)
    }

    /// One file; `Err(reason)` skips it.
    fn import_one(
        &self,
        c: &Candidate,
        dry_run: bool,
        summary: &mut ImportSummary,
    ) -> Result<(), String> {
        let store = self.store();
        let Some(ext_format) = RecordingFormat::from_extension(&c.ext) else {
            return Err(format!("unsupported extension `.{}`", c.ext));
        };
        if store
            .find_imported(&c.origin)
            .map_err(|e| format!("catalogue: {e}"))?
            .is_some()
        {
            summary.already += 1;
            return Ok(());
        }
        let (format, duration) = match self.media().probe(&c.path) {
            Ok(p) => (p.format, p.duration),
            Err(MediaFailure::Unsupported(_)) if ext_format == RecordingFormat::Mp3 => {
                (RecordingFormat::Mp3, std::time::Duration::ZERO)
            }
            Err(e) => return Err(e.to_string()),
        };
        let size = c
            .path
            .metadata()
            .map_err(|e| format!("cannot read: {e}"))?
            .len();
        let cdr = store
            .cdrs_of_uniqueid(&c.stem)
            .map_err(|e| format!("catalogue: {e}"))?
            .into_iter()
            .next();
        let mut id = RecordingId::sanitize(&c.stem).ok_or("no usable name")?;
        let taken = |id: &RecordingId| -> Result<bool, String> {
            Ok(!store
                .find_all(&ValidKey::Id(id.clone()))
                .map_err(|e| format!("catalogue: {e}"))?
                .is_empty())
        };
        if taken(&id)? {
            id = RecordingId::sanitize(&format!("{}-{}", id, short_hash(&c.origin)))
                .ok_or("no usable name")?;
            if taken(&id)? {
                return Err(format!("id `{id}` already catalogued"));
            }
        }
        let mtime = c
            .path
            .metadata()
            .and_then(|m| m.modified())
            .map_or(UnixTime::now(), UnixTime::from);
        let created = match (&cdr, &c.day) {
            (Some(cdr), _) => cdr.start,
            (None, Some(day)) => day_start(day).unwrap_or(mtime),
            (None, None) => mtime,
        };
        let day = match (&cdr, &c.day) {
            (None, Some(day)) => day.clone(),
            _ => day_of(created),
        };
        let ext = if c.ext == "wav49" {
            "wav"
        } else {
            c.ext.as_str()
        };
        let rel = SafeRelativePath::in_day_folder(&day, &id, ext).ok_or("no usable path")?;
        let mut recording = match &cdr {
            Some(cdr) => {
                let mut r = Recording::from_cdr(
                    &crate::core::CdrRecord {
                        recordingfile: rel.as_str().to_owned(),
                        ..cdr.clone()
                    },
                    self.recordings_dir(),
                    None,
                )
                .ok_or("the matching CDR cannot be catalogued")?;
                r.id = id.clone();
                r
            }
            None => Recording {
                id: id.clone(),
                relative_path: rel.clone(),
                uniqueid: None,
                linkedid: None,
                guid: Guid::parse(&c.stem).unwrap_or_else(|| Guid::derive(id.as_str())),
                idcti: None,
                cdr_rowid: None,
                answered: false,
                agent: None,
                queue: None,
                duration,
                format,
                size,
                tags: Vec::new(),
                created,
                imported_from: None,
            },
        };
        if let Some(cdr) = &cdr {
            let connect = store
                .queue_connect(&[cdr.uniqueid.as_str(), cdr.linkedid.as_str()])
                .map_err(|e| format!("catalogue: {e}"))?;
            if let Some((q, a)) = connect {
                recording.queue = Some(q);
                recording.agent = Some(a);
            }
        }
        recording.relative_path = rel.clone();
        recording.format = format;
        recording.size = size;
        if !duration.is_zero() {
            recording.duration = duration;
        }
        recording.imported_from = Some(c.origin.clone());
        if !dry_run {
            place(&c.path, &self.recordings_dir().join(rel.as_str())).map_err(|e| {
                let mut text = e.to_string();
                if let Some(s) = std::error::Error::source(&e) {
                    text.push_str(&format!(": {s}"));
                }
                text
            })?;
            store
                .upsert(&recording)
                .map_err(|e| format!("catalogue: {e}"))?;
        }
        summary.imported += 1;
        if cdr.is_some() {
            summary.matched += 1;
        } else {
            summary.unmatched += 1;
        }
        Ok(())
    }

    /// Whether the recording `key` names was imported (for callers that report it).
    pub fn is_imported(&self, key: &RecordingKey) -> Result<bool, RecordingError> {
        Ok(self.find(key)?.imported_from.is_some())
    }
}

/// Midnight UTC of a `YYYYMMDD` day.
fn day_start(day: &str) -> Option<UnixTime> {
    let y: i64 = day.get(0..4)?.parse().ok()?;
    let m: i64 = day.get(4..6)?.parse().ok()?;
    let d: i64 = day.get(6..8)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let t = UnixTime((era * 146_097 + doe - 719_468) * 86_400);
    (day_of(t) == day).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_starts_round_trip() {
        assert_eq!(day_start("19700101"), Some(UnixTime(0)));
        assert_eq!(day_start("20240101"), Some(UnixTime(1_704_067_200)));
        assert_eq!(day_start("20240230"), None);
        assert_eq!(day_start("2024013"), None);
    }

    #[test]
    fn short_hashes_are_stable() {
        assert_eq!(short_hash(""), "811c9dc5");
        assert_ne!(short_hash("a/x.wav"), short_hash("b/x.wav"));
    }
}
