//! PUBLISH (3.3): an application message in either direction.

use crate::error::{DecodeError, EncodeError};
use crate::properties::{self, PropSink, PropertySet, Value, id, once};
use crate::topic::{TopicError, validate_topic_name};
use crate::types::{ByteStr, PacketId, ProtocolVersion, QoS, UserProperty};
use crate::wire::{self, PResult, fail, finish};
use bytes::{BufMut, Bytes, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};

/// PUBLISH: topic, payload and delivery flags. `Debug` shows the payload's size only.
#[derive(Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this may be a re-delivery.
    pub dup: bool,
    /// QoS of this delivery.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// Topic name; empty only in 5.0 when a topic alias stands in for it.
    pub topic: ByteStr,
    /// Packet identifier: `Some` exactly when QoS > 0.
    pub packet_id: Option<PacketId>,
    /// PUBLISH properties (5.0 only).
    pub properties: PublishProperties,
    /// Application payload, a slice of the received buffer.
    pub payload: Bytes,
}

/// PUBLISH properties (3.3.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishProperties {
    /// Payload Format Indicator: true when the payload is UTF-8.
    pub payload_format_indicator: Option<bool>,
    /// Message Expiry Interval in seconds (the broker forwards the remaining time).
    pub message_expiry_interval: Option<u32>,
    /// Topic Alias.
    pub topic_alias: Option<NonZeroU16>,
    /// Response Topic.
    pub response_topic: Option<ByteStr>,
    /// Correlation Data (binary).
    pub correlation_data: Option<Bytes>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Subscription Identifiers (server to client only; one per matching subscription).
    pub subscription_identifiers: Vec<NonZeroU32>,
    /// Content Type.
    pub content_type: Option<ByteStr>,
}

impl std::fmt::Debug for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publish")
            .field("dup", &self.dup)
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("topic", &self.topic)
            .field("packet_id", &self.packet_id)
            .field("properties", &self.properties)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .finish()
    }
}

impl Publish {
    /// A QoS 0 PUBLISH without properties (convenient for tests and the broker's own messages).
    pub fn new(topic: impl Into<ByteStr>, payload: impl Into<Bytes>) -> Publish {
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            packet_id: None,
            properties: PublishProperties::default(),
            payload: payload.into(),
        }
    }

    /// Decodes a PUBLISH body; `flags` is the low nibble of the first byte (DUP, QoS, RETAIN).
    pub(crate) fn decode(src: &Bytes, flags: u8, version: ProtocolVersion) -> Result<Publish, DecodeError> {
        let dup = flags & 0b1000 != 0;
        let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
        let retain = flags & 0b0001 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0);
        }
        finish(parse(src, src, version, dup, qos, retain))
    }

    /// This PUBLISH as borrowed parts: the one encoding both share.
    pub fn as_parts(&self) -> PublishRef<'_> {
        PublishRef {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: &self.topic,
            packet_id: self.packet_id,
            properties: &self.properties,
            message_expiry_interval: self.properties.message_expiry_interval,
            topic_alias: self.properties.topic_alias,
            subscription_identifiers: &[],
            payload: &self.payload,
        }
    }

    /// The low nibble of the first byte.
    pub(crate) fn flags(&self) -> u8 {
        self.as_parts().flags()
    }

    /// Size of the body (variable header and payload).
    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        self.as_parts().body_len(version)
    }

    /// Writes the body; sizes were checked by [`Publish::body_len`].
    pub(crate) fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        self.as_parts().write_body(version, buf);
    }
}

