//! Shared by the auth crate's end-to-end tests: a real broker with a given policy behind one TCP listener on
//! loopback.

use std::sync::Arc;
use tern_auth::{AuthConfig, ListenerAuth, TernPolicy};
use tern_broker::{Broker, CoreConfig, DriverConfig, TransportKind};
use tern_broker_core::Hooks;
use tern_transport_tcp::{TcpFrontend, TcpListenerConfig};

/// The policy `config` describes, for one TCP listener named `name` (anonymous from loopback only).
pub fn policy(config: &AuthConfig, name: &str) -> Arc<TernPolicy> {
    let listeners = vec![ListenerAuth {
        name: name.into(),
        transport: TransportKind::Tcp,
        allow_anonymous: tern_auth::Anonymous::Loopback,
    }];
    Arc::new(TernPolicy::new(config, listeners).unwrap())
}

/// Starts a broker with `policy` behind a TCP listener on 127.0.0.1 (port 0); the broker and its URL.
pub async fn serve(policy: Arc<TernPolicy>) -> (Broker, String) {
    let broker = Broker::start_with_hooks(
        CoreConfig::default(),
        DriverConfig::default(),
        Hooks {
            policy,
            ..Hooks::default()
        },
    );
    let frontend = TcpFrontend::bind(TcpListenerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..TcpListenerConfig::default()
    })
    .unwrap();
    let url = format!("mqtt://{}", frontend.local_addr().unwrap());
    tokio::spawn(frontend.run(broker.clone()));
    (broker, url)
}
