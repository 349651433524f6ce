//! Issue 15: what startup handling sends to unauthenticated sources — the rate
//! limits (per source and in total), and the amplification factor of every
//! startup answer, checked against the table in reference/README.md.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use common::sim::*;
use rtmfp::crypto::plain::PlainProfile;
use rtmfp::endpoint::Endpoint;
use rtmfp::session::config::{EndpointConfig, RedirectRule};
use rtmfp::sim::Network;
use rtmfp::stats::DropReason;
use rtmfp::time::Instant;

fn spoofed(i: u32) -> SocketAddr {
    SocketAddr::from(([100, (i >> 16) as u8, (i >> 8) as u8, i as u8], 40_000))
}

/// Everything `e` wants to send now.
fn sent(e: &mut Endpoint) -> Vec<(SocketAddr, Vec<u8>)> {
    std::iter::from_fn(|| e.poll_transmit().map(|t| (t.dst, t.data))).collect()
}

/// A Flash client's IHello, the server's RHello, the client's IIKeying and the
/// server's RIKeying (datagrams), exchanged directly.
struct Handshake {
    ihello: Vec<u8>,
    rhello: Vec<u8>,
    iikeying: Vec<u8>,
    rikeying: Vec<u8>,
}

fn handshake(server: &mut Endpoint, sa: SocketAddr, ca: SocketAddr) -> Handshake {
    let mut c = Endpoint::new(EndpointConfig::default(), flash(false, 1, None), 1);
    c.connect(Instant::ZERO, ANY_SERVER.to_vec(), &[sa]);
    let one = |v: Vec<(SocketAddr, Vec<u8>)>| {
        assert_eq!(v.len(), 1, "one datagram");
        v.into_iter().next().unwrap().1
    };
    let ihello = one(sent(&mut c));
    server.handle_datagram(Instant::ZERO, sa, ca, &ihello);
    let rhello = one(sent(server));
    c.handle_datagram(Instant::ZERO, ca, sa, &rhello);
    let iikeying = one(sent(&mut c));
    server.handle_datagram(Instant::ZERO, sa, ca, &iikeying);
    let rikeying = one(sent(server));
    Handshake {
        ihello,
        rhello,
        iikeying,
        rikeying,
    }
}

/// §3.5.1.2: one genuine cookie replayed from many spoofed sources makes the
/// server send a Cookie Change to each: a reflection path, bounded by the
/// total rate of startup answers.
#[test]
fn cookie_changes_to_spoofed_sources_stay_under_the_rate() {
    let (sa, ca) = (addr("10.0.0.1:1935"), addr("10.0.0.2:5000"));
    let mut config = EndpointConfig::default();
    config.limits.startup_answers_per_second = 1000;
    let mut server = Endpoint::new(config, flash(true, 2, None), 2);
    let hs = handshake(&mut server, sa, ca);
    let mut cookie_changes = 0;
    // 5,000 replays within 0.5 s, each from its own address.
    for i in 0..5000u32 {
        let t = Instant::from_micros(1_000_000 + u64::from(i) * 100);
        server.handle_datagram(t, sa, spoofed(i), &hs.iikeying);
        cookie_changes += sent(&mut server).len();
    }
    assert_eq!(cookie_changes, 1000, "the total rate");
    assert_eq!(
        server.stats.dropped(DropReason::StartupAnswerRateLimited),
        4000
    );
    // The next second has a new budget.
    server.handle_datagram(Instant::from_millis(2100), sa, spoofed(9999), &hs.iikeying);
    assert_eq!(sent(&mut server).len(), 1);
}

/// One source sending IHellos as fast as it can gets at most its per-source
/// share of RHellos a second; other sources are still answered.
#[test]
fn rhellos_to_one_source_stay_under_its_rate() {
    let (sa, ca) = (addr("10.0.0.1:1935"), addr("10.0.0.2:5000"));
    let mut server = Endpoint::new(EndpointConfig::default(), flash(true, 2, None), 2);
    let hs = handshake(&mut server, sa, ca);
    let per_source = EndpointConfig::default()
        .limits
        .startup_answers_per_source_per_second as usize;
    let mut rhellos = 0;
    for i in 0..1000u64 {
        let t = Instant::from_micros(3_000_000 + i * 500);
        server.handle_datagram(t, sa, addr("10.0.0.66:7000"), &hs.ihello);
        rhellos += sent(&mut server).len();
    }
    assert_eq!(rhellos, per_source);
    server.handle_datagram(Instant::from_millis(3400), sa, ca, &hs.ihello);
    assert_eq!(sent(&mut server).len(), 1, "another source is answered");
}

