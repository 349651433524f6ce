//! Flash-profile packet encryption (RFC 7425 §4; fact sheet §2-§4).
//!
//! ```text
//! encrypted packet = AES-128-CBC(key, IV = 0, plaintext) ‖ [HMAC truncated to h]
//! plaintext        = [SSEQ VLU] ‖ [checksum, 2 bytes BE] ‖ RTMFP packet ‖ 0..15 × 0xff
//! ```
//! The checksum is present unless that direction uses an HMAC; it covers what
//! follows it, padding included. The HMAC (HMAC-SHA256 over the ciphertext only)
//! and the session sequence number are negotiated per direction (§4 of the sheet).

use aes::Aes128;
use aes::cipher::{
    Block, BlockBackend, BlockClosure, BlockDecrypt, BlockEncrypt, BlockSizeUser, KeyInit,
    ParBlocks, consts::U16, typenum::Unsigned,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::checksum::checksum;
use crate::crypto::{CryptoError, Integrity, Opened, OpenedIn, PacketCipher};
use crate::wire::vlu;

/// RFC 7425 §4.1: the Default Session Key, "Adobe Systems 02".
pub const DEFAULT_SESSION_KEY: [u8; 16] = *b"Adobe Systems 02";

type HmacSha256 = Hmac<Sha256>;

/// RFC 7425 §4.6.4 (fact sheet): HMAC lengths are 4 to 32 bytes inclusive.
pub const HMAC_LENGTHS: std::ops::RangeInclusive<usize> = 4..=32;

/// rtmfp-cpp's replay window (fact sheet §4.4): anything more than 31 behind the
/// newest accepted session sequence number is dropped, as is any duplicate.
pub const SSEQ_WINDOW: u64 = 32;

/// Keys and framing for one direction of a session.
#[derive(Clone)]
pub struct DirectionKeys {
    key: [u8; 16],
    aes: Aes128,
    /// (HMAC key, truncated length) if this direction carries an HMAC.
    hmac: Option<([u8; 32], usize)>,
    /// The HMAC keyed once (its inner and outer pads already hashed), cloned per
    /// packet instead of re-keying.
    mac: Option<HmacSha256>,
    /// Whether this direction carries a session sequence number.
    sseq: bool,
}

impl std::fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectionKeys")
            .field("hmac_len", &self.hmac.map(|h| h.1))
            .field("sseq", &self.sseq)
            .finish_non_exhaustive()
    }
}

impl DirectionKeys {
    pub fn new(key: [u8; 16], hmac: Option<([u8; 32], usize)>, sseq: bool) -> Self {
        DirectionKeys {
            key,
            aes: Aes128::new(&key.into()),
            hmac,
            mac: hmac.map(|(k, _)| {
                <HmacSha256 as Mac>::new_from_slice(&k).expect("HMAC takes any key length")
            }),
            sseq,
        }
    }

    /// The Default Session Key: checksum, no HMAC, no SSEQ (fact sheet §2.2).
    pub fn default_key() -> Self {
        Self::new(DEFAULT_SESSION_KEY, None, false)
    }

    pub fn key(&self) -> &[u8; 16] {
        &self.key
    }

    pub fn hmac_len(&self) -> Option<usize> {
        self.hmac.map(|h| h.1)
    }

    pub fn uses_sseq(&self) -> bool {
        self.sseq
    }
}

/// The receiver's duplicate detection for session sequence numbers (RFC 7016
/// §2.2.3: integrity SHOULD comprise duplicate packet detection).
#[derive(Debug, Clone, Default)]
pub struct SseqWindow {
    /// Highest accepted number and a bitmap of the 32 numbers at or below it
    /// (bit i = highest - i accepted).
    state: Option<(u64, u32)>,
}

impl SseqWindow {
    fn check(&self, n: u64) -> Result<(), CryptoError> {
        match self.state {
            None => Ok(()),
            Some((hi, _)) if n > hi => Ok(()),
            Some((hi, _)) if hi - n >= SSEQ_WINDOW => Err(CryptoError::Replay(n)),
            Some((hi, bits)) if bits & (1 << (hi - n)) != 0 => Err(CryptoError::Replay(n)),
            Some(_) => Ok(()),
        }
    }

