//! Import of contact bases in uContact's uploadbase format, streaming and idempotent.
//!
//! One line per contact: `campaña;número;var=val:var=val;alt:alt;prioridad;teléfono agente`
//! (after the number every field is optional; a seventh field, an IANA zone, is read when
//! present). Lines are read one at a time and written in batches of [`BATCH`], each batch one
//! transaction; a contact whose main number the campaign already has is a duplicate and changes
//! nothing, so importing the same file twice adds nothing. Rejected lines are reported with
//! their number and reason; a blank line is skipped.
//!
//! [`import_from`] runs from a [`Checkpoint`] (the report and the bytes consumed) through a
//! [`BatchSink`]; a sink that writes each batch and its checkpoint in one transaction (the
//! upload jobs') lets an interrupted import resume where its last batch ended, with the same
//! contacts and the same counts as if it had never stopped.

use std::io::BufRead;

use super::campaign::{DialerCampaign, ZoneName};
use super::contact::{ContactData, ContactError, NewContact};
use super::zones::zone_for_number;
use super::{CampaignId, DialerStore};
use crate::core::journal::UnixTime;
use crate::core::originate::PhoneNumber;
use crate::core::PortError;

/// Contacts written per transaction.
pub const BATCH: usize = 1000;
/// The longest line read (bytes); longer ones are rejected.
pub const MAX_LINE: usize = 8192;
/// At most this many rejected lines are kept with their reason (all are counted).
pub const MAX_REJECTS_KEPT: usize = 1000;

/// Why a line was not imported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The line names another campaign.
    #[error("the line is for campaign {0:?}")]
    OtherCampaign(String),
    /// No number field.
    #[error("no number")]
    MissingNumber,
    /// Not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// Over [`MAX_LINE`] bytes.
    #[error("line too long")]
    TooLong,
    /// More than seven fields.
    #[error("too many fields")]
    TooManyFields,
    /// A field is invalid.
    #[error(transparent)]
    Contact(#[from] ContactError),
}

/// A rejected line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Its number (1 for the first line).
    pub line: u64,
    /// Why.
    pub reason: LineError,
}

/// Where an import stands (given to the progress callback after each batch, and at the end).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Lines read (blank ones included).
    pub read: u64,
    /// Contacts added.
    pub imported: u64,
    /// Lines whose number the campaign already had.
    pub duplicates: u64,
    /// Lines rejected.
    pub rejected_count: u64,
    /// The first [`MAX_REJECTS_KEPT`] rejected lines.
    pub rejected: Vec<Rejected>,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading the input failed (the batches before are kept).
    #[error("cannot read the base")]
    Read(#[source] std::io::Error),
    /// The store failed (the batches before are kept).
    #[error("contact store unavailable")]
    Store(#[source] PortError),
}

/// One line as a contact for `campaign` (`zone` for numbers that say none).
pub fn parse_line(
    line: &str,
    campaign: &DialerCampaign,
    zone: &ZoneName,
) -> Result<NewContact, LineError> {
    let fields: Vec<&str> = line.split(';').map(str::trim).collect();
    if fields.len() > 7 {
        return Err(LineError::TooManyFields);
    }
    let field = |i: usize| fields.get(i).copied().unwrap_or("");
    if field(0) != campaign.name.as_str() {
        return Err(LineError::OtherCampaign(
            field(0).chars().take(64).collect(),
        ));
    }
    if field(1).is_empty() {
        return Err(LineError::MissingNumber);
    }
    let main = PhoneNumber::parse(field(1)).map_err(|_| ContactError::BadNumber)?;
    let alternatives = field(3)
        .split(':')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| PhoneNumber::parse(a).map_err(|_| ContactError::BadAlternative))
        .collect::<Result<Vec<_>, _>>()?;
    let zone = match field(6) {
        "" => zone_for_number(&main, zone),
        z => ZoneName::parse(z).map_err(|_| ContactError::BadZone)?,
    };
    let mut c = NewContact::new(main, zone);
    c.alternatives = alternatives;
    c.data = ContactData::parse(field(2))?;
    if !field(4).is_empty() {
        c.priority = field(4).parse().map_err(|_| ContactError::BadPriority)?;
    }
    if !field(5).is_empty() {
        c.agent = Some(field(5).to_owned());
    }
    c.validate()?;
    Ok(c)
}

/// Where an import stands in its input: the report so far and the bytes of input consumed.
/// An import resumed from a checkpoint (its input positioned `offset` bytes in) ends as the
/// uninterrupted one would.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// The report so far.
    pub report: ImportReport,
    /// Bytes of input consumed (whole lines).
    pub offset: u64,
}

