//! [`SnConfig`]: every setting of one MQTT-SN gateway, with the defaults the spec suggests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Settings of one MQTT-SN gateway (one UDP listener).
#[derive(Debug, Clone)]
pub struct SnConfig {
    /// GwId sent in ADVERTISE and GWINFO, so clients can tell gateways apart.
    pub gateway_id: u8,
    /// How often ADVERTISE is broadcast; `None` turns discovery announcements off (SEARCHGW is still
    /// answered).
    pub advertise_interval: Option<Duration>,
    /// Where ADVERTISE goes (a broadcast or multicast address); `None` turns announcements off.
    pub advertise_address: Option<SocketAddr>,
    /// Predefined topic ids, the same for every client: id → topic name as the sensor sees it (before the
    /// mountpoint is applied).
    pub predefined_topics: BTreeMap<u16, String>,
    /// Prepended to every MQTT-SN client id to form the broker-wide client id, so sensors cannot take over
    /// an MQTT client's session by accident (empty: none).
    pub client_id_prefix: String,
    /// Prepended to every topic name and filter a sensor uses, and stripped from what it receives (empty:
    /// sensors share the MQTT topic space).
    pub mountpoint: String,
    /// Most clients (connected, asleep or connecting) the gateway tracks; CONNECT beyond it gets CONNACK
    /// "rejected: congestion".
    pub max_clients: usize,
    /// Clients tracked behind one forwarder (distinct wireless node ids in its Encapsulated Messages); a
    /// CONNECT from a further node gets CONNACK "rejected: congestion". They count toward `max_clients` too.
    pub max_nodes_per_forwarder: usize,
    /// Messages buffered for one sleeping client; the oldest is dropped beyond it.
    pub sleep_buffer: usize,
    /// Tretry: how long to wait for an acknowledgement before retransmitting.
    pub retry_interval: Duration,
    /// Nretry: retransmissions before the client is considered lost.
    pub max_retries: u32,
    /// Topic ids one client may hold (registered by it or by the gateway).
    pub max_topics_per_client: usize,
    /// How long a client may take to finish CONNECT (the will handshake included).
    pub connect_timeout: Duration,
    /// Longest client id accepted, in bytes.
    pub max_client_id_len: usize,
    /// Datagrams waiting in the gateway's transmit queue before new ones are dropped (memory bound).
    pub max_transmit_queue: usize,
    /// CONNECTs accepted per second (token bucket, burst of one second's worth), the listener's
    /// `connection_rate`; one over the rate gets CONNACK "rejected: congestion" before any other check.
    /// `None`: no limit.
    pub connect_rate: Option<u32>,
}

impl Default for SnConfig {
    fn default() -> SnConfig {
        SnConfig {
            gateway_id: 1,
            advertise_interval: None,
            advertise_address: None,
            predefined_topics: BTreeMap::new(),
            client_id_prefix: String::new(),
            mountpoint: String::new(),
            max_clients: 10_000,
            max_nodes_per_forwarder: 1000,
            sleep_buffer: 100,
            retry_interval: Duration::from_secs(10),
            max_retries: 5,
            max_topics_per_client: 1000,
            connect_timeout: Duration::from_secs(30),
            max_client_id_len: 128,
            max_transmit_queue: 100_000,
            connect_rate: None,
        }
    }
}
