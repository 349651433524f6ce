//! The data plane of one open session: flows, acknowledgements, timestamps, RTT
//! and ERTO, congestion control. (Being assembled from `flow` and `congestion`.)

use std::time::Duration;

use crate::endpoint::Stats;
use crate::session::config::EndpointConfig;
use crate::time::Instant;
use crate::wire::{Chunk, Header, Mode, Packet};

/// Flow and message events of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Placeholder until flows are wired in.
    Aborted { reason: String },
}

/// Chunks to add to an outgoing packet.
#[derive(Debug, Default)]
pub struct Fill {
    pub chunks: Vec<Chunk>,
    pub time_critical: bool,
}

/// The per-session data plane.
#[derive(Debug)]
pub struct Data {
    last_activity: Instant,
    last_sent: Instant,
    events: Vec<SessionEvent>,
    ts_tx: Option<u16>,
}

impl Data {
    pub fn new(_config: &EndpointConfig, now: Instant) -> Self {
        Data {
            last_activity: now,
            last_sent: now,
            events: Vec::new(),
            ts_tx: None,
        }
    }

    pub fn on_open(&mut self, now: Instant) {
        self.last_activity = now;
    }

    pub fn abort_all(&mut self, _reason: &str) -> Vec<SessionEvent> {
        Vec::new()
    }

    pub fn begin_packet(&mut self, now: Instant, _h: &Header) {
        self.last_activity = now;
    }

    pub fn on_chunk(&mut self, _now: Instant, _c: Chunk, _stats: &mut Stats) -> Vec<SessionEvent> {
        Vec::new()
    }

    pub fn end_packet(&mut self, _now: Instant) -> Vec<SessionEvent> {
        Vec::new()
    }

    pub fn on_timeout(&mut self, _now: Instant) -> Vec<SessionEvent> {
        Vec::new()
    }

    pub fn outstanding_bytes(&self) -> usize {
        0
    }

    pub fn is_idle(&self) -> bool {
        true
    }

    pub fn last_activity(&self) -> Instant {
        self.last_activity
    }

    pub fn last_sent(&self) -> Instant {
        self.last_sent
    }

    pub fn mrto(&self) -> Duration {
        Duration::from_millis(250)
    }

    pub fn erto(&self) -> Duration {
        Duration::from_secs(3)
    }

    pub fn backoff_erto(&mut self) {}

    pub fn next_timeout(&self) -> Option<Instant> {
        None
    }

    pub fn header(&mut self, now: Instant, mode: Mode, time_critical: bool) -> Header {
        let mut h = Header::new(mode);
        h.time_critical = time_critical;
        let ts = now.timestamp_250hz();
        if self.ts_tx != Some(ts) {
            self.ts_tx = Some(ts);
            h.timestamp = Some(ts);
        }
        h
    }

    pub fn fill(&mut self, _now: Instant, _room: usize, _stats: &mut Stats) -> Fill {
        Fill::default()
    }

    pub fn on_sent(&mut self, now: Instant, _p: &Packet) {
        self.last_sent = now;
    }

    pub fn take_events(&mut self) -> Vec<SessionEvent> {
        std::mem::take(&mut self.events)
    }
}
