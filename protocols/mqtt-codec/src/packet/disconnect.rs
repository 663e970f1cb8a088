//! DISCONNECT (3.14) and AUTH (3.15).

use super::PacketType;
use crate::error::{DecodeError, EncodeError};
use crate::properties::{self, PropSink, PropertySet, Value, id, once};
use crate::reason::ReasonCode;
use crate::types::{ByteStr, ProtocolVersion, UserProperty};
use crate::wire::{self, PResult, fail, finish};
use bytes::{BufMut, Bytes, BytesMut};

/// DISCONNECT: the last packet either side sends; on 3.x it has no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// Why (5.0); NormalDisconnection on 3.x.
    pub reason_code: ReasonCode,
    /// DISCONNECT properties (5.0).
    pub properties: DisconnectProperties,
}

impl Disconnect {
    /// A DISCONNECT with the given reason and no properties.
    pub fn new(reason_code: ReasonCode) -> Disconnect {
        Disconnect {
            reason_code,
            properties: DisconnectProperties::default(),
        }
    }
}

/// DISCONNECT properties (3.14.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DisconnectProperties {
    /// Session Expiry Interval (client to server only).
    pub session_expiry_interval: Option<u32>,
    /// Reason String.
    pub reason_string: Option<ByteStr>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Server Reference (server to client).
    pub server_reference: Option<ByteStr>,
}

/// AUTH: one step of enhanced authentication (5.0 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// Success, ContinueAuthentication or ReAuthenticate.
    pub reason_code: ReasonCode,
    /// AUTH properties.
    pub properties: AuthProperties,
}

/// AUTH properties (3.15.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthProperties {
    /// Authentication Method; required when the packet has properties.
    pub authentication_method: Option<ByteStr>,
    /// Authentication Data (binary).
    pub authentication_data: Option<Bytes>,
    /// Reason String.
    pub reason_string: Option<ByteStr>,
    /// User properties, in order.
    pub user_properties: Vec<UserProperty>,
}

/// Parses `[reason code [properties]]` of DISCONNECT and AUTH: an empty body means `absent`, a one-byte body a
/// reason code without properties.
fn parse_reason_and_props<'a, P: PropertySet>(
    src: &Bytes,
    i: &'a [u8],
    packet: PacketType,
    absent: ReasonCode,
) -> PResult<'a, (ReasonCode, P)> {
    if i.is_empty() {
        return Ok((i, (absent, P::default())));
    }
    let (i, code) = wire::u8(i)?;
    let Some(reason) = ReasonCode::from_wire(packet, code) else {
        return fail(DecodeError::InvalidReasonCode { packet, code });
    };
    let (i, props) = if i.is_empty() {
        (i, P::default())
    } else {
        properties::parse(src, i)?
    };
    Ok((i, (reason, props)))
}

/// Size of `[reason code [properties]]`, omitting what the short forms allow.
fn reason_and_props_len<P: PropertySet>(
    reason: ReasonCode,
    props: &P,
    packet: PacketType,
) -> Result<usize, EncodeError> {
    if !reason.is_valid_for(packet) {
        return Err(EncodeError::InvalidReasonCode { packet, code: reason });
    }
    Ok(match properties::content_len(props)? {
        0 if reason.value() == 0 => 0,
        0 => 1,
        n => 1 + wire::vbi_len(n) + n,
    })
}

/// Writes `[reason code [properties]]`; `len` is what [`reason_and_props_len`] returned.
fn write_reason_and_props<P: PropertySet>(reason: ReasonCode, props: &P, len: usize, buf: &mut BytesMut) {
    if len > 0 {
        buf.put_u8(reason.value());
    }
    if len > 1 {
        properties::write(props, buf);
    }
}

impl Disconnect {
    /// Decodes a DISCONNECT body; 3.x DISCONNECT has none (the caller rejects a non-empty one).
    pub(crate) fn decode(src: &Bytes, version: ProtocolVersion) -> Result<Disconnect, DecodeError> {
        if !version.is_v5() {
            return match src.len() {
                0 => Ok(Disconnect::new(ReasonCode::NormalDisconnection)),
                n => Err(DecodeError::TrailingBytes(n)),
            };
        }
        let (reason_code, properties) = finish(parse_reason_and_props(
            src,
            src,
            PacketType::Disconnect,
            ReasonCode::NormalDisconnection,
        ))?;
        Ok(Disconnect {
            reason_code,
            properties,
        })
    }

