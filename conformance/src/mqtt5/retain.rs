//! Retained messages and the subscription options around them (3.3.1, 3.8.4). Shared by both protocols where
//! the behaviour is the same; every retained topic is cleared after the test.

use crate::ctx::Ctx;
use crate::peer::Peer;
use crate::registry::{Stop, TestCase, TestResult};
use crate::{cases, ensure};
use std::sync::Arc;
use tern_mqtt_codec::{QoS, RetainHandling, SubscribeFilter, SubscriptionOptions};

/// A retained topic of this test, registered for cleanup.
fn retained_topic(c: &Ctx, leaf: &str) -> String {
    let t = c.topic(leaf);
    c.retained(&t);
    t
}

/// Subscribes a new client to `t` at QoS 1 with retain options.
async fn sub_opts(c: &Ctx, t: &str, rh: RetainHandling, rap: bool) -> Result<Peer, Stop> {
    let (mut p, _) = c.connect().await?;
    let s = p
        .subscribe(vec![SubscribeFilter {
            filter: t.to_owned().into(),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                retain_handling: rh,
                retain_as_published: rap,
                ..SubscriptionOptions::default()
            },
        }])
        .await?;
    ensure!(
        s.reason_codes.first().is_some_and(|r| r.is_success()),
        "SUBSCRIBE refused: {:?}",
        s.reason_codes
    );
    Ok(p)
}

/// RETAIN 1 stores the message with its QoS and replaces the previous one; a new subscription receives the
/// latest with RETAIN 1.
pub async fn retained_replaced_and_sent(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"old", QoS::AtLeastOnce, true).await?;
    p.pub_msg(&t, b"new", QoS::AtLeastOnce, true).await?;
    let mut s = c.subscriber(&t, QoS::ExactlyOnce).await?;
    let m = s.recv_publish("the retained message").await?;
    ensure!(
        m.payload.as_ref() == b"new",
        "the retained message is {:?}, not the latest",
        m.payload
    );
    ensure!(
        m.retain,
        "a message sent because of a new subscription has RETAIN 0"
    );
    ensure!(
        m.qos == QoS::AtLeastOnce,
        "stored at QoS 1, delivered at {:?}",
        m.qos
    );
    s.expect_no_publish(c.quiet(), "more than one retained message for one topic")
        .await
}

/// A retained message with an empty payload is delivered normally and removes the retained message, and is
/// not itself stored.
pub async fn empty_retained_clears(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"kept", QoS::AtLeastOnce, true).await?;
    let mut live = c.subscriber(&t, QoS::AtLeastOnce).await?;
    live.recv_publish("the retained message").await?;
    p.pub_msg(&t, b"", QoS::AtLeastOnce, true).await?;
    let m = live
        .recv_publish("the empty retained message, delivered as normal")
        .await?;
    ensure!(m.payload.is_empty(), "got payload {:?}", m.payload);
    let mut late = c.subscriber(&t, QoS::AtLeastOnce).await?;
    late.expect_no_publish(
        c.quiet(),
        "a retained message remained after an empty retained publish",
    )
    .await
}

/// A publish with RETAIN 0 neither stores nor replaces nor removes the retained message.
pub async fn non_retained_keeps(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"retained", QoS::AtLeastOnce, true).await?;
    p.pub_msg(&t, b"plain", QoS::AtLeastOnce, false).await?;
    p.pub_msg(&t, b"", QoS::AtLeastOnce, false).await?;
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let m = s.recv_publish("the retained message").await?;
    ensure!(
        m.payload.as_ref() == b"retained",
        "the retained message became {:?}",
        m.payload
    );
    Ok(())
}

/// 3.1.1: a retained QoS 0 message discards the earlier retained message (it may itself be kept or not).
pub async fn qos0_retained_replaces(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"qos1", QoS::AtLeastOnce, true).await?;
    p.pub_msg(&t, b"qos0", QoS::AtMostOnce, true).await?;
    p.expect_alive("after the publishes").await?;
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    if let Some(tern_mqtt_codec::Packet::Publish(m)) = s.poll(c.quiet(), "a retained message").await? {
        ensure!(
            m.payload.as_ref() != b"qos1",
            "the retained QoS 1 message survived a retained QoS 0 publish"
        );
    }
    Ok(())
}

