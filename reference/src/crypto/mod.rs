//! RFC 7016 §2.2.3 cryptography profiles.
//!
//! RFC 7016 leaves packet encryption, certificates, endpoint discriminators and key
//! agreement to a Cryptography Profile. [`CryptoProfile`] is what the session layer
//! needs from one; two are provided:
//! - [`flash`]: RFC 7425, the Flash Communication profile (AES-128-CBC, checksum or
//!   HMAC-SHA256, session sequence numbers, Diffie-Hellman key agreement).
//! - [`plain`]: the cleartext test profile of the RFC author's implementation
//!   (rtmfp-cpp `PlainCryptoAdapter`), so that tests and fuzzers can read the wire.

pub mod checksum;
pub mod flash;
pub mod plain;

use std::fmt;

use rand::RngCore;

/// Why a packet could not be opened or a handshake step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("encrypted packet length {0} is not a non-zero multiple of 16")]
    BadCiphertextLength(usize),
    #[error("packet too short for its framing ({0} bytes)")]
    TooShort(usize),
    #[error("checksum mismatch (packet says {got:#06x}, computed {want:#06x})")]
    Checksum { got: u16, want: u16 },
    #[error("HMAC mismatch")]
    Hmac,
    #[error("session sequence number {0} already seen or too old (replay)")]
    Replay(u64),
    #[error("bad session sequence number: {0}")]
    BadSequenceNumber(&'static str),
    #[error("bad plain-profile trailer (expected 16 bytes of 0xff)")]
    BadTrailer,
    #[error("{0}")]
    Handshake(String),
}

/// How a packet's integrity was checked when it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Integrity {
    /// 16-bit checksum, verified (with the salt, for the plain profile).
    Checksum(u16),
    /// Truncated HMAC of this many bytes, verified.
    Hmac(usize),
}

/// A decrypted packet and what the crypto layer learned while opening it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The plain RTMFP packet (RFC 7016 §2.2.4), padding included.
    pub packet: Vec<u8>,
    pub integrity: Integrity,
    /// The session sequence number, when the profile uses one in this direction.
    pub sseq: Option<u64>,
}

/// What [`PacketCipher::open_in`] found: the packet starts at `start` of the
/// caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedIn {
    pub start: usize,
    pub integrity: Integrity,
    pub sseq: Option<u64>,
}

/// Encrypts packets to, and decrypts packets from, one far end (or, for the
/// Default Session Key, anyone). `seal` and `open` work on the encrypted packet,
/// i.e. what follows the scrambled session ID (RFC 7016 §2.2.2).
pub trait PacketCipher: Send + fmt::Debug {
    /// Encrypts a plain packet (header and chunks; the cipher adds any padding).
    fn seal(&mut self, packet: &[u8], out: &mut Vec<u8>);
    /// The largest plain packet whose sealed form is at most `sealed` bytes
    /// (for any packet this cipher may seal from now on).
    fn max_plain(&self, sealed: usize) -> usize;
    /// Seals several packets in order, appending packet i's encryption to
    /// `outs[i]`: the same bytes as [`PacketCipher::seal`] on each in turn. A
    /// profile may do the work of several at once (the Flash profile runs their
    /// AES-CBC chains side by side).
    fn seal_many(&mut self, packets: &[&[u8]], outs: &mut [Vec<u8>]) {
        debug_assert_eq!(packets.len(), outs.len());
        for (p, o) in packets.iter().zip(outs.iter_mut()) {
            self.seal(p, o);
        }
    }
    /// Decrypts and verifies. RFC 7016 §2.2.3: a packet that fails integrity or
    /// authenticity tests SHALL be discarded; an `Err` here means discard. A failed
    /// `open` changes no state.
    fn open(&mut self, encrypted: &[u8]) -> Result<Opened, CryptoError>;
    /// As [`PacketCipher::open`], into a buffer the caller reuses from packet to
    /// packet (cleared first; on error its contents are unspecified): the packet
    /// is `out[start..]`. No allocation once `out` has room.
    fn open_in(&mut self, encrypted: &[u8], out: &mut Vec<u8>) -> Result<OpenedIn, CryptoError> {
        let o = self.open(encrypted)?;
        out.clear();
        out.extend_from_slice(&o.packet);
        Ok(OpenedIn {
            start: 0,
            integrity: o.integrity,
            sseq: o.sseq,
        })
    }
    /// A cipher that seals exactly as the far end of this one does (its transmit
    /// side is this cipher's receive side), continuing at session sequence number
    /// `next_sseq`. Test tools use it to re-emit or forge the far end's packets.
    fn reflect(&self, next_sseq: u64) -> Box<dyn PacketCipher>;
    /// A copy with the same keys and state (to open a packet without changing
    /// this cipher's replay window).
    fn clone_box(&self) -> Box<dyn PacketCipher>;
}

