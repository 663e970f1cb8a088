//! SUBSCRIBE (3.8), SUBACK (3.9), UNSUBSCRIBE (3.10) and UNSUBACK (3.11).

use super::PacketType;
use super::ack::AckProperties;
use crate::error::{DecodeError, EncodeError};
use crate::properties::{self, PropSink, PropertySet, Value, id, once};
use crate::reason::ReasonCode;
use crate::topic::{parse_shared, validate_topic_filter};
use crate::types::{ByteStr, PacketId, ProtocolVersion, QoS, UserProperty};
use crate::wire::{self, PResult, fail, finish};
use bytes::{BufMut, Bytes, BytesMut};
use std::num::NonZeroU32;

/// SUBSCRIBE: one or more topic filters with their options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet identifier, echoed in SUBACK.
    pub packet_id: PacketId,
    /// SUBSCRIBE properties (5.0).
    pub properties: SubscribeProperties,
    /// Topic filters in order; at least one ([MQTT-3.8.3-2]).
    pub filters: Vec<SubscribeFilter>,
}

/// One topic filter of a SUBSCRIBE and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeFilter {
    /// The topic filter, possibly `$share/{group}/{filter}`.
    pub filter: ByteStr,
    /// Subscription options.
    pub options: SubscriptionOptions,
}

/// Subscription options (3.8.3.1); on 3.x only the QoS is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the client accepts on this subscription.
    pub qos: QoS,
    /// No Local: don't send the client its own publishes.
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag on forwarded messages.
    pub retain_as_published: bool,
    /// When retained messages are sent for this subscription.
    pub retain_handling: RetainHandling,
}

/// Retain Handling option of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at subscribe.
    #[default]
    SendAtSubscribe,
    /// 1: send them only if the subscription did not already exist.
    SendAtSubscribeIfNew,
    /// 2: never send retained messages at subscribe.
    DoNotSend,
}

/// SUBSCRIBE properties (3.8.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeProperties {
    /// Subscription Identifier, delivered with matching messages.
    pub subscription_identifier: Option<NonZeroU32>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
}

/// SUBACK: one reason code per filter, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// Reason string and user properties (5.0).
    pub properties: AckProperties,
    /// Granted QoS or failure, one per filter; on 3.x only GrantedQoS0-2 and UnspecifiedError exist.
    pub reason_codes: Vec<ReasonCode>,
}

/// UNSUBSCRIBE: topic filters to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet identifier, echoed in UNSUBACK.
    pub packet_id: PacketId,
    /// User properties (5.0).
    pub user_properties: Vec<UserProperty>,
    /// Topic filters in order; at least one ([MQTT-3.10.3-2]).
    pub filters: Vec<ByteStr>,
}

/// UNSUBACK: one reason code per filter in 5.0, none in 3.x.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// Reason string and user properties (5.0).
    pub properties: AckProperties,
    /// One reason code per filter (5.0); empty on 3.x.
    pub reason_codes: Vec<ReasonCode>,
}

impl Subscribe {
    /// Decodes a SUBSCRIBE body (fixed-header flags were checked by the caller).
    pub(crate) fn decode(src: &Bytes, version: ProtocolVersion) -> Result<Subscribe, DecodeError> {
        finish(parse_subscribe(src, src, version))
    }

    /// Size of the body.
    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::EmptyPayload(PacketType::Subscribe));
        }
        let mut n = 2;
        if version.is_v5() {
            n += properties::encoded_len(&self.properties)?;
        }
        for f in &self.filters {
            n += wire::field_len(f.filter.as_bytes())? + 1;
        }
        Ok(n)
    }

    /// Writes the body; sizes were checked by [`Subscribe::body_len`].
    pub(crate) fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            properties::write(&self.properties, buf);
        }
        for f in &self.filters {
            wire::put_field(buf, f.filter.as_bytes());
            buf.put_u8(if version.is_v5() {
                f.options.to_byte()
            } else {
                f.options.qos as u8
            });
        }
    }
}

impl SubscriptionOptions {
    /// The options byte of 5.0 (3.8.3.1).
    pub fn to_byte(self) -> u8 {
        let rh = match self.retain_handling {
            RetainHandling::SendAtSubscribe => 0,
            RetainHandling::SendAtSubscribeIfNew => 1,
            RetainHandling::DoNotSend => 2,
        };
        (self.qos as u8)
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | (rh << 4)
    }

    /// Parses an options byte; on 3.x only the QoS bits may be set ([MQTT-3-8.3-4] of 3.1.1).
    pub fn from_byte(b: u8, version: ProtocolVersion) -> Result<SubscriptionOptions, DecodeError> {
        let reserved = if version.is_v5() { 0b1100_0000 } else { 0b1111_1100 };
        if b & reserved != 0 {
            return Err(DecodeError::SubscriptionOptionsReserved);
        }
        let qos = QoS::from_u8(b & 0b11).ok_or(DecodeError::InvalidQoS)?;
        let retain_handling = match (b >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::InvalidRetainHandling),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: b & 0b100 != 0,
            retain_as_published: b & 0b1000 != 0,
            retain_handling,
        })
    }
}

