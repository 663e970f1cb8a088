//! SUBSCRIBE → SUBACK and UNSUBSCRIBE → UNSUBACK for one connection; the semantics live in
//! [`BrokerCore::subscribe`](crate::BrokerCore::subscribe).

use super::{MqttConnection, Violation};
use crate::core::{SubscribeError, SubscribeRequest};
use std::time::Instant;
use tern_mqtt_codec::{AckProperties, Packet, QoS, ReasonCode, SubAck, Subscribe, UnsubAck, Unsubscribe};

impl MqttConnection {
    pub(super) fn on_subscribe(&mut self, now: Instant, s: Subscribe) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let v5 = self.is_v5();
        let mut codes = Vec::with_capacity(s.filters.len());
        for f in &s.filters {
            let req = SubscribeRequest {
                filter: &f.filter,
                options: f.options,
                subscription_id: s.properties.subscription_identifier,
            };
            let mut fanout = self.take_fanout();
            let subscribed = self
                .core
                .subscribe(&session, &self.identity(), req, now, &mut fanout);
            self.fanout = Some(fanout);
            let code = match subscribed {
                Ok(QoS::AtMostOnce) => ReasonCode::GrantedQoS0,
                Ok(QoS::AtLeastOnce) => ReasonCode::GrantedQoS1,
                Ok(QoS::ExactlyOnce) => ReasonCode::GrantedQoS2,
                Err(SubscribeError::Refused(code)) => {
                    tracing::info!(client_id = self.client_id().unwrap_or(""), filter = %f.filter, reason = %code,
                        "subscription refused");
                    if v5 { code } else { ReasonCode::UnspecifiedError }
                }
                Err(SubscribeError::NoLocalOnShared) => {
                    return self.violation(now, Violation::NoLocalOnShared);
                }
            };
            codes.push(code);
        }
        self.control.push_back(Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            properties: AckProperties::default(),
            reason_codes: codes,
        }));
    }

    pub(super) fn on_unsubscribe(&mut self, u: Unsubscribe) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let v5 = self.is_v5();
        let mut codes = Vec::with_capacity(if v5 { u.filters.len() } else { 0 });
        for f in &u.filters {
            let existed = self.core.unsubscribe(&session, f);
            if v5 {
                codes.push(if existed {
                    ReasonCode::Success
                } else {
                    ReasonCode::NoSubscriptionExisted
                });
            }
        }
        self.control.push_back(Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            properties: AckProperties::default(),
            reason_codes: codes,
        }));
    }
}
