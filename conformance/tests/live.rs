//! Live-run options of `rtmfp-conformance run`: slow cases left out, listen
//! mode's initiator command (an initiator that never comes makes a case
//! unsupported, not failed), declarations only for live stacks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rtmfp_reports::model::{Outcome, Results};

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("conformance-live-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmfp-conformance"))
        .arg("run")
        .args(args)
        .arg("--quiet")
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn results(out: &Path) -> Results {
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

/// A UDP port nobody answers on (bound, then released).
fn silent_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A listen-mode run of `cases` whose initiator command runs (it appends the
/// address it was given to a marker file, one line per start) but never
/// initiates: the results and the marker's lines.
fn listen_without_initiator(name: &str, cases: &[&str]) -> (Results, String) {
    let out = tmp(name);
    let marker = out.join("started");
    let cmd = format!("echo {{addr}} >> {}", marker.display());
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--initiator-cmd",
        &cmd,
        // The preflight (its own test) would stop the run first.
        "--no-preflight",
    ];
    args.extend_from_slice(cases);
    let o = run(&args, &out);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    (
        results(&out),
        std::fs::read_to_string(&marker).unwrap_or_default(),
    )
}

#[test]
fn an_initiator_that_never_comes_makes_the_case_unsupported_not_failed() {
    let (r, given) = listen_without_initiator("never", &["session.initiator-marks-mode-1"]);
    let c = &r.cases[0];
    assert_eq!(c.outcome, Outcome::Unsupported, "{:?}", c.reason);
    let why = c.reason.as_deref().unwrap_or_default();
    assert!(why.contains("no session within 5 s"), "{why}");
    // It was started with the tester's listening address for that case.
    assert!(given.trim().starts_with("127.0.0.1:"), "{given}");
    assert_ne!(given.trim(), "127.0.0.1:0");
}

#[test]
fn slow_cases_are_left_out_of_a_live_run_unless_asked() {
    let out = tmp("slow");
    let port = silent_port();
    let target = format!("udp://127.0.0.1:{port}");
    // `session.farclose-*`: one slow case (19 s linger) and one that is not.
    let o = run(
        &["--target", &target, "--no-preflight", "session.farclose-*"],
        &out,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("1 case(s) tagged slow left out"),
        "{stdout}"
    );
    let r = results(&out);
    let slow = r
        .cases
        .iter()
        .find(|c| c.id == "session.farclose-linger-expires")
        .unwrap();
    assert_eq!(slow.outcome, Outcome::Skipped);
    assert!(
        slow.reason
            .as_deref()
            .is_some_and(|r| r.contains("--include-slow")),
        "{:?}",
        slow.reason
    );
    // The other one ran (and found nobody).
    let other = r
        .cases
        .iter()
        .find(|c| c.id == "session.farclose-linger-close-ack")
        .unwrap();
    assert_ne!(other.outcome, Outcome::Skipped);
}

#[test]
fn declarations_and_jobs_are_checked() {
    let out = tmp("decl");
    let o = run(&["--target-keepalive", "10s"], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("live stack"));
    let o = run(
        &[
            "--target",
            "udp://127.0.0.1:9",
            "--target-keepalive",
            "soon",
        ],
        &out,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("soon"));
    let o = run(
        &[
            "--target",
            "udp://127.0.0.1:9",
            "--bind",
            "127.0.0.1:40999",
            "--jobs",
            "3",
        ],
        &out,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--jobs 3"));
    let o = run(
        &[
            "--listen",
            "127.0.0.1:0",
            "--initiator-cmd",
            "fcclient 127.0.0.1 1935",
        ],
        &out,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("{addr}"));
}

/// A case that relates two openings by the target (e.g. their IHello tags
/// differ) cannot be judged when each opening is a new initiator process:
/// two processes are two initiators (RFC 7016 §3.5.1.1.1). It is
/// unsupported with that reason, and the command is never started.
#[test]
fn openings_of_different_initiator_processes_are_not_compared() {
    let (r, started) = listen_without_initiator(
        "openings",
        &[
            "handshake.ihello-tag",
            // One opening, then a wait for the same initiation: still judged.
            "handshake.redirect-followed",
        ],
    );
    let tag = r
        .cases
        .iter()
        .find(|c| c.id == "handshake.ihello-tag")
        .unwrap();
    assert_eq!(tag.outcome, Outcome::Unsupported, "{:?}", tag.reason);
    let why = tag.reason.as_deref().unwrap_or_default();
    assert!(
        why.contains("relates 2 openings") && why.contains("two processes are two initiators"),
        "{why}"
    );
    // Only the case with one opening started the command, once.
    assert_eq!(started.lines().count(), 1, "{started}");
    let other = r
        .cases
        .iter()
        .find(|c| c.id == "handshake.redirect-followed")
        .unwrap();
    assert!(
        !other
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("openings"),
        "{:?}",
        other.reason
    );
}
