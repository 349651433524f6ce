//! The data plane of one S_OPEN session: its flows, the session-level parts of
//! acknowledgement (ACK_NOW, RX_DATA_PACKETS, DELACK_ALARM: §3.6.3.2-§3.6.3.4),
//! transmission (NEXT_TSN, MAX_TSN_ACK, TIMEOUT_ALARM: §3.6.2.3-§3.6.2.6), the
//! Timestamp Echo facility and RTT/ERTO (§3.5.2.2), congestion control
//! (§3.5.2, Appendix A) and burst avoidance (§3.5.2.3).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::congestion::trace::{Sample, Trace, TraceEvent};
use crate::congestion::{
    AppendixA, BurstAvoidance, CongestionController, Reno, Rtt, TimeCriticalState, Timestamps,
};
use crate::flow::recv::OVERCOMMIT;
use crate::flow::{FlowError, RecvFlow, RecvState, SendFlow, SendState};
use crate::session::config::{CongestionAlgorithm, EndpointConfig};
use crate::stats::{DropReason, Stats};
use crate::time::Instant;
use crate::wire::{BufferProbe, Chunk, Header, Mode, Packet, UserData, user_data_option, vlu};

/// §3.6.3.4.4: acknowledgements may be delayed up to 200 ms.
pub const DELACK: Duration = Duration::from_millis(200);

/// Flow and message events of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A new receiving flow was accepted (§3.6.3.1 step 9).
    FlowOpened {
        flow: u64,
        metadata: Vec<u8>,
        association: Option<u64>,
    },
    /// A new or open receiving flow was rejected automatically (exception 0).
    FlowRejected { flow: u64, reason: &'static str },
    /// A complete message.
    Message { flow: u64, data: Vec<u8> },
    /// Sequence numbers were skipped without delivery (§3.6.1.2 gap indication).
    Gap { flow: u64, count: u64 },
    /// A receiving flow delivered everything up to its final sequence number.
    FlowComplete { flow: u64 },
    /// The far end rejected one of our sending flows (§3.6.2.10).
    SendFlowException { flow: u64, code: u64 },
    /// A sending flow was completely acknowledged after being closed.
    SendFlowComplete { flow: u64 },
    /// Messages of a sending flow passed their deadline and were abandoned:
    /// (message number, whether any fragment of it had been sent).
    MessagesAbandoned {
        flow: u64,
        messages: Vec<(u64, bool)>,
    },
    /// Every flow was aborted (the session is closing).
    Aborted { reason: String },
    /// A sending flow whose `send` failed with `WouldBlock` drained below its
    /// send buffer limit: it takes messages again.
    Writable { flow: u64 },
}

/// Options of a new sending flow.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlowOptions {
    /// Higher goes first.
    pub priority: u8,
    /// Time-critical (real-time) data: sets TC on packets carrying it.
    pub time_critical: bool,
}

/// Chunks to add to an outgoing packet.
#[derive(Debug, Default)]
pub struct Fill {
    pub chunks: Vec<Chunk>,
    pub time_critical: bool,
}

/// Counters of the data plane.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DataStats {
    pub data_packets_sent: u64,
    pub timeouts: u64,
    pub timeouts_with_loss: u64,
    pub naks: u64,
    pub losses: u64,
    pub acks_received: u64,
    pub flows_opened: u64,
    pub flows_rejected: u64,
}

/// Per-packet receive state.
#[derive(Debug, Default)]
struct PacketState {
    /// The most recent (expanded) User Data chunk, for Next User Data (§2.3.12).
    last_user_data: Option<UserData>,
    had_user_data: bool,
    had_ack: bool,
}