/// Every startup answer's size against the packet that caused it (UDP
/// payloads), for the Flash profile as `rtmfp serve` runs it and the plain one.
fn amplification() -> BTreeMap<&'static str, (usize, usize)> {
    let mut m = BTreeMap::new();
    let (sa, ca) = (addr("10.0.0.1:1935"), addr("10.0.0.2:5000"));
    let mut server = Endpoint::new(EndpointConfig::default(), flash(true, 2, None), 2);
    let hs = handshake(&mut server, sa, ca);
    m.insert("IHello → RHello", (hs.ihello.len(), hs.rhello.len()));
    m.insert(
        "IIKeying → RIKeying",
        (hs.iikeying.len(), hs.rikeying.len()),
    );
    server.handle_datagram(Instant::ZERO, sa, spoofed(1), &hs.iikeying);
    let cc = sent(&mut server);
    m.insert(
        "IIKeying → Cookie Change",
        (hs.iikeying.len(), cc[0].1.len()),
    );
    // A Redirector (§3.5.1.4) with two addresses.
    let rc = EndpointConfig {
        redirects: vec![RedirectRule {
            epd: None,
            to: vec![addr("10.0.0.7:1935"), addr("[2001:db8::7]:1935")],
        }],
        ..Default::default()
    };
    let mut redirector = Endpoint::new(rc, flash(false, 3, Some("redirector")), 3);
    redirector.handle_datagram(Instant::ZERO, sa, ca, &hs.ihello);
    let r = sent(&mut redirector);
    m.insert(
        "IHello → Redirect (2 addresses)",
        (hs.ihello.len(), r[0].1.len()),
    );
    // A Forwarder (§3.5.1.5): the IHello goes on as an FIHello to the peer.
    let mut net = Network::new(1);
    let (fa, pa, ia) = (
        addr("10.0.0.5:1935"),
        addr("10.0.0.6:6000"),
        addr("10.0.0.7:7000"),
    );
    let (forwarder, _peer, peer_epd) = forwarder_and_peer(&mut net, fa, pa);
    let mut c = Endpoint::new(EndpointConfig::default(), flash(false, 7, None), 7);
    c.connect(net.now(), peer_epd, &[fa]);
    let ihello = sent(&mut c).remove(0).1;
    forwarder
        .borrow_mut()
        .handle_datagram(net.now(), fa, ia, &ihello);
    let fi = sent(&mut forwarder.borrow_mut());
    assert_eq!(fi[0].0, pa, "to the peer");
    m.insert(
        "IHello → FIHello (to the peer)",
        (ihello.len(), fi[0].1.len()),
    );
    // The plain profile.
    let mut ps = Endpoint::new(
        EndpointConfig::default(),
        Arc::new(PlainProfile::new("server")),
        2,
    );
    let mut pc = Endpoint::new(
        EndpointConfig::default(),
        Arc::new(PlainProfile::new("client")),
        1,
    );
    pc.connect(Instant::ZERO, b"server".to_vec(), &[sa]);
    let ih = sent(&mut pc).remove(0).1;
    ps.handle_datagram(Instant::ZERO, sa, ca, &ih);
    let rh = sent(&mut ps).remove(0).1;
    m.insert("IHello → RHello (plain)", (ih.len(), rh.len()));
    m
}

/// reference/README.md's amplification table is what the code sends.
#[test]
fn the_readme_amplification_table_is_measured() {
    let measured = amplification();
    for (k, (a, b)) in &measured {
        eprintln!("| {k} | {a} | {b} | {:.2} |", *b as f64 / *a as f64);
    }
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("## Startup answers")
        .expect("README has the amplification table");
    let mut documented = BTreeMap::new();
    for line in readme[start..].lines().skip(1) {
        if line.starts_with("## ") {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() == 6
            && let (Ok(a), Ok(b)) = (cells[2].parse::<usize>(), cells[3].parse::<usize>())
        {
            documented.insert(cells[1].to_string(), (a, b, cells[4].to_string()));
        }
    }
    assert_eq!(documented.len(), measured.len(), "{documented:?}");
    for (k, (a, b)) in &measured {
        let (da, db, f) = documented
            .get(*k)
            .unwrap_or_else(|| panic!("no README row {k}"));
        assert_eq!((da, db), (a, b), "{k}");
        assert_eq!(f, &format!("{:.2}", *b as f64 / *a as f64), "{k}");
    }
}
