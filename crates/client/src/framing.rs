//! Packet framing over a byte stream: a read buffer that keeps partial packets across reads (so a
//! cancelled read loses nothing), and the protocol level that decides the wire format.

use crate::error::ClientError;
use bytes::BytesMut;
use tern_mqtt_codec::{Packet, ProtocolVersion, decode_packet, encode_packet};

/// The largest packet MQTT can express: 268,435,455 bytes of remaining length plus a 5-byte fixed header.
pub(crate) const MAX_PACKET_SIZE: u32 = 268_435_460;

/// Read buffer and wire settings of one connection.
#[derive(Debug)]
pub(crate) struct Framing {
    /// Bytes received but not yet decoded; holds at most one incomplete packet after [`Framing::decode`].
    pub(crate) rbuf: BytesMut,
    /// Protocol level used to decode and encode.
    pub(crate) version: ProtocolVersion,
    /// Largest packet accepted from the peer.
    pub(crate) max_packet_size: u32,
}

impl Framing {
    pub(crate) fn new(version: ProtocolVersion, max_packet_size: u32) -> Framing {
        Framing {
            rbuf: BytesMut::with_capacity(8 * 1024),
            version,
            max_packet_size,
        }
    }

    /// Splits the next whole packet off the read buffer; `Ok(None)` until one is complete.
    pub(crate) fn decode(&mut self) -> Result<Option<Packet>, ClientError> {
        Ok(decode_packet(&mut self.rbuf, self.version, self.max_packet_size)?)
    }

    /// Appends `packet` in wire format to `out`.
    pub(crate) fn encode(&self, packet: &Packet, out: &mut BytesMut) -> Result<(), ClientError> {
        Ok(encode_packet(packet, self.version, out)?)
    }

    /// Makes room for the next read (the buffer grows only while a large packet is arriving).
    pub(crate) fn reserve(&mut self) {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(8 * 1024);
        }
    }
}
