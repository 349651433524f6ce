//! Proven versus claimed coverage. A scenario *claims* a requirement by
//! listing its ID; the claim is *proven* only when the scenario has a check
//! tied to that requirement which is shown to fail when exactly that
//! requirement is broken:
//! - a fault of the reference target (`--inject`) that breaks it, caught by
//!   the case named here (`tests/proofs.rs` runs each fault against its
//!   cases), or
//! - an `invariants` step naming a rule that lists the requirement, where a
//!   named mutation of a real capture that breaks it is caught by that rule
//!   (`tests/capture_check.rs` applies each mutation).

use std::collections::{BTreeMap, BTreeSet};

use crate::invariants;
use crate::scenario::{Scenario, Step};

/// A fault of the reference target and the cases that must catch it.
#[derive(Debug, Clone, Copy)]
pub struct FaultProof {
    pub fault: &'static str,
    /// Requirements the fault breaks (empty: it breaks a rule the catalogue
    /// has no sentence for, e.g. a Cryptography Profile's checksum).
    pub requirements: &'static [&'static str],
    /// Cases that must fail (or warn) under the fault.
    pub cases: &'static [&'static str],
}

/// A mutation of a real capture (named in `tests/capture_check.rs`) that
/// breaks `requirements` and that `invariant` catches.
#[derive(Debug, Clone, Copy)]
pub struct MutationProof {
    pub invariant: &'static str,
    pub requirements: &'static [&'static str],
    pub mutation: &'static str,
}

