//! `rtmfp-fuzz run-all`: every target under `cargo fuzz run`, one after the
//! other, for a fixed time each; libFuzzer's final statistics become a JSON
//! summary (the reports crate renders it as the fuzzing page).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct RunAllArgs {
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Only these targets (default: all).
    pub targets: Vec<String>,
    /// The cargo-fuzz crate.
    #[arg(long, default_value = "fuzz")]
    pub fuzz_dir: PathBuf,
    /// Build without AddressSanitizer (`cargo fuzz run -s none`): faster, for
    /// throughput figures; the default builds with ASan.
    #[arg(long)]
    pub no_sanitizer: bool,
    /// Build with debug assertions and overflow checks (`cargo fuzz run -O -a`):
    /// an arithmetic overflow is then a finding (recommended; the nightly CI job
    /// and build.sh use it). Without it: `-O` alone.
    #[arg(long)]
    pub debug_assertions: bool,
    /// Run the binaries `cargo fuzz build -O` already built (in
    /// TARGET_DIR/x86_64-unknown-linux-gnu/release) instead of `cargo fuzz run`.
    #[arg(long)]
    pub prebuilt: bool,
    /// cargo's target directory for the fuzz build (default FUZZ_DIR/target);
    /// keep the ASan and `-s none` builds apart by giving each its own.
    #[arg(long)]
    pub target_dir: Option<PathBuf>,
    /// Corpus root: target T reads and grows CORPUS/T (default FUZZ_DIR/corpus).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Where findings go: ARTIFACTS/T/crash-… (default FUZZ_DIR/artifacts).
    #[arg(long)]
    pub artifacts: Option<PathBuf>,
    /// Keep each target's whole libFuzzer output as LOGS/T.log.
    #[arg(long)]
    pub logs: Option<PathBuf>,
    /// libFuzzer's -max_len (largest input it generates); default: each
    /// target's own (`rtmfp-fuzz list`).
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Targets run at the same time (each one libFuzzer process).
    #[arg(long, default_value_t = 1)]
    pub parallel: usize,
    /// libFuzzer worker processes per target.
    #[arg(long, default_value_t = 1)]
    pub jobs: u32,
    /// Where to write the summary (rewritten after every target).
    #[arg(long, default_value = "fuzz/summary.json")]
    pub out: PathBuf,
}

/// One target's figures, as libFuzzer printed them.
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
pub struct TargetSummary {
    pub target: String,
    pub seconds: u64,
    pub sanitizer: String,
    pub runs: u64,
    pub exec_per_sec: u64,
    /// Covered code edges (libFuzzer `cov:`).
    pub edges_covered: u64,
    /// libFuzzer features (`ft:`): edges with hit-count buckets, comparisons...
    pub features: u64,
    pub corpus_size: u64,
    pub peak_rss_mb: u64,
    /// Crash/leak/timeout artifacts written (each a finding to fix).
    pub findings: Vec<String>,
    pub status: String,
    /// The 1-minute load average when the run started and when it ended (the
    /// machine is shared: exec/s means little without it).
    #[serde(default)]
    pub load: Option<[f64; 2]>,
    /// CPU time the fuzzer process used (user + system; `--prebuilt` runs), and
    /// runs per CPU second: the rate one idle core would give, which a loaded
    /// machine's wall-clock exec/s understates.
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
    #[serde(default)]
    pub exec_per_cpu_sec: Option<u64>,
    /// Line coverage of the reference and the target crates by the corpus
    /// (`rtmfp-fuzz coverage`: `cargo fuzz coverage` + `llvm-cov export`).
    #[serde(default)]
    pub line_coverage: Option<LineCoverage>,
}

/// Lines of the project's own sources (not dependencies) the corpus executes.
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
pub struct LineCoverage {
    pub lines: u64,
    pub covered: u64,
    pub percent: f64,
    /// The same over the source files the target reaches (at least one line
    /// executed): how thoroughly it exercises the code it is about.
    #[serde(default)]
    pub reached_lines: u64,
    #[serde(default)]
    pub reached_percent: f64,
    /// Corpus inputs the figure was measured on.
    pub corpus_inputs: u64,
}

#[derive(Debug, Serialize)]
struct Summary {
    generated_by: &'static str,
    machine: String,
    targets: Vec<TargetSummary>,
}

