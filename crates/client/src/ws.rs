//! `ws://` and `wss://`: the WebSocket upgrade (subprotocol `mqtt`, default path `/mqtt`) and the binary
//! frames seen as one byte stream, which is all MQTT needs from WebSocket (MQTT §6).

use crate::error::ClientError;
use crate::transport::{BoxStream, ServerUrl};
use std::io;
use tern_ws_stream::WsByteStream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Upgrades `io` to a WebSocket for `url` and returns it as a byte stream.
pub(crate) async fn upgrade<S>(io: S, url: &ServerUrl) -> Result<BoxStream, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let path = if url.path().is_empty() {
        "/mqtt"
    } else {
        url.path()
    };
    let scheme = if url.transport() == crate::Transport::Wss {
        "wss"
    } else {
        "ws"
    };
    let host = if url.host().contains(':') {
        format!("[{}]", url.host())
    } else {
        url.host().to_owned()
    };
    let mut request = format!("{scheme}://{host}:{}{path}", url.port())
        .into_client_request()
        .map_err(|e| ClientError::invalid_argument(format!("cannot build the WebSocket request: {e}")))?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static("mqtt"));
    let (ws, _response) = tokio_tungstenite::client_async(request, io)
        .await
        .map_err(|e| ClientError::io(format!("WebSocket upgrade to {url} failed"), io::Error::other(e)))?;
    Ok(Box::new(WsByteStream::new(ws)))
}
