//! Offline decoding of captured RTMFP traffic: demultiplex sessions, decrypt with
//! the Default Session Key or logged session keys, verify integrity, parse.
//!
//! Used by `rtmfp dump` and by the conformance harness's pcap target. Works from
//! datagrams (addresses and UDP payloads), so it does not care how they were
//! captured. Sessions are learned from a key log (if any) and from the IIKeying /
//! RIKeying chunks seen in the capture; plain-profile sessions decode without a
//! key log because their checksum salts are the keying components on the wire.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::crypto::flash::keying::{self, Component, DerivedKeys};
use crate::crypto::flash::{DirectionKeys, FlashCipher};
use crate::crypto::plain::PlainCipher;
use crate::crypto::{CryptoError, Integrity, PacketCipher};
use crate::keylog::{KeyLog, KeyLogSession};
use crate::wire::{Chunk, Packet, multiplex};

/// Which cryptography profile to try on startup packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProfileChoice {
    /// Plain first (its 16 × 0xff trailer cannot happen by chance), then Flash.
    #[default]
    Auto,
    Flash,
    Plain,
}

/// The two cryptography profiles a capture can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    Flash,
    Plain,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Flash => "flash",
            Profile::Plain => "plain",
        }
    }

    fn default_cipher(self) -> Box<dyn PacketCipher> {
        match self {
            Profile::Flash => Box::new(FlashCipher::default_key()),
            Profile::Plain => Box::new(PlainCipher::default()),
        }
    }
}

/// Who sent a packet, relative to its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    InitiatorToResponder,
    ResponderToInitiator,
}

impl Direction {
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::InitiatorToResponder => "I->R",
            Direction::ResponderToInitiator => "R->I",
        }
    }
}

/// Which key opened a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUsed {
    /// The profile's Default Session Key (RFC 7016 §2.2.3).
    Default,
    /// A session's negotiated keys.
    Session,
}

/// One captured UDP datagram, as the decoder takes it.
#[derive(Debug, Clone, Copy)]
pub struct DatagramRef<'a> {
    /// 1-based frame number in the capture.
    pub index: usize,
    /// Capture timestamp (since the Unix epoch).
    pub time: Duration,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: &'a [u8],
}

/// The outcome for one datagram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Decoded,
    /// Not an RTMFP packet that could be checked (e.g. an empty datagram).
    Skipped {
        reason: String,
    },
    /// An RTMFP datagram that could not be decrypted, verified or parsed.
    Failed {
        reason: String,
    },
}

/// A decoded (or undecodable) datagram.
#[derive(Debug, Clone, Serialize)]
pub struct DecodedPacket {
    pub index: usize,
    /// Seconds since the Unix epoch.
    pub time: f64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// UDP payload length.
    pub length: usize,
    #[serde(flatten)]
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<u32>,
    /// Index of the session in [`Decoder::sessions`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyUsed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrity: Option<Integrity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sseq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<Packet>,
    /// The decrypted plain packet, as opened.
    #[serde(skip)]
    pub plain: Vec<u8>,
}

/// Where a session's keys came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionSource {
    KeyLog,
    Capture,
}

/// A session the decoder knows about.
#[derive(Debug, Serialize)]
pub struct TrackedSession {
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    /// Session ID of packets sent TO the initiator.
    pub initiator_session_id: Option<u32>,
    /// Session ID of packets sent TO the responder.
    pub responder_session_id: Option<u32>,
    pub profile: Option<Profile>,
    pub source: SessionSource,
    #[serde(skip)]
    skic: Option<Vec<u8>>,
    #[serde(skip)]
    skrc: Option<Vec<u8>>,
    #[serde(skip)]
    facts: Option<KeyLogSession>,
    /// Openers for packets sent by the initiator / by the responder; built lazily.
    #[serde(skip)]
    openers: Option<Result<[Box<dyn PacketCipher>; 2], String>>,
}

