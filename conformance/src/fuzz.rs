//! `rtmfp-conformance fuzz --target udp://HOST:PORT`: fuzz a live RTMFP stack.
//!
//! The tester opens a real session with the target (so it holds the session
//! keys) and sends structure-aware mutations of real traffic inside it: chunk
//! lists taken from the captures in vectors/ and from the tester's own packets,
//! with fields, options and chunks mutated, then validly sealed (encryption,
//! checksum or HMAC, session sequence number) by the reference's own session
//! cipher. It also sends plain packets with byte-level mutations inside valid
//! encryption, and raw byte mutations of startup packets.
//!
//! After each batch, a liveness check: a fresh session from a fresh socket and an
//! echo round trip. A batch after which the target is dead or wedged is saved as
//! a replayable JSON file (the plain packets, sealed again in a new session on
//! replay) with the command that replays it.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant as WallClock};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rtmfp::capture;
use rtmfp::crypto::CryptoProfile;
use rtmfp::decode::{DatagramRef, Decoder, ProfileChoice};
use rtmfp::endpoint::{Crafted, Endpoint, Event, SessionHandle, State};
use rtmfp::keylog::KeyLog;
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::time::Instant;
use rtmfp::wire::chunk::{types, user_data_option};
use rtmfp::wire::{Chunk, Fragmentation, Mode, Opt, Packet, vlu};
use serde::{Deserialize, Serialize};

use crate::suite::{self, ProfileName};

/// `--time`: a number of seconds a `Duration` can hold (finite, 0 to 10^9).
fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=1e9).contains(&v) => Ok(v),
        Ok(_) => Err(format!("{s} is not between 0 and 1e9 seconds")),
        Err(_) => Err(format!("`{s}` is not a number of seconds")),
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The live stack: udp://HOST:PORT.
    #[arg(long)]
    pub target: String,
    #[arg(long, value_enum, default_value = "flash")]
    pub profile: ProfileName,
    /// EPD selecting the target (as for `run`; default: any (flash) or "server" (plain)).
    #[arg(long, value_name = "SPEC")]
    pub epd: Option<String>,
    /// Stop after this many fuzz inputs.
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 300.0, value_parser = seconds)]
    pub time: f64,
    /// Inputs between liveness checks.
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The target does not echo flows: liveness is a fresh handshake only.
    #[arg(long)]
    pub no_echo: bool,
    /// Captures (with .keys beside them) whose packets are mutated.
    #[arg(long, value_name = "DIR", default_value = "vectors")]
    pub vectors: PathBuf,
    /// Where findings, summary.json and fuzz.html go.
    #[arg(long, value_name = "DIR", default_value = "fuzz-live")]
    pub out: PathBuf,
    /// Replay a saved finding instead of fuzzing, then check liveness.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Keep fuzzing after a finding (the target must come back by itself).
    #[arg(long)]
    pub keep_going: bool,
}

/// How an input is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Chunks (mutated structurally), sealed in the open session.
    SessionChunks,
    /// A whole plain packet (byte-mutated), sealed in the open session.
    SessionBytes,
    /// A plain startup packet (byte-mutated), sealed with the Default Session Key.
    StartupBytes,
    /// A raw datagram, sent as is.
    RawDatagram,
}

/// One fuzz input, replayable: what it was before sealing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Input {
    pub kind: Kind,
    /// The plain packet (SessionChunks/SessionBytes/StartupBytes) or datagram (RawDatagram).
    #[serde(with = "hex_bytes")]
    pub bytes: Vec<u8>,
    pub mutation: String,
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// A saved finding.
#[derive(Debug, Serialize, Deserialize)]
pub struct Finding {
    pub what: String,
    pub target: String,
    pub profile: String,
    pub replay_command: String,
    pub inputs: Vec<Input>,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub target: String,
    pub profile: String,
    pub seconds: f64,
    pub inputs: u64,
    pub inputs_per_sec: f64,
    pub by_kind: std::collections::BTreeMap<String, u64>,
    pub sessions_opened: u64,
    pub liveness_checks: u64,
    pub templates: usize,
    pub findings: Vec<String>,
    pub stopped_because: String,
}

// ----------------------------------------------------------------- the link

