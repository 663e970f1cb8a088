//! SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT (3.8 - 3.14) and topic filter rules (4.7). Shared by both
//! protocols where the behaviour is the same.

use crate::ctx::Ctx;
use crate::peer::name;
use crate::registry::{TestCase, TestResult};
use crate::wire;
use crate::{cases, ensure, fail, not_applicable};
use std::sync::Arc;
use tern_client::filter;
use tern_mqtt_codec::{Packet, QoS, ReasonCode};

/// A SUBSCRIBE with fixed-header flags other than 0010 closes the connection.
pub async fn subscribe_flags(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let mut body = vec![0, 1];
    if c.is_v5() {
        body.push(0);
    }
    body.extend(wire::string(c.topic("t").as_bytes()));
    body.push(0);
    p.send_bytes(&wire::packet(0x80, &body)).await?;
    p.expect_closed("after a SUBSCRIBE with flags 0000").await?;
    Ok(())
}

/// An UNSUBSCRIBE with fixed-header flags other than 0010 closes the connection.
pub async fn unsubscribe_flags(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let mut body = vec![0, 1];
    if c.is_v5() {
        body.push(0);
    }
    body.extend(wire::string(c.topic("t").as_bytes()));
    p.send_bytes(&wire::packet(0xA0, &body)).await?;
    p.expect_closed("after an UNSUBSCRIBE with flags 0000").await?;
    Ok(())
}

/// A SUBSCRIBE without any filter is a protocol error: the connection closes.
pub async fn subscribe_empty(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let body = if c.is_v5() { vec![0, 1, 0] } else { vec![0, 1] };
    p.send_bytes(&wire::packet(0x82, &body)).await?;
    p.expect_closed("after a SUBSCRIBE without filters").await?;
    Ok(())
}

/// An UNSUBSCRIBE without any filter is a protocol error: the connection closes.
pub async fn unsubscribe_empty(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let body = if c.is_v5() { vec![0, 1, 0] } else { vec![0, 1] };
    p.send_bytes(&wire::packet(0xA2, &body)).await?;
    p.expect_closed("after an UNSUBSCRIBE without filters").await?;
    Ok(())
}

/// Reserved bits of the subscription options (or QoS 3) make the SUBSCRIBE malformed: the connection closes.
pub async fn subscribe_reserved_bits(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let mut body = vec![0, 1];
    if c.is_v5() {
        body.push(0);
    }
    body.extend(wire::string(c.topic("t").as_bytes()));
    body.push(0xC1);
    p.send_bytes(&wire::packet(0x82, &body)).await?;
    p.expect_closed("after a SUBSCRIBE with reserved option bits set")
        .await?;
    Ok(())
}

/// A SUBSCRIBE filter with ill-formed UTF-8 closes the connection.
pub async fn subscribe_bad_utf8(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let mut body = vec![0, 1];
    if c.is_v5() {
        body.push(0);
    }
    let mut f = c.topic("x").into_bytes();
    f.extend_from_slice(&[0xC0, 0xAF]); // an over-long encoding of '/'
    body.extend(wire::string(&f));
    body.push(0);
    p.send_bytes(&wire::packet(0x82, &body)).await?;
    p.expect_closed("after a SUBSCRIBE whose filter is ill-formed UTF-8")
        .await?;
    Ok(())
}

/// An UNSUBSCRIBE filter with ill-formed UTF-8 closes the connection.
pub async fn unsubscribe_bad_utf8(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let mut body = vec![0, 1];
    if c.is_v5() {
        body.push(0);
    }
    let mut f = c.topic("x").into_bytes();
    f.extend_from_slice(&[0xFF]);
    body.extend(wire::string(&f));
    p.send_bytes(&wire::packet(0xA2, &body)).await?;
    p.expect_closed("after an UNSUBSCRIBE whose filter is ill-formed UTF-8")
        .await?;
    Ok(())
}

/// A SUBSCRIBE gets a SUBACK with its packet identifier; an UNSUBSCRIBE gets an UNSUBACK with its identifier,
/// even when no subscription was removed.
pub async fn acks_carry_ids(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    // Peer::subscribe / unsubscribe check that the identifiers match.
    p.sub(&c.topic("t"), QoS::AtMostOnce).await?;
    p.unsubscribe(&[c.topic("never-subscribed").as_str()]).await?;
    p.unsubscribe(&[c.topic("t").as_str()]).await?;
    Ok(())
}

