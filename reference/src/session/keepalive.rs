//! RFC 7016 §3.5.4.1 keepalive: Pings after a quiet period, resent on an ERTO
//! backoff while unanswered, and the end of a session whose far end stopped
//! answering.

use std::time::Duration;

use crate::session::config::EndpointConfig;
use crate::session::handshake::Retry;
use crate::session::{Io, Role, Session};
use crate::time::Instant;
use crate::wire::{Chunk, Ping};

impl Session {
    /// The initiator pings after `keepalive` of silence, the responder one MRTO
    /// later (so normally only the initiator's Pings go out).
    fn keepalive_period(&self, config: &EndpointConfig) -> Duration {
        let mut period = config.keepalive;
        if self.role == Role::Responder {
            period += self.data.mrto();
        }
        period
    }

    /// §3.5.4.1: a keepalive Ping when due; an unanswered Ping is resent on an
    /// ERTO backoff.
    pub(crate) fn keepalive(&mut self, io: &mut Io<'_>) {
        if fault!(io.config, no_keepalive) {
            return;
        }
        let now = io.now;
        // Any packet from the far end answers for liveness (it clears `ping`), so a
        // Ping goes out only after the period of silence.
        let due = match &self.ping {
            Some(r) => r.next <= now,
            None => now - self.last_heard >= self.keepalive_period(io.config),
        };
        if !due {
            return;
        }
        let erto = self.data.erto();
        match self.ping.as_mut() {
            Some(r) => {
                // §3.5.4.1: no reply within ERTO: increase ERTO (§3.5.2), resend.
                self.data.backoff_erto();
                r.next = now + self.data.erto();
                r.count += 1;
            }
            None => {
                self.ping = Some(Retry {
                    next: now + erto,
                    interval: erto,
                    count: 1,
                })
            }
        }
        // §3.5.4.1: a keepalive Ping SHOULD have an empty message.
        self.send_chunks(io, vec![Chunk::Ping(Ping { message: vec![] })]);
    }

    /// Any packet from the far end: it is alive (the keepalive Ping is answered).
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.ping = None;
    }

    /// Dead far end: nothing heard for the retransmit limit while we wait for a
    /// Ping Reply or for acknowledgements. Sends a Close Ack and enters S_CLOSED;
    /// returns whether it did.
    pub(crate) fn far_end_dead(&mut self, io: &mut Io<'_>) -> bool {
        let waiting = self.ping.is_some() || self.data.outstanding_bytes() > 0;
        if waiting && io.now - self.last_heard >= io.config.retransmit_limit {
            self.close_reason = Some("far end stopped answering (retransmit limit)".into());
            self.send_chunks(io, vec![Chunk::CloseAck]);
            self.enter_closed(io, "far end stopped answering");
            return true;
        }
        false
    }

    /// The next keepalive or dead-far-end deadline of an open session.
    pub(crate) fn keepalive_timeout(&self, config: &EndpointConfig) -> Option<Instant> {
        let mut t = match &self.ping {
            Some(r) => Some(r.next),
            None if fault!(config, no_keepalive) => None,
            None => Some(self.last_heard + self.keepalive_period(config)),
        };
        // The dead-peer check only matters while waiting for an answer.
        if self.ping.is_some() || self.data.outstanding_bytes() > 0 {
            let dead = self.last_heard + config.retransmit_limit;
            t = Some(t.map_or(dead, |x| x.min(dead)));
        }
        t
    }
}
