//! Properties: every message round-trips; no input makes decode panic;
//! decoded fields borrow the input buffer.

use crate::fuzzing::decode_any;
use crate::message::Message;
use crate::message::arbitrary::*;
use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;

/// Encode, check the length, decode, compare; then check the encoding is canonical.
fn round_trip(message: &Message) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    message
        .encode(&mut buf)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(buf.len(), message.encoded_len());
    let bytes = buf.freeze();
    let decoded = super::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&decoded, message);
    let mut again = BytesMut::new();
    decoded
        .encode(&mut again)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&again[..], &bytes[..]);
    decode_any(&bytes);
    Ok(())
}

/// Whether `inner` points into `outer`'s memory (empty slices trivially do).
fn within(outer: &Bytes, inner: &[u8]) -> bool {
    let start = outer.as_ptr() as usize;
    let p = inner.as_ptr() as usize;
    inner.is_empty() || (p >= start && p + inner.len() <= start + outer.len())
}

/// One round-trip property per message type, so a failure names its type.
macro_rules! round_trips {
    ($($name:ident: $strategy:expr => $wrap:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $name(value in $strategy) {
                    round_trip(&$wrap(value))?;
                }
            )*
        }
    };
}

round_trips! {
    advertise_round_trips: advertise() => Message::Advertise;
    searchgw_round_trips: any::<u8>() => |radius| Message::SearchGw(crate::SearchGw { radius });
    gwinfo_round_trips: gwinfo() => Message::GwInfo;
    connect_round_trips: connect() => Message::Connect;
    connack_round_trips: return_code() => |return_code| Message::ConnAck { return_code };
    willtopicreq_round_trips: Just(()) => |()| Message::WillTopicReq;
    willtopic_round_trips: will_topic() => Message::WillTopic;
    willmsgreq_round_trips: Just(()) => |()| Message::WillMsgReq;
    willmsg_round_trips: will_msg() => Message::WillMsg;
    register_round_trips: register() => Message::Register;
    regack_round_trips: regack() => Message::RegAck;
    publish_round_trips: publish() => Message::Publish;
    puback_round_trips: puback() => Message::PubAck;
    pubcomp_round_trips: any::<u16>() => |msg_id| Message::PubComp { msg_id };
    pubrec_round_trips: any::<u16>() => |msg_id| Message::PubRec { msg_id };
    pubrel_round_trips: any::<u16>() => |msg_id| Message::PubRel { msg_id };
    subscribe_round_trips: subscribe() => Message::Subscribe;
    suback_round_trips: suback() => Message::SubAck;
    unsubscribe_round_trips: unsubscribe() => Message::Unsubscribe;
    unsuback_round_trips: any::<u16>() => |msg_id| Message::UnsubAck { msg_id };
    pingreq_round_trips: pingreq() => Message::PingReq;
    pingresp_round_trips: Just(()) => |()| Message::PingResp;
    disconnect_round_trips: disconnect() => Message::Disconnect;
    willtopicupd_round_trips: will_topic() => Message::WillTopicUpd;
    willtopicresp_round_trips: return_code() => |return_code| Message::WillTopicResp { return_code };
    willmsgupd_round_trips: will_msg() => Message::WillMsgUpd;
    willmsgresp_round_trips: return_code() => |return_code| Message::WillMsgResp { return_code };
    encapsulated_round_trips: encapsulated() => Message::Encapsulated;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn never_panics_on_arbitrary_bytes(data in vec(any::<u8>(), 0..700)) {
        let _ = super::decode(&Bytes::from(data.clone()));
        decode_any(&data);
    }

    #[test]
    fn never_panics_on_mutated_encodings(
        message in message(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..4),
    ) {
        let mut buf = BytesMut::new();
        message.encode(&mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut data = buf.to_vec();
        for (at, value, op) in edits {
            let i = if data.is_empty() { 0 } else { at.index(data.len()) };
            match op {
                0 => { if let Some(b) = data.get_mut(i) { *b = value; } }
                1 => { if let Some(b) = data.get_mut(i) { *b ^= 1 << (value % 8); } }
                2 => data.truncate(i),
                _ => data.insert(i, value),
            }
        }
        let _ = super::decode(&Bytes::from(data.clone()));
        decode_any(&data);
    }

    #[test]
    fn decoded_fields_borrow_the_input(message in message()) {
        let mut buf = BytesMut::new();
        message.encode(&mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let input = buf.freeze();
        let decoded = super::decode(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for field in borrowed_fields(&decoded) {
            prop_assert!(within(&input, field), "field not a slice of the input");
        }
    }
}

/// Every variable-length field of `m` (recursing into envelopes).
fn borrowed_fields(m: &Message) -> Vec<&[u8]> {
    match m {
        Message::GwInfo(g) => g.gw_add.iter().map(|b| &b[..]).collect(),
        Message::Connect(c) => vec![&c.client_id.as_bytes()[..]],
        Message::WillTopic(Some(w)) | Message::WillTopicUpd(Some(w)) => {
            vec![&w.topic.as_bytes()[..]]
        }
        Message::WillMsg(w) | Message::WillMsgUpd(w) => vec![&w.message[..]],
        Message::Register(r) => vec![&r.topic_name.as_bytes()[..]],
        Message::Publish(p) => vec![&p.payload[..]],
        Message::Subscribe(crate::Subscribe {
            topic: crate::TopicFilter::Name(n),
            ..
        })
        | Message::Unsubscribe(crate::Unsubscribe {
            topic: crate::TopicFilter::Name(n),
            ..
        }) => {
            vec![&n.as_bytes()[..]]
        }
        Message::PingReq(p) => p.client_id.iter().map(|c| &c.as_bytes()[..]).collect(),
        Message::Encapsulated(e) => {
            let mut v = borrowed_fields(&e.message);
            v.push(&e.wireless_node_id[..]);
            v
        }
        _ => Vec::new(),
    }
}
