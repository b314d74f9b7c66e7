//! Upload jobs against real SQLite files: the status after reopening the store, a job
//! interrupted half-way resumed to the same contacts as an uninterrupted run, retention
//! pruning, the bound on unfinished jobs.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::*;
use crate::core::dialer::tests::campaign;
use crate::core::dialer::uploads::{run_job, MAX_UNFINISHED, RETENTION_SECONDS};
use crate::core::dialer::{Contact, DialerService};
use crate::test_support::TempDir;

const T0: UnixTime = UnixTime(1_800_000_000);

fn open(path: &Path) -> SqliteDialer {
    SqliteDialer::open(path).unwrap()
}

fn with_campaign(s: &SqliteDialer) -> (CampaignId, CampaignName) {
    let c = campaign("Ventas->", "America/Montevideo");
    let id = s.campaign_create(&c).unwrap().unwrap();
    (id, c.name)
}

/// `n` lines: every 7th repeats an earlier number, every 11th names another campaign, every
/// 13th is blank; alternatives, data and priorities vary.
fn base(n: u64) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n {
        let number = if i % 7 == 6 {
            20_000_000 + i / 2
        } else {
            20_000_000 + i
        };
        match i {
            _ if i % 13 == 12 => out.push('\n'),
            _ if i % 11 == 10 => out.push_str(&format!("Otra->;{number}\n")),
            _ => out.push_str(&format!(
                "Ventas->;{number};cliente={i}:plan=p{};09{:07}:09{:07};{};\n",
                i % 3,
                i,
                i + 1,
                i % 10
            )),
        }
    }
    out.into_bytes()
}

fn upload(campaign: &(CampaignId, CampaignName), filename: &str, file: Vec<u8>) -> Upload {
    Upload {
        campaign: campaign.clone(),
        filename: filename.to_owned(),
        base: file,
        zone: None,
        announced: Some(7),
        username: "sup".to_owned(),
    }
}

fn contacts(s: &SqliteDialer, id: CampaignId) -> Vec<(NewContact, UnixTime)> {
    s.contacts(id, None, 0, u64::MAX)
        .unwrap()
        .into_iter()
        .map(|c: Contact| (c.spec, c.created_at))
        .collect()
}

fn clock() -> UnixTime {
    UnixTime(T0.seconds() + 5)
}

#[test]
fn the_status_is_read_from_the_store_after_it_is_reopened() {
    let dir = TempDir::new("uploads-reopen");
    let path = dir.path().join("s.db");
    let s = open(&path);
    let c = with_campaign(&s);
    let file = base(40);
    let id = s
        .accept(&upload(&c, "a.txt", file.clone()), T0, 16)
        .unwrap()
        .unwrap();
    let pending = s.job_named(&c.1, "a.txt").unwrap().unwrap();
    assert_eq!(pending.state, UploadState::Pending);
    assert_eq!(s.file(id).unwrap().unwrap(), file);
    run_job(&s, id, &clock).unwrap();
    drop(s);

    let s = open(&path);
    let job = s.job_named(&c.1, "a.txt").unwrap().unwrap();
    assert_eq!(job.state, UploadState::Done);
    assert_eq!(
        (job.received_at, job.started_at, job.finished_at),
        (T0, Some(clock()), Some(clock()))
    );
    assert_eq!(
        (job.announced, job.username.as_str(), job.bytes),
        (Some(7), "sup", file.len() as u64)
    );
    let p = &job.progress;
    assert_eq!((p.read, p.offset), (40, file.len() as u64));
    assert_eq!(p.imported, contacts(&s, c.0).len() as u64);
    assert_eq!(
        p.read,
        p.imported + p.duplicates + p.rejected + 3,
        "3 blank lines"
    );
    assert_eq!(p.rejected, 3);
    assert_eq!(p.first_errors[0].line, 11);
    assert!(
        p.first_errors[0].reason.contains("Otra->"),
        "{:?}",
        p.first_errors
    );
    assert_eq!(
        s.file(id).unwrap(),
        None,
        "the file goes once the job finished"
    );
    assert_eq!(s.job_named(&c.1, "b.txt").unwrap(), None);
}

/// Every call fails once the import has read past `lines` lines, as if the engine were killed
/// there: nothing more reaches the file.
struct DiesAfter {
    inner: SqliteDialer,
    lines: u64,
    dead: AtomicBool,
}