    fn accept(&mut self, n: u64) {
        self.state = Some(match self.state {
            None => (n, 1),
            Some((hi, bits)) if n > hi => {
                let shift = n - hi;
                let shifted = if shift >= 32 { 0 } else { bits << shift };
                (n, shifted | 1)
            }
            Some((hi, bits)) => (hi, bits | (1 << (hi - n))),
        });
    }
}

/// A Flash-profile packet cipher: the Default Session Key, or a session's keys.
#[derive(Debug, Clone)]
pub struct FlashCipher {
    tx: DirectionKeys,
    rx: DirectionKeys,
    next_tx_sseq: u64,
    rx_window: SseqWindow,
}

impl FlashCipher {
    pub fn new(tx: DirectionKeys, rx: DirectionKeys) -> Self {
        FlashCipher {
            tx,
            rx,
            next_tx_sseq: 0,
            rx_window: SseqWindow::default(),
        }
    }

    pub fn default_key() -> Self {
        Self::new(DirectionKeys::default_key(), DirectionKeys::default_key())
    }

    pub fn tx(&self) -> &DirectionKeys {
        &self.tx
    }

    pub fn rx(&self) -> &DirectionKeys {
        &self.rx
    }

    /// [`PacketCipher::open`] into a caller's buffer (cleared first; on error its
    /// contents are unspecified): no heap allocation once `out` has room for the
    /// packet (issue 13: steady state without allocation).
    pub fn open_into(
        &mut self,
        encrypted: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(Integrity, Option<u64>), CryptoError> {
        let o = self.open_range(encrypted, out)?;
        out.drain(..o.start);
        Ok((o.integrity, o.sseq))
    }

    /// Decrypts and verifies into `out`, leaving the session sequence number
    /// and checksum in front of the packet (it starts at the returned `start`).
    fn open_range(&mut self, encrypted: &[u8], out: &mut Vec<u8>) -> Result<OpenedIn, CryptoError> {
        let (ciphertext, tag) = match self.rx.hmac {
            Some((_, len)) => {
                if encrypted.len() < len + 16 {
                    return Err(CryptoError::TooShort(encrypted.len()));
                }
                encrypted.split_at(encrypted.len() - len)
            }
            None => (encrypted, &[][..]),
        };
        if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
            return Err(CryptoError::BadCiphertextLength(ciphertext.len()));
        }
        if let Some(mac) = &self.rx.mac {
            let mut m = mac.clone();
            m.update(ciphertext);
            m.verify_truncated_left(tag)
                .map_err(|_| CryptoError::Hmac)?;
        }
        // Decrypted straight from the datagram into `out` (no copy of the
        // ciphertext first).
        out.clear();
        out.resize(ciphertext.len(), 0);
        cbc_decrypt(&self.rx.aes, ciphertext, out);
        let buf = out;
        let (sseq, at) = if self.rx.sseq {
            let (n, used) = vlu::decode(buf, "session sequence number")
                .map_err(|_| CryptoError::BadSequenceNumber("truncated VLU"))?;
            (Some(n), used)
        } else {
            (None, 0)
        };
        let (integrity, body) = match self.rx.hmac {
            Some((_, len)) => (Integrity::Hmac(len), at),
            None => {
                if buf.len() < at + 2 {
                    return Err(CryptoError::TooShort(buf.len()));
                }
                let got = u16::from_be_bytes([buf[at], buf[at + 1]]);
                let want = checksum(&buf[at + 2..]);
                if got != want {
                    return Err(CryptoError::Checksum { got, want });
                }
                (Integrity::Checksum(got), at + 2)
            }
        };
        if let Some(n) = sseq {
            // Only a packet that passed its integrity check moves the window.
            self.rx_window.check(n)?;
            self.rx_window.accept(n);
        }
        Ok(OpenedIn {
            start: body,
            integrity,
            sseq,
        })
    }
}

