//! RFC 7016 §3.6.3: the receiving side of a flow.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::rangeset::RangeSet;
use crate::time::Instant;
use crate::wire::{BitmapAck, Chunk, FlowExceptionReport, Fragmentation, RangeAck, UserData, vlu};

/// §3.6.3 receiving flow states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum RecvState {
    RF_OPEN,
    RF_REJECTED,
    RF_COMPLETE_LINGER,
    RF_CLOSED,
}

/// §3.6.3.8: a receiving flow SHOULD remain in RF_COMPLETE_LINGER for 120 s.
pub const RECV_LINGER: Duration = Duration::from_secs(120);

/// Limits against a hostile sender: distinct gaps tracked, and buffered bytes
/// beyond the advertised capacity.
pub const MAX_RANGES: usize = 4096;
pub const OVERCOMMIT: usize = 64 * 1024;

/// What receiving a fragment asks of the session and the user.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DataOutcome {
    /// Set session.ACK_NOW (§3.6.3.2).
    pub ack_now: bool,
    /// Complete messages to deliver, in order.
    pub messages: Vec<Vec<u8>>,
    /// Sequence numbers skipped over without delivery (abandoned by the sender
    /// or incomplete): §3.6.1.2 "A gap indication MUST be communicated to the
    /// receiving user".
    pub gaps: u64,
    /// The flow is complete and everything was delivered.
    pub complete: bool,
    /// The fragment was not stored because of a resource limit.
    pub dropped: Option<crate::stats::DropReason>,
}

/// Counters of a receiving flow.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecvStats {
    pub fragments: u64,
    pub duplicates: u64,
    pub messages: u64,
    pub bytes: u64,
    pub gaps: u64,
    pub acks_sent: u64,
}

/// A receiving flow.
#[derive(Debug)]
pub struct RecvFlow {
    pub id: u64,
    pub state: RecvState,
    pub metadata: Option<Vec<u8>>,
    pub association: Option<u64>,
    /// SEQUENCE_SET
    seq: RangeSet,
    /// RF_FINAL_SN
    pub final_sn: Option<u64>,
    /// RECV_BUFFER: seq -> (FRA, DATA)
    buffer: BTreeMap<u64, (Fragmentation, Vec<u8>)>,
    /// BUFFERED_SIZE
    buffered: usize,
    /// BUFFER_CAPACITY
    pub capacity: usize,
    /// PREV_RWND
    prev_rwnd: Option<u64>,
    /// SHOULD_ACK
    pub should_ack: bool,
    /// EXCEPTION_CODE
    pub exception_code: u64,
    /// Deliver in network arrival order rather than in sequence.
    pub unordered: bool,
    /// Delivery suspended by the user.
    pub suspended: bool,
    linger_since: Option<Instant>,
    completion_reported: bool,
    pub stats: RecvStats,
    /// Deliberate violations (conformance self-test only).
    #[cfg(feature = "test-hooks")]
    pub faults: crate::faults::Faults,
}

impl RecvFlow {
    pub fn new(id: u64, capacity: usize) -> Self {
        RecvFlow {
            id,
            state: RecvState::RF_OPEN,
            metadata: None,
            association: None,
            seq: RangeSet::new(),
            final_sn: None,
            buffer: BTreeMap::new(),
            buffered: 0,
            capacity,
            prev_rwnd: None,
            should_ack: false,
            exception_code: 0,
            unordered: false,
            suspended: false,
            linger_since: None,
            completion_reported: false,
            stats: RecvStats::default(),
            #[cfg(feature = "test-hooks")]
            faults: Default::default(),
        }
    }

    /// The CSN (§3.6.3.3): end of the contiguous range from 0.
    pub fn csn(&self) -> Option<u64> {
        self.seq.contiguous_from_zero()
    }

    pub fn sequence_set(&self) -> &RangeSet {
        &self.seq
    }

    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// §3.6.3.7: rejects an RF_OPEN flow (code 0 when automatic).
    pub fn reject(&mut self, code: u64) -> bool {
        if self.state != RecvState::RF_OPEN {
            return false;
        }
        self.state = RecvState::RF_REJECTED;
        self.buffer.clear();
        self.buffered = 0;
        self.exception_code = code;
        self.should_ack = true;
        true
    }