impl TrackedSession {
    fn session_id_to(&self, d: Direction) -> Option<u32> {
        match d {
            Direction::InitiatorToResponder => self.responder_session_id,
            Direction::ResponderToInitiator => self.initiator_session_id,
        }
    }

    fn addresses_match(&self, d: Direction, src: SocketAddr, dst: SocketAddr) -> bool {
        match d {
            Direction::InitiatorToResponder => src == self.initiator && dst == self.responder,
            Direction::ResponderToInitiator => src == self.responder && dst == self.initiator,
        }
    }

    fn openers(&mut self) -> Result<&mut [Box<dyn PacketCipher>; 2], String> {
        if self.openers.is_none() {
            self.openers = Some(self.build_openers());
        }
        match self.openers.as_mut().expect("just set") {
            Ok(o) => Ok(o),
            Err(e) => Err(e.clone()),
        }
    }

    fn build_openers(&self) -> Result<[Box<dyn PacketCipher>; 2], String> {
        let profile = self.profile.ok_or("profile unknown")?;
        let facts = self.facts.as_ref();
        // The keying components (the key log's, else those seen in the
        // capture), read once and only when needed: a flash key log usually
        // gives the keys themselves, and a DH-sized component is long hex.
        let components = OnceCell::new();
        let components = || -> Result<&Components, String> {
            components
                .get_or_init(|| {
                    let logged_or_seen = |name: &str, seen: &Option<Vec<u8>>| {
                        let logged = facts
                            .map(|f| f.bytes(name))
                            .transpose()
                            .map(Option::flatten)
                            .map_err(|e| e.to_string())?;
                        Ok::<_, String>(logged.or_else(|| seen.clone()))
                    };
                    Ok((
                        logged_or_seen("initiator_keying_component", &self.skic)?,
                        logged_or_seen("responder_keying_component", &self.skrc)?,
                    ))
                })
                .as_ref()
                .map_err(Clone::clone)
        };
        match profile {
            Profile::Plain => {
                let (skic, skrc) = components()?;
                let salt = |b: &Option<Vec<u8>>, what: &str| -> Result<u16, String> {
                    let b = b
                        .as_ref()
                        .ok_or(format!("{what} not seen and not in the key log"))?;
                    <[u8; 2]>::try_from(b.as_slice())
                        .map(u16::from_be_bytes)
                        .map_err(|_| format!("{what} is not 2 bytes"))
                };
                let (ic, rc) = (salt(skic, "SKIC")?, salt(skrc, "SKRC")?);
                // A sender adds the receiver's component (vectors/README.md fact 24).
                Ok([
                    Box::new(PlainCipher {
                        tx_salt: 0,
                        rx_salt: rc,
                    }),
                    Box::new(PlainCipher {
                        tx_salt: 0,
                        rx_salt: ic,
                    }),
                ])
            }
            Profile::Flash => {
                let facts = facts.ok_or("no key log entry for this session (give --keys)")?;
                let i = flash_direction(facts, "initiator", &components)?;
                let r = flash_direction(facts, "responder", &components)?;
                Ok([
                    Box::new(FlashCipher::new(i.clone(), i)),
                    Box::new(FlashCipher::new(r.clone(), r)),
                ])
            }
        }
    }
}

