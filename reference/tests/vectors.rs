//! Every packet of every capture in vectors/ decodes: startup packets with the
//! Default Session Key, session packets with the logged keys, every checksum, HMAC
//! and session sequence number verified; and every decrypted packet re-emitted
//! from its parsed form (and re-encrypted) is byte for byte what was captured.

mod common;

use std::collections::BTreeMap;

use rtmfp::crypto::Integrity;
use rtmfp::decode::{Direction, KeyUsed, Status};
use rtmfp::wire::{Chunk, Mode};

#[test]
fn every_packet_of_every_capture_decodes_verifies_and_reencodes() {
    for (name, pcap, keys) in common::captures() {
        let (mut decoder, packets) = common::decode(&pcap, Some(&keys));
        assert!(!packets.is_empty(), "{name}: no UDP datagrams");
        let mut by_key: BTreeMap<(bool, String), usize> = BTreeMap::new();
        let mut directions = BTreeMap::new();
        for (p, payload) in &packets {
            if p.length == 0 {
                // rtmfp-cpp's simulated loss: an empty datagram, skipped, not failed.
                assert!(
                    matches!(p.status, Status::Skipped { .. }),
                    "{name} #{}",
                    p.index
                );
                continue;
            }
            assert_eq!(p.status, Status::Decoded, "{name} #{}", p.index);
            let packet = p.packet.as_ref().unwrap();
            // Startup packets under the default key, everything else under session keys.
            let startup = packet.header.mode == Mode::Startup;
            assert_eq!(
                p.key == Some(KeyUsed::Default),
                startup,
                "{name} #{}: key vs mode",
                p.index
            );
            assert!(
                p.integrity.is_some(),
                "{name} #{}: integrity checked",
                p.index
            );
            let integrity = match p.integrity.unwrap() {
                Integrity::Checksum(_) => "checksum",
                Integrity::Hmac(_) => "hmac",
            };
            *by_key.entry((startup, integrity.to_string())).or_default() += 1;
            if let Some(d) = p.direction {
                *directions.entry(d).or_insert(0) += 1;
            }
            // Exact inverse: parse then emit gives the decrypted bytes...
            assert_eq!(
                packet.to_bytes().unwrap(),
                p.plain,
                "{name} #{}: re-emit",
                p.index
            );
            // ...and re-encrypting gives the captured datagram.
            assert_eq!(
                decoder.reencode(p).as_ref(),
                Some(payload),
                "{name} #{}: re-encrypt",
                p.index
            );
            for c in &packet.chunks {
                assert!(
                    !matches!(c, Chunk::Malformed(_)),
                    "{name} #{}: {c:?}",
                    p.index
                );
            }
        }
        assert_eq!(decoder.summary.failed, 0, "{name}");
        assert!(
            directions
                .get(&Direction::InitiatorToResponder)
                .is_some_and(|&n| n > 100),
            "{name}"
        );
        assert!(
            directions
                .get(&Direction::ResponderToInitiator)
                .is_some_and(|&n| n > 50),
            "{name}"
        );
        // Both startup and session packets were seen.
        assert!(by_key.keys().any(|(s, _)| *s), "{name}: startup packets");
        assert!(by_key.keys().any(|(s, _)| !*s), "{name}: session packets");
    }
}

