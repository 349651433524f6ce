//! `rtmfp-fuzz run-all`: every target under `cargo fuzz run`, one after the
//! other, for a fixed time each; libFuzzer's final statistics become a JSON
//! summary (the reports crate renders it as the fuzzing page).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
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
    /// FUZZ_DIR/target/x86_64-unknown-linux-gnu/release) instead of `cargo fuzz run`.
    #[arg(long)]
    pub prebuilt: bool,
    /// libFuzzer worker processes per target.
    #[arg(long, default_value_t = 1)]
    pub jobs: u32,
    /// Where to write the summary.
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
    /// Covered code edges (libFuzzer `cov:`), the coverage figure per target.
    pub edges_covered: u64,
    /// libFuzzer features (`ft:`): edges with hit-count buckets, comparisons...
    pub features: u64,
    pub corpus_size: u64,
    pub peak_rss_mb: u64,
    /// Crash/leak/timeout artifacts written (each a finding to fix).
    pub findings: Vec<String>,
    pub status: String,
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
    let dict = a.fuzz_dir.join("rtmfp.dict");
    let total = a.seconds * names.len() as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} s  {msg}")
            .map_err(|e| e.to_string())?,
    );
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        bar.set_message(format!("{n} ({}/{})", i + 1, names.len()));
        let mut cmd = if a.prebuilt {
            let mut c = Command::new(
                a.fuzz_dir
                    .join("target/x86_64-unknown-linux-gnu/release")
                    .join(n)
                    .canonicalize()
                    .map_err(|e| format!("prebuilt {n}: {e}"))?,
            );
            c.current_dir(&a.fuzz_dir);
            let _ = std::fs::create_dir_all(a.fuzz_dir.join("corpus").join(n));
            let _ = std::fs::create_dir_all(a.fuzz_dir.join("artifacts").join(n));
            c.arg(format!("-artifact_prefix=artifacts/{n}/"))
                .arg(format!("corpus/{n}"));
            c
        } else {
            let mut c = Command::new("cargo");
            c.current_dir(&a.fuzz_dir)
                .env("RUSTC_BOOTSTRAP", "1")
                .args(["fuzz", "run", "--fuzz-dir", "."]);
            if a.no_sanitizer {
                c.args(["-s", "none"]);
            }
            c.arg("-O");
            if a.debug_assertions {
                c.arg("-a");
            }
            c.arg(n).arg("--");
            c
        };
        cmd.args([
            format!("-max_total_time={}", a.seconds),
            "-print_final_stats=1".into(),
        ]);
        if a.jobs > 1 {
            cmd.args([format!("-jobs={}", a.jobs), format!("-workers={}", a.jobs)]);
        }
        if dict.exists() {
            cmd.arg(format!(
                "-dict={}",
                std::fs::canonicalize(&dict)
                    .map_err(|e| format!("{}: {e}", dict.display()))?
                    .display()
            ));
        }
        cmd.stderr(Stdio::piped()).stdout(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cargo fuzz run {n}: {e}"))?;
        let stderr = child.stderr.take().expect("piped");
        let mut s = TargetSummary {
            target: n.to_string(),
            seconds: a.seconds,
            sanitizer: if a.no_sanitizer { "none" } else { "address" }.into(),
            ..TargetSummary::default()
        };
        let started = Instant::now();
        let base = i as u64 * a.seconds;
        let mut log = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            parse_line(&mut s, &line);
            let el = started.elapsed().as_secs().min(a.seconds);
            bar.set_position(base + el);
            log.push(line);
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        s.status = if status.success() {
            "ok".into()
        } else if !s.findings.is_empty() {
            "finding".into()
        } else {
            let tail: Vec<_> = log.iter().rev().take(5).rev().cloned().collect();
            format!("error: {}", tail.join(" | "))
        };
        let line = format!(
            "{n:<20} {:>10} runs {:>8} exec/s  cov {:>5}  ft {:>6}  corpus {:>5}  {}",
            s.runs, s.exec_per_sec, s.edges_covered, s.features, s.corpus_size, s.status
        );
        // A hidden bar (not a terminal) swallows println: print the line anyway.
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
        out.push(s);
    }
    bar.finish_and_clear();
    write_summary(&a.out, out)
}

fn write_summary(path: &PathBuf, mut targets: Vec<TargetSummary>) -> Result<(), String> {
    // Merge with an existing summary (targets run separately keep their figures).
    if let Ok(old) = std::fs::read_to_string(path)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&old)
        && let Some(arr) = v.get("targets").and_then(|t| t.as_array())
    {
        for t in arr {
            if let Ok(t) = serde_json::from_value::<TargetSummary>(t.clone())
                && !targets.iter().any(|x| x.target == t.target)
            {
                targets.push(t);
            }
        }
    }
    let order = crate_targets();
    targets.sort_by_key(|t| order.iter().position(|n| *n == t.target));
    let s = Summary {
        generated_by: "rtmfp-fuzz run-all",
        machine: format!(
            "{} CPU(s)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ),
        targets,
    };
    let text = serde_json::to_string_pretty(&s).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    println!("summary: {}", path.display());
    Ok(())
}

fn crate_targets() -> Vec<&'static str> {
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
}
