//! Reading and writing packet captures (pcap, pcapng) of UDP datagrams.
//!
//! The container formats are the `pcap-file` crate's; this module decodes the link
//! layers (Ethernet with VLAN tags, BSD loopback/NULL, LOOP, raw IP, Linux cooked
//! SLL and SLL2), IPv4 and IPv6 (with extension headers) and UDP, and writes
//! Ethernet/IP/UDP frames with correct checksums. Whole files are read into
//! memory first, so a record that claims more bytes than the file holds is a
//! "truncated record" error, never an allocation.

use std::borrow::Cow;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter as FileWriter, RawPcapPacket};
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

/// Why a capture could not be read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng file (starts with {head})")]
    NotACapture { path: PathBuf, head: String },
    #[error("{path}: truncated record {record} at byte offset {offset}")]
    Truncated {
        path: PathBuf,
        record: usize,
        offset: usize,
    },
    #[error("{path}: record {record} at byte offset {offset}: {message}")]
    BadRecord {
        path: PathBuf,
        record: usize,
        offset: usize,
        message: String,
    },
}

/// A complete UDP datagram found in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpDatagram {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
    /// IPv4 TOS or IPv6 traffic class (ECN bits included).
    pub tos: u8,
}

/// What a record held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKind {
    Udp(UdpDatagram),
    /// Not a complete UDP datagram, and why (TCP, ARP, fragment, snapped, ...).
    Skipped {
        reason: String,
    },
}

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based frame number.
    pub index: usize,
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    pub kind: RecordKind,
}

/// A whole capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capture {
    pub records: Vec<Record>,
}

impl Capture {
    /// The UDP datagrams, with their records.
    pub fn datagrams(&self) -> impl Iterator<Item = (&Record, &UdpDatagram)> {
        self.records.iter().filter_map(|r| match &r.kind {
            RecordKind::Udp(u) => Some((r, u)),
            RecordKind::Skipped { .. } => None,
        })
    }
}

/// Reads a capture file.
pub fn read_file(path: &Path) -> Result<Capture, CaptureError> {
    let bytes = std::fs::read(path).map_err(|source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_named(&bytes, path)
}

/// Reads a capture held in memory.
pub fn read_bytes(bytes: &[u8]) -> Result<Capture, CaptureError> {
    read_named(bytes, Path::new("<memory>"))
}

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

fn read_named(bytes: &[u8], path: &Path) -> Result<Capture, CaptureError> {
    let head = bytes.get(..4).unwrap_or(bytes);
    if PCAP_MAGICS.iter().any(|m| m == head) {
        read_pcap(bytes, path)
    } else if head == PCAPNG_MAGIC {
        read_pcapng(bytes, path)
    } else {
        Err(CaptureError::NotACapture {
            path: path.to_path_buf(),
            head: if bytes.is_empty() {
                "nothing: the file is empty".into()
            } else {
                format!("bytes {}", hex::encode(&bytes[..bytes.len().min(8)]))
            },
        })
    }
}

fn read_pcap(bytes: &[u8], path: &Path) -> Result<Capture, CaptureError> {
    let (mut rest, header) = PcapHeader::from_slice(bytes).map_err(|e| match e {
        PcapError::IncompleteBuffer => CaptureError::Truncated {
            path: path.to_path_buf(),
            record: 0,
            offset: 0,
        },
        e => CaptureError::NotACapture {
            path: path.to_path_buf(),
            head: format!("a bad pcap header ({e})"),
        },
    })?;
    let link = u32::from(header.datalink);
    let mut out = Capture::default();
    while !rest.is_empty() {
        let record = out.records.len() + 1;
        let offset = bytes.len() - rest.len();
        // Record header: ts_sec, ts_frac, incl_len, orig_len in the file's byte order.
        let Some(h) = rest.get(..16) else {
            return Err(CaptureError::Truncated {
                path: path.to_path_buf(),
                record,
                offset,
            });
        };
        let word = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            match header.endianness {
                Endianness::Big => u32::from_be_bytes(b),
                Endianness::Little => u32::from_le_bytes(b),
            }
        };
        let (ts_sec, ts_frac, incl_len, orig_len) = (word(0), word(4), word(8) as usize, word(12));
        let Some(data) = rest.get(16..16usize.saturating_add(incl_len)) else {
            return Err(CaptureError::Truncated {
                path: path.to_path_buf(),
                record,
                offset,
            });
        };
        let raw = RawPcapPacket {
            ts_sec,
            ts_frac,
            incl_len: incl_len as u32,
            orig_len,
            data: Cow::Borrowed(data),
        };
        let next = &rest[16 + incl_len..];
        let sub = u64::from(raw.ts_frac);
        let frac = match header.ts_resolution {
            TsResolution::MicroSecond => sub.saturating_mul(1000),
            TsResolution::NanoSecond => sub,
        };
        let timestamp = Duration::from_secs(u64::from(raw.ts_sec)) + Duration::from_nanos(frac);
        out.records.push(Record {
            index: record,
            timestamp,
            kind: decode_frame(link, &raw.data, raw.orig_len as usize),
        });
        rest = next;
    }
    Ok(out)
}

