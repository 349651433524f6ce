//! RFC 7016 §3.5 sessions: configuration, cookies, fragmentation, the initiator's
//! opening schedule, and the per-session data plane ([`Data`]: flows, acks,
//! timestamps, RTT and congestion control) that the endpoint drives.

pub mod config;
pub mod cookie;
pub mod data;
pub mod fragment;
pub mod handshake;

pub use data::{Data, Fill, SessionEvent};
