//! The HTML report of a real run (three scenarios against the reference with
//! `wrong-mode` injected, so that cases fail): its structure, as the reports
//! crate's own outline snapshots see it.

#[path = "../../reports/tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use rtmfp_conformance::scenario::{Scenario, load_dir};
use rtmfp_conformance::suite::{Options, run};

fn run_and_render(name: &str) -> PathBuf {
    let known: BTreeSet<String> = rtmfp_conformance::requirements::catalogue()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let all = load_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
        &known,
    )
    .unwrap();
    let chosen: Vec<&Scenario> = all
        .iter()
        .filter(|s| {
            [
                "handshake.rhello-echoes-tag",
                "session.responder-marks-mode-2",
                "session.ping-reply-echoes-message",
            ]
            .contains(&s.id.as_str())
        })
        .collect();
    assert_eq!(chosen.len(), 3);
    let dir = common::temp_dir(name);
    let opts = Options {
        inject: vec!["wrong-mode".into()],
        out: Some(dir.clone()),
        rerun: "rtmfp-conformance run --inject wrong-mode".into(),
        ..Options::default()
    };
    let results = run(&chosen, &opts, |_| {}).unwrap();
    rtmfp_reports::render_site(&results, &dir).unwrap();
    dir
}

/// Run-specific text (date, durations) out of the outline.
fn stable(outline: String) -> String {
    let date = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").unwrap();
    date.replace_all(&outline, "DATE").into_owned()
}

#[test]
fn a_real_run_renders_the_expected_pages() {
    let dir = run_and_render("real-run");
    let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap();
    insta::assert_snapshot!(
        "real_run_index",
        stable(common::outline(&read(dir.join("index.html"))))
    );
    insta::assert_snapshot!(
        "real_run_failing_case",
        stable(common::outline(&read(dir.join("cases").join(
            rtmfp_reports::case_file_name("session.responder-marks-mode-2")
        ))))
    );
    // The evidence the failing case links to is there.
    for f in ["pcap", "keys"] {
        assert!(
            dir.join("evidence")
                .join(format!("session.responder-marks-mode-2.{f}"))
                .is_file()
        );
    }
}
