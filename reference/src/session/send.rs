//! RFC 7016 §3.5 and §2.2.4: a session's packets out — control
//! chunks with whatever acks and data fit, and the data plane's flushes — in the
//! session's mode, sealed with its keys, to its session ID.

use std::net::SocketAddr;

use crate::session::{Io, Role, Session, State};
use crate::wire::{Chunk, Mode, Packet, multiplex};

/// How many packets a flush seals together (a burst is at most six data
/// packets, RFC 7016 §3.5.2.3, plus acknowledgements).
const FLUSH_GROUP: usize = 8;

impl Session {
    /// Sends control chunks now, in one session packet (with any acks and data
    /// that fit), to DESTADDR.
    pub(crate) fn send_chunks(&mut self, io: &mut Io<'_>, chunks: Vec<Chunk>) {
        let dest = self.dest;
        self.send_chunks_to(io, dest, chunks);
    }

    /// Sends control chunks now to `dst` (DESTADDR, or a mobility check's address).
    pub(crate) fn send_chunks_to(&mut self, io: &mut Io<'_>, dst: SocketAddr, chunks: Vec<Chunk>) {
        let max = self.data.max_packet();
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

    /// Sends whatever acks and data the session has ready, packet by packet,
    /// sealing them [`FLUSH_GROUP`] at a time.
    pub(crate) fn flush(&mut self, io: &mut Io<'_>) {
        let max = self.data.max_packet();
        let mut plain = std::mem::take(io.flush_plain);
        let mut n = 0;
        for _ in 0..1024 {
            if self.state != State::S_OPEN {
                break;
            }
            let header_room = 5;
            let fill = self.data.fill(io.now, max - header_room, io.stats);
            if fill.chunks.is_empty() {
                break;
            }
            let mode = self.mode(io);
            let header = self.data.header(io.now, mode, fill.time_critical, io.tcr);
            let packet = Packet::new(header, fill.chunks);
            self.data.on_sent(io.now, &packet);
            if plain.len() == n {
                plain.push(Vec::with_capacity(max));
            }
            plain[n].clear();
            if packet.emit(&mut plain[n]).is_err() {
                break;
            }
            // Keep the list, not the chunks (their payloads go now).
            let mut chunks = packet.chunks;
            chunks.clear();
            self.data.chunk_scratch = chunks;
            n += 1;
            if n == FLUSH_GROUP {
                self.seal_group(io, &plain[..n]);
                n = 0;
            }
        }
        self.seal_group(io, &plain[..n]);
        *io.flush_plain = plain;
    }

    /// Seals up to [`FLUSH_GROUP`] plain session packets at once and queues them
    /// for DESTADDR, in order.
    fn seal_group(&mut self, io: &mut Io<'_>, plain: &[Vec<u8>]) {
        let mut refs: [&[u8]; FLUSH_GROUP] = [&[]; FLUSH_GROUP];
        for (r, p) in refs.iter_mut().zip(plain) {
            *r = p;
        }
        let dest = self.dest;
        self.seal_to(io, dest, &refs[..plain.len()]);
    }

    /// Seals up to [`FLUSH_GROUP`] plain session packets together, into the
    /// endpoint's spare datagram buffers, and queues them for `dst`, in order.
    fn seal_to(&mut self, io: &mut Io<'_>, dst: SocketAddr, plain: &[&[u8]]) {
        let Some(c) = self.cipher.as_mut() else {
            return;
        };
        let n = plain.len();
        debug_assert!(n <= FLUSH_GROUP);
        let mut outs: [Vec<u8>; FLUSH_GROUP] = Default::default();
        for (o, p) in outs.iter_mut().zip(plain) {
            *o = io.spare.pop().unwrap_or_default();
            o.clear();
            // Room for the session ID, the cipher's framing and padding.
            o.reserve(p.len() + 64);
            o.extend_from_slice(&[0; 4]);
        }
        c.seal_many(plain, &mut outs[..n]);
        for o in &mut outs[..n] {
            multiplex::mux_in_place(self.remote_sid, o);
            io.out.push((dst, std::mem::take(o)));
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
        self.seal_to(io, dst, &[plain]);
    }
}
