//! Coverage arithmetic shared by the renderers: requirement status, counts by keyword,
//! outcome ordering.

use std::collections::HashMap;

use serde::Serialize;

use crate::model::{Outcome, Requirement, Results};

/// All outcomes, in display order.
pub(crate) const OUTCOMES: [Outcome; 5] = [
    Outcome::Pass,
    Outcome::Fail,
    Outcome::Warn,
    Outcome::Unsupported,
    Outcome::Skipped,
];

/// BCP 14 keywords, in display order (absolute requirements first).
const KEYWORDS: [&str; 11] = [
    "MUST",
    "MUST NOT",
    "SHALL",
    "SHALL NOT",
    "REQUIRED",
    "SHOULD",
    "SHOULD NOT",
    "RECOMMENDED",
    "NOT RECOMMENDED",
    "MAY",
    "OPTIONAL",
];

/// The lower-case name of an outcome, as in the JSON and the CSS classes.
pub(crate) fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Warn => "warn",
        Outcome::Unsupported => "unsupported",
        Outcome::Skipped => "skipped",
    }
}

/// Sort key putting problems first: fail, warn, unsupported, skipped, pass.
pub(crate) fn problem_rank(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 0,
        Outcome::Warn => 1,
        Outcome::Unsupported => 2,
        Outcome::Skipped => 3,
        Outcome::Pass => 4,
    }
}

/// How bad an outcome is when several cases check one requirement.
fn severity(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 4,
        Outcome::Warn => 3,
        Outcome::Pass => 2,
        Outcome::Unsupported => 1,
        Outcome::Skipped => 0,
    }
}

/// Where a requirement stands in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Status {
    Pass,
    Fail,
    Warn,
    /// Cases check it but none of them ran (all skipped or unsupported).
    NotRun,
    /// Observable on the wire but no case checks it.
    Uncovered,
    /// Not observable on the wire, and no case checks it.
    Unobservable,
}

impl Status {
    /// All statuses, in legend order.
    pub(crate) const ALL: [Status; 6] = [
        Status::Pass,
        Status::Fail,
        Status::Warn,
        Status::NotRun,
        Status::Uncovered,
        Status::Unobservable,
    ];

    /// The CSS class suffix (`req-<class>`).
    pub(crate) fn class(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::NotRun => "notrun",
            Status::Uncovered => "uncovered",
            Status::Unobservable => "unobservable",
        }
    }

    /// Words for legends and tooltips.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Status::Pass => "covered, passed",
            Status::Fail => "covered, failed",
            Status::Warn => "covered, warning",
            Status::NotRun => "covered, not run",
            Status::Uncovered => "not covered",
            Status::Unobservable => "not observable",
        }
    }
}

/// Looks up case outcomes by ID.
pub(crate) struct Coverage<'a> {
    outcomes: HashMap<&'a str, Outcome>,
}

impl<'a> Coverage<'a> {
    pub(crate) fn new(results: &'a Results) -> Self {
        Coverage {
            outcomes: results
                .cases
                .iter()
                .map(|c| (c.id.as_str(), c.outcome))
                .collect(),
        }
    }

    /// The outcome of a case of this run, if there is such a case.
    pub(crate) fn case_outcome(&self, id: &str) -> Option<Outcome> {
        self.outcomes.get(id).copied()
    }

    /// The worst outcome among the cases checking `r` (fail > warn > pass > unsupported
    /// > skipped), from this run's cases, or the recorded one if none of them is here.
    pub(crate) fn outcome(&self, r: &Requirement) -> Option<Outcome> {
        r.cases
            .iter()
            .filter_map(|id| self.case_outcome(id))
            .max_by_key(|&o| severity(o))
            .or(r.outcome)
    }

    /// The status of a requirement.
    pub(crate) fn status(&self, r: &Requirement) -> Status {
        if r.cases.is_empty() {
            return if r.observable {
                Status::Uncovered
            } else {
                Status::Unobservable
            };
        }
        match self.outcome(r) {
            Some(Outcome::Pass) => Status::Pass,
            Some(Outcome::Fail) => Status::Fail,
            Some(Outcome::Warn) => Status::Warn,
            _ => Status::NotRun,
        }
    }
}

