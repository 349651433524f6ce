//! `rtmfp-fuzz`: writes the seed corpora and dictionary, replays inputs through a
//! target without libFuzzer, and runs every target under cargo-fuzz for N seconds
//! writing a JSON summary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod driver;

#[derive(Parser, Debug)]
#[command(
    name = "rtmfp-fuzz",
    version,
    about = "rtmfp fuzz targets: corpora, replay, run-all"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the targets.
    List,
    /// Write every target's seed corpus (from vectors/, the recordings and the
    /// scenarios) to DIR/<target>/ and the dictionary next to DIR.
    Corpus {
        #[arg(long, default_value = "fuzz/corpus")]
        out: PathBuf,
        #[arg(long, default_value = "fuzz/rtmfp.dict")]
        dict: PathBuf,
    },
    /// Write each target's libFuzzer options file (DIR/<target>.options, as
    /// OSS-Fuzz reads them: max_len).
    Options {
        #[arg(long)]
        out: PathBuf,
    },
    /// Run inputs (files or directories) through a target without libFuzzer.
    Replay {
        target: String,
        inputs: Vec<PathBuf>,
    },
    /// Run every target (or the named ones) under `cargo fuzz run` for N seconds
    /// each, one at a time, and write a JSON summary.
    RunAll(driver::RunAllArgs),
    /// Line coverage of each target's corpus (`cargo fuzz coverage` +
    /// `llvm-cov export`), added to the JSON summary.
    Coverage(driver::CoverageArgs),
    /// Flood a UDP target with distinct malformed startup packets from many
    /// source addresses, reading its resident memory (--pid) as it goes.
    Flood(rtmfp_fuzz_targets::flood::FloodArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::List => {
            for t in rtmfp_fuzz_targets::TARGETS {
                println!("{:<20} max_len {:>6}  {}", t.name, t.max_len, t.what);
            }
            Ok(())
        }
        Command::Options { out } => (|| {
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            for t in rtmfp_fuzz_targets::TARGETS {
                let p = out.join(format!("{}.options", t.name));
                std::fs::write(&p, format!("[libfuzzer]\nmax_len = {}\n", t.max_len))
                    .map_err(|e| format!("{}: {e}", p.display()))?;
            }
            println!(
                "{} options files in {}",
                rtmfp_fuzz_targets::TARGETS.len(),
                out.display()
            );
            Ok(())
        })(),
        Command::Corpus { out, dict } => (|| {
            let counts = rtmfp_fuzz_targets::seeds::write_corpus(&out)
                .map_err(|e| format!("{}: {e}", out.display()))?;
            std::fs::write(&dict, rtmfp_fuzz_targets::seeds::dictionary())
                .map_err(|e| format!("{}: {e}", dict.display()))?;
            for (t, n) in counts {
                println!("{t:<20} {n} seeds");
            }
            println!("dictionary: {}", dict.display());
            Ok(())
        })(),
        Command::Replay { target, inputs } => replay(&target, &inputs),
        Command::RunAll(a) => driver::run_all(&a),
        Command::Coverage(a) => driver::coverage(&a),
        Command::Flood(a) => rtmfp_fuzz_targets::flood::flood(&a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtmfp-fuzz: {e}");
            ExitCode::FAILURE
        }
    }
}

fn replay(target: &str, inputs: &[PathBuf]) -> Result<(), String> {
    let t = rtmfp_fuzz_targets::target(target)
        .ok_or_else(|| format!("unknown target `{target}` (see `rtmfp-fuzz list`)"))?;
    let mut files = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|e| format!("{}: {e}", p.display()))?;
            files.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        } else {
            files.push(p.clone());
        }
    }
    files.sort();
    for f in &files {
        let data = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        (t.run)(&data);
    }
    println!("{target}: {} inputs replayed, no failure", files.len());
    Ok(())
}
