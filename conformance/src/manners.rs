//! Unix manners of the command line: colour (`--color`, `NO_COLOR`), one logging
//! convention (`RUST_LOG`, `-v`/`-q`), and output into a closed pipe
//! (`rtmfp-conformance list | head`) ending the program quietly instead of a panic.

use std::io::{IsTerminal, Write};

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when the output is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (`tty`) or is not a terminal.
    pub fn enabled(self, tty: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        }
    }
    pub fn stdout(self) -> bool {
        self.enabled(std::io::stdout().is_terminal())
    }
    pub fn stderr(self) -> bool {
        self.enabled(std::io::stderr().is_terminal())
    }
}

/// The log level for `-v` counts and `-q`.
pub fn level(verbose: u8, quiet: bool) -> &'static str {
    if quiet {
        return "error";
    }
    match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

/// Logs to stderr at [`level`], `RUST_LOG` overriding it.
pub fn init_logging(verbose: u8, quiet: bool, color: ColorChoice) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level(verbose, quiet)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color.stderr())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Writes to stdout; a closed pipe ends the program with status 0 (the reader
/// has what it wanted), any other error with status 2.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("rtmfp-conformance: stdout: {e}");
        std::process::exit(2);
    }
}

/// [`out`] with a newline.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::manners::out(&format!("{}\n", format_args!($($t)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_choices_ignore_the_terminal() {
        assert!(ColorChoice::Always.enabled(false));
        assert!(!ColorChoice::Never.enabled(true));
        assert!(!ColorChoice::Auto.enabled(false));
        assert_eq!(level(0, true), "error");
        assert_eq!(level(2, false), "debug");
    }
}
