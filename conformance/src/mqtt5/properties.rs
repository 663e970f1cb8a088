//! MQTT 5.0 PUBLISH properties and flow control (3.3.2, 3.3.4, 4.9): forwarding unaltered, message expiry,
//! topic aliases, subscription identifiers, Receive Maximum, Maximum Packet Size, No Local.

use crate::ctx::Ctx;
use crate::peer::Peer;
use crate::registry::{Stop, TestCase, TestResult};
use crate::{cases, ensure, fail, not_applicable};
use bytes::Bytes;
use std::num::{NonZeroU16, NonZeroU32};
use std::sync::Arc;
use std::time::Duration;
use tern_mqtt_codec::{
    Packet, PubAck, Publish, PublishProperties, QoS, ReasonCode, SubscribeFilter, SubscribeProperties,
    SubscriptionOptions,
};

/// The properties a publisher sets, to be forwarded unaltered.
fn sent_properties() -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(true),
        response_topic: Some("reply/to/me".into()),
        correlation_data: Some(Bytes::from_static(&[0, 1, 2, 0xFF])),
        user_properties: vec![
            ("z".into(), "1".into()),
            ("a".into(), "2".into()),
            ("z".into(), "0".into()),
        ],
        content_type: Some("text/plain; charset=utf-8".into()),
        ..PublishProperties::default()
    }
}

/// Publishes a message with every forwardable property and returns what the subscriber received.
async fn forwarded(c: &Ctx) -> Result<Publish, Stop> {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let (mut p, _) = c.connect().await?;
    let mut m = Publish::new(t, Bytes::from_static(b"payload"));
    m.qos = QoS::AtLeastOnce;
    m.properties = sent_properties();
    p.publish(m).await?;
    s.recv_publish("the message with properties").await
}

/// The Payload Format Indicator is forwarded unaltered.
pub async fn fwd_payload_format(c: Arc<Ctx>) -> TestResult {
    let m = forwarded(&c).await?;
    ensure!(
        m.properties.payload_format_indicator == Some(true),
        "Payload Format Indicator arrived as {:?}",
        m.properties.payload_format_indicator
    );
    Ok(())
}

/// The Response Topic is forwarded unaltered.
pub async fn fwd_response_topic(c: Arc<Ctx>) -> TestResult {
    let m = forwarded(&c).await?;
    ensure!(
        m.properties.response_topic == sent_properties().response_topic,
        "Response Topic arrived as {:?}",
        m.properties.response_topic
    );
    Ok(())
}

/// The Correlation Data is forwarded unaltered.
pub async fn fwd_correlation(c: Arc<Ctx>) -> TestResult {
    let m = forwarded(&c).await?;
    ensure!(
        m.properties.correlation_data == sent_properties().correlation_data,
        "Correlation Data arrived as {:?}",
        m.properties.correlation_data
    );
    Ok(())
}

/// Every User Property is forwarded unaltered.
pub async fn fwd_user_properties(c: Arc<Ctx>) -> TestResult {
    let m = forwarded(&c).await?;
    let mut got = m.properties.user_properties.clone();
    let mut want = sent_properties().user_properties;
    got.sort();
    want.sort();
    ensure!(
        got == want,
        "User Properties arrived as {:?}",
        m.properties.user_properties
    );
    Ok(())
}

/// User Properties keep their order.
pub async fn fwd_user_property_order(c: Arc<Ctx>) -> TestResult {
    let m = forwarded(&c).await?;
    ensure!(
        m.properties.user_properties == sent_properties().user_properties,
        "User Properties arrived as {:?}",
        m.properties.user_properties
    );
    Ok(())
}

/// The Content Type is forwarded unaltered.
pub async fn fwd_content_type(c: Arc<Ctx>) -> TestResult {
    let m = forwarded(&c).await?;
    ensure!(
        m.properties.content_type == sent_properties().content_type,
        "Content Type arrived as {:?}",
        m.properties.content_type
    );
    Ok(())
}

