//! reference/README.md's map from RFC 7016 sections to files: every file it
//! names exists, and every subsection of §3.5 in the RFC's table of contents
//! has a row of its own (as do §2, §3.6 and Appendix A).

use std::collections::BTreeSet;
use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The "Where RFC 7016 lives" section: its table rows and the text after it.
fn map_section(readme: &str) -> &str {
    let start = readme
        .find("## Where RFC 7016 lives")
        .expect("README has the map");
    let rest = &readme[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    &rest[..end]
}

/// Everything written `like/this.rs` in `text`.
fn paths(text: &str) -> Vec<&str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.ends_with(".rs") && s.contains('/'))
        .collect()
}

/// The section named in each row's first cell (`§3.5.1.2 cookie change` ->
/// `3.5.1.2`, `Appendix A ...` -> `A`).
fn row_sections(map: &str) -> BTreeSet<String> {
    map.lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| {
            let cell = l.split('|').next()?.trim();
            if cell.starts_with("Appendix A") {
                return Some("A".to_string());
            }
            let s = cell.strip_prefix('§')?;
            Some(s.split(['-', ' ', ',']).next()?.to_string())
        })
        .collect()
}

/// The section numbers of the RFC's table of contents that start with `prefix`.
fn toc_sections(prefix: &str) -> Vec<String> {
    let rfc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/spec/rfc7016.txt"),
    )
    .unwrap();
    let toc_end = rfc
        .find("\n1.   Introduction")
        .expect("end of the table of contents");
    rfc[..toc_end]
        .lines()
        .filter_map(|l| {
            let n = l.trim_start().split(". ").next()?.trim_end_matches('.');
            (n.starts_with(prefix) && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .then(|| n.to_string())
        })
        .collect()
}

#[test]
fn every_file_the_map_names_exists() {
    let text = readme();
    let map = map_section(&text);
    let named = paths(map);
    assert!(named.len() > 40, "{} paths", named.len());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let missing: Vec<_> = named.iter().filter(|p| !dir.join(p).is_file()).collect();
    assert!(
        missing.is_empty(),
        "README names missing files: {missing:?}"
    );
}

#[test]
fn every_section_3_5_subsection_has_a_row() {
    let text = readme();
    let rows = row_sections(map_section(&text));
    let wanted = toc_sections("3.5.");
    assert!(wanted.len() >= 20, "{wanted:?}");
    let missing: Vec<_> = wanted.iter().filter(|s| !rows.contains(*s)).collect();
    assert!(missing.is_empty(), "no README row for §{missing:?}");
    for s in [
        "2.2.2", "2.2.4", "2.3.1", "2.3.11", "2.3.13", "3.4", "3.6", "A",
    ] {
        assert!(rows.contains(s), "no README row for {s}");
    }
}

#[test]
fn the_parsers_see_what_they_should() {
    let map = "## Where RFC 7016 lives\n| §3.5.1.2 cookie | `src/a/b.rs`, `src/c.rs` |\n\
               | Appendix A x | `src/d/e.rs` |\n| §2.1.1-§2.1.2 x | `not a path` |\n## Next\n`src/z/z.rs`";
    assert_eq!(
        paths(map_section(map)),
        ["src/a/b.rs", "src/c.rs", "src/d/e.rs"]
    );
    let rows: Vec<_> = row_sections(map).into_iter().collect();
    assert_eq!(rows, ["2.1.1", "3.5.1.2", "A"]);
}