/// A tester endpoint on its own UDP socket, talking to the target.
struct Link {
    sock: UdpSocket,
    local: SocketAddr,
    target: SocketAddr,
    ep: Endpoint,
    start: WallClock,
    /// The tester's own outgoing datagrams (for templates).
    sent: Vec<Vec<u8>>,
    /// Receiving flows (the target's sending flows) seen.
    recv_flows: Vec<u64>,
    echoed: Vec<Vec<u8>>,
}

impl Link {
    fn new(target: SocketAddr, profile: Arc<dyn CryptoProfile>, seed: u64) -> Result<Self, String> {
        let bind: SocketAddr = if target.is_ipv6() {
            "[::]:0".parse().expect("literal")
        } else {
            "0.0.0.0:0".parse().expect("literal")
        };
        let sock = UdpSocket::bind(bind).map_err(|e| format!("cannot bind a UDP socket: {e}"))?;
        sock.connect(target)
            .map_err(|e| format!("cannot reach {target}: {e}"))?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        let mut ep = Endpoint::new(EndpointConfig::default(), profile, seed);
        ep.set_local_addresses(vec![local]);
        Ok(Link {
            sock,
            local,
            target,
            ep,
            start: WallClock::now(),
            sent: Vec::new(),
            recv_flows: Vec::new(),
            echoed: Vec::new(),
        })
    }

    fn now(&self) -> Instant {
        Instant::ZERO + self.start.elapsed()
    }

    fn flush(&mut self) {
        while let Some(t) = self.ep.poll_transmit() {
            // A refused send (ICMP port unreachable seen on a connected socket)
            // is what a dead target looks like: the liveness check reports it.
            let _ = self.sock.send(&t.data);
            if self.sent.len() < 256 {
                self.sent.push(t.data);
            }
        }
    }

    /// Runs the endpoint for up to `limit`, until `done` says so.
    fn pump(&mut self, limit: Duration, mut done: impl FnMut(&mut Self, Event) -> bool) -> bool {
        let until = WallClock::now() + limit;
        let mut buf = vec![0u8; 65_536];
        loop {
            self.flush();
            while let Some(ev) = self.ep.poll_event() {
                if let Event::Session {
                    event: SessionEvent::FlowOpened { flow, .. },
                    ..
                } = &ev
                    && !self.recv_flows.contains(flow)
                {
                    self.recv_flows.push(*flow);
                }
                if let Event::Session {
                    event: SessionEvent::Message { data, .. },
                    ..
                } = &ev
                {
                    self.echoed.push(data.clone());
                }
                if done(self, ev) {
                    return true;
                }
            }
            let left = until.saturating_duration_since(WallClock::now());
            if left.is_zero() {
                return false;
            }
            let now = self.now();
            let timer = self
                .ep
                .next_timeout()
                .map_or(left, |t| if t > now { t - now } else { Duration::ZERO });
            let wait = left.min(timer).max(Duration::from_micros(200));
            let _ = self.sock.set_read_timeout(Some(wait));
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let now = self.now();
                    self.ep
                        .handle_datagram(now, self.local, self.target, &buf[..n]);
                }
                Err(_) => {
                    let now = self.now();
                    self.ep.handle_timeout(now);
                }
            }
        }
    }

    /// Opens a session; `None` if the target did not answer within `limit`.
    fn open(&mut self, epd: &[u8], limit: Duration) -> Option<SessionHandle> {
        let now = self.now();
        let h = self.ep.connect(now, epd.to_vec(), &[self.target]);
        let ok = self.pump(limit, |l, _| {
            l.ep.session(h).is_some_and(|s| s.state() == State::S_OPEN)
        });
        let open = ok
            || self
                .ep
                .session(h)
                .is_some_and(|s| s.state() == State::S_OPEN);
        open.then_some(h)
    }
}

