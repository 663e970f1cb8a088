//! A session's outbound queue: deliveries waiting for the client's in-flight window (or for the client to
//! come back), bounded by count and bytes.

use super::Delivery;
use crate::config::QueueDropPolicy;
use crate::persistence::CommitTicket;
use std::collections::VecDeque;
use tern_mqtt_codec::QoS;

/// Queue storage (entries) kept once the queue empties; more is released.
const RETAINED_CAPACITY: usize = 64;

/// What happened to a delivery offered to a full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Queued; nothing dropped.
    Queued,
    /// The new delivery was dropped (QoS 0 when full, or QoS 1/2 under `DropNew`).
    DroppedNew,
    /// Queued, and the oldest queued delivery was dropped to make room (`DropOldest`).
    DroppedOldest,
}

/// FIFO of deliveries with its byte total; the bytes are the shared message's size, not copies. Each
/// delivery carries its durable sequence number (0 = not in the store).
#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    items: VecDeque<Queued>,
    bytes: usize,
}

/// One queued delivery: its durable sequence number (0 = not stored) and the commit it waits for.
#[derive(Debug)]
struct Queued {
    seq: u64,
    delivery: Delivery,
    /// Not sent before this completes: the message is not yet durable.
    commit: Option<CommitTicket>,
}

/// The limits a queue enforces, copied from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueLimits {
    pub(crate) max_messages: usize,
    pub(crate) max_bytes: usize,
    pub(crate) policy: QueueDropPolicy,
}

impl OutQueue {
    /// Queued deliveries.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Bytes queued (the shared messages' sizes).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// True at or above 3/4 of either limit: publishers feeding this queue are read more slowly.
    pub(crate) fn above_high_water(&self, limits: &QueueLimits) -> bool {
        self.items.len() >= limits.max_messages - limits.max_messages / 4
            || self.bytes >= limits.max_bytes - limits.max_bytes / 4
    }

    /// True when `extra` more bytes (or one more delivery) would pass a limit.
    pub(crate) fn is_full(&self, extra: usize, limits: &QueueLimits) -> bool {
        self.items.len() >= limits.max_messages || self.bytes + extra > limits.max_bytes
    }

    /// Appends a delivery, applying the limits: QoS 0 is dropped when full, QoS 1/2 per policy. The
    /// sequence numbers of stored deliveries dropped to make room are added to `dropped`.
    pub(crate) fn push(
        &mut self,
        seq: u64,
        delivery: Delivery,
        commit: Option<CommitTicket>,
        limits: &QueueLimits,
        dropped: &mut Vec<u64>,
    ) -> Enqueued {
        let size = delivery.msg.size();
        let item = Queued {
            seq,
            delivery,
            commit,
        };
        if !self.is_full(size, limits) {
            self.bytes += size;
            self.items.push_back(item);
            return Enqueued::Queued;
        }
        if item.delivery.qos == QoS::AtMostOnce || limits.policy == QueueDropPolicy::DropNew {
            return Enqueued::DroppedNew;
        }
        // DropOldest: make room, but never loop forever on a message larger than the whole byte budget.
        while !self.items.is_empty() && self.is_full(size, limits) {
            if let Some((s, _)) = self.pop().filter(|(s, _)| *s != 0) {
                dropped.push(s);
            }
        }
        if self.is_full(size, limits) {
            return Enqueued::DroppedNew;
        }
        self.bytes += size;
        self.items.push_back(item);
        Enqueued::DroppedOldest
    }

    /// Puts a delivery back at the head (a shared-group message handed over from another member, or one
    /// taken back from the in-flight window); ignores the limits, as it was already admitted once.
    pub(crate) fn push_front(&mut self, seq: u64, delivery: Delivery) {
        self.bytes += delivery.msg.size();
        self.items.push_front(Queued {
            seq,
            delivery,
            commit: None,
        });
    }

    /// Appends a delivery read back from the store; ignores the limits, as it was admitted once.
    pub(crate) fn push_loaded(&mut self, seq: u64, delivery: Delivery) {
        self.bytes += delivery.msg.size();
        self.items.push_back(Queued {
            seq,
            delivery,
            commit: None,
        });
    }

    /// Takes the oldest delivery with its sequence number.
    pub(crate) fn pop(&mut self) -> Option<(u64, Delivery)> {
        let q = self.items.pop_front()?;
        self.bytes = self.bytes.saturating_sub(q.delivery.msg.size());
        // A drained backlog gives its storage back: 500 subscribers that once queued 1,000 deliveries each
        // would otherwise keep 32 MB between bursts. Small bursts keep theirs and do not reallocate.
        if self.items.is_empty() && self.items.capacity() > RETAINED_CAPACITY {
            self.items = VecDeque::new();
        }
        Some((q.seq, q.delivery))
    }

