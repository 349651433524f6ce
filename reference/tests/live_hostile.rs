//! Issue 15, live: hostile clients against a running `rtmfp serve` (Flash
//! profile) on loopback. Ignored by default; run one at a time with the server's
//! address in `RTMFP_LIVE_TARGET` and watch the server's memory (`--stats`, or
//! its RSS in /proc):
//!
//! ```sh
//! rtmfp serve --bind 127.0.0.1:19350 --stats 1 &
//! RTMFP_LIVE_TARGET=127.0.0.1:19350 cargo test -p rtmfp --features test-hooks \
//!     --test live_hostile -- --ignored --nocapture live_flood
//! ```
//!
//! - `live_out_of_order_200_flows`: one authenticated session opens 200 flows
//!   and sends user data on them with the first fragment of each never sent;
//! - `live_flood`: 10^6 hostile datagrams (random, mutated, IHellos from many
//!   sockets, forged-cookie IIKeyings, a genuine IIKeying replayed from many
//!   sockets, Packet Fragments, session IDs that unscramble to 0, huge chunk
//!   lengths) at about 20,000 a second, while a legitimate client opens a
//!   session with a fragmented IIKeying.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use common::sim::{ANY_SERVER, flash};
use rand::{Rng, SeedableRng};
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::endpoint::{Crafted, Endpoint, SessionHandle, State};
use rtmfp::session::config::EndpointConfig;
use rtmfp::time::Instant;
use rtmfp::wire::{
    Chunk, Fragmentation, Header, Mode, Opt, PacketFragment, UserData, UserDataFlags, multiplex,
    user_data_option,
};

fn target() -> SocketAddr {
    std::env::var("RTMFP_LIVE_TARGET")
        .unwrap_or_else(|_| "127.0.0.1:19350".into())
        .parse()
        .expect("RTMFP_LIVE_TARGET=HOST:PORT")
}

/// An endpoint on a real UDP socket, driven by hand.
struct Live {
    ep: Endpoint,
    sock: UdpSocket,
    local: SocketAddr,
    start: std::time::Instant,
}

