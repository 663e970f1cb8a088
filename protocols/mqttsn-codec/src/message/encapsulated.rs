//! The forwarder's Encapsulated Message envelope (§5.5).

use super::Message;
use bytes::Bytes;

/// Encapsulated Message (MsgType 0xFE): a forwarder wraps a client's
/// message with the client's wireless node id.
///
/// The inner message may not itself be an encapsulation: the decoder
/// rejects nesting (it also bounds recursion), so encoding a nested value
/// produces bytes that do not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encapsulated {
    /// Broadcast radius from the Ctrl octet; only the low two bits are sent.
    pub radius: u8,
    /// Address of the client on the wireless network, opaque to the gateway.
    pub wireless_node_id: Bytes,
    /// The client's message.
    pub message: Box<Message>,
}
