//! Where each node of a YAML document is, from the YAML parser's own spans, for
//! errors found after deserialising (an unknown requirement ID, a dangling
//! `$var`): the error names the node by its path (`steps[3].expect.chunk`), not
//! by searching the text for a word that may occur earlier.

use saphyr_parser::{Event, Parser, Span};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(s: &Span) -> Pos {
        Pos {
            line: s.start.line(),
            column: s.start.col() + 1,
        }
    }
}

/// A YAML node and where it starts.
#[derive(Debug, Clone)]
pub enum Node {
    Scalar(String, Pos),
    Seq(Vec<Node>, Pos),
    /// Keys and values in order.
    Map(Vec<(Node, Node)>, Pos),
    Alias(Pos),
}

/// One step of a path: a mapping key or a sequence index.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl Node {
    pub fn pos(&self) -> Pos {
        match self {
            Node::Scalar(_, p) | Node::Seq(_, p) | Node::Map(_, p) | Node::Alias(p) => *p,
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value of `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match self {
            Node::Map(m, _) => m
                .iter()
                .find(|(k, _)| matches!(k, Node::Scalar(s, _) if s == key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The node at `path`.
    pub fn at(&self, path: &[Seg]) -> Option<&Node> {
        let mut n = self;
        for s in path {
            n = match (s, n) {
                (Seg::Key(k), _) => n.get(k)?,
                (Seg::Index(i), Node::Seq(v, _)) => v.get(*i)?,
                _ => return None,
            };
        }
        Some(n)
    }

    /// The first scalar (depth first) equal to `value`, keys included.
    pub fn find_scalar(&self, value: &str) -> Option<&Node> {
        match self {
            Node::Scalar(s, _) if s == value => Some(self),
            Node::Seq(v, _) => v.iter().find_map(|x| x.find_scalar(value)),
            Node::Map(m, _) => m
                .iter()
                .find_map(|(k, v)| k.find_scalar(value).or_else(|| v.find_scalar(value))),
            _ => None,
        }
    }

    /// Where `value` is under `path` (a scalar equal to it), else where `path`
    /// is, else where the nearest existing ancestor of `path` is.
    pub fn locate(&self, path: &[Seg], value: Option<&str>) -> Pos {
        for n in (0..=path.len()).rev() {
            if let Some(node) = self.at(&path[..n]) {
                if n == path.len()
                    && let Some(hit) = value.and_then(|v| node.find_scalar(v))
                {
                    return hit.pos();
                }
                return node.pos();
            }
        }
        self.pos()
    }
}

/// Parses the first document of `text`; `None` if it is not valid YAML (the
/// deserialiser reports that with its own position).
pub fn parse(text: &str) -> Option<Node> {
    let mut p = Parser::new_from_str(text);
    // A stack of open collections: (node, pending key of a mapping).
    let mut stack: Vec<(Node, Option<Node>)> = Vec::new();
    let mut root = None;
    while let Some(ev) = p.next_event() {
        let (ev, span) = ev.ok()?;
        let node = match ev {
            Event::StreamEnd | Event::DocumentEnd => break,
            Event::SequenceStart(..) => {
                stack.push((Node::Seq(Vec::new(), Pos::of(&span)), None));
                continue;
            }
            Event::MappingStart(..) => {
                stack.push((Node::Map(Vec::new(), Pos::of(&span)), None));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => stack.pop()?.0,
            Event::Scalar(v, ..) => Node::Scalar(v.into_owned(), Pos::of(&span)),
            Event::Alias(_) => Node::Alias(Pos::of(&span)),
            _ => continue,
        };
        match stack.last_mut() {
            None => {
                root = Some(node);
                break;
            }
            Some((Node::Seq(v, _), _)) => v.push(node),
            Some((Node::Map(m, _), pending)) => match pending.take() {
                None => *pending = Some(node),
                Some(k) => m.push((k, node)),
            },
            Some(_) => return None,
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_come_from_the_parser() {
        let text = "id: x\n# $cookie in a comment\nsteps:\n  - set: {a: 1}\n  - expect:\n      chunk: [ping, $cookie]\n";
        let n = parse(text).unwrap();
        let p = |line, column| Pos { line, column };
        assert_eq!(n.get("id").unwrap().pos(), p(1, 5));
        let path = [Seg::Key("steps"), Seg::Index(1), Seg::Key("expect")];
        // The comment does not fool it: the scalar in step 2 is found.
        assert_eq!(n.locate(&path, Some("$cookie")), p(6, 21));
        assert_eq!(
            n.locate(&[Seg::Key("steps"), Seg::Index(0), Seg::Key("set")], None),
            p(4, 10)
        );
        // A missing path falls back to its nearest ancestor.
        assert_eq!(
            n.locate(&[Seg::Key("steps"), Seg::Index(7)], None),
            n.get("steps").unwrap().pos()
        );
        assert!(parse("a: [").is_none());
    }
}