/// The per-session data plane.
#[derive(Debug)]
pub struct Data {
    max_packet: usize,
    receive_buffer: usize,
    accept_flows: bool,
    limits: crate::session::config::Limits,
    /// The most this session's receiving flows may hold given what the other
    /// sessions hold (set by the endpoint before each packet).
    endpoint_cap: usize,
    /// Sending flows whose `send` failed with `WouldBlock` (owed a `Writable`).
    blocked: std::collections::BTreeSet<u64>,
    pub timestamps: Timestamps,
    pub rtt: Rtt,
    cc: Box<dyn CongestionController>,
    burst: BurstAvoidance,
    /// The (emptied) chunk list of the last packet flushed, reused by the next
    /// `fill`.
    pub(crate) chunk_scratch: Vec<Chunk>,
    pub time_critical: TimeCriticalState,
    send: BTreeMap<u64, SendFlow>,
    recv: BTreeMap<u64, RecvFlow>,
    next_flow_id: u64,
    /// NEXT_TSN and MAX_TSN_ACK (§3.6.2.5).
    next_tsn: u64,
    max_tsn_ack: u64,
    /// TIMEOUT_ALARM (§3.6.2.6).
    timeout_alarm: Option<Instant>,
    /// RX_DATA_PACKETS, ACK_NOW, DELACK_ALARM (§3.5, §3.6.3.2).
    rx_data_packets: u32,
    ack_now: bool,
    delack_alarm: Option<Instant>,
    packet: PacketState,
    /// Reused for each acknowledgement's ranges (no allocation per ack).
    ack_ranges: Vec<(u64, u64)>,
    /// Round-robin position among flows of equal priority.
    rr: u64,
    /// PRE_ACK_OUTSTANDING of the packet being processed (Appendix A).
    pre_ack_outstanding: usize,
    events: Vec<SessionEvent>,
    last_activity: Instant,
    last_sent: Instant,
    /// When a TC-flagged packet was last received on this session.
    pub tc_received: Option<Instant>,
    pub trace: Option<Trace>,
    pub stats: DataStats,
    #[cfg(feature = "test-hooks")]
    faults: crate::faults::Faults,
    /// Liberties (see `EndpointConfig`).
    min_erto: Duration,
    no_opportunistic_acks: bool,
    timestamp_every_packet: bool,
}

impl Data {
    pub fn new(config: &EndpointConfig, now: Instant) -> Self {
        let cc: Box<dyn CongestionController> = match config.congestion {
            CongestionAlgorithm::AppendixA => Box::new(AppendixA::default()),
            CongestionAlgorithm::Reno => Box::new(Reno::default()),
        };
        Data {
            max_packet: config.max_packet_any_framing(),
            receive_buffer: config.receive_buffer,
            accept_flows: config.accept_flows,
            limits: config.limits.clone(),
            endpoint_cap: config.limits.max_buffer_total,
            blocked: Default::default(),
            timestamps: Timestamps {
                origin: config.timestamp_origin,
                ..Timestamps::default()
            },
            rtt: Rtt::default(),
            cc,
            burst: BurstAvoidance::new(config.burst_limit, config.burst_min_srtt),
            chunk_scratch: Vec::new(),
            time_critical: TimeCriticalState::default(),
            send: BTreeMap::new(),
            recv: BTreeMap::new(),
            next_flow_id: 1,
            next_tsn: 1,
            max_tsn_ack: 0,
            timeout_alarm: None,
            rx_data_packets: 0,
            ack_now: false,
            delack_alarm: None,
            packet: PacketState::default(),
            ack_ranges: Vec::new(),
            rr: 0,
            pre_ack_outstanding: 0,
            events: Vec::new(),
            last_activity: now,
            last_sent: now,
            tc_received: None,
            trace: config.trace.then(|| Trace::new(2_000_000)),
            stats: DataStats::default(),
            #[cfg(feature = "test-hooks")]
            faults: config.faults,
            min_erto: config.min_erto,
            no_opportunistic_acks: config.no_opportunistic_acks,
            timestamp_every_packet: config.timestamp_every_packet,
        }
    }

