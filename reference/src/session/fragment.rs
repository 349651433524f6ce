//! RFC 7016 §3.4 packet fragmentation and reassembly (Packet Fragment chunks).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::time::Instant;
use crate::wire::{Chunk, Header, Mode, Packet, PacketFragment};

/// Splits an unavoidably large plain packet into packets of at most `mtu` bytes,
/// each with one Packet Fragment chunk, in the same mode (§3.4: "The mode of each
/// packet containing Packet Fragments ... MUST match the mode of the fragmented
/// packet").
pub fn fragment(packet: &[u8], mode: Mode, packet_id: u64, mtu: usize) -> Vec<Vec<u8>> {
    // header (1) + chunk header (3) + flags (1) + two VLUs (<= 10 each)
    let room = mtu.saturating_sub(1 + 3 + 1 + 20).max(1);
    let pieces: Vec<&[u8]> = packet.chunks(room).collect();
    let n = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let p = Packet::new(
                Header::new(mode),
                vec![Chunk::PacketFragment(PacketFragment {
                    more_fragments: i + 1 < n,
                    reserved: 0,
                    packet_id,
                    // §2.3.1: the first fragment MUST be index 0, numbered consecutively.
                    fragment_num: i as u64,
                    packet_fragment: piece.to_vec(),
                })],
            );
            p.to_bytes().expect("fragments fit a chunk")
        })
        .collect()
}

/// Why a fragment was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentDrop {
    /// §3.4: MUST discard a fragment in a packet whose mode differs from the mode
    /// of the packet that carried the first received fragment.
    ModeMismatch,
    /// §3.4: resource limits (buffer size or number of buffers).
    Limit,
    /// A fragment number beyond the final fragment, or a second final fragment.
    Inconsistent,
}

impl FragmentDrop {
    /// The endpoint's counter for this drop.
    pub fn reason(self) -> crate::stats::DropReason {
        use crate::stats::DropReason;
        match self {
            FragmentDrop::ModeMismatch => DropReason::FragmentModeMismatch,
            FragmentDrop::Limit => DropReason::FragmentLimit,
            FragmentDrop::Inconsistent => DropReason::FragmentInconsistent,
        }
    }
}

/// Limits on reassembly (§3.4: a receiver SHOULD limit the number of concurrent
/// reassembly buffers and the size of each; 65536 bytes is the suggested default).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_buffers: usize,
    pub max_bytes: usize,
    /// §3.4: allow up to 60 s for a packet that is making progress ...
    pub max_age: Duration,
    /// ... where progress is a new fragment within the last second.
    pub progress: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_buffers: 64,
            max_bytes: 65_536,
            max_age: Duration::from_secs(60),
            progress: Duration::from_secs(1),
        }
    }
}

#[derive(Debug)]
struct Buffer {
    mode: Mode,
    pieces: BTreeMap<u64, Vec<u8>>,
    last: Option<u64>,
    bytes: usize,
    started: Instant,
    progressed: Instant,
}

/// Reassembly buffers keyed by source address and packetID (§3.4: for session 0
/// a receiver SHOULD identify packets by source address as well as packetID).
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: Limits,
    buffers: BTreeMap<(SocketAddr, u64), Buffer>,
}

