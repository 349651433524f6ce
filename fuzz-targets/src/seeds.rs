//! Seed corpora and the dictionary, generated (never hand-copied) from:
//! - the captures in vectors/ decoded with their key logs (datagrams, plain
//!   packets, chunks, certificates, EPDs, key components, addresses, metadata);
//! - the sessions recorded over the simulator (`fixtures::recorded_session`);
//! - the conformance scenarios (their YAML, and expectations naming their IDs);
//! - values emitted by the reference's own encoders.
//!
//! `rtmfp-fuzz corpus` writes them to `fuzz/corpus/<target>/` and the dictionary
//! to `fuzz/rtmfp.dict`; the replay test calls [`seeds`] directly.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rtmfp::capture::{self, PcapWriter};
use rtmfp::crypto::PacketCipher;
use rtmfp::crypto::flash::packet::FlashCipher;
use rtmfp::crypto::flash::tc::TcMetadata;
use rtmfp::decode::{DatagramRef, Decoder, ProfileChoice};
use rtmfp::keylog::KeyLog;
use rtmfp::wire::{self, Chunk, Packet, chunk::types, vlu};

use crate::fixtures::{self, ProfileKind};

/// Small valid scenarios derived from the real ones (libFuzzer mutates small
/// inputs much faster than whole files): for each real scenario and each of
/// its steps, the scenario without its description with that step alone, and
/// with its steps up to that one; the ones the loader accepts, smallest first,
/// each kept when it shows something no smaller one did (a mapping's place and
/// set of keys, a chunk name).
pub fn small_scenarios(scenarios: &[(String, String)]) -> Vec<Vec<u8>> {
    use serde_yaml_ng::Value;
    fn name(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            other => format!("{other:?}"),
        }
    }
    // Every mapping's path and exact set of keys (what is absent selects a
    // default), and every string scalar under a `chunk` key.
    fn walk(v: &Value, path: &str, f: &mut BTreeSet<String>) {
        match v {
            Value::Mapping(m) => {
                let keys: Vec<String> = m.keys().map(name).collect();
                f.insert(format!("{path}{{{}}}", keys.join(",")));
                for (k, x) in m {
                    let k = name(k);
                    if k == "chunk" {
                        f.insert(format!("{path}.chunk={}", name(x)));
                    }
                    walk(x, &format!("{path}.{k}"), f);
                }
            }
            Value::Sequence(s) => s.iter().for_each(|x| walk(x, &format!("{path}[]"), f)),
            Value::Tagged(t) => walk(&t.value, path, f),
            _ => {}
        }
    }
    fn shape(doc: &Value) -> BTreeSet<String> {
        let mut f = BTreeSet::new();
        walk(doc, "", &mut f);
        f
    }
    let known = fixtures::known_requirements();
    let mut candidates: Vec<(String, Value)> = Vec::new();
    for (file, text) in scenarios {
        let Ok(Value::Mapping(mut top)) = serde_yaml_ng::from_str::<Value>(text) else {
            continue;
        };
        top.remove("description");
        let Some(steps) = top.get("steps").and_then(Value::as_sequence).cloned() else {
            continue;
        };
        for i in 0..steps.len() {
            for cut in [vec![steps[i].clone()], steps[..=i].to_vec()] {
                let mut t = top.clone();
                t.insert("steps".into(), Value::Sequence(cut));
                let doc = Value::Mapping(t);
                let Ok(yaml) = serde_yaml_ng::to_string(&doc) else {
                    continue;
                };
                if rtmfp_conformance::scenario::Scenario::parse(&yaml, Path::new(file), known)
                    .is_ok()
                {
                    candidates.push((yaml, doc));
                }
            }
        }
    }
    candidates.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (yaml, doc) in candidates {
        let new: Vec<String> = shape(&doc)
            .into_iter()
            .filter(|f| !seen.contains(f))
            .collect();
        if !new.is_empty() {
            seen.extend(new);
            out.push(yaml.into_bytes());
        }
    }
    out
}