/// A PUBLISH to encode from borrowed parts: what a broker sends for each delivery of a shared message. The
/// encoding equals [`crate::encode_packet`] of a [`Publish`] whose properties are `properties` with
/// `message_expiry_interval` and `topic_alias` replaced and `subscription_identifiers` appended, without
/// cloning the properties (user properties, correlation data) for every subscriber.
#[derive(Debug, Clone, Copy)]
pub struct PublishRef<'a> {
    /// DUP: this may be a re-delivery (dropped at QoS 0, [MQTT-3.3.1-2]).
    pub dup: bool,
    /// QoS of this delivery.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// Topic name; empty only in 5.0 when a topic alias stands in for it.
    pub topic: &'a str,
    /// Packet identifier: `Some` exactly when QoS > 0.
    pub packet_id: Option<PacketId>,
    /// The message's properties (5.0 only); its expiry and alias are replaced by the fields below, and its
    /// subscription identifiers come before `subscription_identifiers`.
    pub properties: &'a PublishProperties,
    /// Message Expiry Interval to send (the remaining time).
    pub message_expiry_interval: Option<u32>,
    /// Topic Alias to send.
    pub topic_alias: Option<NonZeroU16>,
    /// Subscription Identifiers of this delivery, after the properties' own.
    pub subscription_identifiers: &'a [NonZeroU32],
    /// Application payload.
    pub payload: &'a [u8],
}

impl PublishRef<'_> {
    /// The low nibble of the first byte. DUP is only sent with QoS > 0 ([MQTT-3.3.1-2]), so a message
    /// downgraded to QoS 0 loses it.
    fn flags(&self) -> u8 {
        let dup = self.dup && self.qos != QoS::AtMostOnce;
        (u8::from(dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }

    /// Size of the body (variable header and payload).
    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() && self.topic.is_empty() {
            return Err(EncodeError::EmptyTopic);
        }
        let mut n = wire::field_len(self.topic.as_bytes())?;
        if self.qos != QoS::AtMostOnce {
            if self.packet_id.is_none() {
                return Err(EncodeError::MissingPacketId);
            }
            n += 2;
        }
        if version.is_v5() {
            n += properties::encoded_len(self)?;
        }
        Ok(n + self.payload.len())
    }

    /// Writes the body; sizes were checked by [`PublishRef::body_len`].
    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        wire::put_field(buf, self.topic.as_bytes());
        if self.qos != QoS::AtMostOnce {
            buf.put_u16(self.packet_id.map_or(0, NonZeroU16::get));
        }
        if version.is_v5() {
            properties::write(self, buf);
        }
        buf.put_slice(self.payload);
    }

    /// Total encoded size at `version`, fixed header included (what [`PublishRef::encode`] appends).
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let n = self.checked_body_len(version)?;
        Ok(1 + wire::vbi_len(n) + n)
    }

    /// Appends this PUBLISH, encoded for `version`, to `buf` (reserving the space once); on error nothing
    /// is written. On 3.x the properties are omitted.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let n = self.checked_body_len(version)?;
        buf.reserve(1 + wire::vbi_len(n) + n);
        buf.put_u8((super::PacketType::Publish as u8) << 4 | self.flags());
        wire::put_vbi(buf, n);
        self.write_body(version, buf);
        Ok(())
    }

    fn checked_body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let n = self.body_len(version)?;
        if n > wire::MAX_VBI {
            Err(EncodeError::PacketTooLarge(n))
        } else {
            Ok(n)
        }
    }
}

impl properties::VisitProps for PublishRef<'_> {
    fn visit_props<S: PropSink>(&self, s: &mut S) {
        let p = self.properties;
        s.opt_flag(id::PAYLOAD_FORMAT_INDICATOR, p.payload_format_indicator);
        s.opt_u32(id::MESSAGE_EXPIRY_INTERVAL, self.message_expiry_interval);
        s.opt_u16(id::TOPIC_ALIAS, self.topic_alias.map(NonZeroU16::get));
        s.opt_str(id::RESPONSE_TOPIC, p.response_topic.as_ref());
        s.opt_bin(id::CORRELATION_DATA, p.correlation_data.as_ref());
        s.users(&p.user_properties);
        for sid in p
            .subscription_identifiers
            .iter()
            .chain(self.subscription_identifiers)
        {
            s.vbi(id::SUBSCRIPTION_IDENTIFIER, sid.get());
        }
        s.opt_str(id::CONTENT_TYPE, p.content_type.as_ref());
    }
}

