//! The requirement catalogue: every sentence of RFC 7016 with a BCP 14 keyword
//! (MUST, MUST NOT, SHALL, SHALL NOT, SHOULD, SHOULD NOT, REQUIRED, RECOMMENDED,
//! NOT RECOMMENDED, MAY, OPTIONAL), extracted from the RFC text itself, with a
//! stable ID (`<section>#<ordinal>`), keyword, section title and text.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

/// The RFC text as shipped in this crate (the RFC Editor's rendering, unedited).
pub const RFC7016: &str = include_str!("../spec/rfc7016.txt");

/// BCP 14 keywords, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Keyword {
    #[serde(rename = "MUST NOT")]
    MustNot,
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "SHALL NOT")]
    ShallNot,
    #[serde(rename = "SHALL")]
    Shall,
    #[serde(rename = "REQUIRED")]
    Required,
    #[serde(rename = "SHOULD NOT")]
    ShouldNot,
    #[serde(rename = "NOT RECOMMENDED")]
    NotRecommended,
    #[serde(rename = "SHOULD")]
    Should,
    #[serde(rename = "RECOMMENDED")]
    Recommended,
    #[serde(rename = "MAY")]
    May,
    #[serde(rename = "OPTIONAL")]
    Optional,
}

impl Keyword {
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::MustNot => "MUST NOT",
            Keyword::Must => "MUST",
            Keyword::ShallNot => "SHALL NOT",
            Keyword::Shall => "SHALL",
            Keyword::Required => "REQUIRED",
            Keyword::ShouldNot => "SHOULD NOT",
            Keyword::NotRecommended => "NOT RECOMMENDED",
            Keyword::Should => "SHOULD",
            Keyword::Recommended => "RECOMMENDED",
            Keyword::May => "MAY",
            Keyword::Optional => "OPTIONAL",
        }
    }

    fn parse(s: &str) -> Option<Keyword> {
        Some(match s {
            "MUST NOT" => Keyword::MustNot,
            "MUST" => Keyword::Must,
            "SHALL NOT" => Keyword::ShallNot,
            "SHALL" => Keyword::Shall,
            "REQUIRED" => Keyword::Required,
            "SHOULD NOT" => Keyword::ShouldNot,
            "NOT RECOMMENDED" => Keyword::NotRecommended,
            "SHOULD" => Keyword::Should,
            "RECOMMENDED" => Keyword::Recommended,
            "MAY" => Keyword::May,
            "OPTIONAL" => Keyword::Optional,
            _ => return None,
        })
    }

    /// Absolute requirements (a failure is a failure, not a warning).
    pub fn is_absolute(self) -> bool {
        matches!(
            self,
            Keyword::MustNot
                | Keyword::Must
                | Keyword::ShallNot
                | Keyword::Shall
                | Keyword::Required
        )
    }

    /// Recommendations (a failure is a warning).
    pub fn is_recommendation(self) -> bool {
        matches!(
            self,
            Keyword::ShouldNot | Keyword::NotRecommended | Keyword::Should | Keyword::Recommended
        )
    }
}

/// One requirement sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// `<section>#<ordinal>`, e.g. `3.6.3.4.5#1`: stable because the RFC is.
    pub id: String,
    pub section: String,
    pub section_title: String,
    /// The strongest keyword in the sentence.
    pub keyword: Keyword,
    /// Every keyword in the sentence.
    pub keywords: Vec<Keyword>,
    pub text: String,
    /// 1-based line of the RFC text where the sentence starts.
    pub line: usize,
}

/// A section heading and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    pub number: String,
    pub title: String,
    pub line: usize,
}

fn heading_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"^((?:\d+\.)+|A\.\d+\.|Appendix A\.)\s+(\S.*)$").expect("valid"))
}

fn keyword_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"\b(MUST NOT|MUST|SHALL NOT|SHALL|SHOULD NOT|SHOULD|NOT RECOMMENDED|REQUIRED|RECOMMENDED|MAY|OPTIONAL)\b")
            .expect("valid")
    })
}

fn is_page_furniture(l: &str) -> bool {
    l.starts_with("RFC 7016 ") || l.starts_with("Thornburgh ") || l.contains('\u{c}')
}

/// A line that belongs to a figure or C-like structure rather than prose.
fn is_figure(l: &str) -> bool {
    let t = l.trim();
    t.starts_with('+')
        || t.starts_with('|')
        || t.ends_with('|')
        || t.contains("+-")
        || t.contains("-+")
        || t.starts_with("struct ")
        || t.ends_with('{')
        || t == "}"
        || t.starts_with('}')
        || t.ends_with(';')
        || t.starts_with("//")
}

/// The sections of the RFC body, in order.
pub fn sections(text: &str) -> Vec<Section> {
    let mut out = Vec::new();
    let mut in_body = false;
    for (i, l) in text.lines().enumerate() {
        if !in_body {
            in_body = l.starts_with("1.   Introduction") && i > 100;
        }
        if !in_body {
            continue;
        }
        if l.starts_with("Author") {
            break;
        }
        if let Some(c) = heading_re().captures(l) {
            let number = c[1].trim_end_matches('.').replace("Appendix ", "");
            out.push(Section {
                number,
                title: c[2].trim().to_string(),
                line: i + 1,
            });
        }
    }
    out
}

