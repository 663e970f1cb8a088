//! The MQTT-SN 1.2 gateway tests.

use super::peer::{SnPeer, sn_name};
use crate::ctx::Ctx;
use crate::registry::{Stop, TestCase, TestResult};
use crate::{cases, ensure, fail};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tern_mqtt_codec::QoS as MqttQoS;
use tern_mqttsn_codec::{
    Disconnect, Message, PingReq, PubAck, Publish, QoS, RegAck, Register, ReturnCode, SearchGw, Subscribe,
    Topic, TopicFilter, Unsubscribe, Utf8Bytes, WillMsg, WillTopic,
};

fn utf8(s: &str) -> Utf8Bytes {
    Utf8Bytes::try_from_bytes(Bytes::copy_from_slice(s.as_bytes())).unwrap_or_default()
}

/// A new SN client, connected (no will, keep alive 60 s).
async fn sn_client(c: &Ctx) -> Result<SnPeer, Stop> {
    let mut p = SnPeer::open(&c.cfg.url, c.step()).await?;
    match p.connect(&c.client_id(), 60, false).await? {
        Message::ConnAck {
            return_code: ReturnCode::Accepted,
        } => Ok(p),
        other => Err(Stop::Fail(format!(
            "CONNECT answered with {} ({other:?})",
            sn_name(&other)
        ))),
    }
}

/// Registers `topic` and returns its topic id.
async fn register(p: &mut SnPeer, topic: &str) -> Result<u16, Stop> {
    let msg_id = p.next_id();
    p.send(&Message::Register(Register {
        topic_id: 0,
        msg_id,
        topic_name: utf8(topic),
    }))
    .await?;
    match p
        .recv_where("REGACK", |m| matches!(m, Message::RegAck(_)))
        .await?
    {
        Message::RegAck(RegAck {
            topic_id,
            msg_id: id,
            return_code,
        }) => {
            ensure!(id == msg_id, "REGACK carries MsgId {id}, REGISTER had {msg_id}");
            ensure!(
                return_code == ReturnCode::Accepted,
                "REGISTER refused: {return_code:?}"
            );
            ensure!(
                topic_id != 0 && topic_id != 0xFFFF,
                "REGACK assigned the reserved topic id {topic_id:#06x}"
            );
            Ok(topic_id)
        }
        _ => fail!("internal: filter mismatch"),
    }
}

fn publish(topic: Topic, qos: QoS, msg_id: u16, payload: &'static [u8]) -> Message {
    Message::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic,
        msg_id,
        payload: Bytes::from_static(payload),
    })
}

/// SEARCHGW is answered with GWINFO.
pub async fn search_gw(c: Arc<Ctx>) -> TestResult {
    let mut p = SnPeer::open(&c.cfg.url, c.step()).await?;
    p.send(&Message::SearchGw(SearchGw { radius: 0 })).await?;
    p.recv_where("GWINFO", |m| matches!(m, Message::GwInfo(_)))
        .await?;
    Ok(())
}

/// CONNECT without will: CONNACK accepted.
pub async fn connect(c: Arc<Ctx>) -> TestResult {
    sn_client(&c).await.map(|_| ())
}

/// CONNECT with will: WILLTOPICREQ, WILLTOPIC, WILLMSGREQ, WILLMSG, CONNACK.
pub async fn connect_with_will(c: Arc<Ctx>) -> TestResult {
    let mut p = SnPeer::open(&c.cfg.url, c.step()).await?;
    let first = p.connect(&c.client_id(), 60, true).await?;
    ensure!(
        matches!(first, Message::WillTopicReq),
        "CONNECT with Will answered with {} instead of WILLTOPICREQ",
        sn_name(&first)
    );
    let wt = WillTopic {
        qos: QoS::AtMostOnce,
        retain: false,
        topic: utf8(&c.topic("will")),
    };
    p.send(&Message::WillTopic(Some(wt))).await?;
    p.recv_where("WILLMSGREQ", |m| matches!(m, Message::WillMsgReq))
        .await?;
    p.send(&Message::WillMsg(WillMsg {
        message: Bytes::from_static(b"gone"),
    }))
    .await?;
    match p
        .recv_where("CONNACK", |m| matches!(m, Message::ConnAck { .. }))
        .await?
    {
        Message::ConnAck {
            return_code: ReturnCode::Accepted,
        } => Ok(()),
        other => fail!("CONNACK after the will exchange: {other:?}"),
    }
}

