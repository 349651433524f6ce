//! The cleartext test profile of the RFC author's implementation (rtmfp-cpp
//! `PlainCryptoAdapter`), as the `plain-*` captures show it (vectors/README.md
//! fact 24):
//!
//! ```text
//! encrypted packet = plain packet ‖ 16 × 0xff ‖ checksum (2 bytes, BE)
//! checksum = (Internet checksum of packet ‖ 16 × 0xff + salt) mod 2^16
//! ```
//! The salt is 0 for startup packets; in an open session a sender adds the
//! receiver's 2-byte keying component. Certificate and EPD are the identity
//! string; an EPD selects the endpoint whose certificate equals it.

use rand::RngCore;

use super::checksum::checksum;
use super::{
    CryptoError, CryptoProfile, InitiatorKeying, Integrity, Opened, OpenedIn, PacketCipher,
    SessionKeys,
};

pub const TRAILER: [u8; 16] = [0xff; 16];

/// A plain-profile cipher: salts for the two directions.
#[derive(Debug, Clone, Default)]
pub struct PlainCipher {
    pub tx_salt: u16,
    pub rx_salt: u16,
}

impl PlainCipher {
    /// Checks the checksum and the trailer; the packet within `encrypted`.
    fn check<'a>(&self, encrypted: &'a [u8]) -> Result<(&'a [u8], Integrity), CryptoError> {
        if encrypted.len() < TRAILER.len() + 2 {
            return Err(CryptoError::TooShort(encrypted.len()));
        }
        let (body, sum) = encrypted.split_at(encrypted.len() - 2);
        let got = u16::from_be_bytes([sum[0], sum[1]]);
        let want = checksum(body).wrapping_add(self.rx_salt);
        if got != want {
            return Err(CryptoError::Checksum { got, want });
        }
        let (packet, trailer) = body.split_at(body.len() - TRAILER.len());
        if trailer != TRAILER {
            return Err(CryptoError::BadTrailer);
        }
        Ok((packet, Integrity::Checksum(got)))
    }
}

impl PacketCipher for PlainCipher {
    fn max_plain(&self, sealed: usize) -> usize {
        // The trailer and the checksum.
        sealed.saturating_sub(TRAILER.len() + 2)
    }

    fn seal(&mut self, packet: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(packet);
        out.extend_from_slice(&TRAILER);
        let sum = checksum(&out[start..]).wrapping_add(self.tx_salt);
        out.extend_from_slice(&sum.to_be_bytes());
    }

    fn clone_box(&self) -> Box<dyn PacketCipher> {
        Box::new(self.clone())
    }

    fn reflect(&self, _next_sseq: u64) -> Box<dyn PacketCipher> {
        Box::new(PlainCipher {
            tx_salt: self.rx_salt,
            rx_salt: self.tx_salt,
        })
    }

    fn open(&mut self, encrypted: &[u8]) -> Result<Opened, CryptoError> {
        let (packet, integrity) = self.check(encrypted)?;
        Ok(Opened {
            packet: packet.to_vec(),
            integrity,
            sseq: None,
        })
    }

    fn open_in(&mut self, encrypted: &[u8], out: &mut Vec<u8>) -> Result<OpenedIn, CryptoError> {
        let (packet, integrity) = self.check(encrypted)?;
        out.clear();
        out.extend_from_slice(packet);
        Ok(OpenedIn {
            start: 0,
            integrity,
            sseq: None,
        })
    }
}

/// The plain profile: identity string as certificate and EPD.
#[derive(Debug, Clone)]
pub struct PlainProfile {
    identity: Vec<u8>,
}

impl PlainProfile {
    pub fn new(identity: impl Into<Vec<u8>>) -> Self {
        PlainProfile {
            identity: identity.into(),
        }
    }
}

fn component(bytes: &[u8]) -> Result<u16, CryptoError> {
    <[u8; 2]>::try_from(bytes)
        .map(u16::from_be_bytes)
        .map_err(|_| {
            CryptoError::Handshake(format!(
                "plain keying component must be 2 bytes, got {}",
                bytes.len()
            ))
        })
}

fn keys(near: u16, far: u16, initiator: bool) -> SessionKeys {
    let (skic, skrc) = if initiator { (near, far) } else { (far, near) };
    SessionKeys {
        // A sender adds the receiver's component.
        cipher: Box::new(PlainCipher {
            tx_salt: far,
            rx_salt: near,
        }),
        near_nonce: near.to_be_bytes().to_vec(),
        far_nonce: far.to_be_bytes().to_vec(),
        keylog: vec![
            ("crypto".into(), "plain".into()),
            ("initiator_keying_component".into(), format!("{skic:04x}")),
            ("responder_keying_component".into(), format!("{skrc:04x}")),
            ("initiator_tx_checksum_salt".into(), format!("{skrc:04x}")),
            ("responder_tx_checksum_salt".into(), format!("{skic:04x}")),
        ],
    }
}

#[derive(Debug)]
struct PlainInitiator {
    skic: Vec<u8>,
}

impl InitiatorKeying for PlainInitiator {
    fn skic(&self) -> &[u8] {
        &self.skic
    }

    fn complete(self: Box<Self>, skrc: &[u8]) -> Result<SessionKeys, CryptoError> {
        Ok(keys(component(&self.skic)?, component(skrc)?, true))
    }
}