/// Lines read after which a checkpoint is taken even when the batch is not full.
pub const CHECKPOINT_LINES: u64 = BATCH as u64;
/// Time after which a checkpoint is taken even when the batch is not full.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes an import's batches, each with the checkpoint after it.
pub trait BatchSink {
    /// Writes `contacts` (possibly none) and `at`, the checkpoint taken after their lines were
    /// read (its `imported` and `duplicates` do not count them yet: each is added when its
    /// flag says so); returns, for each contact, whether it was added (`false`: a duplicate).
    /// A sink that stores both in one transaction makes the import resumable exactly.
    fn write(&mut self, contacts: &[NewContact], at: &Checkpoint) -> Result<Vec<bool>, PortError>;
}

/// Imports the lines of `input` into campaign `id` (`campaign`), batch by batch; `zone` (the
/// uploadbasewithtimezone argument) replaces the campaign's default zone for numbers that say
/// none. `progress` sees the report after each batch. Blocks (the store does).
pub fn import_base(
    store: &dyn DialerStore,
    id: CampaignId,
    campaign: &DialerCampaign,
    input: &mut dyn BufRead,
    zone: Option<&ZoneName>,
    now: UnixTime,
    progress: &mut dyn FnMut(&ImportReport),
) -> Result<ImportReport, ImportError> {
    struct Store<'a>(&'a dyn DialerStore, CampaignId, UnixTime);
    impl BatchSink for Store<'_> {
        fn write(&mut self, c: &[NewContact], _: &Checkpoint) -> Result<Vec<bool>, PortError> {
            if c.is_empty() {
                return Ok(Vec::new());
            }
            self.0.insert_contacts(self.1, c, self.2)
        }
    }
    let mut sink = Store(store, id, now);
    let end = import_from(
        campaign,
        input,
        zone,
        Checkpoint::default(),
        &mut sink,
        &mut |c| progress(&c.report),
    )?;
    Ok(end.report)
}

/// [`import_base`] from checkpoint `from` (`input` positioned `from.offset` bytes in) through
/// `sink`: a batch is written when it holds [`BATCH`] contacts, after [`CHECKPOINT_LINES`]
/// lines or [`CHECKPOINT_EVERY`] since the last one, and at the end. `progress` sees each
/// checkpoint once written. Returns the last checkpoint.
pub fn import_from(
    campaign: &DialerCampaign,
    input: &mut dyn BufRead,
    zone: Option<&ZoneName>,
    from: Checkpoint,
    sink: &mut dyn BatchSink,
    progress: &mut dyn FnMut(&Checkpoint),
) -> Result<Checkpoint, ImportError> {
    let zone = zone.unwrap_or(&campaign.default_zone);
    let mut at = from;
    let mut batch: Vec<NewContact> = Vec::with_capacity(BATCH);
    let mut buf = Vec::new();
    let mut last = (at.report.read, std::time::Instant::now());
    let mut flush = |batch: &mut Vec<NewContact>, at: &mut Checkpoint| {
        let inserted = sink.write(batch, at).map_err(ImportError::Store)?;
        let added = inserted.iter().filter(|i| **i).count() as u64;
        at.report.imported += added;
        at.report.duplicates += batch.len() as u64 - added;
        batch.clear();
        progress(at);
        Ok::<(), ImportError>(())
    };
    loop {
        buf.clear();
        let n = read_bounded(input, &mut buf).map_err(ImportError::Read)?;
        if n == 0 {
            break;
        }
        at.offset += n as u64;
        at.report.read += 1;
        let result = if buf.len() > MAX_LINE {
            Some(Err(LineError::TooLong))
        } else {
            match std::str::from_utf8(&buf) {
                Ok(text) => {
                    let text = text.trim_start_matches('\u{feff}').trim_end();
                    (!text.trim().is_empty()).then(|| parse_line(text, campaign, zone))
                }
                Err(_) => Some(Err(LineError::NotUtf8)),
            }
        };
        match result {
            None => {}
            Some(Ok(c)) => batch.push(c),
            Some(Err(reason)) => {
                at.report.rejected_count += 1;
                if at.report.rejected.len() < MAX_REJECTS_KEPT {
                    at.report.rejected.push(Rejected {
                        line: at.report.read,
                        reason,
                    });
                }
            }
        }
        if batch.len() == BATCH
            || at.report.read - last.0 >= CHECKPOINT_LINES
            || last.1.elapsed() >= CHECKPOINT_EVERY
        {
            flush(&mut batch, &mut at)?;
            last = (at.report.read, std::time::Instant::now());
        }
    }
    flush(&mut batch, &mut at)?;
    Ok(at)
}

/// Reads one line (through `\n`) into `buf`, keeping at most [`MAX_LINE`] + 1 bytes of it (the
/// rest is consumed and dropped). Returns the bytes consumed (0: end of input).
fn read_bounded(input: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(consumed);
        }
        let (line, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (&chunk[..i], i + 1),
            None => (chunk, chunk.len()),
        };
        let room = (MAX_LINE + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&line[..line.len().min(room)]);
        let ended = done > line.len();
        input.consume(done);
        consumed += done;
        if ended {
            return Ok(consumed);
        }
    }
}