impl DiesAfter {
    fn check(&self) -> Result<(), PortError> {
        if self.dead.load(Ordering::SeqCst) {
            return Err("killed".into());
        }
        Ok(())
    }
}

impl UploadStore for DiesAfter {
    fn accept(
        &self,
        u: &Upload,
        now: UnixTime,
        max: usize,
    ) -> Result<Result<UploadId, UploadError>, PortError> {
        self.check()?;
        self.inner.accept(u, now, max)
    }
    fn job_named(&self, c: &CampaignName, f: &str) -> Result<Option<UploadJob>, PortError> {
        self.check()?;
        self.inner.job_named(c, f)
    }
    fn job(&self, id: UploadId) -> Result<Option<UploadJob>, PortError> {
        self.check()?;
        self.inner.job(id)
    }
    fn unfinished(&self) -> Result<Vec<UploadJob>, PortError> {
        self.check()?;
        self.inner.unfinished()
    }
    fn file(&self, id: UploadId) -> Result<Option<Vec<u8>>, PortError> {
        self.check()?;
        self.inner.file(id)
    }
    fn start(&self, id: UploadId, now: UnixTime) -> Result<(), PortError> {
        self.check()?;
        self.inner.start(id, now)
    }
    fn batch(
        &self,
        id: UploadId,
        c: CampaignId,
        contacts: &[NewContact],
        now: UnixTime,
        at: &UploadProgress,
    ) -> Result<Vec<bool>, PortError> {
        self.check()?;
        if at.read > self.lines {
            self.dead.store(true, Ordering::SeqCst);
            return Err("killed".into());
        }
        self.inner.batch(id, c, contacts, now, at)
    }
    fn finish(&self, id: UploadId, failed: bool, now: UnixTime) -> Result<(), PortError> {
        self.check()?;
        self.inner.finish(id, failed, now)
    }
    fn upload_campaign(&self, id: CampaignId) -> Result<Option<DialerCampaign>, PortError> {
        self.check()?;
        self.inner.upload_campaign(id)
    }
    fn prune(&self, before: UnixTime) -> Result<u64, PortError> {
        self.check()?;
        self.inner.prune(before)
    }
}

