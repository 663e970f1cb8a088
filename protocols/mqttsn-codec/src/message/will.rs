//! Will topic and will message, as sent at connect time and in updates.

use crate::qos::QoS;
use crate::utf8::Utf8Bytes;
use bytes::Bytes;
use std::fmt;

/// Body of a non-empty WILLTOPIC (§5.4.7) or WILLTOPICUPD (§5.4.22).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WillTopic {
    /// QoS the will is published with.
    pub qos: QoS,
    /// Whether the will is retained.
    pub retain: bool,
    /// Topic the will is published to.
    pub topic: Utf8Bytes,
}

/// Body of WILLMSG (§5.4.9) or WILLMSGUPD (§5.4.23).
///
/// `Debug` shows only the length: will messages are application data.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct WillMsg {
    /// The will payload, a slice of the datagram it was decoded from.
    pub message: Bytes,
}

impl fmt::Debug for WillMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WillMsg")
            .field("message_len", &self.message.len())
            .finish()
    }
}
