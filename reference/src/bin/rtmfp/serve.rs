//! `rtmfp serve`: a responder that accepts flows and echoes each one back on a
//! return flow (or sinks it), until SIGINT/SIGTERM, then closes its sessions.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use rtmfp::app::Echo;
use rtmfp::endpoint::{Endpoint, Event};
use rtmfp::runtime::{Control, Driver};
use rtmfp::session::config::EndpointConfig;

use crate::peer::{CryptoArgs, log_keys};

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
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
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
    let endpoint = Endpoint::new(EndpointConfig::default(), profile.clone(), seed);
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
    let stop = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
    };
    let limit = args.duration.map(Duration::from_secs_f64);
    let result = driver
        .run(limit, stop, |ep, now, ev| {
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
                    tracing::info!(session = session.0, reason, "session closed")
                }
                Event::Session { session, event } => {
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
