//! Back-pressure on publishers: a connection whose publishes fill an online subscriber's queue past its high
//! watermark stops being read until that queue drains below half, or for at most `publisher_pause`.

use crate::harness::*;
use std::time::Duration;
use tern_broker_core::CoreConfig;
use tern_mqtt_codec::{QoS, ReasonCode};

const PAUSE: Duration = Duration::from_millis(50);

/// Queues of 8 messages: the high watermark is 6, the low one 4.
fn world() -> World {
    World::new(CoreConfig {
        max_queued_messages: 8,
        sys_interval: None,
        publisher_pause: PAUSE,
        ..CoreConfig::default()
    })
}

#[test]
fn publisher_pauses_at_the_high_watermark_and_resumes_when_the_subscriber_drains() {
    let w = world();
    let mut sub = w.connect5("sub", true, 0);
    assert_eq!(
        sub.subscribe("bp/t", QoS::AtLeastOnce),
        vec![ReasonCode::GrantedQoS1]
    );
    let mut publisher = w.connect5("pub", true, 0);
    let now = w.now;
    for i in 1..=5u16 {
        publisher.publish("bp/t", "m", QoS::AtLeastOnce, i);
        assert!(publisher.conn.wants_read(now), "below the watermark after {i}");
    }
    publisher.publish("bp/t", "m", QoS::AtLeastOnce, 6);
    assert!(!publisher.conn.wants_read(now), "6 of 8 queued: paused");
    assert!(publisher.conn.poll_timeout().is_some_and(|t| t <= now + PAUSE));
    publisher.take_notified();
    // The subscriber pulls: its queue empties, below the low watermark, and the publisher is woken.
    assert_eq!(sub.publishes().len(), 6);
    assert!(publisher.take_notified() > 0, "the drain notifier fired");
    assert!(
        publisher.conn.wants_read(now),
        "reading resumes before the pause is over"
    );
    // Every QoS 1 message was acknowledged to the publisher and nothing was dropped.
    assert_eq!(w.core.stats().dropped, 0);
}

#[test]
fn a_subscriber_that_never_drains_delays_the_publisher_for_the_pause_only() {
    let w = world();
    let mut sub = w.connect5("sub", true, 0);
    sub.subscribe("bp/t", QoS::AtMostOnce);
    let mut publisher = w.connect5("pub", true, 0);
    let now = w.now;
    for i in 1..=6u16 {
        publisher.publish("bp/t", "m", QoS::AtMostOnce, i);
    }
    assert!(!publisher.conn.wants_read(now));
    assert!(!publisher.conn.wants_read(now + PAUSE - Duration::from_millis(1)));
    assert!(publisher.conn.wants_read(now + PAUSE), "the safety valve");
    let deadline = publisher
        .conn
        .poll_timeout()
        .expect("the pause's end is a deadline");
    assert!(deadline <= now + PAUSE);
    publisher.conn.handle_timeout(now + PAUSE);
    assert!(publisher.conn.wants_read(now + PAUSE));
    assert_ne!(
        publisher.conn.poll_timeout(),
        Some(now + PAUSE),
        "no busy loop on a past pause"
    );
    // The subscriber stays full: QoS 0 is dropped for it and counted, as without back-pressure.
    publisher.set_now(now + PAUSE);
    for i in 0..4u16 {
        publisher.publish("bp/t", "m", QoS::AtMostOnce, i);
    }
    assert_eq!(w.core.stats().dropped, 2);
    assert!(!publisher.conn.wants_read(now + PAUSE), "paused again");
    assert!(publisher.conn.wants_read(now + PAUSE * 2));
}

#[test]
fn offline_durable_subscribers_do_not_pause_publishers() {
    let w = world();
    let mut sub = w.connect5("sub", false, 3600);
    sub.subscribe("bp/t", QoS::AtLeastOnce);
    sub.disconnect(ReasonCode::NormalDisconnection);
    let mut publisher = w.connect5("pub", true, 0);
    for i in 1..=20u16 {
        publisher.publish("bp/t", "m", QoS::AtLeastOnce, i);
        assert!(
            publisher.conn.wants_read(w.now),
            "offline queue never pauses ({i})"
        );
    }
}

