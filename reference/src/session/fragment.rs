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
    /// Buffers per source socket address (§3.4 identifies startup packets by
    /// source address): one source cannot take the whole table.
    pub per_source: usize,
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
            per_source: 4,
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
    /// Buffers given up for a newer one (the limits above).
    pub evicted: u64,
}

impl Reassembler {
    pub fn new(limits: Limits) -> Self {
        Reassembler {
            limits,
            buffers: BTreeMap::new(),
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.buffers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffers.is_empty()
    }

    /// Bytes held in reassembly buffers.
    pub fn bytes(&self) -> usize {
        self.buffers.values().map(|b| b.bytes).sum()
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
        if !self.buffers.contains_key(&key) {
            // A new buffer. A source at its limit gives up its own stalest
            // buffer; a full table gives up the buffer with the fewest fragments
            // (the stalest among those). A flood of fragments from spoofed
            // sources, each a buffer that never completes, churns among itself,
            // while a real peer's reassembly, a few fragments in, survives it.
            let own = self.buffers.range((from, 0)..=(from, u64::MAX));
            let victim = if own.clone().count() >= self.limits.per_source.max(1) {
                own.min_by_key(|(_, b)| b.progressed).map(|(k, _)| *k)
            } else if self.buffers.len() >= self.limits.max_buffers {
                if self.limits.max_buffers == 0 {
                    return Err(FragmentDrop::Limit);
                }
                self.buffers
                    .iter()
                    .min_by_key(|(_, b)| (b.pieces.len(), b.progressed))
                    .map(|(k, _)| *k)
            } else {
                None
            };
            if let Some(v) = victim {
                self.buffers.remove(&v);
                self.evicted += 1;
            }
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
        // The table is full: the new packet's buffer replaces the old one.
        assert_eq!(few.add(t, from, Mode::Startup, &other), Ok(None));
        assert_eq!((few.len(), few.evicted), (1, 1));
    }

    /// §3.4 identifies reassembly by source address: one source cannot hold more
    /// than its share, and a flood of never-completing fragments from spoofed
    /// sources does not starve a real peer's reassembly in progress.
    #[test]
    fn s3_4_spoofed_fragments_do_not_starve_a_real_reassembly() {
        let packet: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let fs = frags(&packet, 600);
        assert!(fs.len() >= 5);
        let real: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let mut r = Reassembler::default();
        let t = Instant::from_millis(5);
        r.add(t, real, Mode::Startup, &fs[0]).unwrap();
        r.add(t, real, Mode::Startup, &fs[1]).unwrap();
        let mut done = None;
        for (k, f) in fs.iter().enumerate().skip(2) {
            // Between two real fragments, 10,000 spoofed ones, each a new buffer.
            for i in 0..10_000u32 {
                let spoofed = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 9));
                let mut junk = fs[0].clone();
                junk.packet_id = u64::from(i) + 1000 * k as u64;
                let _ = r.add(t, spoofed, Mode::Startup, &junk);
                assert!(r.len() <= Limits::default().max_buffers);
            }
            done = r.add(t, real, Mode::Startup, f).unwrap();
        }
        assert_eq!(done, Some(packet), "the real packet was reassembled");
        // One source: at most `per_source` buffers, its own oldest given up.
        let mut one = Reassembler::default();
        for id in 0..100u64 {
            let mut f = fs[0].clone();
            f.packet_id = id;
            one.add(t, real, Mode::Startup, &f).unwrap();
        }
        assert_eq!(one.len(), Limits::default().per_source);
    }
}
