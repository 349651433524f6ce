//! RFC 5681 Reno, for comparison with Appendix A: slow start doubling per round
//! trip, congestion avoidance of one SMSS per round trip, halving on loss, one
//! SMSS after a timeout.

use super::appendix_a::{CWND_INIT, SMSS};
use super::{CongestionController, Signals};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reno {
    pub cwnd: usize,
    pub ssthresh: Option<usize>,
    outstanding: usize,
    acked: usize,
    loss: bool,
    accumulator: usize,
}

impl Default for Reno {
    fn default() -> Self {
        Reno {
            cwnd: CWND_INIT,
            ssthresh: None,
            outstanding: 0,
            acked: 0,
            loss: false,
            accumulator: 0,
        }
    }
}

impl CongestionController for Reno {
    fn name(&self) -> &'static str {
        "rfc5681-reno"
    }
    fn cwnd(&self) -> usize {
        self.cwnd
    }
    fn ssthresh(&self) -> Option<usize> {
        self.ssthresh
    }
    fn begin_packet(&mut self, outstanding: usize) {
        self.outstanding = outstanding;
        self.acked = 0;
        self.loss = false;
    }
    fn on_ack(&mut self, bytes: usize) {
        self.acked += bytes;
    }
    fn on_nak(&mut self) {}
    fn on_loss(&mut self) {
        self.loss = true;
    }
    fn end_packet(&mut self, _s: Signals) {
        if self.loss {
            // RFC 5681 (4): ssthresh = max(FlightSize / 2, 2 * SMSS)
            let t = (self.outstanding / 2).max(2 * SMSS);
            self.ssthresh = Some(t);
            self.cwnd = t;
            self.accumulator = 0;
        } else if self.acked > 0 && self.outstanding >= self.cwnd {
            if self.ssthresh.is_none_or(|t| self.cwnd < t) {
                self.cwnd += self.acked.min(SMSS);
            } else {
                self.accumulator += self.acked;
                if self.accumulator >= self.cwnd {
                    self.accumulator -= self.cwnd;
                    self.cwnd += SMSS;
                }
            }
        }
    }
    fn on_timeout(&mut self, was_loss: bool) {
        if was_loss {
            self.ssthresh = Some((self.outstanding / 2).max(2 * SMSS).max(self.cwnd / 2));
            self.cwnd = SMSS;
        }
    }
}
