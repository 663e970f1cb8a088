//! [`SnPeer`]: who a client is to the gateway. A client talking UDP to the gateway is its address; a client
//! behind a forwarder (MQTT-SN 1.2 §5.5, Encapsulated Message) is the forwarder's address plus the wireless
//! node id the forwarder puts in the envelope, so many nodes behind one forwarder are distinct clients.

use bytes::Bytes;
use std::fmt;
use std::net::SocketAddr;

/// Longest wireless node id accepted from a forwarder, in bytes (an IEEE 802.15.4 address is 8, an IPv6
/// address 16); longer ones are dropped as malformed, so a forwarder cannot make the key of each client big.
pub const MAX_NODE_ID_LEN: usize = 32;

/// Broadcast radius put in the Ctrl octet of every Encapsulated Message the gateway sends. The spec gives it
/// meaning only for broadcasts from the gateway through a forwarder; what the gateway sends is addressed to
/// one node, which the forwarder reaches in one hop.
pub const FORWARD_RADIUS: u8 = 1;

/// The address of one MQTT-SN client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SnPeer {
    /// A client sending its own datagrams from this UDP address.
    Direct(SocketAddr),
    /// A client behind the forwarder at `forwarder`, known there as `node_id`.
    Forwarded {
        /// The forwarder's UDP address: where the gateway sends this client's messages, encapsulated.
        forwarder: SocketAddr,
        /// The wireless node id from the Encapsulated Message, opaque to the gateway.
        node_id: Bytes,
    },
}

impl SnPeer {
    /// A client behind the forwarder at `forwarder`.
    pub fn forwarded(forwarder: SocketAddr, node_id: impl Into<Bytes>) -> SnPeer {
        SnPeer::Forwarded {
            forwarder,
            node_id: node_id.into(),
        }
    }

    /// The UDP address datagrams for this client go to (the forwarder's for a forwarded client).
    pub fn addr(&self) -> SocketAddr {
        match self {
            SnPeer::Direct(a) => *a,
            SnPeer::Forwarded { forwarder, .. } => *forwarder,
        }
    }

    /// The forwarder this client is behind, if any.
    pub fn forwarder(&self) -> Option<SocketAddr> {
        match self {
            SnPeer::Direct(_) => None,
            SnPeer::Forwarded { forwarder, .. } => Some(*forwarder),
        }
    }
}

impl From<SocketAddr> for SnPeer {
    fn from(a: SocketAddr) -> SnPeer {
        SnPeer::Direct(a)
    }
}

impl fmt::Display for SnPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnPeer::Direct(a) => write!(f, "{a}"),
            SnPeer::Forwarded { forwarder, node_id } => {
                write!(f, "{forwarder}/node:")?;
                node_id.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}
