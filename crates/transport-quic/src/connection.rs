//! One QUIC connection's life: handshake, the MQTT stream, refusing any other stream, closing.

use crate::codes::AppCode;
use crate::stats::QuicStats;
use crate::tls::ALPN_MQTT;
use quinn::{Connection, ConnectionError, Incoming, TransportErrorCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tern_broker::{Broker, ConnMeta, ConnectionGuard, TransportKind};
use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, info, warn};

/// TLS alert `no_application_protocol` (RFC 8446 §6.2) as a QUIC CRYPTO_ERROR (RFC 9001 §4.8).
const ALERT_NO_APPLICATION_PROTOCOL: u8 = 120;

/// How long the send half may take to deliver its last bytes (a DISCONNECT, a refusing CONNACK) after
/// the MQTT connection ended, before the QUIC connection is closed anyway.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// What a connection task needs from its listener.
pub(crate) struct Context {
    pub(crate) broker: Broker,
    pub(crate) stats: Arc<QuicStats>,
    /// Bound on the handshake plus the wait for the first stream.
    pub(crate) handshake_timeout: Duration,
    /// The listener's name, for `ConnMeta::listener`.
    pub(crate) listener: Option<Arc<str>>,
}

/// Serves one incoming QUIC connection to its end. `guard` counts it as live from before the handshake
/// so a shutdown waits for it; `permit` holds its place under `max_connections`.
pub(crate) async fn serve(
    incoming: Incoming,
    cx: Arc<Context>,
    guard: ConnectionGuard,
    permit: OwnedSemaphorePermit,
) {
    let peer = incoming.remote_address();
    let Some(conn) = handshake(incoming, &cx, peer).await else {
        return;
    };
    let mut shutdown = cx.broker.shutdown_signal();
    let first = tokio::select! {
        s = tokio::time::timeout(cx.handshake_timeout, conn.accept_bi()) => s,
        _ = shutdown.wait() => {
            close(&conn, AppCode::Shutdown);
            return;
        }
    };
    let (send, recv) = match first {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => {
            debug!(%peer, error = %e, "QUIC connection ended before opening a stream");
            return;
        }
        Err(_) => {
            info!(%peer, timeout = ?cx.handshake_timeout, "QUIC client opened no stream in time: closing");
            close(&conn, AppCode::NoStream);
            return;
        }
    };
    debug!(%peer, stream = %send.id(), "MQTT over QUIC stream accepted");
    let refuser = tokio::spawn(refuse_extra_streams(conn.clone(), cx.stats.clone(), peer));
    let meta = ConnMeta {
        peer,
        transport: TransportKind::Quic,
        tls_identity: client_identity(&conn),
        listener: cx.listener.clone(),
    };
    let mut stream = tokio::io::join(recv, send);
    cx.broker.serve_stream(&mut stream, meta, Some(guard)).await;
    refuser.abort();
    // The MQTT connection is over: let the last bytes reach the client, then close the QUIC connection
    // (EMQX single-stream mode does the same: the stream's end is the connection's end).
    let (_recv, mut send) = stream.into_inner();
    let _ = send.finish();
    let _ = tokio::time::timeout(CLOSE_LINGER, send.stopped()).await;
    close(&conn, AppCode::NoError);
    drop(permit);
}

/// Completes the handshake within the timeout and checks ALPN; logs and counts every failure.
async fn handshake(incoming: Incoming, cx: &Context, peer: SocketAddr) -> Option<Connection> {
    // quinn processes the client's first flight here already, so a wrong ALPN can fail this early.
    let connecting = match incoming.accept() {
        Ok(c) => c,
        Err(e) => {
            handshake_failed(&e, cx, peer);
            return None;
        }
    };
    // Awaiting the handshake (never `into_0rtt`) is what keeps replayed 0-RTT data away from the broker.
    let conn = match tokio::time::timeout(cx.handshake_timeout, connecting).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            handshake_failed(&e, cx, peer);
            return None;
        }
        Err(_) => {
            cx.stats.note_handshake_failure(false);
            info!(%peer, timeout = ?cx.handshake_timeout, "QUIC handshake timed out");
            return None;
        }
    };
    let protocol = conn
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.protocol);
    if protocol.as_deref() != Some(ALPN_MQTT) {
        // rustls refuses a QUIC client without ALPN already; this guards against a changed default.
        cx.stats.note_handshake_failure(true);
        warn!(%peer, "QUIC connection without ALPN \"mqtt\": closing");
        close(&conn, AppCode::WrongProtocol);
        return None;
    }
    cx.stats.note_handshake();
    Some(conn)
}

/// Logs and counts a failed handshake, naming the cause when it is ALPN.
fn handshake_failed(e: &ConnectionError, cx: &Context, peer: SocketAddr) {
    let alpn = is_alpn_failure(e);
    cx.stats.note_handshake_failure(alpn);
    if alpn {
        warn!(
            %peer,
            "QUIC handshake refused: the client offered no ALPN protocol this listener speaks (only \
             \"mqtt\", as EMQX's QUIC listener); configure the client with ALPN \"mqtt\""
        );
    } else {
        info!(%peer, error = %e, "QUIC handshake failed");
    }
}

/// Whether a failed handshake failed on ALPN, on either side's account.
fn is_alpn_failure(e: &ConnectionError) -> bool {
    let alert = TransportErrorCode::crypto(ALERT_NO_APPLICATION_PROTOCOL);
    match e {
        ConnectionError::TransportError(t) => t.code == alert,
        ConnectionError::ConnectionClosed(c) => c.error_code == alert,
        _ => false,
    }
}

/// Resets every stream after the first: Tern runs one MQTT connection per QUIC connection and does not
/// implement EMQX's multi-stream mode, so data on another stream would be silently lost. The first refusal
/// of a connection is logged as a warning, later ones at debug level (a client looping on streams must not
/// flood the log); all are counted.
async fn refuse_extra_streams(conn: Connection, stats: Arc<QuicStats>, peer: SocketAddr) {
    let code = AppCode::StreamRefused;
    let mut refused = 0u64;
    while let Ok((mut send, mut recv)) = conn.accept_bi().await {
        refused += 1;
        stats.note_stream_refused();
        if refused == 1 {
            warn!(
                %peer,
                stream = %send.id(),
                code = code.code(),
                "QUIC stream refused: Tern serves one MQTT connection on the first stream of a QUIC \
                 connection (EMQX single-stream mode); multi-stream mode is not supported"
            );
        } else {
            debug!(%peer, stream = %send.id(), refused, "QUIC stream refused");
        }
        let _ = send.reset(code.varint());
        let _ = recv.stop(code.varint());
    }
}

/// The verified client certificate's identity, when the TLS configuration asked for one.
fn client_identity(conn: &Connection) -> Option<String> {
    let chain = conn
        .peer_identity()?
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .ok()?;
    tern_tls::peer_identity(&chain)
}

fn close(conn: &Connection, code: AppCode) {
    conn.close(code.varint(), code.reason());
}
