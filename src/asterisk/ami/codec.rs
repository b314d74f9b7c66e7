//! The AMI byte codec: a pure `Decoder`/`Encoder` with no I/O.
//!
//! Wire format, as Asterisk speaks it:
//! - one banner line on connect, `Asterisk Call Manager/X.Y.Z\r\n`, with no blank line after it;
//! - then messages of `Key: Value` lines, each message ended by an empty line (`\r\n\r\n`);
//!   `\n`-only line endings are accepted;
//! - command output: Asterisk ≥ 14 sends `Output: ` lines in a normal message; older versions
//!   answer `Response: Follows` followed by raw text (blank lines included) up to a line ending in
//!   `--END COMMAND--`. Both decode to the same shape: one `Output` field per line.
//!
//! A line without `:` inside a message is kept as an `Output` value. Bytes that are not UTF-8 are
//! decoded lossily (U+FFFD), never an error. A message larger than the configured maximum is an
//! error ([`CodecError::MessageTooLarge`]) instead of unbounded buffering.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use std::collections::VecDeque;
use std::sync::Arc;

use std::sync::OnceLock;

use super::message::{AmiMessage, Field, Lazy, Parsed, Store};

/// Messages decoded in one pass into one shared store, at most: a store lives as long as the
/// last of its messages, so this bounds what one kept event holds on to (about 64 KiB).
const BATCH_MESSAGES: usize = 128;

/// Default upper bound for one message (banner and command output included): 1 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 1024 * 1024;

/// The terminator of old-style (`Response: Follows`) command output.
const END_COMMAND: &str = "--END COMMAND--";

/// Header keys that may precede the raw body of an old-style `Response: Follows`.
const FOLLOWS_HEADERS: &[&str] = &["Privilege", "ActionID", "Message"];

/// One decoded unit of the AMI stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AmiFrame {
    /// The first line of the session, e.g. `Asterisk Call Manager/9.0.0`.
    Banner(String),
    /// A response, an event, or (seen from a server) an action.
    Message(AmiMessage),
}

impl AmiFrame {
    /// For a banner, the protocol version after the last `/` (e.g. `9.0.0`).
    pub fn banner_version(&self) -> Option<&str> {
        match self {
            AmiFrame::Banner(line) => line.rsplit_once('/').map(|(_, v)| v.trim()),
            AmiFrame::Message(_) => None,
        }
    }
}

