//! `rtmfp-conformance`: run the RFC 7016 conformance suite against the built-in
//! reference implementation, a live stack over UDP, or a capture.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use rtmfp_conformance::embedded::{self, Sources};
use rtmfp_conformance::manners::ColorChoice;
use rtmfp_conformance::outln;
use rtmfp_conformance::requirements::{self, Keyword};
use rtmfp_conformance::scenario::{self, Scenario};
use rtmfp_conformance::suite::{self, Expectations, Options, ProfileName, Target};
use rtmfp_reports::model::{Outcome, Results};

#[derive(Parser, Debug)]
#[command(
    name = "rtmfp-conformance",
    version,
    about = "RTMFP (RFC 7016) conformance suite",
    after_help = AFTER_HELP
)]
struct Cli {
    /// More logging to stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Errors only: no progress bar, no warnings (RUST_LOG overrides).
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    /// Colour in the terminal output (auto: when a terminal and NO_COLOR is unset).
    #[arg(
        long,
        value_enum,
        default_value = "auto",
        global = true,
        value_name = "WHEN"
    )]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = concat!(
    "Examples:\n",
    "  rtmfp-conformance run                                   # the built-in reference target\n",
    "  rtmfp-conformance run --target udp://127.0.0.1:1935     # a live stack (IPv6: udp://[::1]:1935)\n",
    "  rtmfp-conformance list 'handshake.*' | head\n",
    "  rtmfp-conformance diff old/results.json new/results.json\n",
    "\n",
    "Exit status: 0 no MUST failure, 1 a MUST failure, 2 bad input, 3 the target did\n",
    "not complete a preflight handshake or its keys disagree, 130 interrupted.\n",
    "\n",
    "Logging goes to stderr: warnings by default, -v info, -vv debug, -vvv trace, -q errors only.\n",
    "RUST_LOG (e.g. RUST_LOG=rtmfp=debug) overrides -v/-q. Colour: --color auto|always|never;\n",
    "NO_COLOR=1 turns it off under auto."
);

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenarios (or check a capture) and write a report.
    #[command(after_help = RUN_EXAMPLES)]
    Run(Box<RunArgs>),
    /// List the RFC's requirements with their observability and scenario coverage.
    #[command(
        after_help = "Examples:\n  rtmfp-conformance requirements | grep 'NOT COVERED'\n  rtmfp-conformance requirements --json > requirements.json"
    )]
    Requirements {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        scenarios: ScenarioArgs,
    },
    /// List the scenarios.
    #[command(
        after_help = "Examples:\n  rtmfp-conformance list\n  rtmfp-conformance list 'handshake.*' tag:flows §3.5.2\n  rtmfp-conformance list --scenarios my-scenarios --no-builtin"
    )]
    List {
        /// Selection as for `run`.
        select: Vec<String>,
        #[command(flatten)]
        scenarios: ScenarioArgs,
    },
    /// List the faults `run --inject` can put into the reference target.
    #[command(after_help = "Example:\n  rtmfp-conformance run --inject wrong-mode 'session.*'")]
    Faults,
    /// List the liberties `run --liberty` lets the reference target take:
    /// behaviours the RFC allows that it does not use by default.
    Liberties,
    /// List the rules checked on recordings (the pcap target and `invariants` steps)
    #[command(
        after_help = "Example:\n  rtmfp-conformance run --target 'pcap:capture.pcap?keys=capture.keys'"
    )]
    Invariants,
    /// Compare two runs' results.json: what got better, what got worse.
    #[command(
        after_help = "Examples:\n  rtmfp-conformance diff before/results.json after/results.json\n  rtmfp-conformance diff before/results.json after/results.json --out after/\n\nExit status: 0, or 1 when a case got worse."
    )]
    Diff {
        /// The earlier run's results.json (or its report directory).
        old: PathBuf,
        /// The later run's results.json (or its report directory).
        new: PathBuf,
        /// Also write the comparison as DIR/diff.html.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  rtmfp-conformance completions bash > /etc/bash_completion.d/rtmfp-conformance\n  rtmfp-conformance completions zsh > ~/.zfunc/_rtmfp-conformance"
    )]
    Completions { shell: clap_complete::Shell },
    /// Write man pages (one per subcommand) into a directory.
    #[command(
        after_help = "Example:\n  rtmfp-conformance man --out /usr/local/share/man/man1 && man rtmfp-conformance-run"
    )]
    Man {
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
    /// Run the suite against several stacks and write one matrix page.
    Matrix(rtmfp_conformance::matrix::MatrixArgs),
    /// Fuzz a live stack over UDP (structure-aware mutations inside a real session).
    Fuzz(Box<rtmfp_conformance::fuzz::Args>),
}

