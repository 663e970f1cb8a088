//! The tables and the format version. Keys order each session's rows, so a range scan returns a queue in
//! delivery order.

use redb::TableDefinition;

/// `"format"` → the store's format version.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// client id → session row.
pub(crate) const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// (client id, sequence number) → queue row (queued or in flight).
pub(crate) const QUEUE: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("queue");
/// message key (the sequence number of its first stored copy) → message row: a message several durable
/// sessions take, stored once with a count of the queue rows that refer to it (format 2).
pub(crate) const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
/// (client id, packet id) → () : inbound QoS 2 ids awaiting PUBREL.
pub(crate) const INBOUND: TableDefinition<(&str, u16), ()> = TableDefinition::new("inbound_qos2");
/// topic → retained row.
pub(crate) const RETAINED: TableDefinition<&str, &[u8]> = TableDefinition::new("retained");
/// Key of the format version in [`META`].
pub(crate) const FORMAT_KEY: &str = "format";
