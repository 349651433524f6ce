//! Every byte an endpoint holds for its peers ([`Endpoint::state_size`]).

use super::{Endpoint, Event, Pacer, SessionHandle, Transmit};

impl Endpoint {
    /// Every byte the endpoint holds for its peers (approximately: struct sizes
    /// plus what their buffers hold): sessions with their flows, buffers, keys
    /// and unpolled session events, the session-ID index, reassembly buffers
    /// (§3.4), startup pacers and the datagrams they hold, closed sessions kept
    /// for taps, and the datagrams and events not yet polled. An idle endpoint
    /// holds 0. Per-initiator state before a valid IIKeying is none, by design
    /// (§3.5.1.1.2): tests assert this stays flat under floods of spoofed or
    /// malformed startup packets. (The drop counters and the startup answers'
    /// rate-limit table are fixed-size, as are the scratch buffers packets are
    /// opened and sealed in: one datagram, and one flush of at most eight
    /// packets, shared by all sessions.)
    pub fn state_size(&self) -> usize {
        use std::mem::size_of;
        const NODE: usize = 16;
        let sessions: usize = self
            .sessions
            .values()
            .map(|s| s.state_size() + NODE + size_of::<SessionHandle>())
            .sum();
        let pacers: usize = self
            .pacers
            .values()
            .map(|p| {
                size_of::<Pacer>()
                    + NODE
                    + p.recent.len() * 16
                    + p.queue.iter().map(|d| d.len() + 24).sum::<usize>()
            })
            .sum();
        let outbox: usize = self
            .outbox
            .iter()
            .map(|t| size_of::<Transmit>() + t.data.len())
            .sum();
        let events: usize = self.events.iter().map(event_size).sum();
        sessions
            + self.by_sid.len() * (NODE + 12)
            + self.reassembly.bytes()
            + self.reassembly.len() * 128
            + pacers
            + outbox
            + events
            + self.closed_taps_size()
    }
}

/// Bytes an event holds.
fn event_size(e: &Event) -> usize {
    std::mem::size_of::<Event>()
        + match e {
            Event::SessionOpened {
                far_certificate, ..
            } => far_certificate.len(),
            Event::SessionOpenFailed { reason, .. } | Event::SessionClosed { reason, .. } => {
                reason.len()
            }
            Event::KeyLog { facts, .. } => facts.iter().map(|(a, b)| a.len() + b.len() + 48).sum(),
            Event::Session { event, .. } => crate::session::data::event_payload(event),
            Event::Packet { plain, .. } => plain.len(),
            Event::Undecodable { reason, .. } => reason.len(),
            Event::AddressChanged { .. } => 0,
        }
}