impl Reassembler {
    pub fn new(limits: Limits) -> Self {
        Reassembler {
            limits,
            buffers: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.buffers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffers.is_empty()
    }

    /// Takes one fragment; returns the reassembled packet when complete.
    pub fn add(
        &mut self,
        now: Instant,
        from: SocketAddr,
        mode: Mode,
        f: &PacketFragment,
    ) -> Result<Option<Vec<u8>>, FragmentDrop> {
        self.expire(now);
        let key = (from, f.packet_id);
        if !self.buffers.contains_key(&key) && self.buffers.len() >= self.limits.max_buffers {
            return Err(FragmentDrop::Limit);
        }
        let b = self.buffers.entry(key).or_insert_with(|| Buffer {
            mode,
            pieces: BTreeMap::new(),
            last: None,
            bytes: 0,
            started: now,
            progressed: now,
        });
        if b.mode != mode {
            return Err(FragmentDrop::ModeMismatch);
        }
        if !f.more_fragments {
            let later = b
                .pieces
                .range((
                    std::ops::Bound::Excluded(f.fragment_num),
                    std::ops::Bound::Unbounded,
                ))
                .next()
                .is_some();
            if later || b.last.is_some_and(|l| l != f.fragment_num) {
                return Err(FragmentDrop::Inconsistent);
            }
            b.last = Some(f.fragment_num);
        }
        if b.last.is_some_and(|l| f.fragment_num > l) {
            return Err(FragmentDrop::Inconsistent);
        }
        if !b.pieces.contains_key(&f.fragment_num) {
            if b.bytes + f.packet_fragment.len() > self.limits.max_bytes {
                self.buffers.remove(&key);
                return Err(FragmentDrop::Limit);
            }
            b.bytes += f.packet_fragment.len();
            b.pieces.insert(f.fragment_num, f.packet_fragment.clone());
            b.progressed = now;
        }
        let complete = b
            .last
            .is_some_and(|l| b.pieces.len() as u64 == l + 1 && b.pieces.keys().next() == Some(&0));
        if !complete {
            return Ok(None);
        }
        let b = self.buffers.remove(&key).expect("present");
        Ok(Some(b.pieces.into_values().flatten().collect()))
    }

    /// Drops buffers that stopped progressing or are too old.
    pub fn expire(&mut self, now: Instant) {
        let l = self.limits;
        self.buffers
            .retain(|_, b| now - b.progressed <= l.progress && now - b.started <= l.max_age);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frags(packet: &[u8], mtu: usize) -> Vec<PacketFragment> {
        fragment(packet, Mode::Startup, 9, mtu)
            .iter()
            .map(|b| {
                let p = Packet::parse(b).unwrap();
                assert!(b.len() <= mtu);
                assert_eq!(p.header.mode, Mode::Startup);
                match &p.chunks[0] {
                    Chunk::PacketFragment(f) => f.clone(),
                    c => panic!("{c:?}"),
                }
            })
            .collect()
    }

    #[test]
    fn s3_4_fragment_and_reassemble_in_any_order() {
        let packet: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let fs = frags(&packet, 500);
        assert!(fs.len() >= 7);
        assert_eq!(
            fs[0].fragment_num, 0,
            "§2.3.1: the first fragment MUST be index 0"
        );
        assert!(fs.iter().rev().skip(1).all(|f| f.more_fragments));
        assert!(!fs.last().unwrap().more_fragments);
        let mut r = Reassembler::default();
        let from: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let t = Instant::from_millis(5);
        let mut out = None;
        for f in fs.iter().rev() {
            if let Some(p) = r.add(t, from, Mode::Startup, f).unwrap() {
                out = Some(p);
            }
        }
        assert_eq!(out.unwrap(), packet);
        assert!(r.is_empty());
    }

    #[test]
    fn s3_4_mode_mismatch_and_limits() {
        let packet = vec![1u8; 2000];
        let fs = frags(&packet, 600);
        let from: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let t = Instant::from_millis(5);
        let mut r = Reassembler::default();
        r.add(t, from, Mode::Startup, &fs[0]).unwrap();
        // §3.4: MUST discard a fragment whose packet mode differs from the first one's.
        assert_eq!(
            r.add(t, from, Mode::Initiator, &fs[1]),
            Err(FragmentDrop::ModeMismatch)
        );
        // Not progressing for more than a second: gone.
        r.expire(t + Duration::from_millis(1500));
        assert!(r.is_empty());
        let mut small = Reassembler::new(Limits {
            max_bytes: 1000,
            ..Default::default()
        });
        let mut res = Ok(None);
        for f in &fs {
            res = small.add(t, from, Mode::Startup, f);
            if res.is_err() {
                break;
            }
        }
        assert_eq!(res, Err(FragmentDrop::Limit));
        let mut few = Reassembler::new(Limits {
            max_buffers: 1,
            ..Default::default()
        });
        let mut other = fs[0].clone();
        other.packet_id = 77;
        few.add(t, from, Mode::Startup, &fs[0]).unwrap();
        assert_eq!(
            few.add(t, from, Mode::Startup, &other),
            Err(FragmentDrop::Limit)
        );
    }
}
