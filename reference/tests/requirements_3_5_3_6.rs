//! One test per MUST / MUST NOT of RFC 7016 §3.3-§3.6 that the engine implements,
//! named after its section and requirement ID (`<section>#<n>` of the catalogue
//! in conformance/). Rules tested elsewhere point there in a comment.

mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use common::sim::user_data_chunk as ud;
use rtmfp::crypto::plain::PlainProfile;
use rtmfp::endpoint::{Endpoint, Event, SessionHandle, Stats};
use rtmfp::flow::FlowError;
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::{Data, FlowOptions};
use rtmfp::sim::Network;
use rtmfp::time::Instant;
use rtmfp::wire::{
    Chunk, Fragmentation, Header, Mode, Opt, Packet, RangeAck, UserData, user_data_option, vlu,
};

const T0: Instant = Instant(1_000_000);

fn data() -> Data {
    Data::new(&EndpointConfig::default(), T0)
}

fn meta(m: &[u8]) -> Option<Vec<Opt>> {
    Some(vec![Opt::new(user_data_option::METADATA, m.to_vec())])
}

/// Feeds chunks as one received packet; returns the events.
fn receive(d: &mut Data, now: Instant, chunks: Vec<Chunk>) -> Vec<SessionEvent> {
    let mut stats = Stats::default();
    d.begin_packet(now, &Header::new(Mode::Initiator));
    let mut evs = Vec::new();
    for c in chunks {
        evs.extend(d.on_chunk(now, c, &mut stats));
    }
    evs.extend(d.end_packet(now));
    evs
}

/// Everything the data plane wants to send now, packet by packet.
fn drain(d: &mut Data, now: Instant) -> Vec<Vec<Chunk>> {
    let mut stats = Stats::default();
    let mut out = Vec::new();
    loop {
        let f = d.fill(now, 1100, &mut stats);
        if f.chunks.is_empty() {
            return out;
        }
        let p = Packet::new(Header::new(Mode::Responder), f.chunks.clone());
        d.on_sent(now, &p);
        out.push(f.chunks);
    }
}

fn rejected(evs: &[SessionEvent]) -> Option<&'static str> {
    evs.iter().find_map(|e| match e {
        SessionEvent::FlowRejected { reason, .. } => Some(*reason),
        _ => None,
    })
}

fn exception_sent(packets: &[Vec<Chunk>], flow: u64) -> bool {
    packets.iter().flatten().any(
        |c| matches!(c, Chunk::FlowExceptionReport(e) if e.flow_id == flow && e.exception == 0),
    )
}

// ---------------------------------------------------------------- §3.3