/// A lost client's will (keep alive 1 s, then silence) reaches the MQTT side.
pub async fn will_of_lost_client(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("will");
    let mut s = c.subscriber(&t, MqttQoS::AtMostOnce).await?;
    let mut p = SnPeer::open(&c.cfg.url, c.step()).await?;
    p.connect(&c.client_id(), 1, true).await?;
    p.send(&Message::WillTopic(Some(WillTopic {
        qos: QoS::AtMostOnce,
        retain: false,
        topic: utf8(&t),
    })))
    .await?;
    p.recv_where("WILLMSGREQ", |m| matches!(m, Message::WillMsgReq))
        .await?;
    p.send(&Message::WillMsg(WillMsg {
        message: Bytes::from_static(b"lost"),
    }))
    .await?;
    p.recv_where("CONNACK", |m| matches!(m, Message::ConnAck { .. }))
        .await?;
    drop(p);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = s.recv_publish("the will of the silent MQTT-SN client").await?;
    ensure!(
        m.payload.as_ref() == b"lost",
        "the will arrived as {:?}",
        m.payload
    );
    Ok(())
}

/// WILLTOPICUPD / WILLMSGUPD are answered with WILLTOPICRESP / WILLMSGRESP.
pub async fn will_update(c: Arc<Ctx>) -> TestResult {
    let mut p = sn_client(&c).await?;
    let wt = WillTopic {
        qos: QoS::AtMostOnce,
        retain: false,
        topic: utf8(&c.topic("will")),
    };
    p.send(&Message::WillTopicUpd(Some(wt))).await?;
    match p
        .recv_where("WILLTOPICRESP", |m| matches!(m, Message::WillTopicResp { .. }))
        .await?
    {
        Message::WillTopicResp {
            return_code: ReturnCode::Accepted,
        } => {}
        other => fail!("WILLTOPICUPD answered with {other:?}"),
    }
    p.send(&Message::WillMsgUpd(WillMsg {
        message: Bytes::from_static(b"w"),
    }))
    .await?;
    match p
        .recv_where("WILLMSGRESP", |m| matches!(m, Message::WillMsgResp { .. }))
        .await?
    {
        Message::WillMsgResp {
            return_code: ReturnCode::Accepted,
        } => Ok(()),
        other => fail!("WILLMSGUPD answered with {other:?}"),
    }
}

/// REGISTER gets REGACK with the MsgId and a usable topic id.
pub async fn register_topic(c: Arc<Ctx>) -> TestResult {
    let mut p = sn_client(&c).await?;
    register(&mut p, &c.topic("t")).await.map(|_| ())
}

/// QoS 1 PUBLISH to a registered id: PUBACK, and the MQTT side receives it.
pub async fn publish_qos1(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, MqttQoS::AtLeastOnce).await?;
    let mut p = sn_client(&c).await?;
    let id = register(&mut p, &t).await?;
    let msg_id = p.next_id();
    p.send(&publish(Topic::Id(id), QoS::AtLeastOnce, msg_id, b"sn1"))
        .await?;
    match p
        .recv_where("PUBACK", |m| matches!(m, Message::PubAck(_)))
        .await?
    {
        Message::PubAck(PubAck {
            topic_id,
            msg_id: got,
            return_code,
        }) => {
            ensure!(
                got == msg_id && topic_id == id,
                "PUBACK for topic {topic_id} MsgId {got}, sent {id} / {msg_id}"
            );
            ensure!(
                return_code == ReturnCode::Accepted,
                "PUBLISH refused: {return_code:?}"
            );
        }
        _ => fail!("internal: filter mismatch"),
    }
    let m = s.recv_publish("the MQTT-SN message on the MQTT side").await?;
    ensure!(m.payload.as_ref() == b"sn1", "got {:?}", m.payload);
    Ok(())
}

