//! RFC 7016 §3.5.3-§3.5.5 over the simulated network: address mobility with its
//! check, keepalive, orderly and abrupt close with the lingering states.

use std::net::SocketAddr;
use std::time::Duration;

use rtmfp::endpoint::{Event, SessionHandle, State};
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::sim::Network;
use rtmfp::time::Instant;
use rtmfp::wire::{Chunk, Packet, multiplex};

mod common;
use common::sim::*;

struct Pair {
    net: Network,
    client: Ep,
    server: Ep,
    ch: SessionHandle,
    sh: SessionHandle,
    ca: SocketAddr,
    sa: SocketAddr,
}

fn pair(config: EndpointConfig) -> Pair {
    let mut net = Network::new(5);
    net.record();
    let (ca, sa) = (addr("10.0.0.1:5000"), addr("10.0.0.2:1935"));
    let client = plain_node(&mut net, "client", ca, 1, config.clone());
    let server = plain_node(&mut net, "server", sa, 2, config);
    let ch = client
        .borrow_mut()
        .connect(Instant::ZERO, b"server".to_vec(), &[sa]);
    net.run_until(Instant::from_millis(200));
    let sh = drain(&server)
        .into_iter()
        .find_map(|e| match e {
            Event::SessionOpened { session, .. } => Some(session),
            _ => None,
        })
        .unwrap();
    drain(&client);
    Pair {
        net,
        client,
        server,
        ch,
        sh,
        ca,
        sa,
    }
}

/// Chunk types of the recorded datagrams from `src`, decoded with the plain profile.
fn chunks_from(net: &Network, src: SocketAddr) -> Vec<(Instant, u8)> {
    let mut out = Vec::new();
    for r in net
        .records
        .as_ref()
        .unwrap()
        .iter()
        .filter(|r| r.src == src)
    {
        let (_, enc) = multiplex::demux(&r.data).unwrap();
        if let Ok(p) = Packet::parse(&enc[..enc.len() - 18]) {
            out.extend(p.chunks.iter().map(|c| (r.sent, c.chunk_type())));
        }
    }
    out
}

/// §3.5.3 / §3.5.4.2: after a NAT rebinding the responder verifies the new address
/// with a mobility Ping before moving DESTADDR, and data keeps flowing.
#[test]
fn s3_5_4_2_address_change_verified_then_adopted() {
    let mut p = pair(EndpointConfig::default());
    let now = p.net.now();
    let f = p
        .client
        .borrow_mut()
        .open_flow(now, p.ch, b"m".to_vec(), None, FlowOptions::default())
        .unwrap();
    for _ in 0..50 {
        p.client
            .borrow_mut()
            .send(now, p.ch, f, &[1; 2000], None)
            .unwrap();
    }
    p.net.run_until(now + Duration::from_millis(30));
    let moved = addr("192.0.2.7:40000");
    p.net.rebind(p.ca, moved);
    p.client
        .borrow_mut()
        .close_flow(p.net.now(), p.ch, f)
        .unwrap();
    let mut got = 0;
    let mut complete = false;
    let mut changed = None;
    let limit = p.net.now() + Duration::from_secs(10);
    p.net.run_while(limit, |_| {
        for ev in drain(&p.server) {
            match ev {
                Event::AddressChanged { address, .. } => changed = Some(address),
                Event::Session {
                    event: SessionEvent::Message { .. },
                    ..
                } => got += 1,
                Event::Session {
                    event: SessionEvent::FlowComplete { .. },
                    ..
                } => complete = true,
                _ => {}
            }
        }
        complete
    });
    assert_eq!(changed, Some(moved));
    assert_eq!(got, 50);
    assert_eq!(p.server.borrow().session(p.sh).unwrap().dest(), moved);
    // The mobility check: a Ping whose message starts with 'M', sent to the new
    // address, answered from it.
    let to_new: Vec<_> = p
        .net
        .records
        .as_ref()
        .unwrap()
        .iter()
        .filter(|r| r.dst == moved)
        .collect();
    assert!(!to_new.is_empty());
    let pings = chunks_from(&p.net, p.sa)
        .iter()
        .filter(|c| c.1 == 0x01)
        .count();
    assert!(pings >= 1);
}

/// §3.5.5 orderly close: S_NEARCLOSE sends Close; the far end answers Close Ack
/// and lingers 19 s in S_FARCLOSE_LINGER; the near end closes on the Close Ack.
#[test]
fn s3_5_5_orderly_close_and_farclose_linger() {
    let mut p = pair(EndpointConfig::default());
    let t = p.net.now();
    p.client.borrow_mut().close(t, p.ch, false);
    assert_eq!(
        p.client.borrow().session(p.ch).unwrap().state(),
        State::S_NEARCLOSE
    );
    p.net.run_until(t + Duration::from_millis(100));
    assert!(
        p.client.borrow().session(p.ch).is_none(),
        "closed on the Close Ack"
    );
    assert!(
        drain(&p.client)
            .iter()
            .any(|e| matches!(e, Event::SessionClosed { .. }))
    );
    assert_eq!(
        p.server.borrow().session(p.sh).unwrap().state(),
        State::S_FARCLOSE_LINGER
    );
    p.net.run_until(t + Duration::from_millis(18_900));
    assert!(
        p.server.borrow().session(p.sh).is_some(),
        "still lingering at 18.9 s"
    );
    p.net.run_until(t + Duration::from_millis(19_200));
    assert!(
        p.server.borrow().session(p.sh).is_none(),
        "closed after 19 s"
    );
    let close = chunks_from(&p.net, p.ca)
        .iter()
        .filter(|c| c.1 == 0x0c)
        .count();
    let acks = chunks_from(&p.net, p.sa)
        .iter()
        .filter(|c| c.1 == 0x4c)
        .count();
    assert_eq!((close, acks), (1, 1));
}

