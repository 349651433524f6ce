//! `--target pcap:FILE[?keys=FILE]`: judge a recording. Every datagram is
//! decoded (with the key log, or the default keys where RFC 7016 §2.2.3 allows)
//! and fed to the [`Monitor`]; each invariant becomes one case.

use std::path::Path;

use rtmfp::decode::{DatagramRef, DecodedPacket, Decoder, KEYS_MISMATCH, ProfileChoice, Status};
use rtmfp::keylog::KeyLog;
use rtmfp_reports::model::{Case, Evidence, Outcome, StepResult, TracePacket};

use crate::invariants::{INVARIANTS, Monitor, Report};

/// What a capture showed, before it becomes cases.
pub struct Checked {
    pub packets: Vec<DecodedPacket>,
    pub report: Report,
    pub datagrams: usize,
    /// Why some datagrams could not be judged (missing or wrong keys).
    pub inconclusive: Option<String>,
    /// Where the file was cut, if it was.
    pub truncated: Option<String>,
}

/// Decodes and judges a capture file.
pub fn check_file(pcap: &Path, keys: Option<&Path>) -> Result<Checked, String> {
    // A file cut inside a record (a capture stopped abruptly, a download cut
    // short): the complete records before the cut are still judged.
    let mut truncated = None;
    let capture = match rtmfp::capture::read_file(pcap) {
        Ok(c) => c,
        Err(rtmfp::capture::CaptureError::Truncated { record, offset, .. }) if offset > 0 => {
            let bytes = std::fs::read(pcap).map_err(|e| format!("{}: {e}", pcap.display()))?;
            truncated = Some(format!(
                "{}: cut inside record {record} (byte offset {offset}); the {} complete record(s) before it were judged",
                pcap.display(),
                record - 1
            ));
            rtmfp::capture::read_bytes(&bytes[..offset]).map_err(|e| e.to_string())?
        }
        Err(e) => return Err(e.to_string()),
    };
    let keylog = match keys {
        Some(k) => Some(KeyLog::read_file(k).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut dec = Decoder::new(keylog.as_ref(), ProfileChoice::Auto);
    let mut packets = Vec::new();
    for (rec, u) in capture.datagrams() {
        packets.push(dec.decode(DatagramRef {
            index: rec.index,
            time: rec.timestamp,
            src: u.src,
            dst: u.dst,
            payload: &u.payload,
        }));
    }
    let mismatched = rtmfp::decode::mark_unmatched_keys(&mut packets).len();
    let report = judge(&packets, |_| true);
    let unopened = packets
        .iter()
        .filter(|p| matches!(&p.status, Status::Failed { reason } if not_openable(reason)))
        .count();
    let inconclusive = (unopened > 0).then(|| {
        let mut why = Vec::new();
        if mismatched > 0 {
            why.push(format!(
                "the key log does not match the session(s): its keys open none of the packets sent to {mismatched} session ID(s)"
            ));
        }
        if unopened > mismatched_packets(&packets) {
            why.push(match keys {
                None => "no key log was given (--target 'pcap:FILE?keys=FILE.keys')".to_string(),
                Some(k) => format!("{} has no keys for some sessions", k.display()),
            });
        }
        format!(
            "{unopened} of {} datagrams could not be opened, so were not judged: {}",
            packets.len(),
            why.join("; ")
        )
    });
    Ok(Checked {
        datagrams: packets.len(),
        packets,
        report,
        inconclusive,
        truncated,
    })
}

/// Reasons the decoder gives when a datagram could not be opened for want of
/// the right keys (not the sender's fault).
fn not_openable(reason: &str) -> bool {
    reason.contains("no key log entry") || reason.starts_with(KEYS_MISMATCH)
}

fn mismatched_packets(packets: &[DecodedPacket]) -> usize {
    packets
        .iter()
        .filter(
            |p| matches!(&p.status, Status::Failed { reason } if reason.starts_with(KEYS_MISMATCH)),
        )
        .count()
}

/// Runs the monitor over decoded packets; `judged` picks the senders under test.
pub fn judge(packets: &[DecodedPacket], judged: impl Fn(&DecodedPacket) -> bool) -> Report {
    let mut m = Monitor::new();
    for d in packets {
        if matches!(d.status, Status::Skipped { .. }) {
            continue;
        }
        m.packet(d, judged(d));
    }
    m.finish()
}

/// One case per invariant, for the report.
pub fn check_capture(
    pcap: &Path,
    keys: Option<&Path>,
    rerun: &str,
    out: Option<&Path>,
) -> Result<Vec<Case>, String> {
    check_capture_noting(pcap, keys, rerun, out).map(|(cases, _)| cases)
}

/// As [`check_capture`], with what made the run inconclusive (unopened
/// datagrams) and where the file was cut, for the console and the verdict.
pub fn check_capture_noting(
    pcap: &Path,
    keys: Option<&Path>,
    rerun: &str,
    out: Option<&Path>,
) -> Result<(Vec<Case>, Notes), String> {
    let t0 = std::time::Instant::now();
    let checked = check_file(pcap, keys)?;
    let notes = Notes {
        inconclusive: checked.inconclusive.clone(),
        truncated: checked.truncated.clone(),
    };
    let evidence_files = match out {
        Some(dir) => copy_evidence(dir, pcap, keys)?,
        None => (None, None),
    };
    let first_src = checked.packets.first().map(|p| p.src);
    let mut cases = Vec::new();
    for inv in INVARIANTS {
        let n = checked.report.checked.get(inv.name).copied().unwrap_or(0);
        let findings: Vec<_> = checked.report.findings_of(inv.name).collect();
        let (outcome, reason) = if !findings.is_empty() {
            (
                if inv.should {
                    Outcome::Warn
                } else {
                    Outcome::Fail
                },
                Some(format!(
                    "{} violation(s), first at packet #{}: {}",
                    findings.len(),
                    findings[0].index,
                    findings[0].message
                )),
            )
        } else if n == 0 {
            (
                Outcome::Unsupported,
                Some("nothing in this capture to check".into()),
            )
        } else {
            (Outcome::Pass, None)
        };
        let mut steps = vec![StepResult {
            description: format!(
                "checked {n} item(s) in {} datagram(s){}",
                checked.datagrams,
                match checked.report.checked.get("unkeyed") {
                    Some(k) => format!("; {k} datagram(s) of sessions without keys not judged"),
                    None => String::new(),
                }
            ),
            ok: findings.is_empty(),
            expected: Some(inv.title.to_string()),
            actual: Some(format!("{} violation(s)", findings.len())),
        }];
        for f in &findings {
            steps.push(StepResult {
                description: format!("packet #{} at {:.6} from {}", f.index, f.time, f.src),
                ok: false,
                expected: Some(inv.title.to_string()),
                actual: Some(f.message.clone()),
            });
        }
        // The evidence: the violating packets with two before each.
        let mut wanted = std::collections::BTreeSet::new();
        for f in &findings {
            if let Some(pos) = checked.packets.iter().position(|p| p.index == f.index) {
                for i in pos.saturating_sub(2)..=pos {
                    wanted.insert(i);
                }
            }
        }
        let t_start = checked.packets.first().map_or(0.0, |p| p.time);
        let packets = wanted
            .into_iter()
            .take(200)
            .map(|i| trace_packet(&checked.packets[i], first_src, t_start))
            .collect();
        cases.push(Case {
            id: format!("capture.{}", inv.name),
            title: inv.title.into(),
            rfc: inv.rfc.iter().map(|s| s.to_string()).collect(),
            requirements: inv.requirements.iter().map(|s| s.to_string()).collect(),
            tags: vec!["capture".into()],
            level: if inv.should { "should" } else { "must" }.into(),
            outcome,
            reason,
            duration_ms: t0.elapsed().as_millis() as u64,
            rerun: format!("{rerun} 'capture.{}'", inv.name),
            steps,
            evidence: Some(Evidence {
                packets,
                pcap: evidence_files.0.clone(),
                keylog: evidence_files.1.clone(),
            }),
        });
    }
    Ok((cases, notes))
}

/// What the console and the verdict must say beside the cases.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    pub inconclusive: Option<String>,
    pub truncated: Option<String>,
}

fn copy_evidence(
    dir: &Path,
    pcap: &Path,
    keys: Option<&Path>,
) -> Result<(Option<String>, Option<String>), String> {
    let ev = dir.join("evidence");
    std::fs::create_dir_all(&ev).map_err(|e| format!("{}: {e}", ev.display()))?;
    let copy = |from: &Path| -> Result<String, String> {
        let name = from
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "capture".into());
        let to = ev.join(&name);
        std::fs::copy(from, &to).map_err(|e| format!("{}: {e}", to.display()))?;
        Ok(format!("evidence/{name}"))
    };
    Ok((Some(copy(pcap)?), keys.map(copy).transpose()?))
}

fn trace_packet(
    d: &DecodedPacket,
    first_src: Option<std::net::SocketAddr>,
    t0: f64,
) -> TracePacket {
    let (chunks, header) = crate::suite::describe_decoded(d);
    let header = format!("#{} {header}", d.index);
    TracePacket {
        // Sides: whoever sent the capture's first datagram is drawn on the left.
        time: d.time - t0,
        from: if Some(d.src) == first_src {
            "tester"
        } else {
            "target"
        }
        .into(),
        src: d.src.to_string(),
        dst: d.dst.to_string(),
        chunks,
        header,
        note: None,
    }
}
