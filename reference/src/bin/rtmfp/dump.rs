//! `rtmfp dump FILE [--keys FILE.keys] [--json] [-v]`: print every packet of a
//! capture decoded, decrypted and verified; end with a summary line. Exit 0 only
//! if no RTMFP datagram failed to decode; 2 for a bad file or argument.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use rtmfp::capture::{self, RecordKind};
use rtmfp::decode::{DatagramRef, DecodedPacket, Decoder, KeyUsed, ProfileChoice, Status};
use rtmfp::describe;
use rtmfp::keylog::KeyLog;

#[derive(clap::Args)]
pub struct Args {
    /// The capture (pcap or pcapng).
    file: PathBuf,
    /// Key log with the capture's session keys (vectors/README.md format).
    #[arg(long, value_name = "FILE.keys")]
    keys: Option<PathBuf>,
    /// Print JSON: {"packets", "decoded", "failed", "skipped", "packet": [...]}.
    #[arg(long)]
    json: bool,
    /// Show whole values (user data, certificates, cookies) instead of summaries.
    #[arg(short, long)]
    verbose: bool,
    /// Cryptography profile of startup packets.
    #[arg(long, value_enum, default_value = "auto")]
    profile: Profile,
    /// Only decode UDP datagrams to or from these ports (repeatable); others are skipped.
    #[arg(long = "port", value_name = "PORT")]
    ports: Vec<u16>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Profile {
    Auto,
    Flash,
    Plain,
}

fn error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("rtmfp dump: {msg}");
    ExitCode::from(2)
}

