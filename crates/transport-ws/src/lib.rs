//! MQTT over WebSocket (`ws`, port 8083) and WebSocket over TLS (`wss`, port 8084): the HTTP upgrade (path,
//! subprotocol `mqtt`/`mqttv3.1`, Origin allow-list, trusted `X-Forwarded-For`) under the listener's
//! handshake deadline, then the binary frames adapted to a byte stream for
//! [`tern_broker::Broker::serve_stream`]. Accepting, connection caps and PROXY protocol come from
//! `tern-transport-tcp`'s [`StreamListener`]; certificates from `tern-tls`. No MQTT logic lives here.

mod handshake;

pub use handshake::{UpgradeRules, Upgraded};
pub use tern_ws_stream::WsByteStream;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tern_broker::{Broker, ConnMeta, TransportKind};
use tern_transport_tcp::{Incoming, ListenerStats, StreamListener, TcpListenerConfig, classify_tls_error};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Settings of one WebSocket listener beyond its socket.
#[derive(Debug, Clone, Default)]
pub struct WsListenerConfig {
    /// Upgrade rules (path, subprotocols, origins, proxy headers).
    pub rules: UpgradeRules,
    /// Largest WebSocket frame and message accepted, in bytes; `None` ties it to the broker's maximum
    /// packet size (plus room for the fixed header), so a frame can never carry more than one legal packet
    /// needs. A larger message is refused with close code 1009.
    pub max_message_size: Option<usize>,
}

/// A bound `ws` or `wss` listener, ready to [`run`](WsFrontend::run).
pub struct WsFrontend {
    listener: StreamListener,
    ws: WsListenerConfig,
    tls: Option<TlsAcceptor>,
}

impl WsFrontend {
    /// Binds now. With `tls` (from `tern_tls::TlsMaterial::server_config`, ALPN `http/1.1`) this is a `wss`
    /// listener, else `ws`.
    pub fn bind(
        config: TcpListenerConfig,
        ws: WsListenerConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<WsFrontend> {
        let what = if tls.is_some() {
            "WebSocket over TLS"
        } else {
            "WebSocket"
        };
        Ok(WsFrontend {
            listener: StreamListener::bind(config, what)?,
            ws,
            tls: tls.map(TlsAcceptor::from),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// This listener's counters (handshake failures among them).
    pub fn stats(&self) -> Arc<ListenerStats> {
        self.listener.stats()
    }

    /// Accepts connections until the broker shuts down; each upgrades and is served on its own task.
    pub async fn run(self, broker: Broker) {
        let limit = self.ws.max_message_size.unwrap_or_else(|| {
            usize::try_from(broker.core().config().max_packet_size)
                .unwrap_or(usize::MAX)
                .saturating_add(8)
        });
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit));
        let rules = Arc::new(self.ws.rules);
        let tls = self.tls;
        let name = if tls.is_some() { "wss" } else { "ws" };
        self.listener
            .run(broker, name, move |incoming: Incoming, broker: Broker| {
                let rules = rules.clone();
                let tls = tls.clone();
                async move {
                    let Incoming {
                        stream,
                        peer,
                        guard,
                        deadline,
                        stats,
                        listener,
                    } = incoming;
                    let mut shutdown = broker.shutdown_signal();
                    let handshake = async {
                        match tls {
                            None => {
                                upgrade(stream, &rules, ws_config, peer, TransportKind::WebSocket, None).await
                            }
                            Some(acceptor) => {
                                let tls = acceptor
                                    .accept(stream)
                                    .await
                                    .map_err(|e| classify_tls_error(&e))?;
                                let identity = tls
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(tern_tls::peer_identity);
                                let (ws, meta) = upgrade(
                                    tls,
                                    &rules,
                                    ws_config,
                                    peer,
                                    TransportKind::WebSocketTls,
                                    identity,
                                )
                                .await?;
                                Ok((Box::new(ws) as Box<dyn ByteStream>, meta))
                            }
                        }
                    };
                    let done = tokio::select! {
                        r = tokio::time::timeout_at(deadline, handshake) => r,
                        _ = shutdown.wait() => return,
                    };
                    match done {
                        Ok(Ok((ws, mut meta))) => {
                            meta.listener = listener;
                            broker.serve_stream(ws, meta, Some(guard)).await
                        }
                        Ok(Err(reason)) => stats.handshake_failed(name, peer, &reason),
                        Err(_) => stats.handshake_failed(name, peer, &"WebSocket handshake timed out"),
                    }
                }
            })
            .await;
    }
}

/// Any upgraded stream, so `ws` and `wss` connections share one serving path.
trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

/// Runs the HTTP upgrade over `io` and builds the connection's metadata.
async fn upgrade<S>(
    io: S,
    rules: &UpgradeRules,
    config: WebSocketConfig,
    peer: SocketAddr,
    transport: TransportKind,
    tls_identity: Option<String>,
) -> Result<(Box<dyn ByteStream>, ConnMeta), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut learned = None;
    let mut refused = None;
    // The callback's error type is tungstenite's.
    #[allow(clippy::result_large_err)]
    let callback = |req: &_, resp| match rules.check(req, resp) {
        Ok((resp, up)) => {
            learned = Some(up);
            Ok(resp)
        }
        Err(e) => {
            refused = Some(format!(
                "upgrade refused with HTTP {}: {}",
                e.status().as_u16(),
                e.body().as_deref().unwrap_or("")
            ));
            Err(e)
        }
    };
    let ws = tokio_tungstenite::accept_hdr_async_with_config(io, callback, Some(config)).await;
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return Err(refused.unwrap_or_else(|| format!("not a WebSocket upgrade: {e}"))),
    };
    let learned = learned.unwrap_or_default();
    let meta = ConnMeta {
        peer: learned.forwarded_for.unwrap_or(peer),
        transport,
        tls_identity,
        listener: None,
    };
    Ok((Box::new(WsByteStream::new(ws)), meta))
}