/// PUBLISH to an unknown topic id: PUBACK with "invalid topic id".
pub async fn publish_unknown_id(c: Arc<Ctx>) -> TestResult {
    let mut p = sn_client(&c).await?;
    let msg_id = p.next_id();
    p.send(&publish(Topic::Id(0x7FFE), QoS::AtLeastOnce, msg_id, b"x"))
        .await?;
    match p
        .recv_where("PUBACK", |m| matches!(m, Message::PubAck(_)))
        .await?
    {
        Message::PubAck(a) => ensure!(
            a.return_code == ReturnCode::InvalidTopicId,
            "PUBACK carries {:?}, expected 0x02",
            a.return_code
        ),
        _ => fail!("internal: filter mismatch"),
    }
    Ok(())
}

/// QoS 2: PUBREC, PUBREL, PUBCOMP; forwarded once.
pub async fn publish_qos2(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut s = c.subscriber(&t, MqttQoS::ExactlyOnce).await?;
    let mut p = sn_client(&c).await?;
    let id = register(&mut p, &t).await?;
    let msg_id = p.next_id();
    let m = publish(Topic::Id(id), QoS::ExactlyOnce, msg_id, b"sn2");
    p.send(&m).await?;
    p.recv_where(
        "PUBREC",
        |x| matches!(x, Message::PubRec { msg_id: i } if *i == msg_id),
    )
    .await?;
    p.send(&m).await?; // a duplicate before PUBREL
    p.recv_where(
        "PUBREC for the duplicate",
        |x| matches!(x, Message::PubRec { msg_id: i } if *i == msg_id),
    )
    .await?;
    p.send(&Message::PubRel { msg_id }).await?;
    p.recv_where(
        "PUBCOMP",
        |x| matches!(x, Message::PubComp { msg_id: i } if *i == msg_id),
    )
    .await?;
    let got = s.recv_publish("the QoS 2 message on the MQTT side").await?;
    ensure!(got.payload.as_ref() == b"sn2", "got {:?}", got.payload);
    s.expect_no_publish(c.quiet(), "the QoS 2 message was forwarded twice")
        .await
}

/// Receives on the MQTT side until a message with `payload` arrives on `topic`.
async fn mqtt_gets(s: &mut crate::peer::Peer, topic: &str, payload: &[u8]) -> TestResult {
    loop {
        let m = s.recv_publish("the MQTT-SN message on the MQTT side").await?;
        if m.topic.as_str() == topic && m.payload.as_ref() == payload {
            return Ok(());
        }
    }
}

/// A short topic name is forwarded to that MQTT topic.
pub async fn short_topic(c: Arc<Ctx>) -> TestResult {
    let mut s = c.subscriber("zq", MqttQoS::AtMostOnce).await?;
    let mut p = sn_client(&c).await?;
    let payload = c.client_id();
    let msg_id = p.next_id();
    let m = Message::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: Topic::Short(*b"zq"),
        msg_id,
        payload: Bytes::from(payload.clone()),
    });
    p.send(&m).await?;
    p.recv_where("PUBACK", |x| matches!(x, Message::PubAck(_)))
        .await?;
    mqtt_gets(&mut s, "zq", payload.as_bytes()).await
}

/// QoS -1 with a short topic name, without any connection, reaches the MQTT side.
pub async fn qos_minus_one(c: Arc<Ctx>) -> TestResult {
    let mut s = c.subscriber("zm", MqttQoS::AtMostOnce).await?;
    let mut p = SnPeer::open(&c.cfg.url, c.step()).await?;
    let payload = c.client_id();
    let m = Message::Publish(Publish {
        dup: false,
        qos: QoS::MinusOne,
        retain: false,
        topic: Topic::Short(*b"zm"),
        msg_id: 0,
        payload: Bytes::from(payload.clone()),
    });
    p.send(&m).await?;
    mqtt_gets(&mut s, "zm", payload.as_bytes()).await
}