/// The result of a completed key agreement, at one end of a session.
#[derive(Debug)]
pub struct SessionKeys {
    /// Seals with this end's keys, opens with the far end's.
    pub cipher: Box<dyn PacketCipher>,
    /// RFC 7016 §3.5 near and far nonces.
    pub near_nonce: Vec<u8>,
    pub far_nonce: Vec<u8>,
    /// Facts for a key log line set (see [`crate::keylog`]), named from the
    /// initiator's and responder's points of view (`initiator_encrypt_key`, ...).
    pub keylog: Vec<(String, String)>,
}

/// The initiator's half of a key agreement, between IIKeying and RIKeying.
pub trait InitiatorKeying: Send + fmt::Debug {
    /// sessionKeyInitiatorComponent, to send in IIKeying.
    fn skic(&self) -> &[u8];
    /// Combines the responder's component (from RIKeying) into session keys.
    fn complete(self: Box<Self>, skrc: &[u8]) -> Result<SessionKeys, CryptoError>;
}

/// What the session layer needs from a Cryptography Profile (RFC 7016 §2.2.3, §3.2).
pub trait CryptoProfile: Send + Sync + fmt::Debug {
    /// `"flash"` or `"plain"`.
    fn name(&self) -> &'static str;

    /// The Default Session Key's cipher, for session ID 0 and startup packets.
    fn default_cipher(&self) -> Box<dyn PacketCipher>;

    /// This endpoint's certificate, sent in RHello and IIKeying.
    fn certificate(&self) -> &[u8];

    /// RFC 7016 §3.2: does this EPD select this endpoint (as a responder)?
    fn epd_selects_me(&self, epd: &[u8]) -> bool;

    /// RFC 7016 §3.2: does this EPD select the endpoint with this certificate
    /// (checked by an initiator on RHello)?
    fn epd_selects_certificate(&self, epd: &[u8], certificate: &[u8]) -> bool;

    /// RFC 7016 §3.2: the canonical EPD of a certificate.
    fn canonical_epd(&self, certificate: &[u8]) -> Vec<u8>;

    /// RFC 7016 §3.5.1.3 glare: true if this end wins against the far certificate.
    /// Deterministic, and the two ends reach opposite verdicts (§3.2).
    fn glare_near_wins(&self, far_certificate: &[u8]) -> bool;

    /// RFC 7016 §3.2: do two certificates denote the same identity (so a new
    /// session overrides an old one)?
    fn same_identity(&self, a: &[u8], b: &[u8]) -> bool {
        a == b
    }

    /// Checks a far certificate's syntax and validity.
    fn validate_certificate(&self, certificate: &[u8]) -> Result<(), CryptoError>;

    /// Starts a key agreement with the responder whose certificate is given.
    fn initiate(
        &self,
        rng: &mut dyn RngCore,
        responder_certificate: &[u8],
    ) -> Result<Box<dyn InitiatorKeying>, CryptoError>;

    /// Responds to an IIKeying: returns sessionKeyResponderComponent and the keys.
    fn respond(
        &self,
        rng: &mut dyn RngCore,
        initiator_certificate: &[u8],
        skic: &[u8],
    ) -> Result<(Vec<u8>, SessionKeys), CryptoError>;

    /// Signature over `initiatorSignedParameters` / `responderSignedParameters`.
    fn sign(&self, signed_parameters: &[u8]) -> Vec<u8>;

    /// Verifies a far end's signature.
    fn verify(&self, far_certificate: &[u8], signed_parameters: &[u8], signature: &[u8]) -> bool;
}
