//! Session lifecycle: CONNECT, PINGREQ, DISCONNECT (CONNACK and PINGRESP have no struct).

use crate::utf8::Utf8Bytes;
use crate::version::ProtocolVersion;

/// CONNECT (§5.4.4): a client opens (or resumes) a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connect {
    /// The client wants to send a will (the gateway will ask with WILLTOPICREQ).
    pub will: bool,
    /// Start a fresh session instead of resuming one.
    pub clean_session: bool,
    /// Protocol version from the ProtocolId field.
    pub version: ProtocolVersion,
    /// Keep-alive period in seconds.
    pub duration: u16,
    /// Client identifier (the spec asks for 1 to 23 characters; not enforced here).
    pub client_id: Utf8Bytes,
}

/// PINGREQ (§5.4.19): keep-alive, or a sleeping client asking for buffered messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PingReq {
    /// Client id, present only when a sleeping client wakes up.
    /// `Some` of an empty id encodes the same as `None`.
    pub client_id: Option<Utf8Bytes>,
}

/// DISCONNECT (§5.4.21): close the session, or go to sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Disconnect {
    /// Sleep duration in seconds; present only when a client goes to sleep.
    pub duration: Option<u16>,
}
