//! A congestion trace (time, CWND, SSTHRESH, bytes in flight, RTT, ERTO) and a
//! checker for the RFC 7016 §3.5.2 rules that a trace can show.

use std::time::Duration;

use serde::Serialize;

use super::appendix_a::{CWND_INIT, CWND_TIMEDOUT, SMSS};
use super::rtt::{ERTO_MAX, ERTO_MIN};
use crate::time::Instant;

/// What happened at a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceEvent {
    /// After processing a packet with acknowledgements.
    Ack,
    /// After processing a packet in which loss was detected.
    Loss,
    /// The TIMEOUT_ALARM fired (`was_loss` in `Sample::loss`).
    Timeout,
    /// A packet with user data was sent.
    Send,
    /// A new RTT measurement.
    Rtt,
}

/// One point of the trace.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub time: Instant,
    pub event: TraceEvent,
    pub cwnd: usize,
    /// `None` = infinite.
    pub ssthresh: Option<usize>,
    /// S_OUTSTANDING_BYTES after the event.
    pub in_flight: usize,
    /// PRE_ACK_OUTSTANDING for Ack/Loss samples.
    pub pre_ack_outstanding: usize,
    pub srtt: Option<Duration>,
    pub rtt: Option<Duration>,
    pub mrto: Duration,
    pub erto: Duration,
    /// For timeouts: whether there was data in flight (WAS_LOSS).
    pub loss: bool,
    /// Whether a TCR from the far end was seen within 800 ms (slow start clamped).
    pub tcr_recent: bool,
}

/// A bounded congestion trace.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Trace {
    pub samples: Vec<Sample>,
    /// Samples dropped after `limit`.
    pub dropped: u64,
    pub limit: usize,
}

impl Trace {
    pub fn new(limit: usize) -> Self {
        Trace {
            samples: Vec::new(),
            dropped: 0,
            limit,
        }
    }

    pub fn push(&mut self, s: Sample) {
        if self.samples.len() < self.limit {
            self.samples.push(s);
        } else {
            self.dropped += 1;
        }
    }
}

/// A rule a trace broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub rule: &'static str,
    pub sample: usize,
    pub detail: String,
}

