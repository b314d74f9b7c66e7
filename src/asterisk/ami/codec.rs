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

use super::message::{AmiMessage, Field};

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
    /// Fields of the last message: the next one is likely of the same shape.
    fields_hint: usize,
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

    /// Decodes one whole message from the front of `buf` in one pass, when that is plain:
    /// entirely in the buffer, within the size limit, every line `Key: Value` ended by CRLF,
    /// keys ASCII, valid UTF-8, not an old-style `Response: Follows`. Its bytes are copied once
    /// and its fields are spans of that copy. Anything else (`None`, nothing consumed) goes
    /// through the line decoder, which gives the same fields.
    fn decode_whole(&mut self, buf: &mut BytesMut) -> Option<AmiFrame> {
        let bytes = &buf[..buf.len().min(self.max_message)];
        let mut fields: Vec<Field> = Vec::with_capacity(self.fields_hint);
        let mut line_start = 0;
        // Eight bytes at a time, in line: a line is short, so a vector search per line costs
        // more than it saves. The key runs up to the first `:`; the line ends at the next LF.
        loop {
            let rest = bytes.get(line_start..)?;
            if rest.starts_with(b"\r\n") {
                // The empty line: the message is complete.
                if fields.is_empty() {
                    return None;
                }
                let text = std::str::from_utf8(&bytes[..line_start]).ok()?.to_owned();
                buf.advance(line_start + 2);
                self.fields_hint = fields.len();
                #[cfg(test)]
                {
                    self.one_pass_frames += 1;
                }
                return Some(AmiFrame::Message(AmiMessage::from_parts(text, fields)));
            }
            // A line without `:` (an `Output` value, or a bare LF) and a key that is not ASCII
            // are left to the line decoder.
            let c = line_start + key_end(rest)?;
            if bytes[c] != b':' {
                return None;
            }
            let at = c + 1 + find_lf(&bytes[c + 1..])?;
            if bytes[at - 1] != b'\r' {
                return None; // a bare LF
            }
            let line_end = at - 1;
            let (key_start, key_end) = trim_span(bytes, line_start, c);
            let value_start = if bytes.get(c + 1) == Some(&b' ') && c + 1 < line_end {
                c + 2
            } else {
                c + 1
            };
            if fields.is_empty()
                && bytes[key_start..key_end].eq_ignore_ascii_case(b"Response")
                && bytes[value_start..line_end].eq_ignore_ascii_case(b"Follows")
            {
                return None;
            }
            // Offsets fit: the message is bounded far below 4 GiB by the codec's limit.
            fields.push(Field {
                key: (key_start as u32, key_end as u32),
                value: (value_start as u32, line_end as u32),
            });
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

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// The bytes of the little-endian word `w` equal to `b`, flagged by their high bit. The lowest
/// flag is exact (a borrow only runs upwards from a matching byte), higher ones may be false.
#[inline(always)]
fn matches(w: u64, b: u8) -> u64 {
    let x = w ^ u64::from_ne_bytes([b; 8]);
    x.wrapping_sub(ONES) & !x & HIGH
}

/// The first byte of `bytes` that `flags` marks in its eight-byte words (its lowest flag exact),
/// or that `hit` accepts in the last few bytes.
#[inline(always)]
fn first_marked(
    bytes: &[u8],
    flags: impl Fn(u64) -> u64,
    hit: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let flagged = flags(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])));
        if flagged != 0 {
            return Some(at + (flagged.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| hit(b))
        .map(|i| at + i)
}

/// Where the key of `line` ends: its first `:`, LF or byte of 0x80 or above.
fn key_end(line: &[u8]) -> Option<usize> {
    first_marked(
        line,
        |w| matches(w, b':') | matches(w, b'\n') | (w & HIGH),
        |b| b == b':' || b == b'\n' || b >= 0x80,
    )
}

/// Where the first LF of `bytes` is.
fn find_lf(bytes: &[u8]) -> Option<usize> {
    first_marked(bytes, |w| matches(w, b'\n'), |b| b == b'\n')
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
        if self.one_pass && self.mode == Mode::Fields && self.current.is_empty() {
            if let Some(frame) = self.decode_whole(buf) {
                return Ok(Some(frame));
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
    fn key_end_and_find_lf_find_the_first_of_their_bytes() {
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
        for line in cases {
            for from in 0..=line.len() {
                let part = &line[from..];
                let key = part
                    .iter()
                    .position(|&b| b == b':' || b == b'\n' || b >= 0x80);
                assert_eq!(key_end(part), key, "{part:?}");
                let lf = part.iter().position(|&b| b == b'\n');
                assert_eq!(find_lf(part), lf, "{part:?}");
            }
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
