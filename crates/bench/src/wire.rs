//! The hot path's wire work, done by hand so the tool spends no allocation and little CPU per message:
//! writing a PUBLISH straight into the write buffer with the payload's stamp patched in, and reading an
//! incoming PUBLISH's QoS, packet id and stamp without building a packet. Everything else (CONNECT,
//! SUBSCRIBE, acks) goes through `tern-mqtt-codec`.
//!
//! Payload stamp (first [`STAMP_LEN`] bytes when the payload is that large): `TRNB`, send time in
//! nanoseconds since the Unix epoch (u64, big endian; wall clock so separate processes on one host agree),
//! publisher index (u32), sequence number (u64). The rest of the payload is filler.

use bytes::{BufMut, BytesMut};
use std::time::{SystemTime, UNIX_EPOCH};
use tern_mqtt_codec::ProtocolVersion;

/// Bytes of the stamp at the start of a payload.
pub const STAMP_LEN: usize = 24;
const MAGIC: &[u8; 4] = b"TRNB";

/// Nanoseconds since the Unix epoch now (0 if the clock is before 1970).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// What a publisher needs to write one PUBLISH: its topic, QoS, level and payload filler.
#[derive(Debug, Clone)]
pub struct PublishWriter {
    topic: Vec<u8>,
    qos: u8,
    v5: bool,
    size: usize,
    publisher: u32,
}

impl PublishWriter {
    /// A writer for `publisher`'s messages of `size` bytes on `topic`.
    pub fn new(topic: &str, qos: u8, version: ProtocolVersion, size: usize, publisher: u32) -> PublishWriter {
        PublishWriter {
            topic: topic.as_bytes().to_vec(),
            qos,
            v5: version.is_v5(),
            size,
            publisher,
        }
    }

    /// Bytes one PUBLISH takes on the wire.
    pub fn packet_len(&self) -> usize {
        let rl = self.remaining_len();
        1 + varint_len(rl) + rl
    }

    fn remaining_len(&self) -> usize {
        2 + self.topic.len() + if self.qos > 0 { 2 } else { 0 } + usize::from(self.v5) + self.size
    }

    /// Appends one PUBLISH (packet id `pid` when QoS > 0) stamped with `seq` and the time `sent_ns`.
    pub fn put(&self, out: &mut BytesMut, pid: u16, seq: u64, sent_ns: u64) {
        out.put_u8(0x30 | (self.qos << 1));
        put_varint(out, self.remaining_len());
        out.put_u16(self.topic.len() as u16);
        out.put_slice(&self.topic);
        if self.qos > 0 {
            out.put_u16(pid);
        }
        if self.v5 {
            out.put_u8(0);
        }
        self.put_payload(out, seq, sent_ns);
    }

    /// Payload bytes of one message.
    pub fn payload_len(&self) -> usize {
        self.size
    }

    /// QoS of the publishes (0, 1 or 2).
    pub fn qos(&self) -> u8 {
        self.qos
    }

    /// Appends the payload: the stamp (when it fits) then filler; shared by MQTT and MQTT-SN publishers.
    pub fn put_payload(&self, out: &mut BytesMut, seq: u64, sent_ns: u64) {
        if self.size >= STAMP_LEN {
            out.put_slice(MAGIC);
            out.put_u64(sent_ns);
            out.put_u32(self.publisher);
            out.put_u64(seq);
            out.put_bytes(b'x', self.size - STAMP_LEN);
        } else {
            out.put_bytes(b'x', self.size);
        }
    }
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 128 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut BytesMut, mut v: usize) {
    loop {
        let byte = (v % 128) as u8;
        v /= 128;
        if v == 0 {
            out.put_u8(byte);
            return;
        }
        out.put_u8(byte | 0x80);
    }
}

/// Fixed header of the packet at the start of `buf`: (first byte, header length, remaining length);
/// `None` while incomplete, `Err` on a malformed length.
pub fn fixed_header(buf: &[u8]) -> Result<Option<(u8, usize, usize)>, &'static str> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut value = 0usize;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(None);
        };
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((first, 2 + i, value)));
        }
    }
    Err("malformed remaining length")
}

/// An incoming PUBLISH as the subscriber loop needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incoming {
    /// QoS of the delivery.
    pub qos: u8,
    /// Packet identifier (0 for QoS 0).
    pub pid: u16,
    /// Send time from the stamp, when the payload carries one.
    pub sent_ns: Option<u64>,
}

/// Reads a whole PUBLISH packet `pkt` (fixed header included, `hdr` bytes of it); `None` if malformed.
pub fn read_publish(pkt: &[u8], hdr: usize, v5: bool) -> Option<Incoming> {
    let qos = (pkt.first()? >> 1) & 0x03;
    let body = pkt.get(hdr..)?;
    let tlen = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let mut at = 2 + tlen;
    let mut pid = 0;
    if qos > 0 {
        pid = u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]);
        at += 2;
    }
    if v5 {
        let (_, plen_hdr, plen) = fixed_header(body.get(at - 1..)?).ok()??;
        at += plen_hdr - 1 + plen;
    }
    let payload = body.get(at..)?;
    let sent_ns = match payload.get(..STAMP_LEN) {
        Some(s) if s.get(..4) == Some(&MAGIC[..]) => {
            let mut t = [0u8; 8];
            t.copy_from_slice(s.get(4..12)?);
            Some(u64::from_be_bytes(t))
        }
        _ => None,
    };
    Some(Incoming { qos, pid, sent_ns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_mqtt_codec::{Packet, QoS, decode_packet};

    fn roundtrip(version: ProtocolVersion, qos: u8, size: usize) {
        let w = PublishWriter::new("bench/7", qos, version, size, 7);
        let mut out = BytesMut::new();
        w.put(&mut out, 42, 9, 1_234_567);
        assert_eq!(out.len(), w.packet_len());
        let raw = out.clone();
        let (_, hdr, rl) = fixed_header(&raw).expect("valid").expect("whole");
        assert_eq!(hdr + rl, raw.len());
        let inc = read_publish(&raw, hdr, version.is_v5()).expect("parses");
        assert_eq!(inc.qos, qos);
        assert_eq!(inc.pid, if qos > 0 { 42 } else { 0 });
        assert_eq!(inc.sent_ns, (size >= STAMP_LEN).then_some(1_234_567));
        match decode_packet(&mut out, version, u32::MAX).expect("codec accepts it") {
            Some(Packet::Publish(p)) => {
                assert_eq!(p.topic.as_str(), "bench/7");
                assert_eq!(p.qos, QoS::from_u8(qos).expect("qos"));
                assert_eq!(p.payload.len(), size);
                assert_eq!(p.packet_id.map(|id| id.get()), (qos > 0).then_some(42));
            }
            other => panic!("not a publish: {other:?}"),
        }
    }

    #[test]
    fn publishes_decode_with_the_codec() {
        for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            for qos in 0..=2 {
                for size in [0, 10, 24, 64, 200, 20_000] {
                    roundtrip(v, qos, size);
                }
            }
        }
    }

    #[test]
    fn partial_and_bad_headers() {
        assert_eq!(fixed_header(&[]), Ok(None));
        assert_eq!(fixed_header(&[0x30, 0x80]), Ok(None));
        assert!(fixed_header(&[0x30, 0x80, 0x80, 0x80, 0x80]).is_err());
        assert_eq!(fixed_header(&[0x30, 0x05]), Ok(Some((0x30, 2, 5))));
        assert!(read_publish(&[0x30, 0x01, 0x00], 2, false).is_none());
    }
}
