//! RFC 7016 §3.6.2: the sending side of a flow.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use serde::Serialize;

use super::FlowError;
use crate::time::Instant;
use crate::wire::{
    Chunk, Fragmentation, NextUserData, Opt, UserData, UserDataFlags, user_data_option, vlu,
};

/// §3.6.2 sending flow states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum SendState {
    F_OPEN,
    F_CLOSING,
    F_COMPLETE_LINGER,
    F_CLOSED,
}

/// §3.6.2.11: a sending flow MUST remain in F_COMPLETE_LINGER for at least 130 s.
pub const SEND_LINGER: Duration = Duration::from_secs(130);
/// §3.6.2: RX_BUFFER_SIZE starts at 65536 bytes.
pub const INITIAL_RX_BUFFER: u64 = 65_536;
/// §3.6.2.5: a fragment is lost after three negative acknowledgements.
pub const NAK_LOSS_THRESHOLD: u32 = 3;
/// §3.6.2.9.1: the period between Buffer Probes grows to at most a minute (or ERTO).
pub const MAX_PROBE_PERIOD: Duration = Duration::from_secs(60);

/// A fragment's bytes: a range of its message, which the message's fragments
/// share (one allocation per message written, not one per fragment). A
/// message stays in memory until its last fragment leaves the queue.
#[derive(Debug, Clone)]
struct Piece {
    message: std::sync::Arc<[u8]>,
    range: std::ops::Range<usize>,
}

impl Piece {
    fn len(&self) -> usize {
        self.range.len()
    }

    fn bytes(&self) -> &[u8] {
        &self.message[self.range.clone()]
    }
}

/// One SEND_QUEUE entry (§3.6.2).
#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    data: Piece,
    fra: Fragmentation,
    abandoned: bool,
    sent_abandoned: bool,
    ever_sent: bool,
    nak_count: u32,
    in_flight: bool,
    transmit_size: usize,
    tsn: u64,
    /// The message this fragment belongs to (for abandoning whole messages).
    msg: u64,
    /// Acknowledged: removed from SEND_QUEUE in the RFC's terms. Kept as a
    /// tombstone until it reaches the front, so acks cost O(acknowledged).
    acked: bool,
    /// On a tombstone: how far ahead an entry not acknowledged may be (at
    /// least 1; compressed as acks walk over runs of tombstones, so an ack
    /// repeating earlier ranges does not walk them again).
    skip: usize,
}

impl Entry {
    /// A fragment of message `msg` just queued: never sent, not acknowledged.
    fn queued(seq: u64, data: Piece, fra: Fragmentation, msg: u64) -> Self {
        Entry {
            seq,
            data,
            fra,
            abandoned: false,
            sent_abandoned: false,
            ever_sent: false,
            nak_count: 0,
            in_flight: false,
            transmit_size: 0,
            tsn: 0,
            msg,
            acked: false,
            skip: 1,
        }
    }
}

/// Counters of a sending flow.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendStats {
    pub messages: u64,
    pub bytes_queued: u64,
    pub fragments_sent: u64,
    pub retransmissions: u64,
    pub bytes_acked: u64,
    pub messages_abandoned: u64,
    pub probes_sent: u64,
    pub fragments_lost: u64,
}

/// What an acknowledgement did (§3.6.2.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// PRE_ACK_OUTSTANDING_BYTES - F_OUTSTANDING_BYTES.
    pub acked_bytes: usize,
    /// The highest TSN among the outstanding fragments acknowledged.
    pub max_tsn: u64,
    /// The flow just completed (F_CLOSING -> F_COMPLETE_LINGER).
    pub completed: bool,
}

