//! Issue 15 over the simulator: hostile session peers cannot make an endpoint
//! (serving the echo of `rtmfp serve`) hold more than its per-session limit,
//! a legitimate peer on another session is served meanwhile, and once the
//! hostile sessions are gone the endpoint holds what it held before.
//!
//! - out of order: 200 flows, each sent everything but its first fragment, so
//!   nothing can ever be delivered (RFC 7016 §3.6.3.5: the receiver holds no
//!   more than it advertised);
//! - never acknowledging: a peer that sends in order on many flows but never
//!   acknowledges the echoes (the return flows' send buffers fill, the echo stops
//!   consuming, the windows close).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::sim::*;
use rtmfp::app::Echo;
use rtmfp::endpoint::{Crafted, Event, SessionHandle};
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::sim::Network;
use rtmfp::stats::DropReason;
use rtmfp::time::Instant;
use rtmfp::wire::{Chunk, Fragmentation, Opt, user_data_option};

/// The server's per-session limit in these tests.
const SESSION_LIMIT: usize = 2 << 20;
/// What a flow costs beyond the bytes it buffers (its state, its echo's
/// return flow), generously.
const PER_FLOW: usize = 4096;

fn server_config() -> EndpointConfig {
    let mut c = EndpointConfig::default();
    c.limits.max_session_buffer = SESSION_LIMIT;
    c
}

/// The server side of `rtmfp serve --echo`: events go to the echo.
fn serve(server: &Ep, echo: &mut Echo, now: Instant) {
    loop {
        let ev = server.borrow_mut().poll_event();
        match ev {
            None => break,
            Some(Event::Session { session, event }) => {
                echo.on_event(&mut server.borrow_mut(), now, session, event)
            }
            Some(Event::SessionClosed { session, .. }) => echo.forget_session(session),
            Some(_) => {}
        }
    }
}

/// What the server holds for one session.
fn held_for(server: &Ep, h: SessionHandle) -> usize {
    server.borrow().session(h).map_or(0, |s| s.state_size())
}

fn user_data(flow: u64, seq: u64, fsn: u64, fra: Fragmentation, first: bool) -> Chunk {
    let metadata = first.then(|| vec![Opt::new(user_data_option::METADATA, b"hostile".to_vec())]);
    user_data_chunk(flow, seq, fsn, fra, metadata, &[0x5a; 1000])
}

/// The hostile client sends `chunk` in its session (a crafted packet).
fn send_in(hostile: &Ep, hh: SessionHandle, now: Instant, chunk: Chunk) {
    let c = Crafted {
        session: Some(hh),
        chunks: vec![chunk],
        ..Default::default()
    };
    hostile.borrow_mut().send_crafted(now, None, c).unwrap();
}

/// Runs the network for `d`, the server echoing, the legitimate client sending
/// its 200 messages.
fn run_serving(net: &mut Network, server: &Ep, echo: &mut Echo, legit: &mut Legit, d: Duration) {
    let t = net.now() + d;
    net.run_while(t, |n| {
        let now = n.now();
        serve(server, echo, now);
        legit.step(now, 200);
        false
    });
}

/// A legitimate client's transfer through the echo: `n` messages on one flow,
/// counting what came back.
struct Legit {
    client: Ep,
    h: SessionHandle,
    flow: u64,
    sent: u32,
    echoed: Vec<Vec<u8>>,
}

impl Legit {
    /// Runs until all 200 echoes are back (30 s at most); checks them.
    fn finish(&mut self, net: &mut Network, server: &Ep, echo: &mut Echo) {
        let limit = net.now() + Duration::from_secs(30);
        net.run_while(limit, |n| {
            let now = n.now();
            serve(server, echo, now);
            self.step(now, 200);
            self.echoed.len() == 200
        });
        assert_eq!(self.echoed.len(), 200);
        let expected = |i: usize| vec![(i % 251) as u8; 5000];
        assert!(
            self.echoed
                .iter()
                .enumerate()
                .all(|(i, m)| *m == expected(i))
        );
    }

    fn step(&mut self, now: Instant, n: u32) {
        let mut c = self.client.borrow_mut();
        while self.sent < n {
            let m = vec![(self.sent % 251) as u8; 5000];
            match c.send(now, self.h, self.flow, &m, None) {
                Ok(_) => self.sent += 1,
                Err(_) => break,
            }
        }
        while let Some(e) = c.poll_event() {
            if let Event::Session {
                event: SessionEvent::Message { data, .. },
                ..
            } = e
            {
                self.echoed.push(data);
            }
        }
    }
}

