//! `rtmfp connect`: an initiator that opens flows, sends data, waits for its
//! acknowledgement (and echo), closes, and prints a summary. Exit 0 only on success.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use rtmfp::endpoint::{Event, SessionHandle, State};
use rtmfp::runtime::{Control, Driver};
use rtmfp::session::SessionEvent;
use rtmfp::session::config::EndpointConfig;
use rtmfp::session::data::FlowOptions;
use rtmfp::time::Instant;
use serde::Serialize;

use crate::peer::{CryptoArgs, ProfileName, TransportArgs, log_keys, parse_epd};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// More logging to stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The responder, ADDR:PORT or HOST:PORT (IPv6: [::1]:1935); more than one:
    /// parallel open, the first to answer wins.
    #[arg(value_name = "HOST:PORT", required = true, value_parser = resolve)]
    target: Vec<SocketAddr>,
    #[command(flatten)]
    crypto: CryptoArgs,
    #[command(flatten)]
    transport: TransportArgs,
    /// Endpoint discriminator. flash: comma-separated any | uri:URI |
    /// hostname:NAME | fingerprint:HEX | hex:BYTES (default any); plain: the
    /// responder's identity (default "server").
    #[arg(long)]
    epd: Option<String>,
    /// Our certificate hostname (flash) or identity (plain, default "client").
    #[arg(long)]
    name: Option<String>,
    /// Local address (default: the wildcard address of the target's family).
    #[arg(long, value_name = "ADDR:PORT")]
    bind: Option<SocketAddr>,
    /// Number of flows to open.
    #[arg(long, default_value_t = 1)]
    flows: u32,
    /// Total bytes to send, spread over the flows.
    #[arg(long, default_value_t = 1 << 20)]
    bytes: u64,
    /// Size of each message.
    #[arg(long, default_value_t = 16384)]
    message_size: usize,
    /// Flow metadata.
    #[arg(long, default_value = "rtmfp-conformance")]
    metadata: String,
    /// Require every flow to be echoed back on a return flow, byte for byte.
    #[arg(long)]
    expect_echo: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Keep the session open this many seconds after the transfer (answering
    /// Pings, accepting and acknowledging flows), e.g. for a conformance tester.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    linger: f64,
    /// Print the summary as one JSON line (with bytes_per_s and CPU time).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    ok: bool,
    profile: &'static str,
    far_address: Option<SocketAddr>,
    far_fingerprint: Option<String>,
    handshake_ms: Option<f64>,
    flows: u32,
    bytes_sent: u64,
    bytes_acked: u64,
    bytes_echoed: u64,
    duration_s: f64,
    throughput_mbit_s: f64,
    fragments_sent: u64,
    retransmissions: u64,
    srtt_ms: Option<f64>,
    erto_ms: Option<f64>,
    /// Acknowledged bytes per second, from session open to the last ack.
    bytes_per_s: f64,
    /// CPU time of this process (user, system), in seconds.
    cpu_user_s: f64,
    cpu_sys_s: f64,
    errors: Vec<String>,
}

struct FlowState {
    /// The flow's position among the flows (for the message pattern).
    index: u32,
    /// Bytes handed to the flow so far.
    queued: u64,
    /// Closed once every byte was queued (without --expect-echo).
    closed: bool,
    expect: Vec<u8>,
    echoed: Vec<u8>,
    complete: bool,
    echo_complete: bool,
}

pub fn run(args: Args) -> ExitCode {
    for (name, v) in [("--timeout", args.timeout), ("--linger", args.linger)] {
        if !(v.is_finite() && (0.0..=1e9).contains(&v)) {
            return crate::fail(
                "connect",
                format!("{name} {v}: expected a number of seconds >= 0"),
            );
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return crate::fail("connect", e),
    };
    rt.block_on(connect(args))
}

fn pattern(flow: u32, offset: u64, len: usize) -> Vec<u8> {
    // Byte k of the flow is (k * 31 + flow * 7) mod 251: a period of 251 bytes,
    // so one period is computed and copied.
    let period: Vec<u8> = (0..251u64)
        .map(|k| ((k * 31 + u64::from(flow) * 7) % 251) as u8)
        .collect();
    let mut out = Vec::with_capacity(len);
    let mut at = (offset % 251) as usize;
    while out.len() < len {
        let n = (251 - at).min(len - out.len());
        out.extend_from_slice(&period[at..at + n]);
        at = 0;
    }
    out
}

/// `HOST:PORT` (a name or an address; IPv6 in brackets) to its first address.
fn resolve(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    if !s
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
    {
        return Err(format!(
            "`{s}`: expected HOST:PORT (the port is missing or not a number)"
        ));
    }
    s.to_socket_addrs()
        .map_err(|e| format!("`{s}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{s}`: the name has no address"))
}

/// The local address the system would use to reach `target` (so that key logs
/// name the real source address), port 0; the wildcard if that cannot be found.
fn local_for(target: SocketAddr) -> SocketAddr {
    let wildcard: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        "[::]:0".parse().expect("valid")
    };
    std::net::UdpSocket::bind(wildcard)
        .and_then(|s| {
            s.connect(target)?;
            s.local_addr()
        })
        .map(|a| SocketAddr::new(a.ip(), 0))
        .unwrap_or(wildcard)
}