/// A sending flow.
#[derive(Debug)]
pub struct SendFlow {
    pub id: u64,
    pub state: SendState,
    pub metadata: Vec<u8>,
    pub return_association: Option<u64>,
    pub priority: u8,
    pub time_critical: bool,
    /// STARTUP_OPTIONS: sent until the flow is acknowledged.
    startup_options: Vec<Opt>,
    queue: VecDeque<Entry>,
    /// F_OUTSTANDING_BYTES
    outstanding: usize,
    /// RX_BUFFER_SIZE
    pub rx_buffer_size: u64,
    /// NEXT_SN
    next_sn: u64,
    /// F_FINAL_SN
    pub final_sn: Option<u64>,
    /// EXCEPTION (with the code reported)
    pub exception: Option<u64>,
    next_msg: u64,
    /// Entries of `queue` not acknowledged.
    live: usize,
    /// Pending message deadlines.
    deadlines: std::collections::BTreeSet<(Instant, u64)>,
    /// Every entry at or above this sequence number was never sent (the
    /// highest sequence number ever sent, plus one).
    hint: u64,
    /// In-flight fragments as (TSN, sequence number), in transmission order.
    /// Entries go stale when their fragment is acknowledged, lost or sent again
    /// under a new TSN; stale ones are dropped from the front. Keeps the
    /// §3.6.2.5 pass proportional to what is in flight below the highest
    /// acknowledged TSN.
    flight: VecDeque<(u64, u64)>,
    /// Sent, not in flight, not acknowledged: candidates for retransmission
    /// (§3.6.2.3), so finding the next eligible entry never walks the window.
    lost: BTreeSet<u64>,
    /// Bytes of user data in entries not acknowledged.
    unacked_bytes: usize,
    linger_since: Option<Instant>,
    /// Buffer probe schedule while suspended (§3.6.2.9.1).
    probe_at: Option<Instant>,
    probe_period: Duration,
    pub stats: SendStats,
    /// Deliberate violations (conformance self-test only).
    #[cfg(feature = "test-hooks")]
    pub faults: crate::faults::Faults,
}

impl SendFlow {
    /// §3.6.2.1: a new F_OPEN flow with its STARTUP_OPTIONS.
    pub fn new(
        id: u64,
        metadata: Vec<u8>,
        return_association: Option<u64>,
        priority: u8,
        time_critical: bool,
    ) -> Self {
        let mut startup_options = vec![Opt::new(user_data_option::METADATA, metadata.clone())];
        if let Some(a) = return_association {
            startup_options.push(Opt::new(
                user_data_option::RETURN_FLOW_ASSOCIATION,
                vlu::to_vec(a),
            ));
        }
        SendFlow {
            id,
            state: SendState::F_OPEN,
            metadata,
            return_association,
            priority,
            time_critical,
            startup_options,
            queue: VecDeque::new(),
            outstanding: 0,
            rx_buffer_size: INITIAL_RX_BUFFER,
            next_sn: 1,
            final_sn: None,
            exception: None,
            next_msg: 0,
            live: 0,
            deadlines: std::collections::BTreeSet::new(),
            hint: 0,
            flight: VecDeque::new(),
            lost: BTreeSet::new(),
            unacked_bytes: 0,
            linger_since: None,
            probe_at: None,
            probe_period: Duration::from_secs(1),
            stats: SendStats::default(),
            #[cfg(feature = "test-hooks")]
            faults: Default::default(),
        }
    }

    /// F_OUTSTANDING_BYTES
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Entries not yet acknowledged.
    pub fn queued(&self) -> usize {
        self.live
    }

    /// Bytes of user data not yet acknowledged (the bounded send buffer).
    pub fn queued_bytes(&self) -> usize {
        self.unacked_bytes
    }

    /// Removes acknowledged entries from the front of the queue.
    fn pop_acked(&mut self) {
        while self.queue.front().is_some_and(|e| e.acked) {
            self.queue.pop_front();
        }
    }

    /// The first index at or after `i` whose entry is not acknowledged (or the
    /// queue's length), jumping over runs of tombstones and shortening the
    /// jumps it took (no allocation).
    fn next_unacked(&mut self, start: usize) -> usize {
        let len = self.queue.len();
        let mut i = start;
        while i < len && self.queue[i].acked {
            i += self.queue[i].skip.max(1);
        }
        let end = i.min(len);
        let mut k = start;
        while k < end {
            let next = k + self.queue[k].skip.max(1);
            self.queue[k].skip = end - k;
            k = next;
        }
        end
    }

    /// Removes the front entry (acknowledged or trimmed).
    fn pop_front(&mut self) {
        if let Some(e) = self.queue.pop_front() {
            self.lost.remove(&e.seq);
            if !e.acked {
                self.unacked_bytes -= e.data.len();
            }
        }
    }

    /// The encoded size of the STARTUP_OPTIONS list (0 once acknowledged).
    pub fn startup_options_len(&self) -> usize {
        if self.startup_options.is_empty() {
            0
        } else {
            crate::wire::option::list_encoded_len(&self.startup_options)
        }
    }

