//! The FastAGI server: accepts Asterisk's connections, reads each request within bounds, runs
//! the script it names and sends the script's `SET VARIABLE` commands back.
//!
//! One task accepts; each connection gets its own task, at most
//! [`FastAgiSettings::max_connections`] at once (a connection beyond that is closed at once).
//! A request must arrive whole within [`FastAgiSettings::request_timeout`], be at most
//! [`MAX_REQUEST_BYTES`] long, and a line longer than [`MAX_LINE`] is dropped (it is never
//! one the engine reads: the script and the arguments are short). Whatever goes wrong, the
//! connection is closed without a command: the dialplan then goes on without the answer.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use super::codec::{
    parse_reply, parse_request, set_variable, AgiReply, AgiRequest, RequestError, VariableName,
};

/// Longest request line kept, in bytes (longer ones are dropped whole).
pub const MAX_LINE: usize = 1024;

/// Longest request, in bytes: past it the connection is closed.
pub const MAX_REQUEST_BYTES: usize = 128 * 1024;

/// The server's bounds.
#[derive(Clone, Debug)]
pub struct FastAgiSettings {
    /// Connections served at once. Default 64.
    pub max_connections: usize,
    /// How long a request may take to arrive whole. Default 2 s.
    pub request_timeout: Duration,
    /// How long a script may take to answer. Default 2 s.
    pub script_timeout: Duration,
    /// How long Asterisk may take to reply to a command. Default 2 s.
    pub reply_timeout: Duration,
}

impl Default for FastAgiSettings {
    fn default() -> Self {
        Self {
            max_connections: 64,
            request_timeout: Duration::from_secs(2),
            script_timeout: Duration::from_secs(2),
            reply_timeout: Duration::from_secs(2),
        }
    }
}

/// The variables a script sets, in order.
pub type Answer = Vec<(VariableName, String)>;

/// A script's answer, to come.
pub type ScriptFuture<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// One script of the server (the path of `agi://host:port/<script>`).
pub trait Script: Send + Sync {
    /// The variables to set for `request` (none: the dialplan goes on without an answer).
    fn answer<'a>(&'a self, request: &'a AgiRequest) -> ScriptFuture<'a>;
}

/// The scripts by name.
#[derive(Clone, Default)]
pub struct Scripts(HashMap<String, Arc<dyn Script>>);

impl Scripts {
    /// No script.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `script` under `name`.
    pub fn with(mut self, name: &str, script: Arc<dyn Script>) -> Self {
        self.0.insert(name.to_owned(), script);
        self
    }

    /// Whether no script is there.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn get(&self, name: &str) -> Option<&Arc<dyn Script>> {
        self.0.get(name)
    }
}

/// Why one connection ended without its answer.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The socket failed.
    #[error("FastAGI connection failed")]
    Io(#[from] std::io::Error),
    /// The request did not arrive in time.
    #[error("the FastAGI request did not arrive in time")]
    RequestTimeout,
    /// The request is longer than [`MAX_REQUEST_BYTES`] (or the peer closed before its end).
    #[error("the FastAGI request is too long or incomplete")]
    Incomplete,
    /// The request is not one.
    #[error("bad FastAGI request")]
    Request(#[from] RequestError),
    /// No such script.
    #[error("no FastAGI script {0:?}")]
    UnknownScript(String),
    /// The script did not answer in time.
    #[error("the FastAGI script {0:?} did not answer in time")]
    ScriptTimeout(String),
    /// A value the script gave cannot be sent.
    #[error("the FastAGI script {0:?} gave a value that cannot be sent")]
    BadValue(String),
}

/// One line: its text (lossy UTF-8, line end cut), or `None` when it was longer than `max`
/// and dropped. `Ok(None)` at the end of the stream; `read` counts the bytes taken.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
    read: &mut usize,
) -> std::io::Result<Option<Option<String>>> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if line.is_empty() && !too_long {
                None
            } else {
                Some(None)
            });
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        *read += used;
        if *read > MAX_REQUEST_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "FastAGI request too long",
            ));
        }
        if done.is_some() {
            if too_long {
                return Ok(Some(None));
            }
            let mut text = String::from_utf8_lossy(&line).into_owned();
            if text.ends_with('\r') {
                text.pop();
            }
            return Ok(Some(Some(text)));
        }
    }
}