fn read_pcapng(bytes: &[u8], path: &Path) -> Result<Capture, CaptureError> {
    let err = |record: usize, offset: usize, e: PcapError| match e {
        PcapError::IncompleteBuffer => CaptureError::Truncated {
            path: path.to_path_buf(),
            record,
            offset,
        },
        e => CaptureError::BadRecord {
            path: path.to_path_buf(),
            record,
            offset,
            message: e.to_string(),
        },
    };
    let (mut rest, mut parser) = PcapNgParser::new(bytes).map_err(|e| err(0, 0, e))?;
    // (link type, nanoseconds per timestamp unit) per interface of the section.
    let mut interfaces: Vec<(u32, u64)> = Vec::new();
    let mut out = Capture::default();
    let mut blocks = 0usize;
    while !rest.is_empty() {
        blocks += 1;
        let offset = bytes.len() - rest.len();
        let record = out.records.len() + 1;
        let (next, block) = parser
            .next_block(rest)
            .map_err(|e| err(record, offset, e))?;
        rest = next;
        match block {
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(idb) => {
                let unit = idb
                    .options
                    .iter()
                    .find_map(|o| match o {
                        InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                        _ => None,
                    })
                    .map_or(1000, tsresol_nanos);
                interfaces.push((u32::from(idb.linktype), unit));
            }
            Block::EnhancedPacket(epb) => {
                let (link, unit) = interfaces
                    .get(epb.interface_id as usize)
                    .copied()
                    .unwrap_or((u32::MAX, 1000));
                // pcap-file reports the raw 64-bit timestamp as nanoseconds; scale
                // it by the interface's if_tsresol unit.
                let raw = epb.timestamp.as_nanos();
                let nanos = raw
                    .saturating_mul(u128::from(unit))
                    .min(u128::from(u64::MAX)) as u64;
                out.records.push(Record {
                    index: record,
                    timestamp: Duration::from_nanos(nanos),
                    kind: decode_frame(link, &epb.data, epb.original_len as usize),
                });
            }
            Block::SimplePacket(spb) => {
                let link = interfaces.first().map_or(u32::MAX, |i| i.0);
                out.records.push(Record {
                    index: record,
                    timestamp: Duration::ZERO,
                    kind: decode_frame(link, &spb.data, spb.original_len as usize),
                });
            }
            Block::Packet(pb) => {
                let (link, unit) = interfaces
                    .get(pb.interface_id as usize)
                    .copied()
                    .unwrap_or((u32::MAX, 1000));
                let nanos = u128::from(pb.timestamp)
                    .saturating_mul(u128::from(unit))
                    .min(u128::from(u64::MAX)) as u64;
                out.records.push(Record {
                    index: record,
                    timestamp: Duration::from_nanos(nanos),
                    kind: decode_frame(link, &pb.data, pb.original_len as usize),
                });
            }
            _ => {}
        }
        let _ = blocks;
    }
    Ok(out)
}

