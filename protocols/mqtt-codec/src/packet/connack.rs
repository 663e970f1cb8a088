//! CONNACK (3.2): the server's answer to CONNECT.

use super::PacketType;
use crate::error::{DecodeError, EncodeError};
use crate::properties::{self, PropSink, PropertySet, Value, id, non_zero, once};
use crate::reason::ReasonCode;
use crate::types::{ByteStr, ProtocolVersion, QoS, UserProperty};
use crate::wire::{self, PResult, fail, finish};
use bytes::{BufMut, Bytes, BytesMut};

/// CONNACK: accepted or refused, whether a session was resumed, and the server's limits (5.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// Connect reason code; on 3.x mapped to return codes 0-5 by the wire code.
    pub reason_code: ReasonCode,
    /// CONNACK properties (5.0 only).
    pub properties: ConnAckProperties,
}

/// CONNACK properties (3.2.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAckProperties {
    /// Session Expiry Interval the server will use, when it differs from the client's.
    pub session_expiry_interval: Option<u32>,
    /// Receive Maximum of the server.
    pub receive_maximum: Option<u16>,
    /// Maximum QoS the server supports (absent means 2).
    pub maximum_qos: Option<QoS>,
    /// Retain Available (absent means true).
    pub retain_available: Option<bool>,
    /// Maximum Packet Size the server accepts.
    pub maximum_packet_size: Option<u32>,
    /// Assigned Client Identifier, when the client sent an empty one.
    pub assigned_client_identifier: Option<ByteStr>,
    /// Topic Alias Maximum the server accepts from the client.
    pub topic_alias_maximum: Option<u16>,
    /// Reason String.
    pub reason_string: Option<ByteStr>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Wildcard Subscription Available (absent means true).
    pub wildcard_subscription_available: Option<bool>,
    /// Subscription Identifiers Available (absent means true).
    pub subscription_identifiers_available: Option<bool>,
    /// Shared Subscription Available (absent means true).
    pub shared_subscription_available: Option<bool>,
    /// Server Keep Alive: the keep alive the client must use instead of its own.
    pub server_keep_alive: Option<u16>,
    /// Response Information.
    pub response_information: Option<ByteStr>,
    /// Server Reference.
    pub server_reference: Option<ByteStr>,
    /// Authentication Method.
    pub authentication_method: Option<ByteStr>,
    /// Authentication Data (binary).
    pub authentication_data: Option<Bytes>,
}

impl ConnAck {
    /// A CONNACK with the given outcome and no properties.
    pub fn new(reason_code: ReasonCode, session_present: bool) -> ConnAck {
        ConnAck {
            session_present,
            reason_code,
            properties: ConnAckProperties::default(),
        }
    }

    /// Decodes a CONNACK body. On 3.x the return code (0-5) is mapped to a reason code
    /// ([`ReasonCode::from_v3_connack`]); on 3.1 the first byte is unused and Session Present reads false.
    pub(crate) fn decode(src: &Bytes, version: ProtocolVersion) -> Result<ConnAck, DecodeError> {
        finish(parse(src, src, version))
    }

    /// Size of the body.
    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(2);
        }
        if !self.reason_code.is_valid_for(PacketType::ConnAck) {
            return Err(EncodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code: self.reason_code,
            });
        }
        Ok(2 + properties::encoded_len(&self.properties)?)
    }

    /// Writes the body. On 3.x the reason code becomes a return code per [`ReasonCode::to_v3_connack`].
    pub(crate) fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        let session_present = self.session_present && version != ProtocolVersion::V3_1;
        buf.put_u8(u8::from(session_present));
        if version.is_v5() {
            buf.put_u8(self.reason_code.value());
            properties::write(&self.properties, buf);
        } else {
            buf.put_u8(self.reason_code.to_v3_connack());
        }
    }
}

fn parse<'a>(src: &Bytes, i: &'a [u8], version: ProtocolVersion) -> PResult<'a, ConnAck> {
    let (i, flags) = wire::u8(i)?;
    if version != ProtocolVersion::V3_1 && flags & 0b1111_1110 != 0 {
        return fail(DecodeError::ConnAckReservedFlags);
    }
    let session_present = version != ProtocolVersion::V3_1 && flags & 1 != 0;
    let (i, code) = wire::u8(i)?;
    let reason = if version.is_v5() {
        ReasonCode::from_wire(PacketType::ConnAck, code)
    } else {
        ReasonCode::from_v3_connack(code)
    };
    let Some(reason_code) = reason else {
        return fail(DecodeError::InvalidReasonCode {
            packet: PacketType::ConnAck,
            code,
        });
    };
    let (i, properties) = if version.is_v5() {
        properties::parse(src, i)?
    } else {
        (i, Default::default())
    };
    Ok((
        i,
        ConnAck {
            session_present,
            reason_code,
            properties,
        },
    ))
}

