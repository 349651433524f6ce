//! `rtmfp serve`: a responder that accepts flows and echoes each one back on a
//! return flow (or sinks it), until SIGINT/SIGTERM, then closes its sessions.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use std::collections::BTreeMap;

use rtmfp::app::Echo;
use rtmfp::endpoint::{Endpoint, Event};
use rtmfp::runtime::{Control, Driver};
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::time::Instant;

use crate::peer::{CryptoArgs, TransportArgs, log_keys};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// More logging to stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Address to listen on (repeatable, e.g. one IPv4 and one IPv6).
    #[arg(long, value_name = "ADDR:PORT", required = true)]
    bind: Vec<SocketAddr>,
    #[command(flatten)]
    crypto: CryptoArgs,
    #[command(flatten)]
    transport: TransportArgs,
    /// Certificate hostname (flash) or identity (plain; default "server").
    #[arg(long)]
    name: Option<String>,
    /// Echo every flow back on a return flow (the default).
    #[arg(long, conflicts_with = "sink")]
    echo: bool,
    /// Accept and discard flows instead of echoing them.
    #[arg(long)]
    sink: bool,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    duration: Option<f64>,
    /// Print a JSON line of state and counters to stdout every SECONDS
    /// (`state_size` = bytes held for peers, sessions, drops by reason).
    #[arg(long, value_name = "SECONDS", value_parser = period)]
    stats: Option<f64>,
    /// Print a JSON line for every completed receiving flow (bytes, seconds
    /// from its first to its last message, bytes/s, CPU time of the process).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// A number of seconds a `Duration` can hold: finite, from 0 to 10^9.
fn seconds(s: &str) -> Result<f64, String> {
    crate::peer::number_in(s, 1e9, "1e9", "seconds")
}

/// A period in seconds: as [`seconds`], and above 0.
fn period(s: &str) -> Result<f64, String> {
    match seconds(s)? {
        0.0 => Err("a period of 0 seconds".into()),
        v => Ok(v),
    }
}

/// What hostile peers can make the server hold (issue 15; defaults in
/// `rtmfp::session::config::Limits`). Each limit hit has a drop counter.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Receiving flows open at once per session (more: Flow Exception).
    #[arg(long, value_name = "N")]
    max_flows_per_session: Option<usize>,
    /// Bytes one session's flows may hold (receive buffers and undelivered
    /// messages; also the session's send queues).
    #[arg(long, value_name = "BYTES")]
    max_session_buffer: Option<usize>,
    /// Bytes all sessions' receiving flows may hold together.
    #[arg(long, value_name = "BYTES")]
    max_buffer_total: Option<usize>,
    /// Sessions at once (more: the IIKeying is not answered).
    #[arg(long, value_name = "N")]
    max_sessions: Option<usize>,
    /// Sessions being opened at once.
    #[arg(long, value_name = "N")]
    max_half_open: Option<usize>,
    /// Bytes queued per sending flow before `send` would block.
    #[arg(long, value_name = "BYTES")]
    send_buffer: Option<usize>,
    /// Receive buffer per flow, advertised in acks.
    #[arg(long, value_name = "BYTES")]
    receive_buffer: Option<usize>,
    /// Startup answers (RHello, Cookie Change, ...) per second, in total.
    #[arg(long, value_name = "N")]
    startup_answers_per_second: Option<u32>,
    /// Startup answers per second to one source address.
    #[arg(long, value_name = "N")]
    startup_answers_per_source: Option<u32>,
}

impl LimitArgs {
    fn config(&self) -> EndpointConfig {
        let mut c = EndpointConfig::default();
        let l = &mut c.limits;
        let set = |v: Option<usize>, f: &mut usize| {
            if let Some(v) = v {
                *f = v
            }
        };
        set(self.max_flows_per_session, &mut l.max_flows_per_session);
        set(self.max_session_buffer, &mut l.max_session_buffer);
        set(self.max_buffer_total, &mut l.max_buffer_total);
        set(self.max_sessions, &mut l.max_sessions);
        set(self.max_half_open, &mut l.max_half_open);
        set(self.send_buffer, &mut l.send_buffer);
        if let Some(v) = self.startup_answers_per_second {
            l.startup_answers_per_second = v;
        }
        if let Some(v) = self.startup_answers_per_source {
            l.startup_answers_per_source_per_second = v;
        }
        set(self.receive_buffer, &mut c.receive_buffer);
        c
    }
}

/// One `--stats` line.
fn stats_line(ep: &Endpoint, echo: &Echo, uptime: Duration) -> String {
    serde_json::json!({
        "uptime_s": uptime.as_secs_f64(),
        "state_size": ep.state_size(),
        "sessions": ep.sessions().count(),
        "half_open": ep.sessions().filter(|s| s.half_open()).count(),
        "echo_pending_bytes": echo.pending_bytes(),
        "echo_stalls": echo.stalls,
        "datagrams_in": ep.stats.datagrams_in,
        "datagrams_out": ep.stats.datagrams_out,
        "bytes_in": ep.stats.bytes_in,
        "bytes_out": ep.stats.bytes_out,
        "drops": ep.stats.drops,
    })
    .to_string()
}

pub fn run(args: Args) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return crate::fail("serve", e),
    };
    rt.block_on(serve(args))
}

