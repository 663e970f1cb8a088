//! Round trips for every packet type at every level it exists on: encode, decode whole and byte by byte.

mod common;

use bytes::BytesMut;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tern_mqtt_codec::*;

const MAX: u32 = 1 << 20;

fn check(v: ProtocolVersion, p: Packet) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    encode_packet(&p, v, &mut buf).map_err(|e| TestCaseError::fail(format!("encode {p:?}: {e}")))?;
    prop_assert_eq!(Ok(buf.len()), encoded_len(&p, v));
    let wire = buf.clone().freeze();
    prop_assert_eq!(
        decode_one(wire.clone(), v, MAX),
        Ok(p.clone()),
        "bytes {:02X?}",
        &wire[..]
    );

    // Fed one byte at a time: nothing until the last byte, then exactly the packet.
    let mut feed = BytesMut::new();
    for (n, b) in wire.iter().enumerate() {
        feed.extend_from_slice(&[*b]);
        let got = decode_packet(&mut feed, v, MAX);
        if n + 1 < wire.len() {
            prop_assert_eq!(got, Ok(None), "early at byte {}", n);
            prop_assert_eq!(feed.len(), n + 1, "buffer touched");
        } else {
            prop_assert_eq!(got, Ok(Some(p.clone())));
            prop_assert!(feed.is_empty());
        }
    }

    // Two packets in one read: both come out, in order.
    let mut two = BytesMut::new();
    two.extend_from_slice(&wire);
    two.extend_from_slice(&wire);
    prop_assert_eq!(decode_packet(&mut two, v, MAX), Ok(Some(p.clone())));
    prop_assert_eq!(decode_packet(&mut two, v, MAX), Ok(Some(p)));
    prop_assert_eq!(decode_packet(&mut two, v, MAX), Ok(None));
    Ok(())
}

macro_rules! round_trip {
    ($name:ident, $versions:expr, $strategy:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            #[test]
            fn $name((v, p) in prop::sample::select(&$versions[..]).prop_flat_map(|v| (Just(v), $strategy(v)))) {
                check(v, p)?;
            }
        }
    };
}

const V5: [ProtocolVersion; 1] = [ProtocolVersion::V5];

round_trip!(connect_round_trips, VERSIONS, connect);
round_trip!(connack_round_trips, VERSIONS, connack);
round_trip!(publish_round_trips, VERSIONS, |v| publish(v)
    .prop_map(Packet::Publish));
round_trip!(puback_round_trips, VERSIONS, |v| pub_ack(v, PacketType::PubAck));
round_trip!(pubrec_round_trips, VERSIONS, |v| pub_ack(v, PacketType::PubRec));
round_trip!(pubrel_round_trips, VERSIONS, |v| pub_ack(v, PacketType::PubRel));
round_trip!(pubcomp_round_trips, VERSIONS, |v| pub_ack(v, PacketType::PubComp));
round_trip!(subscribe_round_trips, VERSIONS, subscribe);
round_trip!(suback_round_trips, VERSIONS, suback);
round_trip!(unsubscribe_round_trips, VERSIONS, unsubscribe);
round_trip!(unsuback_round_trips, VERSIONS, unsuback);
round_trip!(ping_round_trips, VERSIONS, |_| prop_oneof![
    Just(Packet::PingReq),
    Just(Packet::PingResp)
]);
round_trip!(disconnect_round_trips, VERSIONS, disconnect);
round_trip!(auth_round_trips, V5, |_| auth());

proptest! {
    /// A 5.0 message forwarded to a 3.1.1 subscriber loses its properties and nothing else.
    #[test]
    fn v5_publish_downgrades_to_v3(p in publish(ProtocolVersion::V5)) {
        prop_assume!(!p.topic.is_empty());
        let mut buf = BytesMut::new();
        encode_packet(&Packet::Publish(p.clone()), ProtocolVersion::V3_1_1, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = Publish { properties: PublishProperties::default(), ..p };
        prop_assert_eq!(decode_one(buf.freeze(), ProtocolVersion::V3_1_1, MAX), Ok(Packet::Publish(expected)));
    }

    /// Decoded strings and payloads share the receive buffer.
    #[test]
    fn payload_is_a_slice_of_the_input(p in publish(ProtocolVersion::V5)) {
        prop_assume!(!p.payload.is_empty() && !p.topic.is_empty());
        let mut buf = BytesMut::new();
        encode_packet(&Packet::Publish(p), ProtocolVersion::V5, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        match decode_packet(&mut buf, ProtocolVersion::V5, MAX) {
            Ok(Some(Packet::Publish(got))) => {
                prop_assert!(range.contains(&(got.payload.as_ptr() as usize)));
                prop_assert!(range.contains(&(got.topic.as_ptr() as usize)));
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
