//! Key logs: the facts needed to decrypt a capture, one line per fact.
//!
//! The format is the one the shared captures use (vectors/README.md, "Key log
//! format"): `#` comments, blank lines, and
//!
//! ```text
//! session <initiator_addr>-><responder_addr> <name>=<value>
//! ```
//!
//! with addresses as `a.b.c.d:port` or `[v6]:port`. A session is all the lines of
//! one address pair; a name repeated for the same pair starts a new session (two
//! sessions in turn between the same two sockets).

use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;

/// One session's facts, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLogSession {
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    pub facts: Vec<(String, String)>,
    /// 1-based line of the session's first fact.
    pub line: usize,
}

impl KeyLogSession {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.facts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A hex fact decoded, or `None` if absent or `-`.
    pub fn bytes(&self, name: &str) -> Result<Option<Vec<u8>>, KeyLogError> {
        match self.get(name) {
            None | Some("-") => Ok(None),
            Some(v) => hex::decode(v).map(Some).map_err(|e| KeyLogError {
                file: String::new(),
                line: self.line,
                message: format!("{name}: not hex ({e})"),
            }),
        }
    }

    /// A boolean fact written `0`/`1`.
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            "1" | "true" => Some(true),
            "0" | "false" => Some(false),
            _ => None,
        }
    }

    pub fn number(&self, name: &str) -> Option<u64> {
        self.get(name)?.parse().ok()
    }

    /// A session ID fact: 4 bytes of hex, read big-endian like the wire does.
    pub fn session_id(&self, name: &str) -> Option<u32> {
        let b = hex::decode(self.get(name)?).ok()?;
        Some(u32::from_be_bytes(b.try_into().ok()?))
    }
}

/// Facts whose value is hex bytes (or `-`).
fn is_hex_fact(name: &str) -> bool {
    [
        "_session_id",
        "dh_shared_secret",
        "_keying_component",
        "_nonce",
        "_encrypt_key",
        "_encrypt_key_full",
        "_hmac_send_key",
        "_far_epd",
    ]
    .iter()
    .any(|suffix| name.ends_with(suffix))
}

/// A bad key log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct KeyLogError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// A parsed key log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLog {
    pub sessions: Vec<KeyLogSession>,
}

impl KeyLog {
    /// Parses key log text; `source` names it in error messages.
    ///
    /// Like Wireshark with its key logs, lines that carry nothing this
    /// decoder uses are informational: a line that is not a `session` line,
    /// a fact name this format does not define, or a value with spaces (kept
    /// whole) is warned about once per kind (tracing, `warn`) and read on.
    /// A `session` line whose addresses or `name=value` cannot be read is an
    /// error naming the file and line. Linear in the size of the text.
    pub fn parse<'t>(text: &'t str, source: &str) -> Result<KeyLog, KeyLogError> {
        use std::collections::{HashMap, HashSet};
        let mut log = KeyLog::default();
        // The session each address pair is filling, and the names it has
        // (borrowed from `text`: no allocation per line).
        let mut current: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
        let mut names: Vec<HashSet<&'t str>> = Vec::new();
        // What was warned about: a kind and the word it is about (borrowed
        // too); the message is only formatted the first time, and nothing is
        // kept when no one receives warnings.
        let mut warned: HashSet<(&'static str, &'t str)> = HashSet::new();
        let mut warn_once =
            |kind: &'static str, word: &'t str, line: usize, what: &dyn Fn() -> String| {
                if tracing::enabled!(tracing::Level::WARN) && warned.insert((kind, word)) {
                    tracing::warn!("{source}:{line}: {} (warned once, reading on)", what());
                }
            };
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |message: String| KeyLogError {
                file: source.to_string(),
                line,
                message,
            };
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let mut words = l.splitn(3, char::is_whitespace);
            let (Some(label), Some(pair), Some(fact)) = (words.next(), words.next(), words.next())
            else {
                warn_once(
                    "short",
                    l.split_whitespace().next().unwrap_or(""),
                    line,
                    &|| {
                        format!(
                            "`{l}` is not `session <initiator>-><responder> <name>=<value>`: skipped"
                        )
                    },
                );
                continue;
            };
            if label != "session" {
                warn_once("label", label, line, &|| {
                    format!("unknown line label `{label}`: line skipped")
                });
                continue;
            }
            let fact = fact.trim();
            let (i_addr, r_addr) = pair
                .split_once("->")
                .ok_or_else(|| err(format!("`{pair}` is not `<initiator>-><responder>`")))?;
            let initiator: SocketAddr = i_addr
                .parse()
                .map_err(|_| err(format!("`{i_addr}` is not a socket address")))?;
            let responder: SocketAddr = r_addr
                .parse()
                .map_err(|_| err(format!("`{r_addr}` is not a socket address")))?;
            let (name, value) = fact
                .split_once('=')
                .ok_or_else(|| err(format!("`{fact}` is not `name=value`")))?;
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(err(format!("`{fact}`: bad fact name")));
            }
            // A bad hex value is reported here, with the file and its own line,
            // not later (once per packet) when a key is needed. A value with
            // spaces is informational (warned about below, kept whole).
            if is_hex_fact(name)
                && value != "-"
                && !value.contains(char::is_whitespace)
                && let Err(e) = hex::decode(value)
            {
                return Err(err(format!("{name}: `{value}` is not hex ({e})")));
            }
            if !KNOWN_FACTS.contains(&name) {
                warn_once("name", name, line, &|| {
                    format!("unknown fact name `{name}`: kept, not used")
                });
            }
            if value.contains(char::is_whitespace) {
                warn_once("spaces", name, line, &|| {
                    format!("the value of `{name}` has spaces (kept whole)")
                });
            }
            let key = (initiator, responder);
            match current.get(&key).copied() {
                Some(idx) if !names[idx].contains(name) => {
                    log.sessions[idx].facts.push((name.into(), value.into()));
                    names[idx].insert(name);
                }
                _ => {
                    current.insert(key, log.sessions.len());
                    names.push(HashSet::from([name]));
                    log.sessions.push(KeyLogSession {
                        initiator,
                        responder,
                        facts: vec![(name.into(), value.into())],
                        line,
                    });
                }
            }
        }
        Ok(log)
    }

    /// Reads a key log file. Errors name the file (and line).
    pub fn read_file(path: &Path) -> Result<KeyLog, KeyLogError> {
        let source = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| KeyLogError {
            file: source.clone(),
            line: 0,
            message: format!("cannot read key log: {e}"),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| KeyLogError {
            file: source.clone(),
            line: 0,
            message: format!("not UTF-8 text: {e}"),
        })?;
        Self::parse(&text, &source)
    }
}

