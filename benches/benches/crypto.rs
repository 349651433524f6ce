//! Crypto hot paths (issue 13 §1) with OpenSSL baselines measured in the same run:
//! Flash seal/open (checksum; HMAC-SHA256 + session sequence numbers), the plain
//! profile, the checksum, HMAC-SHA256, DH groups 2/14/16, the key schedule and the
//! handshake's CPU on each side. Every `rtmfp/...` figure has an `openssl/...` twin
//! in the same group; the report prints the ratio. Times are the thread's CPU time
//! (`rtmfp_benches::cpu_time`), so that load from other processes between the two
//! halves of a pair does not move the ratio.

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use openssl::bn::BigNum;
use openssl::cipher_ctx::CipherCtx;
use openssl::dh::Dh;
use rand::SeedableRng;
use rtmfp::crypto::CryptoProfile;
use rtmfp::crypto::PacketCipher;
use rtmfp::crypto::checksum::checksum;
use rtmfp::crypto::flash::dh::{self, KeyPair};
use rtmfp::crypto::flash::keying::{DerivedKeys, hmac_sha256};
use rtmfp::crypto::flash::{DirectionKeys, FlashCipher};
use rtmfp::crypto::plain::PlainProfile;
use rtmfp_benches::cpu_time::ThreadCpuTime;
use rtmfp_benches::fixtures::{PACKET_SIZES, flash_profile, plain_bytes};
use rtmfp_benches::machine::{Machine, criterion_dir};
use sha2::Sha256;

const KEY: [u8; 16] = *b"0123456789abcdef";
const HKEY: [u8; 32] = [7; 32];

fn cipher(hmac: bool) -> FlashCipher {
    let k = DirectionKeys::new(KEY, hmac.then_some((HKEY, 10)), hmac);
    FlashCipher::new(k.clone(), k)
}

/// OpenSSL AES-128-CBC, zero IV, no padding, one packet per call. The key is
/// expanded once (as rtmfp's `DirectionKeys` does); each packet re-initialises
/// only the IV (EVP_EncryptInit_ex with no cipher and no key).
struct OpensslCbc {
    ctx: CipherCtx,
    encrypt: bool,
}

impl OpensslCbc {
    fn new(encrypt: bool) -> Self {
        let mut ctx = CipherCtx::new().unwrap();
        let c = openssl::cipher::Cipher::aes_128_cbc();
        if encrypt {
            ctx.encrypt_init(Some(c), Some(&KEY), Some(&[0u8; 16]))
                .unwrap();
        } else {
            ctx.decrypt_init(Some(c), Some(&KEY), Some(&[0u8; 16]))
                .unwrap();
        }
        ctx.set_padding(false);
        OpensslCbc { ctx, encrypt }
    }

    fn run(&mut self, input: &[u8], out: &mut [u8]) {
        if self.encrypt {
            self.ctx.encrypt_init(None, None, Some(&[0u8; 16])).unwrap();
        } else {
            self.ctx.decrypt_init(None, None, Some(&[0u8; 16])).unwrap();
        }
        let n = self.ctx.cipher_update(input, Some(out)).unwrap();
        black_box(n);
    }
}

/// OpenSSL HMAC-SHA256 with the key set once and each packet re-initialised with
/// `HMAC_Init_ex(ctx, NULL, ...)` (which keeps the keyed state): the fastest
/// packet-at-a-time use of libcrypto, and so the strictest baseline. rtmfp's packet
/// path does the same (`DirectionKeys` keys its HMAC once and clones the keyed
/// state per packet). The `Signer` API costs ~15 µs per call in OpenSSL 3.
struct OpensslHmac(*mut openssl_sys::HMAC_CTX);

