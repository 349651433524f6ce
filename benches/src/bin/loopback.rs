//! `rtmfp-bench-loopback`: real loopback UDP throughput and CPU per byte of
//! `rtmfp connect` -> `rtmfp serve --sink` in both profiles (from their `--json`
//! lines: bytes/s at the receiver, CPU of both ends), and (with `--rtmfp-cpp
//! DIR`, a locally built rtmfp-cpp `test/` directory, never part of this
//! repository) rtmfp-cpp's `t2` -> `server`, `rtmfp connect` -> `server` and
//! `t2` -> `rtmfp serve` side by side. Appends nothing:
//! writes `loopback.json` beside criterion's estimates for the report command.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use rtmfp_benches::report::Loopback;
use serde_json::Value;

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
    /// Rounds of every pairing; each pairing's median is kept.
    #[arg(long, default_value_t = 1)]
    runs: u32,
    /// Output file (default: criterion's directory/loopback.json).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Sends SIGTERM (an orderly stop: `rtmfp serve` then prints its `--json`
/// lines for flows still open) and waits.
fn terminate(child: &mut Child) {
    // SAFETY: kill(2) on the id of a child we spawned and have not waited for.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
}

/// The last JSON object line of a program's output.
fn json_line(out: &str, want: impl Fn(&Value) -> bool) -> Option<Value> {
    out.lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| want(v))
        .last()
}

