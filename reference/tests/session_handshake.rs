//! RFC 7016 §3.5.1 session startup over the simulated network: normal handshake,
//! redirector, forwarder, cookie change, glare, open timeout, stateless responder.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::endpoint::{Endpoint, Event, Role, State};
use rtmfp::session::config::{EndpointConfig, RedirectRule};
use rtmfp::sim::Network;
use rtmfp::time::Instant;

mod common;
use common::sim::*;

#[test]
fn s3_5_1_1_normal_handshake_flash_and_key_logs_agree() {
    let mut net = Network::new(1);
    net.record();
    let (ca, sa) = (addr("10.0.0.1:5000"), addr("10.0.0.2:1935"));
    let client = endpoint(
        &mut net,
        flash(false, 1, None),
        ca,
        11,
        EndpointConfig::default(),
    );
    let server = endpoint(
        &mut net,
        flash(true, 2, None),
        sa,
        12,
        EndpointConfig::default(),
    );
    let h = client
        .borrow_mut()
        .connect(Instant::ZERO, ANY_SERVER.to_vec(), &[sa]);
    net.run_until(Instant::from_millis(1000));
    let ce = drain(&client);
    let se = drain(&server);
    assert_eq!(opened(&ce), [(Role::Initiator, sa)]);
    assert_eq!(opened(&se), [(Role::Responder, ca)]);
    assert_eq!(client.borrow().session(h).unwrap().state(), State::S_OPEN);
    // Both ends log the same facts about the shared session.
    let kl = |evs: &[Event]| {
        evs.iter()
            .find_map(|e| match e {
                Event::KeyLog {
                    facts,
                    initiator,
                    responder,
                } => Some((*initiator, *responder, facts.clone())),
                _ => None,
            })
            .unwrap()
    };
    let (ci, cr, cf) = kl(&ce);
    let (si, sr, sf) = kl(&se);
    assert_eq!((ci, cr), (ca, sa));
    assert_eq!((si, sr), (ca, sa));
    for name in [
        "initiator_session_id",
        "responder_session_id",
        "dh_shared_secret",
        "initiator_encrypt_key",
        "responder_encrypt_key",
        "initiator_nonce",
        "responder_nonce",
        "initiator_far_epd",
        "responder_far_epd",
    ] {
        let get =
            |f: &Vec<(String, String)>| f.iter().find(|(n, _)| n == name).map(|x| x.1.clone());
        assert!(get(&cf).is_some(), "{name}");
        assert_eq!(get(&cf), get(&sf), "{name}");
    }
    // Four startup packets, then nothing in mode 3.
    let recs = net.records.as_ref().unwrap();
    assert_eq!(recs.len(), 4, "IHello, RHello, IIKeying, RIKeying");
}

#[test]
fn s3_5_1_1_normal_handshake_plain() {
    let mut net = Network::new(2);
    let (ca, sa) = (addr("10.0.0.1:5000"), addr("10.0.0.2:1935"));
    let client = plain_node(&mut net, "client", ca, 1, EndpointConfig::default());
    let server = plain_node(&mut net, "server", sa, 2, EndpointConfig::default());
    client
        .borrow_mut()
        .connect(Instant::ZERO, b"server".to_vec(), &[sa]);
    net.run_until(Instant::from_millis(1000));
    assert_eq!(opened(&drain(&client)), [(Role::Initiator, sa)]);
    assert_eq!(opened(&drain(&server)), [(Role::Responder, ca)]);
}

