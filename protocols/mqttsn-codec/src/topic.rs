//! How a message names its topic: the TopicIdType flag bits and the typed topics they select.

use crate::utf8::Utf8Bytes;

/// The TopicIdType flag bits (MQTT-SN 1.2 §5.3.4); 0b11 is reserved and
/// rejected by the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicIdType {
    /// 0b00: a topic id registered with REGISTER (or, in SUBSCRIBE, a topic name).
    Normal,
    /// 0b01: a predefined topic id, agreed out of band.
    Predefined,
    /// 0b10: a two-character short topic name.
    Short,
}

impl TopicIdType {
    /// The two flag bits for this type.
    pub const fn bits(self) -> u8 {
        match self {
            Self::Normal => 0b00,
            Self::Predefined => 0b01,
            Self::Short => 0b10,
        }
    }

    /// The type named by the low two bits, or `None` for reserved 0b11.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        match bits & 0b11 {
            0b00 => Some(Self::Normal),
            0b01 => Some(Self::Predefined),
            0b10 => Some(Self::Short),
            _ => None,
        }
    }
}

/// The topic of a PUBLISH: always two octets on the wire, read per TopicIdType.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// A normal topic id handed out by REGACK/REGISTER.
    Id(u16),
    /// A predefined topic id.
    Predefined(u16),
    /// A short topic name of exactly two octets.
    Short([u8; 2]),
}

impl Topic {
    /// The TopicIdType bits this topic is sent with.
    pub const fn id_type(&self) -> TopicIdType {
        match self {
            Self::Id(_) => TopicIdType::Normal,
            Self::Predefined(_) => TopicIdType::Predefined,
            Self::Short(_) => TopicIdType::Short,
        }
    }

    /// The two octets of the TopicId field.
    pub const fn to_wire(&self) -> [u8; 2] {
        match self {
            Self::Id(id) | Self::Predefined(id) => id.to_be_bytes(),
            Self::Short(name) => *name,
        }
    }

    /// Reads the TopicId field as the given type.
    pub const fn from_wire(id_type: TopicIdType, raw: [u8; 2]) -> Self {
        match id_type {
            TopicIdType::Normal => Self::Id(u16::from_be_bytes(raw)),
            TopicIdType::Predefined => Self::Predefined(u16::from_be_bytes(raw)),
            TopicIdType::Short => Self::Short(raw),
        }
    }
}

/// The topic of a SUBSCRIBE or UNSUBSCRIBE.
///
/// Unlike PUBLISH, TopicIdType 0b00 here means a full topic name (which may
/// contain `+`/`#` wildcards), not a registered id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TopicFilter {
    /// A topic name or filter, sent as text (TopicIdType 0b00).
    Name(Utf8Bytes),
    /// A predefined topic id (TopicIdType 0b01).
    Predefined(u16),
    /// A two-character short topic name (TopicIdType 0b10).
    Short([u8; 2]),
}

impl TopicFilter {
    /// The TopicIdType bits this filter is sent with.
    pub const fn id_type(&self) -> TopicIdType {
        match self {
            Self::Name(_) => TopicIdType::Normal,
            Self::Predefined(_) => TopicIdType::Predefined,
            Self::Short(_) => TopicIdType::Short,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_wire_forms() {
        assert_eq!(Topic::Short(*b"ab").to_wire(), *b"ab");
        assert_eq!(Topic::Id(0x1234).to_wire(), [0x12, 0x34]);
        assert_eq!(
            Topic::from_wire(TopicIdType::Predefined, [0, 7]),
            Topic::Predefined(7)
        );
        assert_eq!(TopicIdType::from_bits(0b11), None);
        for t in [TopicIdType::Normal, TopicIdType::Predefined, TopicIdType::Short] {
            assert_eq!(TopicIdType::from_bits(t.bits()), Some(t));
        }
    }
}
