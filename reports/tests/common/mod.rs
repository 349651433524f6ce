//! A realistic fixture run shared by the tests (and written to `fixtures/results.json`
//! for `cargo run -p rtmfp-reports -- render reports/tests/fixtures/results.json`).

#![allow(dead_code)]

use rtmfp_reports::model::{
    Case, Evidence, Outcome, Requirement, Results, Section, StepResult, TracePacket,
};

/// The RFC-like text of the fixture (sections, indented paragraphs, a page break in the
/// middle of a sentence, a requirement with `<`, `&` and `"`).
pub const RFC_TEXT: &str = include_str!("rfc_excerpt.txt");

/// 1-based number of the first line of `RFC_TEXT` containing `needle`.
fn line_of(needle: &str) -> usize {
    RFC_TEXT
        .lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("fixture text lacks {needle:?}"))
}

fn section(number: &str, title: &str) -> Section {
    Section {
        number: number.into(),
        title: title.into(),
        line: line_of(&format!("{number}.  {title}")),
    }
}

#[allow(clippy::too_many_arguments)]
fn req(
    id: &str,
    title: &str,
    keyword: &str,
    text: &str,
    paragraph: &str,
    observable: Result<(), &str>,
    cases: &[&str],
    outcome: Option<Outcome>,
) -> Requirement {
    Requirement {
        id: id.into(),
        section: id.split('#').next().unwrap_or(id).into(),
        section_title: title.into(),
        keyword: keyword.into(),
        text: text.into(),
        line: line_of(paragraph),
        observable: observable.is_ok(),
        reason: observable.err().map(String::from),
        cases: cases.iter().map(|c| c.to_string()).collect(),
        proven_by: Vec::new(),
        outcome,
    }
}

fn step(description: &str, ok: bool, expected: Option<&str>, actual: Option<&str>) -> StepResult {
    StepResult {
        description: description.into(),
        ok,
        expected: expected.map(String::from),
        actual: actual.map(String::from),
    }
}

fn pkt(time: f64, from: &str, header: &str, chunks: &[&str], note: Option<&str>) -> TracePacket {
    let (src, dst) = if from == "tester" {
        ("127.0.0.1:50123", "127.0.0.1:1935")
    } else {
        ("127.0.0.1:1935", "127.0.0.1:50123")
    };
    TracePacket {
        time,
        from: from.into(),
        src: src.into(),
        dst: dst.into(),
        chunks: chunks.iter().map(|c| c.to_string()).collect(),
        header: header.into(),
        note: note.map(String::from),
    }
}

