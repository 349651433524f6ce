//! An idle open session costs under 8 KiB of heap, at the responder and at the
//! initiator (measured with a counting global allocator; this file holds one test
//! so nothing else allocates concurrently).

mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use rtmfp::endpoint::Endpoint;
use rtmfp::session::config::EndpointConfig;
use rtmfp::sim::Network;
use rtmfp::time::Instant;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::live;

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

/// Opens `n` sessions from `n` clients to one server and lets them idle; returns
/// the heap held by the server endpoint and by one client endpoint.
fn measure(n: usize) -> (isize, isize) {
    let sp = common::sim::flash(true, 1, None);
    let cp = common::sim::flash(false, 2, None);
    let sa: SocketAddr = "10.0.0.1:1935".parse().unwrap();
    let mut net = Network::new(1);
    let server = Rc::new(RefCell::new(Endpoint::new(
        EndpointConfig::default(),
        sp,
        1,
    )));
    net.add_node(Box::new(server.clone()), &[sa]);
    let mut clients = Vec::new();
    for i in 0..n {
        let a = SocketAddr::from(([10, 2, (i >> 8) as u8, i as u8], 5000));
        let c = Rc::new(RefCell::new(Endpoint::new(
            EndpointConfig::default(),
            cp.clone(),
            i as u64 + 10,
        )));
        net.add_node(Box::new(c.clone()), &[a]);
        c.borrow_mut()
            .connect(Instant::ZERO, b"\x07\x0artmfp:".to_vec(), &[sa]);
        clients.push(c);
    }
    // Open, then idle for a minute (keepalives flow, nothing else).
    net.run_until(Instant::ZERO + Duration::from_secs(60));
    assert_eq!(common::sim::open_sessions(&server.borrow()), n);
    while server.borrow_mut().poll_event().is_some() {}
    for c in &clients {
        while c.borrow_mut().poll_event().is_some() {}
    }
    drop(net);
    // Heap held by the server endpoint: the drop in live bytes when it goes.
    let before = live();
    let one_client = clients.pop();
    let after_client = live();
    drop(one_client);
    let client_bytes = after_client - live();
    let _ = before;
    drop(clients);
    let s = live();
    drop(server);
    (s - live(), client_bytes)
}

#[test]
fn idle_open_session_costs_under_8_kib() {
    let (server_0, client_0) = {
        // Baseline: an endpoint with one session, to subtract fixed costs.
        let (s, c) = measure(1);
        (s, c)
    };
    let n = 100;
    let (server_n, _) = measure(n + 1);
    let per_session = (server_n - server_0) / n as isize;
    // A fresh initiator endpoint with no session, for the initiator's baseline.
    let cp = common::sim::flash(false, 2, None);
    let before = live();
    let fresh = Endpoint::new(EndpointConfig::default(), cp, 3);
    let fresh_bytes = live() - before;
    drop(fresh);
    let initiator_session = client_0 - fresh_bytes;
    eprintln!(
        "responder: {per_session} bytes per idle session; initiator: {initiator_session} bytes ({client_0} with the endpoint)"
    );
    assert!(per_session > 0 && initiator_session > 0);
    assert!(
        per_session < 8 * 1024,
        "responder session costs {per_session} bytes"
    );
    assert!(
        initiator_session < 8 * 1024,
        "initiator session costs {initiator_session} bytes"
    );
}
