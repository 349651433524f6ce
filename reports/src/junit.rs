//! JUnit XML, for CI systems that show test results.

use minijinja::context;
use serde::Serialize;

use crate::coverage::outcome_name;
use crate::model::{Case, Outcome, Results};
use crate::templates::env;

#[derive(Serialize)]
struct TestCase {
    name: String,
    classname: String,
    time: String,
    outcome: &'static str,
    /// The failure or skip message.
    message: String,
    /// The failure's body: reason, failed steps and the re-run command.
    body: String,
    /// `system-out`: warnings, and what identifies the case.
    out: String,
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

fn test_case(c: &Case) -> TestCase {
    let reason = c.reason.clone().unwrap_or_default();
    // An attribute: one line.
    let one_line = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    let message = match c.outcome {
        Outcome::Unsupported if one_line.is_empty() => "unsupported".to_string(),
        Outcome::Unsupported => format!("unsupported: {one_line}"),
        _ => one_line,
    };
    let mut body = String::new();
    let mut out = String::new();
    if c.outcome == Outcome::Fail {
        if !reason.is_empty() {
            body.push_str(&reason);
            body.push('\n');
        }
        for s in c.steps.iter().filter(|s| !s.ok) {
            body.push_str(&format!("step failed: {}\n", s.description));
            if let Some(e) = &s.expected {
                body.push_str(&format!("  expected: {e}\n"));
            }
            if let Some(a) = &s.actual {
                body.push_str(&format!("  actual:   {a}\n"));
            }
        }
        body.push_str(&format!("rerun: {}", c.rerun));
    }
    if c.outcome == Outcome::Warn {
        out.push_str(&format!("WARNING (SHOULD-level): {reason}\n"));
    }
    if c.outcome != Outcome::Pass {
        out.push_str(&format!("{}\n", c.title));
        if !c.rfc.is_empty() {
            out.push_str(&format!("RFC: {}\n", c.rfc.join(", ")));
        }
        out.push_str(&format!("rerun: {}", c.rerun));
    }
    TestCase {
        name: c.id.clone(),
        classname: c.tags.first().cloned().unwrap_or_else(|| "rtmfp".into()),
        time: seconds(c.duration_ms),
        outcome: outcome_name(c.outcome),
        message,
        body,
        out,
    }
}

/// The results as JUnit XML: one `testsuite` for the target, one `testcase` per case
/// (`classname` is the case's first tag, or `rtmfp`), a `failure` element for each failed
/// case, `skipped` for skipped and unsupported ones, warnings in `system-out`.
pub fn junit_xml(results: &Results) -> String {
    let cases: Vec<TestCase> = results.cases.iter().map(test_case).collect();
    let counts = results.counts();
    let n = |o| counts.get(&o).copied().unwrap_or(0);
    let rendered = env()
        .and_then(|e| e.get_template("junit.xml"))
        .and_then(|t| {
            t.render(context! {
                target => results.target,
                started => results.started,
                seed => results.seed,
                command => results.command,
                interrupted => results.interrupted,
                time => seconds(results.duration_ms),
                tests => results.cases.len(),
                failures => n(Outcome::Fail),
                skipped => n(Outcome::Skipped) + n(Outcome::Unsupported),
                cases,
            })
        });
    match rendered {
        Ok(mut s) => {
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        }
        // The template is compiled into the crate and its inputs are plain strings and
        // numbers: rendering cannot fail short of a bug, which the tests catch.
        Err(e) => panic!("junit.xml template: {e:#}"),
    }
}
