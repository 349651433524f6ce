//! Rules that can be checked on a recording of an exchange, without taking
//! part in it: what an endpoint sent, judged against what it had seen.
//!
//! The same [`Monitor`] judges a capture file (`--target pcap:FILE`) and the
//! target's side of every scenario that has an `invariants` step. Each rule is
//! written so that a recording made at either end, with losses on the way,
//! cannot make a conforming endpoint look wrong: where the RFC's rule depends
//! on what the endpoint received, the monitor uses only evidence that it did
//! receive it (for example, that it acknowledged a sequence number).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;

use rtmfp::decode::{DecodedPacket, Direction, KeyUsed, Status};
use rtmfp::flow::rangeset::RangeSet;
use rtmfp::wire::chunk::{Chunk, Fragmentation, UserDataFlags};
use rtmfp::wire::packet::Mode;

/// One rule.
#[derive(Debug, Clone, Copy)]
pub struct Invariant {
    pub name: &'static str,
    pub title: &'static str,
    pub rfc: &'static [&'static str],
    /// Catalogue IDs the rule checks.
    pub requirements: &'static [&'static str],
    /// A SHOULD-level rule: a violation is a warning.
    pub should: bool,
}

pub const INVARIANTS: &[Invariant] = &[
    Invariant {
        name: "decodes",
        title: "Every packet decrypts, verifies and parses on its own, with the key of its session",
        rfc: &["7016 §2.2.3", "7016 §2.3"],
        requirements: &["2.2.3#2"],
        should: false,
    },
    Invariant {
        name: "modes",
        title: "Startup chunks travel in startup packets; session packets carry the sender's role mark",
        rfc: &["7016 §2.2.4", "7016 §2.3"],
        requirements: &["2.2.4#6", "2.2.4#8"],
        should: false,
    },
    Invariant {
        name: "session-ids",
        title: "Startup chunks go to session ID 0 (RIKeying, Cookie Change: to the initiator's ID) under the Default Session Key; session packets use the session's ID and key",
        rfc: &[
            "7016 §2.2.3",
            "7016 §3.3",
            "7016 §2.3.2",
            "7016 §2.3.4",
            "7016 §2.3.6",
            "7016 §2.3.8",
        ],
        requirements: &["3.3#2"],
        should: false,
    },
    Invariant {
        name: "handshake",
        title: "RHello echoes an IHello's tag, IIKeying echoes a cookie it was given, session IDs are not 0",
        rfc: &["7016 §2.3.4", "7016 §2.3.7", "7016 §3.3", "7016 §3.5.1"],
        requirements: &["2.3.7#1", "3.3#2"],
        should: false,
    },
    Invariant {
        name: "ping-reply",
        title: "A Ping Reply is sent only in response to a Ping, echoing its message",
        rfc: &["7016 §2.3.10", "7016 §3.5.4"],
        requirements: &["3.5.4#4"],
        should: false,
    },
    Invariant {
        name: "timestamps",
        title: "Timestamp echoes are a received timestamp plus the time held, and are sent",
        rfc: &["7016 §2.2.4", "7016 §3.5.2.2"],
        requirements: &["3.5.2.2#3"],
        should: false,
    },
    Invariant {
        name: "sequence-numbers",
        title: "Fragment sequence numbers: positive, unique, contiguous within a message; FSN rules; no un-abandoning",
        rfc: &[
            "7016 §2.3.11",
            "7016 §3.6.1.2",
            "7016 §3.6.2.3",
            "7016 §3.6.2.7",
        ],
        requirements: &[
            "2.3.11#1",
            "2.3.11#4",
            "2.3.11#5",
            "2.3.11#6",
            "3.6.1.2#1",
            "3.6.2.3#2",
            "3.6.2.7#1",
        ],
        should: false,
    },
    Invariant {
        name: "final-fragment",
        title: "Nothing is sent beyond a flow's final sequence number (FIN), and the FIN stays on one sequence number",
        rfc: &["7016 §2.3.11", "7016 §3.6.2.11"],
        requirements: &[],
        should: false,
    },
    Invariant {
        name: "first-sequence-number",
        title: "The first sequence number of a flow is 1",
        rfc: &["7016 §2.3.11"],
        requirements: &["2.3.11#3"],
        should: true,
    },
    Invariant {
        name: "next-user-data",
        title: "Next User Data only follows User Data or Next User Data in the same packet",
        rfc: &["7016 §2.3.12", "7016 §3.6.2.3.2"],
        requirements: &["2.3.12#1", "3.6.2.3.2#2"],
        should: false,
    },
    Invariant {
        name: "metadata",
        title: "Metadata (and return association) ride the first User Data chunk of a flow in every packet until acknowledged",
        rfc: &["7016 §2.3.11.1.1", "7016 §2.3.11.1.2"],
        requirements: &[
            "2.3.11.1.1#1",
            "2.3.11.1.1#2",
            "2.3.11.1.2#1",
            "2.3.11.1.2#4",
            "2.3.11.1.2#5",
            "3.6.1.1#2",
        ],
        should: false,
    },
    Invariant {
        name: "metadata-economy",
        title: "Metadata and association options are not repeated in a packet, not sent once acknowledged, metadata at most 512 bytes",
        rfc: &["7016 §2.3.11.1.1", "7016 §2.3.11.1.2"],
        requirements: &[
            "2.3.11.1.1#3",
            "2.3.11.1.1#4",
            "2.3.11.1.1#5",
            "2.3.11.1.2#2",
            "2.3.11.1.2#3",
        ],
        should: true,
    },
    Invariant {
        name: "retransmit-timing",
        title: "Nothing is resent before a round trip has passed since the oldest outstanding fragment was sent (ERTO >= RTT)",
        rfc: &["7016 §3.5.2.2", "7016 §3.6.2.6"],
        requirements: &["3.5.2.2#2"],
        should: false,
    },
    Invariant {
        name: "congestion-window",
        title: "Data in flight stays within what slow start from a 4380-byte initial window allows",
        rfc: &["7016 §3.5.2"],
        requirements: &["3.5.2#1", "3.5.2#2"],
        should: false,
    },
    Invariant {
        name: "tcr-clamp",
        title: "Under Time Critical Reverse Notification the sender grows its window linearly, not by slow start",
        rfc: &["7016 §3.5.2.1"],
        requirements: &["3.5.2.1#1"],
        should: false,
    },
    Invariant {
        name: "receive-window",
        title: "No new data while the bytes outstanding reach the receiver's advertised window",
        rfc: &["7016 §3.6.2.9"],
        requirements: &["3.6.2.9#1"],
        should: false,
    },
    Invariant {
        name: "acks",
        title: "Acknowledgements cover only sent sequence numbers and never fall below a received FSN",
        rfc: &["7016 §2.3.13", "7016 §2.3.14", "7016 §3.6.3.4"],
        requirements: &["2.3.13#2", "2.3.14#2"],
        should: false,
    },
    Invariant {
        name: "ack-format",
        title: "Acknowledgements use the more compact of the Bitmap and Range formats",
        rfc: &["7016 §2.3.13", "7016 §2.3.14"],
        requirements: &["2.3.13#1", "2.3.14#1", "3.6.3.4.3#1"],
        should: true,
    },
    Invariant {
        name: "fragments",
        title: "Packet Fragments: only at startup, numbered from 0, not empty, one mode per fragmented packet",
        rfc: &["7016 §2.3.1", "7016 §3.4"],
        requirements: &["2.3.1#1", "2.3.1#2", "3.4#3", "3.4#7"],
        should: false,
    },
    Invariant {
        name: "fragment-pacing",
        title: "Packet Fragments are rate limited: at most twice the recommended 4 packets / 4380 bytes per destination in any 200 ms",
        rfc: &["7016 §3.4"],
        requirements: &["3.4#10"],
        should: false,
    },
    Invariant {
        name: "fragment-pacing-recommended",
        title: "Packet Fragments: no more than 4 packets nor 4380 bytes per destination in any 200 ms",
        rfc: &["7016 §3.4"],
        requirements: &["3.4#11"],
        should: true,
    },
    Invariant {
        name: "packet-size",
        title: "Datagrams carrying user data fit a 1500-byte path MTU",
        rfc: &["7016 §3.6.2.2"],
        requirements: &["3.6.2.2#1"],
        should: false,
    },
    Invariant {
        name: "close",
        title: "After its Close Acknowledgement an endpoint sends nothing else in that session",
        rfc: &["7016 §3.5.5"],
        requirements: &[],
        should: false,
    },
    Invariant {
        name: "flow-id-reuse",
        title: "A completed sending flow's ID is not reused for 130 seconds",
        rfc: &["7016 §3.6.2.11"],
        requirements: &["3.6.2.11#1"],
        should: false,
    },
    Invariant {
        name: "non-empty-packets",
        title: "Every packet carries at least one chunk",
        rfc: &["7016 §2.2.4"],
        requirements: &["2.2.4#4"],
        should: true,
    },
    Invariant {
        name: "reserved-zero",
        title: "Reserved fields are sent as 0",
        rfc: &["7016 §2"],
        requirements: &[],
        should: true,
    },
];