/// 3.3#2: session ID 0 MUST NOT be used for an active session.
#[test]
fn s3_3_2_session_id_zero_never_assigned() {
    let mut net = Network::new(1);
    let (ca, sa): (SocketAddr, SocketAddr) =
        ("10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap());
    let server = Rc::new(RefCell::new(Endpoint::new(
        EndpointConfig::default(),
        Arc::new(PlainProfile::new("server")),
        1,
    )));
    net.add_node(Box::new(server.clone()), &[sa]);
    let mut clients = Vec::new();
    for i in 0..50u8 {
        let a: SocketAddr = SocketAddr::from(([10, 1, 0, i], 1000));
        let c = Rc::new(RefCell::new(Endpoint::new(
            EndpointConfig::default(),
            Arc::new(PlainProfile::new("c")),
            u64::from(i),
        )));
        net.add_node(Box::new(c.clone()), &[a]);
        c.borrow_mut()
            .connect(Instant::ZERO, b"server".to_vec(), &[sa]);
        clients.push(c);
    }
    net.run_until(Instant::from_millis(500));
    let _ = ca;
    let sids: Vec<u32> = server.borrow().sessions().map(|s| s.local_sid()).collect();
    assert_eq!(sids.len(), 50);
    assert!(sids.iter().all(|&s| s != 0));
    for c in &clients {
        assert!(
            c.borrow()
                .sessions()
                .all(|s| s.local_sid() != 0 && s.remote_sid() != 0)
        );
    }
}

// ---------------------------------------------------------------- §3.5
// 3.5.1.1.2#3 (cookie MUST be recognisable as authentic): session::cookie tests and
//   tests/session_handshake.rs (cookie change, spoofed IHellos).
// 3.5.2#1, 3.5.2#2 (TCP compatible, not more aggressive than slow start):
//   congestion::appendix_a tests and the trace check of tests/sim_transfer.rs.
// 3.5.2.2#2 (ERTO MUST NOT be less than the RTT), 3.5.2.2#3 (Timestamp Echo MUST):
//   congestion::rtt tests; the trace check of tests/sim_transfer.rs.

/// Runs one second (20 round trips) of a cwnd-limited sender whose acks carry (or not) TCR;
/// returns the window growth.
fn growth_with_tcr(tcr: bool) -> usize {
    let mut d = data();
    let f = d
        .open_flow(b"m".to_vec(), None, FlowOptions::default())
        .unwrap();
    for _ in 0..400 {
        d.send(f, &[0; 1000], None).unwrap();
    }
    let mut now = T0;
    let start = d.congestion().cwnd();
    let mut seq = 0;
    // A receiver acking every data packet one RTT later; the sender refills the
    // window after each ack, so it stays cwnd-limited.
    let mut pipe: std::collections::VecDeque<(Instant, u64)> = std::collections::VecDeque::new();
    for p in drain(&mut d, now) {
        seq += p
            .iter()
            .filter(|c| matches!(c, Chunk::UserData(_) | Chunk::NextUserData(_)))
            .count() as u64;
        pipe.push_back((now + Duration::from_millis(50), seq));
    }
    while let Some((at, acked)) = pipe.pop_front() {
        if at > T0 + Duration::from_secs(1) {
            break;
        }
        now = at;
        let mut h = Header::new(Mode::Initiator);
        h.time_critical_reverse = tcr;
        let mut stats = Stats::default();
        d.begin_packet(now, &h);
        d.on_chunk(
            now,
            Chunk::RangeAck(RangeAck::from_ranges(f, 1 << 20, acked, &[])),
            &mut stats,
        );
        d.end_packet(now);
        for p in drain(&mut d, now) {
            seq += p
                .iter()
                .filter(|c| matches!(c, Chunk::UserData(_) | Chunk::NextUserData(_)))
                .count() as u64;
            pipe.push_back((now + Duration::from_millis(50), seq));
        }
    }
    d.congestion().cwnd() - start
}

/// 3.5.2.1#1: with a Time Critical Reverse Notification from the far end within
/// 800 ms (and no TC sent), the sender MUST behave as though SSTHRESH were 0:
/// no slow-start growth.
#[test]
fn s3_5_2_1_1_tcr_disables_slow_start() {
    let with = growth_with_tcr(true);
    let without = growth_with_tcr(false);
    // Slow start (no TCR) grows exponentially; under TCR growth is linear, about
    // 384 bytes per round trip (§3.5.2.1's SHOULD NOT exceed max(0.5%, 384 bytes)).
    assert!(without > 5 * with, "without TCR {without}, with TCR {with}");
    assert!(
        with <= 21 * 384,
        "grew {with} bytes in 20 round trips under TCR"
    );
}

/// 3.5.4#4: a Ping Reply MUST be sent only as a response to a Ping.
#[test]
fn s3_5_4_4_ping_reply_only_for_ping() {
    let mut net = Network::new(3);
    net.record();
    let (ca, sa): (SocketAddr, SocketAddr) =
        ("10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap());
    let config = EndpointConfig {
        keepalive: Duration::from_secs(2),
        ..Default::default()
    };
    let server = Rc::new(RefCell::new(Endpoint::new(
        config.clone(),
        Arc::new(PlainProfile::new("server")),
        1,
    )));
    let client = Rc::new(RefCell::new(Endpoint::new(
        config,
        Arc::new(PlainProfile::new("client")),
        2,
    )));
    net.add_node(Box::new(server.clone()), &[sa]);
    net.add_node(Box::new(client.clone()), &[ca]);
    client
        .borrow_mut()
        .connect(Instant::ZERO, b"server".to_vec(), &[sa]);
    net.run_until(Instant::from_millis(20_000));
    let (mut pings, mut replies) = (0, 0);
    for r in net.records.as_ref().unwrap() {
        let (_, enc) = rtmfp::wire::multiplex::demux(&r.data).unwrap();
        let Ok(p) = Packet::parse(&enc[..enc.len() - 18]) else {
            continue;
        };
        for c in &p.chunks {
            match c {
                Chunk::Ping(_) => pings += 1,
                Chunk::PingReply(_) => replies += 1,
                _ => {}
            }
        }
    }
    assert!(pings >= 3, "keepalives were sent: {pings}");
    assert_eq!(replies, pings, "one reply per ping, none unprompted");
}

// ---------------------------------------------------------------- §3.6.1

/// 3.6.1.1#2 and 2.3.11.1.2#4: a sending flow MUST NOT indicate more than one
/// return association.
#[test]
fn s3_6_1_1_2_at_most_one_return_association() {
    let mut d = data();
    receive(
        &mut d,
        T0,
        vec![ud(7, 1, 0, Fragmentation::Whole, meta(b"x"), b"hi")],
    );
    let f = d
        .open_flow(b"ret".to_vec(), Some(7), FlowOptions::default())
        .unwrap();
    d.send(f, b"a", None).unwrap();
    let packets = drain(&mut d, T0);
    let first = packets
        .iter()
        .flatten()
        .find_map(|c| match c {
            Chunk::UserData(u) if u.flow_id == f => Some(u.clone()),
            _ => None,
        })
        .unwrap();
    let assocs = first
        .options
        .as_ref()
        .unwrap()
        .iter()
        .filter(|o| o.kind == user_data_option::RETURN_FLOW_ASSOCIATION)
        .count();
    assert_eq!(assocs, 1);
    assert_eq!(first.return_flow_association(), Some(Ok(7)));
}

/// 3.6.1.2#1: fragment sequence numbers of a message MUST be greater than those
/// of all messages queued before it (and 2.3.11#1: contiguous within a message).
#[test]
fn s3_6_1_2_1_sequence_numbers_increase() {
    let mut d = data();
    let f = d
        .open_flow(b"m".to_vec(), None, FlowOptions::default())
        .unwrap();
    for n in [10usize, 3000, 1, 5000] {
        d.send(f, &vec![1; n], None).unwrap();
    }
    let mut seqs = Vec::new();
    let mut last: Option<UserData> = None;
    for c in drain(&mut d, T0).into_iter().flatten() {
        match c {
            Chunk::UserData(u) => {
                seqs.push(u.sequence_number);
                last = Some(u);
            }
            Chunk::NextUserData(n) => {
                let u = n.expand(last.as_ref().unwrap()).unwrap();
                seqs.push(u.sequence_number);
                last = Some(u);
            }
            _ => {}
        }
    }
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert_eq!(seqs[0], 1, "2.3.11#3/#4: first sequence number 1 (> 0)");
}

/// 3.6.1.2#3, 3.6.1.2#4: a gap left by an abandoned message MUST be detected and
/// a gap indication MUST be communicated to the receiving user.
#[test]
fn s3_6_1_2_4_gap_indication() {
    let mut d = data();
    let mut evs = receive(
        &mut d,
        T0,
        vec![ud(3, 1, 0, Fragmentation::Begin, meta(b"m"), b"a")],
    );
    // The sender abandons the rest of message 1 and moves the FSN to 2.
    evs.extend(receive(
        &mut d,
        T0,
        vec![ud(3, 4, 3, Fragmentation::Whole, None, b"next")],
    ));
    assert!(
        evs.iter()
            .any(|e| matches!(e, SessionEvent::Gap { flow: 3, .. })),
        "{evs:?}"
    );
    assert!(
        evs.iter()
            .any(|e| matches!(e, SessionEvent::Message { data, .. } if data == b"next"))
    );
    assert!(
        !evs.iter()
            .any(|e| matches!(e, SessionEvent::Message { data, .. } if data == b"a"))
    );
}

/// 3.6.1.3#2: receivers MUST NOT acknowledge sequence numbers above the FSN that
/// were not received.
#[test]
fn s3_6_1_3_2_no_ack_for_unreceived() {
    let mut d = data();
    receive(
        &mut d,
        T0,
        vec![
            ud(3, 1, 0, Fragmentation::Whole, meta(b"m"), b"a"),
            ud(3, 5, 0, Fragmentation::Whole, None, b"e"),
            ud(3, 9, 0, Fragmentation::Whole, None, b"i"),
        ],
    );
    let acked: Vec<(u64, u64)> = drain(&mut d, T0)
        .into_iter()
        .flatten()
        .filter_map(|c| match c {
            Chunk::RangeAck(a) => Some([vec![(0, a.cumulative_ack)], a.ranges()].concat()),
            Chunk::BitmapAck(a) => Some([vec![(0, a.cumulative_ack)], a.ranges()].concat()),
            _ => None,
        })
        .next_back()
        .unwrap();
    assert_eq!(acked, [(0, 1), (5, 5), (9, 9)]);
}

// ---------------------------------------------------------------- §3.6.2
// 3.6.2.3#1, #2 (FSN rules), 3.6.2.3.2#2 (first fragment of a flow in a packet is a
// User Data chunk), 3.6.2.7#1 (never un-abandon), 3.6.2.9#1 (window), 3.6.2.11#1
// (130 s linger): flow::send tests s3_6_2_*.

/// 3.6.2.2#1: each fragment MUST fit a packet with a maximum-size header, User Data
/// chunk header and the STARTUP_OPTIONS.
#[test]
fn s3_6_2_2_1_fragments_fit_the_path_mtu() {
    let max = EndpointConfig::default().max_packet;
    let mut d = data();
    let f = d
        .open_flow(vec![b'M'; 400], None, FlowOptions::default())
        .unwrap();
    d.send(f, &vec![7; 50_000], None).unwrap();
    let mut stats = Stats::default();
    loop {
        let fill = d.fill(T0, max - 5, &mut stats);
        if fill.chunks.is_empty() {
            break;
        }
        let mut h = Header::new(Mode::Responder);
        h.timestamp = Some(1);
        h.timestamp_echo = Some(1);
        let p = Packet::new(h, fill.chunks);
        assert!(p.to_bytes().unwrap().len() <= max);
        d.on_sent(T0, &p);
        // acknowledge everything so the window never limits
        let top = d
            .send_flow(f)
            .unwrap()
            .in_flight_seqs()
            .last()
            .copied()
            .unwrap_or(0);
        receive(
            &mut d,
            T0,
            vec![Chunk::RangeAck(RangeAck::from_ranges(f, 1 << 20, top, &[]))],
        );
    }
    assert_eq!(d.send_flow(f).unwrap().queued(), 0);
}

// ---------------------------------------------------------------- §3.6.3

/// 3.6.3.1#1: a new flow without metadata MUST be rejected (exception 0).
#[test]
fn s3_6_3_1_1_no_metadata_rejected() {
    let mut d = data();
    let evs = receive(
        &mut d,
        T0,
        vec![ud(4, 1, 0, Fragmentation::Whole, None, b"x")],
    );
    assert_eq!(rejected(&evs), Some("no metadata"));
    assert!(
        !evs.iter()
            .any(|e| matches!(e, SessionEvent::Message { .. }))
    );
    assert!(exception_sent(&drain(&mut d, T0), 4));
}

/// 3.6.3.1#2 (2.3.11.1.2#6): a return association naming no sending flow MUST be rejected.
#[test]
fn s3_6_3_1_2_association_to_unknown_flow_rejected() {
    let mut d = data();
    let opts = vec![
        Opt::new(user_data_option::METADATA, b"m".to_vec()),
        Opt::new(user_data_option::RETURN_FLOW_ASSOCIATION, vlu::to_vec(99)),
    ];
    let evs = receive(
        &mut d,
        T0,
        vec![ud(4, 1, 0, Fragmentation::Whole, Some(opts), b"x")],
    );
    assert_eq!(
        rejected(&evs),
        Some("return association names no sending flow")
    );
    assert!(exception_sent(&drain(&mut d, T0), 4));
}

/// 3.6.3.1#3: a return association to a sending flow that is not F_OPEN MUST be rejected.
#[test]
fn s3_6_3_1_3_association_to_closing_flow_rejected() {
    let mut d = data();
    let f = d
        .open_flow(b"out".to_vec(), None, FlowOptions::default())
        .unwrap();
    d.close_flow(f).unwrap();
    let opts = vec![
        Opt::new(user_data_option::METADATA, b"m".to_vec()),
        Opt::new(user_data_option::RETURN_FLOW_ASSOCIATION, vlu::to_vec(f)),
    ];
    let evs = receive(
        &mut d,
        T0,
        vec![ud(4, 1, 0, Fragmentation::Whole, Some(opts), b"x")],
    );
    assert_eq!(
        rejected(&evs),
        Some("return association names a sending flow not F_OPEN")
    );
    // While it is F_OPEN the same flow is accepted.
    let mut d2 = data();
    let f2 = d2
        .open_flow(b"out".to_vec(), None, FlowOptions::default())
        .unwrap();
    let opts2 = vec![
        Opt::new(user_data_option::METADATA, b"m".to_vec()),
        Opt::new(user_data_option::RETURN_FLOW_ASSOCIATION, vlu::to_vec(f2)),
    ];
    let evs2 = receive(
        &mut d2,
        T0,
        vec![ud(4, 1, 0, Fragmentation::Whole, Some(opts2), b"x")],
    );
    assert!(
        evs2.iter().any(
            |e| matches!(e, SessionEvent::FlowOpened { association: Some(a), .. } if *a == f2)
        )
    );
}

/// 3.6.3.2#1 and 2.3.11.1#2/#3: an unrecognised option below 0x2000 MUST reject the
/// flow; one at or above 0x2000 MUST be ignored.
#[test]
fn s3_6_3_2_1_unknown_options() {
    let mut d = data();
    let evs = receive(
        &mut d,
        T0,
        vec![ud(4, 1, 0, Fragmentation::Whole, meta(b"m"), b"x")],
    );
    assert!(
        evs.iter()
            .any(|e| matches!(e, SessionEvent::FlowOpened { .. }))
    );
    // Later chunk with an ignorable option: still fine.
    let ok = vec![Opt::new(0x2000, vec![1])];
    let evs = receive(
        &mut d,
        T0,
        vec![ud(4, 2, 0, Fragmentation::Whole, Some(ok), b"y")],
    );
    assert_eq!(rejected(&evs), None);
    assert!(
        evs.iter()
            .any(|e| matches!(e, SessionEvent::Message { data, .. } if data == b"y"))
    );
    // An unknown option below 0x2000 on an open flow: rejected.
    let bad = vec![Opt::new(0x1fff, vec![1])];
    let evs = receive(
        &mut d,
        T0,
        vec![ud(4, 3, 0, Fragmentation::Whole, Some(bad), b"z")],
    );
    assert_eq!(
        rejected(&evs),
        Some("unrecognised flow option below 0x2000")
    );
    assert!(
        !evs.iter()
            .any(|e| matches!(e, SessionEvent::Message { data, .. } if data == b"z"))
    );
    // And at startup.
    let mut d2 = data();
    let opts = vec![
        Opt::new(user_data_option::METADATA, b"m".to_vec()),
        Opt::new(0x05, vec![]),
    ];
    let evs = receive(
        &mut d2,
        T0,
        vec![ud(6, 1, 0, Fragmentation::Whole, Some(opts), b"x")],
    );
    assert_eq!(
        rejected(&evs),
        Some("unrecognised flow option below 0x2000")
    );
}

/// 3.6.3.3#1: partially received messages MUST NOT be delivered.
#[test]
fn s3_6_3_3_1_no_partial_delivery() {
    let mut d = data();
    let evs = receive(
        &mut d,
        T0,
        vec![
            ud(3, 1, 0, Fragmentation::Begin, meta(b"m"), b"he"),
            ud(3, 2, 0, Fragmentation::Middle, None, b"ll"),
        ],
    );
    assert!(
        !evs.iter()
            .any(|e| matches!(e, SessionEvent::Message { .. }))
    );
    let evs = receive(
        &mut d,
        T0,
        vec![ud(3, 3, 0, Fragmentation::End, None, b"o")],
    );
    assert!(
        evs.iter()
            .any(|e| matches!(e, SessionEvent::Message { data, .. } if data == b"hello"))
    );
}

// 3.6.3.5#1 (advertise at least one block): flow::recv s3_6_3_5_advertises_at_least_one_block.
// 3.6.2.11#1 (sender linger 130 s): flow::send s3_6_2_11_close_final_and_linger.

/// API guard for 3.6.2.1 (SHOULD NOT answer a non-RF_OPEN receiving flow) used by
/// the conformance suite: opening a return flow to a rejected flow fails.
#[test]
fn s3_6_2_1_no_return_flow_to_rejected_flow() {
    let mut d = data();
    receive(
        &mut d,
        T0,
        vec![ud(4, 1, 0, Fragmentation::Whole, None, b"x")],
    );
    assert_eq!(
        d.open_flow(b"r".to_vec(), Some(4), FlowOptions::default()),
        Err(FlowError::BadAssociation)
    );
}

#[allow(dead_code)]
fn unused(_: SessionHandle, _: Event) {}
