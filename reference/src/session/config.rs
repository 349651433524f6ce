//! Endpoint and session settings.

use std::net::SocketAddr;
use std::time::Duration;

#[cfg(feature = "test-hooks")]
pub use crate::faults::Faults;

/// What a responder does with a Forwarded IHello that selects it (RFC 7016
/// §3.5.1.1.2: one of three SHOULDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FIHelloMode {
    /// Send an RHello to the reply address, as though the IHello came from there.
    #[default]
    RHello,
    /// Send an Implied Redirect (a Redirect with no addresses) to the reply address.
    ImpliedRedirect,
    /// Ignore it.
    Ignore,
}

/// A static redirect rule: IHellos whose EPD does not select this endpoint but
/// matches `epd` (all of them when `None`) are answered with a Redirect listing
/// `to` (RFC 7016 §3.5.1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRule {
    pub epd: Option<Vec<u8>>,
    pub to: Vec<SocketAddr>,
}

/// The congestion control algorithm a session uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CongestionAlgorithm {
    /// RFC 7016 Appendix A.
    #[default]
    AppendixA,
    /// RFC 5681 Reno, for comparison.
    Reno,
}

/// Endpoint settings; the defaults follow the RFC's recommendations.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Largest datagram sent in a session: 1192 bytes, what Flash-era peers
    /// accept (fact sheet D8).
    pub max_datagram: usize,
    /// Largest plain RTMFP packet sent in a session (header and chunks), if
    /// smaller than what `max_datagram` leaves: a session sends packets that
    /// fill its datagrams under its own framing (checksum, session sequence
    /// numbers, HMAC), and until it has keys, packets that would fit under the
    /// largest framing (see [`EndpointConfig::max_packet_any_framing`]).
    pub max_packet: usize,
    /// Startup packets larger than this are sent as Packet Fragments (§3.4).
    pub max_startup_packet: usize,
    /// §3.5.1.1.1: RECOMMENDED ultimate open timeout, 95 s.
    pub open_timeout: Duration,
    /// §3.5.1.1.1: first IHello/IIKeying retransmission interval (the backoff adds
    /// at least 1.5 s to the interval each time).
    pub startup_retry: Duration,
    /// §3.5.1.1.1: REDIRECT_THRESHOLD, SHOULD NOT be more than 24.
    pub redirect_threshold: usize,
    /// Send a keepalive Ping after this long without hearing from the far end.
    pub keepalive: Duration,
    /// Declare a session dead after this long without any packet from the far end
    /// while Pings or data are outstanding.
    pub retransmit_limit: Duration,
    /// Close an idle session (no flows) after this long, if set.
    pub idle_close: Option<Duration>,
    pub fihello: FIHelloMode,
    /// Act as a Forwarder (§3.5.1.5) for IHellos whose EPD selects a peer we have
    /// an S_OPEN session with.
    pub forwarder: bool,
    /// When forwarding, also send the initiator a Redirect with the peer's address
    /// (a Redirector, §3.5.1.4 and §3.5.1.6).
    pub redirect_to_forwarded_peer: bool,
    pub redirects: Vec<RedirectRule>,
    pub congestion: CongestionAlgorithm,
    /// Receive buffer per flow, advertised in acks (§3.6.3.5).
    pub receive_buffer: usize,
    /// Resource limits against hostile peers (issue 15).
    pub limits: Limits,
    /// Accept new receiving flows (otherwise reject them with exception 0).
    pub accept_flows: bool,
    /// Record a congestion trace per session.
    pub trace: bool,
    /// Report every decrypted packet (and every undecodable datagram) as an event,
    /// for test tools that need to see the wire.
    pub tap: bool,
    /// Set Time Critical Reverse Notification on every session packet, as
    /// though time-critical data were arriving on another session (test tools:
    /// RFC 7016 §3.5.2.1 behaviour of the far end).
    #[cfg(feature = "test-hooks")]
    pub force_tcr: bool,
    /// Liberty (RFC 7016 §3.4: fragmentation "can" be used; nothing obliges
    /// a receiver to reassemble): reassemble Packet Fragments (default true).
    pub reassemble_fragments: bool,
    /// Liberty (§3.5.1.1.2: answering an IHello is a SHOULD): answer at most
    /// one IHello per startup packet.
    pub one_ihello_per_packet: bool,
    /// Liberty (§3.5.2.2: the ERTO SHOULD be at least 250 ms; more is allowed):
    /// a floor for the ERTO above the RFC's.
    pub min_erto: Duration,
    /// Liberty (§3.6.3.4.1: acknowledge "as soon as is practical", at most
    /// 200 ms late): never piggyback acknowledgements on data (§3.6.3.4.6 is
    /// optional); acknowledge only when obligatory or when DELACK_ALARM fires.
    pub no_opportunistic_acks: bool,
    /// Liberty (§2.2.4: "The sender's clock MAY have its origin at any time in
    /// the past"): ticks added to every timestamp this endpoint sends.
    pub timestamp_origin: u16,
    /// Put a timestamp on every session packet, as Flash Player does (test
    /// tools: Flash-era servers read one from every packet). §3.5.2.2 sends one
    /// only when it changed.
    pub timestamp_every_packet: bool,
    /// §3.5.2.3: the most packets with user data sent between acknowledgements
    /// (or retransmission timeouts); the RFC says SHOULD NOT exceed six, the
    /// default. None turns burst avoidance off.
    pub burst_limit: Option<u32>,
    /// Liberty of §3.5.2.3's SHOULD: burst avoidance applies while a session's
    /// SRTT is unknown or at least this; below it the congestion window alone
    /// decides. Default 4.5 ms, the threshold of the RFC author's stack
    /// (rtmfp-cpp's `BURST_RTT_THRESH`): against a receiver that acknowledges
    /// once per burst it reads (rtmfp-cpp's `server` does), six packets per
    /// round trip is all a sub-millisecond path would carry, while the jammed
    /// "interfaces, links, and buffers" the section guards against belong to
    /// longer paths. Zero: always apply the limit.
    pub burst_min_srtt: Duration,
    /// Deliberate RFC violations for the conformance suite's self-test.
    #[cfg(feature = "test-hooks")]
    pub faults: Faults,
}