pub fn find(name: &str) -> Option<&'static Invariant> {
    INVARIANTS.iter().find(|i| i.name == name)
}

/// One violation.
#[derive(Debug, Clone)]
pub struct Finding {
    pub invariant: &'static str,
    /// The packet's index, as given to [`Monitor::packet`].
    pub index: usize,
    pub time: f64,
    pub src: SocketAddr,
    pub message: String,
}

/// What the monitor concluded.
#[derive(Debug, Default)]
pub struct Report {
    /// Items checked per rule (0: nothing in the recording to check).
    pub checked: BTreeMap<&'static str, u64>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn findings_of(&self, name: &str) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.invariant == name)
    }
}

/// Findings kept per rule; the count goes on.
const MAX_FINDINGS: usize = 50;
/// Distinct timestamps remembered per direction for the echo check.
const TS_MEMORY: usize = 4096;
/// RFC 7016 §3.6.2.11: F_COMPLETE_LINGER.
const COMPLETE_LINGER: f64 = 130.0;
/// RFC 7016 §3.5.2.1: a TCR (or own TC) counts for 800 ms.
const TIME_CRITICAL_WINDOW: f64 = 0.8;
/// The largest segment the window may grow by per round trip, with margin.
const SMSS: u64 = 1500;
/// RFC 5681's largest initial window (3 × 1460), as RFC 7016 Appendix A uses.
const INITIAL_WINDOW: u64 = 4380;
/// A User Data chunk header is at most this long (type, length, flags, three VLUs).
const UD_HEADER_MAX: u64 = 4 + 3 * 10;
/// Packets a sender writes closer together than this (or than a round trip)
/// count as one run, written without reading input in between: rtmfp-cpp
/// (vectors/plain-session.pcap #5-#17) writes 7 packets in 0.3 ms before it
/// reads the acknowledgements that arrived meanwhile.
const RUN_GAP: f64 = 0.001;
/// 1500-byte MTU less IPv4 (20) or IPv6 (40) and UDP (8) headers.
const MAX_UDP_V4: usize = 1472;
const MAX_UDP_V6: usize = 1452;

/// What one side's sending flow has shown.
#[derive(Debug, Default)]
struct SendFlow {
    first_seq: u64,
    /// Sequence numbers sent, first transmissions and repeats alike.
    sent: RangeSet,
    /// Per sequence number not yet behind the FSN: the fragment's identity.
    frags: BTreeMap<u64, (Fragmentation, u64)>,
    /// Highest FSN sent.
    fsn: u64,
    /// Sequence numbers sent with the abandon flag.
    abandoned: RangeSet,
    /// Steps of the FSN carried by the first transmission of each sequence
    /// number (monotone, so a step function).
    first_fsn: BTreeMap<u64, u64>,
    metadata: Option<Vec<u8>>,
    association: Option<u64>,
    /// Whether the first transmission carried an association.
    association_first: bool,
    /// Time the other side first acknowledged this flow.
    acked_at: Option<f64>,
    fin_seq: Option<u64>,
    completed_at: Option<f64>,
    /// First transmission time of each sequence number not yet acknowledged
    /// cumulatively, and whether it was sent again (Karn: no RTT sample then).
    times: BTreeMap<u64, (f64, bool, u64)>,
    cum_acked: u64,
    /// A first sequence number other than 1, unless a lower one shows up.
    late_start: Option<Finding>,
    /// Receive window advertisements for this flow: (time, bytes), recent ones.
    /// (time, bytes, cumulativeAck) of each.
    adverts: VecDeque<(f64, u64, u64)>,
    /// A fragment of this flow was sent more than once (loss recovery: the
    /// sender's own outstanding count is no longer known from outside).
    any_resend: bool,
}

/// One direction of a conversation (a session, or an address pair at startup).
#[derive(Debug, Default)]
struct Side {
    pings: HashSet<Vec<u8>>,
    /// (capture time, value) of distinct timestamps sent.
    ts: VecDeque<(f64, u16)>,
    /// Packets sent after the first timestamp from the other side arrived
    /// more than a second earlier, and whether any carried an echo.
    late_packets: u32,
    echoed: bool,
    first_ts_from_other: Option<f64>,
    flows: HashMap<u64, SendFlow>,
    /// Highest sequence number acknowledged per flow of the other side.
    acked_max: HashMap<u64, u64>,
    close_ack_sent: bool,
    /// Smallest round trip seen for this side's data (send to first ack).
    rtt_min: Option<f64>,
    /// The latest such round trip.
    rtt_last: Option<f64>,
    rtt_samples: u32,
    /// User data bytes of first transmissions not yet acknowledged, and an
    /// upper bound of the bytes acknowledged so far (payload + chunk header).
    flight: u64,
    acked_upper: u64,
    window_reported: bool,
    /// Time Critical Reverse from the other side: last seen, start of the
    /// current run (no gap over 800 ms), bytes acknowledged at its start.
    tcr_last: Option<f64>,
    tcr_since: f64,
    acked_at_tcr: u64,
    /// This side last sent a packet marked Time Critical.
    tc_last: Option<f64>,
    tcr_reported: bool,
    /// This side's latest session packet, and when its current run of
    /// packets (each less than a round trip after the one before) began.
    last_sent: Option<f64>,
    run_start: f64,
    /// A User Data chunk of this side could not be parsed (its flow and
    /// sequence number are unknown).
    unreadable_data: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Conv {
    Session(usize),
    Addr(SocketAddr, SocketAddr),
}

#[derive(Debug, Default)]
pub struct Monitor {
    report: Report,
    counts: HashMap<&'static str, usize>,
    sides: HashMap<(Conv, bool), Side>,
    tags: HashSet<Vec<u8>>,
    /// Cookies given to each address.
    cookies: HashMap<SocketAddr, HashSet<Vec<u8>>>,
    /// (sender, packet ID) -> (mode, fragment numbers seen, last seen).
    reassembly: HashMap<(SocketAddr, u64), (Mode, RangeSet, bool)>,
    /// Datagrams with Packet Fragments per (sender, destination) in the last
    /// 200 ms: (time, length).
    fragment_window: HashMap<(SocketAddr, SocketAddr), VecDeque<(f64, usize)>>,
    fragment_reported: HashSet<(SocketAddr, SocketAddr, bool)>,
    /// initiatorSessionID of the latest IIKeying per (initiator, responder).
    iikeying_ids: HashMap<(SocketAddr, SocketAddr), u32>,
}

fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn frag_name(f: Fragmentation) -> &'static str {
    match f {
        Fragmentation::Whole => "whole",
        Fragmentation::Begin => "begin",
        Fragmentation::End => "end",
        Fragmentation::Middle => "middle",
    }
}

/// Where RFC 7016 §2.2.4 and §2.3 allow a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkMode {
    /// Session startup chunks: packet mode 3 only.
    Startup,
    /// Everything else: packet modes 1 and 2 only.
    Session,
    /// Packet Fragments (own rule), and chunks the decoder could not read.
    Any,
}

fn startup_kind(c: &Chunk) -> ChunkMode {
    match c {
        Chunk::IHello(_)
        | Chunk::RHello(_)
        | Chunk::Redirect(_)
        | Chunk::RHelloCookieChange(_)
        | Chunk::IIKeying(_)
        | Chunk::RIKeying(_) => ChunkMode::Startup,
        Chunk::PacketFragment(_) | Chunk::Unknown { .. } | Chunk::Malformed(_) => ChunkMode::Any,
        _ => ChunkMode::Session,
    }
}

/// A data chunk resolved to its flow, sequence number and FSN.
struct Data<'a> {
    flow: u64,
    seq: u64,
    fsn_offset: u64,
    flags: &'a UserDataFlags,
    options: Option<&'a Vec<rtmfp::wire::option::Opt>>,
    data: &'a [u8],
    first_in_packet: bool,
}

