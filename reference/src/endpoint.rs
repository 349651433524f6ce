//! The sans-IO RTMFP endpoint (RFC 7016 §3): it owns the sessions and their flows,
//! takes datagrams and time, and produces datagrams, events and the next timeout.
//!
//! ```text
//! handle_datagram(now, local, from, bytes)   a UDP datagram arrived
//! handle_timeout(now)                        time passed (call at next_timeout())
//! poll_transmit() -> Transmit                datagrams to send
//! poll_event() -> Event                      what happened (sessions, flows, messages)
//! connect / open_flow / send / close ...     what the application wants
//! ```
//! Randomness comes from a generator seeded by the caller, so a simulated run is
//! reproducible byte for byte.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use crate::crypto::{CryptoProfile, InitiatorKeying, PacketCipher};
use crate::session::config::{EndpointConfig, FIHelloMode};
use crate::session::cookie::{CookieCheck, CookieJar};
use crate::session::fragment::{self, Reassembler};
use crate::session::handshake::{Candidate, Retry};
use crate::session::{Data, SessionEvent};
use crate::sim;
use crate::time::Instant;
use crate::wire::{
    Address, Chunk, FIHello, Header, IHello, IIKeying, Mode, Origin, Packet, RHello,
    RHelloCookieChange, RIKeying, Redirect, multiplex,
};

/// An application's handle on a session (stable from `connect` or acceptance
/// until the session is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SessionHandle(pub u64);

/// RFC 7016 §3.5 session states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum State {
    S_IHELLO_SENT,
    S_KEYING_SENT,
    S_OPEN,
    S_NEARCLOSE,
    S_FARCLOSE_LINGER,
    S_CLOSED,
    S_OPEN_FAILED,
}

/// Which end of the session this endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Initiator,
    Responder,
}

/// A datagram to send.
pub type Transmit = sim::Transmit;

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A session reached S_OPEN.
    SessionOpened {
        session: SessionHandle,
        role: Role,
        far_address: SocketAddr,
        far_certificate: Vec<u8>,
    },
    /// An opening session failed (timeout, duplicate, handshake error).
    SessionOpenFailed {
        session: SessionHandle,
        reason: String,
    },
    /// A session reached S_CLOSED.
    SessionClosed {
        session: SessionHandle,
        reason: String,
    },
    /// The far end's address changed (verified, §3.5.4.2).
    AddressChanged {
        session: SessionHandle,
        address: SocketAddr,
    },
    /// The facts for a key log line set, at session open.
    KeyLog {
        initiator: SocketAddr,
        responder: SocketAddr,
        facts: Vec<(String, String)>,
    },
    /// Flow and message events of an open session.
    Session {
        session: SessionHandle,
        event: SessionEvent,
    },
    /// With `EndpointConfig::tap`: a datagram that decrypted (the plain packet,
    /// padding included) and which key opened it.
    Packet {
        session: Option<SessionHandle>,
        from: SocketAddr,
        session_id: u32,
        default_key: bool,
        plain: Vec<u8>,
    },
    /// With `EndpointConfig::tap`: a datagram that could not be decrypted or verified.
    Undecodable {
        from: SocketAddr,
        session_id: Option<u32>,
        reason: String,
    },
}

/// Why a datagram, packet or chunk was dropped or ignored: a counter per reason.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub drops: BTreeMap<String, u64>,
}

impl Stats {
    pub fn drop(&mut self, reason: impl Into<String>) {
        let r = reason.into();
        tracing::debug!(reason = %r, "drop");
        *self.drops.entry(r).or_default() += 1;
    }

    pub fn dropped(&self, reason: &str) -> u64 {
        self.drops.get(reason).copied().unwrap_or(0)
    }
}

/// The initiator's state while opening (S_IHELLO_SENT, S_KEYING_SENT).
#[derive(Debug)]
struct Opening {
    epd: Vec<u8>,
    tag: Vec<u8>,
    candidates: Vec<Candidate>,
    deadline: Instant,
    // S_KEYING_SENT:
    cookie: Vec<u8>,
    cookie_changed: bool,
    far_certificate: Vec<u8>,
    keying: Option<Box<dyn InitiatorKeying>>,
    iikeying: Option<IIKeying>,
    retry: Option<Retry>,
}

/// One session.
#[derive(Debug)]
pub struct Session {
    pub handle: SessionHandle,
    pub role: Role,
    pub state: State,
    /// The session ID the far end uses to send to us (0 until chosen).
    pub local_sid: u32,
    /// The session ID we use to send to the far end.
    pub remote_sid: u32,
    /// DESTADDR
    pub dest: SocketAddr,
    pub far_certificate: Vec<u8>,
    pub near_nonce: Vec<u8>,
    pub far_nonce: Vec<u8>,
    opening: Option<Opening>,
    cipher: Option<Box<dyn PacketCipher>>,
    /// Responder: the IIKeying this session came from and the RIKeying answer,
    /// to recognise and answer a retransmitted IIKeying (§3.5.1.1.2 2.1).
    iikeying: Option<IIKeying>,
    rikeying: Option<Vec<u8>>,
    /// Everything about flows, acks, timestamps and congestion.
    pub data: Data,
    opened_at: Instant,
    last_heard: Instant,
    /// Keepalive Ping outstanding: when sent, how many.
    ping: Option<Retry>,
    /// §3.5.4.2 MOB_TX_TS, MOB_RX_TS, MOB_SECRET.
    mob_tx_ts: Option<Instant>,
    mob_rx_ts: Option<u64>,
    mob_secret: [u8; 16],
    /// S_NEARCLOSE / S_FARCLOSE_LINGER: since when, and the Close retransmission.
    closing_since: Option<Instant>,
    close_retry: Option<Instant>,
    close_reason: Option<String>,
}

/// A packet built by a test tool (see [`Endpoint::send_crafted`]).
#[derive(Debug, Clone, Default)]
pub struct Crafted {
    /// Send in this session (its keys, session ID, mode); `None`: Default Session Key.
    pub session: Option<SessionHandle>,
    /// Override the session ID (default: the session's, or 0).
    pub session_id: Option<u32>,
    /// The whole header (default: the session's mode and timestamps, or startup).
    pub header: Option<Header>,
    pub chunks: Vec<Chunk>,
    /// Bytes after the chunks (RFC 7016 §2.2.4 padding).
    pub padding: Vec<u8>,
    /// Break the integrity check (flip a byte of the last cipher block / checksum).
    pub corrupt: bool,
    /// Send from this local address instead of the default one.
    pub src: Option<SocketAddr>,
    /// The whole plain packet (header and chunks, any bytes at all) instead of
    /// `header`, `chunks` and `padding`; still sealed with the chosen keys.
    pub plain: Option<Vec<u8>>,
}

/// The far end's key component as the key derivation sees it: with the
/// `wrong-key-derivation` fault, not the one on the wire. Flash: one byte more
/// (a trailing Marker, which parsing ignores but the HMACs of RFC 7425 §4.6.5
/// do not); plain: its first salt byte flipped.
fn wrong_keys(
    faults: &crate::session::config::Faults,
    profile: &dyn CryptoProfile,
    component: &[u8],
) -> Vec<u8> {
    let mut c = component.to_vec();
    if faults.wrong_key_derivation {
        match (profile.name(), c.first_mut()) {
            ("plain", Some(b)) => *b ^= 1,
            _ => c.push(0),
        }
    }
    c
}

/// A timestamp on every session packet, as Flash Player sends them (see
/// `EndpointConfig::timestamp_every_packet`); §3.5.2.2 only asks for one when it
/// changed, so the far end sees the same timestamp again, which it ignores.
fn stamp_every_packet(config: &EndpointConfig, now: Instant, h: &mut Header) {
    if config.timestamp_every_packet && h.timestamp.is_none() {
        h.timestamp = Some(now.timestamp_250hz());
    }
}

/// The RFC's Close timers (§3.5.5).
pub const CLOSE_RETRANSMIT: Duration = Duration::from_secs(5);
pub const NEARCLOSE_LIMIT: Duration = Duration::from_secs(90);
pub const FARCLOSE_LINGER: Duration = Duration::from_secs(19);
/// §3.5.4.2: a mobility check Ping Reply older than this is not accepted.
pub const MOBILITY_REPLY_LIMIT: Duration = Duration::from_secs(120);

/// The sans-IO endpoint.
pub struct Endpoint {
    pub config: EndpointConfig,
    profile: Arc<dyn CryptoProfile>,
    rng: ChaCha20Rng,
    cookies: CookieJar,
    default_cipher: Box<dyn PacketCipher>,
    // Boxed: a B-tree node holds eleven entries inline, and a Session is large.
    sessions: BTreeMap<SessionHandle, Box<Session>>,
    by_sid: BTreeMap<u32, SessionHandle>,
    next_handle: u64,
    next_packet_id: u64,
    reassembly: Reassembler,
    outbox: VecDeque<Transmit>,
    events: VecDeque<Event>,
    pub stats: Stats,
    /// The local addresses we receive on (the first is the default source).
    local: Vec<SocketAddr>,
    /// §3.4 startup pacing per destination.
    pacers: BTreeMap<SocketAddr, Pacer>,
    /// Set while sending our own (initiator) startup packets.
    initiating: bool,
    /// With `tap`: closed sessions whose keys a test tool may still use, to
    /// craft packets in them and to see (not process) what arrives for them.
    closed_taps: VecDeque<Box<Session>>,
}

