//! SUBSCRIBE / UNSUBSCRIBE: options, overlap, identifiers, retained handling, denied filters, limits,
//! 3.1.1 vs 5.0 codes.

use crate::harness::*;
use tern_broker_core::CoreConfig;
use tern_mqtt_codec::{Packet, QoS, ReasonCode, RetainHandling, SubscriptionOptions};

fn opts(qos: QoS) -> SubscriptionOptions {
    sub_opts(qos)
}

#[test]
fn overlapping_subscriptions_one_copy_max_qos_all_ids() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe_opts("a/+", opts(QoS::AtMostOnce), Some(1));
    s.subscribe_opts("a/#", opts(QoS::AtLeastOnce), Some(2));
    let mut p = w.connect5("p", true, 0);
    p.publish("a/b", "x", QoS::ExactlyOnce, 1);
    let got = s.publishes();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    let mut ids: Vec<u32> = got[0]
        .properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
}

#[test]
fn no_local_suppresses_own_messages() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe_opts(
        "t",
        SubscriptionOptions {
            no_local: true,
            ..opts(QoS::AtMostOnce)
        },
        None,
    );
    s.publish("t", "own", QoS::AtMostOnce, 0);
    assert!(s.publishes().is_empty());
    let mut p = w.connect5("p", true, 0);
    p.publish("t", "other", QoS::AtMostOnce, 0);
    assert_eq!(s.publishes().len(), 1);
}

#[test]
fn retain_as_published() {
    let w = World::quiet();
    let mut keep = w.connect5("keep", true, 0);
    keep.subscribe_opts(
        "t",
        SubscriptionOptions {
            retain_as_published: true,
            ..opts(QoS::AtMostOnce)
        },
        None,
    );
    let mut plain = w.connect5("plain", true, 0);
    plain.subscribe("t", QoS::AtMostOnce);
    let mut p = w.connect5("p", true, 0);
    p.publish_retained("t", "r", QoS::AtMostOnce, 0);
    assert!(keep.publishes()[0].retain);
    assert!(!plain.publishes()[0].retain, "[MQTT-3.3.1-12]");
}

#[test]
fn retain_handling_0_1_2() {
    let w = World::quiet();
    let mut p = w.connect5("p", true, 0);
    p.publish_retained("t", "r", QoS::AtMostOnce, 0);
    let mut s = w.connect5("s", true, 0);

    let with = |rh| SubscriptionOptions {
        retain_handling: rh,
        ..opts(QoS::AtLeastOnce)
    };
    s.subscribe_opts("t", with(RetainHandling::SendAtSubscribe), None);
    let got = s.publishes();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].retain,
        "[MQTT-3.3.1-8] retained messages sent at subscribe carry RETAIN"
    );
    // Replacing the subscription with handling 0 resends ([MQTT-3.8.4-3]).
    s.subscribe_opts("t", with(RetainHandling::SendAtSubscribe), None);
    assert_eq!(s.publishes().len(), 1);
    // Handling 1: only if new.
    s.subscribe_opts("t", with(RetainHandling::SendAtSubscribeIfNew), None);
    assert!(s.publishes().is_empty());
    s.subscribe_opts("t/#", with(RetainHandling::SendAtSubscribeIfNew), None);
    assert_eq!(s.publishes().len(), 1);
    // Handling 2: never.
    s.subscribe_opts("+", with(RetainHandling::DoNotSend), None);
    assert!(s.publishes().is_empty());
}

#[test]
fn retained_set_replace_delete() {
    let w = World::quiet();
    let mut p = w.connect5("p", true, 0);
    p.publish_retained("t", "one", QoS::AtMostOnce, 0);
    p.publish_retained("t", "two", QoS::AtMostOnce, 0);
    assert_eq!(w.core.stats().retained_messages, 1);
    let mut s = w.connect5("s", true, 0);
    s.subscribe("t", QoS::AtMostOnce);
    assert_eq!(payload(&s.publishes()[0]), "two");
    p.publish_retained("t", "", QoS::AtMostOnce, 0);
    assert_eq!(w.core.stats().retained_messages, 0);
}

