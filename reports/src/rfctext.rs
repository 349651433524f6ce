//! Locating requirement sentences in the RFC text and cutting the text into plain and
//! highlighted segments for rendering.
//!
//! A requirement records its sentence with normalised whitespace and the line where its
//! paragraph starts; in the text the sentence spans lines (indented, perhaps across a page
//! break with its header and footer). The sentence is looked for with whitespace
//! normalised and page furniture skipped, first near its line, then anywhere; failing
//! both, its first line is highlighted.

use std::ops::Range;

use serde::Serialize;

/// How far after its recorded line a sentence is looked for first.
const WINDOW_LINES: usize = 120;

/// One line of the text: byte range without the line break.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    start: usize,
    end: usize,
    /// A page header or footer, or a form feed.
    furniture: bool,
}

/// Splits a text into lines.
pub(crate) fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    for l in text.split_inclusive('\n') {
        let body = l.trim_end_matches(['\n', '\r']);
        out.push(Line {
            start,
            end: start + body.len(),
            furniture: is_furniture(body),
        });
        start += l.len();
    }
    out
}

/// Page headers ("RFC 7016   Adobe RTMFP   November 2013"), footers ("... [Page 5]") and
/// form feeds.
fn is_furniture(l: &str) -> bool {
    l.contains('\u{c}')
        || (l.trim_end().ends_with(']') && l.contains("[Page "))
        || l.strip_prefix("RFC ")
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
}

/// How a sentence was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// The whole sentence was found.
    Exact,
    /// Only its first line is highlighted.
    FirstLine,
    /// Its line is not in the text.
    Missing,
}

/// Finds a sentence; returns the byte ranges to highlight, one per line it covers
/// (indentation and page furniture excluded).
pub(crate) fn locate(
    text: &str,
    lines: &[Line],
    line: usize,
    sentence: &str,
) -> (Found, Vec<Range<usize>>) {
    let needle = sentence.split_whitespace().collect::<Vec<_>>().join(" ");
    let first = line.saturating_sub(1);
    if needle.is_empty() || first >= lines.len() {
        return (Found::Missing, Vec::new());
    }
    let windows = [
        first..(first + WINDOW_LINES).min(lines.len()),
        0..lines.len(),
    ];
    for w in windows {
        if let Some(r) = find_normalised(text, &lines[w], &needle) {
            return (Found::Exact, split_by_line(text, lines, r));
        }
    }
    let l = &lines[first];
    let body = &text[l.start..l.end];
    let indent = body.len() - body.trim_start().len();
    let r = l.start + indent..l.start + body.trim_end().len();
    if r.is_empty() {
        (Found::Missing, Vec::new())
    } else {
        (Found::FirstLine, vec![r])
    }
}

/// Looks for `needle` (whitespace normalised) in the lines, whitespace normalised and
/// furniture skipped; returns its byte range in the original text.
fn find_normalised(text: &str, lines: &[Line], needle: &str) -> Option<Range<usize>> {
    let mut norm = String::new();
    // Original byte offset of every byte of `norm`.
    let mut map: Vec<usize> = Vec::new();
    let mut space = false;
    for l in lines {
        if l.furniture {
            continue;
        }
        for (i, c) in text[l.start..l.end].char_indices() {
            if c.is_whitespace() {
                space = true;
                continue;
            }
            let at = l.start + i;
            if space && !norm.is_empty() {
                norm.push(' ');
                map.push(at);
            }
            space = false;
            norm.push(c);
            map.extend(at..at + c.len_utf8());
        }
        space = true;
    }
    let p = norm.find(needle)?;
    Some(map[p]..map[p + needle.len() - 1] + 1)
}

/// Cuts a byte range into one range per line, without indentation or furniture.
fn split_by_line(text: &str, lines: &[Line], r: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for l in lines {
        if l.furniture || l.end <= r.start || l.start >= r.end {
            continue;
        }
        let body = &text[l.start..l.end];
        let indent = body.len() - body.trim_start().len();
        let s = r.start.max(l.start + indent);
        let e = r.end.min(l.start + body.trim_end().len());
        if s < e {
            out.push(s..e);
        }
    }
    out
}

/// A highlighted sentence.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub ranges: Vec<Range<usize>>,
    /// CSS class.
    pub class: String,
    /// Element ID of its first segment.
    pub id: String,
    pub href: String,
    pub title: String,
    /// Only its first line was found: it yields to exact matches where they overlap.
    pub fallback: bool,
}

/// A piece of the text to render.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Segment {
    /// `text`, `mark` (a highlighted sentence or part of one), `page` (page furniture) or
    /// `anchor` (an empty element with an ID).
    pub kind: &'static str,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Set on an anchor and on the first segment of a mark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl Segment {
    fn plain(kind: &'static str, text: &str) -> Self {
        Segment {
            kind,
            text: text.to_string(),
            class: None,
            id: None,
            href: None,
            title: None,
        }
    }
}

