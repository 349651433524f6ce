//! Time as the sans-IO core sees it: a monotonic instant given by the caller
//! (the tokio runtime reads a clock; the simulator advances a virtual one).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Microseconds since an arbitrary origin chosen by whoever drives the engine.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Instant(pub u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub fn from_micros(us: u64) -> Self {
        Instant(us)
    }

    pub fn from_millis(ms: u64) -> Self {
        Instant(ms.saturating_mul(1000))
    }

    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Time since `earlier`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        self.0.checked_sub(d.as_micros() as u64).map(Instant)
    }

    /// RFC 7016 §2.2.4: the low 16 bits of a 250 Hz (4 ms per tick) clock.
    pub fn timestamp_250hz(self) -> u16 {
        (self.0 / 4000) as u16
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Rounds up to the next microsecond, so that at `t + d` at least `d` has
    /// elapsed since `t` (a deadline computed this way is never missed).
    fn add(self, d: Duration) -> Instant {
        let us = d.as_nanos().div_ceil(1000).min(u128::from(u64::MAX)) as u64;
        Instant(self.0.saturating_add(us))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_timestamp() {
        let t = Instant::from_millis(1000);
        assert_eq!(t + Duration::from_millis(5), Instant(1_005_000));
        assert_eq!(Instant(0) - t, Duration::ZERO);
        assert_eq!(t.timestamp_250hz(), 250);
        // wraps at 2^16 ticks = 262.144 s
        assert_eq!(Instant::from_millis(262_144).timestamp_250hz(), 0);
        assert_eq!(t.to_string(), "1.000000s");
        // Sub-microsecond durations round up: the deadline is never early.
        let d = Duration::from_nanos(1_500);
        assert_eq!(t + d, Instant(1_000_002));
        assert!((t + d) - t >= d);
    }
}