/// SKIC and SKRC, when known.
type Components = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The keys one end (`who` = "initiator" or "responder") sends with, from the key
/// log, deriving what is missing from the DH secret and the keying components
/// (which are only read, and the keys only derived, when something is missing).
fn flash_direction<'a>(
    facts: &KeyLogSession,
    who: &str,
    components: &dyn Fn() -> Result<&'a Components, String>,
) -> Result<DirectionKeys, String> {
    let b = |n: &str| facts.bytes(n).map_err(|e| e.to_string());
    let initiator = who == "initiator";
    let secret = OnceCell::new();
    let secret = || -> Result<&Option<Vec<u8>>, String> {
        secret
            .get_or_init(|| b("dh_shared_secret"))
            .as_ref()
            .map_err(Clone::clone)
    };
    let logged_full: Option<[u8; 32]> = match b(&format!("{who}_encrypt_key_full"))? {
        Some(f) => Some(
            f.try_into()
                .map_err(|_| format!("{who}_encrypt_key_full is not 32 bytes"))?,
        ),
        None => None,
    };
    let full = || -> Result<Option<[u8; 32]>, String> {
        if logged_full.is_some() {
            return Ok(logged_full);
        }
        let (skic, skrc) = components()?;
        Ok(match (secret()?, skic, skrc) {
            (Some(s), Some(i), Some(r)) => {
                let d = DerivedKeys::derive(s, i, r);
                Some(if initiator {
                    d.encrypt_full
                } else {
                    d.decrypt_full
                })
            }
            _ => None,
        })
    };
    let key: [u8; 16] = match b(&format!("{who}_encrypt_key"))? {
        Some(k) => k
            .try_into()
            .map_err(|_| format!("{who}_encrypt_key is not 16 bytes"))?,
        None => full()?
            .map(|f| f[..16].try_into().expect("16 of 32"))
            .ok_or(format!("no {who}_encrypt_key, and not enough to derive it"))?,
    };
    // What each end's component said, for facts the log leaves out.
    let parsed = OnceCell::new();
    let parsed = || -> Result<&(Option<Component>, Option<Component>), String> {
        parsed
            .get_or_init(|| {
                let (skic, skrc) = components()?;
                let (own, peer) = if initiator {
                    (skic, skrc)
                } else {
                    (skrc, skic)
                };
                let parse =
                    |c: &Option<Vec<u8>>| c.as_deref().and_then(|c| Component::parse(c).ok());
                Ok((parse(own), parse(peer)))
            })
            .as_ref()
            .map_err(Clone::clone)
    };
    let sends = |own_flags: Option<u8>, peer_flags: Option<u8>| {
        Some(
            own_flags? & keying::flags::SEND_ALWAYS != 0
                || peer_flags? & keying::flags::REQUEST != 0,
        )
    };
    let hmac_send = match facts.flag(&format!("{who}_hmac_send")) {
        Some(f) => Some(f),
        None => {
            let (own, peer) = parsed()?;
            sends(
                own.as_ref().and_then(|c| c.hmac.map(|h| h.0)),
                peer.as_ref().and_then(|c| c.hmac.map(|h| h.0)),
            )
        }
    };
    let sseq_send = match facts.flag(&format!("{who}_sseq_send")) {
        Some(f) => f,
        None => {
            let (own, peer) = parsed()?;
            sends(
                own.as_ref().and_then(|c| c.sseq),
                peer.as_ref().and_then(|c| c.sseq),
            )
            .unwrap_or(false)
        }
    };
    let hmac = if hmac_send.unwrap_or(false) {
        let len = match facts.number(&format!("{who}_hmac_send_len")) {
            Some(n) => Some(n),
            None => parsed()?.0.as_ref().and_then(|c| c.hmac.map(|h| h.1)),
        }
        .ok_or(format!("{who} sends an HMAC of unknown length"))? as usize;
        if !crate::crypto::flash::packet::HMAC_LENGTHS.contains(&len) {
            return Err(format!("{who}_hmac_send_len {len} outside 4..=32"));
        }
        let hkey: [u8; 32] = match b(&format!("{who}_hmac_send_key"))? {
            Some(k) => k
                .try_into()
                .map_err(|_| format!("{who}_hmac_send_key is not 32 bytes"))?,
            None => match (secret()?, full()?) {
                (Some(s), Some(f)) => keying::hmac_sha256(s, &f),
                _ => {
                    return Err(format!(
                        "no {who}_hmac_send_key, and not enough to derive it"
                    ));
                }
            },
        };
        Some((hkey, len))
    } else {
        None
    };
    Ok(DirectionKeys::new(key, hmac, sseq_send))
}