/// Checks a filter of SUBSCRIBE or UNSUBSCRIBE, including the `$share/` form on 5.0.
fn check_filter(filter: &str, version: ProtocolVersion) -> Result<bool, DecodeError> {
    validate_topic_filter(filter).map_err(DecodeError::InvalidTopicFilter)?;
    if version.is_v5() {
        Ok(parse_shared(filter)
            .map_err(DecodeError::InvalidTopicFilter)?
            .is_some())
    } else {
        Ok(false)
    }
}

fn packet_id(i: &[u8], packet: PacketType) -> PResult<'_, PacketId> {
    let (i, id) = wire::u16(i)?;
    match PacketId::new(id) {
        Some(id) => Ok((i, id)),
        None => fail(DecodeError::ZeroPacketId(packet)),
    }
}

fn parse_subscribe<'a>(src: &Bytes, i: &'a [u8], version: ProtocolVersion) -> PResult<'a, Subscribe> {
    let (mut i, packet_id) = packet_id(i, PacketType::Subscribe)?;
    let mut properties = SubscribeProperties::default();
    if version.is_v5() {
        (i, properties) = properties::parse(src, i)?;
    }
    let mut filters = Vec::new();
    while !i.is_empty() {
        let (r, filter) = wire::string(src, i)?;
        let (r, b) = wire::u8(r)?;
        i = r;
        let checked = check_filter(&filter, version)
            .and_then(|shared| SubscriptionOptions::from_byte(b, version).map(|o| (shared, o)));
        let options = match checked {
            Ok((true, o)) if o.no_local => return fail(DecodeError::NoLocalOnSharedSubscription),
            Ok((_, o)) => o,
            Err(e) => return fail(e),
        };
        filters.push(SubscribeFilter { filter, options });
    }
    if filters.is_empty() {
        return fail(DecodeError::EmptyPayload(PacketType::Subscribe));
    }
    Ok((
        i,
        Subscribe {
            packet_id,
            properties,
            filters,
        },
    ))
}

impl PropertySet for SubscribeProperties {
    const CONTEXT: &'static str = "SUBSCRIBE";

    fn apply(&mut self, pid: u8, v: Value) -> Result<(), DecodeError> {
        match pid {
            id::SUBSCRIPTION_IDENTIFIER => {
                let sid = NonZeroU32::new(v.u32()?)
                    .ok_or(DecodeError::InvalidPropertyValue { id: pid, value: 0 })?;
                once(&mut self.subscription_identifier, sid, pid)
            }
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
        if let Some(sid) = self.subscription_identifier {
            s.vbi(id::SUBSCRIPTION_IDENTIFIER, sid.get());
        }
        s.users(&self.user_properties);
    }
}

/// UNSUBSCRIBE carries only user properties.
#[derive(Default)]
pub(crate) struct UnsubscribeProperties(pub(crate) Vec<UserProperty>);

impl PropertySet for UnsubscribeProperties {
    const CONTEXT: &'static str = "UNSUBSCRIBE";

    fn apply(&mut self, pid: u8, v: Value) -> Result<(), DecodeError> {
        match pid {
            id::USER_PROPERTY => {
                self.0.push(v.pair()?);
                Ok(())
            }
            _ => Err(DecodeError::PropertyNotAllowed {
                id: pid,
                packet: Self::CONTEXT,
            }),
        }
    }

    fn visit<S: PropSink>(&self, s: &mut S) {
        s.users(&self.0);
    }
}

/// Borrowed view used to encode UNSUBSCRIBE's user properties without cloning them.
#[derive(Default)]
struct UnsubscribePropertiesRef<'p>(&'p [UserProperty]);

impl PropertySet for UnsubscribePropertiesRef<'_> {
    const CONTEXT: &'static str = "UNSUBSCRIBE";

    fn apply(&mut self, pid: u8, _: Value) -> Result<(), DecodeError> {
        Err(DecodeError::PropertyNotAllowed {
            id: pid,
            packet: Self::CONTEXT,
        })
    }

    fn visit<S: PropSink>(&self, s: &mut S) {
        s.users(self.0);
    }
}

impl Unsubscribe {
    /// Decodes an UNSUBSCRIBE body (fixed-header flags were checked by the caller).
    pub(crate) fn decode(src: &Bytes, version: ProtocolVersion) -> Result<Unsubscribe, DecodeError> {
        finish(parse_unsubscribe(src, src, version))
    }