    /// §3.6.2.2: queues a message as fragments of at most `max_fragment` bytes.
    /// Returns the message's number. A message abandoned before its deadline is
    /// never delivered.
    pub fn write(
        &mut self,
        data: &[u8],
        max_fragment: usize,
        deadline: Option<Instant>,
    ) -> Result<u64, FlowError> {
        if self.state != SendState::F_OPEN {
            return Err(FlowError::NotOpen);
        }
        let max_fragment = max_fragment.max(1);
        let msg = self.next_msg;
        self.next_msg += 1;
        let message: std::sync::Arc<[u8]> = data.into();
        // An empty message is one empty fragment.
        let n = data.len().div_ceil(max_fragment).max(1);
        for i in 0..n {
            let fra = match (n, i) {
                (1, _) => Fragmentation::Whole,
                (_, 0) => Fragmentation::Begin,
                (_, i) if i + 1 == n => Fragmentation::End,
                _ => Fragmentation::Middle,
            };
            let start = (i * max_fragment).min(data.len());
            let piece = Piece {
                message: message.clone(),
                range: start..(start + max_fragment).min(data.len()),
            };
            self.unacked_bytes += piece.len();
            self.queue
                .push_back(Entry::queued(self.next_sn, piece, fra, msg));
            self.live += 1;
            self.next_sn += 1;
        }
        if let Some(d) = deadline {
            self.deadlines.insert((d, msg));
        }
        self.stats.messages += 1;
        self.stats.bytes_queued += data.len() as u64;
        Ok(msg)
    }

    /// §3.6.2.11: closes an F_OPEN flow (F_CLOSING, with a final sequence number).
    pub fn close(&mut self) {
        if self.state != SendState::F_OPEN {
            return;
        }
        self.state = SendState::F_CLOSING;
        match self.queue.back() {
            Some(tail) if !tail.acked && tail.seq == self.next_sn - 1 && !tail.ever_sent => {
                self.final_sn = Some(tail.seq)
            }
            _ => {
                // §3.6.2.11: an empty, abandoned fragment carries the FIN.
                let empty = Piece {
                    message: std::sync::Arc::from(&[][..]),
                    range: 0..0,
                };
                let mut fin = Entry::queued(self.next_sn, empty, Fragmentation::Whole, u64::MAX);
                fin.abandoned = true;
                self.queue.push_back(fin);
                self.live += 1;
                self.final_sn = Some(self.next_sn);
                self.next_sn += 1;
            }
        }
    }

    /// §3.6.2.7: abandons every fragment of message `msg`. Never un-abandons.
    /// Abandons the live fragments of a message; `None` if none was left, else
    /// whether any of them had ever been sent.
    fn abandon_message(&mut self, msg: u64) -> Option<bool> {
        let mut any = None;
        for e in self
            .queue
            .iter_mut()
            .filter(|e| e.msg == msg && !e.acked && !e.abandoned)
        {
            e.abandoned = true;
            any = Some(any.unwrap_or(false) || e.ever_sent);
        }
        if any.is_some() {
            self.stats.messages_abandoned += 1;
        }
        any
    }

    /// Abandons messages whose deadline has passed; returns each abandoned message
    /// with whether any of its fragments had been sent (if none had, it can never
    /// be delivered).
    pub fn expire(&mut self, now: Instant) -> Vec<(u64, bool)> {
        let mut out = Vec::new();
        while let Some(&(d, msg)) = self.deadlines.first() {
            if d > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(sent) = self.abandon_message(msg) {
                out.push((msg, sent));
            }
        }
        out
    }

