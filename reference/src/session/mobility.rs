//! RFC 7016 §3.5.4.2 address mobility: a packet from an address other than
//! DESTADDR starts a check (a Ping carrying a signed timestamp, at most once a
//! second); a Ping Reply that verifies moves DESTADDR.

use std::net::SocketAddr;
use std::time::Duration;

use crate::session::{Event, Io, Session, State};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{Chunk, Ping};

/// §3.5.4.2: a mobility check Ping Reply older than this is not accepted.
pub const MOBILITY_REPLY_LIMIT: Duration = Duration::from_secs(120);

impl Session {
    /// §3.5.4.2: a packet from an address other than DESTADDR starts a mobility
    /// check, at most once a second (MOB_TX_TS).
    pub(crate) fn check_address(&mut self, io: &mut Io<'_>, from: SocketAddr) {
        let now = io.now;
        if self.state == State::S_OPEN
            && from != self.dest
            && self
                .mob_tx_ts
                .is_none_or(|t| now - t >= Duration::from_secs(1))
        {
            self.mob_tx_ts = Some(now);
            let msg = mobility_message(&self.mob_secret, now, from);
            self.send_chunks_to(io, from, vec![Chunk::Ping(Ping { message: msg })]);
        }
    }

    /// A Ping Reply that proves the far end is at a new address moves DESTADDR;
    /// any other Ping Reply answers the keepalive (§3.5.4.1).
    pub(crate) fn on_ping_reply(&mut self, io: &mut Io<'_>, from: SocketAddr, msg: &[u8]) {
        if msg.first() == Some(&b'M') {
            let Some(ts) = mobility_check(&self.mob_secret, msg, from) else {
                return io.stats.drop(DropReason::MobilityReplyUnverified);
            };
            let age = io.now.as_micros().saturating_sub(ts);
            if age > MOBILITY_REPLY_LIMIT.as_micros() as u64
                || self.mob_rx_ts.is_some_and(|r| ts <= r)
            {
                return io.stats.drop(DropReason::MobilityReplyStale);
            }
            self.mob_rx_ts = Some(ts);
            if self.dest != from {
                self.dest = from;
                io.events.push_back(Event::AddressChanged {
                    session: self.handle,
                    address: from,
                });
            }
            return;
        }
        self.ping = None;
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