/// The repository root this crate was built in.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate lives in the repository")
        .to_path_buf()
}

/// What the captures and recordings yield, once.
#[derive(Default)]
pub struct Material {
    /// (name, a small pcap): the first datagrams of each vector capture and
    /// the recorded sessions, [`CAPTURE_SEED_DATAGRAMS`] to a file.
    pub captures: Vec<(String, Vec<u8>)>,
    pub keylogs: Vec<String>,
    /// UDP payloads (whole datagrams, session ID included).
    pub datagrams: Vec<Vec<u8>>,
    /// Decrypted plain packets.
    pub packets: Vec<Vec<u8>>,
    pub scenarios: Vec<(String, String)>,
}

fn read_dir_sorted(dir: &Path, ext: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ext.contains(&e))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// How many datagrams of each capture the seeds take (handshakes, first data,
/// acks): the whole captures are large and slow as fuzz inputs.
const DATAGRAMS_PER_CAPTURE: usize = 40;

/// Datagrams per `capture_file` seed. The key logs let the decoder open any
/// datagram of their sessions on its own, so pieces of 8 cover what the whole
/// file covers (libFuzzer's `cov` 943 for the pieces, 940 for the whole
/// files) at a quarter of the size of an input, i.e. four times the
/// executions per second.
const CAPTURE_SEED_DATAGRAMS: usize = 8;

/// Pcap files of `CAPTURE_SEED_DATAGRAMS` datagrams each, named `name-N`.
fn capture_pieces<'a>(
    name: &str,
    datagrams: impl Iterator<Item = (Duration, SocketAddr, SocketAddr, &'a [u8])>,
    out: &mut Vec<(String, Vec<u8>)>,
) {
    let mut w: Option<PcapWriter<Vec<u8>>> = None;
    let mut n = 0;
    for (i, (t, src, dst, data)) in datagrams.enumerate() {
        let piece = w.get_or_insert_with(|| PcapWriter::new(Vec::new()).expect("pcap header"));
        let _ = piece.write_udp(t, src, dst, data);
        if (i + 1) % CAPTURE_SEED_DATAGRAMS == 0 {
            out.push((
                format!("{name}-{n}"),
                w.take().expect("just written").finish(),
            ));
            n += 1;
        }
    }
    if let Some(piece) = w {
        out.push((format!("{name}-{n}"), piece.finish()));
    }
}

pub fn material() -> &'static Material {
    static M: OnceLock<Material> = OnceLock::new();
    M.get_or_init(|| build_material(&repo_root()))
}

