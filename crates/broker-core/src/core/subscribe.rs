//! SUBSCRIBE and UNSUBSCRIBE semantics shared by every transport: filter validation, limits, denied filters,
//! policy, router update, and retained messages per Retain Handling.

use super::{BrokerCore, Fanout};
use crate::persistence::SubscriptionRecord;
use crate::policy::Identity;
use crate::router::SubscriptionEntry;
use crate::session::{Delivery, SessionHandle, lock};
use crate::stats::Stats;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;
use tern_mqtt_codec::topic::{parse_shared, validate_topic_filter};
use tern_mqtt_codec::{QoS, ReasonCode, RetainHandling, SubscriptionOptions};

/// One filter of a subscribe request.
#[derive(Debug, Clone, Copy)]
pub struct SubscribeRequest<'a> {
    /// The topic filter, possibly `$share/{group}/{filter}`.
    pub filter: &'a str,
    /// Options as requested.
    pub options: SubscriptionOptions,
    /// Subscription identifier from the SUBSCRIBE properties.
    pub subscription_id: Option<NonZeroU32>,
}

/// Why a subscription was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeError {
    /// Refused for this filter only: the code goes into SUBACK (0x80 on 3.x whatever the code).
    #[error("subscription refused: {0}")]
    Refused(ReasonCode),
    /// No Local on a shared subscription: a protocol violation, the connection is closed.
    #[error("[MQTT-3.8.3-4] No Local set on a shared subscription")]
    NoLocalOnShared,
}

impl BrokerCore {
    /// Checks a topic filter against the spec and the configured length and level limits.
    pub(crate) fn check_filter<'a>(&self, filter: &'a str) -> Result<Option<&'a str>, ReasonCode> {
        if filter.len() > self.config.max_topic_length
            || filter.split('/').count() > self.config.max_topic_levels
        {
            return Err(ReasonCode::TopicFilterInvalid);
        }
        match parse_shared(filter) {
            Ok(Some(shared)) => Ok(Some(shared.filter)),
            Ok(None) => validate_topic_filter(filter)
                .map(|()| None)
                .map_err(|_| ReasonCode::TopicFilterInvalid),
            Err(_) => Err(ReasonCode::TopicFilterInvalid),
        }
    }

    /// Adds or replaces a subscription and queues the retained messages Retain Handling asks for (with
    /// RETAIN set, [MQTT-3.3.1-8]; none for shared subscriptions). Returns the granted QoS.
    pub fn subscribe(
        &self,
        handle: &SessionHandle,
        identity: &Identity,
        req: SubscribeRequest<'_>,
        now: Instant,
        fanout: &mut Fanout,
    ) -> Result<QoS, SubscribeError> {
        let shared_inner = self.check_filter(req.filter).map_err(SubscribeError::Refused)?;
        let is_shared = shared_inner.is_some();
        if is_shared && req.options.no_local {
            return Err(SubscribeError::NoLocalOnShared);
        }
        let inner = shared_inner.unwrap_or(req.filter);
        if self
            .config
            .denied_filters
            .iter()
            .any(|d| tern_mqtt_codec::topic::filters_overlap(d, inner))
        {
            tracing::info!(client_id = %handle.client_id(), filter = req.filter, "denied filter");
            return Err(SubscribeError::Refused(self.config.denied_reason));
        }
        if !self.hooks.policy.authorize_subscribe(identity, req.filter) {
            Stats::add(&self.stats.subscribe_denied, 1);
            return Err(SubscribeError::Refused(ReasonCode::NotAuthorized));
        }
        let session = &handle.session;
        let qos = req.options.qos.min(self.config.maximum_qos);
        {
            let st = lock(&session.state);
            if st.epoch != handle.epoch || st.ended {
                return Err(SubscribeError::Refused(ReasonCode::UnspecifiedError));
            }
            if !st.subscriptions.contains_key(req.filter)
                && st.subscriptions.len() >= self.config.max_subscriptions_per_client
            {
                return Err(SubscribeError::Refused(ReasonCode::QuotaExceeded));
            }
        }
        let entry = SubscriptionEntry {
            qos,
            no_local: req.options.no_local,
            retain_as_published: req.options.retain_as_published,
            subscription_id: req.subscription_id,
        };
        let existed = self
            .router
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .subscribe(session.id, req.filter, entry);
        let filter: Arc<str> = Arc::from(req.filter);
        let record = SubscriptionRecord {
            filter: filter.clone(),
            options: SubscriptionOptions { qos, ..req.options },
            subscription_id: req.subscription_id,
        };
        lock(&session.state).subscriptions.insert(filter, record);
        self.save_session(session);

        let send_retained = !is_shared
            && match req.options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendAtSubscribeIfNew => !existed,
                RetainHandling::DoNotSend => false,
            };
        if send_retained {
            let mut msgs = Vec::new();
            lock(&self.retained).matching(req.filter, now, &mut msgs);
            for msg in msgs {
                let delivery = Delivery {
                    qos: msg.qos.min(qos),
                    msg,
                    retain: true,
                    subscription_ids: req.subscription_id.into(),
                    shared: None,
                };
                self.deliver_stored(session, delivery, fanout);
            }
        }
        Ok(qos)
    }

    /// Removes a subscription; true if it existed.
    pub fn unsubscribe(&self, handle: &SessionHandle, filter: &str) -> bool {
        let session = &handle.session;
        if !handle.is_current() {
            return false;
        }
        let existed = self
            .router
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .unsubscribe(session.id, filter);
        lock(&session.state).subscriptions.remove(filter);
        if existed {
            self.save_session(session);
        }
        existed
    }
}
