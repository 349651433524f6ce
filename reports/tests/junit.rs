//! JUnit XML: the whole document as a snapshot, well-formedness and escaping.

mod common;

use common::{fixture, xml};
use rtmfp_reports::junit_xml;

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!("junit", junit_xml(&fixture()));
}

#[test]
fn junit_is_well_formed_and_counts_right() {
    let text = junit_xml(&fixture());
    let doc = xml::parse(&text).expect("well-formed XML");
    let suites = doc.by_name("testsuite");
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.attr("name"), Some("udp://127.0.0.1:1935"));
    assert_eq!(suite.attr("tests"), Some("13"));
    assert_eq!(suite.attr("failures"), Some("2"));
    assert_eq!(suite.attr("skipped"), Some("3"));
    let cases = suite.by_name("testcase");
    assert_eq!(cases.len(), 13);
    assert_eq!(suite.by_name("failure").len(), 2);
    assert_eq!(suite.by_name("skipped").len(), 3);
    // classname: the first tag, or "rtmfp" for a case without tags.
    let class_of = |name: &str| {
        cases
            .iter()
            .find(|c| c.attr("name") == Some(name))
            .and_then(|c| c.attr("classname"))
            .map(String::from)
    };
    assert_eq!(class_of("flow.ack-delay").as_deref(), Some("flow"));
    assert_eq!(class_of("capture.checksum").as_deref(), Some("rtmfp"));
    // Warnings go to system-out.
    let warn = cases
        .iter()
        .find(|c| c.attr("name") == Some("flow.ack-delay"))
        .expect("case");
    assert!(warn.by_name("system-out")[0].text().starts_with("WARNING"));
    assert!(warn.by_name("failure").is_empty());
}

#[test]
fn junit_escapes_fixture_text() {
    let f = fixture();
    let text = junit_xml(&f);
    let failing = f
        .cases
        .iter()
        .find(|c| c.id == "handshake.iikeying-retransmit")
        .expect("case");
    let reason = failing.reason.as_deref().expect("reason");
    assert!(reason.contains('<') && reason.contains('&'));
    assert!(!text.contains("<2>") && text.contains("&lt;2&gt;"));
    assert!(text.contains("cookie &quot;echo&quot; &amp; &lt;tag&gt;"));
    // And it reads back as the original text.
    let doc = xml::parse(&text).expect("well-formed");
    let failure = doc
        .by_name("failure")
        .into_iter()
        .find(|e| e.attr("message") == Some(reason))
        .expect("the failure message is the reason");
    let mut body = String::new();
    failure.raw_text(&mut body);
    assert!(body.starts_with(reason));
    assert!(body.contains("actual:   RIKeying responderSessionID=0b0c0d0e (sessions: 2 > 1)"));
}

#[test]
fn junit_drops_characters_xml_forbids() {
    let mut f = fixture();
    f.cases[0].outcome = rtmfp_reports::model::Outcome::Fail;
    f.cases[0].reason = Some("bad\u{1}byte\u{0} and a\nsecond line".into());
    let text = junit_xml(&f);
    let doc = xml::parse(&text).expect("still well-formed");
    let msg = doc.by_name("failure")[0].attr("message").map(String::from);
    assert_eq!(
        msg.as_deref(),
        Some("bad\u{fffd}byte\u{fffd} and a second line")
    );
}