/// Checks the §3.5.2 rules visible in a trace of the Appendix A algorithm.
pub fn check(samples: &[Sample]) -> Vec<Violation> {
    let mut v = Vec::new();
    let mut bad = |rule: &'static str, i: usize, detail: String| {
        v.push(Violation {
            rule,
            sample: i,
            detail,
        })
    };
    for (i, s) in samples.iter().enumerate() {
        // §3.5.2.2: ERTO SHOULD be at least 250 ms and is capped at 10 s by backoff
        // (it may exceed 10 s only through MRTO).
        if s.erto < ERTO_MIN {
            bad("§3.5.2.2 ERTO >= 250 ms", i, format!("ERTO {:?}", s.erto));
        }
        if s.erto > ERTO_MAX.max(s.mrto) {
            bad(
                "§3.5.2.2 ERTO backoff cap",
                i,
                format!("ERTO {:?} MRTO {:?}", s.erto, s.mrto),
            );
        }
        // §3.5.2.2: ERTO MUST NOT be less than the round-trip time.
        if let Some(rtt) = s.srtt
            && s.erto < rtt
        {
            bad(
                "§3.5.2.2 ERTO >= RTT",
                i,
                format!("ERTO {:?} SRTT {rtt:?}", s.erto),
            );
        }
        // The window never falls below the timeout window.
        if s.cwnd < CWND_TIMEDOUT {
            bad(
                "Appendix A CWND >= CWND_TIMEDOUT",
                i,
                format!("CWND {}", s.cwnd),
            );
        }
        let Some(prev) = i.checked_sub(1).map(|p| samples[p]) else {
            continue;
        };
        match s.event {
            TraceEvent::Ack => {
                // §3.5.2: no more aggressive than slow start: an increase of at most
                // SMSS per packet of acknowledgements, and only when cwnd-limited.
                // (Appendix A floors the window at CWND_INIT after the increase.)
                if s.cwnd > (prev.cwnd + SMSS).max(CWND_INIT) {
                    bad(
                        "§3.5.2 not faster than slow start",
                        i,
                        format!("{} -> {}", prev.cwnd, s.cwnd),
                    );
                }
                if s.cwnd > prev.cwnd.max(CWND_INIT) && s.pre_ack_outstanding < prev.cwnd {
                    bad(
                        "Appendix A grow only when cwnd-limited",
                        i,
                        format!("{} -> {}", prev.cwnd, s.cwnd),
                    );
                }
                // §3.5.2.1: with a recent TCR (and no TC sent), no exponential growth.
                if s.tcr_recent && s.cwnd > prev.cwnd + 48 {
                    bad(
                        "§3.5.2.1 SSTHRESH clamped after TCR",
                        i,
                        format!("{} -> {}", prev.cwnd, s.cwnd),
                    );
                }
            }
            TraceEvent::Loss => {
                // Multiplicative decrease: to at most 7/8 of what was outstanding.
                if s.cwnd > (s.pre_ack_outstanding * 7 / 8).max(CWND_INIT) {
                    bad(
                        "§3.5.2 decrease on loss",
                        i,
                        format!("{} after {} outstanding", s.cwnd, s.pre_ack_outstanding),
                    );
                }
            }
            TraceEvent::Timeout => {
                if s.loss && s.cwnd > CWND_TIMEDOUT {
                    bad(
                        "Appendix A CWND_TIMEDOUT after timeout with loss",
                        i,
                        format!("CWND {}", s.cwnd),
                    );
                }
                // ERTO backoff: grows by at most 1.4142 (or to MRTO), capped at 10 s.
                if s.loss
                    && s.erto
                        > prev
                            .erto
                            .mul_f64(1.4143)
                            .max(s.mrto)
                            .min(ERTO_MAX.max(s.mrto))
                {
                    bad(
                        "§3.5.2.2 ERTO backoff factor",
                        i,
                        format!("{:?} -> {:?}", prev.erto, s.erto),
                    );
                }
            }
            TraceEvent::Send => {
                // §3.5.2: transmission allowed only while S_OUTSTANDING_BYTES < CWND
                // before the packet (at most one packet beyond).
                if s.in_flight > s.cwnd + 2 * SMSS {
                    bad(
                        "§3.5.2 in flight within CWND",
                        i,
                        format!("{} in flight, CWND {}", s.in_flight, s.cwnd),
                    );
                }
            }
            TraceEvent::Rtt => {}
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::congestion::{AppendixA, CongestionController, Rtt, Signals};

    fn sample(
        a: &AppendixA,
        r: &Rtt,
        t: u64,
        event: TraceEvent,
        in_flight: usize,
        pre: usize,
    ) -> Sample {
        Sample {
            time: Instant::from_millis(t),
            event,
            cwnd: a.cwnd(),
            ssthresh: a.ssthresh(),
            in_flight,
            pre_ack_outstanding: pre,
            srtt: r.srtt,
            rtt: r.last,
            mrto: r.mrto,
            erto: r.erto,
            loss: false,
            tcr_recent: false,
        }
    }

    /// A synthetic ack clock over a bottleneck of `capacity` bytes per RTT with a
    /// drop-tail queue: Appendix A must oscillate around the capacity and the
    /// checker must find nothing wrong.
    #[test]
    fn appendix_a_over_a_bottleneck_obeys_3_5_2() {
        let mut a = AppendixA::default();
        let mut r = Rtt::default();
        let capacity = 150_000usize;
        let mut trace = Vec::new();
        let mut cwnds = Vec::new();
        for round in 0..400u64 {
            let t = round * 50;
            let sent = a.cwnd();
            trace.push(sample(&a, &r, t, TraceEvent::Send, sent, 0));
            r.sample(Duration::from_millis(50));
            a.begin_packet(sent);
            a.on_ack(sent.min(capacity));
            if sent > capacity {
                a.on_loss();
            }
            a.end_packet(Signals::default());
            let ev = if sent > capacity {
                TraceEvent::Loss
            } else {
                TraceEvent::Ack
            };
            trace.push(sample(&a, &r, t + 50, ev, 0, sent));
            cwnds.push(a.cwnd());
        }
        let late = &cwnds[200..];
        assert!(
            late.iter().all(|&c| c <= capacity + 2 * SMSS),
            "bounded: {late:?}"
        );
        assert!(late.iter().all(|&c| c >= capacity / 2), "not collapsing");
        assert_eq!(check(&trace), vec![]);
    }

    #[test]
    fn checker_catches_a_bad_trace() {
        let a = AppendixA::default();
        let r = Rtt::default();
        let mut s0 = sample(&a, &r, 0, TraceEvent::Ack, 0, 10_000);
        let mut s1 = s0;
        s1.cwnd = s0.cwnd + 10 * SMSS; // faster than slow start
        s1.erto = Duration::from_millis(100); // below 250 ms
        s0.time = Instant::ZERO;
        let v = check(&[s0, s1]);
        let rules: Vec<_> = v.iter().map(|x| x.rule).collect();
        assert!(rules.contains(&"§3.5.2 not faster than slow start"));
        assert!(rules.contains(&"§3.5.2.2 ERTO >= 250 ms"));
    }
}
