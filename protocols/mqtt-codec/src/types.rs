//! Small value types shared by every packet: protocol level, QoS, packet ids, UTF-8 strings.

use bytes::Bytes;
use bytestring::ByteString;
use std::fmt;
use std::num::NonZeroU16;
use std::ops::Deref;

/// Packet identifier of a QoS 1/2 PUBLISH, SUBSCRIBE or UNSUBSCRIBE; zero is not a valid id ([MQTT-2.2.1-3]).
pub type PacketId = NonZeroU16;

/// The protocol level a connection speaks; chosen by CONNECT and fixed for the connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1: protocol name `MQIsdp`, level 3.
    V3_1,
    /// MQTT 3.1.1: protocol name `MQTT`, level 4.
    V3_1_1,
    /// MQTT 5.0: protocol name `MQTT`, level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte sent in CONNECT.
    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V3_1 => 3,
            ProtocolVersion::V3_1_1 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// True for MQTT 5.0, the only level with properties and reason codes on every ack.
    pub fn is_v5(self) -> bool {
        self == ProtocolVersion::V5
    }
}

/// Quality of service of a message or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum QoS {
    /// QoS 0: delivered at most once, no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: delivered at least once, acknowledged by PUBACK.
    AtLeastOnce = 1,
    /// QoS 2: delivered exactly once, PUBREC / PUBREL / PUBCOMP handshake.
    ExactlyOnce = 2,
}

impl QoS {
    /// Parses the two QoS bits; 3 is not a QoS ([MQTT-3.3.1-4]).
    pub fn from_u8(v: u8) -> Option<QoS> {
        match v {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// A UTF-8 string as carried on the wire, kept as a slice of the received buffer (no copy).
///
/// The codec only builds one from bytes that passed the spec's checks (valid UTF-8, no U+0000,
/// [MQTT-1.5.4-1], [MQTT-1.5.4-2]). The check runs once, at construction: `Deref<Target = str>` is free,
/// which matters because the broker reads topic names many times per message.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ByteStr(ByteString);

impl ByteStr {
    /// An empty string.
    pub const fn new() -> ByteStr {
        ByteStr(ByteString::new())
    }

    /// Wraps bytes that are valid UTF-8 without U+0000; `None` otherwise.
    pub fn from_utf8(bytes: Bytes) -> Option<ByteStr> {
        let s = ByteString::try_from(bytes).ok()?;
        if s.contains('\0') {
            return None;
        }
        Some(ByteStr(s))
    }

    /// Copies a static string in (for strings the program itself makes, not peer data).
    pub fn from_static(s: &'static str) -> ByteStr {
        ByteStr(ByteString::from_static(s))
    }

    /// The string as `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying bytes, sharing the buffer.
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// Consumes the string, returning its bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }
}

impl Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> ByteStr {
        ByteStr(ByteString::from(s))
    }
}

impl From<&str> for ByteStr {
    fn from(s: &str) -> ByteStr {
        ByteStr(ByteString::from(s))
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user property: a name/value pair passed through by the broker unchanged, in order.
pub type UserProperty = (ByteStr, ByteStr);