/// The request's lines up to the empty line (long lines dropped).
async fn read_request<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Vec<String>, ConnectionError> {
    let mut lines = Vec::new();
    let mut read = 0;
    loop {
        match read_line(reader, MAX_LINE, &mut read).await {
            Ok(Some(Some(line))) if line.is_empty() => return Ok(lines),
            Ok(Some(Some(line))) => lines.push(line),
            Ok(Some(None)) => debug!("FastAGI: a request line too long, dropped"),
            Ok(None) => return Err(ConnectionError::Incomplete),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(ConnectionError::Incomplete)
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    scripts: &Scripts,
    settings: &FastAgiSettings,
) -> Result<(), ConnectionError> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let lines = tokio::time::timeout(settings.request_timeout, read_request(&mut reader))
        .await
        .map_err(|_| ConnectionError::RequestTimeout)??;
    let request = parse_request(lines.iter().map(String::as_str))?;
    let script = scripts
        .get(&request.script)
        .ok_or_else(|| ConnectionError::UnknownScript(request.script.clone()))?;
    let answer = tokio::time::timeout(settings.script_timeout, script.answer(&request))
        .await
        .map_err(|_| ConnectionError::ScriptTimeout(request.script.clone()))?;
    for (name, value) in answer {
        let command = set_variable(&name, &value)
            .ok_or_else(|| ConnectionError::BadValue(request.script.clone()))?;
        write.write_all(command.as_bytes()).await?;
        let mut read = 0;
        let reply = tokio::time::timeout(
            settings.reply_timeout,
            read_line(&mut reader, MAX_LINE, &mut read),
        )
        .await;
        match reply {
            Ok(Ok(Some(Some(line)))) => match parse_reply(&line) {
                AgiReply::Done(_) => {
                    debug!(variable = name.as_str(), %value, "FastAGI variable set")
                }
                AgiReply::Hangup => {
                    debug!("FastAGI: the channel hung up");
                    break;
                }
                AgiReply::Other(line) => warn!(%line, "FastAGI: Asterisk refused a command"),
            },
            _ => {
                debug!("FastAGI: no reply to a command");
                break;
            }
        }
    }
    let _ = write.shutdown().await;
    Ok(())
}

/// Serves `listener` until `shutdown` resolves (connections being served finish on their own).
pub async fn run(
    listener: TcpListener,
    scripts: Scripts,
    settings: FastAgiSettings,
    shutdown: impl Future<Output = ()>,
) {
    let scripts = Arc::new(scripts);
    let settings = Arc::new(settings);
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer): (TcpStream, SocketAddr) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "FastAGI accept failed");
                    // An accept error (out of file descriptors) repeats at once: back off.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            warn!(%peer, "FastAGI: too many connections, one closed unanswered");
            continue;
        };
        let scripts = scripts.clone();
        let settings = settings.clone();
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = serve_connection(stream, &scripts, &settings).await {
                warn!(%peer, error = %crate::core::error_chain(&e), "FastAGI request unanswered");
            }
        });
    }
    info!("FastAGI server stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8]) -> Result<Vec<String>, ConnectionError> {
        let mut reader = BufReader::with_capacity(7, input);
        read_request(&mut reader).await
    }

    #[tokio::test]
    async fn requests_are_read_within_bounds() {
        // Lines across buffer boundaries, CRLF, the empty line ends the request.
        let got = lines_of(b"agi_network: yes\r\nagi_arg_1: q\n\nSET VARIABLE X 1\n")
            .await
            .unwrap();
        assert_eq!(got, vec!["agi_network: yes", "agi_arg_1: q"]);
        // A line over MAX_LINE is dropped whole; the others are kept.
        let long = format!(
            "agi_network: yes\nagi_calleridname: {}\nagi_arg_1: q\n\n",
            "x".repeat(MAX_LINE)
        );
        let got = lines_of(long.as_bytes()).await.unwrap();
        assert_eq!(got, vec!["agi_network: yes", "agi_arg_1: q"]);
        // Bytes that are not UTF-8 are kept as replacement characters.
        let got = lines_of(b"agi_calleridname: \xff\n\n").await.unwrap();
        assert_eq!(got, vec!["agi_calleridname: \u{fffd}"]);
        // No empty line before the end, or too many bytes: incomplete.
        assert!(matches!(
            lines_of(b"agi_network: yes\n").await,
            Err(ConnectionError::Incomplete)
        ));
        assert!(matches!(
            lines_of(b"").await,
            Err(ConnectionError::Incomplete)
        ));
        let huge = "x".repeat(MAX_REQUEST_BYTES + 1);
        assert!(matches!(
            lines_of(huge.as_bytes()).await,
            Err(ConnectionError::Incomplete)
        ));
        let many = "a: b\n".repeat(MAX_REQUEST_BYTES / 5 + 1);
        assert!(matches!(
            lines_of(many.as_bytes()).await,
            Err(ConnectionError::Incomplete)
        ));
    }
}