impl EndpointConfig {
    /// The largest plain packet that fits `max_datagram` under any framing: the
    /// scrambled session ID, a session sequence number, a 32-byte HMAC and a
    /// cipher block of padding (what a session's fragments are cut to before it
    /// knows its keys).
    pub fn max_packet_any_framing(&self) -> usize {
        self.max_packet
            .min(self.max_datagram.saturating_sub(4 + 16 + 10 + 32))
    }

    /// The largest plain packet a session with `cipher` sends.
    pub fn max_packet_for(&self, cipher: &dyn crate::crypto::PacketCipher) -> usize {
        // The datagram: the 4-byte scrambled session ID, then the sealed packet.
        self.max_packet
            .min(cipher.max_plain(self.max_datagram.saturating_sub(4)))
    }
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            max_datagram: 1192,
            max_packet: 1192 - 4,
            max_startup_packet: 1192 - 4 - 16,
            open_timeout: Duration::from_secs(95),
            startup_retry: Duration::from_millis(1500),
            redirect_threshold: 24,
            keepalive: Duration::from_secs(10),
            retransmit_limit: Duration::from_secs(30),
            idle_close: None,
            fihello: FIHelloMode::RHello,
            forwarder: true,
            redirect_to_forwarded_peer: false,
            redirects: Vec::new(),
            congestion: CongestionAlgorithm::AppendixA,
            receive_buffer: 1 << 20,
            limits: Limits::default(),
            accept_flows: true,
            trace: false,
            tap: false,
            #[cfg(feature = "test-hooks")]
            force_tcr: false,
            reassemble_fragments: true,
            one_ihello_per_packet: false,
            min_erto: Duration::ZERO,
            no_opportunistic_acks: false,
            burst_limit: Some(crate::congestion::MAX_BURST),
            burst_min_srtt: crate::congestion::BURST_MIN_SRTT,
            timestamp_origin: 0,
            timestamp_every_packet: false,
            #[cfg(feature = "test-hooks")]
            faults: Faults::default(),
        }
    }
}

/// What one peer, and all peers together, can make an endpoint hold. Each limit
/// hit is counted ([`crate::stats::DropReason`]) and handled the RFC's way: a
/// flow beyond the limit is rejected with a Flow Exception (§3.6.3.7), data
/// beyond a buffer is dropped unacknowledged (§3.6.3.5) so a conforming sender
/// retransmits it, a session beyond the limit is not opened (the IIKeying gets
/// no RIKeying, §3.5.1.1.2). Nothing already acknowledged is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Receiving flows open at once in one session; more are rejected.
    pub max_flows_per_session: usize,
    /// Bytes one session's flows may hold: its receiving flows' reassembly
    /// buffers and delivered messages not yet consumed by the application, and
    /// its sending flows' unacknowledged messages.
    pub max_session_buffer: usize,
    /// Bytes all sessions' receiving flows may hold together.
    pub max_buffer_total: usize,
    /// Sessions at once (any state).
    pub max_sessions: usize,
    /// Sessions being opened at once: our own openings (S_IHELLO_SENT,
    /// S_KEYING_SENT) and sessions we answered (RIKeying sent) whose initiator
    /// has not yet sent a packet in them.
    pub max_half_open: usize,
    /// Bytes queued on one sending flow and not yet acknowledged; `send`
    /// beyond it fails with [`crate::flow::FlowError::WouldBlock`] until the
    /// flow drains ([`crate::session::SessionEvent::Writable`]).
    pub send_buffer: usize,
    /// Startup answers (RHello, Cookie Change, Redirect, FIHello, RIKeying)
    /// per second in total, and per source address; the rest are dropped.
    pub startup_answers_per_second: u32,
    pub startup_answers_per_source_per_second: u32,
    /// Packet Fragment reassemblies in progress per source address (§3.4).
    pub reassemblies_per_source: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows_per_session: 256,
            max_session_buffer: 4 << 20,
            max_buffer_total: 64 << 20,
            max_sessions: 10_000,
            max_half_open: 1_000,
            // rtmfp-cpp's default send buffer is of this order.
            send_buffer: 1 << 20,
            startup_answers_per_second: 10_000,
            startup_answers_per_source_per_second: 100,
            reassemblies_per_source: 4,
        }
    }
}
