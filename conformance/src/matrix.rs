//! `rtmfp-conformance matrix FILE.yaml`: the suite against several stacks, one
//! page (like the QUIC interop runner's): cases down, stacks across, each cell
//! linking to that case's page (expectation, trace, sequence chart, pcap) in
//! the stack's own full report.
//!
//! The file lists stacks; each is started as a responder (its command, in a
//! process group of its own, on loopback), the suite runs against it, and it is
//! stopped; with an initiator command the cases where the stack must initiate
//! run in listen mode, the command started once per case.
//!
//! ```yaml
//! stacks:
//!   - name: mystack
//!     responder: ./mystack --listen {addr}
//!     address: 127.0.0.1:47300
//!     profile: flash
//! ```

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use rtmfp_reports::model::{Case, Outcome, Results};

use crate::declared::Declared;
use crate::initiator::{Started, substitute};
use crate::scenario::{self, Role, Scenario};
use crate::suite::{self, Options, ProfileName, Target};

/// `rtmfp-conformance matrix` options.
#[derive(clap::Args, Debug)]
pub struct MatrixArgs {
    /// The stacks to test (YAML: `stacks:` with name, responder, address,
    /// profile, and optionally initiator, epd, echo, settings).
    pub file: PathBuf,
    /// Cases to run, as for `run` (default: all).
    pub select: Vec<String>,
    /// Output directory: matrix.html, matrix.json and one full report per stack.
    #[arg(long, default_value = "reports/matrix", value_name = "DIR")]
    pub out: PathBuf,
    /// Cases running at once against each stack.
    #[arg(long, value_name = "N", default_value_t = crate::schedule::DEFAULT_LIVE_JOBS)]
    pub jobs: usize,
    /// Also run the cases tagged `slow` (real-time waits the RFC imposes).
    #[arg(long)]
    pub include_slow: bool,
    /// Scenario directory.
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// Seed of the tester's randomness.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print only the matrix's summary.
    #[arg(long)]
    pub quiet: bool,
}

/// The matrix file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    pub stacks: Vec<Stack>,
}

fn yes() -> bool {
    true
}

/// One stack (a column).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Its column title.
    pub name: String,
    /// The shell command that starts it as a responder (`{addr}`, `{host}`,
    /// `{port}`: its `address`). Absent: it is already running there.
    #[serde(default)]
    pub responder: Option<String>,
    /// Where it answers (loopback).
    #[serde(default)]
    pub address: Option<SocketAddr>,
    /// The shell command that starts it as an initiator toward the tester
    /// (`{addr}`, `{host}`, `{port}`: the tester), once per case.
    #[serde(default)]
    pub initiator: Option<String>,
    /// Its cryptography profile.
    #[serde(default = "flash")]
    pub profile: Profile,
    /// The EPD selecting it (as `run --epd`).
    #[serde(default)]
    pub epd: Option<String>,
    /// It echoes flows back on a return flow (`rtmfp serve` does).
    #[serde(default = "yes")]
    pub echo: bool,
    /// What it declares (keepalive, idle_close, sinks, rejects_flows,
    /// receive_buffer), as `run --target-...`.
    #[serde(default)]
    pub settings: Declared,
    /// Multiplies every time bound (slow stacks).
    #[serde(default)]
    pub time_scale: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    Flash,
    Plain,
}

fn flash() -> Profile {
    Profile::Flash
}

impl MatrixFile {
    pub fn load(path: &Path) -> Result<MatrixFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let m: MatrixFile = serde_yaml_ng::from_str(&text).map_err(|e| {
            let (l, c) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            format!(
                "{}:{l}:{c}: {}",
                path.display(),
                e.to_string().split(" at line ").next().unwrap_or_default()
            )
        })?;
        if m.stacks.is_empty() {
            return Err(format!("{}: no stacks", path.display()));
        }
        let mut slugs = BTreeMap::new();
        for s in &m.stacks {
            let at = |msg: String| format!("{}: stack `{}`: {msg}", path.display(), s.name);
            if s.responder.is_some() && s.address.is_none() {
                return Err(at("a responder command needs its `address`".into()));
            }
            if s.address.is_none() && s.initiator.is_none() {
                return Err(at("give an `address` (responder) or an `initiator`".into()));
            }
            if let Some(a) = s.address
                && !a.ip().is_loopback()
            {
                return Err(at(format!("{a}: the matrix runs stacks on loopback only")));
            }
            if let Some(t) = s.time_scale
                && !(t > 0.0 && t.is_finite())
            {
                return Err(at(format!("time_scale {t}: must be a positive number")));
            }
            if let Some(prev) = slugs.insert(slug(&s.name), &s.name) {
                return Err(at(format!("its name is too close to `{prev}`'s")));
            }
        }
        Ok(m)
    }
}

