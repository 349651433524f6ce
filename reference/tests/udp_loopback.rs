//! The engine over real UDP with the tokio runtime: a Flash-profile handshake and
//! 10 MB echoed back through `app::Echo`, on 127.0.0.1 (and a short exchange on ::1).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use rtmfp::app::Echo;
use rtmfp::endpoint::{Endpoint, Event};
use rtmfp::runtime::{Control, Driver};
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;

async fn echo_round_trip(bind: &str, total: usize) -> (usize, Duration) {
    let server_ep = Endpoint::new(
        EndpointConfig::default(),
        common::sim::flash(true, 1, None),
        1,
    );
    let mut server = Driver::bind(server_ep, &[bind.parse().unwrap()])
        .await
        .unwrap();
    let server_addr: SocketAddr = server.local_addrs()[0];
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(async move {
        let mut echo = Echo::new(false);
        server
            .run(
                Some(Duration::from_secs(60)),
                async {
                    let _ = stop_rx.await;
                },
                |ep, now, ev| {
                    if let Event::Session { session, event } = ev {
                        echo.on_event(ep, now, session, event);
                    }
                    Control::Continue
                },
            )
            .await
            .unwrap();
        echo.bytes
    });

    let client_ep = Endpoint::new(
        EndpointConfig::default(),
        common::sim::flash(false, 2, None),
        2,
    );
    let wildcard = if server_addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let mut client = Driver::bind(client_ep, &[wildcard.parse().unwrap()])
        .await
        .unwrap();
    let start = client.now();
    let session = client
        .endpoint
        .connect(start, b"\x07\x0artmfp:".to_vec(), &[server_addr]);
    let data: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
    let mut echoed = Vec::new();
    let mut flow = None;
    let mut opened = None;
    // The bounded send buffer: queue until WouldBlock, go on at Writable.
    let mut off = 0;
    let feed = |ep: &mut Endpoint, now, s, f, off: &mut usize| {
        while *off < data.len() {
            let end = (*off + 16 * 1024).min(data.len());
            match ep.send(now, s, f, &data[*off..end], None) {
                Ok(_) => *off = end,
                Err(rtmfp::flow::FlowError::WouldBlock) => return,
                Err(e) => panic!("{e}"),
            }
        }
    };
    client
        .run(
            Some(Duration::from_secs(60)),
            std::future::pending::<()>(),
            |ep, now, ev| {
                match ev {
                    Event::SessionOpened { session: s, .. } if s == session => {
                        opened = Some(now);
                        let f = ep
                            .open_flow(now, s, b"loopback".to_vec(), None, FlowOptions::default())
                            .unwrap();
                        feed(ep, now, s, f, &mut off);
                        flow = Some(f);
                    }
                    Event::Session {
                        session: s,
                        event: SessionEvent::Writable { flow: f },
                    } => feed(ep, now, s, f, &mut off),
                    Event::Session {
                        event: SessionEvent::Message { data: d, .. },
                        ..
                    } => {
                        echoed.extend_from_slice(&d);
                        if echoed.len() >= data.len() {
                            return Control::Stop;
                        }
                    }
                    Event::SessionOpenFailed { reason, .. }
                    | Event::SessionClosed { reason, .. } => panic!("{reason}"),
                    _ => {}
                }
                Control::Continue
            },
        )
        .await
        .unwrap();
    let elapsed = client.now() - opened.expect("session opened");
    let _ = stop_tx.send(());
    let server_bytes = server_task.await.unwrap();
    assert_eq!(server_bytes, total as u64, "the server received everything");
    assert!(flow.is_some());
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "echo is byte for byte what was sent");
    (echoed.len(), elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flash_handshake_and_ten_megabytes_echoed_over_udp() {
    let (n, t) = echo_round_trip("127.0.0.1:0", 10_000_000).await;
    eprintln!("10 MB echoed in {t:?}");
    assert_eq!(n, 10_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_loopback() {
    // Not every CI machine has ::1; skip quietly if it cannot bind.
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let (n, _) = echo_round_trip("[::1]:0", 200_000).await;
    assert_eq!(n, 200_000);
}
