//! Shared by the store's integration tests (each uses a part): a fresh directory, a broker core on a store,
//! sessions, QoS 1 subscriptions and messages.
#![allow(dead_code)]

use bytes::Bytes;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tern_broker_core::{
    AttachRequest, BrokerCore, CoreConfig, Fanout, Hooks, Identity, Message, Outbound, SessionHandle,
    SubscribeRequest,
};
use tern_mqtt_codec::{QoS, SubscriptionOptions};
use tern_store::Store;

/// An empty directory for one test, named after it and this process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tern-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A core persisting to `store` with `config`.
pub fn core_on(store: &Arc<Store>, config: CoreConfig, now: Instant) -> Arc<BrokerCore> {
    let hooks = Hooks {
        persistence: store.clone(),
        ..Hooks::default()
    };
    BrokerCore::with_hooks(config, hooks, now)
}

/// A core persisting to `store` with the default limits and no `$SYS` publications.
pub fn core_with(store: &Arc<Store>, now: Instant) -> Arc<BrokerCore> {
    core_on(store, quiet_config(), now)
}

/// The default configuration without `$SYS` publications.
pub fn quiet_config() -> CoreConfig {
    CoreConfig {
        sys_interval: None,
        ..CoreConfig::default()
    }
}

/// Attaches session `id` (session expiry `expiry` seconds); the handle and whether it was present.
pub fn attach(core: &BrokerCore, id: &str, clean: bool, expiry: u32, now: Instant) -> (SessionHandle, bool) {
    let a = core.attach(
        AttachRequest {
            client_id: Arc::from(id),
            clean_start: clean,
            expiry_interval: expiry,
            will: None,
            notifier: Arc::new(|| {}),
        },
        now,
    );
    (a.handle, a.session_present)
}

/// Subscribes `h` to `filter` at QoS 1.
pub fn subscribe(core: &BrokerCore, h: &SessionHandle, filter: &str, now: Instant) {
    let req = SubscribeRequest {
        filter,
        options: SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            ..Default::default()
        },
        subscription_id: None,
    };
    core.subscribe(h, &Identity::default(), req, now, &mut Fanout::default())
        .unwrap();
}

/// A message as a publisher would send it.
pub fn msg(topic: &str, payload: impl AsRef<[u8]>, qos: QoS, retain: bool) -> Arc<Message> {
    Arc::new(Message {
        topic: topic.into(),
        payload: Bytes::copy_from_slice(payload.as_ref()),
        qos,
        retain,
        properties: Default::default(),
        expires_at: None,
        publisher: None,
    })
}

/// (payload, DUP, packet id) of every PUBLISH in `out`.
pub fn payloads(out: &[Outbound]) -> Vec<(String, bool, Option<u16>)> {
    out.iter()
        .filter_map(|o| match o {
            Outbound::Publish {
                packet_id,
                dup,
                delivery,
            } => Some((
                String::from_utf8_lossy(&delivery.msg.payload).into_owned(),
                *dup,
                packet_id.map(|p| p.get()),
            )),
            Outbound::PubRel(_) => None,
        })
        .collect()
}
