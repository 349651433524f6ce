//! The suite proves itself on the reference implementation: the clean
//! reference passes every scenario, and each fault `--inject` can put into it
//! is caught (a failure, or a warning for a SHOULD-level rule) by at least
//! one scenario.

use std::collections::BTreeSet;

use rtmfp_conformance::scenario::Scenario;
use rtmfp_conformance::suite::{Options, run};
use rtmfp_reports::model::Outcome;

fn scenarios() -> Vec<Scenario> {
    rtmfp_conformance::embedded::builtin_checked().unwrap()
}

/// A scenario claims only requirements the observability table calls
/// wire-observable (the coverage figures count nothing else).
#[test]
fn scenarios_claim_only_observable_requirements() {
    let obs = rtmfp_conformance::requirements::observability();
    let bad: Vec<String> = scenarios()
        .iter()
        .flat_map(|s| {
            s.requirements
                .iter()
                .filter(|r| !obs.get(r.as_str()).is_some_and(|o| o.observable))
                .map(move |r| format!("{} claims {r}", s.id))
        })
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn the_clean_reference_passes_every_scenario() {
    let all = scenarios();
    assert!(all.len() >= 15);
    let chosen: Vec<&Scenario> = all.iter().collect();
    let r = run(&chosen, &Options::default(), |_| {}).unwrap();
    let bad: Vec<String> = r
        .cases
        .iter()
        .filter(|c| c.outcome != Outcome::Pass)
        .map(|c| {
            format!(
                "{} {:?}: {}",
                c.id,
                c.outcome,
                c.reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(r.cases.len(), all.len());
}

/// RFC 7016 §2.3's chunk types, each exercised in both directions: sent by the
/// tester to the target and sent by the target, in some case of a clean run.
#[test]
fn every_chunk_type_travels_both_ways() {
    let all = scenarios();
    let chosen: Vec<&Scenario> = all.iter().collect();
    let r = run(&chosen, &Options::default(), |_| {}).unwrap();
    let mut seen: BTreeSet<(u8, bool)> = BTreeSet::new();
    for c in &r.cases {
        for p in c.evidence.iter().flat_map(|e| &e.packets) {
            // The tester's own answers to itself (forwarding) are not the target's.
            let from_tester = p.from == "tester" || p.src.starts_with("192.0.2.10:");
            for line in &p.chunks {
                if let Some(t) = line
                    .strip_prefix("0x")
                    .and_then(|h| u8::from_str_radix(&h[..2], 16).ok())
                {
                    seen.insert((t, from_tester));
                }
            }
        }
    }
    let types = [
        0x7f, 0x30, 0x0f, 0x70, 0x71, 0x79, 0x38, 0x78, 0x01, 0x41, 0x10, 0x11, 0x50, 0x51, 0x18,
        0x5e, 0x0c, 0x4c,
    ];
    let missing: Vec<String> = types
        .iter()
        .flat_map(|&t| [(t, true), (t, false)])
        .filter(|k| !seen.contains(k))
        .map(|(t, tester)| {
            format!(
                "{t:#04x} {}",
                if tester {
                    "tester->target"
                } else {
                    "target->tester"
                }
            )
        })
        .collect();
    assert!(missing.is_empty(), "never exercised: {missing:?}");
}

/// The scenario(s) named for each fault: each must fail (or warn, for a
/// SHOULD-level rule) when the fault is injected. A new fault needs an entry.
const CAUGHT_BY: &[(&str, &[&str])] = &[
    ("accept-bad-cookie", &["handshake.forged-cookie-refused"]),
    ("alter-tag-echo", &["handshake.rhello-echoes-tag"]),
    ("ack-unsent", &["acks.never-ack-unsent"]),
    ("ignore-fsn", &["flows.fsn-skips-abandoned"]),
    ("no-obligatory-ack", &["acks.obligatory-ack"]),
    ("checksum-rfc1071", &["profile.plain-checksum-odd-length"]),
    ("no-keepalive", &["session.keepalive"]),
    (
        "never-retransmit",
        &["flows.lost-fragment-is-retransmitted"],
    ),
    (
        "wrong-mode",
        &[
            "session.responder-marks-mode-2",
            "session.initiator-marks-mode-1",
        ],
    ),
    ("alter-ping-reply", &["session.ping-reply-echoes-message"]),
    ("no-close-ack", &["session.close-is-acknowledged"]),
    ("no-exception-on-reject", &["flows.rejected-flow-exception"]),
    ("no-metadata-repeat", &["flows.metadata-until-acknowledged"]),
    ("short-erto", &["recording.erto-not-below-rtt"]),
    ("no-congestion-control", &["recording.slow-start"]),
    ("invert-glare", &["handshake.glare"]),
    ("ignore-tcr", &["recording.tcr-clamps-slow-start"]),
    ("no-fragment-pacing", &["fragments.startup-fragments-paced"]),
    (
        "ignore-receive-window",
        &["flow-sender.respects-receive-window"],
    ),
    (
        "reject-reserved-bits",
        &["robustness.reserved-bits-ignored"],
    ),
    (
        "read-past-chunk-end",
        &[
            "robustness.malformed-chunks-skipped",
            "robustness.malformed-ihello-skipped",
        ],
    ),
    (
        "salvage-malformed-chunk",
        &["robustness.malformed-chunks-skipped"],
    ),
    (
        "stop-at-malformed-chunk",
        &[
            "robustness.malformed-chunks-skipped",
            "robustness.malformed-ihello-skipped",
        ],
    ),
    (
        "stop-at-unknown-chunk",
        &["robustness.unknown-chunk-ignored"],
    ),
    (
        "ignore-chunk-mode",
        &["robustness.chunk-in-wrong-mode-ignored"],
    ),
    ("accept-mode-0", &["robustness.mode-0-discarded"]),
    (
        "skip-integrity-check",
        &["robustness.integrity-failure-discarded"],
    ),
    ("accept-default-key", &["robustness.session-key-required"]),
    (
        "keep-abandoned-data",
        &["flow-receiver.abandoned-data-ignored"],
    ),
    ("no-return-association", &["flows.echo"]),
    (
        "reject-ignorable-options",
        &["flow-receiver.unknown-option-8192-ignored"],
    ),
    (
        "accept-dangling-association",
        &["flow-receiver.association-to-unknown-flow-rejected"],
    ),
    (
        "nonzero-reject-code",
        &["flow-receiver.no-metadata-rejected"],
    ),
    (
        "accept-empty-fragment",
        &["fragments.receiver-discards-empty-fragment"],
    ),
    (
        "ignore-fragment-mode",
        &["fragments.receiver-mode-must-match"],
    ),
    (
        "ignore-reassembled-mode",
        &["fragments.receiver-reassembled-mode-must-match"],
    ),
    ("refuse-flow-id-0", &["flow-receiver.flow-id-any-value"]),
    ("deliver-partial", &["flow-receiver.no-partial-delivery"]),
    ("no-timestamp-echo", &["session.timestamp-echo"]),
    (
        "fsn-past-outstanding",
        &["flow-sender.fsn-below-unacknowledged"],
    ),
    (
        "zero-window-when-full",
        &["flow-receiver.buffer-blocks-at-least-one"],
    ),
];

#[test]
fn every_injected_fault_is_caught_by_its_named_case() {
    let all = scenarios();
    let faults = rtmfp::session::config::Faults::ALL;
    assert!(faults.len() >= 10);
    let unnamed: Vec<&str> = faults
        .iter()
        .map(|f| f.0)
        // Caught as one "keying failed" diagnosis, never as a rule failure:
        // tests/flash_era.rs.
        .filter(|f| *f != "wrong-key-derivation")
        .filter(|f| !CAUGHT_BY.iter().any(|c| c.0 == *f))
        .collect();
    assert!(
        unnamed.is_empty(),
        "faults without a named case: {unnamed:?}"
    );
    let mut missed = Vec::new();
    for (fault, cases) in CAUGHT_BY {
        assert!(
            faults.iter().any(|f| f.0 == *fault),
            "{fault} is not a fault any more"
        );
        let chosen: Vec<&Scenario> = all
            .iter()
            .filter(|s| cases.contains(&s.id.as_str()))
            .collect();
        assert_eq!(
            chosen.len(),
            cases.len(),
            "{fault}: a named case is missing: {cases:?}"
        );
        let opts = Options {
            inject: vec![fault.to_string()],
            ..Options::default()
        };
        let r = run(&chosen, &opts, |_| {}).unwrap();
        for c in &r.cases {
            if !matches!(c.outcome, Outcome::Fail | Outcome::Warn) {
                missed.push(format!(
                    "{fault}: {} {:?} ({})",
                    c.id,
                    c.outcome,
                    c.reason.as_deref().unwrap_or("")
                ));
            }
        }
    }
    assert!(
        missed.is_empty(),
        "faults their named case does not catch: {missed:#?}"
    );
}

/// Each liberty (a behaviour the RFC allows that the reference does not use by
/// default), alone and all together: no case fails or warns. A case may become
/// unsupported, with its reason, and the ones listed here must (each liberty
/// is shown to reach the case it was made for).
#[test]
fn every_liberty_alone_and_all_together_neither_fail_nor_warn() {
    use rtmfp_conformance::liberties::LIBERTIES;
    let all = scenarios();
    let chosen: Vec<&Scenario> = all.iter().collect();
    // The case each liberty is known to make unjudgeable (unsupported).
    let unsupported: &[(&str, &str)] = &[
        (
            "refuse-associated-flows",
            "flow-receiver.association-to-closed-flow-rejected",
        ),
        ("large-path-mtu", "fragments.target-fragments-large-rhello"),
        (
            "no-fragment-reassembly",
            "fragments.receiver-discards-empty-fragment",
        ),
        (
            "one-ihello-per-packet",
            "robustness.malformed-ihello-skipped",
        ),
        ("fihello-ignored", "session.fihello"),
        ("no-forwarding", "session.forwarder-sends-fihello"),
        ("idle-close", "session.keepalive-backoff"),
    ];
    let mut runs: Vec<String> = LIBERTIES.iter().map(|l| l.name.to_string()).collect();
    runs.push("all".into());
    // What the target sent, case by case: a liberty must change it somewhere
    // (one that changes nothing proves nothing).
    let wire = |r: &rtmfp_reports::model::Results| -> Vec<String> {
        r.cases
            .iter()
            .flat_map(|c| {
                c.evidence.iter().flat_map(|e| &e.packets).map(move |p| {
                    format!(
                        "{} {:.4} {} {} {:?}",
                        c.id, p.time, p.from, p.header, p.chunks
                    )
                })
            })
            .collect()
    };
    let clean = wire(&run(&chosen, &Options::default(), |_| {}).unwrap());
    let check = |part: &[String]| -> Vec<String> {
        let mut bad = Vec::new();
        for name in part {
            let opts = Options {
                liberties: vec![name.clone()],
                ..Options::default()
            };
            let r = run(&chosen, &opts, |_| {}).unwrap();
            if wire(&r) == clean {
                bad.push(format!("--liberty {name} changes nothing the target sends"));
            }
            for c in &r.cases {
                if matches!(c.outcome, Outcome::Fail | Outcome::Warn) {
                    bad.push(format!(
                        "--liberty {name}: {} {:?}: {}",
                        c.id,
                        c.outcome,
                        c.reason.as_deref().unwrap_or("")
                    ));
                }
                if c.outcome == Outcome::Unsupported {
                    assert!(
                        c.reason.as_deref().is_some_and(|r| !r.is_empty()),
                        "{}",
                        c.id
                    );
                }
            }
            for (l, case) in unsupported {
                if l == name || name == "all" {
                    let c = r.cases.iter().find(|c| c.id == *case).expect("case exists");
                    if c.outcome != Outcome::Unsupported {
                        bad.push(format!(
                            "--liberty {name}: {case} should be unsupported, is {:?}",
                            c.outcome
                        ));
                    }
                }
            }
        }
        bad
    };
    let mid = runs.len() / 2;
    let (a, b) = runs.split_at(mid);
    let bad = std::thread::scope(|s| {
        let ha = s.spawn(|| check(a));
        let mut m = check(b);
        m.extend(ha.join().unwrap());
        m
    });
    assert!(bad.is_empty(), "liberties the suite mishandles: {bad:#?}");
}

/// Positive controls and levels decide the outcome as the README says: a
/// failed control is unsupported (even after another step failed), a failure
/// stands only when the controls hold, and a MAY-level failure is unsupported.
#[test]
fn controls_and_may_level_decide_outcomes() {
    let known: BTreeSet<String> = rtmfp_conformance::requirements::catalogue()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let case = |level: &str, first: &str, control: &str| -> (Outcome, String) {
        let text = format!(
            "id: x.control
title: T
rfc: [\"7016 §3.5.4\"]
level: {level}
role: initiator
steps:
  - connect: {{}}
  - send: {{session: true, chunks: [{{chunk: ping, message: \"{first}\"}}]}}
  - expect: {{chunk: ping_reply, within: 300ms, where: {{message: \"0a\"}}}}
  - send: {{session: true, chunks: [{{chunk: ping, message: \"0b\"}}]}}
  - expect: {{chunk: ping_reply, within: 300ms, where: {{message: \"{control}\"}}, control: \"no reply to the control Ping\"}}
"
        );
        let s = Scenario::parse(&text, std::path::Path::new("x.yaml"), &known).unwrap();
        let r = run(&[&s], &Options::default(), |_| {}).unwrap();
        let c = &r.cases[0];
        (c.outcome, c.reason.clone().unwrap_or_default())
    };
    assert_eq!(case("must", "0a", "0b").0, Outcome::Pass);
    // The judged step fails, the control holds: a failure.
    assert_eq!(case("must", "ff", "0b").0, Outcome::Fail);
    assert_eq!(case("should", "ff", "0b").0, Outcome::Warn);
    // The control fails: unsupported with its reason, whatever else failed.
    let (o, why) = case("must", "ff", "ee");
    assert_eq!(o, Outcome::Unsupported);
    assert!(why.starts_with("no reply to the control Ping"), "{why}");
    assert_eq!(case("must", "0a", "ee").0, Outcome::Unsupported);
    // A MAY-level case that does not hold is unsupported, never a warning.
    let (o, why) = case("may", "ff", "0b");
    assert_eq!(o, Outcome::Unsupported);
    assert!(why.contains("optional (MAY)"), "{why}");
}
