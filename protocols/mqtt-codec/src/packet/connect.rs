//! CONNECT (3.1): the first packet of every connection.

use super::publish::response_topic;
use crate::error::{DecodeError, EncodeError};
use crate::properties::{self, PropSink, PropertySet, Value, id, non_zero, once};
use crate::topic::validate_topic_name;
use crate::types::{ByteStr, ProtocolVersion, QoS, UserProperty};
use crate::wire::{self, PResult, fail, finish};
use bytes::{BufMut, Bytes, BytesMut};

/// CONNECT: who the client is, how it wants its session kept, and its will. `Debug` redacts the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Connect {
    /// Protocol level from the variable header; the decoder accepts 3, 4 and 5.
    pub protocol: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.1.1).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns the mechanism off.
    pub keep_alive: u16,
    /// Client identifier; may be empty (the server then assigns one, rules per level).
    pub client_id: ByteStr,
    /// The will message, if the Will Flag was set.
    pub will: Option<Will>,
    /// User name, if the User Name Flag was set.
    pub username: Option<ByteStr>,
    /// Password (binary data), if the Password Flag was set.
    pub password: Option<Bytes>,
    /// CONNECT properties (5.0 only; default for earlier levels).
    pub properties: ConnectProperties,
}

/// The will: published by the server when the connection ends abnormally. `Debug` shows the payload's size only.
#[derive(Clone, PartialEq, Eq)]
pub struct Will {
    /// Topic to publish the will on.
    pub topic: ByteStr,
    /// Will payload (binary).
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will properties (5.0 only).
    pub properties: WillProperties,
}

/// CONNECT properties (3.1.2.11).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectProperties {
    /// Session Expiry Interval in seconds; absent means 0 (session ends with the connection).
    pub session_expiry_interval: Option<u32>,
    /// Receive Maximum: QoS 1/2 publishes the client will process at once; absent means 65,535.
    pub receive_maximum: Option<u16>,
    /// Maximum Packet Size the client accepts.
    pub maximum_packet_size: Option<u32>,
    /// Topic Alias Maximum the client accepts from the server; absent means 0.
    pub topic_alias_maximum: Option<u16>,
    /// Request Response Information (0 or 1).
    pub request_response_information: Option<bool>,
    /// Request Problem Information (0 or 1); absent means 1.
    pub request_problem_information: Option<bool>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Authentication Method for enhanced authentication.
    pub authentication_method: Option<ByteStr>,
    /// Authentication Data (binary).
    pub authentication_data: Option<Bytes>,
}

/// Will properties (3.1.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WillProperties {
    /// Will Delay Interval in seconds.
    pub will_delay_interval: Option<u32>,
    /// Payload Format Indicator: true when the payload is UTF-8.
    pub payload_format_indicator: Option<bool>,
    /// Message Expiry Interval in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Content Type.
    pub content_type: Option<ByteStr>,
    /// Response Topic.
    pub response_topic: Option<ByteStr>,
    /// Correlation Data (binary).
    pub correlation_data: Option<Bytes>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("protocol", &self.protocol)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("client_id", &self.client_id)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("properties", &self.properties)
            .finish()
    }
}

impl std::fmt::Debug for Will {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Will")
            .field("topic", &self.topic)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("properties", &self.properties)
            .finish()
    }
}

const CLEAN_START: u8 = 0b0000_0010;
const WILL_FLAG: u8 = 0b0000_0100;
const WILL_RETAIN: u8 = 0b0010_0000;
const PASSWORD_FLAG: u8 = 0b0100_0000;
const USERNAME_FLAG: u8 = 0b1000_0000;

impl Connect {
    /// A CONNECT at `protocol` with a client id, clean start, 60 s keep alive and nothing else.
    pub fn new(protocol: ProtocolVersion, client_id: impl Into<ByteStr>) -> Connect {
        Connect {
            protocol,
            clean_start: true,
            keep_alive: 60,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }
    }

    /// Decodes a CONNECT body; the protocol level comes from the packet itself.
    pub(crate) fn decode(src: &Bytes) -> Result<Connect, DecodeError> {
        finish(parse(src, src))
    }

