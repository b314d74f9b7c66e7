//! Contact bases uploaded through an API (uContact's `uploadbase`, `uploadbasewithtimezone`),
//! kept durably and imported in the background with [`super::import`], followed by name.
//!
//! Accepting an upload stores its job and its file in one transaction ([`UploadStore::accept`])
//! before the client is answered, so an accepted upload survives a restart. A job is named by
//! its campaign and file name: a name whose job is unfinished is refused
//! ([`UploadError::Running`]), a finished one is replaced (the newest job of a name is the one
//! shown). At most [`MAX_UNFINISHED`] jobs may be accepted and unfinished at once (more are
//! refused, [`UploadError::Busy`]); [`MAX_RUNNING`] of them import at once, the others wait
//! their turn in the store.
//!
//! The import writes each batch of contacts and the job's progress (the bytes and lines done,
//! the counts, the first rejected lines) in one transaction ([`UploadStore::batch`]), every
//! [`super::import::BATCH`] contacts, [`super::import::CHECKPOINT_LINES`] lines or
//! [`super::import::CHECKPOINT_EVERY`]; the status is read from the store, so it answers after
//! a restart. At engine start ([`DialerService::resume_uploads`]) every unfinished job is run
//! from its last checkpoint: no line is imported twice, and the counts end as an uninterrupted
//! run's (a contact already in the campaign is a duplicate in any case). A finished job's file is
//! deleted with its last checkpoint; finished jobs older than [`RETENTION_SECONDS`] are pruned.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use super::campaign::ZoneName;
use super::contact::NewContact;
use super::import::{self, BatchSink, Checkpoint, ImportReport};
use super::{CampaignId, DialerService};
use crate::core::campaigns::CampaignName;
use crate::core::journal::UnixTime;
use crate::core::{off_runtime, PortError};

/// Imports running at once.
pub const MAX_RUNNING: usize = 4;
/// Jobs accepted and not finished (waiting or running) at once; more are refused.
pub const MAX_UNFINISHED: usize = 16;
/// Finished jobs (and their rows) are kept this long: 7 days.
pub const RETENTION_SECONDS: i64 = 7 * 86_400;
/// Rejected lines kept with their reason in a job (all are counted).
pub const MAX_ERRORS_KEPT: usize = 20;

/// A stored upload job's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadId(pub i64);

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadState {
    /// Accepted, waiting for its turn.
    Pending,
    /// Importing (or interrupted by a stop: resumed at the next start).
    Running,
    /// Imported to its end.
    Done,
    /// Stopped on a store failure or a campaign gone (what it imported before stays).
    Failed,
}

impl UploadState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// From [`UploadState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    /// Whether the job ended (done or failed).
    pub fn finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed)
    }
}

/// A rejected line kept in a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstError {
    /// Its number (1 for the first line).
    pub line: u64,
    /// Why, as text.
    pub reason: String,
}

/// A job's progress, as stored with each batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadProgress {
    /// Bytes of the file consumed (whole lines).
    pub offset: u64,
    /// Lines read (blank ones included).
    pub read: u64,
    /// Contacts added.
    pub imported: u64,
    /// Lines whose number the campaign already had (nothing is updated for them).
    pub duplicates: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// The first [`MAX_ERRORS_KEPT`] rejected lines.
    pub first_errors: Vec<FirstError>,
}

/// What an upload is accepted with.
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

/// A stored job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadJob {
    /// Its id.
    pub id: UploadId,
    /// The campaign's id and name.
    pub campaign: (CampaignId, CampaignName),
    /// The file name.
    pub filename: String,
    /// The zone of numbers that say none (`uploadbasewithtimezone`); `None`: the campaign's.
    pub zone: Option<ZoneName>,
    /// Records announced (`cant`).
    pub announced: Option<u64>,
    /// Who uploaded it.
    pub username: String,
    /// The file's size in bytes.
    pub bytes: u64,
    /// When it was accepted.
    pub received_at: UnixTime,
    /// When its import first started.
    pub started_at: Option<UnixTime>,
    /// When it finished.
    pub finished_at: Option<UnixTime>,
    /// Where it is.
    pub state: UploadState,
    /// Its last checkpoint.
    pub progress: UploadProgress,
}

/// Why an upload was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// A job of that campaign and file name is not finished.
    #[error("an upload of that file is not finished")]
    Running,
    /// [`MAX_UNFINISHED`] jobs are not finished.
    #[error("too many uploads not finished")]
    Busy,
    /// The engine has no upload store.
    #[error("uploads are not available")]
    Unavailable,
    /// The store failed.
    #[error("upload store unavailable")]
    Store(#[source] PortError),
}

