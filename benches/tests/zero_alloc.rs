//! Steady state without allocation (issue 13 §1): a counting global allocator
//! asserts how many heap allocations one packet costs once buffers are warm.
//!
//! Zero for: Flash seal (checksum, and HMAC + session sequence numbers), Flash open
//! into a reused buffer, parsing a data packet (`PacketView` and the borrowed
//! User Data / Next User Data views the receive path uses; the owned `Packet`
//! model is for tools), and the sending flow's acknowledgement processing
//! (on_ack + the §3.6.2.5 NAK pass + the Appendix A window update). And a
//! bound for a whole transfer between two endpoints, per data packet.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rtmfp::congestion::appendix_a::AppendixA;
use rtmfp::congestion::{CongestionController, Signals};
use rtmfp::crypto::PacketCipher;
use rtmfp::crypto::flash::{DirectionKeys, FlashCipher};
use rtmfp::time::Instant;
use rtmfp::wire::{Chunk, NextUserDataView, PacketView, UserDataView, types};
use rtmfp_benches::fixtures::{ack_with_holes, data_packet, flow_in_flight, max_tsn, plain_bytes};

struct Counting;

thread_local! {
    // Allocations (alloc, alloc_zeroed, realloc) made by this thread while counting.
    static COUNT: Cell<Option<u64>> = const { Cell::new(None) };
}