/// AES-128-CBC with a zero IV (RFC 7425 §4.1), encrypting `buf` (a whole number
/// of blocks) in place.
fn cbc_encrypt(aes: &Aes128, buf: &mut [u8]) {
    debug_assert_eq!(buf.len() % 16, 0);
    aes.encrypt_with_backend(CbcEncrypt(buf));
}

/// AES-128-CBC decryption with a zero IV from `input` into `output` (same length,
/// a whole number of blocks).
fn cbc_decrypt(aes: &Aes128, input: &[u8], output: &mut [u8]) {
    debug_assert_eq!(input.len() % 16, 0);
    debug_assert_eq!(input.len(), output.len());
    aes.decrypt_with_backend(CbcDecrypt { input, output });
}

/// CBC encryption is serial (each block's input is the previous ciphertext). The
/// chaining value is a local, so it stays in a register across blocks; the `cbc`
/// crate keeps it behind a reference that the compiler must store and reload per
/// block, which puts a store-to-load forwarding delay on the critical path.
struct CbcEncrypt<'a>(&'a mut [u8]);

impl BlockSizeUser for CbcEncrypt<'_> {
    type BlockSize = U16;
}

impl BlockClosure for CbcEncrypt<'_> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let mut chain = Block::<B>::default();
        for block in self.0.chunks_exact_mut(16) {
            for (c, p) in chain.iter_mut().zip(block.iter()) {
                *c ^= p;
            }
            backend.proc_block((&mut chain).into());
            block.copy_from_slice(&chain);
        }
    }
}

/// AES-128-CBC with a zero IV of several buffers (each a whole number of blocks),
/// each in place: the same result as [`cbc_encrypt`] on each.
fn cbc_encrypt_many(aes: &Aes128, bufs: &mut [&mut [u8]]) {
    debug_assert!(bufs.iter().all(|b| b.len() % 16 == 0));
    aes.encrypt_with_backend(CbcEncryptMany(bufs));
}

/// One CBC chain is serial, but the chains of different packets are not: the
/// backend's multi-block path (several AES rounds in flight at once with
/// AES-NI) takes block j of up to `ParBlocksSize` packets at a time, so a
/// burst of packets costs about what its longest packet does alone.
struct CbcEncryptMany<'a, 'b>(&'a mut [&'b mut [u8]]);

impl BlockSizeUser for CbcEncryptMany<'_, '_> {
    type BlockSize = U16;
}

impl BlockClosure for CbcEncryptMany<'_, '_> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let lanes = B::ParBlocksSize::USIZE;
        for group in self.0.chunks_mut(lanes) {
            if let [one] = group {
                CbcEncrypt(one).call(backend);
                continue;
            }
            let blocks = group.iter().map(|b| b.len() / 16).max().unwrap_or(0);
            // Lane i holds packet i's chaining value (the IV, zero, at first).
            let mut t = ParBlocks::<B>::default();
            for j in 0..blocks {
                let at = 16 * j..16 * j + 16;
                for (lane, buf) in t.iter_mut().zip(group.iter()) {
                    if let Some(p) = buf.get(at.clone()) {
                        for (c, p) in lane.iter_mut().zip(p) {
                            *c ^= p;
                        }
                    }
                }
                // Lanes whose packet has ended encrypt garbage that is never used.
                backend.proc_par_blocks((&mut t).into());
                for (lane, buf) in t.iter().zip(group.iter_mut()) {
                    if let Some(c) = buf.get_mut(at.clone()) {
                        c.copy_from_slice(lane);
                    }
                }
            }
        }
    }
}

/// CBC decryption is parallel: every block is decrypted independently, then XORed
/// with the previous ciphertext block. Blocks go through the backend's multi-block
/// path (8 at a time with AES-NI), the last partial group too (padded with
/// unused blocks: one parallel pass costs about what one serial block does).
struct CbcDecrypt<'a> {
    input: &'a [u8],
    output: &'a mut [u8],
}

