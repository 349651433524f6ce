//! Stateful targets: the sans-IO `Endpoint` driven by an arbitrary sequence of
//! datagrams, time steps and application calls. After every step: no panic,
//! memory bounded (`state_size` grows by at most a constant per datagram),
//! session states move only along RFC 7016 §3.5's transitions, and delivered
//! data is a prefix of what was sent, in order, exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use arbitrary::{Result, Unstructured};
use rtmfp::endpoint::{Crafted, Endpoint, Event, Role, SessionHandle, State};
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::sim::Network;
use rtmfp::time::Instant;
use rtmfp::wire::Chunk;

use crate::arb;
use crate::fixtures::{self, ProfileKind};
use crate::targets::source;

/// At most this many steps per input (keeps one execution short).
const MAX_STEPS: usize = 48;

/// RFC 7016 §3.5 (Figure 6 and the text of §3.5.1-§3.5.5): the state changes a
/// session may make.
pub fn transition_allowed(from: State, to: State) -> bool {
    use State::*;
    from == to
        || matches!(
            (from, to),
            // §3.5.1.1.1: RHello moves to S_KEYING_SENT; a Redirect keeps
            // S_IHELLO_SENT; the open timeout fails the opening.
            (S_IHELLO_SENT, S_KEYING_SENT | S_OPEN_FAILED)
                // §3.5.1.1.1: RIKeying opens; an error or timeout fails it.
                | (S_KEYING_SENT, S_OPEN | S_OPEN_FAILED)
                // §3.5.5: orderly close (near or far), abrupt close, timeout.
                | (S_OPEN, S_NEARCLOSE | S_FARCLOSE_LINGER | S_CLOSED)
                | (S_NEARCLOSE, S_CLOSED | S_FARCLOSE_LINGER)
                | (S_FARCLOSE_LINGER, S_CLOSED)
        )
}

/// Watches an endpoint's sessions between steps.
#[derive(Default)]
struct States {
    seen: BTreeMap<SessionHandle, State>,
}

impl States {
    fn check(&mut self, e: &Endpoint, step: &str) {
        for s in e.sessions() {
            match self.seen.insert(s.handle(), s.state()) {
                Some(prev) => assert!(
                    transition_allowed(prev, s.state()),
                    "session {:?}: {:?} -> {:?} after {step}",
                    s.handle(),
                    prev,
                    s.state()
                ),
                None => {
                    // §3.5.1.1.2: a responder's session comes into being open
                    // (on a valid IIKeying); an initiator's in S_IHELLO_SENT.
                    if s.role() == Role::Responder {
                        assert!(
                            matches!(s.state(), State::S_OPEN),
                            "new responder session in {:?} after {step}",
                            s.state()
                        );
                    }
                }
            }
        }
    }
}

/// A small structure-blind mutation of a datagram.
fn mutate(u: &mut Unstructured<'_>, d: &mut Vec<u8>) -> Result<()> {
    if d.is_empty() {
        d.push(u.arbitrary()?);
        return Ok(());
    }
    let i = u.choose_index(d.len())?;
    match u.int_in_range(0..=4)? {
        0 => d[i] ^= 1 << u.int_in_range(0..=7)?,
        1 => d[i] = u.arbitrary()?,
        2 => d.truncate(i),
        3 => {
            let n = u.int_in_range(1..=16)?;
            let extra = u.bytes(n.min(u.len()))?.to_vec();
            d.splice(i..i, extra);
        }
        _ => {
            let j = u.choose_index(d.len())?;
            d.swap(i, j);
        }
    }
    Ok(())
}

fn drain_transmits(e: &mut Endpoint, last: &mut Option<Vec<u8>>) {
    while let Some(t) = e.poll_transmit() {
        assert!(t.data.len() <= 1500, "datagram larger than 1500 bytes");
        *last = Some(t.data);
    }
}

/// One `Endpoint` as a server (the flash or plain profile, by the first byte),
/// fed raw datagrams from several sources, replays of a real session's client
/// datagrams (in order, so a session really opens and carries data), mutations
/// of those, mutations of what the server just sent, and time steps.
pub fn endpoint_server(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = server_steps(&mut u);
}

