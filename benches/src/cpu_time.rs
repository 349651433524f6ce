//! A criterion measurement of the benchmarking thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) instead of wall-clock time.
//!
//! The crypto benches compare rtmfp with OpenSSL one after the other, on a machine
//! that other builds load: wall-clock time counts the moments the thread waited
//! for a core, which differ between the two halves of a pair and make the ratio
//! drift. The thread's CPU time counts only the work done, so the ratio holds.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// Nanoseconds of CPU time consumed by the calling thread.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Criterion measurement: the thread's CPU time, in nanoseconds.
pub struct ThreadCpuTime;

/// Values are nanoseconds, printed as wall-clock durations are.
static NANOSECONDS: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        NANOSECONDS.formatter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_work_not_sleep() {
        let m = ThreadCpuTime;
        let t = m.start();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let slept = m.end(t);
        let t = m.start();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let worked = m.end(t);
        assert!(slept < 10_000_000, "sleeping 50 ms cost {slept} ns of CPU");
        assert!(
            worked > 1_000_000,
            "20M multiply-adds cost only {worked} ns"
        );
    }
}