const OPT_METADATA: u64 = 0x00;
const OPT_ASSOCIATION: u64 = 0x0a;

impl Monitor {
    pub fn new() -> Self {
        Self::default()
    }

    fn check(&mut self, name: &'static str) {
        *self.report.checked.entry(name).or_default() += 1;
    }

    fn violation(&mut self, name: &'static str, d: &DecodedPacket, message: String) {
        let n = self.counts.entry(name).or_default();
        *n += 1;
        if *n <= MAX_FINDINGS {
            self.report.findings.push(Finding {
                invariant: name,
                index: d.index,
                time: d.time,
                src: d.src,
                message,
            });
        }
    }

    /// Feeds one decoded datagram, in recording order. `judged`: whether its
    /// sender is under test (the other side's packets are context only).
    pub fn packet(&mut self, d: &DecodedPacket, judged: bool) {
        if let Status::Failed { reason } = &d.status {
            if reason.contains("no key log entry")
                || reason.starts_with("the key log does not match this session")
            {
                // Not the sender's fault: the recording lacks the keys.
                *self.report.checked.entry("unkeyed").or_default() += 1;
                return;
            }
            if judged {
                self.check("decodes");
                self.violation("decodes", d, format!("undecodable: {reason}"));
            }
            return;
        }
        let Some(p) = &d.packet else { return };
        if judged {
            self.check("decodes");
        }
        // Which conversation and which side of it.
        let (conv, initiator_side) = match (d.session, d.direction) {
            (Some(s), Some(dir)) if d.key == Some(KeyUsed::Session) => {
                (Conv::Session(s), dir == Direction::InitiatorToResponder)
            }
            _ => {
                let (a, b) = if d.src <= d.dst {
                    (d.src, d.dst)
                } else {
                    (d.dst, d.src)
                };
                (Conv::Addr(a, b), d.src == a)
            }
        };
        let in_session = matches!(conv, Conv::Session(_));
        if judged {
            self.header_rules(d, p, in_session, initiator_side);
            self.session_id_rules(d, p);
            self.startup_rules(d, p);
            self.fragment_rules(d, p);
        } else {
            self.startup_context(d, p);
        }
        if in_session {
            let side = self.sides.entry((conv, initiator_side)).or_default();
            let gap = round_trip(side).max(RUN_GAP);
            if side.last_sent.is_none_or(|t| d.time - t >= gap) {
                side.run_start = d.time;
            }
            side.last_sent = Some(d.time);
        }
        self.time_critical_flags(d, p, conv, initiator_side);
        self.timestamps(d, p, conv, initiator_side, judged);
        self.session_chunks(d, p, conv, initiator_side, judged);
    }

    fn header_rules(
        &mut self,
        d: &DecodedPacket,
        p: &rtmfp::wire::packet::Packet,
        in_session: bool,
        initiator_side: bool,
    ) {
        // RFC 7016 §2.2.4: a packet SHOULD (RECOMMENDED) contain a chunk.
        self.check("non-empty-packets");
        if p.chunks.is_empty() {
            self.violation("non-empty-packets", d, "a packet with no chunk".into());
        }
        if in_session {
            // Every session packet is checked for Packet Fragments (§3.4).
            self.check("fragments");
            self.check("modes");
            let want = if initiator_side {
                Mode::Initiator
            } else {
                Mode::Responder
            };
            if p.header.mode != want {
                // RFC 7016 §2.2.4: initiator marks mode 1, responder mode 2.
                self.violation(
                    "modes",
                    d,
                    format!(
                        "session packet from the {} marked mode {}, expected {}",
                        if initiator_side {
                            "initiator"
                        } else {
                            "responder"
                        },
                        p.header.mode as u8,
                        want as u8
                    ),
                );
            }
        }
        for c in &p.chunks {
            // RFC 7016 §2.2.4: session startup chunks only in mode 3, other
            // chunks only in modes 1 and 2 (FIHello travels in an established
            // session, §2.3.3). Packet Fragments have a rule of their own.
            let kind = startup_kind(c);
            if kind != ChunkMode::Any {
                self.check("modes");
                let startup_packet = p.header.mode == Mode::Startup;
                if (kind == ChunkMode::Startup) != startup_packet {
                    self.violation(
                        "modes",
                        d,
                        format!(
                            "{} in a mode {} packet ({})",
                            c.name(),
                            p.header.mode as u8,
                            if kind == ChunkMode::Startup {
                                "session startup chunks belong in mode 3"
                            } else {
                                "chunks not for session startup belong in mode 1 or 2"
                            }
                        ),
                    );
                }
            }
            // Reserved fields (SHOULD be 0).
            let reserved = match c {
                Chunk::UserData(u) => u.flags.reserved,
                Chunk::NextUserData(u) => u.flags.reserved,
                Chunk::PacketFragment(f) => f.reserved,
                _ => 0,
            };
            self.check("reserved-zero");
            if reserved != 0 {
                self.violation(
                    "reserved-zero",
                    d,
                    format!("{} with reserved bits {reserved:#x}", c.name()),
                );
            }
            if let Chunk::Malformed(m) = c {
                // Reported once, here; the rules that depend on the chunk
                // treat what follows it as unjudgeable (no cascade).
                let rule = "decodes";
                self.violation(
                    rule,
                    d,
                    format!("malformed chunk {:#04x}: {}", m.chunk_type, m.error),
                );
            }
        }
        self.check("reserved-zero");
        if p.header.reserved != 0 {
            self.violation(
                "reserved-zero",
                d,
                format!("header reserved bits {:#x}", p.header.reserved),
            );
        }
        let has_data = p
            .chunks
            .iter()
            .any(|c| matches!(c, Chunk::UserData(_) | Chunk::NextUserData(_)));
        if has_data {
            self.check("packet-size");
            let max = if d.src.is_ipv4() {
                MAX_UDP_V4
            } else {
                MAX_UDP_V6
            };
            if d.length > max {
                self.violation(
                    "packet-size",
                    d,
                    format!(
                        "{}-byte datagram carrying user data; a 1500-byte path allows {max}",
                        d.length
                    ),
                );
            }
        }
    }

    /// RFC 7016 §2.2.3, §3.3 and §2.3's "only allowed in" sentences: which
    /// session ID and key a packet may use. IHello, RHello, Redirect and
    /// IIKeying go to session ID 0 under the Default Session Key; RIKeying and
    /// RHello Cookie Change under the Default Session Key to the
    /// initiatorSessionID of the IIKeying they answer; packets of an open
    /// session (modes 1 and 2) to the peer's non-zero session ID under the
    /// session's key.
    fn session_id_rules(&mut self, d: &DecodedPacket, p: &rtmfp::wire::packet::Packet) {
        const RULE: &str = "session-ids";
        let sid = d.session_id.unwrap_or(0);
        let default_key = d.key == Some(KeyUsed::Default);
        if p.header.mode != Mode::Startup {
            self.check(RULE);
            if sid == 0 {
                self.violation(
                    RULE,
                    d,
                    format!(
                        "mode {} (session) packet sent to session ID 0, which is reserved for startup",
                        p.header.mode as u8
                    ),
                );
            } else if default_key {
                self.violation(
                    RULE,
                    d,
                    format!(
                        "mode {} (session) packet to session ID {sid:#x} encrypted with the Default Session Key",
                        p.header.mode as u8
                    ),
                );
            }
            return;
        }
        for c in &p.chunks {
            let to_zero = matches!(
                c,
                Chunk::IHello(_) | Chunk::RHello(_) | Chunk::Redirect(_) | Chunk::IIKeying(_)
            );
            let to_initiator = matches!(c, Chunk::RIKeying(_) | Chunk::RHelloCookieChange(_));
            if !to_zero && !to_initiator {
                continue;
            }
            self.check(RULE);
            if !default_key {
                self.violation(
                    RULE,
                    d,
                    format!("{} not encrypted with the Default Session Key", c.name()),
                );
            }
            if to_zero && sid != 0 {
                self.violation(
                    RULE,
                    d,
                    format!(
                        "{} sent to session ID {sid:#x}; it belongs in session ID 0",
                        c.name()
                    ),
                );
            }
            if to_initiator {
                match self.iikeying_ids.get(&(d.dst, d.src)) {
                    Some(&want) if want != sid => self.violation(
                        RULE,
                        d,
                        format!(
                            "{} sent to session ID {sid:#x}; the IIKeying it answers gave initiatorSessionID {want:#x}",
                            c.name()
                        ),
                    ),
                    None if sid == 0 => self.violation(
                        RULE,
                        d,
                        format!(
                            "{} sent to session ID 0; it belongs in the initiator's session ID",
                            c.name()
                        ),
                    ),
                    _ => {}
                }
            }
        }
    }