fn server_steps(u: &mut Unstructured<'_>) -> Result<()> {
    let kind = if u.arbitrary()? {
        ProfileKind::Flash
    } else {
        ProfileKind::Plain
    };
    let here = fixtures::addr(fixtures::SERVER);
    let mut e = Endpoint::new(
        EndpointConfig::default(),
        fixtures::profile(kind, true),
        fixtures::SERVER_SEED,
    );
    e.set_local_addresses(vec![here]);
    let rec: Vec<_> = fixtures::recorded_session(kind)
        .iter()
        .filter(|r| r.dst == here)
        .collect();
    let mut now = Instant::ZERO;
    let mut states = States::default();
    let mut last_out: Option<Vec<u8>> = None;
    let mut datagrams = 0usize;
    let mut next_replay = 0usize;
    for _ in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        let op = u.int_in_range(0..=6u8)?;
        let mut input: Vec<(std::net::SocketAddr, Vec<u8>)> = Vec::new();
        match op {
            0 => {
                let from = source(u.arbitrary()?);
                let n = u.int_in_range(0..=1400)?;
                input.push((from, u.bytes(n.min(u.len()))?.to_vec()));
            }
            // The next datagram of the recorded session, at its time: a run of
            // these replays the whole session.
            1 | 2 => {
                let runs = if op == 2 { rec.len() } else { 1 };
                for _ in 0..runs {
                    if let Some(r) = rec.get(next_replay) {
                        now = now.max(r.at);
                        e.handle_datagram(now, here, r.src, &r.data);
                        datagrams += 1;
                        next_replay += 1;
                        drain_transmits(&mut e, &mut last_out);
                        states.check(&e, "replay");
                    }
                }
            }
            3 => {
                let r = rec[u.choose_index(rec.len())?];
                let mut d = r.data.clone();
                mutate(u, &mut d)?;
                input.push((source(u.arbitrary()?), d));
            }
            4 => {
                if let Some(mut d) = last_out.clone() {
                    mutate(u, &mut d)?;
                    input.push((fixtures::addr(fixtures::CLIENT), d));
                }
            }
            5 => {
                // An old datagram of the session again (a replay).
                let r = rec[u.choose_index(rec.len())?];
                input.push((r.src, r.data.clone()));
            }
            _ => {
                now += Duration::from_millis(u.int_in_range(0..=30_000)?);
                e.handle_timeout(now);
            }
        }
        for (from, d) in input {
            e.handle_datagram(now, here, from, &d);
            datagrams += 1;
        }
        drain_transmits(&mut e, &mut last_out);
        while e.poll_event().is_some() {}
        states.check(&e, &format!("op {op}"));
        // Memory bounded (state_size counts bytes): a datagram may create at
        // most one session (its struct, keys, certificates and the handshake it
        // keeps, a few kB), one reassembly buffer and one pacer, or add its own
        // payload to a flow's buffers.
        assert!(
            e.state_size() <= 16 * 1024 * (datagrams + 1),
            "state_size {} after {datagrams} datagrams",
            e.state_size()
        );
    }
    Ok(())
}

/// Two endpoints over the simulator: the client opens a session and a flow and
/// sends messages; the input interleaves time steps, sends, crafted packets in
/// the session (the client's own packets with chunks mutated, sealed with the
/// session keys), raw datagrams from strangers, replays, and flow close. The
/// server must deliver a prefix of what was sent, in order, exactly once.
pub fn endpoint_pair(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = pair_steps(&mut u);
}

fn message(i: usize, len: usize) -> Vec<u8> {
    let mut v = (i as u32).to_be_bytes().to_vec();
    v.resize(len.max(4), (i % 251) as u8);
    v
}