fn build_material(root: &Path) -> Material {
    let mut m = Material::default();
    for p in read_dir_sorted(&root.join("vectors"), &["pcap", "pcapng"]) {
        let name = p
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Ok(cap) = capture::read_file(&p) else {
            continue;
        };
        let keys = p.with_extension("keys");
        let log = std::fs::read_to_string(&keys).ok();
        if let Some(l) = &log {
            m.keylogs.push(l.clone());
        }
        let log = log.and_then(|l| KeyLog::parse(&l, "vector").ok());
        let mut d = Decoder::new(log.as_ref(), ProfileChoice::Auto);
        let mut seen = Vec::new();
        for (r, u) in cap.datagrams().take(DATAGRAMS_PER_CAPTURE) {
            let p = d.decode(DatagramRef {
                index: r.index,
                time: r.timestamp,
                src: u.src,
                dst: u.dst,
                payload: &u.payload,
            });
            m.datagrams.push(u.payload.clone());
            if !p.plain.is_empty() {
                m.packets.push(p.plain.clone());
            }
            seen.push((r.timestamp, u.src, u.dst, u.payload.as_slice()));
        }
        capture_pieces(&name, seen.into_iter(), &mut m.captures);
    }
    for kind in [ProfileKind::Plain, ProfileKind::Flash] {
        let recorded = fixtures::recorded_session(kind);
        m.datagrams.extend(recorded.iter().map(|r| r.data.clone()));
        capture_pieces(
            &format!("sim-{kind:?}").to_lowercase(),
            recorded.iter().map(|r| {
                (
                    r.at.saturating_duration_since_zero(),
                    r.src,
                    r.dst,
                    &r.data[..],
                )
            }),
            &mut m.captures,
        );
    }
    // The recordings' plain packets, opened as the decoder does (no key log
    // needed for startup packets; session packets via a key-log-free peek is not
    // possible, so the captures above supply those).
    for r in fixtures::recorded_session(ProfileKind::Plain) {
        if let Ok((_, enc)) = wire::multiplex::demux(&r.data)
            && enc.len() >= 18
        {
            m.packets.push(enc[..enc.len() - 18].to_vec());
        }
    }
    for r in fixtures::recorded_session(ProfileKind::Flash) {
        if let Ok((0, enc)) = wire::multiplex::demux(&r.data)
            && let Ok(o) = FlashCipher::default_key().open(enc)
        {
            m.packets.push(o.packet);
        }
    }
    for p in read_dir_sorted(&root.join("conformance/scenarios"), &["yaml", "yml"]) {
        if let Ok(t) = std::fs::read_to_string(&p) {
            let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            m.scenarios.push((rel, t));
        }
    }
    m.packets.sort();
    m.packets.dedup();
    m.datagrams.sort();
    m.datagrams.dedup();
    m
}

trait SinceZero {
    fn saturating_duration_since_zero(self) -> Duration;
}

impl SinceZero for rtmfp::time::Instant {
    fn saturating_duration_since_zero(self) -> Duration {
        self - rtmfp::time::Instant::ZERO
    }
}

fn parsed_chunks(m: &Material) -> Vec<Chunk> {
    let mut v = Vec::new();
    for p in &m.packets {
        if let Ok(p) = Packet::parse(p) {
            v.extend(p.chunks);
        }
    }
    v
}

fn chunk_seed(c: &Chunk) -> Vec<u8> {
    let mut out = vec![c.chunk_type()];
    c.emit_payload(&mut out);
    out
}

/// Deterministic pseudo-random inputs (for the `arbitrary`-driven targets).
fn random_inputs(seed: u64, n: usize, len: usize) -> Vec<Vec<u8>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..rng.gen_range(1..=len)).map(|_| rng.r#gen()).collect())
        .collect()
}

fn dedup(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut seen = BTreeSet::new();
    v.retain(|x| seen.insert(x.clone()));
    v
}

