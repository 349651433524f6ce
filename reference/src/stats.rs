//! What an endpoint counts: datagrams and bytes in and out, and why a datagram,
//! packet or chunk was dropped or ignored — one counter per [`DropReason`].
//!
//! The set of reasons is fixed, so hostile input cannot grow it: what varies
//! from one drop to the next (an error's offset, a chunk type, a mode) goes to
//! `tracing` at debug level, not into the counters.

use serde::ser::{Serialize, SerializeMap, Serializer};

macro_rules! drop_reasons {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// Why a datagram, packet or chunk was dropped or ignored (RFC 7016: "every
        /// drop has a visible reason").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum DropReason {
            $($(#[$doc])* $variant,)*
        }

        impl DropReason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];

            /// A short description, the same for every drop of this kind.
            pub fn text(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $text,)*
                }
            }
        }
    };
}

drop_reasons! {
    // ---- datagrams (RFC 7016 §2.2.1 multiplexing, §2.2.3 encryption)
    ShortDatagram => "datagram shorter than a session ID",
    /// §2.2.3: SHALL discard a packet that fails decryption or integrity.
    StartupUndecryptable => "startup packet does not decrypt or verify",
    UnknownSessionId => "unknown session ID",
    ClosedSession => "packet for a closed session",
    OpeningSessionUndecryptable => "startup packet to opening session does not decrypt or verify",
    NoKeys => "session has no keys",
    /// §2.2.3: SHALL discard a packet that fails decryption or integrity.
    SessionUndecryptable => "session packet does not decrypt or verify",
    // ---- packets (§2.2.4)
    StartupUnparsable => "startup packet does not parse",
    SessionUnparsable => "session packet does not parse",
    NonStartupModeDefaultKey => "non-startup mode with the default key",
    /// §2.2.4: the initiator SHOULD ignore mode 1 packets, the responder mode 2.
    SessionPacketWrongMode => "session packet in the wrong mode",
    OutgoingUnencodable => "outgoing startup packet not encodable",
    // ---- fragments (§3.4)
    ReassembledModeMismatch => "reassembled packet with another mode",
    FragmentModeMismatch => "packet fragment in another mode than the first",
    FragmentLimit => "packet fragment beyond the reassembly limits",
    /// §3.4 resource limits: a reassembly given up for a newer one.
    FragmentEvicted => "reassembly buffer evicted (per-source or table limit)",
    FragmentInconsistent => "packet fragment inconsistent with the others",
    /// Liberty `reassemble_fragments` off: §3.4 fragmentation "can" be used.
    FragmentReassemblyOff => "packet fragment dropped (reassembly off)",
    // ---- chunks (§2.3)
    MalformedChunk => "malformed chunk",
    /// §2.3: MUST ignore an unrecognised chunk type.
    UnknownChunk => "unknown chunk type ignored",
    StartupChunkNotAllowed => "chunk not allowed in a startup packet",
    SessionChunkNotAllowed => "chunk not allowed in a session packet",
    DataPlaneChunkIgnored => "chunk ignored in the data plane",
    // ---- startup (§3.5.1)
    IHelloNotForUs => "IHello for an EPD that does not select us",
    FIHelloNotForUs => "FIHello for an EPD that does not select us",
    FIHelloIgnored => "FIHello ignored by configuration",
    /// Liberty `one_ihello_per_packet`: answering an IHello is a SHOULD.
    IHelloNotFirstInPacket => "IHello after the first in a packet (one per packet)",
    RedirectUnknownTag => "Redirect with an unknown tag",
    RedirectWrongState => "Redirect for a session not in S_IHELLO_SENT",
    RHelloUnknownTag => "RHello with an unknown tag",
    RHelloWrongState => "RHello for a session not in S_IHELLO_SENT",
    RHelloCertificateNotSelected => "RHello certificate not selected by the EPD",
    RHelloCertificateInvalid => "RHello certificate invalid",
    CookieChangeMismatch => "Cookie Change that does not match our cookie",
    /// §3.5.1.2: SHOULD NOT change the cookie more than once.
    SecondCookieChange => "second Cookie Change ignored",
    /// §3.3: session ID 0 MUST NOT be used for an active session.
    RIKeyingSessionIdZero => "RIKeying with responderSessionID 0",
    RIKeyingWrongState => "RIKeying for a session not in S_KEYING_SENT",
    RIKeyingSignature => "RIKeying signature not authentic",
    /// §3.3: session ID 0 MUST NOT be used for an active session.
    IIKeyingSessionIdZero => "IIKeying with initiatorSessionID 0",
    IIKeyingBadCookie => "IIKeying with an invalid or expired cookie",
    /// §3.5.1.2: answered with an RHello Cookie Change.
    IIKeyingCookieWrongAddress => "IIKeying cookie made for another address (Cookie Change answered)",
    IIKeyingCertificateInvalid => "IIKeying certificate invalid",
    IIKeyingSignature => "IIKeying signature not authentic",
    /// §3.5.1.3: the near end prevails.
    IIKeyingLostGlare => "IIKeying lost glare (near end prevails)",
    IIKeyingNotOverride => "IIKeying from the address of an open session, not an override",
    IIKeyingKeyComponent => "IIKeying key component not acceptable",
    // ---- open sessions (§3.5.4)
    MobilityReplyUnverified => "mobility Ping Reply that does not verify",
    MobilityReplyStale => "stale mobility Ping Reply",
    // ---- flows (§3.6)
    NextUserDataWithoutUserData => "Next User Data without a preceding User Data",
    NextUserDataOverflow => "Next User Data sequence number overflow",
    BufferProbeUnknownFlow => "Buffer Probe for an unknown flow",
    ExceptionUnknownFlow => "Flow Exception Report for an unknown flow",
    AckUnknownFlow => "acknowledgement for an unknown flow",
    SequenceSetTooFragmented => "flow sequence set too fragmented",
    ReceiveBufferOverrun => "receive buffer overrun beyond the advertised window",
    // ---- limits (EndpointConfig::limits)
    /// §3.6.3.5: dropped unacknowledged; the sender retransmits.
    SessionBufferLimit => "data beyond the session's or the endpoint's buffer limit",
    /// §3.6.3.7: rejected with a Flow Exception Report.
    FlowLimit => "new flow beyond the session's flow limit (rejected)",
    /// Not even a rejected flow's state is kept: dropped unacknowledged.
    FlowTableFull => "data for a new flow while the flow table is full",
    SessionLimit => "IIKeying beyond the session limit (not answered)",
    HalfOpenLimit => "IIKeying or connect beyond the half-open limit",
    StartupAnswerRateLimited => "startup answer beyond the rate limit (not sent)",
    /// §3.4 pacing: the queue for the destination (or all queues) is full.
    StartupPacingFull => "startup datagram beyond the pacing queues (not sent)",
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl Serialize for DropReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text())
    }
}

