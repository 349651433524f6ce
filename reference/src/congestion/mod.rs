//! RFC 7016 §3.5.2 and Appendix A: congestion control.
//!
//! Calling protocol (what the session does, per Appendix A and §3.6.2.4-§3.6.2.6):
//!
//! 1. before processing each received packet: [`CongestionController::begin_packet`]
//!    with S_OUTSTANDING_BYTES;
//! 2. while processing its chunks: `on_ack(bytes)` for acknowledged data,
//!    `on_nak()` for negative acknowledgements, `on_loss()` for fragments declared
//!    lost;
//! 3. after processing the packet: `end_packet` with the time-critical signals;
//! 4. when the TIMEOUT_ALARM fires: `on_timeout(was_loss)`;
//! 5. before sending user data: `cwnd()` against S_OUTSTANDING_BYTES, and
//!    [`BurstAvoidance::allows`].

pub mod appendix_a;
pub mod reno;
pub mod rtt;
pub mod trace;

use std::fmt;
use std::time::Duration;

use crate::time::Instant;

pub use appendix_a::AppendixA;
pub use reno::Reno;
pub use rtt::{Rtt, Timestamps};

/// Appendix A's FASTGROW_ALLOWED and TC_SENT for the packet just processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    pub fastgrow_allowed: bool,
    pub tc_sent: bool,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            fastgrow_allowed: true,
            tc_sent: false,
        }
    }
}

/// A congestion control algorithm for one session's transmission budget.
pub trait CongestionController: fmt::Debug + Send {
    fn name(&self) -> &'static str;
    /// CWND in bytes: user data may be sent while S_OUTSTANDING_BYTES < CWND.
    fn cwnd(&self) -> usize;
    /// SSTHRESH; `None` is positive infinity.
    fn ssthresh(&self) -> Option<usize>;
    fn begin_packet(&mut self, outstanding: usize);
    fn on_ack(&mut self, bytes: usize);
    fn on_nak(&mut self);
    fn on_loss(&mut self);
    fn end_packet(&mut self, signals: Signals);
    fn on_timeout(&mut self, was_loss: bool);
}

/// §3.5.2.1: the window in which a Time Critical (Reverse) Notification counts.
pub const TIME_CRITICAL_WINDOW: Duration = Duration::from_millis(800);

/// §3.5.2.1 and Appendix A: when TC was last sent on this session (and on any
/// session of the endpoint), and when TCR was last received on this session.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeCriticalState {
    pub tcr_received: Option<Instant>,
    pub tc_sent: Option<Instant>,
}

fn recent(t: Option<Instant>, now: Instant) -> bool {
    t.is_some_and(|t| now - t < TIME_CRITICAL_WINDOW)
}

impl TimeCriticalState {
    /// Appendix A: FASTGROW_ALLOWED is false if TCR was received on this session
    /// within 800 ms, or TC was sent on ANY session within 800 ms.
    pub fn signals(&self, now: Instant, tc_sent_any_session: Option<Instant>) -> Signals {
        Signals {
            fastgrow_allowed: !recent(self.tcr_received, now) && !recent(tc_sent_any_session, now),
            tc_sent: recent(self.tc_sent, now),
        }
    }

    /// Whether this end should set TCR: it is receiving time-critical data on
    /// other sessions (decided by the endpoint).
    pub fn tc_sent_recently(&self, now: Instant) -> bool {
        recent(self.tc_sent, now)
    }
}

/// §3.5.2.3 burst avoidance: no more than six packets with user data between
/// acknowledgements or retransmission timeouts (DATA_PACKET_COUNT).
#[derive(Debug, Clone, Copy)]
pub struct BurstAvoidance {
    pub data_packet_count: u32,
    /// The most packets with user data between acknowledgements; None: no
    /// limit (the `burst_limit` liberty of `EndpointConfig`).
    pub limit: Option<u32>,
    /// The limit applies on paths whose SRTT is at least this, and while the
    /// SRTT is unknown (the `burst_min_srtt` liberty of `EndpointConfig`).
    pub min_srtt: Duration,
}