#[test]
fn a_subscriber_going_offline_resumes_its_paused_publishers() {
    let w = world();
    let mut sub = w.connect5("sub", false, 3600);
    sub.subscribe("bp/t", QoS::AtLeastOnce);
    let mut publisher = w.connect5("pub", true, 0);
    for i in 1..=6u16 {
        publisher.publish("bp/t", "m", QoS::AtLeastOnce, i);
    }
    assert!(!publisher.conn.wants_read(w.now));
    sub.disconnect(ReasonCode::NormalDisconnection);
    assert!(publisher.take_notified() > 0);
    assert!(publisher.conn.wants_read(w.now));
}

#[test]
fn a_client_subscribed_to_its_own_topic_is_never_paused_by_itself() {
    let w = world();
    let mut me = w.connect5("me", true, 0);
    me.subscribe("bp/self", QoS::AtLeastOnce);
    for i in 1..=20u16 {
        me.publish("bp/self", "m", QoS::AtLeastOnce, i);
        assert!(me.conn.wants_read(w.now), "no self-deadlock ({i})");
    }
    // It drains its own queue when it writes: everything queued reaches it.
    let got = me.publishes().len();
    assert_eq!(got, 8);
}

#[test]
fn disabled_with_a_zero_pause() {
    let w = World::new(CoreConfig {
        max_queued_messages: 8,
        sys_interval: None,
        publisher_pause: Duration::ZERO,
        ..CoreConfig::default()
    });
    let mut sub = w.connect5("sub", true, 0);
    sub.subscribe("bp/t", QoS::AtLeastOnce);
    let mut publisher = w.connect5("pub", true, 0);
    for i in 1..=8u16 {
        publisher.publish("bp/t", "m", QoS::AtLeastOnce, i);
        assert!(publisher.conn.wants_read(w.now));
    }
}

/// A subscriber's backlog reaches the shell one write at a time: `poll_transmit` stops near 16 KiB and says
/// there is more, and the rest stays in the session queue (shared messages, not encoded copies).
#[test]
fn a_long_backlog_is_transmitted_in_bounded_writes_in_order() {
    let w = World::new(CoreConfig {
        sys_interval: None,
        ..CoreConfig::default()
    });
    let mut sub = w.connect5("sub", true, 0);
    sub.subscribe("bp/big", QoS::AtMostOnce);
    let mut publisher = w.connect5("pub", true, 0);
    let body = "x".repeat(100);
    for i in 1..=600u16 {
        publisher.publish("bp/big", &format!("{i:04}{body}"), QoS::AtMostOnce, i);
    }
    let mut writes = 0;
    let mut got = Vec::new();
    loop {
        let mut bytes = sub.recv_bytes();
        writes += 1;
        // The budget is checked after each batch of 32 deliveries of about 120 bytes.
        assert!(
            bytes.len() <= 16 * 1024 + 32 * 120,
            "write {writes} holds {} bytes",
            bytes.len()
        );
        while let Some(p) = tern_mqtt_codec::decode_packet(&mut bytes, sub.version, u32::MAX).unwrap() {
            if let tern_mqtt_codec::Packet::Publish(p) = p {
                got.push(String::from_utf8_lossy(&p.payload[..4]).into_owned());
            }
        }
        if !sub.conn.has_more_to_send() {
            break;
        }
        assert!(writes < 100, "the backlog never drains");
    }
    assert!(writes >= 4, "600 x ~120 bytes take several writes, took {writes}");
    let expected: Vec<String> = (1..=600).map(|i| format!("{i:04}")).collect();
    assert_eq!(got, expected);
    assert_eq!(w.core.stats().dropped, 0);
}
