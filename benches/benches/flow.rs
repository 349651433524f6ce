//! Congestion and flow hot paths (issue 13 §1): acknowledgement processing with
//! 10..10,000 fragments in flight and many holes (on_ack + the §3.6.2.5 NAK pass,
//! what issue 12 speeds up), Range Ack construction, the Appendix A window update
//! per ack, send scheduling over 1..1,000 flows with priorities, and out-of-order
//! reassembly.

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rtmfp::congestion::appendix_a::AppendixA;
use rtmfp::congestion::{CongestionController, Signals};
use rtmfp::flow::recv::RecvFlow;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::{Data, FlowOptions};
use rtmfp::stats::Stats;
use rtmfp::time::Instant;
use rtmfp::wire::{Fragmentation, UserData, UserDataFlags};
use rtmfp_benches::fixtures::{ack_with_holes, flow_in_flight, max_tsn};

const IN_FLIGHT: [u64; 4] = [10, 100, 1_000, 10_000];

fn ack_processing(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow/ack_processing");
    for &n in &IN_FLIGHT {
        let ack = ack_with_holes(n);
        let top = max_tsn(&ack);
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::from_parameter(n), &ack, |b, ack| {
            b.iter_batched_ref(
                || flow_in_flight(n),
                |f| {
                    let o = f.on_ack(Instant::ZERO, black_box(ack), 1 << 40);
                    black_box(o);
                    black_box(f.nak_pass(top));
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
    // The steady state of a long lossy transfer: the same holes acknowledged
    // again (nothing new), which is most acks while a hole waits for its repair.
    let mut g = c.benchmark_group("flow/ack_repeat");
    for &n in &IN_FLIGHT {
        let ack = ack_with_holes(n);
        let top = max_tsn(&ack);
        let mut f = flow_in_flight(n);
        f.on_ack(Instant::ZERO, &ack, 1 << 40);
        g.bench_with_input(BenchmarkId::from_parameter(n), &ack, |b, ack| {
            b.iter(|| {
                black_box(f.on_ack(Instant::ZERO, black_box(ack), 1 << 40));
                // No NAK pass: it would declare the holes lost after 3 passes.
                black_box(top);
            })
        });
    }
    g.finish();
}

fn ud(seq: u64, fra: Fragmentation, len: usize) -> UserData {
    UserData {
        flags: UserDataFlags {
            fragment_control: fra,
            ..Default::default()
        },
        flow_id: 3,
        sequence_number: seq,
        fsn_offset: seq,
        options: None,
        user_data: vec![seq as u8; len],
    }
}

fn frag(i: u64, n: u64) -> Fragmentation {
    match (n, i) {
        (1, _) => Fragmentation::Whole,
        (_, 0) => Fragmentation::Begin,
        (_, i) if i + 1 == n => Fragmentation::End,
        _ => Fragmentation::Middle,
    }
}

fn range_ack(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow/range_ack_build");
    for &n in &[10u64, 100, 1_000] {
        // Every third fragment missing: a sequence set with n/3 holes.
        let mut f = RecvFlow::new(3, 1 << 30);
        for s in 1..=n {
            if s % 3 != 1 || s == 1 {
                f.on_data(Instant::ZERO, &ud(s, Fragmentation::Middle, 100));
            }
        }
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| black_box(f.build_ack(black_box(1150), true)))
        });
    }
    g.finish();
}

fn window_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("congestion/appendix_a_update");
    let mut cc = AppendixA::default();
    g.bench_function("ack", |b| {
        b.iter(|| {
            cc.begin_packet(black_box(cc.cwnd()));
            cc.on_ack(black_box(1100));
            cc.end_packet(Signals::default());
            black_box(cc.cwnd())
        })
    });
    let mut cc = AppendixA::default();
    g.bench_function("ack_with_nak_and_loss", |b| {
        b.iter(|| {
            cc.begin_packet(black_box(cc.cwnd()));
            cc.on_ack(black_box(1100));
            cc.on_nak();
            cc.on_loss();
            cc.end_packet(Signals::default());
            black_box(cc.cwnd())
        })
    });
    g.finish();
}

fn scheduling(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow/send_scheduling");
    for &flows in &[1usize, 10, 100, 1_000] {
        g.bench_function(BenchmarkId::from_parameter(flows), |b| {
            b.iter_batched_ref(
                || {
                    let config = EndpointConfig::default();
                    let mut d = Data::new(&config, Instant::ZERO);
                    d.on_open(Instant::ZERO);
                    for i in 0..flows {
                        let o = FlowOptions {
                            priority: (i % 4) as u8,
                            time_critical: false,
                        };
                        let id = d.open_flow(b"m".to_vec(), None, o).unwrap();
                        d.send(id, &[0x5a; 300], None).unwrap();
                    }
                    (d, Stats::default())
                },
                |(d, stats)| black_box(d.fill(Instant::ZERO, 1150, stats)),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn reassembly(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow/reassembly_out_of_order");
    for &n in &[16u64, 256] {
        let mut frags: Vec<UserData> = (0..n).map(|i| ud(i + 1, frag(i, n), 1100)).collect();
        frags.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(n));
        g.throughput(Throughput::Bytes(n * 1100));
        g.bench_with_input(BenchmarkId::from_parameter(n), &frags, |b, frags| {
            b.iter_batched_ref(
                || RecvFlow::new(3, 1 << 30),
                |f| {
                    let mut delivered = 0;
                    for u in frags {
                        delivered += f.on_data(Instant::ZERO, u).messages.len();
                    }
                    assert_eq!(delivered, 1);
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    ack_processing,
    range_ack,
    window_update,
    scheduling,
    reassembly
);
criterion_main!(benches);
