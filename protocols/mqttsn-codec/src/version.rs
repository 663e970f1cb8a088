//! Protocol versions the codec speaks on the wire.

/// An MQTT-SN protocol version.
///
/// The message model ([`crate::Message`]) is shared between versions; the
/// version picks the wire layout (module [`crate::v1_2`] today, a `v2_0`
/// sibling later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// MQTT-SN 1.2 (protocol id 0x01 in CONNECT).
    #[default]
    V1_2,
}

impl ProtocolVersion {
    /// The ProtocolId octet sent in CONNECT for this version.
    pub const fn protocol_id(self) -> u8 {
        match self {
            Self::V1_2 => 0x01,
        }
    }

    /// The version a CONNECT's ProtocolId octet names, if this codec speaks it.
    ///
    /// A gateway peeks at this to pick the decoder for a new peer.
    pub const fn from_protocol_id(id: u8) -> Option<Self> {
        match id {
            0x01 => Some(Self::V1_2),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_id_round_trips() {
        assert_eq!(ProtocolVersion::V1_2.protocol_id(), 0x01);
        assert_eq!(
            ProtocolVersion::from_protocol_id(0x01),
            Some(ProtocolVersion::V1_2)
        );
        assert_eq!(ProtocolVersion::from_protocol_id(0x02), None);
    }
}