/// A fresh session from a fresh socket, then (unless the target does not echo)
/// a message that must come back.
fn alive(
    a: &Args,
    target: SocketAddr,
    profile: &Arc<dyn CryptoProfile>,
    epd: &[u8],
    n: u64,
) -> Result<(), String> {
    let mut l = Link::new(target, profile.clone(), a.seed ^ 0x11fe ^ n)?;
    let Some(h) = l.open(epd, Duration::from_secs(5)) else {
        return Err("no handshake within 5 s".into());
    };
    if a.no_echo {
        return Ok(());
    }
    let now = l.now();
    let flow =
        l.ep.open_flow(now, h, b"liveness".to_vec(), None, FlowOptions::default())
            .map_err(|e| format!("open flow: {e}"))?;
    let msg = format!("alive {n}").into_bytes();
    l.ep.send(now, h, flow, &msg, None)
        .map_err(|e| format!("send: {e}"))?;
    let got = l.pump(Duration::from_secs(5), |l, _| {
        l.echoed.iter().any(|m| m == &msg)
    });
    let now = l.now();
    l.ep.close(now, h, false);
    l.flush();
    if got {
        Ok(())
    } else {
        Err("session opened but the echo did not come back within 5 s".into())
    }
}

// -------------------------------------------------------------- templates

/// Chunk lists of real session packets (initiator side), from the captures.
fn capture_templates(dir: &Path) -> (Vec<Vec<Chunk>>, Vec<Vec<u8>>) {
    let mut chunks = Vec::new();
    let mut startup = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (chunks, startup);
    };
    let mut files: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    for p in files {
        let Ok(cap) = capture::read_file(&p) else {
            continue;
        };
        let log = KeyLog::read_file(&p.with_extension("keys")).ok();
        let mut d = Decoder::new(log.as_ref(), ProfileChoice::Auto);
        for (r, u) in cap.datagrams().take(400) {
            let dp = d.decode(DatagramRef {
                index: r.index,
                time: r.timestamp,
                src: u.src,
                dst: u.dst,
                payload: &u.payload,
            });
            let Some(pk) = dp.packet else { continue };
            match pk.header.mode {
                Mode::Startup => startup.push(dp.plain.clone()),
                _ if !pk.chunks.is_empty() => chunks.push(pk.chunks),
                _ => {}
            }
        }
    }
    (chunks, startup)
}

// -------------------------------------------------------------- mutation

struct Mutator {
    rng: ChaCha20Rng,
}

const SMALL: [u64; 8] = [0, 1, 2, 3, 4, 0x7f, 0x80, 0x3fff];

impl Mutator {
    fn pick_u64(&mut self, known: &[u64]) -> u64 {
        match self.rng.gen_range(0..4) {
            0 if !known.is_empty() => known[self.rng.gen_range(0..known.len())],
            1 => SMALL[self.rng.gen_range(0..SMALL.len())],
            2 => u64::MAX >> self.rng.gen_range(0..64),
            _ => self.rng.gen_range(0..64),
        }
    }

