//! `rtmfp-conformance`: the RTMFP (RFC 7016) conformance suite.

pub mod capture_check;
pub mod declared;
pub mod harness;
pub mod initiator;
pub mod invariants;
pub mod live;
pub mod matrix;
pub mod requirements;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod suite;
pub mod values;