/// At most this many bytes of a flow wait unacknowledged at once (like
/// rtmfp-cpp's 1 MiB send buffer): `--bytes N` is fed as the flow drains.
const SEND_BUFFER: usize = 1 << 20;

/// Queues more messages on every flow whose unacknowledged bytes are below
/// [`SEND_BUFFER`]; closes a flow once all its bytes are queued (unless an
/// echo is expected: §3.6.3.1 step 7 makes the responder's return flow
/// invalid once the flow it answers is no longer F_OPEN).
fn feed(
    ep: &mut rtmfp::endpoint::Endpoint,
    now: Instant,
    s: SessionHandle,
    flows: &mut BTreeMap<u64, FlowState>,
    args: &Args,
    per_flow: u64,
) -> Result<(), String> {
    for (&f, st) in flows.iter_mut() {
        let mut buffered = ep
            .session(s)
            .and_then(|x| x.data().send_flow(f))
            .map_or(0, |x| x.queued_bytes());
        while st.queued < per_flow && buffered < SEND_BUFFER {
            let n = (per_flow - st.queued).min(args.message_size as u64) as usize;
            let m = pattern(st.index, st.queued, n);
            match ep.send(now, s, f, &m, None) {
                Ok(_) => {}
                // The flow's (or the session's) send buffer is full: the next
                // tick tops it up again.
                Err(rtmfp::flow::FlowError::WouldBlock) => break,
                Err(e) => return Err(format!("send: {e}")),
            }
            if args.expect_echo {
                st.expect.extend_from_slice(&m);
            }
            st.queued += n as u64;
            buffered += n;
        }
        if st.queued == per_flow && !args.expect_echo && !st.closed {
            let _ = ep.close_flow(now, s, f);
            st.closed = true;
        }
    }
    Ok(())
}

