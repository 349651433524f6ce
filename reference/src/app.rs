//! Small applications on top of the endpoint, shared by the CLI and the tests.

use std::collections::{BTreeMap, VecDeque};

use crate::endpoint::{Endpoint, SessionHandle};
use crate::flow::FlowError;
use crate::session::SessionEvent;
use crate::session::data::FlowOptions;
use crate::time::Instant;

/// The echo service of `rtmfp serve`: every accepted flow is answered on a
/// return flow (same metadata, Return Flow Association to it) carrying the same
/// messages, closed when the flow completes. If the peer rejects the return flow,
/// the flow is sunk instead.
///
/// Backpressure (RFC 7016 §3.6.3.5): when a return flow's send buffer is full
/// (`FlowError::WouldBlock`) the echo keeps the message, suspends delivery on the
/// flow it echoes (so its advertised window closes and a conforming sender
/// stops), and resumes when the return flow is `Writable` again. A peer that
/// never acknowledges the echoes therefore cannot make the echo hold more than
/// one send buffer and one receive window per flow. The sink consumes everything.
#[derive(Debug, Default)]
pub struct Echo {
    /// Sink instead of echo.
    pub sink: bool,
    returns: BTreeMap<(SessionHandle, u64), Return>,
    pub messages: u64,
    pub bytes: u64,
    /// Times a return flow was full and its flow suspended.
    pub stalls: u64,
}

/// A flow's return flow and the echoes waiting for room on it.
#[derive(Debug)]
struct Return {
    flow: u64,
    pending: VecDeque<Vec<u8>>,
    /// The flow completed: close the return flow once `pending` is sent.
    closing: bool,
}

impl Echo {
    pub fn new(sink: bool) -> Self {
        Echo {
            sink,
            ..Default::default()
        }
    }

    /// Messages kept for return flows that were full.
    pub fn pending_bytes(&self) -> usize {
        self.returns
            .values()
            .flat_map(|r| r.pending.iter())
            .map(Vec::len)
            .sum()
    }

    /// The session is gone: forget its return flows.
    pub fn forget_session(&mut self, session: SessionHandle) {
        self.returns.retain(|(s, _), _| *s != session);
    }

    /// Sends what waits for `flow`'s return flow; resumes `flow` once all went.
    fn drain(&mut self, ep: &mut Endpoint, now: Instant, session: SessionHandle, flow: u64) {
        let Some(r) = self.returns.get_mut(&(session, flow)) else {
            return;
        };
        while let Some(m) = r.pending.front() {
            match ep.send(now, session, r.flow, m, None) {
                Ok(_) => {
                    r.pending.pop_front();
                }
                Err(FlowError::WouldBlock) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "echo not sent");
                    r.pending.clear();
                }
            }
        }
        if r.closing {
            let _ = ep.close_flow(now, session, r.flow);
            self.returns.remove(&(session, flow));
        } else {
            let _ = ep.set_suspended(now, session, flow, false);
        }
    }

    /// Reacts to one session event.
    pub fn on_event(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        event: SessionEvent,
    ) {
        match event {
            SessionEvent::FlowOpened {
                flow,
                metadata,
                association,
            } => {
                tracing::info!(session = session.0, flow, metadata = %String::from_utf8_lossy(&metadata), ?association, "flow opened");
                if !self.sink {
                    match ep.open_flow(now, session, metadata, Some(flow), FlowOptions::default()) {
                        Ok(r) => {
                            self.returns.insert(
                                (session, flow),
                                Return {
                                    flow: r,
                                    pending: VecDeque::new(),
                                    closing: false,
                                },
                            );
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot open return flow"),
                    }
                }
            }
            SessionEvent::Message { flow, data } => {
                self.messages += 1;
                self.bytes += data.len() as u64;
                let Some(r) = self.returns.get_mut(&(session, flow)) else {
                    return;
                };
                if !r.pending.is_empty() {
                    r.pending.push_back(data);
                    return;
                }
                match ep.send(now, session, r.flow, &data, None) {
                    Ok(_) => {}
                    Err(FlowError::WouldBlock) => {
                        // Keep it, and stop taking more until the return flow drains.
                        r.pending.push_back(data);
                        self.stalls += 1;
                        let _ = ep.set_suspended(now, session, flow, true);
                    }
                    Err(e) => tracing::debug!(error = %e, "echo not sent"),
                }
            }
            SessionEvent::Writable { flow: writable } => {
                let echoed = self
                    .returns
                    .iter()
                    .find(|((s, _), r)| *s == session && r.flow == writable)
                    .map(|((_, f), _)| *f);
                if let Some(flow) = echoed {
                    self.drain(ep, now, session, flow);
                }
            }
            SessionEvent::FlowComplete { flow } => {
                tracing::info!(session = session.0, flow, "flow complete");
                if let Some(r) = self.returns.get_mut(&(session, flow)) {
                    r.closing = true;
                    if r.pending.is_empty() {
                        let _ = ep.close_flow(now, session, r.flow);
                        self.returns.remove(&(session, flow));
                    }
                }
            }
            SessionEvent::SendFlowException { flow, code } => {
                tracing::info!(
                    session = session.0,
                    flow,
                    code,
                    "return flow rejected by the peer; sinking"
                );
                // RFC 7016 §3.6.1.1: flows are multiplexed in a session by their
                // identifier, chosen per session; concurrent sessions reuse the same
                // IDs. Forget only this session's return flow, not every session's
                // return flow that happens to have the same ID.
                let sunk: Vec<u64> = self
                    .returns
                    .iter()
                    .filter(|((s, _), r)| *s == session && r.flow == flow)
                    .map(|((_, f), _)| *f)
                    .collect();
                for f in sunk {
                    self.returns.remove(&(session, f));
                    let _ = ep.set_suspended(now, session, f, false);
                }
            }
            SessionEvent::FlowRejected { flow, reason } => {
                tracing::info!(session = session.0, flow, reason, "flow rejected");
            }
            SessionEvent::Aborted { reason } => {
                self.forget_session(session);
                tracing::info!(session = session.0, reason, "flows aborted");
            }
            other => tracing::debug!(?other, "session event"),
        }
    }
}
