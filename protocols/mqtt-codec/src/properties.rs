//! 5.0 properties (2.2.2): one generic parser and writer; each property struct says which identifiers it
//! accepts ([`PropertySet::apply`]) and lists what it holds ([`PropertySet::visit`]).

use crate::error::{DecodeError, EncodeError};
use crate::types::{ByteStr, UserProperty};
use crate::wire::{self, MAX_VBI, PResult, fail};
use bytes::{BufMut, Bytes, BytesMut};
use nom::bytes::complete::take;

/// Property identifiers (2.2.2.2).
pub(crate) mod id {
    pub(crate) const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub(crate) const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub(crate) const CONTENT_TYPE: u8 = 0x03;
    pub(crate) const RESPONSE_TOPIC: u8 = 0x08;
    pub(crate) const CORRELATION_DATA: u8 = 0x09;
    pub(crate) const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub(crate) const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub(crate) const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub(crate) const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub(crate) const AUTHENTICATION_METHOD: u8 = 0x15;
    pub(crate) const AUTHENTICATION_DATA: u8 = 0x16;
    pub(crate) const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub(crate) const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub(crate) const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub(crate) const RESPONSE_INFORMATION: u8 = 0x1A;
    pub(crate) const SERVER_REFERENCE: u8 = 0x1C;
    pub(crate) const REASON_STRING: u8 = 0x1F;
    pub(crate) const RECEIVE_MAXIMUM: u8 = 0x21;
    pub(crate) const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub(crate) const TOPIC_ALIAS: u8 = 0x23;
    pub(crate) const MAXIMUM_QOS: u8 = 0x24;
    pub(crate) const RETAIN_AVAILABLE: u8 = 0x25;
    pub(crate) const USER_PROPERTY: u8 = 0x26;
    pub(crate) const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub(crate) const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub(crate) const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub(crate) const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// A decoded property value; its type follows from the identifier.
#[derive(Debug)]
pub(crate) enum Value {
    /// Byte.
    Byte(u8),
    /// Two Byte Integer.
    U16(u16),
    /// Four Byte Integer or Variable Byte Integer.
    U32(u32),
    /// UTF-8 Encoded String.
    Str(ByteStr),
    /// Binary Data.
    Bin(Bytes),
    /// UTF-8 String Pair.
    Pair(UserProperty),
}

impl Value {
    /// The value as a Byte that must be 0 or 1.
    pub(crate) fn flag(self, id: u8) -> Result<bool, DecodeError> {
        match self {
            Value::Byte(0) => Ok(false),
            Value::Byte(1) => Ok(true),
            Value::Byte(v) => Err(DecodeError::InvalidPropertyValue {
                id,
                value: u32::from(v),
            }),
            _ => Err(DecodeError::Truncated),
        }
    }

    /// The value as a Byte.
    pub(crate) fn byte(self) -> Result<u8, DecodeError> {
        if let Value::Byte(v) = self {
            Ok(v)
        } else {
            Err(DecodeError::Truncated)
        }
    }

    /// The value as a Two Byte Integer.
    pub(crate) fn u16(self) -> Result<u16, DecodeError> {
        if let Value::U16(v) = self {
            Ok(v)
        } else {
            Err(DecodeError::Truncated)
        }
    }

    /// The value as a Four Byte or Variable Byte Integer.
    pub(crate) fn u32(self) -> Result<u32, DecodeError> {
        if let Value::U32(v) = self {
            Ok(v)
        } else {
            Err(DecodeError::Truncated)
        }
    }

    /// The value as a string.
    pub(crate) fn str(self) -> Result<ByteStr, DecodeError> {
        if let Value::Str(v) = self {
            Ok(v)
        } else {
            Err(DecodeError::Truncated)
        }
    }

    /// The value as binary data.
    pub(crate) fn bin(self) -> Result<Bytes, DecodeError> {
        if let Value::Bin(v) = self {
            Ok(v)
        } else {
            Err(DecodeError::Truncated)
        }
    }

    /// The value as a string pair.
    pub(crate) fn pair(self) -> Result<UserProperty, DecodeError> {
        if let Value::Pair(v) = self {
            Ok(v)
        } else {
            Err(DecodeError::Truncated)
        }
    }
}

/// Stores `v` in a property slot that may be filled once.
pub(crate) fn once<T>(slot: &mut Option<T>, v: T, id: u8) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty(id));
    }
    *slot = Some(v);
    Ok(())
}

/// Rejects 0 for properties where it is a protocol error (receive maximum, maximum packet size).
pub(crate) fn non_zero<T: Into<u32> + Copy>(v: T, id: u8) -> Result<T, DecodeError> {
    if v.into() == 0 {
        Err(DecodeError::InvalidPropertyValue { id, value: 0 })
    } else {
        Ok(v)
    }
}

