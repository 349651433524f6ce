//! The static HTML site: `index.html`, `requirements.html` and `cases/<id>.html`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use minijinja::context;
use serde::Serialize;

use crate::ReportError;
use crate::coverage::{self, Coverage, KeywordStats, OUTCOMES, Status, outcome_name};
use crate::model::{Case, Requirement, Results};
use crate::rfctext::{self, Found, Mark};
use crate::sequence::{self, Chart};
use crate::templates::{env, fragment};

/// A file name for a case page: the ID with everything but ASCII letters, digits, `-`,
/// `_` and `.` replaced by `_` (and no leading dot), plus `.html`.
///
/// [`render_site`] appends `-2`, `-3`, ... when two IDs sanitise to the same name.
pub fn case_file_name(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s.truncate(120);
    s + ".html"
}

/// File names (under `cases/`) of every case, by index, unique (a repeated ID gets a
/// page of its own too).
fn case_files(results: &Results) -> Vec<String> {
    let mut used: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(results.cases.len());
    for c in &results.cases {
        let base = case_file_name(&c.id);
        let mut name = base.clone();
        let mut k = 2;
        while used.contains(&name.to_ascii_lowercase()) {
            name = format!("{}-{k}.html", base.trim_end_matches(".html"));
            k += 1;
        }
        used.insert(name.to_ascii_lowercase());
        out.push(name);
    }
    out
}

/// Renders the whole site into `out_dir` (created if needed): `index.html`,
/// `requirements.html` and `cases/<id>.html` for every case. Existing files of the same
/// names are overwritten; nothing else in the directory is touched.
pub fn render_site(results: &Results, out_dir: &Path) -> Result<(), ReportError> {
    let cases_dir = out_dir.join("cases");
    std::fs::create_dir_all(&cases_dir).map_err(|e| ReportError::write(&cases_dir, e))?;
    let site = Site::new(results);
    write(&out_dir.join("index.html"), &site.index()?)?;
    write(&out_dir.join("requirements.html"), &site.requirements()?)?;
    for (pos, &i) in site.order.iter().enumerate() {
        let html = site.case(&results.cases[i], pos, out_dir)?;
        write(&cases_dir.join(&site.files[i]), &html)?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|e| ReportError::write(path, e))
}

/// What every page shows in its header and footer.
#[derive(Serialize)]
struct Meta<'a> {
    target: &'a str,
    started: &'a str,
    duration: String,
    seed: u64,
    command: &'a str,
    /// What stopped the run early, if something did.
    interrupted: Option<&'a str>,
}

/// Milliseconds as "850 ms" or "3.2 s".
fn duration_text(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// The shared state of one rendering.
struct Site<'a> {
    results: &'a Results,
    cov: Coverage<'a>,
    /// Page file names, by case index.
    files: Vec<String>,
    /// Case index by ID (the first case of an ID), for links.
    by_id: HashMap<&'a str, usize>,
    /// Case indices, problems first.
    order: Vec<usize>,
    reqs: HashMap<&'a str, &'a Requirement>,
}

#[derive(Serialize)]
struct CaseRow<'a> {
    id: &'a str,
    title: &'a str,
    rfc: &'a [String],
    level: &'a str,
    outcome: &'static str,
    reason: Option<&'a str>,
    duration: String,
    href: String,
}

#[derive(Serialize)]
struct KeywordRow {
    #[serde(flatten)]
    stats: KeywordStats,
    percent: Option<usize>,
}

#[derive(Serialize)]
struct CaseLink {
    id: String,
    href: Option<String>,
    outcome: Option<&'static str>,
}

#[derive(Serialize)]
struct ReqRow<'a> {
    id: &'a str,
    keyword: &'a str,
    section: &'a str,
    text: &'a str,
    observable: bool,
    reason: Option<&'a str>,
    status: &'static str,
    status_label: &'static str,
    cases: Vec<CaseLink>,
    /// `case: how` for each claim proven by a fault or a recorded mutation.
    proven_by: &'a [String],
    /// "exact", "first line" or "missing" (where it is in the RFC text).
    located: &'static str,
}

#[derive(Serialize)]
struct SectionRow<'a> {
    number: &'a str,
    title: &'a str,
    /// Whether the RFC text has an anchor for it.
    anchored: bool,
    keywords: Vec<(String, usize)>,
    total: usize,
    observable: usize,
    covered: usize,
    statuses: Vec<StatusCount>,
}

#[derive(Serialize)]
struct StatusCount {
    class: &'static str,
    label: &'static str,
    n: usize,
}

impl<'a> Site<'a> {
    fn new(results: &'a Results) -> Self {
        let mut order: Vec<usize> = (0..results.cases.len()).collect();
        order.sort_by_key(|&i| coverage::problem_rank(results.cases[i].outcome));
        Site {
            results,
            cov: Coverage::new(results),
            files: case_files(results),
            by_id: results
                .cases
                .iter()
                .enumerate()
                .rev()
                .map(|(i, c)| (c.id.as_str(), i))
                .collect(),
            order,
            reqs: results
                .requirements
                .iter()
                .map(|r| (r.id.as_str(), r))
                .collect(),
        }
    }

