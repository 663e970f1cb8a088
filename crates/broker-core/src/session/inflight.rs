//! Outbound QoS 1/2 deliveries the client has not finished acknowledging, in packet-id assignment order,
//! and the packet identifier allocator that never hands out an id still in flight ([MQTT-2.2.1-3]).

use super::Delivery;
use std::collections::VecDeque;
use tern_mqtt_codec::PacketId;

/// Where an outbound QoS 1/2 delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// QoS 1 PUBLISH sent, waiting for PUBACK.
    Ack,
    /// QoS 2 PUBLISH sent, waiting for PUBREC.
    Rec,
    /// PUBREL sent, waiting for PUBCOMP.
    Comp,
}

/// One in-flight delivery.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) packet_id: PacketId,
    /// Durable sequence number (0 = not in the store).
    pub(crate) seq: u64,
    pub(crate) delivery: Delivery,
    pub(crate) stage: Stage,
    /// Must be sent again (DUP PUBLISH or PUBREL) on the next pull: set when a connection resumes the session.
    pub(crate) resend: bool,
}

/// The in-flight window of one session.
#[derive(Debug, Default)]
pub(crate) struct Inflight {
    entries: VecDeque<Entry>,
    /// Last id handed out; allocation continues after it so ids are reused as late as possible.
    last_id: u16,
}

