//! [`HttpSmsGateway`]: the core's [`SmsGateway`] port over an SMS provider's HTTP API.
//!
//! One `POST` per message to a configured `http://` URL, body
//! `application/x-www-form-urlencoded` with the fields `to`, `text` and (when configured)
//! `from`; with a token, `Authorization: Bearer <token>`. A `2xx` answer means the provider took
//! the message; anything else (or no answer within [`TIMEOUT`]) is an error. Plain HTTP only
//! (a TLS-terminating relay on the same host serves providers that require HTTPS).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use crate::http_client::{status_code, HttpUrl};

use crate::core::originate::PhoneNumber;
use crate::core::sms::{GatewayFuture, SmsGateway, SmsText};
use crate::core::Secret;

/// The longest a request may take, connect to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes of an answer read (the status line is all that matters).
const MAX_ANSWER: usize = 16 * 1024;

/// Percent-encodes a form value (everything but unreserved characters).
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request for one message (pure).
pub fn request(url: &HttpUrl, token: Option<&Secret>, fields: &[(&str, &str)]) -> String {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let auth = token
        .map(|t| format!("Authorization: Bearer {}\r\n", t.expose()))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: centralita\r\n\
         Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n{auth}\
         Content-Length: {len}\r\nConnection: close\r\n\r\n{body}",
        path = url.path(),
        host = url.host_header(),
        len = body.len(),
    )
}

/// Messages through an HTTP provider.
pub struct HttpSmsGateway {
    url: HttpUrl,
    token: Option<Secret>,
}

impl HttpSmsGateway {
    /// A gateway posting to `url`, with `token` as bearer if given.
    pub fn new(url: HttpUrl, token: Option<Secret>) -> Self {
        Self { url, token }
    }

    async fn post(&self, fields: &[(&str, &str)]) -> Result<(), String> {
        let req = request(&self.url, self.token.as_ref(), fields);
        let exchange = async {
            let mut stream = TcpStream::connect(self.url.socket_host())
                .await
                .map_err(|e| format!("cannot reach the SMS gateway: {e}"))?;
            stream
                .write_all(req.as_bytes())
                .await
                .map_err(|e| format!("SMS gateway write: {e}"))?;
            let mut answer = Vec::new();
            let mut buf = [0u8; 2048];
            loop {
                let n = stream
                    .read(&mut buf)
                    .await
                    .map_err(|e| format!("SMS gateway read: {e}"))?;
                answer.extend_from_slice(&buf[..n]);
                if n == 0 || answer.contains(&b'\n') || answer.len() >= MAX_ANSWER {
                    break;
                }
            }
            Ok::<_, String>(answer)
        };
        let answer = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| "the SMS gateway did not answer in time".to_owned())??;
        match status_code(&answer) {
            Some(code) if (200..300).contains(&code) => Ok(()),
            Some(code) => Err(format!("the SMS gateway answered {code}")),
            None => Err("the SMS gateway's answer is not HTTP".to_owned()),
        }
    }
}

impl SmsGateway for HttpSmsGateway {
    fn send<'a>(
        &'a self,
        number: &'a PhoneNumber,
        from: Option<&'a str>,
        text: &'a SmsText,
    ) -> GatewayFuture<'a> {
        Box::pin(async move {
            let mut fields = vec![("to", number.as_str()), ("text", text.as_str())];
            if let Some(from) = from {
                fields.push(("from", from));
            }
            self.post(&fields).await
        })
    }
}

/// For tests of HTTP providers: reads one request (head and `Content-Length` body).
#[cfg(test)]
pub(crate) async fn read_request(s: &mut TcpStream) -> (String, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= len {
                return (head.to_owned(), body.to_owned());
            }
        }
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            let text = String::from_utf8_lossy(&got).to_string();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            return (head.to_owned(), body.to_owned());
        }
        got.extend_from_slice(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn urls_requests_and_answers() {
        let u = HttpUrl::parse("http://sms.example:8080/api/send?x=1").unwrap();
        assert_eq!(u.host_header(), "sms.example:8080");
        assert_eq!(HttpUrl::parse("http://10.0.0.1").unwrap().path(), "/");
        assert_eq!(
            HttpUrl::parse("http://[::1]:9000/s").unwrap().host_header(),
            "[::1]:9000"
        );
        for bad in [
            "https://x/",
            "ftp://x",
            "http://",
            "http://a b/",
            "http://x:0/",
            "http://x:99999/",
            "http://x/a b",
            "http://x/\r\nEvil: 1",
        ] {
            assert_eq!(HttpUrl::parse(bad), None, "{bad}");
        }
        assert_eq!(
            form_encode("hola señor & co=1"),
            "hola%20se%C3%B1or%20%26%20co%3D1"
        );
        let r = request(
            &u,
            Some(&Secret::new("t0k")),
            &[("to", "099123"), ("text", "a b")],
        );
        assert!(r.starts_with("POST /api/send?x=1 HTTP/1.1\r\nHost: sms.example:8080\r\n"));
        assert!(r.contains("Authorization: Bearer t0k\r\n"));
        assert!(r.ends_with("Content-Length: 20\r\nConnection: close\r\n\r\nto=099123&text=a%20b"));
        assert_eq!(status_code(b"HTTP/1.1 202 Accepted\r\n\r\n"), Some(202));
        assert_eq!(status_code(b"HTTP/1.0 500 Oops\r\n"), Some(500));
        assert_eq!(status_code(b"SSH-2.0-x\r\n"), None);
    }

    /// A one-shot provider on port 0 answering `status`; returns the request it got.
    async fn provider(status: u16) -> (HttpUrl, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let (head, body) = read_request(&mut s).await;
            s.write_all(format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n").as_bytes())
                .await
                .unwrap();
            format!("{head}\r\n\r\n{body}")
        });
        (
            HttpUrl::parse(&format!("http://127.0.0.1:{port}/send")).unwrap(),
            task,
        )
    }

    #[tokio::test]
    async fn posts_one_form_per_message_and_reads_the_status() {
        let number = PhoneNumber::parse("099123456").unwrap();
        let text = SmsText::parse("hola").unwrap();
        let (url, task) = provider(200).await;
        let g = HttpSmsGateway::new(url, None);
        g.send(&number, Some("Centralita"), &text).await.unwrap();
        let got = task.await.unwrap();
        assert!(got.starts_with("POST /send HTTP/1.1\r\n"), "{got}");
        assert!(
            got.ends_with("\r\n\r\nto=099123456&text=hola&from=Centralita"),
            "{got}"
        );

        let (url, task) = provider(503).await;
        let g = HttpSmsGateway::new(url, None);
        let err = g.send(&number, None, &text).await.unwrap_err();
        assert!(err.contains("503"), "{err}");
        task.await.unwrap();

        // Nobody listening.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let g = HttpSmsGateway::new(
            HttpUrl::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
            None,
        );
        assert!(g.send(&number, None, &text).await.is_err());
    }
}
