//! Endpoint and session settings.

use std::net::SocketAddr;
use std::time::Duration;

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
    /// Largest plain RTMFP packet sent in a session (header and chunks), chosen so
    /// that datagrams stay at or under 1192 bytes for Flash-era peers
    /// (fact sheet D8) even with a session sequence number and a 32-byte HMAC.
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
    pub force_tcr: bool,
    /// Put a timestamp on every session packet, as Flash Player does (test
    /// tools: Flash-era servers read one from every packet). §3.5.2.2 sends one
    /// only when it changed.
    pub timestamp_every_packet: bool,
    /// Deliberate RFC violations for the conformance suite's self-test.
    pub faults: Faults,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            max_packet: 1192 - 4 - 16 - 10 - 32,
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
            accept_flows: true,
            trace: false,
            tap: false,
            force_tcr: false,
            timestamp_every_packet: false,
            faults: Faults::default(),
        }
    }
}

/// Deliberate violations of the RFC, off by default. They exist so that the
/// conformance suite can prove it detects real bugs (`rtmfp-conformance run
/// --target reference --inject FAULT`); nothing else should turn them on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    /// Accept an IIKeying whose cookie is not authentic (§3.5.1.1.2).
    pub accept_bad_cookie: bool,
    /// Alter the tag echoed in RHello (§2.3.4: the tag, unaltered).
    pub alter_tag_echo: bool,
    /// Acknowledge one sequence number beyond what was received (§3.6.1.3).
    pub ack_unsent: bool,
    /// Ignore the Forward Sequence Number of received User Data (§3.6.3.2 step 12).
    pub ignore_fsn: bool,
    /// Never acknowledge at once; only after the delayed-ack alarm (§3.6.3.4.5).
    pub no_obligatory_ack: bool,
    /// Compute checksums with the RFC 1071 odd-byte rule (plain profile).
    pub checksum_rfc1071: bool,
    /// Never send keepalive Pings (§3.5.4.1).
    pub no_keepalive: bool,
    /// Never retransmit a fragment (§3.6.2.5, §3.6.2.6).
    pub never_retransmit: bool,
    /// Mark session packets with the other end's mode (§2.2.4).
    pub wrong_mode: bool,
    /// Alter the message of a Ping Reply (§2.3.10, §3.5.4).
    pub alter_ping_reply: bool,
    /// Do not answer a Close Request with a Close Ack (§3.5.5).
    pub no_close_ack: bool,
    /// Do not send a Flow Exception Report before acks of a rejected flow (§3.6.3.7).
    pub no_exception_on_reject: bool,
    /// Send the flow metadata only once, not until the flow is acknowledged (§2.3.11.1.1).
    pub no_metadata_repeat: bool,
    /// Use a fixed 60 ms ERTO, less than the round-trip time (§3.5.2.2).
    pub short_erto: bool,
    /// Send whatever the receive window allows, ignoring the congestion window (§3.5.2).
    pub no_congestion_control: bool,
    /// Resolve glare the other way round from the profile's rule (§3.5.1.3, §3.2).
    pub invert_glare: bool,
    /// Ignore Time Critical Reverse Notifications: keep slow start (§3.5.2.1).
    pub ignore_tcr: bool,
    /// Send startup packets and fragments without pacing (§3.4).
    pub no_fragment_pacing: bool,
    /// Send new data whatever the receiver's advertised window (§3.6.2.9).
    pub ignore_receive_window: bool,
    /// Derive the session keys from a key component that differs from the one
    /// on the wire (RFC 7425 §4.6.5), so no packet of the session decrypts.
    pub wrong_key_derivation: bool,
}

impl Faults {
    /// The names `--inject` accepts, with what each breaks.
    pub const ALL: &'static [(&'static str, &'static str)] = &[
        (
            "accept-bad-cookie",
            "accepts an IIKeying with a forged cookie",
        ),
        ("alter-tag-echo", "echoes a modified tag in RHello"),
        (
            "ack-unsent",
            "acknowledges a sequence number it never received",
        ),
        ("ignore-fsn", "ignores the Forward Sequence Number"),
        (
            "no-obligatory-ack",
            "delays every acknowledgement to the 200 ms alarm",
        ),
        (
            "checksum-rfc1071",
            "uses the RFC 1071 odd-byte checksum rule",
        ),
        ("no-keepalive", "never sends keepalive Pings"),
        ("never-retransmit", "never retransmits lost fragments"),
        (
            "wrong-mode",
            "marks session packets with the other end's mode",
        ),
        (
            "alter-ping-reply",
            "alters the message echoed in Ping Reply",
        ),
        ("no-close-ack", "does not answer Close with Close Ack"),
        (
            "no-exception-on-reject",
            "rejects flows without a Flow Exception Report",
        ),
        ("no-metadata-repeat", "sends flow metadata only once"),
        (
            "short-erto",
            "retransmits on a 60 ms timer, less than the round-trip time",
        ),
        (
            "no-congestion-control",
            "sends as much as the receive window allows, ignoring the congestion window",
        ),
        (
            "invert-glare",
            "resolves glare the other way round from the profile's rule",
        ),
        (
            "ignore-tcr",
            "keeps growing exponentially when the far end signals TCR",
        ),
        (
            "no-fragment-pacing",
            "sends all Packet Fragments of a packet at once, unpaced",
        ),
        (
            "ignore-receive-window",
            "sends new data beyond the receiver's advertised window",
        ),
        (
            "wrong-key-derivation",
            "derives session keys that differ from the far end's",
        ),
    ];

    /// Turns on the fault named `name`.
    pub fn set(&mut self, name: &str) -> Result<(), String> {
        let f = match name {
            "accept-bad-cookie" => &mut self.accept_bad_cookie,
            "alter-tag-echo" => &mut self.alter_tag_echo,
            "ack-unsent" => &mut self.ack_unsent,
            "ignore-fsn" => &mut self.ignore_fsn,
            "no-obligatory-ack" => &mut self.no_obligatory_ack,
            "checksum-rfc1071" => &mut self.checksum_rfc1071,
            "no-keepalive" => &mut self.no_keepalive,
            "never-retransmit" => &mut self.never_retransmit,
            "wrong-mode" => &mut self.wrong_mode,
            "alter-ping-reply" => &mut self.alter_ping_reply,
            "no-close-ack" => &mut self.no_close_ack,
            "no-exception-on-reject" => &mut self.no_exception_on_reject,
            "no-metadata-repeat" => &mut self.no_metadata_repeat,
            "short-erto" => &mut self.short_erto,
            "no-congestion-control" => &mut self.no_congestion_control,
            "invert-glare" => &mut self.invert_glare,
            "ignore-tcr" => &mut self.ignore_tcr,
            "no-fragment-pacing" => &mut self.no_fragment_pacing,
            "ignore-receive-window" => &mut self.ignore_receive_window,
            "wrong-key-derivation" => &mut self.wrong_key_derivation,
            other => {
                return Err(format!(
                    "unknown fault `{other}` (known: {})",
                    Self::ALL.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                ));
            }
        };
        *f = true;
        Ok(())
    }
}
