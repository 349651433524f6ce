//! The capture decoder's lookup maps: sessions by the session ID each
//! direction is sent to, IIKeyings waiting for their RIKeying by initiator
//! session ID (one lookup per datagram, not a scan: issue 15).

use std::net::SocketAddr;

use super::{Decoder, Direction, PendingKeying};

impl Decoder {
    /// Adds session `i`'s session IDs to the index.
    pub(super) fn index_session(&mut self, i: usize) {
        for dir in [
            Direction::InitiatorToResponder,
            Direction::ResponderToInitiator,
        ] {
            if let Some(sid) = self.sessions[i].session_id_to(dir) {
                let v = self.by_sid.entry(sid).or_default();
                if !v.contains(&(i, dir)) {
                    v.push((i, dir));
                }
            }
        }
    }

    /// Removes session `i`'s session IDs from the index (before they change).
    pub(super) fn unindex_session(&mut self, i: usize) {
        for dir in [
            Direction::InitiatorToResponder,
            Direction::ResponderToInitiator,
        ] {
            if let Some(sid) = self.sessions[i].session_id_to(dir)
                && let Some(v) = self.by_sid.get_mut(&sid)
            {
                v.retain(|&x| x != (i, dir));
                if v.is_empty() {
                    self.by_sid.remove(&sid);
                }
            }
        }
    }

    /// Removes the IIKeying waiting between `key`'s (initiator, responder).
    pub(super) fn forget_pending(
        &mut self,
        key: (SocketAddr, SocketAddr),
    ) -> Option<PendingKeying> {
        let pk = self.pending.remove(&key)?;
        if let Some(v) = self.pending_by_sid.get_mut(&pk.initiator_session_id) {
            v.retain(|k| *k != key);
            if v.is_empty() {
                self.pending_by_sid.remove(&pk.initiator_session_id);
            }
        }
        Some(pk)
    }
}