/// A subscriber with a stored session, disconnected: returns its CONNECT and topic.
async fn offline_subscriber(c: &Ctx) -> Result<(tern_mqtt_codec::Connect, String), Stop> {
    let id = c.client_id();
    c.session(&id);
    let t = c.topic("t");
    let mut connect = c.connect_packet(&id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(300);
    let (mut s, _) = c.connect_with(connect.clone()).await?;
    s.sub(&t, QoS::AtLeastOnce).await?;
    s.disconnect().await;
    Ok((connect, t))
}

async fn publish_expiring(c: &Ctx, t: &str, payload: &'static [u8], expiry: u32) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let mut m = Publish::new(t.to_owned(), Bytes::from_static(payload));
    m.qos = QoS::AtLeastOnce;
    m.properties.message_expiry_interval = Some(expiry);
    p.publish(m).await?;
    Ok(())
}

/// A message whose expiry passed while the subscriber was away is not delivered.
pub async fn expired_not_delivered(c: Arc<Ctx>) -> TestResult {
    let (connect, t) = offline_subscriber(&c).await?;
    publish_expiring(&c, &t, b"expires", 1).await?;
    publish_expiring(&c, &t, b"lives", 300).await?;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (mut s, _) = c.connect_with(connect).await?;
    let m = s.recv_publish("the message that has not expired").await?;
    ensure!(
        m.payload.as_ref() == b"lives",
        "an expired message was delivered ({:?})",
        m.payload
    );
    s.expect_no_publish(c.quiet(), "an expired message was delivered")
        .await
}

/// The forwarded Message Expiry Interval is reduced by the time the message waited.
pub async fn expiry_reduced(c: Arc<Ctx>) -> TestResult {
    let (connect, t) = offline_subscriber(&c).await?;
    publish_expiring(&c, &t, b"m", 60).await?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (mut s, _) = c.connect_with(connect).await?;
    let m = s.recv_publish("the stored message").await?;
    match m.properties.message_expiry_interval {
        Some(v) if v <= 58 => Ok(()),
        other => fail!("after waiting 2 s a 60 s expiry arrived as {other:?}"),
    }
}

/// Collects the PUBLISHes that arrive within `quiet`, acknowledging each.
async fn collect(p: &mut Peer, first_wait: Duration, quiet: Duration) -> Result<Vec<Publish>, Stop> {
    let mut out = Vec::new();
    let mut wait = first_wait;
    while let Some(pk) = p.poll(wait, "a publish").await? {
        if let Packet::Publish(m) = pk {
            p.ack(&m).await?;
            out.push(m);
        }
        wait = quiet;
    }
    Ok(out)
}

/// The broker's topic aliases towards a client stay within the client's Topic Alias Maximum.
pub async fn aliases_within_client_max(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.properties.topic_alias_maximum = Some(2);
    let (mut s, _) = c.connect_with(connect).await?;
    s.sub(&c.topic("#"), QoS::AtMostOnce).await?;
    let (mut p, _) = c.connect().await?;
    for i in 0..12 {
        p.pub_msg(&c.topic(&format!("t{}", i % 4)), b"m", QoS::AtMostOnce, false)
            .await?;
    }
    let got = collect(&mut s, c.step(), c.quiet()).await?;
    ensure!(got.len() == 12, "received {} of 12 messages", got.len());
    for m in got {
        if let Some(a) = m.properties.topic_alias {
            ensure!(
                a.get() <= 2,
                "the broker used topic alias {a} above our maximum of 2"
            );
        }
    }
    Ok(())
}

/// Without a Topic Alias Maximum from the client, the broker sends no topic aliases.
pub async fn no_aliases_without_max(c: Arc<Ctx>) -> TestResult {
    let mut s = c.subscriber(&c.topic("#"), QoS::AtMostOnce).await?;
    let (mut p, _) = c.connect().await?;
    for _ in 0..5 {
        p.pub_msg(&c.topic("t"), b"m", QoS::AtMostOnce, false).await?;
    }
    let got = collect(&mut s, c.step(), c.quiet()).await?;
    ensure!(got.len() == 5, "received {} of 5 messages", got.len());
    ensure!(
        got.iter().all(|m| m.properties.topic_alias.is_none()),
        "the broker sent a topic alias to a client that allowed none"
    );
    Ok(())
}

/// The broker accepts every topic alias from 1 to the maximum it announced.
pub async fn aliases_accepted(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::AtMostOnce).await?;
    let (mut p, ack) = c.connect().await?;
    let max = ack.properties.topic_alias_maximum.unwrap_or(0);
    let Some(max) = NonZeroU16::new(max) else {
        not_applicable!("the broker accepts no topic aliases (Topic Alias Maximum 0)")
    };
    for alias in [NonZeroU16::MIN, max] {
        let mut m = Publish::new(t.clone(), Bytes::from_static(b"set"));
        m.properties.topic_alias = Some(alias);
        p.publish(m).await?;
        let mut m = Publish::new(String::new(), Bytes::from_static(b"use"));
        m.properties.topic_alias = Some(alias);
        p.publish(m).await?;
        for want in [&b"set"[..], b"use"] {
            let got = s.recv_publish("a message published with a topic alias").await?;
            ensure!(
                got.topic.as_str() == t && got.payload.as_ref() == want,
                "alias {alias}: got {:?} on {:?}",
                got.payload,
                got.topic.as_str()
            );
        }
    }
    Ok(())
}