    fn bytes(&mut self, b: &mut Vec<u8>) {
        let n = self.rng.gen_range(1..=4);
        for _ in 0..n {
            if b.is_empty() || self.rng.gen_bool(0.1) {
                let at = self.rng.gen_range(0..=b.len());
                b.insert(at, self.rng.r#gen());
                continue;
            }
            let i = self.rng.gen_range(0..b.len());
            match self.rng.gen_range(0..5) {
                0 => b[i] ^= 1 << self.rng.gen_range(0..8),
                1 => b[i] = self.rng.r#gen(),
                2 => b.truncate(i),
                3 => {
                    let v = [0x00, 0xff, 0x7f, 0x80, 0x01][self.rng.gen_range(0..5)];
                    b[i] = v;
                }
                _ => {
                    let j = self.rng.gen_range(0..b.len());
                    b.swap(i, j);
                }
            }
        }
    }

    fn options(&mut self, opts: &mut Option<Vec<Opt>>, recv_flows: &[u64]) -> &'static str {
        let list = opts.get_or_insert_with(Vec::new);
        match self.rng.gen_range(0..6) {
            0 => {
                // §3.6.3.1 step 5 wants metadata; empty is legal and unusual.
                list.retain(|o| o.kind != user_data_option::METADATA);
                list.push(Opt::new(user_data_option::METADATA, Vec::new()));
                "metadata emptied"
            }
            1 => {
                list.retain(|o| o.kind != user_data_option::RETURN_FLOW_ASSOCIATION);
                // Half the time a flow the target really sends (§3.6.3.1 step 6
                // and 7 accept only those), else any number.
                let f = if !recv_flows.is_empty() && self.rng.r#gen() {
                    recv_flows[self.rng.gen_range(0..recv_flows.len())]
                } else {
                    self.pick_u64(recv_flows)
                };
                list.push(Opt::new(
                    user_data_option::RETURN_FLOW_ASSOCIATION,
                    vlu::to_vec(f),
                ));
                "return association added"
            }
            2 => {
                let kind = if self.rng.r#gen() {
                    self.rng.gen_range(1..0x2000)
                } else {
                    self.rng.gen_range(0x2000..0x4000)
                };
                let mut v = Vec::new();
                self.bytes(&mut v);
                list.push(Opt::new(kind, v));
                "unknown option added"
            }
            3 => {
                *opts = None;
                "options removed"
            }
            4 => {
                if let Some(o) = list.first_mut() {
                    let mut v = std::mem::take(&mut o.value);
                    self.bytes(&mut v);
                    o.value = v;
                }
                "option value mutated"
            }
            _ => {
                list.push(Opt::new(user_data_option::METADATA, b"fuzz".to_vec()));
                "metadata added"
            }
        }
    }

    /// A structure-aware change to one chunk.
    fn chunk(&mut self, c: &mut Chunk, flows: &[u64], recv_flows: &[u64]) -> String {
        let name = c.name();
        let what: &str = match c {
            Chunk::UserData(u) => match self.rng.gen_range(0..8) {
                0 => {
                    u.flow_id = self.pick_u64(flows);
                    "flowID"
                }
                7 => {
                    // §3.6.3.1: the first fragment of a flow the target has not
                    // seen, with one or two option mutations (a new flow is where
                    // the options are read).
                    u.flow_id = flows.iter().max().map_or(1, |m| m + 1) + self.rng.gen_range(0..8);
                    u.sequence_number = 1;
                    u.fsn_offset = 1;
                    u.flags.fragment_control = Fragmentation::Whole;
                    u.options.get_or_insert_with(|| {
                        vec![Opt::new(user_data_option::METADATA, b"fuzz".to_vec())]
                    });
                    let first = self.options(&mut u.options, recv_flows);
                    if self.rng.r#gen() {
                        let second = self.options(&mut u.options, recv_flows);
                        return format!("{name} new flow, {first}, {second}");
                    }
                    return format!("{name} new flow, {first}");
                }
                1 => {
                    u.sequence_number = self.pick_u64(&[u.sequence_number.wrapping_add(1)]);
                    "sequenceNumber"
                }
                2 => {
                    u.fsn_offset = self.pick_u64(&[u.sequence_number]);
                    "fsnOffset"
                }
                3 => {
                    u.flags.fragment_control = Fragmentation::from_bits(self.rng.gen_range(0..4));
                    u.flags.abandon = self.rng.r#gen();
                    u.flags.fin = self.rng.r#gen();
                    u.flags.reserved = self.rng.r#gen::<u8>() & 0x4c;
                    "flags"
                }
                4 | 5 => self.options(&mut u.options, recv_flows),
                _ => {
                    self.bytes(&mut u.user_data);
                    "userData"
                }
            },
            Chunk::NextUserData(u) => {
                if self.rng.r#gen() {
                    self.options(&mut u.options, recv_flows)
                } else {
                    self.bytes(&mut u.user_data);
                    "userData"
                }
            }
            Chunk::BitmapAck(a) => {
                a.cumulative_ack = self.pick_u64(&[a.cumulative_ack]);
                a.flow_id = self.pick_u64(recv_flows);
                self.bytes(&mut a.bitmap);
                "ack fields"
            }
            Chunk::RangeAck(a) => {
                a.cumulative_ack = self.pick_u64(&[a.cumulative_ack]);
                a.buffer_blocks_available = self.pick_u64(&[]);
                a.flow_id = self.pick_u64(recv_flows);
                "ack fields"
            }
            Chunk::BufferProbe(b) => {
                b.flow_id = self.pick_u64(recv_flows);
                "flowID"
            }
            Chunk::FlowExceptionReport(f) => {
                f.flow_id = self.pick_u64(flows);
                f.exception = self.pick_u64(&[]);
                "fields"
            }
            _ => {
                let t = c.chunk_type();
                let mut p = Vec::new();
                c.emit_payload(&mut p);
                self.bytes(&mut p);
                *c = Chunk::parse(t, &p);
                "payload bytes"
            }
        };
        format!("{name} {what}")
    }

    /// Mutates a chunk list: change, duplicate, drop, insert or reorder chunks.
    fn chunks(&mut self, cs: &mut Vec<Chunk>, flows: &[u64], recv_flows: &[u64]) -> String {
        let mut notes = Vec::new();
        for _ in 0..self.rng.gen_range(1..=3) {
            if cs.is_empty() {
                cs.push(Chunk::Ping(rtmfp::wire::Ping {
                    message: b"fuzz".to_vec(),
                }));
            }
            let i = self.rng.gen_range(0..cs.len());
            match self.rng.gen_range(0..10) {
                0 => {
                    let c = cs[i].clone();
                    cs.insert(i, c);
                    notes.push("duplicated chunk".to_string());
                }
                1 if cs.len() > 1 => {
                    cs.remove(i);
                    notes.push("dropped chunk".to_string());
                }
                2 => {
                    const TYPES: [u8; 10] = [
                        types::PING,
                        types::BUFFER_PROBE,
                        types::FLOW_EXCEPTION_REPORT,
                        types::BITMAP_ACK,
                        types::RANGE_ACK,
                        types::NEXT_USER_DATA,
                        types::PACKET_FRAGMENT,
                        types::EXPERIMENTAL_ECN_REPORT,
                        0x00,
                        0x55,
                    ];
                    let t = TYPES[self.rng.gen_range(0..TYPES.len())];
                    let mut p = vlu::to_vec(self.pick_u64(flows));
                    self.bytes(&mut p);
                    cs.insert(i, Chunk::parse(t, &p));
                    notes.push(format!("inserted {}", rtmfp::wire::chunk::type_name(t)));
                }
                3 if cs.len() > 1 => {
                    let j = self.rng.gen_range(0..cs.len());
                    cs.swap(i, j);
                    notes.push("reordered chunks".to_string());
                }
                _ => notes.push(self.chunk(&mut cs[i], flows, recv_flows)),
            }
        }
        // A session packet never needs a Close from us here: the fuzzer would
        // only close its own session.
        cs.retain(|c| !matches!(c, Chunk::Close | Chunk::CloseAck));
        notes.join(", ")
    }
}

