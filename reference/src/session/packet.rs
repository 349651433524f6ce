//! RFC 7016 §3.5 session packets in: a decrypted packet of an established (or
//! closing) session — mode check (§2.2.4), liveness, each chunk to its handler
//! (Ping §3.5.4, Close §3.5.5, FIHello §3.5.1.5, flow chunks §3.6), then the
//! end-of-packet acknowledgement rules, the §3.5.3 address mobility check and
//! the replies.

use std::net::SocketAddr;

use crate::session::config::FIHelloMode;
use crate::session::{Io, Role, Session, State};
use crate::stats::DropReason;
use crate::wire::{Chunk, FIHello, Mode, PacketView};

impl Session {
    /// Processes one decrypted session packet from `from`. Returns the Forwarded
    /// IHellos it carried, for the endpoint to answer (§3.5.1.5).
    // Without test hooks `faulty!` is its fallback expression, which reads as these.
    #[cfg_attr(
        not(feature = "test-hooks"),
        allow(clippy::redundant_locals, clippy::needless_borrow)
    )]
    pub(crate) fn on_packet(
        &mut self,
        io: &mut Io<'_>,
        from: SocketAddr,
        plain: &[u8],
    ) -> Vec<FIHello> {
        let mut forwarded = Vec::new();
        self.data.set_endpoint_room(io.buffer_room);
        // §2.2.4: the initiator SHOULD ignore mode 1 packets, the responder mode 2.
        let expected = match self.role {
            Role::Initiator => Mode::Responder,
            Role::Responder => Mode::Initiator,
        };
        // §2.2.4: a mode 0 packet does not parse, so it is discarded.
        let plain = faulty!(io.config, mode_0_as(plain, expected), plain);
        // Parsed without allocating; each chunk is then made owned in turn.
        let packet = match PacketView::parse(&plain) {
            Ok(p) => p,
            Err(e) => {
                io.stats.drop_with(DropReason::SessionUnparsable, e);
                return forwarded;
            }
        };
        // §2: reserved bits are ignored.
        if fault!(io.config, reject_reserved_bits) && packet.header.reserved != 0 {
            return forwarded;
        }
        self.heard = true;
        // §2.3: a chunk in a packet of the wrong mode is ignored.
        let ignore_mode =
            fault!(io.config, ignore_chunk_mode) && packet.header.mode == Mode::Startup;
        if packet.header.mode != expected && !ignore_mode {
            io.stats.drop_with(
                DropReason::SessionPacketWrongMode,
                format_args!("{:?}", packet.header.mode),
            );
            return forwarded;
        }
        let now = io.now;
        self.heard(now);
        self.data.begin_packet(now, &packet.header);
        let mut replies: Vec<Chunk> = Vec::new();
        let mut close_now = false;
        let chunks = packet.chunks().map(|c| c.parse());
        // The chunk-reading faults need the packet's chunks as a list; without
        // an armed fault the chunks are walked as they are (no allocation, even
        // in a build where a workspace unified the test-hooks feature in).
        #[cfg(feature = "test-hooks")]
        let chunks = {
            let (plain, misread) = if io.config.faults == crate::faults::Faults::default() {
                (Some(chunks), None)
            } else {
                (None, Some(io.config.faults.misread(chunks.collect())))
            };
            plain
                .into_iter()
                .flatten()
                .chain(misread.into_iter().flatten())
        };
        for c in chunks {
            match c {
                // §3.5.4: reply to a Ping, copying the message unaltered.
                Chunk::Ping(p) => {
                    if self.state == State::S_OPEN {
                        #[cfg_attr(not(feature = "test-hooks"), allow(unused_mut))]
                        let mut p = p;
                        #[cfg(feature = "test-hooks")]
                        if io.config.faults.alter_ping_reply {
                            p.message.push(b'!');
                        }
                        replies.push(Chunk::PingReply(p));
                    }
                }
                Chunk::PingReply(p) => self.on_ping_reply(io, from, &p.message),
                // §3.5.5: Close Request: send Close Ack; S_OPEN -> S_FARCLOSE_LINGER.
                Chunk::Close => self.on_close_request(io, &mut replies),
                // §3.5.5: Close Ack -> S_CLOSED.
                Chunk::CloseAck => close_now = true,
                Chunk::FIHello(fi) => {
                    if self.state == State::S_OPEN {
                        if io.config.fihello == FIHelloMode::Ignore {
                            io.stats.drop(DropReason::FIHelloIgnored);
                        } else {
                            forwarded.push(fi);
                        }
                    }
                }
                Chunk::Malformed(m) => io.stats.drop_with(
                    DropReason::MalformedChunk,
                    format_args!("{:#04x}: {}", m.chunk_type, m.error),
                ),
                Chunk::Unknown { chunk_type, .. } => {
                    // §2.3: MUST ignore an unrecognised chunk type (e.g. 0xec).
                    if !matches!(chunk_type, 0x00 | 0xff) {
                        io.stats
                            .drop_with(DropReason::UnknownChunk, format_args!("{chunk_type:#04x}"));
                    }
                }
                c if !crate::wire::chunk::allowed_in_session(c.chunk_type()) => {
                    io.stats
                        .drop_with(DropReason::SessionChunkNotAllowed, c.name());
                }
                other => {
                    if self.state == State::S_OPEN {
                        let evs = self.data.on_chunk(now, other, io.stats);
                        self.report(io, evs);
                    }
                }
            }
        }
        if close_now {
            self.enter_closed(io, "closed (Close Ack received)");
            return forwarded;
        }
        let evs = self.data.end_packet_with(now, io.tc_sent_any);
        self.report(io, evs);
        self.check_address(io, from);
        if !replies.is_empty() {
            self.send_chunks(io, replies);
        }
        if !io.defer_flush {
            self.flush(io);
        }
        forwarded
    }
}