/// Errors of the codec.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The underlying stream failed.
    #[error("AMI stream I/O error")]
    Io(#[from] std::io::Error),
    /// A message grew past the configured limit without being terminated.
    #[error("AMI message exceeds the {limit}-byte limit")]
    MessageTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Refused to encode a key or value containing CR, LF or NUL, or a key containing `:`.
    #[error("refusing to encode AMI field `{key}`: it contains CR, LF, NUL or a bad key")]
    InvalidField {
        /// The offending key (values are not echoed: they may be secret).
        key: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Before the banner line.
    Banner,
    /// Ordinary `Key: Value` lines.
    Fields,
    /// After `Response: Follows`, still reading its header lines.
    FollowsHeaders,
    /// Raw command output up to `--END COMMAND--`.
    FollowsBody,
}

/// The AMI codec. One instance per connection (it remembers whether the banner was read).
#[derive(Debug)]
pub struct AmiCodec {
    max_message: usize,
    mode: Mode,
    current: AmiMessage,
    /// Bytes consumed into `current` so far.
    current_size: usize,
    /// Fields of the last batch: the next one is likely of the same size.
    fields_hint: usize,
    /// Messages decoded in one pass and not yet returned, in wire order.
    ready: VecDeque<AmiMessage>,
    /// Finds the blank line that ends a message.
    blank_line: memchr::memmem::Finder<'static>,
    /// Whether whole messages are decoded in one pass (off in tests that compare both paths).
    one_pass: bool,
    /// Messages decoded in one pass.
    #[cfg(test)]
    one_pass_frames: usize,
}

impl Default for AmiCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl AmiCodec {
    /// A codec expecting the banner first, with the default 1 MiB message limit.
    pub fn new() -> Self {
        Self::with_max_message(DEFAULT_MAX_MESSAGE)
    }

    /// A codec expecting the banner first, with a custom message limit in bytes.
    pub fn with_max_message(max_message: usize) -> Self {
        Self {
            max_message,
            mode: Mode::Banner,
            current: AmiMessage::new(),
            current_size: 0,
            fields_hint: 8,
            ready: VecDeque::new(),
            blank_line: memchr::memmem::Finder::new(b"\r\n\r\n"),
            one_pass: true,
            #[cfg(test)]
            one_pass_frames: 0,
        }
    }

    /// A codec that expects no banner (the server side of a connection, or tests).
    pub fn without_banner(mut self) -> Self {
        if self.mode == Mode::Banner {
            self.mode = Mode::Fields;
        }
        self
    }

    /// Decodes the whole messages at the front of `buf` in one pass, as long as they are plain:
    /// entirely in the buffer, each within the size limit, every line `Key: Value` ended by
    /// CRLF, keys ASCII, valid UTF-8, not an old-style `Response: Follows`. Up to
    /// [`BATCH_MESSAGES`] of them are copied once into one shared store, their fields spans of
    /// it, and queued in `ready`. Returns whether any was; the first message that is not plain
    /// (nothing of it consumed) goes through the line decoder, which gives the same fields.
    fn decode_batch(&mut self, buf: &mut BytesMut) -> bool {
        let bytes = &buf[..];
        // Nothing is allocated for a buffer that holds no whole message (the rest of a read).
        let Some(first_end) = self.blank_line.find(bytes) else {
            return false;
        };
        let mut scan = Scanner::new(bytes);
        let mut fields = Vec::with_capacity(self.fields_hint);
        let mut lazy = Vec::new();
        // Each message, and where it ends in `bytes`.
        let mut parts: Vec<(Decoded, usize)> = Vec::with_capacity(BATCH_MESSAGES);
        let mut start = 0;
        let mut blank = Some(first_end);
        while parts.len() < BATCH_MESSAGES {
            // An event is framed and named here, its fields split when first read.
            if let Some(event) = self.framed_event(bytes, start, blank) {
                // Index fits: a batch holds at most `BATCH_MESSAGES` messages.
                parts.push((Decoded::Lazy(lazy.len() as u32), event.next));
                start = event.next;
                lazy.push(event.lazy);
                blank = self.blank_line.find(&bytes[start..]).map(|at| start + at);
                continue;
            }
            let first = fields.len();
            match self.plain_message(bytes, start, &mut scan, &mut fields) {
                // Field counts fit: a batch holds at most a batch of bounded messages.
                Some(next) => {
                    parts.push((Decoded::Fields(fields.len() as u32), next));
                    start = next;
                    if blank.is_some_and(|at| at < start) {
                        blank = self.blank_line.find(&bytes[start..]).map(|at| start + at);
                    }
                }
                None => {
                    fields.truncate(first);
                    break;
                }
            }
        }
        // The text is checked once for the batch; messages from the first bad byte on go
        // through the line decoder (lossy).
        let valid = match std::str::from_utf8(&bytes[..start]) {
            Ok(_) => start,
            Err(e) => e.valid_up_to(),
        };
        while parts.last().is_some_and(|&(_, end)| end > valid) {
            parts.pop();
        }
        let Some(&(_, consumed)) = parts.last() else {
            return false;
        };
        let field_count = parts
            .iter()
            .rev()
            .find_map(|(part, _)| match part {
                Decoded::Fields(end) => Some(*end as usize),
                Decoded::Lazy(_) => None,
            })
            .unwrap_or(0);
        fields.truncate(field_count);
        let lazy_count = parts
            .iter()
            .filter(|(part, _)| matches!(part, Decoded::Lazy(_)))
            .count();
        lazy.truncate(lazy_count);
        let Ok(text) = std::str::from_utf8(&bytes[..consumed]) else {
            return false;
        };
        let store = Arc::new(Store {
            text: text.to_owned(),
            fields,
            lazy,
        });
        buf.advance(consumed);
        self.fields_hint = store.fields.len().max(8);
        #[cfg(test)]
        {
            self.one_pass_frames += parts.len();
        }
        let mut first = 0;
        for (part, _) in parts {
            let message = match part {
                Decoded::Fields(end) => {
                    let m = AmiMessage::shared(store.clone(), first..end);
                    first = end;
                    m
                }
                Decoded::Lazy(index) => AmiMessage::lazy(store.clone(), index),
            };
            self.ready.extend(message);
        }
        true
    }

    /// The event at `bytes[start..]` framed without reading its fields, when that is safe:
    /// its first line is `Event: …`, every LF of it follows a CR (so its end is the first
    /// blank line, `blank`, the start of the next `\r\n\r\n`), and it is within the size
    /// limit. The line decoder would split the same lines into the same fields.
    fn framed_event(&self, bytes: &[u8], start: usize, blank: Option<usize>) -> Option<Framed> {
        let rest = &bytes[start..];
        if !rest
            .get(..EVENT_LINE.len())?
            .eq_ignore_ascii_case(EVENT_LINE)
        {
            return None;
        }
        let blank = blank?;
        let lines_end = blank + 2;
        let next = blank + 4;
        if next - start > self.max_message || !crlf_only(&bytes[start..lines_end]) {
            return None;
        }
        let name_end = start + memchr::memchr(b'\n', rest)? - 1;
        let colon = start + EVENT_LINE.len() - 1;
        let name_start = if bytes.get(colon + 1) == Some(&b' ') && colon + 1 < name_end {
            colon + 2
        } else {
            colon + 1
        };
        // Offsets fit: a batch is bounded by `BATCH_MESSAGES` messages of bounded size.
        Some(Framed {
            lazy: Lazy {
                lines: (start as u32, lines_end as u32),
                name: (name_start as u32, name_end as u32),
                parsed: OnceLock::new(),
            },
            next,
        })
    }

    /// Decodes the plain message at `bytes[start..]`, its fields appended to `fields` as spans
    /// of `bytes`: where the next message starts, or `None` (fields to be truncated by the
    /// caller) when it is not plain.
    fn plain_message(
        &self,
        bytes: &[u8],
        start: usize,
        scan: &mut Scanner<'_>,
        fields: &mut Vec<Field>,
    ) -> Option<usize> {
        let limit = start.saturating_add(self.max_message).min(bytes.len());
        let first = fields.len();
        let mut line_start = start;
        // The key runs up to the first `:`; the line ends at the next LF.
        loop {
            let rest = bytes.get(line_start..limit)?;
            if rest.starts_with(b"\r\n") {
                // The empty line: the message is complete.
                return (fields.len() > first).then_some(line_start + 2);
            }
            // A line without `:` (an `Output` value, or a bare LF) and a key that is not ASCII
            // are left to the line decoder.
            let c = scan.key_end(line_start)?;
            if c >= limit || bytes[c] != b':' {
                return None;
            }
            let at = scan.lf(c + 1)?;
            if at >= limit || bytes[at - 1] != b'\r' {
                return None; // a bare LF, or past the size limit
            }
            let field = field_of(bytes, line_start, c, at - 1);
            let span = |(a, b): (u32, u32)| &bytes[a as usize..b as usize];
            if fields.len() == first
                && span(field.key).eq_ignore_ascii_case(b"Response")
                && span(field.value).eq_ignore_ascii_case(b"Follows")
            {
                return None;
            }
            fields.push(field);
            line_start = at + 1;
        }
    }

    fn finish(&mut self) -> AmiFrame {
        self.mode = Mode::Fields;
        self.current_size = 0;
        // The next message is likely of the same size: one allocation each for its text and
        // its fields.
        let next = AmiMessage::with_capacity(self.current.len(), self.current.text_len());
        AmiFrame::Message(std::mem::replace(&mut self.current, next))
    }

    fn too_large(&mut self) -> CodecError {
        // Reset so a caller that keeps decoding starts clean; the stream is normally dropped.
        self.current = AmiMessage::new();
        self.current_size = 0;
        if self.mode != Mode::Banner {
            self.mode = Mode::Fields;
        }
        CodecError::MessageTooLarge {
            limit: self.max_message,
        }
    }

    /// Feeds one complete line (without its line ending); returns a frame when one completes.
    fn push_line(&mut self, line: &str) -> Option<AmiFrame> {
        match self.mode {
            Mode::Banner => {
                self.mode = Mode::Fields;
                self.current_size = 0;
                Some(AmiFrame::Banner(line.to_owned()))
            }
            Mode::Fields => {
                if line.is_empty() {
                    if self.current.is_empty() {
                        // Blank lines between messages (e.g. after `--END COMMAND--`).
                        self.current_size = 0;
                        return None;
                    }
                    return Some(self.finish());
                }
                let (key, value) = split_field(line);
                let follows = self.current.is_empty()
                    && key.eq_ignore_ascii_case("Response")
                    && value.eq_ignore_ascii_case("Follows");
                self.current.push(key, value);
                if follows {
                    self.mode = Mode::FollowsHeaders;
                }
                None
            }
            Mode::FollowsHeaders => {
                if line.is_empty() {
                    // A `Follows` response with no body and no terminator.
                    return Some(self.finish());
                }
                if let Some(frame) = self.end_command(line) {
                    return Some(frame);
                }
                if let Some((key, value)) = line.split_once(':') {
                    let key = key.trim();
                    if FOLLOWS_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(key)) {
                        self.current.push(key, strip_one_space(value));
                        return None;
                    }
                }
                self.mode = Mode::FollowsBody;
                self.current.push("Output", line);
                None
            }
            Mode::FollowsBody => {
                if let Some(frame) = self.end_command(line) {
                    return Some(frame);
                }
                self.current.push("Output", line);
                None
            }
        }
    }

    /// If `line` ends old-style command output, finishes the message.
    fn end_command(&mut self, line: &str) -> Option<AmiFrame> {
        let prefix = line.strip_suffix(END_COMMAND)?;
        if !prefix.is_empty() {
            // Output without a trailing newline runs straight into the terminator.
            self.current.push("Output", prefix);
        }
        Some(self.finish())
    }
}