impl BlockSizeUser for CbcDecrypt<'_> {
    type BlockSize = U16;
}

impl BlockClosure for CbcDecrypt<'_> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let group = 16 * B::ParBlocksSize::USIZE;
        // The XORs are done on u128s so that they compile to vector XORs.
        let word = |b: &[u8]| u128::from_ne_bytes(b.try_into().expect("16-byte block"));
        let mut chain = 0u128;
        for (ct, pt) in self.input.chunks(group).zip(self.output.chunks_mut(group)) {
            let mut t = ParBlocks::<B>::default();
            for (tb, cb) in t.iter_mut().zip(ct.chunks_exact(16)) {
                tb.copy_from_slice(cb);
            }
            backend.proc_par_blocks((&mut t).into());
            let blocks = t.iter().zip(pt.chunks_exact_mut(16));
            for ((tb, pb), cb) in blocks.zip(ct.chunks_exact(16)) {
                pb.copy_from_slice(&(word(tb) ^ chain).to_ne_bytes());
                chain = word(cb);
            }
        }
    }
}

impl FlashCipher {
    /// Appends the plaintext of a sealed packet (session sequence number,
    /// checksum, packet, padding) to `out`; where it starts.
    fn frame(&mut self, packet: &[u8], out: &mut Vec<u8>) -> usize {
        let start = out.len();
        if self.tx.sseq {
            vlu::encode(self.next_tx_sseq, out);
            self.next_tx_sseq += 1;
        }
        let at = out.len();
        if self.tx.hmac.is_none() {
            out.extend_from_slice(&[0, 0]);
        }
        out.extend_from_slice(packet);
        // Fact sheet §2.1: pad with 0xff to a multiple of 16, 0..15 bytes. The
        // ciphertext is never empty: with an HMAC and no session sequence number an
        // empty packet would leave nothing to encrypt, and `open` rightly refuses a
        // packet without one cipher block, so such a packet is padded to one block
        // (found by the `flash_seal_open` fuzz target: seal and open are inverses).
        let pad = match (out.len() - start) % 16 {
            0 if out.len() == start => 16,
            r => (16 - r) % 16,
        };
        out.resize(out.len() + pad, 0xff);
        if self.tx.hmac.is_none() {
            let sum = checksum(&out[at + 2..]);
            out[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        }
        start
    }

    /// Appends the HMAC of the ciphertext `out[start..]`, if this direction
    /// carries one.
    fn authenticate(&self, out: &mut Vec<u8>, start: usize) {
        if let (Some(mac), Some((_, len))) = (&self.tx.mac, self.tx.hmac) {
            let mut m = mac.clone();
            m.update(&out[start..]);
            let tag = m.finalize().into_bytes();
            out.extend_from_slice(&tag[..len]);
        }
    }
}

/// How many packets [`FlashCipher::seal_many`] frames before it encrypts them
/// together.
const SEAL_GROUP: usize = 16;

impl PacketCipher for FlashCipher {
    fn max_plain(&self, sealed: usize) -> usize {
        // Whole cipher blocks after the HMAC, less the session sequence number
        // (a VLU of at most 10 bytes) and the checksum.
        let hmac = self.tx.hmac.map_or(0, |h| h.1);
        let sseq = if self.tx.sseq { vlu::MAX_LEN } else { 0 };
        let checksum = if self.tx.hmac.is_none() { 2 } else { 0 };
        (sealed.saturating_sub(hmac) / 16 * 16).saturating_sub(sseq + checksum)
    }

    fn seal(&mut self, packet: &[u8], out: &mut Vec<u8>) {
        let start = self.frame(packet, out);
        cbc_encrypt(&self.tx.aes, &mut out[start..]);
        self.authenticate(out, start);
    }

