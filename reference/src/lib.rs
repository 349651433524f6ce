// The crate's documentation is reference/README.md (features, embedding, and
// the map from RFC 7016's sections to files); its example runs as a doc test.
#![doc = include_str!("../README.md")]
//!
//! ## Test hooks
//!
//! The `test-hooks` feature adds what only a conformance tester needs: deliberate
//! RFC violations ([`session::config::Faults`]), crafted packets
//! (`Endpoint::send_crafted`), `Endpoint::peek`, keys of closed sessions kept for
//! taps, and `EndpointConfig::force_tcr`. A default build has none of them:
#![cfg_attr(
    not(feature = "test-hooks"),
    doc = r#"
```compile_fail
let _ = rtmfp::session::config::EndpointConfig::default().faults;
```
```compile_fail
let _ = rtmfp::session::config::EndpointConfig::default().force_tcr;
```
```compile_fail
let _ = rtmfp::session::config::Faults::ALL;
```
```compile_fail
let _ = rtmfp::endpoint::Crafted::default();
```
```compile_fail
fn f(e: &rtmfp::endpoint::Endpoint) -> Option<rtmfp::wire::Packet> {
    e.peek(&[], true)
}
```
```compile_fail
fn f(e: &mut rtmfp::endpoint::Endpoint) {
    let _ = e.send_crafted(rtmfp::time::Instant::ZERO, None, Default::default());
}
```
while the same items exist in the default build under their own names:
```
let c = rtmfp::session::config::EndpointConfig::default();
let _ = c.tap;
fn f(e: &rtmfp::endpoint::Endpoint) -> usize {
    e.state_size()
}
```
"#
)]

/// `fault!(holder, name)`: whether the deliberate RFC violation `name` is on in
/// `holder.faults` (test-hooks builds); the constant `false` in a default build.
#[cfg(feature = "test-hooks")]
macro_rules! fault {
    ($holder:expr, $name:ident) => {
        $holder.faults.$name
    };
}
#[cfg(not(feature = "test-hooks"))]
macro_rules! fault {
    ($holder:expr, $name:ident) => {
        false
    };
}
/// `faulty!(holder, method(args), otherwise)`: the input as a receiver with
/// `holder.faults` reads it (`Faults::method`, test-hooks builds); `otherwise`
/// in a default build.
#[cfg(feature = "test-hooks")]
macro_rules! faulty {
    ($holder:expr, $method:ident($($arg:expr),*), $otherwise:expr) => {
        $holder.faults.$method($($arg),*)
    };
}
#[cfg(not(feature = "test-hooks"))]
macro_rules! faulty {
    ($holder:expr, $method:ident($($arg:expr),*), $otherwise:expr) => {
        $otherwise
    };
}

pub mod app;
#[cfg(feature = "capture")]
pub mod capture;
pub mod congestion;
pub mod crypto;
pub mod decode;
pub mod describe;
pub mod endpoint;
#[cfg(feature = "test-hooks")]
pub mod faults;
pub mod flow;
pub mod keylog;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod session;
pub mod sim;
pub mod stats;
pub mod time;
pub mod transmit;
pub mod wire;
