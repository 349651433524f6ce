//! `rtmfp-conformance`: the RTMFP (RFC 7016) conformance suite.

pub mod capture_check;
pub mod harness;
pub mod identity;
pub mod invariants;
pub mod keying;
pub mod requirements;
pub mod runner;
pub mod scenario;
pub mod suite;
pub mod tc;
pub mod values;
