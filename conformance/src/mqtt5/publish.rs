//! PUBLISH and its QoS flows (3.3 - 3.7, 4.3, 4.4, 4.6): flags, retained messages, packet identifiers,
//! acknowledgements, redelivery and ordering. Shared by both protocols where the behaviour is the same.

use crate::ctx::Ctx;
use crate::peer::Peer;
use crate::registry::{TestCase, TestResult};
use crate::wire;
use crate::{cases, ensure, fail};
use bytes::Bytes;
use std::num::NonZeroU16;
use std::sync::Arc;
use tern_mqtt_codec::{Packet, PubAck, Publish, QoS};

fn msg(topic: &str, payload: &'static [u8], qos: QoS) -> Publish {
    let mut p = Publish::new(topic.to_owned(), Bytes::from_static(payload));
    p.qos = qos;
    p
}

/// A PUBLISH with both QoS bits set is malformed: the broker closes the connection.
pub async fn qos3_closes(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let mut bytes = wire::publish(c.is_v5(), c.topic("t").as_bytes(), &[], b"x");
    bytes[0] = 0x36; // QoS bits 11; a packet id would follow, but the flags alone are fatal
    p.send_bytes(&bytes).await?;
    p.expect_closed("after a PUBLISH with QoS 3").await?;
    Ok(())
}

/// A PUBLISH whose topic name contains a wildcard is refused by closing the connection.
pub async fn wildcard_topic_closes(c: Arc<Ctx>) -> TestResult {
    let mut sub = c.subscriber(&c.topic("#"), QoS::AtMostOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.send_bytes(&wire::publish(c.is_v5(), c.topic("a/+").as_bytes(), &[], b"x"))
        .await?;
    p.expect_closed("after a PUBLISH to a topic name with '+'")
        .await?;
    sub.expect_no_publish(c.quiet(), "a PUBLISH to a wildcard topic name was delivered")
        .await
}

/// A PUBLISH with an empty topic name (and no topic alias) is refused by closing the connection.
pub async fn empty_topic_closes(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    p.send_bytes(&wire::publish(c.is_v5(), b"", &[], b"x")).await?;
    p.expect_closed("after a PUBLISH with an empty topic name")
        .await?;
    Ok(())
}

/// A topic name with ill-formed UTF-8 closes the connection.
pub async fn bad_utf8_topic_closes(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let mut t = c.topic("x").into_bytes();
    t.extend_from_slice(&[0xED, 0xA0, 0x80]); // an encoded surrogate, U+D800
    p.send_bytes(&wire::publish(c.is_v5(), &t, &[], b"x")).await?;
    p.expect_closed("after a PUBLISH whose topic holds an encoded surrogate")
        .await?;
    Ok(())
}

/// A topic name containing U+0000 closes the connection.
pub async fn nul_topic_closes(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let mut t = c.topic("x").into_bytes();
    t.push(0);
    p.send_bytes(&wire::publish(c.is_v5(), &t, &[], b"x")).await?;
    p.expect_closed("after a PUBLISH whose topic holds U+0000")
        .await?;
    Ok(())
}

/// U+FEFF (0xEF 0xBB 0xBF) in a topic is kept: it is delivered to the exact filter and not to the filter
/// without it.
pub async fn bom_not_stripped(c: Arc<Ctx>) -> TestResult {
    let with = c.topic("a\u{FEFF}b");
    let without = c.topic("ab");
    let mut s1 = c.subscriber(&with, QoS::AtMostOnce).await?;
    let mut s2 = c.subscriber(&without, QoS::AtMostOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&with, b"bom", QoS::AtMostOnce, false).await?;
    let m = s1.recv_publish("the message on a topic with U+FEFF").await?;
    ensure!(
        m.topic.as_str() == with,
        "the topic arrived as {:?}",
        m.topic.as_str()
    );
    s2.expect_no_publish(c.quiet(), "U+FEFF was stripped: the filter without it matched")
        .await
}

/// No normalisation in matching: case and Unicode forms are distinct.
pub async fn no_normalisation(c: Arc<Ctx>) -> TestResult {
    let exact = c.topic("Caf\u{e9}");
    let mut s = c.subscriber(&exact, QoS::AtMostOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&c.topic("caf\u{e9}"), b"lower", QoS::AtMostOnce, false)
        .await?;
    p.pub_msg(&c.topic("Cafe\u{301}"), b"nfd", QoS::AtMostOnce, false)
        .await?;
    p.pub_msg(&exact, b"exact", QoS::AtMostOnce, false).await?;
    let m = s.recv_publish("the exact-topic message").await?;
    ensure!(
        m.payload.as_ref() == b"exact",
        "a differently cased or normalised topic matched ({:?})",
        m.payload
    );
    Ok(())
}

/// The topic name delivered matches the subscription's filter (it is the published name).
pub async fn delivered_topic_matches(c: Arc<Ctx>) -> TestResult {
    let mut s = c.subscriber(&c.topic("+/x/#"), QoS::AtMostOnce).await?;
    let (mut p, _) = c.connect().await?;
    let t = c.topic("y/x/z");
    p.pub_msg(&t, b"m", QoS::AtMostOnce, false).await?;
    let m = s.recv_publish("the message for a wildcard subscription").await?;
    ensure!(
        m.topic.as_str() == t,
        "published to {t:?}, delivered as {:?}",
        m.topic.as_str()
    );
    Ok(())
}

/// Each QoS gets its response: none for 0, PUBACK for 1, PUBREC then PUBCOMP for 2, with the PUBLISH's packet
/// identifier.
pub async fn responses_per_qos(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let t = c.topic("t");
    p.publish(msg(&t, b"0", QoS::AtMostOnce)).await?;
    let mut m1 = msg(&t, b"1", QoS::AtLeastOnce);
    m1.packet_id = NonZeroU16::new(0x1234);
    p.send(Packet::Publish(m1)).await?;
    match p.recv("PUBACK").await? {
        Packet::PubAck(a) => ensure!(
            a.packet_id.get() == 0x1234,
            "PUBACK for 0x1234 carries {:#06x}",
            a.packet_id
        ),
        other => fail!("expected PUBACK, got {}", crate::peer::name(&other)),
    }
    let mut m2 = msg(&t, b"2", QoS::ExactlyOnce);
    m2.packet_id = NonZeroU16::new(0x4321);
    p.send(Packet::Publish(m2)).await?;
    match p.recv("PUBREC").await? {
        Packet::PubRec(a) => ensure!(
            a.packet_id.get() == 0x4321,
            "PUBREC for 0x4321 carries {:#06x}",
            a.packet_id
        ),
        other => fail!("expected PUBREC, got {}", crate::peer::name(&other)),
    }
    p.send(Packet::PubRel(PubAck::new(
        NonZeroU16::MIN.saturating_add(0x4320),
    )))
    .await?;
    match p.recv("PUBCOMP").await? {
        Packet::PubComp(a) => ensure!(
            a.packet_id.get() == 0x4321,
            "PUBCOMP for 0x4321 carries {:#06x}",
            a.packet_id
        ),
        other => fail!("expected PUBCOMP, got {}", crate::peer::name(&other)),
    }
    p.expect_alive("after the three QoS flows").await
}

/// QoS 0 deliveries carry DUP 0 (and QoS 0).
pub async fn qos0_dup0(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::AtMostOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::AtLeastOnce, false).await?;
    let m = s.recv_publish("the QoS 0 delivery").await?;
    ensure!(
        m.qos == QoS::AtMostOnce && !m.dup,
        "QoS {:?} DUP {}",
        m.qos,
        m.dup
    );
    Ok(())
}

