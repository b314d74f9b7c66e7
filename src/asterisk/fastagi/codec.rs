//! The FastAGI wire format, as pure functions over text: the request Asterisk sends when the
//! dialplan runs `AGI(agi://host:port/<script>,<arg1>,<arg2>...)`, the commands the engine
//! answers with, and Asterisk's replies to them.
//!
//! A request is `key: value` lines ending at an empty line (`agi_network: yes`,
//! `agi_network_script: <script>`, `agi_request: ...`, `agi_channel: ...`, ...,
//! `agi_arg_1: ...`). Only the script and the arguments matter to the engine; every other
//! field is kept as text and never interpreted. A command is one line (`SET VARIABLE name
//! value`); each gets one reply line (`200 result=1`).

use std::collections::BTreeMap;

/// Most fields a request may have (Asterisk 22 sends 22 plus one per argument).
pub const MAX_FIELDS: usize = 64;

/// Most arguments a request may carry.
pub const MAX_ARGS: usize = 16;

/// One request: the script named in the URL and the `AGI()` arguments after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgiRequest {
    /// `agi_network_script`: the URL's path after the address (`blacklist`); empty when none.
    pub script: String,
    /// `agi_arg_1`, `agi_arg_2`...: the arguments, in order (a missing one is empty).
    pub args: Vec<String>,
    /// Every other field, as sent (`agi_channel`, `agi_uniqueid`...), for logs only.
    pub fields: BTreeMap<String, String>,
}

impl AgiRequest {
    /// The argument at `index` (1-based, as `agi_arg_N` counts), or `""`.
    pub fn arg(&self, index: usize) -> &str {
        index
            .checked_sub(1)
            .and_then(|i| self.args.get(i))
            .map_or("", String::as_str)
    }