/// Splits a paragraph into sentences (at `.`, `!` or `?` followed by a space and an
/// upper-case letter, a quote or a parenthesis).
fn sentences(para: &str) -> Vec<(usize, String)> {
    static R: OnceLock<Regex> = OnceLock::new();
    let r = R.get_or_init(|| Regex::new(r#"[.!?]["”)]?\s+[A-Z"(“]"#).expect("valid"));
    let mut out = Vec::new();
    let mut start = 0;
    for m in r.find_iter(para) {
        // Do not split after "e.g." or "i.e." or a section number like "Section 3.5."
        let before = &para[..m.start() + 1];
        if before.ends_with("e.g.") || before.ends_with("i.e.") || before.ends_with("etc.") {
            continue;
        }
        let end = m.start()
            + para[m.start()..m.end()]
                .find(char::is_whitespace)
                .unwrap_or(1);
        out.push((start, para[start..end].trim().to_string()));
        start = m.end() - 1;
    }
    if start < para.len() {
        out.push((start, para[start..].trim().to_string()));
    }
    out.retain(|(_, s)| !s.is_empty());
    out
}

/// Extracts the catalogue from the RFC text.
pub fn extract(text: &str) -> Vec<Requirement> {
    let secs = sections(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (k, s) in secs.iter().enumerate() {
        let end = secs.get(k + 1).map_or(lines.len(), |n| n.line - 1);
        // Paragraphs of prose: runs of non-blank lines, page furniture dropped,
        // figure lines ending the paragraph. Bulleted items start new paragraphs.
        let mut paras: Vec<(usize, String)> = Vec::new();
        let mut cur: Option<(usize, String)> = None;
        for (i, &l) in lines.iter().enumerate().take(end).skip(s.line) {
            if is_page_furniture(l) {
                continue;
            }
            let t = l.trim();
            let bullet = t.starts_with("o ") || t.starts_with("* ") || regex_item(t);
            if t.is_empty() || is_figure(l) || bullet {
                if let Some(p) = cur.take() {
                    paras.push(p);
                }
                if t.is_empty() || is_figure(l) {
                    continue;
                }
            }
            match cur.as_mut() {
                Some((_, p)) => {
                    p.push(' ');
                    p.push_str(t);
                }
                None => cur = Some((i + 1, t.to_string())),
            }
        }
        if let Some(p) = cur.take() {
            paras.push(p);
        }
        let mut ordinal = 0;
        for (line, p) in paras {
            for (_, sentence) in sentences(&p) {
                let kws: Vec<Keyword> = keyword_re()
                    .find_iter(&sentence)
                    .filter_map(|m| Keyword::parse(m.as_str()))
                    .collect();
                // The terminology paragraph quotes the keywords; it is not a requirement.
                if kws.is_empty() || s.number == "1.2" {
                    continue;
                }
                ordinal += 1;
                let mut sorted = kws.clone();
                sorted.sort();
                sorted.dedup();
                out.push(Requirement {
                    id: format!("{}#{ordinal}", s.number),
                    section: s.number.clone(),
                    section_title: s.title.clone(),
                    keyword: sorted[0],
                    keywords: sorted,
                    text: sentence.split_whitespace().collect::<Vec<_>>().join(" "),
                    line,
                });
            }
        }
    }
    out
}

fn regex_item(t: &str) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"^\d+\.\s+\S").expect("valid"))
        .is_match(t)
}

/// Whether a requirement can be checked on the wire (conformance/requirements.yaml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observability {
    pub observable: bool,
    /// How a tester checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how: Option<String>,
    /// The tester role that can check it: initiator, responder, either, capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tester: Option<String>,
    /// Why not, when not observable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For an observable requirement of §2 or §3 that no capture rule
    /// (`invariants`) checks: why a recording cannot show it, or, starting
    /// "not yet checked by a capture rule", what a rule could check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
}

/// The observability table as shipped.
pub const OBSERVABILITY: &str = include_str!("../requirements.yaml");

/// The observability of every requirement, by ID.
pub fn observability() -> &'static std::collections::BTreeMap<String, Observability> {
    static O: OnceLock<std::collections::BTreeMap<String, Observability>> = OnceLock::new();
    O.get_or_init(|| {
        serde_yaml_ng::from_str(OBSERVABILITY)
            .expect("conformance/requirements.yaml is valid (tested)")
    })
}