/// §3.5.5: in S_NEARCLOSE without an answer, Close is resent every 5 s and the
/// session closes after 90 s.
#[test]
fn s3_5_5_nearclose_retransmits_and_gives_up() {
    let mut p = pair(EndpointConfig::default());
    let sa = p.sa;
    p.net.add_hook(Box::new(move |_, d| d.src != sa));
    let t = p.net.now();
    p.client.borrow_mut().close(t, p.ch, false);
    p.net.run_until(t + Duration::from_secs(89));
    assert!(p.client.borrow().session(p.ch).is_some());
    p.net.run_until(t + Duration::from_secs(91));
    assert!(p.client.borrow().session(p.ch).is_none());
    let closes: Vec<Instant> = chunks_from(&p.net, p.ca)
        .iter()
        .filter(|c| c.1 == 0x0c)
        .map(|c| c.0)
        .collect();
    assert_eq!(closes.len(), 18, "at 0, 5, ..., 85 s");
    for w in closes.windows(2) {
        assert_eq!(w[1] - w[0], Duration::from_secs(5));
    }
}

/// §3.5.5 abrupt close: one Close Ack, S_CLOSED at once; the far end closes on it.
#[test]
fn s3_5_5_abrupt_close() {
    let mut p = pair(EndpointConfig::default());
    let t = p.net.now();
    p.client.borrow_mut().close(t, p.ch, true);
    assert!(p.client.borrow().session(p.ch).is_none());
    p.net.run_until(t + Duration::from_millis(100));
    assert!(p.server.borrow().session(p.sh).is_none());
    assert_eq!(
        chunks_from(&p.net, p.ca)
            .iter()
            .filter(|c| c.1 == 0x4c)
            .count(),
        1
    );
}

/// §3.5.4.1 keepalive: an idle session pings (empty message) and stays open; when
/// the far end disappears the session is declared dead after the retransmit limit.
#[test]
fn s3_5_4_1_keepalive_and_dead_peer() {
    let config = EndpointConfig {
        keepalive: Duration::from_secs(10),
        retransmit_limit: Duration::from_secs(30),
        ..Default::default()
    };
    let mut p = pair(config);
    let t = p.net.now();
    p.net.run_until(t + Duration::from_secs(60));
    assert_eq!(
        p.client.borrow().session(p.ch).unwrap().state(),
        State::S_OPEN
    );
    let pings: Vec<_> = chunks_from(&p.net, p.ca)
        .into_iter()
        .filter(|c| c.1 == 0x01)
        .collect();
    assert!(
        (5..=7).contains(&pings.len()),
        "about one keepalive per 10 s: {}",
        pings.len()
    );
    // §3.5.4.1: the responder waits longer, so only the initiator pings.
    assert!(chunks_from(&p.net, p.sa).iter().all(|c| c.1 != 0x01));
    // Now the server vanishes.
    let sa = p.sa;
    p.net
        .add_hook(Box::new(move |_, d| d.src != sa && d.dst != sa));
    let gone = p.net.now();
    p.net.run_until(gone + Duration::from_secs(60));
    assert!(p.client.borrow().session(p.ch).is_none(), "declared dead");
    let reason = drain(&p.client).into_iter().find_map(|e| match e {
        Event::SessionClosed { reason, .. } => Some(reason),
        _ => None,
    });
    assert!(reason.unwrap().contains("stopped answering"));
    let _ = Chunk::Close;
}

/// Test tools (`tap`): the keys of a closed session stay usable for crafted
/// packets, and what arrives for it is shown but not acted on; without `tap`
/// a closed session is gone.
#[cfg(feature = "test-hooks")]
#[test]
fn tapping_endpoint_keeps_closed_sessions_for_crafting() {
    for tap in [false, true] {
        let mut p = pair(EndpointConfig {
            tap,
            ..EndpointConfig::default()
        });
        let t = p.net.now();
        p.client.borrow_mut().close(t, p.ch, false);
        p.net.run_until(t + Duration::from_millis(100));
        assert!(p.client.borrow().session(p.ch).is_none());
        drain(&p.client);
        let crafted = rtmfp::endpoint::Crafted {
            session: Some(p.ch),
            chunks: vec![Chunk::Close],
            ..Default::default()
        };
        let now = p.net.now();
        let sent = p.client.borrow_mut().send_crafted(now, None, crafted);
        assert_eq!(sent.is_ok(), tap, "{sent:?}");
        if tap {
            // The server, in S_FARCLOSE_LINGER, answers the Close with a Close
            // Ack; the client taps it without reopening or processing anything.
            p.net.run_until(now + Duration::from_millis(100));
            let evs = drain(&p.client);
            assert!(
                evs.iter().any(|e| matches!(e, Event::Packet { .. })),
                "{evs:?}"
            );
            assert!(
                !evs.iter().any(|e| matches!(
                    e,
                    Event::SessionOpened { .. } | Event::SessionClosed { .. }
                )),
                "{evs:?}"
            );
            assert!(p.client.borrow().session(p.ch).is_none());
        }
    }
}
