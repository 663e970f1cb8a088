//! Will messages, keep alive and session lifetime (3.1.2, 3.1.3, 3.14, 4.1). Shared by both protocols where
//! the behaviour is the same.

use crate::ctx::Ctx;
use crate::registry::{TestCase, TestResult};
use crate::{cases, ensure, fail, not_applicable};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tern_mqtt_codec::{Connect, Packet, QoS, Will};

/// A CONNECT for a fresh client carrying a will on `topic`.
fn with_will(c: &Ctx, topic: &str, retain: bool) -> Connect {
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.will = Some(Will {
        topic: topic.to_owned().into(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain,
        properties: Default::default(),
    });
    connect
}

/// The will is stored at CONNECT and published when the connection closes without DISCONNECT.
pub async fn will_on_abnormal_close(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("will");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let (p, _) = c.connect_with(with_will(&c, &t, false)).await?;
    p.drop_abruptly().await;
    let m = s.recv_publish("the will after an abnormal close").await?;
    ensure!(
        m.payload.as_ref() == b"gone",
        "the will arrived with payload {:?}",
        m.payload
    );
    Ok(())
}

/// A normal DISCONNECT removes the will: it is not published.
pub async fn no_will_after_disconnect(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("will");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let (p, _) = c.connect_with(with_will(&c, &t, false)).await?;
    p.disconnect().await;
    s.expect_no_publish(c.quiet(), "the will was published after a normal DISCONNECT")
        .await
}

/// Without the Will Flag nothing is published when the connection ends abnormally.
pub async fn no_will_without_flag(c: Arc<Ctx>) -> TestResult {
    let mut s = c.subscriber(&c.topic("#"), QoS::AtLeastOnce).await?;
    let (p, _) = c.connect().await?;
    p.drop_abruptly().await;
    s.expect_no_publish(c.quiet(), "a message appeared though no will was set")
        .await
}

/// Will Retain 0: the will is published non-retained (a later subscriber gets nothing).
pub async fn will_not_retained(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("will");
    c.retained(&t);
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let (p, _) = c.connect_with(with_will(&c, &t, false)).await?;
    p.drop_abruptly().await;
    let m = s.recv_publish("the will").await?;
    ensure!(!m.retain, "a non-retained will arrived with RETAIN 1");
    let mut late = c.subscriber(&t, QoS::AtLeastOnce).await?;
    late.expect_no_publish(c.quiet(), "a will with Will Retain 0 was stored as retained")
        .await
}

/// Will Retain 1: the will is published retained (a later subscriber gets it with RETAIN 1).
pub async fn will_retained(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("will");
    c.retained(&t);
    let (p, ack) = c.connect_with(with_will(&c, &t, true)).await?;
    if ack.properties.retain_available == Some(false) {
        not_applicable!("the broker announces Retain Available 0");
    }
    p.drop_abruptly().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut late = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let m = late.recv_publish("the retained will").await?;
    ensure!(
        m.retain && m.payload.as_ref() == b"gone",
        "got RETAIN {} payload {:?}",
        m.retain,
        m.payload
    );
    Ok(())
}

/// 5.0: reconnecting before the Will Delay Interval passes suppresses the will.
pub async fn will_delay_reconnect(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("will");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let mut connect = with_will(&c, &t, false);
    let id = connect.client_id.as_str().to_owned();
    c.session(&id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(30);
    if let Some(w) = connect.will.as_mut() {
        w.properties.will_delay_interval = Some(2);
    }
    let (p, _) = c.connect_with(connect).await?;
    p.drop_abruptly().await;
    let mut again = c.connect_packet(&id);
    again.clean_start = false;
    again.properties.session_expiry_interval = Some(30);
    let (p2, _) = c.connect_with(again).await?;
    s.expect_no_publish(
        Duration::from_millis(2500),
        "the will was published though the client reconnected within the will delay",
    )
    .await?;
    p2.disconnect().await;
    Ok(())
}

/// 5.0: the will's User Properties are published in their original order.
pub async fn will_user_property_order(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("will");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    let mut connect = with_will(&c, &t, false);
    let props: Vec<(String, String)> = vec![
        ("k".into(), "3".into()),
        ("a".into(), "1".into()),
        ("k".into(), "2".into()),
    ];
    if let Some(w) = connect.will.as_mut() {
        w.properties.user_properties = props
            .iter()
            .map(|(k, v)| (k.clone().into(), v.clone().into()))
            .collect();
    }
    let (p, _) = c.connect_with(connect).await?;
    p.drop_abruptly().await;
    let m = s.recv_publish("the will with user properties").await?;
    let got: Vec<(String, String)> = m
        .properties
        .user_properties
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
        .collect();
    ensure!(
        got == props,
        "will user properties arrived as {got:?}, sent {props:?}"
    );
    Ok(())
}

/// A connection silent for 1.5 times the keep alive is closed by the broker, and not much earlier than the
/// keep alive (5.0: the Server Keep Alive when the CONNACK sets one).
pub async fn keep_alive_enforced(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let mut connect = c.connect_packet(&id);
    connect.keep_alive = 1;
    let (mut p, ack) = c.connect_with(connect).await?;
    let ka = ack.properties.server_keep_alive.unwrap_or(1);
    if ka == 0 {
        not_applicable!("the broker turned keep alive off (Server Keep Alive 0)");
    }
    if u64::from(ka) * 3 > c.cfg.test_timeout.as_secs() * 2 {
        not_applicable!("the broker set Server Keep Alive {ka} s, too long for this run's test timeout");
    }
    let start = Instant::now();
    let limit = Duration::from_millis(u64::from(ka) * 1500);
    let deadline = start + limit + c.step();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match p.poll(left, "the close").await {
            Ok(Some(Packet::Disconnect(_))) | Ok(Some(_)) => continue,
            Ok(None) => fail!(
                "still open {:?} after the last packet with keep alive {ka} s",
                start.elapsed()
            ),
            Err(_) => break,
        }
    }
    let after = start.elapsed();
    ensure!(
        after >= Duration::from_millis(u64::from(ka) * 1000 - 100),
        "closed after {after:?}, before the keep alive of {ka} s"
    );
    Ok(())
}

/// 5.0: a session whose Session Expiry Interval has passed after the close is discarded.
pub async fn session_expires(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    c.session(&id);
    let mut connect = c.connect_packet(&id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(1);
    let (mut p, _) = c.connect_with(connect.clone()).await?;
    p.sub(&c.topic("t"), QoS::AtLeastOnce).await?;
    p.disconnect().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (p, ack) = c.connect_with(connect).await?;
    ensure!(
        !ack.session_present,
        "the session was still present 2.5 s after a 1 s expiry"
    );
    p.disconnect().await;
    Ok(())
}

/// Session state is kept while the connection is open: a subscription still delivers after a pause and other
/// traffic.
pub async fn session_kept_while_open(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, QoS::AtLeastOnce).await?;
    s.expect_alive("while idle").await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    s.expect_alive("after a pause").await?;
    let (mut p, _) = c.connect().await?;
    p.pub_msg(&t, b"m", QoS::AtLeastOnce, false).await?;
    s.recv_publish("the message after a pause").await?;
    Ok(())
}

/// Registers the will and lifetime tests under their 5.0 ids.
pub fn tests() -> Vec<TestCase> {
    use crate::config::Protocol::V5;
    cases!(V5;
        "MQTT-3.1.2-7" => will_on_abnormal_close,
        "MQTT-3.1.2-8" => will_on_abnormal_close,
        "MQTT-3.1.2-10" => no_will_after_disconnect,
        "MQTT-3.14.4-3" => no_will_after_disconnect,
        "MQTT-3.1.2-14" => will_not_retained,
        "MQTT-3.1.2-15" => will_retained,
        "MQTT-3.1.3-9" => will_delay_reconnect,
        "MQTT-3.1.3-10" => will_user_property_order,
        "MQTT-3.1.2-22" => keep_alive_enforced,
        "MQTT-3.2.2-22" => keep_alive_enforced,
        "MQTT-4.1.0-2" => session_expires,
        "MQTT-4.1.0-1" => session_kept_while_open,
    )
}
