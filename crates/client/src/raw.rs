//! Raw mode: a connection with no protocol logic at all, for tests and the conformance suite. It sends
//! exactly the bytes or packets it is given (malformed ones included) and reports exactly what comes back.

use crate::error::ClientError;
use crate::framing::{Framing, MAX_PACKET_SIZE};
use crate::transport::{self, BoxStream, ByteStream, ServerUrl};
use bytes::BytesMut;
use std::time::Duration;
use tern_mqtt_codec::{Disconnect, Packet, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Timeout for opening the transport in [`RawConnection::connect`].
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte-level MQTT connection. Received bytes are decoded at the protocol level of the last
/// [`send`](RawConnection::send) (5.0 before any; change it with [`set_version`](RawConnection::set_version)).
///
/// ```no_run
/// # async fn demo() -> Result<(), tern_client::ClientError> {
/// use std::time::Duration;
/// use tern_client::RawConnection;
/// let mut raw = RawConnection::connect("mqtt://127.0.0.1:1883").await?;
/// // CONNECT with reserved flag bit 0 set: the server must close the connection [MQTT-3.1.2-3].
/// raw.send_bytes(&[0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x03, 0, 60, 0, 1, b'x']).await?;
/// raw.expect_closed(Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
pub struct RawConnection {
    stream: BoxStream,
    framing: Framing,
    wbuf: BytesMut,
}

impl std::fmt::Debug for RawConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawConnection")
            .field("version", &self.framing.version)
            .field("buffered", &self.framing.rbuf.len())
            .finish_non_exhaustive()
    }
}

impl RawConnection {
    /// Opens the transport `url` names (no CONNECT is sent).
    pub async fn connect(url: &str) -> Result<RawConnection, ClientError> {
        let url = ServerUrl::parse(url)?;
        Ok(RawConnection::from_boxed(
            transport::open(&url, CONNECT_TIMEOUT).await?,
        ))
    }

    /// Wraps a stream the caller opened.
    pub fn from_stream(stream: impl ByteStream) -> RawConnection {
        RawConnection::from_boxed(Box::new(stream))
    }

    fn from_boxed(stream: BoxStream) -> RawConnection {
        RawConnection {
            stream,
            framing: Framing::new(ProtocolVersion::V5, MAX_PACKET_SIZE),
            wbuf: BytesMut::new(),
        }
    }

    /// The protocol level used to decode received packets.
    pub fn version(&self) -> ProtocolVersion {
        self.framing.version
    }

    /// Sets the protocol level used to decode received packets.
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.framing.version = version;
    }

    /// Writes `bytes` as they are and flushes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| ClientError::io("raw send", e))?;
        self.stream
            .flush()
            .await
            .map_err(|e| ClientError::io("raw send", e))
    }

    /// Encodes `packet` at `version`, sends it, and decodes later replies at that version.
    pub async fn send(&mut self, packet: &Packet, version: ProtocolVersion) -> Result<(), ClientError> {
        self.framing.version = version;
        self.wbuf.clear();
        self.framing.encode(packet, &mut self.wbuf)?;
        let bytes = self.wbuf.split().freeze();
        self.send_bytes(&bytes).await
    }

    /// The next packet within `timeout`: `Ok(None)` when the peer closed the connection cleanly (or reset
    /// it) between packets; an error of kind [`Timeout`](crate::ErrorKind::Timeout) when nothing complete
    /// arrived in time, [`Protocol`](crate::ErrorKind::Protocol) for undecodable bytes, and
    /// [`ConnectionClosed`](crate::ErrorKind::ConnectionClosed) when the peer closed mid-packet.
    pub async fn recv_packet(&mut self, timeout: Duration) -> Result<Option<Packet>, ClientError> {
        let read = async {
            loop {
                if let Some(packet) = self.framing.decode()? {
                    return Ok(Some(packet));
                }
                self.framing.reserve();
                match self.stream.read_buf(&mut self.framing.rbuf).await {
                    Ok(0) if self.framing.rbuf.is_empty() => return Ok(None),
                    Ok(0) => {
                        return Err(ClientError::closed(
                            "the peer closed the connection in the middle of a packet",
                        ));
                    }
                    Ok(_) => {}
                    Err(e) if is_reset(&e) && self.framing.rbuf.is_empty() => return Ok(None),
                    Err(e) => return Err(ClientError::io("raw receive", e)),
                }
            }
        };
        tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| ClientError::timeout("a packet", timeout))?
    }

    /// Waits for the peer to close the connection within `timeout`, returning the DISCONNECT it sent first
    /// if any (5.0 servers send one with a reason code). Any other packet, or no close in time, is an error.
    pub async fn expect_closed(&mut self, timeout: Duration) -> Result<Option<Disconnect>, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut disconnect = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_packet(left).await? {
                None => return Ok(disconnect),
                Some(Packet::Disconnect(d)) if disconnect.is_none() => disconnect = Some(d),
                Some(other) => {
                    return Err(ClientError::protocol(format!(
                        "expected the connection to close, got {:?}",
                        other.packet_type()
                    )));
                }
            }
        }
    }

    /// Half-closes the connection (no more sends); receiving still works.
    pub async fn shutdown(&mut self) -> Result<(), ClientError> {
        self.stream
            .shutdown()
            .await
            .map_err(|e| ClientError::io("raw shutdown", e))
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
    )
}