fn field(line: &str, key: &str) -> Option<u64> {
    let at = line.find(key)? + key.len();
    line[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Folds one line of libFuzzer's output into the summary.
pub fn parse_line(s: &mut TargetSummary, line: &str) {
    if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
        s.runs = v.trim().parse().unwrap_or(s.runs);
    } else if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
        s.exec_per_sec = v.trim().parse().unwrap_or(s.exec_per_sec);
    } else if let Some(v) = line.strip_prefix("stat::peak_rss_mb:") {
        s.peak_rss_mb = v.trim().parse().unwrap_or(s.peak_rss_mb);
    } else if line.starts_with('#') {
        if let Some(c) = field(line, "cov:") {
            s.edges_covered = s.edges_covered.max(c);
        }
        if let Some(f) = field(line, "ft:") {
            s.features = s.features.max(f);
        }
        if let Some(c) = field(line, "corp:") {
            s.corpus_size = c;
        }
    }
    if let Some(at) = line.find("Test unit written to ") {
        s.findings.push(
            line[at + "Test unit written to ".len()..]
                .trim()
                .to_string(),
        );
    }
}

/// The 1-minute load average (Linux), if readable.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn absolute(p: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
    p.canonicalize()
        .map_err(|e| format!("{}: {e}", p.display()))
}

/// User + system CPU seconds process `pid` has used so far (Linux /proc; the
/// kernel's clock tick is 100 Hz on every Linux libFuzzer runs on).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at state (3).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The directories one run uses, made absolute (the fuzzer runs in FUZZ_DIR).
struct Dirs {
    fuzz: PathBuf,
    target: PathBuf,
    corpus: PathBuf,
    artifacts: PathBuf,
    logs: Option<PathBuf>,
    dict: Option<PathBuf>,
}

impl Dirs {
    fn new(a: &RunAllArgs) -> Result<Self, String> {
        let fuzz = absolute(&a.fuzz_dir)?;
        let dict = fuzz.join("rtmfp.dict");
        Ok(Self {
            target: absolute(a.target_dir.as_deref().unwrap_or(&fuzz.join("target")))?,
            corpus: absolute(a.corpus.as_deref().unwrap_or(&fuzz.join("corpus")))?,
            artifacts: absolute(a.artifacts.as_deref().unwrap_or(&fuzz.join("artifacts")))?,
            logs: a.logs.as_deref().map(absolute).transpose()?,
            dict: dict.exists().then_some(dict),
            fuzz,
        })
    }
}

fn command(a: &RunAllArgs, d: &Dirs, n: &str) -> Result<Command, String> {
    let corpus = d.corpus.join(n);
    let artifacts = d.artifacts.join(n);
    for p in [&corpus, &artifacts] {
        std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let mut cmd = if a.prebuilt {
        let bin = d.target.join("x86_64-unknown-linux-gnu/release").join(n);
        if !bin.exists() {
            return Err(format!(
                "prebuilt {n}: {} not found (cargo fuzz build -O first)",
                bin.display()
            ));
        }
        let mut c = Command::new(bin);
        c.arg(&corpus);
        c
    } else {
        let mut c = Command::new("cargo");
        c.env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "--fuzz-dir", "."])
            .arg("--target-dir")
            .arg(&d.target);
        if a.no_sanitizer {
            c.args(["-s", "none"]);
        }
        c.arg("-O");
        if a.debug_assertions {
            c.arg("-a");
        }
        c.arg(n).arg(&corpus).arg("--");
        c
    };
    cmd.current_dir(&d.fuzz);
    cmd.arg(format!("-artifact_prefix={}/", artifacts.display()));
    cmd.args([
        format!("-max_total_time={}", a.seconds),
        "-print_final_stats=1".into(),
    ]);
    if let Some(m) = a
        .max_len
        .or_else(|| rtmfp_fuzz_targets::target(n).map(|t| t.max_len))
    {
        cmd.arg(format!("-max_len={m}"));
    }
    if a.jobs > 1 {
        cmd.args([format!("-jobs={}", a.jobs), format!("-workers={}", a.jobs)]);
    }
    if let Some(dict) = &d.dict {
        cmd.arg(format!("-dict={}", dict.display()));
    }
    cmd.stderr(Stdio::piped()).stdout(Stdio::null());
    Ok(cmd)
}

