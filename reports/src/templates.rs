//! The template environment shared by the renderers: every template is compiled into the
//! crate and every value is escaped (HTML and XML alike) unless marked safe.

use std::fmt::Write as _;
use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, Error, Output, State, Value};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("index.html", include_str!("../templates/index.html")),
    (
        "requirements.html",
        include_str!("../templates/requirements.html"),
    ),
    ("case.html", include_str!("../templates/case.html")),
    ("fuzzing.html", include_str!("../templates/fuzzing.html")),
    ("sequence.svg", include_str!("../templates/sequence.svg")),
    ("junit.xml", include_str!("../templates/junit.xml")),
    ("diff.html", include_str!("../templates/diff.html")),
];

/// The shared style sheet, inlined into every page.
pub(crate) const STYLE: &str = include_str!("../templates/style.css");

/// The environment with all templates loaded.
pub(crate) fn env() -> Result<&'static Environment<'static>, Error> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // HTML, SVG and XML: the same escaping serves all three.
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_formatter(formatter);
        env.add_filter("frag", |s: String| fragment(&s));
        env.add_filter("code", |s: String| Value::from_safe_string(backticks(&s)));
        env.add_global("style", Value::from_safe_string(STYLE.to_string()));
        for (name, source) in TEMPLATES {
            // The templates are part of the crate: a syntax error fails every test.
            env.add_template(name, source)
                .map_err(|e| format!("template {name}: {e:#}"))?;
        }
        Ok(env)
    });
    env.as_ref()
        .map_err(|e| Error::new(minijinja::ErrorKind::InvalidOperation, e.clone()))
}

/// Writes a value escaped for HTML/XML; `none` and undefined values print as nothing.
fn formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    if value.is_safe() || state.auto_escape() == AutoEscape::None {
        return minijinja::escape_formatter(out, state, value);
    }
    if value.is_undefined() || value.is_none() {
        return Ok(());
    }
    let s = match value.as_str() {
        Some(s) => escape(s),
        None => escape(&value.to_string()),
    };
    out.write_str(&s).map_err(Error::from)
}

/// Escapes text for HTML and XML (text and attribute values alike). Control characters
/// that XML 1.0 forbids are replaced by U+FFFD (form feeds are dropped: the RFC text
/// has one per page break).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\u{c}' => {}
            '\n' | '\r' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text and sets what stands between backticks as code
/// (`` `cumulative_ack` `` becomes `<code>cumulative_ack</code>`); an unpaired
/// backtick stays as it is.
pub(crate) fn backticks(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let mut out = String::with_capacity(s.len() + 16);
    for (i, p) in parts.iter().enumerate() {
        let inside = i % 2 == 1 && i + 1 < parts.len();
        if inside {
            out.push_str("<code>");
            out.push_str(&escape(p));
            out.push_str("</code>");
        } else {
            if i % 2 == 1 {
                out.push('`');
            }
            out.push_str(&escape(p));
        }
    }
    out
}

/// Percent-encodes what cannot stand in a URL fragment as is (`#`, `%`, spaces, quotes).
pub(crate) fn fragment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || "-._~:@!$()*+,;=/?".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            escape("a<b & \"c\" 'd'\u{c}\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;\u{fffd}"
        );
        assert_eq!(fragment("req-3.6#1 x"), "req-3.6%231%20x");
        assert_eq!(
            backticks("set `a<b` and `c"),
            "set <code>a&lt;b</code> and `c"
        );
    }
}
