//! `rtmfp`: the reference RTMFP peer and capture decoder.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod dump;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Dump(args) => dump::run(args),
    }
}
