//! RFC 7016 Appendix A: the example congestion control algorithm, following the
//! pseudocode of Figures 24 and 25 literally (integer arithmetic, CEIL).

use super::{CongestionController, Signals};

/// Sender Maximum Segment Size (Appendix A's example, RFC 5681).
pub const SMSS: usize = 1460;
/// Initial window, RFC 5681 §3.1 (Appendix A's example).
pub const CWND_INIT: usize = 4380;
/// The window after a timeout with loss: 1 * SMSS.
pub const CWND_TIMEDOUT: usize = 1460;

/// Appendix A's state: CWND, SSTHRESH, ACKED_BYTES_ACCUMULATOR and the
/// per-packet ACKED_BYTES_THIS_PACKET, PRE_ACK_OUTSTANDING, ANY_LOSS, ANY_NAKS, ANY_ACKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendixA {
    pub cwnd: usize,
    /// `None` is positive infinity.
    pub ssthresh: Option<usize>,
    pub acked_bytes_accumulator: usize,
    acked_bytes_this_packet: usize,
    pre_ack_outstanding: usize,
    any_loss: bool,
    any_naks: bool,
    any_acks: bool,
}

impl Default for AppendixA {
    fn default() -> Self {
        AppendixA {
            cwnd: CWND_INIT,
            ssthresh: None,
            acked_bytes_accumulator: 0,
            acked_bytes_this_packet: 0,
            pre_ack_outstanding: 0,
            any_loss: false,
            any_naks: false,
            any_acks: false,
        }
    }
}