/// SUBSCRIBE to a topic name: SUBACK with the topic id; MQTT messages arrive with it.
pub async fn subscribe_name(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut p = sn_client(&c).await?;
    let msg_id = p.next_id();
    p.send(&Message::Subscribe(Subscribe {
        dup: false,
        qos: QoS::AtLeastOnce,
        msg_id,
        topic: TopicFilter::Name(utf8(&t)),
    }))
    .await?;
    let topic_id = match p
        .recv_where("SUBACK", |m| matches!(m, Message::SubAck(_)))
        .await?
    {
        Message::SubAck(a) => {
            ensure!(
                a.msg_id == msg_id,
                "SUBACK carries MsgId {}, SUBSCRIBE had {msg_id}",
                a.msg_id
            );
            ensure!(
                a.return_code == ReturnCode::Accepted,
                "SUBSCRIBE refused: {:?}",
                a.return_code
            );
            a.topic_id
        }
        _ => fail!("internal: filter mismatch"),
    };
    let (mut m, _) = c.connect().await?;
    m.pub_msg(&t, b"to-sn", MqttQoS::AtLeastOnce, false).await?;
    match p
        .recv_where("PUBLISH", |x| matches!(x, Message::Publish(_)))
        .await?
    {
        Message::Publish(pb) => {
            ensure!(
                pb.topic == Topic::Id(topic_id),
                "PUBLISH with topic {:?}, SUBACK gave {topic_id}",
                pb.topic
            );
            ensure!(pb.payload.as_ref() == b"to-sn", "got {:?}", pb.payload);
            if pb.qos == QoS::AtLeastOnce {
                p.send(&Message::PubAck(PubAck {
                    topic_id,
                    msg_id: pb.msg_id,
                    return_code: ReturnCode::Accepted,
                }))
                .await?;
            }
        }
        _ => fail!("internal: filter mismatch"),
    }
    Ok(())
}

/// SUBSCRIBE to a wildcard: SUBACK topic id 0; a matching message comes after a REGISTER of its name.
pub async fn subscribe_wildcard(c: Arc<Ctx>) -> TestResult {
    let mut p = sn_client(&c).await?;
    let msg_id = p.next_id();
    let f = c.topic("+");
    p.send(&Message::Subscribe(Subscribe {
        dup: false,
        qos: QoS::AtMostOnce,
        msg_id,
        topic: TopicFilter::Name(utf8(&f)),
    }))
    .await?;
    match p
        .recv_where("SUBACK", |m| matches!(m, Message::SubAck(_)))
        .await?
    {
        Message::SubAck(a) => {
            ensure!(
                a.return_code == ReturnCode::Accepted,
                "SUBSCRIBE {f:?} refused: {:?}",
                a.return_code
            );
            ensure!(
                a.topic_id == 0,
                "SUBACK to a wildcard filter carries topic id {}",
                a.topic_id
            );
        }
        _ => fail!("internal: filter mismatch"),
    }
    let t = c.topic("x");
    let (mut m, _) = c.connect().await?;
    m.pub_msg(&t, b"w", MqttQoS::AtMostOnce, false).await?;
    let first = p
        .recv_where("REGISTER or PUBLISH", |x| {
            matches!(x, Message::Register(_) | Message::Publish(_))
        })
        .await?;
    let Message::Register(r) = first else {
        fail!(
            "the gateway sent {} before any REGISTER of the topic",
            sn_name(&first)
        )
    };
    ensure!(
        r.topic_name.as_str() == t,
        "REGISTER of {:?}, published {t:?}",
        r.topic_name.as_str()
    );
    p.send(&Message::RegAck(RegAck {
        topic_id: r.topic_id,
        msg_id: r.msg_id,
        return_code: ReturnCode::Accepted,
    }))
    .await?;
    match p
        .recv_where("PUBLISH", |x| matches!(x, Message::Publish(_)))
        .await?
    {
        Message::Publish(pb) => ensure!(
            pb.topic == Topic::Id(r.topic_id),
            "PUBLISH with {:?}, registered {}",
            pb.topic,
            r.topic_id
        ),
        _ => fail!("internal: filter mismatch"),
    }
    Ok(())
}

/// UNSUBSCRIBE: UNSUBACK with the MsgId, no more deliveries.
pub async fn unsubscribe(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut p = sn_client(&c).await?;
    let msg_id = p.next_id();
    p.send(&Message::Subscribe(Subscribe {
        dup: false,
        qos: QoS::AtMostOnce,
        msg_id,
        topic: TopicFilter::Name(utf8(&t)),
    }))
    .await?;
    p.recv_where("SUBACK", |m| matches!(m, Message::SubAck(_)))
        .await?;
    let msg_id = p.next_id();
    p.send(&Message::Unsubscribe(Unsubscribe {
        msg_id,
        topic: TopicFilter::Name(utf8(&t)),
    }))
    .await?;
    p.recv_where(
        "UNSUBACK",
        |m| matches!(m, Message::UnsubAck { msg_id: i } if *i == msg_id),
    )
    .await?;
    let (mut m, _) = c.connect().await?;
    m.pub_msg(&t, b"after", MqttQoS::AtMostOnce, false).await?;
    p.expect_none(c.quiet(), "a message arrived after UNSUBSCRIBE", |x| {
        matches!(x, Message::Publish(_))
    })
    .await
}

