//! The `rtmfp-conformance` command line: outputs, exit status, and one clear
//! error line for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmfp-conformance"))
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("conformance-cli-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str], out: &Path) -> Output {
    bin()
        .args(args)
        .arg("--quiet")
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// Exit 2 and a single stderr line containing `needle`.
fn one_error_line(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "stderr: {err}");
    assert!(err.contains(needle), "stderr: {err}");
}

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

#[test]
fn bad_arguments_give_one_line_and_exit_2() {
    let out = tmp("bad");
    one_error_line(&run(&["run", "--target", "bogus"], &out), "bogus");
    one_error_line(&run(&["run", "--inject", "nosuch"], &out), "nosuch");
    one_error_line(&run(&["run", "--liberty", "nosuch"], &out), "nosuch");
    one_error_line(
        &run(
            &["run", "--liberty", "all", "--target", "udp://127.0.0.1:9"],
            &out,
        ),
        "--liberty only applies to --target reference",
    );
    one_error_line(
        &run(&["run", "--expectations", "/nonexistent/x.yaml"], &out),
        "/nonexistent/x.yaml",
    );
    one_error_line(
        &run(&["run", "--target", "pcap:/nonexistent/x.pcap"], &out),
        "/nonexistent/x.pcap",
    );
    one_error_line(&run(&["run", "no.such.case"], &out), "no.such.case");
    one_error_line(&run(&["run", "--target", "udp://nohost"], &out), "nohost");
}

#[test]
fn a_bad_scenario_file_is_named_with_line_and_column() {
    let out = tmp("yaml");
    let dir = out.join("scenarios");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.yaml"),
        "id: x.bad\ntitle: t\nrfc: [\"7016 §2\"]\nrole: initiator\nsteps:\n  - connect: {}\n  - expect: {chunk: rhello, bogus_key: 1}\n",
    )
    .unwrap();
    let o = run(
        &["run", "--scenarios", dir.to_str().unwrap()],
        &out.join("report"),
    );
    // One line naming file:line:column, then the place with a caret.
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.lines().next().unwrap().contains("bad.yaml:7:"), "{err}");
}

#[test]
fn a_bad_expectations_file_is_named() {
    let out = tmp("expect");
    let f = out.join("expect.yaml");
    std::fs::write(
        &f,
        "implementation: x\nexpected:\n  - case: a\n    nonsense: 1\n",
    )
    .unwrap();
    let o = run(
        &["run", "--expectations", f.to_str().unwrap()],
        &out.join("report"),
    );
    // One line naming the file and place, then the line with a caret.
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let first = err.lines().next().unwrap();
    assert!(first.contains("expect.yaml:4:5:"), "{err}");
    assert!(first.contains("unknown field `nonsense`"), "{err}");
    assert!(err.contains("^^^^^^^^ here"), "{err}");
}

#[test]
fn a_run_writes_the_report_json_and_junit() {
    let out = tmp("ok");
    let o = run(&["run", "session.*"], &out);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in ["index.html", "results.json", "junit.xml"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let cases = r["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    assert!(
        cases
            .iter()
            .all(|c| c["id"].as_str().unwrap().starts_with("session."))
    );
    assert!(cases.iter().all(|c| c["outcome"] == "pass"));
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("<testsuite"), "{junit}");
}

#[test]
fn a_must_failure_exits_1_with_evidence() {
    let out = tmp("fail");
    let o = run(
        &[
            "run",
            "--inject",
            "wrong-mode",
            "session.responder-marks-mode-2",
        ],
        &out,
    );
    assert_eq!(o.status.code(), Some(1));
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let c = &r["cases"][0];
    assert_eq!(c["outcome"], "fail");
    assert!(
        c["rerun"].as_str().unwrap().contains("--inject wrong-mode"),
        "{}",
        c["rerun"]
    );
    let ev = &c["evidence"];
    assert!(!ev["packets"].as_array().unwrap().is_empty());
    for k in ["pcap", "keylog"] {
        let f = out.join(ev[k].as_str().unwrap());
        assert!(f.is_file(), "{k} {}", f.display());
    }
    // The evidence pcap decodes with its key log.
    let pcap = out.join(ev["pcap"].as_str().unwrap());
    let keys = out.join(ev["keylog"].as_str().unwrap());
    let c = rtmfp_conformance::capture_check::check_file(&pcap, Some(&keys)).unwrap();
    assert!(c.report.checked["decodes"] > 0);
    assert_eq!(c.report.findings_of("decodes").count(), 0);
    assert!(c.report.findings_of("modes").count() > 0);
}

#[test]
fn the_pcap_target_judges_a_vector() {
    let out = tmp("pcap");
    let v = vectors();
    let target = format!(
        "pcap:{}?keys={}",
        v.join("flash-echo.pcap").display(),
        v.join("flash-echo.keys").display()
    );
    let o = run(&["run", "--target", &target], &out);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let cases = r["cases"].as_array().unwrap();
    assert_eq!(cases.len(), rtmfp_conformance::invariants::INVARIANTS.len());
    assert!(
        cases
            .iter()
            .any(|c| c["id"] == "capture.acks" && c["outcome"] == "pass")
    );
}

#[test]
fn requirements_lists_the_catalogue() {
    let o = bin().args(["requirements", "--json"]).output().unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = v
        .as_array()
        .map_or_else(|| v["requirements"].as_array().unwrap().len(), Vec::len);
    assert_eq!(n, rtmfp_conformance::requirements::catalogue().len());
    let text = bin().arg("requirements").output().unwrap();
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(s.contains("coverage MUST/MUST NOT/SHALL/REQUIRED:"), "{s}");
}

#[test]
fn liberties_lists_each_with_its_rfc_sentence() {
    let o = bin().arg("liberties").output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for l in rtmfp_conformance::liberties::LIBERTIES {
        assert!(text.contains(l.name), "{text}");
        assert!(text.contains(l.rfc), "{text}");
        assert!(l.rfc.starts_with("7016 §"), "{}", l.rfc);
    }
}
