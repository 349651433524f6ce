//! A tiny DOM over quick-xml, enough to check that pages are well-formed and to outline
//! their structure.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

#[derive(Debug, Clone)]
pub enum Node {
    El(Element),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Element {
    fn new(start: &BytesStart) -> Result<Element, String> {
        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
        let mut attrs = Vec::new();
        for a in start.attributes() {
            let a = a.map_err(|e| format!("<{name}>: bad attribute: {e}"))?;
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let value = a
                .unescape_value()
                .map_err(|e| format!("<{name} {key}>: {e}"))?
                .into_owned();
            attrs.push((key, value));
        }
        Ok(Element {
            name,
            attrs,
            children: Vec::new(),
        })
    }

    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn classes(&self) -> Vec<&str> {
        self.attr("class")
            .map(|c| c.split_whitespace().collect())
            .unwrap_or_default()
    }

    pub fn has_class(&self, c: &str) -> bool {
        self.classes().contains(&c)
    }

    /// All text inside, whitespace collapsed.
    pub fn text(&self) -> String {
        let mut raw = String::new();
        self.raw_text(&mut raw);
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// All text inside, as is.
    pub fn raw_text(&self, out: &mut String) {
        for c in &self.children {
            match c {
                Node::Text(t) => out.push_str(t),
                Node::El(e) => e.raw_text(out),
            }
        }
    }

    /// This element and all elements inside, in document order.
    pub fn all(&self) -> Vec<&Element> {
        let mut out = vec![self];
        for c in &self.children {
            if let Node::El(e) = c {
                out.extend(e.all());
            }
        }
        out
    }

    pub fn find_all(&self, pred: impl Fn(&Element) -> bool) -> Vec<&Element> {
        self.all().into_iter().filter(|e| pred(e)).collect()
    }

    pub fn by_name(&self, name: &str) -> Vec<&Element> {
        self.find_all(|e| e.name == name)
    }
}

/// Parses a whole document (XML, or XHTML-style HTML); the result is a synthetic
/// `#document` element. Fails on unbalanced tags, bad escapes, bad attributes.
pub fn parse(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack = vec![Element {
        name: "#document".into(),
        attrs: Vec::new(),
        children: Vec::new(),
    }];
    loop {
        let pos = reader.buffer_position();
        let ev = reader
            .read_event()
            .map_err(|e| format!("at byte {pos}: {e}"))?;
        match ev {
            Event::Start(s) => stack.push(Element::new(&s)?),
            Event::Empty(s) => {
                let e = Element::new(&s)?;
                push(&mut stack, Node::El(e));
            }
            Event::End(_) => {
                let e = stack.pop().ok_or("unbalanced end tag")?;
                if stack.is_empty() {
                    return Err("end tag without start".into());
                }
                push(&mut stack, Node::El(e));
            }
            Event::Text(t) => {
                let t = t
                    .unescape()
                    .map_err(|e| format!("at byte {pos}: {e}"))?
                    .into_owned();
                push(&mut stack, Node::Text(t));
            }
            Event::CData(c) => {
                push(
                    &mut stack,
                    Node::Text(String::from_utf8_lossy(&c.into_inner()).into_owned()),
                );
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(format!(
            "unclosed elements: {:?}",
            stack.iter().map(|e| &e.name).collect::<Vec<_>>()
        ));
    }
    Ok(stack.pop().expect("the document"))
}

fn push(stack: &mut [Element], node: Node) {
    if let Some(top) = stack.last_mut() {
        top.children.push(node);
    }
}
