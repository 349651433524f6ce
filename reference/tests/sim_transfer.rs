//! Whole sessions moving data over the simulated network.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rtmfp::congestion::trace;
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::endpoint::Event;
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::sim::{LinkConfig, Network};

mod common;
use common::sim::*;

/// A message body that says which message it is.
fn body(i: u32, len: usize) -> Vec<u8> {
    let mut v = i.to_be_bytes().to_vec();
    v.resize(len.max(4), (i % 251) as u8);
    v
}

#[test]
fn small_transfer_plain_no_loss() {
    let mut net = Network::new(1);
    let (ca, sa) = (addr("10.0.0.1:5000"), addr("10.0.0.2:1935"));
    let client = plain_node(&mut net, "client", ca, 1, EndpointConfig::default());
    let server = plain_node(&mut net, "server", sa, 2, EndpointConfig::default());
    let (h, _) = open(&mut net, &client, &server, sa, b"server");
    let now = net.now();
    let flow = client
        .borrow_mut()
        .open_flow(now, h, b"meta".to_vec(), None, FlowOptions::default())
        .unwrap();
    for i in 0..100 {
        client
            .borrow_mut()
            .send(now, h, flow, &body(i, 3000), None)
            .unwrap();
    }
    client.borrow_mut().close_flow(now, h, flow).unwrap();
    let mut got = Vec::new();
    let mut complete = false;
    net.run_while(now + Duration::from_secs(30), |_| {
        for ev in drain(&server) {
            if let Event::Session { event, .. } = ev {
                match event {
                    SessionEvent::Message { data, .. } => got.push(data),
                    SessionEvent::FlowComplete { .. } => complete = true,
                    _ => {}
                }
            }
        }
        complete
    });
    assert_eq!(got.len(), 100);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m, &body(i as u32, 3000));
    }
    let sender_done = drain(&client).iter().any(|e| {
        matches!(
            e,
            Event::Session {
                event: SessionEvent::SendFlowComplete { .. },
                ..
            }
        )
    });
    assert!(
        sender_done
            || client
                .borrow()
                .session(h)
                .unwrap()
                .data()
                .send_flow(flow)
                .is_some()
    );
}

/// Whether `m` is `body(i, len)` (checked without building it).
fn is_body(m: &[u8], i: u32, len: usize) -> bool {
    m.len() == len.max(4)
        && m[..4] == i.to_be_bytes()
        && m[4..].iter().all(|&b| b == (i % 251) as u8)
}

/// What a receiver saw of one flow: its messages, or (for the bulk flow, whose
/// 52 MB a test need not hold) how many arrived and the first that was not
/// `body(index, 16 KiB)`.
#[derive(Default)]
struct Received {
    messages: Vec<Vec<u8>>,
    bulk_count: u32,
    bulk_mismatch: Option<u32>,
    complete: bool,
    gaps: u64,
}

fn collect(server: &Ep, rx: &mut BTreeMap<u64, Received>, bulk: Option<u64>) {
    for ev in drain(server) {
        if let Event::Session { event, .. } = ev {
            match event {
                SessionEvent::Message { flow, data } if Some(flow) == bulk => {
                    let r = rx.entry(flow).or_default();
                    if !is_body(&data, r.bulk_count, 16 * 1024) {
                        r.bulk_mismatch.get_or_insert(r.bulk_count);
                    }
                    r.bulk_count += 1;
                }
                SessionEvent::Message { flow, data } => {
                    rx.entry(flow).or_default().messages.push(data)
                }
                SessionEvent::FlowComplete { flow } => rx.entry(flow).or_default().complete = true,
                SessionEvent::Gap { flow, count } => rx.entry(flow).or_default().gaps += count,
                _ => {}
            }
        }
    }
}