    /// §3.6.3.2 steps 3-16 for one (expanded) User Data chunk.
    pub fn on_data(&mut self, now: Instant, c: &UserData) -> DataOutcome {
        let mut out = DataOutcome::default();
        let sn = c.sequence_number;
        let fsn = c.forward_sequence_number();
        // Bound the state a hostile sender can make us keep.
        let new_ranges = usize::from(self.seq.would_add_range(sn, sn))
            + usize::from(fsn > 0 && self.seq.would_add_range(0, fsn));
        if self.seq.len() + new_ranges > MAX_RANGES {
            out.dropped = Some(crate::stats::DropReason::SequenceSetTooFragmented);
            out.ack_now = true;
            return out;
        }
        let storing =
            self.state == RecvState::RF_OPEN && !self.seq.contains(sn) && !c.flags.abandon;
        if storing && self.buffered + c.user_data.len() > self.capacity + OVERCOMMIT {
            out.dropped = Some(crate::stats::DropReason::ReceiveBufferOverrun);
            out.ack_now = true;
            return out;
        }
        self.stats.fragments += 1;
        // 3.
        self.should_ack = true;
        // 5.
        if self.state != RecvState::RF_OPEN {
            out.ack_now = true;
        }
        // 6.
        if self.prev_rwnd.is_some_and(|w| w < 2) {
            out.ack_now = true;
        }
        // 7.
        if c.flags.abandon {
            out.ack_now = true;
        }
        // 8. a gap before processing
        if self.seq.has_gaps()
            || (!self.seq.is_empty() && self.seq.contiguous_from_zero().is_none())
        {
            out.ack_now = true;
        }
        // 9. duplicate
        let duplicate = self.seq.contains(sn);
        if duplicate {
            out.ack_now = true;
            self.stats.duplicates += 1;
        }
        // 10. first sight of the final sequence number
        if !duplicate && c.flags.fin && self.final_sn.is_none() {
            self.final_sn = Some(sn);
            out.ack_now = true;
        }
        // 11.
        if storing {
            self.buffered += c.user_data.len();
            self.buffer
                .insert(sn, (c.flags.fragment_control, c.user_data.clone()));
        }
        // 12. and 13. (0 is not a sequence number but the RFC counts it in the set)
        if !fault!(self, ignore_fsn) {
            self.seq.insert(0, fsn);
        }
        self.seq.insert(sn, sn);
        // 14.
        if self.seq.has_gaps() {
            out.ack_now = true;
        }
        // §3.6.3.4.1: ack now if the buffer is nearly full.
        if self.capacity < self.buffered + 1024 {
            out.ack_now = true;
        }
        // 16.
        self.deliver(&mut out);
        self.check_complete(now, &mut out);
        out
    }

    /// §3.6.3.3 delivery: complete messages up to the CSN in order, discarding
    /// abandoned segments (or, unordered, any complete message at once).
    fn deliver(&mut self, out: &mut DataOutcome) {
        if self.suspended || self.state != RecvState::RF_OPEN {
            return;
        }
        let csn = self.csn().unwrap_or(0);
        if self.unordered {
            self.deliver_unordered(out, csn);
            return;
        }
        while let Some((&first, _)) = self.buffer.first_key_value() {
            if first > csn {
                break;
            }
            let fra = self.buffer[&first].0;
            match fra {
                Fragmentation::Whole => {
                    let (_, data) = self.buffer.remove(&first).expect("present");
                    self.take(out, data);
                }
                Fragmentation::End | Fragmentation::Middle => {
                    // Part of an abandoned segment.
                    let (_, data) = self.buffer.remove(&first).expect("present");
                    self.buffered -= data.len();
                    out.gaps += 1;
                    self.stats.gaps += 1;
                }
                Fragmentation::Begin => {
                    // Find the end of this segment: contiguous entries after Begin.
                    let mut last = first;
                    let mut complete = false;
                    for (&s, (f, _)) in self.buffer.range(first + 1..) {
                        if s != last + 1 || *f == Fragmentation::Begin || *f == Fragmentation::Whole
                        {
                            break;
                        }
                        last = s;
                        if *f == Fragmentation::End {
                            complete = true;
                            break;
                        }
                    }
                    if complete {
                        let mut msg = Vec::new();
                        for s in first..=last {
                            let (_, d) = self.buffer.remove(&s).expect("contiguous");
                            self.buffered -= d.len();
                            msg.extend_from_slice(&d);
                        }
                        self.buffered += msg.len();
                        self.take(out, msg);
                    } else if last < csn {
                        // Incomplete and abandoned.
                        for s in first..=last {
                            if let Some((_, d)) = self.buffer.remove(&s) {
                                self.buffered -= d.len();
                            }
                        }
                        out.gaps += 1;
                        self.stats.gaps += 1;
                    } else {
                        break;
                    }
                }
            }
        }
    }

