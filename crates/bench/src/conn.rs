//! Opening benchmark connections: the byte stream (through `tern-client`'s transport `open`, or a TCP socket
//! bound to a chosen source address), the CONNECT/CONNACK handshake and SUBSCRIBE/SUBACK through the codec.
//! After that the connection is a bare [`Conn`]: stream and two buffers, driven by the loops in `load`.

use anyhow::{Context, Result, anyhow, bail};
use bytes::BytesMut;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroU16;
use std::time::Duration;
use tern_client::{BoxStream, ServerUrl, TlsOptions, Transport};
use tern_mqtt_codec::{
    Connect, Packet, ProtocolVersion, QoS, ReasonCode, Subscribe, SubscribeProperties, decode_packet,
    encode_packet,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bound on connecting, the handshake and SUBACK.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how every connection of a run connects.
#[derive(Debug, Clone)]
pub struct Target {
    url: ServerUrl,
    /// Resolved address, for connects bound to a source address.
    addr: Option<SocketAddr>,
    sources: Vec<Ipv4Addr>,
    version: ProtocolVersion,
    keep_alive: u16,
    /// Session expiry every connection asks for; above 0 its session is durable (3.1.1: clean session 0).
    session_expiry: u32,
    /// Which server certificates `mqtts://`, `wss://` and `quic://` trust.
    tls: TlsOptions,
}

impl Target {
    /// Parses the URL and resolves it once. `mqttsn://` is refused: MQTT-SN publishers are `crate::sn`'s.
    pub async fn new(
        url: &str,
        version: ProtocolVersion,
        sources: Vec<Ipv4Addr>,
        run_for: Duration,
    ) -> Result<Target> {
        if crate::args::is_mqttsn(url) {
            bail!("mqttsn:// works for publishers only (--pub-url); subscribers need an MQTT URL");
        }
        let url = ServerUrl::parse(url).map_err(|e| anyhow!("{e}"))?;
        let addr = if sources.is_empty() {
            None
        } else {
            if url.transport() != Transport::Tcp {
                bail!("--source-addrs works with mqtt:// only");
            }
            let found = tokio::net::lookup_host((url.host(), url.port()))
                .await
                .with_context(|| format!("cannot resolve {url}"))?
                .find(SocketAddr::is_ipv4);
            Some(found.ok_or_else(|| anyhow!("{url} has no IPv4 address for --source-addrs"))?)
        };
        // Long enough that no connection needs a PINGREQ during the run.
        let keep_alive = (run_for.as_secs() + 120).min(u64::from(u16::MAX)) as u16;
        Ok(Target {
            url,
            addr,
            sources,
            version,
            keep_alive,
            session_expiry: 0,
            tls: TlsOptions::default(),
        })
    }

    /// Trusts what `tls` says (`--cafile`, `--insecure`) instead of the system's CAs, so a broker with a
    /// development certificate can be measured over TLS, WebSocket over TLS and QUIC.
    pub fn with_tls(mut self, tls: TlsOptions) -> Target {
        self.tls = tls;
        self
    }

    /// Connections ask for durable sessions (`secs` > 0), so a broker with persistence stores their
    /// messages: what `--session-expiry` measures.
    pub fn with_session_expiry(mut self, secs: u32) -> Target {
        self.session_expiry = secs;
        self
    }

    /// Protocol level of every connection.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Opens connection number `index`'s byte stream (from its source address, if any), sending nothing.
    pub(crate) async fn open(&self, index: usize) -> Result<BoxStream> {
        let (Some(addr), Some(src)) = (self.addr, self.sources.get(index % self.sources.len().max(1))) else {
            return tern_client::open_with(&self.url, HANDSHAKE_TIMEOUT, &self.tls)
                .await
                .map_err(|e| anyhow!("{e}"));
        };
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket
            .bind(SocketAddr::new((*src).into(), 0))
            .with_context(|| format!("cannot bind source address {src}"))?;
        let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, socket.connect(addr))
            .await
            .map_err(|_| anyhow!("connect to {addr} from {src} timed out"))?
            .with_context(|| format!("cannot connect to {addr} from {src}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Box::new(stream))
    }

    /// Opens connection number `index` as `client_id` and completes CONNECT/CONNACK.
    pub async fn connect(&self, index: usize, client_id: &str) -> Result<Conn> {
        let stream = self.open(index).await?;
        let mut conn = Conn {
            stream,
            rbuf: BytesMut::with_capacity(4096),
            wbuf: BytesMut::with_capacity(4096),
            version: self.version,
        };
        let mut connect = Connect::new(self.version, client_id.to_owned());
        connect.keep_alive = self.keep_alive;
        if self.session_expiry > 0 {
            match self.version {
                ProtocolVersion::V5 => connect.properties.session_expiry_interval = Some(self.session_expiry),
                _ => connect.clean_start = false,
            }
        }
        conn.send(&Packet::Connect(Box::new(connect))).await?;
        match conn.next_packet().await? {
            Packet::ConnAck(ack) if ack.reason_code.is_success() => Ok(conn),
            Packet::ConnAck(ack) => bail!("CONNACK refused {client_id}: {:?}", ack.reason_code),
            other => bail!("expected CONNACK, got {:?}", other.packet_type()),
        }
    }
}

/// An open, connected MQTT connection with its buffers.
pub struct Conn {
    /// The byte stream.
    pub stream: BoxStream,
    /// Received bytes not yet processed.
    pub rbuf: BytesMut,
    /// Bytes to write with the next flush.
    pub wbuf: BytesMut,
    /// Protocol level.
    pub version: ProtocolVersion,
}

impl Conn {
    /// Encodes `packet` and writes it at once.
    pub async fn send(&mut self, packet: &Packet) -> Result<()> {
        encode_packet(packet, self.version, &mut self.wbuf)?;
        self.flush().await
    }

    /// Writes the whole write buffer.
    pub async fn flush(&mut self) -> Result<()> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await.context("write failed")?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// The next whole packet, within [`HANDSHAKE_TIMEOUT`] (handshake path only).
    async fn next_packet(&mut self) -> Result<Packet> {
        let read = async {
            loop {
                if let Some(p) = decode_packet(&mut self.rbuf, self.version, u32::MAX)? {
                    return Ok(p);
                }
                if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                    bail!("the broker closed the connection");
                }
            }
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, read)
            .await
            .map_err(|_| anyhow!("no answer from the broker within {HANDSHAKE_TIMEOUT:?}"))?
    }

    /// Subscribes to `filter` at `qos` and waits for a granting SUBACK.
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<()> {
        let packet_id = NonZeroU16::MIN;
        let sub = Subscribe {
            packet_id,
            properties: SubscribeProperties::default(),
            filters: vec![tern_client::filter(filter.to_owned(), qos)],
        };
        self.send(&Packet::Subscribe(sub)).await?;
        match self.next_packet().await? {
            Packet::SubAck(ack) => match ack.reason_codes.first() {
                Some(code) if code.is_success() => Ok(()),
                code => bail!("SUBACK refused {filter}: {code:?}"),
            },
            other => bail!("expected SUBACK, got {:?}", other.packet_type()),
        }
    }

    /// Sends DISCONNECT (normal) and closes the write side; errors are ignored, the run is over.
    pub async fn close(mut self) {
        let d = tern_mqtt_codec::Disconnect {
            reason_code: ReasonCode::NormalDisconnection,
            properties: Default::default(),
        };
        let _ = encode_packet(&Packet::Disconnect(d), self.version, &mut self.wbuf);
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = self.flush().await;
            let _ = self.stream.shutdown().await;
        })
        .await;
    }
}