/// Opens the server, the legitimate client (with its flow) and a hostile
/// client (test hooks: crafted packets in its session).
fn setup(net: &mut Network) -> (Ep, Legit, Ep, SessionHandle, SessionHandle) {
    let sa = addr("10.0.0.1:1935");
    let server = endpoint(net, flash(true, 1, None), sa, 1, server_config());
    let client = flash_node(net, false, 2, addr("10.0.0.2:5000"));
    let hostile = flash_node(net, false, 3, addr("10.0.0.3:5000"));
    let (h, _) = open(net, &client, &server, sa, ANY_SERVER);
    let (hh, hs) = open(net, &hostile, &server, sa, ANY_SERVER);
    let now = net.now();
    let flow = client
        .borrow_mut()
        .open_flow(now, h, b"legit".to_vec(), None, FlowOptions::default())
        .unwrap();
    let legit = Legit {
        client,
        h,
        flow,
        sent: 0,
        echoed: Vec::new(),
    };
    (server, legit, hostile, hh, hs)
}

#[test]
fn out_of_order_data_on_200_flows_is_held_within_the_session_limit() {
    let mut net = Network::new(15);
    let (server, mut legit, hostile, hh, hs) = setup(&mut net);
    let mut echo = Echo::new(false);
    serve(&server, &mut echo, net.now());
    let idle = server.borrow().state_size();
    let idle_hostile = held_for(&server, hs);

    // 200 flows × 40 fragments of 1000 bytes (8 MB), sequence numbers 2..=41:
    // the first fragment (a Begin) is never sent, so nothing can be delivered.
    let mut peak = 0;
    for round in 0..40u64 {
        for flow in 1..=200u64 {
            let chunk = user_data(flow, round + 2, 0, Fragmentation::Middle, round == 0);
            send_in(&hostile, hh, net.now(), chunk);
        }
        let d = Duration::from_millis(50);
        run_serving(&mut net, &server, &mut echo, &mut legit, d);
        peak = peak.max(held_for(&server, hs));
    }
    let s = server.borrow();
    eprintln!(
        "hostile session: idle {idle_hostile} B, peak {peak} B (limit {SESSION_LIMIT}); drops {:?}",
        s.stats.drops
    );
    let hostile_data = s.session(hs).unwrap().data();
    assert_eq!(hostile_data.recv_flows().count(), 200);
    assert!(hostile_data.recv_held() <= SESSION_LIMIT);
    assert!(
        peak <= idle_hostile + SESSION_LIMIT + 200 * PER_FLOW,
        "the hostile session made the server hold {peak} bytes"
    );
    // What did not fit was dropped, unacknowledged (§3.6.3.5).
    assert!(s.stats.dropped(DropReason::SessionBufferLimit) > 1000);
    let acked_beyond = hostile_data
        .recv_flows()
        .map(|f| f.sequence_set().iter().map(|(a, b)| b - a + 1).sum::<u64>())
        .sum::<u64>();
    assert!(
        (acked_beyond as usize - 200) * 1000 <= SESSION_LIMIT,
        "{acked_beyond} sequence numbers acknowledged"
    );
    drop(s);

    // The legitimate peer was served meanwhile: all 200 echoes came back.
    legit.finish(&mut net, &server, &mut echo);

    // The hostile session closes: the server holds what it held before it.
    hostile.borrow_mut().close(net.now(), hh, true);
    let limit = net.now() + Duration::from_secs(150);
    net.run_while(limit, |n| {
        serve(&server, &mut echo, n.now());
        false
    });
    let after = server.borrow().state_size();
    eprintln!("server state: idle {idle} B, after the hostile session closed {after} B");
    assert!(server.borrow().session(hs).is_none());
    assert!(after <= idle, "{after} > {idle}");
}

