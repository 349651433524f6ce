//! The terminal summary.

mod common;

use std::path::Path;

use common::fixture;
use rtmfp_reports::{summary_text, summary_text_with_report};

#[test]
fn summary_snapshot() {
    let text = summary_text_with_report(&fixture(), false, Some(Path::new("out/index.html")));
    insta::assert_snapshot!("summary", text);
}

#[test]
fn summary_lines() {
    let text = summary_text(&fixture(), false);
    assert!(!text.contains('\x1b'));
    assert!(text.contains("pass 5  fail 2  warn 3  unsupported 2  skipped 1"));
    assert!(
        text.contains(
            "observable MUST/MUST NOT/SHALL/REQUIRED: proven 0/7 (0%), claimed 6/7 (85%)"
        )
    );
    // One line per failing or warning case, failures first.
    let flagged: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  FAIL") || l.starts_with("  WARN"))
        .collect();
    assert_eq!(flagged.len(), 5);
    assert!(flagged[0].starts_with("  FAIL handshake.iikeying-retransmit"));
    assert!(!text.contains("report:"));
}

#[test]
fn summary_colour() {
    let text = summary_text(&fixture(), true);
    assert!(text.contains("\x1b[1;31mFAIL\x1b[0m"));
    assert!(text.contains("\x1b[33mWARN\x1b[0m"));
}

#[test]
fn summary_of_an_empty_run() {
    let text = summary_text(&Default::default(), false);
    assert!(
        text.contains(
            "observable MUST/MUST NOT/SHALL/REQUIRED: proven 0/0 (n/a), claimed 0/0 (n/a)"
        ),
        "{text}"
    );
}