/// Messages forwarded to an established subscription carry RETAIN 0 (5.0: with Retain As Published 0).
pub async fn live_retain_0(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::AtLeastOnce, true).await?;
    let m = s.recv_publish("the live retained publish").await?;
    ensure!(
        !m.retain,
        "forwarded to an established subscription with RETAIN 1"
    );
    Ok(())
}

/// Retained messages outlive the session of the client that published them.
pub async fn retained_outlives_session(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::AtLeastOnce, true).await?;
    p.disconnect().await;
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    s.recv_publish("the retained message of an ended session").await?;
    Ok(())
}

/// Subscribing again to an identical filter re-sends the retained messages (5.0: Retain Handling 0).
pub async fn resubscribe_resends_retained(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::AtLeastOnce, true).await?;
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    s.recv_publish("the retained message on the first SUBSCRIBE")
        .await?;
    s.sub(&t, QoS::AtLeastOnce).await?;
    let m = s
        .recv_publish("the retained message re-sent on the second SUBSCRIBE")
        .await?;
    ensure!(m.retain, "the re-sent retained message has RETAIN 0");
    Ok(())
}

/// 5.0: Retain As Published 1 keeps the publisher's RETAIN flag.
pub async fn retain_as_published(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let mut s = sub_opts(&c, &t, RetainHandling::SendAtSubscribe, true).await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"r", QoS::AtLeastOnce, true).await?;
    p.pub_msg(&t, b"n", QoS::AtLeastOnce, false).await?;
    let a = s.recv_publish("the retained publish").await?;
    let b = s.recv_publish("the plain publish").await?;
    ensure!(
        a.retain && !b.retain,
        "RETAIN arrived as {} / {}, published as 1 / 0",
        a.retain,
        b.retain
    );
    Ok(())
}

/// 5.0: Retain Handling 0 sends retained messages on every SUBSCRIBE.
pub async fn retain_handling_0(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::AtLeastOnce, true).await?;
    let mut s = sub_opts(&c, &t, RetainHandling::SendAtSubscribe, false).await?;
    s.recv_publish("the retained message (Retain Handling 0)").await?;
    Ok(())
}

/// 5.0: Retain Handling 1 sends retained messages only when the subscription is new.
pub async fn retain_handling_1(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::AtLeastOnce, true).await?;
    let mut s = sub_opts(&c, &t, RetainHandling::SendAtSubscribeIfNew, false).await?;
    s.recv_publish("the retained message for a new subscription")
        .await?;
    let again = s
        .subscribe(vec![SubscribeFilter {
            filter: t.clone().into(),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                retain_handling: RetainHandling::SendAtSubscribeIfNew,
                ..SubscriptionOptions::default()
            },
        }])
        .await?;
    ensure!(
        again.reason_codes.first().is_some_and(|r| r.is_success()),
        "re-SUBSCRIBE refused"
    );
    s.expect_no_publish(
        c.quiet(),
        "Retain Handling 1 re-sent retained messages for an existing subscription",
    )
    .await
}

/// 5.0: Retain Handling 2 sends no retained messages on SUBSCRIBE.
pub async fn retain_handling_2(c: Arc<Ctx>) -> TestResult {
    let t = retained_topic(&c, "r");
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::AtLeastOnce, true).await?;
    let mut s = sub_opts(&c, &t, RetainHandling::DoNotSend, false).await?;
    s.expect_no_publish(c.quiet(), "Retain Handling 2 sent a retained message")
        .await?;
    p.pub_msg(&t, b"live", QoS::AtLeastOnce, false).await?;
    let m = s
        .recv_publish("a live message (the subscription must work)")
        .await?;
    ensure!(m.payload.as_ref() == b"live", "got {:?}", m.payload);
    Ok(())
}

/// Registers the retained-message tests under their 5.0 ids.
pub fn tests() -> Vec<TestCase> {
    use crate::config::Protocol::V5;
    cases!(V5;
        "MQTT-3.3.1-5" => retained_replaced_and_sent,
        "MQTT-3.3.1-6" => empty_retained_clears,
        "MQTT-3.3.1-7" => empty_retained_clears,
        "MQTT-3.3.1-8" => non_retained_keeps,
        "MQTT-3.3.1-12" => live_retain_0,
        "MQTT-3.3.1-13" => retain_as_published,
        "MQTT-3.3.1-9" => retain_handling_0,
        "MQTT-3.3.1-10" => retain_handling_1,
        "MQTT-3.3.1-11" => retain_handling_2,
        "MQTT-3.8.4-4" => resubscribe_resends_retained,
    )
}
