//! What only a conformance tester needs (the `test-hooks` feature): packets
//! crafted field by field, [`Endpoint::peek`] at a datagram's contents, keys of
//! closed sessions kept for taps, and the checksum fault of the plain profile.

use std::net::SocketAddr;

use super::*;
use crate::wire::Header;

/// How many closed sessions a tapping endpoint keeps keys for.
const CLOSED_TAPS: usize = 16;

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

impl Endpoint {
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
                    None => s.data.header(now, mode, false, false),
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

    /// With `tap`: keeps a closed session's keys, so a test tool may still craft
    /// packets in it and see (not process) what arrives for it.
    pub(super) fn keep_closed_tap(&mut self, s: Box<Session>) {
        if self.config.tap && s.cipher.is_some() {
            if self.closed_taps.len() >= CLOSED_TAPS {
                self.closed_taps.pop_front();
            }
            self.closed_taps.push_back(s);
        }
    }

    pub(super) fn closed_taps_size(&self) -> usize {
        self.closed_taps.iter().map(|s| s.state_size()).sum()
    }

    /// A datagram for a closed session a test tool still watches: tap it,
    /// process nothing. Returns whether it was one.
    pub(super) fn tap_closed(&mut self, from: SocketAddr, sid: u32, encrypted: &[u8]) -> bool {
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
            self.stats.drop(DropReason::ClosedSession);
            return true;
        }
        false
    }

    /// The `checksum-rfc1071` fault: recompute the trailing checksum of a plain
    /// profile datagram with RFC 1071's odd-byte rule.
    pub(super) fn checksum_fault(&self, data: &mut [u8]) {
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
    }
}