pub const FAULT_PROOFS: &[FaultProof] = &[
    FaultProof {
        fault: "accept-bad-cookie",
        requirements: &["3.5.1.1.2#3"],
        cases: &["handshake.forged-cookie-refused"],
    },
    FaultProof {
        fault: "alter-tag-echo",
        requirements: &["3.5.1.1.2#1"],
        cases: &["handshake.rhello-echoes-tag"],
    },
    FaultProof {
        fault: "ack-unsent",
        requirements: &["3.6.1.3#2"],
        cases: &["acks.never-ack-unsent"],
    },
    FaultProof {
        fault: "ignore-fsn",
        requirements: &["2.3.13#2", "2.3.14#2", "3.6.1.2#3"],
        cases: &[
            "flow-receiver.cumulative-ack-not-below-fsn",
            "flows.fsn-skips-abandoned",
        ],
    },
    FaultProof {
        fault: "no-obligatory-ack",
        requirements: &["3.6.3.4.1#1"],
        cases: &["acks.obligatory-ack"],
    },
    FaultProof {
        fault: "checksum-rfc1071",
        requirements: &[],
        cases: &["profile.plain-checksum-odd-length"],
    },
    FaultProof {
        fault: "no-keepalive",
        requirements: &[],
        cases: &["session.keepalive", "session.dead-peer-abrupt-close"],
    },
    FaultProof {
        fault: "never-retransmit",
        requirements: &["3.6.2.5#1"],
        cases: &["flows.lost-fragment-is-retransmitted"],
    },
    FaultProof {
        fault: "wrong-mode",
        requirements: &["2.2.4#6", "2.2.4#8"],
        cases: &[
            "recording.initiator-session",
            "recording.responder-under-loss",
            "session.initiator-marks-mode-1",
            "session.responder-marks-mode-2",
        ],
    },
    FaultProof {
        fault: "alter-ping-reply",
        requirements: &["3.5.4#4"],
        cases: &[
            "recording.responder-under-loss",
            "session.ping-reply-only-for-ping",
        ],
    },
    FaultProof {
        fault: "no-close-ack",
        requirements: &[],
        cases: &["session.close-is-acknowledged"],
    },
    FaultProof {
        fault: "no-exception-on-reject",
        requirements: &[
            "2.3.16#1",
            "3.6.3.1#1",
            "3.6.3.1#2",
            "3.6.3.1#3",
            "3.6.3.2#1",
            "2.3.11.1#2",
        ],
        cases: &[
            "flows.rejected-flow-exception",
            "flow-receiver.no-metadata-rejected",
            "flow-receiver.association-to-unknown-flow-rejected",
            "flow-receiver.association-to-closed-flow-rejected",
            "flow-receiver.rejected-when-open-on-unknown-option",
            "flow-receiver.unknown-option-below-8192-rejects",
        ],
    },
    FaultProof {
        fault: "no-metadata-repeat",
        requirements: &["2.3.11.1.1#2"],
        cases: &["flows.metadata-until-acknowledged"],
    },
    FaultProof {
        fault: "short-erto",
        requirements: &["3.5.2.2#2"],
        cases: &["recording.erto-not-below-rtt"],
    },
    FaultProof {
        fault: "no-congestion-control",
        requirements: &["3.5.2#1", "3.5.2#2"],
        cases: &["recording.slow-start"],
    },
    FaultProof {
        fault: "invert-glare",
        requirements: &["3.2#7"],
        cases: &["handshake.glare"],
    },
    FaultProof {
        fault: "ignore-tcr",
        requirements: &["3.5.2.1#1"],
        cases: &["recording.tcr-clamps-slow-start"],
    },
    FaultProof {
        fault: "no-fragment-pacing",
        requirements: &["3.4#10", "3.4#11"],
        cases: &[
            "fragments.startup-fragments-paced",
            "fragments.startup-fragments-recommended-rate",
        ],
    },
    FaultProof {
        fault: "ignore-receive-window",
        requirements: &["3.6.2.9#1"],
        cases: &[
            "flow-sender.respects-receive-window",
            "flow-sender.zero-window-no-new-data",
        ],
    },
    FaultProof {
        fault: "reject-reserved-bits",
        requirements: &["2#2"],
        cases: &["robustness.reserved-bits-ignored"],
    },
    FaultProof {
        fault: "read-past-chunk-end",
        requirements: &["2#3"],
        cases: &[
            "robustness.malformed-chunks-skipped",
            "robustness.malformed-ihello-skipped",
        ],
    },
    FaultProof {
        fault: "salvage-malformed-chunk",
        requirements: &["2#4"],
        cases: &["robustness.malformed-chunks-skipped"],
    },
    FaultProof {
        fault: "stop-at-malformed-chunk",
        requirements: &["2.3#3"],
        cases: &[
            "robustness.malformed-chunks-skipped",
            "robustness.malformed-ihello-skipped",
        ],
    },
    FaultProof {
        fault: "stop-at-unknown-chunk",
        requirements: &["2.3#1"],
        cases: &["robustness.unknown-chunk-ignored"],
    },
    FaultProof {
        fault: "ignore-chunk-mode",
        requirements: &["2.3#2"],
        cases: &["robustness.chunk-in-wrong-mode-ignored"],
    },
    FaultProof {
        fault: "accept-mode-0",
        requirements: &["2.2.4#5"],
        cases: &["robustness.mode-0-discarded"],
    },
    FaultProof {
        fault: "skip-integrity-check",
        requirements: &["2.2.3#4"],
        cases: &["robustness.integrity-failure-discarded"],
    },
    FaultProof {
        fault: "accept-default-key",
        requirements: &["2.2.3#5"],
        cases: &["robustness.session-key-required"],
    },
    FaultProof {
        fault: "keep-abandoned-data",
        requirements: &["2.3.11#2"],
        cases: &["flow-receiver.abandoned-data-ignored"],
    },
    FaultProof {
        fault: "no-return-association",
        requirements: &["2.3.11.1#1", "2.3.11.1.2#1", "2.3.11.1.2#5"],
        cases: &["flows.echo", "flow-sender.single-return-association"],
    },
    FaultProof {
        fault: "reject-ignorable-options",
        requirements: &["2.3.11.1#3"],
        cases: &["flow-receiver.unknown-option-8192-ignored"],
    },
    FaultProof {
        fault: "accept-dangling-association",
        requirements: &["2.3.11.1.2#6", "3.6.3.1#2", "3.6.3.1#3"],
        cases: &[
            "flow-receiver.association-to-unknown-flow-rejected",
            "flow-receiver.association-to-closed-flow-rejected",
        ],
    },
    FaultProof {
        fault: "nonzero-reject-code",
        requirements: &["2.3.16#2"],
        cases: &[
            "flow-receiver.no-metadata-rejected",
            "flow-receiver.association-to-unknown-flow-rejected",
            "flow-receiver.association-to-closed-flow-rejected",
            "flow-receiver.rejected-when-open-on-unknown-option",
            "flow-receiver.unknown-option-below-8192-rejects",
        ],
    },
    FaultProof {
        fault: "accept-empty-fragment",
        requirements: &["3.4#6"],
        cases: &["fragments.receiver-discards-empty-fragment"],
    },
    FaultProof {
        fault: "ignore-fragment-mode",
        requirements: &["3.4#8"],
        cases: &["fragments.receiver-mode-must-match"],
    },
    FaultProof {
        fault: "ignore-reassembled-mode",
        requirements: &["3.4#9"],
        cases: &["fragments.receiver-reassembled-mode-must-match"],
    },
    FaultProof {
        fault: "refuse-flow-id-0",
        requirements: &["3.6.1.1#1"],
        cases: &["flow-receiver.flow-id-any-value"],
    },
    FaultProof {
        fault: "deliver-partial",
        requirements: &["3.6.3.3#1"],
        cases: &["flow-receiver.no-partial-delivery"],
    },
    FaultProof {
        fault: "zero-window-when-full",
        requirements: &["3.6.3.5#1"],
        cases: &["flow-receiver.buffer-blocks-at-least-one"],
    },
    FaultProof {
        fault: "fsn-past-outstanding",
        requirements: &["3.6.2.3#1"],
        cases: &["flow-sender.fsn-below-unacknowledged"],
    },
    FaultProof {
        fault: "no-timestamp-echo",
        requirements: &["3.5.2.2#3"],
        cases: &["session.timestamp-echo"],
    },
];