/// What the shared README says of each capture, checked against the decode.
#[test]
fn captures_match_their_descriptions() {
    type ChunkCounts = &'static [(u8, usize)];
    let expect: BTreeMap<&str, (usize, ChunkCounts)> = BTreeMap::from([
        (
            "plain-session",
            (
                582,
                &[
                    (0x01, 2),
                    (0x10, 480),
                    (0x11, 1),
                    (0x18, 4),
                    (0x30, 1),
                    (0x38, 1),
                    (0x41, 2),
                    (0x4c, 2),
                    (0x51, 90),
                    (0x70, 1),
                    (0x78, 1),
                    (0xec, 83),
                ][..],
            ),
        ),
        (
            "flash-echo",
            (
                585,
                &[
                    (0x10, 490),
                    (0x30, 1),
                    (0x38, 1),
                    (0x4c, 2),
                    (0x51, 91),
                    (0x5e, 2),
                    (0x70, 1),
                    (0x78, 1),
                    (0xec, 91),
                ][..],
            ),
        ),
        (
            "flash-echo-hmac",
            (
                679,
                &[
                    (0x10, 488),
                    (0x30, 1),
                    (0x38, 1),
                    (0x4c, 2),
                    (0x51, 186),
                    (0x5e, 2),
                    (0x70, 1),
                    (0x78, 1),
                    (0xec, 185),
                ][..],
            ),
        ),
        (
            "flash-redirect",
            (
                650,
                &[
                    (0x10, 489),
                    (0x30, 2),
                    (0x38, 1),
                    (0x4c, 2),
                    (0x51, 154),
                    (0x5e, 2),
                    (0x70, 1),
                    (0x71, 1),
                    (0x78, 1),
                    (0xec, 153),
                ][..],
            ),
        ),
    ]);
    for (name, pcap, keys) in common::captures() {
        let Some((count, chunks)) = expect.get(name.as_str()) else {
            continue;
        };
        let (decoder, packets) = common::decode(&pcap, Some(&keys));
        assert_eq!(decoder.summary.packets, *count, "{name}");
        let mut seen: BTreeMap<u8, usize> = BTreeMap::new();
        for (p, _) in &packets {
            for c in &p.packet.as_ref().unwrap().chunks {
                *seen.entry(c.chunk_type()).or_default() += 1;
            }
        }
        assert_eq!(
            seen,
            chunks.iter().copied().collect::<BTreeMap<_, _>>(),
            "{name}"
        );
    }
}

/// Plain captures decode without their key log: the checksum salts are the
/// keying components seen in IIKeying and RIKeying.
#[test]
fn plain_captures_decode_without_keys() {
    for (name, pcap, _) in common::captures()
        .into_iter()
        .filter(|c| c.0.starts_with("plain"))
    {
        let (decoder, _) = common::decode(&pcap, None);
        assert_eq!(decoder.summary.failed, 0, "{name}");
    }
}

/// Flash session packets do not decode without keys, and say so.
#[test]
fn flash_without_keys_fails_with_a_reason() {
    let (_, pcap, _) = common::captures()
        .into_iter()
        .find(|c| c.0 == "flash-echo")
        .unwrap();
    let (decoder, packets) = common::decode(&pcap, None);
    assert_eq!(decoder.summary.decoded, 4, "the four handshake packets");
    let Status::Failed { reason } = &packets[4].0.status else {
        panic!()
    };
    assert!(reason.contains("no key log entry"), "{reason}");
}

/// The key logs themselves: what the decoder used agrees with the key schedule
/// recomputed from the logged DH secret and the keying components on the wire.
#[test]
fn key_logs_are_consistent_with_the_key_schedule() {
    use rtmfp::crypto::flash::keying::{DerivedKeys, hmac_sha256};
    for (name, _, keys) in common::captures()
        .into_iter()
        .filter(|c| c.0.starts_with("flash"))
    {
        let log = rtmfp::keylog::KeyLog::read_file(&keys).unwrap();
        for s in &log.sessions {
            let b = |n: &str| s.bytes(n).unwrap().unwrap_or_else(|| panic!("{name}: {n}"));
            let k = DerivedKeys::derive(
                &b("dh_shared_secret"),
                &b("initiator_keying_component"),
                &b("responder_keying_component"),
            );
            assert_eq!(
                k.encrypt_key().to_vec(),
                b("initiator_encrypt_key"),
                "{name}"
            );
            assert_eq!(
                k.decrypt_key().to_vec(),
                b("responder_encrypt_key"),
                "{name}"
            );
            assert_eq!(k.near_nonce.to_vec(), b("initiator_nonce"), "{name}");
            assert_eq!(k.far_nonce.to_vec(), b("responder_nonce"), "{name}");
            if s.flag("initiator_hmac_send") == Some(true) {
                assert_eq!(
                    hmac_sha256(&b("dh_shared_secret"), &k.encrypt_full).to_vec(),
                    b("initiator_hmac_send_key")
                );
            }
        }
    }
}
