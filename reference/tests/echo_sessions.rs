//! `app::Echo` serving several sessions at once over the simulated network.
//!
//! Regression: a peer rejecting its return flow (RFC 7016 §3.6.3.7, reported to
//! the echo as `SendFlowException`) made the echo forget the return flow of
//! EVERY session whose return flow had the same flow ID. Flow IDs are chosen
//! per session (§3.6.2.1), so concurrent sessions reuse the same ones: the
//! other session's later messages were acknowledged but never echoed. (Seen
//! live as `flow-sender.single-return-association` failing when the
//! conformance suite ran cases in parallel against `rtmfp serve`.)

use std::time::Duration;

use rtmfp::app::Echo;
use rtmfp::endpoint::{Event, SessionHandle, State};
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::sim::Network;

mod common;
use common::sim::*;

/// The server side: every session event goes to the echo, as in `rtmfp serve`.
fn serve(server: &Ep, echo: &mut Echo, now: rtmfp::time::Instant) {
    loop {
        let ev = server.borrow_mut().poll_event();
        let Some(ev) = ev else { break };
        if let Event::Session { session, event } = ev {
            echo.on_event(&mut server.borrow_mut(), now, session, event);
        }
    }
}

/// What a client saw: the return flow opened towards it and the echoed messages.
#[derive(Default)]
struct Seen {
    return_flow: Option<u64>,
    echoed: Vec<Vec<u8>>,
    rejected: bool,
}

/// Drains a client's events; if `reject` it rejects the return flow (§3.6.3.7).
fn client_events(
    client: &Ep,
    h: SessionHandle,
    now: rtmfp::time::Instant,
    reject: bool,
    seen: &mut Seen,
) {
    loop {
        let ev = client.borrow_mut().poll_event();
        let Some(ev) = ev else { break };
        let Event::Session { session, event } = ev else {
            continue;
        };
        assert_eq!(session, h);
        match event {
            SessionEvent::FlowOpened { flow, .. } => {
                seen.return_flow = Some(flow);
                if reject {
                    client
                        .borrow_mut()
                        .reject_flow(now, h, flow, 0)
                        .expect("return flow open");
                    seen.rejected = true;
                }
            }
            SessionEvent::Message { flow, data } => {
                assert_eq!(Some(flow), seen.return_flow);
                seen.echoed.push(data);
            }
            _ => {}
        }
    }
}

#[test]
fn a_return_flow_rejected_on_one_session_leaves_the_other_sessions_echo_alone() {
    let mut net = Network::new(7);
    let sa = addr("10.0.0.1:1935");
    let (aa, ba) = (addr("10.0.0.2:5000"), addr("10.0.0.3:5000"));
    let server = plain_node(&mut net, "server", sa, 1, EndpointConfig::default());
    let a = plain_node(&mut net, "a", aa, 2, EndpointConfig::default());
    let b = plain_node(&mut net, "b", ba, 3, EndpointConfig::default());
    let mut echo = Echo::new(false);

    let ha = a.borrow_mut().connect(net.now(), b"server".to_vec(), &[sa]);
    let hb = b.borrow_mut().connect(net.now(), b"server".to_vec(), &[sa]);
    let open = |c: &Ep, h| {
        c.borrow()
            .session(h)
            .is_some_and(|s| s.state() == State::S_OPEN)
    };
    let limit = net.now() + Duration::from_secs(10);
    net.run_while(limit, |n| {
        serve(&server, &mut echo, n.now());
        open(&a, ha) && open(&b, hb)
    });
    assert!(open(&a, ha) && open(&b, hb), "both sessions open");

    let msg = |i: u8| vec![i; 400];
    let (mut seen_a, mut seen_b) = (Seen::default(), Seen::default());

    // Session A: flow f, messages 1-3, all echoed on A's return flow.
    let now = net.now();
    let fa = a
        .borrow_mut()
        .open_flow(now, ha, b"a".to_vec(), None, FlowOptions::default())
        .unwrap();
    for i in 1..=3 {
        a.borrow_mut().send(now, ha, fa, &msg(i), None).unwrap();
    }
    let limit = now + Duration::from_secs(10);
    net.run_while(limit, |n| {
        let now = n.now();
        serve(&server, &mut echo, now);
        client_events(&a, ha, now, false, &mut seen_a);
        seen_a.echoed.len() == 3
    });
    assert_eq!(seen_a.echoed, [msg(1), msg(2), msg(3)]);

    // Session B: one message; B rejects the return flow the echo opens. The
    // server learns it from B's Flow Exception Report.
    let now = net.now();
    let fb = b
        .borrow_mut()
        .open_flow(now, hb, b"b".to_vec(), None, FlowOptions::default())
        .unwrap();
    b.borrow_mut().send(now, hb, fb, &msg(9), None).unwrap();
    let mut exception_seen = false;
    let limit = now + Duration::from_secs(10);
    net.run_while(limit, |n| {
        let now = n.now();
        loop {
            let ev = server.borrow_mut().poll_event();
            let Some(ev) = ev else { break };
            if let Event::Session { session, event } = ev {
                if matches!(event, SessionEvent::SendFlowException { .. }) {
                    exception_seen = true;
                }
                echo.on_event(&mut server.borrow_mut(), now, session, event);
            }
        }
        client_events(&b, hb, now, true, &mut seen_b);
        client_events(&a, ha, now, false, &mut seen_a);
        exception_seen
    });
    assert!(
        seen_b.rejected && exception_seen,
        "B rejected its return flow"
    );
    // What makes the sessions collide: flow IDs are per session, so both return
    // flows got the same one.
    assert_eq!(seen_b.return_flow, seen_a.return_flow);

    // Session A: messages 4-6 must still be echoed on A's return flow.
    let now = net.now();
    for i in 4..=6 {
        a.borrow_mut().send(now, ha, fa, &msg(i), None).unwrap();
    }
    let limit = now + Duration::from_secs(10);
    net.run_while(limit, |n| {
        let now = n.now();
        serve(&server, &mut echo, now);
        client_events(&a, ha, now, false, &mut seen_a);
        client_events(&b, hb, now, true, &mut seen_b);
        seen_a.echoed.len() == 6
    });
    assert_eq!(echo.messages, 7, "the server received all seven messages");
    // Which messages came back (each is 400 bytes of its number), then the bytes.
    let numbers: Vec<u8> = seen_a.echoed.iter().map(|m| m[0]).collect();
    assert_eq!(
        numbers,
        [1, 2, 3, 4, 5, 6],
        "A's messages 4-6 are echoed after B rejected its own return flow"
    );
    assert_eq!(seen_a.echoed, (1..=6).map(msg).collect::<Vec<_>>());
}