async fn connect(args: Args) -> ExitCode {
    let seed = args.crypto.seed();
    let profile = match args.crypto.profile(false, args.name.as_deref(), seed) {
        Ok(p) => p,
        Err(e) => return crate::fail("connect", e),
    };
    let default_epd = if args.crypto.profile == ProfileName::Plain {
        "server"
    } else {
        "any"
    };
    let epd = match parse_epd(
        args.crypto.profile,
        args.epd.as_deref().unwrap_or(default_epd),
    ) {
        Ok(e) => e,
        Err(e) => return crate::fail("connect", e),
    };
    if args.message_size == 0 || args.flows == 0 {
        return crate::fail("connect", "--message-size and --flows must be positive");
    }
    let mut keylog = match args.crypto.keylog() {
        Ok(k) => k,
        Err(e) => return crate::fail("connect", e),
    };
    let bind = args.bind.unwrap_or_else(|| local_for(args.target[0]));
    let mut config = EndpointConfig::default();
    args.transport.apply(&mut config);
    let endpoint = rtmfp::endpoint::Endpoint::new(config, profile.clone(), seed);
    let mut driver = match Driver::bind(endpoint, &[bind]).await {
        Ok(d) => d,
        Err(e) => return crate::fail("connect", format!("cannot bind {bind}: {e}")),
    };
    let start = driver.now();
    let session: SessionHandle = driver.endpoint.connect(start, epd, &args.target);
    let mut summary = Summary {
        profile: profile.name(),
        flows: args.flows,
        ..Default::default()
    };
    let flows: RefCell<BTreeMap<u64, FlowState>> = RefCell::new(BTreeMap::new());
    let mut returns: BTreeMap<u64, u64> = BTreeMap::new();
    let mut opened_at: Option<Instant> = None;
    let mut failed: Option<String> = None;
    let per_flow = args.bytes / u64::from(args.flows);
    let expect_echo = args.expect_echo;
    let limit = Duration::from_secs_f64(args.timeout);
    let feed_failed: RefCell<Option<String>> = RefCell::new(None);
    // Keep each flow's send buffer topped up as it drains (the driver calls
    // this once per turn, after each batch of received datagrams).
    let tick = |ep: &mut rtmfp::endpoint::Endpoint, now: Instant| {
        let mut fl = flows.borrow_mut();
        if fl
            .values()
            .any(|f| f.queued < per_flow || (!args.expect_echo && !f.closed))
            && let Err(e) = feed(ep, now, session, &mut fl, &args, per_flow)
        {
            feed_failed.borrow_mut().get_or_insert(e);
        }
    };
    let result = driver
        .run_with_tick(
            Some(limit),
            std::future::pending::<()>(),
            |ep, now, ev| {
                log_keys(&mut keylog, &ev);
                if let Some(e) = feed_failed.borrow_mut().take() {
                    failed = Some(e);
                    return Control::Stop;
                }
                let mut flows = flows.borrow_mut();
                match ev {
                    Event::SessionOpened {
                        session: s,
                        far_address,
                        far_certificate,
                        ..
                    } if s == session => {
                        opened_at = Some(now);
                        summary.far_address = Some(far_address);
                        summary.far_fingerprint = Some(hex::encode(
                            rtmfp::crypto::flash::cert::fingerprint(&far_certificate),
                        ));
                        for i in 0..args.flows {
                            let f = match ep.open_flow(
                                now,
                                s,
                                args.metadata.as_bytes().to_vec(),
                                None,
                                FlowOptions::default(),
                            ) {
                                Ok(f) => f,
                                Err(e) => {
                                    failed = Some(format!("open flow: {e}"));
                                    return Control::Stop;
                                }
                            };
                            flows.insert(
                                f,
                                FlowState {
                                    index: i,
                                    queued: 0,
                                    closed: false,
                                    expect: Vec::new(),
                                    echoed: Vec::new(),
                                    complete: false,
                                    echo_complete: false,
                                },
                            );
                        }
                        if let Err(e) = feed(ep, now, s, &mut flows, &args, per_flow) {
                            failed = Some(e);
                            return Control::Stop;
                        }
                    }
                    Event::SessionOpenFailed { reason, .. } => {
                        failed = Some(format!("session open failed: {reason}"));
                        return Control::Stop;
                    }
                    Event::SessionClosed { reason, .. } => {
                        failed.get_or_insert(format!("session closed: {reason}"));
                        return Control::Stop;
                    }
                    Event::Session { event, .. } => match event {
                        SessionEvent::SendFlowComplete { flow } => {
                            if let Some(f) = flows.get_mut(&flow) {
                                f.complete = true;
                            }
                        }
                        SessionEvent::SendFlowException { flow, code } => {
                            failed = Some(format!(
                                "flow {flow} rejected by the responder (exception {code})"
                            ));
                            return Control::Stop;
                        }
                        SessionEvent::FlowOpened {
                            flow, association, ..
                        } => match association {
                            Some(a) if expect_echo && flows.contains_key(&a) => {
                                returns.insert(flow, a);
                            }
                            _ if expect_echo => {
                                let _ = ep.reject_flow(now, session, flow, 0);
                            }
                            _ => {
                                // Not asked to check echoes: refuse return flows, like fcclient.
                                let _ = ep.reject_flow(now, session, flow, 0);
                            }
                        },
                        SessionEvent::Message { flow, data } => {
                            if let Some(&a) = returns.get(&flow)
                                && let Some(f) = flows.get_mut(&a)
                            {
                                f.echoed.extend_from_slice(&data);
                                summary.bytes_echoed += data.len() as u64;
                                if f.echoed.len() >= f.expect.len() {
                                    let _ = ep.close_flow(now, session, a);
                                }
                            }
                        }
                        SessionEvent::FlowComplete { flow } => {
                            if let Some(f) = returns.get(&flow).and_then(|a| flows.get_mut(a)) {
                                f.echo_complete = true;
                            }
                        }
                        SessionEvent::Gap { flow, count } if returns.contains_key(&flow) => {
                            failed = Some(format!("echo flow {flow} has a gap of {count}"));
                            return Control::Stop;
                        }
                        _ => {}
                    },
                    _ => {}
                }
                let done = !flows.is_empty()
                    && flows.values().all(|f| {
                        f.complete
                            && (!expect_echo
                                || (f.echoed.len() >= f.expect.len()
                                    && (f.echo_complete || f.echoed.len() == f.expect.len())))
                    });
                if done {
                    Control::Stop
                } else {
                    Control::Continue
                }
            },
            tick,
        )
        .await;
    let flows = flows.into_inner();
    if let Some(e) = feed_failed.into_inner() {
        failed.get_or_insert(e);
    }
    if let Err(e) = result {
        return crate::fail("connect", e);
    }
    let end = driver.now();
    // Statistics before closing.
    if let Some(s) = driver.endpoint.session(session) {
        for f in s.data().send_flows() {
            summary.bytes_sent += f.stats.bytes_queued;
            summary.bytes_acked += f.stats.bytes_acked;
            summary.fragments_sent += f.stats.fragments_sent;
            summary.retransmissions += f.stats.retransmissions;
        }
        summary.srtt_ms = s.data().rtt.srtt.map(|d| d.as_secs_f64() * 1000.0);
        summary.erto_ms = Some(s.data().rtt.erto.as_secs_f64() * 1000.0);
    }
    let complete = flows.values().filter(|f| f.complete).count();
    summary.bytes_sent = summary.bytes_sent.max(per_flow * complete as u64);
    summary.bytes_acked = summary.bytes_acked.max(per_flow * complete as u64);
    if let Some(o) = opened_at {
        summary.handshake_ms = Some((o - start).as_secs_f64() * 1000.0);
        summary.duration_s = (end - o).as_secs_f64();
        if summary.duration_s > 0.0 {
            summary.throughput_mbit_s = summary.bytes_acked as f64 * 8.0 / summary.duration_s / 1e6;
            summary.bytes_per_s = summary.bytes_acked as f64 / summary.duration_s;
        }
    }
    if let Some(f) = failed {
        summary.errors.push(f);
    }
    if opened_at.is_none() && summary.errors.is_empty() {
        summary
            .errors
            .push(format!("no session within {:.0} s", args.timeout));
    }
    for (id, f) in &flows {
        if !f.complete {
            summary
                .errors
                .push(format!("flow {id}: not completely acknowledged"));
        }
        if expect_echo && f.echoed != f.expect {
            summary.errors.push(format!(
                "flow {id}: echo mismatch ({} of {} bytes echoed{})",
                f.echoed.len(),
                f.expect.len(),
                if f.echoed.len() == f.expect.len() {
                    ", contents differ"
                } else {
                    ""
                }
            ));
        }
    }
    summary.ok = summary.errors.is_empty();
    if args.linger > 0.0
        && driver
            .endpoint
            .session(session)
            .is_some_and(|s| s.state() == State::S_OPEN)
    {
        let _ = driver
            .run(
                Some(Duration::from_secs_f64(args.linger)),
                std::future::pending::<()>(),
                |ep, _, _| {
                    if ep
                        .session(session)
                        .is_some_and(|s| s.state() == State::S_OPEN)
                    {
                        Control::Continue
                    } else {
                        Control::Stop
                    }
                },
            )
            .await;
    }
    // Orderly close (§3.5.5) and a moment for the Close Ack.
    if driver
        .endpoint
        .session(session)
        .is_some_and(|s| s.state() == State::S_OPEN)
    {
        let now = driver.now();
        driver.endpoint.close(now, session, false);
        let _ = driver
            .run(
                Some(Duration::from_secs(2)),
                std::future::pending::<()>(),
                |ep, _, _| {
                    if ep.session(session).is_none() {
                        Control::Stop
                    } else {
                        Control::Continue
                    }
                },
            )
            .await;
    }
    (summary.cpu_user_s, summary.cpu_sys_s) = crate::cpu_seconds();
    if args.json {
        // One line, for benches to read.
        println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else {
        println!(
            "{} {} profile={} handshake={} bytes_sent={} bytes_acked={} bytes_echoed={} duration={:.3}s throughput={:.2} Mbit/s retransmissions={} srtt={}",
            if summary.ok { "OK" } else { "FAILED" },
            summary
                .far_address
                .map_or("-".to_string(), |a| a.to_string()),
            summary.profile,
            summary
                .handshake_ms
                .map_or("-".to_string(), |h| format!("{h:.1}ms")),
            summary.bytes_sent,
            summary.bytes_acked,
            summary.bytes_echoed,
            summary.duration_s,
            summary.throughput_mbit_s,
            summary.retransmissions,
            summary
                .srtt_ms
                .map_or("-".to_string(), |r| format!("{r:.1}ms")),
        );
        for e in &summary.errors {
            println!("error: {e}");
        }
    }
    if summary.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