pub fn run(args: Args) -> ExitCode {
    let keylog = match &args.keys {
        Some(p) => match KeyLog::read_file(p) {
            Ok(k) => Some(k),
            Err(e) => return error(e),
        },
        None => None,
    };
    let capture = match capture::read_file(&args.file) {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let choice = match args.profile {
        Profile::Auto => ProfileChoice::Auto,
        Profile::Flash => ProfileChoice::Flash,
        Profile::Plain => ProfileChoice::Plain,
    };
    let mut decoder = Decoder::new(keylog.as_ref(), choice);
    let start = capture
        .records
        .first()
        .map(|r| r.timestamp)
        .unwrap_or_default();
    let mut packets = Vec::with_capacity(capture.records.len());
    for r in &capture.records {
        let decoded = match &r.kind {
            RecordKind::Udp(u)
                if args.ports.is_empty()
                    || args
                        .ports
                        .iter()
                        .any(|&p| p == u.src.port() || p == u.dst.port()) =>
            {
                decoder.decode(DatagramRef {
                    index: r.index,
                    time: r.timestamp,
                    src: u.src,
                    dst: u.dst,
                    payload: &u.payload,
                })
            }
            RecordKind::Udp(u) => skipped(
                &mut decoder,
                r,
                Some((u.src, u.dst)),
                "UDP port not selected by --port",
            ),
            RecordKind::Skipped { reason } => skipped(&mut decoder, r, None, reason),
        };
        packets.push(decoded);
    }
    // Logged keys that open none of a session's packets: said once per session.
    let mismatched = rtmfp::decode::mark_unmatched_keys(&mut packets);
    let s = decoder.summary;
    let out = io::stdout();
    let mut out = io::BufWriter::new(out.lock());
    let written = if args.json {
        write_json(&mut out, &packets, &decoder)
    } else {
        write_text(&mut out, &packets, &decoder, start, args.verbose)
    };
    for m in &mismatched {
        eprintln!(
            "rtmfp dump: the key log does not match session ID {:08x} at {}: its keys open none of the {} packets sent to it (a key log of another conversation?), which are therefore not the sender's integrity failures",
            m.session_id, m.dst, m.packets
        );
    }
    if let Err(e) = written.and_then(|_| out.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return error(e);
    }
    if s.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn skipped(
    decoder: &mut Decoder,
    r: &capture::Record,
    addrs: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
    reason: &str,
) -> DecodedPacket {
    let unspecified: std::net::SocketAddr = ([0, 0, 0, 0], 0).into();
    let (src, dst) = addrs.unwrap_or((unspecified, unspecified));
    let status = Status::Skipped {
        reason: reason.to_string(),
    };
    decoder.summary.add(&status);
    DecodedPacket::new(r.index, r.timestamp, src, dst, 0, status)
}

fn write_json(
    out: &mut impl Write,
    packets: &[DecodedPacket],
    decoder: &Decoder,
) -> io::Result<()> {
    let list: Vec<serde_json::Value> = packets
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).unwrap_or_default();
            if let (Some(pkt), Some(obj)) = (
                &p.packet,
                v.get_mut("packet").and_then(|x| x.as_object_mut()),
            ) {
                obj.insert(
                    "chunks".into(),
                    pkt.chunks
                        .iter()
                        .map(|c| describe::chunk_json(c, p.profile))
                        .collect(),
                );
            }
            v
        })
        .collect();
    let s = decoder.summary;
    let doc = serde_json::json!({
        "packets": s.packets,
        "decoded": s.decoded,
        "failed": s.failed,
        "skipped": s.skipped,
        "sessions": decoder.sessions,
        "packet": list,
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn write_text(
    out: &mut impl Write,
    packets: &[DecodedPacket],
    decoder: &Decoder,
    start: std::time::Duration,
    verbose: bool,
) -> io::Result<()> {
    for p in packets {
        let t = p.time - start.as_secs_f64();
        write!(out, "#{} {t:.6} ", p.index)?;
        match &p.status {
            Status::Skipped { reason }
                if p.length == 0 && p.session_id.is_none() && p.src.port() == 0 =>
            {
                writeln!(out, "skipped: {reason}")?;
                continue;
            }
            _ => {}
        }
        write!(out, "{} > {} len={}", p.src, p.dst, p.length)?;
        if let Some(sid) = p.session_id {
            write!(out, " sid={sid:08x}")?;
        }
        if let (Some(profile), Some(key)) = (p.profile, p.key) {
            let k = match key {
                KeyUsed::Default => "default-key",
                KeyUsed::Session => "session-key",
            };
            write!(out, " {}/{k}", profile.name())?;
        }
        if let Some(d) = p.direction {
            write!(out, " {}", d.arrow())?;
        }
        if let Some(i) = p.session {
            write!(out, " session={i}")?;
        }
        if let Some(n) = p.sseq {
            write!(out, " sseq={n}")?;
        }
        match p.integrity {
            Some(rtmfp::crypto::Integrity::Checksum(c)) => write!(out, " cksum={c:04x}")?,
            Some(rtmfp::crypto::Integrity::Hmac(l)) => write!(out, " hmac={l}")?,
            None => {}
        }
        match &p.status {
            Status::Skipped { reason } => writeln!(out, " skipped: {reason}")?,
            Status::Failed { reason } => writeln!(out, " FAILED: {reason}")?,
            Status::Decoded => {
                let pkt = p.packet.as_ref().expect("decoded packets are parsed");
                let h = &pkt.header;
                write!(
                    out,
                    " mode={} flags={}",
                    h.mode.name(),
                    describe::header_flags(h)
                )?;
                if let Some(ts) = h.timestamp {
                    write!(out, " ts={ts}")?;
                }
                if let Some(e) = h.timestamp_echo {
                    write!(out, " tse={e}")?;
                }
                writeln!(out)?;
                for c in &pkt.chunks {
                    writeln!(out, "    {}", describe::chunk_line(c, p.profile, verbose))?;
                }
                if !pkt.padding.is_empty() && (verbose || pkt.padding.iter().any(|&b| b != 0xff)) {
                    writeln!(
                        out,
                        "    padding {}",
                        describe::short(&pkt.padding, if verbose { usize::MAX } else { 16 })
                    )?;
                }
            }
        }
    }
    for (i, s) in decoder.sessions.iter().enumerate() {
        let sid = |x: Option<u32>| x.map_or("?".to_string(), |v| format!("{v:08x}"));
        writeln!(
            out,
            "session {i}: {} -> {} initiator_session_id={} responder_session_id={} profile={} keys={:?}",
            s.initiator,
            s.responder,
            sid(s.initiator_session_id),
            sid(s.responder_session_id),
            s.profile.map_or("?", |p| p.name()),
            s.source
        )?;
    }
    let s = decoder.summary;
    writeln!(
        out,
        "packets: {} decoded: {} failed: {} skipped: {}",
        s.packets, s.decoded, s.failed, s.skipped
    )
}