const RUN_EXAMPLES: &str = "Examples:
  rtmfp-conformance run                                    # every case, built-in reference target
  rtmfp-conformance run 'handshake.*' §3.5.2 tag:flows     # a selection
  rtmfp-conformance run --target udp://127.0.0.1:1935      # a live stack; the tester initiates
  rtmfp-conformance run --target udp://[::1]:1935 --profile plain --epd server
  rtmfp-conformance run --listen 127.0.0.1:19350           # a live initiator comes to the tester
  rtmfp-conformance run --target 'pcap:cap.pcap?keys=cap.keys'
  rtmfp-conformance run --scenarios my-scenarios           # add (or replace by ID) scenarios

A live target must first complete one handshake (the preflight, ~8 s at most)
and answer a Ping under the session key (a target deriving other session keys
is `keying failed`, said once for the run); otherwise the run stops with exit
status 3 and says what the tester sent and what it saw.
Ctrl-C stops after the running case and still writes the report (marked
interrupted); a second Ctrl-C exits at once.";

/// Where scenarios come from.
#[derive(clap::Args, Debug, Clone)]
struct ScenarioArgs {
    /// A scenario directory added to the built-in scenarios (a scenario with the
    /// ID of a built-in one replaces it); repeatable.
    #[arg(long, value_name = "DIR")]
    scenarios: Vec<PathBuf>,
    /// Leave the built-in scenarios out (only those of --scenarios).
    #[arg(long, requires = "scenarios")]
    no_builtin: bool,
}

