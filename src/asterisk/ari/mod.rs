//! Asterisk's REST interface (ARI): the engine's client of it.
//!
//! - this file: the client ([`AriClient`]: base URL, user, password), the one error enum
//!   ([`AriError`]) and the list of PJSIP endpoints (`GET <ari>/endpoints/PJSIP`), every
//!   configured one with its state, reachable or not (AMI lists them only to the `system`
//!   class, which the engine's AMI user does not have);
//! - [`rest`]: typed REST resources (channels, bridges, playbacks, recordings) with their ids as
//!   newtypes, every value put in a URL validated and percent-encoded;
//! - [`events`]: the typed events of the WebSocket stream, decoded by a pure function;
//! - [`ws`]: the WebSocket event stream itself (connect, frames, keep-alive);
//! - [`app`]: a Stasis application session ([`app::AriApp`]): events delivered in order,
//!   reconnect with capped, jittered backoff, and a resync of the channels the app owns after
//!   every (re)connect.
//!
//! No existing ARI crate is used: those published (`asterisk-ari`, `asterisk-ari-client-rs`,
//! `asterisk-rs-ari`, `arirs`) bring `reqwest` with its own HTTP and TLS stack beside the
//! engine's [`crate::http_client`], type ids as plain strings, do not validate what goes into
//! a URL or a media URI, and none resyncs the channels an application owned after a reconnect,
//! which is the part the IVR needs most. The few resources the engine uses are a small amount of
//! typed code over the client the engine already has, plus `tokio-tungstenite` for the
//! WebSocket.

pub mod app;
pub mod events;
pub mod rest;
pub mod ws;

use std::time::Duration;

use serde::Deserialize;

use crate::core::Secret;
use crate::http_client::{exchange, get_request, json_request, HttpAnswer, HttpError, HttpUrl};

/// The longest an ARI request may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The largest ARI answer read (a few hundred bytes per endpoint or channel).
pub const MAX_ANSWER: usize = 4 << 20;

/// One endpoint as ARI describes it (the fields the engine reads).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct AriEndpoint {
    /// `PJSIP`.
    pub technology: String,
    /// The endpoint's name (`1005`, `carrier`).
    pub resource: String,
    /// `online`, `offline` or `unknown`.
    #[serde(default)]
    pub state: String,
}