    /// §3.5.2.2: on entering S_OPEN the timestamp state starts empty; the RFC
    /// author's implementation also takes the far end's last startup packet's
    /// timestamp (the RIKeying, for an initiator) as TS_RX, so pass it here.
    pub fn on_open(&mut self, now: Instant) {
        self.timestamps = Timestamps {
            origin: self.timestamps.origin,
            ..Timestamps::default()
        };
        self.last_activity = now;
    }

    /// Takes the timestamp of a startup packet from the far end (see `on_open`).
    pub fn seed_timestamp(&mut self, now: Instant, ts: Option<u16>) {
        if let Some(ts) = ts {
            self.timestamps.ts_rx = Some(ts);
            self.timestamps.ts_rx_time = Some(now);
        }
    }

    pub fn congestion(&self) -> &dyn CongestionController {
        self.cc.as_ref()
    }

    // ------------------------------------------------------------------ API

    /// §3.6.2.1: opens a sending flow. A return association must name a
    /// receiving flow in RF_OPEN (SHOULD NOT otherwise).
    pub fn open_flow(
        &mut self,
        metadata: Vec<u8>,
        association: Option<u64>,
        o: FlowOptions,
    ) -> Result<u64, FlowError> {
        if let Some(a) = association
            && self
                .recv
                .get(&a)
                .is_none_or(|r| r.state != RecvState::RF_OPEN)
        {
            return Err(FlowError::BadAssociation);
        }
        // A new ID not used by any flow in F_OPEN, F_CLOSING or F_COMPLETE_LINGER.
        while self.send.contains_key(&self.next_flow_id) || self.next_flow_id == 0 {
            self.next_flow_id = self.next_flow_id.wrapping_add(1);
        }
        let id = self.next_flow_id;
        self.next_flow_id = self.next_flow_id.wrapping_add(1);
        // §2.3.11.1: the Return Flow Association option is supported.
        let association = association.filter(|_| !fault!(self, no_return_association));
        #[cfg_attr(not(feature = "test-hooks"), allow(unused_mut))]
        let mut f = SendFlow::new(id, metadata, association, o.priority, o.time_critical);
        #[cfg(feature = "test-hooks")]
        {
            f.faults = self.faults;
        }
        self.send.insert(id, f);
        self.last_activity = self.last_activity.max(self.last_sent);
        Ok(id)
    }

    /// The largest plain packet this session sends.
    pub fn max_packet(&self) -> usize {
        self.max_packet
    }

    /// Sets the largest plain packet (once the session's keys, and so its
    /// framing, are known). Fragments already cut keep their size.
    pub(crate) fn set_max_packet(&mut self, n: usize) {
        self.max_packet = n;
    }

    /// The largest fragment for a flow (§3.6.2.2: it must fit a packet with a
    /// maximum-size header, User Data chunk header and the STARTUP_OPTIONS).
    fn max_fragment(&self, f: &SendFlow) -> usize {
        let header = 5;
        let chunk = 3 + 1 + vlu::encoded_len(f.id) + 2 * vlu::MAX_LEN;
        self.max_packet
            .saturating_sub(header + chunk + f.startup_options_len())
            .max(1)
    }

    /// Queues a message on a sending flow, abandoned if not delivered by `deadline`.
    pub fn send(
        &mut self,
        flow: u64,
        data: &[u8],
        deadline: Option<Instant>,
    ) -> Result<u64, FlowError> {
        let max = self.max_fragment(self.send.get(&flow).ok_or(FlowError::NoSuchFlow)?);
        let f = self.send.get_mut(&flow).ok_or(FlowError::NoSuchFlow)?;
        // The bounded send buffer: a message is taken while the flow holds less
        // than the limit (so one message of any size always goes).
        // The session's limit counts its sending and receiving flows together.
        let full = f.state == SendState::F_OPEN
            && (f.queued_bytes() >= self.limits.send_buffer
                || self.send_held() + self.recv_held() >= self.limits.max_session_buffer);
        if full {
            self.blocked.insert(flow);
            return Err(FlowError::WouldBlock);
        }
        let f = self.send.get_mut(&flow).ok_or(FlowError::NoSuchFlow)?;
        f.write(data, max, deadline)
    }

