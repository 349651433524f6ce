//! Two runs compared (`rtmfp-conformance diff OLD NEW`): which cases got better,
//! which got worse, which are new or gone, as terminal text and as a report
//! page (`diff.html`).

use std::fmt::Write as _;
use std::path::Path;

use minijinja::context;
use serde::Serialize;

use crate::ReportError;
use crate::coverage::outcome_name;
use crate::model::{Outcome, Results};
use crate::templates::env;

/// How good an outcome is: higher is better. Unsupported and skipped say
/// nothing about the implementation and rank between a warning and a pass.
fn goodness(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 0,
        Outcome::Warn => 1,
        Outcome::Unsupported | Outcome::Skipped => 2,
        Outcome::Pass => 3,
    }
}

/// One case whose outcome differs (or that only one run has).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub title: String,
    /// `None`: the case is not in that run.
    pub old: Option<&'static str>,
    pub new: Option<&'static str>,
    /// The newer run's reason (the older one's for a removed case).
    pub reason: Option<String>,
    /// The case's page in the newer run's report (none for a removed case).
    pub href: Option<String>,
}

/// The comparison.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Diff {
    pub old_target: String,
    pub new_target: String,
    pub old_started: String,
    pub new_started: String,
    pub better: Vec<Change>,
    pub worse: Vec<Change>,
    /// Same goodness, different outcome (skipped <-> unsupported).
    pub changed: Vec<Change>,
    pub added: Vec<Change>,
    pub removed: Vec<Change>,
    pub unchanged: usize,
}

/// Compares `old` with `new`, case by case (by ID).
pub fn diff(old: &Results, new: &Results) -> Diff {
    let mut d = Diff {
        old_target: old.target.clone(),
        new_target: new.target.clone(),
        old_started: old.started.clone(),
        new_started: new.started.clone(),
        ..Diff::default()
    };
    for n in &new.cases {
        let o = old.cases.iter().find(|c| c.id == n.id);
        let change = Change {
            id: n.id.clone(),
            title: n.title.clone(),
            old: o.map(|c| outcome_name(c.outcome)),
            new: Some(outcome_name(n.outcome)),
            reason: n.reason.clone(),
            href: Some(format!("cases/{}", crate::case_file_name(&n.id))),
        };
        match o {
            None => d.added.push(change),
            Some(o) if o.outcome == n.outcome => d.unchanged += 1,
            Some(o) => match goodness(n.outcome).cmp(&goodness(o.outcome)) {
                std::cmp::Ordering::Greater => d.better.push(change),
                std::cmp::Ordering::Less => d.worse.push(change),
                std::cmp::Ordering::Equal => d.changed.push(change),
            },
        }
    }
    for o in &old.cases {
        if !new.cases.iter().any(|c| c.id == o.id) {
            d.removed.push(Change {
                id: o.id.clone(),
                title: o.title.clone(),
                old: Some(outcome_name(o.outcome)),
                new: None,
                reason: o.reason.clone(),
                href: None,
            });
        }
    }
    d
}

impl Diff {
    /// Something got worse (a case's outcome, or a case that failed before and is gone).
    pub fn regressed(&self) -> bool {
        !self.worse.is_empty()
    }
}

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// The comparison for a terminal.
pub fn diff_text(d: &Diff, color: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} -> {}: {} better, {} worse, {} new, {} gone, {} unchanged",
        d.old_started,
        d.new_started,
        d.better.len(),
        d.worse.len(),
        d.added.len(),
        d.removed.len(),
        d.unchanged
    );
    let groups: [(&str, &str, &Vec<Change>); 5] = [
        ("worse", "1;31", &d.worse),
        ("better", "32", &d.better),
        ("changed", "2", &d.changed),
        ("new", "36", &d.added),
        ("gone", "2", &d.removed),
    ];
    for (name, code, list) in groups {
        for c in list.iter() {
            let _ = writeln!(
                s,
                "  {:7} {:44} {:>11} -> {}",
                paint(name, code, color),
                c.id,
                c.old.unwrap_or("-"),
                c.new.unwrap_or("-")
            );
        }
    }
    s
}

/// Writes `diff.html` into `out_dir` (beside the newer run's report).
pub fn render_diff(d: &Diff, out_dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|e| ReportError::write(out_dir, e))?;
    let html = env()?.get_template("diff.html")?.render(context! {
        page => "diff",
        root => "",
        meta => context! {
            target => d.new_target,
            started => d.new_started,
            seed => "",
        },
        d,
    })?;
    let p = out_dir.join("diff.html");
    std::fs::write(&p, html).map_err(|e| ReportError::write(&p, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Case;

    fn case(id: &str, o: Outcome) -> Case {
        serde_json::from_value(serde_json::json!({
            "id": id, "title": id, "rfc": [], "requirements": [], "tags": [],
            "level": "must", "outcome": o, "duration_ms": 0, "rerun": "", "steps": []
        }))
        .unwrap()
    }

    fn results(cases: Vec<Case>) -> Results {
        serde_json::from_value(serde_json::json!({
            "target": "reference", "started": "t", "duration_ms": 0, "seed": 1,
            "command": "", "cases": cases, "requirements": [], "sections": []
        }))
        .unwrap()
    }

    #[test]
    fn sorts_cases_into_better_worse_new_and_gone() {
        let old = results(vec![
            case("a", Outcome::Fail),
            case("b", Outcome::Pass),
            case("c", Outcome::Pass),
            case("gone", Outcome::Warn),
            case("u", Outcome::Skipped),
        ]);
        let new = results(vec![
            case("a", Outcome::Pass),
            case("b", Outcome::Warn),
            case("c", Outcome::Pass),
            case("new", Outcome::Fail),
            case("u", Outcome::Unsupported),
        ]);
        let d = diff(&old, &new);
        let ids = |v: &[Change]| v.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&d.better), ["a"]);
        assert_eq!(ids(&d.worse), ["b"]);
        assert_eq!(ids(&d.added), ["new"]);
        assert_eq!(ids(&d.removed), ["gone"]);
        assert_eq!(ids(&d.changed), ["u"]);
        assert_eq!(d.unchanged, 1);
        assert!(d.regressed());
        assert_eq!(d.worse[0].old, Some("pass"));
        assert_eq!(d.worse[0].new, Some("warn"));
        let t = diff_text(&d, false);
        assert!(
            t.contains("1 better, 1 worse, 1 new, 1 gone, 1 unchanged"),
            "{t}"
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        render_diff(&d, dir).unwrap();
        let html = std::fs::read_to_string(dir.join("diff.html")).unwrap();
        assert!(
            html.contains("Got worse") && html.contains(">b</a>"),
            "{html}"
        );
        assert!(html.contains("href=\"cases/b.html\""), "{html}");
    }
}