async fn serve(args: Args) -> ExitCode {
    let seed = args.crypto.seed();
    let profile = match args.crypto.profile(true, args.name.as_deref(), seed) {
        Ok(p) => p,
        Err(e) => return crate::fail("serve", e),
    };
    let mut keylog = match args.crypto.keylog() {
        Ok(k) => k,
        Err(e) => return crate::fail("serve", e),
    };
    let mut config = args.limits.config();
    args.transport.apply(&mut config);
    let endpoint = Endpoint::new(config, profile.clone(), seed);
    let mut driver = match Driver::bind(endpoint, &args.bind).await {
        Ok(d) => d,
        Err(e) => return crate::fail("serve", format!("cannot bind {:?}: {e}", args.bind)),
    };
    let fingerprint = hex::encode(rtmfp::crypto::flash::cert::fingerprint(
        profile.certificate(),
    ));
    tracing::info!(addrs = ?driver.local_addrs(), profile = profile.name(), fingerprint, "serving");
    println!(
        "listening on {:?} ({}; fingerprint {fingerprint})",
        driver.local_addrs(),
        profile.name()
    );
    let mut echo = Echo::new(args.sink);
    // SIGINT/SIGTERM set `stopped` and wake the running slice.
    let stopped = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(Notify::new());
    {
        let (stopped, wake) = (stopped.clone(), wake.clone());
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            stopped.store(true, Ordering::SeqCst);
            wake.notify_one();
        });
    }
    // Per receiving flow: (first message, last message, bytes).
    let mut received: BTreeMap<(u64, u64), (Instant, Instant, u64)> = BTreeMap::new();
    let started = tokio::time::Instant::now();
    let end = args.duration.map(|d| started + Duration::from_secs_f64(d));
    let every = args.stats.map(Duration::from_secs_f64);
    // Runs in slices of the --stats period (one slice without it).
    while !stopped.load(Ordering::SeqCst) {
        let left = end.map(|e| e.saturating_duration_since(tokio::time::Instant::now()));
        if left == Some(Duration::ZERO) {
            break;
        }
        let slice = match (every, left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let result = driver
            .run(slice, wake.notified(), |ep, now, ev| {
                log_keys(&mut keylog, &ev);
                match ev {
                    Event::SessionOpened {
                        session,
                        far_address,
                        role,
                        ..
                    } => {
                        tracing::info!(session = session.0, %far_address, ?role, "session open")
                    }
                    Event::SessionClosed { session, reason } => {
                        echo.forget_session(session);
                        tracing::info!(session = session.0, reason, "session closed")
                    }
                    Event::Session { session, event } => {
                        if args.json {
                            flow_json(&mut received, session.0, now, &event);
                        }
                        #[cfg(feature = "planted-crash")]
                        planted_crash(&event);
                        echo.on_event(ep, now, session, event)
                    }
                    other => tracing::debug!(?other, "event"),
                }
                Control::Continue
            })
            .await;
        if let Err(e) = result {
            return crate::fail("serve", e);
        }
        if every.is_some() {
            println!("{}", stats_line(&driver.endpoint, &echo, started.elapsed()));
        }
        if slice.is_none() {
            break;
        }
    }
    // Flows still receiving at the end (e.g. a sender that never closes).
    if args.json {
        for ((session, flow), (first, last, bytes)) in std::mem::take(&mut received) {
            print_flow_json("flow_open", session, flow, first, last, bytes);
        }
    }
    // Orderly close of every session (§3.5.5), then a moment for the Close Acks.
    let now = driver.now();
    driver.endpoint.close_all(now, false);
    let _ = driver
        .run(
            Some(Duration::from_millis(1500)),
            std::future::pending::<()>(),
            |ep, _, _| {
                if ep.sessions().next().is_none() {
                    Control::Stop
                } else {
                    Control::Continue
                }
            },
        )
        .await;
    println!(
        "echoed/sunk {} messages, {} bytes; drops: {:?}",
        echo.messages, echo.bytes, driver.endpoint.stats.drops
    );
    ExitCode::SUCCESS
}

/// The `planted-crash` feature's bug: a new flow with an empty metadata option
/// and a return flow association (a combination only a session's User Data can
/// carry) kills the process, as a memory-safety bug would.
#[cfg(feature = "planted-crash")]
fn planted_crash(event: &rtmfp::session::SessionEvent) {
    if let rtmfp::session::SessionEvent::FlowOpened {
        metadata,
        association: Some(_),
        ..
    } = event
        && metadata.is_empty()
    {
        eprintln!("planted crash: empty flow metadata with a return association");
        std::process::abort();
    }
}

/// `--json`: counts received bytes per flow; prints a line when a flow completes.
fn flow_json(
    received: &mut BTreeMap<(u64, u64), (Instant, Instant, u64)>,
    session: u64,
    now: Instant,
    event: &SessionEvent,
) {
    match event {
        SessionEvent::Message { flow, data } => {
            let e = received.entry((session, *flow)).or_insert((now, now, 0));
            e.1 = now;
            e.2 += data.len() as u64;
        }
        SessionEvent::FlowComplete { flow } => {
            let (first, last, bytes) = received.remove(&(session, *flow)).unwrap_or((now, now, 0));
            print_flow_json("flow_complete", session, *flow, first, last, bytes);
        }
        _ => {}
    }
}

/// One `--json` line: a flow's received bytes, the seconds from its first to
/// its last message, bytes/s, and the CPU time of the process so far.
fn print_flow_json(
    event: &str,
    session: u64,
    flow: u64,
    first: Instant,
    last: Instant,
    bytes: u64,
) {
    let seconds = (last - first).as_secs_f64();
    let (user, sys) = crate::cpu_seconds();
    println!(
        "{}",
        serde_json::json!({
            "event": event,
            "session": session,
            "flow": flow,
            "bytes": bytes,
            "seconds": seconds,
            "bytes_per_s": if seconds > 0.0 { bytes as f64 / seconds } else { 0.0 },
            "cpu_user_s": user,
            "cpu_sys_s": sys,
        })
    );
}