    fn seal_many(&mut self, packets: &[&[u8]], outs: &mut [Vec<u8>]) {
        debug_assert_eq!(packets.len(), outs.len());
        for (packets, outs) in packets.chunks(SEAL_GROUP).zip(outs.chunks_mut(SEAL_GROUP)) {
            let mut starts = [0usize; SEAL_GROUP];
            for ((p, o), s) in packets.iter().zip(outs.iter_mut()).zip(&mut starts) {
                *s = self.frame(p, o);
            }
            let n = outs.len();
            let mut bufs: [&mut [u8]; SEAL_GROUP] = Default::default();
            for ((b, o), &s) in bufs.iter_mut().zip(outs.iter_mut()).zip(&starts) {
                *b = &mut o[s..];
            }
            cbc_encrypt_many(&self.tx.aes, &mut bufs[..n]);
            for (o, &s) in outs.iter_mut().zip(&starts) {
                self.authenticate(o, s);
            }
        }
    }

    fn clone_box(&self) -> Box<dyn PacketCipher> {
        Box::new(self.clone())
    }

    fn reflect(&self, next_sseq: u64) -> Box<dyn PacketCipher> {
        let mut c = FlashCipher::new(self.rx.clone(), self.tx.clone());
        c.next_tx_sseq = next_sseq;
        Box::new(c)
    }

    fn open_in(&mut self, encrypted: &[u8], out: &mut Vec<u8>) -> Result<OpenedIn, CryptoError> {
        self.open_range(encrypted, out)
    }