/// The incoming DUP flag is not propagated: a first delivery carries DUP 0 even if the publisher set DUP.
pub async fn dup_not_propagated(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let (mut p, _) = c.connect().await?;
    let mut m = msg(&t, b"m", QoS::AtLeastOnce);
    m.dup = true;
    p.publish(m).await?;
    let got = s.recv_publish("the forwarded message").await?;
    ensure!(
        !got.dup,
        "the first delivery carries DUP 1 (copied from the publisher)"
    );
    Ok(())
}

/// First deliveries at QoS 1 and 2 carry DUP 0, the matching QoS and distinct non-zero packet identifiers.
pub async fn fresh_ids_dup0(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::ExactlyOnce).await?;
    let (mut p, _) = c.connect().await?;
    for (i, qos) in [
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
        QoS::AtLeastOnce,
        QoS::ExactlyOnce,
    ]
    .into_iter()
    .enumerate()
    {
        let mut m = msg(&t, b"m", qos);
        m.payload = Bytes::from(i.to_string());
        p.publish(m).await?;
    }
    let mut ids = Vec::new();
    for i in 0..4 {
        let m = s.expect_publish("one of four deliveries, unacknowledged").await?;
        let want = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        ensure!(
            m.qos == want,
            "delivery {i} has QoS {:?}, published at {want:?}",
            m.qos
        );
        ensure!(!m.dup, "a first delivery carries DUP 1");
        let Some(id) = m.packet_id else {
            fail!("a QoS {:?} delivery has no packet identifier", m.qos)
        };
        ensure!(
            !ids.contains(&id),
            "packet identifier {id} reused while still unacknowledged"
        );
        ids.push(id);
    }
    Ok(())
}

