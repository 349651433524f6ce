//! RFC 7016 §3.5.2.2: the Timestamp Echo facility, round-trip time measurement and
//! the retransmission timeouts MRTO and ERTO.

use std::time::Duration;

use crate::time::Instant;
use crate::wire::Header;

/// §3.5.2.2: "Initialize MRTO to 250 milliseconds."
pub const MRTO_INITIAL: Duration = Duration::from_millis(250);
/// §3.5.2.2: "Initialize ERTO to 3 seconds."
pub const ERTO_INITIAL: Duration = Duration::from_secs(3);
/// §3.5.2.2: the ERTO SHOULD be at least 250 milliseconds.
pub const ERTO_MIN: Duration = Duration::from_millis(250);
/// §3.5.2.2: the ultimate backoff cap of 10 seconds.
pub const ERTO_MAX: Duration = Duration::from_secs(10);
/// §3.5.2.2: MRTO = SRTT + 4 * RTTVAR + 200 ms (allows a 200 ms delayed ack).
pub const DELACK_ALLOWANCE: Duration = Duration::from_millis(200);
/// §3.5.2.2: an echo is not sent when TS_RX is more than 128 seconds old.
pub const ECHO_MAX_AGE: Duration = Duration::from_secs(128);
/// One tick of the 250 Hz timestamp clock.
pub const TICK: Duration = Duration::from_millis(4);

/// The Timestamp Echo state of a session (TS_RX, TS_RX_TIME, TS_ECHO_TX, TS_TX,
/// TS_ECHO_RX). On entering S_OPEN all have no value (§3.5.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timestamps {
    pub ts_rx: Option<u16>,
    pub ts_rx_time: Option<Instant>,
    pub ts_echo_tx: Option<u16>,
    pub ts_tx: Option<u16>,
    pub ts_echo_rx: Option<u16>,
    /// Ticks added to the local clock (its origin, §2.2.4: any time in the past).
    pub origin: u16,
}

impl Timestamps {
    /// On receipt of a packet: records a new far-end timestamp, and returns an RTT
    /// sample if the packet carries a new timestamp echo (§3.5.2.2 steps 1-4).
    pub fn on_receive(&mut self, now: Instant, h: &Header) -> Option<Duration> {
        if let Some(ts) = h.timestamp
            && self.ts_rx != Some(ts)
        {
            self.ts_rx = Some(ts);
            self.ts_rx_time = Some(now);
        }
        let echo = h.timestamp_echo?;
        if self.ts_echo_rx == Some(echo) {
            return None;
        }
        self.ts_echo_rx = Some(echo);
        let ticks = now
            .timestamp_250hz()
            .wrapping_add(self.origin)
            .wrapping_sub(echo);
        // §3.5.2.2 step 3: more than 32767 ticks is an invalid measurement.
        if ticks > 32767 {
            return None;
        }
        Some(TICK * u32::from(ticks))
    }

    /// On sending a packet: sets the timestamp if the clock ticked since the last
    /// one sent, and the echo if it changed (§3.5.2.2).
    pub fn on_send(&mut self, now: Instant, h: &mut Header) {
        let ts = now.timestamp_250hz().wrapping_add(self.origin);
        if self.ts_tx != Some(ts) {
            self.ts_tx = Some(ts);
            h.timestamp = Some(ts);
        }
        let (Some(rx), Some(at)) = (self.ts_rx, self.ts_rx_time) else {
            return;
        };
        let elapsed = now - at;
        if elapsed > ECHO_MAX_AGE {
            self.ts_rx = None;
            self.ts_echo_tx = None;
            return;
        }
        let ticks = (elapsed.as_micros() / TICK.as_micros()) as u64;
        let echo = rx.wrapping_add(ticks as u16);
        if self.ts_echo_tx != Some(echo) {
            self.ts_echo_tx = Some(echo);
            h.timestamp_echo = Some(echo);
        }
    }
}

/// SRTT, RTTVAR, MRTO and ERTO (§3.5.2.2's method).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtt {
    pub srtt: Option<Duration>,
    pub rttvar: Duration,
    pub mrto: Duration,
    pub erto: Duration,
    pub last: Option<Duration>,
}

impl Default for Rtt {
    fn default() -> Self {
        Rtt {
            srtt: None,
            rttvar: Duration::ZERO,
            mrto: MRTO_INITIAL,
            erto: ERTO_INITIAL,
            last: None,
        }
    }
}

impl Rtt {
    /// §3.5.2.2 steps 5-8.
    pub fn sample(&mut self, rtt: Duration) {
        self.last = Some(rtt);
        match self.srtt {
            Some(srtt) => {
                let delta = srtt.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + delta) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
        }
        self.mrto = self.srtt.unwrap_or_default() + self.rttvar * 4 + DELACK_ALLOWANCE;
        self.erto = self.mrto.max(ERTO_MIN);
    }