    pub fn close_flow(&mut self, flow: u64) -> Result<(), FlowError> {
        self.send
            .get_mut(&flow)
            .ok_or(FlowError::NoSuchFlow)?
            .close();
        Ok(())
    }

    /// §3.6.3.7: the user rejects a receiving flow with an exception code.
    pub fn reject_flow(&mut self, flow: u64, code: u64) -> Result<(), FlowError> {
        let f = self.recv.get_mut(&flow).ok_or(FlowError::NoSuchFlow)?;
        if f.reject(code) {
            self.ack_now = true;
        }
        Ok(())
    }

    /// Delivery in network order (true) or sequence order (false).
    pub fn set_unordered(&mut self, flow: u64, unordered: bool) -> Result<(), FlowError> {
        self.recv
            .get_mut(&flow)
            .ok_or(FlowError::NoSuchFlow)?
            .unordered = unordered;
        Ok(())
    }

    pub fn send_flow(&self, flow: u64) -> Option<&SendFlow> {
        self.send.get(&flow)
    }

    pub fn recv_flow(&self, flow: u64) -> Option<&RecvFlow> {
        self.recv.get(&flow)
    }

    pub fn send_flows(&self) -> impl Iterator<Item = &SendFlow> {
        self.send.values()
    }

    pub fn recv_flows(&self) -> impl Iterator<Item = &RecvFlow> {
        self.recv.values()
    }

    /// §3.5.5: on leaving S_OPEN every flow is aborted.
    pub fn abort_all(&mut self, reason: &str) -> Vec<SessionEvent> {
        let had = !self.send.is_empty() || !self.recv.is_empty();
        self.send.clear();
        self.recv.clear();
        self.blocked.clear();
        let mut evs = std::mem::take(&mut self.events);
        if had {
            evs.push(SessionEvent::Aborted {
                reason: reason.to_string(),
            });
        }
        evs
    }

    pub fn take_events(&mut self) -> Vec<SessionEvent> {
        std::mem::take(&mut self.events)
    }

    /// S_OUTSTANDING_BYTES
    pub fn outstanding_bytes(&self) -> usize {
        self.send.values().map(SendFlow::outstanding).sum()
    }

    /// No flows, in either direction, that are not closed.
    pub fn is_idle(&self) -> bool {
        self.send
            .values()
            .all(|f| f.state == SendState::F_CLOSED || f.state == SendState::F_COMPLETE_LINGER)
            && self.recv.values().all(|f| {
                matches!(
                    f.state,
                    RecvState::RF_CLOSED | RecvState::RF_COMPLETE_LINGER
                )
            })
    }

    pub fn last_activity(&self) -> Instant {
        self.last_activity
    }

    pub fn last_sent(&self) -> Instant {
        self.last_sent
    }

    pub fn mrto(&self) -> Duration {
        self.rtt.mrto
    }

    pub fn erto(&self) -> Duration {
        if fault!(self, short_erto) {
            // Deliberately wrong (conformance self-test): below the RTT and the
            // §3.5.2.2 floor of 250 ms.
            return Duration::from_millis(60);
        }
        // Liberty (config.min_erto): §3.5.2.2 sets only a lower bound.
        self.rtt.erto.max(self.min_erto)
    }

    /// §3.5.4.1: a keepalive Ping not answered within ERTO increases ERTO.
    pub fn backoff_erto(&mut self) {
        self.rtt.backoff();
    }

    // ------------------------------------------------------------- receiving

