//! `rtmfp dump`: output, exit status and errors, with insta snapshots of each
//! capture's handshake (checked by hand against RFC 7016 §2.3.2-§2.3.8 and
//! Figure 9 before they were accepted: IHello with EPD and 16-byte tag from the
//! initiator; RHello echoing the tag with cookie and certificate; IIKeying echoing
//! the cookie with the initiator session ID, certificate and SKIC; RIKeying sent
//! to the initiator's session ID under the default key; then session packets in
//! modes 1 and 2 to the exchanged session IDs).

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn dump(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmfp"))
        .arg("dump")
        .args(args)
        .output()
        .expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The handshake: every line up to and including the first two session packets.
fn handshake(text: &str) -> String {
    let mut out = Vec::new();
    let mut session_packets = 0;
    for line in text.lines() {
        if line.starts_with('#') {
            if line.contains("session-key") {
                session_packets += 1;
            }
            if session_packets > 2 {
                break;
            }
        }
        out.push(line);
    }
    out.join("\n")
}

#[test]
fn handshake_snapshots() {
    for (name, pcap, keys) in common::captures() {
        let o = dump(&[p(&pcap), "--keys", p(&keys)]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = stdout(&o);
        let last = text.lines().last().unwrap();
        assert!(
            last.starts_with("packets: ") && last.ends_with(" failed: 0 skipped: 0"),
            "{name}: {last}"
        );
        insta::assert_snapshot!(format!("handshake-{name}"), handshake(&text));
    }
}

#[test]
fn summary_counts_and_json() {
    let (_, pcap, keys) = common::captures()
        .into_iter()
        .find(|c| c.0 == "flash-echo-hmac")
        .unwrap();
    let o = dump(&[p(&pcap), "--keys", p(&keys), "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["packets"], 679);
    assert_eq!(v["decoded"], 679);
    assert_eq!(v["failed"], 0);
    assert_eq!(v["skipped"], 0);
    let list = v["packet"].as_array().unwrap();
    assert_eq!(list.len(), 679);
    assert_eq!(list[0]["packet"]["chunks"][0]["name"], "IHello");
    assert_eq!(
        list[0]["packet"]["chunks"][0]["decoded"]["epd"][0]["name"],
        "Ancillary Data"
    );
    // Session packets carry their verified HMAC and sequence number.
    assert_eq!(list[4]["integrity"]["hmac"], 16);
    assert!(list[4]["sseq"].is_u64());
}

#[test]
fn failures_without_keys_exit_1() {
    let (_, pcap, _) = common::captures()
        .into_iter()
        .find(|c| c.0 == "flash-echo")
        .unwrap();
    let o = dump(&[p(&pcap)]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("packets: 585 decoded: 4 failed: 581 skipped: 0")
    );
    assert!(text.contains("FAILED: "));
}

#[test]
fn bad_inputs_give_one_line_and_exit_2() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rtmfp-dump-test");
    std::fs::create_dir_all(&dir).unwrap();
    let text_file = dir.join("notes.txt");
    std::fs::write(&text_file, "hello, this is not a capture\n").unwrap();
    let (_, pcap, keys) = common::captures().into_iter().next().unwrap();
    let bytes = std::fs::read(&pcap).unwrap();
    let truncated = dir.join("truncated.pcap");
    std::fs::write(&truncated, &bytes[..bytes.len() - 7]).unwrap();
    let bad_keys = dir.join("bad.keys");
    std::fs::write(&bad_keys, "session 1.2.3.4:5->nowhere crypto=flash\n").unwrap();
    let missing = dir.join("missing.pcap");
    for (args, what) in [
        (vec![p(&missing)], "missing.pcap"),
        (vec![p(&text_file)], "notes.txt"),
        (vec![p(&truncated)], "truncated.pcap"),
        (vec![p(&pcap), "--keys", p(&bad_keys)], "bad.keys:1"),
        (vec![p(&pcap), "--keys", p(&missing)], "missing.pcap"),
    ] {
        let o = dump(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(what), "{what} named in: {err}");
        assert!(o.stdout.is_empty());
    }
    let _ = keys;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A key log whose keys are wrong for the session (a corrupted copy of a
/// shared capture's): the dump says once that the key log does not match that
/// session and marks its packets so, instead of calling them the sender's
/// checksum failures.
#[test]
fn a_key_log_with_wrong_keys_is_said_not_to_match() {
    let (_, pcap, keys) = common::captures()
        .into_iter()
        .find(|c| c.0 == "flash-echo")
        .unwrap();
    let flip = |v: &str| format!("{}{}", if v.starts_with('0') { '1' } else { '0' }, &v[1..]);
    let wrong: String = std::fs::read_to_string(&keys)
        .unwrap()
        .lines()
        .map(|l| match l.split_once('=') {
            Some((name, v))
                if name.ends_with("dh_shared_secret")
                    || name.ends_with("_encrypt_key")
                    || name.ends_with("_encrypt_key_full") =>
            {
                format!("{name}={}\n", flip(v))
            }
            _ => format!("{l}\n"),
        })
        .collect();
    assert_ne!(wrong, std::fs::read_to_string(&keys).unwrap());
    let dir = std::env::temp_dir().join(format!("rtmfp-dump-wrong-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let k = dir.join("wrong.keys");
    std::fs::write(&k, wrong).unwrap();
    let o = dump(&[p(&pcap), "--keys", p(&k)]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    // One line per session ID (one each way), naming it.
    assert_eq!(err.lines().count(), 2, "{err}");
    for to in ["127.0.0.1:19370", "127.0.0.1:19371"] {
        assert!(
            err.lines().any(
                |l| l.contains("the key log does not match session ID 02000000 at ")
                    && l.contains(to)
            ),
            "{to}: {err}"
        );
    }
    let text = stdout(&o);
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("FAILED")).collect();
    assert!(failed.len() > 500, "{}", failed.len());
    // Every session packet that failed is put down to the key log, none to
    // the sender's checksum.
    assert!(
        failed
            .iter()
            .all(|l| l.contains("the key log does not match this session")),
        "{:?}",
        failed.iter().find(|l| !l.contains("does not match"))
    );
    // With the right key log, nothing fails.
    let o = dump(&[p(&pcap), "--keys", p(&keys)]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8(o.stderr).unwrap().is_empty());
}