/// The catalogue of the shipped RFC, extracted once.
pub fn catalogue() -> &'static [Requirement] {
    static C: OnceLock<Vec<Requirement>> = OnceLock::new();
    C.get_or_init(|| extract(RFC7016))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7016 §2 and §3: every MUST- or SHOULD-level sentence a tester can
    /// observe is either checked by a capture rule (the pcap target), or the
    /// table says why a recording cannot show it (`recording:`); the ones a
    /// rule could check but none does yet say so.
    #[test]
    fn every_section_2_and_3_sentence_has_a_capture_rule_or_a_reason() {
        let obs = observability();
        let rules = crate::invariants::INVARIANTS;
        let (mut silent, mut both, mut not_yet) = (Vec::new(), Vec::new(), Vec::new());
        for r in catalogue() {
            let top = r.section.split('.').next().unwrap_or("");
            if !matches!(top, "2" | "3") || matches!(r.keyword, Keyword::May | Keyword::Optional) {
                continue;
            }
            let o = obs
                .get(&r.id)
                .unwrap_or_else(|| panic!("{} not in the table", r.id));
            if !o.observable {
                assert!(
                    o.reason.as_deref().is_some_and(|x| !x.is_empty()),
                    "{}",
                    r.id
                );
                continue;
            }
            let by_rule = rules
                .iter()
                .any(|i| i.requirements.contains(&r.id.as_str()));
            match (by_rule, o.recording.as_deref()) {
                (false, None | Some("")) => silent.push(r.id.clone()),
                (true, Some(_)) => both.push(r.id.clone()),
                (false, Some(x)) if x.starts_with("not yet checked by a capture rule") => {
                    not_yet.push(r.id.clone())
                }
                _ => {}
            }
        }
        assert!(
            silent.is_empty(),
            "neither a capture rule nor a reason: {silent:?}"
        );
        assert!(
            both.is_empty(),
            "checked by a capture rule, yet a reason why not: {both:?}"
        );
        // The sender rules a capture rule could check but none does yet (the
        // closing note lists them); a new one must be a deliberate change.
        assert_eq!(
            not_yet,
            [
                "3.4#2",
                "3.5.1.1.1#3",
                "3.5.1.1.1#4",
                "3.5.1.1.1#6",
                "3.5.1.2#2",
                "3.5.2.1#2",
                "3.5.2.3#1",
                "3.5.4.3#2",
                "3.6.1.2#2",
                "3.6.2.3.2#1",
                "3.6.2.9.1#1",
                "3.6.2.9.1#3",
                "3.6.2.9.1#4",
                "3.6.2.9.1#5",
            ]
        );
    }

    #[test]
    fn sections_match_the_table_of_contents() {
        let s = sections(RFC7016);
        assert_eq!(s.len(), 109);
        assert_eq!(s[0].number, "1");
        assert!(
            s.iter()
                .any(|x| x.number == "3.6.3.4.5" && x.title == "Obligatory Acknowledgement")
        );
        assert_eq!(s.last().unwrap().number, "A.2");
    }

    #[test]
    fn known_requirements_are_found() {
        let c = catalogue();
        let find = |needle: &str| {
            c.iter()
                .find(|r| r.text.contains(needle))
                .unwrap_or_else(|| panic!("{needle}"))
        };
        // §2.2.4: mode 0 packets MUST be discarded.
        let r = find("Packets marked with this mode are invalid and MUST be discarded");
        assert_eq!((r.section.as_str(), r.keyword), ("2.2.4", Keyword::Must));
        // §3.5.2: two keywords, the strongest wins.
        let r = find("SHOULD NOT be more aggressive in sending data than those described");
        assert_eq!(r.keyword, Keyword::MustNot);
        assert!(r.keywords.contains(&Keyword::ShouldNot));
        // §3.6.3.4.1 ack timing
        assert!(c.iter().any(|r| r.section == "3.6.3.4.1"));
        // Appendix A has none of the keywords in its algorithm text but A.2 is parsed.
        // IDs are unique.
        let mut ids: Vec<&str> = c.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
        // No page furniture leaks into the text.
        assert!(
            c.iter()
                .all(|r| !r.text.contains("Thornburgh") && !r.text.contains("[Page"))
        );
        // The count of keyword occurrences bounds the count of sentences.
        assert!(c.len() > 150 && c.len() < 260, "{}", c.len());
    }

    #[test]
    fn every_requirement_is_classified() {
        let o: std::collections::BTreeMap<String, Observability> =
            serde_yaml_ng::from_str(OBSERVABILITY).expect("requirements.yaml parses");
        let ids: std::collections::BTreeSet<&str> =
            catalogue().iter().map(|r| r.id.as_str()).collect();
        let keys: std::collections::BTreeSet<&str> = o.keys().map(|k| k.as_str()).collect();
        assert_eq!(ids, keys, "requirements.yaml and the catalogue disagree");
        for (id, x) in &o {
            if x.observable {
                assert!(
                    x.how.is_some() && x.tester.is_some(),
                    "{id}: observable needs how and tester"
                );
            } else {
                assert!(x.reason.is_some(), "{id}: not observable needs a reason");
            }
        }
    }

    #[test]
    fn sentence_splitting() {
        let s = sentences(
            "A receiver MUST ignore it. A receiver MUST ignore e.g. this. Then (Section 3.5) SHOULD x.",
        );
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[1].1, "A receiver MUST ignore e.g. this.");
    }
}