    fn startup_context(&mut self, d: &DecodedPacket, p: &rtmfp::wire::packet::Packet) {
        for c in &p.chunks {
            match c {
                Chunk::IIKeying(k) => {
                    self.iikeying_ids
                        .insert((d.src, d.dst), k.initiator_session_id);
                }
                Chunk::IHello(h) => {
                    self.tags.insert(h.tag.clone());
                }
                Chunk::FIHello(h) => {
                    self.tags.insert(h.tag.clone());
                }
                Chunk::RHello(h) => {
                    self.cookies
                        .entry(d.dst)
                        .or_default()
                        .insert(h.cookie.clone());
                }
                Chunk::RHelloCookieChange(h) => {
                    self.cookies
                        .entry(d.dst)
                        .or_default()
                        .insert(h.new_cookie.clone());
                }
                _ => {}
            }
        }
    }

    fn startup_rules(&mut self, d: &DecodedPacket, p: &rtmfp::wire::packet::Packet) {
        for c in &p.chunks {
            match c {
                Chunk::RHello(h) => {
                    self.check("handshake");
                    if !self.tags.is_empty() && !self.tags.contains(&h.tag_echo) {
                        // RFC 7016 §2.3.4 / §3.5.1.1.2: the RHello echoes the IHello's tag.
                        self.violation(
                            "handshake",
                            d,
                            format!(
                                "RHello echoes tag {} which no IHello or FIHello carried",
                                hex::encode(&h.tag_echo)
                            ),
                        );
                    }
                }
                Chunk::IIKeying(k) => {
                    self.check("handshake");
                    if let Some(given) = self.cookies.get(&d.src)
                        && !given.contains(&k.cookie_echo)
                    {
                        // RFC 7016 §2.3.7: the initiator must have obtained a valid cookie.
                        self.violation(
                            "handshake",
                            d,
                            format!(
                                "IIKeying echoes a {}-byte cookie that no RHello to {} carried",
                                k.cookie_echo.len(),
                                d.src
                            ),
                        );
                    }
                    if k.initiator_session_id == 0 {
                        // RFC 7016 §3.3: session ID 0 is reserved for startup.
                        self.violation("handshake", d, "IIKeying with initiatorSessionID 0".into());
                    }
                }
                Chunk::RIKeying(k) => {
                    self.check("handshake");
                    if k.responder_session_id == 0 {
                        self.violation("handshake", d, "RIKeying with responderSessionID 0".into());
                    }
                }
                _ => {}
            }
        }
        self.startup_context(d, p);
    }

    fn fragment_rules(&mut self, d: &DecodedPacket, p: &rtmfp::wire::packet::Packet) {
        if p.chunks
            .iter()
            .any(|c| matches!(c, Chunk::PacketFragment(_)))
        {
            // RFC 7016 §3.4: rate limit; SHOULD NOT send more than 4380 bytes
            // nor four packets per distinct endpoint every 200 ms.
            let w = self.fragment_window.entry((d.src, d.dst)).or_default();
            while w.front().is_some_and(|&(t, _)| d.time - t >= 0.2 - 1e-6) {
                w.pop_front();
            }
            w.push_back((d.time, d.length));
            let (n, bytes) = (w.len(), w.iter().map(|x| x.1).sum::<usize>());
            self.check("fragment-pacing");
            self.check("fragment-pacing-recommended");
            for (rule, factor, strict) in [
                ("fragment-pacing", 2, true),
                ("fragment-pacing-recommended", 1, false),
            ] {
                if (n > 4 * factor || bytes > 4380 * factor && n > 1)
                    && self.fragment_reported.insert((d.src, d.dst, strict))
                {
                    self.violation(
                        rule,
                        d,
                        format!(
                            "{n} datagrams ({bytes} bytes) with Packet Fragments to {} within 200 ms",
                            d.dst
                        ),
                    );
                }
            }
        }
        for c in &p.chunks {
            let Chunk::PacketFragment(f) = c else {
                continue;
            };
            self.check("fragments");
            if f.packet_fragment.is_empty() {
                self.violation("fragments", d, "empty packetFragment".into());
            }
            let mode = p.header.mode;
            if mode != Mode::Startup {
                // RFC 7016 §3.4: only for unavoidably large startup packets, never
                // instead of User Data's own fragmentation.
                self.violation(
                    "fragments",
                    d,
                    format!(
                        "Packet Fragment in a mode {} (session) packet; User Data has its own fragmentation",
                        mode as u8
                    ),
                );
            }
            let key = (d.src, f.packet_id);
            let entry = self
                .reassembly
                .entry(key)
                .or_insert_with(|| (mode, RangeSet::default(), false));
            let first_mode = entry.0;
            entry.1.insert(f.fragment_num, f.fragment_num);
            if !f.more_fragments {
                entry.2 = true;
            }
            let complete_without_zero = entry.2 && entry.1.iter().next().map(|r| r.0) != Some(0);
            if first_mode != mode {
                // RFC 7016 §3.4: one mode for all fragments of a packet.
                self.violation(
                    "fragments",
                    d,
                    format!(
                        "fragment {} of packet {} in a mode {} packet; earlier fragments were mode {}",
                        f.fragment_num, f.packet_id, mode as u8, first_mode as u8
                    ),
                );
            }
            if complete_without_zero && !f.more_fragments {
                // RFC 7016 §2.3.1: the first fragment is index 0.
                self.violation(
                    "fragments",
                    d,
                    format!(
                        "packet {} ends at fragment {} but no fragment 0 was sent",
                        f.packet_id, f.fragment_num
                    ),
                );
            }
        }
    }

    fn time_critical_flags(
        &mut self,
        d: &DecodedPacket,
        p: &rtmfp::wire::packet::Packet,
        conv: Conv,
        initiator_side: bool,
    ) {
        if !matches!(conv, Conv::Session(_)) {
            return;
        }
        if p.header.time_critical {
            self.sides
                .entry((conv, initiator_side))
                .or_default()
                .tc_last = Some(d.time);
        }
        if p.header.time_critical_reverse {
            let other = self.sides.entry((conv, !initiator_side)).or_default();
            if other
                .tcr_last
                .is_none_or(|t| d.time - t > TIME_CRITICAL_WINDOW)
            {
                other.tcr_since = d.time;
                other.acked_at_tcr = other.acked_upper;
            }
            other.tcr_last = Some(d.time);
        }
    }

    fn timestamps(
        &mut self,
        d: &DecodedPacket,
        p: &rtmfp::wire::packet::Packet,
        conv: Conv,
        initiator_side: bool,
        judged: bool,
    ) {
        // Timestamps flow across startup and session packets alike (an
        // initiator may echo the RIKeying's), so key them by address pair.
        let pair = {
            let (a, b) = if d.src <= d.dst {
                (d.src, d.dst)
            } else {
                (d.dst, d.src)
            };
            (Conv::Addr(a, b), d.src == a)
        };
        if let Some(ts) = p.header.timestamp {
            for key in [(conv, initiator_side), pair] {
                let side = self.sides.entry(key).or_default();
                if side.ts.back().map(|x| x.1) != Some(ts) {
                    side.ts.push_back((d.time, ts));
                    if side.ts.len() > TS_MEMORY {
                        side.ts.pop_front();
                    }
                }
                let other = self.sides.entry((key.0, !key.1)).or_default();
                other.first_ts_from_other.get_or_insert(d.time);
            }
        }
        if !judged {
            return;
        }
        if let Some(echo) = p.header.timestamp_echo {
            self.check("timestamps");
            let mut found = false;
            let mut any = false;
            for key in [(conv, !initiator_side), pair_other(pair)] {
                if let Some(other) = self.sides.get(&key) {
                    for &(t0, v) in other.ts.iter().rev() {
                        any = true;
                        let ticks = ((d.time - t0).max(0.0) / 0.004) as u64;
                        let slack = 2 + ticks / 50;
                        let diff = u64::from(echo.wrapping_sub(v));
                        if diff <= ticks + slack && d.time - t0 <= 128.5 {
                            found = true;
                            break;
                        }
                    }
                }
                if found {
                    break;
                }
            }
            if any && !found {
                // RFC 7016 §3.5.2.2: TS_ECHO = TS_RX + elapsed 4 ms ticks.
                self.violation(
                    "timestamps",
                    d,
                    format!(
                        "timestamp echo {echo} is not a timestamp received from the peer plus the time since"
                    ),
                );
            }
        }
        if matches!(conv, Conv::Session(_)) {
            let side = self.sides.entry((conv, initiator_side)).or_default();
            if p.header.timestamp_echo.is_some() {
                side.echoed = true;
            }
            if side.first_ts_from_other.is_some_and(|t| d.time - t > 1.0) {
                side.late_packets += 1;
                if side.late_packets == 5 && !side.echoed {
                    self.check("timestamps");
                    self.violation(
                        "timestamps",
                        d,
                        "five session packets sent more than a second after the peer's first timestamp, none with a timestamp echo".into(),
                    );
                }
            }
        }
    }