/// Receives the properties a struct holds, for measuring or writing them.
pub(crate) trait PropSink {
    /// A Byte property.
    fn byte(&mut self, id: u8, v: u8);
    /// A Two Byte Integer property.
    fn u16(&mut self, id: u8, v: u16);
    /// A Four Byte Integer property.
    fn u32(&mut self, id: u8, v: u32);
    /// A Variable Byte Integer property.
    fn vbi(&mut self, id: u8, v: u32);
    /// A UTF-8 string or binary property.
    fn field(&mut self, id: u8, v: &[u8]);
    /// A user property.
    fn pair(&mut self, k: &[u8], v: &[u8]);

    /// An optional Byte property.
    fn opt_byte(&mut self, id: u8, v: Option<u8>) {
        if let Some(v) = v {
            self.byte(id, v);
        }
    }
    /// An optional boolean property (a Byte 0 or 1).
    fn opt_flag(&mut self, id: u8, v: Option<bool>) {
        self.opt_byte(id, v.map(u8::from));
    }
    /// An optional Two Byte Integer property.
    fn opt_u16(&mut self, id: u8, v: Option<u16>) {
        if let Some(v) = v {
            self.u16(id, v);
        }
    }
    /// An optional Four Byte Integer property.
    fn opt_u32(&mut self, id: u8, v: Option<u32>) {
        if let Some(v) = v {
            self.u32(id, v);
        }
    }
    /// An optional string property.
    fn opt_str(&mut self, id: u8, v: Option<&ByteStr>) {
        if let Some(v) = v {
            self.field(id, v.as_bytes());
        }
    }
    /// An optional binary property.
    fn opt_bin(&mut self, id: u8, v: Option<&Bytes>) {
        if let Some(v) = v {
            self.field(id, v);
        }
    }
    /// All user properties, in order.
    fn users(&mut self, props: &[UserProperty]) {
        for (k, v) in props {
            self.pair(k.as_bytes(), v.as_bytes());
        }
    }
}

/// A set of properties allowed in one packet (or in the will).
pub(crate) trait PropertySet: Default {
    /// Where the set appears, for error messages.
    const CONTEXT: &'static str;
    /// Stores one decoded property, or rejects it as not allowed, duplicated or out of range.
    fn apply(&mut self, id: u8, value: Value) -> Result<(), DecodeError>;
    /// Feeds every present property to `sink`.
    fn visit<S: PropSink>(&self, sink: &mut S);
    /// Checks rules that involve several properties, after all were read.
    fn check(&self) -> Result<(), DecodeError> {
        Ok(())
    }
}

/// Something that lists properties to encode: every [`PropertySet`], and borrowed views such as a
/// delivery's PUBLISH properties ([`crate::PublishRef`]), which are encoded but never decoded.
pub(crate) trait VisitProps {
    /// Feeds every present property to `sink`, in the order they are encoded.
    fn visit_props<S: PropSink>(&self, sink: &mut S);
}

impl<P: PropertySet> VisitProps for P {
    fn visit_props<S: PropSink>(&self, sink: &mut S) {
        self.visit(sink);
    }
}

/// Decodes one property value whose type the identifier fixes.
fn value<'a>(src: &Bytes, id: u32, i: &'a [u8]) -> PResult<'a, Value> {
    use id::*;
    let Ok(id) = u8::try_from(id) else {
        return fail(DecodeError::UnknownProperty(0xFF));
    };
    match id {
        PAYLOAD_FORMAT_INDICATOR
        | REQUEST_PROBLEM_INFORMATION
        | REQUEST_RESPONSE_INFORMATION
        | MAXIMUM_QOS
        | RETAIN_AVAILABLE
        | WILDCARD_SUBSCRIPTION_AVAILABLE
        | SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | SHARED_SUBSCRIPTION_AVAILABLE => wire::u8(i).map(|(i, v)| (i, Value::Byte(v))),
        SERVER_KEEP_ALIVE | RECEIVE_MAXIMUM | TOPIC_ALIAS_MAXIMUM | TOPIC_ALIAS => {
            wire::u16(i).map(|(i, v)| (i, Value::U16(v)))
        }
        MESSAGE_EXPIRY_INTERVAL | SESSION_EXPIRY_INTERVAL | WILL_DELAY_INTERVAL | MAXIMUM_PACKET_SIZE => {
            wire::u32(i).map(|(i, v)| (i, Value::U32(v)))
        }
        SUBSCRIPTION_IDENTIFIER => wire::vbi(i).map(|(i, v)| (i, Value::U32(v))),
        CONTENT_TYPE
        | RESPONSE_TOPIC
        | ASSIGNED_CLIENT_IDENTIFIER
        | AUTHENTICATION_METHOD
        | RESPONSE_INFORMATION
        | SERVER_REFERENCE
        | REASON_STRING => wire::string(src, i).map(|(i, v)| (i, Value::Str(v))),
        CORRELATION_DATA | AUTHENTICATION_DATA => wire::binary(src, i).map(|(i, v)| (i, Value::Bin(v))),
        USER_PROPERTY => {
            let (i, k) = wire::string(src, i)?;
            let (i, v) = wire::string(src, i)?;
            Ok((i, Value::Pair((k, v))))
        }
        other => fail(DecodeError::UnknownProperty(other)),
    }
}