/// The seeds of target `name` (empty for an unknown name).
pub fn seeds(name: &str) -> Vec<Vec<u8>> {
    let m = material();
    let chunks = parsed_chunks(m);
    let of_type =
        |t: u8| -> Vec<&Chunk> { chunks.iter().filter(|c| c.chunk_type() == t).collect() };
    let v: Vec<Vec<u8>> = match name {
        "vlu" => [0u64, 1, 127, 128, 16_383, 16_384, 1 << 32, u64::MAX]
            .iter()
            .map(|&x| vlu::to_vec(x))
            .chain([vec![0x80, 0x01], vec![0xff; 11], vec![0x81]])
            .collect(),
        "option_list" | "keying_component" => {
            let mut v = Vec::new();
            for c in &chunks {
                match c {
                    Chunk::UserData(u) => {
                        if let Some(list) = &u.options {
                            let mut out = Vec::new();
                            wire::option::emit_list(list, &mut out);
                            v.push(out);
                        }
                    }
                    Chunk::IIKeying(k) => v.push(k.skic.clone()),
                    Chunk::RIKeying(k) => v.push(k.skrc.clone()),
                    _ => {}
                }
            }
            v
        }
        "address" => {
            let mut v = Vec::new();
            for c in of_type(types::REDIRECT) {
                if let Chunk::Redirect(r) = c {
                    for a in &r.redirect_destinations {
                        let mut out = Vec::new();
                        a.emit(&mut out);
                        v.push(out);
                    }
                }
            }
            for s in ["127.0.0.1:1935", "[::1]:1935", "[2001:db8::7]:65535"] {
                let a = wire::Address::new(fixtures::addr(s), wire::Origin::Observed);
                let mut out = Vec::new();
                a.emit(&mut out);
                v.push(out);
            }
            v
        }
        "header" => m
            .packets
            .iter()
            .map(|p| p[..p.len().min(5)].to_vec())
            .collect(),
        "chunk" => chunks.iter().map(chunk_seed).collect(),
        "packet" | "describe" => m.packets.clone(),
        "multiplex" | "flash_open_default" => m.datagrams.clone(),
        "flash_open_session" => {
            let mut v = Vec::new();
            for sel in 0..8u8 {
                let mut c = crate::targets::session_cipher(sel);
                for p in m.packets.iter().take(12) {
                    let mut input = vec![sel];
                    c.seal(p, &mut input);
                    v.push(input);
                }
            }
            v
        }
        "plain_open" => m
            .datagrams
            .iter()
            .filter_map(|d| wire::multiplex::demux(d).ok().map(|(_, e)| e.to_vec()))
            .collect(),
        "flash_seal_open" => {
            let mut v = vec![vec![1], vec![0], vec![5], vec![7, 0x0b]];
            for (i, p) in m.packets.iter().take(24).enumerate() {
                let mut input = vec![i as u8 % 8];
                input.extend_from_slice(p);
                v.push(input);
            }
            v
        }
        "plain_seal_open" => m.packets.iter().take(24).cloned().collect(),
        "certificate" | "epd" => {
            let mut v = Vec::new();
            for c in &chunks {
                match c {
                    Chunk::RHello(r) => v.push(r.responder_certificate.clone()),
                    Chunk::IIKeying(k) => v.push(k.initiator_certificate.clone()),
                    Chunk::IHello(h) => v.push(h.epd.clone()),
                    _ => {}
                }
            }
            for kind in [ProfileKind::Flash] {
                for server in [false, true] {
                    let p = fixtures::profile(kind, server);
                    v.push(p.certificate().to_vec());
                    v.push(p.canonical_epd(p.certificate()));
                }
            }
            if name == "epd" {
                v.extend(
                    [
                        "any",
                        "uri:rtmfp://localhost/",
                        "hostname:example.com",
                        "fingerprint:00112233",
                        "hex:0a",
                    ]
                    .iter()
                    .map(|s| s.as_bytes().to_vec()),
                );
            }
            v
        }
        "tc_metadata" => {
            let mut v: Vec<Vec<u8>> = [0u64, 1, 300, u64::MAX]
                .iter()
                .flat_map(|&s| {
                    [false, true].map(|n| {
                        TcMetadata {
                            stream_id: s,
                            network_order: n,
                        }
                        .to_bytes()
                    })
                })
                .collect();
            for c in of_type(types::USER_DATA) {
                if let Chunk::UserData(u) = c
                    && let Some(md) = u.metadata()
                {
                    v.push(md.to_vec());
                }
            }
            v
        }
        "keylog" => m.keylogs.iter().map(|k| k.as_bytes().to_vec()).collect(),
        "scenario_yaml" => small_scenarios(&m.scenarios),
        // Each parser target's seeds behind the byte that selects it, broken
        // (a key renamed, a value of the wrong kind) so that they fail.
        "yaml_errors" => ["scenario_yaml", "expectations_yaml"]
            .iter()
            .enumerate()
            .flat_map(|(sel, t)| {
                seeds(t).into_iter().flat_map(move |s| {
                    let t = String::from_utf8_lossy(&s).into_owned();
                    [
                        t.replacen("chunk:", "chunck:", 1)
                            .replacen("case:", "cas:", 1),
                        t.replacen("steps:", "steps: 7\nx:", 1).replacen(
                            "expected:",
                            "expected: 7\nx:",
                            1,
                        ),
                        t.replacen(": ", ": \u{a0}", 1),
                    ]
                    .into_iter()
                    .map(move |t| [&[sel as u8][..], t.as_bytes()].concat())
                })
            })
            .collect(),
        "expectations_yaml" => {
            let ids: Vec<String> = m
                .scenarios
                .iter()
                .filter_map(|(_, t)| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("id:").map(|s| s.trim().to_string()))
                })
                .collect();
            let mut v = Vec::new();
            for (i, id) in ids.iter().enumerate().take(8) {
                let outcome = ["fail", "warn", "unsupported"][i % 3];
                v.push(
                    format!(
                        "implementation: fuzz\nexpected:\n  - case: {id}\n    outcome: {outcome}\n    reason: seed\n  - case: \"{id}*\"\n    skip: true\n    reason: glob\n"
                    )
                    .into_bytes(),
                );
            }
            v
        }
        "capture_frame" => {
            let mut v = Vec::new();
            for r in fixtures::recorded_session(ProfileKind::Plain)
                .iter()
                .take(8)
            {
                let mut input = vec![0u8];
                input.extend(capture::udp_frame(r.src, r.dst, &r.data, 1));
                v.push(input);
            }
            v
        }
        "capture_file" => m.captures.iter().map(|(_, b)| b.clone()).collect(),
        "chunk_roundtrip" => random_inputs(1, 64, 96),
        "packet_roundtrip" => random_inputs(2, 64, 256),
        "endpoint_server" => {
            // [profile] then ops (see `stateful::server_steps`): replay the whole
            // recorded session, then time steps; or partial replays with raw and
            // mutated datagrams in between.
            let mut v = vec![
                vec![0, 2, 6, 0x10, 0x27, 6, 0xff, 0xff],
                vec![1, 2, 6, 0x10, 0x27, 6, 0xff, 0xff],
                vec![0, 1, 1, 3, 0, 7, 1, 1, 5, 0, 1, 4, 2, 9],
                vec![1, 1, 1, 4, 3, 1, 1, 2, 5, 3],
            ];
            v.extend(random_inputs(3, 16, 64));
            v
        }
        "endpoint_pair" => {
            let mut v = vec![
                vec![0, 1, 0, 0x10, 0, 2, 0x10, 0, 0, 0xff, 2, 0xff, 0x0f, 6],
                vec![1, 2, 0, 0x20, 3, 1, 0, 0x44, 2, 0x10, 0, 5, 0, 2, 0x40, 0],
                vec![0, 3, 1, 5, 3, 0, 7, 4, 1, 9, 0, 1, 2, 3, 2, 0xff, 0xff],
            ];
            v.extend(random_inputs(4, 8, 48));
            v
        }
        _ => Vec::new(),
    };
    dedup(v)
}

