//! A minimal HTTP/1.1 client for the engine's few requests to services on its own network (an
//! SMS provider's relay, Asterisk's ARI): plain `http://`, one request per connection
//! (`Connection: close`), answers bounded in size and time. The URL, the request text and the
//! answer's parsing are pure; [`exchange`] is the only part touching a socket.

use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::core::Secret;

/// An `http://host[:port]/path[?query]` URL, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    host: String,
    port: u16,
    path: String,
}

impl HttpUrl {
    /// Parses a URL: scheme `http`, a host of letters, digits, `.` and `-` (or an IPv4
    /// address, or an IPv6 one in brackets), an optional port, a path of visible ASCII.
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            h.parse::<std::net::Ipv6Addr>().ok()?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => 80,
                None => return None,
            };
            (format!("[{h}]"), port)
        } else {
            let (h, port) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().ok()?),
                None => (authority, 80),
            };
            let ok = !h.is_empty()
                && h.len() <= 253
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !ok {
                return None;
            }
            (h.to_owned(), port)
        };
        if port == 0 || !path.bytes().all(|b| b.is_ascii_graphic()) || path.contains('#') {
            return None;
        }
        Some(Self {
            host,
            port,
            path: path.to_owned(),
        })
    }

    /// The `Host` header's value (`host` or `host:port`).
    pub fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The path and query (`/` at least).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What to connect to: the host (an IPv6 address without its brackets) and the port.
    pub fn socket_host(&self) -> (&str, u16) {
        (self.host.trim_matches(['[', ']']), self.port)
    }

    /// The same server with `suffix` after this URL's path (`/ari` + `/endpoints/PJSIP`);
    /// `None` if the result is not a valid URL path.
    pub fn join(&self, suffix: &str) -> Option<Self> {
        let path = format!("{}{suffix}", self.path.trim_end_matches('/'));
        (path.bytes().all(|b| b.is_ascii_graphic()) && !path.contains('#')).then(|| Self {
            host: self.host.clone(),
            port: self.port,
            path,
        })
    }
}

/// The status code of an answer's status line (`HTTP/1.x NNN ...`).
pub fn status_code(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.split(' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// `GET <url>` with HTTP basic authentication, asking for JSON (pure).
pub fn get_request(url: &HttpUrl, username: &str, password: &Secret) -> String {
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{username}:{}", password.expose()));
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: centralita\r\n\
         Accept: application/json\r\nAuthorization: Basic {credentials}\r\n\
         Connection: close\r\n\r\n",
        path = url.path(),
        host = url.host_header(),
    )
}

/// `METHOD <url>` with HTTP basic authentication, asking for JSON, with an optional JSON body
/// (pure). `method` is one of the few the engine sends (`GET`, `POST`, `PUT`, `DELETE`).
pub fn json_request(
    method: &str,
    url: &HttpUrl,
    username: &str,
    password: &Secret,
    body: Option<&str>,
) -> String {
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{username}:{}", password.expose()));
    let (content, body) = match body {
        Some(b) => (
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ),
            b,
        ),
        None => ("Content-Length: 0\r\n".to_owned(), ""),
    };
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: centralita\r\n\
         Accept: application/json\r\nAuthorization: Basic {credentials}\r\n\
         {content}Connection: close\r\n\r\n{body}",
        path = url.path(),
        host = url.host_header(),
    )
}

/// `POST <url>` of `body` with these extra headers (pure). Header names are the caller's
/// constants; a value holding CR, LF or NUL is dropped (no header injection).
pub fn post_request(url: &HttpUrl, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: centralita\r\n\
         Content-Length: {len}\r\nConnection: close\r\n",
        path = url.path(),
        host = url.host_header(),
        len = body.len(),
    );
    for (name, value) in headers {
        if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    request
}

