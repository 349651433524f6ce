//! `rtmfp-conformance`: the RTMFP (RFC 7016) conformance suite.

pub mod requirements;