/// Why an ARI request or the event stream failed. Never carries the password, nor any text
/// of the request.
#[derive(Debug, thiserror::Error)]
pub enum AriError {
    /// The request failed.
    #[error("ARI request failed")]
    Http(#[from] HttpError),
    /// ARI answered another status (401: the user or password is wrong; 404: no such
    /// channel, bridge, playback or recording; 409: not in a state for it; 422: a bad value).
    #[error("ARI answered {0}")]
    Status(u16),
    /// The body is not the JSON expected.
    #[error("ARI answer is not the JSON expected")]
    Json(#[from] serde_json::Error),
    /// A value refused before anything was sent (which one, never the value itself).
    #[error("invalid ARI value: {0}")]
    Invalid(&'static str),
    /// The WebSocket event stream failed (connect, handshake or frames).
    #[error("ARI event stream failed: {0}")]
    WebSocket(&'static str),
    /// The application session is gone.
    #[error("ARI application stopped")]
    Closed,
}

impl AriError {
    /// Whether ARI answered 404 (the channel, bridge, playback or recording does not exist).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status(404))
    }
}

/// The endpoints of an answer's JSON body (pure).
pub fn parse_endpoints(body: &[u8]) -> Result<Vec<AriEndpoint>, serde_json::Error> {
    serde_json::from_slice(body)
}

/// An ARI user at one base URL. `Debug` hides the password.
#[derive(Clone, Debug)]
pub struct AriClient {
    base: HttpUrl,
    endpoints_url: HttpUrl,
    username: String,
    secret: Secret,
}

impl AriClient {
    /// A client of the ARI at `base` (`http://127.0.0.1:8088/ari`); `None` if `base` is not
    /// an `http://` URL.
    pub fn new(base: &str, username: &str, secret: Secret) -> Option<Self> {
        let base = HttpUrl::parse(base)?;
        Some(Self {
            endpoints_url: base.join("/endpoints/PJSIP")?,
            base,
            username: username.to_owned(),
            secret,
        })
    }

    /// Every PJSIP endpoint.
    pub async fn pjsip_endpoints(&self) -> Result<Vec<AriEndpoint>, AriError> {
        let request = get_request(&self.endpoints_url, &self.username, &self.secret);
        let answer = exchange(&self.endpoints_url, &request, MAX_ANSWER, TIMEOUT).await?;
        if answer.status != 200 {
            return Err(AriError::Status(answer.status));
        }
        Ok(parse_endpoints(&answer.body)?)
    }

    /// The base URL (`http://127.0.0.1:8088/ari`).
    pub fn base(&self) -> &HttpUrl {
        &self.base
    }

    /// The user.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password, for the one place that sends it (the WebSocket's `Authorization`).
    pub(crate) fn secret(&self) -> &Secret {
        &self.secret
    }

    /// `METHOD <base><path_and_query>` with an optional JSON body; the answer if its status is
    /// 2xx. `path_and_query` is built by [`rest`] from validated, encoded parts only.
    pub(crate) async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&str>,
    ) -> Result<HttpAnswer, AriError> {
        let url = self
            .base
            .join(path_and_query)
            .ok_or(AriError::Invalid("path"))?;
        let request = json_request(method, &url, &self.username, &self.secret, body);
        let answer = exchange(&url, &request, MAX_ANSWER, TIMEOUT).await?;
        if !(200..300).contains(&answer.status) {
            return Err(AriError::Status(answer.status));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// As Asterisk 22 answers `GET /ari/endpoints/PJSIP`.
    const BODY: &str = r#"[{"technology":"PJSIP","resource":"1005","state":"online","channel_ids":[]},{"technology":"PJSIP","resource":"1006","state":"offline","channel_ids":["pbx1-1.2"]},{"technology":"PJSIP","resource":"carrier","state":"online","channel_ids":[]}]"#;

    #[test]
    fn endpoint_lists_parse() {
        let got = parse_endpoints(BODY.as_bytes()).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[1],
            AriEndpoint {
                technology: "PJSIP".into(),
                resource: "1006".into(),
                state: "offline".into()
            }
        );
        assert!(parse_endpoints(b"{\"message\":\"Resource not found\"}").is_err());
        assert!(AriClient::new("https://pbx/ari", "u", Secret::new("p")).is_none());
    }

    #[tokio::test]
    async fn the_client_asks_with_basic_auth_and_reads_the_list() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut requests = Vec::new();
            for status in ["200 OK", "401 Unauthorized"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut got = Vec::new();
                let mut buf = [0u8; 1024];
                while !got.ends_with(b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
                requests.push(String::from_utf8(got).unwrap());
                let body = if status.starts_with("200") { BODY } else { "" };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(answer.as_bytes()).await.unwrap();
            }
            requests
        });
        let client = AriClient::new(
            &format!("http://127.0.0.1:{port}/ari"),
            "centralita",
            Secret::new("pw"),
        )
        .unwrap();
        let got = client.pjsip_endpoints().await.unwrap();
        assert_eq!(got.len(), 3);
        assert!(matches!(
            client.pjsip_endpoints().await,
            Err(AriError::Status(401))
        ));
        let requests = server.await.unwrap();
        assert!(
            requests[0].starts_with("GET /ari/endpoints/PJSIP HTTP/1.1\r\n"),
            "{}",
            requests[0]
        );
        assert!(requests[0].contains("Authorization: Basic Y2VudHJhbGl0YTpwdw==\r\n"));
        let debug = format!("{client:?}");
        assert!(debug.contains("***") && !debug.contains("pw"), "{debug}");
    }
}