    fn session_chunks(
        &mut self,
        d: &DecodedPacket,
        p: &rtmfp::wire::packet::Packet,
        conv: Conv,
        initiator_side: bool,
        judged: bool,
    ) {
        let me = (conv, initiator_side);
        let them = (conv, !initiator_side);
        if judged && self.sides.get(&me).is_some_and(|s| s.close_ack_sent) {
            let others: Vec<&str> = p
                .chunks
                .iter()
                .filter(|c| !matches!(c, Chunk::CloseAck | Chunk::Unknown { .. }))
                .map(Chunk::name)
                .collect();
            self.check("close");
            if !others.is_empty() {
                self.violation(
                    "close",
                    d,
                    format!(
                        "sent {} after its Close Acknowledgement in this session",
                        others.join(", ")
                    ),
                );
            }
        }
        // Resolve Next User Data to flow and sequence number.
        let mut cur: Option<(u64, u64, u64)> = None;
        let mut prev_was_data = false;
        let mut unplaceable = false;
        let mut seen_flows: HashMap<u64, (u32, u32)> = HashMap::new();
        let mut data_chunks = Vec::new();
        for c in &p.chunks {
            match c {
                Chunk::UserData(u) => {
                    let first = !seen_flows.contains_key(&u.flow_id);
                    cur = Some((u.flow_id, u.sequence_number, u.fsn_offset));
                    data_chunks.push(Data {
                        flow: u.flow_id,
                        seq: u.sequence_number,
                        fsn_offset: u.fsn_offset,
                        flags: &u.flags,
                        options: u.options.as_ref(),
                        data: &u.user_data,
                        first_in_packet: first,
                    });
                    seen_flows.entry(u.flow_id).or_default();
                    prev_was_data = true;
                    unplaceable = false;
                }
                Chunk::NextUserData(_) if unplaceable => {}
                Chunk::NextUserData(n) => {
                    if judged {
                        self.check("next-user-data");
                    }
                    match cur {
                        Some((flow, seq, off)) if prev_was_data => {
                            let (seq, off) = (seq.wrapping_add(1), off.wrapping_add(1));
                            cur = Some((flow, seq, off));
                            data_chunks.push(Data {
                                flow,
                                seq,
                                fsn_offset: off,
                                flags: &n.flags,
                                options: n.options.as_ref(),
                                data: &n.user_data,
                                first_in_packet: false,
                            });
                        }
                        _ => {
                            if judged {
                                // RFC 7016 §2.3.12: follows User Data or Next User Data.
                                self.violation(
                                    "next-user-data",
                                    d,
                                    "Next User Data not preceded by a User Data or Next User Data chunk in the packet".into(),
                                );
                            }
                            cur = None;
                        }
                    }
                    prev_was_data = true;
                }
                Chunk::Malformed(m) if matches!(m.chunk_type, 0x10 | 0x11) => {
                    // Reported by `decodes`; the Next User Data after it
                    // cannot be placed: unjudgeable, not orphaned.
                    cur = None;
                    unplaceable = true;
                    // Nor can a flow's first sequence number be known now.
                    self.sides.entry(me).or_default().unreadable_data = true;
                }
                _ => {
                    prev_was_data = false;
                    unplaceable = false;
                }
            }
        }
        for x in &data_chunks {
            self.data_chunk(d, me, x, judged, &mut seen_flows);
        }
        for c in &p.chunks {
            match c {
                Chunk::Ping(ping) => {
                    self.sides
                        .entry(me)
                        .or_default()
                        .pings
                        .insert(ping.message.clone());
                }
                Chunk::PingReply(r) if judged => {
                    self.check("ping-reply");
                    let asked = self
                        .sides
                        .get(&them)
                        .is_some_and(|s| s.pings.contains(&r.message));
                    if !asked {
                        // RFC 7016 §3.5.4: only in response to a Ping.
                        self.violation(
                            "ping-reply",
                            d,
                            format!(
                                "Ping Reply with message {} answers no Ping the peer sent",
                                hex::encode(&r.message)
                            ),
                        );
                    }
                }
                Chunk::BitmapAck(a) => {
                    if judged {
                        self.ack_format(d, c);
                    }
                    let ranges = a.ranges();
                    self.ack(
                        d,
                        me,
                        them,
                        (a.flow_id, a.buffer_blocks_available),
                        a.cumulative_ack,
                        &ranges,
                        judged,
                    );
                }
                Chunk::RangeAck(a) => {
                    if judged {
                        self.ack_format(d, c);
                    }
                    let ranges = a.ranges();
                    self.ack(
                        d,
                        me,
                        them,
                        (a.flow_id, a.buffer_blocks_available),
                        a.cumulative_ack,
                        &ranges,
                        judged,
                    );
                }
                Chunk::CloseAck => {
                    if judged {
                        self.check("close");
                    }
                    self.sides.entry(me).or_default().close_ack_sent = true;
                }
                _ => {}
            }
        }
    }

    /// One User Data or Next User Data chunk: each rule about a sender's data
    /// judges it in turn (RFC 7016 §2.3.11, §3.5.2, §3.6.2), then the flow's
    /// record is updated.
    fn data_chunk(
        &mut self,
        d: &DecodedPacket,
        me: (Conv, bool),
        x: &Data<'_>,
        judged: bool,
        seen: &mut HashMap<u64, (u32, u32)>,
    ) {
        let now = d.time;
        let opts = DataOptions::of(x);
        let counts = seen.entry(x.flow).or_default();
        counts.0 += u32::from(opts.metadata.is_some());
        counts.1 += opts.assocs.len() as u32;
        let repeats = *counts;
        let mut v = Verdicts::default();
        let side = self.sides.entry(me).or_default();
        flow_id_reuse(side, x, &opts, now, &mut v);
        let resend = retransmit_timing(side, x, now, &mut v);
        let known = known_before(side);
        let new_flow = !side.flows.contains_key(&x.flow);
        let f = side.flows.entry(x.flow).or_insert_with(|| SendFlow {
            first_seq: x.seq,
            ..Default::default()
        });
        first_sequence_number(f, d, x, new_flow, judged, &mut v);
        sequence_numbers(f, x, new_flow, &mut v);
        final_fragment(f, x, &mut v);
        let first_bytes = receive_window(f, x, now, resend, known, &mut v);
        record_sent(f, x);
        metadata(f, x, &opts, new_flow, &mut v);
        metadata_economy(f, &opts, repeats, now, x.flow, &mut v);
        if first_bytes > 0 {
            congestion(side, first_bytes, now, &mut v);
        }
        if judged {
            for c in v.checked {
                self.check(c);
            }
            for (rule, m) in v.found {
                self.violation(rule, d, m);
            }
        }
    }

