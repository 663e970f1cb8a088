//! Row encodings. Messages are stored as MQTT 5.0 PUBLISH packets and subscriptions as SUBSCRIBE packets,
//! so every property survives without a second serialisation format; a small fixed header in front holds
//! what the packets cannot (expiry deadline, delivery state). Every row starts with [`ROW_VERSION`].
//!
//! Queue row: `version u8 | qos u8 | retain u8 | released u8 | packet_id u16 | deadline u64 | PUBLISH
//! [| group_len u16 | group | filter_len u16 | filter]`, with the delivery's subscription identifiers in the
//! PUBLISH's properties. The optional trailer names the shared subscription group (`$share/{group}/{filter}`)
//! the delivery was picked for, so a restored delivery can still move to another member; rows without it
//! (older ones, plain subscriptions) decode as before, so it needs no format change.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tern_broker_core::router::{SharedGroupKey, SubscriptionIds};
use tern_broker_core::{Delivery, Message, SessionRecord, SubscriptionRecord, WillMessage};
use tern_mqtt_codec::{
    Packet, PacketId, ProtocolVersion, Publish, PublishProperties, QoS, Subscribe, SubscribeFilter,
    SubscribeProperties, decode_packet,
};

/// Version of every row's layout; a later layout bumps it and [`crate::migrate`] converts old rows.
pub(crate) const ROW_VERSION: u8 = 1;
/// First byte of a queue row whose message lives in the messages table (format 2): a message that several
/// durable sessions take is stored once and referenced from each of their queue rows.
pub(crate) const REF_ROW: u8 = 2;
/// Offset of the message key in a [`REF_ROW`] queue row.
const MESSAGE_KEY_AT: usize = 14;
/// Offset of `released` in a queue row.
pub(crate) const RELEASED_AT: usize = 3;
/// Offset of `packet_id` in a queue row.
pub(crate) const PACKET_ID_AT: usize = 4;
const QUEUE_HEADER: usize = 14;

/// A row that cannot be decoded: the store is damaged or was written by something else.
#[derive(Debug, thiserror::Error)]
#[error("undecodable {what} row: {detail}")]
pub struct RowError {
    what: &'static str,
    detail: String,
}

impl RowError {
    /// A row of kind `what` that cannot be used, and why.
    pub(crate) fn new(what: &'static str, detail: impl ToString) -> RowError {
        bad(what, detail)
    }
}

fn bad(what: &'static str, detail: impl ToString) -> RowError {
    RowError {
        what,
        detail: detail.to_string(),
    }
}

/// Milliseconds since the Unix epoch now.
pub(crate) fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A message's expiry as a wall-clock deadline (0 = never), so it survives a restart.
fn deadline_of(msg: &Message, now: Instant, now_ms: u64) -> u64 {
    msg.expires_at.map_or(0, |at| {
        let left = u64::try_from(at.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX);
        now_ms.saturating_add(left).max(1)
    })
}

/// The deadline back as an `Instant`; `Err(())` if it has passed.
fn instant_of(deadline: u64, now: Instant, now_ms: u64) -> Result<Option<Instant>, ()> {
    match deadline {
        0 => Ok(None),
        d if d <= now_ms => Err(()),
        d => Ok(Some(now + Duration::from_millis(d - now_ms))),
    }
}

fn publish_bytes(msg: &Message, sub_ids: &[NonZeroU32], out: &mut BytesMut) {
    let mut properties = msg.properties.clone();
    properties.subscription_identifiers = sub_ids.to_vec();
    properties.topic_alias = None;
    properties.message_expiry_interval = None;
    let packet = Packet::Publish(Publish {
        dup: false,
        qos: msg.qos,
        retain: msg.retain,
        topic: msg.topic.clone(),
        packet_id: (msg.qos != QoS::AtMostOnce).then_some(PacketId::MIN),
        properties,
        payload: msg.payload.clone(),
    });
    // Encoding a message the broker accepted from the wire cannot fail; an empty row would decode as an
    // error at recovery, never as a wrong message.
    if let Err(e) = packet.encode(ProtocolVersion::V5, out) {
        tracing::error!(error = %e, "message could not be encoded for the store");
    }
}

fn decode_publish(buf: &[u8]) -> Result<Publish, RowError> {
    decode_publish_rest(buf).map(|(p, _)| p)
}

