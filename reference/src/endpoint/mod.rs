//! The sans-IO RTMFP endpoint (RFC 7016 §3): it demultiplexes datagrams to
//! sessions (§2.2.2, §3.3), runs session startup (§3.5.1: `initiator.rs`,
//! `responder.rs`, `forwarder.rs`, `pacing.rs`), owns the sessions
//! ([`crate::session::Session`]: what happens inside an open session) and the
//! poll API: it takes datagrams and time, and produces datagrams, events and the
//! next timeout.
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

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::crypto::{CryptoProfile, PacketCipher};
use crate::session::config::EndpointConfig;
use crate::session::cookie::CookieJar;
use crate::session::fragment::Reassembler;
use crate::session::{Data, Io, SessionEvent};
use crate::time::Instant;
use crate::wire::{Chunk, Mode, Packet, multiplex};

pub use crate::session::{
    CLOSE_RETRANSMIT, Event, FARCLOSE_LINGER, MOBILITY_REPLY_LIMIT, NEARCLOSE_LIMIT, Role, Session,
    SessionHandle, State,
};
pub use crate::stats::{DropReason, Stats};
pub use crate::transmit::Transmit;
pub use pacing::{STARTUP_PACING_BYTES, STARTUP_PACING_PACKETS, STARTUP_PACING_WINDOW};

mod forwarder;
mod initiator;
mod pacing;
mod responder;
mod state_size;

use pacing::{AnswerLimiter, Pacer};

