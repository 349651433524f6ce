//! RFC 7016 §3.5.5 session close: orderly (S_NEARCLOSE, Close Requests every
//! 5 s until a Close Ack or 90 s) and abrupt (one Close Ack), and the far end's
//! close (S_FARCLOSE_LINGER for 19 s).

use std::time::Duration;

use crate::session::{Io, Session, State};
use crate::time::Instant;
use crate::wire::Chunk;

/// The RFC's Close timers (§3.5.5).
pub const CLOSE_RETRANSMIT: Duration = Duration::from_secs(5);
pub const NEARCLOSE_LIMIT: Duration = Duration::from_secs(90);
pub const FARCLOSE_LINGER: Duration = Duration::from_secs(19);

impl Session {
    /// The application closes an open or closing session: orderly (S_NEARCLOSE,
    /// Close Requests) or abrupt (one Close Ack, then S_CLOSED).
    pub(crate) fn close(&mut self, io: &mut Io<'_>, abrupt: bool) {
        match self.state {
            State::S_OPEN if abrupt => {
                self.send_chunks(io, vec![Chunk::CloseAck]);
                self.enter_closed(io, "abrupt close by the application");
            }
            State::S_OPEN => {
                // §3.5.5: on S_OPEN -> S_NEARCLOSE abort all flows, send Close now
                // and every 5 s.
                self.state = State::S_NEARCLOSE;
                self.closing_since = Some(io.now);
                self.close_retry = Some(io.now + CLOSE_RETRANSMIT);
                let evs = self.data.abort_all("session closing");
                self.report(io, evs);
                self.send_chunks(io, vec![Chunk::Close]);
            }
            State::S_NEARCLOSE | State::S_FARCLOSE_LINGER if abrupt => {
                self.send_chunks(io, vec![Chunk::CloseAck]);
                self.enter_closed(io, "abrupt close by the application");
            }
            _ => {}
        }
    }

    /// §3.5.5: a Close Request: answer with a Close Ack (queued in `replies`);
    /// S_OPEN -> S_FARCLOSE_LINGER.
    pub(crate) fn on_close_request(&mut self, io: &mut Io<'_>, replies: &mut Vec<Chunk>) {
        if fault!(io.config, no_close_ack) {
            return;
        }
        replies.push(Chunk::CloseAck);
        if self.state == State::S_OPEN {
            self.state = State::S_FARCLOSE_LINGER;
            self.closing_since = Some(io.now);
            let evs = self.data.abort_all("closed by the far end");
            self.report(io, evs);
        }
    }

    /// S_CLOSED: flows aborted; the endpoint forgets the session after this call
    /// and reports `close_reason` (or `reason`).
    pub(crate) fn enter_closed(&mut self, io: &mut Io<'_>, reason: &str) {
        let evs = self.data.abort_all(reason);
        self.report(io, evs);
        self.state = State::S_CLOSED;
        self.close_reason.get_or_insert_with(|| reason.to_string());
    }

    /// S_NEARCLOSE: Close every 5 s, S_CLOSED after 90 s; S_FARCLOSE_LINGER:
    /// S_CLOSED after 19 s (§3.5.5: SHOULD).
    pub(crate) fn close_timers(&mut self, io: &mut Io<'_>) {
        let since = |limit| self.closing_since.is_some_and(|t| io.now - t >= limit);
        match self.state {
            State::S_NEARCLOSE => {
                if since(NEARCLOSE_LIMIT) {
                    return self.enter_closed(io, "no Close Ack within 90 s");
                }
                if self.close_retry.is_some_and(|t| t <= io.now) {
                    self.close_retry = Some(io.now + CLOSE_RETRANSMIT);
                    self.send_chunks(io, vec![Chunk::Close]);
                }
            }
            State::S_FARCLOSE_LINGER if since(FARCLOSE_LINGER) => {
                self.enter_closed(io, "closed by the far end");
            }
            _ => {}
        }
    }

    /// The next close timer.
    pub(crate) fn close_timeout(&self) -> Option<Instant> {
        match self.state {
            State::S_NEARCLOSE => {
                let limit = self.closing_since.map(|c| c + NEARCLOSE_LIMIT);
                match (self.close_retry, limit) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            State::S_FARCLOSE_LINGER => self.closing_since.map(|c| c + FARCLOSE_LINGER),
            _ => None,
        }
    }
}