#[test]
fn s3_5_1_1_1_ihello_retransmits_and_open_timeout() {
    let mut net = Network::new(3);
    net.record();
    let ca = addr("10.0.0.1:5000");
    let client = flash_node(&mut net, false, 1, ca);
    let h =
        client
            .borrow_mut()
            .connect(Instant::ZERO, ANY_SERVER.to_vec(), &[addr("10.0.0.9:1935")]);
    net.run_until(Instant::from_millis(100_000));
    let evs = drain(&client);
    assert!(
        evs.iter().any(|e| matches!(e, Event::SessionOpenFailed { session, reason } if *session == h && reason.contains("timeout"))),
        "{evs:?}"
    );
    let sends: Vec<Instant> = net
        .records
        .as_ref()
        .unwrap()
        .iter()
        .map(|r| r.sent)
        .collect();
    // Backoff: each interval at least 1.5 s longer than the previous one.
    for w in sends.windows(3) {
        assert!(
            (w[2] - w[1]) >= (w[1] - w[0]) + Duration::from_millis(1500),
            "{sends:?}"
        );
    }
    assert!(sends.len() >= 5 && sends.len() < 20, "{}", sends.len());
    assert!(*sends.last().unwrap() < Instant::from_millis(95_000));
}

#[test]
fn s3_5_1_4_redirector() {
    let mut net = Network::new(4);
    let (ca, ra, sa) = (
        addr("10.0.0.1:5000"),
        addr("10.0.0.3:1935"),
        addr("10.0.0.2:1936"),
    );
    let client = flash_node(&mut net, false, 1, ca);
    let redirector_config = EndpointConfig {
        redirects: vec![RedirectRule {
            epd: None,
            to: vec![sa],
        }],
        ..Default::default()
    };
    // The redirector's own identity is not selected by the client's EPD.
    let _redirector = endpoint(
        &mut net,
        flash(false, 3, Some("redirector")),
        ra,
        3,
        redirector_config,
    );
    let server = flash_node(&mut net, true, 2, sa);
    client
        .borrow_mut()
        .connect(Instant::ZERO, ANY_SERVER.to_vec(), &[ra]);
    net.run_until(Instant::from_millis(2000));
    assert_eq!(opened(&drain(&client)), [(Role::Initiator, sa)]);
    assert_eq!(opened(&drain(&server)), [(Role::Responder, ca)]);
}

#[test]
fn s3_5_1_5_forwarder_introduces_a_peer() {
    let mut net = Network::new(5);
    let (fa, pa, ia) = (
        addr("10.0.0.5:1935"),
        addr("10.0.0.6:6000"),
        addr("10.0.0.7:7000"),
    );
    // The peer registers with the forwarder (a session to it).
    let (_forwarder, peer, peer_epd) = forwarder_and_peer(&mut net, fa, pa);
    let initiator = flash_node(&mut net, false, 7, ia);
    // The initiator only knows the forwarder's address and the peer's fingerprint.
    initiator.borrow_mut().connect(net.now(), peer_epd, &[fa]);
    net.run_until(Instant::from_millis(2000));
    assert_eq!(opened(&drain(&initiator)), [(Role::Initiator, pa)]);
    assert_eq!(opened(&drain(&peer)), [(Role::Responder, ia)]);
}

#[test]
fn s3_5_1_2_cookie_change_after_address_change() {
    let mut net = Network::new(6);
    let (ca, ca2, sa) = (
        addr("10.0.0.1:5000"),
        addr("10.0.0.1:5999"),
        addr("10.0.0.2:1935"),
    );
    let client = flash_node(&mut net, false, 1, ca);
    let server = flash_node(&mut net, true, 2, sa);
    // Link delay 10 ms: the RHello reaches the client at 20 ms. Rebind the client's
    // NAT mapping just before, so its IIKeying comes from another address.
    client
        .borrow_mut()
        .connect(Instant::ZERO, ANY_SERVER.to_vec(), &[sa]);
    net.run_until(Instant::from_millis(15));
    net.rebind(ca, ca2);
    net.run_until(Instant::from_millis(1000));
    assert_eq!(opened(&drain(&client)), [(Role::Initiator, sa)]);
    assert_eq!(opened(&drain(&server)), [(Role::Responder, ca2)]);
    assert_eq!(
        server
            .borrow()
            .stats
            .dropped(rtmfp::stats::DropReason::IIKeyingCookieWrongAddress),
        1
    );
}

