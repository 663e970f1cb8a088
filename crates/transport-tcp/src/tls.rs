//! MQTT over TLS (port 8883): the TLS handshake under the listener's deadline, then the decrypted stream to
//! the broker with the client certificate's identity. A failed handshake is logged once with its reason
//! (bad certificate, plain MQTT on the TLS port, timeout), counted, and costs no other client anything.

use crate::{Incoming, ListenerStats, StreamListener, TcpListenerConfig};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tern_broker::{Broker, ConnMeta, TransportKind};
use tokio_rustls::TlsAcceptor;

/// A bound TLS listener, ready to [`run`](TlsFrontend::run).
pub struct TlsFrontend {
    listener: StreamListener,
    acceptor: TlsAcceptor,
}

impl TlsFrontend {
    /// Binds now; `tls` comes from `tern_tls::TlsMaterial::server_config` (offer ALPN `mqtt`; clients that
    /// send no ALPN still connect).
    pub fn bind(config: TcpListenerConfig, tls: Arc<rustls::ServerConfig>) -> io::Result<TlsFrontend> {
        Ok(TlsFrontend {
            listener: StreamListener::bind(config, "TLS")?,
            acceptor: TlsAcceptor::from(tls),
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

    /// Accepts connections until the broker shuts down; each handshakes and is served on its own task.
    pub async fn run(self, broker: Broker) {
        let acceptor = self.acceptor;
        self.listener
            .run(broker, "TLS", move |incoming: Incoming, broker: Broker| {
                let acceptor = acceptor.clone();
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
                    let handshake = tokio::select! {
                        r = tokio::time::timeout_at(deadline, acceptor.accept(stream)) => r,
                        _ = shutdown.wait() => return,
                    };
                    let tls = match handshake {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => return stats.handshake_failed("TLS", peer, &classify_tls_error(&e)),
                        Err(_) => return stats.handshake_failed("TLS", peer, &"TLS handshake timed out"),
                    };
                    let tls_identity = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(tern_tls::peer_identity);
                    let meta = ConnMeta {
                        peer,
                        transport: TransportKind::Tls,
                        tls_identity,
                        listener,
                    };
                    broker.serve_stream(tls, meta, Some(guard)).await;
                }
            })
            .await;
    }
}

/// Turns a failed server handshake into a reason an operator can act on.
pub fn classify_tls_error(e: &io::Error) -> String {
    use rustls::Error as E;
    let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<E>()) else {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof => "client closed the connection during the TLS handshake".into(),
            _ => format!("I/O error during the TLS handshake: {e}"),
        };
    };
    match inner {
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "not a TLS ClientHello (plain MQTT or another protocol sent to the TLS port?)".into()
        }
        E::NoCertificatesPresented => "client sent no certificate, and one is required".into(),
        E::InvalidCertificate(c) => format!("bad client certificate: {c:?}"),
        E::AlertReceived(a) => {
            format!("client aborted the handshake with alert {a:?} (does it trust our certificate?)")
        }
        E::PeerIncompatible(p) => format!("client and server share no TLS version or cipher suite ({p:?})"),
        E::NoApplicationProtocol => "client offered ALPN protocols but not `mqtt`".into(),
        other => format!("TLS error: {other}"),
    }
}