/// Which message of a batch: the end of its fields, or its index among the framed events.
#[derive(Clone, Copy)]
enum Decoded {
    Fields(u32),
    Lazy(u32),
}

/// An event framed by [`AmiCodec::framed_event`], and where the next message starts.
struct Framed {
    lazy: Lazy,
    next: usize,
}

/// How an event's first line starts (ASCII case-insensitive).
const EVENT_LINE: &[u8] = b"Event:";

/// Whether every LF of `bytes` follows a CR (and the first byte is not an LF).
fn crlf_only(bytes: &[u8]) -> bool {
    let mut after_cr = false;
    for chunk in bytes.chunks(64) {
        let masks = match chunk.first_chunk::<64>() {
            Some(block) => BlockMasks::of(block),
            None => {
                let mut block = [0u8; 64];
                block[..chunk.len()].copy_from_slice(chunk);
                BlockMasks::of(&block)
            }
        };
        if masks.lf & !((masks.cr << 1) | u64::from(after_cr)) != 0 {
            return false;
        }
        after_cr = masks.cr >> 63 == 1;
    }
    true
}

/// The fields of the event lines `text[lines]` (each ended by CRLF), split as the line decoder
/// splits them: spans of `text`, or a store of their own when a line has no `:` (its key,
/// `Output`, is not in the text).
pub(super) fn split_lines(text: &str, (start, end): (u32, u32)) -> Parsed {
    let (start, end) = (start as usize, end as usize);
    let bytes = &text.as_bytes()[..end.min(text.len())];
    let mut scan = Scanner::at(bytes, start);
    let mut fields = Vec::with_capacity(24);
    let mut line_start = start;
    while line_start < bytes.len() {
        let Some(c) = scan.key_end(line_start).filter(|&c| bytes[c] == b':') else {
            // A key that is not ASCII, or a line without `:`: as the line decoder does.
            return split_lines_slowly(text, (start, end));
        };
        let Some(lf) = scan.lf(c + 1) else {
            return split_lines_slowly(text, (start, end));
        };
        // Every line ends with CRLF (the codec framed the event on that condition).
        fields.push(field_of(bytes, line_start, c, lf - 1));
        line_start = lf + 1;
    }
    Parsed::Spans(fields)
}

