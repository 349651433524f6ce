//! A session's data packets fill its datagrams under its own framing, and
//! never pass 1192 bytes (what Flash-era peers accept, fact sheet D8): plain,
//! Flash with a checksum, Flash with HMAC and session sequence numbers.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile, Policy};
use rtmfp::crypto::plain::PlainProfile;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::sim::Network;

mod common;
use common::sim::*;

type Profile = Arc<dyn CryptoProfile>;

fn flash(server: bool, hmac: bool, seed: u64) -> Profile {
    let mut c = if server {
        FlashConfig::server(true)
    } else {
        FlashConfig::client(true)
    };
    if hmac {
        (c.hmac, c.sseq) = (Policy::Require, Policy::Require);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Arc::new(FlashProfile::new(c, &mut rng).unwrap())
}

/// The sizes of the client's datagrams while it sends 200 KB.
fn client_datagrams(
    client: Arc<dyn CryptoProfile>,
    server: Arc<dyn CryptoProfile>,
    epd: &[u8],
) -> Vec<usize> {
    let mut net = Network::new(5);
    let (ca, sa) = (addr("10.0.0.1:5000"), addr("10.0.0.2:1935"));
    let c = endpoint(&mut net, client, ca, 1, EndpointConfig::default());
    let s = endpoint(&mut net, server, sa, 2, EndpointConfig::default());
    let (h, _) = open(&mut net, &c, &s, sa, epd);
    net.record();
    let now = net.now();
    let f = c
        .borrow_mut()
        .open_flow(now, h, b"m".to_vec(), None, FlowOptions::default())
        .unwrap();
    c.borrow_mut()
        .send(now, h, f, &vec![9; 200_000], None)
        .unwrap();
    net.run_until(now + Duration::from_secs(5));
    drain(&s);
    let records = net.records.take().unwrap();
    records
        .iter()
        .filter(|r| r.src == ca)
        .map(|r| r.data.len())
        .collect()
}

#[test]
fn data_packets_fill_1192_byte_datagrams_in_every_framing() {
    let cases: [(&str, Profile, Profile, &[u8]); 3] = [
        (
            "plain",
            Arc::new(PlainProfile::new("client")),
            Arc::new(PlainProfile::new("server")),
            b"server",
        ),
        (
            "flash",
            flash(false, false, 1),
            flash(true, false, 2),
            b"\x07\x0artmfp:",
        ),
        (
            "flash, HMAC + SSEQ",
            flash(false, true, 1),
            flash(true, true, 2),
            b"\x07\x0artmfp:",
        ),
    ];
    for (name, client, server, epd) in cases {
        let sizes = client_datagrams(client, server, epd);
        assert!(sizes.len() > 150, "{name}: {} datagrams", sizes.len());
        let largest = *sizes.iter().max().unwrap();
        // A fragment leaves room for the largest header, chunk header and
        // sequence numbers (§3.6.2.2), so a datagram falls short of 1192 by
        // at most that reserve and the framing's padding. (Cut for the largest
        // framing in every session, as before, they were 1124-1139 bytes.)
        assert!(largest <= 1192, "{name}: {largest}");
        assert!(largest > 1160, "{name}: {largest}");
    }
}
