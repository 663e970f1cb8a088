//! Wills: abnormal close, keep-alive expiry, DISCONNECT 0x00 / 0x04, will delay, cancellation by reconnect,
//! session end before the delay.

use crate::harness::*;
use std::time::Duration;
use tern_mqtt_codec::{ProtocolVersion, QoS, ReasonCode};

fn watcher(w: &World) -> Client {
    let mut c = w.connect5("watcher", true, 0);
    c.subscribe("will/#", QoS::AtLeastOnce);
    c
}

fn connect_with_will(w: &World, id: &str, delay: Option<u32>, expiry: u32) -> Client {
    let mut p = connect_packet(ProtocolVersion::V5, id, true);
    p.will = Some(will("will/a", "gone", delay));
    p.properties.session_expiry_interval = Some(expiry);
    let (c, ack) = w.connect_with(p);
    assert_eq!(ack.reason_code, ReasonCode::Success);
    c
}

#[test]
fn abnormal_close_publishes_will() {
    let w = World::quiet();
    let mut watch = watcher(&w);
    let mut c = connect_with_will(&w, "a", None, 0);
    c.conn.handle_close(w.now);
    let got = watch.publishes();
    assert_eq!(got.len(), 1);
    assert_eq!(payload(&got[0]), "gone");
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
}

#[test]
fn keep_alive_expiry_publishes_will() {
    let w = World::quiet();
    let mut watch = watcher(&w);
    let mut p = connect_packet(ProtocolVersion::V3_1_1, "a", true);
    p.keep_alive = 4;
    p.will = Some(will("will/a", "timeout", None));
    let (mut c, _) = w.connect_with(p);
    c.conn.handle_timeout(w.t0 + Duration::from_secs(6));
    assert!(c.conn.is_closed());
    assert_eq!(payload(&watch.publishes()[0]), "timeout");
}

#[test]
fn normal_disconnect_discards_will() {
    let w = World::quiet();
    let mut watch = watcher(&w);
    let mut c = connect_with_will(&w, "a", None, 0);
    c.disconnect(ReasonCode::NormalDisconnection);
    c.conn.handle_close(w.now);
    assert!(watch.publishes().is_empty());
}

#[test]
fn disconnect_with_will_message_publishes_will() {
    let w = World::quiet();
    let mut watch = watcher(&w);
    let mut c = connect_with_will(&w, "a", None, 0);
    c.disconnect(ReasonCode::DisconnectWithWillMessage);
    assert_eq!(watch.publishes().len(), 1);
}

#[test]
fn will_delay_fires_after_delay() {
    let mut w = World::quiet();
    let mut watch = watcher(&w);
    let mut c = connect_with_will(&w, "a", Some(5), 100);
    c.conn.handle_close(w.now);
    assert!(watch.publishes().is_empty());
    assert_eq!(w.core.poll_timeout(), Some(w.t0 + Duration::from_secs(5)));
    w.at(4);
    assert!(watch.publishes().is_empty());
    w.at(5);
    assert_eq!(watch.publishes().len(), 1);
    assert_eq!(w.core.stats().sessions, 2, "session outlives its will");
}

#[test]
fn will_delay_cancelled_by_reconnect() {
    let mut w = World::quiet();
    let mut watch = watcher(&w);
    let mut c = connect_with_will(&w, "a", Some(5), 100);
    c.conn.handle_close(w.now);
    w.at(3);
    let _c2 = w.connect5("a", false, 100);
    w.at(10);
    assert!(watch.publishes().is_empty());
}

#[test]
fn will_fires_at_session_end_when_earlier_than_delay() {
    let mut w = World::quiet();
    let mut watch = watcher(&w);
    let mut c = connect_with_will(&w, "a", Some(60), 5);
    c.conn.handle_close(w.now);
    w.at(4);
    assert!(watch.publishes().is_empty());
    w.at(5);
    assert_eq!(watch.publishes().len(), 1);
    assert_eq!(w.core.stats().sessions, 1, "only the watcher's session remains");
}

#[test]
fn will_delay_with_zero_expiry_publishes_at_once() {
    let w = World::quiet();
    let mut watch = watcher(&w);
    let mut c = connect_with_will(&w, "a", Some(60), 0);
    c.conn.handle_close(w.now);
    assert_eq!(watch.publishes().len(), 1);
}

#[test]
fn protocol_violation_publishes_will() {
    let w = World::quiet();
    let mut watch = watcher(&w);
    let mut c = connect_with_will(&w, "a", None, 0);
    c.send(&tern_mqtt_codec::Packet::PingResp);
    assert_eq!(disconnect_code(&c.recv()), Some(ReasonCode::ProtocolError));
    assert!(c.conn.is_closed());
    assert_eq!(watch.publishes().len(), 1);
}