#[test]
fn a_peer_that_never_acknowledges_the_echoes_is_held_within_the_session_limit() {
    let mut net = Network::new(16);
    let (server, mut legit, hostile, hh, hs) = setup(&mut net);
    let ha: SocketAddr = addr("10.0.0.3:5000");
    // Nothing the server sends reaches the hostile peer: it never acknowledges.
    net.add_hook(Box::new(move |_, d| d.dst != ha));
    let mut echo = Echo::new(false);
    serve(&server, &mut echo, net.now());
    let idle = server.borrow().state_size();
    let idle_hostile = held_for(&server, hs);

    // 50 flows × 200 whole messages of 1000 bytes, in order (10 MB): each is
    // delivered and echoed, and no echo is ever acknowledged.
    let mut next: BTreeMap<u64, u64> = BTreeMap::new();
    let mut peak = 0;
    let mut peak_pending = 0;
    for _round in 0..200 {
        for flow in 1..=50u64 {
            let seq = next.entry(flow).or_insert(1);
            let chunk = user_data(flow, *seq, *seq - 1, Fragmentation::Whole, *seq == 1);
            send_in(&hostile, hh, net.now(), chunk);
            *seq += 1;
        }
        let d = Duration::from_millis(20);
        run_serving(&mut net, &server, &mut echo, &mut legit, d);
        peak = peak.max(held_for(&server, hs));
        peak_pending = peak_pending.max(echo.pending_bytes());
    }
    let s = server.borrow();
    eprintln!(
        "never-acking session: idle {idle_hostile} B, peak {peak} B (limit {SESSION_LIMIT}), echo pending at most {peak_pending} B, {} stalls; drops {:?}",
        echo.stalls, s.stats.drops
    );
    assert!(echo.stalls > 0, "the echo stopped consuming");
    assert!(
        peak <= idle_hostile + SESSION_LIMIT + 50 * PER_FLOW + 64 * 1024,
        "the hostile session made the server hold {peak} bytes"
    );
    // The echo keeps what it took before its flows were suspended: within one
    // receive window per flow, and in fact within the session limit.
    assert!(peak_pending <= SESSION_LIMIT, "{peak_pending}");
    drop(s);

    // The legitimate peer was served meanwhile.
    legit.finish(&mut net, &server, &mut echo);

    // The hostile peer goes silent: the server declares it dead (§3.5.4.1,
    // its echoes unacknowledged) and holds what it held before.
    let limit = net.now() + Duration::from_secs(200);
    net.run_while(limit, |n| {
        serve(&server, &mut echo, n.now());
        false
    });
    assert!(
        server.borrow().session(hs).is_none(),
        "hostile session gone"
    );
    assert_eq!(echo.pending_bytes(), 0);
    let after = server.borrow().state_size();
    eprintln!("server state: idle {idle} B, after the hostile session died {after} B");
    assert!(after <= idle, "{after} > {idle}");
}

/// Flows beyond `max_flows_per_session` are rejected with a Flow Exception
/// (§3.6.3.7), and counted.
#[test]
fn flows_beyond_the_limit_are_rejected_with_a_flow_exception() {
    let mut net = Network::new(17);
    net.record();
    let (server, _legit, hostile, hh, hs) = setup(&mut net);
    server
        .borrow_mut()
        .config_mut()
        .limits
        .max_flows_per_session = 10;
    // The limit is copied into a session when it opens: reopen the hostile one.
    let _ = hs;
    let sa = addr("10.0.0.1:1935");
    hostile.borrow_mut().close(net.now(), hh, true);
    net.run_until(net.now() + Duration::from_secs(1));
    let (hh, _) = open(&mut net, &hostile, &server, sa, ANY_SERVER);
    let mut echo = Echo::new(true);
    for flow in 1..=20u64 {
        let chunk = user_data(flow, 1, 0, Fragmentation::Whole, true);
        send_in(&hostile, hh, net.now(), chunk);
    }
    let mut opened = 0;
    let mut rejected = 0;
    let t = net.now() + Duration::from_secs(1);
    net.run_while(t, |n| {
        let now = n.now();
        loop {
            let ev = server.borrow_mut().poll_event();
            let Some(ev) = ev else { break };
            if let Event::Session { session, event } = ev {
                match &event {
                    SessionEvent::FlowOpened { .. } => opened += 1,
                    SessionEvent::FlowRejected { .. } => rejected += 1,
                    _ => {}
                }
                echo.on_event(&mut server.borrow_mut(), now, session, event);
            }
        }
        false
    });
    assert_eq!((opened, rejected), (10, 10));
    assert_eq!(
        server.borrow().stats.dropped(DropReason::FlowLimit),
        10,
        "counted"
    );
    // The hostile client got a Flow Exception Report for each rejected flow.
    let ha = addr("10.0.0.3:5000");
    let mut excepted = std::collections::BTreeSet::new();
    for r in net.records.as_ref().unwrap().iter().filter(|r| r.dst == ha) {
        if let Some(p) = hostile.borrow().peek(&r.data, false) {
            for c in p.chunks {
                if let Chunk::FlowExceptionReport(e) = c {
                    excepted.insert(e.flow_id);
                }
            }
        }
    }
    assert_eq!(excepted, (11..=20).collect());
}