/// SUBACK: one code per filter, in order, each the granted QoS (at most the requested) or a failure; a
/// multi-filter SUBSCRIBE acts like one SUBSCRIBE per filter.
pub async fn suback_per_filter(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let topics = [c.topic("q2"), c.topic("q0"), c.topic("q1")];
    let qos = [QoS::ExactlyOnce, QoS::AtMostOnce, QoS::AtLeastOnce];
    let s = p
        .subscribe(
            topics
                .iter()
                .zip(qos)
                .map(|(t, q)| filter(t.clone(), q))
                .collect(),
        )
        .await?;
    ensure!(
        s.reason_codes.len() == 3,
        "SUBACK has {} codes for 3 filters",
        s.reason_codes.len()
    );
    for (i, (rc, q)) in s.reason_codes.iter().zip(qos).enumerate() {
        ensure!(rc.is_success(), "filter {i} refused: {rc:?}");
        ensure!(
            rc.value() <= q as u8,
            "filter {i} requested QoS {} but was granted {}",
            q as u8,
            rc.value()
        );
    }
    ensure!(
        s.reason_codes[1] == ReasonCode::GrantedQoS0,
        "the QoS 0 filter (second) was granted {:?}: codes out of order",
        s.reason_codes[1]
    );
    let (mut publ, _) = c.connect().await?;
    for t in &topics {
        publ.pub_msg(t, b"m", QoS::AtMostOnce, false).await?;
        let m = p.recv_publish("a message for one of the three filters").await?;
        ensure!(
            m.topic.as_str() == t,
            "expected {t:?}, got {:?}",
            m.topic.as_str()
        );
    }
    Ok(())
}

/// A filter the broker refuses (--denied-filter) gets a failure code in the SUBACK, in its position.
pub async fn suback_failure(c: Arc<Ctx>) -> TestResult {
    let Some(denied) = c.cfg.denied_filter.clone() else {
        not_applicable!("no --denied-filter given: the suite knows no filter this broker refuses");
    };
    let (mut p, _) = c.connect().await?;
    let ok = c.topic("ok");
    let s = p
        .subscribe(vec![
            filter(ok.clone(), QoS::AtLeastOnce),
            filter(denied.clone(), QoS::AtLeastOnce),
        ])
        .await?;
    ensure!(
        s.reason_codes.len() == 2,
        "SUBACK has {} codes for 2 filters",
        s.reason_codes.len()
    );
    ensure!(
        s.reason_codes[0].is_success(),
        "the allowed filter was refused: {:?}",
        s.reason_codes[0]
    );
    ensure!(
        !s.reason_codes[1].is_success(),
        "the denied filter {denied:?} was granted {:?}",
        s.reason_codes[1]
    );
    if !c.is_v5() {
        ensure!(
            s.reason_codes[1].value() == 0x80,
            "3.1.1 failure code is {:#04x}, not 0x80",
            s.reason_codes[1].value()
        );
    }
    Ok(())
}

/// Subscribing again to an identical filter replaces the subscription: one copy per message, at the new QoS.
pub async fn resubscribe_replaces(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let (mut p, _) = c.connect().await?;
    p.sub(&t, QoS::AtMostOnce).await?;
    p.sub(&t, QoS::ExactlyOnce).await?;
    let (mut publ, _) = c.connect().await?;
    publ.pub_msg(&t, b"m", QoS::ExactlyOnce, false).await?;
    let m = p.recv_publish("the message after re-subscribing").await?;
    ensure!(
        m.qos == QoS::ExactlyOnce,
        "delivered at QoS {:?}: the old QoS 0 subscription was kept",
        m.qos
    );
    p.expect_no_publish(
        c.quiet(),
        "a second copy arrived: the subscription was added, not replaced",
    )
    .await
}

/// The delivered QoS is the minimum of the published QoS and the granted QoS.
pub async fn min_qos(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"2", QoS::ExactlyOnce, false).await?;
    p.pub_msg(&t, b"0", QoS::AtMostOnce, false).await?;
    let a = s
        .recv_publish("the QoS 2 message on a QoS 1 subscription")
        .await?;
    ensure!(
        a.qos == QoS::AtLeastOnce,
        "a QoS 2 message was delivered at {:?} on a QoS 1 subscription",
        a.qos
    );
    let b = s.recv_publish("the QoS 0 message").await?;
    ensure!(
        b.qos == QoS::AtMostOnce,
        "a QoS 0 message was delivered at {:?}",
        b.qos
    );
    Ok(())
}

/// Overlapping subscriptions: the message is delivered respecting the highest QoS among them.
pub async fn overlapping_max_qos(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("a");
    let (mut s, _) = c.connect().await?;
    s.sub(&t, QoS::AtMostOnce).await?;
    s.sub(&c.topic("+"), QoS::ExactlyOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::ExactlyOnce, false).await?;
    let mut best = s
        .recv_publish("the message for overlapping subscriptions")
        .await?
        .qos;
    while let Some(pk) = s.poll(c.quiet(), "a further copy").await? {
        if let Packet::Publish(m) = pk {
            s.ack(&m).await?;
            best = best.max(m.qos);
        }
    }
    ensure!(
        best == QoS::ExactlyOnce,
        "no copy at QoS 2 (best {:?}) though one subscription granted QoS 2",
        best
    );
    Ok(())
}