/// if_tsresol: high bit clear = 10^-n seconds, set = 2^-n seconds. Returns the
/// unit in nanoseconds (at least 1; finer units are rounded to 1 ns).
fn tsresol_nanos(r: u8) -> u64 {
    let n = u32::from(r & 0x7f);
    if r & 0x80 == 0 {
        if n >= 9 { 1 } else { 10u64.pow(9 - n) }
    } else if n >= 30 {
        1
    } else {
        (1_000_000_000u64 >> n).max(1)
    }
}

fn skip(reason: impl Into<String>) -> RecordKind {
    RecordKind::Skipped {
        reason: reason.into(),
    }
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Decodes a link-layer frame down to a UDP datagram.
pub fn decode_frame(link: u32, frame: &[u8], orig_len: usize) -> RecordKind {
    if frame.len() < orig_len {
        // Snapped: decode what is there, but a cut UDP payload is reported below.
    }
    let (ethertype, ip) = match DataLink::from(link) {
        DataLink::ETHERNET => {
            let Some(mut t) = be16(frame, 12) else {
                return skip("Ethernet frame shorter than its header");
            };
            let mut at = 14;
            while ETHERTYPE_VLAN.contains(&t) {
                let Some(inner) = be16(frame, at + 2) else {
                    return skip("truncated VLAN tag");
                };
                t = inner;
                at += 4;
            }
            (t, &frame[at.min(frame.len())..])
        }
        DataLink::NULL | DataLink::LOOP => {
            let Some(fam) = frame.get(..4) else {
                return skip("loopback frame shorter than its header");
            };
            // NULL: host byte order; LOOP: network byte order. Accept either.
            let le = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let be = u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let ty = match (le, be) {
                (2, _) | (_, 2) => ETHERTYPE_IPV4,
                (10 | 24 | 28 | 30, _) | (_, 10 | 24 | 28 | 30) => ETHERTYPE_IPV6,
                _ => return skip(format!("loopback address family {le}")),
            };
            (ty, &frame[4..])
        }
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => match frame.first().map(|b| b >> 4) {
            Some(4) => (ETHERTYPE_IPV4, frame),
            Some(6) => (ETHERTYPE_IPV6, frame),
            _ => return skip("raw IP frame with an unknown IP version"),
        },
        _ if link == 12 || link == 14 => match frame.first().map(|b| b >> 4) {
            Some(4) => (ETHERTYPE_IPV4, frame),
            Some(6) => (ETHERTYPE_IPV6, frame),
            _ => return skip("raw IP frame with an unknown IP version"),
        },
        DataLink::LINUX_SLL => {
            let Some(t) = be16(frame, 14) else {
                return skip("Linux cooked (SLL) frame shorter than its header");
            };
            (t, frame.get(16..).unwrap_or_default())
        }
        DataLink::LINUX_SLL2 => {
            let Some(t) = be16(frame, 0) else {
                return skip("Linux cooked (SLL2) frame shorter than its header");
            };
            (t, frame.get(20..).unwrap_or_default())
        }
        _ => return skip(format!("unsupported link type {link}")),
    };
    decode_ip(ethertype, ip)
}

/// The IP layer (IPv4, or IPv6 with its extension headers), by etherparse; a
/// fragment is not reassembled. Link-layer padding is trimmed by the IP length;
/// a payload shorter than that length was cut by the capture's snap length.
fn decode_ip(ethertype: u16, ip: &[u8]) -> RecordKind {
    use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket};
    let sliced = LaxSlicedPacket::from_ether_type(EtherType(ethertype), ip);
    let (src, dst, tos, payload) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.slice()[1],
                v4.payload(),
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                h.traffic_class(),
                v6.payload(),
            )
        }
        Some(LaxNetSlice::Arp(_)) => return skip("ARP"),
        None => {
            return match ethertype {
                ETHERTYPE_IPV4 => skip("truncated or bad IPv4 header"),
                ETHERTYPE_IPV6 => skip("truncated or bad IPv6 header"),
                0x0806 => skip("ARP"),
                t => skip(format!("not IP (ethertype {t:#06x})")),
            };
        }
    };
    if payload.fragmented {
        return skip("IP fragment (not reassembled)");
    }
    if payload.ip_number != etherparse::IpNumber::UDP {
        return skip(protocol_name(payload.ip_number.0));
    }
    decode_udp(src, dst, tos, payload.payload, payload.incomplete)
}

