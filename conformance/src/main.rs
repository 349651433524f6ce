//! `rtmfp-conformance`: run the RFC 7016 conformance suite against the built-in
//! reference implementation, a live stack over UDP, or a capture.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use rtmfp_conformance::requirements::{self, Keyword};
use rtmfp_conformance::scenario::{self, Scenario};
use rtmfp_conformance::suite::{self, Expectations, Options, ProfileName, Target};
use rtmfp_reports::model::{Outcome, Results};

#[derive(Parser, Debug)]
#[command(
    name = "rtmfp-conformance",
    version,
    about = "RTMFP (RFC 7016) conformance suite"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenarios (or check a capture) and write a report.
    Run(Box<RunArgs>),
    /// List the RFC's requirements with their observability and scenario coverage.
    Requirements {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Scenario directory (for coverage).
        #[arg(long, value_name = "DIR")]
        scenarios: Option<PathBuf>,
    },
    /// List the scenarios.
    List {
        /// Selection as for `run`.
        select: Vec<String>,
        #[arg(long, value_name = "DIR")]
        scenarios: Option<PathBuf>,
    },
    /// List the faults `run --inject` can put into the reference target.
    Faults,
    /// List the rules checked on recordings (the pcap target and `invariants` steps)
    Invariants,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// What to test: reference (built-in, simulated network), udp://HOST:PORT (a
    /// live stack; the tester initiates), or pcap:FILE[?keys=FILE] (a capture).
    #[arg(long, default_value = "reference")]
    target: String,
    /// Listen here for a live stack that initiates (the tester is the responder).
    #[arg(long, value_name = "ADDR:PORT", conflicts_with = "target")]
    listen: Option<SocketAddr>,
    /// Cases to run: IDs, globs (`handshake.*`), sections (`§3.5.1`) or `tag:NAME`.
    select: Vec<String>,
    /// Cryptography profile of the run.
    #[arg(long, value_enum, default_value = "flash")]
    profile: ProfileName,
    /// Seed of the reference target and of the tester's randomness.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Make the reference target break a rule (see `rtmfp-conformance faults`); repeatable.
    #[arg(long, value_name = "FAULT")]
    inject: Vec<String>,
    /// Known deviations of the implementation under test (YAML).
    #[arg(long, value_name = "FILE")]
    expectations: Option<PathBuf>,
    /// EPD selecting a live target: a comma list of any, uri:URI, hostname:NAME,
    /// fingerprint:HEX, hex:BYTES (flash), or the identity (plain).
    #[arg(long, value_name = "SPEC")]
    epd: Option<String>,
    /// The live target does not echo flows (cases that need an echo are unsupported).
    #[arg(long)]
    no_echo: bool,
    /// Multiply every time bound by this (slow live stacks).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    time_scale: f64,
    /// The tester's local address for the udp target.
    #[arg(long, default_value = "0.0.0.0:0", value_name = "ADDR:PORT")]
    bind: SocketAddr,
    /// Report directory (results.json, junit.xml, index.html, evidence/).
    #[arg(long, default_value = "reports/out", value_name = "DIR")]
    out: PathBuf,
    /// Scenario directory.
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// The tester's certificate and key-component layout (flash profile):
    /// flash-player, rtmfp-cpp, server, or a FILE (certificate hex, and
    /// `key GROUP HEX` lines for a static one). Default: flash-player against a
    /// live target, server against the reference.
    #[arg(long, value_name = "ID")]
    tester_identity: Option<String>,
    /// The live target is a Flash-era application server (RFC 7425 §5): cases
    /// that need it to send user data get it with a TC `connect` to this
    /// application instead of an echo. Without --epd, the EPD becomes the
    /// application's URI (rtmfp://HOST:PORT/NAME).
    #[arg(long, value_name = "NAME")]
    tc_app: Option<String>,
}

fn scenario_dir(arg: &Option<PathBuf>) -> PathBuf {
    if let Some(d) = arg {
        return d.clone();
    }
    let built_in = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"));
    if built_in.is_dir() {
        built_in
    } else {
        PathBuf::from("conformance/scenarios")
    }
}

