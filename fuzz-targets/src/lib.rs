//! The bodies of the `rtmfp` fuzz targets, their seed corpora and dictionary.
//!
//! Each target is a plain `fn(&[u8])` that calls the same entry points production
//! code calls (`rtmfp::wire`, the crypto profiles, the capture reader and decoder,
//! the key log, the conformance suite's YAML loaders, the sans-IO `Endpoint` and
//! the simulator) and panics when a property fails. `fuzz/` wraps each one in a
//! `libfuzzer_sys::fuzz_target!`; this crate's tests replay every target's seeds
//! and every saved regression input without libFuzzer, so `cargo test` exercises
//! all of them on every run.

pub mod arb;
pub mod fixtures;
pub mod flood;
pub mod seeds;
pub mod stateful;
pub mod targets;

/// A fuzz target: its name (the file name under `fuzz/fuzz_targets/`) and body.
pub struct Target {
    pub name: &'static str,
    pub what: &'static str,
    pub run: fn(&[u8]),
    /// libFuzzer's `-max_len` for it: the largest input worth generating (a
    /// datagram's 1500 bytes for packets; a few bytes for a VLU). Smaller inputs
    /// mean more executions per second; `run-all` and build.sh's `.options`
    /// files use it.
    pub max_len: usize,
}

macro_rules! target {
    ($m:ident :: $f:ident, $max_len:expr, $what:expr) => {
        Target {
            name: stringify!($f),
            what: $what,
            run: $m::$f,
            max_len: $max_len,
        }
    };
}

/// Every target, in the order the driver runs them.
pub const TARGETS: &[Target] = &[
    target!(targets::vlu, 16, "RFC 7016 §2.1.2 VLU decode/encode"),
    target!(
        targets::option_list,
        1_024,
        "§2.1.3-4 Option, Marker, Option List"
    ),
    target!(targets::address, 32, "§2.1.5 address_t"),
    target!(targets::header, 16, "§2.2.4 packet header"),
    target!(
        targets::chunk,
        1_500,
        "§2.3 every chunk parser (type byte + payload)"
    ),
    target!(targets::packet, 1_500, "§2.2.4 whole plain packet"),
    target!(
        targets::describe,
        1_500,
        "what dump and the reports show for a parsed packet"
    ),
    target!(targets::multiplex, 1_500, "§2.2.2 session ID scrambling"),
    target!(
        targets::flash_open_default,
        1_500,
        "RFC 7425 open + parse, Default Session Key"
    ),
    target!(
        targets::flash_open_session,
        4_096,
        "RFC 7425 open + parse, fixed session keys, HMAC/SSEQ variants"
    ),
    target!(targets::plain_open, 1_500, "plain profile open + parse"),
    target!(
        targets::flash_seal_open,
        1_500,
        "RFC 7425 seal then open is the identity (all framings)"
    ),
    target!(
        targets::plain_seal_open,
        1_500,
        "plain profile seal then open is the identity"
    ),
    target!(targets::certificate, 1_024, "RFC 7425 certificate"),
    target!(
        targets::epd,
        1_024,
        "RFC 7425 endpoint discriminator (bytes and spec text)"
    ),
    target!(
        targets::keying_component,
        1_024,
        "RFC 7425 session key components"
    ),
    target!(targets::tc_metadata, 64, "RFC 7425 TC metadata"),
    target!(targets::keylog, 2_048, "key log text"),
    target!(targets::scenario_yaml, 8_192, "conformance scenario YAML"),
    target!(
        targets::expectations_yaml,
        4_096,
        "conformance expectations YAML"
    ),
    target!(
        targets::yaml_errors,
        8_192,
        "the messages of scenario/expectations YAML errors"
    ),
    target!(
        targets::capture_frame,
        1_600,
        "pcap frame decoding (link type + frame)"
    ),
    target!(
        targets::capture_file,
        65_536,
        "pcap/pcapng reading + the capture decoder over a whole file"
    ),
    target!(
        targets::chunk_roundtrip,
        1_024,
        "parse(emit(x)) == x for arbitrary chunks"
    ),
    target!(
        targets::packet_roundtrip,
        2_048,
        "parse(emit(x)) == x for arbitrary packets"
    ),
    target!(
        stateful::endpoint_server,
        4_096,
        "an Endpoint as server under arbitrary datagrams and time"
    ),
    target!(
        stateful::endpoint_pair,
        4_096,
        "two Endpoints over the simulator, mutated traffic, app calls"
    ),
];

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