    fn protocol_name(&self) -> &'static [u8] {
        if self.protocol == ProtocolVersion::V3_1 {
            b"MQIsdp"
        } else {
            b"MQTT"
        }
    }

    /// Size of the body at `self.protocol`.
    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        let v5 = self.protocol.is_v5();
        if !v5 && self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::PasswordWithoutUsername);
        }
        let mut n = 2 + self.protocol_name().len() + 1 + 1 + 2;
        if v5 {
            n += properties::encoded_len(&self.properties)?;
        }
        n += wire::field_len(self.client_id.as_bytes())?;
        if let Some(will) = &self.will {
            if v5 {
                n += properties::encoded_len(&will.properties)?;
            }
            n += wire::field_len(will.topic.as_bytes())? + wire::field_len(&will.payload)?;
        }
        if let Some(u) = &self.username {
            n += wire::field_len(u.as_bytes())?;
        }
        if let Some(p) = &self.password {
            n += wire::field_len(p)?;
        }
        Ok(n)
    }

    /// Writes the body; sizes were checked by [`Connect::body_len`].
    pub(crate) fn write_body(&self, buf: &mut BytesMut) {
        let v5 = self.protocol.is_v5();
        wire::put_field(buf, self.protocol_name());
        buf.put_u8(self.protocol.level());
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= WILL_FLAG | ((will.qos as u8) << 3);
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= USERNAME_FLAG;
        }
        if self.password.is_some() {
            flags |= PASSWORD_FLAG;
        }
        buf.put_u8(flags);
        buf.put_u16(self.keep_alive);
        if v5 {
            properties::write(&self.properties, buf);
        }
        wire::put_field(buf, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v5 {
                properties::write(&will.properties, buf);
            }
            wire::put_field(buf, will.topic.as_bytes());
            wire::put_field(buf, &will.payload);
        }
        if let Some(u) = &self.username {
            wire::put_field(buf, u.as_bytes());
        }
        if let Some(p) = &self.password {
            wire::put_field(buf, p);
        }
    }
}

/// Reads the protocol name and level: `MQIsdp` 3, `MQTT` 4 or 5.
fn protocol<'a>(src: &Bytes, i: &'a [u8]) -> PResult<'a, ProtocolVersion> {
    let (i, name) = wire::binary(src, i)?;
    let (i, level) = wire::u8(i)?;
    match (&name[..], level) {
        (b"MQIsdp", 3) => Ok((i, ProtocolVersion::V3_1)),
        (b"MQTT", 4) => Ok((i, ProtocolVersion::V3_1_1)),
        (b"MQTT", 5) => Ok((i, ProtocolVersion::V5)),
        (b"MQIsdp" | b"MQTT", level) => fail(DecodeError::UnsupportedProtocolVersion(level)),
        _ => fail(DecodeError::InvalidProtocolName),
    }
}

fn parse<'a>(src: &Bytes, i: &'a [u8]) -> PResult<'a, Connect> {
    let (i, protocol) = protocol(src, i)?;
    let v5 = protocol.is_v5();
    let (i, flags) = wire::u8(i)?;
    if flags & 1 != 0 {
        return fail(DecodeError::ConnectReservedFlag);
    }
    let will_flag = flags & WILL_FLAG != 0;
    let will_retain = flags & WILL_RETAIN != 0;
    let Some(will_qos) = QoS::from_u8((flags >> 3) & 0b11) else {
        return fail(DecodeError::InvalidQoS);
    };
    if !will_flag && (will_qos != QoS::AtMostOnce || will_retain) {
        return fail(DecodeError::WillFlagsWithoutWill);
    }
    let has_username = flags & USERNAME_FLAG != 0;
    let has_password = flags & PASSWORD_FLAG != 0;
    if !v5 && has_password && !has_username {
        return fail(DecodeError::PasswordWithoutUsername);
    }
    let (i, keep_alive) = wire::u16(i)?;
    let (i, properties) = if v5 {
        properties::parse(src, i)?
    } else {
        (i, ConnectProperties::default())
    };
    let (mut i, client_id) = wire::string(src, i)?;
    let mut will = None;
    if will_flag {
        let (r, properties) = if v5 {
            properties::parse(src, i)?
        } else {
            (i, WillProperties::default())
        };
        let (r, topic) = wire::string(src, r)?;
        if let Err(e) = validate_topic_name(&topic) {
            return fail(DecodeError::InvalidTopicName(e));
        }
        let (r, payload) = wire::binary(src, r)?;
        i = r;
        will = Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties,
        });
    }
    let mut username = None;
    if has_username {
        let (r, u) = wire::string(src, i)?;
        (i, username) = (r, Some(u));
    }
    let mut password = None;
    if has_password {
        let (r, p) = wire::binary(src, i)?;
        (i, password) = (r, Some(p));
    }
    let clean_start = flags & CLEAN_START != 0;
    Ok((
        i,
        Connect {
            protocol,
            clean_start,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        },
    ))
}

