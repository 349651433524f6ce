//! Deliberate violations of the RFC, for the conformance suite's self-test
//! (`rtmfp-conformance run --target reference --inject FAULT`): each breaks one
//! rule, and the case named for it must catch it. Compiled only with the
//! `test-hooks` feature; in code, a fault is read with `fault!(holder, name)`,
//! which is the constant `false` in a build without the feature, and a fault
//! that changes how a receiver reads its input (chunks, modes, keys) with
//! `faulty!(holder, method(args), input)`, which is `input` unchanged there.

macro_rules! faults {
    ($($(#[doc = $doc:literal])* $field:ident = $name:literal: $what:literal,)*) => {
        /// Deliberate violations of the RFC, all off by default: one table of
        /// field, `--inject` name and what it breaks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct Faults {
            $($(#[doc = $doc])* pub $field: bool,)*
        }

        impl Faults {
            /// The names `--inject` accepts, with what each breaks.
            pub const ALL: &'static [(&'static str, &'static str)] = &[$(($name, $what),)*];

            /// Turns on the fault named `name`.
            pub fn set(&mut self, name: &str) -> Result<(), String> {
                match name {
                    $($name => self.$field = true,)*
                    other => {
                        return Err(format!(
                            "unknown fault `{other}` (known: {})",
                            Self::ALL.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
                Ok(())
            }
        }
    };
}

faults! {
    /// Accept an IIKeying whose cookie is not authentic (§3.5.1.1.2).
    accept_bad_cookie = "accept-bad-cookie": "accepts an IIKeying with a forged cookie",
    /// Alter the tag echoed in RHello (§2.3.4: the tag, unaltered).
    alter_tag_echo = "alter-tag-echo": "echoes a modified tag in RHello",
    /// Acknowledge one sequence number beyond what was received (§3.6.1.3).
    ack_unsent = "ack-unsent": "acknowledges a sequence number it never received",
    /// Ignore the Forward Sequence Number of received User Data (§3.6.3.2 step 12).
    ignore_fsn = "ignore-fsn": "ignores the Forward Sequence Number",
    /// Never acknowledge at once; only after the delayed-ack alarm (§3.6.3.4.5).
    no_obligatory_ack = "no-obligatory-ack": "delays every acknowledgement to the 200 ms alarm",
    /// Compute checksums with the RFC 1071 odd-byte rule (plain profile).
    checksum_rfc1071 = "checksum-rfc1071": "uses the RFC 1071 odd-byte checksum rule",
    /// Never send keepalive Pings (§3.5.4.1).
    no_keepalive = "no-keepalive": "never sends keepalive Pings",
    /// Never retransmit a fragment (§3.6.2.5, §3.6.2.6).
    never_retransmit = "never-retransmit": "never retransmits lost fragments",
    /// Mark session packets with the other end's mode (§2.2.4).
    wrong_mode = "wrong-mode": "marks session packets with the other end's mode",
    /// Alter the message of a Ping Reply (§2.3.10, §3.5.4).
    alter_ping_reply = "alter-ping-reply": "alters the message echoed in Ping Reply",
    /// Do not answer a Close Request with a Close Ack (§3.5.5).
    no_close_ack = "no-close-ack": "does not answer Close with Close Ack",
    /// Do not send a Flow Exception Report before acks of a rejected flow (§3.6.3.7).
    no_exception_on_reject = "no-exception-on-reject": "rejects flows without a Flow Exception Report",
    /// Send the flow metadata only once, not until the flow is acknowledged (§2.3.11.1.1).
    no_metadata_repeat = "no-metadata-repeat": "sends flow metadata only once",
    /// Use a fixed 60 ms ERTO, less than the round-trip time (§3.5.2.2).
    short_erto = "short-erto": "retransmits on a 60 ms timer, less than the round-trip time",
    /// Send whatever the receive window allows, ignoring the congestion window (§3.5.2).
    no_congestion_control = "no-congestion-control":
        "sends as much as the receive window allows, ignoring the congestion window",
    /// Resolve glare the other way round from the profile's rule (§3.5.1.3, §3.2).
    invert_glare = "invert-glare": "resolves glare the other way round from the profile's rule",
    /// Ignore Time Critical Reverse Notifications: keep slow start (§3.5.2.1).
    ignore_tcr = "ignore-tcr": "keeps growing exponentially when the far end signals TCR",
    /// Send startup packets and fragments without pacing (§3.4).
    no_fragment_pacing = "no-fragment-pacing": "sends all Packet Fragments of a packet at once, unpaced",
    /// Send new data whatever the receiver's advertised window (§3.6.2.9).
    ignore_receive_window = "ignore-receive-window":
        "sends new data beyond the receiver's advertised window",
    /// Discard a packet whose header has a reserved bit set (RFC 7016 §2: MUST ignore).
    reject_reserved_bits = "reject-reserved-bits": "discards packets whose reserved header bits are set",
    /// Do not detect a chunk field that runs past its chunk: read on, as if the
    /// chunk went on (RFC 7016 §2: MUST identify truncations).
    read_past_chunk_end = "read-past-chunk-end":
        "reads a truncated User Data chunk's fields past the end of the chunk",
    /// Drop only the bad option of a User Data chunk, keep the rest of the
    /// chunk (RFC 7016 §2: an error aborts the enclosing elements).
    salvage_malformed_chunk = "salvage-malformed-chunk":
        "drops only the malformed option of a User Data chunk and processes the rest",
    /// Stop processing a packet at a malformed chunk (RFC 7016 §2.3: go on with the next).
    stop_at_malformed_chunk = "stop-at-malformed-chunk":
        "ignores the rest of a packet after a malformed chunk",
    /// Stop processing a packet at an unknown chunk type (RFC 7016 §2.3: ignore the chunk).
    stop_at_unknown_chunk = "stop-at-unknown-chunk":
        "ignores the rest of a packet after a chunk of unknown type",
    /// Process session chunks in a session packet marked mode 3 (RFC 7016 §2.3).
    ignore_chunk_mode = "ignore-chunk-mode":
        "processes session chunks in a startup-mode (3) session packet",
    /// Treat a mode-0 session packet as if it had the right mode (RFC 7016 §2.2.4).
    accept_mode_0 = "accept-mode-0": "processes packets marked with the invalid mode 0",
    /// Process a plain-profile packet whose checksum is wrong (RFC 7016 §2.2.3).
    skip_integrity_check = "skip-integrity-check":
        "processes packets that fail the integrity check (plain profile checksum)",
    /// Process a packet to a session's ID that opens only with the Default
    /// Session Key (RFC 7016 §2.2.3: decrypt with the session's key).
    accept_default_key = "accept-default-key":
        "processes packets to a session ID sealed with the Default Session Key",
    /// Keep and deliver the userData of an abandoned fragment (RFC 7016 §2.3.11).
    keep_abandoned_data = "keep-abandoned-data": "delivers the userData of abandoned fragments",
    /// Open the echo's return flows without a Return Flow Association
    /// (RFC 7016 §2.3.11.1: MUST support the options).
    no_return_association = "no-return-association":
        "opens return flows without the Return Flow Association option",
    /// Reject a flow for an option of type 8192 or above (RFC 7016 §2.3.11.1).
    reject_ignorable_options = "reject-ignorable-options":
        "rejects flows carrying unknown options of type 8192 or above",
    /// Accept a flow whose return association names no F_OPEN sending flow
    /// (RFC 7016 §2.3.11.1.2).
    accept_dangling_association = "accept-dangling-association":
        "accepts flows associated with a sending flow that is not F_OPEN",
    /// Reject flows automatically with exception code 1 (RFC 7016 §2.3.16: 0).
    nonzero_reject_code = "nonzero-reject-code": "rejects flows automatically with code 1",
    /// Keep an empty Packet Fragment (RFC 7016 §3.4: MUST discard).
    accept_empty_fragment = "accept-empty-fragment": "keeps empty Packet Fragments",
    /// Accept Packet Fragments in any mode, without comparing it with the
    /// first fragment's (RFC 7016 §3.4).
    ignore_fragment_mode = "ignore-fragment-mode":
        "reassembles fragments whatever the mode of the packets carrying them",
    /// Process a reassembled packet in the mode of its fragments' packets,
    /// whatever its own (RFC 7016 §3.4: MUST discard when they differ).
    ignore_reassembled_mode = "ignore-reassembled-mode":
        "processes a reassembled packet whose mode differs from its fragments'",
    /// Refuse flow ID 0 (RFC 7016 §3.6.1.1: no meaning in a flow ID).
    refuse_flow_id_0 = "refuse-flow-id-0": "rejects a flow because its ID is 0",
    /// Deliver the completed part of a message whose rest was abandoned
    /// (RFC 7016 §3.6.3.3: only complete messages).
    deliver_partial = "deliver-partial": "delivers a partial message whose rest was abandoned",
    /// Advertise 0 buffer blocks when the buffer is over capacity, though not
    /// suspended (RFC 7016 §3.6.3.5).
    zero_window_when_full = "zero-window-when-full":
        "advertises a zero window when over capacity though not suspended",
    /// Send every User Data chunk with fsnOffset 1, whatever is outstanding
    /// before it (RFC 7016 §3.6.2.3: the FSN is not above an outstanding
    /// sequence number).
    fsn_past_outstanding = "fsn-past-outstanding":
        "sends an FSN of one less than each chunk's sequence number, past fragments still outstanding",
    /// Never send a timestamp echo (RFC 7016 §3.5.2.2: MUST implement the
    /// Timestamp Echo facility).
    no_timestamp_echo = "no-timestamp-echo": "never echoes the far end's timestamps",
    /// Derive the session keys from a key component that differs from the one
    /// on the wire (RFC 7425 §4.6.5), so no packet of the session decrypts.
    wrong_key_derivation = "wrong-key-derivation":
        "derives the session keys from an altered key component",
}

// What a receiver with a fault on reads or opens. Each is the identity (or
// the original error) in a build without the `test-hooks` feature.
use crate::crypto::{CryptoError, Integrity, Opened, PacketCipher};
use crate::wire::chunk::types::{PACKET_FRAGMENT, USER_DATA};
use crate::wire::{Chunk, MalformedChunk, Mode, PacketFragment, Reader};

impl Faults {
    /// A packet's chunks as a receiver with the chunk-reading faults reads
    /// them (RFC 7016 §2, §2.3, §3.4 are what those faults break).
    pub fn misread(&self, chunks: Vec<Chunk>) -> Vec<Chunk> {
        if !cfg!(feature = "test-hooks") || *self == Faults::default() {
            return chunks;
        }
        let mut out = Vec::with_capacity(chunks.len());
        let mut swallow = false;
        for c in chunks {
            if std::mem::take(&mut swallow) {
                // Read as the rest of the truncated chunk before it.
                continue;
            }
            swallow = self.read_past_chunk_end && matches!(c, Chunk::Malformed(_));
            let stop = match &c {
                Chunk::Malformed(_) => self.stop_at_malformed_chunk,
                Chunk::Unknown { chunk_type, .. } => {
                    self.stop_at_unknown_chunk && !matches!(chunk_type, 0x00 | 0xff)
                }
                _ => false,
            };
            out.push(match c {
                Chunk::Malformed(m) => self.reread(m),
                c => c,
            });
            if stop {
                break;
            }
        }
        out
    }

    fn reread(&self, m: MalformedChunk) -> Chunk {
        let user_data = |p: &[u8]| match Chunk::parse(USER_DATA, p) {
            c @ Chunk::UserData(_) => Some(c),
            _ => None,
        };
        if m.chunk_type == USER_DATA && self.read_past_chunk_end {
            // As if the chunk went on into what follows it.
            let mut p = m.payload.clone();
            p.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            if let Some(c) = user_data(&p) {
                return c;
            }
        }
        if m.chunk_type == USER_DATA && self.salvage_malformed_chunk {
            // Keep what parsed before the error, end the options there.
            for k in (0..m.payload.len()).rev() {
                let mut p = m.payload[..k].to_vec();
                p.push(0);
                if let Some(c) = user_data(&p) {
                    return c;
                }
            }
        }
        if m.chunk_type == PACKET_FRAGMENT && self.accept_empty_fragment {
            let mut r = Reader::new(&m.payload);
            if let (Ok(flags), Ok(packet_id), Ok(fragment_num)) =
                (r.u8("flags"), r.vlu("packetID"), r.vlu("fragmentNum"))
                && r.is_empty()
            {
                return Chunk::PacketFragment(PacketFragment {
                    more_fragments: flags & 0x80 != 0,
                    reserved: flags & 0x7f,
                    packet_id,
                    fragment_num,
                    packet_fragment: Vec::new(),
                });
            }
        }
        Chunk::Malformed(m)
    }

    /// A session packet's plain bytes, with a mode-0 header given `mode`
    /// under `accept-mode-0`.
    pub fn mode_0_as<'a>(&self, plain: &'a [u8], mode: Mode) -> std::borrow::Cow<'a, [u8]> {
        if cfg!(feature = "test-hooks")
            && self.accept_mode_0
            && plain.first().is_some_and(|b| b & 3 == 0)
        {
            let mut v = plain.to_vec();
            v[0] |= mode as u8;
            return v.into();
        }
        plain.into()
    }

    /// A reassembled packet, given the mode of its fragments' packets under
    /// `ignore-reassembled-mode`.
    pub fn reassembled_mode(&self, mut whole: Vec<u8>, mode: Mode) -> Vec<u8> {
        if cfg!(feature = "test-hooks")
            && self.ignore_reassembled_mode
            && let Some(b) = whole.first_mut()
        {
            *b = (*b & !3) | mode as u8;
        }
        whole
    }

    /// A session packet that failed to open with the session's key, opened
    /// anyway under `skip-integrity-check` (plain profile: the packet before
    /// its trailer) or `accept-default-key`.
    pub fn open_anyway(
        &self,
        profile: &str,
        default: &mut dyn PacketCipher,
        encrypted: &[u8],
        e: CryptoError,
    ) -> Result<Opened, CryptoError> {
        if !cfg!(feature = "test-hooks") {
            return Err(e);
        }
        if self.skip_integrity_check && profile == "plain" && encrypted.len() >= 18 {
            return Ok(Opened {
                packet: encrypted[..encrypted.len() - 18].to_vec(),
                integrity: Integrity::Checksum(0),
                sseq: None,
            });
        }
        if self.accept_default_key {
            return default.open(encrypted);
        }
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::Faults;

    #[test]
    fn every_listed_fault_sets_one_distinct_field() {
        let mut seen = Vec::new();
        for (name, _) in Faults::ALL {
            let mut f = Faults::default();
            f.set(name).unwrap();
            assert_ne!(f, Faults::default(), "{name}");
            assert!(!seen.contains(&f), "{name} sets the same field as another");
            seen.push(f);
        }
        assert_eq!(Faults::ALL.len(), 42);
        assert!(Faults::default().set("no-such-fault").is_err());
    }
}
