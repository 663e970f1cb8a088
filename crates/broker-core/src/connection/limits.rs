//! The connection's side of the abuse limits (`crate::limits`): per-IP and flapping checks at CONNECT, the
//! publish rate per PUBLISH.

use super::MqttConnection;
use crate::core::BrokerCore;
use crate::limits::PublishLimiter;
use crate::stats::Stats;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tern_mqtt_codec::{Publish, ReasonCode};

impl MqttConnection {
    /// Before authentication (cheap checks first): a client id banned for flapping is refused with 0x8A
    /// Banned (3.x: 5), an address at `max_connections_per_ip` with 0x9F Connection rate exceeded (3.x: 3).
    /// Takes this connection's per-IP slot.
    pub(super) fn check_conn_limits(&mut self, now: Instant, client_id: &str) -> Result<(), ReasonCode> {
        let cfg = &self.core.config;
        if self.core.conn_limits.is_flap_banned(cfg, client_id, now) {
            Stats::add(&self.core.stats.flap_refused, 1);
            return Err(ReasonCode::Banned);
        }
        match self
            .core
            .conn_limits
            .reserve_ip(self.meta.peer.ip(), cfg.max_connections_per_ip)
        {
            Ok(slot) => {
                self.ip_slot = slot.map(Box::new);
                Ok(())
            }
            Err(_) => {
                Stats::add(&self.core.stats.per_ip_refused, 1);
                tracing::info!(peer = %self.meta.peer, limit = cfg.max_connections_per_ip,
                    "max_connections_per_ip reached");
                Err(ReasonCode::ConnectionRateExceeded)
            }
        }
    }

    /// After authentication: counts this connect towards flapping; the one too many bans the id (logged
    /// once per ban) and is refused with 0x8A Banned.
    pub(super) fn record_flapping(&mut self, now: Instant, client_id: &Arc<str>) -> Result<(), ReasonCode> {
        let cfg = &self.core.config;
        match self.core.conn_limits.record_connect(cfg, client_id, now) {
            Ok(()) => Ok(()),
            Err(_) => {
                Stats::add(&self.core.stats.flap_bans, 1);
                tracing::warn!(client_id = %client_id, peer = %self.meta.peer, max = cfg.flap_max,
                    window = ?cfg.flap_window, ban = ?cfg.flap_ban, "client id flapping: banned");
                Err(ReasonCode::Banned)
            }
        }
    }

    /// Whether this PUBLISH exceeds the connection's publish rate (counted; logged at most once a second).
    /// Takes fields rather than `self` so the publish path can call it while it borrows the config.
    pub(super) fn over_publish_rate(
        limiter: &mut Option<Box<PublishLimiter>>,
        core: &BrokerCore,
        client_id: Option<&str>,
        peer: SocketAddr,
        now: Instant,
        p: &Publish,
    ) -> bool {
        let Some(limiter) = limiter else {
            return false;
        };
        if limiter.allow(now, p.topic.len() + p.payload.len()) {
            return false;
        }
        Stats::add(&core.stats.publish_rate_limited, 1);
        if limiter.should_log(now) {
            tracing::info!(client_id = client_id.unwrap_or(""), %peer,
                "publish rate exceeded: dropping (0x97 Quota exceeded on 5.0 QoS 1/2)");
        }
        true
    }
}
