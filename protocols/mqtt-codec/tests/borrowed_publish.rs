//! `PublishRef` (a delivery's PUBLISH from borrowed parts) encodes byte for byte like `encode_packet` of
//! the owned PUBLISH it stands for: the message's properties cloned, expiry and alias replaced, the
//! delivery's subscription identifiers appended.

mod common;

use bytes::BytesMut;
use common::*;
use proptest::prelude::*;
use std::num::{NonZeroU16, NonZeroU32};
use tern_mqtt_codec::*;

fn sub_ids() -> impl Strategy<Value = Vec<NonZeroU32>> {
    prop::collection::vec(
        (1u32..=268_435_455).prop_map(|v| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN)),
        0..4,
    )
}

proptest! {
    #[test]
    fn borrowed_publish_is_byte_identical_to_encode_packet(
        v5 in any::<bool>(),
        p in publish(ProtocolVersion::V5),
        expiry in prop::option::of(any::<u32>()),
        alias in prop::option::of(1u16..).prop_map(|a| a.and_then(NonZeroU16::new)),
        ids in sub_ids(),
        dup in any::<bool>(),
        omit_topic in any::<bool>(),
    ) {
        let version = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V3_1_1 };
        let topic = if omit_topic && alias.is_some() { ByteStr::new() } else { p.topic.clone() };
        let mut owned = p.clone();
        owned.dup = dup;
        owned.topic = topic.clone();
        owned.properties.message_expiry_interval = expiry;
        owned.properties.topic_alias = alias;
        owned.properties.subscription_identifiers.extend_from_slice(&ids);
        let parts = PublishRef {
            dup,
            qos: p.qos,
            retain: p.retain,
            topic: &topic,
            packet_id: p.packet_id,
            properties: &p.properties,
            message_expiry_interval: expiry,
            topic_alias: alias,
            subscription_identifiers: &ids,
            payload: &p.payload,
        };
        let owned = Packet::Publish(owned);
        let mut want = BytesMut::new();
        let want_result = encode_packet(&owned, version, &mut want);
        let mut got = BytesMut::new();
        let got_result = parts.encode(version, &mut got);
        prop_assert_eq!(&got_result, &want_result);
        prop_assert_eq!(&got[..], &want[..]);
        prop_assert_eq!(parts.encoded_len(version).ok(), encoded_len(&owned, version).ok());
    }
}