/// UNSUBSCRIBE compares filters character by character: unsubscribing a topic that a wildcard subscription
/// matches removes nothing; unsubscribing the exact filter stops deliveries.
pub async fn unsubscribe_exact(c: Arc<Ctx>) -> TestResult {
    let f = c.topic("+");
    let t = c.topic("a");
    let (mut s, _) = c.connect().await?;
    s.sub(&f, QoS::AtMostOnce).await?;
    s.unsubscribe(&[t.as_str()]).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"1", QoS::AtLeastOnce, false).await?;
    s.recv_publish("the message after unsubscribing a different filter")
        .await?;
    s.unsubscribe(&[f.as_str()]).await?;
    p.pub_msg(&t, b"2", QoS::AtLeastOnce, false).await?;
    s.expect_no_publish(c.quiet(), "a message arrived after UNSUBSCRIBE of its filter")
        .await
}

/// A multi-filter UNSUBSCRIBE is one sequence with one UNSUBACK (5.0: one code per filter, in order: 0x00 for
/// the existing subscription, 0x11 for the missing one).
pub async fn unsubscribe_many(c: Arc<Ctx>) -> TestResult {
    let (a, b, missing) = (c.topic("a"), c.topic("b"), c.topic("missing"));
    let (mut s, _) = c.connect().await?;
    s.sub(&a, QoS::AtMostOnce).await?;
    s.sub(&b, QoS::AtMostOnce).await?;
    let u = s.unsubscribe(&[a.as_str(), missing.as_str(), b.as_str()]).await?;
    if c.is_v5() {
        use ReasonCode::{NoSubscriptionExisted as N, Success as S};
        ensure!(
            u.reason_codes == vec![S, N, S],
            "UNSUBACK codes {:?}, expected [0x00, 0x11, 0x00]",
            u.reason_codes
        );
    }
    if let Some(pk) = s.poll(c.quiet(), "anything").await? {
        fail!("a second packet ({}) followed the UNSUBACK", name(&pk));
    }
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&a, b"1", QoS::AtMostOnce, false).await?;
    p.pub_msg(&b, b"2", QoS::AtMostOnce, false).await?;
    s.expect_no_publish(c.quiet(), "a message arrived for an unsubscribed filter")
        .await
}

/// A QoS 2 delivery started before UNSUBSCRIBE completes: the broker still sends PUBREL after our PUBREC.
pub async fn unsubscribe_completes_inflight(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::ExactlyOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::ExactlyOnce, false).await?;
    let m = s.expect_publish("the QoS 2 delivery").await?;
    let Some(id) = m.packet_id else {
        fail!("QoS 2 delivery without packet identifier")
    };
    s.unsubscribe(&[t.as_str()]).await?;
    s.send(Packet::PubRec(tern_mqtt_codec::PubAck::new(id))).await?;
    s.recv_where("PUBREL", |q| matches!(q, Packet::PubRel(a) if a.packet_id == id))
        .await?;
    s.send(Packet::PubComp(tern_mqtt_codec::PubAck::new(id))).await?;
    s.expect_alive("after completing the flow").await
}

/// PINGREQ gets PINGRESP.
pub async fn ping(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    p.send(Packet::PingReq).await?;
    match p.recv("PINGRESP").await? {
        Packet::PingResp => Ok(()),
        other => fail!("PINGREQ answered with {}", name(&other)),
    }
}

/// A DISCONNECT with reserved flags set is malformed: the connection closes.
pub async fn disconnect_flags(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let bytes: &[u8] = if c.is_v5() {
        &[0xE1, 0x01, 0x00]
    } else {
        &[0xE1, 0x00]
    };
    p.send_bytes(bytes).await?;
    p.expect_closed("after a DISCONNECT with a reserved flag set")
        .await?;
    Ok(())
}

/// The first packet on a connection must be CONNECT: anything else is a protocol violation that closes it.
pub async fn first_packet_not_connect(c: Arc<Ctx>) -> TestResult {
    let mut p = c.open().await?;
    p.send_bytes(&[0xC0, 0x00]).await?;
    p.expect_closed("after PINGREQ as the first packet").await?;
    Ok(())
}