impl Live {
    /// On `ip` (any loopback address: 127.0.0.0/8 is all local on Linux).
    fn new(ip: &str, profile: Arc<dyn CryptoProfile>, config: EndpointConfig, seed: u64) -> Self {
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        let local = sock.local_addr().unwrap();
        let mut ep = Endpoint::new(config, profile, seed);
        ep.set_local_addresses(vec![local]);
        Live {
            ep,
            sock,
            local,
            start: std::time::Instant::now(),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    /// Sends what the endpoint queued, receives for up to `wait`, runs timers.
    fn pump(&mut self, wait: Duration) {
        while let Some(t) = self.ep.poll_transmit() {
            let _ = self.sock.send_to(&t.data, t.dst);
        }
        let now = self.now();
        let wait = self
            .ep
            .next_timeout()
            .map_or(wait, |t| t.saturating_duration_since(now).min(wait))
            .max(Duration::from_micros(100));
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 2048];
        if let Ok((n, from)) = self.sock.recv_from(&mut buf) {
            let now = self.now();
            self.ep.handle_datagram(now, self.local, from, &buf[..n]);
        }
        let now = self.now();
        if self.ep.next_timeout().is_some_and(|t| t <= now) {
            self.ep.handle_timeout(now);
        }
        while self.ep.poll_event().is_some() {}
        while let Some(t) = self.ep.poll_transmit() {
            let _ = self.sock.send_to(&t.data, t.dst);
        }
    }

    /// Connects to the target; returns the session once open.
    fn connect(&mut self, within: Duration) -> Option<SessionHandle> {
        let now = self.now();
        let h = self.ep.connect(now, ANY_SERVER.to_vec(), &[target()]);
        let end = std::time::Instant::now() + within;
        while std::time::Instant::now() < end {
            self.pump(Duration::from_millis(5));
            if self
                .ep
                .session(h)
                .is_some_and(|s| s.state() == State::S_OPEN)
            {
                return Some(h);
            }
        }
        None
    }
}

fn user_data(flow: u64, seq: u64, first: bool, len: usize) -> Chunk {
    Chunk::UserData(UserData {
        flags: UserDataFlags {
            fragment_control: Fragmentation::Middle,
            ..Default::default()
        },
        flow_id: flow,
        sequence_number: seq,
        fsn_offset: seq,
        options: first.then(|| vec![Opt::new(user_data_option::METADATA, b"ooo".to_vec())]),
        user_data: vec![0x5a; len],
    })
}

#[test]
#[ignore = "live: needs `rtmfp serve` at RTMFP_LIVE_TARGET"]
fn live_out_of_order_200_flows() {
    let mut c = Live::new(
        "127.0.0.1",
        flash(false, 11, None),
        EndpointConfig::default(),
        11,
    );
    let h = c.connect(Duration::from_secs(10)).expect("session opens");
    // 200 flows × 1100 fragments of 1000 bytes (220 MB), sequence numbers from
    // 2: the first fragment of each flow is never sent. About 20,000 a second.
    let mut sent = 0u64;
    let t0 = std::time::Instant::now();
    for round in 0..1100u64 {
        for flow in 1..=200u64 {
            let chunk = user_data(flow, round + 2, round == 0, 1000);
            let now = c.now();
            c.ep.send_crafted(
                now,
                None,
                Crafted {
                    session: Some(h),
                    chunks: vec![chunk],
                    ..Default::default()
                },
            )
            .unwrap();
            sent += 1;
            if sent.is_multiple_of(20) {
                c.pump(Duration::from_micros(100));
                let due = Duration::from_micros(sent * 50);
                if let Some(w) = due.checked_sub(t0.elapsed()) {
                    std::thread::sleep(w);
                }
            }
        }
        if round % 100 == 0 {
            eprintln!("{sent} fragments sent in {:.1?}", t0.elapsed());
        }
    }
    eprintln!(
        "{sent} fragments ({} MB) sent in {:.1?}",
        sent / 1000,
        t0.elapsed()
    );
    let now = c.now();
    c.ep.close(now, h, false);
    for _ in 0..200 {
        c.pump(Duration::from_millis(5));
    }
}

#[test]
#[ignore = "live: needs `rtmfp serve` at RTMFP_LIVE_TARGET"]
fn live_flood() {
    let total: u64 = std::env::var("RTMFP_FLOOD_TOTAL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dst = target();
    // A genuine handshake's IHello and IIKeying, to mutate and replay.
    let mut rec = Live::new(
        "127.0.0.1",
        flash(false, 21, None),
        EndpointConfig::default(),
        21,
    );
    let now = rec.now();
    rec.ep.connect(now, ANY_SERVER.to_vec(), &[dst]);
    let ihello = rec.ep.poll_transmit().unwrap().data;
    rec.sock.send_to(&ihello, dst).unwrap();
    let mut buf = [0u8; 2048];
    rec.sock
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let (n, from) = rec.sock.recv_from(&mut buf).expect("RHello");
    let now = rec.now();
    let local = rec.local;
    rec.ep.handle_datagram(now, local, from, &buf[..n]);
    let iikeying = rec.ep.poll_transmit().unwrap().data;
    let parsed = rec.ep.peek(&iikeying, true).expect("our IIKeying");
    let Some(Chunk::IIKeying(ii)) = parsed.chunks.into_iter().next() else {
        panic!("IIKeying")
    };

    // The legitimate client, in its own thread: a certificate with three DH
    // keys (908 bytes) and 200-byte startup packets, so its IIKeying goes as
    // Packet Fragments (§3.4), while the flood runs.
    let legit = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(10));
        let mut cc = FlashConfig::client(false);
        cc.groups = vec![16, 14, 2];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let cp: Arc<dyn CryptoProfile> = Arc::new(FlashProfile::new(cc, &mut rng).unwrap());
        let config = EndpointConfig {
            max_startup_packet: 200,
            ..Default::default()
        };
        // Its own host: 127.0.0.2 (the flood comes from 127.0.1.0/24).
        let mut c = Live::new("127.0.0.2", cp, config, 31);
        let t = std::time::Instant::now();
        let opened = c.connect(Duration::from_secs(30)).is_some();
        (opened, t.elapsed())
    });

    // 64 sources on 64 addresses (as spoofed sources would be).
    let socks: Vec<UdpSocket> = (1..=64)
        .map(|i| {
            let s = UdpSocket::bind(format!("127.0.1.{i}:0")).unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let mut forger = Endpoint::new(EndpointConfig::default(), flash(false, 22, None), 22);
    let mut answers = 0u64;
    let t0 = std::time::Instant::now();
    for i in 0..total {
        let kind = i % 8;
        let d: Vec<u8> = match kind {
            // Random bytes.
            0 => (0..rng.gen_range(1..1200)).map(|_| rng.r#gen()).collect(),
            // A mutated genuine packet.
            1 => {
                let mut d = if rng.r#gen() {
                    ihello.clone()
                } else {
                    iikeying.clone()
                };
                for _ in 0..rng.gen_range(1..8) {
                    let k = rng.gen_range(0..d.len());
                    d[k] ^= rng.gen_range(1..=255u8);
                }
                d
            }
            // The genuine IHello, from many sockets.
            2 => ihello.clone(),
            // An IIKeying with a forged cookie.
            3 => {
                let mut f = ii.clone();
                rng.fill(&mut f.cookie_echo[..]);
                forger
                    .send_crafted(
                        Instant::ZERO,
                        Some(dst),
                        Crafted {
                            chunks: vec![Chunk::IIKeying(f)],
                            ..Default::default()
                        },
                    )
                    .unwrap()
            }
            // The genuine IIKeying replayed from other sockets (Cookie Change).
            4 => iikeying.clone(),
            // A Packet Fragment that never completes.
            5 => forger
                .send_crafted(
                    Instant::ZERO,
                    Some(dst),
                    Crafted {
                        header: Some(Header::new(Mode::Startup)),
                        chunks: vec![Chunk::PacketFragment(PacketFragment {
                            more_fragments: true,
                            reserved: 0,
                            packet_id: rng.r#gen(),
                            fragment_num: rng.gen_range(0..4),
                            packet_fragment: vec![0xa5; rng.gen_range(100..1000)],
                        })],
                        ..Default::default()
                    },
                )
                .unwrap(),
            // A session ID that unscrambles to 0 with a random body.
            6 => {
                let body: Vec<u8> = (0..rng.gen_range(8..600)).map(|_| rng.r#gen()).collect();
                let mut d = Vec::new();
                multiplex::mux(0, &body, &mut d);
                d
            }
            // A huge chunk length.
            _ => forger
                .send_crafted(
                    Instant::ZERO,
                    Some(dst),
                    Crafted {
                        plain: Some(vec![0x0b, 0x00, 0x01, 0x30, 0xff, 0xff, 0x01, 0x02]),
                        ..Default::default()
                    },
                )
                .unwrap(),
        };
        while forger.poll_transmit().is_some() {}
        let s = &socks[(i % 64) as usize];
        let _ = s.send_to(&d, dst);
        if i % 64 == 63 {
            for s in &socks {
                while s.recv_from(&mut buf).is_ok() {
                    answers += 1;
                }
            }
            // About 20,000 a second.
            let due = Duration::from_micros(i * 50);
            if let Some(w) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(w);
            }
        }
        if i % 100_000 == 0 {
            eprintln!(
                "{i} sent in {:.1?}, {answers} answers received",
                t0.elapsed()
            );
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "{total} hostile datagrams in {secs:.1} s ({:.0}/s); {answers} answers received ({:.0}/s)",
        total as f64 / secs,
        answers as f64 / secs
    );
    let (opened, took) = legit.join().unwrap();
    eprintln!("legitimate fragmented handshake during the flood: opened {opened} in {took:.1?}");
    assert!(opened, "the legitimate fragmented handshake succeeded");
}