    /// The oldest delivery, without taking it.
    pub(crate) fn front(&self) -> Option<&Delivery> {
        self.items.front().map(|q| &q.delivery)
    }

    /// True if the oldest delivery's message could not be made durable (its publisher was refused).
    pub(crate) fn front_failed(&self) -> bool {
        self.items
            .front()
            .and_then(|q| q.commit.as_ref())
            .is_some_and(CommitTicket::is_failed)
    }

    /// The commit the oldest delivery still waits for, if any: nothing behind it is sent before it.
    pub(crate) fn front_pending(&self) -> Option<&CommitTicket> {
        self.items
            .front()
            .and_then(|q| q.commit.as_ref())
            .filter(|t| !t.is_done())
    }

    /// Removes and returns every delivery matching `pred`, keeping the rest in order.
    pub(crate) fn drain_where(
        &mut self,
        mut pred: impl FnMut(&Delivery) -> bool,
        out: &mut Vec<(u64, Delivery)>,
    ) {
        let mut kept = VecDeque::with_capacity(self.items.len());
        while let Some(q) = self.items.pop_front() {
            if pred(&q.delivery) {
                self.bytes = self.bytes.saturating_sub(q.delivery.msg.size());
                out.push((q.seq, q.delivery));
            } else {
                kept.push_back(q);
            }
        }
        self.items = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use std::sync::Arc;

    fn d(qos: QoS, payload: &'static str) -> Delivery {
        Delivery {
            msg: Arc::new(Message {
                topic: "t".into(),
                payload: bytes::Bytes::from_static(payload.as_bytes()),
                qos,
                retain: false,
                properties: Default::default(),
                expires_at: None,
                publisher: None,
            }),
            qos,
            retain: false,
            subscription_ids: Default::default(),
            shared: None,
        }
    }

    fn limits(policy: QueueDropPolicy) -> QueueLimits {
        QueueLimits {
            max_messages: 2,
            max_bytes: 100,
            policy,
        }
    }

    #[test]
    fn qos0_dropped_when_full_whatever_the_policy() {
        let mut q = OutQueue::default();
        let l = limits(QueueDropPolicy::DropOldest);
        let mut dropped = Vec::new();
        assert_eq!(
            q.push(1, d(QoS::AtLeastOnce, "a"), None, &l, &mut Vec::new()),
            Enqueued::Queued
        );
        assert_eq!(
            q.push(2, d(QoS::AtLeastOnce, "b"), None, &l, &mut Vec::new()),
            Enqueued::Queued
        );
        assert_eq!(
            q.push(0, d(QoS::AtMostOnce, "c"), None, &l, &mut Vec::new()),
            Enqueued::DroppedNew
        );
        assert_eq!(
            q.push(4, d(QoS::AtLeastOnce, "d"), None, &l, &mut dropped),
            Enqueued::DroppedOldest
        );
        assert_eq!(dropped, vec![1]);
        assert_eq!(&q.pop().unwrap().1.msg.payload[..], b"b");
        assert_eq!(&q.pop().unwrap().1.msg.payload[..], b"d");
        assert_eq!(q.bytes, 0);
    }

    #[test]
    fn message_larger_than_the_byte_budget_is_refused() {
        let mut q = OutQueue::default();
        let l = QueueLimits {
            max_messages: 10,
            max_bytes: 4,
            policy: QueueDropPolicy::DropOldest,
        };
        assert_eq!(
            q.push(1, d(QoS::AtLeastOnce, "a"), None, &l, &mut Vec::new()),
            Enqueued::Queued
        );
        assert_eq!(
            q.push(2, d(QoS::AtLeastOnce, "too long"), None, &l, &mut Vec::new()),
            Enqueued::DroppedNew
        );
        assert_eq!(q.len(), 0, "room was made, in vain");
    }

    #[test]
    fn drain_keeps_order_and_bytes() {
        let mut q = OutQueue::default();
        let l = limits(QueueDropPolicy::DropNew);
        q.push(0, d(QoS::AtMostOnce, "a"), None, &l, &mut Vec::new());
        q.push(2, d(QoS::AtLeastOnce, "b"), None, &l, &mut Vec::new());
        let mut out = Vec::new();
        q.drain_where(|d| d.qos == QoS::AtMostOnce, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(q.len(), 1);
        assert_eq!(q.bytes, 2);
    }
}