    /// Before processing a received packet's chunks.
    pub fn begin_packet(&mut self, now: Instant, h: &Header) {
        if h.time_critical_reverse && !fault!(self, ignore_tcr) {
            self.time_critical.tcr_received = Some(now);
        }
        if h.time_critical {
            self.tc_received = Some(now);
        }
        if let Some(rtt) = self.timestamps.on_receive(now, h) {
            self.rtt.sample(rtt);
            self.record(now, TraceEvent::Rtt, 0, false);
        }
        self.pre_ack_outstanding = self.outstanding_bytes();
        self.cc.begin_packet(self.pre_ack_outstanding);
        self.packet = PacketState::default();
    }

    /// One chunk of a received session packet.
    pub fn on_chunk(&mut self, now: Instant, c: Chunk, stats: &mut Stats) -> Vec<SessionEvent> {
        match c {
            Chunk::UserData(u) => {
                self.packet.last_user_data = Some(u.header_only());
                self.on_user_data(now, u, stats);
            }
            Chunk::NextUserData(n) => {
                // §2.3.12: it follows a User Data or Next User Data chunk in the packet.
                let Some(prev) = self.packet.last_user_data.as_ref() else {
                    stats.drop(DropReason::NextUserDataWithoutUserData);
                    return self.take_events();
                };
                let Some(u) = n.expand(prev) else {
                    stats.drop(DropReason::NextUserDataOverflow);
                    return self.take_events();
                };
                self.packet.last_user_data = Some(u.header_only());
                self.on_user_data(now, u, stats);
            }
            Chunk::BitmapAck(a) => {
                let mut acked = std::mem::take(&mut self.ack_ranges);
                acked.clear();
                acked.push((0, a.cumulative_ack));
                a.ranges_into(&mut acked);
                self.on_ack(now, a.flow_id, &acked, a.buffer_blocks_available, stats);
                self.ack_ranges = acked;
            }
            Chunk::RangeAck(a) => {
                let mut acked = std::mem::take(&mut self.ack_ranges);
                acked.clear();
                acked.push((0, a.cumulative_ack));
                a.ranges_into(&mut acked);
                self.on_ack(now, a.flow_id, &acked, a.buffer_blocks_available, stats);
                self.ack_ranges = acked;
            }
            Chunk::BufferProbe(p) => {
                // §3.6.3.6
                match self.recv.get_mut(&p.flow_id) {
                    Some(f) if f.state != RecvState::RF_CLOSED => {
                        f.should_ack = true;
                        self.ack_now = true;
                    }
                    _ => stats.drop(DropReason::BufferProbeUnknownFlow),
                }
            }
            Chunk::FlowExceptionReport(e) => match self.send.get_mut(&e.flow_id) {
                Some(f) => {
                    if f.on_exception(e.exception) {
                        self.events.push(SessionEvent::SendFlowException {
                            flow: e.flow_id,
                            code: e.exception,
                        });
                    }
                }
                None => stats.drop(DropReason::ExceptionUnknownFlow),
            },
            other => stats.drop_with(DropReason::DataPlaneChunkIgnored, other.name()),
        }
        self.take_events()
    }