/// Decodes the PUBLISH at the start of `buf`; also returns what follows it.
fn decode_publish_rest(buf: &[u8]) -> Result<(Publish, BytesMut), RowError> {
    let mut b = BytesMut::from(buf);
    match decode_packet(&mut b, ProtocolVersion::V5, u32::MAX) {
        Ok(Some(Packet::Publish(p))) => Ok((p, b)),
        Ok(_) => Err(bad("message", "not a PUBLISH")),
        Err(e) => Err(bad("message", e)),
    }
}

fn put_str16(s: &str, out: &mut BytesMut) {
    // Group names and filters come from a SUBSCRIBE, whose strings are at most 65,535 bytes.
    let n = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.put_u16(n);
    out.put_slice(&s.as_bytes()[..usize::from(n)]);
}

fn get_str16<'a>(b: &mut &'a [u8]) -> Result<&'a str, RowError> {
    if b.len() < 2 {
        return Err(bad("queue", "truncated shared group"));
    }
    let n = usize::from(b.get_u16());
    let (s, rest) = b
        .split_at_checked(n)
        .ok_or_else(|| bad("queue", "truncated shared group"))?;
    *b = rest;
    std::str::from_utf8(s).map_err(|e| bad("queue", e))
}

/// The shared group trailer after a queue row's PUBLISH: `None` when there is none.
fn decode_shared(mut b: &[u8]) -> Result<Option<SharedGroupKey>, RowError> {
    if b.is_empty() {
        return Ok(None);
    }
    let group = get_str16(&mut b)?;
    let filter = get_str16(&mut b)?;
    if !b.is_empty() {
        return Err(bad("queue", "bytes after the shared group"));
    }
    Ok(Some(SharedGroupKey::new(group, filter)))
}

fn message_of(p: Publish, expires_at: Option<Instant>) -> (Message, Vec<NonZeroU32>) {
    let mut properties: PublishProperties = p.properties;
    let ids = std::mem::take(&mut properties.subscription_identifiers);
    let msg = Message {
        topic: p.topic,
        payload: p.payload,
        qos: p.qos,
        retain: p.retain,
        properties,
        expires_at,
        publisher: None,
    };
    (msg, ids)
}

/// Encodes a queue row for `delivery` (not yet sent).
pub(crate) fn encode_delivery(d: &Delivery, now: Instant, now_ms: u64) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(QUEUE_HEADER + d.msg.size() + 16);
    out.put_u8(ROW_VERSION);
    out.put_u8(d.qos as u8);
    out.put_u8(u8::from(d.retain));
    out.put_u8(0);
    out.put_u16(0);
    out.put_u64(deadline_of(&d.msg, now, now_ms));
    publish_bytes(&d.msg, d.subscription_ids.as_slice(), &mut out);
    if let Some(key) = &d.shared {
        put_str16(key.group(), &mut out);
        put_str16(key.filter(), &mut out);
    }
    out.to_vec()
}

/// Encodes a queue row that refers to message `key` in the messages table: the header of
/// [`encode_delivery`], then `key u64 | id_count u16 | subscription id u32 … | [shared group trailer]`.
pub(crate) fn encode_delivery_ref(d: &Delivery, key: u64, now: Instant, now_ms: u64) -> Vec<u8> {
    let ids = d.subscription_ids.as_slice();
    let mut out = BytesMut::with_capacity(QUEUE_HEADER + 10 + 4 * ids.len());
    out.put_u8(REF_ROW);
    out.put_u8(d.qos as u8);
    out.put_u8(u8::from(d.retain));
    out.put_u8(0);
    out.put_u16(0);
    out.put_u64(deadline_of(&d.msg, now, now_ms));
    out.put_u64(key);
    // A subscription identifier is a variable byte integer below 2^28, and a session holds far fewer than
    // 65,536 subscriptions.
    let n = u16::try_from(ids.len()).unwrap_or(u16::MAX);
    out.put_u16(n);
    for id in &ids[..usize::from(n)] {
        out.put_u32(id.get());
    }
    if let Some(key) = &d.shared {
        put_str16(key.group(), &mut out);
        put_str16(key.filter(), &mut out);
    }
    out.to_vec()
}

