//! CONNECT and CONNACK (3.1, 3.2): the handshake, Clean Start, session presence, client identifiers, takeover.
//! Functions here serve both protocols where the behaviour is the same; the registry names each statement.

use crate::ctx::Ctx;
use crate::registry::{TestCase, TestResult};
use crate::wire;
use crate::{cases, ensure, fail, not_applicable};
use std::sync::Arc;
use tern_mqtt_codec::{Packet, QoS, ReasonCode};

/// The CONNECT level byte of the test's protocol.
pub(crate) fn level(c: &Ctx) -> u8 {
    if c.is_v5() { 5 } else { 4 }
}

/// A second CONNECT on a connection is a protocol error: the broker closes the connection.
pub async fn second_connect(c: Arc<Ctx>) -> TestResult {
    let (mut p, _) = c.connect().await?;
    let again = c.connect_packet(&p.client_id.clone());
    p.send(Packet::Connect(Box::new(again))).await?;
    p.expect_closed("after a second CONNECT").await?;
    Ok(())
}

/// A CONNECT whose protocol name is not "MQTT" is not accepted: no successful CONNACK, and the connection
/// closes.
pub async fn bad_protocol_name(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let bytes = wire::connect(b"MQTX", level(&c), 0x02, &wire::string(id.as_bytes()));
    let r = c.probe(&bytes).await?;
    if let Some((_, 0)) = r.connack() {
        fail!("the broker accepted protocol name \"MQTX\" (CONNACK 0)");
    }
    ensure!(
        r.closed,
        "the connection stayed open after a CONNECT with protocol name \"MQTX\""
    );
    Ok(())
}

/// A CONNECT with an unknown protocol level (7) is refused and the connection closed; a CONNACK, if sent,
/// carries 0x01 (3.1.1) or 0x84 (5.0). With `strict`, 3.1.1 requires the CONNACK 0x01.
async fn unknown_level(c: &Ctx, strict: bool) -> TestResult {
    let id = c.client_id();
    let bytes = wire::connect(b"MQTT", 7, 0x02, &wire::string(id.as_bytes()));
    let r = c.probe(&bytes).await?;
    match r.connack() {
        Some((_, 0)) => fail!("the broker accepted protocol level 7"),
        Some((_, 0x01 | 0x84)) => {}
        Some((_, code)) => fail!("CONNACK to protocol level 7 carries {code:#04x}, not 0x01 / 0x84"),
        None if strict => fail!("no CONNACK 0x01 for protocol level 7 (got {:02x?})", r.bytes),
        None => {}
    }
    ensure!(
        r.closed,
        "the connection stayed open after refusing protocol level 7"
    );
    Ok(())
}

/// An unsupported protocol level: refused (CONNACK 0x84 allowed) and closed.
pub async fn unsupported_level(c: Arc<Ctx>) -> TestResult {
    unknown_level(&c, false).await
}

/// 3.1.1: an unsupported protocol level gets CONNACK 0x01 and the connection is closed.
pub async fn unsupported_level_v3(c: Arc<Ctx>) -> TestResult {
    unknown_level(&c, true).await
}

/// 3.1.1: a refusing CONNACK (non-zero code) has Session Present 0.
pub async fn refused_session_present_0_v3(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let bytes = wire::connect(b"MQTT", 7, 0x00, &wire::string(id.as_bytes()));
    let r = c.probe(&bytes).await?;
    match r.connack() {
        Some((flags, code)) if code != 0 => {
            ensure!(flags == 0, "refusing CONNACK {code:#04x} has flags {flags:#04x}")
        }
        Some(_) => fail!("the broker accepted protocol level 7"),
        None => not_applicable!("the broker closed without a CONNACK, so no Session Present to check"),
    }
    Ok(())
}

