//! proptest strategies for every message, used by the round-trip properties.
//!
//! They generate only values whose encoding decodes back to the same value
//! (no `Some(empty)` optional fields, radius 0..=3, no nested envelopes).

use super::*;
use crate::qos::QoS;
use crate::topic::{Topic, TopicFilter};
use crate::utf8::Utf8Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Any QoS, including -1.
pub(crate) fn qos() -> impl Strategy<Value = QoS> {
    (0u8..4).prop_map(QoS::from_bits)
}

/// Any return code, known or not.
pub(crate) fn return_code() -> impl Strategy<Value = ReturnCode> {
    any::<u8>().prop_map(ReturnCode::from)
}

/// UTF-8 text of `min..max` characters (any Unicode scalar values).
pub(crate) fn text(min: usize, max: usize) -> impl Strategy<Value = Utf8Bytes> {
    vec(any::<char>(), min..max).prop_map(|c| Utf8Bytes::from(c.into_iter().collect::<String>()))
}

/// Opaque octets, long enough to reach the 3-octet length form.
pub(crate) fn octets(min: usize, max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), min..max).prop_map(Bytes::from)
}

/// ADVERTISE.
pub(crate) fn advertise() -> impl Strategy<Value = Advertise> {
    (any::<u8>(), any::<u16>()).prop_map(|(gw_id, duration)| Advertise { gw_id, duration })
}

/// GWINFO, with or without GwAdd.
pub(crate) fn gwinfo() -> impl Strategy<Value = GwInfo> {
    (any::<u8>(), option::of(octets(1, 20))).prop_map(|(gw_id, gw_add)| GwInfo { gw_id, gw_add })
}

/// CONNECT.
pub(crate) fn connect() -> impl Strategy<Value = Connect> {
    (any::<bool>(), any::<bool>(), any::<u16>(), text(0, 40)).prop_map(
        |(will, clean_session, duration, client_id)| Connect {
            will,
            clean_session,
            version: crate::ProtocolVersion::V1_2,
            duration,
            client_id,
        },
    )
}

/// Body of WILLTOPIC / WILLTOPICUPD, or the empty form.
pub(crate) fn will_topic() -> impl Strategy<Value = Option<WillTopic>> {
    option::of(
        (qos(), any::<bool>(), text(0, 40)).prop_map(|(qos, retain, topic)| WillTopic { qos, retain, topic }),
    )
}

/// WILLMSG / WILLMSGUPD.
pub(crate) fn will_msg() -> impl Strategy<Value = WillMsg> {
    octets(0, 400).prop_map(|message| WillMsg { message })
}

/// REGISTER.
pub(crate) fn register() -> impl Strategy<Value = Register> {
    (any::<u16>(), any::<u16>(), text(0, 60)).prop_map(|(topic_id, msg_id, topic_name)| Register {
        topic_id,
        msg_id,
        topic_name,
    })
}

/// REGACK.
pub(crate) fn regack() -> impl Strategy<Value = RegAck> {
    (any::<u16>(), any::<u16>(), return_code()).prop_map(|(topic_id, msg_id, return_code)| RegAck {
        topic_id,
        msg_id,
        return_code,
    })
}

/// A PUBLISH topic of any type.
pub(crate) fn topic() -> impl Strategy<Value = Topic> {
    prop_oneof![
        any::<u16>().prop_map(Topic::Id),
        any::<u16>().prop_map(Topic::Predefined),
        any::<[u8; 2]>().prop_map(Topic::Short),
    ]
}

/// PUBLISH, with payloads on both sides of the 256-octet length boundary.
pub(crate) fn publish() -> impl Strategy<Value = Publish> {
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic(),
        any::<u16>(),
        octets(0, 600),
    )
        .prop_map(|(dup, qos, retain, topic, msg_id, payload)| Publish {
            dup,
            qos,
            retain,
            topic,
            msg_id,
            payload,
        })
}

/// PUBACK.
pub(crate) fn puback() -> impl Strategy<Value = PubAck> {
    (any::<u16>(), any::<u16>(), return_code()).prop_map(|(topic_id, msg_id, return_code)| PubAck {
        topic_id,
        msg_id,
        return_code,
    })
}

