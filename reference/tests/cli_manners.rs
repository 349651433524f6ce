//! The `rtmfp` command line as a user meets it: host names for `connect`, a
//! missing port named, absurd numbers refused, a closed pipe, completions and
//! man pages, colour off.

use std::io::Read;
use std::process::{Command, Stdio};

fn rtmfp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmfp"))
}

#[test]
fn connect_takes_host_names_and_names_a_missing_port() {
    let o = rtmfp().args(["connect", "localhost"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("port is missing"), "{err}");
    // A name resolves: nothing listens on port 9, so it fails to open, not to parse.
    let o = rtmfp()
        .args(["connect", "localhost:9", "--timeout", "0.5", "--bytes", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("invalid value"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
}

/// Numbers of seconds no `Duration` holds (or a zero period) are one error
/// line naming the option, exit status 2, not a panic.
#[test]
fn absurd_durations_are_refused() {
    for (option, value) in [
        ("--duration", "1e300"),
        ("--duration", "inf"),
        ("--duration", "-1"),
        ("--stats", "0"),
        ("--stats", "NaN"),
        ("--burst-limit", "0"),
    ] {
        let o = rtmfp()
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                &format!("{option}={value}"),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{option} {value}: {err}");
        assert!(
            err.contains(option) && !err.contains("panicked"),
            "{option} {value}: {err}"
        );
    }
}

#[test]
fn dump_into_a_closed_pipe_exits_quietly() {
    let v = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    let mut child = rtmfp()
        .arg("dump")
        .arg(v.join("flash-echo.pcap"))
        .arg("--keys")
        .arg(v.join("flash-echo.keys"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 8];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(status.code().is_some_and(|c| c <= 1), "{status:?} {err}");
}

#[test]
fn completions_man_pages_and_help_examples() {
    let o = rtmfp().args(["completions", "zsh"]).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("#compdef rtmfp"));
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rtmfp-man");
    let o = rtmfp().arg("man").arg("--out").arg(&dir).output().unwrap();
    assert!(o.status.success());
    assert!(dir.join("rtmfp-connect.1").is_file());
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["dump", "serve", "connect"] {
        let o = rtmfp().args([sub, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(help.contains("Examples:"), "{sub}: {help}");
    }
    let top = rtmfp().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&top.stdout);
    assert!(
        help.contains("RUST_LOG") && help.contains("NO_COLOR"),
        "{help}"
    );
}