// ------------------------------------------------------------------- run

fn parse_target(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let hp = s
        .strip_prefix("udp://")
        .ok_or_else(|| format!("--target `{s}`: expected udp://HOST:PORT"))?;
    hp.to_socket_addrs()
        .map_err(|e| format!("--target `{s}`: {e}"))?
        .next()
        .ok_or_else(|| format!("--target `{s}`: no address"))
}

fn target_epd(a: &Args) -> Result<Vec<u8>, String> {
    Ok(match (&a.epd, a.profile) {
        (Some(s), ProfileName::Plain) => s.as_bytes().to_vec(),
        (Some(s), ProfileName::Flash) => {
            rtmfp::crypto::flash::epd::Epd::from_spec(s).map_err(|e| format!("--epd: {e}"))?
        }
        (None, ProfileName::Flash) => rtmfp::crypto::flash::epd::Epd::from_spec("any")?,
        (None, ProfileName::Plain) => b"server".to_vec(),
    })
}

fn profile_name(p: ProfileName) -> &'static str {
    match p {
        ProfileName::Flash => "flash",
        ProfileName::Plain => "plain",
    }
}

fn replay_command(a: &Args, file: &Path) -> String {
    let mut c = format!(
        "rtmfp-conformance fuzz --target {} --profile {} --replay {}",
        a.target,
        profile_name(a.profile),
        file.display()
    );
    if let Some(e) = &a.epd {
        c.push_str(&format!(" --epd '{e}'"));
    }
    if a.no_echo {
        c.push_str(" --no-echo");
    }
    c
}

/// Sends one input in `session` of `l`.
fn send(l: &mut Link, h: Option<SessionHandle>, input: &Input) {
    let now = l.now();
    let dst = Some(l.target);
    match input.kind {
        Kind::SessionChunks | Kind::SessionBytes => {
            if let Some(h) = h {
                let _ = l.ep.send_crafted(
                    now,
                    dst,
                    Crafted {
                        session: Some(h),
                        plain: Some(input.bytes.clone()),
                        ..Crafted::default()
                    },
                );
            }
        }
        Kind::StartupBytes => {
            let _ = l.ep.send_crafted(
                now,
                dst,
                Crafted {
                    plain: Some(input.bytes.clone()),
                    ..Crafted::default()
                },
            );
        }
        Kind::RawDatagram => {
            let _ = l.sock.send(&input.bytes);
        }
    }
    l.flush();
}