fn protocol_name(p: u8) -> String {
    match p {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        58 => "ICMPv6".into(),
        p => format!("IP protocol {p} (not UDP)"),
    }
}

fn decode_udp(src: IpAddr, dst: IpAddr, tos: u8, udp: &[u8], snapped: bool) -> RecordKind {
    if udp.len() < 8 {
        return skip(if snapped {
            "UDP header cut by the capture's snap length"
        } else {
            "truncated UDP header"
        });
    }
    let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if len < 8 {
        return skip("bad UDP length");
    }
    if len > udp.len() {
        return skip(if snapped {
            "UDP payload cut by the capture's snap length"
        } else {
            "UDP length beyond the IP packet"
        });
    }
    RecordKind::Udp(UdpDatagram {
        src: SocketAddr::new(src, u16::from_be_bytes([udp[0], udp[1]])),
        dst: SocketAddr::new(dst, u16::from_be_bytes([udp[2], udp[3]])),
        payload: udp[8..len].to_vec(),
        tos,
    })
}

// ------------------------------------------------------------------ writing

/// Writes a classic pcap (microseconds, Ethernet with zeroed MACs like Linux `lo`)
/// of UDP datagrams, with correct IPv4 header and UDP checksums.
pub struct PcapWriter<W: Write> {
    inner: FileWriter<W>,
    ip_id: u16,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(out: W) -> std::io::Result<Self> {
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            snaplen: 262_144,
            ..Default::default()
        };
        let inner = FileWriter::with_header(out, header).map_err(io_err)?;
        Ok(PcapWriter { inner, ip_id: 1 })
    }

    /// Writes one datagram. `src` and `dst` must be of the same family.
    pub fn write_udp(
        &mut self,
        timestamp: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let frame = udp_frame(src, dst, payload, self.ip_id);
        self.ip_id = self.ip_id.wrapping_add(1);
        let packet = PcapPacket {
            timestamp,
            orig_len: frame.len() as u32,
            data: Cow::Owned(frame),
        };
        self.inner.write_packet(&packet).map_err(io_err)?;
        Ok(())
    }

    pub fn finish(self) -> W {
        self.inner.into_writer()
    }
}

impl PcapWriter<std::io::BufWriter<std::fs::File>> {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Self::new(std::io::BufWriter::new(std::fs::File::create(path)?))
    }
}

fn io_err(e: PcapError) -> std::io::Error {
    match e {
        PcapError::IoError(e) => e,
        e => std::io::Error::other(e.to_string()),
    }
}

fn ones_sum(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum >> 16) + (sum & 0xffff);
    }
    !(sum as u16)
}