pub const MUTATION_PROOFS: &[MutationProof] = &[
    MutationProof {
        invariant: "retransmit-timing",
        requirements: &["3.5.2.2#2"],
        mutation: "resent-before-a-round-trip",
    },
    MutationProof {
        invariant: "decodes",
        requirements: &["2.2.3#2"],
        mutation: "undecodable-packet",
    },
    MutationProof {
        invariant: "modes",
        requirements: &["2.2.4#6"],
        mutation: "initiator-marks-mode-2",
    },
    MutationProof {
        invariant: "modes",
        requirements: &["2.2.4#8"],
        mutation: "responder-marks-mode-1",
    },
    MutationProof {
        invariant: "session-ids",
        requirements: &["3.3#2"],
        mutation: "session-packet-to-id-0",
    },
    MutationProof {
        invariant: "handshake",
        requirements: &["2.3.7#1"],
        mutation: "iikeying-cookie-altered",
    },
    MutationProof {
        invariant: "handshake",
        requirements: &["3.3#2"],
        mutation: "rikeying-session-id-0",
    },
    MutationProof {
        invariant: "ping-reply",
        requirements: &["3.5.4#4"],
        mutation: "ping-reply-altered",
    },
    MutationProof {
        invariant: "timestamps",
        requirements: &["3.5.2.2#3"],
        mutation: "timestamp-echo-ahead",
    },
    MutationProof {
        invariant: "sequence-numbers",
        requirements: &["2.3.11#1"],
        mutation: "fragments-not-contiguous",
    },
    MutationProof {
        invariant: "sequence-numbers",
        requirements: &["2.3.11#4"],
        mutation: "sequence-number-0",
    },
    MutationProof {
        invariant: "sequence-numbers",
        requirements: &["2.3.11#5", "3.6.2.3#2"],
        mutation: "fsn-offset-0",
    },
    MutationProof {
        invariant: "sequence-numbers",
        requirements: &["2.3.11#6"],
        mutation: "fsn-offset-above-seq",
    },
    MutationProof {
        invariant: "sequence-numbers",
        requirements: &["3.6.2.7#1"],
        mutation: "abandoned-fragment-unabandoned",
    },
    MutationProof {
        invariant: "first-sequence-number",
        requirements: &["2.3.11#3"],
        mutation: "first-sequence-number-5",
    },
    MutationProof {
        invariant: "next-user-data",
        requirements: &["2.3.12#1", "3.6.2.3.2#2"],
        mutation: "next-user-data-first",
    },
    MutationProof {
        invariant: "metadata",
        requirements: &["2.3.11.1.1#1", "2.3.11.1.1#2"],
        mutation: "metadata-missing",
    },
    MutationProof {
        invariant: "metadata-economy",
        requirements: &["2.3.11.1.1#5"],
        mutation: "metadata-oversized",
    },
    MutationProof {
        invariant: "congestion-window",
        requirements: &["3.5.2#1", "3.5.2#2"],
        mutation: "no-acks-at-all",
    },
    MutationProof {
        invariant: "receive-window",
        requirements: &["3.6.2.9#1"],
        mutation: "window-shrunk-to-1k",
    },
    MutationProof {
        invariant: "acks",
        requirements: &["2.3.14#2"],
        mutation: "cumulative-ack-below-fsn",
    },
    MutationProof {
        invariant: "ack-format",
        requirements: &["2.3.13#1"],
        mutation: "bitmap-ack-padded",
    },
    MutationProof {
        invariant: "ack-format",
        requirements: &["2.3.14#1", "3.6.3.4.3#1"],
        mutation: "range-ack-where-bitmap-is-shorter",
    },
    MutationProof {
        invariant: "fragments",
        requirements: &["2.3.1#1"],
        mutation: "fragment-0-missing",
    },
    MutationProof {
        invariant: "fragments",
        requirements: &["2.3.1#2"],
        mutation: "empty-packet-fragment",
    },
    MutationProof {
        invariant: "fragments",
        requirements: &["3.4#7"],
        mutation: "fragment-modes-differ",
    },
    MutationProof {
        invariant: "fragment-pacing",
        requirements: &["3.4#10"],
        mutation: "fragments-burst",
    },
    MutationProof {
        invariant: "fragment-pacing-recommended",
        requirements: &["3.4#11"],
        mutation: "fragments-five",
    },
    MutationProof {
        invariant: "packet-size",
        requirements: &["3.6.2.2#1"],
        mutation: "datagram-1480-bytes",
    },
    MutationProof {
        invariant: "sequence-numbers",
        requirements: &["3.6.1.2#1"],
        mutation: "sequence-number-reused",
    },
    MutationProof {
        invariant: "metadata",
        requirements: &["2.3.11.1.2#1"],
        mutation: "return-association-dropped",
    },
    MutationProof {
        invariant: "metadata",
        requirements: &["2.3.11.1.2#5"],
        mutation: "return-association-late",
    },
    MutationProof {
        invariant: "metadata",
        requirements: &["2.3.11.1.2#4", "3.6.1.1#2"],
        mutation: "two-return-associations",
    },
    MutationProof {
        invariant: "fragments",
        requirements: &["3.4#3"],
        mutation: "packet-fragment-in-session",
    },
    MutationProof {
        invariant: "flow-id-reuse",
        requirements: &["3.6.2.11#1"],
        mutation: "flow-reopened-at-once",
    },
    MutationProof {
        invariant: "non-empty-packets",
        requirements: &["2.2.4#4"],
        mutation: "packet-without-chunks",
    },
];