/// Messages from one publisher on one topic at one QoS reach a subscriber in the order published.
pub async fn ordered(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let (mut p, _) = c.connect().await?;
    for i in 0..20u32 {
        let mut m = msg(&t, b"", QoS::AtLeastOnce);
        m.payload = Bytes::from(i.to_string());
        p.publish(m).await?;
    }
    for i in 0..20u32 {
        let m = s.recv_publish("the next message in order").await?;
        ensure!(
            m.payload.as_ref() == i.to_string().as_bytes(),
            "message {i} arrived as {:?}",
            m.payload
        );
    }
    Ok(())
}

/// QoS 1 received: a new PUBLISH with the same packet identifier after PUBACK is a new publication.
pub async fn qos1_id_reuse_is_new(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let (mut p, _) = c.connect().await?;
    for payload in [&b"first"[..], b"second"] {
        let mut m = msg(&t, b"", QoS::AtLeastOnce);
        m.payload = Bytes::copy_from_slice(payload);
        m.packet_id = NonZeroU16::new(7);
        m.dup = true;
        p.publish(m).await?;
    }
    let a = s.recv_publish("the first message").await?;
    let b = s
        .recv_publish("the second message with a reused packet id")
        .await?;
    ensure!(
        a.payload.as_ref() == b"first" && b.payload.as_ref() == b"second",
        "got {:?}, {:?}",
        a.payload,
        b.payload
    );
    Ok(())
}

/// QoS 2 received: until PUBREL, a repeated PUBLISH is acknowledged with PUBREC and delivered once; PUBREL gets
/// PUBCOMP with the same identifier; after PUBCOMP the identifier starts a new publication.
pub async fn qos2_exactly_once(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::ExactlyOnce).await?;
    let (mut p, _) = c.connect().await?;
    let id = NonZeroU16::new(9).unwrap_or(NonZeroU16::MIN);
    let mut m = msg(&t, b"once", QoS::ExactlyOnce);
    m.packet_id = Some(id);
    for dup in [false, true] {
        m.dup = dup;
        p.send(Packet::Publish(m.clone())).await?;
        match p.recv("PUBREC").await? {
            Packet::PubRec(a) if a.packet_id == id => {}
            other => fail!("expected PUBREC for id 9, got {}", crate::peer::name(&other)),
        }
    }
    p.send(Packet::PubRel(PubAck::new(id))).await?;
    match p.recv("PUBCOMP").await? {
        Packet::PubComp(a) if a.packet_id == id => {}
        other => fail!("expected PUBCOMP for id 9, got {}", crate::peer::name(&other)),
    }
    let got = s.recv_publish("the QoS 2 message").await?;
    ensure!(got.payload.as_ref() == b"once", "got {:?}", got.payload);
    s.expect_no_publish(c.quiet(), "a PUBLISH repeated before PUBREL was delivered twice")
        .await?;
    let mut again = msg(&t, b"again", QoS::ExactlyOnce);
    again.packet_id = Some(id);
    p.publish(again).await?;
    let got = s
        .recv_publish("the new publication with the reused identifier")
        .await?;
    ensure!(got.payload.as_ref() == b"again", "got {:?}", got.payload);
    Ok(())
}

/// A PUBREL with reserved flags other than 0010 closes the connection.
pub async fn pubrel_flags(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    p.send_bytes(&[0x60, 0x02, 0x00, 0x01]).await?;
    p.expect_closed("after a PUBREL with flags 0000").await?;
    Ok(())
}

/// A fixed header with reserved flags set (PINGREQ 0xC1) closes the connection.
pub async fn reserved_flags_close(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    p.send_bytes(&[0xC1, 0x00]).await?;
    p.expect_closed("after a PINGREQ with a reserved flag set")
        .await?;
    Ok(())
}