    fn deliver_unordered(&mut self, out: &mut DataOutcome, csn: u64) {
        // Any complete message (Whole, or Begin..End contiguous) is delivered now;
        // segments that can no longer complete (before the CSN) are discarded.
        let keys: Vec<u64> = self.buffer.keys().copied().collect();
        let mut i = 0;
        while i < keys.len() {
            let s = keys[i];
            let Some(&(f, _)) = self.buffer.get(&s) else {
                i += 1;
                continue;
            };
            match f {
                Fragmentation::Whole => {
                    let (_, d) = self.buffer.remove(&s).expect("present");
                    self.take(out, d);
                }
                Fragmentation::Begin => {
                    let mut last = s;
                    let mut complete = false;
                    while let Some((f2, _)) = self.buffer.get(&(last + 1)) {
                        last += 1;
                        if *f2 == Fragmentation::End {
                            complete = true;
                            break;
                        }
                        if *f2 != Fragmentation::Middle {
                            break;
                        }
                    }
                    if complete {
                        let mut msg = Vec::new();
                        for k in s..=last {
                            let (_, d) = self.buffer.remove(&k).expect("contiguous");
                            self.buffered -= d.len();
                            msg.extend_from_slice(&d);
                        }
                        self.buffered += msg.len();
                        self.take(out, msg);
                    } else if last < csn {
                        for k in s..=last {
                            if let Some((_, d)) = self.buffer.remove(&k) {
                                self.buffered -= d.len();
                            }
                        }
                        out.gaps += 1;
                    }
                }
                _ if s <= csn => {
                    let (_, d) = self.buffer.remove(&s).expect("present");
                    self.buffered -= d.len();
                    out.gaps += 1;
                }
                _ => {}
            }
            i += 1;
        }
    }

    fn take(&mut self, out: &mut DataOutcome, data: Vec<u8>) {
        self.buffered -= data.len();
        self.stats.messages += 1;
        self.stats.bytes += data.len() as u64;
        out.messages.push(data);
    }

    /// §3.6.3.8: complete when every sequence number through RF_FINAL_SN is seen.
    fn check_complete(&mut self, now: Instant, out: &mut DataOutcome) {
        let Some(f) = self.final_sn else { return };
        if !matches!(self.state, RecvState::RF_OPEN | RecvState::RF_REJECTED) {
            return;
        }
        if self.seq.covers(0, f) {
            self.state = RecvState::RF_COMPLETE_LINGER;
            self.linger_since = Some(now);
            self.should_ack = true;
            out.ack_now = true;
        }
        // §3.6.3.3: the user learns the flow is complete when the final SN is the
        // CSN and the buffer is empty.
        if !self.completion_reported && self.csn() == Some(f) && self.buffer.is_empty() {
            self.completion_reported = true;
            out.complete = true;
        }
    }

    /// Resumes delivery after the user suspended it; returns what became deliverable.
    pub fn resume(&mut self) -> DataOutcome {
        self.suspended = false;
        let mut out = DataOutcome::default();
        self.deliver(&mut out);
        out
    }

    /// §3.6.3.5: bufferBlocksAvailable.
    pub fn advertised_blocks(&self) -> u64 {
        let bytes = self.capacity.saturating_sub(self.buffered) as u64;
        let mut blocks = bytes.div_ceil(1024);
        // MUST advertise at least one block if not suspended, unless capacity is 0.
        if blocks == 0 && self.capacity > 0 && !self.suspended && self.state == RecvState::RF_OPEN {
            blocks = 1;
        }
        if self.state != RecvState::RF_OPEN {
            // A rejected or completed flow takes no more data.
            blocks = blocks.max(u64::from(self.state == RecvState::RF_COMPLETE_LINGER));
        }
        blocks
    }