fn bump() {
    // try_with: the allocator may run during thread teardown.
    let _ = COUNT.try_with(|c| {
        if let Some(n) = c.get() {
            c.set(Some(n + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        bump();
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.replace(None)).unwrap()
}

#[test]
fn the_counter_counts() {
    // The independent check that the allocator is installed and counting.
    assert_eq!(allocations(|| drop(std::hint::black_box(vec![1u8; 10]))), 1);
    assert_eq!(allocations(|| {}), 0);
}

fn cipher(hmac: bool) -> FlashCipher {
    let k = DirectionKeys::new(*b"0123456789abcdef", hmac.then_some(([7; 32], 10)), hmac);
    FlashCipher::new(k.clone(), k)
}

#[test]
fn seal_and_open_allocate_nothing_once_warm() {
    for hmac in [false, true] {
        let packet = plain_bytes(1168);
        let mut tx = cipher(hmac);
        let mut rx = cipher(hmac);
        let mut sealed = Vec::with_capacity(2048);
        let mut opened = Vec::with_capacity(2048);
        // Warm up (first use of the buffers).
        tx.seal(&packet, &mut sealed);
        rx.open_into(&sealed, &mut opened).unwrap();
        for _ in 0..100 {
            let n = allocations(|| {
                sealed.clear();
                tx.seal(&packet, &mut sealed);
            });
            assert_eq!(n, 0, "seal (hmac {hmac}) allocated");
            let n = allocations(|| {
                rx.open_into(&sealed, &mut opened).unwrap();
            });
            assert_eq!(n, 0, "open (hmac {hmac}) allocated");
            // It really opened the packet (padding follows it).
            assert_eq!(&opened[..packet.len()], &packet[..]);
        }
    }
}

#[test]
fn ack_processing_allocates_nothing_once_warm() {
    let n = 1_000;
    let mut flow = flow_in_flight(n);
    let mut cc = AppendixA::default();
    let ack = ack_with_holes(n);
    let top = max_tsn(&ack);
    let mut acked_total = 0;
    let count = allocations(|| {
        cc.begin_packet(flow.outstanding());
        let o = flow.on_ack(Instant::ZERO, &ack, 1 << 40);
        cc.on_ack(o.acked_bytes);
        let (naks, _) = flow.nak_pass(top);
        if naks > 0 {
            cc.on_nak();
        }
        cc.end_packet(Signals::default());
        acked_total = o.acked_bytes;
    });
    assert_eq!(count, 0, "ack processing allocated");
    // It did process the ack: the acknowledged fragments left the flight.
    let acked_seqs: u64 = ack.iter().map(|&(a, b)| b - a.max(1) + 1).sum();
    assert_eq!(flow.stats.bytes_acked, acked_seqs * 100);
    assert!(
        acked_total > 0 && flow.outstanding() > 0,
        "holes remain in flight"
    );
}

#[test]
fn data_packet_parse_allocates_nothing() {
    // User Data + 3 Next User Data, parsed as the session's receive path does:
    // the header, then each chunk borrowed from the packet.
    let packet = data_packet(1120, 3);
    let bytes = packet.to_bytes().unwrap();
    // (chunk type, flow ID, sequence number, fragmentation, payload)
    let mut seen = Vec::with_capacity(8);
    let n = allocations(|| {
        let view = PacketView::parse(&bytes).unwrap();
        let mut chunks = view.chunks();
        for c in &mut chunks {
            match c.chunk_type {
                types::USER_DATA => {
                    let u = UserDataView::parse(c.payload).unwrap();
                    let fra = u.flags.fragment_control;
                    let seq = u.sequence_number;
                    seen.push((c.chunk_type, Some((u.flow_id, seq)), fra, u.user_data));
                }
                types::NEXT_USER_DATA => {
                    let d = NextUserDataView::parse(c.payload).unwrap();
                    seen.push((c.chunk_type, None, d.flags.fragment_control, d.user_data));
                }
                _ => {}
            }
        }
        assert!(chunks.rest().is_empty());
        assert_eq!(view.header, packet.header);
    });
    assert_eq!(n, 0, "parsing a data packet allocated");
    // It parsed what the owned model says the packet holds.
    let want: Vec<_> = packet
        .chunks
        .iter()
        .map(|c| match c {
            Chunk::UserData(u) => (
                types::USER_DATA,
                Some((u.flow_id, u.sequence_number)),
                u.flags.fragment_control,
                &u.user_data[..],
            ),
            Chunk::NextUserData(d) => (
                types::NEXT_USER_DATA,
                None,
                d.flags.fragment_control,
                &d.user_data[..],
            ),
            other => panic!("fixture holds {}", other.name()),
        })
        .collect();
    assert_eq!(seen, want);
    assert_eq!(seen.len(), 4);
}

/// Two plain endpoints wired back to back (the simulator would allocate per
/// datagram itself): `client` sends 16 KiB messages on one flow, the server
/// sinks them. Returns the heap allocations and the data packets the client
/// sent while `bytes` more were acknowledged, after `warm` bytes warmed up.
fn endpoint_transfer(warm: u64, bytes: u64) -> (u64, u64) {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use rtmfp::crypto::plain::PlainProfile;
    use rtmfp::endpoint::Endpoint;
    use rtmfp::session::config::EndpointConfig;
    use rtmfp::session::data::FlowOptions;

    let (ca, sa): (SocketAddr, SocketAddr) = (
        "10.0.0.1:5000".parse().unwrap(),
        "10.0.0.2:1935".parse().unwrap(),
    );
    let config = EndpointConfig {
        receive_buffer: 1 << 20,
        ..Default::default()
    };
    let mut c = Endpoint::new(config.clone(), Arc::new(PlainProfile::new("client")), 1);
    let mut s = Endpoint::new(config, Arc::new(PlainProfile::new("server")), 2);
    c.set_local_addresses(vec![ca]);
    s.set_local_addresses(vec![sa]);
    let mut now = Instant::ZERO;
    // One exchange: each of the client's datagrams, then whatever the server
    // answered (buffers handed back, as the driver does), the server's
    // messages consumed, time advanced.
    let step = |c: &mut Endpoint, s: &mut Endpoint, now: &mut Instant| {
        while let Some(t) = c.poll_transmit() {
            s.handle_datagram(*now, sa, ca, &t.data);
            c.recycle(t.data);
            while let Some(t) = s.poll_transmit() {
                c.handle_datagram(*now, ca, sa, &t.data);
                s.recycle(t.data);
            }
            while s.poll_event().is_some() {}
        }
        *now += Duration::from_micros(200);
        c.handle_timeout(*now);
        s.handle_timeout(*now);
    };
    let h = c.connect(now, b"server".to_vec(), &[sa]);
    for _ in 0..100 {
        step(&mut c, &mut s, &mut now);
    }
    while c.poll_event().is_some() {}
    let flow = c
        .open_flow(now, h, b"bulk".to_vec(), None, FlowOptions::default())
        .unwrap();
    let message = vec![7u8; 16384];
    let acked = |c: &Endpoint| {
        let f = c.session(h).unwrap().data().send_flow(flow).unwrap();
        f.stats.bytes_acked
    };
    let sent = |c: &Endpoint| c.session(h).unwrap().data().stats.data_packets_sent;
    let run = |c: &mut Endpoint, s: &mut Endpoint, now: &mut Instant, until: u64| {
        while acked(c) < until {
            while c.send(*now, h, flow, &message, None).is_ok() {}
            while c.poll_event().is_some() {}
            step(c, s, now);
        }
    };
    run(&mut c, &mut s, &mut now, warm);
    let packets_before = sent(&c);
    let n = allocations(|| run(&mut c, &mut s, &mut now, warm + bytes));
    (n, sent(&c) - packets_before)
}

#[test]
fn endpoint_transfer_allocates_little_per_packet() {
    let (allocations, packets) = endpoint_transfer(4 << 20, 8 << 20);
    assert!(packets > 7_000, "{packets} data packets");
    let per_packet = allocations as f64 / packets as f64;
    eprintln!("{allocations} allocations for {packets} data packets: {per_packet:.2} per packet");
    // Measured 3.75 (it was 16.1 before packets were opened and sealed into
    // reused buffers, chunk sizes were computed rather than emitted and a
    // message's fragments shared its bytes). What remains is data storage:
    // per fragment, the copy into its chunk and the receiver's copy out of the
    // datagram; per message, the sender's copy and the receiver's assembly;
    // then about one per acknowledgement, and datagram buffers when this test
    // lets the client's outbox run ahead of the 64 buffers it keeps for reuse
    // (the driver sends after every batch). Per-packet work that allocates
    // again (a packet or chunk list, an ack, opening) raises it past the bound.
    assert!(
        per_packet < 4.5,
        "{per_packet:.2} allocations per data packet"
    );
}