/// Connects a subscriber with a stored session and QoS `qos` subscription; returns it, its CONNECT, the topic.
async fn stored_subscriber(
    c: &Ctx,
    qos: QoS,
) -> Result<(Peer, tern_mqtt_codec::Connect, String), crate::Stop> {
    let id = c.client_id();
    c.session(&id);
    let t = c.topic("t");
    let mut connect = c.connect_packet(&id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = c.is_v5().then_some(300);
    let (mut s, _) = c.connect_with(connect.clone()).await?;
    s.sub(&t, qos).await?;
    Ok((s, connect, t))
}

/// An unacknowledged QoS 1 delivery is re-sent on reconnection with Clean Start 0, with DUP 1 and the same
/// packet identifier.
pub async fn redelivery_on_reconnect(c: Arc<Ctx>) -> TestResult {
    let (mut s, connect, t) = stored_subscriber(&c, QoS::AtLeastOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"redeliver", QoS::AtLeastOnce, false).await?;
    let first = s
        .expect_publish("the first delivery (left unacknowledged)")
        .await?;
    s.drop_abruptly().await;
    let (mut s, _) = c.connect_with(connect).await?;
    let again = s.expect_publish("the re-delivery after reconnecting").await?;
    ensure!(again.dup, "the re-delivery carries DUP 0");
    ensure!(
        again.packet_id == first.packet_id,
        "re-delivered with id {:?}, first sent as {:?}",
        again.packet_id,
        first.packet_id
    );
    ensure!(
        again.payload == first.payload,
        "a different message was re-delivered"
    );
    s.ack(&again).await
}

/// QoS 2 towards a subscriber: after PUBREC the broker sends PUBREL with the same id; on reconnection the
/// unacknowledged PUBREL is re-sent (not the PUBLISH).
pub async fn pubrel_resent_not_publish(c: Arc<Ctx>) -> TestResult {
    let (mut s, connect, t) = stored_subscriber(&c, QoS::ExactlyOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"two", QoS::ExactlyOnce, false).await?;
    let m = s.expect_publish("the QoS 2 delivery").await?;
    let Some(id) = m.packet_id else {
        fail!("QoS 2 delivery without packet identifier")
    };
    s.send(Packet::PubRec(PubAck::new(id))).await?;
    s.recv_where("PUBREL", |q| matches!(q, Packet::PubRel(a) if a.packet_id == id))
        .await?;
    s.drop_abruptly().await;
    let (mut s, _) = c.connect_with(connect).await?;
    match s.recv("the re-sent PUBREL").await? {
        Packet::PubRel(a) if a.packet_id == id => {}
        other => fail!(
            "expected PUBREL for id {id} after reconnecting, got {}",
            crate::peer::name(&other)
        ),
    }
    s.send(Packet::PubComp(PubAck::new(id))).await?;
    s.expect_no_publish(c.quiet(), "the PUBLISH was re-sent after its PUBREL")
        .await
}

/// Registers the shared publish tests under their 5.0 ids.
pub fn tests() -> Vec<TestCase> {
    use crate::config::Protocol::V5;
    cases!(V5;
        "MQTT-3.3.1-4" => qos3_closes,
        "MQTT-3.3.2-2" => wildcard_topic_closes,
        "MQTT-4.7.0-1" => wildcard_topic_closes,
        "MQTT-4.7.3-1" => empty_topic_closes,
        "MQTT-3.3.2-1" => bad_utf8_topic_closes,
        "MQTT-1.5.4-1" => bad_utf8_topic_closes,
        "MQTT-1.5.4-2" => nul_topic_closes,
        "MQTT-4.7.3-2" => nul_topic_closes,
        "MQTT-1.5.4-3" => bom_not_stripped,
        "MQTT-4.7.3-4" => no_normalisation,
        "MQTT-3.3.2-3" => delivered_topic_matches,
        "MQTT-3.3.4-1" => responses_per_qos,
        "MQTT-2.2.1-5" => responses_per_qos,
        "MQTT-4.3.2-4" => responses_per_qos,
        "MQTT-4.3.3-8" => responses_per_qos,
        "MQTT-4.3.3-11" => responses_per_qos,
        "MQTT-3.3.1-2" => qos0_dup0,
        "MQTT-4.3.1-1" => qos0_dup0,
        "MQTT-3.3.1-3" => dup_not_propagated,
        "MQTT-2.2.1-4" => fresh_ids_dup0,
        "MQTT-4.3.2-1" => fresh_ids_dup0,
        "MQTT-4.3.2-2" => fresh_ids_dup0,
        "MQTT-4.3.3-1" => fresh_ids_dup0,
        "MQTT-4.3.3-2" => fresh_ids_dup0,
        "MQTT-4.6.0-5" => ordered,
        "MQTT-4.6.0-6" => ordered,
        "MQTT-4.3.2-5" => qos1_id_reuse_is_new,
        "MQTT-4.3.3-10" => qos2_exactly_once,
        "MQTT-4.3.3-12" => qos2_exactly_once,
        "MQTT-3.6.1-1" => pubrel_flags,
        "MQTT-2.1.3-1" => reserved_flags_close,
        "MQTT-3.3.1-1" => redelivery_on_reconnect,
        "MQTT-4.3.2-3" => redelivery_on_reconnect,
        "MQTT-4.3.3-3" => redelivery_on_reconnect,
        "MQTT-4.3.3-4" => pubrel_resent_not_publish,
        "MQTT-4.3.3-5" => pubrel_resent_not_publish,
        "MQTT-4.3.3-6" => pubrel_resent_not_publish,
        "MQTT-4.4.0-1" => pubrel_resent_not_publish,
    )
}
