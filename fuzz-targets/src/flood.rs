//! `rtmfp-fuzz flood`: a live flood of distinct malformed startup packets at a
//! UDP target (e.g. `rtmfp serve`), from many source addresses, with the
//! target's resident memory read from /proc before, during and after. The
//! simulator twin of this measurement is `reference/tests/flood.rs`.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rtmfp::crypto::PacketCipher;
use rtmfp::wire::multiplex;

use crate::fixtures::{self, ProfileKind};

#[derive(clap::Args, Debug)]
pub struct FloodArgs {
    /// The target, HOST:PORT (loopback: the sources are 127.1.x.y).
    #[arg(long)]
    pub target: SocketAddr,
    /// Datagrams to send.
    #[arg(long, default_value_t = 1_000_000)]
    pub count: u64,
    /// The target's cryptography profile (its Default Session Key).
    #[arg(long, value_parser = ["flash", "plain"], default_value = "flash")]
    pub profile: String,
    /// Distinct source addresses (one socket each; 127.1.x.y when the target is
    /// on loopback, else the unspecified address with distinct ports).
    #[arg(long, default_value_t = 256)]
    pub sources: u16,
    /// Datagrams per second (the kernel drops what the target's socket buffer
    /// cannot hold, silently: keep it below what the target processes).
    #[arg(long, default_value_t = 50_000)]
    pub rate: u64,
    /// The target's process ID: its VmRSS is read before, every 100,000
    /// datagrams and after.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Seconds to wait after the last datagram before the last RSS reading.
    #[arg(long, default_value_t = 2)]
    pub settle: u64,
}

/// The target's resident set (kB), from /proc/PID/status.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The `i`th datagram: a recorded startup packet (IHello, IIKeying) with bytes
/// at an `i`-dependent place overwritten by `i` and the length cut, sealed
/// again with the Default Session Key (so it decrypts, then fails to parse or
/// validate); or, one in four, bytes that do not decrypt at all. No two are
/// the same, and the numbers in them (lengths, types) vary.
pub fn malformed_startup(i: u64, base: &[Vec<u8>], cipher: &mut dyn PacketCipher) -> Vec<u8> {
    let mut out = Vec::new();
    if i % 4 == 3 || base.is_empty() {
        let mut garbage = i.to_be_bytes().to_vec();
        garbage.extend((0..8 + i % 1000).map(|k| (k ^ (i >> 3)) as u8));
        multiplex::mux(0, &garbage, &mut out);
        return out;
    }
    let mut p = base[(i as usize) % base.len()].clone();
    // Cut up to half the packet, then write i (4 bytes) somewhere after the
    // flags byte: a length, a chunk type or a field takes a new value each time.
    let keep = p.len() - (i as usize / 7) % (p.len() / 2).max(1);
    p.truncate(keep.max(6));
    let at = 1 + (i as usize / base.len()) % (p.len() - 5);
    p[at..at + 4].copy_from_slice(&(i as u32).to_be_bytes());
    let mut enc = Vec::new();
    cipher.seal(&p, &mut enc);
    multiplex::mux(0, &enc, &mut out);
    out
}

/// The plain startup packets of the recorded fixture session (IHello, RHello,
/// IIKeying), opened with the Default Session Key.
fn startup_packets(kind: ProfileKind) -> Vec<Vec<u8>> {
    let mut c = fixtures::profile(kind, false).default_cipher();
    fixtures::recorded_session(kind)
        .iter()
        .filter_map(|r| {
            let (sid, enc) = multiplex::demux(&r.data).ok()?;
            (sid == 0).then(|| c.open(enc).ok().map(|o| o.packet))?
        })
        .collect()
}

pub fn flood(a: &FloodArgs) -> Result<(), String> {
    let kind = if a.profile == "plain" {
        ProfileKind::Plain
    } else {
        ProfileKind::Flash
    };
    let base = startup_packets(kind);
    let mut cipher = fixtures::profile(kind, false).default_cipher();
    let mut socks = Vec::new();
    for j in 0..a.sources.max(1) {
        let local: SocketAddr = if a.target.ip().is_loopback() && a.target.is_ipv4() {
            SocketAddr::from(([127, 1, (j >> 8) as u8, j as u8], 0))
        } else if a.target.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            "[::]:0".parse().expect("address")
        };
        socks.push(UdpSocket::bind(local).map_err(|e| format!("bind {local}: {e}"))?);
    }
    let rss = |label: &str| {
        if let Some(pid) = a.pid {
            match rss_kb(pid) {
                Some(kb) => println!("{label:>12}: VmRSS {kb} kB"),
                None => println!("{label:>12}: process {pid} not readable"),
            }
        }
    };
    rss("before");
    let started = Instant::now();
    let mut errors = 0u64;
    for i in 0..a.count {
        let d = malformed_startup(i, &base, cipher.as_mut());
        if socks[(i % socks.len() as u64) as usize]
            .send_to(&d, a.target)
            .is_err()
        {
            errors += 1;
        }
        // Pace: datagram i leaves no earlier than i / rate seconds in.
        if i % 256 == 255 {
            let due = Duration::from_secs_f64(i as f64 / a.rate.max(1) as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        if (i + 1) % 100_000 == 0 {
            rss(&format!("{}", i + 1));
        }
    }
    let took = started.elapsed();
    std::thread::sleep(Duration::from_secs(a.settle));
    rss("after");
    println!(
        "sent {} datagrams ({} send errors) from {} sources in {:.1} s ({:.0}/s)",
        a.count,
        errors,
        socks.len(),
        took.as_secs_f64(),
        a.count as f64 / took.as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_flood_datagrams_are_distinct_startup_datagrams_the_server_drops() {
        for kind in [ProfileKind::Flash, ProfileKind::Plain] {
            let base = startup_packets(kind);
            assert!(
                base.len() >= 2,
                "IHello, IIKeying (and RHello) of the recording"
            );
            let mut c = fixtures::profile(kind, false).default_cipher();
            let mut seen = HashSet::new();
            for i in 0..20_000 {
                let d = malformed_startup(i, &base, c.as_mut());
                assert_eq!(multiplex::demux(&d).map(|(sid, _)| sid), Ok(0));
                assert!(seen.insert(d), "datagram {i} repeats an earlier one");
            }
        }
    }
}
