//! `rtmfp-conformance`: the RTMFP (RFC 7016) conformance suite.

pub mod harness;
pub mod requirements;
pub mod runner;
pub mod scenario;
pub mod suite;
pub mod values;