impl OpensslHmac {
    fn new(key: &[u8]) -> Self {
        openssl_sys::init();
        // SAFETY: a fresh context, keyed with a valid key and digest.
        unsafe {
            let ctx = openssl_sys::HMAC_CTX_new();
            assert!(!ctx.is_null());
            let ok = openssl_sys::HMAC_Init_ex(
                ctx,
                key.as_ptr().cast(),
                key.len() as i32,
                openssl_sys::EVP_sha256(),
                std::ptr::null_mut(),
            );
            assert_eq!(ok, 1);
            OpensslHmac(ctx)
        }
    }

    fn mac(&mut self, data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut len = 0;
        // SAFETY: the context was keyed in `new`; `out` holds a SHA-256 digest.
        unsafe {
            let ok = openssl_sys::HMAC_Init_ex(
                self.0,
                std::ptr::null(),
                0,
                std::ptr::null(),
                std::ptr::null_mut(),
            );
            assert_eq!(ok, 1);
            assert_eq!(
                openssl_sys::HMAC_Update(self.0, data.as_ptr(), data.len()),
                1
            );
            assert_eq!(
                openssl_sys::HMAC_Final(self.0, out.as_mut_ptr(), &mut len),
                1
            );
        }
        out
    }
}

impl Drop for OpensslHmac {
    fn drop(&mut self) {
        // SAFETY: made by HMAC_CTX_new, freed once.
        unsafe { openssl_sys::HMAC_CTX_free(self.0) }
    }
}

fn seal_open(c: &mut Criterion<ThreadCpuTime>) {
    for (name, hmac) in [("checksum", false), ("hmac_sseq", true)] {
        let mut g = c.benchmark_group(format!("flash_seal/{name}"));
        for &size in &PACKET_SIZES {
            let packet = plain_bytes(size - 16);
            g.throughput(Throughput::Bytes(size as u64));
            let mut ci = cipher(hmac);
            let mut out = Vec::with_capacity(2048);
            g.bench_with_input(BenchmarkId::new("rtmfp", size), &packet, |b, p| {
                b.iter(|| {
                    out.clear();
                    ci.seal(black_box(p), &mut out);
                })
            });
            let input = vec![0x42u8; size];
            let mut obuf = vec![0u8; size + 16];
            let mut enc = OpensslCbc::new(true);
            let mut pk = OpensslHmac::new(&HKEY);
            g.bench_with_input(BenchmarkId::new("openssl", size), &input, |b, p| {
                b.iter(|| {
                    enc.run(black_box(p), &mut obuf);
                    if hmac {
                        black_box(pk.mac(&obuf[..size]));
                    }
                })
            });
        }
        g.finish();
        let mut g = c.benchmark_group(format!("flash_open/{name}"));
        for &size in &PACKET_SIZES {
            let packet = plain_bytes(size - 16);
            g.throughput(Throughput::Bytes(size as u64));
            // A run of sealed packets with increasing session sequence numbers, so
            // the replay window accepts every one; a fresh receiver per batch.
            let mut tx = cipher(hmac);
            let sealed: Vec<Vec<u8>> = (0..64)
                .map(|_| {
                    let mut o = Vec::new();
                    tx.seal(&packet, &mut o);
                    o
                })
                .collect();
            // With session sequence numbers a receiver accepts each number once:
            // an iteration opens the run of 64 with a fresh receiver, made just
            // before it (so its keys are in cache, as a session's are). Without
            // them one receiver opens the same packet again and again.
            let n = if hmac { 64 } else { 1 };
            g.throughput(Throughput::Bytes((size * n) as u64));
            let mut opened = Vec::with_capacity(2048);
            g.bench_with_input(BenchmarkId::new("rtmfp", size), &sealed, |b, s| {
                if hmac {
                    b.iter_batched_ref(
                        || cipher(hmac),
                        |rx| {
                            for p in s.iter().take(n) {
                                black_box(rx.open_into(black_box(p), &mut opened).unwrap());
                            }
                        },
                        BatchSize::PerIteration,
                    )
                } else {
                    let mut rx = cipher(hmac);
                    b.iter(|| black_box(rx.open_into(black_box(&s[0]), &mut opened).unwrap()))
                }
            });
            let ct = sealed[0].clone();
            let mut obuf = vec![0u8; ct.len() + 16];
            let mut dec = OpensslCbc::new(false);
            let mut pk = OpensslHmac::new(&HKEY);
            g.bench_with_input(BenchmarkId::new("openssl", size), &ct, |b, p| {
                b.iter(|| {
                    for _ in 0..n {
                        let body = &p[..p.len() / 16 * 16];
                        if hmac {
                            black_box(pk.mac(body));
                        }
                        dec.run(black_box(body), &mut obuf);
                    }
                })
            });
        }
        g.finish();
    }
}

