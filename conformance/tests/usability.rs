//! The tool as a new user meets it (issue 14): a dead target is diagnosed fast
//! with its own exit status, Ctrl-C keeps the report, an IPv6 target works
//! without `--bind`, a closed pipe is not a panic, and the binary runs its
//! built-in scenarios from anywhere.

use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rtmfp::crypto::plain::PlainProfile;
use rtmfp::endpoint::Endpoint;
use rtmfp::session::config::EndpointConfig;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmfp-conformance"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("conformance-usability-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn results(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap()
}

/// A plain-profile RTMFP responder (identity "server") on `bind`, driven over
/// real UDP until `stop` is set.
fn responder(bind: &str) -> (SocketAddr, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let sock = UdpSocket::bind(bind).unwrap();
    let addr = sock.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let t = std::thread::spawn(move || {
        let origin = Instant::now();
        let clock = || rtmfp::time::Instant::from_micros(origin.elapsed().as_micros() as u64);
        let mut ep = Endpoint::new(
            EndpointConfig::default(),
            Arc::new(PlainProfile::new(b"server".to_vec())),
            7,
        );
        ep.set_local_addresses(vec![addr]);
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let mut buf = vec![0u8; 65_536];
        while !s2.load(Ordering::SeqCst) {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                ep.handle_datagram(clock(), addr, from, &buf[..n]);
            }
            if ep.next_timeout().is_some_and(|t| t <= clock()) {
                ep.handle_timeout(clock());
            }
            while ep.poll_event().is_some() {}
            while let Some(t) = ep.poll_transmit() {
                let _ = sock.send_to(&t.data, t.dst);
            }
        }
    });
    (addr, stop, t)
}

