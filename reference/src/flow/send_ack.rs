//! RFC 7016 §3.6.2.4-§3.6.2.6: what a sending flow does with an
//! acknowledgement (in time proportional to what it acknowledges), the
//! negative-acknowledgement pass, and the retransmission timeout.

use super::*;

impl SendFlow {
    /// §3.6.2.4: processes an acknowledgement: `acked` lists inclusive ranges
    /// (the cumulative range 0..=cumulativeAck first).
    pub fn on_ack(&mut self, now: Instant, acked: &[(u64, u64)], buffer_bytes: u64) -> AckOutcome {
        let pre = self.outstanding;
        self.startup_options.clear();
        self.rx_buffer_size = buffer_bytes;
        let mut max_tsn = 0;
        for &(from, to) in acked {
            // Only what is not acknowledged yet: tombstones are jumped over.
            let mut i = self.index_of(from);
            loop {
                i = self.next_unacked(i);
                let Some(e) = self.queue.get_mut(i) else {
                    break;
                };
                if e.seq > to {
                    break;
                }
                i += 1;
                // Only fragments that were sent can be acknowledged; an ack for a
                // sequence number never sent is the far end's error, ignored.
                if !e.ever_sent {
                    continue;
                }
                e.acked = true;
                e.skip = 1;
                self.live -= 1;
                self.unacked_bytes -= e.data.len();
                if e.in_flight {
                    e.in_flight = false;
                    self.outstanding -= e.transmit_size;
                    max_tsn = max_tsn.max(e.tsn);
                } else {
                    self.lost.remove(&e.seq);
                }
                if !e.abandoned {
                    self.stats.bytes_acked += e.data.len() as u64;
                }
            }
        }
        self.pop_acked();
        // §3.6.2.9.1: suspended while the window is zero and no exception.
        if self.rx_buffer_size == 0 && self.exception.is_none() {
            if self.probe_at.is_none() {
                self.probe_period = Duration::from_secs(1);
                // SHOULD send a probe within one second of the window closing.
                self.probe_at = Some(now + Duration::from_secs(1));
            }
        } else {
            self.probe_at = None;
        }
        let completed = self.state == SendState::F_CLOSING && self.live == 0;
        if completed {
            // §3.6.2.11: complete -> F_COMPLETE_LINGER.
            self.state = SendState::F_COMPLETE_LINGER;
            self.linger_since = Some(now);
            self.probe_at = None;
        }
        AckOutcome {
            acked_bytes: pre - self.outstanding,
            max_tsn,
            completed,
        }
    }

    /// §3.6.2.5: after all acknowledgements of a packet, counts a negative
    /// acknowledgement for every outstanding fragment sent before the highest
    /// acknowledged one; a third one declares it lost. Returns (naks, losses).
    pub fn nak_pass(&mut self, max_tsn_ack: u64) -> (u32, u32) {
        let (mut naks, mut losses) = (0, 0);
        self.pop_stale_flight();
        let mut k = 0;
        while let Some(&(tsn, seq)) = self.flight.get(k) {
            if tsn >= max_tsn_ack {
                break;
            }
            k += 1;
            let i = self.index_of(seq);
            let Some(e) = self.queue.get_mut(i) else {
                continue;
            };
            if e.seq != seq || !e.in_flight || e.tsn != tsn {
                continue; // stale
            }
            debug_assert!(!e.acked);
            e.nak_count += 1;
            naks += 1;
            if e.nak_count >= NAK_LOSS_THRESHOLD {
                e.in_flight = false;
                self.outstanding -= e.transmit_size;
                losses += 1;
                self.lost.insert(seq);
            }
        }
        self.pop_stale_flight();
        self.stats.fragments_lost += u64::from(losses);
        (naks, losses)
    }

    /// Drops `flight` entries from the front whose fragment is no longer in
    /// flight under that TSN.
    fn pop_stale_flight(&mut self) {
        while let Some(&(tsn, seq)) = self.flight.front() {
            let i = self.index_of(seq);
            if self
                .queue
                .get(i)
                .is_some_and(|e| e.seq == seq && e.in_flight && e.tsn == tsn)
            {
                break;
            }
            self.flight.pop_front();
        }
    }

    /// §3.6.2.6: the TIMEOUT_ALARM fired: nothing is in flight any more.
    /// Returns whether anything was (WAS_LOSS).
    pub fn on_timeout(&mut self) -> bool {
        let mut was = false;
        for (tsn, seq) in std::mem::take(&mut self.flight) {
            let i = self.index_of(seq);
            if let Some(e) = self.queue.get_mut(i)
                && e.seq == seq
                && e.in_flight
                && e.tsn == tsn
            {
                e.in_flight = false;
                self.lost.insert(seq);
                was = true;
            }
        }
        self.outstanding = 0;
        was
    }
}