/// Topic alias mappings do not survive the connection: a new connection using alias 1 without a topic is a
/// protocol error, and nothing is delivered.
pub async fn aliases_not_carried_over(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::AtMostOnce).await?;
    let id = c.client_id();
    let (mut p, ack) = c.connect_with(c.connect_packet(&id)).await?;
    if ack.properties.topic_alias_maximum.unwrap_or(0) == 0 {
        not_applicable!("the broker accepts no topic aliases");
    }
    let mut m = Publish::new(t.clone(), Bytes::from_static(b"set"));
    m.properties.topic_alias = Some(NonZeroU16::MIN);
    p.publish(m).await?;
    s.recv_publish("the message that set the alias").await?;
    p.disconnect().await;
    let (mut p, _) = c.connect_with(c.connect_packet(&id)).await?;
    let mut m = Publish::new(String::new(), Bytes::from_static(b"stale"));
    m.properties.topic_alias = Some(NonZeroU16::MIN);
    p.publish(m).await?;
    p.expect_closed("after using an alias of the previous connection")
        .await?;
    s.expect_no_publish(
        c.quiet(),
        "a message published with a previous connection's alias was delivered",
    )
    .await
}

/// Subscription Identifiers of overlapping subscriptions are sent: one copy carries all of them, or each copy
/// carries its own.
pub async fn subscription_ids(c: Arc<Ctx>) -> TestResult {
    let (mut s, ack) = c.connect().await?;
    if ack.properties.subscription_identifiers_available == Some(false) {
        not_applicable!("the broker announces Subscription Identifiers Available 0");
    }
    for (f, id) in [(c.topic("a"), 1u32), (c.topic("+"), 2u32)] {
        let props = SubscribeProperties {
            subscription_identifier: NonZeroU32::new(id),
            ..Default::default()
        };
        let r = s
            .subscribe_with(vec![tern_client::filter(f, QoS::AtMostOnce)], props)
            .await?;
        ensure!(
            r.reason_codes.first().is_some_and(|r| r.is_success()),
            "SUBSCRIBE with an identifier refused: {:?}",
            r.reason_codes
        );
    }
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&c.topic("a"), b"m", QoS::AtMostOnce, false).await?;
    let got = collect(&mut s, c.step(), c.quiet()).await?;
    let ids: Vec<Vec<u32>> = got
        .iter()
        .map(|m| {
            m.properties
                .subscription_identifiers
                .iter()
                .map(|i| i.get())
                .collect()
        })
        .collect();
    match ids.as_slice() {
        [one] => {
            let mut one = one.clone();
            one.sort_unstable();
            ensure!(
                one == vec![1, 2],
                "the single copy carries identifiers {one:?}, expected [1, 2]"
            );
        }
        [a, b] => {
            let mut all = [a.clone(), b.clone()];
            all.sort();
            ensure!(
                all == [vec![1], vec![2]],
                "the two copies carry identifiers {a:?} and {b:?}"
            );
        }
        other => fail!(
            "{} copies arrived for two overlapping subscriptions ({other:?})",
            other.len()
        ),
    }
    Ok(())
}

/// The broker keeps at most the client's Receive Maximum QoS 1 messages unacknowledged, keeps answering other
/// packets meanwhile, and sends the next once one is acknowledged.
pub async fn receive_maximum(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.properties.receive_maximum = Some(2);
    let (mut s, _) = c.connect_with(connect).await?;
    s.sub(&t, QoS::AtLeastOnce).await?;
    let (mut p, _) = c.connect().await?;
    for i in 0..5u8 {
        let mut m = Publish::new(t.clone(), Bytes::from(vec![b'0' + i]));
        m.qos = QoS::AtLeastOnce;
        p.publish(m).await?;
    }
    let a = s.expect_publish("the first unacknowledged message").await?;
    s.expect_publish("the second unacknowledged message").await?;
    s.expect_no_publish(
        c.quiet(),
        "a third QoS 1 message arrived with Receive Maximum 2 and none acknowledged",
    )
    .await?;
    s.expect_alive("with the send quota at zero").await?;
    s.ack(&a).await?;
    s.expect_publish("the third message after one acknowledgement")
        .await?;
    Ok(())
}