    /// §3.6.3.1 startup and §3.6.3.2 receiving data.
    fn on_user_data(&mut self, now: Instant, u: UserData, stats: &mut Stats) {
        self.packet.had_user_data = true;
        let fid = u.flow_id;
        let unknown_option = u.options.iter().flatten().any(|o| {
            (o.kind < user_data_option::IGNORABLE_FROM || fault!(self, reject_ignorable_options))
                && o.kind != user_data_option::METADATA
                && o.kind != user_data_option::RETURN_FLOW_ASSOCIATION
        });
        let existing = self
            .recv
            .get(&fid)
            .is_some_and(|f| f.state != RecvState::RF_CLOSED);
        if !existing
            && self.recv.len()
                >= self
                    .limits
                    .max_flows_per_session
                    .saturating_mul(2)
                    .saturating_add(16)
        {
            // Not even a rejected flow's state fits: nothing is acknowledged, so
            // nothing acknowledged is lost; the sender retries later.
            return stats.drop(DropReason::FlowTableFull);
        }
        if !existing {
            // §3.6.3.1: a new receiving flow.
            #[cfg_attr(not(feature = "test-hooks"), allow(unused_mut))]
            let mut f = RecvFlow::new(fid, self.receive_buffer);
            #[cfg(feature = "test-hooks")]
            {
                f.faults = self.faults;
            }
            f.metadata = u.metadata().map(<[u8]>::to_vec);
            let association = u.return_flow_association();
            let mut reason = None;
            match &association {
                Some(Err(_)) => reason = Some("malformed return flow association"),
                Some(Ok(a)) => {
                    f.association = Some(*a);
                    // Step 6 and 7: the association must name an F_OPEN sending flow.
                    match self.send.get(a) {
                        _ if fault!(self, accept_dangling_association) => {}
                        None => reason = Some("return association names no sending flow"),
                        Some(s) if s.state != SendState::F_OPEN => {
                            reason = Some("return association names a sending flow not F_OPEN")
                        }
                        _ => {}
                    }
                }
                None => {}
            }
            // Step 5: a flow MUST have metadata.
            if f.metadata.is_none() {
                reason = Some("no metadata");
            }
            // Step 8: unrecognised option below 8192.
            if unknown_option {
                reason = reason.or(Some("unrecognised flow option below 0x2000"));
            }
            // §3.6.1.1: a flow ID has no meaning.
            if fid == 0 && fault!(self, refuse_flow_id_0) {
                reason = Some("flow ID 0");
            }
            if reason.is_none() && !self.accept_flows {
                reason = Some("not accepting flows");
            }
            if reason.is_none()
                && self
                    .recv
                    .values()
                    .filter(|f| f.state == RecvState::RF_OPEN)
                    .count()
                    >= self.limits.max_flows_per_session
            {
                // §3.6.3.7: rejected with a Flow Exception Report.
                stats.drop(DropReason::FlowLimit);
                reason = Some("too many flows in this session");
            }
            self.stats.flows_opened += 1;
            match reason {
                Some(r) => {
                    // §2.3.16: an automatic rejection has exception code 0.
                    f.reject(u64::from(fault!(self, nonzero_reject_code)));
                    self.stats.flows_rejected += 1;
                    self.events.push(SessionEvent::FlowRejected {
                        flow: fid,
                        reason: r,
                    });
                }
                None => self.events.push(SessionEvent::FlowOpened {
                    flow: fid,
                    metadata: f.metadata.clone().unwrap_or_default(),
                    association: f.association,
                }),
            }
            self.recv.insert(fid, f);
            // Step 11.
            self.ack_now = true;
        } else if unknown_option {
            // §3.6.3.2 step 4.
            let f = self.recv.get_mut(&fid).expect("exists");
            if f.reject(u64::from(fault!(self, nonzero_reject_code))) {
                self.events.push(SessionEvent::FlowRejected {
                    flow: fid,
                    reason: "unrecognised flow option below 0x2000",
                });
            }
        }
        // The session's limit counts what its sending flows hold too; the
        // endpoint's, the receiving flows of every session.
        let held = self.recv_held();
        let used = held + self.send_held();
        let (session, total) = (self.limits.max_session_buffer, self.endpoint_cap);
        let room = session.saturating_sub(used).min(total.saturating_sub(held));
        let head_room = session
            .saturating_add(OVERCOMMIT)
            .saturating_sub(used)
            .min(total.saturating_add(OVERCOMMIT).saturating_sub(held));
        let f = self.recv.get_mut(&fid).expect("exists");
        let out = f.on_data_owned(now, u, room, head_room);
        if let Some(why) = out.dropped {
            stats.drop(why);
        }
        if !fault!(self, no_obligatory_ack) {
            self.ack_now |= out.ack_now;
        } else {
            self.ack_now = false;
        }
        // §3.6.3.2 step 15.
        if !self.ack_now && self.delack_alarm.is_none() {
            self.delack_alarm = Some(now + DELACK);
        }
        for data in out.messages {
            self.events.push(SessionEvent::Message { flow: fid, data });
        }
        if out.gaps > 0 {
            self.events.push(SessionEvent::Gap {
                flow: fid,
                count: out.gaps,
            });
        }
        if out.complete {
            self.events.push(SessionEvent::FlowComplete { flow: fid });
        }
        self.last_activity = now;
    }

