//! `rtmfp-bench-loopback`: real loopback UDP throughput and CPU per byte of
//! `rtmfp connect` -> `rtmfp serve --sink` in both profiles, and (with
//! `--rtmfp-cpp DIR`, a locally built rtmfp-cpp `test/` directory, never part of
//! this repository) rtmfp-cpp's `t2` -> `server` side by side. Appends nothing:
//! writes `loopback.json` beside criterion's estimates for the report command.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use rtmfp_benches::report::Loopback;

#[derive(Parser, Debug)]
#[command(about = "Measure loopback UDP throughput of rtmfp connect -> rtmfp serve")]
struct Args {
    /// The `rtmfp` executable (default: target/release/rtmfp, else target/debug/rtmfp).
    #[arg(long, value_name = "PATH")]
    rtmfp: Option<PathBuf>,
    /// Bytes to send per run.
    #[arg(long, default_value_t = 200 << 20)]
    bytes: u64,
    /// UDP port on 127.0.0.1.
    #[arg(long, default_value_t = 47_311)]
    port: u16,
    /// A built rtmfp-cpp test/ directory: also measure `t2` -> `server`.
    #[arg(long, value_name = "DIR")]
    rtmfp_cpp: Option<PathBuf>,
    /// How long to let `t2` send.
    #[arg(long, default_value_t = 12.0)]
    cpp_seconds: f64,
    /// Output file (default: criterion's directory/loopback.json).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// CPU (user + system) used by waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn default_rtmfp() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("target");
    let release = root.join("release/rtmfp");
    if release.is_file() {
        release
    } else {
        root.join("debug/rtmfp")
    }
}

fn run_rtmfp(exe: &Path, profile: &str, bytes: u64, port: u16) -> Result<Loopback, String> {
    let addr = format!("127.0.0.1:{port}");
    let cpu0 = children_cpu();
    let mut serve = Command::new(exe)
        .args(["serve", "--bind", &addr, "--sink", "--profile", profile])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let out = Command::new(exe)
        .args([
            "connect",
            &addr,
            "--profile",
            profile,
            "--json",
            "--timeout",
            "120",
        ])
        .args(["--bytes", &bytes.to_string()])
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    let _ = serve.kill();
    let _ = serve.wait();
    if !out.status.success() {
        return Err(format!(
            "rtmfp connect ({profile}) failed: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    let cpu = (children_cpu() - cpu0).as_secs_f64();
    let mb = bytes as f64 / 1e6;
    Ok(Loopback {
        name: format!("rtmfp connect -> rtmfp serve --sink ({profile}, one flow)"),
        bytes,
        seconds,
        mb_per_s: mb / seconds,
        cpu_ms_per_mb: Some(cpu * 1e3 / mb),
    })
}

/// rtmfp-cpp's `t2` -> `server` (plain profile): bytes counted from the server's
/// `onMessage ... size:` lines between the first and the last one.
fn run_cpp(dir: &Path, seconds: f64, port: u16) -> Result<Loopback, String> {
    let mut server = Command::new("stdbuf")
        .args(["-oL"])
        .arg(dir.join("server"))
        .args(["-4", "-p", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", dir.join("server").display()))?;
    let stdout = server.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut first, mut last, mut bytes) = (None, None, 0u64);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("onMessage") {
                let size = line
                    .split("size:")
                    .nth(1)
                    .and_then(|s| s.split_whitespace().next())
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0);
                let now = Instant::now();
                if first.is_none() {
                    first = Some(now);
                } else {
                    bytes += size; // the first message marks the start
                }
                last = Some(now);
            }
        }
        (first, last, bytes)
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut t2 = Command::new(dir.join("t2"))
        .args(["-4", "server", "127.0.0.1", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", dir.join("t2").display()))?;
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let _ = t2.kill();
    let _ = t2.wait();
    let _ = server.kill();
    let _ = server.wait();
    let (first, last, bytes) = reader.join().map_err(|_| "reader thread panicked")?;
    let (Some(a), Some(b)) = (first, last) else {
        return Err("rtmfp-cpp server received no message".into());
    };
    let secs = (b - a).as_secs_f64().max(1e-9);
    let mb = bytes as f64 / 1e6;
    Ok(Loopback {
        name: "rtmfp-cpp t2 -> server (plain, one flow; after its 3 s zero window)".into(),
        bytes,
        seconds: secs,
        mb_per_s: mb / secs,
        // Not measured: the processes ran longer than the counted interval.
        cpu_ms_per_mb: None,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let exe = args.rtmfp.clone().unwrap_or_else(default_rtmfp);
    let mut results = Vec::new();
    for (i, profile) in ["plain", "flash"].iter().enumerate() {
        match run_rtmfp(&exe, profile, args.bytes, args.port + i as u16) {
            Ok(l) => {
                println!(
                    "{}: {:.1} MB/s, {:.2} CPU ms/MB",
                    l.name,
                    l.mb_per_s,
                    l.cpu_ms_per_mb.unwrap_or(0.0)
                );
                results.push(l);
            }
            Err(e) => {
                eprintln!("rtmfp-bench-loopback: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(dir) = &args.rtmfp_cpp {
        match run_cpp(dir, args.cpp_seconds, args.port + 2) {
            Ok(l) => {
                println!("{}: {:.1} MB/s", l.name, l.mb_per_s);
                results.push(l);
            }
            Err(e) => {
                eprintln!("rtmfp-bench-loopback: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let out = args
        .out
        .unwrap_or_else(|| rtmfp_benches::machine::criterion_dir().join("loopback.json"));
    if let Some(d) = out.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    match std::fs::write(&out, serde_json::to_string_pretty(&results).unwrap()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtmfp-bench-loopback: {}: {e}", out.display());
            ExitCode::from(2)
        }
    }
}
