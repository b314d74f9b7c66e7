//! What the engine reads from Asterisk's REST interface (ARI): the list of PJSIP endpoints
//! (`GET <ari>/endpoints/PJSIP`), every configured one with its state, reachable or not. AMI
//! lists them only to the `system` class (`PJSIPShowEndpoints`), which the engine's AMI user
//! does not have.
//!
//! The wire type ([`AriEndpoint`]) stays here; the live snapshot takes names and states.

use std::time::Duration;

use serde::Deserialize;

use crate::core::Secret;
use crate::http_client::{exchange, get_request, HttpError, HttpUrl};

/// The longest an ARI request may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The largest ARI answer read (a few hundred bytes per endpoint).
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

/// Why ARI could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AriError {
    /// The request failed.
    #[error("ARI request failed")]
    Http(#[from] HttpError),
    /// ARI answered another status (401: the user or password is wrong).
    #[error("ARI answered {0}")]
    Status(u16),
    /// The body is not the JSON expected.
    #[error("ARI answer is not a list of endpoints")]
    Json(#[from] serde_json::Error),
}

/// The endpoints of an answer's JSON body (pure).
pub fn parse_endpoints(body: &[u8]) -> Result<Vec<AriEndpoint>, serde_json::Error> {
    serde_json::from_slice(body)
}

/// An ARI user at one base URL. `Debug` hides the password.
#[derive(Clone, Debug)]
pub struct AriClient {
    endpoints_url: HttpUrl,
    username: String,
    secret: Secret,
}

impl AriClient {
    /// A client of the ARI at `base` (`http://127.0.0.1:8088/ari`); `None` if `base` is not
    /// an `http://` URL.
    pub fn new(base: &str, username: &str, secret: Secret) -> Option<Self> {
        Some(Self {
            endpoints_url: HttpUrl::parse(base)?.join("/endpoints/PJSIP")?,
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