/// Fact names of the format (vectors/README.md, "Key log format").
const KNOWN_FACTS: &[&str] = &[
    "crypto",
    "initiator_session_id",
    "responder_session_id",
    "dh_group",
    "dh_shared_secret",
    "initiator_keying_component",
    "responder_keying_component",
    "initiator_nonce",
    "responder_nonce",
    "initiator_encrypt_key",
    "responder_encrypt_key",
    "initiator_encrypt_key_full",
    "responder_encrypt_key_full",
    "initiator_hmac_send",
    "responder_hmac_send",
    "initiator_hmac_send_len",
    "responder_hmac_send_len",
    "initiator_hmac_send_key",
    "responder_hmac_send_key",
    "initiator_sseq_send",
    "responder_sseq_send",
    "initiator_tx_checksum_salt",
    "responder_tx_checksum_salt",
    "initiator_far_epd",
    "responder_far_epd",
    "consistency",
    // Written by the shared captures' instrumentation (vectors/*.keys).
    "initiator_addr",
    "responder_addr",
    "initiator_session_id_u32",
    "responder_session_id_u32",
];

/// The legend every key log written here starts with.
pub const HEADER: &str = "\
# RTMFP session keys (key log format of vectors/README.md)
# Format: one fact per line:  session <initiator_addr>-><responder_addr> <name>=<value>
#   crypto                      flash = RFC 7425 (AES-128-CBC, zero IV each packet); plain = cleartext test profile
#   initiator_session_id        4 bytes (hex) found after SSID unscrambling in packets sent TO the initiator
#   responder_session_id        same for packets sent TO the responder
#   dh_group, dh_shared_secret  IKE group and DH shared secret (big-endian, minimal length)
#   *_keying_component          SKIC / SKRC as carried in IIKeying / RIKeying
#   *_nonce                     HMAC-SHA256(secret, SKIC) / HMAC-SHA256(secret, SKRC)
#   *_encrypt_key[_full]        AES-128 key for packets that end sends (and the 32-byte HMAC it is cut from)
#   *_hmac_send[_len|_key]      whether that end appends a truncated HMAC-SHA256, its length and key
#   *_sseq_send                 whether that end prefixes a session sequence number
#   *_tx_checksum_salt          plain only: what that end adds to its checksums
#   *_far_epd                   the canonical EPD each end recorded for its peer
";

/// Writes key logs; the header goes out before the first session.
pub struct KeyLogWriter<W: Write> {
    out: W,
    header_written: bool,
}

impl<W: Write> KeyLogWriter<W> {
    pub fn new(out: W) -> Self {
        KeyLogWriter {
            out,
            header_written: false,
        }
    }

