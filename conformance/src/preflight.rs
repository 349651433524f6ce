//! Before a live run: one handshake with the run's profile and EPD (or, in
//! listen mode, one initiator arriving). A target that does not answer is
//! diagnosed in seconds, not judged by a whole suite of failures: the error says
//! what was seen (nothing, an ICMP port unreachable, an RHello that did not
//! open a session, answers that do not decode in the chosen profile).

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use rtmfp::decode::{DatagramRef, Decoder, ProfileChoice};
use rtmfp::endpoint::Event;

use crate::harness::{Harness, UdpHarness, WireRecord};
use crate::suite::{Options, ProfileName, Target};

/// The exit status of a run whose preflight failed (1 is a MUST failure, 2 bad
/// input).
pub const EXIT_UNREACHABLE: u8 = 3;

/// How long the preflight waits (before `--time-scale`).
pub const BUDGET: Duration = Duration::from_secs(8);

/// The EPD the run uses for a live target.
pub fn target_epd(opts: &Options) -> Result<Vec<u8>, String> {
    Ok(match (&opts.epd, opts.profile) {
        (Some(e), _) => e.clone(),
        (None, ProfileName::Flash) => rtmfp::crypto::flash::epd::Epd::from_spec("any")?,
        (None, ProfileName::Plain) => b"server".to_vec(),
    })
}

fn choice(p: ProfileName) -> ProfileChoice {
    match p {
        ProfileName::Flash => ProfileChoice::Flash,
        ProfileName::Plain => ProfileChoice::Plain,
    }
}

fn profile_flag(p: ProfileName) -> &'static str {
    match p {
        ProfileName::Flash => "flash",
        ProfileName::Plain => "plain",
    }
}

/// What the target's datagrams were: (decodable startup chunk names, number
/// that did not decode).
fn classify(
    datagrams: &[(SocketAddr, SocketAddr, Vec<u8>)],
    p: ProfileName,
) -> (Vec<String>, usize) {
    let mut dec = Decoder::new(None, choice(p));
    let mut names = Vec::new();
    let mut bad = 0;
    for (i, (src, dst, data)) in datagrams.iter().enumerate() {
        let d = dec.decode(DatagramRef {
            index: i,
            time: Duration::ZERO,
            src: *src,
            dst: *dst,
            payload: data,
        });
        match &d.packet {
            Some(pk) => names.extend(pk.chunks.iter().map(|c| c.name().to_string())),
            None => bad += 1,
        }
    }
    (names, bad)
}

/// Whether a datagram to `target` draws an ICMP port unreachable (reported on
/// a connected UDP socket as "connection refused").
fn icmp_refused(target: SocketAddr, probe: &[u8]) -> bool {
    let any: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("valid")
    } else {
        "[::]:0".parse().expect("valid")
    };
    let Ok(s) = UdpSocket::bind(any) else {
        return false;
    };
    if s.connect(target).is_err()
        || s.set_read_timeout(Some(Duration::from_millis(700)))
            .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 2048];
    for _ in 0..2 {
        if let Err(e) = s.send(probe) {
            return e.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        match s.recv(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return true,
            Ok(_) => return false,
            Err(_) => {}
        }
    }
    false
}

/// The preflight of a run: one handshake and key-agreement check with a live
/// target, one initiator arriving in listen mode, and for the reference target
/// the key-agreement check alone (a target deriving the wrong keys, e.g.
/// `--inject wrong-key-derivation`, is one diagnosis for the run). `Err` is the
/// one line to print before exiting with [`EXIT_UNREACHABLE`].
pub fn check(opts: &Options) -> Result<(), String> {
    match &opts.target {
        Target::Udp(t) => udp(opts, *t),
        Target::Listen(a) => listen(opts, *a),
        Target::Reference => reference(opts),
        Target::Pcap { .. } => Ok(()),
    }
}

/// The tester's identity of the run (as its cases use it).
fn run_identity(opts: &Options) -> Result<crate::suite::Identity, String> {
    crate::suite::identity_for(
        opts.profile,
        opts.seed,
        &opts.tester_identity(),
        opts.target_first_option(),
        "tester",
    )
}

