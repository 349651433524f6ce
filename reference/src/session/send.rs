//! RFC 7016 §3.5 and §2.2.4: a session's packets out — control
//! chunks with whatever acks and data fit, and the data plane's flushes — in the
//! session's mode, sealed with its keys, to its session ID.

use std::net::SocketAddr;

use crate::session::{Io, Role, Session, State};
use crate::wire::{Chunk, Mode, Packet, multiplex};

impl Session {
    /// Sends control chunks now, in one session packet (with any acks and data
    /// that fit), to DESTADDR.
    pub(crate) fn send_chunks(&mut self, io: &mut Io<'_>, chunks: Vec<Chunk>) {
        let dest = self.dest;
        self.send_chunks_to(io, dest, chunks);
    }

    /// Sends control chunks now to `dst` (DESTADDR, or a mobility check's address).
    pub(crate) fn send_chunks_to(&mut self, io: &mut Io<'_>, dst: SocketAddr, chunks: Vec<Chunk>) {
        let max = io.config.max_packet;
        let mode = self.mode(io);
        let header = self.data.header(io.now, mode, false, io.tcr);
        let mut packet = Packet::new(header, chunks);
        let mut bytes = packet.to_bytes().unwrap_or_default();
        if dst == self.dest && bytes.len() < max && self.state == State::S_OPEN {
            // Piggyback acks and data on the control packet.
            let extra = self.data.fill(io.now, max - bytes.len(), io.stats);
            if !extra.chunks.is_empty() {
                packet.header.time_critical |= extra.time_critical;
                packet.chunks.extend(extra.chunks);
                bytes = packet.to_bytes().unwrap_or_default();
            }
        }
        self.data.on_sent(io.now, &packet);
        self.seal(io, dst, &bytes);
    }

    /// Sends whatever acks and data the session has ready, packet by packet.
    pub(crate) fn flush(&mut self, io: &mut Io<'_>) {
        let max = io.config.max_packet;
        for _ in 0..1024 {
            if self.state != State::S_OPEN {
                return;
            }
            let header_room = 5;
            let fill = self.data.fill(io.now, max - header_room, io.stats);
            if fill.chunks.is_empty() {
                return;
            }
            let mode = self.mode(io);
            let header = self.data.header(io.now, mode, fill.time_critical, io.tcr);
            let packet = Packet::new(header, fill.chunks);
            self.data.on_sent(io.now, &packet);
            let Ok(bytes) = packet.to_bytes() else { return };
            let dest = self.dest;
            self.seal(io, dest, &bytes);
        }
    }

    /// §2.2.4: the Initiator Mark or the Responder Mark (the `wrong-mode` fault
    /// swaps them).
    fn mode(&self, io: &Io<'_>) -> Mode {
        let _ = io;
        match (self.role, fault!(io.config, wrong_mode)) {
            (Role::Initiator, false) | (Role::Responder, true) => Mode::Initiator,
            (Role::Responder, false) | (Role::Initiator, true) => Mode::Responder,
        }
    }

    /// Seals a plain session packet and queues it for `dst`.
    fn seal(&mut self, io: &mut Io<'_>, dst: SocketAddr, plain: &[u8]) {
        let Some(c) = self.cipher.as_mut() else {
            return;
        };
        let mut enc = Vec::with_capacity(plain.len() + 48);
        c.seal(plain, &mut enc);
        let mut d = Vec::with_capacity(enc.len() + 4);
        multiplex::mux(self.remote_sid, &enc, &mut d);
        io.out.push((dst, d));
    }
}