/// PINGREQ: PINGRESP.
pub async fn ping(c: Arc<Ctx>) -> TestResult {
    let mut p = sn_client(&c).await?;
    p.send(&Message::PingReq(PingReq { client_id: None })).await?;
    p.recv_where("PINGRESP", |m| matches!(m, Message::PingResp))
        .await
        .map(|_| ())
}

/// DISCONNECT: DISCONNECT.
pub async fn disconnect(c: Arc<Ctx>) -> TestResult {
    let mut p = sn_client(&c).await?;
    p.send(&Message::Disconnect(Disconnect { duration: None }))
        .await?;
    p.recv_where("DISCONNECT", |m| matches!(m, Message::Disconnect(_)))
        .await
        .map(|_| ())
}

/// Sleeping client: DISCONNECT(duration) answered; messages buffered; PINGREQ(client id) delivers them, then
/// PINGRESP.
pub async fn sleeping_client(c: Arc<Ctx>) -> TestResult {
    let t = c.topic("t");
    let mut p = sn_client(&c).await?;
    let msg_id = p.next_id();
    p.send(&Message::Subscribe(Subscribe {
        dup: false,
        qos: QoS::AtLeastOnce,
        msg_id,
        topic: TopicFilter::Name(utf8(&t)),
    }))
    .await?;
    p.recv_where("SUBACK", |m| matches!(m, Message::SubAck(_)))
        .await?;
    p.send(&Message::Disconnect(Disconnect { duration: Some(30) }))
        .await?;
    p.recv_where("DISCONNECT", |m| matches!(m, Message::Disconnect(_)))
        .await?;
    let (mut m, _) = c.connect().await?;
    m.pub_msg(&t, b"zzz", MqttQoS::AtLeastOnce, false).await?;
    p.expect_none(c.quiet(), "a message reached a sleeping client", |x| {
        matches!(x, Message::Publish(_))
    })
    .await?;
    let id = p.client_id.clone();
    p.send(&Message::PingReq(PingReq {
        client_id: Some(utf8(&id)),
    }))
    .await?;
    match p
        .recv_where("the buffered PUBLISH", |x| {
            matches!(x, Message::Publish(_) | Message::PingResp)
        })
        .await?
    {
        Message::Publish(pb) => {
            ensure!(pb.payload.as_ref() == b"zzz", "got {:?}", pb.payload);
            if pb.qos == QoS::AtLeastOnce {
                let topic_id = match pb.topic {
                    Topic::Id(i) | Topic::Predefined(i) => i,
                    Topic::Short(_) => 0,
                };
                p.send(&Message::PubAck(PubAck {
                    topic_id,
                    msg_id: pb.msg_id,
                    return_code: ReturnCode::Accepted,
                }))
                .await?;
            }
        }
        other => fail!(
            "the awakened client got {} before its buffered message",
            sn_name(&other)
        ),
    }
    p.recv_where("PINGRESP after the buffered messages", |x| {
        matches!(x, Message::PingResp)
    })
    .await
    .map(|_| ())
}

/// Registers the MQTT-SN tests.
pub fn tests() -> Vec<TestCase> {
    use crate::config::Protocol::Sn;
    cases!(Sn;
        "SN-6.1-1" => search_gw,
        "SN-6.2-1" => connect,
        "SN-6.2-2" => connect_with_will,
        "SN-6.2-3" => will_of_lost_client,
        "SN-6.4-1" => will_update,
        "SN-6.5-1" => register_topic,
        "SN-6.6-1" => publish_qos1,
        "SN-6.6-2" => publish_unknown_id,
        "SN-6.6-3" => publish_qos2,
        "SN-6.7-1" => short_topic,
        "SN-6.8-1" => qos_minus_one,
        "SN-6.9-1" => subscribe_name,
        "SN-6.9-2" => subscribe_wildcard,
        "SN-6.9-3" => unsubscribe,
        "SN-6.11-1" => ping,
        "SN-6.12-1" => disconnect,
        "SN-6.14-1" => sleeping_client,
    )
}