fn pair_steps(u: &mut Unstructured<'_>) -> Result<()> {
    let kind = if u.arbitrary()? {
        ProfileKind::Flash
    } else {
        ProfileKind::Plain
    };
    let mut net = Network::new(u.arbitrary()?);
    net.record();
    let ca = fixtures::addr(fixtures::CLIENT);
    let sa = fixtures::addr(fixtures::SERVER);
    let client = fixtures::endpoint(&mut net, kind, false, ca);
    let server = fixtures::endpoint(&mut net, kind, true, sa);
    let Some((h, _)) = fixtures::open(&mut net, &client, &server, kind) else {
        panic!("the fixture session did not open");
    };
    let flow = client
        .borrow_mut()
        .open_flow(net.now(), h, b"fuzz".to_vec(), None, FlowOptions::default())
        .expect("flow opens");
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut delivered: Vec<Vec<u8>> = Vec::new();
    let mut server_flow: Option<u64> = None;
    // A crafted packet carrying user data can legitimately add data (it is sealed
    // with the session's keys): the delivery check stops applying after one.
    let mut tainted = false;
    let mut states = [States::default(), States::default()];
    let collect = |server: &fixtures::Ep, delivered: &mut Vec<Vec<u8>>, sf: &mut Option<u64>| {
        while let Some(ev) = server.borrow_mut().poll_event() {
            if let Event::Session { event, .. } = ev {
                match event {
                    SessionEvent::FlowOpened { flow, metadata, .. } if metadata == b"fuzz" => {
                        sf.get_or_insert(flow);
                    }
                    SessionEvent::Message { flow, data } if Some(flow) == *sf => {
                        delivered.push(data)
                    }
                    _ => {}
                }
            }
        }
    };
    for _ in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        let now = net.now();
        let op = u.int_in_range(0..=6u8)?;
        match op {
            0 | 1 => {
                let len = u.int_in_range(0..=4000)?;
                let m = message(sent.len(), len);
                if client.borrow_mut().send(now, h, flow, &m, None).is_ok() {
                    sent.push(m);
                }
            }
            2 => {
                let d = Duration::from_millis(u.int_in_range(1..=20_000)?);
                net.run_until(now + d);
            }
            3 => {
                // Mutate a chunk of the client's last packet in the session and
                // send it again, validly sealed.
                let last = net.records.as_ref().and_then(|r| {
                    r.iter()
                        .rev()
                        .find(|r| r.src == ca && r.dst == sa)
                        .map(|r| r.data.clone())
                });
                let pkt = last.and_then(|d| client.borrow().peek(&d, true));
                if let Some(mut p) = pkt {
                    if !p.chunks.is_empty() && u.arbitrary()? {
                        let i = u.choose_index(p.chunks.len())?;
                        let mut payload = Vec::new();
                        p.chunks[i].emit_payload(&mut payload);
                        mutate(u, &mut payload)?;
                        p.chunks[i] = Chunk::parse(p.chunks[i].chunk_type(), &payload);
                    } else {
                        p.chunks.push(arb::chunk(u)?);
                    }
                    tainted |= p
                        .chunks
                        .iter()
                        .any(|c| matches!(c, Chunk::UserData(_) | Chunk::NextUserData(_)));
                    let crafted = Crafted {
                        session: Some(h),
                        chunks: p.chunks,
                        ..Crafted::default()
                    };
                    if let Ok(d) = client.borrow_mut().send_crafted(now, Some(sa), crafted) {
                        net.inject(ca, sa, d);
                    }
                }
            }
            4 => {
                let from = source(u.arbitrary()?);
                let n = u.int_in_range(0..=600)?;
                let d = u.bytes(n.min(u.len()))?.to_vec();
                if from != ca {
                    net.inject(from, sa, d);
                }
            }
            5 => {
                // Replay (duplicate) an earlier datagram, either direction.
                let old = net.records.as_ref().and_then(|r| {
                    if r.is_empty() {
                        return None;
                    }
                    let i = u.choose_index(r.len()).ok()?;
                    Some((r[i].src, r[i].dst, r[i].data.clone()))
                });
                if let Some((s, d, bytes)) = old {
                    net.inject(s, d, bytes);
                }
            }
            _ => {
                let _ = client.borrow_mut().close_flow(now, h, flow);
            }
        }
        collect(&server, &mut delivered, &mut server_flow);
        for (i, e) in [&client, &server].into_iter().enumerate() {
            states[i].check(&e.borrow(), &format!("op {op}"));
        }
        if !tainted {
            assert!(
                delivered.len() <= sent.len(),
                "more messages delivered than sent"
            );
            for (i, m) in delivered.iter().enumerate() {
                assert_eq!(m, &sent[i], "message {i} delivered out of order or altered");
            }
        }
    }
    // Let everything drain: still a prefix, in order, exactly once.
    let now = net.now();
    net.run_until(now + Duration::from_secs(5));
    collect(&server, &mut delivered, &mut server_flow);
    if !tainted {
        assert!(delivered.len() <= sent.len());
        for (i, m) in delivered.iter().enumerate() {
            assert_eq!(m, &sent[i], "message {i}");
        }
    }
    Ok(())
}
