//! The terse terminal summary printed after a run.

use std::fmt::Write as _;
use std::path::Path;

use crate::coverage::{self, OUTCOMES, outcome_name};
use crate::model::{Outcome, Results};

const MAX_REASON: usize = 110;

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn code(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "32",
        Outcome::Fail => "1;31",
        Outcome::Warn => "33",
        Outcome::Unsupported | Outcome::Skipped => "2",
    }
}

/// The first line of a reason, shortened to fit a terminal line.
fn one_line(s: &str) -> String {
    let first = s.lines().next().unwrap_or("").trim();
    if first.chars().count() > MAX_REASON {
        let mut t: String = first.chars().take(MAX_REASON - 1).collect();
        t.push('\u{2026}');
        t
    } else if s.trim().lines().count() > 1 {
        format!("{first} \u{2026}")
    } else {
        first.to_string()
    }
}

/// A terse summary for a terminal: counts by outcome, one line per failing or warning
/// case with its reason, the coverage of observable MUST/MUST NOT requirements and the
/// verdict. `color` adds ANSI colours.
pub fn summary_text(results: &Results, color: bool) -> String {
    summary_text_with_report(results, color, None)
}

/// [`summary_text`], ending with a line telling where the HTML report is.
pub fn summary_text_with_report(results: &Results, color: bool, report: Option<&Path>) -> String {
    let mut s = String::new();
    let counts = results.counts();
    let _ = writeln!(
        s,
        "{} {}: {} cases in {:.1} s (seed {})",
        paint("rtmfp-conformance", "1", color),
        results.target,
        results.cases.len(),
        results.duration_ms as f64 / 1000.0,
        results.seed
    );
    let parts: Vec<String> = OUTCOMES
        .iter()
        .map(|&o| {
            let n = counts.get(&o).copied().unwrap_or(0);
            let text = format!("{} {n}", outcome_name(o));
            if n > 0 {
                paint(&text, code(o), color)
            } else {
                text
            }
        })
        .collect();
    let _ = writeln!(s, "  {}", parts.join("  "));
    if let Some(why) = &results.interrupted {
        let _ = writeln!(s, "  {}: {why}", paint("INTERRUPTED", "1;33", color));
    }
    let width = results
        .cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::Warn))
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(0);
    for o in [Outcome::Fail, Outcome::Warn] {
        for c in results.cases.iter().filter(|c| c.outcome == o) {
            let tag = paint(
                &format!("{:<4}", outcome_name(o).to_uppercase()),
                code(o),
                color,
            );
            let reason = one_line(c.reason.as_deref().unwrap_or(&c.title));
            let _ = writeln!(s, "  {tag} {:<width$}  {reason}", c.id);
        }
    }
    let (covered, observable) = coverage::must_coverage(results);
    let (proven, _) = coverage::must_proven(results);
    let _ = writeln!(
        s,
        "observable MUST/MUST NOT/SHALL/REQUIRED: proven {proven}/{observable} ({}), claimed {covered}/{observable} ({})",
        coverage::percent_text(proven, observable),
        coverage::percent_text(covered, observable)
    );
    let v = coverage::verdict(results);
    let vcode = match v.class {
        "fail" => "1;31",
        "warn" => "33",
        _ => "1;32",
    };
    let _ = writeln!(
        s,
        "verdict: {} ({})",
        paint(&v.title, vcode, color),
        v.detail
    );
    if let Some(p) = report {
        let _ = writeln!(s, "report: {}", p.display());
    }
    s
}
