//! Import of contact bases in uContact's uploadbase format, streaming and idempotent.
//!
//! One line per contact: `campaña;número;var=val:var=val;alt:alt;prioridad;teléfono agente`
//! (after the number every field is optional; a seventh field, an IANA zone, is read when
//! present). Lines are read one at a time and written in batches of [`BATCH`], each batch one
//! transaction; a contact whose main number the campaign already has is a duplicate and changes
//! nothing, so importing the same file twice adds nothing. Rejected lines are reported with
//! their number and reason; a blank line is skipped.

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
    let zone = zone.unwrap_or(&campaign.default_zone);
    let mut report = ImportReport::default();
    let mut batch: Vec<NewContact> = Vec::with_capacity(BATCH);
    let mut buf = Vec::new();
    let flush = |batch: &mut Vec<NewContact>, report: &mut ImportReport| {
        if batch.is_empty() {
            return Ok(());
        }
        let inserted = store
            .insert_contacts(id, batch, now)
            .map_err(ImportError::Store)?;
        let added = inserted.iter().filter(|i| **i).count() as u64;
        report.imported += added;
        report.duplicates += batch.len() as u64 - added;
        batch.clear();
        Ok::<(), ImportError>(())
    };
    loop {
        buf.clear();
        let n = read_bounded(input, &mut buf).map_err(ImportError::Read)?;
        if n == 0 {
            break;
        }
        report.read += 1;
        let result = if buf.len() > MAX_LINE {
            Err(LineError::TooLong)
        } else {
            match std::str::from_utf8(&buf) {
                Ok(text) => {
                    let text = text.trim_start_matches('\u{feff}').trim_end();
                    if text.trim().is_empty() {
                        continue;
                    }
                    parse_line(text, campaign, zone)
                }
                Err(_) => Err(LineError::NotUtf8),
            }
        };
        match result {
            Ok(c) => batch.push(c),
            Err(reason) => {
                report.rejected_count += 1;
                if report.rejected.len() < MAX_REJECTS_KEPT {
                    report.rejected.push(Rejected {
                        line: report.read,
                        reason,
                    });
                }
            }
        }
        if batch.len() == BATCH {
            flush(&mut batch, &mut report)?;
            progress(&report);
        }
    }
    flush(&mut batch, &mut report)?;
    progress(&report);
    Ok(report)
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