/// Encodes a messages-table row: `version u8 | references u32 | PUBLISH` (without subscription ids).
pub(crate) fn encode_message(msg: &Message, refs: u32) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(5 + msg.size() + 16);
    out.put_u8(ROW_VERSION);
    out.put_u32(refs);
    publish_bytes(msg, &[], &mut out);
    out.to_vec()
}

/// The reference count of a messages-table row.
pub(crate) fn message_refs(row: &[u8]) -> Option<u32> {
    let b: [u8; 4] = row.get(1..5)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// `row` with its reference count replaced.
pub(crate) fn with_refs(row: &[u8], refs: u32) -> Vec<u8> {
    let mut row = row.to_vec();
    if let Some(slot) = row.get_mut(1..5) {
        slot.copy_from_slice(&refs.to_be_bytes());
    }
    row
}

/// Decodes a messages-table row into the message, with the expiry its queue row gives it.
pub(crate) fn decode_message(row: &[u8], expires_at: Option<Instant>) -> Result<Message, RowError> {
    if row.len() < 5 || row.first() != Some(&ROW_VERSION) {
        return Err(bad("message", "short row or unknown version"));
    }
    Ok(message_of(decode_publish(&row[5..])?, expires_at).0)
}

/// The message key a queue row refers to, if it is a [`REF_ROW`].
pub(crate) fn message_key(row: &[u8]) -> Option<u64> {
    if row.first() != Some(&REF_ROW) {
        return None;
    }
    let b: [u8; 8] = row.get(MESSAGE_KEY_AT..MESSAGE_KEY_AT + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

/// A decoded queue row: the delivery, its packet id if sent, whether PUBREC arrived. `Ok(None)`: expired.
pub(crate) type QueueRow = (Delivery, Option<PacketId>, bool);

/// Finds a referenced message: (key, expiry from the queue row) → the message.
pub(crate) type Resolve<'a> = dyn FnMut(u64, Option<Instant>) -> Result<Arc<Message>, RowError> + 'a;

/// Decodes a queue row; `resolve` looks up the message of a row that refers to one.
pub(crate) fn decode_delivery(
    row: &[u8],
    now: Instant,
    now_ms: u64,
    resolve: &mut Resolve<'_>,
) -> Result<Option<QueueRow>, RowError> {
    let version = row.first().copied();
    if row.len() < QUEUE_HEADER || !(version == Some(ROW_VERSION) || version == Some(REF_ROW)) {
        return Err(bad("queue", "short row or unknown version"));
    }
    let mut h = &row[1..QUEUE_HEADER];
    let qos = QoS::from_u8(h.get_u8()).ok_or_else(|| bad("queue", "bad QoS"))?;
    let retain = h.get_u8() != 0;
    let released = h.get_u8() != 0;
    let packet_id = PacketId::new(h.get_u16());
    let Ok(expires_at) = instant_of(h.get_u64(), now, now_ms) else {
        return Ok(None);
    };
    let mut subscription_ids = SubscriptionIds::None;
    let (msg, shared) = if version == Some(REF_ROW) {
        let mut b = &row[QUEUE_HEADER..];
        if b.len() < 10 {
            return Err(bad("queue", "short message reference"));
        }
        let key = b.get_u64();
        let n = usize::from(b.get_u16());
        if b.len() < 4 * n {
            return Err(bad("queue", "truncated subscription ids"));
        }
        for _ in 0..n {
            let id = NonZeroU32::new(b.get_u32()).ok_or_else(|| bad("queue", "subscription id 0"))?;
            subscription_ids.push(id);
        }
        (resolve(key, expires_at)?, decode_shared(b)?)
    } else {
        let (publish, rest) = decode_publish_rest(&row[QUEUE_HEADER..])?;
        let (msg, ids) = message_of(publish, expires_at);
        for id in ids {
            subscription_ids.push(id);
        }
        (Arc::new(msg), decode_shared(&rest)?)
    };
    let delivery = Delivery {
        msg,
        qos,
        retain,
        subscription_ids,
        shared,
    };
    Ok(Some((delivery, packet_id, released)))
}

/// Encodes a retained message row: `version | deadline u64 | PUBLISH`.
pub(crate) fn encode_retained(msg: &Message, now: Instant, now_ms: u64) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(9 + msg.size() + 16);
    out.put_u8(ROW_VERSION);
    out.put_u64(deadline_of(msg, now, now_ms));
    publish_bytes(msg, &[], &mut out);
    out.to_vec()
}

/// Decodes a retained row; `Ok(None)` if it expired while the broker was down.
pub(crate) fn decode_retained(row: &[u8], now: Instant, now_ms: u64) -> Result<Option<Message>, RowError> {
    if row.len() < 9 || row.first() != Some(&ROW_VERSION) {
        return Err(bad("retained", "short row or unknown version"));
    }
    let mut h = &row[1..9];
    let Ok(expires_at) = instant_of(h.get_u64(), now, now_ms) else {
        return Ok(None);
    };
    Ok(Some(message_of(decode_publish(&row[9..])?, expires_at).0))
}

/// Encodes a session row: `version | expiry u32 | online u8 | saved_at u64 | will? | subscriptions`.
pub(crate) fn encode_session(r: &SessionRecord, now_ms: u64) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(64);
    out.put_u8(ROW_VERSION);
    out.put_u32(r.expiry_interval);
    out.put_u8(u8::from(r.online));
    out.put_u64(now_ms);
    match &r.will {
        Some(w) => {
            out.put_u8(1);
            out.put_u32(w.delay);
            let msg = Message {
                topic: w.topic.clone(),
                payload: w.payload.clone(),
                qos: w.qos,
                retain: w.retain,
                properties: w.properties.clone(),
                expires_at: None,
                publisher: None,
            };
            put_framed(&mut out, |b| publish_bytes(&msg, &[], b));
        }
        None => out.put_u8(0),
    }
    out.put_u32(u32::try_from(r.subscriptions.len()).unwrap_or(u32::MAX));
    for s in &r.subscriptions {
        let packet = Packet::Subscribe(Subscribe {
            packet_id: PacketId::MIN,
            properties: SubscribeProperties {
                subscription_identifier: s.subscription_id,
                user_properties: Vec::new(),
            },
            filters: vec![SubscribeFilter {
                filter: s.filter.as_ref().into(),
                options: s.options,
            }],
        });
        put_framed(&mut out, |b| {
            if let Err(e) = packet.encode(ProtocolVersion::V5, b) {
                tracing::error!(error = %e, "subscription could not be encoded for the store");
            }
        });
    }
    out.to_vec()
}

fn put_framed(out: &mut BytesMut, f: impl FnOnce(&mut BytesMut)) {
    let mut inner = BytesMut::new();
    f(&mut inner);
    out.put_u32(u32::try_from(inner.len()).unwrap_or(u32::MAX));
    out.put_slice(&inner);
}

fn take_framed(buf: &mut Bytes, what: &'static str) -> Result<Bytes, RowError> {
    if buf.remaining() < 4 {
        return Err(bad(what, "truncated"));
    }
    let n = buf.get_u32() as usize;
    if buf.remaining() < n {
        return Err(bad(what, "truncated"));
    }
    Ok(buf.split_to(n))
}

/// A decoded session row plus the wall-clock time it was saved (Unix ms).
pub(crate) fn decode_session(client_id: &str, row: &[u8]) -> Result<(SessionRecord, u64), RowError> {
    let mut b = Bytes::copy_from_slice(row);
    if b.remaining() < 15 || b.get_u8() != ROW_VERSION {
        return Err(bad("session", "short row or unknown version"));
    }
    let expiry_interval = b.get_u32();
    let online = b.get_u8() != 0;
    let saved_at = b.get_u64();
    let will = match b.get_u8() {
        0 => None,
        _ => {
            if b.remaining() < 4 {
                return Err(bad("session", "truncated will"));
            }
            let delay = b.get_u32();
            let (msg, _) = message_of(decode_publish(&take_framed(&mut b, "will")?)?, None);
            Some(WillMessage {
                topic: msg.topic,
                payload: msg.payload,
                qos: msg.qos,
                retain: msg.retain,
                properties: msg.properties,
                delay,
            })
        }
    };
    if b.remaining() < 4 {
        return Err(bad("session", "truncated subscriptions"));
    }
    let n = b.get_u32();
    let mut subscriptions = Vec::new();
    for _ in 0..n {
        let mut p = BytesMut::from(&take_framed(&mut b, "subscription")?[..]);
        let Ok(Some(Packet::Subscribe(s))) = decode_packet(&mut p, ProtocolVersion::V5, u32::MAX) else {
            return Err(bad("subscription", "not a SUBSCRIBE"));
        };
        for f in s.filters {
            subscriptions.push(SubscriptionRecord {
                filter: Arc::from(&*f.filter),
                options: f.options,
                subscription_id: s.properties.subscription_identifier,
            });
        }
    }
    let record = SessionRecord {
        client_id: Arc::from(client_id),
        expiry_interval,
        subscriptions,
        will,
        online,
    };
    Ok((record, saved_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(shared: Option<SharedGroupKey>) -> Delivery {
        Delivery {
            msg: Arc::new(Message {
                topic: "a/b".into(),
                payload: Bytes::from_static(b"x"),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Default::default(),
                expires_at: None,
                publisher: None,
            }),
            qos: QoS::AtLeastOnce,
            retain: false,
            subscription_ids: SubscriptionIds::None,
            shared,
        }
    }

    fn no_refs(_: u64, _: Option<Instant>) -> Result<Arc<Message>, RowError> {
        Err(bad("message", "no messages table in this test"))
    }

    #[test]
    fn a_referenced_message_is_resolved_with_the_rows_own_ids_qos_and_group() {
        let now = Instant::now();
        let mut d = delivery(Some(SharedGroupKey::new("g", "a/#")));
        d.subscription_ids.push(NonZeroU32::new(7).unwrap());
        d.subscription_ids.push(NonZeroU32::new(300_000).unwrap());
        let stored = encode_message(&d.msg, 3);
        assert_eq!(message_refs(&stored), Some(3));
        assert_eq!(message_refs(&with_refs(&stored, 2)), Some(2));
        let row = encode_delivery_ref(&d, 42, now, unix_ms_now());
        assert_eq!(message_key(&row), Some(42));
        assert_eq!(message_key(&encode_delivery(&d, now, unix_ms_now())), None);
        let mut asked = Vec::new();
        let mut resolve = |key: u64, exp: Option<Instant>| {
            asked.push(key);
            decode_message(&stored, exp).map(Arc::new)
        };
        let (got, pid, released) = decode_delivery(&row, now, unix_ms_now(), &mut resolve)
            .unwrap()
            .unwrap();
        assert_eq!((pid, released), (None, false));
        assert_eq!(&got.msg.payload[..], b"x");
        assert_eq!(&*got.msg.topic, "a/b");
        assert_eq!(got.subscription_ids.as_slice(), d.subscription_ids.as_slice());
        assert_eq!(got.shared, d.shared);
        // Cutting the whole group trailer leaves a valid plain row; every other cut is corruption.
        let trailer = 2 + 1 + 2 + 3;
        for cut in (1..row.len() - QUEUE_HEADER).filter(|c| *c != trailer) {
            let r = decode_delivery(&row[..row.len() - cut], now, unix_ms_now(), &mut resolve);
            assert!(r.is_err(), "cut {cut}");
        }
        assert_eq!(asked.first(), Some(&42));
    }

    #[test]
    fn a_shared_delivery_keeps_its_group_and_a_plain_one_has_none() {
        let now = Instant::now();
        let key = SharedGroupKey::new("g", "a/+");
        let row = encode_delivery(&delivery(Some(key.clone())), now, unix_ms_now());
        let (d, _, _) = decode_delivery(&row, now, unix_ms_now(), &mut no_refs)
            .unwrap()
            .unwrap();
        assert_eq!(d.shared, Some(key));
        assert_eq!(&d.msg.payload[..], b"x");
        let row = encode_delivery(&delivery(None), now, unix_ms_now());
        let (d, _, _) = decode_delivery(&row, now, unix_ms_now(), &mut no_refs)
            .unwrap()
            .unwrap();
        assert_eq!(d.shared, None);
    }

    #[test]
    fn a_truncated_group_trailer_is_corruption_not_a_panic() {
        let now = Instant::now();
        let key = SharedGroupKey::new("group", "filter");
        let row = encode_delivery(&delivery(Some(key)), now, unix_ms_now());
        for cut in 1..12 {
            assert!(
                decode_delivery(&row[..row.len() - cut], now, unix_ms_now(), &mut no_refs).is_err(),
                "cut {cut}"
            );
        }
    }
}