    fn meta(&self) -> Meta<'a> {
        let r = self.results;
        Meta {
            target: &r.target,
            started: &r.started,
            duration: duration_text(r.duration_ms),
            seed: r.seed,
            command: &r.command,
            interrupted: r.interrupted.as_deref(),
        }
    }

    fn case_href(&self, id: &str, root: &str) -> Option<String> {
        self.by_id
            .get(id)
            .map(|&i| format!("{root}cases/{}", self.files[i]))
    }

    fn case_links(&self, ids: &[String], root: &str) -> Vec<CaseLink> {
        ids.iter()
            .map(|id| CaseLink {
                id: id.clone(),
                href: self.case_href(id, root),
                outcome: self.cov.case_outcome(id).map(outcome_name),
            })
            .collect()
    }

    fn index(&self) -> Result<String, ReportError> {
        let r = self.results;
        let counts = r.counts();
        let counts: Vec<_> = OUTCOMES
            .iter()
            .map(|&o| (outcome_name(o), counts.get(&o).copied().unwrap_or(0)))
            .collect();
        let keywords: Vec<KeywordRow> = coverage::by_keyword(&r.requirements)
            .into_iter()
            .map(|stats| KeywordRow {
                percent: stats.percent(),
                stats,
            })
            .collect();
        let cases: Vec<CaseRow> = self
            .order
            .iter()
            .map(|&i| {
                let c = &r.cases[i];
                CaseRow {
                    id: &c.id,
                    title: &c.title,
                    rfc: &c.rfc,
                    level: &c.level,
                    outcome: outcome_name(c.outcome),
                    reason: c.reason.as_deref(),
                    duration: duration_text(c.duration_ms),
                    href: format!("cases/{}", self.files[i]),
                }
            })
            .collect();
        let (must_covered, must_observable) = coverage::must_coverage(r);
        let tmpl = env()?.get_template("index.html")?;
        Ok(tmpl.render(context! {
            page => "index",
            root => "",
            meta => self.meta(),
            counts,
            total => r.cases.len(),
            verdict => coverage::verdict(r),
            keywords,
            must_covered,
            must_observable,
            must_percent => coverage::percent_text(must_covered, must_observable),
            requirements_total => r.requirements.len(),
            cases,
        })?)
    }

    fn requirements(&self) -> Result<String, ReportError> {
        let r = self.results;
        let text = r.rfc_text.as_str();
        let lines = rfctext::lines(text);
        let mut marks = Vec::new();
        let mut rows = Vec::new();
        let mut located = BTreeMap::new();
        for q in &r.requirements {
            let status = self.cov.status(q);
            let (found, ranges) = if text.is_empty() {
                (Found::Missing, Vec::new())
            } else {
                rfctext::locate(text, &lines, q.line, &q.text)
            };
            let found_text = match found {
                Found::Exact => "exact",
                Found::FirstLine => "first line",
                Found::Missing => "missing",
            };
            *located.entry(found_text).or_insert(0usize) += 1;
            let cases = self.case_links(&q.cases, "");
            if !ranges.is_empty() {
                marks.push(Mark {
                    ranges,
                    class: format!("req req-{}", status.class()),
                    id: format!("req-{}", q.id),
                    href: format!("#{}", fragment(&format!("cat-{}", q.id))),
                    title: tooltip(q, status, &cases),
                    fallback: found == Found::FirstLine,
                });
            }
            rows.push(ReqRow {
                id: &q.id,
                keyword: &q.keyword,
                section: &q.section,
                text: &q.text,
                observable: q.observable,
                reason: q.reason.as_deref(),
                status: status.class(),
                status_label: status.label(),
                cases,
                proven_by: &q.proven_by,
                located: found_text,
            });
        }
        let anchors: Vec<(usize, String)> = r
            .sections
            .iter()
            .filter(|s| s.line > 0 && s.line <= lines.len())
            .map(|s| (s.line, format!("sec-{}", s.number)))
            .collect();
        let segments = rfctext::segments(text, &lines, &marks, &anchors);
        let sections = self.section_rows(lines.len());
        let legend: Vec<StatusCount> = Status::ALL
            .iter()
            .map(|&s| StatusCount {
                class: s.class(),
                label: s.label(),
                n: r.requirements
                    .iter()
                    .filter(|q| self.cov.status(q) == s)
                    .count(),
            })
            .collect();
        let tmpl = env()?.get_template("requirements.html")?;
        Ok(tmpl.render(context! {
            page => "requirements",
            root => "",
            meta => self.meta(),
            sections,
            legend,
            requirements => rows,
            located,
            segments,
            has_text => !text.is_empty(),
        })?)
    }

    /// One row per section with requirements, in RFC order (sections missing from the
    /// section list last, in order of appearance).
    fn section_rows(&self, text_lines: usize) -> Vec<SectionRow<'a>> {
        let r = self.results;
        let mut order: Vec<(&str, &str, bool)> = r
            .sections
            .iter()
            .map(|s| {
                (
                    s.number.as_str(),
                    s.title.as_str(),
                    s.line > 0 && s.line <= text_lines,
                )
            })
            .collect();
        for q in &r.requirements {
            if !order.iter().any(|(n, _, _)| *n == q.section) {
                order.push((&q.section, &q.section_title, false));
            }
        }
        order
            .into_iter()
            .filter_map(|(number, title, anchored)| {
                let reqs: Vec<&Requirement> = r
                    .requirements
                    .iter()
                    .filter(|q| q.section == number)
                    .collect();
                if reqs.is_empty() {
                    return None;
                }
                let stats = coverage::by_keyword(reqs.iter().copied());
                let statuses = Status::ALL
                    .iter()
                    .map(|&s| StatusCount {
                        class: s.class(),
                        label: s.label(),
                        n: reqs.iter().filter(|q| self.cov.status(q) == s).count(),
                    })
                    .filter(|s| s.n > 0)
                    .collect();
                Some(SectionRow {
                    number,
                    title,
                    anchored,
                    keywords: stats.iter().map(|k| (k.keyword.clone(), k.total)).collect(),
                    total: reqs.len(),
                    observable: stats.iter().map(|k| k.observable).sum(),
                    covered: stats.iter().map(|k| k.covered).sum(),
                    statuses,
                })
            })
            .collect()
    }

    fn case(&self, case: &Case, pos: usize, out_dir: &Path) -> Result<String, ReportError> {
        let root = "../";
        let reqs: Vec<_> = case
            .requirements
            .iter()
            .map(|id| match self.reqs.get(id.as_str()) {
                Some(q) => {
                    let status = self.cov.status(q);
                    context! {
                        id,
                        found => true,
                        keyword => q.keyword,
                        section => q.section,
                        section_title => q.section_title,
                        text => q.text,
                        status => status.class(),
                        status_label => status.label(),
                        href => format!("{root}requirements.html#{}", fragment(&format!("req-{id}"))),
                    }
                }
                None => context! { id, found => false },
            })
            .collect();
        let evidence = case.evidence.as_ref();
        let packets = evidence.map(|e| e.packets.as_slice()).unwrap_or_default();
        let chart: Option<Chart> = (!packets.is_empty()).then(|| sequence::chart(packets));
        let trace: Vec<_> = packets
            .iter()
            .enumerate()
            .map(|(i, p)| {
                context! {
                    n => i + 1,
                    time => sequence::time_text(p.time),
                    from => p.from,
                    src => p.src,
                    dst => p.dst,
                    header => p.header,
                    chunks => p.chunks,
                    note => p.note,
                    kind => sequence::kind(p.note.as_deref()),
                }
            })
            .collect();
        let file = |name: &Option<String>| {
            name.as_ref().map(|n| {
                let absolute = Path::new(n).is_absolute();
                context! {
                    name => n,
                    href => if absolute { format!("file://{n}") } else { format!("{root}{n}") },
                    exists => if absolute { Path::new(n).exists() } else { out_dir.join(n).exists() },
                }
            })
        };
        let neighbour = |p: Option<usize>| {
            p.and_then(|p| self.order.get(p)).map(|&i| {
                let c = &self.results.cases[i];
                context! { id => c.id, href => self.files[i] }
            })
        };
        let tmpl = env()?.get_template("case.html")?;
        Ok(tmpl.render(context! {
            page => "case",
            root,
            meta => self.meta(),
            case,
            outcome => outcome_name(case.outcome),
            duration => duration_text(case.duration_ms),
            reqs,
            failed_steps => case.steps.iter().filter(|s| !s.ok).count(),
            chart,
            trace,
            pcap => evidence.and_then(|e| file(&e.pcap)),
            keylog => evidence.and_then(|e| file(&e.keylog)),
            prev => neighbour(pos.checked_sub(1)),
            next => neighbour(Some(pos + 1)),
            position => pos + 1,
            total => self.order.len(),
        })?)
    }
}

/// The tooltip of a highlighted sentence.
fn tooltip(q: &Requirement, status: Status, cases: &[CaseLink]) -> String {
    let mut t = format!("{} ({}): {}", q.id, q.keyword, status.label());
    if !cases.is_empty() {
        let list: Vec<String> = cases
            .iter()
            .map(|c| match c.outcome {
                Some(o) => format!("{} ({o})", c.id),
                None => format!("{} (not in this run)", c.id),
            })
            .collect();
        t.push_str("\nchecked by: ");
        t.push_str(&list.join(", "));
    }
    if let Some(reason) = q.reason.as_deref().filter(|_| !q.observable) {
        t.push_str("\nnot observable: ");
        t.push_str(reason);
    }
    t
}
