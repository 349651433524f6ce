//! `rtmfp-conformance`: the RTMFP (RFC 7016) conformance suite.

pub mod capture_check;
pub mod declared;
pub mod diagnostic;
pub mod diff;
pub mod embedded;
pub mod fields;
pub mod fuzz;
pub mod harness;
pub mod initiator;
pub mod interrupt;
pub mod invariants;
pub mod liberties;
pub mod live;
pub mod manners;
pub mod matcher_text;
pub mod matrix;
pub mod preflight;
pub mod proofs;
pub mod requirements;
pub mod runner;
pub mod scenario;
pub mod schedule;
pub mod spans;
pub mod suite;
pub mod values;