/// CPU time (user + system, seconds) a live process has used so far, from
/// `/proc/PID/stat` (fields 14 and 15, in clock ticks); None once it is gone
/// or where there is no procfs.
fn proc_cpu(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

fn cpu_of(v: &Value) -> f64 {
    v["cpu_user_s"].as_f64().unwrap_or(0.0) + v["cpu_sys_s"].as_f64().unwrap_or(0.0)
}

/// A `rtmfp serve --sink --json` on 127.0.0.1:port.
fn spawn_serve(exe: &Path, profile: &str, port: u16, extra: &[&str]) -> Result<Child, String> {
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(exe)
        .args([
            "serve",
            "--bind",
            &addr,
            "--sink",
            "--json",
            "--profile",
            profile,
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(child)
}

/// Stops `rtmfp serve` and returns its per-flow line (received bytes, seconds
/// from the first to the last message, CPU time of the process).
fn serve_result(mut serve: Child) -> Result<Value, String> {
    terminate(&mut serve);
    let mut out = String::new();
    if let Some(mut o) = serve.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    json_line(&out, |v| v["event"].is_string()).ok_or_else(|| "rtmfp serve received no flow".into())
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

/// `rtmfp connect` to 127.0.0.1:port; its `--json` line.
fn connect(
    exe: &Path,
    profile: &str,
    bytes: u64,
    port: u16,
    timeout: f64,
    extra: &[&str],
) -> Result<Value, String> {
    let out = Command::new(exe)
        .args([
            "connect",
            &format!("127.0.0.1:{port}"),
            "--profile",
            profile,
            "--json",
        ])
        .args([
            "--timeout",
            &timeout.to_string(),
            "--bytes",
            &bytes.to_string(),
        ])
        .args(extra)
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    json_line(&stdout, |v| v["ok"].is_boolean())
        .ok_or_else(|| format!("rtmfp connect ({profile}) printed no summary: {stdout}"))
}

/// `rtmfp connect` -> `rtmfp serve --sink`: throughput at the receiver (first
/// to last message), CPU of both processes per MB. `extra` goes to both
/// (e.g. `--hmac on --sseq on`), `label` names the variant.
fn run_rtmfp(
    exe: &Path,
    profile: &str,
    extra: &[&str],
    label: &str,
    bytes: u64,
    port: u16,
) -> Result<Loopback, String> {
    let serve = spawn_serve(exe, profile, port, extra)?;
    let c = connect(exe, profile, bytes, port, 120.0, extra);
    let r = serve_result(serve)?;
    let c = c?;
    if c["ok"] != Value::Bool(true) {
        return Err(format!("rtmfp connect ({profile}) failed: {c}"));
    }
    let received = r["bytes"].as_u64().unwrap_or(0);
    let seconds = r["seconds"].as_f64().unwrap_or(0.0).max(1e-9);
    let mb = received as f64 / 1e6;
    println!(
        "  ({label}: {} retransmissions; CPU sender {:.2} s, receiver {:.2} s)",
        c["retransmissions"],
        cpu_of(&c),
        cpu_of(&r)
    );
    Ok(Loopback {
        name: format!("rtmfp connect -> rtmfp serve --sink ({label}, one flow)"),
        bytes: received,
        seconds,
        mb_per_s: mb / seconds,
        cpu_ms_per_mb: Some((cpu_of(&c) + cpu_of(&r)) * 1e3 / mb),
    })
}

/// rtmfp-cpp's `server` on port: counts the bytes of its `onMessage ... size:`
/// lines between the first and the last one (the first marks the start).
fn cpp_server(dir: &Path, port: u16) -> Result<(Child, CppCount), String> {
    let mut server = Command::new("stdbuf")
        .args(["-oL"])
        .arg(dir.join("server"))
        .args(["-4", "-p", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", dir.join("server").display()))?;
    let stdout = server.stdout.take().unwrap();
    let pid = server.id();
    let reader = std::thread::spawn(move || {
        let (mut first, mut last, mut bytes) = (None, None, 0u64);
        let mut cpu_at_first = None;
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
                    cpu_at_first = proc_cpu(pid);
                } else {
                    bytes += size;
                }
                last = Some(now);
            }
        }
        Counted {
            first,
            last,
            bytes,
            cpu_at_first,
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    Ok((server, reader))
}

/// What the reader of rtmfp-cpp `server`'s output counted: the first and last
/// message, the bytes after the first, the server's CPU time at the first.
struct Counted {
    first: Option<Instant>,
    last: Option<Instant>,
    bytes: u64,
    cpu_at_first: Option<f64>,
}

type CppCount = std::thread::JoinHandle<Counted>;

/// Stops rtmfp-cpp's `server` and computes the throughput it saw. CPU per MB
/// is the server's CPU from its first message to its end (it idles after the
/// last) plus `sender_cpu`, the sender's whole CPU time (its handshake and the
/// server's 3 s zero window cost next to nothing).
/// Ends a peer process (on an error path: none is left behind).
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn cpp_result(
    name: String,
    mut server: Child,
    reader: CppCount,
    sender_cpu: Option<f64>,
) -> Result<Loopback, String> {
    let cpu_at_end = proc_cpu(server.id());
    stop(&mut server);
    let c = reader.join().map_err(|_| "reader thread panicked")?;
    let (Some(a), Some(b)) = (c.first, c.last) else {
        return Err("rtmfp-cpp server received no message".into());
    };
    let secs = (b - a).as_secs_f64().max(1e-9);
    let mb = c.bytes as f64 / 1e6;
    let server_cpu = cpu_at_end.zip(c.cpu_at_first).map(|(e, f)| e - f);
    Ok(Loopback {
        name,
        bytes: c.bytes,
        seconds: secs,
        mb_per_s: mb / secs,
        cpu_ms_per_mb: server_cpu
            .zip(sender_cpu)
            .map(|(s, t)| (s + t) * 1e3 / mb.max(1e-9)),
    })
}

/// `rtmfp connect` -> rtmfp-cpp `server` (plain; after its 3 s zero window),
/// with the defaults (RFC 7016 §3.5.2.3 burst avoidance lifted below 4.5 ms
/// SRTT, as rtmfp-cpp's own sender) or with six packets between acks on every
/// path (`--burst-min-srtt 0`).
fn run_rtmfp_to_cpp(
    exe: &Path,
    dir: &Path,
    bytes: u64,
    seconds: f64,
    port: u16,
    burst_always: bool,
) -> Result<Loopback, String> {
    let (mut server, reader) = cpp_server(dir, port)?;
    // It sends until done or `seconds` (plus the server's 3 s zero window) pass.
    let extra: &[&str] = if burst_always {
        &["--burst-min-srtt", "0"]
    } else {
        &[]
    };
    let c = connect(exe, "plain", bytes, port, seconds + 3.0, extra)
        .inspect_err(|_| stop(&mut server))?;
    let what = if burst_always {
        ", --burst-min-srtt 0"
    } else {
        ""
    };
    println!(
        "  (rtmfp connect{what} -> rtmfp-cpp server: {} retransmissions; CPU sender {:.2} s)",
        c["retransmissions"],
        cpu_of(&c)
    );
    cpp_result(
        format!(
            "rtmfp connect{what} -> rtmfp-cpp server (plain, one flow; after its 3 s zero window)"
        ),
        server,
        reader,
        Some(cpu_of(&c)),
    )
}

/// Runs rtmfp-cpp's `t2` against 127.0.0.1:port for `seconds`, then kills it;
/// the CPU time it used.
fn run_t2(dir: &Path, seconds: f64, port: u16) -> Result<Option<f64>, String> {
    let mut t2 = Command::new(dir.join("t2"))
        .args(["-4", "server", "127.0.0.1", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", dir.join("t2").display()))?;
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let cpu = proc_cpu(t2.id());
    let _ = t2.kill();
    let _ = t2.wait();
    Ok(cpu)
}

/// rtmfp-cpp `t2` -> `rtmfp serve --sink` (plain) for `seconds`.
fn run_cpp_to_rtmfp(exe: &Path, dir: &Path, seconds: f64, port: u16) -> Result<Loopback, String> {
    let serve = spawn_serve(exe, "plain", port, &[])?;
    let t2_cpu = run_t2(dir, seconds, port);
    let r = serve_result(serve)?;
    let t2_cpu = t2_cpu?;
    let received = r["bytes"].as_u64().unwrap_or(0);
    let secs = r["seconds"].as_f64().unwrap_or(0.0).max(1e-9);
    let mb = received as f64 / 1e6;
    Ok(Loopback {
        name: "rtmfp-cpp t2 -> rtmfp serve --sink (plain, one flow)".into(),
        bytes: received,
        seconds: secs,
        mb_per_s: mb / secs,
        cpu_ms_per_mb: t2_cpu.map(|t| (t + cpu_of(&r)) * 1e3 / mb.max(1e-9)),
    })
}

/// rtmfp-cpp's `t2` -> `server` (plain profile), for `seconds`.
fn run_cpp(dir: &Path, seconds: f64, port: u16) -> Result<Loopback, String> {
    let (mut server, reader) = cpp_server(dir, port)?;
    let t2_cpu = run_t2(dir, seconds, port).inspect_err(|_| stop(&mut server))?;
    cpp_result(
        "rtmfp-cpp t2 -> server (plain, one flow; after its 3 s zero window)".into(),
        server,
        reader,
        t2_cpu,
    )
}

/// The median of one pairing's runs, by throughput (its CPU per MB with it).
fn median(mut runs: Vec<Loopback>) -> Loopback {
    runs.sort_by(|a, b| a.mb_per_s.total_cmp(&b.mb_per_s));
    runs.swap_remove(runs.len() / 2)
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.runs == 0 {
        eprintln!("rtmfp-bench-loopback: --runs must be at least 1");
        return ExitCode::from(2);
    }
    let exe = args.rtmfp.clone().unwrap_or_else(default_rtmfp);
    let (bytes, port, s) = (args.bytes, args.port, args.cpp_seconds);
    let hmac: &[&str] = &["--hmac", "on", "--sseq", "on"];
    // Each pairing on its own port (a closed socket's port is not reused at once).
    let mut pairings: Vec<Box<dyn Fn() -> Result<Loopback, String> + '_>> = vec![
        Box::new(|| run_rtmfp(&exe, "plain", &[], "plain", bytes, port)),
        Box::new(|| run_rtmfp(&exe, "flash", &[], "flash", bytes, port + 1)),
        Box::new(|| run_rtmfp(&exe, "flash", hmac, "flash, HMAC and SSEQ", bytes, port + 6)),
    ];
    if let Some(dir) = &args.rtmfp_cpp {
        let exe = &exe;
        pairings.push(Box::new(move || run_cpp(dir, s, port + 2)));
        pairings.push(Box::new(move || {
            run_rtmfp_to_cpp(exe, dir, bytes, s, port + 3, false)
        }));
        pairings.push(Box::new(move || {
            run_rtmfp_to_cpp(exe, dir, bytes, s, port + 5, true)
        }));
        pairings.push(Box::new(move || run_cpp_to_rtmfp(exe, dir, s, port + 4)));
    }
    // Rounds of every pairing in turn, so that the pairings a ratio compares
    // ran side by side in time; then each pairing's median.
    let mut runs: Vec<Vec<Loopback>> = pairings.iter().map(|_| Vec::new()).collect();
    for round in 1..=args.runs {
        if args.runs > 1 {
            println!("round {round} of {}", args.runs);
        }
        for (pairing, done) in pairings.iter().zip(&mut runs) {
            match pairing() {
                Ok(l) => {
                    match l.cpu_ms_per_mb {
                        Some(c) => println!("{}: {:.1} MB/s, {c:.2} CPU ms/MB", l.name, l.mb_per_s),
                        None => println!("{}: {:.1} MB/s", l.name, l.mb_per_s),
                    }
                    done.push(l);
                }
                Err(e) => {
                    eprintln!("rtmfp-bench-loopback: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    let results: Vec<Loopback> = runs.into_iter().map(median).collect();
    if args.runs > 1 {
        println!("medians of {} runs:", args.runs);
        for l in &results {
            match l.cpu_ms_per_mb {
                Some(c) => println!("  {}: {:.1} MB/s, {c:.2} CPU ms/MB", l.name, l.mb_per_s),
                None => println!("  {}: {:.1} MB/s", l.name, l.mb_per_s),
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