impl PropertySet for ConnectProperties {
    const CONTEXT: &'static str = "CONNECT";

    fn apply(&mut self, pid: u8, v: Value) -> Result<(), DecodeError> {
        match pid {
            id::SESSION_EXPIRY_INTERVAL => once(&mut self.session_expiry_interval, v.u32()?, pid),
            id::RECEIVE_MAXIMUM => once(&mut self.receive_maximum, non_zero(v.u16()?, pid)?, pid),
            id::MAXIMUM_PACKET_SIZE => once(&mut self.maximum_packet_size, non_zero(v.u32()?, pid)?, pid),
            id::TOPIC_ALIAS_MAXIMUM => once(&mut self.topic_alias_maximum, v.u16()?, pid),
            id::REQUEST_RESPONSE_INFORMATION => {
                once(&mut self.request_response_information, v.flag(pid)?, pid)
            }
            id::REQUEST_PROBLEM_INFORMATION => once(&mut self.request_problem_information, v.flag(pid)?, pid),
            id::USER_PROPERTY => {
                self.user_properties.push(v.pair()?);
                Ok(())
            }
            id::AUTHENTICATION_METHOD => once(&mut self.authentication_method, v.str()?, pid),
            id::AUTHENTICATION_DATA => once(&mut self.authentication_data, v.bin()?, pid),
            _ => Err(DecodeError::PropertyNotAllowed {
                id: pid,
                packet: Self::CONTEXT,
            }),
        }
    }

    fn check(&self) -> Result<(), DecodeError> {
        if self.authentication_data.is_some() && self.authentication_method.is_none() {
            return Err(DecodeError::AuthenticationMethodMissing);
        }
        Ok(())
    }

    fn visit<S: PropSink>(&self, s: &mut S) {
        s.opt_u32(id::SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        s.opt_u16(id::RECEIVE_MAXIMUM, self.receive_maximum);
        s.opt_u32(id::MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        s.opt_u16(id::TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        s.opt_flag(
            id::REQUEST_RESPONSE_INFORMATION,
            self.request_response_information,
        );
        s.opt_flag(id::REQUEST_PROBLEM_INFORMATION, self.request_problem_information);
        s.users(&self.user_properties);
        s.opt_str(id::AUTHENTICATION_METHOD, self.authentication_method.as_ref());
        s.opt_bin(id::AUTHENTICATION_DATA, self.authentication_data.as_ref());
    }
}

impl PropertySet for WillProperties {
    const CONTEXT: &'static str = "the will";

    fn apply(&mut self, pid: u8, v: Value) -> Result<(), DecodeError> {
        match pid {
            id::WILL_DELAY_INTERVAL => once(&mut self.will_delay_interval, v.u32()?, pid),
            id::PAYLOAD_FORMAT_INDICATOR => once(&mut self.payload_format_indicator, v.flag(pid)?, pid),
            id::MESSAGE_EXPIRY_INTERVAL => once(&mut self.message_expiry_interval, v.u32()?, pid),
            id::CONTENT_TYPE => once(&mut self.content_type, v.str()?, pid),
            id::RESPONSE_TOPIC => once(&mut self.response_topic, response_topic(v)?, pid),
            id::CORRELATION_DATA => once(&mut self.correlation_data, v.bin()?, pid),
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
        s.opt_u32(id::WILL_DELAY_INTERVAL, self.will_delay_interval);
        s.opt_flag(id::PAYLOAD_FORMAT_INDICATOR, self.payload_format_indicator);
        s.opt_u32(id::MESSAGE_EXPIRY_INTERVAL, self.message_expiry_interval);
        s.opt_str(id::CONTENT_TYPE, self.content_type.as_ref());
        s.opt_str(id::RESPONSE_TOPIC, self.response_topic.as_ref());
        s.opt_bin(id::CORRELATION_DATA, self.correlation_data.as_ref());
        s.users(&self.user_properties);
    }
}