/// Removes the parts of `r` that `taken` covers.
fn subtract(r: Range<usize>, taken: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut pieces = vec![r];
    for t in taken {
        pieces = pieces
            .into_iter()
            .flat_map(|p| {
                if t.end <= p.start || t.start >= p.end {
                    vec![p]
                } else {
                    [p.start..t.start, t.end..p.end]
                        .into_iter()
                        .filter(|x| x.start < x.end)
                        .collect()
                }
            })
            .collect();
    }
    pieces
}

/// Cuts the text into segments: marks (exact matches first; where marks overlap, the
/// later or fallback one keeps only what is left), page furniture, anchors at the start of
/// the given 1-based lines, and plain text.
pub(crate) fn segments(
    text: &str,
    lines: &[Line],
    marks: &[Mark],
    anchors: &[(usize, String)],
) -> Vec<Segment> {
    enum Span<'a> {
        Mark(&'a Mark, bool),
        Page,
    }
    let mut taken: Vec<Range<usize>> = Vec::new();
    let mut spans: Vec<(Range<usize>, Span)> = Vec::new();
    for fallback in [false, true] {
        for m in marks.iter().filter(|m| m.fallback == fallback) {
            let mut first = true;
            for r in &m.ranges {
                for piece in subtract(r.clone(), &taken) {
                    taken.push(piece.clone());
                    spans.push((piece, Span::Mark(m, first)));
                    first = false;
                }
            }
        }
    }
    for l in lines.iter().filter(|l| l.furniture) {
        let free = !taken.iter().any(|t| t.start < l.end && l.start < t.end);
        if free {
            spans.push((l.start..l.end, Span::Page));
        }
    }
    spans.sort_by_key(|(r, _)| (r.start, r.end));
    let mut points: Vec<(usize, &str)> = anchors
        .iter()
        .filter_map(|(line, id)| {
            lines
                .get(line.checked_sub(1)?)
                .map(|l| (l.start, id.as_str()))
        })
        .collect();
    points.sort();
    let mut points = points.into_iter().peekable();

    let mut out = Vec::new();
    let mut pos = 0;
    let mut plain_until = |out: &mut Vec<Segment>, pos: &mut usize, end: usize| {
        while let Some(&(at, id)) = points.peek() {
            if at > end {
                break;
            }
            let at = at.clamp(*pos, end);
            if at > *pos {
                out.push(Segment::plain("text", &text[*pos..at]));
                *pos = at;
            }
            let mut a = Segment::plain("anchor", "");
            a.id = Some(id.to_string());
            out.push(a);
            points.next();
        }
        if end > *pos {
            out.push(Segment::plain("text", &text[*pos..end]));
            *pos = end;
        }
    };
    for (r, span) in spans {
        if r.start < pos {
            continue; // defensive: spans do not overlap
        }
        plain_until(&mut out, &mut pos, r.start);
        let s = match span {
            Span::Page => Segment::plain("page", &text[r.clone()]),
            Span::Mark(m, first) => Segment {
                kind: "mark",
                text: text[r.clone()].to_string(),
                class: Some(m.class.clone()),
                id: first.then(|| m.id.clone()),
                href: Some(m.href.clone()),
                title: Some(m.title.clone()),
            },
        };
        out.push(s);
        pos = r.end;
    }
    plain_until(&mut out, &mut pos, text.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
1.  Intro

   The sender MUST do this
   thing.  Then it SHOULD
   stop.

Thornburgh                 Informational                 [Page 2]
\u{c}RFC 7016                Adobe RTMFP                 November 2013

   and go on.  A receiver MAY
   accept it.
";

    #[test]
    fn finds_sentences_across_lines_and_pages() {
        let ls = lines(TEXT);
        let (f, r) = locate(TEXT, &ls, 3, "The sender MUST do this thing.");
        assert_eq!(f, Found::Exact);
        let got: Vec<&str> = r.iter().map(|r| &TEXT[r.clone()]).collect();
        assert_eq!(got, ["The sender MUST do this", "thing."]);

        let (f, r) = locate(TEXT, &ls, 3, "Then it SHOULD stop. and go on.");
        assert_eq!(f, Found::Exact);
        let got: Vec<&str> = r.iter().map(|r| &TEXT[r.clone()]).collect();
        assert_eq!(got, ["Then it SHOULD", "stop.", "and go on."]);

        let (f, r) = locate(TEXT, &ls, 10, "Not there at all.");
        assert_eq!(f, Found::FirstLine);
        assert_eq!(&TEXT[r[0].clone()], "and go on.  A receiver MAY");

        assert_eq!(locate(TEXT, &ls, 99, "x").0, Found::Missing);
    }

    #[test]
    fn segments_cover_the_text() {
        let ls = lines(TEXT);
        let (_, ranges) = locate(TEXT, &ls, 3, "The sender MUST do this thing.");
        let mark = Mark {
            ranges,
            class: "req-pass".into(),
            id: "req-1#1".into(),
            href: "#x".into(),
            title: "t".into(),
            fallback: false,
        };
        let segs = segments(TEXT, &ls, &[mark], &[(1, "sec-1".into())]);
        let joined: String = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(joined, TEXT);
        assert_eq!(segs[0].kind, "anchor");
        assert_eq!(segs.iter().filter(|s| s.kind == "mark").count(), 2);
        assert_eq!(segs.iter().filter(|s| s.kind == "page").count(), 2);
    }
}
