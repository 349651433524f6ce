//! `rtmfp-bench-report`: turns criterion's own estimates (its JSON under
//! target/criterion, not terminal text) into the reports site's benchmark page:
//! ratio tables against the OpenSSL baselines measured in the same run, SVG charts
//! (throughput vs packet size; CWND and RTT over time from the engine's congestion
//! trace during a simulated lossy transfer), the machine, loopback figures, and a
//! history across runs appended to a JSON file, with a regression threshold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use rtmfp_benches::report::{self, History};

#[derive(Parser, Debug)]
#[command(about = "Write the benchmark page of the reports site from criterion's JSON estimates")]
struct Args {
    /// criterion's output directory (default: the workspace's target/criterion).
    #[arg(long, value_name = "DIR")]
    criterion: Option<PathBuf>,
    /// The site directory; the page is written to SITE/bench/index.html.
    #[arg(long, value_name = "SITE", default_value = "target/site")]
    out: PathBuf,
    /// The history file to append this run to (default: SITE/bench/history.json).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// A result slower than the previous run's by more than this fraction is
    /// flagged as a regression.
    #[arg(long, default_value_t = 0.10, value_name = "FRACTION")]
    threshold: f64,
    /// Exit with status 1 when a regression is flagged.
    #[arg(long)]
    fail_on_regression: bool,
    /// A note printed on the page (e.g. "machine loaded by other builds").
    #[arg(long)]
    note: Option<String>,
    /// Commit measured (default: $GITHUB_SHA, else `git rev-parse HEAD`).
    #[arg(long)]
    commit: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let crit = args
        .criterion
        .clone()
        .unwrap_or_else(rtmfp_benches::machine::criterion_dir);
    match run(&args, &crit) {
        Ok(regressions) if regressions > 0 && args.fail_on_regression => {
            eprintln!("rtmfp-bench-report: {regressions} regression(s) above the threshold");
            ExitCode::from(1)
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtmfp-bench-report: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args, crit: &Path) -> Result<usize, String> {
    let results = report::read_criterion(crit)?;
    if results.is_empty() {
        return Err(format!(
            "{}: no criterion estimates (run `cargo bench -p rtmfp-benches` first)",
            crit.display()
        ));
    }
    let dir = args.out.join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let history_path = args.history.clone().unwrap_or(dir.join("history.json"));
    let mut history = History::load(&history_path)?;
    let commit = args
        .commit
        .clone()
        .or_else(|| std::env::var("GITHUB_SHA").ok())
        .or_else(|| {
            std::process::Command::new("git")
                .args(["rev-parse", "--short", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_default();
    let machine = report::read_machine(crit);
    let loopback = report::read_loopback(crit);
    let run = report::Run {
        time: report::now_utc(),
        commit,
        note: args.note.clone(),
        machine: machine.clone(),
        results: results
            .iter()
            .map(|r| (r.id.clone(), r.mean_ns))
            .collect::<BTreeMap<_, _>>(),
        loopback: loopback.clone(),
    };
    let regressions = history.regressions(&run, args.threshold);
    history.runs.push(run);
    history.save(&history_path)?;
    // criterion's own HTML, beside the page.
    let crit_copy = dir.join("criterion");
    report::copy_dir(crit, &crit_copy).map_err(|e| format!("{}: {e}", crit_copy.display()))?;
    let html = report::render(report::Page {
        results: &results,
        machine: machine.as_ref(),
        loopback: &loopback,
        history: &history,
        regressions: &regressions,
        threshold: args.threshold,
        note: args.note.as_deref(),
    })?;
    let page = dir.join("index.html");
    std::fs::write(&page, html).map_err(|e| format!("{}: {e}", page.display()))?;
    println!(
        "wrote {} ({} results, {} runs in history, {} regression(s))",
        page.display(),
        results.len(),
        history.runs.len(),
        regressions.len()
    );
    Ok(regressions.len())
}
