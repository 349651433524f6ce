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
