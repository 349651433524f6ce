//! The HTML site: structure snapshots, links, escaping, the sequence chart.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::{fixture, outline, temp_dir, xml};
use rtmfp_reports::model::{Outcome, Results};
use rtmfp_reports::{case_file_name, render_site};

const FAILING: &str = "handshake.iikeying-retransmit";

/// A fresh directory with the fixture's evidence files in place.
fn dir_with_evidence(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::create_dir_all(dir.join("evidence")).expect("mkdir");
    for f in [
        "handshake.iikeying-retransmit.pcap",
        "handshake.iikeying-retransmit.keys",
    ] {
        std::fs::write(dir.join("evidence").join(f), b"").expect("write");
    }
    dir
}

/// Renders the fixture (with its evidence files in place) into a fresh directory.
fn site(name: &str) -> PathBuf {
    let dir = dir_with_evidence(name);
    render_site(&fixture(), &dir).expect("renders");
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn index_outline() {
    let dir = site("index-outline");
    insta::assert_snapshot!("index_outline", outline(&read(&dir.join("index.html"))));
}

#[test]
fn requirements_outline() {
    let dir = site("req-outline");
    insta::assert_snapshot!(
        "requirements_outline",
        outline(&read(&dir.join("requirements.html")))
    );
}

#[test]
fn failing_case_outline() {
    let dir = site("case-outline");
    let page = dir.join("cases").join(case_file_name(FAILING));
    insta::assert_snapshot!("failing_case_outline", outline(&read(&page)));
}

#[test]
fn case_without_trace_outline() {
    let dir = site("case-no-trace");
    let page = dir
        .join("cases")
        .join(case_file_name("fragment.reassembly"));
    insta::assert_snapshot!("case_without_trace_outline", outline(&read(&page)));
}

/// Percent-decodes a URL fragment.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = s
            .get(i + 1..i + 3)
            .filter(|_| b[i] == b'%')
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(v) = hex {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// Every page of the site, parsed.
fn pages(dir: &Path) -> HashMap<PathBuf, xml::Element> {
    let mut files = vec![dir.join("index.html"), dir.join("requirements.html")];
    for e in std::fs::read_dir(dir.join("cases")).expect("cases/") {
        files.push(e.expect("entry").path());
    }
    files
        .into_iter()
        .map(|f| {
            let doc = xml::parse(&read(&f)).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (f.canonicalize().expect("canonical"), doc)
        })
        .collect()
}

/// Checks every relative link of every page: the file exists, and the fragment names an
/// element of the target page. Returns how many links were checked.
fn check_links(dir: &Path) -> usize {
    let pages = pages(dir);
    let mut checked = 0;
    for (file, doc) in &pages {
        for a in doc.by_name("a") {
            let Some(href) = a.attr("href") else { continue };
            assert!(
                !href.contains("://"),
                "{}: external link {href}",
                file.display()
            );
            let (path, frag) = href.split_once('#').unwrap_or((href, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                let t = file.parent().expect("dir").join(path);
                assert!(t.exists(), "{}: broken link {href}", file.display());
                t.canonicalize().expect("canonical")
            };
            if let Some(doc) = pages.get(&target).filter(|_| !frag.is_empty()) {
                let id = decode(frag);
                assert!(
                    doc.all().iter().any(|e| e.attr("id") == Some(id.as_str())),
                    "{}: no element #{id} in {}",
                    file.display(),
                    target.display()
                );
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_link_resolves() {
    let dir = site("links");
    let index = xml::parse(&read(&dir.join("index.html"))).expect("index");
    // The index links every case page.
    let fixture = fixture();
    for c in &fixture.cases {
        let href = format!("cases/{}", case_file_name(&c.id));
        assert!(
            index
                .by_name("a")
                .iter()
                .any(|a| a.attr("href") == Some(href.as_str())),
            "index lacks {href}"
        );
    }
    assert!(check_links(&dir) > 100);
}

#[test]
fn cases_are_listed_failures_first() {
    let dir = site("order");
    let index = xml::parse(&read(&dir.join("index.html"))).expect("index");
    let table = index
        .find_all(|e| e.name == "table" && e.has_class("cases"))
        .into_iter()
        .next()
        .expect("cases table");
    let outcomes: Vec<String> = table
        .by_name("tr")
        .iter()
        .filter_map(|r| r.attr("data-outcome").map(String::from))
        .collect();
    assert_eq!(
        outcomes,
        [
            "fail",
            "fail",
            "warn",
            "warn",
            "warn",
            "unsupported",
            "unsupported",
            "skipped",
            "pass",
            "pass",
            "pass",
            "pass",
            "pass"
        ]
    );
}

#[test]
fn fixture_text_is_escaped() {
    let dir = site("escape");
    let fixture = fixture();
    let failing = fixture
        .cases
        .iter()
        .find(|c| c.id == FAILING)
        .expect("case");
    assert!(
        failing.title.contains('<') && failing.title.contains('&') && failing.title.contains('"')
    );

    let case_html = read(&dir.join("cases").join(case_file_name(FAILING)));
    assert!(!case_html.contains("<tag>"));
    assert!(case_html.contains("cookie &quot;echo&quot; &amp; &lt;tag&gt;"));
    // Round trip: the parsed page shows the original text.
    let doc = xml::parse(&case_html).expect("well-formed");
    let h1 = doc.by_name("h1")[0].text();
    assert!(h1.ends_with(&failing.title), "{h1}");
    let reason = failing.reason.as_deref().expect("reason");
    assert!(
        doc.all()
            .iter()
            .any(|e| e.name == "p" && e.text() == reason)
    );
    // The trace and the chart's tooltips keep the quotes of the chunk lines.
    assert!(case_html.contains("Required Hostname=&quot;echo&quot;"));

    let index = read(&dir.join("index.html"));
    assert!(!index.contains("<tag>") && index.contains("&lt;tag&gt;"));

    let reqs = read(&dir.join("requirements.html"));
    assert!(reqs.contains("values &lt; 0x20 &amp; &gt; 0x7e"));
    assert!(!reqs.contains("< 0x20 &"));
    assert!(reqs.contains("The chunk &quot;IIKeying&quot;"));
    // No raw form feed from the page breaks.
    assert!(!reqs.contains('\u{c}'));
}

#[test]
fn sequence_chart_is_well_formed_svg() {
    let dir = site("svg");
    let html = read(&dir.join("cases").join(case_file_name(FAILING)));
    let start = html.find("<svg").expect("an svg");
    let end = html.find("</svg>").expect("svg end") + "</svg>".len();
    let doc = xml::parse(&html[start..end]).expect("the SVG parses as XML on its own");
    let svg = &doc.by_name("svg")[0];
    assert_eq!(svg.attr("xmlns"), Some("http://www.w3.org/2000/svg"));
    assert_eq!(svg.find_all(|e| e.has_class("lifeline")).len(), 2);
    let arrows = svg.find_all(|e| e.has_class("arrow"));
    assert_eq!(arrows.len(), 6);
    let dropped: Vec<_> = arrows
        .iter()
        .filter(|a| a.has_class("arrow-dropped"))
        .collect();
    assert_eq!(dropped.len(), 1);
    let shaft = dropped[0].find_all(|e| e.has_class("shaft"))[0].clone();
    assert_eq!(
        shaft.attr("marker-end"),
        None,
        "a dropped packet does not arrive"
    );
    assert_eq!(dropped[0].find_all(|e| e.has_class("cross")).len(), 1);
    assert_eq!(
        dropped[0].find_all(|e| e.has_class("note"))[0].text(),
        "dropped by fault drop(packet=4)"
    );
    // Arrows go tester -> target and back, labelled with the chunk names.
    let labels: Vec<String> = arrows
        .iter()
        .map(|a| a.find_all(|e| e.has_class("label"))[0].text())
        .collect();
    assert_eq!(
        labels,
        [
            "IHello", "RHello", "IIKeying", "RIKeying", "IIKeying", "RIKeying"
        ]
    );
    let x = |a: &xml::Element, k: &str| -> f64 {
        a.find_all(|e| e.has_class("shaft"))[0]
            .attr(k)
            .and_then(|v| v.parse().ok())
            .expect("coordinate")
    };
    assert!(x(arrows[0], "x1") < x(arrows[0], "x2"));
    assert!(x(arrows[1], "x1") > x(arrows[1], "x2"));
    // Tooltips carry the whole chunk line, quotes and all.
    let title = arrows[0].by_name("title")[0].text();
    assert!(
        title.contains("IHello epd=[Required Hostname=\"echo\"]"),
        "{title}"
    );
}

#[test]
fn every_requirement_is_anchored_in_the_rfc_text() {
    let dir = site("anchors");
    let doc = xml::parse(&read(&dir.join("requirements.html"))).expect("page");
    let pre = doc
        .find_all(|e| e.name == "pre" && e.has_class("rfc"))
        .into_iter()
        .next()
        .expect("rfc text")
        .clone();
    for r in &fixture().requirements {
        let id = format!("req-{}", r.id);
        let mark = pre
            .find_all(|e| e.attr("id") == Some(id.as_str()))
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{id} not highlighted"))
            .clone();
        assert!(mark.has_class("req"), "{id}");
        // The sentence text, whitespace normalised, starts the highlighted run (the
        // fallback one only has its first line).
        let all: String = pre
            .find_all(|e| e.attr("href") == mark.attr("href"))
            .iter()
            .map(|m| m.text())
            .collect::<Vec<_>>()
            .join(" ");
        if r.id == "3.6.3.4.5#2" {
            assert!(
                all.starts_with("The receiver's internal buffer policy"),
                "{all}"
            );
        } else {
            assert_eq!(all, r.text, "{id}");
        }
    }
}

#[test]
fn hostile_case_ids_stay_inside_the_site() {
    let mut r = fixture();
    let template = r.cases[0].clone();
    let repeated = r.cases[1].id.clone();
    for id in [
        "../../etc/passwd<script>\"",
        "a/b",
        "a_b",
        "A_B",
        ".hidden",
        "",
        &repeated,
    ] {
        let mut c = template.clone();
        c.id = id.into();
        r.cases.push(c);
    }
    let dir = dir_with_evidence("hostile");
    render_site(&r, &dir).expect("renders");
    let files: Vec<String> = std::fs::read_dir(dir.join("cases"))
        .expect("cases/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), r.cases.len(), "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| !f.starts_with('.') && f.ends_with(".html"))
    );
    assert_eq!(
        std::fs::read_dir(&dir).expect("dir").count(),
        4,
        "only evidence/, index.html, requirements.html and cases/"
    );
    check_links(&dir);
}

#[test]
fn empty_and_minimal_results_render() {
    let dir = temp_dir("empty");
    render_site(&Results::default(), &dir).expect("renders");
    let p = pages(&dir);
    assert_eq!(p.len(), 2);
    check_links(&dir);

    // Cases without any catalogue, text or evidence.
    let mut r = fixture();
    r.requirements.clear();
    r.sections.clear();
    r.rfc_text.clear();
    for c in &mut r.cases {
        c.evidence = None;
        c.outcome = Outcome::Pass;
    }
    let dir = temp_dir("minimal");
    render_site(&r, &dir).expect("renders");
    check_links(&dir);
    let index = read(&dir.join("index.html"));
    assert!(index.contains("Verdict: Conformant"));
}

#[test]
fn missing_evidence_files_are_flagged() {
    let dir = temp_dir("no-evidence");
    render_site(&fixture(), &dir).expect("renders");
    let html = read(&dir.join("cases").join(case_file_name(FAILING)));
    assert_eq!(html.matches("not found next to the report").count(), 2);
    let dir = site("with-evidence");
    let html = read(&dir.join("cases").join(case_file_name(FAILING)));
    assert_eq!(html.matches("not found next to the report").count(), 0);
    assert!(html.contains("href=\"../evidence/handshake.iikeying-retransmit.pcap\""));
}
