//! Codec hot paths (issue 13 §1): parse and emit of realistic packets: a full data
//! packet (User Data + Next User Data), a packet of acknowledgements with many
//! ranges, each startup packet of a real Flash handshake, and per chunk type.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rtmfp::wire::{Chunk, NextUserDataView, Packet, PacketView, UserDataView, types};
use rtmfp_benches::fixtures::{ack_packet, data_packet, startup_packets};

fn packets(c: &mut Criterion) {
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("data_1ud".into(), data_packet(1150, 0).to_bytes().unwrap()),
        (
            "data_1ud_3nud".into(),
            data_packet(1120, 3).to_bytes().unwrap(),
        ),
        (
            "ack_8flows_16ranges".into(),
            ack_packet(8, 16).to_bytes().unwrap(),
        ),
        (
            "ack_1flow_100ranges".into(),
            ack_packet(1, 100).to_bytes().unwrap(),
        ),
    ];
    for (name, bytes) in startup_packets() {
        cases.push((name.to_string(), bytes));
    }
    let mut g = c.benchmark_group("codec/parse");
    for (name, bytes) in &cases {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), bytes, |b, p| {
            b.iter(|| black_box(Packet::parse(black_box(p)).unwrap()))
        });
    }
    g.finish();
    // The receive path's parse: the header, then each chunk borrowed (no allocation).
    let mut g = c.benchmark_group("codec/parse_view");
    for (name, bytes) in &cases[..2] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), bytes, |b, p| {
            b.iter(|| {
                let view = PacketView::parse(black_box(p)).unwrap();
                let mut data = 0;
                for c in view.chunks() {
                    data += match c.chunk_type {
                        types::USER_DATA => UserDataView::parse(c.payload).unwrap().user_data.len(),
                        types::NEXT_USER_DATA => {
                            NextUserDataView::parse(c.payload).unwrap().user_data.len()
                        }
                        _ => 0,
                    };
                }
                black_box(data)
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("codec/emit");
    for (name, bytes) in &cases {
        let p = Packet::parse(bytes).unwrap();
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        let mut out = Vec::with_capacity(2048);
        g.bench_with_input(BenchmarkId::from_parameter(name), &p, |b, p| {
            b.iter(|| {
                out.clear();
                p.emit(&mut out).unwrap();
                black_box(&out);
            })
        });
    }
    g.finish();
    // Per chunk type: every distinct chunk of the packets above.
    let mut chunks: Vec<Chunk> = Vec::new();
    for (_, bytes) in &cases {
        for ch in Packet::parse(bytes).unwrap().chunks {
            if !chunks.iter().any(|c| c.chunk_type() == ch.chunk_type()) {
                chunks.push(ch);
            }
        }
    }
    let mut g = c.benchmark_group("codec/chunk");
    for ch in &chunks {
        let mut payload = Vec::new();
        ch.emit_payload(&mut payload);
        let t = ch.chunk_type();
        g.bench_with_input(BenchmarkId::new("parse", ch.name()), &payload, |b, p| {
            b.iter(|| black_box(Chunk::try_parse(t, black_box(p)).unwrap()))
        });
        let mut out = Vec::with_capacity(2048);
        g.bench_with_input(BenchmarkId::new("emit", ch.name()), ch, |b, ch| {
            b.iter(|| {
                out.clear();
                ch.emit(&mut out).unwrap();
                black_box(&out);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, packets);
criterion_main!(benches);
