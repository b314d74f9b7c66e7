//! Contact bases uploaded through an API (uContact's `uploadbase`, `uploadbasewithtimezone`),
//! imported in the background with [`super::import`] and followed by name.
//!
//! A job is named by its campaign and file name. Starting one answers at once; the import
//! runs on the blocking pool, its progress visible through [`UploadJobs::status`] after each
//! batch. A name whose job is still running is refused ([`UploadError::Running`]); a finished
//! one is replaced. At most [`MAX_RUNNING`] imports run at once (more are refused, not queued),
//! and the last [`MAX_KEPT`] finished jobs are kept (in memory: a restart forgets them; the
//! contacts they imported stay, and importing the same file again adds nothing).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::campaign::ZoneName;
use super::import::{self, ImportReport};
use super::{CampaignId, DialerService};
use crate::core::campaigns::CampaignName;
use crate::core::journal::UnixTime;

/// Imports running at once.
pub const MAX_RUNNING: usize = 4;
/// Finished jobs kept.
pub const MAX_KEPT: usize = 256;

/// Where an upload stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadStatus {
    /// Lines read so far.
    pub read: u64,
    /// Contacts added.
    pub imported: u64,
    /// Lines whose number the campaign had already.
    pub duplicates: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// The number of records the client announced (`cant`), if any.
    pub announced: Option<u64>,
    /// Who uploaded it.
    pub username: String,
    /// When it started.
    pub started_at: UnixTime,
    /// Whether the import ended.
    pub done: bool,
    /// Whether it stopped on a store failure (what was imported before stays).
    pub failed: bool,
}

/// Why an upload was not started.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// A job of that campaign and file name is still running.
    #[error("an upload of that file is running")]
    Running,
    /// [`MAX_RUNNING`] imports are running.
    #[error("too many uploads running")]
    Busy,
}

type Key = (String, String);

#[derive(Default)]
struct Jobs {
    by_name: BTreeMap<Key, UploadStatus>,
    /// Finished names, oldest first.
    finished: Vec<Key>,
    running: usize,
}

/// The upload jobs of one engine. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct UploadJobs(Arc<Mutex<Jobs>>);

/// What an upload is started with.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The campaign's id and name.
    pub campaign: (CampaignId, CampaignName),
    /// The file name (the job's name within the campaign).
    pub filename: String,
    /// The file's bytes.
    pub base: Vec<u8>,
    /// The zone of numbers that say none (`uploadbasewithtimezone`).
    pub zone: Option<ZoneName>,
    /// Records announced.
    pub announced: Option<u64>,
    /// Who uploads it.
    pub username: String,
}

impl UploadJobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, Jobs> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The job of `campaign` and `filename`, if one is known.
    pub fn status(&self, campaign: &CampaignName, filename: &str) -> Option<UploadStatus> {
        self.lock()
            .by_name
            .get(&(campaign.as_str().to_owned(), filename.to_owned()))
            .cloned()
    }

    fn begin(&self, key: &Key, status: UploadStatus) -> Result<(), UploadError> {
        let mut jobs = self.lock();
        if jobs.by_name.get(key).is_some_and(|s| !s.done) {
            return Err(UploadError::Running);
        }
        if jobs.running >= MAX_RUNNING {
            return Err(UploadError::Busy);
        }
        jobs.finished.retain(|k| k != key);
        jobs.by_name.insert(key.clone(), status);
        jobs.running += 1;
        Ok(())
    }

    fn progress(&self, key: &Key, r: &ImportReport) {
        if let Some(s) = self.lock().by_name.get_mut(key) {
            s.read = r.read;
            s.imported = r.imported;
            s.duplicates = r.duplicates;
            s.rejected = r.rejected_count;
        }
    }

    fn end(&self, key: &Key, failed: bool) {
        let mut jobs = self.lock();
        jobs.running = jobs.running.saturating_sub(1);
        if let Some(s) = jobs.by_name.get_mut(key) {
            s.done = true;
            s.failed = failed;
        }
        jobs.finished.push(key.clone());
        while jobs.finished.len() > MAX_KEPT {
            let old = jobs.finished.remove(0);
            jobs.by_name.remove(&old);
        }
    }
}

/// Ends its job when dropped.
struct Ending {
    jobs: UploadJobs,
    key: Key,
    failed: bool,
}

impl Drop for Ending {
    fn drop(&mut self) {
        self.jobs.end(&self.key, self.failed);
    }
}

impl DialerService {
    /// The service's upload jobs.
    pub fn uploads(&self) -> &UploadJobs {
        &self.uploads
    }

    /// Starts importing `upload` in the background (see [`UploadJobs`]); returns at once.
    /// Must be called within a Tokio runtime.
    pub fn start_upload(&self, upload: Upload, now: UnixTime) -> Result<(), UploadError> {
        let key: Key = (
            upload.campaign.1.as_str().to_owned(),
            upload.filename.clone(),
        );
        self.uploads.begin(
            &key,
            UploadStatus {
                announced: upload.announced,
                username: upload.username.clone(),
                started_at: now,
                read: 0,
                imported: 0,
                duplicates: 0,
                rejected: 0,
                done: false,
                failed: false,
            },
        )?;
        let (jobs, store) = (self.uploads.clone(), self.store().clone());
        let id = upload.campaign.0;
        tokio::task::spawn_blocking(move || {
            // Ends the job however the import ends (a panic included: then it failed).
            let mut ending = Ending {
                jobs,
                key,
                failed: true,
            };
            let failed = match store.campaign(id) {
                Ok(Some(campaign)) => {
                    let mut input = std::io::Cursor::new(upload.base);
                    let (jobs, key) = (&ending.jobs, &ending.key);
                    import::import_base(
                        store.as_ref(),
                        id,
                        &campaign,
                        &mut input,
                        upload.zone.as_ref(),
                        now,
                        &mut |r| jobs.progress(key, r),
                    )
                    .map_err(|e| tracing::warn!(error = %e, "dialer: upload stopped"))
                    .is_err()
                }
                Ok(None) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "dialer: upload could not read its campaign");
                    true
                }
            };
            ending.failed = failed;
        });
        Ok(())
    }
}