    pub fn write_session(
        &mut self,
        initiator: SocketAddr,
        responder: SocketAddr,
        facts: &[(String, String)],
    ) -> io::Result<()> {
        if !self.header_written {
            self.out.write_all(HEADER.as_bytes())?;
            self.header_written = true;
        }
        for (name, value) in facts {
            writeln!(self.out, "session {initiator}->{responder} {name}={value}")?;
        }
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl fmt::Display for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.sessions {
            for (n, v) in &s.facts {
                writeln!(f, "session {}->{} {n}={v}", s.initiator, s.responder)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let i: SocketAddr = "[::1]:5000".parse().unwrap();
        let r: SocketAddr = "127.0.0.1:1935".parse().unwrap();
        let mut w = KeyLogWriter::new(Vec::new());
        let facts = vec![
            ("crypto".to_string(), "flash".to_string()),
            ("responder_session_id".into(), "02000000".into()),
        ];
        w.write_session(i, r, &facts).unwrap();
        w.write_session(i, r, &facts).unwrap();
        let text = String::from_utf8(w.into_inner()).unwrap();
        assert!(text.starts_with("# RTMFP session keys"));
        assert!(text.contains("session [::1]:5000->127.0.0.1:1935 crypto=flash\n"));
        let log = KeyLog::parse(&text, "t").unwrap();
        assert_eq!(
            log.sessions.len(),
            2,
            "a repeated fact starts a new session"
        );
        assert_eq!(
            log.sessions[0].session_id("responder_session_id"),
            Some(0x0200_0000)
        );
        assert_eq!(log.sessions[1].facts, facts);

        let e = KeyLog::parse("# x\nsession 1.2.3.4:5->bad crypto=flash\n", "f.keys").unwrap_err();
        assert_eq!(e.to_string(), "f.keys:2: `bad` is not a socket address");
        assert!(KeyLog::parse("session 1.2.3.4:5->1.2.3.4:6 crypto\n", "f").is_err());
    }

    /// Unknown lines, unknown names and values with spaces are read on.
    #[test]
    fn informational_lines_are_read_on() {
        let text = "hello\nCLIENT_RANDOM abc def\n\
            session 1.2.3.4:5->1.2.3.4:6 crypto=flash\n\
            session 1.2.3.4:5->1.2.3.4:6 note=made by hand\n\
            session 1.2.3.4:5->1.2.3.4:6 initiator_far_epd=a b\n";
        let log = KeyLog::parse(text, "f").unwrap();
        assert_eq!(log.sessions.len(), 1);
        assert_eq!(log.sessions[0].get("crypto"), Some("flash"));
        assert_eq!(log.sessions[0].get("note"), Some("made by hand"));
        assert_eq!(log.sessions[0].get("initiator_far_epd"), Some("a b"));
    }

    /// With a subscriber, informational lines are warned about once per kind
    /// and word (and read on).
    #[test]
    fn warnings_are_given_once() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let w = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || w.clone())
            .with_ansi(false)
            .finish();
        let text = "hello\nhello again\nCLIENT_RANDOM a b\nCLIENT_RANDOM c d\n\
            session 1.2.3.4:5->1.2.3.4:6 note=a\n\
            session 1.2.3.4:5->1.2.3.4:6 note=b\n\
            session 1.2.3.4:5->1.2.3.4:6 other=c d\n";
        let log = tracing::subscriber::with_default(sub, || KeyLog::parse(text, "f").unwrap());
        assert_eq!(log.sessions.len(), 2);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        for (what, n) in [
            ("f:1: `hello` is not `session", 1),
            ("is not `session", 1),
            ("f:3: unknown line label `CLIENT_RANDOM`", 1),
            ("unknown line label", 1),
            ("f:5: unknown fact name `note`", 1),
            ("unknown fact name `note`", 1),
            ("f:7: unknown fact name `other`", 1),
            ("f:7: the value of `other` has spaces", 1),
        ] {
            assert_eq!(out.matches(what).count(), n, "`{what}` in:\n{out}");
        }
    }

    /// Many sessions parse in time linear in their number (one hash lookup
    /// per line, not a scan of the sessions before it).
    #[test]
    fn many_sessions_parse() {
        let mut text = String::new();
        for port in 0..20_000u32 {
            let p = 1024 + port % 60_000;
            text.push_str(&format!(
                "session 10.0.{}.1:{p}->10.0.0.2:1935 crypto=plain\n",
                port / 60_000
            ));
            text.push_str(&format!(
                "session 10.0.{}.1:{p}->10.0.0.2:1935 initiator_session_id=00000001\n",
                port / 60_000
            ));
        }
        let log = KeyLog::parse(&text, "f").unwrap();
        assert_eq!(log.sessions.len(), 20_000);
        assert!(log.sessions.iter().all(|s| s.facts.len() == 2));
    }

    #[test]
    fn a_bad_hex_value_names_its_file_and_line() {
        let text = "session 1.2.3.4:5->1.2.3.4:6 crypto=flash\n\
                    session 1.2.3.4:5->1.2.3.4:6 initiator_nonce=-\n\
                    session 1.2.3.4:5->1.2.3.4:6 responder_encrypt_key=zz11\n";
        let e = KeyLog::parse(text, "a.keys").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("a.keys", 3), "{e}");
        assert!(e.message.contains("responder_encrypt_key"), "{e}");
    }
}