/// A SUBSCRIBE/UNSUBSCRIBE topic of any type.
pub(crate) fn filter() -> impl Strategy<Value = TopicFilter> {
    prop_oneof![
        text(0, 60).prop_map(TopicFilter::Name),
        any::<u16>().prop_map(TopicFilter::Predefined),
        any::<[u8; 2]>().prop_map(TopicFilter::Short),
    ]
}

/// SUBSCRIBE.
pub(crate) fn subscribe() -> impl Strategy<Value = Subscribe> {
    (any::<bool>(), qos(), any::<u16>(), filter()).prop_map(|(dup, qos, msg_id, topic)| Subscribe {
        dup,
        qos,
        msg_id,
        topic,
    })
}

/// SUBACK.
pub(crate) fn suback() -> impl Strategy<Value = SubAck> {
    (qos(), any::<u16>(), any::<u16>(), return_code()).prop_map(|(qos, topic_id, msg_id, return_code)| {
        SubAck {
            qos,
            topic_id,
            msg_id,
            return_code,
        }
    })
}

/// UNSUBSCRIBE.
pub(crate) fn unsubscribe() -> impl Strategy<Value = Unsubscribe> {
    (any::<u16>(), filter()).prop_map(|(msg_id, topic)| Unsubscribe { msg_id, topic })
}

/// PINGREQ, with or without a (non-empty) client id.
pub(crate) fn pingreq() -> impl Strategy<Value = PingReq> {
    option::of(text(1, 30)).prop_map(|client_id| PingReq { client_id })
}

/// DISCONNECT, with or without a duration.
pub(crate) fn disconnect() -> impl Strategy<Value = Disconnect> {
    option::of(any::<u16>()).prop_map(|duration| Disconnect { duration })
}

/// Any message except an envelope.
pub(crate) fn plain_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        advertise().prop_map(Message::Advertise),
        any::<u8>().prop_map(|radius| Message::SearchGw(SearchGw { radius })),
        gwinfo().prop_map(Message::GwInfo),
        connect().prop_map(Message::Connect),
        return_code().prop_map(|return_code| Message::ConnAck { return_code }),
        Just(Message::WillTopicReq),
        will_topic().prop_map(Message::WillTopic),
        Just(Message::WillMsgReq),
        will_msg().prop_map(Message::WillMsg),
        register().prop_map(Message::Register),
        regack().prop_map(Message::RegAck),
        publish().prop_map(Message::Publish),
        puback().prop_map(Message::PubAck),
        any::<u16>().prop_map(|msg_id| Message::PubComp { msg_id }),
        any::<u16>().prop_map(|msg_id| Message::PubRec { msg_id }),
        any::<u16>().prop_map(|msg_id| Message::PubRel { msg_id }),
        subscribe().prop_map(Message::Subscribe),
        suback().prop_map(Message::SubAck),
        unsubscribe().prop_map(Message::Unsubscribe),
        any::<u16>().prop_map(|msg_id| Message::UnsubAck { msg_id }),
        pingreq().prop_map(Message::PingReq),
        Just(Message::PingResp),
        disconnect().prop_map(Message::Disconnect),
        will_topic().prop_map(Message::WillTopicUpd),
        return_code().prop_map(|return_code| Message::WillTopicResp { return_code }),
        will_msg().prop_map(Message::WillMsgUpd),
        return_code().prop_map(|return_code| Message::WillMsgResp { return_code }),
    ]
}

/// An Encapsulated Message around any plain message.
pub(crate) fn encapsulated() -> impl Strategy<Value = Encapsulated> {
    (0u8..4, octets(0, 300), plain_message()).prop_map(|(radius, wireless_node_id, message)| Encapsulated {
        radius,
        wireless_node_id,
        message: Box::new(message),
    })
}

/// Any message, envelopes included.
pub(crate) fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        9 => plain_message(),
        1 => encapsulated().prop_map(Message::Encapsulated),
    ]
}