/// Storage of upload jobs and their files. Every method blocks.
pub trait UploadStore: Send + Sync {
    /// Stores `upload` as a Pending job received at `now`, with its file, in one durable
    /// transaction, unless a job of its campaign and file name is unfinished (`Running`) or
    /// `max_unfinished` jobs are (`Busy`).
    fn accept(
        &self,
        upload: &Upload,
        now: UnixTime,
        max_unfinished: usize,
    ) -> Result<Result<UploadId, UploadError>, PortError>;
    /// The newest job of `campaign` and `filename`.
    fn job_named(
        &self,
        campaign: &CampaignName,
        filename: &str,
    ) -> Result<Option<UploadJob>, PortError>;
    /// The job `id`.
    fn job(&self, id: UploadId) -> Result<Option<UploadJob>, PortError>;
    /// Every unfinished job, oldest first.
    fn unfinished(&self) -> Result<Vec<UploadJob>, PortError>;
    /// The file of job `id` (`None` once it finished).
    fn file(&self, id: UploadId) -> Result<Option<Vec<u8>>, PortError>;
    /// Marks job `id` Running (`started_at` set the first time).
    fn start(&self, id: UploadId, now: UnixTime) -> Result<(), PortError>;
    /// Adds `contacts` to campaign `campaign` (as [`super::DialerStore::insert_contacts`])
    /// and stores job `id`'s progress, `at` with each added contact counted in `imported` and
    /// each other in `duplicates`, in one transaction; returns the added flags.
    fn batch(
        &self,
        id: UploadId,
        campaign: CampaignId,
        contacts: &[NewContact],
        now: UnixTime,
        at: &UploadProgress,
    ) -> Result<Vec<bool>, PortError>;
    /// Ends job `id` at `now` (Done, or Failed) and deletes its file, in one transaction.
    fn finish(&self, id: UploadId, failed: bool, now: UnixTime) -> Result<(), PortError>;
    /// The dialer campaign `id` (the one a job imports into).
    fn upload_campaign(&self, id: CampaignId) -> Result<Option<super::DialerCampaign>, PortError>;
    /// Deletes finished jobs that finished before `before`; returns how many.
    fn prune(&self, before: UnixTime) -> Result<u64, PortError>;
}

/// The engine's upload jobs: the store, and the imports running in this process. Cheap to
/// clone (shared).
#[derive(Clone)]
pub struct UploadJobs {
    store: Arc<dyn UploadStore>,
    running: Arc<Mutex<HashSet<UploadId>>>,
    turns: Arc<tokio::sync::Semaphore>,
}

impl UploadJobs {
    /// Jobs over `store`.
    pub fn new(store: Arc<dyn UploadStore>) -> Self {
        Self {
            store,
            running: Arc::default(),
            turns: Arc::new(tokio::sync::Semaphore::new(MAX_RUNNING)),
        }
    }

    /// The newest job of `campaign` and `filename`, if one is kept.
    pub async fn status(
        &self,
        campaign: &CampaignName,
        filename: &str,
    ) -> Result<Option<UploadJob>, PortError> {
        let (store, campaign, filename) =
            (self.store.clone(), campaign.clone(), filename.to_owned());
        off_runtime(move || store.job_named(&campaign, &filename)).await
    }

    /// Accepts `upload` (stored before this returns) and starts its import in the background.
    /// Must be called within a Tokio runtime.
    pub async fn accept(&self, upload: Upload, now: UnixTime) -> Result<UploadId, UploadError> {
        let store = self.store.clone();
        let id = off_runtime(move || store.accept(&upload, now, MAX_UNFINISHED))
            .await
            .map_err(UploadError::Store)??;
        self.spawn(id);
        Ok(id)
    }

    /// Prunes finished jobs older than [`RETENTION_SECONDS`] before `now` and starts every
    /// unfinished job from its last checkpoint. Returns how many were started.
    pub async fn resume(&self, now: UnixTime) -> Result<usize, PortError> {
        let store = self.store.clone();
        let jobs = off_runtime(move || {
            let pruned = store.prune(UnixTime(now.seconds() - RETENTION_SECONDS))?;
            if pruned > 0 {
                tracing::info!(pruned, "dialer: old upload jobs pruned");
            }
            store.unfinished()
        })
        .await?;
        for job in &jobs {
            tracing::info!(job = job.id.0, file = %job.filename, line = job.progress.read,
                "dialer: upload resumed");
            self.spawn(job.id);
        }
        Ok(jobs.len())
    }