/// The sans-IO endpoint.
/// Datagram buffers [`Endpoint::recycle`] keeps (a few bursts' worth).
pub const SPARE_BUFFERS: usize = 64;

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
    /// Bytes all sessions' receiving flows hold (`Limits::max_buffer_total`).
    held_total: usize,
    /// The startup answers' rate limit.
    answers: AnswerLimiter,
    outbox: VecDeque<Transmit>,
    /// Session packets are opened into this buffer, reused from datagram to
    /// datagram.
    open_buf: Vec<u8>,
    /// Datagram buffers handed back by the driver once sent
    /// ([`Endpoint::recycle`]), for the next packets sealed.
    spare: Vec<Vec<u8>>,
    /// What a session sealed during one call, before it goes to the outbox.
    sealed: Vec<(SocketAddr, Vec<u8>)>,
    /// The plain packets of a session's flush (at most eight), for every session.
    flush_plain: Vec<Vec<u8>>,
    /// Between [`Endpoint::begin_batch`] and [`Endpoint::end_batch`]: sessions
    /// that received packets flush once, at the end.
    batching: bool,
    /// Sessions whose flush waits for the end of the batch.
    deferred: Vec<SessionHandle>,
    /// §2.2.4 TCR: the latest receptions of time-critical data by two
    /// different sessions, newest first (so that a session's "other sessions"
    /// cost nothing to ask, whatever the number of sessions).
    tc_received: [Option<(Instant, SessionHandle)>; 2],
    /// When TC was last sent on any session (Appendix A FASTGROW_ALLOWED).
    tc_sent_latest: Option<Instant>,
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
    #[cfg(feature = "test-hooks")]
    closed_taps: VecDeque<Box<Session>>,
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
        let reassembly = Reassembler::new(crate::session::fragment::Limits {
            per_source: config.limits.reassemblies_per_source,
            ..Default::default()
        });
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
            reassembly,
            held_total: 0,
            // Keyed with the cookie secret (not drawn from rng: that would
            // change every seeded run's session IDs and tags).
            answers: AnswerLimiter::new(u64::from_le_bytes(secret[..8].try_into().expect("8"))),
            outbox: VecDeque::new(),
            open_buf: Vec::new(),
            spare: Vec::new(),
            sealed: Vec::new(),
            flush_plain: Vec::new(),
            batching: false,
            deferred: Vec::new(),
            tc_received: [None; 2],
            tc_sent_latest: None,
            events: VecDeque::new(),
            stats: Stats::default(),
            local: Vec::new(),
            pacers: BTreeMap::new(),
            initiating: false,
            #[cfg(feature = "test-hooks")]
            closed_taps: VecDeque::new(),
        }
    }

    pub fn profile(&self) -> &Arc<dyn CryptoProfile> {
        &self.profile
    }

    /// The configuration, for test tools that adjust it before sessions start
    /// (e.g. `force_tcr`, `receive_buffer`); sessions copy
    /// what they need when they are created.
    pub fn config_mut(&mut self) -> &mut EndpointConfig {
        &mut self.config
    }

    #[cfg(not(feature = "test-hooks"))]
    fn closed_taps_size(&self) -> usize {
        0
    }

    /// Declares the local addresses (for the simulator; the runtime sets the bound one).
    pub fn set_local_addresses(&mut self, addrs: Vec<SocketAddr>) {
        self.local = addrs;
    }

    /// A session, read-only (its state, IDs, address and flows).
    pub fn session(&self, h: SessionHandle) -> Option<&Session> {
        self.sessions.get(&h).map(|b| &**b)
    }

    /// Every session this endpoint holds, read-only.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values().map(|b| &**b)
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outbox.pop_front()
    }

    /// Hands back a transmitted datagram's buffer (e.g. once the driver has
    /// copied it to the socket) so that sealing the next packets allocates
    /// nothing. Optional; at most [`SPARE_BUFFERS`] are kept.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS {
            buf.clear();
            self.spare.push(buf);
        }
    }

    /// The next event for the application. Polling a message consumes it:
    /// its bytes stop counting against the flow's advertised window and the
    /// session's and the endpoint's buffer limits (§3.6.3.5).
    pub fn poll_event(&mut self) -> Option<Event> {
        let e = self.events.pop_front()?;
        if let Event::Session {
            session,
            event: SessionEvent::Message { flow, data },
        } = &e
            && let Some(s) = self.sessions.get_mut(session)
        {
            let released = s.data.consumed(*flow, data.len());
            self.held_total = self.held_total.saturating_sub(released);
        }
        Some(e)
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

    /// Closes a session: orderly (S_NEARCLOSE, Close Requests) or abrupt (one Close
    /// Ack, then S_CLOSED) (§3.5.5).
    pub fn close(&mut self, now: Instant, h: SessionHandle, abrupt: bool) {
        let Some(s) = self.sessions.get(&h) else {
            return;
        };
        match s.state {
            State::S_IHELLO_SENT | State::S_KEYING_SENT => {
                self.fail_open(h, "closed by the application");
            }
            _ => {
                self.with_session(now, h, |s, io| s.close(io, abrupt));
            }
        }
    }

    /// Closes every session (orderly or abrupt).
    pub fn close_all(&mut self, now: Instant, abrupt: bool) {
        let hs: Vec<_> = self.sessions.keys().copied().collect();
        for h in hs {
            self.close(now, h, abrupt);
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

    /// Runs `f` on session `h` with what it needs of the endpoint, then sends
    /// what it sealed and forgets it if it reached S_CLOSED.
    fn with_session<R>(
        &mut self,
        now: Instant,
        h: SessionHandle,
        f: impl FnOnce(&mut Session, &mut Io<'_>) -> R,
    ) -> Option<R> {
        let tcr = self.tcr_for(h, now);
        let tc_sent_any = self.tc_sent_latest;
        let s = self.sessions.get_mut(&h)?;
        let held_before = s.data.recv_held();
        let mut out = std::mem::take(&mut self.sealed);
        let mut io = Io {
            buffer_room: self
                .config
                .limits
                .max_buffer_total
                .saturating_sub(self.held_total),
            now,
            config: &self.config,
            stats: &mut self.stats,
            events: &mut self.events,
            out: &mut out,
            spare: &mut self.spare,
            flush_plain: &mut self.flush_plain,
            defer_flush: self.batching,
            tcr,
            tc_sent_any,
        };
        let r = f(s, &mut io);
        // What all sessions' receiving flows hold (the endpoint's buffer limit).
        self.held_total = (self.held_total + s.data.recv_held()).saturating_sub(held_before);
        let (received, sent) = (s.data.tc_received, s.data.time_critical.tc_sent);
        self.note_time_critical(h, received, sent);
        for (dst, d) in out.drain(..) {
            self.send_raw(dst, d);
        }
        self.sealed = out;
        self.reap(h);
        Some(r)
    }

    /// Forgets a session that reached S_CLOSED (§3.5.5) and reports it.
    fn reap(&mut self, h: SessionHandle) {
        if self
            .sessions
            .get(&h)
            .is_none_or(|s| s.state != State::S_CLOSED)
        {
            return;
        }
        let Some(mut s) = self.sessions.remove(&h) else {
            return;
        };
        self.held_total = self.held_total.saturating_sub(s.data.recv_held());
        self.by_sid.remove(&s.local_sid);
        self.events.push_back(Event::SessionClosed {
            session: h,
            reason: s.close_reason.take().unwrap_or_default(),
        });
        #[cfg(feature = "test-hooks")]
        self.keep_closed_tap(s);
    }

    // ------------------------------------------------------------- receiving

    /// The driver is about to hand over several datagrams that arrived
    /// together (one `recvmmsg`): until [`Endpoint::end_batch`], a session
    /// that receives packets sends what they call for (acknowledgements, data
    /// the acknowledgements let go) once, after the last of them. RFC 7016
    /// §3.6.3.4.5 asks for an obligatory acknowledgement "as soon as is
    /// practical": the datagrams already read are processed first, and one
    /// acknowledgement covers them all (as the RFC author's stack does).
    pub fn begin_batch(&mut self) {
        self.batching = true;
    }

    /// The end of a batch begun by [`Endpoint::begin_batch`]: every session
    /// that received packets in it flushes now.
    pub fn end_batch(&mut self, now: Instant) {
        self.batching = false;
        let mut hs = std::mem::take(&mut self.deferred);
        for &h in &hs {
            self.with_session(now, h, |s, io| s.flush(io));
        }
        hs.clear();
        self.deferred = hs;
    }

    /// A datagram arrived at local address `local` from `from`.
    // Without test hooks `faulty!` is its fallback expression, which reads as these.
    #[cfg_attr(not(feature = "test-hooks"), allow(clippy::bind_instead_of_map))]
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
                return self.stats.drop(DropReason::ShortDatagram);
            }
        };
        if sid == multiplex::STARTUP_SESSION_ID {
            let opened = match self.default_cipher.open(encrypted) {
                Ok(o) => o,
                Err(e) => {
                    self.tap_undecodable(from, Some(sid), &format!("startup packet: {e}"));
                    return self.stats.drop_with(DropReason::StartupUndecryptable, e);
                }
            };
            self.tap_packet(None, from, sid, true, &opened.packet);
            return self.handle_startup_plain(now, from, 0, &opened.packet, 0);
        }
        let Some(&h) = self.by_sid.get(&sid) else {
            #[cfg(feature = "test-hooks")]
            if self.tap_closed(from, sid, encrypted) {
                return;
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
            return self.stats.drop(DropReason::UnknownSessionId);
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
                        .drop_with(DropReason::OpeningSessionUndecryptable, e);
                }
            };
            self.tap_packet(Some(h), from, sid, true, &opened.packet);
            return self.handle_startup_plain(now, from, sid, &opened.packet, 0);
        }
        let s = self.sessions.get_mut(&h).expect("indexed");
        let Some(cipher) = s.cipher.as_mut() else {
            return self.stats.drop(DropReason::NoKeys);
        };
        let mut buf = std::mem::take(&mut self.open_buf);
        let opened = match cipher.open_in(encrypted, &mut buf).or_else(|e| {
            // §2.2.3: a packet failing integrity is discarded (below).
            let anyway: Result<crate::crypto::Opened, _> = faulty!(
                self.config,
                open_anyway(
                    self.profile.name(),
                    self.default_cipher.as_mut(),
                    encrypted,
                    e
                ),
                Err(e)
            );
            anyway.map(|o| {
                buf.clear();
                buf.extend_from_slice(&o.packet);
                crate::crypto::OpenedIn {
                    start: 0,
                    integrity: o.integrity,
                    sseq: o.sseq,
                }
            })
        }) {
            Ok(o) => o,
            Err(e) => {
                self.open_buf = buf;
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
                return self.stats.drop_with(DropReason::SessionUndecryptable, e);
            }
        };
        let packet = &buf[opened.start..];
        self.tap_packet(Some(h), from, sid, false, packet);
        let forwarded = self
            .with_session(now, h, |s, io| s.on_packet(io, from, packet))
            .unwrap_or_default();
        // In a receive batch the session's flush waits for its end.
        if self.batching && !self.deferred.contains(&h) {
            self.deferred.push(h);
        }
        self.open_buf = buf;
        for fi in forwarded {
            self.on_ihello(now, fi.reply_address.addr, &fi.epd, &fi.tag, Some(()));
        }
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

    // Without test hooks `faulty!` is its fallback expression, which reads as these.
    #[cfg_attr(not(feature = "test-hooks"), allow(clippy::redundant_locals))]
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
            Err(e) => return self.stats.drop_with(DropReason::StartupUnparsable, e),
        };
        // §2.2.4: session startup chunks are only allowed in mode 3 (§3.4:
        // Packet Fragments in any mode, under `ignore-fragment-mode`).
        let any_mode = fault!(self.config, ignore_fragment_mode)
            && packet
                .chunks
                .iter()
                .all(|c| matches!(c, Chunk::PacketFragment(_)));
        if packet.header.mode != Mode::Startup && !any_mode {
            return self.stats.drop(DropReason::NonStartupModeDefaultKey);
        }
        let mut ihellos = 0;
        for c in faulty!(self.config, misread(packet.chunks), packet.chunks) {
            match c {
                // Liberty (config.one_ihello_per_packet): answering is a SHOULD.
                Chunk::IHello(_) if self.config.one_ihello_per_packet && ihellos > 0 => {
                    self.stats.drop(DropReason::IHelloNotFirstInPacket)
                }
                Chunk::IHello(x) if sid == 0 => {
                    ihellos += 1;
                    self.on_ihello(now, from, &x.epd, &x.tag, None)
                }
                Chunk::RHello(x) if sid == 0 => self.on_rhello(now, from, x),
                Chunk::Redirect(x) if sid == 0 => self.on_redirect(now, from, x),
                Chunk::IIKeying(x) if sid == 0 => self.on_iikeying(now, from, x),
                Chunk::RIKeying(x) if sid != 0 => {
                    self.on_rikeying(now, from, sid, x, packet.header.timestamp)
                }
                Chunk::RHelloCookieChange(x) if sid != 0 => {
                    self.on_cookie_change(now, from, sid, x)
                }
                // Liberty (config.reassemble_fragments): §3.4 fragmentation "can" be used.
                Chunk::PacketFragment(_) if !self.config.reassemble_fragments => {
                    self.stats.drop(DropReason::FragmentReassemblyOff)
                }
                Chunk::PacketFragment(f) if depth == 0 => {
                    // §3.4: a fragment in a packet of another mode than the first is discarded.
                    let mode = if any_mode {
                        Mode::Startup
                    } else {
                        packet.header.mode
                    };
                    let evicted = self.reassembly.evicted;
                    let added = self.reassembly.add(now, from, mode, &f);
                    if self.reassembly.evicted != evicted {
                        self.stats.drop(DropReason::FragmentEvicted);
                    }
                    match added {
                        Ok(Some(whole)) => {
                            let whole = faulty!(self.config, reassembled_mode(whole, mode), whole);
                            // §3.4: MUST discard a reassembled packet whose mode differs.
                            if Packet::parse(&whole).is_ok_and(|p| p.header.mode == mode) {
                                self.handle_startup_plain(now, from, sid, &whole, depth + 1);
                            } else {
                                self.stats.drop(DropReason::ReassembledModeMismatch);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => self.stats.drop(e.reason()),
                    }
                }
                Chunk::Malformed(m) => self.stats.drop_with(
                    DropReason::MalformedChunk,
                    format_args!("{:#04x}: {}", m.chunk_type, m.error),
                ),
                other => self
                    .stats
                    .drop_with(DropReason::StartupChunkNotAllowed, other.name()),
            }
        }
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

    // --------------------------------------------------------------- timers

    /// Time has advanced to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.reassembly.expire(now);
        self.service_pacers(now);
        self.service_openings(now);
        let hs: Vec<_> = self.sessions.keys().copied().collect();
        for h in hs {
            if self.sessions.get(&h).is_some_and(|s| s.opening.is_none()) {
                self.with_session(now, h, |s, io| s.on_timeout(io));
            }
        }
    }

    /// When `handle_timeout` wants to be called next.
    pub fn next_timeout(&self) -> Option<Instant> {
        // Paced datagrams wait for the window; idle pacers are forgotten then.
        let pacers = self.pacers.values().filter_map(Pacer::next_release);
        let sessions = self
            .sessions
            .values()
            .filter_map(|s| s.next_timeout(&self.config));
        pacers.chain(sessions).min()
    }

    /// §2.2.4 TCR: this end is receiving time-critical data on other sessions.
    fn tcr_for(&self, h: SessionHandle, now: Instant) -> bool {
        #[cfg(feature = "test-hooks")]
        if self.config.force_tcr {
            return true;
        }
        // The newest reception by a session other than h.
        self.tc_received
            .iter()
            .flatten()
            .find(|(_, s)| *s != h)
            .is_some_and(|&(t, _)| now - t < crate::congestion::TIME_CRITICAL_WINDOW)
    }

    /// Keeps the endpoint's view of time-critical traffic (`tcr_for`,
    /// `tc_sent_latest`) up to date with session `h`'s latest reception and
    /// sending of time-critical data (times only move forward).
    fn note_time_critical(
        &mut self,
        h: SessionHandle,
        received: Option<Instant>,
        sent: Option<Instant>,
    ) {
        self.tc_sent_latest = self.tc_sent_latest.max(sent);
        let Some(t) = received else { return };
        match self.tc_received {
            [Some((t0, s0)), _] if s0 == h => self.tc_received[0] = Some((t0.max(t), h)),
            [first, _] if first.is_none_or(|(t0, _)| t >= t0) => {
                self.tc_received = [Some((t, h)), first];
            }
            [_, second] => {
                if second.is_none_or(|(t1, s1)| s1 == h || t >= t1) {
                    self.tc_received[1] = Some((t, h));
                }
            }
        }
    }

    // ------------------------------------------------------------- flows API

    /// Runs `f` on an open session's data plane, then sends what it queued.
    pub fn with_data<R>(
        &mut self,
        now: Instant,
        h: SessionHandle,
        f: impl FnOnce(&mut Data) -> R,
    ) -> Option<R> {
        if self.sessions.get(&h)?.state != State::S_OPEN {
            return None;
        }
        self.with_session(now, h, |s, io| {
            let r = f(&mut s.data);
            let evs = s.data.take_events();
            s.report(io, evs);
            s.flush(io);
            r
        })
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

    /// §3.6.3.3: suspends (or resumes) delivery on a receiving flow; while
    /// suspended its advertised window closes as its buffer fills (§3.6.3.5).
    pub fn set_suspended(
        &mut self,
        now: Instant,
        h: SessionHandle,
        flow: u64,
        suspended: bool,
    ) -> Result<(), crate::flow::FlowError> {
        self.with_data(now, h, |d| d.set_suspended(flow, suspended))
            .ok_or(crate::flow::FlowError::SessionNotOpen)?
    }

    /// Generates a random value with the endpoint's generator (for applications
    /// that need reproducible randomness in simulation).
    pub fn random_u64(&mut self) -> u64 {
        self.rng.r#gen()
    }
}

#[cfg(feature = "test-hooks")]
mod test_hooks;
#[cfg(feature = "test-hooks")]
pub use test_hooks::Crafted;

/// The far end's key component as the key derivation sees it: with the
/// `wrong-key-derivation` fault (test hooks), not the one on the wire. Flash:
/// one byte more (a trailing Marker, which parsing ignores but the HMACs of RFC
/// 7425 §4.6.5 do not); plain: its first salt byte flipped.
#[cfg_attr(not(feature = "test-hooks"), allow(unused_variables))]
pub(super) fn derivation_input(
    config: &EndpointConfig,
    profile: &dyn CryptoProfile,
    component: &[u8],
) -> Vec<u8> {
    #[cfg_attr(not(feature = "test-hooks"), allow(unused_mut))]
    let mut c = component.to_vec();
    if fault!(config, wrong_key_derivation) {
        match (profile.name(), c.first_mut()) {
            ("plain", Some(b)) => *b ^= 1,
            _ => c.push(0),
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The endpoint's view of which sessions received time-critical data
    /// lately answers "on another session than h" as a walk over all sessions
    /// would, whatever order sessions report in (three sessions, two slots).
    #[test]
    fn tcr_for_is_the_newest_reception_by_another_session() {
        let mut e = Endpoint::new(
            EndpointConfig::default(),
            std::sync::Arc::new(crate::crypto::plain::PlainProfile::new("x")),
            1,
        );
        let (a, b, c) = (SessionHandle(1), SessionHandle(2), SessionHandle(3));
        let ms = Instant::from_millis;
        let window = crate::congestion::TIME_CRITICAL_WINDOW;
        // Reports as with_session makes them: each session's latest reception.
        let reports = [
            (c, 100),
            (b, 200),
            (a, 300),
            (b, 200), // unchanged, reported again
            (c, 1_000),
            (c, 1_000),
            (a, 1_100),
            (b, 1_200),
        ];
        let mut latest: BTreeMap<SessionHandle, u64> = BTreeMap::new();
        for (h, t) in reports {
            e.note_time_critical(h, Some(ms(t)), None);
            latest.insert(h, t);
            for now in [t, t + 500, t + 900, t + 2_000] {
                for asked in [a, b, c, SessionHandle(9)] {
                    let walk = latest
                        .iter()
                        .any(|(&s, &r)| s != asked && ms(now) - ms(r) < window);
                    assert_eq!(e.tcr_for(asked, ms(now)), walk, "{asked:?} at {now} ms");
                }
            }
        }
    }
}
