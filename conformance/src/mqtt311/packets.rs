//! MQTT 3.1.1 statements on PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PING, DISCONNECT, wills and retained messages:
//! registered on the shared tests of `mqtt5` where the behaviour is the same, plus the 3.1.1-only ones.

use crate::cases;
use crate::config::Protocol::V311;
use crate::ctx::Ctx;
use crate::mqtt5::connack::{client_id_not_utf8, username_not_utf8, will_topic_not_utf8};
use crate::mqtt5::{publish::*, retain::*, subscribe::*, will::*};
use crate::registry::{TestCase, TestResult};
use crate::wire;
use std::sync::Arc;

/// A CONNECT with the Password Flag but not the User Name Flag is malformed: refused and closed.
pub async fn password_without_username(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let mut payload = wire::string(id.as_bytes());
    payload.extend(wire::string(b"secret"));
    let r = c.probe(&wire::connect(b"MQTT", 4, 0x42, &payload)).await?;
    if let Some((_, 0)) = r.connack() {
        crate::fail!("the broker accepted a password without a user name");
    }
    crate::ensure!(
        r.closed,
        "the connection stayed open after a password without a user name"
    );
    Ok(())
}

/// A will QoS of 3 is malformed: refused and closed.
pub async fn will_qos_3(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let mut payload = wire::string(id.as_bytes());
    payload.extend(wire::string(c.topic("will").as_bytes()));
    payload.extend(wire::string(b"w"));
    let r = c.probe(&wire::connect(b"MQTT", 4, 0x1E, &payload)).await?;
    if let Some((_, 0)) = r.connack() {
        crate::fail!("the broker accepted Will QoS 3");
    }
    crate::ensure!(
        r.closed,
        "the connection stayed open after a CONNECT with Will QoS 3"
    );
    Ok(())
}

/// A SUBSCRIBE with packet identifier 0 is a protocol violation: the connection closes.
pub async fn packet_id_zero(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let mut body = vec![0, 0];
    body.extend(wire::string(c.topic("t").as_bytes()));
    body.push(0);
    p.send_bytes(&wire::packet(0x82, &body)).await?;
    p.expect_closed("after a SUBSCRIBE with packet identifier 0")
        .await?;
    Ok(())
}

/// A broker without wildcard support refuses wildcard filters (a broker that grants one supports them).
pub async fn wildcards_supported_or_refused(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let s = p
        .subscribe(vec![tern_client::filter(
            c.topic("+"),
            tern_mqtt_codec::QoS::AtMostOnce,
        )])
        .await?;
    match s.reason_codes.first() {
        Some(rc) if rc.is_success() => crate::not_applicable!("the broker supports wildcard subscriptions"),
        Some(_) => Ok(()),
        None => crate::fail!("SUBACK without a return code"),
    }
}