    /// Size of the body.
    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::EmptyPayload(PacketType::Unsubscribe));
        }
        let mut n = 2;
        if version.is_v5() {
            n += properties::encoded_len(&UnsubscribePropertiesRef(&self.user_properties))?;
        }
        for f in &self.filters {
            n += wire::field_len(f.as_bytes())?;
        }
        Ok(n)
    }

    /// Writes the body; sizes were checked by [`Unsubscribe::body_len`].
    pub(crate) fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            properties::write(&UnsubscribePropertiesRef(&self.user_properties), buf);
        }
        for f in &self.filters {
            wire::put_field(buf, f.as_bytes());
        }
    }
}

fn parse_unsubscribe<'a>(src: &Bytes, i: &'a [u8], version: ProtocolVersion) -> PResult<'a, Unsubscribe> {
    let (mut i, packet_id) = packet_id(i, PacketType::Unsubscribe)?;
    let mut user_properties = Vec::new();
    if version.is_v5() {
        let (r, UnsubscribeProperties(p)) = properties::parse(src, i)?;
        (i, user_properties) = (r, p);
    }
    let mut filters = Vec::new();
    while !i.is_empty() {
        let (r, filter) = wire::string(src, i)?;
        i = r;
        if let Err(e) = check_filter(&filter, version) {
            return fail(e);
        }
        filters.push(filter);
    }
    if filters.is_empty() {
        return fail(DecodeError::EmptyPayload(PacketType::Unsubscribe));
    }
    Ok((
        i,
        Unsubscribe {
            packet_id,
            user_properties,
            filters,
        },
    ))
}

/// Parses the packet identifier and properties that start SUBACK and UNSUBACK, then one reason code per
/// remaining byte (3.x UNSUBACK has none).
pub(crate) fn parse_ack_list<'a>(
    src: &Bytes,
    i: &'a [u8],
    version: ProtocolVersion,
    packet: PacketType,
) -> PResult<'a, (PacketId, AckProperties, Vec<ReasonCode>)> {
    let (mut i, packet_id) = packet_id(i, packet)?;
    let mut props = AckProperties::default();
    if version.is_v5() {
        (i, props) = properties::parse(src, i)?;
    }
    let mut codes = Vec::with_capacity(i.len());
    for &b in i {
        let code = match (version.is_v5(), packet) {
            (true, _) => ReasonCode::from_wire(packet, b),
            (false, PacketType::SubAck) => ReasonCode::from_v3_suback(b),
            (false, _) => None,
        };
        match code {
            Some(c) => codes.push(c),
            None => return fail(DecodeError::InvalidReasonCode { packet, code: b }),
        }
    }
    Ok((&[], (packet_id, props, codes)))
}

/// Size of the reason code list of SUBACK / UNSUBACK, checking each code.
pub(crate) fn ack_list_len(
    props: &AckProperties,
    codes: &[ReasonCode],
    version: ProtocolVersion,
    packet: PacketType,
) -> Result<usize, EncodeError> {
    if version.is_v5() {
        if let Some(&code) = codes.iter().find(|c| !c.is_valid_for(packet)) {
            return Err(EncodeError::InvalidReasonCode { packet, code });
        }
        Ok(2 + properties::encoded_len(props)? + codes.len())
    } else if packet == PacketType::SubAck {
        Ok(2 + codes.len())
    } else {
        Ok(2)
    }
}

/// Writes a SUBACK / UNSUBACK body.
pub(crate) fn write_ack_list(
    packet_id: PacketId,
    props: &AckProperties,
    codes: &[ReasonCode],
    version: ProtocolVersion,
    packet: PacketType,
    buf: &mut BytesMut,
) {
    buf.put_u16(packet_id.get());
    if version.is_v5() {
        properties::write(props, buf);
        codes.iter().for_each(|c| buf.put_u8(c.value()));
    } else if packet == PacketType::SubAck {
        codes.iter().for_each(|c| buf.put_u8(c.to_v3_suback()));
    }
}

impl SubAck {
    /// Decodes a SUBACK body.
    pub(crate) fn decode(src: &Bytes, version: ProtocolVersion) -> Result<SubAck, DecodeError> {
        let (packet_id, properties, reason_codes) =
            finish(parse_ack_list(src, src, version, PacketType::SubAck))?;
        if reason_codes.is_empty() {
            return Err(DecodeError::EmptyPayload(PacketType::SubAck));
        }
        Ok(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }
}

impl UnsubAck {
    /// Decodes an UNSUBACK body.
    pub(crate) fn decode(src: &Bytes, version: ProtocolVersion) -> Result<UnsubAck, DecodeError> {
        let (packet_id, properties, reason_codes) =
            finish(parse_ack_list(src, src, version, PacketType::UnsubAck))?;
        if version.is_v5() && reason_codes.is_empty() {
            return Err(DecodeError::EmptyPayload(PacketType::UnsubAck));
        }
        Ok(UnsubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }
}