impl CongestionController for AppendixA {
    fn name(&self) -> &'static str {
        "rfc7016-appendix-a"
    }

    fn cwnd(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> Option<usize> {
        self.ssthresh
    }

    /// "Before processing each received packet in this session".
    fn begin_packet(&mut self, outstanding: usize) {
        self.any_loss = false;
        self.any_naks = false;
        // (ANY_ACKS is listed among the variables but not reset in the text;
        // reset it too, so that it means "in the current packet" as defined.)
        self.any_acks = false;
        self.acked_bytes_this_packet = 0;
        self.pre_ack_outstanding = outstanding;
    }

    fn on_ack(&mut self, bytes: usize) {
        self.any_acks = true;
        self.acked_bytes_this_packet += bytes;
    }

    fn on_nak(&mut self) {
        self.any_naks = true;
    }

    fn on_loss(&mut self) {
        self.any_loss = true;
    }

    /// Figure 25.
    fn end_packet(&mut self, s: Signals) {
        if self.any_loss {
            self.ssthresh = Some(
                if s.tc_sent || (self.pre_ack_outstanding > 67200 && s.fastgrow_allowed) {
                    (self.pre_ack_outstanding * 7 / 8).max(CWND_INIT)
                } else {
                    (self.pre_ack_outstanding / 2).max(CWND_INIT)
                },
            );
            self.cwnd = self.ssthresh.expect("just set");
            self.acked_bytes_accumulator = 0;
        } else if self.any_acks && !self.any_naks && self.pre_ack_outstanding >= self.cwnd {
            let mut increase = 0;
            let below_ssthresh = self.ssthresh.is_none_or(|t| self.cwnd < t);
            if s.fastgrow_allowed {
                if below_ssthresh {
                    increase = self.acked_bytes_this_packet;
                } else {
                    self.acked_bytes_accumulator += self.acked_bytes_this_packet;
                    let aithresh = (self.cwnd / 16).clamp(64, 4800);
                    while self.acked_bytes_accumulator >= aithresh {
                        self.acked_bytes_accumulator -= aithresh;
                        increase += 48;
                    }
                }
            } else if below_ssthresh && s.tc_sent {
                increase = self.acked_bytes_this_packet.div_ceil(4);
            } else {
                let cap = if s.tc_sent { 2400 } else { 4800 };
                self.acked_bytes_accumulator += self.acked_bytes_this_packet;
                let aithresh = (self.cwnd / 16).clamp(64, cap);
                while self.acked_bytes_accumulator >= aithresh {
                    self.acked_bytes_accumulator -= aithresh;
                    increase += 24;
                }
            }
            self.cwnd = (self.cwnd + increase.min(SMSS)).max(CWND_INIT);
        }
    }

    /// Figure 24.
    fn on_timeout(&mut self, was_loss: bool) {
        self.ssthresh = Some(
            self.ssthresh
                .map_or(self.cwnd * 3 / 4, |t| t.max(self.cwnd * 3 / 4)),
        );
        self.acked_bytes_accumulator = 0;
        self.cwnd = if was_loss { CWND_TIMEDOUT } else { CWND_INIT };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(
        a: &mut AppendixA,
        outstanding: usize,
        acked: usize,
        loss: bool,
        nak: bool,
        s: Signals,
    ) {
        a.begin_packet(outstanding);
        if acked > 0 {
            a.on_ack(acked);
        }
        if nak {
            a.on_nak();
        }
        if loss {
            a.on_loss();
        }
        a.end_packet(s);
    }

    const FAST: Signals = Signals {
        fastgrow_allowed: true,
        tc_sent: false,
    };

    #[test]
    fn appendix_a_slow_start_grows_by_acked_bytes_up_to_smss() {
        let mut a = AppendixA::default();
        // cwnd-limited (outstanding >= cwnd), SSTHRESH infinite: +acked bytes.
        packet(&mut a, 4380, 1000, false, false, FAST);
        assert_eq!(a.cwnd, 5380);
        // An increase is capped at SMSS per packet.
        packet(&mut a, 5380, 5000, false, false, FAST);
        assert_eq!(a.cwnd, 5380 + 1460);
        // Not cwnd-limited: no increase.
        packet(&mut a, 100, 1000, false, false, FAST);
        assert_eq!(a.cwnd, 6840);
        // A NAK in the packet: no increase.
        packet(&mut a, 6840, 1000, false, true, FAST);
        assert_eq!(a.cwnd, 6840);
    }

    #[test]
    fn appendix_a_congestion_avoidance_48_per_aithresh() {
        let mut a = AppendixA {
            cwnd: 32_000,
            ssthresh: Some(16_000),
            ..Default::default()
        };
        // AITHRESH = min(max(32000/16, 64), 4800) = 2000; 5000 acked -> 2 x 48 = 96,
        // accumulator keeps 1000.
        packet(&mut a, 32_000, 5000, false, false, FAST);
        assert_eq!(a.cwnd, 32_096);
        assert_eq!(a.acked_bytes_accumulator, 1000);
    }

    #[test]
    fn appendix_a_loss_cuts_to_half_or_seven_eighths() {
        // PRE_ACK_OUTSTANDING 100000 > 67200 with FASTGROW: 7/8.
        let mut a = AppendixA {
            cwnd: 100_000,
            ..Default::default()
        };
        packet(&mut a, 100_000, 0, true, false, FAST);
        assert_eq!((a.cwnd, a.ssthresh), (87_500, Some(87_500)));
        // 60000 (not > 67200): 1/2.
        let mut b = AppendixA {
            cwnd: 60_000,
            ..Default::default()
        };
        packet(&mut b, 60_000, 0, true, false, FAST);
        assert_eq!(b.cwnd, 30_000);
        // TC_SENT: 7/8 even when small; floor at CWND_INIT.
        let mut c = AppendixA::default();
        let tc = Signals {
            fastgrow_allowed: false,
            tc_sent: true,
        };
        packet(&mut c, 4000, 0, true, false, tc);
        assert_eq!(c.cwnd, CWND_INIT);
        // Large but FASTGROW not allowed and no TC sent: 1/2.
        let mut d = AppendixA::default();
        let slow = Signals {
            fastgrow_allowed: false,
            tc_sent: false,
        };
        packet(&mut d, 100_000, 0, true, false, slow);
        assert_eq!(d.cwnd, 50_000);
    }

    #[test]
    fn appendix_a_slow_growth_branches() {
        // FASTGROW false, TC_SENT, below SSTHRESH: CEIL(acked / 4).
        let mut a = AppendixA::default();
        let tc = Signals {
            fastgrow_allowed: false,
            tc_sent: true,
        };
        packet(&mut a, 4380, 1001, false, false, tc);
        assert_eq!(a.cwnd, 4380 + 251);
        // FASTGROW false, no TC: AI with cap 4800, 24 bytes per AITHRESH;
        // §3.5.2.1: slow start disabled (no exponential growth).
        let mut b = AppendixA::default();
        let slow = Signals {
            fastgrow_allowed: false,
            tc_sent: false,
        };
        // AITHRESH = max(4380/16 = 273, 64) = 273; 1000 acked -> 3 x 24 = 72.
        packet(&mut b, 4380, 1000, false, false, slow);
        assert_eq!(b.cwnd, 4452);
    }

    #[test]
    fn appendix_a_timeout() {
        let mut a = AppendixA {
            cwnd: 40_000,
            ..Default::default()
        };
        a.on_timeout(true);
        assert_eq!((a.cwnd, a.ssthresh), (CWND_TIMEDOUT, Some(30_000)));
        a.cwnd = 8000;
        a.on_timeout(false);
        // SSTHRESH = MAX(30000, 6000)
        assert_eq!((a.cwnd, a.ssthresh), (CWND_INIT, Some(30_000)));
    }
}