/// No Local: a client's own messages are not sent back on a No Local subscription; others' are.
pub async fn no_local(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let (mut s, _) = c.connect().await?;
    let opts = SubscriptionOptions {
        qos: QoS::AtMostOnce,
        no_local: true,
        ..SubscriptionOptions::default()
    };
    s.subscribe(vec![SubscribeFilter {
        filter: t.clone().into(),
        options: opts,
    }])
    .await?;
    s.pub_msg(&t, b"own", QoS::AtLeastOnce, false).await?;
    s.expect_no_publish(c.quiet(), "a No Local subscription received its own message")
        .await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"other", QoS::AtLeastOnce, false).await?;
    let m = s.recv_publish("another client's message").await?;
    ensure!(m.payload.as_ref() == b"other", "got {:?}", m.payload);
    Ok(())
}

/// No Local on a shared subscription is a protocol error: the connection closes.
pub async fn no_local_shared(c: Arc<Ctx>) -> TestResult {
    let (mut s, ack) = c.connect().await?;
    if ack.properties.shared_subscription_available == Some(false) {
        not_applicable!("the broker announces Shared Subscription Available 0");
    }
    let f = format!("$share/g{}/{}", c.cfg.run_id, c.topic("t"));
    let opts = SubscriptionOptions {
        qos: QoS::AtMostOnce,
        no_local: true,
        ..SubscriptionOptions::default()
    };
    let id = s.next_id();
    s.send(Packet::Subscribe(tern_mqtt_codec::Subscribe {
        packet_id: id,
        properties: Default::default(),
        filters: vec![SubscribeFilter {
            filter: f.into(),
            options: opts,
        }],
    }))
    .await?;
    s.expect_closed("after No Local on a shared subscription").await?;
    Ok(())
}

/// The broker sends no packet above the client's Maximum Packet Size: a too-large message is dropped for
/// that client (and the next one delivered).
pub async fn max_packet_size(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.properties.maximum_packet_size = Some(256);
    let (mut s, _) = c.connect_with(connect).await?;
    s.sub(&t, QoS::AtLeastOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, &[b'x'; 1000], QoS::AtLeastOnce, false).await?;
    p.pub_msg(&t, b"small", QoS::AtLeastOnce, false).await?;
    let m = s.recv_publish("the small message").await?;
    ensure!(
        m.payload.as_ref() == b"small",
        "a {}-byte payload was sent to a client with Maximum Packet Size 256",
        m.payload.len()
    );
    s.expect_no_publish(c.quiet(), "an extra message arrived").await
}

/// Request Problem Information 0: no Reason String or User Property on acknowledgements.
pub async fn no_problem_information(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.properties.request_problem_information = Some(false);
    let (mut p, _) = c.connect_with(connect).await?;
    let mut filters = vec![tern_client::filter(c.topic("t"), QoS::ExactlyOnce)];
    if let Some(d) = &c.cfg.denied_filter {
        filters.push(tern_client::filter(d.clone(), QoS::AtMostOnce));
    }
    let sa = p.subscribe(filters).await?;
    ensure!(sa.properties.is_empty(), "SUBACK carries {:?}", sa.properties);
    let ua = p.unsubscribe(&[c.topic("never").as_str()]).await?;
    ensure!(ua.properties.is_empty(), "UNSUBACK carries {:?}", ua.properties);
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut m = Publish::new(c.topic("nobody"), Bytes::from_static(b"m"));
        m.qos = qos;
        if let Some(a) = p.publish(m).await? {
            ensure!(
                a.properties.is_empty(),
                "the acknowledgement of a QoS {} publish carries {:?}",
                qos as u8,
                a.properties
            );
        }
    }
    Ok(())
}

/// A subscriber that answers PUBACK 0x80 does not get the message again after reconnecting.
pub async fn refused_not_retransmitted(c: Arc<Ctx>) -> TestResult {
    let (connect, t) = offline_subscriber(&c).await?;
    let (mut s, _) = c.connect_with(connect.clone()).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::AtLeastOnce, false).await?;
    let m = s.expect_publish("the message").await?;
    let Some(id) = m.packet_id else {
        fail!("QoS 1 delivery without packet identifier")
    };
    let mut nack = PubAck::new(id);
    nack.reason_code = ReasonCode::UnspecifiedError;
    s.send(Packet::PubAck(nack)).await?;
    s.disconnect().await;
    let (mut s, _) = c.connect_with(connect).await?;
    s.expect_no_publish(c.quiet(), "a message acknowledged with 0x80 was sent again")
        .await
}