#[test]
fn a_target_that_refuses_is_diagnosed_within_seconds_with_exit_3() {
    // A port just freed: nothing listens there, the kernel answers ICMP.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = tmp("refused");
    let t0 = Instant::now();
    let o = bin()
        .args([
            "run",
            "--quiet",
            "--target",
            &format!("udp://{port}"),
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("ICMP port unreachable"), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // Nothing judged: no report claims anything.
    assert!(!out.join("results.json").exists());
}

#[test]
fn a_target_that_stays_silent_is_diagnosed_within_ten_seconds() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let out = tmp("silent");
    let t0 = Instant::now();
    let o = bin()
        .args([
            "run",
            "--quiet",
            "--target",
            &format!("udp://{addr}"),
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("nothing seen at all"), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    drop(silent);
}

#[test]
fn listen_mode_without_an_initiator_is_diagnosed() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = tmp("listen");
    let t0 = Instant::now();
    let o = bin()
        .args(["run", "--quiet", "--listen", &port.to_string(), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("no initiator reached"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

#[test]
fn an_ipv6_target_works_without_bind() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let (addr, stop, t) = responder("[::1]:0");
    let out = tmp("v6");
    let o = bin()
        .args([
            "run",
            "--quiet",
            "--profile",
            "plain",
            "--epd",
            "server",
            "--no-echo",
            "--target",
            &format!("udp://{addr}"),
            "handshake.rhello-echoes-tag",
            "session.ping-reply-echoes-message",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    t.join().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let r = results(&out);
    let cases = r["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    assert!(cases.iter().all(|c| c["outcome"] == "pass"), "{cases:?}");
    // The exchange went over IPv6 loopback.
    let src = cases[0]["evidence"]["packets"][0]["src"].as_str().unwrap();
    assert!(src.starts_with("[::1]:"), "{src}");
}

#[test]
fn ctrl_c_stops_the_run_and_keeps_a_report_marked_interrupted() {
    interrupted_by("-INT");
}

#[test]
fn sigterm_stops_the_run_like_ctrl_c() {
    interrupted_by("-TERM");
}

#[test]
fn diff_says_what_got_worse() {
    let dir = tmp("diff");
    let (good, bad) = (dir.join("good"), dir.join("bad"));
    for (out, inject) in [(&good, None), (&bad, Some("wrong-mode"))] {
        let mut c = bin();
        c.args(["run", "--quiet", "session.*", "--out"]).arg(out);
        if let Some(f) = inject {
            c.args(["--inject", f]);
        }
        c.output().unwrap();
    }
    let o = bin()
        .arg("diff")
        .arg(&good)
        .arg(bad.join("results.json"))
        .arg("--out")
        .arg(&bad)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("0 better") && text.contains("pass -> fail"),
        "{text}"
    );
    assert!(bad.join("diff.html").is_file());
    let back = bin().arg("diff").arg(&bad).arg(&good).output().unwrap();
    assert_eq!(back.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&back.stdout).contains("0 worse"));
}

fn interrupted_by(signal: &str) {
    // Listen mode with no initiator: each responder case waits for one.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = tmp(&format!("interrupt{signal}"));
    let mut child = bin()
        .args([
            "run",
            "--quiet",
            "--no-preflight",
            "--no-echo",
            "--listen",
            &port.to_string(),
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let t0 = Instant::now();
    // SIGINT, as Ctrl-C sends.
    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(status.code(), Some(130));
    let r = results(&out);
    let why = r["interrupted"].as_str().unwrap();
    assert!(why.starts_with("interrupted after"), "{why}");
    assert!(
        std::fs::read_to_string(out.join("index.html"))
            .unwrap()
            .contains("Interrupted")
    );
    assert!(
        std::fs::read_to_string(out.join("junit.xml"))
            .unwrap()
            .contains("name=\"interrupted\"")
    );
}

#[test]
fn list_into_a_closed_pipe_exits_quietly() {
    let mut child = bin()
        .arg("list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take()); // like `| head -c 16`
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn the_binary_moved_elsewhere_runs_its_built_in_scenarios() {
    let dir = tmp("moved");
    let exe = dir.join("rtmfp-conformance");
    std::fs::copy(env!("CARGO_BIN_EXE_rtmfp-conformance"), &exe).unwrap();
    let out = dir.join("report");
    // From a directory with no checkout; the replay case reads a built-in capture.
    let o = Command::new(&exe)
        .current_dir(&dir)
        .args(["run", "--quiet", "handshake.*", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let r = results(&out);
    let cases = r["cases"].as_array().unwrap();
    assert!(cases.len() > 5);
    assert!(
        cases
            .iter()
            .any(|c| c["id"] == "handshake.vector-replay" && c["outcome"] == "pass"),
        "{cases:?}"
    );
    // The re-run command is the one typed: this binary, its options, no selection.
    let cmd = r["command"].as_str().unwrap();
    assert!(cmd.starts_with(exe.to_str().unwrap()), "{cmd}");
    assert!(
        cmd.contains("--quiet") && !cmd.contains("handshake.*"),
        "{cmd}"
    );
    assert!(
        cases[0]["rerun"]
            .as_str()
            .unwrap()
            .ends_with(&format!("'{}'", cases[0]["id"].as_str().unwrap()))
    );
}

#[test]
fn a_scenario_error_points_at_the_place_with_a_caret_and_a_suggestion() {
    let dir = tmp("caret");
    let sc = dir.join("scenarios");
    std::fs::create_dir_all(&sc).unwrap();
    std::fs::write(
        sc.join("bad.yaml"),
        "id: x.bad\ntitle: t\nrfc: [\"7016 §2\"]\nrole: initiator\nsteps:\n  - connect: {}\n  - expect: {chunk: rhelo}\n",
    )
    .unwrap();
    let o = bin()
        .args(["list", "--color", "never", "--scenarios"])
        .arg(&sc)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let first = err.lines().next().unwrap();
    assert!(first.contains("bad.yaml:7:21:"), "{err}");
    assert!(first.contains("did you mean `rhello`?"), "{err}");
    assert!(err.contains("  - expect: {chunk: rhelo}"), "{err}");
    assert!(err.contains("^^^^^"), "{err}");
    // No colour codes when told so.
    assert!(!err.contains('\u{1b}'), "{err}");
    // A directory that does not exist is not `path:0:0`.
    let o = bin()
        .args(["list", "--scenarios", "/nonexistent/dir"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(!err.contains(":0:0"), "{err}");
    assert!(err.contains("no such directory"), "{err}");
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_definition() {
    let o = bin().args(["completions", "bash"]).output().unwrap();
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("rtmfp-conformance") && s.contains("--no-preflight"),
        "{s}"
    );
    let dir = tmp("man");
    let o = bin().arg("man").arg("--out").arg(&dir).output().unwrap();
    assert!(o.status.success());
    let run = std::fs::read_to_string(dir.join("rtmfp-conformance-run.1")).unwrap();
    assert!(run.contains(".TH") && run.contains("preflight"), "{run}");
}
