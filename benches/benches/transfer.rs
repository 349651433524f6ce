//! Whole transfers (issue 13 §1): N MB over the simulated network in both profiles
//! (CPU per MB: criterion's time is the CPU both endpoints and the simulator spent,
//! virtual time costs nothing), and handshakes per second (a whole four-message
//! handshake between two fresh endpoints). Real loopback UDP is measured by the
//! `rtmfp-bench-loopback` binary (it needs the `rtmfp` executable).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rtmfp_benches::transfer::{Profile, clean_link, handshake, lossy_link, transfer};

const MB: usize = 1 << 20;

fn transfers(c: &mut Criterion) {
    let mut g = c.benchmark_group("transfer/sim");
    g.sample_size(10);
    for profile in [Profile::Plain, Profile::Flash] {
        g.throughput(Throughput::Bytes(4 * MB as u64));
        g.bench_function(format!("{}_4MB_clean", profile.name()), |b| {
            b.iter(|| {
                let o = transfer(profile, 4 * MB, 16384, clean_link(), false, 7);
                assert_eq!(o.delivered_bytes, 4 * MB);
                black_box(o)
            })
        });
    }
    g.throughput(Throughput::Bytes(MB as u64));
    g.bench_function("plain_1MB_lossy", |b| {
        b.iter(|| {
            let o = transfer(Profile::Plain, MB, 16384, lossy_link(), false, 7);
            assert_eq!(o.delivered_bytes, MB);
            black_box(o)
        })
    });
    g.finish();
    let mut g = c.benchmark_group("handshake");
    g.sample_size(10);
    for profile in [Profile::Plain, Profile::Flash] {
        g.throughput(Throughput::Elements(1));
        g.bench_function(profile.name(), |b| {
            b.iter(|| black_box(handshake(profile, clean_link(), false, 11)))
        });
    }
    g.finish();
}

criterion_group!(benches, transfers);
criterion_main!(benches);
