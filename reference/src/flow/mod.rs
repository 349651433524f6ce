//! RFC 7016 §3.6: flows. [`send::SendFlow`] and [`recv::RecvFlow`] hold the RFC's
//! per-flow state and rules; the session's data plane
//! ([`crate::session::Data`]) owns them and supplies the session-level pieces
//! (TSNs, the TIMEOUT_ALARM, the congestion window, ACK_NOW and DELACK_ALARM).

pub mod rangeset;
pub mod recv;
pub mod send;

pub use recv::{RecvFlow, RecvState};
pub use send::{SendFlow, SendState};

/// Errors of the flow API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("the flow is not open")]
    NotOpen,
    #[error("no such flow")]
    NoSuchFlow,
    #[error("the session is not open")]
    SessionNotOpen,
    #[error("return association names a receiving flow that is not open")]
    BadAssociation,
    /// The flow's send buffer is full (`EndpointConfig::limits.send_buffer`):
    /// try again after [`crate::session::SessionEvent::Writable`].
    #[error("the flow's send buffer is full (wait for Writable)")]
    WouldBlock,
}
