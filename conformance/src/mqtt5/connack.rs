//! MQTT 5.0 CONNACK contents and refusals, the broker's DISCONNECT, malformed UTF-8 and properties (3.1 - 3.3,
//! 3.14, 4.12, 4.13), and shared subscriptions (4.8.2).

use crate::ctx::Ctx;
use crate::peer::name;
use crate::registry::{TestCase, TestResult};
use crate::wire;
use crate::{cases, ensure, fail, not_applicable};
use bytes::Bytes;
use std::sync::Arc;
use tern_mqtt_codec::{Packet, PubAck, Publish, QoS, ReasonCode, Will};

/// A plain CONNACK has no Response Information (we did not ask) and no Authentication Method (we sent none),
/// and no AUTH packet follows.
pub async fn connack_no_unrequested(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.properties.request_response_information = Some(false);
    let (mut p, ack) = c.connect_with(connect).await?;
    ensure!(
        ack.properties.response_information.is_none(),
        "Response Information sent though not requested"
    );
    ensure!(
        ack.properties.authentication_method.is_none(),
        "Authentication Method in CONNACK to a CONNECT without one"
    );
    p.expect_alive("after CONNACK").await?;
    if let Some(Packet::Auth(_)) = p.poll(c.quiet(), "anything").await? {
        fail!("the broker sent AUTH to a client that uses no authentication method");
    }
    Ok(())
}

/// An unknown Authentication Method is refused with a CONNACK of 0x80 or above, Session Present 0 (even with a
/// stored session), a reason code from the CONNACK table, and the connection closes.
pub async fn unknown_auth_method(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    c.session(&id);
    let mut first = c.connect_packet(&id);
    first.clean_start = false;
    first.properties.session_expiry_interval = Some(60);
    let (p, _) = c.connect_with(first.clone()).await?;
    p.disconnect().await;
    first.properties.authentication_method = Some("tern-conformance-unknown-method".into());
    let (mut p, ack) = c.try_connect(first).await?;
    ensure!(
        !ack.reason_code.is_success(),
        "the broker accepted an unknown authentication method without AUTH exchange"
    );
    ensure!(
        ack.reason_code.is_valid_for(tern_mqtt_codec::PacketType::ConnAck),
        "CONNACK reason {:?} is not a CONNACK code",
        ack.reason_code
    );
    ensure!(!ack.session_present, "a refusing CONNACK has Session Present 1");
    p.expect_closed("after a refusing CONNACK").await?;
    Ok(())
}

/// A failed authentication check (a user name and password the broker does not know) closes the connection.
pub async fn bad_credentials(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.username = Some("tern-conformance-nobody".into());
    connect.password = Some(Bytes::from_static(b"wrong-password"));
    let (mut p, ack) = c.try_connect(connect).await?;
    if ack.reason_code.is_success() {
        not_applicable!("the broker accepts unknown users, so there is no failing check to observe");
    }
    p.expect_closed("after refusing the credentials").await?;
    Ok(())
}