/// Counts over a whole capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub packets: usize,
    pub decoded: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn add(&mut self, s: &Status) {
        self.packets += 1;
        match s {
            Status::Decoded => self.decoded += 1,
            Status::Failed { .. } => self.failed += 1,
            Status::Skipped { .. } => self.skipped += 1,
        }
    }
}

/// An IIKeying seen, waiting for its RIKeying.
#[derive(Debug)]
struct PendingKeying {
    initiator: SocketAddr,
    responder: SocketAddr,
    initiator_session_id: u32,
    skic: Vec<u8>,
    profile: Profile,
}

/// Decodes the datagrams of a capture in order.
#[derive(Debug, Default)]
pub struct Decoder {
    choice: ProfileChoice,
    /// The profile the capture's startup packets turned out to use.
    seen_profile: Option<Profile>,
    pub sessions: Vec<TrackedSession>,
    /// `sessions` by the session ID each direction is sent to: one lookup per
    /// datagram, not a scan of every session.
    by_sid: BTreeMap<u32, Vec<(usize, Direction)>>,
    /// IIKeyings waiting for their RIKeying, one per (initiator, responder)...
    pending: BTreeMap<(SocketAddr, SocketAddr), PendingKeying>,
    /// ... and the keys of those with each initiator session ID.
    pending_by_sid: BTreeMap<u32, Vec<(SocketAddr, SocketAddr)>>,
    pub summary: Summary,
}

impl DecodedPacket {
    /// A datagram's record with nothing decoded yet (or nothing to decode).
    pub fn new(
        index: usize,
        time: std::time::Duration,
        src: SocketAddr,
        dst: SocketAddr,
        length: usize,
        status: Status,
    ) -> Self {
        DecodedPacket {
            index,
            time: time.as_secs_f64(),
            src,
            dst,
            length,
            status,
            session_id: None,
            session: None,
            direction: None,
            profile: None,
            key: None,
            integrity: None,
            sseq: None,
            packet: None,
            plain: Vec::new(),
        }
    }
}