    /// §3.5.2.2: on a retransmission timeout, ERTO = max(min(ERTO * 1.4142, 10 s), MRTO).
    pub fn backoff(&mut self) {
        // The RFC's own constant, not SQRT_2.
        #[allow(clippy::approx_constant)]
        let backed = self.erto.mul_f64(1.4142);
        self.erto = backed.min(ERTO_MAX).max(self.mrto);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Mode;

    #[test]
    fn s3_5_2_2_first_sample_then_smoothing() {
        let mut r = Rtt::default();
        assert_eq!((r.mrto, r.erto), (MRTO_INITIAL, ERTO_INITIAL));
        // First sample 100 ms: SRTT 100, RTTVAR 50, MRTO = 100 + 200 + 200 = 500.
        r.sample(Duration::from_millis(100));
        assert_eq!(r.srtt, Some(Duration::from_millis(100)));
        assert_eq!(r.rttvar, Duration::from_millis(50));
        assert_eq!(r.mrto, Duration::from_millis(500));
        assert_eq!(r.erto, Duration::from_millis(500));
        // Second sample 20 ms: delta 80, RTTVAR = (150 + 80) / 4 = 57.5,
        // SRTT = (700 + 20) / 8 = 90, MRTO = 90 + 230 + 200 = 520.
        r.sample(Duration::from_millis(20));
        assert_eq!(r.rttvar, Duration::from_micros(57_500));
        assert_eq!(r.srtt, Some(Duration::from_millis(90)));
        assert_eq!(r.mrto, Duration::from_millis(520));
    }

    #[test]
    fn s3_5_2_2_erto_at_least_250ms_and_backoff_capped() {
        let mut r = Rtt::default();
        for _ in 0..20 {
            r.sample(Duration::ZERO);
        }
        // MRTO tends to 200 ms; ERTO stays at 250 ms.
        assert!(r.mrto < ERTO_MIN);
        assert_eq!(r.erto, ERTO_MIN);
        for _ in 0..30 {
            r.backoff();
        }
        assert_eq!(r.erto, ERTO_MAX);
        let mut r = Rtt::default();
        r.sample(Duration::from_millis(100));
        r.backoff();
        // 500 * 1.4142 = 707.1 ms
        assert_eq!(r.erto.as_micros(), 707_100);
    }

    #[test]
    fn s3_5_2_2_timestamp_echo() {
        let mut t = Timestamps::default();
        let mut h = Header::new(Mode::Initiator);
        // No far timestamp yet: a timestamp but no echo.
        t.on_send(Instant::from_millis(1000), &mut h);
        assert_eq!((h.timestamp, h.timestamp_echo), (Some(250), None));
        // Same tick: no timestamp again.
        let mut h2 = Header::new(Mode::Initiator);
        t.on_send(Instant::from_millis(1002), &mut h2);
        assert_eq!(h2.timestamp, None);
        // The far end's timestamp 65530 arrives at 2000 ms; 40 ms later the echo
        // is 65530 + 10 ticks, modulo 65536 = 4.
        let mut far = Header::new(Mode::Responder);
        far.timestamp = Some(65530);
        assert_eq!(t.on_receive(Instant::from_millis(2000), &far), None);
        let mut h3 = Header::new(Mode::Initiator);
        t.on_send(Instant::from_millis(2040), &mut h3);
        assert_eq!(h3.timestamp_echo, Some(4));
        // Unchanged echo is not repeated.
        let mut h4 = Header::new(Mode::Initiator);
        t.on_send(Instant::from_millis(2041), &mut h4);
        assert_eq!(h4.timestamp_echo, None);
        // After 128 s without a new timestamp: no echo, state cleared.
        let mut h5 = Header::new(Mode::Initiator);
        t.on_send(Instant::from_millis(2000 + 128_001), &mut h5);
        assert_eq!(h5.timestamp_echo, None);
        assert_eq!(t.ts_rx, None);
    }

    #[test]
    fn s3_5_2_2_rtt_from_echo_with_wrap() {
        let mut t = Timestamps::default();
        // Our clock reads 3 ticks at 12 ms; an echo of 65534 means 5 ticks ago.
        let mut far = Header::new(Mode::Responder);
        far.timestamp_echo = Some(65534);
        assert_eq!(
            t.on_receive(Instant::from_millis(12), &far),
            Some(Duration::from_millis(20))
        );
        // The same echo again: no new sample.
        assert_eq!(t.on_receive(Instant::from_millis(16), &far), None);
        // An echo "from the future" (more than 32767 ticks back): invalid.
        far.timestamp_echo = Some(100);
        assert_eq!(t.on_receive(Instant::from_millis(16), &far), None);
    }
}
