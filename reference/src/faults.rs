//! Deliberate violations of the RFC, for the conformance suite's self-test
//! (`rtmfp-conformance run --target reference --inject FAULT`): each breaks one
//! rule, and the case named for it must catch it. Compiled only with the
//! `test-hooks` feature; in code, a fault is read with `fault!(holder, name)`,
//! which is the constant `false` in a build without the feature.

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
    /// Derive the session keys from a key component that differs from the one
    /// on the wire (RFC 7425 §4.6.5), so no packet of the session decrypts.
    wrong_key_derivation = "wrong-key-derivation":
        "derives the session keys from an altered key component",
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
        assert_eq!(Faults::ALL.len(), 20);
        assert!(Faults::default().set("no-such-fault").is_err());
    }
}