/// The 3.1.1 packet tests.
pub fn tests() -> Vec<TestCase> {
    cases!(V311;
        "MQTT-1.5.3-1" => bad_utf8_topic_closes,
        "MQTT-1.5.3-2" => nul_topic_closes,
        "MQTT-1.5.3-3" => bom_not_stripped,
        "MQTT-2.2.2-1" => reserved_flags_close,
        "MQTT-2.2.2-2" => reserved_flags_close,
        "MQTT-2.3.1-1" => packet_id_zero,
        "MQTT-2.3.1-4" => fresh_ids_dup0,
        "MQTT-2.3.1-6" => responses_per_qos,
        "MQTT-2.3.1-7" => acks_carry_ids,
        "MQTT-3.1.2-7" => retained_outlives_session,
        "MQTT-3.1.2-8" => will_on_abnormal_close,
        "MQTT-3.1.2-10" => no_will_after_disconnect,
        "MQTT-3.14.4-3" => no_will_after_disconnect,
        "MQTT-3.1.2-12" => no_will_without_flag,
        "MQTT-3.1.2-14" => will_qos_3,
        "MQTT-3.1.2-16" => will_not_retained,
        "MQTT-3.1.2-17" => will_retained,
        "MQTT-3.1.2-22" => password_without_username,
        "MQTT-3.1.2-24" => keep_alive_enforced,
        "MQTT-3.3.1-1" => redelivery_on_reconnect,
        "MQTT-4.4.0-1" => redelivery_on_reconnect,
        "MQTT-3.3.1-2" => qos0_dup0,
        "MQTT-4.3.1-1" => qos0_dup0,
        "MQTT-3.3.1-3" => dup_not_propagated,
        "MQTT-3.3.1-4" => qos3_closes,
        "MQTT-3.3.1-5" => retained_replaced_and_sent,
        "MQTT-3.3.1-6" => retained_replaced_and_sent,
        "MQTT-3.3.1-8" => retained_replaced_and_sent,
        "MQTT-3.3.1-7" => qos0_retained_replaces,
        "MQTT-3.3.1-9" => live_retain_0,
        "MQTT-3.3.1-10" => empty_retained_clears,
        "MQTT-3.3.1-11" => empty_retained_clears,
        "MQTT-3.3.1-12" => non_retained_keeps,
        "MQTT-3.3.2-1" => bad_utf8_topic_closes,
        "MQTT-3.3.2-2" => wildcard_topic_closes,
        "MQTT-4.7.1-1" => wildcard_topic_closes,
        "MQTT-3.3.2-3" => delivered_topic_matches,
        "MQTT-3.3.4-1" => responses_per_qos,
        "MQTT-3.3.5-1" => overlapping_max_qos,
        "MQTT-3.6.1-1" => pubrel_flags,
        "MQTT-3.6.4-1" => qos2_exactly_once,
        "MQTT-3.8.1-1" => subscribe_flags,
        "MQTT-3.8.3-1" => subscribe_bad_utf8,
        "MQTT-3.8.3-3" => subscribe_empty,
        "MQTT-3.8.3-4" => subscribe_reserved_bits,
        "MQTT-3.8.4-1" => acks_carry_ids,
        "MQTT-3.8.4-2" => acks_carry_ids,
        "MQTT-3.8.4-3" => resubscribe_replaces,
        "MQTT-3.8.4-4" => suback_per_filter,
        "MQTT-3.9.3-1" => suback_per_filter,
        "MQTT-3.8.4-5" => suback_failure,
        "MQTT-3.9.3-2" => suback_failure,
        "MQTT-3.8.4-6" => min_qos,
        "MQTT-3.10.1-1" => unsubscribe_flags,
        "MQTT-3.10.3-1" => unsubscribe_bad_utf8,
        "MQTT-3.10.3-2" => unsubscribe_empty,
        "MQTT-3.10.4-1" => unsubscribe_exact,
        "MQTT-3.10.4-2" => unsubscribe_exact,
        "MQTT-3.10.4-3" => unsubscribe_completes_inflight,
        "MQTT-3.10.4-4" => acks_carry_ids,
        "MQTT-3.10.4-5" => acks_carry_ids,
        "MQTT-3.10.4-6" => unsubscribe_many,
        "MQTT-3.12.4-1" => ping,
        "MQTT-3.14.1-1" => disconnect_flags,
        "MQTT-4.1.0-1" => session_kept_while_open,
        "MQTT-4.1.0-2" => session_kept_while_open,
        "MQTT-4.3.2-1" => fresh_ids_dup0,
        "MQTT-4.3.2-2" => qos1_id_reuse_is_new,
        "MQTT-4.3.3-1" => pubrel_resent_not_publish,
        "MQTT-4.3.3-2" => qos2_exactly_once,
        "MQTT-4.6.0-5" => ordered,
        "MQTT-4.6.0-6" => ordered,
        "MQTT-4.7.1-2" => bad_wildcards_refused,
        "MQTT-4.7.1-3" => bad_wildcards_refused,
        "MQTT-4.7.2-1" => dollar_topics,
        "MQTT-4.7.3-1" => empty_topic_closes,
        "MQTT-4.7.3-2" => nul_topic_closes,
        "MQTT-4.7.3-4" => no_normalisation,
        "MQTT-4.8.0-1" => first_packet_not_connect,
        "MQTT-3.1.3-4" => client_id_not_utf8,
        "MQTT-3.1.3-10" => will_topic_not_utf8,
        "MQTT-3.1.3-11" => username_not_utf8,
        "MQTT-3.8.3-2" => wildcards_supported_or_refused,
    )
}