/// Maximum QoS: absent means QoS 2 is supported (a QoS 2 publish is accepted); SUBSCRIBE at QoS 0, 1 and 2 is
/// accepted either way.
pub async fn maximum_qos(c: Arc<Ctx>) -> TestResult {
    let (mut p, ack) = c.connect().await?;
    let max = ack.properties.maximum_qos.unwrap_or(QoS::ExactlyOnce);
    let s = p
        .subscribe(
            [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
                .iter()
                .enumerate()
                .map(|(i, q)| tern_client::filter(c.topic(&format!("q{i}")), *q))
                .collect(),
        )
        .await?;
    for (i, rc) in s.reason_codes.iter().enumerate() {
        ensure!(
            rc.is_success(),
            "SUBSCRIBE at QoS {i} refused ({rc:?}) by a broker with Maximum QoS {}",
            max as u8
        );
    }
    let mut m = Publish::new(c.topic("q2"), Bytes::from_static(b"m"));
    m.qos = max;
    if let Some(a) = p.publish(m).await? {
        ensure!(
            a.reason_code.is_success(),
            "a publish at the announced Maximum QoS {} was refused: {:?}",
            max as u8,
            a.reason_code
        );
    }
    Ok(())
}

/// A will QoS above the broker's Maximum QoS is refused (0x9B) and the connection closed.
pub async fn will_qos_above_max(c: Arc<Ctx>) -> TestResult {
    let (p, ack) = c.connect().await?;
    p.disconnect().await;
    let Some(max) = ack.properties.maximum_qos else {
        not_applicable!("the broker supports QoS 2")
    };
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.will = Some(Will {
        topic: c.topic("will").into(),
        payload: Bytes::from_static(b"w"),
        qos: QoS::ExactlyOnce,
        retain: false,
        properties: Default::default(),
    });
    let (mut p, ack) = c.try_connect(connect).await?;
    ensure!(
        !ack.reason_code.is_success(),
        "a will at QoS 2 was accepted by a broker with Maximum QoS {}",
        max as u8
    );
    p.expect_closed("after refusing the will QoS").await?;
    Ok(())
}

/// A retained will is refused (0x9A) by a broker without retain support, and the connection closed.
pub async fn will_retain_unsupported(c: Arc<Ctx>) -> TestResult {
    let (p, ack) = c.connect().await?;
    p.disconnect().await;
    if ack.properties.retain_available != Some(false) {
        not_applicable!("the broker supports retained messages");
    }
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.will = Some(Will {
        topic: c.topic("will").into(),
        payload: Bytes::from_static(b"w"),
        qos: QoS::AtMostOnce,
        retain: true,
        properties: Default::default(),
    });
    let (mut p, ack) = c.try_connect(connect).await?;
    ensure!(
        !ack.reason_code.is_success(),
        "a retained will was accepted by a broker without retain support"
    );
    p.expect_closed("after refusing the retained will").await?;
    Ok(())
}

/// A protocol error after CONNACK (topic alias 0) gets a DISCONNECT with a valid code and no Session Expiry
/// Interval, then the close, with nothing in between.
pub async fn broker_disconnect(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    // Topic Alias property (0x23) with value 0.
    p.send_bytes(&wire::publish(true, c.topic("t").as_bytes(), &[0x23, 0, 0], b"x"))
        .await?;
    if let Some(d) = p.expect_closed("after a PUBLISH with Topic Alias 0").await? {
        ensure!(
            d.reason_code.value() >= 0x80,
            "DISCONNECT for a protocol error carries {:?}",
            d.reason_code
        );
        ensure!(
            d.properties.session_expiry_interval.is_none(),
            "the broker's DISCONNECT carries a Session Expiry Interval"
        );
    }
    Ok(())
}

/// A packet with ill-formed UTF-8 in a CONNECT field closes the connection without accepting it.
async fn bad_connect_field(c: &Ctx, flags: u8, fields: &[&[u8]], what: &str) -> TestResult {
    let mut payload = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if i == 1 && flags & 0x04 != 0 {
            payload.push(0); // will properties length
        }
        payload.extend(wire::string(f));
    }
    let bytes = wire::connect(b"MQTT", if c.is_v5() { 5 } else { 4 }, flags, &payload);
    let r = c.probe(&bytes).await?;
    if let Some((_, 0)) = r.connack() {
        fail!("the broker accepted a CONNECT whose {what} is ill-formed UTF-8");
    }
    ensure!(
        r.closed,
        "the connection stayed open after a CONNECT whose {what} is ill-formed UTF-8"
    );
    Ok(())
}

/// A client identifier that is not UTF-8 is refused and the connection closed.
pub async fn client_id_not_utf8(c: Arc<Ctx>) -> TestResult {
    bad_connect_field(&c, 0x02, &[b"tc\xFF\xFE"], "client identifier").await
}

/// A will topic that is not UTF-8 is refused and the connection closed.
pub async fn will_topic_not_utf8(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    bad_connect_field(&c, 0x06, &[id.as_bytes(), b"w/\xC3", b"payload"], "will topic").await
}

/// A user name that is not UTF-8 is refused and the connection closed.
pub async fn username_not_utf8(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    bad_connect_field(&c, 0x82, &[id.as_bytes(), b"user\xED\xBF\xBF"], "user name").await
}

/// A PUBLISH whose property `props` is invalid closes the connection and is not delivered.
async fn bad_publish_property(c: &Ctx, props: &[u8], what: &str) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::AtMostOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.send_bytes(&wire::publish(true, t.as_bytes(), props, b"x"))
        .await?;
    p.expect_closed(&format!("after a PUBLISH with {what}")).await?;
    s.expect_no_publish(c.quiet(), &format!("a PUBLISH with {what} was delivered"))
        .await
}

/// A User Property whose strings are not UTF-8 closes the connection.
pub async fn user_property_not_utf8(c: Arc<Ctx>) -> TestResult {
    let mut props = vec![0x26];
    props.extend(wire::string(b"k"));
    props.extend(wire::string(b"v\xFF"));
    bad_publish_property(&c, &props, "a User Property value that is not UTF-8").await
}