#[test]
fn s3_5_1_3_glare_yields_one_session() {
    let mut net = Network::new(7);
    let (aa, ba) = (addr("10.0.0.1:5000"), addr("10.0.0.2:5000"));
    let pa = flash(false, 1, None);
    let pb = flash(false, 2, None);
    let (epd_a, epd_b) = (
        pa.canonical_epd(pa.certificate()),
        pb.canonical_epd(pb.certificate()),
    );
    let a = endpoint(&mut net, pa, aa, 1, EndpointConfig::default());
    let b = endpoint(&mut net, pb, ba, 2, EndpointConfig::default());
    a.borrow_mut().connect(Instant::ZERO, epd_b, &[ba]);
    b.borrow_mut().connect(Instant::ZERO, epd_a, &[aa]);
    net.run_until(Instant::from_millis(5000));
    let (ea, eb) = (drain(&a), drain(&b));
    let (oa, ob) = (opened(&ea), opened(&eb));
    assert_eq!(oa.len(), 1, "{ea:?}");
    assert_eq!(ob.len(), 1, "{eb:?}");
    assert_ne!(oa[0].0, ob[0].0, "one initiator, one responder");
    assert_eq!(
        (open_sessions(&a.borrow()), open_sessions(&b.borrow())),
        (1, 1)
    );
}

#[test]
fn s3_5_1_1_2_spoofed_ihellos_leave_no_state() {
    let mut net = Network::new(8);
    let sa = addr("10.0.0.2:1935");
    let server = flash_node(&mut net, true, 2, sa);
    let ihello = {
        // A real IHello datagram, replayed from 100,000 distinct source addresses.
        let mut c = Endpoint::new(EndpointConfig::default(), flash(false, 1, None), 1);
        c.connect(Instant::ZERO, ANY_SERVER.to_vec(), &[sa]);
        c.poll_transmit().unwrap().data
    };
    let mut rhellos = 0;
    for i in 0..100_000u32 {
        let from = SocketAddr::from((
            [100, (i >> 16) as u8, (i >> 8) as u8, i as u8],
            1024 + (i % 50_000) as u16,
        ));
        server.borrow_mut().handle_datagram(
            // 5,000 a second: under the startup answers' rate limit.
            Instant::from_millis(u64::from(i / 5)),
            sa,
            from,
            &ihello,
        );
        // The RHello answer waits in the outbox (which state_size counts) until polled.
        assert!(server.borrow().state_size() > 180);
        while server.borrow_mut().poll_transmit().is_some() {
            rhellos += 1;
        }
        assert_eq!(server.borrow().state_size(), 0);
    }
    assert_eq!(rhellos, 100_000);
    assert_eq!(server.borrow().state_size(), 0);
    drop(net);
}

/// §3.4: a startup packet larger than the path MTU goes as Packet Fragments, is
/// reassembled, and the sender paces them: at most four packets and 4380 bytes
/// per destination every 200 ms (MUST rate limit; the figures are the SHOULD).
#[test]
fn s3_4_fragmented_startup_is_reassembled_and_paced() {
    let mut net = Network::new(9);
    net.record();
    let (ca, sa) = (addr("10.0.0.1:5000"), addr("10.0.0.2:1935"));
    // A client with keys for groups 16, 14 and 2: a 908-byte certificate.
    let mut cc = FlashConfig::client(false);
    cc.groups = vec![16, 14, 2];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let cp: Arc<dyn CryptoProfile> = Arc::new(FlashProfile::new(cc, &mut rng).unwrap());
    let small = EndpointConfig {
        max_startup_packet: 200,
        ..Default::default()
    };
    let client = endpoint(&mut net, cp, ca, 1, small);
    let server = flash_node(&mut net, true, 2, sa);
    client
        .borrow_mut()
        .connect(Instant::ZERO, ANY_SERVER.to_vec(), &[sa]);
    net.run_until(Instant::from_millis(3000));
    assert_eq!(opened(&drain(&client)), [(Role::Initiator, sa)]);
    assert_eq!(opened(&drain(&server)), [(Role::Responder, ca)]);
    let to_server: Vec<(Instant, usize)> = net
        .records
        .as_ref()
        .unwrap()
        .iter()
        .filter(|r| r.dst == sa)
        .map(|r| (r.sent, r.data.len()))
        .collect();
    assert!(
        to_server.len() > 6,
        "the IIKeying went as fragments: {}",
        to_server.len()
    );
    for (i, &(t, _)) in to_server.iter().enumerate() {
        let window: Vec<_> = to_server[i..]
            .iter()
            .filter(|(u, _)| *u - t < Duration::from_millis(200))
            .collect();
        assert!(
            window.len() <= 4,
            "more than four packets in 200 ms from {t}"
        );
        assert!(window.iter().map(|w| w.1).sum::<usize>() <= 4380 + 200);
    }
}

