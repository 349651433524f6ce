//! Small applications on top of the endpoint, shared by the CLI and the tests.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::endpoint::{Endpoint, SessionHandle};
use crate::session::SessionEvent;
use crate::session::data::FlowOptions;
use crate::time::Instant;

/// The echo service of `rtmfp serve`: every accepted flow is answered on a
/// return flow (same metadata, Return Flow Association to it) carrying the same
/// messages, closed when the flow completes. If the peer rejects the return flow,
/// the flow is sunk instead.
#[derive(Debug, Default)]
pub struct Echo {
    /// Sink instead of echo.
    pub sink: bool,
    returns: BTreeMap<(SessionHandle, u64), u64>,
    pub messages: u64,
    pub bytes: u64,
}

/// A return flow's queue beyond which echoes are dropped (memory bound).
const MAX_ECHO_QUEUE: usize = 16 << 20;

impl Echo {
    pub fn new(sink: bool) -> Self {
        Echo {
            sink,
            ..Default::default()
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
                            self.returns.insert((session, flow), r);
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot open return flow"),
                    }
                }
            }
            SessionEvent::Message { flow, data } => {
                self.messages += 1;
                self.bytes += data.len() as u64;
                if let Some(&r) = self.returns.get(&(session, flow)) {
                    let queued = ep
                        .session(session)
                        .and_then(|s| s.data.send_flow(r))
                        .map_or(0, |f| f.queued_bytes());
                    if queued > MAX_ECHO_QUEUE {
                        tracing::warn!(flow, "echo queue full, message not echoed");
                    } else if let Err(e) =
                        ep.send(now, session, r, &data, Some(now + Duration::from_secs(60)))
                    {
                        tracing::debug!(error = %e, "echo not sent");
                    }
                }
            }
            SessionEvent::FlowComplete { flow } => {
                tracing::info!(session = session.0, flow, "flow complete");
                if let Some(r) = self.returns.remove(&(session, flow)) {
                    let _ = ep.close_flow(now, session, r);
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
                self.returns
                    .retain(|&(s, _), r| !(s == session && *r == flow));
            }
            SessionEvent::FlowRejected { flow, reason } => {
                tracing::info!(session = session.0, flow, reason, "flow rejected");
            }
            SessionEvent::Aborted { reason } => {
                self.returns.retain(|(s, _), _| *s != session);
                tracing::info!(session = session.0, reason, "flows aborted");
            }
            other => tracing::debug!(?other, "session event"),
        }
    }
}