    /// Size of the body (0 on 3.x, where the reason and properties cannot be sent).
    pub(crate) fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(0);
        }
        reason_and_props_len(self.reason_code, &self.properties, PacketType::Disconnect)
    }

    /// Writes the body; `len` is what [`Disconnect::body_len`] returned.
    pub(crate) fn write_body(&self, len: usize, buf: &mut BytesMut) {
        write_reason_and_props(self.reason_code, &self.properties, len, buf);
    }
}

impl Auth {
    /// An AUTH with the given reason and method, the usual shape of an authentication step.
    pub fn new(reason_code: ReasonCode, method: ByteStr, data: Option<Bytes>) -> Auth {
        Auth {
            reason_code,
            properties: AuthProperties {
                authentication_method: Some(method),
                authentication_data: data,
                ..AuthProperties::default()
            },
        }
    }

    /// Decodes an AUTH body (5.0 only; the caller rejects AUTH on 3.x). Unless the body is empty (Success, no
    /// properties), the Authentication Method is required.
    pub(crate) fn decode(src: &Bytes) -> Result<Auth, DecodeError> {
        let (reason_code, properties): (_, AuthProperties) = finish(parse_reason_and_props(
            src,
            src,
            PacketType::Auth,
            ReasonCode::Success,
        ))?;
        if !src.is_empty() && properties.authentication_method.is_none() {
            return Err(DecodeError::AuthenticationMethodMissing);
        }
        Ok(Auth {
            reason_code,
            properties,
        })
    }

    /// Size of the body.
    pub(crate) fn body_len(&self) -> Result<usize, EncodeError> {
        reason_and_props_len(self.reason_code, &self.properties, PacketType::Auth)
    }

    /// Writes the body; `len` is what [`Auth::body_len`] returned.
    pub(crate) fn write_body(&self, len: usize, buf: &mut BytesMut) {
        write_reason_and_props(self.reason_code, &self.properties, len, buf);
    }
}

impl PropertySet for DisconnectProperties {
    const CONTEXT: &'static str = "DISCONNECT";

    fn apply(&mut self, pid: u8, v: Value) -> Result<(), DecodeError> {
        match pid {
            id::SESSION_EXPIRY_INTERVAL => once(&mut self.session_expiry_interval, v.u32()?, pid),
            id::REASON_STRING => once(&mut self.reason_string, v.str()?, pid),
            id::USER_PROPERTY => {
                self.user_properties.push(v.pair()?);
                Ok(())
            }
            id::SERVER_REFERENCE => once(&mut self.server_reference, v.str()?, pid),
            _ => Err(DecodeError::PropertyNotAllowed {
                id: pid,
                packet: Self::CONTEXT,
            }),
        }
    }

    fn visit<S: PropSink>(&self, s: &mut S) {
        s.opt_u32(id::SESSION_EXPIRY_INTERVAL, self.session_expiry_interval);
        s.opt_str(id::REASON_STRING, self.reason_string.as_ref());
        s.users(&self.user_properties);
        s.opt_str(id::SERVER_REFERENCE, self.server_reference.as_ref());
    }
}

impl PropertySet for AuthProperties {
    const CONTEXT: &'static str = "AUTH";

    fn apply(&mut self, pid: u8, v: Value) -> Result<(), DecodeError> {
        match pid {
            id::AUTHENTICATION_METHOD => once(&mut self.authentication_method, v.str()?, pid),
            id::AUTHENTICATION_DATA => once(&mut self.authentication_data, v.bin()?, pid),
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
        s.opt_str(id::AUTHENTICATION_METHOD, self.authentication_method.as_ref());
        s.opt_bin(id::AUTHENTICATION_DATA, self.authentication_data.as_ref());
        s.opt_str(id::REASON_STRING, self.reason_string.as_ref());
        s.users(&self.user_properties);
    }
}