/// Runs one target to the end, advancing the shared progress bar.
fn run_one(a: &RunAllArgs, d: &Dirs, n: &str, bar: &ProgressBar) -> Result<TargetSummary, String> {
    let mut child = command(a, d, n)?
        .spawn()
        .map_err(|e| format!("fuzzing {n}: {e}"))?;
    let stderr = child.stderr.take().expect("piped");
    let mut s = TargetSummary {
        target: n.to_string(),
        seconds: a.seconds,
        sanitizer: if a.no_sanitizer { "none" } else { "address" }.into(),
        ..TargetSummary::default()
    };
    let load_start = load_average();
    let started = Instant::now();
    let mut shown = 0;
    let mut log_file = match &d.logs {
        Some(l) => Some(
            std::fs::File::create(l.join(format!("{n}.log")))
                .map_err(|e| format!("{}: {e}", l.display()))?,
        ),
        None => None,
    };
    let mut tail = std::collections::VecDeque::new();
    let pid = child.id();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        parse_line(&mut s, &line);
        // The fuzzer itself is the child only with --prebuilt (else it is cargo).
        // Its final statistics are its last lines: read its CPU time as they come.
        if a.prebuilt
            && line.starts_with("stat::")
            && let Some(c) = cpu_seconds(pid)
        {
            s.cpu_seconds = Some(c);
        }
        let el = started.elapsed().as_secs().min(a.seconds);
        bar.inc(el - shown);
        shown = el;
        if let Some(f) = log_file.as_mut() {
            let _ = writeln!(f, "{line}");
        }
        tail.push_back(line);
        if tail.len() > 5 {
            tail.pop_front();
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    bar.inc(a.seconds - shown);
    s.load = load_start.zip(load_average()).map(|(x, y)| [x, y]);
    s.exec_per_cpu_sec = s
        .cpu_seconds
        .filter(|c| *c > 0.0)
        .map(|c| (s.runs as f64 / c) as u64);
    s.status = if status.success() {
        "ok".into()
    } else if !s.findings.is_empty() {
        "finding".into()
    } else {
        let tail: Vec<_> = tail.into_iter().collect();
        format!("error: {}", tail.join(" | "))
    };
    Ok(s)
}

pub fn run_all(a: &RunAllArgs) -> Result<(), String> {
    let names: Vec<&str> = if a.targets.is_empty() {
        crate_targets()
    } else {
        a.targets.iter().map(String::as_str).collect()
    };
    for n in &names {
        if rtmfp_fuzz_targets::target(n).is_none() {
            return Err(format!("unknown target `{n}` (see `rtmfp-fuzz list`)"));
        }
    }
    let dirs = Dirs::new(a)?;
    let parallel = a.parallel.clamp(1, names.len().max(1));
    let total = a.seconds * names.len() as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} s  {msg}")
            .map_err(|e| e.to_string())?,
    );
    let queue = Mutex::new(names.iter().copied().enumerate());
    let running = Mutex::new(Vec::<&str>::new());
    let done = Mutex::new(Vec::<TargetSummary>::new());
    let first_error = Mutex::new(None::<String>);
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| {
                loop {
                    let Some((i, n)) = queue.lock().expect("queue").next() else {
                        break;
                    };
                    {
                        let mut r = running.lock().expect("running");
                        r.push(n);
                        bar.set_message(format!("{} ({}/{})", r.join(", "), i + 1, names.len()));
                    }
                    match run_one(a, &dirs, n, &bar) {
                        Ok(s) => {
                            let line = format!(
                                "{n:<20} {:>10} runs {:>8} exec/s ({:?}/CPU s)  cov {:>5}  ft {:>6}  corpus {:>5}  load {:?}  {}",
                                s.runs, s.exec_per_sec, s.exec_per_cpu_sec, s.edges_covered, s.features, s.corpus_size, s.load, s.status
                            );
                            // A hidden bar (not a terminal) swallows println.
                            if bar.is_hidden() {
                                eprintln!("{line}");
                            } else {
                                bar.println(line);
                            }
                            let mut d = done.lock().expect("done");
                            d.push(s);
                            // Written after every target: a stopped run keeps what it measured.
                            if let Err(e) = write_summary(&a.out, d.clone()) {
                                first_error.lock().expect("err").get_or_insert(e);
                            }
                        }
                        Err(e) => {
                            first_error.lock().expect("err").get_or_insert(e);
                        }
                    }
                    running.lock().expect("running").retain(|x| *x != n);
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = first_error.into_inner().expect("err") {
        return Err(e);
    }
    println!("summary: {}", a.out.display());
    Ok(())
}

/// Writes `targets` into the summary at `path`, keeping the entries of targets
/// (or of a target under another sanitizer) not among them: targets run
/// separately keep their figures, and one summary holds a target's ASan and
/// `-s none` runs side by side.
pub fn write_summary(path: &Path, mut targets: Vec<TargetSummary>) -> Result<(), String> {
    for t in read_summary(path) {
        if !targets
            .iter()
            .any(|x| x.target == t.target && x.sanitizer == t.sanitizer)
        {
            targets.push(t);
        }
    }
    let order = crate_targets();
    targets.sort_by(|a, b| {
        let pos = |t: &TargetSummary| order.iter().position(|n| *n == t.target);
        pos(a)
            .cmp(&pos(b))
            .then_with(|| a.sanitizer.cmp(&b.sanitizer))
    });
    let s = Summary {
        generated_by: "rtmfp-fuzz run-all",
        machine: format!(
            "{} CPU(s)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ),
        targets,
    };
    let text = serde_json::to_string_pretty(&s).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// The targets of an existing summary (none if there is none).
pub fn read_summary(path: &Path) -> Vec<TargetSummary> {
    let Ok(old) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&old) else {
        return Vec::new();
    };
    v.get("targets")
        .and_then(|t| t.as_array())
        .map(|arr| {
            arr.iter()
                .filter_map(|t| serde_json::from_value::<TargetSummary>(t.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[derive(clap::Args, Debug)]
pub struct CoverageArgs {
    /// Only these targets (default: all).
    pub targets: Vec<String>,
    /// The cargo-fuzz crate.
    #[arg(long, default_value = "fuzz")]
    pub fuzz_dir: PathBuf,
    /// cargo's target directory for the coverage build (default
    /// FUZZ_DIR/target/<triple>/coverage); not the one of a fuzzing build.
    #[arg(long)]
    pub target_dir: Option<PathBuf>,
    /// Corpus root: target T's inputs are CORPUS/T (default FUZZ_DIR/corpus).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// `llvm-cov` matching rustc's LLVM (default: the one of the
    /// `llvm-tools-preview` component, under `rustc --print sysroot`).
    #[arg(long)]
    pub llvm_cov: Option<PathBuf>,
    /// The summary to add the figures to.
    #[arg(long, default_value = "fuzz/summary.json")]
    pub out: PathBuf,
}

/// The `llvm-cov` of rustc's own LLVM (rustup's `llvm-tools-preview`).
fn sysroot_llvm_cov() -> Result<PathBuf, String> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("rustc --print sysroot: {e}"))?;
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let p = Path::new(&root).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/llvm-cov");
    if p.exists() {
        Ok(p)
    } else {
        Err(format!(
            "{} not found: `rustup component add llvm-tools-preview` (or --llvm-cov PATH)",
            p.display()
        ))
    }
}

/// Files counted: the project's own sources, not dependencies, the standard
/// library or the libFuzzer wrappers.
pub const COVERAGE_IGNORE: &str =
    r"(\.cargo/registry|\.cargo/git|/rustc/|/rustlib/|fuzz/fuzz_targets/)";

/// Line totals of `llvm-cov export -summary-only` output.
pub fn line_totals(export: &serde_json::Value) -> Option<(u64, u64)> {
    let lines = export.get("data")?.get(0)?.get("totals")?.get("lines")?;
    Some((
        lines.get("count")?.as_u64()?,
        lines.get("covered")?.as_u64()?,
    ))
}

/// Lines of the files with at least one covered line (count, covered).
pub fn reached_totals(export: &serde_json::Value) -> (u64, u64) {
    let files = export
        .get("data")
        .and_then(|d| d.get(0))
        .and_then(|d| d.get("files"))
        .and_then(|f| f.as_array());
    let mut t = (0, 0);
    for f in files.into_iter().flatten() {
        let l = f.get("summary").and_then(|s| s.get("lines"));
        let count = l
            .and_then(|l| l.get("count"))
            .and_then(|c| c.as_u64())
            .unwrap_or(0);
        let covered = l
            .and_then(|l| l.get("covered"))
            .and_then(|c| c.as_u64())
            .unwrap_or(0);
        if covered > 0 {
            t.0 += count;
            t.1 += covered;
        }
    }
    t
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

/// `cargo fuzz coverage` over each target's corpus, then `llvm-cov export`:
/// the line coverage of the project's sources goes into the summary.
pub fn coverage(a: &CoverageArgs) -> Result<(), String> {
    let names: Vec<&str> = if a.targets.is_empty() {
        crate_targets()
    } else {
        a.targets.iter().map(String::as_str).collect()
    };
    let llvm_cov = match &a.llvm_cov {
        Some(p) => p.clone(),
        None => sysroot_llvm_cov()?,
    };
    let fuzz = absolute(&a.fuzz_dir)?;
    let target_dir = absolute(a.target_dir.as_deref().unwrap_or(&fuzz.join("target")))?;
    let corpus_root = absolute(a.corpus.as_deref().unwrap_or(&fuzz.join("corpus")))?;
    let mut summaries = read_summary(&a.out);
    for n in names {
        if rtmfp_fuzz_targets::target(n).is_none() {
            return Err(format!("unknown target `{n}` (see `rtmfp-fuzz list`)"));
        }
        let corpus = corpus_root.join(n);
        let inputs = std::fs::read_dir(&corpus)
            .map_err(|e| format!("{}: {e}", corpus.display()))?
            .count() as u64;
        let st = Command::new("cargo")
            .current_dir(&fuzz)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "coverage", "--fuzz-dir", "."])
            .arg("--target-dir")
            .arg(&target_dir)
            .arg(n)
            .arg(&corpus)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cargo fuzz coverage {n}: {e}"))?;
        if !st.success() {
            return Err(format!("cargo fuzz coverage {n} failed ({st})"));
        }
        // cargo fuzz coverage builds in TARGET/<triple>/coverage by default,
        // in the given --target-dir as it is otherwise.
        let bin = if a.target_dir.is_some() {
            target_dir.join("x86_64-unknown-linux-gnu/release").join(n)
        } else {
            target_dir
                .join("x86_64-unknown-linux-gnu/coverage/x86_64-unknown-linux-gnu/release")
                .join(n)
        };
        let profdata = fuzz.join("coverage").join(n).join("coverage.profdata");
        let out = Command::new(&llvm_cov)
            .args(["export", "-summary-only"])
            .arg(format!("-instr-profile={}", profdata.display()))
            .arg(format!("-ignore-filename-regex={COVERAGE_IGNORE}"))
            .arg(&bin)
            .output()
            .map_err(|e| format!("{}: {e}", llvm_cov.display()))?;
        if !out.status.success() {
            return Err(format!(
                "llvm-cov export {n}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("llvm-cov export {n}: {e}"))?;
        let (lines, covered) =
            line_totals(&v).ok_or_else(|| format!("llvm-cov export {n}: no line totals"))?;
        let (reached_lines, reached_covered) = reached_totals(&v);
        let lc = LineCoverage {
            lines,
            covered,
            percent: percent(covered, lines),
            reached_lines,
            reached_percent: percent(reached_covered, reached_lines),
            corpus_inputs: inputs,
        };
        println!(
            "{n:<20} {covered:>6}/{lines:<6} lines  {:>5.1} %  ({:>5.1} % of the {reached_lines} lines of the files it reaches; {inputs} inputs)",
            lc.percent, lc.reached_percent
        );
        // Every run of the target (ASan, none) shows the corpus's coverage.
        let mut found = false;
        for t in summaries.iter_mut().filter(|t| t.target == n) {
            t.line_coverage = Some(lc.clone());
            found = true;
        }
        if !found {
            summaries.push(TargetSummary {
                target: n.to_string(),
                line_coverage: Some(lc),
                ..TargetSummary::default()
            });
        }
        write_summary(&a.out, summaries.clone())?;
    }
    Ok(())
}

pub fn crate_targets() -> Vec<&'static str> {
    rtmfp_fuzz_targets::TARGETS.iter().map(|t| t.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as libFuzzer 17+ prints them (`-print_final_stats=1`).
    #[test]
    fn libfuzzer_output_folds_into_a_summary() {
        let mut s = TargetSummary::default();
        for l in [
            "INFO: Seed: 123",
            "#2\tINITED cov: 311 ft: 402 corp: 11/95b exec/s: 0 rss: 44Mb",
            "#65536\tpulse  cov: 340 ft: 530 corp: 40/1024b lim: 652 exec/s: 21845 rss: 50Mb",
            "#1200000\tDONE   cov: 351 ft: 561 corp: 47/1300b lim: 4096 exec/s: 19672 rss: 55Mb",
            "stat::number_of_executed_units: 1200000",
            "stat::average_exec_per_sec:     19672",
            "stat::peak_rss_mb:              55",
        ] {
            parse_line(&mut s, l);
        }
        assert_eq!(
            (
                s.runs,
                s.exec_per_sec,
                s.edges_covered,
                s.features,
                s.corpus_size,
                s.peak_rss_mb
            ),
            (1_200_000, 19_672, 351, 561, 47, 55)
        );
        assert!(s.findings.is_empty());
        parse_line(
            &mut s,
            "artifact_prefix='artifacts/vlu/'; Test unit written to artifacts/vlu/crash-abc",
        );
        assert_eq!(s.findings, vec!["artifacts/vlu/crash-abc".to_string()]);
    }

    // The shape of `llvm-cov export -summary-only` (LLVM 14 to 22).
    #[test]
    fn cpu_time_of_this_process_is_read() {
        // Busy until the process has used 20 ms of CPU (a loaded machine may
        // take longer in wall time; 60 s is far more than it needs).
        let t = Instant::now();
        let mut x = 0u64;
        let mut c = 0.0;
        while c < 0.02 && t.elapsed() < std::time::Duration::from_secs(60) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
            }
            c = cpu_seconds(std::process::id()).expect("/proc/self/stat");
        }
        assert!((0.02..3600.0).contains(&c), "{c}");
        assert_eq!(cpu_seconds(u32::MAX), None);
    }

    #[test]
    fn llvm_cov_export_line_totals() {
        let v = serde_json::json!({"data": [{"files": [
            {"filename": "a.rs", "summary": {"lines": {"count": 100, "covered": 80}}},
            {"filename": "b.rs", "summary": {"lines": {"count": 5206, "covered": 0}}},
            {"filename": "c.rs", "summary": {"lines": {"count": 10, "covered": 1}}}
        ], "totals": {
            "lines": {"count": 5306, "covered": 1234, "percent": 23.25},
            "functions": {"count": 10, "covered": 3}}}], "type": "llvm.coverage.json.export"});
        assert_eq!(line_totals(&v), Some((5306, 1234)));
        assert_eq!(reached_totals(&v), (110, 81));
        assert_eq!(percent(81, 110), 73.6);
        assert_eq!(line_totals(&serde_json::json!({"data": []})), None);
    }

    #[test]
    fn a_summary_keeps_the_targets_it_was_not_given() {
        let dir = std::env::temp_dir().join(format!("rtmfp-fuzz-summary-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("summary.json");
        let t = |n: &str, runs| TargetSummary {
            target: n.into(),
            runs,
            ..TargetSummary::default()
        };
        write_summary(&path, vec![t("packet", 1), t("vlu", 2)]).unwrap();
        write_summary(&path, vec![t("packet", 3)]).unwrap();
        let mut none = t("vlu", 4);
        none.sanitizer = "none".into();
        write_summary(&path, vec![none]).unwrap();
        let got: Vec<_> = read_summary(&path)
            .into_iter()
            .map(|t| (t.target, t.sanitizer, t.runs))
            .collect();
        // vlu kept (and its `none` run beside it), packet replaced, in the
        // crate's target order.
        assert_eq!(
            got,
            vec![
                ("vlu".into(), "".into(), 2),
                ("vlu".into(), "none".into(), 4),
                ("packet".into(), "".into(), 3)
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