fn plain_and_checksum(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("plain_profile");
    let profile = PlainProfile::new("bench");
    for &size in &PACKET_SIZES {
        let packet = plain_bytes(size);
        g.throughput(Throughput::Bytes(size as u64));
        let mut ci = profile.default_cipher();
        let mut out = Vec::with_capacity(2048);
        g.bench_with_input(BenchmarkId::new("seal", size), &packet, |b, p| {
            b.iter(|| {
                out.clear();
                ci.seal(black_box(p), &mut out);
            })
        });
        let mut sealed = Vec::new();
        ci.seal(&packet, &mut sealed);
        g.bench_with_input(BenchmarkId::new("open", size), &sealed, |b, p| {
            b.iter(|| black_box(ci.open(black_box(p)).unwrap()))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("checksum");
    for &size in &PACKET_SIZES {
        let packet = plain_bytes(size);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("rtmfp", size), &packet, |b, p| {
            b.iter(|| black_box(checksum(black_box(p))))
        });
    }
    g.finish();
}

fn hmac(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("hmac_sha256");
    for &size in &PACKET_SIZES {
        let data = vec![0x33u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        // As the Flash cipher does per packet: the keyed state cloned, then the data.
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&HKEY).unwrap();
        g.bench_with_input(BenchmarkId::new("rtmfp", size), &data, |b, d| {
            b.iter(|| {
                let mut m = keyed.clone();
                m.update(black_box(d));
                black_box(m.finalize().into_bytes())
            })
        });
        // The key schedule's HMAC (keyed per call), for reference.
        g.bench_with_input(
            BenchmarkId::new("rtmfp_keyed_per_call", size),
            &data,
            |b, d| b.iter(|| black_box(hmac_sha256(&HKEY, black_box(d)))),
        );
        let mut pk = OpensslHmac::new(&HKEY);
        g.bench_with_input(BenchmarkId::new("openssl", size), &data, |b, d| {
            b.iter(|| black_box(pk.mac(black_box(d))))
        });
    }
    g.finish();
}

/// OpenSSL's DH with the group's own prime and generator (RFC 7425 §4.5 uses the
/// RFC 2409/3526 MODP groups: 2 = 1024, 14 = 2048, 16 = 4096 bits).
fn openssl_dh(group: u64) -> Dh<openssl::pkey::Params> {
    let g = dh::group(group).unwrap();
    let p = BigNum::from_slice(&g.prime.to_bytes_be()).unwrap();
    let two = BigNum::from_u32(2).unwrap();
    Dh::from_pqg(p, None, two).unwrap()
}

fn dh_groups(c: &mut Criterion<ThreadCpuTime>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    for (group, bits) in [(2u64, 1024), (14, 2048), (16, 4096)] {
        let mut g = c.benchmark_group(format!("dh/group{group}_ffdh{bits}"));
        g.sample_size(10);
        g.bench_function("keygen/rtmfp", |b| {
            b.iter(|| black_box(KeyPair::generate(group, &mut rng).unwrap()))
        });
        g.bench_function("keygen/openssl", |b| {
            b.iter(|| black_box(openssl_dh(group).generate_key().unwrap()))
        });
        let a = KeyPair::generate(group, &mut rng).unwrap();
        let far = KeyPair::generate(group, &mut rng).unwrap();
        let far_pub = far.public.clone();
        g.bench_function("shared_secret/rtmfp", |b| {
            b.iter(|| black_box(a.shared_secret(black_box(&far_pub)).unwrap()))
        });
        let oa = openssl_dh(group).generate_key().unwrap();
        let ofar = BigNum::from_slice(&far_pub).unwrap();
        g.bench_function("shared_secret/openssl", |b| {
            b.iter(|| black_box(oa.compute_key(black_box(&ofar)).unwrap()))
        });
        // OpenSSL picks its own private exponent length for these primes (for the
        // RFC 3526 groups 14 and 16, 225 and 325 bits; for group 2, which it does
        // not know, 1023 bits), ours is `exponent_bits` (224, 320, 480). This pair
        // gives OpenSSL our private key, so both do the same exponentiation.
        let bits = dh::group(group).unwrap().exponent_bits as usize;
        let mut x = vec![0u8; bits / 8];
        rand::RngCore::fill_bytes(&mut rng, &mut x);
        x[0] |= 0x80;
        let mine = KeyPair::from_private(group, &x).unwrap();
        let theirs = openssl_dh(group)
            .set_key(
                BigNum::from_slice(&mine.public).unwrap(),
                BigNum::from_slice(&x).unwrap(),
            )
            .unwrap();
        let secret = mine.shared_secret(&far_pub).unwrap();
        let osecret = theirs.compute_key(&ofar).unwrap();
        let first = osecret
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(osecret.len());
        assert_eq!(
            secret,
            osecret[first..],
            "OpenSSL agrees on the shared secret"
        );
        g.bench_function("shared_secret_same_key/rtmfp", |b| {
            b.iter(|| black_box(mine.shared_secret(black_box(&far_pub)).unwrap()))
        });
        g.bench_function("shared_secret_same_key/openssl", |b| {
            b.iter(|| black_box(theirs.compute_key(black_box(&ofar)).unwrap()))
        });
        g.finish();
    }
}

fn key_schedule_and_handshake(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("key_schedule");
    let secret = vec![0x11u8; 128];
    let near = vec![0x22u8; 76];
    let far = vec![0x33u8; 140];
    g.bench_function("rfc7425_derive", |b| {
        b.iter(|| black_box(DerivedKeys::derive(black_box(&secret), &near, &far)))
    });
    g.finish();

    // The whole key agreement's CPU on each side (group 2, the Flash default;
    // DH key generation, certificate/component parsing, shared secret, keys).
    let mut g = c.benchmark_group("handshake_cpu");
    g.sample_size(10);
    let client = flash_profile(false, 1);
    let server = flash_profile(true, 2);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut rng2 = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    g.bench_function("initiator", |b| {
        b.iter_batched(
            || {
                let k = client.initiate(&mut rng2, server.certificate()).unwrap();
                let (skrc, _) = server
                    .respond(&mut rng2, client.certificate(), k.skic())
                    .unwrap();
                (skrc, server.certificate().to_vec())
            },
            |(skrc, cert)| {
                let k = client.initiate(&mut rng, &cert).unwrap();
                // Completing against another exchange's component costs the same
                // DH work (a mismatch is not detected by complete()).
                black_box(k.complete(&skrc))
            },
            BatchSize::SmallInput,
        )
    });
    let k = client.initiate(&mut rng, server.certificate()).unwrap();
    let skic = k.skic().to_vec();
    g.bench_function("responder", |b| {
        b.iter(|| {
            black_box(
                server
                    .respond(&mut rng, client.certificate(), black_box(&skic))
                    .unwrap(),
            )
        })
    });
    g.finish();
}

fn record_machine(_: &mut Criterion<ThreadCpuTime>) {
    Machine::record(&criterion_dir());
}

criterion_group! {
    name = benches;
    // CPU time of the thread, not wall-clock time: see `rtmfp_benches::cpu_time`.
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = record_machine, seal_open, plain_and_checksum, hmac, dh_groups, key_schedule_and_handshake
}
criterion_main!(benches);
