//! Error messages for files people write (scenarios, expectations): the line
//! with a caret under the place (`annotate-snippets`) and a "did you mean" for a
//! misspelt key, step, chunk, invariant or requirement (`strsim`).

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::scenario::ScenarioError;

/// ` (did you mean `x`?)` for the candidate nearest to `word`, or nothing when
/// none is near.
pub fn did_you_mean(word: &str, candidates: impl Iterator<Item = impl AsRef<str>>) -> String {
    let best = candidates
        .map(|c| (strsim::jaro_winkler(word, c.as_ref()), c))
        .filter(|(score, c)| *score > 0.8 && c.as_ref() != word)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, c)) => format!(" (did you mean `{}`?)", c.as_ref()),
        None => String::new(),
    }
}

/// A serde error message without the YAML crate's ` at line N column M` (the
/// position is given separately), with a "did you mean" for an unknown field
/// or variant (serde lists the expected names in backquotes).
pub fn serde_message(raw: &str) -> String {
    let msg = raw
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_string();
    for marker in ["unknown field `", "unknown variant `"] {
        let Some(at) = msg.find(marker) else { continue };
        let rest = &msg[at + marker.len()..];
        let Some(end) = rest.find('`') else { continue };
        let word = &rest[..end];
        let expected: Vec<&str> = rest[end + 1..].split('`').skip(1).step_by(2).collect();
        return format!("{msg}{}", did_you_mean(word, expected.iter()));
    }
    msg
}

/// The source line `line` of `text` with a caret under `column` (1-based) and
/// the rest of the word there; colour when `color`. Empty when the position is
/// not in the text.
pub fn snippet(text: &str, line: usize, column: usize, label: &str, color: bool) -> String {
    match line.checked_sub(1).and_then(|i| text.lines().nth(i)) {
        Some(src) => line_snippet(src, line, column, label, color),
        None => String::new(),
    }
}

/// As [`snippet`], given the text `src` of line `line` itself.
pub fn line_snippet(src: &str, line: usize, column: usize, label: &str, color: bool) -> String {
    let start = src
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(src.len(), |(i, _)| i);
    // The word at the caret, or else the one character there (whole: a span
    // must end on a character boundary, e.g. after a 2-byte U+00A0).
    let rest = &src[start..];
    let word = match rest.find(|c: char| c.is_whitespace() || ",:]}".contains(c)) {
        Some(w) if w > 0 => w,
        Some(_) => rest.chars().next().map_or(0, char::len_utf8),
        None => rest.len(),
    };
    let end = start + word;
    let report = &[Group::with_level(Level::ERROR).element(
        Snippet::source(src)
            .line_start(line)
            .annotation(AnnotationKind::Primary.span(start..end).label(label)),
    )];
    let r = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    r.render(report)
}

/// A scenario error: its one line (`file:line:column: message`), then the
/// place in the file with a caret, when the file can be read.
pub fn render(e: &ScenarioError, color: bool) -> String {
    if e.line == 0 {
        return e.headline();
    }
    let text = crate::embedded::read_to_string(std::path::Path::new(&e.file)).unwrap_or_default();
    render_in(e, &text, color)
}

/// As [`render`], with the file's text at hand.
pub fn render_in(e: &ScenarioError, text: &str, color: bool) -> String {
    let head = e.headline();
    if e.line == 0 {
        return head;
    }
    let snip = snippet(text, e.line, e.column, "here", color);
    if snip.trim().is_empty() {
        head
    } else {
        format!("{head}\n{snip}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Found by the `expectations_yaml` fuzz target: a caret on a U+00A0 (a
    // 2-byte whitespace character) gave annotate-snippets a span ending inside
    // it, and the error message panicked.
    #[test]
    fn a_caret_on_a_multibyte_space_marks_the_whole_character() {
        let s = snippet("\u{a0}", 1, 1, "here", false);
        assert!(s.contains('^'), "{s}");
        let s = snippet("a: \u{a0}\u{a0}b", 1, 4, "here", false);
        assert!(s.contains('^'), "{s}");
        // A column past the end of the line: no caret, no panic.
        let _ = snippet("ab", 1, 9, "here", false);
        assert_eq!(
            crate::suite::Expectations::parse("\u{a0}", "x.yaml")
                .map(|_| ())
                .unwrap_err()
                .to_string()
                .lines()
                .next()
                .map(|l| l.starts_with("x.yaml:1:")),
            Some(true)
        );
    }

    #[test]
    fn suggests_the_nearest_name() {
        assert_eq!(
            did_you_mean("withn", ["within", "chunk", "where"].iter()),
            " (did you mean `within`?)"
        );
        assert_eq!(did_you_mean("zzzz", ["within", "chunk"].iter()), "");
        let m = serde_message(
            "steps[1].expect: unknown field `withn`, expected one of `within`, `chunk` at line 11 column 7",
        );
        assert_eq!(
            m,
            "steps[1].expect: unknown field `withn`, expected one of `within`, `chunk` (did you mean `within`?)"
        );
        let m = serde_message("unknown variant `expct`, expected one of `connect`, `expect`");
        assert!(m.ends_with("(did you mean `expect`?)"), "{m}");
    }

    #[test]
    fn the_caret_is_under_the_column() {
        let s = snippet("a: 1\n  withn: 2s\n", 2, 3, "here", false);
        let lines: Vec<&str> = s.lines().collect();
        let src = lines.iter().position(|l| l.contains("withn: 2s")).unwrap();
        let caret = lines[src + 1];
        let col = |l: &str, pat: &str| l.find(pat).unwrap();
        assert_eq!(col(caret, "^^^^^"), col(lines[src], "withn"), "{s}");
        assert!(snippet("a: 1\n", 9, 1, "here", false).is_empty());
    }
}
