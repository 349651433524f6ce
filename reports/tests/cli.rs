//! The `rtmfp-reports` binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::temp_dir;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmfp-reports"))
}

fn fixture_json() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.json")
}

fn run(cmd: &mut Command) -> Output {
    cmd.env("NO_COLOR", "1").output().expect("runs")
}

#[test]
fn render_writes_the_site_and_prints_the_summary() {
    let out = temp_dir("cli-render");
    let o = run(bin()
        .arg("render")
        .arg(fixture_json())
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("observable MUST/MUST NOT/SHALL/REQUIRED: proven"));
    assert!(stdout.contains(&format!("report: {}", out.join("index.html").display())));
    assert!(out.join("index.html").exists());
    assert!(out.join("requirements.html").exists());
    assert!(
        out.join("cases/handshake.iikeying-retransmit.html")
            .exists()
    );
}

#[test]
fn junit_to_stdout_and_to_a_file() {
    let o = run(bin().arg("junit").arg(fixture_json()));
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(stdout.starts_with("<?xml"));

    let file = temp_dir("cli-junit").join("junit.xml");
    let o = run(bin()
        .arg("junit")
        .arg(fixture_json())
        .arg("--out")
        .arg(&file));
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).expect("written"), stdout);
}

/// One line on stderr naming the file, exit status 2.
fn assert_one_line_error(o: &Output, file: &Path) {
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(stderr.starts_with("rtmfp-reports: "), "{stderr}");
}

#[test]
fn missing_or_bad_json_is_one_clear_error() {
    let dir = temp_dir("cli-bad");
    let missing = dir.join("missing.json");
    for sub in ["render", "junit", "summary"] {
        let mut cmd = bin();
        cmd.arg(sub).arg(&missing);
        if sub == "render" {
            cmd.arg("--out").arg(dir.join("site"));
        }
        let o = run(&mut cmd);
        assert_one_line_error(&o, &missing);
        assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));
    }

    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"target\": 1}").expect("write");
    let o = run(bin().arg("junit").arg(&bad));
    assert_one_line_error(&o, &bad);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a valid results file"));

    let not_json = dir.join("not.json");
    std::fs::write(&not_json, "<html>").expect("write");
    let o = run(bin()
        .arg("render")
        .arg(&not_json)
        .arg("--out")
        .arg(dir.join("site")));
    assert_one_line_error(&o, &not_json);
    assert!(!dir.join("site").exists(), "nothing written for bad input");
}

#[test]
fn summary_subcommand() {
    let o = run(bin()
        .arg("summary")
        .arg(fixture_json())
        .arg("--color")
        .arg("never"));
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("FAIL handshake.iikeying-retransmit"));
    assert!(!stdout.contains('\x1b'));
}