/// 3.1.1: after a CONNACK with a non-zero code the broker closes the connection.
pub async fn refused_then_closed_v3(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let bytes = wire::connect(b"MQTT", 7, 0x02, &wire::string(id.as_bytes()));
    let r = c.probe(&bytes).await?;
    match r.connack() {
        Some((_, 0)) => fail!("the broker accepted protocol level 7"),
        Some(_) => ensure!(r.closed, "the connection stayed open after a refusing CONNACK"),
        None => not_applicable!("the broker closed without a CONNACK"),
    }
    Ok(())
}

/// The CONNECT reserved flag (bit 0) must be 0: the broker closes the connection (a CONNACK, if any, refuses).
pub async fn reserved_flag(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let bytes = wire::connect(b"MQTT", level(&c), 0x03, &wire::string(id.as_bytes()));
    let r = c.probe(&bytes).await?;
    if let Some((_, 0)) = r.connack() {
        fail!("the broker accepted a CONNECT with the reserved flag set");
    }
    ensure!(
        r.closed,
        "the connection stayed open after a CONNECT with the reserved flag set"
    );
    Ok(())
}

/// A CONNECT that breaks the format (Will Flag set but the will fields missing) is closed; on 3.1.1 without any
/// CONNACK.
pub async fn malformed_connect(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let mut payload = wire::string(id.as_bytes());
    if c.is_v5() {
        payload.push(0); // will properties length, then nothing: will topic and payload missing
    }
    let bytes = wire::connect(b"MQTT", level(&c), 0x06, &payload);
    let r = c.probe(&bytes).await?;
    if let Some((_, code)) = r.connack() {
        ensure!(
            code != 0,
            "the broker accepted a CONNECT whose will fields are missing"
        );
        ensure!(
            c.is_v5(),
            "a 3.1.1 broker must close without CONNACK, got CONNACK {code:#04x}"
        );
    }
    ensure!(r.closed, "the connection stayed open after a malformed CONNECT");
    Ok(())
}

/// 5.0: the broker sends no DISCONNECT before a successful CONNACK (a malformed CONNECT gets at most a
/// refusing CONNACK, then the close).
pub async fn no_disconnect_before_connack(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    let bytes = wire::connect(b"MQTT", 5, 0x03, &wire::string(id.as_bytes()));
    let r = c.probe(&bytes).await?;
    ensure!(
        r.bytes.first() != Some(&0xE0),
        "the broker answered a bad CONNECT with DISCONNECT before any CONNACK"
    );
    Ok(())
}

/// The first packet from the broker is a successful CONNACK, and only one CONNACK is sent.
pub async fn connack_first_and_once(c: Arc<Ctx>) -> TestResult {
    let (mut p, ack) = c.connect().await?; // fails unless the first packet is a successful CONNACK
    ensure!(
        ack.reason_code == ReasonCode::Success,
        "CONNACK code {:?}",
        ack.reason_code
    );
    p.expect_alive("after CONNACK").await?;
    if let Some(Packet::ConnAck(_)) = p.poll(c.quiet(), "anything").await? {
        fail!("a second CONNACK arrived");
    }
    p.disconnect().await;
    Ok(())
}

/// Clean Start 1 discards the stored session: Session Present 0, and its subscriptions are gone.
pub async fn clean_start_discards(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    c.session(&id);
    let t = c.topic("t");
    let mut first = c.connect_packet(&id);
    first.clean_start = false;
    first.properties.session_expiry_interval = c.is_v5().then_some(300);
    let (mut p, _) = c.connect_with(first).await?;
    p.sub(&t, QoS::AtLeastOnce).await?;
    p.disconnect().await;
    let (mut p, ack) = c.connect_with(c.connect_packet(&id)).await?;
    ensure!(
        !ack.session_present,
        "Session Present 1 after a Clean Start 1 CONNECT"
    );
    let (mut publ, _) = c.connect().await?;
    publ.pub_msg(&t, b"x", QoS::AtLeastOnce, false).await?;
    p.expect_no_publish(c.quiet(), "the discarded session's subscription still delivered")
        .await?;
    Ok(())
}

