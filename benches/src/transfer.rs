//! Whole transfers over the simulated network (`rtmfp::sim`), for the transfer
//! benches and the report's congestion chart.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rtmfp::congestion::trace::Trace;
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::plain::PlainProfile;
use rtmfp::endpoint::{Endpoint, Event, SessionHandle, State};
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::sim::{LinkConfig, Network};

use crate::fixtures::flash_profile;

type Ep = Rc<RefCell<Endpoint>>;

/// Which cryptography profile both ends use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Plain,
    Flash,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Plain => "plain",
            Profile::Flash => "flash",
        }
    }

    fn pair(self) -> (Arc<dyn CryptoProfile>, Arc<dyn CryptoProfile>) {
        match self {
            Profile::Plain => (
                Arc::new(PlainProfile::new("client")),
                Arc::new(PlainProfile::new("server")),
            ),
            Profile::Flash => (flash_profile(false, 1), flash_profile(true, 2)),
        }
    }
}

/// What a transfer delivered.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub delivered_bytes: usize,
    pub messages: usize,
    /// Virtual time the transfer took.
    pub elapsed: Duration,
    /// The sender's congestion trace (when asked for).
    pub trace: Option<Trace>,
}

fn drain(e: &Ep) -> Vec<Event> {
    let mut v = Vec::new();
    while let Some(ev) = e.borrow_mut().poll_event() {
        v.push(ev);
    }
    v
}

/// Two endpoints on a simulated network with `link` both ways, and an open session.
pub struct Pair {
    pub net: Network,
    pub client: Ep,
    pub server: Ep,
    pub session: SessionHandle,
}

/// Opens a session between two fresh endpoints (a whole handshake).
pub fn handshake(profile: Profile, link: LinkConfig, trace: bool, seed: u64) -> Pair {
    let (ca, sa): (SocketAddr, SocketAddr) = (
        "10.0.0.1:5000".parse().unwrap(),
        "10.0.0.2:1935".parse().unwrap(),
    );
    let mut net = Network::new(seed);
    net.set_default_link(link);
    let (cp, sp) = profile.pair();
    let epd = sp.canonical_epd(sp.certificate());
    let mut config = EndpointConfig {
        trace,
        ..EndpointConfig::default()
    };
    // A transfer queues all its messages at once (the engine's speed is measured,
    // not the application's backpressure): no bound on the send buffer.
    config.limits.send_buffer = usize::MAX;
    config.limits.max_session_buffer = usize::MAX;
    let mk = |net: &mut Network, p, a, s| {
        let mut e = Endpoint::new(config.clone(), p, s);
        e.set_local_addresses(vec![a]);
        let e = Rc::new(RefCell::new(e));
        net.add_node(Box::new(e.clone()), &[a]);
        e
    };
    let client = mk(&mut net, cp, ca, seed ^ 1);
    let server = mk(&mut net, sp, sa, seed ^ 2);
    let h = client.borrow_mut().connect(net.now(), epd, &[sa]);
    let limit = net.now() + Duration::from_secs(30);
    net.run_while(limit, |_| {
        drain(&server);
        client
            .borrow()
            .session(h)
            .is_some_and(|s| s.state() == State::S_OPEN)
    });
    assert!(
        client
            .borrow()
            .session(h)
            .is_some_and(|s| s.state() == State::S_OPEN),
        "session did not open"
    );
    drain(&client);
    Pair {
        net,
        client,
        server,
        session: h,
    }
}

/// Sends `bytes` in messages of `message` bytes on one flow and runs until the
/// receiver has them all (or 10 minutes of virtual time pass).
pub fn transfer(
    profile: Profile,
    bytes: usize,
    message: usize,
    link: LinkConfig,
    trace: bool,
    seed: u64,
) -> Outcome {
    let Pair {
        mut net,
        client,
        server,
        session: h,
    } = handshake(profile, link, trace, seed);
    let start = net.now();
    let flow = client
        .borrow_mut()
        .open_flow(start, h, b"bench".to_vec(), None, FlowOptions::default())
        .expect("open flow");
    let body = vec![0x5a; message];
    let count = bytes.div_ceil(message);
    for _ in 0..count {
        client
            .borrow_mut()
            .send(start, h, flow, &body, None)
            .expect("send");
    }
    client
        .borrow_mut()
        .close_flow(start, h, flow)
        .expect("close flow");
    let mut delivered_bytes = 0;
    let mut messages = 0;
    net.run_while(start + Duration::from_secs(600), |_| {
        for ev in drain(&server) {
            if let Event::Session {
                event: SessionEvent::Message { data, .. },
                ..
            } = ev
            {
                delivered_bytes += data.len();
                messages += 1;
            }
        }
        messages == count
    });
    let elapsed = net.now().saturating_duration_since(start);
    let trace = client
        .borrow()
        .session(h)
        .and_then(|s| s.data().trace.clone());
    Outcome {
        delivered_bytes,
        messages,
        elapsed,
        trace,
    }
}

/// The lossy path of the report's congestion chart: 20 ms one way, 2 % loss, 1 %
/// reordering, 10 Mbit/s bottleneck with a 64 KB queue.
pub fn lossy_link() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(2),
        loss: 0.02,
        reorder: 0.01,
        bandwidth: Some(1_250_000),
        queue_bytes: 64 * 1024,
        ..LinkConfig::default()
    }
}

/// A clean fast path for CPU-per-MB figures: 1 ms one way, no loss, no bandwidth limit.
pub fn clean_link() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(1),
        ..LinkConfig::default()
    }
}