/// The acceptance test of the engine: 50 MB between two Flash endpoints over a
/// link with 5% loss, reordering and duplication. Every reliable message arrives
/// exactly once and in order; messages abandoned by deadline before any of their
/// fragments was sent are never delivered (and none is delivered twice or in
/// part); the congestion trace obeys §3.5.2.
#[test]
fn fifty_megabytes_under_loss_reordering_duplication() {
    // The bulk flow's check tells messages apart.
    assert!(is_body(&body(7, 16384), 7, 16384));
    assert!(!is_body(&body(7, 16384), 8, 16384) && !is_body(&body(7, 100), 7, 16384));
    let mut net = Network::new(42);
    net.set_default_link(LinkConfig {
        delay: Duration::from_millis(15),
        jitter: Duration::from_millis(2),
        loss: 0.05,
        duplicate: 0.02,
        reorder: 0.05,
        reorder_delay: Duration::from_millis(20),
        bandwidth: Some(40_000_000),
        queue_bytes: 512 * 1024,
        ..Default::default()
    });
    let (ca, sa) = (addr("10.0.0.1:5000"), addr("10.0.0.2:1935"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let cp: Arc<dyn CryptoProfile> =
        Arc::new(FlashProfile::new(FlashConfig::client(true), &mut rng).unwrap());
    let sp: Arc<dyn CryptoProfile> =
        Arc::new(FlashProfile::new(FlashConfig::server(true), &mut rng).unwrap());
    let config = EndpointConfig {
        trace: true,
        receive_buffer: 4 << 20,
        ..Default::default()
    };
    let client = endpoint(&mut net, cp, ca, 1, config.clone());
    let server = endpoint(&mut net, sp, sa, 2, config);
    let (h, sh) = open(&mut net, &client, &server, sa, b"\x07\x0artmfp:");
    let start = net.now();

    // Flow A: 3200 reliable 16 KiB messages (52 MB), in order.
    // Flow B: 2000 small messages, one in three with a 30 ms deadline.
    let fa = client
        .borrow_mut()
        .open_flow(start, h, b"bulk".to_vec(), None, FlowOptions::default())
        .unwrap();
    let fb = client
        .borrow_mut()
        .open_flow(
            start,
            h,
            b"deadline".to_vec(),
            None,
            FlowOptions {
                priority: 0,
                time_critical: false,
            },
        )
        .unwrap();
    let total_a = 3200u32;
    let mut next_a = 0u32;
    let mut b_msgs: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut b_deadline = std::collections::BTreeSet::new();
    let mut next_b = 0u32;
    let mut abandoned: Vec<(u64, bool)> = Vec::new();
    let mut rx: BTreeMap<u64, Received> = BTreeMap::new();
    let deadline_limit = start + Duration::from_secs(3600);
    let done = net.run_while(deadline_limit, |net| {
        let now = net.now();
        let mut c = client.borrow_mut();
        // Keep a bounded amount queued so memory stays small.
        let queued = c.session(h).unwrap().data().send_flow(fa).unwrap().queued();
        if queued < 400 {
            for _ in 0..64 {
                if next_a == total_a {
                    break;
                }
                // The bounded send buffer: stop at WouldBlock, go on later.
                match c.send(now, h, fa, &body(next_a, 16 * 1024), None) {
                    Ok(_) => next_a += 1,
                    Err(rtmfp::flow::FlowError::WouldBlock) => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        if next_a == total_a
            && c.session(h).unwrap().data().send_flow(fa).unwrap().state
                == rtmfp::flow::SendState::F_OPEN
        {
            c.close_flow(now, h, fa).unwrap();
        }
        if next_b < 2000 && now >= start + Duration::from_millis(u64::from(next_b) * 20) {
            let deadline = next_b
                .is_multiple_of(3)
                .then(|| now + Duration::from_millis(30));
            let m = body(1_000_000 + next_b, 200);
            let id = c.send(now, h, fb, &m, deadline).unwrap();
            if deadline.is_some() {
                b_deadline.insert(id);
            }
            b_msgs.insert(id, m);
            next_b += 1;
            if next_b == 2000 {
                c.close_flow(now, h, fb).unwrap();
            }
        }
        while let Some(ev) = c.poll_event() {
            if let Event::Session {
                event: SessionEvent::MessagesAbandoned { messages, .. },
                ..
            } = ev
            {
                abandoned.extend(messages);
            }
        }
        drop(c);
        collect(&server, &mut rx, Some(fa));
        rx.get(&fa).is_some_and(|r| r.complete) && rx.get(&fb).is_some_and(|r| r.complete)
    });
    assert!(
        done,
        "both flows completed; rx: {:?}",
        rx.iter()
            .map(|(k, v)| (*k, v.messages.len() + v.bulk_count as usize, v.complete))
            .collect::<Vec<_>>()
    );
    let elapsed = net.now() - start;

    // Flow A: exactly once, in order, intact.
    let a = &rx[&fa];
    assert_eq!(a.bulk_count, total_a);
    assert_eq!(a.bulk_mismatch, None, "the first message not as sent");
    assert_eq!(a.gaps, 0);

    // Flow B: in order, at most once, never a message abandoned before it was sent.
    let b = &rx[&fb];
    let delivered: Vec<u64> = b
        .messages
        .iter()
        .map(|m| {
            *b_msgs
                .iter()
                .find(|(_, v)| *v == m)
                .expect("a message that was sent")
                .0
        })
        .collect();
    assert!(
        delivered.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates"
    );
    for id in b_msgs.keys() {
        if !b_deadline.contains(id) {
            assert!(delivered.contains(id), "reliable message {id} delivered");
        }
    }
    for (id, ever_sent) in &abandoned {
        assert!(
            b_deadline.contains(id),
            "only deadline messages are abandoned"
        );
        if !ever_sent {
            assert!(
                !delivered.contains(id),
                "message {id} abandoned before sending was delivered"
            );
        }
    }
    assert!(
        abandoned.iter().any(|a| !a.1),
        "some messages expired unsent: {}",
        abandoned.len()
    );

    // The congestion trace obeys §3.5.2.
    let c = client.borrow();
    let s = c.session(h).unwrap();
    let t = s.data().trace.as_ref().unwrap();
    assert!(t.samples.len() > 1000);
    assert_eq!(trace::check(&t.samples), vec![]);
    assert!(
        s.data().stats.losses > 100,
        "loss was detected: {:?}",
        s.data().stats
    );
    let bytes = u64::from(total_a) * 16 * 1024;
    eprintln!(
        "50 MB in {:.1} s simulated ({:.2} MB/s), {:?}, sim counts {:?}",
        elapsed.as_secs_f64(),
        bytes as f64 / elapsed.as_secs_f64() / 1e6,
        s.data().stats,
        net.counts
    );
    let _ = sh;
}