/// Clean Start 0 with a stored session resumes it: Session Present 1 and its subscriptions still deliver.
pub async fn session_resumed(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    c.session(&id);
    let t = c.topic("t");
    let mut connect = c.connect_packet(&id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = c.is_v5().then_some(300);
    let (mut p, _) = c.connect_with(connect.clone()).await?;
    p.sub(&t, QoS::AtLeastOnce).await?;
    p.disconnect().await;
    let (mut p, ack) = c.connect_with(connect).await?;
    ensure!(
        ack.session_present,
        "Session Present 0 on resuming a stored session"
    );
    let (mut publ, _) = c.connect().await?;
    publ.pub_msg(&t, b"x", QoS::AtLeastOnce, false).await?;
    let m = p.recv_publish("the resumed subscription's message").await?;
    ensure!(m.topic.as_str() == t, "got topic {:?}", m.topic.as_str());
    Ok(())
}

/// Clean Start 0 without a stored session creates one: Session Present 0.
pub async fn new_session_present_0(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    c.session(&id);
    let mut connect = c.connect_packet(&id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = c.is_v5().then_some(60);
    let (p, ack) = c.connect_with(connect).await?;
    ensure!(
        !ack.session_present,
        "Session Present 1 for a client id never seen before"
    );
    p.disconnect().await;
    Ok(())
}

/// Messages for a disconnected stored session are kept and delivered when it resumes (QoS 1 and 2).
pub async fn offline_messages_kept(c: Arc<Ctx>) -> TestResult {
    let id = c.client_id();
    c.session(&id);
    let t = c.topic("t");
    let mut connect = c.connect_packet(&id);
    connect.clean_start = false;
    connect.properties.session_expiry_interval = c.is_v5().then_some(300);
    let (mut p, _) = c.connect_with(connect.clone()).await?;
    p.sub(&t, QoS::ExactlyOnce).await?;
    p.disconnect().await;
    let (mut publ, _) = c.connect().await?;
    publ.pub_msg(&t, b"one", QoS::AtLeastOnce, false).await?;
    publ.pub_msg(&t, b"two", QoS::ExactlyOnce, false).await?;
    let (mut p, _) = c.connect_with(connect).await?;
    let a = p.recv_publish("the first message stored while offline").await?;
    let b = p.recv_publish("the second message stored while offline").await?;
    ensure!(
        a.payload.as_ref() == b"one" && b.payload.as_ref() == b"two",
        "got {:?} then {:?}",
        a.payload,
        b.payload
    );
    Ok(())
}

/// The broker accepts a 23-character client identifier of letters and digits.
pub async fn client_id_23(c: Arc<Ctx>) -> TestResult {
    let mut id = c.client_id();
    while id.len() < 23 {
        id.push('Z');
    }
    let (p, _) = c.connect_with(c.connect_packet(&id)).await?;
    p.disconnect().await;
    Ok(())
}

/// A zero-length client identifier, if allowed, gets a unique identifier (5.0: returned as Assigned Client
/// Identifier, different for two connections).
pub async fn empty_client_id(c: Arc<Ctx>) -> TestResult {
    let (mut a, ack) = c.try_connect(c.connect_packet("")).await?;
    if !ack.reason_code.is_success() {
        not_applicable!(
            "the broker does not allow empty client ids ({:?})",
            ack.reason_code
        );
    }
    if c.is_v5() {
        let (b, ack2) = c.connect_with(c.connect_packet("")).await?;
        let (Some(x), Some(y)) = (
            ack.properties.assigned_client_identifier.as_ref(),
            ack2.properties.assigned_client_identifier.as_ref(),
        ) else {
            fail!("CONNACK to an empty client id has no Assigned Client Identifier");
        };
        ensure!(!x.as_str().is_empty(), "the Assigned Client Identifier is empty");
        ensure!(
            x != y,
            "two connections were assigned the same identifier {:?}",
            x.as_str()
        );
        b.disconnect().await;
    }
    a.expect_alive("with an assigned client id").await?;
    a.disconnect().await;
    Ok(())
}

/// 3.1.1: a zero-length client identifier with Clean Session 0 gets CONNACK 0x02 and the connection closes.
pub async fn empty_client_id_persistent_v3(c: Arc<Ctx>) -> TestResult {
    let mut connect = c.connect_packet("");
    connect.clean_start = false;
    let (mut p, ack) = c.try_connect(connect).await?;
    ensure!(
        ack.reason_code == ReasonCode::ClientIdentifierNotValid,
        "CONNACK {:?}, expected 0x02 (identifier rejected)",
        ack.reason_code
    );
    p.expect_closed("after CONNACK 0x02").await?;
    Ok(())
}

/// A CONNECT with the client identifier of a connected client closes the older connection (5.0: a DISCONNECT,
/// if sent, carries 0x8E Session taken over).
pub async fn takeover(c: Arc<Ctx>) -> TestResult {
    let (mut old, _) = c.connect().await?;
    let (new, _) = c.connect_with(c.connect_packet(&old.client_id.clone())).await?;
    let d = old
        .expect_closed("the first connection after another CONNECT with its client id")
        .await?;
    if let Some(d) = d {
        ensure!(
            d.reason_code == ReasonCode::SessionTakenOver,
            "DISCONNECT {:?}, expected 0x8E",
            d.reason_code
        );
        ensure!(
            d.properties.session_expiry_interval.is_none(),
            "the broker's DISCONNECT carries a Session Expiry Interval"
        );
    }
    new.disconnect().await;
    Ok(())
}

/// After refusing a CONNECT the broker processes nothing sent after it: a PUBLISH pipelined behind a refused
/// CONNECT is not delivered.
pub async fn nothing_after_refused_connect(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    c.retained(&t);
    let mut sub = c.subscriber(&t, QoS::AtMostOnce).await?;
    let id = c.client_id();
    let mut bytes = wire::connect(b"MQTT", 7, 0x02, &wire::string(id.as_bytes()));
    bytes.extend(wire::publish(
        false,
        t.as_bytes(),
        &[],
        b"after a refused CONNECT",
    ));
    let _ = c.probe(&bytes).await?;
    sub.expect_no_publish(c.quiet(), "a PUBLISH sent after a refused CONNECT was delivered")
        .await
}

/// Registers the shared connect tests under their 5.0 ids.
pub fn tests() -> Vec<TestCase> {
    use crate::config::Protocol::V5;
    cases!(V5;
        "MQTT-3.1.0-2" => second_connect,
        "MQTT-3.1.2-1" => bad_protocol_name,
        "MQTT-3.1.2-2" => unsupported_level,
        "MQTT-3.1.2-3" => reserved_flag,
        "MQTT-3.1.2-4" => clean_start_discards,
        "MQTT-3.1.4-4" => clean_start_discards,
        "MQTT-3.2.2-2" => clean_start_discards,
        "MQTT-3.1.2-5" => session_resumed,
        "MQTT-3.1.2-23" => session_resumed,
        "MQTT-3.1.3-2" => session_resumed,
        "MQTT-3.2.2-3" => session_resumed,
        "MQTT-3.1.2-6" => new_session_present_0,
        "MQTT-4.5.0-1" => offline_messages_kept,
        "MQTT-3.1.3-5" => client_id_23,
        "MQTT-3.1.3-6" => empty_client_id,
        "MQTT-3.1.3-7" => empty_client_id,
        "MQTT-3.2.2-16" => empty_client_id,
        "MQTT-3.1.4-1" => malformed_connect,
        "MQTT-3.1.4-3" => takeover,
        "MQTT-3.1.4-5" => connack_first_and_once,
        "MQTT-3.2.0-1" => connack_first_and_once,
        "MQTT-3.2.0-2" => connack_first_and_once,
        "MQTT-3.1.4-6" => nothing_after_refused_connect,
        "MQTT-3.14.0-1" => no_disconnect_before_connack,
    )
}