impl Inflight {
    /// Deliveries in flight.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn position(&self, id: PacketId) -> Option<usize> {
        self.entries.iter().position(|e| e.packet_id == id)
    }

    /// Highest durable sequence number in flight (0 if none).
    pub(crate) fn max_seq(&self) -> u64 {
        self.entries.iter().map(|e| e.seq).max().unwrap_or(0)
    }

    /// The durable sequence number of the delivery in flight as `id` (0 if it is not stored).
    pub(crate) fn seq_of(&self, id: PacketId) -> u64 {
        self.entries
            .iter()
            .find(|e| e.packet_id == id)
            .map_or(0, |e| e.seq)
    }

    /// A packet id not in flight, or `None` if all 65,535 are.
    pub(crate) fn alloc_id(&mut self) -> Option<PacketId> {
        if self.entries.len() >= usize::from(u16::MAX) {
            return None;
        }
        loop {
            self.last_id = self.last_id.wrapping_add(1);
            let Some(id) = PacketId::new(self.last_id) else {
                continue;
            };
            if self.position(id).is_none() {
                return Some(id);
            }
        }
    }

    /// The id derived from a stored delivery's sequence number, or the next free one after it if that is in
    /// flight; `None` if all 65,535 are.
    pub(crate) fn alloc_id_for(&mut self, seq: u64) -> Option<PacketId> {
        if self.entries.len() >= usize::from(u16::MAX) {
            return None;
        }
        let mut raw = u16::try_from(seq % u64::from(u16::MAX)).unwrap_or(0);
        loop {
            raw = raw.wrapping_add(1);
            let Some(id) = PacketId::new(raw) else {
                continue;
            };
            if self.position(id).is_none() {
                return Some(id);
            }
        }
    }

    /// Records a delivery just sent.
    pub(crate) fn push(&mut self, packet_id: PacketId, seq: u64, delivery: Delivery, stage: Stage) {
        self.entries.push_back(Entry {
            packet_id,
            seq,
            delivery,
            stage,
            resend: false,
        });
    }

    /// Puts back a delivery recovered from the store, marked for retransmission; ids continue after it.
    pub(crate) fn restore(&mut self, packet_id: PacketId, seq: u64, delivery: Delivery, stage: Stage) {
        if self.position(packet_id).is_some() {
            return;
        }
        self.push(packet_id, seq, delivery, stage);
        if let Some(e) = self.entries.back_mut() {
            e.resend = true;
        }
        self.last_id = packet_id.get();
    }

    /// PUBACK: completes a QoS 1 delivery. `None` if the id is not awaiting a PUBACK.
    pub(crate) fn ack(&mut self, id: PacketId) -> Option<Entry> {
        let pos = self.position(id)?;
        if self.entries.get(pos)?.stage != Stage::Ack {
            return None;
        }
        self.entries.remove(pos)
    }

    /// PUBREC: a QoS 2 delivery moves on to PUBREL, or ends if the client refused it (reason >= 0x80).
    /// Returns false if the id is not in flight as QoS 2 (the caller answers PUBREL 0x92 on 5.0).
    pub(crate) fn rec(&mut self, id: PacketId, accepted: bool) -> bool {
        let Some(pos) = self.position(id) else {
            return false;
        };
        let Some(entry) = self.entries.get_mut(pos) else {
            return false;
        };
        match entry.stage {
            Stage::Rec | Stage::Comp if accepted => {
                entry.stage = Stage::Comp;
                true
            }
            Stage::Rec => {
                self.entries.remove(pos);
                true
            }
            _ => false,
        }
    }

    /// PUBCOMP: completes a QoS 2 delivery. `None` if the id is not awaiting a PUBCOMP.
    pub(crate) fn comp(&mut self, id: PacketId) -> Option<Entry> {
        let pos = self.position(id)?;
        if self.entries.get(pos)?.stage != Stage::Comp {
            return None;
        }
        self.entries.remove(pos)
    }

    /// Forgets an entry whatever its stage.
    pub(crate) fn remove(&mut self, id: PacketId) -> Option<Entry> {
        let pos = self.position(id)?;
        self.entries.remove(pos)
    }

    /// Marks every entry for retransmission (the session was resumed by a new connection).
    pub(crate) fn mark_all_resend(&mut self) {
        for e in &mut self.entries {
            e.resend = true;
        }
    }

    /// Entries still to resend, in order, with the flag cleared: at most as many as keep the number sent on
    /// this connection within `window` (a client may come back with a smaller Receive Maximum).
    pub(crate) fn take_resends(&mut self, window: usize) -> impl Iterator<Item = &Entry> {
        let sent = self.entries.iter().filter(|e| !e.resend).count();
        let budget = window.saturating_sub(sent);
        self.entries
            .iter_mut()
            .filter(|e| e.resend)
            .take(budget)
            .map(|e| {
                e.resend = false;
                &*e
            })
    }

    /// Removes the PUBLISH-stage entries (no PUBREC yet) that `pred` selects: shared-group messages handed
    /// to another member when this one goes away.
    pub(crate) fn drain_unreceived(
        &mut self,
        mut pred: impl FnMut(&Delivery) -> bool,
        out: &mut Vec<(u64, Delivery)>,
    ) {
        let mut kept = VecDeque::with_capacity(self.entries.len());
        while let Some(e) = self.entries.pop_front() {
            if e.stage != Stage::Comp && pred(&e.delivery) {
                out.push((e.seq, e.delivery));
            } else {
                kept.push_back(e);
            }
        }
        self.entries = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use std::sync::Arc;
    use tern_mqtt_codec::QoS;

    fn delivery() -> Delivery {
        Delivery {
            msg: Arc::new(Message {
                topic: "t".into(),
                payload: bytes::Bytes::new(),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Default::default(),
                expires_at: None,
                publisher: None,
            }),
            qos: QoS::AtLeastOnce,
            retain: false,
            subscription_ids: Default::default(),
            shared: None,
        }
    }

    #[test]
    fn ids_skip_those_in_flight_and_zero() {
        let mut f = Inflight {
            last_id: u16::MAX - 1,
            ..Default::default()
        };
        let a = f.alloc_id().unwrap();
        assert_eq!(a.get(), u16::MAX);
        f.push(a, 0, delivery(), Stage::Ack);
        let b = f.alloc_id().unwrap();
        assert_eq!(b.get(), 1);
        f.push(b, 0, delivery(), Stage::Ack);
        f.last_id = u16::MAX - 1;
        assert_eq!(f.alloc_id().unwrap().get(), 2);
    }

    #[test]
    fn qos2_stages() {
        let mut f = Inflight::default();
        let id = f.alloc_id().unwrap();
        f.push(id, 0, delivery(), Stage::Rec);
        assert!(f.ack(id).is_none());
        assert!(f.comp(id).is_none());
        assert!(f.rec(id, true));
        assert!(f.comp(id).is_some());
        assert_eq!(f.len(), 0);
    }
}