    /// Runs job `id` on the blocking pool once a turn is free (nothing if it already runs here).
    fn spawn(&self, id: UploadId) {
        let jobs = self.clone();
        tokio::spawn(async move {
            if !jobs.lock().insert(id) {
                return;
            }
            let Ok(turn) = jobs.turns.clone().acquire_owned().await else {
                return;
            };
            let store = jobs.store.clone();
            let result = tokio::task::spawn_blocking(move || {
                let _turn = turn;
                run_job(store.as_ref(), id, &|| UnixTime::now())
            })
            .await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(job = id.0, error = %e,
                    "dialer: upload interrupted (resumed at the next start)"),
                Err(e) => tracing::warn!(job = id.0, error = %e, "dialer: upload panicked"),
            }
            jobs.lock().remove(&id);
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<UploadId>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Writes an upload's batches and checkpoints through [`UploadStore::batch`].
struct JobSink<'a> {
    store: &'a dyn UploadStore,
    id: UploadId,
    campaign: CampaignId,
    now: UnixTime,
    /// The first rejected lines, the stored ones first.
    errors: Vec<FirstError>,
    /// Rejected lines of this run's report already looked at.
    seen: usize,
}

impl BatchSink for JobSink<'_> {
    fn write(&mut self, contacts: &[NewContact], at: &Checkpoint) -> Result<Vec<bool>, PortError> {
        for r in &at.report.rejected[self.seen..] {
            if self.errors.len() < MAX_ERRORS_KEPT {
                self.errors.push(FirstError {
                    line: r.line,
                    reason: r.reason.to_string(),
                });
            }
        }
        self.seen = at.report.rejected.len();
        let progress = UploadProgress {
            offset: at.offset,
            read: at.report.read,
            imported: at.report.imported,
            duplicates: at.report.duplicates,
            rejected: at.report.rejected_count,
            first_errors: self.errors.clone(),
        };
        self.store
            .batch(self.id, self.campaign, contacts, self.now, &progress)
    }
}

/// Imports job `id` from its last checkpoint to its end, then finishes it (Done; Failed when its
/// campaign or file is gone). The contacts are added as of the job's reception, however often
/// it is resumed. A store failure leaves the job unfinished (`Err`): it is resumed at the next
/// start. Blocks.
pub fn run_job(
    store: &dyn UploadStore,
    id: UploadId,
    now: &dyn Fn() -> UnixTime,
) -> Result<(), PortError> {
    let Some(job) = store.job(id)? else {
        return Ok(());
    };
    if job.state.finished() {
        return Ok(());
    }
    let file = store.file(id)?;
    let campaign = store.upload_campaign(job.campaign.0)?;
    let (Some(file), Some(campaign)) = (file, campaign) else {
        tracing::warn!(
            job = id.0,
            "dialer: upload without its file or campaign: failed"
        );
        return store.finish(id, true, now());
    };
    store.start(id, now())?;
    let offset = usize::try_from(job.progress.offset)
        .unwrap_or(usize::MAX)
        .min(file.len());
    let mut input = &file[offset..];
    let from = Checkpoint {
        report: ImportReport {
            read: job.progress.read,
            imported: job.progress.imported,
            duplicates: job.progress.duplicates,
            rejected_count: job.progress.rejected,
            rejected: Vec::new(),
        },
        offset: job.progress.offset,
    };
    let mut sink = JobSink {
        store,
        id,
        campaign: job.campaign.0,
        now: job.received_at,
        errors: job.progress.first_errors.clone(),
        seen: 0,
    };
    match import::import_from(
        &campaign,
        &mut input,
        job.zone.as_ref(),
        from,
        &mut sink,
        &mut |_| {},
    ) {
        Ok(_) => {}
        Err(import::ImportError::Store(e)) => return Err(e),
        // Reading memory does not fail; the job ends failed if it ever does.
        Err(import::ImportError::Read(e)) => {
            tracing::warn!(job = id.0, error = %e, "dialer: upload unreadable: failed");
            return store.finish(id, true, now());
        }
    }
    store.finish(id, false, now())?;
    let before = UnixTime(now().seconds() - RETENTION_SECONDS);
    store.prune(before).map(drop)
}

impl DialerService {
    /// The service with upload jobs over `store`.
    pub fn with_uploads(mut self, store: Arc<dyn UploadStore>) -> Self {
        self.uploads = Some(UploadJobs::new(store));
        self
    }

    /// The service's upload jobs, when it has a store for them.
    pub fn uploads(&self) -> Option<&UploadJobs> {
        self.uploads.as_ref()
    }

    /// Accepts `upload` (kept durably before this returns) and imports it in the background
    /// (see [`UploadJobs`]). Must be called within a Tokio runtime.
    pub async fn start_upload(
        &self,
        upload: Upload,
        now: UnixTime,
    ) -> Result<UploadId, UploadError> {
        match &self.uploads {
            Some(jobs) => jobs.accept(upload, now).await,
            None => Err(UploadError::Unavailable),
        }
    }

    /// Prunes old upload jobs and resumes the unfinished ones (at engine start). Must be called
    /// within a Tokio runtime.
    pub async fn resume_uploads(&self, now: UnixTime) -> Result<usize, PortError> {
        match &self.uploads {
            Some(jobs) => jobs.resume(now).await,
            None => Ok(0),
        }
    }
}
