//! The Flags octet (§5.3.4): DUP | QoS(2) | Retain | Will | CleanSession | TopicIdType(2).

use crate::error::DecodeError;
use crate::qos::QoS;
use crate::topic::TopicIdType;

/// Bit 7: retransmission.
const DUP: u8 = 0x80;
/// Shift of the two QoS bits (6..5).
const QOS_SHIFT: u8 = 5;
/// Bit 4: retain.
const RETAIN: u8 = 0x10;
/// Bit 3: will follows.
const WILL: u8 = 0x08;
/// Bit 2: clean session.
const CLEAN_SESSION: u8 = 0x04;

/// A Flags octet. Each message reads only the bits its layout defines and
/// ignores the rest, as the spec marks them "not used".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags(pub(crate) u8);

impl Flags {
    /// DUP bit.
    pub(crate) fn dup(self) -> bool {
        self.0 & DUP != 0
    }
    /// QoS bits.
    pub(crate) fn qos(self) -> QoS {
        QoS::from_bits(self.0 >> QOS_SHIFT)
    }
    /// Retain bit.
    pub(crate) fn retain(self) -> bool {
        self.0 & RETAIN != 0
    }
    /// Will bit.
    pub(crate) fn will(self) -> bool {
        self.0 & WILL != 0
    }
    /// CleanSession bit.
    pub(crate) fn clean_session(self) -> bool {
        self.0 & CLEAN_SESSION != 0
    }
    /// TopicIdType bits; 0b11 is reserved.
    pub(crate) fn topic_id_type(self) -> Result<TopicIdType, DecodeError> {
        TopicIdType::from_bits(self.0).ok_or(DecodeError::ReservedTopicIdType)
    }

    /// Sets DUP.
    pub(crate) fn with_dup(self, on: bool) -> Self {
        Self(self.0 | if on { DUP } else { 0 })
    }
    /// Sets the QoS bits.
    pub(crate) fn with_qos(self, qos: QoS) -> Self {
        Self(self.0 | (qos.bits() << QOS_SHIFT))
    }
    /// Sets Retain.
    pub(crate) fn with_retain(self, on: bool) -> Self {
        Self(self.0 | if on { RETAIN } else { 0 })
    }
    /// Sets Will.
    pub(crate) fn with_will(self, on: bool) -> Self {
        Self(self.0 | if on { WILL } else { 0 })
    }
    /// Sets CleanSession.
    pub(crate) fn with_clean_session(self, on: bool) -> Self {
        Self(self.0 | if on { CLEAN_SESSION } else { 0 })
    }
    /// Sets the TopicIdType bits.
    pub(crate) fn with_topic_id_type(self, t: TopicIdType) -> Self {
        Self(self.0 | t.bits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_positions_match_spec() {
        let f = Flags::default()
            .with_dup(true)
            .with_qos(QoS::MinusOne)
            .with_retain(true)
            .with_will(true)
            .with_clean_session(true)
            .with_topic_id_type(TopicIdType::Short);
        assert_eq!(f.0, 0b1111_1110);
        assert!(f.dup() && f.retain() && f.will() && f.clean_session());
        assert_eq!(f.qos(), QoS::MinusOne);
        assert_eq!(f.topic_id_type(), Ok(TopicIdType::Short));
        assert_eq!(Flags(0b11).topic_id_type(), Err(DecodeError::ReservedTopicIdType));
        assert_eq!(Flags(0b0010_0000).qos(), QoS::AtLeastOnce);
    }
}
