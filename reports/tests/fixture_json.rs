//! The committed `fixtures/results.json` is the code fixture, serialised (regenerate with
//! `UPDATE_FIXTURES=1 cargo test -p rtmfp-reports --test fixture_json`).

mod common;

use std::path::Path;

#[test]
fn committed_fixture_json_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.json");
    let json = serde_json::to_string_pretty(&common::fixture()).expect("serialises") + "\n";
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, &json).expect("write fixture");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == json,
        "{} is stale: run UPDATE_FIXTURES=1 cargo test -p rtmfp-reports --test fixture_json",
        path.display()
    );
    // And it loads back.
    let loaded = rtmfp_reports::load_results(&path).expect("loads");
    assert_eq!(loaded.cases.len(), 13);
}