#[test]
fn retained_store_full_is_quota_exceeded_on_v5() {
    let w = World::new(CoreConfig {
        max_retained_messages: 1,
        sys_interval: None,
        ..Default::default()
    });
    let mut p = w.connect5("p", true, 0);
    p.publish_retained("a", "1", QoS::AtLeastOnce, 1);
    p.recv();
    p.publish_retained("b", "2", QoS::AtLeastOnce, 2);
    assert!(matches!(&p.recv()[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::QuotaExceeded));
}

#[test]
fn denied_filters_0x80_and_0x87() {
    let w = World::new(CoreConfig {
        denied_filters: vec!["#".into()],
        sys_interval: None,
        ..Default::default()
    });
    let mut s = w.connect5("s", true, 0);
    assert_eq!(
        s.subscribe("#", QoS::AtMostOnce),
        vec![ReasonCode::UnspecifiedError]
    );
    let w = World::new(CoreConfig {
        denied_filters: vec!["#".into()],
        denied_reason: ReasonCode::NotAuthorized,
        sys_interval: None,
        ..Default::default()
    });
    let mut s = w.connect5("s", true, 0);
    assert_eq!(s.subscribe("#", QoS::AtMostOnce), vec![ReasonCode::NotAuthorized]);
    assert_eq!(
        s.subscribe("$share/g/#", QoS::AtMostOnce),
        vec![ReasonCode::NotAuthorized]
    );
    let mut s3 = w.connect311("s3", true);
    assert_eq!(
        s3.subscribe("#", QoS::AtMostOnce),
        vec![ReasonCode::UnspecifiedError]
    );
    let bytes = {
        s3.send(&Packet::Subscribe(tern_mqtt_codec::Subscribe {
            packet_id: pid(5),
            properties: Default::default(),
            filters: vec![tern_mqtt_codec::SubscribeFilter {
                filter: "#".into(),
                options: opts(QoS::AtMostOnce),
            }],
        }));
        s3.recv_bytes()
    };
    assert_eq!(
        &bytes[..],
        &[0x90, 0x03, 0x00, 0x05, 0x80],
        "3.1.1 SUBACK failure is 0x80, no properties"
    );
}

#[test]
fn max_subscriptions_per_client() {
    let w = World::new(CoreConfig {
        max_subscriptions_per_client: 1,
        sys_interval: None,
        ..Default::default()
    });
    let mut s = w.connect5("s", true, 0);
    assert_eq!(s.subscribe("a", QoS::AtMostOnce), vec![ReasonCode::GrantedQoS0]);
    assert_eq!(
        s.subscribe("a", QoS::AtLeastOnce),
        vec![ReasonCode::GrantedQoS1],
        "replace is not a new one"
    );
    assert_eq!(s.subscribe("b", QoS::AtMostOnce), vec![ReasonCode::QuotaExceeded]);
}

#[test]
fn filter_too_deep_is_0x8f() {
    let w = World::new(CoreConfig {
        max_topic_levels: 2,
        sys_interval: None,
        ..Default::default()
    });
    let mut s = w.connect5("s", true, 0);
    assert_eq!(
        s.subscribe("a/b/c", QoS::AtMostOnce),
        vec![ReasonCode::TopicFilterInvalid]
    );
}

#[test]
fn granted_qos_capped_by_maximum_qos() {
    let w = World::new(CoreConfig {
        maximum_qos: QoS::AtLeastOnce,
        sys_interval: None,
        ..Default::default()
    });
    let mut s = w.connect5("s", true, 0);
    assert_eq!(s.subscribe("a", QoS::ExactlyOnce), vec![ReasonCode::GrantedQoS1]);
}

#[test]
fn unsubscribe_codes_v5_and_v311() {
    let w = World::quiet();
    let mut s = w.connect5("s", true, 0);
    s.subscribe("a", QoS::AtMostOnce);
    match &s.unsubscribe("a")[..] {
        [Packet::UnsubAck(u)] => assert_eq!(u.reason_codes, vec![ReasonCode::Success]),
        other => panic!("{other:?}"),
    }
    match &s.unsubscribe("a")[..] {
        [Packet::UnsubAck(u)] => assert_eq!(u.reason_codes, vec![ReasonCode::NoSubscriptionExisted]),
        other => panic!("{other:?}"),
    }
    let mut p = w.connect5("p", true, 0);
    p.publish("a", "x", QoS::AtMostOnce, 0);
    assert!(s.publishes().is_empty());
    let mut s3 = w.connect311("s3", true);
    match &s3.unsubscribe("zz")[..] {
        [Packet::UnsubAck(u)] => assert!(u.reason_codes.is_empty()),
        other => panic!("{other:?}"),
    }
}