/// §3.5.1.7: a parallel open to several candidates; the first acceptable RHello
/// wins and later ones are ignored; a dead candidate does not matter.
#[test]
fn s3_5_1_7_parallel_open_first_rhello_wins() {
    let mut net = Network::new(10);
    let (ca, near, far, dead) = (
        addr("10.0.0.1:5000"),
        addr("10.0.0.2:1935"),
        addr("10.0.0.3:1935"),
        addr("10.0.0.4:1935"),
    );
    net.set_link(
        ca,
        far,
        rtmfp::sim::LinkConfig {
            delay: Duration::from_millis(80),
            ..Default::default()
        },
    );
    let client = flash_node(&mut net, false, 1, ca);
    let s_near = flash_node(&mut net, true, 2, near);
    let s_far = flash_node(&mut net, true, 3, far);
    client
        .borrow_mut()
        .connect(Instant::ZERO, ANY_SERVER.to_vec(), &[dead, far, near]);
    net.run_until(Instant::from_millis(3000));
    assert_eq!(opened(&drain(&client)), [(Role::Initiator, near)]);
    assert_eq!(opened(&drain(&s_near)).len(), 1);
    assert!(
        opened(&drain(&s_far)).is_empty(),
        "the slower responder's RHello is ignored"
    );
    let c = client.borrow();
    let late = c.stats.dropped(rtmfp::stats::DropReason::RHelloWrongState)
        + c.stats.dropped(rtmfp::stats::DropReason::RHelloUnknownTag);
    assert_eq!(late, 1, "{:?}", c.stats.drops);
}

