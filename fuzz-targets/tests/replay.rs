//! Every fuzz target's seeds and every saved regression input, replayed without
//! libFuzzer, so `cargo test` exercises all targets on every run.

use std::path::Path;

use rtmfp_fuzz_targets::{TARGETS, seeds};

fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file() {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_target_has_seeds_and_replays_them() {
    let mut failures = Vec::new();
    for t in TARGETS {
        let s = seeds::seeds(t.name);
        if s.is_empty() {
            failures.push(format!("{}: no seeds", t.name));
        }
        for (i, input) in s.iter().enumerate() {
            if std::panic::catch_unwind(|| (t.run)(input)).is_err() {
                failures.push(format!(
                    "{}: seed {i} ({} bytes) panics",
                    t.name,
                    input.len()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_regression_input_replays() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    // Every directory there must name a target (a typo would silently skip inputs).
    for e in std::fs::read_dir(&root)
        .expect("fuzz/regressions exists")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() {
            assert!(
                rtmfp_fuzz_targets::target(&name).is_some(),
                "fuzz/regressions/{name} is not a target"
            );
        }
    }
    let mut n = 0;
    for t in TARGETS {
        for (path, input) in regressions(t.name) {
            if std::panic::catch_unwind(|| (t.run)(&input)).is_err() {
                panic!("regression {path} fails again");
            }
            n += 1;
        }
    }
    assert!(n >= 1, "the saved regression inputs were found");
}

/// The seal/open finding (an empty packet sealed with an HMAC and no session
/// sequence number opened as `TooShort`) stays among the seeds of its target.
#[test]
fn the_empty_hmac_packet_is_a_seed() {
    assert!(seeds::seeds("flash_seal_open").contains(&vec![1]));
}
