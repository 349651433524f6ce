//! RFC 7016 §3.3: session ID 0 is reserved for startup and MUST NOT be used for an
//! active session; an IIKeying asking for initiatorSessionID 0 opens nothing.

mod common;

use std::net::SocketAddr;

use rtmfp::endpoint::{Crafted, Endpoint};
use rtmfp::session::config::EndpointConfig;
use rtmfp::time::Instant;
use rtmfp::wire::Chunk;

#[test]
fn s3_3_iikeying_for_session_id_zero_is_refused() {
    let (ca, sa): (SocketAddr, SocketAddr) = (
        "10.0.0.1:5000".parse().unwrap(),
        "10.0.0.2:1935".parse().unwrap(),
    );
    let mut client = Endpoint::new(
        EndpointConfig::default(),
        common::sim::flash(false, 1, None),
        1,
    );
    let mut server = Endpoint::new(
        EndpointConfig::default(),
        common::sim::flash(true, 2, None),
        2,
    );
    let now = Instant::from_millis(10);
    client.connect(now, b"\x07\x0artmfp:".to_vec(), &[sa]);
    let ihello = client.poll_transmit().unwrap();
    server.handle_datagram(now, sa, ca, &ihello.data);
    let rhello = server.poll_transmit().unwrap();
    client.handle_datagram(now, ca, sa, &rhello.data);
    let iikeying = client.poll_transmit().unwrap();
    let p = client.peek(&iikeying.data, true).unwrap();
    let Some(Chunk::IIKeying(mut ii)) = p.chunks.into_iter().next() else {
        panic!("not an IIKeying")
    };
    // The genuine IIKeying, with the session ID changed to 0.
    ii.initiator_session_id = 0;
    let forged = client
        .send_crafted(
            now,
            Some(sa),
            Crafted {
                chunks: vec![Chunk::IIKeying(ii)],
                ..Default::default()
            },
        )
        .unwrap();
    server.handle_datagram(now, sa, ca, &forged);
    assert!(
        server.poll_transmit().is_none(),
        "no RIKeying for session ID 0"
    );
    assert_eq!(
        server
            .stats
            .dropped(rtmfp::stats::DropReason::IIKeyingSessionIdZero),
        1
    );
    // The genuine one is answered.
    server.handle_datagram(now, sa, ca, &iikeying.data);
    assert!(server.poll_transmit().is_some());
}
