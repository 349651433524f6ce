//! `Endpoint::send_crafted` with a whole plain packet given as bytes.

use std::sync::Arc;

use rand::SeedableRng;
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::endpoint::{Crafted, Endpoint};
use rtmfp::session::config::EndpointConfig;
use rtmfp::time::Instant;
use rtmfp::wire::{Chunk, Mode};

fn profile() -> Arc<dyn CryptoProfile> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    Arc::new(FlashProfile::new(FlashConfig::client(true), &mut rng).unwrap())
}

#[test]
fn plain_bytes_replace_header_and_chunks() {
    let mut e = Endpoint::new(EndpointConfig::default(), profile(), 1);
    let now = Instant::from_micros(1_000_000);
    let dst = "192.0.2.1:1935".parse().unwrap();
    let d = e
        .send_crafted(
            now,
            Some(dst),
            Crafted {
                chunks: vec![Chunk::Close],
                plain: Some(vec![0x03, 0x01, 0x00, 0x01, 0xaa]),
                ..Default::default()
            },
        )
        .unwrap();
    let p = e
        .peek(&d, true)
        .expect("opens under the Default Session Key");
    assert_eq!(p.header.mode, Mode::Startup);
    assert_eq!(p.header.timestamp, None);
    assert_eq!(p.chunks.len(), 1);
    assert!(matches!(&p.chunks[0], Chunk::Ping(x) if x.message == [0xaa]));
    // Mode 0 can be sent (and does not parse).
    let d = e
        .send_crafted(
            now,
            Some(dst),
            Crafted {
                plain: Some(vec![0x00, 0x01, 0x00, 0x00]),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(e.peek(&d, true).is_none());
}
