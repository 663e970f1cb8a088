//! PUBACK, PUBREC, PUBREL and PUBCOMP (3.4-3.7): the QoS 1 and QoS 2 handshakes share one shape.

use super::PacketType;
use crate::error::{DecodeError, EncodeError};
use crate::properties::{self, PropSink, PropertySet, Value, id, once};
use crate::reason::ReasonCode;
use crate::types::{ByteStr, PacketId, ProtocolVersion, UserProperty};
use crate::wire::{self, PResult, fail, finish};
use bytes::{BufMut, Bytes, BytesMut};

/// Body of PUBACK, PUBREC, PUBREL and PUBCOMP: which packet, how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubAck {
    /// The packet identifier being acknowledged.
    pub packet_id: PacketId,
    /// Reason code (5.0); always Success on 3.x.
    pub reason_code: ReasonCode,
    /// Reason string and user properties (5.0).
    pub properties: AckProperties,
}

impl PubAck {
    /// A successful acknowledgement with no properties.
    pub fn new(packet_id: PacketId) -> PubAck {
        PubAck {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: AckProperties::default(),
        }
    }

    /// Decodes the body of a `packet` (PUBACK, PUBREC, PUBREL or PUBCOMP). In 5.0 the reason code may be
    /// omitted (remaining length 2: Success) and so may the properties (remaining length 3).
    pub(crate) fn decode(
        src: &Bytes,
        version: ProtocolVersion,
        packet: PacketType,
    ) -> Result<PubAck, DecodeError> {
        finish(parse(src, src, version, packet))
    }

    /// Size of the body; 5.0 uses the short forms when it can.
    pub(crate) fn body_len(
        &self,
        version: ProtocolVersion,
        packet: PacketType,
    ) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(2);
        }
        if !self.reason_code.is_valid_for(packet) {
            return Err(EncodeError::InvalidReasonCode {
                packet,
                code: self.reason_code,
            });
        }
        match properties::content_len(&self.properties)? {
            0 if self.reason_code.value() == 0 => Ok(2),
            0 => Ok(3),
            n => Ok(3 + wire::vbi_len(n) + n),
        }
    }

    /// Writes the body; `len` is what [`PubAck::body_len`] returned.
    pub(crate) fn write_body(&self, len: usize, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if len > 2 {
            buf.put_u8(self.reason_code.value());
        }
        if len > 3 {
            properties::write(&self.properties, buf);
        }
    }
}

fn parse<'a>(src: &Bytes, i: &'a [u8], version: ProtocolVersion, packet: PacketType) -> PResult<'a, PubAck> {
    let (i, id) = wire::u16(i)?;
    let Some(packet_id) = PacketId::new(id) else {
        return fail(DecodeError::ZeroPacketId(packet));
    };
    if !version.is_v5() || i.is_empty() {
        return Ok((i, PubAck::new(packet_id)));
    }
    let (i, code) = wire::u8(i)?;
    let Some(reason_code) = ReasonCode::from_wire(packet, code) else {
        return fail(DecodeError::InvalidReasonCode { packet, code });
    };
    let (i, properties) = if i.is_empty() {
        (i, AckProperties::default())
    } else {
        properties::parse(src, i)?
    };
    Ok((
        i,
        PubAck {
            packet_id,
            reason_code,
            properties,
        },
    ))
}

/// The properties every acknowledgement may carry: a reason string and user properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AckProperties {
    /// Reason String, for humans.
    pub reason_string: Option<ByteStr>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
}

impl AckProperties {
    /// True when there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.reason_string.is_none() && self.user_properties.is_empty()
    }
}

impl PropertySet for AckProperties {
    const CONTEXT: &'static str = "an acknowledgement";

    fn apply(&mut self, pid: u8, v: Value) -> Result<(), DecodeError> {
        match pid {
            id::REASON_STRING => once(&mut self.reason_string, v.str()?, pid),
            id::USER_PROPERTY => {
                self.user_properties.push(v.pair()?);
                Ok(())
            }
            _ => Err(DecodeError::PropertyNotAllowed {
                id: pid,
                packet: Self::CONTEXT,
            }),
        }
    }

    fn visit<S: PropSink>(&self, s: &mut S) {
        s.opt_str(id::REASON_STRING, self.reason_string.as_ref());
        s.users(&self.user_properties);
    }
}