impl PropertySet for ConnAckProperties {
    const CONTEXT: &'static str = "CONNACK";

    fn apply(&mut self, pid: u8, v: Value) -> Result<(), DecodeError> {
        match pid {
            id::SESSION_EXPIRY_INTERVAL => once(&mut self.session_expiry_interval, v.u32()?, pid),
            id::RECEIVE_MAXIMUM => once(&mut self.receive_maximum, non_zero(v.u16()?, pid)?, pid),
            id::MAXIMUM_QOS => {
                let qos = match v.byte()? {
                    0 => QoS::AtMostOnce,
                    1 => QoS::AtLeastOnce,
                    other => {
                        return Err(DecodeError::InvalidPropertyValue {
                            id: pid,
                            value: u32::from(other),
                        });
                    }
                };
                once(&mut self.maximum_qos, qos, pid)
            }
            id::RETAIN_AVAILABLE => once(&mut self.retain_available, v.flag(pid)?, pid),
            id::MAXIMUM_PACKET_SIZE => once(&mut self.maximum_packet_size, non_zero(v.u32()?, pid)?, pid),
            id::ASSIGNED_CLIENT_IDENTIFIER => once(&mut self.assigned_client_identifier, v.str()?, pid),
            id::TOPIC_ALIAS_MAXIMUM => once(&mut self.topic_alias_maximum, v.u16()?, pid),
            id::REASON_STRING => once(&mut self.reason_string, v.str()?, pid),
            id::USER_PROPERTY => {
                self.user_properties.push(v.pair()?);
                Ok(())
            }
            id::WILDCARD_SUBSCRIPTION_AVAILABLE => {
                once(&mut self.wildcard_subscription_available, v.flag(pid)?, pid)
            }
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                once(&mut self.subscription_identifiers_available, v.flag(pid)?, pid)
            }
            id::SHARED_SUBSCRIPTION_AVAILABLE => {
                once(&mut self.shared_subscription_available, v.flag(pid)?, pid)
            }
            id::SERVER_KEEP_ALIVE => once(&mut self.server_keep_alive, v.u16()?, pid),
            id::RESPONSE_INFORMATION => once(&mut self.response_information, v.str()?, pid),
            id::SERVER_REFERENCE => once(&mut self.server_reference, v.str()?, pid),
            id::AUTHENTICATION_METHOD => once(&mut self.authentication_method, v.str()?, pid),
            id::AUTHENTICATION_DATA => once(&mut self.authentication_data, v.bin()?, pid),
            _ => Err(DecodeError::PropertyNotAllowed {
                id: pid,
                packet: Self::CONTEXT,
            }),
        }
    }

    fn visit<S: PropSink>(&self, s: &mut S) {
        s.opt_u32(id::SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        s.opt_u16(id::RECEIVE_MAXIMUM, self.receive_maximum);
        s.opt_byte(id::MAXIMUM_QOS, self.maximum_qos.map(|q| q as u8));
        s.opt_flag(id::RETAIN_AVAILABLE, self.retain_available);
        s.opt_u32(id::MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        s.opt_str(
            id::ASSIGNED_CLIENT_IDENTIFIER,
            self.assigned_client_identifier.as_ref(),
        );
        s.opt_u16(id::TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        s.opt_str(id::REASON_STRING, self.reason_string.as_ref());
        s.users(&self.user_properties);
        s.opt_flag(
            id::WILDCARD_SUBSCRIPTION_AVAILABLE,
            self.wildcard_subscription_available,
        );
        s.opt_flag(
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            self.subscription_identifiers_available,
        );
        s.opt_flag(
            id::SHARED_SUBSCRIPTION_AVAILABLE,
            self.shared_subscription_available,
        );
        s.opt_u16(id::SERVER_KEEP_ALIVE, self.server_keep_alive);
        s.opt_str(id::RESPONSE_INFORMATION, self.response_information.as_ref());
        s.opt_str(id::SERVER_REFERENCE, self.server_reference.as_ref());
        s.opt_str(id::AUTHENTICATION_METHOD, self.authentication_method.as_ref());
        s.opt_bin(id::AUTHENTICATION_DATA, self.authentication_data.as_ref());
    }
}
