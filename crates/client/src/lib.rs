//! Async MQTT 3.1.1 / 5.0 client on tokio, used by `tern pub`, `tern sub`, `tern bench`, integration tests
//! and the conformance suite.
//!
//! What it owns: opening a transport from a URL ([`ServerUrl`]: `mqtt://`, `mqtts://`, `ws://`, `wss://`,
//! and `quic://`, MQTT over one QUIC stream with ALPN `mqtt` as EMQX serves it), the CONNECT/CONNACK
//! handshake, packet identifiers, QoS 1/2 flows in both directions (inbound QoS 2 delivered exactly once),
//! keep alive, and timeouts on every wait. One background task per connection owns the socket; [`Client`]
//! and [`ClientHandle`] talk to it over channels, so publishes can be pipelined
//! ([`ClientHandle::publish_nowait`]) up to an in-flight window. [`RawConnection`] sends exact bytes for
//! tests of malformed input.
//!
//! What it does not own: the packet model and wire format (`tern-mqtt-codec`, re-exported here as the types
//! the API uses), reconnecting, persistence of in-flight messages across connections, enhanced (AUTH)
//! authentication.
//!
//! ```no_run
//! use tern_client::{Client, ConnectOptions, ProtocolVersion, QoS, ReasonCode, filter};
//!
//! # async fn demo() -> Result<(), tern_client::ClientError> {
//! let opts = ConnectOptions::new("mqtt://localhost:1883").client_id("demo").protocol(ProtocolVersion::V5);
//! let (mut client, connack) = Client::connect(opts).await?;
//! println!("session present: {}", connack.session_present);
//!
//! client.subscribe([filter("sensors/#", QoS::AtLeastOnce)]).await?;
//! let outcome = client.publish("sensors/1", "21.5", QoS::AtLeastOnce, false).await?;
//! assert!(outcome.is_success());
//! if let Some(msg) = client.recv().await {
//!     println!("{} {:?}", msg.topic, msg.payload);
//! }
//! client.disconnect(ReasonCode::NormalDisconnection).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod client;
mod driver;
mod error;
mod framing;
mod options;
mod quic;
mod raw;
mod scram;
mod tls;
mod transport;
mod ws;

pub use client::{Client, ClientHandle, PendingPublish, PublishOutcome, filter};
pub use error::{ClientError, ErrorKind};
pub use options::ConnectOptions;
pub use raw::RawConnection;
pub use tls::TlsOptions;
pub use transport::{BoxStream, ByteStream, ServerUrl, Transport, open, open_with};

pub use tern_mqtt_codec::{
    AckProperties, ByteStr, ConnAck, ConnectProperties, Disconnect, Packet, ProtocolVersion, Publish,
    PublishProperties, QoS, ReasonCode, RetainHandling, SubAck, SubscribeFilter, SubscribeProperties,
    SubscriptionOptions, UnsubAck, Will, WillProperties,
};