    fn open(&mut self, encrypted: &[u8]) -> Result<Opened, CryptoError> {
        let mut packet = Vec::with_capacity(encrypted.len());
        let (integrity, sseq) = self.open_into(encrypted, &mut packet)?;
        Ok(Opened {
            packet,
            integrity,
            sseq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hexv(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    // KAT-B1 (fact sheet §13.6): a synthetic IHello under the default key.
    #[test]
    fn kat_b1_default_key() {
        let packet = hexv(
            "0b 01 02 30 00 2a 19 18 0a 72 74 6d 66 70 3a 2f 2f 65 78 61 6d 70 6c 65 2e 63 6f 6d 2f 61 70 70
             00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
        );
        let datagram = hexv(
            "3b 44 61 b8 32 69 0f b2 09 2d 6e 0a a8 eb a0 b0 ab 3d 3d 9d 7e e4 f8 a6 c1 49 83 db 70 34 0e 78
             b0 11 45 89 02 92 f4 35 1d 58 aa 56 b8 f6 bd d4 cf 07 f1 08 eb a5 9b f6 a1 07 d2 49 7b 63 c9 4d
             91 43 9b a5",
        );
        let mut c = FlashCipher::default_key();
        let mut enc = Vec::new();
        c.seal(&packet, &mut enc);
        let mut dg = Vec::new();
        crate::wire::multiplex::mux(0, &enc, &mut dg);
        assert_eq!(dg, datagram);
        let opened = c.open(&datagram[4..]).unwrap();
        assert_eq!(opened.integrity, Integrity::Checksum(0xc28e));
        assert_eq!(&opened.packet[..packet.len()], &packet[..]);
        assert!(opened.packet[packet.len()..].iter().all(|&b| b == 0xff));
        assert_eq!(opened.packet.len(), 62);
    }

    /// seal_many gives exactly the bytes of seal on each packet in turn (and
    /// open_in what open gives), for
    /// groups of every size up to past two lanes' worth, packets of every length
    /// class (empty, under a block, whole blocks, long), checksum or HMAC, with
    /// and without session sequence numbers.
    #[test]
    fn seal_many_equals_seal_one_by_one() {
        let lens = [0usize, 1, 13, 14, 15, 16, 17, 31, 32, 100, 1179, 1192];
        for (hmac, sseq) in [(None, false), (Some(([7u8; 32], 10)), true), (None, true)] {
            let keys = DirectionKeys::new([9u8; 16], hmac, sseq);
            for n in [1usize, 2, 3, 7, 8, 9, 16, 17, 40] {
                let packets: Vec<Vec<u8>> = (0..n)
                    .map(|i| {
                        let len = lens[(i * 5 + n) % lens.len()];
                        (0..len).map(|b| (b * 31 + i * 7 + n) as u8).collect()
                    })
                    .collect();
                let refs: Vec<&[u8]> = packets.iter().map(|p| &p[..]).collect();
                let mut one = FlashCipher::new(keys.clone(), keys.clone());
                let want: Vec<Vec<u8>> = refs
                    .iter()
                    .map(|p| {
                        let mut o = vec![0xaa, 0xbb];
                        one.seal(p, &mut o);
                        o
                    })
                    .collect();
                let mut many = FlashCipher::new(keys.clone(), keys.clone());
                let mut got = vec![vec![0xaa, 0xbb]; n];
                many.seal_many(&refs, &mut got);
                assert_eq!(got, want, "{n} packets, hmac {hmac:?}, sseq {sseq}");
                // And each opens to its packet, by open and by open_in alike
                // (a replay fails both when there is a session sequence number).
                let mut rx = FlashCipher::new(keys.clone(), keys.clone());
                let mut rx_in = FlashCipher::new(keys.clone(), keys.clone());
                let mut buf = vec![1, 2, 3];
                for (g, p) in got.iter().zip(&packets) {
                    let o = rx.open(&g[2..]).unwrap();
                    assert_eq!(&o.packet[..p.len()], &p[..]);
                    let i = rx_in.open_in(&g[2..], &mut buf).unwrap();
                    assert_eq!(&buf[i.start..], &o.packet[..]);
                    assert_eq!((i.integrity, i.sseq), (o.integrity, o.sseq));
                    assert_eq!(rx.open(&g[2..]).is_err(), sseq);
                    assert_eq!(rx_in.open_in(&g[2..], &mut buf).is_err(), sseq);
                }
            }
        }
    }

    /// max_plain(n): a packet that long seals to at most n bytes, in every
    /// framing (the session sequence number at its longest), and one cipher
    /// block more does not fit where the framing's length is fixed.
    #[test]
    fn max_plain_fills_the_sealed_size() {
        for (hmac, sseq) in [
            (None, false),
            (Some(([7u8; 32], 32)), false),
            (Some(([7u8; 32], 10)), true),
            (None, true),
        ] {
            let keys = DirectionKeys::new([9u8; 16], hmac, sseq);
            for n in [64usize, 1000, 1001, 1015, 1016, 1188] {
                let mut c = FlashCipher::new(keys.clone(), keys.clone());
                c.next_tx_sseq = u64::MAX >> 1; // a 9-byte VLU
                let max = c.max_plain(n);
                let mut out = Vec::new();
                c.seal(&vec![0x42; max], &mut out);
                assert!(out.len() <= n, "{n}: {max} sealed to {}", out.len());
                if !sseq {
                    out.clear();
                    c.seal(&vec![0x42; max + 16], &mut out);
                    assert!(out.len() > n, "{n}: {max} + 16 fits too");
                }
            }
        }
        // Checksum only, 1188 bytes after the session ID: 74 blocks, 2 for the checksum.
        let d = DirectionKeys::new([9u8; 16], None, false);
        assert_eq!(FlashCipher::new(d.clone(), d).max_plain(1188), 1182);
    }

    // KAT-W (fact sheet §13.3): a real Flash Player IHello to stratus.adobe.com.
    #[test]
    fn kat_w_real_ihello() {
        let packet = hexv(
            "0b 82 60 30 00 53 42 41 0a 72 74 6d 66 70 3a 2f 2f 73 74 72 61 74 75 73 2e 61 64 6f
             62 65 2e 63 6f 6d 2f 39 35 36 64 30 30 39 35 62 63 39 34 31 36 32 34 62 32 30 64 62
             37 37 66 2d 37 36 33 61 63 34 66 34 36 32 38 39 2f 7d 1c 42 fb 55 1b b4 e7 8f 34 b6
             c4 a0 11 cc bd",
        );
        let datagram = hexv(
            "95 bd 4a 12 d9 7a e8 af 4c c7 a2 bd 26 39 77 19 d7 42 31 a2 31 bb 05 7c 0d e4 03 2a
             4e fa c3 9b 11 d8 b8 98 3f d6 aa b7 a1 98 f2 5f 75 ed e2 41 e5 20 0b 30 fc 5d 46 33
             05 f5 8b 93 a9 be 90 2d 8f 07 72 87 20 b1 5e 15 08 95 83 a9 c1 c9 9a 6a ec 93 04 ff
             2b 66 a5 25 6d e7 06 48 d4 38 01 6b 8a c6 67 8b",
        );
        let mut enc = Vec::new();
        FlashCipher::default_key().seal(&packet, &mut enc);
        let mut dg = Vec::new();
        crate::wire::multiplex::mux(0, &enc, &mut dg);
        assert_eq!(dg, datagram);
        let opened = FlashCipher::default_key().open(&datagram[4..]).unwrap();
        assert_eq!(opened.integrity, Integrity::Checksum(0x0a4d));
    }

    fn kat_d_initiator(hmac: Option<usize>, sseq: bool) -> FlashCipher {
        let key: [u8; 16] = hexv("3fb3a06b210c0dbf2b9bea0ee9b22fed").try_into().unwrap();
        let hkey: [u8; 32] =
            hexv("f163ca680f9d9e1fddea24f83fef7f4a42a9834da27046fdf5a9546522f44640")
                .try_into()
                .unwrap();
        let tx = DirectionKeys::new(key, hmac.map(|l| (hkey, l)), sseq);
        FlashCipher::new(tx.clone(), tx)
    }

    const PING: &str = "09 02 03 01 00 04 70 69 6e 67";

    // KAT-D2: session packet, checksum mode, to session 0x01020304.
    #[test]
    fn kat_d2_checksum() {
        let mut c = kat_d_initiator(None, false);
        let mut enc = Vec::new();
        c.seal(&hexv(PING), &mut enc);
        let mut dg = Vec::new();
        crate::wire::multiplex::mux(0x0102_0304, &enc, &mut dg);
        assert_eq!(
            dg,
            hexv("7c 9f 9c 75 db cb 20 18 a6 56 bf 69 da 0e 3e 9a 42 a6 b0 90")
        );
        assert_eq!(
            c.open(&dg[4..]).unwrap().integrity,
            Integrity::Checksum(0x1528)
        );
    }

    // KAT-D3: HMAC length 10 + SSEQ 0, no checksum.
    #[test]
    fn kat_d3_hmac_sseq() {
        let mut c = kat_d_initiator(Some(10), true);
        let mut enc = Vec::new();
        c.seal(&hexv(PING), &mut enc);
        let mut dg = Vec::new();
        crate::wire::multiplex::mux(0x0102_0304, &enc, &mut dg);
        assert_eq!(
            dg,
            hexv(
                "23 e0 66 ce 42 ea 55 a0 60 08 30 6a cf 8e 41 41 19 11 15 60 4c a6 bf a8 27 8f c6 bb 76 d1"
            )
        );
        let o = c.open(&dg[4..]).unwrap();
        assert_eq!((o.integrity, o.sseq), (Integrity::Hmac(10), Some(0)));
        // A flipped tag bit fails, and a replay of the same packet fails.
        let mut bad = dg.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(c.open(&bad[4..]), Err(CryptoError::Hmac));
        assert_eq!(c.open(&dg[4..]), Err(CryptoError::Replay(0)));
    }

    // KAT-D4: SSEQ 5 without HMAC: the checksum covers 13 bytes (odd-byte rule).
    #[test]
    fn kat_d4_sseq_checksum_odd() {
        let mut c = kat_d_initiator(None, true);
        c.next_tx_sseq = 5;
        let mut enc = Vec::new();
        c.seal(&hexv(PING), &mut enc);
        let mut dg = Vec::new();
        crate::wire::multiplex::mux(0x0102_0304, &enc, &mut dg);
        assert_eq!(
            dg,
            hexv("93 11 c9 10 ec c8 c6 aa 7e db 0c be e6 03 2f db 01 1f 09 40")
        );
        let o = c.open(&dg[4..]).unwrap();
        assert_eq!(
            (o.integrity, o.sseq),
            (Integrity::Checksum(0x1429), Some(5))
        );
    }

    #[test]
    fn sseq_window() {
        let mut w = SseqWindow::default();
        for n in [10, 12, 11, 40] {
            w.check(n).unwrap();
            w.accept(n);
        }
        // 12 was accepted before 40 moved the window and is still inside it.
        assert_eq!(w.check(12), Err(CryptoError::Replay(12)));
        assert!(w.check(13).is_ok());
        let mut w2 = SseqWindow::default();
        for n in [12, 40] {
            w2.accept(n);
        }
        assert_eq!(w2.check(12), Err(CryptoError::Replay(12)));
        assert_eq!(w2.check(8), Err(CryptoError::Replay(8))); // 32 behind
        assert!(w2.check(9).is_ok());
        assert!(w2.check(41).is_ok());
        assert_eq!(w2.check(40), Err(CryptoError::Replay(40)));
    }

    // Regression (fuzz target `flash_seal_open`): an empty packet sealed with an
    // HMAC and no session sequence number used to be the bare tag, which `open`
    // rejected as `TooShort`. Every framing must open what it sealed.
    #[test]
    fn empty_packet_round_trips_in_every_framing() {
        for hmac in [None, Some(4), Some(10), Some(32)] {
            for sseq in [false, true] {
                let mut c = kat_d_initiator(hmac, sseq);
                let mut enc = Vec::new();
                c.seal(&[], &mut enc);
                let o = c
                    .open(&enc)
                    .unwrap_or_else(|e| panic!("hmac {hmac:?} sseq {sseq}: {e}"));
                assert!(o.packet.iter().all(|&b| b == 0xff), "only padding");
                assert!(o.packet.len() <= 16);
                assert_eq!(enc.len() - hmac.unwrap_or(0), 16);
            }
        }
    }

    // Our CBC against the `cbc` crate's, for every length from 1 to 40 blocks (whole
    // 8-block groups, partial last groups, single blocks).
    #[test]
    fn cbc_matches_the_cbc_crate() {
        use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
        let key = [0x5au8; 16];
        let aes = Aes128::new(&key.into());
        for blocks in 1..=40 {
            let plain: Vec<u8> = (0..blocks * 16).map(|i| (i * 31 + blocks) as u8).collect();
            let mut ours = plain.clone();
            cbc_encrypt(&aes, &mut ours);
            let mut theirs = plain.clone();
            let n = theirs.len();
            cbc::Encryptor::<Aes128>::new(&key.into(), &[0; 16].into())
                .encrypt_padded_mut::<NoPadding>(&mut theirs, n)
                .unwrap();
            assert_eq!(ours, theirs, "encrypt, {blocks} blocks");
            let mut back = vec![0u8; n];
            cbc_decrypt(&aes, &ours, &mut back);
            assert_eq!(back, plain, "decrypt, {blocks} blocks");
            cbc::Decryptor::<Aes128>::new(&key.into(), &[0; 16].into())
                .decrypt_padded_mut::<NoPadding>(&mut theirs)
                .unwrap();
            assert_eq!(theirs, plain);
        }
    }

    #[test]
    fn bad_lengths_and_checksum() {
        let mut c = FlashCipher::default_key();
        assert_eq!(c.open(&[]), Err(CryptoError::BadCiphertextLength(0)));
        assert_eq!(c.open(&[0; 17]), Err(CryptoError::BadCiphertextLength(17)));
        assert!(matches!(
            c.open(&[0; 32]),
            Err(CryptoError::Checksum { .. })
        ));
        let mut h = kat_d_initiator(Some(16), false);
        assert_eq!(h.open(&[0; 20]), Err(CryptoError::TooShort(20)));
    }
}