/// An Ethernet/IP/UDP frame carrying `payload`.
pub fn udp_frame(src: SocketAddr, dst: SocketAddr, payload: &[u8], ip_id: u16) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut frame = vec![0u8; 12];
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let pseudo = [
                &s.octets()[..],
                &d.octets(),
                &[0, 17],
                &(udp_len as u16).to_be_bytes(),
            ]
            .concat();
            let mut c = fold(ones_sum(ones_sum(0, &pseudo), &udp));
            if c == 0 {
                c = 0xffff;
            }
            udp[6..8].copy_from_slice(&c.to_be_bytes());
            frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
            let mut ip = vec![0x45, 0x00];
            ip.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
            ip.extend_from_slice(&ip_id.to_be_bytes());
            ip.extend_from_slice(&[0x40, 0x00, 64, 17, 0, 0]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let hc = fold(ones_sum(0, &ip));
            ip[10..12].copy_from_slice(&hc.to_be_bytes());
            frame.extend_from_slice(&ip);
        }
        (s, d) => {
            let to6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            let (s, d) = (to6(s), to6(d));
            let pseudo = [
                &s.octets()[..],
                &d.octets(),
                &(udp_len as u32).to_be_bytes(),
                &[0, 0, 0, 17],
            ]
            .concat();
            let mut c = fold(ones_sum(ones_sum(0, &pseudo), &udp));
            if c == 0 {
                c = 0xffff;
            }
            udp[6..8].copy_from_slice(&c.to_be_bytes());
            frame.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
            frame.extend_from_slice(&[0x60, 0, 0, 0]);
            frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
            frame.extend_from_slice(&[17, 64]);
            frame.extend_from_slice(&s.octets());
            frame.extend_from_slice(&d.octets());
        }
    }
    frame.extend_from_slice(&udp);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_units() {
        assert_eq!(tsresol_nanos(6), 1000);
        assert_eq!(tsresol_nanos(9), 1);
        assert_eq!(tsresol_nanos(3), 1_000_000);
        assert_eq!(tsresol_nanos(0x80 | 10), 976_562);
    }

    #[test]
    fn ip_layer_cases() {
        let a: SocketAddr = "10.0.0.1:1935".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let f = udp_frame(a, b, b"hello", 1);
        let reason = |k: RecordKind| match k {
            RecordKind::Skipped { reason } => reason,
            other => panic!("{other:?}"),
        };
        // Ethernet padding after the IP packet is trimmed by the IP length.
        let mut padded = f.clone();
        padded.extend_from_slice(&[0; 6]);
        let RecordKind::Udp(u) = decode_frame(1, &padded, padded.len()) else {
            panic!()
        };
        assert_eq!((u.src, u.dst, &u.payload[..]), (a, b, &b"hello"[..]));
        // Cut by the snap length.
        let cut = &f[..f.len() - 2];
        assert!(reason(decode_frame(1, cut, f.len())).contains("snap length"));
        // An IPv4 fragment (More Fragments set), and another protocol.
        let mut frag = f.clone();
        frag[14 + 6] |= 0x20;
        assert!(reason(decode_frame(1, &frag, frag.len())).contains("fragment"));
        let mut tcp = f.clone();
        tcp[14 + 9] = 6;
        assert_eq!(reason(decode_frame(1, &tcp, tcp.len())), "TCP");
        // Not IP at all.
        let mut arp = f.clone();
        arp[12..14].copy_from_slice(&[0x88, 0xcc]);
        assert_eq!(
            reason(decode_frame(1, &arp, arp.len())),
            "not IP (ethertype 0x88cc)"
        );
        // IPv6.
        let a6: SocketAddr = "[2001:db8::1]:1935".parse().unwrap();
        let b6: SocketAddr = "[2001:db8::2]:5000".parse().unwrap();
        let f6 = udp_frame(a6, b6, b"six", 2);
        let RecordKind::Udp(u) = decode_frame(1, &f6, f6.len()) else {
            panic!()
        };
        assert_eq!((u.src, u.dst, &u.payload[..]), (a6, b6, &b"six"[..]));
    }

    #[test]
    fn write_then_read() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let a4: SocketAddr = "127.0.0.1:19350".parse().unwrap();
        let b4: SocketAddr = "127.0.0.1:19351".parse().unwrap();
        let a6: SocketAddr = "[::1]:1935".parse().unwrap();
        let b6: SocketAddr = "[2001:db8::2]:5000".parse().unwrap();
        w.write_udp(Duration::from_micros(1_500_000), a4, b4, b"hello")
            .unwrap();
        w.write_udp(Duration::from_micros(1_500_001), a6, b6, b"")
            .unwrap();
        w.write_udp(Duration::from_micros(1_600_000), b6, a6, &[7; 1400])
            .unwrap();
        let bytes = w.finish();
        let c = read_bytes(&bytes).unwrap();
        assert_eq!(c.records.len(), 3);
        let d: Vec<_> = c
            .datagrams()
            .map(|(r, u)| (r.timestamp, u.src, u.dst, u.payload.len()))
            .collect();
        assert_eq!(
            d,
            [
                (Duration::from_micros(1_500_000), a4, b4, 5),
                (Duration::from_micros(1_500_001), a6, b6, 0),
                (Duration::from_micros(1_600_000), b6, a6, 1400)
            ]
        );
    }
}