/// One counter per [`DropReason`]: a fixed size whatever arrives.
#[derive(Clone, PartialEq, Eq)]
pub struct Drops([u64; DropReason::ALL.len()]);

impl Default for Drops {
    fn default() -> Self {
        Drops([0; DropReason::ALL.len()])
    }
}

impl Drops {
    pub fn get(&self, r: DropReason) -> u64 {
        self.0[r as usize]
    }

    /// The reasons with a non-zero count.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl std::fmt::Debug for Drops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(r, n)| (r.text(), n)))
            .finish()
    }
}

impl Serialize for Drops {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (r, n) in self.iter() {
            m.serialize_entry(r.text(), &n)?;
        }
        m.end()
    }
}

/// What an endpoint counts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub drops: Drops,
}

impl Stats {
    /// Counts a drop.
    pub fn drop(&mut self, reason: DropReason) {
        tracing::debug!(%reason, "drop");
        self.drops.0[reason as usize] += 1;
    }

    /// Counts a drop; `detail` (an error, a chunk type) goes only to the log.
    pub fn drop_with(&mut self, reason: DropReason, detail: impl std::fmt::Display) {
        tracing::debug!(%reason, %detail, "drop");
        self.drops.0[reason as usize] += 1;
    }

    /// How many drops for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops.get(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_counts_alone_and_has_its_own_text() {
        let mut s = Stats::default();
        for (i, &r) in DropReason::ALL.iter().enumerate() {
            for _ in 0..=i {
                s.drop(r);
            }
        }
        for (i, &r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(s.dropped(r), i as u64 + 1, "{r:?}");
        }
        let mut texts: Vec<_> = DropReason::ALL.iter().map(|r| r.text()).collect();
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), DropReason::ALL.len());
    }

    #[test]
    fn drops_serialise_as_text_to_count() {
        let mut s = Stats::default();
        s.drop_with(DropReason::MalformedChunk, "0x10: truncated");
        s.drop(DropReason::MalformedChunk);
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["drops"]["malformed chunk"], 2);
        assert_eq!(j["drops"].as_object().unwrap().len(), 1);
    }
}
