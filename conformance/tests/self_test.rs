//! The suite proves itself on the reference implementation: the clean
//! reference passes every scenario, and each fault `--inject` can put into it
//! is caught (a failure, or a warning for a SHOULD-level rule) by at least
//! one scenario.

use std::collections::BTreeSet;
use std::path::PathBuf;

use rtmfp_conformance::scenario::{Scenario, load_dir};
use rtmfp_conformance::suite::{Options, run};
use rtmfp_reports::model::Outcome;

fn scenarios() -> Vec<Scenario> {
    let known: BTreeSet<String> = rtmfp_conformance::requirements::catalogue()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    load_dir(&dir, &known).unwrap()
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

#[test]
fn every_injected_fault_is_caught() {
    let all = scenarios();
    let chosen: Vec<&Scenario> = all.iter().collect();
    let faults = rtmfp::session::config::Faults::ALL;
    assert!(faults.len() >= 10);
    // Two threads: the CI machine has two cores.
    let mid = faults.len() / 2;
    let (a, b) = faults.split_at(mid);
    let check = |part: &[(&str, &str)]| -> Vec<String> {
        let mut missed = Vec::new();
        for (fault, what) in part {
            if *fault == "wrong-key-derivation" {
                // Caught as one "keying failed" diagnosis, never as a rule
                // failure: tests/flash_era.rs.
                continue;
            }
            let opts = Options {
                inject: vec![fault.to_string()],
                ..Options::default()
            };
            let r = run(&chosen, &opts, |_| {}).unwrap();
            let caught: Vec<&str> = r
                .cases
                .iter()
                .filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::Warn))
                .map(|c| c.id.as_str())
                .collect();
            if caught.is_empty() {
                missed.push(format!("{fault} ({what})"));
            } else {
                eprintln!("{fault}: caught by {}", caught.join(", "));
            }
        }
        missed
    };
    let missed = std::thread::scope(|s| {
        let ha = s.spawn(|| check(a));
        let mut m = check(b);
        m.extend(ha.join().unwrap());
        m
    });
    assert!(missed.is_empty(), "faults no scenario catches: {missed:?}");
}
