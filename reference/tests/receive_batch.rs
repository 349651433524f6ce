//! Datagrams that arrive together (one `recvmmsg` in the tokio driver) are
//! acknowledged together: between `Endpoint::begin_batch` and `end_batch` a
//! session flushes once, after the last of them, and that one acknowledgement
//! covers every packet of the batch (RFC 7016 §3.6.3.4.5: "as soon as is
//! practical"). Outside a batch the receiver acknowledges every second packet
//! with user data as it is processed (§3.6.3.4.1).

use std::sync::Arc;
use std::time::Duration;

use rtmfp::crypto::plain::PlainProfile;
use rtmfp::endpoint::Endpoint;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::time::Instant;
use rtmfp::wire::Chunk;

mod common;
use common::sim::{addr, plain_chunks};

/// The highest user data sequence number a datagram's acknowledgements
/// cover cumulatively, if it carries any.
fn cumulative_ack(datagram: &[u8]) -> Option<u64> {
    plain_chunks(datagram).iter().find_map(|c| match c {
        Chunk::BitmapAck(a) => Some(a.cumulative_ack),
        Chunk::RangeAck(a) => Some(a.cumulative_ack),
        _ => None,
    })
}

/// The highest sequence number among a datagram's User Data and Next User
/// Data chunks (§2.3.12: each Next User Data is the previous one's plus one).
fn last_sequence_number(datagram: &[u8]) -> Option<u64> {
    let mut last = None;
    for c in plain_chunks(datagram) {
        match c {
            Chunk::UserData(u) => last = Some(u.sequence_number),
            Chunk::NextUserData(_) => last = last.map(|n| n + 1),
            _ => {}
        }
    }
    last
}

const CLIENT: &str = "10.0.0.1:5000";
const SERVER: &str = "10.0.0.2:1935";

/// A client and a server back to back with a session and a flow whose
/// congestion window has grown: the server, the time, and eight of the
/// client's data datagrams not yet delivered.
fn eight_data_datagrams() -> (Endpoint, Instant, Vec<Vec<u8>>) {
    let (ca, sa) = (addr(CLIENT), addr(SERVER));
    let config = EndpointConfig {
        receive_buffer: 1 << 20,
        ..Default::default()
    };
    let mut c = Endpoint::new(config.clone(), Arc::new(PlainProfile::new("client")), 1);
    let mut s = Endpoint::new(config, Arc::new(PlainProfile::new("server")), 2);
    c.set_local_addresses(vec![ca]);
    s.set_local_addresses(vec![sa]);
    let mut now = Instant::ZERO;
    // One exchange: each of the client's datagrams and what the server
    // answered, then the server's own (a delayed acknowledgement), then time.
    let step = |c: &mut Endpoint, s: &mut Endpoint, now: &mut Instant| {
        while let Some(t) = c.poll_transmit() {
            s.handle_datagram(*now, sa, ca, &t.data);
            while let Some(t) = s.poll_transmit() {
                c.handle_datagram(*now, ca, sa, &t.data);
            }
            while s.poll_event().is_some() {}
        }
        while let Some(t) = s.poll_transmit() {
            c.handle_datagram(*now, ca, sa, &t.data);
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
    // Grow the window: 256 KB sent and acknowledged.
    let message = vec![7u8; 16384];
    for _ in 0..16 {
        c.send(now, h, flow, &message, None).unwrap();
    }
    let queued = |c: &Endpoint| {
        c.session(h)
            .unwrap()
            .data()
            .send_flow(flow)
            .unwrap()
            .queued()
    };
    for _ in 0..5000 {
        if queued(&c) == 0 {
            break;
        }
        step(&mut c, &mut s, &mut now);
    }
    assert_eq!(queued(&c), 0, "the warm-up was acknowledged");
    assert_eq!(c.session(h).unwrap().data().stats.timeouts, 0);
    for _ in 0..4 {
        c.send(now, h, flow, &message, None).unwrap();
    }
    let mut data = Vec::new();
    while let Some(t) = c.poll_transmit() {
        if last_sequence_number(&t.data).is_some() {
            data.push(t.data);
        }
    }
    assert!(data.len() >= 8, "the window lets 8 go: {}", data.len());
    data.truncate(8);
    (s, now, data)
}

#[test]
fn one_at_a_time_every_second_packet_is_acknowledged() {
    let (mut s, now, data) = eight_data_datagrams();
    let (ca, sa) = (addr(CLIENT), addr(SERVER));
    let mut acks = 0;
    for d in &data {
        s.handle_datagram(now, sa, ca, d);
        while let Some(t) = s.poll_transmit() {
            acks += usize::from(cumulative_ack(&t.data).is_some());
        }
    }
    assert_eq!(
        acks, 4,
        "§3.6.3.4.1: an acknowledgement every second packet"
    );
}

#[test]
fn a_batch_is_acknowledged_once_after_its_last_datagram() {
    let (mut s, now, data) = eight_data_datagrams();
    let (ca, sa) = (addr(CLIENT), addr(SERVER));
    let last = last_sequence_number(data.last().unwrap()).unwrap();
    s.begin_batch();
    for d in &data {
        s.handle_datagram(now, sa, ca, d);
    }
    let mut before_end = 0;
    while s.poll_transmit().is_some() {
        before_end += 1;
    }
    assert_eq!(before_end, 0, "nothing is sent before the batch ends");
    s.end_batch(now);
    let mut acks = Vec::new();
    while let Some(t) = s.poll_transmit() {
        acks.extend(cumulative_ack(&t.data));
    }
    assert_eq!(acks, [last], "one acknowledgement, of the whole batch");
}