/// [`split_lines`] through `str` methods, for lines that are not all `Key: Value` with an
/// ASCII key.
fn split_lines_slowly(text: &str, (start, end): (usize, usize)) -> Parsed {
    let body = text.get(start..end).unwrap_or_default();
    let at = |s: &str| (s.as_ptr() as usize - text.as_ptr() as usize) as u32;
    let lines = || {
        body.split_terminator('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
    };
    if lines().any(|line| !line.contains(':')) {
        let mut own = Store::default();
        for line in lines() {
            let (k, v) = split_field(line);
            let key = own.append(k);
            let value = own.append(v);
            own.fields.push(Field { key, value });
        }
        return Parsed::Own(own);
    }
    Parsed::Spans(
        lines()
            .map(split_field)
            .map(|(k, v)| Field {
                key: (at(k), at(k) + k.len() as u32),
                value: (at(v), at(v) + v.len() as u32),
            })
            .collect(),
    )
}

/// The bytes of a 64-byte block that end a key (`:`, LF, 0x80 and above) and that end a line
/// (LF), as bitmasks (bit `i` for byte `i`).
#[derive(Clone, Copy, Default)]
struct BlockMasks {
    key_end: u64,
    lf: u64,
    cr: u64,
}

impl BlockMasks {
    #[inline(always)]
    fn of(block: &[u8; 64]) -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of the x86_64 baseline: every CPU this target runs on has it.
            unsafe { Self::of_sse2(block) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self::of_bytes(block)
        }
    }

    /// Sixteen bytes compared at once, their flags gathered by `movemask`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    fn of_sse2(block: &[u8; 64]) -> Self {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x,
        };
        let (colon, lf) = (_mm_set1_epi8(b':' as i8), _mm_set1_epi8(b'\n' as i8));
        let cr = _mm_set1_epi8(b'\r' as i8);
        let mut masks = Self::default();
        for (i, lane) in block.chunks_exact(16).enumerate() {
            let word =
                |at: usize| i64::from_le_bytes(lane[at..at + 8].try_into().unwrap_or([0; 8]));
            let v = _mm_set_epi64x(word(8), word(0));
            let is_lf = _mm_cmpeq_epi8(v, lf);
            let stops = _mm_or_si128(_mm_cmpeq_epi8(v, colon), is_lf);
            // `movemask` of the bytes themselves flags those of 0x80 and above.
            let key_end = (_mm_movemask_epi8(stops) | _mm_movemask_epi8(v)) as u16;
            masks.key_end |= u64::from(key_end) << (16 * i);
            masks.lf |= u64::from(_mm_movemask_epi8(is_lf) as u16) << (16 * i);
            masks.cr |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr)) as u16) << (16 * i);
        }
        masks
    }

    /// The same masks, a byte at a time (other targets, and the tests' reference).
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    fn of_bytes(block: &[u8; 64]) -> Self {
        let mut masks = Self::default();
        for (i, &b) in block.iter().enumerate() {
            masks.key_end |= u64::from(b == b':' || b == b'\n' || b >= 0x80) << i;
            masks.lf |= u64::from(b == b'\n') << i;
            masks.cr |= u64::from(b == b'\r') << i;
        }
        masks
    }
}

/// Finds key ends and line ends in a buffer from its start, 64 bytes at a time: each block's
/// masks are computed once and each search is a shift and a count of trailing zeros, so a
/// message costs a branch per block, not one per byte class per line.
struct Scanner<'a> {
    bytes: &'a [u8],
    /// Where the current block starts (a multiple of 64).
    base: usize,
    masks: BlockMasks,
}

impl<'a> Scanner<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self::at(bytes, 0)
    }

    /// A scanner for searches from `from` on.
    fn at(bytes: &'a [u8], from: usize) -> Self {
        let mut scanner = Self {
            bytes,
            base: 0,
            masks: BlockMasks::default(),
        };
        scanner.load(from & !63);
        scanner
    }

    fn load(&mut self, base: usize) {
        self.base = base;
        let rest = self.bytes.get(base..).unwrap_or_default();
        self.masks = match rest.first_chunk::<64>() {
            Some(block) => BlockMasks::of(block),
            None => {
                // The last, partial block, padded with bytes that mark nothing.
                let mut block = [0u8; 64];
                block[..rest.len()].copy_from_slice(rest);
                BlockMasks::of(&block)
            }
        };
    }

    /// The first position at or after `from` that `pick` marks.
    #[inline(always)]
    fn find(&mut self, from: usize, pick: impl Fn(&BlockMasks) -> u64) -> Option<usize> {
        let mut from = from;
        loop {
            if from >= self.base + 64 {
                if from >= self.bytes.len() {
                    return None;
                }
                self.load(from & !63);
            }
            let marked = pick(&self.masks) & (!0u64 << (from - self.base));
            if marked != 0 {
                let at = self.base + marked.trailing_zeros() as usize;
                return (at < self.bytes.len()).then_some(at);
            }
            from = self.base + 64;
        }
    }

    /// Where the key of the line starting at `from` ends: its first `:`, LF or byte of 0x80 or
    /// above.
    fn key_end(&mut self, from: usize) -> Option<usize> {
        self.find(from, |m| m.key_end)
    }

    /// Where the first LF at or after `from` is.
    fn lf(&mut self, from: usize) -> Option<usize> {
        self.find(from, |m| m.lf)
    }
}

