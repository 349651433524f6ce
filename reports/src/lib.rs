//! `rtmfp-reports`: renders conformance results.

pub mod model;