    /// The earliest message deadline still pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(d, _)| d)
    }

    fn eligible(&self, i: usize) -> bool {
        let e = &self.queue[i];
        // §3.6.2.3: not IN_FLIGHT and (not ABANDONED, or first, or the final SN).
        if fault!(self, never_retransmit) && e.ever_sent {
            return false;
        }
        !e.acked && !e.in_flight && (!e.abandoned || i == 0 || Some(e.seq) == self.final_sn)
    }

    /// §3.6.2.3: trims abandoned entries from the front and returns the FSN.
    fn trim_and_fsn(&mut self) -> u64 {
        self.pop_acked();
        // 1. Remove abandoned, not in flight entries from the front while two remain.
        while self.live >= 2 && !self.queue[0].in_flight && self.queue[0].abandoned {
            self.pop_front();
            self.live -= 1;
            self.pop_acked();
        }
        match self.queue.front() {
            None => self.next_sn - 1,
            // 2. Not abandoned: FSN = seq - 1.
            Some(e) if !e.abandoned => e.seq - 1,
            // 3. In flight and not abandoned when sent: seq - 1.
            Some(e) if e.in_flight && !e.sent_abandoned => e.seq - 1,
            // 4. Abandoned, and not in flight or abandoned when sent: seq.
            Some(e) => e.seq,
        }
    }

    /// §3.6.2.3 and §3.6.2.9: ready to transmit if an entry is eligible and the
    /// receive window allows (or the flow was rejected).
    pub fn is_ready(&self) -> bool {
        if !(self.rx_buffer_size > self.outstanding as u64
            || self.exception.is_some()
            || fault!(self, ignore_receive_window))
        {
            return false;
        }
        self.next_eligible(0).is_some()
    }

    /// The index of the first eligible entry at or after `from` (§3.6.2.3):
    /// the queue's head, a lost fragment, or a never-sent one at or above
    /// `hint`. Touches only candidates, never the in-flight window.
    fn next_eligible(&self, from: usize) -> Option<usize> {
        if from == 0 && !self.queue.is_empty() && self.eligible(0) {
            return Some(0);
        }
        let from_seq = self.queue.get(from).map_or(self.next_sn, |e| e.seq);
        if !fault!(self, never_retransmit) {
            for &s in self.lost.range(from_seq..) {
                let i = self.index_of(s);
                if i < self.queue.len() && self.eligible(i) {
                    return Some(i);
                }
            }
        }
        let start = self.index_of(self.hint.max(from_seq));
        (start..self.queue.len()).find(|&i| self.eligible(i))
    }

    /// The index of `seq` in `queue`, or where it would be (sequence numbers in
    /// the queue are consecutive).
    fn index_of(&self, seq: u64) -> usize {
        self.queue.front().map_or(0, |f| {
            seq.saturating_sub(f.seq).min(self.queue.len() as u64) as usize
        })
    }

    /// §3.6.2.3: assembles User Data / Next User Data chunks of this flow into a
    /// packet with `room` bytes left; `next_tsn` is the session's NEXT_TSN.
    /// Returns the bytes added.
    pub fn assemble(&mut self, room: usize, next_tsn: &mut u64, out: &mut Vec<Chunk>) -> usize {
        let fsn = self.trim_and_fsn();
        let mut used = 0;
        let mut prev_seq: Option<u64> = None;
        let mut from = 0;
        while let Some(i) = self.next_eligible(from) {
            // Flow control (§3.6.2.9): no new data beyond the advertised window.
            // (The ignore-receive-window fault sends regardless.)
            if !(self.rx_buffer_size > self.outstanding as u64
                || self.exception.is_some()
                || fault!(self, ignore_receive_window))
            {
                break;
            }
            let options = (prev_seq.is_none() && !self.startup_options.is_empty())
                .then(|| self.startup_options.clone());
            let e = &self.queue[i];
            let flags = UserDataFlags {
                fragment_control: e.fra,
                abandon: e.abandoned,
                fin: Some(e.seq) == self.final_sn,
                reserved: 0,
            };
            // The fragment's bytes are copied into the chunk only once it is
            // known to fit: its size is the size without them plus their length.
            let data_len = if e.abandoned { 0 } else { e.data.len() };
            let data = Vec::new();
            // §3.6.2.3.2: Next User Data for the next sequence number of the same flow;
            // the FIRST fragment of a flow in a packet is a User Data chunk.
            let chunk = if prev_seq.is_some_and(|p| p + 1 == e.seq) {
                Chunk::NextUserData(NextUserData {
                    flags,
                    options,
                    user_data: data,
                })
            } else {
                Chunk::UserData(UserData {
                    flags,
                    flow_id: self.id,
                    sequence_number: e.seq,
                    // §3.6.2.3: the FSN is not above an outstanding sequence number.
                    fsn_offset: if fault!(self, fsn_past_outstanding) {
                        1
                    } else {
                        e.seq - fsn
                    },
                    options,
                    user_data: data,
                })
            };
            let size = chunk.encoded_len() + data_len;
            if used + size > room {
                break;
            }
            let mut chunk = chunk;
            if data_len > 0 {
                let bytes = self.queue[i].data.bytes().to_vec();
                match &mut chunk {
                    Chunk::UserData(u) => u.user_data = bytes,
                    Chunk::NextUserData(n) => n.user_data = bytes,
                    _ => unreachable!("a data chunk"),
                }
            }
            debug_assert_eq!(chunk.encoded_len(), size);
            let e = &mut self.queue[i];
            if e.ever_sent {
                self.stats.retransmissions += 1;
                self.lost.remove(&e.seq);
            }
            self.flight.push_back((*next_tsn, e.seq));
            e.in_flight = true;
            e.ever_sent = true;
            e.nak_count = 0;
            e.sent_abandoned = e.abandoned;
            e.transmit_size = size;
            e.tsn = *next_tsn;
            *next_tsn += 1;
            self.outstanding += size;
            self.stats.fragments_sent += 1;
            prev_seq = Some(e.seq);
            used += size;
            if fault!(self, no_metadata_repeat) {
                self.startup_options.clear();
            }
            self.hint = self.hint.max(e.seq + 1);
            out.push(chunk);
            from = i + 1;
        }
        used
    }

    /// §3.6.2.10: the receiver rejected the flow. Returns true if this closed an
    /// F_OPEN flow (the user is to be told).
    pub fn on_exception(&mut self, code: u64) -> bool {
        let was_open = self.state == SendState::F_OPEN;
        if was_open {
            self.close();
        }
        if self.exception.is_none() {
            self.exception = Some(code);
        }
        for e in self.queue.iter_mut().filter(|e| !e.acked) {
            e.abandoned = true;
        }
        self.deadlines.clear();
        self.probe_at = None;
        was_open
    }

    /// §3.6.2.9.1: whether a Buffer Probe is due; if so, schedules the next one
    /// (period at least max(1 s, ERTO), growing, at most max(60 s, ERTO)).
    pub fn probe_due(&mut self, now: Instant, erto: Duration) -> bool {
        match self.probe_at {
            Some(t) if t <= now => {
                let floor = erto.max(Duration::from_secs(1));
                self.probe_period = self.probe_period.max(floor);
                self.probe_at = Some(now + self.probe_period);
                self.probe_period = self
                    .probe_period
                    .mul_f64(1.5)
                    .min(MAX_PROBE_PERIOD.max(erto));
                self.stats.probes_sent += 1;
                true
            }
            _ => false,
        }
    }

    pub fn next_probe(&self) -> Option<Instant> {
        self.probe_at
    }

    /// F_COMPLETE_LINGER -> F_CLOSED after 130 s.
    pub fn linger(&mut self, now: Instant) -> bool {
        if self.state == SendState::F_COMPLETE_LINGER
            && self.linger_since.is_some_and(|t| now - t >= SEND_LINGER)
        {
            self.state = SendState::F_CLOSED;
        }
        self.state == SendState::F_CLOSED
    }

    pub fn linger_until(&self) -> Option<Instant> {
        self.linger_since.map(|t| t + SEND_LINGER)
    }

    /// Sequence numbers currently outstanding (for tests and checks).
    pub fn in_flight_seqs(&self) -> Vec<u64> {
        self.queue
            .iter()
            .filter(|e| e.in_flight)
            .map(|e| e.seq)
            .collect()
    }

    /// Checks the indexes against a walk of the whole queue (tests).
    #[cfg(test)]
    pub(crate) fn check_indexes(&self) {
        let flight: BTreeSet<u64> = self
            .flight
            .iter()
            .filter(|&&(t, s)| {
                let i = self.index_of(s);
                self.queue
                    .get(i)
                    .is_some_and(|e| e.seq == s && e.in_flight && e.tsn == t)
            })
            .map(|&(_, s)| s)
            .collect();
        assert_eq!(
            flight.into_iter().collect::<Vec<_>>(),
            self.in_flight_seqs()
        );
        let lost: Vec<u64> = self
            .queue
            .iter()
            .filter(|e| e.ever_sent && !e.in_flight && !e.acked)
            .map(|e| e.seq)
            .collect();
        assert_eq!(self.lost.iter().copied().collect::<Vec<_>>(), lost);
        let bytes: usize = self
            .queue
            .iter()
            .filter(|e| !e.acked)
            .map(|e| e.data.len())
            .sum();
        assert_eq!(bytes, self.unacked_bytes);
        for (i, e) in self.queue.iter().enumerate() {
            if e.acked {
                // A jump never passes an entry not acknowledged.
                let to = (i + e.skip).min(self.queue.len());
                assert!(self.queue.range(i..to).all(|x| x.acked), "seq {}", e.seq);
            }
        }
    }
}

// §3.6.2.4-§3.6.2.6: acknowledgements, negative acknowledgements, timeouts.
#[path = "send_ack.rs"]
mod ack;

#[cfg(test)]
#[path = "send_tests.rs"]
mod tests;
