//! RFC 7016 §3.5 sessions.
//!
//! The endpoint ([`crate::endpoint`]) demultiplexes datagrams, runs the startup
//! handshake (§3.5.1) and owns the poll API; a [`Session`] owns what happens
//! inside an open session. Where each part of §3.5 lives: the map in the crate
//! documentation (reference/README.md, "Where RFC 7016 lives").

use std::collections::VecDeque;
use std::net::SocketAddr;

use serde::Serialize;

use crate::crypto::{InitiatorKeying, PacketCipher};
use crate::session::config::EndpointConfig;
use crate::session::handshake::{Candidate, Retry};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::IIKeying;

pub mod close;
pub mod config;
pub mod cookie;
pub mod data;
pub mod event;
pub mod fragment;
pub mod handshake;
pub mod keepalive;
pub mod mobility;
pub mod packet;
pub mod send;

pub use close::{CLOSE_RETRANSMIT, FARCLOSE_LINGER, NEARCLOSE_LIMIT};
pub use data::{Data, Fill, SessionEvent};
pub use event::Event;
pub use mobility::MOBILITY_REPLY_LIMIT;

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

/// The initiator's state while opening (S_IHELLO_SENT, S_KEYING_SENT).
#[derive(Debug)]
pub(crate) struct Opening {
    pub(crate) epd: Vec<u8>,
    pub(crate) tag: Vec<u8>,
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) deadline: Instant,
    // S_KEYING_SENT:
    pub(crate) cookie: Vec<u8>,
    pub(crate) cookie_changed: bool,
    pub(crate) far_certificate: Vec<u8>,
    pub(crate) keying: Option<Box<dyn InitiatorKeying>>,
    pub(crate) iikeying: Option<IIKeying>,
    pub(crate) retry: Option<Retry>,
}

/// One session (RFC 7016 §3.5): its identity and keys, its state, and the
/// timers and data of what happens inside it once open. The endpoint creates it
/// (§3.5.1, in [`crate::endpoint`]), hands it the packets that decrypt with its
/// keys and its timer calls, and collects what it sends and reports.
#[derive(Debug)]
pub struct Session {
    pub(crate) handle: SessionHandle,
    pub(crate) role: Role,
    pub(crate) state: State,
    /// The session ID the far end uses to send to us (0 until chosen).
    pub(crate) local_sid: u32,
    /// The session ID we use to send to the far end.
    pub(crate) remote_sid: u32,
    /// DESTADDR
    pub(crate) dest: SocketAddr,
    pub(crate) far_certificate: Vec<u8>,
    pub(crate) near_nonce: Vec<u8>,
    pub(crate) far_nonce: Vec<u8>,
    pub(crate) opening: Option<Opening>,
    pub(crate) cipher: Option<Box<dyn PacketCipher>>,
    /// Responder: the IIKeying this session came from and the RIKeying answer,
    /// to recognise and answer a retransmitted IIKeying (§3.5.1.1.2 2.1).
    pub(crate) iikeying: Option<IIKeying>,
    pub(crate) rikeying: Option<Vec<u8>>,
    /// Everything about flows, acks, timestamps and congestion.
    pub(crate) data: Data,
    pub(crate) opened_at: Instant,
    pub(crate) last_heard: Instant,
    /// The far end has sent a packet in this session (a responder's session is
    /// half-open until then).
    pub(crate) heard: bool,
    /// Keepalive Ping outstanding: when sent, how many.
    pub(crate) ping: Option<Retry>,
    /// §3.5.4.2 MOB_TX_TS, MOB_RX_TS, MOB_SECRET.
    pub(crate) mob_tx_ts: Option<Instant>,
    pub(crate) mob_rx_ts: Option<u64>,
    pub(crate) mob_secret: [u8; 16],
    /// S_NEARCLOSE / S_FARCLOSE_LINGER: since when, and the Close retransmission.
    pub(crate) closing_since: Option<Instant>,
    pub(crate) close_retry: Option<Instant>,
    pub(crate) close_reason: Option<String>,
}

