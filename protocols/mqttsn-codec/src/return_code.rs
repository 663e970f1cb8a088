//! The ReturnCode field of CONNACK, REGACK, PUBACK, SUBACK and the will responses.

/// Outcome reported by the gateway (MQTT-SN 1.2 §5.3.10).
///
/// Unknown values are preserved as [`ReturnCode::Other`] rather than
/// rejected, so a dissector or a newer peer's reply still decodes; the
/// conversion to and from `u8` is lossless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnCode {
    /// 0x00: accepted.
    Accepted,
    /// 0x01: rejected, congestion.
    Congestion,
    /// 0x02: rejected, invalid topic id.
    InvalidTopicId,
    /// 0x03: rejected, not supported.
    NotSupported,
    /// Any reserved value (0x04..=0xFF), kept as received.
    Other(u8),
}

impl ReturnCode {
    /// Whether the code signals success.
    pub const fn is_accepted(self) -> bool {
        matches!(self, Self::Accepted)
    }
}

impl From<u8> for ReturnCode {
    fn from(v: u8) -> Self {
        match v {
            0x00 => Self::Accepted,
            0x01 => Self::Congestion,
            0x02 => Self::InvalidTopicId,
            0x03 => Self::NotSupported,
            other => Self::Other(other),
        }
    }
}

impl From<ReturnCode> for u8 {
    fn from(rc: ReturnCode) -> Self {
        match rc {
            ReturnCode::Accepted => 0x00,
            ReturnCode::Congestion => 0x01,
            ReturnCode::InvalidTopicId => 0x02,
            ReturnCode::NotSupported => 0x03,
            ReturnCode::Other(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_octet_round_trips() {
        for v in 0..=u8::MAX {
            assert_eq!(u8::from(ReturnCode::from(v)), v);
        }
        assert_eq!(ReturnCode::from(0x07), ReturnCode::Other(0x07));
        assert!(ReturnCode::Accepted.is_accepted());
    }
}
