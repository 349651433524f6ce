//! RFC 7016 §2.2.4 TCR: an endpoint SHOULD set the Time Critical Reverse flag
//! on a session's packets while it is receiving time-critical data on *other*
//! sessions (recently: within 800 ms, §3.5.2.1). A server with two clients:
//! client A sends time-critical data; the server's packets to client B carry
//! TCR, those to A do not, and none do once the window has passed.

use std::time::Duration;

use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::sim::{Fate, LinkConfig, Network};
use rtmfp::wire::{Packet, multiplex};

mod common;
use common::sim::*;

/// The header of a plain-profile session datagram (packet ‖ 16 × 0xff ‖ checksum).
fn tcr(datagram: &[u8]) -> Option<bool> {
    let (sid, encrypted) = multiplex::demux(datagram).ok()?;
    if sid == 0 {
        return None;
    }
    let packet = &encrypted[..encrypted.len().checked_sub(18)?];
    Packet::parse(packet)
        .ok()
        .map(|p| p.header.time_critical_reverse)
}

#[test]
fn tcr_on_other_sessions_while_time_critical_data_arrives() {
    let mut net = Network::new(3);
    net.set_default_link(LinkConfig {
        delay: Duration::from_millis(5),
        ..Default::default()
    });
    let (aa, ba, sa) = (
        addr("10.0.0.1:5000"),
        addr("10.0.0.3:5000"),
        addr("10.0.0.2:1935"),
    );
    let config = EndpointConfig::default();
    let a = plain_node(&mut net, "a", aa, 1, config.clone());
    let b = plain_node(&mut net, "b", ba, 2, config.clone());
    let server = plain_node(&mut net, "server", sa, 3, config);
    let (ha, _) = open(&mut net, &a, &server, sa, b"server");
    let (hb, _) = open(&mut net, &b, &server, sa, b"server");
    let now = net.now();
    let tc = FlowOptions {
        time_critical: true,
        ..FlowOptions::default()
    };
    let fa = a
        .borrow_mut()
        .open_flow(now, ha, b"tc".to_vec(), None, tc)
        .unwrap();
    let fb = b
        .borrow_mut()
        .open_flow(now, hb, b"bulk".to_vec(), None, FlowOptions::default())
        .unwrap();
    net.record();
    // 300 ms of both clients sending; the server acknowledges both.
    for i in 0..30 {
        let now = net.now();
        a.borrow_mut().send(now, ha, fa, &[i; 500], None).unwrap();
        b.borrow_mut().send(now, hb, fb, &[i; 500], None).unwrap();
        net.run_until(now + Duration::from_millis(10));
        drain(&server);
    }
    let during = net.records.take().unwrap();
    // Then only B sends, for two seconds: A's time-critical data is old news.
    net.record();
    for i in 0..200 {
        let now = net.now();
        b.borrow_mut().send(now, hb, fb, &[i; 500], None).unwrap();
        net.run_until(now + Duration::from_millis(10));
        drain(&server);
    }
    let after = net.records.take().unwrap();
    let from_server_to = |records: &[rtmfp::sim::Record], to, since: Duration| {
        let t0 = records.first().map(|r| r.sent).unwrap();
        records
            .iter()
            .filter(|r| r.src == sa && r.dst == to && r.fate == Fate::Delivered)
            .filter(|r| r.sent - t0 >= since)
            .filter_map(|r| tcr(&r.data))
            .collect::<Vec<bool>>()
    };
    // While A's time-critical data arrives (after its first packet reached
    // the server), every packet to B says TCR and none to A does.
    let to_b = from_server_to(&during, ba, Duration::from_millis(50));
    let to_a = from_server_to(&during, aa, Duration::ZERO);
    assert!(to_b.len() > 10 && to_b.iter().all(|&t| t), "to B: {to_b:?}");
    assert!(
        !to_a.is_empty() && to_a.iter().all(|&t| !t),
        "to A: {to_a:?}"
    );
    // 800 ms after the last of it, TCR is gone.
    let to_b = from_server_to(&after, ba, Duration::from_millis(1000));
    assert!(
        to_b.len() > 10 && to_b.iter().all(|&t| !t),
        "to B later: {to_b:?}"
    );
}