fn load(dir: &std::path::Path) -> Result<Vec<Scenario>, String> {
    let known = requirements::catalogue()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    scenario::load_dir(dir, &known).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RTMFP_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Run(a) => run(*a),
        Command::Requirements { json, scenarios } => {
            list_requirements(json, &scenario_dir(&scenarios))
        }
        Command::List { select, scenarios } => list(&select, &scenario_dir(&scenarios)),
        Command::Invariants => {
            for i in rtmfp_conformance::invariants::INVARIANTS {
                println!(
                    "{:22} {:6} {:40} {}",
                    i.name,
                    if i.should { "should" } else { "must" },
                    i.requirements.join(" "),
                    i.title
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Faults => {
            for (name, what) in rtmfp::session::config::Faults::ALL {
                println!("{name:24} {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    match r {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rtmfp-conformance: {e}");
            ExitCode::from(2)
        }
    }
}

fn list(select: &[String], dir: &std::path::Path) -> Result<ExitCode, String> {
    for s in load(dir)?.iter().filter(|s| scenario::selected(s, select)) {
        println!(
            "{:40} {:9} {}",
            s.id,
            format!("{:?}", s.role).to_lowercase(),
            s.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Observable MUST-level requirements covered by at least one scenario.
pub fn coverage(scenarios: &[Scenario]) -> BTreeMap<&'static str, (usize, usize, usize)> {
    let obs = requirements::observability();
    let covered: std::collections::BTreeSet<&str> = scenarios
        .iter()
        .flat_map(|s| s.requirements.iter().map(|r| r.as_str()))
        .collect();
    let mut out: BTreeMap<&'static str, (usize, usize, usize)> = BTreeMap::new();
    for r in requirements::catalogue() {
        let group = if r.keyword.is_absolute() {
            "MUST/MUST NOT/SHALL/REQUIRED"
        } else {
            "SHOULD/RECOMMENDED/MAY"
        };
        let e = out.entry(group).or_default();
        e.0 += 1;
        if obs.get(&r.id).is_some_and(|o| o.observable) {
            e.1 += 1;
            if covered.contains(r.id.as_str()) {
                e.2 += 1;
            }
        }
    }
    out
}

fn print_coverage(scenarios: &[Scenario]) {
    for (group, (all, observable, covered)) in coverage(scenarios) {
        println!(
            "coverage {group}: {covered}/{observable} wire-observable requirements covered ({}%), {all} in the RFC",
            (covered * 100).checked_div(observable).unwrap_or(0)
        );
    }
}

fn list_requirements(json: bool, dir: &std::path::Path) -> Result<ExitCode, String> {
    let scenarios = load(dir)?;
    let obs = requirements::observability();
    let mut cases: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in &scenarios {
        for r in &s.requirements {
            cases.entry(r.as_str()).or_default().push(s.id.as_str());
        }
    }
    if json {
        let v: Vec<serde_json::Value> = requirements::catalogue()
            .iter()
            .map(|r| {
                let mut j = serde_json::to_value(r).unwrap_or_default();
                if let serde_json::Value::Object(m) = &mut j {
                    m.insert(
                        "observability".into(),
                        serde_json::to_value(obs.get(&r.id)).unwrap_or_default(),
                    );
                    m.insert(
                        "scenarios".into(),
                        serde_json::json!(cases.get(r.id.as_str()).cloned().unwrap_or_default()),
                    );
                }
                j
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    for r in requirements::catalogue() {
        let o = obs.get(&r.id);
        let status = match (o.is_some_and(|o| o.observable), cases.get(r.id.as_str())) {
            (false, _) => "not observable".to_string(),
            (true, None) => "NOT COVERED".to_string(),
            (true, Some(c)) => format!("{} scenario(s)", c.len()),
        };
        let text: String = r.text.chars().take(90).collect();
        println!(
            "{:12} {:11} {:16} {}",
            r.id,
            r.keyword.as_str(),
            status,
            text
        );
    }
    let n = |k: &[Keyword]| {
        requirements::catalogue()
            .iter()
            .filter(|r| k.contains(&r.keyword))
            .count()
    };
    println!(
        "{} requirements: {} MUST, {} MUST NOT, {} SHALL, {} SHOULD, {} SHOULD NOT, {} MAY",
        requirements::catalogue().len(),
        n(&[Keyword::Must]),
        n(&[Keyword::MustNot]),
        n(&[Keyword::Shall]),
        n(&[Keyword::Should]),
        n(&[Keyword::ShouldNot]),
        n(&[Keyword::May])
    );
    print_coverage(&scenarios);
    Ok(ExitCode::SUCCESS)
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn run(a: RunArgs) -> Result<ExitCode, String> {
    let target = match a.listen {
        Some(addr) => Target::Listen(addr),
        None => Target::parse(&a.target)?,
    };
    if !a.inject.is_empty() && target != Target::Reference {
        return Err("--inject only applies to --target reference".into());
    }
    if !(a.time_scale > 0.0 && a.time_scale.is_finite()) {
        return Err(format!(
            "--time-scale {}: must be a positive number",
            a.time_scale
        ));
    }
    let tester_identity = a
        .tester_identity
        .as_deref()
        .map(rtmfp_conformance::identity::TesterIdentity::parse)
        .transpose()?;
    let mut probe = rtmfp::session::config::Faults::default();
    for f in &a.inject {
        probe.set(f)?;
    }
    let expectations = a
        .expectations
        .as_ref()
        .map(|p| Expectations::load(p))
        .transpose()?;
    let epd = match (&a.epd, &a.tc_app, &target) {
        (None, Some(app), Target::Udp(addr)) if a.profile == ProfileName::Flash => Some(
            rtmfp::crypto::flash::epd::Epd::from_spec(&format!("uri:rtmfp://{addr}/{app}"))
                .map_err(|e| format!("--tc-app {app}: {e}"))?,
        ),
        _ => match &a.epd {
            None => None,
            Some(spec) => Some(match a.profile {
                ProfileName::Plain => spec.as_bytes().to_vec(),
                ProfileName::Flash => {
                    rtmfp::crypto::flash::epd::Epd::from_spec(spec).map_err(|e| format!("--{e}"))?
                }
            }),
        },
    };
    // The re-run command: this invocation without the case selection.
    let mut rerun = vec!["cargo run --release -p rtmfp-conformance -- run".to_string()];
    match &target {
        Target::Reference => {}
        Target::Listen(l) => rerun.push(format!("--listen {l}")),
        t => rerun.push(format!("--target {}", shell_quote(&t.name()))),
    }
    if a.profile != ProfileName::Flash {
        rerun.push("--profile plain".into());
    }
    if a.seed != 1 {
        rerun.push(format!("--seed {}", a.seed));
    }
    for f in &a.inject {
        rerun.push(format!("--inject {f}"));
    }
    if let Some(e) = &a.epd {
        rerun.push(format!("--epd {}", shell_quote(e)));
    }
    if a.no_echo {
        rerun.push("--no-echo".into());
    }
    if let Some(app) = &a.tc_app {
        rerun.push(format!("--tc-app {}", shell_quote(app)));
    }
    if a.profile == ProfileName::Flash && (tester_identity.is_some() || target != Target::Reference)
    {
        // Said even when defaulted, so the report shows which was used.
        let id = tester_identity
            .clone()
            .unwrap_or(rtmfp_conformance::identity::TesterIdentity::FlashPlayer);
        rerun.push(format!("--tester-identity {}", shell_quote(&id.name())));
    }
    if a.time_scale != 1.0 {
        rerun.push(format!("--time-scale {}", a.time_scale));
    }
    if let Some(e) = &a.expectations {
        rerun.push(format!(
            "--expectations {}",
            shell_quote(&e.display().to_string())
        ));
    }
    let opts = Options {
        target: target.clone(),
        profile: a.profile,
        seed: a.seed,
        inject: a.inject.clone(),
        out: Some(a.out.clone()),
        epd,
        echo: !a.no_echo,
        time_scale: a.time_scale,
        bind: a.bind,
        rerun: rerun.join(" "),
        expectations,
        tester_identity,
        target_dh_key_from_first_option: false,
        tc_app: a.tc_app.clone(),
    };
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let results = match &target {
        Target::Pcap { file, keys } => {
            let t0 = std::time::Instant::now();
            let started = suite::chrono_like_now();
            let cases = rtmfp_conformance::capture_check::check_capture(
                file,
                keys.as_deref(),
                &opts.rerun,
                Some(&a.out),
            )?;
            let cases: Vec<_> = cases
                .into_iter()
                .filter(|c| {
                    a.select.is_empty() || a.select.iter().any(|p| scenario::glob(p, &c.id))
                })
                .collect();
            suite::results(target.name(), started, t0.elapsed(), &opts, cases)
        }
        _ => {
            let all = load(&scenario_dir(&a.scenarios))?;
            let chosen: Vec<&Scenario> = all
                .iter()
                .filter(|s| scenario::selected(s, &a.select))
                .collect();
            if chosen.is_empty() {
                return Err(format!("no scenario matches {}", a.select.join(" ")));
            }
            let bar = if a.quiet {
                indicatif::ProgressBar::hidden()
            } else {
                let b = indicatif::ProgressBar::new(chosen.len() as u64);
                b.set_style(
                    indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            };
            let r = suite::run(&chosen, &opts, |c| {
                bar.set_message(c.id.clone());
                bar.inc(1);
                if matches!(c.outcome, Outcome::Fail | Outcome::Warn) {
                    bar.println(format!(
                        "{:?} {}: {}",
                        c.outcome,
                        c.id,
                        c.reason.as_deref().unwrap_or("")
                    ));
                }
            });
            bar.finish_and_clear();
            let r = r?;
            if !a.quiet {
                print_coverage(&all);
            }
            r
        }
    };
    write_outputs(&results, &a.out)?;
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
    print!(
        "{}",
        rtmfp_reports::summary_text_with_report(&results, color, Some(&a.out.join("index.html")))
    );
    Ok(if results.must_failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_outputs(results: &Results, out: &std::path::Path) -> Result<(), String> {
    let json = serde_json::to_string_pretty(results).map_err(|e| e.to_string())?;
    let p = out.join("results.json");
    std::fs::write(&p, json).map_err(|e| format!("{}: {e}", p.display()))?;
    let p = out.join("junit.xml");
    std::fs::write(&p, rtmfp_reports::junit_xml(results))
        .map_err(|e| format!("{}: {e}", p.display()))?;
    rtmfp_reports::render_site(results, out).map_err(|e| e.to_string())
}