/// The reference target with the run's faults and liberties: only a keying
/// failure stops the run here (a fault that breaks the handshake is its
/// cases' to catch).
fn reference(opts: &Options) -> Result<(), String> {
    let id = run_identity(opts)?;
    let mut cfg = rtmfp::session::config::EndpointConfig::default();
    for f in &opts.inject {
        cfg.faults.set(f)?;
    }
    let mut app = crate::liberties::AppSettings::default();
    crate::liberties::apply(
        &crate::liberties::expand(&opts.liberties)?,
        &mut cfg,
        &mut app,
    );
    let mut h =
        crate::harness::SimHarness::new(opts.seed, id.tester.clone(), id.target.clone(), cfg, app);
    let epd = id.target.canonical_epd(id.target.certificate());
    match crate::keying::preflight(&mut h, epd, crate::keying::PROBE_WAIT * 2) {
        Err(e) if e.starts_with(crate::keying::KEYING_FAILED) => Err(format!(
            "preflight: {e}\n{}",
            sent_and_seen(opts, &id, &h.records())
        )),
        _ => Ok(()),
    }
}

/// What the tester sent in a preflight and what came back, for a keying
/// failure's diagnosis.
fn sent_and_seen(opts: &Options, id: &crate::suite::Identity, records: &[WireRecord]) -> String {
    let cert = id.tester.certificate();
    let (names, undecodable) = classify(
        &records
            .iter()
            .filter(|r| !r.from_tester)
            .map(|r| (r.src, r.dst, r.data.clone()))
            .collect::<Vec<_>>(),
        opts.profile,
    );
    let identity = match opts.profile {
        ProfileName::Flash => format!("tester identity {}", opts.tester_identity().name()),
        ProfileName::Plain => "plain identity".to_string(),
    };
    format!(
        "  the tester sent: {} datagram(s): IHello, IIKeying with its certificate ({identity}, {} bytes, \
         starting {}), then Pings under the session key\n  \
         it saw: {} datagram(s) from the target: {} under the Default Session Key{}",
        records.iter().filter(|r| r.from_tester).count(),
        cert.len(),
        hex::encode(&cert[..cert.len().min(4)]),
        records.iter().filter(|r| !r.from_tester).count(),
        if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(", ")
        },
        if undecodable > 0 {
            format!(", and {undecodable} that only the session keys could open (none did)")
        } else {
            String::new()
        }
    )
}

