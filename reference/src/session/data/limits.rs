//! What a session's flows hold, and the limits on it (issue 15): bytes held by
//! receiving and sending flows, the endpoint's share, the application consuming
//! delivered messages (§3.6.3.5: the window reopens), suspending delivery
//! (§3.6.3.3), `Writable` for blocked senders, and the heap size for
//! `Endpoint::state_size`.

use super::{Data, SessionEvent};
use crate::flow::{FlowError, RecvFlow, RecvState, SendFlow, SendState};

/// Heap bytes an event carries.
pub fn event_payload(e: &SessionEvent) -> usize {
    match e {
        SessionEvent::FlowOpened { metadata, .. } => metadata.len(),
        SessionEvent::Message { data, .. } => data.len(),
        SessionEvent::MessagesAbandoned { messages, .. } => messages.len() * 16,
        SessionEvent::Aborted { reason } => reason.len(),
        _ => 0,
    }
}

impl Data {
    /// Blocked sending flows that have room again get `Writable`.
    pub(super) fn wake_writable(&mut self) {
        if self.send_held() + self.recv_held() >= self.limits.max_session_buffer {
            return;
        }
        let limit = self.limits.send_buffer;
        let send = &self.send;
        let events = &mut self.events;
        self.blocked.retain(|flow| match send.get(flow) {
            Some(f) if f.state == SendState::F_OPEN => {
                if f.queued_bytes() < limit {
                    events.push(SessionEvent::Writable { flow: *flow });
                    false
                } else {
                    true
                }
            }
            _ => false,
        });
    }

    /// Bytes held by this session's receiving flows: reassembly buffers and
    /// delivered messages the application has not consumed.
    pub fn recv_held(&self) -> usize {
        self.recv.values().map(RecvFlow::held).sum()
    }

    /// Heap bytes this data plane holds (beyond the `Data` struct itself):
    /// flows, their buffers and sequence sets, queued messages, events, trace.
    pub fn heap_size(&self) -> usize {
        use std::mem::size_of;
        // A B-tree entry's share of its node, roughly.
        const NODE: usize = 16;
        let recv: usize = self
            .recv
            .values()
            .map(|f| {
                size_of::<RecvFlow>()
                    + NODE
                    + f.held()
                    + f.sequence_set().len() * 2 * size_of::<u64>()
                    + f.metadata.as_ref().map_or(0, Vec::len)
            })
            .sum();
        let send: usize = self
            .send
            .values()
            .map(|f| {
                size_of::<SendFlow>() + NODE + f.metadata.len() + f.queued() * 64 + f.queued_bytes()
            })
            .sum();
        let events: usize = self
            .events
            .iter()
            .map(|e| size_of::<SessionEvent>() + event_payload(e))
            .sum();
        let trace = self.trace.as_ref().map_or(0, |t| {
            t.samples.capacity() * size_of::<crate::congestion::trace::Sample>()
        });
        recv + send + events + trace + self.blocked.len() * NODE
    }

    /// Bytes queued on this session's sending flows, not yet acknowledged.
    pub fn send_held(&self) -> usize {
        self.send.values().map(SendFlow::queued_bytes).sum()
    }

    /// The endpoint's limit leaves this session `room` more bytes (beyond what
    /// it holds now) for its receiving flows.
    pub fn set_endpoint_room(&mut self, room: usize) {
        self.endpoint_cap = room.saturating_add(self.recv_held());
    }

    /// The application consumed a delivered message of `bytes` on `flow`;
    /// returns how many bytes were released (0 if the flow is gone).
    pub fn consumed(&mut self, flow: u64, bytes: usize) -> usize {
        let Some(f) = self.recv.get_mut(&flow) else {
            return 0;
        };
        let before = f.held();
        f.consumed(bytes);
        let released = before - f.held();
        if released > 0 && f.advertised_blocks() > 0 && f.state == RecvState::RF_OPEN {
            // The window reopened: tell the sender soon (§3.6.3.5).
            f.should_ack = true;
        }
        if released > 0 && !self.blocked.is_empty() {
            self.wake_writable();
        }
        released
    }

    /// §3.6.3.3: the user suspends (or resumes) delivery on a receiving flow;
    /// while suspended its window closes as its buffer fills (§3.6.3.5).
    pub fn set_suspended(&mut self, flow: u64, suspended: bool) -> Result<(), FlowError> {
        let f = self.recv.get_mut(&flow).ok_or(FlowError::NoSuchFlow)?;
        if !suspended && f.suspended {
            let out = f.resume();
            f.should_ack = true;
            self.ack_now = true;
            for data in out.messages {
                self.events.push(SessionEvent::Message { flow, data });
            }
            if out.gaps > 0 {
                self.events.push(SessionEvent::Gap {
                    flow,
                    count: out.gaps,
                });
            }
        }
        f.suspended = suspended;
        Ok(())
    }
}