/// Parses a property length and the properties it covers into `P`.
pub(crate) fn parse<'a, P: PropertySet>(src: &Bytes, i: &'a [u8]) -> PResult<'a, P> {
    let (i, len) = wire::vbi(i)?;
    let (rest, mut block) = take(len)(i)?;
    let mut props = P::default();
    while !block.is_empty() {
        let (r, id) = wire::vbi(block)?;
        let (r, v) = value(src, id, r)?;
        block = r;
        // `value` rejected identifiers above 0xFF already.
        if let Err(e) = props.apply(id as u8, v) {
            return fail(e);
        }
    }
    if let Err(e) = props.check() {
        return fail(e);
    }
    Ok((rest, props))
}

/// Measures properties, remembering the first field that cannot be encoded.
struct LenSink {
    len: usize,
    err: Option<EncodeError>,
}

impl PropSink for LenSink {
    fn byte(&mut self, _: u8, _: u8) {
        self.len += 2;
    }
    fn u16(&mut self, _: u8, _: u16) {
        self.len += 3;
    }
    fn u32(&mut self, _: u8, _: u32) {
        self.len += 5;
    }
    fn vbi(&mut self, id: u8, v: u32) {
        if v as usize > MAX_VBI {
            self.err.get_or_insert(EncodeError::InvalidPropertyValue(id));
        }
        self.len += 1 + wire::vbi_len(v as usize);
    }
    fn field(&mut self, _: u8, v: &[u8]) {
        match wire::field_len(v) {
            Ok(n) => self.len += 1 + n,
            Err(e) => {
                self.err.get_or_insert(e);
            }
        }
    }
    fn pair(&mut self, k: &[u8], v: &[u8]) {
        self.field(id::USER_PROPERTY, k);
        self.len += wire::field_len(v).unwrap_or_else(|e| {
            self.err.get_or_insert(e);
            0
        });
    }
}

/// Writes properties into a buffer.
struct WriteSink<'b>(&'b mut BytesMut);

impl PropSink for WriteSink<'_> {
    fn byte(&mut self, id: u8, v: u8) {
        self.0.put_u8(id);
        self.0.put_u8(v);
    }
    fn u16(&mut self, id: u8, v: u16) {
        self.0.put_u8(id);
        self.0.put_u16(v);
    }
    fn u32(&mut self, id: u8, v: u32) {
        self.0.put_u8(id);
        self.0.put_u32(v);
    }
    fn vbi(&mut self, id: u8, v: u32) {
        self.0.put_u8(id);
        wire::put_vbi(self.0, v as usize);
    }
    fn field(&mut self, id: u8, v: &[u8]) {
        self.0.put_u8(id);
        wire::put_field(self.0, v);
    }
    fn pair(&mut self, k: &[u8], v: &[u8]) {
        self.field(id::USER_PROPERTY, k);
        wire::put_field(self.0, v);
    }
}

/// Size of the properties' content, without the property length in front.
pub(crate) fn content_len<P: VisitProps>(props: &P) -> Result<usize, EncodeError> {
    let mut sink = LenSink { len: 0, err: None };
    props.visit_props(&mut sink);
    match sink.err {
        Some(e) => Err(e),
        None if sink.len > MAX_VBI => Err(EncodeError::PacketTooLarge(sink.len)),
        None => Ok(sink.len),
    }
}

/// Size of the property length plus the properties.
pub(crate) fn encoded_len<P: VisitProps>(props: &P) -> Result<usize, EncodeError> {
    let n = content_len(props)?;
    Ok(wire::vbi_len(n) + n)
}

/// Writes the property length and the properties (sizes checked by [`encoded_len`] before).
pub(crate) fn write<P: VisitProps>(props: &P, buf: &mut BytesMut) {
    let mut sink = LenSink { len: 0, err: None };
    props.visit_props(&mut sink);
    wire::put_vbi(buf, sink.len);
    props.visit_props(&mut WriteSink(buf));
}
