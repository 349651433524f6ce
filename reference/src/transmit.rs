//! A datagram an endpoint (or any other sans-IO node) wants sent.

use std::net::SocketAddr;

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The local address to send from (`None`: the node's first address).
    pub src: Option<SocketAddr>,
    pub dst: SocketAddr,
    pub data: Vec<u8>,
}