/// The field of the line `bytes[line_start..line_end]` (its CR excluded) whose first `:` is at
/// `colon`, as the line decoder splits it: the key trimmed, the one space after `:` dropped.
/// The key is ASCII.
fn field_of(bytes: &[u8], line_start: usize, colon: usize, line_end: usize) -> Field {
    let (key_start, key_end) = trim_span(bytes, line_start, colon);
    let value_start = if bytes.get(colon + 1) == Some(&b' ') && colon + 1 < line_end {
        colon + 2
    } else {
        colon + 1
    };
    // Offsets fit: a store's text is bounded by a batch of messages of bounded size.
    Field {
        key: (key_start as u32, key_end as u32),
        value: (value_start as u32, line_end.max(value_start) as u32),
    }
}

/// `bytes[start..end]` without the leading and trailing whitespace `str::trim` removes from
/// ASCII text.
fn trim_span(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r');
    while start < end && space(bytes[start]) {
        start += 1;
    }
    while end > start && space(bytes[end - 1]) {
        end -= 1;
    }
    (start, end)
}

/// Splits `Key: Value`; a line without `:` becomes an `Output` value.
fn split_field(line: &str) -> (&str, &str) {
    match line.split_once(':') {
        Some((key, value)) => (key.trim(), strip_one_space(value)),
        None => ("Output", line),
    }
}

/// Removes the single space Asterisk writes after `:`; further spaces are part of the value
/// (command output is often indented).
fn strip_one_space(value: &str) -> &str {
    value.strip_prefix(' ').unwrap_or(value)
}

impl Decoder for AmiCodec {
    type Item = AmiFrame;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<AmiFrame>, CodecError> {
        if let Some(message) = self.ready.pop_front() {
            return Ok(Some(AmiFrame::Message(message)));
        }
        if self.one_pass
            && self.mode == Mode::Fields
            && self.current.is_empty()
            && self.decode_batch(buf)
        {
            if let Some(message) = self.ready.pop_front() {
                return Ok(Some(AmiFrame::Message(message)));
            }
        }
        // Lines are taken from `buf[taken..]`; what was taken is advanced over once, on return.
        let mut taken = 0;
        loop {
            let Some(found) = memchr::memchr(b'\n', &buf[taken..]) else {
                buf.advance(taken);
                if self.current_size + buf.len() > self.max_message {
                    buf.clear();
                    return Err(self.too_large());
                }
                return Ok(None);
            };
            let newline = taken + found;
            self.current_size += found + 1;
            if self.current_size > self.max_message {
                buf.advance(newline + 1);
                return Err(self.too_large());
            }
            let mut end = newline;
            if end > taken && buf[end - 1] == b'\r' {
                end -= 1;
            }
            let frame = self.push_line(&String::from_utf8_lossy(&buf[taken..end]));
            taken = newline + 1;
            if let Some(frame) = frame {
                buf.advance(taken);
                return Ok(Some(frame));
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<AmiFrame>, CodecError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None => {
                // The peer closed mid-message: the partial message is dropped.
                buf.clear();
                self.current = AmiMessage::new();
                self.current_size = 0;
                Ok(None)
            }
        }
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty() && !key.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0 | b':'))
}

