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
    about = "RTMFP (RFC 7016) reference peer and capture decoder",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Errors only on stderr (RUST_LOG overrides).
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    /// Colour in log output (auto: when stderr is a terminal and NO_COLOR is unset).
    #[arg(
        long,
        value_enum,
        default_value = "auto",
        global = true,
        value_name = "WHEN"
    )]
    color: ColorWhen,
    #[command(subcommand)]
    command: Command,
}

const AFTER_HELP: &str = "Examples:
  rtmfp serve --bind 127.0.0.1:1935 --bind [::1]:1935
  rtmfp connect localhost:1935 --expect-echo
  rtmfp dump vectors/flash-echo.pcap --keys vectors/flash-echo.keys | head

Logging goes to stderr: warnings by default, -v info, -vv debug, -vvv trace (serve,
connect), -q errors only; RUST_LOG (e.g. RUST_LOG=rtmfp=debug) overrides -v/-q.
Colour: --color auto|always|never; NO_COLOR=1 turns it off under auto.";

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a pcap/pcapng capture of RTMFP traffic, decrypting with a key log.
    #[command(
        after_help = "Examples:\n  rtmfp dump capture.pcap --keys capture.keys\n  rtmfp dump capture.pcap --keys capture.keys --json | jq '.packet[0]'\n  rtmfp dump capture.pcap --port 1935 | head"
    )]
    Dump(dump::Args),
    /// Run a responder that echoes (or sinks) every flow, until SIGINT/SIGTERM.
    #[command(
        after_help = "Examples:\n  rtmfp serve --bind 127.0.0.1:1935\n  rtmfp serve --bind [::1]:1935 --profile plain --name server --sink -v"
    )]
    Serve(serve::Args),
    /// Open a session, send data on flows, wait for acks (and echo), print a summary.
    #[command(
        after_help = "Examples:\n  rtmfp connect 127.0.0.1:1935 --expect-echo\n  rtmfp connect localhost:1935 --flows 4 --bytes 4000000\n  rtmfp connect [::1]:1935 --profile plain --epd server"
    )]
    Connect(connect::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Example:\n  rtmfp completions bash > /etc/bash_completion.d/rtmfp")]
    Completions { shell: clap_complete::Shell },
    /// Write man pages (one per subcommand) into a directory.
    #[command(
        after_help = "Example:\n  rtmfp man --out /usr/local/share/man/man1 && man rtmfp-dump"
    )]
    Man {
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: std::path::PathBuf,
    },
}

/// CPU time used by this process so far: (user, system) seconds.
pub fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(u.ru_utime), secs(u.ru_stime))
}

/// One clear error line and exit status 2.
pub fn fail(cmd: &str, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("rtmfp {cmd}: {msg}");
    ExitCode::from(2)
}

/// Logs to stderr: warnings by default, `-v` info, `-vv` debug, `-q` errors
/// only; RUST_LOG overrides.
fn init_logging(verbose: u8, quiet: bool, color: ColorWhen) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let ansi = match color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

/// Man pages for the command and each subcommand.
fn man_pages(dir: &std::path::Path) -> ExitCode {
    use clap::CommandFactory;
    if let Err(e) = std::fs::create_dir_all(dir) {
        return fail("man", format!("{}: {e}", dir.display()));
    }
    let cmd = Cli::command();
    let mut pages: Vec<(String, clap::Command)> = cmd
        .get_subcommands()
        .map(|c| (format!("rtmfp-{}", c.get_name()), c.clone()))
        .collect();
    pages.push(("rtmfp".into(), cmd));
    for (name, c) in pages {
        let p = dir.join(format!("{name}.1"));
        let mut buf = Vec::new();
        if let Err(e) =
            clap_mangen::Man::new(c.name(&*Box::leak(name.into_boxed_str()))).render(&mut buf)
        {
            return fail("man", e);
        }
        if let Err(e) = std::fs::write(&p, buf) {
            return fail("man", format!("{}: {e}", p.display()));
        }
        println!("{}", p.display());
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (quiet, color) = (cli.quiet, cli.color);
    match cli.command {
        Command::Dump(args) => {
            init_logging(0, quiet, color);
            dump::run(args)
        }
        Command::Serve(args) => {
            init_logging(args.verbose, quiet, color);
            serve::run(args)
        }
        Command::Connect(args) => {
            init_logging(args.verbose, quiet, color);
            connect::run(args)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write;
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "rtmfp", &mut buf);
            let mut out = std::io::stdout().lock();
            match out.write_all(&buf).and_then(|_| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => fail("completions", e),
                _ => ExitCode::SUCCESS,
            }
        }
        Command::Man { out } => man_pages(&out),
    }
}