    /// §3.6.3.4.3: the acknowledgement (preceded by a Flow Exception Report when
    /// rejected) in the more compact of the two encodings, truncated to `room`
    /// bytes if `may_truncate`. Returns the chunks and their encoded size, or
    /// `None` if they do not fit.
    pub fn build_ack(&mut self, room: usize, may_truncate: bool) -> Option<(Vec<Chunk>, usize)> {
        let mut chunks = Vec::new();
        let mut size = 0;
        if self.state == RecvState::RF_REJECTED && !fault!(self, no_exception_on_reject) {
            let e = Chunk::FlowExceptionReport(FlowExceptionReport {
                flow_id: self.id,
                exception: self.exception_code,
            });
            size += e.encoded_len();
            chunks.push(e);
        }
        let blocks = self.advertised_blocks();
        let mut cum = self.csn().unwrap_or(0);
        if fault!(self, ack_unsent) && !self.seq.is_empty() {
            cum = cum.saturating_add(1);
        }
        // The far end chooses sequence numbers (and the FSN) up to 2^64 - 1: the
        // cumulative ack may be the largest number, with nothing above it.
        // Every range takes at least two bytes: more than room / 2 of them can
        // never fit in a Range Ack, and a Bitmap Ack spans at most 2048
        // sequence numbers; so the ack costs O(room), not O(holes) (a hostile
        // sender can make up to MAX_RANGES holes).
        let (limit, span_top) = (room / 2 + 1, cum.saturating_add(8 * 256 + 1));
        let ranges: Vec<(u64, u64)> = self
            .seq
            .iter()
            .filter(|&(s, _)| cum.checked_add(1).is_some_and(|next| s > next))
            .enumerate()
            .take_while(|&(i, (s, _))| i < limit || s <= span_top)
            .map(|(_, r)| r)
            .collect();
        let range_ack = RangeAck::from_ranges(self.id, blocks, cum, &ranges);
        let bitmap = bitmap_for(self.id, blocks, cum, &ranges);
        let mut ack = match bitmap {
            Some(b)
                if Chunk::BitmapAck(b.clone()).encoded_len()
                    < Chunk::RangeAck(range_ack.clone()).encoded_len() =>
            {
                Chunk::BitmapAck(b)
            }
            _ => Chunk::RangeAck(range_ack),
        };
        // §3.6.3.4.2: truncate (dropping the highest ranges) to fit, if allowed.
        // (The chunk's length is kept up to date as ranges go: one pass.)
        let mut len = ack.encoded_len();
        while size + len > room {
            if !may_truncate {
                return None;
            }
            let dropped = match &mut ack {
                Chunk::RangeAck(r) => r.ranges.pop().map(|a| {
                    vlu::encoded_len(a.holes_minus_one) + vlu::encoded_len(a.received_minus_one)
                }),
                Chunk::BitmapAck(b) => b.bitmap.pop().map(|_| 1),
                _ => None,
            };
            len -= dropped?;
        }
        debug_assert_eq!(len, ack.encoded_len());
        size += len;
        chunks.push(ack);
        self.should_ack = false;
        self.prev_rwnd = Some(blocks);
        self.stats.acks_sent += 1;
        Some((chunks, size))
    }

    /// RF_COMPLETE_LINGER -> RF_CLOSED after 120 s.
    pub fn linger(&mut self, now: Instant) -> bool {
        if self.state == RecvState::RF_COMPLETE_LINGER
            && self.linger_since.is_some_and(|t| now - t >= RECV_LINGER)
        {
            self.state = RecvState::RF_CLOSED;
        }
        self.state == RecvState::RF_CLOSED
    }

    pub fn linger_until(&self) -> Option<Instant> {
        self.linger_since.map(|t| t + RECV_LINGER)
    }
}

