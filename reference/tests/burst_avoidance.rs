//! RFC 7016 §3.5.2.3 burst avoidance on the wire: a sender SHOULD NOT send more
//! than six packets containing user data between receiving acknowledgements
//! (the default), and the `burst_limit` liberty changes or lifts that limit;
//! the `burst_min_srtt` liberty lifts it on paths faster than 4.5 ms, as the
//! RFC author's stack does.
//!
//! The case is the RFC's own: a congestion window grown large, an application
//! that paused, then a large write.

use std::net::SocketAddr;
use std::time::Duration;

use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::sim::{Fate, LinkConfig, Network, Record};
use rtmfp::wire::Chunk;

mod common;
use common::sim::*;

/// The most packets with user data the client sent between two
/// acknowledgements arriving at it, from the network's records.
fn largest_burst(records: &[Record], client: SocketAddr) -> usize {
    // (time, 0 = an acknowledgement arrived, 1 = a data packet left): an
    // acknowledgement is handled before what it lets the client send.
    let mut events: Vec<(rtmfp::time::Instant, u8)> = Vec::new();
    for r in records {
        let cs = plain_chunks(&r.data);
        if r.src == client && cs.iter().any(|c| matches!(c, Chunk::UserData(_))) {
            events.push((r.sent, 1));
        }
        if r.dst == client
            && r.fate == Fate::Delivered
            && cs
                .iter()
                .any(|c| matches!(c, Chunk::BitmapAck(_) | Chunk::RangeAck(_)))
        {
            events.push((r.arrived.unwrap(), 0));
        }
    }
    events.sort();
    let (mut run, mut most) = (0, 0);
    for (_, kind) in events {
        if kind == 0 {
            run = 0;
        } else {
            run += 1;
            most = most.max(run);
        }
    }
    most
}

/// A client sends 1 MB to a server over a `delay_ms` (one way), 20 MB/s link
/// (its congestion window grows), waits until all of it is acknowledged, then
/// writes 512 KB at once: the window would let most of that go in one burst
/// (the case §3.5.2.3 is about). Returns the largest burst and the client's
/// retransmission timeouts.
fn transfer(delay_ms: u64, tune: impl Fn(&mut EndpointConfig)) -> (usize, u64) {
    let mut net = Network::new(7);
    net.set_default_link(LinkConfig {
        delay: Duration::from_millis(delay_ms),
        // Serialised packets: no two acknowledgements arrive at one instant.
        bandwidth: Some(20_000_000),
        ..Default::default()
    });
    let (ca, sa) = (addr("10.0.0.1:5000"), addr("10.0.0.2:1935"));
    let mut config = EndpointConfig {
        receive_buffer: 4 << 20,
        ..Default::default()
    };
    tune(&mut config);
    let client = plain_node(&mut net, "client", ca, 1, config.clone());
    let server = plain_node(&mut net, "server", sa, 2, config);
    let (h, _) = open(&mut net, &client, &server, sa, b"server");
    net.record();
    let start = net.now();
    let flow = client
        .borrow_mut()
        .open_flow(start, h, b"bulk".to_vec(), None, FlowOptions::default())
        .unwrap();
    for (messages, phase) in [(64, 1), (32, 2)] {
        let mut sent = 0;
        let done = net.run_while(start + Duration::from_secs(10 * phase), |net| {
            let now = net.now();
            let mut c = client.borrow_mut();
            while sent < messages && c.send(now, h, flow, &[7u8; 16384], None).is_ok() {
                sent += 1;
            }
            drop(c);
            drain(&server);
            let c = client.borrow();
            let f = c.session(h).unwrap().data().send_flow(flow).unwrap();
            sent == messages && f.queued() == 0
        });
        assert!(done, "phase {phase}: everything acknowledged");
    }
    let records = net.records.take().unwrap();
    let c = client.borrow();
    let s = c.session(h).unwrap();
    (largest_burst(&records, ca), s.data().stats.timeouts)
}

#[test]
fn at_most_six_data_packets_between_acknowledgements() {
    // The defaults, on a 20 ms round trip.
    let (burst, timeouts) = transfer(10, |_| {});
    assert_eq!(timeouts, 0, "no retransmission timeout reset the count");
    // After the pause the window allowed far more (burst_limit_liberty); six went.
    assert_eq!(burst, 6);
}

#[test]
fn burst_limit_liberty() {
    let (burst, timeouts) = transfer(10, |c| c.burst_limit = Some(3));
    assert_eq!(timeouts, 0);
    assert_eq!(burst, 3);
    let (burst, _) = transfer(10, |c| c.burst_limit = None);
    assert!(burst > 12, "with no limit the window decides: {burst}");
}

#[test]
fn burst_min_srtt_liberty() {
    // A 2 ms round trip is under the default 4.5 ms: the window decides.
    let (burst, timeouts) = transfer(1, |_| {});
    assert_eq!(timeouts, 0);
    assert!(
        burst > 12,
        "below the SRTT threshold the window decides: {burst}"
    );
    // With the threshold at zero the limit holds on that path too.
    let (burst, _) = transfer(1, |c| c.burst_min_srtt = Duration::ZERO);
    assert_eq!(burst, 6);
    // And a threshold above the path's 20 ms keeps it lifted there.
    let (burst, _) = transfer(10, |c| c.burst_min_srtt = Duration::from_millis(50));
    assert!(burst > 12, "{burst}");
}
