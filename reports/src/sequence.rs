//! The layout of a message sequence chart (two lifelines, one arrow per packet), rendered
//! to SVG by `templates/sequence.svg`.

use serde::Serialize;

use crate::model::TracePacket;

const WIDTH: f64 = 780.0;
const TESTER_X: f64 = 190.0;
const TARGET_X: f64 = 690.0;
/// Right edge of the time column, left of the tester's lifeline.
const TIME_X: f64 = 96.0;
const HEAD_H: f64 = 44.0;
const FIRST_Y: f64 = 96.0;
const ROW_H: f64 = 50.0;
/// Where a dropped packet's arrow stops, as a fraction of the way.
const DROPPED_REACH: f64 = 0.6;
const MAX_LABEL: usize = 64;

/// A chart ready for the template.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Chart {
    pub width: f64,
    pub height: f64,
    pub head_h: f64,
    pub time_x: f64,
    /// Bottom end of the lifelines.
    pub bottom: f64,
    pub lifelines: Vec<Lifeline>,
    pub arrows: Vec<Arrow>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Lifeline {
    pub x: f64,
    pub name: String,
    /// Its address, if the trace shows one.
    pub address: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Arrow {
    /// 1-based packet number (links to the trace table row `pkt-<n>`).
    pub n: usize,
    pub y: f64,
    pub x1: f64,
    /// Where the line ends (short of the far lifeline for a dropped packet).
    pub x2: f64,
    /// The middle of the span between the lifelines, for the label.
    pub mid: f64,
    pub time: String,
    pub label: String,
    /// Full detail for the tooltip: header and chunk lines.
    pub detail: String,
    /// `normal`, `dropped`, `delayed`, `duplicated` or `noted`.
    pub kind: &'static str,
    pub note: Option<String>,
}

/// The name of a chunk line as `rtmfp dump` prints it (`0x30 IHello epd=...`,
/// `0x41 Ping Reply message=...`): the words after the type up to the first
/// field (`name=value`) or parenthesis, whole.
pub(crate) fn chunk_name(line: &str) -> &str {
    let line = line.trim_start();
    let Some(rest) = line.strip_prefix("0x") else {
        return line.split_whitespace().next().unwrap_or("");
    };
    let rest = rest
        .trim_start_matches(|c: char| c.is_ascii_hexdigit())
        .trim_start();
    let end = rest
        .split_whitespace()
        .take_while(|w| !w.contains('=') && !w.starts_with('('))
        .last()
        .map_or(0, |w| {
            w.as_ptr() as usize - rest.as_ptr() as usize + w.len()
        });
    if end == 0 {
        line.split_whitespace().next().unwrap_or("")
    } else {
        &rest[..end]
    }
}

/// The chunk names of a packet, repeats folded (`UserData ×3`), shortened to fit.
pub(crate) fn chunk_summary(chunks: &[String]) -> String {
    let mut parts: Vec<(String, usize)> = Vec::new();
    for name in chunks
        .iter()
        .map(|c| chunk_name(c))
        .filter(|n| !n.is_empty())
    {
        match parts.last_mut() {
            Some((last, n)) if last == name => *n += 1,
            _ => parts.push((name.to_string(), 1)),
        }
    }
    if parts.is_empty() {
        return "(no chunks)".into();
    }
    let s = parts
        .iter()
        .map(|(name, n)| {
            if *n > 1 {
                format!("{name} \u{d7}{n}")
            } else {
                name.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    if s.chars().count() > MAX_LABEL {
        let mut t: String = s.chars().take(MAX_LABEL - 1).collect();
        t.push('\u{2026}');
        t
    } else {
        s
    }
}

/// What a fault note means for the drawing.
pub(crate) fn kind(note: Option<&str>) -> &'static str {
    let Some(n) = note.map(str::to_ascii_lowercase) else {
        return "normal";
    };
    if n.contains("drop") || n.contains("lost") {
        "dropped"
    } else if n.contains("delay") || n.contains("reorder") {
        "delayed"
    } else if n.contains("dup") {
        "duplicated"
    } else {
        "noted"
    }
}

/// Seconds with millisecond precision.
pub(crate) fn time_text(t: f64) -> String {
    if t.is_finite() {
        format!("{t:.3} s")
    } else {
        "?".into()
    }
}

/// Lays out the chart of a trace.
pub(crate) fn chart(packets: &[TracePacket]) -> Chart {
    let from_tester = |p: &TracePacket| p.from.eq_ignore_ascii_case("tester");
    // The first packet tells both addresses.
    let address = |tester: bool| {
        packets
            .first()
            .map(|p| {
                if from_tester(p) == tester {
                    p.src.clone()
                } else {
                    p.dst.clone()
                }
            })
            .unwrap_or_default()
    };
    let arrows: Vec<Arrow> = packets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (x1, far) = if from_tester(p) {
                (TESTER_X, TARGET_X)
            } else {
                (TARGET_X, TESTER_X)
            };
            let kind = kind(p.note.as_deref());
            let x2 = if kind == "dropped" {
                x1 + (far - x1) * DROPPED_REACH
            } else {
                far
            };
            let mut detail = format!("#{} {} {}\n{}", i + 1, time_text(p.time), p.from, p.header);
            for c in &p.chunks {
                detail.push('\n');
                detail.push_str(c);
            }
            if let Some(n) = &p.note {
                detail.push_str("\nnote: ");
                detail.push_str(n);
            }
            Arrow {
                n: i + 1,
                y: FIRST_Y + ROW_H * i as f64,
                x1,
                x2,
                mid: (TESTER_X + TARGET_X) / 2.0,
                time: time_text(p.time),
                label: chunk_summary(&p.chunks),
                detail,
                kind,
                note: p.note.clone(),
            }
        })
        .collect();
    let bottom = FIRST_Y + ROW_H * (arrows.len().max(1) as f64 - 1.0) + 34.0;
    Chart {
        width: WIDTH,
        height: bottom + 12.0,
        head_h: HEAD_H,
        time_x: TIME_X,
        bottom,
        lifelines: vec![
            Lifeline {
                x: TESTER_X,
                name: "tester".into(),
                address: address(true),
            },
            Lifeline {
                x: TARGET_X,
                name: "target".into(),
                address: address(false),
            },
        ],
        arrows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let c: Vec<String> = [
            "0x10 UserData flow=1",
            "0x10 UserData flow=1",
            "0x51 BitmapAck flow=2",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(chunk_summary(&c), "UserData \u{d7}2, BitmapAck");
        assert_eq!(chunk_summary(&[]), "(no chunks)");
        assert_eq!(kind(Some("dropped by fault drop(3)")), "dropped");
        assert_eq!(kind(Some("delayed 200 ms")), "delayed");
        assert_eq!(kind(None), "normal");
    }

    /// Names of more than one word are shown whole, as `rtmfp dump` prints them.
    #[test]
    fn chunk_names_are_whole() {
        assert_eq!(chunk_name("0x41 Ping Reply message=00"), "Ping Reply");
        assert_eq!(chunk_name("0x01 Ping message=00"), "Ping");
        assert_eq!(chunk_name("0x4c Close Ack"), "Close Ack");
        assert_eq!(chunk_name("0x10 User Data flow=3 seq=1"), "User Data");
        assert_eq!(
            chunk_name("0x79 RHello Cookie Change oldCookie=00"),
            "RHello Cookie Change"
        );
        assert_eq!(
            chunk_name("0xec ECN Report (experimental) payload=00"),
            "ECN Report"
        );
        assert_eq!(chunk_name("undecodable: bad"), "undecodable:");
    }
}
