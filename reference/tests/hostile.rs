//! Hostile input: every prefix and seeded random mutations of every captured
//! packet go through the packet, chunk and profile-structure parsers and the
//! capture decoder. Nothing may panic; every outcome is a value or a typed error;
//! whatever parses re-emits to bytes that parse to the same value.

mod common;

use rtmfp::crypto::flash::cert::Certificate;
use rtmfp::crypto::flash::epd::Epd;
use rtmfp::crypto::flash::keying::Component;
use rtmfp::decode::{DatagramRef, Decoder, ProfileChoice, Status};
use rtmfp::keylog::KeyLog;
use rtmfp::wire::{Chunk, Packet};

/// xorshift64*: a tiny deterministic generator, so the test needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = [0x00, 0xff, 0x7f, 0x80, 0x81][rng.below(5)];
            }
            2 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, rng.next() as u8);
            }
            3 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.remove(i);
            }
            4 => v.truncate(rng.below(v.len() + 1)),
            5 if v.len() > 2 => {
                // A length-looking field set huge: VLU run of 0xff bytes.
                let i = rng.below(v.len() - 1);
                let n = rng.below(12).min(v.len() - i);
                v[i..i + n].fill(0xff);
            }
            _ => v.extend(std::iter::repeat_n(rng.next() as u8, rng.below(8))),
        }
    }
    v
}

/// Parses and, on success, checks emit/parse idempotence.
fn check_packet(bytes: &[u8]) {
    if let Ok(p) = Packet::parse(bytes) {
        let again = p.to_bytes().expect("a parsed packet re-emits");
        assert_eq!(
            Packet::parse(&again).as_ref(),
            Ok(&p),
            "re-parse of {}",
            hex::encode(bytes)
        );
        for c in &p.chunks {
            if let Chunk::Malformed(m) = c {
                // A malformed chunk is exactly its typed error.
                assert_eq!(
                    Chunk::try_parse(m.chunk_type, &m.payload),
                    Err(m.error.clone())
                );
            }
        }
    }
}

fn check_chunk_payload(t: u8, payload: &[u8]) {
    if let Ok(c) = Chunk::try_parse(t, payload) {
        let mut out = Vec::new();
        c.emit(&mut out).unwrap();
        assert_eq!(Chunk::try_parse(out[0], &out[3..]), Ok(c));
    }
}

fn check_profile_structs(bytes: &[u8]) {
    let _ = Certificate::parse(bytes);
    let _ = Epd::parse(bytes);
    let _ = Component::parse(bytes);
    let _ = rtmfp::crypto::flash::cert::fingerprint(bytes);
}

#[test]
fn parsers_survive_every_prefix_and_mutation_of_every_packet() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut packets = 0usize;
    let mut mutations = 0usize;
    for (name, pcap, keys) in common::captures() {
        let (_, decoded) = common::decode(&pcap, Some(&keys));
        for (p, _) in &decoded {
            let Some(packet) = &p.packet else { continue };
            packets += 1;
            let plain = &p.plain;
            for n in 0..=plain.len() {
                check_packet(&plain[..n]);
            }
            // Handshake packets carry the interesting structures: mutate them hard.
            let startup = packet.chunks.iter().any(|c| {
                matches!(
                    c,
                    Chunk::IHello(_)
                        | Chunk::RHello(_)
                        | Chunk::IIKeying(_)
                        | Chunk::RIKeying(_)
                        | Chunk::Redirect(_)
                )
            });
            let rounds = if startup { 2000 } else { 24 };
            for _ in 0..rounds {
                check_packet(&mutate(&mut rng, plain));
                mutations += 1;
            }
            for c in &packet.chunks {
                let mut payload = Vec::new();
                c.emit_payload(&mut payload);
                for n in 0..=payload.len().min(300) {
                    check_chunk_payload(c.chunk_type(), &payload[..n]);
                }
                for _ in 0..if startup { 500 } else { 4 } {
                    let m = mutate(&mut rng, &payload);
                    // The same bytes as every chunk type, too.
                    check_chunk_payload(rng.next() as u8, &m);
                    check_chunk_payload(c.chunk_type(), &m);
                    mutations += 2;
                }
                let structs: Vec<&[u8]> = match c {
                    Chunk::IHello(x) => vec![&x.epd],
                    Chunk::RHello(x) => vec![&x.responder_certificate],
                    Chunk::IIKeying(x) => vec![&x.initiator_certificate, &x.skic],
                    Chunk::RIKeying(x) => vec![&x.skrc],
                    _ => vec![],
                };
                for s in structs {
                    for n in 0..=s.len() {
                        check_profile_structs(&s[..n]);
                    }
                    for _ in 0..1000 {
                        check_profile_structs(&mutate(&mut rng, s));
                    }
                }
            }
        }
        assert!(packets > 0, "{name}");
    }
    assert!(packets > 2400, "{packets} packets");
    assert!(mutations > 100_000, "{mutations} mutations");
}

/// Whole datagrams, mutated before decryption: the decoder reports a reason for
/// each one it cannot use and never panics.
#[test]
fn decoder_survives_mutated_datagrams() {
    let mut rng = Rng(0xfeed_0000_0000_0002);
    for (name, pcap, keys) in common::captures() {
        let (_, decoded) = common::decode(&pcap, Some(&keys));
        let log = KeyLog::read_file(&keys).unwrap();
        let mut d = Decoder::new(Some(&log), ProfileChoice::Auto);
        for (p, payload) in decoded.iter().take(200) {
            for _ in 0..20 {
                let m = mutate(&mut rng, payload);
                let out = d.decode(DatagramRef {
                    index: p.index,
                    time: std::time::Duration::ZERO,
                    src: p.src,
                    dst: p.dst,
                    payload: &m,
                });
                if let Status::Failed { reason } | Status::Skipped { reason } = &out.status {
                    assert!(!reason.is_empty(), "{name}");
                }
            }
        }
        let s = d.summary;
        assert_eq!(s.packets, s.decoded + s.failed + s.skipped);
        assert!(
            s.failed > s.packets / 2,
            "{name}: most mutations must fail integrity: {s:?}"
        );
    }
}
