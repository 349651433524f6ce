//! Endpoints over the simulated network (`rtmfp::sim`): building them, draining
//! their events, opening a session between two of them.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::crypto::plain::PlainProfile;
use rtmfp::endpoint::{Endpoint, Event, Role, SessionHandle, State};
use rtmfp::session::config::EndpointConfig;
use rtmfp::sim::Network;
use rtmfp::wire::{Chunk, Fragmentation, Opt, UserData, UserDataFlags};

/// The chunks of a plain-profile datagram (scrambled session ID, packet, 16 ×
/// 0xff, checksum); none when it does not parse.
pub fn plain_chunks(datagram: &[u8]) -> Vec<Chunk> {
    let (_, encrypted) = rtmfp::wire::multiplex::demux(datagram).unwrap();
    let packet = &encrypted[..encrypted.len().saturating_sub(18)];
    rtmfp::wire::Packet::parse(packet)
        .map(|p| p.chunks)
        .unwrap_or_default()
}

/// An endpoint shared between the test and the simulated network.
pub type Ep = Rc<RefCell<Endpoint>>;

/// The Flash profile's "any server" EPD (RFC 7425 §4.4.2, type 0x0a).
pub const ANY_SERVER: &[u8] = b"\x07\x0artmfp:";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A seeded Flash identity (server: the Adobe-style server certificate), with
/// an optional hostname in its certificate.
pub fn flash(server: bool, seed: u64, hostname: Option<&str>) -> Arc<dyn CryptoProfile> {
    let mut c = if server {
        FlashConfig::server(true)
    } else {
        FlashConfig::client(true)
    };
    c.hostname = hostname.map(|h| h.as_bytes().to_vec());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Arc::new(FlashProfile::new(c, &mut rng).unwrap())
}

/// An endpoint at `a` on the simulated network.
pub fn endpoint(
    net: &mut Network,
    profile: Arc<dyn CryptoProfile>,
    a: SocketAddr,
    seed: u64,
    config: EndpointConfig,
) -> Ep {
    let mut e = Endpoint::new(config, profile, seed);
    e.set_local_addresses(vec![a]);
    let e = Rc::new(RefCell::new(e));
    net.add_node(Box::new(e.clone()), &[a]);
    e
}

/// A Flash endpoint at `a` with default settings, its identity and its
/// randomness both seeded with `seed`.
pub fn flash_node(net: &mut Network, server: bool, seed: u64, a: SocketAddr) -> Ep {
    let profile = flash(server, seed, None);
    endpoint(net, profile, a, seed, EndpointConfig::default())
}

/// A plain-profile endpoint named `name` at `a`.
pub fn plain_node(
    net: &mut Network,
    name: &str,
    a: SocketAddr,
    seed: u64,
    config: EndpointConfig,
) -> Ep {
    endpoint(net, Arc::new(PlainProfile::new(name)), a, seed, config)
}

/// Every event the endpoint has queued.
pub fn drain(e: &Ep) -> Vec<Event> {
    let mut v = Vec::new();
    while let Some(ev) = e.borrow_mut().poll_event() {
        v.push(ev);
    }
    v
}

/// The sessions that opened among `evs`: our role and the far address.
pub fn opened(evs: &[Event]) -> Vec<(Role, SocketAddr)> {
    evs.iter()
        .filter_map(|e| match e {
            Event::SessionOpened {
                role, far_address, ..
            } => Some((*role, *far_address)),
            _ => None,
        })
        .collect()
}

/// How many of the endpoint's sessions are in S_OPEN.
pub fn open_sessions(e: &Endpoint) -> usize {
    e.sessions().filter(|s| s.state() == State::S_OPEN).count()
}

/// `client` connects to `server` at `sa` with `epd`; runs the network until
/// both ends have the session open (10 s at most). Returns the client's and
/// the server's handles; both ends' events so far are drained.
pub fn open(
    net: &mut Network,
    client: &Ep,
    server: &Ep,
    sa: SocketAddr,
    epd: &[u8],
) -> (SessionHandle, SessionHandle) {
    let h = client.borrow_mut().connect(net.now(), epd.to_vec(), &[sa]);
    let limit = net.now() + Duration::from_secs(10);
    let mut sh = None;
    net.run_while(limit, |_| {
        for ev in drain(server) {
            if let Event::SessionOpened { session, .. } = ev {
                sh = Some(session);
            }
        }
        sh.is_some()
            && client
                .borrow()
                .session(h)
                .is_some_and(|s| s.state() == State::S_OPEN)
    });
    drain(client);
    (h, sh.expect("session opened"))
}

/// A Forwarder (§3.5.1.5, a Flash server at `fa`, seed 5) and a peer (a Flash
/// client at `pa`, seed 6) with a session to it; returns them and the peer's
/// EPD (its fingerprint), with the forwarder's and the peer's events drained.
pub fn forwarder_and_peer(net: &mut Network, fa: SocketAddr, pa: SocketAddr) -> (Ep, Ep, Vec<u8>) {
    let forwarder = flash_node(net, true, 5, fa);
    let peer_profile = flash(false, 6, None);
    let peer_epd = peer_profile.canonical_epd(peer_profile.certificate());
    let peer = endpoint(net, peer_profile, pa, 6, EndpointConfig::default());
    peer.borrow_mut()
        .connect(rtmfp::time::Instant::ZERO, ANY_SERVER.to_vec(), &[fa]);
    net.run_until(rtmfp::time::Instant::from_millis(500));
    assert_eq!(opened(&drain(&forwarder)).len(), 1, "the peer registered");
    drain(&peer);
    (forwarder, peer, peer_epd)
}

/// A User Data chunk (RFC 7016 §2.3.11) with the given fragment control,
/// options and payload; `fsn` is the forward sequence number.
pub fn user_data_chunk(
    flow: u64,
    seq: u64,
    fsn: u64,
    fra: Fragmentation,
    options: Option<Vec<Opt>>,
    payload: &[u8],
) -> Chunk {
    Chunk::UserData(UserData {
        flags: UserDataFlags {
            fragment_control: fra,
            ..Default::default()
        },
        flow_id: flow,
        sequence_number: seq,
        fsn_offset: seq - fsn,
        options,
        user_data: payload.to_vec(),
    })
}