/// A directory name for a stack.
pub fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "stack".into() } else { s }
}

// ------------------------------------------------------------------- output

/// One cell: a case's outcome on a stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The case's page, relative to matrix.html.
    pub page: String,
    /// The case's pcap, relative to matrix.html.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcap: Option<String>,
    /// Which run it came from: `udp` (the tester initiated) or `listen`.
    pub run: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub profile: Profile,
    pub slug: String,
    /// The runs' full reports, relative to matrix.html.
    pub reports: Vec<String>,
    pub duration_ms: u64,
    /// Outcome -> count over the cells.
    pub counts: BTreeMap<String, usize>,
    /// Why the stack could not be tested at all, if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What went wrong while it was tested (e.g. it died).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    pub level: String,
    /// One per column; none where the stack could not be tested.
    pub cells: Vec<Option<Cell>>,
}

/// matrix.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Matrix {
    pub started: String,
    pub duration_ms: u64,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

// ------------------------------------------------------------------ running

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

/// Waits until something holds `addr` (our bind fails with "in use"), or
/// the responder exits, or `limit` passes.
fn wait_bound(addr: SocketAddr, proc: &mut Started, limit: Duration) -> Result<(), String> {
    let t0 = Instant::now();
    loop {
        match UdpSocket::bind(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Ok(()),
            Err(e) => return Err(format!("cannot check {addr}: {e}")),
            Ok(s) => drop(s),
        }
        if let Some(st) = proc.exited() {
            return Err(format!(
                "the responder exited ({st}) before listening on {addr}"
            ));
        }
        if t0.elapsed() > limit {
            return Err(format!(
                "the responder did not listen on {addr} within {} s",
                limit.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write_report(results: &Results, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_string_pretty(results).map_err(|e| e.to_string())?;
    let p = dir.join("results.json");
    std::fs::write(&p, json).map_err(|e| format!("{}: {e}", p.display()))?;
    let p = dir.join("junit.xml");
    std::fs::write(&p, rtmfp_reports::junit_xml(results))
        .map_err(|e| format!("{}: {e}", p.display()))?;
    rtmfp_reports::render_site(results, dir).map_err(|e| e.to_string())
}

fn base_options(stack: &Stack, args: &MatrixArgs) -> Result<Options, String> {
    let profile = match stack.profile {
        Profile::Flash => ProfileName::Flash,
        Profile::Plain => ProfileName::Plain,
    };
    let epd = match &stack.epd {
        None => None,
        Some(spec) => Some(match profile {
            ProfileName::Plain => spec.as_bytes().to_vec(),
            ProfileName::Flash => rtmfp::crypto::flash::epd::Epd::from_spec(spec)
                .map_err(|e| format!("stack `{}`: epd: {e}", stack.name))?,
        }),
    };
    let declared = stack.settings.clone();
    Ok(Options {
        profile,
        seed: args.seed,
        epd,
        echo: stack.echo && !declared.sinks && !declared.rejects_flows,
        time_scale: stack.time_scale.unwrap_or(1.0),
        bind: "127.0.0.1:0".parse().expect("valid"),
        jobs: args.jobs.max(1),
        skip_slow: !args.include_slow,
        declared,
        ..Options::default()
    })
}

fn rerun(stack: &Stack, target: &str, opts: &Options) -> String {
    let mut v = vec![format!(
        "cargo run --release -p rtmfp-conformance -- run {target}"
    )];
    if opts.profile == ProfileName::Plain {
        v.push("--profile plain".into());
    }
    if let Some(e) = &stack.epd {
        v.push(format!("--epd '{e}'"));
    }
    if !stack.echo && !opts.declared.sinks && !opts.declared.rejects_flows {
        v.push("--no-echo".into());
    }
    if let Some(t) = stack.time_scale {
        v.push(format!("--time-scale {t}"));
    }
    v.extend(opts.declared.args());
    v.extend(opts.identity_arg());
    v.join(" ")
}

/// One stack's runs, each with its directory name (`udp`, `listen`), and what
/// went wrong around them.
#[derive(Debug, Default)]
pub struct StackRuns {
    pub runs: Vec<(String, Results)>,
    pub notes: Vec<String>,
}

/// Runs one stack: the responder run (if it has an address) and the listen
/// run (if it has an initiator).
fn run_stack(
    stack: &Stack,
    chosen: &[&Scenario],
    args: &MatrixArgs,
    dir: &Path,
) -> Result<StackRuns, String> {
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    let progress = |c: &Case| {
        if !args.quiet && matches!(c.outcome, Outcome::Fail | Outcome::Warn) {
            eprintln!(
                "  {:?} {}: {}",
                c.outcome,
                c.id,
                c.reason.as_deref().unwrap_or("")
            );
        }
    };
    if let Some(addr) = stack.address {
        let mut responder = match &stack.responder {
            Some(cmd) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let cmd = substitute(cmd, addr);
                if !args.quiet {
                    eprintln!("{}: starting `{cmd}`", stack.name);
                }
                let mut p = Started::spawn(&cmd, Some(&dir.join("responder.log")))?;
                wait_bound(addr, &mut p, Duration::from_secs(10))?;
                Some(p)
            }
            None => None,
        };
        let mut opts = base_options(stack, args)?;
        opts.target = Target::Udp(addr);
        opts.rerun = rerun(stack, &format!("--target udp://{addr}"), &opts);
        let out = dir.join("udp");
        opts.out = Some(out.clone());
        let mine: Vec<&Scenario> = chosen
            .iter()
            .copied()
            .filter(|s| s.role == Role::Initiator || stack.initiator.is_none())
            .collect();
        let r = suite::run(&mine, &opts, progress);
        if let Some(p) = responder.as_mut() {
            if let Some(st) = p.exited() {
                // Every case after that met nobody: say so where the
                // failures show.
                notes.push(format!(
                    "the responder died during the run ({st}; see {}/responder.log): cases after that could not reach it",
                    slug(&stack.name)
                ));
            }
            p.stop(Duration::from_millis(500));
        }
        let r = r?;
        write_report(&r, &out)?;
        runs.push(("udp".to_string(), r));
    }
    if let Some(cmd) = &stack.initiator {
        let mut opts = base_options(stack, args)?;
        opts.target = Target::Listen("127.0.0.1:0".parse().expect("valid"));
        opts.initiator_cmd = Some(cmd.clone());
        opts.rerun = format!(
            "{} --initiator-cmd '{}'",
            rerun(stack, "--listen 127.0.0.1:0", &opts),
            cmd.replace('\'', "'\\''")
        );
        let out = dir.join("listen");
        opts.out = Some(out.clone());
        let mine: Vec<&Scenario> = chosen
            .iter()
            .copied()
            .filter(|s| s.role == Role::Responder || stack.address.is_none())
            .collect();
        if !args.quiet {
            eprintln!("{}: listen mode, initiator `{cmd}` per case", stack.name);
        }
        let r = suite::run(&mine, &opts, progress)?;
        write_report(&r, &out)?;
        runs.push(("listen".to_string(), r));
    }
    Ok(StackRuns { runs, notes })
}

/// The matrix from each stack's runs (or why it could not be tested).
pub fn assemble(
    stacks: &[Stack],
    runs: &[Result<StackRuns, String>],
    chosen: &[&Scenario],
    started: String,
    took: Duration,
) -> Matrix {
    let catalogue = crate::requirements::catalogue();
    let mut columns = Vec::new();
    let mut rows: Vec<Row> = chosen
        .iter()
        .map(|s| Row {
            id: s.id.clone(),
            title: s.title.clone(),
            level: match s.level(catalogue) {
                scenario::Level::Must => "must".into(),
                scenario::Level::Should => "should".into(),
                scenario::Level::May => "may".into(),
            },
            cells: Vec::new(),
        })
        .collect();
    for (stack, run) in stacks.iter().zip(runs) {
        let sl = slug(&stack.name);
        let mut col = Column {
            name: stack.name.clone(),
            profile: stack.profile,
            slug: sl.clone(),
            reports: Vec::new(),
            duration_ms: 0,
            counts: BTreeMap::new(),
            error: None,
            notes: Vec::new(),
        };
        let mut by_id: BTreeMap<&str, (&str, &Case)> = BTreeMap::new();
        match run {
            Err(e) => col.error = Some(e.clone()),
            Ok(sr) => {
                col.notes = sr.notes.clone();
                for (kind, r) in &sr.runs {
                    col.reports.push(format!("{sl}/{kind}/index.html"));
                    col.duration_ms += r.duration_ms;
                    for c in &r.cases {
                        by_id.insert(c.id.as_str(), (kind.as_str(), c));
                    }
                }
            }
        }
        for row in &mut rows {
            let cell = by_id.get(row.id.as_str()).map(|(kind, c)| Cell {
                outcome: c.outcome,
                reason: c.reason.clone(),
                page: format!("{sl}/{kind}/cases/{}", rtmfp_reports::case_file_name(&c.id)),
                pcap: c
                    .evidence
                    .as_ref()
                    .and_then(|e| e.pcap.as_ref())
                    .map(|p| format!("{sl}/{kind}/{p}")),
                run: kind.to_string(),
            });
            if let Some(c) = &cell {
                *col.counts
                    .entry(outcome_name(c.outcome).into())
                    .or_default() += 1;
            }
            row.cells.push(cell);
        }
        columns.push(col);
    }
    Matrix {
        started,
        duration_ms: took.as_millis() as u64,
        columns,
        rows,
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Warn => "warn",
        Outcome::Unsupported => "unsupported",
        Outcome::Skipped => "skipped",
    }
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// matrix.html.
pub fn html(m: &Matrix) -> String {
    use std::fmt::Write;
    let mut h = String::new();
    h.push_str(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>RTMFP conformance matrix</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#f4f4f4}
td.c{text-align:center;white-space:nowrap}
td.c a{text-decoration:none;color:inherit;display:block}
.pass{background:#d8f5d8}.fail{background:#f8c9c9}.warn{background:#fbe7b5}
.unsupported{background:#eee;color:#777}.skipped{background:#f7f7f7;color:#999}
.none{background:#fff;color:#bbb}.bad{color:#b00}
small{color:#666}.pcap{font-size:11px;color:#468}
.why{font-size:11px;color:#555;white-space:normal;max-width:22em;margin:auto}
tr:hover td{outline:1px solid #bbb}
code{font-size:12px}
</style></head><body>
<h1>RTMFP (RFC 7016) conformance matrix</h1>
"#,
    );
    let _ = writeln!(
        h,
        "<p>{} cases &times; {} stacks, started {}, {:.1} s. Each cell links to the case's page \
         (expectation, decoded trace, sequence chart) in that stack's report; <span class=pcap>pcap</span> \
         is the exchange's capture (its key log is next to it). <a href=\"matrix.json\">matrix.json</a></p>",
        m.rows.len(),
        m.columns.len(),
        esc(&m.started),
        m.duration_ms as f64 / 1000.0
    );
    h.push_str("<table><thead><tr><th>case</th><th>level</th>");
    for c in &m.columns {
        let _ = write!(
            h,
            "<th>{}<br><small>{}",
            esc(&c.name),
            match c.profile {
                Profile::Flash => "flash",
                Profile::Plain => "plain",
            }
        );
        for (i, r) in c.reports.iter().enumerate() {
            let _ = write!(
                h,
                " &middot; <a href=\"{}\">{}</a>",
                esc(r),
                if r.contains("/listen/") {
                    "listen report"
                } else if i == 0 {
                    "report"
                } else {
                    "report 2"
                }
            );
        }
        let _ = write!(h, "<br>{:.1} s", c.duration_ms as f64 / 1000.0);
        for k in ["pass", "fail", "warn", "unsupported", "skipped"] {
            if let Some(n) = c.counts.get(k) {
                let _ = write!(h, " &middot; {k} {n}");
            }
        }
        if let Some(e) = &c.error {
            let _ = write!(h, "<br><b>not tested:</b> {}", esc(e));
        }
        for n in &c.notes {
            let _ = write!(h, "<br><b class=bad>{}</b>", esc(n));
        }
        h.push_str("</small></th>");
    }
    h.push_str("</tr></thead><tbody>\n");
    for r in &m.rows {
        let _ = write!(
            h,
            "<tr><td><code>{}</code><br><small>{}</small></td><td>{}</td>",
            esc(&r.id),
            esc(&r.title),
            esc(&r.level)
        );
        for cell in &r.cells {
            match cell {
                None => h.push_str("<td class=\"c none\">&ndash;</td>"),
                Some(c) => {
                    let o = outcome_name(c.outcome);
                    let _ = write!(
                        h,
                        "<td class=\"c {o}\" title=\"{}\"><a href=\"{}\">{o}</a>",
                        esc(c.reason.as_deref().unwrap_or("")),
                        esc(&c.page)
                    );
                    if let Some(p) = &c.pcap {
                        let _ = write!(h, "<a class=pcap href=\"{}\">pcap</a>", esc(p));
                    }
                    if c.outcome != Outcome::Pass
                        && let Some(r) = &c.reason
                    {
                        let short: String = r.chars().take(90).collect();
                        let more = if short.len() < r.len() { "…" } else { "" };
                        let _ = write!(h, "<div class=why>{}{more}</div>", esc(&short));
                    }
                    h.push_str("</td>");
                }
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></body></html>\n");
    h
}

/// The `matrix` command.
pub fn run(args: MatrixArgs) -> Result<ExitCode, String> {
    let file = MatrixFile::load(&args.file)?;
    let known = crate::requirements::catalogue()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let all =
        scenario::load_dir(&scenario_dir(&args.scenarios), &known).map_err(|e| e.to_string())?;
    let chosen: Vec<&Scenario> = all
        .iter()
        .filter(|s| scenario::selected(s, &args.select))
        .collect();
    if chosen.is_empty() {
        return Err(format!("no scenario matches {}", args.select.join(" ")));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let started = suite::chrono_like_now();
    let t0 = Instant::now();
    let mut runs = Vec::new();
    for stack in &file.stacks {
        let dir = args.out.join(slug(&stack.name));
        let r = run_stack(stack, &chosen, &args, &dir);
        match &r {
            Ok(sr) => {
                for (kind, res) in &sr.runs {
                    let c = res.counts();
                    println!(
                        "{} ({kind}): {} cases in {:.1} s: {c:?}",
                        stack.name,
                        res.cases.len(),
                        res.duration_ms as f64 / 1000.0,
                    );
                }
                for n in &sr.notes {
                    println!("{}: {n}", stack.name);
                }
            }
            Err(e) => println!("{}: not tested: {e}", stack.name),
        }
        runs.push(r);
    }
    let m = assemble(&file.stacks, &runs, &chosen, started, t0.elapsed());
    let p = args.out.join("matrix.json");
    std::fs::write(
        &p,
        serde_json::to_string_pretty(&m).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", p.display()))?;
    let p = args.out.join("matrix.html");
    std::fs::write(&p, html(&m)).map_err(|e| format!("{}: {e}", p.display()))?;
    println!("matrix: {}", p.display());
    let failed = m
        .rows
        .iter()
        .any(|r| r.cells.iter().flatten().any(|c| c.outcome == Outcome::Fail));
    let untested = m
        .columns
        .iter()
        .any(|c| c.error.is_some() || !c.notes.is_empty());
    Ok(if failed || untested {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, outcome: Outcome) -> Case {
        Case {
            id: id.into(),
            title: "t".into(),
            rfc: vec![],
            requirements: vec![],
            tags: vec![],
            level: "must".into(),
            outcome,
            reason: Some("because <b>".into()),
            duration_ms: 1,
            rerun: String::new(),
            steps: vec![],
            evidence: Some(rtmfp_reports::model::Evidence {
                packets: vec![],
                pcap: Some(format!("evidence/{id}.pcap")),
                keylog: None,
            }),
        }
    }

    #[test]
    fn cells_link_to_the_case_page_of_the_run_that_judged_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let p = dir.join("s");
        std::fs::create_dir_all(p.join("x")).unwrap();
        std::fs::write(
            p.join("x/a.yaml"),
            "id: x.a\ntitle: A\nrfc: [\"7016 §3.5\"]\nrole: initiator\nsteps: [{connect: {}}]\n",
        )
        .unwrap();
        std::fs::write(
            p.join("x/b.yaml"),
            "id: x.b\ntitle: B\nrfc: [\"7016 §3.5\"]\nrole: responder\nsteps: [{accept: {}}]\n",
        )
        .unwrap();
        let all = scenario::load_dir(&p, &Default::default()).unwrap();
        let chosen: Vec<&Scenario> = all.iter().collect();
        let stacks: Vec<Stack> = serde_yaml_ng::from_str(
            "[{name: One, address: 127.0.0.1:1, initiator: x}, {name: Two, address: 127.0.0.1:2}]",
        )
        .unwrap();
        let opts = Options::default();
        let mk = |cases| suite::results("t".into(), "now".into(), Duration::ZERO, &opts, cases);
        let runs = vec![
            Ok(StackRuns {
                runs: vec![
                    ("udp".to_string(), mk(vec![case("x.a", Outcome::Pass)])),
                    ("listen".to_string(), mk(vec![case("x.b", Outcome::Fail)])),
                ],
                notes: vec!["the responder died".into()],
            }),
            Err("the responder exited".to_string()),
        ];
        let m = assemble(&stacks, &runs, &chosen, "now".into(), Duration::ZERO);
        let a = m.rows.iter().find(|r| r.id == "x.a").unwrap();
        let b = m.rows.iter().find(|r| r.id == "x.b").unwrap();
        let cell = a.cells[0].as_ref().unwrap();
        assert_eq!(cell.page, "one/udp/cases/x.a.html");
        assert_eq!(cell.pcap.as_deref(), Some("one/udp/evidence/x.a.pcap"));
        let cell = b.cells[0].as_ref().unwrap();
        assert_eq!((cell.outcome, cell.run.as_str()), (Outcome::Fail, "listen"));
        assert_eq!(cell.page, "one/listen/cases/x.b.html");
        assert!(a.cells[1].is_none() && m.columns[1].error.is_some());
        assert_eq!(m.columns[0].counts.get("fail"), Some(&1));
        let page = html(&m);
        assert!(page.contains("href=\"one/listen/cases/x.b.html\""));
        assert!(page.contains("because &lt;b&gt;") && !page.contains("because <b>"));
        assert!(page.contains("not tested:</b> the responder exited"));
        assert!(page.contains("the responder died"));
    }

    #[test]
    fn a_stack_takes_four_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let p = dir.join("m.yaml");
        std::fs::write(
            &p,
            "stacks:\n  - name: My Stack 1.0\n    responder: ./mystack --bind {addr}\n    address: 127.0.0.1:47300\n    profile: plain\n",
        )
        .unwrap();
        let m = MatrixFile::load(&p).unwrap();
        assert_eq!(m.stacks[0].profile, Profile::Plain);
        assert!(m.stacks[0].echo);
        assert_eq!(slug(&m.stacks[0].name), "my-stack-1-0");
        std::fs::write(
            &p,
            "stacks:\n  - name: x\n    responder: ./x\n    address: 10.0.0.1:1\n",
        )
        .unwrap();
        let e = MatrixFile::load(&p).unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        std::fs::write(&p, "stacks:\n  - name: x\n    responder: ./x\n").unwrap();
        assert!(MatrixFile::load(&p).unwrap_err().contains("address"));
        std::fs::write(&p, "stacks:\n  - name: x\n    adress: 127.0.0.1:1\n").unwrap();
        let e = MatrixFile::load(&p).unwrap_err();
        assert!(e.contains("m.yaml:3:"), "{e}");
    }
}
