//! The `run` options for live stacks: concurrency (`--jobs`), slow cases
//! (`--include-slow`), declared target settings (`--target-keepalive` ...) and
//! listen mode's initiator command; how they become [`Options`].

use std::time::Duration;

use crate::declared::{Declared, parse_duration_arg};
use crate::scenario::Scenario;
use crate::suite::{Options, Target};

/// Options of `run` for live stacks.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LiveArgs {
    /// Cases running at once, each with its own tester socket [default: 4
    /// against a live stack, one per core against the reference target; 1 when
    /// the tester's port is fixed (--bind or --listen with a port)].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Also run the cases tagged `slow` against a live stack (waits the RFC
    /// imposes in real time, e.g. the 120 s receive-flow linger). Selecting
    /// `tag:slow` or a slow case by its ID runs it too.
    #[arg(long)]
    pub include_slow: bool,
    /// Listen mode: start the stack's initiator with this shell command for each
    /// case and stop it (its process group) when the case ends; `{addr}`,
    /// `{host}` and `{port}` are the tester's address for the case. With
    /// `--listen HOST:0` every case listens on its own port and cases run
    /// concurrently.
    #[arg(long, value_name = "CMD", requires = "listen")]
    pub initiator_cmd: Option<String>,
    /// The stack's keepalive period (cases that need an idle target's Ping run
    /// against it, their time bounds stretched to fit).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub target_keepalive: Option<Duration>,
    /// The stack closes (orderly) a session idle for this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub target_idle_close: Option<Duration>,
    /// The stack accepts flows and discards their data, without an echo
    /// (implies --no-echo). Without it, cases that need a sink reject the echo's
    /// return flow instead.
    #[arg(long)]
    pub target_sinks: bool,
    /// The stack's application rejects every incoming flow (implies --no-echo).
    #[arg(long)]
    pub target_rejects_flows: bool,
    /// The stack's receive buffer per flow, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub target_receive_buffer: Option<usize>,
}

impl LiveArgs {
    /// The declared settings.
    pub fn declared(&self) -> Declared {
        Declared {
            keepalive: self.target_keepalive,
            idle_close: self.target_idle_close,
            sinks: self.target_sinks,
            rejects_flows: self.target_rejects_flows,
            receive_buffer: self.target_receive_buffer,
        }
    }

    /// Whether any declaration was made (they apply to live stacks only).
    pub fn declares(&self) -> bool {
        self.declared() != Declared::default()
    }

    /// Completes `opts` (target, bind and echo already set): jobs, slow cases,
    /// declarations, initiator; adds the options to the re-run command.
    pub fn apply(
        &self,
        opts: &mut Options,
        select: &[String],
        chosen: &[&Scenario],
    ) -> Result<(), String> {
        let live = !matches!(opts.target, Target::Reference | Target::Pcap { .. });
        if !live && self.declares() {
            return Err(
                "--target-keepalive, --target-idle-close, --target-sinks, --target-rejects-flows and --target-receive-buffer describe a live stack (--target udp://... or --listen)"
                    .into(),
            );
        }
        let fixed_port = match &opts.target {
            Target::Listen(a) => a.port() != 0,
            Target::Udp(_) => opts.bind.port() != 0,
            _ => false,
        };
        opts.jobs = match self.jobs {
            Some(0) => return Err("--jobs 0: give at least 1".into()),
            Some(n) if n > 1 && fixed_port => {
                return Err(format!(
                    "--jobs {n}: the tester's port is fixed, so cases run one at a time (give port 0 to run them concurrently)"
                ));
            }
            Some(n) => n,
            None if fixed_port => 1,
            None => crate::schedule::default_jobs(live),
        };
        opts.declared = self.declared();
        if self.target_sinks || self.target_rejects_flows {
            opts.echo = false;
        }
        opts.initiator_cmd = self.initiator_cmd.clone();
        if let Some(cmd) = &self.initiator_cmd
            && !["{addr}", "{port}"].iter().any(|p| cmd.contains(p))
            && !fixed_port
        {
            return Err(format!(
                "--initiator-cmd `{cmd}`: with --listen on port 0 the command must name the tester's {{addr}} or {{port}}"
            ));
        }
        // Slow cases wait in real time only against a live stack; the
        // simulated reference target runs them in no time.
        let asked = |s: &Scenario| {
            select
                .iter()
                .any(|p| p == "tag:slow" || p.as_str() == s.id.as_str())
        };
        opts.skip_slow = live && !self.include_slow;
        if opts.skip_slow
            && chosen
                .iter()
                .filter(|s| s.tags.iter().any(|t| t == "slow"))
                .any(|s| asked(s))
        {
            // Slow cases asked for by name or tag.
            opts.skip_slow = false;
        }
        let mut extra = opts.declared.args();
        if let Some(n) = self.jobs {
            extra.push(format!("--jobs {n}"));
        }
        if let Some(c) = &self.initiator_cmd {
            extra.push(format!("--initiator-cmd '{}'", c.replace('\'', "'\\''")));
        }
        for e in extra {
            opts.rerun.push(' ');
            opts.rerun.push_str(&e);
        }
        Ok(())
    }

    /// How many selected cases a run left out as slow (for the summary).
    pub fn left_out(results: &rtmfp_reports::model::Results) -> usize {
        results
            .cases
            .iter()
            .filter(|c| {
                c.outcome == rtmfp_reports::model::Outcome::Skipped
                    && c.reason
                        .as_deref()
                        .is_some_and(|r| r.starts_with("left out: tagged slow"))
            })
            .count()
    }
}
