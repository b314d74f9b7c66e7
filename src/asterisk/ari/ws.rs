//! ARI's WebSocket event stream: `GET <ari>/events?app=<app>&subscribeAll=false` upgraded,
//! with HTTP basic authentication (the password goes in the `Authorization` header, never in
//! the URL, so no URL or error text can carry it). `tokio-tungstenite` speaks the WebSocket
//! protocol (handshake, frames, masking, ping/pong); this module owns the connection and hands
//! decoded events up, skipping (and logging) a frame that does not decode. Frames are bounded
//! to [`MAX_FRAME`].

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use base64::Engine as _;

use super::events::{decode, AriEvent, MAX_FRAME};
use super::rest::{percent_encode, AppName};
use super::{AriClient, AriError};

/// The `ws://` URL of the app's event stream (pure).
pub fn events_url(client: &AriClient, app: &AppName) -> String {
    format!(
        "ws://{}{}/events?app={}&subscribeAll=false",
        client.base().host_header(),
        client.base().path().trim_end_matches('/'),
        percent_encode(app.as_str())
    )
}

/// One open event stream.
pub struct EventStream {
    inner: WebSocketStream<TcpStream>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

fn ws_error(e: &WsError) -> AriError {
    match e {
        WsError::Http(r) => AriError::Status(r.status().as_u16()),
        WsError::ConnectionClosed | WsError::AlreadyClosed => AriError::WebSocket("closed"),
        WsError::Io(_) => AriError::WebSocket("connection failed"),
        WsError::Capacity(_) => AriError::WebSocket("frame too long"),
        WsError::Protocol(_) => AriError::WebSocket("protocol error"),
        _ => AriError::WebSocket("failed"),
    }
}

/// Opens the event stream of `app` (connect and handshake within `timeout`). Once this
/// returns, Asterisk has the app registered: a `Stasis(app)` from then on enters it.
pub async fn connect(
    client: &AriClient,
    app: &AppName,
    timeout: Duration,
) -> Result<EventStream, AriError> {
    let url = events_url(client, app);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|_| AriError::Invalid("events URL"))?;
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        client.username(),
        client.secret().expose()
    ));
    let auth = HeaderValue::from_str(&format!("Basic {credentials}"))
        .map_err(|_| AriError::Invalid("credentials"))?;
    request.headers_mut().insert("Authorization", auth);
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let io = async {
        let tcp = TcpStream::connect(client.base().socket_host())
            .await
            .map_err(|_| AriError::WebSocket("connection failed"))?;
        let _ = tcp.set_nodelay(true);
        let (inner, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
            .await
            .map_err(|e| ws_error(&e))?;
        Ok::<_, AriError>(inner)
    };
    let inner = tokio::time::timeout(timeout, io)
        .await
        .map_err(|_| AriError::WebSocket("no handshake in time"))??;
    Ok(EventStream { inner })
}

impl EventStream {
    /// The next frame: `Ok(Some(event))`, `Ok(None)` for a frame that is no event (a pong, a
    /// ping answered, a frame skipped as undecodable), an error once the stream is over.
    pub async fn recv(&mut self) -> Result<Option<AriEvent>, AriError> {
        match self.inner.next().await {
            None => Err(AriError::WebSocket("closed")),
            Some(Err(e)) => Err(ws_error(&e)),
            Some(Ok(Message::Text(text))) => match decode(text.as_str()) {
                Ok(event) => Ok(Some(event)),
                Err(e) => {
                    tracing::warn!(error = %e, len = text.len(), "ARI frame skipped");
                    Ok(None)
                }
            },
            Some(Ok(Message::Close(_))) => Err(AriError::WebSocket("closed")),
            Some(Ok(_)) => Ok(None),
        }
    }

    /// Sends a ping (the keep-alive; the pong comes back through [`Self::recv`]).
    pub async fn ping(&mut self) -> Result<(), AriError> {
        self.inner
            .send(Message::Ping(Vec::new().into()))
            .await
            .map_err(|e| ws_error(&e))
    }

    /// Closes the stream.
    pub async fn close(mut self) {
        let _ = self.inner.close(None).await;
    }
}