/// A Response Topic that is not UTF-8 closes the connection.
pub async fn response_topic_not_utf8(c: Arc<Ctx>) -> TestResult {
    let mut props = vec![0x08];
    props.extend(wire::string(b"r/\xC0\x80"));
    bad_publish_property(&c, &props, "a Response Topic that is not UTF-8").await
}

/// A Response Topic with a wildcard closes the connection.
pub async fn response_topic_wildcard(c: Arc<Ctx>) -> TestResult {
    let mut props = vec![0x08];
    props.extend(wire::string(b"reply/#"));
    bad_publish_property(&c, &props, "a Response Topic containing '#'").await
}

/// A Content Type that is not UTF-8 closes the connection.
pub async fn content_type_not_utf8(c: Arc<Ctx>) -> TestResult {
    let mut props = vec![0x03];
    props.extend(wire::string(b"text/\xFF"));
    bad_publish_property(&c, &props, "a Content Type that is not UTF-8").await
}

fn share(c: &Ctx, group: &str, leaf: &str) -> String {
    format!("$share/{group}/{}", c.topic(leaf))
}

/// Invalid shared subscription filters ($share/ with an empty or wildcard ShareName, or no filter) are
/// refused (failure code or close).
pub async fn shared_filter_syntax(c: Arc<Ctx>) -> TestResult {
    let (p, ack) = c.connect().await?;
    p.disconnect().await;
    if ack.properties.shared_subscription_available == Some(false) {
        not_applicable!("the broker announces Shared Subscription Available 0");
    }
    for bad in [
        "$share//x".to_owned(),
        format!("$share/g+/{}", c.topic("x")),
        "$share/g".to_owned(),
    ] {
        let (mut p, _) = c.connect().await?;
        let mut body = vec![0, 1, 0];
        body.extend(wire::string(bad.as_bytes()));
        body.push(0);
        p.send_bytes(&wire::packet(0x82, &body)).await?;
        match p.poll(c.step(), "SUBACK or close").await {
            Ok(Some(Packet::SubAck(s))) => ensure!(
                s.reason_codes.first().is_some_and(|r| !r.is_success()),
                "invalid shared filter {bad:?} was granted"
            ),
            Ok(Some(Packet::Disconnect(_))) | Err(_) => {}
            Ok(Some(other)) => fail!("invalid shared filter {bad:?} answered with {}", name(&other)),
            Ok(None) => fail!("no answer to SUBSCRIBE {bad:?}"),
        }
    }
    Ok(())
}

/// A shared subscription delivers at its granted QoS (QoS 0 here, for a QoS 1 publish).
pub async fn shared_granted_qos(c: Arc<Ctx>) -> TestResult {
    let (mut s, ack) = c.connect().await?;
    if ack.properties.shared_subscription_available == Some(false) {
        not_applicable!("the broker announces Shared Subscription Available 0");
    }
    s.sub(&share(&c, "g", "t"), QoS::AtMostOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&c.topic("t"), b"m", QoS::AtLeastOnce, false).await?;
    let m = s.recv_publish("the shared subscription's message").await?;
    ensure!(
        m.qos == QoS::AtMostOnce,
        "delivered at {:?} on a shared subscription granted QoS 0",
        m.qos
    );
    Ok(())
}

/// A shared-subscription message refused with PUBACK 0x80 is discarded, not sent to another member.
pub async fn shared_refused_discarded(c: Arc<Ctx>) -> TestResult {
    let (mut a, ack) = c.connect().await?;
    if ack.properties.shared_subscription_available == Some(false) {
        not_applicable!("the broker announces Shared Subscription Available 0");
    }
    let f = share(&c, "g", "t");
    a.sub(&f, QoS::AtLeastOnce).await?;
    let mut b = c.subscriber(&f, QoS::AtLeastOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&c.topic("t"), b"refuse-me", QoS::AtLeastOnce, false)
        .await?;
    let (m, at_a) = tokio::select! {
        m = a.expect_publish("the shared message at either member") => (m?, true),
        m = b.expect_publish("the shared message at either member") => (m?, false),
    };
    let Some(id) = m.packet_id else {
        fail!("QoS 1 delivery without packet identifier")
    };
    let mut nack = PubAck::new(id);
    nack.reason_code = ReasonCode::UnspecifiedError;
    let (refuser, rest) = if at_a { (&mut a, &mut b) } else { (&mut b, &mut a) };
    refuser.send(Packet::PubAck(nack)).await?;
    rest.expect_no_publish(
        c.quiet(),
        "a message refused by one shared subscriber went to another",
    )
    .await?;
    refuser
        .expect_no_publish(c.quiet(), "a refused shared message was sent again")
        .await
}