#[allow(clippy::too_many_arguments)]
fn case(
    id: &str,
    title: &str,
    rfc: &str,
    requirements: &[&str],
    tags: &[&str],
    level: &str,
    outcome: Outcome,
    reason: Option<&str>,
    steps: Vec<StepResult>,
) -> Case {
    Case {
        id: id.into(),
        title: title.into(),
        rfc: vec![format!("7016 §{rfc}")],
        requirements: requirements.iter().map(|r| r.to_string()).collect(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        level: level.into(),
        outcome,
        reason: reason.map(String::from),
        duration_ms: 40 + 17 * id.len() as u64,
        rerun: format!("rtmfp-conformance run --target udp://127.0.0.1:1935 --seed 7 --case {id}"),
        steps,
        evidence: None,
    }
}

/// The failing handshake case's trace: six packets, the first RIKeying dropped.
fn iikeying_trace() -> Vec<TracePacket> {
    vec![
        pkt(
            0.0,
            "tester",
            "mode=startup flags=TS ts=1000",
            &["0x30 IHello epd=[Required Hostname=\"echo\"] tag=9f86d081884c7d65"],
            None,
        ),
        pkt(
            0.012,
            "target",
            "mode=startup flags=TS,TSE ts=52 tse=1000",
            &[
                "0x70 RHello tagEcho=9f86d081884c7d65 cookie=5f4dcc3b5aa765d6 certificate=[Extra Randomness=42a1]",
            ],
            None,
        ),
        pkt(
            0.015,
            "tester",
            "mode=startup flags=TS ts=1004",
            &[
                "0x38 IIKeying initiatorSessionID=00000001 cookieEcho=5f4dcc3b5aa765d6 certificate=[Extra Randomness=77ee] skic=[Diffie-Hellman Group 2 Public Key=...] signature=",
            ],
            None,
        ),
        pkt(
            0.027,
            "target",
            "mode=startup flags=TS,TSE ts=55 tse=1004",
            &[
                "0x78 RIKeying responderSessionID=01020304 skrc=[Diffie-Hellman Group 2 Public Key=...] signature=",
            ],
            Some("dropped by fault drop(packet=4)"),
        ),
        pkt(
            1.515,
            "tester",
            "mode=startup flags=TS ts=1379",
            &[
                "0x38 IIKeying initiatorSessionID=00000001 cookieEcho=5f4dcc3b5aa765d6 certificate=[Extra Randomness=77ee] skic=[Diffie-Hellman Group 2 Public Key=...] signature=",
            ],
            Some("retransmission (same cookie)"),
        ),
        pkt(
            1.529,
            "target",
            "mode=startup flags=TS,TSE ts=430 tse=1379",
            &[
                "0x78 RIKeying responderSessionID=0b0c0d0e skrc=[Diffie-Hellman Group 2 Public Key=...] signature=",
            ],
            None,
        ),
    ]
}

/// The fixture run: 13 cases with every outcome, 10 requirements in 4 sections covering
/// every coverage status.
pub fn fixture() -> Results {
    use Outcome::*;
    let sections = vec![
        section("1", "Introduction"),
        section("2.2.4", "Packet Mode"),
        section("3.5.1", "Startup"),
        section("3.5.2", "Congestion Control"),
        section("3.6.3.4.5", "Obligatory Acknowledgement"),
    ];
    let requirements = vec![
        req(
            "2.2.4#1",
            "Packet Mode",
            "MUST",
            "Packets marked with this mode are invalid and MUST be discarded.",
            "The packet mode is in the low",
            Ok(()),
            &["packet.mode-zero-discarded"],
            Some(Pass),
        ),
        req(
            "2.2.4#2",
            "Packet Mode",
            "MUST NOT",
            "A packet whose mode is 1 or 2 MUST NOT be answered with a mode 3 packet by an endpoint that is not in a session with the sender.",
            "The packet mode is in the low",
            Ok(()),
            &[],
            None,
        ),
        req(
            "3.5.1#1",
            "Startup",
            "MUST",
            "An initiator MUST send an IHello to each candidate address, and it SHOULD retransmit the IHello with an increasing interval (for example 1.5 s, 3 s, 6 s) until it receives an RHello or gives up.",
            "An initiator MUST send an IHello",
            Ok(()),
            &["handshake.ihello-rhello", "handshake.ihello-retransmit"],
            Some(Warn),
        ),
        req(
            "3.5.1#2",
            "Startup",
            "SHOULD",
            "The responder SHOULD answer promptly, because the initiator's timers are running.",
            "An initiator MUST send an IHello",
            Err("\"promptly\" has no threshold a tester could check"),
            &[],
            None,
        ),
        req(
            "3.5.1#3",
            "Startup",
            "MUST",
            "A responder MUST answer a retransmitted IIKeying that has the same cookie with the same RIKeying, and it MUST NOT create a second session for it.",
            "A responder MUST answer a retransmitted",
            Ok(()),
            &["handshake.iikeying-retransmit"],
            Some(Fail),
        ),
        req(
            "3.5.1#4",
            "Startup",
            "MUST",
            "The chunk \"IIKeying\" carries the initiator's certificate; values < 0x20 & > 0x7e in an option MUST be treated as opaque bytes.",
            "A responder MUST answer a retransmitted",
            Ok(()),
            &["handshake.option-bytes"],
            Some(Pass),
        ),
        req(
            "3.5.2#1",
            "Congestion Control",
            "MUST NOT",
            "An endpoint MUST NOT be more aggressive in sending data than is permitted by the congestion control algorithms described in this section.",
            "An endpoint MUST NOT be more aggressive",
            Ok(()),
            &["congestion.window"],
            Some(Unsupported),
        ),
        req(
            "3.5.2#2",
            "Congestion Control",
            "SHOULD",
            "An endpoint SHOULD send no more than four packets per destination during startup.",
            "An endpoint MUST NOT be more aggressive",
            Ok(()),
            &["congestion.startup-pacing"],
            Some(Warn),
        ),
        req(
            "3.5.2#3",
            "Congestion Control",
            "MAY",
            "An implementation MAY use a more conservative window.",
            "An endpoint MUST NOT be more aggressive",
            Err("permission, not an obligation"),
            &[],
            None,
        ),
        req(
            "3.6.3.4.5#1",
            "Obligatory Acknowledgement",
            "MUST",
            "A receiver MUST acknowledge at least every second packet containing user data, and it SHOULD send an acknowledgement within 200 ms of receiving user data.",
            "A receiver MUST acknowledge",
            Ok(()),
            &["flow.ack-obligatory", "flow.ack-delay"],
            Some(Fail),
        ),
        // Deliberately not the text's wording ("honor"): rendered with the first-line
        // fallback.
        req(
            "3.6.3.4.5#2",
            "Obligatory Acknowledgement",
            "MUST NOT",
            "The receiver's buffer policy is its own business, but it MUST NOT advertise a larger buffer than it can honor.",
            "The receiver's internal buffer policy",
            Err("the receive buffer is internal to the target"),
            &[],
            None,
        ),
    ];

    let mut iikeying = case(
        "handshake.iikeying-retransmit",
        "Retransmitted IIKeying is answered with the same RIKeying (cookie \"echo\" & <tag>)",
        "3.5.1",
        &["3.5.1#3"],
        &["handshake", "faults"],
        "must",
        Fail,
        Some(
            "the retransmitted IIKeying got a different RIKeying: responderSessionID=0b0c0d0e, expected 01020304 (the first answer's) & a second session <2> was created",
        ),
        vec![
            step("send IHello", true, None, None),
            step(
                "expect RHello within 2 s",
                true,
                Some("RHello"),
                Some("RHello after 12 ms"),
            ),
            step("send IIKeying", true, None, None),
            step("drop the first RIKeying (fault)", true, None, None),
            step("retransmit IIKeying after 1.5 s", true, None, None),
            step(
                "expect the same RIKeying",
                false,
                Some("RIKeying responderSessionID=01020304"),
                Some("RIKeying responderSessionID=0b0c0d0e (sessions: 2 > 1)"),
            ),
        ],
    );
    iikeying.evidence = Some(Evidence {
        packets: iikeying_trace(),
        pcap: Some("evidence/handshake.iikeying-retransmit.pcap".into()),
        keylog: Some("evidence/handshake.iikeying-retransmit.keys".into()),
    });

    let mut ack = case(
        "flow.ack-obligatory",
        "Every second user data packet is acknowledged",
        "3.6.3.4.5",
        &["3.6.3.4.5#1"],
        &["flow"],
        "must",
        Fail,
        Some("3 packets with user data were not acknowledged within 1 s"),
        vec![
            step("open a session", true, None, None),
            step("send 3 packets with user data on flow 1", true, None, None),
            step(
                "expect an acknowledgement",
                false,
                Some("Ack covering seq 1-2 within 1 s"),
                Some("no acknowledgement"),
            ),
        ],
    );
    ack.evidence = Some(Evidence {
        packets: vec![
            pkt(
                0.0,
                "tester",
                "mode=initiator flags=TS ts=9000",
                &["0x10 UserData flow=1 seq=1 fsnOffset=0 (fsn=0) whole data=68656c6c6f"],
                None,
            ),
            pkt(
                0.004,
                "tester",
                "mode=initiator flags=TS ts=9001",
                &[
                    "0x10 UserData flow=1 seq=2 fsnOffset=1 (fsn=1) whole data=776f726c64",
                    "0x11 NextUserData whole data=2121",
                ],
                None,
            ),
            pkt(
                0.250,
                "tester",
                "mode=initiator flags=TS ts=9063",
                &["0x18 BufferProbe flow=1"],
                Some("delayed 200 ms by fault delay(200ms)"),
            ),
        ],
        pcap: None,
        keylog: None,
    });

    let cases = vec![
        case(
            "packet.mode-zero-discarded",
            "Packets with mode 0 are discarded",
            "2.2.4",
            &["2.2.4#1"],
            &["packet"],
            "must",
            Pass,
            None,
            vec![
                step("send a mode 0 packet", true, None, None),
                step(
                    "expect silence for 1 s",
                    true,
                    Some("no packet"),
                    Some("no packet"),
                ),
            ],
        ),
        case(
            "handshake.ihello-rhello",
            "IHello is answered with RHello",
            "3.5.1",
            &["3.5.1#1"],
            &["handshake"],
            "must",
            Pass,
            None,
            vec![
                step("send IHello", true, None, None),
                step(
                    "expect RHello within 2 s",
                    true,
                    Some("RHello"),
                    Some("RHello after 9 ms"),
                ),
            ],
        ),
        case(
            "handshake.ihello-retransmit",
            "IHello is retransmitted with increasing intervals",
            "3.5.1",
            &["3.5.1#1"],
            &["handshake"],
            "should",
            Warn,
            Some(
                "IHello retransmitted after 1.0 s, 1.0 s and 1.0 s: the interval did not increase",
            ),
            vec![step(
                "observe IHello retransmissions",
                false,
                Some("increasing intervals"),
                Some("1.0 s, 1.0 s, 1.0 s"),
            )],
        ),
        iikeying,
        case(
            "handshake.option-bytes",
            "Option bytes outside printable ASCII are opaque",
            "3.5.1",
            &["3.5.1#4"],
            &["handshake"],
            "must",
            Pass,
            None,
            vec![step(
                "send IHello with EPD bytes 0x00 and 0xff",
                true,
                Some("RHello"),
                Some("RHello"),
            )],
        ),
        case(
            "congestion.startup-pacing",
            "At most four packets per destination during startup",
            "3.5.2",
            &["3.5.2#2"],
            &["congestion"],
            "should",
            Warn,
            Some("6 packets to one destination in the first 200 ms (limit 4)"),
            vec![step(
                "count packets in the first 200 ms",
                false,
                Some("<= 4"),
                Some("6"),
            )],
        ),
        case(
            "congestion.window",
            "The congestion window limits bulk sending",
            "3.5.2",
            &["3.5.2#1"],
            &["congestion"],
            "must",
            Unsupported,
            Some("the target has no bulk sender (needs capability send-bulk)"),
            vec![],
        ),
        ack,
        case(
            "flow.ack-delay",
            "Acknowledgements are sent within 200 ms",
            "3.6.3.4.5",
            &["3.6.3.4.5#1"],
            &["flow"],
            "should",
            Warn,
            Some("first acknowledgement 350 ms after the user data (should be within 200 ms)"),
            vec![step(
                "measure acknowledgement delay",
                false,
                Some("<= 200 ms"),
                Some("350 ms"),
            )],
        ),
        case(
            "session.close-ack",
            "Close is answered with Close Acknowledgement",
            "3.6.4",
            &["3.6.4#1"],
            &["session"],
            "must",
            Pass,
            None,
            vec![
                step("send Close", true, None, None),
                step(
                    "expect Close Ack",
                    true,
                    Some("Close Ack"),
                    Some("Close Ack"),
                ),
            ],
        ),
        case(
            "redirect.implied",
            "An empty Redirect is an implied redirect",
            "3.5.1.1.1",
            &[],
            &["redirect"],
            "must",
            Unsupported,
            Some("the target is not a redirector"),
            vec![],
        ),
        case(
            "fragment.reassembly",
            "Fragmented packets are reassembled",
            "2.3.3",
            &[],
            &["fragment"],
            "must",
            Skipped,
            Some("listed in expectations.yaml (known issue)"),
            vec![],
        ),
        case(
            "capture.checksum",
            "Every packet of the capture has a valid checksum",
            "2.2.3",
            &[],
            &[],
            "must",
            Pass,
            None,
            vec![step(
                "verify 214 checksums",
                true,
                Some("214 valid"),
                Some("214 valid"),
            )],
        ),
    ];

    Results {
        target: "udp://127.0.0.1:1935".into(),
        started: "2026-11-24T18:04:12Z".into(),
        duration_ms: 14_250,
        seed: 7,
        command: "rtmfp-conformance run --target udp://127.0.0.1:1935 --seed 7 --report out/"
            .into(),
        cases,
        requirements,
        sections,
        rfc_text: RFC_TEXT.into(),
        interrupted: None,
        inconclusive: None,
    }
}

pub mod xml;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A fresh, empty directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("reports-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Counts of the classes with the given prefixes, `name ×n` per line.
fn class_counts(doc: &xml::Element, prefixes: &[&str]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in doc.all() {
        for c in e.classes() {
            if prefixes.iter().any(|p| c.starts_with(p)) {
                *counts.entry(c).or_insert(0) += 1;
            }
        }
    }
    counts
        .iter()
        .map(|(c, n)| format!("  {c} ×{n}\n"))
        .collect()
}

/// A normalised outline of a page: title, navigation, headings, tables (header cells
/// and row counts), badge and status classes, element IDs by prefix, and the sequence
/// chart and RFC text highlights if present.
pub fn outline(html: &str) -> String {
    let doc = xml::parse(html).unwrap_or_else(|e| panic!("page is not well-formed: {e}"));
    let mut o = String::new();
    for t in doc.by_name("title").iter().take(1) {
        o += &format!("title: {}\n", t.text());
    }
    o += "nav:\n";
    for nav in doc.find_all(|e| e.name == "header") {
        for a in nav.by_name("a") {
            o += &format!(
                "  {} -> {}{}\n",
                a.text(),
                a.attr("href").unwrap_or(""),
                if a.has_class("current") {
                    " (current)"
                } else {
                    ""
                }
            );
        }
    }
    o += "headings:\n";
    for h in doc.find_all(|e| matches!(e.name.as_str(), "h1" | "h2" | "h3")) {
        o += &format!("  {} {}\n", h.name, h.text());
    }
    o += "tables:\n";
    for t in doc.by_name("table") {
        let head: Vec<String> = t.by_name("th").iter().map(|th| th.text()).collect();
        let rows = t
            .by_name("tbody")
            .iter()
            .map(|b| b.by_name("tr").len())
            .sum::<usize>();
        o += &format!(
            "  table.{}: [{}] rows={rows}\n",
            t.classes().join("."),
            head.join(" | ")
        );
    }
    o += "classes:\n";
    o += &class_counts(
        &doc,
        &[
            "badge-", "card-", "verdict-", "step-", "pkt-", "level-", "from-",
        ],
    );
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for e in doc.all() {
        if let Some(id) = e.attr("id") {
            let prefix = id.split_once('-').map_or(id, |(p, _)| p);
            *ids.entry(prefix.to_string()).or_insert(0) += 1;
        }
    }
    o += "ids:\n";
    for (p, n) in ids {
        o += &format!("  {p}-* ×{n}\n");
    }
    for svg in doc.by_name("svg") {
        let lifelines = svg.find_all(|e| e.has_class("lifeline")).len();
        let arrows = svg.find_all(|e| e.has_class("arrow"));
        o += &format!("svg: lifelines={lifelines} arrows={}\n", arrows.len());
        o += &class_counts(svg, &["arrow-"]);
        for a in arrows {
            let label = a.find_all(|e| e.has_class("label"));
            let time = a.find_all(|e| e.has_class("time"));
            o += &format!(
                "  {} {} {}\n",
                time.first().map(|t| t.text()).unwrap_or_default(),
                label.first().map(|t| t.text()).unwrap_or_default(),
                a.classes().join(".")
            );
        }
    }
    for pre in doc.find_all(|e| e.name == "pre" && e.has_class("rfc")) {
        let marks = pre.find_all(|e| e.has_class("req"));
        let firsts: Vec<&&xml::Element> = marks.iter().filter(|m| m.attr("id").is_some()).collect();
        o += &format!(
            "rfc text: {} highlighted sentences in {} segments\n",
            firsts.len(),
            marks.len()
        );
        let mut by_class: BTreeMap<String, usize> = BTreeMap::new();
        for m in firsts {
            *by_class.entry(m.classes().join(".")).or_insert(0) += 1;
        }
        for (c, n) in by_class {
            o += &format!("  {c} ×{n}\n");
        }
        o += &format!(
            "  section anchors ×{}\n  page furniture ×{}\n",
            pre.find_all(|e| e.attr("id").is_some_and(|i| i.starts_with("sec-")))
                .len(),
            pre.find_all(|e| e.has_class("pg")).len()
        );
    }
    o
}