    /// A field other than the script and the arguments (`agi_uniqueid`), or `""`.
    pub fn field(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A line is not `key: value`.
    #[error("request line {0} is not `key: value`")]
    NotAField(usize),
    /// More than [`MAX_FIELDS`] lines.
    #[error("more than {MAX_FIELDS} request fields")]
    TooManyFields,
    /// An `agi_arg_N` beyond [`MAX_ARGS`] (or not a number).
    #[error("argument {0:?} out of range")]
    BadArgument(String),
    /// Not a FastAGI request (`agi_network: yes` missing).
    #[error("not a FastAGI request")]
    NotNetwork,
}

/// Parses a request from its lines (without the final empty line; line ends already cut).
pub fn parse_request<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> Result<AgiRequest, RequestError> {
    let mut request = AgiRequest::default();
    let mut network = false;
    for (n, line) in lines.into_iter().enumerate() {
        if n >= MAX_FIELDS {
            return Err(RequestError::TooManyFields);
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (key, value) = line.split_once(':').ok_or(RequestError::NotAField(n + 1))?;
        let key = key.trim();
        // Asterisk writes exactly one space after the colon; the value is the rest, verbatim.
        let value = value.strip_prefix(' ').unwrap_or(value);
        if key.is_empty() {
            return Err(RequestError::NotAField(n + 1));
        }
        if let Some(index) = key.strip_prefix("agi_arg_") {
            let i: usize = index
                .parse()
                .ok()
                .filter(|i| (1..=MAX_ARGS).contains(i))
                .ok_or_else(|| RequestError::BadArgument(key.to_owned()))?;
            if request.args.len() < i {
                request.args.resize(i, String::new());
            }
            request.args[i - 1] = value.to_owned();
        } else if key == "agi_network_script" {
            request.script = value.to_owned();
        } else {
            if key == "agi_network" && value == "yes" {
                network = true;
            }
            request.fields.insert(key.to_owned(), value.to_owned());
        }
    }
    if network {
        Ok(request)
    } else {
        Err(RequestError::NotNetwork)
    }
}

/// A channel variable name a command may set: `[A-Za-z0-9_]`, 1-64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariableName(String);

impl VariableName {
    /// Validates a name.
    pub fn new(name: &str) -> Option<Self> {
        ((1..=64).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then(|| Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `SET VARIABLE <name> <value>`: sets a channel variable. The value is one token
/// (`[A-Za-z0-9_.+/=-]`, 1-128, so base64 text fits: no quoting, no space, nothing the
/// dialplan could parse); `None` for any other value.
pub fn set_variable(name: &VariableName, value: &str) -> Option<String> {
    ((1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-+/=".contains(&b)))
    .then(|| format!("SET VARIABLE {} {value}\n", name.as_str()))
}

/// Asterisk's reply to a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgiReply {
    /// `200 result=N [...]`: the command ran; `N` is its result.
    Done(i64),
    /// `HANGUP`: the channel hung up (the command may not have run).
    Hangup,
    /// Anything else (`510 Invalid or unknown command`, `520 ...`): the line as sent.
    Other(String),
}

/// Parses one reply line (line end already cut).
pub fn parse_reply(line: &str) -> AgiReply {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line == "HANGUP" {
        return AgiReply::Hangup;
    }
    line.strip_prefix("200 result=")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .map_or_else(|| AgiReply::Other(line.to_owned()), AgiReply::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as Asterisk 22 sends it for
    /// `AGI(agi://127.0.0.1:4573/blacklist,q_cobranza,099123456)`.
    const REQUEST: &str = "agi_network: yes\n\
        agi_network_script: blacklist\n\
        agi_request: agi://127.0.0.1:4573/blacklist\n\
        agi_channel: PJSIP/carrier-00000012\n\
        agi_language: en\n\
        agi_type: PJSIP\n\
        agi_uniqueid: pbx1-1700000000.42\n\
        agi_version: 22.5.2\n\
        agi_callerid: 099123456\n\
        agi_calleridname: Cliente: uno\n\
        agi_callingpres: 0\n\
        agi_dnid: 26003000\n\
        agi_context: to-queue\n\
        agi_extension: 26003000\n\
        agi_priority: 5\n\
        agi_enhanced: 0.0\n\
        agi_accountcode: \n\
        agi_threadid: 140201\n\
        agi_arg_1: q_cobranza\n\
        agi_arg_2: 099123456";

    #[test]
    fn requests_parse_into_script_and_arguments() {
        let r = parse_request(REQUEST.lines()).unwrap();
        assert_eq!(r.script, "blacklist");
        assert_eq!(r.args, vec!["q_cobranza", "099123456"]);
        assert_eq!(
            (r.arg(1), r.arg(2), r.arg(3), r.arg(0)),
            ("q_cobranza", "099123456", "", "")
        );
        assert_eq!(r.field("agi_uniqueid"), "pbx1-1700000000.42");
        assert_eq!(
            r.field("agi_calleridname"),
            "Cliente: uno",
            "the value after the first colon"
        );
        assert_eq!(r.field("agi_accountcode"), "");

        // CRLF line ends, an empty first argument, arguments out of order.
        let r = parse_request(
            [
                "agi_network: yes\r",
                "agi_arg_2: 5551234\r",
                "agi_arg_1: \r",
            ]
            .iter()
            .copied(),
        )
        .unwrap();
        assert_eq!((r.script.as_str(), r.arg(1), r.arg(2)), ("", "", "5551234"));
    }

    #[test]
    fn malformed_requests_are_refused() {
        for (lines, want) in [
            (
                vec!["agi_network: yes", "no colon"],
                RequestError::NotAField(2),
            ),
            (
                vec!["agi_network: yes", ": value"],
                RequestError::NotAField(2),
            ),
            (
                vec!["agi_network: yes", "agi_arg_17: x"],
                RequestError::BadArgument("agi_arg_17".into()),
            ),
            (
                vec!["agi_network: yes", "agi_arg_0: x"],
                RequestError::BadArgument("agi_arg_0".into()),
            ),
            (
                vec!["agi_network: yes", "agi_arg_x: x"],
                RequestError::BadArgument("agi_arg_x".into()),
            ),
            (vec!["agi_request: /usr/bin/x"], RequestError::NotNetwork),
            (vec!["agi_network: no"], RequestError::NotNetwork),
        ] {
            assert_eq!(parse_request(lines.iter().copied()), Err(want), "{lines:?}");
        }
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("agi_x{i}: 1")).collect();
        assert_eq!(
            parse_request(many.iter().map(String::as_str)),
            Err(RequestError::TooManyFields)
        );
    }

    #[test]
    fn commands_carry_one_plain_token() {
        let name = VariableName::new("BL_LISTED").unwrap();
        assert_eq!(
            set_variable(&name, "1").as_deref(),
            Some("SET VARIABLE BL_LISTED 1\n")
        );
        for bad in [
            "",
            "a b",
            "\"1\"",
            "1\n",
            "${X}",
            "$[1]",
            "a,b",
            &"1".repeat(129),
        ] {
            assert_eq!(set_variable(&name, bad), None, "{bad:?}");
        }
        for bad in ["", "A B", "X(1)", "A-B", &"A".repeat(65)] {
            assert_eq!(VariableName::new(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn replies_parse() {
        for (line, want) in [
            ("200 result=1", AgiReply::Done(1)),
            ("200 result=0\r", AgiReply::Done(0)),
            ("200 result=-1 (timeout)", AgiReply::Done(-1)),
            ("HANGUP", AgiReply::Hangup),
            (
                "510 Invalid or unknown command",
                AgiReply::Other("510 Invalid or unknown command".into()),
            ),
            ("200 result=x", AgiReply::Other("200 result=x".into())),
        ] {
            assert_eq!(parse_reply(line), want, "{line:?}");
        }
    }
}