/// Parses the PUBLISH variable header and takes the rest as payload.
fn parse<'a>(
    src: &Bytes,
    i: &'a [u8],
    version: ProtocolVersion,
    dup: bool,
    qos: QoS,
    retain: bool,
) -> PResult<'a, Publish> {
    let (i, topic) = wire::string(src, i)?;
    let (i, packet_id) = if qos == QoS::AtMostOnce {
        (i, None)
    } else {
        let (i, id) = wire::u16(i)?;
        match NonZeroU16::new(id) {
            Some(id) => (i, Some(id)),
            None => return fail(DecodeError::ZeroPacketId(super::PacketType::Publish)),
        }
    };
    let (i, properties) = if version.is_v5() {
        properties::parse::<PublishProperties>(src, i)?
    } else {
        (i, Default::default())
    };
    if topic.is_empty() {
        if properties.topic_alias.is_none() {
            return fail(if version.is_v5() {
                DecodeError::TopicNameRequired
            } else {
                DecodeError::InvalidTopicName(TopicError::Empty)
            });
        }
    } else if let Err(e) = validate_topic_name(&topic) {
        return fail(DecodeError::InvalidTopicName(e));
    }
    let payload = src.slice_ref(i);
    Ok((
        &[],
        Publish {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            properties,
            payload,
        },
    ))
}

/// Response Topic is a topic name: no wildcards ([MQTT-3.3.2-14]).
pub(crate) fn response_topic(v: Value) -> Result<ByteStr, DecodeError> {
    let t = v.str()?;
    validate_topic_name(&t).map_err(DecodeError::InvalidTopicName)?;
    Ok(t)
}

impl PropertySet for PublishProperties {
    const CONTEXT: &'static str = "PUBLISH";

    fn apply(&mut self, pid: u8, v: Value) -> Result<(), DecodeError> {
        match pid {
            id::PAYLOAD_FORMAT_INDICATOR => once(&mut self.payload_format_indicator, v.flag(pid)?, pid),
            id::MESSAGE_EXPIRY_INTERVAL => once(&mut self.message_expiry_interval, v.u32()?, pid),
            id::TOPIC_ALIAS => {
                let alias = NonZeroU16::new(v.u16()?).ok_or(DecodeError::TopicAliasZero)?;
                once(&mut self.topic_alias, alias, pid)
            }
            id::RESPONSE_TOPIC => once(&mut self.response_topic, response_topic(v)?, pid),
            id::CORRELATION_DATA => once(&mut self.correlation_data, v.bin()?, pid),
            id::USER_PROPERTY => {
                self.user_properties.push(v.pair()?);
                Ok(())
            }
            id::SUBSCRIPTION_IDENTIFIER => {
                let sid = NonZeroU32::new(v.u32()?)
                    .ok_or(DecodeError::InvalidPropertyValue { id: pid, value: 0 })?;
                self.subscription_identifiers.push(sid);
                Ok(())
            }
            id::CONTENT_TYPE => once(&mut self.content_type, v.str()?, pid),
            _ => Err(DecodeError::PropertyNotAllowed {
                id: pid,
                packet: Self::CONTEXT,
            }),
        }
    }

    fn visit<S: PropSink>(&self, s: &mut S) {
        s.opt_flag(id::PAYLOAD_FORMAT_INDICATOR, self.payload_format_indicator);
        s.opt_u32(id::MESSAGE_EXPIRY_INTERVAL, self.message_expiry_interval);
        s.opt_u16(id::TOPIC_ALIAS, self.topic_alias.map(NonZeroU16::get));
        s.opt_str(id::RESPONSE_TOPIC, self.response_topic.as_ref());
        s.opt_bin(id::CORRELATION_DATA, self.correlation_data.as_ref());
        s.users(&self.user_properties);
        for sid in &self.subscription_identifiers {
            s.vbi(id::SUBSCRIPTION_IDENTIFIER, sid.get());
        }
        s.opt_str(id::CONTENT_TYPE, self.content_type.as_ref());
    }
}
