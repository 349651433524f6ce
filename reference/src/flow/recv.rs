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
/// §3.6.3.5: a receiver "MUST advertise at least one buffer block ... even if
/// the amount of data in the buffer exceeds the buffer capacity", so that a gap
/// can be repaired; and a sender's view of the window is a round trip old. A
/// flow's buffer may therefore go this far beyond its capacity, and data that
/// extends the contiguous prefix (the next sequence number after the CSN) this
/// far beyond the session's and the endpoint's limits; anything more is
/// dropped and not acknowledged.
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
    /// Bytes of messages delivered but not yet consumed by the user (an event
    /// not yet polled): they keep the advertised window shut (§3.6.3.5).
    held: usize,
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
            held: 0,
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

    /// What this flow holds for the far end: reassembly buffer plus delivered
    /// messages the user has not consumed.
    pub fn held(&self) -> usize {
        self.buffered + self.held
    }

    /// The user consumed `bytes` of delivered messages: the window reopens.
    pub fn consumed(&mut self, bytes: usize) {
        self.held = self.held.saturating_sub(bytes);
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

    /// §3.6.3.2 steps 3-16 for one (expanded) User Data chunk, with no limit
    /// beyond the flow's own buffer.
    pub fn on_data(&mut self, now: Instant, c: &UserData) -> DataOutcome {
        self.on_data_within(now, c, usize::MAX, usize::MAX)
    }

    /// [`RecvFlow::on_data`] when the session and the endpoint have only `room`
    /// bytes left for buffering (their limits), and `head_room` (their limits
    /// plus [`OVERCOMMIT`]) for data that extends the contiguous prefix: data
    /// beyond them, or beyond this flow's advertised buffer, is dropped and not
    /// acknowledged (§3.6.3.5), so a conforming sender retransmits it later; the
    /// next fragment in sequence has the slack, so a gap can always be repaired.
    pub fn on_data_within(
        &mut self,
        now: Instant,
        c: &UserData,
        room: usize,
        head_room: usize,
    ) -> DataOutcome {
        self.on_data_owned(now, c.clone(), room, head_room)
    }

    /// [`RecvFlow::on_data_within`] for a chunk the caller gives up: its bytes
    /// are kept without a copy.
    pub fn on_data_owned(
        &mut self,
        now: Instant,
        c: UserData,
        room: usize,
        head_room: usize,
    ) -> DataOutcome {
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
        // §2.3.11: an abandoned fragment's userData is ignored.
        let abandon = c.flags.abandon && !fault!(self, keep_abandoned_data);
        let storing = self.state == RecvState::RF_OPEN && !self.seq.contains(sn) && !abandon;
        if storing {
            let len = c.user_data.len();
            // The next sequence number after the CSN (none after 2^64 - 1).
            let head = self.csn().unwrap_or(0).checked_add(1) == Some(sn);
            if self.held() + len > self.capacity.saturating_add(OVERCOMMIT) {
                out.dropped = Some(crate::stats::DropReason::ReceiveBufferOverrun);
                out.ack_now = true;
                return out;
            }
            if len > if head { head_room } else { room } {
                out.dropped = Some(crate::stats::DropReason::SessionBufferLimit);
                out.ack_now = true;
                return out;
            }
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
                .insert(sn, (c.flags.fragment_control, c.user_data));
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
                    // Sequence numbers come from the far end: up to 2^64 - 1.
                    let after = match first.checked_add(1) {
                        Some(n) => self.buffer.range(n..),
                        None => self.buffer.range(first..first),
                    };
                    for (&s, (f, _)) in after {
                        if Some(s) != last.checked_add(1)
                            || *f == Fragmentation::Begin
                            || *f == Fragmentation::Whole
                        {
                            break;
                        }
                        last = s;
                        if *f == Fragmentation::End {
                            complete = true;
                            break;
                        }
                    }
                    // §3.6.3.3: only complete messages are delivered.
                    if complete || fault!(self, deliver_partial) && last < csn {
                        // The whole message's size first: one allocation for it.
                        let size = self
                            .buffer
                            .range(first..=last)
                            .map(|(_, (_, d))| d.len())
                            .sum();
                        let mut msg = Vec::with_capacity(size);
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
                    while let Some((f2, _)) = last.checked_add(1).and_then(|n| self.buffer.get(&n))
                    {
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
        self.held += data.len();
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
        // §3.6.3.5: the window shrinks while the user has not consumed delivered data.
        let bytes = self.capacity.saturating_sub(self.held()) as u64;
        let mut blocks = bytes.div_ceil(1024);
        // MUST advertise at least one block if not suspended, unless capacity is 0.
        let open = self.state == RecvState::RF_OPEN && !fault!(self, zero_window_when_full);
        if blocks == 0 && self.capacity > 0 && !self.suspended && open {
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
        self.build_ack_into(room, may_truncate, &mut chunks)
            .map(|size| (chunks, size))
    }

    /// [`Self::build_ack`], appending the chunks to `chunks` (nothing when it
    /// returns None); their size.
    pub fn build_ack_into(
        &mut self,
        room: usize,
        may_truncate: bool,
        chunks: &mut Vec<Chunk>,
    ) -> Option<usize> {
        let start = chunks.len();
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
            Some(b) if b.payload_len() < range_ack.payload_len() => Chunk::BitmapAck(b),
            _ => Chunk::RangeAck(range_ack),
        };
        // §3.6.3.4.2: truncate (dropping the highest ranges) to fit, if allowed.
        // (The chunk's length is kept up to date as ranges go: one pass.)
        let mut len = ack.encoded_len();
        while size + len > room {
            if !may_truncate {
                chunks.truncate(start);
                return None;
            }
            let dropped = match &mut ack {
                Chunk::RangeAck(r) => r.ranges.pop().map(|a| {
                    vlu::encoded_len(a.holes_minus_one) + vlu::encoded_len(a.received_minus_one)
                }),
                Chunk::BitmapAck(b) => b.bitmap.pop().map(|_| 1),
                _ => None,
            };
            let Some(dropped) = dropped else {
                chunks.truncate(start);
                return None;
            };
            len -= dropped;
        }
        debug_assert_eq!(len, ack.encoded_len());
        size += len;
        chunks.push(ack);
        self.should_ack = false;
        self.prev_rwnd = Some(blocks);
        self.stats.acks_sent += 1;
        Some(size)
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
#[path = "recv_tests.rs"]
mod tests;