/// `rtmfp-conformance fuzz`.
pub fn run(a: &Args) -> Result<bool, String> {
    let target = parse_target(&a.target)?;
    let id = suite::identity(a.profile, a.seed)?;
    let profile = id.tester.clone();
    let epd = target_epd(a)?;
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    if let Some(file) = &a.replay {
        return replay(a, file, target, &profile, &epd);
    }
    alive(a, target, &profile, &epd, 0)
        .map_err(|e| format!("{}: the target is not alive before fuzzing: {e}", a.target))?;
    let (cap_chunks, cap_startup) = capture_templates(&a.vectors);
    let mut m = Mutator {
        rng: ChaCha20Rng::seed_from_u64(a.seed),
    };
    let mut summary = Summary {
        target: a.target.clone(),
        profile: profile_name(a.profile).into(),
        templates: cap_chunks.len() + cap_startup.len(),
        ..Summary::default()
    };
    let started = WallClock::now();
    let limit = Duration::try_from_secs_f64(a.time).map_err(|e| format!("--time: {e}"))?;
    let bar = indicatif::ProgressBar::new(a.count);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} inputs  {msg}",
        )
        .map_err(|e| e.to_string())?,
    );
    let mut link: Option<(Link, SessionHandle, u64)> = None;
    let mut batch: Vec<Input> = Vec::new();
    let mut checks = 0u64;
    summary.stopped_because = "count reached".into();
    while summary.inputs < a.count {
        if started.elapsed() >= limit {
            summary.stopped_because = "time reached".into();
            break;
        }
        // (Re)open the fuzzing session when needed (our own mutations may close it).
        let usable = link
            .as_ref()
            .is_some_and(|(l, h, _)| l.ep.session(*h).is_some_and(|s| s.state() == State::S_OPEN));
        if !usable {
            let mut l = Link::new(target, profile.clone(), m.rng.r#gen())?;
            let Some(h) = l.open(&epd, Duration::from_secs(5)) else {
                // Cannot even open: the liveness check below decides.
                batch.push(Input {
                    kind: Kind::RawDatagram,
                    bytes: Vec::new(),
                    mutation: "(session open failed)".into(),
                });
                link = None;
                if !check(
                    a,
                    target,
                    &profile,
                    &epd,
                    &mut checks,
                    &mut batch,
                    &mut summary,
                    &bar,
                )? {
                    break;
                }
                continue;
            };
            summary.sessions_opened += 1;
            // A flow (echoed back by an echoing target), so there are flows to mutate.
            let now = l.now();
            let flow =
                l.ep.open_flow(now, h, b"fuzz".to_vec(), None, FlowOptions::default())
                    .unwrap_or(0);
            let _ = l.ep.send(now, h, flow, b"fuzz flow", None);
            l.pump(Duration::from_millis(100), |_, _| false);
            link = Some((l, h, flow));
        }
        let (l, h, flow) = link.as_mut().expect("opened above");
        let flows = [*flow];
        let input = match m.rng.gen_range(0..20) {
            0..=13 => {
                // Structure-aware: a real packet's chunks (a capture's, or our own).
                let own: Vec<Vec<Chunk>> = l
                    .sent
                    .iter()
                    .rev()
                    .take(32)
                    .filter_map(|d| l.ep.peek(d, true))
                    .filter(|p| p.header.mode != Mode::Startup)
                    .map(|p| p.chunks)
                    .collect();
                let pool = if own.is_empty() || (!cap_chunks.is_empty() && m.rng.gen_bool(0.4)) {
                    &cap_chunks
                } else {
                    &own
                };
                let mut cs = if pool.is_empty() {
                    Vec::new()
                } else {
                    pool[m.rng.gen_range(0..pool.len())].clone()
                };
                // Captured user data names the capture's flows: move it to ours.
                for c in cs.iter_mut() {
                    if let Chunk::UserData(u) = c
                        && m.rng.gen_bool(0.7)
                    {
                        u.flow_id = *flow;
                    }
                }
                let recv = l.recv_flows.clone();
                let note = m.chunks(&mut cs, &flows, &recv);
                let mode = match l.ep.session(*h).map(|s| s.role()) {
                    Some(rtmfp::endpoint::Role::Responder) => Mode::Responder,
                    _ => Mode::Initiator,
                };
                let mut hdr = rtmfp::wire::Header::new(mode);
                hdr.timestamp = Some(m.rng.r#gen());
                let p = Packet::new(hdr, cs);
                let Ok(bytes) = p.to_bytes() else { continue };
                Input {
                    kind: Kind::SessionChunks,
                    bytes,
                    mutation: note,
                }
            }
            14 | 15 => {
                let mut bytes = l
                    .sent
                    .iter()
                    .rev()
                    .find_map(|d| {
                        l.ep.peek(d, true)
                            .filter(|p| p.header.mode != Mode::Startup)
                            .and_then(|p| p.to_bytes().ok())
                    })
                    .unwrap_or_else(|| vec![0x09]);
                m.bytes(&mut bytes);
                Input {
                    kind: Kind::SessionBytes,
                    bytes,
                    mutation: "plain packet bytes".into(),
                }
            }
            16..=18 => {
                let mut bytes = if cap_startup.is_empty() {
                    vec![0x0b, 0x30, 0x00, 0x02, 0x01, 0x0a]
                } else {
                    cap_startup[m.rng.gen_range(0..cap_startup.len())].clone()
                };
                m.bytes(&mut bytes);
                Input {
                    kind: Kind::StartupBytes,
                    bytes,
                    mutation: "startup packet bytes".into(),
                }
            }
            _ => {
                let mut bytes = l.sent.first().cloned().unwrap_or_else(|| vec![0; 20]);
                m.bytes(&mut bytes);
                Input {
                    kind: Kind::RawDatagram,
                    bytes,
                    mutation: "raw startup datagram bytes".into(),
                }
            }
        };
        send(l, Some(*h), &input);
        // Let the target answer (keeps the session's acks and timers moving).
        l.pump(Duration::from_millis(2), |_, _| false);
        *summary
            .by_kind
            .entry(format!("{:?}", input.kind))
            .or_default() += 1;
        batch.push(input);
        summary.inputs += 1;
        bar.set_position(summary.inputs);
        if batch.len() >= a.batch {
            if !check(
                a,
                target,
                &profile,
                &epd,
                &mut checks,
                &mut batch,
                &mut summary,
                &bar,
            )? {
                break;
            }
            // A fresh fuzzing session after each batch: old sessions may be wedged
            // by our own inputs without the target being at fault.
            if let Some((mut l, h, _)) = link.take() {
                let now = l.now();
                l.ep.close(now, h, true);
                l.flush();
            }
        }
    }
    if !batch.is_empty() && summary.findings.is_empty() {
        check(
            a,
            target,
            &profile,
            &epd,
            &mut checks,
            &mut batch,
            &mut summary,
            &bar,
        )?;
    }
    bar.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    summary.inputs_per_sec = summary.inputs as f64 / summary.seconds.max(1e-9);
    summary.liveness_checks = checks;
    write_summary(a, &summary)?;
    println!(
        "{} inputs in {:.0} s ({:.0}/s), {} sessions, {} liveness checks, {} finding(s); {}",
        summary.inputs,
        summary.seconds,
        summary.inputs_per_sec,
        summary.sessions_opened,
        checks,
        summary.findings.len(),
        summary.stopped_because
    );
    for f in &summary.findings {
        println!("finding: {f}");
    }
    Ok(summary.findings.is_empty())
}

/// The liveness check after a batch; saves the batch as a finding if the target
/// is dead or wedged. Returns whether to go on.
#[allow(clippy::too_many_arguments)]
fn check(
    a: &Args,
    target: SocketAddr,
    profile: &Arc<dyn CryptoProfile>,
    epd: &[u8],
    checks: &mut u64,
    batch: &mut Vec<Input>,
    summary: &mut Summary,
    bar: &indicatif::ProgressBar,
) -> Result<bool, String> {
    *checks += 1;
    let verdict = alive(a, target, profile, epd, *checks);
    let inputs = std::mem::take(batch);
    let Err(why) = verdict else {
        return Ok(true);
    };
    let n = summary.findings.len() + 1;
    let file = a.out.join(format!("finding-{n}.json"));
    let f = Finding {
        what: format!("target dead or wedged after this batch: {why}"),
        target: a.target.clone(),
        profile: profile_name(a.profile).into(),
        replay_command: replay_command(a, &file),
        inputs,
    };
    let text = serde_json::to_string_pretty(&f).map_err(|e| e.to_string())?;
    std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
    let line = format!(
        "finding {n}: {}\n  saved {} ({} inputs)\n  replay: {}",
        f.what,
        file.display(),
        f.inputs.len(),
        f.replay_command
    );
    // A hidden bar (not a terminal) swallows println: print the finding anyway.
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
    summary.findings.push(format!(
        "{}: {} (replay: {})",
        file.display(),
        f.what,
        f.replay_command
    ));
    if a.keep_going {
        return Ok(true);
    }
    summary.stopped_because = "finding".into();
    Ok(false)
}

/// Replays a saved finding in a new session, then checks liveness.
fn replay(
    a: &Args,
    file: &Path,
    target: SocketAddr,
    profile: &Arc<dyn CryptoProfile>,
    epd: &[u8],
) -> Result<bool, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let f: Finding = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a finding: {e}", file.display()))?;
    alive(a, target, profile, epd, 0).map_err(|e| {
        format!(
            "{}: the target is not alive before the replay: {e}",
            a.target
        )
    })?;
    let mut l = Link::new(target, profile.clone(), a.seed)?;
    let h = l
        .open(epd, Duration::from_secs(5))
        .ok_or("the target did not open a session for the replay")?;
    let now = l.now();
    if let Ok(flow) =
        l.ep.open_flow(now, h, b"fuzz".to_vec(), None, FlowOptions::default())
    {
        let _ = l.ep.send(now, h, flow, b"fuzz flow", None);
    }
    l.pump(Duration::from_millis(100), |_, _| false);
    for i in &f.inputs {
        send(&mut l, Some(h), i);
        l.pump(Duration::from_millis(2), |_, _| false);
    }
    match alive(a, target, profile, epd, 1) {
        Ok(()) => {
            println!(
                "replayed {} inputs from {}: the target is still alive (not reproduced)",
                f.inputs.len(),
                file.display()
            );
            Ok(true)
        }
        Err(e) => {
            println!(
                "replayed {} inputs from {}: REPRODUCED: {e}",
                f.inputs.len(),
                file.display()
            );
            Ok(false)
        }
    }
}

