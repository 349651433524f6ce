//! `rtmfp`: a reference implementation of RTMFP (RFC 7016) with the Flash
//! Communication cryptography profile (RFC 7425).
//!
//! The protocol core is sans-IO: time ([`time::Instant`]), randomness and datagrams
//! are inputs; datagrams, events and the next timeout are outputs.

pub mod app;
pub mod capture;
pub mod congestion;
pub mod crypto;
pub mod decode;
pub mod describe;
pub mod endpoint;
pub mod flow;
pub mod keylog;
pub mod runtime;
pub mod session;
pub mod sim;
pub mod stats;
pub mod time;
pub mod wire;
