//! What happened, for the application: the events an endpoint's poll API returns.

use std::net::SocketAddr;

use crate::session::{Role, SessionEvent, SessionHandle};

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A session reached S_OPEN.
    SessionOpened {
        session: SessionHandle,
        role: Role,
        far_address: SocketAddr,
        far_certificate: Vec<u8>,
    },
    /// An opening session failed (timeout, duplicate, handshake error).
    SessionOpenFailed {
        session: SessionHandle,
        reason: String,
    },
    /// A session reached S_CLOSED.
    SessionClosed {
        session: SessionHandle,
        reason: String,
    },
    /// The far end's address changed (verified, §3.5.4.2).
    AddressChanged {
        session: SessionHandle,
        address: SocketAddr,
    },
    /// The facts for a key log line set, at session open.
    KeyLog {
        initiator: SocketAddr,
        responder: SocketAddr,
        facts: Vec<(String, String)>,
    },
    /// Flow and message events of an open session.
    Session {
        session: SessionHandle,
        event: SessionEvent,
    },
    /// With `EndpointConfig::tap`: a datagram that decrypted (the plain packet,
    /// padding included) and which key opened it.
    Packet {
        session: Option<SessionHandle>,
        from: SocketAddr,
        session_id: u32,
        default_key: bool,
        plain: Vec<u8>,
    },
    /// With `EndpointConfig::tap`: a datagram that could not be decrypted or verified.
    Undecodable {
        from: SocketAddr,
        session_id: Option<u32>,
        reason: String,
    },
}