fn write_summary(a: &Args, s: &Summary) -> Result<(), String> {
    let json = a.out.join("summary.json");
    let text = serde_json::to_string_pretty(s).map_err(|e| e.to_string())?;
    std::fs::write(&json, &text).map_err(|e| format!("{}: {e}", json.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let html = rtmfp_reports::fuzzing::render(None, Some(&v)).map_err(|e| e.to_string())?;
    let page = a.out.join("fuzz.html");
    std::fs::write(&page, html).map_err(|e| format!("{}: {e}", page.display()))?;
    println!("summary: {}  page: {}", json.display(), page.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtmfp::wire::UserData;

    // The "new flow" mutation makes the first fragment of a flow the target has
    // not seen; among many, some carry an empty metadata option together with a
    // return association naming a flow the target sends (the combination that
    // reaches §3.6.3.1 steps 5-7 and the planted crash).
    #[test]
    fn new_flow_mutations_reach_empty_metadata_with_a_real_association() {
        let mut m = Mutator {
            rng: ChaCha20Rng::seed_from_u64(1),
        };
        let (flows, recv_flows) = ([2u64], [5u64]);
        let mut new_flows = 0;
        let mut combined = 0;
        for _ in 0..5_000 {
            let mut c = Chunk::UserData(UserData {
                flags: Default::default(),
                flow_id: 2,
                sequence_number: 9,
                fsn_offset: 0,
                options: None,
                user_data: b"x".to_vec(),
            });
            let note = m.chunk(&mut c, &flows, &recv_flows);
            let Chunk::UserData(u) = &c else { continue };
            if !note.contains("new flow") {
                continue;
            }
            new_flows += 1;
            assert!(
                u.flow_id > 2 && u.sequence_number == 1 && u.fsn_offset == 1,
                "{note}"
            );
            if u.metadata() == Some(&[][..]) && matches!(u.return_flow_association(), Some(Ok(5))) {
                combined += 1;
            }
        }
        assert!(new_flows > 300, "{new_flows}");
        assert!(combined > 5, "{combined} of {new_flows}");
    }
}