impl Session {
    /// Still opening: our own opening (S_IHELLO_SENT, S_KEYING_SENT), or a
    /// session we answered whose initiator has not yet sent a packet in it.
    pub fn half_open(&self) -> bool {
        matches!(self.state, State::S_IHELLO_SENT | State::S_KEYING_SENT)
            || (self.state == State::S_OPEN && self.role == Role::Responder && !self.heard)
    }

    /// Bytes this session holds: the struct, its keys and certificates, the
    /// handshake it keeps to answer a retransmitted IIKeying, its flows.
    pub fn state_size(&self) -> usize {
        std::mem::size_of::<Session>()
            + self.far_certificate.len()
            + self.near_nonce.len()
            + self.far_nonce.len()
            + self.iikeying.as_ref().map_or(0, |i| {
                i.initiator_certificate.len() + i.cookie_echo.len() + i.skic.len() + i.signature.len()
            })
            + self.rikeying.as_ref().map_or(0, Vec::len)
            + self.opening.as_ref().map_or(0, |o| {
                o.epd.len() + o.tag.len() + o.cookie.len() + o.far_certificate.len() + o.candidates.len() * 64
            })
            + self.close_reason.as_ref().map_or(0, String::len)
            // The cipher's keys and state, roughly.
            + 512
            + self.data.heap_size()
    }

    /// The application's handle on this session.
    pub fn handle(&self) -> SessionHandle {
        self.handle
    }

    /// Initiator or responder.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The RFC 7016 §3.5 state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The session ID the far end uses to send to us (0 until chosen).
    pub fn local_sid(&self) -> u32 {
        self.local_sid
    }

    /// The session ID we use to send to the far end (0 until known).
    pub fn remote_sid(&self) -> u32 {
        self.remote_sid
    }

    /// DESTADDR: where this session's packets go (§3.5.4.2 may move it).
    pub fn dest(&self) -> SocketAddr {
        self.dest
    }

    /// The far end's certificate (§3.5.1.1, from its RHello or IIKeying).
    pub fn far_certificate(&self) -> &[u8] {
        &self.far_certificate
    }

    /// The session's flows, acknowledgements, timestamps and congestion
    /// state, read-only (the application acts on flows through
    /// [`crate::endpoint::Endpoint`]).
    pub fn data(&self) -> &Data {
        &self.data
    }
}

/// What a session's methods need from the endpoint that owns it.
pub(crate) struct Io<'a> {
    pub now: Instant,
    pub config: &'a EndpointConfig,
    pub stats: &'a mut Stats,
    pub events: &'a mut VecDeque<Event>,
    /// Sealed datagrams to send: (destination, bytes).
    pub out: &'a mut Vec<(SocketAddr, Vec<u8>)>,
    /// Empty datagram buffers to seal into (the endpoint's recycled ones).
    pub spare: &'a mut Vec<Vec<u8>>,
    /// The plain packets of a flush, before they are sealed together (the
    /// endpoint's, reused by every session).
    pub flush_plain: &'a mut Vec<Vec<u8>>,
    /// §2.2.4 TCR: time-critical data is arriving on another session.
    pub tcr: bool,
    /// When TC was last sent on any session (Appendix A FASTGROW_ALLOWED).
    pub tc_sent_any: Option<Instant>,
    /// Bytes the endpoint's buffer limit leaves for this session's receiving
    /// flows beyond what they hold now.
    pub buffer_room: usize,
    /// Inside a receive batch: a received packet's flush waits for its end
    /// ([`crate::endpoint::Endpoint::begin_batch`]).
    pub defer_flush: bool,
}

impl Session {
    /// Installs the session's keys; its packets then fill datagrams under their
    /// framing.
    pub(crate) fn set_cipher(&mut self, cipher: Box<dyn PacketCipher>, config: &EndpointConfig) {
        self.data
            .set_max_packet(config.max_packet_for(cipher.as_ref()));
        self.cipher = Some(cipher);
    }

