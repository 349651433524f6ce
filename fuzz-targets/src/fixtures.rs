//! What the targets need besides their input, built once per process: seeded
//! identities, the vectors' key logs, and real sessions recorded over the
//! simulator (whose datagrams the stateful targets replay and mutate).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rand::SeedableRng;
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::crypto::plain::PlainProfile;
use rtmfp::endpoint::{Endpoint, Event, SessionHandle, State};
use rtmfp::keylog::KeyLog;
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::sim::Network;
use rtmfp::time::Instant;

/// The key logs of the captures in vectors/, concatenated (embedded, so that a
/// fuzzer binary run far from the source tree still decrypts the seeds).
pub const VECTOR_KEYLOGS: &str = concat!(
    include_str!("../../vectors/flash-echo.keys"),
    "\n",
    include_str!("../../vectors/flash-echo-hmac.keys"),
    "\n",
    include_str!("../../vectors/flash-redirect.keys"),
    "\n",
    include_str!("../../vectors/plain-session.keys"),
);

pub fn vector_keylog() -> &'static KeyLog {
    static K: OnceLock<KeyLog> = OnceLock::new();
    K.get_or_init(|| {
        KeyLog::parse(VECTOR_KEYLOGS, "vectors/*.keys").expect("vector key logs parse")
    })
}

/// The requirement IDs the scenario loader accepts.
pub fn known_requirements() -> &'static BTreeSet<String> {
    static K: OnceLock<BTreeSet<String>> = OnceLock::new();
    K.get_or_init(|| {
        rtmfp_conformance::requirements::catalogue()
            .iter()
            .map(|r| r.id.clone())
            .collect()
    })
}

/// Which cryptography profile a stateful target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    Plain,
    Flash,
}

pub const CLIENT: &str = "10.0.0.1:5000";
pub const SERVER: &str = "10.0.0.2:1935";
pub const SERVER_SEED: u64 = 2;
pub const CLIENT_SEED: u64 = 1;

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("fixture address")
}

/// A seeded identity (the same every run, so recordings replay exactly).
pub fn profile(kind: ProfileKind, server: bool) -> Arc<dyn CryptoProfile> {
    static P: OnceLock<[Arc<dyn CryptoProfile>; 4]> = OnceLock::new();
    let all = P.get_or_init(|| {
        let flash = |server: bool, seed: u64| -> Arc<dyn CryptoProfile> {
            let c = if server {
                FlashConfig::server(true)
            } else {
                FlashConfig::client(true)
            };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            Arc::new(FlashProfile::new(c, &mut rng).expect("flash identity"))
        };
        [
            Arc::new(PlainProfile::new("client")),
            Arc::new(PlainProfile::new("server")),
            flash(false, 11),
            flash(true, 12),
        ]
    });
    let i = match kind {
        ProfileKind::Plain => 0,
        ProfileKind::Flash => 2,
    } + usize::from(server);
    all[i].clone()
}

/// The EPD that selects the fixture server.
pub fn server_epd(kind: ProfileKind) -> Vec<u8> {
    let p = profile(kind, true);
    p.canonical_epd(p.certificate())
}

/// One datagram of a recorded session.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub data: Vec<u8>,
}

pub type Ep = Rc<RefCell<Endpoint>>;

/// Adds an endpoint at `a` to the network.
pub fn endpoint(net: &mut Network, kind: ProfileKind, server: bool, a: SocketAddr) -> Ep {
    let seed = if server { SERVER_SEED } else { CLIENT_SEED };
    let mut e = Endpoint::new(EndpointConfig::default(), profile(kind, server), seed);
    e.set_local_addresses(vec![a]);
    let e = Rc::new(RefCell::new(e));
    net.add_node(Box::new(e.clone()), &[a]);
    e
}

/// Opens a session from `client` to `server` over `net`; `None` if it did not
/// open within 10 s of virtual time.
pub fn open(
    net: &mut Network,
    client: &Ep,
    server: &Ep,
    kind: ProfileKind,
) -> Option<(SessionHandle, SessionHandle)> {
    let h = client
        .borrow_mut()
        .connect(net.now(), server_epd(kind), &[addr(SERVER)]);
    let limit = net.now() + Duration::from_secs(10);
    let mut sh = None;
    net.run_while(limit, |_| {
        while let Some(ev) = server.borrow_mut().poll_event() {
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
    while client.borrow_mut().poll_event().is_some() {}
    Some((h, sh?))
}

/// A whole session, recorded: handshake, a flow with three messages both ways
/// (the server's side is silent: it only acknowledges), flow close, session close.
pub fn recorded_session(kind: ProfileKind) -> &'static [Recorded] {
    static R: OnceLock<[Vec<Recorded>; 2]> = OnceLock::new();
    let all = R.get_or_init(|| [record(ProfileKind::Plain), record(ProfileKind::Flash)]);
    match kind {
        ProfileKind::Plain => &all[0],
        ProfileKind::Flash => &all[1],
    }
}

fn record(kind: ProfileKind) -> Vec<Recorded> {
    let mut net = Network::new(7);
    net.record();
    let client = endpoint(&mut net, kind, false, addr(CLIENT));
    let server = endpoint(&mut net, kind, true, addr(SERVER));
    let (h, _) = open(&mut net, &client, &server, kind).expect("fixture session opens");
    let now = net.now();
    let flow = client
        .borrow_mut()
        .open_flow(now, h, b"fuzz".to_vec(), None, FlowOptions::default())
        .expect("flow opens");
    for (i, len) in [5usize, 1500, 40].into_iter().enumerate() {
        let body = vec![i as u8 + 1; len];
        client
            .borrow_mut()
            .send(now, h, flow, &body, None)
            .expect("send");
    }
    client.borrow_mut().close_flow(now, h, flow).expect("close");
    let mut done = false;
    net.run_while(now + Duration::from_secs(10), |_| {
        while let Some(ev) = server.borrow_mut().poll_event() {
            if let Event::Session {
                event: SessionEvent::FlowComplete { .. },
                ..
            } = ev
            {
                done = true;
            }
        }
        done
    });
    let now = net.now();
    client.borrow_mut().close(now, h, false);
    net.run_until(now + Duration::from_secs(2));
    net.records
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|r| Recorded {
            at: r.sent,
            src: r.src,
            dst: r.dst,
            data: r.data,
        })
        .collect()
}