/// The libFuzzer dictionary: chunk type codes, option types, magic values.
pub fn dictionary() -> String {
    use types::*;
    let mut out = String::from(
        "# rtmfp fuzzing dictionary, generated by `rtmfp-fuzz corpus` (RFC 7016 §2.3\n\
         # chunk types and their zero-length headers, RFC 7425 option types, magic values).\n",
    );
    let mut add = |name: String, bytes: &[u8]| {
        let esc: String = bytes.iter().map(|b| format!("\\x{b:02x}")).collect();
        out.push_str(&format!("{name}=\"{esc}\"\n"));
    };
    for (t, n) in [
        (PACKET_FRAGMENT, "packet_fragment"),
        (IHELLO, "ihello"),
        (FIHELLO, "fihello"),
        (RHELLO, "rhello"),
        (REDIRECT, "redirect"),
        (RHELLO_COOKIE_CHANGE, "rhello_cookie_change"),
        (IIKEYING, "iikeying"),
        (RIKEYING, "rikeying"),
        (PING, "ping"),
        (PING_REPLY, "ping_reply"),
        (USER_DATA, "user_data"),
        (NEXT_USER_DATA, "next_user_data"),
        (BITMAP_ACK, "bitmap_ack"),
        (RANGE_ACK, "range_ack"),
        (BUFFER_PROBE, "buffer_probe"),
        (FLOW_EXCEPTION_REPORT, "flow_exception_report"),
        (CLOSE, "close"),
        (CLOSE_ACK, "close_ack"),
        (EXPERIMENTAL_ECN_REPORT, "ecn_report"),
    ] {
        add(format!("chunk_{n}"), &[t]);
        add(format!("chunk_{n}_empty"), &[t, 0, 0]);
    }
    for (n, b) in [
        ("mode_startup", &[0x0b][..]),
        ("mode_initiator_ts", &[0x89][..]),
        ("mode_responder_ts_tse", &[0x4e][..]),
        ("padding_ff", &[0xff; 4][..]),
        ("plain_trailer", &[0xff; 16][..]),
        ("default_session_key", &b"Adobe Systems 02"[..]),
        ("tc_metadata", &b"TC\x04"[..]),
        ("vlu_max", &vlu::to_vec(u64::MAX)[..]),
        ("vlu_nonminimal", &[0x80, 0x80, 0x01][..]),
        ("marker", &[0x00][..]),
        ("opt_metadata", &[0x01, 0x00][..]),
        ("opt_return_association", &[0x02, 0x0a][..]),
        ("opt_ignorable", &[0xc0, 0x00][..]),
        ("addr_v4", &[0x01, 127, 0, 0, 1, 0x07, 0x8f][..]),
        ("addr_v6_flag", &[0x81][..]),
        ("cert_hostname", &[0x00][..]),
        ("cert_dh_group", &[0x15][..]),
        ("cert_static_key", &[0x1d][..]),
        ("epd_fingerprint", &[0x0f][..]),
        ("epd_hostname", &[0x0a][..]),
        ("skc_hmac", &[0x1a][..]),
        ("skc_sseq", &[0x1e][..]),
        ("skc_ephemeral", &[0x0d][..]),
    ] {
        add(n.to_string(), b);
    }
    for y in [
        "id:",
        "title:",
        "steps:",
        "send:",
        "expect:",
        "chunks:",
        "profile:",
        "role:",
        "requirements:",
        "expected:",
        "outcome:",
        "skip:",
        "case:",
        "session ",
        "->",
    ] {
        add(
            format!(
                "yaml_{}",
                y.trim_end_matches([':', ' '])
                    .replace('-', "arrow")
                    .replace('>', "")
            ),
            y.as_bytes(),
        );
    }
    out
}

/// Writes every target's seeds under `dir/<target>/` (named by content hash) and
/// returns how many files each got.
pub fn write_corpus(dir: &Path) -> std::io::Result<Vec<(&'static str, usize)>> {
    let mut counts = Vec::new();
    for t in crate::TARGETS {
        let d = dir.join(t.name);
        std::fs::create_dir_all(&d)?;
        let s = seeds(t.name);
        for input in &s {
            std::fs::write(
                d.join(format!("seed-{}", hex::encode(&hash(input)[..8]))),
                input,
            )?;
        }
        counts.push((t.name, s.len()));
    }
    Ok(counts)
}

/// A content hash for file names (FNV-1a, 64 bits, twice with different bases).
fn hash(b: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (k, basis) in [0xcbf2_9ce4_8422_2325u64, 0x84222325cbf29ce4]
        .into_iter()
        .enumerate()
    {
        let mut h = basis;
        for &x in b {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out[k * 8..k * 8 + 8].copy_from_slice(&h.to_be_bytes());
    }
    out
}
