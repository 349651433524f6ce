//! Realistic packets for the codec, crypto and flow benches.

use std::net::SocketAddr;
use std::sync::Arc;

use rand::SeedableRng;
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::PacketCipher;
use rtmfp::crypto::flash::packet::FlashCipher;
use rtmfp::crypto::flash::{FlashConfig, FlashProfile};
use rtmfp::endpoint::Endpoint;
use rtmfp::session::config::EndpointConfig;
use rtmfp::time::Instant;
use rtmfp::wire::{
    Chunk, Fragmentation, Header, Mode, NextUserData, Packet, RangeAck, UserData, UserDataFlags,
};

/// The packet sizes of the crypto benches (RFC 7016 §2.2.4: 1184 is a full packet
/// at the usual 1200-byte datagram).
pub const PACKET_SIZES: [usize; 4] = [64, 256, 576, 1184];

/// A seeded Flash identity (client or server configuration).
pub fn flash_profile(server: bool, seed: u64) -> Arc<dyn CryptoProfile> {
    let c = if server {
        FlashConfig::server(true)
    } else {
        FlashConfig::client(true)
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Arc::new(FlashProfile::new(c, &mut rng).expect("flash profile"))
}

fn user_data(flow: u64, seq: u64, fra: Fragmentation, len: usize) -> UserData {
    UserData {
        flags: UserDataFlags {
            fragment_control: fra,
            ..Default::default()
        },
        flow_id: flow,
        sequence_number: seq,
        fsn_offset: 1,
        options: None,
        user_data: vec![(seq % 251) as u8; len],
    }
}

/// A full data packet (§2.3.11, §2.3.12): a User Data chunk and `next` Next User
/// Data chunks sharing `payload` bytes, with timestamp and echo, as a bulk sender
/// emits it.
pub fn data_packet(payload: usize, next: usize) -> Packet {
    let mut h = Header::new(Mode::Initiator);
    h.timestamp = Some(0x1234);
    h.timestamp_echo = Some(0x1200);
    let each = payload / (next + 1);
    let mut chunks = vec![Chunk::UserData(user_data(
        3,
        1000,
        Fragmentation::Begin,
        each,
    ))];
    for i in 0..next {
        let fra = if i + 1 == next {
            Fragmentation::End
        } else {
            Fragmentation::Middle
        };
        chunks.push(Chunk::NextUserData(NextUserData {
            flags: UserDataFlags {
                fragment_control: fra,
                ..Default::default()
            },
            options: None,
            user_data: vec![i as u8; each],
        }));
    }
    Packet::new(h, chunks)
}

/// A plain packet of `len` bytes (a data packet's bytes, cut or padded to `len`).
pub fn plain_bytes(len: usize) -> Vec<u8> {
    let mut b = data_packet(len.saturating_sub(20), 0)
        .to_bytes()
        .expect("emit");
    b.resize(len, 0xff);
    b
}

/// A packet of acknowledgements (§2.3.14) for `flows` flows, each with `ranges`
/// received ranges above the cumulative ack (holes between them).
pub fn ack_packet(flows: u64, ranges: u64) -> Packet {
    let mut h = Header::new(Mode::Responder);
    h.timestamp = Some(0x2000);
    h.timestamp_echo = Some(0x1234);
    let chunks = (0..flows)
        .map(|f| {
            let received: Vec<(u64, u64)> = (0..ranges)
                .map(|i| (1000 + i * 4 + 2, 1000 + i * 4 + 3))
                .collect();
            Chunk::RangeAck(RangeAck::from_ranges(f + 2, 64, 1000, &received))
        })
        .collect();
    Packet::new(h, chunks)
}

/// The four startup packets of a real Flash-profile handshake (IHello, RHello,
/// IIKeying, RIKeying), decrypted with the Default Session Key (padding included),
/// taken from two endpoints talking through memory.
pub fn startup_packets() -> Vec<(&'static str, Vec<u8>)> {
    let (ca, sa): (SocketAddr, SocketAddr) = (
        "10.0.0.1:5000".parse().unwrap(),
        "10.0.0.2:1935".parse().unwrap(),
    );
    let mut client = Endpoint::new(EndpointConfig::default(), flash_profile(false, 1), 1);
    client.set_local_addresses(vec![ca]);
    let server_profile = flash_profile(true, 2);
    let epd = server_profile.canonical_epd(server_profile.certificate());
    let mut server = Endpoint::new(EndpointConfig::default(), server_profile, 2);
    server.set_local_addresses(vec![sa]);
    let now = Instant::ZERO;
    client.connect(now, epd, &[sa]);
    let names = ["IHello", "RHello", "IIKeying", "RIKeying"];
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (from, to, fa, ta) = if i % 2 == 0 {
            (&mut client, &mut server, ca, sa)
        } else {
            (&mut server, &mut client, sa, ca)
        };
        let t = from.poll_transmit().expect("startup packet");
        let plain = FlashCipher::default_key()
            .open(&t.data[4..])
            .expect("default key")
            .packet;
        out.push((*name, plain));
        to.handle_datagram(now, ta, fa, &t.data);
    }
    out
}

/// A sending flow with `n` fragments of 100 bytes in flight (each with its own
/// TSN), the far end's window opened wide.
pub fn flow_in_flight(n: u64) -> rtmfp::flow::send::SendFlow {
    let mut f = rtmfp::flow::send::SendFlow::new(2, b"bench".to_vec(), None, 0, false);
    f.on_ack(Instant::ZERO, &[(0, 0)], 1 << 40);
    f.write(&vec![0x5a; (n * 100) as usize], 100, None)
        .expect("write");
    let mut tsn = 1;
    let mut chunks = Vec::new();
    f.assemble(usize::MAX / 2, &mut tsn, &mut chunks);
    assert_eq!(chunks.len() as u64, n, "all fragments in flight");
    f
}

/// A realistic acknowledgement of a flow with `n` fragments (sequence numbers
/// 1..=n) in flight: the cumulative ack advances by a tenth, then up to 128
/// received ranges with one-fragment holes spread over the rest of the window
/// (a lossy path), as inclusive ranges, cumulative range first.
pub fn ack_with_holes(n: u64) -> Vec<(u64, u64)> {
    let cum = (n / 10).max(1);
    let mut v = vec![(0, cum)];
    let rest = n - cum;
    let ranges = (rest / 2).min(128);
    if let Some(step) = rest.checked_div(ranges) {
        for i in 0..ranges {
            // Hole at the first sequence number of each step, received after it.
            let from = cum + i * step + 2;
            let to = (cum + (i + 1) * step).min(n);
            if from <= to {
                v.push((from, to));
            }
        }
    }
    v
}

/// The highest TSN an ack of `ranges` covers (TSN = sequence number in
/// [`flow_in_flight`]).
pub fn max_tsn(ranges: &[(u64, u64)]) -> u64 {
    ranges.iter().map(|r| r.1).max().unwrap_or(0)
}