    /// §3.6.2.4: an acknowledgement for a sending flow.
    fn on_ack(
        &mut self,
        now: Instant,
        flow: u64,
        acked: &[(u64, u64)],
        blocks: u64,
        stats: &mut Stats,
    ) {
        self.packet.had_ack = true;
        self.stats.acks_received += 1;
        // §3.5.2.3: an acknowledgement resets DATA_PACKET_COUNT.
        self.burst.on_ack();
        let Some(f) = self.send.get_mut(&flow) else {
            return stats.drop(DropReason::AckUnknownFlow);
        };
        let o = f.on_ack(now, acked, blocks.saturating_mul(1024));
        if o.acked_bytes > 0 && !self.blocked.is_empty() {
            self.wake_writable();
        }
        if o.acked_bytes > 0 {
            self.cc.on_ack(o.acked_bytes);
            self.last_activity = now;
        }
        self.max_tsn_ack = self.max_tsn_ack.max(o.max_tsn);
        if o.completed {
            self.events.push(SessionEvent::SendFlowComplete { flow });
        }
    }

    /// After all chunks of a received packet (§3.6.2.5, Appendix A, §3.6.3.2).
    pub fn end_packet(&mut self, now: Instant) -> Vec<SessionEvent> {
        self.end_packet_with(now, None)
    }

    /// As `end_packet`, knowing when TC was last sent on any session.
    pub fn end_packet_with(&mut self, now: Instant, tc_any: Option<Instant>) -> Vec<SessionEvent> {
        let pre = self.pre_ack_outstanding;
        let mut loss = false;
        if self.packet.had_ack {
            let (mut naks, mut losses) = (0, 0);
            for f in self.send.values_mut() {
                let (n, l) = f.nak_pass(self.max_tsn_ack);
                naks += n;
                losses += l;
            }
            if naks > 0 {
                self.cc.on_nak();
            }
            if losses > 0 {
                self.cc.on_loss();
                loss = true;
            }
            self.stats.naks += u64::from(naks);
            self.stats.losses += u64::from(losses);
            // §3.6.2.6: a packet with an acknowledgement resets the alarm.
            if self.timeout_alarm.is_some() {
                self.timeout_alarm = Some(now + self.erto());
            }
        }
        self.cc.end_packet(self.time_critical.signals(now, tc_any));
        if self.packet.had_ack {
            self.record(
                now,
                if loss {
                    TraceEvent::Loss
                } else {
                    TraceEvent::Ack
                },
                pre,
                false,
            );
        }
        if self.packet.had_user_data {
            self.rx_data_packets += 1;
            if self.rx_data_packets >= 2 && !fault!(self, no_obligatory_ack) {
                self.ack_now = true;
            }
        }
        self.packet = PacketState::default();
        self.take_events()
    }

    fn record(&mut self, now: Instant, event: TraceEvent, pre: usize, loss: bool) {
        let in_flight = self.outstanding_bytes();
        let tcr_recent = !self.time_critical.signals(now, None).fastgrow_allowed
            && !self.time_critical.tc_sent_recently(now);
        let erto = self.erto();
        if let Some(t) = self.trace.as_mut() {
            t.push(Sample {
                time: now,
                event,
                cwnd: self.cc.cwnd(),
                ssthresh: self.cc.ssthresh(),
                in_flight,
                pre_ack_outstanding: pre,
                srtt: self.rtt.srtt,
                rtt: self.rtt.last,
                mrto: self.rtt.mrto,
                erto,
                loss,
                tcr_recent,
            });
        }
    }
}

mod limits;
mod transmit;

pub use limits::event_payload;