/// §3.5.1.1.2 2.1 and 2.3: a retransmitted IIKeying (same session ID, certificate
/// and SKIC) gets the same RIKeying again; a new IIKeying from the same identity
/// at the same address overrides the stale S_OPEN session.
#[test]
fn s3_5_1_1_2_retransmitted_iikeying_and_session_override() {
    let mut net = Network::new(11);
    net.record();
    let (ca, sa) = (addr("10.0.0.1:5000"), addr("10.0.0.2:1935"));
    let identity = flash(false, 1, None);
    let client = endpoint(&mut net, identity.clone(), ca, 1, EndpointConfig::default());
    let server = flash_node(&mut net, true, 2, sa);
    client
        .borrow_mut()
        .connect(Instant::ZERO, ANY_SERVER.to_vec(), &[sa]);
    net.run_until(Instant::from_millis(500));
    let first = opened(&drain(&server));
    assert_eq!(first.len(), 1);
    // Replay the client's IIKeying datagram: the server answers with the same
    // RIKeying bytes and opens nothing new.
    let recs = net.records.as_ref().unwrap().clone();
    let iikeying = recs
        .iter()
        .filter(|r| r.src == ca)
        .nth(1)
        .unwrap()
        .data
        .clone();
    let rikeying = recs
        .iter()
        .filter(|r| r.src == sa)
        .nth(1)
        .unwrap()
        .data
        .clone();
    server
        .borrow_mut()
        .handle_datagram(net.now(), sa, ca, &iikeying);
    assert_eq!(server.borrow_mut().poll_transmit().unwrap().data, rikeying);
    assert!(opened(&drain(&server)).is_empty());
    // The client restarts (same identity, same address) and connects again.
    let restarted = Rc::new(RefCell::new(Endpoint::new(
        EndpointConfig::default(),
        identity,
        99,
    )));
    restarted
        .borrow_mut()
        .connect(net.now(), ANY_SERVER.to_vec(), &[sa]);
    // Exchange directly (the old client node still owns the address in the sim).
    loop {
        let Some(t) = restarted.borrow_mut().poll_transmit() else {
            break;
        };
        server
            .borrow_mut()
            .handle_datagram(net.now(), sa, ca, &t.data);
        loop {
            let Some(back) = server.borrow_mut().poll_transmit() else {
                break;
            };
            restarted
                .borrow_mut()
                .handle_datagram(net.now(), ca, sa, &back.data);
        }
    }
    let evs = drain(&server);
    assert!(
        evs.iter().any(
            |e| matches!(e, Event::SessionClosed { reason, .. } if reason.contains("overridden"))
        ),
        "{evs:?}"
    );
    assert_eq!(opened(&evs).len(), 1);
    assert_eq!(open_sessions(&server.borrow()), 1);
}

/// RFC 7016 §3.5.1.1.1: in S_KEYING_SENT the initiator retransmits its IIKeying
/// with backoff until the RIKeying arrives. Regression: the opening timers were
/// computed for every opening state, so once S_KEYING_SENT lasted longer than
/// the first IHello interval (1.5 s) the endpoint asked to be woken in the past
/// forever (the simulator stops a node whose timer never advances).
#[test]
fn s3_5_1_1_1_long_keying_state_keeps_a_sane_timer() {
    let mut net = Network::new(12);
    net.record();
    let (ca, sa) = (addr("10.0.0.1:5000"), addr("10.0.0.2:1935"));
    let client = flash_node(&mut net, false, 1, ca);
    let server = flash_node(&mut net, true, 2, sa);
    // Lose the server's first three RIKeyings.
    let mut from_server = 0;
    net.add_hook(Box::new(move |_, d| {
        if d.src == sa {
            from_server += 1;
            // The first datagram is the RHello; then three RIKeyings.
            return !(2..=4).contains(&from_server);
        }
        true
    }));
    client
        .borrow_mut()
        .connect(Instant::ZERO, ANY_SERVER.to_vec(), &[sa]);
    net.run_until(Instant::from_millis(1_400));
    assert!(opened(&drain(&client)).is_empty());
    assert_eq!(
        client.borrow().sessions().next().map(|s| s.state()),
        Some(State::S_KEYING_SENT)
    );
    net.run_until(Instant::from_millis(30_000));
    let evs = drain(&client);
    assert_eq!(opened(&evs), vec![(Role::Initiator, sa)], "{evs:?}");
    assert_eq!(opened(&drain(&server)).len(), 1);
    // The IIKeying was retransmitted with growing intervals (not in a loop).
    let recs = net.records.as_ref().unwrap();
    let iikeying_times: Vec<u64> = recs
        .iter()
        .filter(|r| r.src == ca)
        .skip(1)
        .take(4)
        .map(|r| r.sent.as_micros() / 1000)
        .collect();
    assert_eq!(iikeying_times.len(), 4, "{iikeying_times:?}");
    let gaps: Vec<u64> = iikeying_times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|&g| g >= 1_000), "{gaps:?}");
    // Once open, nothing keeps it busy: at most a few keepalive-free packets.
    let after = recs
        .iter()
        .filter(|r| (r.sent.as_micros() / 1000) > 20_000)
        .count();
    assert!(after < 10, "{after} datagrams after the session settled");
}