/// Acknowledgements from the broker use valid reason codes and a property length (decoded strictly).
pub async fn acks_well_formed(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::ExactlyOnce).await?;
    let (mut p, _) = c.connect().await?;
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut m = Publish::new(t.clone(), Bytes::from_static(b"m"));
        m.qos = qos;
        if let Some(a) = p.publish(m).await? {
            ensure!(
                a.reason_code.is_success(),
                "a QoS {} publish was refused: {:?}",
                qos as u8,
                a.reason_code
            );
        }
        s.recv_publish("the message").await?; // QoS 2: the broker's PUBREL is decoded too
    }
    Ok(())
}

/// Registers the MQTT 5.0 property and flow-control tests.
pub fn tests() -> Vec<TestCase> {
    use crate::config::Protocol::V5;
    cases!(V5;
        "MQTT-3.3.2-4" => fwd_payload_format,
        "MQTT-3.3.2-15" => fwd_response_topic,
        "MQTT-3.3.2-16" => fwd_correlation,
        "MQTT-3.3.2-17" => fwd_user_properties,
        "MQTT-3.3.2-18" => fwd_user_property_order,
        "MQTT-3.3.2-20" => fwd_content_type,
        "MQTT-3.3.2-5" => expired_not_delivered,
        "MQTT-3.3.2-6" => expiry_reduced,
        "MQTT-3.1.2-26" => aliases_within_client_max,
        "MQTT-3.3.2-11" => aliases_within_client_max,
        "MQTT-3.1.2-27" => no_aliases_without_max,
        "MQTT-3.3.2-12" => aliases_accepted,
        "MQTT-3.3.2-7" => aliases_not_carried_over,
        "MQTT-3.3.4-3" => subscription_ids,
        "MQTT-3.3.4-4" => subscription_ids,
        "MQTT-3.3.4-5" => subscription_ids,
        "MQTT-3.3.4-9" => receive_maximum,
        "MQTT-3.3.4-10" => receive_maximum,
        "MQTT-4.9.0-1" => receive_maximum,
        "MQTT-4.9.0-2" => receive_maximum,
        "MQTT-4.9.0-3" => receive_maximum,
        "MQTT-3.8.3-3" => no_local,
        "MQTT-3.8.3-4" => no_local_shared,
        "MQTT-3.1.2-24" => max_packet_size,
        "MQTT-3.1.2-25" => max_packet_size,
        "MQTT-3.1.2-29" => no_problem_information,
        "MQTT-4.4.0-2" => refused_not_retransmitted,
        "MQTT-4.3.3-7" => qos2_no_expiry_once_sent,
        "MQTT-2.2.2-1" => acks_well_formed,
        "MQTT-3.4.2-1" => acks_well_formed,
        "MQTT-3.5.2-1" => acks_well_formed,
        "MQTT-3.6.2-1" => acks_well_formed,
        "MQTT-3.7.2-1" => acks_well_formed,
    )
}

/// QoS 2 towards a subscriber: once the PUBLISH was sent, expiry no longer applies — after the message's
/// expiry passes the unacknowledged PUBLISH is still re-sent on reconnection.
pub async fn qos2_no_expiry_once_sent(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    c.session(&id);
    let t = c.topic("t");
    let mut connect = c.connect_packet(&id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(300);
    let (mut s, _) = c.connect_with(connect.clone()).await?;
    s.sub(&t, QoS::ExactlyOnce).await?;
    let (mut p, _) = c.connect().await?;
    let mut m = Publish::new(t.clone(), Bytes::from_static(b"m"));
    m.qos = QoS::ExactlyOnce;
    m.properties.message_expiry_interval = Some(1);
    p.publish(m).await?;
    let first = s
        .expect_publish("the QoS 2 delivery (left unacknowledged)")
        .await?;
    s.drop_abruptly().await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (mut s, _) = c.connect_with(connect).await?;
    let again = s
        .expect_publish("the re-sent QoS 2 PUBLISH after its expiry passed")
        .await?;
    ensure!(
        again.packet_id == first.packet_id,
        "re-sent with id {:?}, first {:?}",
        again.packet_id,
        first.packet_id
    );
    s.ack(&again).await
}