    /// RFC 7016 §2.3.13, §2.3.14: an acknowledgement SHOULD use whichever
    /// format (Bitmap or Range) encodes its sequence numbers most compactly.
    /// Judged on what the chunk says (a truncated ack against the same,
    /// truncated, set).
    fn ack_format(&mut self, d: &DecodedPacket, c: &Chunk) {
        let (flow, blocks, cum, ranges) = match c {
            Chunk::BitmapAck(a) => (
                a.flow_id,
                a.buffer_blocks_available,
                a.cumulative_ack,
                a.ranges(),
            ),
            Chunk::RangeAck(a) => (
                a.flow_id,
                a.buffer_blocks_available,
                a.cumulative_ack,
                a.ranges(),
            ),
            _ => return,
        };
        let ranges: Vec<(u64, u64)> = ranges.into_iter().filter(|r| r.0 > cum).collect();
        let range_len = Chunk::RangeAck(rtmfp::wire::chunk::RangeAck::from_ranges(
            flow, blocks, cum, &ranges,
        ))
        .encoded_len();
        // A bitmap needs one bit per sequence number from cum + 2 to the top.
        let top = ranges.last().map_or(cum, |r| r.1);
        let bits = top.saturating_sub(cum).saturating_sub(1);
        let bitmap_len = (bits <= 8 * 4096).then(|| {
            Chunk::BitmapAck(rtmfp::wire::chunk::BitmapAck {
                flow_id: flow,
                buffer_blocks_available: blocks,
                cumulative_ack: cum,
                bitmap: vec![0; bits.div_ceil(8) as usize],
            })
            .encoded_len()
        });
        let best = bitmap_len.map_or(range_len, |b| b.min(range_len));
        self.check("ack-format");
        let sent = c.encoded_len();
        if sent > best {
            self.violation(
                "ack-format",
                d,
                format!(
                    "{} of {sent} bytes for flow {flow}; the same sequence numbers take {best} bytes as a {}",
                    c.name(),
                    if bitmap_len == Some(best) {
                        "Bitmap Ack"
                    } else {
                        "Range Ack"
                    }
                ),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn ack(
        &mut self,
        d: &DecodedPacket,
        me: (Conv, bool),
        them: (Conv, bool),
        (flow, blocks): (u64, u64),
        cum: u64,
        ranges: &[(u64, u64)],
        judged: bool,
    ) {
        let now = d.time;
        let max_acked = ranges.iter().map(|r| r.1).fold(cum, u64::max);
        let prev_max = {
            let side = self.sides.entry(me).or_default();
            let e = side.acked_max.entry(flow).or_default();
            let prev = *e;
            *e = prev.max(max_acked);
            prev.max(max_acked)
        };
        let mut out = Vec::new();
        let mut checked = false;
        let mut rtt_sample = None;
        let (mut acked_bytes, mut acked_frags) = (0u64, 0u64);
        if let Some(f) = self
            .sides
            .get_mut(&them)
            .and_then(|s| s.flows.get_mut(&flow))
        {
            checked = true;
            f.acked_at.get_or_insert(now);
            f.adverts.push_back((now, blocks.saturating_mul(1024), cum));
            // Keep the last advertisement older than 2 s and all newer ones.
            while f.adverts.len() > 1 && f.adverts[1].0 < now - 2.0 {
                f.adverts.pop_front();
            }
            while f.adverts.len() > 4096 {
                f.adverts.pop_front();
            }
            let mut sample = None;
            if max_acked > f.cum_acked
                && let Some(&(t, resent, _)) = f.times.get(&max_acked)
                && !resent
            {
                sample = Some(now - t);
            }
            if cum > f.cum_acked {
                f.cum_acked = cum;
                while let Some((&q, _)) = f.times.first_key_value() {
                    if q > cum {
                        break;
                    }
                    if let Some((_, t)) = f.times.pop_first() {
                        acked_bytes += t.2;
                        acked_frags += 1;
                    }
                }
            }
            for &(a, b) in ranges {
                let keys: Vec<u64> = f.times.range(a..=b).map(|(k, _)| *k).collect();
                for k in keys {
                    if let Some(t) = f.times.remove(&k) {
                        acked_bytes += t.2;
                        acked_frags += 1;
                    }
                }
            }
            // Bounded memory on long captures: forget the oldest (as if acked).
            while f.times.len() > 65_536 {
                if let Some((_, t)) = f.times.pop_first() {
                    acked_bytes += t.2;
                    acked_frags += 1;
                }
            }
            rtt_sample = sample;
            let max_sent = f.sent.max().unwrap_or(0);
            let fsn_floor = f.first_seq.saturating_sub(1);
            if cum > max_sent.max(f.fsn) {
                out.push(format!(
                    "flow {flow}: cumulativeAck {cum} but the highest sequence number recorded as sent is {max_sent} (or the capture missed the datagrams that carried the rest)"
                ));
            }
            for &(a, b) in ranges {
                let covered = f.sent.covers(a, b) || b <= fsn_floor.max(f.fsn);
                if !covered {
                    out.push(format!(
                        "flow {flow}: acknowledges {a}..={b}, which includes sequence numbers never sent"
                    ));
                    break;
                }
            }
            // RFC 7016 §2.3.13/§2.3.14: cumulativeAck >= highest FSN
            // received. Received for sure: the FSN carried by the first
            // transmission of the highest sequence number acknowledged so far.
            if let Some((_, &floor)) = f.first_fsn.range(..=prev_max).next_back()
                && cum < floor
            {
                out.push(format!(
                    "flow {flow}: cumulativeAck {cum} is below FSN {floor}, which the receiver had (it acknowledged a fragment carrying it)"
                ));
            }
            if let Some(fin) = f.fin_seq
                && cum >= fin
                && f.completed_at.is_none()
            {
                f.completed_at = Some(now);
            }
        }
        if acked_bytes > 0 || acked_frags > 0 {
            let side = self.sides.entry(them).or_default();
            side.flight = side.flight.saturating_sub(acked_bytes);
            side.acked_upper += acked_bytes + acked_frags * UD_HEADER_MAX;
        }
        if let Some(r) = rtt_sample {
            let side = self.sides.entry(them).or_default();
            side.rtt_samples += 1;
            side.rtt_min = Some(side.rtt_min.map_or(r, |m| m.min(r)));
            side.rtt_last = Some(r);
        }
        if judged && checked {
            self.check("acks");
            for m in out {
                self.violation("acks", d, m);
            }
        }
    }

    /// The report; `decoded` counts the recording's datagrams.
    pub fn finish(mut self) -> Report {
        let late: Vec<Finding> = self
            .sides
            .values_mut()
            .filter(|s| !s.unreadable_data)
            .flat_map(|s| s.flows.values_mut().filter_map(|f| f.late_start.take()))
            .collect();
        for f in late {
            self.report.findings.push(f);
        }
        self.report
    }
}

fn pair_other(k: (Conv, bool)) -> (Conv, bool) {
    (k.0, !k.1)
}

/// What the rules concluded about one data chunk: items checked, violations.
#[derive(Default)]
struct Verdicts {
    checked: Vec<&'static str>,
    found: Vec<(&'static str, String)>,
}

impl Verdicts {
    fn check(&mut self, rule: &'static str) {
        self.checked.push(rule);
    }
    fn fail(&mut self, rule: &'static str, message: String) {
        self.found.push((rule, message));
    }
}

/// A data chunk's metadata and return association options.
struct DataOptions {
    metadata: Option<Vec<u8>>,
    assocs: Vec<u64>,
}

impl DataOptions {
    fn of(x: &Data<'_>) -> Self {
        let opts = x.options.map(|o| o.as_slice()).unwrap_or_default();
        DataOptions {
            metadata: opts
                .iter()
                .find(|o| o.kind == OPT_METADATA)
                .map(|o| o.value.clone()),
            assocs: opts
                .iter()
                .filter(|o| o.kind == OPT_ASSOCIATION)
                .filter_map(|o| {
                    rtmfp::wire::vlu::decode(&o.value, "association")
                        .ok()
                        .map(|(v, _)| v)
                })
                .collect(),
        }
    }
}

/// RFC 7016 §3.6.2.11: a completed flow's ID comes back (metadata again, a
/// sequence number not beyond its final one) only after F_COMPLETE_LINGER.
/// The old flow's record is dropped so the new one starts afresh.
fn flow_id_reuse(side: &mut Side, x: &Data<'_>, opts: &DataOptions, now: f64, v: &mut Verdicts) {
    let Some(old) = side.flows.get(&x.flow) else {
        v.check("flow-id-reuse");
        return;
    };
    let Some(done) = old.completed_at else {
        return;
    };
    if opts.metadata.is_none() || x.seq > old.fin_seq.unwrap_or(0) {
        return;
    }
    v.check("flow-id-reuse");
    if now - done < COMPLETE_LINGER {
        v.fail(
            "flow-id-reuse",
            format!(
                "flow {} reopened {:.1} s after it completed (F_COMPLETE_LINGER is 130 s)",
                x.flow,
                now - done
            ),
        );
    }
    if let Some(old) = side.flows.remove(&x.flow) {
        let left: u64 = old.times.values().map(|t| t.2).sum();
        side.flight = side.flight.saturating_sub(left);
    }
}

/// RFC 7016 §3.5.2.2: ERTO >= RTT. A retransmission (by timeout or by
/// negative acknowledgement) cannot be due before one round trip after the
/// oldest fragment still outstanding was sent. The round trip seen here
/// includes the receiver's ack delay (up to 200 ms, §3.6.3.4.2), which the
/// sender's measurement excludes: allowed for. Returns whether `x` is a resend.
fn retransmit_timing(side: &Side, x: &Data<'_>, now: f64, v: &mut Verdicts) -> bool {
    let resend = !x.flags.abandon
        && side
            .flows
            .get(&x.flow)
            .is_some_and(|f| f.sent.contains(x.seq));
    if resend && side.rtt_samples >= 3 {
        v.check("retransmit-timing");
        let oldest = side
            .flows
            .values()
            .filter_map(|g| g.times.range(g.cum_acked.saturating_add(1)..).next())
            .map(|(_, t)| t.0)
            .fold(f64::INFINITY, f64::min);
        let rtt = side.rtt_min.unwrap_or(0.0);
        if oldest.is_finite() && now - oldest < rtt - 0.202 {
            v.fail(
                "retransmit-timing",
                format!(
                    "flow {} seq {} resent {:.0} ms after the oldest outstanding fragment was sent; round trips here take at least {:.0} ms",
                    x.flow,
                    x.seq,
                    (now - oldest) * 1e3,
                    rtt * 1e3
                ),
            );
        }
    }
    resend
}

/// The latest recording time of an advertisement the sender surely had when
/// it wrote its current packet (RFC 7016 §3.6.2.9 judges what the sender
/// knew). A sender writing packets back to back does not read its input in
/// between, so what it knew is what it had when its current run of packets
/// began (a run: packets less than a round trip or [`RUN_GAP`] apart). An advertisement
/// recorded at the receiver reaches the sender half a round trip later, and
/// the sender's data takes the other half to come back: so the sender had
/// every advertisement recorded one round trip before its run began. The
/// round trips measured here (first transmission to its first
/// acknowledgement) include the receiver's ack delay, so they are never
/// shorter than the path's; the latest one counts when queues grow. Before
/// any measurement, the longest ack delay the RFC allows (200 ms).
fn known_before(side: &Side) -> f64 {
    side.run_start - round_trip(side)
}

fn round_trip(side: &Side) -> f64 {
    match (side.rtt_min, side.rtt_last) {
        (Some(m), Some(l)) => m.max(l),
        _ => 0.2,
    }
}

/// RFC 7016 §2.3.11: the first sequence number of a flow SHOULD be 1 (judged
/// at the end: a lower one seen later means the first were lost before the
/// recording point).
fn first_sequence_number(
    f: &mut SendFlow,
    d: &DecodedPacket,
    x: &Data<'_>,
    new_flow: bool,
    judged: bool,
    v: &mut Verdicts,
) {
    if new_flow {
        v.check("first-sequence-number");
        if x.seq != 1 && x.seq.saturating_sub(x.fsn_offset) == 0 && judged {
            f.late_start = Some(Finding {
                invariant: "first-sequence-number",
                index: d.index,
                time: d.time,
                src: d.src,
                message: format!(
                    "flow {} starts at sequence number {} (FSN 0; no lower sequence number ever seen)",
                    x.flow, x.seq
                ),
            });
        }
    } else if f.late_start.is_some() && x.seq < f.first_seq {
        f.late_start = None;
    }
}

/// RFC 7016 §2.3.11, §3.6.1.2, §3.6.2.3, §3.6.2.7: sequence numbers positive,
/// fsnOffset neither 0 (unless abandoned) nor above the sequence number, the
/// FSN never going back, no un-abandoning, a sequence number keeps its
/// content, and a message's fragments are contiguous.
fn sequence_numbers(f: &mut SendFlow, x: &Data<'_>, new_flow: bool, v: &mut Verdicts) {
    const RULE: &str = "sequence-numbers";
    let abandon = x.flags.abandon;
    let fsn = x.seq.saturating_sub(x.fsn_offset);
    v.check(RULE);
    if x.seq == 0 {
        v.fail(RULE, format!("flow {}: sequence number 0", x.flow));
    }
    if !abandon && x.fsn_offset == 0 {
        v.fail(
            RULE,
            format!(
                "flow {} seq {}: fsnOffset 0 without the abandon flag (FSN equals an outstanding sequence number)",
                x.flow, x.seq
            ),
        );
    }
    if x.fsn_offset > x.seq {
        v.fail(
            RULE,
            format!(
                "flow {} seq {}: fsnOffset {} > sequence number",
                x.flow, x.seq, x.fsn_offset
            ),
        );
    }
    if fsn < f.fsn && !new_flow {
        v.fail(
            RULE,
            format!(
                "flow {} seq {}: FSN {} went back from {}",
                x.flow, x.seq, fsn, f.fsn
            ),
        );
    }
    let was_abandoned = x.seq <= f.fsn && !new_flow || f.abandoned.contains(x.seq);
    if was_abandoned && !abandon {
        // RFC 7016 §3.6.2.7: an abandoned fragment is not un-abandoned.
        v.fail(
            RULE,
            format!(
                "flow {} seq {} sent again without the abandon flag after it was abandoned or passed by the FSN",
                x.flow, x.seq
            ),
        );
    }
    if abandon {
        f.abandoned.insert(x.seq, x.seq);
        return;
    }
    let ident = hash(x.data);
    let kind = x.flags.fragment_control;
    match f.frags.get(&x.seq) {
        Some(&(old, h)) if old != kind || h != ident => v.fail(
            RULE,
            format!(
                "flow {} seq {} sent again with different content ({} → {})",
                x.flow,
                x.seq,
                frag_name(old),
                frag_name(kind)
            ),
        ),
        Some(_) => {}
        None => {
            // RFC 7016 §2.3.11: a multi-fragment message's sequence numbers
            // are contiguous; judged against the neighbours already seen.
            let want_cont =
                |prev: Fragmentation| matches!(prev, Fragmentation::Begin | Fragmentation::Middle);
            let is_cont =
                |k: Fragmentation| matches!(k, Fragmentation::Middle | Fragmentation::End);
            if let Some(&(prev, _)) = x.seq.checked_sub(1).and_then(|s| f.frags.get(&s))
                && want_cont(prev) != is_cont(kind)
            {
                v.fail(
                    RULE,
                    format!(
                        "flow {}: seq {} is {} after a {} fragment (message fragments must be contiguous)",
                        x.flow,
                        x.seq,
                        frag_name(kind),
                        frag_name(prev)
                    ),
                );
            }
            if let Some(&(next, _)) = f.frags.get(&(x.seq + 1))
                && want_cont(kind) != is_cont(next)
            {
                v.fail(
                    RULE,
                    format!(
                        "flow {}: seq {} is {} before a {} fragment (message fragments must be contiguous)",
                        x.flow,
                        x.seq,
                        frag_name(kind),
                        frag_name(next)
                    ),
                );
            }
            if !f.sent.contains(x.seq) {
                f.frags.insert(x.seq, (kind, ident));
            }
        }
    }
}

/// RFC 7016 §2.3.11 ("final: this is the last sequence number of the flow")
/// and §3.6.2.11 (F_FINAL_SN): no sequence number beyond the final one, and
/// one final sequence number per flow.
fn final_fragment(f: &mut SendFlow, x: &Data<'_>, v: &mut Verdicts) {
    const RULE: &str = "final-fragment";
    v.check(RULE);
    if let Some(fin) = f.fin_seq {
        if x.seq > fin {
            v.fail(
                RULE,
                format!(
                    "flow {} seq {}: sent beyond the flow's final sequence number {fin}",
                    x.flow, x.seq
                ),
            );
        } else if x.flags.fin && x.seq != fin {
            v.fail(
                RULE,
                format!(
                    "flow {}: final flag on seq {} after it was on seq {fin}",
                    x.flow, x.seq
                ),
            );
        }
    } else if x.flags.fin
        && let Some(max) = f.sent.max()
        && max > x.seq
    {
        v.fail(
            RULE,
            format!(
                "flow {}: final flag on seq {} after seq {max} was sent",
                x.flow, x.seq
            ),
        );
    }
    if x.flags.fin && f.fin_seq.is_none() {
        f.fin_seq = Some(x.seq);
    }
}

/// RFC 7016 §3.6.2.9: no new data while F_OUTSTANDING_BYTES >= the most
/// recent advertisement the sender had. Outstanding here is user data bytes
/// (fewer than the sender's encoded bytes); the advertisement is the largest
/// the sender may have had: the latest recorded by `known` (see
/// [`known_before`]), or any newer one. Judged only before any loss recovery.
/// Records a first transmission's time and size; returns its size (0 for a
/// repeat).
fn receive_window(
    f: &mut SendFlow,
    x: &Data<'_>,
    now: f64,
    resend: bool,
    known: f64,
    v: &mut Verdicts,
) -> u64 {
    if resend {
        if let Some(t) = f.times.get_mut(&x.seq) {
            t.1 = true;
        }
        f.any_resend = true;
        return 0;
    }
    if f.sent.contains(x.seq) || x.seq <= f.cum_acked {
        return 0;
    }
    if !f.any_resend && !f.adverts.is_empty() {
        // The sender's FSN is evidence too: while nothing was abandoned, it
        // can only reach a sequence number once an acknowledgement covering
        // it arrived (§3.6.2.3), so the sender had that ack (or a later one).
        let fsn = x.seq.saturating_sub(x.fsn_offset);
        let by_fsn = (fsn > 0 && f.abandoned.is_empty())
            .then(|| f.adverts.iter().find(|a| a.2 >= fsn).map(|a| a.0))
            .flatten();
        let known = by_fsn.map_or(known, |t| t.max(known));
        let settled = f.adverts.iter().rev().find(|a| a.0 <= known).map(|a| a.1);
        let newer = f.adverts.iter().filter(|a| a.0 > known).map(|a| a.1).max();
        if let Some(w) = settled.map(|s| newer.map_or(s, |n| s.max(n))) {
            v.check("receive-window");
            let outstanding: u64 = f.times.values().map(|t| t.2).sum();
            if outstanding >= w {
                v.fail(
                    "receive-window",
                    format!(
                        "flow {} seq {}: new data with {outstanding} bytes outstanding and a {w}-byte window advertised {:.1} ms earlier (a round trip before this run of packets began)",
                        x.flow,
                        x.seq,
                        (now - known) * 1e3
                    ),
                );
            }
        }
    }
    let bytes = x.data.len() as u64;
    f.times.insert(x.seq, (now, false, bytes));
    bytes
}

/// Updates what the flow has shown: sequence numbers sent, the FSN, the FSN
/// of first transmissions; forgets fragments the FSN has passed.
fn record_sent(f: &mut SendFlow, x: &Data<'_>) {
    let fsn = x.seq.saturating_sub(x.fsn_offset);
    if !f.sent.contains(x.seq) && f.first_fsn.values().next_back().is_none_or(|&v| fsn > v) {
        f.first_fsn.insert(x.seq, fsn);
    }
    f.sent.insert(x.seq, x.seq);
    f.fsn = f.fsn.max(fsn);
    let keep_from = f.fsn.saturating_sub(1);
    while let Some((&s, _)) = f.frags.first_key_value() {
        if s >= keep_from {
            break;
        }
        f.frags.pop_first();
    }
}

/// RFC 7016 §2.3.11.1.1, §2.3.11.1.2: metadata (and the return association)
/// ride the first User Data chunk of the flow in every packet until the flow
/// is acknowledged, unchanged; one association, indicated from the start.
fn metadata(f: &mut SendFlow, x: &Data<'_>, opts: &DataOptions, new_flow: bool, v: &mut Verdicts) {
    const RULE: &str = "metadata";
    v.check(RULE);
    let abandon = x.flags.abandon;
    let unacked = f.acked_at.is_none();
    if x.first_in_packet && unacked && opts.metadata.is_none() && !abandon {
        v.fail(
            RULE,
            format!(
                "flow {} seq {}: first User Data chunk of the flow in the packet lacks the metadata option while the flow is unacknowledged",
                x.flow, x.seq
            ),
        );
    }
    if let Some(m) = &opts.metadata {
        match &f.metadata {
            Some(old) if old != m => v.fail(
                RULE,
                format!("flow {}: metadata changed between transmissions", x.flow),
            ),
            _ => f.metadata = Some(m.clone()),
        }
    }
    if opts.assocs.len() > 1 {
        v.fail(
            RULE,
            format!(
                "flow {}: {} return association options in one chunk",
                x.flow,
                opts.assocs.len()
            ),
        );
    }
    if let Some(&a) = opts.assocs.first() {
        if new_flow {
            f.association_first = true;
        } else if f.association.is_none() && !f.association_first {
            v.fail(
                RULE,
                format!(
                    "flow {}: return association {a} first indicated after the flow's first transmission",
                    x.flow
                ),
            );
        }
        match f.association {
            Some(old) if old != a => v.fail(
                RULE,
                format!(
                    "flow {}: return association changed from {old} to {a}",
                    x.flow
                ),
            ),
            _ => f.association = Some(a),
        }
    } else if f.association.is_some() && x.first_in_packet && unacked && !abandon {
        v.fail(
            RULE,
            format!(
                "flow {} seq {}: first chunk in the packet lacks the return association while unacknowledged",
                x.flow, x.seq
            ),
        );
    }
}

/// RFC 7016 §2.3.11.1.1, §2.3.11.1.2 (SHOULD): options not repeated in a
/// packet, not sent once acknowledged, metadata at most 512 bytes.
fn metadata_economy(
    f: &SendFlow,
    opts: &DataOptions,
    (meta_n, assoc_n): (u32, u32),
    now: f64,
    flow: u64,
    v: &mut Verdicts,
) {
    const RULE: &str = "metadata-economy";
    v.check(RULE);
    if meta_n == 2 || assoc_n == 2 && opts.assocs.len() < 2 {
        v.fail(RULE, format!("flow {flow}: option repeated in one packet"));
    }
    if let Some(m) = opts.metadata.as_ref().filter(|m| m.len() > 512) {
        v.fail(
            RULE,
            format!(
                "flow {flow}: {}-byte metadata (SHOULD NOT exceed 512)",
                m.len()
            ),
        );
    }
    if let Some(t) = f.acked_at
        && (opts.metadata.is_some() || !opts.assocs.is_empty())
        && now - t > 0.5
    {
        v.fail(
            RULE,
            format!(
                "flow {flow}: metadata/association sent {:.3} s after the flow was acknowledged",
                now - t
            ),
        );
    }
}

/// RFC 7016 §3.5.2 (RFC 5681): the congestion window grows by at most the
/// bytes each acknowledgement covers, from an initial window of 4380 bytes.
/// What is in flight here also counts fragments the sender may already have
/// declared lost, hence the factor 2 (after loss the window is at most half).
/// RFC 7016 §3.5.2.1: with TCR from the far end in the last 800 ms (and no TC
/// data of its own), SSTHRESH acts as 0: from the window it had when TCR
/// began, growth is at most about one segment per round trip.
fn congestion(side: &mut Side, first_bytes: u64, now: f64, v: &mut Verdicts) {
    side.flight += first_bytes;
    let bound = 2 * (INITIAL_WINDOW + side.acked_upper) + 2 * 1500;
    let tcr_active = side
        .tcr_last
        .is_some_and(|t| now - t <= TIME_CRITICAL_WINDOW)
        && side.tc_last.is_none_or(|t| now - t > TIME_CRITICAL_WINDOW);
    if tcr_active
        && side.rtt_samples >= 3
        && let Some(rtt) = side.rtt_min.filter(|r| *r > 0.0)
    {
        v.check("tcr-clamp");
        let rounds = ((now - side.tcr_since) / rtt).ceil().max(0.0) as u64 + 1;
        let clamp = 2 * (INITIAL_WINDOW + side.acked_at_tcr + rounds * 2 * SMSS) + 2 * 1500;
        if side.flight > clamp && !side.tcr_reported {
            side.tcr_reported = true;
            v.fail(
                "tcr-clamp",
                format!(
                    "{} bytes in flight {:.2} s ({rounds} round trips of {:.3} ms) into Time Critical Reverse Notification: beyond linear growth ({clamp})",
                    side.flight,
                    now - side.tcr_since,
                    rtt * 1e3
                ),
            );
        }
    }
    v.check("congestion-window");
    if side.flight > bound && !side.window_reported {
        side.window_reported = true;
        v.fail(
            "congestion-window",
            format!(
                "{} bytes of user data in flight with at most {} acknowledged so far: beyond twice the slow-start bound ({bound})",
                side.flight, side.acked_upper
            ),
        );
    }
}
