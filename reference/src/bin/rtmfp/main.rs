//! `rtmfp`: the reference RTMFP peer (serve, connect) and capture decoder (dump).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod connect;
mod dump;
mod peer;
mod serve;

#[derive(Parser)]
#[command(
    name = "rtmfp",
    version,
    about = "RTMFP (RFC 7016) reference peer and capture decoder"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a pcap/pcapng capture of RTMFP traffic, decrypting with a key log.
    Dump(dump::Args),
    /// Run a responder that echoes (or sinks) every flow, until SIGINT/SIGTERM.
    Serve(serve::Args),
    /// Open a session, send data on flows, wait for acks (and echo), print a summary.
    Connect(connect::Args),
}

/// One clear error line and exit status 2.
pub fn fail(cmd: &str, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("rtmfp {cmd}: {msg}");
    ExitCode::from(2)
}

/// Logs to stderr: warnings by default, `-v` info, `-vv` debug; RUST_LOG overrides.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Dump(args) => dump::run(args),
        Command::Serve(args) => {
            init_logging(args.verbose);
            serve::run(args)
        }
        Command::Connect(args) => {
            init_logging(args.verbose);
            connect::run(args)
        }
    }
}
