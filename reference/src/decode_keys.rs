//! Telling a key log that belongs to another conversation (or is wrong) from
//! integrity failures by the sender: `rtmfp dump` and the pcap target both
//! report it once per session.

use std::net::SocketAddr;

use super::{DecodedPacket, KeyUsed, Status, fail};

/// How the failure reason of a datagram starts when the key log's keys for
/// its session open none of the packets sent to that session.
pub const KEYS_MISMATCH: &str = "the key log does not match this session";

/// A session whose logged keys open none of the packets sent to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMismatch {
    pub dst: SocketAddr,
    pub session_id: u32,
    /// Packets sent to it that the keys failed to open.
    pub packets: usize,
}

/// A session the key log has keys for that open none of the packets sent to
/// it (tried on all of them, from its first) has a key log for another
/// conversation, or a wrong one: not dozens of integrity failures by the
/// sender. Those packets' failure reasons say so ([`KEYS_MISMATCH`]); returns
/// the sessions, for `rtmfp dump` and the pcap target to report.
pub fn mark_unmatched_keys(packets: &mut [DecodedPacket]) -> Vec<KeyMismatch> {
    use std::collections::BTreeMap;
    // A session packet that the logged keys failed to open (not: no keys).
    let wrong_key = |p: &DecodedPacket| {
        matches!(&p.status, Status::Failed { reason }
            if reason.starts_with("session ") && !reason.contains("no key log entry"))
    };
    let mut groups: BTreeMap<(SocketAddr, u32), (usize, usize)> = BTreeMap::new();
    for p in packets.iter() {
        let Some(sid) = p.session_id.filter(|&s| s != 0) else {
            continue;
        };
        let g = groups.entry((p.dst, sid)).or_default();
        if matches!(p.status, Status::Decoded) && p.key == Some(KeyUsed::Session) {
            g.0 += 1;
        } else if wrong_key(p) {
            g.1 += 1;
        }
    }
    let bad: Vec<KeyMismatch> = groups
        .into_iter()
        .filter(|(_, g)| g.0 == 0 && g.1 > 0)
        .map(|((dst, session_id), g)| KeyMismatch {
            dst,
            session_id,
            packets: g.1,
        })
        .collect();
    for p in packets.iter_mut() {
        if let Some(m) = bad
            .iter()
            .find(|m| Some(m.session_id) == p.session_id && m.dst == p.dst)
            && wrong_key(p)
        {
            fail(
                p,
                format!(
                    "{KEYS_MISMATCH} (session ID {:08x} at {}: the logged keys open none of its {} packets)",
                    m.session_id, m.dst, m.packets
                ),
            );
        }
    }
    bad
}