/// For a run's results: marks each requirement's proven claims among the
/// run's cases (scenario cases through [`proven`]; the pcap target's
/// `capture.NAME` cases through the mutation proofs of invariant NAME).
pub fn mark(results: &mut rtmfp_reports::model::Results, scenarios: &[Scenario]) {
    let by_scenario = proven(scenarios);
    for r in &mut results.requirements {
        let mut out = Vec::new();
        for case in &r.cases {
            if let Some(inv) = case.strip_prefix("capture.") {
                for m in MUTATION_PROOFS {
                    if m.invariant == inv && m.requirements.contains(&r.id.as_str()) {
                        out.push(format!("{case}: mutation {}", m.mutation));
                    }
                }
            } else if let Some(p) = by_scenario.get(&r.id) {
                for (c, how) in p {
                    if c == case {
                        out.push(format!("{case}: {how}"));
                    }
                }
            }
        }
        r.proven_by = out;
    }
}

/// Invariants a scenario's `invariants` steps run (`all`: every one).
fn invariants_run(s: &Scenario) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    for step in &s.steps {
        if let Step::Invariants(n) = step {
            for name in n.list() {
                if name == "all" {
                    out.extend(invariants::INVARIANTS.iter().map(|i| i.name));
                } else if let Some(i) = invariants::find(&name) {
                    out.insert(i.name);
                }
            }
        }
    }
    out
}

/// Requirement ID -> the claiming cases whose claim is proven, with how.
pub fn proven(scenarios: &[Scenario]) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for s in scenarios {
        let run = invariants_run(s);
        for r in &s.requirements {
            let mut how = Vec::new();
            for f in FAULT_PROOFS {
                if f.requirements.contains(&r.as_str()) && f.cases.contains(&s.id.as_str()) {
                    how.push(format!("fault {}", f.fault));
                }
            }
            for m in MUTATION_PROOFS {
                let tied = invariants::find(m.invariant)
                    .is_some_and(|i| i.requirements.contains(&r.as_str()));
                if tied && m.requirements.contains(&r.as_str()) && run.contains(m.invariant) {
                    how.push(format!(
                        "invariant {} (mutation {})",
                        m.invariant, m.mutation
                    ));
                }
            }
            if !how.is_empty() {
                out.entry(r.clone())
                    .or_default()
                    .push((s.id.clone(), how.join(", ")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mutation proof cites a requirement its invariant lists.
    #[test]
    fn mutation_proofs_cite_their_invariants_requirements() {
        for m in MUTATION_PROOFS {
            let i = invariants::find(m.invariant).expect("known invariant");
            for r in m.requirements {
                assert!(
                    i.requirements.contains(r),
                    "{} does not list {r}",
                    m.invariant
                );
            }
        }
    }

    /// Every fault the reference target has is tied to the case(s) named to
    /// catch it.
    #[test]
    fn every_fault_is_tied_to_cases() {
        for (name, _) in rtmfp::session::config::Faults::ALL {
            if *name == "wrong-key-derivation" {
                // Not a rule's fault: the run says "keying failed" once
                // (tests/flash_era.rs), it proves no requirement.
                continue;
            }
            assert!(
                FAULT_PROOFS.iter().any(|f| f.fault == *name),
                "fault {name} is not tied to any case"
            );
        }
        for f in FAULT_PROOFS {
            assert!(
                rtmfp::session::config::Faults::ALL
                    .iter()
                    .any(|(n, _)| n == &f.fault),
                "{} is not a fault",
                f.fault
            );
        }
    }
}