/// Registers the MQTT 5.0 CONNACK, DISCONNECT, malformed-input and shared-subscription tests.
pub fn tests() -> Vec<TestCase> {
    use crate::config::Protocol::V5;
    cases!(V5;
        "MQTT-3.1.2-28" => connack_no_unrequested,
        "MQTT-4.12.0-6" => connack_no_unrequested,
        "MQTT-3.2.2-6" => unknown_auth_method,
        "MQTT-3.2.2-7" => unknown_auth_method,
        "MQTT-3.2.2-8" => unknown_auth_method,
        "MQTT-4.12.0-1" => unknown_auth_method,
        "MQTT-4.13.2-1" => unknown_auth_method,
        "MQTT-3.1.4-2" => bad_credentials,
        "MQTT-3.2.2-9" => maximum_qos,
        "MQTT-3.2.2-10" => maximum_qos,
        "MQTT-3.2.2-12" => will_qos_above_max,
        "MQTT-3.2.2-13" => will_retain_unsupported,
        "MQTT-3.3.2-8" => broker_disconnect,
        "MQTT-3.14.2-1" => broker_disconnect,
        "MQTT-3.14.2-2" => broker_disconnect,
        "MQTT-3.14.4-1" => broker_disconnect,
        "MQTT-3.14.4-2" => broker_disconnect,
        "MQTT-4.13.1-1" => broker_disconnect,
        "MQTT-3.1.3-4" => client_id_not_utf8,
        "MQTT-3.1.3-11" => will_topic_not_utf8,
        "MQTT-3.1.3-12" => username_not_utf8,
        "MQTT-1.5.7-1" => user_property_not_utf8,
        "MQTT-3.3.2-13" => response_topic_not_utf8,
        "MQTT-3.3.2-14" => response_topic_wildcard,
        "MQTT-3.3.2-19" => content_type_not_utf8,
        "MQTT-4.8.2-1" => shared_filter_syntax,
        "MQTT-4.8.2-2" => shared_filter_syntax,
        "MQTT-4.8.2-3" => shared_granted_qos,
        "MQTT-4.8.2-6" => shared_refused_discarded,
    )
}

/// A member of shared group `g` on this test's topic `t`, with a stored session (expiry `expiry`).
async fn shared_member(
    c: &Ctx,
    expiry: u32,
) -> Result<(crate::peer::Peer, tern_mqtt_codec::Connect), crate::Stop> {
    let id = c.client_id();
    c.session(&id);
    let mut connect = c.connect_packet(&id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(expiry);
    let (mut p, ack) = c.connect_with(connect.clone()).await?;
    if ack.properties.shared_subscription_available == Some(false) {
        return Err(crate::Stop::NotApplicable(
            "the broker announces Shared Subscription Available 0".into(),
        ));
    }
    p.sub(&share(c, "g", "t"), QoS::ExactlyOnce).await?;
    Ok((p, connect))
}

/// A QoS 2 shared-subscription message whose delivery started to a client that disconnected is completed
/// when that client reconnects. (For QoS 1 the spec lets the server move the message to another member
/// instead, so only QoS 2 is bound by this statement.)
pub async fn shared_completed_on_reconnect(c: Arc<Ctx>) -> TestResult {
    let (mut a, connect) = shared_member(&c, 300).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&c.topic("t"), b"m", QoS::ExactlyOnce, false).await?;
    let first = a
        .expect_publish("the shared message (left unacknowledged)")
        .await?;
    a.drop_abruptly().await;
    let (mut a, _) = c.connect_with(connect).await?;
    let again = a
        .expect_publish("the shared message again after reconnecting")
        .await?;
    ensure!(
        again.payload == first.payload,
        "a different message was re-delivered: {:?}",
        again.payload
    );
    ensure!(
        again.dup,
        "the shared message was re-delivered with DUP 0 (a re-delivery sets DUP, [MQTT-3.3.1-1])"
    );
    a.ack(&again).await
}

/// If that client's session ends before it reconnects, the QoS 2 message is not sent to another member.
/// (A QoS 1 message SHOULD go to another member: only QoS 2 is bound by this statement.)
pub async fn shared_not_moved_on_session_end(c: Arc<Ctx>) -> TestResult {
    let (mut a, _) = shared_member(&c, 0).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&c.topic("t"), b"m", QoS::ExactlyOnce, false).await?;
    a.expect_publish("the shared message (left unacknowledged)")
        .await?;
    let mut b = c.subscriber(&share(&c, "g", "t"), QoS::ExactlyOnce).await?;
    a.drop_abruptly().await;
    b.expect_no_publish(
        c.quiet(),
        "a message of an ended session went to another shared subscriber",
    )
    .await
}