/// '#' must be last and alone in its level, '+' must fill its level: such filters are refused (failure code
/// or closed connection).
pub async fn bad_wildcards_refused(c: Arc<Ctx>) -> TestResult {
    for bad in [c.topic("a#"), c.topic("#/a"), c.topic("a+/b")] {
        let (mut p, _) = c.connect().await?;
        let packet_id = p.next_id();
        // The codec refuses to encode an invalid filter, so the packet is built by hand.
        let mut body = packet_id.get().to_be_bytes().to_vec();
        if c.is_v5() {
            body.push(0);
        }
        body.extend(wire::string(bad.as_bytes()));
        body.push(0);
        p.send_bytes(&wire::packet(0x82, &body)).await?;
        match p.poll(c.step(), "SUBACK or close").await {
            Ok(Some(Packet::SubAck(s))) => {
                ensure!(
                    s.reason_codes.first().is_some_and(|r| !r.is_success()),
                    "invalid filter {bad:?} was granted"
                );
            }
            Ok(Some(Packet::Disconnect(_))) | Err(_) => {}
            Ok(Some(other)) => fail!("invalid filter {bad:?} answered with {}", name(&other)),
            Ok(None) => fail!("no answer to a SUBSCRIBE with the invalid filter {bad:?}"),
        }
    }
    Ok(())
}

/// Filters starting with a wildcard do not match topics starting with '$' (which the exact filter receives).
pub async fn dollar_topics(c: Arc<Ctx>) -> TestResult {
    // A level no other test uses, so the wildcard filter can only ever match this test's '$' topic.
    let tag = format!(
        "d{}{}",
        c.cfg.run_id,
        c.base().rsplit('/').next().unwrap_or_default()
    );
    let t = format!("$tern-conformance/{tag}");
    let mut exact = c.subscriber(&t, QoS::AtMostOnce).await?;
    let (mut wild, _) = c.connect().await?;
    let f = format!("+/{tag}");
    let s = wild.subscribe(vec![filter(f.clone(), QoS::AtMostOnce)]).await?;
    if !s.reason_codes.first().is_some_and(|r| r.is_success()) {
        not_applicable!(
            "the broker refused the filter {f:?} ({:?}), so its matching cannot be observed",
            s.reason_codes
        );
    }
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"dollar", QoS::AtMostOnce, false).await?;
    match exact.poll(c.step(), "the message on a $ topic").await? {
        Some(Packet::Publish(_)) => {}
        _ => not_applicable!("the broker does not deliver client publishes on {t:?}"),
    }
    wild.expect_no_publish(c.quiet(), "a filter starting with '+' matched a '$' topic")
        .await
}

/// Registers the subscribe tests under their 5.0 ids.
pub fn tests() -> Vec<TestCase> {
    use crate::config::Protocol::V5;
    cases!(V5;
        "MQTT-3.8.1-1" => subscribe_flags,
        "MQTT-3.10.1-1" => unsubscribe_flags,
        "MQTT-3.8.3-2" => subscribe_empty,
        "MQTT-3.10.3-2" => unsubscribe_empty,
        "MQTT-3.8.3-5" => subscribe_reserved_bits,
        "MQTT-3.8.3-1" => subscribe_bad_utf8,
        "MQTT-3.10.3-1" => unsubscribe_bad_utf8,
        "MQTT-2.2.1-6" => acks_carry_ids,
        "MQTT-3.8.4-1" => acks_carry_ids,
        "MQTT-3.8.4-2" => acks_carry_ids,
        "MQTT-3.10.4-4" => acks_carry_ids,
        "MQTT-3.10.4-5" => acks_carry_ids,
        "MQTT-3.8.4-5" => suback_per_filter,
        "MQTT-3.8.4-6" => suback_per_filter,
        "MQTT-3.9.3-1" => suback_per_filter,
        "MQTT-3.8.4-7" => suback_failure,
        "MQTT-3.9.3-2" => suback_failure,
        "MQTT-3.8.4-3" => resubscribe_replaces,
        "MQTT-3.8.4-8" => min_qos,
        "MQTT-3.3.4-2" => overlapping_max_qos,
        "MQTT-3.10.4-1" => unsubscribe_exact,
        "MQTT-3.10.4-2" => unsubscribe_exact,
        "MQTT-3.10.4-6" => unsubscribe_many,
        "MQTT-3.11.3-1" => unsubscribe_many,
        "MQTT-3.11.3-2" => unsubscribe_many,
        "MQTT-3.10.4-3" => unsubscribe_completes_inflight,
        "MQTT-3.12.4-1" => ping,
        "MQTT-3.14.1-1" => disconnect_flags,
        "MQTT-4.7.1-1" => bad_wildcards_refused,
        "MQTT-4.7.1-2" => bad_wildcards_refused,
        "MQTT-4.7.2-1" => dollar_topics,
    )
}