/// One handshake with a live target at `target`, then the key-agreement
/// check (a Ping under the session key must get a verified answer); `Err`
/// says what was sent and seen.
pub fn udp(opts: &Options, target: SocketAddr) -> Result<(), String> {
    let id = run_identity(opts)?;
    let epd = target_epd(opts)?;
    let mut h = UdpHarness::new(
        id.tester.clone(),
        Some(target),
        opts.bind,
        opts.seed ^ 0x9f1,
    )
    .map_err(|e| format!("cannot bind the tester's UDP socket to {}: {e}", opts.bind))?;
    let budget = BUDGET.mul_f64(opts.time_scale.clamp(0.1, 4.0));
    let start = h.now();
    let session = h.tester().borrow_mut().connect(start, epd, &[target]);
    let mut opened = false;
    let mut failed = None;
    let mut on_event = |_, ev| match ev {
        Event::SessionOpened { session: s, .. } if s == session => {
            opened = true;
            true
        }
        Event::SessionOpenFailed { session: s, reason } if s == session => {
            failed = Some(reason);
            true
        }
        _ => false,
    };
    // A port that refuses says so at once: after a second without an answer,
    // ask (with the same IHello) before waiting out the budget.
    let mut refused = false;
    if !h.run(start + Duration::from_secs(1).min(budget), &mut on_event) {
        let records = h.records();
        if records.iter().all(|r| r.from_tester)
            && let Some(probe) = records.iter().find(|r| r.from_tester)
        {
            refused = icmp_refused(target, &probe.data);
        }
        if !refused {
            h.run(start + budget, &mut on_event);
        }
    }
    if opened {
        // RFC 7016 §4.6.5 (RFC 7425): each end derives the session keys
        // alone; a target that derived others drops everything from now on.
        let probed = crate::keying::probe(
            &mut h,
            session,
            crate::keying::PROBE_WAIT.mul_f64(opts.time_scale.clamp(0.1, 4.0)),
            &mut |_, _| {},
        );
        let now = h.now();
        h.tester().borrow_mut().close(now, session, false);
        h.run(now + Duration::from_millis(100), &mut |_, _| false);
        return probed
            .map(|_| ())
            .map_err(|e| format!("preflight: {e}\n{}", sent_and_seen(opts, &id, &h.records())));
    }
    let records = h.records();
    let answers: Vec<_> = records
        .iter()
        .filter(|r| !r.from_tester)
        .map(|r| (r.src, r.dst, r.data.clone()))
        .collect();
    let waited = format!("{:.1} s", (h.now() - start).as_secs_f64());
    let profile = profile_flag(opts.profile);
    let other = match opts.profile {
        ProfileName::Flash => "plain",
        ProfileName::Plain => "flash",
    };
    if answers.is_empty() {
        if refused {
            return Err(format!(
                "preflight: {target} refused (ICMP port unreachable): nothing listens on that UDP port; \
                 start the stack under test or fix --target"
            ));
        }
        return Err(format!(
            "preflight: no answer from {target} in {waited} ({} IHello(s) sent): nothing seen at all; \
             check the address, the port, a firewall, and that the stack is running. A stack that \
             runs but speaks the other profile, or that the EPD does not select, stays silent too: \
             check --profile (now {profile}) and --epd (now {})",
            records.iter().filter(|r| r.from_tester).count(),
            opts.epd.as_ref().map_or("the default".to_string(), |e| {
                match std::str::from_utf8(e) {
                    Ok(t) if t.chars().all(|c| c.is_ascii_graphic()) => format!("`{t}`"),
                    _ => format!("{} bytes: {}", e.len(), hex::encode(e)),
                }
            })
        ));
    }
    let (names, undecodable) = classify(&answers, opts.profile);
    if names.is_empty() {
        return Err(format!(
            "preflight: {} datagram(s) came back from {target} but none decodes as a {profile} startup \
             packet: probably the wrong profile (try --profile {other})",
            undecodable
        ));
    }
    let why = failed.map(|f| format!(" ({f})")).unwrap_or_default();
    if names.iter().any(|n| n == "RHello") {
        return Err(format!(
            "preflight: {target} answered with an RHello but the session did not open{why}: \
             it is probably another endpoint than the EPD asks for (its certificate does not match \
             --epd) or it does not complete the handshake"
        ));
    }
    if names.iter().any(|n| n == "Redirect") {
        return Err(format!(
            "preflight: {target} answered with a Redirect{why}: it is a redirector; test the \
             endpoint it redirects to"
        ));
    }
    Err(format!(
        "preflight: {target} answered ({}) but no session opened in {waited}{why}",
        names.join(", ")
    ))
}

/// Listen mode: waits for an initiator's first datagram on `addr` (without
/// answering it: the initiator retries, and the first case takes it).
pub fn listen(opts: &Options, addr: SocketAddr) -> Result<(), String> {
    let s = UdpSocket::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let budget = BUDGET.mul_f64(opts.time_scale.clamp(0.1, 4.0));
    s.set_read_timeout(Some(budget))
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut buf = vec![0u8; 65_536];
    match s.recv_from(&mut buf) {
        Ok((n, from)) => {
            let (names, _) = classify(&[(from, addr, buf[..n].to_vec())], opts.profile);
            if names.is_empty() {
                Err(format!(
                    "preflight: a datagram from {from} does not decode as a {} startup packet: \
                     probably the wrong profile",
                    profile_flag(opts.profile)
                ))
            } else {
                Ok(())
            }
        }
        Err(_) => Err(format!(
            "preflight: no initiator reached {addr} in {:.1} s: start your stack's initiator \
             toward {addr} (or pass --no-preflight)",
            budget.as_secs_f64()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            bind: "127.0.0.1:0".parse().unwrap(),
            profile: ProfileName::Plain,
            ..Options::default()
        }
    }

    #[test]
    fn a_closed_port_is_reported_as_refused() {
        // A port just freed: nothing listens there.
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let t0 = std::time::Instant::now();
        let e = udp(&opts(), port).unwrap_err();
        assert!(e.contains("ICMP port unreachable"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(12), "{:?}", t0.elapsed());
    }

    #[test]
    fn garbage_answers_mean_the_wrong_profile() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = s.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut b = [0u8; 2048];
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            if let Ok((_, from)) = s.recv_from(&mut b) {
                for _ in 0..3 {
                    let _ = s.send_to(&[0x5a; 40], from);
                }
            }
        });
        let e = udp(&opts(), addr).unwrap_err();
        t.join().unwrap();
        assert!(e.contains("wrong profile"), "{e}");
    }
}