impl Decoder {
    pub fn new(keylog: Option<&KeyLog>, choice: ProfileChoice) -> Self {
        let sessions = keylog
            .map(|k| {
                k.sessions
                    .iter()
                    .map(|s| TrackedSession {
                        initiator: s.initiator,
                        responder: s.responder,
                        initiator_session_id: s.session_id("initiator_session_id"),
                        responder_session_id: s.session_id("responder_session_id"),
                        profile: match s.get("crypto") {
                            Some("plain") => Some(Profile::Plain),
                            Some("flash") => Some(Profile::Flash),
                            _ => None,
                        },
                        source: SessionSource::KeyLog,
                        skic: None,
                        skrc: None,
                        facts: Some(s.clone()),
                        openers: None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut d = Decoder {
            choice,
            sessions,
            ..Default::default()
        };
        for i in 0..d.sessions.len() {
            d.index_session(i);
        }
        d
    }

    fn startup_profiles(&self) -> Vec<Profile> {
        match (self.choice, self.seen_profile) {
            (ProfileChoice::Flash, _) => vec![Profile::Flash],
            (ProfileChoice::Plain, _) => vec![Profile::Plain],
            (ProfileChoice::Auto, Some(Profile::Flash)) => vec![Profile::Flash, Profile::Plain],
            (ProfileChoice::Auto, _) => vec![Profile::Plain, Profile::Flash],
        }
    }

    /// Decodes one datagram and updates the summary.
    pub fn decode(&mut self, d: DatagramRef<'_>) -> DecodedPacket {
        let mut out = DecodedPacket::new(
            d.index,
            d.time,
            d.src,
            d.dst,
            d.payload.len(),
            Status::Decoded,
        );
        self.decode_into(d, &mut out);
        self.summary.add(&out.status);
        out
    }

    fn decode_into(&mut self, d: DatagramRef<'_>, out: &mut DecodedPacket) {
        if d.payload.is_empty() {
            // rtmfp-cpp's `testclient -l` "loses" packets by sending empty datagrams
            // (vectors/README.md fact 25); they carry no RTMFP packet.
            out.status = Status::Skipped {
                reason: "empty UDP datagram (no RTMFP packet)".into(),
            };
            return;
        }
        let (sid, encrypted) = match multiplex::demux(d.payload) {
            Ok(x) => x,
            Err(e) => return fail(out, format!("not an RTMFP datagram: {e}")),
        };
        out.session_id = Some(sid);
        let mut first_error: Option<String> = None;

        if sid != multiplex::STARTUP_SESSION_ID {
            // Sessions this ID may belong to, those whose addresses match first.
            let mut candidates: Vec<(usize, Direction)> =
                self.by_sid.get(&sid).cloned().unwrap_or_default();
            // In session order, as a scan would find them.
            candidates.sort();
            candidates
                .sort_by_key(|&(i, dir)| !self.sessions[i].addresses_match(dir, d.src, d.dst));
            for (i, dir) in candidates {
                let s = &mut self.sessions[i];
                let profile = s.profile;
                let openers = match s.openers() {
                    Ok(o) => o,
                    Err(e) => {
                        first_error.get_or_insert(format!("session {i}: {e}"));
                        continue;
                    }
                };
                let opener = &mut openers[dir as usize];
                match opener.open(encrypted) {
                    Ok(opened) => {
                        out.session = Some(i);
                        out.direction = Some(dir);
                        out.profile = profile;
                        out.key = Some(KeyUsed::Session);
                        out.integrity = Some(opened.integrity);
                        out.sseq = opened.sseq;
                        return self.parse(opened.packet, out);
                    }
                    Err(e) => {
                        first_error.get_or_insert(format!("session {i} {}: {e}", dir.arrow()));
                    }
                }
            }
        }

        // Session ID 0, or a startup packet sent to a non-zero session ID under the
        // Default Session Key (RIKeying, RHello Cookie Change: RFC 7016 §2.2.3).
        for profile in self.startup_profiles() {
            match profile.default_cipher().open(encrypted) {
                Ok(opened) => {
                    out.profile = Some(profile);
                    out.key = Some(KeyUsed::Default);
                    out.integrity = Some(opened.integrity);
                    if sid == 0 {
                        self.seen_profile.get_or_insert(profile);
                    }
                    return self.parse(opened.packet, out);
                }
                Err(e) => {
                    if sid == 0 || first_error.is_none() {
                        first_error.get_or_insert(format!("default key ({}): {e}", profile.name()));
                    }
                }
            }
        }
        let reason = match first_error {
            Some(e) if sid != 0 && !self.by_sid.contains_key(&sid) => {
                format!("unknown session ID {sid:#010x} ({e})")
            }
            Some(e) => e,
            None => "could not decrypt".into(),
        };
        fail(out, reason)
    }

    fn parse(&mut self, plain: Vec<u8>, out: &mut DecodedPacket) {
        match Packet::parse(&plain) {
            Ok(p) => {
                if out.key == Some(KeyUsed::Default) {
                    self.learn(&p, out);
                }
                out.packet = Some(p);
            }
            Err(e) => fail(out, format!("decrypted, but not a valid packet: {e}")),
        }
        out.plain = plain;
    }

    /// Learns sessions from the handshake chunks of startup packets.
    fn learn(&mut self, p: &Packet, out: &mut DecodedPacket) {
        let profile = out.profile.unwrap_or(Profile::Flash);
        for c in &p.chunks {
            match c {
                Chunk::IHello(_) | Chunk::IIKeying(_) => {
                    out.direction = Some(Direction::InitiatorToResponder)
                }
                Chunk::RHello(_)
                | Chunk::Redirect(_)
                | Chunk::RHelloCookieChange(_)
                | Chunk::RIKeying(_) => out.direction = Some(Direction::ResponderToInitiator),
                _ => {}
            }
            match c {
                Chunk::IIKeying(k) => {
                    let key = (out.src, out.dst);
                    self.forget_pending(key);
                    self.pending.insert(
                        key,
                        PendingKeying {
                            initiator: out.src,
                            responder: out.dst,
                            initiator_session_id: k.initiator_session_id,
                            skic: k.skic.clone(),
                            profile,
                        },
                    );
                    self.pending_by_sid
                        .entry(k.initiator_session_id)
                        .or_default()
                        .push(key);
                }
                Chunk::RIKeying(k) => {
                    let sid = out.session_id.unwrap_or(0);
                    // The IIKeying with this session ID from the RIKeying's
                    // destination, else any with this session ID.
                    let keys = self.pending_by_sid.get(&sid);
                    let Some(key) = keys
                        .and_then(|v| v.iter().find(|k| k.0 == out.dst).or(v.first()))
                        .copied()
                    else {
                        continue;
                    };
                    let Some(pk) = self.forget_pending(key) else {
                        continue;
                    };
                    let idx = self.attach(pk, k.responder_session_id, k.skrc.clone());
                    out.session = Some(idx);
                }
                _ => {}
            }
        }
    }

    /// Attaches a completed handshake to a key log session, or adds a new one.
    fn attach(&mut self, pk: PendingKeying, responder_session_id: u32, skrc: Vec<u8>) -> usize {
        let existing = self.sessions.iter().position(|s| {
            s.source == SessionSource::KeyLog
                && s.initiator == pk.initiator
                && s.responder == pk.responder
                && s.skic.is_none()
                && s.initiator_session_id
                    .is_none_or(|x| x == pk.initiator_session_id)
                && s.responder_session_id
                    .is_none_or(|x| x == responder_session_id)
        });
        let idx = match existing {
            Some(i) => i,
            None => {
                self.sessions.push(TrackedSession {
                    initiator: pk.initiator,
                    responder: pk.responder,
                    initiator_session_id: None,
                    responder_session_id: None,
                    profile: None,
                    source: SessionSource::Capture,
                    skic: None,
                    skrc: None,
                    facts: None,
                    openers: None,
                });
                self.sessions.len() - 1
            }
        };
        self.unindex_session(idx);
        let s = &mut self.sessions[idx];
        s.initiator_session_id = Some(pk.initiator_session_id);
        s.responder_session_id = Some(responder_session_id);
        s.profile.get_or_insert(pk.profile);
        s.skic = Some(pk.skic);
        s.skrc = Some(skrc);
        s.openers = None;
        self.index_session(idx);
        idx
    }

    /// Re-encrypts a decoded packet from its parsed form, as its sender did; for a
    /// correct decoder and codec this reproduces the captured datagram exactly.
    pub fn reencode(&mut self, d: &DecodedPacket) -> Option<Vec<u8>> {
        let packet = d.packet.as_ref()?.to_bytes().ok()?;
        let sid = d.session_id?;
        let mut sealer = match (d.key?, d.session, d.direction) {
            (KeyUsed::Session, Some(i), Some(dir)) => {
                let openers = self.sessions.get_mut(i)?.openers().ok()?;
                openers[dir as usize].reflect(d.sseq.unwrap_or(0))
            }
            (KeyUsed::Default, ..) => d.profile?.default_cipher(),
            _ => return None,
        };
        let mut enc = Vec::new();
        sealer.seal(&packet, &mut enc);
        let mut datagram = Vec::new();
        multiplex::mux(sid, &enc, &mut datagram);
        Some(datagram)
    }
}

// Key logs that do not match a session (§2.2.3: its packets do not open).
#[path = "decode_keys.rs"]
mod keys;
pub use keys::{KEYS_MISMATCH, KeyMismatch, mark_unmatched_keys};

fn fail(out: &mut DecodedPacket, reason: String) {
    out.status = Status::Failed { reason };
}

impl From<CryptoError> for Status {
    fn from(e: CryptoError) -> Self {
        Status::Failed {
            reason: e.to_string(),
        }
    }
}

// The decoder's lookup maps (session ID -> sessions, pending handshakes).
#[path = "decode_index.rs"]
mod index;
