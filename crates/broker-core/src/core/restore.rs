//! Rebuilding the broker from a store's recovered state: sessions (offline, subscriptions back in the
//! router, queued and in-flight deliveries in order, inbound QoS 2 ids, pending wills, expiry clocks) and
//! retained messages. Called once, before any connection is served.

use super::BrokerCore;
use crate::message::Message;
use crate::persistence::SessionRecord;
use crate::router::SubscriptionEntry;
use crate::session::{Delivery, SPILL_AT, Session, Stage, lock};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tern_mqtt_codec::{PacketId, QoS};

/// Everything a store recovered at startup.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Durable sessions.
    pub sessions: Vec<RecoveredSession>,
    /// Retained messages.
    pub retained: Vec<Arc<Message>>,
    /// Above every sequence number in the store: new deliveries are numbered from here.
    pub next_seq: u64,
}

/// One recovered session.
#[derive(Debug)]
pub struct RecoveredSession {
    /// Its last saved picture: expiry, subscriptions, will, online flag.
    pub record: SessionRecord,
    /// How long it had been offline when the broker stopped (zero if a connection was attached: the
    /// restart then counts as that connection's abnormal end).
    pub offline_for: Duration,
    /// Its stored deliveries in sequence order: in flight first (they were sent earliest), then queued.
    pub deliveries: Vec<RecoveredDelivery>,
    /// Inbound QoS 2 packet ids awaiting PUBREL.
    pub inbound_qos2: Vec<u16>,
    /// Queued rows left on disk after `deliveries` (the store read only the head of a long queue).
    pub spilled: u64,
}

/// One stored delivery of a recovered session.
#[derive(Debug)]
pub struct RecoveredDelivery {
    /// Its sequence number in the store.
    pub seq: u64,
    /// The delivery.
    pub delivery: Delivery,
    /// Set if it was sent: it is re-sent with DUP and this id.
    pub packet_id: Option<PacketId>,
    /// The client had PUBREC'd it: the PUBREL is re-sent.
    pub released: bool,
}

/// What [`BrokerCore::restore`] put back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RestoreCounts {
    /// Sessions restored.
    pub sessions: usize,
    /// Subscriptions re-entered into the router.
    pub subscriptions: usize,
    /// Deliveries queued or in flight.
    pub deliveries: usize,
    /// Retained messages.
    pub retained: usize,
}

impl BrokerCore {
    /// Puts a store's recovered state back. Call once, right after building the core and before serving:
    /// every session comes back offline, its expiry clock and delayed will counting from where they were.
    pub fn restore(&self, recovered: Recovered, now: Instant) -> RestoreCounts {
        let mut counts = RestoreCounts::default();
        self.next_seq
            .fetch_max(recovered.next_seq.max(1), Ordering::Relaxed);
        for rs in recovered.sessions {
            counts.sessions += 1;
            counts.subscriptions += rs.record.subscriptions.len();
            counts.deliveries += rs.deliveries.len() + rs.spilled as usize;
            self.restore_session(rs, now);
        }
        let mut retained = lock(&self.retained);
        for msg in recovered.retained {
            match retained.set(msg) {
                Ok(()) => counts.retained += 1,
                Err(e) => tracing::warn!(error = %e, "recovered retained message not restored"),
            }
        }
        counts
    }

    fn restore_session(&self, rs: RecoveredSession, now: Instant) {
        let RecoveredSession {
            record,
            offline_for,
            deliveries,
            inbound_qos2,
            spilled,
        } = rs;
        let spills = self.hooks.persistence.spills();
        let id = self.next_session_id.fetch_add(1, Ordering::Relaxed);
        let session = Arc::new(Session::new(
            id,
            record.client_id.clone(),
            record.expiry_interval,
            self.hooks.persistence.clone(),
        ));
        {
            let mut router = self.router.write().unwrap_or_else(|e| e.into_inner());
            for sub in &record.subscriptions {
                let entry = SubscriptionEntry {
                    qos: sub.options.qos,
                    no_local: sub.options.no_local,
                    retain_as_published: sub.options.retain_as_published,
                    subscription_id: sub.subscription_id,
                };
                router.subscribe(id, &sub.filter, entry);
            }
        }
        let mut table = lock(&self.sessions);
        {
            let mut st = lock(&session.state);
            for sub in record.subscriptions {
                st.subscriptions.insert(sub.filter.clone(), sub);
            }
            let mut queued = Vec::new();
            for d in deliveries {
                match d.packet_id {
                    Some(pid) => {
                        let stage = match (d.delivery.qos, d.released) {
                            (QoS::ExactlyOnce, true) => Stage::Comp,
                            (QoS::ExactlyOnce, false) => Stage::Rec,
                            _ => Stage::Ack,
                        };
                        st.inflight.restore(pid, d.seq, d.delivery, stage);
                    }
                    None => queued.push((d.seq, d.delivery)),
                }
            }
            // Only the head of a long queue comes back into memory; the rest is read back as it drains.
            st.spilled = spilled;
            if spills && queued.len() > SPILL_AT {
                st.spilled += (queued.len() - SPILL_AT) as u64;
                queued.truncate(SPILL_AT);
            }
            st.mem_high = st.inflight_high().max(queued.last().map_or(0, |(seq, _)| *seq));
            for (seq, d) in queued.into_iter().rev() {
                st.queue.push_front(seq, d);
            }
            st.inbound_qos2.extend(inbound_qos2);
            // A will still pending counts its delay from the disconnect (or from now, if the restart was the
            // disconnect); it is published by the next `handle_timeout` if already due.
            if let Some(will) = record.will {
                let at = now + Duration::from_secs(u64::from(will.delay)).saturating_sub(offline_for);
                st.will = Some(Box::new(will));
                st.will_at = Some(at);
                table.timers.insert((at, id));
            }
            if record.expiry_interval != u32::MAX {
                let full = Duration::from_secs(u64::from(record.expiry_interval));
                let at = now + full.saturating_sub(offline_for);
                st.expires_at = Some(at);
                table.timers.insert((at, id));
            }
        }
        table.by_client.insert(record.client_id, session.clone());
        table.by_id.insert(id, session);
    }
}
