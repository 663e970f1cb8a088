//! Quality of service levels, including MQTT-SN's QoS -1.

/// Delivery guarantee of a PUBLISH, subscription or will.
///
/// MQTT-SN adds [`QoS::MinusOne`]: publish without a connection, to a
/// predefined topic id or short topic name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum QoS {
    /// QoS 0: fire and forget.
    #[default]
    AtMostOnce,
    /// QoS 1: acknowledged, may duplicate.
    AtLeastOnce,
    /// QoS 2: exactly once, four-way handshake.
    ExactlyOnce,
    /// QoS -1: connectionless publish (encoded as 0b11).
    MinusOne,
}

impl QoS {
    /// The two flag bits (before shifting into place) for this level.
    pub const fn bits(self) -> u8 {
        match self {
            Self::AtMostOnce => 0b00,
            Self::AtLeastOnce => 0b01,
            Self::ExactlyOnce => 0b10,
            Self::MinusOne => 0b11,
        }
    }

    /// The level named by two flag bits; only the low two bits are read.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0b00 => Self::AtMostOnce,
            0b01 => Self::AtLeastOnce,
            0b10 => Self::ExactlyOnce,
            _ => Self::MinusOne,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        for b in 0..4u8 {
            assert_eq!(QoS::from_bits(b).bits(), b);
        }
        assert_eq!(QoS::MinusOne.bits(), 0b11);
    }
}
