//! `rtmfp-reports`: renders a `results.json` of `rtmfp-conformance run` as a static HTML
//! site, JUnit XML or a terminal summary.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rtmfp_reports::{ReportError, junit_xml, load_results, render_site, summary_text_with_report};

#[derive(Parser)]
#[command(name = "rtmfp-reports", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render the HTML report (index.html, requirements.html, cases/) into a directory
    /// and print a summary.
    Render {
        /// The results file (`results.json`).
        results: PathBuf,
        /// The output directory (created if needed).
        #[arg(long, short)]
        out: PathBuf,
        /// Do not print the summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write JUnit XML to a file, or to standard output.
    Junit {
        /// The results file (`results.json`).
        results: PathBuf,
        /// The output file (standard output if absent).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Render the fuzzing page (fuzzing.html) from fuzz summaries.
    Fuzzing {
        /// `rtmfp-fuzz run-all`'s summary (fuzz/summary.json).
        #[arg(long)]
        libfuzzer: Option<PathBuf>,
        /// `rtmfp-conformance fuzz`'s summary (its --out DIR/summary.json).
        #[arg(long)]
        live: Option<PathBuf>,
        /// The output directory (created if needed).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Print the terminal summary.
    Summary {
        /// The results file (`results.json`).
        results: PathBuf,
        /// Colour: auto (when standard output is a terminal and NO_COLOR is unset),
        /// always or never.
        #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
        color: String,
    },
}

fn color_auto() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn run(cli: Cli) -> Result<(), ReportError> {
    match cli.command {
        Command::Render {
            results,
            out,
            quiet,
        } => {
            let r = load_results(&results)?;
            render_site(&r, &out)?;
            if !quiet {
                let index = out.join("index.html");
                print!(
                    "{}",
                    summary_text_with_report(&r, color_auto(), Some(&index))
                );
            }
        }
        Command::Junit { results, out } => {
            let xml = junit_xml(&load_results(&results)?);
            match out {
                Some(path) => write(&path, &xml)?,
                None => print!("{xml}"),
            }
        }
        Command::Fuzzing {
            libfuzzer,
            live,
            out,
        } => {
            let load = |p: &Option<PathBuf>| -> Result<Option<serde_json::Value>, ReportError> {
                let Some(p) = p else { return Ok(None) };
                let text = std::fs::read_to_string(p).map_err(|source| ReportError::Read {
                    path: p.clone(),
                    source,
                })?;
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|source| ReportError::Json {
                        path: p.clone(),
                        source,
                    })
            };
            let (l, v) = (load(&libfuzzer)?, load(&live)?);
            let html = rtmfp_reports::fuzzing::render(l.as_ref(), v.as_ref())?;
            std::fs::create_dir_all(&out).map_err(|source| ReportError::Write {
                path: out.clone(),
                source,
            })?;
            let page = out.join("fuzzing.html");
            write(&page, &html)?;
            println!("{}", page.display());
        }
        Command::Summary { results, color } => {
            let r = load_results(&results)?;
            let color = match color.as_str() {
                "always" => true,
                "never" => false,
                _ => color_auto(),
            };
            print!("{}", summary_text_with_report(&r, color, None));
        }
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtmfp-reports: {e}");
            ExitCode::from(2)
        }
    }
}