    /// An initiator's session in S_IHELLO_SENT (§3.5.1.1.1), with no candidates yet.
    pub(crate) fn initiator(
        handle: SessionHandle,
        config: &EndpointConfig,
        now: Instant,
        opening: Opening,
        first_dest: SocketAddr,
        mob_secret: [u8; 16],
    ) -> Self {
        let mut s = Session::new(handle, Role::Initiator, config, now, first_dest, mob_secret);
        s.state = State::S_IHELLO_SENT;
        s.opening = Some(opening);
        s
    }

    /// A responder's session, S_OPEN from the start (§3.5.1.1.2 step 3).
    pub(crate) fn responder(
        handle: SessionHandle,
        config: &EndpointConfig,
        now: Instant,
        dest: SocketAddr,
        mob_secret: [u8; 16],
    ) -> Self {
        let mut s = Session::new(handle, Role::Responder, config, now, dest, mob_secret);
        s.state = State::S_OPEN;
        s
    }

    fn new(
        handle: SessionHandle,
        role: Role,
        config: &EndpointConfig,
        now: Instant,
        dest: SocketAddr,
        mob_secret: [u8; 16],
    ) -> Self {
        Session {
            handle,
            role,
            state: State::S_OPEN,
            local_sid: 0,
            remote_sid: 0,
            dest,
            far_certificate: Vec::new(),
            near_nonce: Vec::new(),
            far_nonce: Vec::new(),
            opening: None,
            cipher: None,
            iikeying: None,
            rikeying: None,
            data: Data::new(config, now),
            opened_at: now,
            last_heard: now,
            heard: false,
            ping: None,
            mob_tx_ts: None,
            mob_rx_ts: None,
            mob_secret,
            closing_since: None,
            close_retry: None,
            close_reason: None,
        }
    }

    /// Reports flow and message events to the application.
    pub(crate) fn report(&self, io: &mut Io<'_>, evs: Vec<SessionEvent>) {
        for event in evs {
            io.events.push_back(Event::Session {
                session: self.handle,
                event,
            });
        }
    }

    /// S_OPEN timers (§3.5.4.1 keepalive and the dead-far-end check, idle close,
    /// the data plane's timers) and the closing states' timers (§3.5.5).
    pub(crate) fn on_timeout(&mut self, io: &mut Io<'_>) {
        match self.state {
            State::S_NEARCLOSE | State::S_FARCLOSE_LINGER => self.close_timers(io),
            State::S_OPEN => {
                if self.far_end_dead(io) {
                    return;
                }
                if let Some(idle) = io.config.idle_close
                    && self.data.is_idle()
                    && io.now - self.data.last_activity() >= idle
                {
                    return self.close(io, false);
                }
                self.keepalive(io);
                let evs = self.data.on_timeout(io.now);
                self.report(io, evs);
                self.flush(io);
            }
            _ => {}
        }
    }

    /// When [`Session::on_timeout`] (or, while opening, the endpoint's startup
    /// timers) wants to run next.
    pub(crate) fn next_timeout(&self, config: &EndpointConfig) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Instant| t = Some(t.map_or(x, |y| y.min(x)));
        if let Some(o) = &self.opening {
            at(o.deadline);
            // IHellos are only resent in S_IHELLO_SENT, the IIKeying only in
            // S_KEYING_SENT (each timer is serviced in its own state).
            match self.state {
                State::S_IHELLO_SENT => o.candidates.iter().for_each(|c| at(c.next_send)),
                State::S_KEYING_SENT => {
                    if let Some(r) = &o.retry {
                        at(r.next);
                    }
                }
                _ => {}
            }
            return t;
        }
        match self.state {
            State::S_NEARCLOSE | State::S_FARCLOSE_LINGER => {
                if let Some(c) = self.close_timeout() {
                    at(c);
                }
            }
            State::S_OPEN => {
                if let Some(k) = self.keepalive_timeout(config) {
                    at(k);
                }
                if let Some(idle) = config.idle_close {
                    at(self.data.last_activity() + idle);
                }
                if let Some(d) = self.data.next_timeout() {
                    at(d);
                }
            }
            _ => {}
        }
        t
    }
}