fn valid_value(value: &str) -> bool {
    !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Checks that every key and value of `msg` can be written as one AMI line (no CR, LF or NUL;
/// keys non-empty and without `:`). The encoder runs this before writing anything.
pub fn check_message(msg: &AmiMessage) -> Result<(), CodecError> {
    for (key, value) in msg.fields() {
        if !valid_key(key) || !valid_value(value) {
            return Err(CodecError::InvalidField {
                key: key.escape_debug().to_string(),
            });
        }
    }
    Ok(())
}

impl Encoder<&AmiMessage> for AmiCodec {
    type Error = CodecError;

    fn encode(&mut self, msg: &AmiMessage, dst: &mut BytesMut) -> Result<(), CodecError> {
        // Validate everything first so a refused message writes nothing.
        check_message(msg)?;
        for (key, value) in msg.fields() {
            dst.reserve(key.len() + value.len() + 4);
            dst.put_slice(key.as_bytes());
            dst.put_slice(b": ");
            dst.put_slice(value.as_bytes());
            dst.put_slice(b"\r\n");
        }
        dst.put_slice(b"\r\n");
        Ok(())
    }
}

impl Encoder<AmiMessage> for AmiCodec {
    type Error = CodecError;

    fn encode(&mut self, msg: AmiMessage, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(&msg, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields<'a> = &'a [(&'a str, &'a str)];

    fn msg(fields: Fields<'_>) -> AmiFrame {
        let mut m = AmiMessage::new();
        for (k, v) in fields {
            m.push(*k, *v);
        }
        AmiFrame::Message(m)
    }

    /// Decodes `input` in one buffer and, independently, byte by byte; both must give `expect`.
    fn check(input: &[u8], banner: bool, expect: &[AmiFrame]) {
        let new_codec = || {
            let c = AmiCodec::new();
            if banner {
                c
            } else {
                c.without_banner()
            }
        };

        let mut codec = new_codec();
        let mut buf = BytesMut::from(input);
        let mut whole = Vec::new();
        while let Some(frame) = codec.decode(&mut buf).expect("decode") {
            whole.push(frame);
        }
        assert_eq!(
            whole,
            expect,
            "whole-buffer decode of {:?}",
            String::from_utf8_lossy(input)
        );

        let mut codec = new_codec();
        let mut buf = BytesMut::new();
        let mut split = Vec::new();
        for &b in input {
            buf.put_u8(b);
            while let Some(frame) = codec.decode(&mut buf).expect("decode") {
                split.push(frame);
            }
        }
        assert_eq!(split, expect, "byte-by-byte decode");

        let mut codec = new_codec();
        codec.one_pass = false;
        let mut buf = BytesMut::from(input);
        let mut lines = Vec::new();
        while let Some(frame) = codec.decode(&mut buf).expect("decode") {
            lines.push(frame);
        }
        assert_eq!(lines, expect, "line-by-line decode of the whole buffer");
    }

    /// Decodes `input` fed in chunks of the given sizes (cycled); frames and the error, if any.
    fn decode_chunked(
        input: &[u8],
        chunks: &[usize],
        one_pass: bool,
        fast: &mut usize,
    ) -> Vec<Result<AmiFrame, String>> {
        let mut codec = AmiCodec::with_max_message(300).without_banner();
        codec.one_pass = one_pass;
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut rest = input;
        let mut sizes = chunks.iter().cycle();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(frame)) => out.push(Ok(frame)),
                    Ok(None) => break,
                    Err(e) => {
                        out.push(Err(e.to_string()));
                        break;
                    }
                }
            }
        }
        *fast += codec.one_pass_frames;
        out
    }

    #[test]
    fn the_scanner_finds_the_first_of_its_bytes_from_any_position() {
        let cases: &[&[u8]] = &[
            b"Event: X",
            b"ConnectedLineName: <unknown>",
            b"A:B:C",
            b":",
            b"no colon at all here",
            b"",
            b"K\xc3\xa9y: x",
            b"Key: Jos\xc3\xa9",
            b"0123456789ABCDEF\xff:",
            b"0123456789ABCDEF:\xff",
            b"\x01\x01\x01\x01\x01\x01\x01:",
            b";;;;;;;;:",
            b"\t\t\t\t\t\t\t\t\t\t\x3b:",
            b"Key\r\nNext: x",
            b"0123456789\n:",
            b"01234567:\n",
            b"\n\n\n\n\n\n\n\n\x0b:",
            b"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\n",
        ];
        // Each case alone, and at every offset of a longer buffer so that its bytes fall on
        // both sides of a 64-byte block boundary.
        let mut buffers: Vec<Vec<u8>> = cases.iter().map(|c| c.to_vec()).collect();
        for case in cases {
            for pad in [1, 7, 50, 63, 64, 65, 120, 127, 128] {
                let mut b = vec![b'x'; pad];
                b.extend_from_slice(case);
                b.extend_from_slice(b"tail without stops");
                buffers.push(b);
            }
        }
        for bytes in &buffers {
            for from in 0..=bytes.len() {
                let part = &bytes[from..];
                let key = part
                    .iter()
                    .position(|&b| b == b':' || b == b'\n' || b >= 0x80)
                    .map(|i| from + i);
                assert_eq!(
                    Scanner::new(bytes).key_end(from),
                    key,
                    "{bytes:?} from {from}"
                );
                let lf = part.iter().position(|&b| b == b'\n').map(|i| from + i);
                assert_eq!(Scanner::new(bytes).lf(from), lf, "{bytes:?} from {from}");
            }
            // One scanner walking forwards, as the decoder does.
            let mut scan = Scanner::new(bytes);
            let mut from = 0;
            while let Some(at) = scan.key_end(from) {
                assert!(matches!(bytes[at], b':' | b'\n') || bytes[at] >= 0x80);
                assert!(bytes[from..at]
                    .iter()
                    .all(|&b| b != b':' && b != b'\n' && b < 0x80));
                from = at + 1;
            }
            assert!(bytes[from.min(bytes.len())..]
                .iter()
                .all(|&b| b != b':' && b != b'\n' && b < 0x80));
        }
    }

    #[test]
    fn one_pass_and_line_decoding_agree_on_generated_streams() {
        // Pieces of lines a peer may send: plain fields, odd spacing, colons in values, bare
        // LFs, blank lines, lines without a colon, non-UTF-8 and non-ASCII keys, Follows.
        const PIECES: &[&[u8]] = &[
            b"Event: Newchannel\r\n",
            b"Channel: PJSIP/1001-0000000a\r\n",
            b"Address: 127.0.0.1:5060\r\n",
            b"  Spaced  :   value \r\n",
            b"Empty:\r\n",
            b"Empty2: \r\n",
            b"\x0bKey\x0c: v\r\n",
            b"CallerIDName: Jos\xc3\xa9\r\n",
            b"Bad: \xff\xfe\r\n",
            b"K\xc3\xa9y: x\r\n",
            b"no colon here\r\n",
            b"Bare: lf\n",
            b"Mid: a\rb\r\n",
            b"\r\n",
            b"\n",
            b"Response: Follows\r\n",
            b"Response: Success\r\n",
            b"--END COMMAND--\r\n",
            b"Big: 0123456789012345678901234567890123456789012345678901234567890123456789\r\n",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut fast, mut slow) = (0, 0);
        for round in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..(next() % 24) {
                input.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            let chunks: Vec<usize> = (0..4).map(|_| 1 + (next() % 97) as usize).collect();
            let whole = [input.len().max(1)];
            for sizes in [&whole[..], &chunks[..]] {
                assert_eq!(
                    decode_chunked(&input, sizes, true, &mut fast),
                    decode_chunked(&input, sizes, false, &mut slow),
                    "round {round}, chunks {sizes:?}: {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
        assert_eq!(slow, 0);
        assert!(fast > 300, "one-pass frames: {fast}");
    }

    #[test]
    fn the_vector_masks_equal_the_bytewise_masks() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        const BYTES: &[u8] = b":\n\rAz 0\x7f\x80\xc3\xa9\xff\x00\x0b\t";
        for _ in 0..20_000 {
            let mut block = [0u8; 64];
            for b in block.iter_mut() {
                *b = BYTES[(next() % BYTES.len() as u64) as usize];
            }
            let (fast, slow) = (BlockMasks::of(&block), BlockMasks::of_bytes(&block));
            assert_eq!(
                (fast.key_end, fast.lf),
                (slow.key_end, slow.lf),
                "{block:?}"
            );
        }
    }

    #[test]
    fn messages_of_one_read_share_one_store_and_copy_out_to_change() {
        let mut codec = AmiCodec::new().without_banner();
        let mut buf = BytesMut::from(
            &b"Event: A\r\nUniqueid: 1\r\n\r\nEvent: B\r\nUniqueid: 2\r\n\r\nEvent: C\r\n"[..],
        );
        let mut take = |buf: &mut BytesMut| match codec.decode(buf) {
            Ok(Some(AmiFrame::Message(m))) => Some(m),
            _ => None,
        };
        let (Some(mut a), Some(b)) = (take(&mut buf), take(&mut buf)) else {
            panic!("two whole messages")
        };
        assert!(take(&mut buf).is_none(), "the third is not whole yet");
        assert!(a.shares_store_with(&b));
        // Framed and named by the codec; the fields are split on the first look at them.
        assert_eq!((a.event_name(), b.is_event()), (Some("A"), true));
        assert!(a.is_unread() && b.is_unread() && !b.is_response());
        let early = b.clone();
        assert_eq!(early.get("uniqueid"), Some("2"));
        assert!(!b.is_unread(), "a clone shares the split fields");
        assert_eq!(
            a.fields().collect::<Vec<_>>(),
            [("Event", "A"), ("Uniqueid", "1")]
        );
        assert_eq!(
            b.fields().collect::<Vec<_>>(),
            [("Event", "B"), ("Uniqueid", "2")]
        );
        let copy = b.clone();
        assert!(copy.shares_store_with(&b));

        a.insert(1, "ActionID", "7");
        a.remove("Uniqueid");
        assert!(!a.shares_store_with(&b));
        assert_eq!(
            a.fields().collect::<Vec<_>>(),
            [("Event", "A"), ("ActionID", "7")]
        );
        assert_eq!(b.get("Uniqueid"), Some("2"));
        assert_eq!(b.len(), 2);
        assert_eq!(copy, b);

        buf.extend_from_slice(b"Uniqueid: 3\r\n\r\n");
        let c = take(&mut buf).map(|m| {
            m.fields()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        });
        assert_eq!(c, Some(vec!["Event=C".to_owned(), "Uniqueid=3".to_owned()]));
    }

    #[test]
    fn banner_then_messages() {
        check(
            b"Asterisk Call Manager/9.0.0\r\nResponse: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n",
            true,
            &[
                AmiFrame::Banner("Asterisk Call Manager/9.0.0".into()),
                msg(&[
                    ("Response", "Success"),
                    ("ActionID", "1"),
                    ("Message", "Authentication accepted"),
                ]),
            ],
        );
        let banner = AmiFrame::Banner("Asterisk Call Manager/9.0.0".into());
        assert_eq!(banner.banner_version(), Some("9.0.0"));
    }

    #[test]
    fn data_driven_messages() {
        let cases: &[(&str, &[u8], &[Fields<'_>])] = &[
            (
                "event",
                b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n",
                &[&[
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Status", "Fully Booted"),
                ]],
            ),
            (
                "repeated keys kept in order",
                b"Event: VarSet\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n",
                &[&[("Event", "VarSet"), ("Variable", "A=1"), ("Variable", "B=2")]],
            ),
            (
                "\\n-only endings and blank lines between messages",
                b"Response: Success\nActionID: 2\n\n\n\nEvent: X\n\n",
                &[&[("Response", "Success"), ("ActionID", "2")], &[("Event", "X")]],
            ),
            (
                "value with colons and extra spaces",
                b"Event: X\r\nTime:  12:00:01\r\nEmpty:\r\n\r\n",
                &[&[("Event", "X"), ("Time", " 12:00:01"), ("Empty", "")]],
            ),
            (
                "line without colon kept as Output",
                b"Response: Success\r\nsome stray text\r\n\r\n",
                &[&[("Response", "Success"), ("Output", "some stray text")]],
            ),
            (
                "Asterisk 14+ command output",
                b"Response: Success\r\nActionID: 3\r\nMessage: Command output follows\r\nOutput: Name/username\r\nOutput:    1001/1001   OK\r\n\r\n",
                &[&[
                    ("Response", "Success"),
                    ("ActionID", "3"),
                    ("Message", "Command output follows"),
                    ("Output", "Name/username"),
                    ("Output", "   1001/1001   OK"),
                ]],
            ),
            (
                "old-style Follows with blank lines and colons in the body",
                b"Response: Follows\r\nPrivilege: Command\r\nActionID: 4\r\nUptime: 1 hour\n\nChannel: none\n--END COMMAND--\r\n\r\nEvent: After\r\n\r\n",
                &[
                    &[
                        ("Response", "Follows"),
                        ("Privilege", "Command"),
                        ("ActionID", "4"),
                        ("Output", "Uptime: 1 hour"),
                        ("Output", ""),
                        ("Output", "Channel: none"),
                    ],
                    &[("Event", "After")],
                ],
            ),
            (
                "old-style Follows, output without final newline",
                b"Response: Follows\r\nPrivilege: Command\r\nActionID: 5\r\nNo such command--END COMMAND--\r\n\r\n",
                &[&[
                    ("Response", "Follows"),
                    ("Privilege", "Command"),
                    ("ActionID", "5"),
                    ("Output", "No such command"),
                ]],
            ),
            (
                "old-style Follows with empty output",
                b"Response: Follows\r\nPrivilege: Command\r\n--END COMMAND--\r\n\r\n",
                &[&[("Response", "Follows"), ("Privilege", "Command")]],
            ),
        ];
        for (name, input, expect) in cases {
            let expect: Vec<AmiFrame> = expect.iter().map(|f| msg(f)).collect();
            eprintln!("case: {name}");
            check(input, false, &expect);
        }
    }

    #[test]
    fn non_utf8_is_lossy_not_fatal() {
        check(
            b"Event: Newchannel\r\nCallerIDName: Jos\xe9\r\n\xff\xfe: x\r\n\r\nEvent: Next\r\n\r\n",
            false,
            &[
                msg(&[
                    ("Event", "Newchannel"),
                    ("CallerIDName", "Jos\u{FFFD}"),
                    ("\u{FFFD}\u{FFFD}", "x"),
                ]),
                msg(&[("Event", "Next")]),
            ],
        );
    }

    #[test]
    fn partial_message_waits_for_more() {
        let mut codec = AmiCodec::new().without_banner();
        let mut buf = BytesMut::from(&b"Event: X\r\nA: 1\r\n"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        buf.put_slice(b"\r\n");
        assert_eq!(
            codec.decode(&mut buf).unwrap(),
            Some(msg(&[("Event", "X"), ("A", "1")]))
        );
    }

    #[test]
    fn oversize_message_is_an_error() {
        // Many short lines: the limit is on the message, not the line.
        let mut codec = AmiCodec::with_max_message(64).without_banner();
        let mut buf = BytesMut::new();
        buf.put_slice(b"Event: Big\r\n");
        for _ in 0..10 {
            buf.put_slice(b"Key: 0123456789\r\n");
        }
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::MessageTooLarge { limit: 64 })
        ));

        // One endless line without a newline must not buffer forever either.
        let mut codec = AmiCodec::with_max_message(64);
        let mut buf = BytesMut::from(&[b'x'; 65][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::MessageTooLarge { .. })
        ));

        // Exactly at the limit is fine.
        let mut codec = AmiCodec::with_max_message(12).without_banner();
        let mut buf = BytesMut::from(&b"Event: X\r\n\r\n"[..]);
        assert_eq!(
            codec.decode(&mut buf).unwrap(),
            Some(msg(&[("Event", "X")]))
        );
    }

    #[test]
    fn decode_eof_drops_partial_message() {
        let mut codec = AmiCodec::new().without_banner();
        let mut buf = BytesMut::from(&b"Event: X\r\nA: 1"[..]);
        assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
        assert!(buf.is_empty());
    }

    #[test]
    fn encoder_writes_lines_and_blank_line() {
        let m = AmiMessage::new()
            .with("Action", "Originate")
            .with("Variable", "A=1")
            .with("Variable", "B=2,3");
        let mut out = BytesMut::new();
        AmiCodec::new().encode(&m, &mut out).unwrap();
        assert_eq!(
            &out[..],
            b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2,3\r\n\r\n"
        );
    }

    #[test]
    fn encoder_refuses_injection() {
        for (k, v) in [
            ("Action", "Ping\r\nAction: Logoff"),
            ("Action", "Ping\nX: y"),
            ("Action", "Ping\0"),
            ("Bad:Key", "v"),
            ("", "v"),
        ] {
            let m = AmiMessage::new().with(k, v);
            let mut out = BytesMut::new();
            assert!(
                matches!(
                    AmiCodec::new().encode(&m, &mut out),
                    Err(CodecError::InvalidField { .. })
                ),
                "{k:?}: {v:?}"
            );
            assert!(out.is_empty(), "nothing written for a refused message");
        }
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let m = AmiMessage::new()
            .with("Action", "Setvar")
            .with("Variable", "X")
            .with("Value", "  spaced: value ");
        let mut buf = BytesMut::new();
        let mut codec = AmiCodec::new().without_banner();
        codec.encode(&m, &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(AmiFrame::Message(m)));
    }
}