/// A Bitmap Ack for the ranges above `cum`, if it is reasonably small.
fn bitmap_for(flow: u64, blocks: u64, cum: u64, ranges: &[(u64, u64)]) -> Option<BitmapAck> {
    let top = ranges.last().map_or(cum, |r| r.1);
    let span = top.checked_sub(cum)?;
    if span > 8 * 256 {
        return None;
    }
    let nbits = span.saturating_sub(1);
    let mut bitmap = vec![0u8; nbits.div_ceil(8) as usize];
    for &(s, e) in ranges {
        for v in s..=e {
            // bit i of byte k stands for cum + 2 + 8k + i
            let off = v - cum - 2;
            bitmap[(off / 8) as usize] |= 1 << (off % 8);
        }
    }
    Some(BitmapAck {
        flow_id: flow,
        buffer_blocks_available: blocks,
        cumulative_ack: cum,
        bitmap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::UserDataFlags;

    fn ud(seq: u64, fsn: u64, fra: Fragmentation, data: &[u8]) -> UserData {
        UserData {
            flags: UserDataFlags {
                fragment_control: fra,
                ..Default::default()
            },
            flow_id: 3,
            sequence_number: seq,
            fsn_offset: seq - fsn,
            options: None,
            user_data: data.to_vec(),
        }
    }

    const T: Instant = Instant::ZERO;

    #[test]
    fn s3_6_3_3_in_order_reassembly_and_gap_skip() {
        let mut f = RecvFlow::new(3, 1 << 20);
        let o = f.on_data(T, &ud(2, 0, Fragmentation::End, b"world"));
        assert!(o.messages.is_empty() && o.ack_now, "gap: ack now");
        let o = f.on_data(T, &ud(1, 0, Fragmentation::Begin, b"hello "));
        assert_eq!(o.messages, [b"hello world".to_vec()]);
        assert_eq!(f.buffered(), 0);
        // 3 lost for good: the sender moves the FSN past it; 4 (an End) is part
        // of an abandoned segment and is discarded with a gap indication.
        f.on_data(T, &ud(4, 2, Fragmentation::End, b"x"));
        let o = f.on_data(T, &ud(5, 4, Fragmentation::Whole, b"next"));
        assert_eq!(o.messages, [b"next".to_vec()]);
        assert!(o.gaps >= 1);
    }

    // Found by `rtmfp-conformance fuzz` against `rtmfp serve` (flash): a User Data
    // chunk whose forward sequence number moves the cumulative ack to 2^64 - 1
    // made the ack builder overflow (`cum + 1`) and the server panic.
    #[test]
    fn ack_at_the_largest_sequence_number_does_not_overflow() {
        let mut f = RecvFlow::new(3, 1 << 20);
        f.on_data(T, &ud(1, 0, Fragmentation::Whole, b"a"));
        let mut top = ud(u64::MAX, u64::MAX - 1, Fragmentation::Whole, b"z");
        top.fsn_offset = 1;
        f.on_data(T, &top);
        f.should_ack = true;
        let (chunks, _) = f.build_ack(1000, true).expect("an ack");
        let cum = match &chunks[0] {
            Chunk::BitmapAck(b) => b.cumulative_ack,
            Chunk::RangeAck(r) => r.cumulative_ack,
            c => panic!("{c:?}"),
        };
        assert_eq!(cum, u64::MAX);
    }

    #[test]
    fn s3_6_3_4_ack_encodes_sequence_set_compactly() {
        let mut f = RecvFlow::new(5, 127 * 1024);
        // Figure 4's set: 0-16, 18, 21-24, 27, 28.
        for s in (1..=16).chain([18, 21, 22, 23, 24, 27, 28]) {
            f.on_data(T, &ud(s, 0, Fragmentation::Whole, b""));
        }
        let (chunks, _) = f.build_ack(1000, true).unwrap();
        // A bitmap (2 bytes of bits) beats the ranges here.
        let Chunk::BitmapAck(b) = &chunks[0] else {
            panic!("{chunks:?}")
        };
        assert_eq!(b.cumulative_ack, 16);
        assert_eq!(b.bitmap, [0x79, 0x06]);
        assert_eq!(b.ranges(), [(18, 18), (21, 24), (27, 28)]);
        assert!(!f.should_ack);
        // Truncation drops the highest information only.
        f.should_ack = true;
        let (t, size) = f.build_ack(7, true).unwrap();
        assert!(size <= 7);
        let acked = match &t[0] {
            Chunk::BitmapAck(b) => b.ranges(),
            Chunk::RangeAck(r) => r.ranges(),
            c => panic!("{c:?}"),
        };
        assert!(acked.iter().all(|&(s, e)| s >= 18 && e <= 28));
        assert!(f.build_ack(3, true).is_none());
    }

    #[test]
    fn s3_6_3_7_reject_sends_exception_before_ack() {
        let mut f = RecvFlow::new(5, 1 << 16);
        f.on_data(T, &ud(1, 0, Fragmentation::Whole, b"a"));
        assert!(f.reject(7));
        let (chunks, _) = f.build_ack(1000, true).unwrap();
        assert_eq!(
            chunks[0],
            Chunk::FlowExceptionReport(FlowExceptionReport {
                flow_id: 5,
                exception: 7
            })
        );
        assert!(matches!(
            chunks[1],
            Chunk::BitmapAck(_) | Chunk::RangeAck(_)
        ));
        // Data after rejection is acknowledged but not delivered.
        let o = f.on_data(T, &ud(2, 0, Fragmentation::Whole, b"b"));
        assert!(o.messages.is_empty() && o.ack_now);
    }

    #[test]
    fn s3_6_3_4_2_truncated_ack_with_many_holes_keeps_the_lowest_ranges() {
        let mut f = RecvFlow::new(5, 16 << 20);
        // 1 and then every third sequence number: 3000 holes, far beyond what
        // a Bitmap Ack spans.
        for s in std::iter::once(1).chain((1..=3000).map(|k| 1 + 3 * k)) {
            f.on_data(T, &ud(s, 0, Fragmentation::Whole, b"x"));
        }
        assert!(f.sequence_set().len() > 3000);
        let (chunks, size) = f.build_ack(1100, true).unwrap();
        let Chunk::RangeAck(r) = &chunks[0] else {
            panic!("{chunks:?}")
        };
        assert_eq!(size, chunks[0].encoded_len());
        assert!(size <= 1100);
        assert_eq!(r.cumulative_ack, 1);
        let got = r.ranges();
        // The lowest ranges, in order, as many as fit: one more would not.
        let want: Vec<(u64, u64)> = (1..=got.len() as u64)
            .map(|k| (1 + 3 * k, 1 + 3 * k))
            .collect();
        assert_eq!(got, want);
        assert!(size + 2 > 1100, "one more range (2 bytes) would not fit");
        // Not allowed to truncate: no ack.
        f.should_ack = true;
        assert!(f.build_ack(1100, false).is_none());
    }

    #[test]
    fn s3_6_3_5_advertises_at_least_one_block() {
        let mut f = RecvFlow::new(1, 2048);
        assert_eq!(f.advertised_blocks(), 2);
        f.suspended = true;
        f.on_data(T, &ud(1, 0, Fragmentation::Whole, &[0; 3000]));
        assert_eq!(
            f.advertised_blocks(),
            0,
            "suspended and full: closed window"
        );
        f.suspended = false;
        assert_eq!(
            f.advertised_blocks(),
            1,
            "MUST advertise one block when not suspended"
        );
        let mut z = RecvFlow::new(1, 0);
        assert_eq!(z.advertised_blocks(), 0, "unless the capacity is 0");
        z.capacity = 1;
        assert_eq!(z.advertised_blocks(), 1);
    }

    #[test]
    fn s3_6_3_8_complete_and_linger() {
        let mut f = RecvFlow::new(1, 1 << 16);
        let mut last = ud(2, 0, Fragmentation::Whole, b"b");
        last.flags.fin = true;
        let o = f.on_data(T, &last);
        assert!(!o.complete);
        let o = f.on_data(T, &ud(1, 0, Fragmentation::Whole, b"a"));
        assert_eq!(o.messages.len(), 2);
        assert!(o.complete);
        assert_eq!(f.state, RecvState::RF_COMPLETE_LINGER);
        assert!(!f.linger(T + Duration::from_secs(119)));
        assert!(f.linger(T + Duration::from_secs(120)));
    }

    #[test]
    fn hostile_sequence_numbers_cost_bounded_state() {
        let mut f = RecvFlow::new(1, 1 << 16);
        let mut dropped = 0;
        for k in 0..10_000u64 {
            let s = (k + 1) * 1_000_000_007;
            let o = f.on_data(T, &ud(s, 0, Fragmentation::Whole, b"z"));
            dropped += u64::from(o.dropped.is_some());
        }
        assert!(f.sequence_set().len() <= MAX_RANGES);
        assert!(dropped > 0);
        // An enormous sequence number is one range.
        let mut g = RecvFlow::new(1, 1 << 16);
        g.on_data(T, &ud(u64::MAX - 5, 0, Fragmentation::Begin, b"z"));
        assert_eq!(g.sequence_set().len(), 2);
    }

    #[test]
    fn unordered_delivery_delivers_on_arrival() {
        let mut f = RecvFlow::new(1, 1 << 16);
        f.unordered = true;
        let o = f.on_data(T, &ud(3, 0, Fragmentation::Whole, b"c"));
        assert_eq!(o.messages, [b"c".to_vec()]);
        let o = f.on_data(T, &ud(1, 0, Fragmentation::Whole, b"a"));
        assert_eq!(o.messages, [b"a".to_vec()]);
        // A duplicate of 3 is not delivered twice.
        let o = f.on_data(T, &ud(3, 0, Fragmentation::Whole, b"c"));
        assert!(o.messages.is_empty());
    }
}
