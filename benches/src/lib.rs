//! Shared fixtures of the `rtmfp-benches` benchmarks (issue 13): realistic packets,
//! simulated transfers, and the machine description recorded with every run.
//!
//! The benches themselves are in `benches/*.rs` (criterion, `harness = false`); the
//! report command (`rtmfp-bench-report`) turns criterion's JSON estimates into the
//! reports site's benchmark page.

pub mod cpu_time;
pub mod fixtures;
pub mod machine;
pub mod report;
pub mod transfer;