/// How many closed sessions a tapping endpoint keeps keys for.
const CLOSED_TAPS: usize = 16;

/// §3.4: at most 4380 bytes and four packets per destination every 200 ms.
pub const STARTUP_PACING_WINDOW: Duration = Duration::from_millis(200);
pub const STARTUP_PACING_BYTES: usize = 4380;
pub const STARTUP_PACING_PACKETS: usize = 4;

/// A sliding 200 ms window of recent startup sends to one destination.
#[derive(Debug, Default)]
struct Pacer {
    recent: VecDeque<(Instant, usize)>,
    queue: VecDeque<Vec<u8>>,
}

impl Pacer {
    fn roll(&mut self, now: Instant) {
        while self
            .recent
            .front()
            .is_some_and(|&(t, _)| now - t >= STARTUP_PACING_WINDOW)
        {
            self.recent.pop_front();
        }
    }

    fn fits(&self, len: usize) -> bool {
        let bytes: usize = self.recent.iter().map(|r| r.1).sum();
        self.recent.len() < STARTUP_PACING_PACKETS
            && (self.recent.is_empty() || bytes + len <= STARTUP_PACING_BYTES)
    }

    fn count(&mut self, now: Instant, len: usize) {
        self.recent.push_back((now, len));
    }

    /// When the oldest send leaves the window.
    fn next_release(&self) -> Option<Instant> {
        self.recent.front().map(|&(t, _)| t + STARTUP_PACING_WINDOW)
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("profile", &self.profile.name())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

fn session_id_bytes(sid: u32) -> [u8; 4] {
    sid.to_be_bytes()
}

impl Endpoint {
    /// A new endpoint with its identity (`profile`) and a seed for all of its
    /// randomness (tags, session IDs, cookie secret, DH keys).
    pub fn new(config: EndpointConfig, profile: Arc<dyn CryptoProfile>, seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        Endpoint {
            default_cipher: profile.default_cipher(),
            config,
            profile,
            rng,
            cookies: CookieJar::new(secret),
            sessions: BTreeMap::new(),
            by_sid: BTreeMap::new(),
            next_handle: 1,
            next_packet_id: 1,
            reassembly: Reassembler::default(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            local: Vec::new(),
            pacers: BTreeMap::new(),
            initiating: false,
            closed_taps: VecDeque::new(),
        }
    }

    pub fn profile(&self) -> &Arc<dyn CryptoProfile> {
        &self.profile
    }

    /// The configuration, for test tools that adjust it before sessions start
    /// (e.g. [`EndpointConfig::force_tcr`], `receive_buffer`); sessions copy
    /// what they need when they are created.
    pub fn config_mut(&mut self) -> &mut EndpointConfig {
        &mut self.config
    }

    /// Declares the local addresses (for the simulator; the runtime sets the bound one).
    pub fn set_local_addresses(&mut self, addrs: Vec<SocketAddr>) {
        self.local = addrs;
    }

    pub fn session(&self, h: SessionHandle) -> Option<&Session> {
        self.sessions.get(&h).map(|b| &**b)
    }

    pub fn session_mut(&mut self, h: SessionHandle) -> Option<&mut Session> {
        self.sessions.get_mut(&h).map(|b| &mut **b)
    }

    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values().map(|b| &**b)
    }

    /// Per-initiator state held before a valid IIKeying: none, by design
    /// (§3.5.1.1.2); this counts everything the endpoint keeps per far end, for
    /// tests that assert it stays zero under spoofed IHellos.
    pub fn state_size(&self) -> usize {
        self.sessions.len() + self.by_sid.len() + self.reassembly.len() + self.pacers.len()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn new_handle(&mut self) -> SessionHandle {
        let h = SessionHandle(self.next_handle);
        self.next_handle += 1;
        h
    }

    /// §3.5.1.1.1 / §3.5.1.1.2: a new, unique receive session ID, never 0 (§3.3).
    fn new_sid(&mut self) -> u32 {
        loop {
            let sid: u32 = self.rng.r#gen();
            if sid != 0 && !self.by_sid.contains_key(&sid) {
                return sid;
            }
        }
    }

    // ----------------------------------------------------------------- sending

    fn send_raw(&mut self, dst: SocketAddr, mut data: Vec<u8>) {
        if self.config.faults.checksum_rfc1071
            && self.profile.name() == "plain"
            && data.len() >= 4 + 18
        {
            // Recompute the trailing checksum with RFC 1071's odd-byte rule (the
            // salt cancels out: only the difference between the rules is applied).
            use crate::crypto::checksum::{checksum, checksum_rfc1071};
            let n = data.len();
            let body = &data[4..n - 2];
            let stored = u16::from_be_bytes([data[n - 2], data[n - 1]]);
            let wrong = stored
                .wrapping_sub(checksum(body))
                .wrapping_add(checksum_rfc1071(body));
            data[n - 2..].copy_from_slice(&wrong.to_be_bytes());
        }
        self.stats.datagrams_out += 1;
        self.stats.bytes_out += data.len() as u64;
        self.outbox.push_back(Transmit {
            src: None,
            dst,
            data,
        });
    }

    /// Sends a packet built by a test tool: arbitrary header and chunks, in a
    /// session (its keys, session ID and mode) or under the Default Session Key,
    /// optionally with a broken integrity check, optionally from another local
    /// address. Returns the datagram.
    pub fn send_crafted(
        &mut self,
        now: Instant,
        dst: Option<SocketAddr>,
        c: Crafted,
    ) -> Result<Vec<u8>, String> {
        let (mut cipher, sid, header, dst) = match c.session {
            Some(h) => {
                let s = match self.sessions.get_mut(&h) {
                    Some(s) => s,
                    None => self
                        .closed_taps
                        .iter_mut()
                        .find(|s| s.handle == h)
                        .ok_or("no such session")?,
                };
                let mode = match s.role {
                    Role::Initiator => Mode::Initiator,
                    Role::Responder => Mode::Responder,
                };
                let header = match c.header {
                    Some(h) => h,
                    None => {
                        let mut h = s.data.header(now, mode, false, false);
                        stamp_every_packet(&self.config, now, &mut h);
                        h
                    }
                };
                let cipher = s.cipher.take().ok_or("session has no keys")?;
                (
                    Some((h, cipher)),
                    c.session_id.unwrap_or(s.remote_sid),
                    header,
                    dst.unwrap_or(s.dest),
                )
            }
            None => {
                let mut header = Header::new(Mode::Startup);
                header.timestamp = Some(now.timestamp_250hz());
                (
                    None,
                    c.session_id.unwrap_or(0),
                    c.header.unwrap_or(header),
                    dst.ok_or("no destination")?,
                )
            }
        };
        let mut packet = Packet::new(header, c.chunks);
        packet.padding = c.padding;
        let plain = match c.plain {
            Some(p) => Ok(p),
            None => packet.to_bytes().map_err(|e| e.to_string()),
        };
        let mut enc = Vec::new();
        if let Ok(p) = &plain {
            match cipher.as_mut() {
                Some((_, ci)) => ci.seal(p, &mut enc),
                None => self.default_cipher.seal(p, &mut enc),
            }
        }
        if let Some((h, ci)) = cipher
            && let Some(s) = self
                .sessions
                .get_mut(&h)
                .or(self.closed_taps.iter_mut().find(|s| s.handle == h))
        {
            s.cipher = Some(ci);
        }
        plain?;
        if c.corrupt
            && let Some(b) = enc.last_mut()
        {
            *b ^= 0x5a;
        }
        let mut d = Vec::with_capacity(enc.len() + 4);
        multiplex::mux(sid, &enc, &mut d);
        self.stats.datagrams_out += 1;
        self.stats.bytes_out += d.len() as u64;
        self.outbox.push_back(Transmit {
            src: c.src,
            dst,
            data: d.clone(),
        });
        Ok(d)
    }

    /// Sends a startup packet (mode 3) under the Default Session Key to session ID
    /// `sid`, fragmenting it if it is too large (§3.4).
    fn send_startup(&mut self, now: Instant, dst: SocketAddr, sid: u32, chunks: Vec<Chunk>) {
        let mut header = Header::new(Mode::Startup);
        header.timestamp = Some(now.timestamp_250hz());
        let plain = match Packet::new(header, chunks).to_bytes() {
            Ok(p) => p,
            Err(e) => {
                self.stats
                    .drop(format!("outgoing startup packet not encodable: {e}"));
                return;
            }
        };
        let fragmented = plain.len() > self.config.max_startup_packet;
        let pieces = if fragmented {
            let id = self.next_packet_id;
            self.next_packet_id += 1;
            fragment::fragment(&plain, Mode::Startup, id, self.config.max_startup_packet)
        } else {
            vec![plain]
        };
        // §3.4: the sender MUST rate limit packet transmission; SHOULD NOT send more
        // than 4380 bytes nor four packets per distinct endpoint every 200 ms. Our own
        // startup packets (IHello, IIKeying) and all fragments are paced. A single-
        // datagram answer (RHello, Redirect, Cookie Change, RIKeying) is sent at
        // once: it answers one received packet, and pacing it would mean keeping
        // state per initiator before a valid IIKeying (§3.5.1.1.2).
        let answer = !fragmented && sid == 0 && !self.initiating;
        // (The no-fragment-pacing fault sends everything at once.)
        let answer = answer || self.config.faults.no_fragment_pacing;
        for p in pieces {
            let mut enc = Vec::with_capacity(p.len() + 32);
            self.default_cipher.seal(&p, &mut enc);
            let mut d = Vec::with_capacity(enc.len() + 4);
            multiplex::mux(sid, &enc, &mut d);
            if answer {
                self.send_raw(dst, d);
            } else {
                self.pace(now, dst, d);
            }
        }
    }

    /// Sends now if the destination's 200 ms budget allows, else queues.
    fn pace(&mut self, now: Instant, dst: SocketAddr, d: Vec<u8>) {
        let p = self.pacers.entry(dst).or_default();
        p.roll(now);
        if p.queue.is_empty() && p.fits(d.len()) {
            p.count(now, d.len());
            self.send_raw(dst, d);
        } else {
            p.queue.push_back(d);
        }
    }

    /// Releases paced datagrams whose window has come; forgets idle pacers.
    fn service_pacers(&mut self, now: Instant) {
        let mut out = Vec::new();
        for (dst, p) in self.pacers.iter_mut() {
            p.roll(now);
            while p.queue.front().is_some_and(|d| p.fits(d.len())) {
                let d = p.queue.pop_front().expect("front");
                p.count(now, d.len());
                out.push((*dst, d));
            }
        }
        self.pacers
            .retain(|_, p| !p.queue.is_empty() || !p.recent.is_empty());
        for (dst, d) in out {
            self.send_raw(dst, d);
        }
    }

    /// Seals and sends a session packet.
    fn send_session_packet(&mut self, h: SessionHandle, dst: SocketAddr, plain: &[u8]) {
        let Some(s) = self.sessions.get_mut(&h) else {
            return;
        };
        let Some(c) = s.cipher.as_mut() else { return };
        let mut enc = Vec::with_capacity(plain.len() + 48);
        c.seal(plain, &mut enc);
        let mut d = Vec::with_capacity(enc.len() + 4);
        multiplex::mux(s.remote_sid, &enc, &mut d);
        self.send_raw(dst, d);
    }

    // ----------------------------------------------------------- application API

    /// Starts opening a session to the endpoint named by `epd`, sending IHellos to
    /// each candidate address (§3.5.1.1.1).
    pub fn connect(
        &mut self,
        now: Instant,
        epd: Vec<u8>,
        candidates: &[SocketAddr],
    ) -> SessionHandle {
        let h = self.new_handle();
        // §3.5.1.1.1: a new, unique, cryptographically pseudorandom tag of at least
        // 8 bytes (16 bytes for Flash-era peers, fact sheet D3).
        let mut tag = vec![0u8; 16];
        self.rng.fill_bytes(&mut tag);
        let opening = Opening {
            epd,
            tag,
            candidates: Vec::new(),
            deadline: now + self.config.open_timeout,
            cookie: Vec::new(),
            cookie_changed: false,
            far_certificate: Vec::new(),
            keying: None,
            iikeying: None,
            retry: None,
        };
        let mut secret = [0u8; 16];
        self.rng.fill_bytes(&mut secret);
        let session = Session {
            handle: h,
            role: Role::Initiator,
            state: State::S_IHELLO_SENT,
            local_sid: 0,
            remote_sid: 0,
            dest: candidates
                .first()
                .copied()
                .unwrap_or(([0, 0, 0, 0], 0).into()),
            far_certificate: Vec::new(),
            near_nonce: Vec::new(),
            far_nonce: Vec::new(),
            opening: Some(opening),
            cipher: None,
            iikeying: None,
            rikeying: None,
            data: Data::new(&self.config, now),
            opened_at: now,
            last_heard: now,
            ping: None,
            mob_tx_ts: None,
            mob_rx_ts: None,
            mob_secret: secret,
            closing_since: None,
            close_retry: None,
            close_reason: None,
        };
        self.sessions.insert(h, Box::new(session));
        for &a in candidates {
            self.add_candidate(now, h, a);
        }
        self.service_openings(now);
        h
    }

    /// Adds a candidate address to an opening session (bounded by REDIRECT_THRESHOLD).
    pub fn add_candidate(&mut self, now: Instant, h: SessionHandle, addr: SocketAddr) -> bool {
        let limit = self.config.redirect_threshold;
        let first = self.config.startup_retry;
        let Some(o) = self.sessions.get_mut(&h).and_then(|s| s.opening.as_mut()) else {
            return false;
        };
        if o.candidates.iter().any(|c| c.addr == addr) || o.candidates.len() >= limit {
            return false;
        }
        o.candidates.push(Candidate::new(addr, now, first));
        true
    }

    /// Closes a session: orderly (S_NEARCLOSE, Close Requests) or abrupt (one Close
    /// Ack, then S_CLOSED) (§3.5.5).
    pub fn close(&mut self, now: Instant, h: SessionHandle, abrupt: bool) {
        let Some(s) = self.sessions.get_mut(&h) else {
            return;
        };
        match s.state {
            State::S_IHELLO_SENT | State::S_KEYING_SENT => {
                self.fail_open(h, "closed by the application");
            }
            State::S_OPEN if abrupt => {
                self.send_chunks(now, h, vec![Chunk::CloseAck]);
                self.enter_closed(h, "abrupt close by the application");
            }
            State::S_OPEN => {
                // §3.5.5: on S_OPEN -> S_NEARCLOSE abort all flows, send Close now
                // and every 5 s.
                s.state = State::S_NEARCLOSE;
                s.closing_since = Some(now);
                s.close_retry = Some(now + CLOSE_RETRANSMIT);
                let evs = s.data.abort_all("session closing");
                self.push_session_events(h, evs);
                self.send_chunks(now, h, vec![Chunk::Close]);
            }
            State::S_NEARCLOSE | State::S_FARCLOSE_LINGER if abrupt => {
                self.send_chunks(now, h, vec![Chunk::CloseAck]);
                self.enter_closed(h, "abrupt close by the application");
            }
            _ => {}
        }
    }

    /// Closes every session (orderly or abrupt).
    pub fn close_all(&mut self, now: Instant, abrupt: bool) {
        let hs: Vec<_> = self.sessions.keys().copied().collect();
        for h in hs {
            self.close(now, h, abrupt);
        }
    }

    fn push_session_events(&mut self, h: SessionHandle, evs: Vec<SessionEvent>) {
        for event in evs {
            self.events.push_back(Event::Session { session: h, event });
        }
    }

    fn fail_open(&mut self, h: SessionHandle, reason: &str) {
        if let Some(mut s) = self.sessions.remove(&h) {
            s.state = State::S_OPEN_FAILED;
            if s.local_sid != 0 {
                self.by_sid.remove(&s.local_sid);
            }
            self.events.push_back(Event::SessionOpenFailed {
                session: h,
                reason: reason.to_string(),
            });
        }
    }

    fn enter_closed(&mut self, h: SessionHandle, reason: &str) {
        if let Some(mut s) = self.sessions.remove(&h) {
            let evs = s.data.abort_all(reason);
            self.push_session_events(h, evs);
            s.state = State::S_CLOSED;
            self.by_sid.remove(&s.local_sid);
            self.events.push_back(Event::SessionClosed {
                session: h,
                reason: s.close_reason.take().unwrap_or_else(|| reason.to_string()),
            });
            if self.config.tap && s.cipher.is_some() {
                if self.closed_taps.len() >= CLOSED_TAPS {
                    self.closed_taps.pop_front();
                }
                self.closed_taps.push_back(s);
            }
        }
    }

    // ------------------------------------------------------------- receiving

    /// A datagram arrived at local address `local` from `from`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) {
        let _ = local;
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += data.len() as u64;
        let (sid, encrypted) = match multiplex::demux(data) {
            Ok(x) => x,
            Err(_) => {
                self.tap_undecodable(from, None, "datagram shorter than a session ID");
                return self.stats.drop("datagram shorter than a session ID");
            }
        };
        if sid == multiplex::STARTUP_SESSION_ID {
            let opened = match self.default_cipher.open(encrypted) {
                Ok(o) => o,
                Err(e) => {
                    self.tap_undecodable(from, Some(sid), &format!("startup packet: {e}"));
                    return self.stats.drop(format!("startup packet: {e}"));
                }
            };
            self.tap_packet(None, from, sid, true, &opened.packet);
            return self.handle_startup_plain(now, from, 0, &opened.packet, 0);
        }
        let Some(&h) = self.by_sid.get(&sid) else {
            // A closed session a test tool still watches: tap it, process nothing.
            if let Some(c) = self
                .closed_taps
                .iter_mut()
                .rev()
                .find(|s| s.local_sid == sid)
                .and_then(|s| Some((s.handle, s.cipher.as_mut()?)))
                && let Ok(o) = c.1.open(encrypted)
            {
                let h = c.0;
                self.tap_packet(Some(h), from, sid, false, &o.packet);
                return self.stats.drop("packet for a closed session");
            }
            // Perhaps a startup packet to a session ID we do not know (tap only).
            if self.config.tap {
                match self.default_cipher.open(encrypted) {
                    Ok(o) => self.tap_packet(None, from, sid, true, &o.packet),
                    Err(e) => {
                        self.tap_undecodable(from, Some(sid), &format!("unknown session ID: {e}"))
                    }
                }
            }
            return self.stats.drop("unknown session ID");
        };
        let state = self.sessions[&h].state;
        if state == State::S_KEYING_SENT {
            // RIKeying and RHello Cookie Change come to our session ID under the
            // Default Session Key (RFC 7016 §2.2.3, §2.3.6, §2.3.8).
            let opened = match self.default_cipher.open(encrypted) {
                Ok(o) => o,
                Err(e) => {
                    self.tap_undecodable(
                        from,
                        Some(sid),
                        &format!("startup packet to opening session: {e}"),
                    );
                    return self
                        .stats
                        .drop(format!("startup packet to opening session: {e}"));
                }
            };
            self.tap_packet(Some(h), from, sid, true, &opened.packet);
            return self.handle_startup_plain(now, from, sid, &opened.packet, 0);
        }
        let s = self.sessions.get_mut(&h).expect("indexed");
        let Some(cipher) = s.cipher.as_mut() else {
            return self.stats.drop("session has no keys");
        };
        let opened = match cipher.open(encrypted) {
            Ok(o) => o,
            Err(e) => {
                if self.config.tap {
                    // A startup packet (e.g. a retransmitted RIKeying) or a bad packet.
                    match self.default_cipher.open(encrypted) {
                        Ok(o) => self.tap_packet(Some(h), from, sid, true, &o.packet),
                        Err(_) => {
                            self.tap_undecodable(from, Some(sid), &format!("session packet: {e}"))
                        }
                    }
                }
                // RFC 7016 §2.2.3: SHALL discard packets that fail integrity.
                return self.stats.drop(format!("session packet: {e}"));
            }
        };
        self.tap_packet(Some(h), from, sid, false, &opened.packet);
        self.handle_session_plain(now, h, from, &opened.packet);
    }

    /// Decrypts a copy of a datagram this endpoint sent (`outgoing`) or received,
    /// changing no state (the ciphers are copied). For test tools that act on what
    /// a datagram carries, e.g. to drop only packets with a given chunk.
    pub fn peek(&self, data: &[u8], outgoing: bool) -> Option<Packet> {
        let (sid, encrypted) = multiplex::demux(data).ok()?;
        let session_cipher: Option<Box<dyn PacketCipher>> = if sid == multiplex::STARTUP_SESSION_ID
        {
            None
        } else if outgoing {
            self.sessions
                .values()
                .find(|s| s.remote_sid == sid)
                .and_then(|s| s.cipher.as_ref())
                .map(|c| c.reflect(0))
        } else {
            self.by_sid
                .get(&sid)
                .and_then(|h| self.sessions.get(h))
                .and_then(|s| s.cipher.as_ref())
                .map(|c| c.clone_box())
        };
        let opened = session_cipher
            .and_then(|mut c| c.open(encrypted).ok())
            .or_else(|| self.default_cipher.clone_box().open(encrypted).ok())?;
        Packet::parse(&opened.packet).ok()
    }

    fn tap_packet(
        &mut self,
        session: Option<SessionHandle>,
        from: SocketAddr,
        session_id: u32,
        default_key: bool,
        plain: &[u8],
    ) {
        if self.config.tap {
            self.events.push_back(Event::Packet {
                session,
                from,
                session_id,
                default_key,
                plain: plain.to_vec(),
            });
        }
    }

    fn tap_undecodable(&mut self, from: SocketAddr, session_id: Option<u32>, reason: &str) {
        if self.config.tap {
            self.events.push_back(Event::Undecodable {
                from,
                session_id,
                reason: reason.to_string(),
            });
        }
    }

    fn handle_startup_plain(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sid: u32,
        plain: &[u8],
        depth: u8,
    ) {
        let packet = match Packet::parse(plain) {
            Ok(p) => p,
            Err(e) => return self.stats.drop(format!("startup packet: {e}")),
        };
        // §2.2.4: session startup chunks are only allowed in mode 3.
        if packet.header.mode != Mode::Startup {
            return self.stats.drop("non-startup mode with the default key");
        }
        for c in packet.chunks {
            match c {
                Chunk::IHello(x) if sid == 0 => self.on_ihello(now, from, &x.epd, &x.tag, None),
                Chunk::RHello(x) if sid == 0 => self.on_rhello(now, from, x),
                Chunk::Redirect(x) if sid == 0 => self.on_redirect(now, from, x),
                Chunk::IIKeying(x) if sid == 0 => self.on_iikeying(now, from, x),
                Chunk::RIKeying(x) if sid != 0 => {
                    self.on_rikeying(now, from, sid, x, packet.header.timestamp)
                }
                Chunk::RHelloCookieChange(x) if sid != 0 => {
                    self.on_cookie_change(now, from, sid, x)
                }
                Chunk::PacketFragment(f) if depth == 0 => {
                    match self.reassembly.add(now, from, packet.header.mode, &f) {
                        Ok(Some(whole)) => {
                            // §3.4: MUST discard a reassembled packet whose mode differs.
                            if Packet::parse(&whole)
                                .is_ok_and(|p| p.header.mode == packet.header.mode)
                            {
                                self.handle_startup_plain(now, from, sid, &whole, depth + 1);
                            } else {
                                self.stats.drop("reassembled packet with another mode");
                            }
                        }
                        Ok(None) => {}
                        Err(e) => self.stats.drop(format!("packet fragment: {e:?}")),
                    }
                }
                Chunk::Malformed(m) => self.stats.drop(format!(
                    "malformed chunk {:#04x}: {}",
                    m.chunk_type, m.error
                )),
                other => self
                    .stats
                    .drop(format!("chunk {} not allowed here", other.name())),
            }
        }
    }

    /// §3.5.1.1.2 / §3.5.1.4 / §3.5.1.5: an IHello (or, with `forwarded_by`, an
    /// FIHello treated as one) from `from`.
    fn on_ihello(
        &mut self,
        now: Instant,
        from: SocketAddr,
        epd: &[u8],
        tag: &[u8],
        forwarded: Option<()>,
    ) {
        if self.profile.epd_selects_me(epd) {
            if forwarded.is_some() && self.config.fihello == FIHelloMode::ImpliedRedirect {
                let r = Redirect {
                    tag_echo: tag.to_vec(),
                    redirect_destinations: vec![],
                };
                return self.send_startup(now, from, 0, vec![Chunk::Redirect(r)]);
            }
            // §3.5.1.1.2: no persistent state for an IHello; the cookie carries it.
            let cookie = self.cookies.make(now, from);
            let mut tag_echo = tag.to_vec();
            if self.config.faults.alter_tag_echo
                && let Some(b) = tag_echo.last_mut()
            {
                *b ^= 1;
            }
            let rh = RHello {
                tag_echo,
                cookie,
                responder_certificate: self.profile.certificate().to_vec(),
            };
            return self.send_startup(now, from, 0, vec![Chunk::RHello(rh)]);
        }
        if forwarded.is_some() {
            return self
                .stats
                .drop("FIHello for an EPD that does not select us");
        }
        // Redirector (§3.5.1.4): static rules.
        let rule = self
            .config
            .redirects
            .iter()
            .find(|r| r.epd.as_ref().is_none_or(|e| e.as_slice() == epd))
            .cloned();
        if let Some(rule) = rule {
            let r = Redirect {
                tag_echo: tag.to_vec(),
                redirect_destinations: rule
                    .to
                    .iter()
                    .map(|&a| Address::new(a, Origin::Unknown))
                    .collect(),
            };
            return self.send_startup(now, from, 0, vec![Chunk::Redirect(r)]);
        }
        // Forwarder (§3.5.1.5): an S_OPEN session whose far certificate the EPD selects.
        if self.config.forwarder {
            let target = self
                .sessions
                .values()
                .find(|s| {
                    s.state == State::S_OPEN
                        && self
                            .profile
                            .epd_selects_certificate(epd, &s.far_certificate)
                })
                .map(|s| (s.handle, s.dest));
            if let Some((h, peer)) = target {
                let fi = FIHello {
                    epd: epd.to_vec(),
                    reply_address: Address::new(from, Origin::Observed),
                    tag: tag.to_vec(),
                };
                self.send_chunks(now, h, vec![Chunk::FIHello(fi)]);
                if self.config.redirect_to_forwarded_peer {
                    let r = Redirect {
                        tag_echo: tag.to_vec(),
                        redirect_destinations: vec![Address::new(peer, Origin::Observed)],
                    };
                    self.send_startup(now, from, 0, vec![Chunk::Redirect(r)]);
                }
                return;
            }
        }
        self.stats.drop("IHello for an EPD that does not select us");
    }

    fn opening_by_tag(&self, tag: &[u8]) -> Option<SessionHandle> {
        self.sessions
            .values()
            .find(|s| s.opening.as_ref().is_some_and(|o| o.tag == tag))
            .map(|s| s.handle)
    }

    /// §3.5.1.1.1: a Redirect for an S_IHELLO_SENT session adds candidates.
    fn on_redirect(&mut self, now: Instant, from: SocketAddr, r: Redirect) {
        let Some(h) = self.opening_by_tag(&r.tag_echo) else {
            return self.stats.drop("Redirect with an unknown tag");
        };
        if self.sessions[&h].state != State::S_IHELLO_SENT {
            return self
                .stats
                .drop("Redirect for a session not in S_IHELLO_SENT");
        }
        // §2.3.5: no destinations = an Implied Redirect to the packet's source.
        let dests: Vec<SocketAddr> = if r.redirect_destinations.is_empty() {
            vec![from]
        } else {
            r.redirect_destinations.iter().map(|a| a.addr).collect()
        };
        for d in dests {
            self.add_candidate(now, h, d);
        }
        self.service_openings(now);
    }

    /// §3.5.1.1.1: the first acceptable RHello selects the responder.
    fn on_rhello(&mut self, now: Instant, from: SocketAddr, r: RHello) {
        let Some(h) = self.opening_by_tag(&r.tag_echo) else {
            return self.stats.drop("RHello with an unknown tag");
        };
        let s = &self.sessions[&h];
        if s.state != State::S_IHELLO_SENT {
            return self.stats.drop("RHello for a session not in S_IHELLO_SENT");
        }
        let epd = s.opening.as_ref().expect("opening").epd.clone();
        if !self
            .profile
            .epd_selects_certificate(&epd, &r.responder_certificate)
        {
            return self
                .stats
                .drop("RHello certificate not selected by the EPD");
        }
        if let Err(e) = self.profile.validate_certificate(&r.responder_certificate) {
            return self.stats.drop(format!("RHello certificate invalid: {e}"));
        }
        // §3.5.1.1.1 step 1: a duplicate of an existing S_KEYING_SENT/S_OPEN session
        // with the same canonical EPD SHOULD be aborted in favour of that one.
        let canon = self.profile.canonical_epd(&r.responder_certificate);
        let dup = self.sessions.values().find(|o| {
            o.handle != h
                && matches!(o.state, State::S_KEYING_SENT | State::S_OPEN)
                && !o.far_certificate.is_empty()
                && self.profile.canonical_epd(&o.far_certificate) == canon
                && self
                    .profile
                    .epd_selects_certificate(&epd, &o.far_certificate)
        });
        if let Some(d) = dup {
            let reason = format!("duplicate of session {}", d.handle.0);
            return self.fail_open(h, &reason);
        }
        let keying = match self
            .profile
            .initiate(&mut self.rng, &r.responder_certificate)
        {
            Ok(k) => k,
            Err(e) => return self.fail_open(h, &format!("keying: {e}")),
        };
        let local_sid = self.new_sid();
        let ii = IIKeying {
            initiator_session_id: local_sid,
            cookie_echo: r.cookie.clone(),
            initiator_certificate: self.profile.certificate().to_vec(),
            skic: keying.skic().to_vec(),
            signature: Vec::new(),
        };
        let ii = IIKeying {
            signature: self.profile.sign(&ii.signed_parameters()),
            ..ii
        };
        self.by_sid.insert(local_sid, h);
        let retry = Retry::start(now, self.config.startup_retry);
        let s = self.sessions.get_mut(&h).expect("present");
        // §3.5.1.1.1 step 2: S_KEYING_SENT, DESTADDR = the RHello's source.
        s.state = State::S_KEYING_SENT;
        s.dest = from;
        s.local_sid = local_sid;
        s.far_certificate = r.responder_certificate.clone();
        let o = s.opening.as_mut().expect("opening");
        o.cookie = r.cookie;
        o.far_certificate = r.responder_certificate;
        o.keying = Some(keying);
        o.iikeying = Some(ii.clone());
        o.retry = Some(retry);
        self.initiating = true;
        self.send_startup(now, from, 0, vec![Chunk::IIKeying(ii)]);
        self.initiating = false;
    }

    /// §3.5.1.2: the initiator adopts a new cookie once.
    fn on_cookie_change(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sid: u32,
        c: RHelloCookieChange,
    ) {
        let Some(&h) = self.by_sid.get(&sid) else {
            return;
        };
        let s = self.sessions.get_mut(&h).expect("indexed");
        let Some(o) = s.opening.as_mut() else { return };
        if s.state != State::S_KEYING_SENT || o.cookie != c.old_cookie {
            return self
                .stats
                .drop("Cookie Change that does not match our cookie");
        }
        // §3.5.1.2: SHOULD NOT change the cookie more than once.
        if o.cookie_changed {
            return self.stats.drop("second Cookie Change ignored");
        }
        o.cookie_changed = true;
        o.cookie = c.new_cookie.clone();
        let Some(ii) = o.iikeying.as_mut() else {
            return;
        };
        ii.cookie_echo = c.new_cookie;
        ii.signature = Vec::new();
        let signed = ii.signed_parameters();
        ii.signature = self.profile.sign(&signed);
        let ii = ii.clone();
        let dest = s.dest;
        let _ = from;
        self.initiating = true;
        self.send_startup(now, dest, 0, vec![Chunk::IIKeying(ii)]);
        self.initiating = false;
    }

    /// §3.5.1.1.1: RIKeying completes the initiator's handshake.
    fn on_rikeying(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sid: u32,
        r: RIKeying,
        ts: Option<u16>,
    ) {
        let Some(&h) = self.by_sid.get(&sid) else {
            return;
        };
        // RFC 7016 §3.3: session ID 0 MUST NOT be used for an active session.
        if r.responder_session_id == 0 {
            return self.stats.drop("RIKeying with responderSessionID 0");
        }
        let s = self.sessions.get_mut(&h).expect("indexed");
        if s.state != State::S_KEYING_SENT {
            return self
                .stats
                .drop("RIKeying for a session not in S_KEYING_SENT");
        }
        let o = s.opening.as_mut().expect("opening");
        let skic = o
            .iikeying
            .as_ref()
            .map(|i| i.skic.clone())
            .unwrap_or_default();
        let signed = [r.signed_parameters_portion(), skic].concat();
        if !self
            .profile
            .verify(&o.far_certificate, &signed, &r.signature)
        {
            return self.stats.drop("RIKeying signature not authentic");
        }
        let Some(keying) = o.keying.take() else {
            return;
        };
        let keys = match keying.complete(&wrong_keys(
            &self.config.faults,
            self.profile.as_ref(),
            &r.skrc,
        )) {
            Ok(k) => k,
            Err(e) => {
                let reason = format!("keying: {e}");
                return self.fail_open(h, &reason);
            }
        };
        s.opening = None;
        s.state = State::S_OPEN;
        s.remote_sid = r.responder_session_id;
        s.cipher = Some(keys.cipher);
        s.near_nonce = keys.near_nonce;
        s.far_nonce = keys.far_nonce;
        s.opened_at = now;
        s.last_heard = now;
        s.data.on_open(now);
        // The RIKeying's timestamp starts the echo (as the RFC author's stack does).
        s.data.seed_timestamp(now, ts);
        let _ = from;
        let (dest, cert) = (s.dest, s.far_certificate.clone());
        let local = self
            .local
            .first()
            .copied()
            .unwrap_or(([0, 0, 0, 0], 0).into());
        self.push_keylog(h, local, dest, keys.keylog);
        self.events.push_back(Event::SessionOpened {
            session: h,
            role: Role::Initiator,
            far_address: dest,
            far_certificate: cert,
        });
    }

    fn push_keylog(
        &mut self,
        h: SessionHandle,
        initiator: SocketAddr,
        responder: SocketAddr,
        mut facts: Vec<(String, String)>,
    ) {
        let s = &self.sessions[&h];
        let (isid, rsid) = match s.role {
            Role::Initiator => (s.local_sid, s.remote_sid),
            Role::Responder => (s.remote_sid, s.local_sid),
        };
        let mut head = vec![
            ("initiator_addr".to_string(), initiator.to_string()),
            ("responder_addr".into(), responder.to_string()),
            (
                "initiator_session_id".into(),
                hex::encode(session_id_bytes(isid)),
            ),
            (
                "responder_session_id".into(),
                hex::encode(session_id_bytes(rsid)),
            ),
        ];
        let far_epd = hex::encode(self.profile.canonical_epd(&s.far_certificate));
        let near_epd = hex::encode(self.profile.canonical_epd(self.profile.certificate()));
        let (i_far, r_far) = match s.role {
            Role::Initiator => (far_epd, near_epd),
            Role::Responder => (near_epd, far_epd),
        };
        head.append(&mut facts);
        head.push(("initiator_far_epd".into(), i_far));
        head.push(("responder_far_epd".into(), r_far));
        self.events.push_back(Event::KeyLog {
            initiator,
            responder,
            facts: head,
        });
    }

    /// §3.5.1.1.2 responder processing of IIKeying, with Cookie Change (§3.5.1.2),
    /// Glare (§3.5.1.3), retransmission and session override.
    fn on_iikeying(&mut self, now: Instant, from: SocketAddr, ii: IIKeying) {
        // RFC 7016 §3.3: session ID 0 is reserved for session startup and MUST NOT be
        // used for an active session, so an IIKeying asking for it opens nothing.
        if ii.initiator_session_id == 0 {
            return self.stats.drop("IIKeying with initiatorSessionID 0");
        }
        match self.cookies.check(now, &ii.cookie_echo, from) {
            CookieCheck::Invalid if !self.config.faults.accept_bad_cookie => {
                return self
                    .stats
                    .drop("IIKeying with an invalid or expired cookie");
            }
            CookieCheck::Invalid => {}
            CookieCheck::WrongAddress => {
                // §3.5.1.2: SHOULD send an RHello Cookie Change to the IIKeying's source,
                // to the IIKeying's session ID, under the Default Session Key.
                let cc = RHelloCookieChange {
                    old_cookie: ii.cookie_echo.clone(),
                    new_cookie: self.cookies.make(now, from),
                };
                self.stats
                    .drop("IIKeying cookie made for another address (Cookie Change sent)");
                return self.send_startup(
                    now,
                    from,
                    ii.initiator_session_id,
                    vec![Chunk::RHelloCookieChange(cc)],
                );
            }
            CookieCheck::Valid => {}
        }
        if let Err(e) = self.profile.validate_certificate(&ii.initiator_certificate) {
            return self
                .stats
                .drop(format!("IIKeying certificate invalid: {e}"));
        }
        if !self.profile.verify(
            &ii.initiator_certificate,
            &ii.signed_parameters(),
            &ii.signature,
        ) {
            return self.stats.drop("IIKeying signature not authentic");
        }
        // 1. Glare: an opening session to this address.
        let glare = self
            .sessions
            .values()
            .find(|s| {
                matches!(s.state, State::S_IHELLO_SENT | State::S_KEYING_SENT)
                    && (s.dest == from
                        || s.opening
                            .as_ref()
                            .is_some_and(|o| o.candidates.iter().any(|c| c.addr == from)))
            })
            .map(|s| s.handle);
        if let Some(g) = glare {
            // §3.5.1.3: if the near end prevails, ignore the IIKeying.
            // (The invert-glare fault decides the other way round.)
            if self.profile.glare_near_wins(&ii.initiator_certificate)
                != self.config.faults.invert_glare
            {
                return self.stats.drop("IIKeying lost glare (near end prevails)");
            }
            // The far end prevails: abort our opening session if the incoming
            // certificate is the one it wanted, then carry on as responder.
            let s = &self.sessions[&g];
            let o = s.opening.as_ref().expect("opening");
            let overrides = if o.far_certificate.is_empty() {
                self.profile
                    .epd_selects_certificate(&o.epd, &ii.initiator_certificate)
            } else {
                self.profile
                    .same_identity(&o.far_certificate, &ii.initiator_certificate)
            };
            if overrides {
                self.fail_open(g, "glare: the far end prevailed");
            }
        }
        // 2. An S_OPEN session with this address.
        let existing = self
            .sessions
            .values()
            .find(|s| s.dest == from && matches!(s.state, State::S_OPEN))
            .map(|s| s.handle);
        if let Some(e) = existing {
            let s = &self.sessions[&e];
            if s.role == Role::Responder && s.iikeying.as_ref() == Some(&ii) {
                // 2.1 A retransmission: resend the RIKeying under the default key.
                if let Some(rik) = s.rikeying.clone() {
                    let (dest, sid) = (s.dest, s.remote_sid);
                    let _ = dest;
                    return self.resend_rikeying(from, sid, rik);
                }
                return;
            }
            // 2.2 Not an override: ignore. 2.3 Override: the old session is stale.
            if !self
                .profile
                .same_identity(&s.far_certificate, &ii.initiator_certificate)
            {
                return self
                    .stats
                    .drop("IIKeying from the address of an open session, not an override");
            }
            self.enter_closed(e, "overridden by a new session from the same identity");
        }
        // 3. A new S_OPEN session.
        let (skrc, keys) = match self.profile.respond(
            &mut self.rng,
            &ii.initiator_certificate,
            &wrong_keys(&self.config.faults, self.profile.as_ref(), &ii.skic),
        ) {
            Ok(x) => x,
            Err(e) => {
                return self
                    .stats
                    .drop(format!("IIKeying key component not acceptable: {e}"));
            }
        };
        let local_sid = self.new_sid();
        let rik = RIKeying {
            responder_session_id: local_sid,
            skrc,
            signature: Vec::new(),
        };
        let signed = [rik.signed_parameters_portion(), ii.skic.clone()].concat();
        let rik = RIKeying {
            signature: self.profile.sign(&signed),
            ..rik
        };
        let h = self.new_handle();
        let mut secret = [0u8; 16];
        self.rng.fill_bytes(&mut secret);
        let mut header = Header::new(Mode::Startup);
        header.timestamp = Some(now.timestamp_250hz());
        let rik_plain = Packet::new(header, vec![Chunk::RIKeying(rik)])
            .to_bytes()
            .unwrap_or_default();
        let s = Session {
            handle: h,
            role: Role::Responder,
            state: State::S_OPEN,
            local_sid,
            remote_sid: ii.initiator_session_id,
            dest: from,
            far_certificate: ii.initiator_certificate.clone(),
            near_nonce: keys.near_nonce,
            far_nonce: keys.far_nonce,
            opening: None,
            cipher: Some(keys.cipher),
            iikeying: Some(ii.clone()),
            rikeying: Some(rik_plain.clone()),
            data: Data::new(&self.config, now),
            opened_at: now,
            last_heard: now,
            ping: None,
            mob_tx_ts: None,
            mob_rx_ts: None,
            mob_secret: secret,
            closing_since: None,
            close_retry: None,
            close_reason: None,
        };
        self.sessions.insert(h, Box::new(s));
        self.by_sid.insert(local_sid, h);
        self.sessions
            .get_mut(&h)
            .expect("inserted")
            .data
            .on_open(now);
        self.resend_rikeying(from, ii.initiator_session_id, rik_plain);
        let local = self
            .local
            .first()
            .copied()
            .unwrap_or(([0, 0, 0, 0], 0).into());
        self.push_keylog(h, from, local, keys.keylog);
        self.events.push_back(Event::SessionOpened {
            session: h,
            role: Role::Responder,
            far_address: from,
            far_certificate: ii.initiator_certificate,
        });
    }

    /// §3.5.1.1.2 3.: the RIKeying goes to the initiator's session ID under the
    /// Default Session Key.
    fn resend_rikeying(&mut self, to: SocketAddr, sid: u32, plain: Vec<u8>) {
        let mut enc = Vec::new();
        self.default_cipher.seal(&plain, &mut enc);
        let mut d = Vec::new();
        multiplex::mux(sid, &enc, &mut d);
        self.send_raw(to, d);
    }

    /// A decrypted packet of an established (or closing) session.
    fn handle_session_plain(
        &mut self,
        now: Instant,
        h: SessionHandle,
        from: SocketAddr,
        plain: &[u8],
    ) {
        let packet = match Packet::parse(plain) {
            Ok(p) => p,
            Err(e) => return self.stats.drop(format!("session packet: {e}")),
        };
        let s = self.sessions.get_mut(&h).expect("present");
        // §2.2.4: the initiator SHOULD ignore mode 1 packets, the responder mode 2.
        let expected = match s.role {
            Role::Initiator => Mode::Responder,
            Role::Responder => Mode::Initiator,
        };
        if packet.header.mode != expected {
            return self
                .stats
                .drop(format!("session packet in mode {:?}", packet.header.mode));
        }
        s.last_heard = now;
        s.ping = None;
        s.data.begin_packet(now, &packet.header);
        let mut replies: Vec<Chunk> = Vec::new();
        let mut close_now = false;
        for c in packet.chunks {
            let s = self.sessions.get_mut(&h).expect("present");
            match c {
                // §3.5.4: reply to a Ping, copying the message unaltered.
                Chunk::Ping(p) => {
                    if s.state == State::S_OPEN {
                        let mut p = p;
                        if self.config.faults.alter_ping_reply {
                            p.message.push(b'!');
                        }
                        replies.push(Chunk::PingReply(p));
                    }
                }
                Chunk::PingReply(p) => self.on_ping_reply(now, h, from, &p.message),
                // §3.5.5: Close Request: send Close Ack; S_OPEN -> S_FARCLOSE_LINGER.
                Chunk::Close if self.config.faults.no_close_ack => {}
                Chunk::Close => {
                    replies.push(Chunk::CloseAck);
                    if s.state == State::S_OPEN {
                        s.state = State::S_FARCLOSE_LINGER;
                        s.closing_since = Some(now);
                        let evs = s.data.abort_all("closed by the far end");
                        self.push_session_events(h, evs);
                    }
                }
                // §3.5.5: Close Ack -> S_CLOSED.
                Chunk::CloseAck => close_now = true,
                Chunk::FIHello(fi) => {
                    if s.state == State::S_OPEN {
                        if self.config.fihello == FIHelloMode::Ignore {
                            self.stats.drop("FIHello ignored by configuration");
                        } else {
                            self.on_ihello(now, fi.reply_address.addr, &fi.epd, &fi.tag, Some(()));
                        }
                    }
                }
                Chunk::Malformed(m) => {
                    self.stats.drop(format!(
                        "malformed chunk {:#04x}: {}",
                        m.chunk_type, m.error
                    ));
                }
                Chunk::Unknown { chunk_type, .. } => {
                    // §2.3: MUST ignore an unrecognised chunk type (e.g. 0xec).
                    if !matches!(chunk_type, 0x00 | 0xff) {
                        self.stats
                            .drop(format!("unknown chunk type {chunk_type:#04x} ignored"));
                    }
                }
                c if !crate::wire::chunk::allowed_in_session(c.chunk_type()) => {
                    self.stats
                        .drop(format!("{} not allowed in a session packet", c.name()));
                }
                other => {
                    if s.state == State::S_OPEN {
                        let evs = s.data.on_chunk(now, other, &mut self.stats);
                        self.push_session_events(h, evs);
                    }
                }
            }
        }
        if close_now {
            self.enter_closed(h, "closed (Close Ack received)");
            return;
        }
        let tc_any = self.tc_sent_any();
        let s = self.sessions.get_mut(&h).expect("present");
        let evs = s.data.end_packet_with(now, tc_any);
        self.push_session_events(h, evs);
        // §3.5.4.2: a packet from an address other than DESTADDR starts a mobility
        // check, at most once a second.
        let s = self.sessions.get_mut(&h).expect("present");
        if s.state == State::S_OPEN
            && from != s.dest
            && s.mob_tx_ts
                .is_none_or(|t| now - t >= Duration::from_secs(1))
        {
            s.mob_tx_ts = Some(now);
            let msg = mobility_message(&s.mob_secret, now, from);
            self.send_chunks_to(
                now,
                h,
                from,
                vec![Chunk::Ping(crate::wire::Ping { message: msg })],
            );
        }
        if !replies.is_empty() {
            self.send_chunks(now, h, replies);
        }
        self.flush_session(now, h);
    }

    /// §3.5.4.2: a Ping Reply that proves the far end is at a new address moves
    /// DESTADDR; any other Ping Reply answers the keepalive.
    fn on_ping_reply(&mut self, now: Instant, h: SessionHandle, from: SocketAddr, msg: &[u8]) {
        let s = self.sessions.get_mut(&h).expect("present");
        if msg.first() == Some(&b'M') {
            let Some(ts) = mobility_check(&s.mob_secret, msg, from) else {
                return self.stats.drop("mobility Ping Reply that does not verify");
            };
            let age = now.as_micros().saturating_sub(ts);
            if age > MOBILITY_REPLY_LIMIT.as_micros() as u64 || s.mob_rx_ts.is_some_and(|r| ts <= r)
            {
                return self.stats.drop("stale mobility Ping Reply");
            }
            s.mob_rx_ts = Some(ts);
            if s.dest != from {
                s.dest = from;
                self.events.push_back(Event::AddressChanged {
                    session: h,
                    address: from,
                });
            }
            return;
        }
        s.ping = None;
    }

    // --------------------------------------------------------------- timers

    /// Time has advanced to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.reassembly.expire(now);
        self.service_pacers(now);
        self.service_openings(now);
        let hs: Vec<_> = self.sessions.keys().copied().collect();
        for h in hs {
            self.service_session(now, h);
        }
    }

    /// IHello backoff per candidate, IIKeying retransmission, open timeout.
    fn service_openings(&mut self, now: Instant) {
        let hs: Vec<_> = self
            .sessions
            .values()
            .filter(|s| s.opening.is_some())
            .map(|s| s.handle)
            .collect();
        for h in hs {
            let s = self.sessions.get_mut(&h).expect("present");
            let o = s.opening.as_mut().expect("opening");
            if now >= o.deadline {
                // §3.5.1.1.1: the ultimate open timeout moves the session to S_OPEN_FAILED.
                self.fail_open(h, "ultimate open timeout");
                continue;
            }
            match s.state {
                State::S_IHELLO_SENT => {
                    let mut sends = Vec::new();
                    for c in o.candidates.iter_mut().filter(|c| c.next_send <= now) {
                        c.sent_at(now);
                        sends.push(c.addr);
                    }
                    let ih = IHello {
                        epd: o.epd.clone(),
                        tag: o.tag.clone(),
                    };
                    self.initiating = true;
                    for a in sends {
                        self.send_startup(now, a, 0, vec![Chunk::IHello(ih.clone())]);
                    }
                    self.initiating = false;
                }
                State::S_KEYING_SENT => {
                    if let (Some(r), Some(ii)) = (o.retry.as_mut(), o.iikeying.as_ref())
                        && r.next <= now
                    {
                        r.backoff(now);
                        let (ii, dest) = (ii.clone(), s.dest);
                        self.initiating = true;
                        self.send_startup(now, dest, 0, vec![Chunk::IIKeying(ii)]);
                        self.initiating = false;
                    }
                }
                _ => {}
            }
        }
    }

    fn service_session(&mut self, now: Instant, h: SessionHandle) {
        let Some(s) = self.sessions.get_mut(&h) else {
            return;
        };
        match s.state {
            State::S_NEARCLOSE => {
                // §3.5.5: SHOULD move to S_CLOSED after 90 s; Close every 5 s.
                if s.closing_since.is_some_and(|t| now - t >= NEARCLOSE_LIMIT) {
                    return self.enter_closed(h, "no Close Ack within 90 s");
                }
                if s.close_retry.is_some_and(|t| t <= now) {
                    s.close_retry = Some(now + CLOSE_RETRANSMIT);
                    self.send_chunks(now, h, vec![Chunk::Close]);
                }
            }
            // §3.5.5: SHOULD move to S_CLOSED after 19 s.
            State::S_FARCLOSE_LINGER
                if s.closing_since.is_some_and(|t| now - t >= FARCLOSE_LINGER) =>
            {
                self.enter_closed(h, "closed by the far end");
            }
            State::S_OPEN => {
                // Dead far end: nothing heard for the retransmit limit while we wait
                // for a Ping Reply or for acknowledgements.
                let waiting = s.ping.is_some() || s.data.outstanding_bytes() > 0;
                if waiting && now - s.last_heard >= self.config.retransmit_limit {
                    s.close_reason = Some("far end stopped answering (retransmit limit)".into());
                    self.send_chunks(now, h, vec![Chunk::CloseAck]);
                    return self.enter_closed(h, "far end stopped answering");
                }
                if let Some(idle) = self.config.idle_close {
                    let s = &self.sessions[&h];
                    if s.data.is_idle() && now - s.data.last_activity() >= idle {
                        return self.close(now, h, false);
                    }
                }
                self.keepalive(now, h);
                let s = self.sessions.get_mut(&h).expect("present");
                let evs = s.data.on_timeout(now);
                self.push_session_events(h, evs);
                self.flush_session(now, h);
            }
            _ => {}
        }
    }

    /// §3.5.4.1 keepalive: the initiator pings after `keepalive` of silence, the
    /// responder one MRTO later (so normally only the initiator's Pings go out);
    /// an unanswered Ping is resent on an ERTO backoff.
    fn keepalive(&mut self, now: Instant, h: SessionHandle) {
        if self.config.faults.no_keepalive {
            return;
        }
        let s = self.sessions.get_mut(&h).expect("present");
        let mut period = self.config.keepalive;
        if s.role == Role::Responder {
            period += s.data.mrto();
        }
        // Any packet from the far end answers for liveness (it clears `ping`), so a
        // Ping goes out only after `period` of silence.
        let due = match &s.ping {
            Some(r) => r.next <= now,
            None => now - s.last_heard >= period,
        };
        if !due {
            return;
        }
        let erto = s.data.erto();
        match s.ping.as_mut() {
            Some(r) => {
                // §3.5.4.1: no reply within ERTO: increase ERTO (§3.5.2), resend.
                s.data.backoff_erto();
                r.next = now + s.data.erto();
                r.count += 1;
            }
            None => {
                s.ping = Some(Retry {
                    next: now + erto,
                    interval: erto,
                    count: 1,
                })
            }
        }
        // §3.5.4.1: a keepalive Ping SHOULD have an empty message.
        self.send_chunks(
            now,
            h,
            vec![Chunk::Ping(crate::wire::Ping { message: vec![] })],
        );
    }

    /// When `handle_timeout` wants to be called next.
    pub fn next_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Instant| t = Some(t.map_or(x, |y| y.min(x)));
        // Paced datagrams wait for the window; idle pacers are forgotten then.
        for r in self.pacers.values().filter_map(Pacer::next_release) {
            at(r);
        }
        for s in self.sessions.values() {
            if let Some(o) = &s.opening {
                at(o.deadline);
                // IHellos are only resent in S_IHELLO_SENT, the IIKeying only in
                // S_KEYING_SENT (each timer is serviced in its own state).
                match s.state {
                    State::S_IHELLO_SENT => o.candidates.iter().for_each(|c| at(c.next_send)),
                    State::S_KEYING_SENT => {
                        if let Some(r) = &o.retry {
                            at(r.next);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match s.state {
                State::S_NEARCLOSE => {
                    if let Some(c) = s.close_retry {
                        at(c);
                    }
                    if let Some(c) = s.closing_since {
                        at(c + NEARCLOSE_LIMIT);
                    }
                }
                State::S_FARCLOSE_LINGER => {
                    if let Some(c) = s.closing_since {
                        at(c + FARCLOSE_LINGER);
                    }
                }
                State::S_OPEN => {
                    let mut period = self.config.keepalive;
                    if s.role == Role::Responder {
                        period += s.data.mrto();
                    }
                    match &s.ping {
                        Some(r) => at(r.next),
                        None if self.config.faults.no_keepalive => {}
                        None => at(s.last_heard + period),
                    }
                    // The dead-peer check only matters while waiting for an answer.
                    if s.ping.is_some() || s.data.outstanding_bytes() > 0 {
                        at(s.last_heard + self.config.retransmit_limit);
                    }
                    if let Some(idle) = self.config.idle_close {
                        at(s.data.last_activity() + idle);
                    }
                    if let Some(d) = s.data.next_timeout() {
                        at(d);
                    }
                }
                _ => {}
            }
        }
        t
    }

    // ------------------------------------------------------------ packets out

    /// Sends control chunks now, in one session packet (with any acks and data
    /// that fit).
    fn send_chunks(&mut self, now: Instant, h: SessionHandle, chunks: Vec<Chunk>) {
        let Some(dest) = self.sessions.get(&h).map(|s| s.dest) else {
            return;
        };
        self.send_chunks_to(now, h, dest, chunks);
    }

    fn send_chunks_to(
        &mut self,
        now: Instant,
        h: SessionHandle,
        dst: SocketAddr,
        chunks: Vec<Chunk>,
    ) {
        let max = self.config.max_packet;
        let Some(s) = self.sessions.get_mut(&h) else {
            return;
        };
        let mode = match s.role {
            Role::Initiator => Mode::Initiator,
            Role::Responder => Mode::Responder,
        };
        let mode = self.maybe_wrong(mode);
        let tcr = self.tcr_for(h, now);
        let s = self.sessions.get_mut(&h).expect("present");
        let mut header = s.data.header(now, mode, false, tcr);
        stamp_every_packet(&self.config, now, &mut header);
        let mut packet = Packet::new(header, chunks);
        let mut bytes = packet.to_bytes().unwrap_or_default();
        if dst == s.dest && bytes.len() < max && s.state == State::S_OPEN {
            // Piggyback acks and data on the control packet.
            let extra = s.data.fill(now, max - bytes.len(), &mut self.stats);
            if !extra.chunks.is_empty() {
                packet.header.time_critical |= extra.time_critical;
                packet.chunks.extend(extra.chunks);
                bytes = packet.to_bytes().unwrap_or_default();
            }
        }
        s.data.on_sent(now, &packet);
        self.send_session_packet(h, dst, &bytes);
    }

    /// Sends whatever acks and data the session has ready, packet by packet.
    fn flush_session(&mut self, now: Instant, h: SessionHandle) {
        let max = self.config.max_packet;
        for _ in 0..1024 {
            let Some(s) = self.sessions.get_mut(&h) else {
                return;
            };
            if s.state != State::S_OPEN {
                return;
            }
            let mode = match s.role {
                Role::Initiator => Mode::Initiator,
                Role::Responder => Mode::Responder,
            };
            let header_room = 5;
            let fill = s.data.fill(now, max - header_room, &mut self.stats);
            let mode = self.maybe_wrong(mode);
            if fill.chunks.is_empty() {
                return;
            }
            let tcr = self.tcr_for(h, now);
            let s = self.sessions.get_mut(&h).expect("present");
            let mut header = s.data.header(now, mode, fill.time_critical, tcr);
            stamp_every_packet(&self.config, now, &mut header);
            let packet = Packet::new(header, fill.chunks);
            s.data.on_sent(now, &packet);
            let Ok(bytes) = packet.to_bytes() else { return };
            let dest = s.dest;
            self.send_session_packet(h, dest, &bytes);
        }
    }

    /// The `wrong_mode` fault swaps the Initiator and Responder Marks.
    fn maybe_wrong(&self, mode: Mode) -> Mode {
        match (self.config.faults.wrong_mode, mode) {
            (true, Mode::Initiator) => Mode::Responder,
            (true, Mode::Responder) => Mode::Initiator,
            (_, m) => m,
        }
    }

    /// §2.2.4 TCR: this end is receiving time-critical data on other sessions.
    fn tcr_for(&self, h: SessionHandle, now: Instant) -> bool {
        self.config.force_tcr
            || self.sessions.values().any(|o| {
                o.handle != h
                    && o.data
                        .tc_received
                        .is_some_and(|t| now - t < crate::congestion::TIME_CRITICAL_WINDOW)
            })
    }

    /// When TC was last sent on any session (Appendix A FASTGROW_ALLOWED).
    fn tc_sent_any(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(|s| s.data.time_critical.tc_sent)
            .max()
    }

    // ------------------------------------------------------------- flows API

    /// Runs `f` on an open session's data plane, then sends what it queued.
    pub fn with_data<R>(
        &mut self,
        now: Instant,
        h: SessionHandle,
        f: impl FnOnce(&mut Data) -> R,
    ) -> Option<R> {
        let s = self.sessions.get_mut(&h)?;
        if s.state != State::S_OPEN {
            return None;
        }
        let r = f(&mut s.data);
        let evs = s.data.take_events();
        self.push_session_events(h, evs);
        self.flush_session(now, h);
        Some(r)
    }

    /// Opens a sending flow on an open session (§3.6.2.1).
    pub fn open_flow(
        &mut self,
        now: Instant,
        h: SessionHandle,
        metadata: Vec<u8>,
        association: Option<u64>,
        options: crate::session::data::FlowOptions,
    ) -> Result<u64, crate::flow::FlowError> {
        self.with_data(now, h, |d| d.open_flow(metadata, association, options))
            .ok_or(crate::flow::FlowError::SessionNotOpen)?
    }

    /// Queues a message on a sending flow.
    pub fn send(
        &mut self,
        now: Instant,
        h: SessionHandle,
        flow: u64,
        data: &[u8],
        deadline: Option<Instant>,
    ) -> Result<u64, crate::flow::FlowError> {
        self.with_data(now, h, |d| d.send(flow, data, deadline))
            .ok_or(crate::flow::FlowError::SessionNotOpen)?
    }

    /// Closes a sending flow (§3.6.2.11).
    pub fn close_flow(
        &mut self,
        now: Instant,
        h: SessionHandle,
        flow: u64,
    ) -> Result<(), crate::flow::FlowError> {
        self.with_data(now, h, |d| d.close_flow(flow))
            .ok_or(crate::flow::FlowError::SessionNotOpen)?
    }

    /// Rejects a receiving flow with an exception code (§3.6.3.7).
    pub fn reject_flow(
        &mut self,
        now: Instant,
        h: SessionHandle,
        flow: u64,
        code: u64,
    ) -> Result<(), crate::flow::FlowError> {
        self.with_data(now, h, |d| d.reject_flow(flow, code))
            .ok_or(crate::flow::FlowError::SessionNotOpen)?
    }

    /// Generates a random value with the endpoint's generator (for applications
    /// that need reproducible randomness in simulation).
    pub fn random_u64(&mut self) -> u64 {
        self.rng.r#gen()
    }
}

/// §3.5.4.2: `'M' ‖ VLU timestamp (µs) ‖ HMAC-SHA256(secret, 'M' ‖ ts ‖ address)`.
fn mobility_message(secret: &[u8], now: Instant, addr: SocketAddr) -> Vec<u8> {
    let mut m = vec![b'M'];
    crate::wire::vlu::encode(now.as_micros(), &mut m);
    let mac = crate::crypto::flash::keying::hmac_sha256(
        secret,
        &[&m[..], addr.to_string().as_bytes()].concat(),
    );
    m.extend_from_slice(&mac);
    m
}

/// Verifies a mobility check message returned from `addr`; returns its timestamp.
fn mobility_check(secret: &[u8], msg: &[u8], addr: SocketAddr) -> Option<u64> {
    if msg.len() < 1 + 1 + 32 {
        return None;
    }
    let (body, mac) = msg.split_at(msg.len() - 32);
    let mut r = crate::wire::Reader::new(&body[1..]);
    let ts = r.vlu("mobility timestamp").ok()?;
    r.finish("mobility").ok()?;
    let want = crate::crypto::flash::keying::hmac_sha256(
        secret,
        &[body, addr.to_string().as_bytes()].concat(),
    );
    (want.as_slice() == mac).then_some(ts)
}

impl sim::Node for Endpoint {
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, from: SocketAddr, data: &[u8]) {
        Endpoint::handle_datagram(self, now, local, from, data)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Endpoint::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<Transmit> {
        Endpoint::poll_transmit(self)
    }
    fn next_timeout(&self) -> Option<Instant> {
        Endpoint::next_timeout(self)
    }
}