impl CryptoProfile for PlainProfile {
    fn name(&self) -> &'static str {
        "plain"
    }

    fn default_cipher(&self) -> Box<dyn PacketCipher> {
        Box::new(PlainCipher::default())
    }

    fn certificate(&self) -> &[u8] {
        &self.identity
    }

    fn epd_selects_me(&self, epd: &[u8]) -> bool {
        epd == self.identity.as_slice()
    }

    fn epd_selects_certificate(&self, epd: &[u8], certificate: &[u8]) -> bool {
        epd == certificate
    }

    fn canonical_epd(&self, certificate: &[u8]) -> Vec<u8> {
        certificate.to_vec()
    }

    fn glare_near_wins(&self, far_certificate: &[u8]) -> bool {
        far_certificate >= self.identity.as_slice()
    }

    fn validate_certificate(&self, certificate: &[u8]) -> Result<(), CryptoError> {
        if certificate.is_empty() {
            return Err(CryptoError::Handshake("empty plain identity".into()));
        }
        Ok(())
    }

    fn initiate(
        &self,
        rng: &mut dyn RngCore,
        _responder: &[u8],
    ) -> Result<Box<dyn InitiatorKeying>, CryptoError> {
        let mut skic = vec![0u8; 2];
        rng.fill_bytes(&mut skic);
        Ok(Box::new(PlainInitiator { skic }))
    }

    fn respond(
        &self,
        rng: &mut dyn RngCore,
        _initiator: &[u8],
        skic: &[u8],
    ) -> Result<(Vec<u8>, SessionKeys), CryptoError> {
        let far = component(skic)?;
        let mut skrc = vec![0u8; 2];
        rng.fill_bytes(&mut skrc);
        let near = component(&skrc)?;
        Ok((skrc, keys(near, far, false)))
    }

    fn sign(&self, _signed: &[u8]) -> Vec<u8> {
        vec![b'X']
    }

    fn verify(&self, _far: &[u8], _signed: &[u8], _signature: &[u8]) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The first packets of vectors/plain-session.pcap (checked by hand with Python):
    // IHello under salt 0, and the first session packet from the initiator, salted
    // with the responder's component dde9.
    #[test]
    fn plain_session_capture_packets() {
        let ihello = hex::decode(
            "0b000030001706736572766572b7db82f65ab6bed844f53653592c3a8effffffffffffffffffffffffffffffff3a0c",
        )
        .unwrap();
        let o = PlainCipher::default().open(&ihello).unwrap();
        assert_eq!(o.integrity, Integrity::Checksum(0x3a0c));
        assert_eq!(&o.packet[..13], b"\x0b\x00\x00\x30\x00\x17\x06server");
        let mut again = Vec::new();
        PlainCipher::default().seal(&o.packet, &mut again);
        assert_eq!(again, ihello);
        // Wrong salt fails.
        let mut salted = PlainCipher {
            tx_salt: 0xdde9,
            rx_salt: 0xdde9,
        };
        assert!(matches!(
            salted.open(&ihello),
            Err(CryptoError::Checksum { .. })
        ));
        let mut out = Vec::new();
        salted.seal(&o.packet, &mut out);
        assert_eq!(
            u16::from_be_bytes([out[out.len() - 2], out[out.len() - 1]]),
            0x3a0cu16.wrapping_add(0xdde9)
        );
    }

    #[test]
    fn handshake_salts_cross() {
        let i = PlainProfile::new("client");
        let r = PlainProfile::new("server");
        assert!(r.epd_selects_me(b"server"));
        assert!(!r.epd_selects_me(b"serve"));
        let mut g = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let ik = i.initiate(&mut g, r.certificate()).unwrap();
        let skic = ik.skic().to_vec();
        let (skrc, mut rk) = r.respond(&mut g, i.certificate(), &skic).unwrap();
        let mut ikeys = ik.complete(&skrc).unwrap();
        let mut enc = Vec::new();
        ikeys.cipher.seal(b"\x01\x0c\x00\x00", &mut enc);
        assert_eq!(rk.cipher.open(&enc).unwrap().packet, b"\x01\x0c\x00\x00");
        assert!(ikeys.cipher.open(&enc).is_err());
    }

    /// open_in finds what open finds, and refuses what open refuses.
    #[test]
    fn open_in_is_open() {
        let mut tx = PlainCipher {
            tx_salt: 0x1234,
            rx_salt: 0,
        };
        let mut rx = tx.reflect(0);
        let mut buf = vec![9; 3];
        for packet in [&b""[..], b"\x0d\x01\x02", &[0x55; 1100]] {
            let mut sealed = Vec::new();
            tx.seal(packet, &mut sealed);
            let o = rx.open(&sealed).unwrap();
            let i = rx.open_in(&sealed, &mut buf).unwrap();
            assert_eq!(&buf[i.start..], &o.packet[..]);
            assert_eq!(&o.packet[..], packet);
            assert_eq!((i.integrity, i.sseq), (o.integrity, o.sseq));
            sealed[0] ^= 1;
            assert!(rx.open(&sealed).is_err());
            assert!(rx.open_in(&sealed, &mut buf).is_err());
        }
    }

    #[test]
    fn max_plain_fills_the_sealed_size() {
        let mut c = PlainCipher::default();
        let mut out = Vec::new();
        c.seal(&[1; 1170], &mut out);
        assert_eq!(out.len(), 1188);
        assert_eq!(c.max_plain(1188), 1170);
        assert_eq!(c.max_plain(10), 0);
    }

    #[test]
    fn short_and_bad_trailer() {
        assert!(matches!(
            PlainCipher::default().open(&[0; 17]),
            Err(CryptoError::TooShort(17))
        ));
        let mut x = vec![0x01];
        x.extend([0xfe; 16]);
        let s = checksum(&x);
        x.extend(s.to_be_bytes());
        assert_eq!(
            PlainCipher::default().open(&x),
            Err(CryptoError::BadTrailer)
        );
    }
}