/// Requirement counts for one keyword.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct KeywordStats {
    pub keyword: String,
    pub total: usize,
    pub observable: usize,
    /// Observable requirements checked by at least one case.
    pub covered: usize,
    /// Of those, the ones with a proven check (crates/conformance proofs).
    pub proven: usize,
}

impl KeywordStats {
    /// `covered` as a whole percentage of `observable` (rounded down), if any is.
    pub(crate) fn percent(&self) -> Option<usize> {
        (self.covered * 100).checked_div(self.observable)
    }
}

/// Counts by keyword, in BCP 14 order (unknown keywords last, in order of appearance).
pub(crate) fn by_keyword<'r>(reqs: impl IntoIterator<Item = &'r Requirement>) -> Vec<KeywordStats> {
    let mut out: Vec<KeywordStats> = Vec::new();
    for r in reqs {
        let i = match out.iter().position(|k| k.keyword == r.keyword) {
            Some(i) => i,
            None => {
                out.push(KeywordStats {
                    keyword: r.keyword.clone(),
                    total: 0,
                    observable: 0,
                    covered: 0,
                    proven: 0,
                });
                out.len() - 1
            }
        };
        let k = &mut out[i];
        k.total += 1;
        if r.observable {
            k.observable += 1;
            if !r.cases.is_empty() {
                k.covered += 1;
                if !r.proven_by.is_empty() {
                    k.proven += 1;
                }
            }
        }
    }
    let rank = |k: &str| {
        KEYWORDS
            .iter()
            .position(|x| *x == k)
            .unwrap_or(KEYWORDS.len())
    };
    out.sort_by_key(|k| rank(&k.keyword));
    out
}

/// Observable MUST-level requirements: (proven, observable).
pub(crate) fn must_proven(results: &Results) -> (usize, usize) {
    by_keyword(&results.requirements)
        .iter()
        .filter(|k| {
            matches!(
                k.keyword.as_str(),
                "MUST" | "MUST NOT" | "SHALL" | "SHALL NOT" | "REQUIRED"
            )
        })
        .fold((0, 0), |(c, o), k| (c + k.proven, o + k.observable))
}

/// Observable MUST and MUST NOT requirements: (covered, observable).
pub(crate) fn must_coverage(results: &Results) -> (usize, usize) {
    by_keyword(&results.requirements)
        .iter()
        .filter(|k| {
            matches!(
                k.keyword.as_str(),
                "MUST" | "MUST NOT" | "SHALL" | "SHALL NOT" | "REQUIRED"
            )
        })
        .fold((0, 0), |(c, o), k| (c + k.covered, o + k.observable))
}

/// A whole percentage, rounded down, or "n/a" for 0 of 0.
pub(crate) fn percent_text(part: usize, whole: usize) -> String {
    match (part * 100).checked_div(whole) {
        Some(p) => format!("{p}%"),
        None => "n/a".into(),
    }
}

/// The overall verdict of a run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Verdict {
    /// `pass`, `warn` or `fail` (a CSS class too).
    pub class: &'static str,
    pub title: String,
    pub detail: String,
}

pub(crate) fn verdict(results: &Results) -> Verdict {
    let counts = results.counts();
    let n = |o| counts.get(&o).copied().unwrap_or(0);
    let plural = |k: usize, s: &str| format!("{k} {s}{}", if k == 1 { "" } else { "s" });
    if results.must_failed() {
        Verdict {
            class: "fail",
            title: "Not conformant".into(),
            detail: format!(
                "{} failed a MUST-level expectation",
                plural(n(Outcome::Fail), "case")
            ),
        }
    } else if let Some(why) = &results.inconclusive {
        Verdict {
            class: "warn",
            title: "Inconclusive".into(),
            detail: why.clone(),
        }
    } else if results.cases.is_empty() {
        Verdict {
            class: "warn",
            title: "No cases".into(),
            detail: "This run has no cases".into(),
        }
    } else if n(Outcome::Warn) > 0 {
        Verdict {
            class: "warn",
            title: "Conformant, with warnings".into(),
            detail: format!(
                "No MUST-level failure; {} failed a SHOULD-level expectation",
                plural(n(Outcome::Warn), "case")
            ),
        }
    } else {
        Verdict {
            class: "pass",
            title: "Conformant".into(),
            detail: "No MUST-level or SHOULD-level failure".into(),
        }
    }
}