#[tokio::test]
async fn an_interrupted_job_resumed_at_the_next_start_ends_as_an_uninterrupted_one() {
    let file = base(5_500);
    // Uninterrupted.
    let dir = TempDir::new("uploads-whole");
    let whole = open(&dir.path().join("s.db"));
    let c = with_campaign(&whole);
    let id = whole
        .accept(&upload(&c, "a.txt", file.clone()), T0, 16)
        .unwrap()
        .unwrap();
    run_job(&whole, id, &clock).unwrap();
    let expected = contacts(&whole, c.0);
    let expected_job = whole.job(id).unwrap().unwrap();

    // Killed after 2 500 lines: the batches before are stored with their checkpoint.
    let dir = TempDir::new("uploads-killed");
    let path = dir.path().join("s.db");
    let dying = DiesAfter {
        inner: open(&path),
        lines: 2_500,
        dead: AtomicBool::new(false),
    };
    let c = with_campaign(&dying.inner);
    let id = dying
        .accept(&upload(&c, "a.txt", file.clone()), T0, 16)
        .unwrap()
        .unwrap();
    assert!(run_job(&dying, id, &clock).is_err());
    drop(dying);
    let s = Arc::new(open(&path));
    let half = s.job(id).unwrap().unwrap();
    assert_eq!(half.state, UploadState::Running);
    assert!(
        (1_000..=2_500).contains(&half.progress.read),
        "{:?}",
        half.progress
    );
    assert!(half.progress.offset > 0 && half.progress.offset < file.len() as u64);
    assert_eq!(half.progress.imported, contacts(&s, c.0).len() as u64);
    assert!(
        s.file(id).unwrap().is_some(),
        "an unfinished job keeps its file"
    );

    // The next start resumes it.
    let service = DialerService::new(s.clone(), jiff::tz::TimeZone::UTC).with_uploads(s.clone());
    assert_eq!(service.resume_uploads(clock()).await.unwrap(), 1);
    let jobs = service.uploads().unwrap();
    let mut done = None;
    for _ in 0..500 {
        let job = jobs.status(&c.1, "a.txt").await.unwrap().unwrap();
        if job.state.finished() {
            done = Some(job);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let done = done.expect("the resumed job finishes");
    assert_eq!(done.state, UploadState::Done);
    assert_eq!(
        done.progress, expected_job.progress,
        "the same counts and first errors"
    );
    let got = contacts(&s, c.0);
    assert_eq!(got, expected, "the same contacts, none twice");
    let mut mains: Vec<_> = got
        .iter()
        .map(|(c, _)| c.main.as_str().to_owned())
        .collect();
    mains.sort();
    mains.dedup();
    assert_eq!(mains.len(), got.len());
    assert_eq!(s.file(id).unwrap(), None);

    // The same file uploaded again adds nothing.
    let again = s
        .accept(&upload(&c, "a.txt", file), T0, 16)
        .unwrap()
        .unwrap();
    run_job(s.as_ref(), again, &clock).unwrap();
    let p = s.job(again).unwrap().unwrap().progress;
    assert_eq!(p.imported, 0);
    assert_eq!(
        p.duplicates,
        expected_job.progress.imported + expected_job.progress.duplicates
    );
    assert_eq!(contacts(&s, c.0), expected);
}

#[test]
fn finished_jobs_past_the_retention_are_pruned_unfinished_ones_never() {
    let dir = TempDir::new("uploads-prune");
    let s = open(&dir.path().join("s.db"));
    let c = with_campaign(&s);
    let old = s
        .accept(&upload(&c, "old.txt", base(3)), T0, 16)
        .unwrap()
        .unwrap();
    run_job(&s, old, &|| T0).unwrap();
    let recent = s
        .accept(&upload(&c, "recent.txt", base(3)), T0, 16)
        .unwrap()
        .unwrap();
    let day = 86_400;
    run_job(&s, recent, &|| UnixTime(T0.seconds() + 6 * day)).unwrap();
    let waiting = s
        .accept(&upload(&c, "waiting.txt", base(3)), T0, 16)
        .unwrap()
        .unwrap();

    let now = UnixTime(T0.seconds() + 7 * day + 1);
    assert_eq!(
        s.prune(UnixTime(now.seconds() - RETENTION_SECONDS))
            .unwrap(),
        1
    );
    assert_eq!(s.job(old).unwrap(), None);
    assert!(s.job(recent).unwrap().is_some());
    assert_eq!(s.job(waiting).unwrap().unwrap().state, UploadState::Pending);
    assert!(s.file(waiting).unwrap().is_some());
    let files: i64 = s
        .conn
        .query(|c| c.query_row("SELECT count(*) FROM dialer_upload_file", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(files, 1, "only the unfinished job's file is left");
}

#[test]
fn unfinished_jobs_are_bounded_and_a_name_runs_once() {
    let dir = TempDir::new("uploads-bound");
    let s = open(&dir.path().join("s.db"));
    let c = with_campaign(&s);
    let mut ids = Vec::new();
    for i in 0..MAX_UNFINISHED {
        ids.push(
            s.accept(
                &upload(&c, &format!("{i}.txt"), base(2)),
                T0,
                MAX_UNFINISHED,
            )
            .unwrap()
            .unwrap(),
        );
    }
    assert!(matches!(
        s.accept(&upload(&c, "one-more.txt", base(2)), T0, MAX_UNFINISHED)
            .unwrap(),
        Err(UploadError::Busy)
    ));
    run_job(&s, ids[3], &clock).unwrap();
    assert!(matches!(
        s.accept(&upload(&c, "0.txt", base(2)), T0, MAX_UNFINISHED)
            .unwrap(),
        Err(UploadError::Running)
    ));
    // A finished name is replaced: the newest job is the one shown.
    let again = s
        .accept(&upload(&c, "3.txt", base(4)), T0, MAX_UNFINISHED)
        .unwrap()
        .unwrap();
    assert_eq!(s.job_named(&c.1, "3.txt").unwrap().unwrap().id, again);
    assert!(matches!(
        s.accept(&upload(&c, "one-more.txt", base(2)), T0, MAX_UNFINISHED)
            .unwrap(),
        Err(UploadError::Busy)
    ));
}
