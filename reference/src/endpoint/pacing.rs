//! RFC 7016 §3.4 startup packets out: sealed under the Default Session Key,
//! fragmented when too large, and paced per destination (at most 4380 bytes and
//! four packets every 200 ms); and the one place datagrams join the outbox.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use super::{Endpoint, Transmit};
use crate::session::fragment;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{Chunk, Header, Mode, Packet, multiplex};

/// §3.4: at most 4380 bytes and four packets per destination every 200 ms.
pub const STARTUP_PACING_WINDOW: Duration = Duration::from_millis(200);
pub const STARTUP_PACING_BYTES: usize = 4380;
pub const STARTUP_PACING_PACKETS: usize = 4;

/// Startup datagrams (fragments, our own IHellos and IIKeyings) waiting for
/// their destination's pacing budget: at most this many bytes per destination
/// (twice the largest startup packet reassembly takes, §3.4) ...
pub const PACED_PER_DESTINATION: usize = 128 * 1024;
/// ... and this many bytes in all.
pub const PACED_BYTES: usize = 4 << 20;

/// A sliding 200 ms window of recent startup sends to one destination.
#[derive(Debug, Default)]
pub(super) struct Pacer {
    pub(super) recent: VecDeque<(Instant, usize)>,
    pub(super) queue: VecDeque<Vec<u8>>,
    /// Bytes in `queue`.
    pub(super) queued: usize,
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
    pub(super) fn next_release(&self) -> Option<Instant> {
        self.recent.front().map(|&(t, _)| t + STARTUP_PACING_WINDOW)
    }
}

/// Slots of the per-source answer counters: a fixed table, so spoofed sources
/// cannot grow it; sources that share a slot share its budget (the slot is a
/// keyed hash of the address, so an attacker cannot aim at a real source's).
const ANSWER_SLOTS: usize = 4096;

/// Rate limit on what startup handling sends (RHello, Cookie Change, Redirect,
/// RIKeying retransmissions, ...): per second in total and per source IP
/// address. A reflection path (one genuine cookie replayed from many spoofed
/// sources, each getting a Cookie Change) is bounded by the total.
#[derive(Debug)]
pub(super) struct AnswerLimiter {
    key: u64,
    second: u64,
    total: u32,
    slots: Box<[(u64, u32)]>,
}

impl AnswerLimiter {
    pub(super) fn new(key: u64) -> Self {
        AnswerLimiter {
            key,
            second: 0,
            total: 0,
            slots: vec![(0, 0); ANSWER_SLOTS].into_boxed_slice(),
        }
    }

    /// Whether one more answer to `to` fits this second's budgets (and counts it).
    pub(super) fn allow(
        &mut self,
        now: Instant,
        to: SocketAddr,
        total: u32,
        per_source: u32,
    ) -> bool {
        use std::hash::{Hash, Hasher};
        let second = now.as_micros() / 1_000_000;
        if second != self.second {
            self.second = second;
            self.total = 0;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.key, to.ip()).hash(&mut h);
        let slot = &mut self.slots[(h.finish() % ANSWER_SLOTS as u64) as usize];
        if slot.0 != second {
            *slot = (second, 0);
        }
        if self.total >= total || slot.1 >= per_source {
            return false;
        }
        self.total += 1;
        slot.1 += 1;
        true
    }
}

impl Endpoint {
    /// Whether a startup answer to `to` may go now (the rate limit); counts a
    /// drop when it may not.
    pub(super) fn may_answer(&mut self, now: Instant, to: SocketAddr) -> bool {
        let l = &self.config.limits;
        let ok = self.answers.allow(
            now,
            to,
            l.startup_answers_per_second,
            l.startup_answers_per_source_per_second,
        );
        if !ok {
            self.stats.drop(DropReason::StartupAnswerRateLimited);
        }
        ok
    }

    #[cfg_attr(not(feature = "test-hooks"), allow(unused_mut))]
    pub(super) fn send_raw(&mut self, dst: SocketAddr, mut data: Vec<u8>) {
        #[cfg(feature = "test-hooks")]
        self.checksum_fault(&mut data);
        self.stats.datagrams_out += 1;
        self.stats.bytes_out += data.len() as u64;
        self.outbox.push_back(Transmit {
            src: None,
            dst,
            data,
        });
    }

    /// Sends a startup packet (mode 3) under the Default Session Key to session ID
    /// `sid`, fragmenting it if it is too large (§3.4).
    pub(super) fn send_startup(
        &mut self,
        now: Instant,
        dst: SocketAddr,
        sid: u32,
        chunks: Vec<Chunk>,
    ) {
        let mut header = Header::new(Mode::Startup);
        // Liberty (config.timestamp_origin): §2.2.4 the clock's origin is free.
        header.timestamp = Some(
            now.timestamp_250hz()
                .wrapping_add(self.config.timestamp_origin),
        );
        let plain = match Packet::new(header, chunks).to_bytes() {
            Ok(p) => p,
            Err(e) => {
                self.stats.drop_with(DropReason::OutgoingUnencodable, e);
                return;
            }
        };
        if !self.initiating && !self.may_answer(now, dst) {
            return;
        }
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
        let answer = !fragmented && !self.initiating;
        // (The no-fragment-pacing fault sends everything at once.)
        let answer = answer || fault!(self.config, no_fragment_pacing);
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

    /// Sends now if the destination's 200 ms budget allows, else queues (up to
    /// [`PACED_PER_DESTINATION`] datagrams per destination and
    /// [`PACED_BYTES`] in all: beyond, the datagram is dropped and counted).
    fn pace(&mut self, now: Instant, dst: SocketAddr, d: Vec<u8>) {
        let queued_total = self.paced_bytes();
        let p = self.pacers.entry(dst).or_default();
        p.roll(now);
        if p.queue.is_empty() && p.fits(d.len()) {
            p.count(now, d.len());
            self.send_raw(dst, d);
        } else if p.queued + d.len() > PACED_PER_DESTINATION || queued_total + d.len() > PACED_BYTES
        {
            if p.queue.is_empty() && p.recent.is_empty() {
                self.pacers.remove(&dst);
            }
            self.stats.drop(DropReason::StartupPacingFull);
        } else {
            p.queued += d.len();
            p.queue.push_back(d);
        }
    }

    /// Bytes waiting in the startup pacers.
    fn paced_bytes(&self) -> usize {
        self.pacers.values().map(|p| p.queued).sum()
    }

    /// Releases paced datagrams whose window has come; forgets idle pacers.
    pub(super) fn service_pacers(&mut self, now: Instant) {
        let mut out = Vec::new();
        for (dst, p) in self.pacers.iter_mut() {
            p.roll(now);
            while p.queue.front().is_some_and(|d| p.fits(d.len())) {
                let d = p.queue.pop_front().expect("front");
                p.queued -= d.len();
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
}
