//! `rtmfp`: a reference implementation of RTMFP (RFC 7016) with the Flash
//! Communication cryptography profile (RFC 7425).

pub mod wire;
