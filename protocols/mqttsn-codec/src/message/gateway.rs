//! Gateway discovery: ADVERTISE, SEARCHGW, GWINFO.

use bytes::Bytes;

/// ADVERTISE (§5.4.1): a gateway broadcasts its id and when it will next advertise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Advertise {
    /// Id of the advertising gateway.
    pub gw_id: u8,
    /// Seconds until the next ADVERTISE.
    pub duration: u16,
}

/// SEARCHGW (§5.4.2): a client broadcasts a search for gateways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SearchGw {
    /// Broadcast radius (hops) the search should travel.
    pub radius: u8,
}

/// GWINFO (§5.4.3): answer to SEARCHGW.
///
/// A gateway answers with its id only; a client answering on a gateway's
/// behalf adds that gateway's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GwInfo {
    /// Id of the gateway described.
    pub gw_id: u8,
    /// Address of the gateway, present only when a client sends GWINFO.
    /// `Some` of an empty address encodes the same as `None`.
    pub gw_add: Option<Bytes>,
}
