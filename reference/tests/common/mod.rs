//! Shared helpers for the integration tests: the captures in vectors/, and
//! endpoints over the simulator (`sim`).

#![allow(dead_code)]

pub mod sim;

use std::path::{Path, PathBuf};

use rtmfp::capture::{self, RecordKind};
use rtmfp::decode::{DatagramRef, DecodedPacket, Decoder, ProfileChoice};
use rtmfp::keylog::KeyLog;

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

/// Every `*.pcap` / `*.pcapng` in vectors/ that has a `.keys` file beside it.
pub fn captures() -> Vec<(String, PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(vectors_dir()).expect("vectors/ exists") {
        let p = e.unwrap().path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext != "pcap" && ext != "pcapng" {
            continue;
        }
        let keys = p.with_extension("keys");
        if keys.exists() {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((name, p, keys));
        }
    }
    out.sort();
    assert!(
        out.len() >= 4,
        "expected the four shared captures in vectors/"
    );
    out
}

/// Decodes a whole capture with its key log; returns the decoder, the decoded
/// packets and the UDP payloads they came from.
pub fn decode(pcap: &Path, keys: Option<&Path>) -> (Decoder, Vec<(DecodedPacket, Vec<u8>)>) {
    let log = keys.map(|k| KeyLog::read_file(k).expect("key log parses"));
    let cap = capture::read_file(pcap).expect("capture reads");
    let mut d = Decoder::new(log.as_ref(), ProfileChoice::Auto);
    let mut out = Vec::new();
    for r in &cap.records {
        if let RecordKind::Udp(u) = &r.kind {
            let p = d.decode(DatagramRef {
                index: r.index,
                time: r.timestamp,
                src: u.src,
                dst: u.dst,
                payload: &u.payload,
            });
            out.push((p, u.payload.clone()));
        }
    }
    (d, out)
}