/// CONNACK's reserved flag bits 7-1 are 0 (read from the raw bytes).
pub async fn connack_reserved_bits(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let mut bytes = wire::simple_connect(if c.is_v5() { 5 } else { 4 }, &id);
    bytes.extend_from_slice(if c.is_v5() {
        &[0xE0, 0x01, 0x00]
    } else {
        &[0xE0, 0x00]
    });
    let r = c.probe(&bytes).await?;
    match r.connack() {
        Some((flags, _)) => ensure!(flags & 0xFE == 0, "CONNACK flags byte is {flags:#04x}"),
        None => fail!("no CONNACK (got {:02x?})", r.bytes),
    }
    Ok(())
}

/// With a small Maximum Packet Size (64 bytes) the broker leaves out Reason Strings and User Properties that
/// would exceed it: no CONNACK, SUBACK, UNSUBACK, PUBACK, PUBREC, PUBCOMP or DISCONNECT above 64 bytes, even
/// for refusals that tempt a reason string.
pub async fn small_max_packet_acks(c: Arc<Ctx>) -> TestResult {
    const MAX: usize = 64;
    let size = |p: &Packet| {
        tern_mqtt_codec::encoded_len(p, tern_mqtt_codec::ProtocolVersion::V5).unwrap_or(usize::MAX)
    };
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.properties.maximum_packet_size = Some(MAX as u32);
    connect.properties.request_problem_information = Some(true);
    let (mut p, ack) = c.try_connect(connect).await?;
    let n = size(&Packet::ConnAck(Box::new(ack.clone())));
    ensure!(n <= MAX, "a {n}-byte CONNACK for Maximum Packet Size {MAX}");
    ensure!(ack.reason_code.is_success(), "CONNACK {:?}", ack.reason_code);
    let mut filters = vec![tern_client::filter(c.topic("t"), QoS::ExactlyOnce)];
    if let Some(d) = &c.cfg.denied_filter {
        filters.push(tern_client::filter(d.clone(), QoS::AtMostOnce));
    }
    let sa = p.subscribe(filters).await?;
    let n = size(&Packet::SubAck(sa));
    ensure!(n <= MAX, "a {n}-byte SUBACK for Maximum Packet Size {MAX}");
    let ua = p.unsubscribe(&[c.topic("never").as_str()]).await?;
    let n = size(&Packet::UnsubAck(ua));
    ensure!(n <= MAX, "a {n}-byte UNSUBACK for Maximum Packet Size {MAX}");
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut m = Publish::new(c.topic("nobody"), Bytes::from_static(b"m"));
        m.qos = qos;
        if let Some(a) = p.publish(m).await? {
            let n = size(&Packet::PubAck(a));
            ensure!(
                n <= MAX,
                "a {n}-byte acknowledgement of a QoS {} publish",
                qos as u8
            );
        }
    }
    p.send_bytes(&wire::publish(true, c.topic("t").as_bytes(), &[0x23, 0, 0], b"x"))
        .await?;
    if let Some(d) = p.expect_closed("after a PUBLISH with Topic Alias 0").await? {
        let n = size(&Packet::Disconnect(d));
        ensure!(n <= MAX, "a {n}-byte DISCONNECT for Maximum Packet Size {MAX}");
    }
    Ok(())
}

/// Registers the tests added for the remaining CONNACK, size and shared-subscription statements.
pub fn more_tests() -> Vec<TestCase> {
    use crate::config::Protocol::V5;
    cases!(V5;
        "MQTT-4.8.2-4" => shared_completed_on_reconnect,
        "MQTT-4.8.2-5" => shared_not_moved_on_session_end,
        "MQTT-3.2.2-1" => connack_reserved_bits,
        "MQTT-3.2.2-19" => small_max_packet_acks,
        "MQTT-3.2.2-20" => small_max_packet_acks,
        "MQTT-3.4.2-2" => small_max_packet_acks,
        "MQTT-3.4.2-3" => small_max_packet_acks,
        "MQTT-3.5.2-2" => small_max_packet_acks,
        "MQTT-3.5.2-3" => small_max_packet_acks,
        "MQTT-3.7.2-2" => small_max_packet_acks,
        "MQTT-3.7.2-3" => small_max_packet_acks,
        "MQTT-3.9.2-1" => small_max_packet_acks,
        "MQTT-3.9.2-2" => small_max_packet_acks,
        "MQTT-3.11.2-1" => small_max_packet_acks,
        "MQTT-3.11.2-2" => small_max_packet_acks,
        "MQTT-3.14.2-3" => small_max_packet_acks,
        "MQTT-3.14.2-4" => small_max_packet_acks,
    )
}