/// A whole answer: its status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The body (chunked transfer decoded).
    pub body: Vec<u8>,
}

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The server could not be reached, or the connection failed.
    #[error("HTTP connection failed")]
    Io(#[from] std::io::Error),
    /// No whole answer in time.
    #[error("no HTTP answer in time")]
    Timeout,
    /// The answer is longer than allowed.
    #[error("the HTTP answer is longer than {0} bytes")]
    TooLong(usize),
    /// The answer is not HTTP/1.x, or its body is incomplete.
    #[error("malformed HTTP answer: {0}")]
    Malformed(&'static str),
}

/// Parses a whole answer (the connection closed after it): the status line, the headers, and
/// the body by `Content-Length`, chunked transfer, or up to the end (pure).
pub fn parse_answer(answer: &[u8]) -> Result<HttpAnswer, HttpError> {
    let status = status_code(answer).ok_or(HttpError::Malformed("no HTTP/1.x status line"))?;
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(HttpError::Malformed("headers do not end"))?;
    let head = String::from_utf8_lossy(&answer[..end]);
    let rest = &answer[end + 4..];
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| HttpError::Malformed("bad Content-Length"))?;
        rest.get(..len)
            .ok_or(HttpError::Malformed("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpAnswer { status, body })
}

/// Decodes a chunked body (extensions and trailers ignored).
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(HttpError::Malformed("chunk size line does not end"))?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| HttpError::Malformed("bad chunk size"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest
            .get(..size)
            .ok_or(HttpError::Malformed("chunk shorter than its size"))?;
        body.extend_from_slice(chunk);
        rest = rest
            .get(size..)
            .and_then(|r| r.strip_prefix(b"\r\n"))
            .ok_or(HttpError::Malformed("chunk does not end"))?;
    }
}

/// Sends `request` to `url`'s server and reads the whole answer (at most `max` bytes, within
/// `timeout`, connect included).
pub async fn exchange(
    url: &HttpUrl,
    request: &(impl AsRef<[u8]> + ?Sized),
    max: usize,
    timeout: Duration,
) -> Result<HttpAnswer, HttpError> {
    let io = async {
        let mut stream = TcpStream::connect(url.socket_host()).await?;
        stream.write_all(request.as_ref()).await?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(answer);
            }
            if answer.len() + n > max {
                return Err(HttpError::TooLong(max));
            }
            answer.extend_from_slice(&buf[..n]);
        }
    };
    let answer = tokio::time::timeout(timeout, io)
        .await
        .map_err(|_| HttpError::Timeout)??;
    parse_answer(&answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_requests_authenticate_and_close() {
        let base = HttpUrl::parse("http://127.0.0.1:8088/ari/").unwrap();
        let url = base.join("/endpoints/PJSIP").unwrap();
        assert_eq!(url.path(), "/ari/endpoints/PJSIP");
        assert_eq!(url.socket_host(), ("127.0.0.1", 8088));
        assert_eq!(base.join("/a b"), None);
        let r = get_request(&url, "centralita", &Secret::new("pw"));
        assert_eq!(
            r,
            "GET /ari/endpoints/PJSIP HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nUser-Agent: centralita\r\n\
             Accept: application/json\r\nAuthorization: Basic Y2VudHJhbGl0YTpwdw==\r\n\
             Connection: close\r\n\r\n"
        );
        assert_eq!(
            HttpUrl::parse("http://[::1]:9000/s").unwrap().socket_host(),
            ("::1", 9000)
        );
    }

    #[test]
    fn json_requests_carry_their_method_and_body() {
        let url = HttpUrl::parse("http://127.0.0.1:8088/ari/channels?app=x").unwrap();
        let pw = Secret::new("pw");
        let r = json_request("POST", &url, "centralita", &pw, Some(r#"{"a":1}"#));
        assert!(
            r.starts_with("POST /ari/channels?app=x HTTP/1.1\r\n"),
            "{r}"
        );
        assert!(r.contains("Content-Type: application/json\r\nContent-Length: 7\r\n"));
        assert!(r.ends_with("Connection: close\r\n\r\n{\"a\":1}"), "{r}");
        let r = json_request("DELETE", &url, "centralita", &pw, None);
        assert!(r.starts_with("DELETE /ari/channels?app=x HTTP/1.1\r\n"));
        assert!(r.contains("Content-Length: 0\r\n") && r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn answers_parse_by_length_chunks_or_close() {
        let a = parse_answer(
            b"HTTP/1.1 200 OK\r\nContent-type: application/json\r\nContent-Length: 2\r\n\r\n[]xx",
        )
        .unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"[]"[..]));
        let a = parse_answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\n[{}\r\n1\r\n]\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(a.body, b"[{}]");
        let a = parse_answer(b"HTTP/1.0 401 Unauthorized\r\n\r\nno").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (401, &b"no"[..]));
        for bad in [
            &b"SSH-2.0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n[]",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n[]",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[]\r\n",
        ] {
            assert!(
                parse_answer(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[tokio::test]
    async fn an_exchange_is_bounded() {
        use tokio::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Reads the request (a peer closing with unread bytes resets the connection).
        async fn request(s: &mut TcpStream) {
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            while !got.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ends with an empty line");
                got.extend_from_slice(&buf[..n]);
            }
        }
        let server = tokio::spawn(async move {
            // First: an answer; second: too long; third: never answers.
            let (mut s, _) = listener.accept().await.unwrap();
            request(&mut s).await;
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
                .await
                .unwrap();
            drop(s);
            let (mut s, _) = listener.accept().await.unwrap();
            request(&mut s).await;
            s.write_all(&[b'x'; 4096]).await.unwrap();
            drop(s);
            let (s, _) = listener.accept().await.unwrap();
            s
        });
        let url = HttpUrl::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let t = Duration::from_secs(5);
        let a = exchange(&url, "GET / HTTP/1.1\r\n\r\n", 1024, t)
            .await
            .unwrap();
        assert_eq!(a.body, b"[]");
        assert!(matches!(
            exchange(&url, "GET / HTTP/1.1\r\n\r\n", 1024, t).await,
            Err(HttpError::TooLong(1024))
        ));
        assert!(matches!(
            exchange(
                &url,
                "GET / HTTP/1.1\r\n\r\n",
                1024,
                Duration::from_millis(200)
            )
            .await,
            Err(HttpError::Timeout)
        ));
        drop(server.await.unwrap());
    }
}
