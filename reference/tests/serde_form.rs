//! The wire structs' serde form is the conformance suite's scenario language
//! (`send: {chunks: [{chunk: ihello, epd: ..., tag: ...}]}`). This test pins it:
//! each case is written by hand — the scenario text and the bytes RFC 7016 §2.3
//! lays out for it — so renaming a Rust field or variant cannot silently change
//! the language (the text stops parsing, or parses to other bytes).

use rtmfp::wire::{Chunk, Packet};
use serde_json::Value;

/// (scenario text, the chunk's bytes on the wire: type, length, payload)
const CHUNKS: &[(&str, &[u8])] = &[
    (
        r#"{"chunk": "packet_fragment", "more_fragments": true, "reserved": 0,
            "packet_id": 7, "fragment_num": 0, "packet_fragment": "abcd"}"#,
        &[0x7f, 0, 5, 0x80, 7, 0, 0xab, 0xcd],
    ),
    (
        r#"{"chunk": "ihello", "epd": "0a0b", "tag": "0102030405060708"}"#,
        &[0x30, 0, 11, 2, 0x0a, 0x0b, 1, 2, 3, 4, 5, 6, 7, 8],
    ),
    (
        r#"{"chunk": "fihello", "epd": "0a",
            "reply_address": {"addr": "1.2.3.4:5", "origin": "observed"}, "tag": "01"}"#,
        &[0x0f, 0, 10, 1, 0x0a, 0x02, 1, 2, 3, 4, 0, 5, 1],
    ),
    (
        r#"{"chunk": "rhello", "tag_echo": "01", "cookie": "aabb",
            "responder_certificate": "cc"}"#,
        &[0x70, 0, 6, 1, 1, 2, 0xaa, 0xbb, 0xcc],
    ),
    (
        r#"{"chunk": "redirect", "tag_echo": "01",
            "redirect_destinations": [{"addr": "1.2.3.4:5", "origin": "local"}]}"#,
        &[0x71, 0, 9, 1, 1, 0x01, 1, 2, 3, 4, 0, 5],
    ),
    (
        r#"{"chunk": "rhello_cookie_change", "old_cookie": "01", "new_cookie": "0203"}"#,
        &[0x79, 0, 4, 1, 1, 2, 3],
    ),
    (
        r#"{"chunk": "iikeying", "initiator_session_id": 1, "cookie_echo": "aa",
            "initiator_certificate": "bb", "skic": "cc", "signature": "dd"}"#,
        &[0x38, 0, 11, 0, 0, 0, 1, 1, 0xaa, 1, 0xbb, 1, 0xcc, 0xdd],
    ),
    (
        r#"{"chunk": "rikeying", "responder_session_id": 2, "skrc": "ee", "signature": "ff"}"#,
        &[0x78, 0, 7, 0, 0, 0, 2, 1, 0xee, 0xff],
    ),
    (
        r#"{"chunk": "ping", "message": "6869"}"#,
        &[0x01, 0, 2, 0x68, 0x69],
    ),
    (
        r#"{"chunk": "ping_reply", "message": "6869"}"#,
        &[0x41, 0, 2, 0x68, 0x69],
    ),
    (
        r#"{"chunk": "user_data", "fragment_control": "begin", "abandon": false,
            "final": true, "reserved": 0, "flow_id": 2, "sequence_number": 1,
            "fsn_offset": 1, "options": [{"type": 0, "value": "aa"}], "user_data": "6869"}"#,
        &[0x10, 0, 10, 0x91, 2, 1, 1, 2, 0, 0xaa, 0, 0x68, 0x69],
    ),
    (
        r#"{"chunk": "next_user_data", "fragment_control": "end", "abandon": false,
            "final": false, "reserved": 0, "user_data": "01"}"#,
        &[0x11, 0, 2, 0x20, 0x01],
    ),
    (
        r#"{"chunk": "bitmap_ack", "flow_id": 1, "buffer_blocks_available": 2,
            "cumulative_ack": 3, "bitmap": "05"}"#,
        &[0x50, 0, 4, 1, 2, 3, 5],
    ),
    (
        r#"{"chunk": "range_ack", "flow_id": 1, "buffer_blocks_available": 2,
            "cumulative_ack": 3, "ranges": [{"holes_minus_one": 0, "received_minus_one": 1}]}"#,
        &[0x51, 0, 5, 1, 2, 3, 0, 1],
    ),
    (
        r#"{"chunk": "buffer_probe", "flow_id": 5}"#,
        &[0x18, 0, 1, 5],
    ),
    (
        r#"{"chunk": "flow_exception_report", "flow_id": 5, "exception": 3}"#,
        &[0x5e, 0, 2, 5, 3],
    ),
    (r#"{"chunk": "close"}"#, &[0x0c, 0, 0]),
    (r#"{"chunk": "close_ack"}"#, &[0x4c, 0, 0]),
    (
        r#"{"chunk": "unknown", "chunk_type": 236, "payload": "00"}"#,
        &[0xec, 0, 1, 0],
    ),
];

#[test]
fn every_chunk_type_has_its_pinned_scenario_form() {
    for (text, wire) in CHUNKS {
        let c: Chunk = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut out = Vec::new();
        c.emit(&mut out).unwrap();
        assert_eq!(&out, wire, "{text}");
        // And back: the same text (every field the language names, no others).
        let want: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap(), want, "{text}");
        // The bytes parse to the same chunk.
        assert_eq!(Chunk::parse(wire[0], &wire[3..]), c, "{text}");
    }
    // Every chunk type the RFC defines is pinned (Close and Close Ack included).
    let mut types: Vec<u8> = CHUNKS.iter().map(|(_, w)| w[0]).collect();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), CHUNKS.len());
    assert_eq!(types.len(), 19);
}

#[test]
fn a_packet_header_has_its_pinned_scenario_form() {
    let text = r#"{"mode": "initiator", "time_critical": true, "time_critical_reverse": false,
                   "reserved": 0, "timestamp": 258, "chunks": [{"chunk": "close"}]}"#;
    let p: Packet = serde_json::from_str(text).unwrap();
    // §2.2.4: TC 0x80 | TS 0x08 | mode 1; timestamp; a Close chunk.
    assert_eq!(p.to_bytes().unwrap(), [0x89, 1, 2, 0x0c, 0, 0]);
    let want: Value = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_value(&p).unwrap(), want);
}

#[test]
fn an_unknown_field_is_an_error_not_ignored() {
    for text in [
        r#"{"chunk": "ihello", "epd": "0a", "tag": "01", "tags": "02"}"#,
        r#"{"chunk": "ping", "mesage": "00"}"#,
        r#"{"mode": "startup", "timestamps": 1}"#,
    ] {
        assert!(
            serde_json::from_str::<Chunk>(text).is_err()
                && serde_json::from_str::<Packet>(text).is_err(),
            "{text}"
        );
    }
}
