//! A flood of 1,000,000 distinct malformed startup packets, each from its own
//! source address, over the simulated network: the responder's state and heap stay
//! flat (drop reasons are a fixed set of counters; what varies goes to the log).
//! Memory is measured with a counting global allocator; this file holds one test
//! so nothing else allocates concurrently.

mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use rtmfp::crypto::PacketCipher;
use rtmfp::endpoint::Endpoint;
use rtmfp::session::config::EndpointConfig;
use rtmfp::sim::Network;
use rtmfp::stats::DropReason;
use rtmfp::wire::{Chunk, Header, IIKeying, Mode, Packet, PacketFragment, multiplex};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::live;

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

/// The `i`th malformed startup datagram: seven kinds, each carrying numbers
/// (lengths, offsets, chunk types, packet IDs) that differ from one to the next.
fn malformed(i: u32, cipher: &mut dyn PacketCipher) -> Vec<u8> {
    let startup = || {
        let mut h = Header::new(Mode::Startup);
        h.timestamp = Some(i as u16);
        h
    };
    let n = (i / 7) as usize;
    let plain = match i % 7 {
        // An IHello whose EPD length runs past the chunk (a malformed chunk).
        0 => Packet::new(
            startup(),
            vec![Chunk::Unknown {
                chunk_type: 0x30,
                payload: [
                    &[0xff, 0x80 | (n % 64) as u8, 0x7f][..],
                    &vec![0x5a; n % 300],
                ]
                .concat(),
            }],
        )
        .to_bytes()
        .unwrap(),
        // Mode 0 (§2.2.4: invalid), other flags and bytes varying: the packet
        // does not parse.
        1 => [&[(n % 64) as u8 & 0xfc][..], &n.to_be_bytes()[..n % 8]].concat(),
        // A chunk type not allowed in a startup packet.
        2 => Packet::new(
            startup(),
            vec![Chunk::Unknown {
                chunk_type: 0x40 + (n % 0x30) as u8,
                payload: n.to_be_bytes().to_vec(),
            }],
        )
        .to_bytes()
        .unwrap(),
        // Session mode under the Default Session Key.
        3 => Packet::new(Header::new(Mode::Initiator), vec![Chunk::Close])
            .to_bytes()
            .unwrap(),
        // A Packet Fragment of a packet that never completes, a new packetID each.
        4 => Packet::new(
            startup(),
            vec![Chunk::PacketFragment(PacketFragment {
                more_fragments: true,
                reserved: 0,
                packet_id: u64::from(i),
                fragment_num: (n % 5) as u64,
                packet_fragment: vec![0xa5; 100 + n % 900],
            })],
        )
        .to_bytes()
        .unwrap(),
        // An IIKeying with a forged cookie.
        5 => Packet::new(
            startup(),
            vec![Chunk::IIKeying(IIKeying {
                initiator_session_id: i,
                cookie_echo: i.to_be_bytes().repeat(16),
                initiator_certificate: vec![1, 2, 3],
                skic: vec![4, 5, 6],
                signature: vec![7; n % 64],
            })],
        )
        .to_bytes()
        .unwrap(),
        // Bytes that do not decrypt and verify.
        _ => {
            let garbage: Vec<u8> = (0..16 + n % 200).map(|k| (k as u32 ^ i) as u8).collect();
            let mut d = Vec::new();
            multiplex::mux(0, &garbage, &mut d);
            return d;
        }
    };
    let mut enc = Vec::new();
    cipher.seal(&plain, &mut enc);
    let mut d = Vec::new();
    multiplex::mux(0, &enc, &mut d);
    d
}

#[test]
fn a_flood_of_distinct_malformed_startup_packets_leaves_state_and_heap_flat() {
    let profile = common::sim::flash(true, 1, None);
    let mut cipher = profile.default_cipher();
    let sa: SocketAddr = "10.0.0.1:1935".parse().unwrap();
    let server = Rc::new(RefCell::new(Endpoint::new(
        EndpointConfig::default(),
        profile,
        1,
    )));
    let mut net = Network::new(1);
    net.add_node(Box::new(server.clone()), &[sa]);

    const TOTAL: u32 = 1_000_000;
    const BATCH: u32 = 500;
    let mut checkpoints = Vec::new();
    let mut max_state = 0;
    let mut i = 0u32;
    while i < TOTAL {
        for _ in 0..BATCH {
            let from = SocketAddr::from((
                [100, (i >> 16) as u8, (i >> 8) as u8, i as u8],
                1024 + (i % 50_000) as u16,
            ));
            let d = malformed(i, cipher.as_mut());
            net.inject(from, sa, d);
            i += 1;
        }
        // 500 packets every 50 ms: 10,000 a second, for 100 s of virtual time.
        let t = net.now() + Duration::from_millis(50);
        net.run_until(t);
        max_state = max_state.max(server.borrow().state_size());
        if i == 10_000 || i.is_multiple_of(100_000) {
            checkpoints.push((i, live(), server.borrow().state_size()));
        }
    }
    let s = server.borrow();
    eprintln!(
        "checkpoints (packets, live heap, state_size): {checkpoints:?}; drops {:?}",
        s.stats.drops
    );
    // Every datagram was counted as a drop, except fragments kept for
    // reassembly (each evicting an older buffer once the table is full).
    let kept = s.stats.dropped(DropReason::FragmentEvicted);
    assert!(kept > 0, "the reassembly buffer limit was reached");
    for r in [
        DropReason::MalformedChunk,
        DropReason::StartupUnparsable,
        DropReason::StartupChunkNotAllowed,
        DropReason::NonStartupModeDefaultKey,
        DropReason::FragmentEvicted,
        DropReason::IIKeyingBadCookie,
        DropReason::StartupUndecryptable,
    ] {
        assert!(
            s.stats.dropped(r) >= u64::from(TOTAL / 7) / 2,
            "{r:?}: {:?}",
            s.stats.drops
        );
    }
    assert!(s.stats.drops.total() >= u64::from(TOTAL) * 6 / 7);
    // Nothing answered, nothing opened; at most the 64 reassembly buffers (§3.4)
    // of at most 1 kB each (state_size counts bytes).
    assert_eq!(s.sessions().count(), 0);
    assert!(
        max_state <= 64 * (1000 + 128),
        "state_size reached {max_state}"
    );
    // The heap after 100,000 and after 1,000,000 packets is what it was after
    // 10,000 (within the reassembly buffers' churn, at most 64 × 1 kB).
    let (_, heap_10k, _) = checkpoints[0];
    for &(n, heap, _) in &checkpoints[1..] {
        assert!(
            (heap - heap_10k).abs() < 128 * 1024,
            "heap grew from {heap_10k} to {heap} bytes after {n} packets"
        );
    }
}
