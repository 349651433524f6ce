//! Initiator-side opening state (RFC 7016 §3.5.1.1.1): candidate addresses with
//! their IHello backoff, and the IIKeying retransmission.

use std::net::SocketAddr;
use std::time::Duration;

use crate::time::Instant;

/// §3.5.1.1.1: "The backoff SHOULD NOT be less than multiplicative, with not less
/// than 1.5 seconds added to the interval between each attempt."
pub fn next_interval(prev: Duration) -> Duration {
    prev + prev.mul_f64(0.5).max(Duration::from_millis(1500))
}

/// One candidate endpoint address with its own backoff schedule (§3.5.1.1.1: the
/// backoff SHOULD be scheduled separately for each candidate address).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub addr: SocketAddr,
    pub next_send: Instant,
    pub interval: Duration,
    pub sent: u32,
}

impl Candidate {
    pub fn new(addr: SocketAddr, now: Instant, first_interval: Duration) -> Self {
        Candidate {
            addr,
            next_send: now,
            interval: first_interval,
            sent: 0,
        }
    }

    /// Records a send at `now` and schedules the next one.
    pub fn sent_at(&mut self, now: Instant) {
        if self.sent > 0 {
            self.interval = next_interval(self.interval);
        }
        self.sent += 1;
        self.next_send = now + self.interval;
    }
}

/// A retransmission schedule for a single packet (IIKeying, Close).
#[derive(Debug, Clone)]
pub struct Retry {
    pub next: Instant,
    pub interval: Duration,
    pub count: u32,
}

impl Retry {
    pub fn start(now: Instant, first: Duration) -> Self {
        Retry {
            next: now + first,
            interval: first,
            count: 1,
        }
    }

    pub fn backoff(&mut self, now: Instant) {
        self.interval = next_interval(self.interval);
        self.next = now + self.interval;
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_5_1_1_1_backoff_multiplicative_plus_1_5_s() {
        let mut c = Candidate::new(
            "10.0.0.1:1".parse().unwrap(),
            Instant::ZERO,
            Duration::from_millis(1500),
        );
        let mut t = Instant::ZERO;
        let mut prev = Duration::ZERO;
        for _ in 0..8 {
            c.sent_at(t);
            let gap = c.next_send - t;
            if !prev.is_zero() {
                assert!(
                    gap >= prev + Duration::from_millis(1500),
                    "{gap:?} after {prev:?}"
                );
                assert!(gap.as_secs_f64() >= prev.as_secs_f64() * 1.5 - 1e-9);
            }
            prev = gap;
            t = c.next_send;
        }
    }
}