impl ScenarioArgs {
    fn sources(&self) -> Sources {
        Sources {
            dirs: self.scenarios.clone(),
            no_builtin: self.no_builtin,
        }
    }
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
    /// Let the reference target take an RFC-allowed liberty (see
    /// `rtmfp-conformance liberties`); repeatable, `all` for every one.
    #[arg(long, value_name = "LIBERTY")]
    liberty: Vec<String>,
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
    /// The tester's local address for the udp target (default: any address of
    /// the target's family, IPv4 or IPv6).
    #[arg(long, value_name = "ADDR:PORT")]
    bind: Option<SocketAddr>,
    /// Report directory (results.json, junit.xml, index.html, evidence/).
    #[arg(long, default_value = "reports/out", value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    scenarios: ScenarioArgs,
    /// Skip the handshake that checks a live target answers before the suite.
    #[arg(long)]
    no_preflight: bool,
    #[command(flatten)]
    live: rtmfp_conformance::live::LiveArgs,
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

/// Everything main needs besides the subcommand.
struct Ui {
    color: ColorChoice,
    quiet: bool,
}

fn load(src: &Sources, ui: &Ui) -> Result<Vec<Scenario>, String> {
    let known = requirements::catalogue()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    embedded::load(src, &known)
        .map_err(|e| rtmfp_conformance::diagnostic::render(&e, ui.color.stderr()))
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    rtmfp_conformance::manners::init_logging(cli.verbose, cli.quiet, cli.color);
    let ui = Ui {
        color: cli.color,
        quiet: cli.quiet,
    };
    let r = match cli.command {
        Command::Run(a) => {
            let rerun = rerun_command(&a.select);
            run(*a, &ui, rerun)
        }
        Command::Fuzz(a) => rtmfp_conformance::fuzz::run(&a).map(|clean| {
            if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }),
        Command::Requirements { json, scenarios } => {
            list_requirements(json, &scenarios.sources(), &ui)
        }
        Command::List { select, scenarios } => list(&select, &scenarios.sources(), &ui),
        Command::Invariants => {
            for i in rtmfp_conformance::invariants::INVARIANTS {
                outln!(
                    "{:22} {:6} {:40} {}",
                    i.name,
                    if i.should { "should" } else { "must" },
                    i.requirements.join(" "),
                    i.title
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Matrix(m) => rtmfp_conformance::matrix::run(m),
        Command::Faults => {
            for (name, what) in rtmfp::session::config::Faults::ALL {
                outln!("{name:24} {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Liberties => {
            for l in rtmfp_conformance::liberties::LIBERTIES {
                println!("{:24} {}\n{:24} RFC {}", l.name, l.what, "", l.rfc);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff { old, new, out } => {
            rtmfp_conformance::diff::command(&old, &new, out.as_deref(), ui.color.stdout())
        }
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "rtmfp-conformance", &mut buf);
            rtmfp_conformance::manners::out(&String::from_utf8_lossy(&buf));
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out } => man_pages(&out),
    };
    match r {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rtmfp-conformance: {e}");
            ExitCode::from(2)
        }
    }
}

/// `man`: one page per command (`rtmfp-conformance.1`, `rtmfp-conformance-run.1`, ...).
fn man_pages(dir: &std::path::Path) -> Result<ExitCode, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let cmd = Cli::command();
    let write = |name: String, c: clap::Command| -> Result<(), String> {
        let p = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        // A page is named for its command (`rtmfp-conformance-run`); clap keeps
        // names as `&'static str`.
        clap_mangen::Man::new(c.name(&*Box::leak(name.clone().into_boxed_str())))
            .render(&mut buf)
            .map_err(|e| e.to_string())?;
        std::fs::write(&p, buf).map_err(|e| format!("{}: {e}", p.display()))?;
        outln!("{}", p.display());
        Ok(())
    };
    for sub in cmd.get_subcommands() {
        write(format!("rtmfp-conformance-{}", sub.get_name()), sub.clone())?;
    }
    write("rtmfp-conformance".into(), cmd)?;
    Ok(ExitCode::SUCCESS)
}

fn list(select: &[String], src: &Sources, ui: &Ui) -> Result<ExitCode, String> {
    for s in load(src, ui)?
        .iter()
        .filter(|s| scenario::selected(s, select))
    {
        outln!(
            "{:40} {:9} {}",
            s.id,
            format!("{:?}", s.role).to_lowercase(),
            s.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Per group: (in the RFC, wire-observable, claimed by a scenario, proven).
pub fn coverage(scenarios: &[Scenario]) -> BTreeMap<&'static str, (usize, usize, usize, usize)> {
    let obs = requirements::observability();
    let claimed: std::collections::BTreeSet<&str> = scenarios
        .iter()
        .flat_map(|s| s.requirements.iter().map(|r| r.as_str()))
        .collect();
    let proven = rtmfp_conformance::proofs::proven(scenarios);
    let mut out: BTreeMap<&'static str, (usize, usize, usize, usize)> = BTreeMap::new();
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
            if claimed.contains(r.id.as_str()) {
                e.2 += 1;
                if proven.contains_key(&r.id) {
                    e.3 += 1;
                }
            }
        }
    }
    out
}

fn print_coverage(scenarios: &[Scenario]) {
    for (group, (all, observable, claimed, proven)) in coverage(scenarios) {
        let pct = |n: usize| (n * 100).checked_div(observable).unwrap_or(0);
        outln!(
            "coverage {group}: proven {proven}/{observable} ({}%), claimed {claimed}/{observable} ({}%) of the wire-observable requirements, {all} in the RFC",
            pct(proven),
            pct(claimed)
        );
    }
}

fn list_requirements(json: bool, src: &Sources, ui: &Ui) -> Result<ExitCode, String> {
    let scenarios = load(src, ui)?;
    let obs = requirements::observability();
    let mut cases: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in &scenarios {
        for r in &s.requirements {
            cases.entry(r.as_str()).or_default().push(s.id.as_str());
        }
    }
    let proven = rtmfp_conformance::proofs::proven(&scenarios);
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
                    m.insert(
                        "proven_by".into(),
                        serde_json::json!(
                            proven
                                .get(&r.id)
                                .map(|p| p
                                    .iter()
                                    .map(
                                        |(case, how)| serde_json::json!({"case": case, "how": how})
                                    )
                                    .collect::<Vec<_>>())
                                .unwrap_or_default()
                        ),
                    );
                }
                j
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut unproven = Vec::new();
    for r in requirements::catalogue() {
        let o = obs.get(&r.id);
        let status = match (o.is_some_and(|o| o.observable), cases.get(r.id.as_str())) {
            (false, _) => "not observable".to_string(),
            (true, None) => "NOT COVERED".to_string(),
            (true, Some(c)) => match proven.get(&r.id) {
                Some(p) => format!("proven {}/{}", p.len(), c.len()),
                None => {
                    if r.keyword.is_absolute() {
                        unproven.push(format!("{} ({})", r.id, c.join(", ")));
                    }
                    format!("claimed {}", c.len())
                }
            },
        };
        let text: String = r.text.chars().take(90).collect();
        outln!(
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
    outln!(
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
    if !unproven.is_empty() {
        println!(
            "MUST-level claims without proof ({}): {}",
            unproven.len(),
            unproven.join("; ")
        );
    }
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

fn run(a: RunArgs, ui: &Ui, rerun: String) -> Result<ExitCode, String> {
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
    if !a.liberty.is_empty() && target != Target::Reference {
        return Err("--liberty only applies to --target reference".into());
    }
    rtmfp_conformance::liberties::expand(&a.liberty)?;
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
    // The tester binds the target's address family unless told otherwise.
    let bind = a.bind.unwrap_or_else(|| match &target {
        Target::Udp(t) if t.is_ipv6() => "[::]:0".parse().expect("valid"),
        _ => "0.0.0.0:0".parse().expect("valid"),
    });
    let stop = rtmfp_conformance::interrupt::Stop::install()
        .map_err(|e| format!("cannot handle SIGINT/SIGTERM: {e}"))?;
    let mut opts = Options {
        target: target.clone(),
        profile: a.profile,
        seed: a.seed,
        inject: a.inject.clone(),
        liberties: a.liberty.clone(),
        out: Some(a.out.clone()),
        epd,
        echo: !a.no_echo,
        time_scale: a.time_scale,
        bind,
        rerun,
        expectations,
        stop,
        tester_identity,
        target_dh_key_from_first_option: false,
        tc_app: a.tc_app.clone(),
        ..Options::default()
    };
    if let Some(arg) = opts.identity_arg() {
        // The identity was defaulted: a case's re-run command names it.
        opts.rerun = format!("{} {arg}", opts.rerun);
    }
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let results = match &target {
        Target::Pcap { file, keys } => {
            let t0 = std::time::Instant::now();
            let started = suite::chrono_like_now();
            let (cases, notes) = rtmfp_conformance::capture_check::check_capture_noting(
                file,
                keys.as_deref(),
                &opts.rerun,
                Some(&a.out),
            )?;
            for n in notes.truncated.iter().chain(&notes.inconclusive) {
                eprintln!("rtmfp-conformance: {n}");
            }
            let cases: Vec<_> = cases
                .into_iter()
                .filter(|c| {
                    a.select.is_empty() || a.select.iter().any(|p| scenario::glob(p, &c.id))
                })
                .collect();
            let mut r = suite::results(target.name(), started, t0.elapsed(), &opts, cases);
            r.inconclusive = notes.inconclusive;
            rtmfp_conformance::proofs::mark(&mut r, &[]);
            r
        }
        _ => {
            let all = load(&a.scenarios.sources(), ui)?;
            let chosen: Vec<&Scenario> = all
                .iter()
                .filter(|s| scenario::selected(s, &a.select))
                .collect();
            if chosen.is_empty() {
                return Err(format!("no scenario matches {}", a.select.join(" ")));
            }
            a.live.apply(&mut opts, &a.select, &chosen)?;
            // Listen mode with --initiator-cmd: the initiator is started per
            // case, and a case it never reaches is unsupported by itself.
            let per_case_initiator =
                matches!(target, Target::Listen(_)) && opts.initiator_cmd.is_some();
            if !a.no_preflight
                && !per_case_initiator
                && let Err(e) = rtmfp_conformance::preflight::check(&opts)
            {
                eprintln!("rtmfp-conformance: {e}");
                return Ok(ExitCode::from(
                    rtmfp_conformance::preflight::EXIT_UNREACHABLE,
                ));
            }
            let bar = if ui.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
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
            let mut r = r?;
            rtmfp_conformance::proofs::mark(&mut r, &all);
            if !ui.quiet {
                print_coverage(&all);
            }
            r
        }
    };
    write_outputs(&results, &a.out)?;
    rtmfp_conformance::manners::out(&rtmfp_reports::summary_text_with_report(
        &results,
        ui.color.stdout(),
        Some(&a.out.join("index.html")),
    ));
    let slow = rtmfp_conformance::live::LiveArgs::left_out(&results);
    if slow > 0 {
        rtmfp_conformance::manners::out(&format!(
            "{slow} case(s) tagged slow left out (real-time waits the RFC imposes): add --include-slow\n"
        ));
    }
    Ok(if results.interrupted.is_some() {
        ExitCode::from(130)
    } else if results.must_failed() {
        ExitCode::from(1)
    } else if results.inconclusive.is_some() {
        // Not everything could be judged (e.g. capture datagrams without keys).
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// The re-run command: this invocation as typed (the binary's name as invoked,
/// every option and its value), without the case selection (each case appends
/// its own ID).
fn rerun_command(select: &[String]) -> String {
    let cmd = Cli::command();
    let run = cmd.find_subcommand("run").cloned().unwrap_or_default();
    // Whether option `tok` (without `=value`) takes the next word as its value.
    let takes_value = |tok: &str| -> bool {
        if tok.contains('=') {
            return false;
        }
        let is = |a: &clap::Arg| match tok.strip_prefix("--") {
            Some(long) => a.get_long() == Some(long),
            None => {
                let short = tok.trim_start_matches('-');
                short.chars().count() == 1 && a.get_short() == short.chars().next()
            }
        };
        cmd.get_arguments()
            .chain(run.get_arguments())
            .find(|a| is(a))
            .is_some_and(|a| a.get_action().takes_values())
    };
    let mut out = Vec::new();
    let mut left: Vec<&String> = select.iter().collect();
    let (mut in_run, mut value_next, mut positional_only) = (false, false, false);
    for (i, tok) in std::env::args().enumerate() {
        let keep = if i == 0 || value_next {
            value_next = false;
            true
        } else if !in_run {
            in_run = tok == "run";
            value_next = tok.starts_with('-') && takes_value(&tok);
            true
        } else if !positional_only && tok == "--" {
            positional_only = true;
            false
        } else if !positional_only && tok.starts_with('-') && tok.len() > 1 {
            value_next = takes_value(&tok);
            true
        } else if let Some(p) = left.iter().position(|s| **s == tok) {
            left.remove(p);
            false
        } else {
            true
        };
        if keep {
            out.push(shell_quote(&tok));
        }
    }
    out.join(" ")
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
