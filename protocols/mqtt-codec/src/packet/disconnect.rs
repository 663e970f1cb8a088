//! DISCONNECT (3.14) and AUTH (3.15).

use crate::reason::ReasonCode;
use crate::types::{ByteStr, UserProperty};
use bytes::Bytes;

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
        Disconnect { reason_code, properties: DisconnectProperties::default() }
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