impl Default for BurstAvoidance {
    fn default() -> Self {
        BurstAvoidance::new(Some(MAX_BURST), Duration::ZERO)
    }
}

/// §3.5.2.3: SHOULD NOT send more than six packets containing user data between
/// receiving any acknowledgements or retransmission timeouts.
pub const MAX_BURST: u32 = 6;

/// The SRTT below which the RFC author's stack (rtmfp-cpp, `BURST_RTT_THRESH`)
/// lifts burst avoidance: on such a path a receiver that acknowledges once per
/// burst it reads would hold the transfer to six packets per round trip.
pub const BURST_MIN_SRTT: Duration = Duration::from_micros(4_500);

impl BurstAvoidance {
    pub fn new(limit: Option<u32>, min_srtt: Duration) -> Self {
        BurstAvoidance {
            data_packet_count: 0,
            limit,
            min_srtt,
        }
    }
    /// Whether one more packet with user data may go, on a path with `srtt`.
    pub fn allows(&self, srtt: Option<Duration>) -> bool {
        let applies = srtt.is_none_or(|s| s >= self.min_srtt);
        !applies || self.limit.is_none_or(|l| self.data_packet_count < l)
    }
    pub fn on_data_packet_sent(&mut self) {
        self.data_packet_count += 1;
    }
    pub fn on_ack(&mut self) {
        self.data_packet_count = 0;
    }
    pub fn on_timeout(&mut self) {
        self.data_packet_count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_5_2_3_burst_of_six() {
        let mut b = BurstAvoidance::default();
        for _ in 0..6 {
            assert!(b.allows(None));
            b.on_data_packet_sent();
        }
        assert!(!b.allows(None));
        b.on_ack();
        assert!(b.allows(None));
        for _ in 0..6 {
            b.on_data_packet_sent();
        }
        b.on_timeout();
        assert!(b.allows(None));
    }

    #[test]
    fn burst_min_srtt_liberty() {
        let mut b = BurstAvoidance::new(Some(MAX_BURST), BURST_MIN_SRTT);
        for _ in 0..6 {
            b.on_data_packet_sent();
        }
        // Unknown SRTT, or a path at or above the threshold: the limit holds.
        assert!(!b.allows(None));
        assert!(!b.allows(Some(BURST_MIN_SRTT)));
        assert!(!b.allows(Some(Duration::from_millis(20))));
        // Below it: lifted, as rtmfp-cpp does.
        assert!(b.allows(Some(Duration::from_millis(4))));
        assert!(b.allows(Some(Duration::ZERO)));
    }

    #[test]
    fn burst_limit_liberty() {
        let mut off = BurstAvoidance::new(None, Duration::ZERO);
        let mut two = BurstAvoidance::new(Some(2), Duration::ZERO);
        for _ in 0..100 {
            assert!(off.allows(None));
            off.on_data_packet_sent();
        }
        two.on_data_packet_sent();
        assert!(two.allows(None));
        two.on_data_packet_sent();
        assert!(!two.allows(Some(Duration::ZERO)));
    }

    #[test]
    fn s3_5_2_1_time_critical_window() {
        let mut t = TimeCriticalState::default();
        let now = Instant::from_millis(10_000);
        assert_eq!(t.signals(now, None), Signals::default());
        t.tcr_received = Some(Instant::from_millis(9_300));
        assert!(!t.signals(now, None).fastgrow_allowed);
        t.tcr_received = Some(Instant::from_millis(9_100));
        assert!(t.signals(now, None).fastgrow_allowed);
        assert!(
            !t.signals(now, Some(Instant::from_millis(9_900)))
                .fastgrow_allowed
        );
        t.tc_sent = Some(Instant::from_millis(9_500));
        assert!(t.signals(now, None).tc_sent);
    }
}
