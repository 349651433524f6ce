//! The sending side of a session's data plane: the TIMEOUT_ALARM and message
//! deadlines (§3.6.2.6, §3.6.2.3), DELACK_ALARM (§3.6.3.4.4), packet headers with
//! timestamps (§3.5.2.2), filling packets with acks and flow data under the
//! congestion window (§3.5.2, §3.6.2.3-§3.6.2.5), and what a sent packet starts.

use super::*;

impl Data {
    // --------------------------------------------------------------- timers

    pub fn on_timeout(&mut self, now: Instant) -> Vec<SessionEvent> {
        // §3.6.3.4.4: DELACK_ALARM fired: ACK_NOW.
        if self.delack_alarm.is_some_and(|t| t <= now) {
            self.delack_alarm = None;
            self.ack_now = true;
        }
        // §3.6.2.6: TIMEOUT_ALARM fired.
        if self.timeout_alarm.is_some_and(|t| t <= now) {
            self.timeout_alarm = None;
            let mut was_loss = false;
            for f in self.send.values_mut() {
                was_loss |= f.on_timeout();
            }
            if was_loss {
                self.rtt.backoff();
                self.stats.timeouts_with_loss += 1;
            }
            self.stats.timeouts += 1;
            self.cc.on_timeout(was_loss);
            self.burst.on_timeout();
            self.record(now, TraceEvent::Timeout, 0, was_loss);
        }
        // Message deadlines.
        self.expire_messages(now);
        // Lingering flows close.
        self.send.retain(|_, f| !f.linger(now));
        self.recv.retain(|_, f| !f.linger(now));
        self.take_events()
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        };
        at(self.delack_alarm);
        at(self.timeout_alarm);
        for f in self.send.values() {
            at(f.next_probe());
            at(f.next_deadline());
            at(f.linger_until());
        }
        for f in self.recv.values() {
            at(f.linger_until());
        }
        t
    }

    // -------------------------------------------------------------- sending

    /// A header for an outgoing packet with the timestamp fields (§3.5.2.2).
    pub fn header(
        &mut self,
        now: Instant,
        mode: Mode,
        time_critical: bool,
        time_critical_reverse: bool,
    ) -> Header {
        let mut h = Header::new(mode);
        h.time_critical = time_critical;
        h.time_critical_reverse = time_critical_reverse;
        self.timestamps.on_send(now, &mut h);
        // §3.5.2.2: the Timestamp Echo facility.
        h.timestamp_echo = h
            .timestamp_echo
            .filter(|_| !fault!(self, no_timestamp_echo));
        // Flash Player's habit (config.timestamp_every_packet, a tester setting):
        // a timestamp on every packet; §3.5.2.2 only asks for one when it
        // changed, and the far end ignores a repeated one.
        if self.timestamp_every_packet && h.timestamp.is_none() {
            h.timestamp = Some(now.timestamp_250hz());
        }
        h
    }

    /// Whether a receiving flow is ready to send an acknowledgement.
    fn ack_ready(&self) -> bool {
        self.recv.values().any(ready_to_ack)
    }

    /// Adds acknowledgements that fit; the first may be truncated if `truncate`.
    fn add_acks(
        &mut self,
        room: usize,
        used: &mut usize,
        chunks: &mut Vec<Chunk>,
        mut truncate: bool,
    ) {
        for f in self.recv.values_mut().filter(|f| ready_to_ack(f)) {
            match f.build_ack_into(room.saturating_sub(*used), truncate, chunks) {
                Some(size) => {
                    *used += size;
                    truncate = false;
                }
                None => break,
            }
        }
        if !self.ack_ready() {
            // §3.6.3.4.5/6: no flow left to acknowledge.
            self.ack_now = false;
            self.rx_data_packets = 0;
            self.delack_alarm = None;
        }
    }

    /// Abandons the messages whose deadline has passed (§3.6.2.7), telling the
    /// application which.
    fn expire_messages(&mut self, now: Instant) {
        for f in self.send.values_mut() {
            if f.next_deadline().is_some_and(|d| d <= now) {
                let messages = f.expire(now);
                if !messages.is_empty() {
                    self.events.push(SessionEvent::MessagesAbandoned {
                        flow: f.id,
                        messages,
                    });
                }
            }
        }
    }

    /// Chunks for the next packet, within `room` bytes: obligatory acknowledgements
    /// (§3.6.3.4.5), user data within the congestion window and burst limit
    /// (§3.6.2.3, §3.5.2), opportunistic acknowledgements (§3.6.3.4.6), Buffer
    /// Probes (§3.6.2.9.1).
    pub fn fill(&mut self, now: Instant, room: usize, _stats: &mut Stats) -> Fill {
        let mut chunks = std::mem::take(&mut self.chunk_scratch);
        chunks.clear();
        let mut used = 0;
        let mut tc = false;
        if self.ack_now {
            self.add_acks(room, &mut used, &mut chunks, true);
        }
        // Expire messages before choosing what to send.
        self.expire_messages(now);
        let mut has_data = false;
        // (The no-congestion-control fault ignores the window and burst limit.)
        let uncontrolled = fault!(self, no_congestion_control);
        while (uncontrolled
            || self.outstanding_bytes() < self.cc.cwnd() && self.burst.allows(self.rtt.srtt))
            && used < room
        {
            // Highest priority ready flow; round robin among equals: the first
            // (in flow ID order) after the last one served, else the first.
            // One pass: (priority, first ID, first ID after `rr`).
            let mut pick: Option<(u8, u64, Option<u64>)> = None;
            for f in self.send.values().filter(|f| f.is_ready()) {
                let after = (f.id > self.rr).then_some(f.id);
                match &mut pick {
                    Some((p, _, _)) if f.priority < *p => {}
                    Some((p, _, a)) if f.priority == *p => *a = a.or(after),
                    _ => pick = Some((f.priority, f.id, after)),
                }
            }
            let Some((_, first, after)) = pick else {
                break;
            };
            let id = after.unwrap_or(first);
            let f = self.send.get_mut(&id).expect("ready");
            let n = f.assemble(room - used, &mut self.next_tsn, &mut chunks);
            if n == 0 {
                break;
            }
            tc |= f.time_critical;
            has_data = true;
            used += n;
            self.rr = id;
        }
        // §3.6.3.4.6 opportunistic acks (off with the no_opportunistic_acks liberty).
        if (has_data || !chunks.is_empty()) && !self.no_opportunistic_acks && self.ack_ready() {
            self.add_acks(room, &mut used, &mut chunks, false);
        }
        let erto = self.erto();
        for f in self.send.values_mut() {
            let probe = Chunk::BufferProbe(BufferProbe { flow_id: f.id });
            if used + probe.encoded_len() <= room && f.probe_due(now, erto) {
                used += probe.encoded_len();
                chunks.push(probe);
            }
        }
        Fill {
            chunks,
            time_critical: tc,
        }
    }

    /// After a packet was sent (§3.5.2.3 DATA_PACKET_COUNT, §3.6.2.6 alarm).
    pub fn on_sent(&mut self, now: Instant, p: &Packet) {
        self.last_sent = now;
        let data = p
            .chunks
            .iter()
            .any(|c| matches!(c, Chunk::UserData(_) | Chunk::NextUserData(_)));
        if data {
            self.burst.on_data_packet_sent();
            self.stats.data_packets_sent += 1;
            // §3.6.2.6: set or reset TIMEOUT_ALARM to fire in ERTO.
            self.timeout_alarm = Some(now + self.erto());
            self.last_activity = now;
            if p.header.time_critical {
                self.time_critical.tc_sent = Some(now);
            }
            self.record(now, TraceEvent::Send, 0, false);
        }
    }
}

/// A receiving flow ready to send an acknowledgement (§3.6.3.4).
fn ready_to_ack(f: &crate::flow::recv::RecvFlow) -> bool {
    f.should_ack && f.state != RecvState::RF_CLOSED
}
